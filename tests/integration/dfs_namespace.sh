#!/usr/bin/env bash
# The namespace through `ember dfs`: Hadoop's verbs and output, bad input
# with clear errors and nothing changed, and durability: every acknowledged
# change survives a clean restart, a crash of every process (no checkpoint
# on the way down) and checkpoints with log truncation.
. "$(dirname "$0")/lib.sh"

# expect_fail PATTERN ARGS...: `ember dfs ARGS` exits 1 with one error line.
expect_fail() {
    local pattern=$1; shift
    local err
    err=$(dfs "$@" 2>&1 >/dev/null) && fail "dfs $* succeeded"
    [ "$(grep -c . <<<"$err")" = 1 ] || fail "dfs $*: not one error line: $err"
    grep -q -- "$pattern" <<<"$err" || fail "dfs $*: error lacks '$pattern': $err"
}

cluster_start 3 --core-nodes 2 -D dfs.namenode.checkpoint.txns=25
dfs -mkdir -p /a/b/c || fail "mkdir -p"
dfs -mkdir /a/d || fail "mkdir"
dfs -touchz /a/f1 /a/b/f2 || fail "touchz"
dfs -D dfs.replication=1 -D dfs.blocksize=1m -touchz /a/small || fail "touchz with -D"
expect_eq "$(dfs -stat '%r %o %F' /a/small)" "1 1048576 regular empty file" "-D on touchz"
expect_eq "$(dfs -stat '%r %o' /a/f1)" "2 134217728" "defaults capped to 2 core nodes"
out=$(dfs -ls /a) || fail "ls"
grep -q '^Found 4 items$' <<<"$out" || fail "ls header: $out"
grep -qE '^drwxr-xr-x +- +[a-z]+ +supergroup|^drwxr-xr-x +- ' <<<"$out" || fail "ls dir line: $out"
grep -qE '^-rw-r--r-- +2 .* 0 [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} /a/f1$' <<<"$out" || fail "ls file line: $out"
expect_eq "$(dfs -ls /a | awk 'NR>1 {print $NF}' | tr '\n' ' ')" "/a/b /a/d /a/f1 /a/small " "ls order"
expect_eq "$(dfs -ls -R / | awk '{print $NF}' | tr '\n' ' ')" \
    "/a /a/b /a/b/c /a/b/f2 /a/d /a/f1 /a/small " "ls -R"
expect_eq "$(dfs -ls /a/small | awk '{print $NF}')" "/a/small" "ls of a file"
expect_eq "$(dfs -ls -d /a | awk '{print $NF}')" "/a" "ls -d"
dfs -test -d /a/b && dfs -test -f /a/f1 && dfs -test -e /a/small && dfs -test -z /a/f1 ||
    fail "-test true cases"
! dfs -test -e /nope && ! dfs -test -d /a/f1 && ! dfs -test -s /a/f1 || fail "-test false cases"

# Renames, attributes.
dfs -mv /a/f1 /a/b || fail "mv into a directory"
dfs -test -f /a/b/f1 && ! dfs -test -e /a/f1 || fail "mv moved nothing"
dfs -mv /a/d /a/e || fail "mv rename"
dfs -chmod 700 /a/e && expect_eq "$(dfs -stat %a /a/e)" 700 "chmod octal"
dfs -chmod g+rx,o+x /a/e && expect_eq "$(dfs -stat %a /a/e)" 751 "chmod symbolic"
dfs -chown alice:staff /a/b/f1 && expect_eq "$(dfs -stat '%u:%g' /a/b/f1)" alice:staff "chown"
dfs -chgrp -R eng /a/b && expect_eq "$(dfs -stat %g /a/b/c)" eng "chgrp -R"
out=$(dfs -setrep 5 /a/b/f1 2>&1) || fail "setrep: $out"
grep -q 'capped to 2' <<<"$out" || fail "no replication cap warning: $out"
dfs -setrep 1 /a/b >/dev/null && expect_eq "$(dfs -stat %r /a/b/f2)" 1 "setrep on a directory"
dfs -mkdir -p rel/x && dfs -test -d "/user/$(id -un)/rel/x" || fail "relative paths"
port=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$RUN_DIR/cluster.json")
dfs -test -d hdfs:///a/b && dfs -test -d "hdfs://localhost:$port/a/b" || fail "hdfs:// paths"
expect_eq "$(dfs -count / | awk '{print $1, $2}')" "9 3" "count dirs and files"

