#!/usr/bin/env bash
# Safe mode's threshold and extension (dfs.namenode.safemode.threshold-pct,
# dfs.namenode.safemode.extension).  A file of 12 blocks and one of 1 at
# replication 1 on 3 core nodes; three replicas' files are moved away
# while the cluster is down, so those blocks are never reported:
#   - at the default threshold (0.999) the namenode stays in safe mode and
#     a change is refused with HDFS's tip (how many more blocks it needs);
#   - at a threshold the reported blocks reach, it leaves after the
#     extension (not before), with the unreported blocks missing;
#   - with the files back, it leaves and everything reads back;
#   - a threshold over 1 never ends by itself; -safemode leave ends it.
. "$(dirname "$0")/lib.sh"

start() {
    cluster_start 4 --core-nodes 3 -D dfs.blocksize=1m -D dfs.replication=1 "$@"
}
stop() {
    ember cluster stop >/dev/null
    cluster_wait_exit 30
}
safe_mode_off() { [ "$(ember dfsadmin -safemode get)" = "Safe mode is OFF" ]; }
# blocks_on N: finalized replicas in node-N's data directory.
blocks_on() {
    find "$RUN_DIR/data/node-$1/current/finalized" -name 'blk_*' ! -name '*.meta' 2>/dev/null | wc -l
}

head -c 12582912 /dev/urandom >"$TEST_TMP/f.bin" # 12 blocks
start
dfs -put "$TEST_TMP/f.bin" /f.bin || fail "put"
echo hello | dfs -put - /g.txt || fail "put g"
stop

total=13
expect_eq "$(($(blocks_on 1) + $(blocks_on 2) + $(blocks_on 3)))" $total "replicas on disk"
# Hide three replicas (data and meta files), wherever they are.
most=3
hidden=$(find "$RUN_DIR"/data/node-*/current/finalized -name 'blk_*' ! -name '*.meta' | sort | head -n $most)
for f in $hidden; do
    mkdir -p "$TEST_TMP/away$(dirname "$f")"
    mv "$f" "${f}"_*.meta "$TEST_TMP/away$(dirname "$f")/"
done
log "hidden: $(echo $hidden | sed "s|$RUN_DIR/||g")"

# 1. The default threshold cannot be reached: safe mode stays, with the tip.
start
sleep 2 # several redundancy ticks after every node reported
expect_eq "$(ember dfsadmin -safemode get)" "Safe mode is ON" "safe mode below the threshold"
if dfs -mkdir /x 2>"$TEST_TMP/err"; then fail "a change was accepted in safe mode"; fi
expect_eq "$(wc -l <"$TEST_TMP/err")" 1 "lines of the safe mode error"
grep -q "the reported blocks $((total - most)) need additional $most blocks to reach the threshold 0.9990 of total blocks $total" \
    "$TEST_TMP/err" || fail "safe mode tip: $(cat "$TEST_TMP/err")"
stop

# 2. A threshold the reported blocks reach: safe mode ends after the
#    extension, the hidden blocks missing.
start -D dfs.namenode.safemode.threshold-pct=0.05 -D dfs.namenode.safemode.extension=3s
t0=$SECONDS
expect_eq "$(ember dfsadmin -safemode get)" "Safe mode is ON" "safe mode during the extension"
wait_until 20 safe_mode_off || fail "safe mode never ended at threshold 0.05"
waited=$((SECONDS - t0))
[ "$waited" -ge 2 ] || fail "safe mode ended after ${waited}s, before its 3 s extension"
grep -q "threshold reached; leaving in 3000 ms" "$RUN_DIR/logs/rank-0.log" || fail "no extension logged"
grep -q "leaving safe mode with $most of $total block(s) missing" "$RUN_DIR/logs/rank-0.log" ||
    fail "missing blocks not logged: $(grep -i 'safe mode' "$RUN_DIR/logs/rank-0.log")"
out=$(ember fsck / 2>&1)
grep -qE "Missing blocks:\s+$most\$" <<<"$out" || fail "fsck's missing blocks: $out"
grep -q "is CORRUPT" <<<"$out" || fail "fsck not CORRUPT with missing blocks: $out"
dfs -mkdir /x || fail "no change accepted out of safe mode"
stop

# 3. The data back: every block reported, safe mode ends, nothing lost.
for d in $(for f in $hidden; do dirname "$f"; done | sort -u); do
    mv "$TEST_TMP/away$d"/* "$d/" || fail "cannot put the hidden files back"
done
start
ember dfsadmin -safemode wait >/dev/null || fail "safe mode never ended with every block back"
dfs -cat /f.bin | cmp - "$TEST_TMP/f.bin" || fail "f.bin reads back different"
expect_eq "$(dfs -cat /g.txt)" hello "g.txt"
dfs_healthy || fail "fsck: $(ember fsck / 2>&1 | tail -12)"
stop

# 4. A threshold over 1: safe mode never ends by itself.
start -D dfs.namenode.safemode.threshold-pct=1.5
sleep 1.5
expect_eq "$(ember dfsadmin -safemode get)" "Safe mode is ON" "safe mode at threshold 1.5"
if dfs -mkdir /y 2>"$TEST_TMP/err"; then fail "a change was accepted in safe mode"; fi
grep -q "can never be reached" "$TEST_TMP/err" || fail "tip at threshold 1.5: $(cat "$TEST_TMP/err")"
expect_eq "$(ember dfsadmin -safemode leave)" "Safe mode is OFF" "safemode leave"
dfs -mkdir /y || fail "no change accepted after leaving safe mode"
stop

# A bad threshold is refused at start with a clear message.
if "$EMBER" cluster --run-dir "$TEST_TMP/bad" -D dfs.namenode.safemode.threshold-pct=high \
    >"$TEST_TMP/bad.out" 2>&1; then
    fail "a bad threshold was accepted"
fi
grep -q "bad value 'high' for dfs.namenode.safemode.threshold-pct" "$TEST_TMP/bad.out" ||
    fail "bad threshold message: $(cat "$TEST_TMP/bad.out")"
log PASS
