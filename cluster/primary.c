/* primary.c -- the primary rank's daemon (see primary.h).
 *
 * Everything here runs on the loop thread.  Rank messages arrive through
 * primary_on_message(), client requests through primary_on_request(); each
 * lists every body of its envelope and routes it to its one owner: the
 * primary's own primary_handle_<message>(), or the namenode's
 * namenode_on_rank_message() / namenode_on_request(), or the scheduler's
 * scheduler_on_rank_message() / scheduler_on_request() for MapReduce
 * (scheduler/scheduler.h), which hears of nodes registered, heartbeating
 * and lost from here and ticks on its own timer.  Fencing happens there: from a rank that is not LIVE only
 * RegisterNode and Heartbeat are heard (a heartbeat to be told "register
 * again").
 * A cron timer runs every heartbeat interval (at most every 500 ms) to
 * expire silent nodes and to finish a stop.
 *
 * Stop sequence: primary_handle_stop_request() (or SIGTERM/SIGINT) calls
 * primary_begin_stop(), which sends Shutdown to every rank not known dead
 * and enters STOPPING; the cron ends the loop when every such rank has
 * acknowledged or ember.stop.timeout has passed.  primary_run() then writes
 * the status file (3 when any node died, or never acknowledged the
 * Shutdown), removes cluster.json and returns. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/run_dir.h"
#include "gateway.h"
#include "namenode/namenode.h"
#include "namenode/rack_map.h"
#include "node_registry.h"
#include "primary.h"
#include "proto/message.h"
#include "proto/mpi_link.h"
#include "role.h"
#include "scheduler/scheduler.h"

/* How often the scheduler ticks (speculation, delay scheduling's chances);
 * it also runs after every event that frees or asks for room. */
#define PRIMARY_SCHEDULER_TICK_MS 200

typedef enum {
    PRIMARY_RUNNING,  /* serving */
    PRIMARY_STOPPING, /* Shutdown sent, waiting for acknowledgements */
} primary_state;

typedef struct {
    rank_context *ctx;
    primary_state state;
    node_registry *registry;
    mpi_link *link;
    gateway *gw;
    namenode *nn;
    scheduler *sched;         /* MapReduce: resource manager and job masters */
    rack_map *racks;          /* NULL: one rack */
    cluster_info info;
    int64_t expiry_ms;
    int64_t stop_deadline_ms;
    uint8_t *awaiting_ack;    /* awaiting_ack[rank]: Shutdown sent, no ack yet */
    int exit_code;
    char exit_reason[512];
    char stop_why[64];
} primary;

/* ---- rank messages ---------------------------------------------------- */

/* Tells the scheduler what node `rank` offers now (its rack too, when the
 * cluster has a rack map). */
static void primary_scheduler_node_up(primary *p, int rank) {
    const node_entry *e = node_registry_get(p->registry, rank);
    if (p->sched == NULL || e == NULL || e->state != NODE_LIVE)
        return;
    char name[32];
    snprintf(name, sizeof(name), "node-%d", rank);
    scheduler_node_up(p->sched, rank, e->hostname,
                      p->racks != NULL ? rack_map_lookup(p->racks, name, e->hostname) : NULL,
                      e->resources.vcores, e->resources.memory_mb);
}

