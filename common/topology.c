/* topology.c -- loading a node's hwloc topology (see topology.h).
 *
 * A topology is loaded once and then only read.  I/O devices are kept at
 * hwloc's "important" level (PCI devices that have an OS device, their
 * bridges, and the OS devices themselves: disks, NICs), which is what the
 * worker's placement asks about and costs a few milliseconds at start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "topology.h"

struct topology {
    hwloc_topology_t hw;
    char origin[512];
    char what[512]; /* for errors: "the topology 'pack:2 ...'", "the topology file '...'" */
};

static uint32_t topology_count(hwloc_topology_t topo, hwloc_obj_type_t type) {
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n > 0 ? (uint32_t)n : 0;
}

/* Points hwloc at the synthetic description or the XML file, if any, and
 * names the origin.  Returns 0 or EMBER_EINVAL with the reason in err. */
static int topology_set_source(topology *t, const char *synthetic, const char *xml_path, char *err,
                               size_t errlen) {
    if (synthetic[0] != '\0') {
        snprintf(t->origin, sizeof(t->origin), "synthetic topology '%s'", synthetic);
        snprintf(t->what, sizeof(t->what), "the topology '%s'", synthetic);
        if (hwloc_topology_set_synthetic(t->hw, synthetic) == 0)
            return EMBER_OK;
        snprintf(err, errlen, "hwloc cannot load %s", t->what);
        return EMBER_EINVAL;
    }
    if (xml_path[0] != '\0') {
        snprintf(t->origin, sizeof(t->origin), "XML topology '%s'", xml_path);
        snprintf(t->what, sizeof(t->what), "the topology file '%s'", xml_path);
        if (access(xml_path, R_OK) != 0) {
            snprintf(err, errlen, "cannot read the topology file '%s': %s", xml_path,
                     strerror(errno));
            return EMBER_EINVAL;
        }
        /* Depending on the XML parser, a broken file fails here or in the
         * load: the same message either way. */
        if (hwloc_topology_set_xml(t->hw, xml_path) == 0)
            return EMBER_OK;
        snprintf(err, errlen, "hwloc cannot load %s", t->what);
        return EMBER_EINVAL;
    }
    snprintf(t->origin, sizeof(t->origin), "the real machine");
    snprintf(t->what, sizeof(t->what), "this machine's topology");
    /* hwloc's own Linux discovery finds the PCI devices in sysfs; the
     * libpciaccess plug-in adds nothing ember uses and leaks what it
     * allocates once unloaded. */
    hwloc_topology_set_components(t->hw, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
    return EMBER_OK;
}

int topology_load(const char *synthetic, const char *xml_path, topology **out, char *err,
                  size_t errlen) {
    synthetic = synthetic != NULL ? synthetic : "";
    xml_path = xml_path != NULL ? xml_path : "";
    if (synthetic[0] != '\0' && xml_path[0] != '\0') {
        snprintf(err, errlen,
                 "a synthetic topology and a topology file are both set: "
                 "choose one");
        return EMBER_EINVAL;
    }
    topology *t = calloc(1, sizeof(*t));
    if (t == NULL || hwloc_topology_init(&t->hw) != 0) {
        free(t);
        snprintf(err, errlen, "out of memory loading the topology");
        return EMBER_ENOMEM;
    }
    int rc = topology_set_source(t, synthetic, xml_path, err, errlen);
    if (rc == EMBER_OK)
        hwloc_topology_set_io_types_filter(t->hw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (rc == EMBER_OK && hwloc_topology_load(t->hw) != 0) {
        snprintf(err, errlen, "hwloc cannot load %s", t->what);
        rc = EMBER_EINVAL;
    }
    if (rc != EMBER_OK) {
        topology_destroy(t);
        return rc;
    }
    *out = t;
    return EMBER_OK;
}

void topology_destroy(topology *topo) {
    if (topo == NULL)
        return;
    hwloc_topology_destroy(topo->hw);
    free(topo);
}

void topology_summarize(const topology *topo, topology_summary *out) {
    out->packages = topology_count(topo->hw, HWLOC_OBJ_PACKAGE);
    out->numa_nodes = topology_count(topo->hw, HWLOC_OBJ_NUMANODE);
    out->cores = topology_count(topo->hw, HWLOC_OBJ_CORE);
    out->pus = topology_count(topo->hw, HWLOC_OBJ_PU);
    out->memory_bytes = hwloc_get_root_obj(topo->hw)->total_memory;
}

hwloc_topology_t topology_hwloc(const topology *topo) { return topo->hw; }

const char *topology_origin(const topology *topo) { return topo->origin; }

int topology_summary_load(const char *synthetic, topology_summary *out) {
    topology *t;
    char err[256];
    int rc = topology_load(synthetic, NULL, &t, err, sizeof(err));
    if (rc != EMBER_OK)
        return rc == EMBER_ENOMEM ? rc : EMBER_EINVAL;
    topology_summarize(t, out);
    topology_destroy(t);
    return EMBER_OK;
}
