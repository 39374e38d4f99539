/* test_edit_log.c -- unit tests for namenode/edit_log.c.
 *
 * Each test gets a fresh mkdtemp() directory (f->tmp); the name directory
 * is f->name, a not-yet-existing folder inside it, so that recovery has to
 * create it.  Covers recovery of a new directory, the round trip of
 * records through segments, records written but not synced (also by a
 * child that dies without closing), torn tails (every cut point inside the
 * last frame, a zero-filled tail, a torn magic) and their repair, empty
 * trailing segments, corruption refused with a reason (a bad middle frame,
 * a bad older segment, a bad magic, an oversize length, a txid gap),
 * checkpoints, retention, falling back from a bad image (and refusing to
 * when the segments do not cover), size caps, counters, callbacks that
 * stop recovery, and a write failure making the log unusable.  Jobs (the
 * split begin / run / finish a thread pool uses): records appended while a
 * sync job is out are not claimed by it and go in the next one, a single
 * fsync; records appended while a checkpoint job is out are held and land
 * in the new segment; a crash between run and finish loses only what was
 * never synced; one job at a time.  teardown()
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
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "namenode/edit_log.h"
#include "test_util.h"

#define MAX_SEEN 64

/* What the recovery callbacks saw. */
struct seen {
    int images; /* on_image calls */
    uint64_t image_txid;
    size_t image_inodes;
    char image_first_path[64];
    int records_before_image; /* records passed before on_image */
    size_t n;                 /* on_record calls */
    uint64_t txids[MAX_SEEN];
    char paths[MAX_SEEN][32];
    uint64_t stop_at; /* on_record returns stop_code at this txid (0: never) */
    int stop_code;
    int image_code; /* on_image's return value */
};

struct fixture {
    char tmp[64];   /* the mkdtemp() directory */
    char name[128]; /* tmp/name: the name directory */
    char err[512];
    struct seen seen;
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    strcpy(f->tmp, "/tmp/ember_test_edit_log_XXXXXX");
    if (mkdtemp(f->tmp) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->name, sizeof f->name, "%s/name", f->tmp);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    /* Depth first, not following symlinks: only what lies under f->tmp. */
    int rc = test_rm_tree(f->tmp);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- callbacks ---- */

static int on_image(const FsImage *image, void *arg) {
    struct seen *s = arg;
    s->images++;
    s->image_txid = image->last_txid;
    s->image_inodes = image->n_inodes;
    if (image->n_inodes > 0)
        snprintf(s->image_first_path, sizeof s->image_first_path, "%s", image->inodes[0]->path);
    if (s->n > 0)
        s->records_before_image = 1;
    return s->image_code;
}

static int on_record(const EditRecord *record, void *arg) {
    struct seen *s = arg;
    if (s->n < MAX_SEEN) {
        s->txids[s->n] = record->txid;
        snprintf(s->paths[s->n], sizeof s->paths[s->n], "%s",
                 record->op_case == EDIT_RECORD__OP_MKDIRS ? record->mkdirs->path : "?");
    }
    s->n++;
    if (s->stop_at != 0 && record->txid == s->stop_at)
        return s->stop_code;
    return 0;
}

/* Recovers f->name into f->seen (cleared first, keeping stop_at, stop_code
 * and image_code); returns recovery's code. */
static int recover(struct fixture *f, uint64_t *last) {
    struct seen keep = f->seen;
    memset(&f->seen, 0, sizeof f->seen);
    f->seen.stop_at = keep.stop_at;
    f->seen.stop_code = keep.stop_code;
    f->seen.image_code = keep.image_code;
    f->err[0] = '\0';
    *last = 12345;
    return edit_log_recover(f->name, on_image, on_record, &f->seen, last, f->err, sizeof f->err);
}

/* Asserts that f->seen holds exactly the records from .. to, in order. */
static void expect_records(struct fixture *f, uint64_t from, uint64_t to) {
    assert_int_equal(f->seen.n, to >= from ? to - from + 1 : 0);
    for (uint64_t t = from; t <= to; t++) {
        char want[32];
        snprintf(want, sizeof want, "/d%llu", (unsigned long long)t);
        assert_int_equal(f->seen.txids[t - from], t);
        assert_string_equal(f->seen.paths[t - from], want);
    }
}

/* ---- writing ---- */

/* Appends n mkdirs records for /d<txid>, checking the txids. */
static void append_n(edit_log *log, int n) {
    for (int i = 0; i < n; i++) {
        uint64_t want = edit_log_last_txid(log) + 1, got = 0;
        char path[32];
        snprintf(path, sizeof path, "/d%llu", (unsigned long long)want);
        EditMkdirs op = EDIT_MKDIRS__INIT;
        op.path = path;
        op.owner = "hdfs";
        op.group = "supergroup";
        op.mode = 0755;
        EditRecord rec = EDIT_RECORD__INIT;
        rec.time_ms = 1790000000000 + (int64_t)want;
        rec.op_case = EDIT_RECORD__OP_MKDIRS;
        rec.mkdirs = &op;
        assert_int_equal(edit_log_append(log, &rec, &got), 0);
        assert_int_equal(got, want);
        assert_int_equal(rec.txid, want);
    }
}

/* Opens the log after last, appends n records and closes it. */
static void write_segment(struct fixture *f, uint64_t last, int n) {
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, last, &log), 0);
    append_n(log, n);
    assert_int_equal(edit_log_sync(log), 0);
    edit_log_close(log);
}

