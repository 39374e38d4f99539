/* test_map_output.c -- the map side's engine: the sort buffer's order
 * against a reference sort, IFile segments (round trip, corruption
 * caught), the merge of k streams, the grouping loop, and the collector
 * end to end: many spills, combiner at spill and merge, a record larger
 * than the sort buffer, NUL bytes, empty keys and values. */
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
#include "mapreduce/ifile.h"
#include "mapreduce/map_output.h"
#include "mapreduce/merger.h"
#include "mapreduce/mr_output.h"
#include "mapreduce/reduce_task.h"
#include "mapreduce/sort_buffer.h"
#include "mapreduce/task.h"

/* A random key: 0-20 bytes from a small alphabet with NULs, often sharing
 * an 8-byte prefix with others, so prefix ties and length ties occur. */
static size_t random_key(unsigned *seed, uint8_t *k) {
    size_t len = (size_t)(rand_r(seed) % 21);
    int shared = rand_r(seed) % 3 == 0;
    for (size_t i = 0; i < len; i++)
        k[i] = shared && i < 8 ? (uint8_t) "commonpr"[i] : (uint8_t) "\0abz\xff"[rand_r(seed) % 5];
    return len;
}

typedef struct {
    uint32_t part;
    uint8_t key[24];
    size_t key_len;
    uint32_t value;
} ref_rec;

static int ref_compare(const void *a, const void *b) {
    const ref_rec *x = a, *y = b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    return kv_compare_bytes(x->key, x->key_len, y->key, y->key_len);
}

static int reverse_compare(const void *a, size_t al, const void *b, size_t bl) {
    return kv_compare_bytes(b, bl, a, al);
}

/* Fills a sort buffer with n random records in parts partitions, sorts it,
 * and checks every partition's stream against qsort of the same records
 * (keys only: equal keys may come in any order). */
static void check_sort(size_t n, uint32_t parts, ember_compare_fn cmp) {
    sort_buffer sb;
    assert_int_equal(sort_buffer_init(&sb, 1u << 20, cmp), EMBER_OK);
    ref_rec *ref = calloc(n, sizeof(*ref));
    assert_non_null(ref);
    unsigned seed = (unsigned)n * 31u + parts;
    for (size_t i = 0; i < n; i++) {
        ref[i].part = (uint32_t)rand_r(&seed) % parts;
        ref[i].key_len = random_key(&seed, ref[i].key);
        ref[i].value = (uint32_t)i;
        assert_true(sort_buffer_fits(&sb, ref[i].key_len, 4));
        sort_buffer_add(&sb, ref[i].part, ref[i].key, ref[i].key_len, &ref[i].value, 4);
    }
    sort_buffer_sort(&sb);
    qsort(ref, n, sizeof(*ref), ref_compare);
    size_t at = 0;
    for (uint32_t p = 0; p < parts; p++) {
        sort_buffer_reader r;
        sort_buffer_stream(&sb, p, &r);
        kv_record rec;
        const ref_rec *prev = NULL;
        kv_record last = {0};
        while (r.base.next(&r.base, &rec) == 1) {
            assert_true(at < n);
            if (cmp == NULL) {
                assert_int_equal(ref[at].part, p);
                assert_int_equal(rec.key_len, ref[at].key_len);
                assert_memory_equal(rec.key, ref[at].key, rec.key_len);
            } else if (prev != NULL) {
                assert_true(cmp(last.key, last.key_len, rec.key, rec.key_len) <= 0);
            }
            prev = &ref[at];
            last = rec;
            at++;
        }
    }
    assert_int_equal(at, n);
    free(ref);
    sort_buffer_free(&sb);
}

static void test_sort_buffer_order(void **state) {
    (void)state;
    check_sort(0, 1, NULL);
    check_sort(1, 1, NULL);
    check_sort(31, 1, NULL);   /* insertion sort only */
    check_sort(5000, 1, NULL); /* radix, prefix ties to quicksort */
    check_sort(20000, 7, NULL);
    check_sort(5000, 3, reverse_compare); /* a job's comparator */
}

