/* test_short_circuit.c -- unit tests for short-circuit local reads:
 * datanode/short_circuit.c (the unix socket handing out a replica's
 * files) and client/dfs_short_circuit.c (receiving them and reading them
 * with every chunk verified).
 *
 * The datanode runs in this process on its own event loop, with a store
 * prepared through block_store.h and a transport that drops everything;
 * clients run in forked children (the datanode's loop must turn while
 * they block), each ending with an exit status the parent checks.  The
 * client's answer handling is driven without a datanode too: a socketpair
 * whose other end holds a canned answer, descriptors and all (good ones,
 * none, three, a pipe, a bad meta header, a DataError).  The reader's
 * verification runs on replica files written by hand: reads at every kind
 * of offset, across the 1 MiB window, a flipped byte, a bad header, a
 * short meta, a replica that grew (stale, not corrupt).  Also: the socket
 * path rules (default, _PORT, too long), a stale socket replaced, a live
 * one and a regular file left alone, the socket removed at destroy; the
 * stream-level entry falling back past an unreachable socket and naming
 * the datanode of a corrupt replica; the registry keeping a node's
 * socket; the two configuration keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/dfs_internal.h"
#include "cluster/node_registry.h"
#include "common/auth.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "datanode/block_store.h"
#include "datanode/datanode.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"
#include "test_util.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define BLOCK_ID 1001
#define GEN_STAMP 7
#define BLOCK_LEN (300000u) /* 585 whole chunks and a short one */
#define IO_TIMEOUT_MS 300

/* ---- helpers ------------------------------------------------------------------------ */

static void fill_data(uint8_t *buf, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static void make_token(BlockToken *t, uint8_t mac[AUTH_MAC_LEN], const char *secret, uint64_t id,
                       uint64_t gs, uint32_t mode) {
    *t = (BlockToken)BLOCK_TOKEN__INIT;
    t->block_id = id;
    t->gen_stamp = gs;
    t->mode = mode;
    t->expiry_ms = clock_wall_ms() + 60000;
    auth_block_token_mac(secret, id, gs, mode, t->expiry_ms, mac);
    t->mac.data = mac;
    t->mac.len = AUTH_MAC_LEN;
}

static int open_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes a replica's two files by hand (block_store.h's format) for data. */
static void write_replica_files(const char *data_path, const char *meta_path, const uint8_t *data,
                                size_t len) {
    FILE *d = fopen(data_path, "wb");
    assert_non_null(d);
    assert_int_equal(fwrite(data, 1, len, d), len);
    fclose(d);
    FILE *m = fopen(meta_path, "wb");
    assert_non_null(m);
    uint8_t h[16] = {'E', 'M', 'B', 'R', 'M', 'E', 'T', 'A', 0, 1, 0, 1, 0, 0, 2, 0};
    assert_int_equal(fwrite(h, 1, sizeof(h), m), sizeof(h));
    for (size_t off = 0; off < len; off += 512) {
        uint8_t be[4];
        put_be32(be, crc32c(0, data + off, len - off < 512 ? len - off : 512));
        assert_int_equal(fwrite(be, 1, 4, m), 4);
    }
    fclose(m);
}

/* Overwrites len bytes of path at offset. */
static void patch_file(const char *path, uint64_t offset, const void *bytes, size_t len) {
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, (off_t)offset), (ssize_t)len);
    close(fd);
}

/* ---- fixture: one datanode with one replica --------------------------------------- */

struct fixture {
    char tmp[64];
    char data_dir[128];
    char sock[128];
    event_loop *loop;
    datanode *dn;
    uint8_t *data; /* the replica's content */
};

static int drop_send(void *arg, int dest, const RankMessage *msg) {
    (void)arg;
    (void)dest;
    (void)msg;
    return EMBER_OK;
}

