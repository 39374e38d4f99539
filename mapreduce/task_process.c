/* task_process.c -- see task_process.h. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "ember/client.h"
#include "streaming.h"
#include "task_block.h"
#include "task_process.h"
#include "task_runner.h"
#include "task_shuffle.h"

#define TASK_PROGRESS_MS 500
#define TASK_ASSIGNMENT_MS 60000
#define TASK_HISTORY_DIR "/ember/history"

typedef struct {
    umbilical *u;
    TaskMessage *assignment; /* the frame; a points into it */
    const TaskAssignment *a;
    mr_conf conf;
    mr_task_settings set;
    mr_fs fs;
    task_block blocks; /* fs.dfs's remote reads, through the worker */
    mr_counters counters;
    mr_job_lib lib;
    const ember_job *job;
    mr_task_ctx ctx;
    char work_dir[PATH_MAX];
    char err[2048];
    TaskPhase phase;
    float progress;
    int64_t reported_ms;
} task_proc;

static int task_fail(task_proc *t, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int task_fail(task_proc *t, int rc, const char *fmt, ...) {
    if (t->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->err, sizeof(t->err), fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The task's counters as protobuf (pointers into t->counters; the caller
 * frees the two arrays). */
static int task_counters(task_proc *t, Counter ***out, Counter **store, size_t *n) {
    *n = t->counters.n;
    *out = calloc(*n ? *n : 1, sizeof(**out));
    *store = calloc(*n ? *n : 1, sizeof(**store));
    if (*out == NULL || *store == NULL) {
        free(*out);
        free(*store);
        *n = 0;
        return EMBER_ENOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        counter__init(&(*store)[i]);
        (*store)[i].group = t->counters.v[i].group;
        (*store)[i].name = t->counters.v[i].name;
        (*store)[i].value = t->counters.v[i].value;
        (*out)[i] = &(*store)[i];
    }
    return EMBER_OK;
}

/* Sends TaskProgress when the phase changed, or force, or it is time. */
static void task_report(task_proc *t, TaskPhase phase, float progress, int force) {
    int64_t now = clock_monotonic_ms();
    int changed = phase != t->phase;
    t->phase = phase;
    t->progress = progress;
    if (!changed && !force && now - t->reported_ms < TASK_PROGRESS_MS)
        return;
    t->reported_ms = now;
    TaskProgress p = TASK_PROGRESS__INIT;
    p.phase = phase;
    p.progress = progress;
    Counter *store;
    if (task_counters(t, &p.counters, &store, &p.n_counters) != EMBER_OK)
        return;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_PROGRESS;
    m.progress = &p;
    umbilical_send(t->u, &m); /* a lost umbilical shows at the next read, or the watch */
    free(p.counters);
    free(store);
}

/* The engine's tick: how far the current phase is. */
static void task_on_tick(void *arg, double fraction) {
    task_proc *t = arg;
    const TaskAssignment *a = t->a;
    if (a->kind == TASK_KIND__TASK_KIND_MAP) {
        int sorting = fraction >= 1 && t->set.reduces > 0;
        task_report(t, sorting ? TASK_PHASE__PHASE_SORT : TASK_PHASE__PHASE_MAP,
                    (float)(sorting ? 0.9 : 0.9 * fraction), 0);
    } else if (a->kind == TASK_KIND__TASK_KIND_REDUCE) {
        task_report(t, TASK_PHASE__PHASE_REDUCE, (float)(2.0 / 3 + fraction / 3), 0);
    }
}

/* A reduce's merge passes (phase MERGE), then its reduce. */
static void task_on_merging(void *arg, int done) {
    task_proc *t = arg;
    if (done)
        task_report(t, TASK_PHASE__PHASE_REDUCE, (float)(2.0 / 3), 1);
    else
        task_report(t, TASK_PHASE__PHASE_MERGE, (float)(1.0 / 3), 0);
}

static void task_on_shuffle(void *arg, uint32_t done, uint32_t maps) {
    task_proc *t = arg;
    task_report(t, TASK_PHASE__PHASE_SHUFFLE, maps ? (float)done / (float)maps / 3 : 0, 0);
}

/* "file:/x", "file:///x" (local), "hdfs://host:port/x" or "/x" (HDFS). */
static int task_path(const char *uri, mr_path *out) {
    memset(out, 0, sizeof(*out));
    const char *p = uri;
    if (strncmp(uri, "file:", 5) == 0) {
        out->local = 1;
        p = uri + 5;
        while (p[0] == '/' && p[1] == '/')
            p++;
    } else if (strncmp(uri, "hdfs://", 7) == 0) {
        p = strchr(uri + 7, '/');
        if (p == NULL)
            p = "/";
    }
    if (p[0] != '/')
        return EMBER_EINVAL;
    int n = snprintf(out->path, sizeof(out->path), "%s", p);
    return n > 0 && (size_t)n < sizeof(out->path) ? EMBER_OK : EMBER_EINVAL;
}

/* Copies the file at uri (HDFS or file://) to work_dir/NAME (its base
 * name unless name is given); the local copy's path in out. */
static int task_copy_in(task_proc *t, const char *uri, const char *name, char *out, size_t len) {
    mr_path src;
    if (task_path(uri, &src) != EMBER_OK)
        return task_fail(t, EMBER_EINVAL, "bad path '%s'", uri);
    if (name == NULL)
        name = strrchr(src.path, '/') + 1;
    snprintf(out, len, "%s/%s", t->work_dir, name);
    mr_source *in;
    int rc = mr_fs_open(&t->fs, &src, &in);
    if (rc != EMBER_OK)
        return task_fail(t, rc, "cannot read %s: %s", uri, ember_strerror(rc));
    mr_sink *sink;
    if ((rc = mr_sink_local(out, &sink)) != EMBER_OK) {
        in->close(in);
        return task_fail(t, rc, "cannot create %s: %s", out, ember_strerror(rc));
    }
    uint8_t buf[65536];
    uint64_t off = 0;
    while (rc == EMBER_OK && off < in->size) {
        size_t want = in->size - off < sizeof(buf) ? (size_t)(in->size - off) : sizeof(buf);
        if ((rc = mr_source_read_full(in, buf, want, off)) == EMBER_OK)
            rc = sink->write(sink, buf, want);
        off += want;
    }
    in->close(in);
    if (rc == EMBER_OK)
        rc = sink->close(sink);
    else
        sink->abort(sink);
    if (rc == EMBER_OK)
        chmod(out, 0755);
    return rc != EMBER_OK ? task_fail(t, rc, "cannot copy %s: %s", uri, ember_strerror(rc)) : rc;
}

/* Streaming: job.files into the working directory, named in tmpfiles. */
static int task_streaming(task_proc *t) {
    const JobDescription *j = t->a->job;
    char *list = NULL;
    size_t used = 0;
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < j->n_files; i++) {
        char local[PATH_MAX];
        if ((rc = task_copy_in(t, j->files[i], NULL, local, sizeof(local))) != EMBER_OK)
            break;
        char *l = realloc(list, used + strlen(local) + 2);
        if (l == NULL) {
            rc = EMBER_ENOMEM;
            break;
        }
        list = l;
        used += (size_t)sprintf(list + used, "%s%s", used ? "," : "", local);
    }
    if (rc == EMBER_OK && list != NULL)
        rc = mr_conf_set(&t->conf, STREAMING_FILES, list);
    free(list);
    if (rc == EMBER_OK && (rc = streaming_job_prepare(&t->conf, &t->job)) != EMBER_OK)
        task_fail(t, rc, "streaming: %s",
                  rc == EMBER_EINVAL ? "no mapper command" : "out of memory");
    return rc;
}

/* The job: the staged library, or streaming. */
static int task_load_job(task_proc *t) {
    const char *lib = t->a->job->library;
    if (strcmp(lib, "builtin:streaming") == 0)
        return task_streaming(t);
    /* The driver's job may not be ember_job_define()'s (grep's search):
     * the client said where its struct is, and its name. */
    const char *at = mr_conf_get(&t->conf, "ember.job.offset");
    uint64_t offset = 0;
    char *end = NULL;
    if (at != NULL && (offset = strtoull(at, &end, 10), *at == '\0' || *end != '\0'))
        return task_fail(t, EMBER_EINVAL, "ember.job.offset: '%s' is not a number", at);
    char local[PATH_MAX];
    int rc = task_copy_in(t, lib, "job.so", local, sizeof(local));
    if (rc == EMBER_OK &&
        (rc = mr_job_lib_load_at(local, offset, mr_conf_get(&t->conf, "ember.job.name"), &t->lib,
                                 t->err, sizeof(t->err))) == EMBER_OK)
        t->job = t->lib.job;
    return rc;
}

/* The configuration: the job's, with this attempt's own keys (Hadoop's:
 * mapreduce.task.attempt.id, .task.id -- the attempt id without its
 * attempt number, task_... --, .task.partition, .task.ismap). */
static int task_configure(task_proc *t) {
    const TaskAssignment *a = t->a;
    int rc = EMBER_OK;
    char task_id[256], partition[16];
    const char *last = strrchr(a->attempt_id, '_');
    snprintf(task_id, sizeof(task_id), "task%.*s",
             last != NULL && strncmp(a->attempt_id, "attempt", 7) == 0
                 ? (int)(last - a->attempt_id - 7) : 0,
             a->attempt_id + 7);
    snprintf(partition, sizeof(partition), "%u", a->task_index);
    for (size_t i = 0; rc == EMBER_OK && i < a->job->n_conf; i++)
        rc = mr_conf_set(&t->conf, a->job->conf[i]->key, a->job->conf[i]->value);
    if (rc == EMBER_OK)
        rc = mr_conf_set(&t->conf, "mapreduce.job.id", a->job_id);
    if (rc == EMBER_OK)
        rc = mr_conf_set(&t->conf, "mapreduce.task.attempt.id", a->attempt_id);
    if (rc == EMBER_OK)
        rc = mr_conf_set(&t->conf, "mapreduce.task.id", task_id);
    if (rc == EMBER_OK)
        rc = mr_conf_set(&t->conf, "mapreduce.task.partition", partition);
    if (rc == EMBER_OK)
        rc = mr_conf_set(&t->conf, "mapreduce.task.ismap",
                         a->kind == TASK_KIND__TASK_KIND_MAP ? "true" : "false");
    if (rc == EMBER_OK)
        rc = mr_conf_set(&t->conf, "mapreduce.job.local.dir", t->work_dir);
    if (rc != EMBER_OK)
        return task_fail(t, rc, "configuration: %s", ember_strerror(rc));
    char reduces[16];
    snprintf(reduces, sizeof(reduces), "%u", a->job->reduces);
    if ((rc = mr_conf_set(&t->conf, "mapreduce.job.reduces", reduces)) != EMBER_OK)
        return task_fail(t, rc, "configuration: %s", ember_strerror(rc));
    return mr_task_settings_read(&t->conf, &t->set, t->err, sizeof(t->err));
}

/* The cluster's HDFS through the gateway, with the job's token. */
static int task_connect(task_proc *t) {
    const TaskAssignment *a = t->a;
    if (a->gateway_host == NULL || a->gateway_host[0] == '\0')
        return EMBER_OK; /* file:// paths only */
    ember_job_credentials cred = {.host = a->gateway_host,
                                  .port = (int)a->gateway_port,
                                  .job_id = a->job_id,
                                  .token = a->job_token.data,
                                  .token_len = a->job_token.len,
                                  .user = a->job->user};
    char why[512];
    int rc = ember_dfs_connect_job(&cred, &t->fs.dfs, why, sizeof(why));
    if (rc != EMBER_OK)
        return task_fail(t, rc, "cannot reach the cluster: %s", why);
    task_block_init(&t->blocks, t->u, t->fs.dfs); /* what is remote goes through the worker */
    /* Hadoop's client-side switch: off, every read goes through the worker */
    const char *sc = mr_conf_get(&t->conf, "dfs.client.read.shortcircuit");
    if (sc != NULL && strcasecmp(sc, "false") == 0)
        ember_dfs_set_short_circuit(t->fs.dfs, 0);
    return EMBER_OK;
}

/* Waits for the one answer to a request.  Map events (a reduce's long
 * poll, still out after its shuffle), late fetch answers and block
 * read-aheads nobody waits for are dropped;
 * anything else is a protocol error. */
static int task_await(task_proc *t, TaskMessage__BodyCase want, TaskMessage **out) {
    for (;;) {
        int fd;
        int got = umbilical_receive(t->u, -1, out, &fd);
        if (got < 0)
            return task_fail(t, got, "umbilical: %s",
                             got == EMBER_ECLOSED ? "the worker closed it" : ember_strerror(got));
        if (fd >= 0)
            close(fd);
        TaskMessage__BodyCase got_case = (*out)->body_case;
        if (got_case == want)
            return EMBER_OK;
        task_message__free_unpacked(*out, NULL);
        *out = NULL;
        if (got_case != TASK_MESSAGE__BODY_MAP_EVENTS &&
            got_case != TASK_MESSAGE__BODY_FETCH_RESPONSE &&
            got_case != TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE)
            return task_fail(t, EMBER_EPROTO,
                             "umbilical: unexpected message %d while waiting for %d", (int)got_case,
                             (int)want);
    }
}

/* Closes the part file and commits it if the worker allows. */
static int task_commit(task_proc *t, const mr_path *output, mr_task_part *p) {
    task_report(t, TASK_PHASE__PHASE_CLEANUP, 1, 1);
    int rc = mr_task_part_close(&t->ctx, p);
    TaskCommitRequest req = TASK_COMMIT_REQUEST__INIT;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_COMMIT_REQUEST;
    m.commit_request = &req;
    TaskMessage *answer = NULL;
    if (rc == EMBER_OK && (rc = umbilical_send(t->u, &m)) != EMBER_OK)
        task_fail(t, rc, "umbilical: cannot send: %s", ember_strerror(rc));
    if (rc == EMBER_OK)
        rc = task_await(t, TASK_MESSAGE__BODY_COMMIT_RESPONSE, &answer);
    if (rc == EMBER_OK && answer->commit_response->allowed)
        rc = mr_task_part_commit(&t->ctx, output, p);
    else
        mr_task_part_abort(&t->ctx, p);
    if (answer != NULL && !answer->commit_response->allowed)
        fprintf(stderr, "ember task: %s: commit refused (another attempt committed)\n",
                t->a->attempt_id);
    if (answer != NULL)
        task_message__free_unpacked(answer, NULL);
    return rc;
}

static int task_output(task_proc *t, mr_path *out) {
    return task_path(t->a->job->output, out) == EMBER_OK
               ? EMBER_OK
               : task_fail(t, EMBER_EINVAL, "bad output path '%s'", t->a->job->output);
}

static int task_map(task_proc *t) {
    const TaskAssignment *a = t->a;
    if (a->job->n_splits != 1)
        return task_fail(t, EMBER_EPROTO, "a map assignment needs one split, not %zu",
                         a->job->n_splits);
    const Split *sp = a->job->splits[0];
    mr_task_chunk *chunks = calloc(sp->n_chunks ? sp->n_chunks : 1, sizeof(*chunks));
    if (chunks == NULL)
        return EMBER_ENOMEM;
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < sp->n_chunks; i++) {
        if (task_path(sp->chunks[i]->uri, &chunks[i].path) != EMBER_OK)
            rc = task_fail(t, EMBER_EINVAL, "bad input path '%s'", sp->chunks[i]->uri);
        chunks[i].offset = sp->chunks[i]->offset;
        chunks[i].length = sp->chunks[i]->length;
        chunks[i].input = sp->chunks[i]->file_index;
    }
    kv_record gen = {sp->record_key.data, sp->record_key.len, sp->record_value.data,
                     sp->record_value.len};
    mr_task_input in = {.chunks = chunks,
                        .nchunks = sp->generated ? 0 : sp->n_chunks,
                        .generated = sp->generated ? &gen : NULL};
    task_report(t, TASK_PHASE__PHASE_MAP, 0, 1);
    mr_path output;
    if (rc == EMBER_OK && t->set.reduces == 0 && (rc = task_output(t, &output)) == EMBER_OK) {
        mr_task_part p;
        rc = mr_task_part_open(&t->ctx, &output, a->attempt_id, 'm', a->task_index, &p);
        if (rc == EMBER_OK && (rc = mr_task_map_to_part(&t->ctx, a->task_index, &in, &p)) == 0)
            rc = task_commit(t, &output, &p);
        else if (rc != EMBER_OK)
            mr_task_part_abort(&t->ctx, &p);
    } else if (rc == EMBER_OK) {
        mr_path dir = {.local = 1};
        if (a->output_dir == NULL || a->output_dir[0] != '/')
            rc = task_fail(t, EMBER_EPROTO, "the assignment names no output_dir");
        else if (snprintf(dir.path, sizeof(dir.path), "%s", a->output_dir) > 0 &&
                 (rc = mr_fs_mkdirs(&t->fs, &dir)) != EMBER_OK)
            task_fail(t, rc, "cannot create %s: %s", dir.path, ember_strerror(rc));
        if (rc == EMBER_OK)
            rc = mr_task_map_to_output(&t->ctx, a->task_index, &in, a->output_dir);
    }
    free(chunks);
    return rc;
}

