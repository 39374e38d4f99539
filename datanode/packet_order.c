/* packet_order.c -- per-pipeline order of packets whose payloads arrive
 * late (see packet_order.h).
 *
 * One singly linked list in arrival order.  Invariants: count is the
 * length of the list; tail points at the last entry's next field (at head
 * when empty); an entry is handed out only when no earlier entry of its
 * pipeline is in the list, so each pipeline's entries leave in arrival
 * order.  A pop walks from the head and usually stops there (payloads of
 * one upstream mostly complete in order); its cost is quadratic in the
 * queued entries only when many pipelines are held back at once. */
#include "packet_order.h"

#include <assert.h>

static int packet_order_same(const packet_order_entry *a, const packet_order_entry *b) {
    return a->source == b->source && a->block_id == b->block_id;
}

static void packet_order_check(const packet_order *q) {
#ifndef NDEBUG
    size_t n = 0;
    packet_order_entry *const *at = &q->head;
    for (; *at != NULL; at = &(*at)->next)
        n++;
    assert(n == q->count && at == q->tail);
#endif
    (void)q;
}

void packet_order_init(packet_order *q) {
    q->head = NULL;
    q->tail = &q->head;
    q->count = 0;
}

void packet_order_push(packet_order *q, packet_order_entry *e) {
    e->next = NULL;
    *q->tail = e;
    q->tail = &e->next;
    q->count++;
}

int packet_order_holds(const packet_order *q, int source, uint64_t block_id) {
    for (const packet_order_entry *e = q->head; e != NULL; e = e->next)
        if (e->source == source && e->block_id == block_id)
            return 1;
    return 0;
}

/* Unlinks *at (the entry it points at). */
static packet_order_entry *packet_order_unlink(packet_order *q, packet_order_entry **at) {
    packet_order_entry *e = *at;
    *at = e->next;
    if (q->tail == &e->next)
        q->tail = at;
    e->next = NULL;
    q->count--;
    packet_order_check(q);
    return e;
}

packet_order_entry *packet_order_pop(packet_order *q) {
    for (packet_order_entry **at = &q->head; *at != NULL; at = &(*at)->next) {
        if (!(*at)->ready)
            continue;
        int held = 0;
        for (const packet_order_entry *e = q->head; e != *at && !held; e = e->next)
            held = packet_order_same(e, *at);
        if (!held)
            return packet_order_unlink(q, at);
    }
    return NULL;
}

packet_order_entry *packet_order_shift(packet_order *q) {
    return q->head != NULL ? packet_order_unlink(q, &q->head) : NULL;
}
