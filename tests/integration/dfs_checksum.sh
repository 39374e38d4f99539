#!/usr/bin/env bash
# `ember dfs -checksum` and `ember dfs -setrep -w`, on a primary + 4 core
# nodes with 1 MiB blocks (the block scanner off, so that only -checksum
# can find the corruption planted below).
#
# -checksum: files of 0 bytes, 1000 bytes and 2.5 MiB (3 blocks) give
# Hadoop's MD5MD5CRC32FileChecksum, as computed here independently by a
# small python script (its own CRC32C table, hashlib's MD5) from the local
# file; the same content in 512 KiB blocks gives another checksum, in
# 1 MiB blocks the same one; a missing path and a directory fail with one
# line and exit 1; with replication 2, a replica whose data or whose
# stored CRCs were damaged on disk is refused by its datanode (and
# reported to the namenode), and the checksum comes from the other
# replica, unchanged.
#
# -setrep -w: a 2-block file at replication 1 set to 3 returns with every
# block at 3 live replicas; set back to 1, it returns once the surplus
# replicas are gone; a directory waits for each of its files; a
# replication capped to the 4 core nodes waits for 4.
. "$(dirname "$0")/lib.sh"


# hadoop_checksum FILE BLOCKSIZE DISPLAY: the line `hadoop fs -checksum'
# prints for FILE's content stored in BLOCKSIZE blocks.
hadoop_checksum() {
    python3 - "$@" <<'EOF'
import hashlib, struct, sys

TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)

def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value

path, block_size, display = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
blocks = [data[i:i + block_size] for i in range(0, len(data), block_size)]
if not blocks:  # HDFS-4090's value for a file without blocks
    bpc, cpb, md5, crc_type = 0, 0, hashlib.md5(bytes(32)).digest(), "CRC32"
else:
    block_md5s = b""
    for blk in blocks:
        crcs = b"".join(struct.pack(">I", crc32c(blk[i:i + 512])) for i in range(0, len(blk), 512))
        block_md5s += hashlib.md5(crcs).digest()
    bpc, crc_type = 512, "CRC32C"
    cpb = (len(blocks[0]) + 511) // 512 if len(blocks) > 1 else 0
    md5 = hashlib.md5(block_md5s).digest()
print("%s\tMD5-of-%dMD5-of-%d%s\t%s" % (display, cpb, bpc, crc_type,
                                       (struct.pack(">iq", bpc, cpb) + md5).hex()))
EOF
}

# one_line_error OUTPUT: exactly one line on stderr, nothing on stdout.
one_line_error() { [ "$(wc -l <"$TEST_TMP/err")" = 1 ] && [ ! -s "$TEST_TMP/out" ]; }

cluster_start 5 --core-nodes 4 -D dfs.blocksize=1m -D dfs.namenode.redundancy.interval=200ms \
    -D dfs.block.scanner.volume.bytes.per.second=0

# ---- -checksum -------------------------------------------------------------------

: >"$TEST_TMP/empty"
head -c 1000 /dev/urandom >"$TEST_TMP/small"
head -c 2621440 /dev/urandom >"$TEST_TMP/big" # 2.5 MiB: 3 blocks of 1 MiB
dfs -mkdir -p /c || fail "mkdir /c"
for f in empty small big; do
    dfs -D dfs.blocksize=1m -put "$TEST_TMP/$f" "/c/$f" 2>/dev/null || fail "put $f"
done
expect_eq "$(dfs -stat %r /c/big)" 3 "replication of /c/big"

want=$(for f in empty small big; do hadoop_checksum "$TEST_TMP/$f" 1048576 "/c/$f"; done)
got=$(dfs -checksum /c/empty /c/small /c/big) || fail "checksum of three files: $got"
expect_eq "$got" "$want" "checksums of /c/empty, /c/small, /c/big"
# Hadoop's value for an empty file, and the 3-block file's algorithm name.
grep -qP '^/c/empty\tMD5-of-0MD5-of-0CRC32\t00000000000000000000000070bc8f4b72a86921468bf8e8441dce51$' \
    <<<"$got" || fail "empty file: not Hadoop's value: $got"
grep -qP '^/c/small\tMD5-of-0MD5-of-512CRC32C\t' <<<"$got" || fail "one block: $got"
grep -qP '^/c/big\tMD5-of-2048MD5-of-512CRC32C\t[0-9a-f]{56}$' <<<"$got" || fail "3 blocks: $got"
log "checksums match the independent computation"

# Same content: another block size changes the checksum, the same one does not.
dfs -D dfs.blocksize=512k -put "$TEST_TMP/big" /c/big512k 2>/dev/null || fail "put in 512k blocks"
dfs -D dfs.blocksize=1m -cp /c/big /c/bigcopy 2>/dev/null || fail "cp in 1m blocks"
got=$(dfs -checksum /c/big512k) || fail "checksum of /c/big512k"
expect_eq "$got" "$(hadoop_checksum "$TEST_TMP/big" 524288 /c/big512k)" "checksum in 512k blocks"
[ "$(cut -f3 <<<"$got")" != "$(dfs -checksum /c/big | cut -f3)" ] ||
    fail "another block size gave the same checksum"
