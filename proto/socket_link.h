/* socket_link.h -- TCP sockets for frames: listening, connecting, and an
 * output queue that drains as the socket allows.
 *
 * The server side (the gateway) is non-blocking and driven by the event
 * loop; the client side (CLI, client library) is blocking with a deadline
 * on every call, so a hung primary costs a client one timeout, not
 * forever. */
#ifndef EMBER_SOCKET_LINK_H
#define EMBER_SOCKET_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* Listens on bind_addr:port (port 0: ephemeral), non-blocking.  The bound
 * port comes back in *port_out.  Returns EMBER_EINVAL for an address that is
 * not numeric IPv4/IPv6, EMBER_EIO when bind or listen fail. */
int socket_listen_tcp(const char *bind_addr, int port, int *fd_out, int *port_out);

/* Connects to host:port within timeout_ms; the socket comes back blocking. */
int socket_connect_tcp(const char *host, int port, int64_t timeout_ms, int *fd_out);

int socket_set_nonblocking(int fd);

/* Accepts one connection on a non-blocking listener: the new socket
 * (non-blocking, close-on-exec) in *fd_out and its peer as "host:port" in
 * peer.  EMBER_EAGAIN when none is waiting, EMBER_EIO (errno set) on an
 * error. */
int socket_accept(int listen_fd, int *fd_out, char *peer, size_t peerlen);

/* Writes all of buf to a blocking socket before the deadline (monotonic
 * ms).  EMBER_ETIMEDOUT, EMBER_ECLOSED or EMBER_EIO on failure. */
int socket_write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline_ms);

/* Waits for one whole frame on fd before the deadline.  *payload points
 * into reader's buffer (valid until its next use). */
int socket_read_frame(int fd, frame_reader *reader, int64_t deadline_ms, const uint8_t **payload,
                      size_t *len);

/* Takes the descriptors passed with SCM_RIGHTS in a received message's
 * control data into fds (room for cap; *n counts them, the caller sets it
 * first); any beyond cap are closed and make *extra 1.  extra may be NULL. */
struct msghdr;
void socket_take_fds(struct msghdr *mh, int *fds, size_t cap, size_t *n, int *extra);

/* Bytes waiting to be written to a non-blocking socket. */
typedef struct {
    uint8_t *buf;
    size_t len, off, cap;
} socket_outq;

/* Appends len bytes; EMBER_ETOOBIG past limit bytes queued. */
int socket_outq_append(socket_outq *q, const uint8_t *data, size_t len, size_t limit);
/* Writes what the socket takes now.  Returns 1 when the queue is empty, 0
 * when bytes remain, EMBER_ECLOSED or EMBER_EIO on error. */
int socket_outq_flush(socket_outq *q, int fd);
void socket_outq_free(socket_outq *q);

#endif
