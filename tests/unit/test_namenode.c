/* test_namenode.c -- unit tests for the namenode's corrupt replicas,
 * admin states and stale replicas after lease recovery
 * (namenode/replication.c, block_ops.c, namenode.c, lease_manager.c).
 *
 * A real namenode on an event loop, hosted by the fixture: a node
 * registry of four live core nodes (ranks 1-4) and a task node (rank 5)
 * for its view of the datanodes, answers dropped (errors' codes kept;
 * a restart makes a new loop, since a namenode's hook stays on its loop),
 * and a fake rank transport that keeps every DeleteBlocks and
 * ReplicateBlock the namenode sends.  Requests and datanode messages go
 * in as decoded copies, as the primary hands them over; the redundancy
 * monitor's tick is called by hand.  Each test has its own name directory
 * (mkdtemp), so restarts load what the last namenode wrote.
 *
 * Covers: a replica reported corrupt is kept, uncounted, the block copied
 * from a good replica elsewhere and only then the corrupt one deleted;
 * every replica corrupt: nothing deleted or copied, however many ticks,
 * and block reports still listing them do not make them good; three
 * replicas on three usable nodes: the corrupt one goes so its node can take
 * a good copy; enough good ones already: deleted at once; safe mode
 * deletes nothing.  Decommission: logged, kept in the image and in the
 * log across restarts, resumed after a restart only once the node has
 * reported, finished (logged too) when its blocks are safe elsewhere, its
 * replicas kept uncounted; recommission back to Normal, its replicas
 * counting again and the surplus trimmed; refusals (the primary, a task
 * node, an unknown rank, recommissioning a Normal node) change nothing;
 * admin changes are taken in safe mode; a logged state for a rank the
 * cluster no longer has is skipped, one out of range stops the start.
 * Group commit on the pool: an answer waits for the fsync of its record,
 * which runs on another thread while the loop goes on taking mutations;
 * those are batched into the next single fsync and answered in order; a
 * failed fsync fails the waiting answers and every later mutation.
 *
 * Lease recovery of a block finalized on one node only: the replicas
 * that cannot reach the recovered gen stamp and length are deleted once
 * the recovery commits, not before.  Truncate (file_ops.c): at a block
 * boundary the blocks go at once; inside one, block recovery cuts the
 * finalized replicas to the target, which survives a restart (image and
 * log) and is resumed by the lease monitor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cluster/node_registry.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "namenode/edit_log.h"
#include "namenode/namenode.h"
#include "namenode/namenode_internal.h"
#include "proto/message.h"
#include "test_util.h"

#define WORLD 6 /* rank 0 the primary, 1-4 core nodes, 5 a task node */
#define CORES 4
#define CONN 777 /* a connection the gateway does not have: answers are dropped */
#define MAX_SENT 512
#define BLOCK_LEN 100
#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct {
    int dest;
    RankMessage *msg; /* a decoded copy */
} sent_msg;

struct fixture {
    char tmp[64];
    char name_dir[96];
    event_loop *loop;
    node_registry *reg;
    namenode *nn;
    int last_error;             /* the code of the last error answered */
    sent_msg sent[MAX_SENT];
    int nsent;
};

/* ---- plumbing ------------------------------------------------------------ */

/* A decoded copy of msg (free with rank_message__free_unpacked), as the
 * MPI link hands messages over. */
static RankMessage *copy_rank(const RankMessage *msg) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_rank(msg, 1 << 20, &buf, &len), 0);
    RankMessage *copy;
    assert_int_equal(message_decode_rank(buf, len, &copy), 0);
    free(buf);
    return copy;
}

static int fake_send(void *arg, int dest, const RankMessage *msg) {
    struct fixture *f = arg;
    assert_true(f->nsent < MAX_SENT);
    f->sent[f->nsent++] = (sent_msg){.dest = dest, .msg = copy_rank(msg)};
    return EMBER_OK;
}

static void forget_sent(struct fixture *f) {
    for (int i = 0; i < f->nsent; i++)
        rank_message__free_unpacked(f->sent[i].msg, NULL);
    f->nsent = 0;
}

static int fixture_datanode(void *arg, int rank, namenode_datanode *out) {
    struct fixture *f = arg;
    return node_registry_namenode_view(f->reg, rank, out);
}

/* Answers go nowhere; errors are counted so tests can expect them. */
static void fixture_reply(void *arg, uint64_t conn, const uint8_t *frame, size_t len) {
    (void)arg;
    (void)conn;
    (void)frame;
    (void)len;
}

static void fixture_reply_error(void *arg, uint64_t conn, int code, const char *message) {
    struct fixture *f = arg;
    (void)conn;
    (void)message;
    f->last_error = code;
}

static void register_node(node_registry *reg, int rank, NodeRole role) {
    HwlocSummary hw = HWLOC_SUMMARY__INIT;
    hw.cores = 4;
    hw.pus = 8;
    StorageReport st = STORAGE_REPORT__INIT;
    st.capacity_bytes = UINT64_C(100) << 30;
    st.remaining_bytes = UINT64_C(50) << 30;
    st.data_dirs = role == NODE_ROLE__ROLE_CORE ? 1 : 0;
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    RegisterNode m = REGISTER_NODE__INIT;
    m.resources = &res;
    char host[32];
    snprintf(host, sizeof(host), "node-%d", rank);
    m.rank = (uint32_t)rank;
    m.role = role;
    m.hostname = host;
    m.pid = 1000 + (uint32_t)rank;
    m.hwloc = &hw;
    m.storage = &st;
    m.data_host = role == NODE_ROLE__ROLE_CORE ? "127.0.0.1" : "";
    m.data_port = role == NODE_ROLE__ROLE_CORE ? 40000 + (uint32_t)rank : 0;
    assert_int_equal(node_registry_register(reg, rank, &m, clock_monotonic_ms(), clock_wall_ms()),
                     0);
}

