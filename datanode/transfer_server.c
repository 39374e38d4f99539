/* transfer_server.c -- the datanode's data port (HDFS's DataXceiverServer
 * and DataXceiver): client connections over TCP, one operation each
 * (proto/datatransfer.proto): a block read, the first hop of a block
 * write, or a block checksum.
 *
 * The data port is a frame server (proto/frame_server.h): it accepts,
 * reassembles frames, holds the output queue, enforces the deadlines and
 * lingers after the last frame so that a close with unread bytes (a
 * reset) cannot destroy it.  A connection is unauthenticated until its
 * request carries a valid token; those have a budget of their own and a
 * per-address share, the oldest closed to admit new ones, so silent
 * connections cannot lock clients out.  Each connection has a dn_conn,
 * made when it is accepted and freed by the server's on_close, the only
 * place that ends what the connection still runs.  It carries one
 * operation:
 *   CONN_REQUEST  connected: waiting for the one request; frames are capped
 *                 at FRAME_MAX_UNAUTHENTICATED until a request is accepted
 *   CONN_WAITING  a write request that must wait for this node's finalize
 *                 of the same block (pipeline_disk.c): kept packed in
 *                 c->deferred, reading paused (the packets behind it stay
 *                 in the socket) until dn_transfer_request_ready()
 *   CONN_WRITE    a write: Packets in, PacketAcks out; c->pipe is the
 *                 pipeline it feeds (a write connection always has one;
 *                 pipeline.c runs it)
 *   CONN_READ     a read: Packets out, produced only while the output queue
 *                 holds less than DN_READ_QUEUE bytes, resumed when the
 *                 socket takes more (on_writable)
 *   CONN_CLOSING  handed to the server to flush the last frames (last ack,
 *                 last packet, error) and linger
 * REQUEST -> WAITING -> REQUEST when the request must wait, then is taken
 * again; REQUEST -> WRITE | READ when the request is accepted, -> CLOSING when it
 * is refused (one DataError) or has its one answer (a BlockChecksumRequest,
 * served by block_checksum.c); WRITE -> CLOSING when its pipeline ends
 * (last ack queued, or failed: dn_transfer_write_ended()); READ -> CLOSING
 * after the last packet or a DataError.  A connection whose peer is gone,
 * whose write failed or whose deadline passed is aborted (conn_break())
 * and freed by the server at its next event.  A client may shut its
 * sending side once it has sent everything (after a read request, after
 * the last packet of a write): `eof' is set, input is no longer read, and
 * the answers still go out.  EOF earlier than that ends the operation (a
 * write in progress stops; its replica is kept).  conn_check() asserts
 * the invariants: c->pipe exactly in WRITE, and that pipeline's client is
 * c; a reader in READ; a kept request exactly in WAITING.  Runs on the datanode's loop thread. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/auth.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "proto/frame.h"
#include "proto/frame_server.h"
#include "proto/message.h"
#include "proto/socket_link.h"

/* A frame after the request holds one Packet: 64 KiB of data, its CRCs and
 * a few fields.  The cap bounds what one connection can make the datanode
 * buffer before a bad frame is refused. */
#define DATANODE_FRAME_MAX (128u * 1024)

#define DN_OUTQ_LIMIT (64u * 1024 * 1024) /* bytes queued to one client */
#define DN_READ_QUEUE (1u * 1024 * 1024)  /* a read stops producing above this */
#define DN_MAX_UNAUTHENTICATED 256        /* connections before a valid request */
#define DN_MAX_UNAUTHENTICATED_PER_PEER 128

typedef enum {
    CONN_REQUEST, /* waiting for the one request */
    CONN_WAITING, /* its write request waits for the block's finalize here */
    CONN_WRITE,   /* feeding c->pipe */
    CONN_READ,    /* streaming packets from c->block */
    CONN_CLOSING, /* handed to the server: flushed, lingered, closed */
} conn_state;

struct dn_conn {
    datanode *dn;
    uint64_t id; /* the data server's connection id */
    conn_state state;
    int eof; /* the client shut its side after its last frame: no more input */
    char peer[64];
    dn_pipeline *pipe;   /* WRITE */
    block_reader *block; /* READ */
    uint64_t read_pos, read_end, read_seqno;
    uint8_t *deferred; /* WAITING: the packed WriteBlockRequest (owned) */
    size_t deferred_len;
};

