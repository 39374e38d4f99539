/* test_message.c -- unit tests for proto/message.c.
 *
 * Every RankMessage and ClientMessage body type goes through
 * message_encode_*() and message_decode_*() and comes back equal.  Decoding
 * must refuse (EMBER_EPROTO with *out NULL) garbage, an envelope without a
 * body or with an unknown one, and every shape the validators promise to
 * catch: missing sub-messages, roles out of range, bad host names, nonces
 * and MACs of the wrong length, non-negative error codes, impossible
 * storage reports.  Also the data path's heartbeat and sync packets
 * (a heartbeat carries nothing, is neither last nor sync; acks say which
 * they acknowledge) and the writer's socket timeout in a DfsResult (never
 * negative).  Also the size cap of the encoders, the frame header of
 * framed encoding and the body names used in logs.  Bad messages are built
 * with the encoders, which do not validate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client.pb-c.h"
#include "cluster.pb-c.h"
#include "common/error.h"
#include "proto/frame.h"
#include "proto/message.h"

/* Decoders must set *out to NULL on failure; out-parameters start here. */
static char sentinel;
#define NOT_NULL(type) ((type *)(void *)&sentinel)

/* A valid RegisterNode and the sub-messages it points to. */
struct register_parts {
    HwlocSummary hwloc;
    StorageReport storage;
    ContainerResources resources;
    RegisterNode reg;
    RankMessage msg;
};

static void make_register(struct register_parts *p) {
    p->hwloc = (HwlocSummary)HWLOC_SUMMARY__INIT;
    p->hwloc.packages = 2;
    p->hwloc.numa_nodes = 4;
    p->hwloc.cores = 16;
    p->hwloc.pus = 32;
    p->hwloc.memory_bytes = UINT64_C(64) << 30;
    p->storage = (StorageReport)STORAGE_REPORT__INIT;
    p->storage.capacity_bytes = UINT64_C(1) << 40;
    p->storage.used_bytes = 12345;
    p->storage.remaining_bytes = UINT64_C(900) << 30;
    p->storage.data_dirs = 3;
    p->storage.failed_dirs = 1;
    p->resources = (ContainerResources)CONTAINER_RESOURCES__INIT;
    p->resources.vcores = 15;
    p->resources.memory_mb = 52428;
    p->resources.units = 16;
    p->resources.reserved_units = 1;
    p->resources.host_units = 32;
    p->resources.share = "16-31";
    p->reg = (RegisterNode)REGISTER_NODE__INIT;
    p->reg.rank = 3;
    p->reg.role = NODE_ROLE__ROLE_CORE;
    p->reg.hostname = "node-3.example.org";
    p->reg.pid = 4242;
    p->reg.hwloc = &p->hwloc;
    p->reg.storage = &p->storage;
    p->reg.resources = &p->resources;
    p->msg = (RankMessage)RANK_MESSAGE__INIT;
    p->msg.body_case = RANK_MESSAGE__BODY_REGISTER_NODE;
    p->msg.register_node = &p->reg;
}

/* Encodes and decodes msg, which must be valid; the caller frees the copy. */
static RankMessage *round_trip_rank(const RankMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_rank(msg, 1 << 20, &buf, &len), 0);
    assert_non_null(buf);
    RankMessage *out = NULL;
    assert_int_equal(message_decode_rank(buf, len, &out), 0);
    assert_non_null(out);
    assert_int_equal(out->body_case, msg->body_case);
    assert_int_equal(message_check_rank(out), 0);
    free(buf);
    return out;
}

static ClientMessage *round_trip_client(const ClientMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_client(msg, 0, 1 << 20, &buf, &len), 0);
    assert_non_null(buf);
    ClientMessage *out = NULL;
    assert_int_equal(message_decode_client(buf, len, &out), 0);
    assert_non_null(out);
    assert_int_equal(out->body_case, msg->body_case);
    assert_int_equal(message_check_client(out), 0);
    free(buf);
    return out;
}

/* Data messages are encoded as frames: the message follows the header. */
static DataMessage *round_trip_data(const DataMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_data(msg, 1 << 20, &buf, &len), 0);
    DataMessage *out = NULL;
    assert_int_equal(message_decode_data(buf + FRAME_HEADER_LEN, len - FRAME_HEADER_LEN, &out), 0);
    assert_non_null(out);
    assert_int_equal(out->body_case, msg->body_case);
    free(buf);
    return out;
}

static void expect_bad_data(const DataMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_data(msg, 1 << 20, &buf, &len), 0);
    DataMessage *out = NOT_NULL(DataMessage);
    assert_int_equal(message_decode_data(buf + FRAME_HEADER_LEN, len - FRAME_HEADER_LEN, &out),
                     EMBER_EPROTO);
    assert_null(out);
    free(buf);
}

/* msg encodes, but decoding it must fail with EMBER_EPROTO and *out NULL. */
static void expect_bad_rank(const RankMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_rank(msg, 1 << 20, &buf, &len), 0);
    RankMessage *out = NOT_NULL(RankMessage);
    assert_int_equal(message_decode_rank(buf, len, &out), EMBER_EPROTO);
    assert_null(out);
    assert_int_equal(message_check_rank(msg), EMBER_EPROTO);
    free(buf);
}

static void expect_bad_client(const ClientMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_client(msg, 0, 1 << 20, &buf, &len), 0);
    ClientMessage *out = NOT_NULL(ClientMessage);
    assert_int_equal(message_decode_client(buf, len, &out), EMBER_EPROTO);
    assert_null(out);
    assert_int_equal(message_check_client(msg), EMBER_EPROTO);
    free(buf);
}

