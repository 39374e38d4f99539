/* combine_table.h -- the map side's combining hash table, for jobs with a
 * combiner (Phoenix++'s and Spark's map-side combine; Hadoop only
 * combines a sorted spill).
 *
 * Every (partition, key) the map emits gets one 16-byte slot in an
 * open-addressing table (linear probing): the key's hash, its first 8
 * bytes (big-endian, the sort buffer's prefix) and the arena offset of
 * its record:
 *     [u32 key_len][u32 partition][u32 count][u32 cap][u32 used]
 *     [key, padded to 4][values: [varint len][bytes]..., cap bytes]
 * The prefix and hash come from word loads of the key (combine_key_init());
 * a lookup compares hash and prefix in the slot, then length, partition
 * and the bytes past the prefix 8 at a time in the record.  The arena is
 * asked for 2 MiB pages.  A value is appended to its key's record.  A full record either moves
 * to the arena's end with twice the room (the old copy is garbage until
 * the table is reset), or, when the caller asks for it, is handed back
 * for the combiner to shrink in place (combine_table_key_stream(),
 * combine_table_key_clear()): a key's values then stay in one small
 * record that is hot in the cache.  No malloc per key or per value: one
 * arena, one slot array.  What the collector does when the table is full
 * (run the combiner over it and rebuild it from the output, grow the
 * limit, or spill) is map_output.c's policy; this file only stores, sorts
 * and streams.
 *
 * With sum_u64 set, a key's 8-byte values are summed in its record as
 * they come (see combine_table), so its record never grows.
 *
 * After combine_table_sort() the slots are ordered by (partition, key)
 * and combine_table_stream() reads a partition as a kv_stream, a key's
 * values in the order they came; nothing may be added until
 * combine_table_reset(). */
#ifndef EMBER_MR_COMBINE_TABLE_H
#define EMBER_MR_COMBINE_TABLE_H

#include <string.h>

#include "kv.h"

typedef struct {
    uint32_t hash;
    uint32_t rec;    /* arena offset of the key's record; 0: a free slot */
    uint64_t prefix; /* first 8 key bytes, big-endian, zero-padded */
} combine_slot;

typedef struct {
    combine_slot *slots;
    size_t cap, n; /* slots (a power of two), keys held */
    uint8_t *arena;
    size_t used;   /* arena bytes in use (offset 0 is never a record) */
    size_t limit;  /* arena + slot bytes allowed now (grows to budget) */
    size_t budget; /* mapreduce.task.io.sort.mb */
    uint64_t values;
    ember_compare_fn cmp; /* the sort order; NULL: bytes */
    int sorted;
    size_t full; /* the slot combine_table_add() answered 1 for */
    /* Value room a new key's record gets (at least its first value's):
     * 0 for the map's pairs; raised while a compaction's output goes back
     * in, so that those keys do not regrow (and make garbage) again. */
    size_t first_room;
    /* Set by the caller for a combiner that sums 8-byte counts
     * (ember_sum_u64): an 8-byte value for a key whose record holds one
     * 8-byte value is added into it rather than appended; summed counts
     * those pairs (Combine input records the combiner never saw). */
    int sum_u64;
    uint64_t summed;
} combine_table;

typedef struct {
    kv_stream base;
    const combine_table *t;
    size_t at, end;             /* slots of the partition */
    const uint8_t *key, *value; /* the current slot's key, its next value */
    size_t key_len, left;       /* values left */
} combine_table_reader;

/* budget must be under 4 GiB (offsets are 32-bit); the table starts with
 * a small limit (cache-sized) and grows it only when asked. */
int combine_table_init(combine_table *t, size_t budget, ember_compare_fn cmp);
void combine_table_free(combine_table *t);

/* A key as the table looks it up: its bytes, partition, hash and first 8
 * bytes (big-endian, zero-padded), worked out once by combine_key_init()
 * from word loads.  The bytes must stay put until the key is added. */
