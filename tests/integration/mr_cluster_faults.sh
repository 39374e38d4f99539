#!/usr/bin/env bash
# mr_cluster_faults.sh -- MapReduce jobs on the cluster surviving faults
# (issue 10's "Tests"), on one cluster of 3 core nodes (replication 2)
# and a task node, 2 vcores each:
#
#   - a map that allocates past its memory limit: killed with reason
#     "memory", retried, the job succeeds;
#   - a straggler (one map sleeping 60 s on its first attempt) gets a
#     speculative backup that finishes first: the job ends well before
#     60 s, the original is KILLED, the backup SUCCEEDED, and the output
#     is exactly the reference (no extra part file, no _temporary);
#   - two jobs in two capacity queues (75% / 25%) share the containers
#     in proportion, measured from their map attempts' start and finish
#     times in the history records;
#   - SIGKILL of a core rank in the middle of a job (a rank that finished
#     a map and runs another attempt), then of the task rank: each job
#     still completes with the reference output;
#   - after every case no `ember task` process is left.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/mr_cluster_lib.sh"

IN=$TEST_TMP/in
# ~3 MB of words in 8 files (a map each when splits are at most 500000
# bytes: small files are combined, as on EMR).
mr_words "$IN" 8 15000 17
# The queue test's input: 24 small files, 24 maps per job (splits of at
# most 2500 bytes): queue a, submitted first, takes every container for
# its first round of maps; with 24 (three rounds of 8) its later maps still
# compete with b's for several seconds (16 left a window of 1.85 s once).
mkdir -p "$TEST_TMP/q"
for i in $(seq -w 0 23); do head -c 2000 "$IN/part0.txt" >"$TEST_TMP/q/q$i.txt"; done

# submit NAME ARGS...: the same with --async; prints the job id.
submit() {
    local name=$1; shift
    ember jar "$FAULTY_JOB" --async -D mapreduce.task.io.sort.mb=4 "$@" >"$TEST_TMP/$name.out" 2>&1 ||
        fail "submit $name: $(cat "$TEST_TMP/$name.out")"
    local id
    id=$(tail -1 "$TEST_TMP/$name.out")
    [[ $id == job_* ]] || fail "submit $name printed no job id: $(cat "$TEST_TMP/$name.out")"
    echo "$id"
}
job_id_of() { sed -n 's/^Running job: \([^ ]*\).*/\1/p' "$TEST_TMP/$1.out"; }
# only_parts DIR N [m]: DIR holds _SUCCESS and part-r-00000 .. N-1
# (part-m- with m), nothing else.
only_parts() {
    local want got
    want=$( (echo _SUCCESS; for ((i = 0; i < $2; i++)); do printf "part-${3:-r}-%05d\n" "$i"; done) | sort)
    got=$(dfs -ls "$1" | awk 'NF >= 8 { n = split($NF, p, "/"); print p[n] }' | sort)
    [ "$got" = "$want" ] || fail "$1 holds [$(echo $got)], expected [$(echo $want)]"
}

# Capacity queues: "default" for the other cases; a and b share 3:1.
# No delay scheduling: a queue whose maps wait for a node-local slot lets
# the other queue take the node, which would blur the shares measured.
printf 'default 40\na 45\nb 15\n' >"$TEST_TMP/queues"
CLUSTER_REPLICATION=2
cluster_start 5 --core-nodes 3 -D dfs.blocksize=1m \
    -D yarn.nodemanager.resource.cpu-vcores=2 -D yarn.nodemanager.resource.memory-mb=4096 \
    -D yarn.scheduler.capacity.file="$TEST_TMP/queues" -D ember.scheduler.locality.delay=0
dfs -mkdir -p /in /q || fail "mkdir"
dfs -put "$IN"/part*.txt /in/ || fail "put"
dfs -put "$TEST_TMP"/q/q*.txt /q/ || fail "put"

log "a map past its memory limit: killed for memory, retried, the job succeeds"
job oom -D faulty.task=m1 -D faulty.mode=oom -D mapreduce.map.memory.mb=256 \
    -D mapreduce.map.speculative=false /in /oom || fail "$(tail -5 "$TEST_TMP/oom.out")"