static void test_rank_register_node(void **state) {
    (void)state;
    struct register_parts p;
    make_register(&p);
    RankMessage *out = round_trip_rank(&p.msg);
    const RegisterNode *r = out->register_node;
    assert_int_equal(r->rank, 3);
    assert_int_equal(r->role, NODE_ROLE__ROLE_CORE);
    assert_string_equal(r->hostname, "node-3.example.org");
    assert_int_equal(r->pid, 4242);
    assert_non_null(r->hwloc);
    assert_int_equal(r->hwloc->packages, 2);
    assert_int_equal(r->hwloc->numa_nodes, 4);
    assert_int_equal(r->hwloc->cores, 16);
    assert_int_equal(r->hwloc->pus, 32);
    assert_true(r->hwloc->memory_bytes == UINT64_C(64) << 30);
    assert_non_null(r->storage);
    assert_true(r->storage->capacity_bytes == UINT64_C(1) << 40);
    assert_true(r->storage->used_bytes == 12345);
    assert_true(r->storage->remaining_bytes == UINT64_C(900) << 30);
    assert_int_equal(r->storage->data_dirs, 3);
    assert_int_equal(r->storage->failed_dirs, 1);
    assert_non_null(r->resources);
    assert_int_equal(r->resources->vcores, 15);
    assert_true(r->resources->memory_mb == 52428);
    assert_int_equal(r->resources->units, 16);
    assert_int_equal(r->resources->reserved_units, 1);
    assert_int_equal(r->resources->host_units, 32);
    assert_string_equal(r->resources->share, "16-31");
    assert_int_equal(r->resources->containers, 0);
    rank_message__free_unpacked(out, NULL);

    /* Task role and a 255-character host name (the longest allowed). */
    char host[MESSAGE_NAME_MAX + 1];
    memset(host, 'h', MESSAGE_NAME_MAX);
    host[MESSAGE_NAME_MAX] = '\0';
    p.reg.role = NODE_ROLE__ROLE_TASK;
    p.reg.hostname = host;
    out = round_trip_rank(&p.msg);
    assert_int_equal(out->register_node->role, NODE_ROLE__ROLE_TASK);
    assert_string_equal(out->register_node->hostname, host);
    rank_message__free_unpacked(out, NULL);
}

static void test_rank_register_ack(void **state) {
    (void)state;
    RegisterAck ack = REGISTER_ACK__INIT;
    ack.accepted = 1;
    ack.cluster_id = "ember-1234";
    ack.reason = "";
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REGISTER_ACK;
    msg.register_ack = &ack;
    RankMessage *out = round_trip_rank(&msg);
    assert_true(out->register_ack->accepted);
    assert_string_equal(out->register_ack->cluster_id, "ember-1234");
    assert_string_equal(out->register_ack->reason, "");
    rank_message__free_unpacked(out, NULL);

    ack.accepted = 0;
    ack.cluster_id = "";
    ack.reason = "role mismatch: rank 3 is a task node";
    out = round_trip_rank(&msg);
    assert_false(out->register_ack->accepted);
    assert_string_equal(out->register_ack->reason, "role mismatch: rank 3 is a task node");
    rank_message__free_unpacked(out, NULL);
}

static void test_rank_heartbeat(void **state) {
    (void)state;
    StorageReport storage = STORAGE_REPORT__INIT;
    storage.data_dirs = 2;
    storage.used_bytes = 77;
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    res.vcores = 8;
    res.memory_mb = 4096;
    res.vcores_used = 3;
    res.memory_used_mb = 3072;
    res.containers = 2;
    res.units = 16;
    res.pus_as_vcores = 1;
    Heartbeat hb = HEARTBEAT__INIT;
    hb.rank = 5;
    hb.seq = UINT64_C(1) << 40;
    hb.storage = &storage;
    hb.resources = &res;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    msg.heartbeat = &hb;
    RankMessage *out = round_trip_rank(&msg);
    assert_int_equal(out->heartbeat->rank, 5);
    assert_true(out->heartbeat->seq == UINT64_C(1) << 40);
    assert_int_equal(out->heartbeat->storage->data_dirs, 2);
    assert_true(out->heartbeat->storage->used_bytes == 77);
    assert_int_equal(out->heartbeat->resources->vcores_used, 3);
    assert_true(out->heartbeat->resources->memory_used_mb == 3072);
    assert_int_equal(out->heartbeat->resources->containers, 2);
    assert_true(out->heartbeat->resources->pus_as_vcores);
    rank_message__free_unpacked(out, NULL);
}

static void test_rank_small_bodies(void **state) {
    (void)state;
    HeartbeatAck hack = HEARTBEAT_ACK__INIT;
    hack.seq = 99;
    hack.reregister = 1;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT_ACK;
    msg.heartbeat_ack = &hack;
    RankMessage *out = round_trip_rank(&msg);
    assert_true(out->heartbeat_ack->seq == 99);
    assert_true(out->heartbeat_ack->reregister);
    rank_message__free_unpacked(out, NULL);

    /* An all-default body still arrives as that body. */
    HeartbeatAck empty = HEARTBEAT_ACK__INIT;
    msg.heartbeat_ack = &empty;
    out = round_trip_rank(&msg);
    assert_true(out->heartbeat_ack->seq == 0);
    rank_message__free_unpacked(out, NULL);

    Shutdown sd = SHUTDOWN__INIT;
    sd.exit_code = 3;
    msg = (RankMessage)RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUTDOWN;
    msg.shutdown = &sd;
    out = round_trip_rank(&msg);
    assert_int_equal(out->shutdown->exit_code, 3);
    rank_message__free_unpacked(out, NULL);

    ShutdownAck sack = SHUTDOWN_ACK__INIT;
    sack.rank = 7;
    msg = (RankMessage)RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUTDOWN_ACK;
    msg.shutdown_ack = &sack;
    out = round_trip_rank(&msg);
    assert_int_equal(out->shutdown_ack->rank, 7);
    rank_message__free_unpacked(out, NULL);
}

