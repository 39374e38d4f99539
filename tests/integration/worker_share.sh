#!/usr/bin/env bash
# worker_share.sh -- worker ranks on one host share its cores instead of
# each offering the whole machine.  Two core ranks on the synthetic
# "pack:1 core:4 pu:1" (every rank of a local cluster is on one host):
# rank 1 offers cores 0-1, rank 2 cores 2-3, each keeping its last core
# for its own loop; `node -list -showDetails`, `dfsadmin -report` and the
# ranks' logs say so.  A word count then runs its attempts on both ranks
# (2 vcores each by yarn.nodemanager.resource.cpu-vcores, so each rank's
# two containers share its one usable core), and `job -status` shows
# every attempt of rank 1 on core 0 and every attempt of rank 2 on
# core 2: the two ranks' containers never share a core.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mr_cluster_lib.sh"

IN=$TEST_TMP/in
mr_words "$IN" 1 60000 5 # ~1.5 MB: two 1 MiB blocks, two maps

CLUSTER_REPLICATION=1
cluster_start 3 --core-nodes 2 -D "ember.topology.synthetic=pack:1 core:4 pu:1" \
    -D dfs.blocksize=1m -D yarn.nodemanager.resource.cpu-vcores=2 \
    -D yarn.nodemanager.resource.memory-mb=4096

details=$(ember node -list -showDetails) || fail "node -list -showDetails failed"
node_detail() { # NODE: its "Detailed Node Information" block
    awk -v id="node-$1" '$1 == id {on = 1; next} on && /^ +node-/ {on = 0} on' <<<"$details"
}
node_detail 1 | grep -qP '^\tPlacement : 1 of 2 cores \(1 reserved for the rank\), cores 0-1 of the host.s 4, 1 NUMA nodes, 1 packages$' ||
    fail "node 1's placement: $(node_detail 1)"
node_detail 2 | grep -qP '^\tPlacement : 1 of 2 cores \(1 reserved for the rank\), cores 2-3 of the host.s 4, 1 NUMA nodes, 1 packages$' ||
    fail "node 2's placement: $(node_detail 2)"
ember dfsadmin -report | grep -A12 '^Name: node-2 ' |
    grep -q "^Container Resources: <memory:4096, vCores:2> (1 of 2 cores reserved for the rank; cores 2-3 of the host's 4)$" ||
    fail "dfsadmin -report: node-2's container resources: $(ember dfsadmin -report | grep -A12 '^Name: node-2 ')"
grep -q "worker: this host's 4 cores are shared by worker ranks 1, 2: rank 1 offers cores 0-1$" \
    "$RUN_DIR/logs/rank-1.log" || fail "rank 1 did not log its share"
grep -q "worker: this host's 4 cores are shared by worker ranks 1, 2: rank 2 offers cores 2-3$" \
    "$RUN_DIR/logs/rank-2.log" || fail "rank 2 did not log its share"
grep -q "worker: containers are not bound to their cores: synthetic topology 'pack:1 core:4 pu:1' is not this machine" \
    "$RUN_DIR/logs/rank-2.log" || fail "rank 2 did not say its containers are not bound"

dfs -mkdir -p /in || fail "mkdir"
dfs -put "$IN"/part0.txt /in/ || fail "put"
log "a word count on both ranks"
ember run wordcount -D mapreduce.job.reduces=2 -D mapreduce.task.io.sort.mb=4 \
    /in /out >"$TEST_TMP/wc.out" 2>&1 || fail "wordcount failed: $(tail -5 "$TEST_TMP/wc.out")"
same_words /out
JOB=$(sed -n 's/^Running job: \([^ ]*\).*/\1/p' "$TEST_TMP/wc.out")
[ -n "$JOB" ] || fail "no job id in $(head -3 "$TEST_TMP/wc.out")"
ember job -status "$JOB" >"$TEST_TMP/status.out" 2>&1 || fail "job -status: $(cat "$TEST_TMP/status.out")"
# "RANK CPUSET" per attempt: its "(rank N)" line, then its "cores X:" line.
awk '/\(rank [0-9]+\)/ { match($0, /\(rank [0-9]+\)/); r = substr($0, RSTART + 6, RLENGTH - 7) }
     /^ +cores [^ ]+:/ { c = $2; sub(/:$/, "", c); print r, c }' "$TEST_TMP/status.out" \
    >"$TEST_TMP/cores"
for r in 1 2; do
    grep -q "^$r " "$TEST_TMP/cores" || fail "no attempt ran on rank $r: $(cat "$TEST_TMP/status.out")"
done
# Rank 1's containers on core 0 only, rank 2's on core 2 only.
bad=$(awk '($1 == 1 && $2 != "0") || ($1 == 2 && $2 != "2")' "$TEST_TMP/cores")
[ -z "$bad" ] || fail "attempts outside their rank's share (rank cores): $bad"
grep -q "core 2 on NUMA node 0: " "$TEST_TMP/status.out" ||
    fail "no reason names core 2: $(cat "$TEST_TMP/status.out")"
no_task_left "the word count"
log PASS
