/* test_datanode_bulk.c -- a write pipeline's packet data as bulk payloads
 * (datanode/pipeline_bulk.c): header-only PipelinePackets with the data
 * beside them, claimed by the next node into a buffer of its own and
 * forwarded from it.
 *
 * The three datanodes of datanode_fixture.h, whose fake transport carries
 * bulk payloads and ends the transfers of a turn newest first, so that a
 * pipeline's payloads arrive in reverse order: the packets must still be
 * handled in seqno order (a packet whose payload is late holds back the
 * ones after it), and the replicas must hold the client's bytes.  Also:
 * a payload that never arrives fails the pipeline, naming the node that
 * waited for it, and nodes without bulk transfer send the data inside the
 * packets as before.  Every wait has a deadline. */
#include "datanode_fixture.h"

static int finalized_everywhere(struct fixture *f, const void *arg) {
    return received_count(f, *(const uint64_t *)arg) == NODES;
}

/* Ten full packets and a short one through ranks 1 -> 2 -> 3: every
 * packet after the first hop goes as a bulk payload, the payloads of each
 * turn complete last first, and every replica holds the bytes. */
static void test_payloads_out_of_order(void **state) {
    struct fixture *f = *state;
    const size_t len = 10 * PACKET + 777;
    uint8_t *data = malloc(len);
    fill_data(data, len, 900);
    uint64_t id = 900;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.window = 16; /* many packets in flight at once */
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 2000));
    assert_int_equal(f->packets_to[2], 11);
    assert_int_equal(f->packets_to[3], 11);
    assert_int_equal(f->bulk_sent, 22); /* 11 per hop, none inline */
    assert_int_equal(f->bulk_received, 22);
    assert_int_equal(f->unexpected, 0);
    for (int r = 1; r <= NODES; r++)
        assert_replica_bytes(f, r, id, data, len);
    free(data);
}

/* Rank 3 never gets the data of the packets rank 2 forwards: it fails the
 * pipeline naming itself, rank 2 passes that up, and the client learns
 * that rank 3 failed; rank 3 keeps no finalized replica. */
static void test_payload_lost(void **state) {
    struct fixture *f = *state;
    const size_t len = 3 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 901);
    f->lose_payloads_to = 3;
    uint64_t id = 901;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.window = 1;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(res.failed);
    assert_int_equal(res.failed_seqno, 0);
    assert_int_equal(res.failed_rank, 3);
    assert_non_null(strstr(res.failed_message, "rank 2 reports packet 0 failed"));
    assert_int_equal(res.nacks, 0);
    assert_true(res.eof);
    assert_int_equal(replica_files(f, 3, id, "finalized"), 0);
    assert_int_equal(received_count(f, id), 0);
    free(data);
}

/* Nodes without bulk transfer (send_bulk NULL) send the data inside the
 * PipelinePackets, and take them so. */
static void test_inline_packets(void **state) {
    struct fixture *f = *state;
    f->no_bulk = 1;
    for (int r = 1; r <= NODES; r++)
        restart_node(f, r);
    const size_t len = 4 * PACKET + 5;
    uint8_t *data = malloc(len);
    fill_data(data, len, 902);
    uint64_t id = 902;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 2000));
    assert_int_equal(f->packets_to[3], 5);
    assert_int_equal(f->bulk_sent, 0);
    for (int r = 1; r <= NODES; r++)
        assert_replica_bytes(f, r, id, data, len);
    free(data);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_payloads_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_packets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
