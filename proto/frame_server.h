/* frame_server.h -- one server for length-prefixed frames on stream
 * sockets (TCP or unix), driven by the event loop.
 *
 * The client gateway, the datanode's data port and its short-circuit
 * socket are all this server with different callbacks.  It owns the
 * listening socket, accepts, reassembles frames under a size cap, keeps a
 * bounded output queue that drains on POLLOUT (with descriptors attached
 * by SCM_RIGHTS on unix sockets), can pause reading a connection whose
 * consumer is full, enforces one deadline per connection,
 * and closes a connection after its last bytes are out (lingering on TCP
 * until the peer closes, so a peer with unread input cannot reset our
 * last frame away).  The caller sees connections only by id: ids are never
 * reused, and every call naming a closed connection answers EMBER_ENOENT.
 *
 * Admission.  A new connection is UNAUTHENTICATED until the caller calls
 * frame_server_set_authenticated() (the gateway: the secret was proved;
 * the data port: a request with a valid token).  Unauthenticated
 * connections have a budget of their own (max_unauthenticated), and at
 * most max_unauthenticated_per_peer of them come from one peer address
 * (the IP without the port; "uid N" on a unix socket).  When a new
 * connection would exceed either, the oldest unauthenticated connection
 * (of that peer, for the per-peer limit) is closed to make room -- one
 * already closing first -- so a flood of silent connections can never
 * lock out a client that completes its handshake; a connection whose
 * peer closed before it was accepted is dropped, never admitted (it
 * would evict a live one).  Authenticated
 * connections have their own cap (max_connections).  Per-connection log
 * lines that a peer can provoke go through frame_server_log_ok(): a few
 * per interval, the rest counted and summed up in one line.
 *
 * Connection states (one of them at a time; transitions only here):
 *   OPEN     frames are read and handed to on_frame (unless reading is
 *            paused: frame_server_pause_reading())
 *   CLOSING  no more input is taken; the queue is flushed
 *   LINGER   flushed and shut down for writing; input is discarded until
 *            the peer closes or the linger deadline passes (TCP, linger on)
 *   BROKEN   closed at the next event: peer gone, write failed, deadline
 * OPEN -> CLOSING by frame_server_close(); CLOSING -> LINGER or closed
 * once the queue is empty; any -> BROKEN by frame_server_abort(), an I/O
 * error or a deadline.  A connection is freed (on_close called) only from
 * the server's own event and timer callbacks or frame_server_destroy(),
 * never inside a call the caller makes: an id stays usable for the whole
 * of any callback. */
#ifndef EMBER_FRAME_SERVER_H
#define EMBER_FRAME_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/event_loop.h"

typedef struct frame_server frame_server;

/* Callbacks.  arg is the options' arg; data is what the caller attached to
 * the connection with frame_server_set_data() (NULL until then). */
typedef struct {
    /* A connection was accepted.  Return 0 to keep it; anything else
     * closes it at once (on_close is then not called). */
    int (*on_open)(frame_server *srv, uint64_t id, void *arg);
    /* One whole frame; payload is valid only during the call. */
    void (*on_frame)(frame_server *srv, uint64_t id, void *data, const uint8_t *payload,
                     size_t len, void *arg);
    /* A frame header announced more than the cap (code EMBER_ETOOBIG): the
     * stream is unusable.  The caller may queue an error frame; the
     * connection is closed after it either way.  NULL: closed at once. */
    void (*on_bad_frame)(frame_server *srv, uint64_t id, void *data, int code, void *arg);
    /* The peer closed its side (or reset it), pending bytes of a partial
     * frame buffered.  Return 1 to keep sending (input is no longer
     * read; close with frame_server_close()), 0 to close now.  NULL: 0. */
    int (*on_eof)(frame_server *srv, uint64_t id, void *data, size_t pending, void *arg);
    /* The socket took written bytes, or can take more, on a connection
     * that asked for it (frame_server_want_writable()); written is what
     * went out in this flush. */
    void (*on_writable)(frame_server *srv, uint64_t id, void *data, size_t written, void *arg);
    /* The deadline of an OPEN connection passed.  The caller may queue an
     * error and close it, or set a new deadline; a connection it leaves
     * open with the deadline still past is aborted.  NULL: aborted. */
    void (*on_deadline)(frame_server *srv, uint64_t id, void *data, void *arg);
    /* The connection is being freed: the last call naming id.  The caller
     * frees its data here. */
    void (*on_close)(frame_server *srv, uint64_t id, void *data, void *arg);
} frame_server_callbacks;

