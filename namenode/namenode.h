/* namenode.h -- the namenode: HDFS's namespace service on the primary.
 *
 * Owns the namespace (namespace.h) and its durable log (edit_log.h).  At
 * start it loads the newest checkpoint and replays the log; then it serves
 * the file system requests of proto/dfs.proto that reach the gateway.
 * Every mutation is applied to the namespace, appended to the edit log,
 * and answered only after the fsync that covers it: one fsync per event
 * loop turn for every mutation of that turn (group commit).  It
 * checkpoints every dfs.namenode.checkpoint.txns transactions or
 * dfs.namenode.checkpoint.period, and once more when it stops. */
#ifndef EMBER_NAMENODE_H
#define EMBER_NAMENODE_H

#include <stdint.h>

#include "client.pb-c.h"
#include "cluster.pb-c.h"
#include "common/config.h"
#include "common/event_loop.h"

typedef struct namenode namenode;

/* What the namenode knows of one rank, as its host's membership tracking
 * (the primary's node registry) tells it.  The strings stay valid until
 * the host's next loop turn: copy what must live longer. */
typedef struct {
    int core;                  /* a core node: may store blocks */
    int live;                  /* registered and heard from within the expiry time */
    int dead;                  /* declared dead (a rank not yet registered is neither) */
    const char *hostname;
    const char *data_host;     /* where clients reach its data port */
    int data_port;             /* 0: no data port (yet) */
    const char *domain_socket; /* short-circuit socket ("": none) */
    uint64_t remaining_bytes;  /* free space for new replicas */
    uint32_t data_dirs;        /* configured data directories */
    uint32_t failed_dirs;      /* of which missing or unwritable */
} namenode_datanode;

/* The namenode's view of the daemon that hosts it (the primary).  The
 * namenode knows nothing of MPI, gateways or registries: it reaches ranks,
 * clients and membership only through these.  Every function runs on the
 * loop thread. */
typedef struct {
    /* Fills *out for rank 1..world_size-1 and returns 0; EMBER_ENOENT for
     * any other rank. */
    int (*datanode)(void *arg, int rank, namenode_datanode *out);
    /* Sends a RankMessage (DeleteBlocks, ReplicateBlock, recovery) to a
     * datanode; msg stays the caller's. */
    int (*send)(void *arg, int dest, const RankMessage *msg);
    /* Answers client connection conn with an encoded frame (copied). */
    void (*reply)(void *arg, uint64_t conn, const uint8_t *frame, size_t len);
    /* Answers conn with an error (code, one-line message). */
    void (*reply_error)(void *arg, uint64_t conn, int code, const char *message);
    /* The authenticated user and group of conn, valid while conn is open;
     * a negative code when conn is unknown. */
    int (*identity)(void *arg, uint64_t conn, const char **user, const char **group);
    void *arg;
} namenode_host;

typedef struct {
    const char *name_dir;          /* dfs.namenode.name.dir */
    const char *superuser;         /* owner of "/" in a new namespace */
    const char *group_overrides;   /* hadoop.user.group.static.mapping.overrides (NULL: none) */
    int64_t groups_cache_ms;       /* hadoop.security.groups.cache.secs */
    uint32_t default_replication;  /* dfs.replication */
    uint32_t max_replication;      /* replication is capped here: the core nodes */
    uint64_t default_block_size;   /* dfs.blocksize */
    uint64_t checkpoint_txns;      /* dfs.namenode.checkpoint.txns */
    int64_t checkpoint_period_ms;  /* dfs.namenode.checkpoint.period */
    uint32_t list_limit;           /* ember.dfs.list.limit */
    int world_size;
    const char *secret;            /* signs block tokens */
    int64_t token_lifetime_ms;     /* how long a block token is good for */
    int64_t redundancy_interval_ms; /* dfs.namenode.redundancy.interval */
    int64_t pending_timeout_ms;    /* dfs.namenode.reconstruction.pending.timeout */
    int64_t safemode_threshold_ppm; /* dfs.namenode.safemode.threshold-pct, in millionths */
    int64_t safemode_extension_ms; /* dfs.namenode.safemode.extension */
    int64_t lease_soft_limit_ms;   /* ember.namenode.lease-soft-limit */
    int64_t lease_hard_limit_ms;   /* dfs.namenode.lease-hard-limit-sec */
    int64_t lease_recheck_ms;      /* dfs.namenode.lease-recheck-interval-ms */
    int64_t recovery_timeout_ms;   /* a block recovery phase gives up after this */
    int64_t socket_timeout_ms;     /* dfs.datanode.socket.timeout, told to writers */
    int permissions;               /* dfs.permissions.enabled */
    int64_t trash_interval_ms;     /* fs.trash.interval: 0 = no trash, no emptier */
    int64_t trash_checkpoint_interval_ms; /* fs.trash.checkpoint.interval */
    const struct rack_map *racks;  /* NULL: every node in /default-rack */
    namenode_host host;            /* datanodes, rank messages, client answers */
} namenode_options;

