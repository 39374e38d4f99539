/* replication.c -- the datanode as the source of a ReplicateBlock.
 *
 * The primary asks a node holding a good finalized replica to copy it to
 * a list of targets (HDFS's DataTransfer behind a DNA_TRANSFER command).
 * The node streams the replica down a pipeline of the targets exactly as
 * a first datanode forwards a client's write: PipelinePackets to
 * targets[0] with downstream = targets[1..], seqnos and offsets from 0,
 * at most MESSAGE_PACKET_MAX bytes each on 512-byte chunk boundaries, the
 * stored CRCs, last = true on the final one (an empty replica is one empty
 * last packet).  Every chunk is verified as it is read, so a corrupt local
 * replica stops the copy before a bad byte leaves the node.  targets[0]
 * acks each packet (PipelineAck, in seqno order) once every target wrote
 * it; at most REPLICATION_WINDOW packets are unacked, and each ack lets
 * more go.  Packets go as data, their bytes as bulk payloads sent from
 * the buffer they were read into (dn_send_packet()): when targets[0] is full
 * (EMBER_EAGAIN) the pump stops, and the next ack or the transport's
 * writable callback (dn_replication_on_writable()) starts it again.  Each target finalizes its replica and tells the primary
 * itself (BlockReceived); the source reports nothing.  A failure -- a
 * failed or out-of-order ack, no ack within io_timeout_ms per target, a
 * local read or send failure -- only ends the replication with a WARN:
 * the targets abort their rbw replicas when the packets stop, and the
 * primary retries, from this node or another.
 *
 * A replication (dn_replication.state):
 *   REPL_SENDING   packets remain to be sent; the reader is open
 *   REPL_DRAINING  the last packet went out and the reader is closed;
 *                  waiting for the acks of the packets in flight
 * SENDING -> DRAINING in replication_pump() when the last packet is sent;
 * either -> (ended) in replication_end(): after replication_finish() when
 * the last packet is acked, or replication_fail().  At most
 * DN_MAX_REPLICATIONS run at once (dn->repls), each of another block.
 * Acks are keyed by block id like the datanode's pipelines; a node never
 * has a pipeline and a replication of the same block (pipeline_setup.c
 * and datanode.c refuse each while the other runs), so an ack's block id
 * says whose it is. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "block_store.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"

#define REPLICATION_WINDOW 32 /* packets sent and not yet acked */

typedef enum {
    REPL_SENDING,  /* packets left to send; reader open */
    REPL_DRAINING, /* all sent, reader closed; waiting for the last acks */
} replication_state;

struct dn_replication {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t length; /* the replica's */
    replication_state state;
    block_reader *reader; /* SENDING only */
    uint32_t targets[DN_MAX_DOWNSTREAM];
    size_t n_targets;
    char targets_text[DN_MAX_DOWNSTREAM * 11 + 1]; /* "2,3" for the logs */
    uint64_t next_seqno;                           /* the next packet to send */
    uint64_t next_offset;                          /* where it starts */
    uint64_t acked;                                /* packets 0 .. acked-1 are acked */
    int64_t sent_ms[REPLICATION_WINDOW];           /* packet s went out at [s % WINDOW] */
    int64_t ack_timeout_ms;                        /* how long a packet may wait */
    int64_t started_ms;
};

static void replication_check(const dn_replication *r) {
    assert((r->state == REPL_SENDING) == (r->reader != NULL));
    assert(r->acked <= r->next_seqno && r->next_seqno - r->acked <= REPLICATION_WINDOW);
    assert(r->next_offset <= r->length);
    assert(r->state == REPL_SENDING || r->next_offset == r->length);
    assert(r->n_targets >= 1 && r->n_targets <= DN_MAX_DOWNSTREAM);
    (void)r;
}

static dn_replication *replication_find(const datanode *dn, uint64_t block_id) {
    for (size_t i = 0; i < dn->nrepls; i++)
        if (dn->repls[i]->block_id == block_id)
            return dn->repls[i];
    return NULL;
}

int dn_replication_running(const datanode *dn, uint64_t block_id) {
    return replication_find(dn, block_id) != NULL;
}

