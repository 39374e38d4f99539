/* test_block_store_dirs.c -- unit tests for the block store's data
 * directories: failures, space, and the directory scan
 * (datanode/block_store.c, block_writer.c's placement,
 * block_store_scan.c); block_store_fixture.h has the fixture.
 *
 * Failed directories at open and at create time, the choice of the
 * directory with the most free space, the reserve, a write error (the
 * replica kept), bad arguments; the directory scan (files removed,
 * copied in from another store, truncated behind the store's back
 * reported as missing, added and mismatched, exactly, and the index then
 * holding what a fresh open finds; a corrupt replica reported once, and
 * again after being whole again; an rbw replica shrunk; a writer left
 * alone; a replica moved between directories; a new block in two
 * directories; a directory removed whole; a failed directory's new files
 * not taken). */
#include "block_store_fixture.h"

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
        cmocka_unit_test_setup_teardown(test_failed_dir_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_dirs_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_fails_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_eacces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_most_free_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_finds_differences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_mismatch_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_directories, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
