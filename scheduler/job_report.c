/* job_report.c -- what a job master tells: the JobReport of `ember job
 * -status` and JobStatus polls, the job's counters (the sum of its
 * succeeded attempts' counters, the largest for the peak memory ones, plus
 * Hadoop's "Job Counters"), the
 * diagnostic of a failed task, and the history record (JSON) the cleanup
 * attempt writes to /ember/history/JOBID.json.
 *
 * Reports are built as protobuf-c messages whose every string and array
 * is malloc'd, so job_report__free_unpacked() frees them whole. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "job_master_internal.h"
#include "mapreduce/task.h"
#include "proto/message.h"

#define JM_HISTORY_MAX (4u << 20) /* bytes of history JSON a cleanup's launch carries */

/* ---- counters --------------------------------------------------------- */

void jm_counters_free(Counter **list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(list[i]->group);
        free(list[i]->name);
        free(list[i]);
    }
    free(list);
}

static Counter *jm_counter_new(const char *group, const char *name, int64_t value) {
    Counter *c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    counter__init(c);
    c->group = strdup(group);
    c->name = strdup(name);
    c->value = value;
    if (c->group == NULL || c->name == NULL) {
        free(c->group);
        free(c->name);
        free(c);
        return NULL;
    }
    return c;
}

int jm_counters_copy(Counter ***out, size_t *n_out, Counter *const *src, size_t n) {
    Counter **list = calloc(n + 1, sizeof(*list));
    if (list == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((list[i] = jm_counter_new(src[i]->group, src[i]->name, src[i]->value)) == NULL) {
            jm_counters_free(list, i);
            return EMBER_ENOMEM;
        }
    *out = list;
    *n_out = n;
    return EMBER_OK;
}

/* A counter whose job value is its tasks' largest (Hadoop's "Peak ...
 * Physical memory (bytes)"), not their sum. */
static int jm_counter_is_peak(const char *group, const char *name) {
    return strcmp(group, MR_GROUP_TASK) == 0 && (strcmp(name, MR_COUNTER_PEAK_MAP_RSS) == 0 ||
                                                 strcmp(name, MR_COUNTER_PEAK_REDUCE_RSS) == 0);
}

/* Adds value to (group, name) in *list (a peak counter keeps the larger),
 * appending it when new. */
static void jm_counter_add(Counter ***list, size_t *n, const char *group, const char *name,
                           int64_t value) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i]->group, group) == 0 && strcmp((*list)[i]->name, name) == 0) {
            Counter *c = (*list)[i];
            if (!jm_counter_is_peak(group, name))
                c->value += value;
            else if (value > c->value)
                c->value = value;
            return;
        }
    Counter **grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (grown == NULL)
        return;
    *list = grown;
    Counter *c = jm_counter_new(group, name, value);
    if (c != NULL)
        (*list)[(*n)++] = c;
}

void jm_counters_merge(Counter ***list, size_t *n, Counter *const *add, size_t n_add) {
    for (size_t i = 0; i < n_add; i++)
        jm_counter_add(list, n, add[i]->group, add[i]->name, add[i]->value);
}

/* The job's counters: Job Counters, then the succeeded attempts' sums. */
static void jm_job_counters(const job_master *jm, Counter ***list, size_t *n) {
    *list = NULL;
    *n = 0;
    const struct {
        const char *name;
        uint64_t value;
    } job[] = {
        {"Launched map tasks", jm->launched_maps},
        {"Launched reduce tasks", jm->launched_reduces},
        {"Failed map tasks", jm->failed_maps},
        {"Failed reduce tasks", jm->failed_reduces},
        {"Killed map tasks", jm->killed_maps},
        {"Killed reduce tasks", jm->killed_reduces},
        {"Data-local map tasks", jm->data_local},
        {"Rack-local map tasks", jm->rack_local},
        {"Other local map tasks", jm->other_local},
        {"Total time spent by all map tasks (ms)", jm->map_ms},
        {"Total time spent by all reduce tasks (ms)", jm->reduce_ms},
    };
    for (size_t i = 0; i < sizeof(job) / sizeof(job[0]); i++)
        if (job[i].value > 0 || i < 2)
            jm_counter_add(list, n, MR_GROUP_JOB, job[i].name, (int64_t)job[i].value);
    const jm_task *lists[] = {jm->maps, jm->reduces};
    uint32_t counts[] = {jm->n_maps, jm->n_reduces};
    for (size_t k = 0; k < 2; k++)
        for (uint32_t i = 0; i < counts[k]; i++) {
            const jm_task *t = &lists[k][i];
            if (t->state == TASK_SUCCEEDED)
                jm_counters_merge(list, n, t->attempts[t->successful].counters,
                                  t->attempts[t->successful].n_counters);
        }
}

