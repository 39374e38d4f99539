/* test_block_manager.c -- unit tests for namenode/block_manager.c.
 *
 * Covers id and gen stamp allocation (the first ids of a new cluster, and
 * add raising the counters so a replayed log ends where it began), add,
 * get, complete, set_replication and remove with their errors, the rules
 * of add_replica (unknown, stale, wrong length, duplicate, the tracked
 * maximum), append's reopen, lease recovery, pipeline recovery's new gen
 * stamp (old replicas kept out while open, stale once complete), node_lost, full block reports, placement (golden cases with a
 * fixed seed, the writer first, rack rules and their fallbacks, exclude,
 * unusable nodes, too few nodes, determinism, thousands of random
 * clusters checked against the rules, the preference for free space),
 * corrupt replicas (marking, staying corrupt through reports and repeated
 * additions, dropped by remove, a stale report, a lost node or a new gen
 * stamp, sharing the tracked maximum, counted in no list but their own),
 * the under- and over-replicated lists against a brute-force reference
 * (with corrupt replicas among the random blocks), the stats, and
 * 1,000,000 blocks added, looked up and removed in a shuffled order.
 * Each test owns a manager created with SEED. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "namenode/block_manager.h"

#define SEED 42u
#define FIRST_ID UINT64_C(1073741825) /* HDFS's first sequential block id */
#define FIRST_GS UINT64_C(1001)
#define MAXR BLOCK_MANAGER_MAX_REPLICAS
#define GB (UINT64_C(1) << 30)

static int setup(void **state) {
    block_manager *bm = NULL;
    if (block_manager_create(0, 0, SEED, &bm) != 0)
        return -1;
    *state = bm;
    return 0;
}

static int teardown(void **state) {
    block_manager_destroy(*state);
    return 0;
}

/* A test-local xorshift64 for random inputs (not the manager's). */
static uint64_t test_random(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static placement_node node(int rank, const char *rack, uint64_t remaining, int usable) {
    placement_node n;
    memset(&n, 0, sizeof(n));
    n.rank = rank;
    snprintf(n.rack, sizeof(n.rack), "%s", rack);
    n.remaining = remaining;
    n.usable = usable;
    return n;
}

/* Adds a block with the given replicas, complete with length 100 when
 * complete is set. */
static void add_block(block_manager *bm, uint64_t id, uint32_t replication, int complete,
                      const int *ranks, int n) {
    assert_int_equal(block_manager_add(bm, id, 2000, replication), 0);
    if (complete)
        assert_int_equal(block_manager_complete(bm, id, 100), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(block_manager_add_replica(bm, id, ranks[i], 2000, 100), 0);
}

static int has_replica(const block_manager *bm, uint64_t id, int rank) {
    const block_entry *e = block_manager_get(bm, id);
    assert_non_null(e);
    for (int i = 0; i < e->nreplicas; i++)
        if (e->replicas[i] == rank)
            return 1;
    return 0;
}

/* ---- allocation ---------------------------------------------------------- */

static void test_allocate_sequence(void **state) {
    block_manager *bm = *state;
    uint64_t id, gs;
    block_manager_last_ids(bm, &id, &gs);
    assert_true(id == FIRST_ID - 1 && gs == FIRST_GS - 1);
    block_manager_allocate(bm, &id, &gs);
    assert_true(id == FIRST_ID && gs == FIRST_GS);
    block_manager_allocate(bm, &id, &gs);
    assert_true(id == FIRST_ID + 1 && gs == FIRST_GS + 1);
    block_manager_last_ids(bm, &id, &gs);
    assert_true(id == FIRST_ID + 1 && gs == FIRST_GS + 1);
    assert_null(block_manager_get(bm, FIRST_ID)); /* allocation does not add */

    /* A restart from a checkpoint continues after its ids. */
    block_manager *next = NULL;
    assert_int_equal(block_manager_create(id, gs, SEED, &next), 0);
    block_manager_allocate(next, &id, &gs);
    assert_true(id == FIRST_ID + 2 && gs == FIRST_GS + 2);
    block_manager_destroy(next);
    assert_int_equal(block_manager_create(500, 7000, SEED, &next), 0);
    block_manager_allocate(next, &id, &gs);
    assert_true(id == 501 && gs == 7001);
    block_manager_destroy(next);
    block_manager_destroy(NULL);
}

static void test_add_raises_counters(void **state) {
    block_manager *bm = *state;
    uint64_t ids[5], gss[5], id, gs;
    for (int i = 0; i < 5; i++) {
        block_manager_allocate(bm, &ids[i], &gss[i]);
        if (i != 2) /* one allocation was abandoned before it was added */
            assert_int_equal(block_manager_add(bm, ids[i], gss[i], 3), 0);
    }
    /* Replaying the logged additions into a manager started from the
     * checkpoint's (initial) ids leaves the counters where they were. */
    block_manager *replay = NULL;
    assert_int_equal(block_manager_create(0, 0, SEED, &replay), 0);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            assert_int_equal(block_manager_add(replay, ids[i], gss[i], 3), 0);
    uint64_t a_id, a_gs, b_id, b_gs;
    block_manager_last_ids(bm, &a_id, &a_gs);
    block_manager_last_ids(replay, &b_id, &b_gs);
    assert_true(a_id == b_id && a_gs == b_gs && a_id == ids[4] && a_gs == gss[4]);
    block_manager_allocate(replay, &id, &gs);
    assert_true(id == ids[4] + 1 && gs == gss[4] + 1);
    block_manager_destroy(replay);

    /* A lower id or gen stamp does not lower them; a higher one raises
     * each independently. */
    assert_int_equal(block_manager_add(bm, 7, 3, 1), 0);
    block_manager_last_ids(bm, &id, &gs);
    assert_true(id == ids[4] && gs == gss[4]);
    assert_int_equal(block_manager_add(bm, ids[4] + 100, 5, 1), 0);
    assert_int_equal(block_manager_add(bm, 9, gss[4] + 50, 1), 0);
    block_manager_allocate(bm, &id, &gs);
    assert_true(id == ids[4] + 101 && gs == gss[4] + 51);
}

/* ---- blocks ---------------------------------------------------------------- */

static void test_add_get_complete_remove(void **state) {
    block_manager *bm = *state;
    uint64_t id, gs;
    block_manager_allocate(bm, &id, &gs);
    assert_int_equal(block_manager_add(bm, id, gs, 3), 0);
    assert_int_equal(block_manager_add(bm, id, gs, 3), EMBER_EEXIST);
    assert_int_equal(block_manager_add(bm, id + 1, gs, 0), EMBER_EINVAL);
    assert_null(block_manager_get(bm, id + 1));
    const block_entry *e = block_manager_get(bm, id);
    assert_non_null(e);
    assert_true(e->block_id == id && e->gen_stamp == gs && e->length == 0);
    assert_int_equal(e->replication, 3);
    assert_int_equal(e->complete, 0);
    assert_int_equal(e->nreplicas, 0);

    assert_int_equal(block_manager_complete(bm, id + 1, 10), EMBER_ENOENT);
    assert_int_equal(block_manager_complete(bm, id, 4096), 0);
    e = block_manager_get(bm, id);
    assert_int_equal(e->complete, 1);
    assert_true(e->length == 4096);

    assert_int_equal(block_manager_set_replication(bm, id, 5), 0);
    assert_int_equal(block_manager_get(bm, id)->replication, 5);
    assert_int_equal(block_manager_set_replication(bm, id, 0), EMBER_EINVAL);
    assert_int_equal(block_manager_set_replication(bm, id + 1, 2), EMBER_ENOENT);
    assert_int_equal(block_manager_get(bm, id)->replication, 5);

    assert_int_equal(block_manager_add_replica(bm, id, 4, gs, 4096), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 9, gs, 4096), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 2, gs, 4096), 0);
    int holders[MAXR], nholders = -1;
    assert_int_equal(block_manager_remove(bm, id + 1, holders, &nholders), EMBER_ENOENT);
    assert_int_equal(nholders, -1);
    assert_int_equal(block_manager_remove(bm, id, holders, &nholders), 0);
    assert_int_equal(nholders, 3);
    assert_int_equal(holders[0], 4);
    assert_int_equal(holders[1], 9);
    assert_int_equal(holders[2], 2);
    assert_null(block_manager_get(bm, id));
    assert_int_equal(block_manager_remove(bm, id, holders, &nholders), EMBER_ENOENT);

    /* Removing with no holders wanted; the other blocks are untouched. */
    assert_int_equal(block_manager_add(bm, 10, 1, 1), 0);
    assert_int_equal(block_manager_add(bm, 11, 1, 1), 0);
    assert_int_equal(block_manager_remove(bm, 10, NULL, NULL), 0);
    assert_null(block_manager_get(bm, 10));
    assert_non_null(block_manager_get(bm, 11));
    assert_int_equal(block_manager_add(bm, 10, 1, 1), 0); /* an id can come back */
}

