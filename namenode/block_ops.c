/* block_ops.c -- the namenode's block operations (see namenode_internal.h).
 *
 * Write protocol, as HDFS's: the writer creates the file under
 * construction, then for each block asks add_block (which logs EditAddBlock
 * -- the previous block's final length included -- and answers with the
 * pipeline and a write token), streams the block to the datanodes, and at
 * the end asks complete (EditComplete).  complete waits (EMBER_EAGAIN, the
 * client retries) until every block has at least one reported replica.
 * Replica locations come only from datanodes: BlockReceived after each
 * finalized replica, a full BlockReport after each registration (and
 * periodically), and IncrementalBlockReports: replicas a datanode's
 * directory scanner found gone from its disk (dropped from the map, so
 * that the redundancy monitor copies the block again) or found on it
 * (taken as BlockReceived), and the replicas it deleted on a DeleteBlocks.
 * Replicas of deleted files, and replicas the map does not want (unknown
 * or stale), are deleted with DeleteBlocks.  The map drops a replica when
 * it sends the DeleteBlocks (or before: a deleted file's, a surplus one, a
 * corrupt one), without waiting for the datanode: a block is then copied
 * again without delay, and no reader is sent to a replica about to go.
 * The datanode's confirmation (an IncrementalBlockReport's deleted entry)
 * finds it already dropped, and takes the block off the ring of recent
 * deletes, which until then keeps a block report sent before the delete
 * arrived from bringing the replica back.  Reads get located blocks with
 * a read token per block.
 * Reads get the good replicas (a decommissioned node's only when no
 * other is there), and the corrupt ones, flagged, only when no good one
 * is (or fsck asks for them).  A replica reported corrupt, by a reader or
 * its datanode's scanner, is marked so in the block map and kept;
 * replication.c deletes it once the block has enough good ones.
 *
 * Pipeline recovery (HDFS's updateBlockForPipeline): when a datanode of
 * its pipeline fails, the writer asks for a new gen stamp for the block
 * being written (the file's last, incomplete); EditUpdateBlock gives it to
 * the block and forgets its replicas, which the remaining datanodes report
 * again (BlockReceived) under the new stamp once they finalize.  A replica
 * left at an older stamp -- the failed node's -- is neither counted nor
 * deleted while the block is under construction (lease recovery could
 * need it) and is deleted as stale once the block is complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "namenode_internal.h"
#include "rack_map.h"
#include "proto/message.h"

/* ---- helpers ---------------------------------------------------------------- */

void namenode_send_delete(namenode *nn, int rank, const uint64_t *ids, size_t n) {
    if (n == 0 || nn->opts.host.send == NULL)
        return;
    int64_t now = clock_monotonic_ms();
    for (size_t i = 0; i < n; i++) {
        nn_recent_delete *d = &nn->recent_deletes[nn->recent_next++ % NAMENODE_RECENT_DELETES];
        *d = (nn_recent_delete){.rank = rank, .block_id = ids[i], .sent_ms = now};
    }
    DeleteBlocks del = DELETE_BLOCKS__INIT;
    del.n_block_ids = n;
    del.block_ids = (uint64_t *)ids;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_DELETE_BLOCKS;
    msg.delete_blocks = &del;
    int rc = namenode_send(nn, rank, &msg);
    if (rc != EMBER_OK)
        LOG_WARN("cannot ask node %d to delete %zu replica(s): %s", rank, n, ember_strerror(rc));
}

void namenode_blocks_removed(uint64_t inode_id, const uint64_t *blocks, size_t nblocks,
                             void *arg) {
    namenode *nn = arg;
    for (size_t i = 0; i < nblocks; i++) {
        int holders[BLOCK_MANAGER_MAX_REPLICAS], n = 0;
        if (block_manager_remove(nn->bm, blocks[i], holders, &n) != EMBER_OK)
            continue;
        for (int k = 0; k < n; k++)
            namenode_send_delete(nn, holders[k], &blocks[i], 1);
    }
}

/* Fills a token for block id/gs; mac must have AUTH_MAC_LEN bytes. */
void namenode_block_token(namenode *nn, BlockToken *t, uint8_t *mac, uint64_t id, uint64_t gs,
                            uint32_t mode) {
    *t = (BlockToken)BLOCK_TOKEN__INIT;
    t->block_id = id;
    t->gen_stamp = gs;
    t->mode = mode;
    t->expiry_ms = clock_wall_ms() + nn->opts.token_lifetime_ms;
    auth_block_token_mac(nn->opts.secret, id, gs, mode, t->expiry_ms, mac);
    t->mac.data = mac;
    t->mac.len = AUTH_MAC_LEN;
}

/* Fills a location for rank from the host's view of it; 0, or -1 when
 * the node is not a live datanode with a data port. */
