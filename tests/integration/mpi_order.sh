#!/usr/bin/env bash
# mpi_order.sh -- messages from one rank reach the handler in send order,
# whatever their sizes, over shared memory and over Open MPI's TCP
# transport (where a large rendezvous message and a small eager one sent
# after it can complete in either order), and a sender facing a slow
# receiver is held back (EMBER_EAGAIN, then the writable callback) with
# its queued bytes under the cap, still in order.  Bulk payloads, one of
# them past 2 GiB, arrive whole and in order over both transports.
. "$(dirname "$0")/lib.sh"
: "${MPI_ORDER:?MPI_ORDER must point at the mpi_order test tool}"
: "${MPI_BULK:?MPI_BULK must point at the mpi_bulk test tool}"

# run_order NAME NP [mpirun options...] -- ARGS...: runs $TOOL (mpi_order
# by default) under mpirun in its own process group (the EXIT trap stops
# it) and fails the test unless rank 0 says all came in order.
run_order() {
    local name=$1 np=$2 tool=${TOOL:-$MPI_ORDER}; shift 2
    local opts=()
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    local out=$TEST_TMP/$name.out
    setsid timeout "${RUN_TIMEOUT:-120}" mpirun --oversubscribe -np "$np" $MPI_LOOPBACK "${opts[@]}" \
        -x ASAN_OPTIONS -x LSAN_OPTIONS -x UBSAN_OPTIONS "$tool" "$@" >"$out" 2>&1 &
    MPIRUN_PID=$!
    wait "$MPIRUN_PID"
    local rc=$?
    MPIRUN_PID=
    if [ "$rc" -ne 0 ] || ! grep -q "rank 0: .* in order" "$out"; then
        log "---- $name (exit $rc)"
        tail -n 30 "$out"
        fail "$name: messages lost or out of order"
    fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$out"; then
        tail -n 40 "$out"
        fail "$name: a rank reported a sanitizer error"
    fi
    log "$name: $(grep 'rank 0:' "$out")"
    grep "held back" "$out" | sed "s/^/[$TEST_NAME]   /"
}

TCP=(--mca btl tcp,self)
# Two senders of 200 messages each (67 of 1 to 2.5 MB), then one sender
# facing a receiver that sleeps 3 ms a turn with a 6 MB data cap.  Leak
# checking (slow under mpirun: full stacks for the suppressions) in the
# first run only; the others exercise the same code.
ASAN_OPTIONS=$MPI_ASAN run_order "order, shared memory" 3 -- order 200
NO_LEAKS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
ASAN_OPTIONS=$NO_LEAKS run_order "order, tcp" 3 "${TCP[@]}" -- order 200
ASAN_OPTIONS=$NO_LEAKS run_order "backpressure, shared memory" 2 -- backpressure 90 6000000 3
ASAN_OPTIONS=$NO_LEAKS run_order "backpressure, tcp" 2 "${TCP[@]}" -- backpressure 90 6000000 3
# 2,100 MiB + 5 bytes: more than an MPI count (a signed int) can say.
TOOL=$MPI_BULK RUN_TIMEOUT=300 ASAN_OPTIONS=$NO_LEAKS run_order "bulk past 2 GiB, shared memory" 2 \
    -- 2100
# Over TCP a smaller one: chunking is the same, the transport is not.
TOOL=$MPI_BULK ASAN_OPTIONS=$NO_LEAKS run_order "bulk, tcp" 2 "${TCP[@]}" -- 300
log "PASS"
