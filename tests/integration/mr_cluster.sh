#!/usr/bin/env bash
# mr_cluster.sh -- MapReduce jobs on the cluster (mapreduce.framework.name
# = yarn, the default while a cluster runs): the scheduler on the primary,
# attempts in containers on the workers, the shuffle over MPI.
#
#   - wordcount over input spread in 1 MiB blocks (replication 1) over 3
#     core nodes, 2 reduces, one task node: the output equals an
#     independent reference (tr | sort | uniq -c); at least 90% of the
#     maps are node-local ("Data-local map tasks"); the shuffle went over
#     MPI (ember.shuffle.local.read=false); the peak map and reduce RSS
#     counters are there and plausible;
#   - the maps' reads of blocks short-circuit cannot serve go through their
#     worker over MPI ("HDFS: Number of bytes read through the worker"):
#     with dfs.client.read.shortcircuit=false, all of the input, and the
#     output is still right;
#   - `ember job -list`, `-status` (where and why each attempt ran),
#     `-history` and its SVG timeline;
#   - a map that segfaults on its first attempt only: the job succeeds with
#     "Failed map tasks=1"; one that always segfaults: the job fails after
#     4 attempts, says which task and why, and leaves no OUT; one that
#     hangs: killed at its timeout and retried;
#   - bad submissions get one line and a non-zero exit, and the cluster
#     keeps running;
#   - no `ember task` process is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mr_cluster_lib.sh"

IN=$TEST_TMP/in
# ~3 MB of words from a small vocabulary, in two files.
mr_words "$IN" 2 60000 11

CLUSTER_REPLICATION=1
# Locality waits as long as it takes (random placement may put several
# blocks on one node with 2 containers; the test counts node-local maps).
cluster_start 5 --core-nodes 3 -D dfs.blocksize=1m -D ember.scheduler.locality.delay=1000 \
    -D yarn.nodemanager.resource.cpu-vcores=2 -D yarn.nodemanager.resource.memory-mb=4096
dfs -mkdir -p /in || fail "mkdir"
dfs -put "$IN"/part0.txt "$IN"/part1.txt /in/ || fail "put"

log "wordcount on the cluster: node-local maps, the shuffle over MPI"
ember run wordcount -D mapreduce.job.reduces=2 -D mapreduce.task.io.sort.mb=4 \
    -D mapreduce.map.speculative=false \
    -D ember.shuffle.local.read=false /in /out >"$TEST_TMP/wc.out" 2>&1 ||
    fail "wordcount failed: $(tail -5 "$TEST_TMP/wc.out")"
grep -q "completed successfully" "$TEST_TMP/wc.out" || fail "no success line"
same_words /out
dfs -test -e /out/_SUCCESS || fail "no _SUCCESS"
expect_eq "$(dfs -ls /out | grep -c 'part-r-')" 2 "part files"
maps=$(counter wc 'Launched map tasks')
local_maps=$(counter wc 'Data-local map tasks')
[ "${maps:-0}" -ge 3 ] || fail "expected a map per block, got '$maps'"
[ $((${local_maps:-0} * 10)) -ge $((maps * 9)) ] ||
    fail "only $local_maps of $maps maps were node-local"
# Hadoop's peak memory counters, the largest of the tasks' resident sets
# (each the task's VmHWM): more than a process's first MiB, less than the
# 4 MiB sort buffer + 96 MiB (a sanitized task peaks near 40 MiB; a sum
# over the 3 or more maps instead of the largest would exceed it).
for kind in Map Reduce; do
    peak=$(counter wc "Peak $kind Physical memory (bytes)")
    [ "${peak:-0}" -gt $((1 << 20)) ] && [ "$peak" -lt $(((4 + 96) << 20)) ] ||
        fail "'Peak $kind Physical memory (bytes)' is '$peak'"
done
JOB=$(sed -n 's/^Running job: \([^ ]*\).*/\1/p' "$TEST_TMP/wc.out")
[ -n "$JOB" ] || fail "no job id in $(head -3 "$TEST_TMP/wc.out")"
# The node-local maps read their blocks short-circuit: the worker carried
# at most the off-node maps' blocks.
hdfs_read=$(counter wc 'HDFS: Number of bytes read')
via_worker=$(counter wc 'HDFS: Number of bytes read through the worker')
[ -n "$via_worker" ] && [ "$via_worker" -lt "$hdfs_read" ] ||
    fail "node-local maps read through the worker: $via_worker of $hdfs_read bytes"

log "what is remote goes through the worker: short-circuit off, every block over MPI"
ember run wordcount -D mapreduce.job.reduces=1 -D mapreduce.task.io.sort.mb=4 \
    -D dfs.client.read.shortcircuit=false /in /out-remote >"$TEST_TMP/remote.out" 2>&1 ||
    fail "wordcount without short-circuit failed: $(tail -5 "$TEST_TMP/remote.out")"