int namenode_location(namenode *nn, int rank, DatanodeLocation *loc) {
    namenode_datanode d;
    if (namenode_datanode_get(nn, rank, &d) != EMBER_OK || !d.live || d.data_port <= 0)
        return -1;
    *loc = (DatanodeLocation)DATANODE_LOCATION__INIT;
    loc->rank = (uint32_t)rank;
    loc->host = (char *)d.data_host;
    loc->port = (uint32_t)d.data_port;
    loc->domain_socket = (char *)d.domain_socket;
    return 0;
}

size_t namenode_candidates(namenode *nn, placement_node *nodes, uint64_t need) {
    size_t n = 0;
    for (int r = 1; r < nn->opts.world_size; r++) {
        namenode_datanode e;
        if (namenode_datanode_get(nn, r, &e) != EMBER_OK || !e.core || !e.live ||
            e.data_port <= 0 || nn->admin[r] != NN_ADMIN_NORMAL)
            continue; /* decommissioning nodes take no new replica */
        placement_node *p = &nodes[n++];
        memset(p, 0, sizeof(*p));
        p->rank = r;
        char name[32];
        snprintf(name, sizeof(name), "node-%d", r);
        snprintf(p->rack, sizeof(p->rack), "%s", rack_map_lookup(nn->opts.racks, name, e.hostname));
        p->remaining = e.remaining_bytes;
        p->usable = e.data_dirs > e.failed_dirs && p->remaining >= need;
    }
    return n;
}

/* ---- applying records ---------------------------------------------------------- */

int namenode_apply_add_block(namenode *nn, const EditAddBlock *op) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n;
    int rc = fs_namespace_stat(nn->ns, op->path, &st);
    if (rc != EMBER_OK)
        return rc;
    if (st.is_dir)
        return EMBER_EISDIR;
    if (!st.under_construction)
        return EMBER_ESTATE;
    if ((rc = fs_namespace_blocks(nn->ns, op->path, &blocks, &n)) != EMBER_OK)
        return rc;
    /* previous must be the file's last block, unless that one is already
     * complete (none yet, or an append that starts a new block): then 0. */
    const block_entry *last = n > 0 ? block_manager_get(nn->bm, blocks[n - 1]) : NULL;
    int last_done = last == NULL || last->complete;
    if (op->previous_block_id == 0 ? !last_done
                                   : (n == 0 || blocks[n - 1] != op->previous_block_id ||
                                      last_done))
        return EMBER_EINVAL;
    if (op->previous_block_id != 0 &&
        (rc = block_manager_complete(nn->bm, op->previous_block_id, op->previous_length)) != 0)
        return rc;
    if ((rc = block_manager_add(nn->bm, op->block_id, op->gen_stamp, st.replication)) != EMBER_OK)
        return rc;
    if ((rc = fs_namespace_add_block(nn->ns, op->path, op->block_id)) != EMBER_OK) {
        int holders[BLOCK_MANAGER_MAX_REPLICAS], nh;
        block_manager_remove(nn->bm, op->block_id, holders, &nh);
        return rc;
    }
    return fs_namespace_set_length(nn->ns, op->path,
                                   st.length + (op->previous_block_id ? op->previous_length : 0));
}

int namenode_apply_complete(namenode *nn, const EditComplete *op) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n;
    int rc = fs_namespace_stat(nn->ns, op->path, &st);
    if (rc == EMBER_OK && st.is_dir)
        rc = EMBER_EISDIR;
    if (rc == EMBER_OK && !st.under_construction)
        rc = EMBER_ESTATE;
    if (rc == EMBER_OK)
        rc = fs_namespace_blocks(nn->ns, op->path, &blocks, &n);
    if (rc != EMBER_OK)
        return rc;
    /* last is the file's last block, or 0 when that one is already
     * complete (or there is none). */
    const block_entry *last = n > 0 ? block_manager_get(nn->bm, blocks[n - 1]) : NULL;
    int last_done = last == NULL || last->complete;
    if (op->last_block_id == 0 ? !last_done
                               : (n == 0 || blocks[n - 1] != op->last_block_id || last_done))
        return EMBER_EINVAL;
    if (op->drop_last_block) {
        /* Lease recovery found no replica of it anywhere. */
        uint64_t id;
        if (op->last_block_id == 0 ||
            (rc = fs_namespace_remove_last_block(nn->ns, op->path, &id)) != EMBER_OK)
            return op->last_block_id == 0 ? EMBER_EINVAL : rc;
        namenode_blocks_removed(0, &id, 1, nn);
    } else if (op->last_block_id != 0) {
        rc = op->last_gen_stamp != 0
                 ? block_manager_recovered(nn->bm, op->last_block_id, op->last_gen_stamp,
                                           op->last_length)
                 : block_manager_complete(nn->bm, op->last_block_id, op->last_length);
        if (rc != EMBER_OK)
            return rc;
    }
    if ((rc = fs_namespace_set_length(nn->ns, op->path, op->file_length)) != EMBER_OK)
        return rc;
    return fs_namespace_set_under_construction(nn->ns, op->path, NULL);
}

