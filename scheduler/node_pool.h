/* node_pool.h -- the resource manager's view of the nodes that run
 * containers (YARN's cluster node tracker).
 *
 * One entry per core or task rank that ever registered: whether it is
 * live, its host and rack, what its worker offers (vcores, memory: from
 * RegisterNode and each Heartbeat, through the node registry), and the
 * scheduler's own books of what it launched there and has not yet heard
 * end.  The books, not the heartbeats, decide whether a container fits:
 * a heartbeat is up to a second old, the books are exact, so the
 * scheduler never launches more than a node offers between heartbeats.
 * Invariants (node_pool_check): a node that is not live has empty books;
 * the books never exceed the offer unless the offer shrank after the
 * launches (then nothing more fits until enough ends). */
#ifndef EMBER_NODE_POOL_H
#define EMBER_NODE_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank;
    int live;
    char hostname[256];
    char rack[128];  /* "" when the cluster has no rack map */
    uint32_t vcores; /* offered */
    uint64_t memory_mb;
    uint32_t vcores_used; /* the books: launched, not yet ended */
    uint64_t memory_used_mb;
    uint32_t containers;
} pool_node;

typedef struct node_pool node_pool;

int node_pool_create(node_pool **out);
void node_pool_destroy(node_pool *pool); /* accepts NULL */

/* A node registered (again) or sent a heartbeat: it is live with this
 * offer.  rack may be NULL ("": no rack information).  A node that was
 * lost starts with empty books.  EMBER_ENOMEM or EMBER_EINVAL (rank < 1). */
int node_pool_up(node_pool *pool, int rank, const char *hostname, const char *rack, uint32_t vcores,
                 uint64_t memory_mb);

/* The node was declared dead: not live, its books emptied (what ran there
 * is gone; the masters learn it from the scheduler). */
void node_pool_lost(node_pool *pool, int rank);

/* The entry of rank, or NULL when it never registered. */
pool_node *node_pool_get(const node_pool *pool, int rank);

/* Entries by position (0..node_pool_count-1), in rank order. */
size_t node_pool_count(const node_pool *pool);
pool_node *node_pool_at(const node_pool *pool, size_t i);

/* Whether a container of vcores and memory_mb fits in n now. */
int node_pool_fits(const pool_node *n, uint32_t vcores, uint64_t memory_mb);

/* Books one container on rank: EMBER_EAGAIN when it does not fit or the
 * node is not live (nothing changes). */
int node_pool_book(node_pool *pool, int rank, uint32_t vcores, uint64_t memory_mb);

/* Gives back one container's booking; a node lost since has nothing to
 * give back (its books were emptied), and that is not an error. */
void node_pool_release(node_pool *pool, int rank, uint32_t vcores, uint64_t memory_mb);

/* The worker refused a launch for want of room (its own books disagree
 * with ours): nothing more is launched there until its next heartbeat
 * renews the offer (node_pool_up), so a refusal cannot turn into a
 * launch-refuse loop. */
void node_pool_hold(node_pool *pool, int rank);

/* Live nodes, and the vcores they offer together. */
size_t node_pool_live(const node_pool *pool);
uint64_t node_pool_live_vcores(const node_pool *pool);

/* Asserts the invariants above. */
void node_pool_check(const node_pool *pool);

#endif
