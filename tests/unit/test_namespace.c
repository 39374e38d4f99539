/* test_namespace.c -- unit tests for namenode/namespace.c.
 *
 * Every test (but the path checks) starts from a namespace holding only
 * "/", owned by hdfs:supergroup and created at time T0.  Covers the path
 * rules (each accepted and each refused class), mkdirs, create_file,
 * stat, list (order, paging, a file), rename (HDFS's rules, every error,
 * moves of whole subtrees, paths kept within FS_PATH_MAX), delete, the
 * attribute setters, walk order, summaries, parents' mtimes, that a failed
 * operation changes nothing (a dump of the walk compared before and after,
 * and the next inode id), a 3,000-level tree and 20,000 files in one
 * directory.  Times are passed explicitly; nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "namenode/namespace.h"

#define T0 INT64_C(1790000000000) /* creation time of every namespace */
#define T1 (T0 + 1000)
#define T2 (T0 + 2000)
#define BS UINT64_C(134217728) /* a block size */

static int setup(void **state) {
    fs_namespace *ns = NULL;
    if (fs_namespace_create("hdfs", "supergroup", T0, &ns) != 0)
        return -1;
    *state = ns;
    return 0;
}

static int teardown(void **state) {
    fs_namespace_destroy(*state);
    return 0;
}

static int mkdirs(fs_namespace *ns, const char *path, int parents) {
    return fs_namespace_mkdirs(ns, path, "alice", "staff", 0750, parents, T0);
}

/* Creates a file (mode 0640, replication 3), returning its id. */
static uint64_t create_ok(fs_namespace *ns, const char *path, int parents, int64_t now) {
    uint64_t id = 0;
    assert_int_equal(
        fs_namespace_create_file(ns, path, "alice", "staff", 0640, 3, BS, 0, parents, now, &id), 0);
    assert_true(id > 0);
    return id;
}

static int create(fs_namespace *ns, const char *path, int overwrite, int parents) {
    return fs_namespace_create_file(ns, path, "bob", "users", 0600, 2, BS, overwrite, parents, T1,
                                    NULL);
}

static fs_stat stat_ok(const fs_namespace *ns, const char *path) {
    fs_stat st;
    assert_int_equal(fs_namespace_stat(ns, path, &st), 0);
    return st;
}

static int dump_visit(const char *path, const fs_stat *st, void *arg) {
    fprintf(arg,
            "%s id=%" PRIu64 " dir=%d %s:%s %o m=%" PRId64 " a=%" PRId64 " r=%u bs=%" PRIu64
            " len=%" PRIu64 " n=%u\n",
            path, st->inode_id, st->is_dir, st->owner, st->group, st->mode, st->mtime_ms,
            st->atime_ms, st->replication, st->block_size, st->length, st->children);
    return 0;
}

/* Everything walk reports, one line per inode (the caller frees it). */
static char *dump(const fs_namespace *ns) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    assert_int_equal(fs_namespace_walk(ns, dump_visit, f), 0);
    fclose(f);
    return text;
}

/* Only the paths walk visits, one per line (the caller frees it). */
static int path_visit(const char *path, const fs_stat *st, void *arg) {
    fprintf(arg, "%s\n", path);
    return 0;
}

static char *walk_paths(const fs_namespace *ns) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    assert_int_equal(fs_namespace_walk(ns, path_visit, f), 0);
    fclose(f);
    return text;
}

