/* streaming.c -- see streaming.h.
 *
 * A task's streaming state (streaming_task, in ember_task.job_data) lives
 * from the child's start to its end: setup -> map or reduce calls ->
 * cleanup for a map or reduce task; the first group -> the last group of
 * the stream (mr_values_last_group()) for a combiner.  Every way out of a
 * failure frees it (killing the child and removing its directory) before
 * the task's function returns non-zero, because the runner does not call
 * cleanup after a failure. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "stream_process.h"
#include "streaming.h"
#include "streaming_env.h"
#include "task.h"

typedef enum { STREAMING_MAP, STREAMING_REDUCE, STREAMING_COMBINE } streaming_role;

typedef struct {
    streaming_role role;
    ember_task *task; /* where output lines go (its emit at the time) */
    stream_process *child;
    char attempt[96];
    char dir[PATH_MAX]; /* the child's working directory; "" when none */
    const char *in_sep, *out_sep;
    size_t in_sep_len, out_sep_len;
    uint32_t key_fields;
    int write_key;    /* map: the record's key goes before its value */
    int key_offset;   /* map: that key is a byte offset (8 bytes big-endian) */
    int exit_failure; /* stream.non.zero.exit.is.failure */
    const char *reporter;
    uint64_t groups;     /* reduce: groups written to the child */
    int finishing;       /* reduce: in cleanup, where emits bypass the counter */
    uint64_t late_lines; /* reduce: output records emitted in cleanup */
} streaming_task;

static const char *streaming_conf(ember_task *t, const char *key, const char *dflt) {
    const char *v = ember_conf(t, key);
    return v != NULL ? v : dflt;
}

/* A non-negative integer key; -1 (and a logged reason) when malformed. */
static long long streaming_conf_number(ember_task *t, const char *key, long long dflt) {
    const char *v = ember_conf(t, key);
    if (v == NULL)
        return dflt;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || n < 0 || errno != 0) {
        LOG_ERROR("streaming: %s: '%s' is not a number", key, v);
        return -1;
    }
    return n;
}

/* One line of the child's stdout: cut after the Nth separator, emitted. */
static int streaming_on_stdout(void *arg, const uint8_t *line, size_t len) {
    streaming_task *s = arg;
    if (s->role == STREAMING_REDUCE && s->groups == 0)
        return EMBER_OK; /* Hadoop drops a reducer's output when it had no input */
    size_t key_len = len, value_at = len, at = 0;
    for (uint32_t f = 0; f < s->key_fields; f++) {
        const uint8_t *sep =
            s->out_sep_len > 0 ? memmem(line + at, len - at, s->out_sep, s->out_sep_len) : NULL;
        if (sep == NULL) {
            key_len = value_at = len;
            break;
        }
        key_len = (size_t)(sep - line);
        value_at = at = key_len + s->out_sep_len;
    }
    if (s->finishing)
        s->late_lines++;
    int rc = ember_emit(s->task, line, key_len, line + value_at, len - value_at);
    return rc == 0 ? EMBER_OK : rc < 0 ? rc : EMBER_EINVAL;
}

/* "reporter:counter:GROUP,NAME,AMOUNT" adds to a counter. */
static void streaming_counter(streaming_task *s, const char *spec, size_t len) {
    char buf[512];
    if (len >= sizeof(buf)) {
        LOG_WARN("streaming: counter line too long, ignored");
        return;
    }
    memcpy(buf, spec, len);
    buf[len] = '\0';
    char *name = strchr(buf, ','), *amount = name != NULL ? strchr(name + 1, ',') : NULL;
    char *end = NULL;
    long long n = amount != NULL ? strtoll(amount + 1, &end, 10) : 0;
    if (amount == NULL || strchr(amount + 1, ',') != NULL || end == amount + 1 || *end != '\0') {
        LOG_WARN("streaming: cannot parse counter line: %s", buf);
        return;
    }
    *name++ = '\0';
    *amount = '\0';
    ember_counter_add(s->task, buf, name, n);
}

