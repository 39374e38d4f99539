/* cli.h -- pieces shared by the `ember` CLI's commands.
 *
 * Every command is a function `int cli_<command>(cli_env *env, int argc,
 * char **argv)` returning the process exit status (0 ok, 1 failure, 2 bad
 * usage) after printing at most one error line to stderr. */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"
#include "ember/client.h"

#define CLI_TIMEOUT_MS 30000

typedef struct {
    const char *run_dir; /* --run-dir, $EMBER_RUN_DIR or ./ember-run */
} cli_env;

/* Prints "ember: <fmt>" and a newline to stderr, in one call (lines of
 * several threads do not mix; at most 8 KiB). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Connects, sends req, and returns the answer in *resp (the caller frees
 * it), which must carry the body `expect`.  With client_out, the
 * connection stays open and is the caller's.  On failure prints the error
 * line and returns 1. */
int cli_request(cli_env *env, ClientMessage *req, ClientMessage__BodyCase expect,
                ClientMessage **resp, ember_client **client_out);

/* Asks the primary for the report of every node (ReportRequest) and
 * returns the answer in *resp (the caller frees it).  On failure prints
 * the error line and returns 1. */
int cli_fetch_report(cli_env *env, ClientMessage **resp);
/* Whether arg asks for a command's help: "--help", "-h" or "-help"
 * (every command and subcommand takes them, printing its usage to
 * stdout and exiting 0). */
int cli_is_help(const char *arg);

/* "251.47 GB"-style rendering of a byte count (Hadoop's byteDesc). */
void cli_format_bytes(uint64_t bytes, char *buf, size_t buflen);

int cli_dfsadmin(cli_env *env, int argc, char **argv);
int cli_node(cli_env *env, int argc, char **argv);
int cli_dfs(cli_env *env, int argc, char **argv);
int cli_debug(cli_env *env, int argc, char **argv);

/* cli_path.c: command-line paths.  cli_dfs_resolve() turns one ("/abs",
 * "hdfs:///abs", "hdfs://AUTH/abs" when AUTH names this cluster, or
 * relative to /user/USER) into the normalised absolute path the namenode
 * takes (client/dfs_path.h: "..", "." and "//" resolved, never above
 * "/"): 0, or EMBER_EINVAL with a one-line reason in err. */
int cli_dfs_resolve(const cli_env *env, const char *arg, char *out, size_t outlen, char *err,
                    size_t errlen);
/* The user the cluster sees: $HADOOP_USER_NAME, else the process's user. */
void cli_dfs_user(char *out, size_t len);
/* "hdfs://HOST:PORT" of the running cluster's gateway (cluster.json), as
 * Hadoop qualifies paths in messages; the reader's error otherwise. */
int cli_dfs_fs_uri(const cli_env *env, char *out, size_t len, char *err, size_t errlen);
int cli_fsck(cli_env *env, int argc, char **argv);
int cli_status(cli_env *env, int argc, char **argv);
int cli_cluster_stop(cli_env *env, int argc, char **argv);
int cli_getconf(cli_env *env, int argc, char **argv);
int cli_version(cli_env *env, int argc, char **argv);
int cli_jar(cli_env *env, int argc, char **argv);
int cli_run(cli_env *env, int argc, char **argv);
int cli_streaming(cli_env *env, int argc, char **argv);
/* cli_job_admin.c: `ember job -list/-status/-kill/-logs`, `ember queue -list`. */
int cli_job_admin(cli_env *env, int argc, char **argv);
int cli_queue(cli_env *env, int argc, char **argv);
/* `ember task`: one attempt in a worker's container (cli_task.c). */
int cli_task(cli_env *env, int argc, char **argv);

#endif
