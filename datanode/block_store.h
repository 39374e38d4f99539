/* block_store.h -- a datanode's replicas on disk (HDFS's FsDatasetImpl).
 *
 * Each data directory holds
 *   current/rbw/blk_<id>               replicas being written, or left by
 *   current/rbw/blk_<id>_<gs>.meta     a writer that stopped (see below)
 *   current/finalized/blk_<id>         complete replicas
 *   current/finalized/blk_<id>_<gs>.meta
 * (<id> and <gs> in decimal, as Hadoop names them).  A meta file is a
 * 16-byte header -- magic "EMBRMETA", u16 version (1), u16 checksum type
 * (1 = CRC32C), u32 bytes per checksum (512), all big-endian -- followed
 * by one big-endian u32 CRC32C per 512-byte chunk of the block (the last
 * chunk may be shorter).  Writes go to rbw/; finalize fsyncs both files,
 * moves them into finalized/ and fsyncs the directories: only then does
 * the replica exist for readers and the finalized list.  Every read
 * verifies the checksums of the chunks it touches.
 *
 * A replica's states (block_replica_state):
 *   ABSENT     not in the store
 *   WRITING    a block_writer owns it, in rbw/
 *   RBW        in rbw/ with no writer: its writer stopped (client gone,
 *              pipeline failure, block recovery, datanode restart) and it
 *              waits for lease recovery.  Its valid length is the longest
 *              prefix whose every chunk has a stored CRC and whose last
 *              chunk verifies (a torn tail is not counted; the files are
 *              only cut by recovery).  Every append stores the CRC of a
 *              partial last chunk too, so nothing written is lost when
 *              the datanode process dies
 *   FINALIZED  in finalized/, readable
 *
 * Transitions -- the only places where a replica's state, gen stamp or
 * files change:
 *
 *   from        event                              to         function
 *   ----------  ---------------------------------  ---------  ------------------------
 *   ABSENT      a new replica                      WRITING    block_writer_create()
 *   RBW         a new replica, newer gen stamp:    WRITING    block_writer_create()
 *               the stale one deleted first
 *   WRITING     the last packet                    FINALIZED  block_writer_finalize()
 *   WRITING     the writer stops (client gone,     RBW        block_writer_detach(); a
 *               pipeline failure, recovery)                   failed finalize; an abort
 *                                                             of a reopened writer
 *   WRITING     bytes known useless                ABSENT     block_writer_abort()
 *   FINALIZED   append, new gen stamp              WRITING    block_writer_reopen()
 *   RBW or      pipeline recovery, new gen         WRITING    block_writer_reopen_at()
 *   FINALIZED   stamp, cut to the acked length
 *   RBW         lease recovery: recovery id, cut   FINALIZED  block_store_recover()
 *   FINALIZED   lease recovery: recovery id        FINALIZED  block_store_recover()
 *   FINALIZED   truncate's recovery: cut, recovery FINALIZED  block_store_recover_truncate()
 *               id
 *   RBW or      delete                             ABSENT     block_store_delete()
 *   FINALIZED
 *   RBW or      its files gone from the disk       ABSENT     block_store_scan()
 *   FINALIZED
 *   RBW or      its files changed size             (same),    block_store_scan()
 *   FINALIZED                                      length
 *   ABSENT      finalized files found on disk      FINALIZED  block_store_scan(),
 *                                                             block_store_open()
 *   ABSENT      rbw files found at open            RBW        block_store_open()
 *
 * Invariants (block_store_check() asserts them over the whole store; each
 * transition asserts those of the replica it changed):
 *   1. A block id has at most one replica in the store: one record of the
 *      index, in one data directory, in one of the states above.
 *   2. A WRITING replica is held by exactly one block_writer, which counts
 *      its length (the store's record says 0); its files are in rbw/.
 *   3. An RBW replica has no writer; its files are in rbw/ under its gen
 *      stamp and its length is their valid length.
 *   4. A FINALIZED replica's files are in finalized/, their directory
 *      entries fsynced before it got the state.  Only FINALIZED replicas
 *      are read, listed by block_store_list() and counted in
 *      block_store_used_bytes(), the sum of their data and meta sizes.
 *   5. A replica's gen stamp never goes down: every transition that gives
 *      it a new one (reopen, reopen_at, recover) refuses a lower one.
 *   6. Only a FINALIZED replica is marked as mismatched by a scan (a reopen
 *      clears the mark).
 *   7. A failed directory stays failed and takes no new replica and no
 *      append; its replicas stay readable.
 *
 * A directory that cannot be created or written is failed: new replicas
 * go to the healthy directories (the one with the most free space), and
 * the failure is counted for the node's report.
 * Single-threaded: the datanode's loop thread owns the store. */