static void test_replication_above_max(void **state) {
    block_manager *bm = *state;
    int ranks[MAXR];
    for (int i = 0; i < MAXR; i++)
        ranks[i] = i;
    add_block(bm, 1, MAXR + 4, 1, ranks, MAXR - 1);
    assert_int_equal(block_manager_get(bm, 1)->replication, MAXR + 4); /* kept as given */
    uint64_t ids[4];
    assert_int_equal(block_manager_under_replicated(bm, ids, 4), 1);
    assert_int_equal(block_manager_add_replica(bm, 1, MAXR - 1, 2000, 100), 0);
    /* All the replicas that can be tracked: no longer under-replicated. */
    assert_int_equal(block_manager_under_replicated(bm, ids, 4), 0);
    assert_int_equal(block_manager_over_replicated(bm, ids, 4), 0);
}

/* ---- replicas -------------------------------------------------------------- */

static void test_add_replica_rules(void **state) {
    block_manager *bm = *state;
    assert_int_equal(block_manager_add_replica(bm, 77, 1, 2000, 0), EMBER_ENOENT);
    assert_int_equal(block_manager_add(bm, 77, 2000, 3), 0);
    assert_int_equal(block_manager_add_replica(bm, 77, -1, 2000, 0), EMBER_EINVAL);

    /* Under construction: any length, the same or a newer gen stamp; an
     * older one is neither counted nor to be deleted (lease recovery may
     * need it). */
    assert_int_equal(block_manager_add_replica(bm, 77, 1, 2000, 5), 0);
    assert_int_equal(block_manager_add_replica(bm, 77, 2, 2001, 9), 0);
    assert_int_equal(block_manager_add_replica(bm, 77, 3, 1999, 9), EMBER_EAGAIN);
    assert_int_equal(block_manager_get(bm, 77)->nreplicas, 2);

    /* Twice is fine and changes nothing. */
    assert_int_equal(block_manager_add_replica(bm, 77, 1, 2000, 5), 0);
    assert_int_equal(block_manager_get(bm, 77)->nreplicas, 2);

    /* Complete: a stale report from a recorded holder drops its replica. */
    assert_int_equal(block_manager_complete(bm, 77, 1000), 0);
    assert_int_equal(block_manager_add_replica(bm, 77, 1, 1999, 1000), EMBER_ESTATE);
    assert_int_equal(block_manager_get(bm, 77)->nreplicas, 1);
    assert_false(has_replica(bm, 77, 1));
    assert_true(has_replica(bm, 77, 2));

    /* Complete: the length must match. */
    assert_int_equal(block_manager_add_replica(bm, 77, 4, 2000, 999), EMBER_ESTATE);
    assert_int_equal(block_manager_add_replica(bm, 77, 4, 2000, 1000), 0);
    assert_int_equal(block_manager_add_replica(bm, 77, 2, 2000, 1001), EMBER_ESTATE);
    const block_entry *e = block_manager_get(bm, 77);
    assert_int_equal(e->nreplicas, 1);
    assert_int_equal(e->replicas[0], 4);

    /* At most MAXR replicas; a surplus one is refused, a known one fine. */
    for (int r = 100; r < 100 + MAXR - 1; r++)
        assert_int_equal(block_manager_add_replica(bm, 77, r, 2000, 1000), 0);
    assert_int_equal(block_manager_get(bm, 77)->nreplicas, MAXR);
    assert_int_equal(block_manager_add_replica(bm, 77, 500, 2000, 1000), EMBER_ESTATE);
    assert_int_equal(block_manager_add_replica(bm, 77, 100, 2000, 1000), 0);
    assert_int_equal(block_manager_get(bm, 77)->nreplicas, MAXR);
    assert_false(has_replica(bm, 77, 500));
}

/* Append reopens a complete block under a new gen stamp, forgetting its
 * replicas; recovery completes one under a newer one; both move the gen
 * stamp counter past the stamps they set. */
static void test_reopen_and_recover(void **state) {
    block_manager *bm = *state;
    uint64_t id, gs, last_id, last_gs;
    block_manager_allocate(bm, &id, &gs);
    assert_int_equal(block_manager_add(bm, id, gs, 2), 0);
    assert_int_equal(block_manager_complete(bm, id, 700), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 1, gs, 700), 0);
    assert_int_equal(block_manager_reopen(bm, id, gs - 1), EMBER_EINVAL);
    assert_int_equal(block_manager_reopen(bm, id + 1000, gs + 1), EMBER_ENOENT);
    assert_int_equal(block_manager_reopen(bm, id, gs + 5), 0);
    const block_entry *e = block_manager_get(bm, id);
    assert_int_equal(e->complete, 0);
    assert_int_equal(e->length, 700);
    assert_int_equal(e->nreplicas, 0);
    assert_int_equal(e->gen_stamp, gs + 5);
    block_manager_last_ids(bm, &last_id, &last_gs);
    assert_int_equal(last_gs, gs + 5);
    assert_int_equal(block_manager_next_gen_stamp(bm), gs + 6);
    /* The old replica is kept out of the count, not deleted. */
    assert_int_equal(block_manager_add_replica(bm, id, 1, gs, 700), EMBER_EAGAIN);
    assert_int_equal(block_manager_recovered(bm, id, gs + 6, 650), 0);
    e = block_manager_get(bm, id);
    assert_int_equal(e->complete, 1);
    assert_int_equal(e->length, 650);
    assert_int_equal(e->gen_stamp, gs + 6);
    assert_int_equal(block_manager_add_replica(bm, id, 2, gs + 6, 650), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 1, gs, 700), EMBER_ESTATE);
}

