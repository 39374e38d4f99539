/* test_block_store_recovery.c -- unit tests for replicas waiting for
 * recovery and the recoveries themselves (datanode/block_store_recovery.c,
 * and the rbw side of block_store.c and block_writer.c);
 * block_store_fixture.h has the fixture.
 *
 * Replicas waiting for recovery: detach, the rbw list, reopen, delete;
 * torn tails and broken rbw files at open (extra data, a corrupt or torn
 * last chunk, a bad header, a file alone, an older meta, a block also
 * finalized); recovery of an rbw replica (cut mid-chunk, on a boundary,
 * to nothing, a corrupt chunk at the cut, a newer gen stamp, idempotence)
 * and of a finalized one (meta renamed, an open reader unaffected);
 * append (reopen under a new gen stamp, growth from mid-chunk with and
 * without sender CRCs, an old reader unaffected, detach and abort keep
 * it, a corrupt partial chunk refused); pipeline recovery (an rbw or
 * finalized replica reopened under a new gen stamp and cut to the
 * acknowledged length, mid-chunk, on a boundary, to nothing or not at
 * all, then written on; a torn tail dropped; wrong gen stamps, too few
 * bytes and a corrupt chunk at the cut refused); a stale rbw replica
 * replaced by a new one of a newer gen stamp, and nothing else
 * replaced. */
#include "block_store_fixture.h"

/* A detached replica keeps its files (the partial chunk's CRC written),
 * is invisible to readers, the finalized list and used bytes, blocks a
 * new write of its id at its gen stamp, is listed as rbw, survives a
 * reopen at the same valid length, and can be deleted. */
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
        assert_int_equal(block_writer_create(s, 500, 7, &w), EMBER_EEXIST); /* not stale */
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

/* Truncate's recovery cuts a finalized replica in place mid-chunk: the
 * new last chunk's CRC is recomputed, the meta holds exactly the CRCs
 * left, used bytes shrink, and the replica carries the recovery id (after
 * a reopen too).  A longer target, or a chunk that does not verify, is
 * refused and leaves the replica as it was; plain recovery still wants
 * the exact length. */
static void test_recover_truncate_finalized(void **state) {
    struct fixture *f = *state;
    enum { LEN = 5000, CUT = 3000 };
    unsigned char data[LEN];
    fill(data, LEN, 36);
    block_store *s = open_store(f, f->d0);
    put_block(s, 535, 5, data, LEN);
    assert_int_equal(block_store_recover(s, 535, 9, CUT), EMBER_EINVAL);
    assert_int_equal(block_store_recover_truncate(s, 535, 9, LEN + 1), EMBER_EINVAL);
    expect_state(s, 535, BLOCK_REPLICA_FINALIZED, 5, LEN);
    assert_int_equal(block_store_recover_truncate(s, 535, 9, CUT), 0);
    expect_state(s, 535, BLOCK_REPLICA_FINALIZED, 9, CUT);
    expect_block(s, 535, 9, data, CUT);
    expect_meta(f->d0, 535, 9, data, CUT);
    assert_int_equal(block_store_verify(s, 535), 0);
    char path[256];
    replica_file(path, sizeof path, f->d0, "finalized", 535, 0, 0);
    assert_int_equal(file_size(path), CUT);
    assert_int_equal(block_store_used_bytes(s), CUT + meta_len(CUT));
    assert_int_equal(block_store_recover_truncate(s, 535, 9, CUT), 0); /* done before */
    block_store_close(s);
    s = open_store(f, f->d0);
    expect_block(s, 535, 9, data, CUT);
    /* The chunk the cut falls in must verify first. */
    put_block(s, 536, 5, data, LEN);
    replica_file(path, sizeof path, f->d0, "finalized", 536, 0, 0);
    flip_byte(path, 2600);
    assert_int_equal(block_store_recover_truncate(s, 536, 9, CUT), EMBER_ECORRUPT);
    expect_state(s, 536, BLOCK_REPLICA_FINALIZED, 5, LEN);
    assert_int_equal(file_size(path), LEN);
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

/* A stale RBW replica (issue 9, item 3: left behind by a lease recovery
 * that went on without it) gives way to a new replica of a newer gen
 * stamp -- a copy the namenode sends -- which is then written and
 * finalized as any other; the stale files are gone, also after a reopen.
 * Not at the same or an older gen stamp, and never over a finalized
 * replica or one being written. */
static void test_create_over_stale_rbw(void **state) {
    struct fixture *f = *state;
    unsigned char data[3000], copy[2000];
    fill(data, sizeof data, 11);
    fill(copy, sizeof copy, 12);
    block_store *s = open_store(f, f->d0);
    put_rbw(s, 300, 1001, data, sizeof data);
    block_writer *w = (block_writer *)1;
    assert_int_equal(block_writer_create(s, 300, 1001, &w), EMBER_EEXIST);
    assert_null(w);
    assert_int_equal(block_writer_create(s, 300, 1000, &w), EMBER_EEXIST);
    expect_state(s, 300, BLOCK_REPLICA_RBW, 1001, sizeof data);

    assert_int_equal(block_writer_create(s, 300, 1005, &w), 0);
    expect_state(s, 300, BLOCK_REPLICA_WRITING, 1005, 0);
    char path[512];
    replica_file(path, sizeof path, f->d0, "rbw", 300, 1001, 1);
    assert_false(exists(path)); /* the stale meta is gone */
    replica_file(path, sizeof path, f->d0, "rbw", 300, 0, 0);
    assert_int_equal(file_size(path), 0); /* a new data file */
    assert_int_equal(block_writer_append(w, copy, sizeof copy, NULL, 0), 0);
    assert_int_equal(block_writer_finalize(w, NULL), 0);
    expect_block(s, 300, 1005, copy, sizeof copy);
    expect_meta(f->d0, 300, 1005, copy, sizeof copy);
    block_store_close(s);

    s = open_store(f, f->d0);
    expect_block(s, 300, 1005, copy, sizeof copy);
    char rbw[512];
    snprintf(rbw, sizeof rbw, "%s/current/rbw", f->d0);
    assert_int_equal(count_entries(rbw), 0);
    /* Finalized, or being written: never replaced. */
    assert_int_equal(block_writer_create(s, 300, 1009, &w), EMBER_EEXIST);
    block_writer *w2 = NULL;
    assert_int_equal(block_writer_create(s, 301, 1001, &w2), 0);
    assert_int_equal(block_writer_create(s, 301, 1009, &w), EMBER_EEXIST);
    block_writer_abort(w2);
    block_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rbw_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rbw_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_rbw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_finalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_truncate_finalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_for_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_at_rbw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_at_finalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_over_stale_rbw, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
