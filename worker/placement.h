/* placement.h -- which cores of its node a task attempt runs on, and why.
 *
 * placement_choose() is a pure function: from the node's topology view
 * (worker_topology.h), how many attempts are bound to each unit now, how
 * many units the attempt needs and what is known of its data, it picks
 * the units and writes the reason in words a student can follow ("cores
 * 4-5 on NUMA node 1: block blk_12 is on /dev/nvme1n1 attached to NUMA
 * node 1").  It keeps nothing and changes nothing; the caller records the
 * choice and the load.
 *
 * The rules, in order:
 *   1. Never two attempts on one unit while a free unit remains: free
 *      units first, always.
 *   2. Near the data: when the hint names a device hwloc places under a
 *      NUMA node (or a package), that node's free units first, then the
 *      rest of its package, then the others.
 *   3. Packed: among equally near units, the first NUMA node (in hwloc's
 *      order) with enough free units for the whole attempt, its
 *      lowest-numbered units; when none has enough, free units in order.
 *   4. Oversubscribed: when too few units are free, the rest are the
 *      units with the fewest attempts (near ones first, then in order).
 * Units at or past `usable` (the ones reserved for the rank itself) are
 * never chosen. */
#ifndef EMBER_PLACEMENT_H
#define EMBER_PLACEMENT_H

#include <stdint.h>

#include "worker_topology.h"

#define PLACEMENT_MAX_UNITS 256 /* units one attempt may ask for */

typedef enum {
    PLACEMENT_HINT_NONE = 0, /* nothing known about the attempt's data */
    PLACEMENT_HINT_STORAGE,  /* a map: its input block is on a block device */
    PLACEMENT_HINT_NETWORK,  /* a reduce: its input comes over a network interface */
} placement_hint_kind;

/* What is known about where an attempt's data is.  device is hwloc's OS
 * device name ("nvme1n1", "eth0"); NULL or "" when it could not be found,
 * and then note may say why ("/data is on device 0:24, which is no block
 * device").  subject names the data for the reason ("block blk_12", "the
 * shuffle").  All strings are the caller's. */
typedef struct {
    placement_hint_kind kind;
    const char *device;
    const char *subject;
    const char *note;
} placement_hint;

/* One decision.  units are ascending unit indices of the view
 * (worker_topology's order: 0..n-1 over the rank's share); units_text
 * and the reason name them by their logical index on the host, as
 * hwloc does ("core 5"); shared counts those that already had an
 * attempt. */
typedef struct {
    uint32_t count;
    uint32_t units[PLACEMENT_MAX_UNITS];
    uint32_t shared;
    char units_text[160]; /* "4-5" */
    char pus[256];        /* the OS PUs of those units, to bind to: "8-11" */
    char reason[640];
} placement_choice;

/* Chooses want units for one attempt.  load[u] (for every unit of wt) is
 * how many attempts are bound to unit u now; units >= usable are never
 * chosen; hint may be NULL.  Fills *out and returns 0, or EMBER_EINVAL
 * when want is 0, above PLACEMENT_MAX_UNITS or above usable (an attempt
 * never takes one unit twice), or usable is above the units there are. */
int placement_choose(const worker_topology *wt, const uint16_t *load, uint32_t usable,
                     uint32_t want, const placement_hint *hint, placement_choice *out);

#endif