static void primary_send(primary *p, int dest, RankMessage *msg) {
    int rc = mpi_link_send(p->link, dest, msg);
    if (rc != EMBER_OK && rc != EMBER_ECLOSED)
        LOG_WARN("send of %s to rank %d failed: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
}

static void primary_handle_register_node(primary *p, int source, const RegisterNode *m) {
    RegisterAck ack = REGISTER_ACK__INIT;
    ack.cluster_id = p->info.cluster_id;
    ack.reason = "";
    ack.secret = ""; /* set below for accepted core nodes: datanodes check block tokens */
    const node_entry *e = node_registry_get(p->registry, source);
    node_state before = e != NULL ? e->state : NODE_EXPECTED;
    int rc = p->state == PRIMARY_RUNNING || before != NODE_DEAD
                 ? node_registry_register(p->registry, source, m, clock_monotonic_ms(),
                                          clock_wall_ms())
                 : EMBER_ESTATE;
    if (rc == EMBER_OK) {
        ack.accepted = 1;
        if (m->role == NODE_ROLE__ROLE_CORE)
            ack.secret = p->info.secret; /* over MPI: inside the job only */
        /* A node repeats RegisterNode every heartbeat until the ack
         * arrives: only the first one of a registration is news. */
        if (before != NODE_LIVE)
            LOG_INFO("node %d %s: %s node on %s (pid %u, %u cores, %u PUs, %u NUMA nodes; "
                     "offers %u vcores, %llu MB)",
                     source, before == NODE_DEAD ? "came back and registered again" : "registered",
                     role_name(m->role), m->hostname, m->pid, m->hwloc->cores, m->hwloc->pus,
                     m->hwloc->numa_nodes, m->resources->vcores,
                     (unsigned long long)m->resources->memory_mb);
        if (before != NODE_LIVE && m->role == NODE_ROLE__ROLE_CORE && p->nn != NULL)
            namenode_node_registered(p->nn, source);
        primary_scheduler_node_up(p, source);
    } else {
        ack.reason = rc == EMBER_ESTATE ? "node was declared dead and the cluster is stopping"
                                        : "rank or role mismatch";
        LOG_WARN("registration of rank %d refused: %s", source, ack.reason);
    }
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REGISTER_ACK;
    msg.register_ack = &ack;
    primary_send(p, source, &msg);
}

/* A heartbeat of a LIVE rank is recorded; one of a rank that is not LIVE
 * counts for nothing and is answered "register again" -- a dead rank that
 * still runs (it was stopped, not killed) comes back only that way. */
static void primary_handle_heartbeat(primary *p, int source, const Heartbeat *m) {
    int rc = node_registry_heartbeat(p->registry, source, m, clock_monotonic_ms(), clock_wall_ms());
    if (rc == EMBER_EINVAL) {
        LOG_DEBUG("ignoring heartbeat from rank %d: %s", source, ember_strerror(rc));
        return;
    }
    if (rc == EMBER_ESTATE) {
        if (p->state != PRIMARY_RUNNING)
            return; /* stopping: it hears nothing back and leaves on its own */
        LOG_WARN("heartbeat from rank %d, which was declared dead: telling it to register again",
                 source);
        mpi_link_set_alive(p->link, source);
    }
    if (rc == EMBER_OK)
        primary_scheduler_node_up(p, source);
    HeartbeatAck ack = HEARTBEAT_ACK__INIT;
    ack.seq = m->seq;
    ack.reregister = rc != EMBER_OK;
    int world = node_registry_world_size(p->registry);
    uint32_t *dead = malloc((size_t)world * sizeof(*dead) + 1);
    for (int r = 1; dead != NULL && r < world; r++) {
        const node_entry *e = node_registry_get(p->registry, r);
        if (e != NULL && e->state == NODE_DEAD && e->registered_wall > 0)
            dead[ack.n_dead_ranks++] = (uint32_t)r;
    }
    ack.dead_ranks = dead;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT_ACK;
    msg.heartbeat_ack = &ack;
    primary_send(p, source, &msg);
    free(dead);
}

static int primary_stop_done(primary *p);

static void primary_handle_shutdown_ack(primary *p, int source) {
    if (source > 0 && source < p->ctx->world_size && p->awaiting_ack[source]) {
        p->awaiting_ack[source] = 0;
        LOG_INFO("node %d acknowledged shutdown", source);
        if (primary_stop_done(p))
            event_loop_stop(p->ctx->loop);
    }
}

/* Whether source may be heard beyond RegisterNode and Heartbeat: a LIVE
 * rank (fencing: a rank declared dead must register again first). */
static int primary_sender_live(primary *p, int source, const RankMessage *msg) {
    const node_entry *e = node_registry_get(p->registry, source);
    if (e != NULL && e->state == NODE_LIVE)
        return 1;
    LOG_DEBUG("dropping %s from rank %d, which is not a live node", message_rank_name(msg), source);
    return 0;
}

/* The primary's one dispatch of RankMessages: every body is listed (the
 * compiler checks it, there is no default), each routed to its one owner.
 * msg is freed here and only here; no handler keeps a pointer into it. */
static void primary_on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    primary *p = arg;
    (void)link;
    switch (msg->body_case) {
    /* membership: the primary's own */
    case RANK_MESSAGE__BODY_REGISTER_NODE:
        primary_handle_register_node(p, source, msg->register_node);
        break;
    case RANK_MESSAGE__BODY_HEARTBEAT: primary_handle_heartbeat(p, source, msg->heartbeat); break;
    case RANK_MESSAGE__BODY_SHUTDOWN_ACK:
        if (primary_sender_live(p, source, msg) || p->state == PRIMARY_STOPPING)
            primary_handle_shutdown_ack(p, source);
        break;
    /* datanodes to the namenode */
    case RANK_MESSAGE__BODY_BLOCK_RECEIVED:
    case RANK_MESSAGE__BODY_BLOCK_REPORT:
    case RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT:
    case RANK_MESSAGE__BODY_BAD_REPLICA:
    case RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO:
        if (p->nn != NULL && primary_sender_live(p, source, msg))
            namenode_on_rank_message(p->nn, source, msg);
        break;
    /* workers to the scheduler */
    case RANK_MESSAGE__BODY_ATTEMPT_STATUS:
    case RANK_MESSAGE__BODY_FETCH_FAILURE:
        if (p->sched != NULL && primary_sender_live(p, source, msg) &&
            message_check_job_rank(msg) == EMBER_OK)
            scheduler_on_rank_message(p->sched, source, msg);
        break;
    /* what the primary sends, never receives */
    case RANK_MESSAGE__BODY_REGISTER_ACK:
    case RANK_MESSAGE__BODY_HEARTBEAT_ACK:
    case RANK_MESSAGE__BODY_SHUTDOWN:
    case RANK_MESSAGE__BODY_DELETE_BLOCKS:
    case RANK_MESSAGE__BODY_REPLICATE_BLOCK:
    case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
    case RANK_MESSAGE__BODY_UPDATE_REPLICA:
    case RANK_MESSAGE__BODY_LAUNCH_ATTEMPT:
    case RANK_MESSAGE__BODY_KILL_ATTEMPT:
    case RANK_MESSAGE__BODY_COMMIT_RESPONSE:
    case RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS:
    case RANK_MESSAGE__BODY_JOB_FINISHED:
    case RANK_MESSAGE__BODY_SHUFFLE_REQUEST:
    case RANK_MESSAGE__BODY_SHUFFLE_RESPONSE:
    case RANK_MESSAGE__BODY_BLOCK_READ_REQUEST:
    case RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE:
    /* datanode to datanode */
    case RANK_MESSAGE__BODY_PIPELINE_PACKET:
    case RANK_MESSAGE__BODY_PIPELINE_ACK:
    case RANK_MESSAGE__BODY__NOT_SET:
    case _RANK_MESSAGE__BODY__CASE_IS_INT_SIZE:
        LOG_WARN("unexpected %s from rank %d", message_rank_name(msg), source);
        break;
    }
    rank_message__free_unpacked(msg, NULL);
}

