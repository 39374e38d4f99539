/* replication.c -- safe mode and the redundancy monitor of the namenode
 * (HDFS's SafeModeInfo and RedundancyMonitor).
 *
 * Safe mode: at a start with existing blocks, replica locations are
 * unknown until the datanodes report.  Until enough complete blocks have a
 * reported replica -- dfs.namenode.safemode.threshold-pct of them (0.999,
 * rounded up; <= 0: none; > 1: safe mode never ends by itself), HDFS's
 * threshold -- and then for dfs.namenode.safemode.extension more (so the
 * datanodes still reporting can, while the blocks stay above the
 * threshold; falling below it starts the wait again), the namenode refuses
 * changes (namenode_log, with the tip namenode_safe_mode_tip() words) and
 * schedules no replication -- copying blocks merely not reported yet would
 * only make surplus replicas to delete later.  It then leaves by itself;
 * blocks still without a replica are missing (fsck says so).  An operator
 * can enter it (MANUAL: it stays until left; entering while in automatic
 * safe mode changes nothing) and leave it at any time.
 *
 * Redundancy monitor, each dfs.namenode.redundancy.interval outside safe
 * mode: for under-replicated blocks (fewest replicas first) that are not
 * already pending, choose targets by the placement policy (never a node
 * that holds the block) and ask one holder to copy the block there
 * (ReplicateBlock); the block stays pending until it is no longer
 * under-replicated or dfs.namenode.reconstruction.pending.timeout passes,
 * when it is scheduled again.  Surplus replicas of over-replicated blocks
 * are dropped from the map and deleted.  A block with no good replica
 * (missing: none at all; corrupt: only corrupt ones) has nothing to copy
 * from: fsck reports it.
 *
 * Corrupt replicas (HDFS's invalidateCorruptReplicas): a replica reported
 * corrupt stays recorded, uncounted, and is deleted only once the block
 * has good replicas again: as many as its replication (checked when it is
 * marked, when a copy arrives, and at each tick), or -- when no node
 * without a replica of the block can take a copy (3 replicas on 3 nodes)
 * -- at least one, so that the corrupt replica's node can take a good
 * copy at the next tick.  A block whose replicas are all corrupt keeps
 * every one of them.  Nothing is deleted in safe mode.
 *
 * Decommission (dfsadmin -decommission): the node stops taking new
 * blocks (namenode_candidates) and its replicas stop counting
 * (block_manager_set_retiring), so the monitor copies each of its blocks
 * to other nodes -- from any holder, the retiring one included -- while
 * its own replicas stay readable: no block ever has fewer copies than
 * before.  Once its full block report has been processed (or it died) and
 * none of its blocks is under-replicated without it, the node is
 * decommissioned.  Its replicas stay in the map, uncounted (and on its
 * disks, as in HDFS); readers and copies use them only when no other
 * replica is there.  Recommission (dfsadmin -recommission) takes a
 * decommissioning or decommissioned node back to Normal: its replicas
 * count again and the surplus is trimmed as for any over-replicated
 * block.  Every change of admin state is an edit (NodeAdminState), so it
 * survives a restart: states: NORMAL -> DECOMMISSIONING (request) ->
 * DECOMMISSIONED (this monitor); either -> NORMAL (recommission). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "namenode_internal.h"

#define REPLICATION_BATCH 64 /* blocks looked at per tick */

static int replication_pending(namenode *nn, uint64_t id) {
    for (int i = 0; i < nn->npending_repl; i++)
        if (nn->pending_repl[i].block_id == id)
            return 1;
    return 0;
}

/* Drops pending entries that are done (no longer under-replicated) or
 * timed out. */
static void replication_expire(namenode *nn, int64_t now) {
    int j = 0;
    for (int i = 0; i < nn->npending_repl; i++) {
        const pending_replication *p = &nn->pending_repl[i];
        const block_entry *b = block_manager_get(nn->bm, p->block_id);
        int under = b != NULL && b->complete &&
                    block_manager_counted(nn->bm, b) <
                        (int)(b->replication < BLOCK_MANAGER_MAX_REPLICAS
                                  ? b->replication : BLOCK_MANAGER_MAX_REPLICAS);
        if (!under)
            continue;
        if (now >= p->deadline_ms) {
            LOG_WARN("replication of blk_%llu not confirmed in time: scheduling it again",
                     (unsigned long long)p->block_id);
            continue;
        }
        nn->pending_repl[j++] = *p;
    }
    nn->npending_repl = j;
}

