/* test_worker_mr.c -- unit tests for the MapReduce side of the worker
 * (worker/worker_mr*.c), driven as rank 0 would drive it, with real
 * containers running the umbilical's test task (tests/tools/
 * mr_test_task.c) on a worker of the real machine.
 *
 * The fixture is worker_mr_fixture.h's: a fake link keeps what goes to
 * the primary (rank 0), delivers what the worker sends itself (rank 3,
 * the shuffle with its own map outputs) back on the next turn, bulk
 * payloads copied into the buffer the receiver names; rank 5 swallows
 * everything (a dead peer); rank 99 does not exist.
 *
 * Covered: a map's AttemptStatus sequence (RUNNING with its placement
 * near the data directory holding its split's block,
 * progress throttled, SUCCEEDED with counters and output bytes) and its
 * file.out kept; failures (TaskFailed, exit 3, SIGSEGV, exit 0 without
 * TaskDone, a progress timeout, the umbilical lost) each one FAILED with
 * its diagnostic and stderr's tail, the attempt directory removed;
 * KillAttempt; launches refused (no room: KILLED; else FAILED); a hello for an attempt not running here, one from a
 * process that is not the attempt's, and a first frame that is no
 * hello, refused; map events by long poll and after
 * JobFinished; the commit relay; the shuffle: a ShuffleRequest served
 * from file.out (the bytes compared), one for an output not here
 * (ENOENT), and a reduce's fetches: one through the shuffle into a memfd
 * the task checks against the map's file, and ENOENT, a dead rank and a
 * rank that does not exist, each answered with its code and reported to
 * rank 0 as a FetchFailure; twelve fetches at once, of which only
 * WORKER_MR_FETCHES_MAX are asked while none ends.  No container is left
 * after any test.
 *
 * This binary is its own exec wrapper (`task --exec-wrapper`). */
#include "worker_mr_fixture.h"

/* ---- tests ------------------------------------------------------------------------------------ */

#define MAP1 "attempt_202612052300_0001_m_000000_0"

static void run_map(fixture *f, const char *attempt, const char *records, const char *bytes) {
    char r[64], b[64];
    snprintf(r, sizeof(r), "test.task.records=%s", records);
    snprintf(b, sizeof(b), "test.task.value.bytes=%s", bytes);
    const char *conf[] = {"test.task.mode=map", r, b, NULL};
    launch(f, attempt, TASK_KIND__TASK_KIND_MAP, 0, 0, conf);
    const AttemptStatus *st = wait_final(f, attempt);
    if (st->state != ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        print_message("map: %s\n%s\n", st->diagnostic, st->log_tail);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
}

static void test_map_succeeds(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    run_map(&f, MAP1, "3", "16");
    /* The first status: RUNNING with where and how it runs. */
    const AttemptStatus *first = f.to_primary[0]->attempt_status;
    assert_int_equal(f.to_primary[0]->body_case, RANK_MESSAGE__BODY_ATTEMPT_STATUS);
    assert_int_equal(first->state, ATTEMPT_STATE__ATTEMPT_RUNNING);
    assert_true(first->cpuset[0] != '\0');
    assert_non_null(strstr(first->placement, "block blk_12")); /* placed near its block's disk */
    assert_true(first->memory_limit[0] != '\0');
    assert_true(first->start_ms > 0);
    assert_int_equal(first->finish_ms, 0);
    /* Five MAP progress frames in a burst: one status for the phase
     * change, at most one more held back. */
    size_t map_running = 0, sort_running = 0;
    for (size_t i = 0; i < f.n_to_primary; i++) {
        const AttemptStatus *s = f.to_primary[i]->attempt_status;
        if (s->state != ATTEMPT_STATE__ATTEMPT_RUNNING)
            continue;
        map_running += s->phase == TASK_PHASE__PHASE_MAP;
        sort_running += s->phase == TASK_PHASE__PHASE_SORT;
    }
    assert_true(map_running >= 1 && map_running <= 2);
    assert_true(sort_running >= 1);
    const AttemptStatus *st = final_status(&f, MAP1);
    assert_int_equal(counter(st, "map_output_records"), 6);
    assert_true(st->map_output_bytes > 0);
    assert_true(st->finish_ms >= st->start_ms);
    assert_string_equal(st->log_tail, "");
    assert_true(dir_exists(&f, MAP1, "file.out") && dir_exists(&f, MAP1, "file.out.index"));
    /* JobFinished removes the job's outputs. */
    send_job_finished(&f);
    wait_removed(&f, MAP1);
    fixture_close(&f);
}

/* Runs attempt in mode (with timeout) to its end: FAILED with a
 * diagnostic containing diag and a log tail containing tail. */
static void expect_failure(fixture *f, const char *attempt, const char *mode, int64_t timeout_ms,
                           const char *diag, const char *tail) {
    char m[64];
    snprintf(m, sizeof(m), "test.task.mode=%s", mode);
    const char *conf[] = {m, NULL};
    launch(f, attempt, TASK_KIND__TASK_KIND_MAP, 0, timeout_ms, conf);
    const AttemptStatus *st = wait_final(f, attempt);
    if (st->state != ATTEMPT_STATE__ATTEMPT_FAILED || strstr(st->diagnostic, diag) == NULL ||
        strstr(st->log_tail, tail) == NULL)
        print_message("%s: state %d, diagnostic '%s', tail '%s'\n", mode, st->state, st->diagnostic,
                      st->log_tail);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_FAILED);
    assert_non_null(strstr(st->diagnostic, diag));
    assert_non_null(strstr(st->log_tail, tail));
    assert_true(st->finish_ms > 0);
    wait_removed(f, attempt);
}

