/* make_corpus.c -- writes the seed corpus for fuzz_frame: one valid frame
 * of every ClientMessage and RankMessage body (and of the data path's
 * variants: recovery, heartbeat and sync packets), some of the
 * umbilical's TaskMessages, plus a few broken ones.
 * The other targets' corpora come from make_corpus_files.c.
 *
 *   make_corpus DIR          the frame corpus
 *   make_corpus NAME DIR     another target's (edit_log, block_meta,
 *                            cluster_info, config)
 * Run by hand when the messages change; the seeds are committed under
 * tests/fuzz/corpus/NAME/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "make_corpus.h"
#include "proto/frame.h"
#include "proto/message.h"

static const char *corpus_dir;

/* Writes one seed: the mode byte, then the bytes. */
static void corpus_write(const char *name, uint8_t mode, const uint8_t *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputc(mode, f);
    fwrite(data, 1, len, f);
    fclose(f);
}

static void corpus_client(const char *name, ClientMessage *msg) {
    uint8_t *buf;
    size_t len;
    if (message_encode_client(msg, 1, FRAME_MAX_DEFAULT, &buf, &len) != EMBER_OK)
        exit(1);
    corpus_write(name, 0x01 | (7 << 1), buf, len); /* 16 MiB cap, 8-byte chunks */
    free(buf);
}

static void corpus_rank(const char *name, RankMessage *msg) {
    uint8_t *rbuf;
    size_t len;
    if (message_encode_rank(msg, FRAME_MAX_DEFAULT, &rbuf, &len) != EMBER_OK)
        exit(1);
    uint8_t *buf = malloc(len + FRAME_HEADER_LEN);
    frame_put_header(buf, (uint32_t)len);
    memcpy(buf + FRAME_HEADER_LEN, rbuf, len);
    corpus_write(name, 0x01 | (127 << 1), buf, len + FRAME_HEADER_LEN);
    free(buf);
    free(rbuf);
}

static void corpus_data(const char *name, uint8_t mode, DataMessage *msg) {
    uint8_t *buf;
    size_t len;
    if (message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len) != EMBER_OK)
        exit(1);
    corpus_write(name, mode, buf, len);
    free(buf);
}

/* The umbilical (job.proto's TaskMessage): a hello, a map's assignment,
 * map output events, a fetch answer, a failure. */
static void corpus_task_one(const char *name, TaskMessage *msg) {
    uint8_t *buf;
    size_t len;
    if (message_encode_task(msg, FRAME_MAX_DEFAULT, &buf, &len) != EMBER_OK)
        exit(1);
    corpus_write(name, 0x01 | (15 << 1), buf, len);
    free(buf);
}

