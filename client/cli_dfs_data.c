/* cli_dfs_data.c -- the `ember dfs` verbs that move file data: -put,
 * -copyFromLocal, -moveFromLocal, -cp, -get, -copyToLocal, -getmerge,
 * -cat, -head, -tail [-f], -appendToFile, -checksum, and -find and -df,
 * which walk or measure the file system (see cli_dfs.c for the run, the
 * paths and the exit status).
 *
 * Copies into the file system go as Hadoop's do: into DST._COPYING_,
 * renamed to DST when complete.  A directory source of -put, -get or -cp
 * is copied recursively: into DST/NAME when DST is a directory, else DST
 * made as its copy; a directory already there is merged into (its files
 * kept unless -f); a directory is never copied into itself.  -checksum
 * asks the datanodes for each block's checksum (ember_dfs_get_checksum);
 * -df asks the primary for the datanodes' report. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_dfs.h"
#include "common/error.h"

/* ---- file data ------------------------------------------------------------- */

#define DFS_COPY_CHUNK (1024 * 1024) /* bytes per read and write of a copy */
#define DFS_TAIL_BYTES 1024          /* -tail: Hadoop's last kilobyte */

/* The last component of a local or file system path ("a/b/" -> "b"). */
static void dfs_basename(const char *path, char *out, size_t len) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, len, "%.*s", (int)(end - start), path + start);
}

