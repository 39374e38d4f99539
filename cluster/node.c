/* node.c -- membership agent of a core or task rank (see node.h).
 *
 * States: REGISTERING (RegisterNode sent every heartbeat interval until a
 * RegisterAck says accepted) -> MEMBER (Heartbeat every interval) ->
 * LEAVING (Shutdown received, ShutdownAck in flight; the loop ends when MPI
 * has delivered it, or after a second); MEMBER -> REGISTERING when a
 * HeartbeatAck says "register again" (the primary declared this rank dead
 * while it was stopped, or never knew it).  In any state,
 * ember.node.expiry without a word from the primary ends the rank with
 * status 1 -- counted from when this rank last ran, so a rank that was
 * itself stopped checks in again instead.
 *
 * Every node runs a worker (worker/worker.h) whose container figures ride
 * on RegisterNode and each Heartbeat, and its MapReduce side
 * (worker/worker_mr.h), which takes the scheduler's attempt messages and
 * the other workers' shuffle; a core node also runs a datanode. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/disk_usage.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode/datanode.h"
#include "node.h"
#include "proto/message.h"
#include "proto/mpi_link.h"
#include "role.h"
#include "worker/worker.h"
#include "worker/worker_mr.h"

#define NODE_LEAVE_GRACE_MS 1000

typedef enum {
    NODE_REGISTERING, /* waiting for an accepted RegisterAck */
    NODE_MEMBER,      /* heartbeating */
    NODE_LEAVING,     /* Shutdown received; flushing the acknowledgement */
} node_agent_state;

typedef struct {
    rank_context *ctx;
    node_agent_state state;
    mpi_link *link;
    uint64_t seq;
    int64_t last_primary_contact_ms;
    int64_t last_tick_ms;     /* the heartbeat timer's previous run */
    int64_t leave_deadline_ms;
    int64_t expiry_ms;
    int exit_code;
    datanode *dn;             /* core nodes only */
    worker *wk;               /* every node: its containers' resources */
    worker_mr *mr;            /* every node: attempts, umbilical, shuffle */
    uint8_t *peer_dead;       /* per rank: the primary's last HeartbeatAck holds it dead */
} node_agent;

/* SIGTERM or SIGINT, delivered by the loop: leave at once. */
static void node_on_signal(event_loop *loop, int signo, void *arg) {
    node_agent *n = arg;
    if (n->state == NODE_LEAVING)
        return;
    LOG_INFO("signal %d: leaving", signo);
    n->exit_code = 0;
    event_loop_stop(loop);
}

static void node_fill_storage(node_agent *n, StorageReport *st) {
    disk_usage du;
    if (n->dn != NULL)
        datanode_storage(n->dn, &du);
    else
        disk_usage_measure(n->ctx->data_dirs, &du);
    st->capacity_bytes = du.capacity_bytes;
    st->used_bytes = du.used_bytes;
    st->remaining_bytes = du.remaining_bytes;
    st->data_dirs = du.dirs;
    st->failed_dirs = du.failed_dirs;
    st->full_dirs = du.full_dirs;
}

static void node_send(node_agent *n, RankMessage *msg) {
    int rc = mpi_link_send(n->link, 0, msg);
    if (rc != EMBER_OK)
        LOG_WARN("send of %s to the primary failed: %s", message_rank_name(msg),
                 ember_strerror(rc));
}

