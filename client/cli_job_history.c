/* cli_job_history.c -- `ember job -history JOBID [--svg FILE]`: a finished
 * job's record, as the scheduler wrote it at /ember/history/JOBID.json
 * (Hadoop's `mapred job -history`), and its timeline as a picture.
 *
 * The text: the job's identity, times and state, its counters, a table
 * of tasks per kind (total, succeeded, failed, killed), then one line per
 * attempt with its node, cores and why, locality and outcome.
 *
 * The SVG: time runs left to right from the job's submission; each lane
 * is one container slot of one node (the attempts that ran one after the
 * other on a rank share a lane; attempts that overlapped get lanes of
 * their own), grouped by node.  An attempt is a bar: a map is one colour;
 * a reduce is cut into its shuffle, merge and reduce phases; setup and
 * cleanup are grey; a failed attempt has a red outline and a cross, a
 * killed one is hatched.  Hovering a bar shows its attempt id, node,
 * cpuset, placement reason and outcome (an SVG <title>). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_job.h"
#include "common/error.h"
#include "ember/dfs.h"

#define HISTORY_DIR "/ember/history"
#define HISTORY_MAX (64u << 20) /* a record larger than this is not read */

/* Reads the job's record into *out (the caller's, json_decref). */
static int history_load(cli_env *env, const char *job_id, json_t **out) {
    char path[512], why[512];
    if (snprintf(path, sizeof(path), HISTORY_DIR "/%s.json", job_id) >= (int)sizeof(path) ||
        strchr(job_id, '/') != NULL) {
        cli_error("job -history: '%s' is not a job id", job_id);
        return 2;
    }
    ember_dfs *dfs = NULL;
    if (ember_dfs_connect(env->run_dir, &dfs, why, sizeof(why)) != EMBER_OK) {
        cli_error("job -history: %s", why);
        return 1;
    }
    ember_dfs_file *f = NULL;
    size_t len = 0, cap = 1 << 16, got = 0;
    char *buf = malloc(cap);
    int rc = buf == NULL ? EMBER_ENOMEM : ember_dfs_open(dfs, path, &f);
    while (rc == EMBER_OK) {
        if (len + 1 >= cap) {
            char *b = cap < HISTORY_MAX ? realloc(buf, cap * 2) : NULL;
            if (b == NULL) {
                rc = EMBER_ETOOBIG;
                break;
            }
            buf = b;
            cap *= 2;
        }
        rc = ember_dfs_read(f, buf + len, cap - len - 1, &got);
        if (rc != EMBER_OK || got == 0)
            break;
        len += got;
    }
    if (f != NULL)
        ember_dfs_close_file(f);
    int status = 0;
    if (rc == EMBER_ENOENT) {
        cli_error("job -history: no history for %s (%s: no such file; a job's record is "
                  "written when it ends)",
                  job_id, path);
        status = 1;
    } else if (rc != EMBER_OK) {
        cli_error("job -history: cannot read %s: %s", path,
                  ember_dfs_last_error(dfs)[0] ? ember_dfs_last_error(dfs) : ember_strerror(rc));
        status = 1;
    } else {
        json_error_t jerr;
        *out = json_loadb(buf, len, 0, &jerr);
        if (*out == NULL || !json_is_object(*out)) {
            cli_error("job -history: %s is not a job record: %s (line %d)", path, jerr.text,
                      jerr.line);
            status = 1;
        }
    }
    free(buf);
    ember_dfs_close(dfs);
    return status;
}

static const char *hs(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static long long hi(json_t *o, const char *key) {
    return json_integer_value(json_object_get(o, key));
}

/* "2026-12-05 23:41:07" (UTC), or "-" for 0. */
static const char *history_time(long long ms, char *buf, size_t len) {
    if (ms <= 0)
        return "-";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

static void history_print_tasks(json_t *attempts) {
    static const char *kinds[] = {"SETUP", "MAP", "REDUCE", "CLEANUP"};
    printf("\nTask Summary\n============================\n");
    printf("%-8s %7s %10s %7s %7s\n", "Kind", "Total", "Succeeded", "Failed", "Killed");
    for (int k = 0; k < 4; k++) {
        int total = 0, st[3] = {0};
        size_t i;
        json_t *a;
        json_array_foreach(attempts, i, a) {
            if (strcmp(hs(a, "kind"), kinds[k]) != 0)
                continue;
            total++;
            const char *s = hs(a, "status");
            st[0] += strcmp(s, "SUCCEEDED") == 0;
            st[1] += strcmp(s, "FAILED") == 0;
            st[2] += strcmp(s, "KILLED") == 0;
        }
        printf("%-8s %7d %10d %7d %7d\n", kinds[k], total, st[0], st[1], st[2]);
    }
    printf("\nAttempts\n============================\n");
    size_t i;
    json_t *a;
    json_array_foreach(attempts, i, a) {
        long long ms = hi(a, "finish_ms") > 0 ? hi(a, "finish_ms") - hi(a, "start_ms") : 0;
        printf("%s  %-9s rank %lld (%s)  %.3f s  cores %s%s%s\n", hs(a, "attempt_id"),
               hs(a, "status"), hi(a, "rank"), hs(a, "node"), (double)ms / 1000.0,
               hs(a, "cpuset")[0] ? hs(a, "cpuset") : "-", hs(a, "locality")[0] ? "  " : "",
               hs(a, "locality"));
        if (hs(a, "placement")[0])
            printf("    placed: %s\n", hs(a, "placement"));
        if (hs(a, "diagnostic")[0])
            printf("    %s\n", hs(a, "diagnostic"));
    }
}

static void history_print(json_t *h) {
    char t1[32], t2[32], t3[32];
    printf("Job: %s\nJob name: %s\nUser: %s\nQueue: %s\nOutput: %s\n", hs(h, "job_id"),
           hs(h, "name"), hs(h, "user"), hs(h, "queue"), hs(h, "output"));
    printf("Submitted at: %s\nLaunched at: %s\nFinished at: %s\n",
           history_time(hi(h, "submit_ms"), t1, sizeof(t1)),
           history_time(hi(h, "start_ms"), t2, sizeof(t2)),
           history_time(hi(h, "finish_ms"), t3, sizeof(t3)));
    long long ms = hi(h, "finish_ms") - hi(h, "submit_ms");
    printf("Elapsed: %.3f s\nStatus: %s\n", ms > 0 ? (double)ms / 1000.0 : 0.0, hs(h, "status"));
    if (hs(h, "diagnostic")[0])
        printf("Diagnostic: %s\n", hs(h, "diagnostic"));
    printf("Maps: %lld  Reduces: %lld\n", hi(h, "maps"), hi(h, "reduces"));
    /* {group: {name: value}}, as the scheduler writes them */
    json_t *counters = json_object_get(h, "counters"), *group, *value;
    const char *gname, *name;
    size_t n = 0;
    json_object_foreach(counters, gname, group) n += json_object_size(group);
    printf("\nCounters: %zu\n", n);
    json_object_foreach(counters, gname, group) {
        printf("\t%s\n", gname);
        json_object_foreach(group, name, value) printf("\t\t%s=%lld\n", name,
                                                        json_integer_value(value));
    }
    history_print_tasks(json_object_get(h, "attempts"));
}

int cli_job_history(cli_env *env, const char *job_id, const char *svg) {
    json_t *h = NULL;
    int status = history_load(env, job_id, &h);
    if (status != 0)
        return status;
    if (svg != NULL)
        status = cli_job_history_svg(h, svg);
    else
        history_print(h);
    json_decref(h);
    return status;
}
