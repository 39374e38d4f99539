#!/usr/bin/env bash
# An open file left idle.  On a cluster with a 2 s lease soft limit, a
# 4 s hard limit and a 1 s dfs.datanode.socket.timeout, a C program
# (tests/tools/dfs_idle_writer.c) creates a file, writes part of its
# first block, then pauses without calling the library until the test has
# made its checks (5 s or more), writes the rest (across a block
# boundary), hflushes and closes.  The library's
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

# The writer pauses until the test creates $TEST_TMP/resume (60 s at
# most), so every check below is made while it is idle, however slow the
# machine.
DFS_IDLE_UNTIL=$TEST_TMP/resume "$IDLE_WRITER" write "$RUN_DIR" "$TEST_TMP/in.bin" /idle 300000 60000 \
    >"$TEST_TMP/writer.out" 2>&1 &
WRITER=$!
wait_until 30 grep -q '^idle$' "$TEST_TMP/writer.out" || fail "the writer never got idle: $(cat "$TEST_TMP/writer.out")"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
idle_at=$(now_ms)
# sleep_until MS: sleeps until MS after the writer went idle (not at all
# when that is past).
sleep_until() {
    local left=$((idle_at + $1 - $(now_ms)))
    [ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
    return 0
}
# still_idle WHAT: the writer is still in its pause (alive, nothing printed
# after "idle") and the namenode still has /idle open for write -- the
# evidence that the refusals were made while nothing but the library's
# own thread kept the lease.
still_idle() {
    kill -0 "$WRITER" 2>/dev/null && [ "$(cat "$TEST_TMP/writer.out")" = idle ] ||
        fail "$1: the writer is no longer idle: $(cat "$TEST_TMP/writer.out")"
    ember fsck /idle -openforwrite -files | grep -q '^/idle .*OPENFORWRITE' ||
        fail "$1: /idle is not open for write: $(ember fsck /idle -openforwrite -files)"
}
# What is tested here is something that must NOT happen (the lease lost
# past the soft, then the hard limit), so time has to pass: no event marks
# it.  Each pause is bounded (until 2.5 s, then 5 s after the writer went
# idle) and paired with the evidence above; the writer resumes only after.
sleep_until 2500
refused "past the soft limit"
still_idle "past the soft limit"
sleep_until 5000
refused "past the hard limit"
still_idle "past the hard limit"
log "/idle refused to others $((($(now_ms) - idle_at) / 1000)) s into the pause"
touch "$TEST_TMP/resume"
wait "$WRITER" || fail "the idle writer failed: $(cat "$TEST_TMP/writer.out")"
dfs -cat /idle | cmp - "$TEST_TMP/in.bin" || fail "/idle differs from what was written"
expect_eq "$(dfs -stat %b /idle)" 1500000 "length of /idle"
log0=$RUN_DIR/logs/rank-0.log
! grep -q 'pipeline recovery of' "$log0" || fail "a pipeline recovery happened: $(grep 'pipeline recovery of' "$log0")"
! grep -qE 'lease recovery|lease of /idle expired' "$log0" || fail "a lease recovery happened: $(grep -E 'lease (recovery|of)' "$log0")"
! grep -q 'no packet of blk_' "$RUN_DIR"/logs/rank-*.log || fail "a datanode gave up on the idle pipeline"
log "/idle written across the pause"

"$IDLE_WRITER" write "$RUN_DIR" "$TEST_TMP/in.bin" /synced 700000 2500 hsync >"$TEST_TMP/writer.out" 2>&1 ||
    fail "the hsync writer failed: $(cat "$TEST_TMP/writer.out")"
dfs -cat /synced | cmp - "$TEST_TMP/in.bin" || fail "/synced differs from what was written"
! grep -q 'pipeline recovery of' "$log0" || fail "a pipeline recovery happened with hsync"

wait_until 20 dfs_healthy || fail "fsck: $(ember fsck / 2>&1)"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
