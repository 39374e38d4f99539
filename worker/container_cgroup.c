/* container_cgroup.c -- memory cgroups for task containers (see
 * container_cgroup.h).
 *
 * Every function works on paths only; the kernel's cgroup file system
 * is the state.  Files are written with one write() each, as the kernel
 * expects; they are opened with O_CREAT so a fake hierarchy of plain
 * files (tests) behaves like the real one, where the files exist. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "container_cgroup.h"

/* Writes value to dir/file.  Returns 0 or an errno value. */
static int cgroup_write(const char *dir, const char *file, const char *value) {
    char path[PATH_MAX + 64];
    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    size_t len = strlen(value);
    int rc = write(fd, value, len) == (ssize_t)len ? 0 : errno;
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    return rc;
}

/* Reads dir/file (at most len - 1 bytes) into buf.  Returns 0 or an
 * errno value. */
static int cgroup_read(const char *dir, const char *file, char *buf, size_t len) {
    char path[PATH_MAX + 64];
    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return ENAMETOOLONG;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return errno;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

static int cgroup_exists(const char *dir, const char *file) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

/* 1 when the space-separated list has word. */
static int cgroup_has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
            (p[n] == '\0' || p[n] == ' ' || p[n] == ',' || p[n] == '\n'))
            return 1;
    return 0;
}

/* The rank's cgroup path in the hierarchy whose /proc/self/cgroup line
 * has controllers `want` ("memory" for v1, "" for v2's "0::").  Returns
 * 0, or EMBER_ENOENT. */
static int cgroup_self_path(const char *self_cgroup, int v2, char *out, size_t len) {
    FILE *f = fopen(self_cgroup, "re");
    if (f == NULL)
        return EMBER_ENOENT;
    char line[PATH_MAX + 128];
    int rc = EMBER_ENOENT;
    while (rc != EMBER_OK && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *ctrl = strchr(line, ':');
        char *path = ctrl != NULL ? strchr(ctrl + 1, ':') : NULL;
        if (path == NULL)
            continue;
        *path++ = '\0';
        *ctrl++ = '\0';
        int match =
            v2 ? (strcmp(line, "0") == 0 && *ctrl == '\0') : cgroup_has_word(ctrl, "memory");
        if (match && snprintf(out, len, "%s", strcmp(path, "/") == 0 ? "" : path) < (int)len)
            rc = EMBER_OK;
    }
    fclose(f);
    return rc;
}

/* Makes base exist and able to take containers' cgroups: under v2,
 * with the memory controller given to its children.  Returns 0 or an
 * errno value. */
static int cgroup_ensure_base(const char *base, int version) {
    if (mkdir(base, 0755) != 0 && errno != EEXIST)
        return errno;
    char list[512];
    if (version == 2 && (cgroup_read(base, "cgroup.subtree_control", list, sizeof(list)) != 0 ||
                         !cgroup_has_word(list, "memory")))
        return cgroup_write(base, "cgroup.subtree_control", "+memory");
    return 0;
}

/* Sets out->base to <own>/ember and makes it ready.  Returns 0, or
 * fills why. */