/* dir/basename(src) into out, or an error line; 0 or -1. */
static int dfs_child(dfs_cli *c, const char *dir, const char *src, char *out) {
    char name[DFS_PATH_MAX];
    dfs_basename(src, name, sizeof(name));
    int n = snprintf(out, DFS_PATH_MAX, "%s%s%s", dir,
                     dir[0] == '\0' || dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    if (n < 0 || n >= DFS_PATH_MAX) {
        cli_error("%s: `%.100s...': path too long", c->cmd, dir);
        c->failed = 1;
        return -1;
    }
    return 0;
}

/* Writes len bytes to a local fd; 0 or -1 with errno. */
static int dfs_write_local(int fd, const uint8_t *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Where -put and -cp read from: a local file (or stdin), or a stream. */
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
 * the temporary file deleted on any failure.  Prints one error line on
 * failure and marks the command failed. */
static void copy_into_dfs(dfs_cli *c, copy_source *s, const char *target, int replace) {
    char tmp[DFS_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s._COPYING_", target);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        cli_error("%s: `%.100s...': path too long", c->cmd, target);
        c->failed = 1;
        return;
    }
    uint8_t *buf = malloc(DFS_COPY_CHUNK);
    if (buf == NULL) {
        cli_error("%s: out of memory", c->cmd);
        c->failed = 1;
        return;
    }
    ember_create_options opts = {
        .replication = c->replication, .block_size = c->block_size, .overwrite = 1};
    ember_dfs_file *out;
    int rc = ember_dfs_create(c->dfs, tmp, &opts, &out);
    if (rc != EMBER_OK) {
        if (rc == EMBER_ENOENT) /* the parent is missing: name what was asked for */
            cli_error("%s: `%s': No such file or directory", c->cmd, target);
        else
            cli_error("%s: %s", c->cmd, ember_dfs_last_error(c->dfs));
        c->failed = 1;
        free(buf);
        return;
    }
    dfs_warn(c);
    int failed = copy_stream(c, s, out, buf) != 0;
    free(buf);
    if (ember_dfs_close_file(out) != EMBER_OK && !failed) {
        dfs_fail(c);
        failed = 1;
    }
    if (!failed && replace) {
        rc = ember_dfs_delete(c->dfs, target, 0);
        if (rc != EMBER_OK && rc != EMBER_ENOENT) {
            dfs_fail(c);
            failed = 1;
        }
    }
    if (!failed && ember_dfs_rename(c->dfs, tmp, target, NULL, 0) != EMBER_OK) {
        dfs_fail(c);
        failed = 1;
    }
    if (failed) {
        ember_dfs_delete(c->dfs, tmp, 0);
        c->failed = 1;
    }
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

/* One file of -put or -cp: src (a local path, "-" for stdin, or a
 * resolved file system path when from_dfs; shown as name) into target. */
static void copy_in_file(dfs_cli *c, const char *src, const char *name, int from_dfs,
                         const char *target, int force) {
    copy_source s = {.fd = -1, .name = name};
    if (from_dfs) {
        if (ember_dfs_open(c->dfs, src, &s.in) != EMBER_OK) {
            dfs_fail(c);
            return;
        }
    } else if (strcmp(src, "-") == 0) {
        s.fd = STDIN_FILENO;
        s.name = "stdin";
    } else if ((s.fd = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        cli_error("%s: `%s': %s", c->cmd, name, strerror(errno));
        c->failed = 1;
        return;
    }
    int exists;
    if (copy_check_target(c, target, force, &exists) == 0)
        copy_into_dfs(c, &s, target, exists);
    if (s.in != NULL)
        ember_dfs_close_file(s.in);
    if (s.fd > STDIN_FILENO)
        close(s.fd);
}

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

/* Calls fn(c, path, status, arg) for every entry of the file system
 * directory dir, in name order. */
typedef void (*dfs_entry_fn)(dfs_cli *c, const char *path, const ember_file_status *st,
                             void *arg);
static void dfs_each(dfs_cli *c, const char *dir, dfs_entry_fn fn, void *arg) {
    ember_file_status *e;
    size_t n;
    if (ember_dfs_list(c->dfs, dir, &e, &n) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char child[DFS_PATH_MAX];
        dfs_join(dir, e[i].path, child, sizeof(child));
        fn(c, child, &e[i], arg);
    }
    ember_dfs_free_list(e, n);
}

/* target + "/" + rel into out (DFS_PATH_MAX bytes): where an entry of a
 * directory copy goes.  0, or -1 after an error line. */
static int copy_place(dfs_cli *c, const char *target, const char *rel, char *out) {
    int n = snprintf(out, DFS_PATH_MAX, "%s%s%s", target,
                     target[strlen(target) - 1] == '/' ? "" : "/", rel);
    if (n < 0 || n >= DFS_PATH_MAX) {
        cli_error("%s: `%.100s...': path too long", c->cmd, target);
        c->failed = 1;
        return -1;
    }
    return 0;
}

/* What a directory copy does with each entry of its source: a directory
 * made (or taken) at dst -- 0, or -1 after an error line, and its
 * contents are then left out -- and a file copied to dst. */
typedef struct {
    int (*make_dir)(dfs_cli *c, const char *dst);
    void (*copy_file)(dfs_cli *c, const char *src, const char *dst, int force);
} tree_copier;

/* Where a directory copy goes, and how. */
typedef struct {
    const char *target;
    int force;
    const tree_copier *cp;
} tree_copy;

/* One entry of a directory copy: made or copied at target + its path
 * below the source; 1 leaves out what is below a directory not made. */
static int copy_dfs_entry(dfs_cli *c, const cli_tree_entry *e, void *arg) {
    const tree_copy *t = arg;
    char dst[DFS_PATH_MAX];
    if (copy_place(c, t->target, e->rel, dst) != 0)
        return 1;
    if (e->st->is_dir)
        return t->cp->make_dir(c, dst) != 0;
    t->cp->copy_file(c, e->path, dst, t->force);
    return 0;
}

/* A file system directory src copied into target with cp's make_dir and
 * copy_file (-cp into the file system, -get to the local disk): target
 * made, then every entry below src in pre-order (dfs_walk()). */
static void copy_dfs_tree(dfs_cli *c, const char *src, const char *target, int force,
                          const tree_copier *cp) {
    tree_copy t = {.target = target, .force = force, .cp = cp};
    if (cp->make_dir(c, target) == 0)
        dfs_walk(c, src, copy_dfs_entry, &t);
}

/* -cp of one file of a directory. */
static void cp_file(dfs_cli *c, const char *src, const char *dst, int force) {
    copy_in_file(c, src, src, 1, dst, force);
}

static const tree_copier cp_copier = {copy_target_dir, cp_file};

/* A local entry waiting to be copied by -put: its path and where it goes. */
typedef struct {
    char *src, *dst; /* malloc'd */
} put_entry;

/* The stack of -put's walk of a local tree. */
typedef struct {
    put_entry *e; /* malloc'd, n used of cap */
    size_t n, cap;
} put_stack;

/* Pushes copies of src and dst; 0, or -1 after an error line. */
static int put_push(dfs_cli *c, put_stack *s, const char *src, const char *dst) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        put_entry *e = realloc(s->e, cap * sizeof(*e));
        if (e == NULL)
            goto fail;
        s->e = e;
        s->cap = cap;
    }
    put_entry *top = &s->e[s->n];
    top->src = strdup(src);
    top->dst = strdup(dst);
    if (top->src != NULL && top->dst != NULL) {
        s->n++;
        return 0;
    }
    free(top->src);
    free(top->dst);
fail:
    cli_error("%s: out of memory", c->cmd);
    c->failed = 1;
    return -1;
}

/* Pushes the entries of the local directory src, to go into dst, in
 * reverse name order (so that they are popped in name order). */
static void put_push_entries(dfs_cli *c, put_stack *s, const char *src, const char *dst) {
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
            put_push(c, s, child_src, child_dst);
        }
        free(names[i]);
    }
    free(names);
}