static void namenode_start(struct fixture *f, int world) {
    assert_int_equal(event_loop_create(&f->loop), 0);
    namenode_options o = {
        .name_dir = f->name_dir,
        .superuser = "root",
        .default_replication = 3,
        .max_replication = CORES,
        .default_block_size = 1 << 20,
        .checkpoint_txns = 1000000,
        .checkpoint_period_ms = 3600000,
        .list_limit = 1000,
        .world_size = world,
        .secret = SECRET,
        .token_lifetime_ms = 600000,
        .redundancy_interval_ms = 3600000, /* ticks come from the tests */
        .pending_timeout_ms = 30000,
        .safemode_threshold_ppm = 999000,
        .safemode_extension_ms = 0,
        .lease_soft_limit_ms = 60000,
        .lease_hard_limit_ms = 1200000,
        .lease_recheck_ms = 3600000,
        .recovery_timeout_ms = 2000,
        .permissions = 0,
        .host = {.datanode = fixture_datanode,
                 .send = fake_send,
                 .reply = fixture_reply,
                 .reply_error = fixture_reply_error,
                 .arg = f},
    };
    char err[512] = "";
    int rc = namenode_create(f->loop, &o, &f->nn, err, sizeof(err));
    if (rc != 0)
        fail_msg("namenode_create: %s (%s)", ember_strerror(rc), err);
}

static void namenode_stop(struct fixture *f) {
    namenode_destroy(f->nn);
    event_loop_destroy(f->loop);
    f->nn = NULL;
    f->loop = NULL;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/ember-test-nn.XXXXXX");
    if (mkdtemp(f->tmp) == NULL)
        return -1;
    snprintf(f->name_dir, sizeof(f->name_dir), "%s/name", f->tmp);
    log_set_level(LOG_LEVEL_ERROR); /* to stderr: the WARNs a test provokes stay quiet */
    if (node_registry_create(WORLD, CORES, 60000, clock_monotonic_ms(), &f->reg) != 0)
        return -1;
    for (int r = 1; r < WORLD; r++)
        register_node(f->reg, r, r <= CORES ? NODE_ROLE__ROLE_CORE : NODE_ROLE__ROLE_TASK);
    namenode_start(f, WORLD);
    /* Every core node's first full report, empty: until it arrives the
     * namenode counts nothing of the node (fencing). */
    for (int r = 1; r <= CORES && r < WORLD; r++) {
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
    namenode_stop(f);
    node_registry_destroy(f->reg);
    forget_sent(f);
    test_rm_tree(f->tmp);
    free(f);
    return 0;
}

/* Hands the namenode a decoded copy of req, as the gateway does, then
 * runs one loop turn (the group commit). */
static void request(struct fixture *f, const ClientMessage *req) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_client(req, 0, 1 << 20, &buf, &len), 0);
    ClientMessage *copy;
    assert_int_equal(message_decode_client(buf, len, &copy), 0);
    free(buf);
    namenode_on_request(f->nn, CONN, copy);
    client_message__free_unpacked(copy, NULL);
    event_loop_run_once(f->loop, 0);
}

static void rank_message(struct fixture *f, int source, const RankMessage *msg) {
    RankMessage *copy = copy_rank(msg);
    namenode_on_rank_message(f->nn, source, copy);
    rank_message__free_unpacked(copy, NULL);
    event_loop_run_once(f->loop, 0);
}

static void block_received(struct fixture *f, int rank, uint64_t id, uint64_t gs) {
    BlockReceived m = BLOCK_RECEIVED__INIT;
    m.block_id = id;
    m.gen_stamp = gs;
    m.length = BLOCK_LEN;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_RECEIVED;
    msg.block_received = &m;
    rank_message(f, rank, &msg);
}

/* A full block report from rank listing the given complete blocks. */
static void block_report(struct fixture *f, int rank, const uint64_t *ids, size_t n) {
    uint64_t gss[8], lens[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        gss[i] = block_manager_get(f->nn->bm, ids[i])->gen_stamp;
        lens[i] = BLOCK_LEN;
    }
    BlockReport m = BLOCK_REPORT__INIT;
    m.last = 1;
    m.n_block_ids = m.n_gen_stamps = m.n_lengths = n;
    m.block_ids = (uint64_t *)ids;
    m.gen_stamps = gss;
    m.lengths = lens;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
    msg.block_report = &m;
    rank_message(f, rank, &msg);
}

/* rank's replica of id was found corrupt: by a reader (a client's
 * ReportBadBlock) or by the datanode's scanner (its own bad_replica). */
enum { BY_SCANNER = 0, BY_READER = 1 };
static void report_corrupt(struct fixture *f, int rank, uint64_t id, int by) {
    ReportBadBlock m = REPORT_BAD_BLOCK__INIT;
    m.block_id = id;
    m.rank = (uint32_t)rank;
    if (by == BY_READER) {
        ClientMessage msg = CLIENT_MESSAGE__INIT;
        msg.body_case = CLIENT_MESSAGE__BODY_REPORT_BAD_BLOCK;
        msg.report_bad_block = &m;
        request(f, &msg);
        return;
    }
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BAD_REPLICA;
    msg.bad_replica = &m;
    rank_message(f, rank, &msg);
}

/* Writes path as one complete block of BLOCK_LEN bytes with the given
 * replication, its replicas reported by ranks; returns the block id. */
/* Creates path for writing by DFSClient_test and adds its first block,
 * whose id comes back; the file stays open. */
