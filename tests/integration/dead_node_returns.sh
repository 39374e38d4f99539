#!/usr/bin/env bash
# Fencing and return: a core rank stopped (SIGSTOP) past the expiry is
# declared dead and its replicas stop counting; resumed (SIGCONT), it is
# told to register again, registers, sends a full block report, and only
# then do its replicas count again -- the file is back to full replication
# without any copy being made.
. "$(dirname "$0")/lib.sh"

cluster_start 5 --core-nodes 4 -D dfs.replication=4 -D dfs.blocksize=1m
head -c 3000000 /dev/urandom >"$TEST_TMP/data"
dfs -put "$TEST_TMP/data" /f || fail "put failed"
wait_until 30 dfs_healthy || fail "not healthy after the put: $(ember fsck / 2>&1 | tail -n 20)"

victim=3
vpid=$(rank_pid $victim)
kill -STOP "$vpid"
on_cleanup "kill -CONT $vpid 2>/dev/null"
dead_count() { [ "$(section_count 'Dead datanodes')" = "$1" ]; }
wait_until 20 dead_count 1 || fail "the stopped rank was not declared dead"
under_replicated() { ember fsck / 2>&1 | grep -qE 'Under-replicated blocks:\s+[1-9]'; }
wait_until 20 under_replicated || fail "the dead node's replicas still count: $(ember fsck / 2>&1 | tail -n 20)"

kill -CONT "$vpid"
wait_until 30 dead_count 0 || fail "the resumed rank did not come back: $(ember dfsadmin -report 2>&1)"
expect_eq "$(section_count 'Live datanodes')" 4 "live datanodes after the return"
grep -q "node $victim came back and registered again" "$RUN_DIR/logs/rank-0.log" ||
    fail "the primary did not log node $victim's return"
grep -q "did not run for" "$RUN_DIR/logs/rank-$victim.log" ||
    fail "rank $victim did not notice it had been stopped"
# Its replicas count again once its full report is in.
wait_until 30 dfs_healthy || fail "not healthy after the return: $(ember fsck / 2>&1 | tail -n 20)"
grep -q "block report from node $victim" "$RUN_DIR/logs/rank-0.log" ||
    fail "no block report from the returned node"
dfs -cat /f >"$TEST_TMP/back" || fail "cat after the return failed"
cmp -s "$TEST_TMP/data" "$TEST_TMP/back" || fail "data differs after the return"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
