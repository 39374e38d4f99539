/* block_manager.c -- the namenode's block map and placement (see
 * block_manager.h).
 *
 * Owns one record per block.  The records sit in a dense array (so scans
 * walk contiguous memory and a removal is a swap with the last record),
 * and an open-addressing hash table of 32-bit indices into that array maps
 * a block id to its record: linear probing from a splitmix64 hash of the
 * id, at most half full, with backward-shift deletion (no tombstones, so
 * lookups stay short however many blocks come and go).  Both grow by
 * doubling and never shrink; a pointer from block_manager_get() dies with
 * the next change because a record moves on a removal or a growth.
 *
 * Invariants (asserted per record after each change by bm_check_block()
 * and over the whole map by bm_check() in debug builds, the latter at the
 * scans and at destroy):
 *   - the table holds exactly count indices, each record's id leads by
 *     probing to the index of that record, and ids are unique;
 *   - every id is at most last_block_id and every gen stamp at most
 *     last_gen_stamp (add raises the counters; allocate hands out the
 *     next ones), so ids are never handed out twice;
 *   - replication >= 1; nreplicas, ncorrupt >= 0 and together at most
 *     BLOCK_MANAGER_MAX_REPLICAS; replica ranks, good and corrupt, are
 *     >= 0 and distinct; the good ones come first, in the order they were
 *     added, then the corrupt ones, in the order they were marked.
 *
 * Corrupt replicas (HDFS's CorruptReplicasMap) live in the same 16 slots
 * as the good ones, after them: no memory beyond one count per block, and
 * every reader of replicas[0 .. nreplicas) -- locations, copy sources,
 * counts -- sees good replicas only, as before.  Adding a replica looks
 * through the (usually empty) corrupt tail too, and moves it up a slot.
 * A replica stays corrupt until it is dropped (deleted, its node lost, a
 * report no longer listing it, a new gen stamp for the block).
 *
 * Whole-map questions (node_lost, process_report's drop of unlisted
 * replicas, the under- and over-replicated lists, the blocks whose
 * corrupt replicas may go, and the stats) are
 * linear scans of the dense array: O(blocks) each, which a 1,000,000-block
 * map does in milliseconds.  A replication queue kept up to date on each
 * change (HDFS's UnderReplicatedBlocks) and a per-node replica list can
 * replace them when the namenode needs these often.
 *
 * Placement draws its randomness from a splitmix64 generator seeded at
 * create, advanced only by block_manager_choose_targets(), so a seed and a
 * call sequence give the same targets every time. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "block_manager.h"
#include "common/error.h"

#define BM_FIRST_BLOCK_ID ((UINT64_C(1) << 30) + 1) /* HDFS's first sequential block id */
#define BM_FIRST_GEN_STAMP UINT64_C(1001)           /* HDFS's first generation stamp */
#define BM_TABLE_MIN 16                             /* slots in a new table */
#define BM_BUCKETS (BLOCK_MANAGER_MAX_REPLICAS + 1) /* replica counts 0..max */

typedef struct {
    block_entry entry;
    uint32_t report_mark; /* report_epoch of the last report that listed it */
} bm_block;

struct block_manager {
    bm_block *blocks; /* dense: count records, room for capacity */
    size_t count;
    size_t capacity;
    uint32_t *table;         /* 0 empty, else 1 + the index of a record in blocks */
    size_t table_size;       /* a power of two, at least twice count */
    uint64_t last_block_id;  /* the last id handed out or added */
    uint64_t last_gen_stamp; /* the last gen stamp handed out or added */
    uint64_t rng;            /* splitmix64 state */
    uint32_t report_epoch;   /* bumped by each block report */
    uint8_t *reported;       /* by rank: a full report was processed (grown on demand) */
    size_t reported_len;
    int *retiring;           /* ranks being decommissioned (few) */
    size_t nretiring, retiring_cap;
};

/* ---- hashing and randomness -------------------------------------------- */

