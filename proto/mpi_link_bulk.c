/* mpi_link_bulk.c -- payloads of any size between ranks, raw (see
 * mpi_link.h, "Bulk transfer").
 *
 * A transfer is one payload between two ranks, seen from one side: the
 * sender's (SEND), the receiver's (RECV), or a receiver draining a payload
 * nobody claimed (DRAIN, into a scratch buffer of one chunk).  The payload
 * travels on a tag of its own, chosen by the sender from
 * (MPI_LINK_TAG, MPI_TAG_UB] in turn, so two transfers from one sender
 * never match each other's chunks, and one transfer's chunks match in
 * order (MPI's non-overtaking rule on one source and tag).  The tag comes
 * round again only after ~2^31 transfers from that sender, long after any
 * abandoned chunk of an old one has gone.
 *
 * Each side keeps up to MPI_BULK_WINDOW chunks posted (a DRAIN one: its
 * chunks share one buffer), each with the link's deadline from its post;
 * slot k of the window holds chunk next/chunk - window + k, so chunks are
 * posted, and matched, in payload order.
 *
 *   state      on                              becomes
 *   ACTIVE     every chunk completed           ended: done(OK, buf)
 *   ACTIVE     a chunk's deadline passed,      CANCELLING (posted chunks
 *              the peer declared dead, an      cancelled; status kept)
 *              MPI error
 *   CANCELLING every posted chunk completed    ended: done(status, buf)
 *              or cancelled
 *   CANCELLING MPI kept a chunk another        ended: buffer abandoned,
 *              deadline                        done(status, NULL)
 *
 * Invariants: (1) a SEND's bytes not yet completed, and only those, count
 * in queued[CLASS_DATA][peer] (all of them from mpi_link_send_bulk() on:
 * the payload weighs in the cap before it is posted); (2) a transfer's
 * done callback is called once, after it has left link->bulk; (3) posted
 * chunks of one transfer are contiguous, [acked, next). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "mpi_link_internal.h"

#define MPI_BULK_WINDOW 4
#define MPI_BULK_TAG_MIN (MPI_LINK_TAG + 1)

typedef enum { BULK_SEND, BULK_RECV, BULK_DRAIN } bulk_dir;

typedef struct {
    MPI_Request req; /* MPI_REQUEST_NULL: slot free */
    uint32_t len;
    int64_t deadline_ms;
} bulk_slot;

struct mpi_bulk_xfer {
    bulk_dir dir;
    int peer, tag;
    uint8_t *buf;
    uint64_t len;
    uint32_t chunk;
    uint64_t next;      /* first byte not yet posted */
    uint64_t completed; /* bytes whose chunk completed */
    int status;         /* EMBER_OK while ACTIVE */
    int64_t cancel_deadline_ms;
    int abandon; /* ended with a chunk MPI kept */
    bulk_slot slot[MPI_BULK_WINDOW];
    mpi_link_bulk_cb done;
    void *arg;
};

int mpi_bulk_init(mpi_link *link) {
    void *ub = NULL;
    int flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
    link->bulk_tag_ub = flag && ub != NULL ? *(int *)ub : 32767; /* the standard's minimum */
    link->bulk_next_tag = MPI_BULK_TAG_MIN;
    link->bulk_chunk = MPI_LINK_BULK_CHUNK;
    return EMBER_OK;
}

void mpi_link_set_bulk_chunk(mpi_link *link, uint32_t chunk) {
    link->bulk_chunk = chunk == 0 || chunk > MPI_LINK_BULK_CHUNK ? MPI_LINK_BULK_CHUNK : chunk;
}

static int mpi_bulk_window(const mpi_bulk_xfer *x) {
    return x->dir == BULK_DRAIN ? 1 : MPI_BULK_WINDOW;
}

static int mpi_bulk_posted(const mpi_bulk_xfer *x) {
    int n = 0;
    for (int k = 0; k < MPI_BULK_WINDOW; k++)
        n += x->slot[k].req != MPI_REQUEST_NULL;
    return n;
}

