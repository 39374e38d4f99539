/* test_event_loop.c -- unit tests for common/event_loop.c.
 *
 * Covers fd callbacks on pipes (readable, events changed, removal inside
 * the fd's own callback and inside another fd's, a removed descriptor's
 * number reused in the same turn), repeating timers (fire repeatedly, never
 * faster than their interval, never again once removed, also from their
 * own callback), hooks bounding the poll wait, event_loop_stop() from a
 * timer or a hook ending event_loop_run(), and the registration errors.
 * Hooks removed from inside a hook (itself, a later one, an earlier one).
 * Signals: raise() and kill() arrive as callbacks on the loop, one sent to
 * another thread that does not block it is forwarded, a removed signal's
 * previous handler is back, one taker per signal.  Children: an exit
 * status and a death by signal arrive through the pidfd and through the
 * SIGCHLD fallback (forced), including a child that exited before it was
 * watched; what is not an unreaped child is refused.
 *
 * Timing assertions are one-sided: a loaded CI machine may run turns
 * late, so we check lower bounds on counts over a measured window and
 * upper bounds derived from the elapsed time itself, never "took less than
 * N ms"; that a turn did not wait for a timer shows as the timer not
 * having fired, and a turn that would block forever dies by alarm().  Each
 * test sleeps at most ~150 ms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"

struct fixture {
    event_loop *loop;
    int fds[8]; /* pipe ends to close, -1 when free */
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || event_loop_create(&f->loop) != 0) {
        free(f);
        return -1;
    }
    for (int i = 0; i < 8; i++)
        f->fds[i] = -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    event_loop_destroy(f->loop);
    for (int i = 0; i < 8; i++)
        if (f->fds[i] >= 0)
            close(f->fds[i]);
    free(f);
    return 0;
}

/* Opens a non-blocking pipe; its ends go to p[0] (read) and p[1] (write)
 * and are closed by teardown(). */
static void open_pipe(struct fixture *f, int p[2]) {
    assert_int_equal(pipe(p), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(p[i], F_SETFL, O_NONBLOCK), 0);
    int stored = 0;
    for (int i = 0; i < 8 && stored < 2; i++)
        if (f->fds[i] < 0)
            f->fds[i] = p[stored++];
    assert_int_equal(stored, 2);
}

/* Forgets fd in the fixture (the test closed it itself). */
static void forget_fd(struct fixture *f, int fd) {
    for (int i = 0; i < 8; i++)
        if (f->fds[i] == fd)
            f->fds[i] = -1;
}

static void make_readable(int wfd) { assert_int_equal(write(wfd, "x", 1), 1); }

static void drain(int rfd) {
    char buf[64];
    while (read(rfd, buf, sizeof buf) > 0) {
    }
}

/* What a callback saw. */
struct record {
    int calls;
    int last_fd;
    int last_revents;
    /* What the callback should do besides counting. */
    event_loop *loop;
    int remove_fd;       /* remove this fd (-1: none) */
    int drain_fd;        /* read this fd empty (-1: none) */
    uint64_t remove_tid; /* remove this timer (0: none) */
    int stop_after;      /* call event_loop_stop() at this many calls (0: never) */
};

static void record_init(struct record *r, event_loop *loop) {
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->remove_fd = -1;
    r->drain_fd = -1;
}

static void record_fd_cb(event_loop *loop, int fd, int revents, void *arg) {
    struct record *r = arg;
    assert_ptr_equal(loop, r->loop);
    r->calls++;
    r->last_fd = fd;
    r->last_revents = revents;
    if (r->drain_fd >= 0)
        drain(r->drain_fd);
    if (r->remove_fd >= 0)
        event_loop_remove_fd(loop, r->remove_fd);
}

static void record_timer_cb(event_loop *loop, void *arg) {
    struct record *r = arg;
    assert_ptr_equal(loop, r->loop);
    r->calls++;
    if (r->remove_tid != 0)
        event_loop_remove_timer(loop, r->remove_tid);
    if (r->stop_after > 0 && r->calls == r->stop_after)
        event_loop_stop(loop);
}

