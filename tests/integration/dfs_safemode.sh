#!/usr/bin/env bash
# Safe mode's threshold and extension (dfs.namenode.safemode.threshold-pct,
# dfs.namenode.safemode.extension).  A file of 12 blocks and one of 1 at
# replication 1 on 3 core nodes; three replicas' files are moved away
# while the cluster is down, so those blocks are never reported:
#   - at the default threshold (0.999) the namenode stays in safe mode and
#     a change is refused with HDFS's tip (how many more blocks it needs);
#   - at a threshold the reported blocks reach, it leaves after the
#     extension (not before: the namenode's log times show it), with the
#     unreported blocks missing;
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
# reports: how many full block reports the namenode has logged from each
# core node, "N1 N2 N3".
reports() {
    local n
    for n in 1 2 3; do
        printf '%s ' "$(grep -c "INFO  block report from node $n:" "$RUN_DIR/logs/rank-0.log" 2>/dev/null)"
    done
}
# all_reported BEFORE: every core node has sent a block report since the
# log held the counts BEFORE (a start).
all_reported() {
    local b now n=0
    now=($(reports))
    for b in $1; do
        [ "${now[$n]}" -gt "$b" ] || return 1
        n=$((n + 1))
    done
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
before=$(reports)
start
# Every node has reported (the tip counts every block there is on disk):
# nothing more can come, and safe mode is still on.
wait_until 20 all_reported "$before" || fail "not every node sent its block report"
if dfs -mkdir /x 2>"$TEST_TMP/err"; then fail "a change was accepted in safe mode"; fi
expect_eq "$(wc -l <"$TEST_TMP/err")" 1 "lines of the safe mode error"
grep -q "the reported blocks $((total - most)) need additional $most blocks to reach the threshold 0.9990 of total blocks $total" \
    "$TEST_TMP/err" || fail "safe mode tip: $(cat "$TEST_TMP/err")"
expect_eq "$(ember dfsadmin -safemode get)" "Safe mode is ON" "safe mode below the threshold"
stop

# 2. A threshold the reported blocks reach: safe mode ends after the
#    extension, the hidden blocks missing.
start -D dfs.namenode.safemode.threshold-pct=0.05 -D dfs.namenode.safemode.extension=3s
wait_until 20 safe_mode_off || fail "safe mode never ended at threshold 0.05"
# The extension, from the namenode's own time stamps (not from when this
# script got to look): it left safe mode 3 s after the threshold was reached.
log_ms() { # the time of the last line of rank 0's log matching $1, in ms
    local line
    line=$(grep "$1" "$RUN_DIR/logs/rank-0.log" | tail -n1)
    [ -n "$line" ] && date -d "$(cut -d' ' -f1-2 <<<"$line")" +%s%3N
}
reached=$(log_ms "threshold reached; leaving in 3000 ms") || fail "no extension logged"
left=$(log_ms "leaving safe mode with $most of $total block(s) missing") ||
    fail "missing blocks not logged: $(grep -i 'safe mode' "$RUN_DIR/logs/rank-0.log")"
[ $((left - reached)) -ge 2990 ] ||
    fail "safe mode ended $((left - reached)) ms after the threshold, before its 3 s extension"
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
before=$(reports)
start -D dfs.namenode.safemode.threshold-pct=1.5
wait_until 20 all_reported "$before" || fail "not every node sent its block report"
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
