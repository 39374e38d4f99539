/* job_submit.h -- what a client does before the cluster runs its job
 * (Hadoop's JobSubmitter): cut the input into splits that know where
 * their blocks are, stage the job's code and files in HDFS, and describe
 * the whole job in one JobDescription (proto/job.proto) for
 * SubmitJobRequest.
 *
 * Splits are computed as local mode computes them (mr_split.h, small
 * files combined), but with each HDFS file's block locations, so a split
 * names the ranks holding its main block (Split.ranks: the scheduler's
 * node-local test), their hosts, and the block (the worker places the
 * map's cores near that block's disk).  A job that reads no files gets a
 * split per generated record.
 *
 * Staging: the library (or nothing, for a built-in job) and every file
 * named are copied to /tmp/ember/staging/USER/JOBID/ (mode 0700); the
 * job cleanup task removes that directory.  The description carries the
 * staged paths, every configuration pair, the reduce count and each
 * task's container size (mapreduce.{map,reduce}.{cpu.vcores,memory.mb}). */
#ifndef EMBER_MR_JOB_SUBMIT_H
#define EMBER_MR_JOB_SUBMIT_H

#include "job.pb-c.h"
#include "job_runner.h"

/* The library of a job built into ember (streaming). */
#define MR_BUILTIN_PREFIX "builtin:"

typedef struct {
    const mr_job_spec *spec; /* inputs, output, configuration, generated records; spec->fs
                                is connected to the cluster */
    const char *job_id;      /* the scheduler's (NewJobIdResponse) */
    const char *user;        /* whose staging directory */
    /* The job's code: a local path of its shared library, or
     * MR_BUILTIN_PREFIX NAME.  For a library, job_offset is the offset of
     * spec->job from the library's load base (set as ember.job.offset). */
    const char *library;
    uint64_t job_offset;
    const char *const *files; /* local files the tasks need beside them (streaming -file) */
    size_t nfiles;
} mr_submit_spec;

/* Plans, stages and describes.  *out is the caller's, freed with
 * mr_submit_free() (also after a failure).  0, or an error with a
 * one-line reason in err (Hadoop's wording for a missing input or an
 * existing output). */
int mr_submit_describe(const mr_submit_spec *s, JobDescription **out, char *err, size_t errlen);

/* Frees a description made by mr_submit_describe(); accepts NULL. */
void mr_submit_free(JobDescription *d);

/* The staging directory of a job ("/tmp/ember/staging/USER/JOBID"). */
int mr_submit_staging_dir(const char *user, const char *job_id, char *out, size_t len);

#endif
