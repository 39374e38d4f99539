/* lease_manager.c -- leases, lease recovery and append (see
 * namenode_internal.h): HDFS's LeaseManager and block recovery.
 *
 * Leases.  A file opened for writing (create for_write, append) is under
 * construction with a lease holder: the writing client's name, kept in
 * the inode (namespace.h) and in the edit log (EditCreate, EditAppend) so
 * it survives a restart.  Here, per holder, is only when it last renewed
 * (monotonic clock, never logged: after a start every holder's clock
 * starts at that start, as in HDFS).  A client renews by RenewLease,
 * every DfsResult.lease_renew_ms (half the soft limit) while it has a
 * file open for writing (the client library's renewer thread); add_block
 * renews too.  The create and append answers also carry
 * dfs.datanode.socket.timeout (DfsResult.socket_timeout_ms), so that the
 * writer knows how often its idle pipelines need a heartbeat packet.  Past the soft limit another client may take the
 * file over (create with overwrite, append): that starts recovery.  Past
 * the hard limit the lease monitor recovers every file of the holder by
 * itself.  add_block, complete and update_block_for_pipeline (pipeline
 * recovery, block_ops.c) name their holder: a client that lost its lease
 * is refused ("No lease on ...").
 *
 * Recovery of a file.  With no block, or a complete last block (an append
 * that wrote nothing), the file is simply closed (EditComplete).  Else its
 * last block is recovered, driven by the namenode itself (HDFS delegates
 * this to a primary datanode; every datanode here is one MPI message
 * away, and one place keeping the state is simpler):
 *   1. INIT: a new gen stamp (the recovery id) is allocated and every live
 *      core node gets InitReplicaRecovery; each stops any write of the
 *      block and answers ReplicaRecoveryInfo (what it holds: rbw or
 *      finalized, gen stamp, valid length).
 *   2. When all have answered (or at the deadline): among the replicas
 *      with the highest gen stamp (older ones predate an append, or missed
 *      packets), the length is a finalized replica's if there is one, else
 *      the shortest -- every byte in it was written by every participant,
 *      so it includes every byte any writer was acknowledged.  UPDATE:
 *      each participant gets UpdateReplica (truncate, finalize under the
 *      recovery id) and sends BlockReceived.  No replica at all, every
 *      node having answered: the block never got a byte anywhere; it is
 *      dropped from the file.
 *   3. The first BlockReceived under the recovery id commits: EditComplete
 *      with last_gen_stamp = the recovery id closes the file at the
 *      length; the other participants' replicas then count as usual, and
 *      every replica reported in step 1 but not updated (an older gen
 *      stamp, or too short) is deleted (recovery_delete_stale()): each
 *      replica ends at the recovery id and length, or deleted.
 * A phase that times out is abandoned; the monitor starts again with a new
 * recovery id.  Replicas of an under-construction block with an older gen
 * stamp are neither counted nor deleted meanwhile (block_manager.h), so
 * nothing recovery may need is lost.
 *
 * Append.  A complete file is reopened for its new holder (EditAppend);
 * when its last block is not full, that block goes back under
 * construction with a new gen stamp and the client continues it through
 * its current replicas (WriteBlockRequest.append_gen_stamp: the datanodes
 * reopen their finalized replica under the new stamp).  The file's length
 * then counts only its complete blocks, as for any file being written. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "namenode_internal.h"
#include "proto/message.h"

/* ---- leases ------------------------------------------------------------ */

static nn_lease *lease_find(namenode *nn, const char *holder) {
    for (size_t i = 0; i < nn->nleases; i++)
        if (strcmp(nn->leases[i].holder, holder) == 0)
            return &nn->leases[i];
    return NULL;
}

void namenode_lease_renew(namenode *nn, const char *holder) {
    if (holder == NULL || holder[0] == '\0')
        return;
    nn_lease *l = lease_find(nn, holder);
    if (l == NULL) {
        if (nn->nleases == nn->leases_cap) {
            size_t ncap = nn->leases_cap ? nn->leases_cap * 2 : 16;
            nn_lease *p = realloc(nn->leases, ncap * sizeof(*p));
            if (p == NULL)
                return; /* not renewed: the file may be recovered early, never lost */
            nn->leases = p;
            nn->leases_cap = ncap;
        }
        char *copy = strdup(holder);
        if (copy == NULL)
            return;
        l = &nn->leases[nn->nleases++];
        l->holder = copy;
    }
    l->renewed_ms = clock_monotonic_ms();
}

