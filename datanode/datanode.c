/* datanode.c -- block data service of a core rank (see datanode.h): its
 * lifecycle, the dispatch of the rank messages it is sent, and its
 * reports to the primary.
 *
 * Owns struct datanode (datanode_internal.h) and the block store; starts
 * and stops the parts, each in a file of its own that shares struct
 * datanode through datanode_internal.h:
 *   transfer_server.c  the TCP data port: client reads, the first hop of
 *                      writes, block checksums
 *   pipeline.c         the write pipelines this node takes part in:
 *                      packets written, forwarded over MPI, acked
 *   pipeline_setup.c   how a pipeline starts: new replica, append,
 *                      pipeline recovery; admission
 *   pipeline_disk.c    the pipelines' hsyncs and finalizes on a thread
 *                      pool, and what waits for a block's finalize
 *   pipeline_bulk.c    packet data as bulk payloads, sent and received
 *                      raw, handed out in each pipeline's order
 *                      (packet_order.c)
 *   replication.c      this node as the source of a ReplicateBlock
 *   recovery.c         block recovery (InitReplicaRecovery, UpdateReplica)
 *   block_scanner.c    background verification of the replicas
 *   directory_scanner.c  the disk compared with the index
 *   block_checksum.c   a replica's checksum for -checksum
 *   short_circuit.c    the unix socket for short-circuit local reads
 *   block_serve.c      ranges of replicas for tasks on other hosts, asked
 *                      by their workers over MPI
 * Everything runs on the rank's event loop, but for the blocking part of
 * pipeline_disk.c's jobs; opts->send must not call back into the
 * datanode (it queues, as mpi_link_send does).
 *
 * datanode_on_rank_message() takes the RankMessages: a PipelinePacket
 * waits there for its bulk payload and for the earlier packets of its
 * pipeline (pipeline_bulk.c), then everything goes through
 * datanode_dispatch(), the one dispatch of RankMessages: packets
 * and acks go to the pipelines (acks the pipeline does not take, to the
 * replication this node sources: a pipeline is refused while a
 * replication of its block runs here and the other way round, so no block
 * id ever names both), a DeleteBlocks is served here, a ReplicateBlock
 * checked here (from the primary, not for a block being written here) and
 * handed to replication.c, block recovery to recovery.c -- a message that
 * needs its block's replica settled waits first while that block's
 * finalize runs (dn_pipeline_defer()).  The replicas a
 * DeleteBlocks removed are confirmed to the primary
 * (IncrementalBlockReport, deleted ids), and the block scanner is told
 * they are gone.  The reports to the primary -- BlockReceived, the full
 * block report, incremental reports, bad replicas -- are made here for
 * every part (dn_send_block_received(), dn_send_incremental_report(),
 * dn_send_bad_replica()).  One timer drives the pipelines' and the
 * replications' timeouts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "proto/message.h"

#define DN_TIMER_MAX_MS 200

/* ---- helpers ------------------------------------------------------------------- */

/* See datanode_internal.h. */
int dn_send(datanode *dn, int dest, const RankMessage *msg) {
    int rc = dn->send(dn->send_arg, dest, msg);
    if (rc != EMBER_OK)
        LOG_WARN("datanode: cannot send %s to rank %d: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
    return rc;
}

/* See datanode_internal.h. */
int dn_send_data(datanode *dn, int dest, const RankMessage *msg) {
    int rc = dn->send_data(dn->send_arg, dest, msg);
    if (rc != EMBER_OK && rc != EMBER_EAGAIN)
        LOG_WARN("datanode: cannot send %s to rank %d: %s", message_rank_name(msg), dest,
                 ember_strerror(rc));
    return rc;
}

/* See datanode_internal.h. */
int dn_token_ok(const datanode *dn, const BlockToken *t, uint64_t id, uint64_t gs, uint32_t mode,
                char *why, size_t whylen) {
    int64_t now = clock_wall_ms();
    if (t->block_id != id || t->gen_stamp != gs)
        snprintf(why, whylen, "token is for blk_%" PRIu64 " gs %" PRIu64, t->block_id,
                 t->gen_stamp);
    else if (t->mode != mode)
        snprintf(why, whylen, "token allows %s, not %s",
                 t->mode == AUTH_TOKEN_READ ? "read" : "write",
                 mode == AUTH_TOKEN_READ ? "read" : "write");
    else if (t->expiry_ms <= now)
        snprintf(why, whylen, "token expired %" PRId64 " ms ago", now - t->expiry_ms);
    else if (!auth_block_token_verify(dn->secret, id, gs, mode, t->expiry_ms, t->mac.data,
                                      t->mac.len, now))
        snprintf(why, whylen, "token signature is wrong");
    else
        return 1;
    return 0;
}

/* See datanode_internal.h. */
int datanode_check_downstream(const datanode *dn, const uint32_t *ranks, size_t n, int also) {
    if (n > DN_MAX_DOWNSTREAM)
        return EMBER_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (ranks[i] > INT32_MAX || (int)ranks[i] == dn->rank || (int)ranks[i] == also)
            return EMBER_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (ranks[k] == ranks[i])
                return EMBER_EINVAL;
    }
    return EMBER_OK;
}

