/* worker_mr_shuffle.c -- the shuffle between workers: serving map
 * outputs (Hadoop's ShuffleHandler) and fetching them for this worker's
 * reduces (Hadoop's Fetcher), over MPI with the segment as a bulk
 * payload: no encoding of the data, no copy on either worker.
 *
 * Serving.  A ShuffleRequest names a job, a map attempt and a partition.
 * Only the output of a map that succeeded here is served (else
 * EMBER_ENOENT).  A pool thread reads its file.out.index (mapreduce/
 * ifile.h's format: per partition {offset, length, records} as
 * little-endian u64, then their CRC32C), checks it, and maps the
 * segment's pages of file.out; the loop sends ShuffleResponse{code 0,
 * raw_length} with the mapping as the payload (mpi_link_send_bulk()) and
 * unmaps it when the transfer ends.  A link full for that rank
 * (EMBER_EAGAIN) holds the send until worker_mr_on_writable().
 *   serve states: READING (pool) -> WAITING (link full) -> SENDING
 *   (bulk in flight) -> freed; READING -> freed with an error answer.
 *
 * Fetching.  A task's TaskFetchRequest becomes a fetch: QUEUED until
 * fewer than WORKER_MR_FETCHES_MAX fetches are in flight and fewer than
 * WORKER_MR_FETCH_BYTES_MAX bytes are held (one always moves), ASKED
 * once its ShuffleRequest is sent (a deadline for the answer: the job's
 * mapreduce.reduce.shuffle.read.timeout, else 180 s), RECEIVING while the payload comes into a memfd (mapped,
 * sized to the payload), DELIVERING while the task's socket cannot yet
 * take the descriptor; the memfd goes to the task with TaskFetchResponse
 * (SCM_RIGHTS) and the fetch is freed.  Any failure -- an error code, a
 * rank that cannot be reached, no answer by the deadline, a transfer
 * that breaks -- answers the task with the code and sends rank 0 a
 * FetchFailure.  A fetch not yet receiving whose map output rank 0
 * declares obsolete (its node lost: it may never answer) is answered
 * EMBER_ENOENT at once, without a FetchFailure, so the task asks for the
 * map's next attempt instead of waiting for the deadline; so is one
 * asked after that declaration.  A fetch whose task went away is dropped (a payload
 * being received first lands, then is thrown away).
 *
 * Block reads.  A task's read of a replica its host cannot serve
 * (TaskBlockReadRequest: what is remote goes through the worker) is a
 * fetch too, with the same states, bounds and deadline (the task's, its
 * dfs socket timeout): a BlockReadRequest carrying the task's
 * ReadBlockRequest and token goes to the rank holding the replica
 * (datanode/block_serve.c), whose answer brings the range widened to
 * whole chunks as its payload and their stored CRCs; the memfd goes to
 * the task with TaskBlockReadResponse{offset, length, crcs}, which checks
 * them again.  A failed read is only the task's to handle (it goes to
 * another replica): no FetchFailure. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "mapreduce/ifile_index.h"
#include "common/log.h"
#include "worker_mr_internal.h"


typedef enum { SERVE_READING, SERVE_WAITING, SERVE_SENDING } mr_serve_state;

struct mr_serve {
    mr_serve *next;
    worker_mr *m;
    mr_serve_state state;
    int dest;
    uint64_t request_id;
    uint32_t partition;
    char dir[WORKER_MR_PATH_MAX]; /* the map attempt's output directory */
    int code;                     /* the pool's verdict */
    char message[256];
    void *map;
    size_t map_len;
    const uint8_t *data; /* the segment, inside map */
    uint64_t length;
};

typedef enum { FETCH_QUEUED, FETCH_ASKED, FETCH_RECEIVING, FETCH_DELIVERING } mr_fetch_state;

struct mr_fetch {
    mr_fetch *next;
    worker_mr *m;
    mr_fetch_state state;
    int block;  /* a task's block read (the BlockRead fields), else a map output */
    uint64_t id; /* ours, in the ShuffleRequest */
    uint64_t task_request_id;
    uint64_t conn;
    char reduce_attempt[WORKER_MR_ID_MAX];
    char job_id[WORKER_MR_ID_MAX];
    char map_attempt[WORKER_MR_ID_MAX];
    uint32_t map_index, partition;
    int peer;
    int64_t deadline_ms;
    int memfd;
    void *map;
    uint64_t length;
    int orphan;         /* its task is gone */
    int64_t timeout_ms; /* the answer's deadline after asking: the job's or the task's */
    /* a block read: what the task asked, and the answer's chunks */
    ReadBlockRequest read;
    BlockToken token;
    uint8_t mac[64];
    uint64_t read_offset;
    uint32_t *crcs;
    size_t ncrcs;
};

