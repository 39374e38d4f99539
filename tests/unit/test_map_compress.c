/* test_map_compress.c -- compressed map output: IFile segments through
 * lz4 and zstd and back (from a file through a small buffer, and from
 * memory as a fetched segment), records larger than a block, empty
 * segments, the index's raw and stored lengths; damage caught (a flipped
 * stored byte, a wrong CRC, a cut segment); and the collector spilling,
 * merging and combining compressed spills, the result summed and compared
 * with what was emitted; bad configuration values refused. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "mapreduce/ifile.h"
#include "mapreduce/map_output.h"
#include "mapreduce/task.h"

#define SEGMENTS 4
#define BIG (300u << 10) /* more than a block (128 KiB) */

/* Record i of segment s: key "s-i" (with a NUL), value of i * 37 % 500
 * bytes, mostly repetitive so it compresses; segment 1 is empty and
 * segment 3 has one value larger than a block. */
static size_t make_value(int s, int i, uint8_t *v) {
    size_t len = s == 3 && i == 5 ? BIG : (size_t)(i * 37 % 500);
    for (size_t j = 0; j < len; j++)
        v[j] = (uint8_t)(j % 7 == 0 ? i : 'a' + j % 3);
    return len;
}

static int records_of(int s) { return s == 1 ? 0 : 400 * (s + 1); }

static void write_segments(const char *path, const char *ipath, int codec, ifile_range *r) {
    ifile_writer w;
    assert_int_equal(ifile_writer_open_codec(&w, path, codec), EMBER_OK);
    uint8_t *v = malloc(BIG);
    for (int s = 0; s < SEGMENTS; s++) {
        ifile_writer_begin(&w);
        for (int i = 0; i < records_of(s); i++) {
            char key[32];
            int kl = snprintf(key, sizeof(key), "%d-%05d", s, i);
            key[kl] = '\0';
            size_t vl = make_value(s, i, v);
            assert_int_equal(ifile_writer_append(&w, key, (size_t)kl + 1, v, vl), EMBER_OK);
        }
        assert_int_equal(ifile_writer_end(&w, &r[s]), EMBER_OK);
    }
    free(v);
    uint64_t bytes;
    assert_int_equal(ifile_writer_close(&w, &bytes), EMBER_OK);
    assert_int_equal(ifile_index_write(ipath, r, SEGMENTS), EMBER_OK);
}

/* Reads segment s through rd and checks every record. */
static void check_segment(ifile_reader *rd, int s) {
    uint8_t *v = malloc(BIG);
    kv_record rec;
    int i = 0, rc;
    while ((rc = rd->base.next(&rd->base, &rec)) == 1) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "%d-%05d", s, i);
        assert_int_equal(rec.key_len, (size_t)kl + 1);
        assert_memory_equal(rec.key, key, (size_t)kl);
        size_t vl = make_value(s, i, v);
        assert_int_equal(rec.value_len, vl);
        if (vl > 0)
            assert_memory_equal(rec.value, v, vl);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, records_of(s));
    free(v);
}

static uint8_t *read_region(int fd, const ifile_range *r) {
    uint8_t *b = malloc(r->length);
    assert_int_equal(pread(fd, b, r->length, (off_t)r->offset), (ssize_t)r->length);
    return b;
}

static void round_trip(int codec) {
    char path[] = "/tmp/ember-mz-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    char ipath[64];
    snprintf(ipath, sizeof(ipath), "%s.index", path);
    ifile_range w[SEGMENTS], r[SEGMENTS];
    write_segments(path, ipath, codec, w);
    assert_int_equal(ifile_index_read(ipath, r, SEGMENTS), EMBER_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    for (int s = 0; s < SEGMENTS; s++) {
        assert_int_equal(r[s].offset, w[s].offset);
        assert_int_equal(r[s].length, w[s].length);
        assert_int_equal(r[s].raw_length, w[s].raw_length);
        assert_int_equal(r[s].records, (uint64_t)records_of(s));
        if (codec == IFILE_CODEC_NONE)
            assert_int_equal(r[s].raw_length, r[s].length);
        else if (s != 1) /* repetitive values: at least 3x smaller */
            assert_true(3 * r[s].length < r[s].raw_length);
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &r[s], 100), EMBER_OK); /* tiny buffer */
        check_segment(&rd, s);
        ifile_reader_close(&rd);
        uint8_t *seg = read_region(fd, &r[s]); /* a fetched segment */
        if (codec != IFILE_CODEC_NONE) {
            assert_int_equal(seg[0], 0x80);
            assert_int_equal(seg[1], 0x00);
            assert_int_equal(seg[2], codec);
        }
        ifile_reader_open_memory(&rd, seg, r[s].length);
        check_segment(&rd, s);
        ifile_reader_close(&rd);
        free(seg);
    }
    close(fd);
    unlink(path);
    unlink(ipath);
}