/* See datanode_internal.h. */
void dn_send_block_received(datanode *dn, uint64_t id, uint64_t gs, uint64_t length) {
    BlockReceived br = BLOCK_RECEIVED__INIT;
    br.block_id = id;
    br.gen_stamp = gs;
    br.length = length;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_RECEIVED;
    msg.block_received = &br;
    dn_send(dn, dn->primary_rank, &msg);
}

/* See datanode_internal.h.  Pieces take up to MESSAGE_REPORT_MAX entries
 * of each list. */
int dn_send_incremental_report(datanode *dn, const block_info *received, size_t nreceived,
                               const uint64_t *deleted, size_t ndeleted) {
    size_t piece = nreceived < MESSAGE_REPORT_MAX ? nreceived : MESSAGE_REPORT_MAX;
    uint64_t *fields = malloc((3 * piece + 1) * sizeof(uint64_t));
    if (fields == NULL) {
        LOG_ERROR("datanode: out of memory for an incremental block report");
        return EMBER_ENOMEM;
    }
    int rc = EMBER_OK;
    size_t r = 0, d = 0;
    while (rc == EMBER_OK && (r < nreceived || d < ndeleted)) {
        size_t nr = nreceived - r < piece ? nreceived - r : piece;
        size_t nd = ndeleted - d < MESSAGE_REPORT_MAX ? ndeleted - d : MESSAGE_REPORT_MAX;
        for (size_t i = 0; i < nr; i++) {
            fields[i] = received[r + i].block_id;
            fields[nr + i] = received[r + i].gen_stamp;
            fields[2 * nr + i] = received[r + i].length;
        }
        IncrementalBlockReport ibr = INCREMENTAL_BLOCK_REPORT__INIT;
        ibr.n_received_block_ids = ibr.n_received_gen_stamps = ibr.n_received_lengths = nr;
        ibr.received_block_ids = fields;
        ibr.received_gen_stamps = fields + nr;
        ibr.received_lengths = fields + 2 * nr;
        ibr.n_deleted_block_ids = nd;
        ibr.deleted_block_ids = (uint64_t *)(deleted + d);
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT;
        msg.incremental_block_report = &ibr;
        rc = dn_send(dn, dn->primary_rank, &msg);
        r += nr;
        d += nd;
    }
    free(fields);
    return rc;
}

/* See datanode_internal.h. */
int dn_send_bad_replica(datanode *dn, uint64_t block_id) {
    ReportBadBlock bad = REPORT_BAD_BLOCK__INIT;
    bad.block_id = block_id;
    bad.rank = (uint32_t)dn->rank;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BAD_REPLICA;
    msg.bad_replica = &bad;
    return dn_send(dn, dn->primary_rank, &msg);
}

void datanode_on_writable(datanode *dn, int dest) {
    dn_pipeline_on_writable(dn, dest);
    dn_replication_on_writable(dn, dest);
    dn_block_serve_writable(dn, dest);
}

/* Deletes what the primary asks for and confirms what it deleted with an
 * IncrementalBlockReport (HDFS's DELETED entries), so that the primary's
 * map follows the disk rather than its own order: a replica this node
 * did not have (or is writing) is not confirmed. */