static void test_failures(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    expect_failure(&f, "attempt_202612052300_0001_m_000001_0", "fail", 0, "test failure: boom",
                   "boom");
    expect_failure(&f, "attempt_202612052300_0001_m_000002_0", "exit3", 0, "exit code 3",
                   "exiting with 3");
    expect_failure(&f, "attempt_202612052300_0001_m_000003_0", "segv", 0, "signal 11",
                   "runs as segv");
    expect_failure(&f, "attempt_202612052300_0001_m_000004_0", "exit0", 0, "without reporting done",
                   "runs as exit0");
    /* (killed maybe before it said a word, on a loaded machine) */
    expect_failure(&f, "attempt_202612052300_0001_m_000005_0", "hang", 1000, "timed out", "");
    expect_failure(&f, "attempt_202612052300_0001_m_000006_0", "lost", 0, "umbilical",
                   "runs as lost");
    fixture_close(&f);
}

static void test_kill(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    const char *id = "attempt_202612052300_0001_m_000007_0";
    const char *conf[] = {"test.task.mode=hang", NULL};
    launch(&f, id, TASK_KIND__TASK_KIND_MAP, 0, 0, conf);
    wait_status(&f, id, ATTEMPT_STATE__ATTEMPT_RUNNING);
    run_for(&f, 300);
    send_kill(&f, id, "speculation lost");
    const AttemptStatus *st = wait_final(&f, id);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_KILLED);
    assert_non_null(strstr(st->diagnostic, "speculation lost"));
    /* A kill of an attempt that does not run here changes nothing. */
    send_kill(&f, id, "again");
    assert_int_equal(f.n_to_primary, count_status(&f, id, ATTEMPT_STATE__ATTEMPT_RUNNING) + 1);
    fixture_close(&f);
}

/* Launches that cannot happen get their one status at once: KILLED when
 * the offer has no room (not the attempt's fault), FAILED otherwise. */
static void test_launch_refused(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    const char *big = "attempt_202612052300_0001_m_000011_0";
    mr_test_launch l;
    RankMessage *m = mr_test_launch_build(&l, JOB, big, TASK_KIND__TASK_KIND_MAP, 0, 0, NULL);
    l.la.memory_mb = (uint64_t)1 << 40; /* more than any node offers */
    worker_mr_on_rank_message(f.mr, 0, m);
    const AttemptStatus *st = final_status(&f, big);
    assert_non_null(st);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_KILLED);
    assert_non_null(strstr(st->diagnostic, "cannot launch"));
    char longid[200];
    snprintf(longid, sizeof(longid), "attempt_%0150d",
             1); /* a valid id, too long for a container */
    m = mr_test_launch_build(&l, JOB, longid, TASK_KIND__TASK_KIND_MAP, 0, 0, NULL);
    assert_int_equal(message_check_rank(m), 0);
    worker_mr_on_rank_message(f.mr, 0, m);
    st = final_status(&f, longid);
    assert_non_null(st);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_FAILED);
    assert_int_equal(f.n_to_primary, 2); /* one status each, nothing running */
    assert_int_equal(worker_mr_attempts(f.mr), 0);
    wait_removed(&f, big);
    fixture_close(&f);
}

