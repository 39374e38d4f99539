/* test_node_registry.c -- unit tests for cluster/node_registry.c.
 *
 * Every test starts from a registry of world size 5 with 3 core nodes
 * (ranks 1-3 core, rank 4 task), created at monotonic time T0 with an
 * expiry of EXPIRY ms.  Covers the EXPECTED start, registration (fields
 * copied, rank and role checked against the MPI source), heartbeats
 * (refused before registration, storage and contact time updated), expiry
 * of silent and never-registered ranks (each reported once, strictly after
 * the expiry time), the finality of DEAD, and the counters.  Times are
 * passed explicitly; nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster.pb-c.h"
#include "cluster/node_registry.h"
#include "common/error.h"

#define WORLD 5
#define CORES 3
#define T0 INT64_C(100000)           /* monotonic ms at creation */
#define EXPIRY INT64_C(1000)
#define WALL INT64_C(1790000000000) /* a wall clock, ms since the epoch */

/* A valid RegisterNode for rank with the sub-messages it points to. */
struct register_parts {
    HwlocSummary hwloc;
    StorageReport storage;
    ContainerResources resources;
    RegisterNode msg;
    char host[32];
};

static void make_register(struct register_parts *p, int rank, NodeRole role) {
    p->hwloc = (HwlocSummary)HWLOC_SUMMARY__INIT;
    p->hwloc.packages = 2;
    p->hwloc.numa_nodes = 4;
    p->hwloc.cores = 16;
    p->hwloc.pus = 32;
    p->hwloc.memory_bytes = UINT64_C(8) << 30;
    p->storage = (StorageReport)STORAGE_REPORT__INIT;
    p->storage.capacity_bytes = 1000000;
    p->storage.used_bytes = 1000 * (uint64_t)rank;
    p->storage.remaining_bytes = 500000;
    p->storage.data_dirs = 2;
    p->storage.failed_dirs = 0;
    p->resources = (ContainerResources)CONTAINER_RESOURCES__INIT;
    p->resources.units = 16;
    p->resources.reserved_units = role == NODE_ROLE__ROLE_CORE ? 1 : 0;
    p->resources.vcores = 16 - p->resources.reserved_units;
    p->resources.memory_mb = 6553;
    p->msg = (RegisterNode)REGISTER_NODE__INIT;
    p->msg.rank = (uint32_t)rank;
    p->msg.role = role;
    snprintf(p->host, sizeof p->host, "node-%d", rank);
    p->msg.hostname = p->host;
    p->msg.pid = 1000 + (uint32_t)rank;
    p->msg.hwloc = &p->hwloc;
    p->msg.storage = &p->storage;
    p->msg.resources = &p->resources;
}

static NodeRole role_of(int rank) { return rank <= CORES ? NODE_ROLE__ROLE_CORE : NODE_ROLE__ROLE_TASK; }

/* Registers rank with the role it should have, at now_mono. */
static void register_rank(node_registry *reg, int rank, int64_t now_mono) {
    struct register_parts p;
    make_register(&p, rank, role_of(rank));
    assert_int_equal(node_registry_register(reg, rank, &p.msg, now_mono, WALL + now_mono), 0);
}

static int heartbeat(node_registry *reg, int source, int rank, uint64_t used, int64_t now_mono) {
    StorageReport storage = STORAGE_REPORT__INIT;
    storage.capacity_bytes = 2000000;
    storage.used_bytes = used;
    storage.remaining_bytes = 400000;
    storage.data_dirs = 2;
    storage.failed_dirs = 1;
    /* A worker running as many containers as the storage figure says. */
    ContainerResources resources = CONTAINER_RESOURCES__INIT;
    resources.units = 16;
    resources.vcores = 15;
    resources.memory_mb = 6553;
    resources.containers = (uint32_t)(used % 8);
    resources.vcores_used = resources.containers;
    resources.memory_used_mb = 1024 * resources.containers;
    Heartbeat hb = HEARTBEAT__INIT;
    hb.rank = (uint32_t)rank;
    hb.seq = 1;
    hb.storage = &storage;
    hb.resources = &resources;
    return node_registry_heartbeat(reg, source, &hb, now_mono, WALL + now_mono);
}