static void datanode_handle_delete_blocks(datanode *dn, int source, const DeleteBlocks *del) {
    if (source != dn->primary_rank) {
        LOG_WARN("datanode: DeleteBlocks from rank %d, not the primary; ignored", source);
        return;
    }
    uint64_t *gone = malloc((del->n_block_ids + 1) * sizeof(uint64_t));
    size_t deleted = 0;
    for (size_t i = 0; i < del->n_block_ids; i++) {
        int rc = block_store_delete(dn->store, del->block_ids[i]);
        if (rc == EMBER_OK) {
            if (gone != NULL)
                gone[deleted] = del->block_ids[i];
            deleted++;
            dn_scanner_forget(dn, del->block_ids[i]);
        } else if (rc != EMBER_ENOENT)
            LOG_WARN("datanode: cannot delete blk_%" PRIu64 ": %s", del->block_ids[i],
                     ember_strerror(rc));
    }
    if (del->n_block_ids == 1)
        LOG_INFO("datanode: deleted blk_%" PRIu64 "%s", del->block_ids[0],
                 deleted ? "" : " (no such replica)");
    else
        LOG_INFO("datanode: deleted %zu of %zu replica(s)", deleted, del->n_block_ids);
    if (gone == NULL)
        LOG_ERROR("datanode: out of memory: %zu deletion(s) not confirmed to the primary", deleted);
    else if (deleted > 0)
        dn_send_incremental_report(dn, NULL, 0, gone, deleted);
    free(gone);
}

/* The primary asks this node to copy a replica it holds (replication.c);
 * a block being written here is not copied from here. */
static void datanode_handle_replicate_block(datanode *dn, int source, const ReplicateBlock *rb) {
    if (source != dn->primary_rank) {
        LOG_WARN("datanode: ReplicateBlock of blk_%" PRIu64
                 " from rank %d, not the primary; ignored",
                 rb->block_id, source);
        return;
    }
    if (dn_pipeline_running(dn, rb->block_id)) {
        LOG_WARN("datanode: cannot replicate blk_%" PRIu64 ": it is being written here; dropped",
                 rb->block_id);
        return;
    }
    dn_replication_start(dn, rb);
}

/* The block a message that must wait for its block's finalize is about
 * (dn_pipeline_defer()): 1 with *block_id, else 0. */
static int dn_message_block(const RankMessage *msg, uint64_t *block_id) {
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_PIPELINE_PACKET: *block_id = msg->pipeline_packet->block_id; return 1;
    case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
        *block_id = msg->init_replica_recovery->block_id;
        return 1;
    case RANK_MESSAGE__BODY_UPDATE_REPLICA: *block_id = msg->update_replica->block_id; return 1;
    default: return 0;
    }
}

void datanode_on_rank_message(datanode *dn, int source, const RankMessage *msg) {
    if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_PACKET)
        dn_bulk_take_packet(dn, source, msg); /* in its pipeline's order, payload in */
    else
        datanode_dispatch(dn, source, msg, NULL);
}

/* See datanode_internal.h. */
void datanode_dispatch(datanode *dn, int source, const RankMessage *msg, uint8_t **payload) {
    uint64_t block_id;
    if (dn_message_block(msg, &block_id) && dn_pipeline_defer(dn, source, msg, block_id))
        return; /* handled once the block's finalize is done (pipeline_disk.c) */
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_PIPELINE_PACKET:
        dn_pipeline_handle_packet(dn, source, msg->pipeline_packet, payload);
        break;
    case RANK_MESSAGE__BODY_PIPELINE_ACK:
        dn_pipeline_handle_ack(dn, source, msg->pipeline_ack);
        break;
    case RANK_MESSAGE__BODY_DELETE_BLOCKS:
        datanode_handle_delete_blocks(dn, source, msg->delete_blocks);
        break;
    case RANK_MESSAGE__BODY_REPLICATE_BLOCK:
        datanode_handle_replicate_block(dn, source, msg->replicate_block);
        break;
    case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
        dn_recovery_init(dn, source, msg->init_replica_recovery);
        break;
    case RANK_MESSAGE__BODY_UPDATE_REPLICA:
        dn_recovery_update(dn, source, msg->update_replica);
        break;
    case RANK_MESSAGE__BODY_BLOCK_READ_REQUEST:
        if (dn->send_bulk != NULL)
            dn_block_serve_start(dn, source, msg->block_read_request);
        else
            LOG_WARN("datanode: a block read from rank %d, without bulk transfer; ignored", source);
        break;
    default:
        LOG_WARN("datanode: %s from rank %d is not for a datanode", message_rank_name(msg), source);
        break;
    }
}

