/* cli_job_admin.c -- watching and steering the cluster's MapReduce jobs,
 * with Hadoop's `mapred job` and `mapred queue` spellings:
 *   ember job -list [all]
 *   ember job -status JOB          state, progress, counters, and every
 *                                  task and attempt: node, cores and why,
 *                                  locality, progress, elapsed
 *   ember job -kill JOB
 *   ember job -logs JOB [ATTEMPT]  the log tails the attempts reported,
 *                                  and where the full logs are
 *   ember queue -list
 * Each is one request to the primary's scheduler (JobList, JobStatus,
 * KillJob, QueueList); the answers are printed as Hadoop prints them
 * where ember has the same thing to say. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_job.h"
#include "common/clock.h"
#include "common/error.h"
#include "proto/message.h"

static const char *job_state_name(JobState s) {
    switch (s) {
    case JOB_STATE__JOB_PREP: return "PREP";
    case JOB_STATE__JOB_RUNNING: return "RUNNING";
    case JOB_STATE__JOB_SUCCEEDED: return "SUCCEEDED";
    case JOB_STATE__JOB_FAILED: return "FAILED";
    case JOB_STATE__JOB_KILLED: return "KILLED";
    case JOB_STATE__JOB_UNKNOWN:
    case _JOB_STATE_IS_INT_SIZE: break;
    }
    return "UNKNOWN";
}

/* "12.3s" from start to end (end 0: to now); "-" before it started. */
static void job_elapsed(int64_t start, int64_t end, char *buf, size_t len) {
    if (start <= 0) {
        snprintf(buf, len, "-");
        return;
    }
    int64_t ms = (end > 0 ? end : clock_wall_ms()) - start;
    snprintf(buf, len, "%.1fs", (double)(ms > 0 ? ms : 0) / 1000.0);
}

/* Asks for one job's report (the caller frees *resp); 1 on failure, said. */
static int job_fetch(cli_env *env, const char *job_id, int with_tasks, ClientMessage **resp) {
    JobStatusRequest js = JOB_STATUS_REQUEST__INIT;
    js.job_id = (char *)job_id;
    js.with_tasks = with_tasks;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_JOB_STATUS;
    req.job_status = &js;
    return cli_request(env, &req, CLIENT_MESSAGE__BODY_JOB_STATUS_RESPONSE, resp, NULL);
}

/* ---- -list -------------------------------------------------------------- */

#define JOB_LIST_PATTERN "%23s\t%20s\t%10s\t%14s\t%12s\t%12s\t%10s\t%15s\t%8s\t%8s\n"

static int job_list(cli_env *env, int all) {
    JobListRequest jl = JOB_LIST_REQUEST__INIT;
    jl.all = all;
    ClientMessage req = CLIENT_MESSAGE__INIT, *resp;
    req.body_case = CLIENT_MESSAGE__BODY_JOB_LIST;
    req.job_list = &jl;
    if (cli_request(env, &req, CLIENT_MESSAGE__BODY_JOB_LIST_RESPONSE, &resp, NULL) != 0)
        return 1;
    const JobListResponse *r = resp->job_list_response;
    printf("Total jobs:%zu\n", r->n_jobs);
    printf(JOB_LIST_PATTERN, "JobId", "JobName", "State", "StartTime", "UserName", "Queue",
           "Priority", "UsedContainers", "Maps", "Reduces");
    for (size_t i = 0; i < r->n_jobs; i++) {
        const JobReport *j = r->jobs[i];
        char start[32], containers[16], maps[32], reduces[32];
        snprintf(start, sizeof(start), "%lld", (long long)j->start_ms);
        snprintf(containers, sizeof(containers), "%u", j->containers);
        snprintf(maps, sizeof(maps), "%u/%u", j->maps_completed, j->maps);
        snprintf(reduces, sizeof(reduces), "%u/%u", j->reduces_completed, j->reduces);
        printf(JOB_LIST_PATTERN, j->job_id, j->name[0] ? j->name : "-", job_state_name(j->state),
               start, j->user, j->queue, "NORMAL", containers, maps, reduces);
    }
    client_message__free_unpacked(resp, NULL);
    return 0;
}

/* ---- -status ------------------------------------------------------------ */

static void job_print_counters(const JobReport *j) {
    printf("Counters: %zu\n", j->n_counters);
    for (size_t i = 0; i < j->n_counters; i++) {
        int first = 1;
        for (size_t k = 0; k < i; k++)
            first &= strcmp(j->counters[k]->group, j->counters[i]->group) != 0;
        if (!first)
            continue;
        printf("\t%s\n", j->counters[i]->group);
        for (size_t k = i; k < j->n_counters; k++)
            if (strcmp(j->counters[k]->group, j->counters[i]->group) == 0)
                printf("\t\t%s=%lld\n", j->counters[k]->name, (long long)j->counters[k]->value);
    }
}

