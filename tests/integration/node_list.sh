#!/usr/bin/env bash
# Every core and task node's worker offers containers from its topology:
# `ember node -list` (YARN's `yarn node -list` layout) and `dfsadmin
# -report` show the vcores and memory each offers and the containers
# running there.  First the synthetic machine "package:2 numa:1 core:4
# pu:2" (8 cores, 2 NUMA nodes, 2 GiB) shared by the 4 worker ranks of
# the local cluster, 2 cores each in rank order: a core node keeps one of
# its cores for its own loop and datanode (1 vcore), a task node none
# (2), and all offer 80% of their quarter of the memory (410 MB of 512);
# a task node killed
# shows as LOST.  Then the XML fixture (32 PUs) with PUs as vcores, split
# between 2 ranks, two reserved PUs and YARN's overrides.  Bad usage of the command exits 2 with one line; a bad
# topology or a memory reserve that leaves nothing stops the start with
# one line.
. "$(dirname "$0")/lib.sh"

cluster_start 5 --core-nodes 2 -D "ember.topology.synthetic=package:2 numa:1 core:4 pu:2"

list=$(ember node -list) || fail "node -list failed"
expect_eq "$(head -n1 <<<"$list")" "Total Nodes:4" "node count"
sed -n 2p <<<"$list" | grep -qP '^ +Node-Id\t +Node-State\t +Node-Host\tNumber-of-Running-Containers$' ||
    fail "header: $(sed -n 2p <<<"$list")"
for r in 1 2 3 4; do
    grep -qP "^ +node-$r\t +RUNNING\t *$(hostname)\t +0$" <<<"$list" ||
        fail "node-$r is not listed RUNNING with 0 containers: $list"
done

# The details: what each worker offers, nothing allocated yet.
details=$(ember node -list -showDetails) || fail "node -list -showDetails failed"
node_detail() { # NODE: its "Detailed Node Information" block
    awk -v id="node-$1" '$1 == id {on = 1; next} on && /^ +node-/ {on = 0} on' <<<"$details"
}
share=(- 0-1 2-3 4-5 6-7) # rank r's cores
for r in 1 2; do
    node_detail $r | grep -qP '^\tConfigured Resources : <memory:410, vCores:1>$' ||
        fail "core node $r's offer: $(node_detail $r)"
    node_detail $r | grep -qP "^\tPlacement : 1 of 2 cores \(1 reserved for the rank\), cores ${share[r]} of the host's 8, 2 NUMA nodes, 2 packages$" ||
        fail "core node $r's placement: $(node_detail $r)"
done
for r in 3 4; do
    node_detail $r | grep -qP '^\tConfigured Resources : <memory:410, vCores:2>$' ||
        fail "task node $r's offer: $(node_detail $r)"
    node_detail $r | grep -qP "^\tPlacement : 2 of 2 cores \(0 reserved for the rank\), cores ${share[r]} of the host's 8, 2 NUMA nodes, 2 packages$" ||
        fail "task node $r's placement: $(node_detail $r)"
    node_detail $r | grep -qP '^\tRole : task$' || fail "task node $r's role"
done
expect_eq "$(grep -cP '^\tAllocated Resources : <memory:0, vCores:0>$' <<<"$details")" 4 \
    "nodes with nothing allocated"

# dfsadmin -report shows the same per node.
report=$(ember dfsadmin -report)
grep -A12 '^Name: node-1 ' <<<"$report" |
    grep -q "^Container Resources: <memory:410, vCores:1> (1 of 2 cores reserved for the rank; cores 0-1 of the host's 8)$" ||
    fail "dfsadmin -report: node-1's container resources"
grep -A12 '^Name: node-3 ' <<<"$report" |
    grep -q "^Container Resources: <memory:410, vCores:2> (0 of 2 cores reserved for the rank; cores 4-5 of the host's 8)$" ||
    fail "dfsadmin -report: node-3's container resources"
expect_eq "$(grep -c '^Containers Running: 0 (<memory:0, vCores:0> allocated)$' <<<"$report")" 4 \
    "dfsadmin -report: containers running"
grep -q 'node 3 registered: task node on .*offers 2 vcores, 410 MB' "$RUN_DIR/logs/rank-0.log" ||
    fail "the primary did not log node 3's offer"
grep -q "worker: synthetic topology 'package:2 numa:1 core:4 pu:2' offers containers 1 vcores (2 cores, 1 reserved for this rank), 410 MB (of 512 MB, 102 MB reserved)" \
    "$RUN_DIR/logs/rank-1.log" || fail "node 1's worker did not log its offer"
grep -q "worker: this host's 8 cores are shared by worker ranks 1, 2, 3, 4: rank 3 offers cores 4-5$" \
    "$RUN_DIR/logs/rank-3.log" || fail "node 3's worker did not log its share"