/* ---- serving ------------------------------------------------------------------------ */

static void shuffle_unlink_serve(worker_mr *m, mr_serve *s) {
    for (mr_serve **p = &m->serves; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            return;
        }
    }
}

static void shuffle_free_serve(worker_mr *m, mr_serve *s, int unmap) {
    shuffle_unlink_serve(m, s);
    if (unmap && s->map != NULL)
        munmap(s->map, s->map_len);
    free(s);
}

/* Maps the pages of dir/file.out that hold [offset, offset + length). */
static int shuffle_map_segment(mr_serve *s, uint64_t offset, uint64_t length) {
    char path[WORKER_MR_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/file.out", s->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(s->message, sizeof(s->message), "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EMBER_EIO;
    }
    int rc = EMBER_OK;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = offset & ~(page - 1);
    if (length == 0 || offset + length < offset || offset + length > (uint64_t)st.st_size) {
        snprintf(s->message, sizeof(s->message), "%s is shorter than its index says", path);
        rc = EMBER_ECORRUPT;
    } else {
        s->map_len = (size_t)(offset - start + length);
        s->map = mmap(NULL, s->map_len, PROT_READ, MAP_SHARED, fd, (off_t)start);
        if (s->map == MAP_FAILED) {
            s->map = NULL;
            snprintf(s->message, sizeof(s->message), "cannot map %s: %s", path, strerror(errno));
            rc = EMBER_EIO;
        } else {
            s->data = (const uint8_t *)s->map + (offset - start);
            s->length = length;
        }
    }
    close(fd);
    return rc;
}

/* On a pool thread: the segment's place from the index, then its pages. */
static void shuffle_serve_work(void *arg) {
    mr_serve *s = arg;
    char path[WORKER_MR_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/file.out.index", s->dir);
    ifile_range r;
    uint32_t n = 0;
    s->code = ifile_index_lookup(path, s->partition, &r, &n);
    if (s->code == EMBER_OK)
        s->code = shuffle_map_segment(s, r.offset, r.length);
    else if (s->code == EMBER_EINVAL)
        snprintf(s->message, sizeof(s->message), "partition %u of a map output with %u",
                 s->partition, n);
    else if (s->code == EMBER_ENOENT)
        snprintf(s->message, sizeof(s->message), "no map output here: %s", path);
    else
        snprintf(s->message, sizeof(s->message), "%s is not a map output index (%s)", path,
                 ember_strerror(s->code));
}

/* An answer with no payload (an error). */
static void shuffle_answer(worker_mr *m, int dest, uint64_t request_id, int code,
                           const char *message) {
    ShuffleResponse r = SHUFFLE_RESPONSE__INIT;
    r.request_id = request_id;
    r.code = code;
    r.message = (char *)message;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUFFLE_RESPONSE;
    msg.shuffle_response = &r;
    worker_mr_send_rank(m, dest, &msg);
}

static void shuffle_on_sent(mpi_link *link, int peer, int status, void *buf, void *arg) {
    mr_serve *s = arg;
    (void)link;
    if (status != EMBER_OK)
        LOG_WARN("worker: shuffle: the segment for rank %d did not go: %s", peer,
                 ember_strerror(status));
    /* buf NULL: MPI never let go of a cancelled chunk; the pages stay mapped. */
    shuffle_free_serve(s->m, s, buf != NULL);
}

/* Sends s's segment; the link full for its rank leaves it WAITING. */
static void shuffle_send(worker_mr *m, mr_serve *s) {
    ShuffleResponse r = SHUFFLE_RESPONSE__INIT;
    r.request_id = s->request_id;
    r.raw_length = s->length;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUFFLE_RESPONSE;
    msg.shuffle_response = &r;
    int rc = m->send_bulk(m->send_arg, s->dest, &msg, s->data, s->length, shuffle_on_sent, s);
    if (rc == EMBER_OK) {
        s->state = SERVE_SENDING;
    } else if (rc == EMBER_EAGAIN) {
        s->state = SERVE_WAITING;
    } else {
        LOG_WARN("worker: shuffle: cannot send a segment to rank %d: %s", s->dest,
                 ember_strerror(rc));
        shuffle_free_serve(m, s, 1);
    }
}

static void shuffle_serve_done(void *arg, int ran) {
    mr_serve *s = arg;
    worker_mr *m = s->m;
    if (m->stopping || !ran) {
        shuffle_free_serve(m, s, 1);
        return;
    }
    if (s->code != EMBER_OK) {
        LOG_WARN("worker: shuffle: %s", s->message);
        shuffle_answer(m, s->dest, s->request_id, s->code, s->message);
        shuffle_free_serve(m, s, 1);
        return;
    }
    shuffle_send(m, s);
}

void worker_mr_handle_shuffle_request(worker_mr *m, int source, const ShuffleRequest *req) {
    mr_job *j = worker_mr_job_find(m, req->job_id);
    mr_output *o = j != NULL ? worker_mr_output_find(j, req->map_attempt_id) : NULL;
    if (o == NULL || !o->served) {
        char why[600];
        snprintf(why, sizeof(why), "no map output of %s on rank %d", req->map_attempt_id, m->rank);
        shuffle_answer(m, source, req->request_id, EMBER_ENOENT, why);
        return;
    }
    mr_serve *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        shuffle_answer(m, source, req->request_id, EMBER_ENOMEM, "out of memory");
        return;
    }
    s->m = m;
    s->dest = source;
    s->request_id = req->request_id;
    s->partition = req->partition;
    worker_mr_output_dir(m, j->id, o->attempt_id, s->dir, sizeof(s->dir));
    s->state = SERVE_READING;
    s->next = m->serves;
    m->serves = s;
    if (thread_pool_submit(m->pool, shuffle_serve_work, shuffle_serve_done, s) != EMBER_OK) {
        shuffle_answer(m, source, req->request_id, EMBER_ENOMEM, "cannot queue the read");
        shuffle_free_serve(m, s, 0);
    }
}

