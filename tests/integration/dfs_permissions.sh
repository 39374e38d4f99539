#!/usr/bin/env bash
# Permissions as HDFS checks them, for users named by HADOOP_USER_NAME
# (simple authentication): write on the parent to create or delete,
# execute to traverse, read to open or list, the owner to chmod, only the
# superuser (the user running the cluster, here root) to chown to someone
# else or to change safe mode; new inodes in their parent's group (HDFS's
# BSD rule); the sticky bit; recursive delete needs
# every directory below; relative paths under /user/$HADOOP_USER_NAME.
# With dfs.permissions.enabled=false nothing is checked.
. "$(dirname "$0")/lib.sh"

as() { local who=$1; shift; HADOOP_USER_NAME=$who "$EMBER" --run-dir "$RUN_DIR" "$@"; }
# denied USER WHAT CMD...: CMD as USER fails with exit 1 and a permission error.
denied() {
    local who=$1 what=$2; shift 2
    local err rc
    err=$(as "$who" "$@" 2>&1)
    rc=$?
    [ "$rc" = 1 ] || fail "$what: expected exit 1, got $rc ($err)"
    grep -qE "$DENY" <<<"$err" || fail "$what: $err"
}

cluster_start 3 --core-nodes 2 -D dfs.replication=1
printf 'secret\n' >"$TEST_TMP/f"
dfs -mkdir -p /shared /private/dir /user/alice || fail "mkdir as root"
dfs -chmod 777 /shared && dfs -chown alice /user/alice || fail "chmod/chown as root"
dfs -put "$TEST_TMP/f" /private/dir/f && dfs -chmod 700 /private/dir || fail "setup /private"

DENY='Permission denied: user=alice, access=WRITE, inode="/private":root:[a-z]*:drwxr-xr-x'
denied alice "mkdir in a directory of root's" dfs -mkdir /private/x
denied alice "put into a directory of root's" dfs -put "$TEST_TMP/f" /private/g
DENY='Permission denied: user=alice, access=READ_EXECUTE, inode="/private/dir"'
denied alice "list a 700 directory" dfs -ls /private/dir
DENY='Permission denied: user=alice, access=EXECUTE, inode="/private/dir"'
denied alice "stat through a 700 directory" dfs -stat /private/dir/f
denied alice "cat through a 700 directory" dfs -cat /private/dir/f
! dfs -test -e /private/x || fail "a refused mkdir left something"

# Own files in a world-writable directory; relative paths.
as alice dfs -put "$TEST_TMP/f" /shared/a || fail "put as alice"
# HDFS's BSD rule: a new inode takes its parent directory's group.
expect_eq "$(dfs -stat '%u %g' /shared/a)" "alice supergroup" "owner and group of alice's file"
dfs -mkdir /shared/eng && dfs -chgrp eng /shared/eng && dfs -chmod 777 /shared/eng || fail "setup /shared/eng"
as alice dfs -mkdir -p /shared/eng/x/y && as alice dfs -touchz /shared/eng/x/y/z || fail "files in /shared/eng"
expect_eq "$(dfs -stat '%u %g' /shared/eng/x /shared/eng/x/y /shared/eng/x/y/z)" \
    "$(printf 'alice eng\nalice eng\nalice eng')" "groups inherited down a new path"
as alice dfs -mkdir -p sub && as alice dfs -put "$TEST_TMP/f" sub/rel || fail "relative paths as alice"
expect_eq "$(dfs -cat /user/alice/sub/rel)" "secret" "alice's relative file"
as alice dfs -chmod 600 /shared/a || fail "chmod by the owner"
DENY='Permission denied: user=bob, access=READ, inode="/shared/a":alice:supergroup:-rw-------'
denied bob "read a 600 file of alice's" dfs -cat /shared/a
DENY='is not the owner of inode=/shared/a'
denied bob "chmod of alice's file" dfs -chmod 777 /shared/a
DENY='non-super user cannot change owner'
denied alice "chown to someone else" dfs -chown bob /shared/a
DENY='does not belong to supergroup'
denied alice "chgrp to a group alice is not in" dfs -chgrp supergroup /shared/a
expect_eq "$(dfs -cat /shared/a)" "secret" "the superuser reads anything"

# The sticky bit: bob may not delete alice's file from a 1777 directory.
dfs -chmod 1777 /shared || fail "chmod 1777"
DENY='Permission denied by sticky bit: user=bob'
denied bob "delete in a sticky directory" dfs -rm /shared/a
DENY='Permission denied by sticky bit: user=bob'
denied bob "rename in a sticky directory" dfs -mv /shared/a /shared/b
as alice dfs -rm /shared/a >/dev/null || fail "the owner deletes in a sticky directory"

# Recursive delete needs every directory below.
as alice dfs -mkdir -p /shared/tree/locked/deep || fail "mkdir tree"
as alice dfs -chmod 555 /shared/tree/locked || fail "chmod 555"
DENY='Permission denied: user=alice, access=ALL, inode="/shared/tree/locked"'
denied alice "rm -r of a tree with a read-only directory" dfs -rm -r /shared/tree
dfs -test -d /shared/tree/locked/deep || fail "a refused rm -r deleted something"

# dfsadmin needs the superuser.
DENY='Superuser privilege is required'
denied alice "safe mode enter" dfsadmin -safemode enter
as alice dfsadmin -safemode get | grep -q 'Safe mode is OFF' || fail "safemode get as alice"
denied alice "decommission" dfsadmin -decommission node-1

# Groups decided on the namenode's side: static overrides name alice in
# eng and ops, bob in none (not even his own); a malformed list stops the
# start.  (The host's user database is test_group_mapping's.)
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
cluster_start 3 --core-nodes 2 -D dfs.replication=1 \
    -D 'hadoop.user.group.static.mapping.overrides=alice=eng, ops;bob=;'
wait_until 30 bash -c "! '$EMBER' --run-dir '$RUN_DIR' dfsadmin -safemode get | grep -q ON" ||
    fail "safe mode never ended"
dfs -mkdir /team && dfs -chgrp eng /team && dfs -chmod 770 /team || fail "setup /team"
as alice dfs -touchz /team/a || fail "alice, in eng by the overrides, writes in /team"
DENY='Permission denied: user=bob, access=EXECUTE, inode="/team":root:eng:drwxrwx---'
denied bob "bob, in no group, lists /team" dfs -ls /team/a
as alice dfs -chgrp ops /team/a || fail "alice gives her file to ops, a group of hers"
expect_eq "$(dfs -stat %g /team/a)" ops "group after chgrp"
DENY='User alice does not belong to alice'
denied alice "chgrp to the claimed group the overrides leave out" dfs -chgrp alice /team/a
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
if "$EMBER" cluster --run-dir "$TEST_TMP/bad" -D 'hadoop.user.group.static.mapping.overrides=alice' \
    >"$TEST_TMP/bad.out" 2>&1; then
    fail "a bad overrides list was accepted"
fi
grep -q "bad hadoop.user.group.static.mapping.overrides entry 'alice'" "$TEST_TMP/bad.out" ||
    fail "bad overrides message: $(cat "$TEST_TMP/bad.out")"

# Off: nothing is checked.
cluster_start 3 --core-nodes 2 -D dfs.replication=1 -D dfs.permissions.enabled=false
wait_until 30 bash -c "! '$EMBER' --run-dir '$RUN_DIR' dfsadmin -safemode get | grep -q ON" ||
    fail "safe mode never ended"
expect_eq "$(as bob dfs -cat /private/dir/f)" "secret" "bob reads with permissions off"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
