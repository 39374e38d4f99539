#!/usr/bin/env bash
# The trash, as HDFS's (Hadoop's TrashPolicyDefault and FsShell's -rm and
# -expunge).  First a cluster whose namenode keeps no trash: -rm deletes
# at once and no trash appears; the command's own -D fs.trash.interval
# turns it on: -rm and -rm -r move to /user/USER/.Trash/Current/PATH with
# Hadoop's "Moved: ..." line, a name taken there gets the time appended,
# a file standing where a directory is needed gets it appended to its
# name, -skipTrash deletes at once, a path in the trash is deleted for
# real, one holding the trash (/user, / through a glob) is refused,
# -rmdir never uses the trash; -expunge makes Current a checkpoint
# (yyMMddHHmmss) and deletes the old checkpoints, warns about and keeps
# anything else, -expunge -immediate deletes every checkpoint, bad
# options are refused.  Then the same namespace under a namenode with
# fs.trash.interval set (fractions of a minute, so it runs in seconds):
# the server's setting wins over the command's, and the namenode's
# emptier checkpoints every user's Current and deletes each checkpoint
# once older than the interval, on its own.
. "$(dirname "$0")/lib.sh"

# The user the cluster sees, and the cluster's URI in Hadoop's messages.
U=$(id -un)
TRASH=/user/$U/.Trash
cluster_start 2 --core-nodes 1 -D dfs.replication=1
port=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$RUN_DIR/cluster.json")
FS=hdfs://127.0.0.1:$port
T=(-D fs.trash.interval=1) # the trash on for one command (the namenode's is 0)

# expect_moved PATH DEST_REGEX OUTPUT: OUTPUT is exactly Hadoop's line.
expect_moved() {
    grep -qxE "Moved: '$FS$1' to trash at: $FS$2" <<<"$3" || fail "rm $1: '$3'"
}

# No trash by default: deleted at once, nothing kept.
dfs -mkdir -p /d/sub /empty && echo data | dfs -put - /d/f && dfs -touchz /d/sub/x /d/g || fail "setup"
expect_eq "$(dfs -rm /d/g)" "Deleted /d/g" "-rm without a trash"
dfs -test -e "$TRASH" && fail "a trash appeared with fs.trash.interval 0"

# Into the trash, the original path kept under Current.
out=$(dfs "${T[@]}" -rm /d/f) || fail "-rm into the trash: $out"
expect_moved /d/f "$TRASH/Current/d/f" "$out"
dfs -test -e /d/f && fail "/d/f still there after -rm"
expect_eq "$(dfs -cat "$TRASH/Current/d/f")" data "content in the trash"
expect_eq "$(dfs -stat %a "$TRASH")" 700 "the trash's mode (Hadoop's 0700)"
# The same name again: the time in ms appended.
dfs -touchz /d/f || fail "touchz /d/f"
out=$(dfs "${T[@]}" -rm /d/f) || fail "second -rm: $out"
expect_moved /d/f "$TRASH/Current/d/f[0-9]{13}" "$out"
# -rm -r: the directory whole; without -r still "Is a directory".
err=$(dfs "${T[@]}" -rm /d/sub 2>&1) && fail "-rm of a directory without -r succeeded"
expect_eq "$err" "ember: rm: \`/d/sub': Is a directory" "-rm of a directory"
out=$(dfs "${T[@]}" -rm -r /d/sub) || fail "-rm -r: $out"
expect_moved /d/sub "$TRASH/Current/d/sub" "$out"
dfs -test -e "$TRASH/Current/d/sub/x" || fail "the directory's file is not in the trash"
# A file where the trash needs a directory: the time goes on its name.
dfs -touchz /w && dfs "${T[@]}" -rm /w >/dev/null || fail "-rm /w"
dfs -mkdir /w && dfs -touchz /w/x || fail "mkdir /w"
out=$(dfs "${T[@]}" -rm /w/x) || fail "-rm /w/x: $out"
expect_moved /w/x "$TRASH/Current/w[0-9]{13}/x" "$out"
dfs -test -f "$TRASH/Current/w" || fail "the file in the way was touched"

