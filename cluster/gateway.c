/* gateway.c -- TCP gateway with HMAC challenge (see gateway.h).
 *
 * The sockets, frames, deadlines, admission and closing are the frame
 * server's (proto/frame_server.c); this file is the handshake and the
 * ClientMessage encoding.  Each connection carries a gateway_client
 * (state, nonce, identity), created when it is accepted and freed when
 * the server closes it; replies name the connection by its id, so a late
 * reply to a closed connection is dropped instead of reaching a
 * stranger. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/error.h"
#include "common/log.h"
#include "gateway.h"
#include "proto/frame.h"
#include "proto/frame_server.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define GATEWAY_OUTQ_LIMIT (64u * 1024 * 1024)

typedef enum {
    CLIENT_AUTH,  /* challenge sent, waiting for the answer */
    CLIENT_READY, /* authenticated: requests are served */
} client_state;

typedef struct {
    client_state state;
    char user[256]; /* as the client said in AuthResponse */
    char group[256];
    uint8_t nonce[AUTH_NONCE_LEN];
} gateway_client;

struct gateway {
    frame_server *srv;
    char *secret;
    char *cluster_id;
    gateway_request_cb on_request;
    gateway_job_auth_cb job_auth;
    void *arg;
};

static int gateway_queue(gateway *gw, uint64_t id, const ClientMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_client(msg, 1, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = frame_server_send(gw->srv, id, buf, len);
    free(buf);
    return rc;
}

static int gateway_queue_error(gateway *gw, uint64_t id, int code, const char *message) {
    ErrorResponse err = ERROR_RESPONSE__INIT;
    err.code = code;
    err.message = (char *)message;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_ERROR;
    msg.error = &err;
    return gateway_queue(gw, id, &msg);
}

/* Sends one error frame and closes the connection once it is written. */
static void gateway_reject(gateway *gw, uint64_t id, int code, const char *message) {
    gateway_queue_error(gw, id, code, message);
    frame_server_close(gw->srv, id);
}

int gateway_reply(gateway *gw, uint64_t conn_id, const ClientMessage *resp) {
    return gateway_queue(gw, conn_id, resp);
}

int gateway_reply_frame(gateway *gw, uint64_t conn_id, const uint8_t *frame, size_t len) {
    return frame_server_send(gw->srv, conn_id, frame, len);
}

int gateway_client_identity(gateway *gw, uint64_t conn_id, const char **user, const char **group) {
    gateway_client *c = frame_server_data(gw->srv, conn_id);
    if (c == NULL || c->state != CLIENT_READY)
        return EMBER_ENOENT;
    *user = c->user;
    *group = c->group;
    return EMBER_OK;
}

int gateway_reply_error(gateway *gw, uint64_t conn_id, int code, const char *message) {
    return gateway_queue_error(gw, conn_id, code, message);
}

int gateway_connections(const gateway *gw) { return frame_server_connections(gw->srv); }

/* A task's answer: mac = HMAC-SHA256(its job's token, nonce), accepted
 * while the job is PREP or RUNNING.  The job's user comes back in *user;
 * on a refusal, why in why. */
static int gateway_check_job_token(gateway *gw, const gateway_client *c, const AuthResponse *a,
                                   const char **user, char *why, size_t whylen) {
    uint8_t token[32], mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    int rc = gw->job_auth != NULL ? gw->job_auth(gw->arg, a->job_id, token, user) : EMBER_ENOENT;
    if (rc != EMBER_OK) {
        snprintf(why, whylen, "authentication failed: job %s %s", a->job_id,
                 rc == EMBER_ESTATE ? "is not running" : "is unknown");
        return EMBER_EAUTH;
    }
    if (HMAC(EVP_sha256(), token, sizeof(token), c->nonce, sizeof(c->nonce), mac, &len) == NULL ||
        a->mac.len != len || CRYPTO_memcmp(mac, a->mac.data, len) != 0) {
        snprintf(why, whylen, "authentication failed: wrong token for job %s", a->job_id);
        return EMBER_EAUTH;
    }
    return EMBER_OK;
}

/* The AuthResponse check: the only frame an AUTH connection may send. */
static void gateway_handle_auth(gateway *gw, uint64_t id, gateway_client *c, ClientMessage *msg) {
    const char *peer = frame_server_peer(gw->srv, id);
    if (msg->body_case != CLIENT_MESSAGE__BODY_AUTH_RESPONSE) {
        if (frame_server_log_ok(gw->srv))
            LOG_WARN("client %s: sent %s before authenticating; closing", peer,
                     message_client_name(msg));
        gateway_reject(gw, id, EMBER_EAUTH, "authenticate first");
        return;
    }
    const AuthResponse *a = msg->auth_response;
    const char *user = a->user;
    if (a->job_id[0] != '\0') {
        char why[256];
        if (gateway_check_job_token(gw, c, a, &user, why, sizeof(why)) != EMBER_OK) {
            if (frame_server_log_ok(gw->srv))
                LOG_WARN("client %s: %s", peer, why);
            gateway_reject(gw, id, EMBER_EAUTH, why);
            return;
        }
    } else if (!auth_challenge_verify(gw->secret, c->nonce, sizeof(c->nonce), a->mac.data,
                                      a->mac.len)) {
        if (frame_server_log_ok(gw->srv))
            LOG_WARN("client %s (user '%s'): authentication failed: wrong secret", peer, a->user);
        gateway_reject(gw, id, EMBER_EAUTH, "authentication failed: wrong cluster secret");
        return;
    }
    if (frame_server_set_authenticated(gw->srv, id) != EMBER_OK) {
        if (frame_server_log_ok(gw->srv))
            LOG_WARN("client %s (user '%s'): refused: too many clients connected", peer, a->user);
        gateway_reject(gw, id, EMBER_EAGAIN, "too many clients connected; try again later");
        return;
    }
    LOG_DEBUG("client %s (user '%s'): authenticated%s%s", peer, user,
              a->job_id[0] ? " with the token of " : "", a->job_id);
    snprintf(c->user, sizeof(c->user), "%s", user[0] ? user : "nobody");
    snprintf(c->group, sizeof(c->group), "%s",
             a->group[0] && a->job_id[0] == '\0' ? a->group : c->user);
    c->state = CLIENT_READY;
    frame_server_set_max_frame(gw->srv, id, FRAME_MAX_DEFAULT);
    frame_server_set_deadline(gw->srv, id, 0);
    AuthResult result = AUTH_RESULT__INIT;
    result.ok = 1;
    ClientMessage reply = CLIENT_MESSAGE__INIT;
    reply.body_case = CLIENT_MESSAGE__BODY_AUTH_RESULT;
    reply.auth_result = &result;
    gateway_queue(gw, id, &reply);
}

/* One whole frame: the AuthResponse, or a request for the callback. */
static void gateway_on_frame(frame_server *srv, uint64_t id, void *data, const uint8_t *payload,
                             size_t len, void *arg) {
    gateway *gw = arg;
    gateway_client *c = data;
    ClientMessage *msg;
    if (message_decode_client(payload, len, &msg) != EMBER_OK) {
        char why[160]; /* "malformed message", or what is wrong with a name */
        message_explain_client(payload, len, why, sizeof(why));
        if (frame_server_log_ok(srv))
            LOG_WARN("client %s: malformed frame (%zu bytes): %s; closing",
                     frame_server_peer(srv, id), len, why);
        gateway_reject(gw, id, EMBER_EPROTO, why);
        return;
    }
    if (c->state == CLIENT_AUTH) {
        gateway_handle_auth(gw, id, c, msg);
        client_message__free_unpacked(msg, NULL);
        return;
    }
    gw->on_request(gw, id, msg, gw->arg); /* frees msg */
}

static void gateway_on_bad_frame(frame_server *srv, uint64_t id, void *data, int code,
                                 void *arg) {
    (void)data;
    if (frame_server_log_ok(srv))
        LOG_WARN("client %s: frame over the size cap; closing", frame_server_peer(srv, id));
    gateway_queue_error(arg, id, code, "frame too large");
}

static int gateway_on_eof(frame_server *srv, uint64_t id, void *data, size_t pending, void *arg) {
    (void)data;
    (void)arg;
    if (pending > 0 && frame_server_log_ok(srv))
        LOG_WARN("client %s: disconnected mid-frame (%zu bytes pending)",
                 frame_server_peer(srv, id), pending);
    else if (pending == 0)
        LOG_DEBUG("client %s: disconnected", frame_server_peer(srv, id));
    return 0;
}

/* The auth deadline (the only one the gateway sets) passed. */
static void gateway_on_deadline(frame_server *srv, uint64_t id, void *data, void *arg) {
    (void)data;
    if (frame_server_log_ok(srv))
        LOG_WARN("client %s: did not authenticate in time; closing", frame_server_peer(srv, id));
    gateway_reject(arg, id, EMBER_ETIMEDOUT, "authentication timed out");
}

/* A new connection: its state, and the challenge. */
static int gateway_on_open(frame_server *srv, uint64_t id, void *arg) {
    gateway *gw = arg;
    gateway_client *c = calloc(1, sizeof(*c));
    if (c == NULL || auth_random_bytes(c->nonce, sizeof(c->nonce)) != EMBER_OK) {
        free(c);
        return EMBER_ENOMEM;
    }
    c->state = CLIENT_AUTH;
    frame_server_set_data(srv, id, c);
    AuthChallenge ch = AUTH_CHALLENGE__INIT;
    ch.nonce.data = c->nonce;
    ch.nonce.len = sizeof(c->nonce);
    ch.cluster_id = gw->cluster_id;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    msg.auth_challenge = &ch;
    gateway_queue(gw, id, &msg);
    return EMBER_OK;
}

static void gateway_on_close(frame_server *srv, uint64_t id, void *data, void *arg) {
    (void)srv;
    (void)id;
    (void)arg;
    free(data);
}

int gateway_create(event_loop *loop, const gateway_options *opts, gateway **out, int *port_out) {
    gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL)
        return EMBER_ENOMEM;
    gw->on_request = opts->on_request;
    gw->job_auth = opts->job_auth;
    gw->arg = opts->arg;
    gw->secret = strdup(opts->secret);
    gw->cluster_id = strdup(opts->cluster_id);
    int rc = EMBER_ENOMEM;
    if (gw->secret == NULL || gw->cluster_id == NULL)
        goto fail;
    int fd;
    rc = socket_listen_tcp(opts->bind_addr, opts->port, &fd, port_out);
    if (rc != EMBER_OK)
        goto fail;
    frame_server_options so = {
        .name = "gateway",
        .listen_fd = fd,
        .max_connections = opts->max_connections > 0 ? opts->max_connections
                                                     : GATEWAY_MAX_CONNECTIONS,
        .max_unauthenticated = opts->max_unauthenticated > 0 ? opts->max_unauthenticated
                                                             : GATEWAY_MAX_UNAUTHENTICATED,
        .max_unauthenticated_per_peer = opts->max_unauthenticated_per_peer > 0
                                            ? opts->max_unauthenticated_per_peer
                                            : GATEWAY_MAX_UNAUTHENTICATED_PER_PEER,
        .max_frame = FRAME_MAX_UNAUTHENTICATED,
        .outq_limit = GATEWAY_OUTQ_LIMIT,
        .first_deadline_ms = opts->auth_timeout_ms,
        .linger_ms = opts->auth_timeout_ms,
        .cb = {.on_open = gateway_on_open,
               .on_frame = gateway_on_frame,
               .on_bad_frame = gateway_on_bad_frame,
               .on_eof = gateway_on_eof,
               .on_deadline = gateway_on_deadline,
               .on_close = gateway_on_close},
        .arg = gw,
    };
    rc = frame_server_create(loop, &so, &gw->srv);
    if (rc != EMBER_OK)
        goto fail;
    *out = gw;
    return EMBER_OK;
fail:
    gateway_destroy(gw);
    return rc;
}

void gateway_destroy(gateway *gw) {
    if (gw == NULL)
        return;
    frame_server_destroy(gw->srv);
    free(gw->secret);
    free(gw->cluster_id);
    free(gw);
}
