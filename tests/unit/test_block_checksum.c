/* test_block_checksum.c -- unit tests for datanode/block_checksum.c, the
 * datanode's answer to a BlockChecksumRequest (for `ember dfs -checksum').
 *
 * Uses the three-datanode fixture of test_datanode.c (datanode_fixture.h):
 * blocks are written through a real pipeline, then a client in a forked
 * child sends one BlockChecksumRequest to a datanode's data port and
 * reads its one answer and the end of the connection.  The expected MD5
 * is computed here from the data written (CRC32C of each 512 bytes, each
 * as 4 big-endian bytes, then MD5), never from the replica on disk.
 *
 * Covers: every replica of a block of 200,000 bytes (not a whole number
 * of chunks) and of an empty block answers bytes_per_crc 512, the right
 * crc_per_block and MD5, and the connection closes; refusals (a token of
 * the wrong MAC, mode or block, expired; another gen stamp; no replica;
 * no secret yet), none of which reports anything to the primary; a
 * replica damaged in its data or in its stored CRCs answers
 * EMBER_ECORRUPT and is reported to the primary (RankMessage.bad_replica
 * from its own rank), while the other replicas still answer. */
#include <openssl/evp.h>

#include "datanode_fixture.h"

typedef struct {
    int port;
    uint64_t block_id, gen_stamp;
    token_spec token;
} checksum_spec;

typedef struct {
    int rc;         /* a client-side failure (0: none) */
    int error_code; /* a DataError's code (0: none) */
    char error_message[200];
    int answered; /* a BlockChecksumResponse came */
    uint32_t bytes_per_crc;
    uint64_t crc_per_block;
    uint8_t md5[16];
    int eof; /* the datanode closed the connection after its answer */
} checksum_result;

static void child_checksum(const void *arg, void *out) {
    const checksum_spec *s = arg;
    checksum_result *res = out;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, s->block_id, s->gen_stamp, &s->token);
    BlockChecksumRequest req = BLOCK_CHECKSUM_REQUEST__INIT;
    req.block_id = s->block_id;
    req.gen_stamp = s->gen_stamp;
    req.token = &token;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_BLOCK_CHECKSUM;
    msg.block_checksum = &req;
    res->rc = client_send(fd, &msg);
    int rc;
    DataMessage *m = res->rc == EMBER_OK ? client_recv(fd, reader, 3000, &rc) : NULL;
    if (m == NULL) {
        if (res->rc == EMBER_OK)
            res->rc = rc;
    } else {
        if (m->body_case == DATA_MESSAGE__BODY_ERROR) {
            res->error_code = m->error->code;
            snprintf(res->error_message, sizeof(res->error_message), "%s", m->error->message);
        } else if (m->body_case == DATA_MESSAGE__BODY_BLOCK_CHECKSUM_RESULT) {
            res->answered = 1;
            res->bytes_per_crc = m->block_checksum_result->bytes_per_crc;
            res->crc_per_block = m->block_checksum_result->crc_per_block;
            memcpy(res->md5, m->block_checksum_result->md5.data, 16);
        } else {
            res->rc = EMBER_EPROTO;
        }
        data_message__free_unpacked(m, NULL);
        m = client_recv(fd, reader, 3000, &rc);
        res->eof = m == NULL && rc == EMBER_ECLOSED;
        if (m != NULL)
            data_message__free_unpacked(m, NULL);
    }
    close(fd);
    frame_reader_destroy(reader);
}

static checksum_result ask_checksum(struct fixture *f, int rank, uint64_t id, uint64_t gs,
                                    const token_spec *token) {
    checksum_spec s = {
        .port = datanode_port(f->dn[rank]), .block_id = id, .gen_stamp = gs, .token = *token};
    checksum_result res;
    run_child(f, child_checksum, &s, &res, sizeof(res));
    return res;
}

/* What the answer must be: MD5 over the big-endian CRC32C of each 512
 * bytes of data. */
static void expected_md5(const uint8_t *data, size_t len, uint8_t md5[16]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
    for (size_t off = 0; off < len; off += 512) {
        uint32_t crc = crc32c(0, data + off, len - off < 512 ? len - off : 512);
        uint8_t be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
                         (uint8_t)crc};
        assert_int_equal(EVP_DigestUpdate(ctx, be, 4), 1);
    }
    unsigned int n = 0;
    assert_int_equal(EVP_DigestFinal_ex(ctx, md5, &n), 1);
    assert_int_equal(n, 16);
    EVP_MD_CTX_free(ctx);
}

static int finalized_everywhere(struct fixture *f, const void *arg) {
    return received_count(f, *(const uint64_t *)arg) == NODES;
}

/* Writes len bytes of block id through ranks 1 -> 2 -> 3. */
static void write_block(struct fixture *f, uint64_t id, const uint8_t *data, size_t len) {
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
}

