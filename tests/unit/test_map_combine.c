/* test_map_combine.c -- the map side's combine table and the collector
 * that combines in it: the table's order and contents against a
 * reference, its limit, and the collector end to end with combiners that
 * shrink (sum), keep (identity: the table is given up for the sort
 * buffer) and never run per key (a streaming
 * combiner's configuration), over budgets small enough to compact, grow
 * and spill; every result summed as a reduce would and compared with what
 * was emitted and with Hadoop's way (ember.map.combine.hash=false). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "mapreduce/combine_table.h"
#include "mapreduce/ifile.h"
#include "mapreduce/map_output.h"
#include "mapreduce/task.h"

#define NKEYS 3000

/* Key number k as bytes: key 0 empty, the others 2 to 23 bytes with NULs
 * inside, many sharing an 8-byte prefix, so prefix and length ties
 * occur. */
static size_t key_bytes(int k, uint8_t *out) {
    size_t len = k == 0 ? 0 : (size_t)(2 + k % 22);
    for (size_t i = 0; i < len; i++)
        out[i] =
            i < 8 && k % 3 == 0 ? (uint8_t) "samepref"[i] : (uint8_t)((k * 7 + (int)i * 13) % 5);
    if (len >= 2) { /* make keys of one length distinct */
        out[len - 2] = (uint8_t)(k >> 8);
        out[len - 1] = (uint8_t)k;
    }
    return len;
}

/* The number of a key key_bytes() made (its last two bytes), or -1. */
static int key_number(const uint8_t *key, size_t len) {
    int k = len >= 2 ? key[len - 2] << 8 | key[len - 1] : 0;
    uint8_t b[24];
    if (k >= NKEYS || key_bytes(k, b) != len || memcmp(b, key, len) != 0)
        return -1;
    return k;
}

/* The table alone: values in, sorted by (partition, key), every key's
 * values back in order; a full table refuses without changing. */
static void test_table_order_and_contents(void **state) {
    (void)state;
    combine_table t;
    assert_int_equal(combine_table_init(&t, 64u << 20, NULL), EMBER_OK);
    static uint32_t next[NKEYS];
    memset(next, 0, sizeof(next));
    unsigned seed = 3;
    for (int i = 0; i < 60000; i++) {
        int k = rand_r(&seed) % 600;
        uint8_t key[24];
        size_t len = key_bytes(k, key);
        uint32_t v = next[k]++;
        assert_int_equal(combine_table_add(&t, (uint32_t)k % 5, key, len, &v, sizeof(v), 0),
                         EMBER_OK);
    }
    combine_table_sort(&t);
    int seen = 0;
    for (uint32_t p = 0; p < 5; p++) {
        combine_table_reader r;
        combine_table_stream(&t, p, &r);
        kv_record rec, prev = {0};
        uint32_t expect = 0;
        int k = -1;
        while (r.base.next(&r.base, &rec) == 1) {
            if (prev.key == NULL ||
                kv_compare_bytes(prev.key, prev.key_len, rec.key, rec.key_len) != 0) {
                if (prev.key != NULL)
                    assert_true(kv_compare_bytes(prev.key, prev.key_len, rec.key, rec.key_len) < 0);
                if (k >= 0)
                    assert_int_equal(expect, next[k]);
                k = key_number(rec.key, rec.key_len);
                assert_true(k >= 0);
                assert_int_equal((uint32_t)k % 5, p);
                expect = 0;
                seen++;
            }
            uint32_t v;
            assert_int_equal(rec.value_len, sizeof(v));
            memcpy(&v, rec.value, sizeof(v));
            assert_int_equal(v, expect++);
            prev = rec;
        }
        if (k >= 0)
            assert_int_equal(expect, next[k]);
    }
    int keys = 0;
    for (int k = 0; k < 600; k++)
        keys += next[k] > 0;
    assert_int_equal(seen, keys);
    /* Empty again, with a limit already reached: refused, unchanged. */
    combine_table_reset(&t);
    t.limit = combine_table_bytes(&t) + 64;
    assert_int_equal(combine_table_add(&t, 0, "k", 1, "v", 1, 0), EMBER_OK);
    assert_int_equal(combine_table_add(&t, 0, "another key", 11, "much too long a value", 21, 0),
                     EMBER_EAGAIN);
    assert_int_equal(t.n, 1);
    assert_true(combine_table_grow_limit(&t));
    combine_table_free(&t);
}