/* Deletes every corrupt replica of block_id (dropped from the map, then
 * DeleteBlocks), saying why. */
static void replication_drop_corrupt(namenode *nn, uint64_t block_id, const char *why) {
    const block_entry *b = block_manager_get(nn->bm, block_id);
    while (b != NULL && b->ncorrupt > 0) {
        int rank = b->replicas[b->nreplicas];
        block_manager_remove_replica(nn->bm, block_id, rank);
        LOG_INFO("blk_%llu has %d good replica(s) (%s): deleting the corrupt replica on node %d",
                 (unsigned long long)block_id, b->nreplicas, why, rank);
        namenode_send_delete(nn, rank, &block_id, 1);
        b = block_manager_get(nn->bm, block_id);
    }
}

/* Whether b's corrupt replicas may go because it has its replication in
 * good replicas again (outside safe mode only: nothing is deleted then). */
static int replication_corrupt_done(const namenode *nn, const block_entry *b) {
    return nn->safe_mode == NAMENODE_SAFE_OFF && b->complete && b->ncorrupt > 0 &&
           block_manager_counted(nn->bm, b) >=
               (int)(b->replication < BLOCK_MANAGER_MAX_REPLICAS ? b->replication
                                                                 : BLOCK_MANAGER_MAX_REPLICAS);
}

void namenode_corrupt_marked(namenode *nn, uint64_t block_id) {
    const block_entry *b = block_manager_get(nn->bm, block_id);
    if (b != NULL && replication_corrupt_done(nn, b))
        replication_drop_corrupt(nn, block_id, "its replication");
}

/* The holder a copy of b is read from: spread over the good holders (a
 * datanode runs a few copies at once), a decommissioned node's only when
 * no other holds it.  b has a good replica. */
static int replication_source(namenode *nn, const block_entry *b) {
    int usable[BLOCK_MANAGER_MAX_REPLICAS], n = 0;
    for (int k = 0; k < b->nreplicas; k++)
        if (!namenode_node_decommissioned(nn, b->replicas[k]))
            usable[n++] = b->replicas[k];
    unsigned pick = nn->replication_rr++;
    return n > 0 ? usable[pick % (unsigned)n] : b->replicas[pick % (unsigned)b->nreplicas];
}

/* The ranks a copy of b must not go to: its holders, good or corrupt,
 * and nodes sent a DeleteBlocks of it that has not been confirmed yet
 * (for up to the pending timeout): a copy that reached such a node before
 * the delete would be refused as a replica it already has, and the block
 * would wait out the pending timeout.  Returns how many, at most max. */
static size_t replication_exclude(const namenode *nn, const block_entry *b, int64_t now,
                                  int *out, size_t max) {
    size_t n = 0;
    for (int k = 0; k < b->nreplicas + b->ncorrupt && n < max; k++)
        out[n++] = b->replicas[k];
    for (size_t i = 0; i < NAMENODE_RECENT_DELETES && n < max; i++) {
        const nn_recent_delete *d = &nn->recent_deletes[i];
        if (d->block_id == b->block_id && now - d->sent_ms < nn->opts.pending_timeout_ms)
            out[n++] = d->rank;
    }
    return n;
}

