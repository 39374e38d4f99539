/* test_placement.c -- unit tests for worker/placement.c.
 *
 * Golden test: a script of bookings and releases on three machines (the
 * XML fixture numa4_devices.xml -- 2 packages x 2 NUMA nodes x 4 cores x
 * 2 PUs with nvme1n1 under NUMA node 1, eth1 under NUMA node 2, sdb
 * under package 1 and vda under the whole machine --, the fixture
 * pack2_one_numa.xml -- 2 packages of 2 cores, one NUMA node, sda under
 * package 1 --, and the synthetic "package:2 numa:1 core:4 pu:2") writes
 * one line per decision: the units, the PUs to bind to and the reason.
 * The lines must equal fixtures/placement.golden (EMBER_UPDATE_GOLDEN=1
 * rewrites it; review the diff).  Then the rules one by one: locality,
 * packing, exhaustion and oversubscription, the reserved units, PUs as
 * units, refusals, and a randomized check that no unit gets a second
 * attempt while a free one remains. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/topology.h"
#include "worker/placement.h"
#include "worker/worker_topology.h"

#define FIXTURE(name) EMBER_FIXTURES_DIR "/" name

/* A loaded machine: topology, placement view and the load of each unit. */
typedef struct {
    topology *topo;
    worker_topology *wt;
    uint16_t load[512];
} machine;

static void machine_open(machine *m, const char *synthetic, const char *xml, int pus) {
    char err[256] = "";
    memset(m, 0, sizeof(*m));
    int rc = topology_load(synthetic, xml, &m->topo, err, sizeof(err));
    if (rc != EMBER_OK)
        fail_msg("cannot load the topology: %s", err);
    assert_int_equal(worker_topology_create(m->topo, pus, &m->wt), EMBER_OK);
    assert_true(worker_topology_units(m->wt) <= 512);
}

static void machine_close(machine *m) {
    worker_topology_destroy(m->wt);
    topology_destroy(m->topo);
}

/* Chooses and books (load + 1 on each unit); returns the choice. */
static placement_choice book(machine *m, uint32_t usable, uint32_t want, placement_hint_kind kind,
                             const char *device, const char *subject) {
    placement_hint hint = {.kind = kind, .device = device, .subject = subject};
    placement_choice c;
    assert_int_equal(placement_choose(m->wt, m->load, usable, want, &hint, &c), EMBER_OK);
    assert_int_equal(c.count, want);
    for (uint32_t i = 0; i < c.count; i++)
        m->load[c.units[i]]++;
    return c;
}

static void unbook(machine *m, const placement_choice *c) {
    for (uint32_t i = 0; i < c->count; i++) {
        assert_true(m->load[c->units[i]] > 0);
        m->load[c->units[i]]--;
    }
}

/* ---- the golden script -------------------------------------------------- */

typedef struct {
    char *text;
    size_t len, cap;
} golden_out;

static void golden_line(golden_out *g, const char *what, const placement_choice *c) {
    char line[1200];
    int n = snprintf(line, sizeof(line), "%s -> units %s, PUs %s: %s\n", what, c->units_text,
                     c->pus, c->reason);
    if (g->len + (size_t)n + 1 > g->cap) {
        g->cap = (g->len + (size_t)n + 1) * 2;
        g->text = realloc(g->text, g->cap);
        assert_non_null(g->text);
    }
    memcpy(g->text + g->len, line, (size_t)n + 1);
    g->len += (size_t)n;
}

/* Books want units and writes the decision under its label. */
static placement_choice golden_book(golden_out *g, machine *m, uint32_t usable, uint32_t want,
                                    placement_hint_kind kind, const char *device,
                                    const char *subject, const char *label) {
    placement_choice c = book(m, usable, want, kind, device, subject);
    golden_line(g, label, &c);
    return c;
}

/* The NUMA machine: maps near their disk until its NUMA node is full, a
 * reduce near the NIC, a disk under a package, one under the machine, an
 * unknown device, packing without a hint, releases and reuse, then the
 * whole machine busy. */
