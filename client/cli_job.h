/* cli_job.h -- submitting a MapReduce job from the CLI, shared by `ember
 * jar` and `ember run` (cli_job.c) and `ember streaming`
 * (cli_streaming.c). */
#ifndef EMBER_CLI_JOB_H
#define EMBER_CLI_JOB_H

#include "cli.h"
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
                   size_t ninputs, const mr_path *output);

#endif