/* Every few ms: pipeline and replication timeouts. */
static void dn_on_timer(event_loop *loop, void *arg) {
    datanode *dn = arg;
    int64_t now = clock_monotonic_ms();
    dn_pipeline_on_timer(dn, now);
    dn_replication_on_timer(dn, now);
}

int datanode_create(event_loop *loop, const datanode_options *opts, datanode **out, char *err,
                    size_t errlen) {
    if (opts->data_dirs == NULL || opts->bind_addr == NULL || opts->send == NULL ||
        opts->io_timeout_ms <= 0 || opts->scan_bytes_per_sec < 0 || opts->scan_period_ms < 0 ||
        opts->directory_scan_interval_ms < 0 ||
        (opts->send_bulk == NULL) != (opts->recv_bulk == NULL)) {
        snprintf(err, errlen, "datanode: incomplete or invalid options");
        return EMBER_EINVAL;
    }
    datanode *dn = calloc(1, sizeof(*dn));
    if (dn == NULL) {
        snprintf(err, errlen, "datanode: out of memory");
        return EMBER_ENOMEM;
    }
    dn->loop = loop;
    dn->rank = opts->rank;
    dn->primary_rank = opts->primary_rank;
    dn->io_timeout_ms = opts->io_timeout_ms;
    dn->send = opts->send;
    dn->send_data = opts->send_data != NULL ? opts->send_data : opts->send;
    dn->send_bulk = opts->send_bulk;
    dn->recv_bulk = opts->recv_bulk;
    dn->send_arg = opts->send_arg;
    packet_order_init(&dn->inbound);
    int rc = EMBER_ENOMEM;
    dn->data_dirs = strdup(opts->data_dirs);
    if (dn->data_dirs == NULL) {
        snprintf(err, errlen, "datanode: out of memory");
        goto fail;
    }
    rc = block_store_open(opts->data_dirs, &dn->store, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    block_store_set_sync_on_close(dn->store, opts->sync_on_close);
    block_store_set_reserved(dn->store, opts->reserved_bytes);
    dn->block_size = opts->block_size;
    rc = dn_disk_start(dn);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "datanode: cannot start its disk threads: %s", ember_strerror(rc));
        goto fail;
    }
    rc = dn_transfer_start(dn, opts->bind_addr, opts->port, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    int64_t interval = dn->io_timeout_ms / 4;
    interval = interval < 10 ? 10 : interval > DN_TIMER_MAX_MS ? DN_TIMER_MAX_MS : interval;
    rc = event_loop_add_timer(loop, interval, dn_on_timer, dn, &dn->timer_id);
    if (rc == EMBER_OK)
        rc = dn_scanner_start(dn, opts->scan_bytes_per_sec, opts->scan_period_ms);
    if (rc == EMBER_OK)
        rc = dn_directory_scanner_start(dn, opts->directory_scan_interval_ms);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "datanode: cannot register with the event loop: %s",
                 ember_strerror(rc));
        goto fail;
    }
    dn_short_circuit_start(dn, opts->domain_socket_path); /* off on failure, never fatal */
    *out = dn;
    return EMBER_OK;
fail:
    datanode_destroy(dn);
    return rc;
}

void datanode_destroy(datanode *dn) {
    if (dn == NULL)
        return;
    dn_transfer_stop(dn); /* ends the pipelines of its connections */
    dn_pipeline_abort_all(dn);
    dn_disk_stop(dn); /* the disk jobs out finish into the store */
    dn_block_serve_stop(dn);
    dn_replication_abort_all(dn);
    dn_bulk_stop(dn); /* after the pipelines and replications: nothing sends now */
    dn_scanner_stop(dn);
    dn_directory_scanner_stop(dn);
    dn_short_circuit_stop(dn);
    if (dn->timer_id != 0)
        event_loop_remove_timer(dn->loop, dn->timer_id);
    block_store_close(dn->store);
    free(dn->secret);
    free(dn->data_dirs);
    free(dn);
}

