/* test_task_block.c -- the task's remote reader (mapreduce/task_block.c):
 * the dfs stream's ranges asked of the worker on the umbilical, one
 * read-ahead out.
 *
 * The worker is a fake one on a thread: it accepts the umbilical on a
 * unix socket of the test's, records each TaskBlockReadRequest and
 * answers it at once, as the test set it: the range widened to 512-byte
 * chunks from a block held in memory, in a memfd passed with the frame,
 * with the chunks' CRC32C; or an error code and message; or it hangs up.
 * The remote reader is called as the stream calls it (the dfs handle's
 * reader, set by task_block_init()).
 *
 * Covered: a read asks the worker for the block, gen stamp, token, range,
 * rank and timeout given, and returns the range (bytes, offset, CRCs)
 * mapped from the memfd; right after it the next range of the block is
 * asked (the read-ahead), which the next read of that offset takes
 * without asking again; none is asked past the block's end; a read of
 * another offset asks anew and drops the read-ahead's answer (its memfd
 * closed); an error answer is the read's code with the worker's message;
 * a worker that hangs up fails the read.  The bytes received are
 * counted; every range is released without a leak (ASan/LSan). */
/* clang-format off: cmocka needs these first, in this order */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/dfs_internal.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "mapreduce/task_block.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "test_util.h"

#define BLOCK_LEN (2 * 65536 + 1000)
#define WINDOW 65536
#define MAX_REQUESTS 32
#define WAIT_MS 5000

/* ---- the fake worker ------------------------------------------------------------------------ */

typedef struct {
    char dir[64], path[128];
    int listen_fd, fd;
    pthread_t thread;
    uint8_t block[BLOCK_LEN];
    int error_code;                               /* answer with this (0: with ranges) ... */
    char error_text[128];                         /* ... and this message */
    int hang_up;                                  /* close the umbilical at the first request */
    pthread_mutex_t lock;                         /* what follows */
    TaskBlockReadRequest *requests[MAX_REQUESTS]; /* copies, in order */
    int nrequests;
} fake_worker;

/* Sends frame msg on fd, with the descriptor passed (-1: none). */
static void worker_send(int fd, const TaskMessage *msg, int pass) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_task(msg, FRAME_MAX_DEFAULT, &buf, &len), 0);
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pass >= 0) {
        mh.msg_control = control.space;
        mh.msg_controllen = sizeof(control.space);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &pass, sizeof(int));
    }
    assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
    free(buf);
}

/* The answer to r: the range from the block, or the error set. */
static void worker_answer(fake_worker *w, const TaskBlockReadRequest *r) {
    TaskBlockReadResponse a = TASK_BLOCK_READ_RESPONSE__INIT;
    a.request_id = r->request_id;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    m.block_read_response = &a;
    if (w->error_code != 0) {
        a.code = w->error_code;
        a.message = w->error_text;
        worker_send(w->fd, &m, -1);
        return;
    }
    uint64_t start = r->read->offset / 512 * 512;
    uint64_t end = (r->read->offset + r->read->length + 511) / 512 * 512;
    if (end > BLOCK_LEN)
        end = BLOCK_LEN;
    size_t len = (size_t)(end - start), nc = (len + 511) / 512;
    uint32_t crcs[BLOCK_LEN / 512 + 1];
    for (size_t c = 0; c < nc; c++)
        crcs[c] = crc32c(0, w->block + start + c * 512, len - c * 512 < 512 ? len - c * 512 : 512);
    int memfd = memfd_create("test-range", MFD_CLOEXEC);
    assert_true(memfd >= 0);
    assert_int_equal(write(memfd, w->block + start, len), (ssize_t)len);
    a.offset = start;
    a.length = len;
    a.crcs = crcs;
    a.n_crcs = nc;
    worker_send(w->fd, &m, memfd);
    close(memfd);
}

/* Takes the task's frames and answers each request; ends when the task
 * closes its end (or the test shuts the socket). */
