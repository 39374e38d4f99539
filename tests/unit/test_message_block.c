/* test_message_block.c -- the checks of proto/message_job.c on the
 * messages of a task's remote block reads: BlockReadRequest and
 * BlockReadResponse (worker <-> datanode, RankMessage) and
 * TaskBlockReadRequest and TaskBlockReadResponse (the umbilical).
 *
 * Each valid shape decodes (and comes back equal); each bad one is
 * refused by the decoder with EMBER_EPROTO and *out NULL: a request
 * without a ReadBlockRequest, without a token or with a MAC that is not
 * 32 bytes; a response with a positive code, a successful one whose CRC
 * count does not match its bulk payload's chunks (or whose payload is
 * over MESSAGE_BLOCK_READ_MAX), a failed one with a payload.  Bad
 * messages are built with the encoders, which do not validate. */
/* clang-format off: cmocka needs these first, in this order */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "proto/frame.h"
#include "proto/message.h"

/* A ReadBlockRequest with a token whose MAC is mac_len bytes (0: no
 * token); the caller's storage. */
typedef struct {
    uint8_t mac[64];
    BlockToken token;
    ReadBlockRequest read;
} read_parts;

static ReadBlockRequest *read_of(read_parts *p, size_t mac_len) {
    memset(p->mac, 0xa5, sizeof(p->mac));
    p->token = (BlockToken)BLOCK_TOKEN__INIT;
    p->token.block_id = 7;
    p->token.gen_stamp = 1007;
    p->token.mac.data = p->mac;
    p->token.mac.len = mac_len;
    p->read = (ReadBlockRequest)READ_BLOCK_REQUEST__INIT;
    p->read.block_id = 7;
    p->read.gen_stamp = 1007;
    p->read.offset = 1000;
    p->read.length = 4096;
    p->read.token = mac_len > 0 ? &p->token : NULL;
    return &p->read;
}

/* msg's decoding: EMBER_OK with the copy (freed here, its body checked
 * equal in the caller through check), or EMBER_EPROTO with *out NULL. */
static int decode_rank(const RankMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_rank(msg, 1 << 20, &buf, &len), 0);
    RankMessage *out = (RankMessage *)(void *)buf; /* any non-NULL: must be reset */
    int rc = message_decode_rank(buf, len, &out);
    if (rc == EMBER_OK) {
        assert_non_null(out);
        assert_int_equal(out->body_case, msg->body_case);
        assert_int_equal(out->bulk_length, msg->bulk_length);
        rank_message__free_unpacked(out, NULL);
    } else {
        assert_null(out);
    }
    free(buf);
    return rc;
}

static int decode_task(const TaskMessage *msg) {
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(message_encode_task(msg, 1 << 20, &buf, &len), 0);
    TaskMessage *out = (TaskMessage *)(void *)buf;
    int rc = message_decode_task(buf + FRAME_HEADER_LEN, len - FRAME_HEADER_LEN, &out);
    if (rc == EMBER_OK) {
        assert_non_null(out);
        assert_int_equal(out->body_case, msg->body_case);
        task_message__free_unpacked(out, NULL);
    } else {
        assert_null(out);
    }
    free(buf);
    return rc;
}

/* BlockReadRequest whose read has a MAC of mac_len bytes (0: no token;
 * -1: no read at all). */
static int decode_block_read_request(int mac_len) {
    read_parts p;
    BlockReadRequest r = BLOCK_READ_REQUEST__INIT;
    r.request_id = 3;
    r.read = mac_len >= 0 ? read_of(&p, (size_t)mac_len) : NULL;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_BLOCK_READ_REQUEST;
    m.block_read_request = &r;
    return decode_rank(&m);
}

static int decode_task_block_read_request(int mac_len) {
    read_parts p;
    TaskBlockReadRequest r = TASK_BLOCK_READ_REQUEST__INIT;
    r.request_id = 3;
    r.rank = 2;
    r.timeout_ms = 5000;
    r.read = mac_len >= 0 ? read_of(&p, (size_t)mac_len) : NULL;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_BLOCK_READ_REQUEST;
    m.block_read_request = &r;
    return decode_task(&m);
}

/* Requests: a token with a 32-byte MAC is needed, on the rank link and
 * on the umbilical alike. */
