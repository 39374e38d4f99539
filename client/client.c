/* client.c -- the low-level client library (see include/ember/client.h).
 *
 * One blocking TCP connection per client with a frame reader capped at
 * FRAME_MAX_DEFAULT.  The handshake is the gateway's: read AuthChallenge,
 * send AuthResponse, read AuthResult (or an ErrorResponse saying why
 * not). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/run_dir.h"
#include "ember/client.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

struct ember_client {
    int fd;
    int64_t timeout_ms;
    frame_reader *reader;
    char cluster_id[64];
};

const char *ember_client_default_run_dir(void) {
    const char *env = getenv("EMBER_RUN_DIR");
    return (env != NULL && env[0] != '\0') ? env : "ember-run";
}

static int client_send(ember_client *c, const ClientMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_client(msg, 1, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_write_all(c->fd, buf, len, clock_monotonic_ms() + c->timeout_ms);
    free(buf);
    return rc;
}

/* Reads one message; an ErrorResponse becomes its code and text. */
static int client_receive(ember_client *c, ClientMessage **out, char *err, size_t errlen) {
    const uint8_t *payload;
    size_t len;
    int rc =
        socket_read_frame(c->fd, c->reader, clock_monotonic_ms() + c->timeout_ms, &payload, &len);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "%s",
                 rc == EMBER_ECLOSED ? "the cluster closed the connection" : ember_strerror(rc));
        return rc;
    }
    ClientMessage *msg;
    if (message_decode_client(payload, len, &msg) != EMBER_OK) {
        snprintf(err, errlen, "malformed answer from the cluster");
        return EMBER_EPROTO;
    }
    if (msg->body_case == CLIENT_MESSAGE__BODY_ERROR) {
        snprintf(err, errlen, "%s", msg->error->message);
        rc = msg->error->code;
        client_message__free_unpacked(msg, NULL);
        return rc;
    }
    *out = msg;
    return EMBER_OK;
}

/* Who we are, for a client holding the secret: the process's user and
 * primary group, or, as with Hadoop's simple authentication,
 * $HADOOP_USER_NAME (with that user's primary group when it exists here,
 * else a group of its own name).  A name the cluster cannot carry whole
 * is refused here, saying why, never replaced by another. */
static int client_identity(AuthResponse *ar, char *err, size_t errlen) {
    const char *as = getenv("HADOOP_USER_NAME");
    int from_env = as != NULL && as[0] != '\0';
    struct passwd *pw = from_env ? getpwnam(as) : getpwuid(getuid());
    struct group *gr = pw != NULL ? getgrgid(pw->pw_gid) : NULL;
    ar->user = from_env ? (char *)as : pw != NULL ? pw->pw_name : "unknown";
    char why[160];
    if (message_user_problem(from_env ? "HADOOP_USER_NAME" : "local user name", ar->user, 0, why,
                             sizeof(why)) != EMBER_OK) {
        snprintf(err, errlen, "%s", why);
        return EMBER_EINVAL;
    }
    ar->group = gr != NULL && message_user_problem("group", gr->gr_name, 0, NULL, 0) == EMBER_OK
                    ? gr->gr_name
                    : ar->user;
    return EMBER_OK;
}

/* The handshake: the challenge answered with the secret, or with a job's
 * token (job != NULL: a task process, as the job's user). */
