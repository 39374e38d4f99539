/* mr_reader.c -- see mr_reader.h.
 *
 * One buffer holds the bytes not yet handed out: buf[pos, len) are the
 * stream's bytes from stream offset buf_off + pos on (the stream is the
 * file, or for gzip what it decompresses to).  fill() moves the unread
 * bytes to the front, grows the buffer when they fill it, and appends what
 * the source (or inflate) gives next.  The text loop looks for '\n' with
 * memchr from pos + scan, scan being how many bytes after pos are already
 * known to hold none, so a line longer than the buffer is searched once.
 *
 * States of the text loop: reading lines; skipping (a line being thrown
 * away: the first, partial, line of a chunk that starts past 0, or a line
 * over the maximum, whose bytes are dropped as they come rather than
 * buffered); done.  A record's key is 8 bytes in the reader, its value
 * points into the buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "mr_reader.h"

/* Once past its chunk's end a text reader needs only the rest of one
 * line: it reads that much at a time, not a whole buffer. */
#define MR_READER_TAIL (64u << 10)
#define MR_READER_GZIP_INPUT (256u << 10)

struct mr_reader {
    kv_stream base;
    mr_source *src;
    mr_reader_options o;
    uint64_t start, end; /* text: lines beginning in (start, end]; fixed: records in [start, end) */
    uint8_t *buf;
    size_t cap, pos, len, scan;
    uint64_t buf_off;   /* stream offset of buf[0] */
    uint64_t read_off;  /* next source offset to read */
    uint64_t read_stop; /* the source offset where reading stops */
    int eof;            /* the stream has no more bytes */
    int done;
    int failed; /* < 0: the error next() returns again */
    int skipping, skip_counted;
    uint64_t skip_from; /* offset of the line being skipped */
    uint8_t separator;
    int gzip, member_ended;
    z_stream z;
    uint8_t *zin;
    mr_reader_stats st;
    uint8_t key[8];
    char err[MR_READER_ERROR_MAX];
};

static int mr_reader_fail(mr_reader *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the error (rc, and a message naming the file) and returns rc. */
static int mr_reader_fail(mr_reader *r, int rc, const char *fmt, ...) {
    int n = snprintf(r->err, sizeof(r->err), "%s: ", r->src->name);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof(r->err))
        vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
    va_end(ap);
    r->failed = rc;
    return rc;
}

static void mr_reader_put_offset(uint8_t *k, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        k[i] = (uint8_t)v;
}

/* ---- the buffer ---- */

/* Makes room at the end of the buffer: drops what was handed out, and
 * doubles the buffer when the unread bytes fill it. */
static int mr_reader_make_room(mr_reader *r) {
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->buf_off += r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len < r->cap)
        return EMBER_OK;
    uint8_t *b = realloc(r->buf, r->cap * 2);
    if (b == NULL)
        return mr_reader_fail(r, EMBER_ENOMEM, "out of memory for a buffer of %zu bytes",
                              r->cap * 2);
    r->buf = b;
    r->cap *= 2;
    return EMBER_OK;
}

static int mr_reader_read_plain(mr_reader *r) {
    size_t want = r->cap - r->len;
    uint64_t left = r->read_stop - r->read_off;
    if (r->o.format != MR_FORMAT_FIXED) {
        uint64_t lim = (r->read_off <= r->end ? r->end - r->read_off + 1 : 0) + MR_READER_TAIL;
        left = left < lim ? left : lim;
    }
    if (want > left)
        want = (size_t)left;
    size_t got = 0;
    int rc = want ? r->src->pread(r->src, r->buf + r->len, want, r->read_off, &got) : EMBER_OK;
    if (rc != EMBER_OK)
        return mr_reader_fail(r, rc, "read at offset %llu failed: %s",
                              (unsigned long long)r->read_off, ember_strerror(rc));
    r->len += got;
    r->read_off += got;
    r->st.bytes_read += got;
    if (got == 0)
        r->eof = 1;
    return EMBER_OK;
}

/* Inflates into the free end of the buffer until it is full or the
 * compressed file ends; one gzip member after another. */