static uint64_t open_file(struct fixture *f, const char *path, uint32_t replication) {
    CreateRequest cr = CREATE_REQUEST__INIT;
    cr.path = (char *)path;
    cr.replication = replication;
    cr.for_write = 1;
    cr.client_name = "DFSClient_test";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_CREATE;
    msg.create = &cr;
    request(f, &msg);
    AddBlockRequest ab = ADD_BLOCK_REQUEST__INIT;
    ab.path = (char *)path;
    ab.client_rank = -1;
    ab.client_name = "DFSClient_test";
    msg.body_case = CLIENT_MESSAGE__BODY_ADD_BLOCK;
    msg.add_block = &ab;
    request(f, &msg);
    const uint64_t *blocks;
    size_t nblocks = 0;
    assert_int_equal(fs_namespace_blocks(f->nn->ns, path, &blocks, &nblocks), 0);
    assert_int_equal(nblocks, 1);
    return blocks[0];
}

static uint64_t write_file(struct fixture *f, const char *path, uint32_t replication,
                           const int *ranks, int n) {
    uint64_t id = open_file(f, path, replication);
    uint64_t gs = block_manager_get(f->nn->bm, id)->gen_stamp;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    for (int i = 0; i < n; i++)
        block_received(f, ranks[i], id, gs);
    CompleteRequest co = COMPLETE_REQUEST__INIT;
    co.path = (char *)path;
    co.last_block_id = id;
    co.last_length = BLOCK_LEN;
    co.client_name = "DFSClient_test";
    msg.body_case = CLIENT_MESSAGE__BODY_COMPLETE;
    msg.complete = &co;
    request(f, &msg);
    const block_entry *b = block_manager_get(f->nn->bm, id);
    assert_true(b->complete);
    assert_int_equal(b->nreplicas, n);
    return id;
}

static void tick(struct fixture *f) { namenode_redundancy_tick(f->loop, f->nn); }

/* How many DeleteBlocks naming id went to dest (-1: any). */
static int deletes(const struct fixture *f, int dest, uint64_t id) {
    int n = 0;
    for (int i = 0; i < f->nsent; i++) {
        const RankMessage *m = f->sent[i].msg;
        if (m->body_case != RANK_MESSAGE__BODY_DELETE_BLOCKS || (dest >= 0 && f->sent[i].dest != dest))
            continue;
        for (size_t k = 0; k < m->delete_blocks->n_block_ids; k++)
            n += m->delete_blocks->block_ids[k] == id;
    }
    return n;
}

/* The last ReplicateBlock of id: its source in *source, its first target
 * returned; -1 when there is none. */
static int replication_of(const struct fixture *f, uint64_t id, int *source) {
    for (int i = f->nsent - 1; i >= 0; i--) {
        const RankMessage *m = f->sent[i].msg;
        if (m->body_case == RANK_MESSAGE__BODY_REPLICATE_BLOCK && m->replicate_block->block_id == id) {
            *source = f->sent[i].dest;
            return (int)m->replicate_block->targets[0];
        }
    }
    return -1;
}

static int is_corrupt(const struct fixture *f, uint64_t id, int rank) {
    return block_manager_is_corrupt(block_manager_get(f->nn->bm, id), rank);
}

static int holds(const struct fixture *f, uint64_t id, int rank) {
    const block_entry *b = block_manager_get(f->nn->bm, id);
    for (int i = 0; i < b->nreplicas; i++)
        if (b->replicas[i] == rank)
            return 1;
    return 0;
}

static void decommission(struct fixture *f, uint32_t rank, int recommission) {
    DecommissionRequest m = DECOMMISSION_REQUEST__INIT;
    m.rank = rank;
    m.recommission = recommission;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_DECOMMISSION;
    msg.decommission = &m;
    request(f, &msg);
}

static void safe_mode(struct fixture *f, uint32_t action) {
    SafeModeRequest m = SAFE_MODE_REQUEST__INIT;
    m.action = action;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_SAFE_MODE;
    msg.safe_mode = &m;
    request(f, &msg);
}

static const char *state_of(const struct fixture *f, int rank) {
    return namenode_admin_state(f->nn, rank);
}

/* Restarts the namenode (its stop checkpoints) and checks rank's admin
 * state and that its replicas count only when it is Normal. */
static void restart_expect(struct fixture *f, int rank, const char *state) {
    namenode_stop(f);
    namenode_start(f, WORLD);
    assert_string_equal(state_of(f, rank), state);
    assert_int_equal(block_manager_is_retiring(f->nn->bm, rank), strcmp(state, "Normal") != 0);
}

/* ---- corrupt replicas --------------------------------------------------------- */

/* Replication 2, one replica reported corrupt: kept while it is one of
 * two, copied from the good one to a third node, then deleted. */
static void test_corrupt_kept_until_copied(void **state) {
    struct fixture *f = *state;
    const int r12[] = {1, 2};
    uint64_t id = write_file(f, "/two", 2, r12, 2);
    report_corrupt(f, 1, id, BY_READER);
    assert_true(is_corrupt(f, id, 1));
    assert_true(holds(f, id, 2));
    report_corrupt(f, 1, id, BY_READER); /* again: nothing more */
    report_corrupt(f, 3, id, BY_SCANNER); /* a node without a replica: ignored */
    assert_int_equal(block_manager_get(f->nn->bm, id)->ncorrupt, 1);
    assert_int_equal(deletes(f, -1, id), 0);

    tick(f);
    int source = -1, target = replication_of(f, id, &source);
    assert_int_equal(source, 2); /* never the corrupt one */
    assert_true(target == 3 || target == 4); /* never a node holding the block */
    assert_int_equal(deletes(f, -1, id), 0);
    tick(f); /* pending: nothing new */
    assert_int_equal(deletes(f, -1, id), 0);

    block_received(f, target, id, block_manager_get(f->nn->bm, id)->gen_stamp);
    assert_int_equal(deletes(f, 1, id), 1);
    assert_int_equal(deletes(f, -1, id), 1);
    const block_entry *b = block_manager_get(f->nn->bm, id);
    assert_true(b->nreplicas == 2 && b->ncorrupt == 0);
    /* A new good copy on node 1 later counts as any replica. */
    block_received(f, 1, id, b->gen_stamp);
    assert_true(holds(f, id, 1));
    assert_false(is_corrupt(f, id, 1));
}

