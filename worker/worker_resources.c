/* worker_resources.c -- a node's offer to task containers (see
 * worker_resources.h).  Pure arithmetic; the worker owns the record. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

#include "common/error.h"
#include "worker_resources.h"

/* Asserts the invariants after every change. */
static void worker_resources_check(const worker_resources *r) {
    assert(r->vcores_used <= r->vcores);
    assert(r->memory_used_mb <= r->memory_mb);
    assert((r->containers == 0) == (r->vcores_used == 0));
    assert(r->containers > 0 || r->memory_used_mb == 0);
    assert(r->reserved_units <= r->units);
    assert(r->host_units == 0 || r->units <= r->host_units);
    (void)r;
}

void worker_resources_options_from_config(const config *cfg, worker_resources_options *out) {
    out->cpu_vcores = config_get_int(cfg, "yarn.nodemanager.resource.cpu-vcores");
    out->memory_mb = config_get_int(cfg, "yarn.nodemanager.resource.memory-mb");
    out->reserved_memory_mb =
        config_get_int(cfg, "yarn.nodemanager.resource.system-reserved-memory-mb");
    out->reserved_cores = config_get_int(cfg, "ember.worker.reserved-cores");
    out->pus_as_vcores =
        (int)config_get_int(cfg, "yarn.nodemanager.resource.count-logical-processors-as-cores");
}

int worker_resources_compute(const worker_resources_options *opts, int core_node, uint32_t units,
                             uint64_t memory_bytes, worker_resources *out, char *err,
                             size_t errlen) {
    worker_resources r = {
        .units = units, .physical_mb = memory_bytes >> 20, .pus = opts->pus_as_vcores};
    /* The rank's own loop (and a core node's datanode) keeps its cores,
     * but a node always keeps one unit for its containers. */
    int64_t reserved = opts->reserved_cores >= 0 ? opts->reserved_cores : (core_node ? 1 : 0);
    r.reserved_units = units == 0 ? 0 : reserved < (int64_t)units ? (uint32_t)reserved : units - 1;
    r.vcores = opts->cpu_vcores >= 0 ? (uint32_t)opts->cpu_vcores : units - r.reserved_units;
    if (opts->memory_mb >= 0) {
        r.memory_mb = (uint64_t)opts->memory_mb;
    } else {
        r.reserved_mb =
            opts->reserved_memory_mb >= 0 ? (uint64_t)opts->reserved_memory_mb : r.physical_mb / 5;
        if (r.reserved_mb >= r.physical_mb) {
            snprintf(err, errlen,
                     "yarn.nodemanager.resource.system-reserved-memory-mb (%" PRIu64
                     " MB) leaves nothing of this node's %" PRIu64 " MB for containers",
                     r.reserved_mb, r.physical_mb);
            return EMBER_EINVAL;
        }
        r.memory_mb = r.physical_mb - r.reserved_mb;
    }
    worker_resources_check(&r);
    *out = r;
    return EMBER_OK;
}

int worker_resources_claim(worker_resources *r, uint32_t vcores, uint64_t memory_mb) {
    if (vcores == 0)
        return EMBER_EINVAL;
    if (vcores > r->vcores - r->vcores_used || memory_mb > r->memory_mb - r->memory_used_mb)
        return EMBER_EAGAIN;
    r->vcores_used += vcores;
    r->memory_used_mb += memory_mb;
    r->containers++;
    worker_resources_check(r);
    return EMBER_OK;
}

int worker_resources_release(worker_resources *r, uint32_t vcores, uint64_t memory_mb) {
    if (r->containers == 0 || vcores == 0 || vcores > r->vcores_used ||
        memory_mb > r->memory_used_mb ||
        (r->containers == 1 && (vcores != r->vcores_used || memory_mb != r->memory_used_mb)))
        return EMBER_EINVAL;
    r->vcores_used -= vcores;
    r->memory_used_mb -= memory_mb;
    r->containers--;
    worker_resources_check(r);
    return EMBER_OK;
}

void worker_resources_to_proto(const worker_resources *r, ContainerResources *out) {
    *out = (ContainerResources)CONTAINER_RESOURCES__INIT;
    out->vcores = r->vcores;
    out->memory_mb = r->memory_mb;
    out->vcores_used = r->vcores_used;
    out->memory_used_mb = r->memory_used_mb;
    out->containers = r->containers;
    out->units = r->units;
    out->reserved_units = r->reserved_units;
    out->pus_as_vcores = r->pus;
    out->physical_mb = r->physical_mb;
    out->reserved_mb = r->reserved_mb;
    out->host_units = r->host_units;
    out->share = (char *)r->share; /* only read by the packer */
}

void worker_resources_from_proto(const ContainerResources *m, worker_resources *out) {
    *out = (worker_resources){.units = m->units,
                              .reserved_units = m->reserved_units,
                              .vcores = m->vcores,
                              .physical_mb = m->physical_mb,
                              .reserved_mb = m->reserved_mb,
                              .memory_mb = m->memory_mb,
                              .vcores_used = m->vcores_used,
                              .memory_used_mb = m->memory_used_mb,
                              .containers = m->containers,
                              .pus = m->pus_as_vcores,
                              .host_units = m->host_units};
    snprintf(out->share, sizeof(out->share), "%s", m->share != NULL ? m->share : "");
}

void worker_resources_describe(const worker_resources *r, const char *unit_plural, char *buf,
                               size_t len) {
    char memory[128];
    if (r->reserved_mb > 0 || r->memory_mb <= r->physical_mb)
        snprintf(memory, sizeof(memory),
                 "%" PRIu64 " MB (of %" PRIu64 " MB, %" PRIu64 " MB reserved)", r->memory_mb,
                 r->physical_mb, r->reserved_mb);
    else
        snprintf(memory, sizeof(memory), "%" PRIu64 " MB (more than the %" PRIu64 " MB there is)",
                 r->memory_mb, r->physical_mb);
    snprintf(buf, len, "%u vcores (%u %s, %u reserved for this rank), %s", r->vcores, r->units,
             unit_plural, r->reserved_units, memory);
}

void worker_resources_share_text(const ContainerResources *m, char *buf, size_t len) {
    const char *unit = m->pus_as_vcores ? "PU" : "core";
    if (m->host_units == 0 || m->share == NULL || m->share[0] == '\0')
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "%s%s %s of the host's %u", unit, m->units != 1 ? "s" : "", m->share,
                 m->host_units);
}
