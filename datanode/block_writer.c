/* block_writer.c -- the block store's writers: a replica being written
 * (block_store.h's WRITING state) from create or reopen to finalize,
 * detach or abort.
 *
 * A writer (block_writer.state, struct block_writer in
 * block_store_internal.h):
 *   WRITER_WRITING  data_fd and meta_fd are open; the data file holds
 *                   length bytes; the meta file holds the header and the
 *                   CRCs of the ceil(length / 512) chunks, the last one
 *                   partial_crc, the CRC32C of the partial_len =
 *                   length % 512 bytes of a partial last chunk (each
 *                   append writes it, as HDFS does, so that a crash loses
 *                   no byte the meta could vouch for)
 *   WRITER_FAILED   a write failed part way: the files no longer match
 *                   the counters, so every append fails with EMBER_EIO;
 *                   finalize fails, and the replica's valid length is
 *                   then found by checking the files, as at open
 * The only transition, WRITING -> FAILED, is bs_writer_fail(), and
 * bs_writer_check() asserts the invariants after every change.  A
 * writer's files are fsynced by block_writer_sync() (a client's hsync),
 * and when it is finalized or detached under sync on close.  hsync and
 * finalize are also jobs (block_store.h, "Jobs"): the blocking part
 * (writer_close_files(), bs_replica_move_files(), the fsyncs) touches only
 * the job and the files, the rest (the writer's state, the directory's,
 * the index) is applied on the loop's thread by block_writer_job_finish();
 * the synchronous calls are the same three steps on one thread.
 *
 * The replica transitions made here (block_store.h's table): create
 * (absent, or a stale RBW replica, -> WRITING), finalize (WRITING ->
 * FINALIZED), detach and a failed finalize (WRITING -> RBW,
 * writer_keep()), abort (WRITING -> absent) and reopen for append
 * (FINALIZED -> WRITING).  Placement of a new replica: the healthy
 * directory with the most free space past the reserve; a full one (ENOSPC,
 * EDQUOT, EFBIG) is tried past but not failed.
 *
 * Ownership: a writer is the caller's from create or reopen until
 * finalize, detach or abort, each of which frees it; it holds its
 * descriptors, and the store holds its index record (state WRITING). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/checksum.h"
#include "common/error.h"

#define APPEND_STACK_CRCS 128 /* a 64 KiB packet's CRCs fit on the stack */

/* Asserts the invariants of the writer's state. */
void bs_writer_check(const block_writer *w) {
    (void)w;
    assert(w->state == WRITER_WRITING || w->state == WRITER_FAILED);
    assert(w->state == WRITER_FAILED || (w->data_fd >= 0 && w->meta_fd >= 0));
    assert(w->state == WRITER_FAILED || w->partial_len == w->length % BLOCK_CHUNK_SIZE);
    assert(w->partial_len != 0 || w->partial_crc == 0);
}

/* WRITING -> FAILED; the directory fails too when err says it is broken. */
void bs_writer_fail(block_writer *w, int err) {
    w->state = WRITER_FAILED;
    if (bs_dir_errno_is_failure(err))
        bs_dir_fail(w->store, w->dir);
    bs_writer_check(w);
}

/* 1 when err says the file system is full (the directory is not broken). */
static int dir_errno_is_space(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }

/* The space of directory d free for replicas: statvfs's available bytes
 * less the reserve, 0 when the reserve takes them all.  EMBER_EIO with
 * errno when statvfs fails. */
static int dir_avail(const block_store *store, int d, uint64_t *avail) {
    struct statvfs vfs;
    if (statvfs(store->dirs[d].rbw, &vfs) != 0)
        return EMBER_EIO;
    uint64_t bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    *avail = bytes > store->reserved ? bytes - store->reserved : 0;
    return EMBER_OK;
}

/* Orders the healthy directories with room by free space, most first (the
 * lower index first on a tie); returns how many there are and, in *full,
 * how many healthy ones have no room (nothing free past the reserve).  A
 * directory statvfs says is gone fails here; one it cannot measure
 * otherwise goes last, and creating the files will tell. */