/* The last block of path, under construction and named block_id: 0, or
 * EMBER_ENOENT, EMBER_EISDIR, EMBER_ESTATE (the file is not open for
 * writing, or that block is complete) or EMBER_EINVAL (another block). */
static int block_ops_last_open_block(namenode *nn, const char *path, uint64_t block_id) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0;
    int rc = fs_namespace_stat(nn->ns, path, &st);
    if (rc == EMBER_OK && st.is_dir)
        rc = EMBER_EISDIR;
    if (rc == EMBER_OK && !st.under_construction)
        rc = EMBER_ESTATE;
    if (rc == EMBER_OK)
        rc = fs_namespace_blocks(nn->ns, path, &blocks, &n);
    if (rc != EMBER_OK)
        return rc;
    if (n == 0 || blocks[n - 1] != block_id)
        return EMBER_EINVAL;
    const block_entry *last = block_manager_get(nn->bm, block_id);
    return last != NULL && !last->complete ? EMBER_OK : EMBER_ESTATE;
}

int namenode_apply_update_block(namenode *nn, const EditUpdateBlock *op) {
    int rc = block_ops_last_open_block(nn, op->path, op->block_id);
    if (rc != EMBER_OK)
        return rc;
    return block_manager_update_pipeline(nn->bm, op->block_id, op->gen_stamp);
}

/* ---- write protocol ------------------------------------------------------------- */

