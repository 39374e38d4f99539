#!/usr/bin/env bash
# Usage and help as Hadoop's (issue 12 item 4).  `ember dfs -usage [CMD]`
# and `-help [CMD]` in FsShell's format; `--help` of any verb; a bad option
# or operand count refused with Hadoop's words and the verb's usage line
# before the cluster is reached; `--help`/`-h` of every command and
# subcommand (exit 0).  `dfsadmin` with a known command and a bad argument
# says what is wrong with it; `dfsadmin -report [-live] [-dead]
# [-decommissioning]` filters its node sections as Hadoop's, and its
# summary's capacities and block counts are computed from what the
# datanodes and the namenode hold (cross-checked with each node's lines
# and with fsck).
. "$(dirname "$0")/lib.sh"

# usage_error CMD... : exit 2, stderr exactly "$1" then the verb's usage line.
usage_error() {
    local want=$1; shift
    local err rc
    err=$(ember dfs "$@" 2>&1 >/dev/null)
    rc=$?
    expect_eq "$rc" 2 "exit status of dfs $*"
    expect_eq "$(sed -n 1p <<<"$err")" "$want" "error line of dfs $*"
    expect_eq "$(sed -n 2p <<<"$err")" "$(ember dfs -usage "$1" 2>/dev/null)" "usage line after dfs $*"
    expect_eq "$(wc -l <<<"$err")" 2 "lines printed by dfs $*"
}

# No cluster yet: usage and help need none, and neither does bad usage.
out=$(ember dfs -usage) || fail "dfs -usage exited $?"
expect_eq "$(sed -n 1p <<<"$out")" "Usage: ember dfs [generic options]" "first line of -usage"
grep -qxF $'\t[-du [-s] [-h] [-v] [-x] <path> ...]' <<<"$out" || fail "-usage lacks -du: $out"
grep -qxF $'\t[-count [-q] [-h] [-v] [-u] [-x] <path> ...]' <<<"$out" || fail "-usage lacks -count: $out"
expect_eq "$(ember dfs -usage ls)" \
    "Usage: ember dfs [generic options] -ls [-C] [-d] [-h] [-R] [-t] [-S] [-r] [-u] [<path> ...]" \
    "-usage ls"
expect_eq "$(ember dfs -usage -mkdir rm | wc -l)" 2 "-usage of two verbs"
help=$(ember dfs -help du) || fail "-help du exited $?"
expect_eq "$(sed -n 1p <<<"$help")" "-du [-s] [-h] [-v] [-x] <path> ... :" "first line of -help du"
grep -q '^  -x  .*snapshots.*ember has none' <<<"$help" || fail "-help du does not explain -x: $help"
expect_eq "$(ember dfs -du --help)" "$help" "-du --help"
all=$(ember dfs -help) || fail "-help exited $?"
grep -qxF -- "-rm [-f] [-r|-R] [-skipTrash] [-safely] <src> ... :" <<<"$all" || fail "-help lacks -rm's help"
err=$(ember dfs -help nope 2>&1 >/dev/null); expect_eq "$?" 2 "exit status of -help nope"
expect_eq "$(sed -n 1p <<<"$err")" "-help: \`nope': Unknown command" "-help of an unknown verb"

# Bad options and operand counts, in Hadoop's words (no cluster running).
usage_error "-ls: Illegal option -z" -ls -z /
usage_error "-rm: Illegal option -skiptrash" -rm -skiptrash /x
usage_error "-mkdir: Not enough arguments: expected 1 but got 0" -mkdir
usage_error "-head: Too many arguments: expected 1 but got 2" -head /a /b
usage_error "-getmerge: Illegal option -x" -getmerge -x /parts "$TEST_TMP/m"
usage_error "-test: Not enough arguments: expected 1 but got 0" -test -d
err=$(ember dfs -ls / 2>&1) && fail "-ls without a cluster succeeded"
grep -q cluster.json <<<"$err" || fail "good usage did not go on to the cluster: $err"

