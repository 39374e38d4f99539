/* test_frame.c -- unit tests for proto/frame.c.
 *
 * Covers reassembly of a stream split at every byte boundary, several
 * frames in one feed, the zero-length frame, the size cap (refused from the
 * header alone, before any payload arrives; exactly the cap accepted;
 * raised with frame_reader_set_max()), frame_reader_buffered() on a partial
 * frame, and frame_reader_fill() on a non-blocking socketpair: EAGAIN when
 * empty, the byte count when data is there, ECLOSED after the peer closes,
 * ETOOBIG once an over-cap header is buffered, and a frame larger than one
 * read chunk, and feeding zero bytes.  Each test gets a fresh reader from
 * setup(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "proto/frame.h"

#define TEST_MAX 1024u

struct fixture {
    frame_reader *reader;
    int sv[2]; /* socketpair, -1 when closed or unused */
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || frame_reader_create(&f->reader, TEST_MAX) != 0) {
        free(f);
        return -1;
    }
    f->sv[0] = f->sv[1] = -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    for (int i = 0; i < 2; i++)
        if (f->sv[i] >= 0)
            close(f->sv[i]);
    frame_reader_destroy(f->reader);
    free(f);
    return 0;
}

/* Opens f->sv as a stream socketpair, both ends non-blocking. */
static void open_socketpair(struct fixture *f) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv), 0);
    for (int i = 0; i < 2; i++) {
        int flags = fcntl(f->sv[i], F_GETFL);
        assert_true(flags >= 0);
        assert_int_equal(fcntl(f->sv[i], F_SETFL, flags | O_NONBLOCK), 0);
    }
}

/* Appends a frame with payload (len bytes) to buf at *off. */
static void put_frame(uint8_t *buf, size_t *off, const uint8_t *payload, uint32_t len) {
    frame_put_header(buf + *off, len);
    *off += FRAME_HEADER_LEN;
    if (len > 0)
        memcpy(buf + *off, payload, len);
    *off += len;
}

/* The test stream: three frames of 5, 0 and 300 bytes. */
static const uint32_t stream_lens[] = {5, 0, 300};
#define STREAM_FRAMES 3

static uint8_t stream_byte(int frame, uint32_t i) { return (uint8_t)(frame * 71 + i * 13 + 1); }

static size_t build_stream(uint8_t *buf) {
    size_t off = 0;
    uint8_t payload[300];
    for (int k = 0; k < STREAM_FRAMES; k++) {
        for (uint32_t i = 0; i < stream_lens[k]; i++)
            payload[i] = stream_byte(k, i);
        put_frame(buf, &off, payload, stream_lens[k]);
    }
    return off;
}

/* Takes every whole frame buffered, checking each against the test stream
 * from frame *got on. */
static void take_frames(frame_reader *r, int *got) {
    const uint8_t *payload;
    size_t len;
    int rc;
    while ((rc = frame_reader_next(r, &payload, &len)) == 1) {
        assert_true(*got < STREAM_FRAMES);
        assert_int_equal(len, stream_lens[*got]);
        for (uint32_t i = 0; i < len; i++)
            assert_int_equal(payload[i], stream_byte(*got, i));
        (*got)++;
    }
    assert_int_equal(rc, 0);
}

static void test_put_header(void **state) {
    (void)state;
    uint8_t h[FRAME_HEADER_LEN];
    frame_put_header(h, 0x01020304u);
    assert_int_equal(h[0], 0x01);
    assert_int_equal(h[1], 0x02);
    assert_int_equal(h[2], 0x03);
    assert_int_equal(h[3], 0x04);
    frame_put_header(h, 0xfffffffeu);
    assert_int_equal(h[0], 0xff);
    assert_int_equal(h[3], 0xfe);
}

static void test_split_everywhere(void **state) {
    (void)state;
    uint8_t stream[512];
    size_t total = build_stream(stream);
    for (size_t cut = 0; cut <= total; cut++) {
        frame_reader *r;
        assert_int_equal(frame_reader_create(&r, TEST_MAX), 0);
        int got = 0;
        if (cut > 0)
            assert_int_equal(frame_reader_feed(r, stream, cut), 0);
        take_frames(r, &got);
        if (cut < total)
            assert_int_equal(frame_reader_feed(r, stream + cut, total - cut), 0);
        take_frames(r, &got);
        assert_int_equal(got, STREAM_FRAMES);
        assert_int_equal(frame_reader_buffered(r), 0);
        frame_reader_destroy(r);
    }
}

static void test_byte_by_byte(void **state) {
    struct fixture *f = *state;
    uint8_t stream[512];
    size_t total = build_stream(stream);
    int got = 0;
    for (size_t i = 0; i < total; i++) {
        assert_int_equal(frame_reader_feed(f->reader, stream + i, 1), 0);
        take_frames(f->reader, &got);
    }
    assert_int_equal(got, STREAM_FRAMES);
    assert_int_equal(frame_reader_buffered(f->reader), 0);
}

