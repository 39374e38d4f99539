/* cli_dfs_put.c -- the `ember dfs` verbs that copy into the file system:
 * -put / -copyFromLocal [-f] [-p] [-d] [-t N] [-q N], -moveFromLocal
 * [-f] [-p] [-d], -cp [-f] [-d] [-t N] [-q N], and -appendToFile.
 *
 * A copy goes as Hadoop's: each file into DST._COPYING_, renamed to DST
 * when complete (-d: written at DST itself, deleted if it fails), an
 * existing DST refused unless -f.  A directory source is copied
 * recursively: into DST/NAME when DST is a directory, else DST made as
 * its copy; a directory already there is merged into; a directory is
 * never copied into itself.  A copy is planned first -- the sources
 * walked, every target directory made in pre-order, the files listed --
 * then its files are copied: one at a time, or with -t N by N threads
 * (at most PUT_THREADS_MAX), each with a connection of its own, taking
 * the next file from the list (Hadoop's CopyCommandWithMultiThread; -q,
 * its queue size, is accepted, the whole list being in memory here).
 * -p (put) preserves each local file's access and modification times,
 * owner and group (by name; a change of owner needs the superuser), and
 * mode, in Hadoop's order (times, owner, permission), a file's once it
 * is renamed, a directory's once every file is in (deepest first). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_dfs.h"
#include "common/error.h"

#define PUT_THREADS_MAX 64 /* -t: each thread holds a connection to the gateway */

/* How a copy into the file system goes. */
typedef struct {
    int force;    /* -f: an existing file is replaced */
    int preserve; /* -p: times, ownership and mode of local sources */
    int direct;   /* -d: no DST._COPYING_ */
    long threads; /* -t: files copied at once */
    int from_dfs; /* -cp: the sources are in the file system */
} put_opts;

/* A file to copy (src to dst), or with -p a directory made (dst) from a
 * local one (src) and what that one was (its stat before it was read). */
typedef struct {
    char *src, *dst; /* malloc'd */
    struct stat sb;  /* directories of -p */
} put_item;

typedef struct {
    put_item *v; /* malloc'd, n used of cap */
    size_t n, cap;
} put_list;

/* What a copy does: its files, and the directories made (in the order
 * made) whose attributes -p sets once the files are in. */
typedef struct {
    put_list files, dirs;
} put_plan;

/* Appends copies of src and dst (and of sb, when not NULL); 0, or -1
 * after an error line. */
static int put_list_add(dfs_cli *c, put_list *l, const char *src, const char *dst,
                        const struct stat *sb) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        put_item *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            goto fail;
        l->v = v;
        l->cap = cap;
    }
    put_item *it = &l->v[l->n];
    it->src = strdup(src);
    it->dst = strdup(dst);
    if (sb != NULL)
        it->sb = *sb;
    if (it->src != NULL && it->dst != NULL) {
        l->n++;
        return 0;
    }
    free(it->src);
    free(it->dst);
fail:
    cli_error("%s: out of memory", c->cmd);
    c->failed = 1;
    return -1;
}

static void put_list_free(put_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].src);
        free(l->v[i].dst);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void put_plan_free(put_plan *p) {
    put_list_free(&p->files);
    put_list_free(&p->dirs);
}

/* ---- one file ------------------------------------------------------------- */

/* Where a copy reads from: a local file (or stdin), or a stream. */
typedef struct {
    int fd;             /* local, or -1 */
    ember_dfs_file *in; /* file system, or NULL */
    const char *name;   /* for error lines */
} copy_source;

/* Reads up to len bytes (*got 0 at the end); on failure prints the error
 * line and returns -1. */
static int copy_source_read(dfs_cli *c, copy_source *s, uint8_t *buf, size_t len, size_t *got) {
    if (s->in != NULL) {
        if (ember_dfs_read(s->in, buf, len, got) == EMBER_OK)
            return 0;
        dfs_fail(c);
        return -1;
    }
    for (;;) {
        ssize_t n = read(s->fd, buf, len);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR) {
            cli_error("%s: `%s': %s", c->cmd, s->name, strerror(errno));
            c->failed = 1;
            return -1;
        }
    }
}

