/* job_master.c -- a job's state machines and the events that drive them
 * (see job_master.h).  Placement and speculation are in job_placement.c,
 * reports and the history in job_report.c.
 *
 * The job:
 *   from        event                                    to          function
 *   SETUP       setup attempt SUCCEEDED                  RUNNING     jm_job_advance
 *   SETUP       setup out of attempts                    ABORTING    jm_job_abort (FAILED)
 *   SETUP       kill, nothing launched yet               KILLED      jm_job_abort
 *   SETUP       kill                                     ABORTING    jm_job_abort (KILLED)
 *   RUNNING     every map and reduce SUCCEEDED           COMMITTING  jm_job_advance
 *   RUNNING     a task out of attempts                   ABORTING    jm_job_abort (FAILED)
 *   RUNNING     kill                                     ABORTING    jm_job_abort (KILLED)
 *   COMMITTING  cleanup (commit) SUCCEEDED               SUCCEEDED   jm_job_advance
 *   COMMITTING  cleanup out of attempts                  FAILED      jm_task_after_end
 *   ABORTING    cleanup (abort) SUCCEEDED or out of
 *               attempts                                 final       jm_job_advance / jm_task_after_end
 * (a kill while COMMITTING or ABORTING is refused: the job is ending.)
 * SETUP is reported PREP, COMMITTING and ABORTING RUNNING.  The cleanup
 * attempt starts only once no map, reduce or setup attempt is active
 * (killed ones have reported), so nothing writes under OUT after it.
 *
 * A task (maps, reduces, the setup and the cleanup task alike):
 *   from                 event                                 to
 *   NEW, SCHEDULED       an attempt launched                   SCHEDULED
 *   SCHEDULED            an attempt RUNNING / COMMIT_PENDING   RUNNING
 *   SCHEDULED, RUNNING   an attempt SUCCEEDED                  SUCCEEDED
 *   SCHEDULED, RUNNING   the last active attempt FAILED or
 *                        KILLED, attempts left                 SCHEDULED (wants another)
 *   SCHEDULED, RUNNING   an attempt FAILED, none left (a
 *                        backup still running is killed)       FAILED
 *   SUCCEEDED (a map)    its output lost (node lost, fetch
 *                        failures) while a reduce needs it     SCHEDULED
 *   any but terminal     the job aborts                        KILLED
 * all through jm_task_transition().
 *
 * An attempt (the worker's AttemptState):
 *   STARTING -> RUNNING -> COMMIT_PENDING -> SUCCEEDED, and from any of
 *   the first three to FAILED or KILLED; SUCCEEDED -> FAILED (too many
 *   fetch failures) or KILLED (its node lost) for a map whose output a
 *   reduce still needs.  An attempt the master killed (kill_sent), or that
 *   was refused its commit, ends KILLED whatever the worker says; a node
 *   lost ends its active attempts KILLED (not counted against
 *   maxattempts, as Hadoop).  Statuses for an ended attempt are ignored.
 *
 * Invariants (jm_task_check, jm_job_check, after every transition):
 *  1. a NEW task has no attempt;
 *  2. a RUNNING task has an active attempt RUNNING or COMMIT_PENDING;
 *  3. a SUCCEEDED task's successful attempt is SUCCEEDED, and it is the
 *     only SUCCEEDED attempt of the task;
 *  4. at most two attempts of a task are active, and two only when one
 *     is a speculative backup or the other is being killed;
 *  5. at most one attempt of a task was allowed to commit (committer), and
 *     no other attempt of it ever SUCCEEDED after a committer was chosen;
 *  6. a task's failures stay below its maxattempts unless it is FAILED;
 *  7. every active attempt of a task that is over has been sent a kill;
 *  8. maps_done and reduces_done count the SUCCEEDED maps and reduces;
 *  9. no map or reduce attempt was launched before setup succeeded, and
 *     the cleanup task has attempts only when COMMITTING, ABORTING or over;
 * 10. a job that is over has no active attempt except killed ones. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "job_master_internal.h"

/* ---- names and lookups ------------------------------------------------ */

int jm_attempt_active(const jm_attempt *a) {
    return a->state == ATTEMPT_STATE__ATTEMPT_STARTING ||
           a->state == ATTEMPT_STATE__ATTEMPT_RUNNING ||
           a->state == ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING;
}

const char *jm_task_state_name(task_state s) {
    static const char *const names[] = {"NEW",       "SCHEDULED", "RUNNING",
                                        "SUCCEEDED", "FAILED",    "KILLED"};
    return names[s];
}

static int jm_task_over(const jm_task *t) {
    return t->state == TASK_SUCCEEDED || t->state == TASK_FAILED || t->state == TASK_KILLED;
}