/* splitmix64's output function: a bijection that spreads sequential ids. */
static uint64_t bm_mix(uint64_t x) {
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* The next number of the placement generator (splitmix64). */
static uint64_t bm_random(block_manager *bm) {
    bm->rng += UINT64_C(0x9e3779b97f4a7c15);
    return bm_mix(bm->rng);
}

/* A random number below n (n > 0); the modulo bias is below n / 2^64. */
static size_t bm_random_below(block_manager *bm, size_t n) {
    assert(n > 0);
    return (size_t)(bm_random(bm) % n);
}

/* ---- the id -> record table -------------------------------------------- */

static size_t bm_home(const block_manager *bm, uint64_t block_id) {
    return (size_t)bm_mix(block_id) & (bm->table_size - 1);
}

/* Probes for block_id.  Returns the slot holding it (*found = 1) or the
 * empty slot that ends its probe sequence, where it would go (*found = 0). */
static size_t bm_find_slot(const block_manager *bm, uint64_t block_id, int *found) {
    size_t mask = bm->table_size - 1;
    size_t slot = bm_home(bm, block_id);
    while (bm->table[slot] != 0) {
        if (bm->blocks[bm->table[slot] - 1].entry.block_id == block_id) {
            *found = 1;
            return slot;
        }
        slot = (slot + 1) & mask;
    }
    *found = 0;
    return slot;
}

/* The record of block_id, or NULL. */
static bm_block *bm_lookup(const block_manager *bm, uint64_t block_id) {
    int found;
    size_t slot = bm_find_slot(bm, block_id, &found);
    return found ? &bm->blocks[bm->table[slot] - 1] : NULL;
}

/* Rebuilds the table with size slots (a power of two above twice count).
 * EMBER_ENOMEM leaves the old table in place. */
static int bm_rehash(block_manager *bm, size_t size) {
    uint32_t *table = calloc(size, sizeof(*table));
    if (table == NULL)
        return EMBER_ENOMEM;
    free(bm->table);
    bm->table = table;
    bm->table_size = size;
    for (size_t i = 0; i < bm->count; i++) {
        int found;
        size_t slot = bm_find_slot(bm, bm->blocks[i].entry.block_id, &found);
        assert(!found);
        bm->table[slot] = (uint32_t)(i + 1);
    }
    return EMBER_OK;
}

/* Makes room for one more record in both the array and the table (at most
 * half full after the insert).  EMBER_ENOMEM leaves the map as it was
 * (perhaps with more spare room). */
static int bm_reserve(block_manager *bm) {
    if (bm->count >= UINT32_MAX - 1)
        return EMBER_ENOMEM; /* indices are 32-bit */
    if (bm->count == bm->capacity) {
        size_t capacity = bm->capacity > 0 ? bm->capacity * 2 : BM_TABLE_MIN;
        bm_block *blocks = realloc(bm->blocks, capacity * sizeof(*blocks));
        if (blocks == NULL)
            return EMBER_ENOMEM;
        bm->blocks = blocks;
        bm->capacity = capacity;
    }
    if ((bm->count + 1) * 2 > bm->table_size)
        return bm_rehash(bm, bm->table_size * 2);
    return EMBER_OK;
}

/* Empties slot and shifts back the entries after it that probing would no
 * longer reach (backward-shift deletion): an entry moves into the hole
 * when the hole lies between its home slot and where it sits. */
static void bm_table_delete(block_manager *bm, size_t slot) {
    size_t mask = bm->table_size - 1;
    size_t hole = slot;
    for (size_t next = (hole + 1) & mask; bm->table[next] != 0; next = (next + 1) & mask) {
        size_t home = bm_home(bm, bm->blocks[bm->table[next] - 1].entry.block_id);
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            bm->table[hole] = bm->table[next];
            hole = next;
        }
    }
    bm->table[hole] = 0;
}

/* ---- records ----------------------------------------------------------- */

/* The replication a record can reach: its expected one, capped at what is
 * tracked. */
static uint32_t bm_target(const block_entry *e) {
    return e->replication < BLOCK_MANAGER_MAX_REPLICAS ? e->replication
                                                       : BLOCK_MANAGER_MAX_REPLICAS;
}

/* The position of rank among e's replicas, or -1. */
static int bm_replica_index(const block_entry *e, int rank) {
    for (int i = 0; i < e->nreplicas; i++)
        if (e->replicas[i] == rank)
            return i;
    return -1;
}

/* The position of rank among all of e's holders, good or corrupt, or -1. */
static int bm_holder_index(const block_entry *e, int rank) {
    for (int i = 0; i < e->nreplicas + e->ncorrupt; i++)
        if (e->replicas[i] == rank)
            return i;
    return -1;
}

/* Drops rank from e's replicas, good or corrupt, keeping the others'
 * order.  Returns 1 when it was there, 0 otherwise. */
static int bm_drop_replica(block_entry *e, int rank) {
    int i = bm_holder_index(e, rank);
    if (i < 0)
        return 0;
    int total = e->nreplicas + e->ncorrupt;
    memmove(&e->replicas[i], &e->replicas[i + 1], (size_t)(total - i - 1) * sizeof(int));
    if (i < e->nreplicas)
        e->nreplicas--;
    else
        e->ncorrupt--;
    return 1;
}

