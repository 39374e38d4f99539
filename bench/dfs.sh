#!/usr/bin/env bash
# dfs.sh -- HDFS benchmarks on a local cluster, one command:
#   ./bench/dfs.sh
# Builds a Release tree (build-bench/, bench/lib.sh), starts primary + 3
# core nodes on loopback (replication 1 unless a put says otherwise), and
# prints each figure with its ratio to its baseline: -put and
# -get of a 1 GiB file (BENCH_MB to change) at replication 1 and 3 against
# cp and cat of the same file on the same disk, run in the same script;
# namenode metadata throughput through the C library (create + stat of
# 10,000 empty files, 1 client and 8 concurrent clients) against the
# issue's targets; and the wall time of one `ember dfs -stat` (median of
# 21; Hadoop's JVM CLI takes ~700 ms).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init dfs
bench_build ember dfs_meta
bench_cluster_start 3

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== namenode metadata through the C library (targets: 5000 creates/s, 20000 stats/s)"
for clients in 1 8; do
    out=$(build-bench/dfs_meta "$RUN_DIR" 10000 "$clients")
    creates=$(sed -n 's/^creates:.* = \([0-9]*\)\/s.*/\1/p' <<<"$out")
    stats=$(sed -n 's/^stats:.* = \([0-9]*\)\/s.*/\1/p' <<<"$out")
    echo "$out"
    echo "   ratio to target: creates $(ratio "$creates" 5000)x, stats $(ratio "$stats" 20000)x"
done

echo "== one 'ember dfs -stat' (target: under 30 ms; Hadoop's CLI ~700 ms)"
$EMBER dfs -touchz /bench-stat-probe 2>/dev/null
times=()
for _ in $(seq 1 21); do
    s=${EPOCHREALTIME/./}  # microseconds, read without forking
    $EMBER dfs -stat /bench-stat-probe >/dev/null
    e=${EPOCHREALTIME/./}
    times+=($((e - s)))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 11p)
echo "median of 21: $((median / 1000)).$(printf '%03d' $((median % 1000))) ms;" \
    "ratio to 30 ms: $(ratio "$median" 30000)x; to Hadoop's 700 ms: $(ratio "$median" 700000)x"

MB=${BENCH_MB:-1024}
echo "== -put / -cat of a $MB MiB file vs cp / cat on the same disk (targets: put r1 >= 0.5x cp, get >= 0.7x cat)"
head -c $((MB * 1048576)) /dev/urandom >"$TMP/src.bin"
secs() { # secs COMMAND...: wall seconds of COMMAND, from bash's clock
    local s=${EPOCHREALTIME/./} e
    "$@" >/dev/null
    e=${EPOCHREALTIME/./}
    awk -v d=$((e - s)) 'BEGIN { printf "%.3f", d / 1e6 }'
}
t_cp=$(secs cp "$TMP/src.bin" "$TMP/copy.bin"); sync
t_cat=$(secs cat "$TMP/src.bin")
rm -f "$TMP/copy.bin"
for rep in 1 3; do
    t_put=$(secs $EMBER dfs -D dfs.replication=$rep -put "$TMP/src.bin" /bench-r$rep.bin)
    t_get=$(secs $EMBER dfs -cat /bench-r$rep.bin)
    put_mbs=$(awk -v m="$MB" -v t="$t_put" 'BEGIN { printf "%.0f", m / t }')
    get_mbs=$(awk -v m="$MB" -v t="$t_get" 'BEGIN { printf "%.0f", m / t }')
    echo "replication $rep: put $put_mbs MB/s ($(ratio "$t_cp" "$t_put")x cp), get $get_mbs MB/s ($(ratio "$t_cat" "$t_get")x cat)"
    $EMBER dfs -rm /bench-r$rep.bin >/dev/null
done
echo "baselines: cp $(awk -v m="$MB" -v t="$t_cp" 'BEGIN { printf "%.0f", m / t }') MB/s, cat $(awk -v m="$MB" -v t="$t_cat" 'BEGIN { printf "%.0f", m / t }') MB/s"
