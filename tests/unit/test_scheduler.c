/* test_scheduler.c -- unit tests for scheduler/: the resource manager and
 * the per-job master, driven by hand through a fake host
 * (scheduler_fixture.h): nodes registered, jobs submitted, and every
 * attempt's statuses reported as a worker would, with a clock the tests
 * move.  Nothing sleeps and no MPI runs. */
/* cmocka needs these first, in this order */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <jansson.h>
#include <unistd.h>

#include "mapreduce/task.h"
#include "scheduler_fixture.h"

static const char *const no_conf[] = {NULL};

/* Setup, then the job's first launches. */
static void fx_finish_setup(fx *f) {
    fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_SETUP);
    assert_non_null(m);
    fx_succeed(f, m);
}

/* ---- locality ----------------------------------------------------------- */

static void test_locality_mostly_node_local(void **state) {
    (void)state;
    fx *f = fx_create("", 5);
    fx_node(f, 1, "host-a", 2);
    fx_node(f, 2, "host-b", 2);
    fx_node(f, 3, "host-c", 2);
    const char *hosts[30];
    const char *names[] = {"host-a", "host-b", "host-c"};
    for (int i = 0; i < 30; i++)
        hosts[i] = names[i % 3];
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 30, hosts, 1, NULL, no_conf));
    fx_autopilot(f);
    const JobReport *r = fx_report(f, id);
    assert_int_equal(r->state, JOB_STATE__JOB_SUCCEEDED);
    int64_t launched = fx_counter(f, id, "Launched map tasks");
    int64_t local = fx_counter(f, id, "Data-local map tasks");
    assert_int_equal(launched, 30);
    assert_true(local * 10 >= launched * 9);
    /* Each map ran on a node holding its split. */
    for (size_t i = 0; i < f->n_sent; i++) {
        const RankMessage *m = f->sent[i].msg;
        if (m->body_case != RANK_MESSAGE__BODY_LAUNCH_ATTEMPT ||
            m->launch_attempt->assignment->kind != TASK_KIND__TASK_KIND_MAP)
            continue;
        if (strcmp(m->launch_attempt->locality, "node-local") == 0)
            assert_string_equal(m->launch_attempt->assignment->job->splits[0]->hosts[0],
                                names[f->sent[i].rank - 1]);
        assert_int_equal(m->launch_attempt->assignment->job->n_splits, 1);
        assert_int_equal(m->launch_attempt->assignment->job_token.len, JOB_TOKEN_LEN);
    }
    fx_destroy(f);
}

/* The next map launched, scheduler ticks run (counted in *ticks) until
 * one is or max have run; NULL when none was. */
static fx_sent *fx_tick_until_map(fx *f, int max, int *ticks) {
    fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    while (m == NULL && *ticks < max) {
        scheduler_tick(f->s);
        (*ticks)++;
        m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    }
    return m;
}

/* Two maps whose data is on host-a, one slot there: host-b's offers are
 * declined (delay scheduling) until the delay has passed. */
static void test_delay_scheduling_waits(void **state) {
    (void)state;
    fx *f = fx_create("", 3);
    fx_node(f, 1, "host-a", 1);
    fx_node(f, 2, "host-b", 1);
    const char *hosts[] = {"host-a", "host-a", "host-a"};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 3, hosts, 0, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m0);
    assert_int_equal(m0->rank, 1);
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)); /* host-b declined */
    /* The local slot frees before the delay is over: map 1 waits for it. */
    fx_succeed(f, m0);
    fx_sent *m1 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m1);
    assert_int_equal(m1->rank, 1);
    assert_string_equal(m1->msg->launch_attempt->locality, "node-local");
    /* host-a stays busy: after 3 missed chances map 2 runs on host-b. */
    fx_status(f, 1, fx_attempt(m1), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    int ticks = 0;
    fx_sent *m2 = fx_tick_until_map(f, 10, &ticks);
    assert_non_null(m2);
    assert_int_equal(m2->rank, 2);
    assert_string_equal(m2->msg->launch_attempt->locality, "off-switch");
    assert_true(ticks >= 2);
    fx_destroy(f);
}

/* The default delay (-1) is YARN's: 40 chances capped at the live
 * nodes, here 2, so host-b takes a map of host-a's within a few ticks,
 * not 40 (8 s of the primary's 200 ms ticks). */
static void test_default_delay_capped(void **state) {
    (void)state;
    fx *f = fx_create("", -1);
    fx_node(f, 1, "host-a", 1);
    fx_node(f, 2, "host-b", 1);
    const char *hosts[] = {"host-a", "host-a"};
    fx_submit(f, 2, hosts, 0, NULL, no_conf);
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m0);
    assert_int_equal(m0->rank, 1);
    fx_status(f, 1, fx_attempt(m0), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    int ticks = 0;
    fx_sent *m1 = fx_tick_until_map(f, JM_LOCALITY_DELAY_DEFAULT, &ticks);
    assert_non_null(m1);
    assert_int_equal(m1->rank, 2);
    assert_string_equal(m1->msg->launch_attempt->locality, "off-switch");
    assert_true(ticks <= 2);
    fx_destroy(f);
}