/* Asserts the invariants of the file header for the record b. */
static void bm_check_block(const block_manager *bm, const bm_block *b) {
#ifndef NDEBUG
    const block_entry *e = &b->entry;
    assert(b >= bm->blocks && b < bm->blocks + bm->count);
    assert(bm_lookup(bm, e->block_id) == b);
    assert(e->block_id <= bm->last_block_id && e->gen_stamp <= bm->last_gen_stamp);
    assert(e->replication >= 1);
    assert(e->nreplicas >= 0 && e->ncorrupt >= 0 &&
           e->nreplicas + e->ncorrupt <= BLOCK_MANAGER_MAX_REPLICAS);
    for (int i = 0; i < e->nreplicas + e->ncorrupt; i++) {
        assert(e->replicas[i] >= 0);
        for (int j = i + 1; j < e->nreplicas + e->ncorrupt; j++)
            assert(e->replicas[i] != e->replicas[j]);
    }
#else
    (void)bm;
    (void)b;
#endif
}

/* Asserts every invariant over the whole map (debug builds; O(blocks)). */
static void bm_check(const block_manager *bm) {
#ifndef NDEBUG
    size_t used = 0;
    assert(bm->count <= bm->capacity && bm->count * 2 <= bm->table_size);
    assert((bm->table_size & (bm->table_size - 1)) == 0);
    for (size_t slot = 0; slot < bm->table_size; slot++) {
        if (bm->table[slot] != 0) {
            assert(bm->table[slot] <= bm->count);
            used++;
        }
    }
    assert(used == bm->count);
    for (size_t i = 0; i < bm->count; i++)
        bm_check_block(bm, &bm->blocks[i]);
#else
    (void)bm;
#endif
}

/* ---- lifecycle and allocation ------------------------------------------ */

int block_manager_create(uint64_t last_block_id, uint64_t last_gen_stamp, uint32_t seed,
                         block_manager **out) {
    block_manager *bm = calloc(1, sizeof(*bm));
    if (bm == NULL)
        return EMBER_ENOMEM;
    bm->table = calloc(BM_TABLE_MIN, sizeof(*bm->table));
    if (bm->table == NULL) {
        free(bm);
        return EMBER_ENOMEM;
    }
    bm->table_size = BM_TABLE_MIN;
    bm->last_block_id = last_block_id != 0 ? last_block_id : BM_FIRST_BLOCK_ID - 1;
    bm->last_gen_stamp = last_gen_stamp != 0 ? last_gen_stamp : BM_FIRST_GEN_STAMP - 1;
    bm->rng = seed;
    *out = bm;
    return EMBER_OK;
}

void block_manager_destroy(block_manager *bm) {
    if (bm == NULL)
        return;
    bm_check(bm);
    free(bm->table);
    free(bm->blocks);
    free(bm->retiring);
    free(bm->reported);
    free(bm);
}

void block_manager_allocate(block_manager *bm, uint64_t *block_id, uint64_t *gen_stamp) {
    *block_id = ++bm->last_block_id;
    *gen_stamp = ++bm->last_gen_stamp;
}

/* For a new cluster, before any allocation, these are the ids just below
 * the first ones (1073741824 and 1000), which create turns back into the
 * same first ids. */
void block_manager_last_ids(const block_manager *bm, uint64_t *block_id, uint64_t *gen_stamp) {
    *block_id = bm->last_block_id;
    *gen_stamp = bm->last_gen_stamp;
}

/* ---- blocks ------------------------------------------------------------ */

int block_manager_add(block_manager *bm, uint64_t block_id, uint64_t gen_stamp,
                      uint32_t replication) {
    if (replication == 0)
        return EMBER_EINVAL;
    if (bm_lookup(bm, block_id) != NULL)
        return EMBER_EEXIST;
    int rc = bm_reserve(bm);
    if (rc != 0)
        return rc;
    int found;
    size_t slot = bm_find_slot(bm, block_id, &found);
    assert(!found);
    bm_block *b = &bm->blocks[bm->count];
    memset(b, 0, sizeof(*b));
    b->entry.block_id = block_id;
    b->entry.gen_stamp = gen_stamp;
    b->entry.replication = replication;
    bm->table[slot] = (uint32_t)(bm->count + 1);
    bm->count++;
    if (block_id > bm->last_block_id)
        bm->last_block_id = block_id;
    if (gen_stamp > bm->last_gen_stamp)
        bm->last_gen_stamp = gen_stamp;
    bm_check_block(bm, b);
    return EMBER_OK;
}

/* Completing again (a replayed log) just sets the length again. */
int block_manager_complete(block_manager *bm, uint64_t block_id, uint64_t length) {
    bm_block *b = bm_lookup(bm, block_id);
    if (b == NULL)
        return EMBER_ENOENT;
    b->entry.length = length;
    b->entry.complete = 1;
    bm_check_block(bm, b);
    return EMBER_OK;
}

