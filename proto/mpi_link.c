/* mpi_link.c -- non-blocking RankMessage transport over MPI (see mpi_link.h).
 *
 * Sends: each is an entry {buffer, dest, class, deadline} in link->sends
 * with its request at the same index of link->send_reqs (one array, for
 * MPI_Testsome), both in post order.  States:
 *   SENDING    MPI_Isend posted; completed -> freed
 *   CANCELLING deadline passed or peer dead; MPI_Cancel posted, and
 *              MPI_Testsome watches it until MPI completes it (cancelled
 *              or not)
 *   ABANDONED  MPI never let go: the entry leaves the list, its request
 *              and buffer are leaked on purpose (MPI may still read the
 *              buffer, and freeing it would be worse than the leak)
 * A send's bytes count in queued[class][dest] from its post to its end
 * (completed, or abandoned).  A data send refused for the cap sets
 * want_writable[dest]; the writable callback clears it once queued data to
 * dest is at most half the cap, or dest is dead.
 *
 * Receives: MPI_Improbe matches a message, which is then owned by us; one
 * over the cap is drained into an empty buffer (MPI reports truncation and
 * drops it); others are MPI_Imrecv'd into link->recvs / link->recv_reqs,
 * appended in match order, which for one source is its send order (MPI's
 * non-overtaking rule on one communicator and tag).  MPI_Testsome marks
 * the completed ones; then the list is walked in match order and a
 * completed receive is delivered only when no earlier receive from its
 * source is still pending, so a small message cannot overtake a large one
 * whose transfer (a rendezvous over TCP) completes later.  A receive not
 * complete by its deadline is abandoned (its buffer kept, as for sends),
 * and the next one from its source may go.
 *
 * Invariants (mpi_link_check()): the two arrays of each side have the
 * same length; queued[][dest] is the sum of the lengths of dest's entries
 * of that class; nwant is the number of set want_writable flags.
 *
 * Every message uses tag MPI_LINK_TAG on MPI_COMM_WORLD, whose error
 * handler is set to MPI_ERRORS_RETURN so no MPI error aborts the rank. */
#include <assert.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "message.h"
#include "mpi_link.h"
#include "mpi_link_internal.h"

static int mpi_link_hook(event_loop *loop, void *arg);

/* Buffers MPI may still read or write (requests it never completed, to or
 * from dead ranks).  They cannot be freed, so they are kept here: a known,
 * bounded leak that stays reachable (and out of LeakSanitizer's reports)
 * instead of memory that looks lost. */
#define MPI_LINK_ABANDONED_MAX 4096
static void *mpi_link_abandoned[MPI_LINK_ABANDONED_MAX];
static int mpi_link_nabandoned;

void mpi_link_abandon(void *buf) {
    if (mpi_link_nabandoned < MPI_LINK_ABANDONED_MAX)
        mpi_link_abandoned[mpi_link_nabandoned++] = buf;
}

static void mpi_link_check(const mpi_link *link) {
#ifndef NDEBUG
    int want = 0;
    for (int r = 0; r < link->world_size; r++)
        want += link->want_writable[r] != 0;
    assert(want == link->nwant);
    assert(link->nsends <= link->sends_cap && link->nrecvs <= link->recvs_cap);
#endif
    (void)link;
}

