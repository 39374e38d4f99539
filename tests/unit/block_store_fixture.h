/* block_store_fixture.h -- the test fixture shared by the block store's
 * unit tests (test_block_store.c, test_block_store_recovery.c,
 * test_block_store_dirs.c): a fresh mkdtemp() directory per test (f->tmp)
 * with data directories f->d0 and f->d1 inside it that do not exist yet,
 * so that open has to make them, and helpers that write, read and look
 * at replicas on disk.  teardown() removes f->tmp and everything under
 * it, and nothing else.  Included by exactly one test file per
 * executable; each uses part of it, hence the unused-function pragmas. */
#ifndef EMBER_BLOCK_STORE_FIXTURE_H
#define EMBER_BLOCK_STORE_FIXTURE_H

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


#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
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
    block_store_check(s);
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
    block_store_check(s);
}

/* Asserts block id's state, gen stamp and length. */
static void expect_state(block_store *s, uint64_t id, block_replica_state st, uint64_t gs,
                         uint64_t len) {
    block_info info;
    block_store_check(s);
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
#pragma GCC diagnostic pop

#endif
