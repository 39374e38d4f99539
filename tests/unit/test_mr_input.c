/* test_mr_input.c -- a map task's input: sources, record readers and
 * splits.  The text readers are checked against a byte-at-a-time
 * reference over random files (empty lines, CRLF, long lines, with and
 * without a last newline) for every split size from 1 byte to the file's
 * size and random split layouts, with tiny buffers so lines outgrow them;
 * fixed-length records likewise; whole files; gzip made here with zlib;
 * splits against Hadoop's results computed by hand; 10,000 small files
 * combined with every byte covered once. */
#include <errno.h>
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
#include <zlib.h>

#include <cmocka.h>

#include "common/error.h"
#include "mapreduce/mr_reader.h"
#include "mapreduce/mr_source.h"
#include "mapreduce/mr_split.h"

#define MIB (1ull << 20)
/* How many (offset, length) pairs an array holds. */
#define PAIRS(w) (sizeof(w) / (2 * sizeof((w)[0])))

/* Fails the test with a message giving the context. */
#define expect(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail_msg("%s", #cond);                                                                 \
        }                                                                                          \
    } while (0)

/* ---- the reference: lines found one byte at a time ---- */

typedef struct {
    uint64_t off;
    size_t start, len; /* the value: data[start, start + len) */
} ref_line;

/* The lines of data as the text reader must give them, lines of
 * max_line or more bytes (their '\n' counted) left out and counted in
 * *skipped.  out has room for n + 1 lines. */
static size_t ref_lines(const uint8_t *d, size_t n, uint64_t max_line, ref_line *out,
                        size_t *skipped) {
    size_t count = 0, pos = 0;
    *skipped = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && d[end] != '\n')
            end++;
        size_t used = end < n ? end - pos + 1 : end - pos;
        size_t start = pos, len = end - pos;
        if (used >= max_line) {
            (*skipped)++;
        } else {
            if (len > 0 && d[start + len - 1] == '\r')
                len--;
            if (pos == 0 && len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0) {
                start += 3;
                len -= 3;
            }
            out[count++] = (ref_line){pos, start, len};
        }
        pos += used;
    }
    return count;
}

static uint64_t key_offset(const kv_record *r) {
    assert_int_equal(r->key_len, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | r->key[i];
    return v;
}

/* A random text of about size bytes: lines of 0-300 bytes (one in eight
 * empty) from an alphabet with TAB and a stray CR, CRLF ends one time in
 * crlf_in, `longs` lines of long_len bytes, a last newline or not. */
static size_t make_text(unsigned seed, uint8_t *d, size_t size, int crlf_in, int longs,
                        size_t long_len, int last_newline) {
    static const char alpha[] = "abcdefgh ijk\tlmnop\rqrstuvwxyz0123456789";
    size_t n = 0;
    int line = 0;
    while (n < size) {
        size_t len = rand_r(&seed) % 8 == 0 ? 0 : (size_t)(rand_r(&seed) % 301);
        if (longs > 0 && line % 7 == 3) {
            len = long_len;
            longs--;
        }
        for (size_t i = 0; i < len; i++)
            d[n++] = (uint8_t)alpha[rand_r(&seed) % (sizeof(alpha) - 1)];
        if (crlf_in && rand_r(&seed) % crlf_in == 0)
            d[n++] = '\r';
        d[n++] = '\n';
        line++;
    }
    if (!last_newline) {
        while (n > 0 && (d[n - 1] == '\n' || d[n - 1] == '\r'))
            n--;
        if (n > 0 && d[n - 1] == '\t')
            d[n - 1] = 'x';
    }
    return n;
}

/* Reads the chunks [cuts[i], cuts[i + 1]) of data one after the other and
 * checks the records are exactly ref's lines, in order, once each.
 * Returns the lines the readers skipped in all. */
static uint64_t check_text_chunks(const uint8_t *data, size_t n, const char *name,
                                  const uint64_t *cuts, size_t ncuts, const mr_reader_options *o,
                                  const ref_line *ref, size_t nref) {
    mr_source *src;
    assert_int_equal(mr_source_open_memory(data, n, name, &src), EMBER_OK);
    size_t at = 0;
    uint64_t skipped = 0;
    for (size_t c = 0; c + 1 < ncuts; c++) {
        mr_reader *r;
        char err[MR_READER_ERROR_MAX];
        int rc = mr_reader_open(src, cuts[c], cuts[c + 1] - cuts[c], o, &r, err, sizeof(err));
        expect(rc == EMBER_OK, "open: %s", err);
        kv_stream *s = mr_reader_stream(r);
        kv_record rec;
        while ((rc = s->next(s, &rec)) == 1) {
            expect(at < nref, "chunk [%llu, %llu): a record past the last line",
                   (unsigned long long)cuts[c], (unsigned long long)cuts[c + 1]);
            uint64_t off = key_offset(&rec);
            expect(off == ref[at].off && rec.value_len == ref[at].len &&
                       memcmp(rec.value, data + ref[at].start, rec.value_len) == 0,
                   "file %zu bytes, chunk [%llu, %llu), line %zu: got offset %llu length %zu, "
                   "want offset %llu length %zu",
                   n, (unsigned long long)cuts[c], (unsigned long long)cuts[c + 1], at,
                   (unsigned long long)off, rec.value_len, (unsigned long long)ref[at].off,
                   ref[at].len);
            at++;
        }
        expect(rc == 0, "next: %d %s", rc, mr_reader_error(r));
        mr_reader_stats st;
        mr_reader_get_stats(r, &st);
        skipped += st.skipped_lines;
        mr_reader_close(r);
    }
    expect(at == nref, "read %zu lines of %zu", at, nref);
    mr_source_close(src);
    return skipped;
}

/* Every split size from 1 byte to the whole file. */
static void check_every_split_size(const uint8_t *d, size_t n, const mr_reader_options *o) {
    ref_line *ref = malloc((n + 1) * sizeof(*ref));
    uint64_t *cuts = malloc((n + 2) * sizeof(*cuts));
    assert_true(ref && cuts);
    size_t skipped;
    size_t nref =
        ref_lines(d, n, o->max_line_length ? o->max_line_length : UINT64_MAX, ref, &skipped);
    for (size_t size = 1; size <= (n ? n : 1); size++) {
        size_t k = 0;
        for (uint64_t at = 0; at < n; at += size)
            cuts[k++] = at;
        cuts[k++] = n;
        if (k == 1)
            cuts[k++] = n; /* an empty file: one empty chunk */
        uint64_t got = check_text_chunks(d, n, "text", cuts, k, o, ref, nref);
        expect(got == skipped, "split size %zu: %llu lines skipped, want %zu", size,
               (unsigned long long)got, skipped);
    }
    free(cuts);
    free(ref);
}

static void test_text_every_split_size(void **state) {
    (void)state;
    static const struct {
        size_t size, buffer, long_len;
        int crlf_in, longs, last_newline;
    } cases[] = {
        {3000, 64, 0, 0, 0, 1},     /* LF only */
        {3000, 16, 0, 3, 0, 0},     /* CRLF mix, no last newline */
        {3500, 100, 1200, 2, 3, 1}, /* lines of 1200 bytes through a 100-byte buffer */
        {2500, 1, 700, 5, 2, 0},    /* a buffer of one byte */
        {2000, 4096, 0, 4, 0, 1},   /* the whole file in the buffer */
    };
    uint8_t *d = malloc(8192);
    assert_non_null(d);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = make_text(7 + (unsigned)i, d, cases[i].size, cases[i].crlf_in, cases[i].longs,
                             cases[i].long_len, cases[i].last_newline);
        mr_reader_options o = {.format = MR_FORMAT_TEXT, .buffer_size = cases[i].buffer};
        check_every_split_size(d, n, &o);
    }
    /* Edge files: empty, only newlines, CRLF only, no newline at all. */
    static const char *edges[] = {"", "\n", "\n\n\n", "\r\n\r\n", "abc", "a\nb", "\r", "x\r\n"};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        mr_reader_options o = {.buffer_size = 2};
        check_every_split_size((const uint8_t *)edges[i], strlen(edges[i]), &o);
    }
    free(d);
}

