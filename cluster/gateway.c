/* gateway.c -- TCP gateway with HMAC challenge (see gateway.h).
 *
 * Connections live in a small array indexed by nothing in particular; each
 * has a 64-bit id that is never reused, so a late reply to a closed
 * connection is dropped instead of reaching a stranger.  A connection in
 * CLOSING flushes its queued bytes (the error frame) and is then closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "gateway.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define GATEWAY_MAX_CONNECTIONS 1024
#define GATEWAY_OUTQ_LIMIT (64u * 1024 * 1024)

typedef enum {
    CONN_AUTH,    /* challenge sent, waiting for the answer */
    CONN_READY,   /* authenticated: requests are served */
    CONN_CLOSING, /* flushing a last frame, then closed */
} conn_state;

typedef struct {
    uint64_t id;
    int fd;
    conn_state state;
    char peer[64];
    char user[256];  /* as the client said in AuthResponse */
    char group[256];
    uint8_t nonce[AUTH_NONCE_LEN];
    int64_t auth_deadline_ms;
    frame_reader *reader;
    socket_outq outq;
    int broken; /* a write failed: close without flushing */
} gateway_conn;

static void gateway_on_conn(event_loop *loop, int fd, int revents, void *arg);

struct gateway {
    event_loop *loop;
    int listen_fd;
    char *secret;
    char *cluster_id;
    int64_t auth_timeout_ms;
    gateway_request_cb on_request;
    void *arg;
    uint64_t next_id;
    uint64_t timer_id;
    gateway_conn *conns[GATEWAY_MAX_CONNECTIONS];
    int nconns;
};


static gateway_conn *gateway_find(gateway *gw, uint64_t id) {
    for (int i = 0; i < gw->nconns; i++)
        if (gw->conns[i]->id == id)
            return gw->conns[i];
    return NULL;
}

static void gateway_close(gateway *gw, gateway_conn *c) {
    for (int i = 0; i < gw->nconns; i++) {
        if (gw->conns[i] == c) {
            gw->conns[i] = gw->conns[--gw->nconns];
            break;
        }
    }
    event_loop_remove_fd(gw->loop, c->fd);
    close(c->fd);
    frame_reader_destroy(c->reader);
    socket_outq_free(&c->outq);
    free(c);
}

/* Flushes the connection's queue and sets the events it needs.  It never
 * closes the connection: only gateway_on_conn() and gateway_destroy() do,
 * so a connection stays valid for the whole of any callback.  A broken or
 * finished CLOSING connection asks for POLLOUT, which fires at once and
 * lets gateway_on_conn() close it. */
static void gateway_flush(gateway *gw, gateway_conn *c) {
    int rc = c->broken ? 1 : socket_outq_flush(&c->outq, c->fd);
    if (rc < 0) {
        LOG_INFO("client %s: write failed (%s); closing", c->peer, ember_strerror(rc));
        c->broken = 1;
        c->state = CONN_CLOSING;
    }
    short events = (rc == 1 && c->state != CONN_CLOSING) ? POLLIN : POLLOUT;
    if (c->state != CONN_CLOSING && rc == 0)
        events = POLLIN | POLLOUT;
    event_loop_set_fd_events(gw->loop, c->fd, events);
}

/* 1 when c has nothing more to do and can be closed. */
static int gateway_done(const gateway_conn *c) {
    return c->state == CONN_CLOSING && (c->broken || c->outq.off == c->outq.len);
}

