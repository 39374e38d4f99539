/* frame_server.c -- the framed-socket server (see frame_server.h).
 *
 * Connections live in a slot table of max_connections +
 * max_unauthenticated entries; an id is (sequence << FS_SLOT_BITS) | slot,
 * so finding a connection by id is one array index and one compare, and
 * an id of a freed slot never matches again.  The unauthenticated
 * connections are also on a list in accept order (oldest first): the
 * eviction order.  Invariants (fs_check()):
 *   1. nconns counts the occupied slots; nunauth the listed connections,
 *      which are exactly the occupied slots not authenticated;
 *   2. nconns - nunauth <= max_connections, nunauth <= max_unauthenticated;
 *   3. a connection that is not OPEN is never handed a frame;
 *   4. descriptors to pass (nfds > 0) sit at queued byte fds_before, which
 *      is within the queue;
 *   5. a paused connection is not polled for input and is handed no
 *      frame; one resumed with bytes buffered is marked resume_pending
 *      until the next turn's fs_on_resume_turn() delivers them.
 * Only fs_free() frees a connection, and it runs from the server's own
 * event, accept and timer callbacks or frame_server_destroy(). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "frame.h"
#include "frame_server.h"
#include "socket_link.h"

#define FS_SLOT_BITS 20
#define FS_SLOT_MASK ((UINT64_C(1) << FS_SLOT_BITS) - 1)
#define FS_MAX_FDS 4
#define FS_LOG_BURST 10          /* connection log lines per interval */
#define FS_LINGER_READ_MAX 65536 /* bytes discarded per callback */
#define FS_TIMER_MAX_MS 200
#define FS_ACCEPT_BATCH 32 /* connections accepted per turn */

typedef enum {
    FS_OPEN,    /* frames are read and delivered */
    FS_CLOSING, /* flushing the queue; no more input */
    FS_LINGER,  /* flushed, shut down for writing; discarding input */
    FS_BROKEN,  /* closed at the next event */
} fs_state;

typedef struct fs_conn {
    frame_server *srv;
    uint64_t id;
    int fd;
    fs_state state;
    int opened; /* on_open accepted it: on_close will be called */
    int authenticated;
    int eof;            /* the peer's input ended: no more reading */
    int paused;         /* frame_server_pause_reading(): no input taken, no frame delivered */
    int resume_pending; /* resumed with bytes buffered: fs_on_resume_turn() delivers them */
    int want_writable;  /* on_writable after each flush */
    char peer[64];
    uint64_t peer_key; /* hash of the peer address (without the port) */
    void *data;        /* the caller's */
    frame_reader *reader;
    socket_outq outq;
    int fds[FS_MAX_FDS]; /* duplicates to pass with queued byte fds_before */
    size_t nfds, fds_before;
    int64_t deadline_ms; /* 0: none */
    struct fs_conn *prev, *next; /* the unauthenticated list */
} fs_conn;

struct frame_server {
    event_loop *loop;
    frame_server_options opts;
    char name[32];
    int listen_fd;
    int unix_socket;
    int paused; /* accepting stopped until the next tick (out of descriptors) */
    int resume_hook; /* fs_on_resume_turn() is registered for the next turn */
    uint64_t timer_id;
    int64_t timer_ms;
    fs_conn **slots;
    int nslots, nconns, nunauth;
    int *free_slots; /* a stack of free slot indexes */
    int nfree;
    uint64_t next_seq;
    fs_conn *unauth_head, *unauth_tail;
    /* rate-limited logging */
    int64_t log_window_start;
    int log_lines;
    uint64_t log_suppressed, evicted, refused;
};

/* ---- lookup and bookkeeping ------------------------------------------------------ */

static fs_conn *fs_find(const frame_server *srv, uint64_t id) {
    uint64_t slot = id & FS_SLOT_MASK;
    if (slot >= (uint64_t)srv->nslots)
        return NULL;
    fs_conn *c = srv->slots[slot];
    return (c != NULL && c->id == id) ? c : NULL;
}

static void fs_check(const frame_server *srv) {
    assert(srv->nconns - srv->nunauth <= srv->opts.max_connections);
    assert(srv->nunauth <= srv->opts.max_unauthenticated);
    assert(srv->nfree + srv->nconns == srv->nslots);
    (void)srv;
}

