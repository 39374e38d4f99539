/* worker_mr.c -- the MapReduce side of a worker (see worker_mr.h): its
 * life, the dispatch of the scheduler's and the other workers' messages,
 * the jobs it knows, their map output events and the attempt directories
 * it keeps under RUN_DIR/mr/JOBID/.
 *
 * A job is known from its first LaunchAttempt or MapOutputEvents here
 * until JobFinished.  Its events are append-only, numbered by their
 * position, as rank 0 sends them.  Each attempt directory this worker
 * made is listed under its job; a succeeded map's is marked served (the
 * only ones a ShuffleRequest may read).  JobFinished answers the job's
 * parked polls with job_failed (later polls find no job: the same) and
 * removes its directories; the rank stopping removes them all. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "worker_mr_internal.h"

#define WORKER_MR_TICK_MS 100
#define WORKER_MR_POOL_THREADS 2

/* ---- directories ---------------------------------------------------------- */

int worker_mr_output_dir(const worker_mr *m, const char *job_id, const char *attempt_id, char *out,
                         size_t outlen) {
    int n = attempt_id != NULL
                ? snprintf(out, outlen, "%s/mr/%s/%s", m->run_dir, job_id, attempt_id)
                : snprintf(out, outlen, "%s/mr/%s", m->run_dir, job_id);
    return n > 0 && (size_t)n < outlen ? EMBER_OK : EMBER_EINVAL;
}

