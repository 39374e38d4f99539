/* test_job_svg.c -- unit tests for client/cli_job_svg.c: a job's timeline
 * drawn from a history record made here.
 *
 * The record: rank 1 ran three maps, two of them at the same time (two
 * lanes) and the third after the first ended (back in the first lane);
 * rank 2 ran a failed map, its retry, a reduce with its shuffle, merge
 * and reduce phases, and a killed speculative twin.  The SVG must have a
 * bar per attempt that started (not the one that never did), the
 * overlapping maps in different lanes and the later one in the first
 * lane again, rank labels, the reduce's phase colours, the failure's red
 * outline, the killed one hatched, and text escaped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_job.h"

/* The CLI's error line, here only counted. */
static int errors;
void cli_error(const char *fmt, ...) {
    (void)fmt;
    errors++;
}

static json_t *attempt(const char *id, const char *kind, int rank, long long start,
                       long long finish, const char *state) {
    return json_pack("{s:s, s:i, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b}",
                     "attempt_id", id, "task_index", 0, "kind", kind, "rank", rank, "node",
                     "node<1>", "cpuset", "0-1", "placement", "cores 0-1 on NUMA node 0",
                     "locality", "node-local", "status", state, "start_ms", start, "finish_ms",
                     finish, "diagnostic", "", "speculative", 0);
}

static json_t *history(void) {
    json_t *a = json_array();
    json_array_append_new(a, attempt("attempt_x_m_000000_0", "MAP", 1, 1000, 3000, "SUCCEEDED"));
    json_array_append_new(a, attempt("attempt_x_m_000001_0", "MAP", 1, 1500, 3500, "SUCCEEDED"));
    json_array_append_new(a, attempt("attempt_x_m_000002_0", "MAP", 1, 3000, 4000, "SUCCEEDED"));
    json_t *failed = attempt("attempt_x_m_000003_0", "MAP", 2, 1000, 1200, "FAILED");
    json_object_set_new(failed, "diagnostic", json_string("killed by signal 11 <SEGV> & more"));
    json_array_append_new(a, failed);
    json_array_append_new(a, attempt("attempt_x_m_000003_1", "MAP", 2, 1300, 2000, "SUCCEEDED"));
    json_t *reduce = attempt("attempt_x_r_000000_0", "REDUCE", 2, 2100, 6000, "SUCCEEDED");
    json_object_set_new(reduce, "phases",
                        json_pack("{s:I, s:I, s:I}", "shuffle_start_ms", (json_int_t)2200,
                                  "merge_start_ms", (json_int_t)4100, "reduce_start_ms",
                                  (json_int_t)4500));
    json_array_append_new(a, reduce);
    json_array_append_new(a, attempt("attempt_x_m_000001_1", "MAP", 2, 2500, 3500, "KILLED"));
    json_array_append_new(a, attempt("attempt_x_m_000009_0", "MAP", 3, 0, 0, "KILLED"));
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "job_id", "job_1_0001", "name",
                     "word count", "status", "SUCCEEDED", "submit_ms", (json_int_t)900,
                     "finish_ms", (json_int_t)6100, "attempts", a);
}

/* The SVG of history() as a string (malloc'd). */
static char *draw(void) {
    char path[] = "/tmp/test_job_svg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    json_t *h = history();
    assert_int_equal(cli_job_history_svg(h, path), 0);
    json_decref(h);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

/* The y of the first rect after the attempt's title. */
static int bar_y(const char *svg, const char *attempt_id) {
    const char *t = strstr(svg, attempt_id);
    assert_non_null(t);
    const char *r = strstr(t, "<rect");
    assert_non_null(r);
    const char *y = strstr(r, " y=\"");
    assert_non_null(y);
    return atoi(y + 4);
}

static void test_bars_and_lanes(void **state) {
    (void)state;
    char *svg = draw();
    assert_int_equal(count(svg, "<g class=\"attempt"), 7); /* the one that never started: none */
    assert_null(strstr(svg, "attempt_x_m_000009_0"));
    int y0 = bar_y(svg, "attempt_x_m_000000_0"), y1 = bar_y(svg, "attempt_x_m_000001_0"),
        y2 = bar_y(svg, "attempt_x_m_000002_0");
    assert_true(y0 != y1); /* overlapping: two lanes */
    assert_int_equal(y2, y0); /* after the first ended: its lane again */
    assert_true(bar_y(svg, "attempt_x_m_000003_0") > y1); /* rank 2 below rank 1's lanes */
    assert_non_null(strstr(svg, ">rank 1</text>"));
    assert_non_null(strstr(svg, ">rank 2</text>"));
    free(svg);
}

static void test_phases_and_outcomes(void **state) {
    (void)state;
    char *svg = draw();
    const char *reduce = strstr(svg, "<g class=\"attempt REDUCE SUCCEEDED\">");
    assert_non_null(reduce);
    const char *end = strstr(reduce, "</g>");
    char *bar = strndup(reduce, (size_t)(end - reduce));
    assert_non_null(strstr(bar, "#f28e2b")); /* shuffle */
    assert_non_null(strstr(bar, "#edc948")); /* merge */
    assert_non_null(strstr(bar, "#59a14f")); /* reduce */
    free(bar);
    const char *failed = strstr(svg, "<g class=\"attempt MAP FAILED\">");
    assert_non_null(failed);
    assert_true(strstr(failed, "stroke=\"#e15759\"") < strstr(failed, "</g>"));
    const char *killed = strstr(svg, "<g class=\"attempt MAP KILLED\">");
    assert_non_null(killed);
    assert_true(strstr(killed, "url(#hatch)") < strstr(killed, "</g>"));
    assert_non_null(strstr(svg, "signal 11 &lt;SEGV&gt; &amp; more"));
    assert_non_null(strstr(svg, "node&lt;1&gt;"));
    assert_null(strstr(svg, "<SEGV>"));
    free(svg);
}

static void test_unwritable_file(void **state) {
    (void)state;
    json_t *h = history();
    errors = 0;
    assert_int_equal(cli_job_history_svg(h, "/nonexistent-dir/x.svg"), 1);
    assert_int_equal(errors, 1);
    json_decref(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bars_and_lanes),
        cmocka_unit_test(test_phases_and_outcomes),
        cmocka_unit_test(test_unwritable_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