/* Pipeline recovery: a block under construction takes a newer gen stamp
 * (never an equal or older one, never on a complete or unknown block) and
 * forgets its replicas; one reported at the old stamp is then kept out
 * of the count but not deleted while the block is open, and is stale
 * (to be deleted) once it is complete.  The gen stamp counter moves past
 * the new stamp, as replaying the record needs. */
static void test_update_pipeline(void **state) {
    block_manager *bm = *state;
    uint64_t id, gs, last_id, last_gs;
    block_manager_allocate(bm, &id, &gs);
    assert_int_equal(block_manager_add(bm, id, gs, 3), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 1, gs, 0), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 2, gs, 0), 0);
    assert_int_equal(block_manager_update_pipeline(bm, id, gs), EMBER_EINVAL);
    assert_int_equal(block_manager_update_pipeline(bm, id, gs - 1), EMBER_EINVAL);
    assert_int_equal(block_manager_update_pipeline(bm, id + 1000, gs + 1), EMBER_ENOENT);
    assert_int_equal(block_manager_get(bm, id)->nreplicas, 2);
    assert_int_equal(block_manager_update_pipeline(bm, id, gs + 3), 0);
    const block_entry *e = block_manager_get(bm, id);
    assert_int_equal(e->complete, 0);
    assert_int_equal(e->gen_stamp, gs + 3);
    assert_int_equal(e->nreplicas, 0);
    assert_int_equal(e->replication, 3);
    block_manager_last_ids(bm, &last_id, &last_gs);
    assert_int_equal(last_gs, gs + 3);
    assert_int_equal(block_manager_next_gen_stamp(bm), gs + 4);
    /* The failed node's replica at the old stamp: kept out, not deleted. */
    assert_int_equal(block_manager_add_replica(bm, id, 1, gs, 1000), EMBER_EAGAIN);
    assert_int_equal(block_manager_add_replica(bm, id, 2, gs + 3, 1000), 0);
    assert_int_equal(block_manager_update_pipeline(bm, id, gs + 4), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 2, gs + 4, 1000), 0);
    assert_int_equal(block_manager_add_replica(bm, id, 3, gs + 4, 1000), 0);
    assert_int_equal(block_manager_complete(bm, id, 1000), 0);
    assert_int_equal(block_manager_get(bm, id)->nreplicas, 2);
    assert_int_equal(block_manager_add_replica(bm, id, 1, gs, 1000), EMBER_ESTATE);
    assert_int_equal(block_manager_add_replica(bm, id, 4, gs + 3, 1000), EMBER_ESTATE);
    assert_int_equal(block_manager_update_pipeline(bm, id, gs + 9), EMBER_ESTATE);
    assert_int_equal(block_manager_get(bm, id)->gen_stamp, gs + 4);
}

/* A retiring (decommissioning) rank's replicas do not count: its blocks
 * are under-replicated until copied elsewhere, never over-replicated
 * because of it; pending counts its blocks still short. */
static void test_retiring(void **state) {
    block_manager *bm = *state;
    uint64_t ids[4];
    block_manager_stats st;
    assert_int_equal(block_manager_add(bm, 5, 2000, 3), 0);
    assert_int_equal(block_manager_complete(bm, 5, 10), 0);
    for (int r = 1; r <= 3; r++)
        assert_int_equal(block_manager_add_replica(bm, 5, r, 2000, 10), 0);
    assert_int_equal(block_manager_add(bm, 6, 2000, 1), 0);
    assert_int_equal(block_manager_complete(bm, 6, 10), 0);
    assert_int_equal(block_manager_add_replica(bm, 6, 3, 2000, 10), 0);
    assert_int_equal(block_manager_under_replicated(bm, ids, 4), 0);
    assert_int_equal(block_manager_set_retiring(bm, -1, 1), EMBER_EINVAL);
    assert_int_equal(block_manager_set_retiring(bm, 2, 1), 0);
    assert_int_equal(block_manager_set_retiring(bm, 2, 1), 0); /* twice: once */
    assert_true(block_manager_is_retiring(bm, 2));
    assert_false(block_manager_is_retiring(bm, 3));
    assert_int_equal(block_manager_counted(bm, block_manager_get(bm, 5)), 2);
    assert_int_equal(block_manager_under_replicated(bm, ids, 4), 1);
    assert_int_equal(ids[0], 5);
    assert_int_equal(block_manager_retiring_pending(bm, 2), 1);
    assert_int_equal(block_manager_retiring_pending(bm, 3), 1); /* block 5 again: short anyway */
    /* A copy elsewhere: safe, and four on disk are not too many. */
    assert_int_equal(block_manager_add_replica(bm, 5, 4, 2000, 10), 0);
    assert_int_equal(block_manager_retiring_pending(bm, 2), 0);
    assert_int_equal(block_manager_under_replicated(bm, ids, 4), 0);
    assert_int_equal(block_manager_over_replicated(bm, ids, 4), 0);
    block_manager_get_stats(bm, &st);
    assert_int_equal(st.under_replicated, 0);
    assert_int_equal(st.over_replicated, 0);
    /* Back to normal: now it counts, and block 5 has one too many. */
    assert_int_equal(block_manager_set_retiring(bm, 2, 0), 0);
    assert_false(block_manager_is_retiring(bm, 2));
    assert_int_equal(block_manager_over_replicated(bm, ids, 4), 1);
    assert_int_equal(ids[0], 5);
}

/* ---- corrupt replicas ------------------------------------------------------ */

/* e's corrupt replicas, in order, are exactly ranks[0 .. n). */
static void expect_corrupt(const block_manager *bm, uint64_t id, const int *ranks, int n) {
    const block_entry *e = block_manager_get(bm, id);
    assert_non_null(e);
    assert_int_equal(e->ncorrupt, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(e->replicas[e->nreplicas + i], ranks[i]);
        assert_true(block_manager_is_corrupt(e, ranks[i]));
        assert_false(has_replica(bm, id, ranks[i])); /* not among the good ones */
    }
}

