/* block_store_internal.h -- what the files of the block store share:
 *   block_store.c           the store: directories, the index, open/close,
 *                           space, delete, lists, block_store_check()
 *   block_store_files.c     replica files: names, meta headers, valid
 *                           lengths of rbw files, moves between rbw/ and
 *                           finalized/, directory listings
 *   block_writer.c          writers: create, append, sync, finalize,
 *                           detach, abort, reopen for append
 *   block_reader.c          readers and block_store_verify()
 *   block_store_recovery.c  lease recovery (block_store_recover()) and
 *                           pipeline recovery (block_writer_reopen_at())
 *   block_store_scan.c      the directory scan
 * The layouts below (the index record, a data directory, the store, a
 * writer) and the helpers the files call across.  The states and
 * transitions are block_store.h's table; what each file owns is in its
 * own header comment.  Internal to the block store. */
#ifndef EMBER_BLOCK_STORE_INTERNAL_H
#define EMBER_BLOCK_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "block_store.h"

#define BLOCK_STORE_PATH_MAX 4096
#define META_HEADER_LEN 16
#define READ_WINDOW_CHUNKS 2048 /* a reader verifies up to 1 MiB per pair of preads */

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

typedef enum {
    WRITER_WRITING, /* appending; the files match the counters */
    WRITER_FAILED,  /* a write failed; only finalize (which fails) or abort */
} writer_state;

/* A writer (block_writer.c's file comment has its states). */
struct block_writer {
    block_store *store;
    writer_state state;
    uint64_t block_id;
    uint64_t gen_stamp;
    uint32_t dir;
    int data_fd;
    int meta_fd;
    uint64_t length;
    uint32_t partial_crc; /* CRC32C of the last partial_len bytes */
    size_t partial_len;   /* length % BLOCK_CHUNK_SIZE */
    int reopened;         /* block_writer_reopen(): bytes of a finalized replica */
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

static inline void put_be16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static inline void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline uint16_t get_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ---- block_store.c ---- */

/* The index: the record of block_id or NULL; insert (room reserved
 * first), remove a record found, make room for want records. */
replica *bs_index_find(const block_store *store, uint64_t block_id);
int bs_index_insert(block_store *store, const replica *r);
void bs_index_remove(block_store *store, replica *slot);
int bs_index_reserve(block_store *store, size_t want);

/* Asserts the invariants of one index record (block_store.h's table):
 * called by every transition on the record it changed. */
void bs_replica_check(const block_store *store, const replica *r);

/* ---- block_store_files.c ---- */

/* Formats a one-line reason into err (which may be NULL). */
__attribute__((format(printf, 3, 4))) void bs_reason(char *err, size_t errlen, const char *fmt,
                                                     ...);

/* dir/blk_<id> (meta 0) or dir/blk_<id>_<gs>.meta (meta 1) into out;
 * EMBER_EINVAL when it does not fit. */
int bs_replica_path(char *out, size_t outlen, const char *dir, uint64_t id, uint64_t gs, int meta);

/* Writes all of data at offset (EMBER_EIO with errno), and reads exactly
 * len bytes at offset (EMBER_EIO on an error, EMBER_ECORRUPT when the
 * file ends first). */
int bs_pwrite_all(int fd, const void *data, size_t len, uint64_t offset);
int bs_pread_exact(int fd, void *data, size_t len, uint64_t offset);

/* Fsyncs a directory: EMBER_EIO with errno. */
int bs_fsync_dir(const char *dir);

/* Fills in the 16-byte meta header this store writes, and checks one. */
void bs_meta_header_init(unsigned char *h);
int bs_meta_header_ok(const unsigned char *h);

/* The valid length of the rbw replica id at gen stamp gs in dd. */
int bs_rbw_scan(const data_dir *dd, uint64_t id, uint64_t gs, uint64_t *out);

/* Moves the files of block id from the sub-directory from (gen stamp
 * from_gs in the meta's name) to the sub-directory to (to_gs) of one data
 * directory (block_store_files.c's file comment has the order of the
 * steps).  With meta_fd the meta is copied and *meta_fd gets the copy
 * open for reading and writing; without, it is linked.  Returns 0 once
 * the new names are durable, or EMBER_EIO with errno, the old names
 * untouched and nothing left under the new ones.  *dir_err is the errno
 * that may say the directory is broken (0: none) -- of the failure, or of
 * removing the old names after success -- for the caller to judge
 * (bs_dir_errno_is_failure()).  Touches nothing but the files: safe off
 * the loop's thread (a finalize job). */
int bs_replica_move_files(uint64_t id, const char *from, uint64_t from_gs, const char *to,
                          uint64_t to_gs, int *meta_fd, int *dir_err);

/* bs_replica_move_files() in directory d of store, which is failed when
 * the errno says it is broken. */
int bs_replica_move(block_store *store, uint32_t d, uint64_t id, const char *from, uint64_t from_gs,
                    const char *to, uint64_t to_gs, int *meta_fd);

/* The replica files of a finalized/ or rbw/ directory (malloc'd). */
int bs_dir_list(const char *path, found_file **out, size_t *count, uint64_t *skipped, char *err,
                size_t errlen);
/* found_file order: id, the data file first, then metas by gen stamp. */
int bs_cmp_found(const void *a, const void *b);

/* Whether err says a directory is broken, and marking directory d failed
 * (block_store.c). */
int bs_dir_errno_is_failure(int err);
void bs_dir_fail(block_store *store, uint32_t d);

/* ---- block_writer.c ---- */

/* Asserts the invariants of a writer's state; WRITING -> FAILED (the
 * directory fails too when err says it is broken). */
void bs_writer_check(const block_writer *w);
void bs_writer_fail(block_writer *w, int err);

#endif
