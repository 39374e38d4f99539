/* test_block_store.c -- unit tests for the block store's core, writers
 * and readers (datanode/block_store.c, block_writer.c, block_reader.c,
 * block_store_files.c); block_store_fixture.h has the fixture.
 *
 * Covers the layout open makes, the meta file format, writes of 0, 1,
 * 512, 5000 bytes (in appends of odd sizes) and of several MiB, reads at
 * every kind of offset, sender checksums (accepted, refused with nothing
 * written), corruption of a data byte, a CRC, the meta header and the
 * data file's length, reopening after a crash (an unfinished replica
 * kept at its valid length, finalized replicas re-indexed, stray and
 * inconsistent files ignored, a replica in two directories), duplicates,
 * abort, delete, list and used bytes. */
#include "block_store_fixture.h"

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
    assert_int_equal(block_writer_create(s, 62, 8, &w), EMBER_EEXIST); /* not stale */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
