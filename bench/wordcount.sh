#!/usr/bin/env bash
# wordcount.sh -- ember's wordcount against its baselines, one command:
#   ./bench/wordcount.sh [MB]
# Builds release (build-bench/, as the other bench scripts), makes MB
# (default 128) MiB of text as issue 11 describes it (lines of 10 words
# drawn from a 50,000-word vocabulary of 2-12 letters; bench/
# wordcount_floor.c, the same bytes every run) and counts its words four
# ways, one after another on the same file:
#   ember          `ember run wordcount file://IN file://OUT`: local mode,
#                  every task in one process, one reduce, the combiner in
#                  the map side's hash table (the default);
#   ember (sort)   the same with -D ember.map.combine.hash=false: Hadoop's
#                  way, sort the map output then combine each spill;
#   GNU pipeline   LC_ALL=C tr -s '[:space:]' '\n' | sort | uniq -c;
#   C floor        one thread, one hash table, no framework
#                  (wordcount_floor count): what the work costs by itself.
# It checks that all four give the same counts, then prints MB/s (wall
# clock), CPU seconds (user + sys: steadier than the wall clock on a
# shared machine) and ember's ratios to the others.
#
# MR-MPI, the MPI MapReduce library issue 11 names as a baseline, is not
# packaged in Debian (no libmrmpi-dev in bookworm), so it is not run here.
# The cluster bench (ember on 2 core nodes, input in HDFS) comes with the
# scheduler and the shuffle over MPI.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-128}

TMP=$(mktemp -d /tmp/ember-bench-wc.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
{ cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release &&
    cmake --build build-bench -j"$(nproc)" --target ember example_wordcount wordcount_floor; } \
    >"$TMP/build.log" 2>&1 ||
    { cat "$TMP/build.log" >&2; echo "wordcount.sh: the build failed" >&2; exit 1; }
build-bench/wordcount_floor gen "$MB" 1 >"$TMP/in.txt"
bytes=$(stat -c %s "$TMP/in.txt")

# timed NAME CMD...: runs CMD, its wall and CPU seconds into $TMP/NAME.time.
timed() {
    local name=$1
    shift
    /usr/bin/time -o "$TMP/$name.time" -f "%e %U %S" "$@"
}
# Counts as "word count" lines in byte order, for comparing.
normalize() { awk -F'\t' '{ print $1 " " $2 }' | LC_ALL=C sort; }

timed ember build-bench/ember run wordcount "file://$TMP/in.txt" "file://$TMP/out" \
    >"$TMP/ember.log" 2>&1 || { cat "$TMP/ember.log" >&2; exit 1; }
timed sorted build-bench/ember run wordcount -D ember.map.combine.hash=false \
    "file://$TMP/in.txt" "file://$TMP/out2" >"$TMP/sorted.log" 2>&1 ||
    { cat "$TMP/sorted.log" >&2; exit 1; }
timed gnu sh -c "LC_ALL=C tr -s '[:space:]' '\n' <'$TMP/in.txt' | LC_ALL=C sort | uniq -c \
    >'$TMP/gnu.out'"
timed floor sh -c "build-bench/wordcount_floor count '$TMP/in.txt' >'$TMP/floor.out'"

cat "$TMP"/out/part-r-* | normalize >"$TMP/ember.txt"
cat "$TMP"/out2/part-r-* | normalize >"$TMP/sorted.txt"
awk '$2 != "" { print $2 "\t" $1 }' "$TMP/gnu.out" | normalize >"$TMP/gnu.txt"
normalize <"$TMP/floor.out" >"$TMP/floor.txt"
for other in sorted gnu floor; do
    cmp -s "$TMP/ember.txt" "$TMP/$other.txt" ||
        { echo "wordcount.sh: ember and $other differ:" >&2
          diff "$TMP/ember.txt" "$TMP/$other.txt" | head -5 >&2; exit 1; }
done

words=$(awk '{ n += $2 } END { print n }' "$TMP/ember.txt")
distinct=$(wc -l <"$TMP/ember.txt")
awk -v b="$bytes" -v w="$words" -v d="$distinct" -v dir="$TMP" 'BEGIN {
    split("ember sorted gnu floor", k, " ")
    name["ember"] = "ember (hash combine)"; name["sorted"] = "ember (sort, then combine)"
    name["gnu"] = "tr | sort | uniq -c (LC_ALL=C)"; name["floor"] = "C floor (one hash table)"
    for (i = 1; i <= 4; i++) {
        getline line < (dir "/" k[i] ".time")
        split(line, t, " "); wall[k[i]] = t[1]; cpu[k[i]] = t[2] + t[3]
    }
    printf "input: %.0f MB, %d words, %d distinct; outputs agree\n", b / 1e6, w, d
    for (i = 1; i <= 4; i++)
        printf "%-32s %7.1f MB/s  %6.2f s wall  %6.2f s CPU\n", name[k[i]],
            b / 1e6 / wall[k[i]], wall[k[i]], cpu[k[i]]
    for (i = 2; i <= 4; i++)
        printf "ember vs %-32s %5.2fx (wall)  %5.2fx (CPU)\n", name[k[i]],
            wall[k[i]] / wall["ember"], cpu[k[i]] / cpu["ember"]
}'
