/* test_datanode_flow.c -- unit tests for what holds a datanode's write
 * back without failing it: its disk work off the loop's thread
 * (datanode/pipeline_disk.c) and a downstream that can take no more data
 * (the client's socket paused, datanode/pipeline.c).
 *
 * The three datanodes of datanode_fixture.h (ranks 1..3 in this process,
 * one event loop, a fake rank transport, clients in forked children).
 * Disk: the nodes run with sync on close, and the fixture's fsync()
 * records which thread made each call and holds, at a gate the test
 * closes, the calls of the disk threads on rank 3's files: while it is
 * closed the test checks that the loop goes on (rank 3 takes every
 * packet), that no ack and no BlockReceived leaves rank 3 for a packet
 * whose fsync is held, and that rank 3 made no fsync on the loop's
 * thread; then it opens the gate and the write completes.  Covers an
 * hsync packet, the finalize of a last packet, an InitReplicaRecovery and
 * a client's pipeline-recovery WriteBlockRequest that arrive while the
 * finalize is held (both are answered after it, seeing the finalized
 * replica).  Backpressure: the fake transport refuses rank 2 data
 * (EMBER_EAGAIN) until the test lets it drain; rank 1 stops reading its
 * client after the first packet (its replica does not grow), then reads
 * on and the write completes.  Every wait has a deadline. */
#include "datanode_fixture.h"

#define HELD_MS 150 /* how long the loop turns with the gate closed */

/* At least *arg fsyncs wait at the gate. */
static int gate_holds(struct fixture *f, const void *arg) {
    (void)f;
    return fsync_gate_waiting() >= *(const int *)arg;
}

/* Rank 3 took at least *arg PipelinePackets. */
static int rank3_packets(struct fixture *f, const void *arg) {
    return f->packets_to[3] >= *(const int *)arg;
}

static int finalized_everywhere(struct fixture *f, const void *arg) {
    return received_count(f, *(const uint64_t *)arg) == NODES;
}

/* A BlockReceived from rank about id came. */
static int received_from(struct fixture *f, int rank, uint64_t id) {
    for (int i = 0; i < f->nreceived; i++)
        if (f->received[i].source == rank && f->received[i].block_id == id)
            return 1;
    return 0;
}

/* Restarts the nodes with sync on close and an I/O timeout long enough
 * that a held disk is not taken for a silent node; returns the gate's
 * name of rank 3's files. */
static void start_sync_on_close(struct fixture *f, char *node3, size_t len) {
    f->sync_on_close = 1;
    f->io_timeout_ms = 4000;
    for (int r = 1; r <= NODES; r++)
        restart_node(f, r);
    snprintf(node3, len, "%s/", f->dirs[3]);
}

static void expect_write_ok(const write_result *res, int npk) {
    assert_int_equal(res->rc, 0);
    assert_int_equal(res->error_code, 0);
    assert_false(res->failed);
    assert_int_equal(res->nacks, npk);
    assert_true(res->acks_ok);
}

/* A write through ranks 1, 2, 3 held at rank 3 by the gate. */
typedef struct {
    char node3[160]; /* the gate's name of rank 3's files */
    uint64_t id;
    int npk;
    uint8_t *data;
    write_result res;
    child_proc child;
} held_write;

/* Starts npk packets of block id (packet sync_seqno asking for hsync; -1:
 * none) with rank 3's disk threads held, and checks while they are: the
 * loop takes all npk packets at rank 3 while the first held fsync waits,
 * only the first acked_ok acks leave rank 3, no BlockReceived does, and
 * rank 3 fsyncs nothing on the loop's thread. */
