/* edit_log.c -- the namenode's edit log and checkpoints (see edit_log.h).
 *
 * Owns every file in the name directory: fsimage_<T>, edits_<F> and the
 * fsimage_<T>.tmp of a checkpoint in progress (recovery removes a stale
 * one).  Other names are left alone.
 *
 * Invariants of the files:
 *   - the records of edits_<F> carry txids F, F+1, F+2, ... without gaps,
 *     and the next segment's name is one past the last txid of the one
 *     before it, so segment i holds [F_i, F_(i+1) - 1];
 *   - every segment but the newest was synced before the next one was
 *     created, so only the newest can end in a torn frame;
 *   - fsimage_<T> exists only once every record up to T was synced.
 *
 * Torn tail or corruption.  A frame in the newest segment is taken for a
 * torn write (cut off, the file truncated before it) when
 *   - fewer than 8 bytes of header remain, or
 *   - its payload runs past the end of the file, or
 *   - it ends exactly at the end of the file and fails its CRC, or
 *   - every byte from it to the end of the file is zero (a file system
 *     that extended the file but had not written the data yet); the same
 *     rule accepts a magic that is zeros or a prefix of "EMBREDT1" (a
 *     crash while the segment was created).
 * Everything else is corruption: a frame that fails its CRC with bytes
 * after it, a zero length, a length over EDIT_LOG_RECORD_MAX (a torn write
 * only zeroes bytes, and zeroing bytes of a big-endian length cannot raise
 * it over the cap, so such a length was never written by us), a frame that
 * passes its CRC but does not decode, a txid out of sequence, a bad frame
 * in an older segment.  A limit: a length damaged in the middle of the
 * newest segment so that it points past the end of the file looks exactly
 * like a torn tail, and the records after it are cut off.
 *
 * Empty segments.  edit_log_open() creates edits_<last_txid + 1> with
 * O_EXCL, but after a crash that segment may already exist holding no
 * record (only its magic, part of it, or nothing after a torn tail was
 * cut).  Recovery deletes such an empty newest segment (and fsyncs the
 * directory), so the file open creates again is always new; the segment's
 * name still proves that every txid before it was committed, so it is
 * checked against the txids recovered before it is deleted.
 * edit_log_open() finding the file anyway (the caller skipped recovery or
 * passed another last_txid) fails with EMBER_EEXIST and touches nothing.
 *
 * States of an open log (edit_log.state):
 *   EDIT_LOG_APPENDING  fd is edits_<segment_first>, open for appending;
 *                       records segment_first .. last_txid are in it, or,
 *                       while a checkpoint job is out, segment_first ..
 *                       job->upto in it and the later ones in `held`
 *   EDIT_LOG_FAILED     a write, fsync or segment switch failed; nothing
 *                       more is written and every call returns EMBER_EIO
 *                       (after a failed fsync the kernel may have dropped
 *                       the dirty pages, so a retry could report success
 *                       for data that never reached the disk)
 * The only transition, APPENDING -> FAILED, is edit_log_fail().
 *
 * Jobs.  The disk work that blocks -- fdatasync, and a checkpoint's image
 * write, segment switch and pruning -- is an edit_log_job: prepared on the
 * loop's thread (begin), run anywhere (edit_log_job_run, which touches only
 * the job, its descriptors and the directory), and applied back on the
 * loop's thread (edit_log_job_finish).  At most one job is out per log
 * (`job`).  While a sync job is out, appends keep writing to fd: the
 * fdatasync covers at least what was written before it began (job->upto),
 * which is all finish claims (synced_txid).  While a checkpoint job is out,
 * appends are encoded into `held` instead: they belong to the segment
 * edits_<upto + 1> the job creates, and that file may only exist once the
 * old segment is synced.  Finish writes them to the new segment (to the
 * old one if the image could not be written and nothing switched).  The
 * old descriptor is closed only by finish, so no job ever syncs a closed
 * fd. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/error.h"
#include "edit_log.h"

#define EDIT_LOG_MAGIC_LEN 8
#define EDIT_LOG_HEADER_LEN 8 /* u32 length | u32 CRC32C */
#define EDIT_LOG_PATH_MAX 4096
#define EDIT_LOG_READ_CHUNK (64 * 1024) /* the segment reader's buffer */
#define EDIT_LOG_BUF_KEEP (1024 * 1024) /* larger encode buffers are freed */

static const unsigned char image_magic[EDIT_LOG_MAGIC_LEN] = {'E', 'M', 'B', 'R',
                                                              'I', 'M', 'G', '1'};
static const unsigned char segment_magic[EDIT_LOG_MAGIC_LEN] = {'E', 'M', 'B', 'R',
                                                                'E', 'D', 'T', '1'};

typedef enum {
    EDIT_LOG_APPENDING, /* writing records to the open segment */
    EDIT_LOG_FAILED,    /* an I/O error happened; every call fails */
} edit_log_state;

typedef enum {
    EDIT_LOG_JOB_SYNC,       /* fdatasync of the open segment */
    EDIT_LOG_JOB_CHECKPOINT, /* fdatasync, image, new segment, prune */
} edit_log_job_kind;

struct edit_log_job {
    edit_log_job_kind kind;
    int fd;                 /* the open segment at begin (the log's: not closed here) */
    const char *dir;        /* the log's */
    uint64_t segment_first; /* the open segment's first txid at begin */
    uint64_t upto;          /* the last txid written at begin: what the job syncs */
    int need_sync;          /* records up to upto were unsynced at begin */
    unsigned char *image;   /* CHECKPOINT: magic + frame of the FsImage; job-owned */
    size_t image_len;
    /* Results, written by edit_log_job_run(). */
    int sync_rc;
    int image_rc;
    int segment_rc;
    int new_fd; /* CHECKPOINT: edits_<upto + 1>, or -1 */
};