#ifndef EMBER_BLOCK_STORE_H
#define EMBER_BLOCK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/disk_usage.h"

#define BLOCK_CHUNK_SIZE 512

typedef struct block_store block_store;
typedef struct block_writer block_writer;
typedef struct block_reader block_reader;

typedef struct {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t length;
} block_info;

typedef enum {
    BLOCK_REPLICA_ABSENT = 0,
    BLOCK_REPLICA_WRITING,   /* a block_writer owns it */
    BLOCK_REPLICA_RBW,       /* in rbw/, no writer: waiting to be recovered */
    BLOCK_REPLICA_FINALIZED, /* complete and readable */
} block_replica_state;

/* Opens the comma-separated data directories, creating current/rbw and
 * current/finalized in each, indexing the finalized replicas, then the
 * replicas in rbw/ as RBW with their valid lengths (rbw files that cannot
 * be a replica -- a data file or a meta alone, a bad meta header, a block
 * also finalized -- are removed).  Succeeds while at least one directory
 * is healthy; otherwise EMBER_EIO with a one-line reason in err. */
int block_store_open(const char *dirs, block_store **out, char *err, size_t errlen);
void block_store_close(block_store *store);

/* Whether finalizing a replica fsyncs its data and meta files first
 * (HDFS's dfs.datanode.synconclose; default off, as in HDFS: a finalized
 * replica survives the process, and replication -- not fsync -- guards
 * against losing a machine; a replica torn by a crash fails its checksums
 * and is replaced).  The directory entries are fsynced either way. */
void block_store_set_sync_on_close(block_store *store, int on);

/* Bytes of each file system kept free for other uses (HDFS's
 * dfs.datanode.du.reserved, default 0): a directory with no more than
 * that available takes no new replica, and the space reports leave it
 * out. */
void block_store_set_reserved(block_store *store, uint64_t bytes);

/* The space of the store's data directories together: the size of the
 * file systems they live on (each counted once), the bytes of finalized
 * replicas, what is free past the reserve, the directories configured,
 * failed, and healthy but with less than full_below bytes free (a
 * directory with nothing free takes no new replica; one with less than a
 * block is reported full). */
void block_store_space(block_store *store, uint64_t full_below, disk_usage *out);

/* Data directories configured and failed. */
void block_store_dirs(const block_store *store, int *total, int *failed);

/* Bytes of finalized replicas (data + meta files). */
uint64_t block_store_used_bytes(const block_store *store);

/* Starts a replica in the healthy directory with the most free space.
 * An RBW replica of block_id with a gen stamp below gen_stamp is stale
 * (the block was recovered, or its pipeline went on, without it): it is
 * deleted first, as HDFS replaces a stale rbw replica, so that a copy
 * the namenode schedules here is not refused.  EMBER_EEXIST when the
 * store already has block_id otherwise (being written, finalized, or RBW
 * at gen_stamp or above); EMBER_EIO when the stale replica's files cannot
 * be removed;
 * EMBER_ENOSPC when no directory has room (none free past the reserve,
 * or file creation failing with ENOSPC, EDQUOT or EFBIG); EMBER_EIO when
 * no directory can take it otherwise (a directory whose file creation
 * fails for a broken disk is marked failed and the next one tried). */
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

/* hsync: fsyncs the replica's data and meta files as they are now (every
 * byte appended and its CRCs, the partial chunk's included), whatever
 * block_store_set_sync_on_close() says; w stays open.  EMBER_EIO for a
 * failed writer or when an fsync fails (w is then failed: its later
 * appends fail too). */
int block_writer_sync(block_writer *w);

/* Makes the replica durable and visible (see above) and frees w, whatever
 * the result.  The final length comes back in *length (may be NULL).  On
 * a failure the replica is kept as by block_writer_detach(). */
int block_writer_finalize(block_writer *w, uint64_t *length);

/* Jobs: hsync and finalize off the loop's thread (the datanode runs them
 * on its thread pool, common/thread_pool.h).  A *_begin() on the loop's
 * thread makes a job; block_writer_job_run() does the blocking part --
 * fsyncs, closes, the links and directory fsyncs of the move into
 * finalized/ -- on any thread, touching only the job and the files;
 * block_writer_job_finish() on the loop's thread applies the outcome to
 * the store, exactly as block_writer_sync() and block_writer_finalize()
 * (which are the three steps on one thread) would, and frees the job.
 * Until then the replica stays WRITING.  Run must have been called before
 * finish. */
typedef struct block_writer_job block_writer_job;