static void test_round_trip_lz4(void **state) {
    (void)state;
    round_trip(IFILE_CODEC_LZ4);
}

static void test_round_trip_zstd(void **state) {
    (void)state;
    round_trip(IFILE_CODEC_ZSTD);
}

static void test_round_trip_plain(void **state) {
    (void)state;
    round_trip(IFILE_CODEC_NONE);
}

/* Reads a damaged copy of a segment from memory: it must fail, and with
 * EMBER_ECORRUPT, never hand out all its records as if whole. */
static void expect_corrupt(const uint8_t *seg, size_t len) {
    ifile_reader rd;
    ifile_reader_open_memory(&rd, seg, len);
    kv_record rec;
    int rc;
    while ((rc = rd.base.next(&rd.base, &rec)) == 1)
        ;
    assert_int_equal(rc, EMBER_ECORRUPT);
    assert_int_equal(rd.base.next(&rd.base, &rec), EMBER_ECORRUPT); /* and stays so */
    ifile_reader_close(&rd);
}

static void damage(int codec) {
    char path[] = "/tmp/ember-mz-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    char ipath[64];
    snprintf(ipath, sizeof(ipath), "%s.index", path);
    ifile_range r[SEGMENTS];
    write_segments(path, ipath, codec, r);
    int fd = open(path, O_RDONLY);
    uint8_t *seg = read_region(fd, &r[2]);
    size_t len = r[2].length;
    /* A flipped byte anywhere in the stored blocks. */
    for (size_t at = 3; at < len - 4; at += len / 7) {
        seg[at] ^= 0x10;
        expect_corrupt(seg, len);
        seg[at] ^= 0x10;
    }
    /* The data whole, the CRC wrong: caught by the CRC alone. */
    seg[len - 1] ^= 1;
    expect_corrupt(seg, len);
    seg[len - 1] ^= 1;
    expect_corrupt(seg, len - 9); /* cut short */
    expect_corrupt(seg, len - 4); /* no CRC */
    seg[2] = 9;                   /* an unknown codec */
    expect_corrupt(seg, len);
    free(seg);
    close(fd);
    unlink(path);
    unlink(ipath);
}

static void test_damage_caught_lz4(void **state) {
    (void)state;
    damage(IFILE_CODEC_LZ4);
}

static void test_damage_caught_zstd(void **state) {
    (void)state;
    damage(IFILE_CODEC_ZSTD);
}

typedef struct {
    const char *compress, *codec, *hash;
} test_conf;

static const char *conf_get(void *arg, const char *key) {
    const test_conf *c = arg;
    if (strcmp(key, "mapreduce.map.output.compress") == 0)
        return c->compress;
    if (strcmp(key, "mapreduce.map.output.compress.codec") == 0)
        return c->codec;
    if (strcmp(key, "ember.map.combine.hash") == 0)
        return c->hash;
    return NULL;
}

static int sum_combine(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    uint64_t sum = 0, n;
    const void *v;
    size_t len;
    while (ember_values_next(values, &v, &len)) {
        assert_int_equal(len, sizeof(n));
        memcpy(&n, v, sizeof(n));
        sum += n;
    }
    return ember_emit(task, key, key_len, &sum, sizeof(sum));
}

#define NKEYS 700

/* 60,000 counts of NKEYS keys through a 256 KiB collector (spills, a
 * merge), 3 partitions; file.out's segments must carry the codec's
 * header and sum to what was emitted. */
