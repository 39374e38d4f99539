/* test_datanode.c -- unit tests for the datanode (datanode/datanode.c,
 * transfer_server.c, pipeline.c, pipeline_setup.c).
 *
 * Each test runs three datanodes (ranks 1..3) in this process on one
 * event loop, each with its own mkdtemp() data directory, and a fake rank
 * transport: opts.send packs the RankMessage into a queue, and a loop hook
 * unpacks each entry (message_decode_rank) and hands it to the destination
 * datanode -- or records it when it is for rank 0, the fake primary
 * (BlockReceived, BlockReport, IncrementalBlockReport, ...).  Messages to
 * f->drop_to vanish.
 *
 * Clients are forked children doing blocking I/O over loopback while the
 * parent runs the loop until the child exits (run_child, 5 s deadline);
 * a child checks what it receives itself and sends a small result struct
 * back through a pipe.  Replicas are checked on disk: the files
 * blk_<id>* in current/rbw and current/finalized of each node's directory,
 * and, in the first test, through block_store after the datanodes are gone.
 *
 * Covers: a 300 KiB write through a 3-node pipeline (acks, identical
 * replicas, 3 BlockReceived) and a read of it at an unaligned range from
 * the second node; bad tokens (wrong MAC, expired, read token for a
 * write, write token for a read), bad first frames (too big, malformed,
 * not a request, none in time) and no secret; a wrong CRC; a downstream
 * that never answers (io_timeout 300 ms), before and after the last
 * packet; packets that end and start mid-chunk (hflush); a client more
 * than 128 packets ahead; a client that closes mid-block (each failed
 * write keeps what was written in rbw/ on every node, reported as rbw,
 * found again after a restart, removed by DeleteBlocks); block recovery
 * (InitReplicaRecovery stopping a client's write through three nodes,
 * UpdateReplica finalizing mid-chunk under the recovery id, repeated,
 * refused, from a non-primary, a node without the block, a finalized
 * replica renamed); append through two nodes (mid-chunk, new gen stamp,
 * wrong old gen stamp, a downstream without the replica); block reports
 * with rbw replicas; pipeline recovery (rbw replicas cut mid-chunk and
 * written on under a new gen stamp through TCP and an MPI hop, finalized
 * ones whose acks were lost, a write still running under the old stamp
 * stopped without its stale acks failing the new pipeline, a block
 * nobody got, and the refusals: too few bytes, a gen stamp out of range,
 * no replica); a corrupt replica; DeleteBlocks (the deletions done
 * confirmed to the primary in an IncrementalBlockReport); block reports;
 * the directory scanner (replica files removed, copied in and truncated
 * behind the datanode's back reported once as deleted, received and
 * bad_replica; nothing sent before registration; its timer); read edge
 * cases (partial chunk, empty, past the end, gen stamp, unknown block),
 * a duplicate block; clients that shut their sending side early; a read
 * larger than the output queue's bound; storage figures; heartbeat
 * packets (forwarded, acked in order and marked, never written, setting
 * a pipeline up when they come first, keeping an idle pipeline alive past
 * the I/O timeout, refused at a wrong offset); hsync (a sync packet's
 * replica files fsynced on every node, as seen by the fixture's fsync).  Replication and the
 * block scanner are in test_datanode_replication.c; the fixture is in
 * datanode_fixture.h.  Every wait has a deadline. */
#include "datanode_fixture.h"

/* ---- tests --------------------------------------------------------------------------- */

static int finalized_everywhere(struct fixture *f, const void *arg) {
    uint64_t id = *(const uint64_t *)arg;
    return received_count(f, id) == NODES;
}

static void test_pipeline_write_and_read(void **state) {
    struct fixture *f = *state;
    const size_t len = 300 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 1);
    uint64_t id = 7;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    for (int i = 0; i < f->nreceived; i++) {
        assert_int_equal(f->received[i].block_id, id);
        assert_int_equal(f->received[i].gen_stamp, 1000 + id);
        assert_int_equal(f->received[i].length, len);
    }
    int seen = 0;
    for (int i = 0; i < f->nreceived; i++)
        seen |= 1 << f->received[i].source;
    assert_int_equal(seen, 0xe); /* ranks 1, 2, 3 */
    for (int r = 1; r <= NODES; r++) {
        assert_int_equal(replica_files(f, r, id, "finalized"), 2);
        assert_int_equal(replica_files(f, r, id, "rbw"), 0);
    }

    /* Read [1000, 201000) from the second datanode. */
    read_spec rs = read_spec_for(f, 2, id, data, len, 1000, 200000);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok);
    assert_true(rr.data_ok);
    assert_true(rr.crcs_ok);
    assert_true(rr.got_last);
    assert_true(rr.eof);
    assert_int_equal(rr.first_offset, 512);
    assert_int_equal(rr.end, 201216); /* 201000 rounded up to a chunk */
    assert_int_equal(rr.npackets, 4);

    /* A whole read past the end is clipped to the replica. */
    rs = read_spec_for(f, 3, id, data, len, 0, UINT64_MAX);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last);
    assert_int_equal(rr.first_offset, 0);
    assert_int_equal(rr.end, len);

    /* Each store holds the same finalized bytes. */
    for (int r = 1; r <= NODES; r++) {
        datanode_destroy(f->dn[r]);
        f->dn[r] = NULL;
    }
    uint8_t *back = malloc(len);
    for (int r = 1; r <= NODES; r++) {
        block_store *store;
        char err[256];
        assert_int_equal(block_store_open(f->dirs[r], &store, err, sizeof(err)), 0);
        block_reader *rd;
        assert_int_equal(block_reader_open(store, id, &rd), 0);
        assert_int_equal(block_reader_info(rd)->length, len);
        assert_int_equal(block_reader_info(rd)->gen_stamp, 1000 + id);
        size_t got = 0;
        memset(back, 0, len);
        assert_int_equal(block_reader_pread(rd, back, len, 0, &got), 0);
        assert_int_equal(got, len);
        assert_memory_equal(back, data, len);
        block_reader_close(rd);
        assert_int_equal(block_store_verify(store, id), 0);
        block_store_close(store);
    }
    free(back);
    free(data);
    assert_int_equal(f->unexpected, 0);
}

static void test_bad_tokens(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 2);
    const token_spec bad[] = {
        {"not-the-secret", AUTH_TOKEN_WRITE, 60000}, /* wrong MAC */
        {SECRET, AUTH_TOKEN_WRITE, -1000},           /* expired */
        {SECRET, AUTH_TOKEN_READ, 60000},            /* read token for a write */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t id = 20 + i;
        write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
        ws.token = bad[i];
        write_result res;
        run_child(f, child_write, &ws, &res, sizeof(res));
        assert_int_equal(res.rc, 0);
        assert_int_equal(res.error_code, EMBER_EAUTH);
        assert_int_equal(res.nacks, 0);
        assert_true(res.eof);
        run_for(f, 20);
        assert_true(no_replica_anywhere(f, &id));
        assert_int_equal(f->packets_to[2] + f->packets_to[3], 0);
    }
    /* A write token does not read either. */
    uint64_t id = 30;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    write_ok(f, &ws);
    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 100);
    rs.token = good_write;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_EAUTH);
    assert_int_equal(rr.npackets, 0);
    assert_true(rr.eof);
}

