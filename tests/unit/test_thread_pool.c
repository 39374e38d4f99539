/* test_thread_pool.c -- unit tests for common/thread_pool.c.
 *
 * Covers: every completion arrives, once, on the loop's thread (never on a
 * pool thread) and only while the loop runs; work runs on other threads,
 * several at once with several threads; a done callback may submit more;
 * destroy with work running and work queued: the running piece finishes
 * (ran = 1), the queued ones are cancelled (ran = 0) in order, nothing is
 * accepted after; pool threads block signals; argument errors.  Work that
 * must be held running waits on a gate the test opens, so no test depends
 * on timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "common/thread_pool.h"

/* A gate work can wait at until the test opens it. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;
static int gate_waiting; /* pieces of work waiting at the gate */

static void gate_reset(void) {
    pthread_mutex_lock(&gate_lock);
    gate_open = 0;
    gate_waiting = 0;
    pthread_mutex_unlock(&gate_lock);
}

static void gate_set_open(void) {
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* Waits (up to 5 s) until n pieces of work wait at the gate. */
static void gate_await_waiting(int n) {
    int64_t end = clock_monotonic_ms() + 5000;
    pthread_mutex_lock(&gate_lock);
    while (gate_waiting < n && clock_monotonic_ms() < end) {
        pthread_mutex_unlock(&gate_lock);
        usleep(1000);
        pthread_mutex_lock(&gate_lock);
    }
    int got = gate_waiting;
    pthread_mutex_unlock(&gate_lock);
    assert_int_equal(got, n);
}

struct job {
    int id;
    int gated;        /* wait at the gate */
    pid_t work_tid;   /* the thread work ran on */
    int work_blocked; /* SIGTERM was blocked on that thread */
    int done_calls;
    int ran;
    pid_t done_tid;
};

static int done_order[64];
static int ndone;
static thread_pool *resubmit_pool; /* the pool done_fn submits more work to */

static void job_work(void *arg) {
    struct job *j = arg;
    j->work_tid = (pid_t)syscall(SYS_gettid);
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    j->work_blocked = sigismember(&cur, SIGTERM);
    if (j->gated) {
        pthread_mutex_lock(&gate_lock);
        gate_waiting++;
        while (!gate_open)
            pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
    }
}

static void job_done(void *arg, int ran) {
    struct job *j = arg;
    j->done_calls++;
    j->ran = ran;
    j->done_tid = (pid_t)syscall(SYS_gettid);
    if (ndone < 64)
        done_order[ndone++] = j->id;
}

static void run_until_outstanding(event_loop *loop, thread_pool *pool, size_t want) {
    int64_t end = clock_monotonic_ms() + 5000;
    while (thread_pool_outstanding(pool) > want && clock_monotonic_ms() < end)
        assert_int_equal(event_loop_run_once(loop, 50), 0);
    assert_int_equal(thread_pool_outstanding(pool), want);
}

static void test_completions_on_loop_thread(void **state) {
    (void)state;
    event_loop *loop;
    thread_pool *pool;
    assert_int_equal(event_loop_create(&loop), 0);
    assert_int_equal(thread_pool_create(loop, 3, &pool), 0);
    gate_reset();
    ndone = 0;
    enum { N = 40 };
    struct job jobs[N];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        jobs[i].id = i;
        jobs[i].gated = i < 3; /* the first three hold all three threads */
        assert_int_equal(thread_pool_submit(pool, job_work, job_done, &jobs[i]), 0);
    }
    assert_int_equal(thread_pool_outstanding(pool), N);
    gate_await_waiting(3); /* three threads run work at once */
    assert_int_equal(event_loop_run_once(loop, 10), 0);
    assert_int_equal(ndone, 0); /* nothing finished: nothing delivered */
    gate_set_open();
    run_until_outstanding(loop, pool, 0);
    pid_t me = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].done_calls, 1);
        assert_int_equal(jobs[i].ran, 1);
        assert_int_equal(jobs[i].done_tid, me);
        assert_true(jobs[i].work_tid != me);
        assert_true(jobs[i].work_blocked);
    }
    assert_int_equal(ndone, N);
    thread_pool_destroy(pool);
    for (int i = 0; i < N; i++)
        assert_int_equal(jobs[i].done_calls, 1); /* destroy delivers nothing twice */
    event_loop_destroy(loop);
}

