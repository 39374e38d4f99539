/* event_loop.c -- poll()-based event loop (see event_loop.h).
 *
 * Registrations live in three small arrays.  Removal during a turn only
 * marks an entry dead; dead entries are swept at the end of the turn, so a
 * callback can remove anything (itself included) without the loop walking
 * freed memory.  A rank has a handful of descriptors and timers, so linear
 * scans beat anything cleverer.
 *
 * Signals.  The loop owns one signalfd (created with the first signal it
 * takes, registered as an ordinary fd) whose mask is the set of signals
 * taken.  signalfd only sees signals pending for the process or for the
 * reading thread, and the kernel hands a process-directed signal to any
 * thread that does not block it; the ranks have threads we do not create
 * (Open MPI's), so each taken signal also gets forward_signal() as its
 * handler: run on another thread, it re-sends the signal to the loop's
 * thread (tgkill), where it is blocked and so waits for the signalfd.
 * loop_signal_owner[] (written by the loop's thread, read by the handler)
 * says which thread that is; one owner per signal in the process.
 *
 * Children.  Each watched child has a pidfd registered as an fd, or, in
 * SIGCHLD mode (no pidfd_open, or event_loop_force_sigchld()), fd -1 and
 * the loop's internal SIGCHLD taker polls every such child with
 * waitpid(pid, WNOHANG).  `reap_due` makes the turn after a watch check
 * once, since a child that exited before SIGCHLD was blocked sent its
 * signal to nobody.  A child entry dies when its callback is called. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "event_loop.h"

typedef struct {
    int fd;
    uint64_t serial; /* unique per registration: a reused fd number differs */
    short events;
    int dead;
    event_loop_fd_cb cb;
    void *arg;
} loop_fd;

typedef struct {
    uint64_t id;
    int64_t interval_ms;
    int64_t due_ms;
    int dead;
    event_loop_timer_cb cb;
    void *arg;
} loop_timer;

typedef struct {
    event_loop_hook_cb cb;
    void *arg;
    int dead;
} loop_hook;

typedef struct {
    int signo;
    int dead;
    event_loop_signal_cb cb;
    void *arg;
    struct sigaction saved; /* the handler before ours, restored on removal */
} loop_signal;

typedef struct {
    pid_t pid;
    int fd; /* pidfd, or -1 in SIGCHLD mode; closed once reaped */
    int dead;
    event_loop_child_cb cb;
    void *arg;
} loop_child;

/* By signal number: the thread (Linux tid) whose loop took it, 0 if none. */
static atomic_int loop_signal_owner[NSIG];

struct event_loop {
    loop_fd *fds;
    int nfds, fds_cap;
    loop_timer *timers;
    int ntimers, timers_cap;
    loop_hook *hooks;
    int nhooks, hooks_cap;
    uint64_t next_timer_id;
    int stopping;
    struct pollfd *pollfds;
    uint64_t *poll_serials; /* serial of the registration behind pollfds[i] */
    int pollfds_cap;
    uint64_t next_fd_serial;
    loop_signal *signals;
    int nsignals, signals_cap;
    int sigfd;        /* -1 until the first signal is taken */
    sigset_t sigmask; /* the signals taken (the signalfd's mask) */
    loop_child *children;
    int nchildren, children_cap;
    int force_sigchld;
    int sigchld_taken; /* SIGCHLD taken by the loop itself for children */
    int reap_due;      /* SIGCHLD mode: check the children this turn */
};

/* Grows *array (of elem_size items, *cap of them) to hold one more. */
static int loop_reserve(void **array, int *cap, int count, size_t elem_size) {
    if (count < *cap)
        return EMBER_OK;
    int ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*array, (size_t)ncap * elem_size);
    if (p == NULL)
        return EMBER_ENOMEM;
    *array = p;
    *cap = ncap;
    return EMBER_OK;
}

