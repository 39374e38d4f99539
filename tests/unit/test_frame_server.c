/* test_frame_server.c -- unit tests for proto/frame_server.c.
 *
 * A server on a loopback TCP port (or a unix socket) and clients in the
 * same process, the loop turned by hand between their steps.  Covers a
 * frame sent byte by byte and two frames in one write; an over-cap header
 * answered with the caller's error frame and then a clean close; the
 * first deadline (caller's error then close, or an abort without a
 * callback); a large queue flushed to a slow reader before the close; the
 * end of input kept open for answers (on_eof returning 1); admission (the
 * per-peer limit and the budget evict the oldest unauthenticated
 * connection, never an authenticated one; a peer gone before it was
 * accepted evicts nobody); ids that never name another
 * connection once closed; descriptors passed with SCM_RIGHTS on a unix
 * socket; reading paused and resumed (frames held, the sender stalled,
 * every frame delivered in order after the resume, a reset while paused);
 * and the rate limit of frame_server_log_ok(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "proto/frame.h"
#include "proto/frame_server.h"
#include "proto/socket_link.h"

#define MAX_IDS 64
#define WAIT_MS 5000

struct fixture {
    event_loop *loop;
    frame_server *srv;
    int port;
    char unix_path[108];
    /* what the callbacks saw */
    uint64_t ids[MAX_IDS]; /* opened, in order */
    int nopen, nclosed, nframes, nbad, neof, ndeadline;
    char last_frame[256];
    size_t last_len;
    int eof_keep;      /* on_eof's answer */
    int deadline_cb;   /* on_deadline answers with "TIMEOUT" and closes */
    int reply_echo;    /* on_frame echoes the frame back */
    int pause_at;      /* on_frame pauses reading at this frame (1: the first; 0: never) */
    int check_seq;     /* frames start with an 8-digit sequence number: check the order */
    unsigned next_seq;
    int seq_errors;
};

static struct fixture *fx; /* the callbacks' view */

static void put_frame(uint8_t *out, const char *payload, size_t len) {
    frame_put_header(out, (uint32_t)len);
    memcpy(out + FRAME_HEADER_LEN, payload, len);
}

static void reply(frame_server *srv, uint64_t id, const char *text) {
    uint8_t buf[256];
    size_t len = strlen(text);
    put_frame(buf, text, len);
    frame_server_send(srv, id, buf, FRAME_HEADER_LEN + len);
}

static int cb_open(frame_server *srv, uint64_t id, void *arg) {
    (void)srv;
    (void)arg;
    if (fx->nopen < MAX_IDS)
        fx->ids[fx->nopen] = id;
    fx->nopen++;
    return 0;
}

static void cb_frame(frame_server *srv, uint64_t id, void *data, const uint8_t *payload,
                     size_t len, void *arg) {
    (void)data;
    (void)arg;
    fx->nframes++;
    fx->last_len = len < sizeof(fx->last_frame) ? len : sizeof(fx->last_frame) - 1;
    memcpy(fx->last_frame, payload, fx->last_len);
    fx->last_frame[fx->last_len] = '\0';
    if (fx->reply_echo)
        reply(srv, id, fx->last_frame);
    if (fx->check_seq && (len < 8 || strtoul(fx->last_frame, NULL, 10) != fx->next_seq++))
        fx->seq_errors++;
    if (fx->pause_at > 0 && fx->nframes == fx->pause_at)
        assert_int_equal(frame_server_pause_reading(srv, id), 0);
}

static void cb_bad(frame_server *srv, uint64_t id, void *data, int code, void *arg) {
    (void)data;
    (void)arg;
    assert_int_equal(code, EMBER_ETOOBIG);
    fx->nbad++;
    reply(srv, id, "TOO BIG");
}

static int cb_eof(frame_server *srv, uint64_t id, void *data, size_t pending, void *arg) {
    (void)data;
    (void)pending;
    (void)arg;
    fx->neof++;
    if (fx->eof_keep) {
        reply(srv, id, "BYE");
        frame_server_close(srv, id);
    }
    return fx->eof_keep;
}

static void cb_deadline(frame_server *srv, uint64_t id, void *data, void *arg) {
    (void)data;
    (void)arg;
    fx->ndeadline++;
    reply(srv, id, "TIMEOUT");
    frame_server_close(srv, id);
}

