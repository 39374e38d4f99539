/* datanode.c -- block data service of a core rank (see datanode.h).
 *
 * Owns the block store, the data port's listening socket and its client
 * connections, and the write pipelines this node takes part in.  Everything
 * runs on the rank's event loop; opts->send must not call back into the
 * datanode (it queues, as mpi_link_send does).
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
 * operation (proto/datatransfer.proto):
 *   CONN_REQUEST  connected: waiting for the one request; frames are capped
 *                 at FRAME_MAX_UNAUTHENTICATED until a request is accepted
 *   CONN_WRITE    a write: Packets in, PacketAcks out; c->pipe is the
 *                 pipeline it feeds (a write connection always has one)
 *   CONN_READ     a read: Packets out, produced only while the output queue
 *                 holds less than DN_READ_QUEUE bytes, resumed when the
 *                 socket takes more (on_writable)
 *   CONN_CLOSING  handed to the server to flush the last frames (last ack,
 *                 last packet, error) and linger
 * REQUEST -> WRITE | READ when the request is accepted, -> CLOSING when it
 * is refused (one DataError) or has its one answer (a BlockChecksumRequest,
 * served by block_checksum.c); WRITE -> CLOSING when its pipeline ends
 * (last ack queued, or failed); READ -> CLOSING after the last packet or a
 * DataError.  A connection whose peer is gone, whose write failed or whose
 * deadline passed is aborted (conn_break()) and freed by the server at
 * its next event.  A client may shut its sending side once it has sent
 * everything (after a read request, after the last packet of a write):
 * `eof' is set, input is no longer read, and the answers still go out.
 * EOF earlier than that ends the operation (a write in progress stops;
 * its replica is kept).
 *
 * A pipeline is one block being written through this node, keyed by block
 * id; its upstream is the client's connection (first datanode) or the rank
 * that sent its first PipelinePacket.  Its writer is a new replica, or
 * for an append (WriteBlockRequest or seqno-0 PipelinePacket with
 * append_gen_stamp, HDFS's PIPELINE_SETUP_APPEND) this node's finalized
 * replica of that gen stamp moved back to rbw/ under the request's new gen
 * stamp (block_writer_reopen()): the first packet's offset must be its
 * length, possibly mid-chunk, and downstream gets append_gen_stamp on
 * seqno 0; the rest is an ordinary write.  For a pipeline recovery
 * (WriteBlockRequest or seqno-0 PipelinePacket with recovery_gen_stamp,
 * HDFS's PIPELINE_SETUP_STREAMING_RECOVERY: a node of the client's
 * pipeline failed, the client asked the namenode for a new gen stamp and
 * goes on with the nodes left) a write of the block still running here
 * under an older gen stamp is stopped first (dn_stop_write(): its failed
 * ack goes upstream under the old gen stamp), then the node's replica
 * with a gen stamp in [recovery_gen_stamp, gen_stamp) -- RBW, or
 * FINALIZED when the last packet came but its ack was lost -- is reopened
 * under gen_stamp and cut to recovery_length, the bytes the client had
 * acknowledged, which every node of the pipeline wrote
 * (block_writer_reopen_at()); a node that holds fewer, or no such
 * replica, refuses (a DataError to the client, a failed PipelineAck
 * naming itself upstream), so that the client drops it too.  With
 * nothing acknowledged, a node that never got the block starts a new
 * replica.  The first packet's offset is then recovery_length, seqnos
 * start again at 0, and downstream gets the recovery fields on seqno 0.
 * PipelineAcks carry the pipeline's gen stamp: one naming another gen
 * stamp than the pipeline of its block here is stale (an ack of the
 * replaced pipeline still in flight, or the failed ack of its stop) and
 * ignored.  Each packet is checked (seqno, offset, CRCs), appended
 * locally, forwarded to downstream[0] when there is one, and then acked
 * upstream -- at once
 * without downstream, else when downstream[0]'s PipelineAck for it comes
 * back.  Packets forwarded and not yet acked sit in a window of at most
 * DN_PIPELINE_WINDOW entries, oldest first; since packets are written in
 * order and acks come back in order, acks go upstream in seqno order.
 * Packets go downstream as data (opts.send_data): when the transport
 * answers EMBER_EAGAIN (downstream[0]'s queue is full) the packet, already
 * written here, is held in its window entry (packed), as is every later
 * one, and datanode_on_writable() sends the held ones in order once
 * downstream[0] can take more; the upstream is held back meanwhile by the
 * window (no ack goes up before downstream's), the client by its own.
 * The last `held' entries of the window are the held ones.
 * A heartbeat packet (Packet.heartbeat: the client's pipeline was idle
 * for half of io_timeout_ms) is checked the same way -- its seqno and
 * offset are where the next data packet's will be -- and then only resets
 * the upstream deadline, is forwarded and waits in the window as a data
 * packet does, and is acked upstream in its turn, the ack marked
 * heartbeat; it is never written and does not advance next_seqno.  A
 * packet with sync set (the client's hsync) is written, forwarded, and
 * then fsynced here, data and meta (block_writer_sync()), before it can
 * be acked upstream: the client's ack means every node synced it.
 *   PIPE_RECEIVING  packets arrive; the writer is open
 *   PIPE_DRAINING   the last packet was written and the replica finalized
 *                   (BlockReceived sent); waiting for downstream acks
 * RECEIVING -> DRAINING on the last packet; either -> (ended) when the
 * window is empty in DRAINING (success), or on a failure: a local write
 * failure, a bad packet, a failed or missing downstream ack, a silent
 * upstream, the client gone, block recovery (dn_stop_write()).  A failure
 * acks the oldest unacked packet with ok = 0 upstream (when the upstream
 * can still hear it), detaches the writer and ends the pipeline: the rbw
 * replica stays with what was written -- acked packets may be all a
 * client has of its data -- as a replica waiting for block recovery
 * (recovery.c), listed in block reports; a replica already finalized
 * stays too.  Only a transfer (a copy for ReplicateBlock, marked in its
 * PipelinePackets) deletes a partial replica: its source still has the
 * block.  A node waits io_timeout_ms times the number of nodes downstream
 * of it for an ack, so that the node next to the culprit gives up first
 * and names it.
 *
 * A ReplicateBlock from the primary makes this node the source of such a
 * pipeline for a replica it holds (replication.c, sharing struct datanode
 * through datanode_internal.h).  Acks are routed by block id: a pipeline
 * is refused while a replication of its block runs here and the other
 * way round, so no block id ever names both.
 *
 * Block recovery (recovery.c): InitReplicaRecovery stops a pipeline of its
 * block here and reports the replica; UpdateReplica finalizes it at the
 * agreed length under the recovery id.
 *
 * The block scanner (block_scanner.c) re-reads the replicas in the
 * background on its own timer; a DeleteBlocks tells it which replicas are
 * gone.  The replicas a DeleteBlocks removed are confirmed to the primary
 * (IncrementalBlockReport, deleted ids).  The directory scanner
 * (directory_scanner.c), on a timer of its own, compares the disk with
 * the store's index and reports what it found through the same message
 * and bad_replica; both go through the report helpers here
 * (dn_send_incremental_report(), dn_send_bad_replica()).  Short-circuit
 * reads have their own unix socket and connections (short_circuit.c),
 * started and stopped with the datanode. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "block_store.h"
#include "common/auth.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "fault_injection.h"
#include "proto/frame.h"
#include "proto/frame_server.h"
#include "proto/message.h"
#include "proto/socket_link.h"

/* A frame after the request holds one Packet: 64 KiB of data, its CRCs and
 * a few fields.  The cap bounds what one connection can make the datanode
 * buffer before a bad frame is refused. */
#define DATANODE_FRAME_MAX (128u * 1024)