/* A two-inode image after txid last. */
static int checkpoint(edit_log *log) {
    ImageInode root = IMAGE_INODE__INIT, dir = IMAGE_INODE__INIT;
    root.path = "/";
    root.is_dir = 1;
    root.mode = 0755;
    dir.path = "/image";
    dir.is_dir = 1;
    dir.mode = 0700;
    ImageInode *inodes[] = {&root, &dir};
    FsImage image = FS_IMAGE__INIT;
    image.last_txid = edit_log_last_txid(log);
    image.n_inodes = 2;
    image.inodes = inodes;
    return edit_log_checkpoint(log, &image);
}

/* ---- files ---- */

static void seg_path(struct fixture *f, uint64_t first, char *out, size_t outlen) {
    snprintf(out, outlen, "%s/edits_%020llu", f->name, (unsigned long long)first);
}

static void img_path(struct fixture *f, uint64_t txid, char *out, size_t outlen) {
    snprintf(out, outlen, "%s/fsimage_%020llu", f->name, (unsigned long long)txid);
}

static long long file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* The offset and payload length of frame k (0-based) of a segment. */
static long frame_at(const char *path, int k, uint32_t *len_out) {
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    long off = 8;
    for (int i = 0;; i++) {
        unsigned char h[8];
        assert_int_equal(fseek(in, off, SEEK_SET), 0);
        assert_int_equal(fread(h, 1, 8, in), 8);
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (i == k) {
            fclose(in);
            if (len_out != NULL)
                *len_out = len;
            return off;
        }
        off += 8 + (long)len;
    }
}