static void replication_schedule(namenode *nn, int64_t now, uint64_t missing) {
    /* Missing blocks come first in the list and cannot be copied: look
     * past them, or they would starve every other block. */
    size_t batch = (size_t)missing + REPLICATION_BATCH;
    uint64_t *ids = malloc(batch * sizeof(*ids));
    if (ids == NULL)
        return;
    size_t n = block_manager_under_replicated(nn->bm, ids, batch);
    int world = nn->opts.world_size;
    placement_node *nodes = calloc((size_t)world, sizeof(*nodes));
    if (nodes == NULL) {
        free(ids);
        return;
    }
    for (size_t i = 0; i < n && nn->npending_repl < NAMENODE_PENDING_MAX; i++) {
        const block_entry *b = block_manager_get(nn->bm, ids[i]);
        if (b == NULL || b->nreplicas == 0 || replication_pending(nn, ids[i]))
            continue; /* no good replica to copy (missing or corrupt), or under way */
        size_t nnodes = namenode_candidates(nn, nodes, b->length); /* room for this copy */
        uint32_t want = b->replication < BLOCK_MANAGER_MAX_REPLICAS ? b->replication
                                                                    : BLOCK_MANAGER_MAX_REPLICAS;
        int targets[BLOCK_MANAGER_MAX_REPLICAS];
        size_t ntargets = 0;
        int counted = block_manager_counted(nn->bm, b);
        int holders = b->nreplicas + b->ncorrupt; /* every one excluded as a target */
        if (holders >= BLOCK_MANAGER_MAX_REPLICAS || (uint32_t)counted >= want)
            continue;
        uint32_t more = want - (uint32_t)counted;
        if (more > (uint32_t)(BLOCK_MANAGER_MAX_REPLICAS - holders))
            more = (uint32_t)(BLOCK_MANAGER_MAX_REPLICAS - holders);
        int exclude[BLOCK_MANAGER_MAX_REPLICAS + 8];
        size_t nexclude = replication_exclude(nn, b, now, exclude, sizeof(exclude) / sizeof(*exclude));
        block_manager_choose_targets(nn->bm, nodes, nnodes, -1, more, exclude, nexclude, targets,
                                     &ntargets);
        if (ntargets == 0) {
            /* No node can take it now: every usable node holds it.  Corrupt
             * replicas in the way go, so their nodes can take a good copy. */
            if (b->ncorrupt > 0)
                replication_drop_corrupt(nn, b->block_id, "no other node can take a copy");
            continue;
        }
        uint32_t utargets[BLOCK_MANAGER_MAX_REPLICAS];
        for (size_t k = 0; k < ntargets; k++)
            utargets[k] = (uint32_t)targets[k];
        int source = replication_source(nn, b);
        ReplicateBlock rb = REPLICATE_BLOCK__INIT;
        rb.block_id = b->block_id;
        rb.gen_stamp = b->gen_stamp;
        rb.n_targets = ntargets;
        rb.targets = utargets;
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_REPLICATE_BLOCK;
        msg.replicate_block = &rb;
        if (namenode_send(nn, source, &msg) != EMBER_OK)
            continue;
        LOG_INFO("blk_%llu has %d of %u replicas: node %d copies it to %zu node(s)",
                 (unsigned long long)b->block_id, counted, b->replication, source, ntargets);
        nn->pending_repl[nn->npending_repl++] =
            (pending_replication){.block_id = b->block_id,
                                  .deadline_ms = now + nn->opts.pending_timeout_ms};
    }
    free(nodes);
    free(ids);
}

/* The surplus replica to delete: the holder added last, never a retiring
 * one (it does not count); -1 when there is none. */
static int replication_victim(namenode *nn, const block_entry *b) {
    for (int k = b->nreplicas - 1; k >= 0; k--)
        if (!block_manager_is_retiring(nn->bm, b->replicas[k]))
            return b->replicas[k];
    return -1;
}

/* Deletes the surplus replicas of over-replicated blocks (the holders
 * added last go first). */
static void replication_trim(namenode *nn) {
    uint64_t ids[REPLICATION_BATCH];
    size_t n = block_manager_over_replicated(nn->bm, ids, REPLICATION_BATCH);
    for (size_t i = 0; i < n; i++) {
        const block_entry *b = block_manager_get(nn->bm, ids[i]);
        while (b != NULL && block_manager_counted(nn->bm, b) > (int)b->replication) {
            int rank = replication_victim(nn, b);
            if (rank < 0)
                break;
            uint64_t id = b->block_id;
            block_manager_remove_replica(nn->bm, id, rank);
            LOG_INFO("blk_%llu is over-replicated: deleting the replica on node %d",
                     (unsigned long long)id, rank);
            namenode_send_delete(nn, rank, &id, 1);
            b = block_manager_get(nn->bm, id);
        }
    }
}

/* Deletes the corrupt replicas of blocks that have their replication in
 * good ones again (REPLICATION_BATCH per tick). */
static void replication_corrupt_tick(namenode *nn) {
    uint64_t ids[REPLICATION_BATCH];
    size_t n = block_manager_corrupt_replicated(nn->bm, ids, REPLICATION_BATCH);
    for (size_t i = 0; i < n; i++)
        replication_drop_corrupt(nn, ids[i], "its replication");
}