/* Runs turns of at most 20 ms each for about total_ms. */
static void run_for(event_loop *loop, int64_t total_ms) {
    int64_t end = clock_monotonic_ms() + total_ms;
    while (clock_monotonic_ms() < end)
        assert_int_equal(event_loop_run_once(loop, 20), 0);
}

static void test_fd_readable(void **state) {
    struct fixture *f = *state;
    int p[2];
    open_pipe(f, p);
    struct record r;
    record_init(&r, f->loop);
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLIN, record_fd_cb, &r), 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 0); /* nothing to read yet */
    make_readable(p[1]);
    assert_int_equal(event_loop_run_once(f->loop, 1000), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.last_fd, p[0]);
    assert_true(r.last_revents & POLLIN);
    /* Level-triggered: still readable, so it fires again. */
    assert_int_equal(event_loop_run_once(f->loop, 1000), 0);
    assert_int_equal(r.calls, 2);
    drain(p[0]);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 2);
}

static void test_set_fd_events(void **state) {
    struct fixture *f = *state;
    int p[2];
    open_pipe(f, p);
    struct record r;
    record_init(&r, f->loop);
    /* The write end of an empty pipe is writable, but nobody asked yet. */
    assert_int_equal(event_loop_add_fd(f->loop, p[1], 0, record_fd_cb, &r), 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(event_loop_set_fd_events(f->loop, p[1], POLLOUT), 0);
    assert_int_equal(event_loop_run_once(f->loop, 1000), 0);
    assert_int_equal(r.calls, 1);
    assert_true(r.last_revents & POLLOUT);
    assert_int_equal(event_loop_set_fd_events(f->loop, p[1], 0), 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 1);
}

static void test_remove_in_own_callback(void **state) {
    struct fixture *f = *state;
    int p[2];
    open_pipe(f, p);
    struct record r;
    record_init(&r, f->loop);
    r.remove_fd = p[0]; /* and never drains: it stays readable */
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLIN, record_fd_cb, &r), 0);
    make_readable(p[1]);
    for (int i = 0; i < 5; i++)
        assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(event_loop_set_fd_events(f->loop, p[0], POLLIN), EMBER_ENOENT);
    /* The fd can be watched again afterwards. */
    r.remove_fd = -1;
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLIN, record_fd_cb, &r), 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 2);
}

/* Two readable pipes whose callbacks each remove the other's fd: whichever
 * runs first, the other must not run, in this turn or later. */
