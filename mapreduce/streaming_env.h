/* streaming_env.h -- where and with what a streaming command runs: its
 * working directory (the job's -file files copied in) and its
 * environment, as Hadoop's PipeMapRed.configure() builds them.
 *
 * The environment, later entries replacing earlier ones of the same name:
 * this process's own; the job's configuration (streaming.h's
 * STREAMING_JOBCONF lines); the task's own keys -- mapreduce_job_id,
 * mapreduce_task_id, mapreduce_task_attempt_id, mapreduce_task_partition,
 * mapreduce_task_ismap and their mapred_* forms; the -cmdenv pairs
 * (stream.addenvironment); TMPDIR (DIR/tmp, as a container's ./tmp); and
 * PATH with DIR first, so a shipped program is found by its bare name as
 * Hadoop's PathFinder finds it. */
#ifndef EMBER_MR_STREAMING_ENV_H
#define EMBER_MR_STREAMING_ENV_H

#include <stddef.h>

#include "job_lib.h"

/* Writes STREAMING_JOBCONF into conf from its other keys. */
int streaming_env_jobconf(mr_conf *conf);

/* Makes the working directory of attempt: a new directory under
 * mapreduce.job.local.dir (else $TMPDIR, else /tmp) holding tmp/ and a
 * copy of every file named in tmpfiles (made executable, as Hadoop makes
 * the command's program).  Its path goes to dir; a reason to why on
 * failure (nothing is left behind then). */
int streaming_env_make_dir(ember_task *task, const char *attempt, char *dir, size_t dirlen,
                           char *why, size_t whylen);

/* Removes dir and everything in it. */
void streaming_env_remove_dir(const char *dir);

/* The child's environment (see above) as a NULL-terminated array the
 * caller frees with streaming_env_free(). */
int streaming_env_build(ember_task *task, const char *attempt, const char *dir, char ***env);

void streaming_env_free(char **env);

#endif
