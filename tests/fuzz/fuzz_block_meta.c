/* fuzz_block_meta.c -- libFuzzer target: a datanode's replica files as
 * block_store_open() finds them on disk -- the .meta header (magic,
 * version, checksum type, chunk size), its CRCs against the data, rbw
 * valid lengths, torn metas -- and what then reads them: readers,
 * verification, append, block recovery.
 *
 * Input: byte 0 holds flags, then a container of files (fuzz_files.h):
 * kind bit 0 set is a meta blk_<id>_<number>.meta, clear a data file
 * blk_<id>; bits 1-2 pick the block (id 1073741825 + 0..3).  Flag bit 0
 * puts the files in current/rbw/, else current/finalized/.  Flag bit 1
 * has the harness write each meta itself: a valid header and the right
 * CRCs of its block's data file, as many as the input meta has 4-byte
 * words -- so the fuzzer reaches the logic past the checks.
 *
 * Checked on every input: nothing crashes, and a replica that verifies
 * reads back whole.  With flag bit 1: a finalized replica with all its
 * CRCs verifies, reads back, and can be appended to and verify again; an
 * rbw replica recovers at its valid length and then verifies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/checksum.h"
#include "common/error.h"
#include "datanode/block_store.h"
#include "fuzz_files.h"

#define FUZZ_BLOCK_BASE 1073741825ull
#define FUZZ_META_HEADER_LEN 16
#define FUZZ_BLOCKS 4

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A meta for data: the store's header, then the CRC32C of each 512-byte
 * chunk, ncrcs of them at most.  *len gets its size; malloc'd. */
