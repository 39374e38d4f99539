/* mpi_bulk.c -- bulk transfers between two ranks through mpi_link, for
 * tests/integration/mpi_order.sh.
 *
 *   mpirun -np 2 mpi_bulk SIZE_MB
 * Rank 1 sends rank 0, in this order: a heartbeat; a payload of 1 MiB + 3
 * bytes; a heartbeat; a payload of SIZE_MB MiB + 5 bytes (past 2 GiB, an
 * MPI count cannot say it in one message: it goes chunked); a payload of
 * 100 bytes; a heartbeat.  Messages are numbered 0..5 (heartbeat seq).
 * Rank 0 claims every payload into its own buffer, checks that the six
 * arrive in order and that every payload byte is the one sent (each byte
 * depends on its position and the message's number), then tells rank 1
 * to stop.  Both print one line and exit 0 when everything held; else
 * they print what they saw and exit 1 (mpirun then ends the other).  A
 * deadline of 300 s bounds the run. */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/leak_check.h"
#include "proto/mpi_link.h"

#define BULK_DEADLINE_MS 300000
#define BULK_SEND_TIMEOUT_MS 60000
#define BULK_MESSAGES 6

typedef struct {
    int rank;
    uint64_t big;                /* bytes of the large payload */
    uint64_t next;               /* rank 0: the number expected next */
    uint8_t *buf[BULK_MESSAGES]; /* rank 0: claimed payloads */
    uint64_t len[BULK_MESSAGES];
    int done[BULK_MESSAGES]; /* transfers ended well */
    int failed, stop;
} bulk_state;

static void bulk_fail(bulk_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bulk_fail(bulk_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mpi_bulk: rank %d: ", st->rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    st->failed = 1;
}

static uint64_t bulk_payload_len(const bulk_state *st, int i) {
    return i == 1 ? (1u << 20) + 3 : i == 3 ? st->big : i == 4 ? 100 : 0;
}

/* Byte k of payload i, computed eight at a time. */
static uint64_t bulk_word(uint64_t k8, int i) {
    return (k8 + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)i << 56;
}

static void bulk_fill(uint8_t *p, uint64_t len, int i) {
    uint64_t words = len / 8;
    for (uint64_t k = 0; k < words; k++) {
        uint64_t w = bulk_word(k, i);
        memcpy(p + 8 * k, &w, 8);
    }
    uint64_t w = bulk_word(words, i);
    memcpy(p + 8 * words, &w, len - 8 * words);
}

/* The first byte of p that differs from payload i, or len. */
static uint64_t bulk_first_wrong(const uint8_t *p, uint64_t len, int i) {
    uint64_t words = len / 8;
    for (uint64_t k = 0; k < words; k++) {
        uint64_t w = bulk_word(k, i), got;
        memcpy(&got, p + 8 * k, 8);
        if (got != w)
            return 8 * k;
    }
    uint64_t w = bulk_word(words, i);
    return memcmp(p + 8 * words, &w, len - 8 * words) ? 8 * words : len;
}

typedef struct {
    bulk_state *st;
    int i;
} bulk_ref;

static void bulk_ended(mpi_link *link, int peer, int status, void *buf, void *arg) {
    bulk_ref *ref = arg;
    (void)link;
    if (status != EMBER_OK || buf == NULL)
        bulk_fail(ref->st, "payload %d with rank %d ended: %s", ref->i, peer,
                  ember_strerror(status));
    else
        ref->st->done[ref->i] = 1;
}

static bulk_ref bulk_refs[BULK_MESSAGES];

/* A payload buffer on transparent huge pages where the kernel allows: with
 * 4 KiB pages, moving 2 GiB through fresh memory ran ten times slower on
 * this project's VMs (TLB and page-walk costs, measured with a plain MPI
 * program), which is the buffer's cost, not the link's. */
static void *bulk_alloc(uint64_t len) {
    void *p = NULL;
    if (posix_memalign(&p, 2u << 20, len) != 0)
        return NULL;
    madvise(p, len, MADV_HUGEPAGE); /* advice only */
    return p;
}

static void bulk_on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    bulk_state *st = arg;
    if (st->rank != 0) {
        st->stop = msg->body_case == RANK_MESSAGE__BODY_SHUTDOWN;
        rank_message__free_unpacked(msg, NULL);
        return;
    }
    uint64_t seq = msg->body_case == RANK_MESSAGE__BODY_HEARTBEAT ? msg->heartbeat->seq : ~0ull;
    if (seq != st->next) {
        bulk_fail(st, "message %llu arrived, expected %llu", (unsigned long long)seq,
                  (unsigned long long)st->next);
    } else if (msg->bulk_length != bulk_payload_len(st, (int)seq)) {
        bulk_fail(st, "message %llu says %llu payload bytes", (unsigned long long)seq,
                  (unsigned long long)msg->bulk_length);
    } else if (msg->bulk_length > 0) {
        int i = (int)seq;
        st->len[i] = msg->bulk_length;
        st->buf[i] = bulk_alloc(msg->bulk_length);
        if (st->buf[i] == NULL || mpi_link_recv_bulk(link, source, msg, st->buf[i], bulk_ended,
                                                     &bulk_refs[i]) != EMBER_OK)
            bulk_fail(st, "cannot claim payload %d", i);
        st->next++;
    } else {
        st->done[seq] = 1;
        st->next++;
    }
    rank_message__free_unpacked(msg, NULL);
}

static int bulk_all_done(const bulk_state *st) {
    for (int i = 0; i < BULK_MESSAGES; i++)
        if (!st->done[i])
            return 0;
    return 1;
}

