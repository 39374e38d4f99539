/* test_block_store.c -- unit tests for datanode/block_store.c.
 *
 * Each test gets a fresh mkdtemp() directory (f->tmp) and data directories
 * f->d0 and f->d1 inside it that do not exist yet, so that open has to
 * make them.  Covers the layout open makes, the meta file format, writes
 * of 0, 1, 512, 5000 bytes (in appends of odd sizes) and of several MiB,
 * reads at every kind of offset, sender checksums (accepted, refused with
 * nothing written), corruption of a data byte, a CRC, the meta header and
 * the data file's length, reopening after a crash (an unfinished replica
 * kept at its valid length, finalized replicas re-indexed, stray and
 * inconsistent files ignored, a replica in two directories), duplicates,
 * abort, delete, list, used bytes, failed directories at open and at
 * create time, the choice of the directory with the most free space, and
 * a write error (the replica kept).  Replicas waiting for recovery:
 * detach, the rbw list, reopen, delete; torn tails and broken rbw files
 * at open (extra data, a corrupt or torn last chunk, a bad header, a
 * file alone, an older meta, a block also finalized); recovery of an rbw
 * replica (cut mid-chunk, on a boundary, to nothing, a corrupt chunk at
 * the cut, a newer gen stamp, idempotence) and of a finalized one (meta
 * renamed, an open reader unaffected); append (reopen under a new gen
 * stamp, growth from mid-chunk with and without sender CRCs, an old
 * reader unaffected, detach and abort keep it, a corrupt partial chunk
 * refused); pipeline recovery (an rbw or finalized replica reopened under
 * a new gen stamp and cut to the acknowledged length, mid-chunk, on a
 * boundary, to nothing or not at all, then written on; a torn tail
 * dropped; wrong gen stamps, too few bytes and a corrupt chunk at the cut
 * refused); the directory scan (files removed, copied in from another
 * store, truncated behind the store's back reported as missing, added
 * and mismatched, exactly, and the index then holding what a fresh open
 * finds; a corrupt replica reported once, and again after being whole
 * again; an rbw replica shrunk; a writer left alone; a replica moved
 * between directories; a new block in two directories; a directory
 * removed whole; a failed directory's new files not taken).  teardown()
 * removes f->tmp and everything under it, and nothing else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/error.h"
#include "datanode/block_store.h"
#include "test_util.h"

struct fixture {
    char tmp[64]; /* the mkdtemp() directory */
    char d0[128]; /* tmp/d0 and tmp/d1: data directories */
    char d1[128];
    char both[300]; /* "d0,d1" */
    char err[512];
    char extra[64]; /* a second mkdtemp() directory on another file system, or "" */
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    strcpy(f->tmp, "/tmp/ember_test_block_store_XXXXXX");
    if (mkdtemp(f->tmp) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->d0, sizeof f->d0, "%s/d0", f->tmp);
    snprintf(f->d1, sizeof f->d1, "%s/d1", f->tmp);
    snprintf(f->both, sizeof f->both, "%s,%s", f->d0, f->d1);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    /* Undo any chmod a test made, then remove depth first, not following
     * symlinks: only what lies under f->tmp (and f->extra). */
    char path[256];
    snprintf(path, sizeof path, "%s/current/rbw", f->d0);
    chmod(path, 0700);
    snprintf(path, sizeof path, "%s/current/rbw", f->d1);
    chmod(path, 0700);
    int rc = test_rm_tree(f->tmp);
    if (f->extra[0] != '\0' && test_rm_tree(f->extra) != 0)
        rc = -1;
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ---- */

/* Deterministic pseudo-random bytes. */
static void fill(unsigned char *buf, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
}

static uint32_t next_rand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* dir/current/<sub>/blk_<id> or .../blk_<id>_<gs>.meta */
static void replica_file(char *out, size_t outlen, const char *dir, const char *sub, uint64_t id,
                         uint64_t gs, int meta) {
    if (meta)
        snprintf(out, outlen, "%s/current/%s/blk_%llu_%llu.meta", dir, sub, (unsigned long long)id,
                 (unsigned long long)gs);
    else
        snprintf(out, outlen, "%s/current/%s/blk_%llu", dir, sub, (unsigned long long)id);
}

static long long file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void flip_byte(const char *path, long off) {
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void spew(const char *path, const void *data, size_t len) {
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

/* Reads a whole (small) file into a malloc'd buffer. */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, in);
    fclose(in);
    return buf;
}

static uint64_t meta_len(uint64_t len) { return 16 + 4 * ((len + 511) / 512); }

static block_store *open_store(struct fixture *f, const char *dirs) {
    block_store *s = NULL;
    f->err[0] = 'x';
    int rc = block_store_open(dirs, &s, f->err, sizeof f->err);
    if (rc != 0)
        fail_msg("block_store_open(%s): %s: %s", dirs, ember_strerror(rc), f->err);
    assert_non_null(s);
    return s;
}

/* Writes len bytes of data as block id in one append and finalizes it. */
static void put_block(block_store *s, uint64_t id, uint64_t gs, const unsigned char *data,
                      size_t len) {
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, id, gs, &w), 0);
    assert_int_equal(block_writer_append(w, data, len, NULL, 0), 0);
    uint64_t got = 12345;
    assert_int_equal(block_writer_finalize(w, &got), 0);
    assert_int_equal(got, len);
}

/* Reads block id whole (one pread) and compares it with want. */
static void expect_block(block_store *s, uint64_t id, uint64_t gs, const unsigned char *want,
                         size_t len) {
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, id, &r), 0);
    const block_info *info = block_reader_info(r);
    assert_int_equal(info->block_id, id);
    assert_int_equal(info->gen_stamp, gs);
    assert_int_equal(info->length, len);
    unsigned char *buf = malloc(len + 100);
    assert_non_null(buf);
    size_t got = 999;
    assert_int_equal(block_reader_pread(r, buf, len + 100, 0, &got), 0);
    assert_int_equal(got, len);
    if (len > 0)
        assert_memory_equal(buf, want, len);
    free(buf);
    block_reader_close(r);
}

/* Checks the meta file of a finalized replica byte by byte. */
static void expect_meta(const char *dir, uint64_t id, uint64_t gs, const unsigned char *data,
                        size_t len) {
    char path[512];
    replica_file(path, sizeof path, dir, "finalized", id, gs, 1);
    size_t n;
    unsigned char *meta = slurp(path, &n);
    assert_int_equal(n, meta_len(len));
    static const unsigned char header[16] = {'E', 'M', 'B', 'R', 'M', 'E', 'T', 'A',
                                             0,   1,   0,   1,   0,   0,   2,   0};
    assert_memory_equal(meta, header, 16);
    for (size_t i = 0; i * 512 < len; i++) {
        size_t c = len - i * 512 < 512 ? len - i * 512 : 512;
        uint32_t want = crc32c(0, data + i * 512, c);
        const unsigned char *p = meta + 16 + 4 * i;
        uint32_t have = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        assert_int_equal(have, want);
    }
    free(meta);
}

/* ---- tests ---- */

static void test_open_creates_layout(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->both);
    assert_string_equal(f->err, "");
    const char *dirs[] = {f->d0, f->d1};
    for (int i = 0; i < 2; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/current/rbw", dirs[i]);
        assert_true(is_dir(path));
        snprintf(path, sizeof path, "%s/current/finalized", dirs[i]);
        assert_true(is_dir(path));
        assert_int_equal(count_entries(path), 0);
    }
    int total = -1, failed = -1;
    block_store_dirs(s, &total, &failed);
    assert_int_equal(total, 2);
    assert_int_equal(failed, 0);
    assert_int_equal(block_store_used_bytes(s), 0);
    block_info *list = (block_info *)1;
    size_t count = 7;
    assert_int_equal(block_store_list(s, &list, &count), 0);
    assert_int_equal(count, 0);
    assert_null(list);
    block_reader *r = (block_reader *)1;
    assert_int_equal(block_reader_open(s, 1, &r), EMBER_ENOENT);
    assert_null(r);
    block_store_close(s);
    /* Again, on the existing layout. */
    s = open_store(f, f->both);
    block_store_dirs(s, &total, &failed);
    assert_int_equal(failed, 0);
    block_store_close(s);
    block_store_close(NULL);
}

static void test_write_one_byte(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 7, 1001, &w), 0);
    assert_int_equal(block_writer_append(w, "Z", 1, NULL, 0), 0);
    assert_int_equal(block_writer_length(w), 1);
    /* Not visible until finalized; the files are in rbw/. */
    char path[256];
    replica_file(path, sizeof path, f->d0, "rbw", 7, 0, 0);
    assert_int_equal(file_size(path), 1);
    replica_file(path, sizeof path, f->d0, "rbw", 7, 1001, 1);
    assert_int_equal(file_size(path), 20); /* the partial chunk's CRC is there already */
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 7, &r), EMBER_ENOENT);
    assert_int_equal(block_store_used_bytes(s), 0);
    uint64_t len = 0;
    assert_int_equal(block_writer_finalize(w, &len), 0);
    assert_int_equal(len, 1);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "rbw", 7, 0, 0);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "finalized", 7, 0, 0);
    assert_int_equal(file_size(path), 1);
    expect_meta(f->d0, 7, 1001, (const unsigned char *)"Z", 1);
    expect_block(s, 7, 1001, (const unsigned char *)"Z", 1);
    assert_int_equal(block_store_used_bytes(s), 1 + 20);
    assert_int_equal(block_store_verify(s, 7), 0);
    block_store_close(s);
}

static void test_write_exact_chunk(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    unsigned char data[512];
    fill(data, sizeof data, 1);
    put_block(s, 1, 5, data, sizeof data);
    expect_meta(f->d0, 1, 5, data, sizeof data);
    expect_block(s, 1, 5, data, sizeof data);
    /* Then two appends of exactly a chunk each. */
    unsigned char two[1024];
    fill(two, sizeof two, 2);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 2, 5, &w), 0);
    assert_int_equal(block_writer_append(w, two, 512, NULL, 0), 0);
    assert_int_equal(block_writer_append(w, two + 512, 512, NULL, 0), 0);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    expect_meta(f->d0, 2, 5, two, sizeof two);
    expect_block(s, 2, 5, two, sizeof two);
    assert_int_equal(block_store_used_bytes(s), 512 + 20 + 1024 + 24);
    block_store_close(s);
}

static void test_empty_replica(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 3, 1, &w), 0);
    assert_int_equal(block_writer_append(w, NULL, 0, NULL, 0), 0);
    uint64_t len = 99;
    assert_int_equal(block_writer_finalize(w, &len), 0);
    assert_int_equal(len, 0);
    expect_meta(f->d0, 3, 1, NULL, 0);
    expect_block(s, 3, 1, NULL, 0);
    assert_int_equal(block_store_verify(s, 3), 0);
    assert_int_equal(block_store_used_bytes(s), 16);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_block(s, 3, 1, NULL, 0);
    block_store_close(s);
}