static void test_corrupt_mark(void **state) {
    block_manager *bm = *state;
    int r[] = {1, 2, 3, 4};
    add_block(bm, 9, 3, 1, r, 4);
    assert_int_equal(block_manager_mark_corrupt(bm, 8, 1), EMBER_ENOENT); /* unknown block */
    assert_int_equal(block_manager_mark_corrupt(bm, 9, 7), EMBER_ENOENT); /* not a holder */
    assert_int_equal(block_manager_mark_corrupt(bm, 9, 2), 0);
    assert_int_equal(block_manager_mark_corrupt(bm, 9, 2), EMBER_EEXIST);
    assert_int_equal(block_manager_mark_corrupt(bm, 9, 4), 0);
    const block_entry *e = block_manager_get(bm, 9);
    assert_int_equal(e->nreplicas, 2);
    assert_int_equal(e->replicas[0], 1); /* the good keep their order */
    assert_int_equal(e->replicas[1], 3);
    const int c24[] = {2, 4};
    expect_corrupt(bm, 9, c24, 2); /* in the order marked */
    assert_int_equal(block_manager_counted(bm, e), 2);
    assert_false(block_manager_is_corrupt(e, 1));

    /* Reported again (BlockReceived or a block report): still corrupt. */
    assert_int_equal(block_manager_add_replica(bm, 9, 2, 2000, 100), 0);
    expect_corrupt(bm, 9, c24, 2);
    assert_int_equal(block_manager_get(bm, 9)->nreplicas, 2);
    /* A new good replica goes after the good ones, before the corrupt. */
    assert_int_equal(block_manager_add_replica(bm, 9, 5, 2000, 100), 0);
    e = block_manager_get(bm, 9);
    assert_int_equal(e->nreplicas, 3);
    assert_int_equal(e->replicas[2], 5);
    expect_corrupt(bm, 9, c24, 2);
    /* Deleted, then a good copy again on the same node: it counts. */
    block_manager_remove_replica(bm, 9, 2);
    const int c4[] = {4};
    expect_corrupt(bm, 9, c4, 1);
    assert_int_equal(block_manager_add_replica(bm, 9, 2, 2000, 100), 0);
    assert_true(has_replica(bm, 9, 2));
    assert_int_equal(block_manager_counted(bm, block_manager_get(bm, 9)), 4);
    /* A stale report of the corrupt one drops it like a good one. */
    assert_int_equal(block_manager_add_replica(bm, 9, 4, 2000, 99), EMBER_ESTATE);
    expect_corrupt(bm, 9, NULL, 0);
    assert_int_equal(block_manager_get(bm, 9)->nreplicas, 4);

    /* Removing the block hands back every holder, the corrupt included. */
    assert_int_equal(block_manager_mark_corrupt(bm, 9, 1), 0);
    int holders[MAXR], nholders = 0;
    assert_int_equal(block_manager_remove(bm, 9, holders, &nholders), 0);
    assert_int_equal(nholders, 4);
    assert_int_equal(holders[3], 1);
}

/* The good and the corrupt share the tracked maximum; a lost node, a new
 * gen stamp and an unlisting report drop corrupt replicas too. */
static void test_corrupt_drops(void **state) {
    block_manager *bm = *state;
    int r[MAXR];
    for (int i = 0; i < MAXR; i++)
        r[i] = 100 + i;
    add_block(bm, 1, 3, 1, r, MAXR);
    assert_int_equal(block_manager_mark_corrupt(bm, 1, 100), 0);
    assert_int_equal(block_manager_add_replica(bm, 1, 500, 2000, 100), EMBER_ESTATE);
    block_manager_remove_replica(bm, 1, 101);
    assert_int_equal(block_manager_add_replica(bm, 1, 500, 2000, 100), 0);
    assert_int_equal(block_manager_get(bm, 1)->nreplicas, MAXR - 1);

    assert_int_equal(block_manager_node_lost(bm, 100), 1);
    expect_corrupt(bm, 1, NULL, 0);

    assert_int_equal(block_manager_mark_corrupt(bm, 1, 102), 0);
    assert_int_equal(block_manager_reopen(bm, 1, 2001), 0);
    const block_entry *e = block_manager_get(bm, 1);
    assert_true(e->nreplicas == 0 && e->ncorrupt == 0);

    int two[] = {7, 8};
    add_block(bm, 2, 2, 1, two, 2);
    assert_int_equal(block_manager_mark_corrupt(bm, 2, 7), 0);
    uint64_t *invalid = NULL, id2 = 2, gs = 2000, len = 100;
    size_t ninvalid = 0;
    assert_false(block_manager_reported(bm, 7));
    /* Still listed: stays corrupt (no resurrection). */
    assert_int_equal(block_manager_process_report(bm, 7, &id2, &gs, &len, 1, &invalid, &ninvalid),
                     0);
    assert_int_equal(ninvalid, 0);
    assert_true(block_manager_reported(bm, 7));
    assert_false(block_manager_reported(bm, 8));
    assert_false(block_manager_reported(bm, 1000));
    const int c7[] = {7};
    expect_corrupt(bm, 2, c7, 1);
    assert_int_equal(block_manager_get(bm, 2)->nreplicas, 1);
    /* No longer listed: gone from its disk, gone from the map. */
    assert_int_equal(block_manager_process_report(bm, 7, NULL, NULL, NULL, 0, &invalid, &ninvalid),
                     0);
    expect_corrupt(bm, 2, NULL, 0);
    assert_true(has_replica(bm, 2, 8));
}

/* Corrupt replicas count toward nothing: a block with only corrupt ones
 * is corrupt (not missing) and among the most urgent under-replicated; a
 * block whose good replicas reach its replication lists for deletion of
 * its corrupt ones (retiring replicas not counted). */
static void test_corrupt_lists_and_stats(void **state) {
    block_manager *bm = *state;
    int r[] = {1, 2, 3, 4};
    add_block(bm, 10, 2, 1, r, 2); /* both corrupt below */
    add_block(bm, 20, 2, 1, r, 0); /* missing */
    add_block(bm, 30, 2, 1, r, 2); /* one corrupt: under */
    add_block(bm, 40, 2, 1, r, 3); /* one corrupt: replicated, corrupt may go */
    add_block(bm, 50, 2, 0, r, 2); /* under construction: in no list */
    assert_int_equal(block_manager_mark_corrupt(bm, 10, 1), 0);
    assert_int_equal(block_manager_mark_corrupt(bm, 10, 2), 0);
    assert_int_equal(block_manager_mark_corrupt(bm, 30, 2), 0);
    assert_int_equal(block_manager_mark_corrupt(bm, 40, 3), 0);
    assert_int_equal(block_manager_mark_corrupt(bm, 50, 1), 0);
    block_manager_stats st;
    block_manager_get_stats(bm, &st);
    assert_true(st.complete == 4 && st.missing == 1 && st.corrupt == 1);
    assert_true(st.corrupt_replicas == 5 && st.under_replicated == 3 && st.over_replicated == 0);
    uint64_t ids[8];
    const uint64_t under[] = {10, 20, 30};
    assert_int_equal(block_manager_under_replicated(bm, ids, 8), 3);
    assert_memory_equal(ids, under, sizeof(under));
    assert_int_equal(block_manager_corrupt_replicated(bm, ids, 8), 1);
    assert_int_equal(ids[0], 40);
    assert_int_equal(block_manager_corrupt_replicated(bm, ids, 0), 0);
    /* A good copy arrives for 30: its corrupt one may go too. */
    assert_int_equal(block_manager_add_replica(bm, 30, 4, 2000, 100), 0);
    assert_int_equal(block_manager_corrupt_replicated(bm, ids, 8), 2);
    assert_true(ids[0] == 30 && ids[1] == 40);
    /* A retiring holder of 40 does not count: its corrupt one must stay. */
    assert_int_equal(block_manager_set_retiring(bm, 1, 1), 0);
    assert_int_equal(block_manager_corrupt_replicated(bm, ids, 8), 0);
    assert_int_equal(block_manager_retiring_pending(bm, 1), 2); /* 30 and 40 */
    block_manager_get_stats(bm, &st);
    assert_true(st.under_replicated == 4 && st.corrupt == 1 && st.missing == 1);
}

static void test_remove_replica(void **state) {
    block_manager *bm = *state;
    int ranks[] = {5, 6, 7, 8};
    add_block(bm, 1, 3, 1, ranks, 4);
    block_manager_remove_replica(bm, 1, 6);
    block_manager_remove_replica(bm, 1, 6);  /* absent: no error */
    block_manager_remove_replica(bm, 99, 5); /* unknown block: no error */
    const block_entry *e = block_manager_get(bm, 1);
    assert_int_equal(e->nreplicas, 3);
    assert_int_equal(e->replicas[0], 5); /* the others keep their order */
    assert_int_equal(e->replicas[1], 7);
    assert_int_equal(e->replicas[2], 8);
}

