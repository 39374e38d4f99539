#!/usr/bin/env bash
# More of Hadoop 3's `hdfs dfs` verbs and options (issue 12 items 3 and 6),
# each against Hadoop's output: -du -s -h -v -x (Hadoop's table, -h as
# TraditionalBinaryPrefix.long2String); -count -q -h -v -u -x with the
# quota columns Hadoop prints for a directory without quotas (ember keeps
# none); -text (plain, gzip by its magic, several gzip members, a file
# larger than a block, .deflate); -touch -a -m -t -c and a malformed
# time; -ls -C -t -S -r -u; -test -r -w as another user; -truncate [-w]
# at a block boundary and inside a block (the datanodes cut the replicas
# by block recovery), beyond the length, then an append, and the
# truncated files after a restart; -put -p -d -t N, -get -p and
# -moveToLocal.
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

# ---- -text ----
dfs -mkdir /tx || fail "mkdir /tx"
printf 'plain text\n' | dfs -put - /tx/plain
expect_eq "$(dfs -text /tx/plain)" "plain text" "-text of a plain file"
printf 'first member\n' | gzip -c >"$TEST_TMP/one.gz"
printf 'second member\n' | gzip -c >"$TEST_TMP/two.gz"
cat "$TEST_TMP/one.gz" "$TEST_TMP/two.gz" | dfs -put - /tx/two-members.gz
expect_eq "$(dfs -text /tx/two-members.gz)" "$(printf 'first member\nsecond member')" "-text of two gzip members"
cp "$TEST_TMP/one.gz" "$TEST_TMP/no-suffix" && dfs -put "$TEST_TMP/no-suffix" /tx/no-suffix
expect_eq "$(dfs -text /tx/no-suffix)" "first member" "-text finds gzip by its magic, not its name"
head -c 2500000 /dev/urandom >"$TEST_TMP/big" && gzip -c "$TEST_TMP/big" >"$TEST_TMP/big.gz"
dfs -put "$TEST_TMP/big.gz" /tx/big.gz || fail "put big.gz"
dfs -text /tx/big.gz | cmp - "$TEST_TMP/big" || fail "-text of a gzip file of several blocks"
dfs -cat /tx/big.gz | cmp - "$TEST_TMP/big.gz" || fail "-cat of the gzip file"
printf 'deflated\n' | python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))' |
    dfs -put - /tx/part-00000.deflate || fail "put .deflate"
expect_eq "$(dfs -text /tx/part-00000.deflate)" "deflated" "-text of a .deflate file (Hadoop's DefaultCodec)"
head -c 5000 "$TEST_TMP/big.gz" | dfs -put - /tx/cut.gz
err=$(dfs -text /tx/cut.gz /tx/plain 2>&1 >"$TEST_TMP/out"); expect_eq "$?" 1 "-text of a truncated gzip file"
expect_eq "$err" "ember: text: \`/tx/cut.gz': Unexpected end of gzip input stream" "error of a truncated gzip file"
expect_eq "$(tail -c 11 "$TEST_TMP/out")" "plain text" "-text goes on with the next file"
err=$(dfs -text /tx 2>&1); expect_eq "$?" 1 "-text of a directory"
grep -q "Is a directory" <<<"$err" || fail "-text of a directory: $err"

# ---- -touch ----
dfs -mkdir /t && printf 'data' | dfs -put - /t/f || fail "put /t/f"
before=$(dfs -stat %Y /t/f)
dfs -touch /t/new || fail "-touch of a new file"
expect_eq "$(dfs -stat '%F %b' /t/new)" "regular empty file 0" "-touch creates an empty file"
dfs -touch -t 20200102:030405 /t/f || fail "-touch -t"
expect_eq "$(dfs -stat '%y|%x|%b' /t/f)" "2020-01-02 03:04:05|2020-01-02 03:04:05|4" "-touch -t sets both times, keeps the data"
dfs -touch -a -t 20210101:000000 /t/f && dfs -touch -m -t 20220202:020202 /t/f || fail "-touch -a / -m"
expect_eq "$(dfs -stat '%y|%x' /t/f)" "2022-02-02 02:02:02|2021-01-01 00:00:00" "-touch -a then -m"
expect_eq "$(dfs -stat %X /t/f)" 1609459200000 "-touch -a in ms (UTC)"
dfs -touch -am -t 20230303:030303 /t/f && expect_eq "$(dfs -stat '%y|%x' /t/f)" \
    "2023-03-03 03:03:03|2023-03-03 03:03:03" "-touch -a -m"