uint64_t block_manager_next_gen_stamp(block_manager *bm) { return ++bm->last_gen_stamp; }

/* Both forget the replicas, corrupt ones included: the datanodes report
 * them again under the new gen stamp. */
static int bm_restamp(block_manager *bm, uint64_t block_id, uint64_t gen_stamp, int complete,
                      uint64_t length) {
    bm_block *b = bm_lookup(bm, block_id);
    if (b == NULL)
        return EMBER_ENOENT;
    if (gen_stamp < b->entry.gen_stamp)
        return EMBER_EINVAL;
    b->entry.gen_stamp = gen_stamp;
    b->entry.complete = complete;
    b->entry.length = length;
    if (complete)
        b->entry.truncating = 0;
    b->entry.nreplicas = 0;
    b->entry.ncorrupt = 0;
    if (gen_stamp > bm->last_gen_stamp)
        bm->last_gen_stamp = gen_stamp;
    bm_check_block(bm, b);
    return EMBER_OK;
}

int block_manager_reopen(block_manager *bm, uint64_t block_id, uint64_t gen_stamp) {
    const bm_block *b = bm_lookup(bm, block_id);
    return bm_restamp(bm, block_id, gen_stamp, 0, b != NULL ? b->entry.length : 0);
}

int block_manager_truncate(block_manager *bm, uint64_t block_id, uint64_t gen_stamp,
                           uint64_t length) {
    bm_block *b = bm_lookup(bm, block_id);
    if (b == NULL)
        return EMBER_ENOENT;
    if (length >= b->entry.length && b->entry.complete)
        return EMBER_EINVAL;
    int rc = bm_restamp(bm, block_id, gen_stamp, 0, b->entry.length);
    if (rc == EMBER_OK) {
        b->entry.truncating = 1;
        b->entry.truncate_length = length;
    }
    return rc;
}

int block_manager_recovered(block_manager *bm, uint64_t block_id, uint64_t gen_stamp,
                            uint64_t length) {
    return bm_restamp(bm, block_id, gen_stamp, 1, length);
}

int block_manager_update_pipeline(block_manager *bm, uint64_t block_id, uint64_t gen_stamp) {
    const bm_block *b = bm_lookup(bm, block_id);
    if (b == NULL)
        return EMBER_ENOENT;
    if (b->entry.complete)
        return EMBER_ESTATE;
    if (gen_stamp <= b->entry.gen_stamp)
        return EMBER_EINVAL;
    return bm_restamp(bm, block_id, gen_stamp, 0, b->entry.length);
}

int block_manager_set_replication(block_manager *bm, uint64_t block_id, uint32_t replication) {
    if (replication == 0)
        return EMBER_EINVAL;
    bm_block *b = bm_lookup(bm, block_id);
    if (b == NULL)
        return EMBER_ENOENT;
    b->entry.replication = replication;
    bm_check_block(bm, b);
    return EMBER_OK;
}

/* holders and nholders may be NULL when the caller does not want them.
 * The last record moves into the removed one's place. */
int block_manager_remove(block_manager *bm, uint64_t block_id, int *holders, int *nholders) {
    int found;
    size_t slot = bm_find_slot(bm, block_id, &found);
    if (!found)
        return EMBER_ENOENT;
    size_t index = bm->table[slot] - 1;
    const block_entry *e = &bm->blocks[index].entry;
    if (holders != NULL)
        memcpy(holders, e->replicas, (size_t)(e->nreplicas + e->ncorrupt) * sizeof(int));
    if (nholders != NULL)
        *nholders = e->nreplicas + e->ncorrupt;
    bm_table_delete(bm, slot);
    size_t last = bm->count - 1;
    if (index != last) {
        bm->blocks[index] = bm->blocks[last];
        slot = bm_find_slot(bm, bm->blocks[index].entry.block_id, &found);
        assert(found && bm->table[slot] == last + 1);
        bm->table[slot] = (uint32_t)(index + 1);
    }
    bm->count--;
    if (index != last)
        bm_check_block(bm, &bm->blocks[index]);
    return EMBER_OK;
}

const block_entry *block_manager_get(const block_manager *bm, uint64_t block_id) {
    const bm_block *b = bm_lookup(bm, block_id);
    return b != NULL ? &b->entry : NULL;
}

/* ---- replicas ---------------------------------------------------------- */

/* block_manager_add_replica() returning the record it changed (or NULL
 * when the block is unknown) through *out. */