static int client_authenticate(ember_client *c, const char *secret,
                               const ember_job_credentials *job, char *err, size_t errlen) {
    ClientMessage *msg = NULL;
    int rc = client_receive(c, &msg, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (msg->body_case != CLIENT_MESSAGE__BODY_AUTH_CHALLENGE) {
        client_message__free_unpacked(msg, NULL);
        snprintf(err, errlen, "the cluster did not send a challenge");
        return EMBER_EPROTO;
    }
    snprintf(c->cluster_id, sizeof(c->cluster_id), "%s", msg->auth_challenge->cluster_id);
    uint8_t mac[AUTH_MAC_LEN];
    const ProtobufCBinaryData *nonce = &msg->auth_challenge->nonce;
    rc = job != NULL ? auth_job_answer(job->token, job->token_len, nonce->data, nonce->len, mac)
                     : auth_challenge_answer(secret, nonce->data, nonce->len, mac);
    client_message__free_unpacked(msg, NULL);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot answer the cluster's challenge: %s", ember_strerror(rc));
        return rc;
    }
    AuthResponse ar = AUTH_RESPONSE__INIT;
    ar.mac.data = mac;
    ar.mac.len = sizeof(mac);
    if (job != NULL) {
        ar.user = ar.group = (char *)job->user;
        ar.job_id = (char *)job->job_id;
    } else if ((rc = client_identity(&ar, err, errlen)) != EMBER_OK) {
        return rc;
    }
    ClientMessage reply = CLIENT_MESSAGE__INIT;
    reply.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    reply.auth_response = &ar;
    if ((rc = client_send(c, &reply)) != EMBER_OK) {
        snprintf(err, errlen, "cannot send to the cluster: %s", ember_strerror(rc));
        return rc;
    }
    rc = client_receive(c, &msg, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    int ok = msg->body_case == CLIENT_MESSAGE__BODY_AUTH_RESULT && msg->auth_result->ok;
    client_message__free_unpacked(msg, NULL);
    if (!ok) {
        snprintf(err, errlen, "authentication failed");
        return EMBER_EAUTH;
    }
    return EMBER_OK;
}

/* Connects to host:port and authenticates (see client_authenticate()). */
static int client_open(const char *host, int port, const char *secret,
                       const ember_job_credentials *job, int64_t timeout_ms, ember_client **out,
                       char *err, size_t errlen) {
    ember_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return EMBER_ENOMEM;
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    int rc = frame_reader_create(&c->reader, FRAME_MAX_DEFAULT);
    if (rc != EMBER_OK)
        goto fail;
    rc = socket_connect_tcp(host, port, timeout_ms, &c->fd);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot connect to the cluster at %s:%d: %s%s", host, port,
                 rc == EMBER_ECLOSED ? "connection refused" : strerror(errno),
                 rc == EMBER_ECLOSED ? " (is it still running?)" : "");
        goto fail;
    }
    rc = client_authenticate(c, secret, job, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    *out = c;
    return EMBER_OK;
fail:
    ember_client_close(c);
    return rc;
}

int ember_client_connect(const char *run_dir, int64_t timeout_ms, ember_client **out, char *err,
                         size_t errlen) {
    cluster_info info;
    int rc = run_dir_read_info(run_dir, &info, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    return client_open(info.host, info.port, info.secret, NULL, timeout_ms, out, err, errlen);
}

int ember_client_connect_job(const ember_job_credentials *job, int64_t timeout_ms,
                             ember_client **out, char *err, size_t errlen) {
    if (job == NULL || job->host == NULL || job->job_id == NULL || job->user == NULL ||
        job->token == NULL || job->token_len == 0) {
        snprintf(err, errlen, "job credentials need a gateway, a job id, a user and a token");
        return EMBER_EINVAL;
    }
    return client_open(job->host, job->port, NULL, job, timeout_ms, out, err, errlen);
}

void ember_client_close(ember_client *client) {
    if (client == NULL)
        return;
    if (client->fd >= 0)
        close(client->fd);
    frame_reader_destroy(client->reader);
    free(client);
}

int ember_client_call(ember_client *client, const ClientMessage *req, ClientMessage **resp,
                      char *err, size_t errlen) {
    int rc = client_send(client, req);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot send to the cluster: %s", ember_strerror(rc));
        return rc;
    }
    return client_receive(client, resp, err, errlen);
}

const char *ember_client_cluster_id(const ember_client *client) { return client->cluster_id; }
