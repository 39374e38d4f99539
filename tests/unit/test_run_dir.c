/* test_run_dir.c -- unit tests for common/run_dir.c.
 *
 * Each test gets a fresh mkdtemp() directory (f->tmp); the run directory
 * proper is f->run, a not-yet-existing folder inside it, so that
 * run_dir_prepare() has to create it with its own mode.  Covers prepare
 * (folders and modes, idempotence), cluster.json (round trip, mode 0600,
 * every read error: missing, not JSON, lacking or bad fields), the status
 * file (round trip, removal), the pid file and run_dir_path().  teardown()
 * removes f->tmp and everything under it, and nothing else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/run_dir.h"
#include "test_util.h"

struct fixture {
    char tmp[64];  /* the mkdtemp() directory */
    char run[128]; /* tmp/run: the run directory */
    char err[512];
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    strcpy(f->tmp, "/tmp/ember_test_run_dir_XXXXXX");
    if (mkdtemp(f->tmp) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->run, sizeof f->run, "%s/run", f->tmp);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    /* Depth first, not following symlinks: only what lies under f->tmp. */
    int rc = test_rm_tree(f->tmp);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* The permission bits of path. */
static int mode_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 07777);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Writes a one-line file dir/name; path is scratch space (256 bytes). */
static void write_run_file_at(char *path, const char *dir, const char *name) {
    snprintf(path, 256, "%s/%s", dir, name);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    assert_true(fputs("x\n", out) >= 0);
    assert_int_equal(fclose(out), 0);
}

/* Writes text to f->run/rel (the run directory must exist). */
static void write_run_file(struct fixture *f, const char *rel, const char *text) {
    char path[256];
    assert_int_equal(run_dir_path(f->run, rel, path, sizeof path), 0);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    assert_true(fputs(text, out) >= 0);
    assert_int_equal(fclose(out), 0);
}

/* Reads f->run/rel into buf; returns its length. */
static size_t read_run_file(struct fixture *f, const char *rel, char *buf, size_t buflen) {
    char path[256];
    assert_int_equal(run_dir_path(f->run, rel, path, sizeof path), 0);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    size_t n = fread(buf, 1, buflen - 1, in);
    buf[n] = '\0';
    fclose(in);
    return n;
}

