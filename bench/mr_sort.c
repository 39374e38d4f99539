/* mr_sort.c -- the map side's sort alone, for bench/mr_sort.sh: reads a
 * file of lines, collects each line as a key (empty value) into one
 * partition through map_output (sort buffer, spills, merge), then writes
 * the sorted lines out, as `sort` would.
 *
 *   mr_sort IN OUT WORKDIR [SORT_MB]
 * Prints "records spills seconds" on stdout. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "mapreduce/ifile.h"
#include "mapreduce/map_output.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: mr_sort IN OUT WORKDIR [SORT_MB]\n");
        return 2;
    }
    size_t sort_mb = argc > 4 ? (size_t)atoi(argv[4]) : 100;
    int in = open(argv[1], O_RDONLY);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    const char *data =
        st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, in, 0) : "";
    if (data == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    int64_t t0 = clock_monotonic_ms();
    ember_job job = {.abi = EMBER_JOB_ABI, .name = "sort"};
    map_output_options o = {
        .dir = argv[3], .partitions = 1, .sort_bytes = sort_mb << 20, .job = &job};
    map_output *m;
    int rc = map_output_open(&o, &m);
    const char *p = data, *end = data + st.st_size;
    uint64_t records = 0;
    while (rc == EMBER_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        rc = map_output_collect(m, p, len, "", 0);
        records++;
        p += len + 1;
    }
    map_output_stats stats = {0};
    if (rc == EMBER_OK)
        rc = map_output_finish(m, &stats);
    char path[4096];
    snprintf(path, sizeof(path), "%s/file.out.index", argv[3]);
    ifile_range r;
    if (rc == EMBER_OK)
        rc = ifile_index_read(path, &r, 1);
    snprintf(path, sizeof(path), "%s/file.out", argv[3]);
    int fd = rc == EMBER_OK ? open(path, O_RDONLY) : -1;
    FILE *out = fopen(argv[2], "w");
    ifile_reader rd;
    if (fd >= 0 && out != NULL && (rc = ifile_reader_open(&rd, fd, &r, 1u << 20)) == EMBER_OK) {
        static char obuf[1 << 20];
        setvbuf(out, obuf, _IOFBF, sizeof(obuf));
        kv_record rec;
        while ((rc = rd.base.next(&rd.base, &rec)) == 1) {
            fwrite(rec.key, 1, rec.key_len, out);
            putc('\n', out);
        }
        ifile_reader_close(&rd);
    }
    if (out != NULL && fclose(out) != 0)
        rc = EMBER_EIO;
    map_output_free(m);
    if (fd >= 0) {
        close(fd);
        unlink(path);
        strcat(path, ".index");
        unlink(path);
    }
    if (rc < 0) {
        fprintf(stderr, "mr_sort: %s\n", ember_strerror(rc));
        return 1;
    }
    printf("%llu %llu %.3f\n", (unsigned long long)records, (unsigned long long)stats.spills,
           (double)(clock_monotonic_ms() - t0) / 1000.0);
    return 0;
}
