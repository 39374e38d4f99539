/* ifile_index.h -- the index of a map output (file.out.index): per
 * partition {offset, raw_length, length, records} as four little-endian
 * u64 (Hadoop's IndexRecord: startOffset, rawLength, partLength), then
 * the CRC32C of all of them.  length is the bytes stored; raw_length what
 * they take uncompressed (the same for an uncompressed segment).
 *
 * Its own file, in ember_core, because two sides read it: the map task
 * that writes it (mapreduce/map_output.c) and the worker that serves the
 * shuffle from it (worker/worker_mr_shuffle.c). */
#ifndef EMBER_MR_IFILE_INDEX_H
#define EMBER_MR_IFILE_INDEX_H

#include <stdint.h>

#define IFILE_INDEX_ENTRY 32 /* bytes per partition */

typedef struct {
    uint64_t offset, length, records;
    uint64_t raw_length; /* uncompressed; 0 from a caller means length */
} ifile_range;

/* Writes n ranges and their CRC to path (created or truncated). */
int ifile_index_write(const char *path, const ifile_range *ranges, uint32_t n);

/* Reads n ranges; EMBER_ECORRUPT when the file's size or CRC is wrong,
 * EMBER_ENOENT when there is no such file. */
int ifile_index_read(const char *path, ifile_range *ranges, uint32_t n);

/* The range of one partition of an index whose partition count the
 * caller does not know (the worker serving the shuffle): *partitions
 * gets the count.  EMBER_ENOENT (no file), EMBER_ECORRUPT (not an index:
 * size or CRC), EMBER_EINVAL (no such partition), EMBER_EIO. */
int ifile_index_lookup(const char *path, uint32_t partition, ifile_range *out,
                       uint32_t *partitions);

#endif