int event_loop_create(event_loop **out) {
    event_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return EMBER_ENOMEM;
    loop->next_timer_id = 1;
    loop->sigfd = -1;
    sigemptyset(&loop->sigmask);
    *out = loop;
    return EMBER_OK;
}

void event_loop_destroy(event_loop *loop) {
    if (loop == NULL)
        return;
    for (int i = 0; i < loop->nsignals; i++)
        if (!loop->signals[i].dead)
            event_loop_remove_signal(loop, loop->signals[i].signo);
    for (int i = 0; i < loop->nchildren; i++)
        if (!loop->children[i].dead && loop->children[i].fd >= 0)
            close(loop->children[i].fd);
    if (loop->sigfd >= 0)
        close(loop->sigfd);
    free(loop->signals);
    free(loop->children);
    free(loop->fds);
    free(loop->timers);
    free(loop->hooks);
    free(loop->pollfds);
    free(loop->poll_serials);
    free(loop);
}

static loop_fd *loop_find_fd(event_loop *loop, int fd) {
    for (int i = 0; i < loop->nfds; i++)
        if (loop->fds[i].fd == fd && !loop->fds[i].dead)
            return &loop->fds[i];
    return NULL;
}

int event_loop_add_fd(event_loop *loop, int fd, short events, event_loop_fd_cb cb, void *arg) {
    if (fd < 0 || cb == NULL)
        return EMBER_EINVAL;
    if (loop_find_fd(loop, fd) != NULL)
        return EMBER_EEXIST;
    int rc = loop_reserve((void **)&loop->fds, &loop->fds_cap, loop->nfds, sizeof(loop_fd));
    if (rc != EMBER_OK)
        return rc;
    loop->fds[loop->nfds++] =
        (loop_fd){.fd = fd, .serial = ++loop->next_fd_serial, .events = events, .cb = cb, .arg = arg};
    return EMBER_OK;
}

int event_loop_set_fd_events(event_loop *loop, int fd, short events) {
    loop_fd *f = loop_find_fd(loop, fd);
    if (f == NULL)
        return EMBER_ENOENT;
    f->events = events;
    return EMBER_OK;
}

void event_loop_remove_fd(event_loop *loop, int fd) {
    loop_fd *f = loop_find_fd(loop, fd);
    if (f != NULL)
        f->dead = 1;
}

int event_loop_add_timer(event_loop *loop, int64_t interval_ms, event_loop_timer_cb cb, void *arg,
                         uint64_t *id) {
    if (interval_ms <= 0 || cb == NULL)
        return EMBER_EINVAL;
    int rc = loop_reserve((void **)&loop->timers, &loop->timers_cap, loop->ntimers,
                          sizeof(loop_timer));
    if (rc != EMBER_OK)
        return rc;
    uint64_t tid = loop->next_timer_id++;
    loop->timers[loop->ntimers++] = (loop_timer){.id = tid,
                                                 .interval_ms = interval_ms,
                                                 .due_ms = clock_monotonic_ms() + interval_ms,
                                                 .cb = cb,
                                                 .arg = arg};
    if (id != NULL)
        *id = tid;
    return EMBER_OK;
}

void event_loop_remove_timer(event_loop *loop, uint64_t id) {
    for (int i = 0; i < loop->ntimers; i++)
        if (loop->timers[i].id == id)
            loop->timers[i].dead = 1;
}

int event_loop_add_hook(event_loop *loop, event_loop_hook_cb cb, void *arg) {
    int rc = loop_reserve((void **)&loop->hooks, &loop->hooks_cap, loop->nhooks, sizeof(loop_hook));
    if (rc != EMBER_OK)
        return rc;
    loop->hooks[loop->nhooks++] = (loop_hook){.cb = cb, .arg = arg};
    return EMBER_OK;
}

void event_loop_remove_hook(event_loop *loop, event_loop_hook_cb cb, void *arg) {
    for (int i = 0; i < loop->nhooks; i++)
        if (!loop->hooks[i].dead && loop->hooks[i].cb == cb && loop->hooks[i].arg == arg) {
            loop->hooks[i].dead = 1;
            return;
        }
}

