/* datanode_internal.h -- what the files of the datanode share.
 *
 * The layout of struct datanode, the helpers of datanode.c that the
 * others use (its reports to the primary among them), and the entry
 * points of each part: the data port's (transfer_server.c), the write
 * pipeline's (pipeline.c, pipeline_setup.c), the replication source's
 * (replication.c), the block scanner's (block_scanner.c), the directory
 * scanner's (directory_scanner.c), the replica checksum's
 * (block_checksum.c), the short-circuit socket's (short_circuit.c) and
 * block recovery's (recovery.c).  Private to datanode/: nothing outside
 * it includes this file. */
#ifndef EMBER_DATANODE_INTERNAL_H
#define EMBER_DATANODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "block_store.h"
#include "datanode.h"
#include "packet_order.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define DN_MAX_CONNECTIONS 1024 /* clients served at once on the data port */
#define DN_MAX_DOWNSTREAM 16    /* message.c's limit on downstream and targets */
#define DN_MAX_REPLICATIONS 8   /* replications this node sources at once */
#define DN_CHUNKS_MAX (MESSAGE_PACKET_MAX / BLOCK_CHUNK_SIZE)

typedef struct dn_conn dn_conn;         /* transfer_server.c's */
typedef struct dn_pipeline dn_pipeline; /* pipeline.c's */
typedef struct dn_replication dn_replication;
typedef struct dn_scanner dn_scanner;
typedef struct dn_block_serve dn_block_serve;