static int store_order_dirs(block_store *store, int *full) {
    int n = 0;
    *full = 0;
    for (int d = 0; d < store->ndirs; d++) {
        if (store->dirs[d].failed)
            continue;
        uint64_t avail = 0;
        int rc = dir_avail(store, d, &avail);
        if (rc != EMBER_OK && bs_dir_errno_is_failure(errno)) {
            bs_dir_fail(store, (uint32_t)d);
            continue;
        }
        if (rc == EMBER_OK && avail == 0) {
            (*full)++;
            continue;
        }
        /* Insertion sort: a handful of directories. */
        int i = n++;
        while (i > 0 && store->free_bytes[i - 1] < avail) {
            store->order[i] = store->order[i - 1];
            store->free_bytes[i] = store->free_bytes[i - 1];
            i--;
        }
        store->order[i] = d;
        store->free_bytes[i] = avail;
    }
    return n;
}

/* Creates the rbw files of w in directory w->dir and writes the meta
 * header.  On failure nothing is left and errno says why. */
static int writer_create_files(block_writer *w) {
    const data_dir *dd = &w->store->dirs[w->dir];
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    if (bs_replica_path(data_path, sizeof data_path, dd->rbw, w->block_id, 0, 0) != EMBER_OK ||
        bs_replica_path(meta_path, sizeof meta_path, dd->rbw, w->block_id, w->gen_stamp, 1) !=
            EMBER_OK) {
        errno = ENAMETOOLONG;
        return EMBER_EIO;
    }
    unsigned char header[META_HEADER_LEN];
    bs_meta_header_init(header);
    w->data_fd = open(data_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->data_fd < 0)
        return EMBER_EIO;
    w->meta_fd = open(meta_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->meta_fd >= 0 && bs_pwrite_all(w->meta_fd, header, sizeof header, 0) == EMBER_OK)
        return EMBER_OK;
    int saved = errno;
    if (w->meta_fd >= 0) {
        close(w->meta_fd);
        unlink(meta_path);
        w->meta_fd = -1;
    }
    close(w->data_fd);
    unlink(data_path);
    w->data_fd = -1;
    errno = saved;
    return EMBER_EIO;
}

int block_writer_create(block_store *store, uint64_t block_id, uint64_t gen_stamp,
                        block_writer **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    const replica *old = bs_index_find(store, block_id);
    if (old != NULL && (old->state != REPLICA_RBW || old->gen_stamp >= gen_stamp))
        return EMBER_EEXIST;
    if (old != NULL) {
        /* A stale RBW replica (an older gen stamp: its writer's pipeline
         * or lease was recovered without it) gives way, as in HDFS. */
        int rc = block_store_delete(store, block_id);
        if (rc != EMBER_OK)
            return rc;
    }
    block_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EMBER_ENOMEM;
    w->store = store;
    w->block_id = block_id;
    w->gen_stamp = gen_stamp;
    w->data_fd = w->meta_fd = -1;
    int full;
    int n = store_order_dirs(store, &full);
    int created = 0;
    for (int i = 0; i < n && !created; i++) {
        w->dir = (uint32_t)store->order[i];
        if (writer_create_files(w) == EMBER_OK)
            created = 1;
        else if (dir_errno_is_space(errno))
            full++;
        else if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, w->dir);
    }
    if (!created) {
        free(w);
        return full > 0 ? EMBER_ENOSPC : EMBER_EIO;
    }
    replica r = {
        .block_id = block_id, .gen_stamp = gen_stamp, .dir = w->dir, .state = REPLICA_WRITING};
    if (bs_index_insert(store, &r) != EMBER_OK) {
        w->state = WRITER_FAILED; /* so that abort only removes the files */
        block_writer_abort(w);
        return EMBER_ENOMEM;
    }
    w->state = WRITER_WRITING;
    bs_writer_check(w);
    bs_replica_check(store, bs_index_find(store, block_id));
    *out = w;
    return EMBER_OK;
}

