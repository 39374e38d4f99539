/* datanode_internal.h -- what datanode.c, replication.c and
 * block_scanner.c share.
 *
 * The layout of struct datanode, the helper of datanode.c that the
 * replication source uses, the replication source's entry points
 * (replication.c) and the block scanner's (block_scanner.c).  Private to
 * datanode/: nothing outside it includes this file. */
#ifndef EMBER_DATANODE_INTERNAL_H
#define EMBER_DATANODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "block_store.h"
#include "datanode.h"
#include "proto/message.h"

#define DN_MAX_CONNECTIONS 1024
#define DN_MAX_DOWNSTREAM 16  /* message.c's limit on downstream and targets */
#define DN_MAX_REPLICATIONS 8 /* replications this node sources at once */
#define DN_CHUNKS_MAX (MESSAGE_PACKET_MAX / BLOCK_CHUNK_SIZE)

typedef struct dn_conn dn_conn;
typedef struct dn_pipeline dn_pipeline;
typedef struct dn_replication dn_replication;
typedef struct dn_scanner dn_scanner;

struct datanode {
    event_loop *loop;
    int rank;
    int primary_rank;
    char *data_dirs;
    int64_t io_timeout_ms;
    datanode_send_fn send;
    void *send_arg;
    char *secret; /* NULL until datanode_set_secret() */
    block_store *store;
    int listen_fd;
    int port;
    uint64_t timer_id;
    dn_conn *conns[DN_MAX_CONNECTIONS];
    int nconns;
    dn_pipeline **pipes;
    size_t npipes, pipes_cap;
    dn_replication *repls[DN_MAX_REPLICATIONS]; /* replication.c's */
    size_t nrepls;
    dn_scanner *scanner;                 /* block_scanner.c's; NULL when scanning is off */
    uint8_t scratch[MESSAGE_PACKET_MAX]; /* read packets, discarded input */
};

/* ---- datanode.c ---- */

/* 0 when the downstream list is usable from this node: no more than
 * DN_MAX_DOWNSTREAM, neither this rank nor `also' (-1: none), no rank
 * twice; else EMBER_EINVAL. */
int datanode_check_downstream(const datanode *dn, const uint32_t *ranks, size_t n, int also);

/* ---- replication.c: this node as the source of a ReplicateBlock ---- */

/* Starts copying the finalized replica rb names to rb's targets (the
 * caller checked that the primary sent it and that no pipeline of the
 * block runs here).  Everything it refuses -- no such replica, another gen
 * stamp, a bad target list, too many replications -- is logged and
 * dropped.  rb stays the caller's. */
void dn_replication_start(datanode *dn, const ReplicateBlock *rb);

/* Takes a PipelineAck meant for a replication this node sources.  Returns
 * 1 when one of them had ack->block_id (the ack was used or logged), 0
 * otherwise.  ack stays the caller's. */
int dn_replication_handle_ack(datanode *dn, int source, const PipelineAck *ack);

/* 1 when this node sources a replication of block_id. */
int dn_replication_running(const datanode *dn, uint64_t block_id);

/* Fails the replications whose oldest packet waited too long for its
 * ack.  Called by the datanode's timer. */
void dn_replication_on_timer(datanode *dn, int64_t now);

/* Ends every replication silently, freeing all (datanode_destroy). */
void dn_replication_abort_all(datanode *dn);

/* ---- block_scanner.c: background verification of the replicas ---- */

/* Starts the block scanner on dn's loop (its own timer): every replica is
 * re-read at most bytes_per_sec on average and verified again once
 * period_ms have passed since its last check; a corrupt one is reported to
 * the primary (RankMessage.bad_replica).  bytes_per_sec <= 0 starts
 * nothing (dn->scanner stays NULL).  Returns 0, or EMBER_ENOMEM or the
 * event loop's error; the scanner is dn's, freed by dn_scanner_stop(). */
int dn_scanner_start(datanode *dn, int64_t bytes_per_sec, int64_t period_ms);

/* The replica of block_id was deleted: the scanner stops reading it and
 * drops what it knew of it.  A no-op without a scanner. */
void dn_scanner_forget(datanode *dn, uint64_t block_id);

/* Removes the scanner's timer and frees it (before the store is closed).
 * A no-op without a scanner. */
void dn_scanner_stop(datanode *dn);

#endif
