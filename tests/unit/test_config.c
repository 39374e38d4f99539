/* test_config.c -- unit tests for common/config.c.
 *
 * Covers defaults, parsing of every value type (good and bad values, with
 * the old value kept on error and messages naming the key), unknown keys,
 * `-D` arguments, config files (comments, blank lines, errors reported as
 * PATH:LINE:, unreadable files) and config_write().  Each test gets a fresh
 * config from setup(); temp files live under /tmp and teardown() removes
 * them even when a test fails. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, open_memstream */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/hadoop_keys.h"

struct fixture {
    config *cfg;
    char path[64]; /* temp file, "" when none */
    char err[256];
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || config_create(&f->cfg) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    if (f->path[0] != '\0')
        unlink(f->path);
    config_destroy(f->cfg);
    free(f);
    return 0;
}

/* Write contents to a new temp file whose name goes into f->path. */
static void write_temp_file(struct fixture *f, const char *contents) {
    strcpy(f->path, "/tmp/ember_test_config_XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    size_t len = strlen(contents);
    assert_true(write(fd, contents, len) == (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Setting key to value must fail with EMBER_ECONFIG, leave the key's integer
 * value at before, and produce a message containing key and then want. */
static void expect_bad_int(struct fixture *f, const char *key, const char *value, const char *want) {
    int64_t before = config_get_int(f->cfg, key);
    f->err[0] = '\0';
    assert_int_equal(config_set(f->cfg, key, value, f->err, sizeof f->err), EMBER_ECONFIG);
    assert_true(config_get_int(f->cfg, key) == before);
    assert_non_null(strstr(f->err, key));
    assert_non_null(strstr(f->err, want));
}

static void expect_int(struct fixture *f, const char *key, const char *value, int64_t want) {
    assert_int_equal(config_set(f->cfg, key, value, f->err, sizeof f->err), 0);
    assert_true(config_get_int(f->cfg, key) == want);
}

static void test_defaults(void **state) {
    struct fixture *f = *state;
    assert_true(config_get_int(f->cfg, "dfs.heartbeat.interval") == 1000);
    assert_true(config_get_int(f->cfg, "ember.node.expiry") == 10000);
    assert_true(config_get_int(f->cfg, "ember.client.port") == 0);
    assert_true(config_get_int(f->cfg, "ember.mpi.send.timeout") == 30000);
    assert_true(config_get_int(f->cfg, "ember.stop.timeout") == 10000);
    assert_true(config_get_int(f->cfg, "ember.auth.timeout") == 10000);
    assert_string_equal(config_get_string(f->cfg, "ember.client.bind"), "127.0.0.1");
    assert_string_equal(config_get_string(f->cfg, "ember.cluster.secret"), "");
    assert_string_equal(config_get_string(f->cfg, "ember.topology.synthetic"), "");
    assert_string_equal(config_get_string(f->cfg, "dfs.datanode.data.dir"), "");
    config_destroy(NULL);
}

static void test_key_known(void **state) {
    (void)state;
    assert_int_equal(config_key_known("dfs.heartbeat.interval"), 1);
    assert_int_equal(config_key_known("dfs.datanode.data.dir"), 1);
    assert_int_equal(config_key_known("dfs.heartbeat"), 0);
    assert_int_equal(config_key_known(""), 0);
    assert_int_equal(config_key_known(NULL), 0);
}

static void test_int_good(void **state) {
    struct fixture *f = *state;
    expect_int(f, "ember.client.port", "8020", 8020);
    expect_int(f, "ember.client.port", "65535", 65535);
    expect_int(f, "ember.client.port", "0", 0);
}

static void test_int_bad(void **state) {
    struct fixture *f = *state;
    expect_int(f, "ember.client.port", "8020", 8020);
    expect_bad_int(f, "ember.client.port", "abc", "expected an integer");
    expect_bad_int(f, "ember.client.port", "80x", "expected an integer");
    expect_bad_int(f, "ember.client.port", " 80", "expected an integer");
    expect_bad_int(f, "ember.client.port", "+80", "expected an integer");
    expect_bad_int(f, "ember.client.port", "", "expected an integer");
    expect_bad_int(f, "ember.client.port", "-", "expected an integer");
    expect_bad_int(f, "ember.client.port", "-1", "must be between 0 and 65535");
    expect_bad_int(f, "ember.client.port", "65536", "must be between 0 and 65535");
    expect_bad_int(f, "ember.client.port", "99999999999999999999", "must be between");
    expect_bad_int(f, "ember.client.port", "-99999999999999999999", "must be between");
}

static void test_size_good(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int64_t bytes;
    } cases[] = {
        {"0", 0},
        {"4096", 4096},
        {"64k", 64 << 10},
        {"64K", 64 << 10},
        {"128m", INT64_C(128) << 20},
        {"128M", INT64_C(128) << 20},
        {"1g", INT64_C(1) << 30},
        {"3G", INT64_C(3) << 30},
        {"2t", INT64_C(2) << 40},
        {"2T", INT64_C(2) << 40},
        {"8388607t", INT64_C(8388607) << 40}, /* the largest whole number of t below 2^63 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t bytes = -1;
        assert_int_equal(config_parse_size(cases[i].text, &bytes), 0);
        assert_true(bytes == cases[i].bytes);
    }
}

static void test_size_bad(void **state) {
    (void)state;
    static const char *const cases[] = {
        "", "k", "abc", "12q", "1kb", "64 k", " 64", "64k ", "1.5g", "-1", "-1k", "+1",
        "99999999999999t", "8388608t", "9223372036854775808", "99999999999999999999",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t bytes = 42;
        assert_int_equal(config_parse_size(cases[i], &bytes), EMBER_ECONFIG);
        assert_true(bytes == 42);
    }
}

/* RATIO keys: decimals kept in millionths, written back as given. */
static void test_ratio(void **state) {
    struct fixture *f = *state;
    const char *key = "dfs.namenode.safemode.threshold-pct";
    expect_int(f, key, "0.999", 999000);
    expect_int(f, key, "0.999f", 999000); /* as Hadoop's XML files write it */
    expect_int(f, key, "1", 1000000);
    expect_int(f, key, "1.5", 1500000);
    expect_int(f, key, "0", 0);
    expect_int(f, key, "-1", -1000000);
    expect_int(f, key, "0.000001", 1);
    expect_int(f, key, "100", 100000000); /* the maximum */
    static const char *const junk[] = {"", ".5", "1.", "abc", "0.9999999", "1e3", "0,5", "+1",
                                       "0.5x", " 0.5"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        expect_bad_int(f, key, junk[i], "expected a decimal number");
    expect_bad_int(f, key, "100.5", "must be between -1 and 100");
    expect_bad_int(f, key, "-2", "must be between -1 and 100");
    expect_bad_int(f, key, "99999999999999999999", "must be between");
    /* Past what millionths hold in 64 bits (found writing fuzz_config): out of
     * range, not an overflow. */
    expect_bad_int(f, key, "9223372036859", "must be between");
    expect_bad_int(f, key, "9223372036854.999999", "must be between");
    expect_bad_int(f, key, "-9223372036854.775808", "must be between");
    /* Written back as the shortest decimal. */
    assert_int_equal(config_set(f->cfg, key, "0.250", NULL, 0), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    config_write(f->cfg, out);
    fclose(out);
    assert_non_null(strstr(buf, "dfs.namenode.safemode.threshold-pct = 0.25\n"));
    free(buf);
}

static void test_duration_good(void **state) {
    struct fixture *f = *state;
    expect_int(f, "dfs.heartbeat.interval", "3", 3000); /* the key's unit is seconds */
    expect_int(f, "dfs.heartbeat.interval", "500ms", 500);
    expect_int(f, "dfs.heartbeat.interval", "500MS", 500);
    expect_int(f, "dfs.heartbeat.interval", "2s", 2000);
    expect_int(f, "dfs.heartbeat.interval", "2S", 2000);
    expect_int(f, "dfs.heartbeat.interval", "5m", 5 * 60000);
    expect_int(f, "dfs.heartbeat.interval", "1h", 3600000);
    expect_int(f, "dfs.heartbeat.interval", "10ms", 10); /* the minimum */
    expect_int(f, "dfs.heartbeat.interval", "3600s", 3600000); /* the maximum */
    expect_int(f, "ember.node.expiry", "1d", 86400000);
    expect_int(f, "ember.node.expiry", "1D", 86400000);
    expect_int(f, "ember.mpi.send.timeout", "45", 45000);
    expect_int(f, "ember.stop.timeout", "100ms", 100);
    expect_int(f, "ember.auth.timeout", "2m", 120000);
    /* Decimals, rounded to the ms: Hadoop reads fs.trash.* as floats of minutes. */
    expect_int(f, "dfs.heartbeat.interval", "1.5s", 1500);
    expect_int(f, "dfs.heartbeat.interval", "0.0105s", 11);
    expect_int(f, "fs.trash.interval", "1440", 1440 * 60000);
    expect_int(f, "fs.trash.interval", "0.05", 3000);
    expect_int(f, "fs.trash.interval", "0", 0);
    expect_int(f, "fs.trash.checkpoint.interval", "0.5", 30000);
    expect_int(f, "fs.trash.checkpoint.interval", "2s", 2000);
    /* Hadoop's bare seconds (its default), and down to 100 ms for tests. */
    expect_int(f, "dfs.datanode.directoryscan.interval", "21600", 21600000);
    expect_int(f, "dfs.datanode.directoryscan.interval", "1s", 1000);
    expect_int(f, "dfs.datanode.directoryscan.interval", "100ms", 100);
    expect_bad_int(f, "dfs.datanode.directoryscan.interval", "99ms", "must be between 100ms and");
}

static void test_duration_bad(void **state) {
    struct fixture *f = *state;
    const char *key = "dfs.heartbeat.interval";
    expect_int(f, key, "3s", 3000);
    expect_bad_int(f, key, "abc", "expected a duration such as 3s or 500ms");
    expect_bad_int(f, key, "3x", "expected a duration");
    expect_bad_int(f, key, "3sec", "expected a duration");
    expect_bad_int(f, key, "3 s", "expected a duration");
    expect_bad_int(f, key, "1.5.5s", "expected a duration");
    expect_bad_int(f, key, ".5s", "expected a duration");
    expect_bad_int(f, key, "1.s", "expected a duration");
    expect_bad_int(f, key, "-1s", "expected a duration");
    expect_bad_int(f, key, "", "expected a duration");
    expect_bad_int(f, key, "9ms", "must be between 10ms and 1h");
    expect_bad_int(f, key, "0", "must be between 10ms and 1h");
    expect_bad_int(f, key, "3601s", "must be between 10ms and 1h");
    expect_bad_int(f, key, "2h", "must be between 10ms and 1h");
    expect_bad_int(f, key, "99999999999999d", "must be between");
    expect_bad_int(f, key, "99999999999999999999ms", "must be between");
    expect_bad_int(f, "ember.node.expiry", "2d", "must be between 100ms and 1d");
    assert_true(config_get_int(f->cfg, key) == 3000);
}

static void test_bool(void **state) {
    (void)state;
    static const char *const truths[] = {"true", "TRUE", "True", "yes", "YES", "1"};
    static const char *const lies[] = {"false", "FALSE", "no", "No", "0"};
    static const char *const junk[] = {"", "t", "y", "2", "truee", " true", "on", "-1"};
    int value;
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        value = -1;
        assert_int_equal(config_parse_bool(truths[i], &value), 0);
        assert_int_equal(value, 1);
    }
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        value = -1;
        assert_int_equal(config_parse_bool(lies[i], &value), 0);
        assert_int_equal(value, 0);
    }
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        value = -1;
        assert_int_equal(config_parse_bool(junk[i], &value), EMBER_ECONFIG);
        assert_int_equal(value, -1);
    }
}

static void test_string(void **state) {
    struct fixture *f = *state;
    char value[] = "/data/a,/data/b";
    assert_int_equal(config_set(f->cfg, "dfs.datanode.data.dir", value, NULL, 0), 0);
    value[0] = 'X'; /* the config keeps its own copy */
    assert_string_equal(config_get_string(f->cfg, "dfs.datanode.data.dir"), "/data/a,/data/b");
    assert_int_equal(config_set(f->cfg, "ember.client.bind", "", NULL, 0), 0);
    assert_string_equal(config_get_string(f->cfg, "ember.client.bind"), "");
    assert_int_equal(config_set(f->cfg, "ember.cluster.secret", " s3cr#t = x ", NULL, 0), 0);
    assert_string_equal(config_get_string(f->cfg, "ember.cluster.secret"), " s3cr#t = x ");
}

static void test_unknown_key(void **state) {
    struct fixture *f = *state;
    assert_int_equal(config_set(f->cfg, "foo.bar", "1", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_non_null(strstr(f->err, "unknown configuration key 'foo.bar' (the nearest ember key is '"));
    assert_int_equal(config_set(f->cfg, "foo.bar", "1", NULL, 0), EMBER_ECONFIG);
    /* A tiny buffer gets a truncated, terminated message. */
    char tiny[8];
    assert_int_equal(config_set(f->cfg, "foo.bar", "1", tiny, sizeof tiny), EMBER_ECONFIG);
    assert_string_equal(tiny, "unknown");
}

/* Hadoop's keys that ember does not use are taken with a warning (listed
 * once each); a near miss of an ember key is an error naming it, even
 * under a Hadoop prefix. */
static void test_hadoop_keys(void **state) {
    struct fixture *f = *state;
    const char *const *keys;
    assert_int_equal(config_set(f->cfg, "fs.defaultFS", "hdfs://nn:8020", f->err, sizeof f->err), 0);
    assert_int_equal(config_apply_define(f->cfg, "io.file.buffer.size=131072", f->err, sizeof f->err),
                     0);
    assert_int_equal(config_set(f->cfg, "fs.defaultFS", "hdfs://other", f->err, sizeof f->err), 0);
    assert_int_equal(config_ignored_keys(f->cfg, &keys), 2);
    assert_string_equal(keys[0], "fs.defaultFS");
    assert_string_equal(keys[1], "io.file.buffer.size");
    assert_int_equal(config_set(f->cfg, "dfs.replicaton", "2", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_string_equal(f->err, "unknown configuration key 'dfs.replicaton' (did you mean 'dfs.replication'?)");
    assert_int_equal(config_set(f->cfg, "dfs.heartbeat.intervl", "2s", f->err, sizeof f->err),
                     EMBER_ECONFIG);
    assert_non_null(strstr(f->err, "did you mean 'dfs.heartbeat.interval'?"));
    /* Under a Hadoop prefix but not Hadoop's: still an error. */
    assert_int_equal(config_set(f->cfg, "dfs.no.such.key", "1", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_int_equal(config_set(f->cfg, "fs.s3a.endpoint", "http://127.0.0.1:9000", f->err,
                                sizeof f->err),
                     0);
    assert_int_equal(config_ignored_keys(f->cfg, &keys), 3);
    /* YARN's node resources: the two figures are ember's keys, the
     * hardware detection switch (ember always detects) is ignored. */
    assert_int_equal(config_set(f->cfg, "yarn.nodemanager.resource.cpu-vcores", "6", f->err,
                                sizeof f->err),
                     0);
    assert_true(config_get_int(f->cfg, "yarn.nodemanager.resource.cpu-vcores") == 6);
    assert_int_equal(config_set(f->cfg, "yarn.nodemanager.resource.memory-mb", "8192", f->err,
                                sizeof f->err),
                     0);
    assert_true(config_get_int(f->cfg, "yarn.nodemanager.resource.memory-mb") == 8192);
    assert_int_equal(config_set(f->cfg, "yarn.nodemanager.resource.detect-hardware-capabilities",
                                "true", f->err, sizeof f->err),
                     0);
    assert_int_equal(config_ignored_keys(f->cfg, &keys), 4);
    assert_int_equal(config_set(f->cfg, "yarn.nodemanager.resource.cpu-vcore", "6", f->err,
                                sizeof f->err),
                     EMBER_ECONFIG);
    assert_non_null(strstr(f->err, "did you mean 'yarn.nodemanager.resource.cpu-vcores'?"));
    assert_true(hadoop_keys_sorted());
    assert_true(config_get_int(f->cfg, "dfs.replication") == 0); /* unchanged: EMR's rule */
}

static void test_define_good(void **state) {
    struct fixture *f = *state;
    assert_int_equal(config_apply_define(f->cfg, "dfs.heartbeat.interval=3s", f->err, sizeof f->err), 0);
    assert_true(config_get_int(f->cfg, "dfs.heartbeat.interval") == 3000);
    assert_int_equal(config_apply_define(f->cfg, "  ember.client.port  =  8020  ", f->err, sizeof f->err), 0);
    assert_true(config_get_int(f->cfg, "ember.client.port") == 8020);
    assert_int_equal(config_apply_define(f->cfg, "ember.cluster.secret=a=b==c", f->err, sizeof f->err), 0);
    assert_string_equal(config_get_string(f->cfg, "ember.cluster.secret"), "a=b==c");
    assert_int_equal(config_apply_define(f->cfg, "ember.client.bind=", f->err, sizeof f->err), 0);
    assert_string_equal(config_get_string(f->cfg, "ember.client.bind"), "");
}

static void test_define_bad(void **state) {
    struct fixture *f = *state;
    assert_int_equal(config_apply_define(f->cfg, "ember.client.port", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_non_null(strstr(f->err, "ember.client.port"));
    assert_non_null(strstr(f->err, "key=value"));
    assert_int_equal(config_apply_define(f->cfg, "", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_int_equal(config_apply_define(f->cfg, "=5", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_string_equal(f->err, "unknown configuration key ''");
    assert_int_equal(config_apply_define(f->cfg, " foo.bar = 1", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_non_null(strstr(f->err, "unknown configuration key 'foo.bar' ("));
    assert_int_equal(config_apply_define(f->cfg, "ember.client.port = 70000", f->err, sizeof f->err),
                     EMBER_ECONFIG);
    assert_string_equal(f->err, "bad value '70000' for ember.client.port: must be between 0 and 65535");
    assert_int_equal(config_apply_define(f->cfg, "ember.client.port=", f->err, sizeof f->err), EMBER_ECONFIG);
    assert_true(config_get_int(f->cfg, "ember.client.port") == 0);
}

static void test_file_good(void **state) {
    struct fixture *f = *state;
    write_temp_file(f, "# ember test configuration\n"
                       "\n"
                       "dfs.heartbeat.interval = 3\n"
                       "   # an indented comment = with an equals sign\n"
                       "  ember.client.port=8020  \r\n"
                       "\t\n"
                       "ember.cluster.secret = abc=def # not a comment\n"
                       "dfs.datanode.data.dir =\n"
                       "ember.node.expiry = 1m\n"
                       "ember.node.expiry = 2m"); /* last one wins; no final newline */
    assert_int_equal(config_load_file(f->cfg, f->path, f->err, sizeof f->err), 0);
    assert_true(config_get_int(f->cfg, "dfs.heartbeat.interval") == 3000);
    assert_true(config_get_int(f->cfg, "ember.client.port") == 8020);
    assert_string_equal(config_get_string(f->cfg, "ember.cluster.secret"), "abc=def # not a comment");
    assert_string_equal(config_get_string(f->cfg, "dfs.datanode.data.dir"), "");
    assert_true(config_get_int(f->cfg, "ember.node.expiry") == 120000);
    assert_true(config_get_int(f->cfg, "ember.stop.timeout") == 10000); /* untouched */
}

static void test_file_empty(void **state) {
    struct fixture *f = *state;
    write_temp_file(f, "");
    assert_int_equal(config_load_file(f->cfg, f->path, f->err, sizeof f->err), 0);
    assert_true(config_get_int(f->cfg, "dfs.heartbeat.interval") == 1000);
}

static void test_file_unknown_key(void **state) {
    struct fixture *f = *state;
    write_temp_file(f, "# comment\n"
                       "ember.client.port = 8020\n"
                       "no.such.key = 1\n"
                       "ember.stop.timeout = 20s\n");
    assert_int_equal(config_load_file(f->cfg, f->path, f->err, sizeof f->err), EMBER_ECONFIG);
    char want[160];
    snprintf(want, sizeof want, "%s:3: unknown configuration key 'no.such.key' (", f->path);
    assert_memory_equal(f->err, want, strlen(want));
    assert_true(config_get_int(f->cfg, "ember.client.port") == 8020); /* applied before the error */
    assert_true(config_get_int(f->cfg, "ember.stop.timeout") == 10000); /* not reached */
}

static void test_file_bad_value(void **state) {
    struct fixture *f = *state;
    write_temp_file(f, "\n\ndfs.heartbeat.interval = soon\n");
    assert_int_equal(config_load_file(f->cfg, f->path, f->err, sizeof f->err), EMBER_ECONFIG);
    char want[200];
    snprintf(want, sizeof want, "%s:3: bad value 'soon' for dfs.heartbeat.interval: expected a duration", f->path);
    assert_non_null(strstr(f->err, want));
    assert_true(config_get_int(f->cfg, "dfs.heartbeat.interval") == 1000);
}

static void test_file_line_without_equals(void **state) {
    struct fixture *f = *state;
    write_temp_file(f, "ember.client.port = 1\nember.client.port 8020\n");
    assert_int_equal(config_load_file(f->cfg, f->path, f->err, sizeof f->err), EMBER_ECONFIG);
    char want[160];
    snprintf(want, sizeof want, "%s:2: ", f->path);
    assert_true(strncmp(f->err, want, strlen(want)) == 0);
    assert_non_null(strstr(f->err, "ember.client.port 8020"));
}

static void test_file_missing(void **state) {
    struct fixture *f = *state;
    const char *path = "/tmp/ember_test_config_does_not_exist.conf";
    assert_int_equal(config_load_file(f->cfg, path, f->err, sizeof f->err), EMBER_EIO);
    assert_string_equal(f->err,
                        "cannot read config file '/tmp/ember_test_config_does_not_exist.conf': "
                        "No such file or directory");
    assert_int_equal(config_load_file(f->cfg, "/tmp", f->err, sizeof f->err), EMBER_EIO); /* a directory */
    assert_non_null(strstr(f->err, "cannot read config file '/tmp'"));
}

/* Capture config_write() output in a malloc'd string the caller frees. */
static char *write_to_string(const config *cfg) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_write(cfg, out);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* dfs.blocksize is a SIZE key: suffixes, range, and no change on error. */
static void test_blocksize_key(void **state) {
    struct fixture *f = *state;
    assert_int_equal(config_get_int(f->cfg, "dfs.blocksize"), 128 << 20);
    assert_int_equal(config_set(f->cfg, "dfs.blocksize", "1m", f->err, sizeof f->err), 0);
    assert_int_equal(config_get_int(f->cfg, "dfs.blocksize"), 1 << 20);
    assert_int_equal(config_set(f->cfg, "dfs.blocksize", "1k", f->err, sizeof f->err),
                     EMBER_ECONFIG);
    assert_non_null(strstr(f->err, "dfs.blocksize"));
    assert_int_equal(config_set(f->cfg, "dfs.blocksize", "12q", f->err, sizeof f->err),
                     EMBER_ECONFIG);
    assert_int_equal(config_get_int(f->cfg, "dfs.blocksize"), 1 << 20);
}

static void test_write(void **state) {
    struct fixture *f = *state;
    assert_int_equal(config_set(f->cfg, "ember.client.port", "8020", NULL, 0), 0);
    assert_int_equal(config_set(f->cfg, "ember.topology.synthetic", "pack:2 core:4", NULL, 0), 0);
    char *text = write_to_string(f->cfg);
    assert_string_equal(text, "dfs.heartbeat.interval = 1000ms\n"
                              "ember.node.expiry = 10000ms\n"
                              "ember.client.bind = 127.0.0.1\n"
                              "ember.client.port = 8020\n"
                              "ember.cluster.secret = \n"
                              "ember.mpi.send.timeout = 30000ms\n"
                              "ember.mpi.data.queue = 67108864\n"
                              "ember.stop.timeout = 10000ms\n"
                              "ember.auth.timeout = 10000ms\n"
                              "ember.client.max.connections = 1024\n"
                              "ember.client.unauthenticated.max = 256\n"
                              "ember.client.unauthenticated.per.address = 64\n"
                              "ember.topology.synthetic = pack:2 core:4\n"
                              "ember.topology.xml = \n"
                              "yarn.nodemanager.resource.cpu-vcores = -1\n"
                              "yarn.nodemanager.resource.count-logical-processors-as-cores = false\n"
                              "ember.worker.reserved-cores = -1\n"
                              "yarn.nodemanager.resource.memory-mb = -1\n"
                              "yarn.nodemanager.resource.system-reserved-memory-mb = -1\n"
                              "yarn.nodemanager.sleep-delay-before-sigkill.ms = 250ms\n"
                              "yarn.scheduler.capacity.file = \n"
                              "ember.scheduler.locality.delay = -1\n"
                              "dfs.datanode.data.dir = \n"
                              "dfs.namenode.name.dir = \n"
                              "dfs.replication = 0\n"
                              "dfs.blocksize = 134217728\n"
                              "dfs.namenode.checkpoint.txns = 10000\n"
                              "dfs.namenode.checkpoint.period = 3600000ms\n"
                              "dfs.block.access.token.lifetime = 600000ms\n"
                              "dfs.datanode.socket.timeout = 30000ms\n"
                              "dfs.namenode.redundancy.interval = 1000ms\n"
                              "dfs.namenode.reconstruction.pending.timeout = 30000ms\n"
                              "dfs.blockreport.intervalMsec = 21600000ms\n"
                              "dfs.namenode.safemode.threshold-pct = 0.999\n"
                              "dfs.namenode.safemode.extension = 3000ms\n"
                              "dfs.datanode.du.reserved = 0\n"
                              "dfs.datanode.synconclose = false\n"
                              "hadoop.user.group.static.mapping.overrides = \n"
                              "hadoop.security.groups.cache.secs = 300000ms\n"
                              "dfs.permissions.enabled = true\n"
                              "ember.namenode.lease-soft-limit = 60000ms\n"
                              "dfs.namenode.lease-hard-limit-sec = 1200000ms\n"
                              "dfs.namenode.lease-recheck-interval-ms = 2000ms\n"
                              "dfs.block.scanner.volume.bytes.per.second = 1048576\n"
                              "dfs.datanode.scan.period.hours = 1814400000ms\n"
                              "dfs.datanode.directoryscan.interval = 21600000ms\n"
                              "net.topology.table.file.name = \n"
                              "ember.dfs.list.limit = 1000\n"
                              "dfs.client.socket-timeout = 60000ms\n"
                              "dfs.client.read.shortcircuit = true\n"
                              "dfs.domain.socket.path = \n"
                              "fs.trash.interval = 0ms\n"
                              "fs.trash.checkpoint.interval = 0ms\n");

    /* What config_write() prints, config_load_file() reads back. */
    write_temp_file(f, text);
    config *copy = NULL;
    assert_int_equal(config_create(&copy), 0);
    assert_int_equal(config_load_file(copy, f->path, f->err, sizeof f->err), 0);
    char *again = write_to_string(copy);
    assert_string_equal(again, text);
    free(again);
    free(text);
    config_destroy(copy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_known, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hadoop_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_define_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_define_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_bad_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_line_without_equals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocksize_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
