/* cli_dfs_du.c -- `ember dfs -du` and `-count`: the namenode's content
 * summaries (files, directories, bytes and the space their replicas
 * take) in Hadoop 3's layouts.
 *
 * -du [-s] [-h] [-v] [-x]: one row per file argument and per entry of a
 * directory argument (the directory itself with -s), printed as Hadoop's
 * TableBuilder prints them once every argument is done: columns as wide
 * as their widest cell, two spaces apart; -v adds the header row.
 * -count [-q] [-h] [-v] [-u] [-x]: Hadoop's fixed-width columns, with -q
 * the quota columns first, with -u those alone.  ember has no quotas
 * (the namespace stores none), so they are always Hadoop's "none" and
 * "inf", as for a directory without one; it has no snapshots either, so
 * -x (leave snapshots out) changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_dfs.h"
#include "common/error.h"

/* -du's rows: size, space consumed, path (each malloc'd). */
typedef struct {
    char *(*cell)[3];
    size_t n, cap;
    int width[3];
} du_table;

/* Adds a row (copies of a, b, path); 0, or -1 when out of memory. */
static int du_table_add(du_table *t, const char *a, const char *b, const char *path) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char *(*cell)[3] = realloc(t->cell, cap * sizeof(*cell));
        if (cell == NULL)
            return -1;
        t->cell = cell;
        t->cap = cap;
    }
    const char *in[3] = {a, b, path};
    for (int k = 0; k < 3; k++) {
        t->cell[t->n][k] = strdup(in[k]);
        int len = (int)strlen(in[k]);
        if (len > t->width[k])
            t->width[k] = len;
    }
    if (t->cell[t->n][0] == NULL || t->cell[t->n][1] == NULL || t->cell[t->n][2] == NULL) {
        for (int k = 0; k < 3; k++)
            free(t->cell[t->n][k]);
        return -1;
    }
    t->n++;
    return 0;
}

/* Prints the rows (Hadoop prints nothing at all when there is no row but
 * the header) and frees the table. */
static void du_table_flush(du_table *t, int header) {
    for (size_t i = 0; i < t->n; i++) {
        if (!(header && t->n == 1))
            printf("%-*s  %-*s  %s\n", t->width[0], t->cell[i][0], t->width[1], t->cell[i][1],
                   t->cell[i][2]);
        for (int k = 0; k < 3; k++)
            free(t->cell[i][k]);
    }
    free(t->cell);
}

/* One row of -du: path's summary. */
static void du_row(dfs_cli *c, du_table *t, const char *path, int human) {
    uint64_t files, dirs, bytes, space;
    if (ember_dfs_content_summary(c->dfs, path, &files, &dirs, &bytes, &space) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    /* The second column is Hadoop's space consumed: every file's bytes
     * times its replication, summed by the namenode. */
    char a[32], b[32];
    dfs_format_size(bytes, human, a, sizeof(a));
    dfs_format_size(space, human, b, sizeof(b));
    if (du_table_add(t, a, b, path) != 0) {
        cli_error("du: out of memory");
        c->failed = 1;
    }
}

/* -du [-s] [-h] [-v] [-x] [PATH...]: size and the space all replicas
 * take, per file and per entry of a directory (one level), or per
 * argument with -s. */
int cmd_du(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "shvx", seen);
    if (i < 0)
        return 2;
    du_table t = {0};
    if (seen['v'])
        du_table_add(&t, "SIZE", "DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS", "FULL_PATH_NAME");
    char path[DFS_PATH_MAX];
    char *dot[] = {"."};
    char **args = i < argc ? argv + i : dot;
    int nargs = i < argc ? argc - i : 1;
    for (int k = 0; k < nargs; k++) {
        if (dfs_arg(c, args[k], path) != 0)
            continue;
        ember_file_status *e = NULL, self;
        size_t n = 0;
        if (ember_dfs_stat(c->dfs, path, &self) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        int listing = self.is_dir && !seen['s'];
        ember_dfs_free_status(&self);
        if (!listing) {
            du_row(c, &t, path, seen['h']);
            continue;
        }
        if (ember_dfs_list(c->dfs, path, &e, &n) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            char child[DFS_PATH_MAX];
            dfs_join(path, e[j].path, child, sizeof(child));
            du_row(c, &t, child, seen['h']);
        }
        ember_dfs_free_list(e, n);
    }
    du_table_flush(&t, seen['v']);
    return c->failed;
}

/* Hadoop's count columns (ContentSummary, QuotaUsage). */
#define COUNT_QUOTA_FORMAT "%12s %15s %15s %15s "
#define COUNT_SUMMARY_FORMAT "%12s %12s %18s "

/* -count [-q] [-h] [-v] [-u] [-x] PATH...: directories, files and bytes
 * under each path; -q puts the quota columns first, -u prints them
 * alone; -v a header line first. */
int cmd_count(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "qhvux", seen);
    if (i < 0)
        return 2;
    int quotas = seen['q'] || seen['u'], summary = !seen['u'];
    if (seen['v']) {
        if (quotas)
            printf(COUNT_QUOTA_FORMAT, "QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA");
        if (summary)
            printf(COUNT_SUMMARY_FORMAT, "DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE");
        printf("PATHNAME\n");
    }
    char path[DFS_PATH_MAX];
    for (; i < argc; i++) {
        uint64_t files, dirs, bytes;
        if (dfs_arg(c, argv[i], path) != 0)
            continue;
        if (ember_dfs_content_summary(c->dfs, path, &files, &dirs, &bytes, NULL) != EMBER_OK) {
            dfs_fail(c);
            continue;
        }
        /* No quota is ever set: Hadoop's words for a directory without. */
        if (quotas)
            printf(COUNT_QUOTA_FORMAT, "none", "inf", "none", "inf");
        if (summary) {
            char d[32], f[32], size[32];
            dfs_format_size(dirs, seen['h'], d, sizeof(d));
            dfs_format_size(files, seen['h'], f, sizeof(f));
            dfs_format_size(bytes, seen['h'], size, sizeof(size));
            printf(COUNT_SUMMARY_FORMAT, d, f, size);
        }
        printf("%s\n", path);
    }
    return c->failed;
}