static void test_client_auth(void **state) {
    (void)state;
    uint8_t nonce[32];
    for (int i = 0; i < 32; i++)
        nonce[i] = (uint8_t)(i * 9 + 1);
    AuthChallenge ch = AUTH_CHALLENGE__INIT;
    ch.nonce.data = nonce;
    ch.nonce.len = sizeof nonce;
    ch.cluster_id = "ember-abc";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    msg.auth_challenge = &ch;
    ClientMessage *out = round_trip_client(&msg);
    assert_int_equal(out->auth_challenge->nonce.len, 32);
    assert_memory_equal(out->auth_challenge->nonce.data, nonce, 32);
    assert_string_equal(out->auth_challenge->cluster_id, "ember-abc");
    client_message__free_unpacked(out, NULL);

    uint8_t mac[32];
    memset(mac, 0xa5, sizeof mac);
    AuthResponse resp = AUTH_RESPONSE__INIT;
    resp.mac.data = mac;
    resp.mac.len = sizeof mac;
    resp.user = "alice";
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    msg.auth_response = &resp;
    out = round_trip_client(&msg);
    assert_int_equal(out->auth_response->mac.len, 32);
    assert_memory_equal(out->auth_response->mac.data, mac, 32);
    assert_string_equal(out->auth_response->user, "alice");
    client_message__free_unpacked(out, NULL);

    resp.user = ""; /* the user name is optional */
    out = round_trip_client(&msg);
    assert_string_equal(out->auth_response->user, "");
    client_message__free_unpacked(out, NULL);

    AuthResult res = AUTH_RESULT__INIT;
    res.ok = 1;
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_RESULT;
    msg.auth_result = &res;
    out = round_trip_client(&msg);
    assert_true(out->auth_result->ok);
    client_message__free_unpacked(out, NULL);
}

static void test_client_error(void **state) {
    (void)state;
    ErrorResponse err = ERROR_RESPONSE__INIT;
    err.code = EMBER_ESTATE;
    err.message = "the cluster is stopping";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_ERROR;
    msg.error = &err;
    ClientMessage *out = round_trip_client(&msg);
    assert_int_equal(out->error->code, EMBER_ESTATE);
    assert_string_equal(out->error->message, "the cluster is stopping");
    client_message__free_unpacked(out, NULL);
}

/* Pipeline recovery's messages: the namenode request (a path needed, a
 * printable holder name) and the new fields of the data path. */
static void test_pipeline_recovery_fields(void **state) {
    (void)state;
    UpdateBlockForPipelineRequest m = UPDATE_BLOCK_FOR_PIPELINE_REQUEST__INIT;
    m.path = "/f._COPYING_";
    m.block_id = 1073741826;
    m.client_name = "DFSClient_NONMAPREDUCE_1_2";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE;
    msg.update_block_for_pipeline = &m;
    ClientMessage *out = round_trip_client(&msg);
    assert_string_equal(out->update_block_for_pipeline->path, "/f._COPYING_");
    assert_int_equal(out->update_block_for_pipeline->block_id, 1073741826);
    client_message__free_unpacked(out, NULL);
    m.path = "";
    expect_bad_client(&msg);
    m.path = "/f";
    m.client_name = "bad\nname";
    expect_bad_client(&msg);
    msg.update_block_for_pipeline = NULL;
    expect_bad_client(&msg);

    PipelineAck ack = PIPELINE_ACK__INIT;
    ack.block_id = 7;
    ack.seqno = 3;
    ack.gen_stamp = 1005;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_ACK;
    rm.pipeline_ack = &ack;
    RankMessage *rout = round_trip_rank(&rm);
    assert_int_equal(rout->pipeline_ack->gen_stamp, 1005);
    rank_message__free_unpacked(rout, NULL);
}

/* IncrementalBlockReport: received entries need a gen stamp and a length
 * each, and each list holds at most MESSAGE_REPORT_MAX entries. */
static void test_incremental_block_report(void **state) {
    (void)state;
    uint64_t ids[2] = {1073741825, 1073741826}, gss[2] = {1001, 1002}, lens[2] = {512, 700};
    uint64_t deleted[1] = {1073741830};
    IncrementalBlockReport ibr = INCREMENTAL_BLOCK_REPORT__INIT;
    ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = 2;
    ibr.received_block_ids = ids;
    ibr.received_gen_stamps = gss;
    ibr.received_lengths = lens;
    ibr.n_deleted_block_ids = 1;
    ibr.deleted_block_ids = deleted;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT;
    msg.incremental_block_report = &ibr;
    RankMessage *out = round_trip_rank(&msg);
    const IncrementalBlockReport *o = out->incremental_block_report;
    assert_int_equal(o->n_received_block_ids, 2);
    assert_int_equal(o->received_block_ids[1], 1073741826);
    assert_int_equal(o->received_gen_stamps[1], 1002);
    assert_int_equal(o->received_lengths[1], 700);
    assert_int_equal(o->n_deleted_block_ids, 1);
    assert_int_equal(o->deleted_block_ids[0], 1073741830);
    rank_message__free_unpacked(out, NULL);
    assert_string_equal(message_rank_name(&msg), "incremental_block_report");

    /* Deletions alone, and an empty report, are fine. */
    ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = 0;
    rank_message__free_unpacked(round_trip_rank(&msg), NULL);
    ibr.n_deleted_block_ids = 0;
    rank_message__free_unpacked(round_trip_rank(&msg), NULL);

    /* A received id without its gen stamp or its length. */
    ibr.n_received_block_ids = ibr.n_received_lengths = 2;
    ibr.n_received_gen_stamps = 1;
    expect_bad_rank(&msg);
    ibr.n_received_gen_stamps = 2;
    ibr.n_received_lengths = 1;
    expect_bad_rank(&msg);
    ibr.n_received_lengths = 2;
    rank_message__free_unpacked(round_trip_rank(&msg), NULL);

    /* Too many deleted ids, too many received ones. */
    size_t over = MESSAGE_REPORT_MAX + 1;
    uint64_t *many = calloc(over, sizeof(uint64_t));
    assert_non_null(many);
    ibr.n_deleted_block_ids = over;
    ibr.deleted_block_ids = many;
    expect_bad_rank(&msg);
    ibr.n_deleted_block_ids = MESSAGE_REPORT_MAX;
    rank_message__free_unpacked(round_trip_rank(&msg), NULL);
    ibr.n_deleted_block_ids = 0;
    ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = over;
    ibr.received_block_ids = ibr.received_gen_stamps = ibr.received_lengths = many;
    expect_bad_rank(&msg);
    free(many);

    msg.incremental_block_report = NULL;
    expect_bad_rank(&msg);
}

