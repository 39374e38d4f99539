#!/usr/bin/env bash
# A cluster on three simulated hosts (multihost_lib.sh): ranks 0-1 on host
# 1, 2-3 on host 2, 4 on host 3, every MPI message between hosts over TCP
# across the bridge.  The ranks run in their hosts' namespaces and report
# their hosts' names; a file written at replication 3 lands on several
# hosts and reads back whole from host 1 and from host 3 (a client on
# another host than the primary); a core rank SIGKILLed on host 3 is
# declared dead and its blocks are copied back to 3 live replicas.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/multihost_lib.sh"

mh_start_221
ember status | grep -q "^Primary:     rank 0 on $(mh_host 1)\$" || fail "primary's host: $(ember status)"
grep -q "\"host\": \"$(mh_addr 1)\"" "$RUN_DIR/cluster.json" ||
    fail "cluster.json does not publish host 1's address: $(grep host "$RUN_DIR/cluster.json")"
expect_eq "$(section_count 'Live datanodes')" 4 "live datanodes"

# Replication 3 across hosts: every block has 3 replicas on 2 hosts or more.
host_of() { case $1 in 1) echo 1 ;; 2 | 3) echo 2 ;; *) echo 3 ;; esac; }
head -c 3670016 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put"
wait_until 60 dfs_healthy || fail "not healthy after the put: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck / -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks with 3 live replicas"
while read -r ranks; do
    hosts=$(for r in $ranks; do host_of "$r"; done | sort -u | wc -l)
    [ "$hosts" -ge 2 ] || fail "a block's replicas (ranks $ranks) are all on one host"
done < <(mh_block_ranks "$out")
grep -q "DatanodeInfo\[$(mh_addr 3):" <<<"$out" || fail "no replica on host 3: $out"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat on host 1 differs"
mh_run "$(mh_host 3)" "$EMBER" --run-dir "$RUN_DIR" dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" ||
    fail "cat on host 3 differs"

# Rank 4, host 3's only rank, SIGKILLed: its replicas are made again on
# the other hosts.
grep -q "rank 4\]" <<<"$out" || fail "rank 4 holds no replica: $out"
kill -KILL "$(rank_pid 4)"
dead_seen() { [ "$(section_count 'Dead datanodes')" = 1 ]; }
wait_until 30 dead_seen || fail "rank 4 not reported dead"
wait_until 90 dfs_healthy || fail "blocks not re-replicated after rank 4 died: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck / -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks back at 3 live replicas"
! grep -q "rank 4\]" <<<"$out" || fail "the dead rank is still listed as a replica"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after re-replication"
ember cluster stop >/dev/null
expect_eq "$(head -n1 "$RUN_DIR/status")" 3 "exit status after losing rank 4"
mh_ranks_exit 60
log PASS
