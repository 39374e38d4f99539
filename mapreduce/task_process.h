/* task_process.h -- `ember task --umbilical SOCK --attempt ID`: the
 * process that runs one task attempt in a container on a worker
 * (MR_PROTOCOL.md, "Life of an attempt").
 *
 *   connect SOCK, watch it (umbilical.h) -> TaskHello -> TaskAssignment
 *   -> the job: its library copied from job.library into the working
 *      directory and loaded (its configure is not run: the client ran it
 *      and job.conf holds the result), or "builtin:streaming" (job.files
 *      copied into the working directory first)
 *   -> by kind:
 *      MAP          the split through the map (task_runner.h) into
 *                   output_dir/file.out(.index); a map-only job's into
 *                   OUT/_temporary/ATTEMPT/part-m-NNNNN and committed
 *      REDUCE       the shuffle (task_shuffle.h), then merge + reduce into
 *                   OUT/_temporary/ATTEMPT/part-r-NNNNN, committed
 *      JOB_SETUP    OUT refused if it exists, else OUT/_temporary made
 *      JOB_CLEANUP  commit (parts into OUT, _SUCCESS last) or abort (OUT
 *                   removed when remove_output); the history record at
 *                   mapreduce.jobhistory.done-dir/JOBID.json
 *                   (/ember/history); the staging directory removed
 *   -> TaskDone, exit 0; or TaskFailed{one line}, exit 1.
 *
 * Committing a part file: close it, TaskCommitRequest, wait for
 * TaskCommitResponse; allowed: rename it to OUT/_temporary/NAME and
 * remove the attempt directory; refused: remove the attempt directory.
 * Progress (phase, fraction, counters) goes out at each phase change and
 * at most every 500 ms.  The umbilical lost ends the process at once
 * (exit UMBILICAL_LOST_EXIT). */
#ifndef EMBER_MR_TASK_PROCESS_H
#define EMBER_MR_TASK_PROCESS_H

/* Runs the attempt; the process's exit status. */
int task_process_main(const char *umbilical_path, const char *attempt_id);

#endif
