/* test_dfs_stream.c -- unit tests for the writer of client/dfs_stream.c:
 * pipeline recovery, the renewer thread's heartbeats and lease renewals,
 * hsync.
 *
 * The datanodes are those of datanode_fixture.h (ranks 1..3 in this
 * process on one event loop, a fake rank transport); the namenode is
 * fake_namenode.h's on the same loop: a TCP listener named by a
 * cluster.json in a run directory of the test's, which answers the
 * gateway's challenge and the writer's requests (CreateRequest,
 * AddBlockRequest: blocks 500, 501, ... on the configured pipeline minus
 * the ranks the request excludes, UpdateBlockForPipelineRequest: gen
 * stamp + 100 and the request's pipeline minus a rank held dead,
 * CompleteRequest, RenewLeaseRequest), signing write tokens with the
 * fixture's secret, and records what it was asked; for the renewer's
 * tests its create answer carries a socket timeout (heartbeats) and a
 * lease renewal interval.
 * The writer runs in a forked child (the library blocks):
 * ember_dfs_connect, create, 64 KiB writes paced by a sleep (and, as the
 * test asks, an idle pause or an hflush / hsync after one of them), close,
 * and its result comes back through a pipe.  The parent
 * runs the loop and breaks the pipeline when a datanode has received
 * enough packets: messages to a rank dropped (a silent downstream), or a
 * datanode destroyed (the client's first datanode gone).
 *
 * Covers: a downstream that goes silent (the node before it names it, the
 * client drops it, resends what was not acknowledged, and its next block
 * excludes it; the same with another node the namenode's recovery answer
 * does not list as live, dropped too), the first datanode gone (its connection breaks), no node
 * left (a clear error), a namenode refusing the new gen stamp, a writer
 * slower than the datanodes' I/O timeout (reconnected, nobody blamed); in each
 * success the replicas that report the new gen stamp read back as the
 * bytes written, and the dropped node's is not among them.  Then the
 * renewer: a writer idle for five I/O timeouts with the socket timeout
 * known (heartbeats go down the pipeline; no recovery, nothing resent),
 * lease renewals while a writer is open and none once it is closed, and
 * hsync (every node fsyncs the block, seen through the fixture's fsync;
 * hflush does not; an hsync right after an hflush still does). */
#include "datanode_fixture.h"
#include "fake_namenode.h"

/* ---- the writer, in a child -------------------------------------------------------------- */

typedef struct {
    const char *run_dir;
    const uint8_t *data;
    size_t len;
    int pace_ms;          /* sleep after each 64 KiB write */
    int idle_after;       /* after this many writes (0: none) ... */
    int idle_ms;          /* ... sleep this long more, not calling the library */
    int flush_after;      /* after this many writes (0: none) ... */
    int flush;            /* ... FLUSH_HFLUSH, FLUSH_HSYNC or both, hflush first */
    int linger_ms;        /* after close, sleep this long before ember_dfs_close */
} stream_spec;

#define FLUSH_HFLUSH 1
#define FLUSH_HSYNC 2

typedef struct {
    int rc;           /* the first failing call's result (0: none) */
    char error[512];  /* ember_dfs_last_error() then */
    int64_t open_ms;  /* from the create's answer to the close's */
} stream_result;

static void child_stream(const void *arg, void *out) {
    const stream_spec *s = arg;
    stream_result *res = out;
    /* The sockets of the parent's datanodes are not the child's: a port
     * whose datanode is destroyed must refuse connections. */
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            close(fd);
    }
    ember_dfs *dfs;
    char err[256];
    if ((res->rc = ember_dfs_connect(s->run_dir, &dfs, err, sizeof(err))) != EMBER_OK) {
        snprintf(res->error, sizeof(res->error), "%s", err);
        return;
    }
    ember_create_options o = {.block_size = STREAM_BLOCK};
    ember_dfs_file *file = NULL;
    res->rc = ember_dfs_create(dfs, "/f", &o, &file);
    int64_t opened = clock_monotonic_ms();
    int writes = 0;
    for (size_t off = 0; res->rc == EMBER_OK && off < s->len; off += PACKET) {
        size_t n = s->len - off < PACKET ? s->len - off : PACKET;
        res->rc = ember_dfs_write(file, s->data + off, n);
        usleep((useconds_t)s->pace_ms * 1000);
        writes++;
        if (res->rc == EMBER_OK && writes == s->flush_after && (s->flush & FLUSH_HFLUSH))
            res->rc = ember_dfs_hflush(file);
        if (res->rc == EMBER_OK && writes == s->flush_after && (s->flush & FLUSH_HSYNC))
            res->rc = ember_dfs_hsync(file);
        if (writes == s->idle_after)
            usleep((useconds_t)s->idle_ms * 1000);
    }
    int rc = file != NULL ? ember_dfs_close_file(file) : EMBER_OK;
    res->open_ms = clock_monotonic_ms() - opened;
    if (res->rc == EMBER_OK)
        res->rc = rc;
    if (res->rc != EMBER_OK)
        snprintf(res->error, sizeof(res->error), "%s", ember_dfs_last_error(dfs));
    usleep((useconds_t)s->linger_ms * 1000);
    ember_dfs_close(dfs);
}

