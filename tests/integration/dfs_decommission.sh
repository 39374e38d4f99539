#!/usr/bin/env bash
# Decommission and recommission: `ember dfsadmin -decommission node-N`
# copies the node's blocks to other nodes first -- at no moment does any
# block have fewer than its 3 copies on disk -- then -report says
# "Decommissioned"; no new block goes to it and every block has 3 live
# replicas elsewhere.  The state survives a restart (it is in the edit
# log and the image): still "Decommissioned", still no new block there.
# `-recommission node-N` makes it "Normal" again: the surplus replicas
# are trimmed (fsck HEALTHY, nothing over-replicated) and new blocks may
# go there.  A decommission that cannot finish (a file of replication 5
# on 5 core nodes) is still in progress after a restart, and finishes once
# -setrep lowers it (each "still in progress" is checked after a
# redundancy tick is seen to run: one that trims a surplus replica of
# another file whose replication was lowered).  Killing the decommissioned
# node then loses nothing.
# Bad nodes (unknown, the primary, a task node, recommissioning a Normal
# one) are refused with one line and exit 1; bad names with exit 2.
. "$(dirname "$0")/lib.sh"

ARGS=(--core-nodes 5 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms)
restart() {
    ember cluster stop >/dev/null || fail "cluster stop"
    cluster_wait_exit 30
    cluster_start 7 "${ARGS[@]}"
}

# The fewest finalized copies on disk of any block of /in.bin.
min_copies() {
    local min=99 id n
    for id in $BLOCKS; do
        n=$(find "$RUN_DIR"/data/node-*/current/finalized -name "blk_$id" | wc -l)
        [ "$n" -lt "$min" ] && min=$n
    done
    echo "$min"
}
status_of() { # the Decommission Status line of node-$1 in -report
    ember dfsadmin -report | awk -v n="Name: node-$1 " 'index($0, n) == 1 {p = 1} p && /^Decommission Status/ {sub(/^Decommission Status : /, ""); print; exit}'
}
is_status() { [ "$(status_of "$1")" = "$2" ]; }
# no_replica_on PATH: fsck lists no location of PATH on the victim.
no_replica_on_victim() {
    local out
    out=$(ember fsck "$1" -files -blocks -locations)
    ! grep -q "rank $victim\]" <<<"$out" || fail "a location of $1 is on node $victim: $out"
}
trimmed() { # healthy and nothing over-replicated
    dfs_healthy && ember fsck / | grep -qE 'Over-replicated blocks:\s+0 '
}
# Full block reports from node $1, as the namenode's log counts them.
reports_from() { grep -c "INFO  block report from node $1:" "$RUN_DIR/logs/rank-0.log"; }
more_reports_from() { [ "$(reports_from "$1")" -gt "$2" ]; }

cluster_start 7 "${ARGS[@]}" # ranks 1-5 core, 6 a task node
head -c 4194304 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put"
wait_until 20 dfs_healthy || fail "not healthy after put: $(ember fsck / 2>&1)"
out=$(ember fsck /in.bin -files -blocks -locations)
BLOCKS=$(grep -o 'blk_[0-9]*_' <<<"$out" | tr -d 'blk_' | sort -u | tr '\n' ' ')
[ "$(wc -w <<<"$BLOCKS")" = 4 ] || fail "expected 4 blocks: $out"
victim=$(grep -o 'rank [0-9]*' <<<"$out" | sort | uniq -c | sort -rn | head -n1 | awk '{print $3}')
other=$((victim % 5 + 1))
expect_eq "$(status_of "$victim")" "Normal" "status before"
victim_copies() { find "$RUN_DIR/data/node-$victim/current/finalized" -name 'blk_*' ! -name '*.meta' | wc -l; }
before=$(victim_copies)

# 1. Decommission: copies first, then Decommissioned.
ember dfsadmin -decommission "node-$victim" | grep -q "Decommissioning node-$victim" ||
    fail "-decommission output"
end=$((SECONDS + 60))
while [ "$(status_of "$victim")" != "Decommissioned" ]; do
    [ $SECONDS -ge $end ] && fail "node $victim never decommissioned: $(status_of "$victim")"
    c=$(min_copies)
    [ "$c" -ge 3 ] || fail "a block fell to $c copies during the decommission"
    sleep 0.1
