/* streaming_env.c -- see streaming_env.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "mr_fs.h"
#include "streaming.h"
#include "streaming_env.h"

extern char **environ;

/* Hadoop's safeEnvVarName(): every byte but a letter or digit becomes '_'. */
static void env_safe_name(const char *key, char *out, size_t len) {
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < len; i++) {
        char c = key[i];
        int alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        out[i] = alnum ? c : '_';
    }
    out[i] = '\0';
}

int streaming_env_jobconf(mr_conf *conf) {
    size_t cap = 1;
    for (size_t i = 0; i < conf->n; i++)
        cap += strlen(conf->keys[i]) + strlen(conf->values[i]) + 2;
    char *text = malloc(cap), *p = text;
    if (text == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < conf->n; i++) {
        /* A value with a newline cannot be one line: it is left out. */
        if (strcmp(conf->keys[i], STREAMING_JOBCONF) == 0 || strchr(conf->values[i], '\n'))
            continue;
        env_safe_name(conf->keys[i], p, strlen(conf->keys[i]) + 1);
        p += strlen(p);
        p += sprintf(p, "=%s\n", conf->values[i]);
    }
    *p = '\0';
    int rc = mr_conf_set(conf, STREAMING_JOBCONF, text);
    free(text);
    return rc;
}

/* A growing NULL-terminated array of "NAME=VALUE" strings. */
typedef struct {
    char **v;
    size_t n, cap;
    int failed;
} env_list;

/* Sets NAME (name_len bytes of name) to value, replacing an earlier one. */
static void env_set(env_list *e, const char *name, size_t name_len, const char *value) {
    if (e->failed)
        return;
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        char **v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            e->failed = EMBER_ENOMEM;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    char *entry = malloc(name_len + strlen(value) + 2);
    if (entry == NULL) {
        e->failed = EMBER_ENOMEM;
        return;
    }
    memcpy(entry, name, name_len);
    entry[name_len] = '=';
    strcpy(entry + name_len + 1, value);
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], entry, name_len + 1) == 0) {
            free(e->v[i]);
            e->v[i] = entry;
            return;
        }
    e->v[e->n++] = entry;
    e->v[e->n] = NULL;
}

/* Adds "NAME=VALUE" entries separated by sep (a '\n' or ' '); an entry
 * without '=' is skipped, as Hadoop skips it. */
static void env_add_pairs(env_list *e, const char *pairs, char sep) {
    while (pairs != NULL && *pairs != '\0') {
        const char *end = strchr(pairs, sep);
        size_t len = end != NULL ? (size_t)(end - pairs) : strlen(pairs);
        const char *eq = memchr(pairs, '=', len);
        if (eq != NULL && eq > pairs) {
            char *value = strndup(eq + 1, len - (size_t)(eq + 1 - pairs));
            if (value == NULL)
                e->failed = EMBER_ENOMEM;
            else
                env_set(e, pairs, (size_t)(eq - pairs), value);
            free(value);
        }
        pairs = end != NULL ? end + 1 : NULL;
    }
}

static void env_set_str(env_list *e, const char *name, const char *value) {
    env_set(e, name, strlen(name), value);
}

/* The task's own keys, as Hadoop sets them in a task's configuration. */
static void env_add_task(env_list *e, ember_task *t, const char *attempt) {
    char task_id[96], partition[16];
    /* attempt_X_m_000003_0 -> task_X_m_000003 */
    snprintf(task_id, sizeof(task_id), "task_%s", attempt + strlen("attempt_"));
    char *last = strrchr(task_id, '_');
    if (last != NULL)
        *last = '\0';
    snprintf(partition, sizeof(partition), "%u", ember_task_number(t));
    const char *is_map = ember_task_is_map(t) ? "true" : "false";
    env_set_str(e, "mapreduce_task_id", task_id);
    env_set_str(e, "mapred_task_id", task_id);
    env_set_str(e, "mapreduce_task_attempt_id", attempt);
    env_set_str(e, "mapreduce_task_partition", partition);
    env_set_str(e, "mapred_task_partition", partition);
    env_set_str(e, "mapreduce_task_ismap", is_map);
    env_set_str(e, "mapred_task_is_map", is_map);
    const char *job = ember_conf(t, "mapreduce.job.id");
    if (job != NULL) {
        env_set_str(e, "mapreduce_job_id", job);
        env_set_str(e, "mapred_job_id", job);
    }
}

