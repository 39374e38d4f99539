/* test_dfs_glob.c -- Hadoop's globs (client/dfs_glob.c) over a fake tree:
 * the matcher, brace expansion, syntax errors in Hadoop's words, the walk
 * through middle components, literal components checked to exist,
 * sorting, duplicates, and a directory of thousands of entries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/dfs_glob.h"
#include "common/error.h"

/* The fake tree: every path, directories ending in '/'. */
static const char *tree[] = {
    "/logs/", "/logs/2024/", "/logs/2024/part-0", "/logs/2024/part-1", "/logs/2025/",
    "/logs/2025/part-0", "/logs/2025/_SUCCESS", "/logs/old.txt", "/data/", "/data/a",
    "/data/b", "/data/c", "/data/.hidden", "/data/x{y}", "/data/star*", "/file",
    NULL,
};

static size_t big_entries; /* > 0: /big holds this many files f00000.. */
static int lists, stats;

static int is_dir_path(const char *path, int *is_dir) {
    size_t len = strlen(path);
    if (strcmp(path, "/") == 0) {
        *is_dir = 1;
        return 0;
    }
    if (big_entries > 0 && strcmp(path, "/big") == 0) {
        *is_dir = 1;
        return 0;
    }
    for (int i = 0; tree[i] != NULL; i++) {
        size_t tl = strlen(tree[i]);
        int dir = tree[i][tl - 1] == '/';
        if (tl - (size_t)dir == len && strncmp(tree[i], path, len) == 0) {
            *is_dir = dir;
            return 0;
        }
    }
    return EMBER_ENOENT;
}

static int fake_stat(void *arg, const char *path, int *is_dir) {
    (void)arg;
    stats++;
    return is_dir_path(path, is_dir);
}

static int fake_list(void *arg, const char *dir, dfs_glob_entry **entries, size_t *n) {
    (void)arg;
    lists++;
    size_t cap = 64 + big_entries, k = 0;
    dfs_glob_entry *e = calloc(cap, sizeof(*e));
    assert_non_null(e);
    if (big_entries > 0 && strcmp(dir, "/big") == 0) {
        for (size_t i = 0; i < big_entries; i++) {
            char name[16];
            snprintf(name, sizeof(name), "f%05zu", i);
            e[k++] = (dfs_glob_entry){strdup(name), 0};
        }
    }
    size_t dl = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
    for (int i = 0; tree[i] != NULL; i++) {
        const char *t = tree[i];
        if (strncmp(t, dir, dl) != 0 || t[dl] != '/')
            continue;
        const char *rest = t + dl + 1;
        const char *slash = strchr(rest, '/');
        if (*rest == '\0' || (slash != NULL && slash[1] != '\0'))
            continue; /* not a direct child */
        size_t nl = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
        e[k++] = (dfs_glob_entry){strndup(rest, nl), slash != NULL};
    }
    if (big_entries > 0 && strcmp(dir, "/") == 0)
        e[k++] = (dfs_glob_entry){strdup("big"), 1};
    *entries = e;
    *n = k;
    return 0;
}

/* Globs pattern; expect is the matches joined by spaces ("" for none). */
static void expect_glob(const char *pattern, const char *expect) {
    char **paths;
    size_t n;
    char err[256] = "";
    int rc = dfs_glob_walk(pattern, fake_list, fake_stat, NULL, &paths, &n, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %s", pattern, err);
    char got[4096] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(got, i ? " " : "");
        strcat(got, paths[i]);
    }
    dfs_glob_free(paths, n);
    if (strcmp(got, expect) != 0)
        fail_msg("%s: got '%s', expected '%s'", pattern, got, expect);
}

static void expect_bad(const char *pattern, const char *message) {
    char **paths = NULL;
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(dfs_glob_walk(pattern, fake_list, fake_stat, NULL, &paths, &n, err,
                                   sizeof(err)),
                     EMBER_EINVAL);
    assert_null(paths);
    if (strstr(err, message) == NULL)
        fail_msg("%s: error '%s' lacks '%s'", pattern, err, message);
}

