/* ember/client.h -- connecting to an ember cluster from outside it.
 *
 * The low-level client API: find a cluster through its run directory, prove
 * the cluster secret, then exchange ClientMessages (proto/client.proto) one
 * request and one response at a time.  Every call has a deadline, so a
 * hung or dead primary costs one timeout.  The `ember` CLI is built on this;
 * higher-level APIs (dfs.h, mapreduce.h) will be too. */
#ifndef EMBER_CLIENT_H
#define EMBER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"

typedef struct ember_client ember_client;

/* The run directory to use when none is given: $EMBER_RUN_DIR when set and
 * not empty, else "ember-run".  The string is static or the environment's. */
const char *ember_client_default_run_dir(void);

/* Reads run_dir/cluster.json, connects to the primary's gateway and
 * answers its challenge.  On success *out is the caller's (free it with
 * ember_client_close()); on failure returns a negative EMBER_E* code and
 * puts a one-line reason in err. */
int ember_client_connect(const char *run_dir, int64_t timeout_ms, ember_client **out, char *err,
                         size_t errlen);

/* A task process's credentials (MR_PROTOCOL.md, "Job token"): it never
 * holds the cluster secret, only its job's token, HMAC-SHA256(secret,
 * "job:" + job_id), and answers the gateway's challenge with
 * HMAC-SHA256(token, nonce), naming the job and the job's user.  The
 * gateway accepts it while the job runs, as that user. */
typedef struct ember_job_credentials {
    const char *host; /* the gateway (TaskAssignment.gateway_host/port) */
    int port;
    const char *job_id;
    const uint8_t *token;
    size_t token_len;
    const char *user;
} ember_job_credentials;

/* As ember_client_connect(), to the gateway named in job, authenticated
 * with the job's token. */
int ember_client_connect_job(const ember_job_credentials *job, int64_t timeout_ms,
                             ember_client **out, char *err, size_t errlen);

/* Closes the connection; accepts NULL. */
void ember_client_close(ember_client *client);

/* Sends req and waits for its answer.  On success *resp is the caller's
 * (client_message__free_unpacked(*resp, NULL)) and is never an
 * ErrorResponse: an ErrorResponse becomes its negative code with its text
 * in err. */
int ember_client_call(ember_client *client, const ClientMessage *req, ClientMessage **resp,
                      char *err, size_t errlen);

/* The cluster id the gateway announced. */
const char *ember_client_cluster_id(const ember_client *client);

#endif