/* Starts a datanode on f->data_dir with the socket path tmpl. */
static int start_datanode(struct fixture *f, const char *tmpl, datanode **out) {
    datanode_options o = {.rank = 1,
                          .primary_rank = 0,
                          .data_dirs = f->data_dir,
                          .bind_addr = "127.0.0.1",
                          .port = 0,
                          .io_timeout_ms = IO_TIMEOUT_MS,
                          .domain_socket_path = tmpl,
                          .send = drop_send,
                          .send_arg = NULL};
    char err[256];
    int rc = datanode_create(f->loop, &o, out, err, sizeof(err));
    if (rc != EMBER_OK)
        fprintf(stderr, "datanode_create: %s\n", err);
    return rc;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    strcpy(f->tmp, "/tmp/ember_test_sc_XXXXXX");
    if (mkdtemp(f->tmp) == NULL || event_loop_create(&f->loop) != EMBER_OK)
        return -1;
    snprintf(f->data_dir, sizeof(f->data_dir), "%s/data", f->tmp);
    snprintf(f->sock, sizeof(f->sock), "%s/dn_socket", f->tmp);
    f->data = malloc(BLOCK_LEN);
    if (f->data == NULL)
        return -1;
    fill_data(f->data, BLOCK_LEN, 42);
    /* The replica, written through the store as a pipeline would. */
    block_store *store;
    block_writer *w;
    char err[256];
    if (block_store_open(f->data_dir, &store, err, sizeof(err)) != EMBER_OK ||
        block_writer_create(store, BLOCK_ID, GEN_STAMP, &w) != EMBER_OK ||
        block_writer_append(w, f->data, BLOCK_LEN, NULL, 0) != EMBER_OK ||
        block_writer_finalize(w, NULL) != EMBER_OK)
        return -1;
    block_store_close(store);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    datanode_destroy(f->dn);
    event_loop_destroy(f->loop);
    test_rm_tree(f->tmp);
    free(f->data);
    free(f);
    return 0;
}

/* ---- clients in children ------------------------------------------------------------ */

typedef int (*child_fn)(struct fixture *f, const void *arg);

/* Runs fn in a child while the parent turns the loop; the child's exit
 * status (fn's result), or -1 when it did not end within 10 s. */
static int run_child(struct fixture *f, child_fn fn, const void *arg) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(f, arg));
    int64_t deadline = clock_monotonic_ms() + 10000;
    for (;;) {
        int status;
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (clock_monotonic_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        event_loop_run_once(f->loop, 10);
    }
}

typedef struct {
    const char *secret;
    uint64_t block_id, gen_stamp;
    uint32_t mode;
    int expect; /* the exchange's result */
} ask_spec;

/* Child: asks for a replica; 0 when the answer is as expected and, for a
 * success, every byte reads back right (in odd pieces, then whole). */
static int child_ask(struct fixture *f, const void *arg) {
    const ask_spec *s = arg;
    int fd;
    if (dfs_sc_connect(datanode_domain_socket(f->dn), &fd) != EMBER_OK)
        return 10;
    BlockToken t;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&t, mac, s->secret, s->block_id, s->gen_stamp, s->mode);
    dfs_sc_replica r;
    char err[256];
    int rc = dfs_sc_exchange(fd, s->block_id, s->gen_stamp, &t, clock_monotonic_ms() + 5000, &r,
                             err, sizeof(err));
    close(fd);
    if (rc != s->expect)
        return 11;
    if (rc != EMBER_OK)
        return err[0] != '\0' ? 0 : 12; /* a refusal says why */
    if (r.length != BLOCK_LEN || r.gen_stamp != GEN_STAMP)
        return 13;
    uint8_t *buf = malloc(BLOCK_LEN);
    static const struct {
        uint64_t off;
        size_t len;
    } pieces[] = {{0, 1},        {511, 2},           {512, 512},
                  {700, 5000},   {BLOCK_LEN - 1, 1}, {BLOCK_LEN - 700, 700},
                  {1024, 65536}, {0, BLOCK_LEN}};
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        size_t got;
        if (dfs_sc_replica_read(&r, pieces[i].off, buf, pieces[i].len, &got) != EMBER_OK ||
            got != pieces[i].len || memcmp(buf, f->data + pieces[i].off, got) != 0)
            return 14;
    }
    size_t got;
    if (dfs_sc_replica_read(&r, BLOCK_LEN - 10, buf, 100, &got) != EMBER_OK || got != 10 ||
        dfs_sc_replica_read(&r, BLOCK_LEN, buf, 100, &got) != EMBER_OK || got != 0)
        return 15;
    /* The descriptors are read-only. */
    if (write(r.data_fd, "x", 1) != -1 || write(r.meta_fd, "x", 1) != -1)
        return 16;
    free(buf);
    dfs_sc_replica_close(&r);
    return 0;
}

