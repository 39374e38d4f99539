/* pipeline_bulk.c -- a pipeline packet's data as a bulk payload (issue 8
 * item 3): sent from the buffer it arrived in, received into a buffer of
 * its own, never encoded into a message on the way.
 *
 * Sending (dn_send_packet()): a PipelinePacket with data goes as a
 * header-only message -- seqno, offset, CRCs, flags and the pipeline's
 * fields -- whose bulk payload is the data, from a buffer the transfer
 * owns until the transport says it ended (datanode_bulk_done()): the
 * buffer the packet arrived in when the caller hands it over (a node
 * forwards downstream without a copy; a replication source hands over its
 * read buffer), else a copy (the first node, whose data is in the
 * client's frame).  Empty packets (heartbeats, an empty last or sync
 * packet) go whole, as does everything without send_bulk (the unit
 * tests' fake transport).
 *
 * Receiving (dn_bulk_take_packet()): a PipelinePacket with a payload --
 * or without one while an earlier packet of its pipeline waits -- becomes
 * a record {packed header, buffer} queued in dn->inbound by its upstream
 * rank and block (packet_order.h), its payload claimed into the record's
 * buffer.  Payloads complete in any order; each completion hands out, in
 * every pipeline's order, the packets nothing holds back any more: the
 * header is unpacked, its data pointed at the buffer, and the packet is
 * dispatched as one with data (datanode_dispatch()), which hands the
 * buffer on: written locally, then sent downstream from it and freed when
 * that send ends (freed at once without downstream).  A payload that
 * failed -- its peer declared dead, a chunk past the link's deadline --
 * is handled in its turn as lost: the pipeline fails as on a bad packet
 * (dn_pipeline_payload_lost()).
 *
 * A record (struct dn_bulk) is one transfer:
 *   send     in flight --done--> freed with its buffer
 *   receive  in flight (queued, not ready) --done--> queued, ready
 *            --handed out--> freed (its buffer handed on or freed)
 * Invariants: every record of a live datanode is on dn->bulk; a receive
 * is queued in dn->inbound exactly while it is on dn->bulk; in_flight
 * until the transport's done call, which comes exactly once.  At
 * datanode_destroy (dn_bulk_stop()) the records not in flight are freed
 * and those in flight orphaned (dn NULL, kept reachable on a static list):
 * the transport may still write their buffers, and its done call -- if
 * it ever comes -- frees them.  Runs on the datanode's loop thread. */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "proto/message.h"

typedef struct dn_bulk {
    packet_order_entry order; /* first: a receive's place in dn->inbound */
    datanode *dn;             /* NULL: orphaned, the datanode is gone */
    int receive;              /* else a send */
    int in_flight;            /* the transport's done call has not come */
    int status;               /* a receive: how its payload ended */
    uint8_t *buf;             /* the payload (owned); NULL when the transport kept it */
    uint64_t len;
    uint8_t *header; /* a receive: the packed RankMessage */
    size_t header_len;
    struct dn_bulk *prev, *next; /* dn->bulk, or the orphans */
} dn_bulk;

/* Transfers whose datanode was destroyed while they were in flight. */
static dn_bulk *dn_bulk_orphans;

static dn_bulk **bulk_list(const dn_bulk *b) {
    return b->dn != NULL ? &b->dn->bulk : &dn_bulk_orphans;
}

static void bulk_link(dn_bulk **list, dn_bulk *b) {
    b->prev = NULL;
    b->next = *list;
    if (*list != NULL)
        (*list)->prev = b;
    *list = b;
}