/* Connects to the umbilical, sends msg, and waits for the worker to
 * close the connection: 1 when it did. */
static int refused(fixture *f, const TaskMessage *msg) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", worker_mr_umbilical_path(f->mr));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_task(msg, 1 << 20, &buf, &len), 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    free(buf);
    int closed = 0;
    int64_t end = clock_monotonic_ms() + 5000;
    while (!closed && clock_monotonic_ms() < end) {
        turn(f);
        char c;
        ssize_t n = read(fd, &c, 1);
        closed = n == 0 || (n < 0 && errno != EAGAIN);
        assert_true(n <= 0); /* no answer */
    }
    close(fd);
    return closed;
}

static void test_unknown_hello_refused(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    TaskHello h = TASK_HELLO__INIT;
    h.attempt_id = "attempt_202612052300_0001_m_000099_0";
    h.pid = 1;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_HELLO;
    m.hello = &h;
    assert_true(refused(&f, &m));
    TaskMapEventsRequest r = TASK_MAP_EVENTS_REQUEST__INIT;
    m.body_case = TASK_MESSAGE__BODY_MAP_EVENTS_REQUEST;
    m.map_events_request = &r;
    assert_true(refused(&f, &m)); /* the hello comes first */
    /* A hello for a running attempt from a process that is not its
     * task, before the task's own: refused; the task's then works. */
    const char *late = "attempt_202612052300_0001_m_000010_0";
    const char *exit0[] = {"test.task.mode=exit0", NULL};
    setenv("MR_TEST_TASK_DELAY_MS", "2000", 1);
    launch(&f, late, TASK_KIND__TASK_KIND_MAP, 0, 0, exit0);
    unsetenv("MR_TEST_TASK_DELAY_MS");
    h.attempt_id = (char *)late;
    m.body_case = TASK_MESSAGE__BODY_HELLO;
    m.hello = &h;
    assert_true(refused(&f, &m));
    const AttemptStatus *st = wait_final(&f, late);
    assert_non_null(strstr(st->diagnostic, "without reporting done")); /* it was heard */
    /* A second hello for a running attempt is refused too. */
    const char *id = "attempt_202612052300_0001_m_000008_0";
    const char *conf[] = {"test.task.mode=hang", NULL};
    launch(&f, id, TASK_KIND__TASK_KIND_MAP, 0, 0, conf);
    wait_log(&f, id, "runs as hang"); /* its task said hello */
    h.attempt_id = (char *)id;
    m.body_case = TASK_MESSAGE__BODY_HELLO;
    m.hello = &h;
    assert_true(refused(&f, &m));
    send_kill(&f, id, "");
    assert_int_equal(wait_final(&f, id)->state, ATTEMPT_STATE__ATTEMPT_KILLED);
    fixture_close(&f);
}

static void test_map_events(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    const char *r1 = "attempt_202612052300_0001_r_000000_0";
    const char *conf[] = {"test.task.mode=events", "test.task.events=3", NULL};
    send_events(&f, JOB, 0, 1, MAP1, 7); /* before the reduce, as rank 0 does */
    launch(&f, r1, TASK_KIND__TASK_KIND_REDUCE, 0, 0, conf);
    run_for(&f, 1500); /* it has one, and polls for more (answered empty now and then) */
    assert_null(final_status(&f, r1));
    send_events(&f, JOB, 1, 2, MAP1, 7);
    const AttemptStatus *st = wait_final(&f, r1);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(counter(st, "events"), 3);
    assert_int_equal(counter(st, "last_map"), 2);
    assert_int_equal(counter(st, "job_failed"), 0);
    /* JobFinished ends a poll that waits for more. */
    const char *r2 = "attempt_202612052300_0001_r_000001_0";
    const char *conf2[] = {"test.task.mode=events", "test.task.events=10", NULL};
    launch(&f, r2, TASK_KIND__TASK_KIND_REDUCE, 1, 0, conf2);
    wait_phase(&f, r2, TASK_PHASE__PHASE_SHUFFLE); /* it had its 3 and waits for more */
    send_job_finished(&f);
    st = wait_final(&f, r2);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(counter(st, "job_failed"), 1);
    assert_int_equal(counter(st, "events"), 3);
    fixture_close(&f);
}