void namenode_handle_add_block(namenode *nn, uint64_t conn, const AddBlockRequest *m) {
    fs_stat st;
    int rc = fs_namespace_stat(nn->ns, m->path, &st);
    if (rc == EMBER_OK && !st.is_dir && !st.under_construction)
        rc = EMBER_ESTATE;
    if (rc != EMBER_OK) {
        if (rc == EMBER_ESTATE)
            namenode_reply_error(nn, conn, rc, "file is not open for writing");
        else
            namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    if (namenode_lease_check_holder(nn, conn, m->path, m->client_name) != 0)
        return;
    /* Candidates: live core nodes with a data port, bar the excluded. */
    int world = nn->opts.world_size;
    placement_node *nodes = calloc((size_t)world, sizeof(*nodes));
    int exclude[64];
    size_t nexclude = 0;
    for (size_t i = 0; i < m->n_exclude && i < 64; i++)
        exclude[nexclude++] = (int)m->exclude[i];
    if (nodes == NULL) {
        namenode_reply_error(nn, conn, EMBER_ENOMEM, "out of memory");
        return;
    }
    size_t nnodes = namenode_candidates(nn, nodes, st.block_size);
    int targets[BLOCK_MANAGER_MAX_REPLICAS];
    size_t ntargets = 0;
    uint32_t want = st.replication < BLOCK_MANAGER_MAX_REPLICAS ? st.replication
                                                                : BLOCK_MANAGER_MAX_REPLICAS;
    block_manager_choose_targets(nn->bm, nodes, nnodes, m->client_rank, want, exclude, nexclude,
                                 targets, &ntargets);
    size_t no_room = 0;
    for (size_t i = 0; i < nnodes; i++)
        no_room += nodes[i].remaining < st.block_size;
    free(nodes);
    if (ntargets == 0) {
        char msg[512];
        if (nnodes > 0 && no_room == nnodes)
            snprintf(msg, sizeof(msg),
                     "`%.150s': could only be written to 0 datanodes: none of the %zu live core "
                     "nodes has room for a block of %llu bytes",
                     m->path, nnodes, (unsigned long long)st.block_size);
        else
            snprintf(msg, sizeof(msg),
                     "`%.150s': could only be written to 0 datanodes: none of the %zu live core "
                     "nodes can take a block",
                     m->path, nnodes);
        namenode_reply_error(nn, conn, no_room == nnodes && nnodes > 0 ? EMBER_ENOSPC : EMBER_EIO,
                            msg);
        return;
    }
    uint64_t id, gs;
    block_manager_allocate(nn->bm, &id, &gs);
    EditAddBlock op = EDIT_ADD_BLOCK__INIT;
    op.path = m->path;
    op.block_id = id;
    op.gen_stamp = gs;
    op.previous_block_id = m->previous_block_id;
    op.previous_length = m->previous_length;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_ADD_BLOCK;
    rec.add_block = &op;
    if (namenode_log(nn, conn, &rec, m->path, NULL, NULL) != EMBER_OK)
        return;

    DatanodeLocation locs[BLOCK_MANAGER_MAX_REPLICAS];
    DatanodeLocation *loc_ptrs[BLOCK_MANAGER_MAX_REPLICAS];
    size_t nloc = 0;
    for (size_t i = 0; i < ntargets; i++)
        if (namenode_location(nn, targets[i], &locs[nloc]) == 0) {
            loc_ptrs[nloc] = &locs[nloc];
            nloc++;
        }
    fs_namespace_stat(nn->ns, m->path, &st);
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    namenode_block_token(nn, &token, mac, id, gs, AUTH_TOKEN_WRITE);
    lb.block_id = id;
    lb.gen_stamp = gs;
    lb.offset = st.length;
    lb.n_locations = nloc;
    lb.locations = loc_ptrs;
    lb.token = &token;
    LocatedBlock *lbs[1] = {&lb};
    DfsResult res = DFS_RESULT__INIT;
    res.n_blocks = 1;
    res.blocks = lbs;
    namenode_answer(nn, conn, &res, 1);
}

void namenode_handle_complete(namenode *nn, uint64_t conn, const CompleteRequest *m) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0;
    int rc = fs_namespace_stat(nn->ns, m->path, &st);
    if (rc == EMBER_OK && !st.is_dir && !st.under_construction)
        rc = EMBER_ESTATE;
    if (rc == EMBER_OK && !st.is_dir)
        rc = fs_namespace_blocks(nn->ns, m->path, &blocks, &n);
    if (rc != EMBER_OK) {
        if (rc == EMBER_ESTATE)
            namenode_reply_error(nn, conn, rc, "file is not open for writing");
        else
            namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    if (namenode_lease_check_holder(nn, conn, m->path, m->client_name) != 0)
        return;
    /* Every block needs a reported replica (HDFS's minimal replication). */
    for (size_t i = 0; i < n; i++) {
        const block_entry *b = block_manager_get(nn->bm, blocks[i]);
        if (b == NULL || b->nreplicas == 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "blk_%llu is not yet reported by any datanode",
                     (unsigned long long)blocks[i]);
            namenode_reply_error(nn, conn, EMBER_EAGAIN, msg);
            return;
        }
    }
    EditComplete op = EDIT_COMPLETE__INIT;
    op.path = m->path;
    op.last_block_id = m->last_block_id;
    op.last_length = m->last_length;
    op.file_length = st.length + (m->last_block_id != 0 ? m->last_length : 0);
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_COMPLETE;
    rec.complete = &op;
    if (namenode_log(nn, conn, &rec, m->path, NULL, NULL) != EMBER_OK)
        return;
    FileStatus fs;
    fs_namespace_stat(nn->ns, m->path, &st);
    namenode_fill_status(&fs, m->path, &st);
    DfsResult res = DFS_RESULT__INIT;
    res.status = &fs;
    namenode_answer(nn, conn, &res, 1);
}

/* A datanode of the writer's pipeline failed: the block goes on with the
 * nodes left under a new gen stamp, so that replicas which missed packets
 * (the failed node's) are stale from now on. */
