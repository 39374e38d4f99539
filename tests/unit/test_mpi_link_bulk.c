/* test_mpi_link_bulk.c -- bulk transfers through mpi_link on one rank (a
 * singleton MPI job sending to itself): payloads of many chunks arrive
 * whole and in order with the messages around them; an unclaimed payload
 * is drained without disturbing the next; the data cap holds payloads
 * back; a dead peer, a payload that never comes and a bad header each end
 * the way mpi_link.h says.  Every wait is a loop of mpi_link_progress()
 * with a deadline. */
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "mpi_link_fixture.h"
#include "proto/mpi_link.h"

#define WAIT_MS 20000
#define SEND_TIMEOUT_MS 5000
#define MAX_XFER 16

typedef struct {
    int status;
    void *buf;
    int calls;
} done_rec;

typedef struct {
    mpi_link *link;
    int claim;             /* claim payloads (else let them drain) */
    uint64_t seen[64];     /* heartbeat numbers in delivery order */
    uint64_t seen_len[64]; /* their payload lengths */
    int nseen;
    uint8_t *rbuf[MAX_XFER]; /* receive buffers, by heartbeat number */
    done_rec sent[MAX_XFER], recvd[MAX_XFER];
    int claim_again_rc; /* a second claim of one header */
    int writable;
} fixture;

static void on_sent(mpi_link *link, int peer, int status, void *buf, void *arg) {
    done_rec *d = arg;
    (void)link, (void)peer;
    d->status = status;
    d->buf = buf;
    d->calls++;
}

static void on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    fixture *f = arg;
    assert_int_equal(msg->body_case, RANK_MESSAGE__BODY_HEARTBEAT);
    uint64_t seq = msg->heartbeat->seq;
    if (f->nseen < 64) {
        f->seen_len[f->nseen] = msg->bulk_length;
        f->seen[f->nseen++] = seq;
    }
    if (msg->bulk_length > 0 && f->claim && seq < MAX_XFER) {
        f->rbuf[seq] = malloc(msg->bulk_length);
        assert_non_null(f->rbuf[seq]);
        assert_int_equal(
            mpi_link_recv_bulk(link, source, msg, f->rbuf[seq], on_sent, &f->recvd[seq]), EMBER_OK);
        f->claim_again_rc =
            mpi_link_recv_bulk(link, source, msg, f->rbuf[seq], on_sent, &f->recvd[seq]);
    }
    rank_message__free_unpacked(msg, NULL);
}

static void on_writable(mpi_link *link, int dest, void *arg) {
    fixture *f = arg;
    (void)link, (void)dest;
    f->writable++;
}

/* A payload whose every byte depends on its position and seed. */
static uint8_t *make_payload(size_t len, unsigned seed) {
    uint8_t *p = malloc(len);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((i * 2654435761u) >> 13) ^ (uint8_t)seed;
    return p;
}

static void progress_until(fixture *f, int (*cond)(const fixture *)) {
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (!cond(f)) {
        assert_true(clock_monotonic_ms() < deadline);
        mpi_link_progress(f->link);
    }
}

static int nothing_pending(const fixture *f) { return mpi_link_pending(f->link) == 0; }

static int setup_timeout(void **state, int64_t timeout_ms) {
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || mpi_link_create(NULL, timeout_ms, on_message, f, &f->link) != EMBER_OK)
        return -1;
    mpi_link_set_writable_cb(f->link, on_writable, f);
    f->claim = 1;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_timeout(state, SEND_TIMEOUT_MS); }
static int setup_short(void **state) { return setup_timeout(state, 300); }

static int teardown(void **state) {
    fixture *f = *state;
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (mpi_link_pending(f->link) > 0 && clock_monotonic_ms() < deadline)
        mpi_link_progress(f->link);
    for (int turn = 0; turn < 100; turn++)
        mpi_link_progress(f->link);
    mpi_link_destroy(f->link);
    for (int i = 0; i < MAX_XFER; i++)
        free(f->rbuf[i]);
    free(f);
    return 0;
}

/* Payloads of one byte to several MiB, in 64 KiB chunks (so edges fall
 * inside, on and past chunk boundaries), between small messages: all
 * arrive whole, headers in send order, and the cap's books balance. */
