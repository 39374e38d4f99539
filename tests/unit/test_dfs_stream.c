/* test_dfs_stream.c -- unit tests for the writer of client/dfs_stream.c:
 * pipeline recovery, the renewer thread's heartbeats and lease renewals,
 * hsync.
 *
 * The datanodes are those of datanode_fixture.h (ranks 1..3 in this
 * process on one event loop, a fake rank transport); the namenode is a
 * fake one on the same loop: a TCP listener named by a cluster.json in a
 * run directory of the test's, which answers the gateway's challenge and
 * the writer's requests (CreateRequest, AddBlockRequest: blocks 500, 501,
 * ... on the configured pipeline minus the ranks the request excludes,
 * UpdateBlockForPipelineRequest: gen stamp + 100 and the request's
 * pipeline minus a rank held dead, CompleteRequest,
 * RenewLeaseRequest), signing write tokens with the fixture's secret, and
 * records what it was asked; for the renewer's tests its create answer
 * carries a socket timeout (heartbeats) and a lease renewal interval.
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

#include <poll.h>

#include "common/run_dir.h"
#include "ember/dfs.h"

#define STREAM_BLOCK (4 * PACKET) /* the file's block size: four packets */
#define FAKE_MAX_BLOCKS 8

/* ---- the fake namenode --------------------------------------------------------------- */

typedef struct {
    struct fixture *f;
    char run_dir[128];
    int listen_fd;
    int fd; /* the client's connection, -1: none */
    frame_reader *reader;
    int authed;
    int pipeline[NODES]; /* ranks add_block gives, minus the excluded */
    int npipeline;
    int refuse_update; /* answer UpdateBlockForPipelineRequest with an error */
    int dead;          /* a rank its answer leaves out of the writer's pipeline (0: none) */
    uint64_t id_base;  /* the first block id handed out (500) */
    uint64_t ids[FAKE_MAX_BLOCKS], gss[FAKE_MAX_BLOCKS];
    int nblocks;
    int add_blocks, updates, completes;
    int64_t socket_timeout_ms; /* the create answer's (0: none, no heartbeats) */
    int64_t lease_renew_ms;    /* the create answer's (0: none, no renewals) */
    int renews;                /* RenewLeaseRequests */
    int renews_after_complete; /* ... that came after a CompleteRequest */
    uint32_t excluded[64]; /* what the last AddBlockRequest excluded */
    size_t nexcluded;
    uint64_t complete_length; /* CompleteRequest's last block and its length */
    uint64_t complete_block;
} fake_nn;

static void fake_nn_send(fake_nn *nn, const ClientMessage *msg) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_client(msg, 1, FRAME_MAX_DEFAULT, &buf, &len), 0);
    assert_int_equal(socket_write_all(nn->fd, buf, len, clock_monotonic_ms() + 2000), 0);
    free(buf);
}

static void fake_error(fake_nn *nn, int code, const char *text) {
    ErrorResponse e = ERROR_RESPONSE__INIT;
    e.code = code;
    e.message = (char *)text;
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_ERROR;
    m.error = &e;
    fake_nn_send(nn, &m);
}

/* A DfsResult with a file status of the stream's block size and,
 * with lb, one located block; for_write adds the create answer's socket
 * timeout and lease renewal interval. */
static void fake_result_of(fake_nn *nn, LocatedBlock *lb, int for_write) {
    FileStatus st = FILE_STATUS__INIT;
    st.path = "/f";
    st.replication = NODES;
    st.block_size = STREAM_BLOCK;
    st.owner = st.group = "";
    DfsResult res = DFS_RESULT__INIT;
    res.status = &st;
    if (for_write) {
        res.socket_timeout_ms = nn->socket_timeout_ms;
        res.lease_renew_ms = nn->lease_renew_ms;
    }
    LocatedBlock *lbs[1] = {lb};
    res.n_blocks = lb != NULL;
    res.blocks = lbs;
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    m.dfs_result = &res;
    fake_nn_send(nn, &m);
}

static void fake_result(fake_nn *nn, LocatedBlock *lb) { fake_result_of(nn, lb, 0); }