static void cb_close(frame_server *srv, uint64_t id, void *data, void *arg) {
    (void)srv;
    (void)id;
    (void)data;
    (void)arg;
    fx->nclosed++;
}

/* Starts a server with the callbacks above; deadline_ms and the budgets
 * vary per test. */
static void start_server(struct fixture *f, int64_t deadline_ms, int max_unauth, int per_peer,
                         int use_unix) {
    int fd;
    if (use_unix) {
        snprintf(f->unix_path, sizeof(f->unix_path), "/tmp/ember-fs-test.%d.sock", (int)getpid());
        unlink(f->unix_path);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", f->unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_int_equal(listen(fd, 16), 0);
    } else {
        assert_int_equal(socket_listen_tcp("127.0.0.1", 0, &fd, &f->port), 0);
    }
    frame_server_options so = {
        .name = "test",
        .listen_fd = fd,
        .max_connections = 4,
        .max_unauthenticated = max_unauth,
        .max_unauthenticated_per_peer = per_peer,
        .max_frame = 64,
        .outq_limit = 32u << 20,
        .first_deadline_ms = deadline_ms,
        .linger_ms = 1000,
        .cb = {.on_open = cb_open,
               .on_frame = cb_frame,
               .on_bad_frame = cb_bad,
               .on_eof = cb_eof,
               .on_deadline = f->deadline_cb ? cb_deadline : NULL,
               .on_close = cb_close},
    };
    assert_int_equal(frame_server_create(f->loop, &so, &f->srv), 0);
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || event_loop_create(&f->loop) != 0)
        return -1;
    fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    frame_server_destroy(f->srv);
    event_loop_destroy(f->loop);
    if (f->unix_path[0] != '\0')
        unlink(f->unix_path);
    free(f);
    return 0;
}

/* Turns the loop until *counter reaches want (or WAIT_MS pass). */
static void run_until(struct fixture *f, const int *counter, int want) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (*counter < want && clock_monotonic_ms() < end)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(*counter, want);
}

static void run_for(struct fixture *f, int64_t ms) {
    int64_t end = clock_monotonic_ms() + ms;
    while (clock_monotonic_ms() < end)
        event_loop_run_once(f->loop, 5);
}

/* A non-blocking client socket to the server, from source address src
 * (NULL: any). */
static int client_connect(struct fixture *f, const char *src) {
    int fd;
    if (f->unix_path[0] != '\0') {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", f->unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    } else {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        if (src != NULL) {
            struct sockaddr_in a = {.sin_family = AF_INET};
            inet_pton(AF_INET, src, &a.sin_addr);
            assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        }
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    }
    assert_int_equal(socket_set_nonblocking(fd), 0);
    return fd;
}

