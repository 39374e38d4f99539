/* gateway.h -- the primary's TCP gateway for outside clients.
 *
 * Listens on a loopback (or configured) address and an ephemeral (or
 * configured) port, through proto/frame_server.h.  Each connection goes
 * through two states:
 *   AUTH   the gateway has sent an AuthChallenge; frames are capped at
 *          FRAME_MAX_UNAUTHENTICATED; only an AuthResponse is accepted, and
 *          only before the auth deadline
 *   READY  the client proved the secret; each request frame is decoded,
 *          validated and handed to the request callback, which answers
 *          with gateway_reply()
 * A task process answers the challenge with its job's token instead of
 * the secret (AuthResponse.job_id set, mac = HMAC-SHA256(job token,
 * nonce)): the job_auth callback gives the token and the job's user while
 * the job is PREP or RUNNING, and the connection is that user's.
 * A wrong secret or token, a malformed or oversized frame, or a request before
 * authentication closes that connection (after one error frame) and is
 * logged; other connections and the cluster carry on.
 *
 * Connections still in AUTH have a budget of their own, apart from
 * authenticated clients, and a per-address share of it; a new connection
 * past either closes the oldest unauthenticated one, so connections that
 * never authenticate cannot lock clients out (frame_server.h).  Log lines
 * a client can provoke are rate-limited. */
#ifndef EMBER_GATEWAY_H
#define EMBER_GATEWAY_H

#include <stdint.h>

#include "client.pb-c.h"
#include "common/event_loop.h"

typedef struct gateway gateway;

#define GATEWAY_MAX_CONNECTIONS 1024
#define GATEWAY_MAX_UNAUTHENTICATED 256
#define GATEWAY_MAX_UNAUTHENTICATED_PER_PEER 64

/* Called for each authenticated request.  req belongs to the callee, which
 * frees it with client_message__free_unpacked(req, NULL) and answers, now or
 * later, with gateway_reply(gw, conn_id, ...). */
typedef void (*gateway_request_cb)(gateway *gw, uint64_t conn_id, ClientMessage *req, void *arg);

/* The token (32 bytes) of job_id and its user, while the job may still
 * authenticate tasks: 0, EMBER_ENOENT (no such job) or EMBER_ESTATE (it is
 * over).  *user must live until the callback is called again. */
typedef int (*gateway_job_auth_cb)(void *arg, const char *job_id, uint8_t token[32],
                                   const char **user);

typedef struct {
    const char *bind_addr;
    int port;                 /* 0: ephemeral */
    const char *secret;
    const char *cluster_id;
    int64_t auth_timeout_ms;
    int max_connections;             /* authenticated clients; 0: GATEWAY_MAX_CONNECTIONS */
    int max_unauthenticated;         /* clients still authenticating; 0: the default */
    int max_unauthenticated_per_peer; /* ... from one address; 0: the default */
    gateway_request_cb on_request;
    gateway_job_auth_cb job_auth; /* NULL: job tokens are refused */
    void *arg;                    /* of both callbacks */
} gateway_options;

/* Listens and registers with loop.  The bound port comes back in
 * *port_out.  Strings in opts are copied. */
int gateway_create(event_loop *loop, const gateway_options *opts, gateway **out, int *port_out);

/* Closes the listener and every connection.  Accepts NULL. */
void gateway_destroy(gateway *gw);

/* Queues resp on connection conn_id.  EMBER_ENOENT when that connection
 * has closed meanwhile (the answer is dropped). */
int gateway_reply(gateway *gw, uint64_t conn_id, const ClientMessage *resp);

/* Queues an already framed, encoded ClientMessage (message.h's
 * message_encode_client with framed set): for answers prepared earlier
 * and sent later, such as the namenode's after its group commit. */
int gateway_reply_frame(gateway *gw, uint64_t conn_id, const uint8_t *frame, size_t len);

/* Who the client on conn_id said it is when it authenticated (user and
 * primary group); the strings live as long as the connection. */
int gateway_client_identity(gateway *gw, uint64_t conn_id, const char **user, const char **group);

/* Queues an ErrorResponse with code and message. */
int gateway_reply_error(gateway *gw, uint64_t conn_id, int code, const char *message);

/* Connections currently open. */
int gateway_connections(const gateway *gw);

#endif
