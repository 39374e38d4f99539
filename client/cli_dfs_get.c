/* cli_dfs_get.c -- the `ember dfs` verbs that copy out of the file
 * system: -get / -copyToLocal [-f] [-p] SRC... LOCALDST and -moveToLocal
 * SRC... LOCALDST.
 *
 * Each file goes to LOCALDST._COPYING_, renamed to LOCALDST when complete
 * (removed on a failure), an existing one refused unless -f.  A directory
 * source is copied recursively: into LOCALDST/NAME when LOCALDST is a
 * directory, else LOCALDST made as its copy, merged into when there.  -p
 * gives each copy the source's access and modification times, its owner
 * and group when the host has users and groups of those names (a change
 * of owner needs root there, as Hadoop's local file system finds), and
 * its mode, in Hadoop's order: a file's once it is renamed, a directory's
 * once everything below it is in (deepest first).  -moveToLocal is -get,
 * then each source copied without an error is deleted from the file
 * system (Hadoop's -moveToLocal only says "not implemented yet"). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_dfs.h"
#include "common/error.h"

/* A local directory made by a -p copy, and the attributes it takes once
 * everything below it is in. */
typedef struct {
    char *path; /* malloc'd */
    int64_t mtime_ms, atime_ms;
    uint32_t mode;
    char owner[64], group[64];
} get_dir;

/* How a -get goes. */
typedef struct {
    int force, preserve;
    get_dir *dirs; /* -p: the directories made, in the order made */
    size_t ndirs, cap;
} get_opts;

/* -p: the local path takes st's times, owner and group (when the host
 * knows those names), and mode.  Prints the error line of a failure. */
static void get_preserve(dfs_cli *c, const char *path, int64_t mtime_ms, int64_t atime_ms,
                         const char *owner, const char *group, uint32_t mode) {
    struct timespec ts[2] = {{.tv_sec = atime_ms / 1000, .tv_nsec = (atime_ms % 1000) * 1000000},
                             {.tv_sec = mtime_ms / 1000, .tv_nsec = (mtime_ms % 1000) * 1000000}};
    const char *what = "set the times of";
    if (utimensat(AT_FDCWD, path, ts, 0) == 0) {
        char buf[4096];
        struct passwd pw, *u = NULL;
        struct group gr, *g = NULL;
        getpwnam_r(owner, &pw, buf, sizeof(buf) / 2, &u);
        getgrnam_r(group, &gr, buf + sizeof(buf) / 2, sizeof(buf) / 2, &g);
        what = "change the owner of";
        if ((u == NULL && g == NULL) || chown(path, u != NULL ? u->pw_uid : (uid_t)-1,
                                              g != NULL ? g->gr_gid : (gid_t)-1) == 0) {
            what = "change the mode of";
            if (chmod(path, (mode_t)(mode & 07777)) == 0)
                return;
        }
    }
    cli_error("%s: cannot %s `%s': %s", c->cmd, what, path, strerror(errno));
    c->failed = 1;
}

/* One file: src (resolved; st its status) into the local target, through
 * target._COPYING_ renamed to target once complete. */
static void get_file(dfs_cli *c, const char *src, const char *target, const ember_file_status *st,
                     void *arg) {
    const get_opts *o = arg;
    char tmp[DFS_PATH_MAX + 16];
    ember_dfs_file *in = NULL;
    if (ember_dfs_open(c->dfs, src, &in) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    struct stat sb;
    int fd = -1;
    if (stat(target, &sb) == 0 && (S_ISDIR(sb.st_mode) || !o->force)) {
        cli_error("%s: `%s': %s", c->cmd, target,
                  S_ISDIR(sb.st_mode) ? "Is a directory" : "File exists");
        c->failed = 1;
        goto out;
    }
    snprintf(tmp, sizeof(tmp), "%s._COPYING_", target);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        cli_error("%s: `%s': %s", c->cmd, target, strerror(errno));
        c->failed = 1;
        goto out;
    }
    int failed = dfs_copy_out(c, in, fd, target) != 0;
    if (close(fd) != 0 && !failed) {
        cli_error("%s: `%s': %s", c->cmd, target, strerror(errno));
        c->failed = failed = 1;
    }
    if (!failed && rename(tmp, target) != 0) {
        cli_error("%s: `%s': %s", c->cmd, target, strerror(errno));
        c->failed = failed = 1;
    }
    if (failed)
        unlink(tmp);
    else if (o->preserve)
        get_preserve(c, target, st->mtime_ms, st->atime_ms, st->owner, st->group, st->mode);
out:
    ember_dfs_close_file(in);
}

/* A directory: the local target made when absent, taken when a
 * directory already (merged into); with -p remembered with st's
 * attributes.  0, or -1 after an error line. */
