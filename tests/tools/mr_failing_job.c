/* mr_failing_job.c -- a job library for mr_local.sh whose map refuses any
 * line containing "POISON" (so a job over such input must fail and leave
 * no output), and otherwise passes lines through as keys (identity
 * reduce). */
#include <string.h>

#include "ember/mapreduce.h"

static int failing_map(ember_task *task, const void *key, size_t key_len, const void *line,
                       size_t len) {
    (void)key, (void)key_len;
    if (memmem(line, len, "POISON", 6) != NULL)
        return 1;
    return ember_emit(task, line, len, "", 0);
}

static const ember_job failing = {.abi = EMBER_JOB_ABI, .name = "failing", .map = failing_map};

const ember_job *ember_job_define(void) { return &failing; }