/* Overwrites n bytes at off. */
static void patch(const char *path, long off, const void *bytes, size_t n) {
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
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

/* Number of entries in f->name whose name starts with prefix. */
static int count_files(struct fixture *f, const char *prefix) {
    DIR *d = opendir(f->name);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
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

static void spew(const char *path, const unsigned char *data, size_t len) {
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

/* ---- tests ---- */

static void test_new_dir(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    mode_t old = umask(022);
    int rc = recover(f, &last);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(last, 0);
    assert_int_equal(f->seen.images, 0);
    assert_int_equal(f->seen.n, 0);
    struct stat st;
    assert_int_equal(stat(f->name, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    /* Again, on the existing empty directory; NULL callbacks are fine. */
    assert_int_equal(edit_log_recover(f->name, NULL, NULL, NULL, &last, f->err, sizeof f->err), 0);
    assert_int_equal(last, 0);
    assert_int_equal(count_files(f, "edits_") + count_files(f, "fsimage_"), 0);
    /* A missing parent cannot be made up. */
    char deep[256];
    snprintf(deep, sizeof deep, "%s/missing/name", f->tmp);
    assert_int_equal(edit_log_recover(deep, NULL, NULL, NULL, &last, f->err, sizeof f->err),
                     EMBER_EIO);
    assert_non_null(strstr(f->err, deep));
}

static void test_round_trip(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, last, 10);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 10);
    assert_int_equal(f->seen.images, 0);
    expect_records(f, 1, 10);
    /* Opening again starts edits_11; both segments are replayed. */
    write_segment(f, last, 5);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    assert_true(exists(path));
    seg_path(f, 11, path, sizeof path);
    assert_true(exists(path));
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 15);
    expect_records(f, 1, 15);
    /* The segment starts with its magic. */
    size_t len;
    unsigned char *data = slurp(path, &len);
    assert_true(len > 8);
    assert_memory_equal(data, "EMBREDT1", 8);
    free(data);
}

static void test_unsynced_written(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    append_n(log, 5);
    assert_int_equal(edit_log_unsynced(log), 5);
    edit_log_close(log); /* syncs */
    assert_int_equal(recover(f, &last), 0);
    expect_records(f, 1, 5);

    /* A process that dies after write() without syncing or closing: the
     * records are in the page cache, so a restart sees them. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        edit_log *child = NULL;
        if (edit_log_open(f->name, 5, &child) != 0)
            _exit(1);
        for (int i = 0; i < 3; i++) {
            char p[32];
            snprintf(p, sizeof p, "/d%d", 6 + i);
            EditMkdirs op = EDIT_MKDIRS__INIT;
            op.path = p;
            EditRecord rec = EDIT_RECORD__INIT;
            rec.op_case = EDIT_RECORD__OP_MKDIRS;
            rec.mkdirs = &op;
            if (edit_log_append(child, &rec, NULL) != 0)
                _exit(2);
        }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 8);
    expect_records(f, 1, 8);
}

static void test_torn_tail(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 5);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    uint32_t len5;
    long end4 = frame_at(path, 4, &len5);
    size_t full_len;
    unsigned char *full = slurp(path, &full_len);
    assert_int_equal(full_len, (size_t)end4 + 8 + len5);

    /* Cut anywhere inside the last frame (header or payload): its four
     * predecessors come back and the file ends where they do. */
    for (long cut = end4 + 1; cut < (long)full_len; cut++) {
        spew(path, full, (size_t)cut);
        assert_int_equal(recover(f, &last), 0);
        assert_int_equal(last, 4);
        expect_records(f, 1, 4);
        assert_int_equal(file_size(path), end4);
    }
    free(full);

    /* The log goes on from there, and a second recovery sees everything. */
    write_segment(f, last, 3);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 7);
    expect_records(f, 1, 7);
}

static void test_zero_filled_tail(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 3);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    long size = file_size(path);
    /* The file system grew the file but never wrote the data. */
    assert_int_equal(truncate(path, size + 4096), 0);
    assert_int_equal(recover(f, &last), 0);
    expect_records(f, 1, 3);
    assert_int_equal(file_size(path), size);
    /* Zeros followed by something else are not a torn write. */
    assert_int_equal(truncate(path, size + 4096), 0);
    patch(path, size + 4000, "x", 1);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "edits_00000000000000000001"));
    assert_int_equal(file_size(path), size + 4096);
}

static void test_corrupt_middle_record(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 5);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    long size = file_size(path);
    long off = frame_at(path, 2, NULL);
    flip_byte(path, off + 8 + 2);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, path));
    char at[64];
    snprintf(at, sizeof at, "byte %ld", off);
    assert_non_null(strstr(f->err, at));
    assert_non_null(strstr(f->err, "CRC"));
    /* Nothing was cut, and it stays refused. */
    assert_int_equal(file_size(path), size);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
}

/* A damaged byte in the payload of the newest segment's last frame is
 * taken for a torn tail and that record is dropped.  This is the
 * documented rule (edit_log.h: "the last frame of the newest segment
 * incomplete or failing its CRC"): a crash during the final, unsynced
 * write can leave a frame of full length whose payload is partly old
 * bytes, which fails its CRC exactly like this; such a record was never
 * acknowledged, and nothing after it can be lost. */
static void test_corrupt_last_record_is_torn(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 5);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    uint32_t len;
    long off = frame_at(path, 4, &len);
    flip_byte(path, off + 8 + (long)len - 1);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 4);
    expect_records(f, 1, 4);
    assert_int_equal(file_size(path), off);
}

static void test_corrupt_older_segment(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 3);
    write_segment(f, 3, 3);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    size_t len;
    unsigned char *full = slurp(path, &len);
    /* A torn tail is only possible in the newest segment. */
    spew(path, full, len - 2);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, path));
    assert_int_equal(file_size(path), (long long)len - 2);
    /* Nor is a bad CRC at its end. */
    full[len - 1] ^= 1;
    spew(path, full, len);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, path));
    /* Whole again, it is fine. */
    full[len - 1] ^= 1;
    spew(path, full, len);
    free(full);
    assert_int_equal(recover(f, &last), 0);
    expect_records(f, 1, 6);
}