expect_eq "$(counter oom 'Failed map tasks')" 1 "failed map tasks after an OOM"
same_words /oom
JOB=$(job_id_of oom)
ember job -status "$JOB" >"$TEST_TMP/oom.status" 2>&1 || fail "job -status $JOB"
grep -A3 "_m_000001_0 *FAILED" "$TEST_TMP/oom.status" | grep -q "diagnostic: .*memory" ||
    fail "the OOM attempt's reason is not memory: $(grep -A3 _m_000001_0 "$TEST_TMP/oom.status")"
no_task_left "oom"

log "a straggler: its speculative backup finishes first, the twin leaves nothing"
start=$SECONDS
job straggler -D faulty.task=m2 -D faulty.mode=slow -D faulty.slow.ms=60000 \
    -D mapreduce.job.reduces=2 /in /straggler || fail "$(tail -5 "$TEST_TMP/straggler.out")"
[ $((SECONDS - start)) -lt 50 ] || fail "the straggler's job took $((SECONDS - start)) s"
same_words /straggler
only_parts /straggler 2
JOB=$(job_id_of straggler)
history "$JOB"
python3 - "$TEST_TMP/$JOB.json" <<'PY' || fail "the straggler's attempts: $(ember job -history "$JOB" | grep m_000002)"
import json, sys
h = json.load(open(sys.argv[1]))
m2 = {a["attempt_id"].rsplit("_", 1)[1]: a for a in h["attempts"] if a["kind"] == "MAP" and a["task_index"] == 2}
ok = (m2.get("0", {}).get("status") == "KILLED" and
      any(a["status"] == "SUCCEEDED" and a["speculative"] for a in m2.values()))
sys.exit(0 if ok else 1)
PY
no_task_left "straggler"

log "a straggler in a map-only job: the backup commits, the twin adds no part file"
start=$SECONDS
job straggler0 -D faulty.task=m1 -D faulty.mode=slow -D faulty.slow.ms=60000 \
    -D mapreduce.job.reduces=0 /in /straggler0 || fail "$(tail -5 "$TEST_TMP/straggler0.out")"
[ $((SECONDS - start)) -lt 50 ] || fail "the map-only straggler's job took $((SECONDS - start)) s"
[ "$(counter straggler0 'Killed map tasks')" -ge 1 ] || fail "no map attempt was killed"
only_parts /straggler0 "$(ember job -status "$(job_id_of straggler0)" | sed -n 's/^Number of maps: //p')" m
# The maps' (word, 1) pairs, counted, are the reference.
dfs -cat "/straggler0/part-m-*" | cut -f1 | LC_ALL=C sort | uniq -c | awk '{ print $2 "\t" $1 }' \
    >"$TEST_TMP/got" || fail "cat /straggler0"
cmp -s "$TEST_TMP/got" "$TEST_TMP/expected" || fail "/straggler0 differs from the reference"
no_task_left "map-only straggler"

log "two jobs in capacity queues a (45%) and b (15%) share the containers 3:1"
qjob=(-D mapreduce.input.fileinputformat.split.maxsize=2500 -D mapreduce.job.reduces=1 -D mapreduce.job.reduce.slowstart.completedmaps=1.0
    -D mapreduce.map.speculative=false -D faulty.task='m*' -D faulty.mode=slow
    -D faulty.slow.ms=2000 -D faulty.attempts=99)
JOB_A=$(submit qa "${qjob[@]}" -D mapreduce.job.queuename=a /q /qa)
JOB_B=$(submit qb "${qjob[@]}" -D mapreduce.job.queuename=b /q /qb)
job_succeeds "$JOB_A" 180 "queue a"
job_succeeds "$JOB_B" 180 "queue b"
history "$JOB_A"
history "$JOB_B"
# While both jobs had maps waiting (from the later first map start to the
# earlier last map start), the containers each held, integrated over time.
share=$(python3 - "$TEST_TMP/$JOB_A.json" "$TEST_TMP/$JOB_B.json" <<'PY'
import json, sys
maps = [[(a["start_ms"], a["finish_ms"]) for a in json.load(open(f))["attempts"] if a["kind"] == "MAP"]
        for f in sys.argv[1:]]
t0 = max(min(s for s, _ in m) for m in maps)
t1 = min(max(s for s, _ in m) for m in maps)
held = [sum(max(0, min(f, t1) - max(s, t0)) for s, f in m) for m in maps]
print("%.2f %d" % (held[0] / max(1, sum(held)), t1 - t0))
PY
) || fail "cannot read the histories"
log "queue a's share while both ran: $share (fraction, window ms)"
read -r frac window <<<"$share"
# At least a map's length (2 s): queue a, first, may hold every
# container until its first maps end, and b's maps start then (a window
# of 2.4 s seen once, 3 s and more usually).
[ "$window" -ge 2000 ] || fail "the two jobs overlapped only $window ms"
python3 -c "import sys; sys.exit(0 if 0.6 <= $frac <= 0.9 else 1)" ||
    fail "queue a held $frac of the containers, expected 0.75 +- 0.15"