void worker_mr_shuffle_writable(worker_mr *m, int dest) {
    mr_serve *s = m->serves;
    while (s != NULL) {
        mr_serve *next = s->next; /* s may be freed */
        if (s->state == SERVE_WAITING && s->dest == dest) {
            shuffle_send(m, s);
            if (s->state == SERVE_WAITING)
                break; /* full again: the next writable call */
        }
        s = next;
    }
}

/* ---- fetching ---------------------------------------------------------------------- */

static void shuffle_unlink_fetch(worker_mr *m, mr_fetch *f) {
    for (mr_fetch **p = &m->fetches; *p != NULL; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            return;
        }
    }
}

static void shuffle_free_fetch(worker_mr *m, mr_fetch *f) {
    shuffle_unlink_fetch(m, f);
    if (f->map != NULL && f->state != FETCH_RECEIVING)
        munmap(f->map, f->length);
    if (f->memfd >= 0)
        close(f->memfd);
    free(f->crcs);
    free(f);
}

static void shuffle_pump(worker_mr *m);

/* A block read's answer to the task: the memfd (fd >= 0) or the error. */
static int shuffle_block_answer(worker_mr *m, mr_fetch *f, int code, const char *why, int fd) {
    TaskBlockReadResponse r = TASK_BLOCK_READ_RESPONSE__INIT;
    r.request_id = f->task_request_id;
    r.code = code <= 0 ? code : EMBER_EIO;
    r.message = (char *)why;
    if (fd >= 0) {
        r.offset = f->read_offset;
        r.length = f->length;
        r.crcs = f->crcs;
        r.n_crcs = f->ncrcs;
    }
    TaskMessage tm = TASK_MESSAGE__INIT;
    tm.body_case = TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    tm.block_read_response = &r;
    return worker_mr_task_send(m, f->conn, &tm, fd);
}

/* The task hears that its fetch failed, with the code. */
static void shuffle_fetch_answer_error(worker_mr *m, mr_fetch *f, int code, const char *why) {
    if (f->block) {
        shuffle_block_answer(m, f, code, why, -1);
        return;
    }
    TaskFetchResponse r = TASK_FETCH_RESPONSE__INIT;
    r.request_id = f->task_request_id;
    r.code = code < 0 ? code : EMBER_EIO;
    r.message = (char *)why;
    TaskMessage tm = TASK_MESSAGE__INIT;
    tm.body_case = TASK_MESSAGE__BODY_FETCH_RESPONSE;
    tm.fetch_response = &r;
    worker_mr_task_send(m, f->conn, &tm, -1);
}