int block_writer_append(block_writer *w, const void *data, size_t len, const uint32_t *crcs,
                        size_t ncrcs) {
    if (w == NULL || (data == NULL && len > 0))
        return EMBER_EINVAL;
    if (w->state == WRITER_FAILED)
        return EMBER_EIO;
    if (crcs != NULL && (w->partial_len != 0 || ncrcs != chunk_count(len)))
        return EMBER_EINVAL;
    if (len == 0)
        return EMBER_OK;
    if (len > UINT64_MAX - w->length)
        return EMBER_EINVAL;

    /* The CRCs of the chunks this call completes, computed (and checked
     * against the sender's) before anything is written. */
    unsigned char stack[(APPEND_STACK_CRCS + 1) * 4], *done = stack;
    size_t max_done = (w->partial_len + len) / BLOCK_CHUNK_SIZE, ndone = 0;
    if (max_done > APPEND_STACK_CRCS && (done = malloc((max_done + 1) * 4)) == NULL)
        return EMBER_ENOMEM;
    const unsigned char *p = data;
    uint32_t crc = w->partial_crc;
    size_t plen = w->partial_len;
    for (size_t off = 0, k = 0; off < len; k++) {
        size_t take = BLOCK_CHUNK_SIZE - plen;
        if (take > len - off)
            take = len - off;
        crc = crc32c(crc, p + off, take);
        off += take;
        plen += take;
        if (crcs != NULL && crc != crcs[k]) {
            if (done != stack)
                free(done);
            return EMBER_ECORRUPT;
        }
        if (plen == BLOCK_CHUNK_SIZE) {
            put_be32(done + 4 * ndone++, crc);
            crc = 0;
            plen = 0;
        }
    }
    /* The partial last chunk's CRC goes in the slot after the complete
     * ones, so that the meta always covers every byte written. */
    size_t nslots = ndone;
    if (plen > 0)
        put_be32(done + 4 * nslots++, crc);
    int rc = bs_pwrite_all(w->data_fd, data, len, w->length);
    if (rc == EMBER_OK && nslots > 0)
        rc = bs_pwrite_all(w->meta_fd, done, 4 * nslots,
                           META_HEADER_LEN + 4 * (w->length / BLOCK_CHUNK_SIZE));
    int saved = errno;
    if (done != stack)
        free(done);
    if (rc != EMBER_OK) {
        bs_writer_fail(w, saved);
        return EMBER_EIO;
    }
    w->length += len;
    w->partial_crc = crc;
    w->partial_len = plen;
    bs_writer_check(w);
    return EMBER_OK;
}

uint64_t block_writer_length(const block_writer *w) { return w != NULL ? w->length : 0; }

/* Closes w's descriptors, removes its index entry and frees it. */
static void writer_free(block_writer *w) {
    if (w->data_fd >= 0)
        close(w->data_fd);
    if (w->meta_fd >= 0)
        close(w->meta_fd);
    replica *r = bs_index_find(w->store, w->block_id);
    if (r != NULL && r->state == REPLICA_WRITING)
        bs_index_remove(w->store, r);
    free(w);
}

/* Fsyncs (when sync) and closes both files of w, which hold exactly
 * length bytes and their CRCs (the partial chunk's included: every append
 * writes it).  Touches nothing but w's descriptors, so it may run off the
 * loop's thread (a finalize job).  0, or EMBER_EIO with *err the errno of
 * the first failure; the descriptors are closed either way. */
static int writer_close_files(block_writer *w, int sync, int *err) {
    int rc = EMBER_OK;
    *err = 0;
    if (sync && (fsync(w->data_fd) != 0 || fsync(w->meta_fd) != 0)) {
        rc = EMBER_EIO;
        *err = errno;
    }
    int a = w->data_fd >= 0 ? close(w->data_fd) : 0;
    if (a != 0 && rc == EMBER_OK)
        *err = errno;
    int b = w->meta_fd >= 0 ? close(w->meta_fd) : 0;
    if (b != 0 && rc == EMBER_OK && a == 0)
        *err = errno;
    w->data_fd = w->meta_fd = -1;
    if (a != 0 || b != 0)
        rc = EMBER_EIO;
    return rc;
}

/* What writer_close_files() answered (rc, err), applied to w on the
 * loop's thread: EMBER_EIO for a writer FAILED before, and a failure here
 * makes it FAILED. */
static int writer_closed(block_writer *w, int rc, int err) {
    if (w->state == WRITER_FAILED)
        return EMBER_EIO;
    if (rc != EMBER_OK)
        bs_writer_fail(w, err);
    return rc;
}

