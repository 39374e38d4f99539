/* worker_mr_fixture.h -- the fixture of the MapReduce worker's tests
 * (test_worker_mr.c, test_worker_block.c): a worker and its worker_mr on
 * a loop of the test's, with real containers running the umbilical's
 * test task (tests/tools/mr_test_task.c), driven as rank 0 would drive
 * it.
 *
 * Messages leave through a fake link: what goes to the primary (rank 0)
 * is kept and checked; what the worker sends itself (rank SELF, the
 * shuffle with its own map outputs) is delivered back on the next turn,
 * bulk payloads copied into the buffer the receiver names; what goes to
 * rank DN (a datanode) is kept for the test, which answers with
 * queue_from(); rank SILENT swallows everything (a dead peer); any other
 * rank does not exist.  Included by one test file per executable, each
 * using part of it. */
#ifndef EMBER_WORKER_MR_FIXTURE_H
#define EMBER_WORKER_MR_FIXTURE_H

/* clang-format off: cmocka needs these first, in this order */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "common/topology.h"
#include "mr_test_launch.h"
#include "proto/message.h"
#include "test_util.h"
#include "worker/container.h"
#include "worker/container_exec.h"
#include "worker/worker.h"
#include "mapreduce/ifile_index.h"
#include "worker/worker_mr.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define WAIT_MS 30000
#define SELF 3   /* the worker's rank */
#define SILENT 5 /* a rank that never answers */
#define DN 4     /* a datanode's rank: what it is sent is kept, the test answers */
#define JOB "job_202612052300_0001"

/* ---- the fake link ------------------------------------------------------------- */

typedef struct pending {
    struct pending *next;
    RankMessage *msg; /* a copy, to deliver to the worker from source */
    const void *data; /* a bulk payload (the sender's buffer) */
    uint64_t len;
    int source;       /* SELF, or DN answering a block read */
    mpi_link_bulk_cb done;
    void *done_arg;
    /* the receiver's claim: completed after its callback returns */
    mpi_link_bulk_cb recv_done;
    void *recv_arg;
    void *recv_buf;
} pending;

typedef struct {
    config *cfg;
    topology *topo;
    event_loop *loop;
    worker *w;
    worker_mr *mr;
    char run_dir[64];
    char data_dir[96];
    RankMessage *to_primary[256]; /* copies, in order */
    size_t n_to_primary;
    pending *queue;     /* to SELF, oldest first */
    uint8_t *last_bulk; /* a copy of the last payload sent */
    uint64_t last_bulk_len;
    int claimed;         /* the delivered payload was claimed */
    int silent_requests; /* ShuffleRequests and BlockReadRequests sent to SILENT */
    int bulk_full;       /* bulk sends refused (EMBER_EAGAIN) while set */
    RankMessage *to_dn[64]; /* copies of what was sent to DN, in order */
    size_t n_to_dn;
} fixture;

static RankMessage *copy_message(const RankMessage *m) {
    size_t len = rank_message__get_packed_size(m);
    uint8_t *buf = malloc(len + 1);
    rank_message__pack(m, buf);
    RankMessage *c = rank_message__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(c);
    return c;
}

/* Queues m from source (with len bytes of data as its bulk payload) for
 * the worker's next turn. */
static int queue_from(fixture *f, int source, const RankMessage *m, const void *data,
                      uint64_t len, mpi_link_bulk_cb done, void *done_arg) {
    pending *p = calloc(1, sizeof(*p));
    p->source = source;
    p->msg = copy_message(m);
    p->msg->bulk_length = len;
    p->data = data;
    p->len = len;
    p->done = done;
    p->done_arg = done_arg;
    pending **tail = &f->queue;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = p;
    return EMBER_OK;
}

static int fake_send(void *arg, int dest, const RankMessage *m) {
    fixture *f = arg;
    if (dest == 0) {
        assert_true(f->n_to_primary < 256);
        assert_int_equal(message_check_rank(m), 0);
        f->to_primary[f->n_to_primary++] = copy_message(m);
        return EMBER_OK;
    }
    if (dest == SELF)
        return queue_from(f, SELF, m, NULL, 0, NULL, NULL);
    if (dest == DN) {
        assert_true(f->n_to_dn < 64);
        f->to_dn[f->n_to_dn++] = copy_message(m);
        return EMBER_OK;
    }
    if (dest == SILENT && (m->body_case == RANK_MESSAGE__BODY_SHUFFLE_REQUEST ||
                           m->body_case == RANK_MESSAGE__BODY_BLOCK_READ_REQUEST))
        f->silent_requests++;
    return dest == SILENT ? EMBER_OK : EMBER_EINVAL;
}