static void node_send_register(node_agent *n) {
    HwlocSummary hw = HWLOC_SUMMARY__INIT;
    hw.packages = n->ctx->hw.packages;
    hw.numa_nodes = n->ctx->hw.numa_nodes;
    hw.cores = n->ctx->hw.cores;
    hw.pus = n->ctx->hw.pus;
    hw.memory_bytes = n->ctx->hw.memory_bytes;
    StorageReport st = STORAGE_REPORT__INIT;
    node_fill_storage(n, &st);
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    worker_fill_resources(n->wk, &res);
    RegisterNode reg = REGISTER_NODE__INIT;
    reg.rank = (uint32_t)n->ctx->rank;
    reg.role = n->ctx->role;
    reg.hostname = n->ctx->hostname;
    reg.pid = (uint32_t)getpid();
    reg.hwloc = &hw;
    reg.storage = &st;
    reg.resources = &res;
    if (n->dn != NULL) {
        reg.data_host = n->ctx->public_addr; /* a wildcard bind: the host's address */
        reg.data_port = (uint32_t)datanode_port(n->dn);
        reg.domain_socket = (char *)datanode_domain_socket(n->dn);
    }
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REGISTER_NODE;
    msg.register_node = &reg;
    node_send(n, &msg);
}

static void node_send_heartbeat(node_agent *n) {
    StorageReport st = STORAGE_REPORT__INIT;
    node_fill_storage(n, &st);
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    worker_fill_resources(n->wk, &res);
    Heartbeat hb = HEARTBEAT__INIT;
    hb.rank = (uint32_t)n->ctx->rank;
    hb.seq = ++n->seq;
    hb.storage = &st;
    hb.resources = &res;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    msg.heartbeat = &hb;
    node_send(n, &msg);
}

static void node_handle_register_ack(node_agent *n, const RegisterAck *m) {
    if (!m->accepted) {
        LOG_ERROR("the primary refused this node: %s", m->reason);
        n->exit_code = 1;
        event_loop_stop(n->ctx->loop);
        return;
    }
    if (n->state == NODE_REGISTERING) {
        LOG_INFO("registered with cluster %s as a %s node", m->cluster_id,
                 role_name(n->ctx->role));
        if (n->dn != NULL) {
            datanode_set_secret(n->dn, m->secret);
            datanode_send_block_report(n->dn);
        }
    }
    n->state = NODE_MEMBER;
}

/* The primary's list of dead ranks: this rank stops waiting for them
 * (its link cancels what goes to them, the worker fails what it asked of
 * them), and takes back those the list no longer holds (they registered
 * again).  Without this a rank would wait on a dead peer until each
 * transfer's own deadline: MPI never says that a peer died. */
static void node_take_dead_ranks(node_agent *n, const uint32_t *dead, size_t ndead) {
    int world = n->ctx->world_size;
    uint8_t *now = calloc((size_t)world + 1, 1);
    if (now == NULL || n->peer_dead == NULL) {
        free(now);
        return;
    }
    for (size_t i = 0; i < ndead; i++)
        if (dead[i] > 0 && dead[i] < (uint32_t)world && (int)dead[i] != n->ctx->rank)
            now[dead[i]] = 1;
    for (int r = 1; r < world; r++) {
        if (now[r] && !n->peer_dead[r]) {
            LOG_INFO("rank %d is dead (the primary says so): no more waiting for it", r);
            mpi_link_set_dead(n->link, r);
            if (n->mr != NULL)
                worker_mr_peer_dead(n->mr, r);
        } else if (!now[r] && n->peer_dead[r]) {
            LOG_INFO("rank %d is back (the primary says so)", r);
            mpi_link_set_alive(n->link, r);
        }
    }
    free(n->peer_dead);
    n->peer_dead = now;
}

static void node_handle_heartbeat_ack(node_agent *n, const HeartbeatAck *m) {
    if (m->reregister && n->state == NODE_MEMBER) {
        LOG_WARN("the primary does not know this node; registering again");
        n->state = NODE_REGISTERING;
        node_send_register(n);
    }
    node_take_dead_ranks(n, m->dead_ranks, m->n_dead_ranks);
}

static void node_handle_shutdown(node_agent *n, const Shutdown *m) {
    if (n->state == NODE_LEAVING)
        return;
    LOG_INFO("shutdown requested by the primary (cluster exit status %d)", m->exit_code);
    ShutdownAck ack = SHUTDOWN_ACK__INIT;
    ack.rank = (uint32_t)n->ctx->rank;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUTDOWN_ACK;
    msg.shutdown_ack = &ack;
    node_send(n, &msg);
    n->state = NODE_LEAVING;
    n->exit_code = 0;
    n->leave_deadline_ms = clock_monotonic_ms() + NODE_LEAVE_GRACE_MS;
}