/* Variant v of the keys of length len (0..40): NULs only, NULs then a 1,
 * a shared 8-byte prefix with a tail of its own, 'a's, 'a's with a 'b' at
 * byte 7 or at byte 8, 'a's with a 'b' last: every length around the
 * 8-byte prefix and the word loads, ties on prefix and length, keys that
 * are prefixes of others.  Some variants coincide; the reference copes. */
#define TEST_KEY_MAX 40
#define TEST_VARIANTS 7
static void variant_key(size_t len, int v, uint8_t *out) {
    for (size_t i = 0; i < len; i++)
        out[i] = v <= 1   ? 0
                 : v == 2 ? (i < 8 ? (uint8_t) "samepref"[i] : (uint8_t)(i * 37 + len))
                          : 'a';
    if (len > 0 && (v == 1 || v == 6))
        out[len - 1] = v == 1 ? 1 : 'b';
    if (v == 4 && len > 7)
        out[7] = 'b';
    if (v == 5 && len > 8)
        out[8] = 'b';
}

typedef struct {
    uint32_t partition;
    size_t len;
    uint8_t key[TEST_KEY_MAX];
    uint32_t next; /* values added: 0, 1, ... */
} ref_key;

static int ref_compare(const void *a, const void *b) {
    const ref_key *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return kv_compare_bytes(x->key, x->len, y->key, y->len);
}

/* The length of value seq: 4 bytes (seq) and a pad, at the edges of the
 * 1-, 2-, 3- and 4-byte lengths the table stores (a few values of 2 MiB). */
static size_t value_length(uint32_t seq, int i) {
    static const size_t lens[] = {4, 4, 4, 5, 12, 127, 128};
    if (i % 15000 < 2)
        return (1u << 21) - 1 + (size_t)(i % 2);
    if (seq % 50 >= 48)
        return 16383 + seq % 2;
    return lens[seq % 7];
}

/* Keys of every length 0..40 (variant_key()) in 2 partitions, added in a
 * random order with values of many lengths, against a reference of
 * (partition, key) -> values: as many keys, sorted by (partition, bytes),
 * each one's values in order. */
static void test_table_keys_of_every_length(void **state) {
    (void)state;
    static ref_key ref[2 * (TEST_KEY_MAX + 1) * TEST_VARIANTS];
    size_t nref = 0;
    combine_table t;
    assert_int_equal(combine_table_init(&t, 256u << 20, NULL), EMBER_OK);
    static uint8_t value[1u << 21];
    unsigned seed = 5;
    for (int i = 0; i < 40000; i++) {
        int r = rand_r(&seed);
        ref_key k = {.partition = (uint32_t)(r & 1), .len = (size_t)(r >> 1) % (TEST_KEY_MAX + 1)};
        variant_key(k.len, (r >> 8) % TEST_VARIANTS, k.key);
        size_t j = 0;
        while (j < nref && ref_compare(&ref[j], &k) != 0)
            j++;
        if (j == nref)
            ref[nref++] = k;
        uint32_t v = ref[j].next++;
        size_t vlen = value_length(v, i);
        memcpy(value, &v, sizeof(v));
        memset(value + sizeof(v), (int)v, vlen - sizeof(v));
        combine_key ck;
        combine_key_init(&ck, k.key, k.len, k.partition);
        int rc;
        while ((rc = combine_table_add_key(&t, &ck, value, vlen, 0)) == EMBER_EAGAIN)
            assert_true(combine_table_grow_limit(&t));
        assert_int_equal(rc, EMBER_OK);
    }
    assert_int_equal(t.n, nref);
    qsort(ref, nref, sizeof(ref[0]), ref_compare);
    combine_table_sort(&t);
    size_t at = 0;
    for (uint32_t p = 0; p < 2; p++) {
        combine_table_reader r;
        combine_table_stream(&t, p, &r);
        kv_record rec;
        uint32_t expect = 0;
        while (r.base.next(&r.base, &rec) == 1) {
            if (expect == 0) { /* the next key of the reference */
                assert_true(at < nref);
                assert_int_equal(ref[at].partition, p);
                assert_int_equal(rec.key_len, ref[at].len);
                assert_memory_equal(rec.key, ref[at].key, rec.key_len);
            }
            uint32_t v;
            assert_true(rec.value_len >= sizeof(v));
            memcpy(&v, rec.value, sizeof(v));
            assert_int_equal(v, expect++);
            assert_true(rec.value_len == value_length(v, 2) || rec.value_len >= (1u << 21) - 1);
            for (size_t b = sizeof(v); b < rec.value_len; b++)
                assert_int_equal(((const uint8_t *)rec.value)[b], (uint8_t)v);
            if (expect == ref[at].next) {
                expect = 0;
                at++;
            }
        }
        assert_int_equal(expect, 0);
    }
    assert_int_equal(at, nref);
    combine_table_free(&t);
}

