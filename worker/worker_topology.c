/* worker_topology.c -- the worker's view of its node (see worker_topology.h).
 *
 * Owns four arrays indexed by the view's unit (the rank's share of the
 * host's cores or PUs, in hwloc's logical order): the hwloc object, its
 * logical index on the host, the logical index of its NUMA node, and of
 * its package.  Invariants: every unit has a non-NULL object with a
 * cpuset; index[] is ascending and below host_units; numa[u] is in
 * [0, NUMA nodes); package[u] is -1 exactly when the topology has no
 * package.  Device locality follows hwloc: an OS device
 * hangs under PCI objects whose first non-I/O ancestor is the part of the
 * machine it is attached to; when that ancestor's memory is one NUMA
 * node, that node's units are the closest, else its package's, else none
 * is closer than another. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/error.h"
#include "worker_topology.h"

struct worker_topology {
    hwloc_topology_t hw;
    int pus;             /* units are PUs (else cores) */
    uint32_t units;      /* in the view: the rank's share */
    uint32_t host_units; /* on the host */
    uint32_t numa_nodes;
    hwloc_obj_t *unit; /* [units] */
    uint32_t *index;   /* [units] the unit's logical index on the host, ascending */
    int *numa;         /* [units] logical index of the unit's NUMA node */
    int *package;      /* [units] logical index of its package, -1 without packages */
};

/* The first NUMA node (in logical order) whose cpuset covers obj's. */
static int worker_topology_numa_of(hwloc_topology_t hw, hwloc_obj_t obj) {
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, node)) != NULL)
        if (hwloc_bitmap_isincluded(obj->cpuset, node->cpuset))
            return (int)node->logical_index;
    return 0;
}

int worker_topology_create(const topology *topo, int pus_as_units, worker_topology **out) {
    return worker_topology_create_share(topo, pus_as_units, NULL, 0, out);
}

/* The host's units: cores, or PUs when asked or when hwloc shows no
 * core.  Sets *pus; 0 when there are none. */
static int worker_topology_count_host_units(hwloc_topology_t hw, int pus_as_units, int *pus) {
    int cores = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
    *pus = pus_as_units || cores <= 0;
    int n = hwloc_get_nbobjs_by_type(hw, *pus ? HWLOC_OBJ_PU : HWLOC_OBJ_CORE);
    return n > 0 ? n : 0;
}

int worker_topology_create_share(const topology *topo, int pus_as_units, const uint32_t *share,
                                 uint32_t nshare, worker_topology **out) {
    hwloc_topology_t hw = topology_hwloc(topo);
    int pus;
    int host = worker_topology_count_host_units(hw, pus_as_units, &pus);
    if (host <= 0)
        return EMBER_EINVAL;
    uint32_t n = share != NULL ? nshare : (uint32_t)host;
    for (uint32_t i = 0; share != NULL && i < nshare; i++)
        if (share[i] >= (uint32_t)host || (i > 0 && share[i] <= share[i - 1]))
            return EMBER_EINVAL;
    if (n == 0)
        return EMBER_EINVAL;
    worker_topology *wt = calloc(1, sizeof(*wt));
    if (wt == NULL)
        return EMBER_ENOMEM;
    wt->hw = hw;
    wt->pus = pus;
    wt->units = n;
    wt->host_units = (uint32_t)host;
    int numa = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    wt->numa_nodes = numa > 0 ? (uint32_t)numa : 1;
    wt->unit = calloc(n, sizeof(*wt->unit));
    wt->index = calloc(n, sizeof(*wt->index));
    wt->numa = calloc(n, sizeof(*wt->numa));
    wt->package = calloc(n, sizeof(*wt->package));
    if (wt->unit == NULL || wt->index == NULL || wt->numa == NULL || wt->package == NULL) {
        worker_topology_destroy(wt);
        return EMBER_ENOMEM;
    }
    for (uint32_t u = 0; u < n; u++) {
        uint32_t index = share != NULL ? share[u] : u;
        hwloc_obj_t obj = hwloc_get_obj_by_type(hw, pus ? HWLOC_OBJ_PU : HWLOC_OBJ_CORE, index);
        hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(hw, HWLOC_OBJ_PACKAGE, obj);
        wt->unit[u] = obj;
        wt->index[u] = index;
        wt->numa[u] = worker_topology_numa_of(hw, obj);
        wt->package[u] = pkg != NULL ? (int)pkg->logical_index : -1;
    }
    *out = wt;
    return EMBER_OK;
}

void worker_topology_destroy(worker_topology *wt) {
    if (wt == NULL)
        return;
    free(wt->unit);
    free(wt->index);
    free(wt->numa);
    free(wt->package);
    free(wt);
}