static void test_bad_magic(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 3);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    patch(path, 0, "EMBRXDT1", 8);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "magic"));
    assert_non_null(strstr(f->err, path));
    assert_int_equal(f->seen.n, 0);
}

/* Recovery deletes an empty newest segment, so open can create it again. */
static void test_empty_trailing_segment(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    char path[256];
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 0); /* edits_1, magic only */
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(file_size(path), 8);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 0);
    assert_false(exists(path));
    write_segment(f, 0, 4);

    /* Magic-only after records. */
    write_segment(f, 4, 0);
    seg_path(f, 5, path, sizeof path);
    assert_true(exists(path));
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 4);
    assert_false(exists(path));

    /* A crash while the segment was created: part of the magic. */
    write_segment(f, 4, 0);
    assert_int_equal(truncate(path, 3), 0);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 4);
    assert_false(exists(path));
    /* Or nothing at all. */
    write_segment(f, 4, 0);
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(recover(f, &last), 0);
    assert_false(exists(path));

    /* A whole segment torn away: recovery cuts it to nothing, deletes it,
     * and open creates it again. */
    write_segment(f, 4, 1);
    assert_int_equal(truncate(path, 12), 0);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 4);
    assert_false(exists(path));
    write_segment(f, 4, 2);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 6);
    expect_records(f, 1, 6);

    /* Open will not overwrite a segment that exists. */
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 4, &log), EMBER_EEXIST);
    assert_null(log);
    assert_int_equal(recover(f, &last), 0);
    expect_records(f, 1, 6);
}

static void test_checkpoint(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    append_n(log, 5);
    assert_int_equal(edit_log_unsynced(log), 5);
    /* The image must be of the log's last txid. */
    FsImage wrong = FS_IMAGE__INIT;
    wrong.last_txid = 4;
    assert_int_equal(edit_log_checkpoint(log, &wrong), EMBER_EINVAL);
    assert_int_equal(checkpoint(log), 0);
    assert_int_equal(edit_log_unsynced(log), 0); /* synced first */
    assert_int_equal(edit_log_txns_since_checkpoint(log), 0);
    append_n(log, 3);
    edit_log_close(log);

    char path[256];
    img_path(f, 5, path, sizeof path);
    assert_true(exists(path));
    size_t len;
    unsigned char *data = slurp(path, &len);
    assert_memory_equal(data, "EMBRIMG1", 8);
    free(data);
    seg_path(f, 6, path, sizeof path);
    assert_true(exists(path));
    /* edits_1 holds only txids the single image covers. */
    seg_path(f, 1, path, sizeof path);
    assert_false(exists(path));
    assert_int_equal(count_files(f, "fsimage_"), 1);

    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 8);
    assert_int_equal(f->seen.images, 1);
    assert_int_equal(f->seen.image_txid, 5);
    assert_int_equal(f->seen.image_inodes, 2);
    assert_string_equal(f->seen.image_first_path, "/");
    assert_int_equal(f->seen.records_before_image, 0);
    expect_records(f, 6, 8);

    /* A checkpoint with nothing appended since keeps the open segment. */
    assert_int_equal(edit_log_open(f->name, last, &log), 0);
    assert_int_equal(checkpoint(log), 0);
    assert_int_equal(checkpoint(log), 0);
    append_n(log, 1);
    edit_log_close(log);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 9);
    assert_int_equal(f->seen.image_txid, 8);
    expect_records(f, 9, 9);
    assert_int_equal(count_files(f, "fsimage_"), 2);
    assert_int_equal(count_files(f, "edits_"), 2); /* edits_6, edits_9 */
}

/* A crash after a checkpoint renamed its image but before it created the
 * next segment: the newest segment holds only txids the image covers. */
static void test_checkpoint_crash_before_segment(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    append_n(log, 3);
    assert_int_equal(checkpoint(log), 0);
    append_n(log, 3);
    assert_int_equal(checkpoint(log), 0);
    edit_log_close(log);
    char path[256];
    seg_path(f, 7, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 6);
    assert_int_equal(f->seen.image_txid, 6);
    assert_int_equal(f->seen.n, 0); /* edits_4 is read, but 4..6 are in the image */
    write_segment(f, last, 2);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 8);
    expect_records(f, 7, 8);
}

