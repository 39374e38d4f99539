/* primary.h -- the primary rank (rank 0): membership, gateway, stop.
 *
 * The primary keeps the node registry from RegisterNode and Heartbeat
 * messages, declares silent nodes dead, serves outside clients through the
 * gateway, and stops the cluster: it tells every live node to shut down,
 * waits (bounded) for their acknowledgements, and writes the status file.
 * States: RUNNING -> STOPPING, then primary_run() returns. */
#ifndef EMBER_PRIMARY_H
#define EMBER_PRIMARY_H

#include "rank_context.h"

/* Runs the primary until the cluster stops; returns the cluster's exit
 * code (CLUSTER_EXIT_*), which it has also written to the status file. */
int primary_run(rank_context *ctx);

#endif