/* One line of the child's stderr: a reporter line, or copied to ours. */
static int streaming_on_stderr(void *arg, const uint8_t *line, size_t len) {
    streaming_task *s = arg;
    size_t plen = strlen(s->reporter);
    const char *l = (const char *)line;
    if (plen > 0 && len >= plen && memcmp(l, s->reporter, plen) == 0) {
        l += plen;
        len -= plen;
        if (len >= 8 && memcmp(l, "counter:", 8) == 0)
            streaming_counter(s, l + 8, len - 8);
        else if (len >= 7 && memcmp(l, "status:", 7) == 0)
            ember_progress(s->task);
        return EMBER_OK;
    }
    fwrite(line, 1, len, stderr);
    fputc('\n', stderr);
    return EMBER_OK;
}

/* Hadoop's attempt name: attempt_<job without "job_">_m_000003_0, or
 * the task process's own (mapreduce.task.attempt.id). */
static void streaming_attempt(ember_task *t, char *out, size_t len) {
    const char *given = ember_conf(t, "mapreduce.task.attempt.id");
    if (given != NULL) {
        snprintf(out, len, "%s", given);
        return;
    }
    const char *job = streaming_conf(t, "mapreduce.job.id", "job_local0000_0001");
    if (strncmp(job, "job_", 4) == 0)
        job += 4;
    snprintf(out, len, "attempt_%s_%c_%06u_0", job, ember_task_is_map(t) ? 'm' : 'r',
             ember_task_number(t));
}

static void streaming_free(streaming_task *s) {
    if (s == NULL)
        return;
    stream_process_free(s->child);
    if (s->dir[0] != '\0')
        streaming_env_remove_dir(s->dir);
    free(s);
}

/* The separators and key fields of the role (PipeMapper's for a map,
 * PipeReducer's for a reduce and a combiner). */
static int streaming_formats(streaming_task *s, ember_task *t) {
    int map = s->role == STREAMING_MAP;
    s->in_sep = streaming_conf(
        t, map ? "stream.map.input.field.separator" : "stream.reduce.input.field.separator", "\t");
    s->out_sep = streaming_conf(
        t, map ? "stream.map.output.field.separator" : "stream.reduce.output.field.separator",
        "\t");
    s->in_sep_len = strlen(s->in_sep);
    s->out_sep_len = strlen(s->out_sep);
    long long fields = streaming_conf_number(
        t, map ? "stream.num.map.output.key.fields" : "stream.num.reduce.output.key.fields", 1);
    /* The runner's rule: no format but a record length is fixed-length. */
    const char *format = streaming_conf(
        t, "ember.input.format", ember_conf(t, "ember.input.record.length") ? "fixed" : "text");
    const char *ignore =
        streaming_conf(t, "stream.map.input.ignoreKey", strcmp(format, "text") == 0 ? "true" : "");
    s->write_key = !map || strcmp(ignore, "true") != 0;
    s->key_offset = map && (strcmp(format, "text") == 0 || strcmp(format, "fixed") == 0);
    s->exit_failure = strcmp(streaming_conf(t, "stream.non.zero.exit.is.failure", "true"), "false");
    s->reporter = streaming_conf(t, "stream.stderr.reporter.prefix", "reporter:");
    if (fields < 1 || fields > UINT32_MAX) {
        if (fields >= 0)
            LOG_ERROR("streaming: the number of key fields must be at least 1");
        return EMBER_ECONFIG;
    }
    s->key_fields = (uint32_t)fields;
    return EMBER_OK;
}

/* Starts the role's command for task t: its directory, environment and
 * child process.  NULL (and a logged reason) on failure. */
static streaming_task *streaming_open(ember_task *t, streaming_role role, const char *command) {
    streaming_task *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->role = role;
    s->task = t;
    streaming_attempt(t, s->attempt, sizeof(s->attempt));
    long long timeout = streaming_conf_number(t, "mapreduce.task.timeout", 600000);
    int rc = timeout < 0 ? EMBER_ECONFIG : streaming_formats(s, t);
    char **env = NULL;
    char why[512] = "";
    if (rc == EMBER_OK)
        rc = streaming_env_make_dir(t, s->attempt, s->dir, sizeof(s->dir), why, sizeof(why));
    if (rc == EMBER_OK)
        rc = streaming_env_build(t, s->attempt, s->dir, &env);
    stream_process_options o = {.command = command,
                                .env = env,
                                .dir = s->dir,
                                .on_stdout = streaming_on_stdout,
                                .stdout_arg = s,
                                .on_stderr = streaming_on_stderr,
                                .stderr_arg = s,
                                .timeout_ms = timeout};
    if (rc == EMBER_OK)
        rc = stream_process_start(&o, &s->child);
    streaming_env_free(env);
    if (rc != EMBER_OK) {
        if (rc != EMBER_ECONFIG)
            LOG_ERROR("streaming: %s: cannot start '%s': %s", s->attempt, command,
                      why[0] ? why : ember_strerror(rc));
        streaming_free(s);
        return NULL;
    }
    return s;
}