static void test_write_odd_appends(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { LEN = 5000 };
    unsigned char data[LEN];
    fill(data, LEN, 3);
    static const size_t sizes[] = {1, 7, 511, 513, 1, 1023, 512, 3, 509, 2, 1024, 100};
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 42, 9, &w), 0);
    size_t off = 0;
    for (int i = 0; off < LEN; i++) {
        size_t n = sizes[i % (sizeof sizes / sizeof *sizes)];
        if (n > LEN - off)
            n = LEN - off;
        assert_int_equal(block_writer_append(w, data + off, n, NULL, 0), 0);
        off += n;
        assert_int_equal(block_writer_length(w), off);
    }
    uint64_t len = 0;
    assert_int_equal(block_writer_finalize(w, &len), 0);
    assert_int_equal(len, LEN);
    expect_meta(f->d0, 42, 9, data, LEN);
    expect_block(s, 42, 9, data, LEN);
    assert_int_equal(block_store_used_bytes(s), LEN + meta_len(LEN));

    /* Random offsets and lengths, including ones past the end. */
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 42, &r), 0);
    unsigned char buf[LEN + 600];
    uint32_t seed = 77;
    for (int i = 0; i < 2000; i++) {
        uint64_t o = next_rand(&seed) % (LEN + 10);
        size_t n = next_rand(&seed) % (i % 3 == 0 ? 1100 : 40);
        size_t got = 12345;
        memset(buf, 0xAA, sizeof buf);
        assert_int_equal(block_reader_pread(r, buf, n, o, &got), 0);
        size_t want = o >= LEN ? 0 : (n < LEN - o ? n : LEN - o);
        assert_int_equal(got, want);
        if (want > 0)
            assert_memory_equal(buf, data + o, want);
        /* Nothing written past what was asked for. */
        for (size_t k = n; k < n + 520 && k < sizeof buf; k++)
            assert_int_equal(buf[k], 0xAA);
    }
    /* Every chunk boundary case by hand. */
    size_t got = 0;
    assert_int_equal(block_reader_pread(r, buf, 512, 512, &got), 0);
    assert_int_equal(got, 512);
    assert_memory_equal(buf, data + 512, 512);
    assert_int_equal(block_reader_pread(r, buf, 2, 511, &got), 0);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, data + 511, 2);
    assert_int_equal(block_reader_pread(r, buf, 1000, 4999, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(buf[0], data[4999]);
    assert_int_equal(block_reader_pread(r, buf, 10, LEN, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(block_reader_pread(r, buf, 10, UINT64_MAX, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(block_reader_pread(r, buf, 0, 0, &got), 0);
    assert_int_equal(got, 0);
    block_reader_close(r);
    block_store_close(s);
}

static void test_large_replica(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    size_t len = 3 * 1024 * 1024 + 77, packet = 64 * 1024;
    unsigned char *data = malloc(len), *buf = malloc(len);
    uint32_t *crcs = malloc((packet / 512) * sizeof *crcs);
    assert_non_null(data);
    assert_non_null(buf);
    assert_non_null(crcs);
    fill(data, len, 4);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 5, 2, &w), 0);
    for (size_t off = 0; off < len; off += packet) {
        size_t n = len - off < packet ? len - off : packet;
        size_t nc = (n + 511) / 512;
        for (size_t i = 0; i < nc; i++)
            crcs[i] = crc32c(0, data + off + i * 512, n - i * 512 < 512 ? n - i * 512 : 512);
        assert_int_equal(block_writer_append(w, data + off, n, crcs, nc), 0);
    }
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 5, &r), 0);
    size_t got = 0;
    assert_int_equal(block_reader_pread(r, buf, len, 0, &got), 0);
    assert_int_equal(got, len);
    assert_memory_equal(buf, data, len);
    /* Unaligned, across several read windows. */
    assert_int_equal(block_reader_pread(r, buf, len, 100, &got), 0);
    assert_int_equal(got, len - 100);
    assert_memory_equal(buf, data + 100, len - 100);
    assert_int_equal(block_reader_pread(r, buf, 2 * 1024 * 1024 + 3, 513, &got), 0);
    assert_int_equal(got, 2 * 1024 * 1024 + 3);
    assert_memory_equal(buf, data + 513, got);
    block_reader_close(r);
    assert_int_equal(block_store_verify(s, 5), 0);
    /* A flipped byte in the second MiB is found by verify. */
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 5, 0, 0);
    flip_byte(path, 1024 * 1024 + 5000);
    assert_int_equal(block_store_verify(s, 5), EMBER_ECORRUPT);
    free(data);
    free(buf);
    free(crcs);
    block_store_close(s);
}

static void test_append_with_crcs(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { LEN = 3 * 512 + 100 };
    unsigned char data[LEN];
    fill(data, LEN, 5);
    uint32_t crcs[4];
    for (int i = 0; i < 4; i++)
        crcs[i] = crc32c(0, data + i * 512, i < 3 ? 512 : 100);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 11, 3, &w), 0);
    char data_path[256], meta_path[256];
    replica_file(data_path, sizeof data_path, f->d0, "rbw", 11, 0, 0);
    replica_file(meta_path, sizeof meta_path, f->d0, "rbw", 11, 3, 1);

    /* The first two chunks, with the right CRCs. */
    assert_int_equal(block_writer_append(w, data, 1024, crcs, 2), 0);
    assert_int_equal(block_writer_length(w), 1024);
    long long data_size = file_size(data_path), meta_size = file_size(meta_path);
    assert_int_equal(data_size, 1024);
    assert_int_equal(meta_size, 16 + 8);

    /* A bad CRC for the last chunk of a call: nothing at all is written. */
    uint32_t bad[2] = {crcs[2], crcs[3] ^ 1};
    assert_int_equal(block_writer_append(w, data + 1024, LEN - 1024, bad, 2), EMBER_ECORRUPT);
    assert_int_equal(block_writer_length(w), 1024);
    assert_int_equal(file_size(data_path), data_size);
    assert_int_equal(file_size(meta_path), meta_size);
    /* A bad first CRC, likewise. */
    bad[0] = crcs[2] ^ 0x80000000u;
    bad[1] = crcs[3];
    assert_int_equal(block_writer_append(w, data + 1024, LEN - 1024, bad, 2), EMBER_ECORRUPT);
    assert_int_equal(block_writer_length(w), 1024);
    assert_int_equal(file_size(data_path), data_size);
    /* Bad data under good CRCs. */
    unsigned char copy[LEN];
    memcpy(copy, data, LEN);
    copy[1024 + 600] ^= 1;
    assert_int_equal(block_writer_append(w, copy + 1024, LEN - 1024, crcs + 2, 2), EMBER_ECORRUPT);
    assert_int_equal(file_size(data_path), data_size);
    /* The wrong number of CRCs. */
    assert_int_equal(block_writer_append(w, data + 1024, LEN - 1024, crcs + 2, 1), EMBER_EINVAL);
    assert_int_equal(block_writer_append(w, data + 1024, LEN - 1024, crcs + 2, 3), EMBER_EINVAL);

    /* The writer is still good: the rest, with the right CRCs. */
    assert_int_equal(block_writer_append(w, data + 1024, LEN - 1024, crcs + 2, 2), 0);
    assert_int_equal(block_writer_length(w), LEN);
    /* Now off a chunk boundary: CRCs are refused. */
    assert_int_equal(block_writer_append(w, data, 10, crcs, 1), EMBER_EINVAL);
    assert_int_equal(block_writer_length(w), LEN);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    expect_meta(f->d0, 11, 3, data, LEN);
    expect_block(s, 11, 3, data, LEN);

    /* Plain appends then CRC appends once back on a boundary. */
    unsigned char more[2048];
    fill(more, sizeof more, 6);
    assert_int_equal(block_writer_create(s, 12, 3, &w), 0);
    assert_int_equal(block_writer_append(w, more, 300, NULL, 0), 0);
    uint32_t c = crc32c(0, more + 512, 512);
    assert_int_equal(block_writer_append(w, more + 300, 512, &c, 1), EMBER_EINVAL);
    assert_int_equal(block_writer_append(w, more + 300, 212, NULL, 0), 0);
    assert_int_equal(block_writer_append(w, more + 512, 512, &c, 1), 0);
    c = crc32c(0, more + 1024, 512);
    uint32_t cc[2] = {c, crc32c(0, more + 1536, 512)};
    assert_int_equal(block_writer_append(w, more + 1024, 1024, cc, 2), 0);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    expect_meta(f->d0, 12, 3, more, sizeof more);
    expect_block(s, 12, 3, more, sizeof more);
    block_store_close(s);
}

static void test_corrupt_data_chunk(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { LEN = 5000 };
    unsigned char data[LEN], buf[LEN];
    fill(data, LEN, 7);
    put_block(s, 20, 4, data, LEN);
    put_block(s, 21, 4, data, LEN);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 20, 0, 0);
    flip_byte(path, 3 * 512 + 17); /* chunk 3 */

    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 20, &r), 0);
    size_t got = 99;
    assert_int_equal(block_reader_pread(r, buf, 512, 3 * 512, &got), EMBER_ECORRUPT);
    assert_int_equal(got, 0);
    /* Any read touching chunk 3, even by one byte at either end. */
    assert_int_equal(block_reader_pread(r, buf, 1, 3 * 512 + 511, &got), EMBER_ECORRUPT);
    assert_int_equal(block_reader_pread(r, buf, 2, 3 * 512 - 1, &got), EMBER_ECORRUPT);
    assert_int_equal(block_reader_pread(r, buf, 1, 3 * 512 + 17, &got), EMBER_ECORRUPT);
    assert_int_equal(block_reader_pread(r, buf, LEN, 0, &got), EMBER_ECORRUPT);
    /* The chunks around it are fine. */
    assert_int_equal(block_reader_pread(r, buf, 3 * 512, 0, &got), 0);
    assert_int_equal(got, 3 * 512);
    assert_memory_equal(buf, data, 3 * 512);
    assert_int_equal(block_reader_pread(r, buf, LEN, 4 * 512, &got), 0);
    assert_int_equal(got, LEN - 4 * 512);
    assert_memory_equal(buf, data + 4 * 512, LEN - 4 * 512);
    block_reader_close(r);
    assert_int_equal(block_store_verify(s, 20), EMBER_ECORRUPT);
    assert_int_equal(block_store_verify(s, 21), 0);
    assert_int_equal(block_store_verify(s, 22), EMBER_ENOENT);

    /* The last, partial chunk too. */
    replica_file(path, sizeof path, f->d0, "finalized", 21, 0, 0);
    flip_byte(path, LEN - 1);
    assert_int_equal(block_reader_open(s, 21, &r), 0);
    assert_int_equal(block_reader_pread(r, buf, 1, LEN - 1, &got), EMBER_ECORRUPT);
    assert_int_equal(block_reader_pread(r, buf, 100, 0, &got), 0);
    block_reader_close(r);
    assert_int_equal(block_store_verify(s, 21), EMBER_ECORRUPT);
    block_store_close(s);
}

static void test_corrupt_meta(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { LEN = 2000 };
    unsigned char data[LEN], buf[LEN];
    fill(data, LEN, 8);
    put_block(s, 30, 6, data, LEN);
    put_block(s, 31, 6, data, LEN);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 30, 6, 1);
    flip_byte(path, 16 + 4 * 1 + 2); /* the CRC of chunk 1 */
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 30, &r), 0);
    size_t got;
    assert_int_equal(block_reader_pread(r, buf, 10, 600, &got), EMBER_ECORRUPT);
    assert_int_equal(block_reader_pread(r, buf, 512, 0, &got), 0);
    assert_int_equal(block_reader_pread(r, buf, LEN, 1024, &got), 0);
    assert_int_equal(got, LEN - 1024);
    block_reader_close(r);
    assert_int_equal(block_store_verify(s, 30), EMBER_ECORRUPT);

    /* A damaged header: every read fails, at open of the reader or not. */
    replica_file(path, sizeof path, f->d0, "finalized", 31, 6, 1);
    flip_byte(path, 3); /* the magic */
    assert_int_equal(block_reader_open(s, 31, &r), 0);
    assert_int_equal(block_reader_pread(r, buf, 10, 0, &got), EMBER_ECORRUPT);
    uint32_t c;
    assert_int_equal(block_reader_checksums(r, 0, 1, &c), EMBER_ECORRUPT);
    block_reader_close(r);
    assert_int_equal(block_store_verify(s, 31), EMBER_ECORRUPT);
    flip_byte(path, 3);
    assert_int_equal(block_store_verify(s, 31), 0);
    flip_byte(path, 15); /* bytes per checksum 512 -> 576 */
    assert_int_equal(block_store_verify(s, 31), EMBER_ECORRUPT);
    block_store_close(s);
}