static void test_commit(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    const char *id = "attempt_202612052300_0001_r_000000_1";
    const char *conf[] = {"test.task.mode=commit", NULL};
    launch(&f, id, TASK_KIND__TASK_KIND_REDUCE, 0, 0, conf);
    wait_status(&f, id, ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING);
    assert_null(final_status(&f, id));
    CommitResponse c = COMMIT_RESPONSE__INIT;
    c.attempt_id = "attempt_202612052300_0001_r_000000_9"; /* not here: ignored */
    c.allowed = 1;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_COMMIT_RESPONSE;
    m.commit_response = &c;
    worker_mr_on_rank_message(f.mr, 0, &m);
    run_for(&f, 200);
    assert_null(final_status(&f, id));
    c.attempt_id = (char *)id;
    worker_mr_on_rank_message(f.mr, 0, &m);
    const AttemptStatus *st = wait_final(&f, id);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(counter(st, "allowed"), 1);
    fixture_close(&f);
}

/* The bytes of partition part of attempt's file.out, read from its index. */
static uint8_t *segment_of(fixture *f, const char *attempt, uint32_t part, uint64_t *len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/mr/%s/%s/file.out.index", f->run_dir, JOB, attempt);
    ifile_range r;
    uint32_t parts;
    assert_int_equal(ifile_index_lookup(path, part, &r, &parts), EMBER_OK);
    uint64_t off = r.offset, n = r.length;
    uint8_t *buf = malloc(n);
    snprintf(path, sizeof(path), "%s/mr/%s/%s/file.out", f->run_dir, JOB, attempt);
    int fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
    *len = n;
    return buf;
}

static void shuffle_request(fixture *f, const char *attempt, uint32_t part, uint64_t id) {
    ShuffleRequest r = SHUFFLE_REQUEST__INIT;
    r.request_id = id;
    r.job_id = JOB;
    r.map_attempt_id = (char *)attempt;
    r.partition = part;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_SHUFFLE_REQUEST;
    m.shuffle_request = &r;
    worker_mr_on_rank_message(f->mr, SELF, &m);
}

static void test_shuffle_serve(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    run_map(&f, MAP1, "500", "300"); /* ~155 KB a partition */
    for (uint32_t part = 0; part < 2; part++) {
        shuffle_request(&f, MAP1, part, 40 + part);
        int64_t end = clock_monotonic_ms() + WAIT_MS;
        free(f.last_bulk);
        f.last_bulk = NULL;
        while (f.last_bulk == NULL && clock_monotonic_ms() < end)
            turn(&f);
        uint64_t len;
        uint8_t *want = segment_of(&f, MAP1, part, &len);
        assert_true(len > 150000);
        assert_int_equal(f.last_bulk_len, len);
        assert_memory_equal(f.last_bulk, want, len);
        free(want);
    }
    /* A link full for the requester holds the segment until it can
     * take more. */
    free(f.last_bulk);
    f.last_bulk = NULL;
    f.bulk_full = 1;
    shuffle_request(&f, MAP1, 0, 45);
    run_for(&f, 300);
    assert_null(f.last_bulk);
    f.bulk_full = 0;
    worker_mr_on_writable(f.mr, SELF);
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (f.last_bulk == NULL && clock_monotonic_ms() < end)
        turn(&f);
    assert_non_null(f.last_bulk);
    uint64_t len0;
    uint8_t *want0 = segment_of(&f, MAP1, 0, &len0);
    assert_int_equal(f.last_bulk_len, len0);
    assert_memory_equal(f.last_bulk, want0, len0);
    free(want0);
    run_for(&f, 100);
    /* No such output here, or a partition past the index: an error code,
     * no payload. */
    size_t before = f.n_to_primary;
    free(f.last_bulk);
    f.last_bulk = NULL;
    shuffle_request(&f, "attempt_202612052300_0001_m_000042_0", 0, 50);
    shuffle_request(&f, MAP1, 7, 51);
    run_for(&f, 300);
    assert_null(f.last_bulk);
    assert_int_equal(f.n_to_primary, before);
    fixture_close(&f);
}

