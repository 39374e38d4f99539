/* worker.c -- the worker of a core or task rank (see worker.h).
 *
 * Owns the placement view, the offer (worker_resources), the load of
 * each unit (how many booked containers are bound to it) and what was
 * found at start about the data directories' block devices and the
 * network interface, and, given a loop, the container table
 * (container.c), which books and unbooks through this file.  Invariant:
 * the loads sum to the units of every booked container, and the offer
 * counts exactly those containers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "container.h"
#include "worker.h"
#include "worker_share.h"
#include "worker_topology.h"

/* A data directory and the disk under it. */
typedef struct {
    char path[4096];
    char device[64]; /* "" when not known */
    char note[256];  /* why it is not known */
} worker_data_dir;

struct worker {
    worker_topology *wt;
    worker_resources offer;
    uint16_t *load;  /* [units] containers bound to each unit */
    uint32_t usable; /* units below it take containers; the rest are reserved */
    worker_data_dir *dirs;
    size_t ndirs;
    char interface[64]; /* the rank's network interface ("" when not known) */
    char interface_note[128];
    char unbound_why[640];       /* "" when containers are bound to their PUs */
    container_table *containers; /* NULL without a loop */
};

/* Finds and logs the block device under each data directory. */
static int worker_find_data_devices(worker *w, const char *data_dirs) {
    char *copy = strdup(data_dirs);
    if (copy == NULL)
        return EMBER_ENOMEM;
    size_t most = 1; /* one directory per comma-separated piece, at most */
    for (const char *c = data_dirs; *c != '\0'; c++)
        most += *c == ',';
    w->dirs = calloc(most, sizeof(*w->dirs));
    if (w->dirs == NULL) {
        free(copy);
        return EMBER_ENOMEM;
    }
    char *save = NULL;
    for (char *dir = strtok_r(copy, ",", &save); dir != NULL && w->ndirs < most;
         dir = strtok_r(NULL, ",", &save)) {
        worker_data_dir *d = &w->dirs[w->ndirs++];
        snprintf(d->path, sizeof(d->path), "%s", dir);
        if (worker_topology_block_device_of("/sys", dir, d->device, sizeof(d->device), d->note,
                                            sizeof(d->note)) != EMBER_OK) {
            d->device[0] = '\0';
            LOG_INFO("worker: data directory %s: no device locality (%s)", dir, d->note);
            continue;
        }
        worker_device_locality loc;
        worker_topology_device_locality(w->wt, d->device, &loc);
        LOG_INFO("worker: data directory %s is on /dev/%s, %s%s", dir, d->device,
                 loc.level == WORKER_NEAR_UNKNOWN ? "which hwloc does not know" : "attached to ",
                 loc.level == WORKER_NEAR_UNKNOWN ? "" : loc.where);
    }
    free(copy);
    return EMBER_OK;
}

/* Finds and logs the network interface of the rank's address. */
static void worker_find_interface(worker *w, const char *bind_addr) {
    if (bind_addr == NULL ||
        worker_topology_interface_of(bind_addr, w->interface, sizeof(w->interface)) != EMBER_OK) {
        w->interface[0] = '\0';
        snprintf(w->interface_note, sizeof(w->interface_note), "no interface has address %s",
                 bind_addr != NULL ? bind_addr : "(none)");
        LOG_INFO("worker: network: no device locality (%s)", w->interface_note);
        return;
    }
    worker_device_locality loc;
    worker_topology_device_locality(w->wt, w->interface, &loc);
    LOG_INFO("worker: network: %s is on %s, %s%s", bind_addr, w->interface,
             loc.level == WORKER_NEAR_UNKNOWN ? "which hwloc does not know" : "attached to ",
             loc.level == WORKER_NEAR_UNKNOWN ? "" : loc.where);
}

/* Writes "1, 2, 3" (the host's worker ranks, at most 16 named) into buf. */
static void worker_list_ranks(const worker_options *opts, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < opts->n_host_workers && off < len; i++) {
        int n = i < 16
                    ? snprintf(buf + off, len - off, "%s%d", i ? ", " : "", opts->host_workers[i])
                    : snprintf(buf + off, len - off, ", ... (%zu in all)", opts->n_host_workers);
        if (n < 0 || i >= 16)
            break;
        off += (size_t)n;
    }
}

/* Writes the line that says how the host's units are shared and which
 * the rank offers (the share, units of the whole-host view whole). */
