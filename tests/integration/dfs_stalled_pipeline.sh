#!/usr/bin/env bash
# A write whose two downstream datanodes stall (SIGSTOP, as a hung disk or
# a paused VM would) blames them, not the healthy first datanode: the
# first one waits the datanodes' socket timeout per node downstream for
# an ack and then names its silent neighbour in a failed ack, while the
# client waits longer than that (its socket timeout, at least what the
# first node waits, plus 5 s per node: HDFS's arithmetic).  The client
# drops the named node, and the namenode's answer to the recovery lists
# only the nodes it holds live, so the other stalled one (declared dead by
# then) is dropped too and the write ends on the first datanode alone --
# ember never refills a pipeline (HDFS's replace-datanode-on-failure
# policy NEVER).  The -put succeeds and the file reads back.  The client's
# socket timeout (6 s) is below what the first node waits (2 x 4 s): with
# a fixed client timeout the client gave up first, dropped the healthy
# node and recovered onto the stalled ones.
. "$(dirname "$0")/lib.sh"

cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.replication=3 \
    -D dfs.datanode.socket.timeout=4s
ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended"

STOPPED=
# Stopped ranks are continued at exit (the cleanup kills them anyway).
on_cleanup 'for r in $STOPPED; do kill -CONT "$(rank_pid "$r")" 2>/dev/null; done'

# The newest block in any rbw/ (the one being written), its id on stdout.
newest_rbw() {
    ls "$RUN_DIR"/data/node-*/current/rbw/ 2>/dev/null | grep -E '^blk_[0-9]+$' |
        sed 's/^blk_//' | sort -n | tail -n1
}
# The first datanode of block $1's pipeline: the one the client connected to.
first_of() {
    grep -l "writing blk_$1 " "$RUN_DIR"/logs/rank-*.log | head -n1 |
        sed 's/.*rank-\([0-9]*\)\.log/\1/'
}
first_block_open() { FIRST_BLOCK=$(newest_rbw) && [ -n "$FIRST_BLOCK" ]; }
second_block_open() {
    local b
    b=$(newest_rbw) && [ -n "$b" ] && [ "$b" != "$FIRST_BLOCK" ] && [ -n "$(first_of "$b")" ]
}

head -c 4194304 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks of 1 MiB
mkfifo "$TEST_TMP/pipe"
"$EMBER" --run-dir "$RUN_DIR" dfs -D dfs.client.socket-timeout=6s -put - /f \
    <"$TEST_TMP/pipe" >"$TEST_TMP/put.out" 2>&1 &
writer=$!
# A failure while the writer runs stops it first (it would wait for its
# stdin, and the exit for it).
fail_writing() {
    exec 3>&-
    kill "$writer" 2>/dev/null
    fail "$@"
}
exec 3>"$TEST_TMP/pipe"
head -c 524288 "$TEST_TMP/in.bin" >&3
wait_until 20 first_block_open || fail_writing "the first block never showed"
head -c 1310720 "$TEST_TMP/in.bin" | tail -c +524289 >&3 # to 1.25 MiB: the second block is open
wait_until 20 second_block_open || fail_writing "the second block's pipeline never showed"
block=$(newest_rbw)
first=$(first_of "$block")
for r in 1 2 3; do [ "$r" != "$first" ] && STOPPED="$STOPPED $r"; done
log "blk_$block: first datanode rank $first; stopping ranks$STOPPED"
for r in $STOPPED; do kill -STOP "$(rank_pid "$r")"; done

tail -c +1310721 "$TEST_TMP/in.bin" >&3 # the rest, while the pipeline is stalled
exec 3>&-
wait_until 120 bash -c "! kill -0 $writer" || fail_writing "the -put did not end"
wait "$writer" || fail "-put failed: $(cat "$TEST_TMP/put.out")"

# The first datanode named a stalled neighbour; the namenode's recovery
# kept the first datanode (and only it).
stalled_re=$(echo $STOPPED | tr ' ' '|')
grep -qE "no ack from rank ($stalled_re) for packet" "$RUN_DIR/logs/rank-$first.log" ||
    fail "rank $first did not blame a stalled neighbour: $(grep blk_$block "$RUN_DIR/logs/rank-$first.log")"
grep -qE "pipeline recovery of blk_$block of /f\._COPYING_: gen stamp [0-9]+, live datanodes: ranks $first( \(|\$)" \
    "$RUN_DIR/logs/rank-0.log" ||
    fail "no recovery of blk_$block onto rank $first alone: $(grep 'pipeline recovery' "$RUN_DIR/logs/rank-0.log")"
! grep -qE "pipeline recovery of blk_$block .*live datanodes: ranks ($stalled_re)\b" \
    "$RUN_DIR/logs/rank-0.log" || fail "a recovery went on with a stalled node"

# Every byte is there, every block on the first datanode.
dfs -cat /f | cmp - "$TEST_TMP/in.bin" || fail "/f reads back different"
out=$(ember fsck /f -files -blocks -locations)
expect_eq "$(grep -c "rank $first\]" <<<"$out")" 4 "blocks on rank $first"

for r in $STOPPED; do kill -CONT "$(rank_pid "$r")" 2>/dev/null; done
STOPPED=
log PASS