/* A local directory of -put copied into target, as Hadoop copies
 * directories: target made when absent, merged into when a directory
 * already (a file there is refused unless force), every entry in
 * pre-order and name order.  Entries that are neither files nor
 * directories (after following symbolic links) are refused one by one.
 * The walk is a stack of entries on the heap, so any depth costs no C
 * stack. */
static void put_tree(dfs_cli *c, const char *src, const char *target, int force) {
    put_stack s = {0};
    put_push(c, &s, src, target);
    while (s.n > 0) {
        put_entry e = s.e[--s.n];
        struct stat sb;
        if (stat(e.src, &sb) != 0) {
            cli_error("%s: `%s': %s", c->cmd, e.src, strerror(errno));
            c->failed = 1;
        } else if (S_ISDIR(sb.st_mode)) {
            if (copy_target_dir(c, e.dst) == 0)
                put_push_entries(c, &s, e.src, e.dst);
        } else if (S_ISREG(sb.st_mode)) {
            copy_in_file(c, e.src, e.src, 0, e.dst, force);
        } else {
            cli_error("%s: `%s': not a regular file or directory", c->cmd, e.src);
            c->failed = 1;
        }
        free(e.src);
        free(e.dst);
    }
    free(s.e);
}

/* Whether dst is src or lies under it (a directory copied into itself). */
static int dfs_under(const char *src, const char *dst) {
    size_t n = strlen(src);
    if (n == 1 && src[0] == '/')
        return 1;
    return strncmp(src, dst, n) == 0 && (dst[n] == '\0' || dst[n] == '/');
}

/* A file system source argument resolved into src, and whether it is a
 * directory; 0, or -1 after an error line. */
static int dfs_source(dfs_cli *c, const char *arg, char *src, int *is_dir) {
    ember_file_status st;
    if (dfs_arg(c, arg, src) != 0)
        return -1;
    if (ember_dfs_stat(c->dfs, src, &st) != EMBER_OK) {
        dfs_fail(c);
        return -1;
    }
    *is_dir = st.is_dir;
    ember_dfs_free_status(&st);
    return 0;
}