/* ---- signals ---- */

/* The handler of every taken signal; runs only on threads that do not
 * block it, which the loop's thread does.  Async-signal-safe. */
static void forward_signal(int signo) {
    int saved = errno;
    int tid = atomic_load(&loop_signal_owner[signo]);
    if (tid > 0)
        syscall(SYS_tgkill, getpid(), tid, signo);
    errno = saved;
}

static loop_signal *loop_find_signal(event_loop *loop, int signo) {
    for (int i = 0; i < loop->nsignals; i++)
        if (loop->signals[i].signo == signo && !loop->signals[i].dead)
            return &loop->signals[i];
    return NULL;
}

/* Reads every queued signal from the signalfd and calls its taker. */
static void loop_on_signalfd(event_loop *loop, int fd, int revents, void *arg) {
    (void)revents;
    (void)arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        loop_signal *s = loop_find_signal(loop, (int)si.ssi_signo);
        if (s != NULL)
            s->cb(loop, (int)si.ssi_signo, s->arg); /* may grow loop->signals */
    }
}

int event_loop_add_signal(event_loop *loop, int signo, event_loop_signal_cb cb, void *arg) {
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP || cb == NULL)
        return EMBER_EINVAL;
    int expected = 0, tid = (int)syscall(SYS_gettid);
    if (!atomic_compare_exchange_strong(&loop_signal_owner[signo], &expected, tid))
        return EMBER_EEXIST;
    int rc = loop_reserve((void **)&loop->signals, &loop->signals_cap, loop->nsignals,
                          sizeof(loop_signal));
    if (rc != EMBER_OK)
        goto fail;
    sigset_t one, mask = loop->sigmask;
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigaddset(&mask, signo);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    rc = EMBER_EIO;
    if (loop->sigfd < 0) {
        int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
            goto fail_unblock;
        if ((rc = event_loop_add_fd(loop, fd, POLLIN, loop_on_signalfd, NULL)) != EMBER_OK) {
            close(fd);
            goto fail_unblock;
        }
        loop->sigfd = fd;
    } else if (signalfd(loop->sigfd, &mask, 0) < 0) {
        goto fail_unblock;
    }
    loop_signal *s = &loop->signals[loop->nsignals];
    *s = (loop_signal){.signo = signo, .cb = cb, .arg = arg};
    struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
    if (signo == SIGCHLD)
        sa.sa_flags |= SA_NOCLDSTOP;
    sigfillset(&sa.sa_mask);
    sigaction(signo, &sa, &s->saved);
    loop->nsignals++;
    loop->sigmask = mask;
    return EMBER_OK;
fail_unblock:
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
fail:
    atomic_store(&loop_signal_owner[signo], 0);
    return rc;
}

