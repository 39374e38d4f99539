/* test_worker_block.c -- a task's remote block reads through its worker
 * (worker/worker_mr_shuffle.c: worker_mr_block_read_start,
 * worker_mr_handle_block_read_response, worker_mr_peer_dead).
 *
 * The fixture is worker_mr_fixture.h's: a real container runs the test
 * task (tests/tools/mr_test_task.c) in its "blockread" mode, which sends
 * TaskBlockReadRequests on the umbilical, checks each range it gets in
 * its memfd against the CRCs that come with it, and reports what it got
 * as counters; the datanode asked is rank DN of the fake link, whose
 * requests the test reads and answers (queue_from()).
 *
 * Covered: a TaskBlockReadRequest becomes a BlockReadRequest to the rank
 * named, carrying the task's block, gen stamp, range and token; the
 * answer's payload reaches the task in a memfd with
 * TaskBlockReadResponse{offset, length, crcs}; error answers (the code
 * and the datanode's message) and an answer with another range are
 * passed on, and no block read failure is reported to rank 0 as a
 * FetchFailure; no answer by the task's timeout_ms (not the shuffle's)
 * is EMBER_ETIMEDOUT, and the answer coming after that is dropped;
 * worker_mr_peer_dead() fails the reads asked of that rank at once with
 * EMBER_ECLOSED, not those asked of another; rank 0, a rank past
 * INT32_MAX and a rank that does not exist are refused.  No container
 * is left after any test.
 *
 * This binary is its own exec wrapper (`task --exec-wrapper`). */
#include "worker_mr_fixture.h"

#include "common/checksum.h"

#define READER "attempt_202612052300_0001_r_000900_0" /* an id no other test binary runs: the attempts' cgroups are per host */
#define BLOCK 77 /* the test task's block (gen stamp 1077) */

/* Launches READER: one read per rank of ranks ("r1,r2,..."), the Nth of
 * length bytes from offset + (N - 1) * stride, each waiting timeout_ms. */
static void launch_reads(fixture *f, const char *ranks, uint64_t offset, uint64_t length,
                         uint64_t stride, int64_t timeout_ms) {
    char r[128], o[64], l[64], s[64], t[64];
    snprintf(r, sizeof(r), "test.task.block.ranks=%s", ranks);
    snprintf(o, sizeof(o), "test.task.block.offset=%llu", (unsigned long long)offset);
    snprintf(l, sizeof(l), "test.task.block.length=%llu", (unsigned long long)length);
    snprintf(s, sizeof(s), "test.task.block.stride=%llu", (unsigned long long)stride);
    snprintf(t, sizeof(t), "test.task.block.timeout=%lld", (long long)timeout_ms);
    const char *conf[] = {"test.task.mode=blockread", r, o, l, s, t, NULL};
    launch(f, READER, TASK_KIND__TASK_KIND_REDUCE, 0, 0, conf);
}

/* Turns until DN was asked n reads. */
static void wait_asked(fixture *f, size_t n) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (f->n_to_dn < n && clock_monotonic_ms() < end)
        turn(f);
    assert_int_equal(f->n_to_dn, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(f->to_dn[i]->body_case, RANK_MESSAGE__BODY_BLOCK_READ_REQUEST);
}

/* The read DN was asked for the task's offset. */
static const BlockReadRequest *asked_at(fixture *f, uint64_t offset) {
    for (size_t i = 0; i < f->n_to_dn; i++)
        if (f->to_dn[i]->block_read_request->read->offset == offset)
            return f->to_dn[i]->block_read_request;
    fail_msg("no read of offset %llu was asked", (unsigned long long)offset);
    return NULL;
}

/* DN answers req: code, message text and, with len > 0, the range of len
 * bytes from offset (payload, the caller's until the next turn) and its
 * chunks' CRCs. */