static void test_payloads_whole_and_in_order(void **state) {
    fixture *f = *state;
    mpi_link_set_bulk_chunk(f->link, 64 * 1024);
    const size_t sizes[] = {1, 65535, 65536, 65537, 3 * 1024 * 1024 + 7, 200000};
    const int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
    uint8_t *payload[6];
    small_msg m;
    for (int i = 0; i < n; i++) {
        payload[i] = make_payload(sizes[i], (unsigned)i);
        make_small(&m, (uint64_t)(2 * i));
        assert_int_equal(mpi_link_send(f->link, 0, &m.msg), EMBER_OK);
        make_small(&m, (uint64_t)(2 * i + 1));
        assert_int_equal(
            mpi_link_send_bulk(f->link, 0, &m.msg, payload[i], sizes[i], on_sent, &f->sent[i]),
            EMBER_OK);
    }
    progress_until(f, nothing_pending);
    assert_int_equal(f->nseen, 2 * n);
    for (int i = 0; i < 2 * n; i++) {
        assert_int_equal(f->seen[i], (uint64_t)i);
        assert_int_equal(f->seen_len[i], i % 2 ? sizes[i / 2] : 0);
    }
    for (int i = 0; i < n; i++) {
        int seq = 2 * i + 1;
        assert_int_equal(f->sent[i].calls, 1);
        assert_int_equal(f->sent[i].status, EMBER_OK);
        assert_ptr_equal(f->sent[i].buf, payload[i]);
        assert_int_equal(f->recvd[seq].calls, 1);
        assert_int_equal(f->recvd[seq].status, EMBER_OK);
        assert_ptr_equal(f->recvd[seq].buf, f->rbuf[seq]);
        assert_memory_equal(f->rbuf[seq], payload[i], sizes[i]);
        free(payload[i]);
    }
    assert_int_equal(f->claim_again_rc, EMBER_EINVAL);
    assert_int_equal(mpi_link_queued_bytes(f->link, 0), 0);
    mpi_link_stats st;
    mpi_link_get_stats(f->link, &st);
    assert_int_equal(st.bulk_sent, n);
    assert_int_equal(st.bulk_received, n);
    assert_int_equal(st.bulk_failed, 0);
}

/* A payload nobody claims is drained; the next one, claimed, arrives
 * whole (its chunks are not taken by the drain). */
static void test_unclaimed_payload_drained(void **state) {
    fixture *f = *state;
    mpi_link_set_bulk_chunk(f->link, 4096);
    uint8_t *a = make_payload(50000, 1), *b = make_payload(50000, 2);
    small_msg m;
    make_small(&m, 100); /* numbers >= MAX_XFER are never claimed */
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, a, 50000, on_sent, &f->sent[0]),
                     EMBER_OK);
    make_small(&m, 1);
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, b, 50000, on_sent, &f->sent[1]),
                     EMBER_OK);
    progress_until(f, nothing_pending);
    assert_int_equal(f->sent[0].status, EMBER_OK);
    assert_int_equal(f->sent[1].status, EMBER_OK);
    assert_int_equal(f->recvd[1].status, EMBER_OK);
    assert_memory_equal(f->rbuf[1], b, 50000);
    mpi_link_stats st;
    mpi_link_get_stats(f->link, &st);
    assert_int_equal(st.bulk_drained, 1);
    assert_int_equal(st.bulk_received, 1);
    free(a);
    free(b);
}

/* The payload weighs in the data cap: a second payload while the first is
 * queued is refused, the writable callback comes, and it then goes. */
static void test_payload_under_data_cap(void **state) {
    fixture *f = *state;
    mpi_link_set_limits(f->link, 1024 * 1024, 0);
    mpi_link_set_bulk_chunk(f->link, 256 * 1024);
    uint8_t *a = make_payload(2 * 1024 * 1024, 3), *b = make_payload(100, 4);
    small_msg m;
    make_small(&m, 0);
    assert_int_equal(
        mpi_link_send_bulk(f->link, 0, &m.msg, a, 2 * 1024 * 1024, on_sent, &f->sent[0]),
        EMBER_OK); /* nothing queued: always accepted */
    assert_true(mpi_link_queued_bytes(f->link, 0) >= 2 * 1024 * 1024);
    make_small(&m, 1);
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, b, 100, on_sent, &f->sent[1]),
                     EMBER_EAGAIN);
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (f->writable == 0) {
        assert_true(clock_monotonic_ms() < deadline);
        mpi_link_progress(f->link);
    }
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, b, 100, on_sent, &f->sent[1]),
                     EMBER_OK);
    progress_until(f, nothing_pending);
    assert_memory_equal(f->rbuf[0], a, 2 * 1024 * 1024);
    assert_memory_equal(f->rbuf[1], b, 100);
    assert_int_equal(f->sent[1].calls, 1);
    free(a);
    free(b);
}

