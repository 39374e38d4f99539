/* mpi_link.c -- non-blocking RankMessage transport over MPI (see mpi_link.h).
 *
 * Sends: each is an entry {request, buffer, dest, deadline}.  States:
 *   SENDING    MPI_Isend posted; MPI_Test each turn; done -> freed
 *   CANCELLING deadline passed or peer dead; MPI_Cancel posted, MPI_Test
 *              each turn until MPI completes it (cancelled or not)
 *   ABANDONED  MPI never let go: the entry leaves the list, its request
 *              and buffer are leaked on purpose (MPI may still read the
 *              buffer, and freeing it would be worse than the leak)
 * Receives: MPI_Improbe matches a message, which is then owned by us; one
 * over the cap is drained into an empty buffer (MPI reports truncation and
 * drops it); others are MPI_Imrecv'd and tested each turn.  Every message
 * uses tag MPI_LINK_TAG on MPI_COMM_WORLD, whose error handler is set to
 * MPI_ERRORS_RETURN so no MPI error aborts the rank. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "message.h"
#include "mpi_link.h"

#define MPI_LINK_TAG 100
#define MPI_LINK_RECV_PER_TURN 64
#define MPI_LINK_IDLE_WAIT_MAX_MS 10

typedef enum { SEND_SENDING, SEND_CANCELLING } send_state;

typedef struct {
    MPI_Request request;
    uint8_t *buf;
    size_t len;
    int dest;
    send_state state;
    int64_t deadline_ms;
} pending_send;

typedef struct {
    MPI_Request request;
    uint8_t *buf;
    int len;
    int source;
    int64_t deadline_ms;
} pending_recv;

struct mpi_link {
    event_loop *loop;
    int64_t send_timeout_ms;
    mpi_link_message_cb cb;
    void *cb_arg;
    int world_size;
    uint8_t *dead;            /* dead[rank] */
    uint64_t *inflight;       /* bytes in flight per destination */
    pending_send *sends;
    int nsends, sends_cap;
    pending_recv *recvs;
    int nrecvs, recvs_cap;
    int idle_turns;
    mpi_link_stats stats;
};

static int mpi_link_hook(event_loop *loop, void *arg);

/* Buffers MPI may still read or write (requests it never completed, to or
 * from dead ranks).  They cannot be freed, so they are kept here: a known,
 * bounded leak that stays reachable (and out of LeakSanitizer's reports)
 * instead of memory that looks lost. */
#define MPI_LINK_ABANDONED_MAX 4096
static void *mpi_link_abandoned[MPI_LINK_ABANDONED_MAX];
static int mpi_link_nabandoned;

static void mpi_link_abandon(void *buf) {
    if (mpi_link_nabandoned < MPI_LINK_ABANDONED_MAX)
        mpi_link_abandoned[mpi_link_nabandoned++] = buf;
}