static void test_node_lost(void **state) {
    block_manager *bm = *state;
    int a[] = {1, 2, 3}, b[] = {2, 4}, c[] = {4, 5}, d[] = {2};
    add_block(bm, 1, 3, 1, a, 3);
    add_block(bm, 2, 3, 1, b, 2);
    add_block(bm, 3, 3, 0, c, 2);
    add_block(bm, 4, 1, 1, d, 1);
    assert_int_equal(block_manager_node_lost(bm, 2), 3);
    assert_false(has_replica(bm, 1, 2));
    assert_false(has_replica(bm, 2, 2));
    assert_int_equal(block_manager_get(bm, 1)->nreplicas, 2);
    assert_int_equal(block_manager_get(bm, 2)->nreplicas, 1);
    assert_int_equal(block_manager_get(bm, 3)->nreplicas, 2);
    assert_int_equal(block_manager_get(bm, 4)->nreplicas, 0);
    assert_int_equal(block_manager_node_lost(bm, 2), 0);
    assert_int_equal(block_manager_node_lost(bm, 99), 0);
    block_manager_stats st;
    block_manager_get_stats(bm, &st);
    assert_true(st.missing == 1 && st.blocks == 4);
}

static void test_process_report(void **state) {
    block_manager *bm = *state;
    int r7[] = {7}, r7_8[] = {7, 8}, r8[] = {8};
    add_block(bm, 1, 3, 1, r7, 1);   /* held by 7, not reported: dropped */
    add_block(bm, 2, 3, 1, r7_8, 2); /* held, reported again */
    add_block(bm, 3, 3, 1, r8, 1);   /* newly reported by 7 */
    add_block(bm, 4, 3, 1, r7, 1);   /* reported stale: dropped and invalid */
    add_block(bm, 5, 3, 0, NULL, 0); /* under construction, any length */
    uint64_t ids[] = {2, 3, 99, 4, 5};
    uint64_t gss[] = {2000, 2000, 2000, 1999, 2000};
    uint64_t lens[] = {100, 100, 100, 100, 12};
    uint64_t *invalid = NULL;
    size_t ninvalid = 0;
    assert_int_equal(block_manager_process_report(bm, 7, ids, gss, lens, 5, &invalid, &ninvalid),
                     0);
    assert_int_equal(ninvalid, 2);
    assert_true(invalid[0] == 99 && invalid[1] == 4);
    free(invalid);
    assert_false(has_replica(bm, 1, 7));
    assert_true(has_replica(bm, 2, 7) && has_replica(bm, 2, 8));
    assert_true(has_replica(bm, 3, 7) && has_replica(bm, 3, 8));
    assert_false(has_replica(bm, 4, 7));
    assert_true(has_replica(bm, 5, 7));
    assert_null(block_manager_get(bm, 99));

    /* An empty report drops everything of 7 and nothing of 8. */
    assert_int_equal(block_manager_process_report(bm, 7, NULL, NULL, NULL, 0, &invalid, &ninvalid),
                     0);
    assert_null(invalid);
    assert_int_equal(ninvalid, 0);
    for (uint64_t id = 1; id <= 5; id++)
        assert_false(has_replica(bm, id, 7));
    assert_true(has_replica(bm, 2, 8) && has_replica(bm, 3, 8));

    /* A second reporter's report leaves the first's replicas alone. */
    uint64_t ids8[] = {2};
    assert_int_equal(block_manager_process_report(bm, 8, ids8, gss, lens, 1, &invalid, &ninvalid),
                     0);
    assert_null(invalid);
    assert_true(has_replica(bm, 2, 8));
    assert_false(has_replica(bm, 3, 8));
    assert_int_equal(block_manager_process_report(bm, -1, NULL, NULL, NULL, 0, &invalid, &ninvalid),
                     EMBER_EINVAL);
    assert_int_equal(block_manager_process_report(bm, 1, NULL, NULL, NULL, 3, &invalid, &ninvalid),
                     EMBER_EINVAL);
}

/* ---- placement ------------------------------------------------------------- */

static int is_candidate(const placement_node *nodes, size_t nnodes, const int *exclude,
                        size_t nexclude, const int *chosen, size_t nchosen, size_t i) {
    if (!nodes[i].usable)
        return 0;
    for (size_t k = 0; k < nexclude; k++)
        if (exclude[k] == nodes[i].rank)
            return 0;
    for (size_t k = 0; k < nchosen; k++)
        if (chosen[k] == nodes[i].rank)
            return 0;
    return 1;
}

static const placement_node *find_node(const placement_node *nodes, size_t nnodes, int rank) {
    for (size_t i = 0; i < nnodes; i++)
        if (nodes[i].rank == rank)
            return &nodes[i];
    fail_msg("rank %d is not a node", rank);
    return NULL;
}

/* Whether some candidate (given what was chosen before step k) is on
 * (same) or off (!same) rack. */
static int rack_has_candidate(const placement_node *nodes, size_t nnodes, const int *exclude,
                              size_t nexclude, const int *chosen, size_t k, const char *rack,
                              int same) {
    for (size_t i = 0; i < nnodes; i++)
        if (is_candidate(nodes, nnodes, exclude, nexclude, chosen, k, i) &&
            (strcmp(nodes[i].rack, rack) == 0) == same)
            return 1;
    return 0;
}

/* Checks a choice against every rule of the header: distinct usable ranks
 * out of exclude, as many as there are candidates (up to replication),
 * the writer first when it is a candidate, the second off the first's rack
 * and the third on the second's when possible.  Ranks are distinct in
 * nodes. */
static void check_choice(const placement_node *nodes, size_t nnodes, int writer,
                         uint32_t replication, const int *exclude, size_t nexclude,
                         const int *targets, size_t n) {
    size_t candidates = 0;
    int writer_ok = 0;
    for (size_t i = 0; i < nnodes; i++) {
        if (is_candidate(nodes, nnodes, exclude, nexclude, NULL, 0, i)) {
            candidates++;
            writer_ok |= nodes[i].rank == writer;
        }
    }
    assert_int_equal(n, candidates < replication ? candidates : replication);
    for (size_t k = 0; k < n; k++) {
        const placement_node *t = find_node(nodes, nnodes, targets[k]);
        assert_true(t->usable);
        for (size_t j = 0; j < nexclude; j++)
            assert_int_not_equal(targets[k], exclude[j]);
        for (size_t j = 0; j < k; j++)
            assert_int_not_equal(targets[k], targets[j]);
    }
    if (n >= 1 && writer_ok)
        assert_int_equal(targets[0], writer);
    if (n >= 2) {
        const char *rack0 = find_node(nodes, nnodes, targets[0])->rack;
        const char *rack1 = find_node(nodes, nnodes, targets[1])->rack;
        if (rack_has_candidate(nodes, nnodes, exclude, nexclude, targets, 1, rack0, 0))
            assert_string_not_equal(rack1, rack0);
    }
    if (n >= 3) {
        const char *rack1 = find_node(nodes, nnodes, targets[1])->rack;
        const char *rack2 = find_node(nodes, nnodes, targets[2])->rack;
        if (rack_has_candidate(nodes, nnodes, exclude, nexclude, targets, 2, rack1, 1))
            assert_string_equal(rack2, rack1);
    }
}