static void bulk_unlink(dn_bulk **list, dn_bulk *b) {
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        *list = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

/* A new record on dn->bulk; NULL when out of memory. */
static dn_bulk *bulk_new(datanode *dn, int receive) {
    dn_bulk *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->dn = dn;
    b->receive = receive;
    b->status = EMBER_OK;
    bulk_link(&dn->bulk, b);
    return b;
}

/* Takes b off its list and frees it with what it owns. */
static void bulk_free(dn_bulk *b) {
    bulk_unlink(bulk_list(b), b);
    free(b->buf);
    free(b->header);
    free(b);
}

/* See datanode_internal.h. */
int dn_bulk_send(datanode *dn, int dest, const RankMessage *header, uint8_t **buf, uint64_t len) {
    dn_bulk *b = bulk_new(dn, 0);
    if (b == NULL)
        return EMBER_ENOMEM;
    b->len = len;
    b->buf = *buf;
    int rc = dn->send_bulk(dn->send_arg, dest, header, b->buf, b->len, b);
    if (rc != EMBER_OK) {
        b->buf = NULL; /* still the caller's */
        bulk_free(b);
        return rc;
    }
    b->in_flight = 1;
    *buf = NULL;
    return EMBER_OK;
}

/* See datanode_internal.h. */
int dn_send_packet(datanode *dn, int dest, const RankMessage *msg, uint8_t **payload) {
    const PipelinePacket *pp = msg->pipeline_packet;
    const Packet *pkt = pp->packet;
    if (dn->send_bulk == NULL || pkt->data.len == 0)
        return dn_send_data(dn, dest, msg);
    int own = payload != NULL && *payload != NULL;
    assert(!own || *payload == pkt->data.data);
    uint8_t *copy = NULL;
    if (!own) {
        if ((copy = malloc(pkt->data.len)) == NULL)
            return EMBER_ENOMEM;
        memcpy(copy, pkt->data.data, pkt->data.len);
    }
    Packet header = *pkt; /* shallow: only packed through */
    header.data.data = NULL;
    header.data.len = 0;
    PipelinePacket pph = *pp;
    pph.packet = &header;
    RankMessage m = *msg;
    m.pipeline_packet = &pph;
    int rc = dn_bulk_send(dn, dest, &m, own ? payload : &copy, pkt->data.len);
    free(copy); /* NULL when the transfer took it */
    if (rc != EMBER_OK && rc != EMBER_EAGAIN)
        LOG_WARN("datanode: cannot send packet %" PRIu64 " of blk_%" PRIu64 " to rank %d: %s",
                 pkt->seqno, pp->block_id, dest, ember_strerror(rc));
    return rc;
}

/* Handles b, handed out by the queue in its pipeline's turn, and frees
 * it. */
static void bulk_deliver(datanode *dn, dn_bulk *b) {
    RankMessage *msg = NULL;
    if (message_decode_rank(b->header, b->header_len, &msg) != EMBER_OK) {
        LOG_ERROR("datanode: a queued packet from rank %d no longer decodes; dropped",
                  b->order.source); /* packed here: cannot happen */
        bulk_free(b);
        return;
    }
    /* Its payload is here now: it is a packet with data. */
    msg->bulk_length = 0;
    msg->bulk_tag = 0;
    msg->bulk_chunk = 0;
    Packet *pkt = msg->pipeline_packet->packet;
    if (b->status != EMBER_OK) {
        dn_pipeline_payload_lost(dn, b->order.source, msg->pipeline_packet, b->status);
    } else {
        ProtobufCBinaryData none = pkt->data;
        uint8_t *payload = NULL;
        if (b->len > 0) {
            payload = b->buf;
            b->buf = NULL;
            pkt->data.data = payload;
            pkt->data.len = b->len;
        }
        datanode_dispatch(dn, b->order.source, msg, payload != NULL ? &payload : NULL);
        free(payload); /* NULL when the pipeline kept it */
        pkt->data = none;
    }
    rank_message__free_unpacked(msg, NULL);
    bulk_free(b);
}

/* Hands out the queued packets nothing holds back any more. */
static void bulk_drain(datanode *dn) {
    if (dn->inbound_draining)
        return; /* the outer drain goes on */
    dn->inbound_draining = 1;
    packet_order_entry *e;
    while ((e = packet_order_pop(&dn->inbound)) != NULL)
        bulk_deliver(dn, (dn_bulk *)e);
    dn->inbound_draining = 0;
}

/* See datanode_internal.h. */
void dn_bulk_take_packet(datanode *dn, int source, const RankMessage *msg) {
    const PipelinePacket *pp = msg->pipeline_packet;
    if (msg->bulk_length == 0 && !packet_order_holds(&dn->inbound, source, pp->block_id)) {
        datanode_dispatch(dn, source, msg, NULL);
        return;
    }
    dn_bulk *b = bulk_new(dn, 1);
    size_t len = rank_message__get_packed_size(msg);
    if (b == NULL || (b->header = malloc(len + 1)) == NULL) {
        if (b != NULL)
            bulk_free(b);
        LOG_ERROR("datanode: out of memory for packet %" PRIu64 " of blk_%" PRIu64 " from rank %d",
                  pp->packet->seqno, pp->block_id, source);
        dn_pipeline_payload_lost(dn, source, pp, EMBER_ENOMEM);
        return;
    }
    b->header_len = rank_message__pack(msg, b->header);
    b->order.source = source;
    b->order.block_id = pp->block_id;
    if (msg->bulk_length > 0) {
        int rc = EMBER_EPROTO; /* a payload without a way to take it */
        b->len = msg->bulk_length;
        b->buf = malloc(b->len);
        if (b->buf == NULL)
            rc = EMBER_ENOMEM;
        else if (dn->recv_bulk != NULL)
            rc = dn->recv_bulk(dn->send_arg, source, msg, b->buf, b);
        b->in_flight = rc == EMBER_OK;
        b->status = rc;
    }
    b->order.ready = !b->in_flight;
    packet_order_push(&dn->inbound, &b->order);
    bulk_drain(dn);
}

/* See datanode.h. */
void datanode_bulk_done(int status, void *buf, void *done_arg) {
    dn_bulk *b = done_arg;
    b->in_flight = 0;
    if (buf == NULL)
        b->buf = NULL; /* the transport keeps it: MPI may still touch it */
    if (!b->receive || b->dn == NULL) {
        if (status != EMBER_OK && b->dn != NULL)
            LOG_DEBUG("datanode: a packet's payload of %" PRIu64 " bytes was not sent: %s", b->len,
                      ember_strerror(status));
        bulk_free(b);
        return;
    }
    b->status = status;
    b->order.ready = 1;
    bulk_drain(b->dn);
}

/* See datanode_internal.h. */
void dn_bulk_stop(datanode *dn) {
    while (dn->bulk != NULL) {
        dn_bulk *b = dn->bulk;
        if (!b->in_flight) {
            bulk_free(b);
            continue;
        }
        bulk_unlink(&dn->bulk, b);
        b->dn = NULL;
        bulk_link(&dn_bulk_orphans, b);
    }
    packet_order_init(&dn->inbound);
}