/* The node's one dispatch of RankMessages: every body is listed (no
 * default: the compiler checks it), each routed to its one owner by what
 * it is and who may send it -- membership and datanode commands only from
 * the primary, pipeline traffic only from other ranks.  msg is freed here
 * and only here. */
static void node_on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    node_agent *n = arg;
    (void)link;
    if (source == 0)
        n->last_primary_contact_ms = clock_monotonic_ms();
    switch (msg->body_case) {
    /* membership, from the primary */
    case RANK_MESSAGE__BODY_REGISTER_ACK:
    case RANK_MESSAGE__BODY_HEARTBEAT_ACK:
    case RANK_MESSAGE__BODY_SHUTDOWN:
        if (source != 0)
            goto unexpected;
        if (msg->body_case == RANK_MESSAGE__BODY_REGISTER_ACK)
            node_handle_register_ack(n, msg->register_ack);
        else if (msg->body_case == RANK_MESSAGE__BODY_HEARTBEAT_ACK)
            node_handle_heartbeat_ack(n, msg->heartbeat_ack);
        else
            node_handle_shutdown(n, msg->shutdown);
        break;
    /* the namenode's commands to the datanode */
    case RANK_MESSAGE__BODY_DELETE_BLOCKS:
    case RANK_MESSAGE__BODY_REPLICATE_BLOCK:
    case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
    case RANK_MESSAGE__BODY_UPDATE_REPLICA:
        if (source != 0 || n->dn == NULL)
            goto unexpected;
        datanode_on_rank_message(n->dn, source, msg);
        break;
    /* the write pipeline and re-replication, between datanodes */
    case RANK_MESSAGE__BODY_PIPELINE_PACKET:
    case RANK_MESSAGE__BODY_PIPELINE_ACK:
        if (source == 0 || n->dn == NULL)
            goto unexpected;
        datanode_on_rank_message(n->dn, source, msg);
        break;
    /* what nodes send to the primary, never receive */
    case RANK_MESSAGE__BODY_REGISTER_NODE:
    case RANK_MESSAGE__BODY_HEARTBEAT:
    case RANK_MESSAGE__BODY_SHUTDOWN_ACK:
    case RANK_MESSAGE__BODY_BLOCK_RECEIVED:
    case RANK_MESSAGE__BODY_BLOCK_REPORT:
    case RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT:
    case RANK_MESSAGE__BODY_BAD_REPLICA:
    case RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO:
    /* MapReduce: the scheduler's orders to the worker */
    case RANK_MESSAGE__BODY_LAUNCH_ATTEMPT:
    case RANK_MESSAGE__BODY_KILL_ATTEMPT:
    case RANK_MESSAGE__BODY_COMMIT_RESPONSE:
    case RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS:
    case RANK_MESSAGE__BODY_JOB_FINISHED:
        if (source != 0 || n->mr == NULL)
            goto unexpected;
        worker_mr_on_rank_message(n->mr, source, msg);
        break;
    /* the shuffle, between workers; a task's remote block reads, worker
     * to datanode and back (this rank's own included) */
    case RANK_MESSAGE__BODY_SHUFFLE_REQUEST:
    case RANK_MESSAGE__BODY_SHUFFLE_RESPONSE:
    case RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE:
        if (source == 0 || n->mr == NULL)
            goto unexpected;
        worker_mr_on_rank_message(n->mr, source, msg);
        break;
    case RANK_MESSAGE__BODY_BLOCK_READ_REQUEST:
        if (source == 0 || n->dn == NULL)
            goto unexpected;
        datanode_on_rank_message(n->dn, source, msg);
        break;
    /* what workers send to the primary */
    case RANK_MESSAGE__BODY_ATTEMPT_STATUS:
    case RANK_MESSAGE__BODY_FETCH_FAILURE:
    case RANK_MESSAGE__BODY__NOT_SET:
    case _RANK_MESSAGE__BODY__CASE_IS_INT_SIZE:
    unexpected:
        LOG_WARN("unexpected %s from rank %d", message_rank_name(msg), source);
        break;
    }
    rank_message__free_unpacked(msg, NULL);
}