/* Progress until cond holds, a check fails or the deadline passes. */
static int bulk_wait(bulk_state *st, mpi_link *link, int64_t deadline,
                     int (*cond)(bulk_state *, mpi_link *)) {
    while (!st->failed && !cond(st, link)) {
        if (clock_monotonic_ms() > deadline)
            return EMBER_ETIMEDOUT;
        mpi_link_progress(link);
    }
    return st->failed ? EMBER_EPROTO : EMBER_OK;
}

static int bulk_received(bulk_state *st, mpi_link *link) {
    (void)link;
    return bulk_all_done(st);
}

static int bulk_sent(bulk_state *st, mpi_link *link) {
    return bulk_all_done(st) && st->stop && mpi_link_pending(link) == 0;
}

static int bulk_flushed(bulk_state *st, mpi_link *link) {
    (void)st;
    return mpi_link_pending(link) == 0;
}

static int bulk_send_all(bulk_state *st, mpi_link *link, int64_t deadline) {
    uint8_t *payload[BULK_MESSAGES] = {0};
    int rc = EMBER_OK;
    for (int i = 0; i < BULK_MESSAGES && rc == EMBER_OK; i++) {
        StorageReport storage = STORAGE_REPORT__INIT;
        Heartbeat hb = HEARTBEAT__INIT;
        hb.seq = (uint64_t)i;
        hb.storage = &storage;
        ContainerResources resources = CONTAINER_RESOURCES__INIT; /* heartbeats carry it */
        hb.resources = &resources;
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
        msg.heartbeat = &hb;
        uint64_t len = bulk_payload_len(st, i);
        if (len == 0) {
            rc = mpi_link_send(link, 0, &msg);
            st->done[i] = 1;
            continue;
        }
        if ((payload[i] = bulk_alloc(len)) == NULL) {
            rc = EMBER_ENOMEM;
            break;
        }
        bulk_fill(payload[i], len, i);
        while ((rc = mpi_link_send_bulk(link, 0, &msg, payload[i], len, bulk_ended,
                                        &bulk_refs[i])) == EMBER_EAGAIN &&
               clock_monotonic_ms() < deadline)
            mpi_link_progress(link);
    }
    if (rc == EMBER_OK)
        rc = bulk_wait(st, link, deadline, bulk_sent);
    for (int i = 0; i < BULK_MESSAGES; i++)
        free(payload[i]);
    return rc;
}

static int bulk_receive_all(bulk_state *st, mpi_link *link, int64_t deadline) {
    int rc = bulk_wait(st, link, deadline, bulk_received);
    for (int i = 0; rc == EMBER_OK && i < BULK_MESSAGES; i++) {
        if (st->buf[i] == NULL)
            continue;
        uint64_t at = bulk_first_wrong(st->buf[i], st->len[i], i);
        if (at != st->len[i]) {
            bulk_fail(st, "payload %d differs at byte %llu of %llu", i, (unsigned long long)at,
                      (unsigned long long)st->len[i]);
            rc = EMBER_EPROTO;
        }
    }
    if (rc != EMBER_OK)
        return rc;
    Shutdown sd = SHUTDOWN__INIT;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUTDOWN;
    msg.shutdown = &sd;
    if ((rc = mpi_link_send(link, 1, &msg)) != EMBER_OK)
        return rc;
    return bulk_wait(st, link, deadline, bulk_flushed);
}

int main(int argc, char **argv) {
    if (argc != 2 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: mpi_bulk SIZE_MB\n");
        return 2;
    }
    leak_check_pause(); /* what Open MPI keeps (common/leak_check.h) */
    MPI_Init(&argc, &argv);
    leak_check_resume();
    bulk_state st = {.big = (uint64_t)atoi(argv[1]) * 1024 * 1024 + 5};
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &st.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        fprintf(stderr, "mpi_bulk: needs exactly 2 ranks\n");
        MPI_Finalize();
        return 2;
    }
    for (int i = 0; i < BULK_MESSAGES; i++)
        bulk_refs[i] = (bulk_ref){&st, i};
    mpi_link *link = NULL;
    int rc = mpi_link_create(NULL, BULK_SEND_TIMEOUT_MS, bulk_on_message, &st, &link);
    int64_t start = clock_monotonic_ms(), deadline = start + BULK_DEADLINE_MS;
    if (rc == EMBER_OK)
        rc = st.rank == 0 ? bulk_receive_all(&st, link, deadline)
                          : bulk_send_all(&st, link, deadline);
    if (rc == EMBER_OK && !st.failed) {
        mpi_link_stats stats;
        mpi_link_get_stats(link, &stats);
        double s = (double)(clock_monotonic_ms() - start) / 1000.0;
        printf("mpi_bulk: rank %d: %llu payload(s), %llu bytes %s in %.1f s, all whole and in "
               "order\n",
               st.rank, (unsigned long long)(st.rank ? stats.bulk_sent : stats.bulk_received),
               (unsigned long long)(st.rank ? stats.bulk_bytes_sent : stats.bulk_bytes_received),
               st.rank ? "sent" : "received", s);
        fflush(stdout);
        mpi_link_destroy(link);
        for (int i = 0; i < BULK_MESSAGES; i++)
            free(st.buf[i]);
        MPI_Finalize();
        return 0;
    }
    fprintf(stderr, "mpi_bulk: rank %d failed: %s\n", st.rank,
            st.failed ? "a check failed" : ember_strerror(rc));
    fflush(stderr);
    _exit(1); /* no MPI_Finalize: it could wait for the peer */
}
