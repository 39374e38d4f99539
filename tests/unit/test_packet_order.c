/* test_packet_order.c -- the hold-back of pipeline packets whose payloads
 * arrive late (datanode/packet_order.h): one pipeline's packets leave in
 * arrival order whatever order their payloads complete in; a late payload
 * holds back its own pipeline only; the same block from another upstream
 * is another pipeline; a packet without payload queues behind a waiting
 * one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "datanode/packet_order.h"

#define N 8

/* Entries e[i] of pipeline (source, block), waiting, pushed in order. */
static void push_all(packet_order *q, packet_order_entry *e, int n, int source, uint64_t block_id) {
    for (int i = 0; i < n; i++) {
        e[i] = (packet_order_entry){.source = source, .block_id = block_id};
        packet_order_push(q, &e[i]);
    }
}

static void test_empty(void **state) {
    (void)state;
    packet_order q;
    packet_order_init(&q);
    assert_null(packet_order_pop(&q));
    assert_null(packet_order_shift(&q));
    assert_false(packet_order_holds(&q, 1, 7));
}

/* Payloads complete last to first: nothing leaves before the first one,
 * then all leave in order. */
static void test_reverse_completion(void **state) {
    (void)state;
    packet_order q;
    packet_order_init(&q);
    packet_order_entry e[N];
    push_all(&q, e, N, 2, 7);
    assert_true(packet_order_holds(&q, 2, 7));
    for (int i = N - 1; i >= 1; i--) {
        e[i].ready = 1;
        assert_null(packet_order_pop(&q)); /* e[0] holds them back */
    }
    e[0].ready = 1;
    for (int i = 0; i < N; i++)
        assert_ptr_equal(packet_order_pop(&q), &e[i]);
    assert_null(packet_order_pop(&q));
    assert_int_equal(q.count, 0);
    assert_false(packet_order_holds(&q, 2, 7));
}

/* Completions in a scrambled order: whatever leaves, leaves in order, and
 * as soon as everything before it is out. */
static void test_scrambled_completion(void **state) {
    (void)state;
    static const int order[N] = {3, 1, 0, 7, 2, 6, 4, 5};
    packet_order q;
    packet_order_init(&q);
    packet_order_entry e[N];
    push_all(&q, e, N, 3, 9);
    int next = 0; /* the next entry due out */
    for (int k = 0; k < N; k++) {
        e[order[k]].ready = 1;
        packet_order_entry *out;
        while ((out = packet_order_pop(&q)) != NULL)
            assert_ptr_equal(out, &e[next++]);
        assert_false(next < N && e[next].ready); /* nothing ready and due stayed in */
    }
    assert_int_equal(next, N);
}

/* Pipeline A waits for its first payload; pipeline B (another block from
 * the same upstream) and pipeline C (the same block from another
 * upstream) go on. */
static void test_other_pipelines_pass(void **state) {
    (void)state;
    packet_order q;
    packet_order_init(&q);
    packet_order_entry a[2], b[2], c[1];
    a[0] = (packet_order_entry){.source = 2, .block_id = 1};
    b[0] = (packet_order_entry){.source = 2, .block_id = 5, .ready = 1};
    a[1] = (packet_order_entry){.source = 2, .block_id = 1, .ready = 1};
    c[0] = (packet_order_entry){.source = 4, .block_id = 1, .ready = 1};
    b[1] = (packet_order_entry){.source = 2, .block_id = 5, .ready = 1};
    packet_order_push(&q, &a[0]);
    packet_order_push(&q, &b[0]);
    packet_order_push(&q, &a[1]);
    packet_order_push(&q, &c[0]);
    packet_order_push(&q, &b[1]);
    assert_ptr_equal(packet_order_pop(&q), &b[0]);
    assert_ptr_equal(packet_order_pop(&q), &c[0]);
    assert_ptr_equal(packet_order_pop(&q), &b[1]);
    assert_null(packet_order_pop(&q)); /* a[1] is ready, a[0] is not */
    assert_true(packet_order_holds(&q, 2, 1));
    assert_false(packet_order_holds(&q, 2, 5));
    a[0].ready = 1;
    assert_ptr_equal(packet_order_pop(&q), &a[0]);
    assert_ptr_equal(packet_order_pop(&q), &a[1]);
    assert_null(packet_order_pop(&q));
}

/* Entries pushed after a pop land at the end (the tail follows removals
 * from the middle and the end). */
static void test_push_after_pops(void **state) {
    (void)state;
    packet_order q;
    packet_order_init(&q);
    packet_order_entry x = {.source = 1, .block_id = 1};
    packet_order_entry y = {.source = 1, .block_id = 2, .ready = 1};
    packet_order_push(&q, &x);
    packet_order_push(&q, &y);
    assert_ptr_equal(packet_order_pop(&q), &y); /* the tail entry */
    packet_order_entry z = {.source = 1, .block_id = 1, .ready = 1};
    packet_order_push(&q, &z);
    assert_null(packet_order_pop(&q));
    x.ready = 1;
    assert_ptr_equal(packet_order_pop(&q), &x);
    assert_ptr_equal(packet_order_pop(&q), &z);
    assert_int_equal(q.count, 0);
    packet_order_push(&q, &y);
    assert_ptr_equal(packet_order_shift(&q), &y); /* shift takes it ready or not */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_reverse_completion),
        cmocka_unit_test(test_scrambled_completion),
        cmocka_unit_test(test_other_pipelines_pass),
        cmocka_unit_test(test_push_after_pops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