static void test_truncated_files(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { LEN = 2000 };
    unsigned char data[LEN], buf[LEN];
    fill(data, LEN, 9);
    put_block(s, 40, 1, data, LEN);
    put_block(s, 41, 1, data, LEN);
    /* Shortened behind the store's back (it still believes LEN). */
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 40, 0, 0);
    assert_int_equal(truncate(path, 1500), 0);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 40, &r), 0);
    size_t got;
    assert_int_equal(block_reader_pread(r, buf, 512, 0, &got), 0);
    assert_int_equal(block_reader_pread(r, buf, 10, 1990, &got), EMBER_ECORRUPT);
    block_reader_close(r);
    replica_file(path, sizeof path, f->d0, "finalized", 41, 1, 1);
    assert_int_equal(truncate(path, 16 + 8), 0);
    assert_int_equal(block_store_verify(s, 41), EMBER_ECORRUPT);
    block_store_close(s);
    /* After a reopen neither is indexed: their sizes do not agree. */
    s = open_store(f, f->d0);
    assert_int_equal(block_reader_open(s, 40, &r), EMBER_ENOENT);
    assert_int_equal(block_reader_open(s, 41, &r), EMBER_ENOENT);
    assert_int_equal(block_store_used_bytes(s), 0);
    block_store_close(s);
}

static void test_checksums(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { LEN = 5 * 512 + 1 };
    unsigned char data[LEN];
    fill(data, LEN, 10);
    put_block(s, 50, 1, data, LEN);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 50, &r), 0);
    uint32_t c[8];
    assert_int_equal(block_reader_checksums(r, 0, 6, c), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(c[i], crc32c(0, data + i * 512, i < 5 ? 512 : 1));
    memset(c, 0, sizeof c);
    assert_int_equal(block_reader_checksums(r, 4, 2, c), 0);
    assert_int_equal(c[0], crc32c(0, data + 4 * 512, 512));
    assert_int_equal(c[1], crc32c(0, data + 5 * 512, 1));
    assert_int_equal(block_reader_checksums(r, 6, 0, c), 0);
    assert_int_equal(block_reader_checksums(r, 5, 2, c), EMBER_EINVAL);
    assert_int_equal(block_reader_checksums(r, 0, 7, c), EMBER_EINVAL);
    assert_int_equal(block_reader_checksums(r, 7, 0, c), EMBER_EINVAL);
    assert_int_equal(block_reader_checksums(r, UINT64_MAX, 1, c), EMBER_EINVAL);
    block_reader_close(r);
    block_store_close(s);
}

/* A child that finalizes block 61 and dies while writing block 62. */
static void crash_while_writing(struct fixture *f, const unsigned char *data, size_t len) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        block_store *s = NULL;
        block_writer *w = NULL;
        char err[256];
        if (block_store_open(f->d0, &s, err, sizeof err) != 0)
            _exit(1);
        if (block_writer_create(s, 61, 8, &w) != 0 ||
            block_writer_append(w, data, len, NULL, 0) != 0 || block_writer_finalize(w, NULL) != 0)
            _exit(2);
        if (block_writer_create(s, 62, 8, &w) != 0 ||
            block_writer_append(w, data, len, NULL, 0) != 0)
            _exit(3);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_reopen(void **state) {
    struct fixture *f = *state;
    enum { LEN = 1300 };
    unsigned char data[LEN];
    fill(data, LEN, 11);
    block_store *s = open_store(f, f->d0);
    put_block(s, 60, 3, data, 1);
    put_block(s, 12345678901234567890ull, 77, data, LEN);
    put_block(s, 0, 5, data, 512);
    block_store_close(s);
    crash_while_writing(f, data, 700);

    char rbw[256], fin[256], path[512];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    snprintf(fin, sizeof fin, "%s/current/finalized", f->d0);
    assert_int_equal(count_entries(rbw), 2); /* block 62's two files */
    /* A stray file in rbw/ that is not a replica stays. */
    snprintf(path, sizeof path, "%s/notes.txt", rbw);
    spew(path, "x", 1);
    /* Names in finalized/ that do not parse are ignored, as are a data file
     * alone, a meta alone, and a meta of the wrong size.  (blk_012 with
     * its 20-byte meta would be a 20-byte replica if leading zeros were
     * accepted; the store could then not find it under its name blk_12.) */
    static const char *junk[] = {
        "blk_",        "blk_12x", "blk_007",        "blk_7_",
        "blk_7_3.met", "blk_-1",  "other",          "blk_99999999999999999999",
        "blk_70.meta", "blk_012", "blk_012_1.meta",
    };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        snprintf(path, sizeof path, "%s/%s", fin, junk[i]);
        spew(path, data, 20);
    }
    replica_file(path, sizeof path, f->d0, "finalized", 80, 0, 0);
    spew(path, data, 100);
    replica_file(path, sizeof path, f->d0, "finalized", 81, 2, 1);
    spew(path, data, 20);
    replica_file(path, sizeof path, f->d0, "finalized", 82, 0, 0);
    spew(path, data, 1000);
    replica_file(path, sizeof path, f->d0, "finalized", 82, 2, 1);
    spew(path, data, 16 + 4); /* 1000 bytes need 2 CRCs */
    /* Block 60 also has an older meta of the wrong size and an older one of
     * the right size: the newest right one counts. */
    replica_file(path, sizeof path, f->d0, "finalized", 60, 1, 1);
    spew(path, data, 16 + 8);
    replica_file(path, sizeof path, f->d0, "finalized", 60, 2, 1);
    spew(path, data, 16 + 4);

    s = open_store(f, f->d0);
    assert_string_equal(f->err, "");
    assert_int_equal(count_entries(rbw), 3); /* block 62 is kept */
    snprintf(path, sizeof path, "%s/notes.txt", rbw);
    assert_true(exists(path));
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 62, &r), EMBER_ENOENT);
    for (uint64_t id = 80; id <= 82; id++)
        assert_int_equal(block_reader_open(s, id, &r), EMBER_ENOENT);
    assert_int_equal(block_reader_open(s, 7, &r), EMBER_ENOENT);
    assert_int_equal(block_reader_open(s, 12, &r), EMBER_ENOENT);
    expect_block(s, 60, 3, data, 1);
    expect_block(s, 12345678901234567890ull, 77, data, LEN);
    expect_block(s, 0, 5, data, 512);
    expect_block(s, 61, 8, data, 700);
    for (uint64_t id = 60; id <= 61; id++)
        assert_int_equal(block_store_verify(s, id), 0);

    block_info *list = NULL;
    size_t count = 0;
    assert_int_equal(block_store_list(s, &list, &count), 0);
    assert_int_equal(count, 4);
    int seen = 0;
    for (size_t i = 0; i < count; i++) {
        if (list[i].block_id == 60 && list[i].gen_stamp == 3 && list[i].length == 1)
            seen |= 1;
        if (list[i].block_id == 12345678901234567890ull && list[i].gen_stamp == 77 &&
            list[i].length == LEN)
            seen |= 2;
        if (list[i].block_id == 0 && list[i].gen_stamp == 5 && list[i].length == 512)
            seen |= 4;
        if (list[i].block_id == 61 && list[i].gen_stamp == 8 && list[i].length == 700)
            seen |= 8;
    }
    assert_int_equal(seen, 15);
    free(list);
    assert_int_equal(block_store_used_bytes(s),
                     1 + 20 + LEN + meta_len(LEN) + 512 + 20 + 700 + meta_len(700));
    /* Block 62 waits for recovery with all 700 bytes its writer wrote
     * (the partial chunk's CRC went to the meta with the append). */
    block_info info;
    assert_int_equal(block_store_replica(s, 62, &info), BLOCK_REPLICA_RBW);
    assert_int_equal(info.gen_stamp, 8);
    assert_int_equal(info.length, 700);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 62, 9, &w), EMBER_EEXIST);
    /* Deleted, it can be written again. */
    assert_int_equal(block_store_delete(s, 62), 0);
    put_block(s, 62, 9, data, 10);
    expect_block(s, 62, 9, data, 10);
    block_store_close(s);
    /* The ignored files were left alone. */
    replica_file(path, sizeof path, f->d0, "finalized", 80, 0, 0);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/blk_007", fin);
    assert_true(exists(path));
}

static void test_reopen_same_block_in_two_dirs(void **state) {
    struct fixture *f = *state;
    unsigned char data[1000];
    fill(data, sizeof data, 12);
    block_store *s = open_store(f, f->both);
    put_block(s, 90, 4, data, 600); /* in d0: a tie goes to the first */
    put_block(s, 91, 4, data, 600);
    block_store_close(s);
    char from[512], to[512];
    /* d1 gets block 90 at a newer gen stamp and block 91 at an older one. */
    replica_file(from, sizeof from, f->d0, "finalized", 90, 4, 1);
    replica_file(to, sizeof to, f->d1, "finalized", 90, 5, 1);
    assert_int_equal(link(from, to), 0);
    replica_file(from, sizeof from, f->d0, "finalized", 90, 0, 0);
    replica_file(to, sizeof to, f->d1, "finalized", 90, 0, 0);
    assert_int_equal(link(from, to), 0);
    replica_file(from, sizeof from, f->d0, "finalized", 91, 4, 1);
    replica_file(to, sizeof to, f->d1, "finalized", 91, 3, 1);
    assert_int_equal(link(from, to), 0);
    replica_file(from, sizeof from, f->d0, "finalized", 91, 0, 0);
    replica_file(to, sizeof to, f->d1, "finalized", 91, 0, 0);
    assert_int_equal(link(from, to), 0);
    s = open_store(f, f->both);
    expect_block(s, 90, 5, data, 600);
    expect_block(s, 91, 4, data, 600);
    block_info *list = NULL;
    size_t count = 0;
    assert_int_equal(block_store_list(s, &list, &count), 0);
    assert_int_equal(count, 2);
    free(list);
    assert_int_equal(block_store_used_bytes(s), 2 * (600 + meta_len(600)));
    /* Deleting 90 removes d1's copy, the one indexed. */
    assert_int_equal(block_store_delete(s, 90), 0);
    replica_file(to, sizeof to, f->d1, "finalized", 90, 0, 0);
    assert_false(exists(to));
    replica_file(from, sizeof from, f->d0, "finalized", 90, 0, 0);
    assert_true(exists(from));
    block_store_close(s);
}

static void test_duplicate_create(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    block_writer *w = NULL, *w2 = (block_writer *)1;
    assert_int_equal(block_writer_create(s, 100, 1, &w), 0);
    assert_int_equal(block_writer_create(s, 100, 1, &w2), EMBER_EEXIST);
    assert_null(w2);
    assert_int_equal(block_writer_create(s, 100, 2, &w2), EMBER_EEXIST);
    assert_int_equal(block_writer_append(w, "abc", 3, NULL, 0), 0);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    assert_int_equal(block_writer_create(s, 100, 3, &w2), EMBER_EEXIST);
    /* After a delete the id is free again. */
    assert_int_equal(block_store_delete(s, 100), 0);
    assert_int_equal(block_writer_create(s, 100, 4, &w2), 0);
    block_writer_abort(w2);
    block_store_close(s);
}

static void test_abort(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 110, 1, &w), 0);
    unsigned char data[700];
    fill(data, sizeof data, 13);
    assert_int_equal(block_writer_append(w, data, sizeof data, NULL, 0), 0);
    char rbw[256];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    assert_int_equal(count_entries(rbw), 2);
    block_writer_abort(w);
    assert_int_equal(count_entries(rbw), 0);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 110, &r), EMBER_ENOENT);
    assert_int_equal(block_store_used_bytes(s), 0);
    block_writer_abort(NULL);
    /* The id can be used again. */
    put_block(s, 110, 2, data, 5);
    expect_block(s, 110, 2, data, 5);
    block_store_close(s);
}