/* The fetch failed: the task hears the code, rank 0 a FetchFailure. */
static void shuffle_fetch_fail(worker_mr *m, mr_fetch *f, int code, const char *why) {
    if (f->block) { /* the task's reader goes to another replica */
        LOG_INFO("worker: read of blk_%" PRIu64 " for %s from rank %d failed: %s",
                 f->read.block_id, f->reduce_attempt, f->peer, why);
        if (!f->orphan)
            shuffle_fetch_answer_error(m, f, code, why);
        shuffle_free_fetch(m, f);
        return;
    }
    LOG_WARN("worker: fetch of %s for %s from rank %d failed: %s", f->map_attempt,
             f->reduce_attempt, f->peer, why);
    if (!f->orphan) {
        shuffle_fetch_answer_error(m, f, code, why);
        FetchFailure ff = FETCH_FAILURE__INIT;
        ff.reduce_attempt_id = f->reduce_attempt;
        ff.map_attempt_id = f->map_attempt;
        ff.map_index = f->map_index;
        ff.reason = (char *)why;
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_FETCH_FAILURE;
        msg.fetch_failure = &ff;
        worker_mr_send_rank(m, m->primary_rank, &msg);
    }
    shuffle_free_fetch(m, f);
}

/* Hands the memfd to the task; DELIVERING while its socket cannot take
 * the descriptor yet.  Returns 1 when f is gone. */
static int shuffle_deliver(worker_mr *m, mr_fetch *f) {
    TaskFetchResponse r = TASK_FETCH_RESPONSE__INIT;
    r.request_id = f->task_request_id;
    r.length = f->length;
    TaskMessage tm = TASK_MESSAGE__INIT;
    tm.body_case = TASK_MESSAGE__BODY_FETCH_RESPONSE;
    tm.fetch_response = &r;
    int rc = f->block ? shuffle_block_answer(m, f, EMBER_OK, NULL, f->memfd)
                      : worker_mr_task_send(m, f->conn, &tm, f->memfd);
    if (rc == EMBER_EAGAIN) {
        f->state = FETCH_DELIVERING;
        frame_server_want_writable(m->srv, f->conn, 1);
        return 0;
    }
    if (rc != EMBER_OK)
        LOG_WARN("worker: cannot hand a fetched segment to %s: %s", f->reduce_attempt,
                 ember_strerror(rc));
    shuffle_free_fetch(m, f);
    return 1;
}

static void shuffle_on_received(mpi_link *link, int peer, int status, void *buf, void *arg) {
    mr_fetch *f = arg;
    worker_mr *m = f->m;
    (void)link;
    if (buf != NULL)
        munmap(f->map, f->length); /* the memfd keeps the bytes */
    f->map = NULL;                 /* NULL buf: MPI keeps the pages; so do we */
    f->state = FETCH_DELIVERING;
    if (f->orphan) {
        shuffle_free_fetch(m, f);
    } else if (status != EMBER_OK) {
        char why[128];
        snprintf(why, sizeof(why), "the transfer from rank %d broke: %s", peer,
                 ember_strerror(status));
        shuffle_fetch_fail(m, f, status, why);
    } else {
        shuffle_deliver(m, f);
    }
    shuffle_pump(m);
}

/* Receives the payload of msg (f's answer) into a new memfd. */
static int shuffle_receive(worker_mr *m, mr_fetch *f, int source, const RankMessage *msg) {
    f->length = msg->bulk_length;
    f->memfd = memfd_create("ember-shuffle", MFD_CLOEXEC);
    if (f->memfd < 0 || ftruncate(f->memfd, (off_t)f->length) != 0)
        return EMBER_EIO;
    f->map = mmap(NULL, f->length, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return EMBER_ENOMEM;
    }
    int rc = m->recv_bulk(m->send_arg, source, msg, f->map, shuffle_on_received, f);
    if (rc == EMBER_OK)
        f->state = FETCH_RECEIVING;
    return rc;
}

