#!/usr/bin/env bash
# ember getconf and ember version, as Hadoop's hdfs getconf and hadoop
# version: a key's value after --conf and -D, Hadoop's words for a key
# without one, a near miss named, and the primary's host from a running
# cluster.
. "$(dirname "$0")/lib.sh"

expect_eq "$(ember getconf -confKey dfs.replication)" 0 "default dfs.replication (EMR's rule)"
expect_eq "$(ember getconf -D dfs.replication=2 -confKey dfs.replication)" 2 "-D dfs.replication=2"
printf 'dfs.blocksize = 1m\n' >"$TEST_TMP/site.conf"
expect_eq "$(ember getconf --conf "$TEST_TMP/site.conf" -confKey dfs.blocksize)" 1048576 "--conf dfs.blocksize"
expect_eq "$(ember getconf -D dfs.heartbeat.interval=3s -confKey dfs.heartbeat.interval)" 3000ms "duration"
out=$(ember getconf -confKey no.such.key 2>&1) && fail "a missing key exited 0"
expect_eq "$out" "Configuration no.such.key is missing." "missing key"
out=$(ember getconf -D dfs.replicaton=2 -confKey dfs.replication 2>&1) && fail "a misspelt key exited 0"
grep -q "did you mean 'dfs.replication'" <<<"$out" || fail "no suggestion: $out"
ember getconf -frob >/dev/null 2>&1 && fail "an unknown option exited 0"
ember getconf --help | grep -q '^Usage: ember getconf' || fail "getconf --help"
ember version | grep -qE '^ember [0-9]+\.[0-9]+\.[0-9]+$' || fail "version: $(ember version)"
ember version | grep -q 'Open MPI' || fail "version names no MPI library"
ember getconf -namenodes >/dev/null 2>&1 && fail "-namenodes without a cluster exited 0"

cluster_start 2
expect_eq "$(ember getconf -namenodes)" 127.0.0.1 "-namenodes"
ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