/* Milliseconds since holder renewed.  A holder never seen since this start
 * (it comes from the log or the image) starts its clock now. */
static int64_t lease_age(namenode *nn, const char *holder) {
    nn_lease *l = lease_find(nn, holder);
    if (l == NULL) {
        namenode_lease_renew(nn, holder);
        return 0;
    }
    return clock_monotonic_ms() - l->renewed_ms;
}

/* ---- recoveries ----------------------------------------------------------- */

static nn_recovery *recovery_find(namenode *nn, uint64_t block_id) {
    for (size_t i = 0; i < nn->nrecoveries; i++)
        if (nn->recoveries[i].block_id == block_id)
            return &nn->recoveries[i];
    return NULL;
}

static void recovery_remove(namenode *nn, nn_recovery *r) {
    free(r->state);
    free(r->found);
    free(r->finalized);
    free(r->gen_stamps);
    free(r->lengths);
    *r = nn->recoveries[--nn->nrecoveries];
}

/* The open file whose last block is block_id. */
typedef struct {
    uint64_t block_id;
    char *path; /* FS_PATH_MAX + 1 bytes */
    int found;
} find_last;

static int find_last_visit(const char *path, const char *holder, const uint64_t *blocks,
                           size_t nblocks, void *arg) {
    find_last *f = arg;
    (void)holder;
    if (nblocks == 0 || blocks[nblocks - 1] != f->block_id)
        return 0;
    snprintf(f->path, FS_PATH_MAX + 1, "%s", path);
    f->found = 1;
    return 1;
}

static int recovery_path(namenode *nn, uint64_t block_id, char *path) {
    find_last f = {.block_id = block_id, .path = path};
    fs_namespace_open_files(nn->ns, find_last_visit, &f);
    return f.found ? EMBER_OK : EMBER_ENOENT;
}

/* Logs the EditComplete that ends a recovery (or closes a file with
 * nothing to recover): last_block_id 0 closes as is. */
static int recovery_close(namenode *nn, uint64_t conn, const char *path, uint64_t last_block_id,
                          uint64_t gen_stamp, uint64_t length, int drop) {
    fs_stat st;
    int rc = fs_namespace_stat(nn->ns, path, &st);
    if (rc != EMBER_OK)
        return rc;
    EditComplete op = EDIT_COMPLETE__INIT;
    op.path = (char *)path;
    op.last_block_id = last_block_id;
    op.last_length = drop ? 0 : length;
    op.last_gen_stamp = gen_stamp;
    op.drop_last_block = drop;
    op.file_length = st.length + op.last_length;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_COMPLETE;
    rec.complete = &op;
    rc = namenode_log(nn, conn, &rec, path, NULL, NULL);
    if (rc == EMBER_OK)
        LOG_INFO("lease recovery closed %s at %llu bytes%s", path,
                 (unsigned long long)op.file_length,
                 drop ? " (its last block had no replica and was dropped)" : "");
    return rc;
}

static int recovery_send(namenode *nn, int rank, RankMessage *msg) {
    return namenode_send(nn, rank, msg);
}