/* Child: sends raw bytes, expects a DataError of code (0: the datanode
 * just closes the connection) within 5 s. */
typedef struct {
    const uint8_t *bytes;
    size_t len;
    int code;
} raw_spec;

static int child_raw(struct fixture *f, const void *arg) {
    const raw_spec *s = arg;
    int fd;
    if (dfs_sc_connect(datanode_domain_socket(f->dn), &fd) != EMBER_OK)
        return 10;
    if (s->len > 0 && write(fd, s->bytes, s->len) != (ssize_t)s->len)
        return 11;
    frame_reader *reader;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    const uint8_t *payload;
    size_t len;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    int rc = socket_read_frame(fd, reader, clock_monotonic_ms() + 5000, &payload, &len);
    int result = 12;
    if (s->code == 0) {
        result = rc == EMBER_ECLOSED ? 0 : 13;
    } else if (rc == EMBER_OK) {
        DataMessage *m;
        if (message_decode_data(payload, len, &m) == EMBER_OK) {
            result = m->body_case == DATA_MESSAGE__BODY_ERROR && m->error->code == s->code ? 0 : 14;
            data_message__free_unpacked(m, NULL);
        }
    }
    frame_reader_destroy(reader);
    close(fd);
    return result;
}

/* ---- the datanode's socket --------------------------------------------------------- */

