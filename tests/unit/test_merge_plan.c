/* test_merge_plan.c -- multi-pass merges bounded by the merge factor
 * (mapreduce/merge_plan.c): 1 to 40 segments, on disk and in memory, with
 * factors 2 to 5 merge into exactly a stable reference sort, never with
 * more than factor segment files open, the intermediate files gone
 * afterwards (after a damaged or missing segment too); under an
 * RLIMIT_NOFILE that leaves room for factor + 1 descriptors the plan
 * succeeds where a one-pass merge fails; a reduce over 30 map outputs
 * with factor 2 sums right; and a map with dozens of spills merged with
 * factor 3 (with and without the combiner) writes every record, counting
 * the intermediate writes as Spilled Records. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "mapreduce/ifile.h"
#include "mapreduce/map_output.h"
#include "mapreduce/merge_plan.h"
#include "mapreduce/merger.h"
#include "mapreduce/reduce_task.h"
#include "mapreduce/task.h"

#define MAX_SEGS 40
#define MAX_RECS 60

/* A record of the reference: its key and where it came from (segment,
 * position), which is also its value: "SS.PPP". */
typedef struct {
    char key[4];
    size_t key_len;
    int seg, pos;
} ref_rec;

static int ref_compare(const void *a, const void *b) {
    const ref_rec *x = a, *y = b;
    int c = kv_compare_bytes(x->key, x->key_len, y->key, y->key_len);
    if (c != 0)
        return c;
    return x->seg != y->seg ? x->seg - y->seg : x->pos - y->pos; /* stable */
}

/* Writes recs[0, n) (sorted) as one segment of a new file; its range. */
static void write_segment(const char *path, const ref_rec *recs, int n, int codec,
                          ifile_range *range) {
    ifile_writer w;
    assert_int_equal(ifile_writer_open_codec(&w, path, codec), EMBER_OK);
    ifile_writer_begin(&w);
    for (int i = 0; i < n; i++) {
        char v[16];
        int vl = snprintf(v, sizeof(v), "%02d.%03d", recs[i].seg, recs[i].pos);
        assert_int_equal(ifile_writer_append(&w, recs[i].key, recs[i].key_len, v, (size_t)vl),
                         EMBER_OK);
    }
    assert_int_equal(ifile_writer_end(&w, range), EMBER_OK);
    uint64_t bytes;
    assert_int_equal(ifile_writer_close(&w, &bytes), EMBER_OK);
}

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*len ? *len : 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

/* Files in dir whose name holds ".merge": intermediate files left over. */
static int count_intermediate(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".merge") != NULL;
    closedir(d);
    return n;
}

typedef struct {
    char dir[32];
    char paths[MAX_SEGS][64];
    merge_segment segs[MAX_SEGS];
    void *memory[MAX_SEGS];
    int records[MAX_SEGS]; /* segment i's */
    ref_rec *all;          /* every record, sorted as the merge must come out */
    int nall, n;
} segment_set;

/* n sorted segments of random records (keys of 0-2 letters of "ab":
 * many ties), every fifth empty, every fourth lz4; every third in memory
 * when with_memory. */
