/* topology.h -- what hwloc says about this node.
 *
 * Every rank reads its machine once at start and sends the summary to the
 * primary when it registers.  A synthetic description (hwloc's
 * "pack:2 numa:2 core:4 pu:2" syntax) replaces the real machine, so tests
 * see NUMA nodes on any host. */
#ifndef EMBER_TOPOLOGY_H
#define EMBER_TOPOLOGY_H

#include <stdint.h>

typedef struct {
    uint32_t packages;
    uint32_t numa_nodes;
    uint32_t cores;
    uint32_t pus;
    uint64_t memory_bytes;
} topology_summary;

/* Loads the topology (the real machine when synthetic is NULL or empty)
 * and fills *out.  Returns 0, or EMBER_EINVAL when hwloc rejects the
 * synthetic description. */
int topology_summary_load(const char *synthetic, topology_summary *out);

#endif
