/* kv.h -- records and record streams, the currency of the map side, the
 * merge and (later) the reduce side.
 *
 * A record is a key and a value, byte strings of any content.  A stream
 * hands out records one by one; the record next() returns stays valid
 * until the following call to next() or close() on that stream, and not
 * after: a consumer that keeps one copies it.  The sort buffer (sorted
 * partitions), an IFile segment reader and a merge of streams are all
 * streams, so one grouping loop (kv_group) serves the combiner at spill,
 * the combiner at merge and the reduce. */
#ifndef EMBER_MR_KV_H
#define EMBER_MR_KV_H

#include <stddef.h>
#include <stdint.h>

#include "ember/mapreduce.h"

typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} kv_record;

typedef struct kv_stream kv_stream;
struct kv_stream {
    /* 1 with *out set, 0 at the end, or a negative EMBER_E* code (a read
     * failed, a segment is corrupt). */
    int (*next)(kv_stream *s, kv_record *out);
};

/* The default order: bytes as unsigned, the shorter first on a tie. */
int kv_compare_bytes(const void *a, size_t a_len, const void *b, size_t b_len);

/* Hadoop's HashPartitioner over Text.hashCode(): h = 31 * h + (signed)
 * byte from 1, then (h & INT_MAX) % partitions. */
uint32_t kv_hash_partition(const void *key, size_t key_len, uint32_t partitions);

#endif