# -skipTrash: at once, file or tree.
dfs -touchz /d/s1 /d/s2 && dfs -mkdir -p /d/t/u || fail "setup skipTrash"
expect_eq "$(dfs "${T[@]}" -rm -skipTrash /d/s1)" "Deleted /d/s1" "-rm -skipTrash"
expect_eq "$(dfs "${T[@]}" -rm -f -skipTrash /d/s2 /d/none)" "Deleted /d/s2" "-rm -f -skipTrash"
expect_eq "$(dfs "${T[@]}" -rm -r -skipTrash /d/t)" "Deleted /d/t" "-rm -r -skipTrash"
dfs -test -e "$TRASH/Current/d/s1" && fail "-skipTrash went to the trash"
# What is in the trash already is deleted for real; -rmdir never uses it.
expect_eq "$(dfs "${T[@]}" -rm "$TRASH/Current/d/f")" "Deleted $TRASH/Current/d/f" "-rm in the trash"
expect_eq "$(dfs "${T[@]}" -rmdir /empty 2>&1)" "" "-rmdir with the trash on"
dfs -test -e "$TRASH/Current/empty" && fail "-rmdir went to the trash"
# A path holding the trash is refused, / through a glob too; nothing moves.
before=$(dfs -ls -R /)
err=$(dfs "${T[@]}" -rm -r /user 2>&1) && fail "-rm -r /user succeeded"
expect_eq "$err" "ember: rm: Cannot move \"$FS/user\" to the trash, as it contains the trash. Consider using -skipTrash option" "-rm of the trash's parent"
dfs "${T[@]}" -rm -r '/{,}' >/dev/null 2>&1 && fail "-rm -r of / through a glob succeeded"
expect_eq "$(dfs -ls -R /)" "$before" "namespace after the refused deletes"

