#!/usr/bin/env bash
# Globs in `ember dfs` path arguments, as Hadoop's FsShell expands them:
# `-cat OUT/part-*` (how every MapReduce output is read), a glob in a
# middle component, classes, braces, escapes, a pattern that matches
# nothing (Hadoop's message, exit 1, the other arguments still served), a
# malformed pattern, `-rm` of / through a glob refused, and a glob over
# thousands of files.
. "$(dirname "$0")/lib.sh"

cluster_start 2 --core-nodes 1 -D dfs.replication=1
for y in 2024 2025; do
    dfs -mkdir -p /logs/$y || fail "mkdir"
    for p in 0 1; do printf '%s-%s\n' $y $p | dfs -put - /logs/$y/part-0000$p || fail "put"; done
done
dfs -touchz /logs/2025/_SUCCESS '/logs/star*' || fail "touchz"

expect_eq "$(dfs -cat '/logs/*/part-*')" "$(printf '2024-0\n2024-1\n2025-0\n2025-1')" "-cat /logs/*/part-*"
expect_eq "$(dfs -cat '/logs/202[5]/part-0000?')" "$(printf '2025-0\n2025-1')" "class and ?"
expect_eq "$(dfs -cat '/logs/{2024,2025}/part-00001')" "$(printf '2024-1\n2025-1')" "braces"
expect_eq "$(dfs -ls '/logs/*/_SUCCESS' | awk '{print $NF}')" /logs/2025/_SUCCESS "literal last component"
expect_eq "$(dfs -ls -d '/logs/star\*' | awk '{print $NF}')" '/logs/star*' "escaped star"
expect_eq "$(dfs -du -s '/logs/202?' | awk '{print $NF}' | tr '\n' ' ')" "/logs/2024 /logs/2025 " "-du -s glob"

# Nothing matches: Hadoop's words, exit 1; a matching argument beside it is still served.
out=$(dfs -cat '/logs/*/nothing*' 2>&1) && fail "-cat of an empty glob exited 0"
expect_eq "$out" "ember: cat: \`/logs/*/nothing*': No such file or directory" "empty glob message"
out=$(dfs -cat '/nope*' /logs/2024/part-00000 2>/dev/null) && fail "a partly empty -cat exited 0"
expect_eq "$out" 2024-0 "the matching argument still served"
# Malformed patterns.
out=$(dfs -ls '/logs/[20' 2>&1) && fail "an unclosed class exited 0"
grep -q "Illegal file pattern: Unclosed character class" <<<"$out" || fail "unclosed class: $out"
out=$(dfs -ls '/logs/{2024' 2>&1) && fail "an unclosed group exited 0"
grep -q "Illegal file pattern: Unclosed group" <<<"$out" || fail "unclosed group: $out"

# Copies, moves, attributes and deletes through globs.
dfs -get '/logs/2024/part-*' "$TEST_TMP" || fail "-get glob"
expect_eq "$(cat "$TEST_TMP"/part-00000 "$TEST_TMP"/part-00001)" "$(printf '2024-0\n2024-1')" "-get glob content"
dfs -mkdir /old && dfs -mv '/logs/2024/part-*' /old || fail "-mv glob"
expect_eq "$(dfs -ls /old | grep -c part-)" 2 "files moved"
dfs -chmod 600 '/old/*' || fail "-chmod glob"
expect_eq "$(dfs -stat %a /old/part-00001)" 600 "mode through a glob"
dfs -rm -skipTrash '/old/part-0000[01]' >/dev/null || fail "-rm -skipTrash glob"
expect_eq "$(dfs -ls /old | grep -c part- || true)" 0 "files removed"
# / through a glob is refused like / itself, and nothing is lost.
dfs -rm -r '/{,}' >/dev/null 2>&1 && fail "-rm -r of / through a glob exited 0"
dfs -test -e /logs/2025/part-00000 || fail "-rm of / through a glob removed data"

# Thousands of files: one listing, every one matched.
dfs -mkdir /many || fail "mkdir /many"
(cd "$TEST_TMP" && seq -f '/many/f%05g' 1 3000 | xargs "$EMBER" --run-dir "$RUN_DIR" dfs -touchz) ||
    fail "touchz 3000"
expect_eq "$(dfs -ls '/many/f0*' | grep -c '^-')" 3000 "files listed through a glob"
dfs -rm -r -skipTrash '/many/f*' >/dev/null || fail "-rm -r -skipTrash of 3000 through a glob"
expect_eq "$(dfs -count /many | awk '{print $2}')" 0 "files left after the globbed -rm"

ember cluster stop >/dev/null
cluster_wait_exit 30
log PASS
