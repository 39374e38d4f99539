/* edit_log.h -- the namenode's durable metadata: edit log + checkpoints.
 *
 * Files in the name directory (dfs.namenode.name.dir, default
 * <run-dir>/name):
 *   fsimage_<T>    a checkpoint: the whole namespace after transaction T
 *   edits_<F>      a log segment whose first transaction is F
 * (T and F are 20-digit zero-padded decimal, so names sort by number.)
 *
 * Both start with an 8-byte magic ("EMBRIMG1" / "EMBREDT1").  An image is
 * then one frame; a segment is a sequence of frames; a frame is
 *   u32 length (big-endian) | u32 CRC32C of the payload (big-endian) | payload
 * (CRC32C from common/checksum.h) where the payload is an encoded FsImage or
 * EditRecord
 * (proto/namenode.proto).
 *
 * Durability: edit_log_append() writes a record (write(2), no fsync);
 * a sync fsyncs once for every record appended before it began (group
 * commit).  The namenode answers a client only after the sync that covers
 * its record.  Recovery loads the newest readable image, then
 * replays, in txid order, every record after it.  A torn tail (the last
 * frame of the newest segment incomplete or failing its CRC) was never
 * acknowledged: it is cut off and the segment truncated there.  Anything
 * else that does not check out (a bad frame before the tail, a gap in
 * txids, a bad magic) is corruption: recovery refuses to start with a
 * one-line reason rather than lose acknowledged changes silently.
 *
 * Checkpoint: edit_log_checkpoint() writes fsimage_<last txid> (temporary
 * name, fsync, rename, fsync of the directory), starts a new segment, and
 * removes images and segments no longer needed, keeping the newest
 * EDIT_LOG_IMAGES_RETAINED images and the segments after the oldest kept
 * image.
 *
 * Jobs: a sync or a checkpoint can run off the loop's thread.  *_begin()
 * (loop's thread) prepares an edit_log_job -- a checkpoint serialises its
 * image into the job right there, so the namespace may change as soon as
 * begin returns; edit_log_job_run() does the blocking part on any thread
 * (a thread_pool's) and touches nothing the loop's thread uses;
 * edit_log_job_finish() (loop's thread) applies the outcome.  Appends go
 * on while a job runs; those made during a checkpoint are held in memory
 * and written to the new segment by finish.  One job at a time per log.
 * edit_log_sync() and edit_log_checkpoint() are begin + run + finish in
 * one call. */
#ifndef EMBER_EDIT_LOG_H
#define EMBER_EDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "namenode.pb-c.h"

#define EDIT_LOG_IMAGES_RETAINED 2
#define EDIT_LOG_RECORD_MAX (64u * 1024 * 1024)   /* one EditRecord frame */
#define EDIT_LOG_IMAGE_MAX (1024u * 1024 * 1024)  /* one FsImage frame */

typedef struct edit_log edit_log;
typedef struct edit_log_job edit_log_job;

/* Called by edit_log_recover() with the image (at most once, before any
 * record) and with each record to replay, in order.  A non-zero return
 * stops recovery and is returned by it. */
typedef int (*edit_log_image_cb)(const FsImage *image, void *arg);
typedef int (*edit_log_record_cb)(const EditRecord *record, void *arg);

/* Reads the name directory dir (creating it, mode 0700, when missing: a
 * new, empty namespace).  Calls on_image for the newest valid image (not
 * at all when there is none) and on_record for each later record.  The
 * last transaction id comes back in *last_txid (0 for a new directory).
 * Truncates a torn tail as described above.  On failure returns
 * EMBER_ECORRUPT, EMBER_EIO or the callback's code, with a one-line reason
 * in err. */
int edit_log_recover(const char *dir, edit_log_image_cb on_image, edit_log_record_cb on_record,
                     void *arg, uint64_t *last_txid, char *err, size_t errlen);

/* Opens the log for appending after recovery: a new segment
 * edits_<last_txid + 1> in dir.  Free with edit_log_close(). */
int edit_log_open(const char *dir, uint64_t last_txid, edit_log **out);

/* Syncs what is pending and closes; accepts NULL.  No job may be out. */
void edit_log_close(edit_log *log);

/* Assigns record->txid (last + 1), encodes it and writes it to the
 * segment (or holds it in memory while a checkpoint job is out: then
 * EMBER_ENOMEM is possible, the log unharmed).  The record is durable
 * only after a sync that began after this call.  The txid
 * comes back in *txid (may be NULL).  EMBER_ETOOBIG over
 * EDIT_LOG_RECORD_MAX, EMBER_EIO when the write fails (the log is then
 * unusable: every later call fails, and the namenode refuses further
 * changes). */
int edit_log_append(edit_log *log, EditRecord *record, uint64_t *txid);

/* fsyncs the segment if anything was appended since the last sync, on
 * the calling thread.  EMBER_ESTATE while a job is out. */
int edit_log_sync(edit_log *log);

/* Transactions not known to be durable (0 = all durable). */
uint64_t edit_log_unsynced(const edit_log *log);

/* Every record up to this txid is on the disk. */
uint64_t edit_log_synced_txid(const edit_log *log);

/* 1 once a write, fsync or segment switch failed: nothing is written
 * again and every later call fails with EMBER_EIO. */
int edit_log_failed(const edit_log *log);

uint64_t edit_log_last_txid(const edit_log *log);

/* Transactions appended since the last checkpoint (or since open). */
uint64_t edit_log_txns_since_checkpoint(const edit_log *log);

/* Writes image (its last_txid must equal the log's last txid; the log is
 * synced first), starts a new segment, and prunes old files as above, on
 * the calling thread.  EMBER_ESTATE while a job is out.  An image that
 * cannot be written returns its error and leaves the log usable. */
int edit_log_checkpoint(edit_log *log, const FsImage *image);

/* Loop's thread: a job syncing every record appended so far, in *job (NULL
 * when everything is durable already).  EMBER_EIO once failed,
 * EMBER_ESTATE while another job is out, EMBER_ENOMEM. */
int edit_log_sync_begin(edit_log *log, edit_log_job **job);

/* Loop's thread: a checkpoint job for image (as edit_log_checkpoint()),
 * the image encoded into the job before this returns.  Errors as
 * edit_log_sync_begin(), plus EMBER_EINVAL for an image of another txid
 * and EMBER_ETOOBIG over EDIT_LOG_IMAGE_MAX. */
int edit_log_checkpoint_begin(edit_log *log, const FsImage *image, edit_log_job **job);

/* Any thread, once per job: the fsync (and for a checkpoint the image,
 * the new segment and the pruning).  Reads only the job and the files. */
void edit_log_job_run(edit_log_job *job);

/* Loop's thread, after edit_log_job_run(): applies the job's outcome and
 * frees it.  Returns EMBER_OK; EMBER_EIO when the log failed (a failed
 * fsync or segment switch); for a checkpoint whose image could not be
 * written, that error, with the records synced all the same and the log
 * usable. */
int edit_log_job_finish(edit_log *log, edit_log_job *job);

/* Fault injection for tests: hook(arg) runs on the syncing thread before
 * every fdatasync of a segment (NULL: none); a non-zero return makes that
 * fdatasync fail as an I/O error would.  Set it while no job runs. */
void edit_log_set_sync_hook(int (*hook)(void *arg), void *arg);

#endif