/* Four checkpoints of three records each, then two more records:
 * fsimage_9, fsimage_12, edits_10, edits_13 remain. */
static void make_history(struct fixture *f) {
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    for (int i = 0; i < 4; i++) {
        append_n(log, 3);
        assert_int_equal(edit_log_txns_since_checkpoint(log), 3);
        assert_int_equal(checkpoint(log), 0);
    }
    append_n(log, 2);
    edit_log_close(log);
}

static void test_retention(void **state) {
    struct fixture *f = *state;
    make_history(f);
    assert_int_equal(count_files(f, "fsimage_"), EDIT_LOG_IMAGES_RETAINED);
    assert_int_equal(count_files(f, "edits_"), 2);
    char path[256];
    static const uint64_t kept_images[] = {9, 12}, kept_segments[] = {10, 13};
    for (int i = 0; i < 2; i++) {
        img_path(f, kept_images[i], path, sizeof path);
        assert_true(exists(path));
        seg_path(f, kept_segments[i], path, sizeof path);
        assert_true(exists(path));
    }
    /* The leftover of an interrupted checkpoint is removed; files that are
     * not the log's are left alone. */
    char tmp[256], other[256];
    snprintf(tmp, sizeof tmp, "%s/fsimage_%020d.tmp", f->name, 15);
    spew(tmp, (const unsigned char *)"EMBRIMG1", 8);
    snprintf(other, sizeof other, "%s/edits_1", f->name);
    spew(other, (const unsigned char *)"x", 1);
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 14);
    assert_int_equal(f->seen.image_txid, 12);
    expect_records(f, 13, 14);
    assert_false(exists(tmp));
    assert_true(exists(other));
}

static void test_image_fallback(void **state) {
    struct fixture *f = *state;
    make_history(f);
    char path[256];
    img_path(f, 12, path, sizeof path);
    flip_byte(path, 20);
    /* edits_10 and edits_13 cover everything after fsimage_9. */
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 14);
    assert_int_equal(f->seen.images, 1);
    assert_int_equal(f->seen.image_txid, 9);
    expect_records(f, 10, 14);
    /* Without edits_10 they do not: refused before any callback. */
    seg_path(f, 10, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "fsimage_00000000000000000012"));
    assert_non_null(strstr(f->err, "CRC"));
    assert_int_equal(f->seen.images, 0);
    assert_int_equal(f->seen.n, 0);
}

/* fsimage_12's name says txids up to 12 were committed: falling back to
 * fsimage_9 must find them all in the segments. */
static void test_image_fallback_short(void **state) {
    struct fixture *f = *state;
    make_history(f);
    char path[256];
    img_path(f, 12, path, sizeof path);
    flip_byte(path, 20);
    seg_path(f, 13, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    /* edits_10 (now the newest) torn after txid 11. */
    seg_path(f, 10, path, sizeof path);
    assert_int_equal(truncate(path, frame_at(path, 2, NULL) + 3), 0);
    uint64_t last;
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "fsimage_00000000000000000012"));
    /* No segment at all. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "fsimage_00000000000000000012"));
    assert_int_equal(f->seen.images, 0);
}

static void test_bad_sole_image(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    append_n(log, 3);
    assert_int_equal(checkpoint(log), 0);
    append_n(log, 2);
    edit_log_close(log);
    char path[256];
    img_path(f, 3, path, sizeof path);
    /* An image whose content says another txid than its name. */
    size_t len;
    unsigned char *good = slurp(path, &len);
    char other[256];
    img_path(f, 4, other, sizeof other);
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "fsimage_00000000000000000004"));
    assert_int_equal(rename(other, path), 0);
    /* A bad frame, and edits_1 gone: nothing to fall back on. */
    flip_byte(path, (long)len - 1);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "fsimage_00000000000000000003"));
    assert_non_null(strstr(f->err, "CRC"));
    /* Trailing bytes after the frame, or a length over the cap. */
    spew(path, good, len);
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, good, len);
    longer[len] = 0;
    spew(path, longer, len + 1);
    free(longer);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    spew(path, good, len);
    patch(path, 8, "\x7f\xff\xff\xff", 4);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "cap"));
    /* Whole again, it is fine. */
    spew(path, good, len);
    free(good);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 5);
    assert_int_equal(f->seen.image_txid, 3);
    expect_records(f, 4, 5);
}