/* Replication 1 and one corrupt replica; then replication 2 with both
 * corrupt: nothing is ever deleted or copied, reports keep them corrupt,
 * and the stats say corrupt, not missing. */
static void test_all_corrupt_kept(void **state) {
    struct fixture *f = *state;
    const int r3[] = {3}, r12[] = {1, 2};
    uint64_t one = write_file(f, "/one", 1, r3, 1);
    uint64_t two = write_file(f, "/both", 2, r12, 2);
    report_corrupt(f, 3, one, BY_SCANNER);
    report_corrupt(f, 1, two, BY_READER);
    report_corrupt(f, 2, two, BY_READER);
    for (int i = 0; i < 5; i++)
        tick(f);
    block_report(f, 3, &one, 1);
    block_report(f, 1, &two, 1);
    block_received(f, 2, two, block_manager_get(f->nn->bm, two)->gen_stamp);
    for (int i = 0; i < 5; i++)
        tick(f);
    assert_int_equal(f->nsent, 0); /* no copy, no delete */
    assert_true(is_corrupt(f, one, 3) && is_corrupt(f, two, 1) && is_corrupt(f, two, 2));
    block_manager_stats st;
    block_manager_get_stats(f->nn->bm, &st);
    assert_true(st.corrupt == 2 && st.missing == 0 && st.corrupt_replicas == 3);
    /* A report that no longer lists it: gone from that disk, and from the
     * map; the block is then missing. */
    block_report(f, 3, NULL, 0);
    block_manager_get_stats(f->nn->bm, &st);
    assert_true(st.corrupt == 1 && st.missing == 1);
}

/* The datanode confirms that it deleted its replica of id. */
static void delete_confirmed(struct fixture *f, int rank, uint64_t id) {
    IncrementalBlockReport ibr = INCREMENTAL_BLOCK_REPORT__INIT;
    ibr.n_deleted_block_ids = 1;
    ibr.deleted_block_ids = &id;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT;
    msg.incremental_block_report = &ibr;
    rank_message(f, rank, &msg);
}

/* Replication 4 on the 4 core nodes: no node without a replica can take
 * a copy, so the corrupt one goes and its node gets a good copy -- once
 * it has confirmed the delete (a copy that got there first would be
 * refused as a replica it already has). */
static void test_corrupt_makes_room(void **state) {
    struct fixture *f = *state;
    const int r[] = {1, 2, 3, 4};
    uint64_t id = write_file(f, "/four", 4, r, 4);
    report_corrupt(f, 2, id, BY_SCANNER);
    assert_int_equal(deletes(f, -1, id), 0);
    tick(f);
    assert_int_equal(deletes(f, 2, id), 1);
    int source = -1;
    assert_int_equal(replication_of(f, id, &source), -1);
    tick(f);
    assert_int_equal(replication_of(f, id, &source), -1); /* not confirmed yet */
    delete_confirmed(f, 2, id);
    tick(f);
    assert_int_equal(replication_of(f, id, &source), 2);
    assert_true(source != 2);
}

/* Enough good replicas already (replication lowered, or over-replicated):
 * the corrupt one is deleted as soon as it is reported -- but not in safe
 * mode, where the tick that follows leaving it does. */
static void test_corrupt_deleted_at_once(void **state) {
    struct fixture *f = *state;
    const int r[] = {1, 2, 3};
    uint64_t id = write_file(f, "/three", 2, r, 3);
    report_corrupt(f, 3, id, BY_READER);
    assert_int_equal(deletes(f, 3, id), 1);
    assert_int_equal(block_manager_get(f->nn->bm, id)->ncorrupt, 0);

    uint64_t id2 = write_file(f, "/three-b", 2, r, 3);
    safe_mode(f, 1);
    report_corrupt(f, 1, id2, BY_READER);
    tick(f);
    assert_int_equal(deletes(f, -1, id2), 0);
    assert_true(is_corrupt(f, id2, 1));
    safe_mode(f, 2);
    tick(f);
    assert_int_equal(deletes(f, 1, id2), 1);
}

/* ---- admin states ------------------------------------------------------------- */

static uint64_t txid(const struct fixture *f) { return namenode_last_txid(f->nn); }

/* Refusals change nothing and log nothing. */
static void test_admin_refusals(void **state) {
    struct fixture *f = *state;
    uint64_t t = txid(f);
    decommission(f, 0, 0);    /* the primary */
    decommission(f, 5, 0);    /* a task node */
    decommission(f, 9, 0);    /* no such rank */
    decommission(f, 3, 1);    /* recommission a Normal node */
    decommission(f, 5, 1);
    assert_int_equal(txid(f), t);
    for (int r = 0; r < WORLD; r++)
        assert_string_equal(state_of(f, r), "Normal");
    decommission(f, 3, 0);
    assert_int_equal(txid(f), t + 1);
    decommission(f, 3, 0); /* again: nothing to do, nothing logged */
    assert_int_equal(txid(f), t + 1);
    assert_string_equal(state_of(f, 3), "Decommission in progress");
    assert_true(block_manager_is_retiring(f->nn->bm, 3));
}