static void test_hash_partition_is_hadoops(void **state) {
    (void)state;
    /* Text.hashCode() = WritableComparator.hashBytes (31 * h + signed
     * byte, from 1); HashPartitioner: (h & MAX_INT) % n.  Computed
     * independently with Java's int arithmetic. */
    assert_int_equal(kv_hash_partition("hello", 5, 10), 3);
    assert_int_equal(kv_hash_partition("", 0, 7), 1);
    assert_int_equal(kv_hash_partition("\xff\xfe", 2, 3), 1);
    assert_int_equal(kv_hash_partition("the quick brown fox", 19, 100), 46);
}

/* Writes three segments to a file and reads them back; then each kind of
 * damage is caught. */
static void test_ifile_round_trip_and_damage(void **state) {
    (void)state;
    char dir[] = "/tmp/ember-mr-XXXXXX", path[256], ipath[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/file.out", dir);
    snprintf(ipath, sizeof(ipath), "%s/file.out.index", dir);
    ifile_writer w;
    assert_int_equal(ifile_writer_open(&w, path), EMBER_OK);
    ifile_range r[3];
    char big[3000];
    memset(big, 'v', sizeof(big));
    for (int s = 0; s < 3; s++) {
        ifile_writer_begin(&w);
        for (int i = 0; i < s * 100; i++) {
            char k[16];
            int kl = snprintf(k, sizeof(k), "k%05d", i);
            assert_int_equal(ifile_writer_append(&w, k, (size_t)kl, big, (size_t)(i * 29) % 3000),
                             EMBER_OK);
        }
        assert_int_equal(ifile_writer_append(&w, "", 0, "\0x", 2), EMBER_OK);
        assert_int_equal(ifile_writer_end(&w, &r[s]), EMBER_OK);
    }
    uint64_t bytes;
    assert_int_equal(ifile_writer_close(&w, &bytes), EMBER_OK);
    assert_int_equal(ifile_index_write(ipath, r, 3), EMBER_OK);
    ifile_range back[3];
    assert_int_equal(ifile_index_read(ipath, back, 3), EMBER_OK);
    assert_memory_equal(back, r, sizeof(r));
    assert_int_equal(back[2].offset + back[2].length, bytes);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    for (int s = 0; s < 3; s++) {
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &back[s], 100), EMBER_OK); /* tiny buffer */
        kv_record rec;
        int n = 0;
        while (rd.base.next(&rd.base, &rec) == 1) {
            if (n < s * 100) {
                char k[16];
                int kl = snprintf(k, sizeof(k), "k%05d", n);
                assert_int_equal(rec.key_len, (size_t)kl);
                assert_memory_equal(rec.key, k, (size_t)kl);
                assert_int_equal(rec.value_len, (size_t)(n * 29) % 3000);
            } else {
                assert_int_equal(rec.key_len, 0);
                assert_int_equal(rec.value_len, 2);
            }
            n++;
        }
        assert_int_equal(rd.base.next(&rd.base, &rec), 0);
        assert_int_equal(n, s * 100 + 1);
        assert_int_equal(back[s].records, (uint64_t)n);
        ifile_reader_close(&rd);
    }
    /* One flipped byte inside segment 1: its CRC fails. */
    uint8_t b;
    off_t at = (off_t)(back[1].offset + back[1].length / 2);
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    ifile_reader rd;
    assert_int_equal(ifile_reader_open(&rd, fd, &back[1], 4096), EMBER_OK);
    kv_record rec;
    int rc;
    while ((rc = rd.base.next(&rd.base, &rec)) == 1)
        ;
    assert_int_equal(rc, EMBER_ECORRUPT);
    assert_int_equal(rd.base.next(&rd.base, &rec), EMBER_ECORRUPT); /* and stays so */
    ifile_reader_close(&rd);
    /* A segment cut short (the file truncated under it). */
    assert_int_equal(ftruncate(fd, (off_t)(back[2].offset + 10)), 0);
    assert_int_equal(ifile_reader_open(&rd, fd, &back[2], 4096), EMBER_OK);
    while ((rc = rd.base.next(&rd.base, &rec)) == 1)
        ;
    assert_int_equal(rc, EMBER_ECORRUPT);
    ifile_reader_close(&rd);
    close(fd);
    /* A damaged index. */
    fd = open(ipath, O_RDWR);
    assert_int_equal(pwrite(fd, "\x01", 1, 3), 1);
    close(fd);
    assert_int_equal(ifile_index_read(ipath, back, 3), EMBER_ECORRUPT);
    assert_int_equal(ifile_index_read(ipath, back, 2), EMBER_ECORRUPT); /* wrong size */
    /* A segment in memory with a length past its end. */
    uint8_t seg[] = {5, 1, 'a', 'b'};
    ifile_reader_open_memory(&rd, seg, sizeof(seg));
    assert_int_equal(rd.base.next(&rd.base, &rec), EMBER_ECORRUPT);
    unlink(path);
    unlink(ipath);
    rmdir(dir);
}