void namenode_handle_update_block_for_pipeline(namenode *nn, uint64_t conn,
                                      const UpdateBlockForPipelineRequest *m) {
    if (namenode_lease_check_holder(nn, conn, m->path, m->client_name) != 0)
        return;
    int rc = block_ops_last_open_block(nn, m->path, m->block_id);
    if (rc == EMBER_ENOENT || rc == EMBER_EISDIR) {
        namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    if (rc != EMBER_OK) {
        char msg[MESSAGE_TEXT_MAX];
        snprintf(msg, sizeof(msg), "`%.3000s': blk_%llu is not its last block being written",
                 m->path, (unsigned long long)m->block_id);
        namenode_reply_error(nn, conn, rc, msg);
        return;
    }
    EditUpdateBlock op = EDIT_UPDATE_BLOCK__INIT;
    op.path = m->path;
    op.block_id = m->block_id;
    op.gen_stamp = block_manager_next_gen_stamp(nn->bm);
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_UPDATE_BLOCK;
    rec.update_block = &op;
    if (namenode_log(nn, conn, &rec, m->path, NULL, NULL) != EMBER_OK)
        return;
    /* The writer's nodes that are live: it drops the others (HDFS never
     * recovers a pipeline onto a node it declared dead). */
    DatanodeLocation l[16], *lp[16];
    char ranks[2][160] = {"", ""}; /* the live ones, the others */
    size_t nlive = 0;
    for (size_t i = 0; i < m->n_pipeline && i < 16; i++) {
        int ok = namenode_location(nn, (int)m->pipeline[i], &l[nlive]) == 0;
        char *list = ranks[!ok];
        size_t used = strlen(list);
        snprintf(list + used, sizeof(ranks[0]) - used, "%s%u", used ? ", " : "", m->pipeline[i]);
        if (ok) {
            lp[nlive] = &l[nlive];
            nlive++;
        }
    }
    LOG_INFO("pipeline recovery of blk_%llu of %s: gen stamp %llu, live datanodes: ranks %s%s%s%s",
             (unsigned long long)m->block_id, m->path, (unsigned long long)op.gen_stamp,
             nlive ? ranks[0] : "none", ranks[1][0] ? " (not live, to be dropped: ranks " : "",
             ranks[1], ranks[1][0] ? ")" : "");
    fs_stat st;
    fs_namespace_stat(nn->ns, m->path, &st);
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    lb.n_locations = nlive;
    lb.locations = lp;
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    namenode_block_token(nn, &token, mac, m->block_id, op.gen_stamp, AUTH_TOKEN_WRITE);
    lb.block_id = m->block_id;
    lb.gen_stamp = op.gen_stamp;
    lb.offset = st.length;
    lb.token = &token;
    LocatedBlock *lbs[1] = {&lb};
    DfsResult res = DFS_RESULT__INIT;
    res.n_blocks = 1;
    res.blocks = lbs;
    namenode_answer(nn, conn, &res, 1);
}

/* ---- reads ------------------------------------------------------------------------ */

/* Fills lb's locations from b's replicas on live datanodes, into l and lp
 * (room for BLOCK_MANAGER_MAX_REPLICAS each): the good replicas in the
 * order recorded, those of decommissioned nodes only when no other is
 * there; then the corrupt ones, each flagged, when no good one was listed
 * (lb->corrupt; HDFS hands them out so: a report may have been wrong, and
 * a reader then fails on its checksums) or when include_corrupt (fsck). */
static void block_ops_locate(namenode *nn, const block_entry *b, int include_corrupt,
                             LocatedBlock *lb, DatanodeLocation *l, DatanodeLocation **lp) {
    size_t n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int k = 0; k < b->nreplicas; k++)
            if (namenode_node_decommissioned(nn, b->replicas[k]) == pass &&
                namenode_location(nn, b->replicas[k], &l[n]) == 0) {
                lp[n] = &l[n];
                n++;
            }
    size_t good = n;
    for (int k = b->nreplicas; k < b->nreplicas + b->ncorrupt && (good == 0 || include_corrupt); k++)
        if (namenode_location(nn, b->replicas[k], &l[n]) == 0) {
            l[n].corrupt = 1;
            lp[n] = &l[n];
            n++;
        }
    lb->corrupt = good == 0 && n > 0;
    lb->n_locations = n;
    lb->locations = lp;
}

void namenode_handle_get_block_locations(namenode *nn, uint64_t conn, const GetBlockLocationsRequest *m) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0;
    int rc = fs_namespace_stat(nn->ns, m->path, &st);
    if (rc == EMBER_OK && st.is_dir)
        rc = EMBER_EISDIR;
    if (rc == EMBER_OK)
        rc = fs_namespace_blocks(nn->ns, m->path, &blocks, &n);
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    LocatedBlock *lbs = calloc(n + 1, sizeof(*lbs));
    LocatedBlock **lb_ptrs = calloc(n + 1, sizeof(*lb_ptrs));
    BlockToken *tokens = calloc(n + 1, sizeof(*tokens));
    uint8_t(*macs)[AUTH_MAC_LEN] = calloc(n + 1, AUTH_MAC_LEN);
    DatanodeLocation *locs = calloc((n + 1) * BLOCK_MANAGER_MAX_REPLICAS, sizeof(*locs));
    DatanodeLocation **loc_ptrs = calloc((n + 1) * BLOCK_MANAGER_MAX_REPLICAS, sizeof(*loc_ptrs));
    size_t nout = 0;
    uint64_t offset = 0, end = m->length > UINT64_MAX - m->offset ? UINT64_MAX
                                                                  : m->offset + m->length;
    if (lbs == NULL || lb_ptrs == NULL || tokens == NULL || macs == NULL || locs == NULL ||
        loc_ptrs == NULL) {
        namenode_reply_error(nn, conn, EMBER_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const block_entry *b = block_manager_get(nn->bm, blocks[i]);
        if (b == NULL)
            continue;
        uint64_t len = b->complete ? b->length : 0;
        if (offset + len > m->offset && offset < end) {
            LocatedBlock *lb = &lbs[nout];
            *lb = (LocatedBlock)LOCATED_BLOCK__INIT;
            lb->block_id = b->block_id;
            lb->gen_stamp = b->gen_stamp;
            lb->offset = offset;
            lb->length = len;
            block_ops_locate(nn, b, m->include_corrupt, lb,
                             &locs[nout * BLOCK_MANAGER_MAX_REPLICAS],
                             &loc_ptrs[nout * BLOCK_MANAGER_MAX_REPLICAS]);
            namenode_block_token(nn, &tokens[nout], macs[nout], b->block_id, b->gen_stamp,
                            AUTH_TOKEN_READ);
            lb->token = &tokens[nout];
            lb_ptrs[nout] = lb;
            nout++;
        }
        offset += len;
    }
    FileStatus fs;
    namenode_fill_status(&fs, m->path, &st);
    DfsResult res = DFS_RESULT__INIT;
    res.status = &fs;
    res.n_blocks = nout;
    res.blocks = lb_ptrs;
    namenode_answer(nn, conn, &res, 0);
done:
    free(lbs);
    free(lb_ptrs);
    free(tokens);
    free(macs);
    free(locs);
    free(loc_ptrs);
}

