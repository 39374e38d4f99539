/* test_block_serve.c -- a replica's range for a task's worker
 * (datanode/block_serve.c): BlockReadRequest in, BlockReadResponse out
 * with the range as its bulk payload.
 *
 * The datanodes of datanode_fixture.h; the worker asking is rank WORKER
 * (above the datanodes), whose messages the fixture hands to
 * take_answer() with their payloads.  Covered: the range comes widened to
 * whole 512-byte chunks, from the chunk boundary at or below the offset
 * asked, with the CRC32C of each chunk (compared with the bytes written),
 * cut at the block's end and capped at MESSAGE_BLOCK_READ_MAX; a bad
 * token (wrong secret, write mode, expired, another block's) is
 * EMBER_EAUTH, another gen stamp or no replica EMBER_ENOENT, a range past
 * the end EMBER_EINVAL, a datanode without the secret yet EMBER_EAGAIN,
 * a replica with a flipped byte on disk EMBER_ECORRUPT for the chunks
 * holding it (others still served), each without a payload; a full link to the
 * worker holds the answers until datanode_on_writable(); and a datanode
 * destroyed with a read on its disk pool or an answer waiting for the
 * link leaks nothing (the suite runs under ASan/LSan). */
#include "datanode_fixture.h"

#define WORKER (NODES + 1)
#define ANSWERS_MAX 16
#define WAIT_MS 5000

/* What rank WORKER received: each answer (a copy) and its payload. */
static RankMessage *answers[ANSWERS_MAX];
static uint8_t *payloads[ANSWERS_MAX];
static int answer_source[ANSWERS_MAX];
static int nanswers;

static void take_answer(struct fixture *f, queued *q, const RankMessage *msg) {
    if (q->dest != WORKER || msg->body_case != RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE ||
        nanswers == ANSWERS_MAX) {
        f->unexpected++;
        return;
    }
    assert_int_equal(message_decode_rank(q->bytes, q->len, &answers[nanswers]), 0);
    payloads[nanswers] = q->payload; /* NULL when there is none */
    q->payload = NULL;
    answer_source[nanswers++] = q->source;
}

static int serve_setup(void **state) {
    nanswers = 0;
    if (setup(state) != 0)
        return -1;
    struct fixture *f = *state;
    f->take_other = take_answer;
    return 0;
}

static int serve_teardown(void **state) {
    for (int i = 0; i < nanswers; i++) {
        rank_message__free_unpacked(answers[i], NULL);
        free(payloads[i]);
    }
    nanswers = 0;
    return teardown(state);
}

static int is_finalized(struct fixture *f, const void *arg) {
    return received_count(f, *(const uint64_t *)arg) == 1;
}

/* A finalized replica of block id (gen stamp 1000 + id) on rank only,
 * holding len bytes made from seed; returns them (the caller frees). */
static uint8_t *write_block(struct fixture *f, int rank, uint64_t id, size_t len) {
    uint8_t *data = malloc(len);
    assert_non_null(data);
    fill_data(data, len, (uint32_t)id);
    write_spec ws = write_spec_for(f, rank, id, data, len);
    ws.n_downstream = 0;
    ws.window = 16;
    write_ok(f, &ws);
    assert_true(run_until(f, is_finalized, &id, WAIT_MS));
    return data;
}

/* The BlockReadRequest {request_id, [offset, +length) of id at gen stamp
 * gs, a token for (token_id, gs) made as ts says}. */
typedef struct {
    uint64_t request_id, block_id, gen_stamp, offset, length;
    uint64_t token_block_id; /* 0: block_id */
    const token_spec *token; /* NULL: good_read */
} ask_spec;

/* Builds s's request into *msg (its parts in the caller's storage). */
typedef struct {
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    ReadBlockRequest read;
    BlockReadRequest req;
    RankMessage msg;
} ask_parts;