/* ---- the diagnostic of a failed task ---------------------------------- */

void jm_set_failure_diagnostic(job_master *jm, const jm_task *t, const jm_attempt *a) {
    char task[JM_ID_MAX];
    jm_task_id(jm, t, task, sizeof(task));
    const char *what = t->kind == TASK_KIND__TASK_KIND_JOB_SETUP     ? "Job setup"
                       : t->kind == TASK_KIND__TASK_KIND_JOB_CLEANUP ? "Job cleanup"
                                                                     : "Task";
    int off = snprintf(jm->diagnostic, sizeof(jm->diagnostic),
                       "%s %s failed %u times; its last attempt %s on %s (rank %d): %s", what, task,
                       t->failures, a->id, a->hostname, a->rank,
                       a->diagnostic != NULL ? a->diagnostic : "no reason given");
    if (a->log_tail != NULL && a->log_tail[0] != '\0' && off > 0 &&
        (size_t)off < sizeof(jm->diagnostic))
        snprintf(jm->diagnostic + off, sizeof(jm->diagnostic) - (size_t)off,
                 "\nLast lines of its stderr:\n%s", a->log_tail);
}

/* ---- the JobReport ---------------------------------------------------- */

static char *jm_dup(const char *s) {
    if (s == NULL || s[0] == '\0')
        return (char *)protobuf_c_empty_string;
    char *d = strdup(s);
    return d != NULL ? d : (char *)protobuf_c_empty_string;
}

static AttemptReport *jm_attempt_report(const jm_attempt *a) {
    AttemptReport *r = malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    attempt_report__init(r);
    r->attempt_id = jm_dup(a->id);
    r->state = a->state;
    r->phase = a->phase;
    r->progress = a->state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED ? 1.0f : a->progress;
    r->rank = (uint32_t)a->rank;
    r->hostname = jm_dup(a->hostname);
    r->cpuset = jm_dup(a->cpuset);
    r->placement = jm_dup(a->placement);
    r->locality = jm_dup(a->locality);
    r->start_ms = a->start_wall;
    r->finish_ms = jm_attempt_active(a) ? 0 : a->finish_wall;
    r->diagnostic = jm_dup(a->diagnostic);
    r->log_tail = jm_dup(a->log_tail);
    r->speculative = a->speculative;
    r->shuffle_start_ms = a->shuffle_wall;
    r->merge_start_ms = a->merge_wall;
    r->reduce_start_ms = a->reduce_wall;
    r->memory_limit = jm_dup(a->memory_limit);
    return r;
}

static float jm_task_progress(const jm_task *t) {
    if (t->state == TASK_SUCCEEDED)
        return 1.0f;
    float best = 0;
    for (size_t i = 0; i < t->n_attempts; i++)
        if (jm_attempt_active(&t->attempts[i]) && t->attempts[i].progress > best)
            best = t->attempts[i].progress;
    return best;
}

static TaskReport *jm_task_report(const jm_task *t) {
    TaskReport *r = malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    task_report__init(r);
    r->kind = t->kind;
    r->index = t->index;
    r->state = jm_dup(jm_task_state_name(t->state));
    r->progress = jm_task_progress(t);
    r->successful_attempt = jm_dup(t->successful >= 0 ? t->attempts[t->successful].id : "");
    r->attempts = calloc(t->n_attempts + 1, sizeof(*r->attempts));
    for (size_t i = 0; r->attempts != NULL && i < t->n_attempts; i++)
        if ((r->attempts[r->n_attempts] = jm_attempt_report(&t->attempts[i])) != NULL)
            r->n_attempts++;
    return r;
}