#define DN_MAX_PIPELINES 4096
#define DN_PIPELINE_WINDOW 128            /* packets awaiting downstream acks */
#define DN_OUTQ_LIMIT (64u * 1024 * 1024) /* bytes queued to one client */
#define DN_READ_QUEUE (1u * 1024 * 1024)  /* a read stops producing above this */
#define DN_MAX_UNAUTHENTICATED 256        /* connections before a valid request */
#define DN_MAX_UNAUTHENTICATED_PER_PEER 128
#define DN_TIMER_MAX_MS 200

typedef enum {
    CONN_REQUEST, /* waiting for the one request */
    CONN_WRITE,   /* feeding c->pipe */
    CONN_READ,    /* streaming packets from c->block */
    CONN_CLOSING, /* handed to the server: flushed, lingered, closed */
} conn_state;

typedef enum {
    PIPE_RECEIVING, /* packets arrive; writer open */
    PIPE_DRAINING,  /* last packet written and finalized; waiting for acks */
} pipe_state;

typedef struct {
    uint64_t seqno;
    int heartbeat;   /* a heartbeat packet's entry (its ack is marked so) */
    int64_t sent_ms; /* when it arrived to go downstream (monotonic) */
    uint8_t *held;   /* not yet forwarded: the packed Packet (owned); else NULL */
    size_t held_len;
} pipe_entry;

struct dn_pipeline {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t append_gen_stamp; /* an append: the finalized replica's gen stamp; else 0 */
    uint64_t recovery_gs;      /* a pipeline recovery: the lowest gen stamp accepted; else 0 */
    uint64_t recovery_length;  /* ... and the acknowledged length the replica was cut to */
    int transfer;              /* a copy for ReplicateBlock: a partial one is deleted */
    pipe_state state;
    block_writer *writer; /* RECEIVING only */
    dn_conn *conn;        /* the client's connection (first datanode), else NULL */
    int upstream_rank;    /* the previous datanode, -1 with a client */
    uint32_t downstream[DN_MAX_DOWNSTREAM];
    size_t n_downstream;
    uint64_t next_seqno;
    uint64_t length; /* bytes written */
    pipe_entry window[DN_PIPELINE_WINDOW];
    size_t head, count;           /* the window's oldest entry and its size */
    size_t held;                  /* the last `held' entries wait to be forwarded */
    int64_t upstream_deadline_ms; /* RECEIVING: the next packet is due by then */
    int64_t ack_timeout_ms;       /* how long a forwarded packet may wait */
};

struct dn_conn {
    datanode *dn;
    uint64_t id; /* the data server's connection id */
    conn_state state;
    int eof; /* the client shut its side after its last frame: no more input */
    char peer[64];
    dn_pipeline *pipe;   /* WRITE */
    block_reader *block; /* READ */
    uint64_t read_pos, read_end, read_seqno;
};

static void pipeline_end(datanode *dn, dn_pipeline *p);
static void conn_begin_closing(datanode *dn, dn_conn *c);
static void conn_read_pump(datanode *dn, dn_conn *c);

/* ---- helpers ------------------------------------------------------------------- */

