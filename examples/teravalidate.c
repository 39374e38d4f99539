/* teravalidate.c -- Hadoop's TeraValidate as an ember job: checks that
 * terasort's output is sorted, within each file and across the files in
 * name order, and prints its checksum.
 *
 *     ember run teravalidate IN REPORT
 *
 * IN is read as 100-byte records (10-byte key first).  The report, one
 * reduce's part-r-00000, holds Hadoop's lines:
 *   checksum<TAB>HEX   the sum of every record's CRC32 as a 128-bit
 *                      number in lower-case hex (the Sort Benchmark's
 *                      valsort checksum; teragen's CHECKSUM counter is
 *                      the same sum), absent for an empty input;
 *   error<TAB>misorder in FILE between KEY and KEY
 *                      a key smaller than the one before it in a file
 *                      (keys as hex bytes, as BytesWritable prints them);
 *   error<TAB>bad key partitioning:\n  file A key KEY\n  file B key KEY
 *                      a file (or a piece of one) whose first key is
 *                      smaller than the last key before it.
 * So a sorted input gives the checksum line alone.
 *
 * Hadoop reads each file as one split and marks it FILE:begin and
 * FILE:end; here small files may share a map and big ones span several
 * (splits are combined and cut by block), so the map watches which chunk
 * its records come from (mapreduce.map.input.file and .start) and marks
 * each chunk's first and last keys as "FILE:START:begin" and
 * "FILE:START:end" (START in 16 hex digits, so chunks sort in file order);
 * the reduce sees those marks in order and checks each chunk's first key
 * against the previous chunk's last. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ember/mapreduce.h"

#define TV_RECORD 100
#define TV_KEY 10

typedef unsigned __int128 u128;

/* The task running in this process (one at a time); reset in setup. */
static struct {
    char chunk[512]; /* "FILE:START" of the chunk being read, "" before */
    char file[256];  /* its file name */
    uint8_t last[TV_KEY];
    u128 checksum; /* map: this task's sum; reduce: the job's */
    int first;     /* reduce: no chunk mark seen yet */
    char last_mark[512];
    uint8_t last_value[TV_KEY];
} tv;

static int tv_setup(ember_task *task) {
    (void)task;
    memset(&tv, 0, sizeof(tv));
    tv.first = 1;
    return 0;
}

/* "00 11 ff": BytesWritable.toString(). */
static void tv_hex_bytes(const uint8_t *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 3 * i, i + 1 < n ? "%02x " : "%02x", b[i]);
    if (n == 0)
        out[0] = '\0';
}

/* Unsigned16.toString(): lower-case hex, no leading zeros. */
static void tv_hex_u128(u128 v, char *out) {
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    if (hi == 0)
        sprintf(out, "%llx", (unsigned long long)lo);
    else
        sprintf(out, "%llx%016llx", (unsigned long long)hi, (unsigned long long)lo);
}

/* Emits "FILE:START:begin" or ":end" with the key. */
static int tv_mark(ember_task *task, const char *what, const uint8_t *key) {
    char mark[600];
    int n = snprintf(mark, sizeof(mark), "%s:%s", tv.chunk, what);
    return ember_emit(task, mark, (size_t)n, key, TV_KEY);
}

/* The current chunk's "FILE:START" (the file's last path component). */
static void tv_chunk(ember_task *task, char *out, size_t len, char *file, size_t file_len) {
    const char *path = ember_conf(task, "mapreduce.map.input.file");
    const char *start = ember_conf(task, "mapreduce.map.input.start");
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    snprintf(file, file_len, "%s", slash != NULL ? slash + 1 : path != NULL ? path : "");
    snprintf(out, len, "%s:%016llx", file,
             start != NULL ? (unsigned long long)strtoull(start, NULL, 10) : 0ull);
}