static void test_serves_replica_files(void **state) {
    struct fixture *f = *state;
    char tmpl[160];
    snprintf(tmpl, sizeof(tmpl), "%s/sock._PORT", f->tmp);
    assert_int_equal(start_datanode(f, tmpl, &f->dn), EMBER_OK);
    char want[160];
    snprintf(want, sizeof(want), "%s/sock.%d", f->tmp, datanode_port(f->dn));
    assert_string_equal(datanode_domain_socket(f->dn), want);
    struct stat st;
    assert_int_equal(lstat(want, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);

    /* Before the secret: refused, as on the data port. */
    ask_spec s = {SECRET, BLOCK_ID, GEN_STAMP, AUTH_TOKEN_READ, EMBER_EAGAIN};
    assert_int_equal(run_child(f, child_ask, &s), 0);
    datanode_set_secret(f->dn, SECRET);
    s.expect = EMBER_OK;
    assert_int_equal(run_child(f, child_ask, &s), 0);
    /* Twice: nothing is used up. */
    assert_int_equal(run_child(f, child_ask, &s), 0);

    ask_spec bad_secret = {"not the secret at all, not at all", BLOCK_ID, GEN_STAMP,
                           AUTH_TOKEN_READ, EMBER_EAUTH};
    assert_int_equal(run_child(f, child_ask, &bad_secret), 0);
    ask_spec write_token = {SECRET, BLOCK_ID, GEN_STAMP, AUTH_TOKEN_WRITE, EMBER_EAUTH};
    assert_int_equal(run_child(f, child_ask, &write_token), 0);
    ask_spec other_gs = {SECRET, BLOCK_ID, GEN_STAMP + 1, AUTH_TOKEN_READ, EMBER_ENOENT};
    assert_int_equal(run_child(f, child_ask, &other_gs), 0);
    ask_spec no_block = {SECRET, BLOCK_ID + 1, GEN_STAMP, AUTH_TOKEN_READ, EMBER_ENOENT};
    assert_int_equal(run_child(f, child_ask, &no_block), 0);

    /* Not a ShortCircuitRequest; a frame over the cap; nothing at all. */
    ReadBlockRequest rb = READ_BLOCK_REQUEST__INIT;
    BlockToken t;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&t, mac, SECRET, BLOCK_ID, GEN_STAMP, AUTH_TOKEN_READ);
    rb.block_id = BLOCK_ID;
    rb.gen_stamp = GEN_STAMP;
    rb.token = &t;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_READ_BLOCK;
    dm.read_block = &rb;
    uint8_t *frame;
    size_t frame_len;
    assert_int_equal(message_encode_data(&dm, FRAME_MAX_DEFAULT, &frame, &frame_len), EMBER_OK);
    raw_spec wrong = {frame, frame_len, EMBER_EPROTO};
    assert_int_equal(run_child(f, child_raw, &wrong), 0);
    free(frame);
    uint8_t huge[8] = {0, 1, 0, 0, 1, 2, 3, 4};
    raw_spec too_big = {huge, sizeof(huge), EMBER_ETOOBIG};
    assert_int_equal(run_child(f, child_raw, &too_big), 0);
    raw_spec silent = {NULL, 0, 0}; /* closed after the I/O timeout */
    assert_int_equal(run_child(f, child_raw, &silent), 0);
    raw_spec half = {huge, 2, 0}; /* half a header, then silence */
    assert_int_equal(run_child(f, child_raw, &half), 0);

    /* Still serving after all that; the socket goes with the datanode. */
    assert_int_equal(run_child(f, child_ask, &s), 0);
    datanode_destroy(f->dn);
    f->dn = NULL;
    assert_int_equal(lstat(want, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_socket_paths(void **state) {
    struct fixture *f = *state;
    char out[256];
    assert_int_equal(datanode_domain_socket_path("/x/sock._PORT", "/run", 3, out, sizeof(out)),
                     EMBER_OK);
    assert_string_equal(out, "/x/sock._PORT"); /* the datanode replaces _PORT */
    assert_int_equal(datanode_domain_socket_path("", "/run/dir", 3, out, sizeof(out)), EMBER_OK);
    assert_string_equal(out, "/run/dir/dn_socket.3");
    char cwd[PATH_MAX], want[PATH_MAX + 64];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "%s/rel/dn_socket.12", cwd);
    assert_int_equal(datanode_domain_socket_path(NULL, "rel", 12, out, sizeof(out)), EMBER_OK);
    assert_string_equal(out, want);
    assert_int_equal(datanode_domain_socket_path("", "/run/dir", 3, out, 10), EMBER_ETOOBIG);

    /* Too long for a unix socket once _PORT is replaced: the datanode runs
     * without short-circuit, and says so with "". */
    char tmpl[200];
    snprintf(tmpl, sizeof(tmpl), "%s/%0*d_PORT", f->tmp, 110 - (int)strlen(f->tmp), 0);
    assert_int_equal(start_datanode(f, tmpl, &f->dn), EMBER_OK);
    assert_string_equal(datanode_domain_socket(f->dn), "");
    datanode_destroy(f->dn);
    f->dn = NULL;
    /* No path: off. */
    assert_int_equal(start_datanode(f, "", &f->dn), EMBER_OK);
    assert_string_equal(datanode_domain_socket(f->dn), "");
    datanode_destroy(f->dn);
    f->dn = NULL;
}

static void test_stale_and_live_sockets(void **state) {
    struct fixture *f = *state;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(f->sock) < sizeof(addr.sun_path));
    memcpy(addr.sun_path, f->sock, strlen(f->sock) + 1);

    /* A socket nobody listens on (a datanode that died): replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(stale, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(stale);
    assert_int_equal(start_datanode(f, f->sock, &f->dn), EMBER_OK);
    assert_string_equal(datanode_domain_socket(f->dn), f->sock);
    datanode_set_secret(f->dn, SECRET);
    ask_spec s = {SECRET, BLOCK_ID, GEN_STAMP, AUTH_TOKEN_READ, EMBER_OK};
    assert_int_equal(run_child(f, child_ask, &s), 0);

    /* A second datanode given the same path finds it live: leaves it
     * alone and runs without short-circuit; the first still serves. */
    datanode *second;
    char other_dir[160];
    snprintf(other_dir, sizeof(other_dir), "%s/data2", f->tmp);
    datanode_options o = {.rank = 2,
                          .primary_rank = 0,
                          .data_dirs = other_dir,
                          .bind_addr = "127.0.0.1",
                          .io_timeout_ms = IO_TIMEOUT_MS,
                          .domain_socket_path = f->sock,
                          .send = drop_send};
    char err[256];
    assert_int_equal(datanode_create(f->loop, &o, &second, err, sizeof(err)), EMBER_OK);
    assert_string_equal(datanode_domain_socket(second), "");
    datanode_destroy(second); /* must not remove the first one's socket */
    assert_int_equal(run_child(f, child_ask, &s), 0);
    datanode_destroy(f->dn);
    f->dn = NULL;

    /* A regular file is never removed. */
    FILE *file = fopen(f->sock, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(start_datanode(f, f->sock, &f->dn), EMBER_OK);
    assert_string_equal(datanode_domain_socket(f->dn), "");
    datanode_destroy(f->dn);
    f->dn = NULL;
    struct stat st;
    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
}

/* ---- the client's side of the exchange, against canned answers -------------------- */

/* Queues on fd one frame holding msg, with nfds descriptors. */
static void send_answer(int fd, const DataMessage *msg, const int *fds, size_t nfds) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len), EMBER_OK);
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(4 * sizeof(int))];
    } control;
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        mh.msg_control = control.space;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)len);
    free(buf);
}