/* A job fsyncing w's files as they are now (block_writer_sync()), through
 * duplicates of its descriptors: w may go on appending, and may even be
 * detached, while the job runs.  EMBER_EIO for a failed writer,
 * EMBER_ENOMEM (no memory or no descriptor left: the caller may sync on
 * its own thread instead). */
int block_writer_sync_begin(block_writer *w, block_writer_job **job);

/* A job finalizing w (block_writer_finalize()); with sync, its files are
 * fsynced even without sync on close (the last packet asked for hsync).
 * w belongs to the job from now on, whatever the result; the caller must
 * not touch it again.  EMBER_ENOMEM (w is still the caller's then). */
int block_writer_finalize_begin(block_writer *w, int sync, block_writer_job **job);

/* The blocking part of job, on any thread. */
void block_writer_job_run(block_writer_job *job);

/* Applies job (after block_writer_job_run()) on the loop's thread and
 * frees it.  A sync job: w is the writer it was made from when that is
 * still open (it is failed when an fsync failed), else NULL; returns 0 or
 * EMBER_EIO.  A finalize job: w is ignored; returns what
 * block_writer_finalize() would, *length (may be NULL) the final
 * length. */
int block_writer_job_finish(block_writer_job *job, block_writer *w, uint64_t *length);

/* Closes w keeping its files: the partial chunk's CRC is written, both
 * files fsynced and left in rbw/, and the replica becomes RBW with
 * *length (may be NULL) as its valid length -- the bytes appended, or,
 * when a write or the sync failed, what a check of the files finds.
 * Frees w.  0, or the error that left nothing indexed (the files then
 * stay on disk for the next open to judge). */
int block_writer_detach(block_writer *w, uint64_t *length);

/* Drops an unfinished replica (its rbw files) and frees w, for bytes
 * known to be useless.  A writer from block_writer_reopen() holds a
 * finalized replica's bytes: it is detached instead.  Accepts NULL. */
void block_writer_abort(block_writer *w);

/* Append (HDFS's PIPELINE_SETUP_APPEND): moves the FINALIZED replica of
 * block_id, whose gen stamp must be old_gs, back into rbw/ under new_gs
 * (data unchanged; the meta copied under its new name, so that readers
 * opened before keep their CRCs) and returns a writer that continues at
 * its end, possibly mid-chunk.  The replica is WRITING from then on.
 * EMBER_ENOENT when there is no finalized replica at old_gs, EMBER_EINVAL
 * when new_gs <= old_gs, EMBER_ECORRUPT when its partial last chunk does
 * not match its CRC, EMBER_EIO when its directory failed or the move
 * failed (the replica then stays finalized). */
int block_writer_reopen(block_store *store, uint64_t block_id, uint64_t old_gs, uint64_t new_gs,
                        block_writer **out);

/* Pipeline recovery (HDFS's recoverRbw, PIPELINE_SETUP_STREAMING_RECOVERY):
 * the RBW or FINALIZED replica of block_id whose gen stamp is at least
 * min_gs and below new_gs becomes WRITING under new_gs, cut to length --
 * the bytes the writer had acknowledged -- and the returned writer
 * continues there, possibly mid-chunk.  The chunk holding the new end is
 * checked against its stored CRC and, left partial, gets its CRC
 * recomputed; bytes past length (unacknowledged, or a torn tail) are
 * dropped.  An RBW replica's files are cut in place and its meta renamed;
 * a FINALIZED one (it got the last packet, whose ack was lost) moves back
 * to rbw/ as by block_writer_reopen(), then is cut.  An abort of the
 * writer keeps the replica (as RBW).  EMBER_EINVAL when new_gs <= min_gs;
 * EMBER_ENOENT when there is no such replica (none, one being written,
 * or its gen stamp outside [min_gs, new_gs)); EMBER_ESTATE when it holds
 * fewer than length bytes (valid ones, for RBW); EMBER_ECORRUPT when the
 * chunk at the cut does not verify; EMBER_EIO (a failed directory; a
 * move out of finalized/ that failed, the replica staying FINALIZED; or a
 * cut or rename that failed, the replica then RBW at what its files
 * hold). */
int block_writer_reopen_at(block_store *store, uint64_t block_id, uint64_t min_gs,
                           uint64_t new_gs, uint64_t length, block_writer **out);

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

/* Deletes a finalized or RBW replica (both files).  EMBER_ENOENT when
 * absent or being written. */
int block_store_delete(block_store *store, uint64_t block_id);

/* The state of block_id's replica; *info (may be NULL) gets its id, gen
 * stamp and length: a finalized one's length, an RBW one's valid length,
 * 0 for one being written (its length is its writer's). */