/* See datanode_internal.h. */
int dn_send(datanode *dn, int dest, const RankMessage *msg) {
    int rc = dn->send(dn->send_arg, dest, msg);
    if (rc != EMBER_OK)
        LOG_WARN("datanode: cannot send %s to rank %d: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
    return rc;
}

/* See datanode_internal.h. */
int dn_send_data(datanode *dn, int dest, const RankMessage *msg) {
    int rc = dn->send_data(dn->send_arg, dest, msg);
    if (rc != EMBER_OK && rc != EMBER_EAGAIN)
        LOG_WARN("datanode: cannot send %s to rank %d: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
    return rc;
}

/* See datanode_internal.h. */
int dn_token_ok(const datanode *dn, const BlockToken *t, uint64_t id, uint64_t gs, uint32_t mode,
                char *why, size_t whylen) {
    int64_t now = clock_wall_ms();
    if (t->block_id != id || t->gen_stamp != gs)
        snprintf(why, whylen, "token is for blk_%" PRIu64 " gs %" PRIu64, t->block_id,
                 t->gen_stamp);
    else if (t->mode != mode)
        snprintf(why, whylen, "token allows %s, not %s",
                 t->mode == AUTH_TOKEN_READ ? "read" : "write",
                 mode == AUTH_TOKEN_READ ? "read" : "write");
    else if (t->expiry_ms <= now)
        snprintf(why, whylen, "token expired %" PRId64 " ms ago", now - t->expiry_ms);
    else if (!auth_block_token_verify(dn->secret, id, gs, mode, t->expiry_ms, t->mac.data,
                                      t->mac.len, now))
        snprintf(why, whylen, "token signature is wrong");
    else
        return 1;
    return 0;
}

/* See datanode_internal.h. */
int datanode_check_downstream(const datanode *dn, const uint32_t *ranks, size_t n, int also) {
    if (n > DN_MAX_DOWNSTREAM)
        return EMBER_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (ranks[i] > INT32_MAX || (int)ranks[i] == dn->rank || (int)ranks[i] == also)
            return EMBER_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (ranks[k] == ranks[i])
                return EMBER_EINVAL;
    }
    return EMBER_OK;
}

/* ---- connections: output ------------------------------------------------------- */

/* Ends c at once (peer gone, write failed, deadline): the server frees it
 * at its next event, and on_close ends what it still runs. */
static void conn_break(datanode *dn, dn_conn *c) {
    frame_server_abort(dn->data_server, c->id);
}

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

/* Ends c's operation with one DataError frame (its pipeline, if any, is
 * aborted) and closes c once the frame is written. */
static void conn_reject(datanode *dn, dn_conn *c, int code, const char *message) {
    if (c->pipe != NULL) {
        dn_pipeline *p = c->pipe;
        c->pipe = NULL;
        p->conn = NULL;
        pipeline_end(dn, p);
    }
    if (conn_queue_error(c, code, message) != EMBER_OK)
        conn_break(dn, c);
    conn_begin_closing(dn, c);
}

static void conn_check(const dn_conn *c) {
    assert((c->state == CONN_WRITE) == (c->pipe != NULL));
    assert(c->state != CONN_READ || c->block != NULL);
    assert(c->pipe == NULL || c->pipe->conn == c);
    (void)c;
}

/* ---- pipelines ------------------------------------------------------------------ */

static void pipeline_check(const dn_pipeline *p) {
    assert((p->state == PIPE_RECEIVING) == (p->writer != NULL));
    assert(p->count <= DN_PIPELINE_WINDOW && p->head < DN_PIPELINE_WINDOW);
    assert(p->count == 0 || p->n_downstream > 0);
    assert(p->held <= p->count);
    assert((p->conn != NULL) == (p->upstream_rank < 0));
    assert(p->conn == NULL || p->conn->pipe == p);
    (void)p;
}

static dn_pipeline *pipeline_find(const datanode *dn, uint64_t block_id) {
    for (size_t i = 0; i < dn->npipes; i++)
        if (dn->pipes[i]->block_id == block_id)
            return dn->pipes[i];
    return NULL;
}

/* How a pipeline's writer starts (pipeline_create()). */
typedef struct {
    uint64_t append_gs;       /* an append: the finalized replica's gen stamp; else 0 */
    uint64_t recovery_gs;     /* a pipeline recovery: the lowest gen stamp accepted; else 0 */
    uint64_t recovery_length; /* ... and the acknowledged length */
} pipe_setup;

/* The writer of a pipeline recovery (setup->recovery_gs != 0): this
 * node's replica of block_id with a gen stamp in [recovery_gs, gen_stamp)
 * reopened under gen_stamp and cut to the acknowledged length
 * (block_writer_reopen_at()); with nothing acknowledged, a node that
 * never got the block starts a new replica. */
static int pipeline_recovery_writer(datanode *dn, uint64_t block_id, uint64_t gen_stamp,
                                    const pipe_setup *setup, block_writer **out) {
    block_info before;
    block_replica_state st = block_store_replica(dn->store, block_id, &before);
    int rc = block_writer_reopen_at(dn->store, block_id, setup->recovery_gs, gen_stamp,
                                    setup->recovery_length, out);
    if (rc == EMBER_ENOENT && setup->recovery_length == 0 && st == BLOCK_REPLICA_ABSENT)
        rc = block_writer_create(dn->store, block_id, gen_stamp, out);
    if (rc == EMBER_OK)
        LOG_INFO("datanode: pipeline recovery of blk_%" PRIu64 ": %s replica gs %" PRIu64
                 " (%" PRIu64 " bytes) reopened as gs %" PRIu64 " at %" PRIu64 " bytes",
                 block_id,
                 st == BLOCK_REPLICA_RBW         ? "rbw"
                 : st == BLOCK_REPLICA_FINALIZED ? "finalized"
                                                 : "no",
                 before.gen_stamp, before.length, gen_stamp, setup->recovery_length);
    return rc;
}

/* Registers a new pipeline of block_id with a writer of its own (freed by
 * pipeline_end()): a new replica; for an append (setup->append_gs != 0)
 * the finalized replica of gen stamp append_gs reopened under gen_stamp,
 * the write going on at its end; for a pipeline recovery
 * (setup->recovery_gs != 0) the replica pipeline_recovery_writer() finds,
 * the write going on at the acknowledged length.  On failure nothing is
 * left: the block store's error (EMBER_EEXIST, EMBER_ENOENT,
 * EMBER_ESTATE, ...) or EMBER_ENOMEM. */
static int pipeline_create(datanode *dn, uint64_t block_id, uint64_t gen_stamp,
                           const pipe_setup *setup, const uint32_t *downstream,
                           size_t n_downstream, dn_conn *conn, int upstream_rank,
                           dn_pipeline **out) {
    if (dn->npipes == dn->pipes_cap) {
        size_t ncap = dn->pipes_cap ? dn->pipes_cap * 2 : 16;
        dn_pipeline **grown = realloc(dn->pipes, ncap * sizeof(*grown));
        if (grown == NULL)
            return EMBER_ENOMEM;
        dn->pipes = grown;
        dn->pipes_cap = ncap;
    }
    dn_pipeline *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return EMBER_ENOMEM;
    int rc;
    if (setup->recovery_gs != 0)
        rc = pipeline_recovery_writer(dn, block_id, gen_stamp, setup, &p->writer);
    else if (setup->append_gs != 0)
        rc = block_writer_reopen(dn->store, block_id, setup->append_gs, gen_stamp, &p->writer);
    else
        rc = block_writer_create(dn->store, block_id, gen_stamp, &p->writer);
    if (rc != EMBER_OK) {
        free(p);
        return rc;
    }
    p->block_id = block_id;
    p->gen_stamp = gen_stamp;
    p->append_gen_stamp = setup->recovery_gs != 0 ? 0 : setup->append_gs;
    p->recovery_gs = setup->recovery_gs;
    p->recovery_length = setup->recovery_length;
    p->length = block_writer_length(p->writer); /* an append or a recovery goes on there */
    p->state = PIPE_RECEIVING;
    p->conn = conn;
    p->upstream_rank = conn != NULL ? -1 : upstream_rank;
    if (n_downstream > 0)
        memcpy(p->downstream, downstream, n_downstream * sizeof(uint32_t));
    p->n_downstream = n_downstream;
    p->upstream_deadline_ms = clock_monotonic_ms() + dn->io_timeout_ms;
    p->ack_timeout_ms = dn->io_timeout_ms * (int64_t)(n_downstream > 0 ? n_downstream : 1);
    if (conn != NULL)
        conn->pipe = p;
    dn->pipes[dn->npipes++] = p;
    pipeline_check(p);
    *out = p;
    return EMBER_OK;
}

/* Forgets p: a writer still open is detached (its replica stays in rbw/,
 * waiting for block recovery, with what was written: a client may have
 * had it acknowledged) -- or aborted for a transfer, whose source still
 * holds the block -- a client connection moves on to CLOSING, p is
 * freed. */
static void pipeline_end(datanode *dn, dn_pipeline *p) {
    for (size_t k = 0; k < p->count; k++)
        free(p->window[(p->head + k) % DN_PIPELINE_WINDOW].held);
    for (size_t i = 0; i < dn->npipes; i++) {
        if (dn->pipes[i] == p) {
            dn->pipes[i] = dn->pipes[--dn->npipes];
            break;
        }
    }
    if (p->writer != NULL && p->transfer) {
        block_writer_abort(p->writer); /* the source still has the block */
        p->writer = NULL;
    } else if (p->writer != NULL) {
        uint64_t kept = 0;
        int rc = block_writer_detach(p->writer, &kept);
        p->writer = NULL;
        if (rc == EMBER_OK)
            LOG_INFO("datanode: unfinished blk_%" PRIu64 " gs %" PRIu64 " kept in rbw (%" PRIu64
                     " valid bytes)",
                     p->block_id, p->gen_stamp, kept);
        else
            LOG_WARN("datanode: unfinished blk_%" PRIu64 " gs %" PRIu64 " cannot be kept: %s",
                     p->block_id, p->gen_stamp, ember_strerror(rc));
    }
    if (p->conn != NULL) {
        dn_conn *c = p->conn;
        c->pipe = NULL;
        p->conn = NULL;
        conn_begin_closing(dn, c); /* a write connection always has a pipeline */
    }
    free(p);
}

/* Acks seqno (a heartbeat's when heartbeat is set) to p's upstream: a
 * PacketAck to the client or a PipelineAck to the previous datanode. */
static void pipeline_ack_upstream(datanode *dn, dn_pipeline *p, uint64_t seqno, int heartbeat,
                                  int ok, int failed_rank, const char *message) {
    p->upstream_deadline_ms = clock_monotonic_ms() + dn->io_timeout_ms;
    if (p->conn != NULL) {
        dn_conn *c = p->conn;
        PacketAck ack = PACKET_ACK__INIT;
        ack.seqno = seqno;
        ack.heartbeat = heartbeat;
        ack.ok = ok;
        ack.failed_rank = ok ? 0 : failed_rank;
        ack.message = (char *)(message != NULL ? message : "");
        DataMessage msg = DATA_MESSAGE__INIT;
        msg.body_case = DATA_MESSAGE__BODY_ACK;
        msg.ack = &ack;
        if (conn_queue(c, &msg) != EMBER_OK)
            conn_break(dn, c);
        return;
    }
    PipelineAck ack = PIPELINE_ACK__INIT;
    ack.block_id = p->block_id;
    ack.seqno = seqno;
    ack.heartbeat = heartbeat;
    ack.ok = ok;
    ack.failed_rank = ok ? 0 : failed_rank;
    ack.gen_stamp = p->gen_stamp;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_PIPELINE_ACK;
    msg.pipeline_ack = &ack;
    dn_send(dn, p->upstream_rank, &msg);
}

/* Fails p: a failed ack for its oldest unacked packet (seqno when none is
 * waiting) goes upstream, naming failed_rank (-1: unknown), then p ends. */
static void pipeline_fail(datanode *dn, dn_pipeline *p, uint64_t seqno, int failed_rank,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void pipeline_fail(datanode *dn, dn_pipeline *p, uint64_t seqno, int failed_rank,
                          const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    char message[640];
    snprintf(message, sizeof(message), "write of blk_%" PRIu64 " failed on rank %d: %s",
             p->block_id, dn->rank, why);
    int heartbeat = 0;
    if (p->count > 0) {
        seqno = p->window[p->head].seqno;
        heartbeat = p->window[p->head].heartbeat;
    }
    LOG_WARN("datanode: %s (failed rank %d)%s", message, failed_rank,
             p->writer == NULL ? ""
             : p->transfer     ? "; partial copy deleted"
                               : "; replica kept for recovery");
    pipeline_ack_upstream(dn, p, seqno, heartbeat, 0, failed_rank, message);
    pipeline_end(dn, p);
}

/* p's last packet is acked upstream: the write succeeded. */
static void pipeline_finish(datanode *dn, dn_pipeline *p) {
    LOG_DEBUG("datanode: pipeline of blk_%" PRIu64 " done (%" PRIu64 " bytes)", p->block_id,
              p->length);
    pipeline_end(dn, p);
}

/* 1 when pkt's CRCs match its data, 512 bytes at a time from data[0]. */
static int dn_packet_crcs_ok(const Packet *pkt) {
    for (size_t i = 0, off = 0; off < pkt->data.len; i++, off += BLOCK_CHUNK_SIZE) {
        size_t n = pkt->data.len - off < BLOCK_CHUNK_SIZE ? pkt->data.len - off : BLOCK_CHUNK_SIZE;
        if (i >= pkt->n_crcs || crc32c(0, pkt->data.data + off, n) != pkt->crcs[i])
            return 0;
    }
    return 1;
}

/* See datanode_internal.h. */
void dn_send_block_received(datanode *dn, uint64_t id, uint64_t gs, uint64_t length) {
    BlockReceived br = BLOCK_RECEIVED__INIT;
    br.block_id = id;
    br.gen_stamp = gs;
    br.length = length;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_RECEIVED;
    msg.block_received = &br;
    dn_send(dn, dn->primary_rank, &msg);
}

/* See datanode_internal.h.  Pieces take up to MESSAGE_REPORT_MAX entries
 * of each list. */
int dn_send_incremental_report(datanode *dn, const block_info *received, size_t nreceived,
                               const uint64_t *deleted, size_t ndeleted) {
    size_t piece = nreceived < MESSAGE_REPORT_MAX ? nreceived : MESSAGE_REPORT_MAX;
    uint64_t *fields = malloc((3 * piece + 1) * sizeof(uint64_t));
    if (fields == NULL) {
        LOG_ERROR("datanode: out of memory for an incremental block report");
        return EMBER_ENOMEM;
    }
    int rc = EMBER_OK;
    size_t r = 0, d = 0;
    while (rc == EMBER_OK && (r < nreceived || d < ndeleted)) {
        size_t nr = nreceived - r < piece ? nreceived - r : piece;
        size_t nd = ndeleted - d < MESSAGE_REPORT_MAX ? ndeleted - d : MESSAGE_REPORT_MAX;
        for (size_t i = 0; i < nr; i++) {
            fields[i] = received[r + i].block_id;
            fields[nr + i] = received[r + i].gen_stamp;
            fields[2 * nr + i] = received[r + i].length;
        }
        IncrementalBlockReport ibr = INCREMENTAL_BLOCK_REPORT__INIT;
        ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = nr;
        ibr.received_block_ids = fields;
        ibr.received_gen_stamps = fields + nr;
        ibr.received_lengths = fields + 2 * nr;
        ibr.n_deleted_block_ids = nd;
        ibr.deleted_block_ids = (uint64_t *)(deleted + d);
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT;
        msg.incremental_block_report = &ibr;
        rc = dn_send(dn, dn->primary_rank, &msg);
        r += nr;
        d += nd;
    }
    free(fields);
    return rc;
}

/* See datanode_internal.h. */
int dn_send_bad_replica(datanode *dn, uint64_t block_id) {
    ReportBadBlock bad = REPORT_BAD_BLOCK__INIT;
    bad.block_id = block_id;
    bad.rank = (uint32_t)dn->rank;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BAD_REPLICA;
    msg.bad_replica = &bad;
    return dn_send(dn, dn->primary_rank, &msg);
}

/* Sends pkt to downstream[0] as data: a PipelinePacket, seqno 0 carrying
 * the pipeline's setup.  The transport's answer (EMBER_EAGAIN: full). */
static int pipeline_send_packet(datanode *dn, dn_pipeline *p, const Packet *pkt) {
    PipelinePacket pp = PIPELINE_PACKET__INIT;
    pp.block_id = p->block_id;
    pp.gen_stamp = p->gen_stamp;
    pp.n_downstream = p->n_downstream - 1;
    pp.downstream = p->downstream + 1;
    pp.packet = (Packet *)pkt;
    pp.append_gen_stamp = pkt->seqno == 0 ? p->append_gen_stamp : 0;
    pp.recovery_gen_stamp = pkt->seqno == 0 ? p->recovery_gs : 0;
    pp.recovery_length = pkt->seqno == 0 ? p->recovery_length : 0;
    pp.transfer = p->transfer;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_PIPELINE_PACKET;
    msg.pipeline_packet = &pp;
    return dn_send_data(dn, (int)p->downstream[0], &msg);
}

/* Queues pkt in p's window for the downstream ack and sends it to
 * downstream[0] -- or holds a packed copy in its entry when downstream[0]
 * is full or earlier packets are held (pipeline_send_held() sends it
 * later, in order).  0, or the failure, after which p is freed. */
static int pipeline_forward(datanode *dn, dn_pipeline *p, const Packet *pkt, int64_t now) {
    pipe_entry *e = &p->window[(p->head + p->count) % DN_PIPELINE_WINDOW];
    *e = (pipe_entry){.seqno = pkt->seqno, .heartbeat = pkt->heartbeat, .sent_ms = now};
    int rc = p->held > 0 ? EMBER_EAGAIN : pipeline_send_packet(dn, p, pkt);
    if (rc == EMBER_EAGAIN) {
        e->held_len = packet__get_packed_size(pkt);
        e->held = malloc(e->held_len + 1);
        rc = e->held != NULL ? EMBER_OK : EMBER_ENOMEM;
        if (rc == EMBER_OK) {
            packet__pack(pkt, e->held);
            p->held++;
        }
    }
    if (rc != EMBER_OK) {
        pipeline_fail(dn, p, pkt->seqno, rc == EMBER_ENOMEM ? dn->rank : (int)p->downstream[0],
                      "cannot forward %spacket %" PRIu64 " to rank %u: %s",
                      pkt->heartbeat ? "heartbeat " : "", pkt->seqno, p->downstream[0],
                      ember_strerror(rc));
        return rc;
    }
    p->count++;
    return EMBER_OK;
}

/* Sends p's held packets, oldest first, while downstream[0] takes them.
 * 0, or the failure, after which p is freed. */
static int pipeline_send_held(datanode *dn, dn_pipeline *p) {
    while (p->held > 0) {
        pipe_entry *e = &p->window[(p->head + p->count - p->held) % DN_PIPELINE_WINDOW];
        Packet *pkt = packet__unpack(NULL, e->held_len, e->held);
        int rc = pkt != NULL ? pipeline_send_packet(dn, p, pkt) : EMBER_ENOMEM;
        if (pkt != NULL)
            packet__free_unpacked(pkt, NULL);
        if (rc == EMBER_EAGAIN)
            return EMBER_OK; /* the next writable callback goes on */
        if (rc != EMBER_OK) {
            pipeline_fail(dn, p, e->seqno, rc == EMBER_ENOMEM ? dn->rank : (int)p->downstream[0],
                          "cannot forward held packet %" PRIu64 " to rank %u: %s", e->seqno,
                          p->downstream[0], ember_strerror(rc));
            return rc;
        }
        free(e->held);
        e->held = NULL;
        p->held--;
    }
    return EMBER_OK;
}

void datanode_on_writable(datanode *dn, int dest) {
    /* Backwards: pipeline_end() moves the last entry into the freed slot. */
    for (size_t i = dn->npipes; i-- > 0;) {
        if (i >= dn->npipes)
            continue;
        dn_pipeline *p = dn->pipes[i];
        if (p->held > 0 && (int)p->downstream[0] == dest)
            pipeline_send_held(dn, p);
    }
    dn_replication_on_writable(dn, dest);
}

/* Appends pkt's data to p's replica: a packet's CRCs are of its own
 * 512-byte pieces.  Aligned on the block's chunks, the store checks them;
 * a packet that continues a partial chunk (after a client's hflush) is
 * checked here and the store recomputes the chunk's CRC.  0, or the
 * failure, after which p is freed. */
static int pipeline_write(datanode *dn, dn_pipeline *p, const Packet *pkt) {
    if (pkt->data.len == 0)
        return EMBER_OK;
    int rc = EMBER_OK;
    const uint32_t *crcs = pkt->crcs;
    if (p->length % BLOCK_CHUNK_SIZE != 0) {
        crcs = NULL;
        rc = dn_packet_crcs_ok(pkt) ? EMBER_OK : EMBER_ECORRUPT;
    }
    if (rc == EMBER_OK)
        rc = block_writer_append(p->writer, pkt->data.data, pkt->data.len, crcs,
                                 crcs != NULL ? pkt->n_crcs : 0);
    if (rc == EMBER_ECORRUPT)
        pipeline_fail(dn, p, pkt->seqno, dn->rank,
                      "checksum mismatch in packet %" PRIu64 " (offset %" PRIu64 ")", pkt->seqno,
                      pkt->offset);
    else if (rc != EMBER_OK)
        pipeline_fail(dn, p, pkt->seqno, dn->rank, "local write failed: %s", ember_strerror(rc));
    return rc;
}

/* Takes the next packet of p from upstream: checks it, appends it
 * locally, forwards it downstream, fsyncs the replica when it asks to
 * (hsync), finalizes on the last one, and acks it now (no downstream) or
 * queues it for the downstream ack.  A heartbeat is checked the same way
 * (seqno and offset where the next data packet's would be), then only
 * resets the idle deadline, goes downstream and is acked in turn: nothing
 * is written and the seqno does not move.  p may be freed on return
 * (finished or failed). */
static void pipeline_receive(datanode *dn, dn_pipeline *p, const Packet *pkt) {
    int64_t now = clock_monotonic_ms();
    const char *kind = pkt->heartbeat ? "heartbeat packet" : "packet";
    if (p->state != PIPE_RECEIVING) {
        pipeline_fail(dn, p, pkt->seqno, -1, "%s %" PRIu64 " after the last one", kind,
                      pkt->seqno);
        return;
    }
    if (pkt->seqno != p->next_seqno) {
        pipeline_fail(dn, p, pkt->seqno, -1, "%s %" PRIu64 " out of order (expected %" PRIu64 ")",
                      kind, pkt->seqno, p->next_seqno);
        return;
    }
    if (pkt->offset != p->length) {
        pipeline_fail(dn, p, pkt->seqno, -1, "%s %" PRIu64 " at offset %" PRIu64
                      ", expected %" PRIu64, kind, pkt->seqno, pkt->offset, p->length);
        return;
    }
    if (p->count == DN_PIPELINE_WINDOW) {
        pipeline_fail(dn, p, pkt->seqno, -1, "more than %d packets awaiting acks",
                      DN_PIPELINE_WINDOW);
        return;
    }
    if (pkt->last && p->conn == NULL && !p->transfer && fault_injection_hold_finalize(dn->rank)) {
        LOG_WARN("datanode: fault injection: last packet of blk_%" PRIu64 " held", p->block_id);
        return; /* EMBER_FAULT_HOLD_FINALIZE (tests only): see fault_injection.h */
    }
    if (!pkt->heartbeat) {
        if (pipeline_write(dn, p, pkt) != EMBER_OK)
            return;
        p->length += pkt->data.len;
        p->next_seqno++;
    }
    p->upstream_deadline_ms = now + dn->io_timeout_ms;
    if (p->n_downstream > 0 && pipeline_forward(dn, p, pkt, now) != EMBER_OK)
        return;

    if (pkt->sync) {
        int rc = block_writer_sync(p->writer);
        if (rc != EMBER_OK) {
            pipeline_fail(dn, p, pkt->seqno, dn->rank, "hsync of packet %" PRIu64 " failed: %s",
                          pkt->seqno, ember_strerror(rc));
            return;
        }
        LOG_DEBUG("datanode: hsync of blk_%" PRIu64 " at %" PRIu64 " bytes", p->block_id,
                  p->length);
    }

    if (pkt->last) {
        uint64_t length = 0;
        int rc = block_writer_finalize(p->writer, &length);
        p->writer = NULL; /* freed by finalize, whatever the result */
        p->state = PIPE_DRAINING;
        if (rc != EMBER_OK) {
            pipeline_fail(dn, p, pkt->seqno, dn->rank, "finalize failed: %s", ember_strerror(rc));
            return;
        }
        char from[80];
        if (p->conn != NULL)
            snprintf(from, sizeof(from), "client %s", p->conn->peer);
        else
            snprintf(from, sizeof(from), "rank %d", p->upstream_rank);
        LOG_INFO("datanode: received blk_%" PRIu64 " gs %" PRIu64 " (%" PRIu64 " bytes) from %s",
                 p->block_id, p->gen_stamp, length, from);
        dn_send_block_received(dn, p->block_id, p->gen_stamp, length);
    }

    if (p->n_downstream == 0)
        pipeline_ack_upstream(dn, p, pkt->seqno, pkt->heartbeat, 1, 0, NULL);
    pipeline_check(p);
    if (p->state == PIPE_DRAINING && p->count == 0)
        pipeline_finish(dn, p);
}

/* See datanode_internal.h. */
int dn_stop_write(datanode *dn, uint64_t block_id, const char *why) {
    dn_pipeline *p = pipeline_find(dn, block_id);
    if (p == NULL)
        return 0;
    pipeline_fail(dn, p, p->next_seqno, -1, "%s", why);
    return 1;
}

/* downstream[0]'s answer for the oldest packet in p's window. */
static void pipeline_handle_ack(datanode *dn, dn_pipeline *p, int source, const PipelineAck *ack) {
    if (p->n_downstream == 0 || source != (int)p->downstream[0]) {
        LOG_WARN("datanode: ack for blk_%" PRIu64 " from rank %d, which is not downstream; ignored",
                 p->block_id, source);
        return;
    }
    if (!ack->ok) {
        pipeline_fail(dn, p, ack->seqno, ack->failed_rank,
                      "rank %d reports packet %" PRIu64 " failed", source, ack->seqno);
        return;
    }
    if (p->count == p->held || p->window[p->head].seqno != ack->seqno ||
        p->window[p->head].heartbeat != ack->heartbeat) {
        pipeline_fail(dn, p, ack->seqno, source,
                      "rank %d acked %spacket %" PRIu64 " out of order", source,
                      ack->heartbeat ? "heartbeat " : "", ack->seqno);
        return;
    }
    p->head = (p->head + 1) % DN_PIPELINE_WINDOW;
    p->count--;
    pipeline_ack_upstream(dn, p, ack->seqno, ack->heartbeat, 1, 0, NULL);
    pipeline_check(p);
    if (p->state == PIPE_DRAINING && p->count == 0)
        pipeline_finish(dn, p);
}

/* The timer's look at one pipeline: a silent upstream or a missing
 * downstream ack fails it.  p may be freed on return. */
static void pipeline_on_timer(datanode *dn, dn_pipeline *p, int64_t now) {
    /* While packets wait for downstream acks, upstream may well be waiting
     * for ours: only the ack timeout counts then. */
    if (p->state == PIPE_RECEIVING && p->count == 0 && now > p->upstream_deadline_ms) {
        LOG_WARN("datanode: no packet of blk_%" PRIu64 " from %s for %" PRId64
                 " ms; replica kept for recovery",
                 p->block_id, p->conn != NULL ? "the client" : "upstream", dn->io_timeout_ms);
        if (p->conn != NULL)
            conn_reject(dn, p->conn, EMBER_ETIMEDOUT, "no packet within the I/O timeout");
        else
            pipeline_end(dn, p);
        return;
    }
    if (p->count > 0 && now - p->window[p->head].sent_ms > p->ack_timeout_ms) {
        pipeline_fail(dn, p, p->window[p->head].seqno, (int)p->downstream[0],
                      "no ack from rank %u for packet %" PRIu64 " within %" PRId64 " ms",
                      p->downstream[0], p->window[p->head].seqno, p->ack_timeout_ms);
    }
}

/* ---- rank messages --------------------------------------------------------------- */

/* 0 when a new pipeline of block_id may start here: EMBER_EAGAIN at
 * DN_MAX_PIPELINES, EMBER_EEXIST while this node replicates the block (it
 * holds it, and acks must name one of the two). */
static int dn_pipeline_admit(const datanode *dn, uint64_t block_id) {
    if (dn->npipes >= DN_MAX_PIPELINES)
        return EMBER_EAGAIN;
    return dn_replication_running(dn, block_id) ? EMBER_EEXIST : EMBER_OK;
}

/* A failed PipelineAck for a packet no pipeline here takes. */
static void dn_refuse_packet(datanode *dn, int dest, uint64_t block_id, uint64_t gen_stamp,
                             uint64_t seqno, int failed_rank) {
    PipelineAck ack = PIPELINE_ACK__INIT;
    ack.block_id = block_id;
    ack.seqno = seqno;
    ack.ok = 0;
    ack.failed_rank = failed_rank;
    ack.gen_stamp = gen_stamp;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_PIPELINE_ACK;
    msg.pipeline_ack = &ack;
    dn_send(dn, dest, &msg);
}

/* Why a pipeline of block_id could not start here (pipeline_create()'s
 * rc), in words for a log line and the client. */
static void dn_setup_failure(const datanode *dn, uint64_t block_id, uint64_t gen_stamp,
                             const pipe_setup *setup, int rc, char *text, size_t len) {
    if (setup->recovery_gs != 0 && rc == EMBER_ENOENT)
        snprintf(text, len,
                 "pipeline recovery of blk_%" PRIu64 ": no replica on rank %d with a gen stamp "
                 "from %" PRIu64 " to below %" PRIu64,
                 block_id, dn->rank, setup->recovery_gs, gen_stamp);
    else if (setup->recovery_gs != 0 && rc == EMBER_ESTATE)
        snprintf(text, len,
                 "pipeline recovery of blk_%" PRIu64 ": the replica on rank %d holds fewer than "
                 "the %" PRIu64 " acknowledged bytes",
                 block_id, dn->rank, setup->recovery_length);
    else if (setup->recovery_gs != 0)
        snprintf(text, len, "pipeline recovery of blk_%" PRIu64 " on rank %d failed: %s",
                 block_id, dn->rank, ember_strerror(rc));
    else if (rc == EMBER_EEXIST)
        snprintf(text, len, "blk_%" PRIu64 " already exists on rank %d", block_id, dn->rank);
    else if (rc == EMBER_ENOSPC)
        snprintf(text, len, "cannot write blk_%" PRIu64 " on rank %d: every data directory is full",
                 block_id, dn->rank);
    else if (setup->append_gs != 0 && rc == EMBER_ENOENT)
        snprintf(text, len,
                 "no finalized replica of blk_%" PRIu64 " with gen stamp %" PRIu64
                 " on rank %d to append to",
                 block_id, setup->append_gs, dn->rank);
    else if (setup->append_gs != 0 && rc == EMBER_EINVAL)
        snprintf(text, len,
                 "append to blk_%" PRIu64 ": new gen stamp %" PRIu64 " is not above %" PRIu64,
                 block_id, gen_stamp, setup->append_gs);
    else
        snprintf(text, len, "cannot write blk_%" PRIu64 " on rank %d: %s", block_id, dn->rank,
                 ember_strerror(rc));
}

/* A write of block_id to gen stamp gen_stamp that is a pipeline recovery
 * first stops an older write of the block still running here (its replica
 * is then RBW, or FINALIZED when the last packet had come): its upstream
 * gets a failed ack under the old gen stamp, which a new pipeline of the
 * block ignores.  A write of the same or a newer gen stamp is left
 * alone. */
static void dn_recovery_stop_old(datanode *dn, uint64_t block_id, uint64_t gen_stamp) {
    dn_pipeline *p = pipeline_find(dn, block_id);
    if (p != NULL && p->gen_stamp < gen_stamp)
        dn_stop_write(dn, block_id, "superseded by a pipeline recovery");
}

static void datanode_handle_pipeline_packet(datanode *dn, int source, const PipelinePacket *pp) {
    const Packet *pkt = pp->packet;
    if (pkt->seqno == 0 && pp->recovery_gen_stamp != 0)
        dn_recovery_stop_old(dn, pp->block_id, pp->gen_stamp);
    dn_pipeline *p = pipeline_find(dn, pp->block_id);
    if (p == NULL) {
        if (pkt->seqno != 0) {
            LOG_WARN("datanode: packet %" PRIu64 " of blk_%" PRIu64
                     " from rank %d: no such pipeline here; refused",
                     pkt->seqno, pp->block_id, source);
            dn_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, pkt->seqno, dn->rank);
            return;
        }
        if (datanode_check_downstream(dn, pp->downstream, pp->n_downstream, source) != EMBER_OK) {
            LOG_WARN("datanode: blk_%" PRIu64 " from rank %d: bad downstream list; refused",
                     pp->block_id, source);
            dn_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, 0, -1);
            return;
        }
        pipe_setup setup = {.append_gs = pp->append_gen_stamp,
                            .recovery_gs = pp->recovery_gen_stamp,
                            .recovery_length = pp->recovery_length};
        int rc = dn_pipeline_admit(dn, pp->block_id);
        if (rc == EMBER_OK)
            rc = pipeline_create(dn, pp->block_id, pp->gen_stamp, &setup, pp->downstream,
                                 pp->n_downstream, NULL, source, &p);
        if (rc != EMBER_OK) {
            char text[512];
            dn_setup_failure(dn, pp->block_id, pp->gen_stamp, &setup, rc, text, sizeof(text));
            LOG_WARN("datanode: rank %d: %s", source, text);
            dn_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, 0, dn->rank);
            return;
        }
        p->transfer = pp->transfer && pp->append_gen_stamp == 0 && pp->recovery_gen_stamp == 0;
    } else if (p->upstream_rank != source) {
        LOG_WARN("datanode: packet of blk_%" PRIu64 " from rank %d, not its upstream; ignored",
                 pp->block_id, source);
        return;
    }
    if (pp->gen_stamp != p->gen_stamp) {
        pipeline_fail(dn, p, pkt->seqno, -1, "gen stamp %" PRIu64 " changed to %" PRIu64,
                      p->gen_stamp, pp->gen_stamp);
        return;
    }
    pipeline_receive(dn, p, pkt);
}