static void golden_numa4(golden_out *g) {
    machine m;
    machine_open(&m, NULL, FIXTURE("numa4_devices.xml"), 0);
    const placement_hint_kind S = PLACEMENT_HINT_STORAGE, N = PLACEMENT_HINT_NETWORK;
    placement_choice a = golden_book(g, &m, 15, 2, S, "nvme1n1", "block blk_12", "numa4 map1");
    golden_book(g, &m, 15, 2, S, "nvme1n1", "block blk_13", "numa4 map2");
    golden_book(g, &m, 15, 2, S, "nvme1n1", "block blk_14", "numa4 map3 (NUMA 1 full)");
    golden_book(g, &m, 15, 2, N, "eth1", "the shuffle", "numa4 reduce1");
    golden_book(g, &m, 15, 3, S, "sdb", "block blk_20", "numa4 map on sdb");
    golden_book(g, &m, 15, 1, S, "vda", "block blk_21", "numa4 map on vda");
    golden_book(g, &m, 15, 1, S, "nvme9n1", "block blk_22", "numa4 unknown device");
    golden_book(g, &m, 15, 1, PLACEMENT_HINT_NONE, NULL, NULL, "numa4 no hint");
    unbook(&m, &a);
    golden_book(g, &m, 15, 2, S, "nvme1n1", "block blk_15", "numa4 map4 (map1's cores free)");
    golden_book(g, &m, 15, 2, PLACEMENT_HINT_NONE, NULL, NULL, "numa4 one free core left");
    golden_book(g, &m, 15, 2, S, "nvme1n1", "block blk_16", "numa4 none free");
    golden_book(g, &m, 15, 2, S, "nvme1n1", "block blk_17", "numa4 all busy");
    golden_book(g, &m, 15, 3, N, "eth1", "the shuffle", "numa4 reduce, all busy");
    machine_close(&m);
}

/* One NUMA node, two packages: the disk's package is what is near. */
static void golden_one_numa(golden_out *g) {
    machine m;
    machine_open(&m, NULL, FIXTURE("pack2_one_numa.xml"), 0);
    golden_book(g, &m, 4, 2, PLACEMENT_HINT_STORAGE, "sda", "block blk_1", "pack2 map1");
    golden_book(g, &m, 4, 1, PLACEMENT_HINT_STORAGE, "sda", "block blk_2", "pack2 map2");
    golden_book(g, &m, 4, 1, PLACEMENT_HINT_NONE, NULL, NULL, "pack2 no hint");
    machine_close(&m);
}

