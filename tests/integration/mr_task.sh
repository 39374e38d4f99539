#!/usr/bin/env bash
# mr_task.sh -- `ember task`, one attempt of a distributed job, served by
# a stand-in worker (tests/tools/task_worker.c) over its umbilical, on
# file:// paths: job setup; wordcount's maps over chunks of the input;
# its reduces, one fetching every segment through the umbilical (memfds),
# one reading them straight from the maps' file.out (local read), one
# with ember.shuffle.local.read=false, one surviving an injected fetch
# failure and an obsolete event; the committed output equals local
# mode's; a refused commit leaves no part file; a map-only map commits
# part-m; a job other than ember_job_define()'s found by its offset in
# the library and checked by name (ember.job.offset, ember.job.name); a
# failing map reports TaskFailed and exits non-zero; a lost
# umbilical ends the task at once; setup refuses an existing OUT; cleanup
# commits (parts moved, _SUCCESS, history, staging gone) and aborts.
. "$(dirname "$0")/lib.sh"
: "${TASK_WORKER:?}" "${FAILING_JOB:?}" "${SLOW_JOB:?}"

W=$TEST_TMP
EXAMPLES=$(dirname "$EMBER")/examples
JOB=job_202612060000_0001
ID=${JOB#job_}
RUN=$W/run/mr/$JOB
mkdir -p "$RUN" "$W/staging" "$W/in"
awk 'BEGIN { srand(3); split("alpha beta gamma delta epsilon zeta eta theta iota kappa", v)
    for (l = 0; l < 3000; l++) { line = ""
        for (w = 0; w < 1 + int(rand() * 8); w++) line = line (w ? " " : "") v[1 + int(rand() * 10)]
        print line } }' >"$W/in/a.txt"
SIZE=$(stat -c %s "$W/in/a.txt")
HALF=$((SIZE / 2 + 3)) # inside a line: the split rule decides who reads it
OUT=$W/out

. "$(dirname "$0")/task_worker_lib.sh"

log "job setup makes OUT/_temporary; a second setup refuses the existing OUT"
attempt "attempt_${ID}_m_000002_0" setup --output "file://$OUT"
expect_done "attempt_${ID}_m_000002_0"
[ -d "$OUT/_temporary" ] || fail "setup made no $OUT/_temporary"
attempt "attempt_${ID}_m_000002_1" setup --output "file://$OUT"
expect_eq "$(field "attempt_${ID}_m_000002_1" result)" failed "second setup"
expect_eq "$(field "attempt_${ID}_m_000002_1" diagnostic)" \
    "Output directory file:$OUT already exists" "second setup's diagnostic"
[ "$(field "attempt_${ID}_m_000002_1" exit)" != 0 ] || fail "a failed setup exited 0"

MAP0=attempt_${ID}_m_000000_0
MAP1=attempt_${ID}_m_000001_0
WC="--library file://$EXAMPLES/wordcount.so --output file://$OUT --reduces 2 --maps 2"
log "two wordcount maps over halves of the input"
attempt "$MAP0" map $WC --index 0 --output-dir "$RUN/$MAP0" \
    --chunk "file://$W/in/a.txt,0,$HALF" --conf mapreduce.task.io.sort.mb=1
attempt "$MAP1" map $WC --index 1 --output-dir "$RUN/$MAP1" \
    --chunk "file://$W/in/a.txt,$HALF,$((SIZE - HALF))"
for m in "$MAP0" "$MAP1"; do
    expect_done "$m"
    [ -f "$RUN/$m/file.out" ] && [ -f "$RUN/$m/file.out.index" ] || fail "$m wrote no map output"
    expect_eq "$(field "$m" map_output_bytes)" "$(stat -c %s "$RUN/$m/file.out")" "$m's map_output_bytes"
    case $(field "$m" phases) in map*) ;; *) fail "$m's phases: $(field "$m" phases)" ;; esac
done

log "reduce 0 fetches both segments through the umbilical (memfds); a late event is ignored"
R0=attempt_${ID}_r_000000_0
attempt "$R0" reduce $WC --index 0 --output-dir "$RUN/$R0" --rank 7 \
    --event "0:$MAP0:3" --event "1:$MAP1:3" --late-event "0:$MAP0:3:obsolete"