/* A replica found corrupt (by a reader or a datanode's scanner) is
 * marked so and kept: the redundancy monitor copies a good replica
 * elsewhere, and the corrupt one is deleted only once the block has
 * enough good ones (namenode_corrupt_marked(), replication.c), never when
 * it is the last hope.  A report on a replica the map does not hold on
 * that node (HDFS ignores those too), or on one already corrupt, changes
 * nothing. */
static void block_ops_bad_replica(namenode *nn, uint64_t block_id, int rank, const char *who) {
    int rc = block_manager_mark_corrupt(nn->bm, block_id, rank);
    if (rc == EMBER_ENOENT && block_manager_get(nn->bm, block_id) != NULL)
        LOG_INFO("replica of blk_%llu on node %d reported corrupt by %s: not recorded there, "
                 "ignored",
                 (unsigned long long)block_id, rank, who);
    if (rc != EMBER_OK)
        return;
    LOG_WARN("replica of blk_%llu on node %d reported corrupt by %s: kept until the block has "
             "enough good replicas",
             (unsigned long long)block_id, rank, who);
    namenode_corrupt_marked(nn, block_id);
}

void namenode_handle_report_bad_block(namenode *nn, uint64_t conn, const ReportBadBlock *m) {
    block_ops_bad_replica(nn, m->block_id, (int)m->rank, "a reader");
    DfsResult res = DFS_RESULT__INIT;
    namenode_answer(nn, conn, &res, 0);
}

/* ---- datanode messages ---------------------------------------------------------- */

/* Forgets that block_id was lately deleted on rank: reports from it may
 * list the block again (a new replica came, or the deletion is
 * confirmed, so that later reports were sent after it). */
static void block_ops_forget_delete(namenode *nn, int rank, uint64_t block_id) {
    for (size_t i = 0; i < NAMENODE_RECENT_DELETES; i++)
        if (nn->recent_deletes[i].block_id == block_id && nn->recent_deletes[i].rank == rank)
            nn->recent_deletes[i].block_id = 0;
}

/* A replica of m's block is on source: recorded, or deleted when the map
 * does not want it (BlockReceived, and an IncrementalBlockReport's
 * received entries). */
static void namenode_handle_block_received(namenode *nn, int source, const BlockReceived *m) {
    block_ops_forget_delete(nn, source, m->block_id);
    namenode_recovery_received(nn, m);
    int rc = block_manager_add_replica(nn->bm, m->block_id, source, m->gen_stamp, m->length);
    if (rc == EMBER_OK)
        namenode_replica_added(nn, m->block_id);
    if (rc != EMBER_OK && rc != EMBER_EAGAIN) {
        LOG_INFO("node %d holds an unwanted replica of blk_%llu (%s): deleting it", source,
                 (unsigned long long)m->block_id, ember_strerror(rc));
        namenode_send_delete(nn, source, &m->block_id, 1);
    }
}

static int block_ops_id_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Takes out of a report the replicas the namenode asked source to delete
 * lately: the report may have left before the DeleteBlocks arrived, and
 * counting them again would keep a replica the node no longer has. */
static void block_ops_drop_deleted(namenode *nn, int source, block_report_acc *acc) {
    uint64_t ids[NAMENODE_RECENT_DELETES];
    size_t n = 0;
    int64_t since = clock_monotonic_ms() - NAMENODE_DELETE_MEMORY_MS;
    for (size_t i = 0; i < NAMENODE_RECENT_DELETES; i++) {
        const nn_recent_delete *d = &nn->recent_deletes[i];
        if (d->rank == source && d->block_id != 0 && d->sent_ms >= since)
            ids[n++] = d->block_id;
    }
    if (n == 0)
        return;
    qsort(ids, n, sizeof(ids[0]), block_ops_id_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < acc->n; i++) {
        if (bsearch(&acc->ids[i], ids, n, sizeof(ids[0]), block_ops_id_cmp) != NULL)
            continue;
        acc->ids[kept] = acc->ids[i];
        acc->gen_stamps[kept] = acc->gen_stamps[i];
        acc->lengths[kept] = acc->lengths[i];
        kept++;
    }
    acc->n = kept;
}

