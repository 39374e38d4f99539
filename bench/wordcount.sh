#!/usr/bin/env bash
# wordcount.sh -- ember's wordcount on a local cluster against its
# baselines, one command (issue 11's Performance section):
#   ./bench/wordcount.sh [MB]
#   ./bench/wordcount.sh --scaling [MB...]
# Builds release (build-bench/, bench/lib.sh), makes MB (default 1024)
# MiB of text as issue 11 describes it (lines of 10 words drawn from a
# 50,000-word vocabulary of 2-12 letters; bench/wordcount_floor.c, the
# same bytes every run) and counts its words five ways, one after another
# on the same bytes:
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
# the map tasks' peak RSS (the job's "Peak Map Physical memory (bytes)":
# the largest of its maps') against issue 11's bound (sort buffer + 64
# MiB), and ember's ratios to MR-MPI and the pipeline against issue 11's
# targets (6x and 8x).
#
# --scaling runs only the cluster job, on one cluster, at each size (MiB;
# default 256 512 1024 2048), each checked against the C floor, and
# prints the series (MB, seconds, MB/s, peak map RSS) and whether time
# grows linearly: seconds per MB at the largest size over the smallest,
# and a least-squares line t = a + b * MB with each point's deviation
# from it (issue 11: linear from 256 MiB to 2 GiB), and whether any size
# costs more per MB than the smallest (growth worse than linear).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init wc
SORT_MB=100 # mapreduce.task.io.sort.mb's default, which the jobs keep

# Counts as "word count" lines in byte order, for comparing.
normalize() { awk -F'\t' '{ print $1 " " $2 }' | LC_ALL=C sort; }

# wc_cluster NAME FILE: the cluster wordcount of FILE, put into HDFS
# first (not timed) and removed after; $TMP/NAME.txt its counts,
# $TMP/NAME.time its wall time and its tasks' CPU, $TMP/NAME.log the
# client's output (the job's counters).
wc_cluster() {
    local name=$1 file=$2
    $EMBER dfs -put "$file" "/$name-in.txt"
    timed "$name" $EMBER run wordcount -D mapreduce.job.reduces=2 "/$name-in.txt" "/$name-out"
    $EMBER dfs -cat "/$name-out/part-r-*" | normalize >"$TMP/$name.txt"
    $EMBER dfs -rm -r -skipTrash "/$name-in.txt" "/$name-out" >/dev/null
    # The job's CPU (its tasks' "CPU time spent" counter) stands for the
    # cluster's: the ranks are not children of the timed client.
    local wall cpu_ms
    read -r wall _ <"$TMP/$name.time"
    cpu_ms=$(bench_counter "$TMP/$name.log" 'CPU time spent (ms)')
    echo "$wall $(awk -v ms="$cpu_ms" 'BEGIN { print ms / 1000 }') 0" >"$TMP/$name.time"
}

# same NAME OTHER: fails unless $TMP/NAME.txt and $TMP/OTHER.txt agree.
same() {
    cmp -s "$TMP/$1.txt" "$TMP/$2.txt" ||
        { diff "$TMP/$1.txt" "$TMP/$2.txt" | head -5 >&2; bench_fail "$1 and $2 differ"; }
}

