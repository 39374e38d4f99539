#!/usr/bin/env bash
# Self-healing replicas: after SIGKILL of a core node holding replicas,
# every block is copied back to 3 live replicas; a flipped byte in one
# replica is read around, reported, and the replica replaced; a flipped
# byte nobody reads is found by the datanode's block scanner; fsck says
# HEALTHY again each time and the file reads back identical.  Safe mode:
# a restarted namenode leaves it once the datanodes have reported, and an
# operator's safe mode refuses changes until it is left.
. "$(dirname "$0")/lib.sh"


cluster_start 6 --core-nodes 4 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms \
    -D dfs.block.scanner.volume.bytes.per.second=64m -D dfs.datanode.scan.period.hours=1s \
    -D dfs.blockreport.intervalMsec=300
head -c 3670016 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin 2>/dev/null || fail "put"
out=$(ember fsck / -files -blocks -locations) || fail "fsck of a new file: $out"
grep -q "The filesystem under path '/' is HEALTHY" <<<"$out" || fail "fsck not healthy: $out"
grep -qE 'Total blocks \(validated\):\s+4' <<<"$out" || fail "fsck block count: $out"
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks with 3 live replicas"

# 1. A core node holding replicas dies: its blocks are copied elsewhere.
victim=$(grep -o 'rank [0-9]*' <<<"$out" | head -n1 | cut -d' ' -f2)
kill -KILL "$(rank_pid "$victim")"
dead_seen() { [ "$(section_count 'Dead datanodes')" = 1 ]; }
wait_until 20 dead_seen || fail "node $victim not reported dead"
wait_until 40 dfs_healthy || fail "blocks not re-replicated after node $victim died: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck / -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks back at 3 live replicas"
! grep -q "rank $victim\]" <<<"$out" || fail "a dead node still listed as a replica"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after re-replication"

# 2. One flipped byte in a replica: read around, reported, replaced.  The
# replica flipped is block 0's first location, the one a reader tries first.
first=$(grep '^0\. blk_' <<<"$out")
block=$(sed -n 's/^0\. blk_\([0-9]*\)_.*/\1/p' <<<"$first")
node=$(grep -o 'rank [0-9]*' <<<"$first" | head -n1 | cut -d' ' -f2)
replica=$RUN_DIR/data/node-$node/current/finalized/blk_$block
[ -f "$replica" ] || fail "no replica of blk_$block on node $node"
printf '\x5a\xa5' | dd of="$replica" bs=1 seek=10 conv=notrunc 2>/dev/null
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "read with a corrupt replica differs"
# (The scanner runs too and may be first to report it: either report will do.)
reported() { grep -q "blk_$block on node $node reported corrupt by" "$RUN_DIR/logs/rank-0.log"; }
wait_until 10 reported || fail "corrupt replica not reported"
wait_until 30 dfs_healthy || fail "corrupt replica not replaced: $(ember fsck / 2>&1 | tail -20)"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after the repair"

# 2b. Silent corruption nobody reads: the datanode's block scanner finds
# it, and the replica is replaced all the same.
out=$(ember fsck / -files -blocks -locations)
first=$(grep '^1\. blk_' <<<"$out")
block=$(sed -n 's/^1\. blk_\([0-9]*\)_.*/\1/p' <<<"$first")
node=$(grep -o 'rank [0-9]*' <<<"$first" | tail -n1 | cut -d' ' -f2)
replica=$RUN_DIR/data/node-$node/current/finalized/blk_$block
[ -f "$replica" ] || fail "no replica of blk_$block on node $node"
printf '\x5a\xa5' | dd of="$replica" bs=1 seek=700000 conv=notrunc 2>/dev/null
scanner_found() { grep -q "blk_$block on node $node reported corrupt by its datanode's scanner" "$RUN_DIR/logs/rank-0.log"; }
wait_until 30 scanner_found || fail "the block scanner did not report blk_$block on node $node"
wait_until 30 dfs_healthy || fail "scanner-found replica not replaced: $(ember fsck / 2>&1 | tail -20)"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after the scanner's repair"

# 3. Safe mode: entered by an operator, changes refused, then left.
expect_eq "$(ember dfsadmin -safemode enter)" "Safe mode is ON" "safemode enter"
err=$(dfs -mkdir /refused 2>&1) && fail "mkdir in safe mode succeeded"
grep -q 'safe mode' <<<"$err" || fail "safe mode refusal unclear: $err"
expect_eq "$(ember dfsadmin -safemode leave)" "Safe mode is OFF" "safemode leave"
dfs -mkdir /allowed || fail "mkdir after leaving safe mode"
err=$(ember dfsadmin -safemode sideways 2>&1); [ $? = 2 ] || fail "bad -safemode action: $err"

# Periodic full block reports ran all along (every 300 ms here) without
# undoing any of the healing above.
live=$(grep -o 'rank [0-9]*' <<<"$(ember fsck / -files -blocks -locations)" | head -n1 | cut -d' ' -f2)
n=$(grep -c "block report from node $live:" "$RUN_DIR/logs/rank-0.log")
[ "$n" -ge 5 ] || fail "only $n block report(s) from node $live"
dfs_healthy || fail "fsck with periodic block reports: $(ember fsck / 2>&1 | tail -20)"

# 4. A restart: safe mode until the datanodes report, then the data reads.
ember cluster stop >/dev/null
cluster_wait_exit 30
cluster_start 5 --core-nodes 4 -D dfs.blocksize=1m
ember dfsadmin -safemode wait >/dev/null || fail "safe mode not left after the restart"
grep -q 'leaving safe mode' "$RUN_DIR/logs/rank-0.log" || fail "namenode did not log leaving safe mode"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after the restart"
dfs_healthy || fail "fsck after the restart: $(ember fsck / 2>&1 | tail -20)"
ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