/* Key c of length len: "samepref", then c's bytes, then 'x's. */
static void collision_key(uint32_t c, size_t len, uint8_t *out) {
    memcpy(out, "samepref", 8);
    memset(out + 8, 'x', len - 8);
    memcpy(out + 8, &c, len - 8 < sizeof(c) ? len - 8 : sizeof(c));
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Two keys whose slots tie on hash and prefix (found by a birthday search
 * over 2^18 keys) stay two keys: the table compares the bytes past the
 * prefix, for a length of one tail word (12) and of several (29). */
static void test_table_hash_collisions(void **state) {
    (void)state;
    enum { CANDIDATES = 1 << 18 };
    uint64_t *h = malloc(CANDIDATES * sizeof(*h));
    assert_non_null(h);
    size_t lens[] = {12, 29};
    for (size_t l = 0; l < 2; l++) {
        uint8_t a[32], b[32];
        for (uint32_t c = 0; c < CANDIDATES; c++) {
            collision_key(c, lens[l], a);
            combine_key k;
            combine_key_init(&k, a, lens[l], 0);
            h[c] = (uint64_t)k.hash << 32 | c;
        }
        qsort(h, CANDIDATES, sizeof(*h), compare_u64);
        size_t i = 1;
        while (i < CANDIDATES && h[i] >> 32 != h[i - 1] >> 32)
            i++;
        assert_true(i < CANDIDATES); /* 8 pairs expected */
        collision_key((uint32_t)h[i - 1], lens[l], a);
        collision_key((uint32_t)h[i], lens[l], b);
        combine_table t;
        assert_int_equal(combine_table_init(&t, 1u << 20, NULL), EMBER_OK);
        for (uint32_t v = 0; v < 10; v++)
            assert_int_equal(combine_table_add(&t, 0, v % 2 ? b : a, lens[l], &v, sizeof(v), 0),
                             EMBER_OK);
        assert_int_equal(t.n, 2);
        combine_table_sort(&t);
        combine_table_reader r;
        combine_table_stream(&t, 0, &r);
        kv_record rec;
        int values = 0;
        for (; r.base.next(&r.base, &rec) == 1; values++) {
            uint32_t v;
            memcpy(&v, rec.value, sizeof(v));
            assert_memory_equal(rec.key, v % 2 ? b : a, lens[l]); /* each value with its key */
        }
        assert_int_equal(values, 10);
        combine_table_free(&t);
    }
    free(h);
}

typedef struct {
    const char *hash;      /* ember.map.combine.hash, or NULL */
    const char *streaming; /* stream.combine.streamprocessor, or NULL */
} test_conf;

static const char *conf_get(void *arg, const char *key) {
    const test_conf *c = arg;
    if (strcmp(key, "ember.map.combine.hash") == 0)
        return c->hash;
    if (strcmp(key, "stream.combine.streamprocessor") == 0)
        return c->streaming;
    return NULL;
}

static int combiner_calls, combiner_streams; /* streams: a streaming combiner's processes */

static int sum_combine(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    combiner_calls++;
    uint64_t sum = 0, n;
    const void *v;
    size_t len;
    while (ember_values_next(values, &v, &len)) {
        assert_int_equal(len, sizeof(n));
        memcpy(&n, v, sizeof(n));
        sum += n;
    }
    combiner_streams += mr_values_last_group(values);
    return ember_emit(task, key, key_len, &sum, sizeof(sum));
}

static int identity_combine(ember_task *task, const void *key, size_t key_len,
                            ember_values *values) {
    combiner_calls++;
    const void *v;
    size_t len;
    while (ember_values_next(values, &v, &len))
        if (ember_emit(task, key, key_len, v, len) != 0)
            return -1;
    return 0;
}

typedef struct {
    uint64_t sum[NKEYS];
    uint64_t records;
} totals;

/* Reads every partition of DIR/file.out: sorted, each key in its
 * partition, sums per key (as a summing reduce). */
static void read_output(const char *dir, uint32_t parts, totals *got) {
    char path[256], ipath[256];
    snprintf(path, sizeof(path), "%s/file.out", dir);
    snprintf(ipath, sizeof(ipath), "%s/file.out.index", dir);
    ifile_range r[8];
    assert_int_equal(ifile_index_read(ipath, r, parts), EMBER_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    memset(got, 0, sizeof(*got));
    for (uint32_t p = 0; p < parts; p++) {
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &r[p], 4096), EMBER_OK);
        kv_record rec;
        uint8_t prev[24];
        size_t prev_len = 0;
        int rc, first = 1;
        while ((rc = rd.base.next(&rd.base, &rec)) == 1) {
            assert_int_equal(kv_hash_partition(rec.key, rec.key_len, parts), p);
            if (!first)
                assert_true(kv_compare_bytes(prev, prev_len, rec.key, rec.key_len) <= 0);
            first = 0;
            memcpy(prev, rec.key, rec.key_len);
            prev_len = rec.key_len;
            int k = key_number(rec.key, rec.key_len);
            assert_true(k >= 0);
            uint64_t n;
            assert_int_equal(rec.value_len, sizeof(n));
            memcpy(&n, rec.value, sizeof(n));
            got->sum[k] += n;
            got->records++;
        }
        assert_int_equal(rc, 0);
        ifile_reader_close(&rd);
    }
    close(fd);
    unlink(path);
    unlink(ipath);
}