static int jm_over(const job_master *jm) {
    return jm->state == JM_SUCCEEDED || jm->state == JM_FAILED || jm->state == JM_KILLED;
}

JobState jm_report_state(const job_master *jm) {
    switch (jm->state) {
    case JM_SETUP: return JOB_STATE__JOB_PREP;
    case JM_RUNNING:
    case JM_COMMITTING:
    case JM_ABORTING: return JOB_STATE__JOB_RUNNING;
    case JM_SUCCEEDED: return JOB_STATE__JOB_SUCCEEDED;
    case JM_FAILED: return JOB_STATE__JOB_FAILED;
    case JM_KILLED: return JOB_STATE__JOB_KILLED;
    }
    return JOB_STATE__JOB_UNKNOWN;
}

void jm_task_id(const job_master *jm, const jm_task *t, char *out, size_t len) {
    snprintf(out, len, "task_%s_%c_%06u", jm->job->job_id + 4,
             t->kind == TASK_KIND__TASK_KIND_REDUCE ? 'r' : 'm', t->index);
}

jm_task *jm_task_of(job_master *jm, TaskKind kind, uint32_t index) {
    if (kind == TASK_KIND__TASK_KIND_MAP && index < jm->n_maps)
        return &jm->maps[index];
    if (kind == TASK_KIND__TASK_KIND_REDUCE && index < jm->n_reduces)
        return &jm->reduces[index];
    if (kind == TASK_KIND__TASK_KIND_JOB_SETUP)
        return &jm->setup;
    if (kind == TASK_KIND__TASK_KIND_JOB_CLEANUP)
        return &jm->cleanup;
    return NULL;
}

/* The task and attempt an attempt id names ("attempt_<job>_m_000003_1"),
 * or 0 when it is not one of this job's. */
static int jm_find_attempt(job_master *jm, const char *id, jm_task **t_out, jm_attempt **a_out) {
    const char *job = jm->job->job_id + 4; /* past "job_" */
    size_t jl = strlen(job);
    if (strncmp(id, "attempt_", 8) != 0 || strncmp(id + 8, job, jl) != 0)
        return 0;
    const char *p = id + 8 + jl;
    char kind;
    unsigned index, number;
    if (sscanf(p, "_%c_%u_%u", &kind, &index, &number) != 3)
        return 0;
    jm_task *t = NULL;
    if (kind == 'r')
        t = jm_task_of(jm, TASK_KIND__TASK_KIND_REDUCE, index);
    else if (kind == 'm' && index < jm->n_maps)
        t = &jm->maps[index];
    else if (kind == 'm' && index == jm->n_maps)
        t = &jm->setup;
    else if (kind == 'm' && index == jm->n_maps + 1)
        t = &jm->cleanup;
    if (t == NULL || number >= t->n_attempts || strcmp(t->attempts[number].id, id) != 0)
        return 0;
    *t_out = t;
    *a_out = &t->attempts[number];
    return 1;
}

/* ---- invariants ------------------------------------------------------- */

void jm_task_check(const job_master *jm, const jm_task *t) {
#ifndef NDEBUG
    size_t active = 0, running = 0, succeeded = 0, killing = 0, backups = 0;
    for (size_t i = 0; i < t->n_attempts; i++) {
        const jm_attempt *a = &t->attempts[i];
        if (jm_attempt_active(a)) {
            active++;
            killing += a->kill_sent != 0;
            backups += a->speculative != 0;
            running += a->state != ATTEMPT_STATE__ATTEMPT_STARTING;
        }
        succeeded += a->state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED;
    }
    assert(t->state != TASK_NEW || t->n_attempts == 0); /* 1 */
    assert(t->state != TASK_RUNNING || running > 0);    /* 2 */
    assert(t->state != TASK_SUCCEEDED ||                /* 3 */
           (t->successful >= 0 &&
            t->attempts[t->successful].state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED));
    assert(succeeded <= 1);
    assert(active <= 2 && (active < 2 || backups > 0 || killing > 0));              /* 4 */
    assert(t->committer < 0 || t->successful < 0 || t->successful == t->committer); /* 5 */
    uint32_t max =
        t->kind == TASK_KIND__TASK_KIND_REDUCE ? jm->reduce_max_attempts : jm->map_max_attempts;
    assert(t->state == TASK_FAILED || t->failures < max || jm_over(jm) || /* 6 */
           jm->state == JM_ABORTING || jm->state == JM_COMMITTING);
    assert(!jm_task_over(t) || killing == active); /* 7 */
#else
    (void)jm;
    (void)t;
#endif
}

