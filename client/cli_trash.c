/* cli_trash.c -- the client's half of the trash (common/trash.h), as
 * Hadoop's Trash and TrashPolicyDefault do it in `hdfs dfs`.
 *
 * The trash is on when the namenode's fs.trash.interval is above 0, or,
 * when the namenode's is 0, the command's own (-D fs.trash.interval):
 * Hadoop's moveToAppropriateTrash lets the server's setting win.  Then
 * -rm (and -rm -r) moves each path P into the user's trash,
 * /user/USER/.Trash/Current/P, making the directories it needs (mode
 * 0700), and prints "Moved: 'hdfs://HOST:PORT/P' to trash at:
 * hdfs://HOST:PORT/user/USER/.Trash/Current/P".  A name already taken
 * there gets the time in ms appended; a file standing where a directory
 * is needed gets the time appended to its name in the path made instead.
 * A path in the trash already is deleted at once; one that holds the
 * trash (/user/USER or above) is refused.  -skipTrash (cli_dfs.c) skips
 * all of this.
 *
 * -expunge deletes the user's checkpoints older than the interval, then
 * makes Current a checkpoint; -expunge -immediate makes the checkpoint
 * and then deletes every checkpoint.  The namenode's emptier
 * (namenode/trash.c) does the same for every user on its own.  A
 * checkpoint named as one the emptier makes in the same second is
 * avoided by looking first; should the emptier take the name in between,
 * Current lands inside that checkpoint, to go with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_dfs.h"
#include "client/dfs_path.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/trash.h"

#define TRASH_DIR_MODE 0700  /* Hadoop's TrashPolicyDefault.PERMISSION */
#define TRASH_DETOURS_MAX 64 /* files in the way of one path's directories */

/* What every trash operation of one run needs, asked once. */
struct dfs_trash {
    int64_t interval_ms;     /* the effective fs.trash.interval; 0 = off */
    char root[DFS_PATH_MAX]; /* /user/USER/.Trash */
    char fs[300];            /* hdfs://HOST:PORT, to qualify paths in messages */
};

void dfs_trash_free(struct dfs_trash *t) { free(t); }

/* The run's trash settings, asked of the namenode on first use; NULL
 * after an error line (Hadoop's words, for verb). */
static struct dfs_trash *trash_get(dfs_cli *c) {
    if (c->trash != NULL)
        return c->trash;
    struct dfs_trash *t = calloc(1, sizeof(*t));
    char user[256], err[512];
    ember_dfs_defaults d;
    if (t == NULL) {
        cli_error("%s: out of memory", c->cmd);
        c->failed = 1;
        return NULL;
    }
    if (ember_dfs_server_defaults(c->dfs, &d) != EMBER_OK) {
        cli_error("%s: Failed to get server trash configuration: %s%s", c->cmd,
                  ember_dfs_last_error(c->dfs),
                  strcmp(c->cmd, "rm") == 0 ? ". Consider using -skipTrash option" : "");
        c->failed = 1;
        free(t);
        return NULL;
    }
    t->interval_ms = d.trash_interval_ms != 0 ? d.trash_interval_ms : c->trash_interval_ms;
    cli_dfs_user(user, sizeof(user));
    if (trash_root(user, t->root, sizeof(t->root)) != EMBER_OK ||
        cli_dfs_fs_uri(c->env, t->fs, sizeof(t->fs), err, sizeof(err)) != EMBER_OK)
        snprintf(t->fs, sizeof(t->fs), "hdfs://"); /* the messages lose their host only */
    c->trash = t;
    return t;
}

/* The path prefix of base that names an existing non-directory gets
 * "<now ms>" appended (Hadoop's way round a file where the trash needs a
 * directory); base and dst (dst = base/NAME) change with it.  -1 when no
 * such prefix is found. */