# --help and -h of every command and subcommand: usage on stdout, exit 0.
for c in "--help" "-h" "help" "status --help" "status -h" "dfsadmin --help" "dfsadmin -h" \
    "dfsadmin -report --help" "dfsadmin -help safemode" "fsck --help" "fsck / -h" \
    "cluster --help" "cluster -h" "cluster stop --help" "getconf --help" "getconf -h" \
    "debug --help" "debug recoverLease --help" "version --help" "dfs --help" "dfs -h" \
    "dfs -ls --help" "dfs -put --help" "fs -cat --help"; do
    out=$(ember $c 2>"$TEST_TMP/err") || fail "'ember $c' exited $?: $(cat "$TEST_TMP/err")"
    [ -s "$TEST_TMP/err" ] && fail "'ember $c' wrote to stderr: $(cat "$TEST_TMP/err")"
    grep -qiE '^usage|^-[a-zA-Z]+ .*:|performs DFS' <<<"$out" || fail "'ember $c' printed no usage: $out"
done
expect_eq "$(ember dfsadmin -help safemode | sed -n 1p | cut -f1)" \
    "-safemode <enter | leave | get | wait>:" "dfsadmin -help safemode"

# dfsadmin: a known command with a bad argument says what is wrong.
dfsadmin_error() {
    local want=$1 usage=$2; shift 2
    local err
    err=$(ember dfsadmin "$@" 2>&1 >/dev/null)
    expect_eq "$?" 2 "exit status of dfsadmin $*"
    expect_eq "$(sed -n 1p <<<"$err")" "ember: dfsadmin: $want" "error of dfsadmin $*"
    expect_eq "$(sed -n 2p <<<"$err")" "Usage: ember dfsadmin [$usage]" "usage after dfsadmin $*"
}
dfsadmin_error "-report: unknown argument '-bogus' (filters: -live, -dead, -decommissioning)" \
    "-report [-live] [-dead] [-decommissioning]" -report -live -bogus
dfsadmin_error "-safemode: needs <enter | leave | get | wait>" \
    "-safemode <enter | leave | get | wait>" -safemode
dfsadmin_error "-safemode: takes enter, leave, get or wait, not 'sometimes'" \
    "-safemode <enter | leave | get | wait>" -safemode sometimes
dfsadmin_error "-decommission: needs <node>" "-decommission <node>" -decommission
dfsadmin_error "-recommission: takes one argument: <node>" "-recommission <node>" -recommission 1 2

# A cluster: three core nodes and a task node; 1 MiB blocks.
cluster_start 5 --core-nodes 3 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms \
    -D dfs.block.scanner.volume.bytes.per.second=0

# summary_value NAME REPORT: the number after "NAME: " (the first one).
summary_value() { sed -n "s/^\s*$1: \([0-9]*\).*/\1/p" <<<"$2" | head -n1; }
# node_value NODE NAME REPORT: the number after "NAME: " in node-NODE's lines.
node_value() { sed -n "/^Name: node-$1 /,/^\$/s/^$2: \([0-9]*\).*/\1/p" <<<"$3"; }
sections() { grep -E '^[A-Z][a-z]+ (datanodes|task nodes) \([0-9]+\):$' <<<"$1" | tr '\n' ';'; }

head -c 300000 /dev/urandom >"$TEST_TMP/data"
dfs -D dfs.replication=3 -put "$TEST_TMP/data" /r3 || fail "put /r3"
dfs -D dfs.replication=1 -put "$TEST_TMP/data" /r1 || fail "put /r1"
dfs -D dfs.replication=1 -put "$TEST_TMP/data" /c1 || fail "put /c1"
# Each datanode's usage reaches the primary with its next heartbeat: wait
# until the five replicas (1.5 MB) count before reading the report.
all_used() { [ "$(summary_value "DFS Used" "$(ember dfsadmin -report)")" -ge 1500000 ]; }
wait_until 20 all_used || fail "DFS Used never counted the 5 replicas: $(ember dfsadmin -report 2>&1)"
report=$(ember dfsadmin -report) || fail "dfsadmin -report"
used=$(summary_value "DFS Used" "$report")
rem=$(summary_value "DFS Remaining" "$report")
cap=$(summary_value "Configured Capacity" "$report")
expect_eq "$(summary_value "Present Capacity" "$report")" $((used + rem)) "Present Capacity"
[ "$cap" -ge $((used + rem)) ] && [ "$used" -ge 1500000 ] || fail "summary capacities: $report"
expect_eq "$(summary_value "Under replicated blocks" "$report")" 0 "under-replicated blocks at first"
expect_eq "$(summary_value "Missing blocks" "$report")" 0 "missing blocks at first"
for n in 1 2 3; do
    c=$(node_value $n "Configured Capacity" "$report")
    u=$(node_value $n "DFS Used" "$report")
    r=$(node_value $n "DFS Remaining" "$report")
    expect_eq "$(node_value $n "Non DFS Used" "$report")" $((c - u - r)) "node-$n's Non DFS Used"
