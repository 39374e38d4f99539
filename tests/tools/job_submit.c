/* job_submit.c -- submits a MapReduce job straight to a running cluster's
 * scheduler (NewJobId, then SubmitJob), for job_admin.sh: the job has
 * MAPS generated splits and REDUCES reduces, asks MEMORY MB per task, and
 * goes to QUEUE.  Prints the job id and exits 0, or prints the cluster's
 * one-line error and exits 1.
 *   job_submit RUN_DIR MAPS REDUCES MEMORY QUEUE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.pb-c.h"
#include "common/error.h"
#include "ember/client.h"

static int call(ember_client *c, ClientMessage *req, ClientMessage **resp) {
    char err[1024];
    int rc = ember_client_call(c, req, resp, err, sizeof(err));
    if (rc != EMBER_OK)
        fprintf(stderr, "job_submit: %s\n", err);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: job_submit RUN_DIR MAPS REDUCES MEMORY QUEUE\n");
        return 2;
    }
    char err[1024];
    ember_client *c;
    if (ember_client_connect(argv[1], 10000, &c, err, sizeof(err)) != EMBER_OK) {
        fprintf(stderr, "job_submit: %s\n", err);
        return 1;
    }
    NewJobIdRequest nj = NEW_JOB_ID_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT, *resp;
    req.body_case = CLIENT_MESSAGE__BODY_NEW_JOB_ID;
    req.new_job_id = &nj;
    if (call(c, &req, &resp) != EMBER_OK)
        return 1;
    char id[128];
    snprintf(id, sizeof(id), "%s", resp->new_job_id_response->job_id);
    client_message__free_unpacked(resp, NULL);

    int maps = atoi(argv[2]);
    Split *splits = calloc((size_t)maps + 1, sizeof(Split));
    Split **ptrs = calloc((size_t)maps + 1, sizeof(Split *));
    for (int i = 0; i < maps; i++) {
        split__init(&splits[i]);
        splits[i].generated = 1;
        ptrs[i] = &splits[i];
    }
    JobDescription job = JOB_DESCRIPTION__INIT;
    job.job_id = id;
    job.name = "job_submit";
    job.queue = argv[5];
    job.library = "builtin:streaming";
    job.output = "/tmp/job_submit.out";
    job.splits = ptrs;
    job.n_splits = (size_t)maps;
    job.reduces = (uint32_t)atoi(argv[3]);
    job.map_memory_mb = job.reduce_memory_mb = (uint64_t)atoll(argv[4]);
    job.map_vcores = job.reduce_vcores = 1;
    SubmitJobRequest sj = SUBMIT_JOB_REQUEST__INIT;
    sj.job = &job;
    req.body_case = CLIENT_MESSAGE__BODY_SUBMIT_JOB;
    req.submit_job = &sj;
    int rc = call(c, &req, &resp);
    free(splits);
    free(ptrs);
    ember_client_close(c);
    if (rc != EMBER_OK)
        return 1;
    client_message__free_unpacked(resp, NULL);
    printf("%s\n", id);
    return 0;
}
