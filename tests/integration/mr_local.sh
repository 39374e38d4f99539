#!/usr/bin/env bash
# mr_local.sh -- MapReduce jobs in local mode (`ember run`, `ember jar`):
# wordcount over many splits and 3 reduces matches an independent
# reference (tr | sort | uniq -c) on local files, and on HDFS on the
# cluster (mapreduce.framework.name=yarn); the output is
# part-r-00000..2, each sorted, plus _SUCCESS; a job over empty input
# succeeds with empty parts; map output compressed with lz4 and zstd (and
# combined at spill, Hadoop's way) gives the same words in fewer bytes;
# bad input gets one clear line and a non-zero exit, and a failed job
# leaves no output directory.
. "$(dirname "$0")/lib.sh"
: "${FAILING_JOB:?}" "${NOT_A_JOB:?}"

IN=$TEST_TMP/in
mkdir -p "$IN"
# Three files of words from a small vocabulary: spaces and tabs between
# words, CRLF and LF line ends, empty lines, a last line without newline.
awk 'BEGIN { srand(7); split("alpha beta gamma delta epsilon zeta eta theta iota kappa", v)
    for (f = 0; f < 3; f++) {
        file = sprintf("'"$IN"'/part%d.txt", f)
        for (l = 0; l < 4000; l++) {
            n = int(rand() * 9); line = ""
            for (w = 0; w < n; w++) line = line (w ? (rand() < 0.2 ? "\t" : " ") : "") v[1 + int(rand() * 10)] (rand() < 0.1 ? l % 7 : "")
            printf "%s%s", line, (rand() < 0.3 ? "\r\n" : "\n") > file
        }
        printf "lastword" > file
    } }'
touch "$IN/_ignored_by_hadoop" "$IN/.hidden"
reference() {
    cat "$IN"/part*.txt | tr ' \t\r\f' '\n\n\n\n' | grep -v '^$' | LC_ALL=C sort | uniq -c |
        awk '{ print $2 "\t" $1 }'
}
reference >"$TEST_TMP/expected"

# check_output DIR (local): three sorted parts, _SUCCESS, nothing else,
# and together the expected lines.
check_output() {
    local out=$1
    [ -f "$out/_SUCCESS" ] || fail "$out: no _SUCCESS"
    expect_eq "$(ls "$out" | tr '\n' ' ')" "_SUCCESS part-r-00000 part-r-00001 part-r-00002 " \
        "files in $out"
    for p in "$out"/part-r-*; do
        LC_ALL=C sort -c "$p" || fail "$p is not sorted"
    done
    cat "$out"/part-r-* | LC_ALL=C sort >"$TEST_TMP/got"
    cmp -s "$TEST_TMP/got" "$TEST_TMP/expected" ||
        fail "wordcount differs from the reference: $(diff "$TEST_TMP/got" "$TEST_TMP/expected" | head -5)"
}

log "wordcount on local files: 3 reduces, 64 KiB splits"
ember run wordcount -D mapreduce.job.reduces=3 \
    -D mapreduce.input.fileinputformat.split.maxsize=65536 -D mapreduce.task.io.sort.mb=1 \
    "file://$IN" "file://$TEST_TMP/out1" >"$TEST_TMP/run1.out" 2>&1 ||
    fail "wordcount failed: $(tail -5 "$TEST_TMP/run1.out")"
check_output "$TEST_TMP/out1"
grep -q "completed successfully" "$TEST_TMP/run1.out" || fail "no success line"
maps=$(sed -n 's/^\t\tLaunched map tasks=//p' "$TEST_TMP/run1.out")
[ "${maps:-0}" -gt 3 ] || fail "expected several map tasks over 64 KiB splits, got '$maps'"
words=$(cat "$IN"/part*.txt | tr ' \t\r\f' '\n\n\n\n' | grep -vc '^$')
expect_eq "$(sed -n 's/^\t\tMap output records=//p' "$TEST_TMP/run1.out")" "$words" \
    "Map output records"
lines=$(cat "$IN"/part*.txt | wc -l)
expect_eq "$(sed -n 's/^\t\tMap input records=//p' "$TEST_TMP/run1.out")" "$((lines + 3))" \
    "Map input records (the last lines have no newline)"