void jm_job_check(const job_master *jm) {
#ifndef NDEBUG
    uint32_t maps = 0, reduces = 0;
    for (uint32_t i = 0; i < jm->n_maps; i++) {
        maps += jm->maps[i].state == TASK_SUCCEEDED;
        assert(jm->setup.state == TASK_SUCCEEDED || jm->maps[i].n_attempts == 0 ||
               jm->state != JM_SETUP); /* 9 */
    }
    for (uint32_t i = 0; i < jm->n_reduces; i++)
        reduces += jm->reduces[i].state == TASK_SUCCEEDED;
    assert(maps == jm->maps_done && reduces == jm->reduces_done);      /* 8 */
    assert(jm->cleanup.n_attempts == 0 || jm->state >= JM_COMMITTING); /* 9 */
    if (jm_over(jm)) {                                                 /* 10 */
        const jm_task *all[] = {&jm->setup, &jm->cleanup};
        for (size_t k = 0; k < 2; k++)
            for (size_t i = 0; i < all[k]->n_attempts; i++)
                assert(!jm_attempt_active(&all[k]->attempts[i]) || all[k]->attempts[i].kill_sent);
    }
#else
    (void)jm;
#endif
}

/* ---- transitions ------------------------------------------------------ */

void jm_task_transition(job_master *jm, jm_task *t, task_state to) {
    t->state = to;
    if (to == TASK_SUCCEEDED || to == TASK_FAILED || to == TASK_KILLED)
        t->want_backup = 0;
    jm_task_check(jm, t);
}

static void jm_job_transition(job_master *jm, jm_state to) {
    jm->state = to;
    if (jm_over(jm)) {
        jm->finish_wall = jm->env.now_wall(jm->env.arg);
        /* Every worker drops what it kept for the job. */
        JobFinished jf = JOB_FINISHED__INIT;
        jf.job_id = jm->job->job_id;
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_JOB_FINISHED;
        msg.job_finished = &jf;
        for (size_t i = 0; i < node_pool_count(jm->env.pool); i++) {
            const pool_node *n = node_pool_at(jm->env.pool, i);
            if (n->live)
                jm_send(jm, n->rank, &msg);
        }
        LOG_INFO("job %s %s", jm->job->job_id,
                 to == JM_SUCCEEDED ? "succeeded"
                 : to == JM_FAILED  ? "failed"
                                    : "was killed");
    }
    jm_job_check(jm);
}

/* Ends attempt a in state `to` (FAILED, KILLED or SUCCEEDED): its
 * container is given back and the job's counters take it in. */
static void jm_attempt_end(job_master *jm, jm_task *t, jm_attempt *a, AttemptState to,
                           const char *diag) {
    if (jm_attempt_active(a))
        jm->active--;
    if (to != ATTEMPT_STATE__ATTEMPT_SUCCEEDED && t->committer == (int)(a - t->attempts))
        t->committer = -1; /* it never finished: another attempt may commit */
    a->state = to;
    a->end_mono = jm->env.now_mono(jm->env.arg);
    if (a->finish_wall == 0)
        a->finish_wall = jm->env.now_wall(jm->env.arg);
    if (diag != NULL && (a->diagnostic == NULL || a->diagnostic[0] == '\0')) {
        free(a->diagnostic);
        a->diagnostic = strdup(diag);
    }
    if (a->booked) { /* a lost node's books are already empty: nothing to give back there */
        node_pool_release(jm->env.pool, a->rank, a->vcores, a->memory_mb);
        jm->vcores_held -= a->vcores;
        jm->memory_held -= a->memory_mb;
        a->booked = 0;
    }
    int64_t spent = a->end_mono - a->launch_mono;
    if (t->kind == TASK_KIND__TASK_KIND_MAP) {
        jm->map_ms += (uint64_t)(spent > 0 ? spent : 0);
        jm->failed_maps += to == ATTEMPT_STATE__ATTEMPT_FAILED;
        jm->killed_maps += to == ATTEMPT_STATE__ATTEMPT_KILLED;
    } else if (t->kind == TASK_KIND__TASK_KIND_REDUCE) {
        jm->reduce_ms += (uint64_t)(spent > 0 ? spent : 0);
        jm->failed_reduces += to == ATTEMPT_STATE__ATTEMPT_FAILED;
        jm->killed_reduces += to == ATTEMPT_STATE__ATTEMPT_KILLED;
    }
}

static void jm_job_advance(job_master *jm);

/* Kills what still runs, marks every unfinished task KILLED and moves to
 * ABORTING -- or straight to the end when nothing was ever launched. */
