/* block_store.c -- a datanode's replicas on disk (see block_store.h):
 * the store itself -- its data directories, the index, open and close,
 * space, delete, the lists -- and block_store_check().  Writers, readers,
 * recovery, the replica files and the directory scan have files of their
 * own (block_store_internal.h lists them).
 *
 * Owns, in every configured data directory, current/, current/rbw/ and
 * current/finalized/; the replica files in those two are named and moved
 * by block_store_files.c.
 *
 * The index.  An open-addressing hash map (linear probing, backward-shift
 * deletion) from block id to a replica record: its state, directory, gen
 * stamp and length, and whether a directory scan listed its files as
 * mismatched (cleared when it is reopened for writing, or by a scan that
 * finds its files whole again).  A record's state is block_store.h's
 * (REPLICA_WRITING, REPLICA_RBW, REPLICA_FINALIZED; an empty slot is
 * REPLICA_NONE), changed only by the functions of block_store.h's table
 * of transitions, each of which asserts the record's invariants after
 * the change (bs_replica_check()); block_store_check() asserts them all
 * over the whole index, and that used_bytes is the sum over the
 * FINALIZED replicas of length + meta_size(length).
 *
 * What open indexes.  First, in every directory, finalized/: a block is
 * indexed when it has a data file and a meta file whose size is
 * 16 + 4 * ceil(length / 512); when several metas of one id are there,
 * the one of highest gen stamp with that size.  Anything else -- a data
 * file alone, a meta alone or of the wrong size, an unparsable name -- is
 * left on disk, not indexed, and counted in block_store.skipped (nothing
 * reports it yet; a datanode log line is the intended consumer).  The
 * same id finalized in two directories: the higher gen stamp wins, then
 * the longer replica; the other is skipped the same way.  Meta headers of
 * finalized replicas are checked by readers, not at open, so this costs
 * a directory listing and a stat per file.  Then every directory's rbw/:
 * a block with a data file and a meta (the highest gen stamp; other metas
 * removed) whose header is good is indexed as RBW with its valid length,
 * which costs reading its last verifying chunk and CRC -- unless the block
 * is finalized somewhere, when its rbw files are removed, as are a data
 * file or meta alone and a bad header.  The same id in rbw/ of two
 * directories: the higher gen stamp wins, then the longer; the other is
 * skipped.
 *
 * Failed directories.  A directory is failed when its layout cannot be
 * made or listed at open, or when its rbw leftovers cannot be removed, or
 * when creating, writing, fsyncing or renaming a replica in it fails with
 * an errno that says the disk is gone or read-only
 * (bs_dir_errno_is_failure()).  A full disk (ENOSPC, EDQUOT, EFBIG) is
 * not a failed one: block_writer_create() tries the next directory but does not
 * mark it, and skips a directory with nothing available past the reserve
 * (block_store_set_reserved(), HDFS's dfs.datanode.du.reserved); with no
 * directory left it fails with EMBER_ENOSPC, so the client's pipeline
 * goes on without this node.  A failed directory takes no new replicas
 * nor appends; its replicas stay indexed and readable (each read
 * verifies its checksums anyway).
 *
 * The directory scan (block_store_scan() in block_store_scan.c, HDFS's
 * DirectoryScanner).  It lists every directory's finalized/ and rbw/
 * (sorted, as open does), then judges every FINALIZED and RBW replica of the index against its own
 * directory's listing: its data file or its meta at its gen stamp gone ->
 * missing (dropped); a FINALIZED one whose data file is not its length or
 * whose meta is not meta_size() of it -> mismatched (corrupt: the index
 * takes the data file's length, so that reads fail on the checksums and a
 * delete removes the right files, and the record's mismatch_reported is
 * set so that it is listed only once, until its files fit each other
 * again); an RBW one whose files are shorter than its valid length ->
 * mismatched, its valid length found again as at open (a bad meta header:
 * missing).  Then, in healthy directories, the finalized replicas open
 * would index (same rules, highest gen stamp, then longest, then the
 * earlier directory) whose id the index lacks or is dropping -> added.
 * Replicas being written, and rbw files the index does not know, are left
 * alone.  Every allocation comes before the first change that would have
 * to be reported (the index is grown for the added ones first), so a scan
 * that runs out of memory changes nothing that the caller is not told
 * about.  A sub-directory that cannot be listed with an errno that says
 * it is broken counts as empty (its directory fails); otherwise it is left
 * alone for this scan.  Cost: a listing and a stat per file, plus the last
 * chunk of an rbw replica found shorter.
 *
 * Ownership: the store owns its writers' index entries, so every writer
 * must be finalized, detached or aborted before block_store_close().
 * Readers hold their own descriptors and a copy of the replica's info:
 * they may outlive a delete, a reopen or a recovery of the replica and
 * the store itself. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/error.h"

#define INDEX_MIN_CAP 64 /* a power of two */