static void test_delete(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    unsigned char data[1500];
    fill(data, sizeof data, 14);
    put_block(s, 120, 6, data, sizeof data);
    put_block(s, 121, 6, data, 10);
    assert_int_equal(block_store_used_bytes(s), 1500 + meta_len(1500) + 10 + 20);
    /* A reader opened before the delete keeps reading. */
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 120, &r), 0);
    assert_int_equal(block_store_delete(s, 120), 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 120, 0, 0);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "finalized", 120, 6, 1);
    assert_false(exists(path));
    assert_int_equal(block_store_used_bytes(s), 10 + 20);
    unsigned char buf[1500];
    size_t got = 0;
    assert_int_equal(block_reader_pread(r, buf, sizeof buf, 0, &got), 0);
    assert_int_equal(got, sizeof buf);
    assert_memory_equal(buf, data, sizeof buf);
    block_reader_close(r);
    block_reader *r2 = NULL;
    assert_int_equal(block_reader_open(s, 120, &r2), EMBER_ENOENT);
    assert_int_equal(block_store_delete(s, 120), EMBER_ENOENT);
    assert_int_equal(block_store_delete(s, 999), EMBER_ENOENT);
    /* A replica being written is not a finalized one. */
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 122, 1, &w), 0);
    assert_int_equal(block_store_delete(s, 122), EMBER_ENOENT);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    assert_int_equal(block_store_delete(s, 122), 0);
    expect_block(s, 121, 6, data, 10);
    block_store_close(s);
    /* Deletes survive a reopen. */
    s = open_store(f, f->d0);
    assert_int_equal(block_reader_open(s, 120, &r), EMBER_ENOENT);
    expect_block(s, 121, 6, data, 10);
    assert_int_equal(block_store_used_bytes(s), 10 + 20);
    block_store_close(s);
}

static void test_list_and_used_bytes(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    enum { N = 300 };
    unsigned char data[N];
    fill(data, N, 15);
    uint64_t used = 0;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t id = i * 0x100000001ull; /* ids that collide in the low bits */
        put_block(s, id, i + 1, data, (size_t)i);
        used += i + meta_len(i);
        assert_int_equal(block_store_used_bytes(s), used);
    }
    /* Half deleted: every other id. */
    for (uint64_t i = 0; i < N; i += 2) {
        assert_int_equal(block_store_delete(s, i * 0x100000001ull), 0);
        used -= i + meta_len(i);
        assert_int_equal(block_store_used_bytes(s), used);
    }
    for (int pass = 0; pass < 2; pass++) {
        block_info *list = NULL;
        size_t count = 0;
        assert_int_equal(block_store_list(s, &list, &count), 0);
        assert_int_equal(count, N / 2);
        unsigned char seen[N] = {0};
        for (size_t k = 0; k < count; k++) {
            uint64_t i = list[k].block_id / 0x100000001ull;
            assert_true(i < N && i % 2 == 1);
            assert_int_equal(list[k].block_id, i * 0x100000001ull);
            assert_int_equal(list[k].gen_stamp, i + 1);
            assert_int_equal(list[k].length, i);
            assert_false(seen[i]);
            seen[i] = 1;
        }
        free(list);
        /* Every remaining one is still found (the index after deletes). */
        for (uint64_t i = 1; i < N; i += 2)
            expect_block(s, i * 0x100000001ull, i + 1, data, (size_t)i);
        assert_int_equal(block_store_used_bytes(s), used);
        block_store_close(s);
        s = open_store(f, f->d0);
    }
    block_store_close(s);
}

static void test_failed_dir_at_open(void **state) {
    struct fixture *f = *state;
    spew(f->d0, "not a directory", 15); /* d0 is a regular file */
    block_store *s = open_store(f, f->both);
    assert_non_null(strstr(f->err, f->d0));
    int total = 0, failed = 0;
    block_store_dirs(s, &total, &failed);
    assert_int_equal(total, 2);
    assert_int_equal(failed, 1);
    unsigned char data[800];
    fill(data, sizeof data, 16);
    for (uint64_t id = 1; id <= 3; id++)
        put_block(s, id, 1, data, sizeof data);
    char path[256];
    for (uint64_t id = 1; id <= 3; id++) {
        replica_file(path, sizeof path, f->d1, "finalized", id, 0, 0);
        assert_int_equal(file_size(path), 800);
        expect_block(s, id, 1, data, sizeof data);
    }
    block_store_close(s);

    /* A data directory whose current/ is a file fails the same way. */
    assert_int_equal(unlink(f->d0), 0);
    assert_int_equal(mkdir(f->d0, 0700), 0);
    snprintf(path, sizeof path, "%s/current", f->d0);
    spew(path, "x", 1);
    s = open_store(f, f->both);
    block_store_dirs(s, &total, &failed);
    assert_int_equal(failed, 1);
    expect_block(s, 2, 1, data, sizeof data);
    block_store_close(s);
}

static void test_all_dirs_bad(void **state) {
    struct fixture *f = *state;
    spew(f->d0, "x", 1);
    spew(f->d1, "x", 1);
    block_store *s = (block_store *)1;
    f->err[0] = '\0';
    assert_int_equal(block_store_open(f->both, &s, f->err, sizeof f->err), EMBER_EIO);
    assert_null(s);
    assert_true(strlen(f->err) > 0);
    assert_null(strchr(f->err, '\n'));
    assert_non_null(strstr(f->err, f->d0));
    /* A missing parent cannot be made up either. */
    char deep[256];
    snprintf(deep, sizeof deep, "%s/missing/data", f->tmp);
    assert_int_equal(block_store_open(deep, &s, f->err, sizeof f->err), EMBER_EIO);
    assert_non_null(strstr(f->err, deep));
    /* No directory at all, or the same one twice. */
    assert_int_equal(block_store_open("", &s, f->err, sizeof f->err), EMBER_EINVAL);
    assert_true(strlen(f->err) > 0);
    assert_int_equal(block_store_open(",,", &s, f->err, sizeof f->err), EMBER_EINVAL);
    char twice[300];
    snprintf(twice, sizeof twice, "%s/a,%s/a", f->tmp, f->tmp);
    assert_int_equal(block_store_open(twice, &s, f->err, sizeof f->err), EMBER_EINVAL);
    assert_int_equal(block_store_open(NULL, &s, f->err, sizeof f->err), EMBER_EINVAL);
    assert_int_equal(block_store_open(f->d0, NULL, NULL, 0), EMBER_EINVAL);
}

static void test_create_fails_over(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->both);
    unsigned char data[100];
    fill(data, sizeof data, 17);
    put_block(s, 1, 1, data, sizeof data);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 1, 0, 0);
    assert_true(exists(path)); /* same file system: the first on a tie */
    /* d0's rbw/ disappears (as when a disk is unmounted). */
    snprintf(path, sizeof path, "%s/current/rbw", f->d0);
    assert_int_equal(rmdir(path), 0);
    put_block(s, 2, 1, data, sizeof data);
    int total = 0, failed = 0;
    block_store_dirs(s, &total, &failed);
    assert_int_equal(failed, 1);
    replica_file(path, sizeof path, f->d1, "finalized", 2, 0, 0);
    assert_true(exists(path));
    /* The failed directory's replicas stay readable. */
    expect_block(s, 1, 1, data, sizeof data);
    /* d1 breaks too: nothing can take a replica. */
    snprintf(path, sizeof path, "%s/current/rbw", f->d1);
    assert_int_equal(rmdir(path), 0);
    block_writer *w = (block_writer *)1;
    assert_int_equal(block_writer_create(s, 3, 1, &w), EMBER_EIO);
    assert_null(w);
    block_store_dirs(s, &total, &failed);
    assert_int_equal(failed, 2);
    assert_int_equal(block_writer_create(s, 3, 1, &w), EMBER_EIO);
    expect_block(s, 2, 1, data, sizeof data);
    block_store_close(s);
}

static void test_create_eacces(void **state) {
    struct fixture *f = *state;
    if (geteuid() == 0)
        skip(); /* root writes through permissions */
    block_store *s = open_store(f, f->both);
    char path[256];
    snprintf(path, sizeof path, "%s/current/rbw", f->d0);
    assert_int_equal(chmod(path, 0500), 0);
    unsigned char data[10] = {0};
    put_block(s, 1, 1, data, sizeof data);
    int failed = 0;
    block_store_dirs(s, NULL, &failed);
    assert_int_equal(failed, 1);
    replica_file(path, sizeof path, f->d1, "finalized", 1, 0, 0);
    assert_true(exists(path));
    block_store_close(s);
}

static void test_most_free_space(void **state) {
    struct fixture *f = *state;
    /* Needs a second file system with a clearly different amount free. */
    strcpy(f->extra, "/dev/shm/ember_test_block_store_XXXXXX");
    if (mkdtemp(f->extra) == NULL) {
        f->extra[0] = '\0';
        skip();
    }
    struct statvfs a, b;
    assert_int_equal(statvfs(f->tmp, &a), 0);
    assert_int_equal(statvfs(f->extra, &b), 0);
    uint64_t fa = (uint64_t)a.f_bavail * a.f_frsize, fb = (uint64_t)b.f_bavail * b.f_frsize;
    uint64_t gap = fa > fb ? fa - fb : fb - fa;
    if (a.f_fsid == b.f_fsid || gap < (64u << 20))
        skip();
    char dirs[300], extra_data[128];
    snprintf(extra_data, sizeof extra_data, "%s/data", f->extra);
    /* The roomier one is named second, then first: it wins both times. */
    const char *roomy = fa > fb ? f->d0 : extra_data;
    for (int order = 0; order < 2; order++) {
        if ((order == 0) == (fa > fb))
            snprintf(dirs, sizeof dirs, "%s,%s", extra_data, f->d0);
        else
            snprintf(dirs, sizeof dirs, "%s,%s", f->d0, extra_data);
        block_store *s = open_store(f, dirs);
        put_block(s, 1 + (uint64_t)order, 1, (const unsigned char *)"hello", 5);
        char path[256];
        replica_file(path, sizeof path, roomy, "finalized", 1 + (uint64_t)order, 0, 0);
        assert_true(exists(path));
        block_store_close(s);
    }
}

/* dfs.datanode.du.reserved: a directory with nothing free past the
 * reserve takes no new replica (EMBER_ENOSPC when none has room, nothing
 * left behind) and is reported full; what it holds stays readable. */
static void test_reserved_full(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->both);
    put_block(s, 1, 1, (const unsigned char *)"hello", 5);
    disk_usage sp;
    block_store_space(s, 1 << 20, &sp);
    assert_int_equal(sp.dirs, 2);
    assert_int_equal(sp.failed_dirs, 0);
    assert_int_equal(sp.full_dirs, 0); /* the test's file system has a MiB free */
    assert_int_equal(sp.used_bytes, 5 + meta_len(5));
    assert_true(sp.remaining_bytes > 0 && sp.remaining_bytes <= sp.capacity_bytes);
    uint64_t capacity = sp.capacity_bytes;
    /* Both directories live on one file system: counted once. */
    struct statvfs vfs;
    assert_int_equal(statvfs(f->tmp, &vfs), 0);
    assert_int_equal(capacity, (uint64_t)vfs.f_blocks * vfs.f_frsize);
    /* A directory is full below the threshold given. */
    block_store_space(s, UINT64_MAX, &sp);
    assert_int_equal(sp.full_dirs, 2);

    block_store_set_reserved(s, UINT64_MAX / 4);
    block_writer *w = (block_writer *)1;
    assert_int_equal(block_writer_create(s, 2, 1, &w), EMBER_ENOSPC);
    assert_null(w);
    char path[256];
    replica_file(path, sizeof path, f->d0, "rbw", 2, 0, 0);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d1, "rbw", 2, 0, 0);
    assert_false(exists(path));
    block_store_space(s, 1, &sp);
    assert_int_equal(sp.full_dirs, 2);
    assert_int_equal(sp.failed_dirs, 0); /* full is not failed */
    assert_int_equal(sp.remaining_bytes, 0);
    assert_int_equal(sp.capacity_bytes, capacity);
    expect_block(s, 1, 1, (const unsigned char *)"hello", 5);

    block_store_set_reserved(s, 0);
    put_block(s, 2, 1, (const unsigned char *)"again", 5);
    expect_block(s, 2, 1, (const unsigned char *)"again", 5);
    block_store_close(s);
}