/* A peer declared dead: the send ends EMBER_ECLOSED, with the buffer
 * handed back, or NULL when MPI would not let go of a posted chunk (Open
 * MPI cannot cancel a send once it started); new transfers to it are
 * refused. */
static void test_dead_peer(void **state) {
    fixture *f = *state;
    mpi_link_set_bulk_chunk(f->link, 4096);
    uint8_t *a = make_payload(1 << 20, 5);
    small_msg m;
    make_small(&m, 0);
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, a, 1 << 20, on_sent, &f->sent[0]),
                     EMBER_OK);
    mpi_link_set_dead(f->link, 0);
    progress_until(f, nothing_pending);
    assert_int_equal(f->sent[0].calls, 1);
    assert_int_equal(f->sent[0].status, EMBER_ECLOSED);
    assert_true(f->sent[0].buf == a || f->sent[0].buf == NULL);
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, a, 1 << 20, on_sent, &f->sent[1]),
                     EMBER_ECLOSED);
    assert_int_equal(mpi_link_queued_bytes(f->link, 0), 0);
    /* Whatever of it MPI delivered to this rank's own receive side ends
     * too (claimed, then failed: the peer is dead). */
    if (f->recvd[0].calls)
        assert_int_equal(f->recvd[0].status, EMBER_ECLOSED);
    mpi_link_set_alive(f->link, 0);
    if (f->sent[0].buf != NULL) /* else the link keeps it, for good */
        free(a);
}

/* A header whose payload never comes (sent by hand, no chunks): the claim
 * ends EMBER_ETIMEDOUT after the link's deadline, buffer handed back. */
static void test_payload_never_comes(void **state) {
    fixture *f = *state;
    small_msg m;
    make_small(&m, 2);
    m.msg.bulk_length = 1000;
    m.msg.bulk_tag = 4000;
    m.msg.bulk_chunk = 1000;
    assert_int_equal(mpi_link_send(f->link, 0, &m.msg), EMBER_OK);
    progress_until(f, nothing_pending);
    assert_int_equal(f->recvd[2].calls, 1);
    assert_int_equal(f->recvd[2].status, EMBER_ETIMEDOUT);
    assert_ptr_equal(f->recvd[2].buf, f->rbuf[2]);
    mpi_link_stats st;
    mpi_link_get_stats(f->link, &st);
    assert_int_equal(st.bulk_failed, 1);
}

/* Headers with a tag among the link's own messages', or no chunk size,
 * are dropped before the callback; misuse of the API is refused. */
static void test_bad_headers_and_misuse(void **state) {
    fixture *f = *state;
    small_msg m;
    make_small(&m, 3);
    m.msg.bulk_length = 10;
    m.msg.bulk_tag = 100; /* the message tag itself */
    m.msg.bulk_chunk = 10;
    assert_int_equal(mpi_link_send(f->link, 0, &m.msg), EMBER_OK);
    m.msg.bulk_tag = 5000;
    m.msg.bulk_chunk = 0;
    assert_int_equal(mpi_link_send(f->link, 0, &m.msg), EMBER_OK);
    progress_until(f, nothing_pending);
    for (int turn = 0; turn < 100; turn++)
        mpi_link_progress(f->link);
    assert_int_equal(f->nseen, 0);
    mpi_link_stats st;
    mpi_link_get_stats(f->link, &st);
    assert_int_equal(st.rejected, 2);
    uint8_t buf[16];
    make_small(&m, 4);
    assert_int_equal(mpi_link_send_bulk(f->link, 0, &m.msg, buf, 0, on_sent, &f->sent[0]),
                     EMBER_EINVAL);
    assert_int_equal(mpi_link_send_bulk(f->link, 7, &m.msg, buf, 16, on_sent, &f->sent[0]),
                     EMBER_EINVAL);
    m.msg.bulk_length = 16;
    m.msg.bulk_tag = 5000;
    m.msg.bulk_chunk = 16;
    assert_int_equal(mpi_link_recv_bulk(f->link, 0, &m.msg, buf, on_sent, &f->recvd[0]),
                     EMBER_EINVAL); /* not inside the message callback */
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_payloads_whole_and_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed_payload_drained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_under_data_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_never_comes, setup_short, teardown),
        cmocka_unit_test_setup_teardown(test_bad_headers_and_misuse, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