static void *worker_main(void *arg) {
    fake_worker *w = arg;
    w->fd = accept(w->listen_fd, NULL, NULL);
    if (w->fd < 0)
        return NULL;
    frame_reader *reader;
    assert_int_equal(frame_reader_create(&reader, FRAME_MAX_DEFAULT), 0);
    for (;;) {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0 || frame_reader_fill(reader, w->fd) <= 0)
            break;
        const uint8_t *payload;
        size_t len;
        while (frame_reader_next(reader, &payload, &len) == 1) {
            TaskMessage *m;
            assert_int_equal(message_decode_task(payload, len, &m), 0);
            assert_int_equal(m->body_case, TASK_MESSAGE__BODY_BLOCK_READ_REQUEST);
            if (w->hang_up) {
                task_message__free_unpacked(m, NULL);
                shutdown(w->fd, SHUT_RDWR);
                break;
            }
            worker_answer(w, m->block_read_request);
            pthread_mutex_lock(&w->lock);
            assert_true(w->nrequests < MAX_REQUESTS);
            w->requests[w->nrequests++] = m->block_read_request;
            pthread_mutex_unlock(&w->lock);
            m->block_read_request = NULL; /* kept */
            m->body_case = TASK_MESSAGE__BODY__NOT_SET;
            task_message__free_unpacked(m, NULL);
        }
    }
    frame_reader_destroy(reader);
    return NULL;
}

/* ---- fixture: the worker, the umbilical and the reader ----------------------------------- */

typedef struct {
    fake_worker w;
    umbilical *u;
    struct ember_dfs dfs; /* only its remote reader is used */
    task_block b;
    LocatedBlock lb;
    BlockToken token;
    uint8_t mac[32];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof(*f));
    fake_worker *w = &f->w;
    snprintf(w->dir, sizeof(w->dir), "/tmp/ember_test_task_block_XXXXXX");
    if (f == NULL || mkdtemp(w->dir) == NULL)
        return -1;
    for (size_t i = 0; i < BLOCK_LEN; i++)
        w->block[i] = (uint8_t)(i * 131 + i / 512);
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->path, sizeof(w->path), "%s/umbilical", w->dir);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", w->path);
    w->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    w->fd = -1;
    if (bind(w->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(w->listen_fd, 1) != 0)
        return -1;
    memset(f->mac, 0x33, sizeof(f->mac));
    f->token = (BlockToken)BLOCK_TOKEN__INIT;
    f->token.block_id = 40;
    f->token.gen_stamp = 1040;
    f->token.mac.data = f->mac;
    f->token.mac.len = sizeof(f->mac);
    f->lb = (LocatedBlock)LOCATED_BLOCK__INIT;
    f->lb.block_id = 40;
    f->lb.gen_stamp = 1040;
    f->lb.offset = 3 * BLOCK_LEN; /* the file's fourth block */
    f->lb.length = BLOCK_LEN;
    f->lb.token = &f->token;
    *state = f;
    return 0;
}

/* Starts the fake worker (as the test set it) and connects the reader. */
static void start(fixture *f) {
    assert_int_equal(pthread_create(&f->w.thread, NULL, worker_main, &f->w), 0);
    assert_int_equal(umbilical_connect(f->w.path, &f->u), 0);
    task_block_init(&f->b, f->u, &f->dfs);
    assert_non_null(f->dfs.remote.read);
}

static int teardown(void **state) {
    fixture *f = *state;
    umbilical_close(f->u); /* the worker's thread sees the end */
    if (f->u != NULL)
        pthread_join(f->w.thread, NULL);
    if (f->w.fd >= 0)
        close(f->w.fd);
    close(f->w.listen_fd);
    for (int i = 0; i < f->w.nrequests; i++)
        task_block_read_request__free_unpacked(f->w.requests[i], NULL);
    pthread_mutex_destroy(&f->w.lock);
    test_rm_tree(f->w.dir);
    free(f);
    return 0;
}

/* The reader's read of [offset, +len) on rank, as the stream calls it. */
static int reader_read(fixture *f, uint32_t rank, uint64_t offset, uint64_t len,
                       dfs_remote_range *out, char *why, size_t whylen) {
    return f->dfs.remote.read(f->dfs.remote.arg, &f->lb, rank, offset, len, 2000, out, why, whylen);
}

/* Waits until the worker has had n requests; returns the nth (1-based). */
static const TaskBlockReadRequest *request(fixture *f, int n) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&f->w.lock);
        const TaskBlockReadRequest *r = f->w.nrequests >= n ? f->w.requests[n - 1] : NULL;
        pthread_mutex_unlock(&f->w.lock);
        if (r != NULL)
            return r;
        if (clock_monotonic_ms() > end)
            fail_msg("the worker had no request %d", n);
        usleep(1000);
    }
}

/* A read of [offset, +WINDOW) on rank 2 that succeeds with the chunks
 * around it, checked against the block; released. */
