/* recovery.c -- the datanode's side of block recovery (HDFS's
 * initReplicaRecovery and updateReplicaUnderRecovery).
 *
 * Lease recovery of a file's last block is driven by the primary, which
 * plays HDFS's recovering datanode: it sends InitReplicaRecovery
 * {block_id, recovery_id} to every live core node, each answers with what
 * it holds, and the primary then sends UpdateReplica {block_id,
 * recovery_id, length} to the holders it keeps.  recovery_id is a new gen
 * stamp: the recovered replicas carry it.
 *
 * InitReplicaRecovery: a write of the block running here is stopped first
 * (dn_pipeline_stop_write(): its upstream -- the client or the previous
 * datanode -- gets a failed ack, the replica is detached into rbw/ with what was
 * written, no BlockReceived is sent for it, later packets are refused),
 * so that its length cannot change once the primary knows it.  The
 * answer, ReplicaRecoveryInfo {found, gen_stamp, length, finalized},
 * describes an RBW replica (length: its valid length, the bytes covered
 * by verifying checksums) or a finalized one; found is false when there
 * is none, or when its gen stamp is above recovery_id (a newer recovery
 * or append got there first).
 *
 * UpdateReplica: block_store_recover() cuts an RBW replica to length and
 * finalizes it under recovery_id, or gives a finalized replica of exactly
 * that length the new gen stamp (its meta renamed); with truncate set (a
 * truncate inside the block: the namenode's target length), a finalized
 * replica longer than length is cut to it first
 * (block_store_recover_truncate()).  A replica already at
 * (recovery_id, length) counts as done, so a repeated UpdateReplica is
 * answered again.  Success sends BlockReceived {block_id, recovery_id,
 * length} to the primary, as a normal finalize does; the readers and the
 * block scanner see the new gen stamp from then on.  Anything else (no
 * replica, one being written again, too short, of another length, of a
 * newer gen stamp, an I/O error or a checksum that does not verify) is
 * logged and answered with nothing: the primary times out and retries
 * with a new recovery id.
 *
 * A replica the primary did not ask to update (an older gen stamp, or
 * fewer bytes than the recovered length) is stale once the recovery
 * commits: the primary deletes it with DeleteBlocks, like any other
 * unwanted replica.  Should one stay (this node was not asked, or its
 * UpdateReplica failed), a copy of the block with the newer gen stamp
 * replaces a stale RBW replica here instead of being refused
 * (block_writer_create()).
 *
 * No state of its own: what matters is the replica's, in the block store.
 * Runs on the datanode's loop thread. */
#include <inttypes.h>
#include <stdio.h>

#include "block_store.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"

static const char *replica_state_name(block_replica_state st) {
    switch (st) {
    case BLOCK_REPLICA_WRITING: return "being written";
    case BLOCK_REPLICA_RBW: return "rbw";
    case BLOCK_REPLICA_FINALIZED: return "finalized";
    default: return "absent";
    }
}

void dn_recovery_init(datanode *dn, int source, const InitReplicaRecovery *m) {
    if (source != dn->primary_rank) {
        LOG_WARN("datanode: InitReplicaRecovery of blk_%" PRIu64
                 " from rank %d, not the primary; ignored",
                 m->block_id, source);
        return;
    }
    char why[96];
    snprintf(why, sizeof(why), "stopped by block recovery %" PRIu64, m->recovery_id);
    if (dn_pipeline_stop_write(dn, m->block_id, why))
        LOG_INFO("datanode: write of blk_%" PRIu64 " stopped by block recovery %" PRIu64,
                 m->block_id, m->recovery_id);
    block_info info;
    block_replica_state st = block_store_replica(dn->store, m->block_id, &info);
    ReplicaRecoveryInfo ri = REPLICA_RECOVERY_INFO__INIT;
    ri.block_id = m->block_id;
    ri.recovery_id = m->recovery_id;
    ri.found = (st == BLOCK_REPLICA_RBW || st == BLOCK_REPLICA_FINALIZED) &&
               info.gen_stamp <= m->recovery_id;
    if (ri.found) {
        ri.gen_stamp = info.gen_stamp;
        ri.length = info.length;
        ri.finalized = st == BLOCK_REPLICA_FINALIZED;
        LOG_INFO("datanode: block recovery %" PRIu64 " of blk_%" PRIu64 ": %s replica, gs %" PRIu64
                 ", %" PRIu64 " bytes",
                 m->recovery_id, m->block_id, replica_state_name(st), info.gen_stamp, info.length);
    } else if (st != BLOCK_REPLICA_ABSENT) {
        LOG_INFO("datanode: block recovery %" PRIu64 " of blk_%" PRIu64
                 ": the %s replica (gs %" PRIu64 ") does not qualify",
                 m->recovery_id, m->block_id, replica_state_name(st), info.gen_stamp);
    } else {
        LOG_INFO("datanode: block recovery %" PRIu64 " of blk_%" PRIu64 ": no replica here",
                 m->recovery_id, m->block_id);
    }
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO;
    msg.replica_recovery_info = &ri;
    dn_send(dn, dn->primary_rank, &msg);
}

void dn_recovery_update(datanode *dn, int source, const UpdateReplica *m) {
    if (source != dn->primary_rank) {
        LOG_WARN("datanode: UpdateReplica of blk_%" PRIu64
                 " from rank %d, not the primary; ignored",
                 m->block_id, source);
        return;
    }
    block_info before;
    block_replica_state st = block_store_replica(dn->store, m->block_id, &before);
    int rc = m->truncate
                 ? block_store_recover_truncate(dn->store, m->block_id, m->recovery_id, m->length)
                 : block_store_recover(dn->store, m->block_id, m->recovery_id, m->length);
    if (rc != EMBER_OK) {
        const char *why = rc == EMBER_ENOENT   ? "no recoverable replica"
                          : rc == EMBER_EINVAL ? "the replica's length does not allow it"
                          : rc == EMBER_ESTATE ? "the replica has a newer gen stamp"
                                               : ember_strerror(rc);
        LOG_WARN("datanode: cannot recover blk_%" PRIu64 " to %" PRIu64 " bytes as gs %" PRIu64
                 ": %s (%s replica, gs %" PRIu64 ", %" PRIu64 " bytes)",
                 m->block_id, m->length, m->recovery_id, why, replica_state_name(st),
                 before.gen_stamp, before.length);
        return;
    }
    LOG_INFO("datanode: recovered blk_%" PRIu64 ": %s replica gs %" PRIu64 " (%" PRIu64
             " bytes) finalized as gs %" PRIu64 " with %" PRIu64 " bytes",
             m->block_id, replica_state_name(st), before.gen_stamp, before.length, m->recovery_id,
             m->length);
    dn_send_block_received(dn, m->block_id, m->recovery_id, m->length);
}
