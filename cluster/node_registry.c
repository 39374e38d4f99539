/* node_registry.c -- the primary's node table (see node_registry.h). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "node_registry.h"
#include "role.h"

struct node_registry {
    int world_size;
    int64_t expiry_ms;
    int lost;
    node_entry *nodes; /* index = rank; index 0 (the primary) unused */
};

/* Asserts the invariants of one entry after each transition. */
static void node_registry_check(const node_entry *n) {
    assert(n->state == NODE_EXPECTED || n->state == NODE_LIVE || n->state == NODE_DEAD);
    assert(n->role == NODE_ROLE__ROLE_CORE || n->role == NODE_ROLE__ROLE_TASK);
    assert(n->state != NODE_LIVE || n->registered_wall > 0);
    (void)n;
}

int node_registry_create(int world_size, int core_nodes, int64_t expiry_ms, int64_t now_mono,
                         node_registry **out) {
    node_registry *reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return EMBER_ENOMEM;
    reg->nodes = calloc((size_t)world_size, sizeof(node_entry));
    if (reg->nodes == NULL) {
        free(reg);
        return EMBER_ENOMEM;
    }
    reg->world_size = world_size;
    reg->expiry_ms = expiry_ms;
    for (int r = 1; r < world_size; r++) {
        node_entry *n = &reg->nodes[r];
        n->rank = r;
        if (role_assign(r, world_size, core_nodes, &n->role) != EMBER_OK) {
            node_registry_destroy(reg);
            return EMBER_EINVAL;
        }
        n->state = NODE_EXPECTED;
        n->last_contact_mono = now_mono; /* the grace period to register */
        node_registry_check(n);
    }
    *out = reg;
    return EMBER_OK;
}

void node_registry_destroy(node_registry *reg) {
    if (reg == NULL)
        return;
    free(reg->nodes);
    free(reg);
}

static void node_registry_copy_storage(disk_usage *to, const StorageReport *from) {
    to->capacity_bytes = from->capacity_bytes;
    to->used_bytes = from->used_bytes;
    to->remaining_bytes = from->remaining_bytes;
    to->dirs = from->data_dirs;
    to->failed_dirs = from->failed_dirs;
    to->full_dirs = from->full_dirs;
}

int node_registry_register(node_registry *reg, int source, const RegisterNode *msg,
                           int64_t now_mono, int64_t now_wall) {
    if (source <= 0 || source >= reg->world_size || (int)msg->rank != source)
        return EMBER_EINVAL;
    node_entry *n = &reg->nodes[source];
    if (msg->role != n->role)
        return EMBER_EINVAL;
    snprintf(n->hostname, sizeof(n->hostname), "%s", msg->hostname);
    n->pid = msg->pid;
    n->hw = (topology_summary){.packages = msg->hwloc->packages,
                               .numa_nodes = msg->hwloc->numa_nodes,
                               .cores = msg->hwloc->cores,
                               .pus = msg->hwloc->pus,
                               .memory_bytes = msg->hwloc->memory_bytes};
    node_registry_copy_storage(&n->storage, msg->storage);
    worker_resources_from_proto(msg->resources, &n->resources);
    snprintf(n->data_host, sizeof(n->data_host), "%s", msg->data_host);
    n->data_port = (int)msg->data_port;
    /* A path that does not fit a unix socket address is no path at all. */
    if (strlen(msg->domain_socket) < sizeof(n->domain_socket))
        snprintf(n->domain_socket, sizeof(n->domain_socket), "%s", msg->domain_socket);
    else
        n->domain_socket[0] = '\0';
    n->state = NODE_LIVE;
    n->registered_wall = now_wall;
    n->last_contact_mono = now_mono;
    n->last_contact_wall = now_wall;
    node_registry_check(n);
    return EMBER_OK;
}

int node_registry_heartbeat(node_registry *reg, int source, const Heartbeat *msg,
                            int64_t now_mono, int64_t now_wall) {
    if (source <= 0 || source >= reg->world_size || (int)msg->rank != source)
        return EMBER_EINVAL;
    node_entry *n = &reg->nodes[source];
    if (n->state == NODE_DEAD)
        return EMBER_ESTATE;
    if (n->state == NODE_EXPECTED)
        return EMBER_ENOENT;
    node_registry_copy_storage(&n->storage, msg->storage);
    worker_resources_from_proto(msg->resources, &n->resources);
    n->last_contact_mono = now_mono;
    n->last_contact_wall = now_wall;
    n->heartbeats++;
    node_registry_check(n);
    return EMBER_OK;
}

int node_registry_expire(node_registry *reg, int64_t now_mono, int *newly_dead) {
    int count = 0;
    for (int r = 1; r < reg->world_size; r++) {
        node_entry *n = &reg->nodes[r];
        if (n->state == NODE_DEAD || now_mono - n->last_contact_mono <= reg->expiry_ms)
            continue;
        n->state = NODE_DEAD;
        reg->lost++;
        newly_dead[count++] = r;
        node_registry_check(n);
    }
    return count;
}

const node_entry *node_registry_get(const node_registry *reg, int rank) {
    if (rank <= 0 || rank >= reg->world_size)
        return NULL;
    return &reg->nodes[rank];
}

int node_registry_namenode_view(void *reg, int rank, namenode_datanode *out) {
    const node_entry *e = node_registry_get(reg, rank);
    if (e == NULL)
        return EMBER_ENOENT;
    *out = (namenode_datanode){.core = e->role == NODE_ROLE__ROLE_CORE,
                               .live = e->state == NODE_LIVE,
                               .dead = e->state == NODE_DEAD,
                               .hostname = e->hostname,
                               .data_host = e->data_host,
                               .data_port = e->data_port,
                               .domain_socket = e->domain_socket,
                               .remaining_bytes = e->storage.remaining_bytes,
                               .data_dirs = e->storage.dirs,
                               .failed_dirs = e->storage.failed_dirs};
    return EMBER_OK;
}

int node_registry_world_size(const node_registry *reg) { return reg->world_size; }

int node_registry_count(const node_registry *reg, NodeRole role, node_state state) {
    int count = 0;
    for (int r = 1; r < reg->world_size; r++)
        count += reg->nodes[r].role == role && reg->nodes[r].state == state;
    return count;
}

int node_registry_lost(const node_registry *reg) { return reg->lost; }