/* Lines over the maximum are skipped, by exactly one chunk each. */
static void test_text_max_line_length(void **state) {
    (void)state;
    uint8_t *d = malloc(8192);
    assert_non_null(d);
    size_t n = make_text(99, d, 3000, 3, 4, 500, 0);
    mr_reader_options o = {.buffer_size = 32, .max_line_length = 120};
    check_every_split_size(d, n, &o);
    /* The threshold counts the line end, as Hadoop's newSize does. */
    const char *t = "0123456789\nabcdefghi\nABCDEFGHI\r\nend";
    size_t skipped;
    ref_line ref[8];
    assert_int_equal(ref_lines((const uint8_t *)t, strlen(t), 11, ref, &skipped), 2);
    assert_int_equal(skipped, 2);
    mr_source *src;
    assert_int_equal(mr_source_open_memory(t, strlen(t), "t", &src), EMBER_OK);
    mr_reader *r;
    o = (mr_reader_options){.max_line_length = 11};
    assert_int_equal(mr_reader_open(src, 0, strlen(t), &o, &r, NULL, 0), EMBER_OK);
    kv_record rec;
    assert_int_equal(mr_reader_next(r, &rec), 1);
    assert_int_equal(key_offset(&rec), 11);
    assert_memory_equal(rec.value, "abcdefghi", 9);
    assert_int_equal(mr_reader_next(r, &rec), 1);
    assert_int_equal(key_offset(&rec), 32);
    assert_int_equal(mr_reader_next(r, &rec), 0);
    mr_reader_stats st;
    mr_reader_get_stats(r, &st);
    assert_int_equal(st.skipped_lines, 2);
    assert_int_equal(st.last_skipped_offset, 21);
    assert_int_equal(st.last_skipped_size, 11);
    assert_int_equal(st.records, 2);
    mr_reader_close(r);
    mr_source_close(src);
    /* A line far over the maximum is dropped as it comes, not buffered. */
    memset(d, 'x', 8000);
    memcpy(d + 8000, "\nafter\n", 7);
    assert_int_equal(mr_source_open_memory(d, 8007, "long", &src), EMBER_OK);
    o = (mr_reader_options){.max_line_length = 100, .buffer_size = 16};
    assert_int_equal(mr_reader_open(src, 0, 8007, &o, &r, NULL, 0), EMBER_OK);
    assert_int_equal(mr_reader_next(r, &rec), 1);
    assert_int_equal(key_offset(&rec), 8001);
    assert_int_equal(mr_reader_next(r, &rec), 0);
    mr_reader_get_stats(r, &st);
    assert_int_equal(st.skipped_lines, 1);
    assert_int_equal(st.last_skipped_size, 8001);
    expect(st.buffer_size <= 256, "buffer grew to %zu", st.buffer_size);
    mr_reader_close(r);
    mr_source_close(src);
    free(d);
}

/* Random layouts over a larger file with the default buffer, and a line
 * longer than the default buffer. */