static int trash_detour(dfs_cli *c, char *base, char *dst, const char *name) {
    char probe[DFS_PATH_MAX], fixed[DFS_PATH_MAX];
    snprintf(probe, sizeof(probe), "%s", base);
    for (;;) {
        ember_file_status st;
        int rc = ember_dfs_stat(c->dfs, probe, &st);
        if (rc == EMBER_OK) {
            int is_dir = st.is_dir;
            ember_dfs_free_status(&st);
            if (is_dir)
                return -1; /* nothing in the way after all */
            break;
        }
        char *slash = strrchr(probe, '/');
        if (slash == NULL || slash == probe)
            return -1;
        *slash = '\0';
    }
    size_t n = strlen(probe);
    snprintf(fixed, sizeof(fixed), "%s%lld%s", probe, (long long)clock_wall_ms(), base + n);
    snprintf(base, DFS_PATH_MAX, "%s", fixed);
    dfs_join(base, name, dst, DFS_PATH_MAX);
    return 0;
}

/* dst (a path in the trash) made free: while it is taken, the original
 * with the time in ms appended. */
static void trash_free_name(dfs_cli *c, char *dst) {
    char orig[DFS_PATH_MAX];
    ember_file_status st;
    snprintf(orig, sizeof(orig), "%s", dst);
    while (ember_dfs_stat(c->dfs, dst, &st) == EMBER_OK) {
        ember_dfs_free_status(&st);
        snprintf(dst, DFS_PATH_MAX, "%s%lld", orig, (long long)clock_wall_ms());
    }
}

/* Moves path into t's Current: 0, or the failure's code with its message
 * in the library's last error. */
static int trash_rename(dfs_cli *c, const struct dfs_trash *t, const char *path, char *dst) {
    char base[DFS_PATH_MAX], parent[DFS_PATH_MAX];
    const char *name = strrchr(path, '/') + 1;
    snprintf(parent, sizeof(parent), "%.*s", (int)(name - 1 - path), path);
    snprintf(base, sizeof(base), "%s/%s%s", t->root, TRASH_CURRENT, parent);
    dfs_join(base, name, dst, DFS_PATH_MAX);
    int rc = EMBER_OK, detours = 0;
    for (int attempt = 0; attempt < 2; attempt++) { /* twice: a checkpoint may come between */
        rc = ember_dfs_mkdirs(c->dfs, base, TRASH_DIR_MODE, 1);
        if ((rc == EMBER_EEXIST || rc == EMBER_ENOTDIR) && detours++ < TRASH_DETOURS_MAX &&
            trash_detour(c, base, dst, name) == 0) {
            attempt--;
            continue;
        }
        if (rc != EMBER_OK)
            return rc;
        trash_free_name(c, dst);
        rc = ember_dfs_rename(c->dfs, path, dst, NULL, 0);
        if (rc == EMBER_OK)
            return EMBER_OK;
    }
    return rc;
}

int dfs_trash_move(dfs_cli *c, const char *path) {
    struct dfs_trash *t = trash_get(c);
    if (t == NULL)
        return -1;
    if (t->interval_ms <= 0 || dfs_path_within(path, t->root))
        return 0; /* no trash, or in it already: deleted for good */
    char home[DFS_PATH_MAX], dst[DFS_PATH_MAX];
    snprintf(home, sizeof(home), "%.*s", (int)(strrchr(t->root, '/') - t->root), t->root);
    if (dfs_path_within(home, path)) {
        cli_error("rm: Cannot move \"%s%s\" to the trash, as it contains the trash. Consider "
                  "using -skipTrash option",
                  t->fs, path);
        c->failed = 1;
        return -1;
    }
    if (trash_rename(c, t, path, dst) != EMBER_OK) {
        cli_error("rm: Failed to move %s%s to trash %s%s: %s. Consider using -skipTrash option",
                  t->fs, path, t->fs, dst, ember_dfs_last_error(c->dfs));
        c->failed = 1;
        return -1;
    }
    printf("Moved: '%s%s' to trash at: %s%s\n", t->fs, path, t->fs, dst);
    return 1;
}

