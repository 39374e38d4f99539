#!/usr/bin/env bash
# Corrupt replicas are kept until a good copy exists (HDFS's
# CorruptReplicasMap).  (a) Replication 1, a flipped byte in the only
# replica: the read fails with one line naming the block (exit 1); fsck
# says CORRUPT, "Corrupt blocks: 1", "Missing blocks: 0", and marks the
# replica (CORRUPT); the replica's files stay on disk through several
# redundancy ticks and block reports that still list it.  (b) Replication
# 2, a flipped byte in the replica a reader tries first: the read succeeds
# from the other, the block is copied to the third node, and only then
# is the corrupt replica deleted; fsck HEALTHY.
. "$(dirname "$0")/lib.sh"

# The block scanner is off: the reader is the one that finds each
# corruption.  Block reports every 300 ms.
cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms \
    -D dfs.block.scanner.volume.bytes.per.second=0 -D dfs.blockreport.intervalMsec=300

# first_location FSCK_OUTPUT: "BLOCK NODE" of block 0's first location.
first_location() {
    local line
    line=$(grep '^0\. blk_' <<<"$1")
    echo "$(sed -n 's/^0\. blk_\([0-9]*\)_.*/\1/p' <<<"$line") $(grep -o 'rank [0-9]*' <<<"$line" | head -n1 | cut -d' ' -f2)"
}
flip_byte() { printf '\x5a\xa5' | dd of="$1" bs=1 seek=10 conv=notrunc 2>/dev/null; }
reported() { grep -q "blk_$1 on node $2 reported corrupt by" "$RUN_DIR/logs/rank-0.log"; }
# Full block reports (not incremental ones) node $1 sent.
reports_from() { grep -c "INFO  block report from node $1:" "$RUN_DIR/logs/rank-0.log"; }

# (a) The only replica is corrupt.
head -c 100000 /dev/urandom >"$TEST_TMP/one.bin"
dfs -D dfs.replication=1 -put "$TEST_TMP/one.bin" /one.bin || fail "put /one.bin"
read -r block node <<<"$(first_location "$(ember fsck /one.bin -files -blocks -locations)")"
replica=$RUN_DIR/data/node-$node/current/finalized/blk_$block
[ -f "$replica" ] || fail "no replica of blk_$block on node $node"
flip_byte "$replica"
err=$(dfs -cat /one.bin 2>&1 >/dev/null)
expect_eq "$?" 1 "exit status of a read of a corrupt block"
expect_eq "$(wc -l <<<"$err")" 1 "lines of the read's error"
grep -q "blk_$block" <<<"$err" || fail "the read's error does not name blk_$block: $err"
wait_until 10 reported "$block" "$node" || fail "the corrupt replica was not reported"
# The replica must survive while the namenode keeps hearing of it: wait
# for four more full block reports from its node (every 300 ms, so at
# least 0.9 s: four redundancy ticks or more) that still list it.
before=$(reports_from "$node")
more_reports() { [ "$(reports_from "$node")" -ge $((before + 4)) ]; }
wait_until 20 more_reports || fail "node $node sent no block reports meanwhile"
[ -f "$replica" ] || fail "the only replica of blk_$block was deleted"
ls "$RUN_DIR/data/node-$node/current/finalized/blk_${block}"_*.meta >/dev/null 2>&1 ||
    fail "the meta file of blk_$block was deleted"
out=$(ember fsck / -files -blocks -locations)
expect_eq "$?" 1 "fsck's exit status with a corrupt block"
grep -q "The filesystem under path '/' is CORRUPT" <<<"$out" || fail "fsck not CORRUPT: $out"
grep -qE '^ Corrupt blocks:\s+1$' <<<"$out" || fail "fsck's corrupt blocks: $out"
grep -qE '^ Missing blocks:\s+0$' <<<"$out" || fail "fsck's missing blocks: $out"
grep -q "^/one.bin 100000 bytes, .*  CORRUPT 1 blocks of total size 100000 B$" <<<"$out" ||
    fail "fsck's line for /one.bin: $out"
grep -q "^0\. blk_${block}_[0-9]* len=100000 Live_repl=0 Corrupt_repl=1 .*rank $node\](CORRUPT)\]" <<<"$out" ||
    fail "fsck does not mark the corrupt replica: $out"
! grep -q "deleting the corrupt replica on node $node" "$RUN_DIR/logs/rank-0.log" ||
    fail "the namenode deleted the last replica"
err=$(dfs -cat /one.bin 2>&1 >/dev/null) && fail "a second read of the corrupt block succeeded"
grep -q "blk_$block" <<<"$err" || fail "second read's error: $err"
# Deleting the file deletes the corrupt replica too.
dfs -rm /one.bin >/dev/null || fail "rm /one.bin"
wait_until 10 test ! -e "$replica" || fail "the corrupt replica outlived its file"

# (b) One of two replicas is corrupt: read around it, copied, then deleted.
head -c 300000 /dev/urandom >"$TEST_TMP/two.bin"
dfs -D dfs.replication=2 -put "$TEST_TMP/two.bin" /two.bin || fail "put /two.bin"
out=$(ember fsck /two.bin -files -blocks -locations)
read -r block node <<<"$(first_location "$out")"
third=
for r in 1 2 3; do grep -q "rank $r\]" <<<"$out" || third=$r; done
[ -n "$third" ] || fail "no node without a replica of /two.bin: $out"
replica=$RUN_DIR/data/node-$node/current/finalized/blk_$block
flip_byte "$replica"
dfs -cat /two.bin | cmp - "$TEST_TMP/two.bin" || fail "read with one corrupt replica differs"
wait_until 10 reported "$block" "$node" || fail "the corrupt replica of /two.bin was not reported"
wait_until 20 test ! -f "$replica" || fail "the corrupt replica on node $node was never deleted"
[ -f "$RUN_DIR/data/node-$third/current/finalized/blk_$block" ] ||
    fail "the corrupt replica went before the copy to node $third existed"
log0=$RUN_DIR/logs/rank-0.log
copied=$(grep -n "blk_$block has 1 of 2 replicas: node [0-9]* copies it to 1 node" "$log0" | head -n1 | cut -d: -f1)
deleted=$(grep -n "blk_$block has 2 good replica(s) (its replication): deleting the corrupt replica on node $node" "$log0" | head -n1 | cut -d: -f1)
[ -n "$copied" ] && [ -n "$deleted" ] && [ "$copied" -lt "$deleted" ] ||
    fail "copy (line $copied) and delete (line $deleted) out of order"
wait_until 10 dfs_healthy || fail "not healthy after the repair: $(ember fsck /two.bin 2>&1)"
out=$(ember fsck /two.bin -files -blocks -locations)
grep -q "^0\. blk_${block}_[0-9]* len=300000 Live_repl=2  \[" <<<"$out" || fail "fsck after the repair: $out"
! grep -q CORRUPT <<<"$out" || fail "a replica still marked corrupt: $out"
dfs -cat /two.bin | cmp - "$TEST_TMP/two.bin" || fail "/two.bin differs after the repair"

ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log PASS