static void jm_job_abort(job_master *jm, JobState final, const char *diag) {
    if (jm->state != JM_SETUP && jm->state != JM_RUNNING)
        return;
    if (jm->diagnostic[0] == '\0' && diag != NULL)
        snprintf(jm->diagnostic, sizeof(jm->diagnostic), "%s", diag);
    jm->final = final;
    jm->remove_output = jm->setup.state == TASK_SUCCEEDED;
    jm_task *lists[] = {jm->maps, jm->reduces, &jm->setup};
    uint32_t counts[] = {jm->n_maps, jm->n_reduces, 1};
    for (size_t k = 0; k < 3; k++)
        for (uint32_t i = 0; i < counts[k]; i++) {
            jm_task *t = &lists[k][i];
            if (jm_task_over(t))
                continue;
            for (size_t j = 0; j < t->n_attempts; j++)
                if (jm_attempt_active(&t->attempts[j]))
                    jm_kill_attempt(jm, t, &t->attempts[j],
                                    final == JOB_STATE__JOB_KILLED ? "the job was killed"
                                                                   : "the job failed");
            jm_task_transition(jm, t, TASK_KILLED);
        }
    if (jm->setup.n_attempts == 0) {
        /* No task ran: no cleanup attempt either; the staging directory
         * the submitter made goes here (there is no history record). */
        const char *staging = jm->job->staging_dir;
        if (jm->env.remove_path != NULL && staging != NULL && staging[0] == '/')
            jm->env.remove_path(jm->env.arg, staging);
        jm_task_transition(jm, &jm->cleanup, TASK_KILLED);
        jm_job_transition(jm, final == JOB_STATE__JOB_KILLED ? JM_KILLED : JM_FAILED);
        return;
    }
    jm_job_transition(jm, JM_ABORTING);
}

/* The job moves on when the tasks it waits for are done. */
static void jm_job_advance(job_master *jm) {
    if (jm->state == JM_SETUP && jm->setup.state == TASK_SUCCEEDED) {
        jm_job_transition(jm, JM_RUNNING);
        LOG_INFO("job %s: setup done, %u maps and %u reduces to run", jm->job->job_id, jm->n_maps,
                 jm->n_reduces);
    }
    if (jm->state == JM_RUNNING && jm->maps_done == jm->n_maps && jm->reduces_done == jm->n_reduces)
        jm_job_transition(jm, JM_COMMITTING);
    if (jm->state == JM_COMMITTING && jm->cleanup.state == TASK_SUCCEEDED)
        jm_job_transition(jm, JM_SUCCEEDED);
    if (jm->state == JM_ABORTING && jm_task_over(&jm->cleanup))
        jm_job_transition(jm, jm->final == JOB_STATE__JOB_KILLED ? JM_KILLED : JM_FAILED);
}

/* After an attempt of t ended other than by succeeding: t goes on with
 * its other attempt, wants another, or is out of attempts. */
static void jm_task_after_end(job_master *jm, jm_task *t) {
    if (jm_task_over(t)) {
        jm_task_check(jm, t);
        jm_job_advance(jm);
        return;
    }
    int active = 0, running = 0;
    for (size_t i = 0; i < t->n_attempts; i++)
        if (jm_attempt_active(&t->attempts[i])) {
            active = 1;
            running |= t->attempts[i].state != ATTEMPT_STATE__ATTEMPT_STARTING;
        }
    uint32_t max =
        t->kind == TASK_KIND__TASK_KIND_REDUCE ? jm->reduce_max_attempts : jm->map_max_attempts;
    if (t->failures < max) {
        jm_task_transition(jm, t,
                           !active   ? TASK_SCHEDULED
                           : running ? TASK_RUNNING
                                     : TASK_SCHEDULED);
    } else {
        /* Out of attempts, as Hadoop: a backup still running is killed. */
        for (size_t i = 0; i < t->n_attempts; i++)
            if (jm_attempt_active(&t->attempts[i]))
                jm_kill_attempt(jm, t, &t->attempts[i], "the task failed");
        const jm_attempt *last = &t->attempts[t->n_attempts - 1];
        for (size_t i = 0; i < t->n_attempts; i++)
            if (t->attempts[i].counted_failure)
                last = &t->attempts[i];
        if (t != &jm->cleanup || jm->state == JM_COMMITTING)
            jm_set_failure_diagnostic(jm, t, last); /* an abort keeps the reason it aborts for */
        else
            LOG_WARN("job %s: its abort cleanup failed %u times: %s", jm->job->job_id, t->failures,
                     last->diagnostic != NULL ? last->diagnostic : "no reason given");
        jm_task_transition(jm, t, TASK_FAILED);
        if (t == &jm->cleanup) {
            if (jm->state == JM_COMMITTING)
                jm_job_transition(jm, JM_FAILED);
        } else {
            jm_job_abort(jm, JOB_STATE__JOB_FAILED, NULL);
        }
    }
    jm_job_advance(jm);
}

/* ---- events: attempt status ------------------------------------------- */