static int fake_send_bulk(void *arg, int dest, const RankMessage *header, const void *data,
                          uint64_t len, mpi_link_bulk_cb done, void *done_arg) {
    fixture *f = arg;
    assert_int_equal(dest, SELF);
    if (f->bulk_full)
        return EMBER_EAGAIN; /* the link is full for dest: wait for writable */
    free(f->last_bulk);
    f->last_bulk = malloc(len);
    memcpy(f->last_bulk, data, len);
    f->last_bulk_len = len;
    return queue_from(f, SELF, header, data, len, done, done_arg);
}

static pending *delivering; /* the message being delivered */

static int fake_recv_bulk(void *arg, int source, const RankMessage *header, void *buf,
                          mpi_link_bulk_cb done, void *done_arg) {
    fixture *f = arg;
    if (delivering == NULL || header != delivering->msg || source != delivering->source)
        return EMBER_EINVAL;
    memcpy(buf, delivering->data, delivering->len);
    f->claimed = 1;
    delivering->recv_done = done;
    delivering->recv_arg = done_arg;
    delivering->recv_buf = buf;
    return EMBER_OK;
}

/* Delivers what the worker sent itself (and what DN answers): each
 * message, then the sender's completion. */
static void deliver(fixture *f) {
    while (f->queue != NULL) {
        pending *p = f->queue;
        f->queue = p->next;
        delivering = p;
        f->claimed = 0;
        worker_mr_on_rank_message(f->mr, p->source, p->msg);
        delivering = NULL;
        if (p->recv_done != NULL)
            p->recv_done(NULL, p->source, EMBER_OK, p->recv_buf, p->recv_arg);
        if (p->done != NULL)
            p->done(NULL, SELF, EMBER_OK, (void *)p->data, p->done_arg);
        rank_message__free_unpacked(p->msg, NULL);
        free(p);
    }
}

/* ---- fixture ------------------------------------------------------------------------- */

/* The fetch deadline fixture_open() gives the worker; a test that must
 * not see a deadline on a loaded machine raises it first. */
static int64_t fixture_fetch_timeout_ms = 1500;