static void read_ok(fixture *f, uint64_t offset) {
    dfs_remote_range rg;
    char why[256] = "";
    int rc = reader_read(f, 2, offset, WINDOW, &rg, why, sizeof(why));
    if (rc != 0)
        print_message("read of %llu: %s\n", (unsigned long long)offset, why);
    assert_int_equal(rc, 0);
    uint64_t start = offset / 512 * 512, end = (offset + WINDOW + 511) / 512 * 512;
    if (end > BLOCK_LEN)
        end = BLOCK_LEN;
    assert_int_equal(rg.offset, start);
    assert_int_equal(rg.len, end - start);
    assert_memory_equal(rg.data, f->w.block + start, rg.len);
    assert_int_equal(rg.ncrcs, (rg.len + 511) / 512);
    for (size_t c = 0; c < rg.ncrcs; c++) {
        size_t cl = rg.len - c * 512 < 512 ? rg.len - c * 512 : 512;
        assert_int_equal(rg.crcs[c], crc32c(0, rg.data + c * 512, cl));
    }
    assert_non_null(rg.release);
    rg.release(&rg);
    assert_null(rg.release);
}

/* Request n asked for [offset, +WINDOW) of the block on rank 2, with its
 * token and the stream's timeout. */
static void expect_request(fixture *f, int n, uint64_t offset) {
    const TaskBlockReadRequest *r = request(f, n);
    assert_int_equal(r->request_id, n);
    assert_int_equal(r->rank, 2);
    assert_int_equal(r->timeout_ms, 2000);
    assert_int_equal(r->read->block_id, 40);
    assert_int_equal(r->read->gen_stamp, 1040);
    assert_int_equal(r->read->offset, offset);
    assert_int_equal(r->read->length, WINDOW);
    assert_non_null(r->read->token);
    assert_int_equal(r->read->token->mac.len, 32);
    assert_memory_equal(r->read->token->mac.data, f->mac, 32);
}

/* A block read from start to end: each read takes the read-ahead the one
 * before asked for; none is asked past the block's end. */
static void test_sequential(void **state) {
    fixture *f = *state;
    start(f);
    read_ok(f, 0);
    expect_request(f, 1, 0);
    expect_request(f, 2, WINDOW); /* asked before the stream wants it */
    read_ok(f, WINDOW);
    expect_request(f, 3, 2 * WINDOW);
    read_ok(f, 2 * WINDOW); /* the last 1000 bytes: no read-ahead after */
    read_ok(f, 512);        /* not the read-ahead's offset: asked anew */
    expect_request(f, 4, 512);
    assert_int_equal(f->b.bytes, BLOCK_LEN + WINDOW);
}

/* Open descriptors of this process. */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* The stream goes elsewhere: a new request, whose answer comes after the
 * read-ahead's, which is dropped with its memfd. */
static void test_ahead_dropped(void **state) {
    fixture *f = *state;
    start(f);
    read_ok(f, 0);
    expect_request(f, 2, WINDOW); /* the read-ahead is out: its answer is on the way */
    int fds = open_fds();
    read_ok(f, 4096);
    expect_request(f, 3, 4096);
    expect_request(f, 4, 4096 + WINDOW); /* its own read-ahead */
    assert_int_equal(open_fds(), fds);   /* the dropped answer's memfd is closed */
}

/* An error answer: the read fails with its code and the worker's
 * message, and asks nothing more. */
static void test_error_answer(void **state) {
    fixture *f = *state;
    f->w.error_code = EMBER_ECORRUPT;
    snprintf(f->w.error_text, sizeof(f->w.error_text),
             "checksum error: replica of blk_40 on rank 2 is corrupt");
    start(f);
    dfs_remote_range rg = {0};
    char why[256] = "";
    assert_int_equal(reader_read(f, 2, 0, WINDOW, &rg, why, sizeof(why)), EMBER_ECORRUPT);
    assert_string_equal(why, "checksum error: replica of blk_40 on rank 2 is corrupt");
    assert_null(rg.release);
    f->w.error_code = EMBER_ENOENT;
    snprintf(f->w.error_text, sizeof(f->w.error_text), "no replica of blk_40 on rank 2");
    assert_int_equal(reader_read(f, 2, 0, WINDOW, &rg, why, sizeof(why)), EMBER_ENOENT);
    expect_request(f, 2, 0); /* no read-ahead after the first */
    assert_int_equal(f->b.bytes, 0);
}

/* The worker hangs up: the read fails, saying the worker did not answer. */
static void test_worker_gone(void **state) {
    fixture *f = *state;
    f->w.hang_up = 1;
    start(f);
    dfs_remote_range rg = {0};
    char why[256] = "";
    int rc = reader_read(f, 2, 0, WINDOW, &rg, why, sizeof(why));
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(why, "no answer from the worker"));
    assert_null(rg.release);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequential, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ahead_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
