/* wordcount_floor.c -- bench/wordcount.sh's helpers:
 *
 *   wordcount_floor gen MB SEED > FILE
 *       MB MiB of text: lines of 10 words drawn uniformly from a
 *       50,000-word vocabulary of 2-12 random lowercase letters (issue 11's
 *       benchmark input), the same bytes for the same SEED;
 *   wordcount_floor count FILE
 *       a "no framework" wordcount: one thread, the file read in 1 MiB
 *       chunks, words (runs of bytes other than space, tab, newline, CR,
 *       FF: StringTokenizer's delimiters, as examples/wordcount.c) counted
 *       in one open-addressing hash table; prints "word<TAB>count" lines in
 *       table order (the script sorts them).  The floor a MapReduce engine
 *       on one core is measured against. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCABULARY 50000
#define CHUNK (1u << 20)

static uint64_t floor_rand(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static int floor_gen(long mb, uint64_t seed) {
    static char words[VOCABULARY][13];
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < VOCABULARY; i++) {
        int len = 2 + (int)(floor_rand(&s) % 11);
        for (int j = 0; j < len; j++)
            words[i][j] = (char)('a' + floor_rand(&s) % 26);
        words[i][len] = '\0';
    }
    long long left = (long long)mb << 20;
    char line[160];
    while (left > 0) {
        size_t n = 0;
        for (int w = 0; w < 10; w++) {
            const char *word = words[floor_rand(&s) % VOCABULARY];
            size_t len = strlen(word);
            memcpy(line + n, word, len);
            n += len;
            line[n++] = w == 9 ? '\n' : ' ';
        }
        if (fwrite(line, 1, n, stdout) != n)
            return 1;
        left -= (long long)n;
    }
    return fflush(stdout) != 0;
}

typedef struct {
    uint64_t hash;
    char *word; /* NULL: free */
    uint32_t len;
    uint64_t count;
} floor_slot;

typedef struct {
    floor_slot *slots;
    size_t cap, n;
} floor_table;

static uint64_t floor_hash(const unsigned char *p, size_t n) { /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void floor_grow(floor_table *t) {
    size_t ncap = t->cap ? 2 * t->cap : 1u << 16;
    floor_slot *s = calloc(ncap, sizeof(*s));
    if (s == NULL)
        exit(1);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].word == NULL)
            continue;
        size_t j = t->slots[i].hash & (ncap - 1);
        while (s[j].word != NULL)
            j = (j + 1) & (ncap - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->cap = ncap;
}

static void floor_add(floor_table *t, const unsigned char *w, size_t len) {
    if (2 * (t->n + 1) > t->cap)
        floor_grow(t);
    uint64_t h = floor_hash(w, len);
    size_t i = h & (t->cap - 1);
    for (; t->slots[i].word != NULL; i = (i + 1) & (t->cap - 1))
        if (t->slots[i].hash == h && t->slots[i].len == len &&
            memcmp(t->slots[i].word, w, len) == 0) {
            t->slots[i].count++;
            return;
        }
    char *copy = malloc(len);
    if (copy == NULL)
        exit(1);
    memcpy(copy, w, len);
    t->slots[i] = (floor_slot){.hash = h, .word = copy, .len = (uint32_t)len, .count = 1};
    t->n++;
}

static int floor_delim(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int floor_count(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 1;
    unsigned char *buf = malloc(2 * CHUNK);
    floor_table t = {0};
    size_t keep = 0, got;
    while ((got = fread(buf + keep, 1, CHUNK, f)) > 0 || keep > 0) {
        size_t end = keep + got, at = 0;
        int last = got == 0;
        while (at < end) {
            while (at < end && floor_delim(buf[at]))
                at++;
            size_t start = at;
            while (at < end && !floor_delim(buf[at]))
                at++;
            if (at == end && !last && at - start <= CHUNK) { /* cut by the chunk: keep it */
                memmove(buf, buf + start, end - start);
                keep = end - start;
                break;
            }
            if (at > start)
                floor_add(&t, buf + start, at - start);
            keep = 0;
        }
        if (last)
            break;
    }
    fclose(f);
    for (size_t i = 0; i < t.cap; i++)
        if (t.slots[i].word != NULL)
            printf("%.*s\t%llu\n", (int)t.slots[i].len, t.slots[i].word,
                   (unsigned long long)t.slots[i].count);
    return fflush(stdout) != 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return floor_gen(atol(argv[2]), strtoull(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "count") == 0)
        return floor_count(argv[2]);
    fprintf(stderr, "usage: wordcount_floor gen MB SEED | count FILE\n");
    return 2;
}
