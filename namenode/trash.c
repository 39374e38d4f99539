/* trash.c -- the namenode's part of the trash (common/trash.h): the
 * server defaults a client asks for before it moves a path to the trash,
 * and the emptier (Hadoop's TrashPolicyDefault.Emptier).
 *
 * With fs.trash.interval above 0, a timer on the namenode's loop runs the
 * emptier every emptier interval (fs.trash.checkpoint.interval when it is
 * above 0 and at most fs.trash.interval, else fs.trash.interval; at most
 * once a second).  Each run looks at every user's trash root,
 * /user/NAME/.Trash: first it deletes each checkpoint older than
 * fs.trash.interval (the name says when it was made; any other name is
 * warned about and left), then it renames Current, when there is one, to
 * a checkpoint named after now.
 * Both are ordinary logged mutations of the namenode's own
 * (NAMENODE_NO_CONN: no permission check, no one to answer; a failure is
 * logged), applied on the loop thread, so no client request sees half a
 * run.  Nothing is done in safe mode or once the edit log failed; the
 * next run catches up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/trash.h"
#include "namenode_internal.h"

#define TRASH_EMPTIER_MIN_MS 1000 /* the emptier runs at most once a second */

void namenode_handle_server_defaults(namenode *nn, uint64_t conn) {
    DfsResult res = DFS_RESULT__INIT;
    res.trash_interval_ms = nn->opts.trash_interval_ms;
    namenode_answer(nn, conn, &res, 0);
}

/* Deletes root/name, a checkpoint, with everything in it. */
static void trash_delete_checkpoint(namenode *nn, const char *path) {
    EditDelete op = EDIT_DELETE__INIT;
    op.path = (char *)path;
    op.recursive = 1;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_DELETE;
    rec.delete_ = &op;
    if (namenode_log(nn, NAMENODE_NO_CONN, &rec, path, NULL, NULL) == EMBER_OK)
        LOG_INFO("Deleted trash checkpoint: %s", path);
}

/* Renames root/Current, when there is one, to a checkpoint named after
 * now (with "-N" when that name is taken). */
static void trash_create_checkpoint(namenode *nn, const char *root, int64_t now_ms) {
    char current[FS_PATH_MAX + 1], checkpoint[FS_PATH_MAX + 1], name[TRASH_NAME_MAX];
    fs_stat st;
    snprintf(current, sizeof(current), "%s/%s", root, TRASH_CURRENT);
    if (fs_namespace_stat(nn->ns, current, &st) != EMBER_OK)
        return;
    for (int attempt = 0; attempt <= TRASH_CHECKPOINT_ATTEMPTS; attempt++) {
        trash_checkpoint_name(now_ms, attempt, name, sizeof(name));
        snprintf(checkpoint, sizeof(checkpoint), "%s/%s", root, name);
        if (fs_namespace_stat(nn->ns, checkpoint, &st) != EMBER_ENOENT)
            continue; /* taken: a rename would move Current into it */
        EditRename op = EDIT_RENAME__INIT;
        op.src = current;
        op.dst = checkpoint;
        EditRecord rec = EDIT_RECORD__INIT;
        rec.op_case = EDIT_RECORD__OP_RENAME;
        rec.rename = &op;
        if (namenode_log(nn, NAMENODE_NO_CONN, &rec, current, NULL, NULL) == EMBER_OK)
            LOG_INFO("Created trash checkpoint: %s", checkpoint);
        return;
    }
    LOG_WARN("Trash caught: Failed to checkpoint trash: %s. Skipping %s.", checkpoint, root);
}

/* One trash root: its expired checkpoints deleted, then Current made a
 * checkpoint. */
static void trash_empty_root(namenode *nn, const char *root, int64_t now_ms) {
    fs_entry *e = NULL;
    size_t n = 0;
    int more;
    if (fs_namespace_list(nn->ns, root, NULL, 0, &e, &n, &more) != EMBER_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        char path[FS_PATH_MAX + 1];
        int64_t made;
        snprintf(path, sizeof(path), "%s/%s", root, e[i].name);
        if (strcmp(e[i].name, TRASH_CURRENT) == 0)
            continue;
        if (trash_checkpoint_time(e[i].name, &made) != EMBER_OK) {
            LOG_WARN("Unexpected item in trash: %s. Ignoring.", path);
            continue;
        }
        if (trash_checkpoint_expired(made, now_ms, nn->opts.trash_interval_ms))
            trash_delete_checkpoint(nn, path);
    }
    free(e);
    trash_create_checkpoint(nn, root, now_ms);
}

void namenode_trash_empty(namenode *nn, int64_t now_ms) {
    if (nn->failed || nn->safe_mode != NAMENODE_SAFE_OFF)
        return;
    fs_entry *users = NULL;
    size_t n = 0;
    int more;
    if (fs_namespace_list(nn->ns, "/user", NULL, 0, &users, &n, &more) != EMBER_OK)
        return; /* no /user: no trash */
    for (size_t i = 0; i < n; i++) {
        char root[FS_PATH_MAX + 1];
        fs_stat st;
        if (!users[i].stat.is_dir || trash_root(users[i].name, root, sizeof(root)) != EMBER_OK)
            continue;
        if (fs_namespace_stat(nn->ns, root, &st) == EMBER_OK && st.is_dir)
            trash_empty_root(nn, root, now_ms);
    }
    free(users);
}

static void trash_emptier_tick(event_loop *loop, void *arg) {
    (void)loop;
    namenode_trash_empty(arg, clock_wall_ms());
}

int namenode_trash_start(namenode *nn) {
    int64_t interval = nn->opts.trash_interval_ms;
    if (interval <= 0)
        return EMBER_OK; /* no trash: no emptier, as in Hadoop */
    int64_t every = trash_emptier_interval(interval, nn->opts.trash_checkpoint_interval_ms);
    if (every < TRASH_EMPTIER_MIN_MS)
        every = TRASH_EMPTIER_MIN_MS; /* a tiny fraction of a minute must not spin the loop */
    LOG_INFO("Namenode trash configuration: Deletion interval = %g minutes, Emptier interval = "
             "%g minutes.",
             (double)interval / 60000.0, (double)every / 60000.0);
    return event_loop_add_timer(nn->loop, every, trash_emptier_tick, nn, &nn->trash_timer_id);
}

void namenode_trash_stop(namenode *nn) {
    if (nn->trash_timer_id != 0)
        event_loop_remove_timer(nn->loop, nn->trash_timer_id);
    nn->trash_timer_id = 0;
}
