/* task_shuffle.h -- a reduce attempt's shuffle in the task process: its
 * partition of every map's output, gathered through the umbilical
 * (MR_PROTOCOL.md, "Map outputs and the shuffle").
 *
 * Map output events are long-polled from the worker (TaskMapEventsRequest
 * from the next position); each map's latest live event says which
 * attempt to fetch and where.  A map output on the worker's own rank is
 * read straight from RUN_DIR/mr/JOBID/ATTEMPT/file.out (the reduce's own
 * output_dir's sibling) unless ember.shuffle.local.read=false; any other
 * (or a local read that fails) is asked of the worker with a
 * TaskFetchRequest, at most mapreduce.reduce.shuffle.parallelcopies (5)
 * in flight, and comes back as a memfd holding the segment, mapped and
 * read in place -- or, past the shuffle's memory
 * (mapreduce.reduce.shuffle.input.buffer.percent, 0.70, of the reduce's
 * memory, which also counts a compressed segment's inflate buffer),
 * copied to a file in the working directory (shuffle_NNNNNN.out, removed
 * by task_shuffle_free).  No descriptor is held per map: what the shuffle
 * gathers are segments (merge_segment), in memory or as a file's region,
 * which the reduce's merge opens at most mapreduce.task.io.sort.factor
 * files at a time (merge_plan.h), so thousands of maps do not exhaust
 * RLIMIT_NOFILE.
 *
 * Per map: WAIT (no live event) -> READY (an event) -> FETCHING (request
 * out) -> DONE, or -> BACKOFF on a failed fetch, READY again after 1 s,
 * 2 s, 4 s ... (at most 16 s) or at once on a newer event for the map;
 * an obsolete event for the attempt being fetched sends it back to WAIT
 * and the answer to its request is dropped.  A map that fails
 * TASK_SHUFFLE_MAX_FAILURES fetches in a row fails the reduce, as does
 * job_failed in an answer. */
#ifndef EMBER_MR_TASK_SHUFFLE_H
#define EMBER_MR_TASK_SHUFFLE_H

#include "ifile.h"
#include "job_lib.h"
#include "merge_plan.h"
#include "task.h"
#include "umbilical.h"

#define TASK_SHUFFLE_MAX_FAILURES 10

typedef struct task_shuffle task_shuffle;

typedef struct {
    umbilical *u;
    const TaskAssignment *a; /* kind REDUCE: task_index, maps, rank, output_dir */
    const mr_conf *conf;
    const char *work_dir;  /* where segments past the memory limit go */
    mr_counters *counters; /* Reduce shuffle bytes, Shuffled Maps, Failed Shuffles */
    /* Progress: maps gathered so far of all. */
    void (*progress)(void *arg, uint32_t done, uint32_t maps);
    void *progress_arg;
} task_shuffle_options;

/* Gathers every map's segment.  0 with *out (the segments:
 * task_shuffle_segments()), or an error with a one-line reason in err. */
int task_shuffle_run(const task_shuffle_options *o, task_shuffle **out, char *err, size_t errlen);

/* The segments, *n = maps of them in map order, owned by s (valid until
 * task_shuffle_free). */
const merge_segment *task_shuffle_segments(const task_shuffle *s, int *n);

/* Unmaps the segments in memory and removes the files it wrote; NULL is
 * fine. */
void task_shuffle_free(task_shuffle *s);

#endif
