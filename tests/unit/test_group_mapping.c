/* test_group_mapping.c -- unit tests for namenode/group_mapping.c: the
 * static overrides (parsed, replacing every other source, malformed lists
 * refused with the entry named), the claimed group counting for users the
 * overrides do not name, the host's user database (root is in group root;
 * an unknown user is in none), and the cache answering the same. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "namenode/group_mapping.h"

static void test_overrides(void **state) {
    (void)state;
    group_mapping *gm = NULL;
    char err[256] = "";
    assert_int_equal(group_mapping_create(" alice = eng, ops ;bob=;carol=x,,y", 1000, &gm, err,
                                          sizeof(err)),
                     EMBER_OK);
    assert_true(group_mapping_member(gm, "alice", "alice", "eng", 0));
    assert_true(group_mapping_member(gm, "alice", "alice", "ops", 0));
    assert_false(group_mapping_member(gm, "alice", "alice", "alice", 0)); /* replaced */
    assert_false(group_mapping_member(gm, "bob", "bob", "bob", 0));       /* in none */
    assert_true(group_mapping_member(gm, "carol", NULL, "y", 0));
    assert_false(group_mapping_member(gm, "carol", NULL, "", 0));
    /* Not named: the claimed group counts. */
    assert_true(group_mapping_member(gm, "dave", "dave", "dave", 0));
    assert_false(group_mapping_member(gm, "dave", "dave", "eng", 0));
    group_mapping_destroy(gm);
}

static void test_bad_overrides(void **state) {
    (void)state;
    static const char *const bad[] = {"alice", "=eng", "alice=eng;bob",
                                      "a123456789012345678901234567890123456789012345678901234567890123=x",
                                      "alice=g123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        group_mapping *gm = (group_mapping *)1;
        char err[256] = "";
        assert_int_equal(group_mapping_create(bad[i], 1000, &gm, err, sizeof(err)), EMBER_EINVAL);
        assert_null(gm);
        assert_non_null(strstr(err, "bad hadoop.user.group.static.mapping.overrides entry"));
        assert_null(strchr(err, '\n'));
    }
    group_mapping *gm = NULL;
    char err[64];
    assert_int_equal(group_mapping_create("", 1000, &gm, err, sizeof(err)), EMBER_OK);
    group_mapping_destroy(gm);
    assert_int_equal(group_mapping_create(" ; ;", 1000, &gm, err, sizeof(err)), EMBER_OK);
    group_mapping_destroy(gm);
}

static void test_host_groups(void **state) {
    (void)state;
    group_mapping *gm = NULL;
    char err[64];
    assert_int_equal(group_mapping_create("", 1000, &gm, err, sizeof(err)), EMBER_OK);
    for (int64_t now = 0; now < 3000; now += 700) { /* fresh, cached, looked up again */
        assert_true(group_mapping_member(gm, "root", NULL, "root", now));
        assert_false(group_mapping_member(gm, "root", NULL, "no-such-group-xyz", now));
        assert_false(group_mapping_member(gm, "no-such-user-xyz", NULL, "root", now));
    }
    /* More users than the cache holds: still right. */
    for (int i = 0; i < 200; i++) {
        char user[32];
        snprintf(user, sizeof(user), "ghost%d", i);
        assert_false(group_mapping_member(gm, user, NULL, "root", 10000));
    }
    assert_true(group_mapping_member(gm, "root", NULL, "root", 10000));
    group_mapping_destroy(gm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_bad_overrides),
        cmocka_unit_test(test_host_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