static void test_text_random_layouts(void **state) {
    (void)state;
    size_t cap = 5 * MIB;
    uint8_t *d = malloc(cap);
    ref_line *ref = malloc(cap / 2 * sizeof(*ref));
    assert_true(d && ref);
    size_t n = make_text(5, d, 300000, 4, 0, 0, 1);
    memset(d + n, 'L', 3 * MIB / 2); /* one line of 1.5 MiB */
    n += 3 * MIB / 2;
    d[n++] = '\n';
    n += make_text(6, d + n, 200000, 0, 0, 0, 0);
    size_t skipped, nref = ref_lines(d, n, UINT64_MAX, ref, &skipped);
    unsigned seed = 11;
    for (int layout = 0; layout < 12; layout++) {
        uint64_t cuts[64];
        size_t k = 0;
        cuts[k++] = 0;
        while (k < 62 && cuts[k - 1] < n) {
            uint64_t step = layout % 3 == 0 ? (uint64_t)(rand_r(&seed) % 300) + 1
                                            : (uint64_t)rand_r(&seed) % (n / 8) + 1;
            cuts[k] = cuts[k - 1] + step < n ? cuts[k - 1] + step : n;
            k++;
        }
        if (cuts[k - 1] < n)
            cuts[k++] = n;
        mr_reader_options o = {.format = MR_FORMAT_TEXT};
        check_text_chunks(d, n, "big", cuts, k, &o, ref, nref);
    }
    free(ref);
    free(d);
}

static void test_text_byte_order_mark(void **state) {
    (void)state;
    const char *t = "\xef\xbb\xbfhello\n\xef\xbb\xbfsecond\n";
    mr_source *src;
    assert_int_equal(mr_source_open_memory(t, strlen(t), "bom", &src), EMBER_OK);
    mr_reader *r;
    assert_int_equal(mr_reader_open(src, 0, strlen(t), NULL, &r, NULL, 0), EMBER_OK);
    kv_record rec;
    assert_int_equal(mr_reader_next(r, &rec), 1);
    assert_int_equal(rec.value_len, 5);
    assert_memory_equal(rec.value, "hello", 5);
    assert_int_equal(mr_reader_next(r, &rec), 1); /* only at offset 0 */
    assert_int_equal(key_offset(&rec), 9);
    assert_int_equal(rec.value_len, 9);
    assert_int_equal(mr_reader_next(r, &rec), 0);
    mr_reader_close(r);
    mr_source_close(src);
}

/* ---- key-value text ---- */

static void check_kv(const char *text, const char *sep, const char *const *want) {
    mr_source *src;
    assert_int_equal(mr_source_open_memory(text, strlen(text), "kv", &src), EMBER_OK);
    mr_reader_options o = {.format = MR_FORMAT_KEY_VALUE, .separator = sep, .buffer_size = 4};
    mr_reader *r;
    assert_int_equal(mr_reader_open(src, 0, strlen(text), &o, &r, NULL, 0), EMBER_OK);
    kv_record rec;
    size_t i = 0;
    while (mr_reader_next(r, &rec) == 1) {
        assert_non_null(want[i]);
        expect(rec.key_len == strlen(want[i]) && memcmp(rec.key, want[i], rec.key_len) == 0,
               "record %zu: key %.*s, want %s", i, (int)rec.key_len, rec.key, want[i]);
        expect(rec.value_len == strlen(want[i + 1]) &&
                   memcmp(rec.value, want[i + 1], rec.value_len) == 0,
               "record %zu: value %.*s, want %s", i, (int)rec.value_len, rec.value, want[i + 1]);
        i += 2;
    }
    assert_null(want[i]);
    mr_reader_close(r);
    mr_source_close(src);
}

static void test_key_value(void **state) {
    (void)state;
    const char *a[] = {"k1", "v1",        "k2", "v2\tmore", "nosep", "",     "",  "",
                       "",   "empty key", "k3", "",         "last",  "line", NULL};
    check_kv("k1\tv1\r\nk2\tv2\tmore\nnosep\n\n\tempty key\nk3\t\nlast\tline", NULL, a);
    const char *b[] = {"a", "b,c", "no comma\tat all", "", NULL};
    check_kv("a,b,c\nno comma\tat all\n", ",;", b); /* the first byte only */
    /* Over splits, keys and values come from the same lines as TEXT. */
    uint8_t *d = malloc(8192);
    assert_non_null(d);
    size_t n = make_text(42, d, 4000, 3, 0, 0, 1);
    mr_source *src;
    assert_int_equal(mr_source_open_memory(d, n, "kv", &src), EMBER_OK);
    ref_line *ref = malloc((n + 1) * sizeof(*ref));
    size_t skipped, nref = ref_lines(d, n, UINT64_MAX, ref, &skipped), at = 0;
    for (uint64_t start = 0; start < n; start += 333) {
        mr_reader_options o = {.format = MR_FORMAT_KEY_VALUE, .buffer_size = 8};
        mr_reader *r;
        assert_int_equal(mr_reader_open(src, start, 333, &o, &r, NULL, 0), EMBER_OK);
        kv_record rec;
        while (mr_reader_next(r, &rec) == 1) {
            assert_true(at < nref);
            const uint8_t *line = d + ref[at].start;
            const uint8_t *tab = memchr(line, '\t', ref[at].len);
            size_t kl = tab ? (size_t)(tab - line) : ref[at].len;
            assert_int_equal(rec.key_len, kl);
            assert_memory_equal(rec.key, line, kl);
            assert_int_equal(rec.value_len, tab ? ref[at].len - kl - 1 : 0);
            assert_memory_equal(rec.value, line + kl + (tab ? 1 : 0), rec.value_len);
            at++;
        }
        mr_reader_close(r);
    }
    assert_int_equal(at, nref);
    free(ref);
    mr_source_close(src);
    free(d);
}

/* ---- fixed-length records ---- */

