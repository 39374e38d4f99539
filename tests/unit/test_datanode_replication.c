/* test_datanode_replication.c -- the datanode as the source of a
 * ReplicateBlock, and its block scanner (fixture: datanode_fixture.h).
 *
 * ReplicateBlock: 300 KiB to two targets; a 41-packet block to one target
 * (window 32); an empty replica; the cap of 8; refused: unknown block, gen
 * stamp, not from the primary, a corrupt source, a target that holds the
 * block.  Block scanner (a node restarted with scanning on): a corrupt
 * replica among good ones is reported once (RankMessage.bad_replica),
 * never again on later passes, and forgotten once deleted; a rate of 0
 * scans nothing; a low rate reads a replica over several ticks.  Every
 * wait has a deadline. */
#include "datanode_fixture.h"

/* ---- replication ------------------------------------------------------------------- */

static void send_replicate(struct fixture *f, int source, int dest, uint64_t id, uint64_t gs,
                           const uint32_t *targets, size_t n) {
    ReplicateBlock rb = REPLICATE_BLOCK__INIT;
    rb.block_id = id;
    rb.gen_stamp = gs;
    rb.targets = (uint32_t *)targets;
    rb.n_targets = n;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REPLICATE_BLOCK;
    msg.replicate_block = &rb;
    inject(f, source, dest, &msg);
}

/* BlockReceived from rank for id (of length len when len >= 0). */
static int received_from(struct fixture *f, int rank, uint64_t id, int64_t len) {
    int n = 0;
    for (int i = 0; i < f->nreceived; i++)
        n += f->received[i].source == rank && f->received[i].block_id == id &&
             (len < 0 || f->received[i].length == (uint64_t)len);
    return n;
}

/* arg: {id, rank mask}: every rank of the mask reported id. */
static int received_by_mask(struct fixture *f, const void *arg) {
    const uint64_t *a = arg;
    for (int r = 1; r <= NODES; r++)
        if ((a[1] >> r & 1) && received_from(f, r, a[0], -1) == 0)
            return 0;
    return 1;
}

/* Runs the loop until every rank in mask (bit r: rank r) reported id. */
static int wait_received(struct fixture *f, uint64_t id, uint64_t mask, int64_t timeout_ms) {
    uint64_t arg[2] = {id, mask};
    return run_until(f, received_by_mask, arg, timeout_ms);
}

/* A block written to rank 1 alone. */
static void write_on_rank1(struct fixture *f, uint64_t id, const uint8_t *data, size_t len) {
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.n_downstream = 0;
    ws.window = 16;
    write_ok(f, &ws);
}

static void test_replicate_block(void **state) {
    struct fixture *f = *state;
    const size_t len = 300 * 1024 + 100, big = 40 * PACKET + 100;
    uint8_t *data = malloc(len), *bdata = malloc(big);
    fill_data(data, len, 70);
    fill_data(bdata, big, 71);
    uint64_t id = 160, bid = 161;
    write_on_rank1(f, id, data, len);
    write_on_rank1(f, bid, bdata, big);

    /* 300 KiB to ranks 2 then 3: five packets, each target reports. */
    uint32_t targets[2] = {2, 3};
    send_replicate(f, 0, 1, id, 1000 + id, targets, 2);
    assert_true(wait_received(f, id, 1u << 2 | 1u << 3, 2000));
    assert_true(f->packets_to[2] == 5 && f->packets_to[3] == 5);
    assert_true(f->bulk_sent == 10 && f->bulk_received == 10); /* data as bulk payloads */

    /* 41 packets to rank 3: never more than 32 unacked. */
    send_replicate(f, 0, 1, bid, 1000 + bid, targets + 1, 1);
    assert_true(wait_received(f, bid, 1u << 3, 3000));
    assert_int_equal(f->max_inflight[1], 32);
    run_for(f, 30);
    assert_int_equal(f->nreceived, 5); /* the source reports nothing more */
    assert_int_equal(f->unexpected, 0);
    assert_replica_bytes(f, 2, id, data, len);
    assert_replica_bytes(f, 3, id, data, len);
    assert_replica_bytes(f, 3, bid, bdata, big);
    free(data);
    free(bdata);
}

/* The first target cannot take data at first (EMBER_EAGAIN with nothing
 * in flight): the copy waits for the writable callback instead of
 * failing, then completes. */