static void send_result(int fd, uint64_t gs, uint64_t length, const int *fds, size_t nfds) {
    ShortCircuitResponse res = SHORT_CIRCUIT_RESPONSE__INIT;
    res.gen_stamp = gs;
    res.length = length;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_SHORT_CIRCUIT_RESULT;
    msg.short_circuit_result = &res;
    send_answer(fd, &msg, fds, nfds);
}

/* Runs the exchange on a socketpair whose far end already holds the
 * answer (or was closed when close_peer). */
static int exchange_canned(int pair[2], int close_peer, dfs_sc_replica *r, char *err,
                           size_t errlen) {
    if (close_peer)
        close(pair[1]);
    BlockToken t;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&t, mac, SECRET, BLOCK_ID, GEN_STAMP, AUTH_TOKEN_READ);
    int rc = dfs_sc_exchange(pair[0], BLOCK_ID, GEN_STAMP, &t, clock_monotonic_ms() + 2000, r, err,
                             errlen);
    close(pair[0]);
    if (!close_peer)
        close(pair[1]);
    return rc;
}

static void test_exchange_answers(void **state) {
    struct fixture *f = *state;
    char data_path[160], meta_path[160], bad_meta[160];
    snprintf(data_path, sizeof(data_path), "%s/blk", f->tmp);
    snprintf(meta_path, sizeof(meta_path), "%s/blk.meta", f->tmp);
    snprintf(bad_meta, sizeof(bad_meta), "%s/bad.meta", f->tmp);
    write_replica_files(data_path, meta_path, f->data, 5000);
    write_replica_files(data_path, bad_meta, f->data, 5000);
    patch_file(bad_meta, 8, "\0\2", 2); /* version 2 */
    int data_fd = open(data_path, O_RDONLY);
    int meta_fd = open(meta_path, O_RDONLY);
    int bad_fd = open(bad_meta, O_RDONLY);
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    int before = open_fd_count();
    int pair[2];
    dfs_sc_replica r;
    char err[256];

    /* The good answer. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_result(pair[1], GEN_STAMP, 5000, (int[]){data_fd, meta_fd}, 2);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_OK);
    assert_int_equal(r.length, 5000);
    uint8_t buf[5000];
    size_t got;
    assert_int_equal(dfs_sc_replica_read(&r, 0, buf, sizeof(buf), &got), EMBER_OK);
    assert_int_equal(got, 5000);
    assert_memory_equal(buf, f->data, 5000);
    assert_int_equal(fcntl(r.data_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    dfs_sc_replica_close(&r);
    assert_int_equal(open_fd_count(), before);

    /* No descriptors, one, three: refused, none left open. */
    const int three[] = {data_fd, meta_fd, data_fd};
    for (size_t n = 0; n <= 3; n += n == 1 ? 2 : 1) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
        send_result(pair[1], GEN_STAMP, 5000, three, n);
        assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_EPROTO);
        assert_int_equal(r.data_fd, -1);
        assert_int_equal(open_fd_count(), before);
    }
    /* Another gen stamp; a pipe for a file; a bad meta header. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_result(pair[1], GEN_STAMP + 1, 5000, (int[]){data_fd, meta_fd}, 2);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_EPROTO);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_result(pair[1], GEN_STAMP, 5000, (int[]){pipe_fds[0], meta_fd}, 2);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_EPROTO);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_result(pair[1], GEN_STAMP, 5000, (int[]){data_fd, bad_fd}, 2);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_ECORRUPT);
    /* Longer than the files: corrupt (too short for what it claims). */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_result(pair[1], GEN_STAMP, 6000, (int[]){data_fd, meta_fd}, 2);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_ECORRUPT);
    assert_int_equal(open_fd_count(), before);

    /* A DataError: its code and message. */
    DataError de = DATA_ERROR__INIT;
    de.code = EMBER_ENOENT;
    de.message = "no replica of blk_1001 on rank 1";
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_ERROR;
    msg.error = &de;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    send_answer(pair[1], &msg, NULL, 0);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_ENOENT);
    assert_string_equal(err, de.message);
    /* Closed without an answer; garbage. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    assert_int_equal(exchange_canned(pair, 1, &r, err, sizeof(err)), EMBER_ECLOSED);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    assert_int_equal(write(pair[1], "\0\0\0\3abc", 7), 7);
    assert_int_equal(exchange_canned(pair, 0, &r, err, sizeof(err)), EMBER_EPROTO);
    assert_int_equal(open_fd_count(), before);

    close(data_fd);
    close(meta_fd);
    close(bad_fd);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* ---- the reader's verification --------------------------------------------------------- */

