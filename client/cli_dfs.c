/* cli_dfs.c -- `ember dfs`: Hadoop's `hadoop fs` verbs on ember's HDFS.
 *
 *   ember dfs [-D key=value ...] -COMMAND [options] ARGS
 * Paths are absolute ("/a"), hdfs:// URIs ("hdfs:///a", "hdfs://host:port/a")
 * or relative to /user/$USER.  Output follows Hadoop's formats.  A failing
 * path prints one line ("ember: ls: `/x': No such file or directory") and
 * the command goes on with the next path; the exit status is 1 when any
 * path failed, 2 on bad usage.  This file has the run (generic -D
 * options, the connection, the dfs_commands table that dispatches every
 * verb), paths and formats, and the namespace verbs, which talk to the
 * namenode alone (-mkdir, -touchz, -rm, -rmdir, -mv, -stat, -test,
 * -chmod, -chown, -chgrp, -setrep [-w] -- which polls the block locations
 * until the replicas match --); cli_dfs_ls.c has -ls, cli_dfs_du.c -du
 * and -count, cli_dfs_touch.c -touch and -truncate, cli_dfs_text.c -text,
 * cli_dfs_data.c the verbs that move file data, cli_dfs_usage.c every
 * verb's usage and help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_dfs.h"
#include "common/config.h"
#include "common/error.h"

/* ---- paths and formats --------------------------------------------------- */

/* "drwxr-xr-x" */
void dfs_format_mode(uint32_t mode, int is_dir, char out[11]) {
    static const char rwx[] = "rwxrwxrwx";
    out[0] = is_dir ? 'd' : '-';
    for (int i = 0; i < 9; i++)
        out[i + 1] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
    if (mode & 01000)
        out[9] = (mode & 1) ? 't' : 'T';
    out[10] = '\0';
}

void dfs_format_time(int64_t ms, int seconds, char *out, size_t len) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
}

/* -h sizes as Hadoop's TraditionalBinaryPrefix.long2String(n, "", 1):
 * below 1024 the number itself; a whole multiple of its prefix without
 * decimals ("2 K", "1 M"); otherwise one decimal ("1.5 K", "293.0 K"),
 * rounding up into the next prefix when it reaches 1024. */
void dfs_format_size(uint64_t n, int human, char *out, size_t len) {
    static const char units[] = "KMGTPE";
    if (!human || n < 1024) {
        snprintf(out, len, "%llu", (unsigned long long)n);
        return;
    }
    int u = 0; /* n >= 1024 << (10 * u) */
    while (u < 5 && n >= (1ull << (10 * (u + 2))))
        u++;
    unsigned shift = 10 * (unsigned)(u + 1);
    if ((n & ((1ull << shift) - 1)) == 0) {
        snprintf(out, len, "%llu %c", (unsigned long long)(n >> shift), units[u]);
        return;
    }
    double v = (double)n / (double)(1ull << shift);
    snprintf(out, len, "%.1f", v);
    if (strncmp(out, "1024", 4) == 0 && u < 5) {
        u++;
        v /= 1024;
        snprintf(out, len, "%.1f", v);
    }
    size_t used = strlen(out);
    snprintf(out + used, len - used, " %c", units[u]);
}

/* Prints the error of the last call on path and marks the command failed. */
void dfs_fail(dfs_cli *c) {
    cli_error("%s: %s", c->cmd, ember_dfs_last_error(c->dfs));
    c->failed = 1;
}

void dfs_warn(dfs_cli *c) {
    if (ember_dfs_last_warning(c->dfs)[0] != '\0')
        fprintf(stderr, "ember: %s: warning: %s\n", c->cmd, ember_dfs_last_warning(c->dfs));
}

/* Joins dir and name. */
void dfs_join(const char *dir, const char *name, char *out, size_t len) {
    const char *sep = dir[0] == '\0' || strcmp(dir, "/") == 0 ? "" : "/";
    int n = snprintf(out, len, "%s%s%s", dir, sep, name);
    if (n < 0 || (size_t)n >= len)
        out[len - 1] = '\0'; /* the namenode refuses a path this long anyway */
}

/* Parses leading single-letter flags from "allowed" into seen[]; returns
 * the index of the first operand, or -1 (after an error line) for an
 * unknown flag. */
