#!/usr/bin/env bash
# Rack awareness and failed data directories: with a topology file naming
# two racks, every block's replicas span both racks (HDFS's placement);
# -report shows each node's rack.  A data directory that cannot be used
# (a file where its directory should be) is reported as failed, and new
# replicas go to the node's healthy directory.  A bad topology file stops
# the start with a clear error.
. "$(dirname "$0")/lib.sh"

cat >"$TEST_TMP/topology" <<'TOPO'
# node      rack
node-1      /dc1/r1
node-2      /dc1/r1
node-3      /dc1/r2
node-4      /dc1/r2
TOPO
mkdir -p "$TEST_TMP/d1" "$TEST_TMP/d2"
: >"$TEST_TMP/d2/node-1" # node 1's second data directory cannot exist

cluster_start 5 --core-nodes 4 -D dfs.blocksize=1m \
    -D "net.topology.table.file.name=$TEST_TMP/topology" \
    -D "dfs.datanode.data.dir=$TEST_TMP/d1,$TEST_TMP/d2"
report=$(ember dfsadmin -report)
for r in 1 2 3 4; do
    want=/dc1/r1
    [ "$r" -gt 2 ] && want=/dc1/r2
    grep -A6 "^Name: node-$r " <<<"$report" | grep -q "^Rack: $want\$" || fail "node-$r not in $want"
done
grep -A20 '^Name: node-1 ' <<<"$report" | grep -q '^Data Directories: 2 (1 failed, 0 full)$' ||
    fail "node 1's failed data directory not reported: $(grep -A20 '^Name: node-1 ' <<<"$report")"
grep -A20 '^Name: node-2 ' <<<"$report" | grep -q '^Data Directories: 2 (0 failed, 0 full)$' ||
    fail "node 2's data directories"

head -c 6291456 /dev/urandom >"$TEST_TMP/in.bin" # 6 blocks
ember dfs -put "$TEST_TMP/in.bin" /in.bin 2>/dev/null || fail "put"
ember dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat"
out=$(ember fsck / -files -blocks -locations) || fail "fsck: $out"
blocks=0
while read -r line; do
    ranks=$(grep -o 'rank [0-9]*' <<<"$line" | cut -d' ' -f2)
    r1=0 r2=0
    for r in $ranks; do
        if [ "$r" -le 2 ]; then r1=1; else r2=1; fi
    done
    [ "$r1" = 1 ] && [ "$r2" = 1 ] || fail "a block's replicas stay in one rack: $line"
    blocks=$((blocks + 1))
done < <(grep '^[0-9]*\. blk_' <<<"$out")
expect_eq "$blocks" 6 "blocks checked for rack spread"
[ -z "$(find "$TEST_TMP/d2" -name 'blk_*' -path '*node-1*')" ] || fail "replicas in node 1's failed directory"
[ -n "$(find "$TEST_TMP/d1/node-1" -name 'blk_*' ! -name '*.meta')" ] || fail "node 1 stored nothing"
ember cluster stop >/dev/null
cluster_wait_exit 30

# A topology file with a bad line: the cluster does not start.
printf 'node-1 rack-without-slash\n' >"$TEST_TMP/bad-topology"
rm -rf "$RUN_DIR"
err=$(ASAN_OPTIONS=$MPI_ASAN timeout 60 mpirun --oversubscribe --enable-recovery -np 2 $MPI_LOOPBACK "$EMBER" cluster \
    --run-dir "$RUN_DIR" -D "net.topology.table.file.name=$TEST_TMP/bad-topology" -D ember.node.expiry=2s 2>&1)
grep -q "bad-topology:1: expected 'NODE /RACK'" <<<"$err" || fail "bad topology file not reported: $err"
expect_eq "$(head -n1 "$RUN_DIR/status")" 1 "status after a bad topology file"
log PASS
