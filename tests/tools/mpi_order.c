/* mpi_order.c -- per-sender order and backpressure through mpi_link, for
 * tests/integration/mpi_order.sh.
 *
 *   mpirun -np N mpi_order order COUNT
 * Every rank but 0 sends COUNT messages to rank 0 through mpi_link, a
 * large one (a BlockReport of 1 to 2.5 MB, report.seq = its number) every
 * third message and small ones (a Heartbeat, hb.seq = its number) between
 * them, as fast as the link takes them.  Rank 0 checks that each sender's
 * messages arrive numbered 0, 1, 2, ... in send order, whatever their
 * sizes and whatever the transport, then tells the senders to stop.
 *
 *   mpirun -np N mpi_order backpressure COUNT CAP_BYTES SLOW_MS
 * The same, but the large messages go as data (mpi_link_send_data(), the
 * small ones as control) with the data cap set to CAP_BYTES, and rank 0
 * sleeps SLOW_MS after every turn: a slow receiver.  A sender answered
 * EMBER_EAGAIN waits for the writable callback, then sends again.  Each
 * sender checks that its queued bytes never passed the cap (plus the
 * small control messages) and that it was held back at least once (an
 * EAGAIN, then a writable callback); rank 0 checks the order as above.
 *
 * Each rank prints one line and exits 0 when everything held; a message
 * out of order, a malformed one, a broken check or a deadline (120 s)
 * makes it print what it saw and exit 1 (mpirun then ends the others). */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/leak_check.h"
#include "proto/mpi_link.h"

#define ORDER_DEADLINE_MS 120000
#define ORDER_SEND_TIMEOUT_MS 30000
#define ORDER_REPORT_MIN 17000 /* entries per array of a large message */
#define ORDER_REPORT_MAX 42000
#define ORDER_CONTROL_SLACK (64u * 1024) /* control bytes that may sit beside the data cap */

typedef struct {
    int rank, size;
    int count;        /* messages per sender */
    uint64_t *next;   /* rank 0: the number expected next from each sender */
    int done_senders; /* rank 0: senders whose every message arrived */
    int stop;         /* senders: rank 0 said stop */
    int failed;
    uint64_t large, small;
    int backpressure; /* large messages as data, under data_cap */
    uint64_t data_cap;
    int slow_ms;  /* rank 0: sleep after each turn */
    int writable; /* senders: the writable callback named rank 0 */
    uint64_t peak_queued;
} order_state;

static void order_fail(order_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void order_fail(order_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mpi_order: rank %d: ", st->rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    st->failed = 1;
}

/* Rank 0 checks each message's number against the next expected from its
 * sender; the senders only wait for Shutdown. */
static void order_on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    order_state *st = arg;
    (void)link;
    if (st->rank != 0) {
        if (msg->body_case == RANK_MESSAGE__BODY_SHUTDOWN)
            st->stop = 1;
        rank_message__free_unpacked(msg, NULL);
        return;
    }
    uint64_t seq;
    if (msg->body_case == RANK_MESSAGE__BODY_BLOCK_REPORT) {
        seq = msg->block_report->seq;
        st->large++;
    } else if (msg->body_case == RANK_MESSAGE__BODY_HEARTBEAT) {
        seq = msg->heartbeat->seq;
        st->small++;
    } else {
        order_fail(st, "unexpected %d message from rank %d", (int)msg->body_case, source);
        rank_message__free_unpacked(msg, NULL);
        return;
    }
    if (seq != st->next[source])
        order_fail(st, "from rank %d: message %llu arrived, expected %llu", source,
                   (unsigned long long)seq, (unsigned long long)st->next[source]);
    else if (++st->next[source] == (uint64_t)st->count)
        st->done_senders++;
    rank_message__free_unpacked(msg, NULL);
}

static void order_on_writable(mpi_link *link, int dest, void *arg) {
    order_state *st = arg;
    (void)link;
    if (dest == 0)
        st->writable = 1;
}

/* Sends message i of a sender: in order mode retried while the link
 * answers EMBER_EAGAIN; in backpressure mode a large one as data, and on
 * EMBER_EAGAIN progress until the writable callback, then again. */