uint32_t worker_topology_units(const worker_topology *wt) { return wt->units; }

uint32_t worker_topology_host_units(const worker_topology *wt) { return wt->host_units; }

uint32_t worker_topology_unit_index(const worker_topology *wt, uint32_t u) {
    return u < wt->units ? wt->index[u] : UINT32_MAX;
}

/* Writes a list of n units ("8-11,14") into buf: their PUs (pus 1) or
 * their logical indices on the host; units NULL means the first n.
 * Returns 0, EMBER_EINVAL (a unit out of range, no room) or
 * EMBER_ENOMEM. */
static int worker_topology_list(const worker_topology *wt, const uint32_t *units, size_t n, int pus,
                                char *buf, size_t len) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set == NULL)
        return EMBER_ENOMEM;
    int rc = EMBER_OK;
    for (size_t i = 0; i < n && rc == EMBER_OK; i++) {
        uint32_t u = units != NULL ? units[i] : (uint32_t)i;
        if (u >= wt->units)
            rc = EMBER_EINVAL;
        else if (pus)
            hwloc_bitmap_or(set, set, wt->unit[u]->cpuset);
        else
            hwloc_bitmap_set(set, wt->index[u]);
    }
    if (rc == EMBER_OK) {
        int written = hwloc_bitmap_list_snprintf(buf, len, set);
        if (written < 0 || (size_t)written >= len)
            rc = EMBER_EINVAL;
    }
    hwloc_bitmap_free(set);
    return rc;
}

int worker_topology_units_list(const worker_topology *wt, const uint32_t *units, size_t n,
                               char *buf, size_t len) {
    return worker_topology_list(wt, units, n, 0, buf, len);
}

int worker_topology_bound_units(const worker_topology *wt, uint8_t *bound) {
    memset(bound, 0, wt->units);
    hwloc_bitmap_t set = hwloc_topology_is_thissystem(wt->hw) ? hwloc_bitmap_alloc() : NULL;
    if (set == NULL)
        return 0;
    int narrower = 0;
    hwloc_const_cpuset_t machine = hwloc_topology_get_topology_cpuset(wt->hw);
    if (hwloc_get_cpubind(wt->hw, set, HWLOC_CPUBIND_PROCESS) == 0) {
        hwloc_bitmap_and(set, set, machine);
        narrower = !hwloc_bitmap_iszero(set) && !hwloc_bitmap_isequal(set, machine);
    }
    for (uint32_t u = 0; u < wt->units; u++)
        bound[u] = narrower && hwloc_bitmap_intersects(wt->unit[u]->cpuset, set);
    hwloc_bitmap_free(set);
    return narrower;
}

int worker_topology_units_are_pus(const worker_topology *wt) { return wt->pus; }

const char *worker_topology_unit_name(const worker_topology *wt, int plural) {
    if (wt->pus)
        return plural ? "PUs" : "PU";
    return plural ? "cores" : "core";
}

int worker_topology_unit_numa(const worker_topology *wt, uint32_t u) {
    return u < wt->units ? wt->numa[u] : 0;
}

int worker_topology_unit_package(const worker_topology *wt, uint32_t u) {
    return u < wt->units ? wt->package[u] : -1;
}

uint32_t worker_topology_numa_nodes(const worker_topology *wt) { return wt->numa_nodes; }

int worker_topology_unit_near(const worker_topology *wt, const worker_device_locality *loc,
                              uint32_t u) {
    if (loc->near == NULL || u >= wt->units)
        return 0;
    return hwloc_bitmap_isincluded(wt->unit[u]->cpuset, loc->near->cpuset);
}

/* Names obj (a NUMA node or package) and sets it as what is near. */
static void worker_topology_set_near(worker_device_locality *out, worker_near_level level,
                                     hwloc_obj_t obj, int numa_in_it) {
    out->level = level;
    out->near = obj;
    out->index = (int)obj->logical_index;
    if (level == WORKER_NEAR_NUMA) {
        snprintf(out->where, sizeof(out->where), "NUMA node %d", out->index);
    } else if (numa_in_it > 1) {
        char list[48];
        hwloc_bitmap_list_snprintf(list, sizeof(list), obj->nodeset);
        snprintf(out->where, sizeof(out->where), "package %d (NUMA nodes %s)", out->index, list);
    } else {
        snprintf(out->where, sizeof(out->where), "package %d", out->index);
    }
}

