/* ifile.c -- see ifile.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4.h>
#include <zstd.h>

#include "common/checksum.h"
#include "common/error.h"
#include "common/log.h"
#include "ifile.h"

#define IFILE_WRITE_BUFFER (1u << 20)
#define IFILE_VARINT_MAX 10
#define IFILE_BLOCK (128u << 10)    /* raw bytes per compressed block */
#define IFILE_BLOCK_MAX (16u << 20) /* the largest a reader accepts */
#define IFILE_ZSTD_LEVEL 3          /* Hadoop's io.compression.codec.zstd.level */
/* About what a ZSTD_DCtx takes (ifile_reader_memory). */
#define IFILE_ZSTD_DCTX (160u << 10)
#define IFILE_MAGIC0 0x80
#define IFILE_MAGIC1 0x00

static const struct {
    const char *name;
    int codec;
} ifile_codec_names[] = {
    {"lz4", IFILE_CODEC_LZ4},
    {"lz4codec", IFILE_CODEC_LZ4},
    {"org.apache.hadoop.io.compress.lz4codec", IFILE_CODEC_LZ4},
    {"zstd", IFILE_CODEC_ZSTD},
    {"zstandard", IFILE_CODEC_ZSTD},
    {"zstandardcodec", IFILE_CODEC_ZSTD},
    {"org.apache.hadoop.io.compress.zstandardcodec", IFILE_CODEC_ZSTD},
};

int ifile_codec_parse(const char *name, int *codec) {
    for (size_t i = 0; i < sizeof(ifile_codec_names) / sizeof(ifile_codec_names[0]); i++)
        if (strcasecmp(name, ifile_codec_names[i].name) == 0) {
            *codec = ifile_codec_names[i].codec;
            return EMBER_OK;
        }
    return EMBER_EINVAL;
}

const char *ifile_codec_name(int codec) {
    return codec == IFILE_CODEC_LZ4 ? "lz4" : codec == IFILE_CODEC_ZSTD ? "zstd" : "none";
}

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
    return ifile_writer_open_codec(w, path, IFILE_CODEC_NONE);
}

/* The compressor's buffers for codec. */
static int ifile_writer_codec(ifile_writer *w, int codec) {
    w->codec = codec;
    if (codec == IFILE_CODEC_NONE)
        return EMBER_OK;
    w->zcap = codec == IFILE_CODEC_LZ4 ? (size_t)LZ4_compressBound(IFILE_BLOCK)
                                       : ZSTD_compressBound(IFILE_BLOCK);
    w->raw = malloc(IFILE_BLOCK);
    w->zbuf = malloc(w->zcap);
    if (codec == IFILE_CODEC_ZSTD && (w->zstd = ZSTD_createCCtx()) != NULL)
        ZSTD_CCtx_setParameter(w->zstd, ZSTD_c_compressionLevel, IFILE_ZSTD_LEVEL);
    if (w->raw == NULL || w->zbuf == NULL || (codec == IFILE_CODEC_ZSTD && w->zstd == NULL))
        return EMBER_ENOMEM;
    return EMBER_OK;
}

static void ifile_writer_free(ifile_writer *w) {
    free(w->buf);
    free(w->raw);
    free(w->zbuf);
    ZSTD_freeCCtx(w->zstd);
    w->buf = w->raw = w->zbuf = NULL;
    w->zstd = NULL;
    w->fd = -1;
}