/* An ack goes to the pipeline of its block, else to the replication this
 * node sources for it: never both, since a pipeline is refused while a
 * replication of its block runs here and the other way round. */
static void datanode_handle_pipeline_ack(datanode *dn, int source, const PipelineAck *ack) {
    dn_pipeline *p = pipeline_find(dn, ack->block_id);
    if (p != NULL && ack->gen_stamp != 0 && ack->gen_stamp != p->gen_stamp) {
        /* From the pipeline a recovery replaced (or from an older one). */
        LOG_DEBUG("datanode: ack for blk_%" PRIu64 " gs %" PRIu64 " from rank %d: the pipeline "
                  "here is at gs %" PRIu64 "; ignored",
                  ack->block_id, ack->gen_stamp, source, p->gen_stamp);
        return;
    }
    if (p == NULL && dn_replication_handle_ack(dn, source, ack))
        return;
    if (p == NULL) {
        LOG_DEBUG("datanode: ack for blk_%" PRIu64 " from rank %d: pipeline gone; ignored",
                  ack->block_id, source);
        return;
    }
    pipeline_handle_ack(dn, p, source, ack);
}

/* Deletes what the primary asks for and confirms what it deleted with an
 * IncrementalBlockReport (HDFS's DELETED entries), so that the primary's
 * map follows the disk rather than its own order: a replica this node
 * did not have (or is writing) is not confirmed. */