expect_done "$R0"
expect_eq "$(field "$R0" fetches)" 2 "fetches of reduce 0"
expect_eq "$(field "$R0" commits)" 1 "commit requests of reduce 0"
expect_eq "$(field "$R0" phases)" "shuffle,merge,reduce,cleanup" "phases of reduce 0"
[ -f "$OUT/_temporary/part-r-00000" ] || fail "reduce 0 committed no part file"
[ ! -e "$OUT/_temporary/$R0" ] || fail "reduce 0 left its attempt directory"

log "reduce 0 again (its first attempt committed, then was lost): the commit replaces the part"
cp "$OUT/_temporary/part-r-00000" "$W/part0.first"
echo "a stale line" >"$OUT/_temporary/part-r-00000"
R0b=attempt_${ID}_r_000000_1
attempt "$R0b" reduce $WC --index 0 --output-dir "$RUN/$R0b" --rank 7 \
    --event "0:$MAP0:3" --event "1:$MAP1:3"
expect_done "$R0b"
cmp -s "$OUT/_temporary/part-r-00000" "$W/part0.first" ||
    fail "a second commit of reduce 0 did not replace the part file"

log "reduce 1, commit refused: no part file left"
R1a=attempt_${ID}_r_000001_0
attempt "$R1a" reduce $WC --index 1 --output-dir "$RUN/$R1a" --rank 3 \
    --event "0:$MAP0:3" --event "1:$MAP1:3" --deny-commit
expect_done "$R1a"
expect_eq "$(field "$R1a" fetches)" 0 "fetches of a reduce reading its own rank's outputs"
[ ! -e "$OUT/_temporary/part-r-00001" ] && [ ! -e "$OUT/_temporary/$R1a" ] ||
    fail "a refused commit left output: $(ls -R "$OUT/_temporary")"

log "reduce 1 again with ember.shuffle.local.read=false: fetched (one retried), committed"
R1b=attempt_${ID}_r_000001_1
attempt "$R1b" reduce $WC --index 1 --output-dir "$RUN/$R1b" --rank 3 \
    --event "0:$MAP0:3" --event "1:$MAP1:3" --conf ember.shuffle.local.read=false \
    --conf mapreduce.reduce.shuffle.parallelcopies=1 --fail-fetches 1
expect_done "$R1b"
expect_eq "$(field "$R1b" fetches)" 3 "fetches with local reads off, one failed"
[ "$(field "$R1b" elapsed_ms)" -ge 1000 ] || fail "a failed fetch was retried before its 1 s back-off"
gap=$(field "$R1b" min_gap_ms)
[ "$gap" -ge 400 ] || fail "progress frames of one phase $gap ms apart (at most one per 500 ms)"
[ -f "$OUT/_temporary/part-r-00001" ] || fail "reduce 1 committed no part file"

log "a reduce past a failed fetch and an obsolete event (into another OUT)"
OUTX=$W/outx
mkdir -p "$OUTX/_temporary"
RX=attempt_${ID}_r_000000_5
attempt "$RX" reduce --library "file://$EXAMPLES/wordcount.so" --output "file://$OUTX" \
    --reduces 2 --maps 2 --index 0 --output-dir "$RUN/$RX" --fail-fetches 1 \
    --event "0:attempt_${ID}_m_000000_9:3" --event "0:attempt_${ID}_m_000000_9:3:obsolete" \
    --event "0:$MAP0:3" --event "1:$MAP1:3"
expect_done "$RX"
[ "$(field "$RX" fetches)" -ge 3 ] || fail "expected a retried fetch: $(cat "$W/$RX.report")"
cmp -s "$OUTX/_temporary/part-r-00000" "$OUT/_temporary/part-r-00000" ||
    fail "the reduce past failed fetches wrote other output"

log "segments past the shuffle's memory are read from files, with the same result"
OUTS=$W/outs
mkdir -p "$OUTS/_temporary"
RS=attempt_${ID}_r_000000_6
attempt "$RS" reduce --library "file://$EXAMPLES/wordcount.so" --output "file://$OUTS" \
    --reduces 2 --maps 2 --index 0 --output-dir "$RUN/$RS" \
    --conf mapreduce.reduce.shuffle.input.buffer.percent=0 --event "0:$MAP0:3" --event "1:$MAP1:3"