same_words /out-remote
in_bytes=$(($(stat -c %s "$IN"/part0.txt) + $(stat -c %s "$IN"/part1.txt)))
via_worker=$(counter remote 'HDFS: Number of bytes read through the worker')
[ "${via_worker:-0}" -ge "$in_bytes" ] ||
    fail "only '$via_worker' of the input's $in_bytes bytes came through the workers"

log "job -list, -status, -history and its timeline"
ember job -list all >"$TEST_TMP/list.out" 2>&1 || fail "job -list: $(cat "$TEST_TMP/list.out")"
grep "$JOB" "$TEST_TMP/list.out" | grep -q SUCCEEDED || fail "job -list: $(cat "$TEST_TMP/list.out")"
ember job -status "$JOB" >"$TEST_TMP/status.out" 2>&1 || fail "job -status: $(cat "$TEST_TMP/status.out")"
grep -q "node-local" "$TEST_TMP/status.out" || fail "job -status shows no locality"
grep -qi "cores\? [0-9]" "$TEST_TMP/status.out" || fail "job -status shows no cores"
wait_until 30 dfs -test -e "/ember/history/$JOB.json" || fail "no history record"
ember job -history "$JOB" >"$TEST_TMP/history.out" 2>&1 || fail "job -history: $(cat "$TEST_TMP/history.out")"
grep -q "Status: SUCCEEDED" "$TEST_TMP/history.out" || fail "history: $(head "$TEST_TMP/history.out")"
ember job -history "$JOB" --svg "$TEST_TMP/job.svg" || fail "job -history --svg"
bars=$(grep -c '<g class="attempt' "$TEST_TMP/job.svg")
# Every map and reduce, the setup and the cleanup.
[ "$bars" -ge $((maps + 2 + 2)) ] || fail "the timeline has $bars bars for $maps maps and 2 reduces"
ember job -history job_nosuch_0001 >/dev/null 2>&1 && fail "history of an unknown job"

log "a map that segfaults once: retried, the job succeeds"
job segv1 -D faulty.task=m0 -D faulty.mode=segv /in /segv1 || fail "$(tail -5 "$TEST_TMP/segv1.out")"
expect_eq "$(counter segv1 'Failed map tasks')" 1 "failed map tasks"
same_words /segv1

log "a map that always segfaults: the job fails after 4 attempts and leaves nothing"
job segv4 -D faulty.task=m0 -D faulty.mode=segv -D faulty.attempts=99 /in /segv4 &&
    fail "a job whose map always crashes succeeded"
grep -q "m_000000" "$TEST_TMP/segv4.out" || fail "no task named: $(tail -5 "$TEST_TMP/segv4.out")"
grep -qi "signal 11\|segmentation\|SEGV" "$TEST_TMP/segv4.out" || fail "no reason: $(tail -5 "$TEST_TMP/segv4.out")"
dfs -test -e /segv4 && fail "the failed job left /segv4"

log "a map that hangs: killed at its timeout, retried"
job hang -D faulty.task=m1 -D faulty.mode=hang -D mapreduce.task.timeout=10000 \
    -D mapreduce.map.speculative=false /in /hang ||
    fail "$(tail -5 "$TEST_TMP/hang.out")"
expect_eq "$(counter hang 'Failed map tasks')" 1 "failed map tasks after a hang"
same_words /hang

log "bad submissions: one line, non-zero, the cluster runs on"
ember run wordcount /in /out >"$TEST_TMP/exists.out" 2>&1 && fail "a job over an existing OUT ran"
grep -q "Output directory hdfs:///out already exists\|Output directory .*/out already exists" \
    "$TEST_TMP/exists.out" || fail "$(cat "$TEST_TMP/exists.out")"
ember run wordcount /nosuch /out2 >"$TEST_TMP/noin.out" 2>&1 && fail "a job over a missing input ran"
grep -q "Input path does not exist" "$TEST_TMP/noin.out" || fail "$(cat "$TEST_TMP/noin.out")"
ember run wordcount -D mapreduce.job.queuename=nosuch /in /out3 >"$TEST_TMP/queue.out" 2>&1 &&
    fail "a job in an unknown queue ran"
[ "$(wc -l <"$TEST_TMP/queue.out")" -le 2 ] || fail "$(cat "$TEST_TMP/queue.out")"
ember status >/dev/null || fail "the cluster stopped answering"

no_task_left "the jobs"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 60
tasks_left && fail "ember task processes left after the cluster stopped"
log "PASS"