/* Writes "2,3,5" into buf (len bytes). */
static void replication_format_targets(const uint32_t *targets, size_t n, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%" PRIu32, i ? "," : "", targets[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* Forgets r: closes its reader if still open and frees r. */
static void replication_end(datanode *dn, dn_replication *r) {
    for (size_t i = 0; i < dn->nrepls; i++) {
        if (dn->repls[i] == r) {
            dn->repls[i] = dn->repls[--dn->nrepls];
            dn->repls[dn->nrepls] = NULL;
            break;
        }
    }
    block_reader_close(r->reader);
    free(r);
}

/* Ends r after a failure, with one WARN saying why.  Nobody else is told:
 * the targets time out on their own and the primary retries. */
static void replication_fail(datanode *dn, dn_replication *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void replication_fail(datanode *dn, dn_replication *r, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    LOG_WARN("datanode: replication of blk_%" PRIu64 " to ranks %s failed: %s", r->block_id,
             r->targets_text, why);
    replication_end(dn, r);
}

/* The last packet is acked: every target holds the replica. */
static void replication_finish(datanode *dn, dn_replication *r) {
    LOG_INFO("datanode: replicated blk_%" PRIu64 " to ranks %s (gs %" PRIu64 ", %" PRIu64
             " bytes, %" PRIu64 " packets, %" PRId64 " ms)",
             r->block_id, r->targets_text, r->gen_stamp, r->length, r->next_seqno,
             clock_monotonic_ms() - r->started_ms);
    replication_end(dn, r);
}

/* Reads, verifies and sends packets while the window has room and some
 * remain; the last one moves r to DRAINING.  A transport that is full
 * (EMBER_EAGAIN) stops it: the packet is read and sent again at the next
 * ack or writable callback.  Returns 0, or -1 when r failed and is
 * freed. */
static int replication_pump(datanode *dn, dn_replication *r) {
    while (r->state == REPL_SENDING && r->next_seqno - r->acked < REPLICATION_WINDOW) {
        uint64_t pos = r->next_offset;
        size_t n =
            r->length - pos > MESSAGE_PACKET_MAX ? MESSAGE_PACKET_MAX : (size_t)(r->length - pos);
        size_t nchunks = (n + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
        uint32_t crcs[DN_CHUNKS_MAX];
        size_t got = 0;
        int rc = EMBER_OK;
        uint8_t *data = n > 0 ? malloc(n) : NULL; /* handed to the transfer (no copy) */
        if (n > 0 && data == NULL)
            rc = EMBER_ENOMEM;
        if (rc == EMBER_OK && n > 0) {
            rc = block_reader_pread(r->reader, data, n, pos, &got);
            if (rc == EMBER_OK && got != n)
                rc = EMBER_ECORRUPT; /* shorter than the index says */
            if (rc == EMBER_OK)
                rc = block_reader_checksums(r->reader, pos / BLOCK_CHUNK_SIZE, nchunks, crcs);
        }
        if (rc != EMBER_OK)
            free(data);
        if (rc == EMBER_ECORRUPT) {
            replication_fail(dn, r,
                             "the local replica is corrupt (chunks from offset %" PRIu64
                             "); stopped before sending them",
                             pos);
            return -1;
        }
        if (rc != EMBER_OK) {
            replication_fail(dn, r, "cannot read the local replica at offset %" PRIu64 ": %s", pos,
                             ember_strerror(rc));
            return -1;
        }
        Packet pkt = PACKET__INIT;
        pkt.seqno = r->next_seqno;
        pkt.offset = pos;
        pkt.data.data = data;
        pkt.data.len = n;
        pkt.crcs = crcs;
        pkt.n_crcs = nchunks;
        pkt.last = pos + n == r->length;
        PipelinePacket pp = PIPELINE_PACKET__INIT;
        pp.block_id = r->block_id;
        pp.gen_stamp = r->gen_stamp;
        pp.downstream = r->targets + 1;
        pp.n_downstream = r->n_targets - 1;
        pp.packet = &pkt;
        pp.transfer = 1; /* the targets delete a partial copy (pipeline.c) */
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_PIPELINE_PACKET;
        msg.pipeline_packet = &pp;
        rc = dn_send_packet(dn, (int)r->targets[0], &msg, &data);
        free(data); /* NULL when the transfer has it */
        if (rc == EMBER_EAGAIN)
            break; /* the next ack or writable callback sends it again */
        if (rc != EMBER_OK) {
            replication_fail(dn, r, "cannot send packet %" PRIu64 " to rank %" PRIu32 ": %s",
                             pkt.seqno, r->targets[0], ember_strerror(rc));
            return -1;
        }
        r->sent_ms[r->next_seqno % REPLICATION_WINDOW] = clock_monotonic_ms();
        r->next_seqno++;
        r->next_offset += n;
        if (pkt.last) {
            block_reader_close(r->reader);
            r->reader = NULL;
            r->state = REPL_DRAINING;
        }
    }
    replication_check(r);
    return 0;
}

void dn_replication_start(datanode *dn, const ReplicateBlock *rb) {
    char text[DN_MAX_DOWNSTREAM * 11 + 1];
    replication_format_targets(rb->targets, rb->n_targets, text, sizeof(text));
    if (dn_replication_running(dn, rb->block_id)) {
        LOG_INFO("datanode: blk_%" PRIu64 " is already being replicated from here; "
                 "ReplicateBlock to ranks %s dropped",
                 rb->block_id, text);
        return;
    }
    if (dn->nrepls == DN_MAX_REPLICATIONS) {
        LOG_WARN("datanode: cannot replicate blk_%" PRIu64 " to ranks %s: %d replications "
                 "running; dropped",
                 rb->block_id, text, DN_MAX_REPLICATIONS);
        return;
    }
    if (rb->n_targets == 0 ||
        datanode_check_downstream(dn, rb->targets, rb->n_targets, -1) != EMBER_OK) {
        LOG_WARN("datanode: cannot replicate blk_%" PRIu64 ": bad target list [%s]; dropped",
                 rb->block_id, text);
        return;
    }
    block_reader *reader = NULL;
    int rc = block_reader_open(dn->store, rb->block_id, &reader);
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: cannot replicate blk_%" PRIu64 " to ranks %s: %s; dropped",
                 rb->block_id, text,
                 rc == EMBER_ENOENT ? "no finalized replica here" : ember_strerror(rc));
        return;
    }
    const block_info *info = block_reader_info(reader);
    if (info->gen_stamp != rb->gen_stamp) {
        LOG_WARN("datanode: cannot replicate blk_%" PRIu64 " gs %" PRIu64
                 ": the replica here has gs %" PRIu64 "; dropped",
                 rb->block_id, rb->gen_stamp, info->gen_stamp);
        block_reader_close(reader);
        return;
    }
    dn_replication *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        LOG_ERROR("datanode: out of memory for the replication of blk_%" PRIu64, rb->block_id);
        block_reader_close(reader);
        return;
    }
    r->block_id = rb->block_id;
    r->gen_stamp = rb->gen_stamp;
    r->length = info->length;
    r->state = REPL_SENDING;
    r->reader = reader;
    for (size_t i = 0; i < rb->n_targets; i++)
        r->targets[i] = rb->targets[i];
    r->n_targets = rb->n_targets;
    snprintf(r->targets_text, sizeof(r->targets_text), "%s", text);
    r->ack_timeout_ms = dn->io_timeout_ms * (int64_t)rb->n_targets;
    r->started_ms = clock_monotonic_ms();
    dn->repls[dn->nrepls++] = r;
    LOG_INFO("datanode: replicating blk_%" PRIu64 " gs %" PRIu64 " (%" PRIu64 " bytes) to ranks %s",
             r->block_id, r->gen_stamp, r->length, r->targets_text);
    replication_pump(dn, r);
}