static void worker_describe_share(const worker_options *opts, const worker_topology *whole,
                                  int bound, uint32_t index, const uint32_t *share, uint32_t count,
                                  char *buf, size_t len) {
    uint32_t host = worker_topology_units(whole);
    char list[128] = "?", ranks[256];
    worker_topology_units_list(whole, share, count, list, sizeof(list));
    const char *host_name = worker_topology_unit_name(whole, host != 1);
    const char *name = worker_topology_unit_name(whole, count != 1);
    size_t n = opts->n_host_workers;
    if (bound) {
        snprintf(buf, len,
                 "worker: rank %d is bound to fewer PUs than this host's %u %s have: it offers "
                 "%s %s",
                 opts->rank, host, host_name, name, list);
    } else if (n <= 1) {
        snprintf(buf, len, "worker: this host's %u %s are rank %d's alone: it offers %s %s", host,
                 host_name, opts->rank, name, list);
    } else {
        worker_list_ranks(opts, ranks, sizeof(ranks));
        uint32_t sharing = 0; /* ranks on the same unit, more workers than units */
        for (uint32_t j = index % host; n > host && j < n; j += host)
            sharing++;
        char more[128] = "";
        if (sharing > 1)
            snprintf(more, sizeof(more), " (with %u other rank%s: more worker ranks than %s)",
                     sharing - 1, sharing > 2 ? "s" : "", host_name);
        snprintf(buf, len,
                 "worker: this host's %u %s are shared by worker ranks %s: rank %d "
                 "offers %s %s%s",
                 host, host_name, ranks, opts->rank, name, list, more);
    }
}

/* The placement view of the rank's share of its host (*wt, the
 * caller's): the units it is bound to, or its part of the host's units
 * split between the host's worker ranks (opts NULL: every unit).  The
 * share's list goes into share, the log line into line.  Returns 0,
 * EMBER_EINVAL (no unit) or EMBER_ENOMEM. */
static int worker_find_share(const worker_options *opts, const topology *topo, int pus,
                             worker_topology **wt, char *share, size_t sharelen, char *line,
                             size_t linelen) {
    worker_topology *whole;
    int rc = worker_topology_create(topo, pus, &whole);
    if (rc != EMBER_OK)
        return rc;
    uint32_t units = worker_topology_units(whole), count = 0, index = 0;
    uint8_t *bound = calloc(units, 1);
    uint32_t *list = calloc(units, sizeof(*list));
    if (bound == NULL || list == NULL) {
        rc = EMBER_ENOMEM;
        goto out;
    }
    size_t workers = opts != NULL && opts->n_host_workers > 0 ? opts->n_host_workers : 1;
    for (size_t i = 0; workers > 1 && i < workers; i++)
        if (opts->host_workers[i] == opts->rank)
            index = (uint32_t)i;
    int is_bound = opts != NULL && worker_topology_bound_units(whole, bound);
    rc = worker_share_split(units, (uint32_t)workers, index, is_bound ? bound : NULL, list, &count);
    if (rc == EMBER_OK)
        rc = worker_topology_create_share(topo, pus, list, count, wt);
    if (rc == EMBER_OK) {
        worker_topology_units_list(whole, list, count, share, sharelen);
        if (opts != NULL)
            worker_describe_share(opts, whole, is_bound, index, list, count, line, linelen);
    }
out:
    free(bound);
    free(list);
    worker_topology_destroy(whole);
    return rc;
}

/* The placement view of the rank's share of topo (opts NULL: the whole
 * host) and the offer the configuration makes on it: *wt is the
 * caller's; the share's log line goes into line.  Returns 0, or an error
 * with the reason in err. */
static int worker_plan(const config *cfg, const topology *topo, int core_node,
                       const worker_options *opts, worker_topology **wt, worker_resources *offer,
                       char *line, size_t linelen, char *err, size_t errlen) {
    worker_resources_options ro;
    worker_resources_options_from_config(cfg, &ro);
    char share[sizeof(offer->share)] = "";
    int rc =
        worker_find_share(opts, topo, ro.pus_as_vcores, wt, share, sizeof(share), line, linelen);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot place containers on %s: %s", topology_origin(topo),
                 rc == EMBER_ENOMEM ? "out of memory" : "hwloc shows no processing unit");
        return rc;
    }
    /* The host's memory is split as its cores are: evenly between its
     * worker ranks, so that they never promise more than there is. */
    topology_summary hw;
    topology_summarize(topo, &hw);
    size_t workers = opts != NULL && opts->n_host_workers > 1 ? opts->n_host_workers : 1;
    rc = worker_resources_compute(&ro, core_node, worker_topology_units(*wt),
                                  hw.memory_bytes / workers, offer, err, errlen);
    if (rc != EMBER_OK) {
        worker_topology_destroy(*wt);
        *wt = NULL;
        return rc;
    }
    offer->pus = worker_topology_units_are_pus(*wt); /* also when hwloc shows no cores */
    offer->host_units = worker_topology_host_units(*wt);
    snprintf(offer->share, sizeof(offer->share), "%s", share);
    return EMBER_OK;
}

