/* block_store_scan.c -- the block store's directory scan (HDFS's
 * DirectoryScanner): block_store_scan() reconciles the index with what
 * the data directories hold; see block_store.c's file comment, "The
 * directory scan", for the rules. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/error.h"

/* ---- the directory scan ---- */

typedef enum {
    SCAN_LISTED,   /* the listing is in hand */
    SCAN_GONE,     /* cannot be listed, and errno says the directory is broken */
    SCAN_UNLISTED, /* cannot be listed for another reason: left alone this time */
} scan_listing_state;

/* One sub-directory's listing, sorted by bs_cmp_found(). */
typedef struct {
    found_file *files;
    size_t n;
    scan_listing_state state;
} scan_listing;

/* A finalized replica found on disk that the index lacks. */
typedef struct {
    uint64_t id, gs, length;
    uint32_t dir;
} scan_candidate;

/* A growable list of scan entries. */
typedef struct {
    block_scan_entry *v;
    size_t n, cap;
} scan_list;

static int scan_push(scan_list *l, uint64_t id, uint64_t gs, uint64_t length,
                     block_replica_state state) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        block_scan_entry *grown = realloc(l->v, ncap * sizeof *grown);
        if (grown == NULL)
            return EMBER_ENOMEM;
        l->v = grown;
        l->cap = ncap;
    }
    l->v[l->n++] = (block_scan_entry){{id, gs, length}, state};
    return EMBER_OK;
}

/* Lists path into *l, sorted; EMBER_ENOMEM is the only failure (a
 * listing that fails otherwise sets l->state). */
static int scan_list_dir(const char *path, scan_listing *l) {
    int rc = bs_dir_list(path, &l->files, &l->n, NULL, NULL, 0);
    if (rc == EMBER_ENOMEM)
        return rc;
    if (rc != EMBER_OK) {
        l->state = bs_dir_errno_is_failure(errno) ? SCAN_GONE : SCAN_UNLISTED;
        return EMBER_OK;
    }
    l->state = SCAN_LISTED;
    if (l->n > 1)
        qsort(l->files, l->n, sizeof *l->files, bs_cmp_found);
    return EMBER_OK;
}

/* The index in l of the first file of block id (its data file when there
 * is one, then its metas, highest gen stamp first), or l->n. */
