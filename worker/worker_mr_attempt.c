/* worker_mr_attempt.c -- the attempts a worker runs: LaunchAttempt to a
 * container, the task's frames to AttemptStatus, KillAttempt,
 * CommitResponse, and the one final status when the container ends.
 *
 * States (worker_mr_internal.h): WAITING -> CONNECTED (hello, in
 * worker_mr_umbilical.c) -> ENDING (TaskDone/TaskFailed); the attempt is
 * freed in worker_mr_on_container_done(), the only place a final status
 * is sent, so there is exactly one per launched attempt.  A launch that
 * fails sends its final status at once and keeps nothing.
 *
 * Statuses to rank 0: RUNNING with the placement when launched; RUNNING
 * with progress at most every WORKER_MR_STATUS_INTERVAL_MS (at once on a
 * phase change; the tick sends what was held back); COMMIT_PENDING on a
 * commit request; then SUCCEEDED (exit 0 after TaskDone), FAILED
 * (anything else) or KILLED (after KillAttempt, or no room to launch). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "worker_mr_internal.h"

mr_attempt *worker_mr_attempt_find(worker_mr *m, const char *attempt_id) {
    for (mr_attempt *a = m->attempts; a != NULL; a = a->next)
        if (strcmp(a->id, attempt_id) == 0)
            return a;
    return NULL;
}

void worker_mr_attempt_check(const mr_attempt *a) {
    assert(a->state == MR_ATTEMPT_WAITING || a->state == MR_ATTEMPT_CONNECTED ||
           a->state == MR_ATTEMPT_ENDING);
    assert(a->state != MR_ATTEMPT_WAITING || a->conn == 0);
    assert(!a->poll_parked || a->conn != 0);
    assert(!a->done || a->state == MR_ATTEMPT_ENDING);
    assert(a->n_counters == 0 || a->counters_from != NULL);
    (void)a;
}

/* ---- statuses --------------------------------------------------------------- */

/* The last WORKER_MR_LOG_TAIL bytes of the attempt's stderr into buf. */
static void worker_mr_log_tail(worker_mr *m, const char *attempt_id, char *buf, size_t buflen) {
    buf[0] = '\0';
    char path[WORKER_MR_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/logs/containers/%s/stderr", m->run_dir, attempt_id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    size_t want = buflen - 1;
    if (fstat(fd, &st) == 0) {
        off_t from = st.st_size > (off_t)want ? st.st_size - (off_t)want : 0;
        ssize_t n = pread(fd, buf, want, from);
        buf[n > 0 ? n : 0] = '\0';
        for (ssize_t i = 0; i < n; i++) /* a string field: no NUL inside */
            if (buf[i] == '\0')
                buf[i] = ' ';
    }
    close(fd);
}

/* Sends the attempt's status in state (diag and tail may be NULL). */
static void worker_mr_send_status(worker_mr *m, mr_attempt *a, AttemptState state, const char *diag,
                                  const char *tail, int64_t finish_ms) {
    AttemptStatus st = ATTEMPT_STATUS__INIT;
    st.attempt_id = a->id;
    st.state = state;
    st.phase = a->phase;
    st.progress = a->progress;
    st.counters = a->counters;
    st.n_counters = a->n_counters;
    st.diagnostic = (char *)(diag != NULL ? diag : "");
    st.cpuset = a->cpuset;
    st.placement = a->placement;
    st.start_ms = a->start_ms;
    st.finish_ms = finish_ms;
    st.log_tail = (char *)(tail != NULL ? tail : "");
    st.memory_limit = (char *)container_memory_limit_kind(m->wk);
    st.shuffle_start_ms = a->shuffle_start_ms;
    st.merge_start_ms = a->merge_start_ms;
    st.reduce_start_ms = a->reduce_start_ms;
    st.map_output_bytes = a->map_output_bytes;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_ATTEMPT_STATUS;
    msg.attempt_status = &st;
    worker_mr_send_rank(m, m->primary_rank, &msg);
    a->last_status_ms = clock_monotonic_ms();
    a->status_dirty = 0;
}

/* A launch that did not happen: its one status, nothing kept. */
static void worker_mr_send_launch_failure(worker_mr *m, const char *attempt_id, int rc,
                                          const char *why) {
    mr_attempt a = {.phase = TASK_PHASE__PHASE_STARTING};
    snprintf(a.id, sizeof(a.id), "%s", attempt_id);
    char diag[600];
    snprintf(diag, sizeof(diag), "cannot launch the attempt on rank %d: %s", m->rank, why);
    LOG_WARN("worker: %s: %s", attempt_id, diag);
    int64_t now = clock_wall_ms();
    a.start_ms = now;
    worker_mr_send_status(
        m, &a, rc == EMBER_EAGAIN ? ATTEMPT_STATE__ATTEMPT_KILLED : ATTEMPT_STATE__ATTEMPT_FAILED,
        diag, NULL, now);
}

/* ---- the end of an attempt ----------------------------------------------------- */

static void worker_mr_attempt_free(mr_attempt *a) {
    if (a->counters_from != NULL)
        task_message__free_unpacked(a->counters_from, NULL);
    if (a->assignment != NULL)
        task_assignment__free_unpacked(a->assignment, NULL);
    free(a);
}

static void worker_mr_attempt_unlink(worker_mr *m, mr_attempt *a) {
    for (mr_attempt **p = &m->attempts; *p != NULL; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            return;
        }
    }
}

