/* job_runner.h -- runs a MapReduce job in this process: Hadoop's local
 * mode (mapreduce.framework.name=local, Hadoop's own default), on HDFS or
 * local files.  Every map task, then every reduce task, one after the
 * other, with the same engine a distributed task uses (map_output.c,
 * reduce_task.c) and Hadoop's commit protocol:
 *
 *   OUT exists                  -> refused before anything runs
 *   task attempt writes         OUT/_temporary/attempt_ID/part-*
 *   task commit                 renames it to OUT/_temporary/part-*
 *   job commit                  renames each to OUT/part-*, removes
 *                               OUT/_temporary, writes OUT/_SUCCESS last
 *   any failure                 removes OUT entirely: no part file of a
 *                               failed job is ever visible
 *
 * Map outputs (file.out per map) live in a local work directory, removed
 * at the end.  Counters are Hadoop's names and groups.
 *
 * A map task reads a split of the inputs, or, for a job that reads no
 * files (teragen, pi), one generated record.  While a map reads a chunk of
 * a file, the task's configuration answers mapreduce.map.input.file,
 * .start and .length (Hadoop's names) and ember.map.input.index (which
 * input the file came from).  Output is TextOutputFormat's lines, or raw
 * key and value bytes with ember.output.format=raw. */
#ifndef EMBER_MR_JOB_RUNNER_H
#define EMBER_MR_JOB_RUNNER_H

#include "job_lib.h"
#include "mr_fs.h"
#include "task.h"

typedef struct {
    const ember_job *job;
    const mr_conf *conf; /* -D pairs: reduces, sort buffer, formats, ... */
    mr_fs *fs;
    const mr_path *inputs; /* files, directories or globs */
    size_t ninputs;
    mr_path output;
    const char *work_dir; /* local scratch; created and removed */
    const char *job_id;   /* "job_local<...>" */
    /* Called after each task with the fractions done; may be NULL. */
    void (*progress)(void *arg, double map, double reduce);
    void *progress_arg;
    /* A job that reads no files: a map task per record, its map called
     * once with it (ninputs must be 0). */
    const kv_record *generated;
    size_t ngenerated;
    /* Temporary paths the driver removes when the job ends (the cluster's
     * path must wait for such a job even with --async). */
    size_t ntemps;
} mr_job_spec;

/* 0 when the job succeeded; else an error with a one-line reason in err
 * and nothing left in OUT. */
int mr_job_run(const mr_job_spec *spec, mr_counters *counters, char *err, size_t errlen);

/* Reads a sample of spec's inputs with its input format, as TeraSort's
 * sampler does: n = min(max_splits, splits) splits, every (splits / n)th
 * from the first, up to max_records / n records from each (at least one),
 * handed to fn in order.  Only the inputs, configuration and fs of spec
 * are used.  0, fn's non-zero return, or an error with err set. */
int mr_job_sample(const mr_job_spec *spec, uint64_t max_records, uint32_t max_splits,
                  ember_record_fn fn, void *arg, char *err, size_t errlen);

#endif