/* With a rack map, a map waits, then goes rack-local before off-switch. */
static void test_rack_local(void **state) {
    (void)state;
    fx *f = fx_create("", 2);
    f->racks[0][0] = "host-a";
    f->racks[0][1] = "/r1";
    f->racks[1][0] = "host-b";
    f->racks[1][1] = "/r1";
    f->racks[2][0] = "host-c";
    f->racks[2][1] = "/r2";
    fx_node(f, 1, "host-a", 1);
    fx_node(f, 2, "host-b", 1);
    fx_node(f, 3, "host-c", 1);
    const char *hosts[] = {"host-a", "host-a"};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 2, hosts, 0, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_int_equal(m0->rank, 1);
    fx_sent *m1 = NULL;
    for (int i = 0; i < 10 && m1 == NULL; i++) {
        scheduler_tick(f->s);
        m1 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    }
    assert_non_null(m1);
    assert_int_equal(m1->rank, 2);
    assert_string_equal(m1->msg->launch_attempt->locality, "rack-local");
    fx_destroy(f);
}

/* ---- counters ----------------------------------------------------------- */

/* A RUNNING status of attempt m carrying two counters, as a task's last
 * report before it succeeds. */
static void fx_counters_status(fx *f, const fx_sent *m, const char *name, int64_t value) {
    Counter peak = COUNTER__INIT, records = COUNTER__INIT;
    peak.group = MR_GROUP_TASK;
    peak.name = (char *)name;
    peak.value = value;
    records.group = MR_GROUP_TASK;
    records.name = "Map input records";
    records.value = 10;
    Counter *list[] = {&peak, &records};
    AttemptStatus st = ATTEMPT_STATUS__INIT;
    st.attempt_id = (char *)fx_attempt(m);
    st.state = ATTEMPT_STATE__ATTEMPT_RUNNING;
    st.progress = 0.9f;
    st.counters = list;
    st.n_counters = 2;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_ATTEMPT_STATUS;
    msg.attempt_status = &st;
    scheduler_on_rank_message(f->s, m->rank, &msg);
}

/* The job's peak memory counters are its tasks' largest (as Hadoop's
 * "Peak Map Physical memory (bytes)"), the others their sum. */
static void test_peak_counters_take_the_max(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 4);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 3, NULL, 1, NULL, no_conf));
    fx_finish_setup(f);
    const int64_t peaks[] = {300, 700, 500};
    for (int i = 0; i < 3; i++) {
        fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
        assert_non_null(m);
        fx_counters_status(f, m, MR_COUNTER_PEAK_MAP_RSS, peaks[i]);
        fx_succeed(f, m);
    }
    fx_sent *r = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    assert_non_null(r);
    fx_counters_status(f, r, MR_COUNTER_PEAK_REDUCE_RSS, 400);
    fx_succeed(f, r);
    fx_autopilot(f); /* the cleanup */
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, MR_COUNTER_PEAK_MAP_RSS), 700);
    assert_int_equal(fx_counter(f, id, MR_COUNTER_PEAK_REDUCE_RSS), 400);
    assert_int_equal(fx_counter(f, id, "Map input records"), 40);
    fx_destroy(f);
}

/* ---- failures ----------------------------------------------------------- */

static void test_retry_on_another_node(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 1);
    fx_node(f, 2, "host-b", 1);
    const char *hosts[] = {"host-a"};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 1, hosts, 0, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_int_equal(m0->rank, 1);
    fx_status(f, 1, fx_attempt(m0), ATTEMPT_STATE__ATTEMPT_FAILED, 0, "killed by signal 11");
    fx_sent *m1 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m1);
    assert_int_equal(m1->rank, 2);
    assert_int_equal(m1->msg->launch_attempt->assignment->attempt, 1);
    fx_succeed(f, m1);
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, "Failed map tasks"), 1);
    fx_destroy(f);
}

