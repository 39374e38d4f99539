/* mr_test_launch.h -- the LaunchAttempt rank 0 would send, built for the
 * worker's tests (tests/unit/test_worker_mr.c, tests/tools/mr_shuffle.c):
 * a job of 2 reduces whose configuration is "key=value" strings (the
 * test task's modes, tests/tools/mr_test_task.c), a map's split naming
 * block 12.  Header-only. */
#ifndef EMBER_MR_TEST_LAUNCH_H
#define EMBER_MR_TEST_LAUNCH_H

#include <stdio.h>
#include <string.h>

#include "proto/message.h"

#define MR_TEST_CONF_MAX 16

/* Everything the message points to; the caller's, alive while it is used. */
typedef struct {
    ConfPair pairs[MR_TEST_CONF_MAX], *pp[MR_TEST_CONF_MAX];
    char keys[MR_TEST_CONF_MAX][64];
    SplitChunk chunk, *pc;
    Split split, *ps;
    JobDescription job;
    TaskAssignment as;
    LaunchAttempt la;
    RankMessage msg;
} mr_test_launch;

/* Fills *l and returns its message: attempt of job_id, of kind, task
 * index, with conf ("key=value", NULL-terminated, at most
 * MR_TEST_CONF_MAX) and the progress timeout. */
static inline RankMessage *mr_test_launch_build(mr_test_launch *l, const char *job_id,
                                                const char *attempt, TaskKind kind, uint32_t index,
                                                int64_t timeout_ms, const char *const *conf) {
    size_t n = 0;
    for (; conf != NULL && conf[n] != NULL && n < MR_TEST_CONF_MAX; n++) {
        const char *eq = strchr(conf[n], '=');
        snprintf(l->keys[n], sizeof(l->keys[n]), "%.*s", (int)(eq - conf[n]), conf[n]);
        conf_pair__init(&l->pairs[n]);
        l->pairs[n].key = l->keys[n];
        l->pairs[n].value = (char *)eq + 1;
        l->pp[n] = &l->pairs[n];
    }
    split_chunk__init(&l->chunk);
    l->chunk.uri = "/in/a.txt";
    l->chunk.length = 10;
    l->pc = &l->chunk;
    split__init(&l->split);
    l->split.chunks = &l->pc;
    l->split.n_chunks = 1;
    l->split.block_id = 12;
    l->ps = &l->split;
    job_description__init(&l->job);
    l->job.job_id = (char *)job_id;
    l->job.library = "builtin:test";
    l->job.output = "/out";
    l->job.reduces = 2;
    l->job.conf = l->pp;
    l->job.n_conf = n;
    if (kind == TASK_KIND__TASK_KIND_MAP) {
        l->job.splits = &l->ps;
        l->job.n_splits = 1;
    }
    task_assignment__init(&l->as);
    l->as.job_id = (char *)job_id;
    l->as.attempt_id = (char *)attempt;
    l->as.kind = kind;
    l->as.task_index = index;
    l->as.job = &l->job;
    l->as.maps = 2;
    launch_attempt__init(&l->la);
    l->la.assignment = &l->as;
    l->la.vcores = 1;
    l->la.memory_mb = 4096;
    l->la.timeout_ms = timeout_ms;
    l->la.locality = "off-switch";
    rank_message__init(&l->msg);
    l->msg.body_case = RANK_MESSAGE__BODY_LAUNCH_ATTEMPT;
    l->msg.launch_attempt = &l->la;
    return &l->msg;
}

#endif