static int task_reduce(task_proc *t) {
    const TaskAssignment *a = t->a;
    task_shuffle_options o = {.u = t->u,
                              .a = a,
                              .conf = &t->conf,
                              .work_dir = t->work_dir,
                              .counters = &t->counters,
                              .progress = task_on_shuffle,
                              .progress_arg = t};
    task_report(t, TASK_PHASE__PHASE_SHUFFLE, 0, 1);
    task_shuffle *s = NULL;
    mr_path output;
    int rc = task_output(t, &output);
    if (rc == EMBER_OK && (rc = task_shuffle_run(&o, &s, t->err, sizeof(t->err))) == EMBER_OK)
        task_report(t, TASK_PHASE__PHASE_MERGE, (float)(1.0 / 3), 1);
    mr_task_part p;
    if (rc == EMBER_OK)
        rc = mr_task_part_open(&t->ctx, &output, a->attempt_id, 'r', a->task_index, &p);
    if (rc == EMBER_OK) {
        int k;
        const merge_segment *segs = task_shuffle_segments(s, &k);
        mr_counters_add(&t->counters, MR_GROUP_TASK, "Merged Map outputs", k);
        rc = mr_task_reduce(&t->ctx, a->task_index, segs, k, t->work_dir, &p);
        if (rc == EMBER_OK)
            rc = task_commit(t, &output, &p);
        else
            mr_task_part_abort(&t->ctx, &p);
    }
    task_shuffle_free(s);
    return rc;
}