static int bm_add_replica(block_manager *bm, uint64_t block_id, int rank, uint64_t gen_stamp,
                          uint64_t length, bm_block **out) {
    bm_block *b = bm_lookup(bm, block_id);
    *out = b;
    if (b == NULL)
        return EMBER_ENOENT;
    block_entry *e = &b->entry;
    if (!e->complete && gen_stamp < e->gen_stamp)
        return EMBER_EAGAIN; /* kept for lease recovery, not counted */
    if (gen_stamp < e->gen_stamp || (e->complete && length != e->length)) {
        bm_drop_replica(e, rank);
        bm_check_block(bm, b);
        return EMBER_ESTATE;
    }
    if (bm_holder_index(e, rank) >= 0)
        return EMBER_OK; /* known already: a corrupt one stays corrupt */
    if (e->nreplicas + e->ncorrupt == BLOCK_MANAGER_MAX_REPLICAS)
        return EMBER_ESTATE;
    /* After the good ones, before the corrupt tail. */
    memmove(&e->replicas[e->nreplicas + 1], &e->replicas[e->nreplicas],
            (size_t)e->ncorrupt * sizeof(int));
    e->replicas[e->nreplicas++] = rank;
    bm_check_block(bm, b);
    return EMBER_OK;
}

/* A replica with a newer gen stamp than the block's is accepted: the
 * header names only older ones as stale.  A negative rank is
 * EMBER_EINVAL. */
int block_manager_add_replica(block_manager *bm, uint64_t block_id, int rank, uint64_t gen_stamp,
                              uint64_t length) {
    if (rank < 0)
        return EMBER_EINVAL;
    bm_block *b;
    return bm_add_replica(bm, block_id, rank, gen_stamp, length, &b);
}

void block_manager_remove_replica(block_manager *bm, uint64_t block_id, int rank) {
    bm_block *b = bm_lookup(bm, block_id);
    if (b != NULL && bm_drop_replica(&b->entry, rank))
        bm_check_block(bm, b);
}

/* The replica moves from its place among the good ones to the end of the
 * corrupt tail: the good ones after it shift down one slot. */
int block_manager_mark_corrupt(block_manager *bm, uint64_t block_id, int rank) {
    bm_block *b = bm_lookup(bm, block_id);
    if (b == NULL)
        return EMBER_ENOENT;
    block_entry *e = &b->entry;
    int i = bm_holder_index(e, rank);
    if (i < 0)
        return EMBER_ENOENT;
    if (i >= e->nreplicas)
        return EMBER_EEXIST;
    int total = e->nreplicas + e->ncorrupt;
    memmove(&e->replicas[i], &e->replicas[i + 1], (size_t)(total - i - 1) * sizeof(int));
    e->replicas[total - 1] = rank;
    e->nreplicas--;
    e->ncorrupt++;
    bm_check_block(bm, b);
    return EMBER_OK;
}

int block_manager_is_corrupt(const block_entry *e, int rank) {
    for (int i = e->nreplicas; i < e->nreplicas + e->ncorrupt; i++)
        if (e->replicas[i] == rank)
            return 1;
    return 0;
}

/* A linear scan of every block (see the file header). */
size_t block_manager_node_lost(block_manager *bm, int rank) {
    size_t dropped = 0;
    for (size_t i = 0; i < bm->count; i++)
        dropped += (size_t)bm_drop_replica(&bm->blocks[i].entry, rank);
    if (rank >= 0 && (size_t)rank < bm->reported_len)
        bm->reported[rank] = 0; /* what it holds is unknown until it reports again */
    bm_check(bm);
    return dropped;
}

/* Each listed replica is added and its record marked with a fresh epoch;
 * a scan then drops rank from every record the report did not mark, which
 * includes those it listed as stale.  O(n + blocks).  The invalid array is
 * allocated for the worst case before anything changes, so EMBER_ENOMEM
 * leaves the map as it was; EMBER_EINVAL for a negative rank, NULL arrays
 * with n > 0 or NULL out-parameters.  Ids listed twice are handled as
 * twice reported (an invalid one comes back twice). */
