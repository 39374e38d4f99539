#!/usr/bin/env bash
# mr_merge.sh -- multi-pass merges bounded by mapreduce.task.io.sort.factor
# (mapreduce/merge_plan.c):
#
#   - 60 wordcount maps run by `ember task` under the stand-in worker
#     (task_worker); a reduce over all 60 with factor 3, under an
#     RLIMIT_NOFILE of 40 (ulimit -n): reading the maps' file.out locally,
#     fetching them to disk (shuffle memory 0) and fetching them into
#     memory, each gives the reference output; the same reduce with
#     factor 100 under that limit fails with the merge named in its
#     diagnostic (the limit is real, and one pass needs 60 files);
#   - a local-mode job of 64 maps (split.maxsize) and 2 reduces with
#     factor 3 gives the reference output, as with factor 100, and its
#     Spilled Records exceed factor 100's by the intermediate merges'
#     writes;
#   - the same job on a cluster (3 ranks, the shuffle over MPI, fetched
#     segments to disk) gives the reference output and the same Spilled
#     Records as local mode;
#   - a bad factor is refused with one line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mr_cluster_lib.sh"

W=$TEST_TMP
EXAMPLES=$(dirname "$EMBER")/examples
JOB=job_202612060000_0007
ID=${JOB#job_}
RUN=$W/run/mr/$JOB
MAPS=60
mkdir -p "$RUN" "$W/in"
awk 'BEGIN { srand(5); split("alpha beta gamma delta epsilon zeta eta theta iota kappa", v)
    for (l = 0; l < 6000; l++) { line = ""
        for (w = 0; w < 1 + int(rand() * 6); w++) line = line (w ? " " : "") v[1 + int(rand() * 10)] (rand() < 0.3 ? l % 17 : "")
        print line } }' >"$W/in/a.txt"
tr ' ' '\n' <"$W/in/a.txt" | grep -v '^$' | LC_ALL=C sort | uniq -c |
    awk '{ print $2 "\t" $1 }' >"$W/expected"
SIZE=$(stat -c %s "$W/in/a.txt")

. "$(dirname "$0")/task_worker_lib.sh"

OUT=$W/out
mkdir -p "$OUT/_temporary"
WC="--library file://$EXAMPLES/wordcount.so --output file://$OUT --reduces 1 --maps $MAPS"
log "$MAPS wordcount maps over chunks of the input"
EVENTS=()
step=$(((SIZE + MAPS - 1) / MAPS))
for ((m = 0; m < MAPS; m++)); do
    a=$(printf "attempt_%s_m_%06d_0" "$ID" "$m")
    off=$((m * step))
    len=$((off + step > SIZE ? SIZE - off : step))
    attempt "$a" map $WC --index "$m" --output-dir "$RUN/$a" --chunk "file://$W/in/a.txt,$off,$len"
    expect_done "$a"
    EVENTS+=(--event "$m:$a:3")
done

# reduce NAME LIMIT [options]: reduce 0 of every map under ulimit -n LIMIT,
# into OUT/NAME.
reduce() {
    local name=$1 limit=$2; shift 2
    local a=attempt_${ID}_r_0000${name}_0
    mkdir -p "$W/o$name/_temporary"
    (ulimit -n "$limit" && attempt "$a" reduce --library "file://$EXAMPLES/wordcount.so" \
        --output "file://$W/o$name" --reduces 1 --maps "$MAPS" --index 0 \
        --output-dir "$RUN/$a" --rank 3 "${EVENTS[@]}" "$@") || exit 1
    R=$a
}
# same_output NAME: the reduce's part file is the reference.
same_output() {
    cmp -s "$W/o$1/_temporary/part-r-00000" "$W/expected" ||
        fail "reduce $1 differs from the reference: $(diff "$W/o$1/_temporary/part-r-00000" "$W/expected" | head -5)"
}

log "factor 3 under ulimit -n 40: local reads of $MAPS map outputs"
reduce 01 40 --conf mapreduce.task.io.sort.factor=3
expect_done "$R"
expect_eq "$(field "$R" fetches)" 0 "fetches of a reduce reading its own rank's outputs"
same_output 01
[ -z "$(ls "$W/$R.wd" | grep merge)" ] || fail "intermediate files left in $W/$R.wd"

log "factor 3 under ulimit -n 40: fetched to disk (shuffle memory 0)"
reduce 02 40 --conf mapreduce.task.io.sort.factor=3 --conf ember.shuffle.local.read=false \
    --conf mapreduce.reduce.shuffle.input.buffer.percent=0
