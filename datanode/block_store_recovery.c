/* block_store_recovery.c -- the block store's side of lease recovery and
 * pipeline recovery: an RBW or FINALIZED replica brought to a new gen
 * stamp and a length agreed elsewhere.
 *
 * Lease (block) recovery, block_store_recover() (HDFS's
 * updateReplicaUnderRecovery): RBW -> FINALIZED cut to the length, or
 * FINALIZED -> FINALIZED of exactly that length, under the recovery id.
 * Pipeline recovery, block_writer_reopen_at() (HDFS's recoverRbw): RBW or
 * FINALIZED -> WRITING under the new gen stamp, cut to the acknowledged
 * length.  Both cut with rbw_cut(): the chunk holding the new end is
 * verified against its stored CRC first and, left partial, gets its CRC
 * recomputed from the data; bytes past the cut (unacknowledged, or a torn
 * tail) are dropped.  A cut is made and fsynced before the files are
 * renamed or moved, so a crash in between leaves a shorter valid length
 * under the old gen stamp at worst, and the recovery is retried.  A gen
 * stamp never goes down: block_store.h's invariant 5. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/checksum.h"
#include "common/error.h"

/* Cuts an RBW replica's open files from valid bytes to length <= valid:
 * the chunk that holds the new end is checked against its stored CRC
 * first, and when the cut leaves it partial its CRC is recomputed from
 * the data; then both files are truncated. */
static int rbw_cut(int data_fd, int meta_fd, uint64_t valid, uint64_t length) {
    if (length > 0) {
        uint64_t k = (length - 1) / BLOCK_CHUNK_SIZE, start = k * BLOCK_CHUNK_SIZE;
        uint64_t old_end = start + BLOCK_CHUNK_SIZE < valid ? start + BLOCK_CHUNK_SIZE : valid;
        unsigned char chunk[BLOCK_CHUNK_SIZE], be[4];
        size_t n = (size_t)(old_end - start), keep = (size_t)(length - start);
        int rc = bs_pread_exact(data_fd, chunk, n, start);
        if (rc == EMBER_OK)
            rc = bs_pread_exact(meta_fd, be, 4, META_HEADER_LEN + 4 * k);
        if (rc != EMBER_OK)
            return rc;
        if (crc32c(0, chunk, n) != get_be32(be))
            return EMBER_ECORRUPT;
        if (keep < n) {
            put_be32(be, crc32c(0, chunk, keep));
            if (bs_pwrite_all(meta_fd, be, 4, META_HEADER_LEN + 4 * k) != EMBER_OK)
                return EMBER_EIO;
        }
    }
    if (ftruncate(data_fd, (off_t)length) != 0 || ftruncate(meta_fd, (off_t)meta_size(length)) != 0)
        return EMBER_EIO;
    return EMBER_OK;
}

/* Cuts replica r's files in directory sub (its rbw/ or finalized/) from
 * r->length to length and fsyncs them (rbw_cut()); a file system error
 * fails the data directory.  0, or the error. */
static int replica_cut(block_store *store, const replica *r, const char *sub, uint64_t length) {
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    (void)bs_replica_path(data_path, sizeof data_path, sub, r->block_id, 0, 0);
    (void)bs_replica_path(meta_path, sizeof meta_path, sub, r->block_id, r->gen_stamp, 1);
    int data_fd = open(data_path, O_RDWR | O_CLOEXEC);
    int meta_fd = data_fd >= 0 ? open(meta_path, O_RDWR | O_CLOEXEC) : -1;
    int rc = meta_fd < 0 ? EMBER_EIO : rbw_cut(data_fd, meta_fd, r->length, length);
    if (rc == EMBER_OK && (fsync(data_fd) != 0 || fsync(meta_fd) != 0))
        rc = EMBER_EIO;
    int saved = errno;
    if (data_fd >= 0 && close(data_fd) != 0 && rc == EMBER_OK) {
        rc = EMBER_EIO;
        saved = errno;
    }
    if (meta_fd >= 0 && close(meta_fd) != 0 && rc == EMBER_OK) {
        rc = EMBER_EIO;
        saved = errno;
    }
    if (rc == EMBER_EIO && bs_dir_errno_is_failure(saved))
        bs_dir_fail(store, r->dir);
    return rc;
}

/* RBW -> FINALIZED at length under recovery_id (block_store_recover()).
 * On a failure the replica stays RBW, its valid length checked again
 * (the files may have been cut already). */