static void test_match(void **state) {
    (void)state;
    assert_true(dfs_glob_match("part-*", "part-00000"));
    assert_true(dfs_glob_match("*", ".hidden")); /* Hadoop: dots are ordinary */
    assert_true(dfs_glob_match("p?rt", "part"));
    assert_false(dfs_glob_match("p?rt", "paart"));
    assert_true(dfs_glob_match("[abc]", "b"));
    assert_false(dfs_glob_match("[abc]", "d"));
    assert_true(dfs_glob_match("[a-c]x", "bx"));
    assert_true(dfs_glob_match("[^a]", "b"));
    assert_false(dfs_glob_match("[^a]", "a"));
    assert_true(dfs_glob_match("[!a]", "b"));
    assert_true(dfs_glob_match("star\\*", "star*"));
    assert_false(dfs_glob_match("star\\*", "starry"));
    assert_true(dfs_glob_has_magic("a*"));
    assert_true(dfs_glob_has_magic("{a}"));
    assert_false(dfs_glob_has_magic("a\\*b"));
    assert_false(dfs_glob_has_magic("plain"));
}

static void test_expand(void **state) {
    (void)state;
    char **out;
    size_t n;
    char err[256];
    assert_int_equal(dfs_glob_expand("/a{b,c{d,e}}f", &out, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "/abf");
    assert_string_equal(out[1], "/acdf");
    assert_string_equal(out[2], "/acef");
    dfs_glob_free(out, n);
    /* '/' inside a group, an escaped brace, a comma outside any group. */
    assert_int_equal(dfs_glob_expand("/{x/y,z}\\{,}", &out, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "/x/y\\{,}");
    assert_string_equal(out[1], "/z\\{,}");
    dfs_glob_free(out, n);
    /* 2^13 alternatives: refused, not exhausted memory. */
    assert_int_equal(dfs_glob_expand("/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,"
                                     "b}{a,b}",
                                     &out, &n, err, sizeof(err)),
                     EMBER_EINVAL);
    assert_non_null(strstr(err, "alternatives"));
}

static void test_walk(void **state) {
    (void)state;
    expect_glob("/logs/*/part-*", "/logs/2024/part-0 /logs/2024/part-1 /logs/2025/part-0");
    expect_glob("/logs/202[45]/part-0", "/logs/2024/part-0 /logs/2025/part-0");
    expect_glob("/logs/*/_SUCCESS", "/logs/2025/_SUCCESS"); /* literal checked to exist */
    expect_glob("/data/[ab]", "/data/a /data/b");
    expect_glob("/data/[^ab]", "/data/c");
    expect_glob("/data/{c,a,nothere}", "/data/a /data/c"); /* sorted */
    expect_glob("/data/{a,[ab]}", "/data/a /data/b");       /* no duplicates */
    expect_glob("/data/.*", "/data/.hidden");
    expect_glob("/data/x\\{y\\}", "/data/x{y}");
    expect_glob("/data/star\\*", "/data/star*");
    expect_glob("/{logs/2024,data}/a", "/data/a");
    expect_glob("/*", "/data /file /logs");
    expect_glob("//logs//2024/part-?", "/logs/2024/part-0 /logs/2024/part-1");
    expect_glob("/file/*", "");          /* a file has no children */
    expect_glob("/nothere/*/x", "");     /* nothing matches: the caller says so */
    expect_glob("/logs/old.txt", "/logs/old.txt");
    expect_glob("/", "/");
}

static void test_bad(void **state) {
    (void)state;
    expect_bad("/data/[ab", "Illegal file pattern: Unclosed character class near index 6");
    expect_bad("/data/{a,b", "Illegal file pattern: Unclosed group");
    expect_bad("/data/a\\", "Missing escaped character");
    expect_bad("data/*", "absolute");
    /* An unopened '}' is literal, as in Hadoop. */
    expect_glob("/data/a}", "");
}

/* Thousands of entries: every one matched, each listed once. */
static void test_many(void **state) {
    (void)state;
    big_entries = 5000;
    lists = stats = 0;
    char **paths;
    size_t n;
    char err[256];
    assert_int_equal(dfs_glob_walk("/big/f*", fake_list, fake_stat, NULL, &paths, &n, err,
                                   sizeof(err)),
                     0);
    assert_int_equal(n, 5000);
    assert_string_equal(paths[0], "/big/f00000");
    assert_string_equal(paths[4999], "/big/f04999");
    dfs_glob_free(paths, n);
    assert_int_equal(lists, 1); /* /big, reached through a literal: stat'd once, listed once */
    assert_int_equal(stats, 1);
    big_entries = 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match), cmocka_unit_test(test_expand), cmocka_unit_test(test_walk),
        cmocka_unit_test(test_bad),   cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