static void conn_read_pump(datanode *dn, dn_conn *c);

/* ---- connections: output ------------------------------------------------------- */

/* Ends c at once (peer gone, write failed, deadline): the server frees it
 * at its next event, and on_close ends what it still runs. */
static void conn_break(datanode *dn, dn_conn *c) { frame_server_abort(dn->data_server, c->id); }

/* Queues one DataMessage frame and writes what the socket takes. */
static int conn_queue(dn_conn *c, const DataMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = frame_server_send(c->dn->data_server, c->id, buf, len);
    free(buf);
    return rc;
}

static int conn_queue_error(dn_conn *c, int code, const char *message) {
    DataError err = DATA_ERROR__INIT;
    err.code = code;
    err.message = (char *)message;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_ERROR;
    msg.error = &err;
    return conn_queue(c, &msg);
}

/* Moves c to CLOSING: the server flushes what is queued, then lingers. */
static void conn_begin_closing(datanode *dn, dn_conn *c) {
    if (c->state == CONN_CLOSING)
        return;
    if (c->block != NULL) {
        block_reader_close(c->block);
        c->block = NULL;
    }
    c->state = CONN_CLOSING;
    frame_server_close(dn->data_server, c->id);
}

/* Ends the write c feeds, if any: its pipeline ends without c (the
 * replica is kept for recovery, pipeline.c). */
static void conn_end_write(datanode *dn, dn_conn *c) {
    if (c->pipe != NULL) {
        dn_pipeline *p = c->pipe;
        c->pipe = NULL;
        dn_pipeline_drop_client(dn, p);
    }
}

/* Ends c's operation with one DataError frame (its pipeline, if any, is
 * aborted) and closes c once the frame is written. */
static void conn_reject(datanode *dn, dn_conn *c, int code, const char *message) {
    conn_end_write(dn, c);
    if (conn_queue_error(c, code, message) != EMBER_OK)
        conn_break(dn, c);
    conn_begin_closing(dn, c);
}

static void conn_check(const dn_conn *c) {
    assert((c->state == CONN_WRITE) == (c->pipe != NULL));
    assert(c->state != CONN_READ || c->block != NULL);
    assert(c->pipe == NULL || dn_pipeline_client(c->pipe) == c);
    assert((c->state == CONN_WAITING) == (c->deferred != NULL));
    (void)c;
}

/* A request with a valid token: c leaves the unauthenticated budget.
 * Refused (EMBER_EAGAIN, c rejected) when DN_MAX_CONNECTIONS clients
 * are served already. */
static int conn_authenticate(datanode *dn, dn_conn *c) {
    int rc = frame_server_set_authenticated(dn->data_server, c->id);
    if (rc == EMBER_EAGAIN) {
        if (frame_server_log_ok(dn->data_server))
            LOG_WARN("datanode: client %s refused: %d connections open", c->peer,
                     frame_server_connections(dn->data_server));
        conn_reject(dn, c, EMBER_EAGAIN, "too many connections to this datanode");
    }
    return rc;
}

/* A write request for a block this node is still finalizing (a pipeline
 * recovery or an append right after the write) waits for the finalize:
 * the request is kept, reading stops, and dn_transfer_request_ready()
 * takes it again.  Returns 1 when it waits, else 0. */
static int conn_wait_finalize(datanode *dn, dn_conn *c, const WriteBlockRequest *req) {
    size_t len = write_block_request__get_packed_size(req);
    uint8_t *packed = malloc(len + 1);
    if (packed == NULL || !dn_pipeline_defer_client(dn, req->block_id, c->id)) {
        free(packed); /* no finalize out (or no memory): served now */
        return 0;
    }
    c->deferred_len = write_block_request__pack(req, packed);
    c->deferred = packed;
    c->state = CONN_WAITING;
    frame_server_pause_reading(dn->data_server, c->id);
    frame_server_set_deadline(dn->data_server, c->id, 0);
    LOG_DEBUG("datanode: client %s: write of blk_%" PRIu64 " waits for its finalize", c->peer,
              req->block_id);
    return 1;
}