static void test_txid_gap(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 3);
    write_segment(f, 3, 3);
    write_segment(f, 6, 3);
    char path[256], moved[256];
    seg_path(f, 4, path, sizeof path);
    snprintf(moved, sizeof moved, "%s/saved", f->tmp);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "missing"));
    expect_records(f, 1, 3); /* replayed up to the gap */
    /* A segment whose name does not match its first txid. */
    seg_path(f, 5, path, sizeof path);
    assert_int_equal(rename(moved, path), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "edits_00000000000000000005"));
    /* A segment named one too low: edits_1 then holds a txid of the next. */
    seg_path(f, 3, moved, sizeof moved);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "edits_00000000000000000001"));
    assert_non_null(strstr(f->err, "txid 3"));
    assert_int_equal(rename(moved, path), 0);
    /* A segment holding other txids than its name says: edits_7 with the
     * records of edits_1. */
    char four[256], seven[256], first[256];
    seg_path(f, 4, four, sizeof four);
    seg_path(f, 7, seven, sizeof seven);
    seg_path(f, 1, first, sizeof first);
    assert_int_equal(rename(path, four), 0);
    size_t len;
    unsigned char *data = slurp(first, &len);
    spew(seven, data, len);
    free(data);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "edits_00000000000000000007"));
    assert_non_null(strstr(f->err, "holds txid 1"));
    expect_records(f, 1, 6);
    /* The first segment missing: no image covers txid 1. */
    assert_int_equal(unlink(first), 0);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "missing"));
    assert_int_equal(f->seen.n, 0);
}

static void test_oversize_frame_length(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 3);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    size_t size;
    unsigned char *saved = slurp(path, &size);
    /* A middle frame claiming one byte over the cap: refused from the
     * header, before reading or allocating its payload. */
    long off = frame_at(path, 1, NULL);
    uint32_t over = EDIT_LOG_RECORD_MAX + 1;
    unsigned char big[4] = {(unsigned char)(over >> 24), (unsigned char)(over >> 16),
                            (unsigned char)(over >> 8), (unsigned char)over};
    patch(path, off, big, 4);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "cap"));
    assert_non_null(strstr(f->err, path));
    assert_int_equal(file_size(path), (long long)size);
    expect_records(f, 1, 1);
    /* Even the last frame: a torn write only zeroes bytes, which cannot
     * raise a length over the cap. */
    spew(path, saved, size);
    off = frame_at(path, 2, NULL);
    patch(path, off, "\xff\xff\xff\xf0", 4);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "cap"));
    assert_int_equal(file_size(path), (long long)size);
    /* A length under the cap running past the end of an older segment is
     * corruption too (and is not allocated either: it exceeds the file). */
    spew(path, saved, size);
    free(saved);
    write_segment(f, 3, 1);
    off = frame_at(path, 1, NULL);
    unsigned char cap[4] = {
        (unsigned char)(EDIT_LOG_RECORD_MAX >> 24), (unsigned char)(EDIT_LOG_RECORD_MAX >> 16),
        (unsigned char)(EDIT_LOG_RECORD_MAX >> 8), (unsigned char)EDIT_LOG_RECORD_MAX};
    patch(path, off, cap, 4);
    assert_int_equal(recover(f, &last), EMBER_ECORRUPT);
    assert_non_null(strstr(f->err, "incomplete frame"));
    assert_non_null(strstr(f->err, path));
}

static void test_append_too_big(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    char *huge = malloc(EDIT_LOG_RECORD_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'a', EDIT_LOG_RECORD_MAX);
    huge[EDIT_LOG_RECORD_MAX] = '\0';
    EditMkdirs op = EDIT_MKDIRS__INIT;
    op.path = huge;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_MKDIRS;
    rec.mkdirs = &op;
    uint64_t txid = 77;
    assert_int_equal(edit_log_append(log, &rec, &txid), EMBER_ETOOBIG);
    free(huge);
    assert_int_equal(txid, 77);
    assert_int_equal(edit_log_last_txid(log), 0);
    assert_int_equal(edit_log_unsynced(log), 0);
    /* The log is still usable: the next record is txid 1. */
    append_n(log, 1);
    edit_log_close(log);
    assert_int_equal(recover(f, &last), 0);
    expect_records(f, 1, 1);
}

