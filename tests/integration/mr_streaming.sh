#!/usr/bin/env bash
# mr_streaming.sh -- `ember streaming` (Hadoop Streaming), in local mode
# and on the cluster (mapreduce.framework.name=yarn, on HDFS):
# wordcount with plain shell commands against an independent reference
# (tr | sort | uniq -c) with 0, 1 and 3 reduces, a combiner, on local
# files and on HDFS; map-only output; -file with a script found by its
# bare name; -cmdenv and the job's configuration in the commands'
# environment; counters from stderr; key-value input; a mapper that
# prints 10 MB before it reads its 2 MB of input (no deadlock); failing,
# missing and silent commands fail the job and leave no output; usage
# errors.
. "$(dirname "$0")/lib.sh"

IN=$TEST_TMP/in
mkdir -p "$IN"
# Three files of words from a small vocabulary, one space between words,
# no empty line, so `tr -s " " "\n"` yields exactly the words.
awk 'BEGIN { srand(11); split("alpha beta gamma delta epsilon zeta eta theta iota kappa", v)
    for (f = 0; f < 3; f++) {
        file = sprintf("'"$IN"'/part%d.txt", f)
        for (l = 0; l < 3000; l++) {
            n = 1 + int(rand() * 8); line = ""
            for (w = 0; w < n; w++) line = line (w ? " " : "") v[1 + int(rand() * 10)] (rand() < 0.1 ? l % 7 : "")
            print line > file
        }
    } }'
cat "$IN"/part*.txt | tr ' ' '\n' | LC_ALL=C sort | uniq -c | awk '{ print $2 "\t" $1 }' \
    >"$TEST_TMP/expected"