static void test_fixed_every_split_size(void **state) {
    (void)state;
    const uint32_t lengths[] = {1, 7, 100};
    uint8_t *d = malloc(4000);
    assert_non_null(d);
    unsigned seed = 3;
    for (size_t i = 0; i < 4000; i++)
        d[i] = (uint8_t)rand_r(&seed);
    for (size_t l = 0; l < 3; l++) {
        uint32_t R = lengths[l];
        size_t n = (R == 1 ? 500 : 2100) / R * R;
        mr_source *src;
        assert_int_equal(mr_source_open_memory(d, n, "fixed", &src), EMBER_OK);
        for (size_t size = 1; size <= n; size += (R == 100 ? 1 : 3)) {
            uint64_t next = 0; /* offset of the record expected next */
            for (uint64_t start = 0; start < n; start += size) {
                mr_reader_options o = {
                    .format = MR_FORMAT_FIXED, .record_length = R, .buffer_size = 64};
                mr_reader *r;
                assert_int_equal(mr_reader_open(src, start, size, &o, &r, NULL, 0), EMBER_OK);
                kv_record rec;
                int rc;
                while ((rc = mr_reader_next(r, &rec)) == 1) {
                    uint64_t off = key_offset(&rec);
                    expect(off == next && off >= start && off < start + size,
                           "R %u split size %zu chunk at %llu: record at %llu, want %llu", R, size,
                           (unsigned long long)start, (unsigned long long)off,
                           (unsigned long long)next);
                    assert_int_equal(rec.value_len, R);
                    assert_memory_equal(rec.value, d + off, R);
                    next += R;
                }
                assert_int_equal(rc, 0);
                mr_reader_close(r);
            }
            expect(next == n, "R %u split size %zu: records up to %llu of %zu", R, size,
                   (unsigned long long)next, n);
        }
        mr_source_close(src);
    }
    free(d);
}

static void test_fixed_errors(void **state) {
    (void)state;
    uint8_t d[1005] = {0};
    mr_source *src;
    assert_int_equal(mr_source_open_memory(d, sizeof(d), "/data/tera.bin", &src), EMBER_OK);
    mr_reader_options o = {.format = MR_FORMAT_FIXED, .record_length = 100};
    mr_reader *r = (mr_reader *)1;
    char err[MR_READER_ERROR_MAX];
    /* Every chunk of the file refuses, not only the last. */
    assert_int_equal(mr_reader_open(src, 0, 500, &o, &r, err, sizeof(err)), EMBER_ECORRUPT);
    assert_null(r);
    assert_non_null(strstr(err, "/data/tera.bin"));
    assert_non_null(strstr(err, "partial record(length = 5)"));
    assert_non_null(strstr(err, "1005"));
    assert_non_null(strstr(err, "record length 100"));
    assert_int_equal(mr_reader_open(src, 500, 505, &o, &r, err, sizeof(err)), EMBER_ECORRUPT);
    o.record_length = 0;
    assert_int_equal(mr_reader_open(src, 0, 1005, &o, &r, err, sizeof(err)), EMBER_EINVAL);
    assert_non_null(strstr(err, "record length 0"));
    o.format = (mr_format)9;
    assert_int_equal(mr_reader_open(src, 0, 1005, &o, &r, err, sizeof(err)), EMBER_EINVAL);
    assert_non_null(strstr(err, "unknown input format 9"));
    o.format = MR_FORMAT_FIXED;
    o.record_length = 5; /* 1005 = 201 x 5: fine */
    assert_int_equal(mr_reader_open(src, 0, 1005, &o, &r, err, sizeof(err)), EMBER_OK);
    kv_record rec;
    size_t count = 0;
    while (mr_reader_next(r, &rec) == 1)
        count++;
    assert_int_equal(count, 201);
    mr_reader_close(r);
    mr_source_close(src);
}

/* ---- whole files ---- */

static void test_whole_file(void **state) {
    (void)state;
    const char *t = "binary\0bytes\nand more";
    mr_source *src;
    assert_int_equal(mr_source_open_memory(t, 21, "/in/a.bin", &src), EMBER_OK);
    mr_reader_options o = {.format = MR_FORMAT_WHOLE_FILE};
    mr_reader *r;
    assert_int_equal(mr_reader_open(src, 0, 21, &o, &r, NULL, 0), EMBER_OK);
    kv_record rec;
    assert_int_equal(mr_reader_next(r, &rec), 1);
    assert_int_equal(rec.key_len, 9);
    assert_memory_equal(rec.key, "/in/a.bin", 9);
    assert_int_equal(rec.value_len, 21);
    assert_memory_equal(rec.value, t, 21);
    assert_int_equal(mr_reader_next(r, &rec), 0);
    assert_true(mr_reader_progress(r) == 1.0);
    mr_reader_close(r);
    char err[MR_READER_ERROR_MAX];
    assert_int_equal(mr_reader_open(src, 4, 17, &o, &r, err, sizeof(err)), EMBER_EINVAL);
    assert_non_null(strstr(err, "not splittable"));
    o.max_file_size = 20;
    assert_int_equal(mr_reader_open(src, 0, 21, &o, &r, err, sizeof(err)), EMBER_ETOOBIG);
    assert_non_null(strstr(err, "/in/a.bin: file of 21 bytes"));
    mr_source_close(src);
    /* An empty file is one record with an empty value. */
    assert_int_equal(mr_source_open_memory("", 0, "empty", &src), EMBER_OK);
    o.max_file_size = 0;
    assert_int_equal(mr_reader_open(src, 0, 0, &o, &r, NULL, 0), EMBER_OK);
    assert_int_equal(mr_reader_next(r, &rec), 1);
    assert_int_equal(rec.value_len, 0);
    assert_int_equal(mr_reader_next(r, &rec), 0);
    mr_reader_close(r);
    mr_source_close(src);
    assert_int_equal(mr_reader_splittable(&o, "x.txt"), 0);
    assert_int_equal(mr_reader_splittable(NULL, "x.txt"), 1);
    assert_int_equal(mr_reader_splittable(NULL, "x.txt.gz"), 0);
}