static dfs_sc_replica open_files(const char *data_path, const char *meta_path, uint64_t length) {
    dfs_sc_replica r = {.data_fd = open(data_path, O_RDONLY),
                        .meta_fd = open(meta_path, O_RDONLY),
                        .gen_stamp = GEN_STAMP,
                        .length = length};
    assert_true(r.data_fd >= 0 && r.meta_fd >= 0);
    return r;
}

static void test_replica_read_verifies(void **state) {
    struct fixture *f = *state;
    /* Two 1 MiB windows and a bit: the window loop and a short last chunk. */
    const size_t len = 2 * 1048576 + 700;
    uint8_t *data = malloc(len), *buf = malloc(len);
    assert_non_null(data);
    assert_non_null(buf);
    fill_data(data, len, 9);
    char data_path[160], meta_path[160];
    snprintf(data_path, sizeof(data_path), "%s/big", f->tmp);
    snprintf(meta_path, sizeof(meta_path), "%s/big.meta", f->tmp);
    write_replica_files(data_path, meta_path, data, len);

    dfs_sc_replica r = open_files(data_path, meta_path, len);
    assert_int_equal(dfs_sc_replica_check(&r), EMBER_OK);
    static const struct {
        uint64_t off;
        size_t n;
    } cases[] = {{0, 2 * 1048576 + 700}, {300, 2 * 1048576},     {1048576 - 1, 2}, {512, 1048576},
                 {2 * 1048576, 700},     {2 * 1048576 + 699, 1}, {5, 3},           {1000, 24}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got;
        memset(buf, 0, cases[i].n);
        assert_int_equal(dfs_sc_replica_read(&r, cases[i].off, buf, cases[i].n, &got), EMBER_OK);
        assert_int_equal(got, cases[i].n);
        assert_memory_equal(buf, data + cases[i].off, cases[i].n);
    }

    /* One flipped byte in chunk 2051: reads touching it fail, others not. */
    uint8_t flipped = data[2051 * 512 + 17] ^ 0x5a;
    patch_file(data_path, 2051 * 512 + 17, &flipped, 1);
    size_t got;
    assert_int_equal(dfs_sc_replica_read(&r, 0, buf, len, &got), EMBER_ECORRUPT);
    assert_int_equal(got, 1048576); /* the first window was fine; chunk 2051 is in the second */
    assert_int_equal(dfs_sc_replica_read(&r, 2051 * 512 + 500, buf, 1, &got), EMBER_ECORRUPT);
    assert_int_equal(dfs_sc_replica_read(&r, 2052 * 512, buf, 100, &got), EMBER_OK);
    assert_int_equal(dfs_sc_replica_read(&r, 2050 * 512, buf, 512, &got), EMBER_OK);
    patch_file(data_path, 2051 * 512 + 17, data + 2051 * 512 + 17, 1);

    /* A flipped CRC is as bad as flipped data. */
    uint8_t crc_byte;
    assert_int_equal(pread(r.meta_fd, &crc_byte, 1, 16 + 4 * 3), 1);
    crc_byte ^= 1;
    patch_file(meta_path, 16 + 4 * 3, &crc_byte, 1);
    assert_int_equal(dfs_sc_replica_read(&r, 3 * 512 + 1, buf, 1, &got), EMBER_ECORRUPT);
    crc_byte ^= 1;
    patch_file(meta_path, 16 + 4 * 3, &crc_byte, 1);
    assert_int_equal(dfs_sc_replica_read(&r, 3 * 512 + 1, buf, 1, &got), EMBER_OK);

    /* The replica grew (an append rewrote its last CRC): stale, not corrupt. */
    int fd = open(data_path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
    uint8_t tail[710], be[4];
    memcpy(tail, data + 2 * 1048576, 700);
    memcpy(tail + 700, "0123456789", 10);
    put_be32(be, crc32c(0, tail, sizeof(tail)));
    patch_file(meta_path, 16 + 4 * (2 * 2048), be, 4);
    assert_int_equal(dfs_sc_replica_read(&r, 2 * 1048576, buf, 700, &got), EMBER_EAGAIN);
    dfs_sc_replica_close(&r);

    /* Bad headers and short files fail the check. */
    write_replica_files(data_path, meta_path, data, len);
    static const struct {
        uint64_t at;
        uint8_t byte;
    } headers[] = {{0, 'X'}, {9, 2}, {11, 2}, {14, 4}};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        write_replica_files(data_path, meta_path, data, len);
        patch_file(meta_path, headers[i].at, &headers[i].byte, 1);
        r = open_files(data_path, meta_path, len);
        assert_int_equal(dfs_sc_replica_check(&r), EMBER_ECORRUPT);
        dfs_sc_replica_close(&r);
    }
    write_replica_files(data_path, meta_path, data, len);
    assert_int_equal(truncate(meta_path, 16 + 4 * 4096), 0); /* one CRC short */
    r = open_files(data_path, meta_path, len);
    assert_int_equal(dfs_sc_replica_check(&r), EMBER_ECORRUPT);
    dfs_sc_replica_close(&r);
    write_replica_files(data_path, meta_path, data, len);
    assert_int_equal(truncate(data_path, (off_t)len - 1), 0);
    r = open_files(data_path, meta_path, len);
    assert_int_equal(dfs_sc_replica_check(&r), EMBER_ECORRUPT);
    dfs_sc_replica_close(&r);
    free(data);
    free(buf);
}