expect_eq "$(dfs -checksum /c/bigcopy | cut -f2,3)" "$(dfs -checksum /c/big | cut -f2,3)" \
    "a copy in the same block size"

# A missing path and a directory: one line each, exit 1; other paths go on.
dfs -checksum /c/nope >"$TEST_TMP/out" 2>"$TEST_TMP/err"
expect_eq "$?" 1 "exit status for a missing path"
one_line_error || fail "missing path: $(cat "$TEST_TMP/out" "$TEST_TMP/err")"
expect_eq "$(cat "$TEST_TMP/err")" "ember: checksum: \`/c/nope': No such file or directory" \
    "error for a missing path"
dfs -checksum /c >"$TEST_TMP/out" 2>"$TEST_TMP/err"
expect_eq "$?" 1 "exit status for a directory"
one_line_error || fail "directory: $(cat "$TEST_TMP/out" "$TEST_TMP/err")"
expect_eq "$(cat "$TEST_TMP/err")" "ember: checksum: \`/c': Is a directory" "error for a directory"
out=$(dfs -checksum /c/nope /c/small 2>/dev/null)
expect_eq "$?" 1 "exit status with one missing path of two"
expect_eq "$out" "$(hadoop_checksum "$TEST_TMP/small" 1048576 /c/small)" "the path after a missing one"

# Replication 2, and the first replica of each block damaged on disk:
# block 0 in its data, block 1 in its stored CRCs (which Hadoop, digesting
# the meta file alone, would not notice).  The datanodes refuse them and
# report them; the checksum comes from the other replicas.
head -c 1572864 /dev/urandom >"$TEST_TMP/two" # 1.5 MiB: 2 blocks
dfs -D dfs.replication=2 -put "$TEST_TMP/two" /c/two 2>/dev/null || fail "put /c/two"
want=$(hadoop_checksum "$TEST_TMP/two" 1048576 /c/two)
expect_eq "$(dfs -checksum /c/two)" "$want" "checksum of /c/two before the damage"
out=$(ember fsck /c/two -files -blocks -locations) || fail "fsck /c/two: $out"
expect_eq "$(grep -c 'Live_repl=2' <<<"$out")" 2 "blocks of /c/two with 2 replicas"
declare -A damaged
for i in 0 1; do
    line=$(grep "^$i\. blk_" <<<"$out")
    block=$(sed -n 's/^[0-9]*\. blk_\([0-9]*\)_.*/\1/p' <<<"$line")
    gs=$(sed -n 's/^[0-9]*\. blk_[0-9]*_\([0-9]*\) .*/\1/p' <<<"$line")
    node=$(grep -o 'rank [0-9]*' <<<"$line" | head -n1 | cut -d' ' -f2)
    dir=$RUN_DIR/data/node-$node/current/finalized
    [ -f "$dir/blk_$block" ] && [ -f "$dir/blk_${block}_$gs.meta" ] ||
        fail "no replica of blk_$block on node $node"
    if [ "$i" = 0 ]; then
        printf '\x5a\xa5' | dd of="$dir/blk_$block" bs=1 seek=300000 conv=notrunc 2>/dev/null
    else
        printf '\x5a\xa5' | dd of="$dir/blk_${block}_$gs.meta" bs=1 seek=100 conv=notrunc 2>/dev/null
    fi
    damaged[$block]=$node
done
expect_eq "$(dfs -checksum /c/two)" "$want" "checksum of /c/two with a damaged replica per block"
for block in "${!damaged[@]}"; do
    node=${damaged[$block]}
    grep -q "replica of blk_$block gs [0-9]* is corrupt (found computing its checksum" \
        "$RUN_DIR/logs/rank-$node.log" || fail "node $node did not find blk_$block corrupt"
    reported() { grep -q "blk_$block on node $node reported corrupt by" "$RUN_DIR/logs/rank-0.log"; }
    wait_until 10 reported || fail "corrupt blk_$block on node $node not reported"