static int cgroup_make_base(container_cgroups *out, const char *own, int version) {
    if (snprintf(out->base, sizeof(out->base), "%s/ember", own) >= (int)sizeof(out->base)) {
        snprintf(out->why, sizeof(out->why), "the path of %s/ember is too long", own);
        return EMBER_EINVAL;
    }
    int err = cgroup_ensure_base(out->base, version);
    if (err == 0 && access(out->base, W_OK) != 0)
        err = errno;
    if (err != 0) {
        snprintf(out->why, sizeof(out->why), "cannot use %s for containers: %s", out->base,
                 strerror(err));
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* cgroup v1: the memory controller's own mount under root. */
static int cgroup_probe_v1(const char *root, const char *self_cgroup, container_cgroups *out) {
    char mount[PATH_MAX], own[PATH_MAX], self[PATH_MAX];
    snprintf(mount, sizeof(mount), "%s/memory", root);
    if (!cgroup_exists(mount, "memory.limit_in_bytes")) {
        snprintf(out->why, sizeof(out->why), "no cgroup memory controller under %s", root);
        return EMBER_ENOENT;
    }
    if (cgroup_self_path(self_cgroup, 0, self, sizeof(self)) != EMBER_OK) {
        snprintf(out->why, sizeof(out->why), "%s names no memory cgroup of this process",
                 self_cgroup);
        return EMBER_ENOENT;
    }
    if (snprintf(own, sizeof(own), "%s%s", mount, self) >= (int)sizeof(own) ||
        !cgroup_exists(own, "memory.limit_in_bytes")) {
        snprintf(out->why, sizeof(out->why), "this process's memory cgroup %s%s is not there",
                 mount, self);
        return EMBER_ENOENT;
    }
    return cgroup_make_base(out, own, 1);
}

/* cgroup v2: one hierarchy at root, the memory controller enabled down
 * to ember/. */
static int cgroup_probe_v2(const char *root, const char *self_cgroup, container_cgroups *out) {
    char own[PATH_MAX], self[PATH_MAX], list[512];
    if (cgroup_read(root, "cgroup.controllers", list, sizeof(list)) != 0 ||
        !cgroup_has_word(list, "memory")) {
        snprintf(out->why, sizeof(out->why), "no cgroup memory controller under %s", root);
        return EMBER_ENOENT;
    }
    if (cgroup_self_path(self_cgroup, 1, self, sizeof(self)) != EMBER_OK ||
        snprintf(own, sizeof(own), "%s%s", root, self) >= (int)sizeof(own)) {
        snprintf(out->why, sizeof(out->why), "%s names no cgroup v2 of this process", self_cgroup);
        return EMBER_ENOENT;
    }
    if (cgroup_read(own, "cgroup.subtree_control", list, sizeof(list)) != 0 ||
        !cgroup_has_word(list, "memory")) {
        int err = cgroup_write(own, "cgroup.subtree_control", "+memory");
        if (err != 0) {
            snprintf(out->why, sizeof(out->why),
                     "this process's cgroup %s cannot give the memory controller to others "
                     "(%s)",
                     own, strerror(err));
            return EMBER_EIO;
        }
    }
    return cgroup_make_base(out, own, 2);
}

void container_cgroup_probe(const char *root, const char *self_cgroup, container_cgroups *out) {
    memset(out, 0, sizeof(*out));
    char v1_why[sizeof(out->why)];
    if (cgroup_probe_v1(root, self_cgroup, out) == EMBER_OK) {
        out->version = 1;
        return;
    }
    snprintf(v1_why, sizeof(v1_why), "%s", out->why);
    if (cgroup_probe_v2(root, self_cgroup, out) == EMBER_OK) {
        out->version = 2;
        return;
    }
    if (strncmp(out->why, "no cgroup memory controller", 27) == 0)
        snprintf(out->why, sizeof(out->why), "%s", v1_why); /* v1's reason says more */
    out->base[0] = '\0';
}

int container_cgroup_create(const container_cgroups *cg, const char *name, uint64_t limit_bytes,
                            char *path, size_t pathlen, char *err, size_t errlen) {
    if (snprintf(path, pathlen, "%s/%s", cg->base, name) >= (int)pathlen) {
        snprintf(err, errlen, "the cgroup path under %s is too long", cg->base);
        return EMBER_EIO;
    }
    /* Another rank of the host may have removed an empty ember/ (twice). */
    int made = 0;
    for (int i = 0; i < 2 && !made; i++) {
        int e = cgroup_ensure_base(cg->base, cg->version);
        if (e != 0) {
            snprintf(err, errlen, "cannot use %s for containers: %s", cg->base, strerror(e));
            return EMBER_EIO;
        }
        made = mkdir(path, 0755) == 0;
        if (!made && errno != ENOENT)
            break;
    }
    if (!made && errno == EEXIST) {
        if (rmdir(path) != 0) /* not empty: a live container of that name */
            return EMBER_EEXIST;
        made = mkdir(path, 0755) == 0; /* it was left by a rank that died */
    }
    if (!made) {
        snprintf(err, errlen, "cannot create cgroup %s: %s", path, strerror(errno));
        return EMBER_EIO;
    }
    char value[32];
    snprintf(value, sizeof(value), "%" PRIu64, limit_bytes);
    const char *limit_file = cg->version == 1 ? "memory.limit_in_bytes" : "memory.max";
    int e = cgroup_write(path, limit_file, value);
    if (e != 0) {
        snprintf(err, errlen, "cannot set %s/%s: %s", path, limit_file, strerror(e));
        rmdir(path);
        return EMBER_EIO;
    }
    /* No swapping past the limit, where swap is accounted; best effort. */
    if (cg->version == 1 && cgroup_exists(path, "memory.memsw.limit_in_bytes"))
        (void)cgroup_write(path, "memory.memsw.limit_in_bytes", value);
    if (cg->version == 2 && cgroup_exists(path, "memory.swap.max"))
        (void)cgroup_write(path, "memory.swap.max", "0");
    return EMBER_OK;
}

uint64_t container_cgroup_oom_kills(const container_cgroups *cg, const char *path) {
    char text[2048];
    if (cgroup_read(path, cg->version == 1 ? "memory.oom_control" : "memory.events", text,
                    sizeof(text)) != 0)
        return 0;
    const char *p = strstr(text, "oom_kill ");
    return p != NULL ? strtoull(p + 9, NULL, 10) : 0;
}

int container_cgroup_remove(const char *path) {
    char procs[4096];
    if (cgroup_read(path, "cgroup.procs", procs, sizeof(procs)) == 0) {
        char *save = NULL;
        for (char *tok = strtok_r(procs, " \n", &save); tok != NULL;
             tok = strtok_r(NULL, " \n", &save)) {
            long pid = strtol(tok, NULL, 10);
            if (pid > 1)
                kill((pid_t)pid, SIGKILL);
        }
    }
    if (rmdir(path) == 0 || errno == ENOENT)
        return EMBER_OK;
    return errno == EBUSY ? EMBER_EAGAIN : EMBER_EIO;
}

void container_cgroup_release(const container_cgroups *cg) {
    if (cg->version != 0)
        (void)rmdir(cg->base); /* fails while any cgroup is left in it */
}
