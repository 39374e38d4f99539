#!/usr/bin/env bash
# Rack placement on simulated hosts (multihost_lib.sh): the topology file
# names hosts, not nodes -- host 1 and host 3 in rack /dc1/r1, host 2 in
# /dc1/r2 -- so ranks 1 (host 1) and 4 (host 3) are in r1 and ranks 2 and
# 3 (both on host 2) in r2.  -report shows each node's rack from its
# host's name, and every block's 3 replicas span both racks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/multihost_lib.sh"

cat >"$TEST_TMP/topology" <<TOPO
# host            rack
$(mh_host 1)      /dc1/r1
$(mh_host 2)      /dc1/r2
$(mh_host 3)      /dc1/r1
TOPO
mh_start_221 -D "net.topology.table.file.name=$TEST_TMP/topology"
rack_of() { case $1 in 2 | 3) echo /dc1/r2 ;; *) echo /dc1/r1 ;; esac; }
report=$(ember dfsadmin -report)
for r in 1 2 3 4; do
    grep -A6 "^Name: node-$r " <<<"$report" | grep -q "^Rack: $(rack_of "$r")\$" ||
        fail "node-$r is not in $(rack_of "$r"): $(grep -A6 "^Name: node-$r " <<<"$report")"
done

head -c 6291456 /dev/urandom >"$TEST_TMP/in.bin" # 6 blocks
dfs -put "$TEST_TMP/in.bin" /in.bin || fail "put"
dfs -cat /in.bin | cmp - "$TEST_TMP/in.bin" || fail "cat differs"
wait_until 60 dfs_healthy || fail "not healthy after the put: $(ember fsck / 2>&1 | tail -20)"
out=$(ember fsck / -files -blocks -locations)
blocks=0
while read -r ranks; do
    racks=$(for r in $ranks; do rack_of "$r"; done | sort -u | wc -l)
    expect_eq "$(wc -w <<<"$ranks")" 3 "replicas of a block"
    [ "$racks" = 2 ] || fail "a block's replicas (ranks $ranks) stay in one rack"
    blocks=$((blocks + 1))
done < <(mh_block_ranks "$out")
expect_eq "$blocks" 6 "blocks checked for rack spread"
ember cluster stop >/dev/null
cluster_wait_exit 120
log PASS
