/* cluster_main.h -- `ember cluster`: the process every rank runs.
 *
 * Launched as `mpirun --enable-recovery -np N ember cluster [options]`.
 * Reads the command line and configuration, initialises MPI, prepares the
 * run directory and the rank's log, reads the topology with hwloc, and runs
 * the primary (rank 0) or a node (every other rank). */
#ifndef EMBER_CLUSTER_MAIN_H
#define EMBER_CLUSTER_MAIN_H

#include <stdio.h>

/* argv[0] is "cluster".  Returns the process exit status: the cluster's
 * exit code on the primary, 0/1 on nodes, 2 for a bad command line. */
int cluster_main(int argc, char **argv);

/* Prints the usage of `ember cluster` to f. */
void cluster_main_usage(FILE *f);

#endif