/* Fills every option that comes from configuration (the dfs.namenode.*,
 * dfs.* and hadoop.* keys the namenode reads) and zeroes the rest, which
 * the host sets: name_dir when dfs.namenode.name.dir is empty, superuser,
 * max_replication, world_size, secret, racks and host.  EMBER_ECONFIG with
 * a one-line reason in err when a value is unusable. */
int namenode_options_from_config(const config *cfg, namenode_options *opts, char *err,
                                 size_t errlen);

/* Recovers the namespace from opts->name_dir and registers the namenode's
 * hook and timer with loop.  On failure returns a negative code with a
 * one-line reason in err (a corrupt log is EMBER_ECORRUPT: the cluster
 * must not start on it). */
int namenode_create(event_loop *loop, const namenode_options *opts, namenode **out, char *err,
                    size_t errlen);

/* Answers what is pending, checkpoints when there were edits, closes the
 * log.  Accepts NULL. */
void namenode_destroy(namenode *nn);

/* Serves a file system request of proto/dfs.proto from client conn_id;
 * the answer goes out now or after the group commit.  req stays the
 * caller's (the host's dispatch frees it): nothing here keeps a pointer
 * into it.  Any other request is answered EMBER_EPROTO. */
void namenode_on_request(namenode *nn, uint64_t conn_id, const ClientMessage *req);

/* Handles a RankMessage meant for the namenode (BlockReceived,
 * BlockReport, IncrementalBlockReport, ReportBadBlock,
 * ReplicaRecoveryInfo) from rank source.  msg stays the caller's.  The
 * host passes only messages of LIVE ranks; here a message from a rank
 * that is not a core node is dropped, and so is every block message of a
 * rank whose full block report has not arrived since it (re)registered:
 * nothing of a node counts until its report says what it holds. */
void namenode_on_rank_message(namenode *nn, int source, const RankMessage *msg);

/* A core node (re)registered: until its full block report arrives, its
 * other block messages are ignored. */
void namenode_node_registered(namenode *nn, int rank);

/* Deletes path and everything under it as the cluster itself (no
 * permission check, logged like any delete): the scheduler's removal of
 * the staging directory of a job that ended before any of its tasks ran.
 * 0, or the code (EMBER_ENOENT when it is not there). */
int namenode_remove_internal(namenode *nn, const char *path);

/* A core node died: its replicas no longer count. */
void namenode_node_lost(namenode *nn, int rank);

/* Whether rank was decommissioned (retired on purpose: its departure is
 * not a loss).  0 for a NULL namenode. */
int namenode_node_decommissioned(const namenode *nn, int rank);

/* A core node's admin state as Hadoop's -report names it: "Normal",
 * "Decommission in progress" or "Decommissioned". */
const char *namenode_admin_state(const namenode *nn, int rank);

/* dfsadmin -report's block totals (BlockHealth, proto/client.proto),
 * from the block map as it is now: a linear scan. */
void namenode_block_health(const namenode *nn, BlockHealth *out);

/* The last transaction id in the log (for status and tests). */
uint64_t namenode_last_txid(const namenode *nn);

#endif