static void test_job_fails_after_four_attempts(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 2, NULL, 1, NULL, no_conf));
    fx_finish_setup(f);
    for (int attempt = 0; attempt < 4; attempt++) {
        fx_sent *m;
        while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)) != NULL) {
            if (m->msg->launch_attempt->assignment->task_index == 1)
                fx_status(f, m->rank, fx_attempt(m), ATTEMPT_STATE__ATTEMPT_FAILED, 0,
                          "exit code 3");
            else
                fx_succeed(f, m);
        }
    }
    const JobReport *r = fx_report(f, id);
    assert_int_equal(r->state, JOB_STATE__JOB_RUNNING); /* aborting: its cleanup */
    /* The reduce started meanwhile is killed; the cleanup waits for it. */
    fx_sent *red = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    assert_non_null(red);
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_CLEANUP));
    assert_int_equal(fx_count(f, 0, RANK_MESSAGE__BODY_KILL_ATTEMPT, -1), 1);
    fx_status(f, red->rank, fx_attempt(red), ATTEMPT_STATE__ATTEMPT_KILLED, 0, "killed");
    fx_sent *c = fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_CLEANUP);
    assert_non_null(c);
    assert_false(c->msg->launch_attempt->assignment->commit);
    assert_true(c->msg->launch_attempt->assignment->remove_output);
    /* The history the cleanup writes: every attempt, with where and why. */
    json_error_t jerr;
    json_t *h = json_loadb((const char *)c->msg->launch_attempt->assignment->history_json.data,
                           c->msg->launch_attempt->assignment->history_json.len, 0, &jerr);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "status")), "FAILED");
    assert_string_equal(json_string_value(json_object_get(h, "job_id")), id);
    json_t *attempts = json_object_get(h, "attempts");
    assert_int_equal(json_array_size(attempts),
                     1 + 4 + 1 + 1 + 1); /* setup, 4+1 maps, reduce, cleanup */
    size_t failed = 0;
    for (size_t i = 0; i < json_array_size(attempts); i++) {
        json_t *a = json_array_get(attempts, i);
        failed += strcmp(json_string_value(json_object_get(a, "status")), "FAILED") == 0;
        if (strcmp(json_string_value(json_object_get(a, "kind")), "CLEANUP") == 0) {
            /* The attempt writing the record: shown done when it was made. */
            assert_string_equal(json_string_value(json_object_get(a, "status")), "SUCCEEDED");
            assert_int_equal(json_integer_value(json_object_get(a, "finish_ms")),
                             json_integer_value(json_object_get(h, "finish_ms")));
        }
        assert_non_null(json_object_get(a, "cpuset"));
        assert_non_null(json_object_get(a, "locality"));
        assert_non_null(json_object_get(a, "phases"));
    }
    assert_int_equal(failed, 4);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(h, "counters"), "Job Counters"), "Failed map tasks")),
        4);
    json_decref(h);
    fx_succeed(f, c);
    r = fx_report(f, id);
    assert_int_equal(r->state, JOB_STATE__JOB_FAILED);
    assert_non_null(strstr(r->diagnostic, "_m_000001 failed 4 times"));
    assert_non_null(strstr(r->diagnostic, "exit code 3"));
    assert_non_null(strstr(r->diagnostic, "Segmentation fault in map()"));
    assert_int_equal(fx_counter(f, id, "Failed map tasks"), 4);
    assert_int_equal(fx_count(f, 0, RANK_MESSAGE__BODY_JOB_FINISHED, 1), 1);
    fx_destroy(f);
}

/* Three attempts of the job fail on host-a: it takes none of the job's
 * attempts any more while host-b can. */
static void test_blacklisting(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 4);
    fx_node(f, 2, "host-b", 1);
    const char *hosts[] = {"host-a", "host-a", "host-a", "host-a", "host-a", "host-a"};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 6, hosts, 0, NULL, no_conf));
    fx_finish_setup(f);
    int failed = 0;
    fx_sent *m;
    while (failed < 3 && (m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)) != NULL)
        if (m->rank == 1) {
            fx_status(f, 1, fx_attempt(m), ATTEMPT_STATE__ATTEMPT_FAILED, 0, "exit code 1");
            failed++;
        }
    assert_int_equal(failed, 3);
    size_t mark = f->n_sent; /* launches before it were sent before the blacklisting */
    for (int i = 0; i < 20; i++) {
        while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)) != NULL)
            fx_succeed(f, m);
        scheduler_tick(f->s);
    }
    for (size_t i = mark; i < f->n_sent; i++)
        if (f->sent[i].msg->body_case == RANK_MESSAGE__BODY_LAUNCH_ATTEMPT)
            assert_int_not_equal(f->sent[i].rank, 1);
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    fx_destroy(f);
}

/* ---- node loss and fetch failures --------------------------------------- */

/* Maps 1 and 2 run and map 0 is done on host-a, the reduce runs on
 * host-b; host-a dies: all three maps run again (on host-c), and the
 * reduce's worker is told map 0's output is obsolete. */
static void test_node_loss_reruns_maps(void **state) {
    (void)state;
    fx *f = fx_create("", 100);
    fx_node(f, 1, "host-a", 2);
    fx_node(f, 2, "host-b", 1);
    const char *hosts[] = {"host-a", "host-a", "host-a"};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 3, hosts, 1, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    fx_sent *m1 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_int_equal(m0->rank, 1);
    assert_int_equal(m1->rank, 1);
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)); /* host-b waits (delay) */
    fx_status(f, 1, fx_attempt(m1), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.3f, NULL);
    fx_succeed(f, m0); /* map 0 done on host-a: map 2 takes its slot, */
    fx_sent *m2 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_int_equal(m2->rank, 1);
    scheduler_tick(f->s); /* and, no map waiting any more, the reduce host-b */
    fx_sent *r = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    assert_non_null(r);
    assert_int_equal(r->rank, 2);
    /* The reduce's worker had the events before the launch. */
    size_t launch_at = (size_t)(r - f->sent);
    assert_int_equal(f->sent[launch_at - 1].msg->body_case, RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS);
    assert_int_equal(f->sent[launch_at - 1].rank, 2);
    fx_status(f, 2, fx_attempt(r), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    size_t mark = f->n_sent;
    scheduler_node_lost(f->s, 1);
    int obsolete = 0;
    for (size_t i = mark; i < f->n_sent; i++)
        if (f->sent[i].msg->body_case == RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS &&
            f->sent[i].rank == 2)
            for (size_t e = 0; e < f->sent[i].msg->map_output_events->n_events; e++)
                obsolete += f->sent[i].msg->map_output_events->events[e]->obsolete &&
                            f->sent[i].msg->map_output_events->events[e]->map_index == 0;
    assert_int_equal(obsolete, 1);
    assert_int_equal(fx_counter(f, id, "Killed map tasks"), 3);
    assert_int_equal(fx_report(f, id)->maps_completed, 0);
    /* A new node: the maps, whose host is gone, run there at once. */
    fx_node(f, 3, "host-c", 2);
    fx_sent *a = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    fx_sent *b = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->rank, 3);
    assert_int_equal(b->rank, 3);
    fx_succeed(f, a);
    fx_succeed(f, b);
    fx_autopilot(f);
    fx_succeed(f, r);
    fx_autopilot(f);
    const JobReport *rep = fx_report(f, id);
    assert_int_equal(rep->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, "Launched map tasks"), 6);
    assert_int_equal(fx_counter(f, id, "Failed map tasks"), 0);
    fx_destroy(f);
}