static int order_send_one(order_state *st, mpi_link *link, int i, const RankMessage *msg,
                          int64_t deadline) {
    int data = st->backpressure && i % 3 == 0;
    for (;;) {
        st->writable = 0;
        int rc = data ? mpi_link_send_data(link, 0, msg) : mpi_link_send(link, 0, msg);
        if (rc != EMBER_EAGAIN)
            return rc;
        while (st->backpressure && !st->writable) {
            if (clock_monotonic_ms() > deadline)
                return EMBER_ETIMEDOUT;
            mpi_link_progress(link);
        }
        if (clock_monotonic_ms() > deadline)
            return EMBER_ETIMEDOUT;
        mpi_link_progress(link);
    }
}

/* Message i of a sender: a BlockReport every third, else a Heartbeat.  The
 * report's arrays are filled with 10-byte varints, so its size is about
 * 60 bytes times the entries. */
static void order_build(int i, uint64_t *fields, size_t entries, RankMessage *msg,
                        BlockReport *report, Heartbeat *hb, StorageReport *storage) {
    *msg = (RankMessage)RANK_MESSAGE__INIT;
    if (i % 3 == 0) {
        *report = (BlockReport)BLOCK_REPORT__INIT;
        report->seq = (uint32_t)i;
        report->n_block_ids = report->n_gen_stamps = report->n_lengths = entries;
        report->n_rbw_block_ids = report->n_rbw_gen_stamps = report->n_rbw_lengths = entries;
        report->block_ids = report->gen_stamps = report->lengths = fields;
        report->rbw_block_ids = report->rbw_gen_stamps = report->rbw_lengths = fields;
        msg->body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
        msg->block_report = report;
    } else {
        *hb = (Heartbeat)HEARTBEAT__INIT;
        hb->seq = (uint64_t)i;
        *storage = (StorageReport)STORAGE_REPORT__INIT;
        hb->storage = storage;
        static ContainerResources none = CONTAINER_RESOURCES__INIT; /* heartbeats carry it */
        hb->resources = &none;
        msg->body_case = RANK_MESSAGE__BODY_HEARTBEAT;
        msg->heartbeat = hb;
    }
}

/* A sender: every message to rank 0 in order, retried while the link
 * answers EMBER_EAGAIN, then progress until rank 0 says stop and every
 * send completed. */
static int order_send_all(order_state *st, mpi_link *link, int64_t deadline) {
    uint64_t *fields = malloc(ORDER_REPORT_MAX * sizeof(uint64_t));
    if (fields == NULL)
        return EMBER_ENOMEM;
    for (size_t k = 0; k < ORDER_REPORT_MAX; k++)
        fields[k] = UINT64_MAX - k;
    unsigned seed = (unsigned)st->rank * 7919u;
    for (int i = 0; i < st->count && !st->failed; i++) {
        size_t entries =
            ORDER_REPORT_MIN + (size_t)(rand_r(&seed) % (ORDER_REPORT_MAX - ORDER_REPORT_MIN + 1));
        RankMessage msg;
        BlockReport report;
        Heartbeat hb;
        StorageReport storage;
        order_build(i, fields, entries, &msg, &report, &hb, &storage);
        int rc = order_send_one(st, link, i, &msg, deadline);
        if (rc != EMBER_OK) {
            fprintf(stderr, "mpi_order: rank %d: send %d: %s\n", st->rank, i, ember_strerror(rc));
            free(fields);
            return rc;
        }
        if (i % 3 == 0)
            st->large++;
        else
            st->small++;
        uint64_t queued = mpi_link_queued_bytes(link, 0);
        if (queued > st->peak_queued)
            st->peak_queued = queued;
        if (st->backpressure && queued > st->data_cap + ORDER_CONTROL_SLACK) {
            fprintf(stderr, "mpi_order: rank %d: %llu bytes queued, over the cap of %llu\n",
                    st->rank, (unsigned long long)queued, (unsigned long long)st->data_cap);
            st->failed = 1;
        }
        mpi_link_progress(link);
    }
    free(fields);
    while (!st->failed && (!st->stop || mpi_link_pending(link) > 0)) {
        if (clock_monotonic_ms() > deadline)
            return EMBER_ETIMEDOUT;
        mpi_link_progress(link);
    }
    return EMBER_OK;
}

/* Rank 0: progress until every sender's messages arrived, then Shutdown
 * to each and progress until those are delivered. */