static int setup(void **state) {
    node_registry *reg = NULL;
    if (node_registry_create(WORLD, CORES, EXPIRY, T0, &reg) != 0)
        return -1;
    *state = reg;
    return 0;
}

static int teardown(void **state) {
    node_registry_destroy(*state);
    return 0;
}

static void test_create(void **state) {
    node_registry *reg = *state;
    assert_int_equal(node_registry_world_size(reg), WORLD);
    assert_null(node_registry_get(reg, 0)); /* the primary has no entry */
    assert_null(node_registry_get(reg, WORLD));
    assert_null(node_registry_get(reg, -1));
    for (int r = 1; r < WORLD; r++) {
        const node_entry *n = node_registry_get(reg, r);
        assert_non_null(n);
        assert_int_equal(n->rank, r);
        assert_int_equal(n->state, NODE_EXPECTED);
        assert_int_equal(n->role, role_of(r));
        assert_true(n->heartbeats == 0);
    }
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_EXPECTED), 3);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_EXPECTED), 1);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_LIVE), 0);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_PRIMARY, NODE_EXPECTED), 0);
    assert_int_equal(node_registry_lost(reg), 0);
}

static void test_create_errors(void **state) {
    (void)state;
    node_registry *reg = NULL;
    assert_int_equal(node_registry_create(WORLD, WORLD, EXPIRY, T0, &reg), EMBER_EINVAL);
    assert_int_equal(node_registry_create(WORLD, -2, EXPIRY, T0, &reg), EMBER_EINVAL);
    assert_null(reg);
    node_registry_destroy(NULL);
}

static void test_register(void **state) {
    node_registry *reg = *state;
    struct register_parts p;
    make_register(&p, 2, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, 2, &p.msg, T0 + 10, WALL + 10), 0);
    const node_entry *n = node_registry_get(reg, 2);
    assert_int_equal(n->state, NODE_LIVE);
    assert_string_equal(n->hostname, "node-2");
    assert_int_equal(n->pid, 1002);
    assert_int_equal(n->hw.packages, 2);
    assert_int_equal(n->hw.numa_nodes, 4);
    assert_int_equal(n->hw.cores, 16);
    assert_int_equal(n->hw.pus, 32);
    assert_true(n->hw.memory_bytes == UINT64_C(8) << 30);
    assert_true(n->storage.capacity_bytes == 1000000);
    assert_true(n->storage.used_bytes == 2000);
    assert_true(n->storage.remaining_bytes == 500000);
    assert_int_equal(n->storage.dirs, 2);
    assert_int_equal(n->storage.failed_dirs, 0);
    assert_true(n->last_contact_mono == T0 + 10);
    assert_true(n->last_contact_wall == WALL + 10);
    assert_true(n->registered_wall == WALL + 10);
    /* The worker's offer, nothing running yet. */
    assert_int_equal(n->resources.vcores, 15);
    assert_true(n->resources.memory_mb == 6553);
    assert_int_equal(n->resources.units, 16);
    assert_int_equal(n->resources.reserved_units, 1);
    assert_int_equal(n->resources.containers, 0);
    assert_int_equal(n->resources.vcores_used, 0);
    /* The registry keeps its own copy of the host name. */
    strcpy(p.host, "changed");
    assert_string_equal(node_registry_get(reg, 2)->hostname, "node-2");
    /* Others untouched. */
    assert_int_equal(node_registry_get(reg, 1)->state, NODE_EXPECTED);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_LIVE), 1);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_EXPECTED), 2);

    /* A task node registers as a task node. */
    make_register(&p, 4, NODE_ROLE__ROLE_TASK);
    assert_int_equal(node_registry_register(reg, 4, &p.msg, T0 + 20, WALL + 20), 0);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_LIVE), 1);
}