static const RankMessage *ask_message(ask_parts *p, const ask_spec *s) {
    make_token(&p->token, p->mac, s->token_block_id != 0 ? s->token_block_id : s->block_id,
               s->gen_stamp, s->token != NULL ? s->token : &good_read);
    p->read = (ReadBlockRequest)READ_BLOCK_REQUEST__INIT;
    p->read.block_id = s->block_id;
    p->read.gen_stamp = s->gen_stamp;
    p->read.token = &p->token;
    p->read.offset = s->offset;
    p->read.length = s->length;
    p->req = (BlockReadRequest)BLOCK_READ_REQUEST__INIT;
    p->req.request_id = s->request_id;
    p->req.read = &p->read;
    p->msg = (RankMessage)RANK_MESSAGE__INIT;
    p->msg.body_case = RANK_MESSAGE__BODY_BLOCK_READ_REQUEST;
    p->msg.block_read_request = &p->req;
    return &p->msg;
}

/* Rank WORKER sends s to rank over the fake transport. */
static void ask(struct fixture *f, int rank, const ask_spec *s) {
    ask_parts p;
    inject(f, WORKER, rank, ask_message(&p, s));
}

static int answer_index(uint64_t request_id) {
    for (int i = 0; i < nanswers; i++)
        if (answers[i]->block_read_response->request_id == request_id)
            return i;
    return -1;
}

static int has_answer(struct fixture *f, const void *arg) {
    (void)f;
    return answer_index(*(const uint64_t *)arg) >= 0;
}

/* Runs the loop until rank WORKER has the answer to request_id. */
static const RankMessage *wait_answer(struct fixture *f, uint64_t request_id) {
    assert_true(run_until(f, has_answer, &request_id, WAIT_MS));
    return answers[answer_index(request_id)];
}

/* The answer to request_id is from rank, with the chunks [start, end)
 * of data: the bytes as its payload, the offset, one CRC32C per chunk. */
static void expect_range(struct fixture *f, int rank, uint64_t request_id, const uint8_t *data,
                         uint64_t start, uint64_t end) {
    const RankMessage *m = wait_answer(f, request_id);
    int i = answer_index(request_id);
    const BlockReadResponse *r = m->block_read_response;
    if (r->code != 0)
        print_message("request %llu: %s\n", (unsigned long long)request_id, r->message);
    assert_int_equal(r->code, 0);
    assert_int_equal(answer_source[i], rank);
    assert_int_equal(r->offset, start);
    assert_int_equal(m->bulk_length, end - start);
    assert_non_null(payloads[i]);
    assert_memory_equal(payloads[i], data + start, end - start);
    assert_int_equal(r->n_crcs, (end - start + 511) / 512);
    for (size_t c = 0; c < r->n_crcs; c++) {
        uint64_t at = start + c * 512;
        size_t cl = end - at < 512 ? (size_t)(end - at) : 512;
        assert_int_equal(r->crcs[c], crc32c(0, data + at, cl));
    }
}

/* The answer to request_id is code with no payload, its message holding
 * text. */
static void expect_refusal(struct fixture *f, uint64_t request_id, int code, const char *text) {
    const RankMessage *m = wait_answer(f, request_id);
    const BlockReadResponse *r = m->block_read_response;
    assert_int_equal(r->code, code);
    assert_int_equal(m->bulk_length, 0);
    assert_null(payloads[answer_index(request_id)]);
    assert_int_equal(r->n_crcs, 0);
    if (strstr(r->message, text) == NULL)
        fail_msg("refusal of request %llu: \"%s\" does not say \"%s\"",
                 (unsigned long long)request_id, r->message, text);
}

/* Rank WORKER asks rank for [offset, +length) of block id (gen stamp
 * 1000 + id) with a good token. */
static void ask_range(struct fixture *f, int rank, uint64_t request_id, uint64_t id,
                      uint64_t offset, uint64_t length) {
    ask(f, rank,
        &(ask_spec){.request_id = request_id,
                    .block_id = id,
                    .gen_stamp = 1000 + id,
                    .offset = offset,
                    .length = length});
}

/* Ranges inside a block of three packets and 1000 bytes: widened down and
 * up to chunk boundaries, and cut at the block's (short) last chunk. */