static int order_receive_all(order_state *st, mpi_link *link, int64_t deadline) {
    while (!st->failed && st->done_senders < st->size - 1) {
        if (clock_monotonic_ms() > deadline)
            return EMBER_ETIMEDOUT;
        mpi_link_progress(link);
        if (st->slow_ms > 0)
            usleep((useconds_t)st->slow_ms * 1000); /* the slow receiver */
    }
    if (st->failed)
        return EMBER_EPROTO;
    Shutdown sd = SHUTDOWN__INIT;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUTDOWN;
    msg.shutdown = &sd;
    for (int r = 1; r < st->size; r++) {
        int rc = mpi_link_send(link, r, &msg);
        if (rc != EMBER_OK)
            return rc;
    }
    while (mpi_link_pending(link) > 0) {
        if (clock_monotonic_ms() > deadline)
            return EMBER_ETIMEDOUT;
        mpi_link_progress(link);
    }
    return EMBER_OK;
}

int main(int argc, char **argv) {
    int order = argc == 3 && strcmp(argv[1], "order") == 0;
    int backpressure = argc == 5 && strcmp(argv[1], "backpressure") == 0;
    if ((!order && !backpressure) || atoi(argv[2]) <= 0 ||
        (backpressure && (atoll(argv[3]) <= 0 || atoi(argv[4]) < 0))) {
        fprintf(stderr, "usage: mpi_order order COUNT\n"
                        "       mpi_order backpressure COUNT CAP_BYTES SLOW_MS\n");
        return 2;
    }
    leak_check_pause(); /* what Open MPI keeps (common/leak_check.h) */
    MPI_Init(&argc, &argv);
    leak_check_resume();
    order_state st = {.count = atoi(argv[2]), .backpressure = backpressure};
    if (backpressure) {
        st.data_cap = (uint64_t)atoll(argv[3]);
        st.slow_ms = atoi(argv[4]);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &st.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &st.size);
    if (st.size < 2) {
        fprintf(stderr, "mpi_order: needs at least 2 ranks\n");
        MPI_Finalize();
        return 2;
    }
    st.next = calloc((size_t)st.size, sizeof(uint64_t));
    mpi_link *link = NULL;
    int rc = st.next != NULL ? EMBER_OK : EMBER_ENOMEM;
    if (rc == EMBER_OK)
        rc = mpi_link_create(NULL, ORDER_SEND_TIMEOUT_MS, order_on_message, &st, &link);
    if (rc == EMBER_OK && backpressure) {
        mpi_link_set_limits(link, st.data_cap, 0);
        mpi_link_set_writable_cb(link, order_on_writable, &st);
    }
    if (st.rank != 0)
        st.slow_ms = 0;
    int64_t deadline = clock_monotonic_ms() + ORDER_DEADLINE_MS;
    if (rc == EMBER_OK)
        rc = st.rank == 0 ? order_receive_all(&st, link, deadline)
                          : order_send_all(&st, link, deadline);
    mpi_link_stats stats;
    if (link != NULL)
        mpi_link_get_stats(link, &stats);
    if (rc == EMBER_OK && !st.failed && backpressure && st.rank != 0 &&
        (stats.data_refused == 0 || stats.writable_calls == 0)) {
        fprintf(stderr, "mpi_order: rank %d: never held back (%llu refused, %llu writable)\n",
                st.rank, (unsigned long long)stats.data_refused,
                (unsigned long long)stats.writable_calls);
        st.failed = 1;
    }
    if (rc == EMBER_OK && !st.failed) {
        if (st.rank == 0)
            printf("mpi_order: rank 0: %d sender(s), %llu large and %llu small messages, all in "
                   "order\n",
                   st.size - 1, (unsigned long long)st.large, (unsigned long long)st.small);
        else
            printf("mpi_order: rank %d: sent %llu large and %llu small messages; held back "
                   "%llu time(s), %llu writable callback(s), at most %llu bytes queued\n",
                   st.rank, (unsigned long long)st.large, (unsigned long long)st.small,
                   (unsigned long long)stats.data_refused, (unsigned long long)stats.writable_calls,
                   (unsigned long long)st.peak_queued);
        fflush(stdout);
        mpi_link_destroy(link);
        free(st.next);
        MPI_Finalize();
        return 0;
    }
    fprintf(stderr, "mpi_order: rank %d failed: %s\n", st.rank,
            st.failed ? "a check failed" : ember_strerror(rc));
    fflush(stderr);
    /* No MPI_Finalize: it could wait for a peer; exiting makes mpirun end
     * the others. */
    _exit(1);
}
