/* test_block_ops.c -- unit tests for namenode/block_ops.c: the datanodes'
 * replica reports.
 *
 * Each test starts a real namenode (namenode_create()) on a fresh name
 * directory whose edit log, written here, holds one file /f with one
 * complete 1000-byte block, replication 3; the namenode's sends are
 * recorded (DeleteBlocks by rank) and its block map is read through
 * namenode_internal.h.  No loop turn runs, so the redundancy monitor stays
 * still: a test looks at the map it would act on.  Covers
 * IncrementalBlockReport: a deleted replica dropped from the map (the
 * block then under-replicated), a deletion of a replica the map does not
 * hold changing nothing, received entries taken as BlockReceived (recorded
 * once, an unknown block and a stale or wrong-length replica deleted),
 * deleted entries applied before received ones, a confirmed deletion
 * clearing the ring of recent deletes so that a later full block report
 * counts the replica again (and one not confirmed keeping a stale report
 * from bringing it back), and reports from ranks out of range ignored. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "cluster/node_registry.h"
#include "namenode/namenode_internal.h"
#include "test_util.h"

#define WORLD 5 /* the primary and core ranks 1..4 */
#define BLOCK 1073741825ull
#define GS 1001ull
#define LEN 1000ull
#define MAX_DELETES 32

typedef struct {
    int rank;
    uint64_t block_id;
} delete_record;

struct fixture {
    char tmp[64];
    char name_dir[128];
    event_loop *loop;
    node_registry *registry;
    namenode *nn;
    delete_record deletes[MAX_DELETES]; /* DeleteBlocks sent, one entry per id */
    int ndeletes;
};

static int fake_send(void *arg, int dest, const RankMessage *msg) {
    struct fixture *f = arg;
    if (msg->body_case == RANK_MESSAGE__BODY_DELETE_BLOCKS)
        for (size_t i = 0; i < msg->delete_blocks->n_block_ids && f->ndeletes < MAX_DELETES; i++)
            f->deletes[f->ndeletes++] = (delete_record){dest, msg->delete_blocks->block_ids[i]};
    return EMBER_OK;
}

static int fixture_datanode(void *arg, int rank, namenode_datanode *out) {
    struct fixture *f = arg;
    return node_registry_namenode_view(f->registry, rank, out);
}