typedef struct {
    const char *name;               /* log prefix: "gateway", "datanode", ... */
    int listen_fd;                  /* listening, non-blocking; the server's from now on */
    int max_connections;            /* authenticated connections */
    int max_unauthenticated;        /* connections not yet authenticated */
    int max_unauthenticated_per_peer;
    uint32_t max_frame;             /* frame cap until frame_server_set_max_frame() */
    size_t outq_limit;              /* bytes queued per connection */
    int64_t first_deadline_ms;      /* from accept (the handshake or request); > 0 */
    int64_t linger_ms;              /* 0: close once flushed; else linger up to this */
    int64_t log_interval_ms;        /* rate-limited log lines: one summary per interval */
    frame_server_callbacks cb;
    void *arg;
} frame_server_options;

/* Starts serving opts->listen_fd on loop (the server closes it, also on
 * failure).  0 with *out, or EMBER_ENOMEM / EMBER_EINVAL / the loop's
 * error. */
int frame_server_create(event_loop *loop, const frame_server_options *opts, frame_server **out);

/* Closes every connection (on_close for each) and the listener, frees.
 * Accepts NULL. */
void frame_server_destroy(frame_server *srv);

/* Attaches caller data to id (freed by the caller in on_close). */
int frame_server_set_data(frame_server *srv, uint64_t id, void *data);

/* The data attached to id; NULL for an unknown id. */
void *frame_server_data(const frame_server *srv, uint64_t id);

/* The connection's peer, "host:port" or "pid P uid U"; "" for an unknown
 * id.  Valid while the connection lives. */
const char *frame_server_peer(const frame_server *srv, uint64_t id);

/* Moves id out of the unauthenticated budget into the authenticated one.
 * EMBER_EAGAIN when max_connections are authenticated already (the caller
 * refuses the client), EMBER_ENOENT for an unknown or closing id. */
int frame_server_set_authenticated(frame_server *srv, uint64_t id);

/* Changes the frame cap of id (after its handshake or request). */
int frame_server_set_max_frame(frame_server *srv, uint64_t id, uint32_t max_payload);

/* Sets id's deadline to ms from now; ms <= 0 removes it. */
int frame_server_set_deadline(frame_server *srv, uint64_t id, int64_t ms);

/* Asks for on_writable after each flush while on (a producer that makes
 * output as room appears: the data port's reads). */
int frame_server_want_writable(frame_server *srv, uint64_t id, int on);

/* Backpressure on input: stops reading id -- its socket is no longer
 * polled for input, so the peer's sends stop once the kernel's buffers
 * fill, and no frame is handed to on_frame, not even one already
 * buffered (on_frame may pause the connection that it is handed a frame
 * of: the frames after it wait).  A peer that resets a paused connection
 * breaks it; its orderly end of input is seen after the resume.  Pausing
 * twice is pausing once.  EMBER_ENOENT for an unknown id. */
int frame_server_pause_reading(frame_server *srv, uint64_t id);

/* Reads id again.  Whole frames buffered when it was paused are handed to
 * on_frame at the loop's next turn, never inside this call.  A no-op for
 * a connection not paused.  EMBER_ENOENT for an unknown id, or the
 * loop's error (id then stays paused). */
int frame_server_resume_reading(frame_server *srv, uint64_t id);

/* Queues len bytes (whole frames, header included) and writes what the
 * socket takes now.  EMBER_ENOENT when id is gone or closing,
 * EMBER_ETOOBIG past outq_limit (nothing queued). */
int frame_server_send(frame_server *srv, uint64_t id, const uint8_t *buf, size_t len);

/* As frame_server_send(), with nfds descriptors (at most 4) passed with
 * the first byte of buf by SCM_RIGHTS (unix sockets).  The server sends
 * duplicates: fds stay the caller's.  EMBER_EAGAIN when descriptors of an
 * earlier call are still waiting to go out. */
int frame_server_send_fds(frame_server *srv, uint64_t id, const uint8_t *buf, size_t len,
                          const int *fds, size_t nfds);

/* Bytes queued on id and not yet written (0 for an unknown id). */
size_t frame_server_queued(const frame_server *srv, uint64_t id);

/* Ends id gracefully: no more frames are delivered, the queue is flushed,
 * then the connection lingers (TCP) or is closed.  A no-op when it is
 * closing already. */
int frame_server_close(frame_server *srv, uint64_t id);

/* Ends id at once, dropping what is queued. */
int frame_server_abort(frame_server *srv, uint64_t id);

/* 1 when a log line about one connection may be written now (at most a
 * few per log interval), else 0 -- the line is then counted and the
 * count reported in one summary line at the end of the interval. */
int frame_server_log_ok(frame_server *srv);

/* Connections open, and those not authenticated among them. */
int frame_server_connections(const frame_server *srv);
int frame_server_unauthenticated(const frame_server *srv);

#endif