/* dfsadmin -recommission is DecommissionRequest.recommission; fsck asks
 * for corrupt replicas (include_corrupt) and gets them flagged. */
static void test_decommission_and_corrupt_fields(void **state) {
    (void)state;
    DecommissionRequest dc = DECOMMISSION_REQUEST__INIT;
    dc.rank = 3;
    dc.recommission = 1;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_DECOMMISSION;
    msg.decommission = &dc;
    ClientMessage *out = round_trip_client(&msg);
    assert_int_equal(out->decommission->rank, 3);
    assert_true(out->decommission->recommission);
    client_message__free_unpacked(out, NULL);
    msg.decommission = NULL;
    expect_bad_client(&msg);

    GetBlockLocationsRequest gl = GET_BLOCK_LOCATIONS_REQUEST__INIT;
    gl.path = "/in.bin";
    gl.length = UINT64_MAX;
    gl.include_corrupt = 1;
    msg.body_case = CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS;
    msg.get_block_locations = &gl;
    out = round_trip_client(&msg);
    assert_true(out->get_block_locations->include_corrupt);
    client_message__free_unpacked(out, NULL);
    gl.path = "";
    expect_bad_client(&msg);

    DatanodeLocation good = DATANODE_LOCATION__INIT, bad = DATANODE_LOCATION__INIT;
    good.rank = 1;
    good.host = "127.0.0.1";
    good.port = 40001;
    bad = good;
    bad.rank = 2;
    bad.corrupt = 1;
    DatanodeLocation *locs[2] = {&good, &bad};
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    lb.block_id = 1073741825;
    lb.gen_stamp = 1001;
    lb.length = 512;
    lb.n_locations = 2;
    lb.locations = locs;
    lb.corrupt = 1;
    LocatedBlock *lbs[1] = {&lb};
    DfsResult res = DFS_RESULT__INIT;
    res.n_blocks = 1;
    res.blocks = lbs;
    msg.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    msg.dfs_result = &res;
    out = round_trip_client(&msg);
    assert_true(out->dfs_result->blocks[0]->corrupt);
    assert_false(out->dfs_result->blocks[0]->locations[0]->corrupt);
    assert_true(out->dfs_result->blocks[0]->locations[1]->corrupt);
    client_message__free_unpacked(out, NULL);
    bad.port = 0; /* a flagged location is checked like any other */
    expect_bad_client(&msg);
}

/* Heartbeat packets (empty, not last, not sync) and their acks, sync
 * packets, over TCP and forwarded over MPI; the writer's socket timeout
 * in the create answer. */
static void test_heartbeat_and_sync(void **state) {
    (void)state;
    Packet hb = PACKET__INIT;
    hb.seqno = 5;
    hb.offset = 327680;
    hb.heartbeat = 1;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_PACKET;
    dm.packet = &hb;
    DataMessage *out = round_trip_data(&dm);
    assert_true(out->packet->heartbeat);
    assert_false(out->packet->sync);
    assert_int_equal(out->packet->seqno, 5);
    assert_int_equal(out->packet->offset, 327680);
    data_message__free_unpacked(out, NULL);
    PipelinePacket pp = PIPELINE_PACKET__INIT;
    pp.block_id = 1073741825;
    pp.gen_stamp = 1001;
    pp.packet = &hb;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_PACKET;
    rm.pipeline_packet = &pp;
    RankMessage *rout = round_trip_rank(&rm);
    assert_true(rout->pipeline_packet->packet->heartbeat);
    rank_message__free_unpacked(rout, NULL);

    /* A heartbeat with data, with last or with sync is malformed. */
    uint8_t byte = 'x';
    uint32_t crc = 0x12345678;
    hb.data.data = &byte;
    hb.data.len = 1;
    hb.n_crcs = 1;
    hb.crcs = &crc;
    expect_bad_data(&dm);
    expect_bad_rank(&rm);
    hb.data.len = 0;
    hb.n_crcs = 0;
    hb.last = 1;
    expect_bad_data(&dm);
    hb.last = 0;
    hb.sync = 1;
    expect_bad_data(&dm);
    expect_bad_rank(&rm);

    /* A sync packet carries data (or none), last or not. */
    hb.heartbeat = 0;
    hb.data.len = 1;
    hb.n_crcs = 1;
    out = round_trip_data(&dm);
    assert_true(out->packet->sync);
    assert_false(out->packet->heartbeat);
    data_message__free_unpacked(out, NULL);
    hb.data.len = 0;
    hb.n_crcs = 0;
    hb.last = 1;
    out = round_trip_data(&dm);
    assert_true(out->packet->sync && out->packet->last);
    data_message__free_unpacked(out, NULL);

    PacketAck ack = PACKET_ACK__INIT;
    ack.seqno = 5;
    ack.ok = 1;
    ack.heartbeat = 1;
    ack.message = "";
    dm.body_case = DATA_MESSAGE__BODY_ACK;
    dm.ack = &ack;
    out = round_trip_data(&dm);
    assert_true(out->ack->heartbeat && out->ack->ok);
    data_message__free_unpacked(out, NULL);
    PipelineAck pack = PIPELINE_ACK__INIT;
    pack.block_id = 1073741825;
    pack.seqno = 5;
    pack.ok = 1;
    pack.heartbeat = 1;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_ACK;
    rm.pipeline_ack = &pack;
    rout = round_trip_rank(&rm);
    assert_true(rout->pipeline_ack->heartbeat);
    rank_message__free_unpacked(rout, NULL);

    DfsResult res = DFS_RESULT__INIT;
    res.lease_renew_ms = 30000;
    res.socket_timeout_ms = 60000;
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    cm.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    cm.dfs_result = &res;
    ClientMessage *cout = round_trip_client(&cm);
    assert_int_equal(cout->dfs_result->socket_timeout_ms, 60000);
    client_message__free_unpacked(cout, NULL);
    res.socket_timeout_ms = -1;
    expect_bad_client(&cm);
    res.socket_timeout_ms = 0;
    res.lease_renew_ms = -5;
    expect_bad_client(&cm);
}

