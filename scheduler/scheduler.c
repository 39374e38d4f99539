/* scheduler.c -- the resource manager (see scheduler.h).
 *
 * Jobs live in one array in submission order, each with its queue; a
 * finished job stays for `ember job -list all` and -status until
 * SCHEDULER_FINISHED_KEPT newer ones finished.  Job ids are issued by
 * NewJobId (job_<cluster start>_<NNNN>, NNNN from 0001) and each may be
 * submitted once. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "node_pool.h"
#include "queue_set.h"
#include "scheduler.h"

#define SCHEDULER_FINISHED_KEPT 1000
#define SCHEDULER_MAX_MAPS 1000000
#define SCHEDULER_MAX_REDUCES 100000

typedef struct {
    job_master *jm;
    int queue;
    uint8_t token[JOB_TOKEN_LEN];
} sched_job;

struct scheduler {
    scheduler_options opts;
    char *secret, *gateway_host;
    node_pool *pool;
    queue_set *queues;
    sched_job *jobs;
    size_t n_jobs, cap_jobs;
    uint32_t issued; /* job ids handed out: 1..issued */
    char stamp[24];  /* the cluster's start, ms since the epoch (YARN's RM start) */
    size_t rotation; /* first node of the next pass */
};

int scheduler_job_token(const char *secret, const char *job_id, uint8_t token[JOB_TOKEN_LEN]) {
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "job:%s", job_id);
    unsigned len = 0;
    if (n < 0 || (size_t)n >= sizeof(msg) ||
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n,
             token, &len) == NULL ||
        len != JOB_TOKEN_LEN)
        return EMBER_EINVAL;
    return EMBER_OK;
}

int scheduler_create(const scheduler_options *opts, scheduler **out, char *err, size_t errlen) {
    scheduler *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return EMBER_ENOMEM;
    s->opts = *opts;
    s->secret = strdup(opts->secret);
    s->gateway_host = strdup(opts->gateway_host != NULL ? opts->gateway_host : "");
    int rc = EMBER_ENOMEM;
    if (s->secret == NULL || s->gateway_host == NULL || node_pool_create(&s->pool) != EMBER_OK)
        goto fail;
    rc = queue_set_load(opts->capacity_file, &s->queues, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    /* As YARN names applications (job_1410450250506_0003): two clusters
     * on one host, started the same minute, never issue the same ids --
     * their attempts' cgroups would collide. */
    snprintf(s->stamp, sizeof(s->stamp), "%lld", (long long)opts->cluster_start_ms);
    *out = s;
    return EMBER_OK;
fail:
    scheduler_destroy(s);
    return rc;
}

void scheduler_destroy(scheduler *s) {
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_jobs; i++)
        job_master_destroy(s->jobs[i].jm);
    free(s->jobs);
    queue_set_destroy(s->queues);
    node_pool_destroy(s->pool);
    free(s->secret);
    free(s->gateway_host);
    free(s);
}

static sched_job *scheduler_job(const scheduler *s, const char *job_id) {
    for (size_t i = 0; i < s->n_jobs; i++)
        if (strcmp(job_master_job(s->jobs[i].jm)->job_id, job_id) == 0)
            return &s->jobs[i];
    return NULL;
}

job_master *scheduler_find_job(const scheduler *s, const char *job_id) {
    sched_job *j = scheduler_job(s, job_id);
    return j != NULL ? j->jm : NULL;
}

/* The job an attempt id belongs to: "attempt_X_N_m_..." is job "job_X_N". */
static sched_job *scheduler_job_of_attempt(const scheduler *s, const char *attempt_id) {
    if (strncmp(attempt_id, "attempt_", 8) != 0)
        return NULL;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const char *id = job_master_job(s->jobs[i].jm)->job_id + 4;
        size_t n = strlen(id);
        if (strncmp(attempt_id + 8, id, n) == 0 && attempt_id[8 + n] == '_')
            return &s->jobs[i];
    }
    return NULL;
}