/* Writes the history record at DIR/JOBID.json. */
static int task_history(task_proc *t) {
    const TaskAssignment *a = t->a;
    if (a->history_json.len == 0)
        return EMBER_OK;
    const char *dir_uri = mr_conf_get(&t->conf, "mapreduce.jobhistory.done-dir");
    mr_path dir, file;
    int rc = task_path(dir_uri != NULL ? dir_uri : TASK_HISTORY_DIR, &dir);
    char name[300];
    snprintf(name, sizeof(name), "%s.json", a->job_id);
    if (rc == EMBER_OK)
        rc = mr_path_join(&dir, name, &file);
    if (rc == EMBER_OK)
        rc = mr_fs_mkdirs(&t->fs, &dir);
    mr_fs_delete(&t->fs, &file); /* a retried cleanup writes it again */
    mr_sink *sink;
    if (rc == EMBER_OK && (rc = mr_fs_create(&t->fs, &file, &sink)) == EMBER_OK) {
        rc = sink->write(sink, a->history_json.data, a->history_json.len);
        if (rc == EMBER_OK)
            rc = sink->close(sink);
        else
            sink->abort(sink);
    }
    return rc != EMBER_OK ? task_fail(t, rc, "cannot write the job history %s: %s", file.path,
                                      ember_strerror(rc))
                          : rc;
}

