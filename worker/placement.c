/* placement.c -- choosing an attempt's units (see placement.h).
 *
 * One call works on a scratch record: the units taken so far, in the
 * order taken, and a flag per unit.  Free units are taken tier by tier
 * (near the data, same package, the rest; one tier when nothing is
 * near), each tier packed NUMA node by NUMA node; then, if the attempt
 * still lacks units, the least loaded ones.  The reason is written last,
 * from what was taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "placement.h"

/* Which units a pass may take, by closeness to the data. */
typedef enum {
    PLACEMENT_TIER_NEAR,    /* under the device's NUMA node or package */
    PLACEMENT_TIER_PACKAGE, /* in the same package as the near units */
    PLACEMENT_TIER_REST,    /* every other usable unit */
    PLACEMENT_TIER_ANY,     /* every usable unit (nothing is near) */
} placement_tier;

typedef struct {
    const worker_topology *wt;
    const uint16_t *load;
    uint32_t usable;
    uint32_t want;
    worker_device_locality loc;
    int near_package; /* package of the near units, -1 when none */
    uint8_t *taken;   /* [units] */
    placement_choice *out;
} placement_run;

static int placement_in_tier(const placement_run *r, uint32_t u, placement_tier tier) {
    int near = worker_topology_unit_near(r->wt, &r->loc, u);
    switch (tier) {
    case PLACEMENT_TIER_NEAR: return near;
    case PLACEMENT_TIER_PACKAGE:
        return !near && r->near_package >= 0 &&
               worker_topology_unit_package(r->wt, u) == r->near_package;
    case PLACEMENT_TIER_REST:
        return !near &&
               (r->near_package < 0 || worker_topology_unit_package(r->wt, u) != r->near_package);
    case PLACEMENT_TIER_ANY: return 1;
    }
    return 0;
}

static int placement_free(const placement_run *r, uint32_t u) {
    return r->load[u] == 0 && !r->taken[u];
}

static void placement_take(placement_run *r, uint32_t u) {
    r->taken[u] = 1;
    r->out->shared += r->load[u] > 0;
    r->out->units[r->out->count++] = u;
}

/* Takes free units of one tier, packed: the first NUMA node with room
 * for all that is still wanted, else free units in order. */
static void placement_take_packed(placement_run *r, placement_tier tier) {
    uint32_t units = r->usable;
    for (uint32_t node = 0; node < worker_topology_numa_nodes(r->wt); node++) {
        uint32_t room = 0;
        for (uint32_t u = 0; u < units; u++)
            room += placement_free(r, u) && placement_in_tier(r, u, tier) &&
                    worker_topology_unit_numa(r->wt, u) == (int)node;
        if (room < r->want - r->out->count)
            continue;
        for (uint32_t u = 0; u < units && r->out->count < r->want; u++)
            if (placement_free(r, u) && placement_in_tier(r, u, tier) &&
                worker_topology_unit_numa(r->wt, u) == (int)node)
                placement_take(r, u);
        return;
    }
    for (uint32_t u = 0; u < units && r->out->count < r->want; u++)
        if (placement_free(r, u) && placement_in_tier(r, u, tier))
            placement_take(r, u);
}

/* Too few free units: the rest from the least loaded ones, near first. */
static void placement_take_least_loaded(placement_run *r) {
    while (r->out->count < r->want) {
        uint32_t best = UINT32_MAX;
        for (uint32_t u = 0; u < r->usable; u++) {
            if (r->taken[u])
                continue;
            if (best == UINT32_MAX || r->load[u] < r->load[best] ||
                (r->load[u] == r->load[best] && worker_topology_unit_near(r->wt, &r->loc, u) &&
                 !worker_topology_unit_near(r->wt, &r->loc, best)))
                best = u;
        }
        placement_take(r, best);
    }
}

