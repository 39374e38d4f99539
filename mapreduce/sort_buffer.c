/* sort_buffer.c -- see sort_buffer.h. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "sort_buffer.h"

#define SB_RADIX_DIGITS 12 /* 4 partition bytes, then 8 prefix bytes */
#define SB_SMALL 32        /* runs this short are insertion-sorted */

int kv_compare_bytes(const void *a, size_t a_len, const void *b, size_t b_len) {
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c != 0)
        return c;
    return a_len < b_len ? -1 : a_len > b_len;
}

uint32_t kv_hash_partition(const void *key, size_t key_len, uint32_t partitions) {
    const signed char *p = key;
    uint32_t h = 1; /* Java int arithmetic: wraps */
    size_t i = 0;
    for (; i + 4 <= key_len; i += 4) /* h = 31 h + c four times, the products apart */
        h = 923521u * h + 29791u * (uint32_t)(int32_t)p[i] + 961u * (uint32_t)(int32_t)p[i + 1] +
            31u * (uint32_t)(int32_t)p[i + 2] + (uint32_t)(int32_t)p[i + 3];
    for (; i < key_len; i++)
        h = 31u * h + (uint32_t)(int32_t)p[i];
    return (h & 0x7fffffffu) % partitions;
}

int sort_buffer_init(sort_buffer *sb, size_t budget, ember_compare_fn cmp) {
    memset(sb, 0, sizeof(*sb));
    budget &= ~(size_t)(sizeof(sort_entry) - 1);
    if (budget < 2 * sizeof(sort_entry) || budget > UINT32_MAX)
        return EMBER_EINVAL;
    if ((sb->mem = malloc(budget)) == NULL)
        return EMBER_ENOMEM;
    sb->budget = budget;
    sb->cmp = cmp;
    sb->entries = (sort_entry *)(sb->mem + budget);
    return EMBER_OK;
}

void sort_buffer_free(sort_buffer *sb) {
    free(sb->mem);
    memset(sb, 0, sizeof(*sb));
}

void sort_buffer_reset(sort_buffer *sb) {
    sb->used = 0;
    sb->n = 0;
    sb->entries = (sort_entry *)(sb->mem + sb->budget);
}

static int sb_fits(size_t budget, size_t used, size_t n, size_t key_len, size_t value_len) {
    size_t need = SORT_RECORD_OVERHEAD + sizeof(sort_entry);
    if (key_len > UINT32_MAX || value_len > UINT32_MAX || key_len + value_len > budget)
        return 0;
    return used + n * sizeof(sort_entry) + need + key_len + value_len <= budget;
}

int sort_buffer_fits(const sort_buffer *sb, size_t key_len, size_t value_len) {
    return sb_fits(sb->budget, sb->used, sb->n, key_len, value_len);
}

int sort_buffer_fits_empty(const sort_buffer *sb, size_t key_len, size_t value_len) {
    return sb_fits(sb->budget, 0, 0, key_len, value_len);
}

