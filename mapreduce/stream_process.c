/* stream_process.c -- see stream_process.h.
 *
 * States: RUNNING (stdin open; bytes queue in wbuf and go out through
 * stream_pump()) -> DRAINING (stdin closed by finish; stdout and stderr
 * read until both reach end of file) -> REAPED (pid 0).  A callback
 * error, a failed system call or the timeout leaves the process FAILED:
 * every later write answers that error, and free kills the child.
 * A child that closed its stdin (EPIPE) is not a failure of ours: the
 * queue is dropped and finish still drains and reaps it, so the caller
 * learns its exit code. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "stream_process.h"

extern char **environ;

#define STREAM_WRITE_CHUNK (64u << 10)
#define STREAM_READ_CHUNK (64u << 10)

/* One of the child's output pipes, cut into lines. */
typedef struct {
    int fd; /* -1 at end of file */
    uint8_t *buf;
    size_t len, cap;
    size_t scanned; /* buf[0, scanned) holds no '\n' */
    stream_line_fn fn;
    void *arg;
} stream_reader;

struct stream_process {
    pid_t pid; /* 0 once reaped */
    int in_fd; /* -1 once closed */
    uint8_t *wbuf;
    size_t woff, wlen, wcap; /* queued: wbuf[woff, wlen) */
    stream_reader out, err;
    int64_t timeout_ms, active_ms; /* last time bytes moved */
    int failed;                    /* first error; EMBER_ECLOSED is not kept */
};

static int stream_errno(void) { return errno == ENOMEM ? EMBER_ENOMEM : EMBER_EIO; }

/* Hands every complete line of r's buffer to its callback, keeping the
 * unfinished rest; at_eof: the rest is the last line. */
static int stream_reader_lines(stream_reader *r, int at_eof) {
    size_t start = 0;
    int rc = EMBER_OK;
    uint8_t *nl;
    while (rc == EMBER_OK && (nl = memchr(r->buf + r->scanned, '\n', r->len - r->scanned))) {
        size_t end = (size_t)(nl - r->buf), n = end - start;
        if (n > 0 && r->buf[end - 1] == '\r')
            n--;
        rc = r->fn(r->arg, r->buf + start, n);
        start = r->scanned = end + 1;
    }
    if (rc == EMBER_OK && at_eof && r->len > start) {
        rc = r->fn(r->arg, r->buf + start, r->len - start);
        start = r->len;
    }
    memmove(r->buf, r->buf + start, r->len - start);
    r->len -= start;
    r->scanned = r->len;
    return rc > 0 ? EMBER_EINVAL : rc;
}

/* Reads what the pipe has; at end of file the last line goes out and the
 * pipe is closed. */
static int stream_reader_read(stream_reader *r) {
    if (r->cap - r->len < STREAM_READ_CHUNK) {
        uint8_t *b = realloc(r->buf, r->len + STREAM_READ_CHUNK);
        if (b == NULL)
            return EMBER_ENOMEM;
        r->buf = b;
        r->cap = r->len + STREAM_READ_CHUNK;
    }
    ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? EMBER_OK : stream_errno();
    r->len += (size_t)n;
    if (n > 0)
        return stream_reader_lines(r, 0);
    close(r->fd);
    r->fd = -1;
    return stream_reader_lines(r, 1);
}

/* Writes what the child's stdin takes now. */
static int stream_write_some(stream_process *p) {
    ssize_t n = write(p->in_fd, p->wbuf + p->woff, p->wlen - p->woff);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? EMBER_OK
               : errno == EPIPE                  ? EMBER_ECLOSED
                                                 : stream_errno();
    p->woff += (size_t)n;
    if (p->woff == p->wlen)
        p->woff = p->wlen = 0;
    return EMBER_OK;
}

/* One poll() over the child's pipes: stdin when write is set and bytes
 * are queued, stdout and stderr until their end of file; then whatever is
 * ready is written or read.  The timeout counts from the last time bytes
 * moved, or from the caller's start of waiting (active_ms). */