log "wordcount's words: bytes below '!' other than the delimiters are letters"
# Words of 1 to 40 bytes with control bytes (\001 \013 \037, not Java's
# delimiters), NULs and UTF-8, across 8-byte boundaries, between runs of
# every delimiter (space, tab, form feed, CR; LF ends the line).
awk 'BEGIN { srand(3); split("a b c d e f g h", v); ctl[1] = "\001"; ctl[2] = "\013"
    ctl[3] = "\037"; ctl[4] = "\303\251"; ctl[5] = "\000"; split(" ,\t,\f,\r", d, ",")
    for (l = 0; l < 3000; l++) {
        n = int(rand() * 6); line = ""
        for (w = 0; w < n; w++) {
            len = 1 + int(rand() * 40); word = ""
            for (i = 0; i < len; i++) word = word (rand() < 0.1 ? ctl[1 + int(rand() * 5)] : v[1 + int(rand() * 8)])
            line = line word
            k = 1 + int(rand() * 3); for (i = 0; i < k; i++) line = line d[1 + int(rand() * 4)]
        }
        print line
    } }' >"$TEST_TMP/odd.txt"
tr ' \t\r\f' '\n\n\n\n' <"$TEST_TMP/odd.txt" | grep -av '^$' | LC_ALL=C sort | uniq -c |
    awk '{ c = $1; sub(/^ *[0-9]+ /, ""); print $0 "\t" c }' | LC_ALL=C sort >"$TEST_TMP/odd.expected"
ember run wordcount "file://$TEST_TMP/odd.txt" "file://$TEST_TMP/odd.out" >"$TEST_TMP/odd.log" 2>&1 ||
    fail "wordcount of control bytes failed: $(tail -5 "$TEST_TMP/odd.log")"
LC_ALL=C sort "$TEST_TMP/odd.out"/part-r-* >"$TEST_TMP/odd.got"
cmp -s "$TEST_TMP/odd.got" "$TEST_TMP/odd.expected" ||
    fail "wordcount of control bytes differs: $(diff -a "$TEST_TMP/odd.got" "$TEST_TMP/odd.expected" | head -5 | od -c | head -5)"
grep -aq $'\001' "$TEST_TMP/odd.got" && grep -aq $'\013' "$TEST_TMP/odd.got" ||
    fail "no word kept its control bytes"

log "map output compressed (lz4, zstd), and combined the Hadoop way"
plain=$(sed -n 's/^\t\tMap output materialized bytes=//p' "$TEST_TMP/run1.out")
for codec in lz4 org.apache.hadoop.io.compress.ZStandardCodec; do
    rm -rf "$TEST_TMP/outz"
    ember run wordcount -D mapreduce.job.reduces=3 -D mapreduce.map.output.compress=true \
        -D mapreduce.map.output.compress.codec=$codec -D ember.map.combine.hash=false \
        -D mapreduce.input.fileinputformat.split.maxsize=65536 -D mapreduce.task.io.sort.mb=1 \
        "file://$IN" "file://$TEST_TMP/outz" >"$TEST_TMP/runz.out" 2>&1 ||
        fail "wordcount with $codec map output failed: $(tail -5 "$TEST_TMP/runz.out")"
    check_output "$TEST_TMP/outz"
    packed=$(sed -n 's/^\t\tMap output materialized bytes=//p' "$TEST_TMP/runz.out")
    [ "${packed:-0}" -gt 0 ] && [ "$packed" -lt "$plain" ] ||
        fail "$codec: materialized bytes $packed, not under the uncompressed $plain"
done
ember run wordcount -D mapreduce.map.output.compress=true \
    -D mapreduce.map.output.compress.codec=org.example.NoCodec "file://$IN" \
    "file://$TEST_TMP/outz2" >"$TEST_TMP/runz2.out" 2>&1 && fail "an unknown codec was taken"
grep -q "Compression codec org.example.NoCodec was not found" "$TEST_TMP/runz2.out" ||
    fail "no unknown-codec message: $(cat "$TEST_TMP/runz2.out")"
[ ! -e "$TEST_TMP/outz2" ] || fail "a job with an unknown codec left its output"

log "an existing output directory is refused and left as it was"
if ember run wordcount "file://$IN" "file://$TEST_TMP/out1" >"$TEST_TMP/run2.out" 2>&1; then
    fail "a job into an existing output directory succeeded"
fi
grep -q "Output directory file:$TEST_TMP/out1 already exists" "$TEST_TMP/run2.out" ||
    fail "no FileAlreadyExists message: $(cat "$TEST_TMP/run2.out")"
check_output "$TEST_TMP/out1"

log "missing input, unknown example, not a job library, bad -D"
ember run wordcount "file://$TEST_TMP/nope" "file://$TEST_TMP/out3" >"$TEST_TMP/run3.out" 2>&1 &&
    fail "a job over a missing input succeeded"
grep -q "Input path does not exist: file:$TEST_TMP/nope" "$TEST_TMP/run3.out" ||
    fail "no missing-input message: $(cat "$TEST_TMP/run3.out")"