/* Step 1: asks every live core node what it holds of the block. */
static int recovery_start(namenode *nn, uint64_t block_id) {
    int world = nn->opts.world_size;
    if (nn->nrecoveries == nn->recoveries_cap) {
        size_t ncap = nn->recoveries_cap ? nn->recoveries_cap * 2 : 8;
        nn_recovery *p = realloc(nn->recoveries, ncap * sizeof(*p));
        if (p == NULL)
            return EMBER_ENOMEM;
        nn->recoveries = p;
        nn->recoveries_cap = ncap;
    }
    nn_recovery *r = &nn->recoveries[nn->nrecoveries];
    memset(r, 0, sizeof(*r));
    r->state = calloc((size_t)world, 1);
    r->found = calloc((size_t)world, 1);
    r->finalized = calloc((size_t)world, 1);
    r->gen_stamps = calloc((size_t)world, sizeof(uint64_t));
    r->lengths = calloc((size_t)world, sizeof(uint64_t));
    nn->nrecoveries++;
    if (r->state == NULL || r->found == NULL || r->finalized == NULL || r->gen_stamps == NULL ||
        r->lengths == NULL) {
        recovery_remove(nn, r);
        return EMBER_ENOMEM;
    }
    r->block_id = block_id;
    r->recovery_id = block_manager_next_gen_stamp(nn->bm);
    r->phase = NN_RECOVERY_INIT;
    r->deadline_ms = clock_monotonic_ms() + nn->opts.recovery_timeout_ms;
    InitReplicaRecovery m = INIT_REPLICA_RECOVERY__INIT;
    m.block_id = block_id;
    m.recovery_id = r->recovery_id;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY;
    msg.init_replica_recovery = &m;
    for (int rank = 1; rank < world; rank++) {
        namenode_datanode e;
        if (namenode_datanode_get(nn, rank, &e) != EMBER_OK || !e.core || !e.live)
            continue;
        if (recovery_send(nn, rank, &msg) == EMBER_OK) {
            r->state[rank] = 1;
            r->asked++;
        }
    }
    LOG_INFO("lease recovery of blk_%llu: recovery id %llu, asking %d node(s)",
             (unsigned long long)block_id, (unsigned long long)r->recovery_id, r->asked);
    if (r->asked == 0) {
        recovery_remove(nn, r); /* no datanode: the monitor tries again later */
        return EMBER_EAGAIN;
    }
    return EMBER_OK;
}

/* Step 2: picks the length and the participants from the answers. */
static void recovery_decide(namenode *nn, nn_recovery *r) {
    int world = nn->opts.world_size;
    uint64_t max_gs = 0;
    int any = 0;
    for (int k = 0; k < world; k++)
        if (r->state[k] == 2 && r->found[k] && (!any || r->gen_stamps[k] > max_gs)) {
            max_gs = r->gen_stamps[k];
            any = 1;
        }
    char path[FS_PATH_MAX + 1];
    if (recovery_path(nn, r->block_id, path) != EMBER_OK) {
        recovery_remove(nn, r); /* the file went away (deleted) meanwhile */
        return;
    }
    if (!any) {
        if (r->answered == r->asked)
            recovery_close(nn, NAMENODE_NO_CONN, path, r->block_id, 0, 0, 1);
        else
            LOG_WARN("lease recovery of %s: no replica of blk_%llu among the %d node(s) that "
                     "answered (of %d); trying again later",
                     path, (unsigned long long)r->block_id, r->answered, r->asked);
        recovery_remove(nn, r);
        return;
    }
    int have_final = 0;
    uint64_t len = UINT64_MAX;
    for (int k = 0; k < world; k++) {
        if (r->state[k] != 2 || !r->found[k] || r->gen_stamps[k] != max_gs)
            continue;
        if (r->finalized[k] && !have_final) {
            have_final = 1;
            len = r->lengths[k];
        } else if (!have_final && r->lengths[k] < len) {
            len = r->lengths[k];
        }
    }
    /* A truncate inside the block: the length is its target, and every
     * replica at least that long (finalized ones too) is cut to it. */
    const block_entry *b = block_manager_get(nn->bm, r->block_id);
    int truncating = b != NULL && b->truncating;
    if (truncating)
        len = b->truncate_length;
    UpdateReplica m = UPDATE_REPLICA__INIT;
    m.block_id = r->block_id;
    m.recovery_id = r->recovery_id;
    m.length = len;
    m.truncate = truncating;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_UPDATE_REPLICA;
    msg.update_replica = &m;
    int sent = 0;
    for (int k = 0; k < world; k++) {
        if (r->state[k] != 2 || !r->found[k] || r->gen_stamps[k] != max_gs || r->lengths[k] < len ||
            (!truncating && r->finalized[k] && r->lengths[k] != len))
            continue;
        if (recovery_send(nn, k, &msg) == EMBER_OK) {
            r->state[k] = 3;
            sent++;
        }
    }
    LOG_INFO("%s recovery of %s: blk_%llu to %llu bytes on %d node(s)",
             truncating ? "truncate" : "lease", path, (unsigned long long)r->block_id,
             (unsigned long long)len, sent);
    if (sent == 0) {
        recovery_remove(nn, r);
        return;
    }
    r->phase = NN_RECOVERY_UPDATE;
    r->length = len;
    r->deadline_ms = clock_monotonic_ms() + nn->opts.recovery_timeout_ms;
}

