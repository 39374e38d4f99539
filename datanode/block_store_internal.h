/* block_store_internal.h -- what block_store.c and block_store_scan.c
 * (the directory scan) share: the store's index and directories, and the
 * helpers the scan needs (see block_store.c's file comment for what they
 * mean).  Internal to the block store. */
#ifndef EMBER_BLOCK_STORE_INTERNAL_H
#define EMBER_BLOCK_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "block_store.h"

#define BLOCK_STORE_PATH_MAX 4096
#define META_HEADER_LEN 16

typedef enum {
    REPLICA_NONE = 0,  /* an empty slot of the index */
    REPLICA_WRITING,   /* in rbw/, owned by a block_writer */
    REPLICA_RBW,       /* in rbw/, no writer: waiting to be recovered */
    REPLICA_FINALIZED, /* in finalized/, visible */
} replica_state;

typedef struct {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t length; /* finalized: its length; RBW: its valid length; 0 while writing */
    uint32_t dir;
    uint8_t state;             /* replica_state */
    uint8_t mismatch_reported; /* FINALIZED: a scan listed its files as mismatched */
} replica;

typedef struct {
    char *path;      /* as configured */
    char *rbw;       /* path/current/rbw */
    char *finalized; /* path/current/finalized */
    int failed;
} data_dir;

struct block_store {
    data_dir *dirs;
    int ndirs;
    int nfailed;
    replica *index; /* index_cap slots, a power of two */
    size_t index_cap;
    size_t index_count;
    uint64_t used_bytes;
    uint64_t skipped;     /* files left out at open (see the file comment) */
    int *order;           /* block_writer_create()'s scratch: directory order */
    uint64_t *free_bytes; /* ... and each directory's free space */
    int sync_on_close;    /* finalize fsyncs the data (dfs.datanode.synconclose) */
    uint64_t reserved;    /* bytes of each file system left alone (dfs.datanode.du.reserved) */
};

/* A replica file found in a directory listing. */
typedef struct {
    uint64_t id;
    uint64_t gs;   /* metas only */
    uint64_t size; /* file size */
    int is_meta;
} found_file;

/* Number of chunks of a replica of length bytes. */
static inline uint64_t chunk_count(uint64_t length) {
    return length / BLOCK_CHUNK_SIZE + (length % BLOCK_CHUNK_SIZE != 0);
}

/* Size of the meta file of a replica of length bytes. */
static inline uint64_t meta_size(uint64_t length) {
    return META_HEADER_LEN + 4 * chunk_count(length);
}

/* The index: the record of block_id or NULL; insert (room reserved
 * first), remove a record found, make room for want records. */
replica *bs_index_find(const block_store *store, uint64_t block_id);
int bs_index_insert(block_store *store, const replica *r);
void bs_index_remove(block_store *store, replica *slot);
int bs_index_reserve(block_store *store, size_t want);

/* The valid length of the rbw replica id at gen stamp gs in dd. */
int bs_rbw_scan(const data_dir *dd, uint64_t id, uint64_t gs, uint64_t *out);

/* The replica files of a finalized/ or rbw/ directory (malloc'd). */
int bs_dir_list(const char *path, found_file **out, size_t *count, uint64_t *skipped, char *err,
                size_t errlen);
/* found_file order: id, the data file first, then metas by gen stamp. */
int bs_cmp_found(const void *a, const void *b);

/* Whether err says a directory is broken, and marking directory d failed. */
int bs_dir_errno_is_failure(int err);
void bs_dir_fail(block_store *store, uint32_t d);

#endif