/* Appends x to the link's transfers; on failure x is not kept. */
static int mpi_bulk_add(mpi_link *link, mpi_bulk_xfer *x) {
    if (link->nbulk == link->bulk_cap) {
        int ncap = link->bulk_cap ? link->bulk_cap * 2 : 8;
        mpi_bulk_xfer **b = realloc(link->bulk, (size_t)ncap * sizeof(*b));
        if (b == NULL)
            return EMBER_ENOMEM;
        link->bulk = b;
        link->bulk_cap = ncap;
    }
    link->bulk[link->nbulk++] = x;
    return EMBER_OK;
}

static mpi_bulk_xfer *mpi_bulk_new(bulk_dir dir, int peer, int tag, void *buf, uint64_t len,
                                   uint32_t chunk, mpi_link_bulk_cb done, void *arg) {
    mpi_bulk_xfer *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    *x = (mpi_bulk_xfer){.dir = dir,
                         .peer = peer,
                         .tag = tag,
                         .buf = buf,
                         .len = len,
                         .chunk = chunk,
                         .status = EMBER_OK,
                         .done = done,
                         .arg = arg};
    for (int k = 0; k < MPI_BULK_WINDOW; k++)
        x->slot[k].req = MPI_REQUEST_NULL;
    return x;
}

/* Cancels x's posted chunks and gives it until a further deadline to let
 * go of them. */
static void mpi_bulk_fail(mpi_link *link, mpi_bulk_xfer *x, int status, int64_t now) {
    if (x->status != EMBER_OK)
        return;
    x->status = status;
    x->cancel_deadline_ms = now + link->send_timeout_ms;
    for (int k = 0; k < MPI_BULK_WINDOW; k++)
        if (x->slot[k].req != MPI_REQUEST_NULL)
            MPI_Cancel(&x->slot[k].req);
}

/* Posts x's next chunks into its free slots, in payload order. */
static int mpi_bulk_post(mpi_link *link, mpi_bulk_xfer *x, int64_t now) {
    int posted = 0;
    for (int k = 0; k < mpi_bulk_window(x) && x->next < x->len && x->status == EMBER_OK; k++) {
        bulk_slot *s = &x->slot[k];
        if (s->req != MPI_REQUEST_NULL)
            continue;
        uint64_t left = x->len - x->next;
        s->len = left < x->chunk ? (uint32_t)left : x->chunk;
        s->deadline_ms = now + link->send_timeout_ms;
        int rc;
        if (x->dir == BULK_SEND)
            rc = MPI_Isend(x->buf + x->next, (int)s->len, MPI_BYTE, x->peer, x->tag, MPI_COMM_WORLD,
                           &s->req);
        else
            rc = MPI_Irecv(x->dir == BULK_DRAIN ? x->buf : x->buf + x->next, (int)s->len, MPI_BYTE,
                           x->peer, x->tag, MPI_COMM_WORLD, &s->req);
        if (rc != MPI_SUCCESS) {
            s->req = MPI_REQUEST_NULL;
            mpi_bulk_fail(link, x, EMBER_EIO, now);
            break;
        }
        x->next += s->len;
        posted++;
    }
    return posted;
}

/* Tests x's posted chunks; a completed one counts, a late one fails x.
 * Returns how many completed. */
static int mpi_bulk_test(mpi_link *link, mpi_bulk_xfer *x, int64_t now) {
    int completed = 0;
    for (int k = 0; k < MPI_BULK_WINDOW; k++) {
        bulk_slot *s = &x->slot[k];
        if (s->req == MPI_REQUEST_NULL)
            continue;
        int flag = 0, cancelled = 0;
        MPI_Status st;
        if (MPI_Test(&s->req, &flag, &st) != MPI_SUCCESS) {
            s->req = MPI_REQUEST_NULL; /* a failed request is freed by MPI */
            mpi_bulk_fail(link, x, EMBER_EIO, now);
            continue;
        }
        if (!flag) {
            if (x->status == EMBER_OK && now >= s->deadline_ms) {
                LOG_WARN("bulk transfer of %llu bytes %s rank %d stalled at byte %llu; "
                         "cancelling it",
                         (unsigned long long)x->len, x->dir == BULK_SEND ? "to" : "from", x->peer,
                         (unsigned long long)x->completed);
                mpi_bulk_fail(link, x, EMBER_ETIMEDOUT, now);
            }
            continue;
        }
        MPI_Test_cancelled(&st, &cancelled);
        if (cancelled)
            continue;
        completed++;
        x->completed += s->len;
        if (x->dir == BULK_SEND)
            link->queued[CLASS_DATA][x->peer] -= s->len;
    }
    return completed;
}

