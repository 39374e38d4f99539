/* job_driver.h -- a job's driver: what Hadoop's Tool.run() and JobClient
 * do around a job, for `ember run` and `ember jar`.
 *
 * The driver takes a job and its arguments, lets the job describe its run
 * (its configure hook, include/ember/mapreduce.h, or by default "IN...
 * OUT"), and runs it with job_runner.c.  configure may run other jobs
 * first (ember_setup_run(): grep's search before its sort), sample the
 * input (terasort's partition points), generate splits (teragen, pi) and
 * ask for temporary paths, removed when the job that asked ends.  Every
 * job run reports its start and end through the caller's callbacks (the
 * CLI prints "Running job", progress and counters), and gets the next id:
 * PREFIX_0001, PREFIX_0002, ... as Hadoop numbers a client's jobs. */
#ifndef EMBER_MR_JOB_DRIVER_H
#define EMBER_MR_JOB_DRIVER_H

#include "job_lib.h"
#include "job_runner.h"

typedef struct mr_driver mr_driver;
struct mr_driver {
    mr_fs *fs;
    /* A path as the command line writes it ("file:..." or HDFS) as an
     * mr_path; may connect fs to the cluster.  0, or an error in err. */
    int (*resolve)(mr_driver *d, const char *text, mr_path *out, char *err, size_t errlen);
    const mr_conf *conf;   /* the command's -D values, for every job */
    const char *tmp_dir;   /* local: work directories, local temporary paths */
    const char *id_prefix; /* "job_local123456789" */
    /* Reports; each may be NULL.  on_end gets rc 0 or the job's error. */
    void (*on_start)(mr_driver *d, const char *job_id, const char *name);
    void (*on_progress)(void *arg, double map, double reduce); /* arg = d */
    void (*on_end)(mr_driver *d, const char *job_id, int rc, const mr_counters *counters,
                   const char *err);
    /* Runs one job instead of this process (NULL: local mode,
     * mr_job_run()): the cluster's path, which names the job itself
     * (setting mapreduce.job.id in conf) and reports its start and end
     * through on_start/on_end; errors it prints itself. */
    int (*run)(mr_driver *d, const mr_job_spec *spec, mr_conf *conf, mr_counters *counters);
    void *arg;     /* the caller's */
    uint32_t jobs; /* run so far (the last id's number) */
};

/* Runs job with its arguments.  0 when it, and every job its configure
 * ran, succeeded.  EMBER_EUSAGE for bad arguments, with the job's usage
 * arguments ("<in> [<in>...] <out>") in err.  Another error: err holds a
 * reason not yet reported through on_end, or is empty (a job that failed
 * and said so).  counters (may be NULL) gets the job's counters. */
int mr_driver_run(mr_driver *d, const ember_job *job, int argc, const char *const *argv,
                  mr_counters *counters, char *err, size_t errlen);

#endif