/* Two racks of three core nodes (ranks 1-3 on /r1, 4-6 on /r2), equal
 * space. */
static void two_racks(placement_node *nodes) {
    for (int i = 0; i < 6; i++)
        nodes[i] = node(i + 1, i < 3 ? "/r1" : "/r2", 100 * GB, 1);
}

static void test_choose_golden(void **state) {
    block_manager *bm = *state;
    placement_node nodes[6];
    two_racks(nodes);
    for (int i = 0; i < 6; i++)
        nodes[i].remaining = (uint64_t)(i + 1) * 10 * GB;
    int t[8];
    size_t n;
    /* Fixed seed, fixed call sequence: these exact targets.  A change of
     * the generator or of the policy's draws shows up here first. */
    static const int want[4][3] = {{2, 6, 5}, {5, 2, 3}, {5, 3, 2}, {3, 6, 5}};
    const int writers[4] = {2, 99, 5, -1};
    for (int call = 0; call < 4; call++) {
        block_manager_choose_targets(bm, nodes, 6, writers[call], 3, NULL, 0, t, &n);
        assert_int_equal(n, 3);
        check_choice(nodes, 6, writers[call], 3, NULL, 0, t, n);
        for (int k = 0; k < 3; k++)
            assert_int_equal(t[k], want[call][k]);
    }
}

static void test_choose_writer_first(void **state) {
    block_manager *bm = *state;
    placement_node nodes[6];
    two_racks(nodes);
    int t[3];
    size_t n;
    for (int writer = 1; writer <= 6; writer++) {
        for (int trial = 0; trial < 50; trial++) {
            block_manager_choose_targets(bm, nodes, 6, writer, 3, NULL, 0, t, &n);
            assert_int_equal(n, 3);
            assert_int_equal(t[0], writer);
            const char *wrack = nodes[writer - 1].rack;
            assert_string_not_equal(nodes[t[1] - 1].rack, wrack); /* the other rack */
            assert_string_equal(nodes[t[2] - 1].rack, nodes[t[1] - 1].rack);
            assert_int_not_equal(t[2], t[1]);
        }
    }
}

/* A writer that is no candidate (a task node, unusable or excluded) does
 * not get the first replica; the first is then random over the nodes. */
static void test_choose_writer_not_candidate(void **state) {
    block_manager *bm = *state;
    placement_node nodes[6];
    two_racks(nodes);
    int t[3], seen[7] = {0};
    size_t n;
    for (int trial = 0; trial < 600; trial++) {
        block_manager_choose_targets(bm, nodes, 6, 40, 3, NULL, 0, t, &n); /* a task node */
        assert_int_equal(n, 3);
        check_choice(nodes, 6, 40, 3, NULL, 0, t, n);
        seen[t[0]]++;
    }
    for (int r = 1; r <= 6; r++)
        assert_true(seen[r] > 50); /* about 100 each */
    nodes[1].usable = 0;
    int exclude[] = {3};
    for (int trial = 0; trial < 100; trial++) {
        block_manager_choose_targets(bm, nodes, 6, 2, 3, NULL, 0, t, &n);
        assert_int_equal(n, 3);
        assert_int_not_equal(t[0], 2);
        check_choice(nodes, 6, 2, 3, NULL, 0, t, n);
        block_manager_choose_targets(bm, nodes, 6, 3, 3, exclude, 1, t, &n);
        assert_int_equal(n, 3);
        assert_int_not_equal(t[0], 3);
        check_choice(nodes, 6, 3, 3, exclude, 1, t, n);
    }
}

static void test_choose_single_rack(void **state) {
    block_manager *bm = *state;
    placement_node nodes[4];
    for (int i = 0; i < 4; i++)
        nodes[i] = node(i, "/default-rack", 10 * GB, 1);
    int t[3];
    size_t n;
    for (int trial = 0; trial < 200; trial++) {
        block_manager_choose_targets(bm, nodes, 4, 0, 3, NULL, 0, t, &n);
        assert_int_equal(n, 3);
        assert_int_equal(t[0], 0);
        assert_true(t[1] != t[0] && t[2] != t[0] && t[2] != t[1]);
        check_choice(nodes, 4, 0, 3, NULL, 0, t, n);
    }
}

/* When the rack rules cannot be met they fall back to any other node. */
static void test_choose_rack_fallbacks(void **state) {
    block_manager *bm = *state;
    placement_node nodes[6];
    two_racks(nodes);
    int t[3];
    size_t n;
    /* The other rack's nodes all excluded or unusable: second on /r1. */
    int exclude[] = {4, 5};
    nodes[5].usable = 0;
    block_manager_choose_targets(bm, nodes, 6, 1, 3, exclude, 2, t, &n);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 1);
    assert_true((t[1] == 2 && t[2] == 3) || (t[1] == 3 && t[2] == 2));

    /* The second's rack has no other node: third back on the first's. */
    two_racks(nodes);
    nodes[4].usable = 0;
    nodes[5].usable = 0;
    for (int trial = 0; trial < 50; trial++) {
        block_manager_choose_targets(bm, nodes, 6, 2, 3, NULL, 0, t, &n);
        assert_int_equal(n, 3);
        assert_int_equal(t[0], 2);
        assert_int_equal(t[1], 4);
        assert_true(t[2] == 1 || t[2] == 3);
    }
}

static void test_choose_exclude_and_unusable(void **state) {
    block_manager *bm = *state;
    placement_node nodes[8];
    for (int i = 0; i < 8; i++)
        nodes[i] = node(i, i % 2 ? "/a" : "/b", (uint64_t)(i + 1) * GB, i != 5 && i != 6);
    int exclude[] = {1, 2, 3}, t[8];
    size_t n;
    for (int trial = 0; trial < 300; trial++) {
        block_manager_choose_targets(bm, nodes, 8, trial % 9, 8, exclude, 3, t, &n);
        assert_int_equal(n, 3); /* 0, 4 and 7 */
        for (size_t k = 0; k < n; k++)
            assert_true(t[k] == 0 || t[k] == 4 || t[k] == 7);
        check_choice(nodes, 8, trial % 9, 8, exclude, 3, t, n);
    }
}

static void test_choose_too_few(void **state) {
    block_manager *bm = *state;
    placement_node nodes[3] = {node(1, "/r1", GB, 1), node(2, "/r2", GB, 0), node(3, "/r2", GB, 1)};
    int t[5] = {-7, -7, -7, -7, -7};
    size_t n = 99;
    block_manager_choose_targets(bm, nodes, 3, 1, 5, NULL, 0, t, &n);
    assert_int_equal(n, 2);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 3);
    assert_int_equal(t[2], -7); /* nothing written past what was found */
    block_manager_choose_targets(bm, nodes, 3, 1, 0, NULL, 0, t, &n);
    assert_int_equal(n, 0);
    block_manager_choose_targets(bm, NULL, 0, 1, 3, NULL, 0, t, &n);
    assert_int_equal(n, 0);
    nodes[0].usable = nodes[2].usable = 0;
    block_manager_choose_targets(bm, nodes, 3, 1, 3, NULL, 0, t, &n);
    assert_int_equal(n, 0);
    /* A node listed twice is chosen once. */
    placement_node twice[2] = {node(4, "/r1", GB, 1), node(4, "/r1", GB, 1)};
    block_manager_choose_targets(bm, twice, 2, -1, 3, NULL, 0, t, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 4);
}