static void resubmitting_done(void *arg, int ran) {
    struct job *j = arg;
    job_done(arg, ran);
    if (j->id < 5) {
        j->id++;
        assert_int_equal(thread_pool_submit(resubmit_pool, job_work, resubmitting_done, j), 0);
    }
}

static void test_done_submits_more(void **state) {
    (void)state;
    event_loop *loop;
    assert_int_equal(event_loop_create(&loop), 0);
    assert_int_equal(thread_pool_create(loop, 1, &resubmit_pool), 0);
    ndone = 0;
    struct job j = {.id = 0};
    assert_int_equal(thread_pool_submit(resubmit_pool, job_work, resubmitting_done, &j), 0);
    run_until_outstanding(loop, resubmit_pool, 0);
    assert_int_equal(ndone, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(done_order[i], i);
    thread_pool_destroy(resubmit_pool);
    event_loop_destroy(loop);
}


static void *open_gate_later(void *arg) {
    (void)arg;
    usleep(20000); /* only so that destroy is likely waiting already */
    gate_set_open();
    return NULL;
}

static void test_destroy_with_queued_work(void **state) {
    (void)state;
    event_loop *loop;
    thread_pool *pool;
    assert_int_equal(event_loop_create(&loop), 0);
    assert_int_equal(thread_pool_create(loop, 1, &pool), 0);
    gate_reset();
    ndone = 0;
    struct job jobs[5];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 5; i++) {
        jobs[i].id = i;
        jobs[i].gated = i == 0;
        assert_int_equal(thread_pool_submit(pool, job_work, job_done, &jobs[i]), 0);
    }
    gate_await_waiting(1); /* job 0 runs; 1-4 are queued behind it */
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
    thread_pool_destroy(pool); /* waits for job 0 */
    assert_int_equal(pthread_join(opener, NULL), 0);
    pid_t me = (pid_t)syscall(SYS_gettid);
    assert_int_equal(ndone, 5);
    assert_int_equal(jobs[0].ran, 1);
    assert_true(jobs[0].work_tid != 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(done_order[i], i);
        assert_int_equal(jobs[i].done_calls, 1);
        assert_int_equal(jobs[i].done_tid, me);
        if (i > 0) {
            assert_int_equal(jobs[i].ran, 0);
            assert_int_equal(jobs[i].work_tid, 0); /* never ran */
        }
    }
    /* The loop no longer watches the pool's eventfd. */
    assert_int_equal(event_loop_run_once(loop, 0), 0);
    event_loop_destroy(loop);
}

static void test_errors(void **state) {
    (void)state;
    event_loop *loop;
    thread_pool *pool = NULL;
    assert_int_equal(event_loop_create(&loop), 0);
    assert_int_equal(thread_pool_create(loop, 0, &pool), EMBER_EINVAL);
    assert_int_equal(thread_pool_create(loop, 65, &pool), EMBER_EINVAL);
    assert_int_equal(thread_pool_create(NULL, 1, &pool), EMBER_EINVAL);
    assert_int_equal(thread_pool_create(loop, 2, &pool), 0);
    assert_int_equal(thread_pool_submit(pool, NULL, job_done, NULL), EMBER_EINVAL);
    struct job j = {0};
    assert_int_equal(thread_pool_submit(pool, job_work, NULL, &j), 0); /* no done_fn */
    run_until_outstanding(loop, pool, 0);
    assert_true(j.work_tid != 0);
    thread_pool_destroy(pool);
    thread_pool_destroy(NULL);
    assert_int_equal(thread_pool_outstanding(NULL), 0);
    event_loop_destroy(loop);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completions_on_loop_thread),
        cmocka_unit_test(test_done_submits_more),
        cmocka_unit_test(test_destroy_with_queued_work),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