# Bad input: one clear line, exit 1, nothing changed.
before=$(dfs -ls -R /)
expect_fail "\`/a/b/c': File exists" -mkdir /a/b/c
expect_fail "\`/a/b/f1/x': Is not a directory" -mkdir -p /a/b/f1/x
expect_fail "No such file or directory" -mkdir /q/r
expect_fail "No such file or directory" -ls /nope
expect_fail "own subtree" -mv /a /a/b/c
expect_fail "File exists" -mv /a/b/f2 /a/b/f1
expect_fail "Is a directory" -rm /a/b
expect_fail "No such file or directory" -rm /nope
expect_fail "Directory is not empty" -rmdir /a/b
expect_fail "Wrong FS: hdfs://localhost:1/a/b" -ls hdfs://localhost:1/a/b
expect_fail "only hdfs://" -ls file:///etc
expect_eq "$(dfs -ls -R /)" "$before" "namespace after refused operations"
err=$(dfs -frob / 2>&1); [ $? = 2 ] && grep -q "unknown command '-frob'" <<<"$err" || fail "unknown dfs command: $err"
err=$(dfs -D dfs.replication=zero -ls / 2>&1); [ $? = 2 ] && grep -q dfs.replication <<<"$err" || fail "bad -D: $err"
dfs -rm -f /nope || fail "rm -f of a missing path"
dfs -rm -r /a/e | grep -q '^Deleted /a/e$' || fail "rm -r"

# Enough edits for checkpoints (dfs.namenode.checkpoint.txns=25).
dfs -mkdir /many && dfs -touchz $(seq -f '/many/f%g' 1 30) || fail "touchz many"
wait_until 10 bash -c "ls '$RUN_DIR'/name/fsimage_* >/dev/null 2>&1" || fail "no checkpoint image written"
snapshot=$(dfs -ls -R /)
cid=$(ember status | sed -n 's/^Cluster: *//p')

# 1. Clean stop and restart on the same run directory: same namespace,
# same cluster id (kept in name/VERSION, as HDFS keeps its clusterID).
ember cluster stop >/dev/null
cluster_wait_exit 30
cluster_start 3 --core-nodes 2
expect_eq "$(dfs -ls -R /)" "$snapshot" "namespace after a clean restart"
expect_eq "$(ember status | sed -n 's/^Cluster: *//p')" "$cid" "cluster id after a restart"
grep -qx "clusterID=$cid" "$RUN_DIR/name/VERSION" || fail "name/VERSION does not hold the cluster id"

# 2. A crash: SIGKILL every rank and mpirun, no checkpoint on the way down.
dfs -mkdir /after-restart && dfs -mv /a/b/f2 /a/b/c/ && dfs -rm -r /many >/dev/null || fail "edits"
snapshot=$(dfs -ls -R /)
kill -KILL "$MPIRUN_PID" $(cat "$RUN_DIR"/pids/*.pid) 2>/dev/null
wait "$MPIRUN_PID" 2>/dev/null
MPIRUN_PID=
# The killed job's shared-memory segments (over shared memory) are ours to
# remove: exactly the recorded ones, and afterwards none of them is left.
if [ "${EMBER_TEST_BTL:-}" != tcp ]; then
    [ ${#MPI_SHM_FILES[@]} -gt 0 ] || fail "no shared-memory segment of the job was recorded"
    left=0
    for f in "${MPI_SHM_FILES[@]}"; do [ -e "$f" ] && left=$((left + 1)); done
    log "after SIGKILL of the whole job: $left of ${#MPI_SHM_FILES[@]} segment(s) left in /dev/shm"
    remove_shm_files
    for f in "${MPI_SHM_FILES[@]}"; do [ ! -e "$f" ] || fail "$f was not removed"; done
fi
cluster_start 3 --core-nodes 2
expect_eq "$(dfs -ls -R /)" "$snapshot" "namespace after a crash"
ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