static int mr_reader_read_gzip(mr_reader *r) {
    z_stream *z = &r->z;
    z->next_out = r->buf + r->len;
    z->avail_out = (uInt)(r->cap - r->len < UINT32_MAX ? r->cap - r->len : UINT32_MAX);
    uInt before = z->avail_out;
    while (z->avail_out > 0) {
        if (z->avail_in == 0 && r->read_off < r->read_stop) {
            size_t got = 0;
            int rc = r->src->pread(r->src, r->zin, MR_READER_GZIP_INPUT, r->read_off, &got);
            if (rc != EMBER_OK)
                return mr_reader_fail(r, rc, "read at offset %llu failed: %s",
                                      (unsigned long long)r->read_off, ember_strerror(rc));
            if (got == 0)
                r->read_stop = r->read_off; /* shorter than it said */
            r->read_off += got;
            r->st.bytes_read += got;
            z->next_in = r->zin;
            z->avail_in = (uInt)got;
        }
        if (z->avail_in == 0 && r->read_off >= r->read_stop) {
            if (!r->member_ended && r->src->size > 0)
                return mr_reader_fail(r, EMBER_ECORRUPT, "unexpected end of gzip data");
            r->eof = 1;
            break;
        }
        if (r->member_ended) { /* another member follows */
            inflateReset(z);
            r->member_ended = 0;
        }
        int zr = inflate(z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            r->member_ended = 1;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return mr_reader_fail(r, EMBER_ECORRUPT, "not valid gzip data (%s) at offset %llu",
                                  z->msg ? z->msg : "zlib error",
                                  (unsigned long long)(r->read_off - z->avail_in));
    }
    r->len += before - z->avail_out;
    return EMBER_OK;
}

/* Appends the next bytes of the stream to the buffer, or sets eof. */
static int mr_reader_fill(mr_reader *r) {
    int rc = mr_reader_make_room(r);
    if (rc != EMBER_OK)
        return rc;
    return r->gzip ? mr_reader_read_gzip(r) : mr_reader_read_plain(r);
}

/* ---- lines ---- */

/* Throws away the buffered bytes of a line being skipped. */
static void mr_reader_drop(mr_reader *r) {
    r->buf_off += r->len;
    r->pos = r->len = r->scan = 0;
}

/* Enters the skipping state for the line beginning at from; counted: it is
 * over the maximum (the stats count it), not a chunk's first line. */
static void mr_reader_skip_line(mr_reader *r, uint64_t from, int counted) {
    r->skipping = 1;
    r->skip_counted = counted;
    r->skip_from = from;
}

/* Leaves the skipping state: the skipped line ended before line_end. */
static void mr_reader_skipped(mr_reader *r, uint64_t line_end) {
    r->skipping = 0;
    if (r->skip_counted) {
        r->st.skipped_lines++;
        r->st.last_skipped_offset = r->skip_from;
        r->st.last_skipped_size = line_end - r->skip_from;
    }
}

/* The next line of the chunk: 1 with *line, *n (line end stripped) and
 * *off set, 0 at the end, <0 on error. */
static int mr_reader_line(mr_reader *r, const uint8_t **line, size_t *n, uint64_t *off) {
    for (;;) {
        uint64_t at = r->buf_off + r->pos;
        if (!r->skipping && at > r->end)
            return 0;
        uint8_t *p = r->buf + r->pos, *nl = NULL;
        size_t avail = r->len - r->pos;
        if (avail > r->scan)
            nl = memchr(p + r->scan, '\n', avail - r->scan);
        if (nl == NULL && !r->eof) {
            r->scan = avail;
            if (r->skipping) {
                mr_reader_drop(r);
            } else if (avail >= r->o.max_line_length) {
                mr_reader_skip_line(r, at, 1);
                mr_reader_drop(r);
            }
            int rc = mr_reader_fill(r);
            if (rc != EMBER_OK)
                return rc;
            continue;
        }
        size_t used = nl ? (size_t)(nl - p) + 1 : avail; /* the line and its '\n' */
        r->pos += used;
        r->scan = 0;
        if (r->skipping) {
            mr_reader_skipped(r, r->buf_off + r->pos);
            continue;
        }
        if (used == 0)
            return 0; /* the end of the stream */
        if (used >= r->o.max_line_length) {
            mr_reader_skip_line(r, at, 1);
            mr_reader_skipped(r, at + used);
            continue;
        }
        size_t len = nl ? used - 1 : used;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (at == 0 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
            p += 3; /* a UTF-8 byte-order mark */
            len -= 3;
        }
        *line = p;
        *n = len;
        *off = at;
        return 1;
    }
}

/* A line as a record: (offset, line) for TEXT, cut at the separator for
 * KEY_VALUE. */
static int mr_reader_next_line(mr_reader *r, kv_record *rec) {
    const uint8_t *line;
    size_t n;
    uint64_t off;
    int rc = mr_reader_line(r, &line, &n, &off);
    if (rc != 1)
        return rc;
    if (r->o.format == MR_FORMAT_TEXT) {
        mr_reader_put_offset(r->key, off);
        *rec = (kv_record){r->key, 8, line, n};
        return 1;
    }
    const uint8_t *sep = n ? memchr(line, r->separator, n) : NULL;
    if (sep == NULL)
        *rec = (kv_record){line, n, line + n, 0};
    else
        *rec = (kv_record){line, (size_t)(sep - line), sep + 1, n - (size_t)(sep - line) - 1};
    return 1;
}

/* ---- fixed-length records, whole files ---- */

static int mr_reader_next_fixed(mr_reader *r, kv_record *rec) {
    size_t R = r->o.record_length;
    uint64_t at = r->buf_off + r->pos;
    if (at >= r->end)
        return 0;
    while (r->len - r->pos < R && !r->eof) {
        int rc = mr_reader_fill(r);
        if (rc != EMBER_OK)
            return rc;
    }
    size_t avail = r->len - r->pos;
    at = r->buf_off + r->pos;
    if (avail == 0 && r->gzip)
        return 0;
    if (avail < R) {
        if (r->gzip)
            return mr_reader_fail(r, EMBER_ECORRUPT,
                                  "partial record(length = %zu) found at the end of the file: "
                                  "its uncompressed size %llu is not a multiple of the record "
                                  "length %zu",
                                  avail, (unsigned long long)(at + avail), R);
        return mr_reader_fail(r, EMBER_ECORRUPT, "file ended at offset %llu, before its size %llu",
                              (unsigned long long)(at + avail), (unsigned long long)r->src->size);
    }
    mr_reader_put_offset(r->key, at);
    *rec = (kv_record){r->key, 8, r->buf + r->pos, R};
    r->pos += R;
    return 1;
}

static int mr_reader_next_whole(mr_reader *r, kv_record *rec) {
    if (r->done)
        return 0;
    uint64_t size = r->src->size;
    if (size > 0) {
        int rc = mr_source_read_full(r->src, r->buf, (size_t)size, 0);
        if (rc != EMBER_OK)
            return mr_reader_fail(r, rc, "reading the whole file failed: %s",
                                  rc == EMBER_ECORRUPT ? "it is shorter than its size"
                                                       : ember_strerror(rc));
        r->st.bytes_read += size;
    }
    r->done = 1;
    *rec = (kv_record){(const uint8_t *)r->src->name, strlen(r->src->name), r->buf, (size_t)size};
    return 1;
}

/* ---- the stream ---- */

int mr_reader_next(mr_reader *r, kv_record *rec) {
    if (r->failed)
        return r->failed;
    int rc;
    switch (r->o.format) {
    case MR_FORMAT_TEXT:
    case MR_FORMAT_KEY_VALUE: rc = mr_reader_next_line(r, rec); break;
    case MR_FORMAT_FIXED: rc = mr_reader_next_fixed(r, rec); break;
    default: rc = mr_reader_next_whole(r, rec); break;
    }
    if (rc == 1)
        r->st.records++;
    return rc;
}

static int mr_reader_stream_next(kv_stream *s, kv_record *rec) {
    return mr_reader_next((mr_reader *)s, rec);
}

kv_stream *mr_reader_stream(mr_reader *r) { return &r->base; }

static int mr_reader_is_gzip(const mr_reader_options *o, const char *name) {
    if (o->format == MR_FORMAT_WHOLE_FILE || o->compression == MR_COMPRESSION_NONE)
        return 0;
    size_t n = strlen(name);
    return o->compression == MR_COMPRESSION_GZIP || (n >= 3 && strcmp(name + n - 3, ".gz") == 0);
}

int mr_reader_splittable(const mr_reader_options *opts, const char *name) {
    mr_reader_options none = {0};
    const mr_reader_options *o = opts ? opts : &none;
    return o->format != MR_FORMAT_WHOLE_FILE && !mr_reader_is_gzip(o, name);
}

/* Checks the options against the chunk and sets the range to read. */
static int mr_reader_check(mr_reader *r, uint64_t offset, uint64_t length) {
    uint64_t size = r->src->size;
    const char *what = r->gzip ? "gzip input" : "whole-file input";
    if ((unsigned)r->o.format > MR_FORMAT_WHOLE_FILE)
        return mr_reader_fail(r, EMBER_EINVAL, "unknown input format %d", (int)r->o.format);
    if ((r->gzip || r->o.format == MR_FORMAT_WHOLE_FILE) && offset != 0)
        return mr_reader_fail(r, EMBER_EINVAL, "%s is not splittable: a chunk at offset %llu", what,
                              (unsigned long long)offset);
    r->start = offset;
    r->end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
    if (r->gzip)
        r->end = UINT64_MAX;
    r->read_stop = size;
    if (r->o.format == MR_FORMAT_WHOLE_FILE && size > r->o.max_file_size)
        return mr_reader_fail(r, EMBER_ETOOBIG,
                              "file of %llu bytes is over the whole-file limit of %llu bytes",
                              (unsigned long long)size, (unsigned long long)r->o.max_file_size);
    if (r->o.format != MR_FORMAT_FIXED)
        return EMBER_OK;
    uint64_t R = r->o.record_length;
    if (R == 0)
        return mr_reader_fail(r, EMBER_EINVAL,
                              "fixed record length 0 is invalid: it should be "
                              "set to a value greater than zero "
                              "(ember.input.record.length)");
    if (!r->gzip && size % R != 0)
        return mr_reader_fail(r, EMBER_ECORRUPT,
                              "partial record(length = %llu) found at the end of the file: its "
                              "size %llu is not a multiple of the record length %llu",
                              (unsigned long long)(size % R), (unsigned long long)size,
                              (unsigned long long)R);
    if (r->gzip)
        return EMBER_OK;
    r->start = (offset + R - 1) / R * R;
    if (r->end > size)
        r->end = size;
    uint64_t stop = r->end < r->start ? r->start : (r->end + R - 1) / R * R;
    r->read_stop = stop < size ? stop : size;
    return EMBER_OK;
}

/* Allocates the buffers and positions the reader at its first byte. */
static int mr_reader_start(mr_reader *r) {
    if (r->o.format == MR_FORMAT_WHOLE_FILE)
        r->cap = r->src->size ? (size_t)r->src->size : 1;
    else if (r->o.format == MR_FORMAT_FIXED && r->cap < r->o.record_length)
        r->cap = r->o.record_length;
    if ((r->buf = malloc(r->cap)) == NULL)
        return mr_reader_fail(r, EMBER_ENOMEM, "out of memory for a buffer of %zu bytes", r->cap);
    if (r->gzip) {
        if ((r->zin = malloc(MR_READER_GZIP_INPUT)) == NULL)
            return mr_reader_fail(r, EMBER_ENOMEM, "out of memory");
        if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
            free(r->zin);
            r->zin = NULL;
            return mr_reader_fail(r, EMBER_ENOMEM, "zlib: cannot start inflating");
        }
        return EMBER_OK;
    }
    r->buf_off = r->read_off = r->start;
    if (r->o.format != MR_FORMAT_FIXED && r->start > 0)
        mr_reader_skip_line(r, r->start, 0);
    return EMBER_OK;
}

