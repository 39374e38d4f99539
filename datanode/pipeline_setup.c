/* pipeline_setup.c -- how a write pipeline starts on this datanode: from
 * a client's WriteBlockRequest (first datanode) or the first
 * PipelinePacket from the previous datanode, as a new replica, an append
 * or a pipeline recovery (HDFS's PIPELINE_SETUP_CREATE, _APPEND and
 * _STREAMING_RECOVERY).  pipeline.c runs it from then on.
 *
 * Its writer is a new replica, or for an append (WriteBlockRequest or
 * seqno-0 PipelinePacket with append_gen_stamp) this node's finalized
 * replica of that gen stamp moved back to rbw/ under the request's new
 * gen stamp (block_writer_reopen()): the first packet's offset must be its
 * length, possibly mid-chunk, and downstream gets append_gen_stamp on
 * seqno 0; the rest is an ordinary write.  For a pipeline recovery
 * (WriteBlockRequest or seqno-0 PipelinePacket with recovery_gen_stamp: a
 * node of the client's pipeline failed, the client asked the namenode for
 * a new gen stamp and goes on with the nodes left) a write of the block
 * still running here under an older gen stamp is stopped first
 * (dn_pipeline_stop_write(): its failed ack goes upstream under the old
 * gen stamp), then the node's replica with a gen stamp in
 * [recovery_gen_stamp, gen_stamp) -- RBW, or FINALIZED when the last
 * packet came but its ack was lost -- is reopened under gen_stamp and cut
 * to recovery_length, the bytes the client had acknowledged, which every
 * node of the pipeline wrote (block_writer_reopen_at()); a node that holds
 * fewer, or no such replica, refuses (a DataError to the client, a failed
 * PipelineAck naming itself upstream), so that the client drops it too.
 * With nothing acknowledged, a node that never got the block starts a new
 * replica.  The first packet's offset is then recovery_length, seqnos
 * start again at 0, and downstream gets the recovery fields on seqno 0.
 *
 * Admission: at most DN_MAX_PIPELINES at once, one per block, and none
 * while this node sources a replication of the block (replication.c):
 * acks are routed by block id, so no block id may name both.  A packet
 * that no pipeline here takes is answered with a failed PipelineAck.
 * Runs on the datanode's loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "pipeline_internal.h"
#include "proto/message.h"

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
 * dn_pipeline_end()): a new replica; for an append (setup->append_gs != 0)
 * the finalized replica of gen stamp append_gs reopened under gen_stamp,
 * the write going on at its end; for a pipeline recovery
 * (setup->recovery_gs != 0) the replica pipeline_recovery_writer() finds,
 * the write going on at the acknowledged length.  On failure nothing is
 * left: the block store's error (EMBER_EEXIST, EMBER_ENOENT,
 * EMBER_ESTATE, ...) or EMBER_ENOMEM. */
static int pipeline_create(datanode *dn, uint64_t block_id, uint64_t gen_stamp,
                           const pipe_setup *setup, const uint32_t *downstream, size_t n_downstream,
                           dn_conn *conn, int upstream_rank, dn_pipeline **out) {
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
    p->id = ++dn->last_pipe_id;
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
    dn->pipes[dn->npipes++] = p;
    dn_pipeline_check(p);
    *out = p;
    return EMBER_OK;
}

/* 0 when a new pipeline of block_id may start here: EMBER_EAGAIN at
 * DN_MAX_PIPELINES, EMBER_EEXIST while this node replicates the block (it
 * holds it, and acks must name one of the two). */
static int pipeline_admit(const datanode *dn, uint64_t block_id) {
    if (dn->npipes >= DN_MAX_PIPELINES)
        return EMBER_EAGAIN;
    return dn_replication_running(dn, block_id) ? EMBER_EEXIST : EMBER_OK;
}