static int gateway_queue(gateway *gw, gateway_conn *c, const ClientMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_client(msg, 1, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_outq_append(&c->outq, buf, len, GATEWAY_OUTQ_LIMIT);
    free(buf);
    if (rc == EMBER_OK)
        gateway_flush(gw, c);
    return rc;
}

static int gateway_queue_error(gateway *gw, gateway_conn *c, int code, const char *message) {
    ErrorResponse err = ERROR_RESPONSE__INIT;
    err.code = code;
    err.message = (char *)message;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_ERROR;
    msg.error = &err;
    return gateway_queue(gw, c, &msg);
}

/* Sends one error frame and closes the connection once it is written. */
static void gateway_reject(gateway *gw, gateway_conn *c, int code, const char *message) {
    c->state = CONN_CLOSING;
    if (gateway_queue_error(gw, c, code, message) != EMBER_OK)
        c->broken = 1;
    gateway_flush(gw, c);
}

int gateway_reply(gateway *gw, uint64_t conn_id, const ClientMessage *resp) {
    gateway_conn *c = gateway_find(gw, conn_id);
    if (c == NULL || c->state == CONN_CLOSING)
        return EMBER_ENOENT;
    return gateway_queue(gw, c, resp);
}

int gateway_reply_frame(gateway *gw, uint64_t conn_id, const uint8_t *frame, size_t len) {
    gateway_conn *c = gateway_find(gw, conn_id);
    if (c == NULL || c->state == CONN_CLOSING)
        return EMBER_ENOENT;
    int rc = socket_outq_append(&c->outq, frame, len, GATEWAY_OUTQ_LIMIT);
    if (rc == EMBER_OK)
        gateway_flush(gw, c);
    return rc;
}

int gateway_client_identity(gateway *gw, uint64_t conn_id, const char **user, const char **group) {
    gateway_conn *c = gateway_find(gw, conn_id);
    if (c == NULL || c->state != CONN_READY)
        return EMBER_ENOENT;
    *user = c->user;
    *group = c->group;
    return EMBER_OK;
}

int gateway_reply_error(gateway *gw, uint64_t conn_id, int code, const char *message) {
    gateway_conn *c = gateway_find(gw, conn_id);
    if (c == NULL || c->state == CONN_CLOSING)
        return EMBER_ENOENT;
    return gateway_queue_error(gw, c, code, message);
}

int gateway_connections(const gateway *gw) { return gw->nconns; }

/* The AuthResponse check: the only frame an AUTH connection may send. */
static void gateway_handle_auth(gateway *gw, gateway_conn *c, ClientMessage *msg) {
    if (msg->body_case != CLIENT_MESSAGE__BODY_AUTH_RESPONSE) {
        LOG_WARN("client %s: sent %s before authenticating; closing", c->peer,
                 message_client_name(msg));
        gateway_reject(gw, c, EMBER_EAUTH, "authenticate first");
        return;
    }
    const AuthResponse *a = msg->auth_response;
    if (!auth_challenge_verify(gw->secret, c->nonce, sizeof(c->nonce), a->mac.data, a->mac.len)) {
        LOG_WARN("client %s (user '%s'): authentication failed: wrong secret", c->peer, a->user);
        gateway_reject(gw, c, EMBER_EAUTH, "authentication failed: wrong cluster secret");
        return;
    }
    LOG_DEBUG("client %s (user '%s'): authenticated", c->peer, a->user);
    snprintf(c->user, sizeof(c->user), "%s", a->user[0] ? a->user : "nobody");
    snprintf(c->group, sizeof(c->group), "%s", a->group[0] ? a->group : c->user);
    c->state = CONN_READY;
    frame_reader_set_max(c->reader, FRAME_MAX_DEFAULT);
    AuthResult result = AUTH_RESULT__INIT;
    result.ok = 1;
    ClientMessage reply = CLIENT_MESSAGE__INIT;
    reply.body_case = CLIENT_MESSAGE__BODY_AUTH_RESULT;
    reply.auth_result = &result;
    gateway_queue(gw, c, &reply);
}

/* Decodes every whole frame buffered on c.  Returns 0 while the connection
 * stays open for reading, -1 once it was rejected or closed. */
static int gateway_read_frames(gateway *gw, gateway_conn *c) {
    for (;;) {
        if (c->state == CONN_CLOSING)
            return -1;
        const uint8_t *payload;
        size_t len;
        int rc = frame_reader_next(c->reader, &payload, &len);
        if (rc == 0)
            return 0;
        if (rc == EMBER_ETOOBIG) {
            LOG_WARN("client %s: frame over the size cap; closing", c->peer);
            gateway_reject(gw, c, EMBER_ETOOBIG, "frame too large");
            return -1;
        }
        ClientMessage *msg;
        if (message_decode_client(payload, len, &msg) != EMBER_OK) {
            char why[160]; /* "malformed message", or what is wrong with a name */
            message_explain_client(payload, len, why, sizeof(why));
            LOG_WARN("client %s: refused frame (%zu bytes): %s; closing", c->peer, len, why);
            gateway_reject(gw, c, EMBER_EPROTO, why);
            return -1;
        }
        if (c->state == CONN_AUTH) {
            gateway_handle_auth(gw, c, msg);
            client_message__free_unpacked(msg, NULL);
            continue;
        }
        gw->on_request(gw, c->id, msg, gw->arg); /* frees msg */
    }
}

/* Reads what the socket has and serves the whole frames among it. */
static void gateway_read_ready(gateway *gw, gateway_conn *c) {
    int rc = frame_reader_fill(c->reader, c->fd);
    if (rc == EMBER_EAGAIN)
        return;
    if (rc == EMBER_ETOOBIG) {
        LOG_WARN("client %s: frame over the size cap; closing", c->peer);
        gateway_reject(gw, c, EMBER_ETOOBIG, "frame too large");
        return;
    }
    if (gateway_read_frames(gw, c) < 0 || rc >= 0)
        return;
    /* End of stream (or a socket error) after the whole frames. */
    size_t left = frame_reader_buffered(c->reader);
    if (left > 0)
        LOG_WARN("client %s: disconnected mid-frame (%zu bytes pending)", c->peer, left);
    else
        LOG_DEBUG("client %s: disconnected", c->peer);
    c->state = CONN_CLOSING;
    c->broken = 1;
}

static void gateway_on_conn(event_loop *loop, int fd, int revents, void *arg) {
    gateway *gw = arg;
    gateway_conn *c = NULL;
    for (int i = 0; i < gw->nconns; i++)
        if (gw->conns[i]->fd == fd)
            c = gw->conns[i];
    if (c == NULL)
        return;
    if (revents & POLLOUT)
        gateway_flush(gw, c);
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && c->state != CONN_CLOSING)
        gateway_read_ready(gw, c);
    if (gateway_done(c))
        gateway_close(gw, c);
}