/* The synthetic machine, by cores and by PUs. */
static void golden_synthetic(golden_out *g) {
    machine m;
    machine_open(&m, "package:2 numa:1 core:4 pu:2", NULL, 0);
    for (int i = 0; i < 5; i++)
        golden_book(g, &m, 7, 2, PLACEMENT_HINT_NONE, NULL, NULL, "synthetic cores");
    machine_close(&m);
    machine_open(&m, "package:2 numa:1 core:4 pu:2", NULL, 1);
    for (int i = 0; i < 3; i++)
        golden_book(g, &m, 16, 3, PLACEMENT_HINT_NONE, NULL, NULL, "synthetic PUs");
    machine_close(&m);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_golden(void **state) {
    (void)state;
    golden_out g = {0};
    golden_numa4(&g);
    golden_one_numa(&g);
    golden_synthetic(&g);
    const char *path = FIXTURE("placement.golden");
    if (getenv("EMBER_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(g.text, f);
        fclose(f);
    }
    const char *want = read_file(path);
    if (want == NULL)
        fail_msg("cannot read %s", path);
    /* Name the first line that differs, then compare the whole. */
    const char *a = g.text, *b = want;
    while (*a != '\0' && *a == *b)
        a++, b++;
    if (*a != *b) {
        const char *line = a;
        while (line > g.text && line[-1] != '\n')
            line--;
        print_error("first difference in this decision:\n%.*s\n", (int)strcspn(line, "\n"), line);
    }
    assert_string_equal(g.text, want);
    free(g.text);
}

/* ---- the rules, one by one ---------------------------------------------- */

static void test_near_the_disk(void **state) {
    (void)state;
    machine m;
    machine_open(&m, NULL, FIXTURE("numa4_devices.xml"), 0);
    placement_choice c = book(&m, 16, 2, PLACEMENT_HINT_STORAGE, "nvme1n1", "block blk_12");
    assert_string_equal(c.reason, "cores 4-5 on NUMA node 1: block blk_12 is on /dev/nvme1n1 "
                                  "attached to NUMA node 1");
    assert_string_equal(c.units_text, "4-5");
    assert_string_equal(c.pus, "8-11");
    assert_int_equal(c.shared, 0);
    /* The NIC: a reduce near NUMA node 2. */
    c = book(&m, 16, 1, PLACEMENT_HINT_NETWORK, "eth1", NULL);
    assert_string_equal(c.reason, "core 8 on NUMA node 2: the shuffle comes over eth1 attached "
                                  "to NUMA node 2");
    /* A disk under a package: the package's first NUMA node with room. */
    c = book(&m, 16, 4, PLACEMENT_HINT_STORAGE, "sdb", "block blk_9");
    assert_string_equal(c.reason, "cores 12-15 on NUMA node 3: block blk_9 is on /dev/sdb "
                                  "attached to package 1 (NUMA nodes 2-3)");
    machine_close(&m);
}

static void test_locality_levels(void **state) {
    (void)state;
    machine m;
    machine_open(&m, NULL, FIXTURE("numa4_devices.xml"), 0);
    worker_device_locality loc;
    worker_topology_device_locality(m.wt, "nvme1n1", &loc);
    assert_int_equal(loc.level, WORKER_NEAR_NUMA);
    assert_int_equal(loc.index, 1);
    assert_string_equal(loc.where, "NUMA node 1");
    for (uint32_t u = 0; u < 16; u++)
        assert_int_equal(worker_topology_unit_near(m.wt, &loc, u), u >= 4 && u < 8);
    worker_topology_device_locality(m.wt, "sdb", &loc);
    assert_int_equal(loc.level, WORKER_NEAR_PACKAGE);
    assert_string_equal(loc.where, "package 1 (NUMA nodes 2-3)");
    for (uint32_t u = 0; u < 16; u++)
        assert_int_equal(worker_topology_unit_near(m.wt, &loc, u), u >= 8);
    worker_topology_device_locality(m.wt, "vda", &loc);
    assert_int_equal(loc.level, WORKER_NEAR_MACHINE);
    assert_null(loc.near);
    worker_topology_device_locality(m.wt, "nvme0n1", &loc);
    assert_int_equal(loc.level, WORKER_NEAR_UNKNOWN);
    worker_topology_device_locality(m.wt, NULL, &loc);
    assert_int_equal(loc.level, WORKER_NEAR_UNKNOWN);
    for (uint32_t u = 0; u < 16; u++) {
        assert_int_equal(worker_topology_unit_numa(m.wt, u), (int)u / 4);
        assert_int_equal(worker_topology_unit_package(m.wt, u), (int)u / 8);
    }
    machine_close(&m);
    /* One NUMA node: a disk under package 1 makes that package near. */
    machine_open(&m, NULL, FIXTURE("pack2_one_numa.xml"), 0);
    worker_topology_device_locality(m.wt, "sda", &loc);
    assert_int_equal(loc.level, WORKER_NEAR_PACKAGE);
    assert_string_equal(loc.where, "package 1");
    machine_close(&m);
    /* A synthetic machine has no I/O devices at all. */
    machine_open(&m, "pack:2 numa:2 core:2 pu:1", NULL, 0);
    worker_topology_device_locality(m.wt, "eth0", &loc);
    assert_int_equal(loc.level, WORKER_NEAR_UNKNOWN);
    machine_close(&m);
}

static void test_packed(void **state) {
    (void)state;
    machine m;
    machine_open(&m, NULL, FIXTURE("numa4_devices.xml"), 0);
    /* NUMA node 0 has one free core: a 2-core attempt goes whole to NUMA
     * node 1, a 1-core one fills NUMA node 0. */
    m.load[0] = m.load[1] = m.load[2] = 1;
    placement_choice c = book(&m, 16, 2, PLACEMENT_HINT_NONE, NULL, NULL);
    assert_string_equal(c.units_text, "4-5");
    c = book(&m, 16, 1, PLACEMENT_HINT_NONE, NULL, NULL);
    assert_string_equal(c.units_text, "3");
    assert_string_equal(c.reason, "core 3 on NUMA node 0: packed, no device locality known");
    /* No NUMA node with room for the whole attempt: free cores in order. */
    memset(m.load, 0, sizeof(m.load));
    for (uint32_t u = 0; u < 16; u++)
        m.load[u] = u % 4 != 3;
    c = book(&m, 16, 3, PLACEMENT_HINT_NONE, NULL, NULL);
    assert_string_equal(c.units_text, "3,7,11");
    assert_string_equal(c.reason, "cores 3,7,11 on NUMA nodes 0-2: packed, no device locality "
                                  "known");
    /* Near a disk whose NUMA node is full: the rest of its package first. */
    memset(m.load, 0, sizeof(m.load));
    for (uint32_t u = 4; u < 8; u++)
        m.load[u] = 1;
    c = book(&m, 16, 2, PLACEMENT_HINT_STORAGE, "nvme1n1", "block blk_1");
    assert_string_equal(c.units_text, "0-1");
    assert_string_equal(c.reason, "cores 0-1 on NUMA node 0: block blk_1 is on /dev/nvme1n1 "
                                  "attached to NUMA node 1, which had 0 free cores");
    /* ... and when it has one free core, that one and the package's next. */
    memset(m.load, 0, sizeof(m.load));
    m.load[4] = m.load[5] = m.load[6] = 1;
    c = book(&m, 16, 2, PLACEMENT_HINT_STORAGE, "nvme1n1", "block blk_1");
    assert_string_equal(c.units_text, "0,7");
    machine_close(&m);
}

static void test_exhaustion(void **state) {
    (void)state;
    machine m;
    machine_open(&m, NULL, FIXTURE("numa4_devices.xml"), 0);
    /* Every core busy once, core 0 twice: the least loaded, near first. */
    for (uint32_t u = 0; u < 16; u++)
        m.load[u] = 1;
    m.load[0] = 2;
    placement_choice c = book(&m, 16, 2, PLACEMENT_HINT_NONE, NULL, NULL);
    assert_string_equal(c.units_text, "1-2");
    assert_int_equal(c.shared, 2);
    assert_string_equal(c.reason, "cores 1-2 on NUMA node 0: packed, no device locality known; "
                                  "all 16 usable cores were busy, so these are shared with the "
                                  "fewest other attempts");
    c = book(&m, 16, 2, PLACEMENT_HINT_STORAGE, "nvme1n1", "block blk_5");
    assert_string_equal(c.units_text, "4-5");
    /* One free core: it, then the least loaded. */
    memset(m.load, 0, sizeof(m.load));
    for (uint32_t u = 0; u < 16; u++)
        m.load[u] = u == 9 ? 0 : 1;
    c = book(&m, 16, 2, PLACEMENT_HINT_NONE, NULL, NULL);
    assert_string_equal(c.units_text, "0,9");
    assert_int_equal(c.shared, 1);
    assert_string_equal(c.reason, "cores 0,9 on NUMA nodes 0,2: packed, no device locality "
                                  "known; only 1 core was free, so 1 of these is shared");
    machine_close(&m);
}

static void test_reserved_units(void **state) {
    (void)state;
    machine m;
    machine_open(&m, "pack:1 core:4 pu:1", NULL, 0);
    /* Core 3 is reserved: three attempts take 0, 1, 2; the fourth shares. */
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(book(&m, 3, 1, PLACEMENT_HINT_NONE, NULL, NULL).units[0], i);
    placement_choice c = book(&m, 3, 1, PLACEMENT_HINT_NONE, NULL, NULL);
    assert_int_equal(c.units[0], 0);
    assert_int_equal(c.shared, 1);
    assert_int_equal(m.load[3], 0);
    machine_close(&m);
}

static void test_pus_as_units(void **state) {
    (void)state;
    machine m;
    machine_open(&m, NULL, FIXTURE("numa4_devices.xml"), 1);
    assert_int_equal(worker_topology_units(m.wt), 32);
    assert_true(worker_topology_units_are_pus(m.wt));
    placement_choice c = book(&m, 32, 2, PLACEMENT_HINT_STORAGE, "nvme1n1", "block blk_1");
    assert_string_equal(c.reason, "PUs 8-9 on NUMA node 1: block blk_1 is on /dev/nvme1n1 "
                                  "attached to NUMA node 1");
    assert_string_equal(c.pus, "8-9");
    machine_close(&m);
    /* No cores in the description: the units are PUs anyway. */
    machine_open(&m, "pack:2 pu:2", NULL, 0);
    assert_true(worker_topology_units_are_pus(m.wt));
    assert_string_equal(worker_topology_unit_name(m.wt, 1), "PUs");
    machine_close(&m);
}

static void test_hints_without_device(void **state) {
    (void)state;
    machine m;
    machine_open(&m, "pack:1 numa:2 core:2 pu:1", NULL, 0);
    placement_hint hint = {.kind = PLACEMENT_HINT_STORAGE,
                           .subject = "block blk_3",
                           .note = "/data is on device 0:24, which is no block device"};
    placement_choice c;
    assert_int_equal(placement_choose(m.wt, m.load, 4, 1, &hint, &c), EMBER_OK);
    assert_string_equal(c.reason, "core 0 on NUMA node 0: packed, no device locality known "
                                  "(block blk_3: /data is on device 0:24, which is no block "
                                  "device)");
    assert_int_equal(placement_choose(m.wt, m.load, 4, 1, NULL, &c), EMBER_OK);
    assert_string_equal(c.reason, "core 0 on NUMA node 0: packed, no device locality known");
    machine_close(&m);
}

static void test_refusals(void **state) {
    (void)state;
    machine m;
    machine_open(&m, "pack:1 core:4 pu:1", NULL, 0);
    placement_choice c;
    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(placement_choose(m.wt, m.load, 4, 0, NULL, &c), EMBER_EINVAL);
    assert_int_equal(placement_choose(m.wt, m.load, 3, 4, NULL, &c), EMBER_EINVAL);
    assert_int_equal(placement_choose(m.wt, m.load, 5, 1, NULL, &c), EMBER_EINVAL);
    assert_int_equal(placement_choose(m.wt, m.load, 4, PLACEMENT_MAX_UNITS + 1, NULL, &c),
                     EMBER_EINVAL);
    assert_int_equal(placement_choose(m.wt, m.load, 4, 4, NULL, &c), EMBER_OK);
    assert_string_equal(c.units_text, "0-3");
    uint32_t bad[] = {4};
    char buf[8];
    assert_int_equal(worker_topology_pu_list(m.wt, bad, 1, buf, sizeof(buf)), EMBER_EINVAL);
    machine_close(&m);
}

/* Random bookings and releases: a unit gets a second attempt only when
 * too few were free, chosen units are distinct and usable, and the loads
 * go back to zero. */
static void test_random_never_shares_while_free(void **state) {
    (void)state;
    const char *shapes[] = {"pack:2 numa:2 core:4 pu:1", "pack:1 numa:3 core:3 pu:2",
                            "numa:2 pack:2 core:3 pu:1"};
    srand(12345);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        machine m;
        machine_open(&m, shapes[s], NULL, 0);
        uint32_t units = worker_topology_units(m.wt);
        uint32_t usable = units - 1;
        placement_choice live[64];
        int nlive = 0;
        for (int step = 0; step < 2000; step++) {
            if (nlive == 64 || (nlive > 0 && rand() % 3 == 0)) {
                int k = rand() % nlive;
                unbook(&m, &live[k]);
                live[k] = live[--nlive];
                continue;
            }
            uint32_t want = 1 + (uint32_t)rand() % 3, free_before = 0;
            for (uint32_t u = 0; u < usable; u++)
                free_before += m.load[u] == 0;
            placement_hint_kind kind = rand() % 2 ? PLACEMENT_HINT_NONE : PLACEMENT_HINT_STORAGE;
            placement_choice c = book(&m, usable, want, kind, "eth9", NULL);
            uint32_t expect_shared = want > free_before ? want - free_before : 0;
            assert_int_equal(c.shared, expect_shared);
            for (uint32_t i = 0; i < c.count; i++) {
                assert_true(c.units[i] < usable);
                if (i > 0)
                    assert_true(c.units[i] > c.units[i - 1]);
            }
            live[nlive++] = c;
        }
        while (nlive > 0)
            unbook(&m, &live[--nlive]);
        for (uint32_t u = 0; u < units; u++)
            assert_int_equal(m.load[u], 0);
        machine_close(&m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_near_the_disk),
        cmocka_unit_test(test_locality_levels),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_reserved_units),
        cmocka_unit_test(test_pus_as_units),
        cmocka_unit_test(test_hints_without_device),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_random_never_shares_while_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