# Commands: a reducer that counts each key's lines (any order), and one
# that sums each run of equal keys (sorted input: a streaming reducer).
COUNT="awk -F'\t' '{ c[\$1]++ } END { for (w in c) print w \"\t\" c[w] }'"
SUM="awk -F'\t' 'NR == 1 || \$1 != w { if (NR > 1) print w \"\t\" n; w = \$1; n = 0 }
    { n += \$2 } END { if (NR) print w \"\t\" n }'"
ONES="awk '{ for (i = 1; i <= NF; i++) print \$i \"\t1\" }'"

# streaming NAME ARGS...: runs ember streaming, output in $TEST_TMP/NAME.out.
streaming() {
    local name=$1; shift
    ember streaming -D mapreduce.framework.name="${MR_FRAMEWORK:-local}" "$@" \
        >"$TEST_TMP/$name.out" 2>&1
}
counter() { sed -n "s/^\t\t$2=//p" "$TEST_TMP/$1.out"; }
# same_words DIR: the part files together hold the expected counts.
same_words() {
    cat "$1"/part-* | LC_ALL=C sort >"$TEST_TMP/got"
    cmp -s "$TEST_TMP/got" "$TEST_TMP/expected" ||
        fail "$1 differs from the reference: $(diff "$TEST_TMP/got" "$TEST_TMP/expected" | head -5)"
}
files_of() { ls "$1" | tr '\n' ' '; }

log "wordcount: tr mapper, awk reducer, 3 reduces, 64 KiB splits"
streaming wc3 -D mapreduce.input.fileinputformat.split.maxsize=65536 -D mapreduce.task.io.sort.mb=1 \
    -input "file://$IN" -output "file://$TEST_TMP/wc3" -mapper 'tr -s " " "\n"' \
    -reducer "$COUNT" -numReduceTasks 3 || fail "wordcount failed: $(tail -5 "$TEST_TMP/wc3.out")"
expect_eq "$(files_of "$TEST_TMP/wc3")" "_SUCCESS part-r-00000 part-r-00001 part-r-00002 " "wc3 files"
same_words "$TEST_TMP/wc3"
[ "$(counter wc3 'Launched map tasks')" -gt 3 ] || fail "expected several maps: $(cat "$TEST_TMP/wc3.out")"
expect_eq "$(counter wc3 'Map input records')" 9000 "Map input records"
expect_eq "$(counter wc3 'Map output records')" "$(cat "$IN"/part*.txt | wc -w)" "Map output records"
expect_eq "$(counter wc3 'Reduce output records')" "$(wc -l <"$TEST_TMP/expected")" \
    "Reduce output records (written when the reducer's input ended)"

log "the reducers' input: sorted, each key in one partition"
streaming sorted -input "file://$IN" -output "file://$TEST_TMP/sorted" -mapper "$ONES" -reducer cat \
    -numReduceTasks 3 || fail "identity reducer: $(tail -5 "$TEST_TMP/sorted.out")"
for p in "$TEST_TMP"/sorted/part-r-*; do
    LC_ALL=C sort -c "$p" || fail "$p is not sorted"
done
dups=$(for p in "$TEST_TMP"/sorted/part-r-*; do cut -f1 "$p" | uniq; done | sort | uniq -d)
[ -z "$dups" ] || fail "keys in two partitions: $dups"
expect_eq "$(cat "$TEST_TMP"/sorted/part-r-* | wc -l)" "$(cat "$IN"/part*.txt | wc -w)" "lines"

log "one reduce, a combiner summing per spill"
streaming comb -D mapreduce.task.io.sort.mb=1 -input "file://$IN" -output "file://$TEST_TMP/comb" \
    -mapper "$ONES" -combiner "$SUM" -reducer "$SUM" -numReduceTasks 1 ||
    fail "combiner job failed: $(tail -5 "$TEST_TMP/comb.out")"
expect_eq "$(files_of "$TEST_TMP/comb")" "_SUCCESS part-r-00000 " "comb files"
LC_ALL=C sort -c "$TEST_TMP/comb/part-r-00000" || fail "the single reduce's output is not sorted"
same_words "$TEST_TMP/comb"
cin=$(counter comb 'Combine input records') cout=$(counter comb 'Combine output records')
[ "${cin:-0}" -ge "$(cat "$IN"/part*.txt | wc -w)" ] && [ "${cout:-0}" -lt "$cin" ] ||
    fail "the combiner did not combine: input $cin, output $cout"
expect_eq "$(counter comb 'Reduce input records')" "$cout" "Reduce input records = Combine output"

log "map-only: -reducer NONE, and -numReduceTasks 0 (the reducer never runs)"
streaming none -D mapreduce.input.fileinputformat.split.maxsize=65536 -input "file://$IN" \
    -output "file://$TEST_TMP/none" -mapper 'tr a-z A-Z' -reducer NONE ||
    fail "map-only failed: $(tail -5 "$TEST_TMP/none.out")"
ls "$TEST_TMP"/none/part-r-* >/dev/null 2>&1 && fail "a map-only job wrote part-r files"
[ -f "$TEST_TMP/none/part-m-00003" ] || fail "map-only parts: $(files_of "$TEST_TMP/none")"
cat "$TEST_TMP"/none/part-m-* | cmp -s - <(cat "$IN"/part*.txt | tr a-z A-Z) ||
    fail "map-only output is not the upper-cased input, in order"
streaming zero -input "file://$IN" -output "file://$TEST_TMP/zero" -mapper cat -reducer 'exit 1' \
    -numReduceTasks 0 || fail "-numReduceTasks 0 ran the reducer: $(tail -5 "$TEST_TMP/zero.out")"
cat "$TEST_TMP"/zero/part-m-* | cmp -s - <(cat "$IN"/part*.txt) || fail "cat mapper's output"

log "-file: a script (not executable) found by its bare name; -cmdenv and the configuration"
printf '#!/bin/sh\n# counts the words of its input\ntr -s " " "\\n"\n' >"$TEST_TMP/words.sh"
chmod 644 "$TEST_TMP/words.sh"
streaming file -input "file://$IN" -output "file://$TEST_TMP/file" -mapper words.sh \
    -file "$TEST_TMP/words.sh" -reducer "$COUNT" || fail "-file: $(tail -5 "$TEST_TMP/file.out")"
same_words "$TEST_TMP/file"
ENVCMD='cat >/dev/null; ls; echo "$GREETING|$mapreduce_task_partition|$mapreduce_task_ismap|$mapreduce_job_reduces|$my_own_key|$mapreduce_task_id"'
streaming env -D my.own-key=42 -input "file://$IN/part0.txt" -output "file://$TEST_TMP/env" \
    -mapper "$ENVCMD" -file "$TEST_TMP/words.sh" -cmdenv GREETING=hello -reducer NONE ||
    fail "env job: $(tail -5 "$TEST_TMP/env.out")"
grep -qx "hello|0|true|0|42|task_local[0-9]*_0001_m_000000" "$TEST_TMP/env/part-m-00000" ||
    fail "the mapper's environment: $(cat "$TEST_TMP/env/part-m-00000")"
grep -qx "words.sh" "$TEST_TMP/env/part-m-00000" || fail "no words.sh in the task's directory"

log "counters from stderr, key-value input, offsets as keys"
streaming report -input "file://$IN" -output "file://$TEST_TMP/report" -reducer NONE \
    -mapper "awk '{ print; print \"reporter:counter:Streaming Lines,seen,1\" > \"/dev/stderr\" }'" ||
    fail "reporter job: $(tail -5 "$TEST_TMP/report.out")"
grep -q "^	Streaming Lines" "$TEST_TMP/report.out" || fail "no user counter group"
expect_eq "$(counter report seen)" 9000 "counter from stderr"
printf 'k1\tv1\nk2\tv two\nk3\n' >"$TEST_TMP/kv.txt"
streaming kv -input "file://$TEST_TMP/kv.txt" -output "file://$TEST_TMP/kv" -inputformat keyvalue \
    -mapper 'sed "s/^/</; s/\$/>/"' -reducer NONE || fail "keyvalue: $(tail -5 "$TEST_TMP/kv.out")"
expect_eq "$(cat "$TEST_TMP/kv/part-m-00000")" "$(printf '<k1\tv1>\n<k2\tv two>\n<k3\t>')" \
    "key-value input as the mapper reads it"
streaming offsets -D stream.map.input.ignoreKey=false -input "file://$TEST_TMP/kv.txt" \
    -output "file://$TEST_TMP/offsets" -mapper cat -reducer NONE || fail "ignoreKey=false"
expect_eq "$(cut -f1 "$TEST_TMP/offsets/part-m-00000" | tr '\n' ' ')" "0 6 15 " \
    "text input's keys (byte offsets, in decimal) with stream.map.input.ignoreKey=false"

log "a mapper that prints 10 MB before reading its 2 MB of input, reducers 5 MB each"
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "line %d of the input, %s\n", i, "padding padding" }' \
    >"$TEST_TMP/two.txt"