expect_done "$RS"
expect_eq "$(field "$RS" fetches)" 2 "fetches of the spilling reduce"
cmp -s "$OUTS/_temporary/part-r-00000" "$OUT/_temporary/part-r-00000" ||
    fail "the reduce that spilled its segments wrote other output"

log "job cleanup commits: parts into OUT, _SUCCESS, history, staging removed"
C=attempt_${ID}_m_000003_0
attempt "$C" cleanup --output "file://$OUT" --commit-job --history '{"job":"wordcount"}' \
    --staging "file://$W/staging" --conf "mapreduce.jobhistory.done-dir=file://$W/history"
expect_done "$C"
expect_eq "$(ls "$OUT" | tr '\n' ' ')" "_SUCCESS part-r-00000 part-r-00001 " "files in OUT"
expect_eq "$(cat "$W/history/$JOB.json")" '{"job":"wordcount"}' "history record"
[ ! -e "$W/staging" ] || fail "cleanup left the staging directory"

log "the output equals local mode's"
"$EMBER" run wordcount -D mapreduce.job.reduces=2 "file://$W/in" "file://$W/local" \
    >"$W/local.out" 2>&1 || fail "local mode failed: $(tail -5 "$W/local.out")"
for p in part-r-00000 part-r-00001; do
    cmp -s "$OUT/$p" "$W/local/$p" || fail "$p differs from local mode's: $(diff "$OUT/$p" "$W/local/$p" | head -5)"
done
[ -s "$OUT/part-r-00000" ] && [ -s "$OUT/part-r-00001" ] || fail "empty output"

log "a map-only streaming map with a -file script commits part-m-00000"
OUTM=$W/outm
mkdir -p "$OUTM/_temporary" "$W/shipped"
printf '#!/bin/sh\necho "$mapreduce_task_attempt_id" >%s/seen\nexec tr a-z A-Z\n' "$W" \
    >"$W/shipped/upper.sh"
MM=attempt_${ID}_m_000000_7
attempt "$MM" map --output "file://$OUTM" --reduces 0 --maps 1 --index 0 \
    --file "file://$W/shipped/upper.sh" --conf "stream.map.streamprocessor=upper.sh" \
    --chunk "file://$W/in/a.txt,0,$SIZE"
expect_done "$MM"
[ -x "$W/$MM.wd/upper.sh" ] || fail "the -file script was not copied into the working directory"
expect_eq "$(cat "$W/seen")" "$MM" "the command's mapreduce_task_attempt_id"
tr a-z A-Z <"$W/in/a.txt" | cmp -s - "$OUTM/_temporary/part-m-00000" ||
    fail "map-only output differs"

log "a job found by its offset in the library (grep's search, not ember_job_define()'s)"
OUTG=$W/outg
mkdir -p "$OUTG/_temporary"
# A shared object's symbol value is its offset from the load base.
OFF=$((16#$(nm "$EXAMPLES/grep.so" | sed -n 's/^\([0-9a-f]*\) d grep_search$/\1/p')))
[ "$OFF" -gt 0 ] || fail "no grep_search in $(nm "$EXAMPLES/grep.so" | grep grep_)"
GREP="--library file://$EXAMPLES/grep.so --output file://$OUTG --reduces 0 --maps 1 --index 0
    --chunk file://$W/in/a.txt,0,$SIZE --conf mapreduce.mapper.regex=alpha"
MG=attempt_${ID}_m_000000_11
attempt "$MG" map $GREP --conf ember.job.offset=$OFF --conf ember.job.name=grep-search
expect_done "$MG"
# The search's map emits "alpha" and a binary 1 per match (the sort's
# would have read the line offsets as counts).
expect_eq "$(grep -ac '^alpha	' "$OUTG/_temporary/part-m-00000")" "$(grep -o alpha "$W/in/a.txt" | wc -l)" \
    "matches the search job's map emitted"
MG=attempt_${ID}_m_000000_12
attempt "$MG" map $GREP --conf ember.job.offset=$OFF --conf ember.job.name=grep-sort
expect_eq "$(field "$MG" result)" failed "a job of another name at the offset"
case $(field "$MG" diagnostic) in
    *"the job at offset $OFF is 'grep-search', not 'grep-sort'"*) ;;
    *) fail "diagnostic: $(field "$MG" diagnostic)" ;;