static int task_cleanup(task_proc *t) {
    const TaskAssignment *a = t->a;
    mr_path output;
    int rc = task_output(t, &output);
    task_report(t, TASK_PHASE__PHASE_CLEANUP, 0, 1);
    if (rc == EMBER_OK && a->commit)
        rc = mr_task_commit_job(&t->fs, &output, t->err, sizeof(t->err));
    else if (rc == EMBER_OK && a->remove_output && (rc = mr_fs_delete(&t->fs, &output)) != 0)
        task_fail(t, rc, "cannot remove %s: %s", a->job->output, ember_strerror(rc));
    if (rc == EMBER_OK)
        rc = task_history(t);
    const char *staging = a->job->staging_dir;
    mr_path sp;
    if (rc == EMBER_OK && staging != NULL && staging[0] != '\0') {
        if (task_path(staging, &sp) != EMBER_OK)
            rc = task_fail(t, EMBER_EINVAL, "bad staging path '%s'", staging);
        else if ((rc = mr_fs_delete(&t->fs, &sp)) != EMBER_OK)
            task_fail(t, rc, "cannot remove %s: %s", staging, ember_strerror(rc));
    }
    return rc;
}

static int task_setup(task_proc *t) {
    mr_path output;
    int rc = task_output(t, &output);
    task_report(t, TASK_PHASE__PHASE_CLEANUP, 0, 1);
    return rc == EMBER_OK ? mr_task_setup_job(&t->fs, &output, t->err, sizeof(t->err)) : rc;
}