/* Renames root/Current, when there is one, to a checkpoint named after
 * now ("-N" appended while the name is taken), printing Hadoop's line. */
static void trash_checkpoint(dfs_cli *c, const char *root, int64_t now_ms) {
    char current[DFS_PATH_MAX], dst[DFS_PATH_MAX], name[TRASH_NAME_MAX];
    ember_file_status st;
    snprintf(current, sizeof(current), "%s/%s", root, TRASH_CURRENT);
    if (ember_dfs_stat(c->dfs, current, &st) != EMBER_OK)
        return;
    ember_dfs_free_status(&st);
    for (int attempt = 0; attempt <= TRASH_CHECKPOINT_ATTEMPTS; attempt++) {
        trash_checkpoint_name(now_ms, attempt, name, sizeof(name));
        dfs_join(root, name, dst, sizeof(dst));
        if (ember_dfs_stat(c->dfs, dst, &st) == EMBER_OK) {
            ember_dfs_free_status(&st);
            continue;
        }
        if (ember_dfs_rename(c->dfs, current, dst, NULL, 0) != EMBER_OK)
            dfs_fail(c);
        else
            printf("Created trash checkpoint: %s\n", dst);
        return;
    }
    cli_error("expunge: Failed to checkpoint trash: %s", dst);
    c->failed = 1;
}

/* Deletes root's checkpoints older than interval_ms, or every one with
 * all, printing Hadoop's line for each; other names but Current are
 * warned about and left. */
static void trash_delete_checkpoints(dfs_cli *c, const char *root, int64_t interval_ms,
                                     int64_t now_ms, int all) {
    ember_file_status *e;
    size_t n;
    if (ember_dfs_list(c->dfs, root, &e, &n) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char path[DFS_PATH_MAX];
        int64_t made;
        dfs_join(root, e[i].path, path, sizeof(path));
        if (strcmp(e[i].path, TRASH_CURRENT) == 0)
            continue;
        if (trash_checkpoint_time(e[i].path, &made) != EMBER_OK) {
            fprintf(stderr, "ember: expunge: warning: Unexpected item in trash: %s. Ignoring.\n",
                    path);
            continue;
        }
        if (!all && !trash_checkpoint_expired(made, now_ms, interval_ms))
            continue;
        if (ember_dfs_delete(c->dfs, path, 1) != EMBER_OK)
            dfs_fail(c);
        else
            printf("Deleted trash checkpoint: %s\n", path);
    }
    ember_dfs_free_list(e, n);
}

/* -expunge [-immediate] [-fs FS]: the user's trash checkpointed and its
 * old checkpoints deleted (all of them with -immediate). */
int cmd_expunge(dfs_cli *c, int argc, char **argv) {
    int immediate = 0;
    for (int i = 1; i < argc; i++) {
        char path[DFS_PATH_MAX];
        if (strcmp(argv[i], "-immediate") == 0) {
            immediate = 1;
        } else if (strcmp(argv[i], "-fs") == 0 && i + 1 < argc) {
            if (dfs_arg(c, argv[++i], path) != 0) /* this cluster's, or refused */
                return 1;
        } else {
            cli_error("expunge: unexpected argument '%s' (usage: -expunge [-immediate] "
                      "[-fs FS])",
                      argv[i]);
            return 2;
        }
    }
    struct dfs_trash *t = trash_get(c);
    if (t == NULL)
        return 1;
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, t->root, &st) != EMBER_OK)
        return 0; /* no trash yet: nothing to do */
    int is_dir = st.is_dir;
    ember_dfs_free_status(&st);
    if (!is_dir)
        return 0;
    int64_t now = clock_wall_ms();
    if (immediate) {
        trash_checkpoint(c, t->root, now);
        trash_delete_checkpoints(c, t->root, t->interval_ms, now, 1);
    } else {
        trash_delete_checkpoints(c, t->root, t->interval_ms, now, 0);
        trash_checkpoint(c, t->root, now);
    }
    return c->failed;
}