/* ---- stopping --------------------------------------------------------- */

/* Whether rank counts as lost: dead, or silent to the Shutdown -- unless
 * it was decommissioned first (retiring it was the point). */
static int primary_node_lost(primary *p, int r) {
    return (node_registry_get(p->registry, r)->state == NODE_DEAD || p->awaiting_ack[r]) &&
           !namenode_node_decommissioned(p->nn, r);
}

/* Sets the exit code and reason from what the registry says now: any node
 * lost makes it CLUSTER_EXIT_NODE_LOST. */
static void primary_set_exit(primary *p) {
    int lost = 0, off;
    for (int r = 1; r < p->ctx->world_size; r++)
        lost += primary_node_lost(p, r);
    if (lost == 0) {
        p->exit_code = CLUSTER_EXIT_OK;
        snprintf(p->exit_reason, sizeof(p->exit_reason), "stopped (%s)", p->stop_why);
        return;
    }
    p->exit_code = CLUSTER_EXIT_NODE_LOST;
    off = snprintf(p->exit_reason, sizeof(p->exit_reason), "stopped (%s); %d node(s) lost:",
                   p->stop_why, lost);
    for (int r = 1; r < p->ctx->world_size && off < (int)sizeof(p->exit_reason) - 16; r++)
        if (primary_node_lost(p, r))
            off += snprintf(p->exit_reason + off, sizeof(p->exit_reason) - (size_t)off,
                            " rank %d", r);
}

static void primary_begin_stop(primary *p, const char *why) {
    if (p->state != PRIMARY_RUNNING)
        return;
    p->state = PRIMARY_STOPPING;
    p->stop_deadline_ms = clock_monotonic_ms() + config_get_int(p->ctx->cfg, "ember.stop.timeout");
    snprintf(p->stop_why, sizeof(p->stop_why), "%s", why);
    primary_set_exit(p);
    LOG_INFO("stopping the cluster (%s)", why);
    Shutdown sd = SHUTDOWN__INIT;
    sd.exit_code = p->exit_code;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_SHUTDOWN;
    msg.shutdown = &sd;
    for (int r = 1; r < p->ctx->world_size; r++) {
        if (node_registry_get(p->registry, r)->state == NODE_DEAD)
            continue;
        if (mpi_link_send(p->link, r, &msg) == EMBER_OK)
            p->awaiting_ack[r] = 1;
    }
}

static int primary_stop_done(primary *p) {
    if (clock_monotonic_ms() >= p->stop_deadline_ms) {
        for (int r = 1; r < p->ctx->world_size; r++)
            if (p->awaiting_ack[r])
                LOG_WARN("node %d did not acknowledge shutdown in time", r);
        return 1;
    }
    for (int r = 1; r < p->ctx->world_size; r++)
        if (p->awaiting_ack[r])
            return 0;
    return 1;
}

/* ---- cron ------------------------------------------------------------- */

static void primary_cron(event_loop *loop, void *arg) {
    primary *p = arg;
    int dead[p->ctx->world_size];
    int n = node_registry_expire(p->registry, clock_monotonic_ms(), dead);
    for (int i = 0; i < n; i++) {
        const node_entry *e = node_registry_get(p->registry, dead[i]);
        LOG_WARN("node %d (%s, %s) is dead: no heartbeat for over %lld ms", dead[i],
                 role_name(e->role), e->registered_wall ? e->hostname : "never registered",
                 (long long)p->expiry_ms);
        mpi_link_set_dead(p->link, dead[i]);
        if (p->nn != NULL)
            namenode_node_lost(p->nn, dead[i]);
        if (p->sched != NULL)
            scheduler_node_lost(p->sched, dead[i]);
        if (p->state == PRIMARY_STOPPING)
            p->awaiting_ack[dead[i]] = 0;
    }
    if (p->state == PRIMARY_STOPPING && primary_stop_done(p))
        event_loop_stop(loop);
}

