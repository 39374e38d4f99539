/* container.c -- task containers: launch, watch, time out, kill, clean
 * up (see container.h).
 *
 * The table owns the running containers, the memory-limit mode found
 * at start (a cgroup hierarchy, or RLIMIT_AS), the cgroups still to be
 * removed, and one repeating timer, the tick (every CONTAINER_TICK_MS
 * while any of those exists), which times attempts out, turns SIGTERM
 * into SIGKILL after the grace period, samples each child's peak
 * virtual size under RLIMIT_AS and retries cgroup removals.
 *
 * A container's states:
 *   RUNNING   spawned and watched by the loop; its progress clock runs.
 *   STOPPING  SIGTERM sent to its process group because it timed out or
 *             was killed on request (stop_reason says which); SIGKILL
 *             follows at kill_at_ms unless it is gone by then.
 * Transitions, each in one function: container_launch() -> RUNNING;
 * RUNNING -> STOPPING in container_stop(); RUNNING or STOPPING -> gone
 * in container_on_exit() (the loop reaped it) or at the table's
 * destruction.  container_check() asserts after each that a container
 * has a child, holds a booking of at least one unit, and that only a
 * STOPPING one has a stop reason or a SIGKILL sent.
 * Invariant of the table: every container in it is booked on its
 * worker and watched by the loop; once out of it, neither. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "container.h"
#include "container_cgroup.h"
#include "container_exec.h"

extern char **environ;

#define CONTAINER_TICK_MS 100
#define CONTAINER_CGROUP_RETRIES 50 /* ticks a cgroup removal is retried */

typedef enum {
    CONTAINER_RUNNING,  /* spawned, watched; the progress clock runs */
    CONTAINER_STOPPING, /* SIGTERM sent; SIGKILL at kill_at_ms */
} container_state;

typedef struct container {
    container_table *table;
    worker *w;
    char id[CONTAINER_ID_MAX + 1];
    container_state state;
    container_result stop_reason; /* STOPPING: TIMED_OUT or KILLED */
    pid_t pid;                    /* also its process group */
    uint32_t vcores;
    uint64_t memory_mb;
    placement_choice choice;
    int64_t started_ms, progress_ms, timeout_ms, kill_at_ms;
    int sigkill_sent;
    uint64_t peak_vm_bytes; /* RLIMIT_AS: the highest VmPeak sampled */
    char cgroup[PATH_MAX];  /* "" under RLIMIT_AS */
    char work_dir[PATH_MAX], log_dir[PATH_MAX], record[PATH_MAX];
    container_done_cb cb;
    void *arg;
} container;

typedef struct {
    char path[PATH_MAX];
    int tries;
} container_pending_cgroup;

struct container_table {
    event_loop *loop;
    char *run_dir;
    int64_t kill_grace_ms;
    container_cgroups cg; /* version 0: RLIMIT_AS */
    char wrapper[PATH_MAX];
    char limit_kind[640];
    container **items;
    size_t count, cap;
    container_pending_cgroup *pending;
    size_t npending, pending_cap;
    uint64_t timer;
    int timer_on;
};

static void container_check(const container *c) {
    assert(c->pid > 0);
    assert(c->choice.count >= 1 && c->vcores >= 1);
    assert(c->state == CONTAINER_STOPPING ||
           (c->stop_reason == CONTAINER_SUCCEEDED && !c->sigkill_sent));
    assert(c->state == CONTAINER_RUNNING || c->stop_reason == CONTAINER_TIMED_OUT ||
           c->stop_reason == CONTAINER_KILLED);
    (void)c;
}

const char *container_result_name(container_result r) {
    switch (r) {
    case CONTAINER_SUCCEEDED: return "succeeded";
    case CONTAINER_EXITED: return "exited";
    case CONTAINER_SIGNALED: return "signaled";
    case CONTAINER_MEMORY_EXCEEDED: return "memory exceeded";
    case CONTAINER_TIMED_OUT: return "timed out";
    case CONTAINER_KILLED: return "killed";
    }
    return "unknown";
}

/* ---- the table ------------------------------------------------------- */