/* One source of -put or -cp into dst (a directory when dst_dir): a file,
 * or a directory copied recursively. */
static void copy_in_one(dfs_cli *c, const char *arg, const char *dst, int dst_dir, int from_dfs,
                        int force) {
    char src[DFS_PATH_MAX], target[DFS_PATH_MAX];
    int is_dir = 0;
    if (from_dfs) {
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
        copy_in_file(c, src, arg, from_dfs, target, force);
    } else if (from_dfs && dfs_under(src, target)) {
        cli_error("%s: `%s' to `%s': is a subdirectory of itself", c->cmd, src, target);
        c->failed = 1;
    } else if (from_dfs) {
        copy_dfs_tree(c, src, target, force, &cp_copier);
    } else {
        put_tree(c, src, target, force);
    }
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

/* -put / -copyFromLocal [-f] LOCALSRC... DST and -cp [-f] SRC... DST. */
int cmd_copy_in(dfs_cli *c, int argc, char **argv, int from_dfs) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "f", seen);
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
    for (int k = i; k < argc - 1; k++)
        copy_in_one(c, argv[k], dst, dst_dir, from_dfs, seen['f']);
    return c->failed;
}

/* Copies the rest of in to a local fd; 0, or -1 after an error line
 * (local errors name `name'). */
static int copy_out(dfs_cli *c, ember_dfs_file *in, int fd, const char *name) {
    uint8_t *buf = malloc(DFS_COPY_CHUNK);
    if (buf == NULL) {
        cli_error("%s: out of memory", c->cmd);
        c->failed = 1;
        return -1;
    }
    int rc = 0;
    for (;;) {
        size_t got;
        if (ember_dfs_read(in, buf, DFS_COPY_CHUNK, &got) != EMBER_OK) {
            dfs_fail(c);
            rc = -1;
            break;
        }
        if (got == 0)
            break;
        if (dfs_write_local(fd, buf, got) != 0) {
            cli_error("%s: `%s': %s", c->cmd, name, strerror(errno));
            c->failed = 1;
            rc = -1;
            break;
        }
    }
    free(buf);
    return rc;
}

/* One file of -get: src (resolved) into the local target, through
 * target._COPYING_ renamed to target once complete. */