static void test_bad_first_frames(void **state) {
    struct fixture *f = *state;
    raw_spec raw = {.port = datanode_port(f->dn[1])};
    raw_result res;

    /* A header announcing more than 4 KiB before any request. */
    frame_put_header(raw.bytes, 5000);
    memset(raw.bytes + 4, 0, 5000);
    raw.len = 5004;
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.error_code, EMBER_ETOOBIG);
    assert_true(res.eof);

    /* Bytes that are not a DataMessage. */
    frame_put_header(raw.bytes, 6);
    memcpy(raw.bytes + 4, "\xff\xff\xff\xff\xff\xff", 6);
    raw.len = 10;
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EPROTO);
    assert_true(res.eof);

    /* Nothing at all: the request is due within the I/O timeout. */
    raw.len = 0;
    int64_t start = clock_monotonic_ms();
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ETIMEDOUT);
    assert_true(res.eof);
    assert_true(clock_monotonic_ms() - start >= IO_TIMEOUT_MS - 50);

    /* A packet first. */
    Packet pkt = PACKET__INIT;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_PACKET;
    msg.packet = &pkt;
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_data(&msg, sizeof(raw.bytes), &buf, &len), 0);
    memcpy(raw.bytes, buf, len);
    raw.len = len;
    free(buf);
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EPROTO);
    assert_true(res.eof);

    /* The datanode still serves. */
    uint8_t data[1000];
    fill_data(data, sizeof(data), 3);
    write_spec ws = write_spec_for(f, 1, 40, data, sizeof(data));
    write_ok(f, &ws);
}

static void test_no_secret(void **state) {
    struct fixture *f = *state;
    uint8_t data[1000];
    fill_data(data, sizeof(data), 4);
    datanode_set_secret(f->dn[1], NULL);
    uint64_t id = 50;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EAGAIN);
    assert_string_equal(res.error_message, "datanode not registered yet");
    assert_int_equal(res.nacks, 0);
    assert_true(res.eof);
    assert_true(no_replica_anywhere(f, &id));

    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 10);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_EAGAIN);

    /* Once registered, the same request is served. */
    datanode_set_secret(f->dn[1], SECRET);
    write_ok(f, &ws);
}

static void test_wrong_crc(void **state) {
    struct fixture *f = *state;
    const size_t len = 5 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 5);
    uint64_t id = 60;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.corrupt_seqno = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 1);
    assert_true(res.acks_ok);
    assert_int_equal(res.failed_seqno, (uint64_t)res.nacks); /* the oldest unacked */
    assert_true(res.nacks <= 2);
    assert_non_null(strstr(res.failed_message, "checksum"));
    assert_true(res.eof);
    /* Nothing of the bad packet was written; the two before it stay in
     * rbw/ everywhere (downstream once the upstream falls silent), waiting
     * for block recovery, and nothing was reported finalized. */
    for (int r = 1; r <= NODES; r++) {
        assert_int_equal(wait_rbw(f, r, id, 1000 + id, 2000), 2 * PACKET);
        assert_int_equal(replica_files(f, r, id, "finalized"), 0);
    }
    assert_int_equal(received_count(f, id), 0);
    free(data);
}

static void test_downstream_silent(void **state) {
    struct fixture *f = *state;
    const size_t len = 150 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 6);
    f->drop_to = 3;

    /* The client keeps two packets ahead: the block is still being
     * received everywhere when the third node's silence is noticed. */
    uint64_t id = 70;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.window = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.npackets, 2);
    assert_true(res.failed);
    assert_int_equal(res.failed_seqno, 0);
    assert_int_equal(res.failed_rank, 3);
    assert_non_null(strstr(res.failed_message, "rank 2 reports packet 0 failed"));
    assert_int_equal(res.nacks, 0);
    assert_true(res.eof);
    /* Rank 2 gave up on rank 3 through its ack timeout, not sooner. */
    assert_true(res.elapsed_ms >= IO_TIMEOUT_MS - 50);
    /* The two nodes that wrote the two packets keep them; the third got
     * nothing. */
    for (int r = 1; r <= 2; r++)
        assert_int_equal(wait_rbw(f, r, id, 1000 + id, 1000), 2 * PACKET);
    assert_int_equal(replica_files(f, 3, id, "rbw") + replica_files(f, 3, id, "finalized"), 0);
    assert_int_equal(received_count(f, id), 0);

    /* All packets at once: the first two nodes finalize on the last
     * packet, before the failure shows; their complete replicas stay (and
     * were reported), the client still learns the pipeline failed. */
    id = 71;
    ws = write_spec_for(f, 1, id, data, len);
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 3);
    assert_true(res.eof);
    run_for(f, 50);
    assert_int_equal(replica_files(f, 1, id, "finalized"), 2);
    assert_int_equal(replica_files(f, 2, id, "finalized"), 2);
    assert_int_equal(replica_files(f, 3, id, "finalized") + replica_files(f, 3, id, "rbw"), 0);
    assert_int_equal(received_count(f, id), 2);
    free(data);
}

/* Rank 2 cannot take data for a while (the transport answers EMBER_EAGAIN):
 * rank 1 holds the packets it wrote, in order, and forwards them when the
 * transport says rank 2 can take more.  The write succeeds everywhere. */
static void test_downstream_full(void **state) {
    struct fixture *f = *state;
    const size_t len = 40 * PACKET + 100;
    uint8_t *data = malloc(len);
    fill_data(data, len, 9);
    f->full_to = 2;
    f->full_until_ms = clock_monotonic_ms() + 300;
    uint64_t id = 75;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 2000));
    assert_true(f->refused >= 1);
    assert_int_equal(f->full_to, -1); /* lifted before the write could end */
    assert_int_equal(f->packets_to[2], 41);
    assert_int_equal(f->packets_to[3], 41);
    for (int r = 1; r <= NODES; r++)
        assert_int_equal(replica_files(f, r, id, "finalized"), 2);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* After an hflush a packet may end mid-chunk; the next one continues the
 * chunk, with the CRCs of its own 512-byte pieces. */
static void test_unaligned_packets(void **state) {
    struct fixture *f = *state;
    static const size_t sizes[] = {1000, 1048, 100, 0, 3000, 700};
    const size_t len = 1000 + 1048 + 100 + 0 + 3000 + 700;
    uint8_t data[5848];
    fill_data(data, len, 70);
    uint64_t id = 160;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.sizes = sizes;
    ws.nsizes = 6;
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    read_spec rs = read_spec_for(f, 3, id, data, len, 0, len);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.end, len);

    /* A bad CRC in a packet that continues a chunk is caught too. */
    id = 161;
    ws = write_spec_for(f, 1, id, data, len);
    ws.sizes = sizes;
    ws.nsizes = 6;
    ws.corrupt_seqno = 4; /* 3000 bytes from offset 2148 */
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 1);
    assert_non_null(strstr(res.failed_message, "checksum mismatch in packet 4"));
    /* The 2148 bytes before it stay, the partial chunk's CRC with them. */
    for (int r = 1; r <= NODES; r++)
        assert_int_equal(wait_rbw(f, r, id, 1000 + id, 2000), 2148);
}