int block_manager_process_report(block_manager *bm, int rank, const uint64_t *block_ids,
                                 const uint64_t *gen_stamps, const uint64_t *lengths, size_t n,
                                 uint64_t **invalid, size_t *ninvalid) {
    if (invalid == NULL || ninvalid == NULL)
        return EMBER_EINVAL;
    *invalid = NULL;
    *ninvalid = 0;
    if (rank < 0 || (n > 0 && (block_ids == NULL || gen_stamps == NULL || lengths == NULL)))
        return EMBER_EINVAL;
    if ((size_t)rank >= bm->reported_len) {
        size_t len = (size_t)rank + 1 > 2 * bm->reported_len ? (size_t)rank + 1 : 2 * bm->reported_len;
        uint8_t *reported = realloc(bm->reported, len);
        if (reported == NULL)
            return EMBER_ENOMEM;
        memset(reported + bm->reported_len, 0, len - bm->reported_len);
        bm->reported = reported;
        bm->reported_len = len;
    }
    uint64_t *bad = NULL;
    if (n > 0) {
        if (n > SIZE_MAX / sizeof(*bad))
            return EMBER_ENOMEM;
        bad = malloc(n * sizeof(*bad));
        if (bad == NULL)
            return EMBER_ENOMEM;
    }
    bm->reported[rank] = 1;
    if (++bm->report_epoch == 0) { /* wrapped: old marks could match again */
        for (size_t i = 0; i < bm->count; i++)
            bm->blocks[i].report_mark = 0;
        bm->report_epoch = 1;
    }
    size_t nbad = 0;
    for (size_t i = 0; i < n; i++) {
        bm_block *b;
        int rc = bm_add_replica(bm, block_ids[i], rank, gen_stamps[i], lengths[i], &b);
        if (rc == 0)
            b->report_mark = bm->report_epoch;
        else if (rc != EMBER_EAGAIN)
            bad[nbad++] = block_ids[i];
    }
    for (size_t i = 0; i < bm->count; i++)
        if (bm->blocks[i].report_mark != bm->report_epoch)
            bm_drop_replica(&bm->blocks[i].entry, rank);
    bm_check(bm);
    if (nbad == 0) {
        free(bad);
        return EMBER_OK;
    }
    uint64_t *shrunk = realloc(bad, nbad * sizeof(*bad));
    *invalid = shrunk != NULL ? shrunk : bad;
    *ninvalid = nbad;
    return EMBER_OK;
}

/* ---- placement --------------------------------------------------------- */

typedef enum {
    BM_RACK_ANY,   /* any rack */
    BM_RACK_OTHER, /* not the given rack */
    BM_RACK_SAME,  /* the given rack */
} bm_rack_rule;

/* What a placement step may choose: the nodes and the ranks it must avoid,
 * and a rack rule. */
typedef struct {
    const placement_node *nodes;
    size_t nnodes;
    const int *exclude;
    size_t nexclude;
    const int *chosen;
    size_t nchosen;
    bm_rack_rule rule;
    const char *rack; /* for BM_RACK_OTHER and BM_RACK_SAME */
} bm_placement;

static int bm_rank_in(const int *ranks, size_t n, int rank) {
    for (size_t i = 0; i < n; i++)
        if (ranks[i] == rank)
            return 1;
    return 0;
}

/* Whether node may be chosen in step p: usable, neither excluded nor
 * chosen already, and on a rack the rule allows. */
static int bm_candidate(const bm_placement *p, const placement_node *node) {
    if (!node->usable || bm_rank_in(p->exclude, p->nexclude, node->rank) ||
        bm_rank_in(p->chosen, p->nchosen, node->rank))
        return 0;
    switch (p->rule) {
    case BM_RACK_ANY: return 1;
    case BM_RACK_OTHER: return strncmp(node->rack, p->rack, BLOCK_MANAGER_RACK_MAX) != 0;
    case BM_RACK_SAME: return strncmp(node->rack, p->rack, BLOCK_MANAGER_RACK_MAX) == 0;
    }
    return 0;
}

/* The k-th candidate of step p (k below their number). */
static const placement_node *bm_nth_candidate(const bm_placement *p, size_t k) {
    for (size_t i = 0; i < p->nnodes; i++)
        if (bm_candidate(p, &p->nodes[i]) && k-- == 0)
            return &p->nodes[i];
    assert(0);
    return NULL;
}

/* A random candidate of step p, or NULL when there is none: of two
 * distinct candidates drawn at random, the one with more remaining space
 * (the first on a tie), so fuller nodes get fewer new blocks.  Always two
 * draws when there are two candidates or more, none when one.  O(nnodes *
 * (nexclude + nchosen)). */
static const placement_node *bm_pick(block_manager *bm, const bm_placement *p) {
    size_t count = 0;
    for (size_t i = 0; i < p->nnodes; i++)
        count += (size_t)bm_candidate(p, &p->nodes[i]);
    if (count == 0)
        return NULL;
    if (count == 1)
        return bm_nth_candidate(p, 0);
    size_t a = bm_random_below(bm, count);
    size_t b = bm_random_below(bm, count - 1);
    if (b >= a)
        b++;
    const placement_node *first = bm_nth_candidate(p, a);
    const placement_node *second = bm_nth_candidate(p, b);
    return second->remaining > first->remaining ? second : first;
}