static void test_fetch_failures_make_map_obsolete(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 1);
    fx_node(f, 2, "host-b", 1);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 1, NULL, 1, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    int map_rank = m0->rank;
    char map_id[128];
    snprintf(map_id, sizeof(map_id), "%s", fx_attempt(m0));
    fx_succeed(f, m0);
    fx_sent *r = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    assert_non_null(r);
    fx_status(f, r->rank, fx_attempt(r), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    FetchFailure ff = FETCH_FAILURE__INIT;
    ff.reduce_attempt_id = (char *)fx_attempt(r);
    ff.map_attempt_id = map_id;
    ff.map_index = 0;
    ff.reason = "connection reset";
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_FETCH_FAILURE;
    msg.fetch_failure = &ff;
    scheduler_on_rank_message(f->s, r->rank, &msg);
    scheduler_on_rank_message(f->s, r->rank, &msg);
    assert_int_equal(fx_report(f, id)->maps_completed, 1);
    scheduler_on_rank_message(f->s, r->rank, &msg);
    assert_int_equal(fx_report(f, id)->maps_completed, 0);
    fx_sent *again = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(again);
    assert_int_equal(again->msg->launch_attempt->assignment->task_index, 0);
    assert_int_equal(again->msg->launch_attempt->assignment->attempt, 1);
    (void)map_rank;
    fx_succeed(f, again);
    fx_succeed(f, r);
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, "Failed map tasks"), 1);
    fx_destroy(f);
}

/* ---- speculation and commit --------------------------------------------- */

static void test_speculation_backs_up_a_straggler(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 4);
    fx_node(f, 2, "host-b", 4);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 4, NULL, 0, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m[4];
    for (int i = 0; i < 4; i++) {
        m[i] = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
        assert_non_null(m[i]);
        fx_status(f, m[i]->rank, fx_attempt(m[i]), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    }
    f->now += 1000;
    for (int i = 0; i < 3; i++) {
        fx_status(f, m[i]->rank, fx_attempt(m[i]), ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1, NULL);
        fx_status(f, m[i]->rank, fx_attempt(m[i]), ATTEMPT_STATE__ATTEMPT_SUCCEEDED, 1, NULL);
    }
    scheduler_tick(f->s);
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)); /* not slow yet */
    f->now += 4000;
    fx_status(f, m[3]->rank, fx_attempt(m[3]), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.2f, NULL);
    scheduler_tick(f->s);
    fx_sent *backup = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(backup);
    assert_int_not_equal(backup->rank, m[3]->rank);
    assert_string_equal(backup->msg->launch_attempt->locality, "off-switch");
    assert_int_equal(backup->msg->launch_attempt->assignment->task_index, 3);
    size_t mark = f->n_sent;
    /* The backup finishes first: it commits, the straggler is killed. */
    fx_status(f, backup->rank, fx_attempt(backup), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.5f, NULL);
    fx_status(f, backup->rank, fx_attempt(backup), ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1, NULL);
    assert_int_equal(fx_count(f, mark, RANK_MESSAGE__BODY_KILL_ATTEMPT, m[3]->rank), 1);
    fx_status(f, backup->rank, fx_attempt(backup), ATTEMPT_STATE__ATTEMPT_SUCCEEDED, 1, NULL);
    fx_status(f, m[3]->rank, fx_attempt(m[3]), ATTEMPT_STATE__ATTEMPT_KILLED, 0.3f, "killed");
    fx_autopilot(f);
    const JobReport *r = fx_report(f, id);
    assert_int_equal(r->state, JOB_STATE__JOB_SUCCEEDED);
    for (size_t i = 0; i < r->n_tasks; i++)
        if (r->tasks[i]->kind == TASK_KIND__TASK_KIND_MAP && r->tasks[i]->index == 3) {
            assert_string_equal(r->tasks[i]->successful_attempt, fx_attempt(backup));
            assert_true(r->tasks[i]->attempts[1]->speculative);
        }
    assert_int_equal(fx_counter(f, id, "Killed map tasks"), 1);
    fx_destroy(f);
}

/* An attempt allowed to commit is told so again if it asks again; when it
 * fails before finishing, the task's next attempt may commit instead. */