static float jm_progress_of(const jm_task *list, uint32_t count) {
    if (count == 0)
        return 1.0f;
    double sum = 0;
    for (uint32_t i = 0; i < count; i++)
        sum += jm_task_progress(&list[i]);
    return (float)(sum / count);
}

static void jm_report_tasks(const job_master *jm, JobReport *r) {
    size_t total = jm->n_maps + jm->n_reduces + 2;
    r->tasks = calloc(total, sizeof(*r->tasks));
    if (r->tasks == NULL)
        return;
    const jm_task *order[] = {&jm->setup, NULL, NULL, &jm->cleanup};
    for (size_t k = 0; k < 4; k++) {
        const jm_task *list = k == 1 ? jm->maps : k == 2 ? jm->reduces : order[k];
        uint32_t count = k == 1 ? jm->n_maps : k == 2 ? jm->n_reduces : 1;
        for (uint32_t i = 0; i < count; i++) {
            if ((k == 0 || k == 3) && list->n_attempts == 0)
                continue; /* setup and cleanup show once they ran */
            TaskReport *t = jm_task_report(&list[i]);
            if (t != NULL)
                r->tasks[r->n_tasks++] = t;
        }
    }
}

JobReport *job_master_report(const job_master *jm, int with_tasks) {
    JobReport *r = malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    job_report__init(r);
    const JobDescription *j = jm->job;
    r->job_id = jm_dup(j->job_id);
    r->name = jm_dup(j->name);
    r->user = jm_dup(j->user);
    r->queue = jm_dup(j->queue[0] ? j->queue : "default");
    r->state = jm_report_state(jm);
    r->map_progress = jm_progress_of(jm->maps, jm->n_maps);
    r->reduce_progress = jm_progress_of(jm->reduces, jm->n_reduces);
    if (jm->state == JM_SETUP)
        r->map_progress = r->reduce_progress = 0;
    r->submit_ms = j->submit_ms;
    r->start_ms = jm->start_wall;
    r->finish_ms = jm->finish_wall;
    r->maps = jm->n_maps;
    r->reduces = jm->n_reduces;
    r->maps_completed = jm->maps_done;
    r->reduces_completed = jm->reduces_done;
    jm_job_counters(jm, &r->counters, &r->n_counters);
    r->diagnostic = jm_dup(jm->diagnostic);
    r->output = jm_dup(j->output);
    r->containers = jm->active;
    if (with_tasks)
        jm_report_tasks(jm, r);
    return r;
}

void job_master_report_free(JobReport *r) {
    if (r != NULL)
        job_report__free_unpacked(r, NULL);
}

/* ---- history ---------------------------------------------------------- */

static const char *jm_str(const char *s) { return s != NULL ? s : ""; }

/* now_ms: for the cleanup attempt that writes the record (being launched
 * with it), the record's time; 0 for every other attempt.  That attempt
 * is shown SUCCEEDED, ending then: writing the record is the last of its
 * work that can fail but removing the staging directory, and a record
 * that says it was still starting would puzzle its reader. */
static json_t *jm_attempt_json(const jm_task *t, const jm_attempt *a, int64_t now_ms) {
    json_t *o = json_object();
    int writer = now_ms != 0;
    json_object_set_new(o, "attempt_id", json_string(a->id));
    json_object_set_new(o, "kind", json_string(message_task_kind_name(t->kind)));
    json_object_set_new(o, "task_index", json_integer(t->index));
    json_object_set_new(o, "status", json_string(writer ? "SUCCEEDED"
                                                        : message_attempt_state_name(a->state)));
    json_object_set_new(o, "rank", json_integer(a->rank));
    json_object_set_new(o, "node", json_string(a->hostname));
    json_object_set_new(o, "cpuset", json_string(jm_str(a->cpuset)));
    json_object_set_new(o, "placement", json_string(jm_str(a->placement)));
    json_object_set_new(o, "locality", json_string(jm_str(a->locality)));
    json_object_set_new(o, "speculative", json_boolean(a->speculative));
    json_object_set_new(o, "memory_limit", json_string(jm_str(a->memory_limit)));
    json_object_set_new(o, "start_ms", json_integer(writer && a->start_wall == 0 ? now_ms
                                                                                : a->start_wall));
    json_object_set_new(o, "finish_ms", json_integer(writer                  ? now_ms
                                                     : jm_attempt_active(a) ? 0
                                                                            : a->finish_wall));
    json_t *phases = json_object();
    json_object_set_new(phases, "shuffle_start_ms", json_integer(a->shuffle_wall));
    json_object_set_new(phases, "merge_start_ms", json_integer(a->merge_wall));
    json_object_set_new(phases, "reduce_start_ms", json_integer(a->reduce_wall));
    json_object_set_new(o, "phases", phases);
    json_object_set_new(o, "diagnostic", json_string(jm_str(a->diagnostic)));
    return o;
}

