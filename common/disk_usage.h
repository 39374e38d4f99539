/* disk_usage.h -- capacity and use of a node's data directories.
 *
 * A core node reports, for its data directories together: the size of the
 * file systems they live on (configured capacity), the bytes under the
 * directories themselves (used), and the space still free (remaining).  A
 * directory that is missing or unwritable counts as failed. */
#ifndef EMBER_DISK_USAGE_H
#define EMBER_DISK_USAGE_H

#include <stdint.h>

typedef struct {
    uint64_t capacity_bytes;
    uint64_t used_bytes;
    uint64_t remaining_bytes;
    uint32_t dirs;
    uint32_t failed_dirs;
    uint32_t full_dirs; /* healthy, but with less than a block free (block_store_space()) */
} disk_usage;

/* Measures the comma-separated list of directories in dirs into *out.
 * File systems shared by two directories are counted once.  Always
 * succeeds; failures show up in failed_dirs. */
void disk_usage_measure(const char *dirs, disk_usage *out);

#endif
