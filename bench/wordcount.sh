#!/usr/bin/env bash
# wordcount.sh -- ember's wordcount on a local cluster against its
# baselines, one command (issue 11's Performance section):
#   ./bench/wordcount.sh [MB]
# Builds release (build-bench/, as the other bench scripts), makes MB
# (default 1024) MiB of text as issue 11 describes it (lines of 10 words
# drawn from a 50,000-word vocabulary of 2-12 letters; bench/
# wordcount_floor.c, the same bytes every run) and counts its words five
# ways, one after another on the same bytes:
#   ember cluster  `ember run wordcount -D mapreduce.job.reduces=2 IN OUT`
#                  on a local cluster (primary + 2 core nodes, replication
#                  1, the default 128 MiB blocks), the input put into its
#                  HDFS beforehand (not timed); the combiner is the map
#                  side's hash table (the default). The cluster is stopped
#                  before the baselines run;
#   ember local    the same job with -D mapreduce.framework.name=local on
#                  file:// paths: every task in one process;
#   MR-MPI         MR-MPI's word frequency with compress() as the combiner
#                  (bench/mrmpi_wordcount.cpp against Debian's
#                  libmrmpi-dev), mpirun -np 2;
#   GNU pipeline   LC_ALL=C tr -s '[:space:]' '\n' | sort | uniq -c;
#   C floor        one thread, one hash table, no framework
#                  (wordcount_floor count): what the work costs by itself.
# It checks that all five give the same counts, then prints MB/s (wall
# clock), CPU seconds (user + sys; for the cluster, the job's "CPU time
# spent" counter, its tasks' CPU), the cluster job's tasks and task time,
# and ember's ratios to MR-MPI and the pipeline against issue 11's
# targets (6x and 8x).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-1024}

