/* trash.h -- what the trash's two halves share: the client, which moves
 * deleted paths into a user's trash and checkpoints it on -expunge
 * (client/cli_trash.c), and the namenode's emptier, which checkpoints
 * every user's trash on its own (namenode/trash.c).
 *
 * As in Hadoop's TrashPolicyDefault: a user's trash root is
 * /user/USER/.Trash; a deleted path P goes to ROOT/Current/P; a
 * checkpoint renames ROOT/Current to ROOT/yyMMddHHmmss (local time, with
 * "-1", "-2", ... when the name is taken), and a checkpoint older than
 * fs.trash.interval is deleted with everything in it.  Names in a trash
 * root that are neither Current nor a checkpoint are left alone. */
#ifndef EMBER_TRASH_H
#define EMBER_TRASH_H

#include <stddef.h>
#include <stdint.h>

#define TRASH_DIR_NAME ".Trash"
#define TRASH_CURRENT "Current"
#define TRASH_NAME_MAX 32              /* a checkpoint's name, with its suffix */
#define TRASH_CHECKPOINT_ATTEMPTS 1000 /* suffixes tried before a checkpoint fails */

/* USER's trash root, "/user/USER/.Trash", into out; EMBER_EINVAL when it
 * does not fit in len bytes. */
int trash_root(const char *user, char *out, size_t len);

/* How often the emptier runs: checkpoint_ms when it is more than 0 and at
 * most interval_ms, else interval_ms (Hadoop's rule for
 * fs.trash.checkpoint.interval). */
int64_t trash_emptier_interval(int64_t interval_ms, int64_t checkpoint_ms);

/* The name of a checkpoint made at wall-clock time wall_ms: yyMMddHHmmss
 * in local time, and "-ATTEMPT" after it when attempt > 0.  out holds at
 * least TRASH_NAME_MAX bytes. */
void trash_checkpoint_name(int64_t wall_ms, int attempt, char *out, size_t len);

/* The wall-clock time a checkpoint's name stands for (seconds resolution)
 * into *wall_ms: 12 digits yyMMddHHmmss, possibly followed by "-N", or
 * the 10 digits yyMMddHHmm of checkpoints made before Hadoop 0.23.
 * EMBER_EINVAL for any other name (Current among them). */
int trash_checkpoint_time(const char *name, int64_t *wall_ms);

/* Whether a checkpoint made at checkpoint_ms is old enough to delete at
 * now_ms: older than interval_ms, as Hadoop's deleteCheckpoint decides
 * (with interval 0, every checkpoint made before now). */
int trash_checkpoint_expired(int64_t checkpoint_ms, int64_t now_ms, int64_t interval_ms);

#endif
