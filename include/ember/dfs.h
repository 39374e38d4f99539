/* ember/dfs.h -- the file system client library (HDFS's DFSClient).
 *
 * External programs link this to use a cluster's file system.  A handle
 * holds one authenticated connection to the namenode; calls are
 * synchronous, each bounded by a timeout, and return 0 or a negative
 * EMBER_E* code (common/error.h), with the namenode's one-line message
 * (Hadoop's wording, e.g. "`/a': No such file or directory") available from
 * ember_dfs_last_error().  Paths are absolute ("/a/b").
 *
 * Namespace calls (directories, listing, rename, delete, attributes) and
 * file streams: a file is written once, block by block, through a
 * pipeline of datanodes (ember_dfs_create / write / close), and read from
 * any replica with every checksum verified (ember_dfs_open / read).
 *
 * Threads.  A handle is used by one application thread at a time, and so
 * is each stream (ember_dfs_file); different streams of one handle may be
 * used from different threads only if the application serializes its
 * calls on the handle (the namespace calls and ember_dfs_last_error()
 * share it).  The library runs one thread of its own per handle once a
 * file is opened for writing through it: the lease renewer, which renews
 * the handle's lease and keeps idle write pipelines alive with heartbeat
 * packets while any writer is open (see "Leases" below), until
 * ember_dfs_close().  It never touches what ember_dfs_last_error() and
 * ember_dfs_last_warning() return. */
#ifndef EMBER_DFS_H
#define EMBER_DFS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ember_dfs ember_dfs;

typedef struct {
    char *path;            /* full path (stat) or name (listing); malloc'd */
    int is_dir;
    uint64_t length;
    uint32_t replication;
    uint64_t block_size;
    int64_t mtime_ms;
    int64_t atime_ms;
    uint32_t mode;
    char owner[64];
    char group[64];
    uint32_t children;
    int under_construction; /* files: open for writing (fsck -openforwrite) */
} ember_file_status;

/* Connects to the cluster whose run directory is run_dir (see
 * ember/client.h).  On failure err gets a one-line reason. */
int ember_dfs_connect(const char *run_dir, ember_dfs **out, char *err, size_t errlen);

/* As ember_dfs_connect(), for a task process: to its job's gateway,
 * authenticated with the job's token (ember/client.h). */
typedef struct ember_job_credentials ember_job_credentials;
int ember_dfs_connect_job(const ember_job_credentials *job, ember_dfs **out, char *err,
                          size_t errlen);

/* Stops and joins the handle's renewer thread (if it started), closes the
 * connection and frees dfs.  Close the handle's streams first. */
void ember_dfs_close(ember_dfs *dfs);

/* The message of the last failed call ("" after a success). */
const char *ember_dfs_last_error(const ember_dfs *dfs);
/* A warning the namenode attached to the last call ("" when none), such as
 * a replication capped to the number of core nodes. */
const char *ember_dfs_last_warning(const ember_dfs *dfs);

int ember_dfs_mkdirs(ember_dfs *dfs, const char *path, uint32_t mode, int create_parents);

typedef struct {
    uint32_t mode;         /* 0: 0644 */
    uint32_t replication;  /* 0: the cluster's dfs.replication */
    uint64_t block_size;   /* 0: the cluster's dfs.blocksize */
    int overwrite;
    int create_parents;
} ember_create_options;

/* Creates an empty file (hadoop fs -touchz).  opts may be NULL. */
int ember_dfs_create_empty(ember_dfs *dfs, const char *path, const ember_create_options *opts);

/* Fills *out; free out->path with ember_dfs_free_status(). */
int ember_dfs_stat(ember_dfs *dfs, const char *path, ember_file_status *out);
void ember_dfs_free_status(ember_file_status *st);

/* Every entry of a directory (or the file itself), in name order, fetched
 * page by page.  Free with ember_dfs_free_list(). */
int ember_dfs_list(ember_dfs *dfs, const char *path, ember_file_status **entries, size_t *count);
void ember_dfs_free_list(ember_file_status *entries, size_t count);

/* Every path that matches a Hadoop glob (absolute: `*`, `?`, `[abc]`,
 * `[a-z]`, `[^a]`, `{a,b}` nested, `\` escapes, in any component),
 * sorted, into *paths (malloc'd array of malloc'd strings; free each and
 * the array).  *n == 0 when nothing matched.  EMBER_EINVAL for a malformed
 * pattern, with Hadoop's wording in ember_dfs_last_error(). */
