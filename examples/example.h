/* example.h -- small helpers the example jobs share (each example is
 * still one file to build: `cc -shared -fPIC -I include examples/X.c`
 * finds this header beside it).  Numbers travel between map and reduce
 * as 8-byte integers: counts in the machine's order (they never leave
 * the job), keys and generated split records big-endian (so they sort as
 * the numbers do). */
#ifndef EMBER_EXAMPLE_H
#define EMBER_EXAMPLE_H

#include <stdint.h>
#include <string.h>

#include "ember/mapreduce.h"

static inline uint64_t example_get64(const void *p) {
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static inline void example_put64(uint8_t *b, uint64_t v) {
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* The sum of a group's 8-byte counts (values of another length are
 * skipped). */
static inline uint64_t example_sum(ember_values *values) {
    uint64_t sum = 0, n;
    const void *v;
    size_t len;
    while (ember_values_next(values, &v, &len))
        if (len == sizeof(n)) {
            memcpy(&n, v, sizeof(n));
            sum += n;
        }
    return sum;
}

#endif