static void test_write_failure(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    unsigned char data[4096];
    fill(data, sizeof data, 18);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 130, 1, &w), 0);
    assert_int_equal(block_writer_append(w, data, 1000, NULL, 0), 0);

    /* A file size limit makes the next data write fail part way. */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1500;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = block_writer_append(w, data + 1000, 1000, NULL, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, EMBER_EIO);

    /* The writer is done for, even with room again. */
    assert_int_equal(block_writer_length(w), 1000);
    assert_int_equal(block_writer_append(w, data + 1000, 10, NULL, 0), EMBER_EIO);
    uint64_t len = 0;
    assert_int_equal(block_writer_finalize(w, &len), EMBER_EIO);
    /* The replica stays in rbw/, at what its files prove: the 1000 bytes
     * of the first append, not the torn second one. */
    char rbw[256], fin[256];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    snprintf(fin, sizeof fin, "%s/current/finalized", f->d0);
    assert_int_equal(count_entries(rbw), 2);
    assert_int_equal(count_entries(fin), 0);
    block_info info;
    assert_int_equal(block_store_replica(s, 130, &info), BLOCK_REPLICA_RBW);
    assert_int_equal(info.length, 1000);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 130, &r), EMBER_ENOENT);
    /* A file too big is not a failed directory. */
    int failed = -1;
    block_store_dirs(s, NULL, &failed);
    assert_int_equal(failed, 0);
    assert_int_equal(block_store_delete(s, 130), 0);
    assert_int_equal(count_entries(rbw), 0);
    put_block(s, 130, 2, data, sizeof data);
    expect_block(s, 130, 2, data, sizeof data);
    block_store_close(s);
}

static void test_bad_arguments(void **state) {
    struct fixture *f = *state;
    block_store *s = open_store(f, f->d0);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(NULL, 1, 1, &w), EMBER_EINVAL);
    assert_int_equal(block_writer_create(s, 1, 1, NULL), EMBER_EINVAL);
    assert_int_equal(block_writer_create(s, 1, 1, &w), 0);
    assert_int_equal(block_writer_append(NULL, "a", 1, NULL, 0), EMBER_EINVAL);
    assert_int_equal(block_writer_append(w, NULL, 1, NULL, 0), EMBER_EINVAL);
    assert_int_equal(block_writer_length(w), 0);
    assert_int_equal(block_writer_finalize(NULL, NULL), EMBER_EINVAL);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(NULL, 1, &r), EMBER_EINVAL);
    assert_int_equal(block_reader_open(s, 1, NULL), EMBER_EINVAL);
    assert_int_equal(block_reader_open(s, 1, &r), 0);
    size_t got;
    assert_int_equal(block_reader_pread(r, NULL, 0, 0, &got), 0);
    assert_int_equal(block_reader_pread(r, NULL, 0, 0, NULL), EMBER_EINVAL);
    block_reader_close(r);
    block_reader_close(NULL);
    assert_int_equal(block_store_delete(NULL, 1), EMBER_EINVAL);
    assert_int_equal(block_store_list(s, NULL, &got), EMBER_EINVAL);
    assert_int_equal(block_store_used_bytes(NULL), 0);
    int total = -1, failed = -1;
    block_store_dirs(NULL, &total, &failed);
    assert_int_equal(total, 0);
    assert_int_equal(failed, 0);
    block_store_close(s);
}

/* ---- replicas waiting for recovery, recovery, append ---- */

/* Writes len bytes as block id (in appends of 700) and detaches the
 * writer: the replica stays in rbw/, RBW with length len. */
static void put_rbw(block_store *s, uint64_t id, uint64_t gs, const unsigned char *data,
                    size_t len) {
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, id, gs, &w), 0);
    for (size_t off = 0; off < len; off += 700)
        assert_int_equal(
            block_writer_append(w, data + off, len - off < 700 ? len - off : 700, NULL, 0), 0);
    uint64_t kept = 12345;
    assert_int_equal(block_writer_detach(w, &kept), 0);
    assert_int_equal(kept, len);
}

/* Asserts block id's state, gen stamp and length. */
static void expect_state(block_store *s, uint64_t id, block_replica_state st, uint64_t gs,
                         uint64_t len) {
    block_info info;
    assert_int_equal(block_store_replica(s, id, &info), st);
    assert_int_equal(info.block_id, id);
    assert_int_equal(info.gen_stamp, gs);
    assert_int_equal(info.length, len);
}

/* Appends extra bytes to a file. */
static void grow_file(const char *path, const void *extra, size_t n) {
    FILE *out = fopen(path, "ab");
    assert_non_null(out);
    assert_int_equal(fwrite(extra, 1, n, out), n);
    assert_int_equal(fclose(out), 0);
}

/* A detached replica keeps its files (the partial chunk's CRC written),
 * is invisible to readers, the finalized list and used bytes, blocks a
 * new write of its id, is listed as rbw, survives a reopen at the same
 * valid length, and can be deleted. */
static void test_rbw_survives_reopen(void **state) {
    struct fixture *f = *state;
    enum { LEN = 1300 };
    unsigned char data[LEN];
    fill(data, LEN, 30);
    block_store *s = open_store(f, f->d0);
    put_rbw(s, 500, 7, data, LEN);
    put_rbw(s, 501, 7, data, 0);
    put_block(s, 502, 7, data, 100);
    char path[256];
    replica_file(path, sizeof path, f->d0, "rbw", 500, 0, 0);
    assert_int_equal(file_size(path), LEN);
    replica_file(path, sizeof path, f->d0, "rbw", 500, 7, 1);
    assert_int_equal(file_size(path), meta_len(LEN));
    for (int pass = 0; pass < 2; pass++) {
        expect_state(s, 500, BLOCK_REPLICA_RBW, 7, LEN);
        expect_state(s, 501, BLOCK_REPLICA_RBW, 7, 0);
        expect_state(s, 502, BLOCK_REPLICA_FINALIZED, 7, 100);
        expect_state(s, 503, BLOCK_REPLICA_ABSENT, 0, 0);
        block_reader *r = NULL;
        assert_int_equal(block_reader_open(s, 500, &r), EMBER_ENOENT);
        assert_int_equal(block_store_verify(s, 500), EMBER_ENOENT);
        block_writer *w = NULL;
        assert_int_equal(block_writer_create(s, 500, 8, &w), EMBER_EEXIST);
        assert_int_equal(block_store_used_bytes(s), 100 + meta_len(100));
        block_info *list = NULL;
        size_t n = 0;
        assert_int_equal(block_store_list(s, &list, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(list[0].block_id, 502);
        free(list);
        assert_int_equal(block_store_list_rbw(s, &list, &n), 0);
        assert_int_equal(n, 2);
        int seen = 0;
        for (size_t i = 0; i < n; i++) {
            if (list[i].block_id == 500 && list[i].gen_stamp == 7 && list[i].length == LEN)
                seen |= 1;
            if (list[i].block_id == 501 && list[i].gen_stamp == 7 && list[i].length == 0)
                seen |= 2;
        }
        assert_int_equal(seen, 3);
        free(list);
        block_store_close(s);
        s = open_store(f, f->d0);
    }
    /* A writer being written is neither finalized nor rbw. */
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 503, 1, &w), 0);
    assert_int_equal(block_writer_append(w, data, 10, NULL, 0), 0);
    expect_state(s, 503, BLOCK_REPLICA_WRITING, 1, 0);
    block_info *list = NULL;
    size_t n = 0;
    assert_int_equal(block_store_list_rbw(s, &list, &n), 0);
    assert_int_equal(n, 2);
    free(list);
    assert_int_equal(block_store_delete(s, 503), EMBER_ENOENT);
    block_writer_abort(w);
    /* Delete removes both rbw files. */
    assert_int_equal(block_store_delete(s, 500), 0);
    replica_file(path, sizeof path, f->d0, "rbw", 500, 0, 0);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "rbw", 500, 7, 1);
    assert_false(exists(path));
    assert_int_equal(block_store_delete(s, 500), EMBER_ENOENT);
    expect_state(s, 500, BLOCK_REPLICA_ABSENT, 0, 0);
    put_block(s, 500, 9, data, 3);
    expect_block(s, 500, 9, data, 3);
    assert_int_equal(block_store_delete(s, 501), 0);
    block_store_close(s);
    s = open_store(f, f->d0);
    assert_int_equal(block_store_list_rbw(s, &list, &n), 0);
    assert_int_equal(n, 0);
    block_store_close(s);
}

/* What open makes of torn or broken rbw files. */
static void test_rbw_torn_tail(void **state) {
    struct fixture *f = *state;
    enum { LEN = 1300 };
    unsigned char data[LEN], junk[200];
    fill(data, LEN, 31);
    fill(junk, sizeof junk, 32);
    block_store *s = open_store(f, f->d0);
    for (uint64_t id = 510; id <= 518; id++)
        put_rbw(s, id, 3, data, id == 511 ? 1024 : LEN);
    put_block(s, 519, 3, data, 100);
    block_store_close(s);
    char path[256], meta[256];
    /* 510: data written past what the last CRC covers (a crash between
     * the data and the meta write of an append): the last chunk is cut
     * to the prefix its CRC covers. */
    replica_file(path, sizeof path, f->d0, "rbw", 510, 0, 0);
    grow_file(path, junk, 100);
    /* 511: data past what the meta covers at all. */
    replica_file(path, sizeof path, f->d0, "rbw", 511, 0, 0);
    grow_file(path, junk, 100);
    /* 512: the last chunk corrupted; 513: an earlier one (only the last
     * is checked: readers and recovery check the others). */
    replica_file(path, sizeof path, f->d0, "rbw", 512, 0, 0);
    flip_byte(path, 1100);
    replica_file(path, sizeof path, f->d0, "rbw", 513, 0, 0);
    flip_byte(path, 600);
    /* 514: the meta's last CRC torn; 515: the meta header broken. */
    replica_file(meta, sizeof meta, f->d0, "rbw", 514, 3, 1);
    assert_int_equal(truncate(meta, (off_t)meta_len(LEN) - 2), 0);
    replica_file(meta, sizeof meta, f->d0, "rbw", 515, 3, 1);
    flip_byte(meta, 2);
    /* 516: no meta; 517: no data; 518: an older meta beside the right one. */
    replica_file(meta, sizeof meta, f->d0, "rbw", 516, 3, 1);
    assert_int_equal(unlink(meta), 0);
    replica_file(path, sizeof path, f->d0, "rbw", 517, 0, 0);
    assert_int_equal(unlink(path), 0);
    replica_file(meta, sizeof meta, f->d0, "rbw", 518, 3, 1);
    replica_file(path, sizeof path, f->d0, "rbw", 518, 2, 1);
    assert_int_equal(link(meta, path), 0);
    /* 519 finalized, with rbw files too (a move that did not complete):
     * the finalized replica wins. */
    replica_file(meta, sizeof meta, f->d0, "finalized", 519, 0, 0);
    replica_file(path, sizeof path, f->d0, "rbw", 519, 0, 0);
    assert_int_equal(link(meta, path), 0);
    replica_file(meta, sizeof meta, f->d0, "finalized", 519, 3, 1);
    replica_file(path, sizeof path, f->d0, "rbw", 519, 4, 1);
    assert_int_equal(link(meta, path), 0);

    s = open_store(f, f->d0);
    expect_state(s, 510, BLOCK_REPLICA_RBW, 3, LEN);
    expect_state(s, 511, BLOCK_REPLICA_RBW, 3, 1024);
    expect_state(s, 512, BLOCK_REPLICA_RBW, 3, 1024);
    expect_state(s, 513, BLOCK_REPLICA_RBW, 3, LEN);
    expect_state(s, 514, BLOCK_REPLICA_RBW, 3, 1024);
    expect_state(s, 518, BLOCK_REPLICA_RBW, 3, LEN);
    for (uint64_t id = 515; id <= 517; id++)
        expect_state(s, id, BLOCK_REPLICA_ABSENT, 0, 0);
    expect_state(s, 519, BLOCK_REPLICA_FINALIZED, 3, 100);
    expect_block(s, 519, 3, data, 100);
    /* The files are not cut at open; what could not be a replica went. */
    replica_file(path, sizeof path, f->d0, "rbw", 510, 0, 0);
    assert_int_equal(file_size(path), LEN + 100);
    char rbw[256];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    assert_int_equal(count_entries(rbw), 6 * 2);
    replica_file(path, sizeof path, f->d0, "rbw", 518, 2, 1);
    assert_false(exists(path));
    /* Recovery of the torn one keeps what verifies, and cuts the rest. */
    assert_int_equal(block_store_recover(s, 510, 4, LEN), 0);
    expect_block(s, 510, 4, data, LEN);
    expect_meta(f->d0, 510, 4, data, LEN);
    assert_int_equal(block_store_verify(s, 510), 0);
    replica_file(path, sizeof path, f->d0, "finalized", 510, 0, 0);
    assert_int_equal(file_size(path), LEN);
    block_store_close(s);
}

