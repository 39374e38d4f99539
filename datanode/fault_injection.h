/* fault_injection.h -- named fault points of the datanode, for tests.
 *
 * Each point is off unless an environment variable that only tests set
 * names it (HDFS's DataNodeFaultInjector, switched by the environment
 * rather than a class swap).  A production cluster never sets them; a
 * point that is on logs a WARN every time it acts, so that a log shows
 * it.  Read once, at the first call; single-threaded (the loop thread). */
#ifndef EMBER_FAULT_INJECTION_H
#define EMBER_FAULT_INJECTION_H

/* EMBER_FAULT_HOLD_FINALIZE=R[,R...] (ranks, decimal): on a listed rank
 * the datanode holds the last packet of a client's block that reaches it
 * from another datanode (it is downstream in the pipeline): the packet is
 * neither written nor forwarded nor acknowledged, so this node's replica
 * stays in rbw/ without it while the nodes upstream have finalized theirs
 * -- the window in which a whole-cluster crash leaves one finalized
 * replica and stale rbw ones (tests/integration/dfs_stale_replica.sh).
 * Copies for ReplicateBlock are never held.  1 when rank is listed. */
int fault_injection_hold_finalize(int rank);

#endif
