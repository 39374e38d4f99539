#!/usr/bin/env bash
# Bad command lines and configuration, for the CLI and for `ember cluster`
# under mpirun: one clear error line, a non-zero exit, nothing left running.
# Bad user names, refused saying what is wrong.
. "$(dirname "$0")/lib.sh"

# expect_error CODE PATTERN COMMAND...: exit status CODE, one stderr line
# matching PATTERN.
expect_error() {
    local code=$1 pattern=$2; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    [ "$rc" = "$code" ] || fail "'$*' exited $rc, expected $code (stderr: $err)"
    [ "$(grep -c . <<<"$err")" = 1 ] || fail "'$*' printed not one error line: $err"
    grep -q -- "$pattern" <<<"$err" || fail "'$*' error lacks '$pattern': $err"
}

mkdir -p "$RUN_DIR"
expect_error 2 "unknown command 'frobnicate'" "$EMBER" frobnicate
expect_error 2 "unknown option '--bogus'" "$EMBER" --bogus status
expect_error 2 "unknown command '-bogus'" "$EMBER" --run-dir "$RUN_DIR" dfsadmin -bogus
expect_error 1 "cluster.json" "$EMBER" --run-dir "$TEST_TMP/nowhere" status
EMBER_RUN_DIR=$TEST_TMP/nowhere expect_error 1 "$TEST_TMP/nowhere/cluster.json" "$EMBER" status
echo '{"cluster_id": "x", ' >"$RUN_DIR/cluster.json"
expect_error 1 "not valid JSON" "$EMBER" --run-dir "$RUN_DIR" status
echo '{"cluster_id": "CID-1", "host": "127.0.0.1", "port": 0, "secret": "ab"}' >"$RUN_DIR/cluster.json"
expect_error 1 "lacks a valid" "$EMBER" --run-dir "$RUN_DIR" dfsadmin -report
rm -f "$RUN_DIR/cluster.json"

# `ember cluster` under mpirun (expect_mpi_error, lib.sh).
expect_mpi_error "unknown option '--frob'" --frob
expect_mpi_error "needs a value" --core-nodes
expect_mpi_error "non-negative number" --core-nodes abc
expect_mpi_error "more than the 1 non-primary" --core-nodes 5
expect_mpi_error "unknown configuration key 'dfs.no.such.key'" -D dfs.no.such.key=1
expect_mpi_error "dfs.heartbeat.interval" -D dfs.heartbeat.interval=often
expect_mpi_error "not a numeric" --bind localhost
printf '# a comment\ndfs.heartbeat.interval = 2s\n\nember.bogus = 1\n' >"$TEST_TMP/bad.conf"
expect_mpi_error "bad.conf:4: unknown configuration key 'ember.bogus'" --conf "$TEST_TMP/bad.conf"
printf 'ember.node.expiry = -5s\n' >"$TEST_TMP/bad2.conf"
expect_mpi_error "bad2.conf:1: .*ember.node.expiry" --conf "$TEST_TMP/bad2.conf"
expect_mpi_error "cannot read config file" --conf "$TEST_TMP/missing.conf"
# A refused start still leaves its exit status for scripts.
expect_eq "$(head -n1 "$RUN_DIR/status")" 2 "status after a bad command line"
expect_mpi_error "hwloc cannot load the topology 'bogus:3'" -D ember.topology.synthetic=bogus:3
expect_eq "$(head -n1 "$RUN_DIR/status")" 1 "status after a failed start"

# A good config file is applied: heartbeat interval and expiry from the file.
printf 'dfs.heartbeat.interval = 100ms\nember.node.expiry = 2s\n' >"$TEST_TMP/good.conf"
cluster_start 2 --conf "$TEST_TMP/good.conf"

# User names are carried whole up to 63 characters.  A longer one, or one
# with a control character or a byte outside ASCII, is refused saying
# what is wrong -- by the client before it connects, and by the gateway to
# a client that sends one anyway -- and never becomes another user.
u63=$(printf 'u%.0s' $(seq 1 63))
dfs -mkdir /open && dfs -chmod 777 /open || fail "mkdir /open"
HADOOP_USER_NAME=$u63 ember dfs -touchz /open/f || fail "touchz as a 63-character user"
expect_eq "$(dfs -stat %u /open/f)" "$u63" "the owner named by 63 characters"
HADOOP_USER_NAME=${u63}u expect_error 1 "HADOOP_USER_NAME is 64 bytes long: at most 63" \
    "$EMBER" --run-dir "$RUN_DIR" dfs -ls /
HADOOP_USER_NAME=$'al\nice' expect_error 1 \
    "HADOOP_USER_NAME has a control character (byte 0x0a at offset 2)" \
    "$EMBER" --run-dir "$RUN_DIR" dfs -touchz /open/g
HADOOP_USER_NAME=$'al\xffice' expect_error 1 "a byte outside ASCII (byte 0xff at offset 2)" \
    "$EMBER" --run-dir "$RUN_DIR" dfs -ls /
! dfs -test -e /open/g || fail "a refused user created a file"
out=$("$PROBE" "$RUN_DIR" bad-user-name) || fail "gateway and a bad user name: $out"
grep -q "the user name has a control character (byte 0x0a at offset 2)" <<<"$out" ||
    fail "the gateway did not say what is wrong with the user name: $out"

# Each registration is logged once (a node resends RegisterNode until it
# hears back).
expect_eq "$(grep -c 'node 1 registered' "$RUN_DIR/logs/rank-0.log")" 1 "registration lines"
ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