/* Recovery cuts an rbw replica mid-chunk: the new last chunk's CRC is
 * recomputed, the meta holds exactly the CRCs of the chunks left, and
 * the replica is finalized under the recovery id. */
static void test_recover_rbw(void **state) {
    struct fixture *f = *state;
    enum { LEN = 5000, CUT = 3000 };
    unsigned char data[LEN];
    fill(data, LEN, 33);
    block_store *s = open_store(f, f->d0);
    put_rbw(s, 520, 3, data, LEN);
    assert_int_equal(block_store_recover(s, 520, 10, LEN + 1), EMBER_EINVAL);
    expect_state(s, 520, BLOCK_REPLICA_RBW, 3, LEN);
    assert_int_equal(block_store_recover(s, 520, 10, CUT), 0);
    expect_state(s, 520, BLOCK_REPLICA_FINALIZED, 10, CUT);
    expect_block(s, 520, 10, data, CUT);
    expect_meta(f->d0, 520, 10, data, CUT);
    assert_int_equal(block_store_verify(s, 520), 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 520, 0, 0);
    assert_int_equal(file_size(path), CUT);
    char rbw[256];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    assert_int_equal(count_entries(rbw), 0);
    assert_int_equal(block_store_used_bytes(s), CUT + meta_len(CUT));
    /* Done before: fine; anything else about it is refused. */
    assert_int_equal(block_store_recover(s, 520, 10, CUT), 0);
    assert_int_equal(block_store_recover(s, 520, 10, CUT - 1), EMBER_EINVAL);
    assert_int_equal(block_store_recover(s, 520, 9, CUT), EMBER_ESTATE);
    assert_int_equal(block_store_recover(s, 521, 10, 0), EMBER_ENOENT);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_block(s, 520, 10, data, CUT);

    /* A chunk boundary, and nothing at all. */
    put_rbw(s, 522, 3, data, LEN);
    assert_int_equal(block_store_recover(s, 522, 11, 2560), 0);
    expect_block(s, 522, 11, data, 2560);
    expect_meta(f->d0, 522, 11, data, 2560);
    put_rbw(s, 523, 3, data, LEN);
    assert_int_equal(block_store_recover(s, 523, 11, 0), 0);
    expect_block(s, 523, 11, data, 0);
    expect_meta(f->d0, 523, 11, data, 0);
    /* A replica of a newer gen stamp, or being written, is not touched. */
    put_rbw(s, 524, 30, data, LEN);
    assert_int_equal(block_store_recover(s, 524, 11, 100), EMBER_ESTATE);
    block_writer *w = NULL;
    assert_int_equal(block_writer_create(s, 525, 1, &w), 0);
    assert_int_equal(block_store_recover(s, 525, 11, 0), EMBER_ENOENT);
    block_writer_abort(w);
    /* The chunk the cut falls in must verify before its CRC is redone. */
    put_rbw(s, 526, 3, data, LEN);
    replica_file(path, sizeof path, f->d0, "rbw", 526, 0, 0);
    flip_byte(path, 2600);
    assert_int_equal(block_store_recover(s, 526, 12, CUT), EMBER_ECORRUPT);
    expect_state(s, 526, BLOCK_REPLICA_RBW, 3, LEN);
    assert_int_equal(file_size(path), LEN);
    block_store_close(s);
}

/* Recovery of a finalized replica of the right length renames its meta;
 * a reader opened before goes on reading. */
static void test_recover_finalized(void **state) {
    struct fixture *f = *state;
    enum { LEN = 1300 };
    unsigned char data[LEN];
    fill(data, LEN, 34);
    block_store *s = open_store(f, f->d0);
    put_block(s, 530, 5, data, LEN);
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 530, &r), 0);
    assert_int_equal(block_store_recover(s, 530, 9, LEN - 1), EMBER_EINVAL);
    assert_int_equal(block_store_recover(s, 530, 4, LEN), EMBER_ESTATE);
    assert_int_equal(block_store_recover(s, 530, 9, LEN), 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 530, 5, 1);
    assert_false(exists(path));
    expect_meta(f->d0, 530, 9, data, LEN);
    expect_block(s, 530, 9, data, LEN);
    unsigned char buf[LEN];
    size_t got = 0;
    assert_int_equal(block_reader_pread(r, buf, LEN, 0, &got), 0);
    assert_int_equal(got, LEN);
    assert_memory_equal(buf, data, LEN);
    block_reader_close(r);
    assert_int_equal(block_store_used_bytes(s), LEN + meta_len(LEN));
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_block(s, 530, 9, data, LEN);
    block_store_close(s);
}

/* Append: a finalized replica reopened under a new gen stamp moves to
 * rbw/ and grows from its end (mid-chunk, then with sender CRCs once on
 * a boundary); finalized again it reads back whole under the new gen
 * stamp.  A reader of the old replica keeps its bytes and CRCs. */
static void test_reopen_for_append(void **state) {
    struct fixture *f = *state;
    enum { FIRST = 1300, TOTAL = 3300 };
    unsigned char data[TOTAL];
    fill(data, TOTAL, 35);
    block_store *s = open_store(f, f->d0);
    put_block(s, 540, 5, data, FIRST);
    block_reader *old = NULL;
    assert_int_equal(block_reader_open(s, 540, &old), 0);

    block_writer *w = (block_writer *)1;
    assert_int_equal(block_writer_reopen(s, 540, 4, 6, &w), EMBER_ENOENT); /* wrong gen stamp */
    assert_null(w);
    assert_int_equal(block_writer_reopen(s, 540, 5, 5, &w), EMBER_EINVAL);
    assert_int_equal(block_writer_reopen(s, 541, 5, 6, &w), EMBER_ENOENT);
    assert_int_equal(block_writer_reopen(s, 540, 5, 6, &w), 0);
    assert_int_equal(block_writer_length(w), FIRST);
    expect_state(s, 540, BLOCK_REPLICA_WRITING, 6, 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 540, 0, 0);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "finalized", 540, 5, 1);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "rbw", 540, 6, 1);
    assert_int_equal(file_size(path), meta_len(FIRST));
    block_reader *r = NULL;
    assert_int_equal(block_reader_open(s, 540, &r), EMBER_ENOENT);
    assert_int_equal(block_store_used_bytes(s), 0);
    block_writer *w2 = NULL;
    assert_int_equal(block_writer_reopen(s, 540, 6, 7, &w2), EMBER_ENOENT); /* being written */

    /* 748 bytes finish the partial chunk, two whole chunks come with
     * their CRCs, then a partial one. */
    assert_int_equal(block_writer_append(w, data + FIRST, 748, NULL, 0), 0);
    uint32_t crcs[2] = {crc32c(0, data + 2048, 512), crc32c(0, data + 2560, 512)};
    assert_int_equal(block_writer_append(w, data + 2048, 1024, crcs, 2), 0);
    assert_int_equal(block_writer_append(w, data + 3072, TOTAL - 3072, NULL, 0), 0);
    /* The old reader still sees the old replica, checksums and all. */
    unsigned char buf[TOTAL];
    size_t got = 0;
    assert_int_equal(block_reader_pread(old, buf, TOTAL, 0, &got), 0);
    assert_int_equal(got, FIRST);
    assert_memory_equal(buf, data, FIRST);
    block_reader_close(old);

    uint64_t len = 0;
    assert_int_equal(block_writer_finalize(w, &len), 0);
    assert_int_equal(len, TOTAL);
    expect_block(s, 540, 6, data, TOTAL);
    expect_meta(f->d0, 540, 6, data, TOTAL);
    assert_int_equal(block_store_verify(s, 540), 0);
    assert_int_equal(block_store_used_bytes(s), TOTAL + meta_len(TOTAL));
    char rbw[256];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    assert_int_equal(count_entries(rbw), 0);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_block(s, 540, 6, data, TOTAL);

    /* An append that stops is kept in rbw/ under its new gen stamp; an
     * abort does not throw away the finalized bytes either. */
    assert_int_equal(block_writer_reopen(s, 540, 6, 7, &w), 0);
    assert_int_equal(block_writer_append(w, data, 10, NULL, 0), 0);
    assert_int_equal(block_writer_detach(w, &len), 0);
    assert_int_equal(len, TOTAL + 10);
    expect_state(s, 540, BLOCK_REPLICA_RBW, 7, TOTAL + 10);
    put_block(s, 542, 5, data, 1024); /* on a chunk boundary */
    assert_int_equal(block_writer_reopen(s, 542, 5, 6, &w), 0);
    block_writer_abort(w);
    expect_state(s, 542, BLOCK_REPLICA_RBW, 6, 1024);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_state(s, 540, BLOCK_REPLICA_RBW, 7, TOTAL + 10);
    expect_state(s, 542, BLOCK_REPLICA_RBW, 6, 1024);
    assert_int_equal(block_store_recover(s, 540, 8, TOTAL + 10), 0);
    unsigned char both[TOTAL + 10];
    memcpy(both, data, TOTAL);
    memcpy(both + TOTAL, data, 10);
    expect_block(s, 540, 8, both, TOTAL + 10);

    /* A finalized replica whose partial last chunk is corrupt is not
     * reopened, and stays as it was. */
    put_block(s, 543, 5, data, FIRST);
    replica_file(path, sizeof path, f->d0, "finalized", 543, 0, 0);
    flip_byte(path, 1200);
    assert_int_equal(block_writer_reopen(s, 543, 5, 6, &w), EMBER_ECORRUPT);
    expect_state(s, 543, BLOCK_REPLICA_FINALIZED, 5, FIRST);
    assert_true(exists(path));
    block_store_close(s);
}

/* Appends data[from, to) to w in pieces of 700 bytes (no sender CRCs, so
 * pieces may start mid-chunk). */
static void append_range(block_writer *w, const unsigned char *data, size_t from, size_t to) {
    for (size_t off = from; off < to; off += 700)
        assert_int_equal(
            block_writer_append(w, data + off, to - off < 700 ? to - off : 700, NULL, 0), 0);
}