static void client_write(int fd, const void *buf, size_t len) {
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads from fd, turning the loop, until want bytes came or the stream
 * ended.  Returns the bytes read; *eof set when the stream ended. */
static size_t client_read(struct fixture *f, int fd, uint8_t *buf, size_t want, int *eof) {
    size_t got = 0;
    *eof = 0;
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (got < want && clock_monotonic_ms() < end) {
        ssize_t n = recv(fd, buf + got, want - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            *eof = 1;
            break;
        }
        event_loop_run_once(f->loop, 5);
    }
    return got;
}

/* Expects one frame holding text, then the end of the stream. */
static void expect_frame_then_eof(struct fixture *f, int fd, const char *text) {
    uint8_t buf[256];
    size_t len = strlen(text);
    int eof;
    assert_int_equal(client_read(f, fd, buf, FRAME_HEADER_LEN + len, &eof), FRAME_HEADER_LEN + len);
    assert_memory_equal(buf + FRAME_HEADER_LEN, text, len);
    assert_int_equal(client_read(f, fd, buf, 1, &eof), 0);
    assert_true(eof);
}

static void test_partial_frames(void **state) {
    struct fixture *f = *state;
    f->reply_echo = 1;
    start_server(f, 5000, 8, 8, 0);
    int fd = client_connect(f, NULL);
    uint8_t frame[32];
    put_frame(frame, "hello", 5);
    for (size_t i = 0; i < FRAME_HEADER_LEN + 5; i++) {
        client_write(fd, frame + i, 1);
        run_for(f, 2);
        assert_int_equal(f->nframes, i + 1 == FRAME_HEADER_LEN + 5 ? 1 : 0);
    }
    assert_string_equal(f->last_frame, "hello");
    /* Two frames in one write, the second split from its tail. */
    uint8_t two[64];
    put_frame(two, "one", 3);
    put_frame(two + 7, "second", 6);
    client_write(fd, two, 7 + 8);
    run_until(f, &f->nframes, 2);
    assert_string_equal(f->last_frame, "one");
    client_write(fd, two + 15, 2);
    run_until(f, &f->nframes, 3);
    assert_string_equal(f->last_frame, "second");
    /* The echoes came back in order. */
    uint8_t buf[64];
    int eof;
    assert_int_equal(client_read(f, fd, buf, 9 + 7 + 10, &eof), 26);
    assert_memory_equal(buf + 4, "hello", 5);
    assert_memory_equal(buf + 13, "one", 3);
    assert_memory_equal(buf + 20, "second", 6);
    close(fd);
    run_until(f, &f->nclosed, 1);
    assert_int_equal(frame_server_connections(f->srv), 0);
}

static void test_oversize_frame(void **state) {
    struct fixture *f = *state;
    start_server(f, 5000, 8, 8, 0);
    int fd = client_connect(f, NULL);
    uint8_t header[FRAME_HEADER_LEN];
    frame_put_header(header, 65); /* the cap is 64 */
    client_write(fd, header, sizeof(header));
    run_until(f, &f->nbad, 1);
    expect_frame_then_eof(f, fd, "TOO BIG");
    assert_int_equal(f->nframes, 0);
    close(fd);
    run_until(f, &f->nclosed, 1);
    /* Exactly the cap is a frame. */
    fd = client_connect(f, NULL);
    uint8_t frame[FRAME_HEADER_LEN + 64];
    memset(frame, 'x', sizeof(frame));
    frame_put_header(frame, 64);
    client_write(fd, frame, sizeof(frame));
    run_until(f, &f->nframes, 1);
    assert_int_equal(f->last_len, 64);
    close(fd);
}

static void test_deadline(void **state) {
    struct fixture *f = *state;
    f->deadline_cb = 1;
    start_server(f, 100, 8, 8, 0);
    int fd = client_connect(f, NULL);
    run_until(f, &f->ndeadline, 1);
    expect_frame_then_eof(f, fd, "TIMEOUT");
    close(fd);
    run_until(f, &f->nclosed, 1);
    /* A deadline moved away by the caller is not enforced. */
    fd = client_connect(f, NULL);
    run_until(f, &f->nopen, 2);
    assert_int_equal(frame_server_set_deadline(f->srv, f->ids[1], 0), 0);
    run_for(f, 300);
    assert_int_equal(f->ndeadline, 1);
    assert_int_equal(frame_server_connections(f->srv), 1);
    close(fd);
}

static void test_deadline_without_callback(void **state) {
    struct fixture *f = *state;
    start_server(f, 100, 8, 8, 0);
    int fd = client_connect(f, NULL);
    run_until(f, &f->nclosed, 1);
    uint8_t b;
    int eof;
    assert_int_equal(client_read(f, fd, &b, 1, &eof), 0);
    assert_true(eof);
    close(fd);
}

/* 16 MiB queued and the connection closed at once: a reader that starts
 * late still gets every byte, then the end of the stream. */
static void test_flush_before_close(void **state) {
    struct fixture *f = *state;
    start_server(f, 5000, 8, 8, 0);
    int fd = client_connect(f, NULL);
    run_until(f, &f->nopen, 1);
    size_t len = 16u << 20;
    uint8_t *big = malloc(len), *got = malloc(len);
    assert_non_null(big);
    assert_non_null(got);
    for (size_t i = 0; i < len; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 12));
    frame_put_header(big, (uint32_t)(len - FRAME_HEADER_LEN));
    assert_int_equal(frame_server_send(f->srv, f->ids[0], big, len), 0);
    assert_true(frame_server_queued(f->srv, f->ids[0]) > 0); /* the socket took only part */
    assert_int_equal(frame_server_close(f->srv, f->ids[0]), 0);
    /* Closing: nothing more may be queued. */
    assert_int_equal(frame_server_send(f->srv, f->ids[0], big, 8), EMBER_ENOENT);
    int eof;
    assert_int_equal(client_read(f, fd, got, len, &eof), len);
    assert_memory_equal(got, big, len);
    /* The server lingers: our close ends it. */
    assert_int_equal(client_read(f, fd, got, 1, &eof), 0);
    assert_true(eof);
    close(fd);
    run_until(f, &f->nclosed, 1);
    free(big);
    free(got);
}