expect_done "$R"
expect_eq "$(field "$R" fetches)" "$MAPS" "fetches"
same_output 02
[ -z "$(ls "$W/$R.wd" | grep -e merge -e shuffle_)" ] || fail "files left in $W/$R.wd: $(ls "$W/$R.wd")"

log "factor 2 under ulimit -n 40: fetched into memory"
reduce 03 40 --conf mapreduce.task.io.sort.factor=2 --conf ember.shuffle.local.read=false
expect_done "$R"
same_output 03

log "factor 100 under ulimit -n 40: one pass over $MAPS files runs out of descriptors"
reduce 04 40 --conf mapreduce.task.io.sort.factor=100
expect_eq "$(field "$R" result)" failed "a reduce merging $MAPS files at once under ulimit -n 40"
case $(field "$R" diagnostic) in
    *"merge of $MAPS map outputs"*) ;;
    *) fail "diagnostic: $(field "$R" diagnostic)" ;;
esac

log "a bad factor is refused"
reduce 05 1024 --conf mapreduce.task.io.sort.factor=1
expect_eq "$(field "$R" result)" failed "factor 1"
expect_eq "$(field "$R" diagnostic)" "mapreduce.task.io.sort.factor: 1 is out of range (2 to 10000)" \
    "factor 1's diagnostic"

# local FACTOR: wordcount in local mode over 64 splits, output in
# $W/localFACTOR, counters in $W/localFACTOR.out.
local_job() {
    ember run wordcount -D mapreduce.job.reduces=2 \
        -D mapreduce.input.fileinputformat.split.maxsize=$(((SIZE + 63) / 64)) \
        -D mapreduce.task.io.sort.factor="$1" "file://$W/in" "file://$W/local$1" \
        >"$W/local$1.out" 2>&1 || fail "local mode failed: $(tail -5 "$W/local$1.out")"
    cat "$W/local$1/part-r-"* | LC_ALL=C sort | cmp -s - "$W/expected" ||
        fail "local mode's output (factor $1) differs from the reference"
}
log "local mode: 64 maps, factor 3 and factor 100"
local_job 3
local_job 100
maps=$(counter local3 'Launched map tasks')
[ "${maps:-0}" -ge 64 ] || fail "expected 64 or more maps, got '$maps'"
# Factor 100 merges each reduce's 64 segments in one pass; factor 3 first
# writes intermediate merges (Hadoop counts them as Spilled Records too).
s3=$(counter local3 'Spilled Records')
s100=$(counter local100 'Spilled Records')
[ "${s3:-0}" -gt "${s100:-0}" ] && [ "${s100:-0}" -gt 0 ] ||
    fail "Spilled Records: $s3 with factor 3, $s100 with factor 100"

log "on the cluster: the same job, factor 3, the shuffle over MPI to disk"
CLUSTER_REPLICATION=1
cluster_start 3 --core-nodes 2 -D yarn.nodemanager.resource.cpu-vcores=2 \
    -D yarn.nodemanager.resource.memory-mb=4096
dfs -mkdir -p /in || fail "mkdir"
dfs -put "$W/in/a.txt" /in/ || fail "put"
ember run wordcount -D mapreduce.job.reduces=2 \
    -D mapreduce.input.fileinputformat.split.maxsize=$(((SIZE + 63) / 64)) \
    -D mapreduce.task.io.sort.factor=3 -D mapreduce.map.speculative=false \
    -D ember.shuffle.local.read=false -D mapreduce.reduce.shuffle.input.buffer.percent=0 \
    /in /out >"$W/cluster.out" 2>&1 ||
    fail "the job failed: $(tail -5 "$W/cluster.out")"
dfs -cat "/out/part-r-*" | LC_ALL=C sort | cmp -s - "$W/expected" ||
    fail "the cluster's output differs from the reference"
expect_eq "$(counter cluster 'Launched map tasks')" "$maps" "maps on the cluster"
expect_eq "$(counter cluster 'Merged Map outputs')" "$((2 * maps))" "Merged Map outputs"
# The same segments (on disk: no shuffle memory), merged with the same
# factor: the same writes.  (Segments in memory hold no descriptor and
# take no intermediate pass.)
expect_eq "$(counter cluster 'Spilled Records')" "$s3" "Spilled Records on the cluster"
no_task_left "the job"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 60
log "ok"
