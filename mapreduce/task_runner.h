/* task_runner.h -- one map task, one reduce task, job setup and job
 * commit, as functions: the engine's single entry for both local mode
 * (job_runner.c runs every task in its own process) and the task process
 * of a distributed job (task_main.c runs one attempt in a container).
 *
 *   map      its input (chunks of files, or one generated record) through
 *            the job's map, setup and cleanup around, into a map output
 *            (DIR/file.out and its index, map_output.h) or, for a map-only
 *            job, into a part file
 *   reduce   n sorted IFile segments (however the caller got them: local
 *            map outputs, fetched segments, on disk or in memory) merged
 *            -- in passes, at most mapreduce.task.io.sort.factor files at
 *            once (merge_plan.h) -- grouped and reduced into a part file
 *   part     OUT/_temporary/ATTEMPT/part-X-NNNNN written, then closed and
 *            task-committed (renamed to OUT/_temporary/part-X-NNNNN, the
 *            attempt directory removed) or aborted (attempt dir removed)
 *   job      setup: OUT must not exist, OUT/_temporary made; commit: every
 *            OUT/_temporary/part-* moved into OUT, _temporary removed,
 *            _SUCCESS written last (Hadoop's FileOutputCommitter v1)
 *
 * While a map reads a chunk of a file, the task's configuration answers
 * mapreduce.map.input.file, .start and .length (Hadoop's names) and
 * ember.map.input.index (which input the file came from). */
#ifndef EMBER_MR_TASK_RUNNER_H
#define EMBER_MR_TASK_RUNNER_H

#include "job_lib.h"
#include "map_output.h"
#include "merge_plan.h"
#include "mr_fs.h"
#include "mr_reader.h"
#include "task.h"

/* The job's settings, read once from its configuration. */
typedef struct {
    uint32_t reduces;         /* mapreduce.job.reduces (1) */
    uint64_t sort_bytes;      /* mapreduce.task.io.sort.mb (100), in bytes */
    int merge_factor;         /* mapreduce.task.io.sort.factor (10) */
    mr_reader_options reader; /* the input format */
    const char *separator;    /* TextOutputFormat's; NULL: TAB */
    int raw_output;           /* ember.output.format=raw */
} mr_task_settings;

/* 0, or EMBER_ECONFIG with the bad key's message in err.  The strings in
 * out point into conf. */
int mr_task_settings_read(const mr_conf *conf, mr_task_settings *out, char *err, size_t errlen);

/* One byte range of an input file, as a map reads it. */
typedef struct {
    mr_path path;
    uint64_t offset, length;
    size_t input; /* which of the job's inputs it came from */
} mr_task_chunk;

/* A map's input: chunks, or one generated record (generated != NULL). */
typedef struct {
    const mr_task_chunk *chunks;
    size_t nchunks;
    const kv_record *generated;
} mr_task_input;

/* One task's context.  The caller fills the first block; the rest is the
 * runner's. */
typedef struct {
    const ember_job *job;
    const mr_conf *conf;
    const mr_task_settings *settings;
    mr_fs *fs;
    mr_counters *counters; /* the task's (local mode: the job's) */
    char *err;             /* the first failure's one-line reason */
    size_t errlen;
    /* Called now and then while records flow, with how far the current
     * phase is (0..1); may be NULL.  Local mode has none; the task
     * process reports progress through it. */
    void (*tick)(void *arg, double fraction);
    void *tick_arg;
    /* A reduce's merge: called (with tick_arg) now and then while its
     * intermediate passes run (done 0), and once they are over, before
     * the reduce starts (done 1); may be NULL (then tick hears of it). */
    void (*merging)(void *arg, int done);
    /* Bytes read and written, [0] HDFS, [1] local files. */
    uint64_t bytes_read[2], bytes_written[2];
    /* The chunk being read (in_file[0] == '\0': none). */
    char in_file[PATH_MAX + 16], in_start[24], in_length[24], in_index[24];
} mr_task_ctx;

/* Opens chunk for reading and makes it the task's current input (the
 * mapreduce.map.input.* keys).  0, or an error with err set. */
int mr_task_open_chunk(mr_task_ctx *c, const mr_task_chunk *chunk, mr_source **out);

/* An open part file of an attempt: OUT/_temporary/ATTEMPT/NAME. */
typedef struct {
    mr_text_writer w;
    mr_path attempt_dir, file;
    char name[32];
    int open; /* the writer is open */
} mr_task_part;

/* Creates OUT/_temporary/ATTEMPT/part-KIND-NNNNN (kind 'm' or 'r'). */
int mr_task_part_open(mr_task_ctx *c, const mr_path *output, const char *attempt, char kind,
                      uint32_t number, mr_task_part *p);
/* Flushes and closes the file (counting its bytes written). */
int mr_task_part_close(mr_task_ctx *c, mr_task_part *p);
/* Task commit: the closed file moves to OUT/_temporary/NAME and the
 * attempt directory goes. */
int mr_task_part_commit(mr_task_ctx *c, const mr_path *output, mr_task_part *p);
/* Drops the file and the attempt directory (a failed or refused attempt). */
void mr_task_part_abort(mr_task_ctx *c, mr_task_part *p);

/* Map task `number` into a map output in dir (which exists): its
 * file.out and file.out.index.  0, or an error with err set. */
int mr_task_map_to_output(mr_task_ctx *c, uint32_t number, const mr_task_input *in,
                          const char *dir);
/* Map task `number` of a map-only job into the open part file p. */
int mr_task_map_to_part(mr_task_ctx *c, uint32_t number, const mr_task_input *in, mr_task_part *p);

/* Reduce task `number` over n sorted IFile segments (in map order) into
 * the open part file p (setup, reduce, cleanup); intermediate merges go
 * to merge_dir and are gone on return.  Counts Spilled Records (what the
 * intermediate merges wrote).  0, or an error with err set. */
int mr_task_reduce(mr_task_ctx *c, uint32_t number, const merge_segment *segs, int n,
                   const char *merge_dir, mr_task_part *p);

/* Job setup: refuses an existing OUT ("Output directory URI already
 * exists", EMBER_EEXIST), else makes OUT/_temporary. */
int mr_task_setup_job(mr_fs *fs, const mr_path *output, char *err, size_t errlen);
/* Job commit: OUT/_temporary/part-* into OUT, _temporary removed,
 * _SUCCESS last. */
int mr_task_commit_job(mr_fs *fs, const mr_path *output, char *err, size_t errlen);

#endif