/* Why rc (from writing to or finishing the child) fails the task, logged;
 * 0 when it does not. */
static int streaming_verdict(streaming_task *s, int rc, const stream_process_exit *ex) {
    if (ex != NULL && ex->code != 0) {
        if (!s->exit_failure) {
            LOG_WARN("streaming: %s: PipeMapRed.waitOutputThreads(): subprocess exited with code "
                     "%d",
                     s->attempt, ex->code);
            return 0;
        }
        LOG_ERROR("streaming: %s: PipeMapRed.waitOutputThreads(): subprocess failed with code %d%s",
                  s->attempt, ex->code, ex->signal ? " (killed by a signal)" : "");
        return 1;
    }
    if (rc == EMBER_OK)
        return 0;
    if (rc == EMBER_ECLOSED)
        LOG_ERROR("streaming: %s: the subprocess stopped reading its input: Broken pipe",
                  s->attempt);
    else if (rc == EMBER_ETIMEDOUT)
        LOG_ERROR("streaming: Task %s failed to report status for %lld seconds. Killing!",
                  s->attempt, streaming_conf_number(s->task, "mapreduce.task.timeout", 0) / 1000);
    else
        LOG_ERROR("streaming: %s: %s", s->attempt, ember_strerror(rc));
    return 1;
}

/* Ends the child: stdin closed, its output read to the end, reaped.  A
 * pipe the child closed at this point is only a warning (Hadoop's
 * mapRedFinished() logs it too); its exit code decides.  Frees s.
 * 0, or non-zero when the task fails. */
static int streaming_close(streaming_task *s) {
    stream_process_exit ex;
    int rc = stream_process_finish(s->child, &ex);
    int failed = rc == EMBER_OK || rc == EMBER_ECLOSED ? streaming_verdict(s, EMBER_OK, &ex)
                                                       : streaming_verdict(s, rc, NULL);
    if (s->role == STREAMING_REDUCE && s->late_lines > 0)
        ember_counter_add(s->task, MR_GROUP_TASK, "Reduce output records", (int64_t)s->late_lines);
    streaming_free(s);
    return failed;
}

/* A write to the child failed while records were still coming: the
 * task fails; when the child is gone its exit code says why. */
static int streaming_abort(streaming_task *s, int rc) {
    stream_process_exit ex = {0};
    if (rc == EMBER_ECLOSED) {
        int frc = stream_process_finish(s->child, &ex); /* reads what it said, reaps it */
        if (frc != EMBER_OK && frc != EMBER_ECLOSED)
            ex.code = 0;
    }
    if (ex.code == 0 || streaming_verdict(s, rc, &ex) == 0)
        streaming_verdict(s, rc, NULL); /* the write's own reason */
    streaming_free(s);
    return 1;
}

static int streaming_write_record(streaming_task *s, const void *key, size_t key_len,
                                  const void *value, size_t value_len) {
    int rc = EMBER_OK;
    char offset[24];
    if (s->write_key && s->key_offset && key_len == 8) {
        /* Hadoop writes a LongWritable offset in decimal. */
        const uint8_t *k = key;
        uint64_t n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | k[i];
        key_len = (size_t)snprintf(offset, sizeof(offset), "%llu", (unsigned long long)n);
        key = offset;
    }
    if (s->write_key) {
        rc = stream_process_write(s->child, key, key_len);
        if (rc == EMBER_OK)
            rc = stream_process_write(s->child, s->in_sep, s->in_sep_len);
    }
    if (rc == EMBER_OK)
        rc = stream_process_write(s->child, value, value_len);
    if (rc == EMBER_OK)
        rc = stream_process_write(s->child, "\n", 1);
    return rc;
}