void worker_topology_device_locality(const worker_topology *wt, const char *device,
                                     worker_device_locality *out) {
    *out = (worker_device_locality){.level = WORKER_NEAR_UNKNOWN, .index = -1};
    hwloc_obj_t dev = NULL;
    while (device != NULL && (dev = hwloc_get_next_osdev(wt->hw, dev)) != NULL)
        if (dev->name != NULL && strcmp(dev->name, device) == 0)
            break;
    if (dev == NULL) {
        snprintf(out->where, sizeof(out->where), "nowhere hwloc knows");
        return;
    }
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(wt->hw, dev);
    int numa_near = anc != NULL ? hwloc_bitmap_weight(anc->nodeset) : 0;
    if (numa_near == 1 && wt->numa_nodes > 1) {
        hwloc_obj_t node =
            hwloc_get_numanode_obj_by_os_index(wt->hw, (unsigned)hwloc_bitmap_first(anc->nodeset));
        if (node != NULL) {
            worker_topology_set_near(out, WORKER_NEAR_NUMA, node, 1);
            return;
        }
    }
    hwloc_obj_t pkg = anc == NULL ? NULL
                      : anc->type == HWLOC_OBJ_PACKAGE
                          ? anc
                          : hwloc_get_ancestor_obj_by_type(wt->hw, HWLOC_OBJ_PACKAGE, anc);
    if (pkg != NULL && hwloc_get_nbobjs_by_type(wt->hw, HWLOC_OBJ_PACKAGE) > 1) {
        worker_topology_set_near(out, WORKER_NEAR_PACKAGE, pkg, hwloc_bitmap_weight(pkg->nodeset));
        return;
    }
    out->level = WORKER_NEAR_MACHINE;
    snprintf(out->where, sizeof(out->where), "the whole machine");
}

int worker_topology_pu_list(const worker_topology *wt, const uint32_t *units, size_t n, char *buf,
                            size_t len) {
    return worker_topology_list(wt, units, n, 1, buf, len);
}

/* ---- devices under paths and addresses -------------------------------- */

/* The one entry of dir/slaves (a device-mapper or md device over one
 * disk), into name; 0 when there are none or several. */
static int worker_topology_one_slave(const char *dir, char *name, size_t namelen) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/slaves", dir);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (++count == 1)
            snprintf(name, namelen, "%s", e->d_name);
    }
    closedir(d);
    return count == 1;
}

/* Walks from a block device's sysfs directory to the whole disk under it:
 * a partition's parent, the single disk under a mapper.  At most 8 hops. */
static void worker_topology_whole_disk(const char *sysfs_root, char *dir) {
    char path[PATH_MAX + 64], slave[256];
    struct stat st;
    for (int hop = 0; hop < 8; hop++) {
        snprintf(path, sizeof(path), "%s/partition", dir);
        if (stat(path, &st) == 0) {
            char *slash = strrchr(dir, '/');
            if (slash == NULL || slash == dir)
                return;
            *slash = '\0';
            continue;
        }
        if (!worker_topology_one_slave(dir, slave, sizeof(slave)))
            return;
        snprintf(path, sizeof(path), "%s/class/block/%s", sysfs_root, slave);
        char next[PATH_MAX];
        if (realpath(path, next) == NULL)
            return;
        snprintf(dir, PATH_MAX, "%s", next);
    }
}

int worker_topology_block_device_of(const char *sysfs_root, const char *path, char *name,
                                    size_t namelen, char *why, size_t whylen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, whylen, "cannot stat %s: %s", path, strerror(errno));
        return EMBER_ENOENT;
    }
    unsigned maj = major(st.st_dev), min = minor(st.st_dev);
    char link[PATH_MAX + 64], dir[PATH_MAX];
    snprintf(link, sizeof(link), "%s/dev/block/%u:%u", sysfs_root, maj, min);
    if (realpath(link, dir) == NULL) {
        snprintf(why, whylen, "%s is on device %u:%u, which is no block device", path, maj, min);
        return EMBER_ENOENT;
    }
    worker_topology_whole_disk(sysfs_root, dir);
    const char *slash = strrchr(dir, '/');
    snprintf(name, namelen, "%s", slash != NULL ? slash + 1 : dir);
    return EMBER_OK;
}

int worker_topology_interface_of(const char *addr, char *name, size_t namelen) {
    unsigned char want[16];
    int family = inet_pton(AF_INET, addr, want) == 1    ? AF_INET
                 : inet_pton(AF_INET6, addr, want) == 1 ? AF_INET6
                                                        : 0;
    struct ifaddrs *list;
    if (family == 0 || getifaddrs(&list) != 0)
        return EMBER_ENOENT;
    int rc = EMBER_ENOENT;
    for (struct ifaddrs *i = list; i != NULL && rc != EMBER_OK; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family)
            continue;
        const void *have = family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (memcmp(have, want, family == AF_INET ? 4 : 16) == 0) {
            snprintf(name, namelen, "%s", i->ifa_name);
            rc = EMBER_OK;
        }
    }
    freeifaddrs(list);
    return rc;
}