int dfs_flags(dfs_cli *c, int argc, char **argv, const char *allowed, int seen[128]) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        for (const char *f = argv[i] + 1; *f; f++) {
            if (strchr(allowed, *f) == NULL || (unsigned char)*f >= 128) {
                dfs_usage_error(c->cmd, "Illegal option -%c", *f);
                return -1;
            }
            seen[(int)*f] = 1;
        }
    }
    return i;
}

void dfs_walk(dfs_cli *c, const char *dir, dfs_walk_fn fn, void *arg) {
    cli_tree *t;
    if (cli_tree_open(c->dfs, dir, &t) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    cli_tree_entry e;
    int rc;
    while ((rc = cli_tree_next(t, &e)) != 0) {
        if (rc < 0)
            dfs_fail(c);
        else if (fn(c, &e, arg) != 0)
            cli_tree_skip(t);
    }
    cli_tree_close(t);
}

/* ---- commands ------------------------------------------------------------- */

/* Resolves argv[i] into path, printing the error and marking failure. */
int dfs_arg(dfs_cli *c, const char *arg, char *path) {
    char err[512];
    if (cli_dfs_resolve(c->env, arg, path, DFS_PATH_MAX, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s: %s", c->cmd, err);
        c->failed = 1;
        return -1;
    }
    return 0;
}

static int cmd_mkdir(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "p", seen);
    if (i < 0 || i == argc) {
        if (i == argc)
            cli_error("mkdir: needs a path");
        return 2;
    }
    char path[DFS_PATH_MAX];
    for (; i < argc; i++)
        if (dfs_arg(c, argv[i], path) == 0 && ember_dfs_mkdirs(c->dfs, path, 0, seen['p']))
            dfs_fail(c);
    return c->failed;
}

static int cmd_touchz(dfs_cli *c, int argc, char **argv) {
    if (argc < 2) {
        cli_error("touchz: needs a path");
        return 2;
    }
    ember_create_options opts = {.replication = c->replication, .block_size = c->block_size};
    char path[DFS_PATH_MAX];
    for (int i = 1; i < argc; i++) {
        if (dfs_arg(c, argv[i], path) != 0)
            continue;
        int rc = ember_dfs_create_empty(c->dfs, path, &opts);
        if (rc == EMBER_EEXIST) {
            /* Hadoop: an existing empty file is fine, anything else is not. */
            ember_file_status st;
            if (ember_dfs_stat(c->dfs, path, &st) == EMBER_OK) {
                int empty_file = !st.is_dir && st.length == 0;
                ember_dfs_free_status(&st);
                if (empty_file)
                    continue;
                cli_error("touchz: `%s': Not a zero-length file", path);
                c->failed = 1;
                continue;
            }
        }
        if (rc != EMBER_OK)
            dfs_fail(c);
        else
            dfs_warn(c);
    }
    return c->failed;
}

static int cmd_rm(dfs_cli *c, int argc, char **argv, int rmdir) {
    int seen[128] = {0};
    /* -skipTrash (and -safely) are whole options, as Hadoop parses them. */
    char *kept[argc + 1];
    int nkept = 0, skip_trash = rmdir;
    for (int j = 0; j < argc; j++) {
        int option_zone = j > 0 && argv[j][0] == '-';
        if (!rmdir && option_zone && strcmp(argv[j], "-skipTrash") == 0) {
            skip_trash = 1;
            continue;
        }
        if (!rmdir && option_zone && strcmp(argv[j], "-safely") == 0)
            continue;
        kept[nkept++] = argv[j];
    }
    kept[nkept] = NULL;
    argc = nkept;
    argv = kept;
    int i = dfs_flags(c, argc, argv, rmdir ? "" : "rRf", seen);
    if (i < 0)
        return 2;
    if (i == argc) {
        cli_error("%s: needs a path", c->cmd);
        return 2;
    }
    int recursive = seen['r'] || seen['R'];
    char path[DFS_PATH_MAX];
    for (; i < argc; i++) {
        if (dfs_arg(c, argv[i], path) != 0)
            continue;
        ember_file_status st;
        int rc = ember_dfs_stat(c->dfs, path, &st);
        if (rc == EMBER_ENOENT && seen['f'])
            continue;
        if (rc != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        int is_dir = st.is_dir;
        ember_dfs_free_status(&st);
        if (rmdir && !is_dir) {
            cli_error("rmdir: `%s': Is not a directory", path);
            c->failed = 1;
            continue;
        }
        if (!rmdir && is_dir && !recursive) {
            cli_error("rm: `%s': Is a directory", path);
            c->failed = 1;
            continue;
        }
        if (!skip_trash && dfs_trash_move(c, path) != 0)
            continue; /* in the trash now, or failed with its line */
        if (ember_dfs_delete(c->dfs, path, recursive) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        if (!rmdir)
            printf("Deleted %s\n", path);
    }
    return c->failed;
}

static int cmd_mv(dfs_cli *c, int argc, char **argv) {
    if (argc < 3) {
        cli_error("mv: needs a source and a destination");
        return 2;
    }
    char dst[DFS_PATH_MAX], src[DFS_PATH_MAX];
    if (dfs_arg(c, argv[argc - 1], dst) != 0)
        return 1;
    if (argc > 3) {
        ember_file_status st;
        int is_dir = ember_dfs_stat(c->dfs, dst, &st) == EMBER_OK && st.is_dir;
        if (st.path != NULL)
            ember_dfs_free_status(&st);
        if (!is_dir) {
            cli_error("mv: `%s': Is not a directory", dst);
            return 1;
        }
    }
    for (int i = 1; i < argc - 1; i++)
        if (dfs_arg(c, argv[i], src) == 0 && ember_dfs_rename(c->dfs, src, dst, NULL, 0))
            dfs_fail(c);
    return c->failed;
}

/* -stat's format: %b %F %g %n %o %r %u %y %Y %a %A (Hadoop's set). */
static void stat_print(const char *fmt, const char *path, const ember_file_status *st) {
    for (const char *f = fmt; *f; f++) {
        if (*f != '%' || f[1] == '\0') {
            putchar(*f);
            continue;
        }
        char buf[64];
        const char *name = strrchr(path, '/');
        switch (*++f) {
        case 'b': printf("%llu", (unsigned long long)st->length); break;
        case 'F': fputs(st->is_dir ? "directory" : st->length ? "regular file"
                                                              : "regular empty file", stdout);
            break;
        case 'g': fputs(st->group, stdout); break;
        case 'u': fputs(st->owner, stdout); break;
        case 'n': fputs(name && name[1] ? name + 1 : path, stdout); break;
        case 'o': printf("%llu", (unsigned long long)st->block_size); break;
        case 'r': printf("%u", st->replication); break;
        case 'y': dfs_format_time(st->mtime_ms, 1, buf, sizeof(buf)); fputs(buf, stdout); break;
        case 'Y': printf("%lld", (long long)st->mtime_ms); break;
        case 'x': dfs_format_time(st->atime_ms, 1, buf, sizeof(buf)); fputs(buf, stdout); break;
        case 'X': printf("%lld", (long long)st->atime_ms); break;
        case 'a': printf("%o", st->mode); break;
        case 'A': dfs_format_mode(st->mode, st->is_dir, buf); fputs(buf + 1, stdout); break;
        case '%': putchar('%'); break;
        default: putchar('%'); putchar(*f); break;
        }
    }
    putchar('\n');
}

static int cmd_stat(dfs_cli *c, int argc, char **argv) {
    if (argc < 2) {
        cli_error("stat: needs a path");
        return 2;
    }
    int i = 1;
    const char *fmt = "%y";
    if (argc > 2 && strchr(argv[1], '%') != NULL)
        fmt = argv[i++];
    char path[DFS_PATH_MAX];
    for (; i < argc; i++) {
        ember_file_status st;
        if (dfs_arg(c, argv[i], path) != 0)
            continue;
        if (ember_dfs_stat(c->dfs, path, &st) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        stat_print(fmt, path, &st);
        ember_dfs_free_status(&st);
    }
    return c->failed;
}

/* -test -[defswrz] PATH: the answer in the exit status; -r and -w ask
 * the namenode whether the caller may read or write PATH (its
 * permission check, as Hadoop's FileSystem.access()). */
static int cmd_test(dfs_cli *c, int argc, char **argv) {
    if (argc != 3 || argv[1][0] != '-' || strlen(argv[1]) != 2 ||
        strchr("defswrz", argv[1][1]) == NULL) {
        int flags = argc > 1 && argv[1][0] == '-';
        dfs_usage_error(c->cmd, flags && (argc > 3 || strlen(argv[1]) > 2)
                                    ? "Only one test flag is allowed"
                                    : "No test flag given");
        return 2;
    }
    char path[DFS_PATH_MAX];
    if (dfs_arg(c, argv[2], path) != 0)
        return 1;
    ember_file_status st;
    int rc = ember_dfs_stat(c->dfs, path, &st);
    if (rc == EMBER_ENOENT || rc == EMBER_ENOTDIR)
        return 1;
    if (rc != EMBER_OK) {
        dfs_fail(c);
        return 1;
    }
    int ok = 1;
    switch (argv[1][1]) {
    case 'd': ok = st.is_dir; break;
    case 'f': ok = !st.is_dir; break;
    case 's': ok = st.length > 0; break;
    case 'z': ok = st.length == 0; break;
    case 'r':
    case 'w': {
        int want = argv[1][1] == 'r' ? 4 : 2;
        rc = ember_dfs_check_access(c->dfs, path, want);
        if (rc != EMBER_OK && rc != EMBER_EACCES && rc != EMBER_ENOENT)
            dfs_fail(c);
        ok = rc == EMBER_OK;
        break;
    }
    default: break; /* -e: it exists */
    }
    ember_dfs_free_status(&st);
    return ok ? 0 : 1;
}

/* Applies fn to path, and with recursive to everything below it, in
 * pre-order (a directory before what it holds, which is listed after fn
 * changed it, as Hadoop's recursive commands go). */
typedef int (*dfs_apply_fn)(dfs_cli *c, const char *path, const ember_file_status *st,
                            void *arg);

typedef struct {
    dfs_apply_fn fn;
    void *arg;
} apply_walk;

static int dfs_apply_entry(dfs_cli *c, const cli_tree_entry *e, void *arg) {
    const apply_walk *w = arg;
    if (w->fn(c, e->path, e->st, w->arg) != EMBER_OK)
        dfs_fail(c);
    return 0;
}

static void dfs_apply(dfs_cli *c, const char *path, int recursive, dfs_apply_fn fn, void *arg) {
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, path, &st) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    if (fn(c, path, &st, arg) != EMBER_OK)
        dfs_fail(c);
    int walk = recursive && st.is_dir;
    ember_dfs_free_status(&st);
    apply_walk w = {fn, arg};
    if (walk)
        dfs_walk(c, path, dfs_apply_entry, &w);
}

/* Parses an octal mode ("755") or a symbolic one ("u+x,go-w", "a=r") as
 * applied to old. */
static int dfs_parse_mode(const char *text, uint32_t old, uint32_t *out) {
    char *end;
    unsigned long v = strtoul(text, &end, 8);
    if (*text >= '0' && *text <= '7' && *end == '\0') {
        if (v > 07777)
            return EMBER_EINVAL;
        *out = (uint32_t)v;
        return EMBER_OK;
    }
    uint32_t mode = old;
    const char *p = text;
    while (*p) {
        uint32_t who = 0;
        for (; *p && strchr("ugoa", *p); p++)
            who |= *p == 'u' ? 0700 : *p == 'g' ? 0070 : *p == 'o' ? 0007 : 0777;
        if (who == 0)
            who = 0777;
        char op = *p++;
        if (op != '+' && op != '-' && op != '=')
            return EMBER_EINVAL;
        uint32_t bits = 0;
        for (; *p && strchr("rwx", *p); p++)
            bits |= *p == 'r' ? 0444 : *p == 'w' ? 0222 : 0111;
        bits &= who;
        mode = op == '+' ? mode | bits : op == '-' ? mode & ~bits : (mode & ~who) | bits;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return EMBER_EINVAL;
    }
    *out = mode;
    return EMBER_OK;
}

static int apply_chmod(dfs_cli *c, const char *path, const ember_file_status *st, void *arg) {
    uint32_t mode;
    if (dfs_parse_mode(arg, st->mode, &mode) != EMBER_OK)
        return EMBER_EINVAL;
    return ember_dfs_chmod(c->dfs, path, mode);
}

typedef struct {
    const char *owner, *group;
} chown_arg;

static int apply_chown(dfs_cli *c, const char *path, const ember_file_status *st, void *arg) {
    chown_arg *a = arg;
    return ember_dfs_chown(c->dfs, path, a->owner, a->group);
}

/* -setrep's replication and, with -w, the files set: each with the
 * replication the namenode stored (it may cap what was asked). */
typedef struct {
    uint32_t rep;
    int wait;
    char **paths; /* malloc'd, as the array */
    uint32_t *reps;
    size_t n, cap;
} setrep_arg;

/* Remembers a file for -w; 0, or EMBER_ENOMEM. */
static int setrep_remember(setrep_arg *a, const char *path, uint32_t rep) {
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 16;
        char **paths = realloc(a->paths, ncap * sizeof(*paths));
        if (paths != NULL)
            a->paths = paths;
        uint32_t *reps = realloc(a->reps, ncap * sizeof(*reps));
        if (reps != NULL)
            a->reps = reps;
        if (paths == NULL || reps == NULL)
            return EMBER_ENOMEM;
        a->cap = ncap;
    }
    if ((a->paths[a->n] = strdup(path)) == NULL)
        return EMBER_ENOMEM;
    a->reps[a->n++] = rep;
    return EMBER_OK;
}

static int apply_setrep(dfs_cli *c, const char *path, const ember_file_status *st, void *arg) {
    setrep_arg *a = arg;
    if (st->is_dir)
        return EMBER_OK; /* directories have no replication; their files do */
    int rc = ember_dfs_setrep(c->dfs, path, a->rep);
    if (rc == EMBER_OK) {
        ember_file_status now;
        uint32_t set = a->rep;
        dfs_warn(c);
        if (ember_dfs_stat(c->dfs, path, &now) == EMBER_OK) {
            set = now.replication; /* what the namenode stored (it may cap) */
            ember_dfs_free_status(&now);
        }
        printf("Replication %u set: %s\n", set, path);
        if (a->wait && setrep_remember(a, path, set) != EMBER_OK) {
            cli_error("setrep: out of memory");
            c->failed = 1;
        }
    }
    return rc;
}

#define SETREP_POLL_MS 200 /* -w: how often the block locations are read */
#define SETREP_DOT_POLLS 50 /* a dot per 10 s of waiting, as Hadoop's 10 s polls print */

/* -setrep -w, Hadoop's SetReplication.waitForReplication: for each file
 * set, "Waiting for PATH ..." and, once every block has exactly the
 * stored replication in live replicas, " done"; a WARNING once when a
 * block has more (surplus replicas are deleted at the namenode's pace).
 * Polls every SETREP_POLL_MS with no time limit, as Hadoop (^C stops it). */
static void setrep_wait(dfs_cli *c, const setrep_arg *a) {
    for (size_t k = 0; k < a->n; k++) {
        int want = a->reps[k] < 16 ? (int)a->reps[k] : 16; /* locations per block: at most 16 */
        printf("Waiting for %s ...", a->paths[k]);
        fflush(stdout);
        int warned = 0;
        for (unsigned polls = 1;; polls++) {
            ember_block_location *b;
            size_t n, i = 0;
            if (ember_dfs_block_locations(c->dfs, a->paths[k], &b, &n) != EMBER_OK) {
                putchar('\n');
                dfs_fail(c);
                break;
            }
            while (i < n && b[i].nreplicas == want)
                i++;
            int surplus = i < n && b[i].nreplicas > want;
            free(b);
            if (i == n) {
                printf(" done\n");
                break;
            }
            if (surplus && !warned) {
                printf("\nWARNING: the waiting time may be long for DECREASING the number of "
                       "replications.\n");
                warned = 1;
            }
            if (polls % SETREP_DOT_POLLS == 0)
                putchar('.');
            fflush(stdout);
            struct timespec ts = {0, SETREP_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        fflush(stdout);
    }
}

/* chmod, chown, chgrp and setrep: [-R] [-w] ARG PATH... */
static int cmd_attr(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int setrep = !strcmp(c->cmd, "setrep");
    int i = dfs_flags(c, argc, argv, setrep ? "Rw" : "R", seen);
    if (i < 0)
        return 2;
    if (argc - i < 2) {
        cli_error("%s: needs %s and a path", c->cmd, setrep ? "a replication" : "a value");
        return 2;
    }
    const char *value = argv[i++];
    dfs_apply_fn fn;
    void *arg;
    chown_arg ca = {0};
    char owner[128] = "";
    setrep_arg sa = {.wait = seen['w']};
    if (!strcmp(c->cmd, "chmod")) {
        uint32_t probe;
        if (dfs_parse_mode(value, 0, &probe) != EMBER_OK) {
            cli_error("chmod: bad mode '%s' (octal such as 755, or symbolic such as u+x)", value);
            return 2;
        }
        fn = apply_chmod;
        arg = (void *)value;
    } else if (setrep) {
        char *end;
        unsigned long v = strtoul(value, &end, 10);
        if (*end != '\0' || v == 0 || v > 512) {
            cli_error("setrep: bad replication '%s' (1 to 512)", value);
            return 2;
        }
        sa.rep = (uint32_t)v;
        fn = apply_setrep;
        arg = &sa;
    } else {
        snprintf(owner, sizeof(owner), "%s", value);
        if (!strcmp(c->cmd, "chgrp")) {
            ca.group = owner;
        } else {
            char *colon = strchr(owner, ':');
            if (colon != NULL) {
                *colon = '\0';
                ca.group = colon + 1;
            }
            ca.owner = owner;
        }
        fn = apply_chown;
        arg = &ca;
    }
    char path[DFS_PATH_MAX];
    for (; i < argc; i++)
        if (dfs_arg(c, argv[i], path) == 0)
            dfs_apply(c, path, seen['R'] || setrep, fn, arg);
    setrep_wait(c, &sa); /* -setrep -w: after every path is set, as Hadoop */
    for (size_t k = 0; k < sa.n; k++)
        free(sa.paths[k]);
    free(sa.paths);
    free(sa.reps);
    return c->failed;
}

/* ---- entry ---------------------------------------------------------------- */

/* Adapters for the verbs that share an implementation. */
static int cmd_rmdir(dfs_cli *c, int argc, char **argv) { return cmd_rm(c, argc, argv, 1); }
static int cmd_rm_files(dfs_cli *c, int argc, char **argv) { return cmd_rm(c, argc, argv, 0); }
static int cmd_put(dfs_cli *c, int argc, char **argv) { return cmd_copy_in(c, argc, argv, 0); }
static int cmd_cp(dfs_cli *c, int argc, char **argv) { return cmd_copy_in(c, argc, argv, 1); }

typedef struct {
    const char *name; /* without the dash */
    int (*run)(dfs_cli *c, int argc, char **argv);
    dfs_glob_policy glob; /* which arguments are globbed before run */
} dfs_command;

static const dfs_command dfs_commands[] = {
    {"ls", cmd_ls, DFS_GLOB_ALL},
    {"mkdir", cmd_mkdir, DFS_GLOB_NONE},
    {"touchz", cmd_touchz, DFS_GLOB_NONE},
    {"rm", cmd_rm_files, DFS_GLOB_ALL},
    {"rmdir", cmd_rmdir, DFS_GLOB_ALL},
    {"mv", cmd_mv, DFS_GLOB_ALL_BUT_LAST},
    {"stat", cmd_stat, DFS_GLOB_STAT},
    {"test", cmd_test, DFS_GLOB_NONE},
    {"chmod", cmd_attr, DFS_GLOB_SKIP_FIRST},
    {"chown", cmd_attr, DFS_GLOB_SKIP_FIRST},
    {"chgrp", cmd_attr, DFS_GLOB_SKIP_FIRST},
    {"setrep", cmd_attr, DFS_GLOB_SKIP_FIRST},
    {"du", cmd_du, DFS_GLOB_ALL},
    {"count", cmd_count, DFS_GLOB_ALL},
    {"df", cmd_df, DFS_GLOB_NONE},
    {"find", cmd_find, DFS_GLOB_NONE},
    {"put", cmd_put, DFS_GLOB_NONE},
    {"copyFromLocal", cmd_put, DFS_GLOB_NONE},
    {"moveFromLocal", cmd_move_from_local, DFS_GLOB_NONE},
    {"get", cmd_get, DFS_GLOB_ALL_BUT_LAST},
    {"copyToLocal", cmd_get, DFS_GLOB_ALL_BUT_LAST},
    {"moveToLocal", cmd_move_to_local, DFS_GLOB_ALL_BUT_LAST},
    {"getmerge", cmd_getmerge, DFS_GLOB_ALL_BUT_LAST},
    {"cat", cmd_cat, DFS_GLOB_ALL},
    {"touch", cmd_touch, DFS_GLOB_NONE},
    {"truncate", cmd_truncate, DFS_GLOB_SKIP_FIRST},
    {"text", cmd_text, DFS_GLOB_ALL},
    {"head", cmd_head, DFS_GLOB_ALL},
    {"tail", cmd_tail, DFS_GLOB_ALL},
    {"cp", cmd_cp, DFS_GLOB_ALL_BUT_LAST},
    {"checksum", cmd_checksum, DFS_GLOB_ALL},
    {"appendToFile", cmd_append, DFS_GLOB_NONE},
    {"expunge", cmd_expunge, DFS_GLOB_NONE},
};

int cli_dfs(cli_env *env, int argc, char **argv) {
    dfs_cli c = {.env = env};
    config *cfg = NULL;
    int i = 1, status = 2;
    char err[512];
    if (config_create(&cfg) != EMBER_OK)
        return 1;
    /* Generic options: -D key=value, as Hadoop's GenericOptionsParser. */
    for (; i < argc && (!strcmp(argv[i], "-D") || !strncmp(argv[i], "-D", 2)); i++) {
        const char *kv = argv[i][2] ? argv[i] + 2 : (i + 1 < argc ? argv[++i] : NULL);
        if (kv == NULL || config_apply_define(cfg, kv, err, sizeof(err)) != EMBER_OK) {
            cli_error("dfs: %s", kv == NULL ? "-D needs key=value" : err);
            goto out;
        }
        if (!strncmp(kv, "dfs.replication", 15))
            c.replication = (uint32_t)config_get_int(cfg, "dfs.replication");
        if (!strncmp(kv, "dfs.blocksize", 13))
            c.block_size = (uint64_t)config_get_int(cfg, "dfs.blocksize");
        if (!strncmp(kv, "fs.trash.interval", 17))
            c.trash_interval_ms = config_get_int(cfg, "fs.trash.interval");
    }
    if (i >= argc || argv[i][0] != '-') {
        dfs_usage_print_all(stderr, 0);
        goto out;
    }
    c.cmd = argv[i] + 1;
    if (!strcmp(c.cmd, "-help") || !strcmp(c.cmd, "h")) { /* ember dfs --help */
        dfs_usage_print_all(stdout, 0);
        status = 0;
        goto out;
    }
    if (!strcmp(c.cmd, "help") || !strcmp(c.cmd, "usage")) {
        status = dfs_usage_command(c.cmd, argc - i, argv + i);
        goto out;
    }
    const dfs_command *cmd = NULL;
    for (size_t k = 0; k < sizeof(dfs_commands) / sizeof(dfs_commands[0]) && cmd == NULL; k++)
        if (!strcmp(c.cmd, dfs_commands[k].name))
            cmd = &dfs_commands[k];
    if (cmd == NULL) {
        cli_error("dfs: unknown command '%s' (see 'ember dfs -usage')", argv[i]);
        goto out;
    }
    /* Options and operand counts first: bad usage needs no cluster. */
    if ((status = dfs_usage_check(c.cmd, argc - i, argv + i)) >= 0)
        goto out;
    status = 2;
    if (ember_dfs_connect(env->run_dir, &c.dfs, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        status = 1;
        goto out;
    }
    c.short_circuit = (int)config_get_int(cfg, "dfs.client.read.shortcircuit");
    c.socket_timeout_ms = config_get_int(cfg, "dfs.client.socket-timeout");
    ember_dfs_set_short_circuit(c.dfs, c.short_circuit);
    ember_dfs_set_socket_timeout(c.dfs, c.socket_timeout_ms);
    dfs_glob_args g;
    if (dfs_expand_globs(&c, cmd->glob, argc - i, argv + i, &g) != EMBER_OK) {
        cli_error("%s: out of memory", c.cmd);
        status = 1;
    } else {
        status = g.nothing_left ? 1 : cmd->run(&c, g.argc, g.argv);
    }
    dfs_glob_args_free(&g);
out:
    dfs_trash_free(c.trash);
    ember_dfs_close(c.dfs);
    config_destroy(cfg);
    return status;
}
