/* test_topology.c -- unit tests for common/topology.c.
 *
 * Synthetic topologies give exact counts on any host.  In hwloc's synthetic
 * syntax each level's arity applies under every object of the level
 * above, so "pack:2 numa:2 core:4 pu:2" has 2 packages, 2x2 = 4 NUMA
 * nodes, 4x4 = 16 cores and 16x2 = 32 PUs (hwloc 2 makes NUMA nodes memory
 * children of the level where "numa" appears, which does not change the
 * counts).  A description without a NUMA level still has one NUMA node:
 * hwloc 2 always attaches the machine's memory to one.  The real machine
 * is only checked for sanity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/error.h"
#include "common/topology.h"

static void test_synthetic_numa(void **state) {
    (void)state;
    topology_summary t;
    memset(&t, 0xff, sizeof t);
    assert_int_equal(topology_summary_load("pack:2 numa:2 core:4 pu:2", &t), 0);
    assert_int_equal(t.packages, 2);
    assert_int_equal(t.numa_nodes, 4);
    assert_int_equal(t.cores, 16);
    assert_int_equal(t.pus, 32);
    assert_true(t.memory_bytes > 0); /* synthetic NUMA nodes come with memory */
}

static void test_synthetic_small(void **state) {
    (void)state;
    topology_summary t;
    memset(&t, 0xff, sizeof t);
    assert_int_equal(topology_summary_load("pack:1 core:2 pu:1", &t), 0);
    assert_int_equal(t.packages, 1);
    assert_int_equal(t.numa_nodes, 1);
    assert_int_equal(t.cores, 2);
    assert_int_equal(t.pus, 2);
}

static void test_synthetic_other_shapes(void **state) {
    (void)state;
    topology_summary t;
    /* NUMA above the packages: 2 NUMA nodes, 2x3 = 6 packages. */
    assert_int_equal(topology_summary_load("numa:2 pack:3 core:2 pu:4", &t), 0);
    assert_int_equal(t.numa_nodes, 2);
    assert_int_equal(t.packages, 6);
    assert_int_equal(t.cores, 12);
    assert_int_equal(t.pus, 48);
    /* Long type names and a cache level are accepted too. */
    assert_int_equal(topology_summary_load("package:2 l3:1 core:3 pu:1", &t), 0);
    assert_int_equal(t.packages, 2);
    assert_int_equal(t.cores, 6);
    assert_int_equal(t.pus, 6);
}

static void test_synthetic_invalid(void **state) {
    (void)state;
    topology_summary t;
    memset(&t, 0x5a, sizeof t);
    topology_summary before = t;
    assert_int_equal(topology_summary_load("bogus:3", &t), EMBER_EINVAL);
    assert_int_equal(topology_summary_load("pack:two core:2", &t), EMBER_EINVAL);
    assert_int_equal(topology_summary_load("pack:2 core:0", &t), EMBER_EINVAL); /* zero arity */
    assert_int_equal(topology_summary_load("pack:2 core:2 pu:2 extra", &t), EMBER_EINVAL);
    assert_memory_equal(&t, &before, sizeof t); /* untouched on failure */
}

static void test_real_machine(void **state) {
    (void)state;
    topology_summary t;
    memset(&t, 0, sizeof t);
    assert_int_equal(topology_summary_load(NULL, &t), 0);
    assert_true(t.cores >= 1);
    assert_true(t.pus >= t.cores);
    assert_true(t.numa_nodes >= 1);
    /* "" also means the real machine. */
    topology_summary again;
    memset(&again, 0, sizeof again);
    assert_int_equal(topology_summary_load("", &again), 0);
    assert_int_equal(again.cores, t.cores);
    assert_int_equal(again.pus, t.pus);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_numa),
        cmocka_unit_test(test_synthetic_small),
        cmocka_unit_test(test_synthetic_other_shapes),
        cmocka_unit_test(test_synthetic_invalid),
        cmocka_unit_test(test_real_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