static void corpus_task(void) {
    TaskMessage m = TASK_MESSAGE__INIT;
    TaskHello hello = TASK_HELLO__INIT;
    hello.attempt_id = "attempt_202612060000_0001_m_000000_0";
    hello.pid = 4242;
    m.body_case = TASK_MESSAGE__BODY_HELLO;
    m.hello = &hello;
    corpus_task_one("task_hello", &m);

    SplitChunk chunk = SPLIT_CHUNK__INIT, *chunks[1] = {&chunk};
    chunk.uri = "/user/alice/in/a.txt";
    chunk.length = 1048576;
    Split split = SPLIT__INIT, *splits[1] = {&split};
    split.n_chunks = 1;
    split.chunks = chunks;
    ConfPair conf = CONF_PAIR__INIT, *confs[1] = {&conf};
    conf.key = "mapreduce.job.reduces";
    conf.value = "2";
    JobDescription job = JOB_DESCRIPTION__INIT;
    job.job_id = "job_202612060000_0001";
    job.library = "/tmp/ember/staging/alice/job_202612060000_0001/job.so";
    job.output = "/user/alice/out";
    job.n_conf = 1;
    job.conf = confs;
    job.n_splits = 1;
    job.splits = splits;
    job.reduces = 2;
    TaskAssignment a = TASK_ASSIGNMENT__INIT;
    a.job_id = job.job_id;
    a.attempt_id = hello.attempt_id;
    a.kind = TASK_KIND__TASK_KIND_MAP;
    a.job = &job;
    a.maps = 1;
    a.gateway_host = "127.0.0.1";
    a.gateway_port = 8020;
    a.output_dir = "/run/mr/job_202612060000_0001/attempt_202612060000_0001_m_000000_0";
    m.body_case = TASK_MESSAGE__BODY_ASSIGNMENT;
    m.assignment = &a;
    corpus_task_one("task_assignment", &m);

    MapOutputEvent ev = MAP_OUTPUT_EVENT__INIT, *evs[1] = {&ev};
    ev.attempt_id = hello.attempt_id;
    ev.rank = 3;
    ev.obsolete = 1;
    TaskMapEvents events = TASK_MAP_EVENTS__INIT;
    events.n_events = 1;
    events.events = evs;
    m.body_case = TASK_MESSAGE__BODY_MAP_EVENTS;
    m.map_events = &events;
    corpus_task_one("task_map_events", &m);

    TaskFetchResponse fr = TASK_FETCH_RESPONSE__INIT;
    fr.request_id = 7;
    fr.length = 4096;
    m.body_case = TASK_MESSAGE__BODY_FETCH_RESPONSE;
    m.fetch_response = &fr;
    corpus_task_one("task_fetch_response", &m);

    Counter counter = COUNTER__INIT, *counters[1] = {&counter};
    counter.group = "Map-Reduce Framework";
    counter.name = "Map input records";
    counter.value = 12;
    TaskFailed failed = TASK_FAILED__INIT;
    failed.diagnostic = "map task 0 failed";
    failed.n_counters = 1;
    failed.counters = counters;
    m.body_case = TASK_MESSAGE__BODY_FAILED;
    m.failed = &failed;
    corpus_task_one("task_failed", &m);
}

/* Pipeline recovery: a new gen stamp from the namenode, the reopened
 * pipeline's request, a forwarded packet that starts one, an ack. */
static void corpus_pipeline(BlockToken *tok) {
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    UpdateBlockForPipelineRequest up = UPDATE_BLOCK_FOR_PIPELINE_REQUEST__INIT;
    up.path = "/logs/app.log";
    up.block_id = 1073741826;
    up.client_name = "DFSClient_NONMAPREDUCE_12345_678";
    cm.body_case = CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE;
    cm.update_block_for_pipeline = &up;
    corpus_client("update_block_for_pipeline", &cm);

    uint32_t downstream[1] = {3};
    WriteBlockRequest wb = WRITE_BLOCK_REQUEST__INIT;
    wb.block_id = 1073741826;
    wb.gen_stamp = 1007;
    wb.token = tok;
    wb.n_downstream = 1;
    wb.downstream = downstream;
    wb.recovery_gen_stamp = 1002;
    wb.recovery_length = 65536;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_WRITE_BLOCK;
    dm.write_block = &wb;
    corpus_data("data_write_block_recovery", 0x01 | (5 << 1), &dm);

    uint8_t payload[600];
    memset(payload, 'y', sizeof(payload));
    uint32_t crcs[2] = {0x0badf00d, 0xfeedface};
    Packet pk = PACKET__INIT;
    pk.offset = 65536;
    pk.data.data = payload;
    pk.data.len = sizeof(payload);
    pk.n_crcs = 2;
    pk.crcs = crcs;
    PipelinePacket pp = PIPELINE_PACKET__INIT;
    pp.block_id = 1073741826;
    pp.gen_stamp = 1007;
    pp.packet = &pk;
    pp.recovery_gen_stamp = 1002;
    pp.recovery_length = 65536;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_PACKET;
    rm.pipeline_packet = &pp;
    corpus_rank("pipeline_packet_recovery", &rm);
    PipelineAck ack = PIPELINE_ACK__INIT;
    ack.block_id = 1073741826;
    ack.seqno = 4;
    ack.ok = 0;
    ack.failed_rank = 3;
    ack.gen_stamp = 1007;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_ACK;
    rm.pipeline_ack = &ack;
    corpus_rank("pipeline_ack", &rm);
}