static void datanode_handle_delete_blocks(datanode *dn, int source, const DeleteBlocks *del) {
    if (source != dn->primary_rank) {
        LOG_WARN("datanode: DeleteBlocks from rank %d, not the primary; ignored", source);
        return;
    }
    uint64_t *gone = malloc((del->n_block_ids + 1) * sizeof(uint64_t));
    size_t deleted = 0;
    for (size_t i = 0; i < del->n_block_ids; i++) {
        int rc = block_store_delete(dn->store, del->block_ids[i]);
        if (rc == EMBER_OK) {
            if (gone != NULL)
                gone[deleted] = del->block_ids[i];
            deleted++;
            dn_scanner_forget(dn, del->block_ids[i]);
        } else if (rc != EMBER_ENOENT)
            LOG_WARN("datanode: cannot delete blk_%" PRIu64 ": %s", del->block_ids[i],
                     ember_strerror(rc));
    }
    if (del->n_block_ids == 1)
        LOG_INFO("datanode: deleted blk_%" PRIu64 "%s", del->block_ids[0],
                 deleted ? "" : " (no such replica)");
    else
        LOG_INFO("datanode: deleted %zu of %zu replica(s)", deleted, del->n_block_ids);
    if (gone == NULL)
        LOG_ERROR("datanode: out of memory: %zu deletion(s) not confirmed to the primary", deleted);
    else if (deleted > 0)
        dn_send_incremental_report(dn, NULL, 0, gone, deleted);
    free(gone);
}