/* A client that runs more than 128 packets ahead of the acks is failed. */
static void test_window_overflow(void **state) {
    struct fixture *f = *state;
    const size_t len = 200 * 512;
    uint8_t *data = malloc(len);
    fill_data(data, len, 50);
    f->drop_to = 2; /* no ack ever comes back */
    uint64_t id = 75;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.packet_size = 512;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(res.failed);
    assert_int_equal(res.failed_seqno, 0);
    assert_int_equal(res.failed_rank, -1);
    /* The window's cap failed it, not a timeout: the message names the cap
     * and the failed rank is the first node's own (-1), not a downstream. */
    assert_non_null(strstr(res.failed_message, "more than 128 packets"));
    assert_null(strstr(res.failed_message, "within"));
    assert_true(res.eof);
    /* Rank 1 wrote the 128 packets it forwarded; rank 2 heard none. */
    assert_int_equal(wait_rbw(f, 1, id, 1000 + id, 1000), 128 * 512);
    for (int r = 2; r <= NODES; r++)
        assert_int_equal(replica_files(f, r, id, "rbw") + replica_files(f, r, id, "finalized"), 0);
    free(data);
}

static void test_client_closes_mid_block(void **state) {
    struct fixture *f = *state;
    const size_t len = 5 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 7);
    uint64_t id = 80;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.close_after = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.npackets, 2);
    assert_int_equal(f->packets_to[2], 2);
    assert_int_equal(f->packets_to[3], 2);
    /* What the client sent is kept everywhere, for block recovery. */
    for (int r = 1; r <= NODES; r++)
        assert_int_equal(wait_rbw(f, r, id, 1000 + id, 2000), 2 * PACKET);
    assert_int_equal(received_count(f, id), 0);

    /* A restarted datanode finds it again, at the same valid length. */
    restart_node(f, 2);
    assert_int_equal(reported_rbw(f, 2, id, 1000 + id), 2 * PACKET);
    /* The same block cannot be written again over it... */
    write_result again;
    ws.close_after = -1;
    ws.n_downstream = 0;
    ws.port = datanode_port(f->dn[2]);
    run_child(f, child_write, &ws, &again, sizeof(again));
    assert_int_equal(again.error_code, EMBER_EEXIST);
    /* ... and the primary removes an unwanted one with DeleteBlocks. */
    DeleteBlocks del = DELETE_BLOCKS__INIT;
    del.block_ids = &id;
    del.n_block_ids = 1;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_DELETE_BLOCKS;
    msg.delete_blocks = &del;
    inject(f, 0, 2, &msg);
    run_for(f, 50);
    assert_int_equal(replica_files(f, 2, id, "rbw"), 0);
    assert_int_equal(reported_rbw(f, 2, id, 1000 + id), -1);
    assert_int_equal(replica_files(f, 3, id, "rbw"), 2);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

static void test_corrupt_replica(void **state) {
    struct fixture *f = *state;
    const size_t len = 5000;
    uint8_t data[5000];
    fill_data(data, len, 8);
    uint64_t id = 90;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));

    flip_byte(f, 2, id, 3000); /* in the second node's data file */

    read_spec rs = read_spec_for(f, 2, id, data, len, 0, len);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ECORRUPT);
    assert_non_null(strstr(rr.error_message, "replica of blk_90 on rank 2 is corrupt"));
    assert_false(rr.got_last);
    assert_true(rr.eof);

    /* The other replicas are fine. */
    rs = read_spec_for(f, 3, id, data, len, 0, len);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.got_last && rr.data_ok && rr.crcs_ok);
    assert_int_equal(rr.end, len);
}

static void test_delete_blocks(void **state) {
    struct fixture *f = *state;
    uint8_t data[2000];
    fill_data(data, sizeof(data), 9);
    uint64_t id = 100;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));

    uint64_t ids[2] = {id, 999999}; /* the second does not exist */
    DeleteBlocks del = DELETE_BLOCKS__INIT;
    del.block_ids = ids;
    del.n_block_ids = 2;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_DELETE_BLOCKS;
    msg.delete_blocks = &del;
    inject(f, 0, 1, &msg);
    inject(f, 3, 2, &msg); /* not from the primary: ignored */
    assert_true(run_until(f, gone_from_rank1, &id, 1000));
    run_for(f, 20);
    assert_int_equal(replica_files(f, 2, id, "finalized"), 2);
    assert_int_equal(replica_files(f, 3, id, "finalized"), 2);
    /* The primary hears of the one deletion done, from rank 1 alone. */
    assert_int_equal(f->nincrementals, 1);
    assert_int_equal(f->incrementals[0].source, 1);
    assert_int_equal(f->incrementals[0].nreceived, 0);
    assert_int_equal(f->incrementals[0].ndeleted, 1);
    assert_int_equal(f->incrementals[0].deleted_ids[0], id);
    /* Deleting it again deletes nothing, and confirms nothing. */
    inject(f, 0, 1, &msg);
    run_for(f, 20);
    assert_int_equal(f->nincrementals, 1);

    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 10);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);

    /* Not a datanode message: ignored, the datanode unharmed. */
    Heartbeat hb = HEARTBEAT__INIT;
    RankMessage other = RANK_MESSAGE__INIT;
    other.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    other.heartbeat = &hb;
    datanode_on_rank_message(f->dn[1], 0, &other);
    assert_int_equal(f->unexpected, 0);
}

static int two_reports(struct fixture *f, const void *arg) {
    (void)arg;
    return f->nreports >= 2;
}

static void test_block_report(void **state) {
    struct fixture *f = *state;
    uint8_t data[3][1500];
    uint64_t ids[3] = {111, 222, 333};
    for (int i = 0; i < 3; i++) {
        fill_data(data[i], sizeof(data[i]), 10 + i);
        write_spec ws = write_spec_for(f, 1, ids[i], data[i], 500 * (size_t)(i + 1));
        ws.n_downstream = 0; /* rank 1 alone */
        write_ok(f, &ws);
    }
    datanode_send_block_report(f->dn[1]);
    datanode_send_block_report(f->dn[3]); /* an empty store */
    assert_true(run_until(f, two_reports, NULL, 1000));
    assert_int_equal(f->nreports, 2);
    for (int k = 0; k < 2; k++) {
        const report_record *rep = &f->reports[k];
        assert_int_equal(rep->seq, 0);
        assert_true(rep->last);
        if (rep->source == 3) {
            assert_int_equal(rep->n, 0);
            continue;
        }
        assert_int_equal(rep->source, 1);
        assert_int_equal(rep->n, 3);
        int found = 0;
        for (size_t j = 0; j < rep->n; j++)
            for (int i = 0; i < 3; i++)
                if (rep->ids[j] == ids[i]) {
                    assert_int_equal(rep->gss[j], 1000 + ids[i]);
                    assert_int_equal(rep->lens[j], 500 * (i + 1));
                    found |= 1 << i;
                }
        assert_int_equal(found, 7);
    }
}