static void fs_unlink_unauth(frame_server *srv, fs_conn *c) {
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->unauth_head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        srv->unauth_tail = c->prev;
    c->prev = c->next = NULL;
    srv->nunauth--;
}

/* FNV-1a of the peer's address: "host" of "host:port", "uid N" of "pid P
 * uid N". */
static uint64_t fs_peer_key(const char *peer, int unix_socket) {
    const char *start = peer, *end = peer + strlen(peer);
    if (unix_socket) {
        const char *u = strstr(peer, "uid ");
        if (u != NULL)
            start = u;
    } else {
        const char *colon = strrchr(peer, ':');
        if (colon != NULL)
            end = colon;
    }
    uint64_t h = UINT64_C(14695981039346656037);
    for (const char *p = start; p < end; p++)
        h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
    return h;
}

/* Frees c at once: on_close, then its socket and memory.  Only the
 * server's own callbacks and frame_server_destroy() call this. */
static void fs_free(frame_server *srv, fs_conn *c) {
    if (c->opened && srv->opts.cb.on_close != NULL)
        srv->opts.cb.on_close(srv, c->id, c->data, srv->opts.arg);
    if (!c->authenticated)
        fs_unlink_unauth(srv, c);
    srv->slots[c->id & FS_SLOT_MASK] = NULL;
    srv->free_slots[srv->nfree++] = (int)(c->id & FS_SLOT_MASK);
    srv->nconns--;
    event_loop_remove_fd(srv->loop, c->fd);
    close(c->fd);
    for (size_t i = 0; i < c->nfds; i++)
        close(c->fds[i]);
    frame_reader_destroy(c->reader);
    socket_outq_free(&c->outq);
    free(c);
    fs_check(srv);
}

/* ---- logging ------------------------------------------------------------------------ */

/* Writes the summary of the interval that ended, if anything was held
 * back, and starts a new one. */
static void fs_log_roll(frame_server *srv, int64_t now) {
    if (now - srv->log_window_start < srv->opts.log_interval_ms)
        return;
    if (srv->log_suppressed > 0)
        LOG_WARN("%s: %" PRIu64 " more line(s) about connections not logged in the last %" PRId64
                 " s (%" PRIu64 " unauthenticated connection(s) evicted, %" PRIu64 " refused)",
                 srv->name, srv->log_suppressed, (now - srv->log_window_start) / 1000,
                 srv->evicted, srv->refused);
    srv->log_window_start = now;
    srv->log_lines = 0;
    srv->log_suppressed = srv->evicted = srv->refused = 0;
}

int frame_server_log_ok(frame_server *srv) {
    fs_log_roll(srv, clock_monotonic_ms());
    if (srv->log_lines < FS_LOG_BURST) {
        srv->log_lines++;
        return 1;
    }
    srv->log_suppressed++;
    return 0;
}

/* ---- output ------------------------------------------------------------------------- */

/* Sets the events c waits for, from its state. */
static void fs_set_events(frame_server *srv, fs_conn *c) {
    short events = 0;
    int pending = c->outq.len > c->outq.off;
    switch (c->state) {
    case FS_OPEN:
        events = c->eof || c->paused ? 0 : POLLIN;
        if (pending || c->want_writable)
            events |= POLLOUT;
        break;
    case FS_CLOSING: events = POLLOUT; break;
    case FS_LINGER: events = POLLIN; break;
    case FS_BROKEN: events = POLLIN | POLLOUT; break; /* shut down: reported at once */
    }
    event_loop_set_fd_events(srv->loop, c->fd, events);
}

/* Marks c broken: shut down both ways, so that poll() reports it at once
 * and its event callback frees it. */
static void fs_break(frame_server *srv, fs_conn *c) {
    if (c->state != FS_BROKEN) {
        c->state = FS_BROKEN;
        shutdown(c->fd, SHUT_RDWR);
    }
    fs_set_events(srv, c);
}

/* Sends from c's queue, the passed descriptors with their byte.  The
 * bytes written in *written; 1 when the queue is empty, 0 when bytes
 * remain, EMBER_ECLOSED or EMBER_EIO. */