/* Runs the loop for the child until rank has had at least npackets
 * PipelinePackets delivered (a deadline of 3 s), then calls breaker. */
static void run_until_packets(struct fixture *f, int rank, int npackets) {
    int64_t deadline = clock_monotonic_ms() + 3000;
    while (f->packets_to[rank] < npackets && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 5);
    assert_true(f->packets_to[rank] >= npackets);
}

static int received_of(struct fixture *f, uint64_t id, uint64_t gs, int rank, uint64_t len) {
    for (int i = 0; i < f->nreceived; i++)
        if (f->received[i].block_id == id && f->received[i].gen_stamp == gs &&
            f->received[i].source == rank && f->received[i].length == len)
            return 1;
    return 0;
}

/* Block b of the stream (STREAM_BLOCK bytes, or what is left) reads back
 * from rank at gs. */
static void expect_block_on(struct fixture *f, int rank, uint64_t id, uint64_t gs,
                            const uint8_t *data, size_t len) {
    read_spec rs = read_spec_for(f, rank, id, data, len, 0, UINT64_MAX);
    rs.gen_stamp = gs;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last);
    assert_int_equal(rr.end, len);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Rank 3, last in the pipeline of the first block, goes silent after its
 * second packet: rank 2 names it, the client drops it, gets a new gen
 * stamp, and sends ranks 1 and 2 the packets they had not acknowledged;
 * the second and third blocks exclude rank 3.  Every block is on ranks 1
 * and 2, whole, under its final gen stamp. */
static void test_downstream_silent(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    const size_t len = 2 * STREAM_BLOCK + 90000;
    uint8_t *data = malloc(len);
    fill_data(data, len, 201);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len, .pace_ms = 60};
    stream_result res;
    child_proc c = child_start(child_stream, &s, &res, sizeof(res));
    run_until_packets(f, 3, 2);
    f->drop_to = 3;
    child_finish(f, &c, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(nn->updates, 1);
    assert_int_equal(nn->add_blocks, 3);
    assert_int_equal(nn->nexcluded, 1);
    assert_int_equal(nn->excluded[0], 3);
    assert_int_equal(nn->completes, 1);
    assert_int_equal(nn->complete_block, 502);
    assert_int_equal(nn->complete_length, 90000);
    assert_int_equal(nn->gss[0], 1500 + 100);
    run_for(f, 50);
    for (int b = 0; b < 3; b++) {
        size_t n = b < 2 ? STREAM_BLOCK : 90000;
        for (int r = 1; r <= 2; r++) {
            assert_true(received_of(f, nn->ids[b], nn->gss[b], r, n));
            expect_block_on(f, r, nn->ids[b], nn->gss[b], data + (size_t)b * STREAM_BLOCK, n);
        }
        assert_int_equal(replica_files(f, 3, nn->ids[b], "finalized"), 0);
    }
    for (int i = 0; i < f->nreceived; i++)
        assert_int_not_equal(f->received[i].source, 3);
    /* Rank 3 kept what it had, under the old gen stamp, in rbw/. */
    assert_int_equal(replica_files(f, 3, 500, "rbw"), 2);
    fake_stop(nn);
    free(data);
}

/* As above, and the namenode holds rank 2 dead when the client asks for
 * the new gen stamp: the client drops it too, though nobody blamed it,
 * and the block goes on, and ends, on rank 1 alone; later blocks exclude
 * both. */
static void test_recovery_drops_dead_nodes(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    nn->dead = 2;
    const size_t len = STREAM_BLOCK + 70000;
    uint8_t *data = malloc(len);
    fill_data(data, len, 202);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len, .pace_ms = 60};
    stream_result res;
    child_proc c = child_start(child_stream, &s, &res, sizeof(res));
    run_until_packets(f, 3, 2);
    f->drop_to = 3;
    child_finish(f, &c, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(nn->updates, 1);
    assert_int_equal(nn->add_blocks, 2);
    assert_int_equal(nn->nexcluded, 2);
    assert_int_equal(nn->excluded[0], 3);
    assert_int_equal(nn->excluded[1], 2);
    run_for(f, 50);
    for (int b = 0; b < 2; b++) {
        size_t n = b < 1 ? STREAM_BLOCK : 70000;
        assert_true(received_of(f, nn->ids[b], nn->gss[b], 1, n));
        expect_block_on(f, 1, nn->ids[b], nn->gss[b], data + (size_t)b * STREAM_BLOCK, n);
        for (int i = 0; i < f->nreceived; i++) /* rank 2 has nothing at the final stamps */
            assert_false(f->received[i].source == 2 && f->received[i].gen_stamp == nn->gss[b]);
    }
    free(data);
    fake_stop(nn);
}