/* Pipeline recovery of an RBW replica: refused for a gen stamp outside
 * [min, new), new <= min, too few bytes, a replica being written or none;
 * else cut mid-chunk under the new gen stamp (meta renamed, data file
 * cut, the partial chunk's CRC redone) and written on from there, the
 * result reading back and verifying.  A torn tail is dropped; a corrupt
 * chunk at the cut is refused with the files left alone; an abort keeps
 * the replica, under its new gen stamp. */
static void test_reopen_at_rbw(void **state) {
    struct fixture *f = *state;
    enum { LEN = 5000, CUT = 3000, TOTAL = 7000 };
    unsigned char data[TOTAL];
    fill(data, TOTAL, 36);
    block_store *s = open_store(f, f->d0);
    put_rbw(s, 550, 3, data, LEN);
    block_writer *w = (block_writer *)1;
    assert_int_equal(block_writer_reopen_at(s, 550, 4, 9, 100, &w), EMBER_ENOENT); /* 3 < 4 */
    assert_null(w);
    assert_int_equal(block_writer_reopen_at(s, 550, 1, 3, 100, &w), EMBER_ENOENT); /* not < 3 */
    assert_int_equal(block_writer_reopen_at(s, 550, 3, 3, 100, &w), EMBER_EINVAL);
    assert_int_equal(block_writer_reopen_at(s, 550, 3, 9, LEN + 1, &w), EMBER_ESTATE);
    assert_int_equal(block_writer_reopen_at(s, 551, 1, 9, 0, &w), EMBER_ENOENT);
    expect_state(s, 550, BLOCK_REPLICA_RBW, 3, LEN);

    assert_int_equal(block_writer_reopen_at(s, 550, 2, 9, CUT, &w), 0);
    assert_int_equal(block_writer_length(w), CUT);
    expect_state(s, 550, BLOCK_REPLICA_WRITING, 9, 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "rbw", 550, 3, 1);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "rbw", 550, 9, 1);
    assert_int_equal(file_size(path), meta_len(CUT));
    replica_file(path, sizeof path, f->d0, "rbw", 550, 0, 0);
    assert_int_equal(file_size(path), CUT);
    block_writer *w2 = NULL;
    assert_int_equal(block_writer_reopen_at(s, 550, 9, 10, 0, &w2), EMBER_ENOENT); /* writing */
    append_range(w, data, CUT, TOTAL);
    uint64_t len = 0;
    assert_int_equal(block_writer_finalize(w, &len), 0);
    assert_int_equal(len, TOTAL);
    expect_block(s, 550, 9, data, TOTAL);
    expect_meta(f->d0, 550, 9, data, TOTAL);
    assert_int_equal(block_store_verify(s, 550), 0);

    /* A torn tail (bytes past the valid length) goes with the cut. */
    put_rbw(s, 552, 3, data, LEN);
    replica_file(path, sizeof path, f->d0, "rbw", 552, 0, 0);
    grow_file(path, data, 300);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_state(s, 552, BLOCK_REPLICA_RBW, 3, LEN);
    assert_int_equal(block_writer_reopen_at(s, 552, 3, 4, LEN, &w), 0);
    assert_int_equal(file_size(path), LEN);
    append_range(w, data, LEN, TOTAL);
    assert_int_equal(block_writer_finalize(w, &len), 0);
    expect_block(s, 552, 4, data, TOTAL);
    expect_meta(f->d0, 552, 4, data, TOTAL);

    /* The chunk the cut falls in must verify; the replica stays as it was. */
    put_rbw(s, 553, 3, data, LEN);
    replica_file(path, sizeof path, f->d0, "rbw", 553, 0, 0);
    flip_byte(path, 2600);
    assert_int_equal(block_writer_reopen_at(s, 553, 3, 9, CUT, &w), EMBER_ECORRUPT);
    expect_state(s, 553, BLOCK_REPLICA_RBW, 3, LEN);
    assert_int_equal(file_size(path), LEN);
    replica_file(path, sizeof path, f->d0, "rbw", 553, 3, 1);
    assert_true(exists(path));

    /* An abort keeps what the writer had: acknowledged bytes.  So does a
     * restart. */
    put_rbw(s, 554, 3, data, LEN);
    assert_int_equal(block_writer_reopen_at(s, 554, 3, 5, 2560, &w), 0);
    block_writer_abort(w);
    expect_state(s, 554, BLOCK_REPLICA_RBW, 5, 2560);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_state(s, 554, BLOCK_REPLICA_RBW, 5, 2560);
    expect_block(s, 550, 9, data, TOTAL);
    /* Nothing acknowledged: cut to nothing. */
    assert_int_equal(block_writer_reopen_at(s, 554, 5, 6, 0, &w), 0);
    append_range(w, data, 0, 1000);
    assert_int_equal(block_writer_finalize(w, &len), 0);
    expect_block(s, 554, 6, data, 1000);
    expect_meta(f->d0, 554, 6, data, 1000);
    block_store_close(s);
}

/* Pipeline recovery of a FINALIZED replica (the last packet came, its ack
 * did not): back to rbw/ under the new gen stamp, cut to the acknowledged
 * length (mid-chunk, on a boundary, or not at all) and written on; used
 * bytes follow.  Too short or the wrong gen stamp: refused, finalized as
 * it was. */
static void test_reopen_at_finalized(void **state) {
    struct fixture *f = *state;
    enum { LEN = 5000, CUT = 3000 };
    unsigned char data[LEN];
    fill(data, LEN, 37);
    block_store *s = open_store(f, f->d0);
    put_block(s, 560, 5, data, LEN);
    block_writer *w = NULL;
    assert_int_equal(block_writer_reopen_at(s, 560, 5, 6, LEN + 1, &w), EMBER_ESTATE);
    assert_int_equal(block_writer_reopen_at(s, 560, 6, 7, CUT, &w), EMBER_ENOENT);
    expect_state(s, 560, BLOCK_REPLICA_FINALIZED, 5, LEN);
    assert_int_equal(block_writer_reopen_at(s, 560, 5, 6, CUT, &w), 0);
    assert_int_equal(block_writer_length(w), CUT);
    expect_state(s, 560, BLOCK_REPLICA_WRITING, 6, 0);
    assert_int_equal(block_store_used_bytes(s), 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 560, 0, 0);
    assert_false(exists(path));
    replica_file(path, sizeof path, f->d0, "rbw", 560, 6, 1);
    assert_int_equal(file_size(path), meta_len(CUT));
    replica_file(path, sizeof path, f->d0, "rbw", 560, 0, 0);
    assert_int_equal(file_size(path), CUT);
    append_range(w, data, CUT, LEN);
    uint64_t len = 0;
    assert_int_equal(block_writer_finalize(w, &len), 0);
    assert_int_equal(len, LEN);
    expect_block(s, 560, 6, data, LEN);
    expect_meta(f->d0, 560, 6, data, LEN);
    assert_int_equal(block_store_verify(s, 560), 0);
    assert_int_equal(block_store_used_bytes(s), LEN + meta_len(LEN));

    /* Everything was acknowledged after all: nothing cut, nothing sent. */
    assert_int_equal(block_writer_reopen_at(s, 560, 5, 7, LEN, &w), 0);
    assert_int_equal(block_writer_finalize(w, &len), 0);
    expect_block(s, 560, 7, data, LEN);
    expect_meta(f->d0, 560, 7, data, LEN);
    /* A cut on a chunk boundary, then a restart with it in rbw/. */
    assert_int_equal(block_writer_reopen_at(s, 560, 7, 8, 2560, &w), 0);
    append_range(w, data, 2560, 4000);
    assert_int_equal(block_writer_detach(w, &len), 0);
    assert_int_equal(len, 4000);
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_state(s, 560, BLOCK_REPLICA_RBW, 8, 4000);
    assert_int_equal(block_store_recover(s, 560, 9, 4000), 0);
    expect_block(s, 560, 9, data, 4000);
    expect_meta(f->d0, 560, 9, data, 4000);
    block_store_close(s);
}

/* ---- the directory scan ---- */

/* 1 when dir's finalized/ holds block id's data file. */
static int exists_in(const char *dir, uint64_t id) {
    char path[512];
    replica_file(path, sizeof path, dir, "finalized", id, 0, 0);
    return exists(path);
}

/* Copies a (small) file, as an operator restoring a replica would. */
static void copy_file(const char *from, const char *to) {
    size_t n;
    unsigned char *buf = slurp(from, &n);
    spew(to, buf, n);
    free(buf);
}

static void truncate_file(const char *path, off_t len) { assert_int_equal(truncate(path, len), 0); }

/* The entry of block id in a scan list, or NULL. */
static const block_scan_entry *scan_entry(const block_scan_entry *v, size_t n, uint64_t id) {
    for (size_t i = 0; i < n; i++)
        if (v[i].info.block_id == id)
            return &v[i];
    return NULL;
}

/* Asserts that a scan finds nothing to change. */
static void expect_quiet_scan(block_store *s) {
    block_scan_result res;
    assert_int_equal(block_store_scan(s, &res), 0);
    assert_int_equal(res.nmissing, 0);
    assert_int_equal(res.nadded, 0);
    assert_int_equal(res.nmismatched, 0);
    assert_int_equal(res.dirs_unlisted, 0);
    block_scan_result_free(&res);
}

/* The finalized replicas the store lists, as a sorted "id:gs:length ..."
 * string, for comparing an index with what a fresh open finds. */
static void list_string(block_store *s, char *out, size_t outlen) {
    block_info *list = NULL;
    size_t n = 0;
    assert_int_equal(block_store_list(s, &list, &n), 0);
    for (size_t i = 1; i < n; i++) /* insertion sort by id */
        for (size_t k = i; k > 0 && list[k - 1].block_id > list[k].block_id; k--) {
            block_info t = list[k];
            list[k] = list[k - 1];
            list[k - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%llu:%llu:%llu ", (unsigned long long)list[i].block_id,
                 (unsigned long long)list[i].gen_stamp, (unsigned long long)list[i].length);
    }
    free(list);
}

/* Files deleted behind the store's back (a finalized replica's two files,
 * an rbw replica's meta), a replica copied in from another store, a data
 * file truncated and a meta file truncated: the scan reports exactly
 * those, the index then holds what the disk does (a fresh open lists the
 * same replicas, once the corrupt ones are deleted), reads follow, a
 * corrupt replica is reported once, and a writer's files are left alone. */
