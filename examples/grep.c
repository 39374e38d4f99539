/* grep.c -- Hadoop's Grep as an ember job: how many times each match of a
 * regular expression occurs in the input, most frequent first.
 *
 *     ember run grep IN OUT REGEX [GROUP]
 *
 * Two jobs, as Hadoop's: the search job counts the matches (the map emits
 * every match of each line, a combiner and the reduce add them up) into a
 * temporary directory; then this job sorts those counts, largest first,
 * into OUT with one reduce.  The output is one "count<TAB>match" line per
 * distinct match, by count descending, equal counts by match in byte
 * order.
 *
 * REGEX is a POSIX extended regular expression (regcomp(3), REG_EXTENDED),
 * matched against each line as `grep -oE` does: leftmost-longest matches
 * (POSIX's rule; Hadoop's Java regex takes the leftmost alternative
 * instead), the search resuming where a match ends, empty matches
 * skipped.  GROUP (0 to 9, default 0 = the whole match) counts that
 * parenthesised subexpression of each match instead, as Hadoop's
 * RegexMapper does; a match in which the group took no part counts
 * nothing.  The regex and group travel to the tasks as Hadoop's
 * mapreduce.mapper.regex and mapreduce.mapper.regexmapper..group.
 *
 * This file shows the job API's driver: configure runs the search job to
 * completion (ember_setup_run()) and then sets this job up over its
 * output, which ember_setup_temp_path() removes at the end. */
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/mapreduce.h"
#include "example.h"

#define GREP_REGEX "mapreduce.mapper.regex"
#define GREP_GROUP "mapreduce.mapper.regexmapper..group"

/* The compiled regex of the task running in this process (tasks run one
 * at a time in a process; each compiles it in setup). */
static regex_t grep_regex;
static int grep_compiled;
static size_t grep_group;

static int grep_setup(ember_task *task) {
    const char *regex = ember_conf(task, GREP_REGEX), *group = ember_conf(task, GREP_GROUP);
    if (!ember_task_is_map(task) || regex == NULL)
        return 0;
    grep_group = group != NULL ? (size_t)strtoul(group, NULL, 10) : 0;
    if (grep_group > 9 || regcomp(&grep_regex, regex, REG_EXTENDED) != 0)
        return 1;
    grep_compiled = 1;
    return 0;
}

static int grep_cleanup(ember_task *task) {
    (void)task;
    if (grep_compiled)
        regfree(&grep_regex);
    grep_compiled = 0;
    return 0;
}

/* Every non-empty match (or its group) in the line, counted once. */
static int grep_search_map(ember_task *task, const void *key, size_t key_len, const void *value,
                           size_t len) {
    (void)key, (void)key_len;
    static const uint64_t one = 1;
    const char *line = value;
    regmatch_t m[10];
    size_t at = 0;
    while (grep_compiled && at <= len) {
        /* REG_STARTEND: the line need not end in NUL and may hold NULs;
         * offsets are from its start, and ^ matches only at 0. */
        m[0].rm_so = (regoff_t)at;
        m[0].rm_eo = (regoff_t)len;
        if (regexec(&grep_regex, line, grep_group + 1, m, REG_STARTEND) != 0)
            break;
        if (m[0].rm_eo == m[0].rm_so) { /* empty: step past it */
            at = (size_t)m[0].rm_eo + 1;
            continue;
        }
        regmatch_t g = m[grep_group];
        if (g.rm_so >= 0 && g.rm_eo > g.rm_so &&
            ember_emit(task, line + g.rm_so, (size_t)(g.rm_eo - g.rm_so), &one, sizeof(one)) != 0)
            return 1;
        at = (size_t)m[0].rm_eo;
    }
    return 0;
}

static int grep_search_combine(ember_task *task, const void *match, size_t len,
                               ember_values *values) {
    uint64_t sum = example_sum(values);
    return ember_emit(task, match, len, &sum, sizeof(sum));
}

/* "count<TAB>match": the count first, so that the sort job reads it back
 * as the key whatever bytes (TABs included) the match holds. */
static int grep_search_reduce(ember_task *task, const void *match, size_t len,
                              ember_values *values) {
    char count[24];
    int n = snprintf(count, sizeof(count), "%llu", (unsigned long long)example_sum(values));
    return ember_emit(task, count, (size_t)n, match, len);
}