/* An idle writer's pipeline and hsync: the create answer with the
 * socket timeout, a heartbeat packet (TCP, then forwarded over MPI), its
 * acks, and a sync packet. */
static void corpus_heartbeat(void) {
    DfsResult dr = DFS_RESULT__INIT;
    dr.lease_renew_ms = 30000;
    dr.socket_timeout_ms = 60000;
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    cm.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    cm.dfs_result = &dr;
    corpus_client("dfs_result_for_write", &cm);

    Packet hb = PACKET__INIT;
    hb.seqno = 7;
    hb.offset = 458752;
    hb.heartbeat = 1;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_PACKET;
    dm.packet = &hb;
    corpus_data("data_packet_heartbeat", 0x01 | (63 << 1), &dm);
    PipelinePacket pp = PIPELINE_PACKET__INIT;
    pp.block_id = 1073741826;
    pp.gen_stamp = 1007;
    pp.packet = &hb;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_PACKET;
    rm.pipeline_packet = &pp;
    corpus_rank("pipeline_packet_heartbeat", &rm);
    PipelineAck pack = PIPELINE_ACK__INIT;
    pack.block_id = 1073741826;
    pack.seqno = 7;
    pack.ok = 1;
    pack.heartbeat = 1;
    pack.gen_stamp = 1007;
    rm.body_case = RANK_MESSAGE__BODY_PIPELINE_ACK;
    rm.pipeline_ack = &pack;
    corpus_rank("pipeline_ack_heartbeat", &rm);
    PacketAck ack = PACKET_ACK__INIT;
    ack.seqno = 7;
    ack.ok = 1;
    ack.heartbeat = 1;
    dm.body_case = DATA_MESSAGE__BODY_ACK;
    dm.ack = &ack;
    corpus_data("data_ack_heartbeat", 0x01 | (63 << 1), &dm);

    uint8_t payload[700];
    memset(payload, 'z', sizeof(payload));
    uint32_t crcs[2] = {0x01020304, 0x05060708};
    Packet sp = PACKET__INIT;
    sp.seqno = 7;
    sp.offset = 458752;
    sp.data.data = payload;
    sp.data.len = sizeof(payload);
    sp.n_crcs = 2;
    sp.crcs = crcs;
    sp.sync = 1;
    dm.body_case = DATA_MESSAGE__BODY_PACKET;
    dm.packet = &sp;
    corpus_data("data_packet_sync", 0x01 | (63 << 1), &dm);
}

/* The trash: the server defaults asked, and their answer. */
static void corpus_trash(void) {
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    ServerDefaultsRequest sd = SERVER_DEFAULTS_REQUEST__INIT;
    cm.body_case = CLIENT_MESSAGE__BODY_SERVER_DEFAULTS;
    cm.server_defaults = &sd;
    corpus_client("server_defaults", &cm);
    DfsResult dr = DFS_RESULT__INIT;
    dr.trash_interval_ms = 1440 * 60000;
    cm.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    cm.dfs_result = &dr;
    corpus_client("dfs_result_server_defaults", &cm);
}