int mr_reader_open(mr_source *src, uint64_t offset, uint64_t length, const mr_reader_options *opts,
                   mr_reader **out, char *err, size_t err_size) {
    *out = NULL;
    mr_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        if (err != NULL && err_size > 0)
            snprintf(err, err_size, "%s: out of memory", src->name);
        return EMBER_ENOMEM;
    }
    r->src = src;
    if (opts != NULL)
        r->o = *opts;
    r->base.next = mr_reader_stream_next;
    r->cap = r->o.buffer_size ? r->o.buffer_size : MR_READER_BUFFER;
    if (r->o.max_line_length == 0)
        r->o.max_line_length = MR_READER_MAX_LINE;
    if (r->o.max_file_size == 0)
        r->o.max_file_size = MR_READER_MAX_FILE;
    r->separator = r->o.separator && r->o.separator[0] ? (uint8_t)r->o.separator[0] : '\t';
    r->gzip = mr_reader_is_gzip(&r->o, src->name);
    int rc = mr_reader_check(r, offset, length);
    if (rc == EMBER_OK)
        rc = mr_reader_start(r);
    if (rc != EMBER_OK) {
        if (err != NULL && err_size > 0)
            snprintf(err, err_size, "%s", r->err);
        mr_reader_close(r);
        return rc;
    }
    *out = r;
    return EMBER_OK;
}

const char *mr_reader_error(const mr_reader *r) { return r->err; }

void mr_reader_get_stats(const mr_reader *r, mr_reader_stats *stats) {
    *stats = r->st;
    stats->buffer_size = r->cap;
}

double mr_reader_progress(const mr_reader *r) {
    if (r->done)
        return 1.0;
    double p;
    if (r->gzip || r->o.format == MR_FORMAT_WHOLE_FILE)
        p = r->src->size ? (double)r->read_off / (double)r->src->size : 1.0;
    else {
        uint64_t at = r->buf_off + r->pos;
        p = r->end > r->start ? (double)(at - r->start) / (double)(r->end - r->start) : 1.0;
    }
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

void mr_reader_close(mr_reader *r) {
    if (r == NULL)
        return;
    if (r->zin != NULL)
        inflateEnd(&r->z);
    free(r->zin);
    free(r->buf);
    free(r);
}