static void sample_info(cluster_info *info) {
    memset(info, 0, sizeof *info);
    strcpy(info->cluster_id, "ember-20260101-abcd");
    strcpy(info->host, "127.0.0.1");
    info->port = 40123;
    strcpy(info->secret, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    info->started_ms = INT64_C(1790000000123);
    info->world_size = 6;
    info->primary_pid = 31337;
}

static void test_prepare(void **state) {
    struct fixture *f = *state;
    mode_t old = umask(022);
    int rc = run_dir_prepare(f->run);
    umask(old);
    assert_int_equal(rc, 0);
    assert_true(is_dir(f->run));
    assert_int_equal(mode_of(f->run), 0700);
    static const char *const subdirs[] = {"logs", "pids", "data"};
    for (size_t i = 0; i < 3; i++) {
        char path[256];
        assert_int_equal(run_dir_path(f->run, subdirs[i], path, sizeof path), 0);
        assert_true(is_dir(path));
    }
    /* Every rank calls it: a second call is fine. */
    assert_int_equal(run_dir_prepare(f->run), 0);
    assert_int_equal(mode_of(f->run), 0700);
}

static void test_prepare_fails(void **state) {
    struct fixture *f = *state;
    /* The run directory's parent does not exist. */
    char path[256];
    snprintf(path, sizeof path, "%s/missing/run", f->tmp);
    assert_int_equal(run_dir_prepare(path), EMBER_EIO);
    /* A file stands where the run directory should be. */
    write_run_file_at(path, f->tmp, "file");
    char file_run[256];
    snprintf(file_run, sizeof file_run, "%s/file/run", f->tmp);
    assert_int_equal(run_dir_prepare(file_run), EMBER_EIO);
}

static void test_info_round_trip(void **state) {
    struct fixture *f = *state;
    assert_int_equal(run_dir_prepare(f->run), 0);
    cluster_info in, out;
    sample_info(&in);
    assert_int_equal(run_dir_write_info(f->run, &in), 0);
    memset(&out, 0x55, sizeof out);
    assert_int_equal(run_dir_read_info(f->run, &out, f->err, sizeof f->err), 0);
    assert_string_equal(out.cluster_id, in.cluster_id);
    assert_string_equal(out.host, in.host);
    assert_int_equal(out.port, in.port);
    assert_string_equal(out.secret, in.secret);
    assert_true(out.started_ms == in.started_ms);
    assert_int_equal(out.world_size, in.world_size);
    assert_int_equal(out.primary_pid, in.primary_pid);

    char path[256];
    assert_int_equal(run_dir_path(f->run, "cluster.json", path, sizeof path), 0);
    assert_int_equal(mode_of(path), 0600);
    /* It is JSON a person can read, ending in a newline. */
    char text[2048];
    size_t n = read_run_file(f, "cluster.json", text, sizeof text);
    assert_true(n > 0);
    assert_int_equal(text[n - 1], '\n');
    assert_non_null(strstr(text, "\"port\": 40123"));

    /* Writing again replaces it atomically, with the same mode; no
     * temporary file is left behind. */
    in.port = 1;
    strcpy(in.host, "10.0.0.7");
    assert_int_equal(run_dir_write_info(f->run, &in), 0);
    assert_int_equal(run_dir_read_info(f->run, &out, f->err, sizeof f->err), 0);
    assert_int_equal(out.port, 1);
    assert_string_equal(out.host, "10.0.0.7");
    assert_int_equal(mode_of(path), 0600);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    assert_int_equal(access(tmp, F_OK), -1);

    run_dir_remove_info(f->run);
    assert_int_equal(run_dir_read_info(f->run, &out, f->err, sizeof f->err), EMBER_ENOENT);
}

static void test_info_missing(void **state) {
    struct fixture *f = *state;
    assert_int_equal(run_dir_prepare(f->run), 0);
    cluster_info info;
    assert_int_equal(run_dir_read_info(f->run, &info, f->err, sizeof f->err), EMBER_ENOENT);
    char path[256];
    assert_int_equal(run_dir_path(f->run, "cluster.json", path, sizeof path), 0);
    assert_non_null(strstr(f->err, path));
    /* No run directory at all: also ENOENT. */
    char none[256];
    snprintf(none, sizeof none, "%s/none", f->tmp);
    assert_int_equal(run_dir_read_info(none, &info, f->err, sizeof f->err), EMBER_ENOENT);
    assert_non_null(strstr(f->err, none));
}

/* cluster.json holding text must be refused with EMBER_EPROTO and a
 * message naming the file. */
static void expect_bad_info(struct fixture *f, const char *text) {
    write_run_file(f, "cluster.json", text);
    cluster_info info;
    f->err[0] = '\0';
    assert_int_equal(run_dir_read_info(f->run, &info, f->err, sizeof f->err), EMBER_EPROTO);
    assert_non_null(strstr(f->err, "cluster.json"));
}

static void test_info_bad(void **state) {
    struct fixture *f = *state;
    assert_int_equal(run_dir_prepare(f->run), 0);
    expect_bad_info(f, "");
    expect_bad_info(f, "{not json");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 1, \"secret\": \"s\"");
    expect_bad_info(f, "[1, 2, 3]\n");
    /* Each required field missing or wrong in turn. */
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 40123}\n"); /* no secret */
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 40123, \"secret\": \"\"}\n");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 40123, \"secret\": 5}\n");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 0, \"secret\": \"s\"}\n");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 70000, \"secret\": \"s\"}\n");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": -1, \"secret\": \"s\"}\n");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": \"80\", \"secret\": \"s\"}\n");
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"secret\": \"s\"}\n"); /* no port */
    expect_bad_info(f, "{\"host\": \"h\", \"port\": 80, \"secret\": \"s\"}\n");         /* no id */
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"port\": 80, \"secret\": \"s\"}\n");   /* no host */
    /* A host too long for cluster_info.host (64 bytes with its NUL). */
    char text[512];
    snprintf(text, sizeof text,
             "{\"cluster_id\": \"c\", \"host\": \"%064d\", \"port\": 80, \"secret\": \"s\"}\n", 0);
    expect_bad_info(f, text);
    /* Duplicate keys are refused. */
    expect_bad_info(f, "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 80, \"port\": 81, \"secret\": \"s\"}\n");

    /* The smallest valid file: optional fields default to 0. */
    write_run_file(f, "cluster.json",
                   "{\"cluster_id\": \"c\", \"host\": \"h\", \"port\": 65535, \"secret\": \"s\"}\n");
    cluster_info info;
    assert_int_equal(run_dir_read_info(f->run, &info, f->err, sizeof f->err), 0);
    assert_int_equal(info.port, 65535);
    assert_string_equal(info.secret, "s");
    assert_true(info.started_ms == 0);
    assert_int_equal(info.world_size, 0);
    assert_int_equal(info.primary_pid, 0);
}