void worker_mr_handle_shuffle_response(worker_mr *m, int source, const RankMessage *msg) {
    const ShuffleResponse *r = msg->shuffle_response;
    mr_fetch *f = m->fetches;
    while (f != NULL && !(f->id == r->request_id && f->state == FETCH_ASKED &&
                          f->peer == source && !f->block))
        f = f->next;
    if (f == NULL) {
        LOG_INFO("worker: shuffle answer %llu from rank %d for no fetch waiting (too late?)",
                 (unsigned long long)r->request_id, source);
        return; /* the link drains a payload nobody claims */
    }
    char why[600];
    if (r->code != EMBER_OK) {
        snprintf(why, sizeof(why), "rank %d: %s", source,
                 r->message[0] != '\0' ? r->message : ember_strerror(r->code));
        shuffle_fetch_fail(m, f, r->code, why);
    } else if (msg->bulk_length == 0) {
        snprintf(why, sizeof(why), "rank %d answered without the segment", source);
        shuffle_fetch_fail(m, f, EMBER_EPROTO, why);
    } else {
        int rc = shuffle_receive(m, f, source, msg);
        if (rc != EMBER_OK) {
            snprintf(why, sizeof(why), "cannot receive %llu bytes from rank %d: %s",
                     (unsigned long long)msg->bulk_length, source, ember_strerror(rc));
            shuffle_fetch_fail(m, f, rc, why);
        }
    }
    shuffle_pump(m);
}

/* Sends f's ShuffleRequest (or BlockReadRequest). */
static void shuffle_ask(worker_mr *m, mr_fetch *f) {
    ShuffleRequest req = SHUFFLE_REQUEST__INIT;
    req.request_id = f->id;
    req.job_id = f->job_id;
    req.map_attempt_id = f->map_attempt;
    req.partition = f->partition;
    BlockReadRequest breq = BLOCK_READ_REQUEST__INIT;
    breq.request_id = f->id;
    breq.read = &f->read;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUFFLE_REQUEST;
    msg.shuffle_request = &req;
    if (f->block) {
        msg.body_case = RANK_MESSAGE__BODY_BLOCK_READ_REQUEST;
        msg.block_read_request = &breq;
    }
    f->state = FETCH_ASKED;
    f->deadline_ms = clock_monotonic_ms() + f->timeout_ms;
    int rc = m->send(m->send_arg, f->peer, &msg);
    if (rc != EMBER_OK) {
        char why[128];
        snprintf(why, sizeof(why), "cannot reach rank %d: %s", f->peer, ember_strerror(rc));
        shuffle_fetch_fail(m, f, rc, why);
    }
}

/* Starts queued fetches while the bounds allow. */
static void shuffle_pump(worker_mr *m) {
    for (;;) {
        size_t busy = 0;
        uint64_t bytes = 0;
        mr_fetch *first = NULL;
        for (mr_fetch *f = m->fetches; f != NULL; f = f->next) {
            if (f->state == FETCH_QUEUED)
                first = f; /* the list is newest first: the last one is the oldest */
            else
                busy++;
            bytes += f->state == FETCH_QUEUED ? 0 : f->length;
        }
        if (first == NULL || busy >= WORKER_MR_FETCHES_MAX ||
            (busy > 0 && bytes >= WORKER_MR_FETCH_BYTES_MAX))
            return;
        shuffle_ask(m, first);
    }
}

/* How long a reduce's fetch waits for its answer: the job's
 * mapreduce.reduce.shuffle.read.timeout (ms, Hadoop's key), else the
 * worker's default. */
static int64_t shuffle_fetch_timeout(const worker_mr *m, const mr_attempt *a) {
    const JobDescription *job = a->assignment != NULL ? a->assignment->job : NULL;
    for (size_t i = 0; job != NULL && i < job->n_conf; i++) {
        if (strcmp(job->conf[i]->key, "mapreduce.reduce.shuffle.read.timeout") != 0)
            continue;
        char *end;
        long long v = strtoll(job->conf[i]->value, &end, 10);
        if (end != job->conf[i]->value && *end == '\0' && v > 0)
            return v;
    }
    return m->fetch_timeout_ms;
}

