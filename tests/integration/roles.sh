#!/usr/bin/env bash
# Role assignment seen from outside: default split, --core-nodes, and the
# report's sections and Role lines; Hadoop keys ember does not use are
# taken with a warning.
. "$(dirname "$0")/lib.sh"
CLUSTER_REPLICATION= # the cluster's own default: EMR's rule

check_roles() { # NP CORE TASK [options]
    local np=$1 core=$2 task=$3; shift 3
    cluster_start "$np" "$@"
    expect_eq "$(section_count 'Live datanodes')" "$core" "live datanodes (np=$np $*)"
    expect_eq "$(section_count 'Live task nodes')" "$task" "live task nodes (np=$np $*)"
    expect_eq "$(section_count 'Dead datanodes')" 0 "dead datanodes"
    local report
    report=$(ember dfsadmin -report)
    for r in $(seq 1 $((np - 1))); do
        local want=core
        [ "$r" -gt "$core" ] && want=task
        grep -A3 "^Name: node-$r (rank $r)" <<<"$report" | grep -q "^Role: $want" ||
            fail "rank $r is not a $want node"
    done
    ember status | grep -q "Core nodes:  $core live, 0 dead" || fail "status core count"
    ember status | grep -q "Task nodes:  $task live, 0 dead" || fail "status task count"
    if [ "$core" -gt 0 ]; then # EMR's default replication for this many core nodes
        local want_repl=1
        [ "$core" -ge 4 ] && want_repl=2
        dfs -touchz /r || fail "touchz"
        expect_eq "$(dfs -stat %r /r)" "$want_repl" "default replication with $core core nodes"
        out=$(dfs -D dfs.replication=9 -touchz /r9 2>&1) || fail "touchz at 9: $out"
        grep -q "capped to $core, the number of core nodes (set dfs.replication, or -setrep, to at most $core)" <<<"$out" ||
            fail "capped warning: $out"
    fi
    ember cluster stop >/dev/null || fail "stop failed"
    cluster_wait_exit 30
    rm -rf "$RUN_DIR"
}

check_roles 4 3 0
check_roles 5 2 2 --core-nodes 2 -D fs.defaultFS=hdfs://example:8020 -D io.file.buffer.size=65536
# Hadoop's keys that ember does not use: taken, with one warning each.
grep -q "warning: fs.defaultFS is a Hadoop key that ember does not use: ignored" "$TEST_TMP/mpirun.out" ||
    fail "no warning for fs.defaultFS"
expect_eq "$(grep -c 'warning: io.file.buffer.size is a Hadoop key' "$TEST_TMP/mpirun.out")" 1 \
    "warnings for io.file.buffer.size"
check_roles 4 0 3 --core-nodes 0
check_roles 2 1 0
check_roles 6 3 2 --core-nodes 3
check_roles 5 4 0
log PASS