[ ! -e "$TEST_TMP/out3" ] || fail "a failed job left its output directory"
ember run nosuchexample a b >"$TEST_TMP/run4.out" 2>&1 && fail "an unknown example ran"
grep -q "unknown example 'nosuchexample'" "$TEST_TMP/run4.out" || fail "$(cat "$TEST_TMP/run4.out")"
ember jar "$NOT_A_JOB" "file://$IN" "file://$TEST_TMP/out5" >"$TEST_TMP/run5.out" 2>&1 &&
    fail "a library without ember_job_define ran"
grep -q "is not an ember job library" "$TEST_TMP/run5.out" || fail "$(cat "$TEST_TMP/run5.out")"
ember run wordcount -D mapreduce.job.reduces=lots "file://$IN" "file://$TEST_TMP/out6" \
    >"$TEST_TMP/run6.out" 2>&1 && fail "a bad -D value was taken"
grep -q "mapreduce.job.reduces: 'lots' is not a number" "$TEST_TMP/run6.out" ||
    fail "$(cat "$TEST_TMP/run6.out")"

log "a map that fails mid-job leaves no output"
cp "$IN/part1.txt" "$TEST_TMP/poisoned.txt"
echo "this line is POISON" >>"$TEST_TMP/poisoned.txt"
ember jar "$FAILING_JOB" -D mapreduce.input.fileinputformat.split.maxsize=65536 \
    "file://$IN/part0.txt" "file://$TEST_TMP/poisoned.txt" "file://$TEST_TMP/out7" \
    >"$TEST_TMP/run7.out" 2>&1 && fail "a failing map's job succeeded"
grep -q "map task .* failed" "$TEST_TMP/run7.out" || fail "$(cat "$TEST_TMP/run7.out")"
[ ! -e "$TEST_TMP/out7" ] || fail "the failed job left $(ls -R "$TEST_TMP/out7")"

log "empty input: success, empty parts"
: >"$TEST_TMP/empty.txt"
ember run wordcount "file://$TEST_TMP/empty.txt" "file://$TEST_TMP/out8" >/dev/null 2>&1 ||
    fail "wordcount of an empty file failed"
[ -f "$TEST_TMP/out8/_SUCCESS" ] && [ ! -s "$TEST_TMP/out8/part-r-00000" ] ||
    fail "empty input: $(ls -l "$TEST_TMP/out8")"

log "wordcount on the cluster: input over many blocks, output on HDFS"
cluster_start 3 --core-nodes 2 -D dfs.replication=1 -D dfs.blocksize=1m
cat "$IN"/part*.txt >"$TEST_TMP/all.txt"
for i in 1 2 3 4 5 6 7 8; do cat "$TEST_TMP/all.txt"; done >"$TEST_TMP/big.txt"
dfs -mkdir -p /jobs/in || fail "mkdir"
dfs -put "$TEST_TMP/big.txt" /jobs/in/big.txt || fail "put"
# No speculative maps: the bytes read are bounded per map launched.
ember run wordcount -D mapreduce.job.reduces=3 -D mapreduce.framework.name=yarn \
    -D mapreduce.map.speculative=false -D mapreduce.task.io.sort.mb=4 /jobs/in hdfs:///jobs/out >"$TEST_TMP/run9.out" 2>&1 ||
    fail "wordcount on HDFS failed: $(tail -5 "$TEST_TMP/run9.out")"
grep -q '^Running job: job_[0-9]*_[0-9]* (' "$TEST_TMP/run9.out" || fail "not run on the cluster"
maps=$(sed -n 's/^\t\tLaunched map tasks=//p' "$TEST_TMP/run9.out")
[ "${maps:-0}" -gt 1 ] || fail "expected a map per block, got '$maps'"
dfs -test -e /jobs/out/_SUCCESS || fail "no _SUCCESS on HDFS"
dfs -cat '/jobs/out/part-r-*' | LC_ALL=C sort >"$TEST_TMP/got9" || fail "cat of the output"
# The files were joined without their last newlines: "lastword" ends up
# glued to the next file's first word, so compare with the joined text.
tr ' \t\r\f' '\n\n\n\n' <"$TEST_TMP/big.txt" | grep -v '^$' | LC_ALL=C sort | uniq -c |
    awk '{ print $2 "\t" $1 }' | LC_ALL=C sort >"$TEST_TMP/expected9"
cmp -s "$TEST_TMP/got9" "$TEST_TMP/expected9" ||
    fail "HDFS wordcount differs: $(diff "$TEST_TMP/got9" "$TEST_TMP/expected9" | head -5)"
# Every byte read once, plus what each split reads past its end to finish
# its last line (as Hadoop's counter counts it too).
read=$(sed -n 's/^\t\tHDFS: Number of bytes read=//p' "$TEST_TMP/run9.out")
size=$(stat -c %s "$TEST_TMP/big.txt")
[ "${read:-0}" -ge "$size" ] && [ "$read" -le $((size + maps * 1048576)) ] ||
    fail "HDFS bytes read: $read for a file of $size bytes"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