/* ---- gzip ---- */

/* d compressed as one gzip member into out; its length. */
static size_t gzip_bytes(const uint8_t *d, size_t n, uint8_t *out, size_t cap) {
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static void test_gzip(void **state) {
    (void)state;
    size_t cap = 600000;
    uint8_t *d = malloc(cap), *gz = malloc(cap + 1024);
    ref_line *ref = malloc(cap * sizeof(*ref));
    assert_true(d && gz && ref);
    size_t n = make_text(77, d, 200000, 3, 2, 5000, 0);
    /* Two members: the file's first part, then the rest. */
    size_t half = n / 3;
    size_t g1 = gzip_bytes(d, half, gz, cap);
    size_t glen = g1 + gzip_bytes(d + half, n - half, gz + g1, cap + 1024 - g1);
    size_t skipped, nref = ref_lines(d, n, UINT64_MAX, ref, &skipped);
    const size_t buffers[] = {0, 16, 4096};
    for (int b = 0; b < 3; b++) {
        mr_reader_options o = {.buffer_size = buffers[b]};
        /* check_text_chunks compares against d, the uncompressed bytes */
        mr_source *src;
        assert_int_equal(mr_source_open_memory(gz, glen, "/in/part.gz", &src), EMBER_OK);
        mr_reader *r;
        assert_int_equal(mr_reader_open(src, 0, glen, &o, &r, NULL, 0), EMBER_OK);
        kv_record rec;
        size_t at = 0;
        while (mr_reader_next(r, &rec) == 1) {
            assert_true(at < nref);
            assert_int_equal(key_offset(&rec), ref[at].off);
            assert_int_equal(rec.value_len, ref[at].len);
            assert_memory_equal(rec.value, d + ref[at].start, rec.value_len);
            at++;
        }
        assert_int_equal(at, nref);
        mr_reader_stats st;
        mr_reader_get_stats(r, &st);
        assert_int_equal(st.bytes_read, glen);
        mr_reader_close(r);
        mr_source_close(src);
    }
    /* Not splittable: a chunk past 0 is refused. */
    mr_source *src;
    assert_int_equal(mr_source_open_memory(gz, glen, "/in/part.gz", &src), EMBER_OK);
    mr_reader *r;
    char err[MR_READER_ERROR_MAX];
    assert_int_equal(mr_reader_open(src, 100, glen - 100, NULL, &r, err, sizeof(err)),
                     EMBER_EINVAL);
    assert_non_null(strstr(err, "gzip input is not splittable"));
    mr_source_close(src);
    /* Truncated, and damaged: EMBER_ECORRUPT from next(), for good. */
    for (int damage = 0; damage < 2; damage++) {
        size_t len = damage ? glen : glen - 9;
        if (damage)
            gz[g1 / 2] ^= 0x5a;
        assert_int_equal(mr_source_open_memory(gz, len, "bad.gz", &src), EMBER_OK);
        assert_int_equal(mr_reader_open(src, 0, len, NULL, &r, NULL, 0), EMBER_OK);
        kv_record rec;
        int rc;
        while ((rc = mr_reader_next(r, &rec)) == 1)
            ;
        assert_int_equal(rc, EMBER_ECORRUPT);
        assert_int_equal(mr_reader_next(r, &rec), EMBER_ECORRUPT);
        assert_non_null(strstr(mr_reader_error(r), "bad.gz: "));
        mr_reader_close(r);
        mr_source_close(src);
    }
    /* Fixed-length records through gzip, then a partial one at the end. */
    for (int partial = 0; partial < 2; partial++) {
        size_t len = partial ? 1003 : 1000;
        glen = gzip_bytes(d, len, gz, cap);
        assert_int_equal(mr_source_open_memory(gz, glen, "recs.gz", &src), EMBER_OK);
        mr_reader_options o = {.format = MR_FORMAT_FIXED, .record_length = 10};
        assert_int_equal(mr_reader_open(src, 0, glen, &o, &r, NULL, 0), EMBER_OK);
        kv_record rec;
        int rc, count = 0;
        while ((rc = mr_reader_next(r, &rec)) == 1) {
            assert_int_equal(key_offset(&rec), count * 10);
            assert_memory_equal(rec.value, d + count * 10, 10);
            count++;
        }
        assert_int_equal(count, 100);
        assert_int_equal(rc, partial ? EMBER_ECORRUPT : 0);
        if (partial)
            assert_non_null(strstr(mr_reader_error(r), "partial record(length = 3)"));
        mr_reader_close(r);
        mr_source_close(src);
    }
    /* An empty .gz file has no records. */
    assert_int_equal(mr_source_open_memory("", 0, "empty.gz", &src), EMBER_OK);
    assert_int_equal(mr_reader_open(src, 0, 0, NULL, &r, NULL, 0), EMBER_OK);
    kv_record rec;
    assert_int_equal(mr_reader_next(r, &rec), 0);
    mr_reader_close(r);
    mr_source_close(src);
    free(ref);
    free(gz);
    free(d);
}

/* ---- the local file source ---- */

static void test_file_source(void **state) {
    (void)state;
    char dir[] = "/tmp/mrinput-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/in.txt", dir);
    uint8_t *d = malloc(100000);
    ref_line *ref = malloc(100000 * sizeof(*ref));
    assert_true(d && ref);
    size_t n = make_text(13, d, 60000, 2, 1, 3000, 1);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
    mr_source *src;
    assert_int_equal(mr_source_open_file(path, &src), EMBER_OK);
    assert_int_equal(src->size, n);
    assert_string_equal(src->name, path);
    size_t skipped, nref = ref_lines(d, n, UINT64_MAX, ref, &skipped), at = 0;
    for (uint64_t start = 0; start < n; start += 10000) {
        mr_reader_options o = {.buffer_size = 512};
        mr_reader *r;
        assert_int_equal(mr_reader_open(src, start, 10000, &o, &r, NULL, 0), EMBER_OK);
        kv_record rec;
        while (mr_reader_next(r, &rec) == 1) {
            assert_true(at < nref);
            assert_int_equal(key_offset(&rec), ref[at].off);
            assert_memory_equal(rec.value, d + ref[at].start, ref[at].len);
            at++;
        }
        mr_reader_close(r);
    }
    assert_int_equal(at, nref);
    mr_source_close(src);
    assert_int_equal(mr_source_open_file(dir, &src), EMBER_EISDIR);
    assert_null(src);
    unlink(path);
    assert_int_equal(mr_source_open_file(path, &src), EMBER_ENOENT);
    rmdir(dir);
    free(ref);
    free(d);
}