static void assert_answer(const checksum_result *res, const uint8_t *data, size_t len) {
    uint8_t md5[16];
    expected_md5(data, len, md5);
    assert_int_equal(res->rc, 0);
    assert_int_equal(res->error_code, 0);
    assert_true(res->answered);
    assert_int_equal(res->bytes_per_crc, 512);
    assert_int_equal(res->crc_per_block, (len + 511) / 512);
    assert_memory_equal(res->md5, md5, 16);
    assert_true(res->eof);
}

static void test_checksum_of_replicas(void **state) {
    struct fixture *f = *state;
    static uint8_t data[200000];
    fill_data(data, sizeof(data), 11);
    uint64_t id = 10;
    write_block(f, id, data, sizeof(data));
    for (int rank = 1; rank <= NODES; rank++) {
        checksum_result res = ask_checksum(f, rank, id, 1000 + id, &good_read);
        assert_answer(&res, data, sizeof(data));
    }
    /* An empty replica: no CRC, the MD5 of nothing. */
    uint64_t empty = 11;
    write_block(f, empty, data, 0);
    checksum_result res = ask_checksum(f, 2, empty, 1000 + empty, &good_read);
    assert_answer(&res, data, 0);
    static const uint8_t md5_of_nothing[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                                               0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
    assert_memory_equal(res.md5, md5_of_nothing, 16);
    assert_int_equal(f->nbad, 0);
}

static void test_checksum_refused(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 12);
    uint64_t id = 20, gs = 1000 + id;
    write_block(f, id, data, sizeof(data));
    const token_spec bad[] = {
        {"not-the-secret", AUTH_TOKEN_READ, 60000}, /* wrong MAC */
        {SECRET, AUTH_TOKEN_READ, -1000},           /* expired */
        {SECRET, AUTH_TOKEN_WRITE, 60000},          /* a write token */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        checksum_result res = ask_checksum(f, 1, id, gs, &bad[i]);
        assert_int_equal(res.error_code, EMBER_EAUTH);
        assert_false(res.answered);
        assert_true(res.eof);
    }
    /* Another gen stamp (with a token for it), and a block not there. */
    checksum_result res = ask_checksum(f, 1, id, gs + 1, &good_read);
    assert_int_equal(res.error_code, EMBER_ENOENT);
    assert_non_null(strstr(res.error_message, "has gen stamp 1020, not 1021"));
    res = ask_checksum(f, 1, 999, 1999, &good_read);
    assert_int_equal(res.error_code, EMBER_ENOENT);
    assert_true(res.eof);
    /* Not registered yet. */
    datanode_set_secret(f->dn[1], NULL);
    res = ask_checksum(f, 1, id, gs, &good_read);
    assert_int_equal(res.error_code, EMBER_EAGAIN);
    datanode_set_secret(f->dn[1], SECRET);
    res = ask_checksum(f, 1, id, gs, &good_read);
    assert_answer(&res, data, sizeof(data));
    run_for(f, 20);
    assert_int_equal(f->nbad, 0);
}

/* Flips a byte of rank's meta file of block id at offset. */
static void flip_meta_byte(struct fixture *f, int rank, uint64_t id, off_t offset) {
    char path[256];
    snprintf(path, sizeof(path), "%s/current/finalized/blk_%llu_%llu.meta", f->dirs[rank],
             (unsigned long long)id, (unsigned long long)(1000 + id));
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, offset), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}

static int one_bad_report(struct fixture *f, const void *arg) {
    (void)arg;
    return f->nbad >= 1;
}

static void test_checksum_corrupt(void **state) {
    struct fixture *f = *state;
    static uint8_t data[100000];
    fill_data(data, sizeof(data), 13);
    uint64_t id = 30;
    write_block(f, id, data, sizeof(data));

    /* Damaged data on rank 2: refused, and reported by rank 2 itself. */
    flip_byte(f, 2, id, 70000);
    checksum_result res = ask_checksum(f, 2, id, 1000 + id, &good_read);
    assert_int_equal(res.error_code, EMBER_ECORRUPT);
    assert_non_null(strstr(res.error_message, "replica of blk_30 on rank 2 is corrupt"));
    assert_false(res.answered);
    assert_true(res.eof);
    assert_true(run_until(f, one_bad_report, NULL, 1000));
    assert_int_equal(f->nbad, 1);
    assert_int_equal(f->bad[0].source, 2);
    assert_int_equal(f->bad[0].rank, 2);
    assert_int_equal(f->bad[0].block_id, id);

    /* A damaged stored CRC on rank 3 (the data intact): refused too. */
    flip_meta_byte(f, 3, id, 16 + 4 * 100);
    res = ask_checksum(f, 3, id, 1000 + id, &good_read);
    assert_int_equal(res.error_code, EMBER_ECORRUPT);
    run_for(f, 20);
    assert_int_equal(f->nbad, 2);
    assert_int_equal(f->bad[1].source, 3);
    assert_int_equal(f->bad[1].block_id, id);

    /* Rank 1's replica still answers, right. */
    res = ask_checksum(f, 1, id, 1000 + id, &good_read);
    assert_answer(&res, data, sizeof(data));
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checksum_of_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_corrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