/* Decommission, through restarts: the state comes back from the image
 * and from the log; after a restart the node is finished only once it
 * has reported and its blocks are safe elsewhere; recommission brings its
 * replicas back into the count. */
static void test_decommission_survives_restarts(void **state) {
    struct fixture *f = *state;
    const int r12[] = {1, 2}, r23[] = {2, 3};
    uint64_t a = write_file(f, "/a", 2, r12, 2);
    uint64_t b = write_file(f, "/b", 2, r23, 2);
    decommission(f, 2, 0);
    assert_string_equal(state_of(f, 2), "Decommission in progress");

    /* Restart: still in progress, retiring. */
    restart_expect(f, 2, "Decommission in progress");
    /* In safe mode until the blocks are reported; admin requests are
     * still taken there. */
    assert_int_equal(f->nn->safe_mode, NAMENODE_SAFE_AUTO);
    uint64_t ab[] = {a, b};
    block_report(f, 1, &a, 1);
    block_report(f, 3, &b, 1);
    block_report(f, 4, NULL, 0); /* it holds nothing, and may be a copy's target */
    tick(f);
    assert_int_equal(f->nn->safe_mode, NAMENODE_SAFE_OFF);
    /* Node 2 has not reported: the map cannot know its blocks, so it is
     * not decommissioned though nothing looks short. */
    tick(f);
    assert_string_equal(state_of(f, 2), "Decommission in progress");
    block_report(f, 2, ab, 2);
    tick(f); /* now both blocks are short without it: copies, not done */
    assert_string_equal(state_of(f, 2), "Decommission in progress");
    int src = -1;
    int ta = replication_of(f, a, &src), tb = replication_of(f, b, &src);
    assert_true(ta > 0 && ta != 2 && tb > 0 && tb != 2);
    block_received(f, ta, a, block_manager_get(f->nn->bm, a)->gen_stamp);
    block_received(f, tb, b, block_manager_get(f->nn->bm, b)->gen_stamp);
    uint64_t t = txid(f);
    tick(f);
    assert_string_equal(state_of(f, 2), "Decommissioned");
    assert_int_equal(txid(f), t + 1); /* logged */
    assert_int_equal(deletes(f, 2, a) + deletes(f, 2, b), 0); /* its replicas stay */
    assert_true(holds(f, a, 2) && holds(f, b, 2));
    block_manager_stats st;
    block_manager_get_stats(f->nn->bm, &st);
    assert_true(st.under_replicated == 0 && st.over_replicated == 0);

    /* Restart: decommissioned at once, from the image. */
    restart_expect(f, 2, "Decommissioned");
    safe_mode(f, 2);

    /* Recommission: Normal, counted, and one replica too many per block. */
    decommission(f, 2, 1);
    assert_string_equal(state_of(f, 2), "Normal");
    for (int r = 1; r <= CORES; r++) { /* each node's full report */
        uint64_t held[2];
        size_t n = 0;
        if (r == 1 || r == 2 || r == ta)
            held[n++] = a;
        if (r == 2 || r == 3 || r == tb)
            held[n++] = b;
        block_report(f, r, held, n);
    }
    block_manager_get_stats(f->nn->bm, &st);
    assert_int_equal(st.over_replicated, 2);
    forget_sent(f);
    tick(f);
    assert_int_equal(deletes(f, -1, a) + deletes(f, -1, b), 2);
    block_manager_get_stats(f->nn->bm, &st);
    assert_true(st.over_replicated == 0 && st.under_replicated == 0);

    /* Restart: Normal (the image no longer names it). */
    restart_expect(f, 2, "Normal");
}

/* Fencing: a block message counts only from a core node, and only once
 * that node's full block report has arrived since it last (re)registered;
 * a node that comes back loses what it held until it reports again. */
static void test_fencing(void **state) {
    struct fixture *f = *state;
    const int r12[] = {1, 2};
    uint64_t a = write_file(f, "/a", 3, r12, 2);
    uint64_t gs = block_manager_get(f->nn->bm, a)->gen_stamp;
    assert_true(holds(f, a, 1) && holds(f, a, 2));

    block_received(f, 5, a, gs); /* a task node stores no blocks */
    assert_false(holds(f, a, 5));

    namenode_node_lost(f->nn, 3); /* declared dead, then back */
    namenode_node_registered(f->nn, 3);
    block_received(f, 3, a, gs);
    assert_false(holds(f, a, 3)); /* before its report: dropped */
    block_report(f, 3, NULL, 0);
    block_received(f, 3, a, gs);
    assert_true(holds(f, a, 3));

    namenode_node_registered(f->nn, 1); /* back without a death seen */
    assert_false(holds(f, a, 1));
    block_received(f, 1, a, gs);
    assert_false(holds(f, a, 1));
    block_report(f, 1, &a, 1);
    assert_true(holds(f, a, 1));
}

/* Records written straight to a log: replayed in order; a rank the
 * cluster no longer has is skipped (and not in the next image); a state
 * out of range refuses the start. */
