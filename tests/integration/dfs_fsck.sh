#!/usr/bin/env bash
# fsck's options beyond the report.  Bad combinations are usage errors
# (exit 2).  An open file (tests/tools/dfs_idle_writer, idle halfway
# through its second block) is counted apart by default ("Files currently
# being written: 1", no line with -files) and checked, its line marked
# "OPENFORWRITE:", with -openforwrite.  Two files of replication 1 get a
# flipped byte in a replica (the single block of /bad/x.bin, the middle
# one of the three of /bad/m.bin) that a read reports: then
# -list-corruptfileblocks prints Hadoop's list (exit 1; "has no CORRUPT
# files" and exit 0 under a healthy path); -move copies /bad/m.bin's good
# blocks into /lost+found/bad/m.bin/0 and /1 (Hadoop's chains), which read
# back as those blocks' bytes, and deletes it, while /bad/x.bin, whose
# target exists already, stays; -delete deletes /bad/x.bin.  A healthy
# file is untouched throughout and fsck is HEALTHY at the end.
. "$(dirname "$0")/lib.sh"

: "${IDLE_WRITER:?IDLE_WRITER must point at the dfs_idle_writer test tool}"

# The block scanner is off: the readers find the corruptions.
cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.replication=3 \
    -D dfs.block.scanner.volume.bytes.per.second=0
ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended"

# Bad usage: exit 2 with one line, nothing done.
for args in "/ -move -delete" "/ -list-corruptfileblocks -delete" "/ -list-corruptfileblocks -files" \
    "/ -openforwrit" "-files"; do
    # shellcheck disable=SC2086
    err=$(ember fsck $args 2>&1 >/dev/null)
    expect_eq "$?" 2 "exit status of fsck $args"
    expect_eq "$(wc -l <<<"$err")" 1 "lines of the error of fsck $args"
done

head -c 1200000 /dev/urandom >"$TEST_TMP/a.bin"
head -c 100000 /dev/urandom >"$TEST_TMP/x.bin"
head -c 2621440 /dev/urandom >"$TEST_TMP/m.bin" # 2.5 blocks
head -c 1572864 /dev/urandom >"$TEST_TMP/open.bin"
dfs -mkdir /keep /bad || fail "mkdir"
dfs -put "$TEST_TMP/a.bin" /keep/a.bin || fail "put /keep/a.bin"
dfs -D dfs.replication=1 -put "$TEST_TMP/x.bin" /bad/x.bin || fail "put /bad/x.bin"
dfs -D dfs.replication=1 -put "$TEST_TMP/m.bin" /bad/m.bin || fail "put /bad/m.bin"

out=$(ember fsck / -list-corruptfileblocks)
expect_eq "$?" 0 "exit status of -list-corruptfileblocks on a healthy file system"
expect_eq "$out" "$(printf "\nThe filesystem under path '/' has no CORRUPT files")" \
    "-list-corruptfileblocks on a healthy file system"

# An open file: 1 MiB block finished, the second being written.
"$IDLE_WRITER" write "$RUN_DIR" "$TEST_TMP/open.bin" /open.bin 1300000 8000 >"$TEST_TMP/writer.out" 2>&1 &
WRITER=$!
wait_until 30 grep -q '^idle$' "$TEST_TMP/writer.out" || fail "the writer never got idle: $(cat "$TEST_TMP/writer.out")"
first_done() { [ "$(dfs -stat %b /open.bin)" = 1048576 ]; }
wait_until 5 first_done || fail "/open.bin's first block never finished: $(dfs -stat %b /open.bin 2>&1)"
out=$(ember fsck / -files -blocks)
expect_eq "$?" 0 "fsck's exit status with an open file"
grep -qP '^ Total files:\t3 \(Files currently being written: 1\)$' <<<"$out" || fail "open file not counted apart: $out"
grep -qP '^ Total size:\t3921440 B \(Total open files size: 1048576 B\)$' <<<"$out" || fail "open file's size: $out"
grep -qP '^ Total blocks \(validated\):\t6 \(avg\. block size [0-9]+ B\) \(Total open file blocks \(not validated\): 2\)$' \
    <<<"$out" || fail "open file's blocks: $out"
! grep -q '^/open.bin' <<<"$out" || fail "an open file listed without -openforwrite: $out"
out=$(ember fsck / -openforwrite)
expect_eq "$?" 0 "fsck -openforwrite's exit status"
grep -q '^/open.bin 1048576 bytes, replicated: replication=3, 2 block(s), OPENFORWRITE:  OK$' <<<"$out" ||
    fail "fsck -openforwrite's line for /open.bin: $out"
grep -qP '^ Total files:\t4$' <<<"$out" || fail "fsck -openforwrite's total files: $out"
! grep -q '^/keep' <<<"$out" || fail "fsck -openforwrite without -files listed a closed file: $out"
out=$(ember fsck /open.bin -openforwrite -files -blocks)
grep -q '^0\. blk_[0-9]*_[0-9]* len=1048576 Live_repl=3$' <<<"$out" || fail "open file's block: $out"
wait "$WRITER" || fail "the writer failed: $(cat "$TEST_TMP/writer.out")"
dfs -cat /open.bin | cmp - "$TEST_TMP/open.bin" || fail "/open.bin differs"