/* Every heartbeat interval: register or heartbeat, and watch the primary. */
static void node_on_heartbeat_timer(event_loop *loop, void *arg) {
    node_agent *n = arg;
    /* A rank that did not run (SIGSTOP, a frozen VM) cannot blame the
     * primary for its own silence: it starts waiting for it afresh.  If
     * the primary declared it dead meanwhile, the heartbeat below is
     * answered "register again", and it counts once more only after
     * registering and sending a full block report. */
    int64_t now = clock_monotonic_ms();
    if (n->last_tick_ms != 0 && now - n->last_tick_ms > n->expiry_ms) {
        LOG_WARN("this rank did not run for %lld ms (stopped?): checking in with the primary",
                 (long long)(now - n->last_tick_ms));
        n->last_primary_contact_ms = now;
    }
    n->last_tick_ms = now;
    if (n->state == NODE_REGISTERING)
        node_send_register(n);
    else if (n->state == NODE_MEMBER)
        node_send_heartbeat(n);
    if (n->state != NODE_LEAVING &&
        clock_monotonic_ms() - n->last_primary_contact_ms > n->expiry_ms) {
        LOG_ERROR("no word from the primary for %lld ms: leaving the cluster",
                  (long long)n->expiry_ms);
        n->exit_code = 1;
        event_loop_stop(loop);
    }
}

/* Every dfs.blockreport.intervalMsec: a full block report, so the
 * namenode's map converges on what the disks hold whatever was lost in
 * between (HDFS's periodic block report). */
static void node_on_block_report_timer(event_loop *loop, void *arg) {
    node_agent *n = arg;
    (void)loop;
    if (n->dn != NULL && n->state == NODE_MEMBER)
        datanode_send_block_report(n->dn);
}

/* Ends the loop once the ShutdownAck is delivered (or the grace is over). */
static int node_leave_hook(event_loop *loop, void *arg) {
    node_agent *n = arg;
    if (n->state != NODE_LEAVING)
        return -1;
    if (mpi_link_pending(n->link) == 0 || clock_monotonic_ms() >= n->leave_deadline_ms)
        event_loop_stop(loop);
    return 1;
}

static int node_send_rank(void *arg, int dest, const RankMessage *msg) {
    node_agent *n = arg;
    return mpi_link_send(n->link, dest, msg);
}

/* The datanode's pipeline packets: data, capped per destination. */
static int node_send_rank_data(void *arg, int dest, const RankMessage *msg) {
    node_agent *n = arg;
    return mpi_link_send_data(n->link, dest, msg);
}

/* How a bulk transfer of the datanode's ended. */
static void node_bulk_done(mpi_link *link, int peer, int status, void *buf, void *arg) {
    (void)link;
    (void)peer;
    datanode_bulk_done(status, buf, arg);
}

/* The datanode's packet data: bulk payloads beside header-only packets. */
static int node_send_bulk(void *arg, int dest, const RankMessage *header, const void *data,
                          uint64_t len, void *done_arg) {
    node_agent *n = arg;
    return mpi_link_send_bulk(n->link, dest, header, data, len, node_bulk_done, done_arg);
}

static int node_recv_bulk(void *arg, int source, const RankMessage *header, void *buf,
                          void *done_arg) {
    node_agent *n = arg;
    return mpi_link_recv_bulk(n->link, source, header, buf, node_bulk_done, done_arg);
}

/* A destination the datanode's data waited for can take more. */
static void node_on_writable(mpi_link *link, int dest, void *arg) {
    node_agent *n = arg;
    (void)link;
    if (n->dn != NULL)
        datanode_on_writable(n->dn, dest);
    if (n->mr != NULL)
        worker_mr_on_writable(n->mr, dest);
}