int mpi_link_create(event_loop *loop, int64_t send_timeout_ms, mpi_link_message_cb cb, void *arg,
                    mpi_link **out) {
    mpi_link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return EMBER_ENOMEM;
    link->loop = loop;
    link->send_timeout_ms = send_timeout_ms;
    link->active_ms = clock_monotonic_ms();
    link->cb = cb;
    link->cb_arg = arg;
    link->cap[CLASS_CONTROL] = MPI_LINK_CONTROL_MAX;
    link->cap[CLASS_DATA] = MPI_LINK_DATA_MAX;
    MPI_Comm_size(MPI_COMM_WORLD, &link->world_size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    size_t n = (size_t)link->world_size;
    link->dead = calloc(n, 1);
    link->want_writable = calloc(n, 1);
    link->over_cap_logged = calloc(n, 1);
    link->queued[CLASS_CONTROL] = calloc(n, sizeof(uint64_t));
    link->queued[CLASS_DATA] = calloc(n, sizeof(uint64_t));
    link->blocked_turn = calloc(n, sizeof(uint32_t));
    if (link->dead == NULL || link->want_writable == NULL || link->over_cap_logged == NULL ||
        link->queued[CLASS_CONTROL] == NULL || link->queued[CLASS_DATA] == NULL ||
        link->blocked_turn == NULL || mpi_bulk_init(link) != EMBER_OK)
        goto fail;
    if (loop != NULL && event_loop_add_hook(loop, mpi_link_hook, link) != EMBER_OK)
        goto fail;
    *out = link;
    return EMBER_OK;
fail:
    mpi_link_destroy(link);
    return EMBER_ENOMEM;
}

void mpi_link_destroy(mpi_link *link) {
    if (link == NULL)
        return;
    mpi_bulk_destroy(link);
    /* Outstanding requests are cancelled; those MPI still holds are leaked
     * with their buffers (see the file comment). */
    for (int i = 0; i < link->nsends; i++) {
        MPI_Request *req = &link->send_reqs[i];
        if (*req == MPI_REQUEST_NULL) {
            free(link->sends[i].buf);
            continue;
        }
        if (link->sends[i].state == SEND_SENDING)
            MPI_Cancel(req);
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done)
            free(link->sends[i].buf);
        else
            mpi_link_abandon(link->sends[i].buf);
    }
    for (int i = 0; i < link->nrecvs; i++) {
        int done = 1;
        if (link->recv_reqs[i] != MPI_REQUEST_NULL)
            MPI_Test(&link->recv_reqs[i], &done, MPI_STATUS_IGNORE);
        if (done)
            free(link->recvs[i].buf);
        else
            mpi_link_abandon(link->recvs[i].buf);
    }
    free(link->sends);
    free(link->send_reqs);
    free(link->recvs);
    free(link->recv_reqs);
    free(link->indices);
    free(link->statuses);
    free(link->dead);
    free(link->want_writable);
    free(link->over_cap_logged);
    free(link->queued[CLASS_CONTROL]);
    free(link->queued[CLASS_DATA]);
    free(link->blocked_turn);
    free(link);
}

void mpi_link_set_writable_cb(mpi_link *link, mpi_link_writable_cb cb, void *arg) {
    link->writable_cb = cb;
    link->writable_arg = arg;
}

void mpi_link_set_limits(mpi_link *link, uint64_t data_max, uint64_t control_max) {
    if (data_max > 0)
        link->cap[CLASS_DATA] = data_max;
    if (control_max > 0)
        link->cap[CLASS_CONTROL] = control_max;
}

uint64_t mpi_link_queued_bytes(const mpi_link *link, int dest) {
    if (dest < 0 || dest >= link->world_size)
        return 0;
    return link->queued[CLASS_CONTROL][dest] + link->queued[CLASS_DATA][dest];
}

/* Grows the arrays MPI_Testsome needs to want entries. */
static int mpi_link_grow_indices(mpi_link *link, int want) {
    if (want <= link->indices_cap)
        return EMBER_OK;
    int *idx = realloc(link->indices, (size_t)want * sizeof(*idx));
    if (idx == NULL)
        return EMBER_ENOMEM;
    link->indices = idx;
    MPI_Status *st = realloc(link->statuses, (size_t)want * sizeof(*st));
    if (st == NULL)
        return EMBER_ENOMEM;
    link->statuses = st;
    link->indices_cap = want;
    return EMBER_OK;
}

/* Doubles a side's two arrays (entries of entry_size bytes, requests),
 * MPI_Testsome's first.  *entries is updated even on failure. */
static int mpi_link_grow(mpi_link *link, void **entries, size_t entry_size, MPI_Request **reqs,
                         int *cap) {
    int ncap = *cap ? *cap * 2 : 16;
    if (mpi_link_grow_indices(link, ncap) != EMBER_OK) /* first: never shorter than a side */
        return EMBER_ENOMEM;
    void *e = realloc(*entries, (size_t)ncap * entry_size);
    if (e == NULL)
        return EMBER_ENOMEM;
    *entries = e;
    MPI_Request *r = realloc(*reqs, (size_t)ncap * sizeof(*r));
    if (r == NULL)
        return EMBER_ENOMEM;
    *reqs = r;
    *cap = ncap;
    return EMBER_OK;
}