/* IN TMP REGEX GROUP (from grep_configure). */
static int grep_search_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc != 4)
        return ember_setup_usage(s, "<in> <tmp> <regex> <group>");
    regex_t re;
    int rc = regcomp(&re, argv[2], REG_EXTENDED);
    if (rc != 0) {
        char why[256];
        regerror(rc, &re, why, sizeof(why));
        return ember_setup_error(s, "grep: bad regular expression '%s': %s", argv[2], why);
    }
    size_t groups = re.re_nsub;
    regfree(&re);
    char *end;
    unsigned long group = strtoul(argv[3], &end, 10);
    if (*argv[3] == '\0' || *end != '\0' || group > groups || group > 9)
        return ember_setup_error(s, "grep: group '%s': the regular expression has %zu group(s)",
                                 argv[3], groups);
    const char *reduces = ember_setup_get(s, "mapreduce.job.reduces");
    if (reduces != NULL && strcmp(reduces, "0") == 0)
        return ember_setup_error(s, "grep: mapreduce.job.reduces=0: the counting needs a reduce");
    if (ember_setup_input(s, argv[0]) != 0 || ember_setup_output(s, argv[1]) != 0 ||
        ember_setup_set(s, GREP_REGEX, argv[2]) != 0 || ember_setup_set(s, GREP_GROUP, argv[3]) ||
        ember_setup_set(s, "ember.input.format", "text") != 0 ||
        ember_setup_set(s, "mapreduce.output.textoutputformat.separator", "\t") != 0)
        return -1;
    return 0;
}

static const ember_job grep_search = {
    .abi = EMBER_JOB_ABI,
    .name = "grep-search",
    .map = grep_search_map,
    .combine = grep_search_combine,
    .reduce = grep_search_reduce,
    .setup = grep_setup,
    .cleanup = grep_cleanup,
    .configure = grep_search_configure,
};

/* The sort job's key: the count as 8 bytes big-endian, complemented (so
 * larger counts sort first), then the match. */
static int grep_sort_map(ember_task *task, const void *count, size_t count_len, const void *match,
                         size_t len) {
    char digits[24];
    if (count_len == 0 || count_len >= sizeof(digits))
        return 1;
    memcpy(digits, count, count_len);
    digits[count_len] = '\0';
    uint8_t key[8];
    example_put64(key, ~(uint64_t)strtoull(digits, NULL, 10));
    size_t key_len = sizeof(key) + len;
    uint8_t *k = malloc(key_len);
    if (k == NULL)
        return 1;
    memcpy(k, key, sizeof(key));
    memcpy(k + sizeof(key), match, len);
    int rc = ember_emit(task, k, key_len, "", 0);
    free(k);
    return rc;
}

static int grep_sort_reduce(ember_task *task, const void *key, size_t key_len,
                            ember_values *values) {
    const uint8_t *k = key;
    char count[24];
    int len = snprintf(count, sizeof(count), "%llu", (unsigned long long)~example_get64(k));
    const void *v;
    size_t vl;
    while (ember_values_next(values, &v, &vl))
        if (ember_emit(task, count, (size_t)len, k + 8, key_len - 8) != 0)
            return 1;
    return 0;
}

static int grep_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc < 3 || argc > 4)
        return ember_setup_usage(s, "<in> <out> <regex> [<group>]");
    char tmp[PATH_MAX + 16];
    if (ember_setup_output(s, argv[1]) != 0 || ember_setup_temp_path(s, tmp, sizeof(tmp)) != 0)
        return -1;
    const char *search[] = {argv[0], tmp, argv[2], argc == 4 ? argv[3] : "0"};
    if (ember_setup_run(s, &grep_search, 4, search) != 0)
        return -1;
    if (ember_setup_input(s, tmp) != 0 || ember_setup_set(s, "ember.input.format", "keyvalue") ||
        ember_setup_set(s, "mapreduce.input.keyvaluelinerecordreader.key.value.separator", "\t") !=
            0 ||
        ember_setup_set(s, "mapreduce.job.reduces", "1") != 0)
        return -1;
    return 0;
}

static const ember_job grep_job = {
    .abi = EMBER_JOB_ABI,
    .name = "grep-sort",
    .map = grep_sort_map,
    .reduce = grep_sort_reduce,
    .configure = grep_configure,
};

const ember_job *ember_job_define(void) { return &grep_job; }
