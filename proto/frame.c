/* frame.c -- length-prefixed frame reader (see frame.h).
 *
 * The buffer holds [start, end) unread bytes.  It grows only to hold one
 * frame of at most the cap plus its header, and whatever extra arrived in
 * the same read; consumed bytes are moved to the front before a refill. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "frame.h"

#define FRAME_READ_CHUNK 65536

struct frame_reader {
    uint8_t *buf;
    size_t cap, start, end;
    uint32_t max_payload;
};

int frame_reader_create(frame_reader **out, uint32_t max_payload) {
    frame_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return EMBER_ENOMEM;
    r->max_payload = max_payload;
    *out = r;
    return EMBER_OK;
}

void frame_reader_destroy(frame_reader *reader) {
    if (reader == NULL)
        return;
    free(reader->buf);
    free(reader);
}

void frame_reader_set_max(frame_reader *reader, uint32_t max_payload) {
    reader->max_payload = max_payload;
}

/* Makes room for want more bytes after end. */
static int frame_reader_reserve(frame_reader *r, size_t want) {
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end >= want)
        return EMBER_OK;
    size_t ncap = r->cap ? r->cap : 1024;
    while (ncap - r->end < want)
        ncap *= 2;
    uint8_t *p = realloc(r->buf, ncap);
    if (p == NULL)
        return EMBER_ENOMEM;
    r->buf = p;
    r->cap = ncap;
    return EMBER_OK;
}

int frame_reader_feed(frame_reader *reader, const uint8_t *data, size_t len) {
    if (len == 0)
        return EMBER_OK;
    int rc = frame_reader_reserve(reader, len);
    if (rc != EMBER_OK)
        return rc;
    memcpy(reader->buf + reader->end, data, len);
    reader->end += len;
    return EMBER_OK;
}

static uint32_t frame_get_header(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void frame_put_header(uint8_t header[FRAME_HEADER_LEN], uint32_t len) {
    header[0] = (uint8_t)(len >> 24);
    header[1] = (uint8_t)(len >> 16);
    header[2] = (uint8_t)(len >> 8);
    header[3] = (uint8_t)len;
}

int frame_reader_fill(frame_reader *reader, int fd) {
    /* Never read more than the frame in progress can need plus one chunk,
     * so an over-long stream is caught by the header check first. */
    size_t want = FRAME_READ_CHUNK;
    size_t have = reader->end - reader->start;
    if (have >= FRAME_HEADER_LEN) {
        uint32_t len = frame_get_header(reader->buf + reader->start);
        if (len > reader->max_payload)
            return EMBER_ETOOBIG;
        size_t need = FRAME_HEADER_LEN + (size_t)len;
        if (need > have && need - have > want)
            want = need - have;
    }
    int rc = frame_reader_reserve(reader, want);
    if (rc != EMBER_OK)
        return rc;
    for (;;) {
        ssize_t n = read(fd, reader->buf + reader->end, reader->cap - reader->end);
        if (n > 0) {
            reader->end += (size_t)n;
            return (int)n;
        }
        if (n == 0)
            return EMBER_ECLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return EMBER_EAGAIN;
        return errno == ECONNRESET ? EMBER_ECLOSED : EMBER_EIO;
    }
}

int frame_reader_next(frame_reader *reader, const uint8_t **payload, size_t *len) {
    size_t have = reader->end - reader->start;
    if (have < FRAME_HEADER_LEN)
        return 0;
    uint32_t n = frame_get_header(reader->buf + reader->start);
    if (n > reader->max_payload)
        return EMBER_ETOOBIG;
    if (have - FRAME_HEADER_LEN < n)
        return 0;
    *payload = reader->buf + reader->start + FRAME_HEADER_LEN;
    *len = n;
    reader->start += FRAME_HEADER_LEN + n;
    return 1;
}

size_t frame_reader_buffered(const frame_reader *reader) { return reader->end - reader->start; }