int ifile_writer_open_codec(ifile_writer *w, const char *path, int codec) {
    if (codec != IFILE_CODEC_NONE && codec != IFILE_CODEC_LZ4 && codec != IFILE_CODEC_ZSTD)
        return EMBER_EINVAL;
    memset(w, 0, sizeof(*w));
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return EMBER_EIO;
    w->buf = malloc(IFILE_WRITE_BUFFER);
    int rc = w->buf != NULL ? ifile_writer_codec(w, codec) : EMBER_ENOMEM;
    if (rc != EMBER_OK) {
        close(w->fd);
        ifile_writer_free(w);
        return rc;
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

/* Compresses the raw block gathered and writes it. */
static int ifile_flush_block(ifile_writer *w) {
    if (w->raw_len == 0)
        return EMBER_OK;
    size_t n;
    if (w->codec == IFILE_CODEC_LZ4) {
        int z = LZ4_compress_default((const char *)w->raw, (char *)w->zbuf, (int)w->raw_len,
                                     (int)w->zcap);
        n = z > 0 ? (size_t)z : 0;
    } else {
        n = ZSTD_compress2(w->zstd, w->zbuf, w->zcap, w->raw, w->raw_len);
        n = ZSTD_isError(n) ? 0 : n;
    }
    if (n == 0) {
        LOG_ERROR("map output: %s could not compress a block", ifile_codec_name(w->codec));
        return EMBER_EIO;
    }
    uint8_t head[2 * IFILE_VARINT_MAX];
    size_t h = ifile_put_varint(head, w->raw_len);
    h += ifile_put_varint(head + h, n);
    w->raw_len = 0;
    int rc = ifile_put(w, head, h);
    return rc == EMBER_OK ? ifile_put(w, w->zbuf, n) : rc;
}

/* Appends bytes to the segment's records: to the file, or (compressed)
 * into blocks. */
static int ifile_put_raw(ifile_writer *w, const void *p, size_t n) {
    if (w->codec == IFILE_CODEC_NONE)
        return ifile_put(w, p, n);
    const uint8_t *b = p;
    w->seg_raw += n;
    while (n > 0) {
        size_t room = IFILE_BLOCK - w->raw_len, k = n < room ? n : room;
        memcpy(w->raw + w->raw_len, b, k);
        w->raw_len += k;
        b += k;
        n -= k;
        int rc = w->raw_len == IFILE_BLOCK ? ifile_flush_block(w) : EMBER_OK;
        if (rc != EMBER_OK)
            return rc;
    }
    return EMBER_OK;
}

void ifile_writer_begin(ifile_writer *w) {
    w->seg_start = w->pos + w->len;
    w->seg_records = 0;
    w->seg_raw = 0;
    w->crc = 0;
    w->raw_len = 0;
}

/* The header of a compressed segment, written before its first byte. */
static int ifile_begin_codec(ifile_writer *w) {
    uint8_t head[3] = {IFILE_MAGIC0, IFILE_MAGIC1, (uint8_t)w->codec};
    return ifile_put(w, head, 3);
}

int ifile_writer_append(ifile_writer *w, const void *key, size_t key_len, const void *value,
                        size_t value_len) {
    uint8_t head[2 * IFILE_VARINT_MAX];
    size_t h = ifile_put_varint(head, (uint64_t)key_len + 1);
    h += ifile_put_varint(head + h, value_len);
    if (w->codec != IFILE_CODEC_NONE) {
        int rc = w->pos + w->len == w->seg_start ? ifile_begin_codec(w) : EMBER_OK;
        if (rc == EMBER_OK)
            rc = ifile_put_raw(w, head, h);
        if (rc == EMBER_OK)
            rc = ifile_put_raw(w, key, key_len);
        if (rc == EMBER_OK)
            rc = ifile_put_raw(w, value, value_len);
        w->seg_records++;
        return rc;
    }
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
    int rc = EMBER_OK;
    if (w->codec != IFILE_CODEC_NONE) {
        if (w->pos + w->len == w->seg_start)
            rc = ifile_begin_codec(w);
        if (rc == EMBER_OK)
            rc = ifile_put_raw(w, &end, 1); /* the records' end, inside the blocks */
        if (rc == EMBER_OK)
            rc = ifile_flush_block(w);
    }
    if (rc == EMBER_OK)
        rc = ifile_put(w, &end, 1); /* the records' end, or the blocks' */
    uint32_t crc = w->crc;
    uint8_t le[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    if (rc == EMBER_OK)
        rc = ifile_put(w, le, 4);
    uint64_t length = w->pos + w->len - w->seg_start;
    *out = (ifile_range){.offset = w->seg_start,
                         .length = length,
                         .records = w->seg_records,
                         .raw_length = w->codec != IFILE_CODEC_NONE ? w->seg_raw + 4 : length};
    return rc;
}

int ifile_writer_close(ifile_writer *w, uint64_t *bytes) {
    int rc = ifile_flush(w);
    if (close(w->fd) != 0 && rc == EMBER_OK)
        rc = EMBER_EIO;
    if (bytes != NULL)
        *bytes = w->pos;
    ifile_writer_free(w);
    return rc;
}

void ifile_writer_abort(ifile_writer *w) {
    if (w->fd >= 0)
        close(w->fd);
    ifile_writer_free(w);
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
    if (r->len - r->start != 4 || r->left != 0) {
        LOG_ERROR("map output segment: %zu bytes after its end", r->len - r->start + r->left);
        return EMBER_ECORRUPT;
    }
    uint32_t crc =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->start += 4;
    if (crc == r->crc)
        return EMBER_OK;
    LOG_ERROR("map output segment (%s): checksum error: CRC32C %08x stored, %08x computed",
              ifile_codec_name(r->codec), crc, r->crc);
    return EMBER_ECORRUPT;
}

/* Looks at the segment's first bytes: a compressed segment's header
 * switches the reader to inflating blocks. */
static int ifile_probe(ifile_reader *r) {
    r->probed = 1;
    int rc = ifile_fill(r, 3);
    const uint8_t *p = r->buf + r->start;
    if (rc != EMBER_OK || r->len - r->start < 3 || p[0] != IFILE_MAGIC0 || p[1] != IFILE_MAGIC1)
        return rc; /* plain records (or too short: found corrupt later) */
    if (p[2] != IFILE_CODEC_LZ4 && p[2] != IFILE_CODEC_ZSTD) {
        LOG_ERROR("map output segment: unknown codec %u", p[2]);
        return EMBER_ECORRUPT;
    }
    r->codec = p[2];
    r->crc = crc32c(r->crc, p, 3);
    r->start += 3;
    if ((r->raw = malloc(IFILE_BLOCK)) == NULL)
        return EMBER_ENOMEM;
    r->raw_cap = IFILE_BLOCK;
    if (r->codec == IFILE_CODEC_ZSTD && (r->zstd = ZSTD_createDCtx()) == NULL)
        return EMBER_ENOMEM;
    return EMBER_OK;
}

/* Room in raw for n more bytes after the unread ones. */
static int ifile_raw_room(ifile_reader *r, size_t n) {
    if (r->raw_start > 0) {
        memmove(r->raw, r->raw + r->raw_start, r->raw_len - r->raw_start);
        r->raw_len -= r->raw_start;
        r->raw_start = 0;
    }
    if (r->raw_len + n <= r->raw_cap)
        return EMBER_OK;
    size_t ncap = r->raw_cap ? r->raw_cap : IFILE_BLOCK;
    while (ncap < r->raw_len + n)
        ncap *= 2;
    uint8_t *b = realloc(r->raw, ncap);
    if (b == NULL)
        return EMBER_ENOMEM;
    r->raw = b;
    r->raw_cap = ncap;
    return EMBER_OK;
}

/* Inflates one stored block of z bytes (at p) into raw_n bytes of raw. */
static int ifile_inflate_block(ifile_reader *r, const uint8_t *p, size_t z, size_t raw_n) {
    int rc = ifile_raw_room(r, raw_n);
    if (rc != EMBER_OK)
        return rc;
    size_t got;
    if (r->codec == IFILE_CODEC_LZ4) {
        int d =
            LZ4_decompress_safe((const char *)p, (char *)r->raw + r->raw_len, (int)z, (int)raw_n);
        got = d < 0 ? SIZE_MAX : (size_t)d;
    } else {
        got = ZSTD_decompressDCtx(r->zstd, r->raw + r->raw_len, raw_n, p, z);
        got = ZSTD_isError(got) ? SIZE_MAX : got;
    }
    if (got != raw_n) {
        LOG_ERROR("map output segment: a %s block does not inflate (corrupt)",
                  ifile_codec_name(r->codec));
        return EMBER_ECORRUPT;
    }
    r->raw_len += raw_n;
    return EMBER_OK;
}

/* Inflates blocks until want raw bytes are unread (fewer at the end of
 * the blocks). */
static int ifile_inflate(ifile_reader *r, size_t want) {
    while (r->raw_len - r->raw_start < want && !r->blocks_ended) {
        int rc = ifile_fill(r, 2 * IFILE_VARINT_MAX);
        if (rc != EMBER_OK)
            return rc;
        const uint8_t *p = r->buf + r->start;
        size_t avail = r->len - r->start;
        uint64_t raw_n = 0, z = 0;
        int a = ifile_get_varint(p, avail, &raw_n);
        if (a > 0 && raw_n == 0) { /* no more blocks */
            r->crc = crc32c(r->crc, p, (size_t)a);
            r->start += (size_t)a;
            r->blocks_ended = 1;
            break;
        }
        int b = a > 0 ? ifile_get_varint(p + a, avail - (size_t)a, &z) : -1;
        uint64_t rest = (uint64_t)avail + r->left;
        if (a <= 0 || b <= 0 || raw_n > IFILE_BLOCK_MAX ||
            z > IFILE_BLOCK_MAX + IFILE_BLOCK_MAX / 64 || (uint64_t)a + (uint64_t)b + z > rest)
            return EMBER_ECORRUPT;
        size_t h = (size_t)a + (size_t)b, need = h + (size_t)z;
        if ((rc = ifile_fill(r, need)) != EMBER_OK)
            return rc;
        p = r->buf + r->start;
        if (r->len - r->start < need)
            return EMBER_ECORRUPT;
        r->crc = crc32c(r->crc, p, need);
        if ((rc = ifile_inflate_block(r, p + h, (size_t)z, (size_t)raw_n)) != EMBER_OK)
            return rc;
        r->start += need;
    }
    return EMBER_OK;
}

/* The unread bytes of the records: in buf, or (compressed) in raw. */
static const uint8_t *ifile_view(const ifile_reader *r, size_t *avail) {
    if (r->codec != IFILE_CODEC_NONE) {
        *avail = r->raw_len - r->raw_start;
        return r->raw + r->raw_start;
    }
    *avail = r->len - r->start;
    return r->buf + r->start;
}

/* At least want record bytes unread, fewer at the segment's end. */
static int ifile_more(ifile_reader *r, size_t want) {
    return r->codec != IFILE_CODEC_NONE ? ifile_inflate(r, want) : ifile_fill(r, want);
}

/* n record bytes at p are read (plain bytes go into the CRC now). */
static void ifile_consume(ifile_reader *r, const uint8_t *p, size_t n) {
    if (r->codec != IFILE_CODEC_NONE) {
        r->raw_start += n;
        return;
    }
    r->crc = crc32c(r->crc, p, n);
    r->start += n;
}

/* After the records' end marker: nothing may follow but (compressed) the
 * blocks' end, then the CRC. */
static int ifile_end(ifile_reader *r) {
    if (r->codec != IFILE_CODEC_NONE) {
        int rc = ifile_inflate(r, 1);
        if (rc != EMBER_OK)
            return rc;
        if (r->raw_len != r->raw_start || !r->blocks_ended) {
            LOG_ERROR("map output segment (%s): records after the end", ifile_codec_name(r->codec));
            return EMBER_ECORRUPT;
        }
    }
    return ifile_check_end(r);
}

/* What the rest of the segment can hold: its stored bytes, or any size
 * up to 1 TiB when its blocks inflate (checked as they do). */
static uint64_t ifile_rest(const ifile_reader *r, size_t avail) {
    return r->codec != IFILE_CODEC_NONE ? (uint64_t)1 << 40 : (uint64_t)avail + r->left;
}

static int ifile_reader_next(kv_stream *s, kv_record *out) {
    ifile_reader *r = (ifile_reader *)s;
    if (r->state != 0)
        return r->state == 1 ? 0 : r->state;
    int rc = r->probed ? EMBER_OK : ifile_probe(r);
    size_t avail;
    const uint8_t *p = ifile_view(r, &avail);
    if (rc == EMBER_OK && avail < 2 * IFILE_VARINT_MAX) {
        rc = ifile_more(r, 2 * IFILE_VARINT_MAX);
        p = ifile_view(r, &avail);
    }
    uint64_t kl1 = 0, vl = 0;
    int a = rc == EMBER_OK ? ifile_get_varint(p, avail, &kl1) : -1;
    if (a > 0 && kl1 == 0) { /* the end */
        ifile_consume(r, p, 1);
        rc = ifile_end(r);
        r->state = rc == EMBER_OK ? 1 : rc;
        return rc == EMBER_OK ? 0 : rc;
    }
    int b = a > 0 ? ifile_get_varint(p + a, avail - (size_t)a, &vl) : -1;
    uint64_t segment_rest = ifile_rest(r, avail);
    if (rc == EMBER_OK && (a <= 0 || b <= 0 || kl1 - 1 > segment_rest || vl > segment_rest ||
                           (uint64_t)a + (uint64_t)b + kl1 - 1 + vl > segment_rest))
        rc = EMBER_ECORRUPT;
    size_t need = (size_t)a + (size_t)b + (size_t)(kl1 - 1) + (size_t)vl;
    if (rc == EMBER_OK && need > avail) {
        rc = ifile_more(r, need);
        p = ifile_view(r, &avail);
        if (rc == EMBER_OK && avail < need)
            rc = EMBER_ECORRUPT;
    }
    if (rc != EMBER_OK) {
        r->state = rc;
        return rc;
    }
    *out = (kv_record){.key = p + a + b,
                       .key_len = (size_t)(kl1 - 1),
                       .value = p + a + b + (kl1 - 1),
                       .value_len = (size_t)vl};
    ifile_consume(r, p, need);
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

size_t ifile_reader_memory(const void *head, size_t len) {
    const uint8_t *p = head;
    int compressed = len >= 3 && p[0] == IFILE_MAGIC0 && p[1] == IFILE_MAGIC1;
    return compressed ? IFILE_BLOCK + (p[2] == IFILE_CODEC_ZSTD ? IFILE_ZSTD_DCTX : 0) : 0;
}

void ifile_reader_close(ifile_reader *r) {
    if (r->owned)
        free(r->buf);
    r->buf = NULL;
    free(r->raw);
    r->raw = NULL;
    ZSTD_freeDCtx(r->zstd);
    r->zstd = NULL;
}
