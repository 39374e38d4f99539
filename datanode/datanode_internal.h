/* datanode_internal.h -- what datanode.c, replication.c,
 * block_scanner.c, directory_scanner.c and block_checksum.c share.
 *
 * The layout of struct datanode, the helpers of datanode.c that the
 * others use (its reports to the primary among them), the replication
 * source's entry points (replication.c), the block scanner's
 * (block_scanner.c), the directory scanner's (directory_scanner.c), the
 * replica checksum's (block_checksum.c), the short-circuit socket's
 * (short_circuit.c) and block recovery's (recovery.c).  Private to
 * datanode/: nothing outside it includes this file. */
#ifndef EMBER_DATANODE_INTERNAL_H
#define EMBER_DATANODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "block_store.h"
#include "datanode.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define DN_MAX_CONNECTIONS 1024 /* clients served at once on the data port */
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
    uint64_t block_size; /* dfs.blocksize: a data directory with less free is reported full */
    int64_t io_timeout_ms;
    datanode_send_fn send;
    datanode_send_fn send_data; /* opts.send_data, or send */
    void *send_arg;
    char *secret; /* NULL until datanode_set_secret() */
    block_store *store;
    struct frame_server *data_server; /* the data port (proto/frame_server.h) */
    int port;
    uint64_t timer_id;
    dn_pipeline **pipes;
    size_t npipes, pipes_cap;
    dn_replication *repls[DN_MAX_REPLICATIONS]; /* replication.c's */
    size_t nrepls;
    dn_scanner *scanner;                 /* block_scanner.c's; NULL when scanning is off */
    uint64_t dirscan_timer_id;           /* directory_scanner.c's timer; 0 when off */
    struct dn_short_circuit *short_circuit; /* short_circuit.c's; NULL when off */
    uint8_t scratch[MESSAGE_PACKET_MAX]; /* read packets, discarded input */
};

/* ---- datanode.c ---- */

/* 0 when the downstream list is usable from this node: no more than
 * DN_MAX_DOWNSTREAM, neither this rank nor `also' (-1: none), no rank
 * twice; else EMBER_EINVAL. */
int datanode_check_downstream(const datanode *dn, const uint32_t *ranks, size_t n, int also);

/* 1 when a client's block token t allows mode on (id, gs) -- right block
 * and gen stamp, right mode, not expired, signed with the cluster secret
 * (which the caller checked is set) -- else 0 with the reason in why. */
int dn_token_ok(const datanode *dn, const BlockToken *t, uint64_t id, uint64_t gs, uint32_t mode,
                char *why, size_t whylen);

/* Sends msg to rank dest through dn->send, logging a failure (WARN).
 * Returns the transport's result. */
int dn_send(datanode *dn, int dest, const RankMessage *msg);

/* The same through dn->send_data, for PipelinePackets: EMBER_EAGAIN (the
 * destination is full; datanode_on_writable() follows) is not logged. */
int dn_send_data(datanode *dn, int dest, const RankMessage *msg);

/* Tells the primary that a replica is finalized here (BlockReceived). */
void dn_send_block_received(datanode *dn, uint64_t id, uint64_t gs, uint64_t length);

/* Tells the primary about replicas that appeared here other than by a
 * write (received: id, gen stamp, length) and replicas this node no
 * longer holds (deleted ids), in IncrementalBlockReports of at most
 * MESSAGE_REPORT_MAX entries per list.  Returns 0, or the transport's
 * error for the first piece that could not be sent (the rest is dropped;
 * the next full block report carries it).  The arrays stay the caller's. */
int dn_send_incremental_report(datanode *dn, const block_info *received, size_t nreceived,
                               const uint64_t *deleted, size_t ndeleted);

/* Tells the primary that this node's replica of block_id is corrupt
 * (RankMessage.bad_replica).  Returns the transport's result. */
int dn_send_bad_replica(datanode *dn, uint64_t block_id);

/* Stops the write of block_id running here, if any (a client's or an
 * upstream's pipeline): its upstream gets a failed ack naming why, its
 * replica is kept in rbw/ (block_writer_detach()), a client connection is
 * closed once the ack is out, and further packets are refused as for any
 * unknown pipeline.  Returns 1 when a write was stopped, else 0. */
int dn_stop_write(datanode *dn, uint64_t block_id, const char *why);

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

/* dest can take data again (datanode_on_writable()): the replications
 * whose first target it is send what their window allows. */
void dn_replication_on_writable(datanode *dn, int dest);

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

/* ---- directory_scanner.c: the disk compared with the index ---- */

/* Runs datanode_directory_scan() every interval_ms on dn's loop
 * (dn->dirscan_timer_id); interval_ms <= 0 starts nothing.  Returns 0 or
 * the event loop's error. */
int dn_directory_scanner_start(datanode *dn, int64_t interval_ms);

/* Removes the timer (before the store is closed).  A no-op when off. */
void dn_directory_scanner_stop(datanode *dn);

/* ---- block_checksum.c: a replica's checksum for -checksum (OP_BLOCK_CHECKSUM) ---- */

/* Answers a client's BlockChecksumRequest (the first frame of its
 * connection; the caller checked that the secret is set) by appending one
 * frame to out: a BlockChecksumResponse, or a DataError when the token is
 * refused, the replica is missing or of another gen stamp, or corrupt --
 * a corrupt replica is also reported to the primary.  The caller then
 * closes the connection as after a read.  Returns 0 once the frame is
 * queued, else the error that kept it from being queued.  peer names the
 * client in log lines; req stays the caller's. */
int dn_block_checksum_answer(datanode *dn, const BlockChecksumRequest *req, const char *peer,
                             socket_outq *out);

/* ---- short_circuit.c: the unix socket for short-circuit local reads ---- */

typedef struct dn_short_circuit dn_short_circuit;

/* Listens for ShortCircuitRequests on the unix socket path_template names
 * ("_PORT" replaced by dn->port), on dn's loop.  Never fails the datanode:
 * NULL or "" starts nothing, and a path too long for a unix socket, one a
 * live process listens on, or one that cannot be bound is logged (WARN)
 * and leaves dn->short_circuit NULL: clients then read over TCP.  Call it
 * once dn->loop, dn->store, dn->port and dn->io_timeout_ms are set. */
void dn_short_circuit_start(datanode *dn, const char *path_template);

/* Closes the socket and its connections, removes the socket file if it
 * is still the one bound, and frees.  A no-op when short-circuit is off. */
void dn_short_circuit_stop(datanode *dn);

/* ---- recovery.c: block recovery (lease recovery of a file's last block) ---- */

/* InitReplicaRecovery from rank source (only dn->primary_rank is obeyed):
 * stops a write of the block here, then answers the primary with a
 * ReplicaRecoveryInfo.  m stays the caller's. */
void dn_recovery_init(datanode *dn, int source, const InitReplicaRecovery *m);

/* UpdateReplica from rank source (only dn->primary_rank is obeyed):
 * finalizes the replica at m->length under m->recovery_id and sends
 * BlockReceived, or logs why it cannot.  m stays the caller's. */
void dn_recovery_update(datanode *dn, int source, const UpdateReplica *m);

#endif
