# lib.sh -- shared helpers for ember's multi-rank integration tests.
#
# Each test sources this, calls cluster_start, and relies on the EXIT trap
# to stop every process it started (mpirun's whole process group, then any
# rank still alive by its pid file), pass or fail.  Environment from ctest:
#   EMBER   path of the ember binary
#   PROBE   path of the ember_probe test tool
#   IDLE_WRITER  path of the dfs_idle_writer test tool
#   EMBER_TEST_BTL  optional: "tcp" runs every mpirun of the test with
#                MPI messages over TCP only (btl tcp,self), as between hosts
# Clusters use short timeouts so failures show in seconds.
set -u

: "${EMBER:?EMBER must point at the ember binary}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-} LSAN_OPTIONS=${LSAN_OPTIONS:-} UBSAN_OPTIONS=${UBSAN_OPTIONS:-}
# A process under mpirun that checks its leaks needs full stacks (the slow
# unwinder on every malloc) for the Open MPI suppressions to match frames
# inside its dlopen'ed components; everything else keeps the fast one,
# as the slow one cost a fifth of the suite's CPU.
MPI_ASAN="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
# Open MPI's shared-memory transport wants a writable session dir; keep it
# per test so parallel tests never share one.
TEST_TMP=$(mktemp -d /tmp/ember-it.XXXXXX)
export TMPDIR=$TEST_TMP
RUN_DIR=$TEST_TMP/run
# Open MPI's own TCP traffic (runtime and byte transfer) on loopback only.
MPI_LOOPBACK="--mca btl_tcp_if_include lo --mca oob_tcp_if_include lo"
# One switch for the transport: through the environment, so it reaches
# every mpirun a test starts, cluster_start's and the test's own.
case ${EMBER_TEST_BTL:-} in
    "") ;;
    tcp) export OMPI_MCA_btl=tcp,self ;;
    *) echo "EMBER_TEST_BTL='$EMBER_TEST_BTL': only 'tcp' (or unset) is known" >&2; exit 1 ;;
esac
# How cluster_start runs mpirun: multihost_lib.sh runs it on a simulated
# host (MPIRUN_LAUNCH) with a hostfile and launch agent (MPI_PLACEMENT).
MPIRUN_LAUNCH=(mpirun)
MPI_PLACEMENT=()
# Open MPI's shared-memory segments (/dev/shm/vader_segment.HOST.UID.JOBID.RANK)
# of this test's jobs, read from the ranks' memory maps by cluster_start:
# a SIGKILLed job leaves them behind, and cleanup removes exactly these.
MPI_SHM_FILES=()
MPIRUN_PID=
TEST_NAME=$(basename "$0" .sh)
CLEANUP_CMDS=()

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }

dump_logs() {
    for f in "$RUN_DIR"/logs/*.log "$TEST_TMP"/mpirun.out; do
        [ -f "$f" ] || continue
        echo "---- $f"
        tail -n 40 "$f"
    done
}

# EMBER_TEST_STACKS=1: on a failure, the stack of every thread of every
# rank still running (gdb), before the cleanup kills them -- what a rank
# stuck in an MPI call was doing.
dump_stacks() {
    [ -n "${EMBER_TEST_STACKS:-}" ] && command -v gdb >/dev/null || return 0
    local p
    for p in "$RUN_DIR"/pids/*.pid; do
        [ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null || continue
        echo "---- stacks of $(basename "$p" .pid) (pid $(cat "$p"))"
        timeout 60 gdb -p "$(cat "$p")" -batch -ex 'thread apply all bt' 2>/dev/null |
            grep -E '^(Thread|#)'
    done
}

fail() {
    log "FAIL: $*"
    dump_logs
    dump_stacks
    exit 1
}

cleanup() {
    local rc=$?
    trap '' INT TERM HUP PIPE # a signal now would cut the cleanup short
    if [ -n "$MPIRUN_PID" ] && kill -0 "$MPIRUN_PID" 2>/dev/null; then
        kill -TERM -- "-$MPIRUN_PID" 2>/dev/null
        for _ in $(seq 1 20); do
            kill -0 "$MPIRUN_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$MPIRUN_PID" 2>/dev/null
    fi
    for p in "$RUN_DIR"/pids/*.pid; do
        [ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null
    done
    wait 2>/dev/null
    local c
    for c in "${CLEANUP_CMDS[@]}"; do eval "$c"; done
    remove_shm_files
    if [ -n "${KEEP_TEST_TMP:-}" ]; then
        log "kept $TEST_TMP"
    else
        rm -rf "$TEST_TMP"
    fi
    exit $rc
}
trap cleanup EXIT
# on_cleanup COMMAND: runs COMMAND (eval'd) at exit, after every process
# the test started is gone and before TEST_TMP is removed.
on_cleanup() { CLEANUP_CMDS+=("$1"); }
trap 'exit 1' INT TERM

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
# EMBER_TEST_WAIT_SCALE multiplies every limit: on a loaded machine
# sanitized ranks take far longer to start and exit, and the limits are
# upper bounds, never what a test asserts about speed.  Its default is
# EMBER_TEST_WAIT_SCALE_DEFAULT (ctest sets 2: two tests run at once), else 1.
# The polled command runs without LeakSanitizer's exit scan and with
# ASan's fast unwinder (its output is thrown away anyway): a sanitized
# CLI call spends ~0.2 s of CPU in that scan, and a poll makes hundreds.
wait_until() {
    local limit=$(($1 * ${EMBER_TEST_WAIT_SCALE:-${EMBER_TEST_WAIT_SCALE_DEFAULT:-1}})); shift
    local end=$((SECONDS + limit))
    until ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:fast_unwind_on_malloc=1" \
        "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}

ember() { "$EMBER" --run-dir "$RUN_DIR" "$@"; }
dfs() { ember dfs "$@"; }

# fsck of / says HEALTHY and no block is under-replicated.
dfs_healthy() {
    local out
    out=$(ember fsck / 2>&1) || return 1
    grep -q "is HEALTHY" <<<"$out" && grep -qE 'Under-replicated blocks:\s+0 ' <<<"$out"
}

all_registered() {
    local s
    s=$(ember status 2>/dev/null) || return 1
    ! grep -q 'not registered' <<<"$s"
}

# The tests' default replication: 3, capped to the core nodes, as the
# tests were written for; a test of EMR's default rule (1 with fewer than
# 4 core nodes, ...) sets CLUSTER_REPLICATION= to leave it to the cluster.
CLUSTER_REPLICATION=${CLUSTER_REPLICATION-3}

# cluster_start NP [ember cluster options...]: starts mpirun in its own
# process group and waits until every rank has registered.
cluster_start() {
    local np=$1; shift
    local repl=()
    [ -n "$CLUSTER_REPLICATION" ] && repl=(-D "dfs.replication=$CLUSTER_REPLICATION")
    # The ranks' leak check only where the test asks for it
    # (EMBER_TEST_RANK_LEAKS, tests/CMakeLists.txt): it costs a second of
    # CPU per rank exit.
    local asan=$MPI_ASAN
    [ -n "${EMBER_TEST_RANK_LEAKS:-}" ] || asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    ASAN_OPTIONS=$asan setsid "${MPIRUN_LAUNCH[@]}" --oversubscribe --enable-recovery -np "$np" $MPI_LOOPBACK \
        "${MPI_PLACEMENT[@]}" -x ASAN_OPTIONS -x LSAN_OPTIONS -x UBSAN_OPTIONS \
        "$EMBER" cluster --run-dir "$RUN_DIR" \
        -D ember.node.expiry=3s -D dfs.heartbeat.interval=200ms \
        -D dfs.namenode.safemode.extension=0 "${repl[@]}" "$@" \
        >>"$TEST_TMP/mpirun.out" 2>&1 &
    MPIRUN_PID=$!
    echo "== $(date +%T.%N) cluster_start: mpirun pid $MPIRUN_PID" >>"$TEST_TMP/mpirun.out"
    wait_until 30 test -f "$RUN_DIR/cluster.json" || fail "cluster.json never appeared"
    wait_until 30 all_registered || fail "not every rank registered: $(ember status 2>&1)"
    record_shm_files
}

# Removes the shared-memory segments recorded so far (cleanup does, and a
# test that SIGKILLed a whole job may, to check it).
remove_shm_files() {
    local f
    for f in "${MPI_SHM_FILES[@]}"; do rm -f "$f"; done
}

# Adds the shared-memory segments the running ranks have mapped to
# MPI_SHM_FILES (every rank maps its own and its host's peers' at start).
# A pid file left by an earlier cluster may name another process by now:
# only a process whose command line names this run directory is read.
record_shm_files() {
    local p f pid
    for p in "$RUN_DIR"/pids/rank-*.pid; do
        pid=$(cat "$p" 2>/dev/null) || continue
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--run-dir $RUN_DIR " || continue
        while read -r f; do
            [[ " ${MPI_SHM_FILES[*]} " == *" $f "* ]] || MPI_SHM_FILES+=("$f")
        done < <(awk '$6 ~ "^/dev/shm/vader_segment[.]" {print $6}' "/proc/$pid/maps" 2>/dev/null)
    done
}

# Fails the test when any rank reported a sanitizer error (ASan, LSan,
# UBSan) to mpirun's output: a rank's own exit status is not seen here.
check_sanitizers() {
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TEST_TMP/mpirun.out"; then
        fail "a rank reported a sanitizer error"
    fi
}

# cluster_wait_exit SECONDS: waits for mpirun to exit, then checks its
# output for sanitizer reports.
cluster_wait_exit() {
    if ! wait_until "$1" bash -c "! kill -0 $MPIRUN_PID"; then
        if [ -n "${DEBUG_HANG:-}" ]; then
            for p in $(pgrep -f "ember cluster --run-dir $RUN_DIR"); do
                echo "== $p"; gdb -batch -p "$p" -ex 'thread apply all bt' 2>/dev/null | grep -E '^#|^Thread'
            done > /tmp/hang-bt.txt
        fi
        fail "mpirun did not exit"
    fi
    check_sanitizers
    MPIRUN_PID=
}

rank_pid() { cat "$RUN_DIR/pids/rank-$1.pid"; }

# section_count HEADING: the N of "HEADING (N):" in dfsadmin -report.
section_count() {
    ember dfsadmin -report | sed -n "s/^$1 (\([0-9]*\)):\$/\1/p"
}

# expect_mpi_error PATTERN [ember cluster options...]: a cluster started
# with these options refuses to start; every rank sees the error, rank 0
# prints it, once.
expect_mpi_error() {
    local pattern=$1; shift
    local err
    err=$(ASAN_OPTIONS=$MPI_ASAN timeout 60 mpirun --oversubscribe -np 2 $MPI_LOOPBACK "$EMBER" cluster --run-dir "$RUN_DIR" "$@" 2>&1 >/dev/null) &&
        fail "cluster started with $*"
    grep -q -- "ember: .*$pattern" <<<"$err" || fail "no clear error for $*: $err"
    [ "$(grep -c '^ember: ' <<<"$err")" = 1 ] || fail "error printed more than once for $*: $err"
}

expect_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# redundancy_tick_after_setrep PATH REPLICATION: lowers PATH's replication
# below its live replicas and waits until the namenode logs deleting a
# surplus one -- proof that a redundancy-monitor tick ran after the call.
# Tests use it before asserting that something did NOT happen in such a
# tick (a copy, a decommission finishing) instead of sleeping.
redundancy_tick_after_setrep() {
    local log0=$RUN_DIR/logs/rank-0.log before
    before=$(grep -c "is over-replicated: deleting the replica" "$log0")
    ember dfs -setrep "$2" "$1" >/dev/null || fail "setrep $2 $1"
    wait_until 20 bash -c "[ \$(grep -c 'is over-replicated: deleting the replica' '$log0') -gt $before ]" ||
        fail "no surplus replica of $1 deleted at replication $2"
}