/* ---- splits ---- */

static const char *const hosts_a[] = {"h1", "h2"};
static const char *const hosts_b[] = {"h2", "h3"};
static const char *const hosts_c[] = {"h3", "h1"};

/* A file of the given size cut in blocks of block bytes, hosts rotating. */
static size_t make_blocks(uint64_t size, uint64_t block, mr_block *b) {
    static const char *const *rot[] = {hosts_a, hosts_b, hosts_c};
    size_t n = 0;
    for (uint64_t off = 0; off < size; off += block, n++)
        b[n] = (mr_block){off, size - off < block ? size - off : block, rot[n % 3], 2};
    return n;
}

/* Computes plain splits of one file and checks their (offset, length)
 * against want: nwant pairs, in MiB.  blocks (room for 64) NULL: none. */
static void check_plain(uint64_t size, uint64_t block, uint64_t min, uint64_t max, int splittable,
                        const uint64_t *want, size_t nwant, mr_split_list *l, mr_block *blocks) {
    mr_input_file f = {"/in/f", size, block, splittable, blocks, 0};
    if (blocks != NULL)
        f.block_count = make_blocks(size, block, blocks);
    mr_split_options o = {.min_size = min, .max_size = max};
    assert_int_equal(mr_split_compute(&f, 1, &o, l), EMBER_OK);
    assert_int_equal(l->count, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const mr_split *s = &l->splits[i];
        assert_int_equal(s->chunk_count, 1);
        assert_string_equal(s->chunks[0].path, "/in/f");
        expect(s->chunks[0].offset == want[2 * i] * MIB &&
                   s->chunks[0].length == want[2 * i + 1] * MIB && s->length == s->chunks[0].length,
               "split %zu: [%llu, +%llu), want [%llu MiB, +%llu MiB)", i,
               (unsigned long long)s->chunks[0].offset, (unsigned long long)s->chunks[0].length,
               (unsigned long long)want[2 * i], (unsigned long long)want[2 * i + 1]);
    }
}

static void assert_hosts(const mr_split *s, const char *a, const char *b) {
    assert_int_equal(s->host_count, 2);
    assert_string_equal(s->hosts[0], a);
    assert_string_equal(s->hosts[1], b);
}