/* Fsyncs (under sync on close) and closes both files.  Returns EMBER_EIO
 * for a FAILED writer or a failure here (w is then FAILED); the
 * descriptors are closed either way. */
static int writer_sync(block_writer *w) {
    int err;
    int rc = writer_close_files(w, w->state == WRITER_WRITING && w->store->sync_on_close, &err);
    return writer_closed(w, rc, err);
}

/* WRITING -> RBW, freeing w (its descriptors closed by writer_sync()):
 * the valid length is w->length when synced, else what checking the
 * files finds.  Files that cannot be checked stay on disk, for the next
 * open to judge, and the index forgets the replica. */
static int writer_keep(block_writer *w, int synced, uint64_t *length) {
    block_store *store = w->store;
    uint64_t valid = w->length;
    int rc =
        synced ? EMBER_OK : bs_rbw_scan(&store->dirs[w->dir], w->block_id, w->gen_stamp, &valid);
    if (rc == EMBER_OK) {
        replica *r = bs_index_find(store, w->block_id);
        assert(r != NULL && r->state == REPLICA_WRITING);
        r->state = REPLICA_RBW;
        r->length = valid;
        bs_replica_check(store, r);
    }
    if (length != NULL)
        *length = rc == EMBER_OK ? valid : 0;
    writer_free(w);
    return rc;
}

int block_writer_detach(block_writer *w, uint64_t *length) {
    if (w == NULL)
        return EMBER_EINVAL;
    int synced = writer_sync(w) == EMBER_OK;
    return writer_keep(w, synced, length);
}

/* ---- sync and finalize as jobs (block_store.h, "Jobs") ---- */

typedef enum {
    WRITER_JOB_SYNC,     /* hsync: fsync of the open writer's files */
    WRITER_JOB_FINALIZE, /* fsync (sync on close), close, move to finalized/ */
} writer_job_kind;

struct block_writer_job {
    writer_job_kind kind;
    block_store *store;
    uint32_t dir;
    int data_fd, meta_fd; /* SYNC: the files' descriptors ... */
    int own_fds;          /* ... duplicates the job closes, or the writer's own */
    block_writer *w;      /* FINALIZE: the writer, the job's until finished */
    int sync;             /* FINALIZE: fsync the files before closing them */
    int was_failed;       /* FINALIZE: the writer was FAILED when the job began */
    int ran;              /* block_writer_job_run() was called */
    int rc;               /* SYNC: the fsyncs; FINALIZE: closing the files */
    int err;              /* ... the errno of its failure */
    int move_rc;          /* FINALIZE: the move into finalized/ */
    int dir_err;          /* ... the errno that may say the directory is broken */
};

/* A sync job of w's files: duplicates of its descriptors (dup_fds; the
 * job then outlives w) or its own.  EMBER_ENOMEM when a duplicate cannot
 * be made. */
static int writer_job_prepare_sync(block_writer *w, int dup_fds, block_writer_job *job) {
    *job = (block_writer_job){.kind = WRITER_JOB_SYNC, .store = w->store, .dir = w->dir};
    job->data_fd = dup_fds ? dup(w->data_fd) : w->data_fd;
    job->meta_fd = dup_fds ? dup(w->meta_fd) : w->meta_fd;
    job->own_fds = dup_fds;
    if (job->data_fd < 0 || job->meta_fd < 0) {
        if (job->data_fd >= 0)
            close(job->data_fd);
        if (job->meta_fd >= 0)
            close(job->meta_fd);
        return EMBER_ENOMEM;
    }
    return EMBER_OK;
}

/* A finalize job of w (the job's from now on); sync forces the fsync that
 * sync on close would do. */
static void writer_job_prepare_finalize(block_writer *w, int sync, block_writer_job *job) {
    *job = (block_writer_job){.kind = WRITER_JOB_FINALIZE, .store = w->store, .dir = w->dir};
    job->w = w;
    job->was_failed = w->state == WRITER_FAILED;
    job->sync = !job->was_failed && (sync || w->store->sync_on_close);
}

