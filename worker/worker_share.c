/* worker_share.c -- a worker rank's share of its host's units (see
 * worker_share.h).  Pure arithmetic: no hwloc, no MPI. */
#include "worker_share.h"
#include "common/error.h"

int worker_share_split(uint32_t units, uint32_t workers, uint32_t index, const uint8_t *bound,
                       uint32_t *share, uint32_t *count) {
    if (units == 0 || workers == 0 || index >= workers)
        return EMBER_EINVAL;
    uint32_t n = 0;
    for (uint32_t u = 0; bound != NULL && u < units; u++)
        if (bound[u])
            share[n++] = u;
    if (n == 0 && workers > units) {
        share[n++] = index % units;
    } else if (n == 0) {
        uint32_t first = (uint32_t)((uint64_t)index * units / workers);
        uint32_t end = (uint32_t)(((uint64_t)index + 1) * units / workers);
        for (uint32_t u = first; u < end; u++)
            share[n++] = u;
    }
    *count = n;
    return EMBER_OK;
}