static void test_admin_replay(void **state) {
    struct fixture *f = *state;
    namenode_stop(f);
    test_rm_tree(f->name_dir);
    char err[256];
    uint64_t last = 0;
    assert_int_equal(edit_log_recover(f->name_dir, NULL, NULL, NULL, &last, err, sizeof(err)), 0);
    edit_log *log;
    assert_int_equal(edit_log_open(f->name_dir, last, &log), 0);
    const uint32_t ranks[] = {1, 4, 4, 9}, states[] = {1, 2, 0, 2};
    for (int i = 0; i < 4; i++) {
        NodeAdminState op = NODE_ADMIN_STATE__INIT;
        op.rank = ranks[i];
        op.state = states[i];
        EditRecord rec = EDIT_RECORD__INIT;
        rec.op_case = EDIT_RECORD__OP_ADMIN_STATE;
        rec.admin_state = &op;
        assert_int_equal(edit_log_append(log, &rec, NULL), 0);
    }
    assert_int_equal(edit_log_sync(log), 0);
    edit_log_close(log);
    namenode_start(f, WORLD);
    assert_string_equal(state_of(f, 1), "Decommission in progress");
    assert_string_equal(state_of(f, 4), "Normal");
    assert_false(block_manager_is_retiring(f->nn->bm, 4));
    assert_int_equal(txid(f), 4);

    /* A cluster restarted with fewer ranks skips node 4's state (in the
     * image), and its own next image leaves it out. */
    decommission(f, 4, 0);
    namenode_stop(f);
    namenode_start(f, 4);
    assert_string_equal(state_of(f, 1), "Decommission in progress");
    decommission(f, 3, 0);
    assert_string_equal(state_of(f, 3), "Decommission in progress");
    namenode_stop(f);
    namenode_start(f, WORLD);
    assert_string_equal(state_of(f, 1), "Decommission in progress");
    assert_string_equal(state_of(f, 3), "Decommission in progress");
    assert_string_equal(state_of(f, 4), "Normal");

    /* An impossible state: the namenode refuses to start on that log. */
    namenode_stop(f);
    assert_int_equal(edit_log_recover(f->name_dir, NULL, NULL, NULL, &last, err, sizeof(err)),
                     EMBER_OK);
    assert_int_equal(edit_log_open(f->name_dir, last, &log), 0);
    NodeAdminState bad = NODE_ADMIN_STATE__INIT;
    bad.rank = 1;
    bad.state = 3;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_ADMIN_STATE;
    rec.admin_state = &bad;
    assert_int_equal(edit_log_append(log, &rec, NULL), 0);
    edit_log_close(log);
    namenode_options o = {.name_dir = f->name_dir, .superuser = "root", .world_size = WORLD,
                          .max_replication = CORES, .default_replication = 1,
                          .default_block_size = 1 << 20};
    namenode *nn = NULL;
    event_loop *loop;
    assert_int_equal(event_loop_create(&loop), 0);
    assert_int_equal(namenode_create(loop, &o, &nn, err, sizeof(err)), EMBER_ECORRUPT);
    assert_null(nn);
    event_loop_destroy(loop);
}

/* ---- group commit on the pool ---------------------------------------------- */

/* The edit log's sync hook: holds each fsync until the test lets it go. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered;  /* fsyncs that reached the hook */
    int released; /* fsyncs let go */
    int fail;     /* make the fsyncs let go from now on fail */
    pid_t tid;    /* the thread the last one ran on */
} gate = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int gate_hook(void *arg) {
    (void)arg;
    pthread_mutex_lock(&gate.lock);
    int me = ++gate.entered;
    gate.tid = (pid_t)syscall(SYS_gettid);
    pthread_cond_broadcast(&gate.cond);
    while (gate.released < me)
        pthread_cond_wait(&gate.cond, &gate.lock);
    int fail = gate.fail;
    pthread_mutex_unlock(&gate.lock);
    return fail;
}

static void gate_release(int fail) {
    pthread_mutex_lock(&gate.lock);
    gate.fail = fail;
    gate.released++;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

static int gate_entered(void) {
    pthread_mutex_lock(&gate.lock);
    int n = gate.entered;
    pthread_mutex_unlock(&gate.lock);
    return n;
}

/* Runs loop turns (up to 5 s) until cond(f) holds. */
static void turn_until(struct fixture *f, int (*cond)(struct fixture *f, long want), long want) {
    int64_t end = clock_monotonic_ms() + 5000;
    while (!cond(f, want) && clock_monotonic_ms() < end)
        event_loop_run_once(f->loop, 20);
    assert_true(cond(f, want));
}

static int fsyncs_entered(struct fixture *f, long want) {
    (void)f;
    return gate_entered() == want;
}

static int answers_waiting(struct fixture *f, long want) { return (long)f->nn->npending == want; }

/* mkdir path for connection conn, the loop not run. */
static void mkdir_on(struct fixture *f, uint64_t conn, const char *path) {
    MkdirsRequest m = MKDIRS_REQUEST__INIT;
    m.path = (char *)path;
    m.create_parents = 1;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_MKDIRS;
    req.mkdirs = &m;
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_client(&req, 0, 1 << 20, &buf, &len), 0);
    ClientMessage *copy;
    assert_int_equal(message_decode_client(buf, len, &copy), 0);
    free(buf);
    namenode_on_request(f->nn, conn, copy);
    client_message__free_unpacked(copy, NULL);
}

