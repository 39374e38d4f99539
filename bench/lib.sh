# shellcheck shell=bash
# lib.sh -- what the bench scripts share; sourced, never run:
#   bench_init NAME            cd to the repository, a temporary directory
#                              $TMP (/tmp/ember-bench-NAME.XXXXXX) and an
#                              exit trap that stops the cluster (if one
#                              was started) and removes $TMP, whatever
#                              way the script ends;
#   bench_build TARGET...      a Release build of the targets into
#                              build-bench/ (its log shown only when it
#                              fails, then the script exits);
#   bench_cluster_start N [ARG...]
#                              a local cluster on loopback: primary + N
#                              core nodes, replication 1 (ARGs go to
#                              `ember cluster` after it), its run dir
#                              $RUN_DIR, waited for until N core nodes are
#                              live; $EMBER is the client on it;
#   bench_cluster_stop         `ember cluster stop`, waited for;
#   timed NAME CMD...          runs CMD (its output into $TMP/NAME.log),
#                              "wall user sys" seconds into $TMP/NAME.time;
#                              exits the script if CMD fails;
#   bench_counter LOG NAME     the counter NAME in an `ember run` log;
#   bench_machine              one line: when, cores, load average.
# Every function that fails prints one line naming the script and exits.

BENCH_NAME=bench
MPIRUN_PID=

bench_fail() {
    echo "$BENCH_NAME.sh: $*" >&2
    exit 1
}

bench_cleanup() {
    if [ -n "$MPIRUN_PID" ] && kill -0 "$MPIRUN_PID" 2>/dev/null; then
        $EMBER cluster stop >/dev/null 2>&1 || kill -TERM -- "-$MPIRUN_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$MPIRUN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$MPIRUN_PID" 2>/dev/null || true
    fi
    [ -z "${TMP:-}" ] || rm -rf "$TMP"
}

bench_init() {
    BENCH_NAME=$1
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
    TMP=$(mktemp -d "/tmp/ember-bench-$BENCH_NAME.XXXXXX")
    RUN_DIR=$TMP/run
    EMBER="$PWD/build-bench/ember --run-dir $RUN_DIR"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    if [ "$(id -u)" -eq 0 ]; then
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
}

bench_build() {
    { cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release &&
        cmake --build build-bench -j"$(nproc)" --target "$@"; } >"$TMP/build.log" 2>&1 ||
        { cat "$TMP/build.log" >&2; bench_fail "the build failed"; }
}

bench_cluster_start() {
    local cores=$1
    shift
    setsid mpirun --enable-recovery --oversubscribe -np $((cores + 1)) \
        --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
        build-bench/ember cluster --run-dir "$RUN_DIR" --core-nodes "$cores" \
        -D dfs.replication=1 "$@" >"$TMP/mpirun.log" 2>&1 &
    MPIRUN_PID=$!
    for _ in $(seq 1 600); do
        $EMBER status 2>/dev/null | grep -q "Core nodes:  $cores live" && return 0
        kill -0 "$MPIRUN_PID" 2>/dev/null ||
            { tail -5 "$TMP/mpirun.log" >&2; bench_fail "the cluster exited while starting"; }
        sleep 0.1
    done
    bench_fail "the cluster did not have $cores live core nodes within 60 s"
}

bench_cluster_stop() {
    $EMBER cluster stop >/dev/null || bench_fail "ember cluster stop failed"
    for _ in $(seq 1 300); do
        kill -0 "$MPIRUN_PID" 2>/dev/null || { MPIRUN_PID=; return 0; }
        sleep 0.1
    done
    bench_fail "the cluster did not exit within 30 s of ember cluster stop"
}

timed() {
    local name=$1
    shift
    /usr/bin/time -o "$TMP/$name.time" -f "%e %U %S" "$@" >"$TMP/$name.log" 2>&1 ||
        { tail -20 "$TMP/$name.log" >&2; bench_fail "$name failed"; }
}

bench_counter() { sed -n "s/^\t\t$2=//p" "$1" | tail -1; }

bench_machine() {
    echo "$(date -u '+%F %H:%M') UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_memory LOG SORT_MB: the job's peak map and reduce RSS (Hadoop's
# "Peak Map/Reduce Physical memory (bytes)": the largest of its tasks')
# against issue 11's bound for a map: its sort buffer + 64 MiB.
bench_memory() {
    local map reduce
    map=$(bench_counter "$1" 'Peak Map Physical memory (bytes)')
    reduce=$(bench_counter "$1" 'Peak Reduce Physical memory (bytes)')
    [ -n "$map" ] || bench_fail "the job reported no 'Peak Map Physical memory (bytes)'"
    awk -v m="$map" -v r="${reduce:-0}" -v s="$2" 'BEGIN {
        printf "peak RSS of a map task: %.1f MiB; bound: sort buffer %d MiB + 64 MiB = %d MiB: %s\n",
            m / 1048576, s, s + 64, m <= (s + 64) * 1048576 ? "within" : "OVER"
        if (r > 0)
            printf "peak RSS of a reduce task: %.1f MiB\n", r / 1048576
    }'
}
