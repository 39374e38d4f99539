#!/usr/bin/env bash
# demo.sh -- the README's first command: install what is missing, build,
# start a local cluster on loopback (primary + 2 core + 1 task node), show
# it, store a file in its HDFS and read it back, run wordcount on a text
# corpus (the repository's README and docs) as a MapReduce job (maps placed
# next to their blocks, the shuffle over MPI) with its progress line and
# counters, print the top 10 words and where each attempt ran, then
# teragen -> terasort -> teravalidate on 10 MB and the verdict; stop the
# cluster and print its exit status.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
# The build's compiler warnings go to build/build.log; shown if it fails.
cmake --build build -j"$(nproc)" >build/build.log 2>&1 || { cat build/build.log; exit 1; }

[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
RUN_DIR=$(mktemp -d /tmp/ember-demo.XXXXXX)/run
EMBER="$PWD/build/ember --run-dir $RUN_DIR"
MPIRUN_PID=
cleanup() {
    if [ -n "$MPIRUN_PID" ] && kill -0 "$MPIRUN_PID" 2>/dev/null; then
        kill -TERM -- "-$MPIRUN_PID" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$MPIRUN_PID" 2>/dev/null || true
    fi
    rm -rf "$(dirname "$RUN_DIR")" "$RUN_DIR.sample" "$RUN_DIR.mpirun.log" "$RUN_DIR.timeline.svg" \
        "$RUN_DIR.teragen.log" "$RUN_DIR.terasort.log" "$RUN_DIR.teravalidate.log"
}
trap cleanup EXIT

echo "== starting a local cluster: mpirun --enable-recovery -np 4 ember cluster --core-nodes 2"
setsid mpirun --enable-recovery --oversubscribe -np 4 \
    --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo build/ember cluster \
    --run-dir "$RUN_DIR" --core-nodes 2 >"$RUN_DIR.mpirun.log" 2>&1 &
MPIRUN_PID=$!
for _ in $(seq 1 300); do
    if $EMBER status 2>/dev/null | grep -q 'Task nodes:  1 live'; then break; fi
    sleep 0.1
done

echo "== ember status"
$EMBER status
echo
echo "== ember dfsadmin -report"
$EMBER dfsadmin -report
echo "== ember dfs: store a 3 MB file as 1 MiB blocks with 2 replicas each, read it back"
head -c 3000000 /dev/urandom >"$RUN_DIR.sample"
$EMBER dfs -D dfs.blocksize=1m -D dfs.replication=2 -mkdir -p /demo
$EMBER dfs -D dfs.blocksize=1m -D dfs.replication=2 -put "$RUN_DIR.sample" /demo/sample.bin
$EMBER dfs -ls -R /demo
$EMBER dfs -stat "size %b, block size %o, replication %r" /demo/sample.bin
if $EMBER dfs -cat /demo/sample.bin | cmp -s - "$RUN_DIR.sample"; then
    echo "read back: identical ($(wc -c <"$RUN_DIR.sample") bytes)"
else
    echo "read back: DIFFERENT" >&2
    exit 1
fi
echo
echo "== ember run wordcount: a MapReduce job on a text corpus (this repository's README and docs)"
$EMBER dfs -mkdir -p /demo/corpus
$EMBER dfs -D dfs.blocksize=64k -put README.md docs/*.md /demo/corpus/
$EMBER dfs -ls /demo/corpus
$EMBER run wordcount -D mapreduce.job.reduces=2 /demo/corpus /demo/counts
echo "== the top 10 words (ember dfs -cat /demo/counts/part-r-* | sort by count)"
$EMBER dfs -cat '/demo/counts/part-r-*' | LC_ALL=C sort -t "$(printf '\t')" -k2,2nr -k1,1 | awk 'NR <= 10'
JOB=$($EMBER job -list all | awk '$1 ~ /^job_/ { print $1; exit }')
echo "== ember job -status $JOB (where each attempt ran, and why)"
$EMBER job -status "$JOB" | sed -n '/^Tasks:/,$p'
$EMBER job -history "$JOB" --svg "$RUN_DIR.timeline.svg"
echo "(the job's timeline: ember job -history $JOB --svg FILE draws it)"
echo
echo "== teragen -> terasort -> teravalidate: 100,000 records of 100 bytes (10 MB)"
# run_quiet NAME ARGS...: ember run NAME ARGS..., its output kept in a
# file (shown only if it fails); prints how long it took.
run_quiet() {
    local name=$1 start=$EPOCHREALTIME
    shift
    if ! $EMBER run "$name" "$@" >"$RUN_DIR.$name.log" 2>&1; then
        cat "$RUN_DIR.$name.log" >&2
        echo "$name failed" >&2
        exit 1
    fi
    echo "$name: done in $(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }') s"
}
run_quiet teragen -D mapreduce.job.maps=2 100000 /demo/tera-in
sum=$(sed -n 's/^[[:space:]]*CHECKSUM=//p' "$RUN_DIR.teragen.log" | tail -1)
run_quiet terasort -D mapreduce.job.reduces=2 /demo/tera-in /demo/tera-out
run_quiet teravalidate /demo/tera-out /demo/tera-report
report=$($EMBER dfs -cat '/demo/tera-report/part-r-*')
if [ -n "$sum" ] && [ "$report" = "$(printf 'checksum\t%x' "$sum")" ]; then
    echo "teravalidate: VALID -- sorted within and across part files; checksum $(printf %x "$sum") equals teragen's"
else
    echo "teravalidate: INVALID -- report: $(head -c 300 <<<"$report"); teragen's checksum: ${sum:-none}" >&2
    exit 1
fi
echo
echo "== ember cluster stop"
$EMBER cluster stop
for _ in $(seq 1 100); do
    kill -0 "$MPIRUN_PID" 2>/dev/null || break
    sleep 0.1
done
MPIRUN_PID=
echo "== $RUN_DIR/status"
cat "$RUN_DIR/status"
code=$(head -n1 "$RUN_DIR/status")
exit "$code"