/* Leases, append, recovery, decommission, checksums, short-circuit. */
static void corpus_later(BlockToken *tok) {
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    AppendRequest ap = APPEND_REQUEST__INIT;
    ap.path = "/logs/app.log";
    ap.client_name = "DFSClient_NONMAPREDUCE_12345_678";
    cm.body_case = CLIENT_MESSAGE__BODY_APPEND;
    cm.append = &ap;
    corpus_client("append", &cm);
    RecoverLeaseRequest rl = RECOVER_LEASE_REQUEST__INIT;
    rl.path = "/logs/app.log";
    rl.client_name = "DFSClient_NONMAPREDUCE_1_2";
    cm.body_case = CLIENT_MESSAGE__BODY_RECOVER_LEASE;
    cm.recover_lease = &rl;
    corpus_client("recover_lease", &cm);
    RenewLeaseRequest rn = RENEW_LEASE_REQUEST__INIT;
    rn.client_name = "DFSClient_NONMAPREDUCE_1_2";
    cm.body_case = CLIENT_MESSAGE__BODY_RENEW_LEASE;
    cm.renew_lease = &rn;
    corpus_client("renew_lease", &cm);
    DecommissionRequest dc = DECOMMISSION_REQUEST__INIT;
    dc.rank = 3;
    cm.body_case = CLIENT_MESSAGE__BODY_DECOMMISSION;
    cm.decommission = &dc;
    corpus_client("decommission", &cm);
    dc.recommission = 1;
    corpus_client("recommission", &cm);
    GetBlockLocationsRequest gl = GET_BLOCK_LOCATIONS_REQUEST__INIT;
    gl.path = "/in.bin";
    gl.length = UINT64_MAX;
    gl.include_corrupt = 1;
    cm.body_case = CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS;
    cm.get_block_locations = &gl;
    corpus_client("get_block_locations_corrupt", &cm);
    DatanodeLocation dl = DATANODE_LOCATION__INIT;
    dl.rank = 2;
    dl.host = "127.0.0.1";
    dl.port = 40002;
    dl.corrupt = 1;
    DatanodeLocation *dls[1] = {&dl};
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    lb.block_id = 1073741825;
    lb.gen_stamp = 1001;
    lb.length = 512;
    lb.n_locations = 1;
    lb.locations = dls;
    lb.token = tok;
    lb.corrupt = 1;
    LocatedBlock *lbs[1] = {&lb};
    DfsResult dr = DFS_RESULT__INIT;
    dr.n_blocks = 1;
    dr.blocks = lbs;
    cm.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    cm.dfs_result = &dr;
    corpus_client("dfs_result_corrupt_block", &cm);

    RankMessage rm = RANK_MESSAGE__INIT;
    uint64_t ids[2] = {1073741825, 1073741826}, gss[2] = {1001, 1002}, lens[2] = {512, 700};
    BlockReport br = BLOCK_REPORT__INIT;
    br.last = 1;
    br.n_block_ids = br.n_gen_stamps = br.n_lengths = 1;
    br.block_ids = ids;
    br.gen_stamps = gss;
    br.lengths = lens;
    br.n_rbw_block_ids = br.n_rbw_gen_stamps = br.n_rbw_lengths = 1;
    br.rbw_block_ids = ids + 1;
    br.rbw_gen_stamps = gss + 1;
    br.rbw_lengths = lens + 1;
    rm.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
    rm.block_report = &br;
    corpus_rank("block_report_rbw", &rm);
    InitReplicaRecovery ir = INIT_REPLICA_RECOVERY__INIT;
    ir.block_id = ids[1];
    ir.recovery_id = 1005;
    rm.body_case = RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY;
    rm.init_replica_recovery = &ir;
    corpus_rank("init_replica_recovery", &rm);
    ReplicaRecoveryInfo ri = REPLICA_RECOVERY_INFO__INIT;
    ri.block_id = ids[1];
    ri.recovery_id = 1005;
    ri.found = 1;
    ri.gen_stamp = 1002;
    ri.length = 700;
    rm.body_case = RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO;
    rm.replica_recovery_info = &ri;
    corpus_rank("replica_recovery_info", &rm);
    UpdateReplica ur = UPDATE_REPLICA__INIT;
    ur.block_id = ids[1];
    ur.recovery_id = 1005;
    ur.length = 600;
    rm.body_case = RANK_MESSAGE__BODY_UPDATE_REPLICA;
    rm.update_replica = &ur;
    corpus_rank("update_replica", &rm);
    IncrementalBlockReport ibr = INCREMENTAL_BLOCK_REPORT__INIT;
    ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = 1;
    ibr.received_block_ids = ids;
    ibr.received_gen_stamps = gss;
    ibr.received_lengths = lens;
    ibr.n_deleted_block_ids = 1;
    ibr.deleted_block_ids = ids + 1;
    rm.body_case = RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT;
    rm.incremental_block_report = &ibr;
    corpus_rank("incremental_block_report", &rm);

    DataMessage dm = DATA_MESSAGE__INIT;
    BlockChecksumRequest bc = BLOCK_CHECKSUM_REQUEST__INIT;
    bc.block_id = ids[0];
    bc.gen_stamp = 1001;
    bc.token = tok;
    dm.body_case = DATA_MESSAGE__BODY_BLOCK_CHECKSUM;
    dm.block_checksum = &bc;
    corpus_data("data_block_checksum", 0x01 | (5 << 1), &dm);
    ShortCircuitRequest sc = SHORT_CIRCUIT_REQUEST__INIT;
    sc.block_id = ids[0];
    sc.gen_stamp = 1001;
    sc.token = tok;
    dm.body_case = DATA_MESSAGE__BODY_SHORT_CIRCUIT;
    dm.short_circuit = &sc;
    corpus_data("data_short_circuit", 0x01 | (5 << 1), &dm);
}