void event_loop_remove_signal(event_loop *loop, int signo) {
    loop_signal *s = loop_find_signal(loop, signo);
    if (s == NULL)
        return;
    s->dead = 1;
    sigdelset(&loop->sigmask, signo);
    signalfd(loop->sigfd, &loop->sigmask, 0);
    sigaction(signo, &s->saved, NULL);
    atomic_store(&loop_signal_owner[signo], 0);
    /* Discard what is pending (for the process or this thread) before
     * unblocking, so that it does not reach the restored handler. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&one, NULL, &zero) == signo)
        ;
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

/* ---- children ---- */

/* Reaps c if it has exited: the entry dies, its pidfd closes, and its
 * callback runs.  Nothing happens while the child runs. */
static void loop_reap(event_loop *loop, int i) {
    loop_child *c = &loop->children[i];
    int status = 0;
    pid_t got = waitpid(c->pid, &status, WNOHANG);
    if (got == 0 || (got < 0 && errno == EINTR))
        return;
    if (got < 0)
        status = -1; /* reaped by someone else */
    c->dead = 1;
    if (c->fd >= 0) {
        event_loop_remove_fd(loop, c->fd);
        close(c->fd);
        c->fd = -1;
    }
    pid_t pid = c->pid;
    event_loop_child_cb cb = c->cb;
    void *arg = c->arg;
    cb(loop, pid, status, arg); /* may grow loop->children: c is not used after */
}

static void loop_on_pidfd(event_loop *loop, int fd, int revents, void *arg) {
    (void)revents;
    (void)arg;
    for (int i = 0; i < loop->nchildren; i++)
        if (!loop->children[i].dead && loop->children[i].fd == fd) {
            loop_reap(loop, i);
            return;
        }
}

/* SIGCHLD mode: checks every child that has no pidfd. */
static void loop_reap_sigchld_children(event_loop *loop) {
    loop->reap_due = 0;
    int n = loop->nchildren; /* children watched by a callback wait for the next turn */
    for (int i = 0; i < n; i++)
        if (!loop->children[i].dead && loop->children[i].fd < 0)
            loop_reap(loop, i);
}

static void loop_on_sigchld(event_loop *loop, int signo, void *arg) {
    (void)signo;
    (void)arg;
    loop_reap_sigchld_children(loop);
}

void event_loop_unwatch_child(event_loop *loop, pid_t pid) {
    for (int i = 0; i < loop->nchildren; i++) {
        loop_child *c = &loop->children[i];
        if (c->dead || c->pid != pid)
            continue;
        c->dead = 1;
        if (c->fd >= 0) {
            event_loop_remove_fd(loop, c->fd);
            close(c->fd);
            c->fd = -1;
        }
        return;
    }
}

void event_loop_force_sigchld(event_loop *loop) { loop->force_sigchld = 1; }

/* pidfd_open(2) through syscall(): older C libraries lack the wrapper.
 * -1 with errno ENOSYS where the kernel has none. */
static int loop_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int event_loop_watch_child(event_loop *loop, pid_t pid, event_loop_child_cb cb, void *arg) {
    if (pid <= 0 || cb == NULL)
        return EMBER_EINVAL;
    for (int i = 0; i < loop->nchildren; i++)
        if (!loop->children[i].dead && loop->children[i].pid == pid)
            return EMBER_EEXIST;
    siginfo_t si;
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return EMBER_ENOENT; /* not a child, or reaped already */
    int rc = loop_reserve((void **)&loop->children, &loop->children_cap, loop->nchildren,
                          sizeof(loop_child));
    if (rc != EMBER_OK)
        return rc;
    int fd = loop->force_sigchld ? -1 : loop_pidfd_open(pid);
    if (fd < 0 && !loop->force_sigchld && errno != ENOSYS)
        return EMBER_EIO;
    if (fd >= 0) {
        if ((rc = event_loop_add_fd(loop, fd, POLLIN, loop_on_pidfd, NULL)) != EMBER_OK) {
            close(fd);
            return rc;
        }
    } else {
        if (!loop->sigchld_taken) {
            rc = event_loop_add_signal(loop, SIGCHLD, loop_on_sigchld, NULL);
            if (rc != EMBER_OK)
                return rc;
            loop->sigchld_taken = 1;
        }
        loop->reap_due = 1;
    }
    loop->children[loop->nchildren++] =
        (loop_child){.pid = pid, .fd = fd, .cb = cb, .arg = arg};
    return EMBER_OK;
}

void event_loop_stop(event_loop *loop) { loop->stopping = 1; }

/* Drops the registrations marked dead during the turn. */
static void loop_sweep(event_loop *loop) {
    int j = 0;
    for (int i = 0; i < loop->nfds; i++)
        if (!loop->fds[i].dead)
            loop->fds[j++] = loop->fds[i];
    loop->nfds = j;
    j = 0;
    for (int i = 0; i < loop->ntimers; i++)
        if (!loop->timers[i].dead)
            loop->timers[j++] = loop->timers[i];
    loop->ntimers = j;
    j = 0;
    for (int i = 0; i < loop->nhooks; i++)
        if (!loop->hooks[i].dead)
            loop->hooks[j++] = loop->hooks[i];
    loop->nhooks = j;
    j = 0;
    for (int i = 0; i < loop->nsignals; i++)
        if (!loop->signals[i].dead)
            loop->signals[j++] = loop->signals[i];
    loop->nsignals = j;
    j = 0;
    for (int i = 0; i < loop->nchildren; i++)
        if (!loop->children[i].dead)
            loop->children[j++] = loop->children[i];
    loop->nchildren = j;
}

/* Runs the hooks and returns how long the next poll may sleep. */
static int loop_run_hooks(event_loop *loop, int max_wait_ms) {
    int wait = max_wait_ms;
    for (int i = 0; i < loop->nhooks; i++) {
        if (loop->hooks[i].dead)
            continue;
        int w = loop->hooks[i].cb(loop, loop->hooks[i].arg);
        if (w >= 0 && (wait < 0 || w < wait))
            wait = w;
    }
    return wait;
}

static void loop_run_timers(event_loop *loop) {
    int64_t now = clock_monotonic_ms();
    int n = loop->ntimers; /* timers added by a callback wait for the next turn */
    for (int i = 0; i < n; i++) {
        loop_timer *t = &loop->timers[i];
        if (t->dead || t->due_ms > now)
            continue;
        t->due_ms = now + t->interval_ms;
        event_loop_timer_cb cb = t->cb;
        void *arg = t->arg;
        cb(loop, arg); /* may realloc loop->timers: t is not used after */
    }
}

int event_loop_run_once(event_loop *loop, int max_wait_ms) {
    int wait = loop_run_hooks(loop, max_wait_ms);
    int64_t now = clock_monotonic_ms();
    for (int i = 0; i < loop->ntimers; i++) {
        if (loop->timers[i].dead)
            continue;
        int64_t left = loop->timers[i].due_ms - now;
        if (left < 0)
            left = 0;
        if (wait < 0 || left < wait)
            wait = (int)left;
    }
    if (loop->stopping || loop->reap_due)
        wait = 0;

    int n = loop->nfds;
    if (n > loop->pollfds_cap) {
        struct pollfd *p = realloc(loop->pollfds, (size_t)n * sizeof(*p));
        if (p == NULL)
            return EMBER_ENOMEM;
        loop->pollfds = p;
        uint64_t *s = realloc(loop->poll_serials, (size_t)n * sizeof(*s));
        if (s == NULL)
            return EMBER_ENOMEM;
        loop->poll_serials = s;
        loop->pollfds_cap = n;
    }
    for (int i = 0; i < n; i++) {
        loop->pollfds[i] = (struct pollfd){.fd = loop->fds[i].dead ? -1 : loop->fds[i].fd,
                                           .events = loop->fds[i].events};
        loop->poll_serials[i] = loop->fds[i].serial;
    }
    int ready = poll(loop->pollfds, (nfds_t)n, wait);
    if (ready < 0 && errno != EINTR)
        return EMBER_EIO;
    for (int i = 0; i < n && ready > 0; i++) {
        struct pollfd *p = &loop->pollfds[i];
        if (p->revents == 0 || p->fd < 0)
            continue;
        ready--;
        /* Find the registration again: an earlier callback may have
         * removed it, grown the array, or even closed the fd and registered
         * its number anew, which the serial tells apart. */
        loop_fd *f = loop_find_fd(loop, p->fd);
        if (f != NULL && f->serial == loop->poll_serials[i])
            f->cb(loop, p->fd, p->revents, f->arg);
    }
    if (loop->reap_due)
        loop_reap_sigchld_children(loop);
    loop_run_timers(loop);
    loop_sweep(loop);
    return EMBER_OK;
}

int event_loop_run(event_loop *loop) {
    loop->stopping = 0;
    while (!loop->stopping) {
        int rc = event_loop_run_once(loop, -1);
        if (rc != EMBER_OK)
            return rc;
    }
    return EMBER_OK;
}