dfs -touch /t/f && [ "$(dfs -stat %Y /t/f)" -ge "$before" ] || fail "-touch of an existing file: now"
dfs -touch -c /t/absent || fail "-touch -c of a missing file"
! dfs -test -e /t/absent || fail "-touch -c created a file"
dfs -touch -t 19991231:235959 /t/dated && expect_eq "$(dfs -stat %y /t/dated)" "1999-12-31 23:59:59" "-touch -t of a new file"
for bad in 2020-01-02 20200102030405 20230231:000000 20200102:256000 x; do
    err=$(dfs -touch -t "$bad" /t/f 2>&1); expect_eq "$?" 2 "-touch -t $bad"
    expect_eq "$(sed -n 1p <<<"$err")" "-touch: Unable to parse the specified timestamp $bad" "-touch -t $bad"
    grep -q '^Usage: ember dfs \[generic options\] -touch ' <<<"$err" || fail "no usage line after -t $bad: $err"
done
err=$(dfs -touch /t 2>&1); expect_eq "$?" 1 "-touch of a directory"
expect_eq "$err" "ember: touch: \`/t': Is a directory" "-touch of a directory"
err=$(dfs -touch /nope/x 2>&1) && fail "-touch under a missing directory succeeded"
grep -q "No such file or directory" <<<"$err" || fail "-touch under a missing directory: $err"

# ---- -ls -C -t -S -r -u ----
dfs -mkdir /ls || fail "mkdir /ls"
head -c 300 /dev/zero | dfs -put - /ls/a && head -c 100 /dev/zero | dfs -put - /ls/b &&
    head -c 200 /dev/zero | dfs -put - /ls/c || fail "put /ls"
dfs -touch -m -t 20200101:000000 /ls/a && dfs -touch -m -t 20220101:000000 /ls/b &&
    dfs -touch -m -t 20210101:000000 /ls/c || fail "mtimes"
dfs -touch -a -t 20230101:000000 /ls/a && dfs -touch -a -t 20210101:000000 /ls/b &&
    dfs -touch -a -t 20220101:000000 /ls/c || fail "atimes"
names() { dfs -ls "$@" | sed -n 's|.* /ls/||p' | tr '\n' ' '; }
expect_eq "$(dfs -ls -C /ls | tr '\n' ' ')" "/ls/a /ls/b /ls/c " "-ls -C"
expect_eq "$(names /ls)" "a b c " "-ls"
expect_eq "$(names -r /ls)" "c b a " "-ls -r"
expect_eq "$(names -t /ls)" "b c a " "-ls -t"
expect_eq "$(names -t -r /ls)" "a c b " "-ls -t -r"
expect_eq "$(names -S /ls)" "a c b " "-ls -S"
expect_eq "$(names -Sr /ls)" "b c a " "-ls -S -r"
expect_eq "$(names -tS /ls)" "b c a " "-ls -t wins over -S"
expect_eq "$(names -t -u /ls)" "a c b " "-ls -t -u"
expect_eq "$(dfs -ls -u /ls | awk '$NF == "/ls/a" {print $6}')" 2023-01-01 "-ls -u shows the access time"
expect_eq "$(dfs -ls /ls | awk '$NF == "/ls/a" {print $6}')" 2020-01-01 "-ls shows the modification time"
expect_eq "$(dfs -ls -t /ls | sed -n 1p)" "Found 3 items" "-ls -t header"
expect_eq "$(dfs -ls -C -t /ls/b /ls | tr '\n' ' ')" "/ls/b /ls/b /ls/c /ls/a " "-ls -C -t of a file and a directory"
dfs -mkdir /ls/empty && expect_eq "$(dfs -ls /ls/empty)" "" "-ls of an empty directory prints nothing, as Hadoop"

