/* task.h -- what an ember_task and an ember_values are inside (the job API
 * of include/ember/mapreduce.h sees them opaque), counters, and the one
 * grouping loop that feeds combine and reduce functions.
 *
 * A task routes ember_emit() through its emit function: the map output
 * collector for a map, a segment writer for a combiner, the output file
 * for a reduce.  Counters are (group, name) -> value, few enough that a
 * list serves. */
#ifndef EMBER_MR_TASK_H
#define EMBER_MR_TASK_H

#include "kv.h"

/* Hadoop's display names of its framework counter groups. */
#define MR_GROUP_TASK "Map-Reduce Framework"
#define MR_GROUP_FS "File System Counters"
#define MR_GROUP_JOB "Job Counters"

/* Hadoop's peak counters (Map-Reduce Framework): a task's largest resident
 * set, in bytes.  A job's value is the largest of its tasks', not their
 * sum (scheduler/job_report.c). */
/* Bytes of HDFS replicas a task read through its worker (over MPI from
 * the rank holding them: task_block.h), a part of "HDFS: Number of bytes
 * read" (the rest came from replicas on the task's host). */
#define MR_COUNTER_HDFS_THROUGH_WORKER "HDFS: Number of bytes read through the worker"
#define MR_COUNTER_PEAK_MAP_RSS "Peak Map Physical memory (bytes)"
#define MR_COUNTER_PEAK_REDUCE_RSS "Peak Reduce Physical memory (bytes)"

typedef struct {
    char *group, *name;
    int64_t value;
} mr_counter;

typedef struct {
    mr_counter *v;
    size_t n, cap;
} mr_counters;

void mr_counters_add(mr_counters *c, const char *group, const char *name, int64_t delta);
/* 0 for a counter never added to. */
int64_t mr_counters_get(const mr_counters *c, const char *group, const char *name);
void mr_counters_free(mr_counters *c);

typedef int (*mr_emit_fn)(void *arg, const void *key, size_t key_len, const void *value,
                          size_t value_len);
/* Looks up a configuration key for ember_conf(); NULL when unset. */
typedef const char *(*mr_conf_fn)(void *arg, const char *key);

struct ember_task {
    mr_emit_fn emit;
    void *emit_arg;
    mr_counters *counters;
    mr_conf_fn conf;
    void *conf_arg;
    uint32_t number;
    int is_map;
    int64_t progress_ms; /* last sign of life (ember_progress(), records) */
    /* A built-in job's own state for this task (streaming keeps its child
     * process here); NULL when the task starts, and the job's to free. */
    void *job_data;
};

struct ember_values {
    kv_stream *in;
    kv_record cur; /* the record at hand */
    int unread;    /* cur is the group's, not yet handed out */
    int ended;     /* the group is over */
    int state;     /* after the group: 1 cur starts the next, 0 end, <0 error */
    uint8_t *gkey; /* the group's first key, copied */
    size_t gkey_len, gkey_cap;
    ember_compare_fn group_cmp;
    uint64_t records; /* read from in, this group and before */
};

typedef struct {
    uint64_t records, groups; /* read from the stream; handed to fn */
} mr_group_stats;

/* Calls fn once per group of in's records (consecutive keys group_cmp
 * calls equal; NULL: bytes), as reduce and combine are called, draining
 * whatever values fn leaves unread.  0, fn's non-zero return (as
 * EMBER_EINVAL: the job failed the task), or the stream's error; stats
 * (may be NULL) gets what was read. */
int mr_group_each(kv_stream *in, ember_compare_fn group_cmp, ember_reduce_fn fn, ember_task *task,
                  mr_group_stats *stats);

/* For a function mr_group_each() called, once it has read every value of
 * its group: 1 when no group follows (the stream ended or failed), 0 when
 * another does.  A combiner that runs a process per stream (streaming)
 * ends it on the last group. */
int mr_values_last_group(const ember_values *values);

#endif