static void jm_set_text(char **field, const char *value) {
    if (value == NULL || value[0] == '\0')
        return;
    free(*field);
    *field = strdup(value);
}

/* Copies what a status tells into the attempt's record. */
static void jm_attempt_update(jm_attempt *a, const AttemptStatus *st) {
    a->phase = st->phase;
    if (st->progress >= 0 && st->progress <= 1)
        a->progress = st->progress;
    if (st->n_counters > 0) {
        Counter **copy;
        size_t n;
        if (jm_counters_copy(&copy, &n, st->counters, st->n_counters) == EMBER_OK) {
            jm_counters_free(a->counters, a->n_counters);
            a->counters = copy;
            a->n_counters = n;
        }
    }
    jm_set_text(&a->cpuset, st->cpuset);
    jm_set_text(&a->placement, st->placement);
    jm_set_text(&a->memory_limit, st->memory_limit);
    jm_set_text(&a->diagnostic, st->diagnostic);
    jm_set_text(&a->log_tail, st->log_tail);
    if (st->start_ms > 0)
        a->start_wall = st->start_ms;
    if (st->finish_ms > 0)
        a->finish_wall = st->finish_ms;
    if (st->shuffle_start_ms > 0)
        a->shuffle_wall = st->shuffle_start_ms;
    if (st->merge_start_ms > 0)
        a->merge_wall = st->merge_start_ms;
    if (st->reduce_start_ms > 0)
        a->reduce_wall = st->reduce_start_ms;
    if (st->map_output_bytes > 0)
        a->map_output_bytes = st->map_output_bytes;
}

static void jm_kill_twins(job_master *jm, jm_task *t, const jm_attempt *winner, const char *why) {
    char reason[256];
    snprintf(reason, sizeof(reason), "%s: %s %s", "speculation", winner->id, why);
    for (size_t i = 0; i < t->n_attempts; i++)
        if (&t->attempts[i] != winner && jm_attempt_active(&t->attempts[i]))
            jm_kill_attempt(jm, t, &t->attempts[i], reason);
}

/* The first attempt of a task to ask commits; later ones, killed ones and
 * those of a job that is ending do not. */
static void jm_commit_request(job_master *jm, jm_task *t, jm_attempt *a) {
    int idx = (int)(a - t->attempts);
    int special = t == &jm->setup || t == &jm->cleanup;
    int allowed = (jm->state == JM_RUNNING || special) && !job_master_done(jm) &&
                  jm_attempt_active(a) && !a->kill_sent && t->state != TASK_SUCCEEDED &&
                  (t->committer < 0 || t->committer == idx);
    if (allowed) {
        t->committer = idx;
        a->state = ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING;
        jm_task_transition(jm, t, TASK_RUNNING);
        jm_kill_twins(jm, t, a, "is committing first");
    } else if (jm_attempt_active(a)) {
        a->commit_denied = 1;
    }
    CommitResponse cr = COMMIT_RESPONSE__INIT;
    cr.attempt_id = a->id;
    cr.allowed = allowed;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_COMMIT_RESPONSE;
    msg.commit_response = &cr;
    jm_send(jm, a->rank, &msg);
}

static void jm_append_event(job_master *jm, uint32_t map_index, const jm_attempt *a, int obsolete);

static void jm_attempt_succeeded(job_master *jm, jm_task *t, jm_attempt *a) {
    int idx = (int)(a - t->attempts);
    if (t->state == TASK_SUCCEEDED || a->kill_sent || a->commit_denied ||
        (t->committer >= 0 && t->committer != idx) || jm_task_over(t)) {
        jm_attempt_end(jm, t, a, ATTEMPT_STATE__ATTEMPT_KILLED,
                       "another attempt of the task finished first");
        jm_task_after_end(jm, t);
        return;
    }
    jm_attempt_end(jm, t, a, ATTEMPT_STATE__ATTEMPT_SUCCEEDED, NULL);
    t->successful = idx;
    jm_kill_twins(jm, t, a, "finished first");
    jm_task_transition(jm, t, TASK_SUCCEEDED);
    if (t->kind == TASK_KIND__TASK_KIND_MAP) {
        jm->maps_done++;
        if (jm->n_reduces > 0)
            jm_append_event(jm, t->index, a, 0);
    } else if (t->kind == TASK_KIND__TASK_KIND_REDUCE) {
        jm->reduces_done++;
    }
    jm_job_advance(jm);
}

static void jm_attempt_failed(job_master *jm, jm_task *t, jm_attempt *a, const char *diag) {
    if (a->kill_sent) {
        jm_attempt_end(jm, t, a, ATTEMPT_STATE__ATTEMPT_KILLED, diag);
    } else {
        jm_attempt_end(jm, t, a, ATTEMPT_STATE__ATTEMPT_FAILED, diag);
        a->counted_failure = 1;
        t->failures++;
        if (a->rank > 0 && a->rank < jm->n_node_failures)
            jm->node_failures[a->rank]++;
    }
    jm_task_after_end(jm, t);
}