BIG="awk 'BEGIN { for (i = 0; i < 200000; i++) printf \"k%d\t%045d\n\", i % 1000, i } { print \"in\t1\" }'"
BIGRED="awk -F'\t' 'BEGIN { for (i = 0; i < 50000; i++) printf \"r%d\t%095d\n\", i, i } { n++ } END { print \"total\t\" n }'"
streaming big -input "file://$TEST_TMP/two.txt" -output "file://$TEST_TMP/big" -mapper "$BIG" \
    -reducer "$BIGRED" -numReduceTasks 3 || fail "10 MB job: $(tail -5 "$TEST_TMP/big.out")"
expect_eq "$(grep -h '^total' "$TEST_TMP"/big/part-r-* | awk '{ n += $2 } END { print n }')" 250000 \
    "records through the reducers"
expect_eq "$(cat "$TEST_TMP"/big/part-r-* | wc -l)" 150003 "output lines"

log "failing commands: no output left"
for case in "exit3|cat; exit 3|subprocess failed with code 3" \
    "missing|no-such-mapper-command|subprocess failed with code 127" \
    "killed|kill -9 \$\$|subprocess failed with code 137" \
    "reducer|cat|subprocess failed with code 4|-reducer|cat >/dev/null; exit 4" \
    "pipe|head -1|Broken pipe" \
    "silent|sleep 30|failed to report status for 1 seconds|-D|mapreduce.task.timeout=1000"; do
    IFS='|' read -r name mapper message opt val <<<"$case"
    extra=()
    [ -n "${opt:-}" ] && extra=("$opt" "$val")
    input=$IN
    [ "$name" = pipe ] && input=$TEST_TMP/two.txt
    start=$SECONDS
    if streaming "f$name" "${extra[@]}" -input "file://$input" -output "file://$TEST_TMP/f$name" \
        -mapper "$mapper"; then
        fail "job '$name' succeeded: $(tail -5 "$TEST_TMP/f$name.out")"
    fi
    grep -q "$message" "$TEST_TMP/f$name.out" || fail "$name: no '$message': $(cat "$TEST_TMP/f$name.out")"
    grep -q "Job job_local.* failed" "$TEST_TMP/f$name.out" || fail "$name: no failure line"
    [ ! -e "$TEST_TMP/f$name" ] || fail "$name left $(ls -R "$TEST_TMP/f$name")"
    [ $((SECONDS - start)) -lt 20 ] || fail "$name took $((SECONDS - start)) s"