/* A stream over an array of records. */
typedef struct {
    kv_stream base;
    const kv_record *recs;
    size_t n, at;
} array_stream;

static int array_next(kv_stream *s, kv_record *out) {
    array_stream *a = (array_stream *)s;
    if (a->at == a->n)
        return 0;
    *out = a->recs[a->at++];
    return 1;
}

/* k sorted streams of keys "%04d" (value: the stream's number); the merge
 * is sorted, complete, and equal keys come in stream order. */
static void test_merger_k_ways(void **state) {
    (void)state;
    static char keys[8][200][8];
    static const char names[8] = {'0', '1', '2', '3', '4', '5', '6', '7'};
    for (int k = 1; k <= 8; k++) {
        kv_record recs[8][200];
        array_stream as[8];
        kv_stream *in[8];
        size_t total = 0;
        for (int s = 0; s < k; s++) {
            int n = (s * 37) % 200; /* stream 0 is empty */
            for (int i = 0; i < n; i++) {
                snprintf(keys[s][i], 8, "%04d", i * (s + 1) % 300);
                recs[s][i] = (kv_record){(uint8_t *)keys[s][i], 4, (uint8_t *)&names[s], 1};
            }
            qsort(keys[s], (size_t)n, 8, (int (*)(const void *, const void *))strcmp);
            as[s] = (array_stream){{array_next}, recs[s], (size_t)n, 0};
            in[s] = &as[s].base;
            total += (size_t)n;
        }
        merger m;
        assert_int_equal(merger_init(&m, in, k, NULL), EMBER_OK);
        kv_record prev = {0}, rec;
        size_t got = 0;
        while (m.base.next(&m.base, &rec) == 1) {
            if (got > 0) {
                int c = kv_compare_bytes(prev.key, 4, rec.key, 4);
                assert_true(c < 0 || (c == 0 && prev.value[0] <= rec.value[0]));
            }
            prev = rec;
            got++;
        }
        assert_int_equal(got, total);
        merger_free(&m);
    }
}

/* Sums the decimal values of a group and emits the sum; with
 * "partial" in the configuration it reads only the first value. */
static int sum_reduce(ember_task *t, const void *key, size_t key_len, ember_values *v) {
    const void *val;
    size_t len;
    long sum = 0;
    while (ember_values_next(v, &val, &len)) {
        char buf[32];
        memcpy(buf, val, len < 31 ? len : 31);
        buf[len < 31 ? len : 31] = '\0';
        sum += strtol(buf, NULL, 10);
        if (ember_conf(t, "partial") != NULL)
            break;
    }
    char out[32];
    int n = snprintf(out, sizeof(out), "%ld", sum);
    return ember_emit(t, key, key_len, out, (size_t)n);
}

typedef struct {
    char keys[64][8];
    long sums[64];
    int n;
} collected;

static int collect_emit(void *arg, const void *key, size_t kl, const void *val, size_t vl) {
    collected *c = arg;
    snprintf(c->keys[c->n], 8, "%.*s", (int)kl, (const char *)key);
    char buf[32];
    snprintf(buf, sizeof(buf), "%.*s", (int)vl, (const char *)val);
    c->sums[c->n++] = strtol(buf, NULL, 10);
    return 0;
}

