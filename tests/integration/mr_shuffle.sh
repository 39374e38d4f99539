#!/usr/bin/env bash
# mr_shuffle.sh -- the MapReduce workers' shuffle over MPI
# (tests/tools/mr_shuffle.c): a map output of about 5 MB served by one
# worker through ShuffleRequest and a bulk payload, received by another
# into a memfd for its reduce task, which compares it byte for byte with
# the map's file; a map output the server does not have (ENOENT), a rank
# that never answers (the fetch's deadline) and a rank that does not
# exist, each answered to the task and reported to rank 0.  Over shared
# memory and over TCP only (btl tcp,self).  No task process outlives a
# run.
. "$(dirname "$0")/lib.sh"
: "${MR_SHUFFLE:?MR_SHUFFLE must point at the mr_shuffle test tool}"
: "${MR_TEST_TASK:?MR_TEST_TASK must point at the mr_test_task tool}"

# run_shuffle NAME [mpirun options...]: one run in its own run directory.
run_shuffle() {
    local name=$1; shift
    local dir=$TEST_TMP/$name out=$TEST_TMP/$name.out
    mkdir -p "$dir"
    setsid timeout 240 mpirun --oversubscribe -np 4 $MPI_LOOPBACK "$@" \
        -x ASAN_OPTIONS -x LSAN_OPTIONS -x UBSAN_OPTIONS \
        "$MR_SHUFFLE" "$dir" "$MR_TEST_TASK" >"$out" 2>&1 &
    MPIRUN_PID=$!
    wait "$MPIRUN_PID"
    local rc=$?
    MPIRUN_PID=
    if [ "$rc" -ne 0 ] || ! grep -q "rank 0: shuffle ok" "$out"; then
        log "---- $name (exit $rc)"
        tail -n 40 "$out"
        fail "$name: the shuffle did not do what it should"
    fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$out"; then
        tail -n 40 "$out"
        fail "$name: a rank reported a sanitizer error"
    fi
    if pgrep -f "$dir/" >/dev/null; then
        pgrep -af "$dir/"
        fail "$name: a task process outlived its worker"
    fi
    if [ -e "$dir/mr" ]; then
        find "$dir/mr" | head
        fail "$name: the workers left map outputs behind"
    fi
    log "$name: $(grep 'the reduce fetched' "$out")"
}

ASAN_OPTIONS=$MPI_ASAN run_shuffle "shared memory"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" run_shuffle "tcp" --mca btl tcp,self
log "PASS"
