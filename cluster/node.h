/* node.h -- a core or task rank's membership agent.
 *
 * Registers with the primary (retrying until answered), heartbeats every
 * dfs.heartbeat.interval with fresh storage figures, and exits when the
 * primary says Shutdown, or when the primary has been silent for
 * ember.node.expiry (the primary is gone, or it has declared this node
 * dead: either way this rank must not go on as a member). */
#ifndef EMBER_NODE_H
#define EMBER_NODE_H

#include "rank_context.h"

/* Runs the node until shutdown; returns 0 after an orderly Shutdown, 1
 * when the primary was lost. */
int node_run(rank_context *ctx);

#endif