/* 120,000 pairs of NKEYS keys (a few hot ones, most rare) with counts
 * 1-3, through a collector of budget bytes into 3 partitions; the
 * totals per key and the stats. */
static void run_collector(ember_reduce_fn combine, const test_conf *conf, size_t budget,
                          totals *got, map_output_stats *st) {
    char dir[] = "/tmp/ember-mc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "sum", .combine = combine};
    mr_counters counters = {0};
    ember_task task = {
        .counters = &counters, .is_map = 1, .conf = conf_get, .conf_arg = (void *)conf};
    map_output_options o = {
        .dir = dir, .partitions = 3, .sort_bytes = budget, .job = &job, .task = &task};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    unsigned seed = 11;
    for (int i = 0; i < 120000; i++) {
        int r = rand_r(&seed);
        int k = r % 4 == 0 ? r / 4 % NKEYS : r / 4 % 20; /* 3 in 4 on 20 hot keys */
        uint64_t v = (uint64_t)(r / 1024 % 3) + 1;
        uint8_t key[24];
        size_t len = key_bytes(k, key);
        assert_int_equal(map_output_collect(m, key, len, &v, sizeof(v)), EMBER_OK);
    }
    assert_int_equal(map_output_finish(m, st), EMBER_OK);
    read_output(dir, 3, got);
    map_output_free(m);
    mr_counters_free(&counters);
    assert_int_equal(rmdir(dir), 0); /* the spills are gone */
}

static void expected_totals(totals *want) {
    memset(want, 0, sizeof(*want));
    unsigned seed = 11;
    for (int i = 0; i < 120000; i++) {
        int r = rand_r(&seed);
        int k = r % 4 == 0 ? r / 4 % NKEYS : r / 4 % 20;
        want->sum[k] += (uint64_t)(r / 1024 % 3) + 1;
        want->records++;
    }
}

static void test_collector_sum_combine(void **state) {
    (void)state;
    static totals want, got, sorted;
    expected_totals(&want);
    map_output_stats st;
    /* Budgets: one compaction after another; small enough to spill. */
    size_t budgets[] = {64u << 20, 160u << 10, 70u << 10};
    for (size_t b = 0; b < 3; b++) {
        test_conf conf = {0};
        combiner_calls = 0;
        run_collector(sum_combine, &conf, budgets[b], &got, &st);
        assert_memory_equal(got.sum, want.sum, sizeof(want.sum));
        assert_int_equal(st.output_records, 120000);
        assert_true(st.combine_input > 0 && st.combine_output < st.combine_input);
        if (b == 0) { /* everything in memory: one record per key */
            uint64_t keys = 0;
            for (int k = 0; k < NKEYS; k++)
                keys += want.sum[k] > 0;
            assert_int_equal(st.spills, 0);
            assert_int_equal(got.records, keys);
        }
        if (b == 2)
            assert_true(st.spills >= 1);
    }
    /* Hadoop's way gives the same totals. */
    test_conf off = {.hash = "false"};
    run_collector(sum_combine, &off, 160u << 10, &sorted, &st);
    assert_memory_equal(sorted.sum, want.sum, sizeof(want.sum));
}

