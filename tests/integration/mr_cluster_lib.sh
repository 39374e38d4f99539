# mr_cluster_lib.sh -- what the tests of jobs on the cluster share
# (mr_cluster.sh, mr_cluster_faults.sh); sourced after lib.sh.
: "${FAULTY_JOB:?}"

# mr_words DIR FILES LINES SEED: FILES files DIR/partN.txt of LINES lines
# of words from a small vocabulary, and the word count they should give
# (an independent reference: tr | sort | uniq -c) in $TEST_TMP/expected.
mr_words() {
    mkdir -p "$1"
    awk -v dir="$1" -v files="$2" -v lines="$3" -v seed="$4" 'BEGIN { srand(seed)
        split("alpha beta gamma delta epsilon zeta eta theta iota kappa", v)
        for (f = 0; f < files; f++) {
            file = sprintf("%s/part%d.txt", dir, f)
            for (l = 0; l < lines; l++) {
                n = 1 + int(rand() * 6); line = ""
                for (w = 0; w < n; w++) line = line (w ? " " : "") v[1 + int(rand() * 10)] (rand() < 0.2 ? l % 13 : "")
                print line > file
            }
        } }'
    cat "$1"/part*.txt | tr ' ' '\n' | grep -v '^$' | LC_ALL=C sort | uniq -c |
        awk '{ print $2 "\t" $1 }' >"$TEST_TMP/expected"
}

# The tasks of this cluster: `ember task` processes whose umbilical is in
# this test's run directory ("[t]ask": the pattern must not match the
# shell that runs pgrep).
tasks_left() { pgrep -f -- "[t]ask --umbilical $RUN_DIR" >/dev/null; }
on_cleanup 'pkill -KILL -f -- "task --umbilical $RUN_DIR" 2>/dev/null'
# no_task_left WHAT: waits until no task of this cluster is left.
no_task_left() {
    wait_until 30 bash -c "! pgrep -f -- '[t]ask --umbilical $RUN_DIR'" ||
        fail "$1: ember task processes left: $(pgrep -af -- "[t]ask --umbilical $RUN_DIR")"
}

counter() { sed -n "s/^\t\t$2=//p" "$TEST_TMP/$1.out" | tail -1; }
# job NAME ARGS...: `ember jar` of the faulty job (a word count), its
# output in $TEST_TMP/NAME.out; the exit status is the command's.
job() {
    local name=$1; shift
    ember jar "$FAULTY_JOB" -D mapreduce.task.io.sort.mb=4 "$@" >"$TEST_TMP/$name.out" 2>&1
}
same_words() { # DIR: the part files on HDFS hold the reference
    dfs -cat "$1/part-r-*" | LC_ALL=C sort >"$TEST_TMP/got" || fail "cat $1"
    cmp -s "$TEST_TMP/got" "$TEST_TMP/expected" ||
        fail "$1 differs from the reference: $(diff "$TEST_TMP/got" "$TEST_TMP/expected" | head -5)"
}

job_state() { ember job -status "$1" 2>/dev/null | sed -n 's/^Job state: //p'; }
job_over() { case $(job_state "$1") in SUCCEEDED | FAILED | KILLED) return 0 ;; esac; return 1; }
# job_succeeds JOB SECONDS WHAT: waits for JOB to end; it must have succeeded.
job_succeeds() {
    wait_until "$2" job_over "$1" || fail "$3: job $1 still $(job_state "$1") after $2 s"
    [ "$(job_state "$1")" = SUCCEEDED ] ||
        fail "$3: job $1 $(job_state "$1"): $(ember job -status "$1" | grep -i 'reason\|diagnostic' | head -5)"
}
# status_of JOB: "ATTEMPT STATE RANK" per attempt of `ember job -status`.
status_of() {
    ember job -status "$1" 2>/dev/null |
        sed -n 's/^ *\(attempt_[^ ]*\) *\([A-Z_]*\).*(rank \([0-9]*\)).*/\1 \2 \3/p'
}

# history JOB: the job's history record, in $TEST_TMP/JOB.json.
history() {
    wait_until 30 dfs -test -e "/ember/history/$1.json" || fail "no history record of $1"
    dfs -cat "/ember/history/$1.json" >"$TEST_TMP/$1.json" || fail "cat the history of $1"
}
# done_away JOB RANK: in JOB's history record (history JOB first), every
# map and reduce has a succeeded attempt on another rank than RANK.
done_away() {
    python3 - "$TEST_TMP/$1.json" "$2" <<'PY'
import json, sys
h, dead = json.load(open(sys.argv[1])), int(sys.argv[2])
tasks = {(a["kind"], a["task_index"]) for a in h["attempts"] if a["kind"] in ("MAP", "REDUCE")}
ok = all(any(a["status"] == "SUCCEEDED" and a["rank"] != dead for a in h["attempts"]
             if (a["kind"], a["task_index"]) == t) for t in tasks)
sys.exit(0 if ok and len(tasks) == h["maps"] + h["reduces"] else 1)
PY
}