static void fixture_open(fixture *f) {
    memset(f, 0, sizeof(*f));
    char err[256] = "";
    assert_int_equal(topology_load(NULL, NULL, &f->topo, err, sizeof(err)), 0);
    assert_int_equal(event_loop_create(&f->loop), 0);
    /* Relative, as `--run-dir x` is: the worker must hand its tasks
     * absolute paths (they run in their own directories). */
    assert_int_equal(chdir("/tmp"), 0);
    snprintf(f->run_dir, sizeof(f->run_dir), "worker-mr-test.XXXXXX");
    assert_non_null(mkdtemp(f->run_dir));
    assert_int_equal(config_create(&f->cfg), 0);
    /* A data directory holding block 12, which every map's split names. */
    snprintf(f->data_dir, sizeof(f->data_dir), "%s/data", f->run_dir);
    char path[256];
    assert_int_equal(mkdir(f->data_dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/current", f->data_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/current/finalized", f->data_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/current/finalized/blk_12", f->data_dir);
    FILE *blk = fopen(path, "w");
    assert_non_null(blk);
    fclose(blk);
    worker_options wo = {.cfg = f->cfg,
                         .topo = f->topo,
                         .core_node = 0,
                         .data_dirs = f->data_dir,
                         .bind_addr = "127.0.0.1",
                         .loop = f->loop,
                         .run_dir = f->run_dir};
    assert_int_equal(worker_create(&wo, &f->w, err, sizeof(err)), 0);
    worker_mr_options mo = {.loop = f->loop,
                            .wk = f->w,
                            .rank = SELF,
                            .primary_rank = 0,
                            .run_dir = f->run_dir,
                            .data_dirs = f->data_dir,
                            .task_program = MR_TEST_TASK,
                            .fetch_timeout_ms = fixture_fetch_timeout_ms,
                            .send = fake_send,
                            .send_bulk = fake_send_bulk,
                            .recv_bulk = fake_recv_bulk,
                            .send_arg = f};
    int rc = worker_mr_create(&mo, &f->mr, err, sizeof(err));
    if (rc != 0)
        print_message("worker_mr_create: %s\n", err);
    assert_int_equal(rc, 0);
}

static void fixture_close(fixture *f) {
    worker_mr_destroy(f->mr);
    worker_destroy(f->w);
    while (f->queue != NULL) {
        pending *p = f->queue;
        f->queue = p->next;
        rank_message__free_unpacked(p->msg, NULL);
        free(p);
    }
    for (size_t i = 0; i < f->n_to_primary; i++)
        rank_message__free_unpacked(f->to_primary[i], NULL);
    for (size_t i = 0; i < f->n_to_dn; i++)
        rank_message__free_unpacked(f->to_dn[i], NULL);
    free(f->last_bulk);
    config_destroy(f->cfg);
    event_loop_destroy(f->loop);
    topology_destroy(f->topo);
    /* The worker removed its map outputs and its socket. */
    char mr[128];
    snprintf(mr, sizeof(mr), "%s/mr", f->run_dir);
    assert_int_equal(access(mr, F_OK), -1);
    test_rm_tree(f->run_dir);
}

static void turn(fixture *f) {
    assert_int_equal(event_loop_run_once(f->loop, 20), 0);
    deliver(f);
}

/* ---- what rank 0 hears ---------------------------------------------------------------- */

static size_t count_status(fixture *f, const char *id, AttemptState state) {
    size_t n = 0;
    for (size_t i = 0; i < f->n_to_primary; i++) {
        const RankMessage *m = f->to_primary[i];
        if (m->body_case == RANK_MESSAGE__BODY_ATTEMPT_STATUS &&
            strcmp(m->attempt_status->attempt_id, id) == 0 && m->attempt_status->state == state)
            n++;
    }
    return n;
}

static int is_final(AttemptState s) {
    return s == ATTEMPT_STATE__ATTEMPT_SUCCEEDED || s == ATTEMPT_STATE__ATTEMPT_FAILED ||
           s == ATTEMPT_STATE__ATTEMPT_KILLED;
}

/* The attempt's final status, or NULL. */
static const AttemptStatus *final_status(fixture *f, const char *id) {
    for (size_t i = 0; i < f->n_to_primary; i++) {
        const RankMessage *m = f->to_primary[i];
        if (m->body_case == RANK_MESSAGE__BODY_ATTEMPT_STATUS &&
            strcmp(m->attempt_status->attempt_id, id) == 0 && is_final(m->attempt_status->state))
            return m->attempt_status;
    }
    return NULL;
}

static const AttemptStatus *wait_final(fixture *f, const char *id) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (final_status(f, id) == NULL && clock_monotonic_ms() < end)
        turn(f);
    const AttemptStatus *st = final_status(f, id);
    assert_non_null(st);
    /* Exactly one final status, and nothing of the attempt runs. */
    size_t finals = 0;
    for (AttemptState s = ATTEMPT_STATE__ATTEMPT_SUCCEEDED; s <= ATTEMPT_STATE__ATTEMPT_KILLED; s++)
        finals += count_status(f, id, s);
    assert_int_equal(finals, 1);
    assert_int_equal(worker_mr_attempts(f->mr), 0);
    assert_int_equal(container_count(f->w), 0);
    return st;
}

static void wait_status(fixture *f, const char *id, AttemptState state) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (count_status(f, id, state) == 0 && clock_monotonic_ms() < end)
        turn(f);
    assert_true(count_status(f, id, state) > 0);
}

/* Waits for a RUNNING status of id in phase. */
static void wait_phase(fixture *f, const char *id, TaskPhase phase) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    for (size_t seen = 0; clock_monotonic_ms() < end; turn(f)) {
        for (; seen < f->n_to_primary; seen++) {
            const RankMessage *m = f->to_primary[seen];
            if (m->body_case == RANK_MESSAGE__BODY_ATTEMPT_STATUS &&
                strcmp(m->attempt_status->attempt_id, id) == 0 &&
                m->attempt_status->state == ATTEMPT_STATE__ATTEMPT_RUNNING &&
                m->attempt_status->phase == phase)
                return;
        }
    }
    fail_msg("no RUNNING status of %s in phase %d", id, (int)phase);
}