static void test_commit_exactly_once(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    fx_node(f, 2, "host-b", 2);
    const char *const conf[] = {"mapreduce.map.speculative=false", NULL};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 3, NULL, 1, NULL, conf));
    fx_finish_setup(f);
    fx_sent *m;
    while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)) != NULL) {
        f->now += 100;
        fx_succeed(f, m);
    }
    fx_sent *r0 = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    fx_status(f, r0->rank, fx_attempt(r0), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.01f, NULL);
    assert_non_null(scheduler_find_job(f->s, id));
    size_t mark = f->n_sent;
    fx_status(f, r0->rank, fx_attempt(r0), ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1, NULL);
    fx_status(f, r0->rank, fx_attempt(r0), ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1, NULL);
    int allowed = 0;
    for (size_t i = mark; i < f->n_sent; i++)
        if (f->sent[i].msg->body_case == RANK_MESSAGE__BODY_COMMIT_RESPONSE)
            allowed += f->sent[i].msg->commit_response->allowed;
    assert_int_equal(allowed, 2); /* the same attempt asking again is told yes again */
    /* It fails after committing: the next attempt may commit (the first never finished). */
    fx_status(f, r0->rank, fx_attempt(r0), ATTEMPT_STATE__ATTEMPT_FAILED, 1, "lost its disk");
    fx_sent *r1 = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    assert_non_null(r1);
    mark = f->n_sent;
    fx_succeed(f, r1);
    assert_int_equal(fx_count(f, mark, RANK_MESSAGE__BODY_COMMIT_RESPONSE, -1), 1);
    for (size_t i = mark; i < f->n_sent; i++)
        if (f->sent[i].msg->body_case == RANK_MESSAGE__BODY_COMMIT_RESPONSE)
            assert_true(f->sent[i].msg->commit_response->allowed);
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    fx_destroy(f);
}

/* A reduce and its speculative backup both ask to commit. */
static void test_commit_one_of_twins(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    fx_node(f, 2, "host-b", 2);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 1, NULL, 3, NULL, no_conf));
    fx_finish_setup(f);
    fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    fx_succeed(f, m);
    fx_sent *r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
        assert_non_null(r[i]);
        fx_status(f, r[i]->rank, fx_attempt(r[i]), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    }
    f->now += 1000;
    fx_succeed(f, r[0]);
    fx_succeed(f, r[1]);
    f->now += 5000;
    scheduler_tick(f->s);
    fx_sent *b = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
    assert_non_null(b);
    assert_int_equal(b->msg->launch_attempt->assignment->task_index, 2);
    size_t mark = f->n_sent;
    fx_status(f, b->rank, fx_attempt(b), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.5f, NULL);
    fx_status(f, b->rank, fx_attempt(b), ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1, NULL);
    fx_status(f, r[2]->rank, fx_attempt(r[2]), ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, 1, NULL);
    int yes = 0, no = 0;
    for (size_t i = mark; i < f->n_sent; i++)
        if (f->sent[i].msg->body_case == RANK_MESSAGE__BODY_COMMIT_RESPONSE) {
            if (f->sent[i].msg->commit_response->allowed) {
                yes++;
                assert_string_equal(f->sent[i].msg->commit_response->attempt_id, fx_attempt(b));
            } else {
                no++;
            }
        }
    assert_int_equal(yes, 1);
    assert_int_equal(no, 1);
    /* The loser finishes anyway: recorded KILLED, the winner SUCCEEDED. */
    fx_status(f, r[2]->rank, fx_attempt(r[2]), ATTEMPT_STATE__ATTEMPT_SUCCEEDED, 1, NULL);
    fx_status(f, b->rank, fx_attempt(b), ATTEMPT_STATE__ATTEMPT_SUCCEEDED, 1, NULL);
    fx_autopilot(f);
    const JobReport *rep = fx_report(f, id);
    assert_int_equal(rep->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, "Killed reduce tasks"), 1);
    fx_destroy(f);
}

/* The fourth failure fails the task even while a backup of it runs: the
 * backup is killed (Hadoop's rule). */
static void test_last_failure_with_backup_running(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    fx_node(f, 2, "host-b", 2);
    fx_node(f, 3, "host-c", 2); /* where neither the failure nor the retry is */
    const char *const conf[] = {"mapreduce.map.maxattempts=2", NULL};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 2, NULL, 0, NULL, conf));
    fx_finish_setup(f);
    fx_sent *m0 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    fx_sent *m1 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    fx_sent *slow = m0->msg->launch_attempt->assignment->task_index == 1 ? m0 : m1;
    fx_sent *fast = slow == m0 ? m1 : m0;
    fx_status(f, slow->rank, fx_attempt(slow), ATTEMPT_STATE__ATTEMPT_FAILED, 0, "exit code 1");
    fx_sent *retry = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(retry);
    fx_status(f, retry->rank, fx_attempt(retry), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    fx_status(f, fast->rank, fx_attempt(fast), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.5f, NULL);
    f->now += 1000;
    fx_succeed(f, fast);
    f->now += 5000;
    scheduler_tick(f->s);
    fx_sent *backup = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(backup);
    fx_status(f, backup->rank, fx_attempt(backup), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    size_t mark = f->n_sent;
    fx_status(f, retry->rank, fx_attempt(retry), ATTEMPT_STATE__ATTEMPT_FAILED, 0, "exit code 2");
    assert_int_equal(fx_count(f, mark, RANK_MESSAGE__BODY_KILL_ATTEMPT, backup->rank), 1);
    fx_status(f, backup->rank, fx_attempt(backup), ATTEMPT_STATE__ATTEMPT_KILLED, 0, "killed");
    fx_autopilot(f);
    const JobReport *r = fx_report(f, id);
    assert_int_equal(r->state, JOB_STATE__JOB_FAILED);
    assert_non_null(strstr(r->diagnostic, "failed 2 times"));
    assert_non_null(strstr(r->diagnostic, "exit code 2"));
    fx_destroy(f);
}

/* ---- slowstart, queues -------------------------------------------------- */

static void test_slowstart(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 16);
    const char *const conf[] = {"mapreduce.job.reduce.slowstart.completedmaps=0.5", NULL};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 10, NULL, 2, NULL, conf));
    fx_finish_setup(f);
    fx_sent *reduces[2] = {NULL, NULL};
    for (int done = 0; done < 10; done++) {
        /* 1 setup and 10 maps launched; reduces only once 5 maps are done */
        int launched = (int)fx_count(f, 0, RANK_MESSAGE__BODY_LAUNCH_ATTEMPT, -1) - 11;
        assert_int_equal(launched, done < 5 ? 0 : 2);
        fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
        assert_non_null(m);
        fx_succeed(f, m);
        if (done == 4) {
            reduces[0] = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
            reduces[1] = fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE);
            assert_non_null(reduces[1]);
        }
    }
    fx_succeed(f, reduces[0]);
    fx_succeed(f, reduces[1]);
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    fx_destroy(f);
}