static const char *partial_conf(void *arg, const char *key) {
    (void)arg;
    return strcmp(key, "partial") == 0 ? "1" : NULL;
}

static void test_group_each(void **state) {
    (void)state;
    kv_record recs[] = {
        {(uint8_t *)"a", 1, (uint8_t *)"1", 1}, {(uint8_t *)"a", 1, (uint8_t *)"2", 1},
        {(uint8_t *)"b", 1, (uint8_t *)"5", 1}, {(uint8_t *)"c", 1, (uint8_t *)"1", 1},
        {(uint8_t *)"c", 1, (uint8_t *)"1", 1}, {(uint8_t *)"c", 1, (uint8_t *)"1", 1}};
    for (int partial = 0; partial < 2; partial++) {
        array_stream as = {{array_next}, recs, 6, 0};
        collected c = {0};
        mr_counters counters = {0};
        ember_task t = {.emit = collect_emit,
                        .emit_arg = &c,
                        .counters = &counters,
                        .conf = partial ? partial_conf : NULL};
        mr_group_stats read;
        assert_int_equal(mr_group_each(&as.base, NULL, sum_reduce, &t, &read), EMBER_OK);
        assert_int_equal(read.records, 6);
        assert_int_equal(read.groups, 3);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.keys[0], "a");
        assert_string_equal(c.keys[2], "c");
        assert_int_equal(c.sums[0], partial ? 1 : 3);
        assert_int_equal(c.sums[1], 5);
        assert_int_equal(c.sums[2], partial ? 1 : 3);
        mr_counters_free(&counters);
    }
}

/* Checks that each value (a decimal length) is its group's key's length
 * and the key one repeated byte; counts groups. */
static int key_check_reduce(ember_task *t, const void *key, size_t key_len, ember_values *v) {
    int *groups = t->emit_arg;
    const void *val;
    size_t len;
    while (ember_values_next(v, &val, &len)) {
        char buf[8];
        snprintf(buf, sizeof(buf), "%.*s", (int)len, (const char *)val);
        assert_int_equal(key_len, strtoul(buf, NULL, 10));
        for (size_t i = 0; i < key_len; i++)
            assert_int_equal(((const uint8_t *)key)[i], ((const uint8_t *)key)[0]);
    }
    (*groups)++;
    return 0;
}

/* Keys longer than the 64 bytes the grouping loop keeps on its stack,
 * then shorter, then longer again: every group sees its whole key. */
static void test_group_each_long_keys(void **state) {
    (void)state;
    static uint8_t x[100], y[300], z[70], a[1];
    memset(x, 'x', sizeof(x));
    memset(y, 'y', sizeof(y));
    memset(z, 'z', sizeof(z));
    a[0] = 'a';
    kv_record recs[] = {{x, 100, (uint8_t *)"100", 3}, {x, 100, (uint8_t *)"100", 3},
                        {a, 1, (uint8_t *)"1", 1},     {y, 300, (uint8_t *)"300", 3},
                        {z, 70, (uint8_t *)"70", 2},   {z, 70, (uint8_t *)"70", 2},
                        {a, 1, (uint8_t *)"1", 1}};
    array_stream as = {{array_next}, recs, 7, 0};
    int groups = 0;
    ember_task t = {.emit_arg = &groups};
    mr_group_stats read;
    assert_int_equal(mr_group_each(&as.base, NULL, key_check_reduce, &t, &read), EMBER_OK);
    assert_int_equal(read.records, 7);
    assert_int_equal(groups, 5);
}

/* The collector end to end: 30,000 pairs of 500 distinct keys into a
 * sort buffer of 64 KiB (dozens of spills), 4 partitions, with and without
 * a summing combiner, plus one pair larger than the whole buffer.  Every
 * partition of file.out is sorted, holds only its keys, and the sums per
 * key are what was emitted. */
static const char *sorted_combine_conf(void *arg, const char *key) {
    (void)arg;
    return strcmp(key, "ember.map.combine.hash") == 0 ? "false" : NULL;
}