static void get_file(dfs_cli *c, const char *src, const char *target, int force) {
    char tmp[DFS_PATH_MAX + 16];
    ember_dfs_file *in = NULL;
    int fd = -1;
    if (ember_dfs_open(c->dfs, src, &in) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    struct stat sb;
    if (stat(target, &sb) == 0 && (S_ISDIR(sb.st_mode) || !force)) {
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
    int failed = copy_out(c, in, fd, target) != 0;
    if (close(fd) != 0 && !failed) {
        cli_error("%s: `%s': %s", c->cmd, target, strerror(errno));
        c->failed = failed = 1;
    }
    fd = -1;
    if (!failed && rename(tmp, target) != 0) {
        cli_error("%s: `%s': %s", c->cmd, target, strerror(errno));
        c->failed = failed = 1;
    }
    if (failed)
        unlink(tmp);
out:
    ember_dfs_close_file(in);
}

/* -get's directory: the local target made when absent, taken when a
 * directory already (merged into); 0, or -1 after an error line. */
static int get_target_dir(dfs_cli *c, const char *target) {
    struct stat sb;
    const char *why = NULL;
    if (stat(target, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            why = "File exists";
    } else if (mkdir(target, 0777) != 0) {
        why = strerror(errno);
    }
    if (why == NULL)
        return 0;
    cli_error("%s: `%s': %s", c->cmd, target, why);
    c->failed = 1;
    return -1;
}

static const tree_copier get_copier = {get_target_dir, get_file};

/* One source of -get into dst (a local directory when dst_dir): a file,
 * or a directory copied recursively. */
static void get_one(dfs_cli *c, const char *arg, const char *dst, int dst_dir, int force) {
    char src[DFS_PATH_MAX], target[DFS_PATH_MAX];
    int is_dir;
    if (dfs_source(c, arg, src, &is_dir) != 0)
        return;
    if (dst_dir) {
        if (dfs_child(c, dst, src, target) != 0)
            return;
    } else {
        snprintf(target, sizeof(target), "%s", dst);
    }
    if (is_dir)
        copy_dfs_tree(c, src, target, force, &get_copier);
    else
        get_file(c, src, target, force);
}

/* -get / -copyToLocal [-f] SRC... LOCALDST */
int cmd_get(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "f", seen);
    if (i < 0)
        return 2;
    int nsrc = argc - i - 1;
    if (nsrc < 1) {
        cli_error("%s: needs a source and a local destination", c->cmd);
        return 2;
    }
    const char *dst = argv[argc - 1];
    struct stat sb;
    int exists = stat(dst, &sb) == 0;
    int dst_dir = exists && S_ISDIR(sb.st_mode);
    if (nsrc > 1 && !dst_dir) {
        cli_error("%s: `%s': %s", c->cmd, dst,
                  exists ? "Is not a directory" : "No such file or directory");
        return 1;
    }
    for (int k = i; k < argc - 1; k++)
        get_one(c, argv[k], dst, dst_dir, seen['f']);
    return c->failed;
}

/* -cat PATH...: each file to stdout, in order. */
int cmd_cat(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "", seen);
    if (i < 0 || i == argc) {
        if (i == argc)
            cli_error("cat: needs a path");
        return 2;
    }
    fflush(stdout);
    char path[DFS_PATH_MAX];
    for (; i < argc; i++) {
        ember_dfs_file *in;
        if (dfs_arg(c, argv[i], path) != 0)
            continue;
        if (ember_dfs_open(c->dfs, path, &in) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        copy_out(c, in, STDOUT_FILENO, "stdout");
        ember_dfs_close_file(in);
    }
    return c->failed;
}

/* Prints path's bytes from offset on (none when it is shorter); *end
 * gets its length.  0, or -1 after an error line. */
static int tail_from(dfs_cli *c, const char *path, uint64_t offset, uint64_t *end) {
    ember_dfs_file *in;
    if (ember_dfs_open(c->dfs, path, &in) != EMBER_OK) {
        dfs_fail(c);
        return -1;
    }
    int rc = 0;
    *end = ember_dfs_file_length(in);
    if (*end > offset) {
        if (ember_dfs_seek(in, offset) != EMBER_OK) {
            dfs_fail(c);
            rc = -1;
        } else {
            fflush(stdout);
            rc = copy_out(c, in, STDOUT_FILENO, "stdout");
        }
    }
    ember_dfs_close_file(in);
    return rc;
}

/* -tail [-f] [-s MS] PATH: the last kilobyte; with -f, then what is
 * appended, looking every MS milliseconds (Hadoop's 5000 by default),
 * until interrupted or the file goes away.  A file that looks shorter for
 * a while -- while an append rewrites its last block, the length counts
 * only its complete blocks -- is waited for: printing goes on from the
 * offset reached. */
int cmd_tail(dfs_cli *c, int argc, char **argv) {
    int follow = 0;
    long sleep_ms = 5000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        char *end;
        if (strcmp(argv[i], "-f") == 0) {
            follow = 1;
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc &&
                   (sleep_ms = strtol(argv[i + 1], &end, 10)) > 0 && *end == '\0' &&
                   sleep_ms <= 3600000) {
            i++;
        } else {
            cli_error("tail: bad option '%s' (options: -f, -s MILLISECONDS)", argv[i]);
            return 2;
        }
    }
    if (argc - i != 1) {
        cli_error("tail: needs one path");
        return 2;
    }
    char path[DFS_PATH_MAX];
    if (dfs_arg(c, argv[i], path) != 0)
        return 1;
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, path, &st) != EMBER_OK) {
        dfs_fail(c);
        return 1;
    }
    uint64_t len = st.length, offset = len > DFS_TAIL_BYTES ? len - DFS_TAIL_BYTES : 0;
    ember_dfs_free_status(&st);
    while (tail_from(c, path, offset, &len) == 0 && follow) {
        if (len > offset)
            offset = len;
        fflush(stdout);
        struct timespec ts = {.tv_sec = sleep_ms / 1000, .tv_nsec = (sleep_ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    return c->failed;
}

/* -head PATH: the first kilobyte (Hadoop 3.1's -head). */
int cmd_head(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "", seen);
    if (i < 0 || argc - i != 1) {
        if (i >= 0)
            cli_error("head: needs one path");
        return 2;
    }
    char path[DFS_PATH_MAX];
    ember_dfs_file *in;
    if (dfs_arg(c, argv[i], path) != 0)
        return 1;
    if (ember_dfs_open(c->dfs, path, &in) != EMBER_OK) {
        dfs_fail(c);
        return 1;
    }
    uint8_t buf[DFS_TAIL_BYTES];
    size_t have = 0, got = 1;
    while (have < sizeof(buf) && got > 0) {
        if (ember_dfs_read(in, buf + have, sizeof(buf) - have, &got) != EMBER_OK) {
            dfs_fail(c);
            break;
        }
        have += got;
    }
    fflush(stdout);
    if (dfs_write_local(STDOUT_FILENO, buf, have) != 0) {
        cli_error("head: stdout: %s", strerror(errno));
        c->failed = 1;
    }
    ember_dfs_close_file(in);
    return c->failed;
}

/* Where -getmerge writes, and how. */
typedef struct {
    int fd;
    const char *dst;
    int nl;         /* -nl: a newline after each file */
    int skip_empty; /* -skip-empty-file */
} merge_out;

/* One file of -getmerge appended to m->fd; -nl adds a newline after it,
 * -skip-empty-file leaves an empty one out altogether. */
static void getmerge_file(dfs_cli *c, const char *path, const merge_out *m) {
    ember_dfs_file *in;
    if (ember_dfs_open(c->dfs, path, &in) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    int empty = ember_dfs_file_length(in) == 0;
    if (!(empty && m->skip_empty) && copy_out(c, in, m->fd, m->dst) == 0 && m->nl &&
        dfs_write_local(m->fd, (const uint8_t *)"\n", 1) != 0) {
        cli_error("getmerge: `%s': %s", m->dst, strerror(errno));
        c->failed = 1;
    }
    ember_dfs_close_file(in);
}

/* A directory's entry for -getmerge: files only. */
static void getmerge_entry(dfs_cli *c, const char *path, const ember_file_status *st, void *arg) {
    if (!st->is_dir)
        getmerge_file(c, path, arg);
}

/* -getmerge [-nl] [-skip-empty-file] SRC... LOCALDST: the files of each
 * SRC -- a file, or a directory's files (not its subdirectories) in name
 * order -- concatenated into one local file, replaced if there. */
int cmd_getmerge(dfs_cli *c, int argc, char **argv) {
    merge_out m = {.fd = -1};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-nl") == 0) {
            m.nl = 1;
        } else if (strcmp(argv[i], "-skip-empty-file") == 0) {
            m.skip_empty = 1;
        } else {
            cli_error("getmerge: unknown option '%s' (options: -nl, -skip-empty-file)", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2) {
        cli_error("getmerge: needs a source and a local destination");
        return 2;
    }
    m.dst = argv[argc - 1];
    m.fd = open(m.dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (m.fd < 0) {
        cli_error("getmerge: `%s': %s", m.dst, strerror(errno));
        return 1;
    }
    for (; i < argc - 1; i++) {
        char src[DFS_PATH_MAX];
        int is_dir;
        if (dfs_source(c, argv[i], src, &is_dir) != 0)
            continue;
        if (is_dir)
            dfs_each(c, src, getmerge_entry, &m);
        else
            getmerge_file(c, src, &m);
    }
    if (close(m.fd) != 0 && !c->failed) {
        cli_error("getmerge: `%s': %s", m.dst, strerror(errno));
        c->failed = 1;
    }
    return c->failed;
}

/* -find's expression: each test must hold (an implicit -a between them);
 * with no -print or -print0, every match is printed on its own line. */
typedef struct {
    const char *pattern[16]; /* -name / -iname globs */
    int fold[16];            /* -iname: case-insensitive */
    size_t npattern;
    int print0;              /* -print0: NUL-terminated output */
} find_expr;

/* A lower-cased copy of s in out (ASCII, as Hadoop's -iname). */
static void find_lower(const char *s, char *out, size_t len) {
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

static int find_matches(const find_expr *x, const char *path) {
    char name[DFS_PATH_MAX], lname[DFS_PATH_MAX], lpat[DFS_PATH_MAX];
    dfs_basename(path, name, sizeof(name));
    for (size_t i = 0; i < x->npattern; i++) {
        if (!x->fold[i] && fnmatch(x->pattern[i], name, 0) != 0)
            return 0;
        if (x->fold[i]) {
            find_lower(name, lname, sizeof(lname));
            find_lower(x->pattern[i], lpat, sizeof(lpat));
            if (fnmatch(lpat, lname, 0) != 0)
                return 0;
        }
    }
    return 1;
}

/* Prints path when it matches. */
static void find_print(const find_expr *x, const char *path) {
    if (find_matches(x, path)) {
        fputs(path, stdout);
        putchar(x->print0 ? '\0' : '\n');
    }
}

static int find_entry(dfs_cli *c, const cli_tree_entry *e, void *arg) {
    (void)c;
    find_print(arg, e->path);
    return 0;
}

/* path, then with is_dir every entry below it (dfs_walk()), each printed
 * when it matches, in pre-order as find does. */
static void find_walk(dfs_cli *c, const find_expr *x, const char *path, int is_dir) {
    find_print(x, path);
    if (is_dir)
        dfs_walk(c, path, find_entry, (void *)x);
}

/* -find PATH... [-name GLOB | -iname GLOB | -print | -print0]...: every
 * path at or below PATH whose last component matches all the globs. */
int cmd_find(dfs_cli *c, int argc, char **argv) {
    find_expr x = {.npattern = 0};
    int first = 1, i = 1;
    while (i < argc && argv[i][0] != '-')
        i++;
    int npaths = i - first;
    for (; i < argc; i++) {
        int fold = strcmp(argv[i], "-iname") == 0;
        if ((fold || strcmp(argv[i], "-name") == 0) && i + 1 < argc &&
            x.npattern < sizeof(x.pattern) / sizeof(x.pattern[0])) {
            x.fold[x.npattern] = fold;
            x.pattern[x.npattern++] = argv[++i];
        } else if (strcmp(argv[i], "-print") == 0 || strcmp(argv[i], "-print0") == 0) {
            x.print0 = argv[i][6] == '0';
        } else {
            cli_error("find: unexpected argument '%s' (expressions: -name GLOB, -iname GLOB, "
                      "-print, -print0)",
                      argv[i]);
            return 2;
        }
    }
    if (npaths == 0) {
        cli_error("find: needs a path");
        return 2;
    }
    for (i = first; i < first + npaths; i++) {
        char path[DFS_PATH_MAX];
        int is_dir;
        if (dfs_source(c, argv[i], path, &is_dir) == 0)
            find_walk(c, &x, path, is_dir);
    }
    fflush(stdout);
    return c->failed;
}

/* -df [-h] [PATH...]: the file system's size, use and space left,
 * summed over the live core nodes, in Hadoop's table (every path is on
 * the one file system, so one row). */
int cmd_df(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "h", seen);
    if (i < 0)
        return 2;
    for (; i < argc; i++) {
        char path[DFS_PATH_MAX];
        int is_dir;
        if (dfs_source(c, argv[i], path, &is_dir) != 0)
            return 1;
    }
    ReportRequest rq = REPORT_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_REPORT_REQUEST;
    req.report_request = &rq;
    ClientMessage *resp;
    if (cli_request(c->env, &req, CLIENT_MESSAGE__BODY_REPORT_RESPONSE, &resp, NULL) != 0)
        return 1;
    const ReportResponse *r = resp->report_response;
    uint64_t cap = 0, used = 0, rem = 0;
    for (size_t k = 0; k < r->n_nodes; k++) {
        const NodeReport *n = r->nodes[k];
        if (n->role == NODE_ROLE__ROLE_CORE && n->live && n->storage != NULL) {
            cap += n->storage->capacity_bytes;
            used += n->storage->used_bytes;
            rem += n->storage->remaining_bytes;
        }
    }
    char fs[300], size[32], usedb[32], avail[32], pct[16];
    snprintf(fs, sizeof(fs), "hdfs://%s",
             r->primary != NULL && r->primary->hostname[0] ? r->primary->hostname : "localhost");
    dfs_format_size(cap, seen['h'], size, sizeof(size));
    dfs_format_size(used, seen['h'], usedb, sizeof(usedb));
    dfs_format_size(rem, seen['h'], avail, sizeof(avail));
    snprintf(pct, sizeof(pct), "%.0f%%", cap ? 100.0 * (double)used / (double)cap : 0.0);
    int w[5] = {(int)strlen(fs), (int)strlen(size), (int)strlen(usedb), (int)strlen(avail),
                (int)strlen(pct)};
    static const char *const head[5] = {"Filesystem", "Size", "Used", "Available", "Use%"};
    for (int k = 0; k < 5; k++)
        if ((int)strlen(head[k]) > w[k])
            w[k] = (int)strlen(head[k]);
    printf("%-*s  %*s  %*s  %*s  %*s\n", w[0], head[0], w[1], head[1], w[2], head[2], w[3],
           head[3], w[4], head[4]);
    printf("%-*s  %*s  %*s  %*s  %*s\n", w[0], fs, w[1], size, w[2], usedb, w[3], avail, w[4],
           pct);
    client_message__free_unpacked(resp, NULL);
    return 0;
}

/* nftw() callback of -moveFromLocal: removes what it is given (depth
 * first, so a directory is empty by then). */
static int move_remove(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

/* -moveFromLocal LOCALSRC... DST: -put, then each local source that was
 * copied without an error is removed. */
int cmd_move_from_local(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "", seen);
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
        copy_in_one(c, argv[k], dst, dst_dir, 0, 0);
        if (!c->failed && nftw(argv[k], move_remove, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            cli_error("moveFromLocal: `%s': copied, but not removed: %s", argv[k],
                      strerror(errno));
            c->failed = 1;
        }
        any_failed |= c->failed;
    }
    return any_failed;
}

/* -checksum PATH...: Hadoop's line per file, "PATH<TAB>ALGORITHM<TAB>HEX"
 * (the path printed as -ls prints it, absolute). */
int cmd_checksum(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "", seen);
    if (i < 0 || i == argc) {
        if (i == argc)
            cli_error("checksum: needs a path");
        return 2;
    }
    char path[DFS_PATH_MAX];
    for (; i < argc; i++) {
        ember_dfs_checksum sum;
        if (dfs_arg(c, argv[i], path) != 0)
            continue;
        if (ember_dfs_get_checksum(c->dfs, path, &sum) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        printf("%s\t%s\t", path, sum.algorithm);
        for (size_t k = 0; k < sum.length; k++)
            printf("%02x", sum.bytes[k]);
        putchar('\n');
    }
    return c->failed;
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