/* Two containers, four maps whose data is on host-a, one reduce,
 * slowstart 0.05, the default delay: while a map waits, host-b's free
 * container goes to it once the delay has passed, never to the reduce
 * (which would hold half the cluster only to wait for outputs); the
 * reduce starts once no map waits. */
static void test_reduce_waits_for_maps(void **state) {
    (void)state;
    fx *f = fx_create("", -1);
    fx_node(f, 1, "host-a", 1);
    fx_node(f, 2, "host-b", 1);
    const char *hosts[] = {"host-a", "host-a", "host-a", "host-a"};
    fx_submit(f, 4, hosts, 1, NULL, no_conf);
    fx_finish_setup(f);
    fx_sent *m[4] = {NULL};
    m[0] = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m[0]);
    assert_int_equal(m[0]->rank, 1);
    for (int i = 1, ticks = 0; i < 4; i++) {
        /* The map on host-b, when there is one, frees its container. */
        if (i == 2)
            fx_succeed(f, m[0]); /* slowstart reached: the reduce may run */
        if (i == 3)
            fx_succeed(f, m[1]);
        while ((m[i] = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)) == NULL && ticks < 100) {
            assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE));
            scheduler_tick(f->s);
            ticks++;
        }
        assert_non_null(m[i]);
        assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE));
    }
    assert_int_equal(m[1]->rank, 2);
    assert_int_equal(m[3]->rank, 2);
    /* No map waits now: the next free container is the reduce's. */
    fx_succeed(f, m[2]);
    scheduler_tick(f->s);
    assert_non_null(fx_next_launch(f, TASK_KIND__TASK_KIND_REDUCE));
    fx_destroy(f);
}

static void test_fifo_order(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 4);
    char j1[128], j2[128];
    snprintf(j1, sizeof(j1), "%s", fx_submit(f, 20, NULL, 0, NULL, no_conf));
    snprintf(j2, sizeof(j2), "%s", fx_submit(f, 20, NULL, 0, NULL, no_conf));
    fx_sent *m;
    while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_SETUP)) != NULL)
        fx_succeed(f, m);
    /* Every map of the first job is launched before any of the second. */
    int first_done = 0, launched = 0;
    while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP)) != NULL) {
        int of_j1 = strstr(fx_attempt(m), j1 + 4) != NULL;
        if (!of_j1)
            first_done = 1;
        else
            assert_false(first_done);
        launched++;
        f->now += 10;
        fx_succeed(f, m);
    }
    assert_int_equal(launched, 40);
    fx_destroy(f);
}

static void test_capacity_queues_share(void **state) {
    (void)state;
    char path[] = "/tmp/sched-queues-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# name capacity maximum\nprod 70 100\ndev 30 100\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    fx *f = fx_create(path, 0);
    unlink(path);
    fx_node(f, 1, "host-a", 5);
    fx_node(f, 2, "host-b", 5);
    char a[128], b[128];
    snprintf(a, sizeof(a), "%s", fx_submit(f, 400, NULL, 0, "prod", no_conf));
    snprintf(b, sizeof(b), "%s", fx_submit(f, 400, NULL, 0, "dev", no_conf));
    assert_null(fx_submit(f, 1, NULL, 0, "nosuch", no_conf));
    assert_non_null(strstr(f->last_error_text, "unknown queue: nosuch"));
    assert_null(strchr(f->last_error_text, '\n'));
    /* Rounds: every running attempt ends, the freed room is shared. */
    int la = 0, lb = 0;
    for (int round = 0; round < 30; round++) {
        fx_sent *batch[64];
        int n = 0;
        fx_sent *m;
        while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_UNKNOWN)) != NULL && n < 64) {
            batch[n++] = m;
            if (m->msg->launch_attempt->assignment->kind == TASK_KIND__TASK_KIND_MAP &&
                round >= 2) {
                la += strstr(fx_attempt(m), a + 4) != NULL;
                lb += strstr(fx_attempt(m), b + 4) != NULL;
            }
        }
        f->now += 100;
        for (int i = 0; i < n; i++)
            fx_succeed(f, batch[i]);
    }
    double share = (double)la / (double)(la + lb);
    assert_true(la + lb > 100);
    assert_true(share > 0.6 && share < 0.8);
    fx_destroy(f);
}

