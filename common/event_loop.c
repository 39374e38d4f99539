/* event_loop.c -- poll()-based event loop (see event_loop.h).
 *
 * Registrations live in three small arrays.  Removal during a turn only
 * marks an entry dead; dead entries are swept at the end of the turn, so a
 * callback can remove anything (itself included) without the loop walking
 * freed memory.  A rank has a handful of descriptors and timers, so linear
 * scans beat anything cleverer. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

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
} loop_hook;

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
    *out = loop;
    return EMBER_OK;
}

void event_loop_destroy(event_loop *loop) {
    if (loop == NULL)
        return;
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
}

/* Runs the hooks and returns how long the next poll may sleep. */
static int loop_run_hooks(event_loop *loop, int max_wait_ms) {
    int wait = max_wait_ms;
    for (int i = 0; i < loop->nhooks; i++) {
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
    if (loop->stopping)
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
