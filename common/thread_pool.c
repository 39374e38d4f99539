/* thread_pool.c -- threads for blocking work (see thread_pool.h).
 *
 * Two FIFO lists under one mutex: `queued` (submitted, not started) and
 * `finished` (work_fn returned, done_fn not yet called).  A pool thread
 * takes the head of `queued`, runs it unlocked, appends it to `finished`
 * and adds 1 to the eventfd; the loop's callback reads the eventfd, takes
 * all of `finished` at once and calls the done_fns unlocked (a done_fn may
 * submit more).  Invariants: an item is on at most one list; `outstanding`
 * counts the items submitted whose done_fn has not run (queued + running +
 * finished); once `stopping` is set no item is added to `queued`. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "error.h"
#include "thread_pool.h"

#define THREAD_POOL_MAX_THREADS 64

typedef struct pool_item {
    thread_pool_work_fn work_fn;
    thread_pool_done_fn done_fn;
    void *arg;
    struct pool_item *next;
} pool_item;

typedef struct {
    pool_item *head, *tail;
} pool_list;

struct thread_pool {
    event_loop *loop;
    int efd;
    pthread_t *threads;
    int nthreads; /* started */
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* work queued, or stopping */
    pthread_cond_t parked; /* a thread started and waits for work */
    int nparked;           /* threads that got that far (create waits for all) */
    pool_list queued, finished;
    int stopping;
    size_t outstanding; /* loop thread only */
};

static void list_push(pool_list *l, pool_item *it) {
    it->next = NULL;
    if (l->tail != NULL)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
}

static pool_item *list_take_all(pool_list *l) {
    pool_item *all = l->head;
    l->head = l->tail = NULL;
    return all;
}

static void *pool_thread_main(void *arg) {
    thread_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    pool->nparked++;
    pthread_cond_signal(&pool->parked);
    for (;;) {
        while (pool->queued.head == NULL && !pool->stopping)
            pthread_cond_wait(&pool->wake, &pool->lock);
        pool_item *it = pool->queued.head;
        if (it == NULL)
            break; /* stopping, nothing left to start */
        pool->queued.head = it->next;
        if (pool->queued.head == NULL)
            pool->queued.tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        it->work_fn(it->arg);
        pthread_mutex_lock(&pool->lock);
        list_push(&pool->finished, it);
        uint64_t one = 1;
        ssize_t w = write(pool->efd, &one, sizeof one); /* EAGAIN only when the count is huge */
        (void)w;
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Calls the done_fns of a detached list, in list order, freeing items. */
static void pool_deliver(thread_pool *pool, pool_item *it, int ran) {
    while (it != NULL) {
        pool_item *next = it->next;
        pool->outstanding--;
        if (it->done_fn != NULL)
            it->done_fn(it->arg, ran);
        free(it);
        it = next;
    }
}

static void pool_on_eventfd(event_loop *loop, int fd, int revents, void *arg) {
    (void)loop;
    (void)revents;
    thread_pool *pool = arg;
    uint64_t count;
    while (read(fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&pool->lock);
    pool_item *done = list_take_all(&pool->finished);
    pthread_mutex_unlock(&pool->lock);
    pool_deliver(pool, done, 1);
}

int thread_pool_create(event_loop *loop, int nthreads, thread_pool **out) {
    if (loop == NULL || out == NULL || nthreads < 1 || nthreads > THREAD_POOL_MAX_THREADS)
        return EMBER_EINVAL;
    thread_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return EMBER_ENOMEM;
    pool->loop = loop;
    pool->efd = -1;
    int rc = EMBER_ENOMEM;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return EMBER_ENOMEM;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return EMBER_ENOMEM;
    }
    if (pthread_cond_init(&pool->parked, NULL) != 0) {
        pthread_cond_destroy(&pool->wake);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return EMBER_ENOMEM;
    }
    pool->threads = calloc((size_t)nthreads, sizeof *pool->threads);
    if (pool->threads == NULL)
        goto fail;
    rc = EMBER_EIO;
    pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->efd < 0)
        goto fail;
    if ((rc = event_loop_add_fd(loop, pool->efd, POLLIN, pool_on_eventfd, pool)) != EMBER_OK)
        goto fail;
    /* The threads start with every signal blocked (they inherit the mask). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&pool->threads[i], NULL, pool_thread_main, pool) != 0) {
            rc = EMBER_EIO;
            break;
        }
        pool->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pool->nthreads < nthreads)
        goto fail;
    /* Every thread past its start-up (the C library's and a sanitizer's
     * allocations among it) and waiting for work: a fork() from now on
     * cannot copy a thread that holds the allocator's locks. */
    pthread_mutex_lock(&pool->lock);
    while (pool->nparked < pool->nthreads)
        pthread_cond_wait(&pool->parked, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    *out = pool;
    return EMBER_OK;
fail:
    thread_pool_destroy(pool);
    return rc;
}

int thread_pool_submit(thread_pool *pool, thread_pool_work_fn work_fn, thread_pool_done_fn done_fn,
                       void *arg) {
    if (pool == NULL || work_fn == NULL)
        return EMBER_EINVAL;
    pool_item *it = malloc(sizeof *it);
    if (it == NULL)
        return EMBER_ENOMEM;
    *it = (pool_item){.work_fn = work_fn, .done_fn = done_fn, .arg = arg};
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        free(it);
        return EMBER_ESTATE;
    }
    list_push(&pool->queued, it);
    pool->outstanding++;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    return EMBER_OK;
}

size_t thread_pool_outstanding(const thread_pool *pool) {
    return pool != NULL ? pool->outstanding : 0;
}

void thread_pool_destroy(thread_pool *pool) {
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pool_item *cancelled = list_take_all(&pool->queued);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    if (pool->efd >= 0) {
        event_loop_remove_fd(pool->loop, pool->efd);
        close(pool->efd);
    }
    /* No thread is left: the lists are ours alone. */
    pool_deliver(pool, list_take_all(&pool->finished), 1);
    pool_deliver(pool, cancelled, 0);
    pthread_cond_destroy(&pool->parked);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}