static void test_read_edges(void **state) {
    struct fixture *f = *state;
    uint8_t data[1300];
    fill_data(data, sizeof(data), 20);
    uint64_t id = 120;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    ws.n_downstream = 0;
    write_ok(f, &ws);
    read_result rr;

    /* Inside the partial last chunk: one packet from 512 to the end. */
    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 1000, 10000);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_int_equal(rr.npackets, 1);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.first_offset, 512);
    assert_int_equal(rr.end, 1300);

    /* Zero bytes: one empty last packet. */
    rs = read_spec_for(f, 1, id, data, sizeof(data), 700, 0);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_int_equal(rr.npackets, 1);
    assert_true(rr.got_last && rr.eof);
    assert_int_equal(rr.end, rr.first_offset);

    /* Past the end, another gen stamp, no such block. */
    rs = read_spec_for(f, 1, id, data, sizeof(data), 1301, 10);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_EINVAL);
    rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 10);
    rs.gen_stamp = 5;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);
    rs = read_spec_for(f, 1, 4242, data, sizeof(data), 0, 10);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);

    /* The same block id again: refused. */
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EEXIST);
}

/* A client may shut its side once it has sent everything. */
static void test_half_close(void **state) {
    struct fixture *f = *state;
    const size_t len = 3 * PACKET + 100;
    uint8_t *data = malloc(len);
    fill_data(data, len, 40);
    uint64_t id = 140;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.half_close = 1;
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    read_spec rs = read_spec_for(f, 3, id, data, len, 70000, 100000);
    rs.half_close = 1;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.first_offset, 69632);
    assert_int_equal(rr.end, 170496);
    free(data);
}

/* A read bigger than the output queue's bound: the rest goes out as the
 * socket drains. */
static void test_large_read(void **state) {
    struct fixture *f = *state;
    const size_t len = 6 * 1024 * 1024 + 333;
    uint8_t *data = malloc(len);
    fill_data(data, len, 60);
    uint64_t id = 150;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.n_downstream = 0;
    ws.window = 16;
    write_ok(f, &ws);
    read_spec rs = read_spec_for(f, 1, id, data, len, 0, len);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.npackets, 97);
    assert_int_equal(rr.end, len);
    free(data);
}

static void test_storage(void **state) {
    struct fixture *f = *state;
    disk_usage du;
    datanode_storage(f->dn[1], &du);
    assert_int_equal(du.dirs, 1);
    assert_int_equal(du.failed_dirs, 0);
    assert_int_equal(du.used_bytes, 0);
    assert_true(du.capacity_bytes > 0);
    assert_true(du.remaining_bytes <= du.capacity_bytes);
    uint8_t data[4096];
    fill_data(data, sizeof(data), 30);
    write_spec ws = write_spec_for(f, 1, 130, data, sizeof(data));
    ws.n_downstream = 0;
    write_ok(f, &ws);
    datanode_storage(f->dn[1], &du);
    assert_int_equal(du.used_bytes, 4096 + 16 + 4 * 8); /* data + meta */
}

/* ---- block recovery and append ------------------------------------------------------ */

static int recovery_infos(struct fixture *f, const void *arg) {
    return f->nrecoveries >= *(const int *)arg;
}

static int received_at_least(struct fixture *f, const void *arg) {
    return f->nreceived >= *(const int *)arg;
}

/* The recovery info rank sent last about id, or NULL. */
static const recovery_record *recovery_from(struct fixture *f, int rank, uint64_t id) {
    for (int i = f->nrecoveries; i-- > 0;)
        if (f->recoveries[i].source == rank && f->recoveries[i].block_id == id)
            return &f->recoveries[i];
    return NULL;
}

/* A client writes three packets through ranks 1, 2, 3 and then waits.
 * An InitReplicaRecovery from a rank other than the primary changes
 * nothing; from the primary it stops the write on every node (the client
 * gets a failed ack naming the recovery, no BlockReceived), and each node
 * answers with the three packets' bytes.  UpdateReplica then finalizes
 * every replica mid-chunk under the recovery id, which a reader sees; a
 * repeated UpdateReplica is answered again, one of another length not at
 * all. */
static void test_recovery_stops_write(void **state) {
    struct fixture *f = *state;
    /* A long I/O timeout: the write must be stopped by the recovery, not
     * by the client's silence. */
    f->io_timeout_ms = 3000;
    for (int r = 1; r <= NODES; r++)
        restart_node(f, r);
    const size_t len = 5 * PACKET, written = 3 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 90);
    uint64_t id = 300, rid = 5000;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.stall_after = 3;
    write_result res;
    child_proc child = child_start(child_write, &ws, &res, sizeof(res));
    int64_t deadline = clock_monotonic_ms() + 3000;
    while (rbw_data_size(f, 3, id) != (long long)written && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(rbw_data_size(f, 3, id), written);

    inject_init_recovery(f, 3, 1, id, rid); /* not the primary: ignored */
    run_for(f, 50);
    assert_int_equal(f->nrecoveries, 0);
    assert_int_equal(reported_rbw(f, 1, id, 1000 + id), -1); /* still being written */

    for (int r = 1; r <= NODES; r++)
        inject_init_recovery(f, 0, r, id, rid);
    int three = NODES;
    assert_true(run_until(f, recovery_infos, &three, 2000));
    for (int r = 1; r <= NODES; r++) {
        const recovery_record *ri = recovery_from(f, r, id);
        assert_non_null(ri);
        assert_int_equal(ri->recovery_id, rid);
        assert_true(ri->found);
        assert_false(ri->finalized);
        assert_int_equal(ri->gen_stamp, 1000 + id);
        assert_int_equal(ri->length, written);
    }
    child_finish(f, &child, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.npackets, 3);
    assert_int_equal(res.nacks, 3);
    assert_true(res.acks_ok);
    assert_true(res.failed);
    assert_non_null(strstr(res.failed_message, "block recovery 5000"));
    assert_true(res.eof);
    run_for(f, 50);
    assert_int_equal(received_count(f, id), 0);
    for (int r = 1; r <= NODES; r++)
        assert_int_equal(reported_rbw(f, r, id, 1000 + id), written);

    /* The primary settles on a length inside a chunk. */
    const uint64_t cut = written - 1000;
    for (int r = 1; r <= NODES; r++)
        inject_update_replica(f, 0, r, id, rid, cut);
    assert_true(run_until(f, received_at_least, &three, 2000));
    for (int i = 0; i < f->nreceived; i++) {
        assert_int_equal(f->received[i].block_id, id);
        assert_int_equal(f->received[i].gen_stamp, rid);
        assert_int_equal(f->received[i].length, cut);
    }
    for (int r = 1; r <= NODES; r++) {
        assert_int_equal(replica_files(f, r, id, "finalized"), 2);
        assert_int_equal(replica_files(f, r, id, "rbw"), 0);
        assert_int_equal(reported_rbw(f, r, id, 1000 + id), -1);
    }
    read_spec rs = read_spec_for(f, 2, id, data, cut, 0, UINT64_MAX);
    rs.gen_stamp = rid;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.end, cut);
    rs.gen_stamp = 1000 + id; /* the old gen stamp is gone */
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);

    /* Again: answered again.  Another length, or a replica of a newer gen
     * stamp than the recovery id: nothing. */
    inject_update_replica(f, 0, 1, id, rid, cut);
    int four = NODES + 1;
    assert_true(run_until(f, received_at_least, &four, 2000));
    inject_update_replica(f, 0, 1, id, rid, cut - 1);
    inject_update_replica(f, 0, 1, id, rid - 1, cut);
    inject_update_replica(f, 2, 3, id, rid + 1, cut); /* not the primary */
    run_for(f, 50);
    assert_int_equal(f->nreceived, NODES + 1);

    /* A later recovery of the finalized replica finds it; one with an
     * older id does not qualify. */
    inject_init_recovery(f, 0, 2, id, rid + 10);
    inject_init_recovery(f, 0, 3, id, rid - 10);
    int five = NODES + 2;
    assert_true(run_until(f, recovery_infos, &five, 2000));
    const recovery_record *ri = recovery_from(f, 2, id);
    assert_true(ri->found && ri->finalized);
    assert_int_equal(ri->gen_stamp, rid);
    assert_int_equal(ri->length, cut);
    ri = recovery_from(f, 3, id);
    assert_false(ri->found);
    /* ... and UpdateReplica at the same length renames it. */
    inject_update_replica(f, 0, 2, id, rid + 10, cut);
    int five_received = NODES + 2;
    assert_true(run_until(f, received_at_least, &five_received, 2000));
    assert_int_equal(f->received[NODES + 1].gen_stamp, rid + 10);
    rs.gen_stamp = rid + 10;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.data_ok && rr.crcs_ok && rr.got_last);
    assert_int_equal(rr.end, cut);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* A node with no replica of the block says so. */