struct datanode {
    event_loop *loop;
    int rank;
    int primary_rank;
    char *data_dirs;
    uint64_t block_size; /* dfs.blocksize: a data directory with less free is reported full */
    int64_t io_timeout_ms;
    datanode_send_fn send;
    datanode_send_fn send_data;      /* opts.send_data, or send */
    datanode_send_bulk_fn send_bulk; /* NULL: packet data inside the messages */
    datanode_recv_bulk_fn recv_bulk;
    void *send_arg;
    char *secret; /* NULL until datanode_set_secret() */
    block_store *store;
    struct frame_server *data_server; /* the data port (transfer_server.c) */
    int port;
    uint64_t timer_id;
    dn_pipeline **pipes; /* pipeline.c's: the pipelines running here */
    size_t npipes, pipes_cap;
    uint64_t last_pipe_id;         /* pipeline_setup.c's: ids of pipelines, never reused */
    struct thread_pool *disk_pool; /* pipeline_disk.c's: hsyncs and finalizes off the loop */
    struct dn_disk_job *disk_jobs; /* pipeline_disk.c's: the jobs out */
    int stopping;                  /* datanode_destroy() has begun: nothing more is sent */
    dn_replication *repls[DN_MAX_REPLICATIONS]; /* replication.c's */
    size_t nrepls;
    dn_scanner *scanner;                    /* block_scanner.c's; NULL when scanning is off */
    uint64_t dirscan_timer_id;              /* directory_scanner.c's timer; 0 when off */
    struct dn_short_circuit *short_circuit; /* short_circuit.c's; NULL when off */
    packet_order inbound; /* pipeline_bulk.c's: packets waiting for payloads, in order */
    struct dn_bulk *bulk; /* pipeline_bulk.c's: its transfers out and packets queued */
    int inbound_draining; /* pipeline_bulk.c's: handing out queued packets now */
    dn_block_serve *serves; /* block_serve.c's: ranges read, waiting for the link */
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

/* Handles msg from rank source: the datanode's one dispatch, after the
 * order of bulk payloads (datanode_on_rank_message()) and for the
 * messages that waited for a finalize (pipeline_disk.c).  A message about
 * a block whose finalize is out waits for it (dn_pipeline_defer()).
 * payload: for a PipelinePacket whose data (in msg) is a buffer the
 * caller owns, &that buffer, set to NULL when the pipeline keeps it; else
 * NULL.  msg stays the caller's. */
void datanode_dispatch(datanode *dn, int source, const RankMessage *msg, uint8_t **payload);

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

/* ---- transfer_server.c: the data port ---- */

/* Listens on bind_addr:port (0: ephemeral; dn->port gets the port) and
 * serves the data port on dn->loop (dn->data_server).  Call once
 * dn->io_timeout_ms is set.  0, or the error with a line in err. */
int dn_transfer_start(datanode *dn, const char *bind_addr, int port, char *err, size_t errlen);

/* Closes the data port and every connection (the pipelines they feed
 * end).  A no-op when it never started. */
void dn_transfer_stop(datanode *dn);

/* Queues ack to the client of c (a write connection); a connection that
 * cannot take it is broken. */
void dn_transfer_send_ack(datanode *dn, dn_conn *c, const PacketAck *ack);

/* The pipeline c fed has ended (finished or failed): c forgets it and
 * closes once what is queued (the last ack) is out. */
void dn_transfer_write_ended(datanode *dn, dn_conn *c);

/* Ends c's operation with one DataError{code, message} frame, its
 * pipeline first (dn_pipeline_drop_client()), and closes c once the frame
 * is out. */
void dn_transfer_reject(datanode *dn, dn_conn *c, int code, const char *message);

/* Stops reading c's socket (its pipeline holds a packet downstream cannot
 * take yet: backpressure), and reads it again.  The packets the client
 * sent meanwhile wait in the socket, frames already read in the server's
 * buffer. */
void dn_transfer_pause(datanode *dn, dn_conn *c);
void dn_transfer_resume(datanode *dn, dn_conn *c);

/* The client's address, for log lines. */
const char *dn_transfer_peer(const dn_conn *c);

/* The write request connection conn_id waited with (CONN_WAITING,
 * dn_pipeline_defer_client()) can be served now: it is, and reading the
 * connection resumes.  A no-op when the connection is gone. */
void dn_transfer_request_ready(datanode *dn, uint64_t conn_id);

/* ---- pipeline.c, pipeline_setup.c: the write pipeline ---- */

/* Starts the pipeline of a client's WriteBlockRequest fed by conn (the
 * caller checked the token and authenticated conn): a new replica, an
 * append or a pipeline recovery, with the request's downstream.  Returns
 * 0 with *out, the pipeline (whose client is conn; conn's caller points
 * back at it), or the error with the words for the client in text
 * (logged already). */
int dn_pipeline_start_client(datanode *dn, dn_conn *conn, const WriteBlockRequest *req,
                             dn_pipeline **out, char *text, size_t textlen);

/* Takes the next packet of p from upstream (the client's, or
 * dn_pipeline_handle_packet()'s): checks it, appends it locally, forwards
 * it downstream, fsyncs the replica when it asks to (hsync), finalizes on
 * the last one, and acks it now (no downstream) or once downstream acked
 * it.  p may be freed on return (finished or failed).  pkt stays the
 * caller's; payload is NULL, or &buf where buf, pkt's data, is the
 * caller's to give: set to NULL when the pipeline keeps it (to send it
 * downstream without a copy), else still the caller's to free. */
void dn_pipeline_receive(datanode *dn, dn_pipeline *p, const Packet *pkt, uint8_t **payload);

/* p's client connection is gone or rejected: p ends without telling it
 * (its replica is kept for recovery) and is freed. */
void dn_pipeline_drop_client(datanode *dn, dn_pipeline *p);

/* 1 once p's last packet came (its replica finalized), else 0. */
int dn_pipeline_draining(const dn_pipeline *p);

/* The block p writes. */
uint64_t dn_pipeline_block_id(const dn_pipeline *p);

/* p's client connection, NULL when its upstream is a rank. */
const dn_conn *dn_pipeline_client(const dn_pipeline *p);

/* A PipelinePacket from rank source (its data in pp): the next packet of
 * its pipeline here, or the first, which sets the pipeline up; refused
 * with a failed PipelineAck when neither.  pp stays the caller's; payload
 * as for dn_pipeline_receive(). */
void dn_pipeline_handle_packet(datanode *dn, int source, const PipelinePacket *pp,
                               uint8_t **payload);

/* The data of pp, from rank source, never arrived (status: the
 * transport's error): its pipeline here, if source feeds it, fails,
 * naming this node. */
void dn_pipeline_payload_lost(datanode *dn, int source, const PipelinePacket *pp, int status);

/* ---- pipeline_bulk.c: packet data as bulk payloads ---- */

/* Sends msg, a PipelinePacket whose packet's data is in the message, to
 * dest as data: with send_bulk, a header-only message with the data as
 * its bulk payload (an empty packet goes whole); else the whole message.
 * payload: NULL, or &buf where buf is the packet's data and the caller's
 * to give -- set to NULL when the transfer keeps it (freed when it ends);
 * without one the data is copied for the transfer.  Returns send_data's
 * answer (EMBER_EAGAIN: nothing was sent, *payload still the caller's). */
int dn_send_packet(datanode *dn, int dest, const RankMessage *msg, uint8_t **payload);

/* Sends header to dest with len bytes of *buf (malloc'd) as its bulk
 * payload: on EMBER_OK the transfer owns the buffer (*buf set to NULL;
 * freed when it ends); otherwise (EMBER_EAGAIN: the link to dest is full,
 * datanode_on_writable() follows) *buf is still the caller's.  Needs
 * dn->send_bulk. */
int dn_bulk_send(datanode *dn, int dest, const RankMessage *header, uint8_t **buf, uint64_t len);

/* A PipelinePacket from rank source, as the transport delivered it: its
 * bulk payload is claimed into a buffer of its own, and it is handled
 * (datanode_dispatch()) once the payload is in and every earlier packet
 * of its pipeline was handled (packet_order.h).  A packet whose payload
 * cannot arrive is handled as lost (dn_pipeline_payload_lost()). */
void dn_bulk_take_packet(datanode *dn, int source, const RankMessage *msg);

/* datanode_destroy: packets still queued are dropped; transfers still out
 * are left to the transport, whose done call then frees their buffers. */
void dn_bulk_stop(datanode *dn);

/* A PipelineAck from rank source: to the pipeline of its block (an ack
 * of another gen stamp is stale and ignored), else to the replication
 * this node sources for it (dn_replication_handle_ack()).  ack stays the
 * caller's. */
void dn_pipeline_handle_ack(datanode *dn, int source, const PipelineAck *ack);

/* 1 when a pipeline of block_id runs here. */
int dn_pipeline_running(const datanode *dn, uint64_t block_id);

/* Stops the write of block_id running here, if any (a client's or an
 * upstream's pipeline): its upstream gets a failed ack naming why, its
 * replica is kept in rbw/ (block_writer_detach()), a client connection is
 * closed once the ack is out, and further packets are refused as for any
 * unknown pipeline.  Returns 1 when a write was stopped, else 0. */
int dn_pipeline_stop_write(datanode *dn, uint64_t block_id, const char *why);

/* dest can take data again (datanode_on_writable()): the pipelines whose
 * downstream[0] it is send the packets they hold, in order. */
void dn_pipeline_on_writable(datanode *dn, int dest);

/* Fails the pipelines whose upstream went silent or whose oldest packet
 * waited too long for its downstream ack.  Called by the datanode's
 * timer. */
void dn_pipeline_on_timer(datanode *dn, int64_t now);

/* Ends every pipeline (replicas kept as on a failure) and frees the list
 * (datanode_destroy). */
void dn_pipeline_abort_all(datanode *dn);

/* ---- block_serve.c: a task's remote reads, asked by its worker ---- */

/* A BlockReadRequest from rank source: the range is read on the disk pool
 * and sent back as a BlockReadResponse with the bytes as bulk payload, or
 * refused with a code (see block_serve.c). */
void dn_block_serve_start(datanode *dn, int source, const BlockReadRequest *req);

/* dest can take data again: the answers waiting for it go. */
void dn_block_serve_writable(datanode *dn, int dest);

/* datanode_destroy, after the disk pool stopped: frees the answers still
 * waiting. */
void dn_block_serve_stop(datanode *dn);

/* ---- pipeline_disk.c: the pipeline's disk work on the thread pool ---- */

/* Starts the thread pool of the pipelines' hsyncs and finalizes
 * (dn->disk_pool).  0 or thread_pool_create()'s error. */
int dn_disk_start(datanode *dn);

/* Stops it (datanode_destroy, after the pipelines ended): the jobs out
 * finish -- a job not started yet runs on this thread -- and their
 * outcome goes to the store, nothing is sent (dn->stopping), and the
 * messages that waited for them are dropped. */
void dn_disk_stop(datanode *dn);

/* msg (from rank source, about block_id: a PipelinePacket,
 * InitReplicaRecovery or UpdateReplica) arrived while the finalize of
 * block_id runs on the pool, the replica neither being written nor
 * finalized until it is done: the message is kept (packed) and handled,
 * in its order, once the finalize is done.  Returns 1 when it was kept,
 * 0 when it is to be handled now (no finalize of the block out).  msg
 * stays the caller's. */
int dn_pipeline_defer(datanode *dn, int source, const RankMessage *msg, uint64_t block_id);

/* The same for a client's WriteBlockRequest for block_id on data port
 * connection conn_id: 1 when it is to wait for the block's finalize
 * (dn_transfer_request_ready() follows), else 0. */
int dn_pipeline_defer_client(datanode *dn, uint64_t block_id, uint64_t conn_id);

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