int container_table_create(event_loop *loop, const char *run_dir, int64_t kill_grace_ms,
                           const container_options *opts, container_table **out) {
    container_options none = {0};
    if (opts == NULL)
        opts = &none;
    container_table *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->run_dir = strdup(run_dir)) == NULL) {
        free(t);
        return EMBER_ENOMEM;
    }
    t->loop = loop;
    t->kill_grace_ms = kill_grace_ms < 0 ? 0 : kill_grace_ms;
    snprintf(t->wrapper, sizeof(t->wrapper), "%s",
             opts->wrapper != NULL ? opts->wrapper : "/proc/self/exe");
    if (opts->no_cgroup) {
        snprintf(t->cg.why, sizeof(t->cg.why), "cgroups turned off");
    } else {
        container_cgroup_probe(opts->cgroup_root ? opts->cgroup_root : "/sys/fs/cgroup",
                               opts->self_cgroup ? opts->self_cgroup : "/proc/self/cgroup", &t->cg);
    }
    if (t->cg.version != 0)
        snprintf(t->limit_kind, sizeof(t->limit_kind), "memory cgroup (v%d) under %s",
                 t->cg.version, t->cg.base);
    else
        snprintf(t->limit_kind, sizeof(t->limit_kind), "RLIMIT_AS (no memory cgroup: %s)",
                 t->cg.why);
    LOG_INFO("worker: containers' memory is limited by %s", t->limit_kind);
    *out = t;
    return EMBER_OK;
}

static container *container_find(container_table *t, const char *id) {
    for (size_t i = 0; t != NULL && i < t->count; i++)
        if (strcmp(t->items[i]->id, id) == 0)
            return t->items[i];
    return NULL;
}

static void container_forget(container_table *t, const container *c) {
    for (size_t i = 0; i < t->count; i++) {
        if (t->items[i] == c) {
            t->items[i] = t->items[--t->count];
            return;
        }
    }
}

static void container_tick(event_loop *loop, void *arg);

/* The tick runs while a container runs or a cgroup waits for removal. */
static void container_timer_update(container_table *t) {
    int want = t->count > 0 || t->npending > 0;
    if (want && !t->timer_on) {
        if (event_loop_add_timer(t->loop, CONTAINER_TICK_MS, container_tick, t, &t->timer) ==
            EMBER_OK)
            t->timer_on = 1;
        else
            LOG_WARN("worker: no container timer: timeouts and kills wait");
    } else if (!want && t->timer_on) {
        event_loop_remove_timer(t->loop, t->timer);
        t->timer_on = 0;
    }
}

/* Kills what is left in a cgroup and removes it; keeps it for the tick
 * to retry while the kernel still empties it. */
static void container_remove_cgroup(container_table *t, const char *path) {
    if (container_cgroup_remove(path) != EMBER_EAGAIN)
        return;
    if (t->npending == t->pending_cap) {
        size_t ncap = t->pending_cap ? t->pending_cap * 2 : 4;
        container_pending_cgroup *p = realloc(t->pending, ncap * sizeof(*p));
        if (p == NULL) {
            LOG_WARN("worker: cgroup %s is left behind (out of memory)", path);
            return;
        }
        t->pending = p;
        t->pending_cap = ncap;
    }
    snprintf(t->pending[t->npending].path, PATH_MAX, "%s", path);
    t->pending[t->npending++].tries = 0;
}

static void container_retry_cgroups(container_table *t) {
    size_t j = 0;
    for (size_t i = 0; i < t->npending; i++) {
        container_pending_cgroup *p = &t->pending[i];
        int rc = container_cgroup_remove(p->path);
        if (rc == EMBER_EAGAIN && ++p->tries < CONTAINER_CGROUP_RETRIES) {
            t->pending[j++] = *p;
            continue;
        }
        if (rc != EMBER_OK)
            LOG_WARN("worker: cannot remove cgroup %s: %s", p->path,
                     rc == EMBER_EAGAIN ? "processes are still in it" : strerror(errno));
    }
    t->npending = j;
}

/* ---- the record ------------------------------------------------------ */