static void test_client_report(void **state) {
    (void)state;
    ReportRequest req = REPORT_REQUEST__INIT;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_REPORT_REQUEST;
    msg.report_request = &req;
    ClientMessage *out = round_trip_client(&msg);
    assert_non_null(out->report_request);
    client_message__free_unpacked(out, NULL);

    HwlocSummary hw = HWLOC_SUMMARY__INIT;
    hw.cores = 8;
    StorageReport st = STORAGE_REPORT__INIT;
    st.data_dirs = 1;
    ContainerResources none = CONTAINER_RESOURCES__INIT;
    ContainerResources offer = CONTAINER_RESOURCES__INIT;
    offer.vcores = 7;
    offer.memory_mb = 6553;
    offer.units = 8;
    offer.reserved_units = 1;
    NodeReport primary = NODE_REPORT__INIT;
    primary.rank = 0;
    primary.role = NODE_ROLE__ROLE_PRIMARY;
    primary.hostname = "head";
    primary.live = 1;
    primary.hwloc = &hw;
    primary.storage = &st;
    primary.resources = &none;
    primary.state = "RUNNING";
    NodeReport n1 = primary, n2 = primary;
    n1.rank = 1;
    n1.role = NODE_ROLE__ROLE_CORE;
    n1.hostname = "worker-1";
    n1.last_contact_ms = INT64_C(1790000000000);
    n1.registered_ms = INT64_C(1789999990000);
    n1.resources = &offer;
    n2.rank = 2;
    n2.role = NODE_ROLE__ROLE_TASK;
    n2.hostname = ""; /* a rank that never registered has no host name yet */
    n2.live = 0;
    n2.state = "NEW";
    NodeReport *nodes[] = {&n1, &n2};
    ReportResponse resp = REPORT_RESPONSE__INIT;
    resp.n_nodes = 2;
    resp.nodes = nodes;
    resp.primary = &primary;
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_REPORT_RESPONSE;
    msg.report_response = &resp;
    out = round_trip_client(&msg);
    const ReportResponse *r = out->report_response;
    assert_int_equal(r->n_nodes, 2);
    assert_string_equal(r->primary->hostname, "head");
    assert_int_equal(r->primary->role, NODE_ROLE__ROLE_PRIMARY);
    assert_int_equal(r->nodes[0]->rank, 1);
    assert_int_equal(r->nodes[0]->role, NODE_ROLE__ROLE_CORE);
    assert_string_equal(r->nodes[0]->hostname, "worker-1");
    assert_true(r->nodes[0]->live);
    assert_int_equal(r->nodes[0]->hwloc->cores, 8);
    assert_true(r->nodes[0]->last_contact_ms == INT64_C(1790000000000));
    assert_true(r->nodes[0]->registered_ms == INT64_C(1789999990000));
    assert_int_equal(r->nodes[1]->rank, 2);
    assert_int_equal(r->nodes[1]->role, NODE_ROLE__ROLE_TASK);
    assert_false(r->nodes[1]->live);
    assert_string_equal(r->nodes[0]->state, "RUNNING");
    assert_string_equal(r->nodes[1]->state, "NEW");
    assert_int_equal(r->nodes[0]->resources->vcores, 7);
    assert_true(r->nodes[0]->resources->memory_mb == 6553);
    assert_int_equal(r->nodes[0]->resources->reserved_units, 1);
    assert_int_equal(r->primary->resources->vcores, 0);
    client_message__free_unpacked(out, NULL);

    /* A node report without the worker's figures, or with more taken than
     * offered, is refused. */
    msg.report_response = &resp;
    n1.resources = NULL;
    expect_bad_client(&msg);
    offer.vcores_used = 8;
    offer.containers = 1;
    n1.resources = &offer;
    expect_bad_client(&msg);
}

static void test_client_status_and_stop(void **state) {
    (void)state;
    StatusRequest sreq = STATUS_REQUEST__INIT;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STATUS_REQUEST;
    msg.status_request = &sreq;
    ClientMessage *out = round_trip_client(&msg);
    client_message__free_unpacked(out, NULL);

    StatusResponse sr = STATUS_RESPONSE__INIT;
    sr.cluster_id = "ember-xyz";
    sr.started_ms = INT64_C(1790000000000);
    sr.now_ms = INT64_C(1790000005000);
    sr.state = "running";
    sr.world_size = 6;
    sr.core_live = 2;
    sr.core_dead = 1;
    sr.task_live = 1;
    sr.task_dead = 0;
    sr.not_registered = 1;
    sr.primary_host = "head";
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STATUS_RESPONSE;
    msg.status_response = &sr;
    out = round_trip_client(&msg);
    const StatusResponse *s = out->status_response;
    assert_string_equal(s->cluster_id, "ember-xyz");
    assert_true(s->started_ms == INT64_C(1790000000000));
    assert_true(s->now_ms == INT64_C(1790000005000));
    assert_string_equal(s->state, "running");
    assert_int_equal(s->world_size, 6);
    assert_int_equal(s->core_live, 2);
    assert_int_equal(s->core_dead, 1);
    assert_int_equal(s->task_live, 1);
    assert_int_equal(s->task_dead, 0);
    assert_int_equal(s->not_registered, 1);
    assert_string_equal(s->primary_host, "head");
    client_message__free_unpacked(out, NULL);

    StopRequest stop = STOP_REQUEST__INIT;
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STOP_REQUEST;
    msg.stop_request = &stop;
    out = round_trip_client(&msg);
    client_message__free_unpacked(out, NULL);

    StopResponse sresp = STOP_RESPONSE__INIT;
    sresp.exit_code = 3;
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STOP_RESPONSE;
    msg.stop_response = &sresp;
    out = round_trip_client(&msg);
    assert_int_equal(out->stop_response->exit_code, 3);
    client_message__free_unpacked(out, NULL);
}