static void test_recovery_nothing_here(void **state) {
    struct fixture *f = *state;
    inject_init_recovery(f, 0, 2, 4242, 77);
    int one = 1;
    assert_true(run_until(f, recovery_infos, &one, 1000));
    const recovery_record *ri = recovery_from(f, 2, 4242);
    assert_non_null(ri);
    assert_int_equal(ri->recovery_id, 77);
    assert_false(ri->found);
    assert_int_equal(ri->length, 0);
    inject_update_replica(f, 0, 2, 4242, 77, 0); /* nothing to finalize */
    run_for(f, 50);
    assert_int_equal(f->nreceived, 0);
    assert_int_equal(f->unexpected, 0);
}

/* An append through ranks 1 and 2 to the finalized replica they hold,
 * starting mid-chunk: both end with BlockReceived at the new gen stamp
 * and the total length, and the whole replica reads back.  An append
 * naming the wrong old gen stamp is refused; one whose downstream lacks
 * the replica fails there, and rank 1 keeps its reopened replica in rbw/
 * under the new gen stamp. */
static void test_append(void **state) {
    struct fixture *f = *state;
    const size_t first = 1000, more = 70000, total = first + more;
    uint8_t *data = malloc(total);
    fill_data(data, total, 91);
    uint64_t id = 310, gs = 1000 + id, new_gs = 2000;
    write_spec ws = write_spec_for(f, 1, id, data, first);
    ws.downstream[0] = 2;
    ws.n_downstream = 1;
    write_ok(f, &ws);
    int two = 2;
    assert_true(run_until(f, received_at_least, &two, 1000));

    write_spec as = write_spec_for(f, 1, id, data + first, more);
    as.downstream[0] = 2;
    as.n_downstream = 1;
    as.gen_stamp = new_gs;
    as.append_gen_stamp = gs;
    as.offset = first;
    write_ok(f, &as); /* two packets, both starting mid-chunk */
    int four = 4;
    assert_true(run_until(f, received_at_least, &four, 1000));
    int seen = 0;
    for (int i = 2; i < 4; i++) {
        assert_int_equal(f->received[i].block_id, id);
        assert_int_equal(f->received[i].gen_stamp, new_gs);
        assert_int_equal(f->received[i].length, total);
        seen |= 1 << f->received[i].source;
    }
    assert_int_equal(seen, 0x6);
    for (int r = 1; r <= 2; r++) {
        read_spec rs = read_spec_for(f, r, id, data, total, 0, UINT64_MAX);
        rs.gen_stamp = new_gs;
        read_result rr;
        run_child(f, child_read, &rs, &rr, sizeof(rr));
        assert_int_equal(rr.error_code, 0);
        assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
        assert_int_equal(rr.end, total);
        assert_int_equal(replica_files(f, r, id, "finalized"), 2);
        assert_int_equal(replica_files(f, r, id, "rbw"), 0);
    }

    /* The old gen stamp is not the replica's any more. */
    write_result res;
    as.gen_stamp = 3000;
    run_child(f, child_write, &as, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ENOENT);
    assert_non_null(strstr(res.error_message, "no finalized replica"));
    assert_int_equal(res.nacks, 0);
    assert_int_equal(f->nreceived, 4);

    /* Rank 3 has no replica: it refuses the append's first packet (the
     * client waits for its ack before sending the second). */
    as = write_spec_for(f, 1, id, data, 600);
    as.downstream[0] = 3;
    as.n_downstream = 1;
    as.gen_stamp = 3000;
    as.append_gen_stamp = new_gs;
    as.offset = total;
    as.packet_size = 512;
    as.window = 1;
    run_child(f, child_write, &as, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 3);
    assert_int_equal(res.nacks, 0);
    assert_int_equal(res.npackets, 1);
    assert_int_equal(wait_rbw(f, 1, id, 3000, 1000), total + 512);
    assert_int_equal(replica_files(f, 1, id, "finalized"), 0);
    assert_int_equal(replica_files(f, 3, id, "rbw") + replica_files(f, 3, id, "finalized"), 0);
    assert_int_equal(f->nreceived, 4);
    free(data);
}

/* Block reports list the replicas waiting for recovery, not those being
 * written. */
