/* umbilical.c -- see umbilical.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"
#include "umbilical.h"

#define UMBILICAL_SEND_MS 30000
#define UMBILICAL_MAX_FDS 64

struct umbilical {
    int fd;
    frame_reader *reader;
    int fds[UMBILICAL_MAX_FDS]; /* received, not yet handed out (FIFO) */
    size_t nfds;
    atomic_int finishing;
    pthread_t watch;
    int watching;
};

int umbilical_connect(const char *path, umbilical **out) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(addr.sun_path))
        return EMBER_EINVAL;
    memcpy(addr.sun_path, path, n + 1);
    umbilical *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return EMBER_ENOMEM;
    int rc = frame_reader_create(&u->reader, FRAME_MAX_DEFAULT);
    u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rc == EMBER_OK && u->fd < 0)
        rc = EMBER_EIO;
    if (rc == EMBER_OK && connect(u->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        rc = EMBER_ECLOSED;
    if (rc != EMBER_OK) {
        umbilical_close(u);
        return rc;
    }
    *out = u;
    return EMBER_OK;
}

/* Polls for hang-up only: the main thread does all the reading. */
static void *umbilical_watch_main(void *arg) {
    umbilical *u = arg;
    for (;;) {
        struct pollfd p = {.fd = u->fd, .events = POLLRDHUP};
        int n = poll(&p, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (atomic_load(&u->finishing))
            return NULL;
        if (n < 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
            static const char msg[] = "ember task: the worker closed the umbilical; exiting\n";
            ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
            (void)w;
            _exit(UMBILICAL_LOST_EXIT);
        }
    }
}

int umbilical_watch(umbilical *u) {
    if (pthread_create(&u->watch, NULL, umbilical_watch_main, u) != 0)
        return EMBER_EIO;
    u->watching = 1;
    return EMBER_OK;
}

void umbilical_finishing(umbilical *u) { atomic_store(&u->finishing, 1); }

int umbilical_send(umbilical *u, const TaskMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_task(msg, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_write_all(u->fd, buf, len, clock_monotonic_ms() + UMBILICAL_SEND_MS);
    free(buf);
    return rc;
}

/* Reads what the socket has (waiting up to timeout_ms). */
static int umbilical_fill(umbilical *u, int64_t timeout_ms) {
    struct pollfd p = {.fd = u->fd, .events = POLLIN};
    int ready = poll(&p, 1, timeout_ms < 0 ? -1 : (int)timeout_ms);
    if (ready < 0)
        return errno == EINTR ? 0 : EMBER_EIO;
    if (ready == 0)
        return 0;
    uint8_t buf[65536];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(4 * sizeof(int))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.space,
                        .msg_controllen = sizeof(control.space)};
    ssize_t n = recvmsg(u->fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : EMBER_EIO;
    socket_take_fds(&mh, u->fds, UMBILICAL_MAX_FDS, &u->nfds, NULL); /* beyond: closed */
    if (n == 0)
        return EMBER_ECLOSED;
    int rc = frame_reader_feed(u->reader, buf, (size_t)n);
    return rc != EMBER_OK ? rc : 1;
}

int umbilical_receive(umbilical *u, int64_t timeout_ms, TaskMessage **out, int *fd) {
    *out = NULL;
    *fd = -1;
    int64_t deadline = timeout_ms < 0 ? -1 : clock_monotonic_ms() + timeout_ms;
    for (;;) {
        const uint8_t *payload;
        size_t len;
        int got = frame_reader_next(u->reader, &payload, &len);
        if (got < 0)
            return EMBER_EPROTO;
        if (got == 1) {
            if (message_decode_task(payload, len, out) != EMBER_OK)
                return EMBER_EPROTO;
            const TaskMessage *m = *out;
            int with_fd =
                (m->body_case == TASK_MESSAGE__BODY_FETCH_RESPONSE && m->fetch_response->code == 0) ||
                (m->body_case == TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE &&
                 m->block_read_response->code == 0);
            if (with_fd && u->nfds > 0) {
                *fd = u->fds[0];
                memmove(u->fds, u->fds + 1, --u->nfds * sizeof(int));
            }
            return 1;
        }
        int64_t left = deadline < 0 ? -1 : deadline - clock_monotonic_ms();
        if (deadline >= 0 && left <= 0)
            return 0;
        int rc = umbilical_fill(u, left);
        if (rc < 0)
            return rc;
    }
}

void umbilical_close(umbilical *u) {
    if (u == NULL)
        return;
    atomic_store(&u->finishing, 1);
    for (size_t i = 0; i < u->nfds; i++)
        close(u->fds[i]);
    if (u->watching) { /* its poll sees the shutdown, then finishing */
        shutdown(u->fd, SHUT_RDWR);
        pthread_join(u->watch, NULL);
    }
    if (u->fd >= 0)
        close(u->fd);
    frame_reader_destroy(u->reader);
    free(u);
}