/* One key=value line; a value never spans lines. */
static void record_put(FILE *f, const char *key, const char *value) {
    fprintf(f, "%s=", key);
    for (const char *p = value; *p != '\0'; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
    fputc('\n', f);
}

static void record_put_int(FILE *f, const char *key, int64_t value) {
    fprintf(f, "%s=%" PRId64 "\n", key, value);
}

/* The command as one line; words with blanks or quotes in single quotes. */
static void container_command_text(char *const *argv, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; argv[i] != NULL && used < len; i++) {
        int quote = argv[i][0] == '\0' || strpbrk(argv[i], " \t'\"") != NULL;
        used += (size_t)snprintf(buf + used, len - used, "%s%s%s%s", i ? " " : "", quote ? "'" : "",
                                 argv[i], quote ? "'" : "");
    }
}

static void container_write_record(const container_table *t, const container *c,
                                   const container_spec *spec) {
    FILE *f = fopen(c->record, "we");
    if (f == NULL) {
        LOG_WARN("container %s: cannot write its record %s: %s", c->id, c->record, strerror(errno));
        return;
    }
    char text[4096], path[PATH_MAX + 16];
    record_put(f, "attempt", c->id);
    record_put_int(f, "pid", c->pid);
    container_command_text(spec->argv, text, sizeof(text));
    record_put(f, "command", text);
    record_put(f, "work_dir", c->work_dir);
    snprintf(path, sizeof(path), "%s/stdout", c->log_dir);
    record_put(f, "stdout", path);
    snprintf(path, sizeof(path), "%s/stderr", c->log_dir);
    record_put(f, "stderr", path);
    record_put_int(f, "vcores", c->vcores);
    record_put_int(f, "memory_mb", (int64_t)c->memory_mb);
    record_put(f, "cpuset", c->choice.pus);
    if (worker_unbound_why(c->w) != NULL)
        record_put(f, "not_bound", worker_unbound_why(c->w));
    record_put(f, "units", c->choice.units_text);
    record_put(f, "placement", c->choice.reason);
    record_put(f, "memory_limit",
               t->cg.version == 1   ? "cgroup-v1"
               : t->cg.version == 2 ? "cgroup-v2"
                                    : "rlimit-as");
    record_put_int(f, "memory_limit_bytes", (int64_t)(c->memory_mb << 20));
    if (c->cgroup[0] != '\0')
        record_put(f, "cgroup", c->cgroup);
    else
        record_put(f, "no_cgroup", t->cg.why);
    record_put_int(f, "progress_timeout_ms", c->timeout_ms);
    record_put_int(f, "started", clock_wall_ms());
    fclose(f);
}

static void container_append_outcome(const container *c, const container_outcome *o) {
    FILE *f = fopen(c->record, "ae");
    if (f == NULL)
        return;
    record_put(f, "result", container_result_name(o->result));
    record_put(f, "outcome", o->reason);
    record_put_int(f, "exit_code", o->exit_code);
    record_put_int(f, "signal", o->signal);
    record_put_int(f, "elapsed_ms", o->elapsed_ms);
    record_put_int(f, "finished", clock_wall_ms());
    fclose(f);
}

/* ---- how it ended ---------------------------------------------------- */

/* Under RLIMIT_AS: the command's VmPeak now, in bytes; 0 when unknown
 * or while the wrapper still runs (its own peak is not the command's:
 * exec starts a new one).  The command line is read first: once it is
 * not the wrapper's any more, the status read after it is the
 * command's. */