static int stream_pump(stream_process *p, int writing) {
    struct pollfd fds[3];
    stream_reader *readers[3] = {NULL, NULL, NULL};
    nfds_t n = 0;
    int in = writing && p->in_fd >= 0 && p->woff < p->wlen;
    if (in)
        fds[n++] = (struct pollfd){.fd = p->in_fd, .events = POLLOUT};
    stream_reader *rs[2] = {&p->out, &p->err};
    for (int i = 0; i < 2; i++)
        if (rs[i]->fd >= 0) {
            readers[n] = rs[i];
            fds[n++] = (struct pollfd){.fd = rs[i]->fd, .events = POLLIN};
        }
    if (n == 0)
        return EMBER_OK;
    int wait_ms = -1;
    if (p->timeout_ms > 0) {
        int64_t left = p->active_ms + p->timeout_ms - clock_monotonic_ms();
        wait_ms = left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
    }
    int ready = poll(fds, n, wait_ms);
    if (ready < 0)
        return errno == EINTR ? EMBER_OK : stream_errno();
    if (ready == 0)
        return p->timeout_ms > 0 && clock_monotonic_ms() - p->active_ms >= p->timeout_ms
                   ? EMBER_ETIMEDOUT
                   : EMBER_OK;
    p->active_ms = clock_monotonic_ms();
    int rc = EMBER_OK;
    for (nfds_t i = 0; rc == EMBER_OK && i < n; i++) {
        if (fds[i].revents == 0)
            continue;
        rc = readers[i] != NULL ? stream_reader_read(readers[i]) : stream_write_some(p);
    }
    return rc;
}

static int stream_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? EMBER_OK : EMBER_EIO; }

static void stream_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* posix_spawn of /bin/sh -c COMMAND with the pipes' child ends as its
 * stdin, stdout (and stderr: err_w >= 0), SIGPIPE back at its default,
 * in a process group of its own so that a kill reaches what it started. */
static int stream_spawn(const stream_process_options *o, int in_r, int out_w, int err_w,
                        pid_t *pid) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return EMBER_ENOMEM;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return EMBER_ENOMEM;
    }
    int e = posix_spawn_file_actions_adddup2(&fa, in_r, 0);
    if (e == 0)
        e = posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    if (e == 0 && err_w >= 0)
        e = posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    if (e == 0 && o->dir != NULL)
        e = posix_spawn_file_actions_addchdir_np(&fa, o->dir);
    sigset_t dflt, mask;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigemptyset(&mask);
    if (e == 0)
        e = posix_spawnattr_setsigdefault(&at, &dflt);
    if (e == 0)
        e = posix_spawnattr_setsigmask(&at, &mask);
    if (e == 0)
        e = posix_spawnattr_setpgroup(&at, 0); /* its own group, killed as one */
    if (e == 0)
        e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETPGROUP);
    char *argv[] = {"sh", "-c", (char *)o->command, NULL};
    if (e == 0)
        e = posix_spawn(pid, "/bin/sh", &fa, &at, argv, o->env != NULL ? o->env : environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return e == 0 ? EMBER_OK : e == ENOMEM ? EMBER_ENOMEM : EMBER_EIO;
}