/* A worker without room refuses a launch (KILLED before running): it does
 * not count, and the node gets nothing more until its next heartbeat. */
static void test_refused_launch_waits_for_heartbeat(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    const char *const conf[] = {"mapreduce.job.queuename=default", NULL};
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 2, NULL, 0, "", conf));
    assert_string_equal(fx_report(f, id)->queue, "default");
    fx_finish_setup(f);
    fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m);
    fx_sent *m2 = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(m2);
    fx_status(f, 1, fx_attempt(m), ATTEMPT_STATE__ATTEMPT_KILLED, 0, "no room for the container");
    for (int i = 0; i < 5; i++)
        scheduler_tick(f->s);
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_MAP));
    fx_node(f, 1, "host-a", 2); /* the heartbeat */
    fx_sent *again = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_non_null(again);
    assert_int_equal(again->msg->launch_attempt->assignment->task_index,
                     m->msg->launch_attempt->assignment->task_index);
    fx_succeed(f, m2);
    fx_succeed(f, again);
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, "Failed map tasks"), 0);
    assert_int_equal(fx_counter(f, id, "Killed map tasks"), 1);
    fx_destroy(f);
}

/* A larger job runs through (the passes stay cheap enough, the invariants
 * hold all along): 2,000 maps on 10 nodes, 20 reduces. */
static void test_many_tasks(void **state) {
    (void)state;
    fx *f = fx_create("", 10);
    static const char *names[10] = {"h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"};
    for (int i = 0; i < 10; i++)
        fx_node(f, i + 1, names[i], 8);
    static const char *hosts[2000];
    for (int i = 0; i < 2000; i++)
        hosts[i] = names[(i * 7) % 10];
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 2000, hosts, 20, NULL, no_conf));
    fx_autopilot(f);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_SUCCEEDED);
    assert_int_equal(fx_counter(f, id, "Launched map tasks"), 2000);
    assert_true(fx_counter(f, id, "Data-local map tasks") >= 1800);
    fx_destroy(f);
}

/* A queue at its maximum share gets nothing more: its running job holds
 * 20% of the vcores, a second job there waits in PREP, while the other
 * queue's job has the rest. */
static void test_capacity_maximum(void **state) {
    (void)state;
    char path[] = "/tmp/sched-queues-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "small 20 20\nbig 80\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    fx *f = fx_create(path, 0);
    unlink(path);
    fx_node(f, 1, "host-a", 10);
    char a[128], b[128], c[128];
    snprintf(a, sizeof(a), "%s", fx_submit(f, 50, NULL, 0, "small", no_conf));
    fx_finish_setup(f);
    snprintf(b, sizeof(b), "%s", fx_submit(f, 1, NULL, 0, "small", no_conf));
    snprintf(c, sizeof(c), "%s", fx_submit(f, 50, NULL, 0, "big", no_conf));
    assert_int_equal(fx_report(f, a)->containers, 2);
    assert_int_equal(fx_report(f, b)->state, JOB_STATE__JOB_PREP);
    assert_int_equal(fx_report(f, b)->containers, 0);
    fx_sent *m;
    while ((m = fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_SETUP)) != NULL)
        fx_succeed(f, m);
    assert_int_equal(fx_report(f, c)->containers, 8);
    assert_int_equal(fx_report(f, a)->containers, 2);
    QueueListRequest ql = QUEUE_LIST_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_QUEUE_LIST;
    req.queue_list = &ql;
    scheduler_on_request(f->s, 1, "alice", &req);
    const QueueListResponse *q = f->last_reply->queue_list_response;
    assert_int_equal(q->n_queues, 2);
    assert_string_equal(q->queues[0]->name, "small");
    assert_int_equal(q->queues[0]->vcores_used, 2);
    assert_int_equal(q->queues[0]->running_jobs, 1);
    assert_int_equal(q->queues[0]->pending_jobs, 1);
    assert_int_equal(q->queues[1]->vcores_used, 8);
    fx_destroy(f);
}

/* ---- kill, tokens, bad submissions -------------------------------------- */