static void test_fetch(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    run_map(&f, MAP1, "2000", "100");
    const char *r1 = "attempt_202612052300_0001_r_000001_0";
    const char *conf[] = {"test.task.mode=fetch", "test.task.events=1",
                          "test.task.fetch.extra=attempt_202612052300_0001_m_000042_0:3,"
                          "attempt_202612052300_0001_m_000000_0:5,"
                          "attempt_202612052300_0001_m_000000_0:99",
                          NULL};
    send_events(&f, JOB, 0, 1, MAP1, SELF);
    launch(&f, r1, TASK_KIND__TASK_KIND_REDUCE, 1, 0, conf);
    const AttemptStatus *st = wait_final(&f, r1);
    if (st->state != ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        print_message("fetch: %s\n%s\n", st->diagnostic, st->log_tail);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    uint64_t len;
    free(segment_of(&f, MAP1, 1, &len));
    assert_int_equal(counter(st, "fetched"), 1); /* equal to the map's own bytes */
    assert_int_equal(counter(st, "bytes"), (int64_t)len);
    assert_int_equal(counter(st, "records"), 2000);
    assert_int_equal(counter(st, "code.2"), EMBER_ENOENT);
    assert_int_equal(counter(st, "code.3"), EMBER_ETIMEDOUT);
    assert_int_equal(counter(st, "code.4"), EMBER_EINVAL);
    assert_true(st->shuffle_start_ms > 0 && st->reduce_start_ms >= st->shuffle_start_ms);
    for (size_t i = 0; i < f.n_to_primary; i++) { /* placed near the network */
        const RankMessage *m = f.to_primary[i];
        if (m->body_case == RANK_MESSAGE__BODY_ATTEMPT_STATUS &&
            strcmp(m->attempt_status->attempt_id, r1) == 0)
            assert_non_null(strstr(m->attempt_status->placement, "the shuffle"));
    }
    /* Each failed fetch reported to rank 0. */
    size_t failures = 0;
    for (size_t i = 0; i < f.n_to_primary; i++) {
        const RankMessage *m = f.to_primary[i];
        if (m->body_case != RANK_MESSAGE__BODY_FETCH_FAILURE)
            continue;
        failures++;
        assert_string_equal(m->fetch_failure->reduce_attempt_id, r1);
    }
    assert_int_equal(failures, 3);
    assert_int_equal(worker_mr_fetches(f.mr), 0);
    fixture_close(&f);
}

/* Launches reduce r fetching MAP1's output twelve times from rank 5,
 * which never answers, and turns until the worker asked as many as it may
 * at once (WORKER_MR_FETCHES_MAX).  extra: one more "key=value" of the
 * job, or NULL. */
static void launch_silent_fetches(fixture *f, const char *r, const char *extra) {
    const char *conf[] = {"test.task.mode=fetchmany", "test.task.fetch.count=12",
                          "test.task.fetch.rank=5", "test.task.fetch.attempt=" MAP1, extra, NULL};
    launch(f, r, TASK_KIND__TASK_KIND_REDUCE, 0, 0, conf);
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (f->silent_requests < WORKER_MR_FETCHES_MAX && clock_monotonic_ms() < end)
        turn(f);
    assert_int_equal(f->silent_requests, WORKER_MR_FETCHES_MAX);
}

/* The twelve fetches of launch_silent_fetches() all got code. */
static void assert_fetch_codes(const AttemptStatus *st, int code) {
    assert_int_equal(counter(st, "answered"), 12);
    for (int i = 1; i <= 12; i++) {
        char name[16];
        snprintf(name, sizeof(name), "code.%d", i);
        assert_int_equal(counter(st, name), code);
    }
}

/* Twelve fetches at once from a rank that never answers: the worker asks
 * WORKER_MR_FETCHES_MAX of them, the rest wait for room, and all end
 * with the deadline. */
static void test_fetch_bound(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    const char *r = "attempt_202612052300_0001_r_000000_2";
    launch_silent_fetches(&f, r, NULL);
    run_for(&f, 500); /* within the deadline: no room yet */
    assert_int_equal(f.silent_requests, WORKER_MR_FETCHES_MAX);
    assert_int_equal(worker_mr_fetches(f.mr), 12);
    const AttemptStatus *st = wait_final(&f, r);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(f.silent_requests, 12);
    assert_fetch_codes(st, EMBER_ETIMEDOUT);
    fixture_close(&f);
}

/* The job's mapreduce.reduce.shuffle.read.timeout (Hadoop's key) is the
 * fetches' deadline, not the worker's default (a minute here: the
 * fetches would outlast the wait). */
static void test_fetch_timeout_key(void **state) {
    (void)state;
    fixture_fetch_timeout_ms = 60000;
    fixture f;
    fixture_open(&f);
    fixture_fetch_timeout_ms = 1500;
    const char *r = "attempt_202612052300_0001_r_000000_4";
    int64_t start = clock_monotonic_ms();
    launch_silent_fetches(&f, r, "mapreduce.reduce.shuffle.read.timeout=300");
    const AttemptStatus *st = wait_final(&f, r);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_fetch_codes(st, EMBER_ETIMEDOUT);
    assert_true(clock_monotonic_ms() - start < 60000);
    fixture_close(&f);
}

/* The same twelve fetches, then rank 0 declares the map output obsolete
 * (its node was lost): every one, asked or waiting, is answered
 * EMBER_ENOENT at once, long before the deadline, and no FetchFailure
 * goes to rank 0 (it knows). */
static void test_fetch_obsolete(void **state) {
    (void)state;
    fixture f;
    fixture_fetch_timeout_ms = 60000; /* no deadline can answer first, however loaded */
    fixture_open(&f);
    fixture_fetch_timeout_ms = 1500;
    const char *r = "attempt_202612052300_0001_r_000000_3";
    launch_silent_fetches(&f, r, NULL);
    send_events_marked(&f, JOB, 0, 1, MAP1, 5, 1);
    assert_int_equal(worker_mr_fetches(f.mr), 0);
    const AttemptStatus *st = wait_final(&f, r);
    /* Answered as obsolete (EMBER_ENOENT, no FetchFailure): the deadline
     * is a minute away. */
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(f.silent_requests, WORKER_MR_FETCHES_MAX); /* the rest never asked */
    assert_fetch_codes(st, EMBER_ENOENT);
    /* A reduce that asks for the output after the declaration (it had
     * not heard) is answered at once too, not after a minute. */
    const char *late = "attempt_202612052300_0001_r_000001_0";
    const char *conf[] = {"test.task.mode=fetchmany", "test.task.fetch.count=3",
                          "test.task.fetch.rank=5", "test.task.fetch.attempt=" MAP1, NULL};
    launch(&f, late, TASK_KIND__TASK_KIND_REDUCE, 1, 0, conf);
    st = wait_final(&f, late);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(counter(st, "answered"), 3);
    assert_int_equal(counter(st, "code.3"), EMBER_ENOENT);
    assert_int_equal(f.silent_requests, WORKER_MR_FETCHES_MAX); /* none went to rank 5 */
    for (size_t i = 0; i < f.n_to_primary; i++)
        assert_int_not_equal(f.to_primary[i]->body_case, RANK_MESSAGE__BODY_FETCH_FAILURE);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "task") == 0 && strcmp(argv[2], "--exec-wrapper") == 0)
        return container_exec_main(argc - 3, argv + 3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_succeeds),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_kill),
        cmocka_unit_test(test_launch_refused),
        cmocka_unit_test(test_unknown_hello_refused),
        cmocka_unit_test(test_map_events),
        cmocka_unit_test(test_commit),
        cmocka_unit_test(test_shuffle_serve),
        cmocka_unit_test(test_fetch),
        cmocka_unit_test(test_fetch_bound),
        cmocka_unit_test(test_fetch_timeout_key),
        cmocka_unit_test(test_fetch_obsolete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