static void test_block_report_rbw(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 92);
    write_spec ws = write_spec_for(f, 1, 400, data, 1500);
    ws.n_downstream = 0;
    write_ok(f, &ws); /* finalized */
    ws = write_spec_for(f, 1, 401, data, sizeof(data));
    ws.n_downstream = 0;
    ws.packet_size = 1024;
    ws.close_after = 2; /* 2048 bytes, then gone */
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    /* A write in progress on rank 1 (three of its packets so far). */
    f->io_timeout_ms = 3000;
    restart_node(f, 1);
    ws = write_spec_for(f, 1, 402, data, sizeof(data));
    ws.n_downstream = 0;
    ws.packet_size = 512;
    ws.stall_after = 3;
    child_proc child = child_start(child_write, &ws, &res, sizeof(res));
    int64_t deadline = clock_monotonic_ms() + 3000;
    while (rbw_data_size(f, 1, 402) != 1536 && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(rbw_data_size(f, 1, 402), 1536);

    f->nreports = 0;
    datanode_send_block_report(f->dn[1]);
    int none = 0;
    assert_true(run_until(f, more_reports, &none, 1000));
    assert_int_equal(f->nreports, 1);
    const report_record *rep = &f->reports[0];
    assert_int_equal(rep->source, 1);
    assert_true(rep->last);
    assert_int_equal(rep->n, 1);
    assert_int_equal(rep->ids[0], 400);
    assert_int_equal(rep->lens[0], 1500);
    assert_int_equal(rep->nrbw, 1);
    assert_int_equal(rep->rbw_ids[0], 401);
    assert_int_equal(rep->rbw_gss[0], 1000 + 401);
    assert_int_equal(rep->rbw_lens[0], 2048);

    /* The stalled write ends (its replica then reported too). */
    inject_init_recovery(f, 0, 1, 402, 9000);
    child_finish(f, &child, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(reported_rbw(f, 1, 402, 1000 + 402), 1536);
    assert_int_equal(reported_rbw(f, 1, 401, 1000 + 401), 2048);
}

/* The BlockReceived rank sent about (id, gs), or NULL. */
static const received_record *received_from(struct fixture *f, int rank, uint64_t id,
                                            uint64_t gs) {
    for (int i = 0; i < f->nreceived; i++)
        if (f->received[i].source == rank && f->received[i].block_id == id &&
            f->received[i].gen_stamp == gs)
            return &f->received[i];
    return NULL;
}

/* rank's finalized replica of id reads back as data[0, len) at gs. */
static void expect_replica(struct fixture *f, int rank, uint64_t id, uint64_t gs,
                           const uint8_t *data, size_t len) {
    read_spec rs = read_spec_for(f, rank, id, data, len, 0, UINT64_MAX);
    rs.gen_stamp = gs;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.end, len);
}

/* A write to ranks 1, 2, 3 whose connection broke after two packets left
 * an rbw replica on each.  The client, with 70000 bytes acknowledged
 * (mid-chunk), recovers through ranks 1 and 3 (2 "failed") under a new
 * gen stamp -- over TCP to rank 1, over MPI to rank 3 -- and sends the
 * rest: both cut their rbw replica and finalize the whole block under the
 * new stamp, rank 2 keeps its old one.
 * Refused: a recovery length beyond the replica, a gen stamp range the
 * replica is not in (over TCP: a DataError; over MPI: a failed ack naming
 * the node that refused). */
static void test_pipeline_recovery_rbw(void **state) {
    struct fixture *f = *state;
    const size_t total = 200000, acked = 70000, written = 2 * PACKET;
    uint8_t *data = malloc(total);
    fill_data(data, total, 93);
    uint64_t id = 320, gs = 1000 + id, new_gs = 2000;
    write_spec ws = write_spec_for(f, 1, id, data, total);
    ws.close_after = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    for (int r = 1; r <= NODES; r++)
        assert_int_equal(wait_rbw(f, r, id, gs, 2000), written);

    write_spec rs = write_spec_for(f, 1, id, data + acked, total - acked);
    rs.downstream[0] = 3;
    rs.n_downstream = 1;
    rs.gen_stamp = new_gs;
    rs.recovery_gen_stamp = gs;
    rs.recovery_length = acked;
    rs.offset = acked;
    write_ok(f, &rs);
    int two = 2;
    assert_true(run_until(f, received_at_least, &two, 1000));
    for (int r = 1; r <= NODES; r += 2) {
        const received_record *rr = received_from(f, r, id, new_gs);
        assert_non_null(rr);
        assert_int_equal(rr->length, total);
        expect_replica(f, r, id, new_gs, data, total);
        assert_int_equal(replica_files(f, r, id, "rbw"), 0);
    }
    assert_int_equal(f->nreceived, 2);
    assert_int_equal(reported_rbw(f, 2, id, gs), written);

    /* Rank 2 holds 131072 bytes at gs: not 131073, not from gs + 1 on. */
    rs = write_spec_for(f, 2, id, data, 1000);
    rs.n_downstream = 0;
    rs.gen_stamp = 3000;
    rs.recovery_gen_stamp = gs;
    rs.recovery_length = written + 1;
    rs.offset = written + 1;
    run_child(f, child_write, &rs, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ESTATE);
    assert_non_null(strstr(res.error_message, "fewer than the 131073 acknowledged bytes"));
    rs.recovery_gen_stamp = gs + 1;
    rs.recovery_length = rs.offset = written;
    run_child(f, child_write, &rs, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ENOENT);
    assert_non_null(strstr(res.error_message, "no replica on rank 2 with a gen stamp"));
    assert_int_equal(reported_rbw(f, 2, id, gs), written);

    /* Over MPI: rank 1 recovers from new_gs on, rank 2's replica is older.
     * The client waits for the first packet's ack before the second. */
    rs = write_spec_for(f, 1, id, data + total - 1000, 1000);
    rs.downstream[0] = 2;
    rs.n_downstream = 1;
    rs.gen_stamp = 4000;
    rs.recovery_gen_stamp = new_gs;
    rs.recovery_length = rs.offset = total - 1000;
    rs.packet_size = 512;
    rs.window = 1;
    run_child(f, child_write, &rs, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 2);
    assert_int_equal(res.nacks, 0);
    assert_int_equal(res.npackets, 1);
    /* Cut, then its first packet written before it was forwarded. */
    assert_int_equal(wait_rbw(f, 1, id, 4000, 1000), total - 1000 + 512);
    assert_int_equal(reported_rbw(f, 2, id, gs), written);
    assert_int_equal(f->nreceived, 2);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* The last packet reached every node but its acks were lost: the
 * finalized replicas on ranks 2 and 3 are reopened under a new gen stamp,
 * cut to the acknowledged length mid-chunk, and finalized again with the
 * rest; rank 1's stays at the old stamp.  Then a recovery that meets a
 * write still running under the old stamp on ranks 2 and 3: it is
 * stopped (the old client gets a failed ack from rank 1), and the failed
 * ack rank 3's old pipeline sends to rank 2 does not fail rank 2's new
 * one, which has the same block but a newer gen stamp. */
static void test_pipeline_recovery_finalized(void **state) {
    struct fixture *f = *state;
    const size_t total = 150000, acked = 100000;
    uint8_t *data = malloc(total);
    fill_data(data, total, 94);
    uint64_t id = 330, gs = 1000 + id, new_gs = 2000;
    write_spec ws = write_spec_for(f, 1, id, data, total);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    write_spec rs = write_spec_for(f, 2, id, data + acked, total - acked);
    rs.downstream[0] = 3;
    rs.n_downstream = 1;
    rs.gen_stamp = new_gs;
    rs.recovery_gen_stamp = gs;
    rs.recovery_length = rs.offset = acked;
    write_ok(f, &rs);
    int five = NODES + 2;
    assert_true(run_until(f, received_at_least, &five, 1000));
    for (int r = 2; r <= NODES; r++) {
        const received_record *rr = received_from(f, r, id, new_gs);
        assert_non_null(rr);
        assert_int_equal(rr->length, total);
        expect_replica(f, r, id, new_gs, data, total);
        assert_int_equal(replica_files(f, r, id, "rbw"), 0);
    }
    expect_replica(f, 1, id, gs, data, total);

    /* A write stalled after three packets on ranks 1, 2, 3 (a long I/O
     * timeout: only the recovery stops it). */
    f->io_timeout_ms = 3000;
    for (int r = 1; r <= NODES; r++)
        restart_node(f, r);
    f->nreceived = 0;
    id = 331;
    gs = 1000 + id;
    ws = write_spec_for(f, 1, id, data, 8192);
    ws.packet_size = 1024;
    ws.stall_after = 3;
    write_result stalled;
    child_proc child = child_start(child_write, &ws, &stalled, sizeof(stalled));
    int64_t deadline = clock_monotonic_ms() + 3000;
    while (rbw_data_size(f, 3, id) != 3072 && clock_monotonic_ms() < deadline)
        event_loop_run_once(f->loop, 10);
    assert_int_equal(rbw_data_size(f, 3, id), 3072);
    rs = write_spec_for(f, 2, id, data + 3072, 8192 - 3072);
    rs.downstream[0] = 3;
    rs.n_downstream = 1;
    rs.gen_stamp = new_gs;
    rs.recovery_gen_stamp = gs;
    rs.recovery_length = rs.offset = 3072;
    write_ok(f, &rs);
    child_finish(f, &child, &stalled, sizeof(stalled));
    assert_int_equal(stalled.nacks, 3);
    assert_true(stalled.failed);
    assert_non_null(strstr(stalled.failed_message, "rank 2 reports packet 3 failed"));
    int two = 2;
    assert_true(run_until(f, received_at_least, &two, 1000));
    for (int r = 2; r <= NODES; r++) {
        const received_record *rr = received_from(f, r, id, new_gs);
        assert_non_null(rr);
        assert_int_equal(rr->length, 8192);
        expect_replica(f, r, id, new_gs, data, 8192);
    }
    assert_int_equal(f->nreceived, 2);
    assert_int_equal(wait_rbw(f, 1, id, gs, 1000), 3072);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* A block nobody acknowledged a byte of, on nodes that never got its
 * first packet: the recovery starts new replicas there. */
static void test_pipeline_recovery_from_nothing(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 95);
    uint64_t id = 340, gs = 1000 + id, new_gs = 2000;
    write_spec rs = write_spec_for(f, 1, id, data, sizeof(data));
    rs.downstream[0] = 2;
    rs.n_downstream = 1;
    rs.gen_stamp = new_gs;
    rs.recovery_gen_stamp = gs;
    write_ok(f, &rs);
    int two = 2;
    assert_true(run_until(f, received_at_least, &two, 1000));
    for (int r = 1; r <= 2; r++) {
        assert_non_null(received_from(f, r, id, new_gs));
        expect_replica(f, r, id, new_gs, data, sizeof(data));
    }
    /* With bytes acknowledged, no replica is no recovery. */
    rs = write_spec_for(f, 3, id + 1, data + 512, sizeof(data) - 512);
    rs.n_downstream = 0;
    rs.gen_stamp = new_gs;
    rs.recovery_gen_stamp = gs;
    rs.recovery_length = rs.offset = 512;
    write_result res;
    run_child(f, child_write, &rs, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ENOENT);
    assert_int_equal(replica_files(f, 3, id + 1, "rbw") + replica_files(f, 3, id + 1, "finalized"),
                     0);
    assert_int_equal(f->unexpected, 0);
}

/* Copies rank from's finalized replica of id (gen stamp gs) into rank
 * to's finalized/, behind to's datanode's back. */
static void copy_replica(struct fixture *f, int from, int to, uint64_t id, uint64_t gs) {
    for (int meta = 0; meta <= 1; meta++) {
        char a[256], b[256];
        const char *fmt =
            meta ? "%s/current/finalized/blk_%llu_%llu.meta" : "%s/current/finalized/blk_%llu";
        snprintf(a, sizeof(a), fmt, f->dirs[from], (unsigned long long)id, (unsigned long long)gs);
        snprintf(b, sizeof(b), fmt, f->dirs[to], (unsigned long long)id, (unsigned long long)gs);
        FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
        assert_non_null(in);
        assert_non_null(out);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        assert_int_equal(fclose(out), 0);
    }
}

/* Removes rank's finalized replica files of id (gen stamp gs). */
static void remove_replica(struct fixture *f, int rank, uint64_t id, uint64_t gs) {
    char path[256];
    snprintf(path, sizeof(path), "%s/current/finalized/blk_%llu", f->dirs[rank],
             (unsigned long long)id);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/current/finalized/blk_%llu_%llu.meta", f->dirs[rank],
             (unsigned long long)id, (unsigned long long)gs);
    assert_int_equal(unlink(path), 0);
}