/* Hello, then the assignment. */
static int task_handshake(task_proc *t, const char *path, const char *attempt_id) {
    int rc = umbilical_connect(path, &t->u);
    if (rc != EMBER_OK)
        return task_fail(t, rc, "cannot connect to the worker at %s: %s", path, ember_strerror(rc));
    if ((rc = umbilical_watch(t->u)) != EMBER_OK)
        return task_fail(t, rc, "cannot start the umbilical watch");
    TaskHello h = TASK_HELLO__INIT;
    h.attempt_id = (char *)attempt_id;
    h.pid = (uint32_t)getpid();
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_HELLO;
    m.hello = &h;
    if ((rc = umbilical_send(t->u, &m)) != EMBER_OK)
        return task_fail(t, rc, "umbilical: cannot send: %s", ember_strerror(rc));
    int fd;
    int got = umbilical_receive(t->u, TASK_ASSIGNMENT_MS, &t->assignment, &fd);
    if (fd >= 0)
        close(fd);
    if (got <= 0)
        return task_fail(t, got == 0 ? EMBER_ETIMEDOUT : got, "no assignment from the worker: %s",
                         got == 0 ? "timed out" : ember_strerror(got));
    if (t->assignment->body_case != TASK_MESSAGE__BODY_ASSIGNMENT ||
        strcmp(t->assignment->assignment->attempt_id, attempt_id) != 0)
        return task_fail(t, EMBER_EPROTO, "the worker's answer is not this attempt's assignment");
    t->a = t->assignment->assignment;
    return EMBER_OK;
}