void namenode_replica_added(namenode *nn, uint64_t block_id) {
    const block_entry *b = block_manager_get(nn->bm, block_id);
    if (b == NULL ||
        block_manager_counted(nn->bm, b) < (int)(b->replication < BLOCK_MANAGER_MAX_REPLICAS
                                                     ? b->replication
                                                     : BLOCK_MANAGER_MAX_REPLICAS))
        return;
    /* Full again: its corrupt replicas are no longer needed (HDFS's
     * addStoredBlock). */
    if (replication_corrupt_done(nn, b))
        replication_drop_corrupt(nn, block_id, "its replication");
    /* Done: forget the pending entry now, so that a replica lost later
     * is scheduled at once rather than after the pending timeout. */
    for (int i = 0; i < nn->npending_repl; i++)
        if (nn->pending_repl[i].block_id == block_id) {
            nn->pending_repl[i] = nn->pending_repl[--nn->npending_repl];
            break;
        }
}

/* ---- safe mode ------------------------------------------------------------ */

/* The complete blocks that need a reported replica before automatic safe
 * mode may end: the threshold fraction of them, rounded up; UINT64_MAX for
 * a threshold over 1 (never). */
static uint64_t safe_mode_needed(const namenode *nn, uint64_t complete) {
    int64_t ppm = nn->opts.safemode_threshold_ppm;
    if (ppm <= 0)
        return 0;
    if (ppm > 1000000)
        return UINT64_MAX;
    /* complete * ppm / 10^6 rounded up, without overflow for any count */
    uint64_t whole = complete / 1000000 * (uint64_t)ppm;
    uint64_t part = (complete % 1000000 * (uint64_t)ppm + 999999) / 1000000;
    return whole + part;
}

void namenode_safe_mode_tip(namenode *nn, char *buf, size_t len) {
    if (nn->safe_mode == NAMENODE_SAFE_MANUAL) {
        snprintf(buf, len,
                 "Name node is in safe mode: it was turned on manually; use 'ember dfsadmin "
                 "-safemode leave' to turn it off");
        return;
    }
    block_manager_stats bs;
    block_manager_get_stats(nn->bm, &bs);
    uint64_t safe = bs.complete - bs.missing - bs.corrupt,
             need = safe_mode_needed(nn, bs.complete);
    char threshold[32];
    snprintf(threshold, sizeof(threshold), "%.4f", (double)nn->opts.safemode_threshold_ppm / 1e6);
    if (need == UINT64_MAX)
        snprintf(buf, len,
                 "Name node is in safe mode: the threshold %s of total blocks %llu can never be "
                 "reached; use 'ember dfsadmin -safemode leave' to turn it off",
                 threshold, (unsigned long long)bs.complete);
    else if (safe < need)
        snprintf(buf, len,
                 "Name node is in safe mode: the reported blocks %llu need additional %llu "
                 "blocks to reach the threshold %s of total blocks %llu; it turns off by itself "
                 "then (or 'ember dfsadmin -safemode leave')",
                 (unsigned long long)safe, (unsigned long long)(need - safe), threshold,
                 (unsigned long long)bs.complete);
    else
        snprintf(buf, len,
                 "Name node is in safe mode: the reported blocks %llu have reached the threshold "
                 "%s of total blocks %llu; it turns off by itself within %lld ms",
                 (unsigned long long)safe, threshold, (unsigned long long)bs.complete,
                 (long long)nn->opts.safemode_extension_ms);
}

/* Automatic safe mode: whether it may end now (see the file comment). */
static int safe_mode_can_leave(namenode *nn, const block_manager_stats *bs, int64_t now) {
    uint64_t safe = bs->complete - bs->missing - bs->corrupt,
             need = safe_mode_needed(nn, bs->complete);
    if (safe < need) {
        if (nn->safe_reached_ms != 0)
            LOG_INFO("safe mode: %llu of %llu block(s) reported, below the threshold again",
                     (unsigned long long)safe, (unsigned long long)bs->complete);
        nn->safe_reached_ms = 0;
        return 0;
    }
    if (nn->safe_reached_ms == 0) {
        nn->safe_reached_ms = now;
        if (nn->opts.safemode_extension_ms > 0)
            LOG_INFO("safe mode: %llu of %llu block(s) reported, threshold reached; "
                     "leaving in %lld ms",
                     (unsigned long long)safe, (unsigned long long)bs->complete,
                     (long long)nn->opts.safemode_extension_ms);
    }
    return now - nn->safe_reached_ms >= nn->opts.safemode_extension_ms;
}