esac
MG=attempt_${ID}_m_000000_13
attempt "$MG" map $GREP --conf ember.job.offset=12x --conf ember.job.name=grep-search
expect_eq "$(field "$MG" diagnostic)" "ember.job.offset: '12x' is not a number" "a bad offset"
MG=attempt_${ID}_m_000000_14
attempt "$MG" map $GREP --conf ember.job.offset=$((1 << 40)) --conf ember.job.name=grep-search
case $(field "$MG" diagnostic) in
    */job.so": offset $((1 << 40)) is outside the library") ;;
    *) fail "an offset past the library: $(field "$MG" diagnostic)" ;;
esac

log "a reduce that reads for seconds and writes nothing still reports progress"
OUTQ=$W/outq
mkdir -p "$OUTQ/_temporary"
SLOW="--library file://$SLOW_JOB --output file://$OUTQ --reduces 1 --maps 1 --index 0"
MQ=attempt_${ID}_m_000000_10
attempt "$MQ" map $SLOW --output-dir "$RUN/$MQ" --chunk "file://$W/in/a.txt,0,$SIZE"
expect_done "$MQ"
RQ=attempt_${ID}_r_000000_10
attempt "$RQ" reduce $SLOW --output-dir "$RUN/$RQ" --event "0:$MQ:7"
expect_done "$RQ"
[ ! -s "$OUTQ/_temporary/part-r-00000" ] || fail "the silent reduce wrote something"
# 3,000 values at 1 ms each: 3 s or more in the reduce phase, a frame per 500 ms.
[ "$(field "$RQ" progress)" -ge 7 ] ||
    fail "no progress while reducing 3000 records: $(cat "$W/$RQ.report")"

log "a failing map reports TaskFailed and exits non-zero"
printf 'fine\nPOISON here\n' >"$W/in/poison.txt"
MF=attempt_${ID}_m_000000_8
attempt "$MF" map --library "file://$FAILING_JOB" --output "file://$OUT" --reduces 1 --maps 1 \
    --index 0 --output-dir "$RUN/$MF" --chunk "file://$W/in/poison.txt,0,17"
expect_eq "$(field "$MF" result)" failed "the failing map's result"
[ "$(field "$MF" exit)" = 1 ] || fail "the failing map exited $(field "$MF" exit)"
case $(field "$MF" diagnostic) in
    "map task 0 failed: the job's map refused record 2 of file:$W/in/poison.txt"*) ;;
    *) fail "diagnostic: $(field "$MF" diagnostic)" ;;
esac

log "a lost umbilical ends the task at once"
ML=attempt_${ID}_m_000000_6
attempt "$ML" map --output "file://$OUT" --reduces 1 --maps 1 --index 0 \
    --output-dir "$RUN/$ML" --chunk "file://$W/in/a.txt,0,$SIZE" \
    --conf "stream.map.streamprocessor=sleep 60" --drop-after-progress
expect_eq "$(field "$ML" exit)" 3 "exit status after the umbilical was lost"
[ "$(field "$ML" elapsed_ms)" -lt 30000 ] || fail "the task lingered: $(cat "$W/$ML.report")"

log "job cleanup aborts: OUT removed, history written"
OUTA=$W/outa
attempt "attempt_${ID}_m_000002_5" setup --output "file://$OUTA"
expect_done "attempt_${ID}_m_000002_5"
mkdir -p "$W/staging2"
CA=attempt_${ID}_m_000003_5
attempt "$CA" cleanup --output "file://$OUTA" --remove-output --history '{"state":"FAILED"}' \
    --staging "file://$W/staging2" --conf "mapreduce.jobhistory.done-dir=file://$W/history2"
expect_done "$CA"
[ ! -e "$OUTA" ] || fail "abort left OUT"
[ ! -e "$W/staging2" ] || fail "abort left the staging directory"
expect_eq "$(cat "$W/history2/$JOB.json")" '{"state":"FAILED"}' "history record of an abort"

log "passed"