static size_t scan_find(const scan_listing *l, uint64_t id) {
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->files[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->n && l->files[lo].id == id ? lo : l->n;
}

/* The data file and the meta of gen stamp gs of block id in l (either
 * NULL when absent). */
static void scan_files_of(const scan_listing *l, uint64_t id, uint64_t gs, const found_file **data,
                          const found_file **meta) {
    *data = *meta = NULL;
    for (size_t i = scan_find(l, id); i < l->n && l->files[i].id == id; i++) {
        if (!l->files[i].is_meta)
            *data = &l->files[i];
        else if (l->files[i].gs == gs)
            *meta = &l->files[i];
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Candidates by id, the one open would keep first: higher gen stamp,
 * then longer, then the earlier directory. */
static int cmp_candidate(const void *a, const void *b) {
    const scan_candidate *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    if (x->gs != y->gs)
        return (x->gs < y->gs) - (x->gs > y->gs);
    if (x->length != y->length)
        return (x->length < y->length) - (x->length > y->length);
    return (x->dir > y->dir) - (x->dir < y->dir);
}

/* Judges indexed replica r against its directory's listings: pushes it
 * to missing or mismatched (the change is made later, by scan_apply()),
 * or clears or quietly follows a mismatch already reported. */
static int scan_judge(block_store *store, replica *r, const scan_listing *fin,
                      const scan_listing *rbw, scan_list *missing, scan_list *mismatched) {
    int finalized = r->state == REPLICA_FINALIZED;
    block_replica_state state = finalized ? BLOCK_REPLICA_FINALIZED : BLOCK_REPLICA_RBW;
    const scan_listing *l = finalized ? fin : rbw;
    if (l->state == SCAN_UNLISTED)
        return EMBER_OK;
    const found_file *data = NULL, *meta = NULL;
    if (l->state == SCAN_LISTED)
        scan_files_of(l, r->block_id, r->gen_stamp, &data, &meta);
    if (data == NULL || meta == NULL)
        return scan_push(missing, r->block_id, r->gen_stamp, r->length, state);
    if (!finalized) {
        /* Files shorter than the valid length: find it again. */
        if (data->size >= r->length && meta->size >= meta_size(r->length))
            return EMBER_OK;
        uint64_t valid;
        int rc = bs_rbw_scan(&store->dirs[r->dir], r->block_id, r->gen_stamp, &valid);
        if (rc == EMBER_ECORRUPT) /* no usable meta header: open would remove it */
            return scan_push(missing, r->block_id, r->gen_stamp, r->length, state);
        if (rc != EMBER_OK)
            return EMBER_OK; /* unreadable just now: the next scan tries again */
        return scan_push(mismatched, r->block_id, r->gen_stamp, valid, state);
    }
    if (data->size == r->length && meta->size == meta_size(r->length)) {
        r->mismatch_reported = 0;
        return EMBER_OK;
    }
    if (!r->mismatch_reported)
        return scan_push(mismatched, r->block_id, r->gen_stamp, data->size, state);
    /* Listed before: follow the data file quietly; files whole again (put
     * back) may be listed anew when they break again. */
    store->used_bytes -= r->length + meta_size(r->length);
    r->length = data->size;
    store->used_bytes += r->length + meta_size(r->length);
    if (meta->size == meta_size(data->size))
        r->mismatch_reported = 0;
    return EMBER_OK;
}

/* The finalized replicas of listing l (directory d) that open would
 * index, for ids the index lacks or is about to drop (missing_ids, n
 * sorted), go to *cands. */
static int scan_find_new(const block_store *store, uint32_t d, const scan_listing *l,
                         const uint64_t *missing_ids, size_t nmissing, scan_candidate **cands,
                         size_t *n, size_t *cap) {
    for (size_t i = 0; i < l->n;) {
        size_t end = i + 1;
        while (end < l->n && l->files[end].id == l->files[i].id)
            end++;
        const found_file *data = l->files[i].is_meta ? NULL : &l->files[i];
        const found_file *meta = NULL;
        for (size_t k = i + 1; k < end && data != NULL && meta == NULL; k++)
            if (l->files[k].size == meta_size(data->size))
                meta = &l->files[k];
        uint64_t id = l->files[i].id;
        i = end;
        if (meta == NULL ||
            (bs_index_find(store, id) != NULL &&
             (nmissing == 0 || bsearch(&id, missing_ids, nmissing, sizeof id, cmp_u64) == NULL)))
            continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            scan_candidate *grown = realloc(*cands, ncap * sizeof *grown);
            if (grown == NULL)
                return EMBER_ENOMEM;
            *cands = grown;
            *cap = ncap;
        }
        (*cands)[(*n)++] = (scan_candidate){id, meta->gs, data->size, d};
    }
    return EMBER_OK;
}

/* Makes the changes the scan decided (nothing here can fail: the index
 * was reserved for the added replicas). */
static void scan_apply(block_store *store, const scan_listing *fin, const scan_listing *rbw,
                       const scan_list *missing, const scan_list *mismatched,
                       const scan_candidate *added, size_t nadded) {
    for (int d = 0; d < store->ndirs; d++)
        if (fin[d].state == SCAN_GONE || rbw[d].state == SCAN_GONE)
            bs_dir_fail(store, (uint32_t)d);
    for (size_t i = 0; i < missing->n; i++) {
        replica *r = bs_index_find(store, missing->v[i].info.block_id);
        if (r->state == REPLICA_FINALIZED)
            store->used_bytes -= r->length + meta_size(r->length);
        bs_index_remove(store, r);
    }
    for (size_t i = 0; i < mismatched->n; i++) {
        replica *r = bs_index_find(store, mismatched->v[i].info.block_id);
        if (r->state == REPLICA_FINALIZED) {
            store->used_bytes -= r->length + meta_size(r->length);
            store->used_bytes +=
                mismatched->v[i].info.length + meta_size(mismatched->v[i].info.length);
            r->mismatch_reported = 1;
        }
        r->length = mismatched->v[i].info.length;
    }
    for (size_t i = 0; i < nadded; i++) {
        replica r = {.block_id = added[i].id,
                     .gen_stamp = added[i].gs,
                     .length = added[i].length,
                     .dir = added[i].dir,
                     .state = REPLICA_FINALIZED};
        int rc = bs_index_insert(store, &r);
        assert(rc == EMBER_OK); /* reserved */
        (void)rc;
        store->used_bytes += r.length + meta_size(r.length);
    }
}

void block_scan_result_free(block_scan_result *result) {
    if (result == NULL)
        return;
    free(result->missing);
    free(result->added);
    free(result->mismatched);
    memset(result, 0, sizeof *result);
}

/* Three steps: list every directory; judge every indexed replica and
 * find the new ones (every allocation happens here, so that an
 * EMBER_ENOMEM changes nothing that would have to be reported); apply. */
int block_store_scan(block_store *store, block_scan_result *out) {
    if (out == NULL)
        return EMBER_EINVAL;
    memset(out, 0, sizeof *out);
    if (store == NULL)
        return EMBER_EINVAL;
    scan_listing *fin = calloc((size_t)store->ndirs, sizeof *fin);
    scan_listing *rbw = calloc((size_t)store->ndirs, sizeof *rbw);
    scan_list missing = {0}, mismatched = {0};
    scan_candidate *cands = NULL;
    size_t ncands = 0, cands_cap = 0;
    uint64_t *missing_ids = NULL;
    int rc = fin == NULL || rbw == NULL ? EMBER_ENOMEM : EMBER_OK;
    for (int d = 0; d < store->ndirs && rc == EMBER_OK; d++) {
        rc = scan_list_dir(store->dirs[d].finalized, &fin[d]);
        if (rc == EMBER_OK)
            rc = scan_list_dir(store->dirs[d].rbw, &rbw[d]);
        out->files += fin[d].n + rbw[d].n;
        out->dirs_unlisted += fin[d].state == SCAN_UNLISTED || rbw[d].state == SCAN_UNLISTED;
    }
    for (size_t i = 0; i < store->index_cap && rc == EMBER_OK; i++) {
        replica *r = &store->index[i];
        if (r->state == REPLICA_FINALIZED || r->state == REPLICA_RBW)
            rc = scan_judge(store, r, &fin[r->dir], &rbw[r->dir], &missing, &mismatched);
    }
    if (rc == EMBER_OK && missing.n > 0) {
        missing_ids = malloc(missing.n * sizeof *missing_ids);
        if (missing_ids == NULL)
            rc = EMBER_ENOMEM;
        for (size_t i = 0; rc == EMBER_OK && i < missing.n; i++)
            missing_ids[i] = missing.v[i].info.block_id;
        if (rc == EMBER_OK)
            qsort(missing_ids, missing.n, sizeof *missing_ids, cmp_u64);
    }
    for (int d = 0; d < store->ndirs && rc == EMBER_OK; d++)
        if (!store->dirs[d].failed && fin[d].state == SCAN_LISTED)
            rc = scan_find_new(store, (uint32_t)d, &fin[d], missing_ids, missing.n, &cands, &ncands,
                               &cands_cap);
    /* The same block new in two directories: the one open would keep. */
    size_t nadded = 0;
    if (rc == EMBER_OK && ncands > 1)
        qsort(cands, ncands, sizeof *cands, cmp_candidate);
    for (size_t i = 0; rc == EMBER_OK && i < ncands; i++)
        if (nadded == 0 || cands[nadded - 1].id != cands[i].id)
            cands[nadded++] = cands[i];
    if (rc == EMBER_OK && nadded > 0) {
        out->added = malloc(nadded * sizeof *out->added);
        rc = out->added == NULL ? EMBER_ENOMEM : bs_index_reserve(store, store->index_count + nadded);
    }
    if (rc == EMBER_OK) {
        scan_apply(store, fin, rbw, &missing, &mismatched, cands, nadded);
        for (size_t i = 0; i < nadded; i++)
            out->added[i] = (block_scan_entry){{cands[i].id, cands[i].gs, cands[i].length},
                                               BLOCK_REPLICA_FINALIZED};
        out->nadded = nadded;
        out->missing = missing.v;
        out->nmissing = missing.n;
        out->mismatched = mismatched.v;
        out->nmismatched = mismatched.n;
        block_store_check(store);
    } else {
        free(missing.v);
        free(mismatched.v);
        block_scan_result_free(out);
    }
    for (int d = 0; d < store->ndirs && fin != NULL && rbw != NULL; d++) {
        free(fin[d].files);
        free(rbw[d].files);
    }
    free(fin);
    free(rbw);
    free(cands);
    free(missing_ids);
    return rc;
}
