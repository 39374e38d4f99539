#!/usr/bin/env bash
# Directories through -put, -get and -cp, copied recursively as Hadoop
# does: into DST/NAME when DST is a directory, else DST made as the copy;
# merged into an existing directory, files there kept unless -f; never
# into itself; an entry that is not a file or directory refused on its
# own while the rest is copied.
. "$(dirname "$0")/lib.sh"

cluster_start 3 --core-nodes 2 -D dfs.blocksize=1m -D dfs.replication=1

t=$TEST_TMP/t
mkdir -p "$t/sub/deep" "$t/empty"
echo alpha >"$t/a.txt"
head -c 1572864 /dev/urandom >"$t/sub/b.bin" # a block and a half
echo gamma >"$t/sub/deep/c.txt"
: >"$t/sub/zero"

# check_tree DFSDIR: DFSDIR holds exactly what $t holds.
check_tree() {
    local got want
    want=$(cd "$t" && find . -mindepth 1 | sort)
    got=$(dfs -ls -R "$1" | awk '{print $NF}' | sed "s|^$1|.|" | sort)
    expect_eq "$got" "$want" "entries of $1"
    for f in a.txt sub/b.bin sub/deep/c.txt sub/zero; do
        dfs -cat "$1/$f" | cmp - "$t/$f" || fail "$1/$f differs"
    done
    dfs -test -d "$1/empty" || fail "$1/empty is not a directory"
}

# -put into an existing directory: /t; to a new path: /dst is the copy.
dfs -put "$t" / || fail "put t /"
check_tree /t
dfs -put "$t" /dst || fail "put t /dst"
check_tree /dst
! dfs -test -e /dst/t || fail "put into a new path nested the directory"

# Again without -f: each file there is refused, the command fails.
if dfs -put "$t" / 2>"$TEST_TMP/err"; then fail "put over an existing tree succeeded"; fi
expect_eq "$(grep -c 'File exists' "$TEST_TMP/err")" 4 "files refused"
echo changed >"$TEST_TMP/a2" && cp "$TEST_TMP/a2" "$t/a.txt"
dfs -put -f "$t" / || fail "put -f over an existing tree"
expect_eq "$(dfs -cat /t/a.txt)" changed "overwritten with -f"

# -get: into an existing local directory, and to a new path.
mkdir "$TEST_TMP/out"
dfs -get /t "$TEST_TMP/out" || fail "get /t out"
diff -r "$t" "$TEST_TMP/out/t" || fail "get /t differs"
dfs -get /dst "$TEST_TMP/out2" || fail "get /dst out2"
cp "$TEST_TMP/a2" "$TEST_TMP/a3" # /dst/a.txt still has the old text
echo alpha >"$TEST_TMP/a3"
cmp "$TEST_TMP/out2/a.txt" "$TEST_TMP/a3" || fail "get /dst a.txt"
diff -r "$t/sub" "$TEST_TMP/out2/sub" || fail "get /dst differs"
if dfs -get /t "$TEST_TMP/out" 2>"$TEST_TMP/err"; then fail "get over an existing tree succeeded"; fi
grep -q "File exists" "$TEST_TMP/err" || fail "get without -f: $(cat "$TEST_TMP/err")"

# -cp: a copy of a tree; never into itself.
dfs -cp /t /t2 || fail "cp /t /t2"
check_tree /t2
if dfs -cp /t /t/sub 2>"$TEST_TMP/err"; then fail "a directory was copied into itself"; fi
grep -q "is a subdirectory of itself" "$TEST_TMP/err" || fail "cp into itself: $(cat "$TEST_TMP/err")"
expect_eq "$(wc -l <"$TEST_TMP/err")" 1 "lines of the error"
! dfs -test -e /t/sub/t || fail "cp into itself left /t/sub/t"

# A directory onto a file is refused; a fifo in a tree is refused alone.
if dfs -put "$t" /t/a.txt 2>"$TEST_TMP/err"; then fail "put of a directory onto a file succeeded"; fi
grep -q "\`/t/a.txt': File exists" "$TEST_TMP/err" || fail "dir onto file: $(cat "$TEST_TMP/err")"
mkfifo "$t/sub/pipe"
if dfs -put "$t" /withfifo 2>"$TEST_TMP/err"; then fail "a fifo was copied"; fi
grep -q "sub/pipe': not a regular file or directory" "$TEST_TMP/err" || fail "fifo: $(cat "$TEST_TMP/err")"
expect_eq "$(wc -l <"$TEST_TMP/err")" 1 "lines for the fifo"
dfs -cat /withfifo/sub/b.bin | cmp - "$t/sub/b.bin" || fail "the rest of the tree with a fifo"
ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
