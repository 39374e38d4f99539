# task_worker_lib.sh -- running `ember task` attempts under the stand-in
# worker (tests/tools/task_worker.c), shared by mr_task.sh and
# mr_merge.sh; sourced after lib.sh, with W (the work directory) and JOB
# (the job id) set.
: "${TASK_WORKER:?}"

# attempt ATTEMPT KIND [options]: runs it under task_worker; its report
# in $W/ATTEMPT.report.
attempt() {
    local a=$1; shift
    "$TASK_WORKER" "$EMBER" "$W" "$a" "$@" --job-id "$JOB" >"$W/$a.report" ||
        fail "task_worker failed for $a: $(cat "$W/$a.report")"
}
# field ATTEMPT KEY: the report's value.
field() { sed -n "s/^$2 //p" "$W/$1.report"; }
expect_done() {
    [ "$(field "$1" result)" = done ] && [ "$(field "$1" exit)" = 0 ] ||
        fail "$1 did not succeed: $(cat "$W/$1.report") $(cat "$W/$1.wd/"*.log 2>/dev/null)"
}