static void test_group_commit_on_pool(void **state) {
    struct fixture *f = *state;
    gate.entered = gate.released = gate.fail = 0;
    edit_log_set_sync_hook(gate_hook, NULL);
    uint64_t base = txid(f);

    mkdir_on(f, 1001, "/a");
    assert_int_equal(txid(f), base + 1);
    assert_int_equal(f->nn->npending, 1);
    turn_until(f, fsyncs_entered, 1); /* its fsync runs, held at the gate */
    assert_true(gate.tid != (pid_t)syscall(SYS_gettid));

    /* The loop goes on: more mutations, applied and logged, batched. */
    mkdir_on(f, 1002, "/b");
    mkdir_on(f, 1003, "/c");
    for (int i = 0; i < 5; i++)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(txid(f), base + 3);
    assert_int_equal(gate_entered(), 1); /* one fsync at a time */
    assert_int_equal(f->nn->npending, 3); /* nothing answered before its fsync */
    assert_true(edit_log_synced_txid(f->nn->log) < base + 1);
    fs_stat st;
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/c", &st), 0);

    /* The first fsync done: /a answered, /b and /c wait for the next. */
    gate_release(0);
    turn_until(f, answers_waiting, 2);
    assert_int_equal(f->nn->pending[0].conn_id, 1002);
    assert_int_equal(f->nn->pending[1].conn_id, 1003);
    assert_int_equal(edit_log_synced_txid(f->nn->log), base + 1);
    turn_until(f, fsyncs_entered, 2);
    assert_int_equal(f->nn->npending, 2);
    gate_release(0);
    turn_until(f, answers_waiting, 0);
    assert_int_equal(edit_log_synced_txid(f->nn->log), base + 3);
    for (int i = 0; i < 3; i++)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(gate_entered(), 2); /* /b and /c shared one fsync */
    assert_false(f->nn->failed);

    /* A failed fsync: the waiting answers fail, and so does what follows. */
    mkdir_on(f, 1004, "/d");
    turn_until(f, fsyncs_entered, 3);
    mkdir_on(f, 1005, "/e");
    assert_int_equal(f->nn->npending, 2);
    gate_release(1);
    turn_until(f, answers_waiting, 0);
    assert_true(f->nn->failed);
    assert_true(edit_log_failed(f->nn->log));
    uint64_t last = txid(f);
    mkdir_on(f, 1006, "/f");
    assert_int_equal(txid(f), last);
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/f", &st), EMBER_ENOENT);
    for (int i = 0; i < 3; i++)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(gate_entered(), 3);
    edit_log_set_sync_hook(NULL, NULL);
}

/* A checkpoint runs on the pool while mutations go on; they land after
 * the image and survive a restart. */
