/* role.c -- rank -> role assignment (see role.h). */
#include "common/error.h"
#include "role.h"

int role_core_count(int world_size, int core_nodes, int *out) {
    if (world_size < 1)
        return EMBER_EINVAL;
    if (core_nodes == ROLE_CORE_NODES_DEFAULT)
        core_nodes = world_size - 1;
    if (core_nodes < 0 || core_nodes > world_size - 1)
        return EMBER_EINVAL;
    *out = core_nodes;
    return EMBER_OK;
}

int role_assign(int rank, int world_size, int core_nodes, NodeRole *out) {
    int cores;
    if (role_core_count(world_size, core_nodes, &cores) != EMBER_OK || rank < 0 ||
        rank >= world_size)
        return EMBER_EINVAL;
    if (rank == 0)
        *out = NODE_ROLE__ROLE_PRIMARY;
    else if (rank <= cores)
        *out = NODE_ROLE__ROLE_CORE;
    else
        *out = NODE_ROLE__ROLE_TASK;
    return EMBER_OK;
}

const char *role_name(NodeRole role) {
    switch (role) {
    case NODE_ROLE__ROLE_PRIMARY: return "primary";
    case NODE_ROLE__ROLE_CORE: return "core";
    case NODE_ROLE__ROLE_TASK: return "task";
    default: return "unknown";
    }
}

unsigned role_default_replication(int core_nodes) {
    return core_nodes < 4 ? 1 : core_nodes < 10 ? 2 : 3;
}