static void make_segments(segment_set *s, int n, int with_memory, unsigned seed) {
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "/tmp/ember-plan-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    s->all = calloc(MAX_SEGS * MAX_RECS, sizeof(*s->all));
    assert_non_null(s->all);
    s->n = n;
    for (int i = 0; i < n; i++) {
        ref_rec recs[MAX_RECS];
        int count = 1 + rand_r(&seed) % MAX_RECS;
        if (i % 5 == 3)
            count = 0; /* empty (lz4 at 13, 33; in memory at 8, 23, 38) */
        s->records[i] = count;
        for (int j = 0; j < count; j++) {
            recs[j].key_len = (size_t)(rand_r(&seed) % 3);
            for (size_t c = 0; c < recs[j].key_len; c++)
                recs[j].key[c] = "ab"[rand_r(&seed) % 2];
            recs[j].seg = i;
            recs[j].pos = 0;
        }
        qsort(recs, (size_t)count, sizeof(*recs), ref_compare);
        for (int j = 0; j < count; j++) {
            recs[j].pos = j; /* the order within the segment, after sorting */
            s->all[s->nall++] = recs[j];
        }
        snprintf(s->paths[i], sizeof(s->paths[i]), "%s/seg%02d", s->dir, i);
        write_segment(s->paths[i], recs, count, i % 4 == 1 ? IFILE_CODEC_LZ4 : IFILE_CODEC_NONE,
                      &s->segs[i].range);
        s->segs[i].path = s->paths[i];
        if (with_memory && i % 3 == 2) {
            s->memory[i] = read_file(s->paths[i], &s->segs[i].len);
            s->segs[i].data = s->memory[i];
            s->segs[i].path = NULL;
        }
    }
    qsort(s->all, (size_t)s->nall, sizeof(*s->all), ref_compare);
}

static void free_segments(segment_set *s) {
    for (int i = 0; i < s->n; i++) {
        unlink(s->paths[i]);
        free(s->memory[i]);
    }
    assert_int_equal(count_intermediate(s->dir), 0);
    assert_int_equal(rmdir(s->dir), 0);
    free(s->all);
}

/* Merges s with factor and checks the output against the reference. */
static void check_merge(segment_set *s, int factor) {
    merge_plan_options o = {.factor = factor,
                            .dir = s->dir,
                            .name = "t",
                            .codec = IFILE_CODEC_NONE,
                            .memory = 1u << 20};
    merge_plan *p;
    assert_int_equal(merge_plan_open(&o, s->segs, s->n, &p), EMBER_OK);
    const merge_plan_stats *st = merge_plan_get_stats(p);
    int files = 0; /* empty ones are left out */
    for (int i = 0; i < s->n; i++)
        files += s->segs[i].path != NULL && s->records[i] > 0;
    /* Hadoop's count: the first pass brings files - 1 to a multiple of
     * factor - 1, every later pass takes factor. */
    uint64_t passes = files > factor ? (uint64_t)(files - 2) / (uint64_t)(factor - 1) : 0;
    assert_int_equal(st->passes, passes);
    assert_true(st->peak_files <= factor);
    int k;
    kv_stream **in = merge_plan_streams(p, &k);
    assert_true(k <= s->n);
    merger m;
    assert_int_equal(merger_init(&m, in, k, NULL), EMBER_OK);
    kv_record r;
    int got = 0;
    while (m.base.next(&m.base, &r) == 1) {
        assert_true(got < s->nall);
        const ref_rec *want = &s->all[got++];
        char v[16];
        int vl = snprintf(v, sizeof(v), "%02d.%03d", want->seg, want->pos);
        assert_int_equal(r.key_len, want->key_len);
        assert_memory_equal(r.key, want->key, r.key_len);
        assert_int_equal(r.value_len, (size_t)vl);
        assert_memory_equal(r.value, v, (size_t)vl);
    }
    assert_int_equal(got, s->nall);
    merger_free(&m);
    merge_plan_free(p);
}

static void test_plan_equals_stable_sort(void **state) {
    (void)state;
    /* 0 to 16 segments, then every fifth to 40; every third in memory
     * when n is odd. */
    for (int n = 0; n <= MAX_SEGS; n += n < 16 ? 1 : 5 - n % 5) {
        segment_set s;
        make_segments(&s, n, n % 2, (unsigned)n * 7);
        for (int factor = 2; factor <= 5; factor++)
            check_merge(&s, factor);
        free_segments(&s);
    }
}

static void test_plan_refuses_bad_factor(void **state) {
    (void)state;
    merge_plan_options o = {.factor = 1, .dir = "/tmp", .name = "t"};
    merge_plan *p = (merge_plan *)&o;
    assert_int_equal(merge_plan_open(&o, NULL, 0, &p), EMBER_EINVAL);
    assert_null(p);
}

