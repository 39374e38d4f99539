/* mr_faulty_job.c -- word count with faults on demand, for the scheduler's
 * tests (mr_cluster*.sh): the job's configuration says which task
 * misbehaves, how, and on how many of its first attempts.
 *
 *   faulty.task      "m3" (map 3), "r0" (reduce 0), "m*" or "r*" (every one)
 *   faulty.mode      segv   dereferences NULL in the task's setup
 *                   exit   exits with status 7 at once
 *                   hang   sleeps without progress, forever (the task timeout kills it)
 *                   oom    touches memory until its limit stops it
 *                   slow   sleeps faulty.slow.ms, reporting progress (a straggler)
 *   faulty.attempts  the first N attempts of the task misbehave (default 1;
 *                    a large number: every attempt)
 *
 * The attempt number is the last field of mapreduce.task.attempt.id
 * (attempt_..._m_000003_1 is attempt 1), as Hadoop names attempts.  With
 * no faulty.mode it is a plain word count.  Every task also checks
 * Hadoop's per-task keys against itself (faulty_check_conf). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ember/mapreduce.h"

static void faulty_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether this attempt is one that must misbehave. */
static int faulty_chosen(ember_task *task) {
    const char *which = ember_conf(task, "faulty.task");
    const char *id = ember_conf(task, "mapreduce.task.attempt.id");
    if (which == NULL || id == NULL || which[0] != (ember_task_is_map(task) ? 'm' : 'r'))
        return 0;
    if (which[1] != '*' && (uint32_t)strtoul(which + 1, NULL, 10) != ember_task_number(task))
        return 0;
    const char *n = ember_conf(task, "faulty.attempts");
    long attempts = n != NULL ? strtol(n, NULL, 10) : 1;
    const char *last = strrchr(id, '_');
    return last != NULL && strtol(last + 1, NULL, 10) < attempts;
}

/* Hadoop's per-task keys, where the framework sets them (a task on the
 * cluster): mapreduce.task.id is the attempt id without its number,
 * .partition the task's number, .ismap whether it is a map.  0 when they
 * agree with the task (or are not set), else 1: the task fails. */
static int faulty_check_conf(ember_task *task) {
    const char *attempt = ember_conf(task, "mapreduce.task.attempt.id");
    const char *id = ember_conf(task, "mapreduce.task.id");
    const char *partition = ember_conf(task, "mapreduce.task.partition");
    const char *ismap = ember_conf(task, "mapreduce.task.ismap");
    if (attempt == NULL || id == NULL || partition == NULL || ismap == NULL)
        return 0;
    const char *last = strrchr(attempt, '_');
    size_t stem = last != NULL ? (size_t)(last - attempt) : 0;
    int ok = strncmp(attempt, "attempt_", 8) == 0 && strncmp(id, "task_", 5) == 0 &&
             strlen(id) - 5 == stem - 8 && strncmp(id + 5, attempt + 8, stem - 8) == 0 &&
             strtoul(partition, NULL, 10) == ember_task_number(task) &&
             strcmp(ismap, ember_task_is_map(task) ? "true" : "false") == 0;
    if (!ok)
        fprintf(stderr, "faulty: task keys disagree: attempt %s, task %s, partition %s, ismap %s\n",
                attempt, id, partition, ismap);
    return !ok;
}

static int faulty_setup(ember_task *task) {
    if (faulty_check_conf(task))
        return 1;
    const char *mode = ember_conf(task, "faulty.mode");
    if (mode == NULL || !faulty_chosen(task))
        return 0;
    fprintf(stderr, "faulty: %s in %s\n", mode, ember_conf(task, "mapreduce.task.attempt.id"));
    fflush(stderr);
    if (strcmp(mode, "segv") == 0) {
        volatile int *p = NULL;
        *p = 1;
    } else if (strcmp(mode, "exit") == 0) {
        _exit(7);
    } else if (strcmp(mode, "hang") == 0) {
        for (;;)
            faulty_sleep_ms(1000);
    } else if (strcmp(mode, "oom") == 0) {
        for (size_t total = 0; total < ((size_t)64 << 30); total += 64 << 20) {
            char *p = malloc(64 << 20);
            if (p == NULL)
                return 1; /* RLIMIT_AS said no: fail as the limit would */
            memset(p, 1, 64 << 20);
        }
    } else if (strcmp(mode, "slow") == 0) {
        const char *ms = ember_conf(task, "faulty.slow.ms");
        for (long left = ms != NULL ? strtol(ms, NULL, 10) : 20000; left > 0; left -= 100) {
            faulty_sleep_ms(100);
            ember_progress(task);
        }
    }
    return 0;
}

static int faulty_map(ember_task *task, const void *key, size_t key_len, const void *line,
                      size_t len) {
    (void)key, (void)key_len;
    const char *s = line, *end = s + len;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        const char *w = s;
        while (s < end && *s != ' ' && *s != '\t' && *s != '\r')
            s++;
        if (s > w && ember_emit(task, w, (size_t)(s - w), "1", 1) != 0)
            return 1;
    }
    return 0;
}

static int faulty_reduce(ember_task *task, const void *key, size_t key_len,
                         ember_values *values) {
    long long sum = 0;
    const void *v;
    size_t n;
    while (ember_values_next(values, &v, &n) == 1) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%.*s", (int)(n < 31 ? n : 31), (const char *)v);
        sum += strtoll(buf, NULL, 10);
    }
    char out[32];
    int w = snprintf(out, sizeof(out), "%lld", sum);
    return ember_emit(task, key, key_len, out, (size_t)w);
}

static const ember_job faulty = {.abi = EMBER_JOB_ABI,
                                 .name = "faulty word count",
                                 .map = faulty_map,
                                 .reduce = faulty_reduce,
                                 .combine = faulty_reduce,
                                 .setup = faulty_setup};

const ember_job *ember_job_define(void) { return &faulty; }