static void transfer_handle_write_request(datanode *dn, dn_conn *c, const WriteBlockRequest *req) {
    char why[256], text[512];
    if (!dn_token_ok(dn, req->token, req->block_id, req->gen_stamp, AUTH_TOKEN_WRITE, why,
                     sizeof(why))) {
        if (frame_server_log_ok(dn->data_server))
            LOG_WARN("datanode: client %s: write of blk_%" PRIu64 " refused: %s", c->peer,
                     req->block_id, why);
        snprintf(text, sizeof(text), "access to blk_%" PRIu64 " denied: %s", req->block_id, why);
        conn_reject(dn, c, EMBER_EAUTH, text);
        return;
    }
    if (conn_authenticate(dn, c) != EMBER_OK)
        return;
    if (conn_wait_finalize(dn, c, req))
        return;
    dn_pipeline *p = NULL;
    int rc = dn_pipeline_start_client(dn, c, req, &p, text, sizeof(text));
    if (rc != EMBER_OK) {
        conn_reject(dn, c, rc, text);
        return;
    }
    c->pipe = p;
    c->state = CONN_WRITE;
    frame_server_set_max_frame(dn->data_server, c->id, DATANODE_FRAME_MAX);
    frame_server_set_deadline(dn->data_server, c->id, 0); /* the pipeline has its own */
}