static int has_incremental(struct fixture *f, const void *arg) {
    return f->nincrementals > *(const int *)arg;
}

/* The directory scanner: replica files removed, copied in and truncated
 * behind the datanode's back come to the primary as one
 * IncrementalBlockReport (deleted, received) and a bad_replica; reads
 * follow the disk; a second scan has nothing to say.  Before the secret
 * is set nothing is sent, but the index is reconciled (the block report
 * at registration shows it).  With an interval, the timer runs it. */
static void test_directory_scan(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 20);
    uint64_t gone = 140, copied = 141, cut = 142, kept = 143;
    write_spec ws = write_spec_for(f, 1, gone, data, 3000);
    ws.n_downstream = 0;
    write_ok(f, &ws);
    ws = write_spec_for(f, 1, cut, data, 2000);
    ws.n_downstream = 0;
    write_ok(f, &ws);
    ws = write_spec_for(f, 1, kept, data, 1000);
    ws.n_downstream = 0;
    write_ok(f, &ws);
    ws = write_spec_for(f, 2, copied, data, 2500);
    ws.n_downstream = 0;
    write_ok(f, &ws);
    run_for(f, 20);
    datanode_directory_scan(f->dn[1]); /* nothing changed: nothing sent */
    run_for(f, 20);
    assert_int_equal(f->nincrementals, 0);
    assert_int_equal(f->nbad, 0);

    remove_replica(f, 1, gone, 1000 + gone);
    copy_replica(f, 2, 1, copied, 1000 + copied);
    char path[256];
    snprintf(path, sizeof(path), "%s/current/finalized/blk_%llu", f->dirs[1],
             (unsigned long long)cut);
    assert_int_equal(truncate(path, 1000), 0);
    datanode_directory_scan(f->dn[1]);
    run_for(f, 20);
    assert_int_equal(f->nincrementals, 1);
    const incremental_record *rec = &f->incrementals[0];
    assert_int_equal(rec->source, 1);
    assert_int_equal(rec->ndeleted, 1);
    assert_int_equal(rec->deleted_ids[0], gone);
    assert_int_equal(rec->nreceived, 1);
    assert_int_equal(rec->received_ids[0], copied);
    assert_int_equal(rec->received_gss[0], 1000 + copied);
    assert_int_equal(rec->received_lens[0], 2500);
    assert_int_equal(f->nbad, 1);
    assert_int_equal(f->bad[0].source, 1);
    assert_int_equal(f->bad[0].block_id, cut);
    assert_int_equal(f->bad[0].rank, 1);

    read_result rr;
    read_spec rs = read_spec_for(f, 1, copied, data, 2500, 0, 2500);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.got_last && rr.data_ok && rr.crcs_ok);
    rs = read_spec_for(f, 1, gone, data, 3000, 0, 3000);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);
    rs = read_spec_for(f, 1, cut, data, 1000, 0, 1000);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ECORRUPT);

    datanode_directory_scan(f->dn[1]); /* reported already */
    run_for(f, 20);
    assert_int_equal(f->nincrementals, 1);
    assert_int_equal(f->nbad, 1);

    /* Not registered: the index follows the disk, the primary hears
     * nothing until the block report. */
    datanode_set_secret(f->dn[1], NULL);
    remove_replica(f, 1, kept, 1000 + kept);
    datanode_directory_scan(f->dn[1]);
    run_for(f, 20);
    assert_int_equal(f->nincrementals, 1);
    f->nreports = 0;
    datanode_set_secret(f->dn[1], SECRET);
    datanode_send_block_report(f->dn[1]);
    int zero = 0;
    assert_true(run_until(f, more_reports, &zero, 1000));
    assert_int_equal(f->reports[0].n, 2); /* copied and cut, not kept nor gone */
    for (size_t i = 0; i < f->reports[0].n; i++)
        assert_true(f->reports[0].ids[i] == copied || f->reports[0].ids[i] == cut);

    /* A node with a 50 ms interval scans by itself. */
    datanode_destroy(f->dn[3]);
    f->dn[3] = NULL;
    f->dirscan_ms = 50;
    assert_int_equal(start_node(f, 3, 0, 0), 0);
    copy_replica(f, 2, 3, copied, 1000 + copied);
    int before = f->nincrementals;
    assert_true(run_until(f, has_incremental, &before, 2000));
    rec = &f->incrementals[before];
    assert_int_equal(rec->source, 3);
    assert_int_equal(rec->nreceived, 1);
    assert_int_equal(rec->received_ids[0], copied);
    assert_int_equal(f->unexpected, 0);
}