/* The same seed and calls give the same targets; another seed differs. */
static void test_choose_deterministic(void **state) {
    (void)state;
    placement_node nodes[20];
    for (int i = 0; i < 20; i++)
        nodes[i] = node(i, i < 10 ? "/r1" : i < 15 ? "/r2" : "/r3", (uint64_t)(i % 7 + 1) * GB, 1);
    block_manager *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(block_manager_create(0, 0, 7, &a), 0);
    assert_int_equal(block_manager_create(0, 0, 7, &b), 0);
    assert_int_equal(block_manager_create(0, 0, 8, &c), 0);
    int differ = 0;
    for (int call = 0; call < 200; call++) {
        int ta[5], tb[5], tc[5];
        size_t na, nb, nc;
        int writer = call % 3 == 0 ? call % 20 : -1;
        block_manager_choose_targets(a, nodes, 20, writer, 5, NULL, 0, ta, &na);
        block_manager_choose_targets(b, nodes, 20, writer, 5, NULL, 0, tb, &nb);
        block_manager_choose_targets(c, nodes, 20, writer, 5, NULL, 0, tc, &nc);
        assert_int_equal(na, 5);
        assert_int_equal(nb, 5);
        assert_memory_equal(ta, tb, sizeof(ta));
        differ |= memcmp(ta, tc, sizeof(ta)) != 0;
    }
    assert_true(differ);
    block_manager_destroy(a);
    block_manager_destroy(b);
    block_manager_destroy(c);
}

/* Thousands of random clusters (racks, usable flags, excludes, writers)
 * checked against every rule. */
static void test_choose_random_trials(void **state) {
    block_manager *bm = *state;
    uint64_t s = 0x1234567;
    placement_node nodes[40];
    int exclude[8], t[MAXR];
    const char *racks[] = {"/r0", "/r1", "/r2", "/r3"};
    for (int trial = 0; trial < 5000; trial++) {
        size_t nnodes = 1 + test_random(&s) % 40;
        size_t nracks = 1 + test_random(&s) % 4;
        for (size_t i = 0; i < nnodes; i++)
            nodes[i] = node((int)i * 3 + 1, racks[test_random(&s) % nracks],
                            test_random(&s) % (1000 * GB), test_random(&s) % 5 != 0);
        size_t nexclude = test_random(&s) % 8;
        for (size_t k = 0; k < nexclude; k++)
            exclude[k] = (int)(test_random(&s) % (nnodes * 3 + 2));
        int writer = (int)(test_random(&s) % (nnodes * 3 + 3)) - 1;
        uint32_t replication = (uint32_t)(test_random(&s) % (MAXR + 1));
        size_t n = 0;
        block_manager_choose_targets(bm, nodes, nnodes, writer, replication, exclude, nexclude, t,
                                     &n);
        check_choice(nodes, nnodes, writer, replication, exclude, nexclude, t, n);
    }
}

/* Random picks prefer space: of ten nodes, one with far more free space
 * wins about 20% of single-replica picks (uniform would be 10%), and the
 * fullest node is never the more free of two. */
static void test_choose_prefers_space(void **state) {
    block_manager *bm = *state;
    placement_node nodes[10];
    for (int i = 0; i < 10; i++)
        nodes[i] = node(i, "/default-rack", (uint64_t)(10 + i) * GB, 1);
    nodes[3].remaining = 5000 * GB;
    nodes[7].remaining = GB;
    int counts[10] = {0}, t[1];
    size_t n;
    for (int trial = 0; trial < 10000; trial++) {
        block_manager_choose_targets(bm, nodes, 10, -1, 1, NULL, 0, t, &n);
        assert_int_equal(n, 1);
        counts[t[0]]++;
    }
    assert_true(counts[3] > 1500);
    assert_true(counts[7] < 500);
    for (int i = 0; i < 10; i++)
        if (i != 3 && i != 7)
            assert_true(counts[i] < counts[3]);
}

/* ---- replication lists and stats ------------------------------------------ */

static void test_under_over_lists(void **state) {
    block_manager *bm = *state;
    int r[] = {1, 2, 3, 4, 5};
    add_block(bm, 50, 3, 1, r, 2); /* under, 2 */
    add_block(bm, 20, 3, 1, r, 0); /* missing */
    add_block(bm, 30, 3, 1, r, 1); /* under, 1 */
    add_block(bm, 10, 3, 1, r, 2); /* under, 2 */
    add_block(bm, 40, 3, 1, r, 0); /* missing */
    add_block(bm, 60, 3, 0, r, 0); /* under construction: neither */
    add_block(bm, 70, 3, 1, r, 3); /* just right */
    add_block(bm, 80, 2, 1, r, 5); /* over, 5 */
    add_block(bm, 90, 1, 1, r, 2); /* over, 2 */
    add_block(bm, 85, 3, 1, r, 4); /* over, 4 */
    add_block(bm, 95, 1, 0, r, 3); /* under construction: neither */
    uint64_t ids[16];
    const uint64_t under[] = {20, 40, 30, 10, 50};
    assert_int_equal(block_manager_under_replicated(bm, ids, 16), 5);
    assert_memory_equal(ids, under, sizeof(under));
    for (size_t max = 0; max <= 5; max++) { /* every cut gives a prefix */
        memset(ids, 0, sizeof(ids));
        assert_int_equal(block_manager_under_replicated(bm, ids, max), max);
        assert_memory_equal(ids, under, max * sizeof(*ids));
        assert_true(ids[max] == 0);
    }
    const uint64_t over[] = {90, 85, 80};
    assert_int_equal(block_manager_over_replicated(bm, ids, 16), 3);
    assert_memory_equal(ids, over, sizeof(over));
    assert_int_equal(block_manager_over_replicated(bm, ids, 2), 2);
    assert_memory_equal(ids, over, 2 * sizeof(*ids));

    /* setrep and new replicas move blocks between the lists. */
    assert_int_equal(block_manager_set_replication(bm, 70, 4), 0);
    assert_int_equal(block_manager_set_replication(bm, 80, 5), 0);
    assert_int_equal(block_manager_add_replica(bm, 30, 9, 2000, 100), 0);
    assert_int_equal(block_manager_add_replica(bm, 30, 8, 2000, 100), 0);
    const uint64_t under2[] = {20, 40, 10, 50, 70};
    assert_int_equal(block_manager_under_replicated(bm, ids, 16), 5);
    assert_memory_equal(ids, under2, sizeof(under2));
    const uint64_t over2[] = {90, 85};
    assert_int_equal(block_manager_over_replicated(bm, ids, 16), 2);
    assert_memory_equal(ids, over2, sizeof(over2));
}