# block_at FILE N: "BLOCK NODE" of FILE's block N (its only replica).
block_at() {
    local line
    line=$(grep "^$2\. blk_" <<<"$(ember fsck "$1" -files -blocks -locations)")
    echo "$(sed -n "s/^$2\. blk_\([0-9]*\)_.*/\1/p" <<<"$line") $(grep -o 'rank [0-9]*' <<<"$line" | cut -d' ' -f2)"
}
reported() { grep -q "blk_$1 on node $2 reported corrupt by" "$RUN_DIR/logs/rank-0.log"; }
# corrupt FILE N: flips a byte of FILE's block N and has a read report it.
corrupt() {
    local block node replica
    read -r block node <<<"$(block_at "$1" "$2")"
    replica=$RUN_DIR/data/node-$node/current/finalized/blk_$block
    [ -f "$replica" ] || fail "no replica of $1's blk_$block on node $node"
    printf '\x5a\xa5' | dd of="$replica" bs=1 seek=10 conv=notrunc 2>/dev/null
    dfs -cat "$1" >/dev/null 2>&1 && fail "a read of $1 succeeded with a corrupt block"
    wait_until 10 reported "$block" "$node" || fail "$1's corrupt replica was not reported"
    echo "$block"
}
# (a failure inside corrupt() prints into the substitution: shown here.)
xblock=$(corrupt /bad/x.bin 0) || fail "corrupting /bad/x.bin: $xblock"
mblock=$(corrupt /bad/m.bin 1) || fail "corrupting /bad/m.bin: $mblock"

out=$(ember fsck / -list-corruptfileblocks)
expect_eq "$?" 1 "exit status of -list-corruptfileblocks with corrupt files"
expect_eq "$out" "$(printf "The list of corrupt files under path '/' are:\nblk_%s\t/bad/m.bin\nblk_%s\t/bad/x.bin\n\nThe filesystem under path '/' has 2 CORRUPT files" "$mblock" "$xblock")" \
    "-list-corruptfileblocks"
out=$(ember fsck /keep -list-corruptfileblocks)
expect_eq "$?" 0 "exit status of -list-corruptfileblocks under a healthy path"
grep -qx "The filesystem under path '/keep' has no CORRUPT files" <<<"$out" || fail "healthy /keep: $out"

# -move: /bad/m.bin's chains go to /lost+found; /bad/x.bin's target is taken.
dfs -mkdir -p /lost+found/bad/x.bin || fail "mkdir /lost+found/bad/x.bin"
out=$(ember fsck /bad -move 2>"$TEST_TMP/move.err")
expect_eq "$?" 1 "fsck -move's exit status"
grep -q "is CORRUPT$" <<<"$out" || fail "fsck -move's report: $out"
grep -qx "Fsck: copied the remains of the corrupted file /bad/m.bin to /lost+found" <<<"$out" &&
    grep -qx "Fsck: deleted corrupt file /bad/m.bin" <<<"$out" || fail "fsck -move's actions: $out"
grep -q "/lost+found/bad/x.bin already exists" "$TEST_TMP/move.err" || fail "fsck -move's error: $(cat "$TEST_TMP/move.err")"
dfs -test -e /bad/m.bin && fail "/bad/m.bin still there after -move"
dfs -test -e /bad/x.bin || fail "/bad/x.bin moved though its target existed"
expect_eq "$(dfs -ls /lost+found/bad/m.bin | grep -c '^-')" 2 "chains of /bad/m.bin"
dfs -cat /lost+found/bad/m.bin/0 | cmp - <(head -c 1048576 "$TEST_TMP/m.bin") || fail "chain 0 differs"
dfs -cat /lost+found/bad/m.bin/1 | cmp - <(tail -c +2097153 "$TEST_TMP/m.bin") || fail "chain 1 differs"

# -delete: /bad/x.bin goes.
out=$(ember fsck / -delete)
expect_eq "$?" 1 "fsck -delete's exit status (the report saw the corrupt file)"
grep -qx "Fsck: deleted corrupt file /bad/x.bin" <<<"$out" || fail "fsck -delete's actions: $out"
dfs -test -e /bad/x.bin && fail "/bad/x.bin still there after -delete"

out=$(ember fsck /)
expect_eq "$?" 0 "fsck's exit status at the end"
grep -q "The filesystem under path '/' is HEALTHY" <<<"$out" || fail "not HEALTHY at the end: $out"
grep -qP '^ Total files:\t4$' <<<"$out" || fail "files at the end: $out"
dfs -cat /keep/a.bin | cmp - "$TEST_TMP/a.bin" || fail "/keep/a.bin differs"

ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log PASS
