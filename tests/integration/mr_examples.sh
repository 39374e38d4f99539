#!/usr/bin/env bash
# mr_examples.sh -- Hadoop's examples through `ember run` (local mode),
# each against a reference computed here independently of ember:
#   grep       `grep -oE | sort | uniq -c`, sorted by count (1 and 3 reduces,
#              a group, bad regex, empty input);
#   sort       `LC_ALL=C sort` (0, 1, 3 reduces; each part sorted);
#   teragen    a Python gensort (the generator stepped one row at a time,
#              not skipped ahead) and the keys Hadoop's Random16 table
#              publishes (row 0 is "JimGrayRIP"); the same bytes for 1 or
#              7 maps; its CHECKSUM counter against Python's CRC32 sum;
#   terasort   output sorted across part files (od + `sort -c` on the
#              keys, and Python), the same records as its input, parts
#              of even size; 1, 3 and 5 reduces; more reduces than keys;
#              map output compressed with lz4 and with zstd;
#   teravalidate  Python's checksum; misorders within and across files;
#   pi         Hadoop's published estimates, an exact rational Halton
#              reference (Python), within 0.01 of pi for 40,000 samples;
#   join       an awk inner join (1 and 3 reduces, a self-join);
# and on the cluster (mapreduce.framework.name=yarn: the scheduler, tasks
# in containers, the shuffle over MPI): teragen -> terasort ->
# teravalidate on HDFS with 1 MiB blocks, the input spanning several
# blocks, grep on HDFS (its search job is not the one the library's
# ember_job_define() returns: the tasks find it by its offset; with
# --async, which waits for a job whose temporaries the driver removes),
# pi (its temporary on HDFS), sort and join, a job library of API version
# 1, and --async followed by `ember job -status`; and a job library of API
# version 1 in local mode.
. "$(dirname "$0")/lib.sh"
: "${V1_JOB:?}"
command -v python3 >/dev/null || fail "python3 is needed for the references"
T=$TEST_TMP

# run NAME ARGS...: `ember run`, its output in $T/run.out; fails the test
# when the job fails.  Sort buffers of 4 MiB: a sanitized run pays for
# every 100 MiB default one a map allocates.  $MR_EXAMPLES_D (unset here)
# adds -D options to every run, to try the whole script another way:
#   MR_EXAMPLES_D="-D mapreduce.map.output.compress=true" ctest -R mr_examples
# shellcheck disable=SC2086 # MR_EXAMPLES_D is words
run() {
    ember run "$@" -D mapreduce.task.io.sort.mb=4 -D mapreduce.framework.name="$MR_FRAMEWORK" \
        ${MR_EXAMPLES_D:-} >"$T/run.out" 2>&1 ||
        fail "ember run $*: $(tail -5 "$T/run.out")"
}
# run_fails PATTERN NAME ARGS...: the run must fail with PATTERN in its output.
run_fails() {
    local pattern=$1
    shift
    if ember run "$@" >"$T/run.out" 2>&1; then
        fail "ember run $* succeeded"
    fi
    grep -q -- "$pattern" "$T/run.out" || fail "ember run $*: no '$pattern' in $(cat "$T/run.out")"
}
counter() { sed -n "s/^\t\t$1=//p" "$T/run.out" | tail -1; }
# Where jobs run: local mode (this process) unless said otherwise.
MR_FRAMEWORK=${MR_FRAMEWORK:-local}

# ---- grep ----
mkdir -p "$T/text"
awk 'BEGIN { srand(11); split("foo bar baz qux barbar x1 y22 z333 Tab\tbed a7b", v)
    for (f = 0; f < 2; f++) {
        file = sprintf("'"$T"'/text/t%d.txt", f)
        for (l = 0; l < 3000; l++) {
            n = int(rand() * 8); s = ""
            for (w = 0; w < n; w++) s = s (w ? " " : "") v[1 + int(rand() * 11)]
            print s > file
        }
    } }'