/* The primary asks this node to copy a replica it holds (replication.c);
 * a block being written here is not copied from here. */
static void datanode_handle_replicate_block(datanode *dn, int source, const ReplicateBlock *rb) {
    if (source != dn->primary_rank) {
        LOG_WARN("datanode: ReplicateBlock of blk_%" PRIu64
                 " from rank %d, not the primary; ignored",
                 rb->block_id, source);
        return;
    }
    if (pipeline_find(dn, rb->block_id) != NULL) {
        LOG_WARN("datanode: cannot replicate blk_%" PRIu64 ": it is being written here; dropped",
                 rb->block_id);
        return;
    }
    dn_replication_start(dn, rb);
}

void datanode_on_rank_message(datanode *dn, int source, const RankMessage *msg) {
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_PIPELINE_PACKET:
        datanode_handle_pipeline_packet(dn, source, msg->pipeline_packet);
        break;
    case RANK_MESSAGE__BODY_PIPELINE_ACK: datanode_handle_pipeline_ack(dn, source, msg->pipeline_ack); break;
    case RANK_MESSAGE__BODY_DELETE_BLOCKS:
        datanode_handle_delete_blocks(dn, source, msg->delete_blocks);
        break;
    case RANK_MESSAGE__BODY_REPLICATE_BLOCK:
        datanode_handle_replicate_block(dn, source, msg->replicate_block);
        break;
    case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
        dn_recovery_init(dn, source, msg->init_replica_recovery);
        break;
    case RANK_MESSAGE__BODY_UPDATE_REPLICA:
        dn_recovery_update(dn, source, msg->update_replica);
        break;
    default:
        LOG_WARN("datanode: %s from rank %d is not for a datanode", message_rank_name(msg), source);
        break;
    }
}