static uint64_t container_vm_peak(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *arg = line; /* argv[0] "ember", argv[1] "task", argv[2] "--exec-wrapper" */
    for (int i = 0; i < 2 && arg < line + n; i++)
        arg += strlen(arg) + 1;
    if (arg < line + n && strcmp(arg, "--exec-wrapper") == 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    uint64_t kb = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmPeak:", 7) == 0)
            kb = strtoull(line + 7, NULL, 10);
    fclose(f);
    return kb << 10;
}

/* Whether a container that failed went over its memory: the cgroup's
 * OOM killer killed one of its processes, or under RLIMIT_AS its peak
 * virtual size (sampled each tick) reached 90% of the limit -- an
 * allocation past the limit fails, and the child dies of that. */
static int container_memory_exceeded(const container_table *t, const container *c) {
    if (c->cgroup[0] != '\0')
        return container_cgroup_oom_kills(&t->cg, c->cgroup) > 0;
    uint64_t limit = c->memory_mb << 20;
    return c->peak_vm_bytes >= limit - limit / 10;
}

/* Fills *o (reason in buf) for a container that ended with status. */
static void container_judge(const container_table *t, const container *c, int status,
                            container_outcome *o, char *buf, size_t len) {
    *o = (container_outcome){.attempt_id = c->id, .pid = c->pid, .exit_code = -1, .reason = buf};
    o->elapsed_ms = clock_monotonic_ms() - c->started_ms;
    if (status != -1 && WIFEXITED(status))
        o->exit_code = WEXITSTATUS(status);
    else if (status != -1 && WIFSIGNALED(status))
        o->signal = WTERMSIG(status);
    char how[96];
    if (o->signal != 0)
        snprintf(how, sizeof(how), "killed by signal %d (%s)", o->signal, strsignal(o->signal));
    else if (o->exit_code >= 0)
        snprintf(how, sizeof(how), "exit code %d", o->exit_code);
    else
        snprintf(how, sizeof(how), "reaped by someone else");
    if (c->state == CONTAINER_STOPPING) {
        o->result = c->stop_reason;
        if (o->result == CONTAINER_TIMED_OUT)
            snprintf(buf, len, "timed out: no progress for %" PRId64 " ms; %s", c->timeout_ms, how);
        else
            snprintf(buf, len, "killed on request; %s", how);
    } else if (o->exit_code == 0) {
        o->result = CONTAINER_SUCCEEDED;
        snprintf(buf, len, "succeeded");
    } else if (container_memory_exceeded(t, c)) {
        o->result = CONTAINER_MEMORY_EXCEEDED;
        if (c->cgroup[0] != '\0')
            snprintf(buf, len,
                     "memory exceeded: over its %" PRIu64 " MB limit, the kernel's OOM killer "
                     "ended it (memory cgroup); %s",
                     c->memory_mb, how);
        else
            snprintf(buf, len,
                     "memory exceeded: reached %" PRIu64 " MB of its %" PRIu64
                     " MB limit (RLIMIT_AS) and failed; %s",
                     c->peak_vm_bytes >> 20, c->memory_mb, how);
    } else {
        o->result = o->signal != 0 ? CONTAINER_SIGNALED : CONTAINER_EXITED;
        snprintf(buf, len, "%s", how);
    }
}

/* Everything a container holds, given back: what is left of its
 * process group and cgroup killed, the cgroup removed, its booking. */
static void container_release(container_table *t, container *c) {
    kill(-c->pid, SIGKILL); /* stragglers of its group; ESRCH when none */
    if (c->cgroup[0] != '\0')
        container_remove_cgroup(t, c->cgroup);
    if (worker_container_unbook(c->w, c->vcores, c->memory_mb, &c->choice) != EMBER_OK)
        LOG_ERROR("container %s: its booking was lost", c->id);
}

/* The loop reaped the child: RUNNING or STOPPING -> gone. */
static void container_on_exit(event_loop *loop, pid_t pid, int status, void *arg) {
    (void)loop;
    (void)pid;
    container *c = arg;
    container_table *t = c->table;
    container_check(c);
    container_outcome o;
    char reason[512];
    container_judge(t, c, status, &o, reason, sizeof(reason));
    container_forget(t, c);
    container_release(t, c);
    container_append_outcome(c, &o);
    if (o.result == CONTAINER_SUCCEEDED)
        LOG_INFO("container %s (pid %ld): %s", c->id, (long)c->pid, reason);
    else
        LOG_WARN("container %s (pid %ld): %s", c->id, (long)c->pid, reason);
    container_timer_update(t);
    if (c->cb != NULL)
        c->cb(c->w, &o, c->arg);
    free(c);
}

/* RUNNING -> STOPPING: SIGTERM to the group now, SIGKILL after the grace. */
static void container_stop(container *c, container_result why, int64_t now) {
    c->state = CONTAINER_STOPPING;
    c->stop_reason = why;
    c->kill_at_ms = now + c->table->kill_grace_ms;
    LOG_INFO("container %s (pid %ld): %s; SIGTERM to its processes", c->id, (long)c->pid,
             why == CONTAINER_TIMED_OUT ? "no progress within its timeout" : "killed on request");
    kill(-c->pid, SIGTERM);
    if (c->table->kill_grace_ms == 0) {
        kill(-c->pid, SIGKILL);
        c->sigkill_sent = 1;
    }
    container_check(c);
}

static void container_tick(event_loop *loop, void *arg) {
    (void)loop;
    container_table *t = arg;
    int64_t now = clock_monotonic_ms();
    for (size_t i = 0; i < t->count; i++) {
        container *c = t->items[i];
        if (c->cgroup[0] == '\0') {
            uint64_t peak = container_vm_peak(c->pid);
            if (peak > c->peak_vm_bytes)
                c->peak_vm_bytes = peak;
        }
        if (c->state == CONTAINER_RUNNING && c->timeout_ms > 0 &&
            now - c->progress_ms >= c->timeout_ms)
            container_stop(c, CONTAINER_TIMED_OUT, now);
        if (c->state == CONTAINER_STOPPING && !c->sigkill_sent && now >= c->kill_at_ms) {
            LOG_INFO("container %s (pid %ld): still there after %" PRId64 " ms; SIGKILL", c->id,
                     (long)c->pid, t->kill_grace_ms);
            kill(-c->pid, SIGKILL);
            c->sigkill_sent = 1;
        }
    }
    container_retry_cgroups(t);
    container_timer_update(t);
}

/* ---- launching ------------------------------------------------------- */

static int container_valid_id(const char *id) {
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > CONTAINER_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int container_check_spec(const container_table *t, const container_spec *s, char *err,
                                size_t errlen) {
    if (t == NULL)
        snprintf(err, errlen, "this worker runs no containers (it has no event loop)");
    else if (!container_valid_id(s->attempt_id))
        snprintf(err, errlen, "'%s' is no attempt id (1-%d letters, digits, '_', '.', '-')",
                 s->attempt_id != NULL ? s->attempt_id : "", CONTAINER_ID_MAX);
    else if (s->argv == NULL || s->argv[0] == NULL || s->argv[0][0] == '\0')
        snprintf(err, errlen, "container %s has no command", s->attempt_id);
    else if (s->vcores == 0 || s->memory_mb == 0 || s->memory_mb > (UINT64_MAX >> 21))
        snprintf(err, errlen, "container %s needs at least 1 vcore and 1 MB", s->attempt_id);
    else if (s->progress_timeout_ms < 0)
        snprintf(err, errlen, "container %s: a negative timeout", s->attempt_id);
    else
        return EMBER_OK;
    return EMBER_EINVAL;
}

/* Creates dir; EEXIST is an error when fresh, fine otherwise. */
static int container_mkdir(const char *dir, int fresh, char *err, size_t errlen) {
    if (mkdir(dir, 0755) == 0 || (!fresh && errno == EEXIST))
        return EMBER_OK;
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return errno == EEXIST ? EMBER_EEXIST : EMBER_EIO;
}

/* RUN_DIR/containers/<id>/ and RUN_DIR/logs/containers/<id>/. */
static int container_make_dirs(const container_table *t, container *c, char *err, size_t len) {
    char dir[PATH_MAX];
    const char *parents[] = {"containers", "logs", "logs/containers"};
    for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
        snprintf(dir, sizeof(dir), "%s/%s", t->run_dir, parents[i]);
        int rc = container_mkdir(dir, 0, err, len);
        if (rc != EMBER_OK)
            return rc;
    }
    if (snprintf(c->work_dir, sizeof(c->work_dir), "%s/containers/%s", t->run_dir, c->id) >=
            (int)sizeof(c->work_dir) ||
        snprintf(c->log_dir, sizeof(c->log_dir), "%s/logs/containers/%s", t->run_dir, c->id) >=
            (int)sizeof(c->log_dir)) {
        snprintf(err, len, "the run directory's path is too long");
        return EMBER_EINVAL;
    }
    snprintf(c->record, sizeof(c->record), "%s/record", c->work_dir);
    int rc = container_mkdir(c->work_dir, 1, err, len);
    if (rc == EMBER_EEXIST)
        snprintf(err, len, "attempt %s already ran on this node (%s exists)", c->id, c->work_dir);
    if (rc != EMBER_OK)
        return rc;
    rc = container_mkdir(c->log_dir, 1, err, len);
    if (rc != EMBER_OK)
        rmdir(c->work_dir);
    return rc;
}

/* Undoes container_make_dirs() after a launch that failed. */
static void container_remove_dirs(const container *c) {
    char path[PATH_MAX + 16];
    const char *logs[] = {"stdout", "stderr"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", c->log_dir, logs[i]);
        unlink(path);
    }
    unlink(c->record);
    rmdir(c->log_dir);
    rmdir(c->work_dir);
}

/* 1 when entry ("KEY=..."), or key itself, names a variable already in
 * list[0..n). */
static int container_env_has(char **list, size_t n, const char *entry) {
    size_t klen = strcspn(entry, "=");
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i], entry, klen) == 0 && list[i][klen] == '=')
            return 1;
    return 0;
}