int ember_dfs_glob(ember_dfs *dfs, const char *pattern, char ***paths, size_t *n);

/* Renames with HDFS's rules (into dst when it is a directory); the final
 * path comes back in final_dst when not NULL (final_len bytes). */
int ember_dfs_rename(ember_dfs *dfs, const char *src, const char *dst, char *final_dst,
                     size_t final_len);
int ember_dfs_delete(ember_dfs *dfs, const char *path, int recursive);
int ember_dfs_setrep(ember_dfs *dfs, const char *path, uint32_t replication);
int ember_dfs_chmod(ember_dfs *dfs, const char *path, uint32_t mode);
/* NULL or "" leaves owner or group unchanged. */
int ember_dfs_chown(ember_dfs *dfs, const char *path, const char *owner, const char *group);
/* Sets path's modification and access times (ms since the epoch; a
 * negative one is left as it is), as HDFS's setTimes: the caller needs
 * WRITE access to path. */
int ember_dfs_set_times(ember_dfs *dfs, const char *path, int64_t mtime_ms, int64_t atime_ms);

/* Whether the caller may access path as access asks (bits as in a mode:
 * 4 read, 2 write, 1 execute), as the namenode would check it (HDFS's
 * checkAccess): 0, EMBER_EACCES with the denial in
 * ember_dfs_last_error(), or another error (EMBER_ENOENT). */
int ember_dfs_check_access(ember_dfs *dfs, const char *path, int access);

/* Truncates a complete file to new_length <= its length (HDFS's
 * truncate).  *done is 1 when the file is complete at new_length now (a
 * block boundary: the blocks past it are dropped); 0 when new_length falls
 * inside a block, which the datanodes are cutting (block recovery): the
 * file stays under construction, its length that of its whole blocks,
 * until then.  EMBER_EINVAL for a larger length, EMBER_EISDIR. */
int ember_dfs_truncate(ember_dfs *dfs, const char *path, uint64_t new_length, int *done);

/* Totals under path: files, directories, bytes, and the space they
 * consume with their replicas (each file's bytes times its replication;
 * space may be NULL). */
int ember_dfs_content_summary(ember_dfs *dfs, const char *path, uint64_t *files, uint64_t *dirs,
                              uint64_t *bytes, uint64_t *space);

/* One block of a file and its live replicas (for fsck): the good ones
 * first, then those the namenode holds corrupt. */
typedef struct {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t offset;
    uint64_t length;
    int nreplicas;        /* good replicas: ranks[0 .. nreplicas) */
    int ncorrupt;         /* corrupt ones: ranks[nreplicas .. nreplicas + ncorrupt) */
    int ranks[16];
    char hosts[16][64];   /* "host:port" of each replica's datanode */
} ember_block_location;

/* Every block of a file with its live replicas, corrupt ones included;
 * free(*blocks). */
int ember_dfs_block_locations(ember_dfs *dfs, const char *path, ember_block_location **blocks,
                              size_t *count);

/* The namenode's settings a client follows (HDFS's getServerDefaults). */
typedef struct {
    int64_t trash_interval_ms; /* fs.trash.interval: 0 = the namenode keeps no trash */
} ember_dfs_defaults;
int ember_dfs_server_defaults(ember_dfs *dfs, ember_dfs_defaults *out);

/* Safe mode: action 0 = get, 1 = enter, 2 = leave; *on gets the state. */
int ember_dfs_safe_mode(ember_dfs *dfs, int action, int *on);

/* ---- file streams ---------------------------------------------------- */

typedef struct ember_dfs_file ember_dfs_file;

/* Creates path and opens it for writing.  Until ember_dfs_close_file()
 * completes it, readers see the blocks already finished (the length grows
 * a block at a time), never a block still being written.  opts may be
 * NULL. */
int ember_dfs_create(ember_dfs *dfs, const char *path, const ember_create_options *opts,
                     ember_dfs_file **out);

/* Appends len bytes.  Data moves to the datanodes in 64 KiB packets as it
 * comes; 0 means accepted, not yet durable. */
int ember_dfs_write(ember_dfs_file *f, const void *data, size_t len);

/* Waits until every byte written so far is acknowledged by every datanode
 * of the current pipeline. */
int ember_dfs_hflush(ember_dfs_file *f);

/* As hflush, and every datanode of the pipeline has fsynced the block
 * being written -- its data and its checksums -- before acknowledging
 * (HDFS's hsync).  Like HDFS's, it syncs the current block: blocks
 * finished earlier were synced at their end only when the datanodes run
 * with dfs.datanode.synconclose. */