static int cmp_key(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0])
        return (x[0] > y[0]) - (x[0] < y[0]);
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* The lists against a brute-force sort of random blocks, for many max. */
static void test_lists_match_reference(void **state) {
    block_manager *bm = *state;
    enum { N = 3000 };
    uint64_t s = 99;
    uint64_t(*under)[2] = malloc(N * sizeof(*under)); /* {nreplicas, id} */
    uint64_t(*over)[2] = malloc(N * sizeof(*over));
    uint64_t *ids = malloc((N + 1) * sizeof(*ids));
    assert_true(under && over && ids);
    size_t nunder = 0, nover = 0, ncorrupt = 0;
    int ranks[MAXR];
    for (int i = 0; i < MAXR; i++)
        ranks[i] = i;
    for (int i = 0; i < N; i++) {
        uint64_t id = test_random(&s) % 1000000000 + 1;
        if (block_manager_get(bm, id) != NULL)
            continue;
        uint32_t rep = 1 + (uint32_t)(test_random(&s) % 5);
        int nrep = (int)(test_random(&s) % 8), complete = test_random(&s) % 4 != 0;
        add_block(bm, id, rep, complete, ranks, nrep);
        /* A third of the blocks have some replicas corrupt: only the rest
         * count. */
        int bad = test_random(&s) % 3 == 0 ? (int)(test_random(&s) % (uint64_t)(nrep + 1)) : 0;
        for (int k = 0; k < bad; k++)
            assert_int_equal(block_manager_mark_corrupt(bm, id, ranks[k]), 0);
        ncorrupt += (size_t)(complete && bad > 0 && bad == nrep);
        nrep -= bad;
        if (complete && (uint32_t)nrep < rep) {
            under[nunder][0] = (uint64_t)nrep;
            under[nunder++][1] = id;
        }
        if (complete && (uint32_t)nrep > rep) {
            over[nover][0] = (uint64_t)nrep;
            over[nover++][1] = id;
        }
    }
    qsort(under, nunder, sizeof(*under), cmp_key);
    qsort(over, nover, sizeof(*over), cmp_key);
    assert_true(nunder > 100 && nover > 100);
    const size_t maxes[] = {1, 2, 7, 100, 333, 500, 1000, N};
    for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        size_t max = maxes[m];
        ids[max < N ? max : N] = 12345;
        size_t got = block_manager_under_replicated(bm, ids, max);
        assert_int_equal(got, max < nunder ? max : nunder);
        for (size_t i = 0; i < got; i++)
            assert_true(ids[i] == under[i][1]);
        got = block_manager_over_replicated(bm, ids, max);
        assert_int_equal(got, max < nover ? max : nover);
        for (size_t i = 0; i < got; i++)
            assert_true(ids[i] == over[i][1]);
        if (max < N)
            assert_true(ids[max] == 12345); /* nothing written past max */
    }
    block_manager_stats st;
    block_manager_get_stats(bm, &st);
    assert_true(st.under_replicated == nunder && st.over_replicated == nover);
    assert_true(ncorrupt > 10 && st.corrupt == ncorrupt);
    free(under);
    free(over);
    free(ids);
}

static void test_stats(void **state) {
    block_manager *bm = *state;
    block_manager_stats st;
    block_manager_get_stats(bm, &st);
    assert_true(st.blocks == 0 && st.complete == 0 && st.under_replicated == 0 &&
                st.over_replicated == 0 && st.missing == 0);
    int r[] = {1, 2, 3, 4};
    add_block(bm, 1, 3, 1, r, 0); /* missing, under */
    add_block(bm, 2, 3, 1, r, 1); /* under */
    add_block(bm, 3, 3, 1, r, 4); /* over */
    add_block(bm, 4, 3, 1, r, 3);
    add_block(bm, 5, 3, 0, r, 0); /* under construction */
    add_block(bm, 6, 1, 0, r, 4); /* under construction */
    block_manager_get_stats(bm, &st);
    assert_true(st.blocks == 6);
    assert_true(st.complete == 4);
    assert_true(st.under_replicated == 2);
    assert_true(st.over_replicated == 1);
    assert_true(st.missing == 1);
    assert_int_equal(block_manager_remove(bm, 1, NULL, NULL), 0);
    block_manager_get_stats(bm, &st);
    assert_true(st.blocks == 5 && st.missing == 0 && st.under_replicated == 1);
}

/* ---- scale ------------------------------------------------------------------- */

/* 1,000,000 allocated blocks added, looked up, half removed in a shuffled
 * order with the rest checked, then the rest removed. */
static void test_million_blocks(void **state) {
    block_manager *bm = *state;
    enum { N = 1000000 };
    uint64_t *ids = malloc(N * sizeof(*ids)), gs, s = 7;
    assert_non_null(ids);
    for (size_t i = 0; i < N; i++) {
        block_manager_allocate(bm, &ids[i], &gs);
        assert_int_equal(block_manager_add(bm, ids[i], gs, 3), 0);
        if (i % 3 == 0)
            assert_int_equal(block_manager_add_replica(bm, ids[i], (int)(i % 50), gs, 0), 0);
    }
    assert_true(ids[0] == FIRST_ID && ids[N - 1] == FIRST_ID + N - 1);
    for (size_t i = 0; i < N; i++) {
        const block_entry *e = block_manager_get(bm, ids[i]);
        if (e == NULL || e->block_id != ids[i] || e->nreplicas != (i % 3 == 0))
            fail_msg("block %zu wrong", i);
    }
    assert_null(block_manager_get(bm, FIRST_ID + N));
    for (size_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = test_random(&s) % (i + 1);
        uint64_t t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    for (size_t i = 0; i < N / 2; i++) {
        int holders[MAXR], nholders;
        if (block_manager_remove(bm, ids[i], holders, &nholders) != 0)
            fail_msg("remove %zu failed", i);
        int want = (ids[i] - FIRST_ID) % 3 == 0;
        if (nholders != want || (want && holders[0] != (int)((ids[i] - FIRST_ID) % 50)))
            fail_msg("holders of %zu wrong", i);
    }
    block_manager_stats st;
    block_manager_get_stats(bm, &st);
    assert_true(st.blocks == N / 2);
    for (size_t i = 0; i < N; i++) {
        const block_entry *e = block_manager_get(bm, ids[i]);
        if ((e != NULL) != (i >= N / 2) || (e != NULL && e->block_id != ids[i]))
            fail_msg("lookup %zu wrong after removals", i);
    }
    for (size_t i = N / 2; i < N; i++)
        if (block_manager_remove(bm, ids[i], NULL, NULL) != 0)
            fail_msg("remove %zu failed", i);
    block_manager_get_stats(bm, &st);
    assert_true(st.blocks == 0);
    assert_null(block_manager_get(bm, ids[0]));
    free(ids);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(test_allocate_sequence),
        TEST(test_add_raises_counters),
        TEST(test_add_get_complete_remove),
        TEST(test_replication_above_max),
        TEST(test_add_replica_rules),
        TEST(test_reopen_and_recover),
        TEST(test_update_pipeline),
        TEST(test_retiring),
        TEST(test_corrupt_mark),
        TEST(test_corrupt_drops),
        TEST(test_corrupt_lists_and_stats),
        TEST(test_remove_replica),
        TEST(test_node_lost),
        TEST(test_process_report),
        TEST(test_choose_golden),
        TEST(test_choose_writer_first),
        TEST(test_choose_writer_not_candidate),
        TEST(test_choose_single_rack),
        TEST(test_choose_rack_fallbacks),
        TEST(test_choose_exclude_and_unusable),
        TEST(test_choose_too_few),
        TEST(test_choose_deterministic),
        TEST(test_choose_random_trials),
        TEST(test_choose_prefers_space),
        TEST(test_under_over_lists),
        TEST(test_lists_match_reference),
        TEST(test_stats),
        TEST(test_million_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