int datanode_port(const datanode *dn) { return dn->port; }

void datanode_set_secret(datanode *dn, const char *secret) {
    free(dn->secret);
    dn->secret = (secret != NULL && secret[0] != '\0') ? strdup(secret) : NULL;
}

/* The finalized replicas go in pieces of at most MESSAGE_REPORT_MAX; the
 * last piece also lists the RBW replicas (at most MESSAGE_REPORT_MAX of
 * them), split into three arrays the same way. */
void datanode_send_block_report(datanode *dn) {
    block_info *list = NULL, *rbw = NULL;
    size_t n = 0, nrbw = 0;
    int rc = block_store_list(dn->store, &list, &n);
    if (rc == EMBER_OK)
        rc = block_store_list_rbw(dn->store, &rbw, &nrbw);
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: cannot list replicas for the block report: %s", ember_strerror(rc));
        free(list);
        return;
    }
    if (nrbw > MESSAGE_REPORT_MAX) {
        LOG_WARN("datanode: %zu rbw replicas; the block report lists the first %d", nrbw,
                 MESSAGE_REPORT_MAX);
        nrbw = MESSAGE_REPORT_MAX;
    }
    size_t piece = n < MESSAGE_REPORT_MAX ? n : MESSAGE_REPORT_MAX;
    uint64_t *ids = malloc((piece + 1) * sizeof(uint64_t));
    uint64_t *gss = malloc((piece + 1) * sizeof(uint64_t));
    uint64_t *lens = malloc((piece + 1) * sizeof(uint64_t));
    uint64_t *rbw_fields = malloc((3 * nrbw + 1) * sizeof(uint64_t));
    if (ids == NULL || gss == NULL || lens == NULL || rbw_fields == NULL) {
        LOG_ERROR("datanode: out of memory for the block report");
        goto done;
    }
    for (size_t i = 0; i < nrbw; i++) {
        rbw_fields[i] = rbw[i].block_id;
        rbw_fields[nrbw + i] = rbw[i].gen_stamp;
        rbw_fields[2 * nrbw + i] = rbw[i].length;
    }
    uint32_t seq = 0;
    size_t off = 0;
    do {
        size_t k = n - off < MESSAGE_REPORT_MAX ? n - off : MESSAGE_REPORT_MAX;
        for (size_t i = 0; i < k; i++) {
            ids[i] = list[off + i].block_id;
            gss[i] = list[off + i].gen_stamp;
            lens[i] = list[off + i].length;
        }
        BlockReport report = BLOCK_REPORT__INIT;
        report.seq = seq++;
        report.last = off + k == n;
        report.n_block_ids = report.n_gen_stamps = report.n_lengths = k;
        report.block_ids = ids;
        report.gen_stamps = gss;
        report.lengths = lens;
        if (report.last) {
            report.n_rbw_block_ids = report.n_rbw_gen_stamps = report.n_rbw_lengths = nrbw;
            report.rbw_block_ids = rbw_fields;
            report.rbw_gen_stamps = rbw_fields + nrbw;
            report.rbw_lengths = rbw_fields + 2 * nrbw;
        }
        RankMessage msg = RANK_MESSAGE__INIT;
        msg.body_case = RANK_MESSAGE__BODY_BLOCK_REPORT;
        msg.block_report = &report;
        if (dn_send(dn, dn->primary_rank, &msg) != EMBER_OK)
            break;
        off += k;
    } while (off < n);
    LOG_INFO("datanode: block report sent: %zu replica(s) and %zu rbw in %u piece(s)", n, nrbw,
             seq);
done:
    free(ids);
    free(gss);
    free(lens);
    free(rbw_fields);
    free(rbw);
    free(list);
}

void datanode_storage(const datanode *dn, disk_usage *out) {
    block_store_space(dn->store, dn->block_size, out);
}