done
ls -d "$TEST_TMP"/ember-job_* 2>/dev/null && fail "a job's work directory was left behind"

log "usage errors"
ember streaming --help >"$TEST_TMP/help.out" || fail "--help failed"
grep -q "^Usage: ember streaming" "$TEST_TMP/help.out" || fail "no usage on --help"
for case in "Required argument: -input|-output|o|-mapper|cat" \
    "Required argument: -mapper|-input|i|-output|o" \
    "Missing argument for option: mapper|-input|i|-output|o|-mapper" \
    "Unrecognized option: -partitioner|-input|i|-output|o|-mapper|cat|-partitioner|x" \
    "does not exist, or is not readable|-input|i|-output|o|-mapper|cat|-file|/nope/x.sh"; do
    IFS='|' read -r -a args <<<"$case"
    status=0
    ember streaming "${args[@]:1}" >"$TEST_TMP/usage.out" 2>&1 || status=$?
    expect_eq "$status" 2 "exit status of ember streaming ${args[*]:1}"
    grep -q "${args[0]}" "$TEST_TMP/usage.out" || fail "no '${args[0]}': $(cat "$TEST_TMP/usage.out")"
done

log "on the cluster: input over several blocks on HDFS, -file, a combiner"
cluster_start 3 --core-nodes 2 -D dfs.replication=1 -D dfs.blocksize=1m
MR_FRAMEWORK=yarn
for i in 1 2 3 4 5; do cat "$IN"/part*.txt; done >"$TEST_TMP/five.txt"
awk -F'\t' '{ print $1 "\t" $2 * 5 }' "$TEST_TMP/expected" >"$TEST_TMP/expected5"
dfs -mkdir -p /stream/in || fail "mkdir"
dfs -put "$TEST_TMP/five.txt" /stream/in/five.txt || fail "put"
# hdfs_words DIR: DIR's parts on HDFS hold five times the expected counts.
hdfs_words() {
    dfs -cat "$1/part-r-*" | LC_ALL=C sort >"$TEST_TMP/got_hdfs" || fail "cat $1"
    cmp -s "$TEST_TMP/expected5" "$TEST_TMP/got_hdfs" ||
        fail "$1 differs: $(diff "$TEST_TMP/got_hdfs" "$TEST_TMP/expected5" | head -5)"
}
streaming hdfs -D mapreduce.map.speculative=false -input /stream/in -output hdfs:///stream/out \
    -mapper words.sh -file "$TEST_TMP/words.sh" -reducer "$COUNT" -numReduceTasks 2 ||
    fail "HDFS job: $(tail -5 "$TEST_TMP/hdfs.out")"
