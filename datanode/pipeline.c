/* pipeline.c -- the write pipelines this datanode takes part in (HDFS's
 * BlockReceiver and PacketResponder): packets in, written, forwarded,
 * acked.
 *
 * A pipeline is one block being written through this node, keyed by block
 * id; its upstream is the client's connection (first datanode: the data
 * port, transfer_server.c) or the rank that sent its first
 * PipelinePacket.  How one starts -- a new replica, an append, a pipeline
 * recovery -- is pipeline_setup.c's; from then on this file runs it.
 * Each packet is checked (seqno, offset, CRCs), appended locally,
 * forwarded to downstream[0] when there is one, and then acked upstream
 * -- at once without downstream, else when downstream[0]'s PipelineAck
 * for it comes back -- and, for a packet whose hsync or finalize runs on
 * the disk threads (pipeline_disk.c), not before that is done.  Packets
 * not yet acked upstream sit in a window of at most DN_PIPELINE_WINDOW
 * entries, oldest first: those forwarded and waiting for downstream's ack,
 * those waiting for the disk (disk_wait), and those behind them; the
 * first acked_down of them downstream acked already.  Since packets are
 * written in order and acks come back in order, acks go upstream in
 * seqno order (dn_pipeline_ack_ready()).  PipelineAcks carry the pipeline's gen stamp: one naming
 * another gen stamp than the pipeline of its block here is stale (an ack
 * of a pipeline a recovery replaced, still in flight, or the failed ack
 * of its stop) and ignored.
 *
 * Packets go downstream as data (opts.send_data): when the transport
 * answers EMBER_EAGAIN (downstream[0]'s queue is full) the packet, already
 * written here, is held in its window entry (packed), as is every later
 * one, and dn_pipeline_on_writable() sends the held ones in order once
 * downstream[0] can take more.  A client's socket is not read meanwhile
 * (dn_transfer_pause(): the frame server stops polling it, so the client
 * is held back by TCP, and at most the packet in hand is held here); its
 * reading resumes once every held packet went out.  An upstream datanode
 * is held back by the window (no ack goes up before downstream's).  The
 * last `held' entries of the window are the held ones.
 *
 * A heartbeat packet (Packet.heartbeat: the client's pipeline was idle
 * for half of io_timeout_ms) is checked the same way -- its seqno and
 * offset are where the next data packet's will be -- and then only resets
 * the upstream deadline, is forwarded and waits in the window as a data
 * packet does, and is acked upstream in its turn, the ack marked
 * heartbeat; it is never written and does not advance next_seqno.  A
 * packet with sync set (the client's hsync) is written, forwarded, and
 * fsynced here, data and meta, on the disk threads; it is acked upstream
 * only once that is done: the client's ack means every node synced it.
 *
 * States (pipe_state, pipeline_internal.h):
 *   PIPE_RECEIVING  packets arrive; the writer is open
 *   PIPE_DRAINING   the last packet was written and its finalize began on
 *                   the disk threads (the writer is the job's); waiting for
 *                   it (then BlockReceived is sent) and the acks
 * RECEIVING -> DRAINING on the last packet; either -> (ended) when the
 * window is empty in DRAINING (success), or on a failure: a local write
 * failure, a bad packet, a failed or missing downstream ack, a silent
 * upstream, the client gone, block recovery (dn_pipeline_stop_write()).
 * A failure acks the oldest unacked packet with ok = 0 upstream (when the
 * upstream can still hear it), detaches the writer and ends the pipeline:
 * the rbw replica stays with what was written -- acked packets may be all
 * a client has of its data -- as a replica waiting for block recovery
 * (recovery.c), listed in block reports; a replica already finalized
 * stays too.  Only a transfer (a copy for ReplicateBlock, marked in its
 * PipelinePackets) deletes a partial replica: its source still has the
 * block.  A node waits io_timeout_ms times the number of nodes downstream
 * of it for an ack, so that the node next to the culprit gives up first
 * and names it.
 *
 * Invariants (dn_pipeline_check(), dn_pipeline_ack_ready()): the writer
 * is open exactly in RECEIVING; a client's socket is paused exactly while
 * packets are held; the window holds at most
 * DN_PIPELINE_WINDOW entries, the held ones the newest and none of the
 * acked_down ones; without downstream nothing is held or acked_down, and
 * the oldest entry, once the ready ones are acked, waits for the disk; a
 * pipeline has a client connection exactly when it has no upstream
 * rank.
 *
 * Ownership: dn->pipes holds every pipeline; dn_pipeline_end() is the
 * only place one is freed.  A pipeline and its client connection point at
 * each other; either end tells the other (dn_transfer_write_ended(),
 * dn_pipeline_drop_client()).  Runs on the datanode's loop thread. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "fault_injection.h"
#include "pipeline_internal.h"
#include "proto/message.h"

/* See pipeline_internal.h. */
void dn_pipeline_check(const dn_pipeline *p) {
    assert((p->state == PIPE_RECEIVING) == (p->writer != NULL));
    assert(p->count <= DN_PIPELINE_WINDOW && p->head < DN_PIPELINE_WINDOW);
    assert(p->held <= p->count && p->acked_down <= p->count - p->held);
    assert(p->n_downstream > 0 || (p->held == 0 && p->acked_down == 0));
    assert((p->conn != NULL) == (p->upstream_rank < 0));
    assert(p->client_paused == (p->conn != NULL && p->held > 0));
    (void)p;
}