# ---- -test -r -w, as the namenode checks them ----
dfs -mkdir /perm && dfs -chmod 755 /perm && printf s | dfs -put - /perm/secret &&
    printf p | dfs -put - /perm/public && dfs -chmod 600 /perm/secret && dfs -chmod 644 /perm/public ||
    fail "permission files"
as_alice() { HADOOP_USER_NAME=alice ember dfs "$@"; }
for t in "-r /perm/public 0" "-w /perm/public 1" "-r /perm/secret 1" "-w /perm/secret 1" \
    "-r /perm/missing 1" "-w /perm 1" "-r /perm 0"; do
    read -r flag path want <<<"$t"
    as_alice -test "$flag" "$path" 2>"$TEST_TMP/err"
    expect_eq "$?" "$want" "alice: -test $flag $path"
    [ -s "$TEST_TMP/err" ] && fail "-test $flag $path printed: $(cat "$TEST_TMP/err")"
done
dfs -test -r /perm/secret && dfs -test -w /perm/secret || fail "the owner may read and write /perm/secret"
dfs -chmod 666 /perm/public && as_alice -test -w /perm/public || fail "alice may write after chmod 666"
err=$(dfs -test -r -w /perm/public 2>&1); expect_eq "$?" 2 "-test with two flags"
expect_eq "$(sed -n 1p <<<"$err")" "-test: Only one test flag is allowed" "-test with two flags"

# ---- -truncate ----
head -c 2621440 /dev/urandom >"$TEST_TMP/orig" # two and a half blocks
dfs -D dfs.replication=2 -put "$TEST_TMP/orig" /tr1 && dfs -D dfs.replication=2 -put "$TEST_TMP/orig" /tr2 &&
    dfs -put "$TEST_TMP/orig" /tr3 || fail "put /tr*"
blocks_of() { ember fsck "$1" -files | sed -n "s|^$1 [0-9]* bytes, .*, \([0-9]*\) block(s).*|\1|p"; }
expect_eq "$(dfs -truncate 2097152 /tr1)" "Truncated /tr1 to length: 2097152" "-truncate at a block boundary"
expect_eq "$(blocks_of /tr1)" 2 "blocks after a truncate at a boundary"
dfs -cat /tr1 | cmp - <(head -c 2097152 "$TEST_TMP/orig") || fail "/tr1 after the truncate"
expect_eq "$(dfs -truncate -w 1500000 /tr1 /tr2)" "Waiting for /tr1 ...
Truncated /tr1 to length: 1500000
Waiting for /tr2 ...
Truncated /tr2 to length: 1500000" "-truncate -w inside a block"
for f in /tr1 /tr2; do
    dfs -cat $f | cmp - <(head -c 1500000 "$TEST_TMP/orig") || fail "$f after a truncate inside a block"
    expect_eq "$(dfs -stat %b $f)" 1500000 "length of $f"
done
expect_eq "$(blocks_of /tr2)" 2 "blocks of /tr2"
grep -q "truncate recovery of /tr2: blk_[0-9]* to 451424 bytes on 2 node(s)" "$RUN_DIR/logs/rank-0.log" ||
    fail "no block recovery cut both replicas of /tr2's last block"