/* The shell's requests (-touch, -test -r/-w, -truncate), the truncate's
 * UpdateReplica, and a report with the namenode's block counts. */
static void corpus_shell(void) {
    ClientMessage cm = CLIENT_MESSAGE__INIT;
    SetTimesRequest stq = SET_TIMES_REQUEST__INIT;
    stq.path = "/t/f";
    stq.mtime_ms = 1577934245000;
    stq.atime_ms = -1;
    cm.body_case = CLIENT_MESSAGE__BODY_SET_TIMES;
    cm.set_times = &stq;
    corpus_client("set_times", &cm);
    CheckAccessRequest ca = CHECK_ACCESS_REQUEST__INIT;
    ca.path = "/perm/secret";
    ca.access = 4;
    cm.body_case = CLIENT_MESSAGE__BODY_CHECK_ACCESS;
    cm.check_access = &ca;
    corpus_client("check_access", &cm);
    TruncateRequest tr = TRUNCATE_REQUEST__INIT;
    tr.path = "/tr1";
    tr.new_length = 1500000;
    tr.client_name = "DFSClient_NONMAPREDUCE_1_2";
    cm.body_case = CLIENT_MESSAGE__BODY_TRUNCATE;
    cm.truncate = &tr;
    corpus_client("truncate", &cm);
    BlockHealth bh = BLOCK_HEALTH__INIT;
    bh.under_replicated = 3;
    bh.with_corrupt_replicas = 1;
    bh.missing = 2;
    bh.missing_replication_one = 2;
    ReportResponse rr = REPORT_RESPONSE__INIT;
    rr.blocks = &bh;
    cm.body_case = CLIENT_MESSAGE__BODY_REPORT_RESPONSE;
    cm.report_response = &rr;
    corpus_client("report_response_blocks", &cm);
    UpdateReplica ur = UPDATE_REPLICA__INIT;
    ur.block_id = 1073741826;
    ur.recovery_id = 1020;
    ur.length = 451424;
    ur.truncate = 1;
    RankMessage rm = RANK_MESSAGE__INIT;
    rm.body_case = RANK_MESSAGE__BODY_UPDATE_REPLICA;
    rm.update_replica = &ur;
    corpus_rank("update_replica_truncate", &rm);
}