void worker_mr_fetch_start(worker_mr *m, mr_attempt *a, const TaskFetchRequest *req) {
    mr_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        LOG_ERROR("worker: out of memory for a fetch of %s", a->id);
        return;
    }
    f->m = m;
    f->id = m->next_fetch_id++;
    f->task_request_id = req->request_id;
    f->conn = a->conn;
    f->memfd = -1;
    f->peer = (int)req->rank;
    f->map_index = req->map_index;
    f->timeout_ms = shuffle_fetch_timeout(m, a);
    f->partition = a->assignment->task_index;
    snprintf(f->reduce_attempt, sizeof(f->reduce_attempt), "%s", a->id);
    snprintf(f->job_id, sizeof(f->job_id), "%s", a->job_id);
    snprintf(f->map_attempt, sizeof(f->map_attempt), "%s", req->map_attempt_id);
    f->state = FETCH_QUEUED;
    f->next = m->fetches;
    m->fetches = f;
    if (a->kind != TASK_KIND__TASK_KIND_REDUCE || req->rank > (uint32_t)INT32_MAX) {
        shuffle_fetch_fail(m, f, EMBER_EINVAL,
                           a->kind != TASK_KIND__TASK_KIND_REDUCE ? "only a reduce fetches"
                                                                  : "no such rank");
        return;
    }
    /* An output declared obsolete before the request came (the task had
     * not heard yet) is answered as those waiting then were. */
    const mr_job *j = worker_mr_job_find(m, f->job_id);
    for (size_t i = 0; j != NULL && i < j->n_events; i++)
        if (j->events[i].obsolete && strcmp(j->events[i].attempt_id, f->map_attempt) == 0) {
            worker_mr_fetch_obsolete(m, f->job_id, f->map_attempt);
            return;
        }
    shuffle_pump(m);
}

void worker_mr_block_read_start(worker_mr *m, mr_attempt *a, const TaskBlockReadRequest *req) {
    mr_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        LOG_ERROR("worker: out of memory for a block read of %s", a->id);
        return;
    }
    const ReadBlockRequest *rr = req->read;
    f->m = m;
    f->block = 1;
    f->id = m->next_fetch_id++;
    f->task_request_id = req->request_id;
    f->conn = a->conn;
    f->memfd = -1;
    f->peer = (int)req->rank;
    f->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : m->fetch_timeout_ms;
    snprintf(f->reduce_attempt, sizeof(f->reduce_attempt), "%s", a->id);
    snprintf(f->job_id, sizeof(f->job_id), "%s", a->job_id);
    read_block_request__init(&f->read);
    f->read.block_id = rr->block_id;
    f->read.gen_stamp = rr->gen_stamp;
    f->read.offset = rr->offset;
    f->read.length = rr->length;
    f->token = *rr->token;
    f->token.mac.len = rr->token->mac.len < sizeof(f->mac) ? rr->token->mac.len : sizeof(f->mac);
    memcpy(f->mac, rr->token->mac.data, f->token.mac.len);
    f->token.mac.data = f->mac;
    f->read.token = &f->token;
    f->state = FETCH_QUEUED;
    f->next = m->fetches;
    m->fetches = f;
    if (req->rank > (uint32_t)INT32_MAX || (int)req->rank == m->primary_rank) {
        shuffle_fetch_fail(m, f, EMBER_EINVAL, "no datanode on that rank");
        return;
    }
    shuffle_pump(m);
}

void worker_mr_handle_block_read_response(worker_mr *m, int source, const RankMessage *msg) {
    const BlockReadResponse *r = msg->block_read_response;
    mr_fetch *f = m->fetches;
    while (f != NULL && !(f->id == r->request_id && f->state == FETCH_ASKED &&
                          f->peer == source && f->block))
        f = f->next;
    if (f == NULL) {
        LOG_INFO("worker: block read answer %llu from rank %d for no read waiting (too late?)",
                 (unsigned long long)r->request_id, source);
        return; /* the link drains a payload nobody claims */
    }
    char why[600];
    int rc = r->code;
    if (rc != EMBER_OK) {
        snprintf(why, sizeof(why), "%s",
                 r->message[0] != '\0' ? r->message : ember_strerror(r->code));
    } else if (msg->bulk_length == 0 || r->offset > f->read.offset ||
               r->offset + msg->bulk_length <= f->read.offset) {
        rc = EMBER_EPROTO;
        snprintf(why, sizeof(why), "rank %d answered with another range", source);
    } else if ((f->crcs = malloc(r->n_crcs * sizeof(*f->crcs) + 1)) == NULL) {
        rc = EMBER_ENOMEM;
        snprintf(why, sizeof(why), "out of memory");
    } else {
        memcpy(f->crcs, r->crcs, r->n_crcs * sizeof(*f->crcs));
        f->ncrcs = r->n_crcs;
        f->read_offset = r->offset;
        if ((rc = shuffle_receive(m, f, source, msg)) != EMBER_OK)
            snprintf(why, sizeof(why), "cannot receive %llu bytes from rank %d: %s",
                     (unsigned long long)msg->bulk_length, source, ember_strerror(rc));
    }
    if (rc != EMBER_OK)
        shuffle_fetch_fail(m, f, rc, why);
    shuffle_pump(m);
}

