/* task_block.h -- a task's reads of replicas its host cannot serve, through
 * its worker (issue 10: "what is remote goes through the worker").
 *
 * The task's dfs handle gets a remote reader (client/dfs_remote.h): a
 * range short-circuit cannot serve becomes a TaskBlockReadRequest on the
 * umbilical; the worker has the rank holding the replica read it and
 * hands the bytes back in a memfd with the chunks' CRCs
 * (TaskBlockReadResponse), which the dfs stream checks.  While a range is
 * being read, the next one of the same block is already asked for (one
 * read-ahead), so a map reading its split sequentially does not wait for
 * the network between ranges.  Blocking, on the task's one thread, as
 * the umbilical is. */
#ifndef EMBER_MR_TASK_BLOCK_H
#define EMBER_MR_TASK_BLOCK_H

#include <stdint.h>

#include "client/dfs_remote.h"
#include "umbilical.h"

typedef struct {
    umbilical *u;
    uint64_t next_id;
    /* the read-ahead out: its request id (0: none) and what it asks */
    uint64_t ahead_id;
    uint64_t ahead_block, ahead_offset;
    uint32_t ahead_rank;
    uint64_t bytes; /* received through the worker */
} task_block;

/* Sets dfs's remote reader to go through u (b lives as long as dfs). */
void task_block_init(task_block *b, umbilical *u, ember_dfs *dfs);

#endif