/* See pipeline_internal.h. */
dn_pipeline *dn_pipeline_find(const datanode *dn, uint64_t block_id) {
    for (size_t i = 0; i < dn->npipes; i++)
        if (dn->pipes[i]->block_id == block_id)
            return dn->pipes[i];
    return NULL;
}

/* See pipeline_internal.h. */
void dn_pipeline_end(datanode *dn, dn_pipeline *p) {
    for (size_t k = 0; k < p->count; k++) {
        free(p->window[(p->head + k) % DN_PIPELINE_WINDOW].held);
        free(p->window[(p->head + k) % DN_PIPELINE_WINDOW].held_data);
    }
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
    if (p->conn != NULL && p->pauses > 0)
        LOG_INFO("datanode: client %s of blk_%" PRIu64 " was paused %u time(s): rank %u could "
                 "take no more data",
                 dn_transfer_peer(p->conn), p->block_id, p->pauses, p->downstream[0]);
    if (p->conn != NULL) {
        dn_conn *c = p->conn;
        p->conn = NULL;
        dn_transfer_write_ended(dn, c); /* a write connection always has a pipeline */
    }
    free(p);
}

/* Acks seqno (a heartbeat's when heartbeat is set) to p's upstream: a
 * PacketAck to the client or a PipelineAck to the previous datanode. */
