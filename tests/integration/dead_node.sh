#!/usr/bin/env bash
# SIGKILL of a core rank and a task rank: both are reported dead within the
# expiry time, the rest keep serving, stop still ends the job, and the
# status file records the loss.
. "$(dirname "$0")/lib.sh"

cluster_start 5 --core-nodes 3
kill -KILL "$(rank_pid 2)" "$(rank_pid 4)"
both_dead() {
    [ "$(section_count 'Dead datanodes')" = 1 ] && [ "$(section_count 'Dead task nodes')" = 1 ]
}
wait_until 15 both_dead || fail "killed ranks not reported dead"
expect_eq "$(section_count 'Live datanodes')" 2 "live datanodes after the kill"
ember dfsadmin -report | grep -A2 '^Dead datanodes' >/dev/null
ember dfsadmin -report | sed -n '/^Dead datanodes/,/^Live task/p' | grep -q '^Name: node-2 ' ||
    fail "node-2 is not the dead datanode"
ember status | grep -q 'Core nodes:  2 live, 1 dead' || fail "status does not count the dead core node"
grep -q 'node 2 (core, .*) is dead' "$RUN_DIR/logs/rank-0.log" || fail "primary did not log node 2's death"

out=$(ember cluster stop)
rc=$?
expect_eq "$rc" 3 "exit status of ember cluster stop"
grep -q 'exit status 3' <<<"$out" || fail "stop did not report exit status 3: $out"
cluster_wait_exit 30
expect_eq "$(head -n1 "$RUN_DIR/status")" 3 "status code"
grep -q 'rank 2' "$RUN_DIR/status" && grep -q 'rank 4' "$RUN_DIR/status" ||
    fail "status does not name the lost ranks: $(cat "$RUN_DIR/status")"
for r in 0 1 3; do
    ! kill -0 "$(rank_pid $r)" 2>/dev/null || fail "rank $r still running after stop"
done
log PASS