static void namenode_handle_block_report(namenode *nn, int source, const BlockReport *m) {
    if (source <= 0 || source >= nn->opts.world_size)
        return;
    block_report_acc *acc = &nn->reports[source];
    if (m->seq == 0)
        acc->n = 0;
    if (acc->n + m->n_block_ids > acc->cap) {
        size_t ncap = acc->cap ? acc->cap : 1024;
        while (ncap < acc->n + m->n_block_ids)
            ncap *= 2;
        uint64_t *ids = realloc(acc->ids, ncap * sizeof(uint64_t));
        if (ids != NULL)
            acc->ids = ids;
        uint64_t *gss = realloc(acc->gen_stamps, ncap * sizeof(uint64_t));
        if (gss != NULL)
            acc->gen_stamps = gss;
        uint64_t *lens = realloc(acc->lengths, ncap * sizeof(uint64_t));
        if (lens != NULL)
            acc->lengths = lens;
        if (ids == NULL || gss == NULL || lens == NULL) {
            LOG_ERROR("out of memory for node %d's block report", source);
            return;
        }
        acc->cap = ncap;
    }
    for (size_t i = 0; i < m->n_block_ids; i++, acc->n++) {
        acc->ids[acc->n] = m->block_ids[i];
        acc->gen_stamps[acc->n] = m->gen_stamps[i];
        acc->lengths[acc->n] = m->lengths[i];
    }
    if (!m->last)
        return;
    block_ops_drop_deleted(nn, source, acc);
    uint64_t *invalid = NULL;
    size_t ninvalid = 0;
    block_manager_process_report(nn->bm, source, acc->ids, acc->gen_stamps, acc->lengths, acc->n,
                                 &invalid, &ninvalid);
    LOG_INFO("block report from node %d: %zu replica(s), %zu unwanted", source, acc->n, ninvalid);
    namenode_send_delete(nn, source, invalid, ninvalid);
    free(invalid);
    /* Replicas still in rbw/: kept for the lease recovery of a block being
     * written; of any other block, deleted. */
    for (size_t i = 0; i < m->n_rbw_block_ids; i++) {
        const block_entry *b = block_manager_get(nn->bm, m->rbw_block_ids[i]);
        if (b == NULL || b->complete)
            namenode_send_delete(nn, source, &m->rbw_block_ids[i], 1);
    }
    acc->n = 0;
}

/* 1 when rank is among b's recorded holders, good or corrupt. */
static int block_ops_holds(const block_entry *b, int rank) {
    for (int k = 0; k < b->nreplicas + b->ncorrupt; k++)
        if (b->replicas[k] == rank)
            return 1;
    return 0;
}

/* Replicas source no longer holds (its directory scanner found their
 * files gone, or it confirms a DeleteBlocks) are dropped from the map, so
 * that the redundancy monitor copies their blocks again; then the
 * replicas it found are taken as BlockReceived.  A deletion confirmed is
 * also taken out of the ring of recent deletes: whatever source reports
 * later was sent after it. */
static void namenode_handle_incremental_block_report(namenode *nn, int source,
                                            const IncrementalBlockReport *m) {
    if (source <= 0 || source >= nn->opts.world_size)
        return;
    size_t dropped = 0;
    for (size_t i = 0; i < m->n_deleted_block_ids; i++) {
        uint64_t id = m->deleted_block_ids[i];
        block_ops_forget_delete(nn, source, id);
        const block_entry *b = block_manager_get(nn->bm, id);
        if (b == NULL || !block_ops_holds(b, source))
            continue; /* dropped when the delete was sent, or never recorded */
        block_manager_remove_replica(nn->bm, id, source);
        dropped++;
        b = block_manager_get(nn->bm, id);
        LOG_WARN("node %d no longer holds its replica of blk_%llu: dropped (%d of %u "
                 "replica(s) left)",
                 source, (unsigned long long)id, b->nreplicas, b->replication);
    }
    for (size_t i = 0; i < m->n_received_block_ids; i++) {
        BlockReceived br = BLOCK_RECEIVED__INIT;
        br.block_id = m->received_block_ids[i];
        br.gen_stamp = m->received_gen_stamps[i];
        br.length = m->received_lengths[i];
        namenode_handle_block_received(nn, source, &br);
    }
    if (dropped > 0 || m->n_received_block_ids > 0)
        LOG_INFO("incremental block report from node %d: %zu deleted (%zu dropped from the "
                 "map), %zu received",
                 source, m->n_deleted_block_ids, dropped, m->n_received_block_ids);
    else
        LOG_DEBUG("node %d confirms %zu deletion(s)", source, m->n_deleted_block_ids);
}