static void test_splits_plain(void **state) {
    (void)state;
    mr_split_list l;
    mr_block blocks[64];
    /* 300 MB in 128 MB blocks: 128/128/44, each on its block's hosts. */
    const uint64_t w1[] = {0, 128, 128, 128, 256, 44};
    check_plain(300 * MIB, 128 * MIB, 0, 0, 1, w1, PAIRS(w1), &l, blocks);
    assert_hosts(&l.splits[0], "h1", "h2");
    assert_hosts(&l.splits[1], "h2", "h3");
    assert_hosts(&l.splits[2], "h3", "h1");
    mr_split_list_free(&l);
    /* 140 MB: 140/128 < 1.1, one split (SPLIT_SLOP) on the first block. */
    const uint64_t w2[] = {0, 140};
    check_plain(140 * MIB, 128 * MIB, 0, 0, 1, w2, PAIRS(w2), &l, blocks);
    assert_hosts(&l.splits[0], "h1", "h2");
    mr_split_list_free(&l);
    /* minsize 256 MB: 256 + 44; the first split ties its two blocks (the
     * first wins). */
    const uint64_t w3[] = {0, 256, 256, 44};
    check_plain(300 * MIB, 128 * MIB, 256 * MIB, 0, 1, w3, PAIRS(w3), &l, blocks);
    assert_hosts(&l.splits[0], "h1", "h2");
    assert_hosts(&l.splits[1], "h3", "h1");
    mr_split_list_free(&l);
    /* maxsize 64 MB: four of 64, then 44; 70 MB stays one split. */
    const uint64_t w4[] = {0, 64, 64, 64, 128, 64, 192, 64, 256, 44};
    check_plain(300 * MIB, 128 * MIB, 0, 64 * MIB, 1, w4, PAIRS(w4), &l, blocks);
    assert_hosts(&l.splits[1], "h1", "h2");
    assert_hosts(&l.splits[2], "h2", "h3");
    mr_split_list_free(&l);
    const uint64_t w5[] = {0, 70};
    check_plain(70 * MIB, 128 * MIB, 0, 64 * MIB, 1, w5, PAIRS(w5), &l, NULL);
    assert_int_equal(l.splits[0].host_count, 0);
    mr_split_list_free(&l);
    /* minsize over maxsize: the minimum wins, as Hadoop's max(min, ...). */
    const uint64_t w6[] = {0, 100, 100, 100, 200, 100};
    check_plain(300 * MIB, 128 * MIB, 100 * MIB, 10 * MIB, 1, w6, PAIRS(w6), &l, NULL);
    mr_split_list_free(&l);
    /* 150 MB splits over 100 MB blocks: the block holding most bytes. */
    const uint64_t w7[] = {0, 150, 150, 150, 300, 150};
    check_plain(450 * MIB, 100 * MIB, 150 * MIB, 0, 1, w7, PAIRS(w7), &l, blocks);
    assert_hosts(&l.splits[0], "h1", "h2"); /* 100 of block 0, 50 of block 1 */
    assert_hosts(&l.splits[1], "h3", "h1"); /* 50 of block 1, 100 of block 2 */
    assert_hosts(&l.splits[2], "h1", "h2"); /* block 3 */
    mr_split_list_free(&l);
    /* Not splittable: one split; local file (block size 0 = 32 MiB):
     * 100 MiB -> 32/32/32/4 (36/32 is over the slop). */
    const uint64_t w8[] = {0, 300};
    check_plain(300 * MIB, 128 * MIB, 0, 0, 0, w8, PAIRS(w8), &l, blocks);
    assert_hosts(&l.splits[0], "h1", "h2");
    mr_split_list_free(&l);
    const uint64_t w9[] = {0, 32, 32, 32, 64, 32, 96, 4};
    check_plain(100 * MIB, 0, 0, 0, 1, w9, PAIRS(w9), &l, NULL);
    mr_split_list_free(&l);
    /* An empty file: one empty split with no hosts (Hadoop 3). */
    const uint64_t w10[] = {0, 0};
    check_plain(0, 128 * MIB, 0, 0, 1, w10, PAIRS(w10), &l, NULL);
    assert_int_equal(l.splits[0].length, 0);
    assert_int_equal(l.splits[0].host_count, 0);
    mr_split_list_free(&l);
    /* The slop at its edge, in bytes: 11/10 is not over 1.1, 12/10 is. */
    mr_input_file f = {"f", 11, 1000, 1, NULL, 0};
    mr_split_options o = {.max_size = 10};
    assert_int_equal(mr_split_compute(&f, 1, &o, &l), EMBER_OK);
    assert_int_equal(l.count, 1);
    mr_split_list_free(&l);
    f.size = 12;
    assert_int_equal(mr_split_compute(&f, 1, &o, &l), EMBER_OK);
    assert_int_equal(l.count, 2);
    assert_int_equal(l.splits[1].chunks[0].offset, 10);
    assert_int_equal(l.splits[1].chunks[0].length, 2);
    mr_split_list_free(&l);
    /* Blocks that do not cover the file. */
    mr_block bad[2] = {{0, 10, hosts_a, 2}, {11, 5, hosts_b, 2}};
    mr_input_file g = {"g", 16, 10, 1, bad, 2};
    assert_int_equal(mr_split_compute(&g, 1, &o, &l), EMBER_EINVAL);
    mr_split_list_free(&l);
}

/* The file index of a chunk of a file named "/f/N". */
static size_t chunk_file(const mr_chunk *c) { return (size_t)strtoul(c->path + 3, NULL, 10); }

static int chunk_order(const void *a, const void *b) {
    const mr_chunk *x = a, *y = b;
    size_t fx = chunk_file(x), fy = chunk_file(y);
    if (fx != fy)
        return fx < fy ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Checks that the chunks of l cover each file's bytes exactly once: sorted
 * by (file, offset) they abut from 0 to the file's size (an empty file:
 * one empty chunk); and that each names its file's index. */
static void check_coverage(const mr_split_list *l, const mr_input_file *files, size_t n) {
    size_t total = 0, k = 0;
    for (size_t s = 0; s < l->count; s++)
        total += l->splits[s].chunk_count;
    mr_chunk *all = malloc((total ? total : 1) * sizeof(*all));
    assert_non_null(all);
    for (size_t s = 0; s < l->count; s++)
        for (size_t c = 0; c < l->splits[s].chunk_count; c++)
            all[k++] = l->splits[s].chunks[c];
    for (size_t c = 0; c < k; c++) /* the index given is the file's own */
        expect(all[c].file == chunk_file(&all[c]) && all[c].file < n, "chunk of %s: file %zu",
               all[c].path, all[c].file);
    qsort(all, k, sizeof(*all), chunk_order);
    size_t i = 0;
    for (size_t f = 0; f < n; f++) {
        uint64_t at = 0;
        expect(i < k && chunk_file(&all[i]) == f, "file %zu has no chunk", f);
        do {
            expect(all[i].offset == at, "file %zu: a chunk at %llu, want %llu", f,
                   (unsigned long long)all[i].offset, (unsigned long long)at);
            at += all[i].length;
            i++;
        } while (i < k && chunk_file(&all[i]) == f);
        expect(at == files[f].size, "file %zu: chunks end at %llu, size %llu", f,
               (unsigned long long)at, (unsigned long long)files[f].size);
    }
    assert_int_equal(i, k);
    free(all);
}