typedef struct {
    const uint8_t *bytes;
    size_t len;
    uint32_t partition, hash;
    uint64_t prefix;
} combine_key;

void combine_key_init(combine_key *k, const void *key, size_t len, uint32_t partition);

/* memcpy, inline for the few bytes most keys and values are (loads of the
 * source's own bytes, all before any store). */
static inline void combine_copy(uint8_t *to, const void *from, size_t n) {
    const uint8_t *f = from;
    if (n >= 8 && n <= 16) { /* two words, overlapping for lengths between */
        uint64_t a, b;
        memcpy(&a, f, 8);
        memcpy(&b, f + n - 8, 8);
        memcpy(to, &a, 8);
        memcpy(to + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, f, 4);
        memcpy(&b, f + n - 4, 4);
        memcpy(to, &a, 4);
        memcpy(to + n - 4, &b, 4);
    } else if (n > 16) {
        memcpy(to, f, n);
    } else if (n > 0) {
        uint8_t x = f[0], y = f[n / 2], z = f[n - 1];
        to[0] = x, to[n / 2] = y, to[n - 1] = z;
    }
}

/* Adds a value under the key, copying both.  EMBER_EAGAIN when that
 * would pass the limit (nothing changed): the caller frees room or raises
 * the limit and adds again.  With combine_at > 0, a record that is full,
 * holds at least combine_at values and has room for a few more (64
 * bytes) is not moved: the answer is 1 with t->full its slot, for the
 * caller to combine it.  A new key's record has room for its first value
 * only, so a key seen once costs no more than it must. */
int combine_table_add_key(combine_table *t, const combine_key *k, const void *value,
                          size_t value_len, uint32_t combine_at);

/* The same from the key's bytes. */
int combine_table_add(combine_table *t, uint32_t partition, const void *key, size_t key_len,
                      const void *value, size_t value_len, uint32_t combine_at);

/* Asks the cache for the key's slot (record 0) or, once that is in, for
 * its record (record 1): a caller that stages pairs has their cache
 * misses while it does other work, before it adds them. */
void combine_table_prefetch(const combine_table *t, const combine_key *k, int record);

/* Appends a value to slot s's record (a key found before: a key combined
 * on its own gets its output back without a lookup); as
 * combine_table_add_key() answers. */
int combine_table_append(combine_table *t, size_t s, const void *value, size_t value_len,
                         uint32_t combine_at);

/* Whether slot s holds key. */
int combine_table_key_is(const combine_table *t, size_t s, const void *key, size_t key_len,
                         uint32_t partition);

/* Slot s's key. */
void combine_table_key_bytes(const combine_table *t, size_t s, const void **key, size_t *len);

/* The values of slot s (after an answer of 1) as a stream of one group,
 * and its partition. */
void combine_table_key_stream(const combine_table *t, size_t s, combine_table_reader *r);
uint32_t combine_table_key_partition(const combine_table *t, size_t s);

/* Drops slot s's values (its key and record's room stay); the bytes they
 * took. */
size_t combine_table_key_clear(combine_table *t, size_t s);

/* Whether the pair fits an empty table at the full budget; one that does
 * not never will. */
int combine_table_fits_empty(const combine_table *t, size_t key_len, size_t value_len);

/* Doubles the limit, up to the budget; 0 when it was there already. */
int combine_table_grow_limit(combine_table *t);

/* Arena and slot bytes in use. */
size_t combine_table_bytes(const combine_table *t);

/* Orders the keys by (partition, key) for streaming. */
void combine_table_sort(combine_table *t);

/* Orders the keys by partition only (a counting sort, no key compares):
 * enough to stream each partition's groups to a combiner. */
void combine_table_group(combine_table *t);

/* After sort or group: partition p's records, keys in order, as a stream. */
void combine_table_stream(const combine_table *t, uint32_t p, combine_table_reader *r);

/* Empties the table (the limit stays). */
void combine_table_reset(combine_table *t);

#endif
