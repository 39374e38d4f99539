/* mr_slow_job.c -- a job library for mr_task.sh: each line is a key; the
 * reduce takes 1 ms per value and writes nothing, so a reduce task over
 * thousands of lines is seconds of reading without output (its progress
 * must come from what it reads). */
#include <time.h>

#include "ember/mapreduce.h"

static int slow_map(ember_task *task, const void *key, size_t key_len, const void *line,
                    size_t len) {
    (void)key, (void)key_len;
    return ember_emit(task, line, len, "", 0);
}

static int slow_reduce(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    (void)task, (void)key, (void)key_len;
    const void *v;
    size_t len;
    struct timespec ms = {0, 1000000};
    while (ember_values_next(values, &v, &len))
        nanosleep(&ms, NULL);
    return 0;
}

static const ember_job slow = {
    .abi = EMBER_JOB_ABI, .name = "slow", .map = slow_map, .reduce = slow_reduce};

const ember_job *ember_job_define(void) { return &slow; }