# Bad usage: one line, exit 2, nothing listed.
expect_usage() { # PATTERN ARGS...
    local pattern=$1 err rc; shift
    err=$(ember node "$@" 2>&1 >/dev/null)
    rc=$?
    expect_eq "$rc" 2 "exit status of 'node $*'"
    [ "$(grep -c . <<<"$err")" = 1 ] && grep -q -- "$pattern" <<<"$err" ||
        fail "'node $*' error: $err"
}
expect_usage "-list is the command" -showDetails
expect_usage "the node state BOGUS is invalid" -list -states RUNNING,BOGUS
expect_usage "unknown option '-frob'" -list -frob
expect_usage "-states needs" -list -states

# A task node killed: LOST, listed only with -all or -states LOST.
kill -KILL "$(rank_pid 4)"
node4_lost() { ember node -list -all | grep -qP '^ +node-4\t +LOST\t'; }
wait_until 20 node4_lost || fail "node-4 not LOST: $(ember node -list -all)"
list=$(ember node -list)
expect_eq "$(head -n1 <<<"$list")" "Total Nodes:3" "running nodes after the kill"
! grep -q 'node-4' <<<"$list" || fail "node-4 listed as running: $list"
expect_eq "$(ember node -list -all | head -n1)" "Total Nodes:4" "every node with -all"
lost=$(ember node -list -states lost)
expect_eq "$(head -n1 <<<"$lost")" "Total Nodes:1" "LOST nodes"
grep -qP '^ +node-4\t +LOST\t' <<<"$lost" || fail "-states lost: $lost"
ember cluster stop >/dev/null
cluster_wait_exit 30
rm -rf "$RUN_DIR"

# The XML machine (2 packages x 2 NUMA nodes x 4 cores x 2 PUs, 4 GiB),
# hardware threads as vcores, 16 PUs per rank, two of them kept for the
# rank, and YARN's keys for the figures themselves: 14 placed on, 3
# vcores and 1000 MB offered.
fixture=$(dirname "$0")/../unit/fixtures/numa4_devices.xml
cluster_start 3 --core-nodes 1 -D "ember.topology.xml=$fixture" \
    -D yarn.nodemanager.resource.count-logical-processors-as-cores=true \
    -D ember.worker.reserved-cores=2 \
    -D yarn.nodemanager.resource.cpu-vcores=3 -D yarn.nodemanager.resource.memory-mb=1000
details=$(ember node -list -showDetails)
share=(- 0-15 16-31)
for r in 1 2; do
    node_detail $r | grep -qP '^\tConfigured Resources : <memory:1000, vCores:3>$' ||
        fail "node $r's configured offer: $(node_detail $r)"
    node_detail $r | grep -qP "^\tPlacement : 14 of 16 PUs \(2 reserved for the rank\), PUs ${share[r]} of the host's 32, 4 NUMA nodes, 2 packages$" ||
        fail "node $r's placement: $(node_detail $r)"
done
ember dfsadmin -report | grep -A8 '^Name: node-1 ' | grep -q '^Cores: 16 (32 PUs, 4 NUMA nodes, 2 packages)$' ||
    fail "the XML topology's summary"
grep -q "worker: XML topology '.*numa4_devices.xml' offers containers 3 vcores (16 PUs, 2 reserved for this rank), 1000 MB" \
    "$RUN_DIR/logs/rank-1.log" || fail "node 1's worker did not log its XML offer"
ember cluster stop >/dev/null
cluster_wait_exit 30

# Refused starts: a topology file that is missing or is not hwloc XML, or
# one beside a synthetic topology; a memory reserve that leaves containers
# nothing.
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
expect_mpi_error "cannot read the topology file '$TEST_TMP/none.xml': No such file" \
    -D "ember.topology.xml=$TEST_TMP/none.xml"
echo '<topology version="2.0"><object type=' >"$TEST_TMP/bad.xml"
expect_mpi_error "hwloc cannot load the topology file '$TEST_TMP/bad.xml'" \
    -D "ember.topology.xml=$TEST_TMP/bad.xml"
expect_mpi_error "a synthetic topology and a topology file are both set" \
    -D "ember.topology.xml=$TEST_TMP/bad.xml" -D "ember.topology.synthetic=pack:1 core:1 pu:1"
expect_mpi_error "system-reserved-memory-mb (4096 MB) leaves nothing of this node's 1024 MB" \
    -D "ember.topology.synthetic=pack:1 core:2 pu:1" \
    -D yarn.nodemanager.resource.system-reserved-memory-mb=4096
expect_eq "$(head -n1 "$RUN_DIR/status")" 1 "status after a worker that cannot start"
log PASS
