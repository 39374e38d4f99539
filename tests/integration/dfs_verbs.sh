#!/usr/bin/env bash
# More of Hadoop 3's `hdfs dfs` verbs and options (issue 12 items 3 and 6),
# each against Hadoop's output: -du -s -h -v -x (Hadoop's table, -h as
# TraditionalBinaryPrefix.long2String); -count -q -h -v -u -x with the
# quota columns Hadoop prints for a directory without quotas (ember keeps
# none).
. "$(dirname "$0")/lib.sh"

cluster_start 3 --core-nodes 2 -D dfs.blocksize=1m -D dfs.replication=1

# ---- -du ----
dfs -mkdir -p /du/sub || fail "mkdir /du/sub"
head -c 1536 /dev/zero | dfs -put - /du/a || fail "put /du/a"
head -c 300000 /dev/zero | dfs -D dfs.replication=2 -put - /du/sub/b || fail "put /du/sub/b"
head -c 2048 /dev/zero | dfs -put - /du/sub/c || fail "put /du/sub/c"
# Hadoop's table: columns as wide as their widest cell, two spaces apart.
expect_eq "$(dfs -du /du)" "$(printf '%-6s  %-6s  %s\n' 1536 1536 /du/a 302048 602048 /du/sub)" "-du /du"
expect_eq "$(dfs -du -s /du /du/a)" "$(printf '%-6s  %-6s  %s\n' 303584 603584 /du 1536 1536 /du/a)" \
    "-du -s of a directory and a file"
expect_eq "$(dfs -du -h /du/sub)" "$(printf '%-7s  %-7s  %s\n' '293.0 K' '585.9 K' /du/sub/b '2 K' '2 K' /du/sub/c)" \
    "-du -h"
expect_eq "$(dfs -du -s -h -v -x /du)" \
    "$(printf '%-7s  %-37s  %s\n' SIZE DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS FULL_PATH_NAME '296.5 K' '589.4 K' /du)" \
    "-du -s -h -v -x"
expect_eq "$(dfs -du -sx /du)" "$(dfs -du -s /du)" "-x changes nothing (no snapshots)"
dfs -mkdir /du/empty
expect_eq "$(dfs -du -v /du/empty)" "" "-du -v of an empty directory prints nothing, as Hadoop"
err=$(dfs -du /du/nope 2>&1) && fail "-du of a missing path succeeded"
grep -q "\`/du/nope': No such file or directory" <<<"$err" || fail "-du of a missing path: $err"

# ---- -count ----
summary() { printf '%12s %12s %18s ' "$@"; }
quota() { printf '%12s %15s %15s %15s ' "$@"; }
expect_eq "$(dfs -count /du)" "$(summary 3 3 303584)/du" "-count"
expect_eq "$(dfs -count -q /du)" "$(quota none inf none inf)$(summary 3 3 303584)/du" "-count -q"
expect_eq "$(dfs -count -q -h -v /du /du/a)" \
    "$(quota QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA)$(summary DIR_COUNT FILE_COUNT CONTENT_SIZE)PATHNAME
$(quota none inf none inf)$(summary 3 3 '296.5 K')/du
$(quota none inf none inf)$(summary 0 1 '1.5 K')/du/a" "-count -q -h -v"
expect_eq "$(dfs -count -u -v /du)" \
    "$(quota QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA)PATHNAME
$(quota none inf none inf)/du" "-count -u -v"
expect_eq "$(dfs -count -v -x /du/sub)" \
    "$(summary DIR_COUNT FILE_COUNT CONTENT_SIZE)PATHNAME
$(summary 1 2 302048)/du/sub" "-count -v -x"
err=$(dfs -count -t /du 2>&1); expect_eq "$?" 2 "-count -t (storage types: none here)"
expect_eq "$(sed -n 1p <<<"$err")" "-count: Illegal option -t" "-count -t refused"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