done
log "node $victim decommissioned"
wait_until 20 dfs_healthy || fail "not healthy after decommission: $(ember fsck / 2>&1)"
out=$(ember fsck /in.bin -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks with 3 live replicas"
no_replica_on_victim /in.bin
expect_eq "$(victim_copies)" "$before" "replicas left on the decommissioned node's disk"
head -c 2097152 /dev/urandom >"$TEST_TMP/new.bin"
dfs -put "$TEST_TMP/new.bin" /new.bin || fail "put after decommission"
no_replica_on_victim /new.bin

# 2. Refusals: one line, exit 1, nothing changed.
refused() { # refused WHAT EXPECTED-TEXT ARGS...
    local what=$1 text=$2 err
    shift 2
    err=$(ember dfsadmin "$@" 2>&1) && fail "$what succeeded"
    [ $? = 1 ] || fail "$what: exit status not 1"
    expect_eq "$(wc -l <<<"$err")" 1 "lines of the refusal of $what"
    grep -q "$text" <<<"$err" || fail "$what: $err"
}
refused "recommission of a Normal node" "node-$other is Normal" -recommission "node-$other"
refused "decommission of node-99" "node-99 is not a core node.*no such node" -decommission node-99
refused "decommission of the primary" "node-0 is not a core node.*the primary" -decommission node-0
refused "recommission of the primary" "node-0 is not a core node.*the primary" -recommission 0
refused "decommission of a task node" "node-6 is not a core node.*a task node" -decommission node-6
expect_eq "$(status_of "$other")" "Normal" "status of node $other after the refusals"
expect_eq "$(status_of "$victim")" "Decommissioned" "status of node $victim after the refusals"
for bad in bogus node- -1 node-x; do
    ember dfsadmin -recommission "$bad" 2>/dev/null
    expect_eq "$?" 2 "exit status of -recommission '$bad'"
    ember dfsadmin -decommission "$bad" 2>/dev/null
    expect_eq "$?" 2 "exit status of -decommission '$bad'"
done

# 3. A restart keeps it decommissioned: no new block goes there.
restart
expect_eq "$(status_of "$victim")" "Decommissioned" "status after a restart"
ember dfsadmin -safemode wait >/dev/null || fail "safe mode not left after the restart"
head -c 2097152 /dev/urandom >"$TEST_TMP/after.bin"
dfs -put "$TEST_TMP/after.bin" /after.bin || fail "put after the restart"
no_replica_on_victim /after.bin
no_replica_on_victim /in.bin
wait_until 20 trimmed || fail "not healthy after the restart: $(ember fsck / 2>&1)"

# 4. Recommission: Normal, the surplus trimmed, new blocks may go there.
ember dfsadmin -recommission "node-$victim" | grep -q "Recommissioned node-$victim" ||
    fail "-recommission output"
expect_eq "$(status_of "$victim")" "Normal" "status after recommission"
wait_until 20 trimmed || fail "surplus replicas not trimmed after recommission: $(ember fsck / 2>&1)"
out=$(ember fsck /in.bin -files -blocks -locations)
expect_eq "$(grep -c 'Live_repl=3' <<<"$out")" 4 "blocks of /in.bin at 3 live replicas"
grep -q "Recommissioned node $victim\|node $victim recommissioned" "$RUN_DIR/logs/rank-0.log" ||
    fail "the namenode did not log the recommission"
head -c 1048576 /dev/urandom >"$TEST_TMP/five.bin"
dfs -D dfs.replication=5 -put "$TEST_TMP/five.bin" /five.bin || fail "put with replication 5"
grep -q "rank $victim\]" <<<"$(ember fsck /five.bin -files -blocks -locations)" ||
    fail "a new block of replication 5 skipped the recommissioned node $victim"

# 5. A decommission that cannot finish (replication 5, 4 other nodes)
# resumes after a restart, and finishes once the replication allows.
ember dfsadmin -decommission "node-$victim" >/dev/null || fail "second -decommission"
# A redundancy tick runs the decommission check after its trimming.
redundancy_tick_after_setrep /after.bin 2
expect_eq "$(status_of "$victim")" "Decommission in progress" "status while replication 5 needs it"
before=$(reports_from "$victim")
restart
expect_eq "$(status_of "$victim")" "Decommission in progress" "status after a restart mid-way"
ember dfsadmin -safemode wait >/dev/null || fail "safe mode not left after the second restart"
# The check waits for the node's first block report since the start.
wait_until 20 more_reports_from "$victim" "$before" ||
    fail "node $victim sent no block report after the restart"
redundancy_tick_after_setrep /after.bin 1
expect_eq "$(status_of "$victim")" "Decommission in progress" "status before -setrep"
dfs -setrep 4 /five.bin >/dev/null || fail "setrep 4"
wait_until 20 is_status "$victim" Decommissioned || fail "not decommissioned after setrep: $(status_of "$victim")"
wait_until 20 dfs_healthy || fail "not healthy after the second decommission: $(ember fsck / 2>&1)"
no_replica_on_victim /five.bin

# 6. The decommissioned node dies: nothing is lost.
kill -KILL "$(rank_pid "$victim")"
wait_until 20 bash -c "'$EMBER' --run-dir '$RUN_DIR' dfsadmin -report | grep -q '^Dead datanodes (1):'" ||
    fail "node $victim never seen dead"
wait_until 20 dfs_healthy || fail "not healthy after the decommissioned node died: $(ember fsck / 2>&1)"
for f in in new after five; do
    dfs -cat "/$f.bin" | cmp - "$TEST_TMP/$f.bin" || fail "/$f.bin differs"
done
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