int scheduler_job_auth(scheduler *s, const char *job_id, uint8_t token[JOB_TOKEN_LEN],
                       const char **user) {
    sched_job *j = scheduler_job(s, job_id);
    if (j == NULL)
        return EMBER_ENOENT;
    if (job_master_done(j->jm))
        return EMBER_ESTATE;
    memcpy(token, j->token, JOB_TOKEN_LEN);
    *user = job_master_job(j->jm)->user;
    return EMBER_OK;
}

/* ---- the scheduling pass ---------------------------------------------- */

/* The queue to offer room to next: the one furthest below its capacity
 * share whose jobs want something, never past its maximum share; -1 when
 * none.  skip[q] marks queues that already declined this offer. */
static int scheduler_pick_queue(const scheduler *s, const uint8_t *skip) {
    double total = (double)node_pool_live_vcores(s->pool);
    int best = -1;
    double best_ratio = 0;
    for (size_t q = 0; q < queue_set_count(s->queues); q++) {
        if (skip[q])
            continue;
        const sched_queue *sq = queue_set_at(s->queues, q);
        double used = 0;
        int wants = 0;
        for (size_t i = 0; i < s->n_jobs; i++)
            if (s->jobs[i].queue == (int)q) {
                used += job_master_vcores(s->jobs[i].jm);
                wants |= job_master_wants(s->jobs[i].jm);
            }
        if (!wants || used >= sq->maximum * total)
            continue;
        double ratio = used / (sq->capacity * total + 1e-9);
        if (best < 0 || ratio < best_ratio) {
            best = (int)q;
            best_ratio = ratio;
        }
    }
    return best;
}

/* Offers node n to the queues, and in a queue to its jobs in order: 1
 * when a job launched an attempt there. */
static int scheduler_offer_node(scheduler *s, const pool_node *n) {
    uint8_t skip[64] = {0};
    int q;
    while ((q = scheduler_pick_queue(s, skip)) >= 0) {
        for (size_t i = 0; i < s->n_jobs; i++)
            if (s->jobs[i].queue == q && !job_master_done(s->jobs[i].jm) &&
                job_master_offer(s->jobs[i].jm, n->rank))
                return 1;
        skip[q] = 1;
    }
    return 0;
}

static void scheduler_pass(scheduler *s) {
    size_t count = node_pool_count(s->pool);
    if (count == 0)
        return;
    size_t start = s->rotation++ % count;
    for (size_t k = 0; k < count; k++) {
        const pool_node *n = node_pool_at(s->pool, (start + k) % count);
        for (int guard = 0; n->live && n->vcores_used < n->vcores && guard < 4096; guard++)
            if (!scheduler_offer_node(s, n))
                break;
    }
    node_pool_check(s->pool);
}

void scheduler_tick(scheduler *s) {
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!job_master_done(s->jobs[i].jm))
            job_master_tick(s->jobs[i].jm);
    scheduler_pass(s);
}

/* ---- nodes and rank messages ------------------------------------------ */

void scheduler_node_up(scheduler *s, int rank, const char *hostname, const char *rack,
                       uint32_t vcores, uint64_t memory_mb) {
    if (node_pool_up(s->pool, rank, hostname, rack, vcores, memory_mb) == EMBER_OK)
        scheduler_pass(s);
}

void scheduler_node_lost(scheduler *s, int rank) {
    pool_node *n = node_pool_get(s->pool, rank);
    if (n == NULL || !n->live)
        return;
    node_pool_lost(s->pool, rank);
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!job_master_done(s->jobs[i].jm))
            job_master_node_lost(s->jobs[i].jm, rank);
    scheduler_pass(s);
}