static void transfer_handle_read_request(datanode *dn, dn_conn *c, const ReadBlockRequest *req) {
    char why[256], text[512];
    if (!dn_token_ok(dn, req->token, req->block_id, req->gen_stamp, AUTH_TOKEN_READ, why,
                     sizeof(why))) {
        if (frame_server_log_ok(dn->data_server))
            LOG_WARN("datanode: client %s: read of blk_%" PRIu64 " refused: %s", c->peer,
                     req->block_id, why);
        snprintf(text, sizeof(text), "access to blk_%" PRIu64 " denied: %s", req->block_id, why);
        conn_reject(dn, c, EMBER_EAUTH, text);
        return;
    }
    if (conn_authenticate(dn, c) != EMBER_OK)
        return;
    block_reader *r = NULL;
    int rc = block_reader_open(dn->store, req->block_id, &r);
    if (rc != EMBER_OK) {
        if (rc == EMBER_ENOENT)
            snprintf(text, sizeof(text), "no replica of blk_%" PRIu64 " on rank %d", req->block_id,
                     dn->rank);
        else
            snprintf(text, sizeof(text), "cannot open blk_%" PRIu64 " on rank %d: %s",
                     req->block_id, dn->rank, ember_strerror(rc));
        LOG_INFO("datanode: client %s: %s", c->peer, text);
        conn_reject(dn, c, rc, text);
        return;
    }
    const block_info *info = block_reader_info(r);
    if (info->gen_stamp != req->gen_stamp || req->offset > info->length) {
        if (info->gen_stamp != req->gen_stamp) {
            rc = EMBER_ENOENT;
            snprintf(text, sizeof(text),
                     "replica of blk_%" PRIu64 " on rank %d has gen stamp %" PRIu64
                     ", not %" PRIu64,
                     req->block_id, dn->rank, info->gen_stamp, req->gen_stamp);
        } else {
            rc = EMBER_EINVAL;
            snprintf(text, sizeof(text),
                     "offset %" PRIu64 " is past the end of blk_%" PRIu64 " (%" PRIu64 " bytes)",
                     req->offset, req->block_id, info->length);
        }
        LOG_INFO("datanode: client %s: %s", c->peer, text);
        block_reader_close(r);
        conn_reject(dn, c, rc, text);
        return;
    }
    /* Whole chunks covering [offset, end): the stored CRCs then apply. */
    uint64_t end =
        req->length < info->length - req->offset ? req->offset + req->length : info->length;
    if (end == req->offset) {
        c->read_pos = c->read_end = req->offset; /* one empty last packet */
    } else {
        c->read_pos = req->offset / BLOCK_CHUNK_SIZE * BLOCK_CHUNK_SIZE;
        uint64_t aligned = (end + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE * BLOCK_CHUNK_SIZE;
        c->read_end = aligned < info->length ? aligned : info->length;
    }
    c->read_seqno = 0;
    c->block = r;
    c->state = CONN_READ;
    frame_server_set_deadline(dn->data_server, c->id, dn->io_timeout_ms);
    frame_server_set_max_frame(dn->data_server, c->id, DATANODE_FRAME_MAX);
    frame_server_want_writable(dn->data_server, c->id, 1);
    LOG_DEBUG("datanode: client %s: reading blk_%" PRIu64 " [%" PRIu64 ", %" PRIu64 ")", c->peer,
              req->block_id, c->read_pos, c->read_end);
    conn_read_pump(dn, c);
}

/* Produces read packets while c's output queue is short; the last one
 * moves c to CLOSING, a bad chunk ends the read with a DataError. */
static void conn_read_pump(datanode *dn, dn_conn *c) {
    while (c->state == CONN_READ && frame_server_queued(dn->data_server, c->id) < DN_READ_QUEUE) {
        uint64_t id = block_reader_info(c->block)->block_id;
        uint64_t pos = c->read_pos;
        size_t n = c->read_end - pos > MESSAGE_PACKET_MAX ? MESSAGE_PACKET_MAX
                                                          : (size_t)(c->read_end - pos);
        size_t nchunks = (n + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
        uint32_t crcs[DN_CHUNKS_MAX];
        size_t got = 0;
        int rc = EMBER_OK;
        if (n > 0) {
            rc = block_reader_pread(c->block, dn->scratch, n, pos, &got);
            if (rc == EMBER_OK && got != n)
                rc = EMBER_ECORRUPT; /* shorter than the index says */
            if (rc == EMBER_OK)
                rc = block_reader_checksums(c->block, pos / BLOCK_CHUNK_SIZE, nchunks, crcs);
        }
        if (rc != EMBER_OK) {
            char text[256];
            if (rc == EMBER_ECORRUPT) {
                snprintf(text, sizeof(text),
                         "checksum error: replica of blk_%" PRIu64 " on rank %d is corrupt", id,
                         dn->rank);
                LOG_WARN("datanode: replica of blk_%" PRIu64
                         " is corrupt (chunks from offset %" PRIu64 "); client %s told",
                         id, pos, c->peer);
            } else {
                snprintf(text, sizeof(text), "cannot read blk_%" PRIu64 " on rank %d: %s", id,
                         dn->rank, ember_strerror(rc));
                LOG_WARN("datanode: client %s: %s", c->peer, text);
            }
            conn_reject(dn, c, rc, text);
            return;
        }
        Packet pkt = PACKET__INIT;
        pkt.seqno = c->read_seqno;
        pkt.offset = pos;
        pkt.data.data = dn->scratch;
        pkt.data.len = n;
        pkt.crcs = crcs;
        pkt.n_crcs = nchunks;
        pkt.last = pos + n >= c->read_end;
        DataMessage msg = DATA_MESSAGE__INIT;
        msg.body_case = DATA_MESSAGE__BODY_PACKET;
        msg.packet = &pkt;
        if (conn_queue(c, &msg) != EMBER_OK) {
            conn_break(dn, c);
            return;
        }
        c->read_pos += n;
        c->read_seqno++;
        if (pkt.last)
            conn_begin_closing(dn, c);
    }
}

/* The first frame of a connection: a write or a read request. */
static void conn_handle_request(datanode *dn, dn_conn *c, DataMessage *msg) {
    if (msg->body_case != DATA_MESSAGE__BODY_WRITE_BLOCK &&
        msg->body_case != DATA_MESSAGE__BODY_READ_BLOCK &&
        msg->body_case != DATA_MESSAGE__BODY_BLOCK_CHECKSUM) {
        if (frame_server_log_ok(dn->data_server))
            LOG_WARN("datanode: client %s: first message is not a request; closing", c->peer);
        conn_reject(dn, c, EMBER_EPROTO,
                    "expected a WriteBlockRequest, a ReadBlockRequest or a BlockChecksumRequest");
        return;
    }
    if (dn->secret == NULL) {
        LOG_INFO("datanode: client %s: refused: not registered yet", c->peer);
        conn_reject(dn, c, EMBER_EAGAIN, "datanode not registered yet");
        return;
    }
    switch (msg->body_case) {
    case DATA_MESSAGE__BODY_WRITE_BLOCK:
        transfer_handle_write_request(dn, c, msg->write_block);
        break;
    case DATA_MESSAGE__BODY_BLOCK_CHECKSUM: { /* one answer (block_checksum.c), then closed */
        socket_outq answer = {0};
        int rc = dn_block_checksum_answer(dn, msg->block_checksum, c->peer, &answer);
        if (rc == EMBER_OK)
            rc = frame_server_send(dn->data_server, c->id, answer.buf + answer.off,
                                   answer.len - answer.off);
        socket_outq_free(&answer);
        if (rc != EMBER_OK)
            conn_break(dn, c);
        conn_begin_closing(dn, c);
        break;
    }
    default: transfer_handle_read_request(dn, c, msg->read_block); break;
    }
}

/* One whole frame from the client: its request, or a packet of its write. */
static void conn_on_frame(frame_server *srv, uint64_t id, void *data, const uint8_t *payload,
                          size_t len, void *arg) {
    datanode *dn = arg;
    dn_conn *c = data;
    (void)srv;
    (void)id;
    DataMessage *msg;
    if (message_decode_data(payload, len, &msg) != EMBER_OK) {
        if (c->state != CONN_REQUEST || frame_server_log_ok(dn->data_server))
            LOG_WARN("datanode: client %s: malformed frame (%zu bytes); closing", c->peer, len);
        conn_reject(dn, c, EMBER_EPROTO, "malformed message");
        return;
    }
    if (c->state == CONN_REQUEST) {
        conn_handle_request(dn, c, msg);
    } else if (c->state == CONN_WRITE && msg->body_case == DATA_MESSAGE__BODY_PACKET) {
        dn_pipeline_receive(dn, c->pipe, msg->packet, NULL);
    } else {
        LOG_WARN("datanode: client %s: unexpected message during a %s; closing", c->peer,
                 c->state == CONN_WRITE ? "write" : "read");
        conn_reject(dn, c, EMBER_EPROTO, "unexpected message");
    }
    data_message__free_unpacked(msg, NULL);
    conn_check(c);
}

static void conn_on_bad_frame(frame_server *srv, uint64_t id, void *data, int code, void *arg) {
    dn_conn *c = data;
    (void)id;
    if (c->state != CONN_REQUEST || frame_server_log_ok(srv))
        LOG_WARN("datanode: client %s: frame over the size cap; closing", c->peer);
    conn_reject(arg, c, code, "frame too large");
}

/* End of the client's stream after its whole frames.  A client that
 * shuts its side once it has sent everything still gets its answers. */
static int conn_on_eof(frame_server *srv, uint64_t id, void *data, size_t pending, void *arg) {
    datanode *dn = arg;
    dn_conn *c = data;
    (void)srv;
    (void)id;
    if (pending == 0 &&
        (c->state == CONN_READ || (c->state == CONN_WRITE && dn_pipeline_draining(c->pipe)))) {
        c->eof = 1;
        return 1;
    }
    if (c->pipe != NULL && !dn_pipeline_draining(c->pipe))
        LOG_WARN("datanode: client %s closed the connection before the last packet of blk_%" PRIu64
                 "; replica kept for recovery",
                 c->peer, dn_pipeline_block_id(c->pipe));
    else if (c->state == CONN_WRITE || c->state == CONN_READ || pending > 0)
        LOG_INFO("datanode: client %s disconnected early", c->peer);
    conn_end_write(dn, c);
    c->state = CONN_CLOSING; /* the server closes it now */
    return 0;
}

/* A read's socket took bytes: progress resets its deadline, and more
 * packets are made while the queue is short. */
static void conn_on_writable(frame_server *srv, uint64_t id, void *data, size_t written,
                             void *arg) {
    datanode *dn = arg;
    dn_conn *c = data;
    if (c->state != CONN_READ)
        return;
    if (written > 0)
        frame_server_set_deadline(srv, id, dn->io_timeout_ms);
    conn_read_pump(dn, c);
    conn_check(c);
}

/* A request that did not come, or a read that stopped draining, in
 * io_timeout_ms. */
static void conn_on_deadline(frame_server *srv, uint64_t id, void *data, void *arg) {
    datanode *dn = arg;
    dn_conn *c = data;
    (void)id;
    if (c->state == CONN_REQUEST) {
        if (frame_server_log_ok(srv))
            LOG_WARN("datanode: client %s sent no request in time; closing", c->peer);
        conn_reject(dn, c, EMBER_ETIMEDOUT, "no request within the I/O timeout");
        return;
    }
    if (c->state == CONN_READ)
        LOG_WARN("datanode: client %s stopped reading; closing", c->peer);
    conn_break(dn, c);
}

static int conn_on_open(frame_server *srv, uint64_t id, void *arg) {
    dn_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return EMBER_ENOMEM;
    c->dn = arg;
    c->id = id;
    c->state = CONN_REQUEST;
    snprintf(c->peer, sizeof(c->peer), "%s", frame_server_peer(srv, id));
    frame_server_set_data(srv, id, c);
    return EMBER_OK;
}

/* The server frees the connection: a pipeline it still fed is aborted. */
static void conn_on_close(frame_server *srv, uint64_t id, void *data, void *arg) {
    datanode *dn = arg;
    dn_conn *c = data;
    (void)srv;
    (void)id;
    conn_end_write(dn, c);
    block_reader_close(c->block);
    free(c->deferred);
    free(c);
}

/* See datanode_internal.h.  The listening socket and the frame server
 * with the callbacks above. */
int dn_transfer_start(datanode *dn, const char *bind_addr, int port, char *err, size_t errlen) {
    int listen_fd;
    int rc = socket_listen_tcp(bind_addr, port, &listen_fd, &dn->port);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "datanode: cannot listen on %s:%d: %s", bind_addr, port,
                 rc == EMBER_EIO ? strerror(errno) : ember_strerror(rc));
        return rc;
    }
    frame_server_options so = {
        .name = "datanode",
        .listen_fd = listen_fd,
        .max_connections = DN_MAX_CONNECTIONS,
        .max_unauthenticated = DN_MAX_UNAUTHENTICATED,
        .max_unauthenticated_per_peer = DN_MAX_UNAUTHENTICATED_PER_PEER,
        .max_frame = FRAME_MAX_UNAUTHENTICATED,
        .outq_limit = DN_OUTQ_LIMIT,
        .first_deadline_ms = dn->io_timeout_ms,
        .linger_ms = dn->io_timeout_ms,
        .cb = {.on_open = conn_on_open,
               .on_frame = conn_on_frame,
               .on_bad_frame = conn_on_bad_frame,
               .on_eof = conn_on_eof,
               .on_writable = conn_on_writable,
               .on_deadline = conn_on_deadline,
               .on_close = conn_on_close},
        .arg = dn,
    };
    rc = frame_server_create(dn->loop, &so, &dn->data_server);
    if (rc != EMBER_OK)
        snprintf(err, errlen, "datanode: cannot register with the event loop: %s",
                 ember_strerror(rc));
    return rc;
}