void block_writer_job_run(block_writer_job *job) {
    job->ran = 1;
    if (job->kind == WRITER_JOB_SYNC) {
        if (fsync(job->data_fd) != 0 || fsync(job->meta_fd) != 0) {
            job->rc = EMBER_EIO;
            job->err = errno;
        }
        if (job->own_fds) {
            close(job->data_fd);
            close(job->meta_fd);
            job->data_fd = job->meta_fd = -1;
        }
        return;
    }
    block_writer *w = job->w;
    const data_dir *dd = &job->store->dirs[job->dir];
    job->rc = writer_close_files(w, job->sync, &job->err);
    job->move_rc = EMBER_EIO;
    if (job->rc == EMBER_OK && !job->was_failed)
        job->move_rc = bs_replica_move_files(w->block_id, dd->rbw, w->gen_stamp, dd->finalized,
                                             w->gen_stamp, NULL, &job->dir_err);
}

/* Applies a job that ran, on the loop's thread (block_writer_job_finish()
 * without the free). */
static int writer_job_apply(block_writer_job *job, block_writer *w, uint64_t *length) {
    block_store *store = job->store;
    assert(job->ran);
    if (job->kind == WRITER_JOB_SYNC) {
        if (job->rc != EMBER_OK && w != NULL && w->state == WRITER_WRITING)
            bs_writer_fail(w, job->err);
        else if (job->rc != EMBER_OK && bs_dir_errno_is_failure(job->err))
            bs_dir_fail(store, job->dir);
        return job->rc;
    }
    w = job->w;
    if (length != NULL)
        *length = w->length;
    int rc = writer_closed(w, job->rc, job->err);
    if (rc == EMBER_OK) {
        rc = job->move_rc;
        if (bs_dir_errno_is_failure(job->dir_err))
            bs_dir_fail(store, w->dir);
    }
    if (rc != EMBER_OK) {
        /* Packets of it may have been acknowledged: it stays, as RBW. */
        (void)writer_keep(w, w->state == WRITER_WRITING, NULL);
        return rc;
    }
    replica *r = bs_index_find(store, w->block_id);
    assert(r != NULL && r->state == REPLICA_WRITING);
    r->state = REPLICA_FINALIZED;
    r->length = w->length;
    store->used_bytes += w->length + meta_size(w->length);
    bs_replica_check(store, r);
    writer_free(w);
    return EMBER_OK;
}

int block_writer_sync_begin(block_writer *w, block_writer_job **out) {
    if (w == NULL)
        return EMBER_EINVAL;
    if (w->state == WRITER_FAILED)
        return EMBER_EIO;
    block_writer_job *job = malloc(sizeof(*job));
    if (job == NULL)
        return EMBER_ENOMEM;
    int rc = writer_job_prepare_sync(w, 1, job);
    if (rc != EMBER_OK) {
        free(job);
        return rc;
    }
    *out = job;
    return EMBER_OK;
}

int block_writer_finalize_begin(block_writer *w, int sync, block_writer_job **out) {
    if (w == NULL)
        return EMBER_EINVAL;
    block_writer_job *job = malloc(sizeof(*job));
    if (job == NULL)
        return EMBER_ENOMEM;
    writer_job_prepare_finalize(w, sync, job);
    *out = job;
    return EMBER_OK;
}

int block_writer_job_finish(block_writer_job *job, block_writer *w, uint64_t *length) {
    int rc = writer_job_apply(job, w, length);
    free(job);
    return rc;
}

/* The same steps on this thread, with the job on the stack. */
int block_writer_sync(block_writer *w) {
    if (w == NULL)
        return EMBER_EINVAL;
    if (w->state == WRITER_FAILED)
        return EMBER_EIO;
    block_writer_job job;
    (void)writer_job_prepare_sync(w, 0, &job); /* no duplicates: cannot fail */
    block_writer_job_run(&job);
    return writer_job_apply(&job, w, NULL);
}

int block_writer_finalize(block_writer *w, uint64_t *length) {
    if (w == NULL)
        return EMBER_EINVAL;
    block_writer_job job;
    writer_job_prepare_finalize(w, 0, &job);
    block_writer_job_run(&job);
    return writer_job_apply(&job, NULL, length);
}