int ember_dfs_hsync(ember_dfs_file *f);

/* Opens an existing file for appending (HDFS's append): writes continue
 * at its end -- in its last block while that has room, through the
 * block's current replicas -- and close completes it again. */
int ember_dfs_append(ember_dfs *dfs, const char *path, ember_dfs_file **out);

/* Leases.  Every writer of a handle holds the file's lease in the
 * handle's client name.  The library's renewer thread renews it while any
 * writer of the handle is open, whether the program writes or not (every
 * half soft limit, as the namenode says), and sends a heartbeat packet
 * down each writer's pipeline that has carried nothing for half the
 * datanodes' dfs.datanode.socket.timeout, so an open file may sit idle
 * for as long as the program likes.  ember_dfs_renew_lease() renews at
 * once.  A process that stops (killed, or stopped) stops renewing, and
 * loses its files to lease recovery after the hard limit (then closed at
 * a length every datanode of the last block has). */
const char *ember_dfs_client_name(const ember_dfs *dfs);
int ember_dfs_renew_lease(ember_dfs *dfs);

/* Recovers the lease of a file left open by a writer (hdfs debug
 * recoverLease): *closed is 1 when the file is closed now, 0 when recovery
 * has started (ask again a little later). */
int ember_dfs_recover_lease(ember_dfs *dfs, const char *path, int *closed);

/* Opens an existing file for reading. */
int ember_dfs_open(ember_dfs *dfs, const char *path, ember_dfs_file **out);

/* Short-circuit local reads (dfs.client.read.shortcircuit, on by
 * default): a reader on a datanode's host gets the replica's files from
 * the datanode's unix socket and reads them itself, every checksum
 * verified, falling back to TCP whenever that is not possible.  on = 0
 * makes the handle's readers use TCP only. */
void ember_dfs_set_short_circuit(ember_dfs *dfs, int on);

/* How long the handle's streams wait for a datanode
 * (dfs.client.socket-timeout, 60 s by default; ms > 0): a reader for
 * each packet; a writer for each ack of a pipeline of N datanodes this
 * plus 5 s per datanode, and at least what the first datanode waits for
 * the nodes after it plus that, so that the node next to a fault is the
 * one blamed for it (HDFS's READ_TIMEOUT_EXTENSION). */
void ember_dfs_set_socket_timeout(ember_dfs *dfs, int64_t ms);

/* Reads up to len bytes at the current position; *got is 0 at the end. */
int ember_dfs_read(ember_dfs_file *f, void *buf, size_t len, size_t *got);

/* Reads at offset without moving the position. */
int ember_dfs_pread(ember_dfs_file *f, void *buf, size_t len, uint64_t offset, size_t *got);

int ember_dfs_seek(ember_dfs_file *f, uint64_t offset);

/* The file's length (for a writer: bytes written so far). */
uint64_t ember_dfs_file_length(const ember_dfs_file *f);

/* Closes a stream; for a writer, finishes the last block and completes the
 * file (a failure here means the file is not complete).  Frees f. */
int ember_dfs_close_file(ember_dfs_file *f);

/* ---- file checksums (hadoop fs -checksum) ----------------------------- */

#define EMBER_DFS_CHECKSUM_LEN 28 /* Hadoop's MD5MD5CRC32FileChecksum.LENGTH */

/* A file's checksum, HDFS's MD5MD5CRC32FileChecksum: equal for equal
 * content written with equal block sizes, in ember or in Hadoop. */
typedef struct {
    char algorithm[64]; /* "MD5-of-<crcPerBlock>MD5-of-512CRC32C" */
    uint8_t bytes[EMBER_DFS_CHECKSUM_LEN]; /* big-endian bytesPerCRC (4), crcPerBlock (8), MD5 */
    size_t length;                         /* bytes used: EMBER_DFS_CHECKSUM_LEN */
} ember_dfs_checksum;

/* Computes path's checksum as Hadoop's DFSClient.getFileChecksum does:
 * each block's MD5-of-CRCs from one of its datanodes (trying the replicas
 * in order, every chunk verified there), then the MD5 of those.  A file
 * without blocks gets Hadoop's fixed "MD5-of-0MD5-of-0CRC32" value.
 * EMBER_EISDIR for a directory, EMBER_EIO when a block's replicas all
 * failed. */
int ember_dfs_get_checksum(ember_dfs *dfs, const char *path, ember_dfs_checksum *out);

#endif