static uint8_t *good_meta(const uint8_t *data, size_t data_len, size_t ncrcs, size_t *len) {
    size_t chunks = (data_len + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
    if (ncrcs > chunks)
        ncrcs = chunks;
    uint8_t *m = malloc(FUZZ_META_HEADER_LEN + 4 * ncrcs);
    if (m == NULL)
        abort();
    memcpy(m, "EMBRMETA", 8);
    m[8] = 0, m[9] = 1;   /* version 1 */
    m[10] = 0, m[11] = 1; /* CRC32C */
    put_be32(m + 12, BLOCK_CHUNK_SIZE);
    for (size_t k = 0; k < ncrcs; k++) {
        size_t n = data_len - k * BLOCK_CHUNK_SIZE;
        if (n > BLOCK_CHUNK_SIZE)
            n = BLOCK_CHUNK_SIZE;
        put_be32(m + FUZZ_META_HEADER_LEN + 4 * k, crc32c(0, data + k * BLOCK_CHUNK_SIZE, n));
    }
    *len = FUZZ_META_HEADER_LEN + 4 * ncrcs;
    return m;
}

/* Reads the whole finalized replica id through a reader: 0 when every
 * byte came back (checksums verified on the way). */
static int read_whole(block_store *store, uint64_t id) {
    block_reader *r;
    if (block_reader_open(store, id, &r) != EMBER_OK)
        return -1;
    uint64_t len = block_reader_info(r)->length, off = 0;
    uint8_t buf[4096];
    int rc = 0;
    while (off < len && rc == 0) {
        size_t got;
        if (block_reader_pread(r, buf, sizeof buf, off, &got) != EMBER_OK || got == 0)
            rc = -1;
        off += got;
    }
    uint32_t crcs[8];
    size_t chunks = (size_t)((len + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE);
    for (size_t k = 0; k < chunks && k < 64; k += 8)
        (void)block_reader_checksums(r, k, chunks - k < 8 ? chunks - k : 8, crcs);
    block_reader_close(r);
    return rc;
}

/* The finalized replicas: a verified one reads back; with good metas one
 * with every CRC verifies and takes an append. */
static void check_finalized(block_store *store, int good, const size_t *crcs_short) {
    block_info *list;
    size_t n;
    if (block_store_list(store, &list, &n) != EMBER_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        block_info b = list[i];
        int verified = block_store_verify(store, b.block_id) == EMBER_OK;
        if (verified && read_whole(store, b.block_id) != 0)
            abort(); /* verify and read disagree */
        size_t slot = (size_t)(b.block_id - FUZZ_BLOCK_BASE);
        int complete = good && slot < FUZZ_BLOCKS && !crcs_short[slot];
        if (complete && !verified)
            abort(); /* right CRCs, yet the replica does not verify */
        if (!verified || b.gen_stamp == UINT64_MAX)
            continue;
        block_writer *w;
        if (block_writer_reopen(store, b.block_id, b.gen_stamp, b.gen_stamp + 1, &w) != EMBER_OK)
            continue;
        static const char more[] = "appended after a fuzzed replica";
        uint64_t len;
        if (block_writer_append(w, more, sizeof more, NULL, 0) != EMBER_OK) {
            block_writer_abort(w);
            continue;
        }
        if (block_writer_finalize(w, &len) != EMBER_OK)
            continue;
        if (len != b.length + sizeof more || block_store_verify(store, b.block_id) != EMBER_OK)
            abort(); /* an append to a good replica broke it */
    }
    free(list);
}

/* The rbw replicas: with good metas each recovers at its valid length and
 * then verifies. */
static void check_rbw(block_store *store, int good) {
    block_info *list;
    size_t n;
    if (block_store_list_rbw(store, &list, &n) != EMBER_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        block_info b = list[i];
        if (b.gen_stamp == UINT64_MAX)
            continue; /* no gen stamp above it to recover to */
        int rc = block_store_recover(store, b.block_id, b.gen_stamp + 1, b.length);
        if (rc == EMBER_OK && good && block_store_verify(store, b.block_id) != EMBER_OK)
            abort(); /* recovered from good files, yet does not verify */
        if (good && rc != EMBER_OK && rc != EMBER_EIO)
            abort(); /* its valid length did not recover */
    }
    free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *dir = fuzz_dir();
    fuzz_empty_dir(dir);
    int rbw = data[0] & 1, good = (data[0] >> 1) & 1;
    data++;
    size--;
    char sub[600], path[700];
    snprintf(sub, sizeof sub, "%s/current", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/current/%s", dir, "rbw");
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/current/%s", dir, "finalized");
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/current/%s", dir, rbw ? "rbw" : "finalized");

    /* Data files first, so good metas can be computed from them. */
    fuzz_file files[8];
    size_t nfiles = 0;
    while (nfiles < 8 && fuzz_next_file(&data, &size, &files[nfiles]))
        nfiles++;
    const uint8_t *block_data[FUZZ_BLOCKS] = {0};
    size_t block_len[FUZZ_BLOCKS] = {0};
    size_t crcs_short[FUZZ_BLOCKS] = {0};
    for (size_t i = 0; i < nfiles; i++) {
        unsigned slot = (files[i].kind >> 1) & 3;
        if (files[i].kind & 1)
            continue;
        snprintf(path, sizeof path, "%s/blk_%llu", sub, FUZZ_BLOCK_BASE + slot);
        fuzz_write_file(path, files[i].data, files[i].len);
        block_data[slot] = files[i].data;
        block_len[slot] = files[i].len;
    }
    for (size_t i = 0; i < nfiles; i++) {
        unsigned slot = (files[i].kind >> 1) & 3;
        if (!(files[i].kind & 1))
            continue;
        snprintf(path, sizeof path, "%s/blk_%llu_%llu.meta", sub, FUZZ_BLOCK_BASE + slot,
                 (unsigned long long)files[i].number);
        if (!good) {
            fuzz_write_file(path, files[i].data, files[i].len);
            continue;
        }
        size_t len, want = files[i].len / 4;
        size_t chunks = (block_len[slot] + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
        uint8_t *meta = good_meta(block_data[slot], block_len[slot], want, &len);
        crcs_short[slot] |= want < chunks;
        fuzz_write_file(path, meta, len);
        free(meta);
    }

    block_store *store;
    char err[512];
    if (block_store_open(dir, &store, err, sizeof err) != EMBER_OK)
        return 0;
    check_finalized(store, good, crcs_short);
    check_rbw(store, good);
    block_scan_result scan;
    if (block_store_scan(store, &scan) == EMBER_OK)
        block_scan_result_free(&scan);
    block_store_close(store);
    return 0;
}