static void test_status(void **state) {
    struct fixture *f = *state;
    assert_int_equal(run_dir_prepare(f->run), 0);
    int code = -99;
    assert_int_equal(run_dir_read_status(f->run, &code), EMBER_ENOENT);
    assert_int_equal(run_dir_write_status(f->run, CLUSTER_EXIT_NODE_LOST, "rank 3 died"), 0);
    assert_int_equal(run_dir_read_status(f->run, &code), 0);
    assert_int_equal(code, CLUSTER_EXIT_NODE_LOST);
    char text[256];
    read_run_file(f, "status", text, sizeof text);
    assert_string_equal(text, "3\nrank 3 died\n");

    assert_int_equal(run_dir_write_status(f->run, CLUSTER_EXIT_OK, NULL), 0);
    assert_int_equal(run_dir_read_status(f->run, &code), 0);
    assert_int_equal(code, 0);
    read_run_file(f, "status", text, sizeof text);
    assert_string_equal(text, "0\n\n");

    /* A negative code removes the file. */
    assert_int_equal(run_dir_write_status(f->run, -1, NULL), 0);
    code = -99;
    assert_int_equal(run_dir_read_status(f->run, &code), EMBER_ENOENT);
    assert_int_equal(run_dir_write_status(f->run, -1, NULL), 0); /* already gone: fine */

    /* A status file without a number is malformed. */
    write_run_file(f, "status", "done\n");
    assert_int_equal(run_dir_read_status(f->run, &code), EMBER_EPROTO);

    /* A very long reason is cut, not refused. */
    char reason[2000];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    assert_int_equal(run_dir_write_status(f->run, CLUSTER_EXIT_FAILED, reason), 0);
    assert_int_equal(run_dir_read_status(f->run, &code), 0);
    assert_int_equal(code, CLUSTER_EXIT_FAILED);
}

static void test_write_pid(void **state) {
    struct fixture *f = *state;
    assert_int_equal(run_dir_prepare(f->run), 0);
    assert_int_equal(run_dir_write_pid(f->run, 7), 0);
    char text[64], want[64];
    read_run_file(f, "pids/rank-7.pid", text, sizeof text);
    snprintf(want, sizeof want, "%d\n", (int)getpid());
    assert_string_equal(text, want);
    /* Without the run directory there is nowhere to write it. */
    char none[256];
    snprintf(none, sizeof none, "%s/none", f->tmp);
    assert_int_equal(run_dir_write_pid(none, 7), EMBER_EIO);
}

static void test_path(void **state) {
    (void)state;
    char out[16];
    assert_int_equal(run_dir_path("/r", "status", out, sizeof out), 0);
    assert_string_equal(out, "/r/status");
    assert_int_equal(run_dir_path("/run/dir", "status", out, sizeof out), 0); /* 15 + NUL */
    assert_string_equal(out, "/run/dir/status");
    assert_int_equal(run_dir_path("/run/dirs", "status", out, sizeof out), EMBER_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_pid, setup, teardown),
        cmocka_unit_test(test_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