/* ember_sum_u64 as the combiner: counts summed in place as they come
 * (combine_table.h's sum_u64), the same totals and one record per key as
 * a combiner of the job's own, and every pair counted as combiner input.
 * A value that is not 8 bytes fails the map, as the combiner would. */
static void test_collector_sum_u64(void **state) {
    (void)state;
    static totals want, got;
    expected_totals(&want);
    uint64_t keys = 0;
    for (int k = 0; k < NKEYS; k++)
        keys += want.sum[k] > 0;
    map_output_stats st;
    size_t budgets[] = {64u << 20, 160u << 10, 70u << 10, 40u << 10};
    for (size_t b = 0; b < 4; b++) {
        test_conf conf = {0};
        run_collector(ember_sum_u64, &conf, budgets[b], &got, &st);
        assert_memory_equal(got.sum, want.sum, sizeof(want.sum));
        assert_int_equal(st.output_records, 120000);
        if (b == 0) {
            assert_int_equal(st.spills, 0);
            assert_int_equal(got.records, keys);
            assert_int_equal(st.combine_input, 120000); /* summed + the spill's */
            assert_int_equal(st.combine_output, keys);
        } else {
            assert_true(st.combine_input >= 120000 && st.combine_output < st.combine_input);
        }
        if (b == 3)
            assert_true(st.spills >= 1);
    }

    char dir[] = "/tmp/ember-mc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "sum", .combine = ember_sum_u64};
    mr_counters counters = {0};
    test_conf conf = {0};
    ember_task task = {.counters = &counters, .is_map = 1, .conf = conf_get, .conf_arg = &conf};
    map_output_options o = {
        .dir = dir, .partitions = 1, .sort_bytes = 1u << 20, .job = &job, .task = &task};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    uint64_t one = 1;
    uint32_t four = 4;
    assert_int_equal(map_output_collect(m, "w", 1, &one, sizeof(one)), EMBER_OK);
    assert_int_equal(map_output_collect(m, "w", 1, &four, sizeof(four)), EMBER_OK);
    assert_int_equal(map_output_collect(m, "w", 1, &one, sizeof(one)), EMBER_OK);
    assert_int_equal(map_output_finish(m, NULL), EMBER_EINVAL);
    map_output_free(m);
    mr_counters_free(&counters);
    char path[64];
    snprintf(path, sizeof(path), "%s/file.out", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

static void test_collector_identity_combine(void **state) {
    (void)state;
    static totals want, got;
    expected_totals(&want);
    map_output_stats st;
    size_t budgets[] = {64u << 20, 100u << 10};
    for (size_t b = 0; b < 2; b++) {
        test_conf conf = {0};
        run_collector(identity_combine, &conf, budgets[b], &got, &st);
        assert_memory_equal(got.sum, want.sum, sizeof(want.sum));
        assert_int_equal(got.records, 120000); /* nothing lost, nothing made up */
        /* Nothing shrinks: the table is given up (spilled) mid-batch and
         * the rest goes through the sort buffer. */
        assert_true(st.spills >= 1);
        if (b == 1)
            assert_true(st.spills >= 2);
    }
}

static void test_streaming_combiner_runs_per_table(void **state) {
    (void)state;
    static totals want, got;
    expected_totals(&want);
    map_output_stats st;
    test_conf conf = {0};
    combiner_streams = 0;
    run_collector(sum_combine, &conf, 64u << 20, &got, &st);
    int per_key = combiner_streams;
    test_conf streaming = {.streaming = "cat"};
    combiner_streams = 0;
    run_collector(sum_combine, &streaming, 64u << 20, &got, &st);
    assert_memory_equal(got.sum, want.sum, sizeof(want.sum));
    /* A stream (a streaming combiner's process) per partition per
     * compaction or spill, a few; never one per full record, thousands. */
    assert_true(combiner_streams <= 3 * 8);
    assert_true(per_key > 1000);
}

/* Values as [u32 seq][u32 pad][pad bytes]: a combiner that joins a
 * key's values into one keeps every one, in the order it was given them. */
#define TEST_ORDER_KEYS 40
#define TEST_BIG_PAD 2100 /* past the collector's ring: it is emptied first */

static int join_combine(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    static uint8_t joined[1u << 20];
    size_t n = 0;
    const void *v;
    size_t len;
    while (ember_values_next(values, &v, &len)) {
        assert_true(n + len <= sizeof(joined));
        memcpy(joined + n, v, len);
        n += len;
    }
    return ember_emit(task, key, key_len, joined, n);
}

/* A key's values through the collector come out in the order emitted,
 * whatever the mix of pairs that pass the ring and pairs too large for it,
 * of keys that share 8-byte prefixes and hold NULs. */
static void test_collector_keeps_value_order(void **state) {
    (void)state;
    char dir[] = "/tmp/ember-mc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "join", .combine = join_combine};
    test_conf conf = {0};
    mr_counters counters = {0};
    ember_task task = {.counters = &counters, .is_map = 1, .conf = conf_get, .conf_arg = &conf};
    map_output_options o = {
        .dir = dir, .partitions = 2, .sort_bytes = 64u << 20, .job = &job, .task = &task};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    static uint32_t next[TEST_ORDER_KEYS];
    memset(next, 0, sizeof(next));
    static uint8_t value[8 + TEST_BIG_PAD];
    unsigned seed = 17;
    for (int i = 0; i < 20000; i++) {
        int r = rand_r(&seed), k = r % TEST_ORDER_KEYS;
        uint8_t key[24];
        size_t len = key_bytes(k * 3, key); /* a third share "samepref" */
        uint32_t head[2] = {next[k]++, r / 64 % 9 == 0 ? TEST_BIG_PAD : (uint32_t)(r / 1024 % 5)};
        memcpy(value, head, sizeof(head));
        memset(value + 8, (int)head[0], head[1]);
        assert_int_equal(map_output_collect(m, key, len, value, 8 + head[1]), EMBER_OK);
    }
    map_output_stats st;
    assert_int_equal(map_output_finish(m, &st), EMBER_OK);
    assert_true(st.combine_input > st.combine_output); /* keys were combined on their own */
    char path[256], ipath[256];
    snprintf(path, sizeof(path), "%s/file.out", dir);
    snprintf(ipath, sizeof(ipath), "%s/file.out.index", dir);
    ifile_range ranges[2];
    assert_int_equal(ifile_index_read(ipath, ranges, 2), EMBER_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    static uint32_t seen[TEST_ORDER_KEYS];
    memset(seen, 0, sizeof(seen));
    for (uint32_t p = 0; p < 2; p++) {
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &ranges[p], 4096), EMBER_OK);
        kv_record rec;
        while (rd.base.next(&rd.base, &rec) == 1) {
            int k = key_number(rec.key, rec.key_len);
            assert_true(k >= 0 && k % 3 == 0);
            const uint8_t *v = rec.value, *end = v + rec.value_len;
            while (v < end) { /* the joined values, in order */
                uint32_t head[2];
                assert_true(end - v >= 8);
                memcpy(head, v, sizeof(head));
                assert_int_equal(head[0], seen[k / 3]++);
                assert_true(head[1] == TEST_BIG_PAD || head[1] < 5);
                for (uint32_t b = 0; b < head[1]; b++)
                    assert_int_equal(v[8 + b], (uint8_t)head[0]);
                v += 8 + head[1];
            }
        }
        ifile_reader_close(&rd);
    }
    close(fd);
    assert_memory_equal(seen, next, sizeof(next));
    unlink(path);
    unlink(ipath);
    map_output_free(m);
    mr_counters_free(&counters);
    assert_int_equal(rmdir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_order_and_contents),
        cmocka_unit_test(test_table_keys_of_every_length),
        cmocka_unit_test(test_table_hash_collisions),
        cmocka_unit_test(test_collector_sum_combine),
        cmocka_unit_test(test_collector_sum_u64),
        cmocka_unit_test(test_collector_identity_combine),
        cmocka_unit_test(test_streaming_combiner_runs_per_table),
        cmocka_unit_test(test_collector_keeps_value_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
