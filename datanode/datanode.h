/* datanode.h -- the datanode of a core rank: block data service.
 *
 * Serves clients on a TCP data port (reads and the first hop of writes,
 * proto/datatransfer.proto) and, for clients on its host, on a unix
 * socket that hands out a replica's files (short-circuit reads), forwards write pipelines to the next datanode
 * over the rank transport, stores replicas in the block store, tells the
 * primary about finalized replicas (BlockReceived) and, after each
 * registration, about all of them (BlockReport), deletes replicas the
 * primary asks it to delete (and confirms it), copies replicas to the
 * targets the primary names (ReplicateBlock), and now and then compares
 * its disks with its index, telling the primary about replicas gone or
 * found (IncrementalBlockReport; the directory scanner).
 * Writes may append to a finalized
 * replica; unfinished replicas are kept for block recovery, which the
 * primary drives (InitReplicaRecovery, UpdateReplica).  A background block scanner re-reads
 * the replicas at a bounded rate and reports corrupt ones to the primary
 * (RankMessage.bad_replica).  Every client request must carry a valid
 * block token; until the primary has sent the cluster secret (in
 * RegisterAck), requests are refused.  Runs on the rank's event loop;
 * its fsyncs and finalizes run on a thread of its own, whose results come
 * back to the loop.  When the next datanode cannot take more data, the
 * first one stops reading its client until it can. */
#ifndef EMBER_DATANODE_H
#define EMBER_DATANODE_H

#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/disk_usage.h"
#include "common/event_loop.h"

typedef struct datanode datanode;

/* How the datanode sends RankMessages (mpi_link_send in a cluster; tests
 * pass a fake).  Returns 0 or a negative EMBER_E* code. */
typedef int (*datanode_send_fn)(void *arg, int dest, const RankMessage *msg);

/* Bulk transfer (mpi_link_send_bulk() and mpi_link_recv_bulk() in a
 * cluster): a PipelinePacket's data travels as the raw payload of a
 * header-only message instead of inside it.  send_bulk starts sending
 * header with len bytes of data (which stay untouched until the end) and
 * answers as send_data does; recv_bulk, called only from inside
 * datanode_on_rank_message() for the header it was handed
 * (header->bulk_length > 0), starts receiving the payload into buf.  On
 * EMBER_OK the transport later calls datanode_bulk_done(status, buf,
 * done_arg) exactly once, from the loop thread. */
typedef int (*datanode_send_bulk_fn)(void *arg, int dest, const RankMessage *header,
                                     const void *data, uint64_t len, void *done_arg);
typedef int (*datanode_recv_bulk_fn)(void *arg, int source, const RankMessage *header, void *buf,
                                     void *done_arg);

typedef struct {
    int rank;                   /* this node's rank */
    int primary_rank;           /* where BlockReceived and BlockReport go (0) */
    const char *data_dirs;      /* comma-separated; see block_store.h */
    const char *bind_addr;      /* data port address (numeric) */
    int port;                   /* 0: ephemeral */
    int64_t io_timeout_ms;      /* a pipeline or client silent this long fails */
    int64_t scan_bytes_per_sec; /* the block scanner's read rate; 0: no scanner */
    int64_t scan_period_ms;     /* a replica is verified again after this long */
    int sync_on_close;          /* dfs.datanode.synconclose: fsync replicas at finalize */
    uint64_t reserved_bytes;    /* dfs.datanode.du.reserved: per file system, not for replicas */
    uint64_t block_size;        /* dfs.blocksize: a data directory with less free is "full" */
    const char *domain_socket_path; /* unix socket for short-circuit reads ("_PORT": the
                                     * data port); NULL or "": none */
    int64_t directory_scan_interval_ms; /* dfs.datanode.directoryscan.interval: how often
                                         * the disk is compared with the index; 0: never */
    datanode_send_fn send;      /* control messages: acks, reports (never EMBER_EAGAIN) */
    datanode_send_fn send_data; /* PipelinePackets (mpi_link_send_data in a cluster): may
                                 * answer EMBER_EAGAIN, then datanode_on_writable() says
                                 * when to send again; NULL: send */
    datanode_send_bulk_fn send_bulk; /* packet data as bulk payloads; NULL (with
                                      * recv_bulk): inside the PipelinePackets */
    datanode_recv_bulk_fn recv_bulk;
    void *send_arg;             /* all four's */
} datanode_options;

int datanode_create(event_loop *loop, const datanode_options *opts, datanode **out, char *err,
                    size_t errlen);

/* Aborts writes in progress, closes connections and the store.  NULL ok. */
void datanode_destroy(datanode *dn);

/* The bound data port. */
int datanode_port(const datanode *dn);

/* Sets the cluster secret (from RegisterAck); requests are served from
 * then on. */
void datanode_set_secret(datanode *dn, const char *secret);

/* Handles a RankMessage meant for a datanode (PipelinePacket and
 * PipelineAck from other datanodes; DeleteBlocks, ReplicateBlock,
 * InitReplicaRecovery and UpdateReplica from the primary) from rank
 * source.  msg stays the caller's: nothing here keeps a pointer into it.
 * A PipelinePacket whose data follows as a bulk payload is claimed here
 * (recv_bulk) and handled once its payload and those of the earlier
 * packets of its pipeline arrived.  Any other message is logged and
 * ignored. */
void datanode_on_rank_message(datanode *dn, int source, const RankMessage *msg);

/* How a bulk transfer the datanode started (send_bulk, recv_bulk) ended:
 * status EMBER_OK or the transport's error; buf the datanode's buffer
 * back, or NULL when the transport had to keep it (never to be freed).
 * done_arg is the one the datanode passed.  Called once per transfer,
 * also after datanode_destroy() (the buffer is then just freed). */
void datanode_bulk_done(int status, void *buf, void *done_arg);

/* dest, to which a send_data answered EMBER_EAGAIN, can take more (the
 * transport's writable callback): the pipelines forwarding to dest send
 * the packets they hold, and replications to dest go on. */
void datanode_on_writable(datanode *dn, int dest);

/* Sends the full block report to the primary, in pieces. */
void datanode_send_block_report(datanode *dn);

/* Runs the directory scanner once (directory_scanner.c; the timer of
 * opts.directory_scan_interval_ms calls it): reconciles the store's index
 * with the disk (block_store_scan()) and, once the secret is set, tells
 * the primary -- replicas gone and found in an IncrementalBlockReport,
 * corrupt ones as RankMessage.bad_replica.  Before that the index is
 * reconciled all the same, and the full block report at registration
 * carries it. */
void datanode_directory_scan(datanode *dn);

/* Capacity, use, room past the reserve, and failed and full directories
 * of the store (full: less than opts.block_size free). */
void datanode_storage(const datanode *dn, disk_usage *out);

/* The unix socket the datanode serves short-circuit reads on (for
 * RegisterNode.domain_socket), "" when it does not (short_circuit.c). */
const char *datanode_domain_socket(const datanode *dn);

/* The socket path a datanode is given: configured (dfs.domain.socket.path,
 * "_PORT" left for the datanode to replace) when not empty, else
 * <run_dir>/dn_socket.<rank> with a relative run_dir made absolute.
 * EMBER_ETOOBIG when it does not fit outlen, EMBER_EIO when the working
 * directory cannot be read. */
int datanode_domain_socket_path(const char *configured, const char *run_dir, int rank, char *out,
                                size_t outlen);

#endif