/* The command's environment, in *out (the caller frees each string and
 * the array): the container's own variables (CONTAINER_ID, PWD,
 * LOG_DIRS, as YARN sets them), then spec->env, then the rank's minus
 * Open MPI's (OMPI_*, PMIX_*, OPAL_*: a child is no rank). */
static int container_build_env(const container *c, const container_spec *spec, char ***out,
                               char *err, size_t errlen) {
    size_t n = 0, m = 0;
    while (environ[n] != NULL)
        n++;
    while (spec->env != NULL && spec->env[m] != NULL)
        m++;
    char **env = calloc(n + m + 4, sizeof(*env));
    if (env == NULL)
        return EMBER_ENOMEM;
    size_t k = 0;
    int rc = EMBER_OK;
    if (asprintf(&env[k++], "CONTAINER_ID=%s", c->id) < 0 ||
        asprintf(&env[k++], "PWD=%s", c->work_dir) < 0 ||
        asprintf(&env[k++], "LOG_DIRS=%s", c->log_dir) < 0)
        rc = EMBER_ENOMEM;
    for (size_t i = 0; rc == EMBER_OK && i < m; i++) {
        const char *e = spec->env[i];
        if (e[0] == '=' || strchr(e, '=') == NULL) {
            snprintf(err, errlen, "container %s: '%s' is no KEY=VALUE", c->id, e);
            rc = EMBER_EINVAL;
        } else if (!container_env_has(env, k, e) && (env[k++] = strdup(e)) == NULL) {
            rc = EMBER_ENOMEM;
        }
    }
    for (size_t i = 0; rc == EMBER_OK && i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, "OMPI_", 5) == 0 || strncmp(e, "PMIX_", 5) == 0 ||
            strncmp(e, "OPAL_", 5) == 0 || strchr(e, '=') == NULL || container_env_has(env, k, e))
            continue;
        if ((env[k++] = strdup(e)) == NULL)
            rc = EMBER_ENOMEM;
    }
    if (rc != EMBER_OK) {
        for (size_t i = 0; i < k; i++)
            free(env[i]);
        free(env);
        return rc;
    }
    *out = env;
    return EMBER_OK;
}