void worker_mr_fetch_obsolete(worker_mr *m, const char *job_id, const char *map_attempt) {
    mr_fetch *f = m->fetches;
    while (f != NULL) {
        mr_fetch *next = f->next;
        if ((f->state == FETCH_QUEUED || f->state == FETCH_ASKED) && !f->orphan && !f->block &&
            strcmp(f->job_id, job_id) == 0 && strcmp(f->map_attempt, map_attempt) == 0) {
            char why[WORKER_MR_ID_MAX + 64];
            snprintf(why, sizeof(why), "the output of %s is lost (obsolete)", map_attempt);
            LOG_INFO("worker: fetch of %s for %s from rank %d dropped: %s", f->map_attempt,
                     f->reduce_attempt, f->peer, why);
            shuffle_fetch_answer_error(m, f, EMBER_ENOENT, why);
            shuffle_free_fetch(m, f); /* a late answer finds no fetch */
        }
        f = next;
    }
    shuffle_pump(m);
}

void worker_mr_peer_dead(worker_mr *m, int rank) {
    mr_fetch *f = m->fetches;
    while (f != NULL) {
        mr_fetch *next = f->next;
        if (f->peer == rank && (f->state == FETCH_QUEUED || f->state == FETCH_ASKED)) {
            char why[96];
            snprintf(why, sizeof(why), "rank %d is dead", rank);
            shuffle_fetch_fail(m, f, EMBER_ECLOSED, why);
        }
        f = next;
    }
    shuffle_pump(m);
}

void worker_mr_fetch_conn_gone(worker_mr *m, uint64_t conn) {
    mr_fetch *f = m->fetches;
    while (f != NULL) {
        mr_fetch *next = f->next;
        if (f->conn == conn && !f->orphan) {
            f->orphan = 1;
            if (f->state != FETCH_RECEIVING)
                shuffle_free_fetch(m, f); /* a late answer finds no fetch */
        }
        f = next;
    }
    shuffle_pump(m);
}

void worker_mr_fetch_writable(worker_mr *m, uint64_t conn) {
    int waiting = 0;
    mr_fetch *f = m->fetches;
    while (f != NULL) {
        mr_fetch *next = f->next;
        if (f->conn == conn && f->state == FETCH_DELIVERING && !f->orphan)
            waiting += !shuffle_deliver(m, f);
        f = next;
    }
    if (!waiting)
        frame_server_want_writable(m->srv, conn, 0);
    shuffle_pump(m);
}

void worker_mr_shuffle_tick(worker_mr *m, int64_t now) {
    mr_fetch *f = m->fetches;
    while (f != NULL) {
        mr_fetch *next = f->next;
        if (f->state == FETCH_ASKED && now >= f->deadline_ms) {
            char why[128];
            snprintf(why, sizeof(why), "no answer from rank %d within %lld ms", f->peer,
                     (long long)f->timeout_ms);
            shuffle_fetch_fail(m, f, EMBER_ETIMEDOUT, why);
        }
        f = next;
    }
    shuffle_pump(m);
}

size_t worker_mr_fetches(const worker_mr *m) {
    size_t n = 0;
    for (const mr_fetch *f = m->fetches; f != NULL; f = f->next)
        n++;
    return n;
}

void worker_mr_shuffle_free(worker_mr *m) {
    /* What MPI may still read or write stays mapped: the link goes later. */
    while (m->serves != NULL)
        shuffle_free_serve(m, m->serves, m->serves->state != SERVE_SENDING);
    while (m->fetches != NULL) {
        mr_fetch *f = m->fetches;
        if (f->state == FETCH_RECEIVING)
            f->map = NULL;
        shuffle_free_fetch(m, f);
    }
}