static int recover_rbw(block_store *store, replica *r, uint64_t recovery_id, uint64_t length) {
    if (length > r->length)
        return EMBER_EINVAL;
    const data_dir *dd = &store->dirs[r->dir];
    int rc = replica_cut(store, r, dd->rbw, length);
    if (rc == EMBER_OK)
        rc = bs_replica_move(store, r->dir, r->block_id, dd->rbw, r->gen_stamp, dd->finalized,
                             recovery_id, NULL);
    if (rc != EMBER_OK) {
        uint64_t valid;
        if (bs_rbw_scan(dd, r->block_id, r->gen_stamp, &valid) == EMBER_OK)
            r->length = valid;
        return rc;
    }
    r->state = REPLICA_FINALIZED;
    r->gen_stamp = recovery_id;
    r->length = length;
    store->used_bytes += length + meta_size(length);
    bs_replica_check(store, r);
    return EMBER_OK;
}

/* A FINALIZED replica of exactly length bytes takes gen stamp
 * recovery_id: its meta is renamed (one atomic step) and finalized/
 * fsynced. */
static int recover_finalized(block_store *store, replica *r, uint64_t recovery_id,
                             uint64_t length) {
    if (r->length != length)
        return EMBER_EINVAL;
    const data_dir *dd = &store->dirs[r->dir];
    char from[BLOCK_STORE_PATH_MAX], to[BLOCK_STORE_PATH_MAX];
    (void)bs_replica_path(from, sizeof from, dd->finalized, r->block_id, r->gen_stamp, 1);
    if (bs_replica_path(to, sizeof to, dd->finalized, r->block_id, recovery_id, 1) != EMBER_OK)
        return EMBER_EIO;
    if (rename(from, to) != 0) {
        if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, r->dir);
        return EMBER_EIO;
    }
    r->gen_stamp = recovery_id; /* the name is the new one, synced or not */
    bs_replica_check(store, r);
    if (bs_fsync_dir(dd->finalized) != EMBER_OK) {
        if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, r->dir);
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* A FINALIZED replica longer than length cut to it in place (truncate's
 * block recovery), its gen stamp left for recover_finalized().  The cut
 * is fsynced first: a crash before the rename leaves the replica at the
 * new length under the old gen stamp, which the retried recovery takes
 * as it is. */
static int cut_finalized(block_store *store, replica *r, uint64_t length) {
    int rc = replica_cut(store, r, store->dirs[r->dir].finalized, length);
    if (rc != EMBER_OK)
        return rc;
    store->used_bytes -= (r->length + meta_size(r->length)) - (length + meta_size(length));
    r->length = length;
    bs_replica_check(store, r);
    return EMBER_OK;
}

int block_store_recover_truncate(block_store *store, uint64_t block_id, uint64_t recovery_id,
                                 uint64_t length) {
    if (store == NULL)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r != NULL && r->state == REPLICA_FINALIZED && r->gen_stamp < recovery_id &&
        r->length > length) {
        int rc = cut_finalized(store, r, length);
        if (rc != EMBER_OK)
            return rc;
    }
    return block_store_recover(store, block_id, recovery_id, length);
}

int block_store_recover(block_store *store, uint64_t block_id, uint64_t recovery_id,
                        uint64_t length) {
    if (store == NULL)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state == REPLICA_WRITING)
        return EMBER_ENOENT;
    if (r->state == REPLICA_FINALIZED && r->gen_stamp == recovery_id)
        return r->length == length ? EMBER_OK : EMBER_EINVAL; /* done before */
    if (r->gen_stamp > recovery_id)
        return EMBER_ESTATE;
    if (r->state == REPLICA_FINALIZED)
        return recover_finalized(store, r, recovery_id, length);
    return recover_rbw(store, r, recovery_id, length);
}

/* ---- pipeline recovery ---- */

/* Sets w->partial_crc from the data of w's partial last chunk (after a
 * cut that verified that chunk). */
static int writer_read_partial(block_writer *w) {
    w->partial_len = (size_t)(w->length % BLOCK_CHUNK_SIZE);
    w->partial_crc = 0;
    if (w->partial_len == 0)
        return EMBER_OK;
    unsigned char chunk[BLOCK_CHUNK_SIZE];
    int rc = bs_pread_exact(w->data_fd, chunk, w->partial_len, w->length - w->partial_len);
    if (rc == EMBER_OK)
        w->partial_crc = crc32c(0, chunk, w->partial_len);
    return rc;
}

