/* map_output.h -- a map task's output collector (Hadoop's MapOutputBuffer):
 * partitions every pair the map emits, sorts them in the sort buffer,
 * spills it to disk when full (the combiner applied per spill), and at
 * the end merges the spills (the combiner applied again when there are at
 * least three) into one file of one segment per partition plus its index:
 *     DIR/file.out, DIR/file.out.index      (ifile.h's formats)
 * Spills are DIR/spillN.out(.index), removed once merged; more of them
 * than mapreduce.task.io.sort.factor are merged in passes, at most that
 * many open at once, through DIR/file.out.P.mergeN (merge_plan.h; the
 * combiner on the final pass only).  A record too large for the sort
 * buffer is not refused: it is spilled alone.
 *
 * A job with a combiner is combined in a hash table before anything is
 * sorted (combine_table.h; ember.map.combine.hash=false: Hadoop's way,
 * the sort buffer and the combiner per spill).  The task's configuration
 * may ask for compressed output: mapreduce.map.output.compress=true,
 * mapreduce.map.output.compress.codec lz4 (the default) or zstd, by
 * Hadoop's class names too; map_output_open() refuses another value
 * (EMBER_EINVAL, logged).
 *
 * Memory: the sort buffer's budget, the merge's read buffers (at most
 * MAP_OUTPUT_MERGE_MEMORY in all, after the sort buffer is freed) and the
 * writers' 1 MiB each (file.out's, an intermediate file's). */
#ifndef EMBER_MR_MAP_OUTPUT_H
#define EMBER_MR_MAP_OUTPUT_H

#include "ifile.h"
#include "task.h"

#define MAP_OUTPUT_MERGE_MEMORY (32u << 20)

typedef struct {
    const char *dir;      /* exists; the collector writes only its files there */
    uint32_t partitions;  /* >= 1 */
    size_t sort_bytes;    /* mapreduce.task.io.sort.mb, in bytes */
    int merge_factor;     /* mapreduce.task.io.sort.factor; 0: Hadoop's 10 */
    const ember_job *job; /* partition, sort_compare, combine */
    ember_task *task;     /* the map task: its counters and configuration */
} map_output_options;

/* Hadoop's counters of the map side, also added to the task's counters
 * under MR_GROUP_TASK by map_output_finish(). */
typedef struct {
    uint64_t output_records, output_bytes, materialized_bytes, spilled_records;
    uint64_t combine_input, combine_output, spills;
} map_output_stats;

typedef struct map_output map_output;

int map_output_open(const map_output_options *o, map_output **out);

/* Takes one pair (copied).  EMBER_EINVAL when the job's partitioner
 * answers a partition out of range; a disk error as EMBER_EIO. */
int map_output_collect(map_output *m, const void *key, size_t key_len, const void *value,
                       size_t value_len);

/* Spills what is buffered, merges every spill into file.out and its index,
 * and reports the counters. */
int map_output_finish(map_output *m, map_output_stats *stats);

/* Frees the collector and removes its spill files (not file.out). */
void map_output_free(map_output *m);

#endif