/* Whether x has ended; sets *abandon when MPI kept one of its chunks. */
static int mpi_bulk_ended(const mpi_bulk_xfer *x, int64_t now, int *abandon) {
    *abandon = 0;
    int posted = mpi_bulk_posted(x);
    if (x->status == EMBER_OK)
        return posted == 0 && x->next == x->len;
    if (posted == 0)
        return 1;
    *abandon = now >= x->cancel_deadline_ms;
    return *abandon;
}

/* Settles an ended transfer's books and calls its callback; frees it. */
static void mpi_bulk_end(mpi_link *link, mpi_bulk_xfer *x) {
    if (x->dir == BULK_SEND) /* what never completed leaves the cap too */
        link->queued[CLASS_DATA][x->peer] -= x->len - x->completed;
    void *buf = x->buf;
    if (x->abandon) {
        LOG_WARN("MPI kept a cancelled bulk chunk %s rank %d; abandoning its buffer",
                 x->dir == BULK_SEND ? "to" : "from", x->peer);
        mpi_link_abandon(buf);
        buf = NULL;
    }
    if (x->status != EMBER_OK)
        link->stats.bulk_failed++;
    else if (x->dir == BULK_SEND)
        link->stats.bulk_sent++, link->stats.bulk_bytes_sent += x->len;
    else if (x->dir == BULK_RECV)
        link->stats.bulk_received++, link->stats.bulk_bytes_received += x->len;
    else
        link->stats.bulk_drained++;
    if (x->dir == BULK_DRAIN)
        free(buf);
    else if (x->done != NULL)
        x->done(link, x->peer, x->status, buf, x->arg);
    free(x);
}

int mpi_bulk_progress(mpi_link *link, int64_t now) {
    if (link->nbulk == 0)
        return 0;
    int activity = 0, n = link->nbulk, j = 0;
    mpi_bulk_xfer *ended[64];
    int nended = 0;
    for (int i = 0; i < n; i++) {
        mpi_bulk_xfer *x = link->bulk[i];
        activity += mpi_bulk_test(link, x, now);
        activity += mpi_bulk_post(link, x, now);
        if (nended < (int)(sizeof(ended) / sizeof(ended[0])) &&
            mpi_bulk_ended(x, now, &x->abandon)) {
            ended[nended++] = x;
            continue;
        }
        link->bulk[j++] = x;
    }
    /* Transfers started by callbacks below land after n; none yet. */
    link->nbulk = j;
    for (int e = 0; e < nended; e++) /* off the list first (invariant 2) */
        mpi_bulk_end(link, ended[e]);
    if (nended > 0)
        link->active_ms = now;
    return activity + nended;
}

int mpi_link_send_bulk(mpi_link *link, int dest, const RankMessage *header, const void *data,
                       uint64_t len, mpi_link_bulk_cb done, void *arg) {
    if (len == 0 || data == NULL || dest < 0 || dest >= link->world_size)
        return EMBER_EINVAL;
    if (link->dead[dest])
        return EMBER_ECLOSED;
    int tag = link->bulk_next_tag;
    mpi_bulk_xfer *x =
        mpi_bulk_new(BULK_SEND, dest, tag, (void *)data, len, link->bulk_chunk, done, arg);
    if (x == NULL)
        return EMBER_ENOMEM;
    RankMessage h = *header; /* shallow: packing only reads through it */
    h.bulk_length = len;
    h.bulk_tag = tag;
    h.bulk_chunk = x->chunk;
    int rc = mpi_bulk_add(link, x);
    if (rc == EMBER_OK && (rc = mpi_link_post(link, dest, &h, CLASS_DATA, len)) != EMBER_OK)
        link->nbulk--;
    if (rc != EMBER_OK) {
        free(x);
        return rc;
    }
    link->bulk_next_tag = tag == link->bulk_tag_ub ? MPI_BULK_TAG_MIN : tag + 1;
    link->queued[CLASS_DATA][dest] += len;
    mpi_bulk_post(link, x, clock_monotonic_ms());
    return EMBER_OK;
}