/* The shuffle's segments: bulk payloads on the rank's link. */
static int node_mr_send_bulk(void *arg, int dest, const RankMessage *header, const void *data,
                             uint64_t len, mpi_link_bulk_cb done, void *done_arg) {
    node_agent *n = arg;
    return mpi_link_send_bulk(n->link, dest, header, data, len, done, done_arg);
}

static int node_mr_recv_bulk(void *arg, int source, const RankMessage *header, void *buf,
                             mpi_link_bulk_cb done, void *done_arg) {
    node_agent *n = arg;
    return mpi_link_recv_bulk(n->link, source, header, buf, done, done_arg);
}

/* A core node's datanode, on the same loop and link. */
static int node_start_datanode(node_agent *n) {
    char err[512] = "";
    /* Short-circuit reads (a unix socket) unless the cluster turned them off;
     * a path that cannot be formed leaves them off too. */
    char socket_path[4096] = "";
    if (config_get_int(n->ctx->cfg, "dfs.client.read.shortcircuit") &&
        datanode_domain_socket_path(config_get_string(n->ctx->cfg, "dfs.domain.socket.path"),
                                    n->ctx->run_dir, n->ctx->rank, socket_path,
                                    sizeof(socket_path)) != EMBER_OK) {
        LOG_WARN("no short-circuit reads: cannot form the socket path under %s", n->ctx->run_dir);
        socket_path[0] = '\0';
    }
    datanode_options opts = {
        .rank = n->ctx->rank,
        .primary_rank = 0,
        .data_dirs = n->ctx->data_dirs,
        .bind_addr = n->ctx->bind_addr,
        .port = 0,
        .io_timeout_ms = config_get_int(n->ctx->cfg, "dfs.datanode.socket.timeout"),
        .scan_bytes_per_sec =
            config_get_int(n->ctx->cfg, "dfs.block.scanner.volume.bytes.per.second"),
        .scan_period_ms = config_get_int(n->ctx->cfg, "dfs.datanode.scan.period.hours"),
        .directory_scan_interval_ms =
            config_get_int(n->ctx->cfg, "dfs.datanode.directoryscan.interval"),
        .sync_on_close = (int)config_get_int(n->ctx->cfg, "dfs.datanode.synconclose"),
        .reserved_bytes = (uint64_t)config_get_int(n->ctx->cfg, "dfs.datanode.du.reserved"),
        .block_size = (uint64_t)config_get_int(n->ctx->cfg, "dfs.blocksize"),
        .domain_socket_path = socket_path,
        .send = node_send_rank,
        .send_data = node_send_rank_data,
        .send_bulk = node_send_bulk,
        .recv_bulk = node_recv_bulk,
        .send_arg = n,
    };
    int rc = datanode_create(n->ctx->loop, &opts, &n->dn, err, sizeof(err));
    if (rc != EMBER_OK)
        LOG_ERROR("the datanode cannot start: %s", err[0] ? err : ember_strerror(rc));
    else
        LOG_INFO("datanode serving data on %s:%d", n->ctx->bind_addr, datanode_port(n->dn));
    return rc;
}

/* The node's worker, on every core and task rank: its offer goes into
 * RegisterNode and every Heartbeat.  A worker that cannot start ends the
 * rank with status 1, as a datanode that cannot start does. */