int mpi_link_create(event_loop *loop, int64_t send_timeout_ms, mpi_link_message_cb cb, void *arg,
                    mpi_link **out) {
    mpi_link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return EMBER_ENOMEM;
    link->loop = loop;
    link->send_timeout_ms = send_timeout_ms;
    link->cb = cb;
    link->cb_arg = arg;
    MPI_Comm_size(MPI_COMM_WORLD, &link->world_size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    link->dead = calloc((size_t)link->world_size, 1);
    link->inflight = calloc((size_t)link->world_size, sizeof(uint64_t));
    if (link->dead == NULL || link->inflight == NULL)
        goto fail;
    if (loop != NULL && event_loop_add_hook(loop, mpi_link_hook, link) != EMBER_OK)
        goto fail;
    *out = link;
    return EMBER_OK;
fail:
    free(link->dead);
    free(link->inflight);
    free(link);
    return EMBER_ENOMEM;
}

void mpi_link_destroy(mpi_link *link) {
    if (link == NULL)
        return;
    /* Outstanding requests are cancelled; those MPI still holds are leaked
     * with their buffers (see the file comment). */
    for (int i = 0; i < link->nsends; i++) {
        pending_send *s = &link->sends[i];
        if (s->state == SEND_SENDING)
            MPI_Cancel(&s->request);
        int done = 0;
        MPI_Test(&s->request, &done, MPI_STATUS_IGNORE);
        if (done)
            free(s->buf);
        else
            mpi_link_abandon(s->buf);
    }
    for (int i = 0; i < link->nrecvs; i++) {
        int done = 0;
        MPI_Test(&link->recvs[i].request, &done, MPI_STATUS_IGNORE);
        if (done)
            free(link->recvs[i].buf);
        else
            mpi_link_abandon(link->recvs[i].buf);
    }
    free(link->sends);
    free(link->recvs);
    free(link->dead);
    free(link->inflight);
    free(link);
}

int mpi_link_send(mpi_link *link, int dest, const RankMessage *msg) {
    if (dest < 0 || dest >= link->world_size)
        return EMBER_EINVAL;
    if (link->dead[dest])
        return EMBER_ECLOSED;
    uint8_t *buf;
    size_t len;
    int rc = message_encode_rank(msg, MPI_LINK_MESSAGE_MAX, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    if (link->inflight[dest] + len > MPI_LINK_INFLIGHT_MAX) {
        free(buf);
        return EMBER_EAGAIN;
    }
    if (link->nsends == link->sends_cap) {
        int ncap = link->sends_cap ? link->sends_cap * 2 : 16;
        pending_send *p = realloc(link->sends, (size_t)ncap * sizeof(*p));
        if (p == NULL) {
            free(buf);
            return EMBER_ENOMEM;
        }
        link->sends = p;
        link->sends_cap = ncap;
    }
    pending_send *s = &link->sends[link->nsends];
    *s = (pending_send){.buf = buf, .len = len, .dest = dest, .state = SEND_SENDING,
                        .deadline_ms = clock_monotonic_ms() + link->send_timeout_ms};
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, MPI_LINK_TAG, MPI_COMM_WORLD, &s->request) !=
        MPI_SUCCESS) {
        free(buf);
        return EMBER_EIO;
    }
    link->nsends++;
    link->inflight[dest] += len;
    link->idle_turns = 0;
    return EMBER_OK;
}

void mpi_link_set_dead(mpi_link *link, int rank) {
    if (rank < 0 || rank >= link->world_size)
        return;
    link->dead[rank] = 1;
    for (int i = 0; i < link->nsends; i++) {
        pending_send *s = &link->sends[i];
        if (s->dest == rank && s->state == SEND_SENDING) {
            MPI_Cancel(&s->request);
            s->state = SEND_CANCELLING;
            s->deadline_ms = clock_monotonic_ms() + link->send_timeout_ms;
        }
    }
}

void mpi_link_set_alive(mpi_link *link, int rank) {
    if (rank >= 0 && rank < link->world_size)
        link->dead[rank] = 0;
}

int mpi_link_pending(const mpi_link *link) { return link->nsends; }

void mpi_link_get_stats(const mpi_link *link, mpi_link_stats *out) { *out = link->stats; }

/* Tests every pending send; returns how many finished this turn. */
static int mpi_link_progress_sends(mpi_link *link, int64_t now) {
    int finished = 0, j = 0;
    for (int i = 0; i < link->nsends; i++) {
        pending_send *s = &link->sends[i];
        int done = 0;
        MPI_Status st;
        MPI_Test(&s->request, &done, &st);
        if (done) {
            int cancelled = 0;
            MPI_Test_cancelled(&st, &cancelled);
            if (!cancelled && s->state == SEND_SENDING)
                link->stats.sent++;
            link->inflight[s->dest] -= s->len;
            free(s->buf);
            finished++;
            continue;
        }
        if (now >= s->deadline_ms) {
            if (s->state == SEND_SENDING) {
                LOG_WARN("send of %zu bytes to rank %d timed out; cancelling", s->len, s->dest);
                link->stats.send_timeouts++;
                MPI_Cancel(&s->request);
                s->state = SEND_CANCELLING;
                s->deadline_ms = now + link->send_timeout_ms;
            } else {
                /* Abandoned: MPI still owns request and buffer. */
                LOG_WARN("MPI kept a cancelled send to rank %d; abandoning it", s->dest);
                mpi_link_abandon(s->buf);
                link->inflight[s->dest] -= s->len;
                finished++;
                continue;
            }
        }
        link->sends[j++] = *s;
    }
    link->nsends = j;
    return finished;
}

