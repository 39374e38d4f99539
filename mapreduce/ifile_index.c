/* ifile_index.c -- see ifile_index.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/error.h"
#include "ifile_index.h"

static int index_write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return EMBER_EIO;
        p += w;
        n -= (size_t)w;
    }
    return EMBER_OK;
}

static void ifile_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ifile_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define IFILE_INDEX_ENTRY 32 /* offset, raw_length, length, records */

int ifile_index_write(const char *path, const ifile_range *ranges, uint32_t n) {
    size_t len = (size_t)n * IFILE_INDEX_ENTRY + 4;
    uint8_t *b = malloc(len);
    if (b == NULL)
        return EMBER_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = b + IFILE_INDEX_ENTRY * (size_t)i;
        ifile_put_u64(e, ranges[i].offset);
        ifile_put_u64(e + 8, ranges[i].raw_length ? ranges[i].raw_length : ranges[i].length);
        ifile_put_u64(e + 16, ranges[i].length);
        ifile_put_u64(e + 24, ranges[i].records);
    }
    uint32_t crc = crc32c(0, b, len - 4);
    for (int i = 0; i < 4; i++)
        b[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd >= 0 ? index_write_all(fd, b, len) : EMBER_EIO;
    if (fd >= 0 && close(fd) != 0 && rc == EMBER_OK)
        rc = EMBER_EIO;
    free(b);
    return rc;
}

int ifile_index_read(const char *path, ifile_range *ranges, uint32_t n) {
    size_t len = (size_t)n * IFILE_INDEX_ENTRY + 4;
    uint8_t *b = malloc(len + 1);
    if (b == NULL)
        return EMBER_ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 ? EMBER_OK : EMBER_ENOENT;
    size_t got = 0;
    while (rc == EMBER_OK && got < len + 1) {
        ssize_t r = read(fd, b + got, len + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = EMBER_EIO;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    uint32_t crc = 0;
    for (int i = 0; rc == EMBER_OK && got == len && i < 4; i++)
        crc |= (uint32_t)b[len - 4 + (size_t)i] << (8 * i);
    if (rc == EMBER_OK && (got != len || crc != crc32c(0, b, len - 4)))
        rc = EMBER_ECORRUPT;
    for (uint32_t i = 0; rc == EMBER_OK && i < n; i++) {
        const uint8_t *e = b + IFILE_INDEX_ENTRY * (size_t)i;
        ranges[i] = (ifile_range){.offset = ifile_get_u64(e),
                                  .raw_length = ifile_get_u64(e + 8),
                                  .length = ifile_get_u64(e + 16),
                                  .records = ifile_get_u64(e + 24)};
    }
    free(b);
    return rc;
}


int ifile_index_lookup(const char *path, uint32_t partition, ifile_range *out,
                       uint32_t *partitions) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return errno == ENOENT ? EMBER_ENOENT : EMBER_EIO;
    int rc = fstat(fd, &st) == 0 ? EMBER_OK : EMBER_EIO;
    close(fd);
    if (rc != EMBER_OK)
        return rc;
    uint64_t len = (uint64_t)st.st_size;
    if (len < 4 + IFILE_INDEX_ENTRY || (len - 4) % IFILE_INDEX_ENTRY != 0 ||
        (len - 4) / IFILE_INDEX_ENTRY > UINT32_MAX)
        return EMBER_ECORRUPT;
    uint32_t n = (uint32_t)((len - 4) / IFILE_INDEX_ENTRY);
    *partitions = n;
    if (partition >= n)
        return EMBER_EINVAL;
    ifile_range *all = malloc((size_t)n * sizeof(*all));
    if (all == NULL)
        return EMBER_ENOMEM;
    rc = ifile_index_read(path, all, n);
    if (rc == EMBER_OK)
        *out = all[partition];
    free(all);
    return rc;
}