static void test_counters(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 4);
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, last, &log), 0);
    assert_int_equal(edit_log_last_txid(log), 4);
    assert_int_equal(edit_log_unsynced(log), 0);
    assert_int_equal(edit_log_txns_since_checkpoint(log), 0);
    assert_int_equal(edit_log_sync(log), 0); /* nothing to sync: fine */
    append_n(log, 3);
    assert_int_equal(edit_log_unsynced(log), 3);
    assert_int_equal(edit_log_txns_since_checkpoint(log), 3);
    assert_int_equal(edit_log_last_txid(log), 7);
    assert_int_equal(edit_log_sync(log), 0);
    assert_int_equal(edit_log_unsynced(log), 0);
    assert_int_equal(edit_log_txns_since_checkpoint(log), 3);
    append_n(log, 2);
    assert_int_equal(edit_log_unsynced(log), 2);
    assert_int_equal(checkpoint(log), 0);
    assert_int_equal(edit_log_unsynced(log), 0);
    assert_int_equal(edit_log_txns_since_checkpoint(log), 0);
    assert_int_equal(edit_log_last_txid(log), 9);
    edit_log_close(log);
    edit_log_close(NULL);
    assert_int_equal(edit_log_unsynced(NULL), 0);
}

static void test_callback_stops(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 5);
    f->seen.stop_at = 3;
    f->seen.stop_code = 42;
    assert_int_equal(recover(f, &last), 42);
    assert_int_equal(f->seen.n, 3);
    f->seen.stop_code = EMBER_EINVAL;
    assert_int_equal(recover(f, &last), EMBER_EINVAL);

    /* on_image's code stops recovery before any record. */
    f->seen.stop_at = 0;
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 5, &log), 0);
    append_n(log, 1);
    assert_int_equal(checkpoint(log), 0);
    append_n(log, 2);
    edit_log_close(log);
    f->seen.image_code = -99;
    assert_int_equal(recover(f, &last), -99);
    assert_int_equal(f->seen.images, 1);
    assert_int_equal(f->seen.n, 0);
    f->seen.image_code = 0;
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 8);
    expect_records(f, 7, 8);
}

static void test_write_failure(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    append_n(log, 2);
    assert_int_equal(edit_log_sync(log), 0);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    long size = file_size(path);

    /* A file size limit makes the next write fail part way. */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char *p = malloc(1000);
    assert_non_null(p);
    memset(p, 'p', 999);
    p[999] = '\0';
    EditMkdirs op = EDIT_MKDIRS__INIT;
    op.path = p;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_MKDIRS;
    rec.mkdirs = &op;
    int rc = edit_log_append(log, &rec, NULL);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, EMBER_EIO);

    /* Everything after fails, even with room again. */
    op.path = "/small";
    assert_int_equal(edit_log_append(log, &rec, NULL), EMBER_EIO);
    assert_int_equal(edit_log_sync(log), EMBER_EIO);
    FsImage image = FS_IMAGE__INIT;
    image.last_txid = 2;
    assert_int_equal(edit_log_checkpoint(log, &image), EMBER_EIO);
    assert_int_equal(edit_log_last_txid(log), 2);
    edit_log_close(log);
    free(p);
    assert_int_equal(file_size(path), size + 100);

    /* Recovery cuts the partial frame off. */
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 2);
    expect_records(f, 1, 2);
    assert_int_equal(file_size(path), size);
}

/* ---- jobs ---- */

static int fsyncs; /* the sync hook's count */
static int count_fsync(void *arg) {
    (void)arg;
    fsyncs++;
    return 0;
}

/* A sync job claims only what was appended before it began; the records
 * appended while it is out are written at once and go, together, in the
 * next job's one fsync. */
static void test_sync_job_batches(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    edit_log_set_sync_hook(count_fsync, NULL);
    fsyncs = 0;
    edit_log_job *job = NULL, *other = NULL;
    assert_int_equal(edit_log_sync_begin(log, &job), 0);
    assert_null(job); /* nothing to sync */
    append_n(log, 2);
    assert_int_equal(edit_log_sync_begin(log, &job), 0);
    assert_non_null(job);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    long long before = file_size(path);
    append_n(log, 3); /* while the job is out */
    assert_true(file_size(path) > before); /* written, not held */
    assert_int_equal(edit_log_sync_begin(log, &other), EMBER_ESTATE);
    assert_int_equal(edit_log_sync(log), EMBER_ESTATE);
    assert_int_equal(edit_log_unsynced(log), 5);
    edit_log_job_run(job);
    assert_int_equal(edit_log_job_finish(log, job), 0);
    assert_int_equal(fsyncs, 1);
    assert_int_equal(edit_log_synced_txid(log), 2);
    assert_int_equal(edit_log_unsynced(log), 3);
    assert_int_equal(edit_log_sync_begin(log, &job), 0);
    assert_non_null(job);
    edit_log_job_run(job);
    assert_int_equal(edit_log_job_finish(log, job), 0);
    assert_int_equal(fsyncs, 2); /* the three in one fsync */
    assert_int_equal(edit_log_synced_txid(log), 5);
    assert_int_equal(edit_log_unsynced(log), 0);
    assert_false(edit_log_failed(log));
    edit_log_set_sync_hook(NULL, NULL);
    edit_log_close(log);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 5);
    expect_records(f, 1, 5);
}