static void run_collector(const test_conf *conf, ember_reduce_fn combine, int codec) {
    char dir[] = "/tmp/ember-mz-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "sum", .combine = combine};
    mr_counters counters = {0};
    ember_task task = {
        .counters = &counters, .is_map = 1, .conf = conf_get, .conf_arg = (void *)conf};
    map_output_options o = {
        .dir = dir, .partitions = 3, .sort_bytes = 256u << 10, .job = &job, .task = &task};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    uint64_t want[NKEYS] = {0}, got[NKEYS] = {0};
    unsigned seed = 5;
    for (int i = 0; i < 60000; i++) {
        int k = rand_r(&seed) % NKEYS;
        uint64_t v = (uint64_t)(rand_r(&seed) % 5);
        char key[32];
        int kl = snprintf(key, sizeof(key), "key-%d-%s", k, k % 2 ? "odd" : "even, longer");
        want[k] += v;
        assert_int_equal(map_output_collect(m, key, (size_t)kl, &v, sizeof(v)), EMBER_OK);
    }
    map_output_stats st;
    assert_int_equal(map_output_finish(m, &st), EMBER_OK);
    assert_true(st.spills >= 3 || combine != NULL); /* the plain runs spill and merge */
    char path[256], ipath[256];
    snprintf(path, sizeof(path), "%s/file.out", dir);
    snprintf(ipath, sizeof(ipath), "%s/file.out.index", dir);
    ifile_range r[3];
    assert_int_equal(ifile_index_read(ipath, r, 3), EMBER_OK);
    int fd = open(path, O_RDONLY);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, st.materialized_bytes);
    for (uint32_t p = 0; p < 3; p++) {
        uint8_t head[3];
        assert_int_equal(pread(fd, head, 3, (off_t)r[p].offset), 3);
        assert_int_equal(head[2], codec);
        assert_true(r[p].raw_length > r[p].length);
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &r[p], 4096), EMBER_OK);
        kv_record rec;
        int rc;
        while ((rc = rd.base.next(&rd.base, &rec)) == 1) {
            assert_int_equal(kv_hash_partition(rec.key, rec.key_len, 3), p);
            int k = atoi((const char *)rec.key + 4);
            uint64_t n;
            memcpy(&n, rec.value, sizeof(n));
            got[k] += n;
        }
        assert_int_equal(rc, 0);
        ifile_reader_close(&rd);
    }
    close(fd);
    assert_memory_equal(got, want, sizeof(want));
    unlink(path);
    unlink(ipath);
    map_output_free(m);
    mr_counters_free(&counters);
    assert_int_equal(rmdir(dir), 0);
}

static void test_collector_compresses(void **state) {
    (void)state;
    const char *codecs[] = {"lz4", "org.apache.hadoop.io.compress.ZStandardCodec"};
    int ids[] = {IFILE_CODEC_LZ4, IFILE_CODEC_ZSTD};
    for (int c = 0; c < 2; c++) {
        test_conf plain = {.compress = "true", .codec = codecs[c]};
        run_collector(&plain, NULL, ids[c]);
        run_collector(&plain, sum_combine, ids[c]); /* the combine table */
        test_conf sorted = {.compress = "TRUE", .codec = codecs[c], .hash = "false"};
        run_collector(&sorted, sum_combine, ids[c]); /* combine at spill and merge */
    }
    test_conf unset = {.compress = "true"}; /* no codec named: lz4 */
    run_collector(&unset, NULL, IFILE_CODEC_LZ4);
    test_conf snappy = {.compress = "true", .codec = "org.apache.hadoop.io.compress.SnappyCodec"};
    run_collector(&snappy, NULL, IFILE_CODEC_LZ4);
}

static void test_bad_configuration_refused(void **state) {
    (void)state;
    char dir[] = "/tmp/ember-mz-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "x"};
    test_conf bad[] = {{.compress = "yes"},
                       {.compress = "true", .codec = "bogus"},
                       {.compress = "true", .codec = "org.example.Lz4Codecs"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ember_task task = {.is_map = 1, .conf = conf_get, .conf_arg = &bad[i]};
        map_output_options o = {
            .dir = dir, .partitions = 1, .sort_bytes = 1u << 20, .job = &job, .task = &task};
        map_output *m = NULL;
        assert_int_equal(map_output_open(&o, &m), EMBER_EINVAL);
        assert_null(m);
    }
    int codec = -1;
    assert_int_equal(ifile_codec_parse("Lz4Codec", &codec), EMBER_OK);
    assert_int_equal(codec, IFILE_CODEC_LZ4);
    assert_int_equal(ifile_codec_parse("zstandard", &codec), EMBER_OK);
    assert_int_equal(codec, IFILE_CODEC_ZSTD);
    assert_int_equal(ifile_codec_parse("gzip", &codec), EMBER_EINVAL);
    assert_int_equal(rmdir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_plain),
        cmocka_unit_test(test_round_trip_lz4),
        cmocka_unit_test(test_round_trip_zstd),
        cmocka_unit_test(test_damage_caught_lz4),
        cmocka_unit_test(test_damage_caught_zstd),
        cmocka_unit_test(test_collector_compresses),
        cmocka_unit_test(test_bad_configuration_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