grep -q '^Running job: job_[0-9]*_[0-9]* (' "$TEST_TMP/hdfs.out" || fail "not run on the cluster"
[ "$(counter hdfs 'Launched map tasks')" -gt 1 ] || fail "expected a map per block"
dfs -test -e /stream/out/_SUCCESS || fail "no _SUCCESS on HDFS"
expect_eq "$(dfs -ls /stream/out | grep -c 'part-r-')" 2 "part files on HDFS"
hdfs_words /stream/out
dfs -ls -R /tmp/ember/staging 2>/dev/null | grep -q job_ && fail "staging left: $(dfs -ls -R /tmp/ember/staging)"
streaming hcomb -D mapreduce.task.io.sort.mb=1 -input /stream/in -output /stream/comb \
    -mapper "$ONES" -combiner "$SUM" -reducer "$SUM" -numReduceTasks 1 ||
    fail "combiner on the cluster: $(tail -5 "$TEST_TMP/hcomb.out")"
hdfs_words /stream/comb
dfs -cat /stream/comb/part-r-00000 | LC_ALL=C sort -c || fail "the single reduce's output is not sorted"
# A map of a 1 MiB block spills several times: the combiner runs at each
# spill and again when they merge, so the reduce gets at most what it put out.
cin=$(counter hcomb 'Combine input records') cout=$(counter hcomb 'Combine output records')
rin=$(counter hcomb 'Reduce input records')
[ "${cin:-0}" -ge "$(wc -w <"$TEST_TMP/five.txt")" ] && [ "${cout:-0}" -lt "$cin" ] &&
    [ "${rin:-0}" -gt 0 ] && [ "$rin" -le "$cout" ] ||
    fail "the combiner did not combine on the cluster: input $cin, output $cout, reduce input $rin"

log "on the cluster: map-only, -cmdenv and the configuration in the environment"
dfs -put "$IN/part0.txt" /stream/part0.txt || fail "put part0"
streaming henv -D my.own-key=42 -input /stream/part0.txt -output /stream/env -mapper "$ENVCMD" \
    -file "$TEST_TMP/words.sh" -cmdenv GREETING=hello -reducer NONE ||
    fail "env job on the cluster: $(tail -5 "$TEST_TMP/henv.out")"
expect_eq "$(dfs -ls /stream/env | grep -o 'part-.*' | tr '\n' ' ')" "part-m-00000 " "map-only parts"
dfs -cat /stream/env/part-m-00000 >"$TEST_TMP/henv.part" || fail "cat part-m-00000"
grep -qx "hello|0|true|0|42|task_[0-9]*_[0-9]*_m_000000" "$TEST_TMP/henv.part" ||
    fail "the mapper's environment on the cluster: $(cat "$TEST_TMP/henv.part")"
grep -qx "words.sh" "$TEST_TMP/henv.part" || fail "no words.sh in the task's directory"

log "on the cluster: a failing reducer fails the job with its error and leaves nothing"
streaming hdfsfail -input /stream/in -output /stream/failed -mapper 'cat' -reducer 'exit 5' &&
    fail "a failing reducer's job succeeded on the cluster"
grep -q "subprocess failed with code 5" "$TEST_TMP/hdfsfail.out" || fail "$(cat "$TEST_TMP/hdfsfail.out")"
grep -q "Job job_[0-9]*_[0-9]* failed" "$TEST_TMP/hdfsfail.out" || fail "no failure line"
dfs -test -e /stream/failed && fail "the failed job left /stream/failed on HDFS"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
