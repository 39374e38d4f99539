/* mr_shuffle.c -- the MapReduce worker's shuffle between ranks over
 * MPI, for tests/integration/mr_shuffle.sh.
 *
 *   mpirun -np 4 mr_shuffle RUN_DIR TASK_PROGRAM
 * Rank 0 plays the scheduler; ranks 1 and 2 run real workers
 * (worker/worker_mr.h on worker/worker.h, containers and all) whose
 * attempts run TASK_PROGRAM (tests/tools/mr_test_task.c); rank 3 takes
 * every message and answers none (a dead peer, as MPI shows one).
 *
 * Rank 0 launches a map on rank 1 (2 partitions of about 5 MB each) and
 * a small one on rank 2; once both succeeded it sends rank 2 their
 * MapOutputEvents and launches there a reduce of partition 1 that
 * fetches both through its worker -- from rank 1 over MPI bulk transfer
 * (1 MiB chunks), from rank 2 itself through MPI too -- and compares
 * each segment it gets, in the memfd its worker passes it, with the
 * map's own file.out; then fetches three that must fail: a map output
 * rank 1 does not have (EMBER_ENOENT), one from rank 3 (no answer by the
 * deadline: EMBER_ETIMEDOUT) and one from rank 99 (no such rank).  Rank
 * 0 checks the reduce's counters and the three FetchFailures, sends
 * JobFinished and Shutdown, and prints "rank 0: shuffle ok" when all
 * held.  A deadline bounds the run; a failure exits 1. */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/error.h"
#include "common/leak_check.h"
#include "common/event_loop.h"
#include "common/topology.h"
#include "mr_test_launch.h"
#include "proto/message.h"
#include "proto/mpi_link.h"
#include "worker/container_exec.h"
#include "worker/worker.h"
#include "worker/worker_mr.h"

#define DEADLINE_MS 150000
#define SEND_TIMEOUT_MS 20000
#define FETCH_TIMEOUT_MS 3000
#define JOB "job_202612060000_0001"
#define MAP_BIG "attempt_202612060000_0001_m_000000_0"
#define MAP_SMALL "attempt_202612060000_0001_m_000001_0"
#define REDUCE "attempt_202612060000_0001_r_000001_0"
#define BIG_RECORDS 20000
#define SMALL_RECORDS 300

typedef struct {
    int rank;
    event_loop *loop;
    mpi_link *link;
    worker_mr *mr;
    int failed;
    int step; /* rank 0's progress */
    int64_t deadline_ms;
    RankMessage *finals[3]; /* rank 0: the attempts' final statuses */
    int fetch_failures;     /* rank 0: FetchFailures for the reduce */
} shuffle_state;

