#!/usr/bin/env bash
# The datanodes' directory scanner (dfs.datanode.directoryscan.interval,
# 1 s here; full block reports stay at their 6 h default and the block
# scanner is off, so only the directory scanner can notice anything):
#   1. a replica's block and meta files removed behind a datanode's back:
#      its scan reports the replica deleted, the namenode drops it and
#      copies the block again -- 3 live replicas, the file reads back
#      identical;
#   2. a replica's files copied into a datanode that lacked them: reported
#      received, recorded, and the surplus replica deleted -- 3 again;
#   3. a replica's data file truncated: reported corrupt, dropped, deleted
#      and replaced.
# Each time the datanode's log names the scan's result.
. "$(dirname "$0")/lib.sh"

# (A short pending timeout: a copy whose target still holds the replica
# being deleted -- the DeleteBlocks from the primary can arrive after the
# source's first packet -- is refused, and scheduled again 3 s later.)
cluster_start 5 --core-nodes 4 -D dfs.blocksize=1m -D dfs.replication=3 \
    -D dfs.namenode.redundancy.interval=200ms -D dfs.datanode.directoryscan.interval=1s \
    -D dfs.block.scanner.volume.bytes.per.second=0 \
    -D dfs.namenode.reconstruction.pending.timeout=3s
# block_of N: the id of the file's block N.  holders_of N: its ranks.
block_of() { sed -n "s/^$1\. blk_\([0-9]*\)_.*/\1/p" <<<"$(ember fsck / -files -blocks -locations)"; }
holders_of() {
    grep "^$1\. blk_" <<<"$(ember fsck / -files -blocks -locations)" |
        grep -o 'rank [0-9]*' | cut -d' ' -f2
}
finalized() { echo "$RUN_DIR/data/node-$1/current/finalized"; }
scan_logged() { grep -q "directory scan: $2" "$RUN_DIR/logs/rank-$1.log"; }
nn_logged() { grep -q "$1" "$RUN_DIR/logs/rank-0.log"; }
three_live() {
    dfs_healthy && [ "$(ember fsck / -files -blocks -locations | grep -c 'Live_repl=3')" = 3 ]
}
# What a failure shows besides the logs' tails.
state() {
    [ -d "$RUN_DIR" ] || { echo "(the run directory is gone)"; return; }
    ember fsck / -files -blocks -locations 2>&1 | grep -E 'blk_|Status|replicated'
}

head -c 2621440 /dev/urandom >"$TEST_TMP/in.bin" # 3 blocks: 1 MiB, 1 MiB, 512 KiB
dfs -put "$TEST_TMP/in.bin" /in.bin 2>/dev/null || fail "put"
wait_until 20 dfs_healthy || fail "new file not healthy: $(state)"
out=$(ember fsck / -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 3 "blocks with 3 live replicas"

# 1. Both files of block 0's replica on one node removed.
block=$(block_of 0)
node=$(holders_of 0 | head -n1)
ls "$(finalized "$node")/blk_${block}" "$(finalized "$node")/blk_${block}"_*.meta >/dev/null ||
    fail "no replica of blk_$block on node $node"
rm -f "$(finalized "$node")/blk_${block}" "$(finalized "$node")/blk_${block}"_*.meta
wait_until 10 scan_logged "$node" "1 missing, 0 added, 0 mismatched" ||
    fail "node $node's scan did not report the missing replica"
wait_until 10 nn_logged "node $node no longer holds its replica of blk_$block: dropped" ||
    fail "the namenode did not drop node $node's replica of blk_$block"
wait_until 10 nn_logged "blk_$block has 2 of 3 replicas" ||
    fail "blk_$block was not scheduled for re-replication"
wait_until 30 three_live || fail "blk_$block not re-replicated: $(state)"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after re-replication"

# 2. Block 1's replica copied by hand to the node without one.
block=$(block_of 1)
holders=$(holders_of 1)
src=$(head -n1 <<<"$holders")
dst=
for r in 1 2 3 4; do grep -qx "$r" <<<"$holders" || dst=$r; done
[ -n "$dst" ] || fail "every node holds blk_$block"
cp "$(finalized "$src")/blk_${block}" "$(finalized "$src")/blk_${block}"_*.meta "$(finalized "$dst")/" ||
    fail "copy of blk_$block to node $dst"
wait_until 10 scan_logged "$dst" "0 missing, 1 added, 0 mismatched" ||
    fail "node $dst's scan did not report the replica found"
wait_until 10 nn_logged "incremental block report from node $dst: 0 deleted (0 dropped from the map), 1 received" ||
    fail "the namenode did not take node $dst's replica of blk_$block"
wait_until 10 nn_logged "blk_$block is over-replicated" || fail "blk_$block never over-replicated"
wait_until 30 three_live || fail "surplus replica of blk_$block not removed: $(state)"

# 3. Block 2's data file truncated on one node.
block=$(block_of 2)
node=$(holders_of 2 | tail -n1)
truncate -s 1000 "$(finalized "$node")/blk_${block}" || fail "truncate of blk_$block on node $node"
wait_until 10 scan_logged "$node" "0 missing, 0 added, 1 mismatched" ||
    fail "node $node's scan did not report the truncated replica"
wait_until 10 nn_logged "blk_$block on node $node reported corrupt" ||
    fail "the truncated replica of blk_$block was not reported corrupt"
wait_until 30 three_live || fail "truncated replica of blk_$block not replaced: $(state)"
[ ! -e "$(finalized "$node")/blk_${block}" ] || [ "$(stat -c %s "$(finalized "$node")/blk_${block}")" = 524288 ] ||
    fail "the truncated replica of blk_$block is still on node $node"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after the repairs"

ember cluster stop >/dev/null
cluster_wait_exit 30
log "PASS"