/* targets has room for replication ranks.  The writer counts as a
 * candidate when some node in nodes has its rank, is usable and is not
 * excluded.  The third target's rule (the second's rack) is HDFS's for two
 * racks or more; with one rack in use the second and third both fall back
 * to any other node.  Nodes listed twice are chosen at most once. */
void block_manager_choose_targets(block_manager *bm, const placement_node *nodes, size_t nnodes,
                                  int writer_rank, uint32_t replication, const int *exclude,
                                  size_t nexclude, int *targets, size_t *ntargets) {
    bm_placement p = {.nodes = nodes,
                      .nnodes = nnodes,
                      .exclude = exclude,
                      .nexclude = nexclude,
                      .chosen = targets,
                      .nchosen = 0,
                      .rule = BM_RACK_ANY,
                      .rack = NULL};
    const placement_node *first = NULL, *second = NULL;
    for (size_t k = 0; k < replication; k++) {
        const placement_node *node = NULL;
        p.rule = BM_RACK_ANY;
        p.rack = NULL;
        if (k == 0) {
            for (size_t i = 0; i < nnodes && node == NULL; i++)
                if (nodes[i].rank == writer_rank && bm_candidate(&p, &nodes[i]))
                    node = &nodes[i];
        } else if (k == 1 || k == 2) {
            p.rule = k == 1 ? BM_RACK_OTHER : BM_RACK_SAME;
            p.rack = k == 1 ? first->rack : second->rack;
            node = bm_pick(bm, &p);
            p.rule = BM_RACK_ANY;
        }
        if (node == NULL)
            node = bm_pick(bm, &p);
        if (node == NULL)
            break;
        if (k == 0)
            first = node;
        else if (k == 1)
            second = node;
        targets[k] = node->rank;
        p.nchosen++;
    }
    *ntargets = p.nchosen;
}

/* ---- replication lists and stats --------------------------------------- */

/* ---- decommissioning ranks ------------------------------------------------ */

int block_manager_is_retiring(const block_manager *bm, int rank) {
    for (size_t i = 0; i < bm->nretiring; i++)
        if (bm->retiring[i] == rank)
            return 1;
    return 0;
}

int block_manager_set_retiring(block_manager *bm, int rank, int on) {
    if (rank < 0)
        return EMBER_EINVAL;
    for (size_t i = 0; i < bm->nretiring; i++)
        if (bm->retiring[i] == rank) {
            if (!on)
                bm->retiring[i] = bm->retiring[--bm->nretiring];
            return EMBER_OK;
        }
    if (!on)
        return EMBER_OK;
    if (bm->nretiring == bm->retiring_cap) {
        size_t ncap = bm->retiring_cap ? bm->retiring_cap * 2 : 4;
        int *p = realloc(bm->retiring, ncap * sizeof(*p));
        if (p == NULL)
            return EMBER_ENOMEM;
        bm->retiring = p;
        bm->retiring_cap = ncap;
    }
    bm->retiring[bm->nretiring++] = rank;
    return EMBER_OK;
}

int block_manager_counted(const block_manager *bm, const block_entry *e) {
    int n = e->nreplicas;
    if (bm->nretiring > 0)
        for (int i = 0; i < e->nreplicas; i++)
            n -= block_manager_is_retiring(bm, e->replicas[i]);
    return n;
}

static int bm_is_under(const block_manager *bm, const block_entry *e) {
    return e->complete && (uint32_t)block_manager_counted(bm, e) < bm_target(e);
}

static int bm_is_over(const block_manager *bm, const block_entry *e) {
    return e->complete && (uint32_t)block_manager_counted(bm, e) > e->replication;
}

int block_manager_reported(const block_manager *bm, int rank) {
    return rank >= 0 && (size_t)rank < bm->reported_len && bm->reported[rank];
}

/* A linear scan. */
size_t block_manager_retiring_pending(const block_manager *bm, int rank) {
    size_t n = 0;
    for (size_t i = 0; i < bm->count; i++) {
        const block_entry *e = &bm->blocks[i].entry;
        n += (size_t)(bm_replica_index(e, rank) >= 0 && bm_is_under(bm, e));
    }
    return n;
}

static int bm_id_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sifts heap[i] down a max-heap of n ids. */
static void bm_heap_down(uint64_t *heap, size_t n, size_t i) {
    for (;;) {
        size_t largest = i, left = 2 * i + 1, right = 2 * i + 2;
        if (left < n && heap[left] > heap[largest])
            largest = left;
        if (right < n && heap[right] > heap[largest])
            largest = right;
        if (largest == i)
            return;
        uint64_t t = heap[i];
        heap[i] = heap[largest];
        heap[largest] = t;
        i = largest;
    }
}