static void test_scan_finds_differences(void **state) {
    struct fixture *f = *state;
    enum { LEN = 5000 };
    unsigned char data[LEN];
    fill(data, LEN, 60);
    block_store *s = open_store(f, f->d0);
    put_block(s, 1, 1001, data, 5000); /* its files will be removed */
    put_block(s, 2, 1002, data, 1000); /* untouched */
    put_block(s, 3, 1003, data, 2048); /* data file truncated */
    put_block(s, 4, 1004, data, 1500); /* meta file truncated */
    put_rbw(s, 5, 1005, data, 700);    /* rbw meta removed */
    put_rbw(s, 6, 1006, data, 1024);   /* rbw, untouched */
    block_writer *w = NULL;            /* being written: never judged */
    assert_int_equal(block_writer_create(s, 7, 1007, &w), 0);
    assert_int_equal(block_writer_append(w, data, 600, NULL, 0), 0);
    block_store *other = open_store(f, f->d1);
    put_block(other, 9, 1009, data, 3000);
    block_store_close(other);
    expect_quiet_scan(s);

    char path[512], to[512];
    replica_file(path, sizeof path, f->d0, "finalized", 1, 0, 0);
    assert_int_equal(unlink(path), 0);
    replica_file(path, sizeof path, f->d0, "finalized", 1, 1001, 1);
    assert_int_equal(unlink(path), 0);
    replica_file(path, sizeof path, f->d0, "finalized", 3, 0, 0);
    truncate_file(path, 1500);
    replica_file(path, sizeof path, f->d0, "finalized", 4, 1004, 1);
    truncate_file(path, (off_t)meta_len(1500) - 4);
    replica_file(path, sizeof path, f->d0, "rbw", 5, 1005, 1);
    assert_int_equal(unlink(path), 0);
    for (int meta = 0; meta <= 1; meta++) {
        replica_file(path, sizeof path, f->d1, "finalized", 9, 1009, meta);
        replica_file(to, sizeof to, f->d0, "finalized", 9, 1009, meta);
        copy_file(path, to);
    }

    block_scan_result res;
    assert_int_equal(block_store_scan(s, &res), 0);
    assert_int_equal(res.nmissing, 2);
    const block_scan_entry *e = scan_entry(res.missing, res.nmissing, 1);
    assert_non_null(e);
    assert_int_equal(e->state, BLOCK_REPLICA_FINALIZED);
    assert_int_equal(e->info.gen_stamp, 1001);
    assert_int_equal(e->info.length, 5000);
    e = scan_entry(res.missing, res.nmissing, 5);
    assert_non_null(e);
    assert_int_equal(e->state, BLOCK_REPLICA_RBW);
    assert_int_equal(e->info.gen_stamp, 1005);
    assert_int_equal(res.nadded, 1);
    assert_int_equal(res.added[0].info.block_id, 9);
    assert_int_equal(res.added[0].info.gen_stamp, 1009);
    assert_int_equal(res.added[0].info.length, 3000);
    assert_int_equal(res.added[0].state, BLOCK_REPLICA_FINALIZED);
    assert_int_equal(res.nmismatched, 2);
    e = scan_entry(res.mismatched, res.nmismatched, 3);
    assert_non_null(e);
    assert_int_equal(e->state, BLOCK_REPLICA_FINALIZED);
    assert_int_equal(e->info.length, 1500); /* the data file's */
    e = scan_entry(res.mismatched, res.nmismatched, 4);
    assert_non_null(e);
    assert_int_equal(e->info.length, 1500);
    assert_int_equal(res.dirs_unlisted, 0);
    /* finalized/: blk_2..4 and 9 (8); rbw/: 5's data, 6 and 7 (5) */
    assert_int_equal(res.files, 13);
    block_scan_result_free(&res);
    assert_null(res.missing);

    /* The index follows the disk. */
    expect_state(s, 1, BLOCK_REPLICA_ABSENT, 0, 0);
    expect_state(s, 5, BLOCK_REPLICA_ABSENT, 0, 0);
    expect_state(s, 6, BLOCK_REPLICA_RBW, 1006, 1024);
    expect_state(s, 7, BLOCK_REPLICA_WRITING, 1007, 0);
    expect_state(s, 3, BLOCK_REPLICA_FINALIZED, 1003, 1500);
    expect_block(s, 9, 1009, data, 3000);
    expect_block(s, 2, 1002, data, 1000);
    assert_int_equal(block_store_verify(s, 3), EMBER_ECORRUPT); /* its last CRC covers 512 bytes */
    assert_int_equal(block_store_verify(s, 4), EMBER_ECORRUPT); /* a CRC is gone */
    assert_int_equal(block_store_used_bytes(s), 1000 + meta_len(1000) + 1500 + meta_len(1500) +
                                                    1500 + meta_len(1500) + 3000 + meta_len(3000));
    char listed[256];
    list_string(s, listed, sizeof listed);
    assert_string_equal(listed, "2:1002:1000 3:1003:1500 4:1004:1500 9:1009:3000 ");
    /* Corrupt replicas are reported once: nothing changed since. */
    expect_quiet_scan(s);

    /* The writer finishes undisturbed; the primary has the corrupt ones
     * deleted, both files, and a fresh open finds what the index holds. */
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    assert_int_equal(block_store_delete(s, 3), 0);
    assert_int_equal(block_store_delete(s, 4), 0);
    replica_file(path, sizeof path, f->d0, "finalized", 4, 1004, 1);
    assert_false(exists(path));
    expect_quiet_scan(s);
    list_string(s, listed, sizeof listed);
    assert_string_equal(listed, "2:1002:1000 7:1007:600 9:1009:3000 ");
    uint64_t used = block_store_used_bytes(s);
    block_store_close(s);
    s = open_store(f, f->d0);
    char reopened[256];
    list_string(s, reopened, sizeof reopened);
    assert_string_equal(reopened, listed);
    assert_int_equal(block_store_used_bytes(s), used);
    expect_state(s, 6, BLOCK_REPLICA_RBW, 1006, 1024);
    block_store_close(s);
}

/* A corrupt replica is reported once: further damage is followed
 * quietly; once its files are whole again (put back) it is readable, and
 * breaking again reports it anew.  An rbw replica whose data file shrank
 * gets its valid length again. */
static void test_scan_mismatch_again(void **state) {
    struct fixture *f = *state;
    unsigned char data[3000];
    fill(data, sizeof data, 61);
    block_store *s = open_store(f, f->d0);
    put_block(s, 20, 1020, data, 3000);
    put_rbw(s, 21, 1021, data, 2000);
    char path[512], saved[512];
    replica_file(path, sizeof path, f->d0, "finalized", 20, 0, 0);
    snprintf(saved, sizeof saved, "%s/saved", f->tmp);
    copy_file(path, saved);

    truncate_file(path, 2500);
    block_scan_result res;
    assert_int_equal(block_store_scan(s, &res), 0);
    assert_int_equal(res.nmismatched, 1);
    assert_int_equal(res.mismatched[0].info.length, 2500);
    block_scan_result_free(&res);
    truncate_file(path, 100); /* worse: followed quietly, already reported */
    expect_quiet_scan(s);
    expect_state(s, 20, BLOCK_REPLICA_FINALIZED, 1020, 100);
    copy_file(saved, path); /* put back whole */
    expect_quiet_scan(s);
    expect_block(s, 20, 1020, data, 3000);
    truncate_file(path, 2000); /* broken again: reported again */
    assert_int_equal(block_store_scan(s, &res), 0);
    assert_int_equal(res.nmismatched, 1);
    assert_int_equal(res.mismatched[0].info.length, 2000);
    block_scan_result_free(&res);
    expect_quiet_scan(s);

    replica_file(path, sizeof path, f->d0, "rbw", 21, 0, 0);
    truncate_file(path, 1024);
    assert_int_equal(block_store_scan(s, &res), 0);
    assert_int_equal(res.nmismatched, 1);
    assert_int_equal(res.mismatched[0].info.block_id, 21);
    assert_int_equal(res.mismatched[0].state, BLOCK_REPLICA_RBW);
    assert_int_equal(res.mismatched[0].info.length, 1024);
    block_scan_result_free(&res);
    expect_state(s, 21, BLOCK_REPLICA_RBW, 1021, 1024);
    expect_quiet_scan(s);
    block_store_close(s);
}

/* Two directories: a replica whose files moved to the other directory is
 * both missing and added (and reads from its new place); a new replica
 * found in both directories is added once, the higher gen stamp; a
 * directory removed whole fails and every replica in it is missing (the
 * other copy then added); a failed directory's new files are not taken. */
static void test_scan_directories(void **state) {
    struct fixture *f = *state;
    unsigned char data[2000];
    fill(data, sizeof data, 62);
    block_store *s = open_store(f, f->both);
    put_block(s, 30, 1030, data, 2000);
    int d30 = exists_in(f->d0, 30) ? 0 : 1;
    const char *from = d30 == 0 ? f->d0 : f->d1, *to = d30 == 0 ? f->d1 : f->d0;
    char a[512], b[512];
    for (int meta = 0; meta <= 1; meta++) {
        replica_file(a, sizeof a, from, "finalized", 30, 1030, meta);
        replica_file(b, sizeof b, to, "finalized", 30, 1030, meta);
        assert_int_equal(rename(a, b), 0);
    }
    /* blk_31 put in both directories, at two gen stamps (the files made
     * by a scratch store). */
    char scratch[256];
    snprintf(scratch, sizeof scratch, "%s/scratch", f->tmp);
    block_store *o = open_store(f, scratch);
    put_block(o, 31, 1031, data, 700);
    put_block(o, 32, 1040, data, 800);
    block_store_close(o);
    for (int meta = 0; meta <= 1; meta++) {
        replica_file(a, sizeof a, scratch, "finalized", 31, 1031, meta);
        replica_file(b, sizeof b, f->d0, "finalized", 31, 1031, meta);
        copy_file(a, b);
        replica_file(a, sizeof a, scratch, "finalized", 32, 1040, meta);
        replica_file(b, sizeof b, f->d1, "finalized", 31, 1040, meta);
        copy_file(a, b); /* blk_32's files named as blk_31 at 1040 (800 bytes) */
    }
    block_scan_result res;
    assert_int_equal(block_store_scan(s, &res), 0);
    assert_int_equal(res.nmissing, 1);
    assert_int_equal(res.missing[0].info.block_id, 30);
    assert_int_equal(res.nadded, 2);
    const block_scan_entry *e = scan_entry(res.added, res.nadded, 30);
    assert_non_null(e);
    assert_int_equal(e->info.gen_stamp, 1030);
    e = scan_entry(res.added, res.nadded, 31);
    assert_non_null(e);
    assert_int_equal(e->info.gen_stamp, 1040);
    assert_int_equal(e->info.length, 800);
    block_scan_result_free(&res);
    expect_block(s, 30, 1030, data, 2000);
    expect_block(s, 31, 1040, data, 800);
    expect_quiet_scan(s);

    /* d1 goes away whole: it fails, and what it held is missing; d0's
     * older copy of blk_31 is what open would now index: added. */
    int total, failed;
    block_store_dirs(s, &total, &failed);
    assert_int_equal(failed, 0);
    assert_int_equal(test_rm_tree(f->d1), 0);
    assert_int_equal(block_store_scan(s, &res), 0);
    /* blk_31 at 1040, and blk_30 when it moved there */
    assert_int_equal(res.nmissing, 1 + (d30 == 0));
    assert_non_null(scan_entry(res.missing, res.nmissing, 31));
    assert_int_equal(res.nadded, 1);
    assert_int_equal(res.added[0].info.block_id, 31);
    assert_int_equal(res.added[0].info.gen_stamp, 1031);
    block_scan_result_free(&res);
    block_store_dirs(s, &total, &failed);
    assert_int_equal(total, 2);
    assert_int_equal(failed, 1);
    expect_block(s, 31, 1031, data, 700);
    expect_quiet_scan(s);
    /* A failed directory that comes back: its new files are not taken. */
    assert_int_equal(mkdir(f->d1, 0700), 0);
    snprintf(a, sizeof a, "%s/current", f->d1);
    assert_int_equal(mkdir(a, 0700), 0);
    snprintf(a, sizeof a, "%s/current/finalized", f->d1);
    assert_int_equal(mkdir(a, 0700), 0);
    snprintf(a, sizeof a, "%s/current/rbw", f->d1);
    assert_int_equal(mkdir(a, 0700), 0);
    for (int meta = 0; meta <= 1; meta++) {
        replica_file(a, sizeof a, scratch, "finalized", 31, 1031, meta);
        replica_file(b, sizeof b, f->d1, "finalized", 33, 1031, meta);
        copy_file(a, b);
    }
    expect_quiet_scan(s);
    expect_state(s, 33, BLOCK_REPLICA_ABSENT, 0, 0);
    block_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_one_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_exact_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_odd_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_with_crcs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_data_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_same_block_in_two_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_used_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_dir_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_dirs_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_fails_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_eacces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_most_free_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rbw_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rbw_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_rbw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_finalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_for_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_at_rbw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_at_finalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_finds_differences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_mismatch_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_directories, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
