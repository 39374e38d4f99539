/* test_mpi_link.c -- mpi_link on one rank (a singleton MPI job) sending to
 * itself: order across sizes and classes, the data cap's EMBER_EAGAIN and
 * writable callback, the control class's hard cap, a dead destination.
 * Every wait is a loop of mpi_link_progress() with a deadline. */
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "mpi_link_fixture.h"
#include "proto/mpi_link.h"

#define WAIT_MS 20000
#define SEND_TIMEOUT_MS 5000
#define MAX_SEEN 512

typedef struct {
    mpi_link *link;
    uint64_t seen[MAX_SEEN]; /* message numbers in delivery order */
    int nseen;
    int writable[4];         /* writable callbacks per destination */
    uint64_t *fields;
} fixture;

static void on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    fixture *f = arg;
    (void)link;
    assert_int_equal(source, 0);
    uint64_t seq = msg->body_case == RANK_MESSAGE__BODY_BLOCK_REPORT ? msg->block_report->seq
                                                                      : msg->heartbeat->seq;
    if (f->nseen < MAX_SEEN)
        f->seen[f->nseen++] = seq;
    rank_message__free_unpacked(msg, NULL);
}

static void on_writable(mpi_link *link, int dest, void *arg) {
    fixture *f = arg;
    (void)link;
    if (dest >= 0 && dest < 4)
        f->writable[dest]++;
}

/* A BlockReport numbered seq of about 30 * entries bytes. */
typedef struct {
    RankMessage msg;
    BlockReport report;
} large_msg;

static void make_large(fixture *f, large_msg *m, uint32_t seq, size_t entries) {
    m->report = (BlockReport)BLOCK_REPORT__INIT;
    m->report.seq = seq;
    m->report.n_block_ids = m->report.n_gen_stamps = m->report.n_lengths = entries;
    m->report.block_ids = m->report.gen_stamps = m->report.lengths = f->fields;
    m->msg = (RankMessage)RANK_MESSAGE__INIT;
    m->msg.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
    m->msg.block_report = &m->report;
}

/* Progress until n messages arrived and nothing is pending. */
static void drain(fixture *f, int n) {
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (f->nseen < n || mpi_link_pending(f->link) > 0) {
        assert_true(clock_monotonic_ms() < deadline);
        mpi_link_progress(f->link);
    }
}

static void assert_in_order(const fixture *f, int n) {
    assert_int_equal(f->nseen, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(f->seen[i], (uint64_t)i);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->fields = malloc(100000 * sizeof(uint64_t));
    if (f->fields == NULL)
        return -1;
    for (size_t k = 0; k < 100000; k++)
        f->fields[k] = UINT64_MAX - k; /* 10-byte varints */
    if (mpi_link_create(NULL, SEND_TIMEOUT_MS, on_message, f, &f->link) != EMBER_OK)
        return -1;
    mpi_link_set_writable_cb(f->link, on_writable, f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    /* Whatever is still in flight is taken, so no test leaves messages to
     * the next one's link. */
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (mpi_link_pending(f->link) > 0 && clock_monotonic_ms() < deadline)
        mpi_link_progress(f->link);
    for (int turn = 0; turn < 100; turn++)
        mpi_link_progress(f->link);
    mpi_link_destroy(f->link);
    free(f->fields);
    free(f);
    return 0;
}

/* Large data and small control messages, interleaved, arrive numbered in
 * send order. */
static void test_mixed_sizes_in_order(void **state) {
    fixture *f = *state;
    for (int i = 0; i < 60; i++) {
        if (i % 3 == 0) {
            large_msg m;
            make_large(f, &m, (uint32_t)i, 5000 + (size_t)i * 1000);
            assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_OK);
        } else {
            small_msg m;
            make_small(&m, (uint64_t)i);
            assert_int_equal(mpi_link_send(f->link, 0, &m.msg), EMBER_OK);
        }
        if (i % 7 == 0)
            mpi_link_progress(f->link);
    }
    drain(f, 60);
    assert_in_order(f, 60);
    mpi_link_stats st;
    mpi_link_get_stats(f->link, &st);
    assert_int_equal(st.received, 60);
    assert_int_equal(st.sent, 60);
    assert_int_equal(mpi_link_queued_bytes(f->link, 0), 0);
}

/* Over the data cap a data send answers EMBER_EAGAIN with the queue at or
 * under the cap; once the queue drains, the writable callback names the
 * destination, the sends go on, and everything arrives in order. */
static void test_data_cap_then_writable(void **state) {
    fixture *f = *state;
    const uint64_t cap = 1u << 20;
    mpi_link_set_limits(f->link, cap, 0);
    large_msg m;
    int sent = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        make_large(f, &m, (uint32_t)sent, 10000); /* about 300 KB */
        int rc = mpi_link_send_data(f->link, 0, &m.msg);
        if (rc == EMBER_EAGAIN) {
            refused++;
            break;
        }
        assert_int_equal(rc, EMBER_OK);
        sent++;
        assert_true(mpi_link_queued_bytes(f->link, 0) <= cap);
    }
    assert_int_equal(refused, 1);
    assert_true(sent >= 2);
    assert_int_equal(f->writable[0], 0);
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (f->writable[0] == 0) {
        assert_true(clock_monotonic_ms() < deadline);
        mpi_link_progress(f->link);
    }
    assert_true(mpi_link_queued_bytes(f->link, 0) <= cap / 2);
    make_large(f, &m, (uint32_t)sent, 10000);
    assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_OK);
    sent++;
    drain(f, sent);
    assert_in_order(f, sent);
    mpi_link_stats st;
    mpi_link_get_stats(f->link, &st);
    assert_int_equal(st.data_refused, 1);
    assert_int_equal(st.writable_calls, 1);
    assert_int_equal(f->writable[0], 1);
}

