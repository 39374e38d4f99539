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
 * decimal. */
#include <stdint.h>
#include <stdio.h>

#include "ember/mapreduce.h"
#include "example.h"

static const uint64_t one = 1;

/* The delimiters are all below '!': a byte above ' ' is a word's, one
 * compare for most bytes. */
static int is_delimiter(unsigned char c) {
    return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f');
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
        const unsigned char *word = p++;
        while (p < end && !is_delimiter(*p))
            p++;
        int rc = ember_emit(task, word, (size_t)(p - word), &one, sizeof(one));
        if (rc != 0)
            return rc;
    }
}

static int wordcount_combine(ember_task *task, const void *word, size_t len, ember_values *values) {
    uint64_t sum = example_sum(values);
    return ember_emit(task, word, len, &sum, sizeof(sum));
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
    .combine = wordcount_combine,
    .reduce = wordcount_reduce,
};

const ember_job *ember_job_define(void) { return &wordcount; }