static void pipeline_ack_upstream(datanode *dn, dn_pipeline *p, uint64_t seqno, int heartbeat,
                                  int ok, int failed_rank, const char *message) {
    p->upstream_deadline_ms = clock_monotonic_ms() + dn->io_timeout_ms;
    if (p->conn != NULL) {
        PacketAck ack = PACKET_ACK__INIT;
        ack.seqno = seqno;
        ack.heartbeat = heartbeat;
        ack.ok = ok;
        ack.failed_rank = ok ? 0 : failed_rank;
        ack.message = (char *)(message != NULL ? message : "");
        dn_transfer_send_ack(dn, p->conn, &ack);
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

/* See pipeline_internal.h. */
void dn_pipeline_fail(datanode *dn, dn_pipeline *p, uint64_t seqno, int failed_rank,
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
    dn_pipeline_end(dn, p);
}

/* p's last packet is acked upstream: the write succeeded. */
static void pipeline_finish(datanode *dn, dn_pipeline *p) {
    LOG_DEBUG("datanode: pipeline of blk_%" PRIu64 " done (%" PRIu64 " bytes)", p->block_id,
              p->length);
    dn_pipeline_end(dn, p);
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

/* Sends pkt to downstream[0] as data: a PipelinePacket, seqno 0 carrying
 * the pipeline's setup, its data as a bulk payload (dn_send_packet():
 * payload, when not NULL, is &pkt's data buffer to hand over, set to NULL
 * once the transfer has it).  The transport's answer (EMBER_EAGAIN:
 * full). */
static int pipeline_send_packet(datanode *dn, dn_pipeline *p, const Packet *pkt,
                                uint8_t **payload) {
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
    return dn_send_packet(dn, (int)p->downstream[0], &msg, payload);
}

/* Holds pkt in e until downstream[0] can take it: its header packed, its
 * data in a buffer of e's own -- *payload's when there is one (then set
 * to NULL), else a copy.  0 or EMBER_ENOMEM (nothing held). */
static int pipeline_hold(pipe_entry *e, const Packet *pkt, uint8_t **payload) {
    Packet header = *pkt; /* shallow: only packed through */
    header.data.data = NULL;
    header.data.len = 0;
    e->held_len = packet__get_packed_size(&header);
    e->held = malloc(e->held_len + 1);
    int own = payload != NULL && *payload != NULL;
    e->held_data = pkt->data.len == 0 ? NULL : own ? *payload : malloc(pkt->data.len);
    if (e->held == NULL || (pkt->data.len > 0 && e->held_data == NULL)) {
        free(e->held);
        if (!own)
            free(e->held_data);
        e->held = e->held_data = NULL;
        return EMBER_ENOMEM;
    }
    packet__pack(&header, e->held);
    e->held_data_len = pkt->data.len;
    if (own)
        *payload = NULL;
    else if (pkt->data.len > 0)
        memcpy(e->held_data, pkt->data.data, pkt->data.len);
    return EMBER_OK;
}

/* Queues pkt in p's window, for the downstream ack or a disk job, and
 * sends it to downstream[0] when there is one -- or holds it in its entry
 * when downstream[0] is full or earlier packets are held
 * (pipeline_send_held() sends it later, in order).  payload as for
 * pipeline_send_packet().  0, or the failure, after which p is freed. */
static int pipeline_enqueue(datanode *dn, dn_pipeline *p, const Packet *pkt, int64_t now,
                            uint8_t **payload) {
    pipe_entry *e = &p->window[(p->head + p->count) % DN_PIPELINE_WINDOW];
    *e = (pipe_entry){.seqno = pkt->seqno, .heartbeat = pkt->heartbeat, .sent_ms = now};
    int rc = EMBER_OK;
    if (p->n_downstream > 0)
        rc = p->held > 0 ? EMBER_EAGAIN : pipeline_send_packet(dn, p, pkt, payload);
    if (rc == EMBER_EAGAIN) {
        rc = pipeline_hold(e, pkt, payload);
        if (rc == EMBER_OK)
            p->held++;
        if (rc == EMBER_OK && p->conn != NULL && !p->client_paused) {
            dn_transfer_pause(dn, p->conn); /* no more packets until downstream has room */
            p->client_paused = 1;
            p->pauses++;
        }
    }
    if (rc != EMBER_OK) {
        dn_pipeline_fail(dn, p, pkt->seqno, rc == EMBER_ENOMEM ? dn->rank : (int)p->downstream[0],
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
        int rc = EMBER_ENOMEM;
        if (pkt != NULL) {
            ProtobufCBinaryData none = pkt->data;
            pkt->data.data = e->held_data;
            pkt->data.len = e->held_data_len;
            rc = pipeline_send_packet(dn, p, pkt, &e->held_data); /* NULL once sent */
            pkt->data = none;
            packet__free_unpacked(pkt, NULL);
        }
        if (rc == EMBER_EAGAIN)
            return EMBER_OK; /* the next writable callback goes on */
        if (rc != EMBER_OK) {
            dn_pipeline_fail(dn, p, e->seqno, rc == EMBER_ENOMEM ? dn->rank : (int)p->downstream[0],
                             "cannot forward held packet %" PRIu64 " to rank %u: %s", e->seqno,
                             p->downstream[0], ember_strerror(rc));
            return rc;
        }
        free(e->held);
        free(e->held_data); /* NULL unless the data went whole */
        e->held = e->held_data = NULL;
        p->held--;
    }
    if (p->client_paused) {
        dn_transfer_resume(dn, p->conn);
        p->client_paused = 0;
    }
    return EMBER_OK;
}

/* See datanode_internal.h. */
void dn_pipeline_on_writable(datanode *dn, int dest) {
    /* Backwards: dn_pipeline_end() moves the last entry into the freed slot. */
    for (size_t i = dn->npipes; i-- > 0;) {
        if (i >= dn->npipes)
            continue;
        dn_pipeline *p = dn->pipes[i];
        if (p->held > 0 && (int)p->downstream[0] == dest)
            pipeline_send_held(dn, p);
    }
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
        dn_pipeline_fail(dn, p, pkt->seqno, dn->rank,
                         "checksum mismatch in packet %" PRIu64 " (offset %" PRIu64 ")", pkt->seqno,
                         pkt->offset);
    else if (rc != EMBER_OK)
        dn_pipeline_fail(dn, p, pkt->seqno, dn->rank, "local write failed: %s", ember_strerror(rc));
    return rc;
}

/* See datanode_internal.h.  A heartbeat is checked as a packet is (seqno
 * and offset where the next data packet's would be), then only resets
 * the idle deadline, goes downstream and is acked in turn: nothing is
 * written and the seqno does not move. */
void dn_pipeline_receive(datanode *dn, dn_pipeline *p, const Packet *pkt, uint8_t **payload) {
    int64_t now = clock_monotonic_ms();
    const char *kind = pkt->heartbeat ? "heartbeat packet" : "packet";
    if (p->state != PIPE_RECEIVING) {
        dn_pipeline_fail(dn, p, pkt->seqno, -1, "%s %" PRIu64 " after the last one", kind,
                         pkt->seqno);
        return;
    }
    if (pkt->seqno != p->next_seqno) {
        dn_pipeline_fail(dn, p, pkt->seqno, -1,
                         "%s %" PRIu64 " out of order (expected %" PRIu64 ")", kind, pkt->seqno,
                         p->next_seqno);
        return;
    }
    if (pkt->offset != p->length) {
        dn_pipeline_fail(dn, p, pkt->seqno, -1,
                         "%s %" PRIu64 " at offset %" PRIu64 ", expected %" PRIu64, kind,
                         pkt->seqno, pkt->offset, p->length);
        return;
    }
    if (p->count == DN_PIPELINE_WINDOW) {
        dn_pipeline_fail(dn, p, pkt->seqno, -1, "more than %d packets awaiting acks",
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
        if (payload != NULL && *payload != NULL)
            p->bulk_packets++;
        p->length += pkt->data.len;
        p->next_seqno++;
    }
    p->upstream_deadline_ms = now + dn->io_timeout_ms;
    /* Without downstream and with nothing before it waiting for the
     * disk, a packet that needs no disk job is acked at once. */
    if (p->n_downstream == 0 && p->count == 0 && !pkt->sync && !pkt->last) {
        pipeline_ack_upstream(dn, p, pkt->seqno, pkt->heartbeat, 1, 0, NULL);
        dn_pipeline_check(p);
        return;
    }
    if (pipeline_enqueue(dn, p, pkt, now, payload) != EMBER_OK)
        return;
    int rc = EMBER_OK;
    if (pkt->last)
        rc = dn_pipeline_disk_finalize(dn, p, pkt->seqno, pkt->sync);
    else if (pkt->sync)
        rc = dn_pipeline_disk_sync(dn, p, pkt->seqno);
    if (rc < 0)
        return;
    dn_pipeline_ack_ready(dn, p);
}

/* See datanode_internal.h. */
int dn_pipeline_stop_write(datanode *dn, uint64_t block_id, const char *why) {
    dn_pipeline *p = dn_pipeline_find(dn, block_id);
    if (p == NULL)
        return 0;
    dn_pipeline_fail(dn, p, p->next_seqno, -1, "%s", why);
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
        dn_pipeline_fail(dn, p, ack->seqno, ack->failed_rank,
                         "rank %d reports packet %" PRIu64 " failed", source, ack->seqno);
        return;
    }
    const pipe_entry *e = &p->window[(p->head + p->acked_down) % DN_PIPELINE_WINDOW];
    if (p->acked_down == p->count - p->held || e->seqno != ack->seqno ||
        e->heartbeat != ack->heartbeat) {
        dn_pipeline_fail(dn, p, ack->seqno, source,
                         "rank %d acked %spacket %" PRIu64 " out of order", source,
                         ack->heartbeat ? "heartbeat " : "", ack->seqno);
        return;
    }
    p->acked_down++;
    dn_pipeline_ack_ready(dn, p);
}

/* See pipeline_internal.h. */
void dn_pipeline_ack_ready(datanode *dn, dn_pipeline *p) {
    while (p->count > 0) {
        const pipe_entry *e = &p->window[p->head];
        if (e->disk_wait || (p->n_downstream > 0 && p->acked_down == 0))
            break;
        uint64_t seqno = e->seqno;
        int heartbeat = e->heartbeat;
        p->head = (p->head + 1) % DN_PIPELINE_WINDOW;
        p->count--;
        if (p->n_downstream > 0)
            p->acked_down--;
        pipeline_ack_upstream(dn, p, seqno, heartbeat, 1, 0, NULL);
    }
    dn_pipeline_check(p);
    assert(p->count == 0 || p->n_downstream > 0 || p->window[p->head].disk_wait);
    if (p->state == PIPE_DRAINING && p->count == 0)
        pipeline_finish(dn, p);
}

/* See pipeline_internal.h. */
void dn_pipeline_disk_done(datanode *dn, dn_pipeline *p, uint64_t seqno) {
    for (size_t k = p->count; k-- > 0;) {
        pipe_entry *e = &p->window[(p->head + k) % DN_PIPELINE_WINDOW];
        if (e->disk_wait && e->seqno == seqno && !e->heartbeat) {
            e->disk_wait = 0;
            break;
        }
    }
    dn_pipeline_ack_ready(dn, p);
}

/* See datanode_internal.h.  An ack goes to the pipeline of its block,
 * else to the replication this node sources for it: never both, since a
 * pipeline is refused while a replication of its block runs here and the
 * other way round. */
void dn_pipeline_handle_ack(datanode *dn, int source, const PipelineAck *ack) {
    dn_pipeline *p = dn_pipeline_find(dn, ack->block_id);
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
            dn_transfer_reject(dn, p->conn, EMBER_ETIMEDOUT, "no packet within the I/O timeout");
        else
            dn_pipeline_end(dn, p);
        return;
    }
    /* The oldest packet downstream has not acked (a wait for the disk
     * here has no timeout: the upstream's own names this node). */
    const pipe_entry *e = &p->window[(p->head + p->acked_down) % DN_PIPELINE_WINDOW];
    if (p->n_downstream > 0 && p->acked_down < p->count && now - e->sent_ms > p->ack_timeout_ms) {
        dn_pipeline_fail(dn, p, e->seqno, (int)p->downstream[0],
                         "no ack from rank %u for packet %" PRIu64 " within %" PRId64 " ms",
                         p->downstream[0], e->seqno, p->ack_timeout_ms);
    }
}

/* See datanode_internal.h. */
void dn_pipeline_on_timer(datanode *dn, int64_t now) {
    /* Backwards: dn_pipeline_end() moves the last entry into the freed slot. */
    for (size_t i = dn->npipes; i-- > 0;)
        if (i < dn->npipes)
            pipeline_on_timer(dn, dn->pipes[i], now);
}

/* See datanode_internal.h. */
void dn_pipeline_drop_client(datanode *dn, dn_pipeline *p) {
    p->conn = NULL;
    dn_pipeline_end(dn, p);
}

int dn_pipeline_draining(const dn_pipeline *p) { return p->state == PIPE_DRAINING; }

uint64_t dn_pipeline_block_id(const dn_pipeline *p) { return p->block_id; }

const dn_conn *dn_pipeline_client(const dn_pipeline *p) { return p->conn; }

int dn_pipeline_running(const datanode *dn, uint64_t block_id) {
    return dn_pipeline_find(dn, block_id) != NULL;
}

/* See datanode_internal.h. */
void dn_pipeline_abort_all(datanode *dn) {
    while (dn->npipes > 0)
        dn_pipeline_end(dn, dn->pipes[0]);
    free(dn->pipes);
    dn->pipes = NULL;
    dn->pipes_cap = 0;
}