/* The final state and its diagnostic, from what the task said and how
 * its container ended. */
static AttemptState worker_mr_final_state(const mr_attempt *a, const container_outcome *o,
                                          char *diag, size_t len) {
    if (a->kill == MR_KILL_REQUESTED) {
        snprintf(diag, len, "%s", a->kill_reason);
        return ATTEMPT_STATE__ATTEMPT_KILLED;
    }
    if (o->result == CONTAINER_SUCCEEDED && a->done)
        return ATTEMPT_STATE__ATTEMPT_SUCCEEDED;
    if (a->diagnostic[0] != '\0')
        snprintf(diag, len, "%s", a->diagnostic);
    else if (a->kill == MR_KILL_UMBILICAL_LOST)
        snprintf(diag, len, "%s", a->kill_reason);
    else if (o->result == CONTAINER_SUCCEEDED)
        snprintf(diag, len, "the task exited with code 0 without reporting done");
    else
        snprintf(diag, len, "%s", o->reason);
    return ATTEMPT_STATE__ATTEMPT_FAILED;
}

/* The attempt's one final status, once its container ended (reaped,
 * cleaned up, unbooked); a succeeded map's output is kept and served,
 * every other attempt directory removed; a is freed. */
static void worker_mr_attempt_end(mr_attempt *a, const container_outcome *o) {
    worker_mr *m = a->m;
    char diag[MESSAGE_TEXT_MAX] = "";
    AttemptState state = worker_mr_final_state(a, o, diag, sizeof(diag));
    char tail[WORKER_MR_LOG_TAIL + 1] = "";
    if (state != ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        worker_mr_log_tail(m, a->id, tail, sizeof(tail));
    if (state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        a->progress = 1.0f;
    worker_mr_send_status(m, a, state, diag, tail, clock_wall_ms());
    LOG_INFO("worker: attempt %s %s%s%s", a->id,
             state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED ? "succeeded"
             : state == ATTEMPT_STATE__ATTEMPT_KILLED  ? "was killed"
                                                       : "failed",
             diag[0] ? ": " : "", diag);
    mr_job *j = worker_mr_job_find(m, a->job_id);
    if (j != NULL) {
        mr_output *out = worker_mr_output_find(j, a->id);
        if (state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED && a->kind == TASK_KIND__TASK_KIND_MAP &&
            out != NULL)
            out->served = 1;
        else
            worker_mr_output_forget(m, j, a->id);
    }
    if (a->conn != 0) {
        worker_mr_fetch_conn_gone(m, a->conn);
        worker_mr_task_close(m, a->conn);
    }
    worker_mr_attempt_unlink(m, a);
    worker_mr_attempt_free(a);
}

/* The container ended.  A task sends its last frame and exits 0, and the
 * loop may see the exit before it reads the frame: while the connection
 * is open, the end waits for the frame (worker_mr_attempt_on_task), the
 * close (worker_mr_attempt_lost) or the grace period (the tick). */
static void worker_mr_on_container_done(worker *w, const container_outcome *o, void *arg) {
    mr_attempt *a = arg;
    (void)w;
    if (o->result == CONTAINER_SUCCEEDED && a->state != MR_ATTEMPT_ENDING && a->conn != 0 &&
        a->kill != MR_KILL_REQUESTED) {
        a->exited = 1;
        a->exited_ms = clock_monotonic_ms();
        a->exit_outcome = *o;
        snprintf(a->exit_reason, sizeof(a->exit_reason), "%s", o->reason != NULL ? o->reason : "");
        a->exit_outcome.attempt_id = a->id;
        a->exit_outcome.reason = a->exit_reason;
        return;
    }
    worker_mr_attempt_end(a, o);
}

/* ---- launch ----------------------------------------------------------------------- */

/* A copy of the launch's assignment the attempt owns. */
static TaskAssignment *worker_mr_copy_assignment(const TaskAssignment *as) {
    size_t len = task_assignment__get_packed_size(as);
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return NULL;
    task_assignment__pack(as, buf);
    TaskAssignment *copy = task_assignment__unpack(NULL, len, buf);
    free(buf);
    return copy;
}

/* The data directory holding block_id's finalized replica (the block
 * store's layout: DIR/current/finalized/blk_ID), or 0 when none here. */
static int worker_mr_block_dir(const worker_mr *m, uint64_t block_id, char *out, size_t outlen) {
    const char *p = m->data_dirs;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        char path[WORKER_MR_PATH_MAX + 64];
        struct stat st;
        if (n > 0 && n < outlen) {
            snprintf(path, sizeof(path), "%.*s/current/finalized/blk_%llu", (int)n, p,
                     (unsigned long long)block_id);
            if (stat(path, &st) == 0) {
                snprintf(out, outlen, "%.*s", (int)n, p);
                return 1;
            }
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

/* Makes RUN_DIR/mr/JOBID/ATTEMPT (0700), the attempt's output
 * directory: EMBER_EEXIST when it is there already (the attempt ran). */
static int worker_mr_make_output_dir(worker_mr *m, mr_attempt *a) {
    char dir[WORKER_MR_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/mr", m->run_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return EMBER_EIO;
    if (worker_mr_output_dir(m, a->job_id, NULL, dir, sizeof(dir)) != EMBER_OK ||
        worker_mr_output_dir(m, a->job_id, a->id, a->output_dir, sizeof(a->output_dir)) != EMBER_OK)
        return EMBER_EINVAL;
    /* The job's directory may be going (JobFinished's removal, on the
     * pool) as a new attempt of the job comes: made again then. */
    for (int tries = 0; tries < 3; tries++) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return EMBER_EIO;
        if (mkdir(a->output_dir, 0700) == 0)
            return EMBER_OK;
        if (errno != ENOENT)
            return errno == EEXIST ? EMBER_EEXIST : EMBER_EIO;
    }
    return EMBER_EIO;
}

/* Starts a's container; err says why not. */
static int worker_mr_spawn(worker_mr *m, mr_attempt *a, const LaunchAttempt *msg, char *err,
                           size_t errlen) {
    placement_hint hint = {.kind = PLACEMENT_HINT_NONE};
    char subject[64], dir[WORKER_MR_PATH_MAX];
    const JobDescription *job = a->assignment->job;
    if (a->kind == TASK_KIND__TASK_KIND_MAP && job->n_splits > 0 && job->splits[0]->block_id) {
        uint64_t block = job->splits[0]->block_id;
        snprintf(subject, sizeof(subject), "block blk_%llu", (unsigned long long)block);
        if (worker_mr_block_dir(m, block, dir, sizeof(dir)))
            worker_storage_hint(m->wk, dir, subject, &hint);
    } else if (a->kind == TASK_KIND__TASK_KIND_REDUCE) {
        worker_network_hint(m->wk, "the shuffle", &hint);
    }
    char *argv[] = {m->task_program, "task", "--umbilical", m->sock_path, "--attempt", a->id, NULL};
    container_spec spec = {.attempt_id = a->id,
                           .argv = argv,
                           .vcores = msg->vcores,
                           .memory_mb = msg->memory_mb,
                           .hint = hint.kind != PLACEMENT_HINT_NONE ? &hint : NULL,
                           .progress_timeout_ms = msg->timeout_ms > 0 ? msg->timeout_ms : 0};
    int rc = container_launch(m->wk, &spec, worker_mr_on_container_done, a, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    container_info info;
    if (container_get_info(m->wk, a->id, &info) == EMBER_OK) {
        snprintf(a->cpuset, sizeof(a->cpuset), "%s", info.choice.pus);
        snprintf(a->placement, sizeof(a->placement), "%s", info.choice.reason);
    }
    return EMBER_OK;
}

void worker_mr_handle_launch(worker_mr *m, const LaunchAttempt *msg) {
    const TaskAssignment *as = msg->assignment;
    char err[512] = "";
    if (worker_mr_attempt_find(m, as->attempt_id) != NULL) {
        LOG_WARN("worker: attempt %s runs here already: launch ignored", as->attempt_id);
        return;
    }
    if (strlen(as->attempt_id) > CONTAINER_ID_MAX) {
        worker_mr_send_launch_failure(m, as->attempt_id, EMBER_EINVAL, "attempt id too long");
        return;
    }
    mr_attempt *a = calloc(1, sizeof(*a));
    mr_job *j = worker_mr_job_get(m, as->job_id);
    if (a == NULL || j == NULL || (a->assignment = worker_mr_copy_assignment(as)) == NULL) {
        free(a);
        worker_mr_send_launch_failure(m, as->attempt_id, EMBER_ENOMEM, "out of memory");
        return;
    }
    a->m = m;
    snprintf(a->id, sizeof(a->id), "%s", as->attempt_id);
    snprintf(a->job_id, sizeof(a->job_id), "%s", as->job_id);
    a->kind = as->kind;
    a->state = MR_ATTEMPT_WAITING;
    a->phase = TASK_PHASE__PHASE_STARTING;
    int rc = worker_mr_make_output_dir(m, a);
    if (rc != EMBER_OK) {
        snprintf(err, sizeof(err), "%s %s/mr/%s/%s",
                 rc == EMBER_EEXIST ? "the attempt ran here already:" : "cannot create", m->run_dir,
                 a->job_id, a->id);
    } else if ((rc = worker_mr_output_add(j, a->id)) != EMBER_OK) {
        snprintf(err, sizeof(err), "out of memory");
    } else if ((rc = worker_mr_spawn(m, a, msg, err, sizeof(err))) != EMBER_OK) {
        worker_mr_output_forget(m, j, a->id);
    }
    if (rc != EMBER_OK) {
        worker_mr_send_launch_failure(m, a->id, rc, err);
        worker_mr_attempt_free(a);
        return;
    }
    a->start_ms = clock_wall_ms();
    a->next = m->attempts;
    m->attempts = a;
    worker_mr_attempt_check(a);
    LOG_INFO("worker: attempt %s runs on cpus %s (%s)", a->id, a->cpuset, a->placement);
    worker_mr_send_status(m, a, ATTEMPT_STATE__ATTEMPT_RUNNING, NULL, NULL, 0);
}

/* ---- rank 0's other orders --------------------------------------------------------- */

static void worker_mr_attempt_kill(worker_mr *m, mr_attempt *a, mr_kill why, const char *reason) {
    if (a->kill != MR_KILL_NONE)
        return;
    a->kill = why;
    snprintf(a->kill_reason, sizeof(a->kill_reason), "%s", reason);
    int rc = container_kill(m->wk, a->id);
    if (rc != EMBER_OK)
        LOG_WARN("worker: cannot kill attempt %s: %s", a->id, ember_strerror(rc));
}

void worker_mr_handle_kill(worker_mr *m, const KillAttempt *msg) {
    mr_attempt *a = worker_mr_attempt_find(m, msg->attempt_id);
    if (a == NULL) {
        LOG_INFO("worker: kill of attempt %s, which does not run here (ended already?)",
                 msg->attempt_id);
        return;
    }
    char reason[300];
    snprintf(reason, sizeof(reason), "killed: %s",
             msg->reason[0] != '\0' ? msg->reason : "on request");
    worker_mr_attempt_kill(m, a, MR_KILL_REQUESTED, reason);
}

void worker_mr_handle_commit_response(worker_mr *m, const CommitResponse *msg) {
    mr_attempt *a = worker_mr_attempt_find(m, msg->attempt_id);
    if (a == NULL || a->conn == 0 || !a->commit_pending) {
        LOG_WARN("worker: commit answer for attempt %s, which waits for none here",
                 msg->attempt_id);
        return;
    }
    TaskCommitResponse r = TASK_COMMIT_RESPONSE__INIT;
    r.allowed = msg->allowed;
    TaskMessage tm = TASK_MESSAGE__INIT;
    tm.body_case = TASK_MESSAGE__BODY_COMMIT_RESPONSE;
    tm.commit_response = &r;
    a->commit_pending = 0;
    if (worker_mr_task_send(m, a->conn, &tm, -1) != EMBER_OK)
        LOG_WARN("worker: cannot pass the commit answer to attempt %s", a->id);
}

/* ---- the task's frames ---------------------------------------------------------- */

/* Keeps msg (the attempt's latest counters), freeing the previous one. */
static void worker_mr_keep_counters(mr_attempt *a, TaskMessage *msg, Counter **counters, size_t n) {
    if (a->counters_from != NULL)
        task_message__free_unpacked(a->counters_from, NULL);
    a->counters_from = msg;
    a->counters = counters;
    a->n_counters = n;
}

static void worker_mr_stamp_phase(mr_attempt *a, TaskPhase phase) {
    int64_t now = clock_wall_ms();
    if (phase == TASK_PHASE__PHASE_SHUFFLE && a->shuffle_start_ms == 0)
        a->shuffle_start_ms = now;
    else if (phase == TASK_PHASE__PHASE_MERGE && a->merge_start_ms == 0)
        a->merge_start_ms = now;
    else if (phase == TASK_PHASE__PHASE_REDUCE && a->reduce_start_ms == 0)
        a->reduce_start_ms = now;
}

static AttemptState worker_mr_running_state(const mr_attempt *a) {
    return a->commit_pending ? ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING
                             : ATTEMPT_STATE__ATTEMPT_RUNNING;
}

static void worker_mr_on_progress(worker_mr *m, mr_attempt *a, TaskMessage *msg) {
    TaskProgress *p = msg->progress;
    int phase_changed = p->phase != a->phase;
    a->phase = p->phase;
    a->progress = p->progress < 0 ? 0 : p->progress > 1 ? 1 : p->progress;
    if (phase_changed)
        worker_mr_stamp_phase(a, p->phase);
    worker_mr_keep_counters(a, msg, p->counters, p->n_counters);
    a->status_dirty = 1;
    if (phase_changed || clock_monotonic_ms() - a->last_status_ms >= WORKER_MR_STATUS_INTERVAL_MS)
        worker_mr_send_status(m, a, worker_mr_running_state(a), NULL, NULL, 0);
}

void worker_mr_attempt_on_task(worker_mr *m, mr_attempt *a, TaskMessage *msg) {
    if (a->state == MR_ATTEMPT_ENDING) {
        task_message__free_unpacked(msg, NULL); /* nothing counts after the last frame */
        return;
    }
    container_progress(m->wk, a->id);
    switch (msg->body_case) {
    case TASK_MESSAGE__BODY_PROGRESS: worker_mr_on_progress(m, a, msg); return;
    case TASK_MESSAGE__BODY_COMMIT_REQUEST:
        a->commit_pending = 1;
        worker_mr_send_status(m, a, ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING, NULL, NULL, 0);
        break;
    case TASK_MESSAGE__BODY_DONE:
        a->done = 1;
        a->state = MR_ATTEMPT_ENDING;
        a->map_output_bytes = msg->done->map_output_bytes;
        worker_mr_keep_counters(a, msg, msg->done->counters, msg->done->n_counters);
        worker_mr_attempt_check(a);
        if (a->exited) /* its exit was seen first */
            worker_mr_attempt_end(a, &a->exit_outcome);
        return;
    case TASK_MESSAGE__BODY_FAILED:
        a->state = MR_ATTEMPT_ENDING;
        snprintf(a->diagnostic, sizeof(a->diagnostic), "%s",
                 msg->failed->diagnostic[0] != '\0' ? msg->failed->diagnostic : "the task failed");
        worker_mr_keep_counters(a, msg, msg->failed->counters, msg->failed->n_counters);
        worker_mr_attempt_check(a);
        if (a->exited)
            worker_mr_attempt_end(a, &a->exit_outcome);
        return;
    default:
        LOG_WARN("worker: attempt %s sent a frame the worker does not take (%d)", a->id,
                 (int)msg->body_case);
        break;
    }
    task_message__free_unpacked(msg, NULL);
}

/* The connection closed.  A task dying closes it too, a moment before
 * it is reaped: one still alive after WORKER_MR_LOST_GRACE_MS is killed
 * (the tick), so a crash is reported as what it was. */
void worker_mr_attempt_lost(worker_mr *m, mr_attempt *a) {
    (void)m;
    a->conn = 0;
    a->poll_parked = 0;
    if (a->exited) { /* exited 0, then closed without its last frame */
        worker_mr_attempt_end(a, &a->exit_outcome);
        return;
    }
    if (a->state != MR_ATTEMPT_ENDING)
        a->lost_ms = clock_monotonic_ms();
    worker_mr_attempt_check(a);
}

void worker_mr_attempt_tick(worker_mr *m, int64_t now) {
    for (mr_attempt *a = m->attempts, *next; a != NULL; a = next) {
        next = a->next;
        if (a->exited) {
            if (now - a->exited_ms >= WORKER_MR_LOST_GRACE_MS)
                worker_mr_attempt_end(a, &a->exit_outcome);
            continue;
        }
        if (a->status_dirty && now - a->last_status_ms >= WORKER_MR_STATUS_INTERVAL_MS)
            worker_mr_send_status(m, a, worker_mr_running_state(a), NULL, NULL, 0);
        if (a->poll_parked && now >= a->poll_deadline_ms)
            worker_mr_poll_answer(m, a, 0, 1);
        if (a->lost_ms != 0 && now - a->lost_ms >= WORKER_MR_LOST_GRACE_MS)
            worker_mr_attempt_kill(m, a, MR_KILL_UMBILICAL_LOST,
                                   "the task's umbilical connection closed before it reported "
                                   "done");
    }
}

void worker_mr_attempts_free(worker_mr *m) {
    while (m->attempts != NULL) {
        mr_attempt *a = m->attempts;
        m->attempts = a->next;
        worker_mr_attempt_free(a);
    }
}