/* ---- the stream's entry point ------------------------------------------------------------ */

/* Child: reads the whole block through dfs_short_circuit_read() as a
 * stream does, with the block's first location's socket unreachable;
 * then with short-circuit off, which must not serve anything. */
static int child_stream(struct fixture *f, const void *arg) {
    (void)arg;
    ember_dfs *dfs = calloc(1, sizeof(*dfs)); /* no namenode: nothing may be reported */
    BlockToken t;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&t, mac, SECRET, BLOCK_ID, GEN_STAMP, AUTH_TOKEN_READ);
    DatanodeLocation l0 = DATANODE_LOCATION__INIT, l1 = DATANODE_LOCATION__INIT;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/no-such-socket", f->tmp);
    l0.rank = 2;
    l0.host = "127.0.0.1";
    l0.port = 1;
    l0.domain_socket = missing;
    l1.rank = 1;
    l1.host = "127.0.0.1";
    l1.port = (uint32_t)datanode_port(f->dn);
    l1.domain_socket = (char *)datanode_domain_socket(f->dn);
    DatanodeLocation *locs[] = {&l0, &l1};
    LocatedBlock lb = LOCATED_BLOCK__INIT;
    lb.block_id = BLOCK_ID;
    lb.gen_stamp = GEN_STAMP;
    lb.offset = 1000000; /* the block's place in the file */
    lb.length = BLOCK_LEN;
    lb.n_locations = 2;
    lb.locations = locs;
    lb.token = &t;
    dfs_short_circuit *sc = NULL;
    uint8_t *buf = malloc(BLOCK_LEN);
    size_t done = 0, got;
    uint32_t bad = 0;
    while (done < BLOCK_LEN) {
        size_t want = 100000 - 3; /* not on chunk boundaries */
        if (dfs_short_circuit_read(dfs, &sc, &lb, lb.offset + done, buf + done, want, &got, &bad) !=
                EMBER_OK ||
            got == 0)
            return 20;
        done += got;
    }
    if (memcmp(buf, f->data, BLOCK_LEN) != 0)
        return 21;
    if (dfs_short_circuit_read(dfs, &sc, &lb, lb.offset + BLOCK_LEN, buf, 10, &got, &bad) !=
        EMBER_ENOENT)
        return 22; /* past the block */
    dfs_short_circuit_free(sc);
    sc = NULL;
    ember_dfs_set_short_circuit(dfs, 0);
    if (dfs_short_circuit_read(dfs, &sc, &lb, lb.offset, buf, 10, &got, &bad) != EMBER_ENOENT)
        return 23;
    ember_dfs_set_short_circuit(dfs, 1);

    /* A flipped byte at 200000 in the replica: what comes back (verified
     * windows before its chunk, here none) is good, EMBER_ECORRUPT names
     * the datanode, and the block is not tried this way again. */
    char replica[256];
    snprintf(replica, sizeof(replica), "%s/current/finalized/blk_%d", f->data_dir, BLOCK_ID);
    uint8_t flipped = f->data[200000] ^ 0xff;
    int fd = open(replica, O_WRONLY);
    if (fd < 0 || pwrite(fd, &flipped, 1, 200000) != 1)
        return 25;
    close(fd);
    if (dfs_short_circuit_read(dfs, &sc, &lb, lb.offset, buf, BLOCK_LEN, &got, &bad) !=
            EMBER_ECORRUPT ||
        bad != 1 || got > 200000 / 512 * 512 || memcmp(buf, f->data, got) != 0)
        return 26;
    if (dfs_short_circuit_read(dfs, &sc, &lb, lb.offset, buf, 10, &got, &bad) != EMBER_ENOENT)
        return 27;
    dfs_short_circuit_free(sc);
    sc = NULL;
    l1.domain_socket = ""; /* a datanode without short-circuit */
    if (dfs_short_circuit_read(dfs, &sc, &lb, lb.offset, buf, 10, &got, &bad) != EMBER_ENOENT)
        return 24;
    dfs_short_circuit_free(sc);
    free(buf);
    free(dfs);
    return 0;
}