int main(int argc, char **argv) {
    if (argc == 3)
        return corpus_files_write(argv[1], argv[2]) == 0 ? 0 : 2;
    if (argc != 2)
        return 2;
    corpus_dir = argv[1];
    uint8_t nonce[32] = {1, 2, 3};
    ClientMessage cm = CLIENT_MESSAGE__INIT;

    AuthChallenge ch = AUTH_CHALLENGE__INIT;
    ch.nonce.data = nonce;
    ch.nonce.len = 32;
    ch.cluster_id = "CID-0011223344556677";
    cm.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    cm.auth_challenge = &ch;
    corpus_shell();
    corpus_client("auth_challenge", &cm);

    AuthResponse ar = AUTH_RESPONSE__INIT;
    ar.mac.data = nonce;
    ar.mac.len = 32;
    ar.user = "root";
    cm.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    cm.auth_response = &ar;
    corpus_client("auth_response", &cm);

    ErrorResponse er = ERROR_RESPONSE__INIT;
    er.code = EMBER_EAUTH;
    er.message = "authentication failed";
    cm.body_case = CLIENT_MESSAGE__BODY_ERROR;
    cm.error = &er;
    corpus_client("error", &cm);

    StatusRequest sr = STATUS_REQUEST__INIT;
    cm.body_case = CLIENT_MESSAGE__BODY_STATUS_REQUEST;
    cm.status_request = &sr;
    corpus_client("status_request", &cm);

    StatusResponse sresp = STATUS_RESPONSE__INIT;
    sresp.cluster_id = "CID-1";
    sresp.state = "running";
    sresp.primary_host = "vm";
    sresp.world_size = 4;
    sresp.core_live = 2;
    cm.body_case = CLIENT_MESSAGE__BODY_STATUS_RESPONSE;
    cm.status_response = &sresp;
    corpus_client("status_response", &cm);

    HwlocSummary hw = HWLOC_SUMMARY__INIT;
    hw.cores = 16;
    hw.pus = 32;
    StorageReport st = STORAGE_REPORT__INIT;
    st.capacity_bytes = 1 << 30;
    st.data_dirs = 1;
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    res.vcores = 15;
    res.memory_mb = 13108;
    res.vcores_used = 2;
    res.memory_used_mb = 2048;
    res.containers = 1;
    res.units = 16;
    res.reserved_units = 1;
    res.physical_mb = 16384;
    res.reserved_mb = 3276;
    NodeReport nr = NODE_REPORT__INIT;
    nr.rank = 1;
    nr.role = NODE_ROLE__ROLE_CORE;
    nr.hostname = "vm";
    nr.hwloc = &hw;
    nr.storage = &st;
    nr.resources = &res;
    nr.state = "RUNNING";
    NodeReport *nodes[1] = {&nr};
    ReportResponse rr = REPORT_RESPONSE__INIT;
    rr.n_nodes = 1;
    rr.nodes = nodes;
    rr.primary = &nr;
    cm.body_case = CLIENT_MESSAGE__BODY_REPORT_RESPONSE;
    cm.report_response = &rr;
    corpus_client("report_response", &cm);

    CreateRequest cr = CREATE_REQUEST__INIT;
    cr.path = "/user/root/data/part-00000";
    cr.replication = 3;
    cr.block_size = 1 << 20;
    cr.create_parents = 1;
    cm.body_case = CLIENT_MESSAGE__BODY_CREATE;
    cm.create = &cr;
    corpus_client("create", &cm);

    RenameRequest rn = RENAME_REQUEST__INIT;
    rn.src = "/a";
    rn.dst = "/b/c";
    cm.body_case = CLIENT_MESSAGE__BODY_RENAME;
    cm.rename = &rn;
    corpus_client("rename", &cm);

    FileStatus fs1 = FILE_STATUS__INIT, fs2 = FILE_STATUS__INIT;
    fs1.path = "dir";
    fs1.is_dir = 1;
    fs1.mode = 0755;
    fs1.owner = "root";
    fs1.group = "supergroup";
    fs2.path = "file";
    fs2.length = 1234;
    fs2.replication = 3;
    fs2.mode = 0644;
    fs2.owner = "alice";
    fs2.group = "staff";
    fs2.under_construction = 1;
    FileStatus *entries[2] = {&fs1, &fs2};
    DfsResult dr = DFS_RESULT__INIT;
    dr.status = &fs1;
    dr.n_entries = 2;
    dr.entries = entries;
    dr.has_more = 1;
    dr.warning = "replication 3 capped to 2";
    cm.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    cm.dfs_result = &dr;
    corpus_client("dfs_result", &cm);

    RankMessage rm = RANK_MESSAGE__INIT;
    RegisterNode reg = REGISTER_NODE__INIT;
    reg.rank = 2;
    reg.role = NODE_ROLE__ROLE_TASK;
    reg.hostname = "vm";
    reg.hwloc = &hw;
    reg.storage = &st;
    reg.resources = &res;
    rm.body_case = RANK_MESSAGE__BODY_REGISTER_NODE;
    rm.register_node = &reg;
    corpus_rank("register_node", &rm);

    Heartbeat hb = HEARTBEAT__INIT;
    hb.rank = 2;
    hb.seq = 99;
    hb.storage = &st;
    hb.resources = &res;
    rm.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    rm.heartbeat = &hb;
    corpus_rank("heartbeat", &rm);

    Shutdown sd = SHUTDOWN__INIT;
    sd.exit_code = 3;
    rm.body_case = RANK_MESSAGE__BODY_SHUTDOWN;
    rm.shutdown = &sd;
    corpus_rank("shutdown", &rm);

    /* Datanode protocol: a write request and a data packet. */
    uint8_t mac[32] = {9};
    BlockToken tok = BLOCK_TOKEN__INIT;
    tok.block_id = 1073741825;
    tok.gen_stamp = 1001;
    tok.mode = 2;
    tok.expiry_ms = 1800000000000;
    tok.mac.data = mac;
    tok.mac.len = 32;
    uint32_t downstream[2] = {2, 3};
    WriteBlockRequest wb = WRITE_BLOCK_REQUEST__INIT;
    wb.block_id = 1073741825;
    wb.gen_stamp = 1001;
    wb.token = &tok;
    wb.n_downstream = 2;
    wb.downstream = downstream;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_WRITE_BLOCK;
    dm.write_block = &wb;
    uint8_t *dbuf;
    size_t dlen;
    if (message_encode_data(&dm, FRAME_MAX_DEFAULT, &dbuf, &dlen) != EMBER_OK)
        return 1;
    corpus_write("data_write_block", 0x01 | (5 << 1), dbuf, dlen);
    free(dbuf);
    uint8_t payload[1000];
    memset(payload, 'x', sizeof(payload));
    uint32_t crcs[2] = {0x12345678, 0x9abcdef0};
    Packet pk = PACKET__INIT;
    pk.seqno = 3;
    pk.offset = 512;
    pk.data.data = payload;
    pk.data.len = sizeof(payload);
    pk.n_crcs = 2;
    pk.crcs = crcs;
    pk.last = 1;
    dm.body_case = DATA_MESSAGE__BODY_PACKET;
    dm.packet = &pk;
    if (message_encode_data(&dm, FRAME_MAX_DEFAULT, &dbuf, &dlen) != EMBER_OK)
        return 1;
    corpus_write("data_packet", 0x01 | (63 << 1), dbuf, dlen);
    free(dbuf);

    corpus_later(&tok);
    corpus_trash();
    corpus_heartbeat();
    corpus_pipeline(&tok);
    corpus_task();

    static const uint8_t oversize[] = {0x7f, 0xff, 0xff, 0xff, 0x08, 0x01};
    corpus_write("oversize_header", 0x00, oversize, sizeof(oversize));
    static const uint8_t truncated[] = {0x00, 0x00, 0x00, 0x10, 0x0a, 0x22};
    corpus_write("truncated", 0x02, truncated, sizeof(truncated));
    static const uint8_t empty_frames[] = {0, 0, 0, 0, 0, 0, 0, 0};
    corpus_write("empty_frames", 0x01, empty_frames, sizeof(empty_frames));
    return 0;
}
