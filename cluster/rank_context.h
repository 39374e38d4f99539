/* rank_context.h -- what every rank knows about itself once started.
 *
 * cluster_main.c fills one of these (command line, configuration, MPI
 * rank, topology) and hands it to primary_run() or node_run().  The
 * context owns nothing: cluster_main.c creates and destroys the loop and
 * the config around the daemon's run; each daemon creates and destroys its
 * own MPI link. */
#ifndef EMBER_RANK_CONTEXT_H
#define EMBER_RANK_CONTEXT_H

#include "cluster.pb-c.h"
#include "common/config.h"
#include "common/event_loop.h"
#include "common/topology.h"

typedef struct {
    int rank;
    int world_size;
    int core_nodes;            /* how many ranks are core nodes */
    NodeRole role;
    const char *run_dir;
    const char *bind_addr;     /* the gateway's address (primary), the data port's (core) */
    char public_addr[64];      /* the numeric address others reach bind_addr at: bind_addr,
                                * or for a wildcard bind the host name's address */
    config *cfg;
    event_loop *loop;
    char hostname[256];
    int *host_workers;         /* the worker ranks on this host, ascending (cluster_main.c's) */
    size_t n_host_workers;
    const topology *topo;      /* the loaded hwloc topology (cluster_main.c's) */
    topology_summary hw;       /* its summary */
    char data_dirs[4096];      /* comma-separated; "" on task nodes */
} rank_context;

#endif
