/* event_loop.h -- the one event loop of a rank (Redis's ae.c, reduced).
 *
 * A rank's modules register file descriptors, repeating timers and per-turn
 * hooks; event_loop_run() then polls until event_loop_stop().  Every
 * callback runs on the loop's thread, so module state needs no locks.
 * Hooks exist for work that has no file descriptor to wait on (MPI
 * completions): each hook says how long the loop may sleep before the next
 * turn.  Callbacks may add and remove registrations, their own included. */
#ifndef EMBER_EVENT_LOOP_H
#define EMBER_EVENT_LOOP_H

#include <stdint.h>

typedef struct event_loop event_loop;

/* revents is poll()'s: POLLIN, POLLOUT, POLLHUP, POLLERR. */
typedef void (*event_loop_fd_cb)(event_loop *loop, int fd, int revents, void *arg);
typedef void (*event_loop_timer_cb)(event_loop *loop, void *arg);
/* Runs once per turn; returns the longest the loop may sleep before the next
 * turn, in ms (0: run again at once; negative: no limit). */
typedef int (*event_loop_hook_cb)(event_loop *loop, void *arg);

/* Allocates a loop; free it with event_loop_destroy() (which accepts NULL
 * and closes no descriptor: their owners do). */
int event_loop_create(event_loop **out);
void event_loop_destroy(event_loop *loop);

/* Watches fd for events (POLLIN and/or POLLOUT).  One registration per fd:
 * adding a watched fd again returns EMBER_EEXIST. */
int event_loop_add_fd(event_loop *loop, int fd, short events, event_loop_fd_cb cb, void *arg);
/* Changes the events watched on fd; EMBER_ENOENT when fd is not watched. */
int event_loop_set_fd_events(event_loop *loop, int fd, short events);
/* Stops watching fd; no callback for it runs after this returns. */
void event_loop_remove_fd(event_loop *loop, int fd);

/* Calls cb every interval_ms (first call interval_ms from now).  The timer's
 * id comes back in *id (may be NULL) for event_loop_remove_timer(). */
int event_loop_add_timer(event_loop *loop, int64_t interval_ms, event_loop_timer_cb cb, void *arg,
                         uint64_t *id);
void event_loop_remove_timer(event_loop *loop, uint64_t id);

int event_loop_add_hook(event_loop *loop, event_loop_hook_cb cb, void *arg);

/* Makes event_loop_run() return after the current turn. */
void event_loop_stop(event_loop *loop);

/* Runs turns until event_loop_stop(); returns 0, or EMBER_EIO if poll()
 * fails for a reason other than EINTR. */
int event_loop_run(event_loop *loop);

/* Runs exactly one turn, sleeping at most max_wait_ms (tests use it). */
int event_loop_run_once(event_loop *loop, int max_wait_ms);

#endif