struct edit_log {
    edit_log_state state;
    char *dir;
    int fd;                 /* edits_<segment_first>; -1 only while failed */
    uint64_t segment_first; /* the open segment's first txid */
    uint64_t last_txid;
    uint64_t synced_txid;   /* every record up to it is on the disk */
    uint64_t since_checkpoint;
    unsigned char *buf; /* one encoded frame; reused between appends */
    size_t buf_cap;
    edit_log_job *job;  /* the job out, or NULL */
    unsigned char *held; /* frames appended while a checkpoint job is out */
    size_t held_len, held_cap;
};

static int (*edit_log_sync_hook)(void *arg);
static void *edit_log_sync_hook_arg;

void edit_log_set_sync_hook(int (*hook)(void *arg), void *arg) {
    edit_log_sync_hook = hook;
    edit_log_sync_hook_arg = arg;
}

/* fdatasync with the test hook in front of it. */
static int edit_log_fdatasync(int fd) {
    if (edit_log_sync_hook != NULL && edit_log_sync_hook(edit_log_sync_hook_arg) != 0)
        return EMBER_EIO;
    return fdatasync(fd) == 0 ? EMBER_OK : EMBER_EIO;
}

/* ---- small helpers ---- */

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Formats a one-line reason into err (which may be NULL). */
__attribute__((format(printf, 3, 4))) static void edit_log_reason(char *err, size_t errlen,
                                                                  const char *fmt, ...) {
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* dir/<prefix><n, 20 digits><suffix> into out; EMBER_EINVAL if too long. */
static int edit_log_path(char *out, size_t outlen, const char *dir, const char *prefix, uint64_t n,
                         const char *suffix) {
    int len = snprintf(out, outlen, "%s/%s%020llu%s", dir, prefix, (unsigned long long)n, suffix);
    return (len < 0 || (size_t)len >= outlen) ? EMBER_EINVAL : EMBER_OK;
}

static int write_all(int fd, const void *data, size_t len) {
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return EMBER_EIO;
        p += n;
        len -= (size_t)n;
    }
    return EMBER_OK;
}

/* Reads exactly len bytes at offset; EMBER_EIO on an error or early EOF. */
static int pread_all(int fd, void *data, size_t len, uint64_t offset) {
    unsigned char *p = data;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return EMBER_EIO;
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return EMBER_OK;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return EMBER_EIO;
    int rc = fsync(fd) == 0 ? EMBER_OK : EMBER_EIO;
    close(fd);
    return rc;
}

/* Makes dir (mode 0700) when missing and fsyncs its parent, so that the
 * directory itself survives a crash along with what is later put in it. */
static int ensure_dir(const char *dir, char *err, size_t errlen) {
    struct stat st;
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST) {
            edit_log_reason(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            return EMBER_EIO;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            edit_log_reason(err, errlen, "%s is not a directory", dir);
            return EMBER_EIO;
        }
        return EMBER_OK;
    }
    char parent[EDIT_LOG_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/')
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    if (fsync_dir(parent) != EMBER_OK) {
        edit_log_reason(err, errlen, "cannot fsync %s: %s", parent, strerror(errno));
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* ---- the directory listing ---- */

typedef struct {
    uint64_t *images; /* fsimage_<T>: T, newest first */
    size_t n_images;
    uint64_t *segments; /* edits_<F>: F, oldest first */
    size_t n_segments;
} edit_log_listing;

/* 1 when name is prefix + exactly 20 digits + suffix, with the number in
 * *out; 0 otherwise (also for a number over UINT64_MAX). */
static int parse_name(const char *name, const char *prefix, const char *suffix, uint64_t *out) {
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0)
        return 0;
    const char *p = name + plen;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++, p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (strcmp(p, suffix) != 0)
        return 0;
    *out = v;
    return 1;
}

static int push(uint64_t **arr, size_t *n, size_t *cap, uint64_t v) {
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        uint64_t *grown = realloc(*arr, ncap * sizeof **arr);
        if (grown == NULL)
            return EMBER_ENOMEM;
        *arr = grown;
        *cap = ncap;
    }
    (*arr)[(*n)++] = v;
    return EMBER_OK;
}

