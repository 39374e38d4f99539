#!/usr/bin/env bash
# The write pipeline under constant backpressure: MPI's data queue to each
# rank is cut to one packet (ember.mpi.data.queue=1), so a datanode's send
# of the next packet downstream answers EMBER_EAGAIN until the one before
# it completed.  The first datanode then stops reading its client's socket
# until the writable callback says the next node can take more (the
# datanodes log each client paused), the others hold packets within their
# ack window, and a replication source waits the same way.  A 3.5 MiB file
# is written at replication 3, reads back intact, is re-replicated after
# one replica of each block is dropped, and the ranks exit clean.
. "$(dirname "$0")/lib.sh"

replicas() { # finalized block files (not metas) on all core nodes
    find "$RUN_DIR"/data/node-*/current/finalized -name 'blk_*' ! -name '*.meta' 2>/dev/null | wc -l
}

cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.replication=3 \
    -D ember.mpi.data.queue=1
head -c 3670016 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put under backpressure"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "/in.bin reads back different"
wait_until 10 bash -c "[ \$(find '$RUN_DIR'/data/node-*/current/finalized -name 'blk_*' ! -name '*.meta' | wc -l) = 12 ]" ||
    fail "expected 12 replicas (4 blocks x 3), found $(replicas)"
paused=$(cat "$RUN_DIR"/logs/rank-*.log | grep -c "was paused .* could take no more data")
[ "$paused" -ge 1 ] || fail "no client was ever paused: the data queue's cap did not hold"
log "the client was paused on $paused of 4 blocks"

# Re-replication: a replication source sends through the same queues.
dfs -setrep 2 /in.bin >/dev/null || fail "setrep 2"
wait_until 20 bash -c "[ \$(find '$RUN_DIR'/data/node-*/current/finalized -name 'blk_*' ! -name '*.meta' | wc -l) = 8 ]" ||
    fail "expected 8 replicas after setrep 2, found $(replicas)"
dfs -setrep 3 /in.bin >/dev/null || fail "setrep 3"
wait_until 30 dfs_healthy || fail "not re-replicated: $(ember fsck / 2>&1 | tail -n 5)"
expect_eq "$(replicas)" 12 "replicas after setrep 3"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "/in.bin differs after re-replication"

ember cluster stop >/dev/null
cluster_wait_exit 60
log PASS