void namenode_recovery_info(namenode *nn, int source, const ReplicaRecoveryInfo *m) {
    nn_recovery *r = recovery_find(nn, m->block_id);
    if (r == NULL || r->recovery_id != m->recovery_id || r->phase != NN_RECOVERY_INIT ||
        source <= 0 || source >= nn->opts.world_size || r->state[source] != 1)
        return; /* late, duplicate or unasked */
    r->state[source] = 2;
    r->found[source] = m->found;
    r->finalized[source] = m->finalized;
    r->gen_stamps[source] = m->gen_stamp;
    r->lengths[source] = m->length;
    if (++r->answered == r->asked)
        recovery_decide(nn, r);
}

/* Once the recovery committed: every replica a node reported in step 1
 * and was not asked to update (an older gen stamp, or fewer bytes than
 * the recovered length) is stale -- it can never be brought to the
 * recovery id -- and is deleted, as HDFS invalidates replicas of an older
 * gen stamp.  Left, an rbw one would sit until the node's next full block
 * report and refuse every copy of the block to its node meanwhile. */
static void recovery_delete_stale(namenode *nn, const nn_recovery *r) {
    for (int k = 1; k < nn->opts.world_size; k++) {
        if (r->state[k] != 2 || !r->found[k])
            continue;
        LOG_INFO("lease recovery of blk_%llu: deleting the stale %s replica on node %d (gs %llu, "
                 "%llu bytes; recovered as gs %llu, %llu bytes)",
                 (unsigned long long)r->block_id, r->finalized[k] ? "finalized" : "rbw", k,
                 (unsigned long long)r->gen_stamps[k], (unsigned long long)r->lengths[k],
                 (unsigned long long)r->recovery_id, (unsigned long long)r->length);
        namenode_send_delete(nn, k, &r->block_id, 1);
    }
}

/* Step 3. */
void namenode_recovery_received(namenode *nn, const BlockReceived *m) {
    nn_recovery *r = recovery_find(nn, m->block_id);
    if (r == NULL || r->phase != NN_RECOVERY_UPDATE || m->gen_stamp != r->recovery_id)
        return;
    char path[FS_PATH_MAX + 1];
    if (m->length == r->length && recovery_path(nn, r->block_id, path) == EMBER_OK) {
        if (recovery_close(nn, NAMENODE_NO_CONN, path, r->block_id, r->recovery_id, r->length,
                           0) == EMBER_OK)
            recovery_delete_stale(nn, r);
    } else {
        LOG_WARN("lease recovery of blk_%llu: a replica came back with %llu bytes, not %llu",
                 (unsigned long long)m->block_id, (unsigned long long)m->length,
                 (unsigned long long)r->length);
    }
    recovery_remove(nn, r);
}

int namenode_lease_recover(namenode *nn, uint64_t conn, const char *path) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0;
    int rc = fs_namespace_stat(nn->ns, path, &st);
    if (rc == EMBER_OK && st.is_dir)
        rc = EMBER_EISDIR;
    if (rc == EMBER_OK)
        rc = fs_namespace_blocks(nn->ns, path, &blocks, &n);
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, path, NULL);
        return rc;
    }
    if (!st.under_construction)
        return 1;
    if (nn->safe_mode != NAMENODE_SAFE_OFF) {
        namenode_reply_error(nn, conn, EMBER_ESTATE,
                             "Name node is in safe mode: lease recovery waits until it is left");
        return EMBER_ESTATE;
    }
    const block_entry *last = n > 0 ? block_manager_get(nn->bm, blocks[n - 1]) : NULL;
    if (last == NULL || last->complete) {
        rc = recovery_close(nn, conn, path, 0, 0, 0, 0);
        return rc == EMBER_OK ? 1 : rc;
    }
    if (recovery_find(nn, last->block_id) != NULL)
        return 0;
    rc = recovery_start(nn, last->block_id);
    return rc == EMBER_EAGAIN ? 0 : rc;
}

