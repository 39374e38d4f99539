#!/usr/bin/env bash
# Paths as Hadoop's Path reads them, in every dfs verb and in fsck: "..",
# "." and "//" resolved (never above /), a trailing '/' dropped, relative
# paths under /user/USER, hdfs:/P and hdfs:///P absolute, hdfs://AUTH/P
# only when AUTH names this cluster (its gateway's HOST:PORT, a name for
# that host, or its cluster id; hdfs://AUTH alone is the home directory),
# anything else one clear line and exit 1; then fsck: a missing path
# prints only Hadoop's "File does not exist" and exits 1, options without
# a path mean / (no argument at all is a usage error, as in Hadoop),
# relative and hdfs:// paths resolve as in dfs.
. "$(dirname "$0")/lib.sh"

U=$(id -un)
HOME_DIR=/user/$U
cluster_start 2 --core-nodes 1 -D dfs.replication=1
info() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$RUN_DIR/cluster.json" "$1"; }
port=$(info port)
cid=$(info cluster_id)

# name ARGS...: the last column of `dfs -ls -d ARGS`, the path ls resolved.
name() { dfs -ls -d "$@" | awk '{print $NF}'; }
# refused PATTERN ARGS...: dfs ARGS fails with one line holding PATTERN.
refused() {
    local pattern=$1 err
    shift
    err=$(dfs "$@" 2>&1 >/dev/null)
    [ $? = 1 ] || fail "dfs $*: not exit 1 ($err)"
    [ "$(grep -c . <<<"$err")" = 1 ] || fail "dfs $*: not one error line: $err"
    grep -qF -- "$pattern" <<<"$err" || fail "dfs $*: error lacks '$pattern': $err"
}

dfs -mkdir -p /a/b/c "$HOME_DIR/rel/x" && dfs -touchz /a/b/f || fail "setup"

# "..", "." and "//", never above /.
expect_eq "$(name /a/./b/../b//c/)" /a/b/c "dots and slashes"
expect_eq "$(name /../../a)" /a "'..' above /"
expect_eq "$(name /a/b/c/../../..)" / "back to /"
expect_eq "$(dfs -stat %n /a/b/c/../f)" f "-stat through '..'"
# Relative paths: under the home directory, '..' climbing out of it.
expect_eq "$(name .)" "$HOME_DIR" "'.'"
expect_eq "$(name rel/x/..)" "$HOME_DIR/rel" "relative with '..'"
expect_eq "$(name "../$U/rel/./x")" "$HOME_DIR/rel/x" "relative from /user"
expect_eq "$(name ../../../a)" /a "relative past /"
# hdfs: forms of this cluster.
expect_eq "$(name hdfs:/a/b)" /a/b "hdfs:/P"
expect_eq "$(name hdfs:///a/b/c/..)" /a/b "hdfs:///P"
expect_eq "$(name "hdfs://127.0.0.1:$port/a/b")" /a/b "hdfs://HOST:PORT/P"
expect_eq "$(name "hdfs://localhost:$port/a//b/")" /a/b "a name of the gateway's host"
expect_eq "$(name "hdfs://$cid/a")" /a "hdfs://CLUSTER_ID/P"
expect_eq "$(name "hdfs://127.0.0.1:$port")" "$HOME_DIR" "hdfs://AUTH alone"

# Other file systems, other schemes, nonsense: one line each, exit 1.
refused "ember: ls: Wrong FS: hdfs://127.0.0.1:1/a, expected: hdfs://127.0.0.1:$port (or hdfs://$cid)" \
    -ls hdfs://127.0.0.1:1/a
refused "Wrong FS: hdfs://elsewhere/a" -ls hdfs://elsewhere/a
refused "Wrong FS: hdfs://CID-0000/a" -ls hdfs://CID-0000/a
refused "Wrong FS: hdfs://127.0.0.1:$port:9/a" -ls "hdfs://127.0.0.1:$port:9/a"
refused "only hdfs:// paths are supported here (scheme \"file\")" -ls file:///etc
refused "(scheme \"s3\")" -cat s3://bucket/key
refused "(scheme \"x\")" -ls x:y
refused "\`hdfs:rel': Relative path in absolute URI" -ls hdfs:rel
refused "Can not create a Path from an empty string" -ls ""
refused "Wrong FS" -mkdir hdfs://elsewhere:8020/new
dfs -test -e /new && fail "a path of another file system was made here"

# Every verb takes them: writes, moves, globs, copies out.
echo text | dfs -put - /a/b/../g || fail "-put through '..'"
expect_eq "$(dfs -cat hdfs:///a/./g)" text "-cat of what -put made"
dfs -mv "hdfs://$cid/a/g" /a/b/c/.. || fail "-mv through hdfs:// and '..'"
dfs -test -f /a/b/g || fail "-mv did not move into /a/b"
expect_eq "$(dfs -ls -d '/a/b/c/../*' | awk '{print $NF}' | tr '\n' ' ')" "/a/b/c /a/b/f /a/b/g " "glob through '..'"
dfs -get /a/b/./g "$TEST_TMP/g" && expect_eq "$(cat "$TEST_TMP/g")" text "-get through '.'"
expect_eq "$(dfs -rm -r -skipTrash rel/x/../../rel/x)" "Deleted $HOME_DIR/rel/x" "-rm of a relative path"

# fsck: a missing path is one line, exit 1, no report.
out=$(ember fsck /missing 2>"$TEST_TMP/err")
expect_eq "$?" 1 "fsck of a missing path"
expect_eq "$out" "" "fsck's report of a missing path"
expect_eq "$(cat "$TEST_TMP/err")" "ember: fsck: File does not exist: /missing" "fsck's message"
out=$(ember fsck -list-corruptfileblocks /a/missing 2>&1)
expect_eq "$?/$out" "1/ember: fsck: File does not exist: /a/missing" "fsck -list-corruptfileblocks of a missing path"
out=$(ember fsck /a/b/c/..) || fail "fsck through '..': $out"
grep -q "^FSCK started for path /a/b at " <<<"$out" || fail "fsck's path: $out"
grep -qx "The filesystem under path '/a/b' is HEALTHY" <<<"$out" || fail "fsck's status: $out"
out=$(ember fsck -blocks) || fail "fsck without a path: $out"
grep -qx "The filesystem under path '/' is HEALTHY" <<<"$out" || fail "fsck without a path is not /: $out"
err=$(ember fsck 2>&1); [ $? = 2 ] || fail "fsck without arguments: not a usage error ($err)"
out=$(ember fsck rel -files) || fail "fsck of a relative path: $out"
grep -qx "$HOME_DIR/rel <dir>" <<<"$out" || fail "fsck of a relative path: $out"
out=$(ember fsck "hdfs://127.0.0.1:$port/a/b/f") || fail "fsck of an hdfs:// path: $out"
grep -qx "The filesystem under path '/a/b/f' is HEALTHY" <<<"$out" || fail "fsck of hdfs://: $out"
out=$(ember fsck hdfs://elsewhere:8020/ 2>&1)
expect_eq "$?" 1 "fsck of another file system"
grep -qx "ember: fsck: Wrong FS: hdfs://elsewhere:8020/, expected: .*" <<<"$out" || fail "fsck of another file system: $out"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