void block_writer_abort(block_writer *w) {
    if (w == NULL)
        return;
    if (w->reopened) { /* a finalized replica's bytes are not useless */
        (void)block_writer_detach(w, NULL);
        return;
    }
    const data_dir *dd = &w->store->dirs[w->dir];
    char path[BLOCK_STORE_PATH_MAX];
    if (bs_replica_path(path, sizeof path, dd->rbw, w->block_id, 0, 0) == EMBER_OK)
        unlink(path);
    if (bs_replica_path(path, sizeof path, dd->rbw, w->block_id, w->gen_stamp, 1) == EMBER_OK)
        unlink(path);
    writer_free(w);
}

/* Checks the meta header of w's finalized replica (gen stamp gs) and, when
 * its last chunk is partial, that chunk against its CRC, which becomes
 * w->partial_crc.  w->data_fd is open on the data file. */
static int writer_load_partial(block_writer *w, const data_dir *dd, uint64_t gs) {
    char path[BLOCK_STORE_PATH_MAX];
    (void)bs_replica_path(path, sizeof path, dd->finalized, w->block_id, gs, 1);
    int meta_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (meta_fd < 0)
        return EMBER_EIO;
    unsigned char h[META_HEADER_LEN], chunk[BLOCK_CHUNK_SIZE], be[4];
    uint64_t k = w->length / BLOCK_CHUNK_SIZE;
    int rc = bs_pread_exact(meta_fd, h, sizeof h, 0);
    if (rc == EMBER_OK && !bs_meta_header_ok(h))
        rc = EMBER_ECORRUPT;
    if (rc == EMBER_OK && w->partial_len > 0)
        rc = bs_pread_exact(meta_fd, be, 4, META_HEADER_LEN + 4 * k);
    if (rc == EMBER_OK && w->partial_len > 0)
        rc = bs_pread_exact(w->data_fd, chunk, w->partial_len, k * BLOCK_CHUNK_SIZE);
    close(meta_fd);
    if (rc != EMBER_OK || w->partial_len == 0)
        return rc;
    uint32_t crc = crc32c(0, chunk, w->partial_len);
    if (crc != get_be32(be))
        return EMBER_ECORRUPT;
    w->partial_crc = crc;
    return EMBER_OK;
}

int block_writer_reopen(block_store *store, uint64_t block_id, uint64_t old_gs, uint64_t new_gs,
                        block_writer **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state != REPLICA_FINALIZED || r->gen_stamp != old_gs)
        return EMBER_ENOENT;
    if (new_gs <= old_gs)
        return EMBER_EINVAL;
    const data_dir *dd = &store->dirs[r->dir];
    if (dd->failed)
        return EMBER_EIO;
    block_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EMBER_ENOMEM;
    w->store = store;
    w->block_id = block_id;
    w->gen_stamp = new_gs;
    w->dir = r->dir;
    w->meta_fd = -1;
    w->length = r->length;
    w->partial_len = (size_t)(r->length % BLOCK_CHUNK_SIZE);
    w->reopened = 1;
    /* The data file is opened under its finalized name: the move links
     * the same file into rbw/. */
    char path[BLOCK_STORE_PATH_MAX];
    (void)bs_replica_path(path, sizeof path, dd->finalized, block_id, 0, 0);
    w->data_fd = open(path, O_RDWR | O_CLOEXEC);
    int rc = w->data_fd < 0 ? EMBER_EIO : writer_load_partial(w, dd, old_gs);
    if (rc == EMBER_OK)
        rc = bs_replica_move(store, w->dir, block_id, dd->finalized, old_gs, dd->rbw, new_gs,
                             &w->meta_fd);
    if (rc != EMBER_OK) {
        if (w->data_fd >= 0)
            close(w->data_fd);
        free(w);
        return rc;
    }
    /* r still points at the entry: nothing was inserted or removed. */
    store->used_bytes -= r->length + meta_size(r->length);
    r->state = REPLICA_WRITING;
    r->mismatch_reported = 0;
    r->gen_stamp = new_gs;
    r->length = 0;
    bs_replica_check(store, r);
    w->state = WRITER_WRITING;
    bs_writer_check(w);
    *out = w;
    return EMBER_OK;
}