/* ---- checks on requests ------------------------------------------------------ */

int namenode_lease_check_takeover(namenode *nn, uint64_t conn, const char *path,
                                  const char *holder, const char *op) {
    fs_stat st;
    const char *owner = NULL;
    if (fs_namespace_stat(nn->ns, path, &st) != EMBER_OK || st.is_dir || !st.under_construction ||
        fs_namespace_holder(nn->ns, path, &owner) != EMBER_OK || owner == NULL)
        return 0;
    char msg[MESSAGE_TEXT_MAX];
    if (holder[0] != '\0' && strcmp(owner, holder) == 0) {
        snprintf(msg, sizeof(msg),
                 "Failed to %s %.2000s for %.200s because current leaseholder is trying to "
                 "recreate file.",
                 op, path, holder);
        namenode_reply_error(nn, conn, EMBER_ESTATE, msg);
        return EMBER_ESTATE;
    }
    if (lease_age(nn, owner) >= nn->opts.lease_soft_limit_ms) {
        int rc = namenode_lease_recover(nn, NAMENODE_NO_CONN, path);
        if (rc == 1)
            return 0; /* closed at once: the file is free */
        snprintf(msg, sizeof(msg),
                 "Failed to %s %.2000s for %.200s because lease recovery is in progress. Try "
                 "again later.",
                 op, path, holder);
        namenode_reply_error(nn, conn, EMBER_EAGAIN, msg);
        return EMBER_EAGAIN;
    }
    snprintf(msg, sizeof(msg),
             "Failed to %s %.2000s for %.200s because this file lease is currently owned by "
             "%.200s",
             op, path, holder, owner);
    namenode_reply_error(nn, conn, EMBER_ESTATE, msg);
    return EMBER_ESTATE;
}

int namenode_lease_check_holder(namenode *nn, uint64_t conn, const char *path,
                                const char *holder) {
    const char *owner = NULL;
    const uint64_t *blocks;
    size_t n = 0;
    if (fs_namespace_holder(nn->ns, path, &owner) != EMBER_OK || owner == NULL)
        return 0; /* the caller's own checks name what is wrong */
    char msg[MESSAGE_TEXT_MAX];
    if (holder[0] != '\0' && strcmp(owner, holder) != 0) {
        snprintf(msg, sizeof(msg),
                 "No lease on %.2000s: File is not open for writing by %.200s (its lease is "
                 "held by %.200s)",
                 path, holder, owner);
        namenode_reply_error(nn, conn, EMBER_ESTATE, msg);
        return EMBER_ESTATE;
    }
    if (fs_namespace_blocks(nn->ns, path, &blocks, &n) == EMBER_OK && n > 0 &&
        recovery_find(nn, blocks[n - 1]) != NULL) {
        snprintf(msg, sizeof(msg), "No lease on %.2000s: lease recovery is in progress", path);
        namenode_reply_error(nn, conn, EMBER_ESTATE, msg);
        return EMBER_ESTATE;
    }
    namenode_lease_renew(nn, holder);
    return 0;
}

/* ---- requests ------------------------------------------------------------------ */

void namenode_handle_renew_lease(namenode *nn, uint64_t conn, const RenewLeaseRequest *m) {
    namenode_lease_renew(nn, m->client_name);
    DfsResult res = DFS_RESULT__INIT;
    namenode_answer(nn, conn, &res, 0);
}

void namenode_handle_recover_lease(namenode *nn, uint64_t conn, const RecoverLeaseRequest *m) {
    int rc = namenode_lease_recover(nn, conn, m->path);
    if (rc < 0)
        return; /* answered */
    DfsResult res = DFS_RESULT__INIT;
    res.closed = rc == 1;
    namenode_answer(nn, conn, &res, 1);
}