/* posix_spawn()s the wrapper for c: stdin /dev/null, stdout and stderr
 * to the log files, the working directory, no other descriptor of the
 * rank, default signal handling and an empty mask (the loop blocks the
 * signals it takes), its own process group. */
static int container_spawn(const container_table *t, container *c, char **argv, char **envp,
                           char *err, size_t errlen) {
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    snprintf(out_path, sizeof(out_path), "%s/stdout", c->log_dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", c->log_dir);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        goto done;
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        goto done;
    }
    const int wr = O_WRONLY | O_CREAT | O_TRUNC;
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 1, out_path, wr, 0644)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 2, err_path, wr, 0644)) == 0 &&
        (rc = posix_spawn_file_actions_addchdir_np(&fa, c->work_dir)) == 0 &&
        (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
        (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
        (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
        (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                POSIX_SPAWN_SETPGROUP)) == 0)
        rc = posix_spawn(&c->pid, t->wrapper, &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
done:
    if (rc != 0)
        snprintf(err, errlen, "cannot start container %s (%s): %s", c->id, t->wrapper,
                 strerror(rc));
    return rc == 0 ? EMBER_OK : EMBER_EIO;
}

/* Builds the wrapper's plan and environment and spawns it. */
static int container_start(container_table *t, container *c, const container_spec *spec, char *err,
                           size_t errlen) {
    char procs[PATH_MAX + 16];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", c->cgroup);
    container_exec_plan plan = {.parent = getpid(),
                                .cpus = worker_unbound_why(c->w) == NULL ? c->choice.pus : NULL,
                                .cgroup_procs = c->cgroup[0] != '\0' ? procs : NULL,
                                .rlimit_as = c->cgroup[0] != '\0' ? 0 : c->memory_mb << 20,
                                .argv = spec->argv};
    char **argv = NULL, **envp = NULL;
    int rc = container_exec_argv(&plan, &argv);
    if (rc == EMBER_OK)
        rc = container_build_env(c, spec, &envp, err, errlen);
    if (rc == EMBER_OK)
        rc = container_spawn(t, c, argv, envp, err, errlen);
    else if (rc == EMBER_ENOMEM)
        snprintf(err, errlen, "out of memory");
    container_exec_argv_free(argv);
    container_exec_argv_free(envp);
    return rc;
}

int container_launch(worker *w, const container_spec *spec, container_done_cb cb, void *arg,
                     char *err, size_t errlen) {
    container_table *t = worker_containers(w);
    int rc = container_check_spec(t, spec, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (container_find(t, spec->attempt_id) != NULL) {
        snprintf(err, errlen, "attempt %s already runs on this node", spec->attempt_id);
        return EMBER_EEXIST;
    }
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        container **items = realloc(t->items, ncap * sizeof(*items));
        if (items == NULL) {
            snprintf(err, errlen, "out of memory");
            return EMBER_ENOMEM;
        }
        t->items = items;
        t->cap = ncap;
    }
    container *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    *c = (container){.table = t,
                     .w = w,
                     .vcores = spec->vcores,
                     .memory_mb = spec->memory_mb,
                     .timeout_ms = spec->progress_timeout_ms,
                     .cb = cb,
                     .arg = arg};
    snprintf(c->id, sizeof(c->id), "%s", spec->attempt_id);
    int dirs = 0, booked = 0;
    if ((rc = container_make_dirs(t, c, err, errlen)) != EMBER_OK)
        goto fail;
    dirs = 1;
    rc = worker_container_book(w, spec->vcores, spec->memory_mb, spec->hint, &c->choice);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "no room for container %s (%u vcores, %" PRIu64 " MB) on this node",
                 c->id, spec->vcores, spec->memory_mb);
        goto fail;
    }
    booked = 1;
    if (t->cg.version != 0 &&
        (rc = container_cgroup_create(&t->cg, c->id, c->memory_mb << 20, c->cgroup,
                                      sizeof(c->cgroup), err, errlen)) != EMBER_OK) {
        if (rc == EMBER_EEXIST)
            snprintf(err, errlen, "attempt %s already runs on this host (cgroup %s/%s)", c->id,
                     t->cg.base, c->id);
        c->cgroup[0] = '\0';
        goto fail;
    }
    if ((rc = container_start(t, c, spec, err, errlen)) != EMBER_OK)
        goto fail;
    if ((rc = event_loop_watch_child(t->loop, c->pid, container_on_exit, c)) != EMBER_OK) {
        snprintf(err, errlen, "cannot watch container %s: %s", c->id, ember_strerror(rc));
        kill(-c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goto fail;
    }
    c->started_ms = c->progress_ms = clock_monotonic_ms();
    t->items[t->count++] = c;
    container_write_record(t, c, spec);
    container_check(c);
    container_timer_update(t);
    LOG_INFO("container %s: pid %ld, %s, memory %" PRIu64 " MB (%s)", c->id, (long)c->pid,
             c->choice.reason, c->memory_mb, c->cgroup[0] != '\0' ? "cgroup" : "RLIMIT_AS");
    return EMBER_OK;
fail:
    if (c->cgroup[0] != '\0')
        container_remove_cgroup(t, c->cgroup);
    if (booked)
        worker_container_unbook(w, c->vcores, c->memory_mb, &c->choice);
    if (dirs)
        container_remove_dirs(c);
    free(c);
    container_timer_update(t);
    return rc;
}

