/* cli_dfs.h -- what cli_dfs.c (the verbs' dispatch, paths, formats and
 * the namespace verbs) and cli_dfs_data.c (the verbs that move file data)
 * share.  Internal to the CLI. */
#ifndef EMBER_CLI_DFS_H
#define EMBER_CLI_DFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "cli_tree.h"
#include "ember/dfs.h"

#define DFS_PATH_MAX 8192

/* One `ember dfs` run: the connection, the verb, -D's file options, and
 * whether any path failed (the exit status). */
typedef struct {
    cli_env *env;
    ember_dfs *dfs;
    const char *cmd;           /* "ls", "mkdir", ... (no dash) */
    uint32_t replication;      /* from -D dfs.replication, 0 = cluster default */
    uint64_t block_size;       /* from -D dfs.blocksize, 0 = cluster default */
    int64_t trash_interval_ms; /* from -D fs.trash.interval; the namenode's wins when not 0 */
    struct dfs_trash *trash;   /* cli_trash.c's, made on first use */
    int short_circuit;         /* dfs.client.read.shortcircuit, for more handles (-t) */
    int64_t socket_timeout_ms; /* dfs.client.socket-timeout, likewise */
    int failed;
} dfs_cli;

/* Which arguments of a verb are file system paths to glob. */
typedef enum {
    DFS_GLOB_NONE,         /* none (paths to create, local paths) */
    DFS_GLOB_ALL,          /* every operand */
    DFS_GLOB_SKIP_FIRST,   /* all but the first (-chmod MODE, -setrep N, ...) */
    DFS_GLOB_ALL_BUT_LAST, /* all but the last, the destination (-cp, -mv, -get) */
    DFS_GLOB_STAT,         /* all, bar a leading format holding '%' (-stat) */
} dfs_glob_policy;

/* A verb's argv after glob expansion (cli_dfs_glob.c). */
typedef struct {
    int argc;
    char **argv;      /* malloc'd array; strings borrowed or in owned */
    char **owned;     /* the matched paths, malloc'd */
    size_t nowned;
    int nothing_left; /* every path argument matched nothing */
} dfs_glob_args;

/* Expands the glob operands of argv (argv[0] the verb) by policy into
 * *out (free with dfs_glob_args_free()).  A pattern that matches nothing
 * or is malformed prints one error line and marks c failed.  EMBER_ENOMEM
 * otherwise the only failure. */
int dfs_expand_globs(dfs_cli *c, dfs_glob_policy policy, int argc, char **argv,
                     dfs_glob_args *out);
void dfs_glob_args_free(dfs_glob_args *a);

/* cli_dfs_usage.c: Hadoop's usage and help texts of the verbs. */
/* Checks a verb's options and number of operands (argv[0] the verb)
 * against its entry, before anything else runs: -1 to go on; 0 after
 * `--help` printed the verb's help; 2 after Hadoop's error line
 * ("-ls: Illegal option -z") and the verb's usage line on stderr. */
int dfs_usage_check(const char *cmd, int argc, char **argv);
/* `-usage [CMD...]` and `-help [CMD...]` (cmd "usage" or "help"): every
 * verb, or the ones named; the exit status (2 for an unknown one). */
int dfs_usage_command(const char *cmd, int argc, char **argv);
/* Every verb's usage line (with help, each one's description too) and the
 * generic options. */
void dfs_usage_print_all(FILE *f, int help);
/* "-CMD: <message>" and CMD's usage line on stderr: a usage error of a
 * verb, in Hadoop's words. */
void dfs_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_dfs.c */
/* "drwxr-xr-x" (a 't' or 'T' for the sticky bit). */
void dfs_format_mode(uint32_t mode, int is_dir, char out[11]);
/* Hadoop's "yyyy-MM-dd HH:mm" (ls) or, with seconds, "yyyy-MM-dd
 * HH:mm:ss" (stat), UTC. */
void dfs_format_time(int64_t ms, int seconds, char *out, size_t len);
/* -h sizes: "1.5 K", "12 M" (Hadoop's TraditionalBinaryPrefix.long2String). */
void dfs_format_size(uint64_t n, int human, char *out, size_t len);
/* Prints the library's last error as the command's error line; marks the
 * run failed. */
void dfs_fail(dfs_cli *c);
/* Prints the namenode's warning of the last call, if any. */
void dfs_warn(dfs_cli *c);
/* dir + "/" + name into out. */
void dfs_join(const char *dir, const char *name, char *out, size_t len);
/* Leading single-letter flags from "allowed" into seen[]; the index of
 * the first operand, or -1 after an error line. */
int dfs_flags(dfs_cli *c, int argc, char **argv, const char *allowed, int seen[128]);
/* A path argument resolved (cli_dfs_resolve) into path; 0, or -1 after
 * an error line. */