static void test_ranges(void **state) {
    struct fixture *f = *state;
    const size_t len = 3 * PACKET + 1000;
    uint64_t id = 1100;
    uint8_t *data = write_block(f, 1, id, len);
    ask_range(f, 1, 1, id, 1000, 5000);
    ask_range(f, 1, 2, id, 0, 512);
    ask_range(f, 1, 3, id, len - 700, 5000);
    ask_range(f, 1, 4, id, len - 1, 1);
    expect_range(f, 1, 1, data, 512, 6144);
    expect_range(f, 1, 2, data, 0, 512);
    expect_range(f, 1, 3, data, (len - 700) / 512 * 512, len);
    expect_range(f, 1, 4, data, (len - 1) / 512 * 512, len);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* A block longer than MESSAGE_BLOCK_READ_MAX: asked for more, one answer
 * carries at most that much, in whole chunks; the rest is asked next. */
static void test_range_capped(void **state) {
    struct fixture *f = *state;
    const size_t len = MESSAGE_BLOCK_READ_MAX + 3000;
    uint64_t id = 1101;
    uint8_t *data = write_block(f, 2, id, len);
    ask_range(f, 2, 1, id, 100, 9u << 20);
    expect_range(f, 2, 1, data, 0, MESSAGE_BLOCK_READ_MAX);
    ask_range(f, 2, 2, id, MESSAGE_BLOCK_READ_MAX, 9u << 20);
    expect_range(f, 2, 2, data, MESSAGE_BLOCK_READ_MAX, len);
    /* Widened, the range would reach the block's (short) last chunk and
     * be over the cap: cut at a chunk boundary, never inside a chunk. */
    ask_range(f, 2, 3, id, 2600, 9u << 20);
    expect_range(f, 2, 3, data, 2560, 2560 + MESSAGE_BLOCK_READ_MAX);
    free(data);
}

/* Requests refused, each with its code and no payload. */
static void test_refusals(void **state) {
    struct fixture *f = *state;
    const size_t len = PACKET + 10;
    uint64_t id = 1102, gs = 1000 + id;
    uint8_t *data = write_block(f, 1, id, len);
    static const token_spec wrong_secret = {"fedcba9876543210fedcba9876543210", AUTH_TOKEN_READ,
                                            60000};
    static const token_spec expired = {SECRET, AUTH_TOKEN_READ, -1000};
    const struct {
        int rank;
        ask_spec ask;
        int code;
        const char *text;
    } cases[] = {
        {1,
         {.block_id = id, .gen_stamp = gs, .length = 10, .token = &wrong_secret},
         EMBER_EAUTH,
         "denied"},
        {1,
         {.block_id = id, .gen_stamp = gs, .length = 10, .token = &good_write},
         EMBER_EAUTH,
         "denied"},
        {1,
         {.block_id = id, .gen_stamp = gs, .length = 10, .token = &expired},
         EMBER_EAUTH,
         "denied"},
        {1,
         {.block_id = id, .gen_stamp = gs, .length = 10, .token_block_id = id + 1},
         EMBER_EAUTH,
         "denied"}, /* another block's token */
        {1, {.block_id = id, .gen_stamp = gs + 1, .length = 10}, EMBER_ENOENT, "gen stamp"},
        {1,
         {.block_id = 999, .gen_stamp = gs, .length = 10},
         EMBER_ENOENT,
         "no replica of blk_999 on rank 1"},
        {2, {.block_id = id, .gen_stamp = gs, .length = 10}, EMBER_ENOENT, "no replica"},
        {1,
         {.block_id = id, .gen_stamp = gs, .offset = len, .length = 10},
         EMBER_EINVAL,
         "is not in blk_"},
        {1, {.block_id = id, .gen_stamp = gs, .length = 0}, EMBER_EINVAL, "is not in blk_"},
    };
    const size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        ask_spec s = cases[i].ask;
        s.request_id = i + 1;
        ask(f, cases[i].rank, &s);
    }
    for (size_t i = 0; i < n; i++)
        expect_refusal(f, i + 1, cases[i].code, cases[i].text);
    datanode_set_secret(f->dn[1], NULL); /* as before it registered: no token can be checked */
    ask_range(f, 1, n + 1, id, 0, 10);
    expect_refusal(f, n + 1, EMBER_EAGAIN, "rank 1 is not registered yet");
    assert_int_equal(f->bulk_sent, 0);
    free(data);
}