static int node_start_worker(node_agent *n) {
    char err[512] = "";
    worker_options opts = {.cfg = n->ctx->cfg,
                           .topo = n->ctx->topo,
                           .core_node = n->ctx->role == NODE_ROLE__ROLE_CORE,
                           .data_dirs = n->ctx->data_dirs,
                           .bind_addr = n->ctx->public_addr,
                           .loop = n->ctx->loop,
                           .run_dir = n->ctx->run_dir,
                           .rank = n->ctx->rank,
                           .host_workers = n->ctx->host_workers,
                           .n_host_workers = n->ctx->n_host_workers};
    int rc = worker_create(&opts, &n->wk, err, sizeof(err));
    if (rc == EMBER_OK) {
        worker_mr_options mo = {.loop = n->ctx->loop,
                                .wk = n->wk,
                                .rank = n->ctx->rank,
                                .primary_rank = 0,
                                .run_dir = n->ctx->run_dir,
                                .data_dirs = n->ctx->data_dirs,
                                .send = node_send_rank,
                                .send_bulk = node_mr_send_bulk,
                                .recv_bulk = node_mr_recv_bulk,
                                .send_arg = n};
        rc = worker_mr_create(&mo, &n->mr, err, sizeof(err));
    }
    if (rc != EMBER_OK) {
        LOG_ERROR("the worker cannot start: %s", err[0] ? err : ember_strerror(rc));
        fprintf(stderr, "ember: rank %d: the worker cannot start: %s\n", n->ctx->rank,
                err[0] ? err : ember_strerror(rc));
    }
    return rc;
}

int node_run(rank_context *ctx) {
    node_agent n = {.ctx = ctx, .state = NODE_REGISTERING, .exit_code = 1};
    n.expiry_ms = config_get_int(ctx->cfg, "ember.node.expiry");
    n.last_primary_contact_ms = clock_monotonic_ms();
    n.peer_dead = calloc((size_t)ctx->world_size + 1, 1);
    int64_t interval = config_get_int(ctx->cfg, "dfs.heartbeat.interval");
    int rc = mpi_link_create(ctx->loop, config_get_int(ctx->cfg, "ember.mpi.send.timeout"),
                             node_on_message, &n, &n.link);
    if (rc == EMBER_OK) {
        mpi_link_set_limits(n.link, (uint64_t)config_get_int(ctx->cfg, "ember.mpi.data.queue"), 0);
        mpi_link_set_writable_cb(n.link, node_on_writable, &n);
        rc = event_loop_add_timer(ctx->loop, interval, node_on_heartbeat_timer, &n, NULL);
    }
    if (rc == EMBER_OK)
        rc = event_loop_add_hook(ctx->loop, node_leave_hook, &n);
    if (rc == EMBER_OK)
        rc = node_start_worker(&n);
    if (rc == EMBER_OK && ctx->role == NODE_ROLE__ROLE_CORE)
        rc = node_start_datanode(&n);
    if (rc == EMBER_OK && n.dn != NULL)
        rc = event_loop_add_timer(ctx->loop,
                                  config_get_int(ctx->cfg, "dfs.blockreport.intervalMsec"),
                                  node_on_block_report_timer, &n, NULL);
    if (rc != EMBER_OK) {
        LOG_ERROR("cannot start the node agent: %s", ember_strerror(rc));
        datanode_destroy(n.dn);
        worker_mr_destroy(n.mr);
        worker_destroy(n.wk);
        mpi_link_destroy(n.link);
        free(n.peer_dead);
        return 1;
    }
    if (event_loop_add_signal(ctx->loop, SIGTERM, node_on_signal, &n) != EMBER_OK ||
        event_loop_add_signal(ctx->loop, SIGINT, node_on_signal, &n) != EMBER_OK)
        LOG_WARN("SIGTERM and SIGINT cannot be taken through the event loop");
    LOG_INFO("%s node up on %s: %u cores, %u PUs, data dirs '%s'", role_name(ctx->role),
             ctx->hostname, ctx->hw.cores, ctx->hw.pus, ctx->data_dirs);
    node_send_register(&n);
    rc = event_loop_run(ctx->loop);
    if (rc != EMBER_OK)
        n.exit_code = 1;
    datanode_destroy(n.dn);
    worker_mr_destroy(n.mr); /* before the worker, whose containers it knows */
    worker_destroy(n.wk);
    mpi_link_destroy(n.link);
    free(n.peer_dead);
    LOG_INFO("node exiting with status %d", n.exit_code);
    return n.exit_code;
}