/* ---- requests -------------------------------------------------------- */

int container_progress(worker *w, const char *attempt_id) {
    container *c = container_find(worker_containers(w), attempt_id);
    if (c == NULL)
        return EMBER_ENOENT;
    c->progress_ms = clock_monotonic_ms();
    return EMBER_OK;
}

int container_kill(worker *w, const char *attempt_id) {
    container *c = container_find(worker_containers(w), attempt_id);
    if (c == NULL)
        return EMBER_ENOENT;
    if (c->state == CONTAINER_RUNNING)
        container_stop(c, CONTAINER_KILLED, clock_monotonic_ms());
    return EMBER_OK;
}

int container_get_info(worker *w, const char *attempt_id, container_info *out) {
    container *c = container_find(worker_containers(w), attempt_id);
    if (c == NULL)
        return EMBER_ENOENT;
    memset(out, 0, sizeof(*out));
    out->pid = c->pid;
    out->choice = c->choice;
    out->limit_cgroup = c->cgroup[0] != '\0';
    snprintf(out->cgroup, sizeof(out->cgroup), "%s", c->cgroup);
    snprintf(out->work_dir, sizeof(out->work_dir), "%s", c->work_dir);
    snprintf(out->record, sizeof(out->record), "%s", c->record);
    out->stopping = c->state == CONTAINER_STOPPING;
    return EMBER_OK;
}