done
healthy() { ember fsck /c/two | grep -q "is HEALTHY" && [ "$(ember fsck /c/two -files -blocks |
    grep -c 'Live_repl=2')" = 2 ]; }
wait_until 30 healthy || fail "damaged replicas not replaced: $(ember fsck /c/two -files -blocks 2>&1)"
expect_eq "$(dfs -checksum /c/two)" "$want" "checksum of /c/two after the repair"
log "corrupt replicas read around, reported and replaced"

# The only replica damaged: no checksum, one line naming the block, exit 1.
dfs -D dfs.replication=1 -put "$TEST_TMP/small" /c/lone 2>/dev/null || fail "put /c/lone"
line=$(ember fsck /c/lone -files -blocks -locations | grep '^0\. blk_')
block=$(sed -n 's/^0\. blk_\([0-9]*\)_.*/\1/p' <<<"$line")
node=$(grep -o 'rank [0-9]*' <<<"$line" | head -n1 | cut -d' ' -f2)
printf '\x5a\xa5' | dd of="$RUN_DIR/data/node-$node/current/finalized/blk_$block" bs=1 seek=10 \
    conv=notrunc 2>/dev/null
dfs -checksum /c/lone >"$TEST_TMP/out" 2>"$TEST_TMP/err"
expect_eq "$?" 1 "exit status when every replica is corrupt"
one_line_error || fail "every replica corrupt: $(cat "$TEST_TMP/out" "$TEST_TMP/err")"
grep -q "^ember: checksum: \`/c/lone': could not get the checksum of blk_$block from any datanode (last, rank $node: checksum error: replica of blk_$block on rank $node is corrupt)$" \
    "$TEST_TMP/err" || fail "error when every replica is corrupt: $(cat "$TEST_TMP/err")"
dfs -rm /c/lone >/dev/null || fail "rm /c/lone"

# ---- -setrep -w ------------------------------------------------------------------

# live_repl PATH: each block's Live_repl, space-separated, from fsck.
live_repl() {
    ember fsck "$1" -files -blocks -locations | sed -n 's/.* Live_repl=\([0-9]*\).*/\1/p' | xargs
}
# setrep_w ARGS...: -setrep -w, which has no time limit of its own.
setrep_w() {
    timeout 60 "$EMBER" --run-dir "$RUN_DIR" dfs -setrep "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
    local rc=$?
    [ $rc = 124 ] && fail "-setrep $* did not return within 60 s: $(cat "$TEST_TMP/out")"
    [ $rc = 0 ] || fail "-setrep $* failed ($rc): $(cat "$TEST_TMP/out" "$TEST_TMP/err")"
}
# replicas_on_disk BLOCK: data files of BLOCK across the core nodes.
replicas_on_disk() { find "$RUN_DIR/data" -name "blk_$1" | wc -l; }

dfs -mkdir -p /s || fail "mkdir /s"
head -c 1572864 /dev/urandom >"$TEST_TMP/s" # 2 blocks
dfs -D dfs.replication=1 -put "$TEST_TMP/s" /s/f 2>/dev/null || fail "put /s/f"
expect_eq "$(live_repl /s/f)" "1 1" "replicas of /s/f at replication 1"

setrep_w -w 3 /s/f
grep -qx "Replication 3 set: /s/f" "$TEST_TMP/out" || fail "setrep 3 output: $(cat "$TEST_TMP/out")"
tail -n1 "$TEST_TMP/out" | grep -qE '^Waiting for /s/f \.\.\.\.* done$' ||
    fail "setrep -w 3 waiting output: $(cat "$TEST_TMP/out")"
expect_eq "$(live_repl /s/f)" "3 3" "replicas of /s/f when -setrep -w 3 returned"
expect_eq "$(dfs -stat %r /s/f)" 3 "replication of /s/f"
dfs -cat /s/f | cmp - "$TEST_TMP/s" || fail "/s/f differs after re-replication"

setrep_w -w 1 /s/f
grep -qx "Replication 1 set: /s/f" "$TEST_TMP/out" || fail "setrep 1 output: $(cat "$TEST_TMP/out")"
grep -qE '^Waiting for /s/f \.\.\.' "$TEST_TMP/out" && tail -n1 "$TEST_TMP/out" | grep -qE 'done$' ||
    fail "setrep -w 1 waiting output: $(cat "$TEST_TMP/out")"
expect_eq "$(live_repl /s/f)" "1 1" "replicas of /s/f when -setrep -w 1 returned"
for block in $(ember fsck /s/f -files -blocks | sed -n 's/^[0-9]*\. blk_\([0-9]*\)_.*/\1/p'); do
    one_on_disk() { [ "$(replicas_on_disk "$block")" = 1 ]; }
    wait_until 10 one_on_disk || fail "blk_$block: $(replicas_on_disk "$block") replicas on disk"
done

# A directory: every file in it is set, then waited for.
head -c 1000 /dev/urandom >"$TEST_TMP/g"
dfs -D dfs.replication=1 -put "$TEST_TMP/g" /s/g 2>/dev/null || fail "put /s/g"
setrep_w -R -w 2 /s
expect_eq "$(grep -c '^Replication 2 set: /s/[fg]$' "$TEST_TMP/out")" 2 "files set under /s"
expect_eq "$(grep -cE 'Waiting for /s/[fg] \.\.\.\.* done$' "$TEST_TMP/out")" 2 "files waited for"
expect_eq "$(live_repl /s/f) $(live_repl /s/g)" "2 2 2" "replicas under /s after -setrep -w 2"

# More than the core nodes: capped to 4 by the namenode, and 4 is awaited.
setrep_w -w 9 /s/g
grep -qx "Replication 4 set: /s/g" "$TEST_TMP/out" || fail "capped setrep: $(cat "$TEST_TMP/out")"
expect_eq "$(live_repl /s/g)" 4 "replicas of /s/g after a capped -setrep -w"
log "-setrep -w waits for the replicas"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