/* A message bigger than the cap still goes when nothing is queued. */
static void test_one_message_over_cap_goes(void **state) {
    fixture *f = *state;
    mpi_link_set_limits(f->link, 1000, 0);
    large_msg m;
    make_large(f, &m, 0, 10000);
    assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_OK);
    make_large(f, &m, 1, 10000);
    assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_EAGAIN);
    drain(f, 1);
    assert_in_order(f, 1);
}

/* Control messages never answer EMBER_EAGAIN: past their hard cap they
 * fail with EMBER_ENOMEM, and go again once the queue drained. */
static void test_control_hard_cap(void **state) {
    fixture *f = *state;
    mpi_link_set_limits(f->link, 0, 1u << 20);
    large_msg m;
    int sent = 0, rc = EMBER_OK;
    for (int i = 0; i < 10 && rc == EMBER_OK; i++) {
        make_large(f, &m, (uint32_t)sent, 10000);
        rc = mpi_link_send(f->link, 0, &m.msg);
        if (rc == EMBER_OK)
            sent++;
    }
    assert_int_equal(rc, EMBER_ENOMEM);
    assert_true(sent >= 2);
    drain(f, sent);
    make_large(f, &m, (uint32_t)sent, 10000);
    assert_int_equal(mpi_link_send(f->link, 0, &m.msg), EMBER_OK);
    drain(f, sent + 1);
    assert_in_order(f, sent + 1);
    assert_int_equal(f->writable[0], 0); /* control never waits */
}

/* A destination declared dead while a data sender waits for it: the
 * writable callback comes, and the send then answers EMBER_ECLOSED. */
static void test_dead_destination(void **state) {
    fixture *f = *state;
    mpi_link_set_limits(f->link, 1, 0);
    large_msg m;
    make_large(f, &m, 0, 1000);
    assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_OK);
    assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_EAGAIN);
    mpi_link_set_dead(f->link, 0);
    mpi_link_progress(f->link);
    assert_int_equal(f->writable[0], 1);
    assert_int_equal(mpi_link_send_data(f->link, 0, &m.msg), EMBER_ECLOSED);
    small_msg s;
    make_small(&s, 1);
    assert_int_equal(mpi_link_send(f->link, 0, &s.msg), EMBER_ECLOSED);
    assert_int_equal(mpi_link_send(f->link, 1, &s.msg), EMBER_EINVAL); /* one rank */
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mixed_sizes_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_cap_then_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_message_over_cap_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_hard_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_destination, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
