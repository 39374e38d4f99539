/* cli_job.h -- submitting a MapReduce job from the CLI, shared by `ember
 * jar` and `ember run` (cli_job.c) and `ember streaming`
 * (cli_streaming.c). */
#ifndef EMBER_CLI_JOB_H
#define EMBER_CLI_JOB_H

#include <jansson.h>

#include "cli.h"
#include "mapreduce/job_driver.h"
#include "mapreduce/job_runner.h"

/* A job's path argument: "file:..." is local (relative to the working
 * directory when not absolute), anything else an HDFS path.  0, or
 * EMBER_EINVAL with a one-line reason in err. */
int cli_job_path(const cli_env *env, const char *arg, mr_path *out, char *err, size_t errlen);

/* Runs job in local mode over inputs into output: connects to the
 * cluster when a path is on HDFS, names the job (mapreduce.job.id and its
 * scratch directory mapreduce.job.local.dir, both set in conf for the
 * tasks), shows the progress line, then the counters.  Returns the exit
 * status (0 only when the job succeeded) after printing at most the
 * job's error line. */
int cli_job_submit(cli_env *env, const ember_job *job, mr_conf *conf, const mr_path *inputs,
                   size_t ninputs, const mr_path *output, const char *builtin, int async);

/* The cluster's path for a job (mapreduce.framework.name=yarn;
 * cli_job_remote.c): the driver's run hook, with the driver's arg
 * pointing at this. */
typedef struct {
    const char *run_dir;
    ember_client *client; /* connected at the first job; the caller closes it */
    const char *builtin;  /* a job built into ember ("streaming"), else NULL */
    const char *library;  /* the job library's path (ember jar/run), else NULL */
    const ember_job *top; /* the command's job (the driver's others are waited for) */
    int async;            /* --async: print the job id once submitted, do not wait */
    int reported;         /* a submission failed and said why */
} cli_job_remote;

int cli_job_remote_run(mr_driver *d, const mr_job_spec *spec, mr_conf *conf,
                       mr_counters *counters);

/* `ember job -history JOBID [--svg FILE]` (cli_job_history.c): the job's
 * record from /ember/history/JOBID.json, printed, or its timeline drawn
 * into FILE ("-": stdout).  Returns the exit status. */
int cli_job_history(cli_env *env, const char *job_id, const char *svg);

/* Writes the timeline of a history record as SVG to path (cli_job_svg.c);
 * the exit status. */
int cli_job_history_svg(json_t *history, const char *path);

#endif