static void test_register_mismatch(void **state) {
    node_registry *reg = *state;
    struct register_parts p;
    /* Claims rank 3 but came from rank 2. */
    make_register(&p, 3, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, 2, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    /* Rank 4 is a task node, not a core node. */
    make_register(&p, 4, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, 4, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    /* Rank 1 is a core node, not a task node; nobody is the primary. */
    make_register(&p, 1, NODE_ROLE__ROLE_TASK);
    assert_int_equal(node_registry_register(reg, 1, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    make_register(&p, 1, NODE_ROLE__ROLE_PRIMARY);
    assert_int_equal(node_registry_register(reg, 1, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    /* Sources outside 1..world-1. */
    make_register(&p, 0, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, 0, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    make_register(&p, WORLD, NODE_ROLE__ROLE_TASK);
    assert_int_equal(node_registry_register(reg, WORLD, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    make_register(&p, 1, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, -1, &p.msg, T0 + 1, WALL), EMBER_EINVAL);
    for (int r = 1; r < WORLD; r++)
        assert_int_equal(node_registry_get(reg, r)->state, NODE_EXPECTED);
}

static void test_heartbeat(void **state) {
    node_registry *reg = *state;
    assert_int_equal(heartbeat(reg, 1, 1, 5, T0 + 5), EMBER_ENOENT); /* not registered yet */
    assert_int_equal(node_registry_get(reg, 1)->state, NODE_EXPECTED);
    register_rank(reg, 1, T0 + 10);
    assert_int_equal(heartbeat(reg, 1, 1, 777, T0 + 500), 0);
    const node_entry *n = node_registry_get(reg, 1);
    assert_int_equal(n->state, NODE_LIVE);
    assert_true(n->storage.used_bytes == 777);
    assert_true(n->storage.capacity_bytes == 2000000);
    assert_true(n->storage.remaining_bytes == 400000);
    assert_int_equal(n->storage.failed_dirs, 1);
    /* Each heartbeat brings the containers running now (777 % 8 = 1). */
    assert_int_equal(n->resources.containers, 1);
    assert_int_equal(n->resources.vcores_used, 1);
    assert_true(n->resources.memory_used_mb == 1024);
    assert_int_equal(n->resources.reserved_units, 0);
    assert_true(n->last_contact_mono == T0 + 500);
    assert_true(n->last_contact_wall == WALL + T0 + 500);
    assert_true(n->registered_wall == WALL + T0 + 10); /* unchanged */
    assert_true(n->heartbeats == 1);
    assert_int_equal(heartbeat(reg, 1, 1, 778, T0 + 900), 0);
    assert_true(n->heartbeats == 2);
    /* Rank in the message disagrees with the source, or source out of range. */
    assert_int_equal(heartbeat(reg, 1, 2, 1, T0 + 901), EMBER_EINVAL);
    assert_int_equal(heartbeat(reg, 0, 0, 1, T0 + 901), EMBER_EINVAL);
    assert_int_equal(heartbeat(reg, WORLD, WORLD, 1, T0 + 901), EMBER_EINVAL);
    assert_true(n->heartbeats == 2);
    assert_true(n->last_contact_mono == T0 + 900);
}

static void test_expire(void **state) {
    node_registry *reg = *state;
    int dead[WORLD];
    register_rank(reg, 1, T0 + 500);
    register_rank(reg, 4, T0 + 600);
    /* Exactly the expiry time after creation: not yet "more than". */
    assert_int_equal(node_registry_expire(reg, T0 + EXPIRY, dead), 0);
    /* Ranks 2 and 3 never registered: dead one ms later. */
    assert_int_equal(node_registry_expire(reg, T0 + EXPIRY + 1, dead), 2);
    assert_int_equal(dead[0], 2);
    assert_int_equal(dead[1], 3);
    assert_int_equal(node_registry_get(reg, 2)->state, NODE_DEAD);
    assert_int_equal(node_registry_get(reg, 3)->state, NODE_DEAD);
    assert_int_equal(node_registry_get(reg, 1)->state, NODE_LIVE);
    assert_int_equal(node_registry_lost(reg), 2);
    /* Reported once. */
    assert_int_equal(node_registry_expire(reg, T0 + EXPIRY + 1, dead), 0);
    assert_int_equal(node_registry_expire(reg, T0 + EXPIRY + 400, dead), 0);

    /* Rank 1 keeps heart-beating; rank 4 falls silent after registering. */
    assert_int_equal(heartbeat(reg, 1, 1, 1, T0 + 1400), 0);
    assert_int_equal(node_registry_expire(reg, T0 + 600 + EXPIRY, dead), 0);
    assert_int_equal(node_registry_expire(reg, T0 + 600 + EXPIRY + 1, dead), 1);
    assert_int_equal(dead[0], 4);
    assert_int_equal(node_registry_get(reg, 4)->state, NODE_DEAD);
    assert_int_equal(node_registry_get(reg, 1)->state, NODE_LIVE);
    assert_int_equal(node_registry_lost(reg), 3);
    assert_int_equal(node_registry_expire(reg, T0 + 1400 + EXPIRY, dead), 0);
    assert_int_equal(node_registry_expire(reg, T0 + 1400 + EXPIRY + 1, dead), 1);
    assert_int_equal(dead[0], 1);
    assert_int_equal(node_registry_expire(reg, T0 + 100000, dead), 0);
    assert_int_equal(node_registry_lost(reg), 4);

    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_DEAD), 3);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_DEAD), 1);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_LIVE), 0);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_LIVE), 0);
}

