/* role.h -- which rank plays which part (EMR's node split).
 *
 * Rank 0 is the primary; ranks 1..C are core nodes (datanode + worker);
 * ranks C+1..N-1 are task nodes (worker only).  C defaults to every
 * non-primary rank.  Every rank computes its own role from the same
 * command line, so no message is needed to agree on it. */
#ifndef EMBER_ROLE_H
#define EMBER_ROLE_H

#include "cluster.pb-c.h"

#define ROLE_CORE_NODES_DEFAULT (-1)

/* The number of core nodes for a job of world_size ranks, given the
 * --core-nodes value (ROLE_CORE_NODES_DEFAULT when absent).  Returns
 * EMBER_EINVAL when world_size < 1 or core_nodes is outside 0..world_size-1. */
int role_core_count(int world_size, int core_nodes, int *out);

/* The role of rank; EMBER_EINVAL for a rank outside the job or a bad
 * core_nodes. */
int role_assign(int rank, int world_size, int core_nodes, NodeRole *out);

/* EMR's default replication for a cluster of core_nodes core nodes, used
 * when dfs.replication is not set (0): 1 with fewer than 4, 2 with fewer
 * than 10, else 3. */
unsigned role_default_replication(int core_nodes);

/* "primary", "core", "task" or "unknown". */
const char *role_name(NodeRole role);

#endif