no_task_left "queues"

# victim JOB RANKS...: the first of RANKS that finished a map of JOB (not
# its setup, map number 8) and runs an attempt of it now, a map when one
# does: its loss loses both.
victim() {
    local job=$1 r; shift
    ember job -status "$job" >"$TEST_TMP/status" 2>/dev/null || return 1
    sed -n 's/^ *\(attempt_[^ ]*\) *\([A-Z_]*\).*(rank \([0-9]*\)).*/\1 \2 \3/p' \
        "$TEST_TMP/status" >"$TEST_TMP/attempts"
    for run in "_m_00000[0-7]_[0-9]* RUNNING" " RUNNING"; do
        for r in "$@"; do
            grep -q "_m_00000[0-7]_[0-9]* SUCCEEDED $r\$" "$TEST_TMP/attempts" &&
                grep -q "$run $r\$" "$TEST_TMP/attempts" && { echo "$r"; return 0; }
        done
    done
    # Once no map waits for a container, a rank that is idle now stays
    # idle: its finished maps are what it loses (the reduces, waiting for
    # the slow map 0, still need them).
    grep -Eq '^ *MAP +[0-9]+ +(NEW|SCHEDULED) ' "$TEST_TMP/status" && return 1
    for r in "$@"; do
        grep -q "_m_00000[0-7]_[0-9]* SUCCEEDED $r\$" "$TEST_TMP/attempts" && { echo "$r"; return 0; }
    done
    return 1
}
# rank_kill NAME RANKS...: a job of 8 maps, map 0 taking 20 s on its first
# attempt; once one of RANKS finished a map and runs an attempt (a
# reduce waiting for map 0, or map 0) -- or finished a map and will get
# no other, as every map has started -- that rank is SIGKILLed; the job
# still completes with the reference output, every map and reduce with a
# succeeded attempt on another rank.
rank_kill() {
    local name=$1 job r; shift
    job=$(submit "$name" -D mapreduce.input.fileinputformat.split.maxsize=500000 \
        -D mapreduce.job.reduces=2 -D mapreduce.map.speculative=false \
        -D mapreduce.reduce.speculative=false -D faulty.task=m0 -D faulty.mode=slow \
        -D faulty.slow.ms=20000 /in "/$name")
    wait_until 120 victim "$job" "$@" || fail "$name: no rank of $* ran maps: $(status_of "$job")"
    r=$(victim "$job" "$@") || fail "$name: the victim went"
    log "$name: SIGKILL of rank $r, which has $(grep " $r\$" "$TEST_TMP/attempts" | awk '{print $1 " " $2}' | tr '\n' ' ')"
    kill -KILL "$(rank_pid "$r")"
    local killed=$SECONDS
    job_succeeds "$job" 180 "$name"
    # A reduce's fetch from the dead rank must not wait for the shuffle's
    # 180 s read timeout: the map's rerun is fetched once it is known.
    [ $((SECONDS - killed)) -lt 150 ] || fail "$name: the job took $((SECONDS - killed)) s after the kill"
    same_words "/$name"
    only_parts "/$name" 2
    history "$job"
    done_away "$job" "$r" || fail "$name: not every task succeeded away from rank $r"
    no_task_left "$name"
}

log "SIGKILL of a core rank mid-job: its maps rerun, the job completes"
rank_kill corekill 1 2 3
log "SIGKILL of the task rank mid-job: the job completes"
rank_kill taskkill 4

ember cluster stop >/dev/null # exit status 3: ranks died
cluster_wait_exit 60
tasks_left && fail "ember task processes left after the cluster stopped"
log "PASS"
