#!/usr/bin/env bash
# Short-circuit local reads: the client, on the datanodes' host, reads
# replicas from the files the datanodes pass over their unix sockets.
# Proved by the datanodes' "short-circuit read of blk_N" log lines, one per
# block and stream.  -cat and -get return the file byte for byte that way;
# with -D dfs.client.read.shortcircuit=false they read over TCP (no new
# line); a flipped byte in a replica is caught by the client's own
# checksum check, reported, read around and the replica replaced; sockets
# that are stale or missing make the client fall back to TCP.  The
# datanodes replace a stale socket at start, remove theirs at a clean stop
# (never a file that is not theirs), and with the cluster started with
# shortcircuit=false open no socket at all.
. "$(dirname "$0")/lib.sh"

sc_reads() { cat "$RUN_DIR"/logs/rank-[123].log | grep -c 'short-circuit read of blk_'; }
# stale_socket PATH: a unix socket nobody listens on, as a killed datanode leaves.
stale_socket() {
    rm -f "$1"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1" ||
        fail "cannot make a stale socket at $1"
}
OPTS=(--core-nodes 3 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms
      -D dfs.namenode.reconstruction.pending.timeout=3s
      -D dfs.block.scanner.volume.bytes.per.second=0)

# 1. Rank 1's socket path holds a stale socket: its datanode replaces it.
mkdir -p "$RUN_DIR"
stale_socket "$RUN_DIR/dn_socket.1"
cluster_start 4 "${OPTS[@]}"
for r in 1 2 3; do
    [ -S "$RUN_DIR/dn_socket.$r" ] || fail "no socket for rank $r"
    grep -q "short-circuit reads on $RUN_DIR/dn_socket.$r" "$RUN_DIR/logs/rank-$r.log" ||
        fail "rank $r does not serve short-circuit reads"
done
grep -q "replacing the stale socket $RUN_DIR/dn_socket.1" "$RUN_DIR/logs/rank-1.log" ||
    fail "the stale socket was not replaced"
expect_eq "$(stat -c %a "$RUN_DIR/dn_socket.2")" 660 "socket mode"

# 2. -cat and -get through the replicas' files, one request per block.
head -c 3670016 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -D dfs.replication=2 -put "$TEST_TMP/in.bin" /in.bin || fail "put"
out=$(ember fsck / -files -blocks -locations) || fail "fsck: $out"
blocks=$(sed -n 's/^[0-9]*\. blk_\([0-9]*\)_.*/\1/p' <<<"$out")
expect_eq "$(wc -l <<<"$blocks")" 4 "blocks of the file"
n0=$(sc_reads)
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat differs"
expect_eq "$(sc_reads)" $((n0 + 4)) "short-circuit reads of one -cat"
for b in $blocks; do
    grep -q "short-circuit read of blk_$b " "$RUN_DIR"/logs/rank-[123].log ||
        fail "blk_$b not read short-circuit"
done
dfs -get /in.bin "$TEST_TMP/out.bin" && cmp "$TEST_TMP/in.bin" "$TEST_TMP/out.bin" || fail "get differs"
expect_eq "$(sc_reads)" $((n0 + 8)) "short-circuit reads after -get"
dfs -tail /in.bin | cmp - <(tail -c 1024 "$TEST_TMP/in.bin") || fail "tail differs"

# 3. Turned off by the client: the same bytes over TCP, no request.
n0=$(sc_reads)
dfs -D dfs.client.read.shortcircuit=false -cat /in.bin | cmp - "$TEST_TMP/in.bin" ||
    fail "cat without short-circuit differs"
expect_eq "$(sc_reads)" "$n0" "short-circuit reads with dfs.client.read.shortcircuit=false"

# 4. A flipped byte in the replica the reader takes first (block 0's first
# location): the client's checksum check catches it, reports it, reads the
# block from the other replica, and the replica is replaced.
first=$(grep '^0\. blk_' <<<"$out")
block=$(sed -n 's/^0\. blk_\([0-9]*\)_.*/\1/p' <<<"$first")
node=$(grep -o 'rank [0-9]*' <<<"$first" | head -n1 | cut -d' ' -f2)
replica=$RUN_DIR/data/node-$node/current/finalized/blk_$block
[ -f "$replica" ] || fail "no replica of blk_$block on node $node"
printf '\x5a\xa5' | dd of="$replica" bs=1 seek=100000 conv=notrunc 2>/dev/null
before=$(grep -c "short-circuit read of blk_$block " "$RUN_DIR/logs/rank-$node.log")
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "read with a corrupt replica differs"
after=$(grep -c "short-circuit read of blk_$block " "$RUN_DIR/logs/rank-$node.log")
[ "$after" -gt "$before" ] || fail "the corrupt replica was not read short-circuit"
grep -q "blk_$block on node $node reported corrupt by a reader" "$RUN_DIR/logs/rank-0.log" ||
    fail "corrupt replica not reported"
wait_until 30 dfs_healthy || fail "corrupt replica not replaced: $(ember fsck / 2>&1 | tail -20)"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "file differs after the repair"

# 5. Sockets that cannot be used: stale (rank 1), missing (rank 2), or a
# regular file (rank 3).  The client falls back to TCP for each.
stale_socket "$RUN_DIR/dn_socket.1"
rm -f "$RUN_DIR/dn_socket.2"
rm -f "$RUN_DIR/dn_socket.3" && echo "not a socket" >"$RUN_DIR/dn_socket.3"
n0=$(sc_reads)
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat with unusable sockets differs"
expect_eq "$(sc_reads)" "$n0" "short-circuit reads through unusable sockets"

# A clean stop leaves the files that are not the datanodes' own alone.
ember cluster stop >/dev/null
cluster_wait_exit 30
[ -S "$RUN_DIR/dn_socket.1" ] || fail "the test's stale socket was removed"
grep -q "not a socket" "$RUN_DIR/dn_socket.3" || fail "a regular file was touched"
rm -f "$RUN_DIR/dn_socket.3"

# 6. A cluster with short-circuit off opens no socket; reads go over TCP.
cluster_start 4 "${OPTS[@]}" -D dfs.client.read.shortcircuit=false
ember dfsadmin -safemode wait >/dev/null || fail "safe mode not left"
[ ! -e "$RUN_DIR/dn_socket.2" ] && [ ! -e "$RUN_DIR/dn_socket.3" ] ||
    fail "a socket was created with short-circuit off"
n0=$(sc_reads)
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat on a cluster without short-circuit"
expect_eq "$(sc_reads)" "$n0" "short-circuit reads on a cluster without short-circuit"
ember cluster stop >/dev/null
cluster_wait_exit 30

# 7. Back on: the stale socket is replaced again, reads are short-circuit,
# and the sockets are gone after a clean stop.
cluster_start 4 "${OPTS[@]}"
ember dfsadmin -safemode wait >/dev/null || fail "safe mode not left"
n0=$(sc_reads)
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat after the restart differs"
expect_eq "$(sc_reads)" $((n0 + 4)) "short-circuit reads after the restart"
ember cluster stop >/dev/null
cluster_wait_exit 30
for r in 1 2 3; do
    [ ! -e "$RUN_DIR/dn_socket.$r" ] || fail "rank $r left its socket behind"
done
log PASS
