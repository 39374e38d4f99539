/* packet_order.h -- pipeline packets held back, per pipeline, until the
 * packets before them could be handled (their payloads are still arriving).
 *
 * A PipelinePacket's header comes first and its data later, as a bulk
 * payload of its own (pipeline_bulk.c); payloads of one upstream may
 * complete in any order.  Packets enter in the order their headers came
 * (packet_order_push()), each tagged with its pipeline -- the upstream rank
 * and the block id -- and marked ready once there is nothing more to wait
 * for (its payload arrived or failed, or it had none).
 * packet_order_pop() hands out the oldest ready packet that no earlier
 * packet of its pipeline holds back: the packets of one pipeline leave in
 * the order they came, and a late payload holds back its own pipeline
 * only.  The entries are the caller's (embedded in its own records); the
 * queue only links them.  Not thread-safe: the datanode's loop thread. */
#ifndef EMBER_PACKET_ORDER_H
#define EMBER_PACKET_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct packet_order_entry {
    int source;        /* the pipeline: upstream rank ... */
    uint64_t block_id; /* ... and block */
    int ready;         /* nothing more to wait for */
    struct packet_order_entry *next;
} packet_order_entry;

typedef struct {
    packet_order_entry *head;
    packet_order_entry **tail; /* &head when empty */
    size_t count;
} packet_order;

/* Makes q empty. */
void packet_order_init(packet_order *q);

/* Appends e (its source, block_id and ready set by the caller). */
void packet_order_push(packet_order *q, packet_order_entry *e);

/* 1 when a packet of the pipeline (source, block_id) is queued: a new one
 * of that pipeline must queue behind it. */
int packet_order_holds(const packet_order *q, int source, uint64_t block_id);

/* Removes and returns the oldest ready entry with no earlier entry of its
 * pipeline queued, or NULL when there is none. */
packet_order_entry *packet_order_pop(packet_order *q);

/* Removes and returns the oldest entry, ready or not (for teardown); NULL
 * when q is empty. */
packet_order_entry *packet_order_shift(packet_order *q);

#endif