out=$(dfs -truncate 1000 /tr3)
expect_eq "$out" "Truncating /tr3 to length: 1000. Wait for block recovery to complete before further updating this file." "-truncate without -w"
closed_at() { s=$(dfs -stat '%b' "$1") && [ "$s" = "$2" ] && ! ember fsck "$1" | grep -q 'Files currently being written: 1'; }
wait_until 20 closed_at /tr3 1000 || fail "/tr3 was not closed at 1000 bytes: $(dfs -stat %b /tr3)"
dfs -cat /tr3 | cmp - <(head -c 1000 "$TEST_TMP/orig") || fail "/tr3 after the truncate"
printf 'appended' >"$TEST_TMP/tail" && dfs -appendToFile "$TEST_TMP/tail" /tr3 || fail "append after a truncate"
dfs -cat /tr3 | cmp - <(head -c 1000 "$TEST_TMP/orig"; printf appended) || fail "/tr3 after the append"
err=$(dfs -truncate 99999999 /tr2 2>&1); expect_eq "$?" 1 "-truncate beyond the length"
expect_eq "$err" "ember: truncate: Cannot truncate to a larger file size. Current size: 1500000, truncate size: 99999999." "-truncate beyond the length"
err=$(dfs -truncate abc /tr2 2>&1); expect_eq "$?" 2 "-truncate abc"
expect_eq "$(sed -n 1p <<<"$err")" "-truncate: Illegal length, a non-negative integer expected" "-truncate abc"
err=$(dfs -truncate -5 /tr2 2>&1); expect_eq "$?" 2 "-truncate -5"
expect_eq "$(sed -n 1p <<<"$err")" "-truncate: Illegal option -5" "-truncate -5"
err=$(dfs -truncate 0 /t 2>&1); expect_eq "$?" 1 "-truncate of a directory"
grep -q "\`/t': Is a directory" <<<"$err" || fail "-truncate of a directory: $err"
dfs -truncate 0 /tx/plain >/dev/null && expect_eq "$(dfs -stat %b /tx/plain)" 0 "-truncate to 0"
wait_until 20 dfs_healthy || fail "not healthy after the truncates: $(ember fsck / 2>&1)"

# ---- -put -p -d -t, -get -p, -moveToLocal ----
mkdir -p "$TEST_TMP/pp/sub" && printf 'one' >"$TEST_TMP/pp/f1" && printf 'two' >"$TEST_TMP/pp/sub/f2"
chmod 640 "$TEST_TMP/pp/f1" && chmod 750 "$TEST_TMP/pp/sub" && chmod 705 "$TEST_TMP/pp"
touch -m -d @1600000000 "$TEST_TMP/pp/f1" "$TEST_TMP/pp/sub/f2" "$TEST_TMP/pp/sub" "$TEST_TMP/pp"
touch -a -d @1500000000 "$TEST_TMP/pp/f1" "$TEST_TMP/pp/sub" "$TEST_TMP/pp"
dfs -put -p "$TEST_TMP/pp" /pp || fail "-put -p"
expect_eq "$(dfs -stat '%a %Y %X %u %g' /pp/f1)" "640 1600000000000 1500000000000 root root" "-put -p of a file"
expect_eq "$(dfs -stat '%a %Y %X' /pp/sub)" "750 1600000000000 1500000000000" "-put -p of a directory (after its files)"
expect_eq "$(dfs -stat '%a %Y' /pp)" "705 1600000000000" "-put -p of the top directory"
dfs -put "$TEST_TMP/pp/f1" /pp/plain && [ "$(dfs -stat %Y /pp/plain)" -gt 1600000000000 ] &&
    expect_eq "$(dfs -stat %a /pp/plain)" 644 "-put without -p: now, and the default mode"
# -d: written at its name; without, at NAME._COPYING_ until complete.
mkfifo "$TEST_TMP/fifo"
for d in "-d" ""; do
    dfs -put $d "$TEST_TMP/fifo" /fifo$d 2>"$TEST_TMP/put.err" &
    putpid=$!
    exec 3>"$TEST_TMP/fifo"
    printf 'streamed' >&3
    if [ -n "$d" ]; then
        wait_until 20 dfs -test -e /fifo-d || fail "-put -d: the file is not written at its name"
        ! dfs -test -e /fifo-d._COPYING_ || fail "-put -d made a ._COPYING_ file"
    else
        wait_until 20 dfs -test -e /fifo._COPYING_ || fail "-put: no ._COPYING_ file while writing"
        ! dfs -test -e /fifo || fail "-put: the file has its name before it is complete"
    fi
    exec 3>&-
    wait $putpid || fail "-put $d from a fifo: $(cat "$TEST_TMP/put.err")"
    expect_eq "$(dfs -cat /fifo$d)" streamed "-put $d from a fifo"