/* Appends the records that make /f with its one complete block. */
static void write_log(const char *dir) {
    assert_int_equal(mkdir(dir, 0700), 0);
    edit_log *log = NULL;
    assert_int_equal(edit_log_open(dir, 0, &log), 0);
    EditCreate create = EDIT_CREATE__INIT;
    create.path = "/f";
    create.owner = "alice";
    create.group = "staff";
    create.mode = 0644;
    create.replication = 3;
    create.block_size = 1 << 20;
    create.under_construction = 1;
    create.client_name = "DFSClient_test";
    EditAddBlock add = EDIT_ADD_BLOCK__INIT;
    add.path = "/f";
    add.block_id = BLOCK;
    add.gen_stamp = GS;
    EditComplete complete = EDIT_COMPLETE__INIT;
    complete.path = "/f";
    complete.last_block_id = BLOCK;
    complete.last_length = LEN;
    complete.file_length = LEN;
    EditRecord recs[3] = {EDIT_RECORD__INIT, EDIT_RECORD__INIT, EDIT_RECORD__INIT};
    recs[0].op_case = EDIT_RECORD__OP_CREATE;
    recs[0].create = &create;
    recs[1].op_case = EDIT_RECORD__OP_ADD_BLOCK;
    recs[1].add_block = &add;
    recs[2].op_case = EDIT_RECORD__OP_COMPLETE;
    recs[2].complete = &complete;
    for (int i = 0; i < 3; i++) {
        recs[i].time_ms = i + 1;
        assert_int_equal(edit_log_append(log, &recs[i], NULL), 0);
    }
    assert_int_equal(edit_log_sync(log), 0);
    edit_log_close(log);
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    strcpy(f->tmp, "/tmp/ember_test_block_ops_XXXXXX");
    if (mkdtemp(f->tmp) == NULL)
        return -1;
    snprintf(f->name_dir, sizeof(f->name_dir), "%s/name", f->tmp);
    write_log(f->name_dir);
    if (event_loop_create(&f->loop) != EMBER_OK ||
        node_registry_create(WORLD, WORLD - 1, 10000, clock_monotonic_ms(), &f->registry) !=
            EMBER_OK)
        return -1;
    namenode_options o = {.name_dir = f->name_dir,
                          .superuser = "root",
                          .default_replication = 3,
                          .max_replication = WORLD - 1,
                          .default_block_size = 1 << 20,
                          .checkpoint_txns = 1000,
                          .checkpoint_period_ms = 3600000,
                          .list_limit = 1000,
                          .world_size = WORLD,
                          .secret = "0123456789abcdef",
                          .token_lifetime_ms = 60000,
                          .redundancy_interval_ms = 3600000,
                          .pending_timeout_ms = 30000,
                          .lease_soft_limit_ms = 60000,
                          .lease_hard_limit_ms = 3600000,
                          .lease_recheck_ms = 3600000,
                          .recovery_timeout_ms = 30000,
                          .host = {.datanode = fixture_datanode, .send = fake_send, .arg = f}};
    char err[256] = "";
    if (namenode_create(f->loop, &o, &f->nn, err, sizeof(err)) != EMBER_OK) {
        fprintf(stderr, "namenode_create: %s\n", err);
        return -1;
    }
    /* Each node's first full report, empty: nothing of a node counts
     * before it (fencing). */
    for (int r = 1; r < WORLD; r++) {
        BlockReport rep = BLOCK_REPORT__INIT;
        rep.last = 1;
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
        msg.block_report = &rep;
        namenode_on_rank_message(f->nn, r, &msg);
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    namenode_destroy(f->nn);
    node_registry_destroy(f->registry);
    event_loop_destroy(f->loop);
    test_rm_tree(f->tmp);
    free(f);
    return 0;
}

/* ---- helpers ---- */

/* Hands msg to the namenode as if rank source had sent it (a copy: the
 * handler frees what it takes). */
static void deliver(struct fixture *f, int source, const RankMessage *msg) {
    size_t len = protobuf_c_message_get_packed_size(&msg->base);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    protobuf_c_message_pack(&msg->base, buf);
    RankMessage *copy = rank_message__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(copy);
    namenode_on_rank_message(f->nn, source, copy);
    rank_message__free_unpacked(copy, NULL);
}

static void block_received(struct fixture *f, int source, uint64_t id, uint64_t gs, uint64_t len) {
    BlockReceived br = BLOCK_RECEIVED__INIT;
    br.block_id = id;
    br.gen_stamp = gs;
    br.length = len;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_RECEIVED;
    msg.block_received = &br;
    deliver(f, source, &msg);
}

/* An IncrementalBlockReport from source: nrec received (id, gs, len)
 * triples in rec, ndel deleted ids. */
static void incremental(struct fixture *f, int source, const uint64_t (*rec)[3], size_t nrec,
                        const uint64_t *del, size_t ndel) {
    uint64_t ids[8], gss[8], lens[8];
    assert_true(nrec <= 8);
    for (size_t i = 0; i < nrec; i++) {
        ids[i] = rec[i][0];
        gss[i] = rec[i][1];
        lens[i] = rec[i][2];
    }
    IncrementalBlockReport ibr = INCREMENTAL_BLOCK_REPORT__INIT;
    ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = nrec;
    ibr.received_block_ids = ids;
    ibr.received_gen_stamps = gss;
    ibr.received_lengths = lens;
    ibr.n_deleted_block_ids = ndel;
    ibr.deleted_block_ids = (uint64_t *)del;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT;
    msg.incremental_block_report = &ibr;
    deliver(f, source, &msg);
}

/* A one-piece full block report from source listing BLOCK or nothing. */
static void full_report(struct fixture *f, int source, int lists_block) {
    uint64_t id = BLOCK, gs = GS, len = LEN;
    BlockReport br = BLOCK_REPORT__INIT;
    br.last = 1;
    br.n_block_ids = br.n_gen_stamps = br.n_lengths = lists_block ? 1 : 0;
    br.block_ids = &id;
    br.gen_stamps = &gs;
    br.lengths = &len;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
    msg.block_report = &br;
    deliver(f, source, &msg);
}

/* A datanode's scanner reports its replica corrupt: the namenode drops
 * it and sends DeleteBlocks (remembered in the ring of recent deletes). */
static void bad_replica(struct fixture *f, int source) {
    ReportBadBlock bad = REPORT_BAD_BLOCK__INIT;
    bad.block_id = BLOCK;
    bad.rank = (uint32_t)source;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BAD_REPLICA;
    msg.bad_replica = &bad;
    deliver(f, source, &msg);
}

/* BLOCK's holders as a bit set of ranks. */
static unsigned holders(struct fixture *f) {
    const block_entry *b = block_manager_get(f->nn->bm, BLOCK);
    assert_non_null(b);
    unsigned set = 0;
    for (int i = 0; i < b->nreplicas; i++)
        set |= 1u << b->replicas[i];
    return set;
}

static int under_replicated(struct fixture *f) {
    uint64_t ids[4];
    size_t n = block_manager_under_replicated(f->nn->bm, ids, 4);
    return n == 1 && ids[0] == BLOCK;
}

static int deleted_on(struct fixture *f, int rank, uint64_t id) {
    int n = 0;
    for (int i = 0; i < f->ndeletes; i++)
        n += f->deletes[i].rank == rank && f->deletes[i].block_id == id;
    return n;
}

/* ---- tests ---- */

/* A replica whose files went (the directory scanner's deleted entry) is
 * dropped, and the block is under-replicated for the redundancy monitor;
 * nothing is sent back.  Deleting what the map does not hold, an unknown
 * block, or from a rank out of range changes nothing. */
static void test_deleted_dropped(void **state) {
    struct fixture *f = *state;
    for (int r = 1; r <= 3; r++)
        block_received(f, r, BLOCK, GS, LEN);
    assert_int_equal(holders(f), 0xe);
    assert_false(under_replicated(f));

    uint64_t del[2] = {BLOCK, 99};
    incremental(f, 2, NULL, 0, del, 2);
    assert_int_equal(holders(f), 0xa);
    assert_true(under_replicated(f));
    assert_int_equal(f->ndeletes, 0);

    incremental(f, 4, NULL, 0, del, 1); /* rank 4 never held it */
    incremental(f, 2, NULL, 0, del, 1); /* twice */
    incremental(f, WORLD, NULL, 0, del, 1);
    incremental(f, 0, NULL, 0, del, 1);
    assert_int_equal(holders(f), 0xa);
    assert_int_equal(f->ndeletes, 0);
}

/* Received entries are taken as BlockReceived: a good replica recorded
 * (the block full again), unwanted ones deleted; in one report the
 * deleted entries go first, so a replica both gone and found again
 * stays. */
static void test_received_entries(void **state) {
    struct fixture *f = *state;
    block_received(f, 1, BLOCK, GS, LEN);
    const uint64_t good[1][3] = {{BLOCK, GS, LEN}};
    incremental(f, 2, good, 1, NULL, 0);
    incremental(f, 2, good, 1, NULL, 0); /* again: still one replica there */
    assert_int_equal(holders(f), 0x6);
    assert_int_equal(block_manager_get(f->nn->bm, BLOCK)->nreplicas, 2);

    const uint64_t bad[3][3] = {{BLOCK, GS - 1, LEN}, {BLOCK, GS, LEN - 1}, {12345, 1, 10}};
    incremental(f, 3, bad, 1, NULL, 0); /* stale gen stamp */
    assert_int_equal(deleted_on(f, 3, BLOCK), 1);
    incremental(f, 4, bad + 1, 1, NULL, 0); /* wrong length */
    assert_int_equal(deleted_on(f, 4, BLOCK), 1);
    incremental(f, 3, bad + 2, 1, NULL, 0); /* unknown block */
    assert_int_equal(deleted_on(f, 3, 12345), 1);
    assert_int_equal(holders(f), 0x6);

    uint64_t del[1] = {BLOCK};
    incremental(f, 2, good, 1, del, 1); /* moved between its directories */
    assert_int_equal(holders(f), 0x6);
    incremental(f, 1, NULL, 0, del, 1);
    incremental(f, 3, good, 1, NULL, 0);
    assert_int_equal(holders(f), 0xc);
}

/* The namenode drops a replica when it sends DeleteBlocks; a full report
 * sent before the delete arrived must not bring it back (the ring of
 * recent deletes), but once the datanode confirms the deletion, what it
 * reports later is counted again. */
static void test_confirmation_clears_ring(void **state) {
    struct fixture *f = *state;
    f->nn->safe_mode = NAMENODE_SAFE_OFF; /* nothing corrupt is deleted in safe mode */
    for (int r = 1; r <= 4; r++)
        block_received(f, r, BLOCK, GS, LEN);
    /* Two deletes: a corrupt replica of a block that keeps 3 good ones
     * (deleted at once), and a stale one (a wrong gen stamp). */
    bad_replica(f, 1);
    block_received(f, 2, BLOCK, GS - 1, LEN);
    assert_int_equal(deleted_on(f, 1, BLOCK), 1);
    assert_int_equal(deleted_on(f, 2, BLOCK), 1);
    assert_int_equal(holders(f), 0x18);

    /* Rank 1's report left before the delete reached it: ignored. */
    full_report(f, 1, 1);
    assert_int_equal(holders(f), 0x18);
    /* Rank 2 confirms; its later report (a new copy, say) counts. */
    uint64_t del[1] = {BLOCK};
    incremental(f, 2, NULL, 0, del, 1);
    assert_int_equal(holders(f), 0x18);
    full_report(f, 2, 1);
    assert_int_equal(holders(f), 0x1c);
    /* Rank 1 has not confirmed: still ignored. */
    full_report(f, 1, 1);
    assert_int_equal(holders(f), 0x1c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deleted_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_received_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmation_clears_ring, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
