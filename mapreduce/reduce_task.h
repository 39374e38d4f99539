/* reduce_task.h -- a reduce task's core: merge its partition of every map
 * output, group, reduce, write the output records.
 *
 * Inputs are IFile segments (the partition's segment of each map's
 * file.out), given as open streams: readers over local files (a local
 * fetch, or segments fetched to disk) or over memory (fetched segments).
 * They are merged with the job's sort order, grouped with its grouping
 * comparator, and fed to its reduce function (identity when it has none:
 * every pair out as it came, in order); what reduce emits goes to the
 * output writer.  Counters as Hadoop's: Reduce input groups, Reduce input
 * records, Reduce output records. */
#ifndef EMBER_MR_REDUCE_TASK_H
#define EMBER_MR_REDUCE_TASK_H

#include "task.h"

/* Where output records go: TextOutputFormat's "key TAB value" lines (see
 * mr_output.h), or anything else with this shape. */
typedef struct {
    mr_emit_fn write;
    void *arg;
} mr_record_sink;

typedef struct {
    uint64_t input_groups, input_records, output_records;
} reduce_stats;

/* Runs reduce over the merge of k sorted input streams.  task is the
 * reduce's (its counters and configuration); its emit is set here. */
int reduce_run(const ember_job *job, ember_task *task, kv_stream **inputs, int k,
               const mr_record_sink *out, reduce_stats *stats);

#endif
