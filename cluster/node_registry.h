/* node_registry.h -- the primary's table of every rank in the cluster.
 *
 * One entry per non-primary rank, in one of three states:
 *   NODE_EXPECTED  the rank exists but has not registered yet
 *   NODE_LIVE      registered, and heard from within the expiry time
 *   NODE_DEAD      silent for longer than the expiry time (or never
 *                  registered within it after start)
 *
 *   from      event                        to     function
 *   EXPECTED  RegisterNode                 LIVE   node_registry_register
 *   LIVE      RegisterNode (again)         LIVE   node_registry_register
 *   DEAD      RegisterNode (it came back)  LIVE   node_registry_register
 *   EXPECTED  silent past the expiry       DEAD   node_registry_expire
 *   LIVE      silent past the expiry       DEAD   node_registry_expire
 *
 * Invariants (node_registry_check): (1) the state is one of the three;
 * (2) the role is core or task, fixed by the rank; (3) a LIVE entry has
 * registered (registered_wall > 0).  Fencing is the caller's: a DEAD or
 * EXPECTED rank's heartbeats are refused here (EMBER_ESTATE, EMBER_ENOENT)
 * and the primary accepts nothing else from a rank that is not LIVE; a
 * dead rank that is still running (it was stopped, not killed) is told to
 * register again and counts once more only after that (and, for the
 * namenode, after its next full block report).  The namenode and the
 * scheduler's node pool both read this table; `ember node -list` and
 * `dfsadmin -report` show each worker's offer from it. */
#ifndef EMBER_NODE_REGISTRY_H
#define EMBER_NODE_REGISTRY_H

#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/disk_usage.h"
#include "common/topology.h"
#include "namenode/namenode.h"
#include "worker/worker_resources.h"

typedef enum {
    NODE_EXPECTED = 0,
    NODE_LIVE = 1,
    NODE_DEAD = 2,
} node_state;

typedef struct {
    int rank;
    NodeRole role;            /* from role_assign(), checked at registration */
    node_state state;
    char hostname[256];
    uint32_t pid;
    topology_summary hw;
    disk_usage storage;
    worker_resources resources; /* the worker's offer: from RegisterNode, then every Heartbeat */
    int64_t last_contact_mono; /* monotonic ms of the last message */
    int64_t last_contact_wall; /* wall ms of the same, for reports */
    int64_t registered_wall;
    uint64_t heartbeats;
    char data_host[256];       /* core nodes: the datanode's data port address */
    int data_port;             /* 0 until registered, and on task nodes */
    char domain_socket[108];   /* the datanode's short-circuit socket ("": none) */
} node_entry;

typedef struct node_registry node_registry;

/* A registry for ranks 1..world_size-1, all EXPECTED since now_mono, with
 * the given number of core nodes; free with node_registry_destroy(). */
int node_registry_create(int world_size, int core_nodes, int64_t expiry_ms, int64_t now_mono,
                         node_registry **out);
void node_registry_destroy(node_registry *reg);

/* Records a RegisterNode received from MPI rank source: the rank is LIVE
 * from now on, whatever it was.  Returns EMBER_EINVAL when the message's
 * rank or role disagree with the source. */
int node_registry_register(node_registry *reg, int source, const RegisterNode *msg,
                           int64_t now_mono, int64_t now_wall);

/* Records a heartbeat.  EMBER_ENOENT when the rank never registered (it
 * must register again), EMBER_ESTATE when it is DEAD. */
int node_registry_heartbeat(node_registry *reg, int source, const Heartbeat *msg,
                            int64_t now_mono, int64_t now_wall);

/* Marks DEAD every rank silent for more than the expiry time and writes
 * their ranks to newly_dead (room for world_size entries).  Returns how
 * many died now. */
int node_registry_expire(node_registry *reg, int64_t now_mono, int *newly_dead);

/* The entry of rank (1..world_size-1), or NULL. */
const node_entry *node_registry_get(const node_registry *reg, int rank);

int node_registry_world_size(const node_registry *reg);

/* The namenode's view of rank (namenode_host.datanode) from its entry:
 * reg is the node_registry.  EMBER_ENOENT for a rank outside 1..world-1.
 * The strings point into the registry. */
int node_registry_namenode_view(void *reg, int rank, namenode_datanode *out);

/* How many entries have this role and state. */
int node_registry_count(const node_registry *reg, NodeRole role, node_state state);

/* Ranks that ever died in this cluster's life. */
int node_registry_lost(const node_registry *reg);

#endif
