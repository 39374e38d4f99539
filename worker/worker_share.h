/* worker_share.h -- which of a host's placement units a worker rank
 * offers.
 *
 * Several worker ranks (core or task nodes) may run on one host; each
 * places its containers on its own share of the host's units, so they do
 * not all start from the same cores.  A rank that mpirun bound to fewer
 * PUs than the machine has keeps its binding; otherwise the units are
 * split evenly between the host's worker ranks in rank order.
 * worker_share_split() is the arithmetic, a pure function; the worker
 * (worker.c) finds its inputs -- the host's units, the worker ranks on
 * the host (cluster_main.c's start-time exchange) and the binding
 * (worker_topology_bound_units()) -- and builds its placement view on
 * the share. */
#ifndef EMBER_WORKER_SHARE_H
#define EMBER_WORKER_SHARE_H

#include <stddef.h>
#include <stdint.h>

/* The share of the worker at position index (0-based, in rank order)
 * among the host's `workers` worker ranks, on a host of `units` units.
 * bound, when not NULL, has one flag per unit: 1 for the units the rank
 * is bound to (a binding narrower than the machine); those are the share
 * when at least one is flagged.  Otherwise index i of n gets units
 * [i*units/n, (i+1)*units/n), or, when n > units, unit i % units alone
 * (shared with other ranks).  Writes the share's unit indices ascending
 * into share (the caller's, room for `units`) and their number into
 * *count (at least 1).  Returns 0, or EMBER_EINVAL when units or workers
 * is 0 or index >= workers. */
int worker_share_split(uint32_t units, uint32_t workers, uint32_t index, const uint8_t *bound,
                       uint32_t *share, uint32_t *count);

#endif