static void test_path_check_good(void **state) {
    (void)state;
    char name[FS_NAME_MAX + 2], path[FS_PATH_MAX + 2];
    const char *good[] = {
        "/",         "/a", "/a/b/c", "/.a", "/..a", "/a.", "/...", "/a b", "/\xc3\xa9t\xc3\xa9",
        "/a-b_c~d@e"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(fs_path_check(good[i], NULL, 0), 0);
    name[0] = '/';
    memset(name + 1, 'n', FS_NAME_MAX);
    name[FS_NAME_MAX + 1] = '\0';
    assert_int_equal(fs_path_check(name, NULL, 0), 0); /* a 255-byte name */
    for (size_t i = 0; i < FS_PATH_MAX; i++)
        path[i] = i % 2 == 0 ? '/' : 'p';
    path[FS_PATH_MAX] = '\0';
    assert_int_equal(fs_path_check(path, NULL, 0), 0); /* exactly 8000 bytes */
}

static void expect_bad(const char *path, const char *reason) {
    char err[256] = "";
    assert_int_equal(fs_path_check(path, err, sizeof(err)), EMBER_EINVAL);
    if (strstr(err, reason) == NULL)
        fail_msg("'%s' for '%s', expected '%s'", err, path ? path : "NULL", reason);
    assert_null(strchr(err, '\n'));
}

static void test_path_check_bad(void **state) {
    (void)state;
    char name[FS_NAME_MAX + 3], path[FS_PATH_MAX + 3];
    expect_bad(NULL, "NULL");
    expect_bad("", "not absolute");
    expect_bad("a/b", "not absolute");
    expect_bad("//", "empty component");
    expect_bad("/a//b", "empty component");
    expect_bad("/a/", "ends with '/'");
    expect_bad("/.", "'.' or '..'");
    expect_bad("/..", "'.' or '..'");
    expect_bad("/a/./b", "'.' or '..'");
    expect_bad("/a/../b", "'.' or '..'");
    expect_bad("/a\nb", "control character at byte 2");
    expect_bad("/a\x1f", "control character");
    expect_bad("/a\x7f", "control character");
    expect_bad("/a:b", "':'");
    expect_bad("/a/b:", "':'");
    name[0] = '/';
    memset(name + 1, 'n', FS_NAME_MAX + 1);
    name[FS_NAME_MAX + 2] = '\0';
    expect_bad(name, "component over 255 bytes at byte 1");
    for (size_t i = 0; i < FS_PATH_MAX + 1; i++)
        path[i] = i % 2 == 0 ? '/' : 'p';
    path[FS_PATH_MAX + 1] = '\0';
    expect_bad(path, "longer than 8000 bytes");

    char err[64];
    assert_int_equal(fs_path_check("a/b", err, sizeof(err)), EMBER_EINVAL);
    assert_string_equal(err, "path 'a/b' is not absolute");
    assert_int_equal(fs_path_check("a/b", NULL, 0), EMBER_EINVAL);
    assert_int_equal(fs_path_check("a/b", err, 4), EMBER_EINVAL); /* truncated */
    assert_string_equal(err, "pat");
}

static void test_create_root(void **state) {
    fs_namespace *ns = *state;
    fs_stat st = stat_ok(ns, "/");
    assert_true(st.is_dir);
    assert_true(st.inode_id == 1);
    assert_string_equal(st.owner, "hdfs");
    assert_string_equal(st.group, "supergroup");
    assert_int_equal(st.mode, 0755);
    assert_true(st.mtime_ms == T0 && st.atime_ms == T0);
    assert_int_equal(st.children, 0);
    assert_true(fs_namespace_inode_count(ns) == 1);

    fs_namespace *other = NULL;
    char owner[FS_OWNER_MAX + 1];
    memset(owner, 'o', FS_OWNER_MAX);
    owner[FS_OWNER_MAX] = '\0';
    assert_int_equal(fs_namespace_create(NULL, "g", T0, &other), EMBER_EINVAL);
    assert_int_equal(fs_namespace_create("o", NULL, T0, &other), EMBER_EINVAL);
    assert_int_equal(fs_namespace_create(owner, "g", T0, &other), EMBER_EINVAL);
    assert_null(other);
    fs_namespace_destroy(NULL);
}

static void test_mkdirs_without_parents(void **state) {
    fs_namespace *ns = *state;
    assert_int_equal(mkdirs(ns, "/a", 0), 0);
    fs_stat st = stat_ok(ns, "/a");
    assert_true(st.is_dir && st.inode_id == 2);
    assert_string_equal(st.owner, "alice");
    assert_string_equal(st.group, "staff");
    assert_int_equal(st.mode, 0750);
    assert_true(st.replication == 0 && st.block_size == 0 && st.length == 0);
    assert_int_equal(stat_ok(ns, "/").children, 1);
    assert_int_equal(mkdirs(ns, "/a", 0), EMBER_EEXIST);
    assert_int_equal(mkdirs(ns, "/", 0), EMBER_EEXIST);
    assert_int_equal(mkdirs(ns, "/x/y", 0), EMBER_ENOENT);
    assert_int_equal(mkdirs(ns, "/a/b", 0), 0);
    assert_int_equal(mkdirs(ns, "a/b", 0), EMBER_EINVAL);
    assert_int_equal(fs_namespace_mkdirs(ns, "/m", "o", "g", 010000, 0, T0), EMBER_EINVAL);
    assert_int_equal(fs_namespace_mkdirs(ns, "/m", NULL, "g", 0755, 0, T0), EMBER_EINVAL);
    assert_int_equal(fs_namespace_stat(ns, "/m", &st), EMBER_ENOENT);
    assert_int_equal(fs_namespace_stat(ns, "/x", &st), EMBER_ENOENT);
    assert_true(fs_namespace_inode_count(ns) == 3);
}

static void test_mkdirs_with_parents(void **state) {
    fs_namespace *ns = *state;
    assert_int_equal(mkdirs(ns, "/a/b/c", 1), 0);
    assert_true(fs_namespace_inode_count(ns) == 4);
    const char *paths[] = {"/a", "/a/b", "/a/b/c"};
    for (int i = 0; i < 3; i++) {
        fs_stat st = stat_ok(ns, paths[i]);
        assert_true(st.is_dir && st.inode_id == (uint64_t)i + 2);
        assert_int_equal(st.mode, 0750);
        assert_string_equal(st.owner, "alice");
        assert_int_equal(st.children, i < 2 ? 1 : 0);
    }
    /* An existing directory is success and changes nothing. */
    char *before = dump(ns);
    assert_int_equal(fs_namespace_mkdirs(ns, "/a/b", "z", "z", 0700, 1, T2), 0);
    assert_int_equal(fs_namespace_mkdirs(ns, "/", "z", "z", 0700, 1, T2), 0);
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(after);
    /* A file in the way: at the path EEXIST, above it ENOTDIR; nothing made. */
    create_ok(ns, "/a/f", 0, T0);
    free(before);
    before = dump(ns);
    assert_int_equal(mkdirs(ns, "/a/f", 1), EMBER_EEXIST);
    assert_int_equal(mkdirs(ns, "/a/f", 0), EMBER_EEXIST);
    assert_int_equal(mkdirs(ns, "/a/f/x/y", 1), EMBER_ENOTDIR);
    assert_int_equal(mkdirs(ns, "/a/f/x", 0), EMBER_ENOTDIR);
    after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(mkdirs(ns, "/a/x/y/z", 1), 0);
    assert_int_equal(stat_ok(ns, "/a").children, 3);
}

static void test_create_file(void **state) {
    fs_namespace *ns = *state;
    uint64_t id = create_ok(ns, "/f", 0, T1);
    fs_stat st = stat_ok(ns, "/f");
    assert_true(!st.is_dir && st.inode_id == id && id == 2);
    assert_string_equal(st.owner, "alice");
    assert_int_equal(st.mode, 0640);
    assert_true(st.replication == 3 && st.block_size == BS && st.length == 0);
    assert_true(st.mtime_ms == T1 && st.atime_ms == T1 && st.children == 0);

    assert_int_equal(create(ns, "/f", 0, 0), EMBER_EEXIST);
    assert_int_equal(create(ns, "/f", 0, 1), EMBER_EEXIST);
    /* Overwrite: a new inode with the new attributes and length 0. */
    assert_int_equal(fs_namespace_set_length(ns, "/f", 100), 0);
    uint64_t id2 = 0;
    assert_int_equal(
        fs_namespace_create_file(ns, "/f", "bob", "users", 0600, 2, 4096, 1, 0, T2, &id2), 0);
    st = stat_ok(ns, "/f");
    assert_true(id2 == 3 && st.inode_id == id2);
    assert_string_equal(st.owner, "bob");
    assert_true(st.replication == 2 && st.block_size == 4096 && st.length == 0);
    assert_true(st.mtime_ms == T2);
    assert_true(fs_namespace_inode_count(ns) == 2);

    assert_int_equal(mkdirs(ns, "/d", 0), 0);
    assert_int_equal(create(ns, "/d", 1, 0), EMBER_EISDIR);
    assert_int_equal(create(ns, "/d", 0, 0), EMBER_EISDIR);
    assert_int_equal(create(ns, "/", 1, 1), EMBER_EINVAL);
    assert_int_equal(fs_namespace_create_file(ns, "/g", "o", "g", 0644, 0, BS, 0, 0, T0, NULL),
                     EMBER_EINVAL);
    assert_int_equal(fs_namespace_create_file(ns, "/g", "o", "g", 0644, 3, 0, 0, 0, T0, NULL),
                     EMBER_EINVAL);
    assert_int_equal(fs_namespace_create_file(ns, "/g", "o", "g", 020000, 3, BS, 0, 0, T0, NULL),
                     EMBER_EINVAL);
    assert_int_equal(create(ns, "g", 0, 0), EMBER_EINVAL);
    assert_int_equal(create(ns, "/x/g", 0, 0), EMBER_ENOENT);
    assert_int_equal(create(ns, "/f/g", 0, 1), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_stat(ns, "/g", &st), EMBER_ENOENT);

    /* create_parents: directories 0755 owned like the file. */
    assert_int_equal(create(ns, "/p/q/r", 0, 1), 0);
    st = stat_ok(ns, "/p/q");
    assert_true(st.is_dir && st.mode == 0755 && st.mtime_ms == T1);
    assert_string_equal(st.owner, "bob");
    assert_string_equal(st.group, "users");
    st = stat_ok(ns, "/p/q/r");
    assert_true(!st.is_dir && st.mode == 0600);
    assert_true(fs_namespace_inode_count(ns) == 6);
}

static void test_stat_errors(void **state) {
    fs_namespace *ns = *state;
    fs_stat st;
    create_ok(ns, "/a/f", 1, T0);
    assert_int_equal(fs_namespace_stat(ns, "/missing", &st), EMBER_ENOENT);
    assert_int_equal(fs_namespace_stat(ns, "/a/missing/x", &st), EMBER_ENOENT);
    assert_int_equal(fs_namespace_stat(ns, "/a/f/x", &st), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_stat(ns, "/a/f/x/y", &st), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_stat(ns, "/a/", &st), EMBER_EINVAL);
    assert_int_equal(fs_namespace_stat(ns, NULL, &st), EMBER_EINVAL);
    assert_int_equal(stat_ok(ns, "/a").children, 1);
}

static void test_list_order(void **state) {
    fs_namespace *ns = *state;
    const char *names[] = {"b", "a", "\xc3\xa9", "B", "a0", "_", "0"};
    const char *sorted[] = {"0", "B", "_", "a", "a0", "b", "\xc3\xa9"};
    const int is_dir[] = {0, 1, 1, 1, 0, 0, 0}; /* odd names[] are directories */
    char path[32];
    assert_int_equal(mkdirs(ns, "/d", 0), 0);
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof(path), "/d/%s", names[i]);
        if (i % 2 == 0)
            create_ok(ns, path, 0, T0);
        else
            assert_int_equal(mkdirs(ns, path, 0), 0);
    }
    fs_entry *e = NULL;
    size_t n = 0;
    int more = 1;
    assert_int_equal(fs_namespace_list(ns, "/d", NULL, 0, &e, &n, &more), 0);
    assert_int_equal(n, 7);
    assert_false(more);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(e[i].name, sorted[i]);
        snprintf(path, sizeof(path), "/d/%s", sorted[i]);
        fs_stat st = stat_ok(ns, path);
        assert_true(st.inode_id == e[i].stat.inode_id && st.is_dir == e[i].stat.is_dir);
        assert_int_equal(e[i].stat.is_dir, is_dir[i]);
    }
    free(e);
    assert_int_equal(mkdirs(ns, "/empty", 0), 0);
    e = (fs_entry *)1;
    assert_int_equal(fs_namespace_list(ns, "/empty", NULL, 0, &e, &n, &more), 0);
    assert_null(e);
    assert_int_equal(n, 0);
    assert_int_equal(fs_namespace_list(ns, "/nope", NULL, 0, &e, &n, &more), EMBER_ENOENT);
    assert_int_equal(fs_namespace_list(ns, "/d/a/x", NULL, 0, &e, &n, &more), EMBER_ENOENT);
    assert_int_equal(fs_namespace_list(ns, "/d/0/x", NULL, 0, &e, &n, &more), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_list(ns, "d", NULL, 0, &e, &n, &more), EMBER_EINVAL);
    assert_null(e);
}