static void shuffle_fail(shuffle_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void shuffle_fail(shuffle_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mr_shuffle: rank %d: ", st->rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    st->failed = 1;
}

/* ---- rank 0: the scheduler's part ----------------------------------------------------- */

static const char *attempts[3] = {MAP_BIG, MAP_SMALL, REDUCE};

static void send_to(shuffle_state *st, int dest, const RankMessage *m) {
    int rc = mpi_link_send(st->link, dest, m);
    if (rc != EMBER_OK)
        shuffle_fail(st, "send to rank %d: %s", dest, ember_strerror(rc));
}

static void launch(shuffle_state *st, int dest, const char *attempt, TaskKind kind, uint32_t index,
                   const char *const *conf) {
    mr_test_launch l;
    send_to(st, dest, mr_test_launch_build(&l, JOB, attempt, kind, index, 60000, conf));
}

static void send_events(shuffle_state *st) {
    MapOutputEvent ev[2], *pe[2];
    for (int i = 0; i < 2; i++) {
        map_output_event__init(&ev[i]);
        ev[i].map_index = (uint32_t)i;
        ev[i].attempt_id = (char *)attempts[i];
        ev[i].rank = (uint32_t)(i + 1);
        pe[i] = &ev[i];
    }
    MapOutputEvents e = MAP_OUTPUT_EVENTS__INIT;
    e.job_id = JOB;
    e.events = pe;
    e.n_events = 2;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS;
    m.map_output_events = &e;
    send_to(st, 2, &m);
}

static void send_end(shuffle_state *st) {
    JobFinished jf = JOB_FINISHED__INIT;
    jf.job_id = JOB;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_JOB_FINISHED;
    m.job_finished = &jf;
    send_to(st, 1, &m);
    send_to(st, 2, &m);
    Shutdown sd = SHUTDOWN__INIT;
    m.body_case = RANK_MESSAGE__BODY_SHUTDOWN;
    m.shutdown = &sd;
    for (int r = 1; r <= 3; r++)
        send_to(st, r, &m);
}

static int64_t counter(const AttemptStatus *s, const char *name) {
    for (size_t i = 0; i < s->n_counters; i++)
        if (strcmp(s->counters[i]->group, "test") == 0 && strcmp(s->counters[i]->name, name) == 0)
            return s->counters[i]->value;
    return INT64_MIN;
}

/* The final status of attempt i, checked to be SUCCEEDED; NULL until it came. */
static const AttemptStatus *succeeded(shuffle_state *st, int i) {
    if (st->finals[i] == NULL)
        return NULL;
    const AttemptStatus *s = st->finals[i]->attempt_status;
    if (s->state != ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        shuffle_fail(st, "%s ended in state %d: %s\n%s", s->attempt_id, s->state, s->diagnostic,
                     s->log_tail);
    return s;
}

static void check_reduce(shuffle_state *st, const AttemptStatus *s) {
    struct {
        const char *name;
        int64_t want;
    } expect[] = {{"fetched", 2},
                  {"records", BIG_RECORDS + SMALL_RECORDS},
                  {"code.3", EMBER_ENOENT},
                  {"code.4", EMBER_ETIMEDOUT},
                  {"code.5", EMBER_EINVAL}};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        if (counter(s, expect[i].name) != expect[i].want)
            shuffle_fail(st, "reduce counter %s is %lld, not %lld", expect[i].name,
                         (long long)counter(s, expect[i].name), (long long)expect[i].want);
    if (counter(s, "bytes") < 5000000)
        shuffle_fail(st, "the reduce fetched %lld bytes, fewer than 5 MB",
                     (long long)counter(s, "bytes"));
    if (st->fetch_failures != 3)
        shuffle_fail(st, "%d FetchFailures, not 3", st->fetch_failures);
    printf("mr_shuffle: rank 0: the reduce fetched %lld bytes (%lld records) from ranks 1 and 2, "
           "all equal to the maps' files; ENOENT, a dead rank and no such rank failed as "
           "expected\n",
           (long long)counter(s, "bytes"), (long long)counter(s, "records"));
}

/* Rank 0's steps, each turn. */
static int primary_hook(event_loop *loop, void *arg) {
    shuffle_state *st = arg;
    if (clock_monotonic_ms() > st->deadline_ms && st->step < 3) {
        shuffle_fail(st, "deadline passed at step %d", st->step);
        st->step = 3;
    }
    if (st->step == 0) {
        const char *big[] = {"test.task.mode=map", "test.task.records=20000",
                             "test.task.value.bytes=200", NULL};
        const char *small[] = {"test.task.mode=map", "test.task.records=300", NULL};
        launch(st, 1, MAP_BIG, TASK_KIND__TASK_KIND_MAP, 0, big);
        launch(st, 2, MAP_SMALL, TASK_KIND__TASK_KIND_MAP, 1, small);
        st->step = 1;
    } else if (st->step == 1 && succeeded(st, 0) && succeeded(st, 1)) {
        const char *reduce[] = {
            "test.task.mode=fetch", "test.task.events=2",
            "test.task.fetch.extra=attempt_202612060000_0001_m_000009_0:1," MAP_BIG ":3," MAP_BIG
            ":99",
            NULL};
        send_events(st); /* before the reduce's launch, as the scheduler does */
        launch(st, 2, REDUCE, TASK_KIND__TASK_KIND_REDUCE, 1, reduce);
        st->step = 2;
    } else if (st->step == 2 && st->finals[2] != NULL) {
        const AttemptStatus *s = succeeded(st, 2);
        if (!st->failed)
            check_reduce(st, s);
        st->step = 3;
    }
    if (st->failed && st->step < 3)
        st->step = 3;
    if (st->step == 3) {
        send_end(st);
        st->step = 4;
    } else if (st->step == 4 && mpi_link_pending(st->link) == 0) {
        event_loop_stop(loop);
    }
    return 50;
}

static void primary_on_message(shuffle_state *st, int source, RankMessage *msg) {
    if (msg->body_case == RANK_MESSAGE__BODY_FETCH_FAILURE) {
        st->fetch_failures += strcmp(msg->fetch_failure->reduce_attempt_id, REDUCE) == 0;
    } else if (msg->body_case == RANK_MESSAGE__BODY_ATTEMPT_STATUS) {
        AttemptState s = msg->attempt_status->state;
        for (int i = 0; i < 3; i++) {
            if (strcmp(msg->attempt_status->attempt_id, attempts[i]) != 0 ||
                (s != ATTEMPT_STATE__ATTEMPT_SUCCEEDED && s != ATTEMPT_STATE__ATTEMPT_FAILED &&
                 s != ATTEMPT_STATE__ATTEMPT_KILLED))
                continue;
            if (st->finals[i] != NULL)
                shuffle_fail(st, "two final statuses for %s", attempts[i]);
            else
                st->finals[i] = msg;
            return; /* kept */
        }
    } else {
        shuffle_fail(st, "unexpected %s from rank %d", message_rank_name(msg), source);
    }
    rank_message__free_unpacked(msg, NULL);
}

/* ---- ranks 1-3 ------------------------------------------------------------------------------ */

static void on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    shuffle_state *st = arg;
    (void)link;
    if (st->rank == 0) {
        primary_on_message(st, source, msg);
        return;
    }
    if (msg->body_case == RANK_MESSAGE__BODY_SHUTDOWN)
        event_loop_stop(st->loop);
    else if (st->mr != NULL)
        worker_mr_on_rank_message(st->mr, source, msg);
    rank_message__free_unpacked(msg, NULL); /* rank 3: dropped unanswered */
}

static int link_send(void *arg, int dest, const RankMessage *msg) {
    return mpi_link_send(((shuffle_state *)arg)->link, dest, msg);
}

static int link_send_bulk(void *arg, int dest, const RankMessage *header, const void *data,
                          uint64_t len, mpi_link_bulk_cb done, void *done_arg) {
    return mpi_link_send_bulk(((shuffle_state *)arg)->link, dest, header, data, len, done,
                              done_arg);
}

static int link_recv_bulk(void *arg, int source, const RankMessage *header, void *buf,
                          mpi_link_bulk_cb done, void *done_arg) {
    return mpi_link_recv_bulk(((shuffle_state *)arg)->link, source, header, buf, done, done_arg);
}

static void on_writable(mpi_link *link, int dest, void *arg) {
    shuffle_state *st = arg;
    (void)link;
    if (st->mr != NULL)
        worker_mr_on_writable(st->mr, dest);
}

/* Ranks 1 and 2: a worker of the real machine with its MapReduce side,
 * until rank 0 says stop. */
static int run_worker(shuffle_state *st, const char *run_dir, const char *program) {
    config *cfg = NULL;
    topology *topo = NULL;
    worker *w = NULL;
    char err[512] = "";
    int rc = config_create(&cfg); /* both workers share run_dir, as ranks of one host do */
    if (rc == EMBER_OK)
        rc = topology_load(NULL, NULL, &topo, err, sizeof(err));
    worker_options wo = {.cfg = cfg,
                         .topo = topo,
                         .data_dirs = "",
                         .bind_addr = "127.0.0.1",
                         .loop = st->loop,
                         .run_dir = run_dir};
    if (rc == EMBER_OK)
        rc = worker_create(&wo, &w, err, sizeof(err));
    worker_mr_options mo = {.loop = st->loop,
                            .wk = w,
                            .rank = st->rank,
                            .primary_rank = 0,
                            .run_dir = run_dir,
                            .data_dirs = "",
                            .task_program = program,
                            .fetch_timeout_ms = FETCH_TIMEOUT_MS,
                            .send = link_send,
                            .send_bulk = link_send_bulk,
                            .recv_bulk = link_recv_bulk,
                            .send_arg = st};
    if (rc == EMBER_OK)
        rc = worker_mr_create(&mo, &st->mr, err, sizeof(err));
    if (rc == EMBER_OK)
        rc = event_loop_run(st->loop);
    else
        shuffle_fail(st, "cannot start the worker: %s", err[0] ? err : ember_strerror(rc));
    worker_mr_destroy(st->mr);
    st->mr = NULL;
    worker_destroy(w);
    topology_destroy(topo);
    config_destroy(cfg);
    return rc;
}

/* Lets what is queued go out (statuses, the last answers), a while at most. */
static void flush(shuffle_state *st) {
    int64_t end = clock_monotonic_ms() + 3000;
    while (mpi_link_pending(st->link) > 0 && clock_monotonic_ms() < end)
        event_loop_run_once(st->loop, 10);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "task") == 0 && strcmp(argv[2], "--exec-wrapper") == 0)
        return container_exec_main(argc - 3, argv + 3); /* a container's first moments */
    if (argc != 3) {
        fprintf(stderr, "usage: mr_shuffle RUN_DIR TASK_PROGRAM\n");
        return 2;
    }
    int provided, size;
    leak_check_pause(); /* what Open MPI keeps (common/leak_check.h) */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    leak_check_resume();
    shuffle_state st = {.deadline_ms = clock_monotonic_ms() + DEADLINE_MS};
    MPI_Comm_rank(MPI_COMM_WORLD, &st.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 4) {
        fprintf(stderr, "mr_shuffle: needs exactly 4 ranks\n");
        MPI_Finalize();
        return 2;
    }
    int rc = event_loop_create(&st.loop);
    if (rc == EMBER_OK)
        rc = mpi_link_create(st.loop, SEND_TIMEOUT_MS, on_message, &st, &st.link);
    if (rc == EMBER_OK) {
        mpi_link_set_bulk_chunk(st.link, 1u << 20);
        mpi_link_set_writable_cb(st.link, on_writable, &st);
    }
    if (rc == EMBER_OK && st.rank == 0)
        rc = event_loop_add_hook(st.loop, primary_hook, &st);
    if (rc == EMBER_OK)
        rc = st.rank == 1 || st.rank == 2 ? run_worker(&st, argv[1], argv[2])
                                          : event_loop_run(st.loop);
    if (rc == EMBER_OK)
        flush(&st);
    for (int i = 0; i < 3; i++)
        if (st.finals[i] != NULL)
            rank_message__free_unpacked(st.finals[i], NULL);
    if (rc != EMBER_OK || st.failed) {
        fprintf(stderr, "mr_shuffle: rank %d failed%s%s\n", st.rank, rc ? ": " : "",
                rc ? ember_strerror(rc) : "");
        fflush(stderr);
        _exit(1); /* no MPI_Finalize: it could wait for a peer */
    }
    if (st.rank == 0)
        printf("mr_shuffle: rank 0: shuffle ok\n");
    fflush(stdout);
    mpi_link_destroy(st.link);
    event_loop_destroy(st.loop);
    MPI_Finalize();
    return 0;
}
