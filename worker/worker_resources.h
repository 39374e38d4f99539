/* worker_resources.h -- what a node offers task containers, and what is
 * taken.
 *
 * Offered: vcores, by default the rank's placement units (its share of
 * the host's cores, or PUs with
 * yarn.nodemanager.resource.count-logical-processors-as-cores) minus
 * the ones reserved for the rank itself (ember.worker.reserved-cores: by
 * default 1 on a core node, whose loop also serves the datanode, and 0 on
 * a task node; never all of them), and memory, by default the rank's share
 * of the machine's (divided evenly between the host's worker ranks)
 * minus yarn.nodemanager.resource.system-reserved-memory-mb (by default
 * 20% of it, as Hadoop reserves when it detects the hardware).
 * yarn.nodemanager.resource.cpu-vcores and yarn.nodemanager.resource.memory-mb
 * replace either figure.  Taken: the vcores and memory of the containers
 * running, and their count, changed only by worker_resources_claim() and
 * worker_resources_release().  Invariants: vcores_used <= vcores,
 * memory_used_mb <= memory_mb, and containers is 0 exactly when
 * vcores_used is (every container has at least one vcore). */
#ifndef EMBER_WORKER_RESOURCES_H
#define EMBER_WORKER_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/config.h"

/* The keys, read by worker_resources_options_from_config(); -1 = from
 * the hardware. */
typedef struct {
    int64_t cpu_vcores;         /* yarn.nodemanager.resource.cpu-vcores */
    int64_t memory_mb;          /* yarn.nodemanager.resource.memory-mb */
    int64_t reserved_memory_mb; /* yarn.nodemanager.resource.system-reserved-memory-mb */
    int64_t reserved_cores;     /* ember.worker.reserved-cores */
    int pus_as_vcores;          /* ...count-logical-processors-as-cores */
} worker_resources_options;

typedef struct {
    uint32_t units;          /* cores (or PUs) of the rank's share of its host */
    uint32_t reserved_units; /* of which kept for the rank: the highest-numbered ones */
    uint32_t host_units;     /* the host's (0: not known, from an older rank) */
    char share[128];         /* the share's logical indices on the host: "2-3" */
    uint32_t vcores;         /* offered */
    uint64_t physical_mb;    /* the rank's share of the machine's memory */
    uint64_t reserved_mb;    /* kept from containers (0 when memory-mb is set) */
    uint64_t memory_mb;      /* offered */
    uint32_t vcores_used;
    uint64_t memory_used_mb;
    uint32_t containers; /* running now */
    int pus;             /* the units are PUs (hardware threads), not cores */
} worker_resources;

void worker_resources_options_from_config(const config *cfg, worker_resources_options *out);

/* Computes what a node of `units` placement units (the rank's share of
 * its host) and memory_bytes of memory offers, for a core node
 * (core_node 1) or a task node; host_units and share are left for the
 * caller.  Returns
 * 0, or EMBER_EINVAL with a one-line reason in err when the reserve
 * leaves no memory for containers. */
int worker_resources_compute(const worker_resources_options *opts, int core_node, uint32_t units,
                             uint64_t memory_bytes, worker_resources *out, char *err,
                             size_t errlen);

/* Takes vcores and memory_mb for one container.  EMBER_EAGAIN when they
 * do not fit in what is left (nothing changes), EMBER_EINVAL for a
 * container of no vcores. */
int worker_resources_claim(worker_resources *r, uint32_t vcores, uint64_t memory_mb);

/* Gives back what one worker_resources_claim() took.  EMBER_EINVAL (and
 * nothing changes) when more is given back than is taken. */
int worker_resources_release(worker_resources *r, uint32_t vcores, uint64_t memory_mb);

/* The record as the proto message that carries it in RegisterNode,
 * Heartbeat and NodeReport (*out is the caller's), and back: the
 * primary's node registry keeps each node's last report this way. */
void worker_resources_to_proto(const worker_resources *r, ContainerResources *out);
void worker_resources_from_proto(const ContainerResources *m, worker_resources *out);

/* One line for the log: "15 vcores (16 cores, 1 reserved for this rank),
 * 13107 MB (of 16384 MB, 3277 MB reserved)"; the units are the share's. */
void worker_resources_describe(const worker_resources *r, const char *unit_plural, char *buf,
                               size_t len);

/* Where a report's units are (m as NodeReport carries it): "cores 2-3
 * of the host's 8" (or "core 1 of the host's 2"); "" when the host's
 * units are not known (a rank of an older version). */
void worker_resources_share_text(const ContainerResources *m, char *buf, size_t len);

#endif