/* Lists /d from start_after with limit; checks the names and has_more. */
static void expect_page(fs_namespace *ns, const char *after, size_t limit, const char *expect,
                        int expect_more) {
    fs_entry *e = NULL;
    size_t n = 99;
    int more = -1;
    char got[128] = "";
    assert_int_equal(fs_namespace_list(ns, "/d", after, limit, &e, &n, &more), 0);
    for (size_t i = 0; i < n; i++) {
        strcat(got, e[i].name);
        strcat(got, " ");
    }
    free(e);
    assert_string_equal(got, expect);
    assert_int_equal(more, expect_more);
    if (n == 0)
        assert_null(e);
}

static void test_list_paging(void **state) {
    fs_namespace *ns = *state;
    const char *names[] = {"e", "g", "a", "i", "c", "b", "h", "d", "f", "j"};
    char path[16];
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof(path), "/d/%s", names[i]);
        create_ok(ns, path, 1, T0);
    }
    expect_page(ns, NULL, 3, "a b c ", 1);
    expect_page(ns, "c", 3, "d e f ", 1);
    expect_page(ns, "f", 3, "g h i ", 1);
    expect_page(ns, "i", 3, "j ", 0);
    expect_page(ns, "j", 3, "", 0);
    expect_page(ns, "", 0, "a b c d e f g h i j ", 0);
    expect_page(ns, "bb", 2, "c d ", 1); /* start_after need not exist */
    expect_page(ns, "0", 10, "a b c d e f g h i j ", 0);
    expect_page(ns, "h", 2, "i j ", 0); /* exactly the rest: no more */
    expect_page(ns, "zz", 0, "", 0);
}

