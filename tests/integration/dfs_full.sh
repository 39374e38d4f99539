#!/usr/bin/env bash
# Full data directories.
#  1. Node 1's only data directory is a 3 MiB tmpfs (when this test may
#     mount one: root with CAP_SYS_ADMIN, as in CI; else this part is
#     skipped with a log line), on 3 core nodes with 1 MiB blocks at
#     replication 3, so every block wants node 1.  It takes one or two;
#     once it has less than a block free the namenode places no block
#     there (HDFS's isGoodTarget) -- a block sent before it knew fails
#     over in the pipeline -- and the redundancy monitor copies nothing
#     to it.  Every write succeeds, every file reads back, the blocks
#     without room for a third replica are under-replicated (fsck still
#     HEALTHY), and -report shows the directory full.  At replication 2
#     everything is healthy again.
#  2. dfs.datanode.du.reserved larger than any disk: every node is full.
#     A -put fails with one clear line and exit 1 and leaves no file;
#     what is stored still reads back; metadata operations still work;
#     -report shows no space remaining on any node.
. "$(dirname "$0")/lib.sh"

mkdir -p "$TEST_TMP/d/node-1"
mounted=
if mount -t tmpfs -o size=3m tmpfs "$TEST_TMP/d/node-1" 2>/dev/null; then
    mounted=1
    on_cleanup "umount -l '$TEST_TMP/d/node-1'"
fi
start() {
    cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.replication=2 \
        -D "dfs.datanode.data.dir=$TEST_TMP/d" -D dfs.namenode.redundancy.interval=200ms \
        -D dfs.datanode.socket.timeout=2s -D dfs.namenode.reconstruction.pending.timeout=3s "$@"
    ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended"
}
# node_report N: node-N's section of dfsadmin -report.
node_report() { ember dfsadmin -report | grep -A20 "^Name: node-$1 "; }
node1_full() { node_report 1 | grep -q '^Data Directories: 1 (0 failed, 1 full)$'; }

head -c 6291456 /dev/urandom >"$TEST_TMP/a.bin" # 6 blocks
head -c 5000000 /dev/urandom >"$TEST_TMP/b.bin" # 5 blocks, the last short

start -D dfs.replication=3
if [ -n "$mounted" ]; then
    dfs -put "$TEST_TMP/a.bin" /a.bin 2>"$TEST_TMP/put.err" || fail "put a: $(cat "$TEST_TMP/put.err")"
    dfs -cat /a.bin | cmp - "$TEST_TMP/a.bin" || fail "a.bin reads back different"
    held=$(find "$TEST_TMP/d/node-1/current/finalized" -name 'blk_*' ! -name '*.meta' | wc -l)
    [ "$held" -ge 1 ] && [ "$held" -le 2 ] || fail "node 1 holds $held blocks on a 3 MiB disk"
    log "node 1 took $held of 6 blocks before it was full"
    wait_until 10 node1_full || fail "node 1's full directory not reported: $(node_report 1)"
    node_report 2 | grep -q '^Data Directories: 1 (0 failed, 0 full)$' ||
        fail "node 2 reported full: $(node_report 2)"
    # No copy is tried to node 1 meanwhile: the other blocks stay at 2,
    # through a redundancy tick seen to run after node 1 was known full
    # (it trims a small file's surplus replica after scheduling copies).
    echo tick | dfs -D dfs.replication=2 -put - /tick || fail "put /tick"
    redundancy_tick_after_setrep /tick 1
    out=$(ember fsck /a.bin -files -blocks)
    grep -q "is HEALTHY" <<<"$out" || fail "fsck: $out"
    expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" "$held" "blocks with a replica on node 1"
    expect_eq "$(grep -c 'Live_repl=2' <<<"$out")" $((6 - held)) "blocks with no room for a third"
    dfs -setrep 2 /a.bin >/dev/null || fail "setrep 2"
    wait_until 30 dfs_healthy || fail "not healthy at replication 2: $(ember fsck / 2>&1 | tail -20)"
    dfs -D dfs.replication=2 -put "$TEST_TMP/b.bin" /b.bin 2>"$TEST_TMP/put.err" ||
        fail "put b: $(cat "$TEST_TMP/put.err")"
    dfs -cat /b.bin | cmp - "$TEST_TMP/b.bin" || fail "b.bin reads back different"
    held=$(find "$TEST_TMP/d/node-1/current/finalized" -name 'blk_*' ! -name '*.meta' | wc -l)
    [ "$held" -le 2 ] || fail "node 1 holds $held blocks on a 3 MiB disk"
    wait_until 30 dfs_healthy || fail "not healthy: $(ember fsck / 2>&1 | tail -20)"
    log "a full data directory takes no more blocks and is reported"
else
    log "SKIP part 1: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)"
    dfs -put "$TEST_TMP/a.bin" /a.bin || fail "put a"
    dfs -put "$TEST_TMP/b.bin" /b.bin || fail "put b"
fi
ember cluster stop >/dev/null
cluster_wait_exit 30

# 2. Every node full: the reserve is larger than any disk.
start -D dfs.datanode.du.reserved=100000t
all_full() {
    local r
    r=$(ember dfsadmin -report) || return 1
    [ "$(grep -c '^DFS Remaining: 0 (0 B)$' <<<"$r")" = 4 ] && # the summary's too
        [ "$(grep -c '^Data Directories: 1 (0 failed, 1 full)$' <<<"$r")" = 3 ]
}
wait_until 10 all_full || fail "the nodes are not reported full: $(ember dfsadmin -report)"
if dfs -put "$TEST_TMP/b.bin" /c.bin 2>"$TEST_TMP/put.err"; then
    fail "a put with no space anywhere succeeded"
fi
expect_eq "$(wc -l <"$TEST_TMP/put.err")" 1 "lines of the put's error"
grep -q "has room for a block of 1048576 bytes" "$TEST_TMP/put.err" ||
    fail "unclear error: $(cat "$TEST_TMP/put.err")"
! dfs -test -e /c.bin || fail "the failed put left /c.bin"
[ -z "$(dfs -ls / | grep COPYING)" ] || fail "the failed put left its ._COPYING_ file"
dfs -cat /a.bin | cmp - "$TEST_TMP/a.bin" || fail "a.bin lost when the disks filled"
dfs -cat /b.bin | cmp - "$TEST_TMP/b.bin" || fail "b.bin lost when the disks filled"
dfs -mkdir /still-works && dfs -touchz /still-works/empty || fail "metadata operations fail on full disks"
ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
