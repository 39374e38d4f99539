#!/usr/bin/env bash
# MapReduce on three simulated hosts (multihost_lib.sh): ranks 0-1 on
# host 1, 2-3 on host 2, 4 on host 3; core ranks 1-4, 1 MiB blocks.
#
#   - a word count over input at replication 1 (its blocks on the core
#     ranks of 2 hosts or more): the output equals the reference, every
#     map is node-local (with a long locality delay), and the maps ran on
#     ranks of 2 hosts or more, each on the host `job -status` names;
#   - a word count over input at replication 2 with slow maps: rank 4,
#     host 3's only rank, SIGKILLed while it runs an attempt or holds a
#     finished map's output; the job still succeeds with the reference
#     output, every map and reduce with a succeeded attempt on another
#     rank; the staged job.so is on every core rank; short-circuit is off,
#     so every map reads its split through its worker over MPI (TCP
#     between hosts), rank 4's replicas included until it dies;
#   - no `ember task` process is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/multihost_lib.sh"
. "$(dirname "$0")/mr_cluster_lib.sh"

# host_index RANK: the simulated host (1..3) rank RANK runs on.
host_index() { case $1 in 0 | 1) echo 1 ;; 2 | 3) echo 2 ;; *) echo 3 ;; esac; }

IN=$TEST_TMP/in
mr_words "$IN" 3 60000 11 # ~4.5 MB in three files: 6 blocks of 1 MiB or less

# Blocks are placed at random: a rank may hold more splits than it has
# containers.  A locality delay of 1000 missed chances (YARN's is 40 per
# node heartbeat; ember's default of 10 let 2 of 5 maps leave such a rank
# within a second) makes the maps wait for their node, so every map is
# node-local.
CLUSTER_REPLICATION=1
mh_start_221 -D yarn.nodemanager.resource.cpu-vcores=2 -D yarn.nodemanager.resource.memory-mb=4096 \
    -D ember.scheduler.locality.delay=1000
# /in2, at replication 2, for the rank kill: rank 4 must hold some of it
# to run its maps (placement is random: 1 chance in 64 it holds none, and
# then the input is written again).
for try in 1 2 3 4 5; do
    dfs -rm -r -f -skipTrash /in2 >/dev/null
    dfs -D dfs.replication=2 -put "$IN" /in2 || fail "put at replication 2"
    grep -q "rank 4\]" <<<"$(ember fsck /in2 -files -blocks -locations)" && break
    [ "$try" = 5 ] && fail "rank 4 holds no block of /in2 after 5 puts"
done
# The single replicas of /in must sit on 2 hosts or more; placement is
# random (CI once drew all 6 blocks on host 2), so /in is written again
# until they do.
for try in 1 2 3 4 5; do
    dfs -rm -r -f -skipTrash /in >/dev/null
    dfs -mkdir -p /in || fail "mkdir"
    dfs -put "$IN"/part*.txt /in/ || fail "put"
    block_hosts=$(mh_block_ranks "$(ember fsck /in -files -blocks -locations)" |
        while read -r r; do host_index "$r"; done | sort -u | wc -l)
    [ "$block_hosts" -ge 2 ] && break
    [ "$try" = 5 ] && fail "the blocks of /in are on $block_hosts host(s) after 5 puts"
done


log "wordcount over 3 hosts: node-local maps on 2 hosts or more"
job wc -D mapreduce.map.speculative=false -D mapreduce.job.reduces=2 /in /out ||
    fail "wordcount failed: $(tail -5 "$TEST_TMP/wc.out")"
same_words /out
maps=$(counter wc 'Launched map tasks')
local_maps=$(counter wc 'Data-local map tasks')
[ "${maps:-0}" -ge 3 ] || fail "expected a map per block, got '$maps'"
expect_eq "${local_maps:-0}" "$maps" "node-local maps of $maps"
JOB=$(sed -n 's/^Running job: \([^ ]*\).*/\1/p' "$TEST_TMP/wc.out")
[ -n "$JOB" ] || fail "no job id in $(head -3 "$TEST_TMP/wc.out")"
ember job -status "$JOB" >"$TEST_TMP/wc.status" 2>&1 || fail "job -status $JOB: $(cat "$TEST_TMP/wc.status")"
# The hosts the succeeded maps ran on, as -status names them, each
# matching the host its rank was placed on.
sed -n 's/^ *attempt_[^ ]*_m_[0-9_]* *SUCCEEDED .* on \([^ ]*\) (rank \([0-9]*\)).*/\1 \2/p' \
    "$TEST_TMP/wc.status" >"$TEST_TMP/wc.hosts"
