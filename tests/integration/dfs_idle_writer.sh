#!/usr/bin/env bash
# An open file left idle.  On a cluster with a 2 s lease soft limit, a
# 4 s hard limit and a 1 s dfs.datanode.socket.timeout, a C program
# (tests/tools/dfs_idle_writer.c) creates a file, writes part of its
# first block, then sleeps 7 s without calling the library, writes the
# rest (across a block boundary), hflushes and closes.  The library's
# renewer thread keeps the lease (renewals) and the pipeline (heartbeat
# packets) alive meanwhile: while the writer sleeps, past the soft and
# then the hard limit, another client's append and overwrite are refused
# as the lease is still held; the close succeeds, the file has every
# byte, and the namenode logged neither a pipeline recovery nor a lease
# recovery, nor did any datanode give up on the pipeline.  The same with
# hsync instead of hflush.
. "$(dirname "$0")/lib.sh"

: "${IDLE_WRITER:?IDLE_WRITER must point at the dfs_idle_writer test tool}"

cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.replication=3 \
    -D ember.namenode.lease-soft-limit=2s -D dfs.namenode.lease-hard-limit-sec=4 \
    -D dfs.namenode.lease-recheck-interval-ms=200 -D dfs.datanode.socket.timeout=1s
ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended"
head -c 1500000 /dev/urandom >"$TEST_TMP/in.bin"
printf 'other\n' >"$TEST_TMP/other"

# refused WHAT: another client's append and overwrite of /idle are
# refused because the lease is held.
refused() {
    local err
    err=$(dfs -appendToFile "$TEST_TMP/other" /idle 2>&1) && fail "$1: another client's append succeeded"
    grep -q 'currently owned by DFSClient_' <<<"$err" || fail "$1: append refused oddly: $err"
    err=$("$IDLE_WRITER" overwrite "$RUN_DIR" /idle 2>&1) && fail "$1: another client's overwrite succeeded"
    grep -q 'currently owned by DFSClient_' <<<"$err" || fail "$1: overwrite refused oddly: $err"
}

"$IDLE_WRITER" write "$RUN_DIR" "$TEST_TMP/in.bin" /idle 300000 7000 >"$TEST_TMP/writer.out" 2>&1 &
WRITER=$!
wait_until 30 grep -q '^idle$' "$TEST_TMP/writer.out" || fail "the writer never got idle: $(cat "$TEST_TMP/writer.out")"
sleep 2.5
refused "past the soft limit"
sleep 2.5
refused "past the hard limit"
wait "$WRITER" || fail "the idle writer failed: $(cat "$TEST_TMP/writer.out")"
dfs -cat /idle | cmp - "$TEST_TMP/in.bin" || fail "/idle differs from what was written"
expect_eq "$(dfs -stat %b /idle)" 1500000 "length of /idle"
log0=$RUN_DIR/logs/rank-0.log
! grep -q 'pipeline recovery of' "$log0" || fail "a pipeline recovery happened: $(grep 'pipeline recovery of' "$log0")"
! grep -qE 'lease recovery|lease of /idle expired' "$log0" || fail "a lease recovery happened: $(grep -E 'lease (recovery|of)' "$log0")"
! grep -q 'no packet of blk_' "$RUN_DIR"/logs/rank-*.log || fail "a datanode gave up on the idle pipeline"
log "/idle written across a 7 s pause"

"$IDLE_WRITER" write "$RUN_DIR" "$TEST_TMP/in.bin" /synced 700000 2500 hsync >"$TEST_TMP/writer.out" 2>&1 ||
    fail "the hsync writer failed: $(cat "$TEST_TMP/writer.out")"
dfs -cat /synced | cmp - "$TEST_TMP/in.bin" || fail "/synced differs from what was written"
! grep -q 'pipeline recovery of' "$log0" || fail "a pipeline recovery happened with hsync"

wait_until 20 dfs_healthy || fail "fsck: $(ember fsck / 2>&1)"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
