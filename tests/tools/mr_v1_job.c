/* mr_v1_job.c -- a job library of job API version 1, whose struct ends
 * before version 2's configure hook, for mr_examples.sh: ember must run
 * it as "IN... OUT" without reading past its struct (under ASan a read of
 * the missing field is an overflow of this global).  Its map writes each
 * line back as a key, so the output is the input sorted. */
#include <stddef.h>

#include "ember/mapreduce.h"

/* Version 1's layout of ember_job. */
typedef struct {
    uint32_t abi;
    const char *name;
    ember_map_fn map;
    ember_reduce_fn reduce, combine;
    ember_partition_fn partition;
    ember_compare_fn sort_compare, group_compare;
    ember_hook_fn setup, cleanup;
} v1_job;

static int v1_map(ember_task *task, const void *key, size_t key_len, const void *line, size_t len) {
    (void)key, (void)key_len;
    return ember_emit(task, line, len, "", 0);
}

static const v1_job job = {.abi = 1, .name = "v1", .map = v1_map};

const ember_job *ember_job_define(void) { return (const ember_job *)(const void *)&job; }