/* The first datanode goes away in the middle of the first block: the
 * client's connection breaks, and ranks 2 and 3 finish the file. */
static void test_first_datanode_gone(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    const size_t len = STREAM_BLOCK + 70000;
    uint8_t *data = malloc(len);
    fill_data(data, len, 202);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len, .pace_ms = 60};
    stream_result res;
    child_proc c = child_start(child_stream, &s, &res, sizeof(res));
    run_until_packets(f, 2, 2);
    datanode_destroy(f->dn[1]);
    f->dn[1] = NULL;
    child_finish(f, &c, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(nn->updates, 1);
    assert_int_equal(nn->add_blocks, 2);
    assert_int_equal(nn->nexcluded, 1);
    assert_int_equal(nn->excluded[0], 1);
    run_for(f, 50);
    for (int b = 0; b < 2; b++) {
        size_t n = b == 0 ? STREAM_BLOCK : 70000;
        for (int r = 2; r <= 3; r++) {
            assert_true(received_of(f, nn->ids[b], nn->gss[b], r, n));
            expect_block_on(f, r, nn->ids[b], nn->gss[b], data + (size_t)b * STREAM_BLOCK, n);
        }
    }
    for (int i = 0; i < f->nreceived; i++)
        assert_int_not_equal(f->received[i].source, 1);
    fake_stop(nn);
    free(data);
}

/* Both datanodes of a two-node pipeline go: after dropping the first, the
 * second cannot be reached either, and the write fails saying so. */
static void test_no_datanode_left(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2};
    fake_nn *nn = fake_start(f, pipeline, 2);
    const size_t len = STREAM_BLOCK;
    uint8_t *data = malloc(len);
    fill_data(data, len, 203);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len, .pace_ms = 60};
    stream_result res;
    child_proc c = child_start(child_stream, &s, &res, sizeof(res));
    run_until_packets(f, 2, 1);
    datanode_destroy(f->dn[2]);
    f->dn[2] = NULL;
    datanode_destroy(f->dn[1]);
    f->dn[1] = NULL;
    child_finish(f, &c, &res, sizeof(res));
    assert_int_equal(res.rc, EMBER_EIO);
    assert_non_null(strstr(res.error, "blk_500: no datanode of its pipeline is left"));
    assert_int_equal(nn->updates, 1);
    assert_int_equal(nn->completes, 0);
    fake_stop(nn);
    free(data);
}

/* The namenode refuses the new gen stamp (the writer lost its lease): the
 * write fails with the namenode's reason. */
static void test_namenode_refuses(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    nn->refuse_update = 1;
    const size_t len = STREAM_BLOCK;
    uint8_t *data = malloc(len);
    fill_data(data, len, 204);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len, .pace_ms = 60};
    stream_result res;
    child_proc c = child_start(child_stream, &s, &res, sizeof(res));
    run_until_packets(f, 3, 1);
    f->drop_to = 3;
    child_finish(f, &c, &res, sizeof(res));
    assert_int_equal(res.rc, EMBER_ESTATE);
    assert_non_null(strstr(res.error, "blk_500: pipeline recovery refused by the namenode: No "
                                      "lease on /f: lease recovery is in progress"));
    assert_int_equal(nn->updates, 1);
    assert_int_equal(nn->completes, 0);
    fake_stop(nn);
    free(data);
}

/* A writer silent for longer than the datanodes' I/O timeout between
 * packets: the first datanode gives up on it (DataError EMBER_ETIMEDOUT)
 * each time, and the writer reconnects the same three nodes under a new
 * gen stamp -- no node blamed, none excluded, not counted against the
 * five recoveries -- and the block is whole on all three. */
static void test_silent_writer(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    const size_t len = STREAM_BLOCK + 1000;
    uint8_t *data = malloc(len);
    fill_data(data, len, 205);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len,
                     .pace_ms = IO_TIMEOUT_MS + 150};
    stream_result res;
    run_child(f, child_stream, &s, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(nn->updates >= 2);
    assert_int_equal(nn->add_blocks, 2);
    assert_int_equal(nn->nexcluded, 0);
    run_for(f, 50);
    for (int r = 1; r <= NODES; r++) {
        assert_true(received_of(f, nn->ids[0], nn->gss[0], r, STREAM_BLOCK));
        expect_block_on(f, r, nn->ids[0], nn->gss[0], data, STREAM_BLOCK);
        expect_block_on(f, r, nn->ids[1], nn->gss[1], data + STREAM_BLOCK, 1000);
    }
    fake_stop(nn);
    free(data);
}