/* The lowest descriptor limit under which `free_fds` descriptors can
 * still be opened (the process's own stay open below it). */
static rlim_t limit_for(int free_fds) {
    rlim_t lim = 0;
    for (int left = free_fds; left > 0; lim++)
        if (fcntl((int)lim, F_GETFD) < 0)
            left--;
    return lim;
}

/* 30 segment files: with factor 3 the plan needs 3 to read and 1 to
 * write, and succeeds under a limit of that many free descriptors; the
 * same merge in one pass (factor 30) runs out of them. */
static void test_plan_under_fd_limit(void **state) {
    (void)state;
    segment_set s;
    make_segments(&s, 30, 0, 99);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit tight = {.rlim_cur = limit_for(3 + 1), .rlim_max = old.rlim_max};
    merge_plan_options o = {
        .factor = 3, .dir = s.dir, .name = "t", .codec = IFILE_CODEC_NONE, .memory = 1u << 20};
    merge_plan *p = NULL;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    int ok = merge_plan_open(&o, s.segs, s.n, &p), got = 0, peak = -1;
    if (ok == EMBER_OK) {
        peak = merge_plan_get_stats(p)->peak_files;
        int k;
        kv_stream **in = merge_plan_streams(p, &k);
        merger m;
        kv_record r;
        if (merger_init(&m, in, k, NULL) == EMBER_OK) {
            while (m.base.next(&m.base, &r) == 1)
                got++;
            merger_free(&m);
        }
        merge_plan_free(p);
    }
    o.factor = 30; /* the same limit, every descriptor free again */
    merge_plan *q = NULL;
    int one_pass = merge_plan_open(&o, s.segs, s.n, &q);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(ok, EMBER_OK);
    assert_true(peak >= 1 && peak <= 3);
    assert_int_equal(got, s.nall);
    assert_int_equal(one_pass, EMBER_EIO);
    assert_null(q);
    free_segments(&s);
}

/* A damaged segment fails the pass that reads it (EMBER_ECORRUPT), a
 * missing one the pass that opens it (EMBER_EIO); either way no
 * intermediate file is left. */
static void test_plan_failure_cleans_up(void **state) {
    (void)state;
    segment_set s;
    make_segments(&s, 12, 0, 3);
    for (int i = 0; i < s.n; i++) { /* every CRC wrong: the first pass fails */
        int fd = open(s.paths[i], O_RDWR);
        assert_true(fd >= 0);
        uint8_t b;
        off_t at = (off_t)(s.segs[i].range.length - 1);
        assert_int_equal(pread(fd, &b, 1, at), 1);
        b ^= 0x55;
        assert_int_equal(pwrite(fd, &b, 1, at), 1);
        close(fd);
    }
    merge_plan_options o = {.factor = 3, .dir = s.dir, .name = "t", .memory = 1u << 20};
    merge_plan *p = (merge_plan *)&o;
    assert_int_equal(merge_plan_open(&o, s.segs, s.n, &p), EMBER_ECORRUPT);
    assert_null(p);
    assert_int_equal(count_intermediate(s.dir), 0);
    free_segments(&s);

    make_segments(&s, 12, 0, 4);
    unlink(s.paths[7]);
    o.dir = s.dir;
    assert_int_equal(merge_plan_open(&o, s.segs, s.n, &p), EMBER_EIO);
    assert_null(p);
    assert_int_equal(count_intermediate(s.dir), 0);
    free_segments(&s);
}

/* Sums the decimal values of a group and emits "key sum". */
static int sum_reduce(ember_task *t, const void *key, size_t key_len, ember_values *v) {
    long sum = 0;
    const void *val;
    size_t vl;
    while (ember_values_next(v, &val, &vl)) {
        char buf[32] = "";
        memcpy(buf, val, vl < sizeof(buf) - 1 ? vl : sizeof(buf) - 1);
        sum += strtol(buf, NULL, 10);
    }
    char out[32];
    int n = snprintf(out, sizeof(out), "%ld", sum);
    return ember_emit(t, key, key_len, out, (size_t)n);
}