/* on_eof keeping the connection: the answer after the client's EOF
 * still arrives. */
static void test_eof_kept_for_answers(void **state) {
    struct fixture *f = *state;
    f->eof_keep = 1;
    start_server(f, 5000, 8, 8, 0);
    int fd = client_connect(f, NULL);
    uint8_t frame[16];
    put_frame(frame, "last", 4);
    client_write(fd, frame, 8);
    shutdown(fd, SHUT_WR);
    run_until(f, &f->neof, 1);
    assert_int_equal(f->nframes, 1);
    expect_frame_then_eof(f, fd, "BYE");
    close(fd);
    run_until(f, &f->nclosed, 1);
}

/* A connection whose peer closed before it was accepted is dropped
 * unadmitted: it evicts nobody. */
static void test_gone_before_accept(void **state) {
    struct fixture *f = *state;
    start_server(f, 5000, 3, 1, 0);
    int live = client_connect(f, NULL);
    run_until(f, &f->nopen, 1);
    int gone = client_connect(f, NULL);
    close(gone);
    run_for(f, 50);
    assert_int_equal(f->nopen, 1);
    assert_int_equal(f->nclosed, 0); /* the live one was not evicted */
    assert_int_equal(frame_server_connections(f->srv), 1);
    close(live);
}

/* Per-peer limit 2, budget 3: a third connection from one address closes
 * that address's oldest; another address still gets in; past the budget
 * the oldest of all goes; an authenticated connection is never evicted,
 * and a closed id stays dead. */
static void test_admission(void **state) {
    struct fixture *f = *state;
    start_server(f, 5000, 3, 2, 0);
    int a1 = client_connect(f, "127.0.0.1");
    run_until(f, &f->nopen, 1);
    int a2 = client_connect(f, "127.0.0.1");
    run_until(f, &f->nopen, 2);
    assert_int_equal(frame_server_set_authenticated(f->srv, f->ids[1]), 0);
    int a3 = client_connect(f, "127.0.0.1");
    run_until(f, &f->nopen, 3);
    int a4 = client_connect(f, "127.0.0.1");
    run_until(f, &f->nopen, 4);
    /* a1, a3, a4 unauthenticated from one address: a1 (the oldest) went. */
    assert_int_equal(f->nclosed, 1);
    uint8_t b;
    int eof;
    assert_int_equal(client_read(f, a1, &b, 1, &eof), 0);
    assert_true(eof);
    assert_int_equal(frame_server_send(f->srv, f->ids[0], &b, 1), EMBER_ENOENT);
    assert_string_equal(frame_server_peer(f->srv, f->ids[0]), "");
    assert_int_equal(frame_server_unauthenticated(f->srv), 2);
    /* Another address: the budget (3) has room for one. */
    int b1 = client_connect(f, "127.0.0.2");
    run_until(f, &f->nopen, 5);
    assert_int_equal(f->nclosed, 1);
    /* The next one from it overflows the budget: the oldest of all (a3) goes. */
    int b2 = client_connect(f, "127.0.0.2");
    run_until(f, &f->nopen, 6);
    assert_int_equal(f->nclosed, 2);
    assert_int_equal(client_read(f, a3, &b, 1, &eof), 0);
    assert_true(eof);
    /* The authenticated a2 is untouched. */
    assert_string_not_equal(frame_server_peer(f->srv, f->ids[1]), "");
    assert_int_equal(frame_server_send(f->srv, f->ids[1], (const uint8_t *)"\0\0\0\0", 4), 0);
    assert_int_equal(client_read(f, a2, (uint8_t[4]){0}, 4, &eof), 4);
    assert_int_equal(frame_server_connections(f->srv), 4);
    assert_int_equal(frame_server_unauthenticated(f->srv), 3);
    close(a1);
    close(a2);
    close(a3);
    close(a4);
    close(b1);
    close(b2);
}