int mpi_bulk_before_deliver(mpi_link *link, int source, const RankMessage *msg) {
    link->unclaimed.pending = 0;
    if (msg->bulk_length == 0)
        return EMBER_OK;
    if (msg->bulk_tag < MPI_BULK_TAG_MIN || msg->bulk_tag > link->bulk_tag_ub ||
        msg->bulk_chunk == 0 || msg->bulk_chunk > MPI_LINK_BULK_CHUNK)
        return EMBER_EPROTO;
    link->unclaimed = (mpi_bulk_header){.pending = 1,
                                        .source = source,
                                        .tag = msg->bulk_tag,
                                        .len = msg->bulk_length,
                                        .chunk = msg->bulk_chunk};
    return EMBER_OK;
}

/* Starts receiving the unclaimed payload into buf (BULK_RECV) or a
 * scratch chunk (BULK_DRAIN, buf NULL). */
static int mpi_bulk_start_recv(mpi_link *link, void *buf, mpi_link_bulk_cb done, void *arg) {
    mpi_bulk_header *h = &link->unclaimed;
    bulk_dir dir = buf != NULL ? BULK_RECV : BULK_DRAIN;
    if (dir == BULK_DRAIN && (buf = malloc(h->len < h->chunk ? h->len : h->chunk)) == NULL)
        return EMBER_ENOMEM;
    mpi_bulk_xfer *x = mpi_bulk_new(dir, h->source, h->tag, buf, h->len, h->chunk, done, arg);
    if (x == NULL || mpi_bulk_add(link, x) != EMBER_OK) {
        free(x);
        if (dir == BULK_DRAIN)
            free(buf);
        return EMBER_ENOMEM;
    }
    h->pending = 0;
    if (link->dead[x->peer])
        mpi_bulk_fail(link, x, EMBER_ECLOSED, clock_monotonic_ms());
    else
        mpi_bulk_post(link, x, clock_monotonic_ms());
    return EMBER_OK;
}

int mpi_link_recv_bulk(mpi_link *link, int source, const RankMessage *header, void *buf,
                       mpi_link_bulk_cb done, void *arg) {
    const mpi_bulk_header *h = &link->unclaimed;
    if (!h->pending || buf == NULL || h->source != source || header->bulk_tag != h->tag ||
        header->bulk_length != h->len)
        return EMBER_EINVAL;
    return mpi_bulk_start_recv(link, buf, done, arg);
}

void mpi_bulk_after_deliver(mpi_link *link) {
    if (!link->unclaimed.pending)
        return;
    if (mpi_bulk_start_recv(link, NULL, NULL, NULL) != EMBER_OK) {
        /* Its chunks stay unmatched: the sender times out and fails. */
        LOG_WARN("no memory to drain a %llu-byte bulk payload from rank %d",
                 (unsigned long long)link->unclaimed.len, link->unclaimed.source);
        link->unclaimed.pending = 0;
    }
}

void mpi_bulk_peer_dead(mpi_link *link, int rank) {
    int64_t now = clock_monotonic_ms();
    for (int i = 0; i < link->nbulk; i++)
        if (link->bulk[i]->peer == rank)
            mpi_bulk_fail(link, link->bulk[i], EMBER_ECLOSED, now);
}

void mpi_bulk_destroy(mpi_link *link) {
    /* No callbacks: the link is going away.  Buffers MPI still holds are
     * kept; the callers' own are theirs to free once MPI is finalized. */
    for (int i = 0; i < link->nbulk; i++) {
        mpi_bulk_xfer *x = link->bulk[i];
        int held = 0;
        for (int k = 0; k < MPI_BULK_WINDOW; k++) {
            int flag = 1;
            if (x->slot[k].req == MPI_REQUEST_NULL)
                continue;
            MPI_Cancel(&x->slot[k].req);
            MPI_Test(&x->slot[k].req, &flag, MPI_STATUS_IGNORE);
            held |= !flag;
        }
        if (x->dir == BULK_DRAIN) {
            if (held)
                mpi_link_abandon(x->buf);
            else
                free(x->buf);
        }
        free(x);
    }
    free(link->bulk);
    link->bulk = NULL;
    link->nbulk = 0;
}
