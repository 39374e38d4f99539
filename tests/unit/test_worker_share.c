/* test_worker_share.c -- unit tests for worker/worker_share.c.
 *
 * The split of a host's units between its worker ranks: one worker (the
 * whole host), as many workers as units (one each), more workers than
 * units (unit i % U, shared), units not divisible by the workers (the
 * shares differ by at most one unit and still cover the host), an
 * exhaustive check that for n <= U the shares are disjoint, contiguous
 * and cover every unit, a binding narrower than the machine (its units,
 * whatever the split would give), a binding that names no unit (the
 * split), and the refused inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "worker/worker_share.h"

#define MAX_UNITS 64

/* The share of index of workers on units, as a string "2,3". */
static const char *share_of(uint32_t units, uint32_t workers, uint32_t index,
                            const uint8_t *bound) {
    static char text[512];
    uint32_t share[MAX_UNITS], count = 0;
    assert_int_equal(worker_share_split(units, workers, index, bound, share, &count), EMBER_OK);
    assert_true(count >= 1 && count <= units);
    size_t off = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        assert_true(share[i] < units);
        if (i > 0)
            assert_true(share[i] > share[i - 1]);
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%u", i ? "," : "", share[i]);
    }
    return text;
}

static void test_one_worker_gets_the_host(void **state) {
    (void)state;
    assert_string_equal(share_of(1, 1, 0, NULL), "0");
    assert_string_equal(share_of(2, 1, 0, NULL), "0,1");
    assert_string_equal(share_of(8, 1, 0, NULL), "0,1,2,3,4,5,6,7");
}

static void test_as_many_workers_as_units(void **state) {
    (void)state;
    /* The reported case: 2 core ranks on a 2-core machine, one core each. */
    assert_string_equal(share_of(2, 2, 0, NULL), "0");
    assert_string_equal(share_of(2, 2, 1, NULL), "1");
    for (uint32_t i = 0; i < 16; i++) {
        char want[8];
        snprintf(want, sizeof(want), "%u", i);
        assert_string_equal(share_of(16, 16, i, NULL), want);
    }
}

static void test_even_split(void **state) {
    (void)state;
    assert_string_equal(share_of(4, 2, 0, NULL), "0,1");
    assert_string_equal(share_of(4, 2, 1, NULL), "2,3");
    assert_string_equal(share_of(8, 4, 2, NULL), "4,5");
    assert_string_equal(share_of(32, 2, 1, NULL),
                        "16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31");
}

static void test_units_not_divisible(void **state) {
    (void)state;
    /* [i*U/n, (i+1)*U/n): 5 units for 2 workers, 7 for 3, 3 for 2. */
    assert_string_equal(share_of(5, 2, 0, NULL), "0,1");
    assert_string_equal(share_of(5, 2, 1, NULL), "2,3,4");
    assert_string_equal(share_of(7, 3, 0, NULL), "0,1");
    assert_string_equal(share_of(7, 3, 1, NULL), "2,3");
    assert_string_equal(share_of(7, 3, 2, NULL), "4,5,6");
    assert_string_equal(share_of(3, 2, 0, NULL), "0");
    assert_string_equal(share_of(3, 2, 1, NULL), "1,2");
}

static void test_more_workers_than_units(void **state) {
    (void)state;
    /* 4 workers on 2 cores (mr_cluster's 4 workers here): 0, 1, 0, 1. */
    assert_string_equal(share_of(2, 4, 0, NULL), "0");
    assert_string_equal(share_of(2, 4, 1, NULL), "1");
    assert_string_equal(share_of(2, 4, 2, NULL), "0");
    assert_string_equal(share_of(2, 4, 3, NULL), "1");
    assert_string_equal(share_of(1, 3, 2, NULL), "0");
    assert_string_equal(share_of(3, 5, 4, NULL), "1");
}

/* For every U <= 24 and n <= U: the shares are contiguous, disjoint,
 * differ in size by at most one and cover every unit once. */
static void test_split_covers_the_host(void **state) {
    (void)state;
    for (uint32_t units = 1; units <= 24; units++) {
        for (uint32_t workers = 1; workers <= units; workers++) {
            uint8_t seen[MAX_UNITS] = {0};
            uint32_t least = UINT32_MAX, most = 0, next = 0;
            for (uint32_t i = 0; i < workers; i++) {
                uint32_t share[MAX_UNITS], count = 0;
                assert_int_equal(worker_share_split(units, workers, i, NULL, share, &count), 0);
                least = count < least ? count : least;
                most = count > most ? count : most;
                for (uint32_t k = 0; k < count; k++) {
                    assert_int_equal(share[k], next++); /* in rank order, no gap */
                    assert_false(seen[share[k]]);
                    seen[share[k]] = 1;
                }
            }
            assert_int_equal(next, units);
            assert_true(most - least <= 1);
        }
    }
}

static void test_binding_is_the_share(void **state) {
    (void)state;
    /* mpirun -np 2 binds rank 1 to core 1: its share, not the split's 0-1. */
    uint8_t core1[2] = {0, 1};
    assert_string_equal(share_of(2, 1, 0, core1), "1");
    /* Bound to units 2 and 5 of 8, whatever its place among 4 workers. */
    uint8_t scattered[8] = {0, 0, 1, 0, 0, 1, 0, 0};
    assert_string_equal(share_of(8, 4, 0, scattered), "2,5");
    assert_string_equal(share_of(8, 4, 3, scattered), "2,5");
    /* Two ranks bound to the same core both get it. */
    uint8_t core0[4] = {1, 0, 0, 0};
    assert_string_equal(share_of(4, 2, 0, core0), "0");
    assert_string_equal(share_of(4, 2, 1, core0), "0");
    /* A binding on no unit of the host: the split. */
    uint8_t none[4] = {0};
    assert_string_equal(share_of(4, 2, 1, none), "2,3");
}

static void test_refused(void **state) {
    (void)state;
    uint32_t share[4] = {99, 99, 99, 99}, count = 77;
    assert_int_equal(worker_share_split(0, 1, 0, NULL, share, &count), EMBER_EINVAL);
    assert_int_equal(worker_share_split(4, 0, 0, NULL, share, &count), EMBER_EINVAL);
    assert_int_equal(worker_share_split(4, 2, 2, NULL, share, &count), EMBER_EINVAL);
    assert_int_equal(count, 77); /* nothing written */
    assert_int_equal(share[0], 99);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_worker_gets_the_host),
        cmocka_unit_test(test_as_many_workers_as_units),
        cmocka_unit_test(test_even_split),
        cmocka_unit_test(test_units_not_divisible),
        cmocka_unit_test(test_more_workers_than_units),
        cmocka_unit_test(test_split_covers_the_host),
        cmocka_unit_test(test_binding_is_the_share),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
