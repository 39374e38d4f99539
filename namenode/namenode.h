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
#include "cluster/gateway.h"
#include "cluster/node_registry.h"
#include "common/event_loop.h"

typedef struct namenode namenode;

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
    const node_registry *registry; /* core nodes: placement and locations */
    const struct rack_map *racks;  /* NULL: every node in /default-rack */
    /* How the namenode sends RankMessages (DeleteBlocks, ReplicateBlock)
     * to datanodes. */
    int (*send)(void *arg, int dest, const RankMessage *msg);
    void *send_arg;
} namenode_options;

/* Recovers the namespace from opts->name_dir and registers the namenode's
 * hook and timer with loop.  On failure returns a negative code with a
 * one-line reason in err (a corrupt log is EMBER_ECORRUPT: the cluster
 * must not start on it). */
int namenode_create(event_loop *loop, const namenode_options *opts, namenode **out, char *err,
                    size_t errlen);

/* Answers what is pending, checkpoints when there were edits, closes the
 * log.  Accepts NULL. */
void namenode_destroy(namenode *nn);

/* Serves req when it is a file system request: returns 1 and takes req
 * (freeing it), the answer going to conn_id now or after the group commit.
 * Returns 0, leaving req to the caller, for any other request. */
int namenode_handle_request(namenode *nn, gateway *gw, uint64_t conn_id, ClientMessage *req);

/* Handles the RankMessages meant for the namenode (BlockReceived,
 * BlockReport, IncrementalBlockReport, bad_replica,
 * ReplicaRecoveryInfo): returns 1 and frees msg when it was one, else 0. */
int namenode_handle_rank_message(namenode *nn, int source, RankMessage *msg);

/* A core node died: its replicas no longer count. */
void namenode_node_lost(namenode *nn, int rank);

/* A core node's admin state as Hadoop's -report names it: "Normal",
 * "Decommission in progress" or "Decommissioned". */
const char *namenode_admin_state(const namenode *nn, int rank);

/* The last transaction id in the log (for status and tests). */
uint64_t namenode_last_txid(const namenode *nn);

#endif