static void test_several_in_one_feed(void **state) {
    struct fixture *f = *state;
    uint8_t stream[512];
    size_t total = build_stream(stream);
    assert_int_equal(frame_reader_feed(f->reader, stream, total), 0);
    int got = 0;
    take_frames(f->reader, &got);
    assert_int_equal(got, STREAM_FRAMES);
    /* And the reader keeps working for a second batch. */
    assert_int_equal(frame_reader_feed(f->reader, stream, total), 0);
    got = 0;
    take_frames(f->reader, &got);
    assert_int_equal(got, STREAM_FRAMES);
}

static void test_zero_length(void **state) {
    struct fixture *f = *state;
    uint8_t h[FRAME_HEADER_LEN];
    const uint8_t *payload = NULL;
    size_t len = 99;
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 0); /* nothing yet */
    frame_put_header(h, 0);
    assert_int_equal(frame_reader_feed(f->reader, h, 3), 0);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 0); /* partial header */
    assert_int_equal(frame_reader_feed(f->reader, h + 3, 1), 0);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(frame_reader_buffered(f->reader), 0);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 0);
}

static void test_too_big_from_header(void **state) {
    struct fixture *f = *state;
    uint8_t h[FRAME_HEADER_LEN];
    const uint8_t *payload;
    size_t len;
    /* Only the 4 header bytes: refused before any payload arrives. */
    frame_put_header(h, TEST_MAX + 1);
    assert_int_equal(frame_reader_feed(f->reader, h, sizeof h), 0);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), EMBER_ETOOBIG);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), EMBER_ETOOBIG); /* stays refused */

    /* The largest 32-bit length too (no overflow in the size check). */
    frame_reader *r;
    assert_int_equal(frame_reader_create(&r, TEST_MAX), 0);
    frame_put_header(h, UINT32_MAX);
    assert_int_equal(frame_reader_feed(r, h, sizeof h), 0);
    assert_int_equal(frame_reader_next(r, &payload, &len), EMBER_ETOOBIG);
    frame_reader_destroy(r);
}

static void test_exactly_max(void **state) {
    struct fixture *f = *state;
    uint8_t *buf = calloc(1, FRAME_HEADER_LEN + TEST_MAX);
    assert_non_null(buf);
    frame_put_header(buf, TEST_MAX);
    buf[FRAME_HEADER_LEN + TEST_MAX - 1] = 0x5a;
    const uint8_t *payload;
    size_t len;
    assert_int_equal(frame_reader_feed(f->reader, buf, FRAME_HEADER_LEN), 0);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 0); /* waits for the payload */
    assert_int_equal(frame_reader_feed(f->reader, buf + FRAME_HEADER_LEN, TEST_MAX), 0);
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 1);
    assert_int_equal(len, TEST_MAX);
    assert_int_equal(payload[TEST_MAX - 1], 0x5a);
    free(buf);
}

static void test_set_max_raises_cap(void **state) {
    struct fixture *f = *state;
    frame_reader_set_max(f->reader, 10);
    uint8_t buf[FRAME_HEADER_LEN + 20];
    size_t off = 0;
    uint8_t payload[20];
    for (int i = 0; i < 20; i++)
        payload[i] = (uint8_t)i;
    put_frame(buf, &off, payload, 20);
    const uint8_t *got;
    size_t len;
    assert_int_equal(frame_reader_feed(f->reader, buf, FRAME_HEADER_LEN), 0);
    assert_int_equal(frame_reader_next(f->reader, &got, &len), EMBER_ETOOBIG);
    frame_reader_set_max(f->reader, 20);
    assert_int_equal(frame_reader_next(f->reader, &got, &len), 0); /* now only incomplete */
    assert_int_equal(frame_reader_feed(f->reader, buf + FRAME_HEADER_LEN, 20), 0);
    assert_int_equal(frame_reader_next(f->reader, &got, &len), 1);
    assert_int_equal(len, 20);
    assert_memory_equal(got, payload, 20);
}