/* The image is taken at begin; records appended while the checkpoint job
 * is out are held, and land in the new segment edits_<T + 1>. */
static void test_checkpoint_job_holds_appends(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, 0, &log), 0);
    append_n(log, 3);
    ImageInode root = IMAGE_INODE__INIT;
    root.path = "/";
    root.is_dir = 1;
    ImageInode *inodes[] = {&root};
    FsImage image = FS_IMAGE__INIT;
    image.last_txid = 2;
    image.n_inodes = 1;
    image.inodes = inodes;
    edit_log_job *job = NULL;
    assert_int_equal(edit_log_checkpoint_begin(log, &image, &job), EMBER_EINVAL); /* not txid 3 */
    image.last_txid = 3;
    assert_int_equal(edit_log_checkpoint_begin(log, &image, &job), 0);
    root.path = "/changed"; /* the image was encoded at begin */
    char old_seg[256], new_seg[256];
    seg_path(f, 1, old_seg, sizeof old_seg);
    seg_path(f, 4, new_seg, sizeof new_seg);
    long long old_size = file_size(old_seg);
    append_n(log, 2); /* txids 4 and 5: held */
    assert_int_equal(file_size(old_seg), old_size);
    assert_int_equal(edit_log_last_txid(log), 5);
    assert_false(exists(new_seg));
    edit_log_job_run(job);
    assert_true(exists(new_seg));
    assert_int_equal(file_size(new_seg), 8); /* the magic only, until finish */
    assert_int_equal(edit_log_job_finish(log, job), 0);
    assert_true(file_size(new_seg) > 8);
    assert_false(exists(old_seg)); /* covered by the image: pruned */
    assert_int_equal(edit_log_synced_txid(log), 3);
    assert_int_equal(edit_log_unsynced(log), 2);
    assert_int_equal(edit_log_txns_since_checkpoint(log), 2);
    append_n(log, 1);
    edit_log_close(log);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 6);
    assert_int_equal(f->seen.images, 1);
    assert_int_equal(f->seen.image_txid, 3);
    assert_string_equal(f->seen.image_first_path, "/");
    expect_records(f, 4, 6);
}

/* A crash after the checkpoint job ran but before finish wrote the held
 * records: image 3 and an empty edits_4; recovery starts at 3 (4 and 5
 * were never synced, so never acknowledged). */
static void test_checkpoint_job_crash_before_finish(void **state) {
    struct fixture *f = *state;
    uint64_t last;
    assert_int_equal(recover(f, &last), 0);
    write_segment(f, 0, 3);
    assert_int_equal(recover(f, &last), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        edit_log *log = NULL;
        if (edit_log_open(f->name, 3, &log) != 0)
            _exit(1);
        FsImage image = FS_IMAGE__INIT;
        image.last_txid = 3;
        edit_log_job *job = NULL;
        if (edit_log_checkpoint_begin(log, &image, &job) != 0)
            _exit(2);
        append_n(log, 2);
        edit_log_job_run(job);
        _exit(0); /* no finish */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(recover(f, &last), 0);
    assert_int_equal(last, 3);
    assert_int_equal(f->seen.images, 1);
    assert_int_equal(f->seen.image_txid, 3);
    assert_int_equal(f->seen.n, 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(f->name, last, &log), 0); /* edits_4 anew */
    append_n(log, 1);
    edit_log_close(log);
    assert_int_equal(recover(f, &last), 0);
    expect_records(f, 4, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsynced_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_filled_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_last_record_is_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_older_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_trailing_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_fallback_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_crash_before_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sole_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txid_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_frame_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_job_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_job_holds_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_job_crash_before_finish, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
