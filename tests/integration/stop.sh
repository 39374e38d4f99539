#!/usr/bin/env bash
# A clean stop: every rank exits, mpirun exits, the status file says 0,
# cluster.json is gone, and the CLI then says clearly that nothing runs.
. "$(dirname "$0")/lib.sh"

cluster_start 4 --core-nodes 2
[ "$(stat -c %a "$RUN_DIR/cluster.json")" = 600 ] || fail "cluster.json is not mode 0600"
# A second cluster on the same run directory is refused by every rank,
# before any of them touches the running cluster's files.
pids_before=$(cat "$RUN_DIR"/pids/*.pid)
out=$(ASAN_OPTIONS=$MPI_ASAN timeout 60 mpirun --oversubscribe -np 3 $MPI_LOOPBACK "$EMBER" cluster --run-dir "$RUN_DIR" 2>&1) &&
    fail "a second cluster started on a busy run directory"
grep -q 'already running' <<<"$out" || fail "no clear error for a busy run directory: $out"
expect_eq "$(cat "$RUN_DIR"/pids/*.pid)" "$pids_before" "pid files after the refused start"
[ ! -e "$RUN_DIR/status" ] || fail "the refused start wrote a status file into the running cluster"
ember status | grep -q 'Core nodes:  2 live, 0 dead' || fail "running cluster hurt by the refused start"

out=$(ember cluster stop) || fail "stop failed: $out"
grep -q 'exit status 0' <<<"$out" || fail "stop did not report 0: $out"
cluster_wait_exit 30
expect_eq "$(head -n1 "$RUN_DIR/status")" 0 "status code"
[ ! -e "$RUN_DIR/cluster.json" ] || fail "cluster.json left behind"
for r in 0 1 2 3; do
    ! kill -0 "$(rank_pid $r)" 2>/dev/null || fail "rank $r still running"
done
out=$(ember status 2>&1) && fail "status succeeded with no cluster"
expect_eq "$(wc -l <<<"$out")" 1 "lines of the no-cluster error"
grep -q 'cluster.json' <<<"$out" || fail "no-cluster error does not name cluster.json: $out"

# SIGTERM to the primary is an orderly stop too.
rm -rf "$RUN_DIR"
cluster_start 3
kill -TERM "$(rank_pid 0)"
cluster_wait_exit 30
expect_eq "$(head -n1 "$RUN_DIR/status")" 0 "status after SIGTERM"
log PASS