void namenode_on_rank_message(namenode *nn, int source, const RankMessage *msg) {
    namenode_datanode d;
    if (namenode_datanode_get(nn, source, &d) != EMBER_OK || !d.core) {
        LOG_WARN("dropping %s from rank %d: not a core node", message_rank_name(msg), source);
        return;
    }
    /* Fencing: nothing of a (re)registered node counts before its full
     * report has said what it holds. */
    if (msg->body_case != RANK_MESSAGE__BODY_BLOCK_REPORT &&
        !block_manager_reported(nn->bm, source)) {
        LOG_INFO("dropping %s from node %d: its full block report has not arrived",
                 message_rank_name(msg), source);
        return;
    }
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_BLOCK_RECEIVED: namenode_handle_block_received(nn, source, msg->block_received); break;
    case RANK_MESSAGE__BODY_BLOCK_REPORT: namenode_handle_block_report(nn, source, msg->block_report); break;
    case RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT:
        namenode_handle_incremental_block_report(nn, source, msg->incremental_block_report);
        break;
    case RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO:
        namenode_recovery_info(nn, source, msg->replica_recovery_info);
        break;
    case RANK_MESSAGE__BODY_BAD_REPLICA:
        /* A datanode speaks only for its own replicas. */
        block_ops_bad_replica(nn, msg->bad_replica->block_id, source, "its datanode's scanner");
        break;
    default:
        LOG_WARN("%s from rank %d is not for the namenode", message_rank_name(msg), source);
        break;
    }
}

void namenode_node_registered(namenode *nn, int rank) {
    if (rank <= 0 || rank >= nn->opts.world_size)
        return;
    nn->reports[rank].n = 0; /* a report cut short by its death starts over */
    if (block_manager_reported(nn->bm, rank))
        block_manager_node_lost(nn->bm, rank);
}

void namenode_node_lost(namenode *nn, int rank) {
    size_t n = block_manager_node_lost(nn->bm, rank);
    if (n > 0)
        LOG_WARN("node %d lost: %zu replica(s) no longer count", rank, n);
}

/* ---- checkpoint images -------------------------------------------------------- */

int namenode_image_blocks(namenode *nn, const char *path, ImageBlock ***blocks, size_t *n) {
    const uint64_t *ids;
    size_t count;
    int rc = fs_namespace_blocks(nn->ns, path, &ids, &count);
    if (rc != EMBER_OK || count == 0) {
        *blocks = NULL;
        *n = 0;
        return rc;
    }
    /* One array of structs, pointed at by blocks[0] (freed that way). */
    ImageBlock *items = calloc(count, sizeof(*items));
    ImageBlock **ptrs = calloc(count, sizeof(*ptrs));
    if (items == NULL || ptrs == NULL) {
        free(items);
        free(ptrs);
        return EMBER_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        const block_entry *b = block_manager_get(nn->bm, ids[i]);
        items[i] = (ImageBlock)IMAGE_BLOCK__INIT;
        items[i].block_id = ids[i];
        if (b != NULL) {
            items[i].gen_stamp = b->gen_stamp;
            items[i].length = b->length;
            items[i].complete = b->complete;
            items[i].truncating = b->truncating;
            items[i].truncate_length = b->truncate_length;
        }
        ptrs[i] = &items[i];
    }
    *blocks = ptrs;
    *n = count;
    return EMBER_OK;
}

int namenode_load_blocks(namenode *nn, const ImageInode *in) {
    int rc = EMBER_OK;
    for (size_t i = 0; i < in->n_blocks && rc == EMBER_OK; i++) {
        const ImageBlock *b = in->blocks[i];
        rc = block_manager_add(nn->bm, b->block_id, b->gen_stamp, in->replication);
        if (rc == EMBER_OK && b->complete)
            rc = block_manager_complete(nn->bm, b->block_id, b->length);
        if (rc == EMBER_OK && b->truncating) /* a truncate's block recovery still to run */
            rc = block_manager_truncate(nn->bm, b->block_id, b->gen_stamp, b->truncate_length);
        if (rc == EMBER_OK)
            rc = fs_namespace_add_block(nn->ns, in->path, b->block_id);
    }
    if (rc == EMBER_OK && in->under_construction)
        rc = fs_namespace_set_under_construction(nn->ns, in->path, in->client_name);
    return rc;
}