scaling() {
    local sizes=("$@")
    [ ${#sizes[@]} -gt 0 ] || sizes=(256 512 1024 2048)
    bench_build ember example_wordcount wordcount_floor
    bench_cluster_start 2
    : >"$TMP/series"
    for mb in "${sizes[@]}"; do
        build-bench/wordcount_floor gen "$mb" 1 >"$TMP/in.txt"
        wc_cluster "c$mb" "$TMP/in.txt"
        build-bench/wordcount_floor count "$TMP/in.txt" | normalize >"$TMP/f$mb.txt"
        same "c$mb" "f$mb"
        read -r wall _ <"$TMP/c$mb.time"
        echo "$(stat -c %s "$TMP/in.txt") $wall \
$(bench_counter "$TMP/c$mb.log" 'Peak Map Physical memory (bytes)')" >>"$TMP/series"
        rm -f "$TMP/in.txt" "$TMP/c$mb.txt" "$TMP/f$mb.txt"
    done
    bench_cluster_stop
    bench_machine
    echo "cluster wordcount (2 core nodes, HDFS), each size's counts equal the C floor's:"
    awk -v sort_mb="$SORT_MB" '{ mb[NR] = $1 / 1e6; t[NR] = $2; rss[NR] = $3 }
    END {
        printf "%10s %9s %8s %9s %15s\n", "MB", "seconds", "MB/s", "s per GB", "peak map RSS"
        for (i = 1; i <= NR; i++) {
            printf "%10.0f %9.2f %8.1f %9.2f %11.1f MiB\n", mb[i], t[i], mb[i] / t[i],
                t[i] / mb[i] * 1000, rss[i] / 1048576
            sx += mb[i]; sy += t[i]; sxx += mb[i] * mb[i]; sxy += mb[i] * t[i]
            if (rss[i] > top) top = rss[i]
        }
        if (NR < 2) { print "one size: no series to judge"; exit }
        b = (NR * sxy - sx * sy) / (NR * sxx - sx * sx); a = (sy - b * sx) / NR
        printf "seconds per MB, largest over smallest size: %.2f (1.00 is linear)\n",
            (t[NR] / mb[NR]) / (t[1] / mb[1])
        printf "least squares: t = %.2f s + %.3f s per 100 MB; deviation from the line:", a, b * 100
        for (i = 1; i <= NR; i++) {
            d = (t[i] - (a + b * mb[i])) / t[i] * 100
            printf " %+.1f%%", d
            if (d < 0) d = -d
            if (d > worst) worst = d
        }
        printf "\ntime grows linearly (every point within 10%% of the line): %s\n",
            worst <= 10 ? "yes" : "no"
        # Sub-linear is not a failure: the fixed cost (job start, the
        # reduce, a last round of maps that leaves a core idle) weighs
        # less as the input grows.  What must not happen is the cost per
        # MB rising with the size.
        for (i = 2; i <= NR; i++) {
            r = (t[i] / mb[i]) / (t[1] / mb[1])
            if (r > rise) rise = r
        }
        printf "no worse than linear (seconds per MB at every size at most 10%% above the smallest size'"'"'s): %s\n",
            rise <= 1.10 ? "yes" : "no"
        printf "largest map peak RSS %.1f MiB; bound: sort buffer %d MiB + 64 MiB = %d MiB: %s\n",
            top / 1048576, sort_mb, sort_mb + 64, top <= (sort_mb + 64) * 1048576 ? "within" : "OVER"
    }' "$TMP/series"
}

if [ "${1:-}" = --scaling ]; then
    shift
    scaling "$@"
    exit 0
fi
MB=${1:-1024}

bench_build ember example_wordcount wordcount_floor
mpicxx -O2 -o build-bench/mrmpi_wordcount bench/mrmpi_wordcount.cpp -lMapReduceMPI \
    >"$TMP/mrmpi-build.log" 2>&1 ||
    { cat "$TMP/mrmpi-build.log" >&2; bench_fail "MR-MPI's build failed (apt-get install libmrmpi-dev)"; }
build-bench/wordcount_floor gen "$MB" 1 >"$TMP/in.txt"
bytes=$(stat -c %s "$TMP/in.txt")

bench_cluster_start 2
wc_cluster cluster "$TMP/in.txt"
counter() { bench_counter "$TMP/cluster.log" "$1"; }
cluster_tasks="$(counter 'Launched map tasks') maps ($(counter 'Data-local map tasks') data-local),\
 $(counter 'Launched reduce tasks') reduces; task time: maps $(counter 'Total time spent by all map tasks (ms)') ms,\
 reduces $(counter 'Total time spent by all reduce tasks (ms)') ms; spilled records $(counter 'Spilled Records')"
bench_cluster_stop

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
    same cluster "$other"
done

words=$(awk '{ n += $2 } END { print n }' "$TMP/cluster.txt")
distinct=$(wc -l <"$TMP/cluster.txt")
bench_machine
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
bench_memory "$TMP/cluster.log" "$SORT_MB"