void namenode_redundancy_tick(event_loop *loop, void *arg) {
    namenode *nn = arg;
    block_manager_stats bs;
    block_manager_get_stats(nn->bm, &bs);
    int64_t now = clock_monotonic_ms();
    if (nn->safe_mode == NAMENODE_SAFE_AUTO) {
        if (!safe_mode_can_leave(nn, &bs, now))
            return;
        nn->safe_mode = NAMENODE_SAFE_OFF;
        if (bs.missing == 0 && bs.corrupt == 0)
            LOG_INFO("leaving safe mode: every one of %llu block(s) has a reported replica",
                     (unsigned long long)bs.complete);
        else
            LOG_WARN("leaving safe mode with %llu of %llu block(s) missing (no replica reported) "
                     "and %llu corrupt (only corrupt replicas)",
                     (unsigned long long)bs.missing, (unsigned long long)bs.complete,
                     (unsigned long long)bs.corrupt);
    }
    if (nn->safe_mode != NAMENODE_SAFE_OFF || nn->opts.host.send == NULL)
        return;
    replication_expire(nn, now);
    if (bs.under_replicated > bs.missing + bs.corrupt)
        replication_schedule(nn, now, bs.missing + bs.corrupt);
    if (bs.corrupt_replicas > 0)
        replication_corrupt_tick(nn);
    if (bs.over_replicated > 0)
        replication_trim(nn);
    replication_decommission_progress(nn);
}

/* ---- decommission ---------------------------------------------------------- */

static const char *const admin_names[] = {
    [NN_ADMIN_NORMAL] = "Normal",
    [NN_ADMIN_DECOMMISSIONING] = "Decommission in progress",
    [NN_ADMIN_DECOMMISSIONED] = "Decommissioned",
};

const char *namenode_admin_state(const namenode *nn, int rank) {
    if (nn == NULL || rank <= 0 || rank >= nn->opts.world_size)
        return admin_names[NN_ADMIN_NORMAL];
    return admin_names[nn->admin[rank]];
}

int namenode_node_decommissioned(const namenode *nn, int rank) {
    return nn != NULL && rank > 0 && rank < nn->opts.world_size && nn->admin[rank] == NN_ADMIN_DECOMMISSIONED;
}

/* Checks that rank names a core node of this cluster: 0, else conn is
 * told why (one line) and EMBER_ENOENT comes back. */
static int decommission_check_node(namenode *nn, uint64_t conn, uint32_t rank) {
    namenode_datanode d;
    int known = rank > 0 && rank < (uint32_t)nn->opts.world_size &&
                namenode_datanode_get(nn, (int)rank, &d) == EMBER_OK;
    if (known && d.core)
        return EMBER_OK;
    char msg[256];
    snprintf(msg, sizeof(msg), "node-%u is not a core node (a datanode) of this cluster: %s", rank,
             rank == 0       ? "it is the primary, which stores no blocks"
             : !known        ? "no such node"
                             : "it is a task node, which stores no blocks");
    namenode_reply_error(nn, conn, EMBER_ENOENT, msg);
    return EMBER_ENOENT;
}

/* Logs rank's new admin state (applied by namenode_admin_state_apply()
 * through namenode_log); conn, or the log with NAMENODE_NO_CONN, hears of
 * a failure. */
static int decommission_log(namenode *nn, uint64_t conn, int rank, int state) {
    NodeAdminState op = NODE_ADMIN_STATE__INIT;
    op.rank = (uint32_t)rank;
    op.state = (uint32_t)state;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_ADMIN_STATE;
    rec.admin_state = &op;
    char node[32];
    snprintf(node, sizeof(node), "node-%d", rank);
    return namenode_log(nn, conn, &rec, "/", node, NULL);
}

/* Decommissioning a node that is not Normal changes nothing (as HDFS's
 * -refreshNodes with the host already excluded); recommissioning a Normal
 * one is refused.  A change is answered after the group commit. */
