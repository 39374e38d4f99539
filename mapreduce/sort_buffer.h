/* sort_buffer.h -- the map side's sort buffer (Hadoop's kvbuffer).
 *
 * Records are appended to one arena as [u32 key_len][u32 value_len][key]
 * [value], and each gets a 16-byte entry {first 8 key bytes big-endian,
 * partition, arena offset}.  One budget covers arena and entries: the
 * buffer is full when the next record would pass it, and the caller then
 * sorts and spills it.  Sorting is in place (no scratch array, so the
 * budget is the memory): an MSD radix sort (American flag sort) on the 12
 * bytes (partition, key prefix), skipping bytes that do not vary, then a
 * full-key sort of each run that shares them.  With a job's own
 * comparator only the partition is radix-sorted, the rest compared.
 *
 * After sorting, sort_buffer_stream() reads one partition's records in
 * order as a kv_stream; sort_buffer_reset() empties the buffer. */
#ifndef EMBER_MR_SORT_BUFFER_H
#define EMBER_MR_SORT_BUFFER_H

#include "kv.h"

typedef struct {
    uint64_t prefix; /* first 8 key bytes, big-endian, zero-padded */
    uint32_t partition;
    uint32_t offset; /* of the record in the arena */
} sort_entry;

typedef struct {
    uint8_t *mem; /* budget bytes: arena from the front */
    size_t budget;
    size_t used;         /* arena bytes */
    sort_entry *entries; /* grows down from the end of mem */
    size_t n;
    ember_compare_fn cmp; /* NULL: kv_compare_bytes (radix on the prefix) */
} sort_buffer;

/* A partition's sorted records as a stream (see sort_buffer_stream()). */
typedef struct {
    kv_stream base;
    const sort_buffer *sb;
    size_t at, end;
} sort_buffer_reader;

/* The arena header's size: a record of k + v bytes takes
 * SORT_RECORD_OVERHEAD + k + v arena bytes and one entry. */
#define SORT_RECORD_OVERHEAD 8u

/* budget must be under 4 GiB (offsets are 32-bit), cmp as above. */
int sort_buffer_init(sort_buffer *sb, size_t budget, ember_compare_fn cmp);
void sort_buffer_free(sort_buffer *sb);

/* Whether a record of these lengths fits now; one that does not fit an
 * empty buffer never will (sort_buffer_fits_empty()). */
int sort_buffer_fits(const sort_buffer *sb, size_t key_len, size_t value_len);
int sort_buffer_fits_empty(const sort_buffer *sb, size_t key_len, size_t value_len);

/* Appends a record; the caller checked that it fits. */
void sort_buffer_add(sort_buffer *sb, uint32_t partition, const void *key, size_t key_len,
                     const void *value, size_t value_len);

/* Sorts by (partition, key). */
void sort_buffer_sort(sort_buffer *sb);

/* After sort: the sorted records of partition p as a stream. */
void sort_buffer_stream(const sort_buffer *sb, uint32_t p, sort_buffer_reader *r);

void sort_buffer_reset(sort_buffer *sb);

#endif