void job_master_on_status(job_master *jm, int source, const AttemptStatus *st) {
    jm_task *t;
    jm_attempt *a;
    if (!jm_find_attempt(jm, st->attempt_id, &t, &a) || a->rank != source) {
        LOG_DEBUG("job %s: status of unknown attempt %s from rank %d", jm->job->job_id,
                  st->attempt_id, source);
        return;
    }
    if (!jm_attempt_active(a)) {
        if (st->state == ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING)
            jm_commit_request(jm, t, a); /* answered no */
        return;
    }
    jm_attempt_update(a, st);
    switch (st->state) {
    case ATTEMPT_STATE__ATTEMPT_RUNNING:
        if (a->state == ATTEMPT_STATE__ATTEMPT_STARTING) {
            a->state = ATTEMPT_STATE__ATTEMPT_RUNNING;
            if (!jm_task_over(t))
                jm_task_transition(jm, t, TASK_RUNNING);
        }
        break;
    case ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING:
        /* Reduces and the maps of a map-only job ask; whoever asks is
         * answered, so that no task waits for an answer forever. */
        jm_commit_request(jm, t, a);
        break;
    case ATTEMPT_STATE__ATTEMPT_SUCCEEDED: jm_attempt_succeeded(jm, t, a); break;
    case ATTEMPT_STATE__ATTEMPT_FAILED:
        jm_attempt_failed(jm, t, a, st->diagnostic[0] ? st->diagnostic : "failed");
        break;
    case ATTEMPT_STATE__ATTEMPT_KILLED: {
        /* Killed before it ran, and not by us: the worker had no room. */
        int refused = !a->kill_sent && a->state == ATTEMPT_STATE__ATTEMPT_STARTING;
        jm_attempt_end(jm, t, a, ATTEMPT_STATE__ATTEMPT_KILLED,
                       st->diagnostic[0] ? st->diagnostic : "killed");
        if (refused)
            node_pool_hold(jm->env.pool, a->rank);
        jm_task_after_end(jm, t);
        break;
    }
    case ATTEMPT_STATE__ATTEMPT_STARTING:
    case ATTEMPT_STATE__ATTEMPT_UNKNOWN:
    case _ATTEMPT_STATE_IS_INT_SIZE: break;
    }
}

/* ---- map outputs ------------------------------------------------------ */