void namenode_handle_decommission(namenode *nn, uint64_t conn, const DecommissionRequest *m) {
    if (decommission_check_node(nn, conn, m->rank) != 0)
        return;
    int rank = (int)m->rank;
    DfsResult res = DFS_RESULT__INIT;
    if (!m->recommission && nn->admin[rank] != NN_ADMIN_NORMAL) {
        namenode_answer(nn, conn, &res, 0);
        return;
    }
    if (m->recommission && nn->admin[rank] == NN_ADMIN_NORMAL) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "node-%d is Normal (neither decommissioned nor being decommissioned): nothing to "
                 "recommission",
                 rank);
        namenode_reply_error(nn, conn, EMBER_ESTATE, msg);
        return;
    }
    int from = nn->admin[rank];
    if (decommission_log(nn, conn, rank,
                         m->recommission ? NN_ADMIN_NORMAL : NN_ADMIN_DECOMMISSIONING) != EMBER_OK)
        return;
    if (m->recommission)
        LOG_INFO("node %d recommissioned (it was %s): it takes blocks again and its replicas "
                 "count",
                 rank, admin_names[from]);
    else
        LOG_INFO("decommissioning node %d: its blocks are copied elsewhere first", rank);
    namenode_answer(nn, conn, &res, 1);
}

/* Replay and live alike.  A rank this cluster does not have (it was
 * started with fewer ranks than when the record was written) is skipped:
 * the state goes with the next checkpoint. */
int namenode_admin_state_apply(namenode *nn, const NodeAdminState *op) {
    if (op->state > NN_ADMIN_DECOMMISSIONED)
        return EMBER_EINVAL;
    if (op->rank == 0 || op->rank >= (uint32_t)nn->opts.world_size) {
        LOG_WARN("admin state '%s' of node-%u skipped: this cluster has no such node",
                 admin_names[op->state], op->rank);
        return EMBER_OK;
    }
    int rc = block_manager_set_retiring(nn->bm, (int)op->rank, op->state != NN_ADMIN_NORMAL);
    if (rc != EMBER_OK)
        return rc;
    nn->admin[op->rank] = (uint8_t)op->state;
    return EMBER_OK;
}

/* A decommissioning node whose blocks the map cannot know yet (no full
 * report since this start: after a restart) waits; a dead one's replicas
 * are gone from the map already. */
void replication_decommission_progress(namenode *nn) {
    for (int rank = 1; rank < nn->opts.world_size; rank++) {
        if (nn->admin[rank] != NN_ADMIN_DECOMMISSIONING)
            continue;
        namenode_datanode e;
        int dead = namenode_datanode_get(nn, rank, &e) == EMBER_OK && e.dead;
        if ((!dead && !block_manager_reported(nn->bm, rank)) ||
            block_manager_retiring_pending(nn->bm, rank) > 0)
            continue;
        if (decommission_log(nn, NAMENODE_NO_CONN, rank, NN_ADMIN_DECOMMISSIONED) != EMBER_OK)
            continue; /* the log failed: it stays in progress */
        LOG_INFO("node %d decommissioned: every one of its blocks has its replication without "
                 "it (its replicas stay, uncounted)",
                 rank);
    }
}

void namenode_handle_safe_mode(namenode *nn, uint64_t conn, const SafeModeRequest *m) {
    if (m->action == 1 && nn->safe_mode == NAMENODE_SAFE_OFF) {
        nn->safe_mode = NAMENODE_SAFE_MANUAL;
        LOG_INFO("safe mode entered by an operator");
    } else if (m->action == 2 && nn->safe_mode != NAMENODE_SAFE_OFF) {
        nn->safe_mode = NAMENODE_SAFE_OFF;
        nn->safe_reached_ms = 0;
        LOG_INFO("safe mode left by an operator");
    }
    DfsResult res = DFS_RESULT__INIT;
    res.safe_mode = nn->safe_mode != NAMENODE_SAFE_OFF;
    namenode_answer(nn, conn, &res, 0);
}

void namenode_block_health(const namenode *nn, BlockHealth *out) {
    block_manager_stats bs;
    block_manager_get_stats(nn->bm, &bs);
    *out = (BlockHealth)BLOCK_HEALTH__INIT;
    out->under_replicated = bs.under_replicated;
    out->with_corrupt_replicas = bs.with_corrupt;
    /* Hadoop's missing blocks: no good replica, whether or not corrupt
     * ones remain (fsck tells the two apart). */
    out->missing = bs.missing + bs.corrupt;
    out->missing_replication_one = bs.lost_repl_one;
}