static int tv_map(ember_task *task, const void *k, size_t kl, const void *value, size_t len) {
    (void)k, (void)kl;
    if (len != TV_RECORD)
        return 1;
    const uint8_t *key = value;
    char chunk[sizeof(tv.chunk)], file[sizeof(tv.file)];
    tv_chunk(task, chunk, sizeof(chunk), file, sizeof(file));
    int rc = 0;
    if (strcmp(chunk, tv.chunk) != 0) {
        if (tv.chunk[0] != '\0')
            rc = tv_mark(task, "end", tv.last);
        memcpy(tv.chunk, chunk, sizeof(chunk));
        memcpy(tv.file, file, sizeof(file));
        if (rc == 0)
            rc = tv_mark(task, "begin", key);
    } else if (memcmp(key, tv.last, TV_KEY) < 0) {
        char msg[400], a[3 * TV_KEY], b[3 * TV_KEY];
        tv_hex_bytes(tv.last, TV_KEY, a);
        tv_hex_bytes(key, TV_KEY, b);
        int n = snprintf(msg, sizeof(msg), "misorder in %s between %s and %s", tv.file, a, b);
        rc = ember_emit(task, "error", 5, msg, (size_t)n);
    }
    tv.checksum += crc32(0, key, TV_RECORD);
    memcpy(tv.last, key, TV_KEY);
    return rc;
}

/* The map's last chunk's end mark and its checksum. */
static int tv_cleanup(ember_task *task) {
    if (!ember_task_is_map(task) || tv.chunk[0] == '\0')
        return 0;
    char hex[40];
    tv_hex_u128(tv.checksum, hex);
    if (tv_mark(task, "end", tv.last) != 0)
        return 1;
    return ember_emit(task, "checksum", 8, hex, strlen(hex));
}

static u128 tv_parse_hex(const char *s, size_t n) {
    u128 v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        v = v << 4 | (u128)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
    }
    return v;
}

/* A chunk mark: its key must not be below the mark before it. */
static int tv_reduce_mark(ember_task *task, const char *mark, size_t len, ember_values *values) {
    const void *v;
    size_t vl;
    if (!ember_values_next(values, &v, &vl) || vl != TV_KEY)
        return 1;
    int rc = 0;
    if (!tv.first && memcmp(v, tv.last_value, TV_KEY) < 0) {
        char msg[1600], a[3 * TV_KEY], b[3 * TV_KEY];
        tv_hex_bytes(tv.last_value, TV_KEY, a);
        tv_hex_bytes(v, TV_KEY, b);
        int n = snprintf(msg, sizeof(msg),
                         "bad key partitioning:\n  file %s key %s\n  file %.*s key %s",
                         tv.last_mark, a, (int)len, mark, b);
        rc = ember_emit(task, "error", 5, msg, (size_t)n);
    }
    tv.first = 0;
    snprintf(tv.last_mark, sizeof(tv.last_mark), "%.*s", (int)len, mark);
    memcpy(tv.last_value, v, TV_KEY);
    return rc;
}

static int tv_reduce(ember_task *task, const void *key, size_t len, ember_values *values) {
    const void *v;
    size_t vl;
    if (len == 5 && memcmp(key, "error", 5) == 0) {
        while (ember_values_next(values, &v, &vl))
            if (ember_emit(task, key, len, v, vl) != 0)
                return 1;
        return 0;
    }
    if (len == 8 && memcmp(key, "checksum", 8) == 0) {
        u128 sum = 0;
        while (ember_values_next(values, &v, &vl))
            sum += tv_parse_hex(v, vl);
        char hex[40];
        tv_hex_u128(sum, hex);
        return ember_emit(task, key, len, hex, strlen(hex));
    }
    return tv_reduce_mark(task, key, len, values);
}

static int tv_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc != 2)
        return ember_setup_usage(s, "<out-dir> <report-dir>");
    if (ember_setup_input(s, argv[0]) != 0 || ember_setup_output(s, argv[1]) != 0 ||
        ember_setup_set(s, "ember.input.format", "fixed") != 0 ||
        ember_setup_set(s, "ember.input.record.length", "100") != 0 ||
        ember_setup_set(s, "ember.output.format", "text") != 0 ||
        ember_setup_set(s, "mapreduce.job.reduces", "1") != 0) /* one report */
        return -1;
    return 0;
}

static const ember_job teravalidate = {
    .abi = EMBER_JOB_ABI,
    .name = "TeraValidate",
    .map = tv_map,
    .reduce = tv_reduce,
    .setup = tv_setup,
    .cleanup = tv_cleanup,
    .configure = tv_configure,
};

const ember_job *ember_job_define(void) { return &teravalidate; }