int worker_check_config(const config *cfg, const topology *topo, char *err, size_t errlen) {
    worker_topology *wt;
    worker_resources offer;
    char line[8];
    int rc = worker_plan(cfg, topo, 1, NULL, &wt, &offer, line, sizeof(line), err, errlen);
    worker_topology_destroy(rc == EMBER_OK ? wt : NULL);
    return rc;
}

int worker_create(const worker_options *opts, worker **out, char *err, size_t errlen) {
    worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return EMBER_ENOMEM;
    char share_line[640] = "";
    int rc = worker_plan(opts->cfg, opts->topo, opts->core_node, opts, &w->wt, &w->offer,
                         share_line, sizeof(share_line), err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    LOG_INFO("%s", share_line);
    if (!hwloc_topology_is_thissystem(topology_hwloc(opts->topo))) {
        snprintf(w->unbound_why, sizeof(w->unbound_why),
                 "%s is not this machine: its PUs are not the ones containers run on",
                 topology_origin(opts->topo));
        LOG_INFO("worker: containers are not bound to their cores: %s", w->unbound_why);
    }
    w->usable = w->offer.units - w->offer.reserved_units;
    w->load = calloc(w->offer.units, sizeof(*w->load));
    if (w->load == NULL || worker_find_data_devices(w, opts->data_dirs) != EMBER_OK) {
        snprintf(err, errlen, "out of memory");
        rc = EMBER_ENOMEM;
        goto fail;
    }
    worker_find_interface(w, opts->bind_addr);
    if (opts->loop != NULL && opts->run_dir != NULL &&
        container_table_create(
            opts->loop, opts->run_dir,
            config_get_int(opts->cfg, "yarn.nodemanager.sleep-delay-before-sigkill.ms"),
            opts->containers, &w->containers) != EMBER_OK) {
        snprintf(err, errlen, "out of memory");
        rc = EMBER_ENOMEM;
        goto fail;
    }
    char offer[256];
    worker_resources_describe(&w->offer, worker_topology_unit_name(w->wt, 1), offer, sizeof(offer));
    LOG_INFO("worker: %s offers containers %s", topology_origin(opts->topo), offer);
    *out = w;
    return EMBER_OK;
fail:
    worker_destroy(w);
    return rc;
}

void worker_destroy(worker *w) {
    if (w == NULL)
        return;
    container_table_destroy(w->containers); /* unbooks through w: first */
    worker_topology_destroy(w->wt);
    free(w->load);
    free(w->dirs);
    free(w);
}

const worker_resources *worker_offer(const worker *w) { return &w->offer; }

const char *worker_unbound_why(const worker *w) {
    return w->unbound_why[0] != '\0' ? w->unbound_why : NULL;
}

container_table *worker_containers(worker *w) { return w->containers; }

void worker_fill_resources(const worker *w, ContainerResources *out) {
    worker_resources_to_proto(&w->offer, out);
}

int worker_container_book(worker *w, uint32_t vcores, uint64_t memory_mb,
                          const placement_hint *hint, placement_choice *choice) {
    int rc = worker_resources_claim(&w->offer, vcores, memory_mb);
    if (rc != EMBER_OK)
        return rc;
    uint32_t want = vcores < w->usable ? vcores : w->usable;
    rc = placement_choose(w->wt, w->load, w->usable, want, hint, choice);
    if (rc != EMBER_OK) {
        worker_resources_release(&w->offer, vcores, memory_mb);
        return rc;
    }
    for (uint32_t i = 0; i < choice->count; i++)
        w->load[choice->units[i]]++;
    return EMBER_OK;
}

int worker_container_unbook(worker *w, uint32_t vcores, uint64_t memory_mb,
                            const placement_choice *choice) {
    for (uint32_t i = 0; i < choice->count; i++)
        if (choice->units[i] >= w->offer.units || w->load[choice->units[i]] == 0)
            return EMBER_EINVAL;
    int rc = worker_resources_release(&w->offer, vcores, memory_mb);
    if (rc != EMBER_OK)
        return rc;
    for (uint32_t i = 0; i < choice->count; i++)
        w->load[choice->units[i]]--;
    return EMBER_OK;
}

void worker_storage_hint(const worker *w, const char *dir, const char *subject,
                         placement_hint *out) {
    *out = (placement_hint){.kind = PLACEMENT_HINT_STORAGE,
                            .subject = subject,
                            .note = "not one of this node's data directories"};
    for (size_t i = 0; i < w->ndirs; i++) {
        if (strcmp(w->dirs[i].path, dir) == 0) {
            out->device = w->dirs[i].device;
            out->note = w->dirs[i].note;
            return;
        }
    }
}

void worker_network_hint(const worker *w, const char *subject, placement_hint *out) {
    *out = (placement_hint){.kind = PLACEMENT_HINT_NETWORK,
                            .subject = subject,
                            .device = w->interface,
                            .note = w->interface_note};
}
