/* scheduler_fixture.h -- a scheduler (scheduler/scheduler.h) driven by
 * hand for the unit tests: a fake host that keeps every RankMessage sent
 * (a copy, with its destination) and every client answer, a clock the
 * test moves, and helpers to register nodes, submit jobs and report
 * attempt statuses as a worker would.  Header-only; include after cmocka. */
#ifndef EMBER_SCHEDULER_FIXTURE_H
#define EMBER_SCHEDULER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "scheduler/scheduler.h"

#define FX_MAX_SENT 100000

typedef struct {
    int rank;
    RankMessage *msg;
    int handled; /* a launch the autopilot already answered */
} fx_sent;

typedef struct {
    scheduler *s;
    int64_t now;
    fx_sent sent[FX_MAX_SENT];
    size_t n_sent;
    ClientMessage *last_reply; /* the last answer (freed on the next) */
    int last_error;
    char last_error_text[1024];
    const char *racks[16][2]; /* host -> rack */
    char removed[4][256];     /* the paths the scheduler asked the host to remove */
    int n_removed;
} fx;

static int fx_send(void *arg, int rank, const RankMessage *msg) {
    fx *f = arg;
    size_t len = rank_message__get_packed_size(msg);
    uint8_t *buf = malloc(len + 1);
    rank_message__pack(msg, buf);
    assert_true(f->n_sent < FX_MAX_SENT);
    f->sent[f->n_sent].rank = rank;
    f->sent[f->n_sent].handled = 0;
    f->sent[f->n_sent++].msg = rank_message__unpack(NULL, len, buf);
    free(buf);
    return EMBER_OK;
}

static void fx_reply(void *arg, uint64_t conn, const ClientMessage *msg) {
    fx *f = arg;
    (void)conn;
    size_t len = client_message__get_packed_size(msg);
    uint8_t *buf = malloc(len + 1);
    client_message__pack(msg, buf);
    if (f->last_reply != NULL)
        client_message__free_unpacked(f->last_reply, NULL);
    f->last_reply = client_message__unpack(NULL, len, buf);
    f->last_error = 0;
    free(buf);
}

static void fx_reply_error(void *arg, uint64_t conn, int code, const char *message) {
    fx *f = arg;
    (void)conn;
    f->last_error = code;
    snprintf(f->last_error_text, sizeof(f->last_error_text), "%s", message);
}

static const char *fx_rack(void *arg, const char *host) {
    fx *f = arg;
    if (f->racks[0][0] == NULL)
        return NULL;
    for (size_t i = 0; i < 16 && f->racks[i][0] != NULL; i++)
        if (strcmp(f->racks[i][0], host) == 0)
            return f->racks[i][1];
    return "/default-rack";
}

static void fx_remove(void *arg, const char *path) {
    fx *f = arg;
    assert_true(f->n_removed < 4);
    snprintf(f->removed[f->n_removed++], sizeof(f->removed[0]), "%s", path);
}

static int64_t fx_mono(void *arg) { return ((fx *)arg)->now; }
static int64_t fx_wall(void *arg) { return ((fx *)arg)->now + 1790000000000LL; }

static fx *fx_create(const char *capacity_file, int locality_delay) {
    fx *f = calloc(1, sizeof(*f));
    f->now = 1000;
    scheduler_options o = {.secret = "s3cret",
                           .gateway_host = "127.0.0.1",
                           .gateway_port = 9000,
                           .cluster_start_ms = 1790000000000LL,
                           .locality_delay = locality_delay,
                           .capacity_file = capacity_file,
                           .host = {.send = fx_send,
                                    .reply = fx_reply,
                                    .reply_error = fx_reply_error,
                                    .rack_of_host = fx_rack,
                                    .now_mono = fx_mono,
                                    .now_wall = fx_wall,
                                    .remove_path = fx_remove,
                                    .arg = f}};
    char err[512];
    assert_int_equal(scheduler_create(&o, &f->s, err, sizeof(err)), EMBER_OK);
    return f;
}

static void fx_destroy(fx *f) {
    scheduler_destroy(f->s);
    for (size_t i = 0; i < f->n_sent; i++)
        rank_message__free_unpacked(f->sent[i].msg, NULL);
    if (f->last_reply != NULL)
        client_message__free_unpacked(f->last_reply, NULL);
    free(f);
}

static void fx_node(fx *f, int rank, const char *host, uint32_t vcores) {
    scheduler_node_up(f->s, rank, host, fx_rack(f, host), vcores, 64 * 1024);
}

/* A job of nmaps maps (hosts[i] the host of map i, or NULL for none) and
 * reduces reduces, with conf pairs "k=v" (NULL-terminated).  Returns its
 * id (static storage, overwritten by the next call), or NULL when the
 * submission was refused (f->last_error_text says why). */