static int placement_cmp_unit(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* How many usable units are free now, and how many of them are near. */
static uint32_t placement_count_free(const placement_run *r, int near_only) {
    uint32_t n = 0;
    for (uint32_t u = 0; u < r->usable; u++)
        n += r->load[u] == 0 && (!near_only || worker_topology_unit_near(r->wt, &r->loc, u));
    return n;
}

/* "NUMA node 1" or "NUMA nodes 0-1": where the chosen units are. */
static void placement_where(const placement_run *r, char *buf, size_t len) {
    hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
    if (nodes == NULL) {
        snprintf(buf, len, "this node");
        return;
    }
    for (uint32_t i = 0; i < r->out->count; i++)
        hwloc_bitmap_set(nodes, (unsigned)worker_topology_unit_numa(r->wt, r->out->units[i]));
    char list[64];
    hwloc_bitmap_list_snprintf(list, sizeof(list), nodes);
    snprintf(buf, len, "NUMA node%s %s", hwloc_bitmap_weight(nodes) > 1 ? "s" : "", list);
    hwloc_bitmap_free(nodes);
}

/* The part of the reason about the data: where it is and whether that
 * decided the units. */
static void placement_why(const placement_run *r, const placement_hint *hint, uint32_t near_free,
                          char *buf, size_t len) {
    int network = hint != NULL && hint->kind == PLACEMENT_HINT_NETWORK;
    const char *subject = hint == NULL || hint->subject == NULL || hint->subject[0] == '\0'
                              ? (network ? "the shuffle" : "the input")
                              : hint->subject;
    const char *device = hint != NULL && hint->device != NULL ? hint->device : "";
    char dev[96];
    snprintf(dev, sizeof(dev), "%s%s", network ? "" : "/dev/", device);
    const char *verb = network ? "comes over" : "is on";
    if (hint == NULL || hint->kind == PLACEMENT_HINT_NONE) {
        snprintf(buf, len, "packed, no device locality known");
    } else if (device[0] == '\0') {
        snprintf(buf, len, "packed, no device locality known (%s: %s)", subject,
                 hint->note != NULL && hint->note[0] ? hint->note : "its device is not known");
    } else if (r->loc.level == WORKER_NEAR_UNKNOWN) {
        snprintf(buf, len, "packed: %s %s %s, which hwloc does not know", subject, verb, dev);
    } else if (r->loc.level == WORKER_NEAR_MACHINE) {
        snprintf(buf, len, "packed: %s %s %s, attached to the whole machine (no core is closer)",
                 subject, verb, dev);
    } else if (near_free >= r->want) {
        snprintf(buf, len, "%s %s %s attached to %s", subject, verb, dev, r->loc.where);
    } else {
        snprintf(buf, len, "%s %s %s attached to %s, which had %u free %s", subject, verb, dev,
                 r->loc.where, near_free, worker_topology_unit_name(r->wt, near_free != 1));
    }
}

/* Writes out->units_text, out->pus and out->reason. */
static int placement_describe(placement_run *r, const placement_hint *hint, uint32_t free_units,
                              uint32_t near_free) {
    placement_choice *out = r->out;
    int rc = worker_topology_pu_list(r->wt, out->units, out->count, out->pus, sizeof(out->pus));
    if (rc == EMBER_OK)
        rc = worker_topology_units_list(r->wt, out->units, out->count, out->units_text,
                                        sizeof(out->units_text));
    if (rc != EMBER_OK)
        return rc;
    char where[96], why[400], shared[160] = "";
    placement_where(r, where, sizeof(where));
    placement_why(r, hint, near_free, why, sizeof(why));
    const char *name = worker_topology_unit_name(r->wt, 1);
    if (out->shared == out->count)
        snprintf(shared, sizeof(shared),
                 "; all %u usable %s were busy, so these are shared "
                 "with the fewest other attempts",
                 r->usable, name);
    else if (out->shared > 0)
        snprintf(shared, sizeof(shared), "; only %u %s %s free, so %u of these %s shared",
                 free_units, worker_topology_unit_name(r->wt, free_units != 1),
                 free_units == 1 ? "was" : "were", out->shared, out->shared == 1 ? "is" : "are");
    snprintf(out->reason, sizeof(out->reason), "%s %s on %s: %s%s",
             worker_topology_unit_name(r->wt, out->count > 1), out->units_text, where, why, shared);
    return EMBER_OK;
}

int placement_choose(const worker_topology *wt, const uint16_t *load, uint32_t usable,
                     uint32_t want, const placement_hint *hint, placement_choice *out) {
    uint32_t units = worker_topology_units(wt);
    if (want == 0 || want > PLACEMENT_MAX_UNITS || want > usable || usable > units)
        return EMBER_EINVAL;
    memset(out, 0, sizeof(*out));
    placement_run r = {
        .wt = wt, .load = load, .usable = usable, .want = want, .near_package = -1, .out = out};
    r.taken = calloc(units, 1);
    if (r.taken == NULL)
        return EMBER_ENOMEM;
    r.loc = (worker_device_locality){.level = WORKER_NEAR_UNKNOWN, .index = -1};
    if (hint != NULL && hint->kind != PLACEMENT_HINT_NONE && hint->device != NULL &&
        hint->device[0] != '\0')
        worker_topology_device_locality(wt, hint->device, &r.loc);
    uint32_t free_units = placement_count_free(&r, 0);
    uint32_t near_free = placement_count_free(&r, 1);
    if (r.loc.near != NULL) {
        for (uint32_t u = 0; u < units && r.near_package < 0; u++)
            if (worker_topology_unit_near(wt, &r.loc, u) && r.loc.level == WORKER_NEAR_NUMA)
                r.near_package = worker_topology_unit_package(wt, u);
        placement_take_packed(&r, PLACEMENT_TIER_NEAR);
        placement_take_packed(&r, PLACEMENT_TIER_PACKAGE);
        placement_take_packed(&r, PLACEMENT_TIER_REST);
    } else {
        placement_take_packed(&r, PLACEMENT_TIER_ANY);
    }
    placement_take_least_loaded(&r);
    qsort(out->units, out->count, sizeof(out->units[0]), placement_cmp_unit);
    int rc = placement_describe(&r, hint, free_units, near_free);
    free(r.taken);
    return rc;
}
