#!/usr/bin/env bash
# The scheduler's job service through the CLI, on a cluster whose workers
# offer too little memory for any attempt (128 MB; a job's setup needs
# 256): a submitted job waits in PREP, in its capacity queue.  `ember job
# -list [all]`, `-status`, `-kill`, `-logs` and `ember queue -list` show
# and steer it; a submission to an unknown queue, or asking more memory
# than any node offers, is refused with one line and the cluster keeps
# running; bad usage exits 2.
. "$(dirname "$0")/lib.sh"
: "${JOB_SUBMIT:?JOB_SUBMIT must point at job_submit}"

queues=$TEST_TMP/queues
printf '# name capacity maximum\ndefault 60\nbatch 40 100\n' >"$queues"
cluster_start 3 --core-nodes 2 -D yarn.nodemanager.resource.memory-mb=128 \
    -D "yarn.scheduler.capacity.file=$queues"

# Refused submissions: one line each.
out=$("$JOB_SUBMIT" "$RUN_DIR" 2 1 64 nosuch 2>&1) && fail "unknown queue accepted: $out"
expect_eq "$(wc -l <<<"$out")" 1 "lines of the unknown-queue error"
grep -q 'unknown queue: nosuch' <<<"$out" || fail "unknown-queue error: $out"
out=$("$JOB_SUBMIT" "$RUN_DIR" 2 1 4096 default 2>&1) && fail "4096 MB accepted: $out"
grep -q 'Invalid resource request' <<<"$out" || fail "oversized request error: $out"

job=$("$JOB_SUBMIT" "$RUN_DIR" 3 1 64 batch) || fail "submission failed: $job"
[[ $job =~ ^job_[0-9]{13}_[0-9]{4}$ ]] || fail "job id: $job"

list=$(ember job -list) || fail "job -list failed"
expect_eq "$(head -n1 <<<"$list")" "Total jobs:1" "jobs listed"
grep -qP "^ *$job\t *job_submit\t *PREP\t.*\t *batch\t *NORMAL\t *0\t *0/3\t *0/1$" <<<"$list" ||
    fail "job line: $list"

status=$(ember job -status "$job") || fail "job -status failed"
for want in "Job: $job" "Job state: PREP" "Number of maps: 3" "Number of reduces: 1" \
    "Queue: batch" "Launched map tasks=0"; do
    grep -qF "$want" <<<"$status" || fail "status lacks '$want': $status"
done

queues_out=$(ember queue -list) || fail "queue -list failed"
grep -qF "Queue Name : batch" <<<"$queues_out" || fail "queue batch: $queues_out"
grep -qF "Capacity: 40.0, MaximumCapacity: 100.0, CurrentCapacity: 0 containers (0 vcores, 0 MB), Running jobs: 0, Pending jobs: 1" \
    <<<"$queues_out" || fail "batch's line: $queues_out"
grep -qF "Capacity: 60.0, MaximumCapacity: 100.0" <<<"$queues_out" || fail "default: $queues_out"

ember job -logs "$job" >/dev/null || fail "job -logs failed"
out=$(ember job -logs "$job" attempt_nosuch_0001_m_000000_0 2>&1) && fail "unknown attempt: $out"

# Kill: nothing ran, so it is over at once.
out=$(ember job -kill "$job") || fail "job -kill failed: $out"
expect_eq "$out" "Killed job $job" "kill output"
ember job -status "$job" | grep -qF "Job state: KILLED" || fail "not KILLED after the kill"
out=$(ember job -kill "$job") && fail "second kill succeeded"
expect_eq "$out" "The job $job has already been killed." "second kill output"
expect_eq "$(ember job -list | head -n1)" "Total jobs:0" "running jobs after the kill"
ember job -list all | grep -q "$job.*KILLED" || fail "job -list all lacks the killed job"

# Unknown jobs and bad usage.
out=$(ember job -status job_209901010000_0042 2>&1) && fail "unknown job status: $out"
grep -q 'Could not find job job_209901010000_0042' <<<"$out" || fail "unknown job error: $out"
out=$(ember job -frob 2>&1); expect_eq $? 2 "exit of a bad job command"
out=$(ember queue 2>&1); expect_eq $? 2 "exit of queue without -list"

# The cluster still serves.
ember status >/dev/null || fail "cluster gone"
log "ok"
