/* join.c -- a reduce-side join of two key<TAB>value inputs on their keys.
 *
 *     ember run join [-D mapreduce.job.reduces=R] IN1 IN2 OUT
 *
 * An inner join: for every key found in both inputs, one output line
 * "key<TAB>v1<TAB>v2" per pair of a value v1 of IN1 and a value v2 of IN2
 * with that key (a key on m lines of IN1 and n of IN2 gives m * n lines);
 * a key in only one input gives nothing.  Lines are cut at their first
 * TAB (KeyValueTextInputFormat; a line without one is a key with an
 * empty value), so values may hold TABs.  Within a part file the lines
 * come by key in byte order; a key's pairs come in no set order (the sort
 * keeps no input order among equal keys, as Hadoop's does not).
 * Hadoop's own join example is a map-side join (CompositeInputFormat) of
 * inputs sorted and partitioned alike; this one takes any two inputs, as
 * the reduce-side join of Hadoop's MultipleInputs pattern does.
 *
 * The map tags each record with its side (ember.map.input.index: which
 * input its file came from) as a last key byte, 1 or 2.  A secondary sort
 * brings a key's IN1 values before its IN2 values: the sort comparator
 * orders by key then tag, the grouping comparator by key alone, and the
 * partitioner hashes the key alone (Hadoop's HashPartitioner over it), so
 * one reduce call sees both sides of a key.  The reduce keeps the IN1
 * values of the key in memory and pairs each IN2 value with them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ember/mapreduce.h"

static int join_map(ember_task *task, const void *key, size_t key_len, const void *value,
                    size_t value_len) {
    const char *index = ember_conf(task, "ember.map.input.index");
    if (index == NULL || (index[0] != '0' && index[0] != '1') || index[1] != '\0')
        return 1;
    uint8_t *k = malloc(key_len + 1);
    if (k == NULL)
        return 1;
    if (key_len > 0)
        memcpy(k, key, key_len);
    k[key_len] = index[0] == '0' ? 1 : 2;
    int rc = ember_emit(task, k, key_len + 1, value, value_len);
    free(k);
    return rc;
}

/* Keys without their tags, as bytes, the shorter first on a tie. */
static int join_compare_keys(const void *a, size_t a_len, const void *b, size_t b_len) {
    size_t al = a_len > 0 ? a_len - 1 : 0, bl = b_len > 0 ? b_len - 1 : 0;
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : al < bl ? -1 : al > bl ? 1 : 0;
}

/* By key, then IN1 (tag 1) before IN2 (tag 2). */
static int join_compare(const void *a, size_t a_len, const void *b, size_t b_len) {
    int c = join_compare_keys(a, a_len, b, b_len);
    if (c != 0 || a_len == 0 || b_len == 0)
        return c;
    return (int)((const uint8_t *)a)[a_len - 1] - (int)((const uint8_t *)b)[b_len - 1];
}

/* Hadoop's HashPartitioner over the key without its tag. */
static uint32_t join_partition(const void *key, size_t key_len, uint32_t partitions) {
    const int8_t *b = key;
    int32_t h = 1;
    for (size_t i = 0; i + 1 < key_len; i++)
        h = (int32_t)((uint32_t)h * 31u + (uint32_t)(int32_t)b[i]);
    return (uint32_t)(h & INT32_MAX) % partitions;
}

typedef struct {
    uint8_t *bytes; /* the IN1 values, one after the other */
    size_t *ends, n, len, cap, ends_cap;
} join_side;

static int join_keep(join_side *s, const void *v, size_t len) {
    if (s->bytes == NULL || s->len + len > s->cap) {
        size_t cap = (s->len + len) * 2 + 64;
        uint8_t *b = realloc(s->bytes, cap);
        if (b == NULL)
            return 1;
        s->bytes = b;
        s->cap = cap;
    }
    if (s->n == s->ends_cap) {
        size_t cap = s->ends_cap * 2 + 16;
        size_t *e = realloc(s->ends, cap * sizeof(*e));
        if (e == NULL)
            return 1;
        s->ends = e;
        s->ends_cap = cap;
    }
    if (len > 0)
        memcpy(s->bytes + s->len, v, len);
    s->len += len;
    s->ends[s->n++] = s->len;
    return 0;
}

/* Emits "key TAB v1 TAB v2" for each kept v1, as one key (empty value). */
static int join_pairs(ember_task *task, const uint8_t *key, size_t key_len, const join_side *left,
                      const void *v2, size_t v2_len, uint8_t **line, size_t *cap) {
    for (size_t i = 0; i < left->n; i++) {
        size_t start = i > 0 ? left->ends[i - 1] : 0, v1_len = left->ends[i] - start;
        size_t len = key_len + 1 + v1_len + 1 + v2_len;
        if (len > *cap) {
            uint8_t *l = realloc(*line, len);
            if (l == NULL)
                return 1;
            *line = l;
            *cap = len;
        }
        uint8_t *p = *line;
        memcpy(p, key, key_len);
        p[key_len] = '\t';
        memcpy(p + key_len + 1, left->bytes + start, v1_len);
        p[key_len + 1 + v1_len] = '\t';
        if (v2_len > 0)
            memcpy(p + key_len + 2 + v1_len, v2, v2_len);
        if (ember_emit(task, p, len, "", 0) != 0)
            return 1;
    }
    return 0;
}

static int join_reduce(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    join_side left = {0};
    uint8_t *line = NULL;
    size_t cap = 0;
    int rc = 0;
    const void *v, *k;
    size_t vl, kl;
    while (rc == 0 && ember_values_next(values, &v, &vl)) {
        ember_key(values, &k, &kl);
        if (kl > 0 && ((const uint8_t *)k)[kl - 1] == 1)
            rc = join_keep(&left, v, vl);
        else if (left.n > 0)
            rc = join_pairs(task, key, key_len - 1, &left, v, vl, &line, &cap);
    }
    free(left.bytes);
    free(left.ends);
    free(line);
    return rc;
}

static int join_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc != 3)
        return ember_setup_usage(s, "<in1> <in2> <out>");
    if (ember_setup_input(s, argv[0]) != 0 || ember_setup_input(s, argv[1]) != 0 ||
        ember_setup_output(s, argv[2]) != 0 ||
        ember_setup_set(s, "ember.input.format", "keyvalue") != 0)
        return -1;
    return 0;
}

static const ember_job join = {
    .abi = EMBER_JOB_ABI,
    .name = "join",
    .map = join_map,
    .reduce = join_reduce,
    .partition = join_partition,
    .sort_compare = join_compare,
    .group_compare = join_compare_keys,
    .configure = join_configure,
};

const ember_job *ember_job_define(void) { return &join; }