static void jm_append_event(job_master *jm, uint32_t map_index, const jm_attempt *a, int obsolete) {
    if (jm->n_events == jm->cap_events) {
        size_t cap = jm->cap_events ? jm->cap_events * 2 : 64;
        MapOutputEvent **grown = realloc(jm->events, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        jm->events = grown;
        jm->cap_events = cap;
    }
    MapOutputEvent *e = malloc(sizeof(*e));
    char *id = strdup(a->id);
    if (e == NULL || id == NULL) {
        free(e);
        free(id);
        return;
    }
    map_output_event__init(e);
    e->map_index = map_index;
    e->attempt_id = id;
    e->rank = (uint32_t)a->rank;
    e->obsolete = obsolete;
    jm->events[jm->n_events++] = e;
    for (int r = 1; r < jm->n_event_ranks; r++)
        if (jm->event_ranks[r])
            jm_send_events(jm, r, jm->n_events - 1);
}

/* The output of map t is lost: an obsolete event, and the map runs again
 * (`to` is FAILED for fetch failures, which count, KILLED for a lost node). */
static void jm_map_obsolete(job_master *jm, jm_task *t, AttemptState to, const char *why) {
    jm_attempt *a = &t->attempts[t->successful];
    a->state = to;
    jm_set_text(&a->diagnostic, why);
    if (to == ATTEMPT_STATE__ATTEMPT_FAILED) {
        a->counted_failure = 1;
        t->failures++;
        jm->failed_maps++;
    } else {
        jm->killed_maps++;
    }
    t->successful = -1;
    t->committer = -1; /* its rerun may commit (a map-only job's maps never get here) */
    jm->maps_done--;
    jm_append_event(jm, t->index, a, 1);
    LOG_INFO("job %s: map %u's output (%s) is lost: %s; it runs again", jm->job->job_id, t->index,
             a->id, why);
    /* No longer SUCCEEDED; jm_task_after_end() makes the transition (to
     * SCHEDULED, or FAILED when that was its last attempt) and checks it. */
    t->state = TASK_SCHEDULED;
    jm_task_after_end(jm, t);
}

void job_master_on_fetch_failure(job_master *jm, int source, const FetchFailure *ff) {
    (void)source;
    if (jm->state != JM_RUNNING || ff->map_index >= jm->n_maps)
        return;
    jm_task *t = &jm->maps[ff->map_index];
    if (t->state != TASK_SUCCEEDED || strcmp(t->attempts[t->successful].id, ff->map_attempt_id))
        return; /* an older output, already replaced */
    jm_attempt *a = &t->attempts[t->successful];
    a->fetch_failures++;
    const pool_node *n = node_pool_get(jm->env.pool, a->rank);
    char why[512];
    if (n == NULL || !n->live) {
        snprintf(why, sizeof(why), "its node (rank %d) is not live", a->rank);
        jm_map_obsolete(jm, t, ATTEMPT_STATE__ATTEMPT_KILLED, why);
    } else if (a->fetch_failures >= 3) {
        snprintf(why, sizeof(why), "Too many fetch-failures (last: %s)", ff->reason);
        jm_map_obsolete(jm, t, ATTEMPT_STATE__ATTEMPT_FAILED, why);
    }
}

/* ---- events: node lost, kill ------------------------------------------ */

void job_master_node_lost(job_master *jm, int rank) {
    char why[128];
    snprintf(why, sizeof(why), "node %d was lost", rank);
    if (rank > 0 && rank < jm->n_event_ranks)
        jm->event_ranks[rank] = 0;
    jm_task *lists[] = {jm->maps, jm->reduces, &jm->setup, &jm->cleanup};
    uint32_t counts[] = {jm->n_maps, jm->n_reduces, 1, 1};
    for (size_t k = 0; k < 4; k++)
        for (uint32_t i = 0; i < counts[k]; i++) {
            jm_task *t = &lists[k][i];
            for (size_t j = 0; j < t->n_attempts; j++) {
                jm_attempt *a = &t->attempts[j];
                if (a->rank != rank || !jm_attempt_active(a))
                    continue;
                jm_attempt_end(jm, t, a, ATTEMPT_STATE__ATTEMPT_KILLED, why);
                jm_task_after_end(jm, t);
            }
        }
    if (jm->state != JM_RUNNING || jm->reduces_done == jm->n_reduces)
        return;
    for (uint32_t i = 0; i < jm->n_maps && jm->state == JM_RUNNING; i++) {
        jm_task *t = &jm->maps[i];
        if (t->state == TASK_SUCCEEDED && t->attempts[t->successful].rank == rank)
            jm_map_obsolete(jm, t, ATTEMPT_STATE__ATTEMPT_KILLED, why);
    }
}

int job_master_kill(job_master *jm, const char *why) {
    if (jm->state != JM_SETUP && jm->state != JM_RUNNING)
        return EMBER_ESTATE;
    jm_job_abort(jm, JOB_STATE__JOB_KILLED, why);
    jm_job_advance(jm);
    return EMBER_OK;
}

/* ---- create and destroy ----------------------------------------------- */

static const char *jm_conf(const JobDescription *job, const char *key) {
    for (size_t i = job->n_conf; i-- > 0;)
        if (strcmp(job->conf[i]->key, key) == 0)
            return job->conf[i]->value;
    return NULL;
}

/* A number from the job's conf (def when unset): EMBER_EINVAL, with the
 * reason in err, when it is not one or is outside [min, max]. */
static int jm_conf_number(const JobDescription *job, const char *key, double def, double min,
                          double max, double *out, char *err, size_t errlen) {
    const char *v = jm_conf(job, key);
    *out = def;
    if (v == NULL)
        return EMBER_OK;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || d < min || d > max) {
        snprintf(err, errlen, "bad value '%s' for %s: expected a number from %g to %g", v, key, min,
                 max);
        return EMBER_EINVAL;
    }
    *out = d;
    return EMBER_OK;
}

static int jm_conf_bool(const JobDescription *job, const char *key, int def) {
    const char *v = jm_conf(job, key);
    if (v == NULL)
        return def;
    return strcmp(v, "false") != 0 && strcmp(v, "0") != 0 && strcmp(v, "no") != 0;
}

