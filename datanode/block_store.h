/* block_store.h -- a datanode's replicas on disk (HDFS's FsDatasetImpl).
 *
 * Each data directory holds
 *   current/rbw/blk_<id>               replicas being written
 *   current/rbw/blk_<id>_<gs>.meta
 *   current/finalized/blk_<id>         complete replicas
 *   current/finalized/blk_<id>_<gs>.meta
 * (<id> and <gs> in decimal, as Hadoop names them).  A meta file is a
 * 16-byte header -- magic "EMBRMETA", u16 version (1), u16 checksum type
 * (1 = CRC32C), u32 bytes per checksum (512), all big-endian -- followed
 * by one big-endian u32 CRC32C per 512-byte chunk of the block (the last
 * chunk may be shorter).  Writes go to rbw/; finalize fsyncs both files,
 * renames them into finalized/ and fsyncs the directories: only then does
 * the replica exist for readers and block reports.  Every read verifies
 * the checksums of the chunks it touches.  Leftovers in rbw/ at open are
 * unfinished writes that no client was told had succeeded: they are
 * removed.  A directory that cannot be created or written is failed: new
 * replicas go to the healthy directories (the one with the most free
 * space), and the failure is counted for the node's report.
 * Single-threaded: the datanode's loop thread owns the store. */
#ifndef EMBER_BLOCK_STORE_H
#define EMBER_BLOCK_STORE_H

#include <stddef.h>
#include <stdint.h>

#define BLOCK_CHUNK_SIZE 512

typedef struct block_store block_store;
typedef struct block_writer block_writer;
typedef struct block_reader block_reader;

typedef struct {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t length;
} block_info;

/* Opens the comma-separated data directories, creating current/rbw and
 * current/finalized in each, removing rbw leftovers, and indexing the
 * finalized replicas.  Succeeds while at least one directory is healthy;
 * otherwise EMBER_EIO with a one-line reason in err. */
int block_store_open(const char *dirs, block_store **out, char *err, size_t errlen);
void block_store_close(block_store *store);

/* Data directories configured and failed. */
void block_store_dirs(const block_store *store, int *total, int *failed);

/* Bytes of finalized replicas (data + meta files). */
uint64_t block_store_used_bytes(const block_store *store);

/* Starts a replica in the healthiest directory.  EMBER_EEXIST when the
 * store already has block_id (being written or finalized); EMBER_EIO when
 * no directory can take it (a directory whose file creation fails is
 * marked failed and the next one tried). */
int block_writer_create(block_store *store, uint64_t block_id, uint64_t gen_stamp,
                        block_writer **out);

/* Appends len bytes, computing their chunk checksums.  When crcs is not
 * NULL it holds the sender's CRC32C of each 512-byte chunk of data (data
 * must then start on a chunk boundary of the replica, and ncrcs must be
 * ceil(len / 512)); a mismatch returns EMBER_ECORRUPT and writes nothing.
 * Appends not on a chunk boundary (without crcs) continue the partial last
 * chunk, its checksum recomputed. */
int block_writer_append(block_writer *w, const void *data, size_t len, const uint32_t *crcs,
                        size_t ncrcs);

/* Bytes appended so far. */
uint64_t block_writer_length(const block_writer *w);

/* Makes the replica durable and visible (see above) and frees w, whatever
 * the result.  The final length comes back in *length (may be NULL). */
int block_writer_finalize(block_writer *w, uint64_t *length);

/* Drops an unfinished replica (its rbw files) and frees w.  Accepts NULL. */
void block_writer_abort(block_writer *w);

/* Opens a finalized replica.  EMBER_ENOENT when there is none. */
int block_reader_open(block_store *store, uint64_t block_id, block_reader **out);
void block_reader_close(block_reader *r);
const block_info *block_reader_info(const block_reader *r);

/* Reads up to len bytes at offset into buf after verifying the checksum of
 * every chunk touched; *got is what was read (short only at the end of the
 * replica).  EMBER_ECORRUPT when a chunk does not match (the replica must
 * then be reported bad). */
int block_reader_pread(block_reader *r, void *buf, size_t len, uint64_t offset, size_t *got);

/* The stored CRC32Cs of nchunks chunks from chunk index first (for a
 * reader that verifies on its own side).  EMBER_EINVAL past the end. */
int block_reader_checksums(block_reader *r, uint64_t first, size_t nchunks, uint32_t *out);

/* Deletes a finalized replica (both files).  EMBER_ENOENT when absent. */
int block_store_delete(block_store *store, uint64_t block_id);

/* Reads a whole replica and checks every chunk: 0, EMBER_ECORRUPT, or
 * EMBER_ENOENT (the block scanner and tests use it). */
int block_store_verify(block_store *store, uint64_t block_id);

/* Every finalized replica, for block reports; *out is malloc'd (free()),
 * NULL when *count is 0; order unspecified. */
int block_store_list(const block_store *store, block_info **out, size_t *count);

#endif