static uint64_t sb_prefix(const uint8_t *key, size_t len) {
    uint8_t b[8] = {0};
    memcpy(b, key, len < 8 ? len : 8);
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
           (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | b[7];
}

void sort_buffer_add(sort_buffer *sb, uint32_t partition, const void *key, size_t key_len,
                     const void *value, size_t value_len) {
    uint8_t *r = sb->mem + sb->used;
    uint32_t kl = (uint32_t)key_len, vl = (uint32_t)value_len;
    memcpy(r, &kl, 4);
    memcpy(r + 4, &vl, 4);
    memcpy(r + 8, key, key_len);
    memcpy(r + 8 + key_len, value, value_len);
    sort_entry *e = --sb->entries;
    *e = (sort_entry){
        .prefix = sb_prefix(key, key_len), .partition = partition, .offset = (uint32_t)sb->used};
    sb->used += SORT_RECORD_OVERHEAD + key_len + value_len;
    sb->n++;
}

static void sb_record(const sort_buffer *sb, uint32_t offset, kv_record *out) {
    const uint8_t *r = sb->mem + offset;
    uint32_t kl, vl;
    memcpy(&kl, r, 4);
    memcpy(&vl, r + 4, 4);
    *out = (kv_record){.key = r + 8, .key_len = kl, .value = r + 8 + kl, .value_len = vl};
}

/* The full order: partition, then (default order) the prefix, then the
 * key. */
static int sb_compare(const sort_buffer *sb, const sort_entry *x, const sort_entry *y) {
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    if (sb->cmp == NULL && x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    kv_record a, b;
    sb_record(sb, x->offset, &a);
    sb_record(sb, y->offset, &b);
    if (sb->cmp != NULL)
        return sb->cmp(a.key, a.key_len, b.key, b.key_len);
    return kv_compare_bytes(a.key, a.key_len, b.key, b.key_len);
}

static void sb_insertion_sort(const sort_buffer *sb, sort_entry *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        sort_entry e = a[i];
        size_t j = i;
        for (; j > 0 && sb_compare(sb, &e, &a[j - 1]) < 0; j--)
            a[j] = a[j - 1];
        a[j] = e;
    }
}

static void sb_swap(sort_entry *a, sort_entry *b) {
    sort_entry t = *a;
    *a = *b;
    *b = t;
}

/* In-place quicksort (median of three, the smaller side recursed) for
 * runs the radix cannot split: equal prefixes, or a job's comparator. */
static void sb_quicksort(const sort_buffer *sb, sort_entry *a, size_t n) {
    while (n > SB_SMALL) {
        size_t m = n / 2;
        if (sb_compare(sb, &a[m], &a[0]) < 0)
            sb_swap(&a[m], &a[0]);
        if (sb_compare(sb, &a[n - 1], &a[0]) < 0)
            sb_swap(&a[n - 1], &a[0]);
        if (sb_compare(sb, &a[n - 1], &a[m]) < 0)
            sb_swap(&a[n - 1], &a[m]);
        sort_entry pivot = a[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (sb_compare(sb, &a[i], &pivot) < 0)
                i++;
            while (sb_compare(sb, &pivot, &a[j]) < 0)
                j--;
            if (i >= j)
                break;
            sb_swap(&a[i++], &a[j--]);
        }
        size_t left = j + 1; /* [0, j] <= pivot <= [j + 1, n) */
        if (left < n - left) {
            sb_quicksort(sb, a, left);
            a += left;
            n -= left;
        } else {
            sb_quicksort(sb, a + left, n - left);
            n = left;
        }
    }
    sb_insertion_sort(sb, a, n);
}

static inline unsigned sb_digit(const sort_entry *e, int d) {
    if (d < 4)
        return (e->partition >> (24 - 8 * d)) & 0xff;
    return (unsigned)(e->prefix >> (56 - 8 * (d - 4))) & 0xff;
}

/* American flag sort of a[0, n) on digits [d, maxd) that vary. */
static void sb_radix(const sort_buffer *sb, sort_entry *a, size_t n, int d, int maxd,
                     unsigned varying) {
    while (d < maxd && !(varying & (1u << d)))
        d++;
    if (n <= SB_SMALL || d == maxd) {
        if (n <= SB_SMALL)
            sb_insertion_sort(sb, a, n);
        else
            sb_quicksort(sb, a, n);
        return;
    }
    size_t count[256] = {0}, next[256], end[256];
    for (size_t i = 0; i < n; i++)
        count[sb_digit(&a[i], d)]++;
    size_t pos = 0;
    for (int b = 0; b < 256; b++) {
        next[b] = pos;
        pos += count[b];
        end[b] = pos;
    }
    for (unsigned b = 0; b < 256; b++) {
        while (next[b] < end[b]) {
            sort_entry e = a[next[b]];
            unsigned db = sb_digit(&e, d);
            while (db != b) {
                sb_swap(&e, &a[next[db]++]);
                db = sb_digit(&e, d);
            }
            a[next[b]++] = e;
        }
    }
    pos = 0;
    for (int b = 0; b < 256; pos += count[b], b++)
        if (count[b] > 1)
            sb_radix(sb, a + pos, count[b], d + 1, maxd, varying);
}

void sort_buffer_sort(sort_buffer *sb) {
    if (sb->n < 2)
        return;
    /* Digits every entry shares are skipped at every level. */
    const sort_entry *e0 = &sb->entries[0];
    sort_entry diff = {0};
    for (size_t i = 1; i < sb->n; i++) {
        diff.partition |= sb->entries[i].partition ^ e0->partition;
        diff.prefix |= sb->entries[i].prefix ^ e0->prefix;
    }
    unsigned varying = 0;
    for (int d = 0; d < SB_RADIX_DIGITS; d++)
        if (sb_digit(&diff, d) != 0)
            varying |= 1u << d;
    sb_radix(sb, sb->entries, sb->n, 0, sb->cmp == NULL ? SB_RADIX_DIGITS : 4, varying);
}

static int sb_reader_next(kv_stream *s, kv_record *out) {
    sort_buffer_reader *r = (sort_buffer_reader *)s;
    if (r->at == r->end)
        return 0;
    sb_record(r->sb, r->sb->entries[r->at++].offset, out);
    return 1;
}

void sort_buffer_stream(const sort_buffer *sb, uint32_t p, sort_buffer_reader *r) {
    size_t lo = 0, hi = sb->n; /* first entry of partition >= p */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sb->entries[mid].partition < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < sb->n && sb->entries[end].partition == p)
        end++;
    *r = (sort_buffer_reader){.base = {.next = sb_reader_next}, .sb = sb, .at = lo, .end = end};
}
