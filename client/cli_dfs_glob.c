/* cli_dfs_glob.c -- globs in `ember dfs` path arguments, as Hadoop's
 * FsShell expands them before a verb runs.
 *
 * Each verb says which of its arguments are file system paths (its glob
 * policy, in cli_dfs.c's command table); each such argument with a magic
 * character is replaced by the paths it matches, in sorted order, and one
 * that matches nothing is Hadoop's "`PATTERN': No such file or directory"
 * (the run then exits 1, the other arguments still served).  Options
 * stay where they are; local paths (a -put source, a -get destination)
 * are the local shell's business and are never expanded here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_dfs.h"
#include "client/dfs_glob.h"
#include "common/error.h"

/* Whether argv[j] is an option of the verb (or an option's value). */
static int glob_is_option(const dfs_cli *c, char **argv, int j) {
    if (argv[j][0] == '-' && argv[j][1] != '\0')
        return 1;
    /* -tail -s MS takes a value. */
    return strcmp(c->cmd, "tail") == 0 && j > 1 && strcmp(argv[j - 1], "-s") == 0;
}

int dfs_expand_globs(dfs_cli *c, dfs_glob_policy policy, int argc, char **argv,
                     dfs_glob_args *out) {
    memset(out, 0, sizeof(*out));
    out->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (out->argv == NULL)
        return EMBER_ENOMEM;
    out->argv[out->argc++] = argv[0];
    int operands = 0, last = argc - 1, seen_path = 0, dropped = 0;
    for (int j = 1; j < argc; j++)
        operands += !glob_is_option(c, argv, j);
    int operand = 0;
    for (int j = 1; j < argc; j++) {
        int option = glob_is_option(c, argv, j);
        int path = !option && policy != DFS_GLOB_NONE;
        if (path) {
            operand++;
            if (policy == DFS_GLOB_SKIP_FIRST && operand == 1)
                path = 0;
            if (policy == DFS_GLOB_ALL_BUT_LAST && j == last && operands > 1)
                path = 0;
            if (policy == DFS_GLOB_STAT && operand == 1 && operands > 1 && strchr(argv[j], '%'))
                path = 0;
        }
        /* A backslash escape goes through the glob too, which unescapes. */
        if (!path || (!dfs_glob_has_magic(argv[j]) && strchr(argv[j], '\\') == NULL)) {
            char **p = realloc(out->argv, ((size_t)out->argc + 2) * sizeof(char *));
            if (p == NULL)
                return EMBER_ENOMEM;
            out->argv = p;
            out->argv[out->argc++] = argv[j];
            seen_path |= path;
            continue;
        }
        char abs[DFS_PATH_MAX], err[512];
        if (cli_dfs_resolve(c->env, argv[j], abs, sizeof(abs), err, sizeof(err)) != EMBER_OK) {
            cli_error("%s: %s", c->cmd, err);
            c->failed = 1;
            dropped++;
            continue;
        }
        char **paths;
        size_t n;
        int rc = ember_dfs_glob(c->dfs, abs, &paths, &n);
        if (rc != EMBER_OK) {
            cli_error("%s: %s", c->cmd, ember_dfs_last_error(c->dfs));
            c->failed = 1;
            dropped++;
            continue;
        }
        if (n == 0) {
            cli_error("%s: `%s': No such file or directory", c->cmd, argv[j]);
            c->failed = 1;
            dropped++;
            free(paths);
            continue;
        }
        char **p = realloc(out->argv, ((size_t)out->argc + n + 2) * sizeof(char *));
        char **owned = realloc(out->owned, (out->nowned + n) * sizeof(char *));
        if (p != NULL)
            out->argv = p;
        if (owned != NULL)
            out->owned = owned;
        if (p == NULL || owned == NULL) {
            dfs_glob_free(paths, n);
            return EMBER_ENOMEM;
        }
        for (size_t k = 0; k < n; k++) {
            out->argv[out->argc++] = paths[k];
            out->owned[out->nowned++] = paths[k];
        }
        free(paths); /* the strings live on in owned */
        seen_path = 1;
    }
    out->argv[out->argc] = NULL;
    /* Every path argument vanished: nothing for the verb to do. */
    out->nothing_left = dropped > 0 && !seen_path;
    return EMBER_OK;
}

void dfs_glob_args_free(dfs_glob_args *a) {
    for (size_t k = 0; k < a->nowned; k++)
        free(a->owned[k]);
    free(a->owned);
    free(a->argv);
}