static int64_t counter(const AttemptStatus *st, const char *name) {
    for (size_t i = 0; i < st->n_counters; i++)
        if (strcmp(st->counters[i]->group, "test") == 0 && strcmp(st->counters[i]->name, name) == 0)
            return st->counters[i]->value;
    return INT64_MIN;
}

/* ---- what rank 0 says ------------------------------------------------------------------ */

/* Launches attempt of kind with "key=value" conf (NULL-ended). */
static void launch(fixture *f, const char *attempt, TaskKind kind, uint32_t index,
                   int64_t timeout_ms, const char *const *conf) {
    mr_test_launch l;
    RankMessage *m = mr_test_launch_build(&l, JOB, attempt, kind, index, timeout_ms, conf);
    assert_int_equal(message_check_rank(m), 0);
    worker_mr_on_rank_message(f->mr, 0, m);
}

/* Events for maps first .. first + n - 1, all of attempt on rank
 * (marked obsolete with obsolete). */
static void send_events_marked(fixture *f, const char *job_id, uint32_t first, size_t n,
                               const char *attempt, uint32_t rank, int obsolete) {
    MapOutputEvent ev[8], *pe[8];
    for (size_t i = 0; i < n; i++) {
        map_output_event__init(&ev[i]);
        ev[i].map_index = first + (uint32_t)i;
        ev[i].attempt_id = (char *)attempt;
        ev[i].rank = rank;
        ev[i].obsolete = obsolete;
        pe[i] = &ev[i];
    }
    MapOutputEvents e = MAP_OUTPUT_EVENTS__INIT;
    e.job_id = (char *)job_id;
    e.events = pe;
    e.n_events = n;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS;
    m.map_output_events = &e;
    worker_mr_on_rank_message(f->mr, 0, &m);
}

static void send_events(fixture *f, const char *job_id, uint32_t first, size_t n,
                        const char *attempt, uint32_t rank) {
    send_events_marked(f, job_id, first, n, attempt, rank, 0);
}

static void send_kill(fixture *f, const char *id, const char *reason) {
    KillAttempt k = KILL_ATTEMPT__INIT;
    k.attempt_id = (char *)id;
    k.reason = (char *)reason;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_KILL_ATTEMPT;
    m.kill_attempt = &k;
    worker_mr_on_rank_message(f->mr, 0, &m);
}

static void send_job_finished(fixture *f) {
    JobFinished jf = JOB_FINISHED__INIT;
    jf.job_id = JOB;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_JOB_FINISHED;
    m.job_finished = &jf;
    worker_mr_on_rank_message(f->mr, 0, &m);
}

static void run_for(fixture *f, int64_t ms) {
    int64_t end = clock_monotonic_ms() + ms;
    while (clock_monotonic_ms() < end)
        turn(f);
}

static int dir_exists(fixture *f, const char *attempt, const char *file) {
    char path[512];
    snprintf(path, sizeof(path), "%s/mr/%s/%s%s%s", f->run_dir, JOB, attempt, file ? "/" : "",
             file ? file : "");
    return access(path, F_OK) == 0;
}

/* Waits for the attempt's directory to go (removed on the thread pool). */
static void wait_removed(fixture *f, const char *attempt) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (dir_exists(f, attempt, NULL) && clock_monotonic_ms() < end)
        turn(f);
    assert_false(dir_exists(f, attempt, NULL));
}

/* Waits until the attempt's stderr holds text. */
static void wait_log(fixture *f, const char *attempt, const char *text) {
    char path[512], buf[4096];
    snprintf(path, sizeof(path), "%s/logs/containers/%s/stderr", f->run_dir, attempt);
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    int found = 0;
    while (!found && clock_monotonic_ms() < end) {
        turn(f);
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        found = strstr(buf, text) != NULL;
    }
    assert_true(found);
}

#pragma GCC diagnostic pop

#endif
