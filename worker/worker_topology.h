/* worker_topology.h -- the worker's view of its node, for placing task
 * attempts on cores.
 *
 * Built once from the rank's loaded hwloc topology (common/topology.h):
 * the placement units -- cores, or PUs when hardware threads count as
 * vcores (or when hwloc shows no cores) -- of the rank's share of the
 * host (worker_share.h; every unit by default), in hwloc's logical
 * order, each with its logical index on the host (units are numbered
 * 0..n-1 in the view, but named by that index in reasons), the
 * NUMA node and package of each, and where an I/O device attaches: the
 * NUMA node or package that a block device or network interface hangs
 * off, when hwloc knows it.  It also finds the block device under a
 * directory (through /sys/dev/block) and the interface that owns an
 * address, so the worker can name the device that holds a map's input or
 * carries a reduce's shuffle.  Read-only once created. */
#ifndef EMBER_WORKER_TOPOLOGY_H
#define EMBER_WORKER_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "common/topology.h"

typedef struct worker_topology worker_topology; /* opaque */

/* How close an I/O device is to the cores, as hwloc places it. */
typedef enum {
    WORKER_NEAR_UNKNOWN = 0, /* hwloc knows no device of that name */
    WORKER_NEAR_MACHINE,     /* attached to the whole machine: no core is closer */
    WORKER_NEAR_PACKAGE,     /* under a package with several NUMA nodes */
    WORKER_NEAR_NUMA,        /* under one NUMA node */
} worker_near_level;

/* Where one device attaches.  near is the NUMA node or package object
 * (it belongs to the topology) whose units are closest, NULL unless the
 * level is PACKAGE or NUMA; index is its logical index. */
typedef struct {
    worker_near_level level;
    int index;
    hwloc_obj_t near;
    char where[96]; /* "NUMA node 1", "package 0 (NUMA nodes 0-1)", "the whole machine" */
} worker_device_locality;

/* Builds the view of topo (which must outlive it).  With pus_as_units
 * the units are PUs, else cores (PUs when hwloc shows no core).  *out is
 * the caller's, freed with worker_topology_destroy().  Returns 0,
 * EMBER_ENOMEM, or EMBER_EINVAL for a topology without PUs. */
int worker_topology_create(const topology *topo, int pus_as_units, worker_topology **out);

/* The same, restricted to a share of the host's units (worker_share.h):
 * share lists nshare host units by logical index, ascending, and unit u
 * of the view is the host's unit share[u].  With share NULL, every unit
 * (worker_topology_create()).  EMBER_EINVAL also for an empty share, or
 * one out of order or out of range. */
int worker_topology_create_share(const topology *topo, int pus_as_units, const uint32_t *share,
                                 uint32_t nshare, worker_topology **out);

/* Frees the view; accepts NULL. */
void worker_topology_destroy(worker_topology *wt);

/* How many placement units the view has (the share), and what they are
 * called: "core" or "PU" (plural "cores", "PUs"). */
uint32_t worker_topology_units(const worker_topology *wt);
const char *worker_topology_unit_name(const worker_topology *wt, int plural);

/* How many units the host has (the view's are some of them), and the
 * host's logical index of the view's unit u (UINT32_MAX out of range):
 * what reasons and reports call it ("core 5"). */
uint32_t worker_topology_host_units(const worker_topology *wt);
uint32_t worker_topology_unit_index(const worker_topology *wt, uint32_t u);

/* The host's logical indices of n of the view's units as a list
 * ("2-3,6"); units NULL means the first n (the whole view when n is
 * worker_topology_units()).  Returns 0, or EMBER_EINVAL for a unit out
 * of range or a list that does not fit len. */
int worker_topology_units_list(const worker_topology *wt, const uint32_t *units, size_t n,
                               char *buf, size_t len);

/* 1 when this process is bound (by mpirun, taskset, ...) to fewer of the
 * machine's PUs than the topology has, and then bound[u] (the caller's,
 * one per unit of the view) is 1 for the units whose PUs it may run on;
 * 0 (bound all 0) when it is not, or when the topology is not this
 * machine (a synthetic or XML one), where the binding means nothing. */
int worker_topology_bound_units(const worker_topology *wt, uint8_t *bound);

/* 1 when the units are PUs, 0 when they are cores. */
int worker_topology_units_are_pus(const worker_topology *wt);

/* The logical index of the NUMA node unit u is in (0 when hwloc shows it
 * in none), and of its package (-1 when there are no packages). */
int worker_topology_unit_numa(const worker_topology *wt, uint32_t u);
int worker_topology_unit_package(const worker_topology *wt, uint32_t u);

/* 1 when unit u is among the units closest to the device (loc->near). */
int worker_topology_unit_near(const worker_topology *wt, const worker_device_locality *loc,
                              uint32_t u);

uint32_t worker_topology_numa_nodes(const worker_topology *wt);

/* Where the OS device named device ("nvme1n1", "eth0") attaches. */
void worker_topology_device_locality(const worker_topology *wt, const char *device,
                                     worker_device_locality *out);

/* The OS PUs of n units as a list ("8-11,14"): the cpuset an attempt on
 * those units is bound to.  Returns 0, or EMBER_EINVAL for a unit out of
 * range or a list that does not fit len. */
int worker_topology_pu_list(const worker_topology *wt, const uint32_t *units, size_t n, char *buf,
                            size_t len);

/* The block device holding path's file system, as the kernel names the
 * whole disk ("nvme1n1" for a file system on nvme1n1p2; the one disk
 * under a device-mapper or md device), found through sysfs_root
 * ("/sys"; another root in tests).  Returns 0, or EMBER_ENOENT with the
 * reason in why (no such path; a file system on no block device, such as
 * tmpfs or overlay). */
int worker_topology_block_device_of(const char *sysfs_root, const char *path, char *name,
                                    size_t namelen, char *why, size_t whylen);

/* The network interface that owns the numeric address addr ("lo" for
 * 127.0.0.1).  Returns 0, or EMBER_ENOENT when no interface has it (a
 * wildcard address, or another host's). */
int worker_topology_interface_of(const char *addr, char *name, size_t namelen);

#endif
