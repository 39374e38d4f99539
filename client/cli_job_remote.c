/* cli_job_remote.c -- running a job on the cluster (mapreduce.framework.name
 * = yarn): Hadoop's JobClient.  For each job the driver runs:
 *
 *   NewJobIdRequest            the scheduler names the job
 *   mr_submit_describe()       splits with block locations, the library and
 *                              -file files staged in HDFS (job_submit.h)
 *   SubmitJobRequest           the scheduler takes it
 *   JobStatusRequest, polled   every 5 ms at first, doubling up to every
 *                              40 ms, then 250 ms: the progress line,
 *                              until the job is SUCCEEDED, FAILED or KILLED
 *
 * then the job's counters (Job Counters and the tasks' sums, as the
 * scheduler aggregates them), or the job's diagnostic (which task failed,
 * its last error and log tail).  With --async the job id is printed and
 * the command returns once the job is submitted; the jobs a driver runs
 * first (grep's search) are waited for, and so is a job that reads
 * temporary paths (the driver removes them when it returns). */
#include <dlfcn.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_job.h"
#include "common/clock.h"
#include "common/error.h"
#include "mapreduce/job_submit.h"
#include "mapreduce/streaming.h"

/* The first poll comes after CLI_JOB_POLL_FIRST_MS, each next one after
 * twice the last, up to CLI_JOB_POLL_SHORT_MS for the first
 * CLI_JOB_POLL_SHORT_FOR_MS and CLI_JOB_POLL_MS after: a small job's end
 * is seen within 40 ms (bench/latency.sh: a cap of 250 ms from the start
 * cost a 0.13 s job ~0.15 s more), a long one costs the primary 4
 * requests a second. */
#define CLI_JOB_POLL_FIRST_MS 5
#define CLI_JOB_POLL_SHORT_MS 40
#define CLI_JOB_POLL_SHORT_FOR_MS 5000
#define CLI_JOB_POLL_MS 250

/* Whose staging directory: $HADOOP_USER_NAME, else the process's user, as
 * the connection says who it is (client.c). */
static const char *remote_user(void) {
    const char *as = getenv("HADOOP_USER_NAME");
    if (as != NULL && as[0] != '\0')
        return as;
    struct passwd *pw = getpwuid(getuid());
    return pw != NULL ? pw->pw_name : "unknown";
}

/* The job's code: a built-in's name, or the library the job struct lives
 * in and its offset from the library's base (the task finds it there). */
static int remote_library(const cli_job_remote *r, const ember_job *job, char *lib, size_t len,
                          uint64_t *offset, char *err, size_t errlen) {
    *offset = 0;
    if (r->builtin != NULL) {
        snprintf(lib, len, MR_BUILTIN_PREFIX "%s", r->builtin);
        return EMBER_OK;
    }
    Dl_info info;
    int found = dladdr(job, &info) != 0 && info.dli_fname != NULL && info.dli_fbase != NULL;
    if (!found && job == r->top && r->library != NULL) {
        /* A copy (a version 1 job's): ember_job_define()'s, offset 0. */
        snprintf(lib, len, "%s", r->library);
        return EMBER_OK;
    }
    if (!found) {
        snprintf(err, errlen, "cannot tell which library job %s is in", job->name);
        return EMBER_EINVAL;
    }
    if (realpath(info.dli_fname, lib) == NULL && snprintf(lib, len, "%s", info.dli_fname) < 0)
        return EMBER_EINVAL;
    *offset = (uint64_t)((uintptr_t)job - (uintptr_t)info.dli_fbase);
    return EMBER_OK;
}

/* Sends req, expecting an answer with body expect; err on failure. */
static int remote_call(ember_client *c, ClientMessage *req, ClientMessage__BodyCase expect,
                       ClientMessage **resp, char *err, size_t errlen) {
    int rc = ember_client_call(c, req, resp, err, errlen);
    if (rc == EMBER_OK && (*resp)->body_case != expect) {
        client_message__free_unpacked(*resp, NULL);
        *resp = NULL;
        snprintf(err, errlen, "the primary answered with an unexpected message");
        rc = EMBER_EPROTO;
    }
    return rc;
}

static int remote_new_id(ember_client *c, char *id, size_t len, char *err, size_t errlen) {
    NewJobIdRequest q = NEW_JOB_ID_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT, *resp = NULL;
    req.body_case = CLIENT_MESSAGE__BODY_NEW_JOB_ID;
    req.new_job_id = &q;
    int rc = remote_call(c, &req, CLIENT_MESSAGE__BODY_NEW_JOB_ID_RESPONSE, &resp, err, errlen);
    if (rc == EMBER_OK)
        snprintf(id, len, "%s", resp->new_job_id_response->job_id);
    if (resp != NULL)
        client_message__free_unpacked(resp, NULL);
    return rc;
}

/* The local paths of streaming's -file option (tmpfiles, ','-joined). */
static int remote_files(const mr_conf *conf, char ***files, size_t *n) {
    const char *list = mr_conf_get(conf, STREAMING_FILES);
    *files = NULL;
    *n = 0;
    while (list != NULL && *list != '\0') {
        const char *end = strchr(list, ',');
        size_t len = end != NULL ? (size_t)(end - list) : strlen(list);
        char **v = realloc(*files, (*n + 1) * sizeof(char *));
        if (v == NULL)
            return EMBER_ENOMEM;
        *files = v;
        if ((v[*n] = strndup(list, len)) == NULL)
            return EMBER_ENOMEM;
        (*n)++;
        list = end != NULL ? end + 1 : NULL;
    }
    return EMBER_OK;
}

