/* event_loop.h -- the one event loop of a rank (Redis's ae.c, reduced).
 *
 * A rank's modules register file descriptors, repeating timers and per-turn
 * hooks; event_loop_run() then polls until event_loop_stop().  Every
 * callback runs on the loop's thread, so module state needs no locks.
 * Hooks exist for work that has no file descriptor to wait on (MPI
 * completions): each hook says how long the loop may sleep before the next
 * turn.  Callbacks may add and remove registrations, their own included.
 *
 * Signals and child processes come through the loop too.  A signal taken
 * with event_loop_add_signal() is blocked on the loop's thread and read
 * from a signalfd; a process-wide handler forwards it to the loop's thread
 * when the kernel hands it to another thread (Open MPI's, a thread pool's)
 * that does not block it.  A child is watched through a pidfd
 * (pidfd_open(2), Linux 5.3) or, where there is none, through SIGCHLD and
 * waitpid(pid, WNOHANG) -- never waitpid(-1), so children of other code in
 * the process are left alone.  Blocking work goes to common/thread_pool.h,
 * whose completions come back through an fd of this loop. */
#ifndef EMBER_EVENT_LOOP_H
#define EMBER_EVENT_LOOP_H

#include <stdint.h>
#include <sys/types.h>

typedef struct event_loop event_loop;

/* revents is poll()'s: POLLIN, POLLOUT, POLLHUP, POLLERR. */
typedef void (*event_loop_fd_cb)(event_loop *loop, int fd, int revents, void *arg);
typedef void (*event_loop_timer_cb)(event_loop *loop, void *arg);
/* Runs once per turn; returns the longest the loop may sleep before the next
 * turn, in ms (0: run again at once; negative: no limit). */
typedef int (*event_loop_hook_cb)(event_loop *loop, void *arg);
typedef void (*event_loop_signal_cb)(event_loop *loop, int signo, void *arg);
/* status is waitpid()'s (WIFEXITED, WIFSIGNALED, ...), or -1 when the
 * child was reaped by someone else before the loop could. */
typedef void (*event_loop_child_cb)(event_loop *loop, pid_t pid, int status, void *arg);

/* Allocates a loop; free it with event_loop_destroy() (which accepts NULL
 * and closes no descriptor registered with event_loop_add_fd(): their
 * owners do).  Destroying gives the loop's signals back (their handlers
 * restored, unblocked) and stops watching children, unreaped. */
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
/* Removes the hook added with this cb and arg (the oldest, if added
 * twice); it does not run again, even later in the current turn.  Safe
 * from inside any hook, its own included.  Unknown pairs are ignored. */
void event_loop_remove_hook(event_loop *loop, event_loop_hook_cb cb, void *arg);

/* Takes signal signo: blocks it on the calling thread (which must be the
 * one that runs the loop), installs the forwarding handler, and calls cb
 * on the loop's thread once per delivery (signals of one number that
 * arrive together may be merged into one call, as the kernel merges
 * pending standard signals).  One taker per signal in the process:
 * EMBER_EEXIST otherwise; EMBER_EINVAL for SIGKILL, SIGSTOP or a number
 * out of range; EMBER_EIO when signalfd() fails.  Take only the signals
 * the rank handles: Open MPI keeps its own.  A child forked afterwards
 * inherits the blocked mask: it must unblock before exec. */
int event_loop_add_signal(event_loop *loop, int signo, event_loop_signal_cb cb, void *arg);
/* Gives signo back: the previous handler is restored, a delivery still
 * pending is discarded, and the signal is unblocked on the calling
 * thread.  No callback for it runs after this returns. */
void event_loop_remove_signal(event_loop *loop, int signo);

/* Calls cb once, on the loop's thread, when child pid (a child of this
 * process, not yet reaped) exits or is killed; the loop reaps it.
 * EMBER_ENOENT when pid is not an unreaped child of this process,
 * EMBER_EEXIST when it is watched already.  Without pidfds the loop takes
 * SIGCHLD (EMBER_EEXIST when someone else took it through the loop). */
int event_loop_watch_child(event_loop *loop, pid_t pid, event_loop_child_cb cb, void *arg);
/* Stops watching pid: its callback does not run, and the loop does not
 * reap it -- the caller does (a worker stopping kills and reaps its
 * containers itself).  A pid not watched is ignored. */
void event_loop_unwatch_child(event_loop *loop, pid_t pid);
/* Makes later event_loop_watch_child() calls use SIGCHLD even where
 * pidfd_open() works, so tests cover the older kernels' path. */
void event_loop_force_sigchld(event_loop *loop);

/* Makes event_loop_run() return after the current turn. */
void event_loop_stop(event_loop *loop);

/* Runs turns until event_loop_stop(); returns 0, or EMBER_EIO if poll()
 * fails for a reason other than EINTR. */
int event_loop_run(event_loop *loop);

/* Runs exactly one turn, sleeping at most max_wait_ms (tests use it). */
int event_loop_run_once(event_loop *loop, int max_wait_ms);

#endif