static void job_print_attempt(const AttemptReport *a) {
    char elapsed[32];
    job_elapsed(a->start_ms, a->finish_ms, elapsed, sizeof(elapsed));
    printf("    %s  %s%s  %3.0f%%  %s  on %s (rank %u)  %s\n", a->attempt_id,
           message_attempt_state_name(a->state), a->speculative ? " (speculative)" : "",
           a->progress * 100.0, elapsed, a->hostname, a->rank, a->locality[0] ? a->locality : "");
    if (a->cpuset[0] || a->placement[0])
        printf("      cores %s: %s\n", a->cpuset[0] ? a->cpuset : "?",
               a->placement[0] ? a->placement : "(no reason given)");
    if (a->memory_limit[0])
        printf("      memory limit: %s\n", a->memory_limit);
    if (a->diagnostic[0] && a->state != ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        printf("      diagnostic: %s\n", a->diagnostic);
}

static void job_print_tasks(const JobReport *j) {
    printf("Tasks: %zu\n", j->n_tasks);
    for (size_t i = 0; i < j->n_tasks; i++) {
        const TaskReport *t = j->tasks[i];
        int64_t start = 0, end = 0;
        for (size_t k = 0; k < t->n_attempts; k++) {
            const AttemptReport *a = t->attempts[k];
            if (start == 0 || (a->start_ms > 0 && a->start_ms < start))
                start = a->start_ms;
            end = a->finish_ms > end ? a->finish_ms : end;
        }
        int running = strcmp(t->state, "RUNNING") == 0 || strcmp(t->state, "SCHEDULED") == 0;
        char elapsed[32];
        job_elapsed(start, running ? 0 : end, elapsed, sizeof(elapsed));
        printf("  %-7s %6u  %-9s  %3.0f%%  %s  attempts: %zu\n", message_task_kind_name(t->kind),
               t->index, t->state, t->progress * 100.0, elapsed, t->n_attempts);
        for (size_t k = 0; k < t->n_attempts; k++)
            job_print_attempt(t->attempts[k]);
    }
}

static int job_status(cli_env *env, const char *job_id) {
    ClientMessage *resp;
    if (job_fetch(env, job_id, 1, &resp) != 0)
        return 1;
    const JobReport *j = resp->job_status_response->job;
    char elapsed[32];
    job_elapsed(j->start_ms, j->finish_ms, elapsed, sizeof(elapsed));
    printf("\nJob: %s\n", j->job_id);
    printf("Job name: %s\n", j->name);
    printf("User: %s\n", j->user);
    printf("Queue: %s\n", j->queue);
    printf("Output: %s\n", j->output);
    printf("Number of maps: %u\n", j->maps);
    printf("Number of reduces: %u\n", j->reduces);
    printf("map() completion: %.2f\n", j->map_progress);
    printf("reduce() completion: %.2f\n", j->reduce_progress);
    printf("Job state: %s\n", job_state_name(j->state));
    printf("Elapsed: %s\n", elapsed);
    printf("Running containers: %u\n", j->containers);
    printf("reason for failure: %s\n", j->diagnostic);
    job_print_counters(j);
    job_print_tasks(j);
    client_message__free_unpacked(resp, NULL);
    return 0;
}

/* ---- -kill -------------------------------------------------------------- */

static int job_kill(cli_env *env, const char *job_id) {
    ClientMessage *resp;
    if (job_fetch(env, job_id, 0, &resp) != 0)
        return 1;
    JobState before = resp->job_status_response->job->state;
    client_message__free_unpacked(resp, NULL);
    if (before == JOB_STATE__JOB_FAILED) {
        printf("Could not mark the job %s as killed, as it has already failed.\n", job_id);
        return 1;
    }
    if (before == JOB_STATE__JOB_KILLED) {
        printf("The job %s has already been killed.\n", job_id);
        return 1;
    }
    if (before == JOB_STATE__JOB_SUCCEEDED) {
        printf("Could not kill the job %s, as it has already succeeded.\n", job_id);
        return 1;
    }
    KillJobRequest kj = KILL_JOB_REQUEST__INIT;
    kj.job_id = (char *)job_id;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_KILL_JOB;
    req.kill_job = &kj;
    if (cli_request(env, &req, CLIENT_MESSAGE__BODY_KILL_JOB_RESPONSE, &resp, NULL) != 0)
        return 1;
    client_message__free_unpacked(resp, NULL);
    printf("Killed job %s\n", job_id);
    return 0;
}

/* ---- -logs -------------------------------------------------------------- */

static int job_logs(cli_env *env, const char *job_id, const char *attempt_id) {
    ClientMessage *resp;
    if (job_fetch(env, job_id, 1, &resp) != 0)
        return 1;
    const JobReport *j = resp->job_status_response->job;
    int shown = 0;
    for (size_t i = 0; i < j->n_tasks; i++)
        for (size_t k = 0; k < j->tasks[i]->n_attempts; k++) {
            const AttemptReport *a = j->tasks[i]->attempts[k];
            if (attempt_id != NULL && strcmp(a->attempt_id, attempt_id) != 0)
                continue;
            shown++;
            printf("==> %s (%s) on %s (rank %u)\n", a->attempt_id,
                   message_attempt_state_name(a->state), a->hostname, a->rank);
            printf("full logs on that node: RUN_DIR/logs/containers/%s/stdout and stderr\n",
                   a->attempt_id);
            if (a->diagnostic[0])
                printf("diagnostic: %s\n", a->diagnostic);
            if (a->log_tail[0])
                printf("last lines of stderr:\n%s%s", a->log_tail,
                       a->log_tail[strlen(a->log_tail) - 1] == '\n' ? "" : "\n");
            else
                printf("(no log tail reported: it %s)\n",
                       a->state == ATTEMPT_STATE__ATTEMPT_SUCCEEDED ? "succeeded"
                                                                    : "reported none");
        }
    client_message__free_unpacked(resp, NULL);
    if (attempt_id != NULL && shown == 0) {
        cli_error("job: job %s has no attempt %s", job_id, attempt_id);
        return 1;
    }
    return 0;
}

/* ---- queue -list -------------------------------------------------------- */

static int queue_list(cli_env *env) {
    QueueListRequest ql = QUEUE_LIST_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT, *resp;
    req.body_case = CLIENT_MESSAGE__BODY_QUEUE_LIST;
    req.queue_list = &ql;
    if (cli_request(env, &req, CLIENT_MESSAGE__BODY_QUEUE_LIST_RESPONSE, &resp, NULL) != 0)
        return 1;
    const QueueListResponse *r = resp->queue_list_response;
    for (size_t i = 0; i < r->n_queues; i++) {
        const QueueReport *q = r->queues[i];
        printf("======================\n");
        printf("Queue Name : %s\n", q->name);
        printf("Queue State : running\n");
        printf("Scheduling Info : Capacity: %.1f, MaximumCapacity: %.1f, CurrentCapacity: %u "
               "containers (%u vcores, %llu MB), Running jobs: %u, Pending jobs: %u\n",
               q->capacity * 100.0, q->maximum_capacity * 100.0, q->containers, q->vcores_used,
               (unsigned long long)q->memory_used_mb, q->running_jobs, q->pending_jobs);
    }
    client_message__free_unpacked(resp, NULL);
    return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static void job_admin_usage(FILE *f) {
    fprintf(f, "usage: ember job -list [all]\n"
               "       ember job -status JOB\n"
               "       ember job -kill JOB\n"
               "       ember job -logs JOB [ATTEMPT]\n"
               "       ember job -history JOB [--svg FILE]\n"
               "  -list [all]          running and waiting jobs (all: finished ones too)\n"
               "  -status JOB          state, progress, counters, and each task's attempts:\n"
               "                       node, cores and why, locality, progress, elapsed\n"
               "  -kill JOB            kill the job (its output is removed)\n"
               "  -logs JOB [ATTEMPT]  the attempts' diagnostics and stderr tails\n"
               "  -history JOB         a finished job's record (/ember/history/JOB.json):\n"
               "                       times, counters, every attempt; --svg FILE draws its\n"
               "                       timeline (one lane per container, '-' for stdout)\n");
}

int cli_job_admin(cli_env *env, int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        job_admin_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-list") && argc <= 3) {
        if (argc == 3 && strcmp(argv[2], "all") != 0) {
            cli_error("job: -list takes only 'all' (see 'ember job -help')");
            return 2;
        }
        return job_list(env, argc == 3);
    }
    if (!strcmp(cmd, "-status") && argc == 3)
        return job_status(env, argv[2]);
    if (!strcmp(cmd, "-kill") && argc == 3)
        return job_kill(env, argv[2]);
    if (!strcmp(cmd, "-history") && (argc == 3 || (argc == 5 && !strcmp(argv[3], "--svg"))))
        return cli_job_history(env, argv[2], argc == 5 ? argv[4] : NULL);
    if (!strcmp(cmd, "-logs") && (argc == 3 || argc == 4))
        return job_logs(env, argv[2], argc == 4 ? argv[3] : NULL);
    cli_error("job: bad command line: '%s' (see 'ember job -help')", cmd);
    return 2;
}

int cli_queue(cli_env *env, int argc, char **argv) {
    if (argc == 2 && cli_is_help(argv[1])) {
        printf("usage: ember queue -list\n  -list  the scheduler's queues: capacity, maximum, "
               "what they run\n");
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "-list") != 0) {
        cli_error("queue: -list is the command (see 'ember queue -help')");
        return 2;
    }
    return queue_list(env);
}
