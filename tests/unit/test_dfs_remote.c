/* test_dfs_remote.c -- the dfs reader's remote reads (client/dfs_remote.h,
 * client/dfs_read_stream.c): with a remote reader set, the ranges that
 * short-circuit does not serve are asked of it, one window at a time,
 * checked against their chunks' CRCs.
 *
 * The namenode is fake_namenode.h's (on the loop of datanode_fixture.h):
 * it gives the file FILE_LEN bytes in three blocks, the first longer
 * than DFS_REMOTE_WINDOW, each with locations on ranks 1 and 2 (no
 * datanode is ever connected to), and records ReportBadBlocks.  The
 * client runs in a forked child (the library blocks) with a remote
 * reader serving the ranges from the file's bytes in memory: whole
 * chunks around the range asked, with their CRC32C -- or, for the ranks
 * the test names, with a wrong CRC, EMBER_ECORRUPT or EMBER_EIO -- and
 * counting what it is asked and what it gives and gets back.
 *
 * Covered: ember_dfs_read in odd sizes and ember_dfs_pread at odd
 * offsets, across windows and blocks, return the file's bytes; every
 * range asked is inside its block and at most a window long; every range
 * given is released by the time the file is closed; a range with a wrong
 * CRC or a reader answering EMBER_ECORRUPT gets the replica reported
 * (ReportBadBlock naming the block and rank) and the next location read,
 * another failure only the next location read; when every location
 * fails, "could not obtain block blk_N from any datanode". */
#include "datanode_fixture.h"
#include "fake_namenode.h"

#include "client/dfs_remote.h"

#define NBLOCKS 3
#define NLOCS 2
static const uint64_t block_len[NBLOCKS] = {DFS_REMOTE_WINDOW + 5000, 300000, 77777};
#define FILE_LEN (DFS_REMOTE_WINDOW + 5000 + 300000 + 77777)
#define BLOCK_ID0 700

/* ---- the file the fake namenode gives ------------------------------------------------- */

typedef struct {
    LocatedBlock lb[NBLOCKS], *plb[NBLOCKS];
    DatanodeLocation loc[NBLOCKS][NLOCS], *ploc[NBLOCKS][NLOCS];
    BlockToken token[NBLOCKS];
    uint8_t mac[NBLOCKS][AUTH_MAC_LEN];
} remote_file;

/* Blocks BLOCK_ID0 + i, each on ranks 1 and 2 (in that order). */
static void remote_file_init(remote_file *rf) {
    uint64_t at = 0;
    for (int i = 0; i < NBLOCKS; i++) {
        LocatedBlock *lb = &rf->lb[i];
        *lb = (LocatedBlock)LOCATED_BLOCK__INIT;
        lb->block_id = BLOCK_ID0 + (uint64_t)i;
        lb->gen_stamp = 1000 + lb->block_id;
        lb->offset = at;
        lb->length = block_len[i];
        make_token(&rf->token[i], rf->mac[i], lb->block_id, lb->gen_stamp, &good_read);
        lb->token = &rf->token[i];
        for (int k = 0; k < NLOCS; k++) {
            rf->loc[i][k] = (DatanodeLocation)DATANODE_LOCATION__INIT;
            rf->loc[i][k].rank = (uint32_t)(k + 1);
            rf->loc[i][k].host = "127.0.0.1";
            rf->loc[i][k].port = 9; /* never connected to */
            rf->ploc[i][k] = &rf->loc[i][k];
        }
        lb->locations = rf->ploc[i];
        lb->n_locations = NLOCS;
        rf->plb[i] = lb;
        at += block_len[i];
    }
}

/* ---- the reader, in a child ---------------------------------------------------------------- */

#define RANK_BIT(r) (1u << (r))

typedef struct {
    const char *run_dir;
    const uint8_t *data;     /* the file's FILE_LEN bytes */
    uint32_t fail_ranks;     /* RANK_BIT(r): rank r's reads fail (EMBER_EIO) */
    uint32_t ecorrupt_ranks; /* ... answer EMBER_ECORRUPT */
    uint32_t badcrc_ranks;   /* ... come with a wrong CRC */
} remote_spec;

typedef struct {
    int rc;             /* the first failing call's (0: none) */
    char error[512];    /* ember_dfs_last_error() then */
    int read_ok;        /* ember_dfs_read returned the whole file, right */
    int pread_ok;       /* every ember_dfs_pread returned its bytes, right */
    int asks, bad_asks; /* reads asked of the reader; ... outside the block or a window */
    int asks_of[NODES + 1];
    int given, released; /* ranges given, released (before ember_dfs_close_file returned) */
} remote_result;

/* The reader's state, and what a range it gave holds. */
typedef struct {
    const remote_spec *s;
    remote_result *res;
} remote_state;

typedef struct {
    remote_result *res;
    uint8_t *bytes;
    uint32_t *crcs;
} remote_hold;

