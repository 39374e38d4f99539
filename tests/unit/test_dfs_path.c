/* test_dfs_path.c -- command-line paths normalised as Hadoop's Path does
 * (client/dfs_path.c): absolute and relative paths, "//", "." and ".."
 * (never above "/"), trailing slashes, the hdfs: forms and their
 * authority, other schemes and the other refusals, a path too long, and
 * component-wise containment; and the trash's checkpoint names
 * (common/trash.c): their format, parsing both Hadoop formats, the
 * refusals, expiry and the emptier's interval. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/dfs_path.h"
#include "common/error.h"
#include "common/trash.h"

#define HOME "/user/alice"

/* arg must normalise to want, with authority auth. */
static void expect_path(const char *arg, const char *want, const char *auth) {
    char out[256], authority[64], err[256] = "";
    int rc = dfs_path_normalize(arg, HOME, out, sizeof(out), authority, sizeof(authority), err,
                                sizeof(err));
    if (rc != EMBER_OK)
        fail_msg("'%s' refused: %s", arg, err);
    if (strcmp(out, want) != 0 || strcmp(authority, auth) != 0)
        fail_msg("'%s' gave '%s' (authority '%s'), want '%s' ('%s')", arg, out, authority, want,
                 auth);
}

/* arg must be refused with a message holding want. */
static void expect_refused(const char *arg, const char *want) {
    char out[256], authority[64], err[256] = "";
    assert_int_equal(dfs_path_normalize(arg, HOME, out, sizeof(out), authority, sizeof(authority),
                                        err, sizeof(err)),
                     EMBER_EINVAL);
    if (strstr(err, want) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", arg, err, want);
}

static void test_plain(void **state) {
    (void)state;
    expect_path("/", "/", "");
    expect_path("/a/b", "/a/b", "");
    expect_path("/a/b/", "/a/b", "");
    expect_path("//a///b//", "/a/b", "");
    expect_path("/a/./b/.", "/a/b", "");
    expect_path("/a/b/../c", "/a/c", "");
    expect_path("/a/b/../../..", "/", "");
    expect_path("/../../etc", "/etc", "");       /* never above "/" */
    expect_path("/a/..b/...", "/a/..b/...", ""); /* only "." and ".." are special */
    expect_path("/d/x:y", "/d/x:y", "");         /* ':' after a '/' is a name's */
}

static void test_relative(void **state) {
    (void)state;
    expect_path(".", HOME, "");
    expect_path("./", HOME, "");
    expect_path("a", HOME "/a", "");
    expect_path("a/b/../c", HOME "/a/c", "");
    expect_path("..", "/user", "");
    expect_path("../bob/x", "/user/bob/x", "");
    expect_path("../../../../x", "/x", "");
    expect_path("d/x:y", HOME "/d/x:y", "");
}

static void test_hdfs(void **state) {
    (void)state;
    expect_path("hdfs:/a/b", "/a/b", "");
    expect_path("hdfs:///a/../b", "/b", "");
    expect_path("hdfs:///", "/", "");
    expect_path("hdfs://nn:8020/a//b/", "/a/b", "nn:8020");
    expect_path("hdfs://CID-1234/x", "/x", "CID-1234");
    expect_path("hdfs://nn:8020", HOME, "nn:8020"); /* no path: ".", as Hadoop's glob */
    expect_path("hdfs://[::1]:9000/p", "/p", "[::1]:9000");
}

static void test_refused(void **state) {
    (void)state;
    expect_refused("", "Can not create a Path from an empty string");
    expect_refused("file:///etc", "only hdfs:// paths are supported here (scheme \"file\")");
    expect_refused("s3://bucket/key", "scheme \"s3\"");
    expect_refused("x:y", "scheme \"x\"");
    expect_refused("HDFS:///a", "scheme \"HDFS\"");
    expect_refused("hdfs:a", "Relative path in absolute URI");
    char big[400];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    expect_refused(big, "path too long");
    char out[256], authority[8], err[256];
    assert_int_equal(dfs_path_normalize("hdfs://a-long-authority/x", HOME, out, sizeof(out),
                                        authority, sizeof(authority), err, sizeof(err)),
                     EMBER_EINVAL);
    assert_non_null(strstr(err, "authority too long"));
    /* A long path that shrinks under ".." fits once resolved. */
    char shrinks[600];
    snprintf(shrinks, sizeof(shrinks), "%s/../b", big);
    assert_int_equal(dfs_path_normalize(shrinks, HOME, out, sizeof(out), authority,
                                        sizeof(authority), err, sizeof(err)),
                     EMBER_EINVAL); /* too long on the way: refused, not cut */
}

static void test_within(void **state) {
    (void)state;
    assert_true(dfs_path_within("/user/a/.Trash", "/user/a/.Trash"));
    assert_true(dfs_path_within("/user/a/.Trash/Current/x", "/user/a/.Trash"));
    assert_false(dfs_path_within("/user/a/.Trashy", "/user/a/.Trash"));
    assert_false(dfs_path_within("/user", "/user/a"));
    assert_true(dfs_path_within("/user/a", "/"));
    assert_true(dfs_path_within("/user/a", "/user"));
    assert_false(dfs_path_within("/us", "/user"));
}

/* Checkpoint names: local time yyMMddHHmmss, "-N" when retried. */
static void test_checkpoint_names(void **state) {
    (void)state;
    struct tm tm = {.tm_year = 124,
                    .tm_mon = 2,
                    .tm_mday = 9,
                    .tm_hour = 7,
                    .tm_min = 5,
                    .tm_sec = 3,
                    .tm_isdst = -1};
    int64_t when = (int64_t)mktime(&tm) * 1000 + 999;
    char name[TRASH_NAME_MAX];
    trash_checkpoint_name(when, 0, name, sizeof(name));
    assert_string_equal(name, "240309070503");
    trash_checkpoint_name(when, 12, name, sizeof(name));
    assert_string_equal(name, "240309070503-12");
    int64_t back;
    assert_int_equal(trash_checkpoint_time("240309070503", &back), 0);
    assert_true(back == when - 999); /* seconds resolution */
    assert_int_equal(trash_checkpoint_time("240309070503-12", &back), 0);
    assert_true(back == when - 999);
    assert_int_equal(trash_checkpoint_time("2403090705", &back), 0); /* before Hadoop 0.23 */
    assert_true(back == when - 999 - 3000);
    const char *bad[] = {"Current",       "",
                         "24030907050",   "2403090705031",
                         "240309070503-", "240309070503-x",
                         "240309070503x", "2403090705-1",
                         "241309070503",  "240332070503",
                         "240309250503",  "240309076003",
                         "-240309070503", NULL};
    for (int i = 0; bad[i] != NULL; i++)
        if (trash_checkpoint_time(bad[i], &back) != EMBER_EINVAL)
            fail_msg("'%s' read as a checkpoint", bad[i]);
}

static void test_trash_rules(void **state) {
    (void)state;
    char root[64];
    assert_int_equal(trash_root("alice", root, sizeof(root)), 0);
    assert_string_equal(root, "/user/alice/.Trash");
    assert_int_equal(trash_root("a-very-long-user-name-indeed", root, 20), EMBER_EINVAL);
    /* Older than the interval: deleted; with interval 0, all before now. */
    assert_true(trash_checkpoint_expired(1000, 62001, 60000));
    assert_false(trash_checkpoint_expired(1000, 61000, 60000));
    assert_true(trash_checkpoint_expired(1000, 1001, 0));
    assert_false(trash_checkpoint_expired(1000, 1000, 0));
    /* Hadoop's emptier interval: the checkpoint interval when in (0, interval]. */
    assert_true(trash_emptier_interval(60000, 0) == 60000);
    assert_true(trash_emptier_interval(60000, 10000) == 10000);
    assert_true(trash_emptier_interval(60000, 60000) == 60000);
    assert_true(trash_emptier_interval(60000, 120000) == 60000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),       cmocka_unit_test(test_relative),
        cmocka_unit_test(test_hdfs),        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_within),      cmocka_unit_test(test_checkpoint_names),
        cmocka_unit_test(test_trash_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