static json_t *jm_counters_json(Counter *const *list, size_t n) {
    json_t *groups = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *g = json_object_get(groups, list[i]->group);
        if (g == NULL) {
            g = json_object();
            json_object_set_new(groups, list[i]->group, g);
        }
        json_object_set_new(g, list[i]->name, json_integer(list[i]->value));
    }
    return groups;
}

char *job_master_history(const job_master *jm) {
    const JobDescription *j = jm->job;
    json_t *root = json_object(), *conf = json_object(), *attempts = json_array();
    if (root == NULL || conf == NULL || attempts == NULL) {
        json_decref(root);
        json_decref(conf);
        json_decref(attempts);
        return NULL;
    }
    json_object_set_new(root, "job_id", json_string(j->job_id));
    json_object_set_new(root, "name", json_string(j->name));
    json_object_set_new(root, "user", json_string(j->user));
    json_object_set_new(root, "queue", json_string(j->queue[0] ? j->queue : "default"));
    json_object_set_new(root, "output", json_string(j->output));
    json_object_set_new(root, "maps", json_integer(jm->n_maps));
    json_object_set_new(root, "reduces", json_integer(jm->n_reduces));
    json_object_set_new(root, "submit_ms", json_integer(j->submit_ms));
    json_object_set_new(root, "start_ms", json_integer(jm->start_wall));
    int64_t now = jm->env.now_wall(jm->env.arg);
    json_object_set_new(root, "finish_ms", json_integer(now));
    /* The cleanup writes this record: the state it ends the job in. */
    const char *status = jm->state == JM_COMMITTING           ? "SUCCEEDED"
                         : jm->final == JOB_STATE__JOB_KILLED ? "KILLED"
                                                              : "FAILED";
    json_object_set_new(root, "status", json_string(status));
    json_object_set_new(root, "diagnostic", json_string(jm->diagnostic));
    for (size_t i = 0; i < j->n_conf; i++)
        json_object_set_new(conf, j->conf[i]->key, json_string(j->conf[i]->value));
    json_object_set_new(root, "configuration", conf);
    Counter **counters;
    size_t n;
    jm_job_counters(jm, &counters, &n);
    json_object_set_new(root, "counters", jm_counters_json(counters, n));
    jm_counters_free(counters, n);
    const jm_task *order[] = {&jm->setup, NULL, NULL, &jm->cleanup};
    for (size_t k = 0; k < 4; k++) {
        const jm_task *list = k == 1 ? jm->maps : k == 2 ? jm->reduces : order[k];
        uint32_t count = k == 1 ? jm->n_maps : k == 2 ? jm->n_reduces : 1;
        for (uint32_t i = 0; i < count; i++)
            for (size_t a = 0; a < list[i].n_attempts; a++) {
                const jm_attempt *at = &list[i].attempts[a];
                int writer = k == 3 && jm_attempt_active(at);
                json_array_append_new(attempts, jm_attempt_json(&list[i], at, writer ? now : 0));
            }
    }
    size_t n_attempts = json_array_size(attempts);
    json_object_set_new(root, "attempts", attempts);
    char *text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (text != NULL && strlen(text) > JM_HISTORY_MAX) {
        /* It travels inside one LaunchAttempt (at most 8 MiB): a job of
         * very many attempts keeps its counters and loses the list. */
        free(text);
        json_object_del(root, "attempts");
        json_object_set_new(root, "attempts_omitted", json_integer((json_int_t)n_attempts));
        text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    }
    json_decref(root);
    return text;
}