static void test_replicate_target_full(void **state) {
    struct fixture *f = *state;
    const size_t len = 10 * PACKET + 100;
    uint8_t *data = malloc(len);
    fill_data(data, len, 73);
    uint64_t id = 165;
    write_on_rank1(f, id, data, len);
    f->full_to = 2;
    f->full_until_ms = clock_monotonic_ms() + 200;
    uint32_t targets[2] = {2, 3};
    send_replicate(f, 0, 1, id, 1000 + id, targets, 2);
    assert_true(wait_received(f, id, 1u << 2 | 1u << 3, 3000));
    assert_true(f->refused >= 1);
    assert_int_equal(f->packets_to[2], 11);
    assert_replica_bytes(f, 2, id, data, len);
    assert_replica_bytes(f, 3, id, data, len);
    free(data);
}

/* Copies whose acks never come time out.  At most 8 at once: a ninth
 * command is dropped (and works once retried); an empty replica goes as
 * one empty last packet; a copy in flight at datanode_destroy is freed. */
static void test_replicate_cap(void **state) {
    struct fixture *f = *state;
    uint8_t data[1000];
    fill_data(data, sizeof(data), 72);
    uint32_t two = 2;
    for (uint64_t id = 170; id < 179; id++)
        write_on_rank1(f, id, data, id == 170 ? 0 : sizeof(data));
    f->drop_to = 2;
    for (uint64_t id = 170; id < 178; id++)
        send_replicate(f, 0, 1, id, 1000 + id, &two, 1);
    run_for(f, 2 * IO_TIMEOUT_MS);
    f->drop_to = -1;
    for (uint64_t id = 170; id < 179; id++)
        send_replicate(f, 0, 1, id, 1000 + id, &two, 1);
    assert_true(wait_received(f, 177, 1u << 2, 2000));
    run_for(f, 50);
    for (uint64_t id = 170; id < 178; id++)
        assert_int_equal(received_from(f, 2, id, id == 170 ? 0 : (int64_t)sizeof(data)), 1);
    assert_int_equal(received_from(f, 2, 178, -1), 0);
    send_replicate(f, 0, 1, 178, 1000 + 178, &two, 1);
    assert_true(wait_received(f, 178, 1u << 2, 2000));
    f->drop_to = 2;
    send_replicate(f, 0, 1, 170, 1000 + 170, &two, 1);
    run_for(f, 20);
}

/* Commands that must copy nothing, and a source replica that fails its
 * checksums mid-way: what was good goes out, the rest never does, and the
 * targets drop their partial copies. */
static void test_replicate_refused(void **state) {
    struct fixture *f = *state;
    const size_t len = 200 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 73);
    uint64_t id = 180, held = 181;
    write_on_rank1(f, id, data, len);
    uint32_t targets[2] = {2, 3};
    send_replicate(f, 0, 1, 4242, 1000 + 4242, targets, 2); /* no such block */
    send_replicate(f, 0, 1, id, 5, targets, 2);             /* another gen stamp */
    send_replicate(f, 3, 1, id, 1000 + id, targets, 2);     /* not the primary */
    send_replicate(f, 0, 1, id, 1000 + id, targets + 1, 1); /* ... but then it works */
    assert_true(wait_received(f, id, 1u << 3, 2000));
    run_for(f, 50);
    assert_int_equal(f->packets_to[2], 0);
    assert_int_equal(f->nreceived, 2); /* rank 1's write, rank 3's copy */

    /* A first target that already holds the block refuses it (EEXIST):
     * the source gives up, nothing reaches rank 3, rank 2's replica stays. */
    write_spec ws = write_spec_for(f, 1, held, data, len);
    ws.downstream[0] = 2;
    ws.n_downstream = 1;
    write_ok(f, &ws);
    assert_true(wait_received(f, held, 1u << 1 | 1u << 2, 1000));
    int before = f->nreceived, to2 = f->packets_to[2], to3 = f->packets_to[3];
    send_replicate(f, 0, 1, held, 1000 + held, targets, 2);
    run_for(f, 100);
    assert_int_equal(f->packets_to[2] - to2, 4); /* each refused */
    assert_int_equal(f->packets_to[3] - to3, 0);
    assert_int_equal(f->nreceived, before);
    /* The failed copy is over: a new command for the block runs. */
    send_replicate(f, 0, 1, held, 1000 + held, targets + 1, 1);
    assert_true(wait_received(f, held, 1u << 3, 2000));

    uint64_t bad = 182;
    write_on_rank1(f, bad, data, len);
    flip_byte(f, 1, bad, 150000); /* in the third packet */
    to2 = f->packets_to[2];
    send_replicate(f, 0, 1, bad, 1000 + bad, targets, 2);
    run_for(f, IO_TIMEOUT_MS + 250); /* the targets give up on their partial copies */
    assert_int_equal(f->packets_to[2] - to2, 2);
    for (int r = 2; r <= 3; r++)
        assert_false(replica_files(f, r, bad, "rbw") || replica_files(f, r, bad, "finalized"));
    assert_int_equal(received_from(f, 2, bad, -1) + received_from(f, 3, bad, -1), 0);
    assert_int_equal(replica_files(f, 1, bad, "finalized"), 2);
    assert_int_equal(f->unexpected, 0);
    assert_replica_bytes(f, 2, held, data, len);
    free(data);
}