static void answer(fixture *f, const BlockReadRequest *req, int code, const char *text,
                   uint64_t offset, const uint8_t *payload, size_t len) {
    size_t nc = (len + 511) / 512;
    uint32_t *crcs = calloc(nc + 1, sizeof(*crcs));
    for (size_t c = 0; c < nc; c++)
        crcs[c] = crc32c(0, payload + c * 512, len - c * 512 < 512 ? len - c * 512 : 512);
    BlockReadResponse r = BLOCK_READ_RESPONSE__INIT;
    r.request_id = req->request_id;
    r.code = code;
    r.message = (char *)text;
    r.offset = offset;
    r.crcs = crcs;
    r.n_crcs = nc;
    RankMessage m = RANK_MESSAGE__INIT;
    m.body_case = RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    m.block_read_response = &r;
    m.bulk_length = len;
    assert_int_equal(message_check_rank(&m), 0); /* as the link would have it */
    queue_from(f, DN, &m, len > 0 ? payload : NULL, len, NULL, NULL);
    free(crcs);
}

/* The task's final status: SUCCEEDED (its counters are what it got). */
static const AttemptStatus *reader_done(fixture *f) {
    const AttemptStatus *st = wait_final(f, READER);
    if (st->state != ATTEMPT_STATE__ATTEMPT_SUCCEEDED)
        print_message("reader: %s\n%s\n", st->diagnostic, st->log_tail);
    assert_int_equal(st->state, ATTEMPT_STATE__ATTEMPT_SUCCEEDED);
    assert_int_equal(worker_mr_fetches(f->mr), 0);
    return st;
}

/* The code the task got for its read n. */
static int64_t code_of(const AttemptStatus *st, int n) {
    char name[32];
    snprintf(name, sizeof(name), "code.%d", n);
    return counter(st, name);
}

/* A block read's failure is the task's to handle: rank 0 hears of none,
 * and nothing asked of rank 0 is a block read. */
static void assert_no_fetch_failure(fixture *f) {
    for (size_t i = 0; i < f->n_to_primary; i++) {
        assert_int_not_equal(f->to_primary[i]->body_case, RANK_MESSAGE__BODY_FETCH_FAILURE);
        assert_int_not_equal(f->to_primary[i]->body_case, RANK_MESSAGE__BODY_BLOCK_READ_REQUEST);
    }
}

/* One read: DN is asked for the task's block, gen stamp, range and
 * token; its answer's bytes reach the task in a memfd with the offset,
 * length and CRCs. */
static void test_read(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    launch_reads(&f, "4", 1000, 5000, 0, 20000);
    wait_asked(&f, 1);
    const BlockReadRequest *req = asked_at(&f, 1000);
    const ReadBlockRequest *rr = req->read;
    assert_int_equal(rr->block_id, BLOCK);
    assert_int_equal(rr->gen_stamp, BLOCK + 1000);
    assert_int_equal(rr->length, 5000);
    assert_non_null(rr->token);
    assert_int_equal(rr->token->block_id, BLOCK);
    assert_int_equal(rr->token->mac.len, 32);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(rr->token->mac.data[i], 0x5a);
    const size_t len = 5632; /* [512, 6144): the chunks around [1000, 6000) */
    uint8_t *payload = malloc(len);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    answer(&f, req, 0, "", 512, payload, len);
    turn(&f);
    free(payload); /* delivered: the worker copied it into the memfd */
    const AttemptStatus *st = reader_done(&f);
    assert_int_equal(code_of(st, 1), 0);
    assert_int_equal(counter(st, "offset.1"), 512);
    assert_int_equal(counter(st, "length.1"), (int64_t)len);
    assert_int_equal(counter(st, "crcs.1"), 11);
    assert_int_equal(counter(st, "crcok.1"), 1);
    assert_int_equal(f.n_to_dn, 1);
    assert_no_fetch_failure(&f);
    fixture_close(&f);
}

/* Three reads answered badly: a corrupt replica and no replica (their
 * codes and messages reach the task), and a range that does not hold
 * the offset asked (EMBER_EPROTO). */