int dfs_arg(dfs_cli *c, const char *arg, char *path);

/* Calls fn for every entry below the directory dir, in pre-order and name
 * order (cli_tree.c: an explicit stack, so any depth costs no C stack).
 * A directory that cannot be listed gets its error line, marks the run
 * failed, and is left out.  fn returns nonzero to leave out what is below
 * the entry it was given (a directory it could not copy). */
typedef int (*dfs_walk_fn)(dfs_cli *c, const cli_tree_entry *e, void *arg);
void dfs_walk(dfs_cli *c, const char *dir, dfs_walk_fn fn, void *arg);

/* cli_trash.c: the trash (common/trash.h). */
/* Moves path (which exists) to the user's trash when the trash is on: 1
 * moved (Hadoop's "Moved: ..." line printed), 0 not moved -- the trash is
 * off, or path is in it already: delete it --, -1 failed (the error line
 * printed, the run marked failed). */
int dfs_trash_move(dfs_cli *c, const char *path);
void dfs_trash_free(struct dfs_trash *t); /* accepts NULL */
int cmd_expunge(dfs_cli *c, int argc, char **argv);

#define DFS_COPY_CHUNK (1024 * 1024) /* bytes per read and write of a copy */

/* cli_dfs_data.c: the verbs that read file data, and what the copy verbs
 * share. */
/* The last component of a local or file system path ("a/b/" -> "b"). */
void dfs_basename(const char *path, char *out, size_t len);
/* dir/basename(src) into out (DFS_PATH_MAX bytes); 0, or -1 after an
 * error line. */
int dfs_child(dfs_cli *c, const char *dir, const char *src, char *out);
/* target/rel into out (DFS_PATH_MAX bytes): where an entry of a
 * directory copy goes; 0, or -1 after an error line. */
int dfs_place(dfs_cli *c, const char *target, const char *rel, char *out);
/* Writes len bytes to a local fd; 0 or -1 with errno. */
int dfs_write_local(int fd, const uint8_t *buf, size_t len);
/* A file system source argument resolved into src (DFS_PATH_MAX bytes),
 * and whether it is a directory; 0, or -1 after an error line. */
int dfs_source(dfs_cli *c, const char *arg, char *src, int *is_dir);
/* Copies the rest of in to a local fd; 0, or -1 after an error line
 * (local errors name `name'). */
int dfs_copy_out(dfs_cli *c, ember_dfs_file *in, int fd, const char *name);
/* What a copy of a file system tree does with each entry below its top:
 * make_dir at dst (0, or -1 after an error line: what is below it is
 * left out) and copy_file from src to dst; st is the entry's status (the
 * walk's: valid during the call), arg the caller's. */
typedef struct {
    int (*make_dir)(dfs_cli *c, const char *dst, const ember_file_status *st, void *arg);
    void (*copy_file)(dfs_cli *c, const char *src, const char *dst, const ember_file_status *st,
                      void *arg);
} dfs_tree_copier;
/* Every entry below the file system directory src, in pre-order and name
 * order (dfs_walk()), to target + its path below src.  The caller has
 * made target. */
void dfs_copy_tree(dfs_cli *c, const char *src, const char *target, const dfs_tree_copier *cp,
                   void *arg);
int cmd_cat(dfs_cli *c, int argc, char **argv);
int cmd_tail(dfs_cli *c, int argc, char **argv);
int cmd_head(dfs_cli *c, int argc, char **argv);
int cmd_getmerge(dfs_cli *c, int argc, char **argv);
int cmd_find(dfs_cli *c, int argc, char **argv);
int cmd_df(dfs_cli *c, int argc, char **argv);
int cmd_checksum(dfs_cli *c, int argc, char **argv);

/* cli_dfs_put.c: copies into the file system. */
int cmd_copy_in(dfs_cli *c, int argc, char **argv, int from_dfs); /* -put, -cp */
int cmd_move_from_local(dfs_cli *c, int argc, char **argv);
int cmd_append(dfs_cli *c, int argc, char **argv);

/* cli_dfs_get.c: copies out of it. */
int cmd_get(dfs_cli *c, int argc, char **argv);
int cmd_move_to_local(dfs_cli *c, int argc, char **argv);

/* cli_dfs_ls.c: -ls. */
int cmd_ls(dfs_cli *c, int argc, char **argv);

/* cli_dfs_text.c: -text (gzip and zlib decoded). */
int cmd_text(dfs_cli *c, int argc, char **argv);

/* cli_dfs_touch.c: a file's times and length. */
int cmd_touch(dfs_cli *c, int argc, char **argv);
int cmd_truncate(dfs_cli *c, int argc, char **argv);

/* cli_dfs_du.c: the namenode's content summaries. */
int cmd_du(dfs_cli *c, int argc, char **argv);
int cmd_count(dfs_cli *c, int argc, char **argv);

#endif