void scheduler_on_rank_message(scheduler *s, int source, const RankMessage *msg) {
    sched_job *j = NULL;
    if (msg->body_case == RANK_MESSAGE__BODY_ATTEMPT_STATUS) {
        j = scheduler_job_of_attempt(s, msg->attempt_status->attempt_id);
        if (j != NULL)
            job_master_on_status(j->jm, source, msg->attempt_status);
    } else if (msg->body_case == RANK_MESSAGE__BODY_FETCH_FAILURE) {
        j = scheduler_job_of_attempt(s, msg->fetch_failure->map_attempt_id);
        if (j != NULL)
            job_master_on_fetch_failure(j->jm, source, msg->fetch_failure);
    }
    if (j == NULL) {
        LOG_DEBUG("%s from rank %d names no job of this cluster", "job message", source);
        return;
    }
    scheduler_pass(s);
}

/* ---- client requests -------------------------------------------------- */

static void scheduler_reply(scheduler *s, uint64_t conn, ClientMessage *msg) {
    s->opts.host.reply(s->opts.host.arg, conn, msg);
}

static void scheduler_error(scheduler *s, uint64_t conn, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void scheduler_error(scheduler *s, uint64_t conn, int code, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->opts.host.reply_error(s->opts.host.arg, conn, code, line);
}

static void scheduler_new_job_id(scheduler *s, uint64_t conn) {
    char id[64];
    snprintf(id, sizeof(id), "job_%s_%04u", s->stamp, ++s->issued);
    NewJobIdResponse r = NEW_JOB_ID_RESPONSE__INIT;
    r.job_id = id;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_NEW_JOB_ID_RESPONSE;
    msg.new_job_id_response = &r;
    scheduler_reply(s, conn, &msg);
}

/* Whether job_id was issued here ("job_<stamp>_<n>" with n <= issued). */
static int scheduler_issued(const scheduler *s, const char *job_id) {
    size_t sl = strlen(s->stamp);
    if (strncmp(job_id, "job_", 4) != 0 || strncmp(job_id + 4, s->stamp, sl) != 0 ||
        job_id[4 + sl] != '_')
        return 0;
    char *end;
    unsigned long n = strtoul(job_id + 5 + sl, &end, 10);
    return *end == '\0' && n >= 1 && n <= s->issued;
}

static const char *scheduler_queue_name(const JobDescription *job) {
    if (job->queue[0] != '\0')
        return job->queue;
    for (size_t i = job->n_conf; i-- > 0;)
        if (strcmp(job->conf[i]->key, "mapreduce.job.queuename") == 0)
            return job->conf[i]->value;
    return "default";
}

/* Checks a submission before a master is made: one line in err. */
static int scheduler_validate(const scheduler *s, const JobDescription *job, int *queue, char *err,
                              size_t errlen) {
    if (!scheduler_issued(s, job->job_id)) {
        snprintf(err, errlen, "job id %s was not issued by this cluster", job->job_id);
        return EMBER_EINVAL;
    }
    if (scheduler_job(s, job->job_id) != NULL) {
        snprintf(err, errlen, "job %s was already submitted", job->job_id);
        return EMBER_EEXIST;
    }
    const char *q = scheduler_queue_name(job);
    for (const char *c = q; *c != '\0'; c++)
        if (*c <= ' ' || *c > '~' || c - q >= QUEUE_NAME_MAX) {
            snprintf(err, errlen, "job %s: the queue name is not 1 to %d printable characters",
                     job->job_id, QUEUE_NAME_MAX - 1);
            return EMBER_EINVAL;
        }
    if ((*queue = queue_set_find(s->queues, q)) < 0) {
        snprintf(err, errlen, "job %s submitted by user %s to unknown queue: %s", job->job_id,
                 job->user, q);
        return EMBER_EINVAL;
    }
    if (job->library[0] == '\0' || job->output[0] == '\0') {
        snprintf(err, errlen, "job %s names no %s", job->job_id,
                 job->library[0] == '\0' ? "library" : "output");
        return EMBER_EINVAL;
    }
    if (job->n_splits > SCHEDULER_MAX_MAPS || job->reduces > SCHEDULER_MAX_REDUCES) {
        snprintf(err, errlen, "job %s has too many tasks (%zu maps, %u reduces; at most %d and %d)",
                 job->job_id, job->n_splits, job->reduces, SCHEDULER_MAX_MAPS,
                 SCHEDULER_MAX_REDUCES);
        return EMBER_EINVAL;
    }
    uint32_t vmax = 0;
    uint64_t mmax = 0;
    for (size_t i = 0; i < node_pool_count(s->pool); i++) {
        const pool_node *n = node_pool_at(s->pool, i);
        if (n->live && n->vcores > vmax)
            vmax = n->vcores;
        if (n->live && n->memory_mb > mmax)
            mmax = n->memory_mb;
    }
    uint32_t v = job->map_vcores > job->reduce_vcores ? job->map_vcores : job->reduce_vcores;
    uint64_t m =
        job->map_memory_mb > job->reduce_memory_mb ? job->map_memory_mb : job->reduce_memory_mb;
    if (vmax > 0 && (v > vmax || m > mmax)) {
        snprintf(err, errlen,
                 "Invalid resource request: a task asks for <memory:%llu, "
                 "vCores:%u> and the largest node offers <memory:%llu, vCores:%u>",
                 (unsigned long long)m, v, (unsigned long long)mmax, vmax);
        return EMBER_EINVAL;
    }
    return EMBER_OK;
}

/* Keeps at most SCHEDULER_FINISHED_KEPT finished jobs: drops the oldest. */
static void scheduler_forget_old(scheduler *s) {
    size_t finished = 0;
    for (size_t i = 0; i < s->n_jobs; i++)
        finished += job_master_done(s->jobs[i].jm) != 0;
    for (size_t i = 0; i < s->n_jobs && finished > SCHEDULER_FINISHED_KEPT;) {
        if (job_master_done(s->jobs[i].jm)) {
            job_master_destroy(s->jobs[i].jm);
            memmove(&s->jobs[i], &s->jobs[i + 1], (s->n_jobs - i - 1) * sizeof(sched_job));
            s->n_jobs--;
            finished--;
        } else {
            i++;
        }
    }
}

static void scheduler_submit(scheduler *s, uint64_t conn, const char *user, SubmitJobRequest *r) {
    JobDescription *job = r->job;
    r->job = NULL; /* ours now */
    char err[1024];
    int queue, rc;
    if (job->user != protobuf_c_empty_string)
        free(job->user);
    job->user = strdup(user != NULL ? user : "nobody");
    if (job->user == NULL || (rc = scheduler_validate(s, job, &queue, err, sizeof(err))) != 0) {
        scheduler_error(s, conn, job->user == NULL ? EMBER_ENOMEM : rc, "%s",
                        job->user == NULL ? "out of memory" : err);
        job_description__free_unpacked(job, NULL);
        return;
    }
    char *queue_name = strdup(queue_set_at(s->queues, (size_t)queue)->name);
    if (queue_name != NULL) { /* named in the job's conf, perhaps: reports show it */
        if (job->queue != protobuf_c_empty_string)
            free(job->queue);
        job->queue = queue_name;
    }
    if (job->submit_ms == 0)
        job->submit_ms = s->opts.host.now_wall(s->opts.host.arg);
    if (s->n_jobs == s->cap_jobs) {
        size_t cap = s->cap_jobs ? s->cap_jobs * 2 : 16;
        sched_job *grown = realloc(s->jobs, cap * sizeof(*grown));
        if (grown == NULL) {
            job_description__free_unpacked(job, NULL);
            scheduler_error(s, conn, EMBER_ENOMEM, "out of memory");
            return;
        }
        s->jobs = grown;
        s->cap_jobs = cap;
    }
    sched_job *j = &s->jobs[s->n_jobs];
    memset(j, 0, sizeof(*j));
    j->queue = queue;
    job_master_env env = {.send = s->opts.host.send,
                          .now_mono = s->opts.host.now_mono,
                          .now_wall = s->opts.host.now_wall,
                          .rack_of_host = s->opts.host.rack_of_host,
                          .remove_path = s->opts.host.remove_path,
                          .arg = s->opts.host.arg,
                          .pool = s->pool,
                          .gateway_host = s->gateway_host,
                          .gateway_port = s->opts.gateway_port,
                          .locality_delay = s->opts.locality_delay};
    char id[128];
    snprintf(id, sizeof(id), "%s", job->job_id);
    if ((rc = scheduler_job_token(s->secret, id, env.token)) != EMBER_OK) {
        job_description__free_unpacked(job, NULL);
        scheduler_error(s, conn, rc, "cannot make the token of job %s", id);
        return;
    }
    /* job_master_create takes the job, and frees it when it fails. */
    if ((rc = job_master_create(job, &env, &j->jm, err, sizeof(err))) != EMBER_OK) {
        scheduler_error(s, conn, rc, "job %s: %s", id, err);
        return;
    }
    memcpy(j->token, env.token, JOB_TOKEN_LEN);
    s->n_jobs++;
    LOG_INFO("job %s submitted by %s to queue %s: %zu maps, %u reduces", id,
             job_master_job(j->jm)->user, queue_set_at(s->queues, (size_t)queue)->name,
             job_master_job(j->jm)->n_splits, job_master_job(j->jm)->reduces);
    SubmitJobResponse resp = SUBMIT_JOB_RESPONSE__INIT;
    resp.job_id = id;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_SUBMIT_JOB_RESPONSE;
    msg.submit_job_response = &resp;
    scheduler_reply(s, conn, &msg);
    scheduler_forget_old(s);
    scheduler_pass(s);
}

static void scheduler_job_status(scheduler *s, uint64_t conn, const JobStatusRequest *r) {
    sched_job *j = scheduler_job(s, r->job_id);
    if (j == NULL) {
        scheduler_error(s, conn, EMBER_ENOENT, "Could not find job %s", r->job_id);
        return;
    }
    JobStatusResponse resp = JOB_STATUS_RESPONSE__INIT;
    resp.job = job_master_report(j->jm, r->with_tasks);
    if (resp.job == NULL) {
        scheduler_error(s, conn, EMBER_ENOMEM, "out of memory");
        return;
    }
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_JOB_STATUS_RESPONSE;
    msg.job_status_response = &resp;
    scheduler_reply(s, conn, &msg);
    job_master_report_free(resp.job);
}

/* Running jobs first (in submission order), then finished ones, newest
 * first; finished ones only with all. */
static void scheduler_job_list(scheduler *s, uint64_t conn, const JobListRequest *r) {
    JobListResponse resp = JOB_LIST_RESPONSE__INIT;
    resp.jobs = calloc(s->n_jobs + 1, sizeof(*resp.jobs));
    if (resp.jobs == NULL) {
        scheduler_error(s, conn, EMBER_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!job_master_done(s->jobs[i].jm))
            resp.jobs[resp.n_jobs++] = job_master_report(s->jobs[i].jm, 0);
    for (size_t i = s->n_jobs; r->all && i-- > 0;)
        if (job_master_done(s->jobs[i].jm))
            resp.jobs[resp.n_jobs++] = job_master_report(s->jobs[i].jm, 0);
    size_t kept = 0;
    for (size_t i = 0; i < resp.n_jobs; i++)
        if (resp.jobs[i] != NULL)
            resp.jobs[kept++] = resp.jobs[i];
    resp.n_jobs = kept;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_JOB_LIST_RESPONSE;
    msg.job_list_response = &resp;
    scheduler_reply(s, conn, &msg);
    for (size_t i = 0; i < resp.n_jobs; i++)
        job_master_report_free(resp.jobs[i]);
    free(resp.jobs);
}

static void scheduler_kill_job(scheduler *s, uint64_t conn, const char *user,
                               const KillJobRequest *r) {
    sched_job *j = scheduler_job(s, r->job_id);
    if (j == NULL) {
        scheduler_error(s, conn, EMBER_ENOENT, "Could not find job %s", r->job_id);
        return;
    }
    char why[512];
    snprintf(why, sizeof(why), "Kill job %s received from %s", r->job_id,
             user != NULL ? user : "nobody");
    int rc = job_master_kill(j->jm, why);
    if (rc == EMBER_OK) {
        LOG_INFO("%s", why);
    } else if (!job_master_done(j->jm)) {
        scheduler_error(s, conn, rc,
                        "job %s is already ending (its cleanup runs); it cannot be "
                        "killed now",
                        r->job_id);
        return;
    }
    KillJobResponse resp = KILL_JOB_RESPONSE__INIT;
    resp.state = job_master_state(j->jm);
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_KILL_JOB_RESPONSE;
    msg.kill_job_response = &resp;
    scheduler_reply(s, conn, &msg);
    scheduler_pass(s);
}

static void scheduler_queue_list(scheduler *s, uint64_t conn) {
    size_t n = queue_set_count(s->queues);
    QueueReport *reports = calloc(n, sizeof(*reports));
    QueueReport **ptrs = calloc(n, sizeof(*ptrs));
    if (reports == NULL || ptrs == NULL) {
        free(reports);
        free(ptrs);
        scheduler_error(s, conn, EMBER_ENOMEM, "out of memory");
        return;
    }
    for (size_t q = 0; q < n; q++) {
        const sched_queue *sq = queue_set_at(s->queues, q);
        QueueReport *r = &reports[q];
        queue_report__init(r);
        r->name = (char *)sq->name;
        r->capacity = (float)sq->capacity;
        r->maximum_capacity = (float)sq->maximum;
        for (size_t i = 0; i < s->n_jobs; i++) {
            const job_master *jm = s->jobs[i].jm;
            if (s->jobs[i].queue != (int)q || job_master_done(jm))
                continue;
            r->running_jobs += job_master_state(jm) == JOB_STATE__JOB_RUNNING;
            r->pending_jobs += job_master_state(jm) == JOB_STATE__JOB_PREP;
            r->containers += job_master_containers(jm);
            r->vcores_used += job_master_vcores(jm);
            r->memory_used_mb += job_master_memory(jm);
        }
        ptrs[q] = r;
    }
    QueueListResponse resp = QUEUE_LIST_RESPONSE__INIT;
    resp.queues = ptrs;
    resp.n_queues = n;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_QUEUE_LIST_RESPONSE;
    msg.queue_list_response = &resp;
    scheduler_reply(s, conn, &msg);
    free(reports);
    free(ptrs);
}

void scheduler_on_request(scheduler *s, uint64_t conn, const char *user, ClientMessage *req) {
    switch (req->body_case) {
    case CLIENT_MESSAGE__BODY_NEW_JOB_ID: scheduler_new_job_id(s, conn); break;
    case CLIENT_MESSAGE__BODY_SUBMIT_JOB: scheduler_submit(s, conn, user, req->submit_job); break;
    case CLIENT_MESSAGE__BODY_JOB_STATUS: scheduler_job_status(s, conn, req->job_status); break;
    case CLIENT_MESSAGE__BODY_JOB_LIST: scheduler_job_list(s, conn, req->job_list); break;
    case CLIENT_MESSAGE__BODY_KILL_JOB: scheduler_kill_job(s, conn, user, req->kill_job); break;
    case CLIENT_MESSAGE__BODY_QUEUE_LIST: scheduler_queue_list(s, conn); break;
    default: scheduler_error(s, conn, EMBER_EPROTO, "not a job request"); break;
    }
}