static void held_write_start(struct fixture *f, held_write *h, uint64_t id, int npk,
                             int64_t sync_seqno, int acked_ok) {
    start_sync_on_close(f, h->node3, sizeof(h->node3));
    h->id = id;
    h->npk = npk;
    h->data = malloc((size_t)npk * PACKET);
    fill_data(h->data, (size_t)npk * PACKET, (uint32_t)id);
    fsync_reset();
    fsync_gate_set(h->node3);
    int packets = f->packets_to[3] + npk, acks_before = f->acks_to[2], one = 1;
    write_spec ws = write_spec_for(f, 1, id, h->data, (size_t)npk * PACKET);
    ws.sync_seqno = sync_seqno;
    h->child = child_start(child_write, &ws, &h->res, sizeof(h->res));
    assert_true(run_until(f, gate_holds, &one, 3000));
    assert_true(run_until(f, rank3_packets, &packets, 3000));
    run_for(f, HELD_MS);
    assert_int_equal(f->acks_to[2] - acks_before, acked_ok);
    assert_false(received_from(f, 3, id));
    assert_int_equal(fsyncs_of(h->node3, 1), 0);
}

/* Opens the gate: the write completes on every node. */
static void held_write_finish(struct fixture *f, held_write *h) {
    fsync_gate_set(NULL);
    child_finish(f, &h->child, &h->res, sizeof(h->res));
    expect_write_ok(&h->res, h->npk);
    assert_true(run_until(f, finalized_everywhere, &h->id, 2000));
    assert_int_equal(fsyncs_of(h->node3, 1), 0);
    free(h->data);
}

/* Packet 1 of 3 asks for hsync: rank 3 fsyncs it on its disk thread, and
 * neither its ack nor the last packet's leaves rank 3 before that fsync
 * is done; the loop never fsyncs rank 3's files. */
static void test_hsync_off_loop(void **state) {
    struct fixture *f = *state;
    held_write h;
    held_write_start(f, &h, 600, 3, 1, 1);
    assert_int_equal(rbw_fsyncs(f, 3, h.id, 0), 1); /* the held one: packet 1's data */
    held_write_finish(f, &h);
    assert_int_equal(rbw_fsyncs(f, 3, h.id, 0), 2); /* then at the finalize (sync on close) */
    assert_int_equal(rbw_fsyncs(f, 3, h.id, 1), 2); /* its meta too, each time */
    assert_true(fsyncs_of(h.node3, 0) >= 4); /* hsync, then finalize: files and directories */
}

/* The last packet's finalize (sync on close) is held at rank 3: its ack
 * and BlockReceived wait for it, and nothing is in finalized/ yet. */
static void test_finalize_off_loop(void **state) {
    struct fixture *f = *state;
    held_write h;
    held_write_start(f, &h, 610, 2, -1, 1);
    assert_int_equal(replica_files(f, 3, h.id, "finalized"), 0);
    held_write_finish(f, &h);
    assert_int_equal(replica_files(f, 3, h.id, "finalized"), 2);
}

/* An InitReplicaRecovery reaching rank 3 while its finalize is held waits
 * for it, then reports the finalized replica (not one "being written"). */