done
! dfs -test -e /fifo._COPYING_ || fail "-put left its ._COPYING_ file"
printf 'new' >"$TEST_TMP/new" && dfs -put -d -f "$TEST_TMP/new" /fifo-d && expect_eq "$(dfs -cat /fifo-d)" new "-put -d -f"
# -t: many files by several threads, each of them right.
mkdir -p "$TEST_TMP/many/a" "$TEST_TMP/many/b"
for k in $(seq 1 24); do head -c $((k * 4099)) /dev/urandom >"$TEST_TMP/many/$([ $((k % 2)) = 0 ] && echo a || echo b)/f$k"; done
dfs -put -t 4 -q 8 "$TEST_TMP/many" /many || fail "-put -t 4"
dfs -get /many "$TEST_TMP/many.back" && diff -r "$TEST_TMP/many" "$TEST_TMP/many.back" || fail "-put -t 4: the tree differs"
dfs -cp -t 3 /many /many2 && dfs -get /many2 "$TEST_TMP/many2.back" && diff -r "$TEST_TMP/many" "$TEST_TMP/many2.back" ||
    fail "-cp -t 3: the tree differs"
if dfs -put -t 4 "$TEST_TMP/many" / 2>"$TEST_TMP/err"; then fail "-put -t over existing files succeeded"; fi
expect_eq "$(grep -c 'File exists' "$TEST_TMP/err")" 24 "-put -t: each existing file refused on its own line"
err=$(dfs -put -t x "$TEST_TMP/new" /x 2>&1); expect_eq "$?" 2 "-put -t x"
expect_eq "$(sed -n 1p <<<"$err")" "-put: -t needs a number" "-put -t x"
# -get -p: times, mode (and owner) as the file system has them.
dfs -chmod 600 /pp/f1 && dfs -chmod 711 /pp/sub && dfs -touch -t 20190101:000000 /pp/sub/f2 || fail "attributes for -get -p"
dfs -get -p /pp "$TEST_TMP/pp.back" || fail "-get -p"
expect_eq "$(stat -c '%a %Y %X %U' "$TEST_TMP/pp.back/f1")" "600 1600000000 1500000000 root" "-get -p of a file"
expect_eq "$(stat -c '%Y' "$TEST_TMP/pp.back/sub/f2")" 1546300800 "-get -p of a file below"
expect_eq "$(stat -c '%a %Y' "$TEST_TMP/pp.back/sub")" "711 1600000000" "-get -p of a directory (after its files)"
dfs -get /pp/f1 "$TEST_TMP/f1.plain" && [ "$(stat -c %Y "$TEST_TMP/f1.plain")" -gt 1600000000 ] ||
    fail "-get without -p keeps no time"
# -moveToLocal: copied, then deleted from the file system; kept on a failure.
dfs -moveToLocal /pp/sub "$TEST_TMP/pp.back" 2>"$TEST_TMP/err" && fail "-moveToLocal over existing files succeeded"
grep -q "File exists" "$TEST_TMP/err" || fail "-moveToLocal over existing files: $(cat "$TEST_TMP/err")"
dfs -test -e /pp/sub/f2 || fail "-moveToLocal deleted a source it could not copy"
mkdir "$TEST_TMP/moved"
dfs -moveToLocal /pp/sub /pp/plain "$TEST_TMP/moved" || fail "-moveToLocal"
expect_eq "$(cat "$TEST_TMP/moved/sub/f2" "$TEST_TMP/moved/plain")" "twoone" "-moveToLocal's copies"
! dfs -test -e /pp/sub && ! dfs -test -e /pp/plain || fail "-moveToLocal left its sources"

# A restart replays the truncates (EditTruncate, then the recovery's EditComplete).
ember cluster stop >/dev/null
cluster_wait_exit 30
cluster_start 3 --core-nodes 2 -D dfs.blocksize=1m -D dfs.replication=1
wait_until 30 bash -c "! '$EMBER' --run-dir '$RUN_DIR' dfsadmin -safemode get | grep -q ON" || fail "safe mode after the restart"
dfs -cat /tr1 | cmp - <(head -c 1500000 "$TEST_TMP/orig") || fail "/tr1 after the restart"
dfs -cat /tr3 | cmp - <(head -c 1000 "$TEST_TMP/orig"; printf appended) || fail "/tr3 after the restart"
expect_eq "$(dfs -stat %b /tr2)" 1500000 "/tr2 after the restart"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
