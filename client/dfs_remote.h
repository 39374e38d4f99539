/* dfs_remote.h -- reading replicas through someone else than this
 * process's own TCP connections: a task's worker, over MPI (issue 10:
 * "what is remote goes through the worker"; mapreduce/task_block.c).
 *
 * With a remote reader set, a stream's reads that short-circuit cannot
 * serve go to it instead of the datanode's TCP port: one range of up to
 * DFS_REMOTE_WINDOW bytes at a time, from the location the stream chose
 * (the same order, dead-node list and bad-replica reports as over TCP).
 * The range comes whole chunks with their stored CRCs, which the stream
 * checks as it checks a packet's.  The range stays the stream's until it
 * calls release; one range is held per stream reader at a time. */
#ifndef EMBER_DFS_REMOTE_H
#define EMBER_DFS_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "ember/dfs.h"
#include "dfs.pb-c.h"

#define DFS_REMOTE_WINDOW (4u << 20) /* bytes asked for at a time */

typedef struct dfs_remote_range {
    const uint8_t *data;  /* len bytes of the block from `offset` (a chunk boundary) */
    uint64_t offset;
    size_t len;
    const uint32_t *crcs; /* the stored CRC32C of each 512-byte chunk of data */
    size_t ncrcs;
    void (*release)(struct dfs_remote_range *r); /* NULL once released */
    void *priv;                                  /* release's */
} dfs_remote_range;

typedef struct {
    /* Reads [offset, offset + len) of lb's replica on rank (offset < the
     * block's length; len within it), waiting up to timeout_ms: 0 with
     * *out covering at least the byte at offset; EMBER_ECORRUPT when that
     * replica failed its checksums; another code when the location failed
     * otherwise.  why says what went wrong. */
    int (*read)(void *arg, const LocatedBlock *lb, uint32_t rank, uint64_t offset, uint64_t len,
                int64_t timeout_ms, dfs_remote_range *out, char *why, size_t whylen);
    void *arg;
} dfs_remote_reader;

/* Sets (or, with NULL, clears) dfs's remote reader; the streams opened
 * from then on use it. */
void dfs_set_remote_reader(ember_dfs *dfs, const dfs_remote_reader *r);

#endif