static void test_garbage(void **state) {
    (void)state;
    static const uint8_t overlong[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t truncated[] = {0x0a, 0x05, 0x01}; /* field 1, 5 bytes announced, 1 sent */
    static const uint8_t unknown_body[] = {0x3a, 0x00};    /* field 7: no such body (yet) */
    static const uint8_t empty[1] = {0};
    struct {
        const uint8_t *data;
        size_t len;
    } cases[] = {
        {overlong, sizeof overlong},
        {truncated, sizeof truncated},
        {unknown_body, sizeof unknown_body},
        {empty, 0}, /* a valid envelope with no body */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RankMessage *rm = NOT_NULL(RankMessage);
        assert_int_equal(message_decode_rank(cases[i].data, cases[i].len, &rm), EMBER_EPROTO);
        assert_null(rm);
        ClientMessage *cm = NOT_NULL(ClientMessage);
        /* field 7 is a status_request on the client side: skip it there */
        if (cases[i].data == unknown_body)
            continue;
        assert_int_equal(message_decode_client(cases[i].data, cases[i].len, &cm), EMBER_EPROTO);
        assert_null(cm);
    }
    static const uint8_t client_unknown[] = {0x5a, 0x00}; /* field 11 */
    ClientMessage *cm = NOT_NULL(ClientMessage);
    assert_int_equal(message_decode_client(client_unknown, sizeof client_unknown, &cm), EMBER_EPROTO);
    assert_null(cm);
}

static void test_no_body(void **state) {
    (void)state;
    RankMessage rm = RANK_MESSAGE__INIT;
    expect_bad_rank(&rm);
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    expect_bad_client(&cm);
}

static void test_bad_register(void **state) {
    (void)state;
    struct register_parts p;

    make_register(&p);
    p.reg.hwloc = NULL;
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.storage = NULL;
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.role = NODE_ROLE__ROLE_UNKNOWN; /* 0 */
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.role = (NodeRole)7;
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.role = (NodeRole)-1;
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.hostname = "node\x01three";
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.hostname = "node\nthree";
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.hostname = "n\x7f"; /* DEL */
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.hostname = "n\xc3\xa9"; /* valid UTF-8, but not printable ASCII */
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.reg.hostname = ""; /* a registering node must name its host */
    expect_bad_rank(&p.msg);

    char host[301];
    memset(host, 'a', 300);
    host[300] = '\0';
    make_register(&p);
    p.reg.hostname = host;
    expect_bad_rank(&p.msg);
    host[MESSAGE_NAME_MAX + 1] = '\0'; /* 256: one over */
    expect_bad_rank(&p.msg);

    make_register(&p);
    p.storage.data_dirs = 2;
    p.storage.failed_dirs = 3;
    expect_bad_rank(&p.msg);

    /* A worker's figures: present, and never more taken than offered. */
    make_register(&p);
    p.reg.resources = NULL;
    expect_bad_rank(&p.msg);
    make_register(&p);
    p.resources.vcores_used = 16; /* of 15 */
    p.resources.containers = 1;
    expect_bad_rank(&p.msg);
    make_register(&p);
    p.resources.memory_used_mb = 52429;
    p.resources.vcores_used = 1;
    p.resources.containers = 1;
    expect_bad_rank(&p.msg);
    make_register(&p);
    p.resources.reserved_units = 17; /* of 16 */
    expect_bad_rank(&p.msg);
    make_register(&p);
    p.resources.host_units = 8; /* a share of 16 units on a host of 8 */
    expect_bad_rank(&p.msg);
    make_register(&p);
    p.resources.share = "16-31\n";
    expect_bad_rank(&p.msg);

    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REGISTER_NODE;
    msg.register_node = NULL;
    assert_int_equal(message_check_rank(&msg), EMBER_EPROTO);
}

static void test_bad_heartbeat(void **state) {
    (void)state;
    StorageReport storage = STORAGE_REPORT__INIT;
    storage.data_dirs = 1;
    storage.failed_dirs = 2;
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    res.vcores = 4;
    res.memory_mb = 1000;
    Heartbeat hb = HEARTBEAT__INIT;
    hb.rank = 1;
    hb.storage = &storage;
    hb.resources = &res;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    msg.heartbeat = &hb;
    expect_bad_rank(&msg);
    hb.storage = NULL;
    expect_bad_rank(&msg);
    storage.failed_dirs = 1; /* all failed is possible */
    hb.storage = &storage;
    RankMessage *out = round_trip_rank(&msg);
    rank_message__free_unpacked(out, NULL);
    hb.resources = NULL; /* every heartbeat carries the worker's figures */
    expect_bad_rank(&msg);
    hb.resources = &res;
    res.vcores_used = 5; /* of 4 */
    res.containers = 1;
    expect_bad_rank(&msg);
    res.vcores_used = 4; /* all of them is possible */
    out = round_trip_rank(&msg);
    rank_message__free_unpacked(out, NULL);
}

static void test_bad_auth(void **state) {
    (void)state;
    uint8_t bytes[64] = {0};
    AuthChallenge ch = AUTH_CHALLENGE__INIT;
    ch.nonce.data = bytes;
    ch.nonce.len = 31;
    ch.cluster_id = "ember-abc";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    msg.auth_challenge = &ch;
    expect_bad_client(&msg);
    ch.nonce.len = 33;
    expect_bad_client(&msg);
    ch.nonce.len = 0;
    expect_bad_client(&msg);
    ch.nonce.len = 32;
    ch.cluster_id = ""; /* the challenge names its cluster */
    expect_bad_client(&msg);

    AuthResponse resp = AUTH_RESPONSE__INIT;
    resp.mac.data = bytes;
    resp.mac.len = 33;
    resp.user = "alice";
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    msg.auth_response = &resp;
    expect_bad_client(&msg);
    resp.mac.len = 31;
    expect_bad_client(&msg);
    resp.mac.len = 32;
    resp.user = "al\tice";
    expect_bad_client(&msg);
}

static void test_bad_error_response(void **state) {
    (void)state;
    ErrorResponse err = ERROR_RESPONSE__INIT;
    err.message = "x";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_ERROR;
    msg.error = &err;
    err.code = 0;
    expect_bad_client(&msg);
    err.code = 1;
    expect_bad_client(&msg);
    err.code = INT32_MAX;
    expect_bad_client(&msg);
    err.code = -1;
    ClientMessage *out = round_trip_client(&msg);
    client_message__free_unpacked(out, NULL);

    char *long_text = malloc(MESSAGE_TEXT_MAX + 2);
    assert_non_null(long_text);
    memset(long_text, 'x', MESSAGE_TEXT_MAX + 1);
    long_text[MESSAGE_TEXT_MAX + 1] = '\0';
    err.message = long_text;
    expect_bad_client(&msg);
    long_text[MESSAGE_TEXT_MAX] = '\0'; /* exactly the maximum */
    out = round_trip_client(&msg);
    client_message__free_unpacked(out, NULL);
    free(long_text);
}

static void test_bad_report_and_status(void **state) {
    (void)state;
    HwlocSummary hw = HWLOC_SUMMARY__INIT;
    StorageReport st = STORAGE_REPORT__INIT;
    NodeReport primary = NODE_REPORT__INIT;
    primary.role = NODE_ROLE__ROLE_PRIMARY;
    primary.hostname = "head";
    primary.hwloc = &hw;
    primary.storage = &st;
    NodeReport node = primary;
    node.rank = 1;
    node.role = NODE_ROLE__ROLE_UNKNOWN;
    NodeReport *nodes[] = {&node};
    ReportResponse resp = REPORT_RESPONSE__INIT;
    resp.primary = &primary;
    resp.n_nodes = 1;
    resp.nodes = nodes;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_REPORT_RESPONSE;
    msg.report_response = &resp;
    expect_bad_client(&msg); /* a node with role 0 */
    node.role = NODE_ROLE__ROLE_CORE;
    node.hwloc = NULL;
    expect_bad_client(&msg);
    node.hwloc = &hw;
    resp.primary = NULL;
    expect_bad_client(&msg);

    StatusResponse sr = STATUS_RESPONSE__INIT;
    sr.cluster_id = "ember-xyz";
    sr.state = "";
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STATUS_RESPONSE;
    msg.status_response = &sr;
    expect_bad_client(&msg);
}

static void test_encode_too_big(void **state) {
    (void)state;
    struct register_parts p;
    make_register(&p);
    size_t n = rank_message__get_packed_size(&p.msg);
    assert_true(n > 10);
    uint8_t *buf = NOT_NULL(uint8_t);
    size_t len = 12345;
    assert_int_equal(message_encode_rank(&p.msg, n - 1, &buf, &len), EMBER_ETOOBIG);
    assert_ptr_equal(buf, NOT_NULL(uint8_t)); /* untouched */
    assert_int_equal(len, 12345);
    assert_int_equal(message_encode_rank(&p.msg, 0, &buf, &len), EMBER_ETOOBIG);
    assert_int_equal(message_encode_rank(&p.msg, n, &buf, &len), 0); /* exactly fits */
    assert_int_equal(len, n);
    free(buf);

    ErrorResponse err = ERROR_RESPONSE__INIT;
    err.code = -3;
    err.message = "a message long enough to matter";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_ERROR;
    msg.error = &err;
    n = client_message__get_packed_size(&msg);
    assert_int_equal(message_encode_client(&msg, 0, n - 1, &buf, &len), EMBER_ETOOBIG);
    assert_int_equal(message_encode_client(&msg, 1, 8, &buf, &len), EMBER_ETOOBIG);
    assert_int_equal(message_encode_client(&msg, 0, n, &buf, &len), 0);
    assert_int_equal(len, n);
    free(buf);
}

static void test_encode_framed(void **state) {
    (void)state;
    StopResponse sresp = STOP_RESPONSE__INIT;
    sresp.exit_code = 2;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STOP_RESPONSE;
    msg.stop_response = &sresp;
    size_t n = client_message__get_packed_size(&msg);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_client(&msg, 1, 1 << 20, &buf, &len), 0);
    assert_int_equal(len, FRAME_HEADER_LEN + n);
    assert_int_equal(buf[0], (n >> 24) & 0xff);
    assert_int_equal(buf[1], (n >> 16) & 0xff);
    assert_int_equal(buf[2], (n >> 8) & 0xff);
    assert_int_equal(buf[3], n & 0xff);
    ClientMessage *out = NULL;
    assert_int_equal(message_decode_client(buf + FRAME_HEADER_LEN, len - FRAME_HEADER_LEN, &out), 0);
    assert_int_equal(out->body_case, CLIENT_MESSAGE__BODY_STOP_RESPONSE);
    assert_int_equal(out->stop_response->exit_code, 2);
    client_message__free_unpacked(out, NULL);
    free(buf);

    /* A payload over 255 bytes sets more than the low header byte. */
    char text[1000];
    memset(text, 'e', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    ErrorResponse err = ERROR_RESPONSE__INIT;
    err.code = -1;
    err.message = text;
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_ERROR;
    msg.error = &err;
    n = client_message__get_packed_size(&msg);
    assert_true(n > 255);
    assert_int_equal(message_encode_client(&msg, 1, 1 << 20, &buf, &len), 0);
    assert_int_equal(len, FRAME_HEADER_LEN + n);
    uint32_t announced = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    assert_int_equal(announced, n);
    free(buf);
}

static void test_names(void **state) {
    (void)state;
    Heartbeat hb = HEARTBEAT__INIT;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    rm.heartbeat = &hb;
    assert_string_equal(message_rank_name(&rm), "heartbeat");
    rm.body_case = RANK_MESSAGE__BODY_REGISTER_NODE;
    assert_string_equal(message_rank_name(&rm), "register_node");
    rm.body_case = RANK_MESSAGE__BODY_SHUTDOWN_ACK;
    assert_string_equal(message_rank_name(&rm), "shutdown_ack");
    rm.body_case = RANK_MESSAGE__BODY__NOT_SET;
    assert_string_equal(message_rank_name(&rm), "unknown");

    ReportRequest req = REPORT_REQUEST__INIT;
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    cm.body_case = CLIENT_MESSAGE__BODY_REPORT_REQUEST;
    cm.report_request = &req;
    assert_string_equal(message_client_name(&cm), "report_request");
    cm.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    assert_string_equal(message_client_name(&cm), "auth_challenge");
    cm.body_case = CLIENT_MESSAGE__BODY_ERROR;
    assert_string_equal(message_client_name(&cm), "error");
    cm.body_case = CLIENT_MESSAGE__BODY__NOT_SET;
    assert_string_equal(message_client_name(&cm), "unknown");
}

/* why for msg, encoded and refused by message_decode_client(). */
static void explain(const ClientMessage *msg, char *why, size_t len) {
    uint8_t *buf = NULL;
    size_t n = 0;
    assert_int_equal(message_encode_client(msg, 0, 1 << 20, &buf, &n), 0);
    ClientMessage *out;
    assert_int_equal(message_decode_client(buf, n, &out), EMBER_EPROTO);
    message_explain_client(buf, n, why, len);
    free(buf);
}

/* User and group names: 1..63 printable ASCII characters; what is wrong
 * with one is said in words that never echo the name. */
static void test_user_names(void **state) {
    (void)state;
    char why[160], name[80];
    assert_int_equal(message_user_problem("user name", "alice", 0, why, sizeof(why)), 0);
    assert_int_equal(message_user_problem("user name", "", 1, why, sizeof(why)), 0);
    assert_int_equal(message_user_problem("user name", "", 0, why, sizeof(why)), EMBER_EINVAL);
    assert_string_equal(why, "the user name is empty");
    memset(name, 'a', 63);
    name[63] = '\0';
    assert_int_equal(message_user_problem("user name", name, 0, NULL, 0), 0);
    name[63] = 'a';
    name[64] = '\0';
    assert_int_equal(message_user_problem("user name", name, 0, why, sizeof(why)), EMBER_EINVAL);
    assert_string_equal(why, "the user name is 64 bytes long: at most 63 printable ASCII "
                             "characters");
    assert_int_equal(message_user_problem("user", "al\nice", 0, why, sizeof(why)), EMBER_EINVAL);
    assert_non_null(strstr(why, "a control character (byte 0x0a at offset 2)"));
    assert_null(strchr(why, '\n'));
    assert_int_equal(message_user_problem("user", "al\xffice", 0, why, sizeof(why)), EMBER_EINVAL);
    assert_non_null(strstr(why, "a byte outside ASCII (byte 0xff at offset 2)"));
    assert_int_equal(message_user_problem("user", "jos\xc3\xa9", 0, NULL, 0), EMBER_EINVAL);
    assert_int_equal(message_user_problem("user", "del\x7f", 0, why, sizeof(why)), EMBER_EINVAL);
    assert_non_null(strstr(why, "a control character (byte 0x7f at offset 3)"));

    /* The gateway's explanation of a refused AuthResponse or SetOwner. */
    uint8_t mac[32] = {0};
    AuthResponse ar = AUTH_RESPONSE__INIT;
    ar.mac.data = mac;
    ar.mac.len = sizeof(mac);
    ar.user = "bob\r";
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    msg.auth_response = &ar;
    explain(&msg, why, sizeof(why));
    assert_string_equal(why, "the user name has a control character (byte 0x0d at offset 3): "
                             "only printable ASCII is allowed");
    ar.user = "bob";
    ar.group = name; /* 64 bytes */
    explain(&msg, why, sizeof(why));
    assert_non_null(strstr(why, "the group name is 64 bytes long"));
    ar.group = "";
    ar.mac.len = 31; /* not a name: no more said */
    explain(&msg, why, sizeof(why));
    assert_string_equal(why, "malformed message");
    SetOwnerRequest so = SET_OWNER_REQUEST__INIT;
    so.path = "/a";
    so.owner = "";
    so.group = "st\x01" "ff";
    msg = (ClientMessage)CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_SET_OWNER;
    msg.set_owner = &so;
    explain(&msg, why, sizeof(why));
    assert_non_null(strstr(why, "the group has a control character (byte 0x01 at offset 2)"));
    message_explain_client((const uint8_t *)"\xff\xff\xff", 3, why, sizeof(why));
    assert_string_equal(why, "malformed message");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_register_node),
        cmocka_unit_test(test_rank_register_ack),
        cmocka_unit_test(test_rank_heartbeat),
        cmocka_unit_test(test_rank_small_bodies),
        cmocka_unit_test(test_client_auth),
        cmocka_unit_test(test_client_error),
        cmocka_unit_test(test_pipeline_recovery_fields),
        cmocka_unit_test(test_incremental_block_report),
        cmocka_unit_test(test_decommission_and_corrupt_fields),
        cmocka_unit_test(test_heartbeat_and_sync),
        cmocka_unit_test(test_client_report),
        cmocka_unit_test(test_client_status_and_stop),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_no_body),
        cmocka_unit_test(test_bad_register),
        cmocka_unit_test(test_bad_heartbeat),
        cmocka_unit_test(test_bad_auth),
        cmocka_unit_test(test_bad_error_response),
        cmocka_unit_test(test_bad_report_and_status),
        cmocka_unit_test(test_encode_too_big),
        cmocka_unit_test(test_encode_framed),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_user_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
