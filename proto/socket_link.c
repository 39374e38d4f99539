/* socket_link.c -- TCP helpers for frames (see socket_link.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "socket_link.h"

int socket_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return EMBER_EIO;
    return EMBER_OK;
}

/* Fills *ss from a numeric address and a port. */
static int socket_make_addr(const char *addr, int port, struct sockaddr_storage *ss,
                            socklen_t *sslen) {
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*in4);
        return EMBER_OK;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof(*in6);
        return EMBER_OK;
    }
    return EMBER_EINVAL;
}

int socket_listen_tcp(const char *bind_addr, int port, int *fd_out, int *port_out) {
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (port < 0 || port > 65535 || socket_make_addr(bind_addr, port, &ss, &sslen) != EMBER_OK)
        return EMBER_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return EMBER_EIO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 128) != 0 ||
        socket_set_nonblocking(fd) != EMBER_OK)
        goto fail;
    sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
        goto fail;
    *port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    *fd_out = fd;
    return EMBER_OK;
fail:
    close(fd);
    return EMBER_EIO;
}

/* Waits for events on fd until the deadline; 1 ready, EMBER_ETIMEDOUT. */
static int socket_wait(int fd, short events, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - clock_monotonic_ms();
        if (left <= 0)
            return EMBER_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return EMBER_EIO;
    }
}

int socket_accept(int listen_fd, int *fd_out, char *peer, size_t peerlen) {
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? EMBER_EAGAIN
                                                                          : EMBER_EIO;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
        port = ntohs(in4->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(peer, peerlen, "%s:%d", host, port);
    *fd_out = fd;
    return EMBER_OK;
}

int socket_connect_tcp(const char *host, int port, int64_t timeout_ms, int *fd_out) {
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (socket_make_addr(host, port, &ss, &sslen) != EMBER_OK)
        return EMBER_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return EMBER_EIO;
    int rc = socket_set_nonblocking(fd);
    if (rc != EMBER_OK)
        goto fail;
    if (connect(fd, (struct sockaddr *)&ss, sslen) != 0) {
        if (errno != EINPROGRESS) {
            rc = errno == ECONNREFUSED ? EMBER_ECLOSED : EMBER_EIO;
            goto fail;
        }
        rc = socket_wait(fd, POLLOUT, clock_monotonic_ms() + timeout_ms);
        if (rc < 0)
            goto fail;
        int err = 0;
        socklen_t errlen = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen);
        if (err != 0) {
            errno = err;
            rc = err == ECONNREFUSED ? EMBER_ECLOSED : EMBER_EIO;
            goto fail;
        }
    }
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *fd_out = fd;
    return EMBER_OK;
fail:
    close(fd);
    return rc;
}

int socket_write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline_ms) {
    size_t off = 0;
    while (off < len) {
        int rc = socket_wait(fd, POLLOUT, deadline_ms);
        if (rc < 0)
            return rc;
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        return (errno == EPIPE || errno == ECONNRESET) ? EMBER_ECLOSED : EMBER_EIO;
    }
    return EMBER_OK;
}

int socket_read_frame(int fd, frame_reader *reader, int64_t deadline_ms, const uint8_t **payload,
                      size_t *len) {
    for (;;) {
        int rc = frame_reader_next(reader, payload, len);
        if (rc != 0)
            return rc < 0 ? rc : EMBER_OK;
        rc = socket_wait(fd, POLLIN, deadline_ms);
        if (rc < 0)
            return rc;
        /* The socket is blocking but poll said readable: one read returns. */
        rc = frame_reader_fill(reader, fd);
        if (rc < 0 && rc != EMBER_EAGAIN)
            return rc;
    }
}

int socket_outq_append(socket_outq *q, const uint8_t *data, size_t len, size_t limit) {
    if (q->off > 0 && q->off == q->len)
        q->off = q->len = 0;
    if (q->len - q->off + len > limit)
        return EMBER_ETOOBIG;
    if (q->len + len > q->cap) {
        if (q->off > 0) {
            memmove(q->buf, q->buf + q->off, q->len - q->off);
            q->len -= q->off;
            q->off = 0;
        }
        size_t ncap = q->cap ? q->cap : 4096;
        while (ncap < q->len + len)
            ncap *= 2;
        uint8_t *p = realloc(q->buf, ncap);
        if (p == NULL)
            return EMBER_ENOMEM;
        q->buf = p;
        q->cap = ncap;
    }
    memcpy(q->buf + q->len, data, len);
    q->len += len;
    return EMBER_OK;
}

int socket_outq_flush(socket_outq *q, int fd) {
    while (q->off < q->len) {
        ssize_t n = send(fd, q->buf + q->off, q->len - q->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            q->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return (errno == EPIPE || errno == ECONNRESET) ? EMBER_ECLOSED : EMBER_EIO;
    }
    q->off = q->len = 0;
    return 1;
}

void socket_outq_free(socket_outq *q) {
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

void socket_take_fds(struct msghdr *mh, int *fds, size_t cap, size_t *n, int *extra) {
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*n < cap) {
                fds[(*n)++] = fd;
            } else {
                close(fd);
                if (extra != NULL)
                    *extra = 1;
            }
        }
    }
}