static void test_requests(void **state) {
    (void)state;
    assert_int_equal(decode_block_read_request(32), EMBER_OK);
    assert_int_equal(decode_block_read_request(0), EMBER_EPROTO);  /* no token */
    assert_int_equal(decode_block_read_request(31), EMBER_EPROTO); /* short MAC */
    assert_int_equal(decode_block_read_request(33), EMBER_EPROTO);
    assert_int_equal(decode_block_read_request(-1), EMBER_EPROTO); /* no read */
    assert_int_equal(decode_task_block_read_request(32), EMBER_OK);
    assert_int_equal(decode_task_block_read_request(0), EMBER_EPROTO);
    assert_int_equal(decode_task_block_read_request(16), EMBER_EPROTO);
    assert_int_equal(decode_task_block_read_request(-1), EMBER_EPROTO);
}

/* BlockReadResponse of code with ncrcs CRCs and a bulk payload of
 * bulk_length bytes. */
static int decode_block_read_response(int code, size_t ncrcs, uint64_t bulk_length) {
    uint32_t *crcs = calloc(ncrcs + 1, sizeof(*crcs));
    assert_non_null(crcs);
    BlockReadResponse r = BLOCK_READ_RESPONSE__INIT;
    r.request_id = 9;
    r.code = code;
    r.message = code != 0 ? "no replica of blk_7 on rank 2" : "";
    r.offset = 512;
    r.crcs = crcs;
    r.n_crcs = ncrcs;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    m.block_read_response = &r;
    m.bulk_length = bulk_length;
    m.bulk_tag = bulk_length > 0 ? 101 : 0;
    m.bulk_chunk = (uint32_t)bulk_length;
    int rc = decode_rank(&m);
    free(crcs);
    return rc;
}

/* Responses on the rank link: one CRC per 512-byte chunk of the payload,
 * a payload within MESSAGE_BLOCK_READ_MAX, errors negative and bare. */
static void test_rank_responses(void **state) {
    (void)state;
    assert_int_equal(decode_block_read_response(0, 1, 512), EMBER_OK);
    assert_int_equal(decode_block_read_response(0, 3, 1025), EMBER_OK); /* a short last chunk */
    assert_int_equal(
        decode_block_read_response(0, MESSAGE_BLOCK_READ_MAX / 512, MESSAGE_BLOCK_READ_MAX),
        EMBER_OK);
    assert_int_equal(decode_block_read_response(0, 2, 1025), EMBER_EPROTO); /* one CRC short */
    assert_int_equal(decode_block_read_response(0, 4, 1025), EMBER_EPROTO); /* one too many */
    assert_int_equal(decode_block_read_response(0, 1, 0), EMBER_EPROTO);    /* CRCs, no bytes */
    assert_int_equal(decode_block_read_response(0, MESSAGE_BLOCK_READ_MAX / 512 + 1,
                                                MESSAGE_BLOCK_READ_MAX + 512),
                     EMBER_EPROTO); /* over the cap */
    assert_int_equal(decode_block_read_response(EMBER_ENOENT, 0, 0), EMBER_OK);
    assert_int_equal(decode_block_read_response(EMBER_ECORRUPT, 0, 0), EMBER_OK);
    assert_int_equal(decode_block_read_response(-EMBER_ENOENT, 0, 0), EMBER_EPROTO); /* > 0 */
    assert_int_equal(decode_block_read_response(1, 0, 0), EMBER_EPROTO);
    assert_int_equal(decode_block_read_response(EMBER_EIO, 1, 512), EMBER_EPROTO); /* + bytes */
}

static int decode_task_block_read_response(int code) {
    uint32_t crcs[2] = {1, 2};
    TaskBlockReadResponse r = TASK_BLOCK_READ_RESPONSE__INIT;
    r.request_id = 4;
    r.code = code;
    r.offset = 0;
    r.length = code == 0 ? 1000 : 0;
    r.crcs = code == 0 ? crcs : NULL;
    r.n_crcs = code == 0 ? 2 : 0;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    m.block_read_response = &r;
    return decode_task(&m);
}

/* The umbilical's answer: code 0 or negative. */
static void test_task_responses(void **state) {
    (void)state;
    assert_int_equal(decode_task_block_read_response(0), EMBER_OK);
    assert_int_equal(decode_task_block_read_response(EMBER_ETIMEDOUT), EMBER_OK);
    assert_int_equal(decode_task_block_read_response(-EMBER_ETIMEDOUT), EMBER_EPROTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_rank_responses),
        cmocka_unit_test(test_task_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