static void test_checkpoint_on_pool(void **state) {
    struct fixture *f = *state;
    gate.entered = gate.released = gate.fail = 0;
    edit_log_set_sync_hook(gate_hook, NULL);
    mkdir_on(f, 1001, "/before");
    turn_until(f, fsyncs_entered, 1); /* a sync job out */
    f->nn->checkpoint_wanted = 1;     /* as the cron asks */
    mkdir_on(f, 1002, "/x");
    gate_release(0);
    /* /before answered; the hook then starts the checkpoint at /x (not a
     * second sync), whose fsync covers /x. */
    turn_until(f, fsyncs_entered, 2);
    assert_true(f->nn->checkpointing);
    uint64_t image_txid = f->nn->checkpoint_txid;
    assert_int_equal(image_txid, txid(f));
    assert_int_equal(f->nn->npending, 1);
    mkdir_on(f, 1003, "/during"); /* held by the log until the job ends */
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/during", &(fs_stat){0}), 0);
    gate_release(0);
    turn_until(f, fsyncs_entered, 3); /* checkpoint done, then /during's sync */
    assert_false(f->nn->checkpointing);
    assert_int_equal(f->nn->npending, 1);
    assert_int_equal(f->nn->pending[0].conn_id, 1003);
    assert_int_equal(edit_log_txns_since_checkpoint(f->nn->log), 1);
    gate_release(0);
    turn_until(f, answers_waiting, 0);
    edit_log_set_sync_hook(NULL, NULL);
    /* The pool's image is on disk, and a restart has every change. */
    char image[256];
    snprintf(image, sizeof(image), "%s/fsimage_%020llu", f->name_dir,
             (unsigned long long)image_txid);
    assert_int_equal(access(image, F_OK), 0);
    namenode_stop(f);
    namenode_start(f, WORLD);
    assert_int_equal(txid(f), image_txid + 1);
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/before", &(fs_stat){0}), 0);
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/during", &(fs_stat){0}), 0);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* The sent message of type body_case to dest, the last one (NULL). */
static const RankMessage *last_sent(const struct fixture *f, int dest,
                                    RankMessage__BodyCase body_case) {
    for (int i = f->nsent - 1; i >= 0; i--)
        if (f->sent[i].dest == dest && f->sent[i].msg->body_case == body_case)
            return f->sent[i].msg;
    return NULL;
}

static void recovery_answer(struct fixture *f, int rank, uint64_t id, uint64_t recovery_id,
                            int found, int finalized, uint64_t gs, uint64_t length) {
    ReplicaRecoveryInfo ri = REPLICA_RECOVERY_INFO__INIT;
    ri.block_id = id;
    ri.recovery_id = recovery_id;
    ri.found = found;
    ri.finalized = finalized;
    ri.gen_stamp = gs;
    ri.length = length;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO;
    msg.replica_recovery_info = &ri;
    rank_message(f, rank, &msg);
}

/* Lease recovery after a crash that caught a block finalized on its first
 * node only (issue 9, item 3): node 1 finalized it, node 2 holds a shorter
 * rbw replica, node 3 an rbw replica of the full length, node 4 nothing.
 * Nodes 1 and 3 are updated; once the recovery commits, node 2's replica,
 * which can never reach the recovery id, is deleted -- and nothing before
 * the commit.  Node 3's replica then counts. */
static void test_lease_recovery_deletes_stale(void **state) {
    struct fixture *f = *state;
    uint64_t id = open_file(f, "/open", 3);
    uint64_t gs = block_manager_get(f->nn->bm, id)->gen_stamp;
    block_received(f, 1, id, gs); /* the first node finalized it */

    RecoverLeaseRequest rl = RECOVER_LEASE_REQUEST__INIT;
    rl.path = "/open";
    rl.client_name = "DFSClient_other";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_RECOVER_LEASE;
    msg.recover_lease = &rl;
    request(f, &msg);
    const RankMessage *init = last_sent(f, 1, RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY);
    assert_non_null(init);
    uint64_t rid = init->init_replica_recovery->recovery_id;
    assert_true(rid > gs);
    recovery_answer(f, 1, id, rid, 1, 1, gs, BLOCK_LEN);
    recovery_answer(f, 2, id, rid, 1, 0, gs, BLOCK_LEN - 40);
    recovery_answer(f, 3, id, rid, 1, 0, gs, BLOCK_LEN);
    recovery_answer(f, 4, id, rid, 0, 0, 0, 0);
    for (int rank = 1; rank <= 4; rank++) {
        const RankMessage *u = last_sent(f, rank, RANK_MESSAGE__BODY_UPDATE_REPLICA);
        assert_true((u != NULL) == (rank == 1 || rank == 3));
        if (u != NULL)
            assert_int_equal(u->update_replica->length, BLOCK_LEN);
    }
    assert_int_equal(deletes(f, -1, id), 0); /* nothing deleted before the commit */

    block_received(f, 1, id, rid);
    fs_stat st;
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/open", &st), 0);
    assert_false(st.under_construction);
    assert_int_equal(st.length, BLOCK_LEN);
    assert_int_equal(deletes(f, 2, id), 1);
    assert_int_equal(deletes(f, -1, id), 1);
    block_received(f, 3, id, rid);
    assert_true(holds(f, id, 1) && holds(f, id, 3));
    assert_false(holds(f, id, 2));
    assert_int_equal(deletes(f, -1, id), 1);
}

/* Truncate: beyond the length refused; inside the block the file goes
 * under construction and the holders are asked to cut their finalized
 * replicas to the target (UpdateReplica.truncate); a restart in between
 * keeps the target, the lease monitor starts the recovery again, and its
 * commit closes the file at the new length.  Then a truncate to 0 drops
 * the block and deletes its replicas. */
static void test_truncate(void **state) {
    struct fixture *f = *state;
    const int r12[] = {1, 2};
    uint64_t id = write_file(f, "/t", 2, r12, 2);
    uint64_t gs = block_manager_get(f->nn->bm, id)->gen_stamp; /* what the replicas carry */
    TruncateRequest tr = TRUNCATE_REQUEST__INIT;
    tr.path = "/t";
    tr.new_length = BLOCK_LEN + 1;
    tr.client_name = "DFSClient_test";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_TRUNCATE;
    msg.truncate = &tr;
    uint64_t t = txid(f);
    request(f, &msg);
    assert_int_equal(f->last_error, EMBER_EINVAL);
    assert_int_equal(txid(f), t);

    tr.new_length = 40;
    request(f, &msg);
    fs_stat st;
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/t", &st), 0);
    assert_true(st.under_construction);
    assert_int_equal(st.length, 0); /* its whole blocks: none */
    const block_entry *b = block_manager_get(f->nn->bm, id);
    assert_true(b->truncating && !b->complete);
    assert_int_equal(b->truncate_length, 40);
    assert_non_null(last_sent(f, 1, RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY));

    /* A restart before the datanodes answer: the target is kept. */
    namenode_stop(f);
    forget_sent(f);
    namenode_start(f, WORLD);
    for (int rank = 1; rank <= CORES; rank++)
        block_report(f, rank, NULL, 0); /* fencing: reported (the old replicas do not count) */
    b = block_manager_get(f->nn->bm, id);
    assert_true(b != NULL && b->truncating && b->truncate_length == 40);
    namenode_lease_tick(f->loop, f->nn); /* restarts the truncate's recovery */
    const RankMessage *init = last_sent(f, 2, RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY);
    assert_non_null(init);
    uint64_t rid = init->init_replica_recovery->recovery_id;
    for (int rank = 1; rank <= CORES; rank++)
        recovery_answer(f, rank, id, rid, rank <= 2, 1, gs, rank <= 2 ? BLOCK_LEN : 0);
    for (int rank = 1; rank <= CORES; rank++) {
        const RankMessage *u = last_sent(f, rank, RANK_MESSAGE__BODY_UPDATE_REPLICA);
        assert_true((u != NULL) == (rank <= 2));
        if (u != NULL)
            assert_true(u->update_replica->length == 40 && u->update_replica->truncate);
    }
    BlockReceived br = BLOCK_RECEIVED__INIT;
    br.block_id = id;
    br.gen_stamp = rid;
    br.length = 40;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_BLOCK_RECEIVED;
    rm.block_received = &br;
    rank_message(f, 1, &rm);
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/t", &st), 0);
    assert_false(st.under_construction);
    assert_int_equal(st.length, 40);
    b = block_manager_get(f->nn->bm, id);
    assert_true(b->complete && !b->truncating && b->length == 40);

    /* To 0: a block boundary; the block and its replicas go at once. */
    forget_sent(f);
    tr.new_length = 0;
    request(f, &msg);
    assert_int_equal(fs_namespace_stat(f->nn->ns, "/t", &st), 0);
    assert_true(!st.under_construction && st.length == 0 && st.nblocks == 0);
    assert_null(block_manager_get(f->nn->bm, id));
    assert_int_equal(deletes(f, 1, id), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST(test_corrupt_kept_until_copied),
        TEST(test_all_corrupt_kept),
        TEST(test_corrupt_makes_room),
        TEST(test_corrupt_deleted_at_once),
        TEST(test_admin_refusals),
        TEST(test_decommission_survives_restarts),
        TEST(test_admin_replay),
        TEST(test_fencing),
        TEST(test_group_commit_on_pool),
        TEST(test_checkpoint_on_pool),
        TEST(test_lease_recovery_deletes_stale),
        TEST(test_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