/* ---- client requests ------------------------------------------------------------ */

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

static void datanode_handle_write_request(datanode *dn, dn_conn *c, const WriteBlockRequest *req) {
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
    if (datanode_check_downstream(dn, req->downstream, req->n_downstream, -1) != EMBER_OK) {
        LOG_WARN("datanode: client %s: write of blk_%" PRIu64 " refused: bad downstream list",
                 c->peer, req->block_id);
        conn_reject(dn, c, EMBER_EINVAL,
                    "bad pipeline: downstream ranks repeat or include this one");
        return;
    }
    pipe_setup setup = {.append_gs = req->append_gen_stamp,
                        .recovery_gs = req->recovery_gen_stamp,
                        .recovery_length = req->recovery_length};
    if (setup.recovery_gs != 0)
        dn_recovery_stop_old(dn, req->block_id, req->gen_stamp);
    dn_pipeline *p = NULL;
    int rc = dn_pipeline_admit(dn, req->block_id);
    if (rc == EMBER_OK)
        rc = pipeline_create(dn, req->block_id, req->gen_stamp, &setup, req->downstream,
                             req->n_downstream, c, -1, &p);
    if (rc != EMBER_OK) {
        dn_setup_failure(dn, req->block_id, req->gen_stamp, &setup, rc, text, sizeof(text));
        LOG_WARN("datanode: client %s: %s", c->peer, text);
        conn_reject(dn, c, rc, text);
        return;
    }
    c->state = CONN_WRITE;
    frame_server_set_max_frame(dn->data_server, c->id, DATANODE_FRAME_MAX);
    frame_server_set_deadline(dn->data_server, c->id, 0); /* the pipeline has its own */
    LOG_INFO("datanode: client %s: %s blk_%" PRIu64 " gs %" PRIu64 " at %" PRIu64
             " (%zu downstream)",
             c->peer,
             setup.recovery_gs != 0 ? "recovering"
             : setup.append_gs != 0 ? "appending to"
                                    : "writing",
             req->block_id, req->gen_stamp, p->length, req->n_downstream);
}

static void datanode_handle_read_request(datanode *dn, dn_conn *c, const ReadBlockRequest *req) {
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
    case DATA_MESSAGE__BODY_WRITE_BLOCK: datanode_handle_write_request(dn, c, msg->write_block); break;
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
    default: datanode_handle_read_request(dn, c, msg->read_block); break;
    }
}

/* The data server's callbacks (proto/frame_server.h). */

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
        pipeline_receive(dn, c->pipe, msg->packet);
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
        (c->state == CONN_READ || (c->state == CONN_WRITE && c->pipe->state == PIPE_DRAINING))) {
        c->eof = 1;
        return 1;
    }
    if (c->pipe != NULL && c->pipe->state == PIPE_RECEIVING)
        LOG_WARN("datanode: client %s closed the connection before the last packet of blk_%" PRIu64
                 "; replica kept for recovery",
                 c->peer, c->pipe->block_id);
    else if (c->state == CONN_WRITE || c->state == CONN_READ || pending > 0)
        LOG_INFO("datanode: client %s disconnected early", c->peer);
    if (c->pipe != NULL) {
        dn_pipeline *p = c->pipe;
        c->pipe = NULL;
        p->conn = NULL;
        pipeline_end(dn, p);
    }
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
    if (c->pipe != NULL) {
        dn_pipeline *p = c->pipe;
        c->pipe = NULL;
        p->conn = NULL;
        pipeline_end(dn, p);
    }
    block_reader_close(c->block);
    free(c);
}