static void test_list_file(void **state) {
    fs_namespace *ns = *state;
    uint64_t id = create_ok(ns, "/d/file.txt", 1, T0);
    fs_entry *e = NULL;
    size_t n = 0;
    int more = 1;
    assert_int_equal(fs_namespace_list(ns, "/d/file.txt", "zzz", 1, &e, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_string_equal(e[0].name, "file.txt");
    assert_true(e[0].stat.inode_id == id && !e[0].stat.is_dir);
    free(e);
}

static void test_rename_file(void **state) {
    fs_namespace *ns = *state;
    char final[FS_PATH_MAX + 1];
    uint64_t id = create_ok(ns, "/a/f", 1, T0);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/a/g", T1, final), 0);
    assert_string_equal(final, "/a/g");
    fs_stat st = stat_ok(ns, "/a/g");
    assert_true(st.inode_id == id && st.mtime_ms == T0);
    assert_int_equal(fs_namespace_stat(ns, "/a/f", &st), EMBER_ENOENT);
    assert_true(stat_ok(ns, "/a").mtime_ms == T1);
    /* To a new name in another directory. */
    assert_int_equal(mkdirs(ns, "/b", 0), 0);
    assert_int_equal(fs_namespace_rename(ns, "/a/g", "/b/h", T2, NULL), 0);
    assert_true(stat_ok(ns, "/b/h").inode_id == id);
    assert_true(stat_ok(ns, "/a").mtime_ms == T2 && stat_ok(ns, "/b").mtime_ms == T2);
    assert_int_equal(stat_ok(ns, "/a").children, 0);
    assert_int_equal(stat_ok(ns, "/b").children, 1);
    assert_true(fs_namespace_inode_count(ns) == 4);
}

static void test_rename_into_dir(void **state) {
    fs_namespace *ns = *state;
    char final[FS_PATH_MAX + 1];
    uint64_t id = create_ok(ns, "/f", 0, T0);
    assert_int_equal(mkdirs(ns, "/d", 0), 0);
    assert_int_equal(fs_namespace_rename(ns, "/f", "/d", T1, final), 0);
    assert_string_equal(final, "/d/f");
    assert_true(stat_ok(ns, "/d/f").inode_id == id);
    /* dst "/" moves to the top; a directory moves with its subtree. */
    assert_int_equal(fs_namespace_rename(ns, "/d/f", "/", T1, final), 0);
    assert_string_equal(final, "/f");
    assert_int_equal(mkdirs(ns, "/x/y/z", 1), 0);
    uint64_t z = stat_ok(ns, "/x/y/z").inode_id;
    assert_int_equal(fs_namespace_rename(ns, "/x", "/d", T2, final), 0);
    assert_string_equal(final, "/d/x");
    assert_true(stat_ok(ns, "/d/x/y/z").inode_id == z);
    char *paths = walk_paths(ns);
    assert_string_equal(paths, "/\n/d\n/d/x\n/d/x/y\n/d/x/y/z\n/f\n");
    free(paths);
    /* Into a directory already holding that name: EEXIST. */
    assert_int_equal(mkdirs(ns, "/x", 0), 0);
    assert_int_equal(fs_namespace_rename(ns, "/x", "/d", T2, final), EMBER_EEXIST);
}

static void test_rename_into_own_subtree(void **state) {
    fs_namespace *ns = *state;
    assert_int_equal(mkdirs(ns, "/a/x", 1), 0);
    assert_int_equal(mkdirs(ns, "/ab", 1), 0);
    char *before = dump(ns);
    assert_int_equal(fs_namespace_rename(ns, "/a", "/a/b", T1, NULL), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/a", "/a/b/c/d", T1, NULL), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/a", "/a/x", T1, NULL), EMBER_EINVAL);
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* "/ab" is not below "/a". */
    assert_int_equal(fs_namespace_rename(ns, "/a", "/ab", T1, NULL), 0);
    assert_int_equal(stat_ok(ns, "/ab/a").children, 1);
}

static void test_rename_errors(void **state) {
    fs_namespace *ns = *state;
    create_ok(ns, "/a/f", 1, T0);
    create_ok(ns, "/a/g", 1, T0);
    assert_int_equal(mkdirs(ns, "/d", 0), 0);
    char *before = dump(ns);
    char final[FS_PATH_MAX + 1] = "untouched";
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/a/g", T1, final), EMBER_EEXIST);
    assert_int_equal(fs_namespace_rename(ns, "/d", "/a/g", T1, final), EMBER_EEXIST);
    assert_int_equal(fs_namespace_rename(ns, "/a/nope", "/b", T1, final), EMBER_ENOENT);
    assert_int_equal(fs_namespace_rename(ns, "/a/f/x", "/b", T1, final), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/x/y", T1, final), EMBER_ENOENT);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/x/y/z", T1, final), EMBER_ENOENT);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/a/g/h", T1, final), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/a/g/h/i", T1, final), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "a/g", T1, final), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/a//f", "/a/h", T1, final), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/", "/x", T1, final), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/", "/d", T1, final), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/", "/", T1, final), EMBER_EINVAL);
    assert_string_equal(final, "untouched");
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_rename_same_path(void **state) {
    fs_namespace *ns = *state;
    char final[FS_PATH_MAX + 1];
    create_ok(ns, "/a/f", 1, T0);
    char *before = dump(ns);
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/a/f", T1, final), 0);
    assert_string_equal(final, "/a/f");
    assert_int_equal(fs_namespace_rename(ns, "/a", "/a", T1, final), 0);
    assert_string_equal(final, "/a");
    /* Into the directory that already holds it: the final path is src. */
    assert_int_equal(fs_namespace_rename(ns, "/a/f", "/a", T1, final), 0);
    assert_string_equal(final, "/a/f");
    assert_int_equal(fs_namespace_rename(ns, "/a", "/", T1, final), 0);
    assert_string_equal(final, "/a");
    char *after = dump(ns);
    assert_string_equal(before, after); /* no mtime changed either */
    free(before);
    free(after);
    assert_int_equal(fs_namespace_rename(ns, "/nope", "/nope", T1, final), EMBER_ENOENT);
}

/* Makes path exactly len bytes: "/x" then components of 199 bytes. */
static void long_path(char *path, size_t len) {
    strcpy(path, "/x");
    size_t at = 2;
    while (at < len) {
        path[at++] = '/';
        for (size_t i = 0; i < 199 && at < len; i++)
            path[at++] = 'a' + (char)(i % 26);
    }
    path[at] = '\0';
}