static void test_remove_in_other_callback(void **state) {
    struct fixture *f = *state;
    int a[2], b[2];
    open_pipe(f, a);
    open_pipe(f, b);
    struct record ra, rb;
    record_init(&ra, f->loop);
    record_init(&rb, f->loop);
    ra.remove_fd = b[0];
    ra.drain_fd = a[0];
    rb.remove_fd = a[0];
    rb.drain_fd = b[0];
    assert_int_equal(event_loop_add_fd(f->loop, a[0], POLLIN, record_fd_cb, &ra), 0);
    assert_int_equal(event_loop_add_fd(f->loop, b[0], POLLIN, record_fd_cb, &rb), 0);
    make_readable(a[1]);
    make_readable(b[1]);
    assert_int_equal(event_loop_run_once(f->loop, 1000), 0);
    assert_int_equal(ra.calls + rb.calls, 1);
    /* The removed one stays readable but silent; the survivor still works. */
    make_readable(a[1]);
    make_readable(b[1]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    if (ra.calls > 0) {
        assert_int_equal(rb.calls, 0);
        assert_true(ra.calls >= 2);
    } else {
        assert_int_equal(ra.calls, 0);
        assert_true(rb.calls >= 2);
    }
}

/* State for test_fd_number_reused: A's callback removes and closes B's fd,
 * then opens a new pipe (whose read end takes B's old number) and watches it
 * as C, all in the same turn in which B was reported readable. */
struct reuse {
    struct fixture *f;
    int b_read;   /* B's read end, closed by A's callback */
    int c[2];     /* C's pipe */
    struct record *rc;
    int a_calls;
};

static void reuse_a_cb(event_loop *loop, int fd, int revents, void *arg) {
    struct reuse *u = arg;
    u->a_calls++;
    drain(fd);
    if (u->a_calls > 1)
        return;
    event_loop_remove_fd(loop, u->b_read);
    assert_int_equal(close(u->b_read), 0);
    forget_fd(u->f, u->b_read);
    open_pipe(u->f, u->c);
    assert_int_equal(event_loop_add_fd(loop, u->c[0], POLLIN, record_fd_cb, u->rc), 0);
}

static void test_fd_number_reused(void **state) {
    struct fixture *f = *state;
    int a[2], b[2];
    open_pipe(f, a);
    open_pipe(f, b);
    struct record rb, rc;
    record_init(&rb, f->loop);
    record_init(&rc, f->loop);
    struct reuse u = {.f = f, .b_read = b[0], .rc = &rc};
    /* A is watched first, so a loop that dispatches in registration order
     * runs A before it reaches B's slot. */
    assert_int_equal(event_loop_add_fd(f->loop, a[0], POLLIN, reuse_a_cb, &u), 0);
    assert_int_equal(event_loop_add_fd(f->loop, b[0], POLLIN, record_fd_cb, &rb), 0);
    make_readable(a[1]);
    make_readable(b[1]);
    assert_int_equal(event_loop_run_once(f->loop, 1000), 0);
    assert_int_equal(u.a_calls, 1);
    if (u.c[0] != b[0])
        skip(); /* the kernel gave C another number: nothing to show */
    /* Regression: dispatch used to find each ready pollfd again by fd
     * number alone, so once B was removed and its number reused by C in
     * the same turn, C's callback ran with B's revents although C's pipe
     * was empty.  Registrations now carry a serial. */
    assert_int_equal(rb.calls, 0);
    assert_int_equal(rc.calls, 0);
    /* C works normally afterwards. */
    make_readable(u.c[1]);
    assert_int_equal(event_loop_run_once(f->loop, 1000), 0);
    assert_true(rc.calls >= 1);
    assert_int_equal(rc.last_fd, u.c[0]);
}

static void test_timers(void **state) {
    struct fixture *f = *state;
    struct record fast, removed, once;
    record_init(&fast, f->loop);
    record_init(&removed, f->loop);
    record_init(&once, f->loop);
    int64_t start = clock_monotonic_ms();
    uint64_t fast_id = 0, removed_id = 0, once_id = 0;
    assert_int_equal(event_loop_add_timer(f->loop, 10, record_timer_cb, &fast, &fast_id), 0);
    assert_int_equal(event_loop_add_timer(f->loop, 10, record_timer_cb, &removed, &removed_id), 0);
    assert_int_equal(event_loop_add_timer(f->loop, 10, record_timer_cb, &once, &once_id), 0);
    assert_true(fast_id != removed_id && removed_id != once_id && fast_id != once_id);
    once.remove_tid = once_id; /* removes itself on its first call */
    event_loop_remove_timer(f->loop, removed_id);

    run_for(f->loop, 100);
    int64_t elapsed = clock_monotonic_ms() - start;
    assert_true(fast.calls >= 3);
    /* Never faster than its interval: each call is >= 10 ms after the last. */
    assert_true(fast.calls <= elapsed / 10 + 1);
    assert_int_equal(removed.calls, 0);
    assert_int_equal(once.calls, 1);

    /* Removed after it has fired: it never fires again. */
    event_loop_remove_timer(f->loop, fast_id);
    int before = fast.calls;
    run_for(f->loop, 40);
    assert_int_equal(fast.calls, before);
}

static void test_timer_first_call_after_interval(void **state) {
    struct fixture *f = *state;
    struct record r;
    record_init(&r, f->loop);
    int64_t start = clock_monotonic_ms();
    assert_int_equal(event_loop_add_timer(f->loop, 50, record_timer_cb, &r, NULL), 0);
    while (r.calls == 0) {
        assert_true(clock_monotonic_ms() - start < 5000);
        assert_int_equal(event_loop_run_once(f->loop, 200), 0);
    }
    /* Not before its interval (ms clock: allow one ms of rounding). */
    assert_true(clock_monotonic_ms() - start >= 49);
    assert_int_equal(r.calls, 1);
}

static int hook_calls;
static int hook_value;

static int test_hook(event_loop *loop, void *arg) {
    assert_ptr_equal(arg, &hook_calls);
    hook_calls++;
    return hook_value;
}

static void test_hook_bounds_wait(void **state) {
    struct fixture *f = *state;
    hook_calls = 0;
    hook_value = 0;
    assert_int_equal(event_loop_add_hook(f->loop, test_hook, &hook_calls), 0);
    /* A backstop: without the hook the turn would sleep 2 s for this timer
     * (and forever with no timer at all). */
    struct record r;
    record_init(&r, f->loop);
    assert_int_equal(event_loop_add_timer(f->loop, 2000, record_timer_cb, &r, NULL), 0);

    assert_int_equal(event_loop_run_once(f->loop, -1), 0);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(r.calls, 0); /* the turn ended before the timer */

    /* A positive bound has the turn wait that long, not for the timer. */
    hook_value = 30;
    int64_t start = clock_monotonic_ms();
    assert_int_equal(event_loop_run_once(f->loop, -1), 0);
    int64_t took = clock_monotonic_ms() - start;
    assert_int_equal(hook_calls, 2);
    assert_true(took >= 29); /* poll() waited for the bound */
    assert_int_equal(r.calls, 0); /* ... and not for the timer */
}

static void test_hook_negative_is_no_limit(void **state) {
    struct fixture *f = *state;
    hook_calls = 0;
    hook_value = -1;
    assert_int_equal(event_loop_add_hook(f->loop, test_hook, &hook_calls), 0);
    int64_t start = clock_monotonic_ms();
    alarm(10); /* a loop that took -1 over the caller's bound blocks: die */
    assert_int_equal(event_loop_run_once(f->loop, 30), 0); /* the caller's bound holds */
    alarm(0);
    int64_t took = clock_monotonic_ms() - start;
    assert_int_equal(hook_calls, 1);
    assert_true(took >= 29);
}

static void test_hook_no_fds_no_timers(void **state) {
    struct fixture *f = *state;
    hook_calls = 0;
    hook_value = 0;
    assert_int_equal(event_loop_add_hook(f->loop, test_hook, &hook_calls), 0);
    alarm(10); /* a broken loop would block forever: die instead */
    for (int i = 0; i < 100; i++)
        assert_int_equal(event_loop_run_once(f->loop, -1), 0);
    alarm(0);
    assert_int_equal(hook_calls, 100);
}

static void test_stop_from_timer(void **state) {
    struct fixture *f = *state;
    struct record r;
    record_init(&r, f->loop);
    r.stop_after = 3;
    assert_int_equal(event_loop_add_timer(f->loop, 10, record_timer_cb, &r, NULL), 0);
    alarm(10); /* if stop is ignored, event_loop_run() never returns */
    assert_int_equal(event_loop_run(f->loop), 0);
    alarm(0);
    assert_int_equal(r.calls, 3);
}

static int stopping_hook(event_loop *loop, void *arg) {
    int *calls = arg;
    (*calls)++;
    event_loop_stop(loop);
    return -1; /* no limit of its own */
}

/* A stop from a hook (which runs before the poll) ends the run without
 * sleeping first. */
static void test_stop_from_hook(void **state) {
    struct fixture *f = *state;
    int calls = 0;
    assert_int_equal(event_loop_add_hook(f->loop, stopping_hook, &calls), 0);
    struct record r;
    record_init(&r, f->loop);
    assert_int_equal(event_loop_add_timer(f->loop, 2000, record_timer_cb, &r, NULL), 0);
    alarm(10); /* if stop is ignored, event_loop_run() never returns */
    assert_int_equal(event_loop_run(f->loop), 0);
    alarm(0);
    assert_int_equal(calls, 1);
    assert_int_equal(r.calls, 0); /* it did not wait for the 2 s timer */
}

static void test_registration_errors(void **state) {
    struct fixture *f = *state;
    int p[2];
    open_pipe(f, p);
    struct record r;
    record_init(&r, f->loop);
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLIN, record_fd_cb, &r), 0);
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLIN, record_fd_cb, &r), EMBER_EEXIST);
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLOUT, record_fd_cb, NULL), EMBER_EEXIST);
    assert_int_equal(event_loop_set_fd_events(f->loop, p[1], POLLOUT), EMBER_ENOENT);
    assert_int_equal(event_loop_set_fd_events(f->loop, 12345, POLLIN), EMBER_ENOENT);
    assert_int_equal(event_loop_set_fd_events(f->loop, p[0], POLLIN), 0);
    event_loop_remove_fd(f->loop, p[0]);
    assert_int_equal(event_loop_set_fd_events(f->loop, p[0], POLLIN), EMBER_ENOENT);
    event_loop_remove_fd(f->loop, p[0]);  /* twice: harmless */
    event_loop_remove_fd(f->loop, 12345); /* never watched: harmless */
    assert_int_equal(event_loop_add_fd(f->loop, p[0], POLLIN, record_fd_cb, &r), 0); /* watched again */
    assert_int_equal(event_loop_add_fd(f->loop, -1, POLLIN, record_fd_cb, &r), EMBER_EINVAL);
    assert_int_equal(event_loop_add_fd(f->loop, p[1], POLLOUT, NULL, &r), EMBER_EINVAL);
    assert_int_equal(event_loop_add_timer(f->loop, 0, record_timer_cb, &r, NULL), EMBER_EINVAL);
    assert_int_equal(event_loop_add_timer(f->loop, -5, record_timer_cb, &r, NULL), EMBER_EINVAL);
    assert_int_equal(event_loop_add_timer(f->loop, 10, NULL, &r, NULL), EMBER_EINVAL);
    event_loop_remove_timer(f->loop, 999); /* unknown id: harmless */
    event_loop_destroy(NULL);
}

