/* worker_topology.h -- the worker's view of its node, for placing task
 * attempts on cores.
 *
 * Built once from the rank's loaded hwloc topology (common/topology.h):
 * the placement units -- cores, or PUs when hardware threads count as
 * vcores (or when hwloc shows no cores) -- in hwloc's logical order, the
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

/* Frees the view; accepts NULL. */
void worker_topology_destroy(worker_topology *wt);

/* How many placement units there are, and what they are called: "core"
 * or "PU" (plural "cores", "PUs"). */
uint32_t worker_topology_units(const worker_topology *wt);
const char *worker_topology_unit_name(const worker_topology *wt, int plural);

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