# -expunge: a checkpoint of Current; an old checkpoint deleted; another
# name warned about and kept; a young checkpoint kept.
dfs -mkdir "$TRASH/200101000000" "$TRASH/junk" || fail "mkdir old checkpoint"
out=$(dfs "${T[@]}" -expunge 2>"$TEST_TMP/err") || fail "-expunge: $out $(cat "$TEST_TMP/err")"
grep -qx "Deleted trash checkpoint: $TRASH/200101000000" <<<"$out" || fail "old checkpoint: $out"
cp=$(sed -n "s|^Created trash checkpoint: $TRASH/\([0-9]\{12\}\)$|\1|p" <<<"$out")
[ -n "$cp" ] || fail "no checkpoint created: $out"
expect_eq "$(cat "$TEST_TMP/err")" "ember: expunge: warning: Unexpected item in trash: $TRASH/junk. Ignoring." "warning"
expect_eq "$(dfs -ls "$TRASH" | awk 'NR > 1 {print $NF}' | tr '\n' ' ')" "$TRASH/$cp $TRASH/junk " "trash after -expunge"
dfs -test -e "$TRASH/$cp/d/sub/x" || fail "the checkpoint lacks what Current held"
out=$(dfs "${T[@]}" -expunge 2>/dev/null) || fail "second -expunge"
expect_eq "$out" "" "-expunge with nothing old and no Current"
# -immediate: Current checkpointed, then every checkpoint deleted.
dfs -touchz /d/late && dfs "${T[@]}" -rm /d/late >/dev/null || fail "-rm /d/late"
out=$(dfs "${T[@]}" -expunge -immediate 2>/dev/null) || fail "-expunge -immediate: $out"
grep -q "^Created trash checkpoint: " <<<"$out" || fail "-immediate made no checkpoint: $out"
expect_eq "$(grep -c '^Deleted trash checkpoint: ' <<<"$out")" 2 "checkpoints deleted by -immediate"
expect_eq "$(dfs -ls "$TRASH" | awk 'NR > 1 {print $NF}')" "$TRASH/junk" "trash after -immediate"
# Bad input.
err=$(dfs -expunge -now 2>&1); [ $? = 2 ] || fail "-expunge -now: exit $?"
grep -q -- "-expunge: Illegal option -now" <<<"$err" || fail "-expunge -now: $err"
err=$(dfs -expunge -fs hdfs://elsewhere:8020/ 2>&1) && fail "-expunge of another file system succeeded"
grep -q "Wrong FS: hdfs://elsewhere:8020/" <<<"$err" || fail "-expunge -fs: $err"
dfs -expunge -fs "$FS/" || fail "-expunge -fs of this cluster"
err=$(dfs -D fs.trash.interval=soon -rm /d 2>&1); [ $? = 2 ] || fail "bad fs.trash.interval accepted"
grep -q "fs.trash.interval" <<<"$err" || fail "bad fs.trash.interval: $err"

# The namenode's trash: fs.trash.interval 0.1 min (6 s), checkpoints every 1.5 s.
ember cluster stop >/dev/null
cluster_wait_exit 30
cluster_start 2 --core-nodes 1 -D dfs.replication=1 -D fs.trash.interval=0.1 \
    -D fs.trash.checkpoint.interval=0.025
port=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$RUN_DIR/cluster.json")
FS=hdfs://127.0.0.1:$port
grep -q "Namenode trash configuration: Deletion interval = 0.1 minutes, Emptier interval = 0.025 minutes." \
    "$RUN_DIR/logs/rank-0.log" || fail "the namenode's trash configuration is not logged"
# Another user's trash too: bob owns /user/bob (made by the superuser).
dfs -chmod 755 /user && dfs -mkdir -p /user/bob/data && dfs -touchz /user/bob/data/b &&
    dfs -chown -R bob /user/bob || fail "setup bob"
dfs -touchz /p1 /p2 || fail "touchz"
# The server's setting wins: on without -D, and -D 0 does not turn it off.
out=$(dfs -rm /p1) && expect_moved /p1 "$TRASH/Current/p1" "$out"
out=$(dfs -D fs.trash.interval=0 -rm /p2) && expect_moved /p2 "$TRASH/Current/p2" "$out"
out=$(HADOOP_USER_NAME=bob "$EMBER" --run-dir "$RUN_DIR" dfs -rm /user/bob/data/b) ||
    fail "bob's -rm: $out"
expect_moved /user/bob/data/b "/user/bob/.Trash/Current/user/bob/data/b" "$out"

# checkpointed USER_TRASH FILE: FILE sits in a checkpoint of the trash, and
# Current is gone.  expired USER_TRASH: no checkpoint is left.
checkpointed() {
    ! dfs -test -e "$1/Current" && dfs -ls -R "$1" | grep -qE " $1/[0-9]{12}(-[0-9]+)?$2\$"
}
expired() { [ -z "$(dfs -ls "$1" | awk 'NR > 1 && $NF ~ /\/[0-9]+(-[0-9]+)?$/')" ]; }
wait_until 30 checkpointed "$TRASH" /p2 || fail "Current never checkpointed: $(dfs -ls -R "$TRASH")"
wait_until 30 checkpointed /user/bob/.Trash /user/bob/data/b ||
    fail "bob's Current never checkpointed: $(dfs -ls -R /user/bob/.Trash)"
wait_until 60 expired "$TRASH" || fail "checkpoints never expired: $(dfs -ls -R "$TRASH")"
wait_until 60 expired /user/bob/.Trash || fail "bob's checkpoints never expired"
dfs -test -d "$TRASH/junk" || fail "the emptier deleted a name that is not a checkpoint"
for line in "Created trash checkpoint: $TRASH/" "Deleted trash checkpoint: /user/bob/.Trash/" \
    "Unexpected item in trash: $TRASH/junk. Ignoring."; do
    grep -qF "$line" "$RUN_DIR/logs/rank-0.log" || fail "the namenode did not log '$line'"
done

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