static void remote_release(dfs_remote_range *r) {
    remote_hold *h = r->priv;
    h->res->released++;
    free(h->bytes);
    free(h->crcs);
    free(h);
    r->release = NULL;
    r->priv = NULL;
}

/* The remote reader: [offset, offset + len) of lb's replica on rank,
 * widened to chunks, from the file's bytes. */
static int remote_read(void *arg, const LocatedBlock *lb, uint32_t rank, uint64_t offset,
                       uint64_t len, int64_t timeout_ms, dfs_remote_range *out, char *why,
                       size_t whylen) {
    remote_state *st = arg;
    (void)timeout_ms;
    st->res->asks++;
    if (rank <= NODES)
        st->res->asks_of[rank]++;
    if (offset >= lb->length || len == 0 || len > DFS_REMOTE_WINDOW || len > lb->length - offset)
        st->res->bad_asks++;
    if (st->s->fail_ranks & RANK_BIT(rank)) {
        snprintf(why, whylen, "rank %u is down", rank);
        return EMBER_EIO;
    }
    if (st->s->ecorrupt_ranks & RANK_BIT(rank)) {
        snprintf(why, whylen, "replica of blk_%llu on rank %u is corrupt",
                 (unsigned long long)lb->block_id, rank);
        return EMBER_ECORRUPT;
    }
    uint64_t start = offset / 512 * 512, end = (offset + len + 511) / 512 * 512;
    if (end > lb->length)
        end = lb->length;
    size_t n = (size_t)(end - start), nc = (n + 511) / 512;
    remote_hold *h = calloc(1, sizeof(*h));
    h->res = st->res;
    h->bytes = malloc(n);
    h->crcs = malloc(nc * sizeof(*h->crcs));
    memcpy(h->bytes, st->s->data + lb->offset + start, n);
    for (size_t c = 0; c < nc; c++)
        h->crcs[c] = crc32c(0, h->bytes + c * 512, n - c * 512 < 512 ? n - c * 512 : 512);
    if (st->s->badcrc_ranks & RANK_BIT(rank))
        h->crcs[nc - 1] ^= 1;
    *out = (dfs_remote_range){.data = h->bytes,
                              .offset = start,
                              .len = n,
                              .crcs = h->crcs,
                              .ncrcs = nc,
                              .release = remote_release,
                              .priv = h};
    st->res->given++;
    return EMBER_OK;
}

/* Reads the whole file with ember_dfs_read in sizes going round odd
 * ones: 1 when it is all there, right. */
static int read_all(ember_dfs_file *file, const uint8_t *want, int *rc) {
    static const size_t sizes[] = {1, 511, 100000, 3333333, 7, 4096};
    uint8_t *buf = malloc(FILE_LEN + 1);
    size_t at = 0, got;
    for (int i = 0; at <= FILE_LEN; i++) {
        *rc = ember_dfs_read(file, buf + at, sizes[i % 6], &got);
        if (*rc != EMBER_OK || got == 0)
            break;
        at += got;
    }
    int ok = *rc == EMBER_OK && at == FILE_LEN && memcmp(buf, want, FILE_LEN) == 0;
    free(buf);
    return ok;
}

/* preads at odd offsets: in a block, across the first block's window,
 * across each block boundary, at the last byte and at the end. */
static int pread_some(ember_dfs_file *file, const uint8_t *want, int *rc) {
    const uint64_t b1 = block_len[0], b2 = block_len[0] + block_len[1];
    const struct {
        uint64_t offset;
        size_t len;
    } reads[] = {
        {12345, 7}, {DFS_REMOTE_WINDOW - 3, 6}, {b1 - 300, 1000}, {b2 - 1, 2},
        {0, 10},    {FILE_LEN - 1, 10},         {FILE_LEN, 10},   {b1 + 777, 200000},
    };
    uint8_t buf[200000];
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        size_t got, expect = reads[i].offset >= FILE_LEN ? 0
                             : FILE_LEN - reads[i].offset < reads[i].len
                                 ? (size_t)(FILE_LEN - reads[i].offset)
                                 : reads[i].len;
        *rc = ember_dfs_pread(file, buf, reads[i].len, reads[i].offset, &got);
        if (*rc != EMBER_OK || got != expect || memcmp(buf, want + reads[i].offset, got) != 0)
            return 0;
    }
    return 1;
}