static int fs_write(fs_conn *c, size_t *written) {
    socket_outq *q = &c->outq;
    if (c->nfds == 0) {
        size_t before = q->len - q->off;
        int rc = socket_outq_flush(q, c->fd);
        *written += before - (q->len - q->off);
        return rc;
    }
    while (q->off < q->len) {
        size_t n_try = q->len - q->off;
        ssize_t n;
        if (c->nfds > 0 && c->fds_before == 0) {
            struct iovec iov = {.iov_base = q->buf + q->off, .iov_len = n_try};
            union {
                struct cmsghdr align;
                char space[CMSG_SPACE(FS_MAX_FDS * sizeof(int))];
            } control;
            memset(&control, 0, sizeof(control));
            struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
            mh.msg_control = control.space;
            mh.msg_controllen = CMSG_SPACE(c->nfds * sizeof(int));
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(c->nfds * sizeof(int));
            memcpy(CMSG_DATA(cm), c->fds, c->nfds * sizeof(int));
            n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            if (c->nfds > 0 && c->fds_before < n_try)
                n_try = c->fds_before; /* the descriptors go with the next byte */
            n = send(c->fd, q->buf + q->off, n_try, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n > 0) {
            q->off += (size_t)n;
            *written += (size_t)n;
            if (c->nfds > 0 && c->fds_before == 0) {
                for (size_t i = 0; i < c->nfds; i++)
                    close(c->fds[i]); /* the peer has them now */
                c->nfds = 0;
            } else if (c->nfds > 0) {
                c->fds_before -= (size_t)n;
            }
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

/* CLOSING with an empty queue: linger, or close when there is nothing
 * to linger for. */
static void fs_closing_flushed(frame_server *srv, fs_conn *c) {
    if (c->eof || srv->opts.linger_ms <= 0) {
        fs_break(srv, c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = FS_LINGER;
    c->deadline_ms = clock_monotonic_ms() + srv->opts.linger_ms;
    fs_set_events(srv, c);
}

/* Writes what the socket takes and moves a flushed CLOSING connection on.
 * Never frees c. */
static void fs_flush(frame_server *srv, fs_conn *c, size_t *written) {
    if (c->state == FS_BROKEN || c->state == FS_LINGER)
        return;
    int rc = fs_write(c, written);
    if (rc < 0) {
        LOG_DEBUG("%s: %s: write failed (%s); closing", srv->name, c->peer, ember_strerror(rc));
        fs_break(srv, c);
        return;
    }
    if (c->state == FS_CLOSING && rc == 1) {
        fs_closing_flushed(srv, c);
        return;
    }
    fs_set_events(srv, c);
}

/* ---- input -------------------------------------------------------------------------- */

/* A header over the cap: the caller's error frame, then closed. */
static void fs_bad_frame(frame_server *srv, fs_conn *c) {
    if (srv->opts.cb.on_bad_frame != NULL)
        srv->opts.cb.on_bad_frame(srv, c->id, c->data, EMBER_ETOOBIG, srv->opts.arg);
    frame_server_close(srv, c->id);
}

/* Hands every whole buffered frame to on_frame while c is OPEN and not
 * paused (on_frame may pause it). */
static void fs_deliver(frame_server *srv, fs_conn *c) {
    while (c->state == FS_OPEN && !c->paused) {
        const uint8_t *payload;
        size_t len;
        int rc = frame_reader_next(c->reader, &payload, &len);
        if (rc == 0)
            return;
        if (rc < 0) {
            fs_bad_frame(srv, c);
            return;
        }
        srv->opts.cb.on_frame(srv, c->id, c->data, payload, len, srv->opts.arg);
    }
}

static void fs_read(frame_server *srv, fs_conn *c) {
    int rc = frame_reader_fill(c->reader, c->fd);
    if (rc == EMBER_EAGAIN)
        return;
    if (rc == EMBER_ETOOBIG) {
        fs_bad_frame(srv, c);
        return;
    }
    fs_deliver(srv, c);
    if (c->state != FS_OPEN || rc >= 0)
        return;
    /* End of stream (or a socket error) after the whole frames. */
    c->eof = 1;
    size_t pending = frame_reader_buffered(c->reader);
    int keep = 0;
    if (srv->opts.cb.on_eof != NULL)
        keep = srv->opts.cb.on_eof(srv, c->id, c->data, pending, srv->opts.arg);
    if (c->state == FS_OPEN && !keep)
        fs_break(srv, c);
    else
        fs_set_events(srv, c);
}

/* LINGER: discards what the peer still sends; its EOF ends c. */
static void fs_linger_read(frame_server *srv, fs_conn *c) {
    uint8_t buf[4096];
    for (size_t total = 0; total < FS_LINGER_READ_MAX;) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        fs_break(srv, c); /* EOF or error: done */
        return;
    }
}

static void fs_on_conn_event(event_loop *loop, int fd, int revents, void *arg) {
    fs_conn *c = arg;
    frame_server *srv = c->srv;
    (void)loop;
    (void)fd;
    if (c->state != FS_BROKEN && (revents & POLLOUT)) {
        size_t written = 0;
        fs_flush(srv, c, &written);
        if (c->state == FS_OPEN && c->want_writable && srv->opts.cb.on_writable != NULL)
            srv->opts.cb.on_writable(srv, c->id, c->data, written, srv->opts.arg);
    }
    if (c->state != FS_BROKEN && (revents & (POLLIN | POLLHUP | POLLERR))) {
        if (c->state == FS_LINGER)
            fs_linger_read(srv, c);
        else if (c->state == FS_CLOSING || c->eof)
            fs_break(srv, c); /* hung up or failed before our last bytes went out */
        else if (!c->paused)
            fs_read(srv, c);
        else if (revents & (POLLHUP | POLLERR))
            fs_break(srv, c); /* reset while paused: nothing will be read from it */
    }
    if (c->state == FS_BROKEN)
        fs_free(srv, c);
}

/* ---- admission ---------------------------------------------------------------------- */

/* The oldest unauthenticated connection -- of peer key when only_key,
 * one already closing before an OPEN one -- and the number of them from
 * key in *from_key. */
static fs_conn *fs_eviction_victim(const frame_server *srv, uint64_t key, int only_key,
                                   int *from_key) {
    fs_conn *oldest = NULL, *oldest_closing = NULL;
    *from_key = 0;
    for (fs_conn *c = srv->unauth_head; c != NULL; c = c->next) {
        if (c->peer_key == key)
            (*from_key)++;
        if (only_key && c->peer_key != key)
            continue;
        if (oldest == NULL)
            oldest = c;
        if (oldest_closing == NULL && c->state != FS_OPEN)
            oldest_closing = c;
    }
    return oldest_closing != NULL ? oldest_closing : oldest;
}

/* Makes room for one more unauthenticated connection from key: closes the
 * oldest of that peer past the per-peer limit, else the oldest of all past
 * the budget.  Returns 1 when there is room. */
static int fs_make_room(frame_server *srv, uint64_t key, const char *peer) {
    int from_key;
    fs_conn *victim = NULL;
    const char *why = NULL;
    if (srv->opts.max_unauthenticated_per_peer > 0) {
        victim = fs_eviction_victim(srv, key, 1, &from_key);
        if (from_key < srv->opts.max_unauthenticated_per_peer)
            victim = NULL;
        else
            why = "from its address";
    }
    if (victim == NULL && srv->nunauth >= srv->opts.max_unauthenticated) {
        victim = fs_eviction_victim(srv, key, 0, &from_key);
        why = "in all";
    }
    if (victim == NULL)
        return srv->nunauth < srv->opts.max_unauthenticated;
    srv->evicted++;
    if (frame_server_log_ok(srv))
        LOG_WARN("%s: %s closed to admit %s: too many unauthenticated connections %s", srv->name,
                 victim->peer, peer, why);
    fs_free(srv, victim);
    return 1;
}

/* Accepts one connection: 0 with *fd_out and its peer name, EMBER_EAGAIN,
 * or EMBER_EIO (errno set). */
static int fs_accept_one(frame_server *srv, int *fd_out, char *peer, size_t peerlen) {
    if (!srv->unix_socket)
        return socket_accept(srv->listen_fd, fd_out, peer, peerlen);
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? EMBER_EAGAIN
                                                                          : EMBER_EIO;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        snprintf(peer, peerlen, "pid %d uid %u", (int)cred.pid, (unsigned)cred.uid);
    else
        snprintf(peer, peerlen, "unknown peer");
    *fd_out = fd;
    return EMBER_OK;
}

/* Registers an accepted socket as a new unauthenticated connection.  NULL
 * (the socket closed) when the server cannot take it. */
static fs_conn *fs_admit(frame_server *srv, int fd, const char *peer) {
    uint64_t key = fs_peer_key(peer, srv->unix_socket);
    if (!fs_make_room(srv, key, peer) || srv->nfree == 0) {
        srv->refused++;
        if (frame_server_log_ok(srv))
            LOG_WARN("%s: %s refused: %d connections open", srv->name, peer, srv->nconns);
        close(fd);
        return NULL;
    }
    fs_conn *c = calloc(1, sizeof(*c));
    if (c == NULL || frame_reader_create(&c->reader, srv->opts.max_frame) != EMBER_OK ||
        event_loop_add_fd(srv->loop, fd, POLLIN, fs_on_conn_event, c) != EMBER_OK) {
        if (c != NULL)
            frame_reader_destroy(c->reader);
        free(c);
        close(fd);
        return NULL;
    }
    int slot = srv->free_slots[--srv->nfree];
    c->srv = srv;
    c->id = (++srv->next_seq << FS_SLOT_BITS) | (uint64_t)slot;
    c->fd = fd;
    c->state = FS_OPEN;
    c->peer_key = key;
    c->deadline_ms = clock_monotonic_ms() + srv->opts.first_deadline_ms;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    srv->slots[slot] = c;
    srv->nconns++;
    c->prev = srv->unauth_tail;
    if (srv->unauth_tail != NULL)
        srv->unauth_tail->next = c;
    else
        srv->unauth_head = c;
    srv->unauth_tail = c;
    srv->nunauth++;
    fs_check(srv);
    return c;
}

static void fs_on_accept(event_loop *loop, int fd, int revents, void *arg) {
    frame_server *srv = arg;
    (void)loop;
    (void)fd;
    (void)revents;
    /* A bounded batch: a flood of connections must not starve the rest of
     * the loop (the listener stays readable for the next turn). */
    for (int batch = 0; batch < FS_ACCEPT_BATCH; batch++) {
        int cfd;
        char peer[64];
        int rc = fs_accept_one(srv, &cfd, peer, sizeof(peer));
        if (rc == EMBER_EAGAIN)
            return;
        if (rc != EMBER_OK) {
            if (errno == ECONNABORTED || errno == EPROTO)
                continue;
            /* Out of descriptors or memory: a level-triggered listener would
             * spin, so accepting pauses until the next tick. */
            if (frame_server_log_ok(srv))
                LOG_WARN("%s: accept failed: %s; pausing", srv->name, strerror(errno));
            srv->paused = 1;
            event_loop_set_fd_events(srv->loop, srv->listen_fd, 0);
            return;
        }
        /* A peer gone before we accepted it (a flood's leftovers, queued
         * in the kernel) must not evict a live connection. */
        char probe;
        ssize_t n = recv(cfd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            close(cfd);
            continue;
        }
        fs_conn *c = fs_admit(srv, cfd, peer);
        if (c == NULL)
            continue;
        LOG_DEBUG("%s: %s connected", srv->name, c->peer);
        if (srv->opts.cb.on_open != NULL &&
            srv->opts.cb.on_open(srv, c->id, srv->opts.arg) != EMBER_OK) {
            fs_free(srv, c); /* not opened: no on_close */
            continue;
        }
        c->opened = 1;
        if (c->state == FS_BROKEN)
            fs_free(srv, c);
    }
}

/* ---- deadlines ---------------------------------------------------------------------- */

static void fs_on_timer(event_loop *loop, void *arg) {
    frame_server *srv = arg;
    (void)loop;
    int64_t now = clock_monotonic_ms();
    fs_log_roll(srv, now);
    if (srv->paused) {
        srv->paused = 0;
        event_loop_set_fd_events(srv->loop, srv->listen_fd, POLLIN);
    }
    for (int i = 0; i < srv->nslots; i++) {
        fs_conn *c = srv->slots[i];
        if (c == NULL || c->deadline_ms == 0 || now <= c->deadline_ms)
            continue;
        if (c->state == FS_OPEN && srv->opts.cb.on_deadline != NULL) {
            srv->opts.cb.on_deadline(srv, c->id, c->data, srv->opts.arg);
            if (c->state == FS_OPEN && (c->deadline_ms == 0 || c->deadline_ms > now))
                continue;
            if (c->state == FS_CLOSING || c->state == FS_LINGER)
                continue; /* closing as the caller asked */
        }
        fs_break(srv, c);
        fs_free(srv, c);
    }
}

/* ---- the caller's calls ------------------------------------------------------------- */

int frame_server_set_data(frame_server *srv, uint64_t id, void *data) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    c->data = data;
    return EMBER_OK;
}

void *frame_server_data(const frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    return c != NULL ? c->data : NULL;
}

const char *frame_server_peer(const frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    return c != NULL ? c->peer : "";
}

int frame_server_set_authenticated(frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL || c->state != FS_OPEN)
        return EMBER_ENOENT;
    if (c->authenticated)
        return EMBER_OK;
    if (srv->nconns - srv->nunauth >= srv->opts.max_connections)
        return EMBER_EAGAIN;
    fs_unlink_unauth(srv, c);
    c->authenticated = 1;
    fs_check(srv);
    return EMBER_OK;
}

int frame_server_set_max_frame(frame_server *srv, uint64_t id, uint32_t max_payload) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    frame_reader_set_max(c->reader, max_payload);
    return EMBER_OK;
}

int frame_server_set_deadline(frame_server *srv, uint64_t id, int64_t ms) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    c->deadline_ms = ms > 0 ? clock_monotonic_ms() + ms : 0;
    return EMBER_OK;
}

int frame_server_want_writable(frame_server *srv, uint64_t id, int on) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    c->want_writable = on;
    fs_set_events(srv, c);
    return EMBER_OK;
}