int dn_replication_handle_ack(datanode *dn, int source, const PipelineAck *ack) {
    dn_replication *r = replication_find(dn, ack->block_id);
    if (r == NULL)
        return 0;
    if (source != (int)r->targets[0]) {
        LOG_WARN("datanode: ack for blk_%" PRIu64 " from rank %d, not its first target; ignored",
                 r->block_id, source);
        return 1;
    }
    if (!ack->ok) {
        replication_fail(dn, r, "rank %d reports packet %" PRIu64 " failed (failed rank %d)",
                         source, ack->seqno, ack->failed_rank);
        return 1;
    }
    if (r->acked == r->next_seqno || ack->seqno != r->acked) {
        replication_fail(dn, r,
                         "rank %d acked packet %" PRIu64 " out of order (expected %" PRIu64 ")",
                         source, ack->seqno, r->acked);
        return 1;
    }
    r->acked++;
    if (r->state == REPL_DRAINING && r->acked == r->next_seqno)
        replication_finish(dn, r);
    else
        replication_pump(dn, r);
    return 1;
}

void dn_replication_on_timer(datanode *dn, int64_t now) {
    /* Backwards: replication_end() moves the last entry into the freed slot. */
    for (size_t i = dn->nrepls; i-- > 0;) {
        if (i >= dn->nrepls)
            continue;
        dn_replication *r = dn->repls[i];
        if (r->acked == r->next_seqno)
            continue;
        int64_t waited = now - r->sent_ms[r->acked % REPLICATION_WINDOW];
        if (waited > r->ack_timeout_ms)
            replication_fail(
                dn, r, "no ack from rank %" PRIu32 " for packet %" PRIu64 " within %" PRId64 " ms",
                r->targets[0], r->acked, r->ack_timeout_ms);
    }
}

void dn_replication_on_writable(datanode *dn, int dest) {
    /* Backwards: replication_end() moves the last entry into the freed slot. */
    for (size_t i = dn->nrepls; i-- > 0;)
        if (i < dn->nrepls && (int)dn->repls[i]->targets[0] == dest)
            replication_pump(dn, dn->repls[i]);
}

void dn_replication_abort_all(datanode *dn) {
    while (dn->nrepls > 0) {
        LOG_DEBUG("datanode: replication of blk_%" PRIu64 " abandoned", dn->repls[0]->block_id);
        replication_end(dn, dn->repls[0]);
    }
}
