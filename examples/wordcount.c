/* wordcount.c -- Hadoop's WordCount as an ember job: how many times each
 * word occurs in the input.  A complete job library; build it with
 *
 *     cc -shared -fPIC -O2 -I include examples/wordcount.c -o wordcount.so
 *
 * and run it with `ember jar wordcount.so IN OUT` (or the built-in copy,
 * `ember run wordcount IN OUT`).  The output is one "word<TAB>count" line
 * per word, sorted by word within each part file.
 *
 * Words are what Java's StringTokenizer yields with its default
 * delimiters: runs of bytes other than space, tab, newline, carriage
 * return and form feed, as in Hadoop's example.  Counts travel from map
 * to reduce as 8-byte integers (Hadoop's IntWritable is binary too); the
 * combiner adds them up on the map side, which shrinks the shuffle to one
 * record per word per spill, and the reduce writes the total in
 * decimal.  The combiner is ember's ready-made ember_sum_u64 (Hadoop's
 * LongSumReducer): with it the map side adds each count into its word's
 * running sum as the word comes, instead of keeping a list of ones for a
 * combiner to add up later. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ember/mapreduce.h"
#include "example.h"

static const uint64_t one = 1;

/* The delimiters are all below '!': a byte above ' ' is a word's, one
 * compare for most bytes. */
static int is_delimiter(unsigned char c) {
    return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f');
}

/* The first byte at p or after that is below '!' (maybe a delimiter), or
 * end: 8 bytes at a time, a byte b < 0x21 being the only kind whose high
 * bit is set in (b - 0x21) & ~b (a borrow can flag bytes after the first
 * such byte, never before it). */
static const unsigned char *word_end(const unsigned char *p, const unsigned char *end) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; end - p >= 8; p += 8) {
        uint64_t w;
        memcpy(&w, p, sizeof(w));
        uint64_t low = (w - 0x2121212121212121ull) & ~w & 0x8080808080808080ull;
        if (low != 0)
            return p + __builtin_ctzll(low) / 8;
    }
#endif
    while (p<end && * p> ' ')
        p++;
    return p;
}

/* key: the line's offset (unused); value: the line. */
static int wordcount_map(ember_task *task, const void *key, size_t key_len, const void *value,
                         size_t len) {
    (void)key, (void)key_len;
    const unsigned char *p = value, *end = p + len;
    for (;;) {
        while (p < end && is_delimiter(*p))
            p++;
        if (p == end)
            return 0;
        const unsigned char *word = p;
        do /* past bytes below '!' that are not delimiters */
            p = word_end(p + 1, end);
        while (p < end && !is_delimiter(*p));
        int rc = ember_emit(task, word, (size_t)(p - word), &one, sizeof(one));
        if (rc != 0)
            return rc;
    }
}

static int wordcount_reduce(ember_task *task, const void *word, size_t len, ember_values *values) {
    char text[24];
    int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)example_sum(values));
    return ember_emit(task, word, len, text, (size_t)n);
}

static const ember_job wordcount = {
    .abi = EMBER_JOB_ABI,
    .name = "wordcount",
    .map = wordcount_map,
    .combine = ember_sum_u64,
    .reduce = wordcount_reduce,
};

const ember_job *ember_job_define(void) { return &wordcount; }