/* Makes room for one more send entry. */
static int mpi_link_reserve_send(mpi_link *link) {
    if (link->nsends < link->sends_cap)
        return EMBER_OK;
    void *entries = link->sends;
    int rc = mpi_link_grow(link, &entries, sizeof(pending_send), &link->send_reqs,
                           &link->sends_cap);
    link->sends = entries;
    return rc;
}

/* Makes room for one more receive entry. */
static int mpi_link_reserve_recv(mpi_link *link) {
    if (link->nrecvs < link->recvs_cap)
        return EMBER_OK;
    void *entries = link->recvs;
    int rc = mpi_link_grow(link, &entries, sizeof(pending_recv), &link->recv_reqs,
                           &link->recvs_cap);
    link->recvs = entries;
    return rc;
}

int mpi_link_post(mpi_link *link, int dest, const RankMessage *msg, send_class cls,
                  uint64_t extra) {
    if (dest < 0 || dest >= link->world_size)
        return EMBER_EINVAL;
    if (link->dead[dest])
        return EMBER_ECLOSED;
    uint8_t *buf;
    size_t len;
    int rc = message_encode_rank(msg, MPI_LINK_MESSAGE_MAX, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    uint64_t queued = link->queued[cls][dest];
    if (queued > 0 && queued + len + extra > link->cap[cls]) {
        free(buf);
        if (cls == CLASS_DATA) {
            link->stats.data_refused++;
            if (!link->want_writable[dest]) {
                link->want_writable[dest] = 1;
                link->nwant++;
            }
            return EMBER_EAGAIN;
        }
        if (!link->over_cap_logged[dest]) {
            link->over_cap_logged[dest] = 1;
            LOG_ERROR("rank %d is not taking its messages: %llu control bytes queued to it, the "
                      "cap is %llu; refusing more",
                      dest, (unsigned long long)queued, (unsigned long long)link->cap[cls]);
        }
        return EMBER_ENOMEM;
    }
    if ((rc = mpi_link_reserve_send(link)) != EMBER_OK) {
        free(buf);
        return rc;
    }
    pending_send *s = &link->sends[link->nsends];
    *s = (pending_send){.buf = buf, .len = len, .dest = dest, .cls = cls, .state = SEND_SENDING,
                        .deadline_ms = clock_monotonic_ms() + link->send_timeout_ms};
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, MPI_LINK_TAG, MPI_COMM_WORLD,
                  &link->send_reqs[link->nsends]) != MPI_SUCCESS) {
        free(buf);
        return EMBER_EIO;
    }
    link->nsends++;
    link->queued[cls][dest] += len;
    link->active_ms = clock_monotonic_ms();
    return EMBER_OK;
}

int mpi_link_send(mpi_link *link, int dest, const RankMessage *msg) {
    return mpi_link_post(link, dest, msg, CLASS_CONTROL, 0);
}

int mpi_link_send_data(mpi_link *link, int dest, const RankMessage *msg) {
    return mpi_link_post(link, dest, msg, CLASS_DATA, 0);
}

void mpi_link_set_dead(mpi_link *link, int rank) {
    if (rank < 0 || rank >= link->world_size)
        return;
    link->dead[rank] = 1;
    mpi_bulk_peer_dead(link, rank);
    for (int i = 0; i < link->nsends; i++) {
        pending_send *s = &link->sends[i];
        if (s->dest == rank && s->state == SEND_SENDING && !s->done) {
            MPI_Cancel(&link->send_reqs[i]);
            s->state = SEND_CANCELLING;
            s->deadline_ms = clock_monotonic_ms() + link->send_timeout_ms;
        }
    }
}

void mpi_link_set_alive(mpi_link *link, int rank) {
    if (rank >= 0 && rank < link->world_size)
        link->dead[rank] = 0;
}

int mpi_link_pending(const mpi_link *link) { return link->nsends + link->nbulk; }

void mpi_link_get_stats(const mpi_link *link, mpi_link_stats *out) { *out = link->stats; }

