/* ifile.c -- see ifile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/error.h"
#include "ifile.h"

#define IFILE_WRITE_BUFFER (1u << 20)
#define IFILE_VARINT_MAX 10

static size_t ifile_put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decodes a varint from p[0, n); its length, 0 when incomplete, -1 when
 * longer than any u64's. */
static int ifile_get_varint(const uint8_t *p, size_t n, uint64_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < IFILE_VARINT_MAX; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return (int)i + 1;
        }
    }
    return n >= IFILE_VARINT_MAX ? -1 : 0;
}

static int ifile_write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return EMBER_EIO;
        b += w;
        n -= (size_t)w;
    }
    return EMBER_OK;
}

int ifile_writer_open(ifile_writer *w, const char *path) {
    memset(w, 0, sizeof(*w));
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return EMBER_EIO;
    if ((w->buf = malloc(IFILE_WRITE_BUFFER)) == NULL) {
        close(w->fd);
        return EMBER_ENOMEM;
    }
    w->cap = IFILE_WRITE_BUFFER;
    return EMBER_OK;
}

static int ifile_flush(ifile_writer *w) {
    int rc = ifile_write_all(w->fd, w->buf, w->len);
    w->pos += w->len;
    w->len = 0;
    return rc;
}

/* Appends bytes to the file through the buffer, into the segment's CRC. */
static int ifile_put(ifile_writer *w, const void *p, size_t n) {
    w->crc = crc32c(w->crc, p, n);
    if (w->len + n > w->cap) {
        int rc = ifile_flush(w);
        if (rc != EMBER_OK)
            return rc;
        if (n > w->cap) {
            w->pos += n;
            return ifile_write_all(w->fd, p, n);
        }
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return EMBER_OK;
}

void ifile_writer_begin(ifile_writer *w) {
    w->seg_start = w->pos + w->len;
    w->seg_records = 0;
    w->crc = 0;
}

int ifile_writer_append(ifile_writer *w, const void *key, size_t key_len, const void *value,
                        size_t value_len) {
    uint8_t head[2 * IFILE_VARINT_MAX];
    size_t h = ifile_put_varint(head, (uint64_t)key_len + 1);
    h += ifile_put_varint(head + h, value_len);
    if (w->len + h + key_len + value_len <= w->cap) { /* the common case, inline */
        uint8_t *p = w->buf + w->len;
        memcpy(p, head, h);
        memcpy(p + h, key, key_len);
        memcpy(p + h + key_len, value, value_len);
        w->crc = crc32c(w->crc, p, h + key_len + value_len);
        w->len += h + key_len + value_len;
        w->seg_records++;
        return EMBER_OK;
    }
    int rc = ifile_put(w, head, h);
    if (rc == EMBER_OK)
        rc = ifile_put(w, key, key_len);
    if (rc == EMBER_OK)
        rc = ifile_put(w, value, value_len);
    w->seg_records++;
    return rc;
}

int ifile_writer_end(ifile_writer *w, ifile_range *out) {
    uint8_t end = 0;
    int rc = ifile_put(w, &end, 1);
    uint32_t crc = w->crc;
    uint8_t le[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    if (rc == EMBER_OK)
        rc = ifile_put(w, le, 4);
    *out = (ifile_range){.offset = w->seg_start,
                         .length = w->pos + w->len - w->seg_start,
                         .records = w->seg_records};
    return rc;
}

int ifile_writer_close(ifile_writer *w, uint64_t *bytes) {
    int rc = ifile_flush(w);
    if (close(w->fd) != 0 && rc == EMBER_OK)
        rc = EMBER_EIO;
    if (bytes != NULL)
        *bytes = w->pos;
    free(w->buf);
    w->buf = NULL;
    w->fd = -1;
    return rc;
}

void ifile_writer_abort(ifile_writer *w) {
    if (w->fd >= 0)
        close(w->fd);
    free(w->buf);
    w->buf = NULL;
    w->fd = -1;
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

int ifile_index_write(const char *path, const ifile_range *ranges, uint32_t n) {
    size_t len = (size_t)n * 24 + 4;
    uint8_t *b = malloc(len);
    if (b == NULL)
        return EMBER_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        ifile_put_u64(b + 24 * i, ranges[i].offset);
        ifile_put_u64(b + 24 * i + 8, ranges[i].length);
        ifile_put_u64(b + 24 * i + 16, ranges[i].records);
    }
    uint32_t crc = crc32c(0, b, len - 4);
    for (int i = 0; i < 4; i++)
        b[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd >= 0 ? ifile_write_all(fd, b, len) : EMBER_EIO;
    if (fd >= 0 && close(fd) != 0 && rc == EMBER_OK)
        rc = EMBER_EIO;
    free(b);
    return rc;
}

int ifile_index_read(const char *path, ifile_range *ranges, uint32_t n) {
    size_t len = (size_t)n * 24 + 4;
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
    for (uint32_t i = 0; rc == EMBER_OK && i < n; i++)
        ranges[i] = (ifile_range){.offset = ifile_get_u64(b + 24 * i),
                                  .length = ifile_get_u64(b + 24 * i + 8),
                                  .records = ifile_get_u64(b + 24 * i + 16)};
    free(b);
    return rc;
}

/* Reads more of the segment so that at least want bytes are buffered
 * (fewer at its end), growing the buffer when it is too small. */
static int ifile_fill(ifile_reader *r, size_t want) {
    if (r->fd < 0 || r->left == 0)
        return EMBER_OK;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    }
    if (want > r->cap) {
        uint8_t *b = realloc(r->buf, want);
        if (b == NULL)
            return EMBER_ENOMEM;
        r->buf = b;
        r->cap = want;
    }
    while (r->len < want && r->left > 0) {
        size_t room = r->cap - r->len;
        size_t n = room < r->left ? room : (size_t)r->left;
        ssize_t got = pread(r->fd, r->buf + r->len, n, (off_t)r->file_off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return EMBER_EIO;
        if (got == 0)
            return EMBER_ECORRUPT; /* the file is shorter than its index says */
        r->len += (size_t)got;
        r->file_off += (uint64_t)got;
        r->left -= (uint64_t)got;
    }
    return EMBER_OK;
}

/* The end: the CRC of every byte before it must match. */
static int ifile_check_end(ifile_reader *r) {
    int rc = ifile_fill(r, 4);
    if (rc != EMBER_OK)
        return rc;
    const uint8_t *p = r->buf + r->start;
    if (r->len - r->start != 4 || r->left != 0)
        return EMBER_ECORRUPT;
    uint32_t crc =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->start += 4;
    return crc == r->crc ? EMBER_OK : EMBER_ECORRUPT;
}

static int ifile_reader_next(kv_stream *s, kv_record *out) {
    ifile_reader *r = (ifile_reader *)s;
    if (r->state != 0)
        return r->state == 1 ? 0 : r->state;
    int rc = EMBER_OK;
    if (r->len - r->start < 2 * IFILE_VARINT_MAX)
        rc = ifile_fill(r, 2 * IFILE_VARINT_MAX);
    const uint8_t *p = r->buf + r->start;
    size_t avail = r->len - r->start;
    uint64_t kl1 = 0, vl = 0;
    int a = rc == EMBER_OK ? ifile_get_varint(p, avail, &kl1) : -1;
    if (a > 0 && kl1 == 0) { /* the end */
        r->crc = crc32c(r->crc, p, 1);
        r->start += 1;
        rc = ifile_check_end(r);
        r->state = rc == EMBER_OK ? 1 : rc;
        return rc == EMBER_OK ? 0 : rc;
    }
    int b = a > 0 ? ifile_get_varint(p + a, avail - (size_t)a, &vl) : -1;
    uint64_t segment_rest = (uint64_t)avail + r->left;
    if (rc == EMBER_OK && (a <= 0 || b <= 0 || kl1 - 1 > segment_rest || vl > segment_rest ||
                           (uint64_t)a + (uint64_t)b + kl1 - 1 + vl > segment_rest))
        rc = EMBER_ECORRUPT;
    size_t need = (size_t)a + (size_t)b + (size_t)(kl1 - 1) + (size_t)vl;
    if (rc == EMBER_OK && need > avail) {
        rc = ifile_fill(r, need);
        p = r->buf + r->start;
        if (rc == EMBER_OK && r->len - r->start < need)
            rc = EMBER_ECORRUPT;
    }
    if (rc != EMBER_OK) {
        r->state = rc;
        return rc;
    }
    r->crc = crc32c(r->crc, p, need);
    *out = (kv_record){.key = p + a + b,
                       .key_len = (size_t)(kl1 - 1),
                       .value = p + a + b + (kl1 - 1),
                       .value_len = (size_t)vl};
    r->start += need;
    r->records++;
    return 1;
}

int ifile_reader_open(ifile_reader *r, int fd, const ifile_range *range, size_t bufsize) {
    memset(r, 0, sizeof(*r));
    r->base.next = ifile_reader_next;
    r->fd = fd;
    r->file_off = range->offset;
    r->left = range->length;
    r->cap = bufsize < 64 ? 64 : bufsize;
    r->owned = 1;
    if ((r->buf = malloc(r->cap)) == NULL)
        return EMBER_ENOMEM;
    return EMBER_OK;
}

void ifile_reader_open_memory(ifile_reader *r, const void *segment, size_t len) {
    memset(r, 0, sizeof(*r));
    r->base.next = ifile_reader_next;
    r->fd = -1;
    r->buf = (uint8_t *)segment;
    r->cap = r->len = len;
}

void ifile_reader_close(ifile_reader *r) {
    if (r->owned)
        free(r->buf);
    r->buf = NULL;
}