/* A failed PipelineAck for a packet no pipeline here takes. */
static void pipeline_refuse_packet(datanode *dn, int dest, uint64_t block_id, uint64_t gen_stamp,
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
static void pipeline_setup_failure(const datanode *dn, uint64_t block_id, uint64_t gen_stamp,
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
        snprintf(text, len, "pipeline recovery of blk_%" PRIu64 " on rank %d failed: %s", block_id,
                 dn->rank, ember_strerror(rc));
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
static void pipeline_recovery_stop_old(datanode *dn, uint64_t block_id, uint64_t gen_stamp) {
    dn_pipeline *p = dn_pipeline_find(dn, block_id);
    if (p != NULL && p->gen_stamp < gen_stamp)
        dn_pipeline_stop_write(dn, block_id, "superseded by a pipeline recovery");
}

/* See datanode_internal.h. */
int dn_pipeline_start_client(datanode *dn, dn_conn *conn, const WriteBlockRequest *req,
                             dn_pipeline **out, char *text, size_t textlen) {
    const char *peer = dn_transfer_peer(conn);
    if (datanode_check_downstream(dn, req->downstream, req->n_downstream, -1) != EMBER_OK) {
        LOG_WARN("datanode: client %s: write of blk_%" PRIu64 " refused: bad downstream list", peer,
                 req->block_id);
        snprintf(text, textlen, "bad pipeline: downstream ranks repeat or include this one");
        return EMBER_EINVAL;
    }
    pipe_setup setup = {.append_gs = req->append_gen_stamp,
                        .recovery_gs = req->recovery_gen_stamp,
                        .recovery_length = req->recovery_length};
    if (setup.recovery_gs != 0)
        pipeline_recovery_stop_old(dn, req->block_id, req->gen_stamp);
    dn_pipeline *p = NULL;
    int rc = pipeline_admit(dn, req->block_id);
    if (rc == EMBER_OK)
        rc = pipeline_create(dn, req->block_id, req->gen_stamp, &setup, req->downstream,
                             req->n_downstream, conn, -1, &p);
    if (rc != EMBER_OK) {
        pipeline_setup_failure(dn, req->block_id, req->gen_stamp, &setup, rc, text, textlen);
        LOG_WARN("datanode: client %s: %s", peer, text);
        return rc;
    }
    LOG_INFO("datanode: client %s: %s blk_%" PRIu64 " gs %" PRIu64 " at %" PRIu64
             " (%zu downstream)",
             peer,
             setup.recovery_gs != 0 ? "recovering"
             : setup.append_gs != 0 ? "appending to"
                                    : "writing",
             req->block_id, req->gen_stamp, p->length, req->n_downstream);
    *out = p;
    return EMBER_OK;
}

/* See datanode_internal.h. */
void dn_pipeline_handle_packet(datanode *dn, int source, const PipelinePacket *pp,
                               uint8_t **payload) {
    const Packet *pkt = pp->packet;
    if (pkt->seqno == 0 && pp->recovery_gen_stamp != 0)
        pipeline_recovery_stop_old(dn, pp->block_id, pp->gen_stamp);
    dn_pipeline *p = dn_pipeline_find(dn, pp->block_id);
    if (p == NULL) {
        if (pkt->seqno != 0) {
            LOG_WARN("datanode: packet %" PRIu64 " of blk_%" PRIu64
                     " from rank %d: no such pipeline here; refused",
                     pkt->seqno, pp->block_id, source);
            pipeline_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, pkt->seqno, dn->rank);
            return;
        }
        if (datanode_check_downstream(dn, pp->downstream, pp->n_downstream, source) != EMBER_OK) {
            LOG_WARN("datanode: blk_%" PRIu64 " from rank %d: bad downstream list; refused",
                     pp->block_id, source);
            pipeline_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, 0, -1);
            return;
        }
        pipe_setup setup = {.append_gs = pp->append_gen_stamp,
                            .recovery_gs = pp->recovery_gen_stamp,
                            .recovery_length = pp->recovery_length};
        int rc = pipeline_admit(dn, pp->block_id);
        if (rc == EMBER_OK)
            rc = pipeline_create(dn, pp->block_id, pp->gen_stamp, &setup, pp->downstream,
                                 pp->n_downstream, NULL, source, &p);
        if (rc != EMBER_OK) {
            char text[512];
            pipeline_setup_failure(dn, pp->block_id, pp->gen_stamp, &setup, rc, text, sizeof(text));
            LOG_WARN("datanode: rank %d: %s", source, text);
            pipeline_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, 0, dn->rank);
            return;
        }
        p->transfer = pp->transfer && pp->append_gen_stamp == 0 && pp->recovery_gen_stamp == 0;
    } else if (p->upstream_rank != source) {
        LOG_WARN("datanode: packet of blk_%" PRIu64 " from rank %d, not its upstream; ignored",
                 pp->block_id, source);
        return;
    }
    if (pp->gen_stamp != p->gen_stamp) {
        dn_pipeline_fail(dn, p, pkt->seqno, -1, "gen stamp %" PRIu64 " changed to %" PRIu64,
                         p->gen_stamp, pp->gen_stamp);
        return;
    }
    dn_pipeline_receive(dn, p, pkt, payload);
}

/* See datanode_internal.h.  This node names itself as the failed one:
 * the upstream then drops it from the pipeline, as HDFS drops a mirror it
 * could not get a packet to.  The packets after it find no pipeline and
 * are refused. */
void dn_pipeline_payload_lost(datanode *dn, int source, const PipelinePacket *pp, int status) {
    dn_pipeline *p = dn_pipeline_find(dn, pp->block_id);
    if (p == NULL || p->upstream_rank != source || p->gen_stamp != pp->gen_stamp) {
        LOG_WARN("datanode: the data of packet %" PRIu64 " of blk_%" PRIu64
                 " from rank %d never arrived (%s); refused",
                 pp->packet->seqno, pp->block_id, source, ember_strerror(status));
        pipeline_refuse_packet(dn, source, pp->block_id, pp->gen_stamp, pp->packet->seqno,
                               dn->rank); /* a first packet: no pipeline was set up */
        return;
    }
    dn_pipeline_fail(dn, p, pp->packet->seqno, dn->rank, /* as HDFS blames the mirror */
                     "the data of packet %" PRIu64 " from rank %d never arrived: %s",
                     pp->packet->seqno, source, ember_strerror(status));
}