block_replica_state block_store_replica(const block_store *store, uint64_t block_id,
                                        block_info *info);

/* Block recovery (HDFS's updateReplicaUnderRecovery): finalizes the
 * replica of block_id at length under gen stamp recovery_id.  An RBW one
 * with valid length >= length is cut to length (the meta to exactly its
 * chunks' CRCs, a new partial last chunk's CRC computed from the data
 * after the old CRC of that chunk verified), fsynced and finalized as by
 * block_writer_finalize().  A FINALIZED one must have exactly length
 * bytes: its meta is renamed to the new gen stamp.  One already at
 * (recovery_id, length) is left as it is (0).  EMBER_ENOENT: no replica,
 * or one being written; EMBER_EINVAL: the wrong length; EMBER_ESTATE: its
 * gen stamp is above recovery_id; EMBER_ECORRUPT, EMBER_EIO (an RBW
 * replica stays RBW). */
int block_store_recover(block_store *store, uint64_t block_id, uint64_t recovery_id,
                        uint64_t length);

/* Truncate's block recovery: as block_store_recover(), except that a
 * FINALIZED replica (of an older gen stamp) longer than length is first
 * cut to it in place -- the chunk holding the new end verified, its CRC
 * recomputed when left partial, both files fsynced -- then renamed to the
 * recovery id. */
int block_store_recover_truncate(block_store *store, uint64_t block_id, uint64_t recovery_id,
                                 uint64_t length);

/* Asserts the invariants above over the whole store (a no-op when
 * built with NDEBUG; it walks the index: for tests, and after open and
 * every scan). */
void block_store_check(const block_store *store);

/* Reads a whole replica and checks every chunk: 0, EMBER_ECORRUPT, or
 * EMBER_ENOENT (the block scanner and tests use it). */
int block_store_verify(block_store *store, uint64_t block_id);

/* Every finalized replica, for block reports; *out is malloc'd (free()),
 * NULL when *count is 0; order unspecified. */
int block_store_list(const block_store *store, block_info **out, size_t *count);

/* Every RBW replica (not those being written), with valid lengths; as
 * block_store_list(). */
int block_store_list_rbw(const block_store *store, block_info **out, size_t *count);

/* ---- the directory scan (HDFS's DirectoryScanner) ---- */

/* One difference a scan found: the replica (a missing one's last known
 * id, gen stamp and length) and its state (FINALIZED or RBW). */
typedef struct {
    block_info info;
    block_replica_state state;
} block_scan_entry;

/* What block_store_scan() found and changed; free with
 * block_scan_result_free(). */
typedef struct {
    block_scan_entry *missing; /* indexed, but a file of it is gone: no longer indexed */
    size_t nmissing;
    block_scan_entry *added; /* a finalized replica on disk the index lacked: now indexed */
    size_t nadded;
    block_scan_entry *mismatched; /* files of the wrong size (see below) */
    size_t nmismatched;
    uint64_t files;    /* replica files listed */
    int dirs_unlisted; /* directories that could not be listed this time (left alone) */
} block_scan_result;

/* Compares the disk with the index and reconciles the index (the
 * datanode's directory scanner).  Walks every data directory's
 * finalized/ and rbw/ (a listing and a stat per file; no replica data is
 * read but the last chunk of an rbw replica whose files shrank):
 *   - an indexed FINALIZED or RBW replica whose data file or meta file
 *     (at its gen stamp) is gone is *missing*: dropped from the index;
 *   - a finalized replica on disk that the index lacks -- a data file and
 *     a meta of the size its length needs, the highest such gen stamp,
 *     exactly what open indexes -- is *added* (not from a failed
 *     directory);
 *   - a FINALIZED replica whose data file is not its length, or whose
 *     meta is not the size that length needs, is *mismatched* (corrupt):
 *     it stays indexed at the data file's length (reads then fail on its
 *     checksums) and is listed once: later scans follow its data file's
 *     length quietly, until its files fit each other again (put back),
 *     after which a new mismatch is listed again; an RBW replica whose
 *     files no longer hold its valid length is mismatched too, its valid
 *     length found again.
 * Replicas being written are left alone, as are files the index does not
 * know in rbw/ (the next open judges them).  A directory whose listing
 * fails with an errno that says it is gone fails, and its replicas are
 * missing; one that fails otherwise is left alone this time
 * (dirs_unlisted).  The index then holds what is on disk.  *out is the
 * caller's, also on failure (then empty): EMBER_ENOMEM changes nothing. */
int block_store_scan(block_store *store, block_scan_result *out);
void block_scan_result_free(block_scan_result *result);

#endif