/* Ends send i: its bytes leave the queue of its destination. */
static void mpi_link_send_gone(mpi_link *link, const pending_send *s) {
    link->queued[s->cls][s->dest] -= s->len;
    if (s->cls == CLASS_CONTROL && link->queued[CLASS_CONTROL][s->dest] == 0)
        link->over_cap_logged[s->dest] = 0;
}

/* Marks the sends MPI completed (one MPI_Testsome), frees them, and
 * cancels or abandons those past their deadline, keeping post order.
 * Returns how many ended this turn. */
static int mpi_link_progress_sends(mpi_link *link, int64_t now) {
    if (link->nsends == 0)
        return 0;
    int outcount = 0;
    MPI_Testsome(link->nsends, link->send_reqs, &outcount, link->indices, link->statuses);
    for (int k = 0; outcount != MPI_UNDEFINED && k < outcount; k++) {
        pending_send *s = &link->sends[link->indices[k]];
        s->done = 1;
        MPI_Test_cancelled(&link->statuses[k], &s->cancelled);
    }
    int finished = 0, j = 0;
    for (int i = 0; i < link->nsends; i++) {
        pending_send *s = &link->sends[i];
        if (s->done) {
            if (!s->cancelled && s->state == SEND_SENDING)
                link->stats.sent++;
            mpi_link_send_gone(link, s);
            free(s->buf);
            finished++;
            continue;
        }
        if (now >= s->deadline_ms) {
            if (s->state == SEND_SENDING) {
                LOG_WARN("send of %zu bytes to rank %d timed out; cancelling", s->len, s->dest);
                link->stats.send_timeouts++;
                MPI_Cancel(&link->send_reqs[i]);
                s->state = SEND_CANCELLING;
                s->deadline_ms = now + link->send_timeout_ms;
            } else {
                /* Abandoned: MPI still owns request and buffer. */
                LOG_WARN("MPI kept a cancelled send to rank %d; abandoning it", s->dest);
                mpi_link_abandon(s->buf);
                mpi_link_send_gone(link, s);
                finished++;
                continue;
            }
        }
        link->send_reqs[j] = link->send_reqs[i];
        link->sends[j++] = *s;
    }
    link->nsends = j;
    return finished;
}

/* Tells the callers waiting on a destination that it can take data again
 * (or is dead).  After the send list is settled: the callback may send. */
static void mpi_link_notify_writable(mpi_link *link) {
    for (int r = 0; link->nwant > 0 && r < link->world_size; r++) {
        if (!link->want_writable[r] ||
            (!link->dead[r] && link->queued[CLASS_DATA][r] > link->cap[CLASS_DATA] / 2))
            continue;
        link->want_writable[r] = 0;
        link->nwant--;
        link->stats.writable_calls++;
        if (link->writable_cb != NULL)
            link->writable_cb(link, r, link->writable_arg);
    }
}

/* Delivers or drops one received buffer. */
static void mpi_link_deliver(mpi_link *link, int source, const uint8_t *buf, int len) {
    RankMessage *msg;
    if (message_decode_rank(buf, (size_t)len, &msg) != EMBER_OK) {
        link->stats.rejected++;
        LOG_WARN("dropping malformed message (%d bytes) from rank %d", len, source);
        return;
    }
    if (mpi_bulk_before_deliver(link, source, msg) != EMBER_OK) {
        link->stats.rejected++;
        LOG_WARN("dropping a bulk header with a bad tag or chunk size from rank %d", source);
        rank_message__free_unpacked(msg, NULL);
        return;
    }
    link->stats.received++;
    link->cb(link, source, msg, link->cb_arg);
    mpi_bulk_after_deliver(link);
}

/* Matches up to MPI_LINK_RECV_PER_TURN new messages and posts their
 * receives at the end of the list; returns how many it matched. */