/* ---- block scanner ------------------------------------------------------------------ */

#define SCAN_FAST (64 * 1024 * 1024) /* bytes/s */
#define SCAN_PERIOD_MS 300

/* Stops rank's datanode and starts it again on the same directory with
 * the block scanner at rate bytes/s. */
static void restart_scanning(struct fixture *f, int rank, int64_t rate, int64_t period_ms) {
    datanode_destroy(f->dn[rank]);
    f->dn[rank] = NULL;
    assert_int_equal(start_node(f, rank, rate, period_ms), 0);
}

/* bad_replica reports from rank about id. */
static int bad_from(struct fixture *f, int rank, uint64_t id) {
    int n = 0;
    for (int i = 0; i < f->nbad; i++)
        n += f->bad[i].source == rank && f->bad[i].block_id == id &&
             f->bad[i].rank == (uint32_t)rank;
    return n;
}

static int some_bad(struct fixture *f, const void *arg) {
    (void)arg;
    return f->nbad > 0;
}

/* A scanning node takes in three replicas; one of them is then damaged
 * (it may have been verified already: it is verified again after the
 * period).  Only that one is reported, once, however many passes follow;
 * once the primary deletes it the scanner goes on without it. */
static void test_scanner_reports_corrupt(void **state) {
    struct fixture *f = *state;
    const size_t len = 150 * 1024; /* three pieces */
    uint8_t *data = malloc(len);
    fill_data(data, len, 80);
    restart_scanning(f, 1, SCAN_FAST, SCAN_PERIOD_MS);
    for (uint64_t id = 200; id < 203; id++)
        write_on_rank1(f, id, data, id == 201 ? len : 3000);
    flip_byte(f, 1, 201, 140000); /* in the third piece */

    assert_true(run_until(f, some_bad, NULL, 3000));
    assert_int_equal(bad_from(f, 1, 201), 1);
    run_for(f, 4 * SCAN_PERIOD_MS); /* later passes: the good ones verify, 201 is left alone */
    assert_int_equal(f->nbad, 1);
    assert_int_equal(bad_from(f, 1, 201), 1);
    assert_int_equal(replica_files(f, 1, 201, "finalized"), 2); /* the primary decides */

    uint64_t id = 201;
    DeleteBlocks del = DELETE_BLOCKS__INIT;
    del.block_ids = &id;
    del.n_block_ids = 1;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_DELETE_BLOCKS;
    msg.delete_blocks = &del;
    inject(f, 0, 1, &msg);
    assert_true(run_until(f, gone_from_rank1, &id, 1000));
    run_for(f, 2 * SCAN_PERIOD_MS);
    assert_int_equal(f->nbad, 1);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* Rate 0: no scanner, nothing is read or reported. */
static void test_scanner_off(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 81);
    write_on_rank1(f, 210, data, sizeof(data));
    flip_byte(f, 1, 210, 100);
    restart_scanning(f, 1, 0, 1);
    run_for(f, 500);
    assert_int_equal(f->nbad, 0);
    assert_int_equal(f->unexpected, 0);
}

/* At 2 MiB/s a tick reads at most 200 KiB: a 1 MiB replica damaged near
 * its end takes several ticks (about 0.6 s) to be found. */
static void test_scanner_rate(void **state) {
    struct fixture *f = *state;
    const size_t len = 1024 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 82);
    write_on_rank1(f, 220, data, len);
    flip_byte(f, 1, 220, (off_t)len - 100);
    restart_scanning(f, 1, 2 * 1024 * 1024, 3600 * 1000);
    int64_t start = clock_monotonic_ms();
    assert_true(run_until(f, some_bad, NULL, 5000));
    assert_true(clock_monotonic_ms() - start >= 300); /* not in one go */
    assert_int_equal(bad_from(f, 1, 220), 1);
    assert_int_equal(f->nbad, 1);
    free(data);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicate_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_target_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_reports_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_rate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