void block_store_set_sync_on_close(block_store *store, int on) { store->sync_on_close = on; }

void block_store_set_reserved(block_store *store, uint64_t bytes) { store->reserved = bytes; }

/* Makes dir (mode 0700) when missing and fsyncs parent, so that the
 * directory survives a crash along with what is later put in it. */
static int ensure_dir(const char *dir, const char *parent, char *err, size_t errlen) {
    struct stat st;
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST) {
            bs_reason(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            return EMBER_EIO;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            bs_reason(err, errlen, "%s is not a directory", dir);
            return EMBER_EIO;
        }
        return EMBER_OK;
    }
    if (bs_fsync_dir(parent) != EMBER_OK) {
        bs_reason(err, errlen, "cannot fsync %s: %s", parent, strerror(errno));
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* The parent directory of path into out ("." for a bare name). */
static void parent_of(const char *path, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", path);
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        snprintf(out, outlen, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* 1 when a file operation in a data directory failing with err means the
 * directory is broken (gone, unmounted, read-only, unreadable); 0 for a
 * full disk and for errors that say nothing about the directory. */
int bs_dir_errno_is_failure(int err) {
    switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
    case EIO:
    case ENOENT:
    case ENOTDIR: return 1;
    default: return 0;
    }
}

/* 1 when err says the file system is full (the directory is not broken). */

void bs_dir_fail(block_store *store, uint32_t d) {
    if (!store->dirs[d].failed) {
        store->dirs[d].failed = 1;
        store->nfailed++;
    }
}

/* ---- the index ---- */

static uint64_t index_hash(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

replica *bs_index_find(const block_store *store, uint64_t block_id) {
    size_t mask = store->index_cap - 1;
    for (size_t i = (size_t)index_hash(block_id) & mask;; i = (i + 1) & mask) {
        replica *r = &store->index[i];
        if (r->state == REPLICA_NONE)
            return NULL;
        if (r->block_id == block_id)
            return r;
    }
}

/* Places r in a table known to lack r->block_id and to have room. */
static void index_place(replica *table, size_t cap, const replica *r) {
    size_t mask = cap - 1;
    size_t i = (size_t)index_hash(r->block_id) & mask;
    while (table[i].state != REPLICA_NONE)
        i = (i + 1) & mask;
    table[i] = *r;
}

/* Grows the table (doubling) until want entries keep it at most 70%
 * full, so that that many fit without growing again. */
int bs_index_reserve(block_store *store, size_t want) {
    size_t cap = store->index_cap;
    while (want * 10 > cap * 7)
        cap *= 2;
    if (cap == store->index_cap)
        return EMBER_OK;
    replica *table = calloc(cap, sizeof *table);
    if (table == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < store->index_cap; i++)
        if (store->index[i].state != REPLICA_NONE)
            index_place(table, cap, &store->index[i]);
    free(store->index);
    store->index = table;
    store->index_cap = cap;
    return EMBER_OK;
}

/* Adds r, whose id is not in the index, growing the table past 70% load. */
int bs_index_insert(block_store *store, const replica *r) {
    int rc = bs_index_reserve(store, store->index_count + 1);
    if (rc != EMBER_OK)
        return rc;
    index_place(store->index, store->index_cap, r);
    store->index_count++;
    return EMBER_OK;
}

/* Empties slot, shifting back the entries of its probe run that would
 * otherwise no longer be found. */
void bs_index_remove(block_store *store, replica *slot) {
    size_t mask = store->index_cap - 1;
    size_t i = (size_t)(slot - store->index);
    store->index_count--;
    for (;;) {
        store->index[i].state = REPLICA_NONE;
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (store->index[j].state == REPLICA_NONE)
                return;
            size_t home = (size_t)index_hash(store->index[j].block_id) & mask;
            /* The entry at j stays when its home lies cyclically in (i, j]. */
            int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                store->index[i] = store->index[j];
                i = j;
                break;
            }
        }
    }
}

/* ---- opening: layout, indexing finalized/ then rbw/ ---- */

/* Makes dir, dir/current, rbw and finalized. */
static int dir_layout(data_dir *dd, char *err, size_t errlen) {
    char current[BLOCK_STORE_PATH_MAX], parent[BLOCK_STORE_PATH_MAX];
    snprintf(current, sizeof current, "%s/current", dd->path);
    parent_of(dd->path, parent, sizeof parent);
    int rc = ensure_dir(dd->path, parent, err, errlen);
    if (rc == EMBER_OK)
        rc = ensure_dir(current, dd->path, err, errlen);
    if (rc == EMBER_OK)
        rc = ensure_dir(dd->rbw, current, err, errlen);
    if (rc == EMBER_OK)
        rc = ensure_dir(dd->finalized, current, err, errlen);
    return rc;
}

/* Indexes the finalized replicas of directory d (see the file comment). */
static int dir_index_finalized(block_store *store, uint32_t d, char *err, size_t errlen) {
    found_file *files;
    size_t n;
    int rc = bs_dir_list(store->dirs[d].finalized, &files, &n, &store->skipped, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (n > 1)
        qsort(files, n, sizeof *files, bs_cmp_found);
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        while (end < n && files[end].id == files[i].id)
            end++;
        /* files[i .. end) share an id: the data file (if any) first. */
        const found_file *data = files[i].is_meta ? NULL : &files[i];
        const found_file *meta = NULL;
        for (size_t k = data ? i + 1 : i; k < end && data != NULL; k++)
            if (files[k].size == meta_size(data->size)) {
                meta = &files[k];
                break;
            }
        store->skipped += (uint64_t)(end - i) - (meta != NULL ? 2 : 0);
        if (meta != NULL) {
            replica r = {.block_id = data->id,
                         .gen_stamp = meta->gs,
                         .length = data->size,
                         .dir = d,
                         .state = REPLICA_FINALIZED};
            replica *old = bs_index_find(store, r.block_id);
            if (old == NULL) {
                rc = bs_index_insert(store, &r);
                if (rc != EMBER_OK) {
                    bs_reason(err, errlen, "out of memory indexing %s", store->dirs[d].finalized);
                    break;
                }
                store->used_bytes += r.length + meta_size(r.length);
            } else {
                /* The same block in an earlier directory: keep the newer. */
                store->skipped += 2;
                if (r.gen_stamp > old->gen_stamp ||
                    (r.gen_stamp == old->gen_stamp && r.length > old->length)) {
                    store->used_bytes -= old->length + meta_size(old->length);
                    store->used_bytes += r.length + meta_size(r.length);
                    *old = r;
                }
            }
        }
        i = end;
    }
    free(files);
    return rc;
}

/* Indexes block id of d's rbw/ as RBW (gen stamp gs, valid length
 * valid); the same id in rbw/ of an earlier directory: the higher gen
 * stamp wins, then the longer, the other is skipped (left on disk). */
static int rbw_index(block_store *store, uint32_t d, uint64_t id, uint64_t gs, uint64_t valid,
                     char *err, size_t errlen) {
    replica r = {.block_id = id, .gen_stamp = gs, .length = valid, .dir = d, .state = REPLICA_RBW};
    replica *old = bs_index_find(store, id);
    if (old == NULL) {
        if (bs_index_insert(store, &r) == EMBER_OK)
            return EMBER_OK;
        bs_reason(err, errlen, "out of memory indexing %s", store->dirs[d].rbw);
        return EMBER_ENOMEM;
    }
    assert(old->state == REPLICA_RBW);
    store->skipped += 2;
    if (gs > old->gen_stamp || (gs == old->gen_stamp && valid > old->length))
        *old = r;
    return EMBER_OK;
}

/* Indexes the replicas in d's rbw/ as RBW with their valid lengths, and
 * removes the rbw files that cannot be one: a data file or metas alone,
 * metas other than the highest gen stamp's, a bad meta header, a block
 * finalized in some directory (see the file comment).  Files that cannot
 * be read are skipped.  Runs once every directory's finalized/ is
 * indexed. */
static int dir_index_rbw(block_store *store, uint32_t d, char *err, size_t errlen) {
    const data_dir *dd = &store->dirs[d];
    found_file *files;
    size_t n;
    int rc = bs_dir_list(dd->rbw, &files, &n, &store->skipped, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (n > 1)
        qsort(files, n, sizeof *files, bs_cmp_found);
    size_t removed = 0;
    for (size_t i = 0; i < n && rc == EMBER_OK;) {
        size_t end = i + 1;
        while (end < n && files[end].id == files[i].id)
            end++;
        /* files[i .. end) share an id: the data file (if any), then the
         * metas, highest gen stamp first. */
        uint64_t id = files[i].id;
        const found_file *data = files[i].is_meta ? NULL : &files[i];
        const found_file *meta = data != NULL && i + 1 < end ? &files[i + 1] : NULL;
        const replica *known = bs_index_find(store, id);
        uint64_t valid = 0;
        int keep = 0;
        if (meta != NULL && (known == NULL || known->state == REPLICA_RBW)) {
            int scan = bs_rbw_scan(dd, id, meta->gs, &valid);
            if (scan == EMBER_EIO) {
                store->skipped += (uint64_t)(end - i);
                i = end;
                continue;
            }
            keep = scan == EMBER_OK;
        }
        for (size_t k = i; k < end && rc == EMBER_OK; k++) {
            if (keep && (&files[k] == data || &files[k] == meta))
                continue;
            char path[BLOCK_STORE_PATH_MAX];
            (void)bs_replica_path(path, sizeof path, dd->rbw, id, files[k].gs, files[k].is_meta);
            if (unlink(path) == 0) {
                removed++;
            } else if (errno != ENOENT) {
                bs_reason(err, errlen, "cannot remove %s: %s", path, strerror(errno));
                rc = EMBER_EIO;
            }
        }
        if (rc == EMBER_OK && keep)
            rc = rbw_index(store, d, id, meta->gs, valid, err, errlen);
        i = end;
    }
    free(files);
    if (rc == EMBER_OK && removed > 0 && bs_fsync_dir(dd->rbw) != EMBER_OK) {
        bs_reason(err, errlen, "cannot fsync %s: %s", dd->rbw, strerror(errno));
        rc = EMBER_EIO;
    }
    return rc;
}

/* Splits dirs at commas (empty items are skipped, as disk_usage does) into
 * store->dirs with their rbw and finalized paths. */
static int store_parse_dirs(block_store *store, const char *dirs, char *err, size_t errlen) {
    int cap = 1;
    for (const char *p = dirs; *p; p++)
        cap += *p == ',';
    store->dirs = calloc((size_t)cap, sizeof *store->dirs);
    store->order = calloc((size_t)cap, sizeof *store->order);
    store->free_bytes = calloc((size_t)cap, sizeof *store->free_bytes);
    if (store->dirs == NULL || store->order == NULL || store->free_bytes == NULL) {
        bs_reason(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    const char *p = dirs;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (len > BLOCK_STORE_PATH_MAX - 128) {
                bs_reason(err, errlen, "data directory path too long: %.64s...", p);
                return EMBER_EINVAL;
            }
            data_dir *dd = &store->dirs[store->ndirs];
            dd->path = strndup(p, len);
            if (dd->path == NULL) {
                bs_reason(err, errlen, "out of memory");
                return EMBER_ENOMEM;
            }
            store->ndirs++;
            for (int i = 0; i + 1 < store->ndirs; i++)
                if (strcmp(store->dirs[i].path, dd->path) == 0) {
                    bs_reason(err, errlen, "data directory %s listed twice", dd->path);
                    return EMBER_EINVAL;
                }
            if (asprintf(&dd->rbw, "%s/current/rbw", dd->path) < 0) {
                dd->rbw = NULL;
                bs_reason(err, errlen, "out of memory");
                return EMBER_ENOMEM;
            }
            if (asprintf(&dd->finalized, "%s/current/finalized", dd->path) < 0) {
                dd->finalized = NULL;
                bs_reason(err, errlen, "out of memory");
                return EMBER_ENOMEM;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (store->ndirs == 0) {
        bs_reason(err, errlen, "no data directories configured");
        return EMBER_EINVAL;
    }
    return EMBER_OK;
}

/* On success err is empty, or names the first directory that failed. */
int block_store_open(const char *dirs, block_store **out, char *err, size_t errlen) {
    bs_reason(err, errlen, "%s", "");
    if (dirs == NULL || out == NULL) {
        bs_reason(err, errlen, "invalid argument");
        return EMBER_EINVAL;
    }
    *out = NULL;
    block_store *store = calloc(1, sizeof *store);
    if (store == NULL) {
        bs_reason(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    store->index_cap = INDEX_MIN_CAP;
    store->index = calloc(store->index_cap, sizeof *store->index);
    int rc = store->index == NULL ? EMBER_ENOMEM : EMBER_OK;
    if (rc != EMBER_OK)
        bs_reason(err, errlen, "out of memory");
    else
        rc = store_parse_dirs(store, dirs, err, errlen);
    if (rc != EMBER_OK)
        goto fail;

    char why[BLOCK_STORE_PATH_MAX + 128], first_why[BLOCK_STORE_PATH_MAX + 128];
    first_why[0] = '\0';
    /* Two passes: rbw/ once every finalized/ is known, since a block
     * finalized anywhere wins over its rbw files. */
    for (int pass = 0; pass < 2; pass++) {
        for (int d = 0; d < store->ndirs; d++) {
            if (store->dirs[d].failed)
                continue;
            if (pass == 0) {
                rc = dir_layout(&store->dirs[d], why, sizeof why);
                if (rc == EMBER_OK)
                    rc = dir_index_finalized(store, (uint32_t)d, why, sizeof why);
            } else {
                rc = dir_index_rbw(store, (uint32_t)d, why, sizeof why);
            }
            if (rc == EMBER_ENOMEM) {
                bs_reason(err, errlen, "%s", why);
                goto fail;
            }
            if (rc != EMBER_OK) {
                bs_dir_fail(store, (uint32_t)d);
                if (first_why[0] == '\0')
                    snprintf(first_why, sizeof first_why, "%s", why);
            }
        }
    }
    if (store->nfailed == store->ndirs) {
        bs_reason(err, errlen, "no usable data directory (%d configured): %s", store->ndirs,
                  first_why);
        rc = EMBER_EIO;
        goto fail;
    }
    /* (A directory that fails in the first pass does so before anything
     * of it is indexed; one whose rbw/ fails keeps what it had indexed,
     * as a directory that fails later does.) */
    if (store->nfailed > 0)
        bs_reason(err, errlen, "%s", first_why);
    block_store_check(store);
    *out = store;
    return EMBER_OK;
fail:
    block_store_close(store);
    return rc;
}

void block_store_close(block_store *store) {
    if (store == NULL)
        return;
    for (int d = 0; d < store->ndirs; d++) {
        free(store->dirs[d].path);
        free(store->dirs[d].rbw);
        free(store->dirs[d].finalized);
    }
    free(store->dirs);
    free(store->order);
    free(store->free_bytes);
    free(store->index);
    free(store);
}

void block_store_dirs(const block_store *store, int *total, int *failed) {
    if (total != NULL)
        *total = store != NULL ? store->ndirs : 0;
    if (failed != NULL)
        *failed = store != NULL ? store->nfailed : 0;
}

uint64_t block_store_used_bytes(const block_store *store) {
    return store != NULL ? store->used_bytes : 0;
}

void block_store_space(block_store *store, uint64_t full_below, disk_usage *out) {
    memset(out, 0, sizeof(*out));
    if (store == NULL)
        return;
    out->dirs = (uint32_t)store->ndirs;
    out->used_bytes = store->used_bytes;
    /* Each file system counted once: the directories of one share it. */
    unsigned long fsids[64];
    int nfs = 0;
    for (int d = 0; d < store->ndirs; d++) {
        struct statvfs vfs;
        if (store->dirs[d].failed) {
            out->failed_dirs++;
            continue;
        }
        if (statvfs(store->dirs[d].rbw, &vfs) != 0)
            continue;
        uint64_t bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        uint64_t avail = bytes > store->reserved ? bytes - store->reserved : 0;
        if (avail < full_below)
            out->full_dirs++;
        int seen = 0;
        for (int i = 0; i < nfs; i++)
            seen |= fsids[i] == vfs.f_fsid;
        if (seen || nfs == 64)
            continue;
        fsids[nfs++] = vfs.f_fsid;
        out->capacity_bytes += (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;
        out->remaining_bytes += avail;
    }
}

/* ---- whole replicas ---- */

/* Unlinks a finalized or RBW replica's files: a file already gone is
 * fine. */
int block_store_delete(block_store *store, uint64_t block_id) {
    if (store == NULL)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state == REPLICA_WRITING)
        return EMBER_ENOENT; /* a replica being written is its writer's */
    const data_dir *dd = &store->dirs[r->dir];
    const char *sub = r->state == REPLICA_RBW ? dd->rbw : dd->finalized;
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    (void)bs_replica_path(data_path, sizeof data_path, sub, r->block_id, 0, 0);
    (void)bs_replica_path(meta_path, sizeof meta_path, sub, r->block_id, r->gen_stamp, 1);
    /* Data first: a meta left behind alone is never indexed. */
    if (unlink(data_path) != 0 && errno != ENOENT) {
        if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, r->dir);
        return EMBER_EIO;
    }
    if (r->state == REPLICA_FINALIZED)
        store->used_bytes -= r->length + meta_size(r->length);
    bs_index_remove(store, r);
    if (unlink(meta_path) != 0 && errno != ENOENT)
        return EMBER_EIO;
    return EMBER_OK;
}

block_replica_state block_store_replica(const block_store *store, uint64_t block_id,
                                        block_info *info) {
    const replica *r = store != NULL ? bs_index_find(store, block_id) : NULL;
    if (info != NULL)
        *info = (block_info){block_id, r != NULL ? r->gen_stamp : 0, r != NULL ? r->length : 0};
    if (r == NULL)
        return BLOCK_REPLICA_ABSENT;
    switch ((replica_state)r->state) {
    case REPLICA_WRITING: return BLOCK_REPLICA_WRITING;
    case REPLICA_RBW: return BLOCK_REPLICA_RBW;
    default: return BLOCK_REPLICA_FINALIZED;
    }
}

/* The replicas in state, for block_store_list() and _list_rbw(). */
static int store_list_state(const block_store *store, replica_state state, block_info **out,
                            size_t *count) {
    if (store == NULL || out == NULL || count == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    *count = 0;
    size_t n = 0;
    for (size_t i = 0; i < store->index_cap; i++)
        n += store->index[i].state == state;
    if (n == 0)
        return EMBER_OK;
    block_info *list = malloc(n * sizeof *list);
    if (list == NULL)
        return EMBER_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < store->index_cap; i++) {
        const replica *r = &store->index[i];
        if (r->state == state)
            list[k++] = (block_info){r->block_id, r->gen_stamp, r->length};
    }
    *out = list;
    *count = n;
    return EMBER_OK;
}

int block_store_list(const block_store *store, block_info **out, size_t *count) {
    return store_list_state(store, REPLICA_FINALIZED, out, count);
}

int block_store_list_rbw(const block_store *store, block_info **out, size_t *count) {
    return store_list_state(store, REPLICA_RBW, out, count);
}

/* ---- invariants (block_store.h) ---- */

void bs_replica_check(const block_store *store, const replica *r) {
    (void)store;
    (void)r;
    assert(r->state == REPLICA_WRITING || r->state == REPLICA_RBW ||
           r->state == REPLICA_FINALIZED);                          /* 1 */
    assert(bs_index_find(store, r->block_id) == r);                 /* 1: one record */
    assert(r->dir < (uint32_t)store->ndirs);                        /* 1: one directory */
    assert(r->state != REPLICA_WRITING || r->length == 0);          /* 2 */
    assert(!r->mismatch_reported || r->state == REPLICA_FINALIZED); /* 6 */
}

void block_store_check(const block_store *store) {
#ifndef NDEBUG
    if (store == NULL)
        return;
    assert(store->index_cap >= INDEX_MIN_CAP && (store->index_cap & (store->index_cap - 1)) == 0);
    size_t count = 0;
    uint64_t used = 0;
    for (size_t i = 0; i < store->index_cap; i++) {
        const replica *r = &store->index[i];
        if (r->state == REPLICA_NONE)
            continue;
        bs_replica_check(store, r);
        count++;
        if (r->state == REPLICA_FINALIZED)
            used += r->length + meta_size(r->length); /* 4 */
    }
    assert(count == store->index_count);
    assert(used == store->used_bytes); /* 4 */
    int failed = 0;
    for (int d = 0; d < store->ndirs; d++)
        failed += store->dirs[d].failed != 0;
    assert(failed == store->nfailed); /* 7 */
#else
    (void)store;
#endif
}