static const char *fx_submit(fx *f, uint32_t nmaps, const char *const *hosts, uint32_t reduces,
                             const char *queue, const char *const *conf) {
    static char id[128];
    ClientMessage req = CLIENT_MESSAGE__INIT;
    NewJobIdRequest nj = NEW_JOB_ID_REQUEST__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_NEW_JOB_ID;
    req.new_job_id = &nj;
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_non_null(f->last_reply);
    snprintf(id, sizeof(id), "%s", f->last_reply->new_job_id_response->job_id);

    JobDescription job = JOB_DESCRIPTION__INIT;
    job.job_id = id;
    job.name = "test job";
    job.library = "builtin:streaming";
    job.output = "/out";
    char staging[192];
    snprintf(staging, sizeof(staging), "/tmp/ember/staging/alice/%s", id);
    job.staging_dir = staging;
    job.queue = (char *)(queue != NULL ? queue : "");
    job.reduces = reduces;
    job.map_memory_mb = job.reduce_memory_mb = 1024;
    Split *splits = calloc(nmaps + 1, sizeof(Split));
    Split **sp = calloc(nmaps + 1, sizeof(Split *));
    for (uint32_t i = 0; i < nmaps; i++) {
        split__init(&splits[i]);
        if (hosts != NULL && hosts[i] != NULL) {
            splits[i].n_hosts = 1;
            splits[i].hosts = (char **)&hosts[i];
        }
        sp[i] = &splits[i];
    }
    job.splits = sp;
    job.n_splits = nmaps;
    ConfPair pairs[16], *pp[16];
    char kv[16][128];
    size_t nc = 0;
    for (; conf != NULL && conf[nc] != NULL; nc++) {
        snprintf(kv[nc], sizeof(kv[nc]), "%s", conf[nc]);
        char *eq = strchr(kv[nc], '=');
        *eq = '\0';
        conf_pair__init(&pairs[nc]);
        pairs[nc].key = kv[nc];
        pairs[nc].value = eq + 1;
        pp[nc] = &pairs[nc];
    }
    job.conf = pp;
    job.n_conf = nc;
    size_t len = job_description__get_packed_size(&job);
    uint8_t *buf = malloc(len + 1);
    job_description__pack(&job, buf);
    SubmitJobRequest sj = SUBMIT_JOB_REQUEST__INIT;
    sj.job = job_description__unpack(NULL, len, buf);
    free(buf);
    free(splits);
    free(sp);
    req.body_case = CLIENT_MESSAGE__BODY_SUBMIT_JOB;
    req.submit_job = &sj;
    client_message__free_unpacked(f->last_reply, NULL);
    f->last_reply = NULL;
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_null(sj.job); /* the scheduler took it */
    if (f->last_reply == NULL)
        return NULL;
    assert_int_equal(f->last_reply->body_case, CLIENT_MESSAGE__BODY_SUBMIT_JOB_RESPONSE);
    return id;
}

/* A status of attempt `id` from rank, as a worker sends it. */
static void fx_status(fx *f, int rank, const char *id, AttemptState state, float progress,
                      const char *diag) {
    AttemptStatus st = ATTEMPT_STATUS__INIT;
    st.attempt_id = (char *)id;
    st.state = state;
    st.progress = progress;
    st.diagnostic = (char *)(diag != NULL ? diag : "");
    if (state == ATTEMPT_STATE__ATTEMPT_FAILED)
        st.log_tail = "Segmentation fault in map()";
    st.cpuset = "0";
    st.placement = "core 0: packed";
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_ATTEMPT_STATUS;
    msg.attempt_status = &st;
    scheduler_on_rank_message(f->s, rank, &msg);
}

/* The next launch not yet handled (optionally of a kind), or NULL; marks it handled. */
static fx_sent *fx_next_launch(fx *f, TaskKind kind) {
    for (size_t i = 0; i < f->n_sent; i++) {
        fx_sent *m = &f->sent[i];
        if (m->handled || m->msg->body_case != RANK_MESSAGE__BODY_LAUNCH_ATTEMPT)
            continue;
        if (kind != TASK_KIND__TASK_KIND_UNKNOWN &&
            m->msg->launch_attempt->assignment->kind != kind)
            continue;
        m->handled = 1;
        return m;
    }
    return NULL;
}

static const char *fx_attempt(const fx_sent *m) {
    return m->msg->launch_attempt->assignment->attempt_id;
}

/* Runs an attempt through RUNNING to SUCCEEDED (asking to commit first
 * when it is a reduce). */
static void fx_succeed(fx *f, const fx_sent *m) {
    const char *id = fx_attempt(m);
    fx_status(f, m->rank, id, ATTEMPT_STATE__ATTEMPT_RUNNING, 0.5f, NULL);
    if (m->msg->launch_attempt->assignment->kind == TASK_KIND__TASK_KIND_REDUCE)
        fx_status(f, m->rank, id, ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1.0f, NULL);
    fx_status(f, m->rank, id, ATTEMPT_STATE__ATTEMPT_SUCCEEDED, 1.0f, NULL);
}

/* Finishes every launch, and those they lead to, until none is left. */
static void fx_autopilot(fx *f) {
    fx_sent *m;
    while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_UNKNOWN)) != NULL) {
        f->now += 10;
        fx_succeed(f, m);
    }
}

/* The job's report (freed by the next call). */
static const JobReport *fx_report(fx *f, const char *job_id) {
    JobStatusRequest js = JOB_STATUS_REQUEST__INIT;
    js.job_id = (char *)job_id;
    js.with_tasks = 1;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_JOB_STATUS;
    req.job_status = &js;
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_int_equal(f->last_reply->body_case, CLIENT_MESSAGE__BODY_JOB_STATUS_RESPONSE);
    return f->last_reply->job_status_response->job;
}

static int64_t fx_counter(fx *f, const char *job_id, const char *name) {
    const JobReport *r = fx_report(f, job_id);
    for (size_t i = 0; i < r->n_counters; i++)
        if (strcmp(r->counters[i]->name, name) == 0)
            return r->counters[i]->value;
    return 0;
}

/* How many messages of body `body` went to rank (-1: any) from index `from`. */
static size_t fx_count(const fx *f, size_t from, RankMessage__BodyCase body, int rank) {
    size_t n = 0;
    for (size_t i = from; i < f->n_sent; i++)
        n += f->sent[i].msg->body_case == body && (rank < 0 || f->sent[i].rank == rank);
    return n;
}

#endif