static void gateway_on_accept(event_loop *loop, int fd, int revents, void *arg) {
    gateway *gw = arg;
    for (;;) {
        int cfd;
        char peer[64];
        int rc = socket_accept(fd, &cfd, peer, sizeof(peer));
        if (rc != EMBER_OK) {
            if (rc != EMBER_EAGAIN)
                LOG_WARN("accept failed: %s", strerror(errno));
            return;
        }
        if (gw->nconns == GATEWAY_MAX_CONNECTIONS) {
            LOG_WARN("client %s refused: %d connections open", peer, gw->nconns);
            close(cfd);
            continue;
        }
        gateway_conn *c = calloc(1, sizeof(*c));
        if (c == NULL || frame_reader_create(&c->reader, FRAME_MAX_UNAUTHENTICATED) != EMBER_OK ||
            auth_random_bytes(c->nonce, sizeof(c->nonce)) != EMBER_OK ||
            event_loop_add_fd(loop, cfd, POLLIN, gateway_on_conn, gw) != EMBER_OK) {
            if (c != NULL)
                frame_reader_destroy(c->reader);
            free(c);
            close(cfd);
            continue;
        }
        c->id = gw->next_id++;
        c->fd = cfd;
        c->state = CONN_AUTH;
        c->auth_deadline_ms = clock_monotonic_ms() + gw->auth_timeout_ms;
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
        gw->conns[gw->nconns++] = c;
        LOG_DEBUG("client %s: connected", c->peer);

        AuthChallenge ch = AUTH_CHALLENGE__INIT;
        ch.nonce.data = c->nonce;
        ch.nonce.len = sizeof(c->nonce);
        ch.cluster_id = gw->cluster_id;
        ClientMessage msg = CLIENT_MESSAGE__INIT;
        msg.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
        msg.auth_challenge = &ch;
        gateway_queue(gw, c, &msg);
    }
}

/* Once a second: drop connections that did not authenticate in time. */
static void gateway_on_timer(event_loop *loop, void *arg) {
    gateway *gw = arg;
    int64_t now = clock_monotonic_ms();
    for (int i = gw->nconns - 1; i >= 0; i--) {
        gateway_conn *c = gw->conns[i];
        if (c->state == CONN_AUTH && now > c->auth_deadline_ms) {
            LOG_WARN("client %s: did not authenticate in time; closing", c->peer);
            gateway_reject(gw, c, EMBER_ETIMEDOUT, "authentication timed out");
        }
    }
}

int gateway_create(event_loop *loop, const gateway_options *opts, gateway **out, int *port_out) {
    gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL)
        return EMBER_ENOMEM;
    gw->loop = loop;
    gw->listen_fd = -1;
    gw->next_id = 1;
    gw->auth_timeout_ms = opts->auth_timeout_ms;
    gw->on_request = opts->on_request;
    gw->arg = opts->arg;
    gw->secret = strdup(opts->secret);
    gw->cluster_id = strdup(opts->cluster_id);
    int rc = EMBER_ENOMEM;
    if (gw->secret == NULL || gw->cluster_id == NULL)
        goto fail;
    rc = socket_listen_tcp(opts->bind_addr, opts->port, &gw->listen_fd, port_out);
    if (rc != EMBER_OK)
        goto fail;
    rc = event_loop_add_fd(loop, gw->listen_fd, POLLIN, gateway_on_accept, gw);
    if (rc != EMBER_OK)
        goto fail;
    rc = event_loop_add_timer(loop, 1000, gateway_on_timer, gw, &gw->timer_id);
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
    while (gw->nconns > 0)
        gateway_close(gw, gw->conns[0]);
    if (gw->listen_fd >= 0) {
        event_loop_remove_fd(gw->loop, gw->listen_fd);
        close(gw->listen_fd);
    }
    if (gw->timer_id != 0)
        event_loop_remove_timer(gw->loop, gw->timer_id);
    free(gw->secret);
    free(gw->cluster_id);
    free(gw);
}
