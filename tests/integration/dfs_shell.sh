#!/usr/bin/env bash
# More of `ember dfs`'s Hadoop verbs.  Directories through -put, -get and
# -cp, copied recursively as Hadoop does: into DST/NAME when DST is a
# directory, else DST made as the copy; merged into an existing
# directory, files there kept unless -f; never into itself; an entry that
# is not a file or directory refused on its own while the rest is copied.
# Then -head, -getmerge [-nl] [-skip-empty-file], -find -name/-iname,
# -df [-h] and -moveFromLocal, with their bad input.
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
# -head: the first kilobyte.
dfs -head /t/sub/b.bin | cmp - <(head -c 1024 "$t/sub/b.bin") || fail "head differs"
expect_eq "$(dfs -head /t/sub/deep/c.txt)" gamma "head of a short file"
err=$(dfs -head /t 2>&1) && fail "head of a directory succeeded"
grep -q "Is a directory" <<<"$err" || fail "head of a directory: $err"

# -getmerge: a directory's files (not subdirectories) in name order.
dfs -mkdir /parts && for p in 00002 00000 00001; do echo "part $p" | dfs -put - /parts/part-$p; done
dfs -touchz /parts/part-00003 && dfs -mkdir /parts/_logs
dfs -getmerge /parts "$TEST_TMP/merged" || fail "getmerge"
expect_eq "$(cat "$TEST_TMP/merged")" "$(printf 'part 00000\npart 00001\npart 00002')" "getmerge"
printf 'no newline' | dfs -put - /parts/part-00004
dfs -getmerge -nl -skip-empty-file /parts "$TEST_TMP/merged" || fail "getmerge -nl"
expect_eq "$(wc -l <"$TEST_TMP/merged")" 7 "lines of getmerge -nl -skip-empty-file"
expect_eq "$(tail -n 1 "$TEST_TMP/merged")" "no newline" "the last file"
expect_eq "$(tail -c 1 "$TEST_TMP/merged" | wc -l)" 1 "the newline added after the last file"
dfs -getmerge -nl /parts "$TEST_TMP/merged" || fail "getmerge -nl"
expect_eq "$(wc -l <"$TEST_TMP/merged")" 8 "lines of getmerge -nl with an empty file"
err=$(dfs -getmerge -x /parts "$TEST_TMP/m" 2>&1); [ $? = 2 ] || fail "getmerge -x: $err"
err=$(dfs -getmerge /missing "$TEST_TMP/m" 2>&1) && fail "getmerge of a missing path succeeded"

# -find: pre-order, globs on the last component, AND-ed.
expect_eq "$(dfs -find /t -name '*.txt')" "$(printf '/t/a.txt\n/t/sub/deep/c.txt')" "find -name"
expect_eq "$(dfs -find /t /parts -iname 'PART-0000[12]')" "$(printf '/parts/part-00001\n/parts/part-00002')" "find -iname"
expect_eq "$(dfs -find /t -name 'sub' -print)" "/t/sub" "find a directory"
expect_eq "$(dfs -find /t/sub/deep | wc -l)" 2 "find with no expression"
expect_eq "$(dfs -find /t -name '*.txt' -print0 | tr '\0' '|')" "/t/a.txt|/t/sub/deep/c.txt|" "find -print0"
err=$(dfs -find /t -size 1 2>&1); [ $? = 2 ] || fail "find -size: $err"
err=$(dfs -find /nowhere -name x 2>&1) && fail "find of a missing path succeeded"
grep -q "No such file or directory" <<<"$err" || fail "find of a missing path: $err"

# -df: one row for the file system, sizes from the datanodes.
out=$(dfs -df /)
expect_eq "$(sed -n 1p <<<"$out" | tr -s ' ')" "Filesystem Size Used Available Use%" "df header"
read -r fsname size used avail pct <<<"$(sed -n 2p <<<"$out")"
[[ "$fsname" == hdfs://* ]] || fail "df filesystem: $fsname"
[ "$size" -gt 0 ] && [ "$used" -gt 0 ] && [ "$avail" -gt 0 ] && [ "$used" -lt "$size" ] || fail "df sizes: $out"
[[ "$pct" =~ ^[0-9]+%$ ]] || fail "df use%: $pct"
dfs -df -h | sed -n 2p | grep -qE ' [0-9.]+ [KMGTPE] ' || fail "df -h: $(dfs -df -h)"
err=$(dfs -df /nowhere 2>&1) && fail "df of a missing path succeeded"

# -moveFromLocal: copied, then the local source is gone; not on failure.
mkdir -p "$TEST_TMP/mv/d" && echo one >"$TEST_TMP/mv/f1" && echo two >"$TEST_TMP/mv/d/f2"
dfs -moveFromLocal "$TEST_TMP/mv/f1" "$TEST_TMP/mv/d" /t2 || fail "moveFromLocal"
expect_eq "$(dfs -cat /t2/f1 /t2/d/f2)" "$(printf 'one\ntwo')" "moved files"
[ ! -e "$TEST_TMP/mv/f1" ] && [ ! -e "$TEST_TMP/mv/d" ] || fail "moveFromLocal left its sources"
echo three >"$TEST_TMP/mv/f3"
dfs -put "$TEST_TMP/mv/f3" /t2/f3
if dfs -moveFromLocal "$TEST_TMP/mv/f3" /t2 2>/dev/null; then fail "moveFromLocal over a file succeeded"; fi
[ -e "$TEST_TMP/mv/f3" ] || fail "a failed moveFromLocal removed its source"

# -du of a directory: the second column is the space of every replica of
# everything under it (Hadoop's space consumed), the sum of its files'.
dfs -mkdir /du && head -c 1000 /dev/zero | dfs -D dfs.replication=2 -put - /du/r2 &&
    head -c 300 /dev/zero | dfs -put - /du/r1 || fail "du files"
expect_eq "$(dfs -du -s /du | awk '{print $1, $2}')" "1300 2300" "-du -s of a directory"
expect_eq "$(dfs -du /du | awk '{print $1, $2, $3}' | tr '\n' ';')" "300 300 /du/r1;1000 2000 /du/r2;" "-du of a directory's files"
expect_eq "$(dfs -du / | awk '$3 == "/du" {print $1, $2}')" "1300 2300" "-du of a subdirectory"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