int stream_process_start(const stream_process_options *o, stream_process **out) {
    if (o->command == NULL || o->on_stdout == NULL)
        return EMBER_EINVAL;
    signal(SIGPIPE, SIG_IGN);
    stream_process *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return EMBER_ENOMEM;
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int rc = stream_pipe(in);
    if (rc == EMBER_OK)
        rc = stream_pipe(outp);
    if (rc == EMBER_OK && o->on_stderr != NULL)
        rc = stream_pipe(errp);
    if (rc == EMBER_OK)
        rc = stream_spawn(o, in[0], outp[1], errp[1], &p->pid);
    int child_ends[3] = {in[0], outp[1], errp[1]};
    for (int i = 0; i < 3; i++)
        if (child_ends[i] >= 0)
            close(child_ends[i]);
    if (rc != EMBER_OK) {
        int ours[3] = {in[1], outp[0], errp[0]};
        for (int i = 0; i < 3; i++)
            if (ours[i] >= 0)
                close(ours[i]);
        free(p);
        return rc;
    }
    p->in_fd = in[1];
    p->out = (stream_reader){.fd = outp[0], .fn = o->on_stdout, .arg = o->stdout_arg};
    p->err = (stream_reader){.fd = errp[0], .fn = o->on_stderr, .arg = o->stderr_arg};
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? p->in_fd : i == 1 ? p->out.fd : p->err.fd;
        if (fd >= 0)
            stream_nonblock(fd);
    }
    p->timeout_ms = o->timeout_ms;
    p->active_ms = clock_monotonic_ms();
    *out = p;
    return EMBER_OK;
}

/* Drops what is queued and closes the child's stdin. */
static void stream_close_stdin(stream_process *p) {
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
    p->woff = p->wlen = 0;
}

int stream_process_write(stream_process *p, const void *data, size_t len) {
    if (p->failed)
        return p->failed;
    if (p->in_fd < 0)
        return EMBER_ECLOSED;
    if (len == 0)
        return EMBER_OK;
    if (p->wcap - p->wlen < len && p->woff > 0) {
        memmove(p->wbuf, p->wbuf + p->woff, p->wlen - p->woff);
        p->wlen -= p->woff;
        p->woff = 0;
    }
    if (p->wcap - p->wlen < len) {
        size_t cap = p->wlen + len > STREAM_WRITE_CHUNK ? p->wlen + len : STREAM_WRITE_CHUNK;
        uint8_t *b = realloc(p->wbuf, cap);
        if (b == NULL)
            return p->failed = EMBER_ENOMEM;
        p->wbuf = b;
        p->wcap = cap;
    }
    memcpy(p->wbuf + p->wlen, data, len);
    p->wlen += len;
    int rc = EMBER_OK;
    p->active_ms = clock_monotonic_ms(); /* the wait starts now */
    while (rc == EMBER_OK && p->wlen - p->woff >= STREAM_WRITE_CHUNK)
        rc = stream_pump(p, 1);
    if (rc == EMBER_ECLOSED)
        stream_close_stdin(p);
    else if (rc != EMBER_OK)
        p->failed = rc;
    return rc;
}

int stream_process_finish(stream_process *p, stream_process_exit *ended) {
    if (p->failed)
        return p->failed;
    int rc = EMBER_OK, closed = p->in_fd < 0;
    p->active_ms = clock_monotonic_ms();
    while (rc == EMBER_OK && p->in_fd >= 0 && p->woff < p->wlen)
        rc = stream_pump(p, 1);
    if (rc == EMBER_ECLOSED) {
        closed = 1;
        rc = EMBER_OK;
    }
    stream_close_stdin(p);
    while (rc == EMBER_OK && (p->out.fd >= 0 || p->err.fd >= 0))
        rc = stream_pump(p, 0);
    if (rc != EMBER_OK)
        return p->failed = rc;
    int status;
    while (waitpid(p->pid, &status, 0) < 0)
        if (errno != EINTR)
            return p->failed = EMBER_EIO;
    p->pid = 0;
    ended->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    ended->code = ended->signal ? 128 + ended->signal : WEXITSTATUS(status);
    return closed ? EMBER_ECLOSED : EMBER_OK;
}

void stream_process_free(stream_process *p) {
    if (p == NULL)
        return;
    stream_close_stdin(p);
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL); /* the shell and whatever it started */
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    stream_reader *rs[2] = {&p->out, &p->err};
    for (int i = 0; i < 2; i++) {
        if (rs[i]->fd >= 0)
            close(rs[i]->fd);
        free(rs[i]->buf);
    }
    free(p->wbuf);
    free(p);
}
