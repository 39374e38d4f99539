/* terasort.c -- Hadoop's TeraSort as an ember job: 100-byte records
 * (teragen's) sorted by their 10-byte keys, globally: every key of
 * part-r-00000 comes before every key of part-r-00001, and so on.
 *
 *     ember run terasort [-D mapreduce.job.reduces=R] IN OUT
 *
 * The input is read as fixed-length records (ember.input.record.length =
 * 100); a file whose size is not a multiple of 100 is an error.  The map
 * splits each record into its key (bytes 0-9) and the rest; the reduces
 * are the identity, writing raw records again (ember.output.format=raw).
 *
 * Total order (TeraInputFormat.writePartitionFile and TeraSort's
 * TotalOrderPartitioner): before the job, configure samples the input --
 * up to mapreduce.terasort.partitions.sample keys (100,000) from up to
 * mapreduce.terasort.num.partitions splits (10) spread over it -- sorts
 * the sample and takes R - 1 split points, the keys at round(i * n / R);
 * a key goes to the reduce numbered by how many split points are <= it.
 * Hadoop writes the points to OUT/_partition.lst for the tasks; here they
 * travel in the job's configuration (ember.terasort.split.points, hex),
 * which every task reads in its setup.  As in Hadoop, asking for more
 * reduces than sampled keys is an error ("Requested more partitions than
 * input keys"); with one reduce nothing is sampled (Hadoop samples anyway
 * and so refuses an empty input even then). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/mapreduce.h"

#define TERASORT_RECORD 100
#define TERASORT_KEY 10
#define TERASORT_POINTS "ember.terasort.split.points"

/* The split points of the task running in this process, from its
 * configuration (one task at a time per process). */
static uint8_t (*terasort_points)[TERASORT_KEY];
static uint32_t terasort_npoints;

/* key: the record's offset (unused); value: the record. */
static int terasort_map(ember_task *task, const void *key, size_t key_len, const void *value,
                        size_t len) {
    (void)key, (void)key_len;
    if (len != TERASORT_RECORD)
        return 1;
    const uint8_t *rec = value;
    return ember_emit(task, rec, TERASORT_KEY, rec + TERASORT_KEY, len - TERASORT_KEY);
}

static int terasort_compare_keys(const void *a, const void *b) {
    return memcmp(a, b, TERASORT_KEY);
}

/* The number of split points <= key: a binary search. */
static uint32_t terasort_partition(const void *key, size_t key_len, uint32_t partitions) {
    uint8_t k[TERASORT_KEY] = {0};
    memcpy(k, key, key_len < TERASORT_KEY ? key_len : TERASORT_KEY);
    uint32_t lo = 0, hi = terasort_npoints;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(terasort_points[mid], k, TERASORT_KEY) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < partitions ? lo : partitions - 1;
}

static int terasort_unhex(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads the split points: 20 hex digits each, no separators. */
static int terasort_setup(ember_task *task) {
    const char *hex = ember_conf(task, TERASORT_POINTS);
    size_t len = hex != NULL ? strlen(hex) : 0;
    free(terasort_points);
    terasort_points = NULL;
    terasort_npoints = 0;
    if (len % (2 * TERASORT_KEY) != 0)
        return 1;
    if (len == 0)
        return 0;
    if ((terasort_points = malloc(len / 2)) == NULL)
        return 1;
    uint8_t *b = (uint8_t *)terasort_points;
    for (size_t i = 0; i < len; i += 2) {
        int hi = terasort_unhex(hex[i]), lo = terasort_unhex(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return 1;
        b[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    terasort_npoints = (uint32_t)(len / (2 * TERASORT_KEY));
    return 0;
}

static int terasort_cleanup(ember_task *task) {
    (void)task;
    free(terasort_points);
    terasort_points = NULL;
    terasort_npoints = 0;
    return 0;
}

typedef struct {
    uint8_t (*keys)[TERASORT_KEY];
    size_t n, cap;
} terasort_sample;

static int terasort_add_sample(void *arg, const void *key, size_t key_len, const void *value,
                               size_t len) {
    (void)key, (void)key_len;
    terasort_sample *s = arg;
    if (len != TERASORT_RECORD)
        return 1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        void *k = realloc(s->keys, cap * TERASORT_KEY);
        if (k == NULL)
            return 1;
        s->keys = k;
        s->cap = cap;
    }
    memcpy(s->keys[s->n++], value, TERASORT_KEY);
    return 0;
}

static uint64_t terasort_conf_number(ember_setup *s, const char *key, uint64_t dflt) {
    const char *v = ember_setup_get(s, key);
    return v != NULL ? strtoull(v, NULL, 10) : dflt;
}

/* Samples the input and stores R - 1 split points in the configuration
 * (TextSampler.createPartitions: round(stepSize * i), stepSize = n / R as
 * a float). */
static int terasort_split_points(ember_setup *s, uint32_t reduces) {
    terasort_sample sample = {0};
    uint64_t max = terasort_conf_number(s, "mapreduce.terasort.partitions.sample", 100000);
    uint64_t splits = terasort_conf_number(s, "mapreduce.terasort.num.partitions", 10);
    if (ember_setup_sample(s, max, (uint32_t)(splits ? splits : 1), terasort_add_sample, &sample) !=
        0) {
        free(sample.keys);
        return -1;
    }
    if (reduces > sample.n) {
        free(sample.keys);
        return ember_setup_error(s, "Requested more partitions than input keys (%u > %zu)", reduces,
                                 sample.n);
    }
    qsort(sample.keys, sample.n, TERASORT_KEY, terasort_compare_keys);
    char *hex = malloc((size_t)reduces * 2 * TERASORT_KEY + 1);
    int rc = hex == NULL ? ember_setup_error(s, "terasort: out of memory") : 0;
    float step = (float)sample.n / (float)reduces;
    for (uint32_t i = 1; rc == 0 && i < reduces; i++) {
        size_t at = (size_t)floorf(step * (float)i + 0.5f); /* Java's Math.round(float) */
        for (int b = 0; b < TERASORT_KEY; b++)
            sprintf(hex + ((size_t)(i - 1) * TERASORT_KEY + (size_t)b) * 2, "%02x",
                    sample.keys[at < sample.n ? at : sample.n - 1][b]);
    }
    if (rc == 0) {
        hex[(size_t)(reduces - 1) * 2 * TERASORT_KEY] = '\0';
        rc = ember_setup_set(s, TERASORT_POINTS, hex);
    }
    free(hex);
    free(sample.keys);
    return rc;
}

static int terasort_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc != 2)
        return ember_setup_usage(s, "<input dir> <output dir>");
    uint64_t reduces = terasort_conf_number(s, "mapreduce.job.reduces", 1);
    if (reduces == 0 || reduces > 100000)
        return ember_setup_error(s, "terasort: mapreduce.job.reduces must be from 1 to 100000");
    if (ember_setup_input(s, argv[0]) != 0 || ember_setup_output(s, argv[1]) != 0 ||
        ember_setup_set(s, "ember.input.format", "fixed") != 0 ||
        ember_setup_set(s, "ember.input.record.length", "100") != 0 ||
        ember_setup_set(s, "ember.output.format", "raw") != 0)
        return -1;
    return reduces > 1 ? terasort_split_points(s, (uint32_t)reduces) : 0;
}

static const ember_job terasort = {
    .abi = EMBER_JOB_ABI,
    .name = "TeraSort",
    .map = terasort_map,
    .partition = terasort_partition,
    .setup = terasort_setup,
    .cleanup = terasort_cleanup,
    .configure = terasort_configure,
};

const ember_job *ember_job_define(void) { return &terasort; }