: >"$T/empty.txt"
grep_reference() { # REGEX [SED]: count<TAB>match, count descending, then match
    cat "$T"/text/*.txt | grep -oE "$1" | sed -E "${2:-}" | LC_ALL=C sort | uniq -c |
        sed -E 's/^ *([0-9]+) /\1\t/' | LC_ALL=C sort -t "$(printf '\t')" -k1,1nr -k2
}
REGEX='[a-z]+[0-9]+|ba[rz]|Tab.b'
grep_reference "$REGEX" >"$T/grep.expected"
[ "$(wc -l <"$T/grep.expected")" -ge 6 ] || fail "the grep reference is too small"
for reduces in 1 3; do
    log "grep, $reduces reduce(s) in the search, 16 KiB splits"
    run grep -D mapreduce.job.reduces=$reduces -D mapreduce.input.fileinputformat.split.maxsize=16384 \
        "file://$T/text" "file://$T/grep$reduces" "$REGEX"
    expect_eq "$(grep -c '^Running job' "$T/run.out")" 2 "grep runs two jobs"
    expect_eq "$(ls "$T/grep$reduces" | tr '\n' ' ')" "_SUCCESS part-r-00000 " "grep output files"
    cmp -s "$T/grep$reduces/part-r-00000" "$T/grep.expected" ||
        fail "grep differs: $(diff "$T/grep$reduces/part-r-00000" "$T/grep.expected" | head -5)"
    [ -z "$(ls -A "$T" | grep -e '-temp')" ] || fail "grep left its temporary directory: $(ls "$T")"
done
log "grep with a group"
run grep "file://$T/text" "file://$T/grepg" '([a-z]+)([0-9]+)' 2
grep_reference '[a-z]+[0-9]+' 's/[a-z]+//' >"$T/grepg.expected"
cmp -s "$T/grepg/part-r-00000" "$T/grepg.expected" ||
    fail "grep group 2 differs: $(diff "$T/grepg/part-r-00000" "$T/grepg.expected" | head -5)"
log "grep: bad regex, bad group, empty input, usage"
run_fails "bad regular expression '(ab'" grep "file://$T/text" "file://$T/grepx" '(ab'
run_fails "group '2': the regular expression has 1 group" grep "file://$T/text" "file://$T/grepx" '(a)' 2
[ ! -e "$T/grepx" ] || fail "a failed grep left its output"
run grep "file://$T/empty.txt" "file://$T/grepe" foo
[ -f "$T/grepe/_SUCCESS" ] && [ ! -s "$T/grepe/part-r-00000" ] || fail "grep of empty input"
ember run grep "file://$T/text" >"$T/run.out" 2>&1
expect_eq "$?" 2 "grep with too few arguments exits 2"
grep -q "Usage: ember run grep .*<in> <out> <regex> \[<group>\]" "$T/run.out" || fail "$(cat "$T/run.out")"

# ---- sort ----
LC_ALL=C sort "$T"/text/*.txt >"$T/sort.expected"
for reduces in 0 1 3; do
    log "sort, $reduces reduces"
    run sort -D mapreduce.job.reduces=$reduces -D mapreduce.input.fileinputformat.split.maxsize=16384 \
        "file://$T/text" "file://$T/sort$reduces"
    cat "$T/sort$reduces"/part-* | LC_ALL=C sort | cmp -s - "$T/sort.expected" ||
        fail "sort ($reduces reduces) lost or changed lines"
    if [ $reduces -gt 0 ]; then
        expect_eq "$(ls "$T/sort$reduces" | grep -c part-r-)" $reduces "sort part files"
        for p in "$T/sort$reduces"/part-r-*; do
            LC_ALL=C sort -c "$p" || fail "$p is not sorted"
        done
    fi
done
cmp -s "$T/sort1/part-r-00000" "$T/sort.expected" || fail "sort with one reduce is not the whole input sorted"
run sort "file://$T/empty.txt" "file://$T/sorte"
[ ! -s "$T/sorte/part-r-00000" ] || fail "sort of empty input is not empty"
log "a job library of API version 1 runs as IN... OUT"
ember jar "$V1_JOB" "file://$T/text/t0.txt" "file://$T/text/t1.txt" "file://$T/v1" >"$T/run.out" 2>&1 ||
    fail "the version 1 job failed: $(tail -5 "$T/run.out")"
cmp -s "$T/v1/part-r-00000" "$T/sort.expected" || fail "the version 1 job's output differs"

# ---- teragen ----
cat >"$T/gensort.py" <<'EOF'
# Independent gensort: the 128-bit generator stepped once per row from 0.
import sys, zlib
A = 0x2360ed051fc65da44385df649fccf645
C = 0x4a696d47726179524950202020202001
x, out = 0, bytearray()
for row in range(int(sys.argv[1])):
    x = (A * x + C) % (1 << 128)
    h = '%032X' % x
    out += x.to_bytes(16, 'big')[:10] + b'\x00\x11' + ('%032X' % row).encode()
    out += b'\x88\x99\xaa\xbb' + b''.join(c.encode() * 4 for c in h[20:32]) + b'\xcc\xdd\xee\xff'
open(sys.argv[2], 'wb').write(out)
crc = sum(zlib.crc32(out[i:i + 100]) for i in range(0, len(out), 100))
print(crc, '%x' % crc)
EOF
read -r SUM SUMHEX < <(python3 "$T/gensort.py" 5000 "$T/gensort.bin") || fail "gensort.py"
log "teragen 5000 rows, 7 maps and 1 map"
run teragen -D mapreduce.job.maps=7 5000 "file://$T/tg7"
expect_eq "$(ls "$T/tg7" | tr '\n' ' ')" \
    "_SUCCESS part-m-00000 part-m-00001 part-m-00002 part-m-00003 part-m-00004 part-m-00005 part-m-00006 " \
    "teragen output files"
cat "$T"/tg7/part-m-* | cmp -s - "$T/gensort.bin" || fail "teragen (7 maps) differs from gensort.py"
expect_eq "$(counter CHECKSUM)" "$SUM" "teragen's CHECKSUM counter"
# Range m of 5000 rows over 7 maps ends at ceil(5000 * (m + 1) / 7).
expect_eq "$(stat -c %s "$T/tg7/part-m-00000")" 71500 "the first range's bytes (715 rows)"
run teragen -D mapreduce.job.maps=1 5000 "file://$T/tg1"
cmp -s "$T/tg1/part-m-00000" "$T/gensort.bin" || fail "teragen (1 map) differs"
# Rows 2^i - 1 are the generator after 2^i steps: the "c" column of the
# table Hadoop's Random16 publishes; row 0's key reads "JimGrayRIP".
keys=$(od -An -v -tx1 -w100 "$T/tg1/part-m-00000" | tr -d ' ' | cut -c1-20 | sed -n '1p;2p;4p;8p' | tr '\n' ' ')
expect_eq "$keys" "4a696d47726179524950 95e0e48262b3edfe0447 882a02c315362b60765f 5efc4abfaca23e8ca8ed " \
    "teragen keys of rows 0, 1, 3, 7"
expect_eq "$(head -c 10 "$T/tg1/part-m-00000")" JimGrayRIP "row 0's key as text"
expect_eq "$(head -c 144 "$T/tg1/part-m-00000" | tail -c 32)" 00000000000000000000000000000001 \
    "row 1's row id"
run teragen 0 "file://$T/tg0"
[ -z "$(cat "$T"/tg0/part-m-*)" ] || fail "teragen of 0 rows wrote records"
run_fails "'12x' is not a number of rows" teragen 12x "file://$T/tgx"

# ---- terasort and teravalidate ----
# check_sorted DIR PARTS: the parts hold gensort.bin's records, keys in
# order across the files in name order (od + sort -c, and Python).
check_sorted() {
    local dir=$1 parts=$2
    expect_eq "$(ls "$dir" | grep -c part-r-)" "$parts" "part files in $dir"
    cat "$dir"/part-r-* | od -An -v -tx1 -w100 | tr -d ' ' | cut -c1-20 | LC_ALL=C sort -c ||
        fail "$dir is not globally sorted"
    python3 - "$dir" "$T/gensort.bin" <<'EOF' || fail "$dir: records differ from the input"
import glob, sys
out = b''.join(open(p, 'rb').read() for p in sorted(glob.glob(sys.argv[1] + '/part-r-*')))
ref = open(sys.argv[2], 'rb').read()
recs = [out[i:i + 100] for i in range(0, len(out), 100)]
assert len(out) % 100 == 0 and [r[:10] for r in recs] == sorted(r[:10] for r in recs)
assert sorted(recs) == sorted(ref[i:i + 100] for i in range(0, len(ref), 100))
EOF
}
for reduces in 1 3 5; do
    log "terasort, $reduces reduces, 100 KiB splits; teravalidate"
    run terasort -D mapreduce.job.reduces=$reduces -D mapreduce.input.fileinputformat.split.maxsize=102400 \
        "file://$T/tg7" "file://$T/ts$reduces"
    check_sorted "$T/ts$reduces" $reduces
    run teravalidate "file://$T/ts$reduces" "file://$T/tv$reduces"
    expect_eq "$(cat "$T/tv$reduces/part-r-00000")" "checksum	$SUMHEX" "teravalidate report"
done
for codec in lz4 zstd; do
    log "terasort, 3 reduces, map output compressed with $codec; teravalidate"
    run terasort -D mapreduce.job.reduces=3 -D mapreduce.input.fileinputformat.split.maxsize=102400 \
        -D mapreduce.map.output.compress=true -D mapreduce.map.output.compress.codec=$codec \
        "file://$T/tg7" "file://$T/tsz$codec"
    check_sorted "$T/tsz$codec" 3
    run teravalidate "file://$T/tsz$codec" "file://$T/tvz$codec"
    expect_eq "$(cat "$T/tvz$codec/part-r-00000")" "checksum	$SUMHEX" "teravalidate report"
done
# The whole input was sampled: 5 parts of exactly 1000 records.
expect_eq "$(stat -c %s "$T"/ts5/part-r-* | sort -u)" 100000 "terasort part sizes"
log "teravalidate finds a misorder in a file and across files"
mkdir "$T/bad"
python3 - "$T/ts3" "$T/bad" <<'EOF'
import sys
src, dst = sys.argv[1], sys.argv[2]
p0 = bytearray(open(src + '/part-r-00000', 'rb').read())
p0[1000:1100], p0[1100:1200] = p0[1100:1200], p0[1000:1100]   # records 10 and 11
open(dst + '/part-r-00000', 'wb').write(p0)
open(dst + '/part-r-00001', 'wb').write(open(src + '/part-r-00002', 'rb').read())
open(dst + '/part-r-00002', 'wb').write(open(src + '/part-r-00001', 'rb').read())
EOF
run teravalidate "file://$T/bad" "file://$T/tvbad"
grep -q "^checksum	$SUMHEX\$" "$T/tvbad/part-r-00000" || fail "bad input's checksum: $(cat "$T/tvbad/part-r-00000")"
k10=$(od -An -v -tx1 -j1000 -N10 "$T/ts3/part-r-00000" | sed 's/^ //')
k11=$(od -An -v -tx1 -j1100 -N10 "$T/ts3/part-r-00000" | sed 's/^ //')
grep -qF "error	misorder in part-r-00000 between $k11 and $k10" "$T/tvbad/part-r-00000" ||
    fail "no misorder line for records 10, 11: $(cat "$T/tvbad/part-r-00000")"
grep -q "^error	bad key partitioning:" "$T/tvbad/part-r-00000" ||
    fail "no partitioning error for swapped files: $(cat "$T/tvbad/part-r-00000")"
log "terasort: empty input, more reduces than keys, a partial record"
run terasort "file://$T/empty.txt" "file://$T/tse"
[ -f "$T/tse/_SUCCESS" ] && [ ! -s "$T/tse/part-r-00000" ] || fail "terasort of empty input"
run teravalidate "file://$T/tse" "file://$T/tve"
[ ! -s "$T/tve/part-r-00000" ] || fail "teravalidate of empty input: $(cat "$T/tve/part-r-00000")"
head -c 500 "$T/gensort.bin" >"$T/five.bin"
run_fails "Requested more partitions than input keys (6 > 5)" terasort -D mapreduce.job.reduces=6 \
    "file://$T/five.bin" "file://$T/tsx"
head -c 550 "$T/gensort.bin" >"$T/partial.bin"
run_fails "partial record" terasort "file://$T/partial.bin" "file://$T/tsx"
[ ! -e "$T/tsx" ] || fail "a failed terasort left its output"

# ---- pi ----
log "pi: Hadoop's published estimates"
for case in "10 10 3.20000000000000000000" "10 15 3.17333333333333333333" \
    "4 100 3.17000000000000000000" "10 100 3.14800000000000000000" "16 1000 3.14250000000000000000"; do
    set -- $case
    run pi "$1" "$2"
    expect_eq "$(sed -n 's/^Estimated value of Pi is //p' "$T/run.out")" "$3" "pi $1 $2"
done
log "pi 2 10 against an exact Halton sequence; pi 4 10000 near pi"
cat >"$T/halton.py" <<'EOF'
# Points i = offset+1.. of the Halton sequence (radical inverses in bases
# 2 and 3, as exact fractions); 4 * inside / total at 20 decimals, half up.
import sys
from fractions import Fraction as F
from decimal import Decimal, ROUND_HALF_UP
def radical(i, b):
    x, q = F(0), F(1, b)
    while i:
        x, i, q = x + (i % b) * q, i // b, q / b
    return x
maps, samples = int(sys.argv[1]), int(sys.argv[2])
inside = sum((radical(i, 2) - F(1, 2)) ** 2 + (radical(i, 3) - F(1, 2)) ** 2 <= F(1, 4)
             for i in range(1, maps * samples + 1))
q = Decimal(4 * inside) / Decimal(maps * samples)
print(q.quantize(Decimal(10) ** -20, rounding=ROUND_HALF_UP))
EOF
run pi 2 10
expect_eq "$(sed -n 's/^Estimated value of Pi is //p' "$T/run.out")" "$(python3 "$T/halton.py" 2 10)" "pi 2 10"
grep -q "^Number of Maps  = 2\$" "$T/run.out" && grep -q "^Samples per Map = 10\$" "$T/run.out" ||
    fail "pi's header lines: $(cat "$T/run.out")"
expect_eq "$(counter 'Launched map tasks')" 2 "pi's map tasks"
run pi 4 10000
est=$(sed -n 's/^Estimated value of Pi is //p' "$T/run.out")
python3 -c "import math, sys; sys.exit(abs($est - math.pi) >= 0.01)" || fail "pi 4 10000 = $est"
run_fails "must be whole numbers above 0" pi 0 10
[ -z "$(ls "$T" | grep -e '-temp')" ] || fail "pi left its temporary directory: $(ls "$T")"

# ---- join ----
printf 'a\t1\nb\t2\na\t3\tthree\nc\t4\n\tempty key\nd\nonly1\tx\n' >"$T/left.txt"
printf 'a\tx\nb\ty\nz\tq\na\tw\n\tE2\nd\tD\nc\t\n' >"$T/right.txt"
awk_join() { # inner join of $1 and $2 on the text before the first TAB
    awk 'function kv(line) { i = index(line, "\t"); if (i == 0) { K = line; V = "" }
                             else { K = substr(line, 1, i - 1); V = substr(line, i + 1) } }
         NR == FNR { kv($0); n[K]++; left[K, n[K]] = V; next }
         { kv($0); for (j = 1; j <= n[K]; j++) print K "\t" left[K, j] "\t" V }' "$1" "$2" | LC_ALL=C sort
}
awk_join "$T/left.txt" "$T/right.txt" >"$T/join.expected"
[ "$(wc -l <"$T/join.expected")" -eq 8 ] || fail "the join reference: $(cat "$T/join.expected")"
for reduces in 1 3; do
    log "join, $reduces reduces"
    run join -D mapreduce.job.reduces=$reduces "file://$T/left.txt" "file://$T/right.txt" "file://$T/join$reduces"
    cat "$T/join$reduces"/part-r-* | LC_ALL=C sort | cmp -s - "$T/join.expected" ||
        fail "join differs: $(cat "$T/join$reduces"/part-r-* | LC_ALL=C sort | diff - "$T/join.expected")"
done
log "join: a self-join of a bigger input, over many splits"
awk 'BEGIN { srand(5); for (i = 0; i < 4000; i++) print int(rand() * 1500) "\tv" i }' >"$T/kv.txt"
run join -D mapreduce.job.reduces=2 -D mapreduce.input.fileinputformat.split.maxsize=8192 \
    "file://$T/kv.txt" "file://$T/kv.txt" "file://$T/joinself"
cat "$T/joinself"/part-r-* | LC_ALL=C sort | cmp -s - <(awk_join "$T/kv.txt" "$T/kv.txt") ||
    fail "the self-join differs from awk's"
run join "file://$T/empty.txt" "file://$T/left.txt" "file://$T/joine"
[ ! -s "$T/joine/part-r-00000" ] || fail "a join with an empty side is not empty"
run_fails "Usage: ember run join" join "file://$T/left.txt" "file://$T/joinx"

# ---- teragen -> terasort -> teravalidate on HDFS, on the cluster ----
log "the terasort pipeline on the cluster, HDFS with 1 MiB blocks"
cluster_start 3 --core-nodes 2 -D dfs.replication=1 -D dfs.blocksize=1m
MR_FRAMEWORK=yarn
read -r HSUM HSUMHEX < <(python3 "$T/gensort.py" 30000 "$T/gensort.bin") || fail "gensort.py"
run teragen -D mapreduce.job.maps=2 30000 /tera/in
expect_eq "$(counter CHECKSUM)" "$HSUM" "teragen's CHECKSUM on HDFS"
dfs -cat '/tera/in/part-m-*' >"$T/hdfs-in.bin" || fail "cat of teragen's output"
cmp -s "$T/hdfs-in.bin" "$T/gensort.bin" || fail "teragen on HDFS differs from gensort.py"
grep -q '^Running job: job_[0-9]*_[0-9]* (TeraGen)' "$T/run.out" || fail "teragen did not run on the cluster"
# Task counts: no speculative attempts.
run terasort -D mapreduce.job.reduces=3 -D mapreduce.map.speculative=false \
    -D mapreduce.reduce.speculative=false hdfs:///tera/in /tera/out
maps=$(counter 'Launched map tasks')
[ "${maps:-0}" -ge 3 ] || fail "terasort over 3 MB in 1 MiB blocks ran $maps map(s)"
expect_eq "$(counter 'HDFS: Number of bytes written')" 3000000 "terasort's HDFS bytes written"
mkdir "$T/hdfs-out"
for p in 0 1 2; do
    dfs -get "/tera/out/part-r-0000$p" "$T/hdfs-out/" || fail "get part $p"
done
check_sorted "$T/hdfs-out" 3
run teravalidate /tera/out /tera/report
expect_eq "$(dfs -cat /tera/report/part-r-00000)" "checksum	$HSUMHEX" "teravalidate on HDFS"
log "grep on the cluster: its temporary directory beside the output, removed"
dfs -mkdir -p /text || fail "mkdir /text"
dfs -put "$T/text/t0.txt" "$T/text/t1.txt" /text/ || fail "put the text"
# --async: the search is waited for, and so is the sort, which reads the
# temporary directory the driver removes when it returns.
run grep --async -D mapreduce.job.reduces=2 /text hdfs:///grep-out "$REGEX"
expect_eq "$(grep -c '^Running job: job_[0-9]*_[0-9]* (grep-' "$T/run.out")" 2 "grep's jobs on the cluster"
grep -q "^ember: --async: job job_.* reads temporary paths: waiting for it" "$T/run.out" ||
    fail "grep --async: $(cat "$T/run.out")"
dfs -cat /grep-out/part-r-00000 | cmp -s - "$T/grep.expected" || fail "grep on HDFS differs"
expect_eq "$(dfs -ls / | grep -c -e '-temp')" 0 "temporary directories left on HDFS"
log "pi on the cluster: its counting job (not ember_job_define()'s) and its temporary on HDFS"
run pi 10 15
expect_eq "$(sed -n 's/^Estimated value of Pi is //p' "$T/run.out")" 3.17333333333333333333 "pi 10 15 on the cluster"
grep -q '^Running job: job_[0-9]*_[0-9]* (' "$T/run.out" || fail "pi did not run on the cluster"
expect_eq "$(dfs -ls /tmp | grep -c -e '-temp')" 0 "pi's temporary directories left on HDFS"

log "sort and join on the cluster: several reduces, inputs on HDFS"
run sort -D mapreduce.job.reduces=3 -D mapreduce.input.fileinputformat.split.maxsize=65536 /text /sorted
expect_eq "$(dfs -ls /sorted | grep -c 'part-r-')" 3 "sort's part files on the cluster"
for p in 0 1 2; do
    dfs -cat "/sorted/part-r-0000$p" >"$T/sorted$p" || fail "cat part $p"
    LC_ALL=C sort -c "$T/sorted$p" || fail "part $p of the cluster's sort is not sorted"
done
cat "$T"/sorted? | LC_ALL=C sort | cmp -s - "$T/sort.expected" || fail "the cluster's sort lost or changed lines"
dfs -put "$T/left.txt" "$T/right.txt" / || fail "put the join's inputs"
run join -D mapreduce.job.reduces=2 /left.txt /right.txt /joined
dfs -cat '/joined/part-r-*' | LC_ALL=C sort | cmp -s - "$T/join.expected" ||
    fail "the cluster's join differs: $(dfs -cat '/joined/part-r-*' | LC_ALL=C sort | diff - "$T/join.expected")"

log "a job library of API version 1 on the cluster (the task copies its shorter struct)"
ember jar "$V1_JOB" -D mapreduce.task.io.sort.mb=4 /text/t0.txt /text/t1.txt /v1 >"$T/run.out" 2>&1 ||
    fail "the version 1 job failed on the cluster: $(tail -5 "$T/run.out")"
grep -q '^Running job: job_[0-9]*_[0-9]* (' "$T/run.out" || fail "not run on the cluster"
dfs -cat /v1/part-r-00000 | cmp -s - "$T/sort.expected" || fail "the version 1 job's output differs"

log "--async prints the job id; job -status follows the job to its end"
ember run teragen --async -D mapreduce.job.maps=2 1000 /tera/async >"$T/async.out" 2>"$T/async.err" ||
    fail "teragen --async: $(cat "$T/async.out" "$T/async.err")"
JOB=$(cat "$T/async.out")
[[ $JOB =~ ^job_[0-9]+_[0-9]{4}$ ]] || fail "--async printed '$JOB' (stderr: $(cat "$T/async.err"))"
job_ended() {
    ember job -status "$JOB" >"$T/status.out" 2>&1 || fail "job -status $JOB: $(cat "$T/status.out")"
    grep -q '^Job state: \(SUCCEEDED\|FAILED\|KILLED\)$' "$T/status.out"
}
wait_until 120 job_ended || fail "job -status never saw $JOB end: $(cat "$T/status.out")"
grep -q '^Job state: SUCCEEDED$' "$T/status.out" || fail "$JOB: $(cat "$T/status.out")"
grep -q '^Job name: TeraGen$' "$T/status.out" || fail "job -status: $(cat "$T/status.out")"
dfs -test -e /tera/async/_SUCCESS || fail "the --async job left no _SUCCESS"
expect_eq "$(dfs -cat '/tera/async/part-m-*' | cmp - <(head -c 100000 "$T/gensort.bin") && echo same)" \
    same "the --async teragen's output"
ember cluster stop >/dev/null || fail "cluster stop"
cluster_wait_exit 30
log "PASS"