while read -r host r; do
    expect_eq "$host" "$(mh_host "$(host_index "$r")")" "host of a map on rank $r"
done <"$TEST_TMP/wc.hosts"
map_hosts=$(cut -d' ' -f1 "$TEST_TMP/wc.hosts" | sort -u | wc -l)
[ "$map_hosts" -ge 2 ] || fail "the maps ran on $map_hosts host(s): $(grep attempt_ "$TEST_TMP/wc.status")"
log "$maps maps, $local_maps node-local, on $map_hosts hosts"
no_task_left "wordcount"

log "slow maps at replication 2: SIGKILL of host 3's rank mid-job"
ember jar "$FAULTY_JOB" --async -D mapreduce.task.io.sort.mb=4 -D dfs.client.read.shortcircuit=false \
    -D mapreduce.input.fileinputformat.split.maxsize=500000 -D mapreduce.job.reduces=2 \
    -D mapreduce.map.speculative=false -D mapreduce.reduce.speculative=false \
    -D faulty.task='m*' -D faulty.mode=slow -D faulty.slow.ms=3000 -D faulty.attempts=99 \
    /in2 /out2 >"$TEST_TMP/kill.out" 2>&1 || fail "submit: $(cat "$TEST_TMP/kill.out")"
KJOB=$(tail -1 "$TEST_TMP/kill.out")
[[ $KJOB == job_* ]] || fail "the submission printed no job id: $(cat "$TEST_TMP/kill.out")"
# The job's staged library, which every attempt copies, is on every core
# rank (Hadoop's mapreduce.client.submit.file.replication, 10, capped to
# the 4 core nodes), so the kill cannot lose it.
expect_eq "$(dfs -stat %r "/tmp/ember/staging/root/$KJOB/job.so")" 4 "replication of the staged job.so"
KMAPS=$(ember job -status "$KJOB" | sed -n 's/^Number of maps: //p')
[ "${KMAPS:-0}" -ge 8 ] || fail "expected 8 maps or more, got '$KMAPS'"
# Rank 4 runs an attempt of the job, or finished a map of it (not the
# setup, map number KMAPS) whose output the reduces still need: its loss
# loses that.  (It may get no second attempt: with the locality delay its
# maps are those whose blocks it holds.)  Waiting ends too once the job
# is over, which fails the test.
busy_4() {
    status_of "$KJOB" >"$TEST_TMP/kill.attempts"
    job_over "$KJOB" && return 0
    grep -q " RUNNING 4\$" "$TEST_TMP/kill.attempts" ||
        awk -v n="$KMAPS" '$2 == "SUCCEEDED" && $3 == 4 && $1 ~ /_m_/ {
            split($1, p, "_"); if (p[5] + 0 < n) found = 1 } END { exit !found }' "$TEST_TMP/kill.attempts"
}
wait_until 120 busy_4 || fail "rank 4 never ran an attempt: $(cat "$TEST_TMP/kill.attempts")"
job_over "$KJOB" && fail "job $KJOB ended before rank 4 ran an attempt: $(cat "$TEST_TMP/kill.attempts")"
log "SIGKILL of rank 4, which has $(grep ' 4$' "$TEST_TMP/kill.attempts" | awk '{print $1 " " $2}' | tr '\n' ' ')"
kill -KILL "$(rank_pid 4)"
job_succeeds "$KJOB" 180 "after the kill"
same_words /out2
history "$KJOB"
done_away "$KJOB" 4 || fail "not every task succeeded away from rank 4"
# Short-circuit off: every map read its split through its worker, from
# ranks on its own host and on others (TCP between the simulated hosts).
via_worker=$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["counters"]["File System Counters"]
print(c.get("HDFS: Number of bytes read through the worker", 0))' "$TEST_TMP/$KJOB.json")
[ "$via_worker" -ge "$(du -cb "$IN"/part*.txt | tail -1 | cut -f1)" ] ||
    fail "only '$via_worker' bytes of /in2 came through the workers"
status_of "$KJOB" >"$TEST_TMP/kill.attempts"
log "attempts after the kill: $(awk '{print $2 "@" $3}' "$TEST_TMP/kill.attempts" | sort | uniq -c | tr '\n' ' ')"
no_task_left "rank kill"

ember cluster stop >/dev/null
expect_eq "$(head -n1 "$RUN_DIR/status")" 3 "exit status after losing rank 4"
mh_ranks_exit 60
tasks_left && fail "ember task processes left after the cluster stopped"
log PASS