/* with_combiner: 0 none, 1 in the combine table, 2 Hadoop's way (sort,
 * then combine each spill). */
static void run_collector(int with_combiner) {
    char dir[] = "/tmp/ember-mr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {
        .abi = EMBER_JOB_ABI, .name = "sum", .combine = with_combiner ? sum_reduce : NULL};
    mr_counters counters = {0};
    ember_task task = {.counters = &counters,
                       .is_map = 1,
                       .conf = with_combiner == 2 ? sorted_combine_conf : NULL};
    map_output_options o = {
        .dir = dir, .partitions = 4, .sort_bytes = 64 * 1024, .job = &job, .task = &task};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    long expect[500] = {0};
    unsigned seed = 7;
    for (int i = 0; i < 30000; i++) {
        int k = rand_r(&seed) % 500, v = rand_r(&seed) % 10;
        char key[8], val[4];
        int kl = snprintf(key, sizeof(key), "k%03d", k);
        key[kl] = '\0'; /* keys end in NUL: 5 bytes */
        int vl = snprintf(val, sizeof(val), "%d", v);
        expect[k] += v;
        assert_int_equal(map_output_collect(m, key, (size_t)kl + 1, val, (size_t)vl), EMBER_OK);
    }
    size_t big_len = 100 * 1024;
    char *big = malloc(big_len);
    memset(big, '0', big_len); /* the number 0, very long */
    assert_int_equal(map_output_collect(m, "k007", 5, big, big_len), EMBER_OK);
    free(big);
    map_output_stats st;
    assert_int_equal(map_output_finish(m, &st), EMBER_OK);
    /* The table combines 500 keys in 64 KiB: only the large pair is
     * spilled on its own. */
    assert_true(with_combiner == 1 ? st.spills >= 1 : st.spills > 10);
    assert_int_equal(st.output_records, 30001);
    if (with_combiner) {
        assert_true(st.combine_input > 0);
        assert_true(st.combine_output < st.combine_input);
    }
    assert_int_equal(mr_counters_get(&counters, MR_GROUP_TASK, "Map output records"), 30001);
    char path[256], ipath[256];
    snprintf(path, sizeof(path), "%s/file.out", dir);
    snprintf(ipath, sizeof(ipath), "%s/file.out.index", dir);
    ifile_range r[4];
    assert_int_equal(ifile_index_read(ipath, r, 4), EMBER_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    long got[500] = {0};
    uint64_t records = 0;
    for (uint32_t p = 0; p < 4; p++) {
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &r[p], 4096), EMBER_OK);
        kv_record rec, prev = {0};
        char prevkey[8] = "";
        int rc;
        while ((rc = rd.base.next(&rd.base, &rec)) == 1) {
            assert_int_equal(rec.key_len, 5);
            assert_int_equal(kv_hash_partition(rec.key, rec.key_len, 4), p);
            if (prev.key != NULL)
                assert_true(kv_compare_bytes(prevkey, 5, rec.key, 5) <= 0);
            memcpy(prevkey, rec.key, 5);
            prev = rec;
            int k = atoi((const char *)rec.key + 1);
            char val[32] = "";
            if (rec.value_len < sizeof(val))
                memcpy(val, rec.value, rec.value_len);
            got[k] += strtol(val, NULL, 10);
            records++;
        }
        assert_int_equal(rc, 0);
        ifile_reader_close(&rd);
    }
    close(fd);
    for (int k = 0; k < 500; k++)
        assert_int_equal(got[k], expect[k]);
    if (!with_combiner)
        assert_int_equal(records, 30001);
    else
        assert_true(records <= 500 + 1);
    map_output_free(m);
    mr_counters_free(&counters);
    /* Only file.out and its index are left: the spills are gone. */
    unlink(path);
    unlink(ipath);
    assert_int_equal(rmdir(dir), 0);
}

static void test_collector_without_combiner(void **state) {
    (void)state;
    run_collector(0);
}

static void test_collector_with_combiner(void **state) {
    (void)state;
    run_collector(1);
    run_collector(2);
}