/* With the datanodes' socket timeout in the create answer, a writer that
 * sleeps five I/O timeouts in the middle of a block (not calling the
 * library) keeps its pipeline: the renewer sends heartbeats down it
 * (ranks 2 and 3 get more PipelinePackets than there are data packets),
 * no datanode gives up, there is no pipeline recovery (no new gen stamp,
 * test_silent_writer's fate without the timeout), and the blocks are
 * whole on all three nodes. */
static void test_idle_writer_heartbeats(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    nn->socket_timeout_ms = IO_TIMEOUT_MS;
    const size_t len = STREAM_BLOCK + 5000;
    uint8_t *data = malloc(len);
    fill_data(data, len, 206);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len,
                     .idle_after = 2, .idle_ms = 5 * IO_TIMEOUT_MS};
    stream_result res;
    run_child(f, child_stream, &s, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(nn->updates, 0);
    assert_int_equal(nn->add_blocks, 2);
    assert_int_equal(nn->completes, 1);
    /* Five data packets (four and one); at least a heartbeat per half
     * timeout of the pause on top. */
    for (int r = 2; r <= NODES; r++)
        assert_true(f->packets_to[r] >= 5 + 8);
    run_for(f, 50);
    for (int r = 1; r <= NODES; r++) {
        assert_true(received_of(f, nn->ids[0], nn->gss[0], r, STREAM_BLOCK));
        assert_int_equal(nn->gss[0], 1500);
        expect_block_on(f, r, nn->ids[0], nn->gss[0], data, STREAM_BLOCK);
        expect_block_on(f, r, nn->ids[1], nn->gss[1], data + STREAM_BLOCK, 5000);
    }
    fake_stop(nn);
    free(data);
}

/* The renewer renews the lease every lease_renew_ms while the writer is
 * open, sleeping or not -- several times during the 800 ms pause, and
 * never more than once per 100 ms of the time it was open -- and stops
 * once it is closed: none comes after the CompleteRequest, though the
 * handle stays connected a while.  Both bounds hold however slow the
 * machine: a renewal is due 100 ms after the previous one's answer, so a
 * slow machine only makes them fewer per second, and the lower bound is a
 * count, not a rate. */
static void test_lease_renewals(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    fake_nn *nn = fake_start(f, pipeline, 3);
    nn->lease_renew_ms = 100;
    const size_t len = 2 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 207);
    stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len,
                     .idle_after = 1, .idle_ms = 800, .linger_ms = 500};
    stream_result res;
    run_child(f, child_stream, &s, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(res.open_ms >= 800);
    assert_true(nn->renews >= 3);
    assert_true(nn->renews <= (int)(res.open_ms / 100) + 1);
    assert_int_equal(nn->renews_after_complete, 0);
    fake_stop(nn);
    free(data);
}

/* hsync has each datanode fsync the block being written -- its rbw data
 * and meta files -- once here; hflush alone does not; an hsync right
 * after an hflush (nothing buffered: an empty sync packet) still does.
 * The file is whole either way. */
static void test_hsync(void **state) {
    struct fixture *f = *state;
    const int pipeline[] = {1, 2, 3};
    const size_t len = 2 * PACKET + 700;
    uint8_t *data = malloc(len);
    fill_data(data, len, 208);
    const int modes[] = {FLUSH_HSYNC, FLUSH_HFLUSH, FLUSH_HFLUSH | FLUSH_HSYNC};
    for (int m = 0; m < 3; m++) {
        fake_nn *nn = fake_start(f, pipeline, 3);
        nn->id_base = 600 + 10 * (uint64_t)m;
        fsync_reset();
        stream_spec s = {.run_dir = nn->run_dir, .data = data, .len = len,
                         .flush_after = 1, .flush = modes[m]};
        stream_result res;
        run_child(f, child_stream, &s, &res, sizeof(res));
        assert_int_equal(res.rc, 0);
        assert_int_equal(nn->updates, 0);
        uint64_t id = nn->ids[0];
        run_for(f, 50);
        for (int r = 1; r <= NODES; r++) {
            int want = (modes[m] & FLUSH_HSYNC) ? 1 : 0;
            assert_int_equal(rbw_fsyncs(f, r, id, 0), want);
            assert_int_equal(rbw_fsyncs(f, r, id, 1), want);
            expect_block_on(f, r, id, nn->gss[0], data, len);
        }
        fake_stop(nn);
    }
    free(data);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_downstream_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_drops_dead_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_datanode_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_datanode_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namenode_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_writer_heartbeats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_renewals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hsync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