static void test_splits_combined(void **state) {
    (void)state;
    enum { FILES = 10000 };
    static const char *const hosts[4][2] = {{"n0", "n1"}, {"n1", "n2"}, {"n2", "n3"}, {"n3", "n0"}};
    mr_input_file *files = calloc(FILES, sizeof(*files));
    mr_block *blocks = calloc(FILES, sizeof(*blocks));
    char(*names)[16] = calloc(FILES, 16);
    assert_true(files && blocks && names);
    unsigned seed = 21;
    uint64_t total = 0;
    for (size_t i = 0; i < FILES; i++) {
        snprintf(names[i], 16, "/f/%zu", i);
        uint64_t size = i % 50 == 0 ? 0 : (uint64_t)(rand_r(&seed) % 20000);
        blocks[i] = (mr_block){0, size, hosts[rand_r(&seed) % 4], 2};
        files[i] =
            (mr_input_file){names[i], size, 128 * MIB, 1, size ? &blocks[i] : NULL, size ? 1 : 0};
        total += size;
    }
    mr_split_options o = {.combine = 1, .max_size = 4 * MIB};
    mr_split_list l;
    assert_int_equal(mr_split_compute(files, FILES, &o, &l), EMBER_OK);
    check_coverage(&l, files, FILES);
    uint64_t local = 0;
    for (size_t s = 0; s < l.count; s++) {
        const mr_split *sp = &l.splits[s];
        assert_true(sp->length <= o.max_size);
        if (sp->host_count == 1) { /* a node-local split: every chunk on its host */
            for (size_t c = 0; c < sp->chunk_count; c++) {
                const mr_block *b = &blocks[chunk_file(&sp->chunks[c])];
                assert_true(strcmp(b->hosts[0], sp->hosts[0]) == 0 ||
                            strcmp(b->hosts[1], sp->hosts[0]) == 0);
            }
            local += sp->length;
        }
    }
    /* ~100 MB in 4 MB splits: a handful over the minimum, most local. */
    size_t least = (size_t)((total + o.max_size - 1) / o.max_size);
    expect(l.count >= least && l.count <= least + 6, "%zu splits for %llu bytes", l.count,
           (unsigned long long)total);
    expect(local * 4 >= total * 3, "%llu of %llu bytes node-local", (unsigned long long)local,
           (unsigned long long)total);
    mr_split_list_free(&l);
    /* No locations and no maximum: packed up to the block size. */
    for (size_t i = 0; i < FILES; i++)
        files[i].blocks = NULL, files[i].block_count = 0, files[i].block_size = 1 * MIB;
    o = (mr_split_options){.combine = 1};
    assert_int_equal(mr_split_compute(files, FILES, &o, &l), EMBER_OK);
    check_coverage(&l, files, FILES);
    for (size_t s = 0; s < l.count; s++)
        assert_true(l.splits[s].length <= MIB && l.splits[s].host_count == 0);
    least = (size_t)((total + MIB - 1) / MIB);
    expect(l.count >= least && l.count <= least + 4, "%zu splits", l.count);
    mr_split_list_free(&l);
    o = (mr_split_options){.combine = 1, .max_size = 10, .min_size_per_node = 11};
    assert_int_equal(mr_split_compute(files, 2, &o, &l), EMBER_EINVAL);
    mr_split_list_free(&l);
    free(names);
    free(blocks);
    free(files);
}

/* Big files in combined splits: blocks cut to the maximum (200 MB over a
 * 128 MB maximum: two halves of 100), a non-splittable file alone. */
static void test_splits_combined_pieces(void **state) {
    (void)state;
    static const char *const h[] = {"solo"};
    mr_block b[2] = {{0, 200 * MIB, h, 1}, {0, 300 * MIB, h, 1}};
    mr_input_file f[2] = {{"/f/0", 200 * MIB, 256 * MIB, 1, &b[0], 1},
                          {"/f/1", 300 * MIB, 512 * MIB, 0, &b[1], 1}};
    mr_split_options o = {.combine = 1, .max_size = 128 * MIB};
    mr_split_list l;
    assert_int_equal(mr_split_compute(f, 2, &o, &l), EMBER_OK);
    check_coverage(&l, f, 2);
    assert_int_equal(l.count, 3);
    int halves = 0, whole = 0;
    for (size_t s = 0; s < l.count; s++) {
        assert_int_equal(l.splits[s].chunk_count, 1);
        halves += l.splits[s].length == 100 * MIB;
        whole += l.splits[s].length == 300 * MIB;
        assert_int_equal(l.splits[s].host_count, 1);
        assert_string_equal(l.splits[s].hosts[0], "solo");
    }
    assert_int_equal(halves, 2);
    assert_int_equal(whole, 1);
    mr_split_list_free(&l);
}

/* Splits and readers together: a file cut by mr_split in tiny blocks (and
 * combined), every chunk read, every line once. */
static void test_splits_then_read(void **state) {
    (void)state;
    uint8_t *d = malloc(30000);
    ref_line *ref = malloc(30000 * sizeof(*ref));
    assert_true(d && ref);
    size_t n = make_text(31, d, 20000, 3, 1, 900, 0);
    size_t skipped, nref = ref_lines(d, n, UINT64_MAX, ref, &skipped);
    for (int combine = 0; combine < 2; combine++) {
        mr_input_file f = {"mem", n, 97, 1, NULL, 0};
        mr_split_options o = {.combine = combine, .max_size = combine ? 450 : 0};
        mr_split_list l;
        assert_int_equal(mr_split_compute(&f, 1, &o, &l), EMBER_OK);
        assert_true(l.count > 20);
        uint64_t *cuts = malloc((l.count + 1) * sizeof(*cuts));
        size_t k = 0;
        for (size_t s = 0; s < l.count; s++)
            for (size_t c = 0; c < l.splits[s].chunk_count; c++)
                cuts[k++] = l.splits[s].chunks[c].offset;
        cuts[k++] = n;
        check_text_chunks(d, n, "mem", cuts, k, &(mr_reader_options){.buffer_size = 50}, ref, nref);
        free(cuts);
        mr_split_list_free(&l);
    }
    free(ref);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_every_split_size),
        cmocka_unit_test(test_text_max_line_length),
        cmocka_unit_test(test_text_random_layouts),
        cmocka_unit_test(test_text_byte_order_mark),
        cmocka_unit_test(test_key_value),
        cmocka_unit_test(test_fixed_every_split_size),
        cmocka_unit_test(test_fixed_errors),
        cmocka_unit_test(test_whole_file),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_file_source),
        cmocka_unit_test(test_splits_plain),
        cmocka_unit_test(test_splits_combined),
        cmocka_unit_test(test_splits_combined_pieces),
        cmocka_unit_test(test_splits_then_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
