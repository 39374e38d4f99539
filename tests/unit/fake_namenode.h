/* fake_namenode.h -- a fake namenode for the dfs client's tests
 * (test_dfs_stream.c, test_dfs_remote.c), on the loop of
 * datanode_fixture.h: a TCP listener named by a cluster.json in a run
 * directory of the test's, which answers the gateway's challenge and the
 * client's requests, signing tokens with the fixture's secret, and
 * records what it was asked.  The writer's: CreateRequest,
 * AddBlockRequest (blocks 500, 501, ... on the configured pipeline minus
 * the ranks the request excludes), UpdateBlockForPipelineRequest (gen
 * stamp + 100 and the request's pipeline minus a rank held dead),
 * CompleteRequest, RenewLeaseRequest; the reader's:
 * GetBlockLocationsRequest (the file the test set with fake_set_file())
 * and ReportBadBlock (recorded).  One client connection at a time.
 * Included after datanode_fixture.h by one test file per executable. */
#ifndef EMBER_FAKE_NAMENODE_H
#define EMBER_FAKE_NAMENODE_H

#include <poll.h>

#include "common/run_dir.h"
#include "ember/dfs.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

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
    uint32_t excluded[64];     /* what the last AddBlockRequest excluded */
    size_t nexcluded;
    uint64_t complete_length; /* CompleteRequest's last block and its length */
    uint64_t complete_block;
    /* the reader's file (fake_set_file()): its length and blocks */
    uint64_t file_length;
    LocatedBlock **file_blocks;
    size_t n_file_blocks;
    uint64_t bad_ids[FAKE_MAX_BLOCKS]; /* ReportBadBlocks: the block and rank named */
    uint32_t bad_ranks[FAKE_MAX_BLOCKS];
    int nbad;
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

/* A DfsResult with a status of file "/f" of the stream's block size and
 * length, and the n located blocks lbs; for_write adds the create
 * answer's socket timeout and lease renewal interval. */
static void fake_result_blocks(fake_nn *nn, LocatedBlock **lbs, size_t n, uint64_t length,
                               int for_write) {
    FileStatus st = FILE_STATUS__INIT;
    st.path = "/f";
    st.length = length;
    st.replication = NODES;
    st.block_size = STREAM_BLOCK;
    st.owner = st.group = "";
    DfsResult res = DFS_RESULT__INIT;
    res.status = &st;
    if (for_write) {
        res.socket_timeout_ms = nn->socket_timeout_ms;
        res.lease_renew_ms = nn->lease_renew_ms;
    }
    res.n_blocks = n;
    res.blocks = lbs;
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    m.dfs_result = &res;
    fake_nn_send(nn, &m);
}

/* ... of length 0, with lb as its one block (NULL: none). */
static void fake_result_of(fake_nn *nn, LocatedBlock *lb, int for_write) {
    LocatedBlock *lbs[1] = {lb};
    fake_result_blocks(nn, lbs, lb != NULL, 0, for_write);
}

static void fake_result(fake_nn *nn, LocatedBlock *lb) { fake_result_of(nn, lb, 0); }

/* The reader's file: length bytes in the n blocks lbs (the caller's,
 * alive while the namenode runs), answered to GetBlockLocationsRequest. */
static void fake_set_file(fake_nn *nn, LocatedBlock **lbs, size_t n, uint64_t length) {
    nn->file_blocks = lbs;
    nn->n_file_blocks = n;
    nn->file_length = length;
}

static void fake_report_bad(fake_nn *nn, const ReportBadBlock *r) {
    assert_true(nn->nbad < FAKE_MAX_BLOCKS);
    nn->bad_ids[nn->nbad] = r->block_id;
    nn->bad_ranks[nn->nbad++] = r->rank;
    fake_result(nn, NULL);
}

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
    case CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS:
        if (nn->file_blocks == NULL)
            fake_error(nn, EMBER_ENOENT, "`/f': No such file or directory");
        else
            fake_result_blocks(nn, nn->file_blocks, nn->n_file_blocks, nn->file_length, 0);
        break;
    case CLIENT_MESSAGE__BODY_REPORT_BAD_BLOCK: fake_report_bad(nn, req->report_bad_block); break;
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

#pragma GCC diagnostic pop

#endif