static int cmp_ascending(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_descending(const void *a, const void *b) { return cmp_ascending(b, a); }

static void listing_free(edit_log_listing *l) {
    free(l->images);
    free(l->segments);
    memset(l, 0, sizeof *l);
}

/* Lists dir's images and segments into *l (free with listing_free()).
 * With remove_tmp, deletes the leftovers of an interrupted checkpoint. */
static int listing_read(const char *dir, int remove_tmp, edit_log_listing *l, char *err,
                        size_t errlen) {
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (d == NULL) {
        edit_log_reason(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        return EMBER_EIO;
    }
    size_t icap = 0, scap = 0;
    int rc = EMBER_OK;
    struct dirent *e;
    errno = 0;
    while (rc == EMBER_OK && (e = readdir(d)) != NULL) {
        uint64_t n;
        if (parse_name(e->d_name, "fsimage_", "", &n)) {
            rc = push(&l->images, &l->n_images, &icap, n);
        } else if (parse_name(e->d_name, "edits_", "", &n)) {
            rc = push(&l->segments, &l->n_segments, &scap, n);
        } else if (remove_tmp && parse_name(e->d_name, "fsimage_", ".tmp", &n)) {
            char path[EDIT_LOG_PATH_MAX];
            if (edit_log_path(path, sizeof path, dir, "fsimage_", n, ".tmp") == EMBER_OK)
                unlink(path);
        }
        errno = 0;
    }
    if (rc == EMBER_OK && errno != 0) {
        edit_log_reason(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        rc = EMBER_EIO;
    } else if (rc != EMBER_OK) {
        edit_log_reason(err, errlen, "out of memory listing %s", dir);
    }
    closedir(d);
    if (rc != EMBER_OK) {
        listing_free(l);
        return rc;
    }
    if (l->n_images > 1)
        qsort(l->images, l->n_images, sizeof *l->images, cmp_descending);
    if (l->n_segments > 1)
        qsort(l->segments, l->n_segments, sizeof *l->segments, cmp_ascending);
    return EMBER_OK;
}

/* ---- images ---- */

/* Reads fsimage_<txid> and checks it: magic, one frame covering the rest of
 * the file, its length under EDIT_LOG_IMAGE_MAX (before allocating), CRC,
 * decoding, and last_txid equal to the name.  On success *out is the
 * decoded image (the caller frees it with fs_image__free_unpacked()).
 * EMBER_ECORRUPT with a reason in why when it does not check out, which
 * includes not being readable (an older image may still do); EMBER_ENOMEM. */
static int image_read(const char *dir, uint64_t txid, FsImage **out, char *why, size_t whylen) {
    char path[EDIT_LOG_PATH_MAX];
    unsigned char head[EDIT_LOG_MAGIC_LEN + EDIT_LOG_HEADER_LEN];
    unsigned char *payload = NULL;
    int rc = EMBER_ECORRUPT;
    *out = NULL;
    if (edit_log_path(path, sizeof path, dir, "fsimage_", txid, "") != EMBER_OK) {
        edit_log_reason(why, whylen, "path too long");
        return EMBER_ECORRUPT;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        edit_log_reason(why, whylen, "cannot open: %s", strerror(errno));
        return EMBER_ECORRUPT;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || pread_all(fd, head, sizeof head, 0) != EMBER_OK) {
        edit_log_reason(why, whylen, "cannot read its header");
        goto done;
    }
    if (memcmp(head, image_magic, EDIT_LOG_MAGIC_LEN) != 0) {
        edit_log_reason(why, whylen, "bad magic");
        goto done;
    }
    uint32_t len = get_be32(head + EDIT_LOG_MAGIC_LEN);
    uint32_t crc = get_be32(head + EDIT_LOG_MAGIC_LEN + 4);
    if (len > EDIT_LOG_IMAGE_MAX) {
        edit_log_reason(why, whylen, "frame length %u over the %u-byte cap", len,
                        EDIT_LOG_IMAGE_MAX);
        goto done;
    }
    if ((uint64_t)st.st_size != sizeof head + (uint64_t)len) {
        edit_log_reason(why, whylen, "frame length %u does not match the file size %lld", len,
                        (long long)st.st_size);
        goto done;
    }
    payload = malloc(len > 0 ? len : 1);
    if (payload == NULL) {
        rc = EMBER_ENOMEM;
        edit_log_reason(why, whylen, "out of memory (%u bytes)", len);
        goto done;
    }
    if (pread_all(fd, payload, len, sizeof head) != EMBER_OK) {
        edit_log_reason(why, whylen, "cannot read: %s", strerror(errno));
        goto done;
    }
    if (crc32c(0, payload, len) != crc) {
        edit_log_reason(why, whylen, "CRC mismatch");
        goto done;
    }
    FsImage *image = fs_image__unpack(NULL, len, payload);
    if (image == NULL) {
        edit_log_reason(why, whylen, "does not decode as an FsImage");
        goto done;
    }
    if (image->last_txid != txid) {
        edit_log_reason(why, whylen, "holds last_txid %llu", (unsigned long long)image->last_txid);
        fs_image__free_unpacked(image, NULL);
        goto done;
    }
    *out = image;
    rc = EMBER_OK;
done:
    free(payload);
    close(fd);
    return rc;
}

/* Encodes image as an image file's bytes (magic, then one frame) into
 * *out (malloc'd, the caller frees).  EMBER_ETOOBIG over
 * EDIT_LOG_IMAGE_MAX, EMBER_ENOMEM. */
static int image_encode(const FsImage *image, unsigned char **out, size_t *out_len) {
    size_t len = fs_image__get_packed_size(image);
    if (len > EDIT_LOG_IMAGE_MAX)
        return EMBER_ETOOBIG;
    size_t head = EDIT_LOG_MAGIC_LEN + EDIT_LOG_HEADER_LEN;
    unsigned char *buf = malloc(head + len);
    if (buf == NULL)
        return EMBER_ENOMEM;
    memcpy(buf, image_magic, EDIT_LOG_MAGIC_LEN);
    fs_image__pack(image, buf + head);
    put_be32(buf + EDIT_LOG_MAGIC_LEN, (uint32_t)len);
    put_be32(buf + EDIT_LOG_MAGIC_LEN + 4, crc32c(0, buf + head, len));
    *out = buf;
    *out_len = head + len;
    return EMBER_OK;
}

/* Writes fsimage_<txid> (bytes from image_encode()) through
 * fsimage_<txid>.tmp: write, fsync, rename, fsync of the directory.
 * EMBER_EIO (the temporary file is then removed). */
static int image_write(const char *dir, uint64_t txid, const unsigned char *buf, size_t len) {
    char path[EDIT_LOG_PATH_MAX], tmp[EDIT_LOG_PATH_MAX];
    if (edit_log_path(path, sizeof path, dir, "fsimage_", txid, "") != EMBER_OK ||
        edit_log_path(tmp, sizeof tmp, dir, "fsimage_", txid, ".tmp") != EMBER_OK)
        return EMBER_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return EMBER_EIO;
    int rc = write_all(fd, buf, len);
    if (rc == EMBER_OK && fsync(fd) != 0)
        rc = EMBER_EIO;
    if (close(fd) != 0 && rc == EMBER_OK)
        rc = EMBER_EIO;
    if (rc == EMBER_OK && rename(tmp, path) != 0)
        rc = EMBER_EIO;
    if (rc != EMBER_OK) {
        unlink(tmp);
        return rc;
    }
    return fsync_dir(dir);
}

/* ---- segments ---- */

/* Creates edits_<first>: O_EXCL, the magic, fsync of the file and of the
 * directory.  The open descriptor comes back in *fd_out.  EMBER_EEXIST when
 * the file exists (left untouched), EMBER_EIO otherwise (a file it created
 * is removed again). */
static int segment_create(const char *dir, uint64_t first, int *fd_out) {
    char path[EDIT_LOG_PATH_MAX];
    if (edit_log_path(path, sizeof path, dir, "edits_", first, "") != EMBER_OK)
        return EMBER_EINVAL;
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? EMBER_EEXIST : EMBER_EIO;
    if (write_all(fd, segment_magic, sizeof segment_magic) != EMBER_OK || fsync(fd) != 0 ||
        fsync_dir(dir) != EMBER_OK) {
        close(fd);
        unlink(path);
        return EMBER_EIO;
    }
    *fd_out = fd;
    return EMBER_OK;
}

/* A sequential reader over one segment file, so that small frames do not
 * cost a system call each. */
typedef struct {
    int fd;
    size_t pos, len; /* the unread bytes are buf[pos .. len) */
    unsigned char buf[EDIT_LOG_READ_CHUNK];
} segment_reader;

static void segment_reader_reset(segment_reader *r, int fd) {
    r->fd = fd;
    r->pos = r->len = 0;
}

/* Copies the next n bytes into dst.  The caller has checked against the
 * file size that they exist: EMBER_EIO on a read error or an early end.
 * Large reads bypass the buffer. */
static int segment_reader_read(segment_reader *r, void *dst, size_t n) {
    unsigned char *out = dst;
    while (n > 0) {
        if (r->pos == r->len) {
            int direct = n >= sizeof r->buf;
            ssize_t got = read(r->fd, direct ? out : r->buf, direct ? n : sizeof r->buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return EMBER_EIO;
            if (direct) {
                out += got;
                n -= (size_t)got;
                continue;
            }
            r->pos = 0;
            r->len = (size_t)got;
        }
        size_t take = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(out, r->buf + r->pos, take);
        r->pos += take;
        out += take;
        n -= take;
    }
    return EMBER_OK;
}

/* *zero = 1 when bytes [from, size) of fd are all zero. */
static int tail_is_zero(int fd, uint64_t from, uint64_t size, int *zero) {
    unsigned char chunk[4096];
    *zero = 1;
    while (from < size) {
        size_t n = size - from < sizeof chunk ? (size_t)(size - from) : sizeof chunk;
        if (pread_all(fd, chunk, n, from) != EMBER_OK)
            return EMBER_EIO;
        for (size_t i = 0; i < n; i++)
            if (chunk[i] != 0) {
                *zero = 0;
                return EMBER_OK;
            }
        from += n;
    }
    return EMBER_OK;
}

/* What edit_log_recover() carries from segment to segment. */
typedef struct {
    const char *dir;
    edit_log_record_cb on_record;
    void *arg;
    char *err;
    size_t errlen;
    uint64_t last; /* the last txid recovered: the image's, then each record's */
    segment_reader *reader;
    unsigned char *payload; /* one frame's payload, grown as needed */
    size_t payload_cap;
} recovery;

/* Replays edits_<first>, whose records must be first, first + 1, ... and
 * at most limit (the next segment's first txid - 1; UINT64_MAX for the
 * newest).  Records up to rc->last are checked but not passed on.  In the
 * newest segment a torn tail is cut off, and the segment is deleted when no
 * record remains (see the file comment). */
static int recovery_segment(recovery *rc, uint64_t first, uint64_t limit, int newest) {
    char path[EDIT_LOG_PATH_MAX], why[128];
    unsigned char head[EDIT_LOG_HEADER_LEN];
    if (edit_log_path(path, sizeof path, rc->dir, "edits_", first, "") != EMBER_OK) {
        edit_log_reason(rc->err, rc->errlen, "path too long in %s", rc->dir);
        return EMBER_EIO;
    }
    int fd = open(path, (newest ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        edit_log_reason(rc->err, rc->errlen, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EMBER_EIO;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t off = 0, next = first;
    const char *bad = NULL; /* why the bytes at off do not check out */
    int torn = 0;           /* ... and whether that is how a torn write looks */
    int ret = EMBER_OK;
    segment_reader_reset(rc->reader, fd);

    size_t magic_len = size < EDIT_LOG_MAGIC_LEN ? (size_t)size : EDIT_LOG_MAGIC_LEN;
    unsigned char magic[EDIT_LOG_MAGIC_LEN];
    if (segment_reader_read(rc->reader, magic, magic_len) != EMBER_OK)
        goto io_error;
    if (magic_len < EDIT_LOG_MAGIC_LEN || memcmp(magic, segment_magic, magic_len) != 0) {
        bad = "bad magic";
        torn = magic_len < EDIT_LOG_MAGIC_LEN && memcmp(magic, segment_magic, magic_len) == 0;
    } else {
        off = EDIT_LOG_MAGIC_LEN;
    }
    while (bad == NULL && off < size) {
        uint64_t left = size - off;
        if (left < EDIT_LOG_HEADER_LEN) {
            bad = "incomplete frame header";
            torn = 1;
            break;
        }
        if (segment_reader_read(rc->reader, head, sizeof head) != EMBER_OK)
            goto io_error;
        uint32_t len = get_be32(head), crc = get_be32(head + 4);
        if (len == 0) {
            bad = "zero frame length"; /* an EditRecord holds a txid: never empty */
            break;
        }
        if (len > EDIT_LOG_RECORD_MAX) {
            snprintf(why, sizeof why, "frame length %u over the %u-byte cap", len,
                     EDIT_LOG_RECORD_MAX);
            bad = why;
            break;
        }
        if (len > left - EDIT_LOG_HEADER_LEN) {
            bad = "incomplete frame";
            torn = 1;
            break;
        }
        if (len > rc->payload_cap) {
            unsigned char *grown = realloc(rc->payload, len);
            if (grown == NULL) {
                edit_log_reason(rc->err, rc->errlen, "out of memory reading %s", path);
                ret = EMBER_ENOMEM;
                goto done;
            }
            rc->payload = grown;
            rc->payload_cap = len;
        }
        if (segment_reader_read(rc->reader, rc->payload, len) != EMBER_OK)
            goto io_error;
        if (crc32c(0, rc->payload, len) != crc) {
            bad = "CRC mismatch";
            torn = len == left - EDIT_LOG_HEADER_LEN;
            break;
        }
        EditRecord *record = edit_record__unpack(NULL, len, rc->payload);
        if (record == NULL) {
            bad = "record does not decode";
            break;
        }
        if (record->txid != next || next > limit) {
            if (record->txid != next)
                edit_log_reason(rc->err, rc->errlen,
                                "%s: record at byte %llu holds txid %llu where %llu was expected",
                                path, (unsigned long long)off, (unsigned long long)record->txid,
                                (unsigned long long)next);
            else
                edit_log_reason(rc->err, rc->errlen,
                                "%s: txid %llu at byte %llu belongs to the next segment", path,
                                (unsigned long long)next, (unsigned long long)off);
            edit_record__free_unpacked(record, NULL);
            ret = EMBER_ECORRUPT;
            goto done;
        }
        if (next > rc->last) {
            int cb = rc->on_record != NULL ? rc->on_record(record, rc->arg) : 0;
            if (cb != 0) {
                edit_log_reason(rc->err, rc->errlen, "replaying txid %llu from %s failed (%d)",
                                (unsigned long long)next, path, cb);
                edit_record__free_unpacked(record, NULL);
                ret = cb;
                goto done;
            }
            rc->last = next;
        }
        edit_record__free_unpacked(record, NULL);
        next++;
        off += EDIT_LOG_HEADER_LEN + len;
    }

    if (bad != NULL) {
        int zero = 0;
        if (newest && !torn && tail_is_zero(fd, off, size, &zero) != EMBER_OK)
            goto io_error;
        if (!newest || !(torn || zero)) {
            edit_log_reason(rc->err, rc->errlen, "%s: %s at byte %llu%s", path, bad,
                            (unsigned long long)off,
                            newest ? "" : " (only the newest segment may end in a torn write)");
            ret = EMBER_ECORRUPT;
            goto done;
        }
    }
    if (newest && next == first) {
        /* No record: delete it, so edit_log_open() can create it anew. */
        close(fd);
        fd = -1;
        if (unlink(path) != 0 || fsync_dir(rc->dir) != EMBER_OK)
            goto io_error;
    } else if (bad != NULL) {
        if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
            goto io_error;
    }
    goto done;
io_error:
    edit_log_reason(rc->err, rc->errlen, "cannot read or repair %s: %s", path, strerror(errno));
    ret = EMBER_EIO;
done:
    if (fd >= 0)
        close(fd);
    return ret;
}

int edit_log_recover(const char *dir, edit_log_image_cb on_image, edit_log_record_cb on_record,
                     void *arg, uint64_t *last_txid, char *err, size_t errlen) {
    if (dir == NULL || last_txid == NULL || strlen(dir) > EDIT_LOG_PATH_MAX - 64) {
        edit_log_reason(err, errlen, "bad name directory argument");
        return EMBER_EINVAL;
    }
    *last_txid = 0;
    int ret = ensure_dir(dir, err, errlen);
    if (ret != EMBER_OK)
        return ret;
    edit_log_listing l;
    ret = listing_read(dir, 1, &l, err, errlen);
    if (ret != EMBER_OK)
        return ret;
    recovery rc = {.dir = dir, .on_record = on_record, .arg = arg, .err = err, .errlen = errlen};

    /* The newest image that checks out; base 0 (the empty namespace) when
     * none does. */
    FsImage *image = NULL;
    uint64_t base = 0;
    char why[256] = "", first_why[256] = "";
    size_t used = 0;
    for (; used < l.n_images; used++) {
        ret = image_read(dir, l.images[used], &image, why, sizeof why);
        if (ret == EMBER_OK) {
            base = l.images[used];
            break;
        }
        if (ret != EMBER_ECORRUPT) {
            edit_log_reason(err, errlen, "%s/fsimage_%020llu: %s", dir,
                            (unsigned long long)l.images[used], why);
            goto done;
        }
        if (used == 0)
            snprintf(first_why, sizeof first_why, "%s", why);
    }
    ret = EMBER_OK;
    uint64_t newest_image = l.n_images > 0 ? l.images[0] : 0;

    /* The first segment to read is the one holding base + 1 (or the
     * newest); the ones before it hold only txids the image covers.  Check
     * it can hold base + 1 before calling anything back. */
    size_t s = 0;
    while (s + 1 < l.n_segments && l.segments[s + 1] <= base + 1)
        s++;
    if (l.n_segments == 0 && base < newest_image) {
        edit_log_reason(err, errlen,
                        "%s/fsimage_%020llu is unusable (%s) and there is no edit segment", dir,
                        (unsigned long long)newest_image, first_why);
        ret = EMBER_ECORRUPT;
        goto done;
    }
    if (l.n_segments > 0 && l.segments[s] > base + 1) {
        if (used > 0)
            edit_log_reason(err, errlen,
                            "%s/fsimage_%020llu is unusable (%s) and no edit segment reaches back "
                            "to txid %llu of the image before it",
                            dir, (unsigned long long)newest_image, first_why,
                            (unsigned long long)(base + 1));
        else
            edit_log_reason(
                err, errlen, "%s: txids %llu to %llu are missing (no segment holds them)", dir,
                (unsigned long long)(base + 1), (unsigned long long)(l.segments[s] - 1));
        ret = EMBER_ECORRUPT;
        goto done;
    }

    if (image != NULL && on_image != NULL) {
        ret = on_image(image, arg);
        if (ret != 0) {
            edit_log_reason(err, errlen, "loading %s/fsimage_%020llu failed (%d)", dir,
                            (unsigned long long)base, ret);
            goto done;
        }
    }
    if (image != NULL) {
        fs_image__free_unpacked(image, NULL);
        image = NULL;
    }

    rc.last = base;
    if (s < l.n_segments) {
        rc.reader = malloc(sizeof *rc.reader);
        if (rc.reader == NULL) {
            edit_log_reason(err, errlen, "out of memory");
            ret = EMBER_ENOMEM;
            goto done;
        }
    }
    for (size_t i = s; i < l.n_segments; i++) {
        int newest = i + 1 == l.n_segments;
        if (l.segments[i] > rc.last + 1) {
            edit_log_reason(
                err, errlen, "%s: txids %llu to %llu are missing (edits_%020llu follows txid %llu)",
                dir, (unsigned long long)(rc.last + 1), (unsigned long long)(l.segments[i] - 1),
                (unsigned long long)l.segments[i], (unsigned long long)rc.last);
            ret = EMBER_ECORRUPT;
            goto done;
        }
        ret = recovery_segment(&rc, l.segments[i], newest ? UINT64_MAX : l.segments[i + 1] - 1,
                               newest);
        if (ret != EMBER_OK)
            goto done;
    }

    /* An image's name says every txid up to it was committed. */
    if (rc.last < newest_image) {
        edit_log_reason(err, errlen,
                        "%s/fsimage_%020llu is unusable (%s) and the edit segments end at txid "
                        "%llu",
                        dir, (unsigned long long)newest_image, first_why,
                        (unsigned long long)rc.last);
        ret = EMBER_ECORRUPT;
        goto done;
    }
    *last_txid = rc.last;
done:
    if (image != NULL)
        fs_image__free_unpacked(image, NULL);
    free(rc.reader);
    free(rc.payload);
    listing_free(&l);
    return ret;
}

/* ---- the open log ---- */

/* Asserts the invariants of the current state. */
static void edit_log_check(const edit_log *log) {
    (void)log;
    assert(log->state == EDIT_LOG_APPENDING || log->state == EDIT_LOG_FAILED);
    assert(log->state == EDIT_LOG_FAILED || log->fd >= 0);
    assert(log->segment_first >= 1 && log->segment_first <= log->last_txid + 1);
    assert(log->synced_txid <= log->last_txid);
    assert(log->synced_txid + 1 >= log->segment_first || log->state == EDIT_LOG_FAILED);
    assert(log->since_checkpoint <= log->last_txid);
    assert(log->held_len == 0 || (log->job != NULL && log->job->kind == EDIT_LOG_JOB_CHECKPOINT));
}

/* APPENDING -> FAILED: after this nothing is written again. */
static void edit_log_fail(edit_log *log) {
    log->state = EDIT_LOG_FAILED;
    log->held_len = 0;
    edit_log_check(log);
}

int edit_log_open(const char *dir, uint64_t last_txid, edit_log **out) {
    if (dir == NULL || out == NULL || last_txid == UINT64_MAX ||
        strlen(dir) > EDIT_LOG_PATH_MAX - 64)
        return EMBER_EINVAL;
    *out = NULL;
    edit_log *log = calloc(1, sizeof *log);
    if (log == NULL)
        return EMBER_ENOMEM;
    log->fd = -1;
    log->dir = strdup(dir);
    if (log->dir == NULL) {
        free(log);
        return EMBER_ENOMEM;
    }
    int rc = segment_create(dir, last_txid + 1, &log->fd);
    if (rc != EMBER_OK) {
        free(log->dir);
        free(log);
        return rc;
    }
    log->state = EDIT_LOG_APPENDING;
    log->segment_first = last_txid + 1;
    log->last_txid = last_txid;
    log->synced_txid = last_txid;
    edit_log_check(log);
    *out = log;
    return EMBER_OK;
}

void edit_log_close(edit_log *log) {
    if (log == NULL)
        return;
    assert(log->job == NULL); /* the owner finishes its job first */
    if (log->state == EDIT_LOG_APPENDING)
        (void)edit_log_sync(log);
    if (log->fd >= 0)
        close(log->fd);
    free(log->buf);
    free(log->held);
    free(log->dir);
    free(log);
}

/* Adds an encoded frame to `held` (a checkpoint job is out). */
static int edit_log_hold(edit_log *log, const unsigned char *frame, size_t len) {
    if (log->held_len + len > log->held_cap) {
        size_t ncap = log->held_cap ? log->held_cap : 64 * 1024;
        while (ncap < log->held_len + len)
            ncap *= 2;
        unsigned char *grown = realloc(log->held, ncap);
        if (grown == NULL)
            return EMBER_ENOMEM;
        log->held = grown;
        log->held_cap = ncap;
    }
    memcpy(log->held + log->held_len, frame, len);
    log->held_len += len;
    return EMBER_OK;
}

int edit_log_append(edit_log *log, EditRecord *record, uint64_t *txid) {
    if (log == NULL || record == NULL || record->base.descriptor != &edit_record__descriptor)
        return EMBER_EINVAL;
    if (log->state == EDIT_LOG_FAILED)
        return EMBER_EIO;
    uint64_t old_txid = record->txid;
    record->txid = log->last_txid + 1;
    size_t len = edit_record__get_packed_size(record);
    if (len > EDIT_LOG_RECORD_MAX) {
        record->txid = old_txid;
        return EMBER_ETOOBIG;
    }
    size_t need = EDIT_LOG_HEADER_LEN + len;
    if (need > log->buf_cap) {
        unsigned char *grown = realloc(log->buf, need);
        if (grown == NULL) {
            record->txid = old_txid;
            return EMBER_ENOMEM;
        }
        log->buf = grown;
        log->buf_cap = need;
    }
    edit_record__pack(record, log->buf + EDIT_LOG_HEADER_LEN);
    put_be32(log->buf, (uint32_t)len);
    put_be32(log->buf + 4, crc32c(0, log->buf + EDIT_LOG_HEADER_LEN, len));
    int holding = log->job != NULL && log->job->kind == EDIT_LOG_JOB_CHECKPOINT;
    int rc = holding ? edit_log_hold(log, log->buf, need) : write_all(log->fd, log->buf, need);
    if (log->buf_cap > EDIT_LOG_BUF_KEEP) {
        free(log->buf);
        log->buf = NULL;
        log->buf_cap = 0;
    }
    if (holding && rc != EMBER_OK) {
        record->txid = old_txid;
        return rc; /* nothing was written: the log goes on */
    }
    if (rc != EMBER_OK) {
        /* Part of the frame may be in the file: only recovery, which cuts
         * it off as a torn tail, may touch the segment now. */
        edit_log_fail(log);
        return EMBER_EIO;
    }
    log->last_txid++;
    log->since_checkpoint++;
    edit_log_check(log);
    if (txid != NULL)
        *txid = log->last_txid;
    return EMBER_OK;
}

/* A job of kind over what is written so far; NULL when out of memory. */
static edit_log_job *edit_log_job_new(edit_log *log, edit_log_job_kind kind) {
    edit_log_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    job->kind = kind;
    job->fd = log->fd;
    job->dir = log->dir;
    job->segment_first = log->segment_first;
    job->upto = log->last_txid;
    job->need_sync = log->synced_txid < log->last_txid;
    job->new_fd = -1;
    return job;
}

int edit_log_sync_begin(edit_log *log, edit_log_job **job) {
    if (log == NULL || job == NULL)
        return EMBER_EINVAL;
    *job = NULL;
    if (log->state == EDIT_LOG_FAILED)
        return EMBER_EIO;
    if (log->job != NULL)
        return EMBER_ESTATE;
    if (log->synced_txid == log->last_txid)
        return EMBER_OK;
    if ((log->job = edit_log_job_new(log, EDIT_LOG_JOB_SYNC)) == NULL)
        return EMBER_ENOMEM;
    *job = log->job;
    return EMBER_OK;
}

int edit_log_checkpoint_begin(edit_log *log, const FsImage *image, edit_log_job **job) {
    if (log == NULL || job == NULL || image == NULL ||
        image->base.descriptor != &fs_image__descriptor)
        return EMBER_EINVAL;
    *job = NULL;
    if (log->state == EDIT_LOG_FAILED)
        return EMBER_EIO;
    if (log->job != NULL)
        return EMBER_ESTATE;
    if (image->last_txid != log->last_txid)
        return EMBER_EINVAL;
    edit_log_job *j = edit_log_job_new(log, EDIT_LOG_JOB_CHECKPOINT);
    if (j == NULL)
        return EMBER_ENOMEM;
    int rc = image_encode(image, &j->image, &j->image_len);
    if (rc != EMBER_OK) {
        free(j);
        return rc;
    }
    log->job = *job = j;
    return EMBER_OK;
}

/* Deletes what the newest images no longer need: images past the newest
 * EDIT_LOG_IMAGES_RETAINED, and segments whose txids (up to the next
 * segment's first - 1) are all covered by the oldest image kept.  The open
 * segment (edits_<open_first>) is never deleted.  Best effort: what stays
 * is deleted by the next checkpoint, and recovery skips it meanwhile. */
static void edit_log_prune(const char *dir, uint64_t open_first) {
    edit_log_listing l;
    char path[EDIT_LOG_PATH_MAX];
    int removed = 0;
    if (listing_read(dir, 0, &l, NULL, 0) != EMBER_OK)
        return;
    if (l.n_images > 0) {
        size_t keep = l.n_images < EDIT_LOG_IMAGES_RETAINED ? l.n_images : EDIT_LOG_IMAGES_RETAINED;
        uint64_t oldest = l.images[keep - 1];
        for (size_t i = keep; i < l.n_images; i++)
            if (edit_log_path(path, sizeof path, dir, "fsimage_", l.images[i], "") == EMBER_OK &&
                unlink(path) == 0)
                removed = 1;
        for (size_t i = 0; i + 1 < l.n_segments; i++) {
            if (l.segments[i + 1] - 1 > oldest || l.segments[i] == open_first)
                continue;
            if (edit_log_path(path, sizeof path, dir, "edits_", l.segments[i], "") == EMBER_OK &&
                unlink(path) == 0)
                removed = 1;
        }
    }
    if (removed)
        (void)fsync_dir(dir);
    listing_free(&l);
}

void edit_log_job_run(edit_log_job *job) {
    job->sync_rc = job->need_sync ? edit_log_fdatasync(job->fd) : EMBER_OK;
    if (job->kind != EDIT_LOG_JOB_CHECKPOINT || job->sync_rc != EMBER_OK)
        return;
    /* A failed image write leaves the log as it was: it may be retried. */
    job->image_rc = image_write(job->dir, job->upto, job->image, job->image_len);
    if (job->image_rc != EMBER_OK)
        return;
    uint64_t open_first = job->segment_first;
    if (job->segment_first <= job->upto) {
        /* The open segment holds records: switch to edits_<T + 1>.  (With
         * none, it already is that segment.)  The old one is synced. */
        job->segment_rc = segment_create(job->dir, job->upto + 1, &job->new_fd);
        if (job->segment_rc != EMBER_OK)
            return;
        open_first = job->upto + 1;
    }
    edit_log_prune(job->dir, open_first);
}

/* Writes the held frames to the open segment (a checkpoint job ended). */
static int edit_log_write_held(edit_log *log) {
    int rc = log->held_len > 0 ? write_all(log->fd, log->held, log->held_len) : EMBER_OK;
    log->held_len = 0;
    if (log->held_cap > EDIT_LOG_BUF_KEEP) {
        free(log->held);
        log->held = NULL;
        log->held_cap = 0;
    }
    return rc;
}

int edit_log_job_finish(edit_log *log, edit_log_job *job) {
    assert(log != NULL && job != NULL && job == log->job);
    int rc = EMBER_EIO;
    int checkpoint = job->kind == EDIT_LOG_JOB_CHECKPOINT;
    log->job = NULL;
    if (log->state == EDIT_LOG_FAILED)
        goto out; /* a write failed while the job ran */
    if (job->sync_rc != EMBER_OK) {
        edit_log_fail(log);
        goto out;
    }
    if (log->synced_txid < job->upto)
        log->synced_txid = job->upto;
    rc = EMBER_OK;
    if (!checkpoint)
        goto out;
    if (job->image_rc != EMBER_OK || job->segment_rc != EMBER_OK) {
        rc = job->image_rc;
        if (job->segment_rc != EMBER_OK) {
            edit_log_fail(log);
            rc = EMBER_EIO;
            goto out;
        }
    } else {
        if (job->new_fd >= 0) {
            close(log->fd);
            log->fd = job->new_fd;
            job->new_fd = -1;
            log->segment_first = job->upto + 1;
        }
        log->since_checkpoint = log->last_txid - job->upto;
    }
    /* The records appended meanwhile, into the segment now open. */
    if (edit_log_write_held(log) != EMBER_OK) {
        edit_log_fail(log);
        rc = EMBER_EIO;
    }
out:
    if (job->new_fd >= 0)
        close(job->new_fd);
    free(job->image);
    free(job);
    edit_log_check(log);
    return rc;
}

int edit_log_sync(edit_log *log) {
    edit_log_job *job;
    int rc = edit_log_sync_begin(log, &job);
    if (rc != EMBER_OK || job == NULL)
        return rc;
    edit_log_job_run(job);
    return edit_log_job_finish(log, job);
}

int edit_log_checkpoint(edit_log *log, const FsImage *image) {
    edit_log_job *job;
    int rc = edit_log_checkpoint_begin(log, image, &job);
    if (rc != EMBER_OK)
        return rc;
    edit_log_job_run(job);
    return edit_log_job_finish(log, job);
}

uint64_t edit_log_unsynced(const edit_log *log) {
    return log != NULL ? log->last_txid - log->synced_txid : 0;
}

uint64_t edit_log_synced_txid(const edit_log *log) { return log != NULL ? log->synced_txid : 0; }

int edit_log_failed(const edit_log *log) { return log != NULL && log->state == EDIT_LOG_FAILED; }

uint64_t edit_log_last_txid(const edit_log *log) { return log != NULL ? log->last_txid : 0; }

uint64_t edit_log_txns_since_checkpoint(const edit_log *log) {
    return log != NULL ? log->since_checkpoint : 0;
}