/* See datanode_internal.h. */
void dn_transfer_stop(datanode *dn) {
    frame_server_destroy(dn->data_server); /* ends the pipelines of its connections */
    dn->data_server = NULL;
}

/* See datanode_internal.h. */
void dn_transfer_send_ack(datanode *dn, dn_conn *c, const PacketAck *ack) {
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_ACK;
    msg.ack = (PacketAck *)ack;
    if (conn_queue(c, &msg) != EMBER_OK)
        conn_break(dn, c);
}

/* See datanode_internal.h. */
void dn_transfer_write_ended(datanode *dn, dn_conn *c) {
    c->pipe = NULL;
    conn_begin_closing(dn, c);
}

/* See datanode_internal.h. */
void dn_transfer_reject(datanode *dn, dn_conn *c, int code, const char *message) {
    conn_reject(dn, c, code, message);
}

/* See datanode_internal.h. */
void dn_transfer_pause(datanode *dn, dn_conn *c) {
    frame_server_pause_reading(dn->data_server, c->id);
}

void dn_transfer_resume(datanode *dn, dn_conn *c) {
    if (frame_server_resume_reading(dn->data_server, c->id) == EMBER_OK)
        return;
    LOG_WARN("datanode: client %s: cannot read its connection again; closing", c->peer);
    conn_break(dn, c);
}

const char *dn_transfer_peer(const dn_conn *c) { return c->peer; }

/* See datanode_internal.h. */
void dn_transfer_request_ready(datanode *dn, uint64_t conn_id) {
    dn_conn *c = dn->data_server != NULL ? frame_server_data(dn->data_server, conn_id) : NULL;
    if (c == NULL || c->state != CONN_WAITING)
        return;
    WriteBlockRequest *req = write_block_request__unpack(NULL, c->deferred_len, c->deferred);
    free(c->deferred);
    c->deferred = NULL;
    c->state = CONN_REQUEST;
    frame_server_resume_reading(dn->data_server, c->id);
    if (req == NULL) {
        conn_reject(dn, c, EMBER_ENOMEM, "out of memory");
        return;
    }
    transfer_handle_write_request(dn, c, req);
    write_block_request__free_unpacked(req, NULL);
    conn_check(c);
}
