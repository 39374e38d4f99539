/* cli_dfs_ls.c -- `ember dfs -ls [-C] [-d] [-h] [-R] [-t] [-S] [-r] [-u]
 * [PATH...]`, as Hadoop's Ls.
 *
 * A directory argument lists its entries ("Found N items" first), a file
 * or -d the path itself, -R everything below in pre-order (cli_tree.c),
 * with no header.  Each line is Hadoop's: mode, replication ("-" for a
 * directory), owner, group, size (-h: long2String), time (UTC) and path;
 * -C prints the paths alone.  Columns are as wide as the widest entry of
 * their listing.  -u shows the access time instead of the modification
 * time.  One listing (not -R, as in Hadoop) is sorted: by name, or -t by
 * time (latest first; the access time with -u), or -S by size (largest
 * first; -t wins over -S); -r reverses that order.  Ties keep name order,
 * as Java's stable sort keeps them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_dfs.h"
#include "common/error.h"

typedef struct {
    int recursive, human, dir_only;
    int path_only; /* -C */
    int atime;     /* -u: access times shown, and sorted on with -t */
    char order;    /* 'n' name, 't' time, 'S' size */
    int reverse;   /* -r */
} ls_opts;

static void ls_print(const ember_file_status *st, const char *path, const ls_opts *o,
                     const int w[4]) {
    if (o->path_only) {
        printf("%s\n", path);
        return;
    }
    char mode[11], when[32], size[32], rep[16];
    dfs_format_mode(st->mode, st->is_dir, mode);
    dfs_format_time(o->atime ? st->atime_ms : st->mtime_ms, 0, when, sizeof(when));
    dfs_format_size(st->length, o->human, size, sizeof(size));
    if (st->is_dir)
        snprintf(rep, sizeof(rep), "-");
    else
        snprintf(rep, sizeof(rep), "%u", st->replication);
    printf("%s %*s %-*s %-*s %*s %s %s\n", mode, w[0], rep, w[1], st->owner, w[2], st->group, w[3],
           size, when, path);
}

/* The column widths of a listing (replication, owner, group, size) into w. */
static void ls_widths(const ember_file_status *e, size_t n, int human, int w[4]) {
    w[0] = w[1] = w[2] = w[3] = 1;
    for (size_t i = 0; i < n; i++) {
        char size[32], rep[16];
        dfs_format_size(e[i].length, human, size, sizeof(size));
        snprintf(rep, sizeof(rep), "%u", e[i].replication);
        int len[4] = {(int)strlen(rep), (int)strlen(e[i].owner), (int)strlen(e[i].group),
                      (int)strlen(size)};
        for (int k = 0; k < 4; k++)
            w[k] = len[k] > w[k] ? len[k] : w[k];
    }
}

/* An entry and its sort key: ascending key, then the listing's (name)
 * order. */
typedef struct {
    int64_t key;
    size_t index;
} ls_item;

static int ls_item_cmp(const void *a, const void *b) {
    const ls_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* The order in which the n entries e (in name order) are printed, into
 * order[]. */
static void ls_sort(const ember_file_status *e, size_t n, const ls_opts *o, ls_item *order) {
    int sign = o->reverse ? 1 : -1; /* latest or largest first unless -r */
    for (size_t i = 0; i < n; i++) {
        int64_t v = (int64_t)i, t = o->atime ? e[i].atime_ms : e[i].mtime_ms;
        if (o->order == 't')
            v = sign * t;
        else if (o->order == 'S')
            v = sign * (int64_t)(e[i].length & INT64_MAX);
        else if (o->reverse)
            v = -(int64_t)i;
        order[i] = (ls_item){.key = v, .index = i};
    }
    qsort(order, n, sizeof(*order), ls_item_cmp);
}

/* The entries of one listing of dir (or one status, with dir ""). */
static void ls_entries(dfs_cli *c, const char *dir, const ember_file_status *e, size_t n,
                       const ls_opts *o, int header) {
    int w[4];
    ls_widths(e, n, o->human, w);
    ls_item *order = malloc((n ? n : 1) * sizeof(*order));
    if (order == NULL) {
        cli_error("ls: out of memory");
        c->failed = 1;
        return;
    }
    ls_sort(e, n, o, order);
    if (header && !o->path_only && n > 0)
        printf("Found %zu items\n", n);
    for (size_t i = 0; i < n; i++) {
        char path[DFS_PATH_MAX];
        const ember_file_status *st = &e[order[i].index];
        dfs_join(dir, st->path, path, sizeof(path));
        ls_print(st, path, o, w);
    }
    free(order);
}

/* One entry of -ls -R: each listing's columns as wide as its own entries
 * need. */
static int ls_tree_entry(dfs_cli *c, const cli_tree_entry *e, void *arg) {
    const ls_opts *o = arg;
    (void)c;
    if (e->index == 0) /* a new listing: its widths kept with it */
        ls_widths(e->siblings, e->nsiblings, o->human, e->scratch);
    ls_print(e->st, e->path, o, e->scratch);
    return 0;
}

static void ls_path(dfs_cli *c, const char *path, const ls_opts *o) {
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, path, &st) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    if (!st.is_dir || o->dir_only) {
        ls_entries(c, "", &st, 1, o, 0); /* the path itself */
        ember_dfs_free_status(&st);
        return;
    }
    ember_dfs_free_status(&st);
    if (o->recursive) {
        dfs_walk(c, path, ls_tree_entry, (void *)o);
        return;
    }
    ember_file_status *e;
    size_t n;
    if (ember_dfs_list(c->dfs, path, &e, &n) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    ls_entries(c, path, e, n, o, 1);
    ember_dfs_free_list(e, n);
}

int cmd_ls(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "CdhRtSru", seen);
    if (i < 0)
        return 2;
    ls_opts o = {.recursive = seen['R'],
                 .human = seen['h'],
                 .dir_only = seen['d'],
                 .path_only = seen['C'],
                 .atime = seen['u'],
                 .order = seen['t']   ? 't'
                          : seen['S'] ? 'S'
                                      : 'n',
                 .reverse = seen['r']};
    char path[DFS_PATH_MAX];
    if (i == argc) {
        if (dfs_arg(c, ".", path) == 0)
            ls_path(c, path, &o);
    }
    for (; i < argc; i++)
        if (dfs_arg(c, argv[i], path) == 0)
            ls_path(c, path, &o);
    return c->failed;
}
