/* topology.h -- what hwloc says about this node.
 *
 * Every rank loads its machine once at start (topology_load()) and sends
 * a summary to the primary when it registers; the worker of a core or
 * task rank keeps the loaded topology for placing task attempts on cores
 * (worker/worker_topology.h).  A synthetic description (hwloc's
 * "pack:2 numa:2 core:4 pu:2" syntax) or an XML file written by lstopo
 * (or by hand) replaces the real machine, so tests see NUMA nodes and I/O
 * devices on any host.  I/O devices (PCI devices and the OS devices under
 * them: block devices, network interfaces) are kept when the machine or
 * the XML file has them; a synthetic topology has none. */
#ifndef EMBER_TOPOLOGY_H
#define EMBER_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include <hwloc.h>

typedef struct {
    uint32_t packages;
    uint32_t numa_nodes;
    uint32_t cores;
    uint32_t pus;
    uint64_t memory_bytes;
} topology_summary;

typedef struct topology topology; /* opaque: one loaded hwloc topology */

/* Loads a topology: the synthetic description when synthetic is not
 * empty, else the XML file xml_path when it is not empty, else the real
 * machine (NULL counts as empty; both set is EMBER_EINVAL).  *out is the
 * caller's, freed with topology_destroy().  Returns 0, EMBER_EINVAL with
 * a one-line reason in err when hwloc refuses the description or the
 * file (or the file cannot be read), EMBER_ENOMEM. */
int topology_load(const char *synthetic, const char *xml_path, topology **out, char *err,
                  size_t errlen);

/* Frees a topology; accepts NULL. */
void topology_destroy(topology *topo);

/* Counts packages, NUMA nodes, cores and PUs, and the total memory. */
void topology_summarize(const topology *topo, topology_summary *out);

/* The hwloc topology inside, for read-only queries (it stays topo's). */
hwloc_topology_t topology_hwloc(const topology *topo);

/* Where the topology came from: "the real machine", "synthetic topology
 * '...'" or "XML topology '...'" (for log lines); points into topo. */
const char *topology_origin(const topology *topo);

/* Loads and summarizes in one call (the real machine when synthetic is
 * NULL or empty).  Returns 0, or EMBER_EINVAL when hwloc rejects the
 * synthetic description; *out is untouched on failure. */
int topology_summary_load(const char *synthetic, topology_summary *out);

#endif