/* One bit flipped on disk in chunk 136 (byte 70000): a range holding it
 * is EMBER_ECORRUPT, naming the replica; ranges before and after are
 * still served. */
static void test_corrupt_replica(void **state) {
    struct fixture *f = *state;
    const size_t len = 2 * PACKET;
    uint64_t id = 1103;
    uint8_t *data = write_block(f, 3, id, len);
    flip_byte(f, 3, id, 70000);
    ask_range(f, 3, 1, id, 69000, 2000);
    ask_range(f, 3, 2, id, 0, 69632);
    ask_range(f, 3, 3, id, 70144, len);
    expect_refusal(f, 1, EMBER_ECORRUPT, "replica of blk_1103 on rank 3 is corrupt");
    expect_range(f, 3, 2, data, 0, 69632);
    expect_range(f, 3, 3, data, 70144, len);
    free(data);
}

static int refused_some(struct fixture *f, const void *arg) {
    return f->refused >= *(const int *)arg;
}

/* The link to the worker is full: the answers wait (nothing is sent, and
 * the datanode does not try again on its own) until datanode_on_writable()
 * for that rank; then both go, whole. */
static void test_full_link(void **state) {
    struct fixture *f = *state;
    const size_t len = PACKET;
    uint64_t id = 1104;
    uint8_t *data = write_block(f, 1, id, len);
    f->full_to = WORKER;
    f->full_until_ms = INT64_MAX;
    ask_range(f, 1, 1, id, 0, 600);
    ask_range(f, 1, 2, id, 4096, 600);
    int two = 2;
    assert_true(run_until(f, refused_some, &two, WAIT_MS));
    run_for(f, 200);
    assert_int_equal(f->refused, 2); /* one try each, none since */
    assert_int_equal(nanswers, 0);
    assert_int_equal(f->bulk_sent, 0);
    f->full_until_ms = 0; /* the hook's next turn: datanode_on_writable(WORKER) */
    expect_range(f, 1, 1, data, 0, 1024);
    expect_range(f, 1, 2, data, 4096, 4096 + 1024);
    assert_int_equal(f->refused, 2); /* they went at the first try after that */
    assert_int_equal(f->bulk_sent, 2);
    free(data);
}

/* Destroying a datanode whose answer waits for a full link, and another
 * whose read is still on its disk pool: everything is freed (LSan would
 * tell), nothing is sent after. */
static void test_destroy_in_flight(void **state) {
    struct fixture *f = *state;
    const size_t len = PACKET;
    uint64_t id1 = 1105, id2 = 1106;
    uint8_t *data1 = write_block(f, 1, id1, len);
    uint8_t *data2 = write_block(f, 2, id2, len);
    f->full_to = WORKER;
    f->full_until_ms = INT64_MAX;
    ask_range(f, 1, 1, id1, 0, len);
    int one = 1;
    assert_true(run_until(f, refused_some, &one, WAIT_MS));
    datanode_destroy(f->dn[1]);
    f->dn[1] = NULL;
    /* Straight to the datanode: no loop turn between the request and the
     * destroy, so the read is still on the pool (or its answer not yet
     * back on the loop). */
    ask_parts p;
    ask_spec s = {.request_id = 2, .block_id = id2, .gen_stamp = 1000 + id2, .length = len};
    datanode_on_rank_message(f->dn[2], WORKER, ask_message(&p, &s));
    datanode_destroy(f->dn[2]);
    f->dn[2] = NULL;
    f->full_to = -1;
    run_for(f, 100);
    assert_int_equal(nanswers, 0);
    free(data1);
    free(data2);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ranges, serve_setup, serve_teardown),
        cmocka_unit_test_setup_teardown(test_range_capped, serve_setup, serve_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, serve_setup, serve_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_replica, serve_setup, serve_teardown),
        cmocka_unit_test_setup_teardown(test_full_link, serve_setup, serve_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_flight, serve_setup, serve_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