/* Many registrations grow the arrays (past their first capacity of 8). */
static void test_many_fds(void **state) {
    (void)state;
    event_loop *loop;
    assert_int_equal(event_loop_create(&loop), 0);
    enum { N = 20 };
    int p[N][2];
    struct record r[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(pipe(p[i]), 0);
        assert_int_equal(fcntl(p[i][0], F_SETFL, O_NONBLOCK), 0);
        record_init(&r[i], loop);
        r[i].drain_fd = p[i][0];
        assert_int_equal(event_loop_add_fd(loop, p[i][0], POLLIN, record_fd_cb, &r[i]), 0);
        make_readable(p[i][1]);
    }
    assert_int_equal(event_loop_run_once(loop, 1000), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].last_fd, p[i][0]);
    }
    event_loop_destroy(loop);
    for (int i = 0; i < N; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

/* ---- hook removal ---- */

struct hook_rec {
    event_loop *loop;
    int calls;
    struct hook_rec *remove; /* remove this hook (may be itself) when called */
};

static int removing_hook(event_loop *loop, void *arg) {
    struct hook_rec *h = arg;
    h->calls++;
    if (h->remove != NULL) {
        event_loop_remove_hook(loop, removing_hook, h->remove);
        h->remove = NULL;
    }
    return 0;
}

static void test_remove_hook_inside_hook(void **state) {
    struct fixture *f = *state;
    struct hook_rec a = {.loop = f->loop}, b = {.loop = f->loop}, c = {.loop = f->loop};
    a.remove = &c; /* a later hook: must not run in this turn */
    assert_int_equal(event_loop_add_hook(f->loop, removing_hook, &a), 0);
    assert_int_equal(event_loop_add_hook(f->loop, removing_hook, &b), 0);
    assert_int_equal(event_loop_add_hook(f->loop, removing_hook, &c), 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 0);

    b.remove = &b; /* itself */
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(a.calls, 2);
    assert_int_equal(b.calls, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(a.calls, 5);
    assert_int_equal(b.calls, 2);
    assert_int_equal(c.calls, 0);

    /* Removed from outside, and an unknown pair: ignored. */
    event_loop_remove_hook(f->loop, removing_hook, &a);
    event_loop_remove_hook(f->loop, removing_hook, &a);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(a.calls, 5);

    /* An earlier hook removed by a later one in the same turn; re-added. */
    assert_int_equal(event_loop_add_hook(f->loop, removing_hook, &a), 0);
    b.remove = &a;
    assert_int_equal(event_loop_add_hook(f->loop, removing_hook, &b), 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(a.calls, 6);
    assert_int_equal(b.calls, 3);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(a.calls, 6);
    assert_int_equal(b.calls, 4);
}

/* ---- signals ---- */

struct sig_rec {
    int calls;
    int last_signo;
    pid_t thread; /* the thread the callback ran on */
};

static void record_signal_cb(event_loop *loop, int signo, void *arg) {
    (void)loop;
    struct sig_rec *r = arg;
    r->calls++;
    r->last_signo = signo;
    r->thread = (pid_t)syscall(SYS_gettid);
}

/* Runs turns (up to 5 s) until *counter reaches want. */
static void run_until(event_loop *loop, const int *counter, int want) {
    int64_t end = clock_monotonic_ms() + 5000;
    while (*counter < want && clock_monotonic_ms() < end)
        assert_int_equal(event_loop_run_once(loop, 50), 0);
    assert_int_equal(*counter, want);
}

static void test_signal_raise_and_kill(void **state) {
    struct fixture *f = *state;
    struct sig_rec usr1 = {0}, usr2 = {0};
    assert_int_equal(event_loop_add_signal(f->loop, SIGUSR1, record_signal_cb, &usr1), 0);
    assert_int_equal(event_loop_add_signal(f->loop, SIGUSR2, record_signal_cb, &usr2), 0);
    /* Without the loop the default action would end the process. */
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(usr1.calls, 0); /* nothing runs outside a turn */
    run_until(f->loop, &usr1.calls, 1);
    assert_int_equal(usr1.last_signo, SIGUSR1);
    assert_int_equal(usr1.thread, (pid_t)syscall(SYS_gettid));
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    run_until(f->loop, &usr2.calls, 1);
    assert_int_equal(usr2.last_signo, SIGUSR2);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    run_until(f->loop, &usr1.calls, 2);
    assert_int_equal(usr2.calls, 1);

    /* One taker per signal; bad numbers. */
    assert_int_equal(event_loop_add_signal(f->loop, SIGUSR1, record_signal_cb, &usr2),
                     EMBER_EEXIST);
    assert_int_equal(event_loop_add_signal(f->loop, SIGKILL, record_signal_cb, &usr2),
                     EMBER_EINVAL);
    assert_int_equal(event_loop_add_signal(f->loop, 0, record_signal_cb, &usr2), EMBER_EINVAL);
    assert_int_equal(event_loop_add_signal(f->loop, SIGTERM, NULL, &usr2), EMBER_EINVAL);
}

static volatile sig_atomic_t plain_handler_calls;
static void plain_handler(int signo) {
    (void)signo;
    plain_handler_calls++;
}

static void test_signal_remove_restores(void **state) {
    struct fixture *f = *state;
    struct sigaction sa = {.sa_handler = plain_handler}, old;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    plain_handler_calls = 0;
    struct sig_rec r = {0};
    assert_int_equal(event_loop_add_signal(f->loop, SIGUSR1, record_signal_cb, &r), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    run_until(f->loop, &r.calls, 1);
    assert_int_equal(plain_handler_calls, 0);

    /* Pending at removal: discarded, not handed to the old handler. */
    assert_int_equal(raise(SIGUSR1), 0);
    event_loop_remove_signal(f->loop, SIGUSR1);
    event_loop_remove_signal(f->loop, SIGUSR1); /* twice: harmless */
    assert_int_equal(plain_handler_calls, 0);
    assert_int_equal(event_loop_run_once(f->loop, 0), 0);
    assert_int_equal(r.calls, 1);
    /* Unblocked, the old handler is back. */
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(plain_handler_calls, 1);
    assert_int_equal(r.calls, 1);

    /* Free again for a taker. */
    assert_int_equal(event_loop_add_signal(f->loop, SIGUSR1, record_signal_cb, &r), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    run_until(f->loop, &r.calls, 2);
    event_loop_remove_signal(f->loop, SIGUSR1);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
}

struct idle_thread {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int tid;
    int quit;
};

/* A thread that leaves every signal unblocked (as Open MPI's do). */
static void *idle_thread_main(void *arg) {
    struct idle_thread *t = arg;
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    pthread_mutex_lock(&t->lock);
    t->tid = (int)syscall(SYS_gettid);
    pthread_cond_broadcast(&t->cond);
    while (!t->quit)
        pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void test_signal_forwarded_from_other_thread(void **state) {
    struct fixture *f = *state;
    struct sig_rec r = {0};
    assert_int_equal(event_loop_add_signal(f->loop, SIGUSR2, record_signal_cb, &r), 0);
    struct idle_thread t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, idle_thread_main, &t), 0);
    pthread_mutex_lock(&t.lock);
    while (t.tid == 0)
        pthread_cond_wait(&t.cond, &t.lock);
    pthread_mutex_unlock(&t.lock);
    /* Aimed at the other thread, which does not block it: its handler
     * runs there and must hand the signal to the loop's thread. */
    assert_int_equal(syscall(SYS_tgkill, getpid(), t.tid, SIGUSR2), 0);
    run_until(f->loop, &r.calls, 1);
    assert_int_equal(r.thread, (pid_t)syscall(SYS_gettid));
    pthread_mutex_lock(&t.lock);
    t.quit = 1;
    pthread_cond_broadcast(&t.cond);
    pthread_mutex_unlock(&t.lock);
    assert_int_equal(pthread_join(th, NULL), 0);
}

/* ---- children ---- */

struct child_rec {
    int calls;
    pid_t pid;
    int status;
};

static void record_child_cb(event_loop *loop, pid_t pid, int status, void *arg) {
    (void)loop;
    struct child_rec *r = arg;
    r->calls++;
    r->pid = pid;
    r->status = status;
}

/* A child that exits with code after reading one byte from fd (or at
 * once when fd < 0). */
static pid_t spawn_child(int fd, int code) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        if (fd >= 0 && read(fd, &c, 1) < 0)
            _exit(99);
        _exit(code);
    }
    return pid;
}

static void check_children(struct fixture *f, int force_sigchld) {
    if (force_sigchld)
        event_loop_force_sigchld(f->loop);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct child_rec exited = {0}, killed = {0}, early = {0};

    /* Exits with a status once told to. */
    pid_t a = spawn_child(p[0], 7);
    assert_int_equal(event_loop_watch_child(f->loop, a, record_child_cb, &exited), 0);
    assert_int_equal(event_loop_watch_child(f->loop, a, record_child_cb, &exited), EMBER_EEXIST);
    assert_int_equal(event_loop_run_once(f->loop, 20), 0);
    assert_int_equal(exited.calls, 0); /* still running */
    assert_int_equal(write(p[1], "x", 1), 1);
    run_until(f->loop, &exited.calls, 1);
    assert_int_equal(exited.pid, a);
    assert_true(WIFEXITED(exited.status));
    assert_int_equal(WEXITSTATUS(exited.status), 7);
    assert_int_equal(waitpid(a, NULL, WNOHANG), -1); /* the loop reaped it */

    /* Killed by a signal. */
    pid_t b = spawn_child(p[0], 0);
    assert_int_equal(event_loop_watch_child(f->loop, b, record_child_cb, &killed), 0);
    assert_int_equal(kill(b, SIGKILL), 0);
    run_until(f->loop, &killed.calls, 1);
    assert_int_equal(killed.pid, b);
    assert_true(WIFSIGNALED(killed.status));
    assert_int_equal(WTERMSIG(killed.status), SIGKILL);

    /* Exited (a zombie) before it was watched. */
    pid_t c = spawn_child(-1, 3);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(event_loop_watch_child(f->loop, c, record_child_cb, &early), 0);
    run_until(f->loop, &early.calls, 1);
    assert_true(WIFEXITED(early.status));
    assert_int_equal(WEXITSTATUS(early.status), 3);

    /* Reaped already, not a child, invalid. */
    assert_int_equal(event_loop_watch_child(f->loop, c, record_child_cb, &early), EMBER_ENOENT);
    assert_int_equal(event_loop_watch_child(f->loop, 1, record_child_cb, &early), EMBER_ENOENT);
    assert_int_equal(event_loop_watch_child(f->loop, 0, record_child_cb, &early), EMBER_EINVAL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(event_loop_run_once(f->loop, 10), 0);
    assert_int_equal(exited.calls + killed.calls + early.calls, 3); /* once each */
    close(p[0]);
    close(p[1]);
}

static void test_child_pidfd(void **state) { check_children(*state, 0); }

static void test_child_sigchld(void **state) {
    struct fixture *f = *state;
    check_children(f, 1);
    /* SIGCHLD is the loop's now: nobody else may take it through a loop. */
    struct sig_rec r = {0};
    assert_int_equal(event_loop_add_signal(f->loop, SIGCHLD, record_signal_cb, &r), EMBER_EEXIST);
}

/* A child still running when the loop goes: not reaped, not reported. */
static void test_child_unwatched_on_destroy(void **state) {
    (void)state;
    event_loop *loop;
    assert_int_equal(event_loop_create(&loop), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct child_rec r = {0};
    pid_t a = spawn_child(p[0], 5);
    assert_int_equal(event_loop_watch_child(loop, a, record_child_cb, &r), 0);
    event_loop_destroy(loop);
    assert_int_equal(write(p[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(a, &status, 0), a);
    assert_int_equal(WEXITSTATUS(status), 5);
    assert_int_equal(r.calls, 0);
    close(p[0]);
    close(p[1]);
}

/* A child unwatched while it runs: no callback, and the loop leaves it
 * for its owner to reap -- in both modes. */
static void check_unwatch(struct fixture *f, int force_sigchld) {
    if (force_sigchld)
        event_loop_force_sigchld(f->loop);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct child_rec r = {0}, other = {0};
    pid_t a = spawn_child(p[0], 4);
    pid_t b = spawn_child(p[0], 6);
    assert_int_equal(event_loop_watch_child(f->loop, a, record_child_cb, &r), 0);
    assert_int_equal(event_loop_watch_child(f->loop, b, record_child_cb, &other), 0);
    event_loop_unwatch_child(f->loop, a);
    event_loop_unwatch_child(f->loop, a);  /* twice: ignored */
    event_loop_unwatch_child(f->loop, 12345678); /* never watched: ignored */
    assert_int_equal(write(p[1], "xy", 2), 2); /* both exit */
    run_until(f->loop, &other.calls, 1);  /* b's exit is seen ... */
    for (int i = 0; i < 3; i++)
        assert_int_equal(event_loop_run_once(f->loop, 10), 0);
    assert_int_equal(r.calls, 0); /* ... a's is not */
    int status;
    assert_int_equal(waitpid(a, &status, 0), a); /* still there for its owner */
    assert_int_equal(WEXITSTATUS(status), 4);
    /* Watchable again as a new child. */
    pid_t c = spawn_child(-1, 2);
    assert_int_equal(event_loop_watch_child(f->loop, c, record_child_cb, &r), 0);
    run_until(f->loop, &r.calls, 1);
    assert_int_equal(WEXITSTATUS(r.status), 2);
    close(p[0]);
    close(p[1]);
}

static void test_child_unwatch_pidfd(void **state) { check_unwatch(*state, 0); }
static void test_child_unwatch_sigchld(void **state) { check_unwatch(*state, 1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fd_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_fd_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_in_own_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_in_other_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_number_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_first_call_after_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_bounds_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_negative_is_no_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_no_fds_no_timers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_errors, setup, teardown),
        cmocka_unit_test(test_many_fds),
        cmocka_unit_test_setup_teardown(test_remove_hook_inside_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_raise_and_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_remove_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_forwarded_from_other_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_pidfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_sigchld, setup, teardown),
        cmocka_unit_test(test_child_unwatched_on_destroy),
        cmocka_unit_test_setup_teardown(test_child_unwatch_pidfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_unwatch_sigchld, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
