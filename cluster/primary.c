/* primary.c -- the primary rank's daemon (see primary.h).
 *
 * Everything here runs on the loop thread.  Rank messages arrive through
 * primary_on_message(), client requests through primary_on_request(); each
 * dispatches on the envelope's body to one handle_<message>() function.
 * A cron timer runs every heartbeat interval (at most every 500 ms) to
 * expire silent nodes and to finish a stop.
 *
 * Stop sequence: handle_stop_request() (or SIGTERM/SIGINT) calls
 * primary_begin_stop(), which sends Shutdown to every rank not known dead
 * and enters STOPPING; the cron ends the loop when every such rank has
 * acknowledged or ember.stop.timeout has passed.  primary_run() then writes
 * the status file (3 when any node died, or never acknowledged the
 * Shutdown), removes cluster.json and returns. */
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
    rack_map *racks;          /* NULL: one rack */
    cluster_info info;
    int64_t expiry_ms;
    int64_t stop_deadline_ms;
    uint8_t *awaiting_ack;    /* awaiting_ack[rank]: Shutdown sent, no ack yet */
    int exit_code;
    char exit_reason[512];
    char stop_why[64];
} primary;

static volatile sig_atomic_t primary_signal;

static void primary_on_signal(int sig) { primary_signal = sig; }

/* ---- rank messages ---------------------------------------------------- */