size_t container_count(worker *w) {
    container_table *t = worker_containers(w);
    return t != NULL ? t->count : 0;
}

const char *container_memory_limit_kind(worker *w) {
    container_table *t = worker_containers(w);
    return t != NULL ? t->limit_kind : "none (the worker runs no containers)";
}

/* ---- the end --------------------------------------------------------- */

/* Waits (polling) until every child in c[0..n) with reaped[i] == 0 is
 * reaped, or until deadline_ms; returns how many are left. */
static size_t container_reap_until(container **c, int *reaped, size_t n, int64_t deadline_ms) {
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            if (!reaped[i] && !(reaped[i] = waitpid(c[i]->pid, NULL, WNOHANG) == c[i]->pid))
                left++;
        if (left == 0 || clock_monotonic_ms() >= deadline_ms)
            return left;
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
}

void container_table_destroy(container_table *t) {
    if (t == NULL)
        return;
    int *reaped = calloc(t->count + 1, sizeof(*reaped));
    for (size_t i = 0; i < t->count; i++) {
        event_loop_unwatch_child(t->loop, t->items[i]->pid);
        kill(-t->items[i]->pid, SIGTERM);
        LOG_INFO("container %s (pid %ld): the worker stops; SIGTERM to its processes",
                 t->items[i]->id, (long)t->items[i]->pid);
    }
    if (reaped != NULL &&
        container_reap_until(t->items, reaped, t->count, clock_monotonic_ms() + t->kill_grace_ms))
        container_reap_until(t->items, reaped, t->count, 0); /* one more look */
    for (size_t i = 0; i < t->count; i++) {
        container *c = t->items[i];
        if (reaped == NULL || !reaped[i]) {
            kill(-c->pid, SIGKILL);
            while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        container_release(t, c);
        container_outcome o = {.attempt_id = c->id,
                               .result = CONTAINER_KILLED,
                               .pid = c->pid,
                               .exit_code = -1,
                               .reason = "killed: the worker stopped",
                               .elapsed_ms = clock_monotonic_ms() - c->started_ms};
        container_append_outcome(c, &o);
        free(c);
    }
    free(reaped);
    t->count = 0;
    /* The kernel may take a moment to empty a cgroup: wait a little. */
    for (int i = 0; i < CONTAINER_CGROUP_RETRIES && t->npending > 0; i++) {
        container_retry_cgroups(t);
        if (t->npending > 0)
            nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    container_cgroup_release(&t->cg);
    if (t->timer_on)
        event_loop_remove_timer(t->loop, t->timer);
    free(t->pending);
    free(t->items);
    free(t->run_dir);
    free(t);
}
