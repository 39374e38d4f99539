#!/usr/bin/env bash
# Stale replicas after lease recovery (issue 9, item 3).  The whole
# cluster is SIGKILLed while a -put is in flight, after the first datanode
# of a block's pipeline finalized it and before the downstream ones did:
# the fault point EMBER_FAULT_HOLD_FINALIZE (datanode/fault_injection.h)
# makes that window certain by holding the block's last packet on every
# downstream node.  After a restart on the same run directory,
# `ember debug recoverLease` closes the ._COPYING_ file with the finalized
# replica's length; the two downstream nodes hold rbw replicas that are
# shorter, under the old gen stamp.  They must not stay: recovery has
# them deleted, and a node that still holds one takes a copy with the
# newer gen stamp over it, so fsck reports the file healthy with 3 live
# replicas of its block.  (Before the fix every copy to them was refused
# with "blk_... already exists on rank N" and retried every 30 s.)
. "$(dirname "$0")/lib.sh"

# SIGKILLed ranks leave Open MPI's shared-memory segments behind: keep
# this test's in its own directory, removed with it.
export OMPI_MCA_btl_vader_backing_directory=$TEST_TMP

CONF=(-D dfs.blocksize=1m -D dfs.replication=3 -D dfs.namenode.redundancy.interval=200ms
    -D dfs.namenode.reconstruction.pending.timeout=3s -D dfs.datanode.socket.timeout=30s)

# The block whose last packet a downstream node held: its id on stdout.
held_block() {
    grep -ho 'fault injection: last packet of blk_[0-9]*' "$RUN_DIR"/logs/rank-*.log |
        head -n1 | sed 's/.*blk_//'
}
# Whether some node finalized block $1 from the client (the first node).
first_finalized() {
    grep -q "received blk_$1 gs [0-9]* ([0-9]* bytes) from client" "$RUN_DIR"/logs/rank-*.log
}
held_after_first() {
    local b
    b=$(held_block) && [ -n "$b" ] && first_finalized "$b"
}
# fsck of the file: healthy, and its one block with 3 live replicas.
file_healthy() {
    local out
    out=$(ember fsck /f._COPYING_ -files -blocks -locations 2>&1) || return 1
    grep -q 'is HEALTHY' <<<"$out" && grep -q "blk_${BLOCK}_[0-9]* .*Live_repl=3" <<<"$out"
}

head -c 1500000 /dev/urandom >"$TEST_TMP/in.bin"

EMBER_FAULT_HOLD_FINALIZE=1,2,3 cluster_start 4 --core-nodes 3 "${CONF[@]}"
ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended"
"$EMBER" --run-dir "$RUN_DIR" dfs -put "$TEST_TMP/in.bin" /f >"$TEST_TMP/put.out" 2>&1 &
put_pid=$!
wait_until 60 held_after_first || fail "no block was finalized upstream and held downstream"
BLOCK=$(held_block)
log "blk_$BLOCK finalized on the first node, its last packet held downstream"

# The crash: every rank and mpirun SIGKILLed, then the writer.
kill -KILL "$MPIRUN_PID" $(cat "$RUN_DIR"/pids/*.pid) 2>/dev/null
wait "$MPIRUN_PID" 2>/dev/null
MPIRUN_PID=
kill -KILL "$put_pid" 2>/dev/null
wait "$put_pid" 2>/dev/null
finalized=$(ls "$RUN_DIR"/data/node-*/current/finalized/ | grep -c "^blk_$BLOCK\$")
rbw=$(ls "$RUN_DIR"/data/node-*/current/rbw/ | grep -c "^blk_$BLOCK\$")
expect_eq "$finalized/$rbw" "1/2" "finalized/rbw replicas of blk_$BLOCK after the crash"

# Restart without the fault point; recover the lease of the open file.
cluster_start 4 --core-nodes 3 "${CONF[@]}"
ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended after the restart"
out=$(ember debug recoverLease -path /f._COPYING_ -retries 30) || fail "recoverLease: $out"
grep -q 'recoverLease SUCCEEDED' <<<"$out" || fail "recoverLease output: $out"
n=$(dfs -stat %b /f._COPYING_)
[ "$n" = 1048576 ] || fail "recovered length $n, expected the finalized replica's 1048576"
wait_until 60 file_healthy ||
    fail "blk_$BLOCK never got 3 live replicas: $(ember fsck /f._COPYING_ -files -blocks -locations 2>&1)"
dfs -cat /f._COPYING_ | cmp - <(head -c 1048576 "$TEST_TMP/in.bin") ||
    fail "the recovered file is not the first block of the input"
# Every replica is at the recovered gen stamp and length: none left in rbw/.
rbw=$(ls "$RUN_DIR"/data/node-*/current/rbw/ | grep -c "^blk_$BLOCK\$")
expect_eq "$rbw" 0 "rbw replicas of blk_$BLOCK left"
ember cluster stop >/dev/null
# (LeakSanitizer's exit check of every rank can take over 30 s on a
# loaded machine: the wait is generous, the test never needs it short.)
cluster_wait_exit 120
log PASS