/* Every few ms: pipeline and replication timeouts. */
static void dn_on_timer(event_loop *loop, void *arg) {
    datanode *dn = arg;
    int64_t now = clock_monotonic_ms();
    /* Backwards: pipeline_end() moves the last entry into the freed slot. */
    for (size_t i = dn->npipes; i-- > 0;)
        if (i < dn->npipes)
            pipeline_on_timer(dn, dn->pipes[i], now);
    dn_replication_on_timer(dn, now);
}

/* ---- lifecycle -------------------------------------------------------------------- */

int datanode_create(event_loop *loop, const datanode_options *opts, datanode **out, char *err,
                    size_t errlen) {
    if (opts->data_dirs == NULL || opts->bind_addr == NULL || opts->send == NULL ||
        opts->io_timeout_ms <= 0 || opts->scan_bytes_per_sec < 0 || opts->scan_period_ms < 0 ||
        opts->directory_scan_interval_ms < 0) {
        snprintf(err, errlen, "datanode: incomplete or invalid options");
        return EMBER_EINVAL;
    }
    datanode *dn = calloc(1, sizeof(*dn));
    if (dn == NULL) {
        snprintf(err, errlen, "datanode: out of memory");
        return EMBER_ENOMEM;
    }
    dn->loop = loop;
    dn->rank = opts->rank;
    dn->primary_rank = opts->primary_rank;
    dn->io_timeout_ms = opts->io_timeout_ms;
    dn->send = opts->send;
    dn->send_data = opts->send_data != NULL ? opts->send_data : opts->send;
    dn->send_arg = opts->send_arg;
    int rc = EMBER_ENOMEM;
    dn->data_dirs = strdup(opts->data_dirs);
    if (dn->data_dirs == NULL) {
        snprintf(err, errlen, "datanode: out of memory");
        goto fail;
    }
    rc = block_store_open(opts->data_dirs, &dn->store, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    block_store_set_sync_on_close(dn->store, opts->sync_on_close);
    block_store_set_reserved(dn->store, opts->reserved_bytes);
    dn->block_size = opts->block_size;
    int listen_fd;
    rc = socket_listen_tcp(opts->bind_addr, opts->port, &listen_fd, &dn->port);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "datanode: cannot listen on %s:%d: %s", opts->bind_addr, opts->port,
                 rc == EMBER_EIO ? strerror(errno) : ember_strerror(rc));
        goto fail;
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
    rc = frame_server_create(loop, &so, &dn->data_server);
    if (rc == EMBER_OK) {
        int64_t interval = dn->io_timeout_ms / 4;
        interval = interval < 10 ? 10 : interval > DN_TIMER_MAX_MS ? DN_TIMER_MAX_MS : interval;
        rc = event_loop_add_timer(loop, interval, dn_on_timer, dn, &dn->timer_id);
    }
    if (rc == EMBER_OK)
        rc = dn_scanner_start(dn, opts->scan_bytes_per_sec, opts->scan_period_ms);
    if (rc == EMBER_OK)
        rc = dn_directory_scanner_start(dn, opts->directory_scan_interval_ms);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "datanode: cannot register with the event loop: %s",
                 ember_strerror(rc));
        goto fail;
    }
    dn_short_circuit_start(dn, opts->domain_socket_path); /* off on failure, never fatal */
    *out = dn;
    return EMBER_OK;
fail:
    datanode_destroy(dn);
    return rc;
}

void datanode_destroy(datanode *dn) {
    if (dn == NULL)
        return;
    frame_server_destroy(dn->data_server); /* ends the pipelines of its connections */
    dn->data_server = NULL;
    while (dn->npipes > 0)
        pipeline_end(dn, dn->pipes[0]);
    dn_replication_abort_all(dn);
    dn_scanner_stop(dn);
    dn_directory_scanner_stop(dn);
    dn_short_circuit_stop(dn);
    free(dn->pipes);
    if (dn->timer_id != 0)
        event_loop_remove_timer(dn->loop, dn->timer_id);
    block_store_close(dn->store);
    free(dn->secret);
    free(dn->data_dirs);
    free(dn);
}

int datanode_port(const datanode *dn) { return dn->port; }

void datanode_set_secret(datanode *dn, const char *secret) {
    free(dn->secret);
    dn->secret = (secret != NULL && secret[0] != '\0') ? strdup(secret) : NULL;
}

/* The finalized replicas go in pieces of at most MESSAGE_REPORT_MAX; the
 * last piece also lists the RBW replicas (at most MESSAGE_REPORT_MAX of
 * them), split into three arrays the same way. */
void datanode_send_block_report(datanode *dn) {
    block_info *list = NULL, *rbw = NULL;
    size_t n = 0, nrbw = 0;
    int rc = block_store_list(dn->store, &list, &n);
    if (rc == EMBER_OK)
        rc = block_store_list_rbw(dn->store, &rbw, &nrbw);
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: cannot list replicas for the block report: %s", ember_strerror(rc));
        free(list);
        return;
    }
    if (nrbw > MESSAGE_REPORT_MAX) {
        LOG_WARN("datanode: %zu rbw replicas; the block report lists the first %d", nrbw,
                 MESSAGE_REPORT_MAX);
        nrbw = MESSAGE_REPORT_MAX;
    }
    size_t piece = n < MESSAGE_REPORT_MAX ? n : MESSAGE_REPORT_MAX;
    uint64_t *ids = malloc((piece + 1) * sizeof(uint64_t));
    uint64_t *gss = malloc((piece + 1) * sizeof(uint64_t));
    uint64_t *lens = malloc((piece + 1) * sizeof(uint64_t));
    uint64_t *rbw_fields = malloc((3 * nrbw + 1) * sizeof(uint64_t));
    if (ids == NULL || gss == NULL || lens == NULL || rbw_fields == NULL) {
        LOG_ERROR("datanode: out of memory for the block report");
        goto done;
    }
    for (size_t i = 0; i < nrbw; i++) {
        rbw_fields[i] = rbw[i].block_id;
        rbw_fields[nrbw + i] = rbw[i].gen_stamp;
        rbw_fields[2 * nrbw + i] = rbw[i].length;
    }
    uint32_t seq = 0;
    size_t off = 0;
    do {
        size_t k = n - off < MESSAGE_REPORT_MAX ? n - off : MESSAGE_REPORT_MAX;
        for (size_t i = 0; i < k; i++) {
            ids[i] = list[off + i].block_id;
            gss[i] = list[off + i].gen_stamp;
            lens[i] = list[off + i].length;
        }
        BlockReport report = BLOCK_REPORT__INIT;
        report.seq = seq++;
        report.last = off + k == n;
        report.n_block_ids = report.n_gen_stamps = report.n_lengths = k;
        report.block_ids = ids;
        report.gen_stamps = gss;
        report.lengths = lens;
        if (report.last) {
            report.n_rbw_block_ids = report.n_rbw_gen_stamps = report.n_rbw_lengths = nrbw;
            report.rbw_block_ids = rbw_fields;
            report.rbw_gen_stamps = rbw_fields + nrbw;
            report.rbw_lengths = rbw_fields + 2 * nrbw;
        }
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
        msg.block_report = &report;
        if (dn_send(dn, dn->primary_rank, &msg) != EMBER_OK)
            break;
        off += k;
    } while (off < n);
    LOG_INFO("datanode: block report sent: %zu replica(s) and %zu rbw in %u piece(s)", n, nrbw,
             seq);
done:
    free(ids);
    free(gss);
    free(lens);
    free(rbw_fields);
    free(rbw);
    free(list);
}

void datanode_storage(const datanode *dn, disk_usage *out) {
    block_store_space(dn->store, dn->block_size, out);
}
