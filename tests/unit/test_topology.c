/* test_topology.c -- unit tests for common/topology.c.
 *
 * Synthetic topologies give exact counts on any host.  In hwloc's synthetic
 * syntax each level's arity applies under every object of the level
 * above, so "pack:2 numa:2 core:4 pu:2" has 2 packages, 2x2 = 4 NUMA
 * nodes, 4x4 = 16 cores and 16x2 = 32 PUs (hwloc 2 makes NUMA nodes memory
 * children of the level where "numa" appears, which does not change the
 * counts).  A description without a NUMA level still has one NUMA node:
 * hwloc 2 always attaches the machine's memory to one.  The real machine
 * is only checked for sanity.  An XML file (the fixture numa4_devices.xml)
 * loads with its I/O devices; a missing or broken file, or both a
 * synthetic description and a file, are refused with a one-line reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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

static void test_xml(void **state) {
    (void)state;
    topology *t = NULL;
    char err[512] = "";
    assert_int_equal(topology_load("", EMBER_FIXTURES_DIR "/numa4_devices.xml", &t, err,
                                   sizeof(err)),
                     0);
    topology_summary s;
    topology_summarize(t, &s);
    assert_int_equal(s.packages, 2);
    assert_int_equal(s.numa_nodes, 4);
    assert_int_equal(s.cores, 16);
    assert_int_equal(s.pus, 32);
    assert_non_null(strstr(topology_origin(t), "XML topology '"));
    /* The I/O devices are kept: four OS devices, nvme1n1 first. */
    hwloc_obj_t dev = hwloc_get_next_osdev(topology_hwloc(t), NULL);
    assert_non_null(dev);
    assert_string_equal(dev->name, "nvme1n1");
    int devices = 0;
    for (dev = NULL; (dev = hwloc_get_next_osdev(topology_hwloc(t), dev)) != NULL;)
        devices++;
    assert_int_equal(devices, 4);
    topology_destroy(t);
}

static void test_xml_refused(void **state) {
    (void)state;
    topology *t = NULL;
    char err[512] = "";
    assert_int_equal(topology_load(NULL, "/no/such/topology.xml", &t, err, sizeof(err)),
                     EMBER_EINVAL);
    assert_string_equal(err, "cannot read the topology file '/no/such/topology.xml': No such "
                             "file or directory");
    char path[] = "/tmp/worker-test-topo.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("<topology version=\"2.0\"><object type=\"Machine\"", f); /* cut short */
    fclose(f);
    assert_int_equal(topology_load(NULL, path, &t, err, sizeof(err)), EMBER_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "hwloc cannot load the topology file '%s'", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    assert_int_equal(topology_load("pack:2 core:2 pu:1", EMBER_FIXTURES_DIR "/numa4_devices.xml",
                                   &t, err, sizeof(err)),
                     EMBER_EINVAL);
    assert_string_equal(err, "a synthetic topology and a topology file are both set: choose "
                             "one");
    assert_null(t);
    topology_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_numa),
        cmocka_unit_test(test_synthetic_small),
        cmocka_unit_test(test_synthetic_other_shapes),
        cmocka_unit_test(test_synthetic_invalid),
        cmocka_unit_test(test_real_machine),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_xml_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