static int mpi_link_match(mpi_link *link, int64_t now) {
    int matched = 0;
    for (; matched < MPI_LINK_RECV_PER_TURN; matched++) {
        /* Room first: once matched, a message must be received. */
        if (mpi_link_reserve_recv(link) != EMBER_OK)
            break;
        int flag = 0;
        MPI_Message mmsg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, MPI_LINK_TAG, MPI_COMM_WORLD, &flag, &mmsg, &st) !=
                MPI_SUCCESS ||
            !flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        uint8_t *buf = NULL;
        if (count >= 0 && (unsigned)count <= MPI_LINK_MESSAGE_MAX)
            buf = malloc((size_t)count + 1);
        if (buf == NULL) {
            LOG_WARN("dropping %s message (%d bytes) from rank %d",
                     count < 0 || (unsigned)count > MPI_LINK_MESSAGE_MAX ? "oversized"
                                                                         : "unbufferable",
                     count, st.MPI_SOURCE);
            link->stats.rejected++;
            uint8_t empty;
            MPI_Mrecv(&empty, 0, MPI_BYTE, &mmsg, MPI_STATUS_IGNORE); /* truncates */
            continue;
        }
        link->recvs[link->nrecvs] = (pending_recv){.buf = buf, .len = count,
                                                   .source = st.MPI_SOURCE,
                                                   .deadline_ms = now + link->send_timeout_ms};
        MPI_Imrecv(buf, count, MPI_BYTE, &mmsg, &link->recv_reqs[link->nrecvs]);
        link->nrecvs++;
    }
    return matched;
}

/* Matches new messages, marks completed receives (one MPI_Testsome), and
 * delivers each completed one whose earlier receives from its source are
 * all delivered or abandoned.  Returns activity. */
static int mpi_link_progress_recvs(mpi_link *link, int64_t now) {
    int activity = mpi_link_match(link, now);
    if (link->nrecvs == 0)
        return activity;
    int outcount = 0;
    MPI_Testsome(link->nrecvs, link->recv_reqs, &outcount, link->indices, MPI_STATUSES_IGNORE);
    for (int k = 0; outcount != MPI_UNDEFINED && k < outcount; k++)
        link->recvs[link->indices[k]].done = 1;
    /* A turn number marks the sources blocked in this walk. */
    if (++link->turn == 0) {
        memset(link->blocked_turn, 0, (size_t)link->world_size * sizeof(uint32_t));
        link->turn = 1;
    }
    int j = 0;
    for (int i = 0; i < link->nrecvs; i++) {
        pending_recv r = link->recvs[i];
        int blocked = link->blocked_turn[r.source] == link->turn;
        if (!blocked && r.done) {
            activity++;
            /* The callback may send (which touches only the send list),
             * never receive, so this list can be compacted around it. */
            mpi_link_deliver(link, r.source, r.buf, r.len);
            free(r.buf);
            continue;
        }
        if (!blocked && now >= r.deadline_ms) {
            LOG_WARN("receive of %d bytes from rank %d never completed; abandoning it", r.len,
                     r.source);
            link->stats.recv_abandoned++;
            mpi_link_abandon(r.buf); /* MPI may still write it */
            continue;
        }
        link->blocked_turn[r.source] = link->turn;
        link->recv_reqs[j] = link->recv_reqs[i];
        link->recvs[j++] = r;
    }
    link->nrecvs = j;
    return activity;
}

void mpi_link_progress(mpi_link *link) {
    int64_t now = clock_monotonic_ms();
    int activity = mpi_link_progress_sends(link, now);
    activity += mpi_bulk_progress(link, now);
    mpi_link_notify_writable(link);
    activity += mpi_link_progress_recvs(link, now);
    mpi_link_check(link);
    if (activity)
        link->active_ms = now;
}

/* The loop hook: progress, then ask to be run again soon.  After activity
 * the next turn comes at once; an idle link backs off (see
 * MPI_LINK_IDLE_WAIT_MAX_MS).  MPI has no descriptor to sleep on, so an
 * idle rank polls, and each poll costs some 70 us of CPU on a VM: at a
 * fixed 10 ms an idle rank used 0.9% of a core. */
static int mpi_link_hook(event_loop *loop, void *arg) {
    mpi_link *link = arg;
    (void)loop;
    int64_t before = clock_monotonic_ms();
    mpi_link_progress(link);
    if (link->active_ms >= before)
        return 0;
    int64_t idle = clock_monotonic_ms() - link->active_ms;
    int64_t wait = idle / 4 < 1 ? 1 : idle / 4;
    return wait > MPI_LINK_IDLE_WAIT_MAX_MS ? MPI_LINK_IDLE_WAIT_MAX_MS : (int)wait;
}
