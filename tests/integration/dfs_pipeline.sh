#!/usr/bin/env bash
# Pipeline recovery: a datanode of the pipeline of the block being written
# is SIGKILLed while data flows, and the write goes on with the nodes
# left (a new gen stamp from the namenode, every node's replica cut to
# the acknowledged length, the unacknowledged packets sent again).  The
# -put succeeds, the file reads back byte for byte, and fsck is HEALTHY
# again once the redundancy monitor has copied the short blocks.  Three
# cases, each on a freshly started cluster of 4 core nodes, replication
# 3, 1 MiB blocks: a node after the first one killed; the first one (the
# client's connection) killed; two of the three killed (the write ends on
# the last one).  Then a crash: the namenode replays the new gen stamps
# from its edit log and every file still reads back.
. "$(dirname "$0")/lib.sh"

start() {
    # A copy scheduled to or from the node killed (before the namenode
    # knows it is dead) is tried again after the pending timeout: 3 s.
    cluster_start 5 --core-nodes 4 -D dfs.blocksize=1m -D dfs.replication=3 \
        -D dfs.namenode.redundancy.interval=200ms -D dfs.datanode.socket.timeout=2s \
        -D dfs.namenode.reconstruction.pending.timeout=3s
    ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended"
}
stop() {
    ember cluster stop >/dev/null
    cluster_wait_exit 30
}

# The newest block in any rbw/ (the one being written), its id on stdout.
newest_rbw() {
    ls "$RUN_DIR"/data/node-*/current/rbw/ 2>/dev/null | grep -E '^blk_[0-9]+$' |
        sed 's/^blk_//' | sort -n | tail -n1
}
# The core ranks with an rbw replica of block $1 (its pipeline), in rank order.
pipeline_of() {
    local d
    for d in "$RUN_DIR"/data/node-*; do
        [ -f "$d/current/rbw/blk_$1" ] && echo "${d##*node-}"
    done
}
# The first datanode of block $1's pipeline: the one the client connected to.
first_of() {
    grep -l "writing blk_$1 " "$RUN_DIR"/logs/rank-*.log | head -n1 | sed 's/.*rank-\([0-9]*\)\.log/\1/'
}
three_in_pipeline() {
    local b
    b=$(newest_rbw) && [ -n "$b" ] && [ "$(pipeline_of "$b" | wc -l)" = 3 ] && [ -n "$(first_of "$b")" ]
}

head -c 4194304 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks of 1 MiB

# write_with_kill NAME WHICH: -put of in.bin to /NAME fed through a fifo;
# once its second block's pipeline is up, a feeder keeps data flowing and
# the datanodes chosen by WHICH (first, later, two) are SIGKILLed.  The
# -put must succeed and the file read back identical.  Sets VICTIMS.
write_with_kill() {
    local name=$1 which=$2 block first pipe
    rm -f "$TEST_TMP/pipe" && mkfifo "$TEST_TMP/pipe"
    "$EMBER" --run-dir "$RUN_DIR" dfs -put - "/$name" <"$TEST_TMP/pipe" >"$TEST_TMP/put.out" 2>&1 &
    local writer=$!
    exec 3>"$TEST_TMP/pipe"
    head -c 1310720 "$TEST_TMP/in.bin" >&3 # 1.25 MiB: the second block is open
    wait_until 20 three_in_pipeline || fail "$name: the second block's pipeline never showed"
    block=$(newest_rbw)
    first=$(first_of "$block")
    pipe=$(pipeline_of "$block" | tr '\n' ' ')
    # The rest flows in 64 KiB pieces (the second block's take 0.6 s or
    # more) while the nodes die.
    (for i in $(seq 20 63); do
        dd if="$TEST_TMP/in.bin" bs=65536 skip="$i" count=1 2>/dev/null >&3
        sleep 0.05
    done) &
    local feeder=$!
    sleep 0.1
    case $which in
    first) VICTIMS=$first ;;
    later) VICTIMS=$(for r in $pipe; do [ "$r" != "$first" ] && echo "$r"; done | head -n1) ;;
    two) VICTIMS=$(for r in $pipe; do [ "$r" != "$first" ] && echo "$r"; done | tr '\n' ' ') ;;
    esac
    log "$name: blk_$block on ranks $pipe(first $first): killing $VICTIMS"
    for r in $VICTIMS; do kill -KILL "$(rank_pid "$r")"; done
    wait "$feeder"
    exec 3>&-
    wait "$writer" || fail "$name: -put failed: $(cat "$TEST_TMP/put.out")"
    dfs -cat "/$name" | cmp - "$TEST_TMP/in.bin" || fail "$name: the file reads back different"
    grep -q "pipeline recovery of blk_$block of /$name" "$RUN_DIR/logs/rank-0.log" ||
        fail "$name: no pipeline recovery of blk_$block"
}

# 1. A node after the first one dies: its upstream neighbour names it.
start
write_with_kill later later
wait_until 60 dfs_healthy || fail "later: not healthy again: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck /later -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "later: blocks with 3 live replicas"
! grep -q "rank $VICTIMS\]" <<<"$out" || fail "later: the dead node is still a location: $out"
stop

# 2. The first node dies: the client's connection to it breaks.
start
write_with_kill first first
wait_until 60 dfs_healthy || fail "first: not healthy again: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck /first -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "first: blocks with 3 live replicas"
stop

# 3. Two of the three die: the block is finished on the last one, the
#    next blocks go to the two nodes left.
start
write_with_kill two two
two_each() { [ "$(ember fsck /two -files -blocks -locations | grep -c 'Live_repl=2')" = 4 ]; }
wait_until 60 two_each || fail "two: blocks not at the 2 live nodes: $(ember fsck /two -files -blocks -locations 2>&1)"

# A crash (every rank and mpirun SIGKILLed, no checkpoint on the way
# down): the namenode replays /two's records, its EditUpdateBlocks among
# them, and every file reads back.
kill -KILL "$MPIRUN_PID" $(cat "$RUN_DIR"/pids/*.pid) 2>/dev/null
wait "$MPIRUN_PID" 2>/dev/null
MPIRUN_PID=
start
for f in /later /first /two; do
    dfs -cat "$f" | cmp - "$TEST_TMP/in.bin" || fail "$f differs after the crash"
done
stop
log PASS