int namenode_apply_append(namenode *nn, const EditAppend *op) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0;
    int rc = fs_namespace_stat(nn->ns, op->path, &st);
    if (rc == EMBER_OK && st.is_dir)
        rc = EMBER_EISDIR;
    if (rc == EMBER_OK && st.under_construction)
        rc = EMBER_ESTATE;
    if (rc == EMBER_OK)
        rc = fs_namespace_blocks(nn->ns, op->path, &blocks, &n);
    if (rc != EMBER_OK)
        return rc;
    const block_entry *last = n > 0 ? block_manager_get(nn->bm, blocks[n - 1]) : NULL;
    if (op->new_gen_stamp != 0 && (last == NULL || !last->complete || last->length > st.length))
        return EMBER_EINVAL;
    if ((rc = fs_namespace_set_under_construction(nn->ns, op->path, op->client_name)) != 0)
        return rc;
    if (op->new_gen_stamp == 0)
        return EMBER_OK;
    uint64_t kept = st.length - last->length;
    if ((rc = block_manager_reopen(nn->bm, last->block_id, op->new_gen_stamp)) != EMBER_OK) {
        fs_namespace_set_under_construction(nn->ns, op->path, NULL);
        return rc;
    }
    return fs_namespace_set_length(nn->ns, op->path, kept);
}

int namenode_lease_take_file(namenode *nn, uint64_t conn, const char *path, const char *holder,
                             const char *op, fs_stat *st) {
    int rc = fs_namespace_stat(nn->ns, path, st);
    if (rc == EMBER_OK && st->is_dir)
        rc = EMBER_EISDIR;
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, path, NULL);
        return rc;
    }
    if ((rc = namenode_lease_check_takeover(nn, conn, path, holder, op)) != 0)
        return rc;
    fs_namespace_stat(nn->ns, path, st); /* a takeover may have closed it */
    return EMBER_OK;
}

void namenode_handle_append(namenode *nn, uint64_t conn, const AppendRequest *m) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0;
    if (namenode_lease_take_file(nn, conn, m->path, m->client_name, "APPEND_FILE", &st) != 0)
        return;
    fs_namespace_blocks(nn->ns, m->path, &blocks, &n);
    const block_entry *last = n > 0 ? block_manager_get(nn->bm, blocks[n - 1]) : NULL;
    /* A last block with room left is continued: through its live replicas. */
    DatanodeLocation locs[BLOCK_MANAGER_MAX_REPLICAS];
    DatanodeLocation *loc_ptrs[BLOCK_MANAGER_MAX_REPLICAS];
    size_t nloc = 0;
    uint64_t block_id = 0, old_gs = 0, old_len = 0, new_gs = 0;
    if (last != NULL && last->complete && last->length < st.block_size) {
        block_id = last->block_id;
        old_gs = last->gen_stamp;
        old_len = last->length;
        for (int k = 0; k < last->nreplicas; k++)
            if (namenode_location(nn, last->replicas[k], &locs[nloc]) == 0) {
                loc_ptrs[nloc] = &locs[nloc];
                nloc++;
            }
        if (nloc == 0) {
            char msg[MESSAGE_TEXT_MAX];
            snprintf(msg, sizeof(msg),
                     "Failed to APPEND_FILE %.2000s: no live datanode holds its last block "
                     "blk_%llu",
                     m->path, (unsigned long long)block_id);
            namenode_reply_error(nn, conn, EMBER_EIO, msg);
            return;
        }
        new_gs = block_manager_next_gen_stamp(nn->bm);
    }
    EditAppend op = EDIT_APPEND__INIT;
    op.path = m->path;
    op.client_name = m->client_name;
    op.new_gen_stamp = new_gs;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_APPEND;
    rec.append = &op;
    if (namenode_log(nn, conn, &rec, m->path, NULL, NULL) != EMBER_OK)
        return;
    namenode_lease_renew(nn, m->client_name);
    fs_namespace_stat(nn->ns, m->path, &st);
    FileStatus fs;
    namenode_fill_status(&fs, m->path, &st);
    DfsResult res = DFS_RESULT__INIT;
    res.status = &fs;
    res.lease_renew_ms = nn->opts.lease_soft_limit_ms / 2;
    res.socket_timeout_ms = nn->opts.socket_timeout_ms;
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    LocatedBlock *lbs[1] = {&lb};
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    if (new_gs != 0) {
        namenode_block_token(nn, &token, mac, block_id, new_gs, AUTH_TOKEN_WRITE);
        lb.block_id = block_id;
        lb.gen_stamp = new_gs;
        lb.offset = st.length;
        lb.length = old_len;
        lb.n_locations = nloc;
        lb.locations = loc_ptrs;
        lb.token = &token;
        res.n_blocks = 1;
        res.blocks = lbs;
        res.previous_gen_stamp = old_gs;
    }
    namenode_answer(nn, conn, &res, 1);
}