/* One turn after a resume: the connections resumed with bytes buffered
 * get their whole frames (never inside frame_server_resume_reading(),
 * whose caller may be in the middle of its own work). */
static int fs_on_resume_turn(event_loop *loop, void *arg) {
    frame_server *srv = arg;
    event_loop_remove_hook(loop, fs_on_resume_turn, srv);
    srv->resume_hook = 0;
    for (int i = 0; i < srv->nslots; i++) {
        fs_conn *c = srv->slots[i];
        if (c == NULL || !c->resume_pending)
            continue;
        c->resume_pending = 0;
        fs_deliver(srv, c);
        if (c->state == FS_BROKEN)
            fs_free(srv, c);
    }
    return -1;
}

int frame_server_pause_reading(frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    c->paused = 1;
    fs_set_events(srv, c);
    return EMBER_OK;
}

int frame_server_resume_reading(frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    if (!c->paused)
        return EMBER_OK;
    c->paused = 0;
    fs_set_events(srv, c);
    if (c->state == FS_OPEN && frame_reader_buffered(c->reader) > 0) {
        c->resume_pending = 1;
        if (!srv->resume_hook) {
            int rc = event_loop_add_hook(srv->loop, fs_on_resume_turn, srv);
            if (rc != EMBER_OK) {
                c->paused = 1; /* still paused: nothing would deliver what is buffered */
                c->resume_pending = 0;
                fs_set_events(srv, c);
                return rc;
            }
            srv->resume_hook = 1;
        }
    }
    return EMBER_OK;
}