static void test_buffered_partial(void **state) {
    struct fixture *f = *state;
    uint8_t buf[FRAME_HEADER_LEN + 10];
    size_t off = 0;
    uint8_t payload[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    put_frame(buf, &off, payload, 10);
    assert_int_equal(frame_reader_buffered(f->reader), 0);
    assert_int_equal(frame_reader_feed(f->reader, buf, 2), 0);
    assert_int_equal(frame_reader_buffered(f->reader), 2);
    assert_int_equal(frame_reader_feed(f->reader, buf + 2, 5), 0);
    assert_int_equal(frame_reader_buffered(f->reader), 7);
    const uint8_t *got;
    size_t len;
    assert_int_equal(frame_reader_next(f->reader, &got, &len), 0);
    assert_int_equal(frame_reader_buffered(f->reader), 7); /* next took nothing */
    assert_int_equal(frame_reader_feed(f->reader, buf + 7, sizeof buf - 7), 0);
    assert_int_equal(frame_reader_next(f->reader, &got, &len), 1);
    assert_int_equal(frame_reader_buffered(f->reader), 0);
}

static void test_fill_socketpair(void **state) {
    struct fixture *f = *state;
    open_socketpair(f);
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), EMBER_EAGAIN);

    uint8_t buf[FRAME_HEADER_LEN + 3];
    size_t off = 0;
    const uint8_t payload[3] = {'a', 'b', 'c'};
    put_frame(buf, &off, payload, 3);
    assert_int_equal(write(f->sv[1], buf, off), (ssize_t)off);
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), (int)off);
    const uint8_t *got;
    size_t len;
    assert_int_equal(frame_reader_next(f->reader, &got, &len), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "abc", 3);
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), EMBER_EAGAIN);

    /* Half a frame, then the peer closes: the rest is reported buffered. */
    assert_int_equal(write(f->sv[1], buf, 5), 5);
    assert_int_equal(close(f->sv[1]), 0);
    f->sv[1] = -1;
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), 5);
    assert_int_equal(frame_reader_next(f->reader, &got, &len), 0);
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), EMBER_ECLOSED);
    assert_int_equal(frame_reader_buffered(f->reader), 5);
}

static void test_fill_bad_fd(void **state) {
    struct fixture *f = *state;
    assert_int_equal(frame_reader_fill(f->reader, -1), EMBER_EIO);
}

static void test_fill_too_big(void **state) {
    struct fixture *f = *state;
    open_socketpair(f);
    uint8_t h[FRAME_HEADER_LEN];
    frame_put_header(h, TEST_MAX + 1);
    assert_int_equal(write(f->sv[1], h, sizeof h), (ssize_t)sizeof h);
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), FRAME_HEADER_LEN);
    /* The header is in: the next fill refuses to read on, data or not. */
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), EMBER_ETOOBIG);
    uint8_t junk[64] = {0};
    assert_int_equal(write(f->sv[1], junk, sizeof junk), (ssize_t)sizeof junk);
    assert_int_equal(frame_reader_fill(f->reader, f->sv[0]), EMBER_ETOOBIG);
    assert_int_equal(frame_reader_buffered(f->reader), FRAME_HEADER_LEN); /* nothing more read */
    const uint8_t *got;
    size_t len;
    assert_int_equal(frame_reader_next(f->reader, &got, &len), EMBER_ETOOBIG);
}

/* A frame bigger than one 64 KiB read chunk, written and read in pieces. */
static void test_fill_large_frame(void **state) {
    struct fixture *f = *state;
    enum { BIG = 300 * 1000 };
    frame_reader_set_max(f->reader, BIG);
    open_socketpair(f);
    uint8_t *buf = malloc(FRAME_HEADER_LEN + BIG);
    assert_non_null(buf);
    frame_put_header(buf, BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[FRAME_HEADER_LEN + i] = (uint8_t)(i * 7);
    size_t sent = 0, total = FRAME_HEADER_LEN + BIG;
    const uint8_t *got = NULL;
    size_t len = 0;
    int rc = 0, rounds = 0;
    while (rc != 1) {
        assert_true(++rounds < 100000);
        if (sent < total) {
            ssize_t n = write(f->sv[1], buf + sent, total - sent);
            if (n < 0)
                assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            else
                sent += (size_t)n;
        }
        int filled = frame_reader_fill(f->reader, f->sv[0]);
        assert_true(filled > 0 || filled == EMBER_EAGAIN);
        rc = frame_reader_next(f->reader, &got, &len);
        assert_true(rc == 0 || rc == 1);
    }
    assert_int_equal(sent, total);
    assert_int_equal(len, BIG);
    assert_memory_equal(got, buf + FRAME_HEADER_LEN, BIG);
    free(buf);
}

/* Feeding nothing is a no-op, also before the first byte ever arrived. */
static void test_feed_empty(void **state) {
    struct fixture *f = *state;
    static const uint8_t none[1] = {0};
    /* Regression: frame_reader_feed() computed reader->buf + reader->end
     * with buf still NULL on a fresh reader and memcpy()'d to NULL, which
     * UBSan aborts on. */
    assert_int_equal(frame_reader_feed(f->reader, none, 0), 0);
    assert_int_equal(frame_reader_buffered(f->reader), 0);
    const uint8_t *payload;
    size_t len;
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 0);
    uint8_t h[FRAME_HEADER_LEN];
    frame_put_header(h, 0);
    assert_int_equal(frame_reader_feed(f->reader, h, sizeof h), 0);
    assert_int_equal(frame_reader_feed(f->reader, none, 0), 0); /* and after */
    assert_int_equal(frame_reader_next(f->reader, &payload, &len), 1);
    assert_int_equal(len, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_in_one_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big_from_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exactly_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_max_raises_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_socketpair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_bad_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_large_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_empty, setup, teardown), /* keep last */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