static void test_rename_keeps_paths_short(void **state) {
    fs_namespace *ns = *state;
    char path[FS_PATH_MAX + 1], final[FS_PATH_MAX + 1];
    long_path(path, FS_PATH_MAX);
    assert_int_equal(strlen(path), FS_PATH_MAX);
    create_ok(ns, path, 1, T0);
    assert_int_equal(mkdirs(ns, "/d", 0), 0);
    char *before = dump(ns);
    /* A longer name for /x, or /d/x, would put the file over FS_PATH_MAX. */
    assert_int_equal(fs_namespace_rename(ns, "/x", "/xy", T1, final), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/x", "/d", T1, final), EMBER_EINVAL);
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(fs_namespace_rename(ns, "/x", "/z", T1, final), 0);
    path[1] = 'z';
    assert_false(stat_ok(ns, path).is_dir);
}

static void test_rename_root(void **state) {
    fs_namespace *ns = *state;
    char final[FS_PATH_MAX + 1];
    assert_int_equal(mkdirs(ns, "/a/b", 1), 0);
    assert_int_equal(fs_namespace_rename(ns, "/", "/a/b/c", T1, final), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/a/b", "/", T1, final), 0);
    assert_string_equal(final, "/b");
    assert_true(stat_ok(ns, "/").mtime_ms == T1 && stat_ok(ns, "/a").mtime_ms == T1);
    assert_int_equal(stat_ok(ns, "/").children, 2);
}

struct removed_ids {
    uint64_t ids[64];
    size_t count;
};

static void on_removed(uint64_t inode_id, const uint64_t *blocks, size_t nblocks, void *arg) {
    struct removed_ids *r = arg;
    assert_true(r->count < 64);
    r->ids[r->count++] = inode_id;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_delete(void **state) {
    fs_namespace *ns = *state;
    struct removed_ids r = {.count = 0};
    uint64_t expect[4];
    expect[0] = create_ok(ns, "/a/f1", 1, T0);
    expect[1] = create_ok(ns, "/a/b/f2", 1, T0);
    expect[2] = create_ok(ns, "/a/b/c/f3", 1, T0);
    assert_int_equal(mkdirs(ns, "/a/b/e", 1), 0);
    expect[3] = create_ok(ns, "/keep", 0, T0);
    assert_true(fs_namespace_inode_count(ns) == 9);

    char *before = dump(ns);
    assert_int_equal(fs_namespace_delete(ns, "/a", 0, T1, on_removed, &r), EMBER_ENOTEMPTY);
    assert_int_equal(fs_namespace_delete(ns, "/", 1, T1, on_removed, &r), EMBER_EINVAL);
    assert_int_equal(fs_namespace_delete(ns, "/nope", 1, T1, on_removed, &r), EMBER_ENOENT);
    assert_int_equal(fs_namespace_delete(ns, "/keep/x", 1, T1, on_removed, &r), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_delete(ns, "/a/", 1, T1, on_removed, &r), EMBER_EINVAL);
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(r.count, 0);

    /* An empty directory and a single file need no recursive. */
    assert_int_equal(fs_namespace_delete(ns, "/a/b/e", 0, T1, on_removed, &r), 0);
    assert_int_equal(r.count, 0);
    assert_true(stat_ok(ns, "/a/b").mtime_ms == T1);
    assert_int_equal(fs_namespace_delete(ns, "/keep", 0, T1, NULL, NULL), 0);
    assert_true(fs_namespace_inode_count(ns) == 7);

    assert_int_equal(fs_namespace_delete(ns, "/a", 1, T2, on_removed, &r), 0);
    assert_int_equal(r.count, 3);
    qsort(r.ids, r.count, sizeof(r.ids[0]), cmp_u64);
    assert_memory_equal(r.ids, expect, 3 * sizeof(uint64_t));
    assert_true(fs_namespace_inode_count(ns) == 1);
    fs_stat st = stat_ok(ns, "/");
    assert_true(st.children == 0 && st.mtime_ms == T2);
    assert_int_equal(fs_namespace_stat(ns, "/a/b/c/f3", &st), EMBER_ENOENT);
    /* Ids are never reused. */
    assert_true(create_ok(ns, "/a", 0, T2) == 10);
}

static void test_setters(void **state) {
    fs_namespace *ns = *state;
    create_ok(ns, "/d/f", 1, T0);
    char *before = dump(ns);
    assert_int_equal(fs_namespace_set_replication(ns, "/d", 2), EMBER_EISDIR);
    assert_int_equal(fs_namespace_set_replication(ns, "/d/f", 0), EMBER_EINVAL);
    assert_int_equal(fs_namespace_set_replication(ns, "/nope", 2), EMBER_ENOENT);
    assert_int_equal(fs_namespace_set_permission(ns, "/d/f", 010000), EMBER_EINVAL);
    assert_int_equal(fs_namespace_set_permission(ns, "/d/f/x", 0644), EMBER_ENOTDIR);
    char long_name[FS_OWNER_MAX + 1];
    memset(long_name, 'n', FS_OWNER_MAX);
    long_name[FS_OWNER_MAX] = '\0';
    assert_int_equal(fs_namespace_set_owner(ns, "/d/f", "carol", long_name), EMBER_EINVAL);
    assert_int_equal(fs_namespace_set_owner(ns, "/d/f", long_name, "g"), EMBER_EINVAL);
    assert_int_equal(fs_namespace_set_length(ns, "/d", 5), EMBER_EISDIR);
    assert_int_equal(fs_namespace_set_length(ns, "d/f", 5), EMBER_EINVAL);
    assert_int_equal(fs_namespace_set_times(ns, "/nope", 5, 5), EMBER_ENOENT);
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);

    assert_int_equal(fs_namespace_set_replication(ns, "/d/f", 5), 0);
    assert_int_equal(fs_namespace_set_permission(ns, "/d/f", 01777), 0);
    assert_int_equal(fs_namespace_set_permission(ns, "/d", 0700), 0);
    assert_int_equal(fs_namespace_set_owner(ns, "/d/f", "carol", NULL), 0);
    assert_int_equal(fs_namespace_set_owner(ns, "/d/f", "", "wheel"), 0);
    long_name[FS_OWNER_MAX - 1] = '\0'; /* 63 bytes: the longest allowed */
    assert_int_equal(fs_namespace_set_owner(ns, "/d", long_name, long_name), 0);
    assert_int_equal(fs_namespace_set_length(ns, "/d/f", 12345), 0);
    assert_int_equal(fs_namespace_set_times(ns, "/d/f", T2, -1), 0);
    fs_stat st = stat_ok(ns, "/d/f");
    assert_true(st.replication == 5 && st.mode == 01777 && st.length == 12345);
    assert_string_equal(st.owner, "carol");
    assert_string_equal(st.group, "wheel");
    assert_true(st.mtime_ms == T2 && st.atime_ms == T0);
    assert_int_equal(fs_namespace_set_times(ns, "/d/f", -1, T1), 0);
    st = stat_ok(ns, "/d/f");
    assert_true(st.mtime_ms == T2 && st.atime_ms == T1);
    st = stat_ok(ns, "/d");
    assert_int_equal(st.mode, 0700);
    assert_string_equal(st.owner, long_name);
    assert_true(st.mtime_ms == T0); /* setting a child's attributes is not a change to d */
}

static int stop_at_third(const char *path, const fs_stat *st, void *arg) {
    int *visited = arg;
    return ++*visited == 3 ? 42 : 0;
}

static void test_walk_order(void **state) {
    fs_namespace *ns = *state;
    create_ok(ns, "/b/z", 1, T0);
    create_ok(ns, "/b/a", 1, T0);
    assert_int_equal(mkdirs(ns, "/a/c/d", 1), 0);
    create_ok(ns, "/a/b", 1, T0);
    create_ok(ns, "/a/c/a", 1, T0);
    create_ok(ns, "/A", 1, T0);
    char *paths = walk_paths(ns);
    assert_string_equal(paths, "/\n/A\n/a\n/a/b\n/a/c\n/a/c/a\n/a/c/d\n/b\n/b/a\n/b/z\n");
    free(paths);
    int visited = 0;
    assert_int_equal(fs_namespace_walk(ns, stop_at_third, &visited), 42);
    assert_int_equal(visited, 3);
}

static void test_summary(void **state) {
    fs_namespace *ns = *state;
    uint64_t files = 9, dirs = 9, bytes = 9;
    assert_int_equal(fs_namespace_summary(ns, "/", &files, &dirs, &bytes, NULL), 0);
    assert_true(files == 0 && dirs == 1 && bytes == 0);
    create_ok(ns, "/a/f", 1, T0);
    create_ok(ns, "/a/b/g", 1, T0);
    create_ok(ns, "/a/b/h", 1, T0);
    create_ok(ns, "/top", 1, T0);
    assert_int_equal(mkdirs(ns, "/a/e", 0), 0);
    assert_int_equal(fs_namespace_set_length(ns, "/a/f", 100), 0);
    assert_int_equal(fs_namespace_set_length(ns, "/a/b/g", 20), 0);
    assert_int_equal(fs_namespace_set_length(ns, "/top", 3), 0);
    assert_int_equal(fs_namespace_summary(ns, "/", &files, &dirs, &bytes, NULL), 0);
    assert_true(files == 4 && dirs == 4 && bytes == 123);
    assert_int_equal(fs_namespace_summary(ns, "/a", &files, &dirs, &bytes, NULL), 0);
    assert_true(files == 3 && dirs == 3 && bytes == 120);
    assert_int_equal(fs_namespace_summary(ns, "/a/b", &files, &dirs, &bytes, NULL), 0);
    assert_true(files == 2 && dirs == 1 && bytes == 20);
    assert_int_equal(fs_namespace_summary(ns, "/a/f", &files, &dirs, &bytes, NULL), 0);
    assert_true(files == 1 && dirs == 0 && bytes == 100);
    assert_int_equal(fs_namespace_summary(ns, "/a/x", &files, &dirs, &bytes, NULL), EMBER_ENOENT);
    assert_true(fs_namespace_inode_count(ns) == 8);
    /* Space consumed: each file's bytes times its own replication. */
    uint64_t space = 9;
    assert_int_equal(fs_namespace_set_replication(ns, "/a/f", 3), 0);
    assert_int_equal(fs_namespace_set_replication(ns, "/a/b/g", 2), 0);
    assert_int_equal(fs_namespace_set_replication(ns, "/top", 1), 0);
    assert_int_equal(fs_namespace_summary(ns, "/a", &files, &dirs, &bytes, &space), 0);
    assert_true(bytes == 120 && space == 100 * 3 + 20 * 2);
    assert_int_equal(fs_namespace_summary(ns, "/", &files, &dirs, &bytes, &space), 0);
    assert_true(bytes == 123 && space == 300 + 40 + 3);
}

static void test_parent_mtimes(void **state) {
    fs_namespace *ns = *state;
    assert_int_equal(mkdirs(ns, "/a/b", 1), 0);
    assert_true(stat_ok(ns, "/").mtime_ms == T0);
    create_ok(ns, "/a/b/f", 0, T1);
    assert_true(stat_ok(ns, "/a/b").mtime_ms == T1);
    assert_true(stat_ok(ns, "/a").mtime_ms == T0); /* only the parent */
    assert_true(stat_ok(ns, "/a/b/f").atime_ms == T1);
    create_ok(ns, "/a/c/g", 1, T2); /* new parents: /a changes, / does not */
    assert_true(stat_ok(ns, "/a").mtime_ms == T2 && stat_ok(ns, "/a/c").mtime_ms == T2);
    assert_true(stat_ok(ns, "/").mtime_ms == T0);
    assert_int_equal(fs_namespace_mkdirs(ns, "/a/b/d", "o", "g", 0755, 0, T2 + 1), 0);
    assert_true(stat_ok(ns, "/a/b").mtime_ms == T2 + 1);
    assert_int_equal(fs_namespace_delete(ns, "/a/b/d", 0, T2 + 2, NULL, NULL), 0);
    assert_true(stat_ok(ns, "/a/b").mtime_ms == T2 + 2);
    assert_int_equal(fs_namespace_rename(ns, "/a/b/f", "/a/c", T2 + 3, NULL), 0);
    assert_true(stat_ok(ns, "/a/b").mtime_ms == T2 + 3 && stat_ok(ns, "/a/c").mtime_ms == T2 + 3);
    assert_true(stat_ok(ns, "/a").mtime_ms == T2);
    assert_true(stat_ok(ns, "/a/c/f").mtime_ms == T1); /* the moved file keeps its own */
    assert_int_equal(fs_namespace_set_length(ns, "/a/c/f", 9), 0);
    assert_true(stat_ok(ns, "/a/c").mtime_ms == T2 + 3);
}

/* A populated tree refuses a batch of operations; after each, the walk
 * dump is the same and the next new inode gets the next id. */
static void test_failed_ops_change_nothing(void **state) {
    fs_namespace *ns = *state;
    create_ok(ns, "/a/b/f", 1, T0);
    create_ok(ns, "/a/g", 1, T0);
    assert_int_equal(mkdirs(ns, "/c/d", 1), 0);
    uint64_t count = fs_namespace_inode_count(ns);
    char *before = dump(ns);
    assert_int_equal(mkdirs(ns, "/a/g/x/y", 1), EMBER_ENOTDIR);
    assert_int_equal(mkdirs(ns, "/a/b/f", 1), EMBER_EEXIST);
    assert_int_equal(mkdirs(ns, "/n/m", 0), EMBER_ENOENT);
    assert_int_equal(create(ns, "/a/g/x/y", 1, 1), EMBER_ENOTDIR);
    assert_int_equal(create(ns, "/a/b", 1, 1), EMBER_EISDIR);
    assert_int_equal(create(ns, "/a/g", 0, 1), EMBER_EEXIST);
    assert_int_equal(create(ns, "/n/m/f", 0, 0), EMBER_ENOENT);
    assert_int_equal(fs_namespace_rename(ns, "/a", "/a/b/z", T2, NULL), EMBER_EINVAL);
    assert_int_equal(fs_namespace_rename(ns, "/a/g", "/a/b/f", T2, NULL), EMBER_EEXIST);
    assert_int_equal(fs_namespace_rename(ns, "/c", "/a/g/z", T2, NULL), EMBER_ENOTDIR);
    assert_int_equal(fs_namespace_rename(ns, "/c", "/n/z", T2, NULL), EMBER_ENOENT);
    assert_int_equal(fs_namespace_delete(ns, "/c", 0, T2, NULL, NULL), EMBER_ENOTEMPTY);
    assert_int_equal(fs_namespace_set_owner(ns, "/a", "x",
                                            "this-group-name-is-far-too-long-"
                                            "to-fit-in-sixty-four-bytes-of-room"),
                     EMBER_EINVAL);
    char *after = dump(ns);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_true(fs_namespace_inode_count(ns) == count);
    assert_true(create_ok(ns, "/new", 0, T2) == count + 1);
}

static void test_deep_tree(void **state) {
    fs_namespace *ns = *state;
    enum { DEPTH = 3000 };
    char *path = malloc(2 * DEPTH + 1);
    assert_non_null(path);
    for (int i = 0; i < DEPTH; i++)
        memcpy(path + 2 * i, "/d", 2);
    path[2 * DEPTH] = '\0';
    assert_int_equal(mkdirs(ns, path, 1), 0);
    assert_true(fs_namespace_inode_count(ns) == DEPTH + 1);
    assert_true(stat_ok(ns, path).inode_id == DEPTH + 1);
    uint64_t files, dirs, bytes;
    assert_int_equal(fs_namespace_summary(ns, "/d", &files, &dirs, &bytes, NULL), 0);
    assert_true(files == 0 && dirs == DEPTH);
    char *paths = walk_paths(ns);
    assert_int_equal(strlen(paths), 2 + (size_t)DEPTH * (DEPTH + 1) + DEPTH);
    free(paths);
    assert_int_equal(fs_namespace_delete(ns, "/d", 1, T1, NULL, NULL), 0);
    assert_true(fs_namespace_inode_count(ns) == 1);
    free(path);
}

static void count_removed(uint64_t inode_id, const uint64_t *blocks, size_t nblocks, void *arg) {
    ++*(size_t *)arg;
}

static void test_many_files(void **state) {
    fs_namespace *ns = *state;
    enum { FILES = 20000, PAGE = 1000 };
    uint64_t *ids = calloc(FILES, sizeof(*ids));
    char path[32];
    assert_non_null(ids);
    assert_int_equal(mkdirs(ns, "/big", 0), 0);
    for (size_t i = 0; i < FILES; i++) {
        size_t k = i * 7919 % FILES; /* every number once, out of order */
        snprintf(path, sizeof(path), "/big/f%05zu", k);
        ids[k] = create_ok(ns, path, 0, T0);
    }
    assert_int_equal(stat_ok(ns, "/big").children, FILES);
    char after[FS_NAME_MAX + 1] = "";
    size_t seen = 0;
    int more = 1;
    while (more) {
        fs_entry *e = NULL;
        size_t n = 0;
        assert_int_equal(fs_namespace_list(ns, "/big", after, PAGE, &e, &n, &more), 0);
        assert_int_equal(n, PAGE);
        for (size_t i = 0; i < n; i++, seen++) {
            char name[16];
            snprintf(name, sizeof(name), "f%05zu", seen);
            assert_string_equal(e[i].name, name);
            assert_true(e[i].stat.inode_id == ids[seen]);
        }
        strcpy(after, e[n - 1].name);
        free(e);
    }
    assert_int_equal(seen, FILES);
    for (size_t k = 0; k < FILES; k++) {
        snprintf(path, sizeof(path), "/big/f%05zu", k);
        assert_true(stat_ok(ns, path).inode_id == ids[k]);
    }
    size_t removed = 0;
    assert_int_equal(fs_namespace_delete(ns, "/big", 1, T1, count_removed, &removed), 0);
    assert_int_equal(removed, FILES);
    assert_true(fs_namespace_inode_count(ns) == 1);
    free(ids);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* Block lists: appended in order, reported by stat, handed to the removed
 * hook on delete and on an overwriting create; under construction flag. */
static size_t hook_blocks_seen;
static void hook_removed(uint64_t inode_id, const uint64_t *blocks, size_t nblocks, void *arg) {
    for (size_t i = 0; i < nblocks; i++)
        hook_blocks_seen += (size_t)blocks[i];
}

static void test_blocks(void **state) {
    fs_namespace *ns;
    assert_int_equal(fs_namespace_create("root", "supergroup", 1, &ns), 0);
    fs_namespace_set_removed_hook(ns, hook_removed, NULL);
    assert_int_equal(fs_namespace_create_file(ns, "/f", "u", "g", 0644, 3, 1024, 0, 0, 2, NULL), 0);
    assert_int_equal(fs_namespace_set_under_construction(ns, "/f", "client-1"), 0);
    assert_int_equal(fs_namespace_add_block(ns, "/f", 10), 0);
    assert_int_equal(fs_namespace_add_block(ns, "/f", 20), 0);
    const uint64_t *b;
    size_t n;
    assert_int_equal(fs_namespace_blocks(ns, "/f", &b, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(b[0], 10);
    assert_int_equal(b[1], 20);
    fs_stat st;
    assert_int_equal(fs_namespace_stat(ns, "/f", &st), 0);
    assert_int_equal(st.nblocks, 2);
    assert_int_equal(st.under_construction, 1);
    assert_int_equal(fs_namespace_set_under_construction(ns, "/f", NULL), 0);
    assert_int_equal(fs_namespace_stat(ns, "/f", &st), 0);
    assert_int_equal(st.under_construction, 0);
    assert_int_equal(fs_namespace_add_block(ns, "/", 1), EMBER_EISDIR);
    assert_int_equal(fs_namespace_blocks(ns, "/", &b, &n), EMBER_EISDIR);
    hook_blocks_seen = 0;
    assert_int_equal(fs_namespace_create_file(ns, "/f", "u", "g", 0644, 3, 1024, 1, 0, 3, NULL), 0);
    assert_int_equal(hook_blocks_seen, 30); /* the overwritten file's blocks */
    assert_int_equal(fs_namespace_add_block(ns, "/f", 5), 0);
    hook_blocks_seen = 0;
    assert_int_equal(fs_namespace_delete(ns, "/f", 0, 4, NULL, NULL), 0);
    assert_int_equal(hook_blocks_seen, 5);
    fs_namespace_destroy(ns);
}

/* Open files: holders kept per file, listed with their paths (after a
 * rename too), dropped when closed, deleted or overwritten; the last block
 * can be taken off. */
typedef struct {
    char seen[8][64];
    int n;
} open_seen;

static int visit_open(const char *path, const char *holder, const uint64_t *blocks, size_t nblocks,
                      void *arg) {
    open_seen *s = arg;
    snprintf(s->seen[s->n++], sizeof(s->seen[0]), "%s=%s/%zu", path, holder, nblocks);
    (void)blocks;
    return 0;
}

static int seen_has(const open_seen *s, const char *what) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->seen[i], what) == 0)
            return 1;
    return 0;
}

static void test_leases(void **state) {
    fs_namespace *ns;
    open_seen s;
    const char *holder;
    assert_int_equal(fs_namespace_create("root", "supergroup", 1, &ns), 0);
    assert_int_equal(fs_namespace_mkdirs(ns, "/d/e", "u", "g", 0755, 1, 1), 0);
    assert_int_equal(fs_namespace_create_file(ns, "/d/e/a", "u", "g", 0644, 1, 1024, 0, 0, 2, NULL), 0);
    assert_int_equal(fs_namespace_create_file(ns, "/b", "u", "g", 0644, 1, 1024, 0, 0, 2, NULL), 0);
    assert_int_equal(fs_namespace_create_file(ns, "/c", "u", "g", 0644, 1, 1024, 0, 0, 2, NULL), 0);
    assert_int_equal(fs_namespace_set_under_construction(ns, "/d/e/a", "w1"), 0);
    assert_int_equal(fs_namespace_set_under_construction(ns, "/b", "w2"), 0);
    assert_int_equal(fs_namespace_set_under_construction(ns, "/c", "w2"), 0);
    assert_int_equal(fs_namespace_set_under_construction(ns, "/d", "w2"), EMBER_EISDIR);
    assert_int_equal(fs_namespace_add_block(ns, "/b", 7), 0);
    assert_int_equal(fs_namespace_holder(ns, "/b", &holder), 0);
    assert_string_equal(holder, "w2");
    memset(&s, 0, sizeof(s));
    assert_int_equal(fs_namespace_open_files(ns, visit_open, &s), 0);
    assert_int_equal(s.n, 3);
    assert_true(seen_has(&s, "/d/e/a=w1/0") && seen_has(&s, "/b=w2/1") && seen_has(&s, "/c=w2/0"));
    /* Closed, renamed, deleted, overwritten. */
    assert_int_equal(fs_namespace_set_under_construction(ns, "/c", NULL), 0);
    assert_int_equal(fs_namespace_holder(ns, "/c", &holder), 0);
    assert_null(holder);
    assert_int_equal(fs_namespace_rename(ns, "/d", "/x", 3, NULL), 0);
    memset(&s, 0, sizeof(s));
    fs_namespace_open_files(ns, visit_open, &s);
    assert_int_equal(s.n, 2);
    assert_true(seen_has(&s, "/x/e/a=w1/0") && seen_has(&s, "/b=w2/1"));
    assert_int_equal(fs_namespace_delete(ns, "/x", 1, 4, NULL, NULL), 0);
    assert_int_equal(fs_namespace_create_file(ns, "/b", "u", "g", 0644, 1, 1024, 1, 0, 5, NULL), 0);
    memset(&s, 0, sizeof(s));
    fs_namespace_open_files(ns, visit_open, &s);
    assert_int_equal(s.n, 0);
    /* Last block off. */
    uint64_t id = 0;
    assert_int_equal(fs_namespace_remove_last_block(ns, "/b", &id), EMBER_ENOENT);
    assert_int_equal(fs_namespace_add_block(ns, "/b", 8), 0);
    assert_int_equal(fs_namespace_add_block(ns, "/b", 9), 0);
    assert_int_equal(fs_namespace_remove_last_block(ns, "/b", &id), 0);
    assert_int_equal(id, 9);
    fs_stat st;
    assert_int_equal(fs_namespace_stat(ns, "/b", &st), 0);
    assert_int_equal(st.nblocks, 1);
    /* A holder too long is refused, changing nothing. */
    char longname[FS_HOLDER_MAX + 1];
    memset(longname, 'x', FS_HOLDER_MAX);
    longname[FS_HOLDER_MAX] = '\0';
    assert_int_equal(fs_namespace_set_under_construction(ns, "/b", longname), EMBER_EINVAL);
    assert_int_equal(fs_namespace_stat(ns, "/b", &st), 0);
    assert_int_equal(st.under_construction, 0);
    /* Destroy with open files frees their holders (ASan checks). */
    assert_int_equal(fs_namespace_set_under_construction(ns, "/b", "w3"), 0);
    fs_namespace_destroy(ns);
    (void)state;
}

/* The chain of existing inodes along a path, and walks under a path (the
 * namenode's permission checks use both). */
static int visit_under(const char *rel, const fs_stat *st, void *arg) {
    char *seen = arg;
    size_t len = strlen(seen);
    snprintf(seen + len, 256 - len, "[%s%s]", rel, st->is_dir ? "/" : "");
    return strcmp(rel, "/y/z") == 0 ? 7 : 0;
}

static void test_chain_and_walk_under(void **state) {
    fs_namespace *ns;
    fs_stat chain[8];
    size_t n;
    int complete;
    assert_int_equal(fs_namespace_create("root", "supergroup", 1, &ns), 0);
    assert_int_equal(fs_namespace_mkdirs(ns, "/a/b", "u", "g", 0750, 1, 1), 0);
    assert_int_equal(fs_namespace_create_file(ns, "/a/b/f", "v", "h", 0600, 1, 1024, 0, 0, 2, NULL), 0);
    assert_int_equal(fs_namespace_chain(ns, "/a/b/f", chain, 8, &n, &complete), 0);
    assert_int_equal(n, 4);
    assert_true(complete);
    assert_string_equal(chain[0].owner, "root");
    assert_int_equal(chain[2].mode, 0750);
    assert_string_equal(chain[3].owner, "v");
    assert_int_equal(fs_namespace_chain(ns, "/a/x/y", chain, 8, &n, &complete), 0);
    assert_int_equal(n, 2);
    assert_false(complete);
    assert_int_equal(fs_namespace_chain(ns, "/a/b/f/g", chain, 8, &n, &complete), 0);
    assert_int_equal(n, 4); /* stops at the file */
    assert_false(complete);
    assert_int_equal(fs_namespace_chain(ns, "/", chain, 8, &n, &complete), 0);
    assert_int_equal(n, 1);
    assert_true(complete);
    assert_int_equal(fs_namespace_chain(ns, "/a/b/f", chain, 2, &n, &complete), EMBER_ETOOBIG);
    assert_int_equal(fs_namespace_chain(ns, "a//b", chain, 8, &n, &complete), EMBER_EINVAL);

    char seen[256] = "";
    assert_int_equal(fs_namespace_walk_under(ns, "/a", visit_under, seen), 0);
    assert_string_equal(seen, "[/][/b/][/b/f]");
    assert_int_equal(fs_namespace_mkdirs(ns, "/x/y/z", "u", "g", 0755, 1, 1), 0);
    seen[0] = '\0';
    assert_int_equal(fs_namespace_walk_under(ns, "/x", visit_under, seen), 7); /* stopped */
    assert_string_equal(seen, "[/][/y/][/y/z/]");
    assert_int_equal(fs_namespace_walk_under(ns, "/nope", visit_under, seen), EMBER_ENOENT);
    fs_namespace_destroy(ns);
    (void)state;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_chain_and_walk_under),
        cmocka_unit_test(test_leases),
        cmocka_unit_test(test_path_check_good),
        cmocka_unit_test(test_path_check_bad),
        TEST(test_create_root),
        TEST(test_mkdirs_without_parents),
        TEST(test_mkdirs_with_parents),
        TEST(test_create_file),
        TEST(test_stat_errors),
        TEST(test_list_order),
        TEST(test_list_paging),
        TEST(test_list_file),
        TEST(test_rename_file),
        TEST(test_rename_into_dir),
        TEST(test_rename_into_own_subtree),
        TEST(test_rename_errors),
        TEST(test_rename_same_path),
        TEST(test_rename_keeps_paths_short),
        TEST(test_rename_root),
        TEST(test_delete),
        TEST(test_setters),
        TEST(test_walk_order),
        TEST(test_summary),
        TEST(test_parent_mtimes),
        TEST(test_failed_ops_change_nothing),
        TEST(test_deep_tree),
        TEST(test_many_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