int frame_server_send_fds(frame_server *srv, uint64_t id, const uint8_t *buf, size_t len,
                          const int *fds, size_t nfds) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL || c->state != FS_OPEN)
        return EMBER_ENOENT;
    if (nfds > FS_MAX_FDS || (nfds > 0 && (!srv->unix_socket || len == 0)))
        return EMBER_EINVAL;
    if (nfds > 0 && c->nfds > 0)
        return EMBER_EAGAIN;
    size_t before = c->outq.len - c->outq.off;
    int rc = socket_outq_append(&c->outq, buf, len, srv->opts.outq_limit);
    if (rc != EMBER_OK)
        return rc;
    for (size_t i = 0; i < nfds; i++) {
        c->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        if (c->fds[i] < 0) {
            while (i-- > 0)
                close(c->fds[i]);
            c->outq.len -= len; /* take the bytes back */
            return EMBER_EIO;
        }
    }
    c->nfds = nfds;
    c->fds_before = before;
    size_t written = 0;
    fs_flush(srv, c, &written);
    return EMBER_OK;
}

int frame_server_send(frame_server *srv, uint64_t id, const uint8_t *buf, size_t len) {
    return frame_server_send_fds(srv, id, buf, len, NULL, 0);
}

size_t frame_server_queued(const frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    return c != NULL ? c->outq.len - c->outq.off : 0;
}

