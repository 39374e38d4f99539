#!/usr/bin/env bash
# Registration carries the node's hwloc summary and storage; heartbeats
# keep "Last contact" moving and feed fresh storage figures.
. "$(dirname "$0")/lib.sh"

cluster_start 3 --core-nodes 1 -D "ember.topology.synthetic=pack:2 numa:2 core:4 pu:2"
report=$(ember dfsadmin -report)
grep -A8 '^Name: node-1 ' <<<"$report" | grep -q '^Cores: 16 (32 PUs, 4 NUMA nodes, 2 packages)' ||
    fail "synthetic topology not reported"
grep -q '^Data Directories: 1 (0 failed, 0 full)' <<<"$report" || fail "data directory not reported"
grep -q "^Hostname: $(hostname)" <<<"$report" || fail "hostname not reported"

# DFS Used follows the replicas the datanode stores.
head -c 1048576 /dev/urandom >"$TEST_TMP/probe.bin"
ember dfs -put "$TEST_TMP/probe.bin" /probe.bin 2>/dev/null || fail "put"
used_grows() { ember dfsadmin -report | grep -A12 '^Name: node-1 ' | grep -q '^DFS Used: 10[0-9][0-9][0-9][0-9][0-9]'; }
wait_until 10 used_grows || fail "DFS Used did not follow the data directory"

# Heartbeats: the primary logs none, but last contact advances (it is
# shown to the second; heartbeats come every 200 ms).
last_contact() { ember dfsadmin -report | grep -A20 '^Name: node-2 ' | sed -n 's/^Last contact: //p'; }
c1=$(last_contact)
[ -n "$c1" ] || fail "no last contact for node 2: $(ember dfsadmin -report)"
contact_advanced() { c2=$(last_contact) && [ -n "$c2" ] && [ "$c2" != "$c1" ]; }
wait_until 10 contact_advanced || fail "last contact did not advance ($c1 / $(last_contact))"
grep -q 'registered with cluster CID-' "$RUN_DIR/logs/rank-2.log" || fail "node 2 did not log its registration"
grep -q 'node 1 registered: core node' "$RUN_DIR/logs/rank-0.log" || fail "primary did not log node 1"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