TMP=$(mktemp -d /tmp/ember-bench-wc.XXXXXX)
RUN_DIR=$TMP/run
EMBER="$PWD/build-bench/ember --run-dir $RUN_DIR"
MPIRUN_PID=
cleanup() {
    if [ -n "$MPIRUN_PID" ] && kill -0 "$MPIRUN_PID" 2>/dev/null; then
        $EMBER cluster stop >/dev/null 2>&1 || kill -TERM -- "-$MPIRUN_PID" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$MPIRUN_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

{ cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release &&
    cmake --build build-bench -j"$(nproc)" --target ember example_wordcount wordcount_floor &&
    mpicxx -O2 -o build-bench/mrmpi_wordcount bench/mrmpi_wordcount.cpp -lMapReduceMPI; } \
    >"$TMP/build.log" 2>&1 ||
    { cat "$TMP/build.log" >&2; echo "wordcount.sh: the build failed (MR-MPI: apt-get install libmrmpi-dev)" >&2; exit 1; }
build-bench/wordcount_floor gen "$MB" 1 >"$TMP/in.txt"
bytes=$(stat -c %s "$TMP/in.txt")

# timed NAME CMD...: runs CMD, its wall and CPU seconds into $TMP/NAME.time.
timed() {
    local name=$1
    shift
    /usr/bin/time -o "$TMP/$name.time" -f "%e %U %S" "$@" >"$TMP/$name.log" 2>&1 ||
        { cat "$TMP/$name.log" >&2; echo "wordcount.sh: $name failed" >&2; exit 1; }
}
# Counts as "word count" lines in byte order, for comparing.
normalize() { awk -F'\t' '{ print $1 " " $2 }' | LC_ALL=C sort; }

setsid mpirun --enable-recovery --oversubscribe -np 3 \
    --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
    build-bench/ember cluster --run-dir "$RUN_DIR" --core-nodes 2 -D dfs.replication=1 \
    >"$TMP/mpirun.log" 2>&1 &
MPIRUN_PID=$!
for _ in $(seq 1 600); do
    $EMBER status 2>/dev/null | grep -q 'Core nodes:  2 live' && break
    sleep 0.1
done
$EMBER dfs -D dfs.replication=1 -put "$TMP/in.txt" /bench-in.txt
timed cluster $EMBER run wordcount -D mapreduce.job.reduces=2 /bench-in.txt /bench-out
$EMBER dfs -cat '/bench-out/part-r-*' | normalize >"$TMP/cluster.txt"
# The job's CPU (its tasks' "CPU time spent" counter) stands for the
# cluster's: the ranks are not children of the timed client.
counter() { sed -n "s/^\t\t$1=//p" "$TMP/cluster.log" | tail -1; }
read -r wall _ <"$TMP/cluster.time"
echo "$wall $(awk -v ms="$(counter 'CPU time spent (ms)')" 'BEGIN { print ms / 1000 }') 0" \
    >"$TMP/cluster.time"
cluster_tasks="$(counter 'Launched map tasks') maps ($(counter 'Data-local map tasks') data-local),\
 $(counter 'Launched reduce tasks') reduces; task time: maps $(counter 'Total time spent by all map tasks (ms)') ms,\
 reduces $(counter 'Total time spent by all reduce tasks (ms)') ms; spilled records $(counter 'Spilled Records')"
$EMBER cluster stop >/dev/null
for _ in $(seq 1 300); do kill -0 "$MPIRUN_PID" 2>/dev/null || break; sleep 0.1; done
MPIRUN_PID=

timed local build-bench/ember run wordcount -D mapreduce.framework.name=local \
    "file://$TMP/in.txt" "file://$TMP/out"
timed mrmpi mpirun -np 2 --allow-run-as-root --mca btl self,vader \
    -x TMPDIR="$TMP" build-bench/mrmpi_wordcount "$TMP/in.txt" "$TMP/mrmpi.out"
timed gnu sh -c "LC_ALL=C tr -s '[:space:]' '\n' <'$TMP/in.txt' | LC_ALL=C sort | uniq -c \
    >'$TMP/gnu.out'"
timed floor sh -c "build-bench/wordcount_floor count '$TMP/in.txt' >'$TMP/floor.out'"

cat "$TMP"/out/part-r-* | normalize >"$TMP/local.txt"
cat "$TMP"/mrmpi.out.* | normalize >"$TMP/mrmpi.txt"
awk '$2 != "" { print $2 "\t" $1 }' "$TMP/gnu.out" | normalize >"$TMP/gnu.txt"
normalize <"$TMP/floor.out" >"$TMP/floor.txt"
for other in local mrmpi gnu floor; do
    cmp -s "$TMP/cluster.txt" "$TMP/$other.txt" ||
        { echo "wordcount.sh: ember (cluster) and $other differ:" >&2
          diff "$TMP/cluster.txt" "$TMP/$other.txt" | head -5 >&2; exit 1; }
done

words=$(awk '{ n += $2 } END { print n }' "$TMP/cluster.txt")
distinct=$(wc -l <"$TMP/cluster.txt")
echo "$(date -u '+%F %H:%M') UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$bytes" -v w="$words" -v d="$distinct" -v dir="$TMP" -v tasks="$cluster_tasks" 'BEGIN {
    split("cluster local mrmpi gnu floor", k, " ")
    name["cluster"] = "ember, cluster (2 core nodes, HDFS)"
    name["local"] = "ember, local mode (file://)"
    name["mrmpi"] = "MR-MPI + compress(), mpirun -np 2"
    name["gnu"] = "tr | sort | uniq -c (LC_ALL=C)"; name["floor"] = "C floor (one hash table)"
    for (i = 1; i <= 5; i++) {
        getline line < (dir "/" k[i] ".time")
        split(line, t, " "); wall[k[i]] = t[1]; cpu[k[i]] = t[2] + t[3]
    }
    printf "input: %.0f MB, %d words, %d distinct; all five outputs agree\n", b / 1e6, w, d
    for (i = 1; i <= 5; i++)
        printf "%-38s %7.1f MB/s  %6.2f s wall  %6.2f s CPU\n", name[k[i]],
            b / 1e6 / wall[k[i]], wall[k[i]], cpu[k[i]]
    printf "cluster job: %s\n", tasks
    printf "ember cluster / MR-MPI:   %5.2fx (target 6x)\n", wall["mrmpi"] / wall["cluster"]
    printf "ember cluster / pipeline: %5.2fx (target 8x)\n", wall["gnu"] / wall["cluster"]
    printf "ember local   / MR-MPI:   %5.2fx, / pipeline: %5.2fx\n",
        wall["mrmpi"] / wall["local"], wall["gnu"] / wall["local"]
}'
