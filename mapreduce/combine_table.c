/* combine_table.c -- see combine_table.h.
 *
 * Invariants: cap is a power of two and n <= 3 cap / 4 (probes stay short);
 * a slot with rec != 0 holds a key whose record lies in arena[rec, used);
 * used + cap * sizeof(combine_slot) <= limit <= budget, except for the
 * one record add() is refused for. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "combine_table.h"
#include "common/error.h"

#define CT_FIRST_SLOTS 1024u
#define CT_FIRST_LIMIT (2u << 20) /* about a core's share of the cache */
#define CT_RECORD_HEAD 20u        /* key_len, partition, count, cap, used */
#define CT_VALUE_HEAD_MAX 5u      /* a value's length: a varint of 1 to 5 bytes */
#define CT_ARENA_START 4u         /* offset 0 marks a free slot */
#define CT_READ_AHEAD 8u          /* records prefetched ahead of a stream */
#define CT_HUGE_PAGE (2u << 20)
#define CT_COMBINE_ROOM 64u /* a record is combined, not grown, from this room */

static size_t ct_align4(size_t n) { return (n + 3) & ~(size_t)3; }

/* A value's length as a varint (7 bits a byte, low first): one byte for
 * the short values maps emit most, so more of them fit a record. */
static size_t ct_varint_size(size_t n) {
    if (n < 1u << 7)
        return 1;
    return 2 + (n >= 1u << 14) + (n >= 1u << 21) + (n >= 1u << 28);
}

static uint8_t *ct_put_varint(uint8_t *p, uint32_t n) {
    while (n >= 0x80) {
        *p++ = (uint8_t)(n | 0x80);
        n >>= 7;
    }
    *p++ = (uint8_t)n;
    return p;
}

static const uint8_t *ct_get_varint(const uint8_t *p, uint32_t *n) {
    uint32_t v = *p & 0x7f;
    for (int shift = 7; *p++ & 0x80; shift += 7)
        v |= (uint32_t)(*p & 0x7f) << shift;
    *n = v;
    return p;
}

static uint64_t ct_load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t ct_load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CT_BE64(v) __builtin_bswap64(v)
#define CT_BE32(v) __builtin_bswap32(v)
#else
#define CT_BE64(v) (v)
#define CT_BE32(v) (v)
#endif

/* The first 8 bytes of key, big-endian, zero-padded: loads of the key's
 * own bytes only (two overlapping ones for 4 to 7 bytes). */
static uint64_t ct_prefix(const uint8_t *p, size_t n) {
    if (n >= 8)
        return CT_BE64(ct_load64(p));
    if (n >= 4)
        return (uint64_t)CT_BE32(ct_load32(p)) << 32 | (uint64_t)CT_BE32(ct_load32(p + n - 4))
                                                           << (64 - 8 * n);
    if (n == 0)
        return 0;
    return (uint64_t)p[0] << 56 | (uint64_t)p[n / 2] << (56 - 8 * (n / 2)) |
           (uint64_t)p[n - 1] << (56 - 8 * (n - 1));
}

/* MurmurHash3's 64-bit finalizer: every bit of h reaches every bit. */
static uint64_t ct_mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* A hash of the prefix, the rest of the key in 8-byte words (the last
 * one overlapping the one before), the length and the partition, mixed
 * by ct_mix(): keys are short (words, ids), so a word at a time. */
static uint32_t ct_hash(uint64_t prefix, const uint8_t *p, size_t n, uint32_t partition) {
    uint64_t h = prefix ^ (n * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)partition << 32);
    if (n > 8) {
        size_t i = 8;
        for (; i + 8 < n; i += 8) {
            h = (h ^ ct_load64(p + i)) * 0xff51afd7ed558ccdull;
            h ^= h >> 29;
        }
        h = (h ^ ct_load64(p + n - 8)) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
    }
    h = ct_mix(h);
    return (uint32_t)h ^ (uint32_t)(h >> 32);
}

/* Whether keys a and b of n > 8 bytes, whose first 8 are equal, are: 8
 * bytes at a time, the last word overlapping the one before. */
