/* cli_dfs_data.c -- the `ember dfs` verbs that read file data: -cat,
 * -head, -tail [-f], -getmerge, -checksum, and -find and -df, which walk
 * or measure the file system; and the helpers the copy verbs share
 * (cli_dfs_put.c: -put, -cp, -moveFromLocal, -appendToFile;
 * cli_dfs_get.c: -get, -moveToLocal).  See cli_dfs.c for the run, the
 * paths and the exit status.  -checksum asks the datanodes for each
 * block's checksum (ember_dfs_get_checksum); -df asks the primary for the
 * datanodes' report. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_dfs.h"
#include "common/error.h"

/* ---- file data ------------------------------------------------------------- */

#define DFS_TAIL_BYTES 1024          /* -tail: Hadoop's last kilobyte */

void dfs_basename(const char *path, char *out, size_t len) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, len, "%.*s", (int)(end - start), path + start);
}

int dfs_child(dfs_cli *c, const char *dir, const char *src, char *out) {
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

int dfs_write_local(int fd, const uint8_t *buf, size_t len) {
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

int dfs_source(dfs_cli *c, const char *arg, char *src, int *is_dir) {
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

int dfs_copy_out(dfs_cli *c, ember_dfs_file *in, int fd, const char *name) {
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

int dfs_place(dfs_cli *c, const char *target, const char *rel, char *out) {
    int n = snprintf(out, DFS_PATH_MAX, "%s%s%s", target,
                     target[strlen(target) - 1] == '/' ? "" : "/", rel);
    if (n < 0 || n >= DFS_PATH_MAX) {
        cli_error("%s: `%.100s...': path too long", c->cmd, target);
        c->failed = 1;
        return -1;
    }
    return 0;
}

/* Where a tree copy goes, and how. */
typedef struct {
    const char *target;
    const dfs_tree_copier *cp;
    void *arg;
} tree_copy;

/* One entry of a tree copy: made or copied at target + its path below
 * the source; 1 leaves out what is below a directory not made. */
static int dfs_copy_entry(dfs_cli *c, const cli_tree_entry *e, void *arg) {
    const tree_copy *t = arg;
    char dst[DFS_PATH_MAX];
    if (dfs_place(c, t->target, e->rel, dst) != 0)
        return 1;
    if (e->st->is_dir)
        return t->cp->make_dir(c, dst, e->st, t->arg) != 0;
    t->cp->copy_file(c, e->path, dst, e->st, t->arg);
    return 0;
}

void dfs_copy_tree(dfs_cli *c, const char *src, const char *target, const dfs_tree_copier *cp,
                   void *arg) {
    tree_copy t = {.target = target, .cp = cp, .arg = arg};
    dfs_walk(c, src, dfs_copy_entry, &t);
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
        dfs_copy_out(c, in, STDOUT_FILENO, "stdout");
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
            rc = dfs_copy_out(c, in, STDOUT_FILENO, "stdout");
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
    if (!(empty && m->skip_empty) && dfs_copy_out(c, in, m->fd, m->dst) == 0 && m->nl &&
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