/* Two descriptors go with the frame over a unix socket. */
static void test_pass_fds(void **state) {
    struct fixture *f = *state;
    start_server(f, 5000, 8, 8, 1);
    int fd = client_connect(f, NULL);
    run_until(f, &f->nopen, 1);
    int p[2];
    assert_int_equal(pipe(p), 0);
    uint8_t frame[16];
    put_frame(frame, "fds", 3);
    int fds[2] = {p[1], p[1]};
    assert_int_equal(frame_server_send_fds(f->srv, f->ids[0], frame, 7, fds, 2), 0);
    assert_int_equal(frame_server_close(f->srv, f->ids[0]), 0);
    close(p[1]); /* the server sent its own copies */
    run_for(f, 20);
    uint8_t buf[16];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                        .msg_controllen = sizeof(control.space)};
    ssize_t n = recvmsg(fd, &mh, 0);
    assert_int_equal(n, 7);
    assert_memory_equal(buf + 4, "fds", 3);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    assert_non_null(cm);
    assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
    int got[2];
    memcpy(got, CMSG_DATA(cm), sizeof(got));
    assert_int_equal(write(got[0], "x", 1), 1);
    close(got[0]);
    close(got[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1); /* through the passed descriptor */
    close(p[0]);
    close(fd);
}

#define SEQ_FRAME 64                 /* bytes of a numbered frame, header included */
#define SEQ_CHUNK (1024 * SEQ_FRAME) /* one send's worth */

/* Fills chunk with 1024 frames numbered from first on. */
static void seq_chunk(uint8_t *chunk, unsigned first) {
    for (unsigned i = 0; i < 1024; i++) {
        char payload[SEQ_FRAME - FRAME_HEADER_LEN + 1];
        memset(payload, 'x', sizeof(payload));
        snprintf(payload, 9, "%08u", first + i);
        payload[8] = 'x';
        put_frame(chunk + (size_t)i * SEQ_FRAME, payload, SEQ_FRAME - FRAME_HEADER_LEN);
    }
}

static void test_pause_resume(void **state) {
    struct fixture *f = *state;
    f->pause_at = 1;
    f->check_seq = 1;
    start_server(f, 60000, 8, 8, 0);
    int fd = client_connect(f, NULL);
    /* Paused by the first of three frames sent at once: the others wait,
     * buffered or unread. */
    static uint8_t chunk[SEQ_CHUNK];
    seq_chunk(chunk, 0);
    client_write(fd, chunk, 3 * SEQ_FRAME);
    run_until(f, &f->nframes, 1);
    run_for(f, 50);
    assert_int_equal(f->nframes, 1);
    /* Nothing is read while paused: the client's sends stall (EAGAIN) once
     * the kernel's buffers are full, though the loop keeps turning. */
    unsigned next = 3;
    size_t off = 0;
    int stalled = 0;
    seq_chunk(chunk, next);
    for (int i = 0; i < 100000 && !stalled; i++) {
        ssize_t n = send(fd, chunk + off, SEQ_CHUNK - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            run_for(f, 20);
            n = send(fd, chunk + off, SEQ_CHUNK - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            stalled = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            if (stalled)
                break;
        }
        off += (size_t)n;
        if (off == SEQ_CHUNK) {
            next += 1024;
            seq_chunk(chunk, next);
            off = 0;
        }
        event_loop_run_once(f->loop, 0);
    }
    assert_true(stalled);
    assert_int_equal(f->nframes, 1);
    /* Resumed: nothing is delivered inside the call; then every frame, in
     * order, the rest of the last chunk sent as the server drains. */
    unsigned total = off > 0 ? next + 1024 : next; /* frames sent once the chunk is done */
    f->pause_at = 0;
    assert_int_equal(frame_server_resume_reading(f->srv, f->ids[0]), 0);
    assert_int_equal(f->nframes, 1);
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (off > 0 && clock_monotonic_ms() < end) {
        ssize_t n = send(fd, chunk + off, SEQ_CHUNK - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            off = (off + (size_t)n) % SEQ_CHUNK;
        else
            event_loop_run_once(f->loop, 5);
    }
    assert_int_equal(off, 0);
    run_until(f, &f->nframes, (int)total);
    assert_int_equal(f->seq_errors, 0);
    /* A reset while paused breaks the connection. */
    assert_int_equal(frame_server_pause_reading(f->srv, f->ids[0]), 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd);
    run_until(f, &f->nclosed, 1);
    assert_int_equal(frame_server_connections(f->srv), 0);
}

static void test_log_rate_limit(void **state) {
    struct fixture *f = *state;
    start_server(f, 5000, 8, 8, 0);
    int allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += frame_server_log_ok(f->srv);
    assert_true(allowed > 0);
    assert_true(allowed <= 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partial_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_without_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_before_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_kept_for_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_before_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rate_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
