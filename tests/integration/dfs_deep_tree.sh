#!/usr/bin/env bash
# A tree 1,000 directories deep (HDFS's limit; ember allows ~4,000) through
# every verb that walks a tree: -ls -R, fsck (of / and of the tree), -find,
# -cp, -get, -put, -chmod -R, -chown -R, -setrep -R, -du, -count and
# -rm -r.  Each must exit 0 with the right output: the client walks trees
# with an explicit stack, so the depth costs it no C stack (it used to
# recurse ~8 KiB per level and die of SIGSEGV here).
. "$(dirname "$0")/lib.sh"

cluster_start 3 --core-nodes 2 -D dfs.replication=1 -D dfs.blocksize=1m

DEPTH=1000
deep=/deep
for _ in $(seq 2 "$DEPTH"); do deep="$deep/d"; done # 1,000 components
leaf=$deep/leaf.txt
printf 'bottom\n' >"$TEST_TMP/leaf.txt"
dfs -mkdir -p "$deep" || fail "mkdir -p of a $DEPTH-deep path"
dfs -put "$TEST_TMP/leaf.txt" "$leaf" || fail "put at the bottom"
dfs -mkdir -p /other && dfs -put "$TEST_TMP/leaf.txt" /other/f || fail "a second tree"

# run WHAT CMD...: CMD must exit 0 (a crash is a signal's status).
run() {
    local what=$1; shift
    "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
    local rc=$?
    [ "$rc" = 0 ] || fail "$what exited $rc: $(tail -c 300 "$TEST_TMP/err")"
}

# -ls -R: every directory below /deep and the file, in pre-order, the
# file last.
run "ls -R" dfs -ls -R /deep
expect_eq "$(wc -l <"$TEST_TMP/out")" "$DEPTH" "ls -R lines"
expect_eq "$(tail -n1 "$TEST_TMP/out" | awk '{print $NF}')" "$leaf" "ls -R's last entry"
expect_eq "$(head -n1 "$TEST_TMP/out" | awk '{print $1, $NF}')" "drwxr-xr-x /deep/d" "ls -R's first entry"

# fsck of / (the deep tree is one of two) and of the tree itself.
run "fsck /" ember fsck / -files
grep -q "is HEALTHY" "$TEST_TMP/out" || fail "fsck / is not HEALTHY: $(tail -n 5 "$TEST_TMP/out")"
grep -q "^$leaf 7 bytes" "$TEST_TMP/out" || fail "fsck / -files lacks the deepest file"
expect_eq "$(sed -n 's/^ Total dirs:\s*//p' "$TEST_TMP/out")" "$((DEPTH + 2))" "fsck / dirs"
expect_eq "$(sed -n 's/^ Total files:\s*//p' "$TEST_TMP/out")" 2 "fsck / files"

# -find: the file by name.
run "find -name" dfs -find /deep -name leaf.txt
expect_eq "$(cat "$TEST_TMP/out")" "$leaf" "find -name leaf.txt"

# -cp of the tree: the copy's deepest file reads back.
run "cp" dfs -cp /deep /copy
expect_eq "$(dfs -cat "/copy${leaf#/deep}")" bottom "the copy's deepest file"
expect_eq "$(dfs -count /copy | awk '{print $1, $2}')" "$DEPTH 1" "the copy's dirs and files"

# -get to the local disk, and -put of that back.
run "get" dfs -get /deep "$TEST_TMP/local"
cmp "$TEST_TMP/local${leaf#/deep}" "$TEST_TMP/leaf.txt" || fail "-get's deepest file differs"
expect_eq "$(find "$TEST_TMP/local" -type d | wc -l)" "$DEPTH" "directories -get made"
run "put" dfs -put "$TEST_TMP/local" /put
expect_eq "$(dfs -cat "/put${leaf#/deep}")" bottom "-put's deepest file"

# -chmod -R, -chown -R, -setrep -R: down to the deepest file.
run "chmod -R" dfs -chmod -R 700 /deep
expect_eq "$(dfs -stat %a "$leaf" "$deep")" "$(printf '700\n700')" "modes after chmod -R"
run "chown -R" dfs -chown -R alice:staff /deep
expect_eq "$(dfs -stat '%u:%g' "$leaf" "$deep")" "$(printf 'alice:staff\nalice:staff')" \
    "owners after chown -R"
run "setrep -R" dfs -setrep -R 2 /deep
expect_eq "$(dfs -stat %r "$leaf")" 2 "replication after setrep -R"
expect_eq "$(grep -c '^Replication 2 set: ' "$TEST_TMP/out")" 1 "setrep's lines (one file)"

# -du and -count, computed by the namenode.
run "du -s" dfs -du -s /deep
expect_eq "$(awk '{print $1}' "$TEST_TMP/out")" 7 "du -s bytes"
run "du" dfs -du /deep
expect_eq "$(awk '{print $1, $NF}' "$TEST_TMP/out")" "7 /deep/d" "du of /deep's entry"
run "count" dfs -count /deep
expect_eq "$(awk '{print $1, $2, $3}' "$TEST_TMP/out")" "$DEPTH 1 7" "count"

# -rm -r of each tree.
for t in /deep /copy /put; do
    run "rm -r $t" dfs -rm -r "$t"
    ! dfs -test -e "$t" || fail "$t is still there after -rm -r"
done
expect_eq "$(dfs -ls / | awk '{print $NF}' | tail -n +2)" /other "what is left at /"

ember cluster stop >/dev/null
cluster_wait_exit 60 # a loaded machine: the ranks exit slowly under ASan
log PASS
