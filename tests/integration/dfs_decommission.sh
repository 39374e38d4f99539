#!/usr/bin/env bash
# Decommission: `ember dfsadmin -decommission node-N` copies the node's
# blocks to other nodes first -- at no moment does any block have fewer
# than its 3 copies on disk -- then -report says "Decommissioned"; no new
# block goes to it, every block has 3 live replicas elsewhere, and killing
# the node afterwards loses nothing.  Bad node names are refused.
. "$(dirname "$0")/lib.sh"

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

cluster_start 6 --core-nodes 5 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms
head -c 4194304 /dev/urandom >"$TEST_TMP/in.bin" # 4 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put"
wait_until 20 dfs_healthy || fail "not healthy after put: $(ember fsck / 2>&1)"
out=$(ember fsck /in.bin -files -blocks -locations)
BLOCKS=$(grep -o 'blk_[0-9]*_' <<<"$out" | tr -d 'blk_' | sort -u | tr '\n' ' ')
[ "$(wc -w <<<"$BLOCKS")" = 4 ] || fail "expected 4 blocks: $out"
victim=$(grep -o 'rank [0-9]*' <<<"$out" | sort | uniq -c | sort -rn | head -n1 | awk '{print $3}')
expect_eq "$(status_of "$victim")" "Normal" "status before"
victim_copies() { find "$RUN_DIR/data/node-$victim/current/finalized" -name 'blk_*' ! -name '*.meta' | wc -l; }
before=$(victim_copies)

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
! grep -q "rank $victim\]" <<<"$out" || fail "a location is still on node $victim: $out"
expect_eq "$(victim_copies)" "$before" "replicas left on the decommissioned node's disk"

# New blocks avoid it; reads do not need it.
head -c 2097152 /dev/urandom >"$TEST_TMP/new.bin"
dfs -put "$TEST_TMP/new.bin" /new.bin || fail "put after decommission"
out=$(ember fsck /new.bin -files -blocks -locations)
! grep -q "rank $victim\]" <<<"$out" || fail "a new block went to node $victim: $out"
kill -KILL "$(rank_pid "$victim")"
wait_until 20 bash -c "'$EMBER' --run-dir '$RUN_DIR' dfsadmin -report | grep -q '^Dead datanodes (1):'" ||
    fail "node $victim never seen dead"
wait_until 20 dfs_healthy || fail "not healthy after the decommissioned node died: $(ember fsck / 2>&1)"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "/in.bin differs"
dfs -cat /new.bin | cmp - "$TEST_TMP/new.bin" || fail "/new.bin differs"

# Bad names.
err=$(ember dfsadmin -decommission node-99 2>&1) && fail "decommission of a node that does not exist succeeded"
grep -q 'node-99 is not a core node' <<<"$err" || fail "decommission of node-99: $err"
for bad in bogus node-0 node-; do
    ember dfsadmin -decommission "$bad" 2>/dev/null
    expect_eq "$?" 2 "exit status for node name '$bad'"
done
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
