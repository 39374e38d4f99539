/* test_stream_process.c -- a command fed on its stdin while its output is
 * read (mapreduce/stream_process.c): lines (CRLF, a last line without
 * newline, an empty line), no deadlock when the child writes 10 MB
 * before reading 2 MB of input, exit codes (non-zero, a signal, a missing
 * command), a child that stops reading, a callback that fails, the
 * inactivity timeout, the environment, the working directory and stderr
 * lines. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "mapreduce/stream_process.h"

typedef struct {
    size_t lines, bytes;
    char first[64], last[64];
    size_t fail_at; /* 0: never; else the callback fails on this line */
} collected;

static int collect(void *arg, const uint8_t *line, size_t len) {
    collected *c = arg;
    c->lines++;
    c->bytes += len;
    char *dst = c->lines == 1 ? c->first : c->last;
    snprintf(dst, sizeof(c->first), "%.*s", (int)(len < 60 ? len : 60), (const char *)line);
    return c->fail_at != 0 && c->lines == c->fail_at ? EMBER_EINVAL : EMBER_OK;
}

/* Runs command with input written to it; out gets its stdout lines. */
static int run(const char *command, const char *input, size_t repeat, collected *out,
               stream_process_exit *ex) {
    stream_process_options o = {.command = command, .on_stdout = collect, .stdout_arg = out};
    stream_process *p;
    assert_int_equal(stream_process_start(&o, &p), EMBER_OK);
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < repeat; i++)
        rc = stream_process_write(p, input, strlen(input));
    if (rc == EMBER_OK || rc == EMBER_ECLOSED) {
        int frc = stream_process_finish(p, ex);
        rc = rc == EMBER_OK ? frc : rc;
    }
    stream_process_free(p);
    return rc;
}

static void test_lines(void **state) {
    (void)state;
    collected c = {0};
    stream_process_exit ex;
    assert_int_equal(run("printf 'a\\r\\n\\nb\\nlast'", "", 0, &c, &ex), EMBER_OK);
    assert_int_equal(c.lines, 4); /* "a", "", "b", "last" */
    assert_string_equal(c.first, "a");
    assert_int_equal(c.bytes, 1 + 0 + 1 + 4);
    assert_int_equal(ex.code, 0);
}

/* The child prints 10 MB before it reads its input, 2 MB of lines: a
 * writer that waited for its writes to complete would never finish. */
static void test_no_deadlock(void **state) {
    (void)state;
    collected c = {0};
    stream_process_exit ex;
    const char *cmd = "awk 'BEGIN { for (i = 0; i < 100000; i++) printf \"%099d\\n\", i } "
                      "{ n++ } END { print \"read \" n }'";
    const char *line = "0123456789012345678901234567890123456789\n"; /* 41 bytes */
    assert_int_equal(run(cmd, line, 50000, &c, &ex), EMBER_OK);
    assert_int_equal(ex.code, 0);
    assert_int_equal(c.lines, 100001);
    assert_int_equal(c.bytes, 100000 * 99 + strlen("read 50000"));
}

static void test_exit_codes(void **state) {
    (void)state;
    collected c = {0};
    stream_process_exit ex;
    assert_int_equal(run("cat >/dev/null; exit 3", "x\n", 1, &c, &ex), EMBER_OK);
    assert_int_equal(ex.code, 3);
    assert_int_equal(ex.signal, 0);
    assert_int_equal(run("kill -9 $$", "", 0, &c, &ex), EMBER_OK);
    assert_int_equal(ex.code, 128 + SIGKILL);
    assert_int_equal(ex.signal, SIGKILL);
    /* The shell's "not found" is 127, as Hadoop reports it. */
    assert_int_equal(run("./no-such-command-here 2>/dev/null", "x\n", 1, &c, &ex), EMBER_OK);
    assert_int_equal(ex.code, 127);
}

/* A child that reads one byte and exits 0 while 2 MB are written. */
static void test_stops_reading(void **state) {
    (void)state;
    collected c = {0};
    stream_process_exit ex = {.code = -1};
    assert_int_equal(
        run("head -c 1 >/dev/null; echo done", "0123456789012345678901234567890\n", 65536, &c, &ex),
        EMBER_ECLOSED);
    assert_int_equal(ex.code, 0);
    assert_int_equal(c.lines, 1);
    assert_string_equal(c.first, "done");
}

static void test_callback_fails(void **state) {
    (void)state;
    collected c = {.fail_at = 3};
    stream_process_exit ex;
    int64_t start = clock_monotonic_ms();
    /* The child would print forever: the failure must stop it. */
    assert_int_equal(run("yes", "", 0, &c, &ex), EMBER_EINVAL);
    assert_int_equal(c.lines, 3);
    assert_true(clock_monotonic_ms() - start < 10000);
}

static void test_timeout(void **state) {
    (void)state;
    collected c = {0};
    stream_process_options o = {
        .command = "sleep 20", .on_stdout = collect, .stdout_arg = &c, .timeout_ms = 300};
    stream_process *p;
    int64_t start = clock_monotonic_ms();
    assert_int_equal(stream_process_start(&o, &p), EMBER_OK);
    stream_process_exit ex;
    assert_int_equal(stream_process_finish(p, &ex), EMBER_ETIMEDOUT);
    assert_int_equal(stream_process_write(p, "x", 1), EMBER_ETIMEDOUT);
    stream_process_free(p); /* kills it */
    int64_t took = clock_monotonic_ms() - start;
    assert_true(took >= 300 && took < 10000);
}

static void test_env_dir_stderr(void **state) {
    (void)state;
    collected out = {0}, err = {0};
    char *env[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", NULL};
    stream_process_options o = {.command = "echo \"$FOO\"; pwd; echo oops >&2",
                                .env = env,
                                .dir = "/",
                                .on_stdout = collect,
                                .stdout_arg = &out,
                                .on_stderr = collect,
                                .stderr_arg = &err};
    stream_process *p;
    assert_int_equal(stream_process_start(&o, &p), EMBER_OK);
    stream_process_exit ex;
    assert_int_equal(stream_process_finish(p, &ex), EMBER_OK);
    stream_process_free(p);
    assert_int_equal(out.lines, 2);
    assert_string_equal(out.first, "bar baz");
    assert_string_equal(out.last, "/");
    assert_int_equal(err.lines, 1);
    assert_string_equal(err.first, "oops");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),          cmocka_unit_test(test_no_deadlock),
        cmocka_unit_test(test_exit_codes),     cmocka_unit_test(test_stops_reading),
        cmocka_unit_test(test_callback_fails), cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_env_dir_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