static void test_recovery_waits_for_finalize(void **state) {
    struct fixture *f = *state;
    held_write h;
    held_write_start(f, &h, 620, 2, -1, 1);
    inject_init_recovery(f, 0, 3, h.id, 9000);
    run_for(f, HELD_MS);
    assert_int_equal(f->nrecoveries, 0);
    held_write_finish(f, &h);
    int64_t deadline = clock_monotonic_ms() + 2000;
    while (f->nrecoveries == 0 && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(f->nrecoveries, 1);
    const recovery_record *rr = &f->recoveries[0];
    assert_int_equal(rr->source, 3);
    assert_true(rr->found);
    assert_true(rr->finalized);
    assert_int_equal(rr->gen_stamp, 1000 + h.id);
    assert_int_equal(rr->length, 2 * PACKET);
}

/* A one-node write to rank 3 whose finalize is held; a second client's
 * pipeline recovery of the same block reaches rank 3 meanwhile.  It waits
 * (its connection paused) instead of being refused for a replica being
 * written, and once the finalize is done it reopens the finalized replica
 * under the new gen stamp and writes on. */
static void test_write_request_waits_for_finalize(void **state) {
    struct fixture *f = *state;
    char node3[160];
    start_sync_on_close(f, node3, sizeof(node3));
    const size_t len = PACKET, extra = 3000;
    uint8_t *data = malloc(len + extra);
    fill_data(data, len + extra, 99);
    uint64_t id = 630, gs = 1000 + id, new_gs = 2000;
    fsync_gate_set(node3);
    write_spec ws = write_spec_for(f, 3, id, data, len);
    ws.n_downstream = 0;
    write_result res;
    child_proc first = child_start(child_write, &ws, &res, sizeof(res));
    int one = 1;
    assert_true(run_until(f, gate_holds, &one, 3000));
    write_spec rs = write_spec_for(f, 3, id, data + len, extra);
    rs.n_downstream = 0;
    rs.gen_stamp = new_gs;
    rs.recovery_gen_stamp = gs;
    rs.recovery_length = rs.offset = len;
    write_result rres;
    child_proc second = child_start(child_write, &rs, &rres, sizeof(rres));
    /* Held: the second client is neither refused nor served. */
    int status;
    int64_t until = clock_monotonic_ms() + 3 * HELD_MS;
    while (clock_monotonic_ms() < until) {
        assert_int_equal(waitpid(second.pid, &status, WNOHANG), 0);
        event_loop_run_once(f->loop, 10);
    }
    assert_false(received_from(f, 3, id));
    fsync_gate_set(NULL);
    child_finish(f, &first, &res, sizeof(res));
    expect_write_ok(&res, 1);
    child_finish(f, &second, &rres, sizeof(rres));
    expect_write_ok(&rres, 1);
    int64_t deadline = clock_monotonic_ms() + 2000;
    while (f->nreceived < 2 && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(f->nreceived, 2);
    assert_int_equal(f->received[1].gen_stamp, new_gs);
    assert_int_equal(f->received[1].length, len + extra);
    free(data);
}

/* Rank 2 can take no data (the transport answers EMBER_EAGAIN) until the
 * test lets it: rank 1 writes the first packet, holds it and stops
 * reading its client's socket -- its replica does not grow past that
 * packet, the rest of the client's packets waiting unread -- then, once
 * rank 2 can take more, sends the held packet, reads on, and the write
 * succeeds everywhere. */
static void test_downstream_full_pauses_client(void **state) {
    struct fixture *f = *state;
    const int npk = 24;
    uint8_t *data = malloc((size_t)npk * PACKET);
    fill_data(data, (size_t)npk * PACKET, 640);
    f->full_to = 2;
    f->full_until_ms = INT64_MAX;
    uint64_t id = 640;
    write_spec ws = write_spec_for(f, 1, id, data, (size_t)npk * PACKET);
    write_result res;
    child_proc child = child_start(child_write, &ws, &res, sizeof(res));
    int64_t deadline = clock_monotonic_ms() + 3000;
    while ((f->refused == 0 || rbw_data_size(f, 1, id) < PACKET) && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(f->refused, 1);
    run_for(f, HELD_MS);
    assert_int_equal(rbw_data_size(f, 1, id), PACKET); /* nothing more was read */
    assert_int_equal(f->refused, 1);
    assert_int_equal(f->packets_to[2], 0);
    f->full_until_ms = clock_monotonic_ms(); /* the hook calls datanode_on_writable() */
    child_finish(f, &child, &res, sizeof(res));
    expect_write_ok(&res, npk);
    assert_true(run_until(f, finalized_everywhere, &id, 2000));
    assert_int_equal(f->packets_to[2], npk);
    assert_int_equal(f->packets_to[3], npk);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hsync_off_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finalize_off_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_waits_for_finalize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_request_waits_for_finalize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downstream_full_pauses_client, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
