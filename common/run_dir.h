/* run_dir.h -- the run directory a cluster lives in.
 *
 * Layout (default ./ember-run, chosen with --run-dir):
 *   cluster.json      mode 0600; how clients reach the primary and the
 *                     secret they prove (written by the primary once its
 *                     gateway listens, removed when the cluster stops)
 *   status            the cluster's exit code on line 1 and a reason on
 *                     line 2, written by the primary as it stops
 *   logs/rank-N.log   each rank's log
 *   pids/rank-N.pid   each rank's process id
 *   data/node-N/      a core node's default data directory
 * Scripts wait for `status` and read its first line: mpirun itself exits 0
 * even when a rank died. */
#ifndef EMBER_RUN_DIR_H
#define EMBER_RUN_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

/* What a client needs to reach and authenticate to a cluster. */
typedef struct {
    char cluster_id[64];
    char host[64];          /* the gateway's numeric address */
    int port;
    char secret[AUTH_SECRET_MAX];
    int64_t started_ms;     /* wall clock */
    int world_size;
    int primary_pid;
} cluster_info;

/* Cluster exit codes, as written to the status file. */
enum {
    CLUSTER_EXIT_OK = 0,         /* stopped on request, every node present */
    CLUSTER_EXIT_FAILED = 1,     /* could not start or failed */
    CLUSTER_EXIT_USAGE = 2,      /* bad command line or configuration */
    CLUSTER_EXIT_NODE_LOST = 3,  /* stopped on request, but a node died meanwhile */
};

/* Joins run_dir and rel into out; EMBER_EINVAL when it does not fit. */
int run_dir_path(const char *run_dir, const char *rel, char *out, size_t outlen);

/* Creates run_dir and its logs/, pids/ and data/ folders (mode 0700 for run_dir,
 * as it holds the secret); fine when they exist.  Every rank calls it. */
int run_dir_prepare(const char *run_dir);

/* Writes pids/rank-N.pid for this process. */
int run_dir_write_pid(const char *run_dir, int rank);

/* Writes cluster.json atomically (temporary file, fsync, rename), 0600. */
int run_dir_write_info(const char *run_dir, const cluster_info *info);

/* Reads cluster.json into *info.  On failure returns EMBER_ENOENT (no
 * file), EMBER_EIO (unreadable) or EMBER_EPROTO (not a valid info file)
 * and puts a one-line reason in err. */
int run_dir_read_info(const char *run_dir, cluster_info *info, char *err, size_t errlen);

void run_dir_remove_info(const char *run_dir);

/* Writes the status file ("CODE\nREASON\n") atomically; removes it when
 * code is negative (a cluster starting again clears the old status). */
int run_dir_write_status(const char *run_dir, int code, const char *reason);

/* Reads the status file's code into *code; EMBER_ENOENT while none. */
int run_dir_read_status(const char *run_dir, int *code);

#endif
