#!/usr/bin/env bash
# idle.sh -- what an idle cluster costs in CPU, one command (issue 11:
# "an idle cluster uses < 2% of a core; ranks must not spin while waiting
# on MPI"):
#   ./bench/idle.sh [SECONDS] [CORE_NODES]
# Builds release (build-bench/, bench/lib.sh), starts a local cluster
# (primary + CORE_NODES core nodes, default 2; replication 1), waits until
# every core node is live and then 5 s more for the start's work (block
# reports, the first heartbeats) to pass, then reads every rank's CPU
# (utime + stime of /proc/PID/stat, all its threads; the pids from the run
# dir's pids/rank-N.pid) before and after SECONDS (default 10) of
# idleness, and prints each rank's and their sum's share of one core
# against the target (< 2%).  mpirun and its daemon are shown apart: they
# are Open MPI's, not ember's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init idle
SECONDS_IDLE=${1:-10}
CORES=${2:-2}
case "$SECONDS_IDLE$CORES" in
*[!0-9]*) bench_fail "SECONDS and CORE_NODES are whole numbers" ;;
esac
[ "$SECONDS_IDLE" -gt 0 ] || bench_fail "SECONDS must be at least 1"
TICKS=$(getconf CLK_TCK)

# cpu_ticks PID: its utime + stime in clock ticks (fields 14 and 15; the
# command name, field 2, may hold spaces: counted from after its ')').
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# Open MPI's own processes: mpirun and the processes under it that are
# not ranks (its prted daemon).
mpi_pids() {
    local ranks=" $* " pid
    for pid in $MPIRUN_PID $(pgrep -g "$MPIRUN_PID" 2>/dev/null || true); do
        [[ $ranks == *" $pid "* ]] || echo "$pid"
    done | sort -u
}

bench_build ember
bench_cluster_start "$CORES"
sleep 5
pids=()
for rank in $(seq 0 "$CORES"); do
    pids+=("$(cat "$RUN_DIR/pids/rank-$rank.pid")")
done
mapfile -t others < <(mpi_pids "${pids[@]}")

before=()
for pid in "${pids[@]}" "${others[@]}"; do before+=("$(cpu_ticks "$pid")"); done
s=${EPOCHREALTIME/./}
sleep "$SECONDS_IDLE"
e=${EPOCHREALTIME/./}
after=()
for pid in "${pids[@]}" "${others[@]}"; do after+=("$(cpu_ticks "$pid")"); done
$EMBER status 2>/dev/null | grep -q "Core nodes:  $CORES live" ||
    bench_fail "the cluster lost a core node while idle"
bench_cluster_stop

bench_machine
n=${#pids[@]}
for i in $(seq 0 $((${#before[@]} - 1))); do
    if [ "$i" -lt "$n" ]; then who="rank $i"; else who="Open MPI pid ${others[$((i - n))]}"; fi
    echo "$who $((after[i] - before[i]))"
done | awk -v us=$((e - s)) -v hz="$TICKS" -v n="$n" '
    { name = $0; sub(/ [0-9]+$/, "", name); t = $NF / hz
      pct = t / (us / 1e6) * 100
      printf "%-22s %6.2f s CPU  %5.2f%% of a core\n", name, t, pct
      if (NR <= n) total += t; else mpi += t }
    END {
        pct = total / (us / 1e6) * 100
        printf "the %d ranks, over %.1f s idle: %.2f s CPU, %.2f%% of a core (target < 2%%): %s\n",
            n, us / 1e6, total, pct, pct < 2 ? "met" : "MISSED"
        printf "Open MPI (mpirun, its daemon): %.2f%% of a core\n", mpi / (us / 1e6) * 100
    }'