/* Sifts heap[i] up a max-heap. */
static void bm_heap_up(uint64_t *heap, size_t i) {
    while (i > 0 && heap[(i - 1) / 2] < heap[i]) {
        uint64_t t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* The ids of up to max blocks that wants() accepts, in (nreplicas, id)
 * order, without allocating.  A first scan counts the wanted blocks per
 * replica count and finds the cut bucket, the first that does not fit
 * whole; a second places the blocks of smaller counts straight into their
 * bucket's part of ids and keeps the lowest ids of the cut bucket in a
 * bounded max-heap at the end of ids; each part is then sorted by id.
 * O(blocks + max log max). */
static size_t bm_collect(const block_manager *bm,
                         int (*wants)(const block_manager *, const block_entry *), uint64_t *ids,
                         size_t max) {
    size_t per[BM_BUCKETS] = {0}, next[BM_BUCKETS];
    if (max == 0)
        return 0;
    for (size_t i = 0; i < bm->count; i++)
        if (wants(bm, &bm->blocks[i].entry))
            per[bm->blocks[i].entry.nreplicas]++;
    size_t whole = 0, cut = BM_BUCKETS, room = 0;
    for (size_t b = 0; b < BM_BUCKETS; b++) {
        next[b] = whole;
        if (whole + per[b] > max) {
            cut = b;
            room = max - whole;
            break;
        }
        whole += per[b];
    }
    uint64_t *heap = ids + whole;
    size_t nheap = 0;
    for (size_t i = 0; i < bm->count; i++) {
        const block_entry *e = &bm->blocks[i].entry;
        if (!wants(bm, e))
            continue;
        size_t b = (size_t)e->nreplicas;
        if (b < cut) {
            ids[next[b]++] = e->block_id;
        } else if (b == cut && room > 0) {
            if (nheap < room) {
                heap[nheap] = e->block_id;
                bm_heap_up(heap, nheap++);
            } else if (e->block_id < heap[0]) {
                heap[0] = e->block_id;
                bm_heap_down(heap, nheap, 0);
            }
        }
    }
    size_t start = 0;
    for (size_t b = 0; b < BM_BUCKETS && b < cut; b++) {
        assert(next[b] == start + per[b]);
        qsort(ids + start, per[b], sizeof(*ids), bm_id_cmp);
        start += per[b];
    }
    assert(nheap == room);
    qsort(heap, nheap, sizeof(*heap), bm_id_cmp);
    return whole + nheap;
}

/* A linear scan (see the file header).  Under-replicated: complete with
 * fewer replicas than the expected replication, capped at the tracked
 * maximum; missing blocks (no replica) come first. */
size_t block_manager_under_replicated(const block_manager *bm, uint64_t *ids, size_t max) {
    return bm_collect(bm, bm_is_under, ids, max);
}

/* A linear scan; complete blocks with more replicas than expected, in the
 * same order (fewest replicas, then lowest id). */
size_t block_manager_over_replicated(const block_manager *bm, uint64_t *ids, size_t max) {
    return bm_collect(bm, bm_is_over, ids, max);
}

static int bm_is_corrupt_replicated(const block_manager *bm, const block_entry *e) {
    return e->complete && e->ncorrupt > 0 && (uint32_t)block_manager_counted(bm, e) >= bm_target(e);
}

/* A linear scan; in the order of the other lists. */
size_t block_manager_corrupt_replicated(const block_manager *bm, uint64_t *ids, size_t max) {
    return bm_collect(bm, bm_is_corrupt_replicated, ids, max);
}

/* A linear scan.  Missing and corrupt blocks also count as
 * under-replicated. */
void block_manager_get_stats(const block_manager *bm, block_manager_stats *out) {
    memset(out, 0, sizeof(*out));
    out->blocks = bm->count;
    for (size_t i = 0; i < bm->count; i++) {
        const block_entry *e = &bm->blocks[i].entry;
        out->complete += (uint64_t)(e->complete != 0);
        out->under_replicated += (uint64_t)bm_is_under(bm, e);
        out->over_replicated += (uint64_t)bm_is_over(bm, e);
        out->missing += (uint64_t)(e->complete && e->nreplicas == 0 && e->ncorrupt == 0);
        out->corrupt += (uint64_t)(e->complete && e->nreplicas == 0 && e->ncorrupt > 0);
        out->corrupt_replicas += (uint64_t)e->ncorrupt;
        out->with_corrupt += (uint64_t)(e->ncorrupt > 0);
        out->lost_repl_one += (uint64_t)(e->complete && e->nreplicas == 0 && e->replication == 1);
    }
}
