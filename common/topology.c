/* topology.c -- hwloc topology summary (see topology.h). */
#include <hwloc.h>

#include "error.h"
#include "topology.h"

static uint32_t topology_count(hwloc_topology_t topo, hwloc_obj_type_t type) {
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n > 0 ? (uint32_t)n : 0;
}

int topology_summary_load(const char *synthetic, topology_summary *out) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return EMBER_ENOMEM;
    int rc = EMBER_EINVAL;
    if (synthetic != NULL && synthetic[0] != '\0' &&
        hwloc_topology_set_synthetic(topo, synthetic) != 0)
        goto fail;
    if (hwloc_topology_load(topo) != 0)
        goto fail;
    out->packages = topology_count(topo, HWLOC_OBJ_PACKAGE);
    out->numa_nodes = topology_count(topo, HWLOC_OBJ_NUMANODE);
    out->cores = topology_count(topo, HWLOC_OBJ_CORE);
    out->pus = topology_count(topo, HWLOC_OBJ_PU);
    out->memory_bytes = hwloc_get_root_obj(topo)->total_memory;
    rc = EMBER_OK;
fail:
    hwloc_topology_destroy(topo);
    return rc;
}