done
expect_eq "$(sections "$report")" \
    "Live datanodes (3):;Dead datanodes (0):;Live task nodes (1):;Dead task nodes (0):;" \
    "sections of -report"
expect_eq "$(sections "$(ember dfsadmin -report -live)")" \
    "Live datanodes (3):;Live task nodes (1):;" "sections of -report -live"
expect_eq "$(sections "$(ember dfsadmin -report -decommissioning)")" \
    "Decommissioning datanodes (0):;" "sections of -report -decommissioning"

# holder FILE: the rank holding FILE's first block (replication 1).
holder() { ember fsck "$1" -files -blocks -locations | grep '^0\. blk_' | grep -o 'rank [0-9]*' | head -n1 | cut -d' ' -f2; }
# A decommission that cannot finish (/r3 needs every core node) stays in
# progress: -decommissioning lists that node alone.
ember dfsadmin -decommission node-1 >/dev/null || fail "decommission node-1"
out=$(ember dfsadmin -report -decommissioning)
expect_eq "$(sections "$out")" "Decommissioning datanodes (1):;" "-decommissioning while in progress"
expect_eq "$(grep -c '^Name: ' <<<"$out")" 1 "nodes under -decommissioning"
grep -q '^Name: node-1 ' <<<"$out" || fail "node-1 is not the decommissioning node: $out"
ember dfsadmin -recommission node-1 >/dev/null || fail "recommission node-1"
wait_until 10 bash -c "'$EMBER' --run-dir '$RUN_DIR' dfsadmin -report -decommissioning | grep -q '^Decommissioning datanodes (0):'" ||
    fail "node-1 still decommissioning after -recommission"

# A corrupt replica: /c1's only one, flipped and found by a read.  It is
# kept (no good copy): a block with corrupt replicas, and missing.
cnode=$(holder /c1)
block=$(ember fsck /c1 -files -blocks | sed -n 's/^0\. blk_\([0-9]*\)_.*/\1/p')
printf '\x5a\xa5' | dd of="$RUN_DIR/data/node-$cnode/current/finalized/blk_$block" bs=1 seek=10 conv=notrunc 2>/dev/null
dfs -cat /c1 >/dev/null 2>&1 && fail "a read of a corrupt replica succeeded"
corrupt_counted() { [ "$(summary_value "Blocks with corrupt replicas" "$(ember dfsadmin -report)")" = 1 ]; }
wait_until 10 corrupt_counted || fail "the corrupt replica is not counted: $(ember dfsadmin -report)"

# The node holding /r1 dies: its blocks are missing (replication 1), the
# others under-replicated; -dead lists it.  The counts are fsck's.
rnode=$(holder /r1)
[ "$rnode" != "$cnode" ] || rnode=$(( cnode % 3 + 1 )) # still /r3's, under-replicated then
kill -KILL "$(rank_pid "$rnode")"
dead_one() { [ "$(section_count 'Dead datanodes')" = 1 ]; }
wait_until 15 dead_one || fail "node-$rnode not reported dead"
out=$(ember dfsadmin -report -dead)
expect_eq "$(sections "$out")" "Dead datanodes (1):;Dead task nodes (0):;" "sections of -report -dead"
grep -q "^Name: node-$rnode " <<<"$out" || fail "node-$rnode is not the dead one: $out"
counts_match() {
    local f r
    f=$(ember fsck / 2>/dev/null)
    r=$(ember dfsadmin -report) || return 1
    local missing corrupt under
    missing=$(sed -n 's/^ Missing blocks:\s*\([0-9]*\).*/\1/p' <<<"$f")
    corrupt=$(sed -n 's/^ Corrupt blocks:\s*\([0-9]*\).*/\1/p' <<<"$f")
    under=$(sed -n 's/^ Under-replicated blocks:\s*\([0-9]*\).*/\1/p' <<<"$f")
    [ "$(summary_value "Missing blocks" "$r")" = $((missing + corrupt)) ] &&
        [ "$(summary_value "Under replicated blocks" "$r")" = "$under" ] &&
        [ "$(summary_value "Missing blocks (with replication factor 1)" "$r")" = $((missing + corrupt)) ] &&
        [ "$under" -gt $((missing + corrupt)) ] && [ $((missing + corrupt)) -ge 1 ]
}
wait_until 15 counts_match || fail "dfsadmin's block counts are not fsck's: $(ember fsck /) $(ember dfsadmin -report)"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