static int jm_read_keys(job_master *jm, char *err, size_t errlen) {
    double v[5];
    int rc = jm_conf_number(jm->job, "mapreduce.map.maxattempts", 4, 1, 100, &v[0], err, errlen);
    if (rc == EMBER_OK)
        rc = jm_conf_number(jm->job, "mapreduce.reduce.maxattempts", 4, 1, 100, &v[1], err, errlen);
    if (rc == EMBER_OK)
        rc = jm_conf_number(jm->job, "mapreduce.job.maxtaskfailures.per.tracker", 3, 1, 1000, &v[2],
                            err, errlen);
    if (rc == EMBER_OK)
        rc = jm_conf_number(jm->job, "mapreduce.job.reduce.slowstart.completedmaps", 0.05, 0, 1,
                            &v[3], err, errlen);
    if (rc == EMBER_OK)
        rc = jm_conf_number(jm->job, "mapreduce.task.timeout", 600000, 0, 1e12, &v[4], err, errlen);
    if (rc != EMBER_OK)
        return rc;
    jm->map_max_attempts = (uint32_t)v[0];
    jm->reduce_max_attempts = (uint32_t)v[1];
    jm->max_failures_per_node = (uint32_t)v[2];
    jm->slowstart = v[3];
    jm->timeout_ms = (int64_t)v[4];
    jm->map_speculative = jm_conf_bool(jm->job, "mapreduce.map.speculative", 1);
    jm->reduce_speculative = jm_conf_bool(jm->job, "mapreduce.reduce.speculative", 1);
    return EMBER_OK;
}

static void jm_task_init(jm_task *t, TaskKind kind, uint32_t index) {
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->index = index;
    t->successful = -1;
    t->committer = -1;
}

int job_master_create(JobDescription *job, const job_master_env *env, job_master **out, char *err,
                      size_t errlen) {
    job_master *jm = calloc(1, sizeof(*jm));
    if (jm == NULL) {
        job_description__free_unpacked(job, NULL);
        snprintf(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    jm->job = job;
    jm->env = *env;
    jm->n_maps = (uint32_t)job->n_splits;
    jm->n_reduces = job->reduces;
    jm->final = JOB_STATE__JOB_UNKNOWN;
    int rc = jm_read_keys(jm, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    rc = EMBER_ENOMEM;
    snprintf(err, errlen, "out of memory");
    jm->maps = calloc(jm->n_maps + 1, sizeof(jm_task));
    jm->reduces = calloc(jm->n_reduces + 1, sizeof(jm_task));
    jm->n_event_ranks = jm->n_node_failures = 4096;
    jm->event_ranks = calloc((size_t)jm->n_event_ranks, 1);
    jm->node_failures = calloc((size_t)jm->n_node_failures, sizeof(uint32_t));
    if (jm->maps == NULL || jm->reduces == NULL || jm->event_ranks == NULL ||
        jm->node_failures == NULL)
        goto fail;
    for (uint32_t i = 0; i < jm->n_maps; i++)
        jm_task_init(&jm->maps[i], TASK_KIND__TASK_KIND_MAP, i);
    for (uint32_t i = 0; i < jm->n_reduces; i++)
        jm_task_init(&jm->reduces[i], TASK_KIND__TASK_KIND_REDUCE, i);
    jm_task_init(&jm->setup, TASK_KIND__TASK_KIND_JOB_SETUP, jm->n_maps);
    jm_task_init(&jm->cleanup, TASK_KIND__TASK_KIND_JOB_CLEANUP, jm->n_maps + 1);
    jm->state = JM_SETUP;
    jm->start_wall = env->now_wall(env->arg);
    err[0] = '\0';
    *out = jm;
    jm_job_check(jm);
    return EMBER_OK;
fail:
    job_master_destroy(jm);
    return rc;
}

static void jm_task_free(jm_task *t) {
    for (size_t i = 0; i < t->n_attempts; i++) {
        jm_attempt *a = &t->attempts[i];
        free(a->cpuset);
        free(a->placement);
        free(a->diagnostic);
        free(a->log_tail);
        free(a->memory_limit);
        jm_counters_free(a->counters, a->n_counters);
    }
    free(t->attempts);
}

void job_master_destroy(job_master *jm) {
    if (jm == NULL)
        return;
    for (uint32_t i = 0; jm->maps != NULL && i < jm->n_maps; i++)
        jm_task_free(&jm->maps[i]);
    for (uint32_t i = 0; jm->reduces != NULL && i < jm->n_reduces; i++)
        jm_task_free(&jm->reduces[i]);
    jm_task_free(&jm->setup);
    jm_task_free(&jm->cleanup);
    for (size_t i = 0; i < jm->n_events; i++) {
        free(jm->events[i]->attempt_id);
        free(jm->events[i]);
    }
    free(jm->events);
    free(jm->maps);
    free(jm->reduces);
    free(jm->event_ranks);
    free(jm->node_failures);
    job_description__free_unpacked(jm->job, NULL);
    free(jm);
}

const JobDescription *job_master_job(const job_master *jm) { return jm->job; }
JobState job_master_state(const job_master *jm) { return jm_report_state(jm); }
int job_master_done(const job_master *jm) { return jm_over(jm); }
uint32_t job_master_launches(const job_master *jm) { return jm->launches; }