static int ct_equal_tail(const uint8_t *a, const uint8_t *b, size_t n) {
    size_t i = 8;
    for (; i + 8 < n; i += 8)
        if (ct_load64(a + i) != ct_load64(b + i))
            return 0;
    return ct_load64(a + n - 8) == ct_load64(b + n - 8);
}

void combine_key_init(combine_key *k, const void *key, size_t len, uint32_t partition) {
    k->bytes = key;
    k->len = len;
    k->partition = partition;
    k->prefix = ct_prefix(key, len);
    k->hash = ct_hash(k->prefix, key, len, partition);
}

/* Memory for the arena or a large slot array, in 2 MiB pages where the
 * kernel has them (transparent huge pages on madvise): the table is
 * reached at random, and 4 KiB pages made every few lookups a TLB miss. */
static void *ct_alloc_pages(size_t n) {
    void *p = NULL;
    if (n < CT_HUGE_PAGE)
        return malloc(n);
    if (posix_memalign(&p, CT_HUGE_PAGE, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE); /* advice: without it, small pages */
#endif
    return p;
}

int combine_table_init(combine_table *t, size_t budget, ember_compare_fn cmp) {
    memset(t, 0, sizeof(*t));
    size_t first_slots = CT_FIRST_SLOTS * sizeof(combine_slot);
    if (budget > UINT32_MAX || budget < 2 * first_slots)
        return EMBER_EINVAL;
    /* The arena is the whole budget, but only the pages used are touched. */
    t->arena = ct_alloc_pages(budget);
    t->slots = calloc(CT_FIRST_SLOTS, sizeof(combine_slot));
    if (t->arena == NULL || t->slots == NULL) {
        combine_table_free(t);
        return EMBER_ENOMEM;
    }
    t->cap = CT_FIRST_SLOTS;
    t->used = CT_ARENA_START;
    t->budget = budget;
    t->limit = budget < CT_FIRST_LIMIT ? budget : CT_FIRST_LIMIT;
    t->cmp = cmp;
    return EMBER_OK;
}

void combine_table_free(combine_table *t) {
    free(t->arena);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

void combine_table_reset(combine_table *t) {
    memset(t->slots, 0, t->cap * sizeof(combine_slot));
    t->n = 0;
    t->used = CT_ARENA_START;
    t->values = 0;
    t->summed = 0;
    t->sorted = 0;
}

size_t combine_table_bytes(const combine_table *t) {
    return t->used + t->cap * sizeof(combine_slot);
}

int combine_table_grow_limit(combine_table *t) {
    if (t->limit >= t->budget)
        return 0;
    t->limit = t->limit > t->budget / 2 ? t->budget : 2 * t->limit;
    return 1;
}

/* A record's header fields (see the .h). */
enum { CT_KEY_LEN, CT_PARTITION, CT_COUNT, CT_CAP, CT_USED };

static uint32_t ct_get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void ct_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static uint32_t ct_field(const combine_table *t, uint32_t rec, int f) {
    return ct_get32(t->arena + rec + 4 * f);
}

static const uint8_t *ct_key(const combine_table *t, uint32_t rec) {
    return t->arena + rec + CT_RECORD_HEAD;
}

static size_t ct_values_offset(size_t key_len) { return CT_RECORD_HEAD + ct_align4(key_len); }

/* Records start 4-aligned: their values' room is rounded up. */
static size_t ct_record_size(size_t key_len, size_t values_cap) {
    return ct_values_offset(key_len) + ct_align4(values_cap);
}

int combine_table_fits_empty(const combine_table *t, size_t key_len, size_t value_len) {
    if (key_len > UINT32_MAX / 4 || value_len > UINT32_MAX / 4)
        return 0;
    size_t need = CT_ARENA_START + ct_record_size(key_len, CT_VALUE_HEAD_MAX + value_len);
    return need + t->cap * sizeof(combine_slot) <= t->budget;
}

/* Doubles the slot array and reinserts every key; EMBER_EAGAIN past the
 * limit. */
static int ct_grow_slots(combine_table *t) {
    size_t ncap = 2 * t->cap;
    if (t->used + ncap * sizeof(combine_slot) > t->limit)
        return EMBER_EAGAIN;
    combine_slot *s = calloc(ncap, sizeof(*s));
    if (s == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].rec == 0)
            continue;
        size_t j = t->slots[i].hash & (ncap - 1);
        while (s[j].rec != 0)
            j = (j + 1) & (ncap - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->cap = ncap;
    return EMBER_OK;
}

/* Writes a new record for key with room for values_cap value bytes, the
 * values of old (a record, or 0) copied in. */
static uint32_t ct_new_record(combine_table *t, uint32_t partition, const void *key, size_t key_len,
                              size_t values_cap, uint32_t old) {
    uint32_t rec = (uint32_t)t->used;
    uint8_t *r = t->arena + rec;
    uint32_t count = old ? ct_field(t, old, CT_COUNT) : 0,
             used = old ? ct_field(t, old, CT_USED) : 0;
    uint32_t head[5] = {(uint32_t)key_len, partition, count, (uint32_t)ct_align4(values_cap), used};
    memcpy(r, head, sizeof(head));
    combine_copy(r + CT_RECORD_HEAD, key, key_len); /* from the stage or an older record */
    if (used > 0)
        memcpy(r + ct_values_offset(key_len), t->arena + old + ct_values_offset(key_len), used);
    t->used += ct_record_size(key_len, values_cap);
    return rec;
}

int combine_table_append(combine_table *t, size_t s, const void *value, size_t value_len,
                         uint32_t combine_at) {
    if (t->sorted || value_len > UINT32_MAX / 4)
        return EMBER_ESTATE;
    uint32_t rec = t->slots[s].rec;
    uint8_t *r = t->arena + rec;
    uint32_t head[5];
    memcpy(head, r, sizeof(head));
    size_t need = ct_varint_size(value_len) + value_len, voff = ct_values_offset(head[CT_KEY_LEN]);
    if (t->sum_u64 && value_len == 8 && head[CT_COUNT] == 1 && head[CT_USED] == 1 + 8) {
        uint8_t *at = r + voff + 1; /* the one value, past its length (8) */
        uint64_t sum, add;
        memcpy(&sum, at, 8);
        memcpy(&add, value, 8);
        sum += add;
        memcpy(at, &sum, 8);
        t->summed++;
        return EMBER_OK;
    }
    if (head[CT_USED] + need > head[CT_CAP]) {
        if (combine_at > 0 && head[CT_COUNT] >= combine_at && head[CT_CAP] >= CT_COMBINE_ROOM) {
            t->full = s;
            return 1;
        }
        size_t ncap = 2 * (size_t)head[CT_CAP];
        if (ncap < head[CT_USED] + need)
            ncap = head[CT_USED] + need;
        if (t->used + ct_record_size(head[CT_KEY_LEN], ncap) + t->cap * sizeof(combine_slot) >
            t->limit)
            return EMBER_EAGAIN;
        rec = t->slots[s].rec =
            ct_new_record(t, head[CT_PARTITION], r + CT_RECORD_HEAD, head[CT_KEY_LEN], ncap, rec);
        r = t->arena + rec;
    }
    combine_copy(ct_put_varint(r + voff + head[CT_USED], (uint32_t)value_len), value, value_len);
    ct_put32(r + 4 * CT_COUNT, head[CT_COUNT] + 1);
    ct_put32(r + 4 * CT_USED, head[CT_USED] + (uint32_t)need);
    t->values++;
    return EMBER_OK;
}

void combine_table_prefetch(const combine_table *t, const combine_key *k, int record) {
    const combine_slot *s = &t->slots[k->hash & (t->cap - 1)];
    if (!record)
        __builtin_prefetch(s);
    else if (s->rec != 0) { /* its head and (mostly) its values' end */
        __builtin_prefetch(t->arena + s->rec);
        __builtin_prefetch(t->arena + s->rec + 64);
    }
}

/* Whether the key of the record at r is k (whose prefix its slot has). */
static int ct_record_is(const uint8_t *r, const combine_key *k) {
    return ct_get32(r) == k->len && ct_get32(r + 4 * CT_PARTITION) == k->partition &&
           (k->len <= 8 || ct_equal_tail(r + CT_RECORD_HEAD, k->bytes, k->len));
}

int combine_table_add(combine_table *t, uint32_t partition, const void *key, size_t key_len,
                      const void *value, size_t value_len, uint32_t combine_at) {
    combine_key k;
    combine_key_init(&k, key, key_len, partition);
    return combine_table_add_key(t, &k, value, value_len, combine_at);
}

int combine_table_add_key(combine_table *t, const combine_key *k, const void *value,
                          size_t value_len, uint32_t combine_at) {
    if (t->sorted || k->len > UINT32_MAX / 4 || value_len > UINT32_MAX / 4)
        return EMBER_ESTATE;
    size_t mask = t->cap - 1, i = k->hash & mask;
    for (; t->slots[i].rec != 0; i = (i + 1) & mask) {
        const combine_slot *s = &t->slots[i];
        if (s->hash == k->hash && s->prefix == k->prefix && ct_record_is(t->arena + s->rec, k))
            return combine_table_append(t, i, value, value_len, combine_at);
    }
    /* A new key: room for its record, and for the slots it may need. */
    if (4 * (t->n + 1) > 3 * t->cap) {
        int rc = ct_grow_slots(t);
        if (rc != EMBER_OK)
            return rc;
        mask = t->cap - 1;
        for (i = k->hash & mask; t->slots[i].rec != 0; i = (i + 1) & mask)
            ;
    }
    size_t vcap = ct_varint_size(value_len) + value_len;
    vcap = vcap < t->first_room ? t->first_room : vcap;
    if (t->used + ct_record_size(k->len, vcap) + t->cap * sizeof(combine_slot) > t->limit)
        return EMBER_EAGAIN;
    t->slots[i] = (combine_slot){.prefix = k->prefix,
                                 .hash = k->hash,
                                 .rec = ct_new_record(t, k->partition, k->bytes, k->len, vcap, 0)};
    t->n++;
    return combine_table_append(t, i, value, value_len, 0);
}

int combine_table_key_is(const combine_table *t, size_t s, const void *key, size_t key_len,
                         uint32_t partition) {
    const uint8_t *r = t->arena + t->slots[s].rec;
    return ct_get32(r) == key_len && ct_get32(r + 4 * CT_PARTITION) == partition &&
           (key_len == 0 || memcmp(r + CT_RECORD_HEAD, key, key_len) == 0);
}

void combine_table_key_bytes(const combine_table *t, size_t s, const void **key, size_t *len) {
    uint32_t rec = t->slots[s].rec;
    *key = ct_key(t, rec);
    *len = ct_field(t, rec, CT_KEY_LEN);
}

uint32_t combine_table_key_partition(const combine_table *t, size_t s) {
    return ct_field(t, t->slots[s].rec, CT_PARTITION);
}

size_t combine_table_key_clear(combine_table *t, size_t s) {
    uint8_t *r = t->arena + t->slots[s].rec;
    size_t used = ct_get32(r + 4 * CT_USED);
    t->values -= ct_get32(r + 4 * CT_COUNT);
    ct_put32(r + 4 * CT_COUNT, 0);
    ct_put32(r + 4 * CT_USED, 0);
    return used;
}

/* The order within a partition: (default order) the prefix, then the key;
 * the record is read only when the prefixes tie. */
static int ct_compare_key(const void *a, const void *b, void *arg) {
    const combine_table *t = arg;
    const combine_slot *x = a, *y = b;
    if (t->cmp == NULL && x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    size_t xl = ct_field(t, x->rec, CT_KEY_LEN), yl = ct_field(t, y->rec, CT_KEY_LEN);
    if (t->cmp != NULL)
        return t->cmp(ct_key(t, x->rec), xl, ct_key(t, y->rec), yl);
    return kv_compare_bytes(ct_key(t, x->rec), xl, ct_key(t, y->rec), yl);
}

/* The order: partition, then the key. */
static int ct_compare(const void *a, const void *b, void *arg) {
    const combine_table *t = arg;
    const combine_slot *x = a, *y = b;
    uint32_t xp = ct_field(t, x->rec, CT_PARTITION), yp = ct_field(t, y->rec, CT_PARTITION);
    if (xp != yp)
        return xp < yp ? -1 : 1;
    return ct_compare_key(a, b, arg);
}

/* After a grouping: the first slot of partition p or later. */
static size_t ct_first_of(const combine_table *t, uint32_t p) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ct_field(t, t->slots[mid].rec, CT_PARTITION) < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Moves the keys to the front of the slot array; how many. */
static size_t ct_pack(combine_table *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].rec != 0)
            t->slots[n++] = t->slots[i];
    memset(t->slots + n, 0, (t->cap - n) * sizeof(combine_slot));
    t->sorted = 1;
    return n;
}

/* Grouped by partition first (each record read once), then each
 * partition sorted by key: a compare then reads records only on a prefix
 * tie, where one on (partition, key) read two for every compare. */
void combine_table_sort(combine_table *t) {
    combine_table_group(t);
    for (size_t lo = 0, hi; lo < t->n; lo = hi) {
        hi = ct_first_of(t, ct_field(t, t->slots[lo].rec, CT_PARTITION) + 1);
        qsort_r(t->slots + lo, hi - lo, sizeof(combine_slot), ct_compare_key, t);
    }
}

void combine_table_group(combine_table *t) {
    size_t n = ct_pack(t);
    uint32_t parts = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t p = ct_field(t, t->slots[i].rec, CT_PARTITION);
        parts = p >= parts ? p + 1 : parts;
    }
    if (parts <= 1)
        return;
    /* A counting sort on the partition. */
    size_t *start = calloc((size_t)parts + 1, sizeof(*start));
    combine_slot *out = malloc(n * sizeof(*out));
    if (start == NULL || out == NULL) { /* no memory for it: sort instead */
        free(start);
        free(out);
        qsort_r(t->slots, n, sizeof(combine_slot), ct_compare, t);
        return;
    }
    for (size_t i = 0; i < n; i++)
        start[ct_field(t, t->slots[i].rec, CT_PARTITION) + 1]++;
    for (uint32_t p = 0; p < parts; p++)
        start[p + 1] += start[p];
    for (size_t i = 0; i < n; i++)
        out[start[ct_field(t, t->slots[i].rec, CT_PARTITION)]++] = t->slots[i];
    memcpy(t->slots, out, n * sizeof(combine_slot));
    free(start);
    free(out);
}