static int worker_mr_remove_entry(const char *path, const struct stat *st, int type,
                                  struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

/* Attempt directories to remove, off the loop, then (when parent is
 * set) the job's directory if nothing else is left in it -- other ranks
 * of the host may keep theirs there: it is never removed whole. */
typedef struct {
    char parent[WORKER_MR_PATH_MAX]; /* "": left alone */
    size_t n;
    char paths[][WORKER_MR_PATH_MAX];
} mr_removal;

static void worker_mr_removal_work(void *arg) {
    mr_removal *r = arg;
    for (size_t i = 0; i < r->n; i++)
        nftw(r->paths[i], worker_mr_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (r->parent[0] != '\0')
        rmdir(r->parent);
}

static void worker_mr_removal_done(void *arg, int ran) {
    if (!ran)
        worker_mr_removal_work(arg); /* the pool is stopping: do it now */
    free(arg);
}

/* Removes the directories of the attempts of job (all of them when
 * attempt_id is NULL, and then the job's own), on the pool. */
static void worker_mr_remove(worker_mr *m, const mr_job *j, const char *attempt_id) {
    size_t n = 1;
    for (const mr_output *o = j->outputs; attempt_id == NULL && o != NULL; o = o->next)
        n++;
    mr_removal *r = calloc(1, sizeof(*r) + n * WORKER_MR_PATH_MAX);
    if (r == NULL)
        return;
    for (const mr_output *o = j->outputs; o != NULL; o = o->next)
        if (attempt_id == NULL || strcmp(o->attempt_id, attempt_id) == 0)
            if (worker_mr_output_dir(m, j->id, o->attempt_id, r->paths[r->n], WORKER_MR_PATH_MAX) ==
                EMBER_OK)
                r->n++;
    if (attempt_id == NULL)
        worker_mr_output_dir(m, j->id, NULL, r->parent, sizeof(r->parent));
    if (m->pool == NULL || thread_pool_submit(m->pool, worker_mr_removal_work,
                                              worker_mr_removal_done, r) != EMBER_OK) {
        worker_mr_removal_work(r);
        free(r);
    }
}

/* ---- jobs ------------------------------------------------------------------- */

mr_job *worker_mr_job_find(worker_mr *m, const char *job_id) {
    for (mr_job *j = m->jobs; j != NULL; j = j->next)
        if (strcmp(j->id, job_id) == 0)
            return j;
    return NULL;
}

mr_job *worker_mr_job_get(worker_mr *m, const char *job_id) {
    mr_job *j = worker_mr_job_find(m, job_id);
    if (j != NULL)
        return j;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    snprintf(j->id, sizeof(j->id), "%s", job_id);
    j->next = m->jobs;
    m->jobs = j;
    return j;
}

mr_output *worker_mr_output_find(mr_job *j, const char *attempt_id) {
    for (mr_output *o = j->outputs; o != NULL; o = o->next)
        if (strcmp(o->attempt_id, attempt_id) == 0)
            return o;
    return NULL;
}

int worker_mr_output_add(mr_job *j, const char *attempt_id) {
    if (worker_mr_output_find(j, attempt_id) != NULL)
        return EMBER_OK;
    mr_output *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return EMBER_ENOMEM;
    snprintf(o->attempt_id, sizeof(o->attempt_id), "%s", attempt_id);
    o->next = j->outputs;
    j->outputs = o;
    return EMBER_OK;
}

void worker_mr_output_forget(worker_mr *m, mr_job *j, const char *attempt_id) {
    for (mr_output **p = &j->outputs; *p != NULL; p = &(*p)->next) {
        mr_output *o = *p;
        if (strcmp(o->attempt_id, attempt_id) == 0) {
            worker_mr_remove(m, j, attempt_id);
            *p = o->next;
            free(o);
            return;
        }
    }
}

/* Unlinks j from the list, removes its directories (on the pool unless
 * now) and frees it. */
static void worker_mr_job_drop(worker_mr *m, mr_job *j) {
    for (mr_job **p = &m->jobs; *p != NULL; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            break;
        }
    }
    worker_mr_remove(m, j, NULL);
    while (j->outputs != NULL) {
        mr_output *o = j->outputs;
        j->outputs = o->next;
        free(o);
    }
    free(j->events);
    free(j);
}

/* MapOutputEvents: appended to the job's; every parked poll of the job
 * hears of them; fetches of an output now obsolete end at once. */
static void worker_mr_handle_events(worker_mr *m, const MapOutputEvents *msg) {
    mr_job *j = worker_mr_job_get(m, msg->job_id);
    if (j == NULL) {
        LOG_ERROR("worker: out of memory keeping the map events of %s", msg->job_id);
        return;
    }
    if (j->n_events + msg->n_events > j->cap_events) {
        size_t cap = (j->n_events + msg->n_events) * 2;
        mr_event *grown = realloc(j->events, cap * sizeof(*grown));
        if (grown == NULL) {
            LOG_ERROR("worker: out of memory keeping the map events of %s", msg->job_id);
            return;
        }
        j->events = grown;
        j->cap_events = cap;
    }
    for (size_t i = 0; i < msg->n_events; i++) {
        const MapOutputEvent *e = msg->events[i];
        mr_event *d = &j->events[j->n_events++];
        d->map_index = e->map_index;
        snprintf(d->attempt_id, sizeof(d->attempt_id), "%s", e->attempt_id);
        d->rank = e->rank;
        d->obsolete = e->obsolete;
        if (e->obsolete)
            worker_mr_fetch_obsolete(m, j->id, e->attempt_id);
    }
    for (mr_attempt *a = m->attempts; a != NULL; a = a->next)
        if (a->poll_parked && strcmp(a->job_id, j->id) == 0)
            worker_mr_poll_answer(m, a, 0, 0);
}

/* JobFinished: the job's polls end (job_failed) and its directories go.
 * Its attempts were ended by rank 0 before (KillAttempt); one still
 * running here finds no job when it ends. */
static void worker_mr_handle_job_finished(worker_mr *m, const JobFinished *msg) {
    for (mr_attempt *a = m->attempts; a != NULL; a = a->next)
        if (a->poll_parked && strcmp(a->job_id, msg->job_id) == 0)
            worker_mr_poll_answer(m, a, 1, 1);
    mr_job *j = worker_mr_job_find(m, msg->job_id);
    if (j != NULL) {
        LOG_INFO("worker: job %s finished: removing its map outputs", j->id);
        worker_mr_job_drop(m, j);
    }
}

/* ---- messages ----------------------------------------------------------------- */

void worker_mr_send_rank(worker_mr *m, int dest, const RankMessage *msg) {
    int rc = m->send(m->send_arg, dest, msg);
    if (rc != EMBER_OK)
        LOG_WARN("worker: send of %s to rank %d failed: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
}

void worker_mr_on_rank_message(worker_mr *m, int source, const RankMessage *msg) {
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_LAUNCH_ATTEMPT: worker_mr_handle_launch(m, msg->launch_attempt); break;
    case RANK_MESSAGE__BODY_KILL_ATTEMPT: worker_mr_handle_kill(m, msg->kill_attempt); break;
    case RANK_MESSAGE__BODY_COMMIT_RESPONSE:
        worker_mr_handle_commit_response(m, msg->commit_response);
        break;
    case RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS:
        worker_mr_handle_events(m, msg->map_output_events);
        break;
    case RANK_MESSAGE__BODY_JOB_FINISHED:
        worker_mr_handle_job_finished(m, msg->job_finished);
        break;
    case RANK_MESSAGE__BODY_SHUFFLE_REQUEST:
        worker_mr_handle_shuffle_request(m, source, msg->shuffle_request);
        break;
    case RANK_MESSAGE__BODY_SHUFFLE_RESPONSE:
        worker_mr_handle_shuffle_response(m, source, msg);
        break;
    case RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE:
        worker_mr_handle_block_read_response(m, source, msg);
        break;
    default:
        LOG_WARN("worker: %s from rank %d is not the worker's", message_rank_name(msg), source);
        break;
    }
}

void worker_mr_on_writable(worker_mr *m, int dest) { worker_mr_shuffle_writable(m, dest); }

/* Every WORKER_MR_TICK_MS: throttled statuses, polls and fetches whose
 * time is up. */
static void worker_mr_on_tick(event_loop *loop, void *arg) {
    worker_mr *m = arg;
    (void)loop;
    int64_t now = clock_monotonic_ms();
    worker_mr_attempt_tick(m, now);
    worker_mr_shuffle_tick(m, now);
}

/* ---- life -------------------------------------------------------------------------- */

/* The binary tasks run: opts' or this process's own. */
static int worker_mr_find_program(worker_mr *m, const char *program, char *err, size_t errlen) {
    if (program != NULL) {
        snprintf(m->task_program, sizeof(m->task_program), "%s", program);
        return EMBER_OK;
    }
    ssize_t n = readlink("/proc/self/exe", m->task_program, sizeof(m->task_program) - 1);
    if (n <= 0) {
        snprintf(err, errlen, "cannot find this program (/proc/self/exe): %s", strerror(errno));
        return EMBER_EIO;
    }
    m->task_program[n] = '\0';
    return EMBER_OK;
}

int worker_mr_create(const worker_mr_options *opts, worker_mr **out, char *err, size_t errlen) {
    worker_mr *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return EMBER_ENOMEM;
    m->loop = opts->loop;
    m->wk = opts->wk;
    m->rank = opts->rank;
    m->primary_rank = opts->primary_rank;
    m->fetch_timeout_ms =
        opts->fetch_timeout_ms > 0 ? opts->fetch_timeout_ms : WORKER_MR_FETCH_TIMEOUT_MS;
    m->send = opts->send;
    m->send_bulk = opts->send_bulk;
    m->recv_bulk = opts->recv_bulk;
    m->send_arg = opts->send_arg;
    m->next_fetch_id = 1;
    m->data_dirs = strdup(opts->data_dirs != NULL ? opts->data_dirs : "");
    int rc = EMBER_ENOMEM;
    if (m->data_dirs == NULL)
        goto fail;
    rc = EMBER_EINVAL;
    if (opts->loop == NULL || opts->wk == NULL || worker_containers(opts->wk) == NULL ||
        opts->send == NULL || opts->send_bulk == NULL || opts->recv_bulk == NULL) {
        snprintf(err, errlen, "the MapReduce worker needs a loop, containers and senders");
        goto fail;
    }
    /* Absolute: tasks run in their own working directories. */
    char *real = opts->run_dir != NULL ? realpath(opts->run_dir, NULL) : NULL;
    if (real == NULL ||
        (size_t)snprintf(m->run_dir, sizeof(m->run_dir), "%s", real) >= sizeof(m->run_dir)) {
        snprintf(err, errlen, "cannot use the run directory %s: %s",
                 opts->run_dir != NULL ? opts->run_dir : "(none)",
                 real == NULL ? strerror(errno) : "its path is too long");
        free(real);
        goto fail;
    }
    free(real);
    rc = worker_mr_find_program(m, opts->task_program, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    rc = thread_pool_create(opts->loop, WORKER_MR_POOL_THREADS, &m->pool);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot start the worker's threads: %s", ember_strerror(rc));
        goto fail;
    }
    rc = worker_mr_umbilical_start(m, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    rc = event_loop_add_timer(opts->loop, WORKER_MR_TICK_MS, worker_mr_on_tick, m, &m->timer);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot add the worker's timer: %s", ember_strerror(rc));
        goto fail;
    }
    LOG_INFO("worker: tasks reach this worker on %s", m->sock_path);
    *out = m;
    return EMBER_OK;
fail:
    worker_mr_destroy(m);
    return rc;
}

void worker_mr_destroy(worker_mr *m) {
    if (m == NULL)
        return;
    if (m->timer != 0)
        event_loop_remove_timer(m->loop, m->timer);
    m->stopping = 1;             /* nothing is sent from here on */
    worker_mr_umbilical_stop(m); /* no task frame after this */
    thread_pool *pool = m->pool;
    m->pool = NULL; /* the jobs' directories go now, on this thread */
    thread_pool_destroy(pool);
    worker_mr_shuffle_free(m);
    worker_mr_attempts_free(m);
    while (m->jobs != NULL)
        worker_mr_job_drop(m, m->jobs);
    char dir[WORKER_MR_PATH_MAX + 8];
    snprintf(dir, sizeof(dir), "%s/mr", m->run_dir);
    rmdir(dir); /* other ranks of the host may still use it */
    free(m->data_dirs);
    free(m);
}

const char *worker_mr_umbilical_path(const worker_mr *m) { return m->sock_path; }

size_t worker_mr_attempts(const worker_mr *m) {
    size_t n = 0;
    for (const mr_attempt *a = m->attempts; a != NULL; a = a->next)
        n++;
    return n;
}
