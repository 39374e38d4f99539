/* task_block.c -- see task_block.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "task_block.h"

/* What a range received keeps until the stream lets it go. */
typedef struct {
    void *map;
    size_t map_len;
    TaskMessage *msg; /* its crcs */
} task_block_range;

static void task_block_release(dfs_remote_range *r) {
    task_block_range *h = r->priv;
    if (h->map != NULL)
        munmap(h->map, h->map_len);
    task_message__free_unpacked(h->msg, NULL);
    free(h);
    r->release = NULL;
    r->priv = NULL;
}

/* Asks the worker for [offset, offset + len) of lb's replica on rank:
 * the request's id, or 0 when it could not be sent. */
static uint64_t task_block_ask(task_block *b, const LocatedBlock *lb, uint32_t rank,
                               uint64_t offset, uint64_t len, int64_t timeout_ms) {
    ReadBlockRequest rr = READ_BLOCK_REQUEST__INIT;
    rr.block_id = lb->block_id;
    rr.gen_stamp = lb->gen_stamp;
    rr.token = lb->token;
    rr.offset = offset;
    rr.length = len;
    TaskBlockReadRequest req = TASK_BLOCK_READ_REQUEST__INIT;
    req.request_id = ++b->next_id;
    req.rank = rank;
    req.read = &rr;
    req.timeout_ms = timeout_ms > 0 && timeout_ms < UINT32_MAX ? (uint32_t)timeout_ms : 0;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_BLOCK_READ_REQUEST;
    m.block_read_request = &req;
    return umbilical_send(b->u, &m) == EMBER_OK ? req.request_id : 0;
}

/* Waits for the answer to request id (others, and anything else the
 * worker sends meanwhile, are dropped): 0 with *out and *fd (code 0), or
 * the answer's code or the wait's error, with why. */
static int task_block_await(task_block *b, uint64_t id, int64_t timeout_ms, TaskMessage **out,
                            int *fd, char *why, size_t whylen) {
    for (;;) {
        int got = umbilical_receive(b->u, timeout_ms, out, fd);
        if (got <= 0) {
            snprintf(why, whylen, "no answer from the worker: %s",
                     got == 0 ? "timed out" : ember_strerror(got));
            return got == 0 ? EMBER_ETIMEDOUT : got;
        }
        const TaskBlockReadResponse *r = (*out)->block_read_response;
        if ((*out)->body_case == TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE && r->request_id == id) {
            if (r->code == 0 && *fd >= 0)
                return EMBER_OK;
            snprintf(why, whylen, "%s", r->message[0] != '\0' ? r->message : "no range came");
            int code = r->code != 0 ? r->code : EMBER_EPROTO;
            if (*fd >= 0)
                close(*fd);
            task_message__free_unpacked(*out, NULL);
            *out = NULL;
            return code;
        }
        if (*fd >= 0)
            close(*fd);
        task_message__free_unpacked(*out, NULL);
        *out = NULL;
    }
}

/* Maps the answer's memfd into *out. */
static int task_block_map(TaskMessage *msg, int fd, dfs_remote_range *out, char *why,
                          size_t whylen) {
    const TaskBlockReadResponse *r = msg->block_read_response;
    task_block_range *h = calloc(1, sizeof(*h));
    if (h == NULL || r->length == 0 || r->length > SIZE_MAX) {
        snprintf(why, whylen, h == NULL ? "out of memory" : "the worker sent an empty range");
        free(h);
        close(fd);
        task_message__free_unpacked(msg, NULL);
        return h == NULL ? EMBER_ENOMEM : EMBER_EPROTO;
    }
    h->map_len = (size_t)r->length;
    h->map = mmap(NULL, h->map_len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    h->msg = msg;
    if (h->map == MAP_FAILED) {
        h->map = NULL;
        snprintf(why, whylen, "cannot map the range the worker sent");
        dfs_remote_range tmp = {.priv = h};
        task_block_release(&tmp);
        return EMBER_EIO;
    }
    *out = (dfs_remote_range){.data = h->map,
                              .offset = r->offset,
                              .len = h->map_len,
                              .crcs = r->crcs,
                              .ncrcs = r->n_crcs,
                              .release = task_block_release,
                              .priv = h};
    return EMBER_OK;
}

/* The remote reader (dfs_remote.h): the read-ahead when it is the range
 * asked for, else a request of its own; then the next range asked for. */
static int task_block_read(void *arg, const LocatedBlock *lb, uint32_t rank, uint64_t offset,
                           uint64_t len, int64_t timeout_ms, dfs_remote_range *out, char *why,
                           size_t whylen) {
    task_block *b = arg;
    uint64_t id = b->ahead_id;
    if (id == 0 || b->ahead_block != lb->block_id || b->ahead_rank != rank ||
        b->ahead_offset != offset)
        id = task_block_ask(b, lb, rank, offset, len, timeout_ms); /* an answer to the read-ahead
                                                                    * is dropped when it comes */
    b->ahead_id = 0;
    if (id == 0) {
        snprintf(why, whylen, "cannot ask the worker: the umbilical failed");
        return EMBER_EIO;
    }
    TaskMessage *msg;
    int fd;
    /* The worker gives up on the rank after timeout_ms; a little more for
     * its answer to come. */
    int rc = task_block_await(b, id, timeout_ms + 5000, &msg, &fd, why, whylen);
    if (rc == EMBER_OK)
        rc = task_block_map(msg, fd, out, why, whylen);
    if (rc != EMBER_OK)
        return rc;
    b->bytes += out->len;
    uint64_t next = out->offset + out->len;
    if (next < lb->length) {
        b->ahead_id = task_block_ask(b, lb, rank, next, len, timeout_ms);
        b->ahead_block = lb->block_id;
        b->ahead_rank = rank;
        b->ahead_offset = next;
    }
    return EMBER_OK;
}

void task_block_init(task_block *b, umbilical *u, ember_dfs *dfs) {
    memset(b, 0, sizeof(*b));
    b->u = u;
    dfs_remote_reader r = {.read = task_block_read, .arg = b};
    dfs_set_remote_reader(dfs, &r);
}