/* The task's peak resident set in bytes, or -1 when /proc cannot tell:
 * its own high-water mark (VmHWM of /proc/self/status, which exec resets;
 * getrusage's ru_maxrss would keep the rank's that posix_spawn()ed this
 * process) plus the largest reaped child's (a streaming command), whose
 * ru_maxrss may count pages it shared with this process when spawned: an
 * upper bound of the process tree's peak, as Hadoop's counter covers the
 * task's process tree. */
static int64_t task_peak_rss(const struct rusage *children) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long long kib = -1;
    while (kib < 0 && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmHWM: %lld kB", &kib) != 1)
            kib = -1;
    fclose(f);
    return kib < 0 ? -1 : ((int64_t)kib + (int64_t)children->ru_maxrss) * 1024;
}

/* The last frame: TaskDone or TaskFailed. */
static int task_finish(task_proc *t, int rc) {
    if (t->u == NULL)
        return 1;
    mr_counters_add(&t->counters, MR_GROUP_FS, "FILE: Number of bytes read",
                    (int64_t)t->ctx.bytes_read[1]);
    mr_counters_add(&t->counters, MR_GROUP_FS, "FILE: Number of bytes written",
                    (int64_t)t->ctx.bytes_written[1]);
    mr_counters_add(&t->counters, MR_GROUP_FS, "HDFS: Number of bytes read",
                    (int64_t)t->ctx.bytes_read[0]);
    mr_counters_add(&t->counters, MR_GROUP_FS, "HDFS: Number of bytes written",
                    (int64_t)t->ctx.bytes_written[0]);
    if (t->fs.dfs != NULL)
        mr_counters_add(&t->counters, MR_GROUP_FS, MR_COUNTER_HDFS_THROUGH_WORKER,
                        (int64_t)t->blocks.bytes);
    struct rusage self, children;
    if (getrusage(RUSAGE_SELF, &self) == 0 && getrusage(RUSAGE_CHILDREN, &children) == 0) {
        int64_t us = (int64_t)self.ru_utime.tv_sec * 1000000 + self.ru_utime.tv_usec +
                     (int64_t)self.ru_stime.tv_sec * 1000000 + self.ru_stime.tv_usec +
                     (int64_t)children.ru_utime.tv_sec * 1000000 + children.ru_utime.tv_usec +
                     (int64_t)children.ru_stime.tv_sec * 1000000 + children.ru_stime.tv_usec;
        mr_counters_add(&t->counters, MR_GROUP_TASK, "CPU time spent (ms)", us / 1000);
        int kind = t->a != NULL ? (int)t->a->kind : 0;
        int64_t peak = task_peak_rss(&children);
        if (peak > 0 && (kind == TASK_KIND__TASK_KIND_MAP || kind == TASK_KIND__TASK_KIND_REDUCE))
            mr_counters_add(&t->counters, MR_GROUP_TASK,
                            kind == TASK_KIND__TASK_KIND_MAP ? MR_COUNTER_PEAK_MAP_RSS
                                                             : MR_COUNTER_PEAK_REDUCE_RSS,
                            peak);
    }
    Counter **counters, *store;
    size_t n = 0;
    task_counters(t, &counters, &store, &n);
    TaskMessage m = TASK_MESSAGE__INIT;
    TaskDone done = TASK_DONE__INIT;
    TaskFailed failed = TASK_FAILED__INIT;
    if (rc == EMBER_OK) {
        done.counters = counters;
        done.n_counters = n;
        struct stat st;
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/file.out", t->a->output_dir ? t->a->output_dir : "");
        if (t->a->kind == TASK_KIND__TASK_KIND_MAP && t->set.reduces > 0 && stat(path, &st) == 0)
            done.map_output_bytes = (uint64_t)st.st_size;
        m.body_case = TASK_MESSAGE__BODY_DONE;
        m.done = &done;
    } else {
        failed.diagnostic = t->err;
        failed.counters = counters;
        failed.n_counters = n;
        m.body_case = TASK_MESSAGE__BODY_FAILED;
        m.failed = &failed;
    }
    umbilical_finishing(t->u);
    int src = umbilical_send(t->u, &m);
    free(counters);
    free(store);
    return rc == EMBER_OK && src == EMBER_OK ? 0 : 1;
}