/* A dead rank's heartbeats are refused (fencing); only registering again
 * brings it back, as a resumed SIGSTOPped rank does. */
static void test_dead_comes_back_only_by_registering(void **state) {
    node_registry *reg = *state;
    int dead[WORLD];
    register_rank(reg, 1, T0 + 10);
    assert_int_equal(node_registry_expire(reg, T0 + 10 + EXPIRY + 1, dead), WORLD - 1);
    assert_int_equal(heartbeat(reg, 1, 1, 1, T0 + 5000), EMBER_ESTATE);
    assert_int_equal(heartbeat(reg, 3, 3, 1, T0 + 5000), EMBER_ESTATE);
    for (int r = 1; r < WORLD; r++)
        assert_int_equal(node_registry_get(reg, r)->state, NODE_DEAD);
    /* A refused heartbeat changes nothing. */
    assert_true(node_registry_get(reg, 1)->last_contact_mono == T0 + 10);
    assert_int_equal(node_registry_lost(reg), WORLD - 1);

    struct register_parts p;
    make_register(&p, 1, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, 1, &p.msg, T0 + 5000, WALL + 5000), 0);
    assert_int_equal(node_registry_get(reg, 1)->state, NODE_LIVE);
    assert_true(node_registry_get(reg, 1)->last_contact_mono == T0 + 5000);
    assert_int_equal(heartbeat(reg, 1, 1, 2, T0 + 5100), 0);
    /* Never registered, then dead: registering late is accepted too. */
    make_register(&p, 3, NODE_ROLE__ROLE_CORE);
    assert_int_equal(node_registry_register(reg, 3, &p.msg, T0 + 5000, WALL + 5000), 0);
    assert_int_equal(node_registry_get(reg, 3)->state, NODE_LIVE);
    /* Deaths are history: coming back does not undo the count. */
    assert_int_equal(node_registry_lost(reg), WORLD - 1);
}

static void test_counts(void **state) {
    node_registry *reg = *state;
    int dead[WORLD];
    register_rank(reg, 1, T0 + 100);
    register_rank(reg, 2, T0 + 100);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_LIVE), 2);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_EXPECTED), 1);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_EXPECTED), 1);
    /* Re-registering a live node keeps it live and counted once. */
    register_rank(reg, 2, T0 + 200);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_LIVE), 2);
    assert_int_equal(heartbeat(reg, 1, 1, 1, T0 + 1000), 0);
    /* At T0+1150: ranks 3, 4 (never registered) are over; 2 (T0+200) and
     * 1 (T0+1000) are not. */
    assert_int_equal(node_registry_expire(reg, T0 + 1150, dead), 2);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_LIVE), 2);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_DEAD), 1);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_DEAD), 1);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_CORE, NODE_EXPECTED), 0);
    assert_int_equal(node_registry_count(reg, NODE_ROLE__ROLE_TASK, NODE_EXPECTED), 0);
    assert_int_equal(node_registry_lost(reg), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test_setup_teardown(test_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_comes_back_only_by_registering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
