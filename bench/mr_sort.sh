#!/usr/bin/env bash
# mr_sort.sh -- the map side's sort (sort buffer, spills, merge: the hot
# loops of every MapReduce job) against GNU sort, one command:
#   ./bench/mr_sort.sh [MB]
# Makes MB (default 256) of random 99-character lines, sorts them with
# `LC_ALL=C sort` and with ember's map output collector (one partition,
# mapreduce.task.io.sort.mb = 100, so a few spills and a merge; bench/
# mr_sort.c), checks that both outputs are the same bytes, and prints
# each one's MB/s and the ratio.  Not a job: no HDFS, no scheduler.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init sort
MB=${1:-256}
bench_build mr_sort
mkdir "$TMP/work"
head -c $((MB * 1024 * 1024 * 3 / 4)) /dev/urandom | base64 -w 99 >"$TMP/in"
bytes=$(stat -c %s "$TMP/in")

now() { date +%s.%N; }
t0=$(now)
LC_ALL=C sort "$TMP/in" >"$TMP/gnu"
t1=$(now)
read -r records spills _ < <(build-bench/mr_sort "$TMP/in" "$TMP/ember" "$TMP/work" 100)
t2=$(now)
cmp -s "$TMP/gnu" "$TMP/ember" || bench_fail "outputs differ"

awk -v b="$bytes" -v g="$(echo "$t1 - $t0" | bc)" -v e="$(echo "$t2 - $t1" | bc)" \
    -v r="$records" -v s="$spills" 'BEGIN {
    printf "input: %.0f MB, %d lines of 99 bytes; ember spilled %d time(s)\n", b / 1e6, r, s
    printf "GNU sort (LC_ALL=C):                %7.1f MB/s  %.2f s\n", b / 1e6 / g, g
    printf "ember map-side sort:         %7.1f MB/s  %.2f s\n", b / 1e6 / e, e
    printf "ratio ember / GNU sort:      %7.2fx\n", g / e
}'