int frame_server_close(frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    if (c->state != FS_OPEN)
        return EMBER_OK;
    c->state = FS_CLOSING;
    c->want_writable = 0;
    int64_t wait = srv->opts.linger_ms > 0 ? srv->opts.linger_ms : srv->opts.first_deadline_ms;
    c->deadline_ms = clock_monotonic_ms() + wait;
    size_t written = 0;
    fs_flush(srv, c, &written);
    return EMBER_OK;
}

int frame_server_abort(frame_server *srv, uint64_t id) {
    fs_conn *c = fs_find(srv, id);
    if (c == NULL)
        return EMBER_ENOENT;
    fs_break(srv, c);
    return EMBER_OK;
}

int frame_server_connections(const frame_server *srv) { return srv->nconns; }

int frame_server_unauthenticated(const frame_server *srv) { return srv->nunauth; }

/* ---- lifecycle ---------------------------------------------------------------------- */

int frame_server_create(event_loop *loop, const frame_server_options *opts, frame_server **out) {
    if (opts->listen_fd < 0 || opts->cb.on_frame == NULL || opts->max_connections <= 0 ||
        opts->max_unauthenticated <= 0 || opts->max_unauthenticated_per_peer < 0 ||
        opts->first_deadline_ms <= 0 ||
        (int64_t)opts->max_connections + opts->max_unauthenticated > (int64_t)FS_SLOT_MASK) {
        if (opts->listen_fd >= 0)
            close(opts->listen_fd);
        return EMBER_EINVAL;
    }
    frame_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        close(opts->listen_fd);
        return EMBER_ENOMEM;
    }
    srv->loop = loop;
    srv->opts = *opts;
    if (srv->opts.log_interval_ms <= 0)
        srv->opts.log_interval_ms = 10000;
    snprintf(srv->name, sizeof(srv->name), "%s", opts->name != NULL ? opts->name : "server");
    srv->opts.name = srv->name;
    srv->listen_fd = opts->listen_fd;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    srv->unix_socket = getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sslen) == 0 &&
                       ss.ss_family == AF_UNIX;
    srv->nslots = opts->max_connections + opts->max_unauthenticated;
    srv->log_window_start = clock_monotonic_ms();
    int rc = EMBER_ENOMEM;
    srv->slots = calloc((size_t)srv->nslots, sizeof(*srv->slots));
    srv->free_slots = malloc((size_t)srv->nslots * sizeof(int));
    if (srv->slots == NULL || srv->free_slots == NULL)
        goto fail;
    for (int i = srv->nslots; i-- > 0;)
        srv->free_slots[srv->nfree++] = i;
    rc = event_loop_add_fd(loop, srv->listen_fd, POLLIN, fs_on_accept, srv);
    if (rc != EMBER_OK)
        goto fail;
    int64_t interval = opts->first_deadline_ms / 4;
    if (opts->linger_ms > 0 && opts->linger_ms / 4 < interval)
        interval = opts->linger_ms / 4;
    interval = interval < 10 ? 10 : interval > FS_TIMER_MAX_MS ? FS_TIMER_MAX_MS : interval;
    rc = event_loop_add_timer(loop, interval, fs_on_timer, srv, &srv->timer_id);
    if (rc != EMBER_OK)
        goto fail;
    *out = srv;
    return EMBER_OK;
fail:
    frame_server_destroy(srv);
    return rc;
}

void frame_server_destroy(frame_server *srv) {
    if (srv == NULL)
        return;
    for (int i = 0; srv->slots != NULL && i < srv->nslots; i++)
        if (srv->slots[i] != NULL)
            fs_free(srv, srv->slots[i]);
    if (srv->timer_id != 0)
        event_loop_remove_timer(srv->loop, srv->timer_id);
    if (srv->resume_hook)
        event_loop_remove_hook(srv->loop, fs_on_resume_turn, srv);
    event_loop_remove_fd(srv->loop, srv->listen_fd);
    close(srv->listen_fd);
    free(srv->slots);
    free(srv->free_slots);
    free(srv);
}