static int streaming_setup(ember_task *t) {
    int map = ember_task_is_map(t);
    const char *command = ember_conf(t, map ? STREAMING_MAP_COMMAND : STREAMING_REDUCE_COMMAND);
    t->job_data = NULL;
    if (command == NULL && !map)
        return 0; /* no reducer: the identity reduce, nothing to run */
    if (command == NULL) {
        LOG_ERROR("streaming: %s is not set: no mapper command", STREAMING_MAP_COMMAND);
        return 1;
    }
    t->job_data = streaming_open(t, map ? STREAMING_MAP : STREAMING_REDUCE, command);
    return t->job_data == NULL;
}

static int streaming_cleanup(ember_task *t) {
    streaming_task *s = t->job_data;
    t->job_data = NULL;
    if (s == NULL)
        return 0;
    s->task = t;
    s->finishing = 1;
    return streaming_close(s);
}

static int streaming_map(ember_task *t, const void *key, size_t key_len, const void *value,
                         size_t value_len) {
    streaming_task *s = t->job_data;
    s->task = t;
    int rc = streaming_write_record(s, key, key_len, value, value_len);
    if (rc == EMBER_OK)
        return 0;
    t->job_data = NULL;
    return streaming_abort(s, rc);
}

/* Writes a group's values to the child, each as key SEP value. */
static int streaming_write_group(streaming_task *s, const void *key, size_t key_len,
                                 ember_values *values) {
    const void *v;
    size_t len;
    int rc = EMBER_OK;
    s->groups++;
    while (rc == EMBER_OK && ember_values_next(values, &v, &len))
        rc = streaming_write_record(s, key, key_len, v, len);
    return rc;
}

static int streaming_reduce(ember_task *t, const void *key, size_t key_len, ember_values *values) {
    streaming_task *s = t->job_data;
    s->task = t;
    int rc = streaming_write_group(s, key, key_len, values);
    if (rc == EMBER_OK)
        return 0;
    t->job_data = NULL;
    return streaming_abort(s, rc);
}

/* The combiner: a child per sorted stream (a partition of a spill or of
 * the merge), started on its first group, ended on its last. */
static int streaming_combine(ember_task *t, const void *key, size_t key_len, ember_values *values) {
    streaming_task *s = t->job_data;
    if (s == NULL || s->role != STREAMING_COMBINE) {
        const char *command = ember_conf(t, STREAMING_COMBINE_COMMAND);
        if (command == NULL) {
            LOG_ERROR("streaming: %s is not set: no combiner command", STREAMING_COMBINE_COMMAND);
            return 1;
        }
        if ((s = streaming_open(t, STREAMING_COMBINE, command)) == NULL)
            return 1;
        t->job_data = s;
    }
    s->task = t;
    int rc = streaming_write_group(s, key, key_len, values);
    if (rc == EMBER_OK && !mr_values_last_group(values))
        return 0;
    t->job_data = NULL;
    return rc == EMBER_OK ? streaming_close(s) : streaming_abort(s, rc);
}

#define STREAMING_JOB(r, c)                                                                        \
    {                                                                                              \
        .abi = EMBER_JOB_ABI, .name = "streaming", .map = streaming_map, .reduce = (r),            \
        .combine = (c), .setup = streaming_setup, .cleanup = streaming_cleanup                     \
    }

static const ember_job streaming_jobs[4] = {
    STREAMING_JOB(NULL, NULL),
    STREAMING_JOB(streaming_reduce, NULL),
    STREAMING_JOB(NULL, streaming_combine),
    STREAMING_JOB(streaming_reduce, streaming_combine),
};

int streaming_job_prepare(mr_conf *conf, const ember_job **job) {
    if (mr_conf_get(conf, STREAMING_MAP_COMMAND) == NULL)
        return EMBER_EINVAL;
    int rc = streaming_env_jobconf(conf);
    if (rc != EMBER_OK)
        return rc;
    int reduce = mr_conf_get(conf, STREAMING_REDUCE_COMMAND) != NULL;
    int combine = mr_conf_get(conf, STREAMING_COMBINE_COMMAND) != NULL;
    *job = &streaming_jobs[reduce + 2 * combine];
    return EMBER_OK;
}