static void child_remote(const void *arg, void *out) {
    const remote_spec *s = arg;
    remote_result *res = out;
    ember_dfs *dfs;
    char err[256];
    if ((res->rc = ember_dfs_connect(s->run_dir, &dfs, err, sizeof(err))) != EMBER_OK) {
        snprintf(res->error, sizeof(res->error), "%s", err);
        return;
    }
    ember_dfs_set_short_circuit(dfs, 0);
    remote_state st = {s, res};
    dfs_set_remote_reader(dfs, &(dfs_remote_reader){.read = remote_read, .arg = &st});
    ember_dfs_file *file = NULL;
    if ((res->rc = ember_dfs_open(dfs, "/f", &file)) == EMBER_OK) {
        res->read_ok = read_all(file, s->data, &res->rc);
        if (res->rc == EMBER_OK)
            res->pread_ok = pread_some(file, s->data, &res->rc);
    }
    if (res->rc != EMBER_OK)
        snprintf(res->error, sizeof(res->error), "%s", ember_dfs_last_error(dfs));
    if (file != NULL)
        ember_dfs_close_file(file);
    ember_dfs_close(dfs);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Starts the fake namenode with the file, runs the reader child as spec
 * says (data and run_dir filled in here) and returns its result; *bad
 * gets the ReportBadBlocks' count, their blocks and ranks in nn. */
typedef struct {
    remote_file rf;
    uint8_t *data;
    fake_nn *nn;
} remote_run;

static remote_result run_remote(struct fixture *f, remote_run *run, remote_spec spec) {
    static const int none[1] = {0};
    remote_file_init(&run->rf);
    run->data = malloc(FILE_LEN);
    assert_non_null(run->data);
    fill_data(run->data, FILE_LEN, 77);
    run->nn = fake_start(f, none, 0);
    fake_set_file(run->nn, run->rf.plb, NBLOCKS, FILE_LEN);
    spec.run_dir = run->nn->run_dir;
    spec.data = run->data;
    remote_result res;
    run_child(f, child_remote, &spec, &res, sizeof(res));
    if (res.rc != EMBER_OK)
        print_message("reader: %s\n", res.error);
    assert_int_equal(res.bad_asks, 0);
    assert_int_equal(res.released, res.given); /* each range released by the close */
    return res;
}

static void run_done(remote_run *run) {
    fake_stop(run->nn);
    free(run->data);
}

/* All replicas good: the reads return the file, from rank 1 only; the
 * first block takes two windows, each block at least one range. */
static void test_reads(void **state) {
    struct fixture *f = *state;
    remote_run run;
    remote_result res = run_remote(f, &run, (remote_spec){0});
    assert_int_equal(res.rc, 0);
    assert_true(res.read_ok);
    assert_true(res.pread_ok);
    assert_int_equal(res.asks_of[2], 0);
    assert_true(res.asks_of[1] >= NBLOCKS + 1);
    assert_int_equal(run.nn->nbad, 0);
    run_done(&run);
}

/* Rank 1's ranges come with a wrong CRC (then: it answers EMBER_ECORRUPT):
 * its replica of the first block is reported, and everything is read
 * from rank 2 -- rank 1, failed once in this stream, is tried last from
 * then on, so it is reported once. */
static void expect_corrupt_replica(struct fixture *f, remote_spec spec) {
    remote_run run;
    remote_result res = run_remote(f, &run, spec);
    assert_int_equal(res.rc, 0);
    assert_true(res.read_ok);
    assert_true(res.pread_ok);
    assert_int_equal(res.asks_of[1], 1);
    assert_int_equal(run.nn->nbad, 1);
    assert_int_equal(run.nn->bad_ids[0], BLOCK_ID0);
    assert_int_equal(run.nn->bad_ranks[0], 1);
    run_done(&run);
}

static void test_bad_crc(void **state) {
    expect_corrupt_replica(*state, (remote_spec){.badcrc_ranks = RANK_BIT(1)});
}

static void test_reader_says_corrupt(void **state) {
    expect_corrupt_replica(*state, (remote_spec){.ecorrupt_ranks = RANK_BIT(1)});
}

/* Rank 1 fails otherwise: read from rank 2, nothing reported. */
static void test_location_fails(void **state) {
    struct fixture *f = *state;
    remote_run run;
    remote_result res = run_remote(f, &run, (remote_spec){.fail_ranks = RANK_BIT(1)});
    assert_int_equal(res.rc, 0);
    assert_true(res.read_ok);
    assert_true(res.pread_ok);
    assert_int_equal(res.asks_of[1], 1);
    assert_int_equal(run.nn->nbad, 0);
    run_done(&run);
}

/* No location can serve the first block (rank 1's range is bad, rank 2
 * fails): the read fails with Hadoop's message, rank 1 reported, its
 * range released. */
static void test_no_location(void **state) {
    struct fixture *f = *state;
    remote_run run;
    remote_result res =
        run_remote(f, &run, (remote_spec){.badcrc_ranks = RANK_BIT(1), .fail_ranks = RANK_BIT(2)});
    assert_int_not_equal(res.rc, 0);
    assert_false(res.read_ok);
    assert_non_null(strstr(res.error, "could not obtain block blk_700 from any datanode"));
    assert_int_equal(res.given, 1);
    assert_int_equal(run.nn->nbad, 1);
    assert_int_equal(run.nn->bad_ranks[0], 1);
    run_done(&run);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_says_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_location_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_location, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