/* Copies the rest of s to out through buf (DFS_COPY_CHUNK bytes); 0, or
 * -1 after an error line. */
static int copy_stream(dfs_cli *c, copy_source *s, ember_dfs_file *out, uint8_t *buf) {
    for (;;) {
        size_t got;
        if (copy_source_read(c, s, buf, DFS_COPY_CHUNK, &got) != 0)
            return -1;
        if (got == 0)
            return 0;
        if (ember_dfs_write(out, buf, got) != EMBER_OK) {
            dfs_fail(c);
            return -1;
        }
    }
}

/* Copies all of s into target as Hadoop does: into target._COPYING_,
 * renamed to target once complete (target deleted first when replace),
 * the temporary file deleted on any failure; with direct, into target
 * itself (overwritten when replace), deleted on a failure.  0, or -1
 * after an error line (the command marked failed). */
static int copy_into_dfs(dfs_cli *c, copy_source *s, const char *target, int replace, int direct) {
    char tmp[DFS_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s%s", target, direct ? "" : "._COPYING_");
    uint8_t *buf = n < 0 || (size_t)n >= sizeof(tmp) ? NULL : malloc(DFS_COPY_CHUNK);
    if (buf == NULL) {
        if (n < 0 || (size_t)n >= sizeof(tmp))
            cli_error("%s: `%.100s...': path too long", c->cmd, target);
        else
            cli_error("%s: out of memory", c->cmd);
        c->failed = 1;
        return -1;
    }
    ember_create_options opts = {.replication = c->replication,
                                 .block_size = c->block_size,
                                 .overwrite = !direct || replace};
    ember_dfs_file *out;
    int rc = ember_dfs_create(c->dfs, tmp, &opts, &out);
    if (rc != EMBER_OK) {
        if (rc == EMBER_ENOENT) /* the parent is missing: name what was asked for */
            cli_error("%s: `%s': No such file or directory", c->cmd, target);
        else
            cli_error("%s: %s", c->cmd, ember_dfs_last_error(c->dfs));
        c->failed = 1;
        free(buf);
        return -1;
    }
    dfs_warn(c);
    int failed = copy_stream(c, s, out, buf) != 0;
    free(buf);
    if (ember_dfs_close_file(out) != EMBER_OK && !failed) {
        dfs_fail(c);
        failed = 1;
    }
    if (!failed && replace && !direct) {
        rc = ember_dfs_delete(c->dfs, target, 0);
        if (rc != EMBER_OK && rc != EMBER_ENOENT) {
            dfs_fail(c);
            failed = 1;
        }
    }
    if (!failed && !direct && ember_dfs_rename(c->dfs, tmp, target, NULL, 0) != EMBER_OK) {
        dfs_fail(c);
        failed = 1;
    }
    if (failed) {
        ember_dfs_delete(c->dfs, tmp, 0);
        c->failed = 1;
    }
    return failed ? -1 : 0;
}

/* Whether target may be written: not a directory, and absent unless
 * force.  *exists says whether it is there.  0, or -1 after an error line. */
static int copy_check_target(dfs_cli *c, const char *target, int force, int *exists) {
    ember_file_status st;
    int rc = ember_dfs_stat(c->dfs, target, &st);
    *exists = rc == EMBER_OK;
    if (rc == EMBER_ENOENT || rc == EMBER_ENOTDIR)
        return 0; /* absent (a missing parent is reported by the create) */
    if (rc != EMBER_OK) {
        dfs_fail(c);
        return -1;
    }
    int is_dir = st.is_dir;
    ember_dfs_free_status(&st);
    if (is_dir || !force) {
        cli_error("%s: `%s': %s", c->cmd, target, is_dir ? "Is a directory" : "File exists");
        c->failed = 1;
        return -1;
    }
    return 0;
}

/* The name of uid (or gid, with group) into out, or the number when the
 * host has no name for it (as Hadoop's local file system shows it). */
static void put_local_name(unsigned id, int group, char *out, size_t len) {
    char buf[4096];
    const char *name = NULL;
    if (group) {
        struct group g, *res = NULL;
        if (getgrgid_r((gid_t)id, &g, buf, sizeof(buf), &res) == 0 && res != NULL)
            name = res->gr_name;
    } else {
        struct passwd pw, *res = NULL;
        if (getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
            name = res->pw_name;
    }
    if (name != NULL)
        snprintf(out, len, "%s", name);
    else
        snprintf(out, len, "%u", id);
}

/* -p: target takes the times, owner and group, and mode of the local
 * file or directory whose stat (taken before it was read) is sb, in
 * Hadoop's order (times while the target is still writable, the mode
 * last).  Prints the error line of a failure. */
static void put_preserve(dfs_cli *c, const struct stat *sb, const char *target) {
    int64_t mtime = (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
    int64_t atime = (int64_t)sb->st_atim.tv_sec * 1000 + sb->st_atim.tv_nsec / 1000000;
    if (ember_dfs_set_times(c->dfs, target, mtime, atime) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    char owner[64], group[64];
    put_local_name((unsigned)sb->st_uid, 0, owner, sizeof(owner));
    put_local_name((unsigned)sb->st_gid, 1, group, sizeof(group));
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, target, &st) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    int new_owner = strcmp(st.owner, owner) != 0, new_group = strcmp(st.group, group) != 0;
    ember_dfs_free_status(&st);
    if ((new_owner || new_group) && ember_dfs_chown(c->dfs, target, new_owner ? owner : NULL,
                                                    new_group ? group : NULL) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    if (ember_dfs_chmod(c->dfs, target, (uint32_t)sb->st_mode & 07777) != EMBER_OK)
        dfs_fail(c);
}

/* One file: src (a local path, "-" for stdin, or with from_dfs a file
 * system path) into target. */
static void copy_in_file(dfs_cli *c, const char *src, const put_opts *o, const char *target) {
    copy_source s = {.fd = -1, .name = src};
    if (o->from_dfs) {
        if (ember_dfs_open(c->dfs, src, &s.in) != EMBER_OK) {
            dfs_fail(c);
            return;
        }
    } else if (strcmp(src, "-") == 0) {
        s.fd = STDIN_FILENO;
        s.name = "stdin";
    } else if ((s.fd = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        cli_error("%s: `%s': %s", c->cmd, src, strerror(errno));
        c->failed = 1;
        return;
    }
    struct stat sb; /* before a byte is read: the access time as it was */
    int local = s.fd > STDIN_FILENO && o->preserve;
    if (local && fstat(s.fd, &sb) != 0) {
        cli_error("%s: `%s': %s", c->cmd, src, strerror(errno));
        c->failed = 1;
        local = 0;
    }
    int exists;
    if (copy_check_target(c, target, o->force, &exists) == 0 &&
        copy_into_dfs(c, &s, target, exists, o->direct) == 0 && local)
        put_preserve(c, &sb, target);
    if (s.in != NULL)
        ember_dfs_close_file(s.in);
    if (s.fd > STDIN_FILENO)
        close(s.fd);
}

/* ---- planning: directories made, files listed ---------------------------------- */

/* scandir()'s filter: every entry but "." and "..". */
static int local_entry_filter(const struct dirent *d) {
    return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Makes directory target in the file system for a directory source, or
 * takes the one there (Hadoop merges into it); 0, or -1 after an error
 * line (target is a file, or its parent is missing). */
static int copy_target_dir(dfs_cli *c, const char *target) {
    /* mkdirs first: a new tree costs one call per directory. */
    int rc = ember_dfs_mkdirs(c->dfs, target, 0, 0);
    if (rc == EMBER_OK)
        return 0;
    char why[512];
    snprintf(why, sizeof(why), "%s", ember_dfs_last_error(c->dfs));
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, target, &st) == EMBER_OK) {
        int is_dir = st.is_dir;
        ember_dfs_free_status(&st);
        if (is_dir)
            return 0; /* there already: merged into */
        cli_error("%s: `%s': File exists", c->cmd, target);
    } else if (rc == EMBER_ENOENT) {
        cli_error("%s: `%s': No such file or directory", c->cmd, target);
    } else {
        cli_error("%s: %s", c->cmd, why);
    }
    c->failed = 1;
    return -1;
}

/* Pushes the entries of the local directory src, to go into dst, on the
 * walk's stack in reverse name order (so that they are popped in name
 * order). */
static void put_push_entries(dfs_cli *c, put_list *stack, const char *src, const char *dst) {
    char child_src[DFS_PATH_MAX], child_dst[DFS_PATH_MAX];
    struct dirent **names;
    int n = scandir(src, &names, local_entry_filter, alphasort);
    if (n < 0) {
        cli_error("%s: `%s': %s", c->cmd, src, strerror(errno));
        c->failed = 1;
        return;
    }
    for (int i = n - 1; i >= 0; i--) {
        int len = snprintf(child_src, sizeof(child_src), "%s/%s", src, names[i]->d_name);
        if (len < 0 || (size_t)len >= sizeof(child_src)) {
            cli_error("%s: `%.100s...': path too long", c->cmd, src);
            c->failed = 1;
        } else if (dfs_child(c, dst, names[i]->d_name, child_dst) == 0) {
            put_list_add(c, stack, child_src, child_dst, NULL);
        }
        free(names[i]);
    }
    free(names);
}

/* Plans a local directory src into target: target made when absent,
 * merged into when a directory already (a file there is refused), every
 * entry below in pre-order and name order -- directories made now,
 * files listed.  Entries that are neither files nor directories (after
 * following symbolic links) are refused one by one.  The walk is a stack
 * on the heap, so any depth costs no C stack. */
static void put_plan_tree(dfs_cli *c, const char *src, const char *target, put_plan *plan,
                          int preserve) {
    put_list stack = {0};
    put_list_add(c, &stack, src, target, NULL);
    while (stack.n > 0) {
        put_item e = stack.v[--stack.n];
        struct stat sb;
        if (stat(e.src, &sb) != 0) {
            cli_error("%s: `%s': %s", c->cmd, e.src, strerror(errno));
            c->failed = 1;
        } else if (S_ISDIR(sb.st_mode)) {
            if (copy_target_dir(c, e.dst) == 0) {
                if (preserve)
                    put_list_add(c, &plan->dirs, e.src, e.dst, &sb);
                put_push_entries(c, &stack, e.src, e.dst);
            }
        } else if (S_ISREG(sb.st_mode)) {
            put_list_add(c, &plan->files, e.src, e.dst, NULL);
        } else {
            cli_error("%s: `%s': not a regular file or directory", c->cmd, e.src);
            c->failed = 1;
        }
        free(e.src);
        free(e.dst);
    }
    free(stack.v);
}

/* -cp's tree: directories made as the walk meets them, files listed. */
static int cp_make_dir(dfs_cli *c, const char *dst, const ember_file_status *st, void *arg) {
    (void)st;
    (void)arg;
    return copy_target_dir(c, dst);
}

static void cp_list_file(dfs_cli *c, const char *src, const char *dst, const ember_file_status *st,
                         void *arg) {
    (void)st;
    put_plan *plan = arg;
    put_list_add(c, &plan->files, src, dst, NULL);
}

static const dfs_tree_copier cp_copier = {cp_make_dir, cp_list_file};

/* Whether dst is src or lies under it (a directory copied into itself). */
static int dfs_under(const char *src, const char *dst) {
    size_t n = strlen(src);
    if (n == 1 && src[0] == '/')
        return 1;
    return strncmp(src, dst, n) == 0 && (dst[n] == '\0' || dst[n] == '/');
}

/* Plans one source into dst (a directory when dst_dir): a file listed,
 * or a directory's tree. */
static void put_plan_one(dfs_cli *c, const char *arg, const char *dst, int dst_dir,
                         const put_opts *o, put_plan *plan) {
    char src[DFS_PATH_MAX], target[DFS_PATH_MAX];
    int is_dir = 0;
    if (o->from_dfs) {
        if (dfs_source(c, arg, src, &is_dir) != 0)
            return;
    } else {
        struct stat sb;
        snprintf(src, sizeof(src), "%s", arg);
        if (strcmp(arg, "-") != 0 && stat(arg, &sb) != 0) {
            cli_error("%s: `%s': %s", c->cmd, arg, strerror(errno));
            c->failed = 1;
            return;
        }
        is_dir = strcmp(arg, "-") != 0 && S_ISDIR(sb.st_mode);
    }
    if (dst_dir) {
        if (dfs_child(c, dst, src, target) != 0)
            return;
    } else {
        snprintf(target, sizeof(target), "%s", dst);
    }
    if (!is_dir) {
        put_list_add(c, &plan->files, src, target, NULL);
    } else if (o->from_dfs && dfs_under(src, target)) {
        cli_error("%s: `%s' to `%s': is a subdirectory of itself", c->cmd, src, target);
        c->failed = 1;
    } else if (o->from_dfs) {
        if (copy_target_dir(c, target) == 0)
            dfs_copy_tree(c, src, target, &cp_copier, plan);
    } else {
        put_plan_tree(c, src, target, plan, o->preserve);
    }
}

/* ---- running a plan ------------------------------------------------------------ */

/* The threads of -t: each takes the next file of the plan. */
typedef struct {
    dfs_cli *c; /* the run's: its settings (workers open their own handles) */
    const put_plan *plan;
    const put_opts *o;
    size_t next; /* the next file to take (under lock) */
    int failed;  /* any worker's failure (under lock) */
    pthread_mutex_t lock;
} put_pool;

/* The index of the next file to copy, or plan->files.n when none is left. */
static size_t put_pool_take(put_pool *p) {
    pthread_mutex_lock(&p->lock);
    size_t i = p->next < p->plan->files.n ? p->next++ : p->plan->files.n;
    pthread_mutex_unlock(&p->lock);
    return i;
}

static void *put_worker(void *arg) {
    put_pool *p = arg;
    dfs_cli w = *p->c;
    w.failed = 0;
    char err[512];
    if (ember_dfs_connect(w.env->run_dir, &w.dfs, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err); /* the other threads, or the main one, take the files */
        w.dfs = NULL;
        w.failed = 1;
    } else {
        ember_dfs_set_short_circuit(w.dfs, w.short_circuit);
        ember_dfs_set_socket_timeout(w.dfs, w.socket_timeout_ms);
    }
    for (size_t i; w.dfs != NULL && (i = put_pool_take(p)) < p->plan->files.n;)
        copy_in_file(&w, p->plan->files.v[i].src, p->o, p->plan->files.v[i].dst);
    ember_dfs_close(w.dfs);
    pthread_mutex_lock(&p->lock);
    p->failed |= w.failed;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Copies the plan's files -- with -t by that many threads, what they
 * leave (none could start or connect) by this one -- then (-p) sets the
 * directories' attributes, deepest first. */
static void put_run(dfs_cli *c, const put_plan *plan, const put_opts *o) {
    put_pool p = {.c = c, .plan = plan, .o = o};
    pthread_mutex_init(&p.lock, NULL);
    size_t nthreads = o->threads > 1 ? (size_t)o->threads : 0;
    if (nthreads > plan->files.n)
        nthreads = plan->files.n > 1 ? plan->files.n : 0;
    pthread_t tids[PUT_THREADS_MAX];
    size_t started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&tids[started], NULL, put_worker, &p) != 0)
            break;
    for (size_t k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
    for (size_t i; (i = put_pool_take(&p)) < plan->files.n;)
        copy_in_file(c, plan->files.v[i].src, o, plan->files.v[i].dst);
    c->failed |= p.failed;
    pthread_mutex_destroy(&p.lock);
    for (size_t i = plan->dirs.n; i-- > 0;)
        put_preserve(c, &plan->dirs.v[i].sb, plan->dirs.v[i].dst);
}

/* The destination of -put, -cp or -moveFromLocal resolved into dst, and
 * whether it is a directory, which it must be for several sources; 0, or
 * 1 after an error line. */
static int copy_destination(dfs_cli *c, const char *arg, int nsrc, char *dst, int *dst_dir) {
    if (dfs_arg(c, arg, dst) != 0)
        return 1;
    ember_file_status st;
    int rc = ember_dfs_stat(c->dfs, dst, &st);
    *dst_dir = rc == EMBER_OK && st.is_dir;
    if (rc == EMBER_OK) {
        ember_dfs_free_status(&st);
    } else if (rc != EMBER_ENOENT && rc != EMBER_ENOTDIR) {
        dfs_fail(c);
        return 1;
    }
    if (nsrc > 1 && !*dst_dir) {
        cli_error("%s: `%s': %s", c->cmd, dst,
                  rc == EMBER_OK ? "Is not a directory" : "No such file or directory");
        return 1;
    }
    return 0;
}

/* The options of a copy into the file system (letters: the flags the
 * verb takes; "t" also -t N and -q N); the index of the first operand,
 * or -1 after a usage error. */
static int put_options(dfs_cli *c, int argc, char **argv, const char *letters, put_opts *o) {
    int i = 1;
    o->threads = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strchr(letters, 't') != NULL && (!strcmp(a, "-t") || !strcmp(a, "-q"))) {
            char *end;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || argv[i + 1][0] == '\0' || *end != '\0') {
                dfs_usage_error(c->cmd, "%s needs a number", a);
                return -1;
            }
            i++;
            if (a[1] == 't') /* Hadoop: below 1 is 1 */
                o->threads = v < 1 ? 1 : v > PUT_THREADS_MAX ? PUT_THREADS_MAX : v;
            continue;
        }
        for (const char *f = a + 1; *f; f++) {
            if (*f == 't' || strchr(letters, *f) == NULL) {
                dfs_usage_error(c->cmd, "Illegal option %s", a);
                return -1;
            }
            o->force |= *f == 'f';
            o->preserve |= *f == 'p';
            o->direct |= *f == 'd';
        }
    }
    return i;
}

/* -put / -copyFromLocal [-f] [-p] [-d] [-t N] [-q N] LOCALSRC... DST and
 * -cp [-f] [-d] [-t N] [-q N] SRC... DST. */
int cmd_copy_in(dfs_cli *c, int argc, char **argv, int from_dfs) {
    put_opts o = {.from_dfs = from_dfs};
    int i = put_options(c, argc, argv, from_dfs ? "fdt" : "fpdt", &o);
    if (i < 0)
        return 2;
    int nsrc = argc - i - 1;
    if (nsrc < 1) {
        cli_error("%s: needs a source and a destination", c->cmd);
        return 2;
    }
    for (int k = i; k < argc - 1 && !from_dfs; k++) {
        if (strcmp(argv[k], "-") == 0 && nsrc > 1) {
            cli_error("%s: '-' (stdin) must be the only source", c->cmd);
            return 2;
        }
    }
    char dst[DFS_PATH_MAX];
    int dst_dir;
    if (copy_destination(c, argv[argc - 1], nsrc, dst, &dst_dir) != 0)
        return 1;
    if (dst_dir && !from_dfs && strcmp(argv[i], "-") == 0) {
        cli_error("%s: `%s': Is a directory", c->cmd, dst);
        return 1;
    }
    put_plan plan = {0};
    for (int k = i; k < argc - 1; k++)
        put_plan_one(c, argv[k], dst, dst_dir, &o, &plan);
    put_run(c, &plan, &o);
    put_plan_free(&plan);
    return c->failed;
}

/* nftw() callback of -moveFromLocal: removes what it is given (depth
 * first, so a directory is empty by then). */
static int move_remove(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

/* -moveFromLocal [-f] [-p] [-d] LOCALSRC... DST: -put, then each local
 * source that was copied without an error is removed. */
int cmd_move_from_local(dfs_cli *c, int argc, char **argv) {
    put_opts o = {0};
    int i = put_options(c, argc, argv, "fpd", &o);
    if (i < 0)
        return 2;
    if (argc - i < 2) {
        cli_error("moveFromLocal: needs a source and a destination");
        return 2;
    }
    for (int k = i; k < argc - 1; k++) {
        if (strcmp(argv[k], "-") == 0) {
            cli_error("moveFromLocal: stdin cannot be moved");
            return 2;
        }
    }
    char dst[DFS_PATH_MAX];
    int dst_dir;
    if (copy_destination(c, argv[argc - 1], argc - i - 1, dst, &dst_dir) != 0)
        return 1;
    int any_failed = 0;
    for (int k = i; k < argc - 1; k++) {
        c->failed = 0;
        put_plan plan = {0};
        put_plan_one(c, argv[k], dst, dst_dir, &o, &plan);
        put_run(c, &plan, &o);
        put_plan_free(&plan);
        if (!c->failed && nftw(argv[k], move_remove, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            cli_error("moveFromLocal: `%s': copied, but not removed: %s", argv[k], strerror(errno));
            c->failed = 1;
        }
        any_failed |= c->failed;
    }
    return any_failed;
}

/* -appendToFile LOCALSRC... DST: each local file (or stdin for "-") in
 * turn at the end of DST, which is created when missing (Hadoop's
 * AppendToFile). */
int cmd_append(dfs_cli *c, int argc, char **argv) {
    char dst[DFS_PATH_MAX];
    if (argc < 3) {
        cli_error("%s: usage: -appendToFile LOCALSRC... DST", c->cmd);
        return 2;
    }
    if (dfs_arg(c, argv[argc - 1], dst) != 0)
        return 1;
    /* Sources first: a missing one changes nothing. */
    for (int i = 1; i < argc - 1; i++)
        if (strcmp(argv[i], "-") != 0 && access(argv[i], R_OK) != 0) {
            cli_error("%s: `%s': %s", c->cmd, argv[i], strerror(errno));
            return 1;
        }
    ember_file_status st;
    ember_dfs_file *out;
    int rc = ember_dfs_stat(c->dfs, dst, &st);
    if (rc == EMBER_OK) {
        int is_dir = st.is_dir;
        ember_dfs_free_status(&st);
        if (is_dir) {
            cli_error("%s: `%s': Is a directory", c->cmd, argv[argc - 1]);
            return 1;
        }
        rc = ember_dfs_append(c->dfs, dst, &out);
    } else if (rc == EMBER_ENOENT) {
        ember_create_options opts = {.replication = c->replication, .block_size = c->block_size};
        rc = ember_dfs_create(c->dfs, dst, &opts, &out);
    }
    if (rc != EMBER_OK) {
        dfs_fail(c);
        return 1;
    }
    uint8_t *buf = malloc(DFS_COPY_CHUNK);
    int failed = buf == NULL;
    if (buf == NULL)
        cli_error("%s: out of memory", c->cmd);
    for (int i = 1; i < argc - 1 && !failed; i++) {
        copy_source s = {.fd = strcmp(argv[i], "-") == 0 ? 0 : open(argv[i], O_RDONLY),
                         .name = argv[i]};
        if (s.fd < 0) {
            cli_error("%s: `%s': %s", c->cmd, argv[i], strerror(errno));
            failed = 1;
            break;
        }
        if (copy_stream(c, &s, out, buf) != 0)
            failed = 1;
        if (s.fd > 0)
            close(s.fd);
    }
    free(buf);
    if (ember_dfs_close_file(out) != EMBER_OK && !failed) {
        dfs_fail(c);
        failed = 1;
    }
    return failed ? 1 : 0;
}
