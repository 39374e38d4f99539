/* thread_pool.h -- a few threads for the blocking work of one event loop
 * (libuv's threadpool, reduced).
 *
 * The loop's thread submits work; a pool thread runs work_fn; done_fn then
 * runs on the loop's thread, delivered through an eventfd the loop
 * watches, so module state is still touched by one thread only.  work_fn
 * must not touch what the loop's thread may change meanwhile, and must
 * never call MPI (the ranks run MPI_THREAD_FUNNELED).  Pool threads block
 * every signal, so signals go to the loop (event_loop_add_signal). */
#ifndef EMBER_THREAD_POOL_H
#define EMBER_THREAD_POOL_H

#include <stddef.h>

#include "event_loop.h"

typedef struct thread_pool thread_pool;

typedef void (*thread_pool_work_fn)(void *arg);
/* ran is 1 when work_fn ran, 0 when the work was cancelled before it
 * started (thread_pool_destroy()).  Either way it is the last call for
 * this piece of work: done_fn frees what arg owns. */
typedef void (*thread_pool_done_fn)(void *arg, int ran);

/* Starts nthreads (1..64) threads and watches the pool's eventfd on loop;
 * returns once every thread waits for work (so a fork() after it never
 * copies a thread in the middle of its start-up, holding the allocator's
 * locks).  Call from the loop's thread; free with thread_pool_destroy().
 * EMBER_EINVAL, EMBER_ENOMEM, EMBER_EIO (eventfd or pthread_create). */
int thread_pool_create(event_loop *loop, int nthreads, thread_pool **out);

/* Queues work_fn(arg) (first in, first started); done_fn(arg, ran) follows
 * on the loop's thread.  done_fn may be NULL.  EMBER_ENOMEM, or
 * EMBER_ESTATE once destroy has begun (done_fn is then not called). */
int thread_pool_submit(thread_pool *pool, thread_pool_work_fn work_fn, thread_pool_done_fn done_fn,
                       void *arg);

/* Work submitted whose done_fn has not run yet. */
size_t thread_pool_outstanding(const thread_pool *pool);

/* Cancels the work not started, waits for the work running, joins the
 * threads, then calls done_fn on the calling thread: ran = 1 for all work
 * that finished (in order of completion), then ran = 0 for the cancelled
 * (in order of submission).  Accepts NULL. */
void thread_pool_destroy(thread_pool *pool);

#endif
