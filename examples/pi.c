/* pi.c -- Hadoop's QuasiMonteCarlo ("pi") as an ember job: estimates Pi
 * from the share of points of the unit square that fall inside its
 * inscribed circle.
 *
 *     ember run pi NMAPS NSAMPLES
 *
 * Map i takes NSAMPLES points of the 2-dimensional Halton sequence (bases
 * 2 and 3) from index i * NSAMPLES + 1 on, and counts those inside and
 * outside the circle; one reduce adds the counts up.  The estimate is
 * 4 * inside / (NMAPS * NSAMPLES) with 20 decimals, rounded half up: what
 * Hadoop's BigDecimal arithmetic prints ("Estimated value of Pi is
 * 3.14800000000000000000" for 10 maps of 100 samples).  The sequence is
 * computed with the same double-precision steps as Hadoop's, so every
 * count, and so every estimate, is Hadoop's.
 *
 * The job API's driver in its smallest form: there is no input, so the
 * counting job's configure adds one generated split per map (its record:
 * the first index and the number of samples); pi's own configure runs
 * that job (ember_setup_run()), reads the reduce's sums back from its
 * counters, prints the estimate and returns EMBER_JOB_DONE.  The counting
 * job writes its sums into a temporary directory, removed at the end, as
 * Hadoop's writes its reduce-out file. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember/mapreduce.h"
#include "example.h"

#define PI_GROUP "QuasiMonteCarlo"

/* The Halton sequence as Hadoop's HaltonSequence: digits d and their
 * place values q per base, the point x updated digit by digit. */
typedef struct {
    double x[2], q[2][63];
    int d[2][63];
} pi_halton;

static const int pi_bases[2] = {2, 3}, pi_digits[2] = {63, 40};

/* Starts at H(index), so that the first point is H(index + 1). */
static void pi_halton_init(pi_halton *h, uint64_t index) {
    for (int i = 0; i < 2; i++) {
        uint64_t k = index;
        h->x[i] = 0;
        for (int j = 0; j < pi_digits[i]; j++) {
            h->q[i][j] = (j == 0 ? 1.0 : h->q[i][j - 1]) / pi_bases[i];
            h->d[i][j] = (int)(k % (uint64_t)pi_bases[i]);
            k = (k - (uint64_t)h->d[i][j]) / (uint64_t)pi_bases[i];
            h->x[i] += h->d[i][j] * h->q[i][j];
        }
    }
}

static void pi_halton_next(pi_halton *h) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < pi_digits[i]; j++) {
            h->d[i][j]++;
            h->x[i] += h->q[i][j];
            if (h->d[i][j] < pi_bases[i])
                break;
            h->d[i][j] = 0;
            h->x[i] -= j == 0 ? 1.0 : h->q[i][j - 1];
        }
}

/* key: the first index (offset); value: the number of samples.  Emits
 * (1, inside) and (0, outside), as Hadoop's (true, n) and (false, n). */
static int pi_map(ember_task *task, const void *key, size_t key_len, const void *value,
                  size_t value_len) {
    if (key_len != 8 || value_len != 8)
        return 1;
    pi_halton h;
    pi_halton_init(&h, example_get64(key));
    uint64_t n = example_get64(value), inside = 0, outside = 0;
    for (uint64_t i = 0; i < n; i++) {
        pi_halton_next(&h);
        double x = h.x[0] - 0.5, y = h.x[1] - 0.5;
        if (x * x + y * y > 0.25)
            outside++;
        else
            inside++;
        if (i % 100000 == 0)
            ember_progress(task);
    }
    return ember_emit(task, "\x01", 1, &inside, sizeof(inside)) ||
           ember_emit(task, "\x00", 1, &outside, sizeof(outside));
}

/* The sum, written out and kept as a counter for the driver. */
static int pi_reduce(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    uint64_t sum = example_sum(values);
    int is_inside = key_len == 1 && *(const uint8_t *)key == 1;
    const char *name = is_inside ? "inside" : "outside";
    ember_counter_add(task, PI_GROUP, name, (int64_t)sum);
    char text[24];
    int tl = snprintf(text, sizeof(text), "%llu", (unsigned long long)sum);
    return ember_emit(task, name, strlen(name), text, (size_t)tl);
}

