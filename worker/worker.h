/* worker.h -- the worker of a core or task rank (YARN's NodeManager).
 *
 * Today it knows its node and keeps its books: the placement view of the
 * rank's share of its host's cores (worker_share.h: the worker ranks on
 * one host do not offer the same cores), what it offers task containers
 * (vcores, memory), what running containers hold (a real count: zero
 * until the scheduler starts containers), where the node's data
 * directories and network interface attach, and the cores each
 * container is bound to.
 * cluster/node.c creates it before registering and puts its figures in
 * RegisterNode and every Heartbeat.  Given the rank's loop, it runs task
 * containers (worker/container.h) on the cores it books for them.  Its
 * MapReduce side -- the scheduler's attempts, the tasks' umbilical, the
 * map outputs and the shuffle -- is worker/worker_mr.h, on top of it. */
#ifndef EMBER_WORKER_H
#define EMBER_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/config.h"
#include "common/event_loop.h"
#include "common/topology.h"
#include "placement.h"
#include "worker_resources.h"

typedef struct worker worker; /* opaque */

typedef struct {
    const config *cfg;     /* the worker reads its own keys */
    const topology *topo;  /* the rank's topology; must outlive the worker */
    int core_node;         /* 1 on a core rank (it runs a datanode too) */
    const char *data_dirs; /* comma-separated data directories ("" on a task node) */
    const char *bind_addr; /* the rank's numeric address, to find its network interface */
    event_loop *loop;      /* runs the containers; NULL: the worker launches none */
    const char *run_dir;   /* containers' directories and logs go under it (with loop) */
    const struct container_options *containers; /* how to run them (NULL: the defaults) */
    int rank;                /* the rank's MPI rank, for the share's log line */
    const int *host_workers; /* the worker ranks on this host, ascending, this one among them */
    size_t n_host_workers;   /* 0: this rank is the host's only worker */
} worker_options;

/* Creates the worker: reads its keys, finds its share of the host's
 * units (worker_share.h: its binding, or its part of the host split
 * between host_workers), builds the placement view of that share and the
 * offer, and finds the devices under the data directories and the
 * address (logging what it found).  *out is the caller's, freed with
 * worker_destroy().  Returns 0, or EMBER_EINVAL / EMBER_ENOMEM with a
 * one-line reason in err. */
int worker_create(const worker_options *opts, worker **out, char *err, size_t errlen);

/* Whether a worker could start on topo with the configuration (what a
 * core node would offer), without creating one: cluster_main.c asks on
 * every rank at start, so a configuration that leaves nothing for
 * containers stops the cluster with one line from rank 0.  Returns 0, or
 * EMBER_EINVAL / EMBER_ENOMEM with the reason in err. */
int worker_check_config(const config *cfg, const topology *topo, char *err, size_t errlen);

/* Kills and reaps the worker's containers (worker/container.h), then
 * frees the worker; accepts NULL. */
void worker_destroy(worker *w);

/* The worker's containers (worker/container.h); NULL without a loop. */
struct container_table *worker_containers(worker *w);

/* NULL when containers are bound to the PUs placement chose for them;
 * otherwise why not, in words: the topology is synthetic or an XML file,
 * not this machine, so its PUs are not the ones containers run on (the
 * choice is still made and recorded).  Points into w. */
const char *worker_unbound_why(const worker *w);

/* The offer and what is taken, for reports. */
const worker_resources *worker_offer(const worker *w);

/* Fills *out (the caller's) with the offer and what is taken. */
void worker_fill_resources(const worker *w, ContainerResources *out);

/* Books one container of vcores and memory_mb: claims them from the
 * offer and chooses its units (as many as vcores, at most the usable
 * ones) with placement_choose(), near hint's device when known, then
 * marks those units busy.  Fills *choice.  EMBER_EAGAIN when the offer
 * has no room (nothing changes), EMBER_EINVAL for a container of 0
 * vcores. */
int worker_container_book(worker *w, uint32_t vcores, uint64_t memory_mb,
                          const placement_hint *hint, placement_choice *choice);

/* Gives back what worker_container_book() took for choice.  EMBER_EINVAL
 * (nothing changes) for a booking that was not made. */
int worker_container_unbook(worker *w, uint32_t vcores, uint64_t memory_mb,
                            const placement_choice *choice);

/* The hint for a map reading from data directory dir (one of the
 * worker's): its block device, or why it is not known.  The strings
 * point into w and subject (the caller's). */
void worker_storage_hint(const worker *w, const char *dir, const char *subject,
                         placement_hint *out);

/* The hint for a reduce: the network interface of the rank's address. */
void worker_network_hint(const worker *w, const char *subject, placement_hint *out);

#endif