static void fake_add_block(fake_nn *nn, const AddBlockRequest *r) {
    nn->add_blocks++;
    nn->nexcluded = r->n_exclude < 64 ? r->n_exclude : 64;
    for (size_t k = 0; k < nn->nexcluded; k++)
        nn->excluded[k] = r->exclude[k];
    assert_true(nn->nblocks < FAKE_MAX_BLOCKS);
    uint64_t id = nn->id_base + (uint64_t)nn->nblocks, gs = 1000 + id;
    nn->ids[nn->nblocks] = id;
    nn->gss[nn->nblocks++] = gs;
    DatanodeLocation locs[NODES], *ptrs[NODES];
    size_t n = 0;
    for (int i = 0; i < nn->npipeline; i++) {
        int rank = nn->pipeline[i], excluded = 0;
        for (size_t k = 0; k < nn->nexcluded; k++)
            excluded |= nn->excluded[k] == (uint32_t)rank;
        if (excluded)
            continue;
        locs[n] = (DatanodeLocation)DATANODE_LOCATION__INIT;
        locs[n].rank = (uint32_t)rank;
        locs[n].host = "127.0.0.1";
        locs[n].port = (uint32_t)datanode_port(nn->f->dn[rank]);
        ptrs[n] = &locs[n];
        n++;
    }
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, id, gs, &good_write);
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    lb.block_id = id;
    lb.gen_stamp = gs;
    lb.n_locations = n;
    lb.locations = ptrs;
    lb.token = &token;
    fake_result(nn, &lb);
}

static void fake_update(fake_nn *nn, const UpdateBlockForPipelineRequest *r) {
    nn->updates++;
    if (nn->refuse_update) {
        fake_error(nn, EMBER_ESTATE, "No lease on /f: lease recovery is in progress");
        return;
    }
    assert_true(nn->nblocks > 0);
    assert_int_equal(r->block_id, nn->ids[nn->nblocks - 1]);
    assert_string_equal(r->path, "/f");
    uint64_t gs = nn->gss[nn->nblocks - 1] += 100;
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, r->block_id, gs, &good_write);
    /* The writer's nodes that are live: all but nn->dead and the destroyed. */
    DatanodeLocation locs[NODES], *ptrs[NODES];
    size_t n = 0;
    for (size_t i = 0; i < r->n_pipeline && n < NODES; i++) {
        if ((int)r->pipeline[i] == nn->dead || r->pipeline[i] > NODES ||
            nn->f->dn[r->pipeline[i]] == NULL)
            continue;
        locs[n] = (DatanodeLocation)DATANODE_LOCATION__INIT;
        locs[n].rank = r->pipeline[i];
        locs[n].host = "127.0.0.1";
        locs[n].port = (uint32_t)datanode_port(nn->f->dn[r->pipeline[i]]);
        ptrs[n] = &locs[n];
        n++;
    }
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    lb.block_id = r->block_id;
    lb.gen_stamp = gs;
    lb.token = &token;
    lb.n_locations = n;
    lb.locations = ptrs;
    fake_result(nn, &lb);
}

/* One request from the client (after the challenge). */
static void fake_request(fake_nn *nn, ClientMessage *req) {
    switch (req->body_case) {
    case CLIENT_MESSAGE__BODY_CREATE: fake_result_of(nn, NULL, 1); break;
    case CLIENT_MESSAGE__BODY_ADD_BLOCK: fake_add_block(nn, req->add_block); break;
    case CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE:
        fake_update(nn, req->update_block_for_pipeline);
        break;
    case CLIENT_MESSAGE__BODY_COMPLETE:
        nn->completes++;
        nn->complete_block = req->complete->last_block_id;
        nn->complete_length = req->complete->last_length;
        fake_result(nn, NULL);
        break;
    case CLIENT_MESSAGE__BODY_RENEW_LEASE:
        nn->renews++;
        nn->renews_after_complete += nn->completes > 0;
        fake_result(nn, NULL);
        break;
    default: fake_error(nn, EMBER_EPROTO, "the fake namenode does not serve this"); break;
    }
}