static void test_read_errors(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    launch_reads(&f, "4,4,4", 0, 4096, 8192, 20000);
    wait_asked(&f, 3);
    answer(&f, asked_at(&f, 0), EMBER_ECORRUPT,
           "checksum error: replica of blk_77 on rank 4 is corrupt", 0, NULL, 0);
    answer(&f, asked_at(&f, 8192), EMBER_ENOENT, "no replica of blk_77 on rank 4", 0, NULL, 0);
    uint8_t other[512] = {1, 2, 3};
    answer(&f, asked_at(&f, 16384), 0, "", 16384 + 512, other, sizeof(other));
    wait_log(&f, READER, "block read 1: checksum error: replica of blk_77 on rank 4 is corrupt");
    wait_log(&f, READER, "block read 2: no replica of blk_77 on rank 4");
    const AttemptStatus *st = reader_done(&f);
    assert_int_equal(code_of(st, 1), EMBER_ECORRUPT);
    assert_int_equal(code_of(st, 2), EMBER_ENOENT);
    assert_int_equal(code_of(st, 3), EMBER_EPROTO);
    assert_int_equal(counter(st, "crcok.3"), INT64_MIN); /* no range came */
    assert_no_fetch_failure(&f);
    fixture_close(&f);
}

/* DN never answers: the task hears EMBER_ETIMEDOUT after its own 300 ms,
 * long before the shuffle's deadline; the answer coming after that is
 * dropped. */
static void test_read_timeout(void **state) {
    (void)state;
    fixture f;
    fixture_fetch_timeout_ms = 600000; /* the shuffle's: not the one that fires */
    fixture_open(&f);
    fixture_fetch_timeout_ms = 1500;
    launch_reads(&f, "4", 0, 512, 0, 300);
    wait_asked(&f, 1);
    const AttemptStatus *st = reader_done(&f);
    assert_int_equal(code_of(st, 1), EMBER_ETIMEDOUT);
    uint8_t late[512] = {0};
    answer(&f, asked_at(&f, 0), 0, "", 0, late, sizeof(late));
    turn(&f); /* nobody waits for it: dropped, nothing claimed */
    assert_int_equal(f.claimed, 0);
    assert_no_fetch_failure(&f);
    fixture_close(&f);
}

/* The primary holds DN dead: its two reads fail at once with
 * EMBER_ECLOSED; the read asked of rank 5 (silent) is not touched and
 * times out. */
static void test_peer_dead(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    launch_reads(&f, "4,4,5", 0, 512, 4096, 8000);
    wait_asked(&f, 2);
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (f.silent_requests < 1 && clock_monotonic_ms() < end)
        turn(&f); /* the third asked too */
    assert_int_equal(f.silent_requests, 1);
    assert_int_equal(worker_mr_fetches(f.mr), 3);
    worker_mr_peer_dead(f.mr, DN);
    assert_int_equal(worker_mr_fetches(f.mr), 1);
    const AttemptStatus *st = reader_done(&f);
    assert_int_equal(code_of(st, 1), EMBER_ECLOSED);
    assert_int_equal(code_of(st, 2), EMBER_ECLOSED);
    assert_int_equal(code_of(st, 3), EMBER_ETIMEDOUT);
    assert_no_fetch_failure(&f);
    fixture_close(&f);
}

/* Reads naming rank 0 (the primary: no datanode), a rank past INT32_MAX
 * and a rank that does not exist are refused with EMBER_EINVAL; nothing
 * is asked of anyone. */
static void test_refused_ranks(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f);
    launch_reads(&f, "0,4294967295,2147483648,99", 0, 512, 0, 20000);
    const AttemptStatus *st = reader_done(&f);
    for (int n = 1; n <= 4; n++)
        assert_int_equal(code_of(st, n), EMBER_EINVAL);
    assert_int_equal(f.n_to_dn, 0);
    assert_no_fetch_failure(&f);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "task") == 0 && strcmp(argv[2], "--exec-wrapper") == 0)
        return container_exec_main(argc - 3, argv + 3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),          cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_read_timeout),  cmocka_unit_test(test_peer_dead),
        cmocka_unit_test(test_refused_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