/* 1 with *out set when text is a whole number from 1 to max. */
static int pi_number(const char *text, uint64_t max, uint64_t *out) {
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return 0;
    unsigned long long n = strtoull(text, &end, 10);
    *out = n;
    return *end == '\0' && n >= 1 && n <= max;
}

/* NMAPS NSAMPLES TMP (from pi_configure). */
static int pi_count_configure(ember_setup *s, int argc, const char *const *argv) {
    uint64_t maps, samples;
    if (argc != 3 || !pi_number(argv[0], INT32_MAX, &maps) ||
        !pi_number(argv[1], INT64_MAX, &samples))
        return ember_setup_usage(s, "<nMaps> <nSamples> <tmp>");
    for (uint64_t i = 0; i < maps; i++) {
        uint8_t k[8], v[8];
        example_put64(k, i * samples);
        example_put64(v, samples);
        if (ember_setup_add_split(s, k, sizeof(k), v, sizeof(v)) != 0)
            return -1;
    }
    if (ember_setup_output(s, argv[2]) != 0 || ember_setup_set(s, "mapreduce.job.reduces", "1"))
        return -1;
    return 0;
}

static const ember_job pi_count = {
    .abi = EMBER_JOB_ABI,
    .name = "QuasiMonteCarlo",
    .map = pi_map,
    .reduce = pi_reduce,
    .configure = pi_count_configure,
};

/* 4 * inside / total with 20 decimals, rounded half up (BigDecimal's
 * divide(total, HALF_UP) at scale 20). */
static void pi_estimate(uint64_t inside, uint64_t total, char *out) {
    unsigned __int128 num = (unsigned __int128)inside * 4, rem = num % total;
    uint64_t whole = (uint64_t)(num / total);
    char digits[21];
    for (int i = 0; i < 20; i++) {
        rem *= 10;
        digits[i] = (char)('0' + (int)(rem / total));
        rem %= total;
    }
    digits[20] = '\0';
    if (2 * rem >= total) { /* half up: carry through the digits */
        int i = 19;
        for (; i >= 0 && digits[i] == '9'; i--)
            digits[i] = '0';
        if (i >= 0)
            digits[i]++;
        else
            whole++;
    }
    sprintf(out, "%llu.%s", (unsigned long long)whole, digits);
}

static int pi_configure(ember_setup *s, int argc, const char *const *argv) {
    uint64_t maps, samples;
    if (argc != 2)
        return ember_setup_usage(s, "<nMaps> <nSamples>");
    if (!pi_number(argv[0], INT32_MAX, &maps) || !pi_number(argv[1], INT64_MAX, &samples))
        return ember_setup_error(s, "pi: <nMaps> and <nSamples> must be whole numbers above 0");
    if (maps > UINT64_MAX / 4 / samples)
        return ember_setup_error(s, "pi: %s maps of %s samples are too many", argv[0], argv[1]);
    printf("Number of Maps  = %llu\nSamples per Map = %llu\nStarting Job\n",
           (unsigned long long)maps, (unsigned long long)samples);
    fflush(stdout);
    char tmp[PATH_MAX + 16];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *count[] = {argv[0], argv[1], tmp};
    if (ember_setup_temp_path(s, tmp, sizeof(tmp)) != 0 ||
        ember_setup_run(s, &pi_count, 3, count) != 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t inside = (uint64_t)ember_setup_counter(s, PI_GROUP, "inside");
    char estimate[64];
    pi_estimate(inside, maps * samples, estimate);
    printf("Job Finished in %.3f seconds\nEstimated value of Pi is %s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, estimate);
    return EMBER_JOB_DONE;
}

static const ember_job pi = {
    .abi = EMBER_JOB_ABI,
    .name = "QuasiMonteCarlo",
    .map = pi_map, /* runs only as pi_count */
    .configure = pi_configure,
};

const ember_job *ember_job_define(void) { return &pi; }