static void fake_on_conn(event_loop *loop, int fd, int revents, void *arg) {
    fake_nn *nn = arg;
    (void)revents;
    int rc = frame_reader_fill(nn->reader, fd);
    const uint8_t *payload;
    size_t len;
    while (frame_reader_next(nn->reader, &payload, &len) == 1) {
        ClientMessage *msg;
        assert_int_equal(message_decode_client(payload, len, &msg), 0);
        if (!nn->authed) {
            assert_int_equal(msg->body_case, CLIENT_MESSAGE__BODY_AUTH_RESPONSE);
            AuthResult ok = AUTH_RESULT__INIT;
            ok.ok = 1;
            ClientMessage m = CLIENT_MESSAGE__INIT;
            m.body_case = CLIENT_MESSAGE__BODY_AUTH_RESULT;
            m.auth_result = &ok;
            fake_nn_send(nn, &m);
            nn->authed = 1;
        } else {
            fake_request(nn, msg);
        }
        client_message__free_unpacked(msg, NULL);
    }
    if (rc == EMBER_ECLOSED || rc == EMBER_EIO) {
        event_loop_remove_fd(loop, fd);
        close(fd);
        nn->fd = -1;
        frame_reader_destroy(nn->reader);
        nn->reader = NULL;
    }
}

static void fake_on_accept(event_loop *loop, int fd, int revents, void *arg) {
    fake_nn *nn = arg;
    (void)revents;
    int cfd;
    char peer[64];
    if (socket_accept(fd, &cfd, peer, sizeof(peer)) != EMBER_OK)
        return;
    assert_int_equal(nn->fd, -1); /* one client at a time */
    nn->fd = cfd;
    nn->authed = 0;
    assert_int_equal(frame_reader_create(&nn->reader, FRAME_MAX_DEFAULT), 0);
    assert_int_equal(event_loop_add_fd(loop, cfd, POLLIN, fake_on_conn, nn), 0);
    AuthChallenge ch = AUTH_CHALLENGE__INIT;
    uint8_t nonce[32] = {0};
    ch.nonce.data = nonce;
    ch.nonce.len = sizeof(nonce);
    ch.cluster_id = "CID-test";
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    m.auth_challenge = &ch;
    fake_nn_send(nn, &m);
}

/* Starts the fake namenode on f's loop, its cluster.json in f->tmp/run,
 * handing out pipelines of the given ranks. */
static fake_nn *fake_start(struct fixture *f, const int *pipeline, int n) {
    fake_nn *nn = calloc(1, sizeof(*nn));
    assert_non_null(nn);
    nn->f = f;
    nn->fd = -1;
    nn->id_base = 500;
    memcpy(nn->pipeline, pipeline, (size_t)n * sizeof(int));
    nn->npipeline = n;
    snprintf(nn->run_dir, sizeof(nn->run_dir), "%s/run", f->tmp);
    assert_int_equal(run_dir_prepare(nn->run_dir), 0);
    int port;
    assert_int_equal(socket_listen_tcp("127.0.0.1", 0, &nn->listen_fd, &port), 0);
    assert_int_equal(event_loop_add_fd(f->loop, nn->listen_fd, POLLIN, fake_on_accept, nn), 0);
    cluster_info info = {.port = port, .world_size = NODES + 1, .primary_pid = getpid()};
    snprintf(info.cluster_id, sizeof(info.cluster_id), "CID-test");
    snprintf(info.host, sizeof(info.host), "127.0.0.1");
    snprintf(info.secret, sizeof(info.secret), "%s", SECRET);
    assert_int_equal(run_dir_write_info(nn->run_dir, &info), 0);
    return nn;
}

static void fake_stop(fake_nn *nn) {
    if (nn->fd >= 0) {
        event_loop_remove_fd(nn->f->loop, nn->fd);
        close(nn->fd);
    }
    frame_reader_destroy(nn->reader);
    event_loop_remove_fd(nn->f->loop, nn->listen_fd);
    close(nn->listen_fd);
    free(nn);
}

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