int streaming_env_build(ember_task *t, const char *attempt, const char *dir, char ***out) {
    env_list e = {0};
    for (char **p = environ; p != NULL && *p != NULL; p++) {
        const char *eq = strchr(*p, '=');
        if (eq != NULL)
            env_set(&e, *p, (size_t)(eq - *p), eq + 1);
    }
    env_add_pairs(&e, ember_conf(t, STREAMING_JOBCONF), '\n');
    env_add_task(&e, t, attempt);
    env_add_pairs(&e, ember_conf(t, STREAMING_CMDENV), ' ');
    char buf[PATH_MAX * 2];
    snprintf(buf, sizeof(buf), "%s/tmp", dir);
    env_set_str(&e, "TMPDIR", buf);
    const char *path = getenv("PATH");
    snprintf(buf, sizeof(buf), "%s:%s", dir, path != NULL ? path : "/usr/bin:/bin");
    env_set_str(&e, "PATH", buf);
    if (e.failed == 0 && e.v == NULL)
        e.failed = EMBER_EINVAL;
    if (e.failed) {
        streaming_env_free(e.v);
        return e.failed;
    }
    *out = e.v;
    return EMBER_OK;
}

void streaming_env_free(char **env) {
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* Copies the local file src into dir under its base name, executable. */
static int env_copy_file(const char *src, const char *dir, char *why, size_t whylen) {
    const char *base = strrchr(src, '/') != NULL ? strrchr(src, '/') + 1 : src;
    char dst[PATH_MAX];
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    struct stat st;
    int ok =
        in >= 0 && fstat(in, &st) == 0 &&
        snprintf(dst, sizeof(dst), "%s/%s", dir, base) < (int)sizeof(dst) &&
        (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (st.st_mode & 0777) | 0111)) >= 0;
    char buf[65536];
    ssize_t n = 0;
    while (ok && (n = read(in, buf, sizeof(buf))) > 0)
        ok = write(out, buf, (size_t)n) == n;
    ok = ok && n == 0;
    if (!ok)
        snprintf(why, whylen, "cannot copy %s into %s: %s", src, dir, strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        ok = 0;
    return ok ? EMBER_OK : EMBER_EIO;
}

int streaming_env_make_dir(ember_task *t, const char *attempt, char *dir, size_t dirlen, char *why,
                           size_t whylen) {
    const char *base = ember_conf(t, "mapreduce.job.local.dir");
    if (base == NULL)
        base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    if (snprintf(dir, dirlen, "%s/%s-XXXXXX", base, attempt) >= (int)dirlen ||
        mkdtemp(dir) == NULL) {
        snprintf(why, whylen, "cannot make a working directory under %s: %s", base,
                 strerror(errno));
        dir[0] = '\0';
        return EMBER_EIO;
    }
    char tmp[PATH_MAX];
    int rc = snprintf(tmp, sizeof(tmp), "%s/tmp", dir) < (int)sizeof(tmp) && mkdir(tmp, 0700) == 0
                 ? EMBER_OK
                 : EMBER_EIO;
    const char *files = ember_conf(t, STREAMING_FILES);
    while (rc == EMBER_OK && files != NULL && *files != '\0') {
        const char *end = strchr(files, ',');
        size_t len = end != NULL ? (size_t)(end - files) : strlen(files);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%.*s", (int)len, files);
        const char *local = strncmp(path, "file:", 5) == 0 ? path + 5 : path;
        while (local[0] == '/' && local[1] == '/')
            local++; /* file:///a is /a */
        if (len > 0)
            rc = env_copy_file(local, dir, why, whylen);
        files = end != NULL ? end + 1 : NULL;
    }
    if (rc != EMBER_OK) {
        if (why[0] == '\0')
            snprintf(why, whylen, "cannot fill %s: %s", dir, strerror(errno));
        streaming_env_remove_dir(dir);
        dir[0] = '\0';
    }
    return rc;
}

void streaming_env_remove_dir(const char *dir) {
    mr_fs local = {0};
    mr_path p = {.local = 1};
    snprintf(p.path, sizeof(p.path), "%s", dir);
    mr_fs_delete(&local, &p);
}