static void primary_send(primary *p, int dest, RankMessage *msg) {
    int rc = mpi_link_send(p->link, dest, msg);
    if (rc != EMBER_OK && rc != EMBER_ECLOSED)
        LOG_WARN("send of %s to rank %d failed: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
}

static void handle_register_node(primary *p, int source, const RegisterNode *m) {
    RegisterAck ack = REGISTER_ACK__INIT;
    ack.cluster_id = p->info.cluster_id;
    ack.reason = "";
    ack.secret = ""; /* set below for accepted core nodes: datanodes check block tokens */
    int rc = node_registry_register(p->registry, source, m, clock_monotonic_ms(), clock_wall_ms());
    if (rc == EMBER_OK) {
        ack.accepted = 1;
        if (m->role == NODE_ROLE__ROLE_CORE)
            ack.secret = p->info.secret; /* over MPI: inside the job only */
        LOG_INFO("node %d registered: %s node on %s (pid %u, %u cores, %u PUs, %u NUMA nodes)",
                 source, role_name(m->role), m->hostname, m->pid, m->hwloc->cores, m->hwloc->pus,
                 m->hwloc->numa_nodes);
    } else {
        ack.reason = rc == EMBER_ESTATE ? "node was declared dead" : "rank or role mismatch";
        LOG_WARN("registration of rank %d refused: %s", source, ack.reason);
    }
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REGISTER_ACK;
    msg.register_ack = &ack;
    primary_send(p, source, &msg);
}

static void handle_heartbeat(primary *p, int source, const Heartbeat *m) {
    int rc = node_registry_heartbeat(p->registry, source, m, clock_monotonic_ms(), clock_wall_ms());
    if (rc == EMBER_ESTATE || rc == EMBER_EINVAL) {
        LOG_DEBUG("ignoring heartbeat from rank %d: %s", source, ember_strerror(rc));
        return; /* a dead node hears nothing back and fences itself */
    }
    HeartbeatAck ack = HEARTBEAT_ACK__INIT;
    ack.seq = m->seq;
    ack.reregister = rc == EMBER_ENOENT;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_HEARTBEAT_ACK;
    msg.heartbeat_ack = &ack;
    primary_send(p, source, &msg);
}

static int primary_stop_done(primary *p);

static void handle_shutdown_ack(primary *p, int source) {
    if (source > 0 && source < p->ctx->world_size && p->awaiting_ack[source]) {
        p->awaiting_ack[source] = 0;
        LOG_INFO("node %d acknowledged shutdown", source);
        if (primary_stop_done(p))
            event_loop_stop(p->ctx->loop);
    }
}

static void primary_on_message(mpi_link *link, int source, RankMessage *msg, void *arg) {
    primary *p = arg;
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_REGISTER_NODE: handle_register_node(p, source, msg->register_node); break;
    case RANK_MESSAGE__BODY_HEARTBEAT: handle_heartbeat(p, source, msg->heartbeat); break;
    case RANK_MESSAGE__BODY_SHUTDOWN_ACK: handle_shutdown_ack(p, source); break;
    default:
        if (p->nn != NULL && namenode_handle_rank_message(p->nn, source, msg))
            return; /* it took msg */
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
           strcmp(namenode_admin_state(p->nn, r), "Decommissioned") != 0;
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
        if (p->state == PRIMARY_STOPPING)
            p->awaiting_ack[dead[i]] = 0;
    }
    if (primary_signal != 0 && p->state == PRIMARY_RUNNING)
        primary_begin_stop(p, primary_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    if (p->state == PRIMARY_STOPPING && primary_stop_done(p))
        event_loop_stop(loop);
}

/* ---- client requests -------------------------------------------------- */

static void primary_fill_report(primary *p, const node_entry *e, NodeReport *r, HwlocSummary *hw,
                                StorageReport *st) {
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
}

static void handle_report_request(primary *p, gateway *gw, uint64_t conn) {
    int n = p->ctx->world_size - 1;
    NodeReport *reports = calloc((size_t)n + 1, sizeof(NodeReport));
    NodeReport **ptrs = calloc((size_t)n + 1, sizeof(NodeReport *));
    HwlocSummary *hws = calloc((size_t)n + 1, sizeof(HwlocSummary));
    StorageReport *sts = calloc((size_t)n + 1, sizeof(StorageReport));
    if (reports == NULL || ptrs == NULL || hws == NULL || sts == NULL) {
        gateway_reply_error(gw, conn, EMBER_ENOMEM, "out of memory");
        goto done;
    }
    for (int r = 1; r <= n; r++) {
        primary_fill_report(p, node_registry_get(p->registry, r), &reports[r - 1], &hws[r - 1],
                            &sts[r - 1]);
        ptrs[r - 1] = &reports[r - 1];
    }
    /* The primary itself, for its host and topology. */
    node_entry self = {.rank = 0, .role = NODE_ROLE__ROLE_PRIMARY, .state = NODE_LIVE,
                       .pid = (uint32_t)getpid(), .hw = p->ctx->hw,
                       .last_contact_wall = clock_wall_ms(), .registered_wall = p->info.started_ms};
    snprintf(self.hostname, sizeof(self.hostname), "%s", p->ctx->hostname);
    primary_fill_report(p, &self, &reports[n], &hws[n], &sts[n]);

    ReportResponse resp = REPORT_RESPONSE__INIT;
    resp.n_nodes = (size_t)n;
    resp.nodes = ptrs;
    resp.primary = &reports[n];
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_REPORT_RESPONSE;
    msg.report_response = &resp;
    gateway_reply(gw, conn, &msg);
done:
    free(reports);
    free(ptrs);
    free(hws);
    free(sts);
}

static void handle_status_request(primary *p, gateway *gw, uint64_t conn) {
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

static void handle_stop_request(primary *p, gateway *gw, uint64_t conn) {
    primary_begin_stop(p, "ember cluster stop");
    StopResponse resp = STOP_RESPONSE__INIT;
    resp.exit_code = p->exit_code;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_STOP_RESPONSE;
    msg.stop_response = &resp;
    gateway_reply(gw, conn, &msg);
}

static void primary_on_request(gateway *gw, uint64_t conn, ClientMessage *req, void *arg) {
    primary *p = arg;
    switch (req->body_case) {
    case CLIENT_MESSAGE__BODY_REPORT_REQUEST: handle_report_request(p, gw, conn); break;
    case CLIENT_MESSAGE__BODY_STATUS_REQUEST: handle_status_request(p, gw, conn); break;
    case CLIENT_MESSAGE__BODY_STOP_REQUEST: handle_stop_request(p, gw, conn); break;
    default:
        if (namenode_handle_request(p->nn, gw, conn, req))
            return; /* it took req */
        LOG_WARN("client sent %s, which is not a request", message_client_name(req));
        gateway_reply_error(gw, conn, EMBER_EPROTO, "not a request");
        break;
    }
    client_message__free_unpacked(req, NULL);
}

/* ---- start and run ---------------------------------------------------- */

static int primary_send_rank(void *arg, int dest, const RankMessage *msg) {
    primary *p = arg;
    return mpi_link_send(p->link, dest, msg);
}

/* Starts the namenode on dfs.namenode.name.dir (default <run-dir>/name). */
static int primary_start_namenode(primary *p, char *err, size_t errlen) {
    config *cfg = p->ctx->cfg;
    char name_dir[4096];
    const char *conf_dir = config_get_string(cfg, "dfs.namenode.name.dir");
    if (conf_dir[0] != '\0')
        snprintf(name_dir, sizeof(name_dir), "%s", conf_dir);
    else if (run_dir_path(p->ctx->run_dir, "name", name_dir, sizeof(name_dir)) != EMBER_OK)
        return EMBER_EINVAL;
    struct passwd *pw = getpwuid(getuid());
    int64_t block_size = config_get_int(cfg, "dfs.blocksize");
    if (block_size % 512 != 0) {
        snprintf(err, errlen, "dfs.blocksize %lld is not a multiple of 512", (long long)block_size);
        return EMBER_ECONFIG;
    }
    const char *topology = config_get_string(cfg, "net.topology.table.file.name");
    if (topology[0] != '\0') {
        int rc = rack_map_load(topology, &p->racks, err, errlen);
        if (rc != EMBER_OK)
            return rc;
        LOG_INFO("rack topology from %s: %zu rack(s)", topology, rack_map_racks(p->racks));
    }
    namenode_options opts = {
        .name_dir = name_dir,
        .racks = p->racks,
        .superuser = pw != NULL ? pw->pw_name : "root",
        .default_replication = (uint32_t)config_get_int(cfg, "dfs.replication"),
        .max_replication = p->ctx->core_nodes > 0 ? (uint32_t)p->ctx->core_nodes : 1,
        .default_block_size = (uint64_t)block_size,
        .checkpoint_txns = (uint64_t)config_get_int(cfg, "dfs.namenode.checkpoint.txns"),
        .checkpoint_period_ms = config_get_int(cfg, "dfs.namenode.checkpoint.period"),
        .list_limit = (uint32_t)config_get_int(cfg, "ember.dfs.list.limit"),
        .world_size = p->ctx->world_size,
        .secret = p->info.secret,
        .token_lifetime_ms = config_get_int(cfg, "dfs.block.access.token.lifetime"),
        .redundancy_interval_ms = config_get_int(cfg, "dfs.namenode.redundancy.interval"),
        .pending_timeout_ms = config_get_int(cfg, "dfs.namenode.reconstruction.pending.timeout"),
        .safemode_threshold_ppm = config_get_int(cfg, "dfs.namenode.safemode.threshold-pct"),
        .safemode_extension_ms = config_get_int(cfg, "dfs.namenode.safemode.extension"),
        .permissions = (int)config_get_int(cfg, "dfs.permissions.enabled"),
        .group_overrides = config_get_string(cfg, "hadoop.user.group.static.mapping.overrides"),
        .groups_cache_ms = config_get_int(cfg, "hadoop.security.groups.cache.secs"),
        .lease_soft_limit_ms = config_get_int(cfg, "ember.namenode.lease-soft-limit"),
        .lease_hard_limit_ms = config_get_int(cfg, "dfs.namenode.lease-hard-limit-sec"),
        .lease_recheck_ms = config_get_int(cfg, "dfs.namenode.lease-recheck-interval-ms"),
        .socket_timeout_ms = config_get_int(cfg, "dfs.datanode.socket.timeout"),
        /* A block recovery phase waits for every live datanode's answer:
         * ten heartbeats, at least two seconds. */
        .recovery_timeout_ms = 10 * config_get_int(cfg, "dfs.heartbeat.interval") > 2000
                                   ? 10 * config_get_int(cfg, "dfs.heartbeat.interval")
                                   : 2000,
        .registry = p->registry,
        .send = primary_send_rank,
        .send_arg = p,
    };
    return namenode_create(p->ctx->loop, &opts, &p->nn, err, errlen);
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
                             .on_request = primary_on_request,
                             .arg = &p};
    rc = gateway_create(ctx->loop, &gopts, &p.gw, &p.info.port);
    if (rc != EMBER_OK) {
        LOG_ERROR("cannot listen on %s port %d: %s", ctx->bind_addr, gopts.port,
                  ember_strerror(rc));
        fprintf(stderr, "ember: cannot listen on %s port %d: %s\n", ctx->bind_addr, gopts.port,
                ember_strerror(rc));
        goto out;
    }
    rc = run_dir_write_info(ctx->run_dir, &p.info);
    if (rc != EMBER_OK) {
        LOG_ERROR("cannot write cluster.json in %s", ctx->run_dir);
        goto out;
    }
    event_loop_add_timer(ctx->loop, interval < 500 ? interval : 500, primary_cron, &p, NULL);
    struct sigaction sa = {.sa_handler = primary_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
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
    gateway_destroy(p.gw);
    mpi_link_destroy(p.link);
    node_registry_destroy(p.registry);
    free(p.awaiting_ack);
    return p.exit_code;
}