typedef struct {
    long sums[100];
    int records;
} sum_sink;

static int sum_write(void *arg, const void *key, size_t kl, const void *val, size_t vl) {
    sum_sink *s = arg;
    char k[8] = "", v[32] = "";
    memcpy(k, key, kl < 7 ? kl : 7);
    memcpy(v, val, vl < 31 ? vl : 31);
    s->sums[atoi(k + 1)] += strtol(v, NULL, 10);
    s->records++;
    return 0;
}

/* A reduce over 30 map outputs (partition 1 of 2 of each file), factor 2:
 * the sums are right, each key comes once, and the plan wrote its
 * intermediate merges. */
static void test_reduce_many_outputs(void **state) {
    (void)state;
    char dir[] = "/tmp/ember-plan-XXXXXX", paths[30][64];
    assert_non_null(mkdtemp(dir));
    merge_segment segs[30];
    long expect[100] = {0};
    unsigned seed = 5;
    for (int m = 0; m < 30; m++) {
        snprintf(paths[m], sizeof(paths[m]), "%s/map%02d.out", dir, m);
        ifile_writer w;
        assert_int_equal(ifile_writer_open(&w, paths[m]), EMBER_OK);
        ifile_range ranges[2];
        for (int part = 0; part < 2; part++) {
            ifile_writer_begin(&w);
            for (int key = part; key < 100; key += 2) { /* sorted: "k%03d" */
                if (rand_r(&seed) % 3 == 0)
                    continue;
                char k[8], v[8];
                int kl = snprintf(k, sizeof(k), "k%03d", key), val = rand_r(&seed) % 50;
                int vl = snprintf(v, sizeof(v), "%d", val);
                if (part == 1)
                    expect[key] += val;
                assert_int_equal(ifile_writer_append(&w, k, (size_t)kl, v, (size_t)vl), EMBER_OK);
            }
            assert_int_equal(ifile_writer_end(&w, &ranges[part]), EMBER_OK);
        }
        uint64_t bytes;
        assert_int_equal(ifile_writer_close(&w, &bytes), EMBER_OK);
        segs[m] = (merge_segment){.path = paths[m], .range = ranges[1]};
    }
    merge_plan_options o = {.factor = 2, .dir = dir, .name = "reduce", .memory = 1u << 20};
    merge_plan *p;
    assert_int_equal(merge_plan_open(&o, segs, 30, &p), EMBER_OK);
    assert_int_equal(merge_plan_get_stats(p)->passes, 28);
    assert_true(merge_plan_get_stats(p)->records_written > 0);
    int k;
    kv_stream **in = merge_plan_streams(p, &k);
    assert_int_equal(k, 2);
    ember_job job = {.abi = EMBER_JOB_ABI, .reduce = sum_reduce};
    mr_counters counters = {0};
    ember_task task = {.counters = &counters};
    sum_sink sink = {0};
    mr_record_sink out = {sum_write, &sink};
    reduce_stats st;
    assert_int_equal(reduce_run(&job, &task, in, k, &out, &st), EMBER_OK);
    merge_plan_free(p);
    for (int key = 0; key < 100; key++)
        assert_int_equal(sink.sums[key], expect[key]);
    assert_int_equal(st.output_records, (uint64_t)sink.records);
    assert_true(sink.records <= 50);
    mr_counters_free(&counters);
    for (int m = 0; m < 30; m++)
        unlink(paths[m]);
    assert_int_equal(count_intermediate(dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

static const char *sorted_combine_conf(void *arg, const char *key) {
    (void)arg;
    return strcmp(key, "ember.map.combine.hash") == 0 ? "false" : NULL;
}

/* A map whose 4 KiB sort buffer spills dozens of times, merged with
 * factor 3: file.out holds every record (or, combined, the right sums)
 * in order, and Spilled Records counts the intermediate writes too
 * (more than the spills and file.out alone). */
static void run_many_spills(int combine) {
    char dir[] = "/tmp/ember-plan-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "sum", .combine = combine ? sum_reduce : NULL};
    mr_counters counters = {0};
    ember_task task = {.counters = &counters, .is_map = 1, .conf = sorted_combine_conf};
    map_output_options o = {.dir = dir,
                            .partitions = 2,
                            .sort_bytes = 4096,
                            .merge_factor = 3,
                            .job = &job,
                            .task = &task};
    map_output *m;
    assert_int_equal(map_output_open(&o, &m), EMBER_OK);
    long expect[100] = {0};
    unsigned seed = 11;
    for (int i = 0; i < 6000; i++) {
        int key = rand_r(&seed) % 100, val = rand_r(&seed) % 10;
        char k[8], v[4];
        int kl = snprintf(k, sizeof(k), "k%03d", key), vl = snprintf(v, sizeof(v), "%d", val);
        expect[key] += val;
        assert_int_equal(map_output_collect(m, k, (size_t)kl, v, (size_t)vl), EMBER_OK);
    }
    map_output_stats st;
    assert_int_equal(map_output_finish(m, &st), EMBER_OK);
    assert_true(st.spills > 20);
    char path[64], ipath[64];
    snprintf(path, sizeof(path), "%s/file.out", dir);
    snprintf(ipath, sizeof(ipath), "%s/file.out.index", dir);
    ifile_range r[2];
    assert_int_equal(ifile_index_read(ipath, r, 2), EMBER_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    sum_sink got = {0};
    uint64_t final_records = 0;
    for (int part = 0; part < 2; part++) {
        ifile_reader rd;
        assert_int_equal(ifile_reader_open(&rd, fd, &r[part], 4096), EMBER_OK);
        kv_record rec;
        char prev[8] = "";
        int rc;
        while ((rc = rd.base.next(&rd.base, &rec)) == 1) {
            assert_int_equal(kv_hash_partition(rec.key, rec.key_len, 2), (uint32_t)part);
            assert_true(prev[0] == '\0' || kv_compare_bytes(prev, 4, rec.key, 4) <= 0);
            memcpy(prev, rec.key, 4);
            sum_write(&got, rec.key, rec.key_len, rec.value, rec.value_len);
            final_records++;
        }
        assert_int_equal(rc, 0);
        ifile_reader_close(&rd);
    }
    close(fd);
    for (int key = 0; key < 100; key++)
        assert_int_equal(got.sums[key], expect[key]);
    if (combine)
        assert_true(final_records <= 100);
    else
        assert_int_equal(final_records, 6000);
    /* Spills wrote at least final_records... and the intermediate merges
     * wrote more: without a combiner every record is written at least
     * twice (spill, file.out) and some three times or more. */
    int64_t spilled = mr_counters_get(&counters, MR_GROUP_TASK, "Spilled Records");
    assert_int_equal((uint64_t)spilled, st.spilled_records);
    if (!combine)
        assert_true(spilled > 2 * 6000);
    map_output_free(m);
    mr_counters_free(&counters);
    assert_int_equal(count_intermediate(dir), 0);
    unlink(path);
    unlink(ipath);
    assert_int_equal(rmdir(dir), 0);
}

static void test_map_many_spills(void **state) {
    (void)state;
    run_many_spills(0);
    run_many_spills(1);
}

int main(int argc, char **argv) {
    if (argc > 1)
        cmocka_set_test_filter(argv[1]); /* one test by name (or pattern) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_equals_stable_sort),
        cmocka_unit_test(test_plan_refuses_bad_factor),
        cmocka_unit_test(test_plan_under_fd_limit),
        cmocka_unit_test(test_plan_failure_cleans_up),
        cmocka_unit_test(test_reduce_many_outputs),
        cmocka_unit_test(test_map_many_spills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