static uint32_t bad_partition(const void *key, size_t key_len, uint32_t n) {
    (void)key, (void)key_len;
    return n; /* out of range */
}

static void test_collector_refuses_bad_partition(void **state) {
    (void)state;
    char dir[] = "/tmp/ember-mr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .partition = bad_partition};
    map_output_options o = {.dir = dir, .partitions = 2, .sort_bytes = 4096, .job = &job};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    assert_int_equal(map_output_collect(m, "k", 1, "v", 1), EMBER_EINVAL);
    assert_int_equal(map_output_finish(m, NULL), EMBER_EINVAL);
    map_output_free(m);
    assert_int_equal(rmdir(dir), 0);
}

/* Reads a whole local file into a NUL-terminated string. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Compares the first byte only: "a1" and "a2" group together. */
static int first_byte_compare(const void *a, size_t al, const void *b, size_t bl) {
    return kv_compare_bytes(a, al < 1 ? al : 1, b, bl < 1 ? bl : 1);
}

/* Reduce over three sorted inputs: sums per key through the text writer;
 * then the identity reduce with a coarser grouping comparator (secondary
 * sort) writes every pair under its own key; empty values write the key
 * alone. */
static void test_reduce_to_text(void **state) {
    (void)state;
    kv_record a[] = {{(uint8_t *)"a1", 2, (uint8_t *)"1", 1},
                     {(uint8_t *)"b", 1, (uint8_t *)"2", 1}};
    kv_record b[] = {{(uint8_t *)"a1", 2, (uint8_t *)"5", 1},
                     {(uint8_t *)"a2", 2, (uint8_t *)"", 0}};
    kv_record c[] = {{(uint8_t *)"b", 1, (uint8_t *)"3", 1}};
    char dir[] = "/tmp/ember-mr-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/part-r-00000", dir);
    for (int identity = 0; identity < 2; identity++) {
        array_stream as[3] = {
            {{array_next}, a, 2, 0}, {{array_next}, b, 2, 0}, {{array_next}, c, 1, 0}};
        kv_stream *in[3] = {&as[0].base, &as[1].base, &as[2].base};
        mr_sink *sink;
        assert_int_equal(mr_sink_local(path, &sink), EMBER_OK);
        mr_text_writer w;
        assert_int_equal(mr_text_writer_init(&w, sink, NULL), EMBER_OK);
        mr_record_sink out = {mr_text_writer_write, &w};
        ember_job job = {.abi = EMBER_JOB_ABI,
                         .reduce = identity ? NULL : sum_reduce,
                         .group_compare = identity ? first_byte_compare : NULL};
        mr_counters counters = {0};
        ember_task task = {.counters = &counters};
        reduce_stats st;
        assert_int_equal(reduce_run(&job, &task, in, 3, &out, &st), EMBER_OK);
        assert_int_equal(mr_text_writer_close(&w), EMBER_OK);
        assert_int_equal(st.input_records, 5);
        if (identity) {
            assert_int_equal(st.input_groups, 2); /* a*, b */
            assert_string_equal(slurp(path), "a1\t1\na1\t5\na2\nb\t2\nb\t3\n");
        } else {
            assert_int_equal(st.input_groups, 3);
            assert_string_equal(slurp(path), "a1\t6\na2\t0\nb\t5\n");
        }
        assert_int_equal(mr_counters_get(&counters, MR_GROUP_TASK, "Reduce output records"),
                         identity ? 5 : 3);
        mr_counters_free(&counters);
    }
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_buffer_order),
        cmocka_unit_test(test_hash_partition_is_hadoops),
        cmocka_unit_test(test_ifile_round_trip_and_damage),
        cmocka_unit_test(test_merger_k_ways),
        cmocka_unit_test(test_group_each),
        cmocka_unit_test(test_group_each_long_keys),
        cmocka_unit_test(test_collector_without_combiner),
        cmocka_unit_test(test_collector_with_combiner),
        cmocka_unit_test(test_collector_refuses_bad_partition),
        cmocka_unit_test(test_reduce_to_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