static int ct_reader_next(kv_stream *s, kv_record *out) {
    combine_table_reader *r = (combine_table_reader *)s;
    while (r->left == 0) { /* the next record: its key and values */
        const combine_table *t = r->t;
        if (r->at == r->end)
            return 0;
        if (r->at + CT_READ_AHEAD < r->end) /* records lie in slot order: ask early */
            __builtin_prefetch(t->arena + t->slots[r->at + CT_READ_AHEAD].rec);
        uint32_t rec = t->slots[r->at++].rec;
        r->key = ct_key(t, rec);
        r->key_len = ct_field(t, rec, CT_KEY_LEN);
        r->value = r->key + ct_align4(r->key_len);
        r->left = ct_field(t, rec, CT_COUNT);
    }
    uint32_t len;
    const uint8_t *v = ct_get_varint(r->value, &len);
    *out = (kv_record){.key = r->key, .key_len = r->key_len, .value = v, .value_len = len};
    r->value = v + len;
    r->left--;
    return 1;
}

void combine_table_stream(const combine_table *t, uint32_t p, combine_table_reader *r) {
    size_t lo = ct_first_of(t, p), end = lo;
    while (end < t->n && ct_field(t, t->slots[end].rec, CT_PARTITION) == p)
        end++;
    *r = (combine_table_reader){.base = {.next = ct_reader_next}, .t = t, .at = lo, .end = end};
}

void combine_table_key_stream(const combine_table *t, size_t s, combine_table_reader *r) {
    *r = (combine_table_reader){.base = {.next = ct_reader_next}, .t = t, .at = s, .end = s + 1};
}
