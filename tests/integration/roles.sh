#!/usr/bin/env bash
# Role assignment seen from outside: default split, --core-nodes, and the
# report's sections and Role lines; Hadoop keys ember does not use are
# taken with a warning.
. "$(dirname "$0")/lib.sh"

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
log PASS
