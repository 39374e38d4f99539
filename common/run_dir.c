/* run_dir.c -- files in the run directory (see run_dir.h).
 *
 * cluster.json is a flat JSON object written and read with jansson:
 *   {"cluster_id": "...", "host": "127.0.0.1", "port": 40123,
 *    "secret": "<64 hex>", "started_ms": 1790000000000,
 *    "world_size": 4, "primary_pid": 1234}
 * Every file is written to a temporary name, fsync'd and renamed, so a
 * reader sees the old file or the new one, never half of one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "error.h"
#include "run_dir.h"

int run_dir_path(const char *run_dir, const char *rel, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "%s/%s", run_dir, rel);
    return (n < 0 || (size_t)n >= outlen) ? EMBER_EINVAL : EMBER_OK;
}

static int run_dir_mkdir(const char *path, mode_t mode) {
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return EMBER_OK;
    return EMBER_EIO;
}

int run_dir_prepare(const char *run_dir) {
    char path[4096];
    static const char *subdirs[] = {"logs", "pids", "data"};
    if (run_dir_mkdir(run_dir, 0700) != EMBER_OK)
        return EMBER_EIO;
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        if (run_dir_path(run_dir, subdirs[i], path, sizeof(path)) != EMBER_OK ||
            run_dir_mkdir(path, 0755) != EMBER_OK)
            return EMBER_EIO;
    }
    return EMBER_OK;
}

/* Writes len bytes of data to run_dir/rel via a temporary file and a
 * rename, with the given mode. */
static int run_dir_write_file(const char *run_dir, const char *rel, const char *data, size_t len,
                              mode_t mode) {
    char path[4096], tmp[4200];
    if (run_dir_path(run_dir, rel, path, sizeof(path)) != EMBER_OK)
        return EMBER_EINVAL;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return EMBER_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        off += (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return EMBER_EIO;
    }
    return EMBER_OK;
fail:
    close(fd);
    unlink(tmp);
    return EMBER_EIO;
}

int run_dir_write_pid(const char *run_dir, int rank) {
    char rel[64], text[32];
    snprintf(rel, sizeof(rel), "pids/rank-%d.pid", rank);
    int n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    return run_dir_write_file(run_dir, rel, text, (size_t)n, 0644);
}

int run_dir_write_info(const char *run_dir, const cluster_info *info) {
    json_t *obj = json_pack("{s:s, s:s, s:i, s:s, s:I, s:i, s:i}", "cluster_id", info->cluster_id,
                            "host", info->host, "port", info->port, "secret", info->secret,
                            "started_ms", (json_int_t)info->started_ms, "world_size",
                            info->world_size, "primary_pid", info->primary_pid);
    if (obj == NULL)
        return EMBER_ENOMEM;
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text == NULL)
        return EMBER_ENOMEM;
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (with_nl == NULL) {
        free(text);
        return EMBER_ENOMEM;
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = '\0';
    int rc = run_dir_write_file(run_dir, "cluster.json", with_nl, len + 1, 0600);
    free(with_nl);
    return rc;
}

/* Copies a JSON string member into out; 0 or -1 when missing or too long. */
static int run_dir_get_string(json_t *obj, const char *key, char *out, size_t outlen) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) >= outlen)
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int run_dir_read_info(const char *run_dir, cluster_info *info, char *err, size_t errlen) {
    char path[4096];
    if (run_dir_path(run_dir, "cluster.json", path, sizeof(path)) != EMBER_OK) {
        snprintf(err, errlen, "run directory path too long");
        return EMBER_EINVAL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s%s", path, strerror(e),
                 e == ENOENT ? " (is a cluster running there? use --run-dir or EMBER_RUN_DIR)" : "");
        return e == ENOENT ? EMBER_ENOENT : EMBER_EIO;
    }
    json_error_t jerr;
    json_t *obj = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (obj == NULL) {
        snprintf(err, errlen, "%s is not valid JSON (line %d: %s)", path, jerr.line, jerr.text);
        return EMBER_EPROTO;
    }
    memset(info, 0, sizeof(*info));
    json_t *port = json_object_get(obj, "port");
    json_t *started = json_object_get(obj, "started_ms");
    json_t *world = json_object_get(obj, "world_size");
    json_t *pid = json_object_get(obj, "primary_pid");
    int bad = !json_is_object(obj) ||
              run_dir_get_string(obj, "cluster_id", info->cluster_id, sizeof(info->cluster_id)) ||
              run_dir_get_string(obj, "host", info->host, sizeof(info->host)) ||
              run_dir_get_string(obj, "secret", info->secret, sizeof(info->secret)) ||
              !json_is_integer(port) || json_integer_value(port) <= 0 ||
              json_integer_value(port) > 65535 || info->secret[0] == '\0';
    if (!bad) {
        info->port = (int)json_integer_value(port);
        info->started_ms = json_is_integer(started) ? json_integer_value(started) : 0;
        info->world_size = json_is_integer(world) ? (int)json_integer_value(world) : 0;
        info->primary_pid = json_is_integer(pid) ? (int)json_integer_value(pid) : 0;
    }
    json_decref(obj);
    if (bad) {
        snprintf(err, errlen, "%s lacks a valid cluster_id, host, port or secret", path);
        return EMBER_EPROTO;
    }
    return EMBER_OK;
}

void run_dir_remove_info(const char *run_dir) {
    char path[4096];
    if (run_dir_path(run_dir, "cluster.json", path, sizeof(path)) == EMBER_OK)
        unlink(path);
}

int run_dir_write_status(const char *run_dir, int code, const char *reason) {
    if (code < 0) {
        char path[4096];
        if (run_dir_path(run_dir, "status", path, sizeof(path)) == EMBER_OK)
            unlink(path);
        return EMBER_OK;
    }
    char text[1024];
    int n = snprintf(text, sizeof(text), "%d\n%s\n", code, reason ? reason : "");
    if (n < 0 || (size_t)n >= sizeof(text))
        n = (int)sizeof(text) - 1;
    return run_dir_write_file(run_dir, "status", text, (size_t)n, 0644);
}

int run_dir_read_status(const char *run_dir, int *code) {
    char path[4096];
    if (run_dir_path(run_dir, "status", path, sizeof(path)) != EMBER_OK)
        return EMBER_EINVAL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? EMBER_ENOENT : EMBER_EIO;
    int rc = fscanf(f, "%d", code) == 1 ? EMBER_OK : EMBER_EPROTO;
    fclose(f);
    return rc;
}