static void test_stream_entry(void **state) {
    struct fixture *f = *state;
    assert_int_equal(start_datanode(f, f->sock, &f->dn), EMBER_OK);
    datanode_set_secret(f->dn, SECRET);
    assert_int_equal(run_child(f, child_stream, NULL), 0);
}

/* ---- the registry and the configuration -------------------------------------------------- */

static void test_registry_and_config(void **state) {
    (void)state;
    node_registry *reg;
    assert_int_equal(node_registry_create(3, 2, 1000, 0, &reg), EMBER_OK);
    HwlocSummary hw = HWLOC_SUMMARY__INIT;
    StorageReport st = STORAGE_REPORT__INIT;
    ContainerResources res = CONTAINER_RESOURCES__INIT;
    RegisterNode m = REGISTER_NODE__INIT;
    m.resources = &res;
    m.rank = 1;
    m.role = NODE_ROLE__ROLE_CORE;
    m.hostname = "h";
    m.hwloc = &hw;
    m.storage = &st;
    m.data_host = "127.0.0.1";
    m.data_port = 5000;
    m.domain_socket = "/run/dn_socket.1";
    assert_int_equal(node_registry_register(reg, 1, &m, 1, 1), EMBER_OK);
    assert_string_equal(node_registry_get(reg, 1)->domain_socket, "/run/dn_socket.1");
    char long_path[200];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    m.rank = 2;
    m.domain_socket = long_path; /* cannot be a unix socket: none */
    assert_int_equal(node_registry_register(reg, 2, &m, 1, 1), EMBER_OK);
    assert_string_equal(node_registry_get(reg, 2)->domain_socket, "");
    node_registry_destroy(reg);

    config *cfg;
    char err[256];
    assert_int_equal(config_create(&cfg), EMBER_OK);
    assert_int_equal(config_get_int(cfg, "dfs.client.read.shortcircuit"), 1);
    assert_string_equal(config_get_string(cfg, "dfs.domain.socket.path"), "");
    assert_int_equal(
        config_apply_define(cfg, "dfs.client.read.shortcircuit=false", err, sizeof(err)), EMBER_OK);
    assert_int_equal(config_get_int(cfg, "dfs.client.read.shortcircuit"), 0);
    assert_int_equal(
        config_apply_define(cfg, "dfs.client.read.shortcircuit=maybe", err, sizeof(err)),
        EMBER_ECONFIG);
    assert_int_equal(
        config_apply_define(cfg, "dfs.domain.socket.path=/s/dn._PORT", err, sizeof(err)), EMBER_OK);
    assert_string_equal(config_get_string(cfg, "dfs.domain.socket.path"), "/s/dn._PORT");
    config_destroy(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serves_replica_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_live_sockets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_read_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_and_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