static void test_kill_and_job_auth(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 4, NULL, 1, NULL, no_conf));
    uint8_t token[JOB_TOKEN_LEN], want[JOB_TOKEN_LEN];
    const char *user;
    assert_int_equal(scheduler_job_auth(f->s, id, token, &user), EMBER_OK);
    assert_string_equal(user, "alice");
    assert_int_equal(scheduler_job_token("s3cret", id, want), EMBER_OK);
    assert_memory_equal(token, want, JOB_TOKEN_LEN);
    fx_finish_setup(f);
    fx_sent *m = fx_next_launch(f, TASK_KIND__TASK_KIND_MAP);
    assert_memory_equal(m->msg->launch_attempt->assignment->job_token.data, want, JOB_TOKEN_LEN);
    fx_status(f, m->rank, fx_attempt(m), ATTEMPT_STATE__ATTEMPT_RUNNING, 0.1f, NULL);
    KillJobRequest kj = KILL_JOB_REQUEST__INIT;
    kj.job_id = id;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_KILL_JOB;
    req.kill_job = &kj;
    size_t mark = f->n_sent;
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_int_equal(fx_count(f, mark, RANK_MESSAGE__BODY_KILL_ATTEMPT, -1), 2);
    /* Ending already: a second kill is refused with one line. */
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_int_equal(f->last_error, EMBER_ESTATE);
    assert_non_null(strstr(f->last_error_text, "already ending"));
    /* The cleanup waits for the killed attempts to end. */
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_CLEANUP));
    for (size_t i = mark; i < f->n_sent; i++)
        if (f->sent[i].msg->body_case == RANK_MESSAGE__BODY_KILL_ATTEMPT)
            fx_status(f, f->sent[i].rank, f->sent[i].msg->kill_attempt->attempt_id,
                      ATTEMPT_STATE__ATTEMPT_KILLED, 0, "killed");
    fx_sent *c = fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_CLEANUP);
    assert_non_null(c);
    assert_false(c->msg->launch_attempt->assignment->commit);
    assert_int_equal(scheduler_job_auth(f->s, id, token, &user), EMBER_OK); /* still ending */
    fx_succeed(f, c);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_KILLED);
    assert_int_equal(scheduler_job_auth(f->s, id, token, &user), EMBER_ESTATE);
    assert_int_equal(scheduler_job_auth(f->s, "job_nosuch_0001", token, &user), EMBER_ENOENT);
    assert_int_equal(f->n_removed, 0); /* the cleanup attempt removed the staging directory */
    fx_destroy(f);
}

/* A job killed before its setup attempt launched (no node to run it) has
 * no cleanup attempt: the scheduler has its staging directory removed. */
static void test_kill_before_setup(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    char id[128];
    snprintf(id, sizeof(id), "%s", fx_submit(f, 2, NULL, 1, NULL, no_conf));
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_SETUP));
    KillJobRequest kj = KILL_JOB_REQUEST__INIT;
    kj.job_id = id;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_KILL_JOB;
    req.kill_job = &kj;
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_int_equal(fx_report(f, id)->state, JOB_STATE__JOB_KILLED);
    assert_int_equal(f->n_removed, 1);
    char want[192];
    snprintf(want, sizeof(want), "/tmp/ember/staging/alice/%s", id);
    assert_string_equal(f->removed[0], want);
    fx_node(f, 1, "host-a", 2); /* nothing of the job launches after */
    assert_null(fx_next_launch(f, TASK_KIND__TASK_KIND_JOB_SETUP));
    fx_destroy(f);
}

static void test_bad_submissions(void **state) {
    (void)state;
    fx *f = fx_create("", 0);
    fx_node(f, 1, "host-a", 2);
    const char *const bad[] = {"mapreduce.map.maxattempts=lots", NULL};
    assert_null(fx_submit(f, 1, NULL, 0, NULL, bad));
    assert_non_null(strstr(f->last_error_text, "mapreduce.map.maxattempts"));
    assert_null(fx_submit(f, 1, NULL, 0, "two\nlines", no_conf));
    assert_null(strchr(f->last_error_text, '\n'));
    assert_non_null(strstr(f->last_error_text, "queue name"));
    /* A status for an unknown attempt, a request of no job: ignored, answered. */
    fx_status(f, 1, "attempt_nosuch_0001_m_000000_0", ATTEMPT_STATE__ATTEMPT_RUNNING, 0, NULL);
    JobStatusRequest js = JOB_STATUS_REQUEST__INIT;
    js.job_id = "job_202601010000_9999";
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_JOB_STATUS;
    req.job_status = &js;
    scheduler_on_request(f->s, 1, "alice", &req);
    assert_int_equal(f->last_error, EMBER_ENOENT);
    assert_non_null(strstr(f->last_error_text, "Could not find job"));
    fx_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locality_mostly_node_local),
        cmocka_unit_test(test_delay_scheduling_waits),
        cmocka_unit_test(test_default_delay_capped),
        cmocka_unit_test(test_rack_local),
        cmocka_unit_test(test_peak_counters_take_the_max),
        cmocka_unit_test(test_retry_on_another_node),
        cmocka_unit_test(test_job_fails_after_four_attempts),
        cmocka_unit_test(test_blacklisting),
        cmocka_unit_test(test_node_loss_reruns_maps),
        cmocka_unit_test(test_fetch_failures_make_map_obsolete),
        cmocka_unit_test(test_speculation_backs_up_a_straggler),
        cmocka_unit_test(test_commit_exactly_once),
        cmocka_unit_test(test_commit_one_of_twins),
        cmocka_unit_test(test_last_failure_with_backup_running),
        cmocka_unit_test(test_slowstart),
        cmocka_unit_test(test_reduce_waits_for_maps),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_capacity_queues_share),
        cmocka_unit_test(test_capacity_maximum),
        cmocka_unit_test(test_refused_launch_waits_for_heartbeat),
        cmocka_unit_test(test_many_tasks),
        cmocka_unit_test(test_kill_and_job_auth),
        cmocka_unit_test(test_kill_before_setup),
        cmocka_unit_test(test_bad_submissions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
