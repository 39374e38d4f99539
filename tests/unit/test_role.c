/* test_role.c -- unit tests for cluster/role.c.
 *
 * Covers the default split (every non-primary rank a core node) for world
 * sizes 1..8, --core-nodes 0 (every non-primary rank a task node), a
 * partial split (2 core nodes of 6 ranks), every error case of
 * role_core_count() and role_assign() (which must leave *out alone) and
 * the names of the roles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster.pb-c.h"
#include "cluster/role.h"
#include "common/error.h"

static NodeRole assign(int rank, int world, int core_nodes) {
    NodeRole role = NODE_ROLE__ROLE_UNKNOWN;
    assert_int_equal(role_assign(rank, world, core_nodes, &role), 0);
    return role;
}

static void test_default_all_core(void **state) {
    (void)state;
    for (int world = 1; world <= 8; world++) {
        int cores = -99;
        assert_int_equal(role_core_count(world, ROLE_CORE_NODES_DEFAULT, &cores), 0);
        assert_int_equal(cores, world - 1);
        assert_int_equal(assign(0, world, ROLE_CORE_NODES_DEFAULT), NODE_ROLE__ROLE_PRIMARY);
        for (int rank = 1; rank < world; rank++)
            assert_int_equal(assign(rank, world, ROLE_CORE_NODES_DEFAULT), NODE_ROLE__ROLE_CORE);
        /* The explicit maximum is the same split. */
        for (int rank = 0; rank < world; rank++)
            assert_int_equal(assign(rank, world, world - 1), assign(rank, world, ROLE_CORE_NODES_DEFAULT));
    }
}

static void test_zero_core_all_task(void **state) {
    (void)state;
    for (int world = 1; world <= 8; world++) {
        int cores = -99;
        assert_int_equal(role_core_count(world, 0, &cores), 0);
        assert_int_equal(cores, 0);
        assert_int_equal(assign(0, world, 0), NODE_ROLE__ROLE_PRIMARY);
        for (int rank = 1; rank < world; rank++)
            assert_int_equal(assign(rank, world, 0), NODE_ROLE__ROLE_TASK);
    }
}

static void test_partial_split(void **state) {
    (void)state;
    int cores = -99;
    assert_int_equal(role_core_count(6, 2, &cores), 0);
    assert_int_equal(cores, 2);
    static const NodeRole want[6] = {
        NODE_ROLE__ROLE_PRIMARY, NODE_ROLE__ROLE_CORE, NODE_ROLE__ROLE_CORE,
        NODE_ROLE__ROLE_TASK,    NODE_ROLE__ROLE_TASK, NODE_ROLE__ROLE_TASK,
    };
    for (int rank = 0; rank < 6; rank++)
        assert_int_equal(assign(rank, 6, 2), want[rank]);
    /* One core node of many. */
    assert_int_equal(assign(1, 8, 1), NODE_ROLE__ROLE_CORE);
    for (int rank = 2; rank < 8; rank++)
        assert_int_equal(assign(rank, 8, 1), NODE_ROLE__ROLE_TASK);
}

static void test_errors(void **state) {
    (void)state;
    int cores = -99;
    /* core_nodes over world - 1 */
    assert_int_equal(role_core_count(4, 4, &cores), EMBER_EINVAL);
    assert_int_equal(role_core_count(1, 1, &cores), EMBER_EINVAL);
    /* negative other than the default */
    assert_int_equal(role_core_count(4, -2, &cores), EMBER_EINVAL);
    assert_int_equal(role_core_count(4, -100, &cores), EMBER_EINVAL);
    /* no ranks at all */
    assert_int_equal(role_core_count(0, ROLE_CORE_NODES_DEFAULT, &cores), EMBER_EINVAL);
    assert_int_equal(role_core_count(0, 0, &cores), EMBER_EINVAL);
    assert_int_equal(role_core_count(-1, ROLE_CORE_NODES_DEFAULT, &cores), EMBER_EINVAL);
    assert_int_equal(cores, -99);

    NodeRole role = (NodeRole)42;
    assert_int_equal(role_assign(1, 4, 4, &role), EMBER_EINVAL);
    assert_int_equal(role_assign(1, 4, -2, &role), EMBER_EINVAL);
    assert_int_equal(role_assign(-1, 4, ROLE_CORE_NODES_DEFAULT, &role), EMBER_EINVAL);
    assert_int_equal(role_assign(4, 4, ROLE_CORE_NODES_DEFAULT, &role), EMBER_EINVAL);
    assert_int_equal(role_assign(100, 4, 0, &role), EMBER_EINVAL);
    assert_int_equal(role_assign(0, 0, ROLE_CORE_NODES_DEFAULT, &role), EMBER_EINVAL);
    assert_int_equal(role_assign(0, -3, 0, &role), EMBER_EINVAL);
    assert_int_equal(role, 42);
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(role_name(NODE_ROLE__ROLE_PRIMARY), "primary");
    assert_string_equal(role_name(NODE_ROLE__ROLE_CORE), "core");
    assert_string_equal(role_name(NODE_ROLE__ROLE_TASK), "task");
    assert_string_equal(role_name(NODE_ROLE__ROLE_UNKNOWN), "unknown");
    assert_string_equal(role_name((NodeRole)7), "unknown");
    assert_string_equal(role_name((NodeRole)-1), "unknown");
}

/* EMR's default replication by core nodes: 1 below 4, 2 below 10, else 3. */
static void test_default_replication_is_emrs(void **state) {
    (void)state;
    const unsigned want[] = {1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3};
    for (int cores = 0; cores < 13; cores++)
        assert_int_equal(role_default_replication(cores), want[cores]);
    assert_int_equal(role_default_replication(1000), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_replication_is_emrs),
        cmocka_unit_test(test_default_all_core),
        cmocka_unit_test(test_zero_core_all_task),
        cmocka_unit_test(test_partial_split),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