int task_process_main(const char *path, const char *attempt_id) {
    task_proc t = {.phase = TASK_PHASE__PHASE_STARTING};
    if (getcwd(t.work_dir, sizeof(t.work_dir)) == NULL)
        snprintf(t.work_dir, sizeof(t.work_dir), ".");
    int rc = task_handshake(&t, path, attempt_id);
    if (rc == EMBER_OK)
        rc = task_configure(&t);
    if (rc == EMBER_OK)
        rc = task_connect(&t);
    int kind = t.a != NULL ? (int)t.a->kind : 0;
    if (rc == EMBER_OK && (kind == TASK_KIND__TASK_KIND_MAP || kind == TASK_KIND__TASK_KIND_REDUCE))
        rc = task_load_job(&t);
    t.ctx = (mr_task_ctx){.job = t.job,
                          .conf = &t.conf,
                          .settings = &t.set,
                          .fs = &t.fs,
                          .counters = &t.counters,
                          .err = t.err,
                          .errlen = sizeof(t.err),
                          .tick = task_on_tick,
                          .tick_arg = &t,
                          .merging = task_on_merging};
    if (rc == EMBER_OK) {
        switch (kind) {
        case TASK_KIND__TASK_KIND_MAP: rc = task_map(&t); break;
        case TASK_KIND__TASK_KIND_REDUCE: rc = task_reduce(&t); break;
        case TASK_KIND__TASK_KIND_JOB_SETUP: rc = task_setup(&t); break;
        case TASK_KIND__TASK_KIND_JOB_CLEANUP: rc = task_cleanup(&t); break;
        default: rc = task_fail(&t, EMBER_EPROTO, "unknown task kind %d", kind);
        }
    }
    if (rc != EMBER_OK && t.err[0] == '\0')
        snprintf(t.err, sizeof(t.err), "%s", ember_strerror(rc));
    for (char *c = t.err; *c != '\0'; c++) /* a diagnostic is one line */
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    if (rc != EMBER_OK)
        fprintf(stderr, "ember task: %s: %s\n", attempt_id, t.err);
    int status = task_finish(&t, rc);
    umbilical_close(t.u);
    if (t.assignment != NULL)
        task_message__free_unpacked(t.assignment, NULL);
    ember_dfs_close(t.fs.dfs);
    mr_job_lib_close(&t.lib);
    mr_conf_free(&t.conf);
    mr_counters_free(&t.counters);
    return status;
}