/* One poll of the job's report; *report is the caller's. */
static int remote_status(ember_client *c, const char *id, ClientMessage **resp, char *err,
                         size_t errlen) {
    JobStatusRequest q = JOB_STATUS_REQUEST__INIT;
    q.job_id = (char *)id;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_JOB_STATUS;
    req.job_status = &q;
    return remote_call(c, &req, CLIENT_MESSAGE__BODY_JOB_STATUS_RESPONSE, resp, err, errlen);
}

static int remote_terminal(JobState s) {
    return s == JOB_STATE__JOB_SUCCEEDED || s == JOB_STATE__JOB_FAILED ||
           s == JOB_STATE__JOB_KILLED;
}

/* Polls until the job ends; counters and err from its last report. */
static int remote_wait(cli_job_remote *r, mr_driver *d, const char *id, mr_counters *counters,
                       char *err, size_t errlen) {
    long pause_ms = CLI_JOB_POLL_FIRST_MS;
    int64_t start = clock_monotonic_ms();
    for (;;) {
        ClientMessage *resp = NULL;
        int rc = remote_status(r->client, id, &resp, err, errlen);
        if (rc != EMBER_OK)
            return rc;
        const JobReport *j = resp->job_status_response->job;
        if (d->on_progress != NULL)
            d->on_progress(d, j->map_progress, j->reduce_progress);
        if (remote_terminal(j->state)) {
            for (size_t i = 0; i < j->n_counters; i++)
                mr_counters_add(counters, j->counters[i]->group, j->counters[i]->name,
                                j->counters[i]->value);
            rc = j->state == JOB_STATE__JOB_SUCCEEDED ? EMBER_OK : EMBER_EINVAL;
            if (rc != EMBER_OK)
                snprintf(err, errlen, "%s%s", j->state == JOB_STATE__JOB_KILLED ? "killed: " : "",
                         j->diagnostic[0] ? j->diagnostic : "the job failed");
            client_message__free_unpacked(resp, NULL);
            return rc;
        }
        client_message__free_unpacked(resp, NULL);
        struct timespec ts = {0, pause_ms * 1000000L};
        nanosleep(&ts, NULL);
        long cap = clock_monotonic_ms() - start < CLI_JOB_POLL_SHORT_FOR_MS ? CLI_JOB_POLL_SHORT_MS
                                                                            : CLI_JOB_POLL_MS;
        pause_ms = pause_ms * 2 < cap ? pause_ms * 2 : cap;
    }
}

static int remote_submit(cli_job_remote *r, JobDescription *desc, char *err, size_t errlen) {
    SubmitJobRequest q = SUBMIT_JOB_REQUEST__INIT;
    q.job = desc;
    ClientMessage req = CLIENT_MESSAGE__INIT, *resp = NULL;
    req.body_case = CLIENT_MESSAGE__BODY_SUBMIT_JOB;
    req.submit_job = &q;
    int rc = remote_call(r->client, &req, CLIENT_MESSAGE__BODY_SUBMIT_JOB_RESPONSE, &resp, err,
                         errlen);
    if (resp != NULL)
        client_message__free_unpacked(resp, NULL);
    return rc;
}

/* See cli_job.h. */
int cli_job_remote_run(mr_driver *d, const mr_job_spec *spec, mr_conf *conf,
                       mr_counters *counters) {
    cli_job_remote *r = d->arg;
    char err[2048] = "", lib[PATH_MAX], id[128];
    uint64_t offset;
    char **files = NULL;
    size_t nfiles = 0;
    JobDescription *desc = NULL;
    const char *name = spec->job->name != NULL ? spec->job->name : "";
    int rc = r->client != NULL ? EMBER_OK
                               : ember_client_connect(r->run_dir, CLI_TIMEOUT_MS, &r->client, err,
                                                      sizeof(err));
    if (rc == EMBER_OK)
        rc = remote_library(r, spec->job, lib, sizeof(lib), &offset, err, sizeof(err));
    if (rc == EMBER_OK)
        rc = remote_new_id(r->client, id, sizeof(id), err, sizeof(err));
    if (rc == EMBER_OK && (rc = mr_conf_set(conf, "mapreduce.job.id", id)) == EMBER_OK)
        rc = remote_files(conf, &files, &nfiles);
    if (rc == EMBER_OK) {
        mr_job_spec s = *spec;
        s.conf = conf;
        mr_submit_spec sub = {.spec = &s,
                              .job_id = id,
                              .user = remote_user(),
                              .library = lib,
                              .job_offset = offset,
                              .files = (const char *const *)files,
                              .nfiles = nfiles};
        rc = mr_submit_describe(&sub, &desc, err, sizeof(err));
    }
    if (rc == EMBER_OK)
        rc = remote_submit(r, desc, err, sizeof(err));
    if (rc != EMBER_OK) {
        cli_error("%s", err[0] ? err : ember_strerror(rc));
        r->reported = 1;
    } else if (r->async && spec->job == r->top && spec->ntemps == 0) {
        printf("%s\n", id);
        fflush(stdout);
    } else {
        if (r->async && spec->job == r->top) /* the driver removes them at the end */
            fprintf(stderr, "ember: --async: job %s reads temporary paths: waiting for it\n", id);
        if (d->on_start != NULL)
            d->on_start(d, id, name);
        rc = remote_wait(r, d, id, counters, err, sizeof(err));
        if (d->on_end != NULL)
            d->on_end(d, id, rc, counters, err);
    }
    mr_submit_free(desc);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return rc;
}
