/* streaming.h -- Hadoop Streaming as a built-in job (`ember streaming`):
 * the map, reduce and combine functions are commands, each run through
 * /bin/sh -c as a child process (stream_process.h) that reads records as
 * lines on its stdin and writes "key<TAB>value" lines on its stdout.
 *
 * One child per map task and per reduce task (started by the task's
 * setup, ended by its cleanup), and one per partition of each spill for
 * the combiner, as Hadoop's PipeMapper, PipeReducer and PipeCombiner run
 * them.  Each child runs in a working directory of its own, under
 * mapreduce.job.local.dir, holding copies of the job's -file files (and
 * that directory comes first on its PATH, so `-mapper script.sh -file
 * script.sh` finds it); removed when the child is done.
 *
 * What a child reads: a map's records, as TextInputWriter writes them --
 * the value alone for text input (stream.map.input.ignoreKey, true for
 * text input only), else key SEP value (stream.map.input.field.separator,
 * TAB) -- one a line; a reduce's or combiner's sorted records as key SEP
 * value lines (stream.reduce.input.field.separator), a key's values on
 * consecutive lines.  What it writes: lines cut into key and value after
 * the Nth separator (stream.map.output.field.separator and
 * stream.num.map.output.key.fields for a map, 1 TAB by default; the
 * stream.reduce.output.* pair for a reduce and a combiner); a line with
 * fewer is all key, with an empty value.  Its stderr is copied to ours,
 * except Hadoop's "reporter:counter:GROUP,NAME,AMOUNT" lines, which add to
 * the job's counters, and "reporter:status:..." lines.
 *
 * A child that exits non-zero or dies of a signal fails its task
 * (Hadoop's "subprocess failed with code N"; 128 + the signal for a
 * signal; stream.non.zero.exit.is.failure=false only logs it), as does
 * one that stops reading its input while records are still being written
 * to it ("Broken pipe"), or that shows no sign of life for
 * mapreduce.task.timeout ms (default 600000; 0: never).
 *
 * Everything a task needs is in the job's configuration, under Hadoop's
 * names where Hadoop has one (StreamJob puts it in the JobConf the same
 * way), so a task needs nothing else wherever it runs:
 *   stream.map.streamprocessor      the mapper command (required)
 *   stream.reduce.streamprocessor   the reducer command (unset: identity)
 *   stream.combine.streamprocessor  the combiner command (optional)
 *   stream.addenvironment           -cmdenv pairs, "NAME=VALUE ..."
 *   tmpfiles                        -file paths, ','-separated
 *   ember.streaming.jobconf         the job's configuration as the
 *                                   children's environment: NAME=VALUE
 *                                   lines, NAME the key with every byte
 *                                   other than a letter or digit made '_'
 *                                   (Hadoop's safeEnvVarName), written by
 *                                   streaming_job_prepare(). */
#ifndef EMBER_MR_STREAMING_H
#define EMBER_MR_STREAMING_H

#include "job_lib.h"

#define STREAMING_MAP_COMMAND "stream.map.streamprocessor"
#define STREAMING_REDUCE_COMMAND "stream.reduce.streamprocessor"
#define STREAMING_COMBINE_COMMAND "stream.combine.streamprocessor"
#define STREAMING_CMDENV "stream.addenvironment"
#define STREAMING_FILES "tmpfiles"
#define STREAMING_JOBCONF "ember.streaming.jobconf"

/* Completes conf for a streaming job (writes STREAMING_JOBCONF from the
 * keys set so far: call it last) and answers the job to run: the one
 * with a reduce when a reducer command is set (else the identity reduce)
 * and a combiner when a combiner command is.  EMBER_ENOMEM, or
 * EMBER_EINVAL without a mapper command. */
int streaming_job_prepare(mr_conf *conf, const ember_job **job);

#endif