static int get_target_dir(dfs_cli *c, const char *target, const ember_file_status *st, void *arg) {
    get_opts *o = arg;
    struct stat sb;
    const char *why = NULL;
    if (stat(target, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            why = "File exists";
    } else if (mkdir(target, 0777) != 0) {
        why = strerror(errno);
    }
    if (why != NULL) {
        cli_error("%s: `%s': %s", c->cmd, target, why);
        c->failed = 1;
        return -1;
    }
    if (!o->preserve)
        return 0;
    if (o->ndirs == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        get_dir *d = realloc(o->dirs, cap * sizeof(*d));
        if (d == NULL)
            goto oom;
        o->dirs = d;
        o->cap = cap;
    }
    get_dir *d = &o->dirs[o->ndirs];
    if ((d->path = strdup(target)) == NULL)
        goto oom;
    d->mtime_ms = st->mtime_ms;
    d->atime_ms = st->atime_ms;
    d->mode = st->mode;
    snprintf(d->owner, sizeof(d->owner), "%s", st->owner);
    snprintf(d->group, sizeof(d->group), "%s", st->group);
    o->ndirs++;
    return 0;
oom:
    cli_error("%s: out of memory", c->cmd);
    c->failed = 1;
    return 0; /* copied all the same, without its attributes */
}

static const dfs_tree_copier get_copier = {get_target_dir, get_file};

/* One source of -get into dst (a local directory when dst_dir): a file,
 * or a directory copied recursively. */
static void get_one(dfs_cli *c, const char *arg, const char *dst, int dst_dir, get_opts *o) {
    char src[DFS_PATH_MAX], target[DFS_PATH_MAX];
    ember_file_status st;
    if (dfs_arg(c, arg, src) != 0)
        return;
    if (ember_dfs_stat(c->dfs, src, &st) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    if (dst_dir && dfs_child(c, dst, src, target) != 0) {
        ember_dfs_free_status(&st);
        return;
    }
    if (!dst_dir)
        snprintf(target, sizeof(target), "%s", dst);
    if (!st.is_dir)
        get_file(c, src, target, &st, o);
    else if (get_target_dir(c, target, &st, o) == 0)
        dfs_copy_tree(c, src, target, &get_copier, o);
    ember_dfs_free_status(&st);
}

/* -p: the directories made take their attributes, deepest first. */
static void get_finish(dfs_cli *c, get_opts *o) {
    for (size_t i = o->ndirs; i-- > 0;) {
        const get_dir *d = &o->dirs[i];
        get_preserve(c, d->path, d->mtime_ms, d->atime_ms, d->owner, d->group, d->mode);
        free(d->path);
    }
    free(o->dirs);
    o->dirs = NULL;
    o->ndirs = o->cap = 0;
}

/* The local destination of sources: *dst_dir whether it is a directory,
 * which it must be for several.  0, or 1 after an error line. */
static int get_destination(dfs_cli *c, const char *dst, int nsrc, int *dst_dir) {
    struct stat sb;
    int exists = stat(dst, &sb) == 0;
    *dst_dir = exists && S_ISDIR(sb.st_mode);
    if (nsrc > 1 && !*dst_dir) {
        cli_error("%s: `%s': %s", c->cmd, dst,
                  exists ? "Is not a directory" : "No such file or directory");
        return 1;
    }
    return 0;
}

/* -get / -copyToLocal [-f] [-p] SRC... LOCALDST */
int cmd_get(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "fp", seen);
    if (i < 0)
        return 2;
    int nsrc = argc - i - 1, dst_dir;
    if (nsrc < 1) {
        cli_error("%s: needs a source and a local destination", c->cmd);
        return 2;
    }
    if (get_destination(c, argv[argc - 1], nsrc, &dst_dir) != 0)
        return 1;
    get_opts o = {.force = seen['f'], .preserve = seen['p']};
    for (int k = i; k < argc - 1; k++)
        get_one(c, argv[k], argv[argc - 1], dst_dir, &o);
    get_finish(c, &o);
    return c->failed;
}

/* -moveToLocal SRC... LOCALDST: -get, then each source copied without an
 * error deleted (recursively) from the file system. */
int cmd_move_to_local(dfs_cli *c, int argc, char **argv) {
    int nsrc = argc - 2, dst_dir, any_failed = 0;
    if (nsrc < 1) {
        cli_error("%s: needs a source and a local destination", c->cmd);
        return 2;
    }
    if (get_destination(c, argv[argc - 1], nsrc, &dst_dir) != 0)
        return 1;
    get_opts o = {0};
    for (int k = 1; k < argc - 1; k++) {
        char src[DFS_PATH_MAX];
        c->failed = 0;
        get_one(c, argv[k], argv[argc - 1], dst_dir, &o);
        if (!c->failed && dfs_arg(c, argv[k], src) == 0 &&
            ember_dfs_delete(c->dfs, src, 1) != EMBER_OK)
            dfs_fail(c);
        any_failed |= c->failed;
    }
    return any_failed;
}
