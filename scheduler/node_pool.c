/* node_pool.c -- the resource manager's node table (see node_pool.h).
 * Entries live in one array sorted by rank; the cluster has at most a few
 * hundred ranks, so lookups are a binary search and nothing is freed
 * before the pool. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "node_pool.h"

struct node_pool {
    pool_node *nodes;
    size_t count, cap;
};

int node_pool_create(node_pool **out) {
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? EMBER_OK : EMBER_ENOMEM;
}

void node_pool_destroy(node_pool *pool) {
    if (pool == NULL)
        return;
    free(pool->nodes);
    free(pool);
}

static size_t node_pool_find(const node_pool *pool, int rank) {
    size_t lo = 0, hi = pool->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pool->nodes[mid].rank < rank)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

pool_node *node_pool_get(const node_pool *pool, int rank) {
    size_t i = node_pool_find(pool, rank);
    return i < pool->count && pool->nodes[i].rank == rank ? &pool->nodes[i] : NULL;
}

int node_pool_up(node_pool *pool, int rank, const char *hostname, const char *rack, uint32_t vcores,
                 uint64_t memory_mb) {
    if (rank < 1)
        return EMBER_EINVAL;
    pool_node *n = node_pool_get(pool, rank);
    if (n == NULL) {
        if (pool->count == pool->cap) {
            size_t cap = pool->cap ? pool->cap * 2 : 16;
            pool_node *grown = realloc(pool->nodes, cap * sizeof(*grown));
            if (grown == NULL)
                return EMBER_ENOMEM;
            pool->nodes = grown;
            pool->cap = cap;
        }
        size_t i = node_pool_find(pool, rank);
        memmove(&pool->nodes[i + 1], &pool->nodes[i], (pool->count - i) * sizeof(pool_node));
        pool->count++;
        n = &pool->nodes[i];
        memset(n, 0, sizeof(*n));
        n->rank = rank;
    }
    n->live = 1;
    snprintf(n->hostname, sizeof(n->hostname), "%s", hostname != NULL ? hostname : "");
    snprintf(n->rack, sizeof(n->rack), "%s", rack != NULL ? rack : "");
    n->vcores = vcores;
    n->memory_mb = memory_mb;
    node_pool_check(pool);
    return EMBER_OK;
}

void node_pool_lost(node_pool *pool, int rank) {
    pool_node *n = node_pool_get(pool, rank);
    if (n == NULL)
        return;
    n->live = 0;
    n->vcores_used = 0;
    n->memory_used_mb = 0;
    n->containers = 0;
    node_pool_check(pool);
}

size_t node_pool_count(const node_pool *pool) { return pool->count; }

pool_node *node_pool_at(const node_pool *pool, size_t i) {
    return i < pool->count ? &pool->nodes[i] : NULL;
}

int node_pool_fits(const pool_node *n, uint32_t vcores, uint64_t memory_mb) {
    return n != NULL && n->live && n->vcores_used + vcores <= n->vcores &&
           n->memory_used_mb + memory_mb <= n->memory_mb;
}

int node_pool_book(node_pool *pool, int rank, uint32_t vcores, uint64_t memory_mb) {
    pool_node *n = node_pool_get(pool, rank);
    if (!node_pool_fits(n, vcores, memory_mb))
        return EMBER_EAGAIN;
    n->vcores_used += vcores;
    n->memory_used_mb += memory_mb;
    n->containers++;
    return EMBER_OK;
}

void node_pool_release(node_pool *pool, int rank, uint32_t vcores, uint64_t memory_mb) {
    pool_node *n = node_pool_get(pool, rank);
    if (n == NULL || !n->live || n->containers == 0)
        return;
    n->vcores_used = n->vcores_used >= vcores ? n->vcores_used - vcores : 0;
    n->memory_used_mb = n->memory_used_mb >= memory_mb ? n->memory_used_mb - memory_mb : 0;
    n->containers--;
}

void node_pool_hold(node_pool *pool, int rank) {
    pool_node *n = node_pool_get(pool, rank);
    if (n == NULL || !n->live)
        return;
    n->vcores = n->vcores_used;
    n->memory_mb = n->memory_used_mb;
}

size_t node_pool_live(const node_pool *pool) {
    size_t live = 0;
    for (size_t i = 0; i < pool->count; i++)
        live += pool->nodes[i].live != 0;
    return live;
}

uint64_t node_pool_live_vcores(const node_pool *pool) {
    uint64_t v = 0;
    for (size_t i = 0; i < pool->count; i++)
        if (pool->nodes[i].live)
            v += pool->nodes[i].vcores;
    return v;
}

void node_pool_check(const node_pool *pool) {
#ifndef NDEBUG
    for (size_t i = 0; i < pool->count; i++) {
        const pool_node *n = &pool->nodes[i];
        assert(i == 0 || pool->nodes[i - 1].rank < n->rank);
        assert(n->live || (n->vcores_used == 0 && n->memory_used_mb == 0 && n->containers == 0));
        assert((n->containers == 0) == (n->vcores_used == 0) || n->vcores_used != 0);
    }
#else
    (void)pool;
#endif
}
