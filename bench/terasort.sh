#!/usr/bin/env bash
# terasort.sh -- the Sort Benchmark pipeline on a local cluster against
# GNU sort, one command (issue 11's Performance section):
#   ./bench/terasort.sh [MB]
# Builds release (build-bench/, bench/lib.sh), starts a local cluster
# (primary + 2 core nodes, replication 1, the default 128 MiB blocks) and
# times, one after another:
#   teragen       `ember run teragen -D mapreduce.job.maps=2 ROWS /tera/in`:
#                 ROWS = MB MiB / 100 (default 1024: 10,737,418 records of
#                 100 bytes, gensort's records) written into HDFS;
#   terasort      `ember run terasort -D mapreduce.job.reduces=2` of them
#                 into /tera/out;
#   teravalidate  of /tera/out: its report must hold no error line and
#                 its checksum (the sum of the records' CRC32s) must be
#                 teragen's CHECKSUM counter, in hex;
# then copies the input and terasort's output out of HDFS as text lines
# (not timed), stops the cluster and times the baseline, `LC_ALL=C sort`
# of the input's lines, and checks that its output and terasort's lines
# are the same bytes: the same records in the same order.
#
# The text lines: a record's key (bytes 0-9) is binary and may hold a
# newline byte, so a line is the key in hex (20 characters), then the
# record's other 90 bytes as they are (00 11, the row id in hex, 88 99 AA
# BB, hex filler, CC DD EE FF: never a newline), then "\n": 111 bytes.
# Hex digits keep the keys' byte order under LC_ALL=C (memcmp), so sorting
# the lines orders the records exactly as terasort does by their 10-byte
# keys (gensort's keys do not repeat, so ties cannot reorder them).
#
# MB/s are of the records' bytes (100 per record) for every step, GNU sort
# included, so they compare; CPU is the jobs' "CPU time spent" counter
# (their tasks') and sort's user + sys.  Prints the ratio terasort / GNU
# sort (wall) against issue 11's target (1.5x) and terasort's map tasks'
# peak RSS against the bound of their sort buffer + 64 MiB.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init tera
MB=${1:-1024}
ROWS=$((MB * 1048576 / 100))
SORT_MB=100 # mapreduce.task.io.sort.mb's default, which terasort keeps
[ "$ROWS" -gt 0 ] || bench_fail "MB must be a positive number of MiB"

# Records on stdin as text lines (see the header) on stdout.
tolines() {
    perl -e 'binmode STDIN; binmode STDOUT; $/ = \100;
        while (<STDIN>) {
            length($_) == 100 or die "terasort.sh: a partial record\n";
            print unpack("H20", $_), substr($_, 10), "\n";
        }'
}

# job_cpu NAME: $TMP/NAME.time's CPU replaced by the job's tasks' CPU.
job_cpu() {
    local wall cpu_ms
    read -r wall _ <"$TMP/$1.time"
    cpu_ms=$(bench_counter "$TMP/$1.log" 'CPU time spent (ms)')
    echo "$wall $(awk -v ms="${cpu_ms:-0}" 'BEGIN { print ms / 1000 }') 0" >"$TMP/$1.time"
}

bench_build ember example_teragen example_terasort example_teravalidate
bench_cluster_start 2
timed teragen $EMBER run teragen -D mapreduce.job.maps=2 "$ROWS" /tera/in
timed terasort $EMBER run terasort -D mapreduce.job.reduces=2 /tera/in /tera/out
timed teravalidate $EMBER run teravalidate /tera/out /tera/report
for job in teragen terasort teravalidate; do job_cpu $job; done

sum=$(bench_counter "$TMP/teragen.log" CHECKSUM)
[ -n "$sum" ] || bench_fail "teragen reported no CHECKSUM counter"
$EMBER dfs -cat '/tera/report/part-r-*' >"$TMP/report"
if grep -q '^error' "$TMP/report"; then
    head -5 "$TMP/report" >&2
    bench_fail "teravalidate found errors in terasort's output"
fi
[ "$(cat "$TMP/report")" = "$(printf 'checksum\t%x' "$sum")" ] ||
    bench_fail "teravalidate's report '$(head -c 200 "$TMP/report")' is not checksum $(printf %x "$sum")"
$EMBER dfs -cat '/tera/in/part-m-*' | tolines >"$TMP/in.lines"
$EMBER dfs -cat '/tera/out/part-r-*' | tolines >"$TMP/terasort.lines"
maps=$(bench_counter "$TMP/terasort.log" 'Launched map tasks')
local_maps=$(bench_counter "$TMP/terasort.log" 'Data-local map tasks')
bench_cluster_stop

timed sort env LC_ALL=C sort -T "$TMP" -o "$TMP/sort.lines" "$TMP/in.lines"
[ "$(wc -l <"$TMP/sort.lines")" -eq "$ROWS" ] || bench_fail "GNU sort's output is not $ROWS lines"
cmp -s "$TMP/sort.lines" "$TMP/terasort.lines" ||
    bench_fail "terasort's records are not GNU sort's, in its order"

bench_machine
echo "input: $ROWS records of 100 bytes; terasort's output is GNU sort's order (cmp of the lines);"
echo "teravalidate: no errors, checksum $(printf %x "$sum") = teragen's CHECKSUM"
awk -v b="$((ROWS * 100))" -v dir="$TMP" -v maps="$maps" -v local_maps="${local_maps:-0}" 'BEGIN {
    split("teragen terasort teravalidate sort", k, " ")
    name["teragen"] = "teragen (2 maps, into HDFS)"
    name["terasort"] = "terasort (" maps " maps, " local_maps " data-local; 2 reduces)"
    name["teravalidate"] = "teravalidate"
    name["sort"] = "GNU sort (LC_ALL=C, 111-byte lines)"
    for (i = 1; i <= 4; i++) {
        getline line < (dir "/" k[i] ".time")
        split(line, t, " "); wall[k[i]] = t[1]; cpu[k[i]] = t[2] + t[3]
    }
    for (i = 1; i <= 4; i++)
        printf "%-44s %7.1f MB/s  %6.2f s wall  %6.2f s CPU\n", name[k[i]],
            b / 1e6 / wall[k[i]], wall[k[i]], cpu[k[i]]
    printf "terasort / GNU sort: %.2fx (target 1.5x)\n", wall["sort"] / wall["terasort"]
}'
bench_memory "$TMP/terasort.log" "$SORT_MB"