/* SIGTERM or SIGINT, delivered by the loop: an orderly stop. */
static void primary_on_signal(event_loop *loop, int signo, void *arg) {
    (void)loop;
    primary *p = arg;
    if (p->state == PRIMARY_RUNNING)
        primary_begin_stop(p, signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- client requests -------------------------------------------------- */

/* YARN's name for a node's state: NEW until it registers, RUNNING while
 * live, LOST once declared dead. */
static const char *primary_node_state_name(node_state state) {
    switch (state) {
    case NODE_EXPECTED: return "NEW";
    case NODE_LIVE: return "RUNNING";
    case NODE_DEAD: return "LOST";
    }
    return "NEW";
}

/* The pieces of one NodeReport, filled by primary_fill_report(). */
typedef struct {
    NodeReport report;
    HwlocSummary hw;
    StorageReport storage;
    ContainerResources resources;
} primary_report_parts;

static void primary_fill_report(primary *p, const node_entry *e, primary_report_parts *parts) {
    NodeReport *r = &parts->report;
    HwlocSummary *hw = &parts->hw;
    StorageReport *st = &parts->storage;
    *hw = (HwlocSummary)HWLOC_SUMMARY__INIT;
    hw->packages = e->hw.packages;
    hw->numa_nodes = e->hw.numa_nodes;
    hw->cores = e->hw.cores;
    hw->pus = e->hw.pus;
    hw->memory_bytes = e->hw.memory_bytes;
    *st = (StorageReport)STORAGE_REPORT__INIT;
    st->capacity_bytes = e->storage.capacity_bytes;
    st->used_bytes = e->storage.used_bytes;
    st->remaining_bytes = e->storage.remaining_bytes;
    st->data_dirs = e->storage.dirs;
    st->failed_dirs = e->storage.failed_dirs;
    st->full_dirs = e->storage.full_dirs;
    *r = (NodeReport)NODE_REPORT__INIT;
    r->rank = (uint32_t)e->rank;
    r->role = e->role;
    r->hostname = (char *)e->hostname;
    r->live = e->state == NODE_LIVE;
    r->pid = e->pid;
    r->hwloc = hw;
    r->storage = st;
    r->last_contact_ms = e->last_contact_wall;
    r->registered_ms = e->registered_wall;
    char name[32];
    snprintf(name, sizeof(name), "node-%d", e->rank);
    r->rack = (char *)rack_map_lookup(p->racks, name, e->hostname);
    r->admin_state = (char *)namenode_admin_state(p->nn, e->rank);
    worker_resources_to_proto(&e->resources, &parts->resources);
    r->resources = &parts->resources;
    r->state = (char *)primary_node_state_name(e->state);
}

static void primary_handle_report_request(primary *p, gateway *gw, uint64_t conn) {
    int n = p->ctx->world_size - 1;
    primary_report_parts *parts = calloc((size_t)n + 1, sizeof(*parts));
    NodeReport **ptrs = calloc((size_t)n + 1, sizeof(NodeReport *));
    if (parts == NULL || ptrs == NULL) {
        gateway_reply_error(gw, conn, EMBER_ENOMEM, "out of memory");
        goto done;
    }
    for (int r = 1; r <= n; r++) {
        primary_fill_report(p, node_registry_get(p->registry, r), &parts[r - 1]);
        ptrs[r - 1] = &parts[r - 1].report;
    }
    /* The primary itself, for its host and topology. */
    node_entry self = {.rank = 0, .role = NODE_ROLE__ROLE_PRIMARY, .state = NODE_LIVE,
                       .pid = (uint32_t)getpid(), .hw = p->ctx->hw,
                       .last_contact_wall = clock_wall_ms(), .registered_wall = p->info.started_ms};
    snprintf(self.hostname, sizeof(self.hostname), "%s", p->ctx->hostname);
    primary_fill_report(p, &self, &parts[n]); /* no worker: its resources are zeros */

    ReportResponse resp = REPORT_RESPONSE__INIT;
    resp.n_nodes = (size_t)n;
    resp.nodes = ptrs;
    resp.primary = &parts[n].report;
    BlockHealth health;
    if (p->nn != NULL) {
        namenode_block_health(p->nn, &health);
        resp.blocks = &health;
    }
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_REPORT_RESPONSE;
    msg.report_response = &resp;
    gateway_reply(gw, conn, &msg);
done:
    free(parts);
    free(ptrs);
}

static void primary_handle_status_request(primary *p, gateway *gw, uint64_t conn) {
    StatusResponse resp = STATUS_RESPONSE__INIT;
    resp.cluster_id = p->info.cluster_id;
    resp.started_ms = p->info.started_ms;
    resp.now_ms = clock_wall_ms();
    resp.state = p->state == PRIMARY_RUNNING ? "running" : "stopping";
    resp.world_size = (uint32_t)p->ctx->world_size;
    resp.core_live = (uint32_t)node_registry_count(p->registry, NODE_ROLE__ROLE_CORE, NODE_LIVE);
    resp.core_dead = (uint32_t)node_registry_count(p->registry, NODE_ROLE__ROLE_CORE, NODE_DEAD);
    resp.task_live = (uint32_t)node_registry_count(p->registry, NODE_ROLE__ROLE_TASK, NODE_LIVE);
    resp.task_dead = (uint32_t)node_registry_count(p->registry, NODE_ROLE__ROLE_TASK, NODE_DEAD);
    resp.not_registered =
        (uint32_t)(node_registry_count(p->registry, NODE_ROLE__ROLE_CORE, NODE_EXPECTED) +
                   node_registry_count(p->registry, NODE_ROLE__ROLE_TASK, NODE_EXPECTED));
    resp.primary_host = p->ctx->hostname;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STATUS_RESPONSE;
    msg.status_response = &resp;
    gateway_reply(gw, conn, &msg);
}

static void primary_handle_stop_request(primary *p, gateway *gw, uint64_t conn) {
    primary_begin_stop(p, "ember cluster stop");
    StopResponse resp = STOP_RESPONSE__INIT;
    resp.exit_code = p->exit_code;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STOP_RESPONSE;
    msg.stop_response = &resp;
    gateway_reply(gw, conn, &msg);
}

/* A job request goes to the scheduler as the connection's user (the job
 * bodies' shape checked first). */
static void primary_handle_job_request(primary *p, gateway *gw, uint64_t conn,
                                       ClientMessage *req) {
    const char *user = "nobody", *group;
    if (message_check_job_client(req) != EMBER_OK) {
        gateway_reply_error(gw, conn, EMBER_EPROTO, "malformed job request");
        return;
    }
    if (gateway_client_identity(gw, conn, &user, &group) != EMBER_OK)
        return; /* closed meanwhile */
    scheduler_on_request(p->sched, conn, user, req);
}

/* The primary's one dispatch of client requests (after the gateway's
 * authentication): every body is listed, each routed to its one owner;
 * req is freed here and only here. */
static void primary_on_request(gateway *gw, uint64_t conn, ClientMessage *req, void *arg) {
    primary *p = arg;
    switch (req->body_case) {
    /* the cluster's own */
    case CLIENT_MESSAGE__BODY_REPORT_REQUEST: primary_handle_report_request(p, gw, conn); break;
    case CLIENT_MESSAGE__BODY_STATUS_REQUEST: primary_handle_status_request(p, gw, conn); break;
    case CLIENT_MESSAGE__BODY_STOP_REQUEST: primary_handle_stop_request(p, gw, conn); break;
    /* the file system: the namenode */
    case CLIENT_MESSAGE__BODY_MKDIRS:
    case CLIENT_MESSAGE__BODY_CREATE:
    case CLIENT_MESSAGE__BODY_GET_FILE_INFO:
    case CLIENT_MESSAGE__BODY_LIST_STATUS:
    case CLIENT_MESSAGE__BODY_RENAME:
    case CLIENT_MESSAGE__BODY_DELETE:
    case CLIENT_MESSAGE__BODY_SET_REPLICATION:
    case CLIENT_MESSAGE__BODY_SET_PERMISSION:
    case CLIENT_MESSAGE__BODY_SET_OWNER:
    case CLIENT_MESSAGE__BODY_CONTENT_SUMMARY:
    case CLIENT_MESSAGE__BODY_ADD_BLOCK:
    case CLIENT_MESSAGE__BODY_COMPLETE:
    case CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS:
    case CLIENT_MESSAGE__BODY_REPORT_BAD_BLOCK:
    case CLIENT_MESSAGE__BODY_SAFE_MODE:
    case CLIENT_MESSAGE__BODY_RENEW_LEASE:
    case CLIENT_MESSAGE__BODY_APPEND:
    case CLIENT_MESSAGE__BODY_RECOVER_LEASE:
    case CLIENT_MESSAGE__BODY_DECOMMISSION:
    case CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE:
    case CLIENT_MESSAGE__BODY_SERVER_DEFAULTS:
    case CLIENT_MESSAGE__BODY_SET_TIMES:
    case CLIENT_MESSAGE__BODY_CHECK_ACCESS:
    case CLIENT_MESSAGE__BODY_TRUNCATE:
        namenode_on_request(p->nn, conn, req);
        break;
    /* MapReduce jobs: the scheduler */
    case CLIENT_MESSAGE__BODY_NEW_JOB_ID:
    case CLIENT_MESSAGE__BODY_SUBMIT_JOB:
    case CLIENT_MESSAGE__BODY_JOB_STATUS:
    case CLIENT_MESSAGE__BODY_JOB_LIST:
    case CLIENT_MESSAGE__BODY_KILL_JOB:
    case CLIENT_MESSAGE__BODY_QUEUE_LIST:
        primary_handle_job_request(p, gw, conn, req);
        break;
    /* answers and the handshake: never requests */
    case CLIENT_MESSAGE__BODY_AUTH_CHALLENGE:
    case CLIENT_MESSAGE__BODY_AUTH_RESPONSE:
    case CLIENT_MESSAGE__BODY_AUTH_RESULT:
    case CLIENT_MESSAGE__BODY_ERROR:
    case CLIENT_MESSAGE__BODY_REPORT_RESPONSE:
    case CLIENT_MESSAGE__BODY_STATUS_RESPONSE:
    case CLIENT_MESSAGE__BODY_STOP_RESPONSE:
    case CLIENT_MESSAGE__BODY_DFS_RESULT:
    case CLIENT_MESSAGE__BODY_NEW_JOB_ID_RESPONSE:
    case CLIENT_MESSAGE__BODY_SUBMIT_JOB_RESPONSE:
    case CLIENT_MESSAGE__BODY_JOB_STATUS_RESPONSE:
    case CLIENT_MESSAGE__BODY_JOB_LIST_RESPONSE:
    case CLIENT_MESSAGE__BODY_KILL_JOB_RESPONSE:
    case CLIENT_MESSAGE__BODY_QUEUE_LIST_RESPONSE:
    case CLIENT_MESSAGE__BODY__NOT_SET:
    case _CLIENT_MESSAGE__BODY__CASE_IS_INT_SIZE:
        LOG_WARN("client sent %s, which is not a request", message_client_name(req));
        gateway_reply_error(gw, conn, EMBER_EPROTO, "not a request");
        break;
    }
    client_message__free_unpacked(req, NULL);
}

/* ---- start and run ---------------------------------------------------- */

/* ---- the namenode's host ------------------------------------------------ */

static int primary_nn_datanode(void *arg, int rank, namenode_datanode *out) {
    primary *p = arg;
    return node_registry_namenode_view(p->registry, rank, out);
}

/* The namenode's commands and answers are control messages: the link
 * queues them while the rank lives (never EMBER_EAGAIN), in order. */
static int primary_nn_send(void *arg, int dest, const RankMessage *msg) {
    primary *p = arg;
    return mpi_link_send(p->link, dest, msg);
}

static void primary_nn_reply(void *arg, uint64_t conn, const uint8_t *frame, size_t len) {
    primary *p = arg;
    if (p->gw != NULL)
        gateway_reply_frame(p->gw, conn, frame, len);
}

static void primary_nn_reply_error(void *arg, uint64_t conn, int code, const char *message) {
    primary *p = arg;
    if (p->gw != NULL)
        gateway_reply_error(p->gw, conn, code, message);
}

static int primary_nn_identity(void *arg, uint64_t conn, const char **user, const char **group) {
    primary *p = arg;
    return p->gw != NULL ? gateway_client_identity(p->gw, conn, user, group) : EMBER_ENOENT;
}

/* Keeps the cluster id with the namespace, as HDFS keeps its clusterID in
 * the name directory's VERSION file: a cluster restarted on the same name
 * directory has the same id.  The first start writes it (temporary file,
 * fsync, rename); later ones read it into p->info.  A VERSION file that
 * cannot be read or names no id refuses the start (EMBER_ECORRUPT). */
static int primary_keep_cluster_id(primary *p, const char *name_dir, char *err, size_t errlen) {
    char path[4200], tmp[4210], line[256];
    snprintf(path, sizeof(path), "%s/VERSION", name_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        int found = 0;
        while (!found && fgets(line, sizeof(line), f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strncmp(line, "clusterID=", 10) == 0 && line[10] != '\0' &&
                strlen(line + 10) < sizeof(p->info.cluster_id)) {
                snprintf(p->info.cluster_id, sizeof(p->info.cluster_id), "%s", line + 10);
                found = 1;
            }
        }
        fclose(f);
        if (!found) {
            snprintf(err, errlen, "%s names no clusterID", path);
            return EMBER_ECORRUPT;
        }
        return EMBER_OK;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    int ok = f != NULL && fprintf(f, "clusterID=%s\n", p->info.cluster_id) > 0 && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* Starts the namenode on dfs.namenode.name.dir (default <run-dir>/name),
 * its options read by the namenode itself; the rest is the host's. */
static int primary_start_namenode(primary *p, char *err, size_t errlen) {
    config *cfg = p->ctx->cfg;
    namenode_options opts;
    int rc = namenode_options_from_config(cfg, &opts, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    char name_dir[4096];
    if (opts.name_dir == NULL) {
        if (run_dir_path(p->ctx->run_dir, "name", name_dir, sizeof(name_dir)) != EMBER_OK)
            return EMBER_EINVAL;
        opts.name_dir = name_dir;
    }
    const char *topology = config_get_string(cfg, "net.topology.table.file.name");
    if (topology[0] != '\0') {
        rc = rack_map_load(topology, &p->racks, err, errlen);
        if (rc != EMBER_OK)
            return rc;
        LOG_INFO("rack topology from %s: %zu rack(s)", topology, rack_map_racks(p->racks));
    }
    struct passwd *pw = getpwuid(getuid());
    opts.superuser = pw != NULL ? pw->pw_name : "root";
    opts.max_replication = p->ctx->core_nodes > 0 ? (uint32_t)p->ctx->core_nodes : 1;
    if (opts.default_replication == 0) {
        opts.default_replication = role_default_replication(p->ctx->core_nodes);
        LOG_INFO("default replication %u: EMR's for %d core node(s) (dfs.replication sets it)",
                 opts.default_replication, p->ctx->core_nodes);
    }
    opts.world_size = p->ctx->world_size;
    opts.secret = p->info.secret;
    opts.racks = p->racks;
    opts.host = (namenode_host){.datanode = primary_nn_datanode,
                                .send = primary_nn_send,
                                .reply = primary_nn_reply,
                                .reply_error = primary_nn_reply_error,
                                .identity = primary_nn_identity,
                                .arg = p};
    rc = namenode_create(p->ctx->loop, &opts, &p->nn, err, errlen);
    if (rc == EMBER_OK)
        rc = primary_keep_cluster_id(p, opts.name_dir, err, errlen);
    return rc;
}

/* ---- the scheduler's host ---------------------------------------------- */

static int primary_sched_send(void *arg, int rank, const RankMessage *msg) {
    primary *p = arg;
    return mpi_link_send(p->link, rank, msg);
}

static void primary_sched_reply(void *arg, uint64_t conn, const ClientMessage *msg) {
    primary *p = arg;
    gateway_reply(p->gw, conn, msg);
}

static void primary_sched_reply_error(void *arg, uint64_t conn, int code, const char *message) {
    primary *p = arg;
    gateway_reply_error(p->gw, conn, code, message);
}

static const char *primary_sched_rack(void *arg, const char *host) {
    primary *p = arg;
    return p->racks != NULL ? rack_map_lookup(p->racks, host, host) : NULL;
}

/* A job's staging directory, removed by the namenode here. */
static void primary_sched_remove(void *arg, const char *path) {
    primary *p = arg;
    int rc = p->nn != NULL ? namenode_remove_internal(p->nn, path) : EMBER_ENOENT;
    if (rc != EMBER_OK && rc != EMBER_ENOENT)
        LOG_WARN("cannot remove %s: %s", path, ember_strerror(rc));
}

static int64_t primary_sched_mono(void *arg) {
    (void)arg;
    return clock_monotonic_ms();
}

static int64_t primary_sched_wall(void *arg) {
    (void)arg;
    return clock_wall_ms();
}

/* The gateway's check of a task's job token. */
static int primary_job_auth(void *arg, const char *job_id, uint8_t token[32], const char **user) {
    primary *p = arg;
    return p->sched != NULL ? scheduler_job_auth(p->sched, job_id, token, user) : EMBER_ENOENT;
}

static void primary_scheduler_tick(event_loop *loop, void *arg) {
    (void)loop;
    primary *p = arg;
    if (p->state == PRIMARY_RUNNING)
        scheduler_tick(p->sched);
}

/* Starts the scheduler once the gateway listens (tasks are told its
 * address), with its timer. */
static int primary_start_scheduler(primary *p, char *err, size_t errlen) {
    config *cfg = p->ctx->cfg;
    scheduler_options so = {
        .secret = p->info.secret,
        .gateway_host = p->info.host,
        .gateway_port = (uint32_t)p->info.port,
        .cluster_start_ms = p->info.started_ms,
        .locality_delay = (int)config_get_int(cfg, "ember.scheduler.locality.delay"),
        .capacity_file = config_get_string(cfg, "yarn.scheduler.capacity.file"),
        .host = {.send = primary_sched_send,
                 .reply = primary_sched_reply,
                 .reply_error = primary_sched_reply_error,
                 .rack_of_host = primary_sched_rack,
                 .remove_path = primary_sched_remove,
                 .now_mono = primary_sched_mono,
                 .now_wall = primary_sched_wall,
                 .arg = p}};
    int rc = scheduler_create(&so, &p->sched, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    event_loop_add_timer(p->ctx->loop, PRIMARY_SCHEDULER_TICK_MS, primary_scheduler_tick, p, NULL);
    return EMBER_OK;
}

/* Fills p->info: a new cluster id and the configured or a new secret. */
static int primary_make_info(primary *p) {
    cluster_info *info = &p->info;
    uint8_t raw[8];
    char hex[17];
    int rc = auth_random_bytes(raw, sizeof(raw));
    if (rc != EMBER_OK)
        return rc;
    auth_hex_encode(raw, sizeof(raw), hex);
    snprintf(info->cluster_id, sizeof(info->cluster_id), "CID-%s", hex);
    const char *secret = config_get_string(p->ctx->cfg, "ember.cluster.secret");
    if (strlen(secret) >= sizeof(info->secret))
        return EMBER_ECONFIG;
    if (secret[0] != '\0')
        snprintf(info->secret, sizeof(info->secret), "%s", secret);
    else if ((rc = auth_secret_generate(info->secret, sizeof(info->secret))) != EMBER_OK)
        return rc;
    snprintf(info->host, sizeof(info->host), "%s", p->ctx->public_addr);
    info->started_ms = clock_wall_ms();
    info->world_size = p->ctx->world_size;
    info->primary_pid = (int)getpid();
    return EMBER_OK;
}

int primary_run(rank_context *ctx) {
    primary p = {.ctx = ctx, .exit_code = CLUSTER_EXIT_FAILED};
    snprintf(p.exit_reason, sizeof(p.exit_reason), "failed to start");
    p.expiry_ms = config_get_int(ctx->cfg, "ember.node.expiry");
    int64_t interval = config_get_int(ctx->cfg, "dfs.heartbeat.interval");
    int rc;
    p.awaiting_ack = calloc((size_t)ctx->world_size, 1);
    if (p.awaiting_ack == NULL)
        goto out;
    if ((rc = primary_make_info(&p)) != EMBER_OK) {
        LOG_ERROR("cannot create the cluster identity: %s", ember_strerror(rc));
        goto out;
    }
    rc = node_registry_create(ctx->world_size, ctx->core_nodes, p.expiry_ms, clock_monotonic_ms(),
                              &p.registry);
    if (rc == EMBER_OK)
        rc = mpi_link_create(ctx->loop, config_get_int(ctx->cfg, "ember.mpi.send.timeout"),
                             primary_on_message, &p, &p.link);
    if (rc != EMBER_OK) {
        LOG_ERROR("cannot start the primary: %s", ember_strerror(rc));
        goto out;
    }
    char nn_err[1024] = "";
    if ((rc = primary_start_namenode(&p, nn_err, sizeof(nn_err))) != EMBER_OK) {
        LOG_ERROR("the namenode cannot start: %s", nn_err);
        fprintf(stderr, "ember: the namenode cannot start: %s\n", nn_err);
        snprintf(p.exit_reason, sizeof(p.exit_reason), "namenode: %s", nn_err);
        goto out;
    }
    gateway_options gopts = {.bind_addr = ctx->bind_addr,
                             .port = (int)config_get_int(ctx->cfg, "ember.client.port"),
                             .secret = p.info.secret,
                             .cluster_id = p.info.cluster_id,
                             .auth_timeout_ms = config_get_int(ctx->cfg, "ember.auth.timeout"),
                             .max_connections =
                                 (int)config_get_int(ctx->cfg, "ember.client.max.connections"),
                             .max_unauthenticated =
                                 (int)config_get_int(ctx->cfg, "ember.client.unauthenticated.max"),
                             .max_unauthenticated_per_peer = (int)config_get_int(
                                 ctx->cfg, "ember.client.unauthenticated.per.address"),
                             .on_request = primary_on_request,
                             .job_auth = primary_job_auth,
                             .arg = &p};
    rc = gateway_create(ctx->loop, &gopts, &p.gw, &p.info.port);
    if (rc != EMBER_OK) {
        LOG_ERROR("cannot listen on %s port %d: %s", ctx->bind_addr, gopts.port,
                  ember_strerror(rc));
        fprintf(stderr, "ember: cannot listen on %s port %d: %s\n", ctx->bind_addr, gopts.port,
                ember_strerror(rc));
        goto out;
    }
    char sched_err[1024] = "";
    if ((rc = primary_start_scheduler(&p, sched_err, sizeof(sched_err))) != EMBER_OK) {
        LOG_ERROR("the scheduler cannot start: %s", sched_err);
        fprintf(stderr, "ember: the scheduler cannot start: %s\n", sched_err);
        snprintf(p.exit_reason, sizeof(p.exit_reason), "scheduler: %s", sched_err);
        goto out;
    }
    rc = run_dir_write_info(ctx->run_dir, &p.info);
    if (rc != EMBER_OK) {
        LOG_ERROR("cannot write cluster.json in %s", ctx->run_dir);
        goto out;
    }
    event_loop_add_timer(ctx->loop, interval < 500 ? interval : 500, primary_cron, &p, NULL);
    if (event_loop_add_signal(ctx->loop, SIGTERM, primary_on_signal, &p) != EMBER_OK ||
        event_loop_add_signal(ctx->loop, SIGINT, primary_on_signal, &p) != EMBER_OK)
        LOG_WARN("SIGTERM and SIGINT cannot be taken through the event loop");
    LOG_INFO("primary up: cluster %s, %d ranks (%d core, %d task), clients at %s:%d",
             p.info.cluster_id, ctx->world_size, ctx->core_nodes,
             ctx->world_size - 1 - ctx->core_nodes, p.info.host, p.info.port);

    p.state = PRIMARY_RUNNING;
    rc = event_loop_run(ctx->loop);
    primary_set_exit(&p); /* counts nodes lost during the stop too */
    if (rc != EMBER_OK) {
        p.exit_code = CLUSTER_EXIT_FAILED;
        snprintf(p.exit_reason, sizeof(p.exit_reason), "event loop failed: %s",
                 ember_strerror(rc));
    }
    run_dir_remove_info(ctx->run_dir);
out:
    /* The namenode's last checkpoint before the status file: a script that
     * sees the status may start a new cluster on this run directory. */
    namenode_destroy(p.nn);
    rack_map_destroy(p.racks);
    run_dir_write_status(ctx->run_dir, p.exit_code, p.exit_reason);
    LOG_INFO("cluster exit status %d: %s", p.exit_code, p.exit_reason);
    scheduler_destroy(p.sched);
    gateway_destroy(p.gw);
    mpi_link_destroy(p.link);
    node_registry_destroy(p.registry);
    free(p.awaiting_ack);
    return p.exit_code;
}