/* Delivers or drops one received buffer. */
static void mpi_link_deliver(mpi_link *link, int source, const uint8_t *buf, int len) {
    RankMessage *msg;
    if (message_decode_rank(buf, (size_t)len, &msg) != EMBER_OK) {
        link->stats.rejected++;
        LOG_WARN("dropping malformed message (%d bytes) from rank %d", len, source);
        return;
    }
    link->stats.received++;
    link->cb(link, source, msg, link->cb_arg);
}

/* Matches new messages and completes posted receives; returns activity. */
static int mpi_link_progress_recvs(mpi_link *link, int64_t now) {
    int activity = 0;
    for (int k = 0; k < MPI_LINK_RECV_PER_TURN; k++) {
        int flag = 0;
        MPI_Message mmsg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, MPI_LINK_TAG, MPI_COMM_WORLD, &flag, &mmsg, &st) !=
                MPI_SUCCESS ||
            !flag)
            break;
        activity++;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (count < 0 || (unsigned)count > MPI_LINK_MESSAGE_MAX) {
            LOG_WARN("dropping oversized message (%d bytes) from rank %d", count, st.MPI_SOURCE);
            link->stats.rejected++;
            uint8_t empty;
            MPI_Mrecv(&empty, 0, MPI_BYTE, &mmsg, MPI_STATUS_IGNORE); /* truncates */
            continue;
        }
        if (link->nrecvs == link->recvs_cap) {
            int ncap = link->recvs_cap ? link->recvs_cap * 2 : 16;
            pending_recv *p = realloc(link->recvs, (size_t)ncap * sizeof(*p));
            if (p == NULL)
                break; /* the matched message is lost; MPI has no way back */
            link->recvs = p;
            link->recvs_cap = ncap;
        }
        pending_recv *r = &link->recvs[link->nrecvs];
        r->buf = malloc((size_t)count + 1);
        if (r->buf == NULL)
            break;
        r->len = count;
        r->source = st.MPI_SOURCE;
        r->deadline_ms = now + link->send_timeout_ms;
        MPI_Imrecv(r->buf, count, MPI_BYTE, &mmsg, &r->request);
        link->nrecvs++;
    }
    int j = 0;
    for (int i = 0; i < link->nrecvs; i++) {
        pending_recv r = link->recvs[i];
        int done = 0;
        MPI_Test(&r.request, &done, MPI_STATUS_IGNORE);
        if (done) {
            activity++;
            /* The callback may send (which touches only the send list),
             * never receive, so this list can be compacted around it. */
            mpi_link_deliver(link, r.source, r.buf, r.len);
            free(r.buf);
            continue;
        }
        if (now >= r.deadline_ms) {
            LOG_WARN("receive from rank %d never completed; abandoning it", r.source);
            mpi_link_abandon(r.buf); /* MPI may still write it */
            continue;
        }
        link->recvs[j++] = r;
    }
    link->nrecvs = j;
    return activity;
}

void mpi_link_progress(mpi_link *link) {
    int64_t now = clock_monotonic_ms();
    int activity = mpi_link_progress_sends(link, now) + mpi_link_progress_recvs(link, now);
    link->idle_turns = activity ? 0 : link->idle_turns + 1;
}

/* The loop hook: progress, then ask to be run again soon.  After activity
 * the next turn comes at once; an idle link backs off to
 * MPI_LINK_IDLE_WAIT_MAX_MS, which bounds the latency of a new message. */
static int mpi_link_hook(event_loop *loop, void *arg) {
    mpi_link *link = arg;
    mpi_link_progress(link);
    if (link->idle_turns == 0)
        return 0;
    int wait = link->idle_turns;
    return wait > MPI_LINK_IDLE_WAIT_MAX_MS ? MPI_LINK_IDLE_WAIT_MAX_MS : wait;
}