/* Three heartbeat packets after the second data packet, then (another
 * block) before the first: every node forwards them (ranks 2 and 3 get
 * them as PipelinePackets) and acks them in order, marked, each right
 * after the acks of the data sent before it; nothing of them is written
 * (BlockReceived and the replicas have exactly the data), and heartbeats
 * that come first set the pipeline up downstream as a first packet does.
 * A heartbeat at the wrong offset fails the pipeline. */
static void test_heartbeat_packets(void **state) {
    struct fixture *f = *state;
    const size_t len = 3 * PACKET + 1000;
    uint8_t *data = malloc(len);
    fill_data(data, len, 90);
    for (uint64_t id = 180; id <= 181; id++) {
        int before[NODES + 1];
        memcpy(before, f->packets_to, sizeof(before));
        write_spec ws = write_spec_for(f, 1, id, data, len);
        ws.heartbeat_after = id == 180 ? 2 : 0;
        ws.heartbeat_count = 3;
        write_result res;
        run_child(f, child_write, &ws, &res, sizeof(res));
        assert_int_equal(res.rc, 0);
        assert_int_equal(res.error_code, 0);
        assert_false(res.failed);
        assert_int_equal(res.nacks, 4);
        assert_true(res.acks_ok);
        assert_int_equal(res.nheartbeats, 3);
        assert_int_equal(res.nhb_acks, 3);
        assert_true(res.hb_acks_ok);
        assert_true(res.eof);
        assert_true(run_until(f, finalized_everywhere, &id, 1000));
        for (int i = 0; i < f->nreceived; i++)
            if (f->received[i].block_id == id)
                assert_int_equal(f->received[i].length, len);
        for (int r = 2; r <= NODES; r++)
            assert_int_equal(f->packets_to[r] - before[r], 4 + 3);
        for (int r = 1; r <= NODES; r++)
            expect_replica(f, r, id, 1000 + id, data, len);
    }

    uint64_t id = 182;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.heartbeat_after = 1;
    ws.heartbeat_count = 1;
    ws.heartbeat_skew = 512;
    ws.window = 1; /* packet 0 is acked before the heartbeat goes */
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.nacks, 1);
    assert_non_null(strstr(res.failed_message, "heartbeat packet 1 at offset 66048, expected 65536"));
    free(data);
    assert_int_equal(f->unexpected, 0);
}

/* A client idle for four I/O timeouts in the middle of a block, sending a
 * heartbeat every third of the timeout: no node gives up (no DataError,
 * no failed ack) and the block is whole on all three.  The same pause
 * without heartbeats ends the write with a DataError EMBER_ETIMEDOUT: the
 * pause is long enough to matter. */
static void test_idle_pipeline_heartbeats(void **state) {
    struct fixture *f = *state;
    const size_t len = 2 * PACKET + 300;
    uint8_t *data = malloc(len);
    fill_data(data, len, 91);
    uint64_t id = 185;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.heartbeat_after = 1;
    ws.heartbeat_count = 12;
    ws.heartbeat_gap_ms = IO_TIMEOUT_MS / 3;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.error_code, 0);
    assert_false(res.failed);
    assert_int_equal(res.nacks, 3);
    assert_true(res.acks_ok);
    assert_int_equal(res.nhb_acks, 12);
    assert_true(res.hb_acks_ok);
    assert_true(res.elapsed_ms >= 4 * IO_TIMEOUT_MS);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    for (int r = 1; r <= NODES; r++)
        expect_replica(f, r, id, 1000 + id, data, len);

    id = 186;
    ws = write_spec_for(f, 1, id, data, len);
    ws.heartbeat_after = 1;
    ws.heartbeat_count = 1;
    ws.heartbeat_gap_ms = 4 * IO_TIMEOUT_MS;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ETIMEDOUT);
    assert_int_equal(res.nacks, 1);
    assert_int_equal(received_count(f, id), 0);
    free(data);
}

/* A packet marked sync (hsync) has every node of the pipeline fsync the
 * replica's rbw data and meta files, once; a write without it fsyncs
 * neither (the nodes do not sync on close), so the syncs are the flag's. */
static void test_hsync(void **state) {
    struct fixture *f = *state;
    const size_t len = 3 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 92);
    uint64_t id = 190;
    fsync_reset();
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.sync_seqno = 1;
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    for (int r = 1; r <= NODES; r++) {
        assert_int_equal(rbw_fsyncs(f, r, id, 0), 1);
        assert_int_equal(rbw_fsyncs(f, r, id, 1), 1);
        expect_replica(f, r, id, 1000 + id, data, len);
    }

    id = 191;
    fsync_reset();
    ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    for (int r = 1; r <= NODES; r++) {
        assert_int_equal(rbw_fsyncs(f, r, id, 0), 0);
        assert_int_equal(rbw_fsyncs(f, r, id, 1), 0);
    }
    free(data);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_write_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_first_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_crc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downstream_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downstream_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unaligned_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_closes_mid_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_stops_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_nothing_here, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_report_rbw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_recovery_rbw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_recovery_finalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_recovery_from_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_pipeline_heartbeats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hsync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