/* RBW -> WRITING under new_gs at length (<= its valid length): the files
 * are cut first (rbw_cut(): the chunk holding the new end verified, a new
 * partial chunk's CRC recomputed, a torn tail dropped) and fsynced, then
 * the meta is renamed to the new gen stamp and rbw/ fsynced.  A failure
 * before the rename leaves the replica RBW under its old stamp, its valid
 * length checked again; one after it, RBW under the new stamp. */
static int reopen_rbw(block_store *store, replica *r, uint64_t new_gs, uint64_t length,
                      block_writer **out) {
    const data_dir *dd = &store->dirs[r->dir];
    char data_path[BLOCK_STORE_PATH_MAX], old_meta[BLOCK_STORE_PATH_MAX];
    char new_meta[BLOCK_STORE_PATH_MAX];
    (void)bs_replica_path(data_path, sizeof data_path, dd->rbw, r->block_id, 0, 0);
    (void)bs_replica_path(old_meta, sizeof old_meta, dd->rbw, r->block_id, r->gen_stamp, 1);
    if (bs_replica_path(new_meta, sizeof new_meta, dd->rbw, r->block_id, new_gs, 1) != EMBER_OK)
        return EMBER_EIO;
    block_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EMBER_ENOMEM;
    w->store = store;
    w->block_id = r->block_id;
    w->gen_stamp = new_gs;
    w->dir = r->dir;
    w->length = length;
    w->reopened = 1; /* acknowledged bytes: an abort keeps them */
    w->data_fd = open(data_path, O_RDWR | O_CLOEXEC);
    w->meta_fd = w->data_fd >= 0 ? open(old_meta, O_RDWR | O_CLOEXEC) : -1;
    int rc = w->meta_fd < 0 ? EMBER_EIO : rbw_cut(w->data_fd, w->meta_fd, r->length, length);
    if (rc == EMBER_OK && (fsync(w->data_fd) != 0 || fsync(w->meta_fd) != 0))
        rc = EMBER_EIO;
    if (rc == EMBER_OK)
        rc = writer_read_partial(w);
    int renamed = 0;
    if (rc == EMBER_OK) {
        renamed = rename(old_meta, new_meta) == 0;
        if (!renamed || bs_fsync_dir(dd->rbw) != EMBER_OK)
            rc = EMBER_EIO;
    }
    if (rc != EMBER_OK) {
        int saved = errno;
        if (w->data_fd >= 0)
            close(w->data_fd);
        if (w->meta_fd >= 0)
            close(w->meta_fd);
        free(w);
        if (rc == EMBER_EIO && bs_dir_errno_is_failure(saved))
            bs_dir_fail(store, r->dir);
        if (renamed)
            r->gen_stamp = new_gs; /* the name is the new one, synced or not */
        uint64_t valid;
        if (bs_rbw_scan(dd, r->block_id, r->gen_stamp, &valid) == EMBER_OK)
            r->length = valid;
        return rc;
    }
    r->state = REPLICA_WRITING;
    r->gen_stamp = new_gs;
    r->length = 0;
    bs_replica_check(store, r);
    w->state = WRITER_WRITING;
    bs_writer_check(w);
    *out = w;
    return EMBER_OK;
}

int block_writer_reopen_at(block_store *store, uint64_t block_id, uint64_t min_gs, uint64_t new_gs,
                           uint64_t length, block_writer **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    if (new_gs <= min_gs)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state == REPLICA_WRITING || r->gen_stamp < min_gs || r->gen_stamp >= new_gs)
        return EMBER_ENOENT;
    if (r->length < length)
        return EMBER_ESTATE;
    if (store->dirs[r->dir].failed)
        return EMBER_EIO;
    if (r->state == REPLICA_RBW)
        return reopen_rbw(store, r, new_gs, length, out);
    /* FINALIZED: back to rbw/ under new_gs as for an append, then cut. */
    block_writer *w;
    int rc = block_writer_reopen(store, block_id, r->gen_stamp, new_gs, &w);
    if (rc != EMBER_OK)
        return rc;
    if (length < w->length) {
        rc = rbw_cut(w->data_fd, w->meta_fd, w->length, length);
        if (rc == EMBER_OK) {
            w->length = length;
            rc = writer_read_partial(w);
        }
        if (rc != EMBER_OK) {
            bs_writer_fail(w, rc == EMBER_EIO ? errno : 0);
            (void)block_writer_detach(w, NULL); /* RBW under new_gs, as the files say */
            return rc;
        }
    }
    bs_writer_check(w);
    *out = w;
    return EMBER_OK;
}
