/* teragen.c -- Hadoop's TeraGen as an ember job: the Sort Benchmark's
 * input, ROWS records of 100 bytes, byte for byte what Hadoop's teragen
 * and the benchmark's gensort write.
 *
 *     ember run teragen [-D mapreduce.job.maps=M] ROWS OUT
 *
 * ROWS may end in k, m, b or t (thousands, millions, billions, trillions,
 * as Hadoop's).  The rows are cut into M ranges (default 2, Hadoop's
 * mapreduce.job.maps), range m ending at ceil(ROWS * (m + 1) / M), each a
 * map task with no input file: configure adds one generated split per
 * range, whose record (first row, row count; 8 bytes big-endian each)
 * the map turns into the range's rows.  No reduces: the maps write
 * part-m-NNNNN files of raw records (ember.output.format=raw).
 *
 * Row r is made from the (r + 1)th number of a 128-bit linear
 * congruential generator started at 0 (gensort's rand16: x' = a x + c mod
 * 2^128), reached directly by composing the generator's powers of two, so
 * every range is computed on its own and the output is the same for any
 * M.  A record (GenSort.generateRecord):
 *   0-9    the random number's 10 high bytes: the key
 *   10-11  00 11
 *   12-43  the row number, 32 upper-case hex digits
 *   44-47  88 99 AA BB
 *   48-95  12 hex digits of the random number (its digits 20-31), each
 *          written 4 times
 *   96-99  CC DD EE FF
 * The job's counter TeraGen$Counters CHECKSUM is the sum of the records'
 * CRC32s (zlib's crc32, the one Hadoop's PureJavaCrc32 computes), the
 * figure teravalidate prints in hex. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ember/mapreduce.h"
#include "example.h"

#define TERAGEN_RECORD 100
#define TERAGEN_KEY 10
#define TERAGEN_COUNTERS "org.apache.hadoop.examples.terasort.TeraGen$Counters"

typedef unsigned __int128 u128;

/* gensort's generator: a and c. */
#define TERAGEN_A (((u128)0x2360ed051fc65da4ull << 64) | 0x4385df649fccf645ull)
#define TERAGEN_C (((u128)0x4a696d4772617952ull << 64) | 0x4950202020202001ull)

/* The generator's number after `advance` steps from 0: f^(2^i) is x ->
 * a_i x + c_i with a_0 = a, c_0 = c, a_{i+1} = a_i^2, c_{i+1} = a_i c_i +
 * c_i; apply it for every bit i set in advance (the powers commute). */
static u128 teragen_skip_ahead(uint64_t advance) {
    u128 x = 0, a = TERAGEN_A, c = TERAGEN_C;
    for (int i = 0; i < 64 && advance != 0; i++) {
        if (advance & (1ull << i)) {
            x = a * x + c;
            advance &= ~(1ull << i);
        }
        c = a * c + c;
        a = a * a;
    }
    return x;
}

static uint8_t teragen_byte(u128 x, int b) { return (uint8_t)(x >> (120 - 8 * b)); }

/* Hex digit p (0 = most significant) of x, upper case. */
static uint8_t teragen_hex(u128 x, int p) {
    unsigned d = teragen_byte(x, p / 2);
    d = p % 2 == 0 ? d >> 4 : d & 0xf;
    return (uint8_t)(d < 10 ? '0' + d : 'A' + d - 10);
}

static void teragen_record(uint8_t *rec, u128 rand, uint64_t row) {
    static const uint8_t mid[4] = {0x88, 0x99, 0xAA, 0xBB}, end[4] = {0xCC, 0xDD, 0xEE, 0xFF};
    for (int i = 0; i < TERAGEN_KEY; i++)
        rec[i] = teragen_byte(rand, i);
    rec[10] = 0x00;
    rec[11] = 0x11;
    for (int i = 0; i < 32; i++)
        rec[12 + i] = teragen_hex((u128)row, i);
    memcpy(rec + 44, mid, 4);
    for (int i = 0; i < 12; i++)
        memset(rec + 48 + 4 * i, teragen_hex(rand, 20 + i), 4);
    memcpy(rec + 96, end, 4);
}

/* key: the range's first row; value: its number of rows. */
static int teragen_map(ember_task *task, const void *key, size_t key_len, const void *value,
                       size_t value_len) {
    if (key_len != 8 || value_len != 8)
        return 1;
    uint64_t row = example_get64(key), count = example_get64(value), checksum = 0;
    u128 rand = teragen_skip_ahead(row);
    uint8_t rec[TERAGEN_RECORD];
    for (uint64_t i = 0; i < count; i++, row++) {
        rand = TERAGEN_A * rand + TERAGEN_C;
        teragen_record(rec, rand, row);
        if (ember_emit(task, rec, TERAGEN_KEY, rec + TERAGEN_KEY, TERAGEN_RECORD - TERAGEN_KEY))
            return 1;
        checksum += crc32(0, rec, TERAGEN_RECORD);
        if (i % 100000 == 0)
            ember_progress(task);
    }
    ember_counter_add(task, TERAGEN_COUNTERS, "CHECKSUM", (int64_t)checksum);
    return 0;
}

/* Hadoop's parseHumanLong: a number, optionally times 1000^k for a k, m,
 * b or t suffix.  0 when it is no such number. */
static int teragen_rows(const char *text, uint64_t *rows) {
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return 0;
    unsigned long long n = strtoull(text, &end, 10);
    uint64_t base = 1;
    switch (*end) {
    case 't': base = 1000000000000ull; break;
    case 'b': base = 1000000000ull; break;
    case 'm': base = 1000000ull; break;
    case 'k': base = 1000ull; break;
    default: break;
    }
    if ((base > 1 && end[1] != '\0') || (base == 1 && *end != '\0') || n > UINT64_MAX / base)
        return 0;
    *rows = n * base;
    return 1;
}

static int teragen_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc != 2)
        return ember_setup_usage(s, "<num rows> <output dir>");
    uint64_t rows, maps = 2;
    if (!teragen_rows(argv[0], &rows) || rows > INT64_MAX)
        return ember_setup_error(s, "teragen: '%s' is not a number of rows", argv[0]);
    const char *m = ember_setup_get(s, "mapreduce.job.maps");
    char *end = NULL;
    if (m != NULL && ((maps = strtoull(m, &end, 10)) == 0 || *end != '\0' || maps > 100000))
        return ember_setup_error(s, "mapreduce.job.maps: '%s' is not from 1 to 100000", m);
    uint64_t first = 0;
    for (uint64_t i = 0; i < maps; i++) {
        uint64_t goal = (uint64_t)ceil((double)rows * (double)(i + 1) / (double)maps);
        uint8_t k[8], v[8];
        example_put64(k, first);
        example_put64(v, goal - first);
        if (ember_setup_add_split(s, k, sizeof(k), v, sizeof(v)) != 0)
            return -1;
        first = goal;
    }
    if (ember_setup_output(s, argv[1]) != 0 || ember_setup_set(s, "mapreduce.job.reduces", "0") ||
        ember_setup_set(s, "ember.output.format", "raw") != 0)
        return -1;
    return 0;
}

static const ember_job teragen = {
    .abi = EMBER_JOB_ABI,
    .name = "TeraGen",
    .map = teragen_map,
    .configure = teragen_configure,
};

const ember_job *ember_job_define(void) { return &teragen; }