/* ---- the monitor --------------------------------------------------------------- */

typedef struct {
    namenode *nn;
    char **expired; /* paths whose holder is past the hard limit */
    size_t n, cap;
    int failed;
} expired_files;

/* A file to recover: its holder is past the hard limit, or a truncate's
 * block recovery is to be (re)started -- after a restart, or a timed-out
 * attempt -- without waiting for the lease. */
static int collect_expired(const char *path, const char *holder, const uint64_t *blocks,
                           size_t nblocks, void *arg) {
    expired_files *x = arg;
    const block_entry *last =
        nblocks > 0 ? block_manager_get(x->nn->bm, blocks[nblocks - 1]) : NULL;
    int truncate = last != NULL && last->truncating && recovery_find(x->nn, last->block_id) == NULL;
    if (!truncate &&
        lease_age(x->nn, holder != NULL ? holder : "") < x->nn->opts.lease_hard_limit_ms)
        return 0;
    if (x->n == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 16;
        char **p = realloc(x->expired, ncap * sizeof(*p));
        if (p == NULL) {
            x->failed = 1;
            return 1;
        }
        x->expired = p;
        x->cap = ncap;
    }
    if ((x->expired[x->n] = strdup(path)) == NULL) {
        x->failed = 1;
        return 1;
    }
    x->n++;
    return 0;
}

/* Drops leases whose holder has had no open file for a soft limit. */
static int lease_in_use(const char *path, const char *holder, const uint64_t *blocks,
                        size_t nblocks, void *arg) {
    (void)path;
    (void)blocks;
    (void)nblocks;
    return holder != NULL && strcmp(holder, arg) == 0;
}

static void lease_expire_idle(namenode *nn) {
    int64_t now = clock_monotonic_ms();
    for (size_t i = 0; i < nn->nleases;) {
        nn_lease *l = &nn->leases[i];
        if (now - l->renewed_ms >= nn->opts.lease_soft_limit_ms &&
            fs_namespace_open_files(nn->ns, lease_in_use, l->holder) == 0) {
            free(l->holder);
            *l = nn->leases[--nn->nleases];
            continue;
        }
        i++;
    }
}

void namenode_lease_tick(event_loop *loop, void *arg) {
    namenode *nn = arg;
    (void)loop;
    int64_t now = clock_monotonic_ms();
    for (size_t i = 0; i < nn->nrecoveries;) {
        nn_recovery *r = &nn->recoveries[i];
        size_t before = nn->nrecoveries;
        if (now >= r->deadline_ms) {
            if (r->phase == NN_RECOVERY_INIT) {
                recovery_decide(nn, r); /* removes r, or moves it to UPDATE */
            } else {
                LOG_WARN("lease recovery of blk_%llu: no replica finalized in time; trying "
                         "again",
                         (unsigned long long)r->block_id);
                recovery_remove(nn, r);
            }
        }
        if (nn->nrecoveries == before)
            i++; /* else the last one moved into slot i */
    }
    if (nn->safe_mode != NAMENODE_SAFE_OFF || nn->failed)
        return;
    expired_files x = {.nn = nn};
    fs_namespace_open_files(nn->ns, collect_expired, &x);
    for (size_t i = 0; i < x.n; i++) {
        LOG_INFO("recovering %s (lease past the hard limit, or a truncate to finish)",
                 x.expired[i]);
        namenode_lease_recover(nn, NAMENODE_NO_CONN, x.expired[i]);
        free(x.expired[i]);
    }
    free(x.expired);
    lease_expire_idle(nn);
}

void namenode_leases_free(namenode *nn) {
    for (size_t i = 0; i < nn->nleases; i++)
        free(nn->leases[i].holder);
    free(nn->leases);
    while (nn->nrecoveries > 0)
        recovery_remove(nn, &nn->recoveries[0]);
    free(nn->recoveries);
}
