/* short_circuit.c -- the datanode's unix socket for short-circuit local
 * reads (HDFS's dfs.client.read.shortcircuit over dfs.domain.socket.path,
 * without Hadoop's shared-memory slots).
 *
 * A client on this host connects to the socket and sends one frame, as on
 * the data port (4-byte big-endian length, then a DataMessage), holding
 * ShortCircuitRequest{block_id, gen_stamp, token}.  The answer is one
 * frame: ShortCircuitResponse{gen_stamp, length} sent by ONE sendmsg()
 * that carries two descriptors with SCM_RIGHTS, the replica's block file
 * then its meta file, both opened O_RDONLY; or a DataError, without
 * descriptors.  Then the datanode closes the connection: one request per
 * connection.  The client reads and verifies the files itself
 * (client/dfs_short_circuit.c); the datanode's part ends when the
 * descriptors are sent.
 *
 * Before descriptors leave, the same checks as a TCP read: the datanode
 * has the cluster secret (else EMBER_EAGAIN, "not registered yet"); the
 * token is a read token for exactly (block_id, gen_stamp), unexpired, with
 * the right MAC (EMBER_EAUTH); the store has the replica FINALIZED
 * (EMBER_ENOENT) with that gen stamp (EMBER_ENOENT, "has gen stamp").
 * The files are then opened at the store's documented layout
 * (block_store.h: <dir>/current/finalized/blk_<id> and blk_<id>_<gs>.meta,
 * in each data directory in turn) and must be regular files of the sizes
 * the store's index gives (data = length, meta = 16 + 4 * ceil(length /
 * 512)); anything else is EMBER_EIO.  Every served request is logged at
 * INFO ("short-circuit read of blk_N ..."), which the tests look for.
 *
 * The socket.  Its path is the datanode option domain_socket_path with
 * every "_PORT" replaced by the data port (Hadoop's substitution, so that
 * one configured path serves several datanodes on a host).  A path that
 * does not fit a sockaddr_un (107 bytes) or cannot be bound is logged
 * (WARN) and the datanode runs without short-circuit: clients then read
 * over TCP.  An existing file at the path is connected to first: when a
 * process answers, the path is someone else's and is left alone (no
 * short-circuit here); when nothing answers (ECONNREFUSED), it is a stale
 * socket of a datanode that died, and is replaced.  A path that is not a
 * socket is never removed.  The socket is bound, chmod'ed 0660 and only
 * then listened on, so no client connects before its mode is set; at stop
 * the file is removed if it is still the one bound (same device and
 * inode).
 *
 * Connections are a frame server's (proto/frame_server.h) on the
 * datanode's loop, at most SC_MAX_CONNECTIONS; past that the oldest is
 * closed to admit a new one.  Each waits for its request (frames of at
 * most FRAME_MAX_UNAUTHENTICATED bytes) until io_timeout_ms after it was
 * accepted (closed then), is answered at once, and closed once the answer
 * is written.  The answer and its descriptors go out through the server's
 * output queue (the descriptors with its first byte), so the loop never
 * waits on a client; a fresh unix socket takes the few hundred bytes in
 * one sendmsg(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "block_store.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"
#include "proto/frame.h"
#include "proto/frame_server.h"
#include "proto/message.h"

#define SC_MAX_CONNECTIONS 256
#define SC_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1) /* 107 on Linux */
#define SC_META_HEADER 16

struct dn_short_circuit {
    datanode *dn;
    frame_server *srv; /* owns the listening socket and the connections */
    char path[SC_PATH_MAX + 1];
    dev_t dev; /* the socket file bound, removed at stop if still there */
    ino_t ino;
};

/* ---- paths ------------------------------------------------------------------------ */

int datanode_domain_socket_path(const char *configured, const char *run_dir, int rank, char *out,
                                size_t outlen) {
    int n;
    if (configured != NULL && configured[0] != '\0') {
        n = snprintf(out, outlen, "%s", configured);
    } else if (run_dir != NULL && run_dir[0] == '/') {
        n = snprintf(out, outlen, "%s/dn_socket.%d", run_dir, rank);
    } else {
        /* Clients run elsewhere: a relative run directory is made absolute. */
        char cwd[PATH_MAX];
        if (run_dir == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
            return EMBER_EIO;
        n = snprintf(out, outlen, "%s/%s/dn_socket.%d", cwd, run_dir, rank);
    }
    return (n < 0 || (size_t)n >= outlen) ? EMBER_ETOOBIG : EMBER_OK;
}

/* tmpl with every "_PORT" replaced by port, into out.  EMBER_ETOOBIG when
 * the result does not fit outlen. */
static int sc_expand_path(const char *tmpl, int port, char *out, size_t outlen) {
    char digits[16];
    snprintf(digits, sizeof(digits), "%d", port);
    size_t o = 0;
    for (const char *p = tmpl; *p != '\0';) {
        const char *piece = p;
        size_t n = 1;
        if (strncmp(p, "_PORT", 5) == 0) {
            piece = digits;
            n = strlen(digits);
            p += 5;
        } else {
            p++;
        }
        if (o + n >= outlen)
            return EMBER_ETOOBIG;
        memcpy(out + o, piece, n);
        o += n;
    }
    out[o] = '\0';
    return EMBER_OK;
}

/* Makes path free for a new socket: absent, or a stale socket (nobody
 * listening), which is removed.  EMBER_EEXIST when a live process listens
 * there or the path is not a socket; EMBER_EIO otherwise (errno set). */
static int sc_claim_path(const char *path, const struct sockaddr_un *addr) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? EMBER_OK : EMBER_EIO;
    if (!S_ISSOCK(st.st_mode)) {
        LOG_WARN("datanode: %s exists and is not a socket: left alone", path);
        return EMBER_EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return EMBER_EIO;
    int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int err = errno;
    close(fd);
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
        LOG_WARN("datanode: %s is in use by a live process: left alone", path);
        return EMBER_EEXIST;
    }
    if (err != ECONNREFUSED) {
        errno = err;
        return EMBER_EIO;
    }
    LOG_INFO("datanode: replacing the stale socket %s", path);
    return unlink(path) == 0 || errno == ENOENT ? EMBER_OK : EMBER_EIO;
}

/* Binds and listens on path (mode 0660), non-blocking: the socket in
 * *fd_out.  0, or an EMBER_E* code with a WARN logged. */
static int sc_listen(dn_short_circuit *sc, const char *path, int *fd_out) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int rc = sc_claim_path(path, &addr);
    if (rc == EMBER_EIO)
        LOG_WARN("datanode: cannot use %s for short-circuit reads: %s", path, strerror(errno));
    if (rc != EMBER_OK)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct stat st;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        LOG_WARN("datanode: cannot bind %s for short-circuit reads: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EMBER_EIO;
    }
    if (chmod(path, 0660) != 0 || lstat(path, &st) != 0 || listen(fd, 128) != 0) {
        LOG_WARN("datanode: cannot listen on %s for short-circuit reads: %s", path,
                 strerror(errno));
        close(fd);
        unlink(path);
        return EMBER_EIO;
    }
    *fd_out = fd;
    sc->dev = st.st_dev;
    sc->ino = st.st_ino;
    snprintf(sc->path, sizeof(sc->path), "%s", path);
    return EMBER_OK;
}

/* ---- answers ---------------------------------------------------------------------- */

/* Queues msg as one frame, with nfds descriptors attached (SCM_RIGHTS)
 * when nfds > 0 (the server sends duplicates), and closes the connection
 * once it is written.  0, or the error that kept it from being queued. */
static int sc_reply(frame_server *srv, uint64_t id, const DataMessage *msg, const int *fds,
                    size_t nfds) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_data(msg, FRAME_MAX_UNAUTHENTICATED + FRAME_HEADER_LEN, &buf, &len);
    if (rc == EMBER_OK) {
        rc = frame_server_send_fds(srv, id, buf, len, fds, nfds);
        free(buf);
    }
    frame_server_close(srv, id);
    return rc;
}

static void sc_reply_error(frame_server *srv, uint64_t id, int code, const char *text) {
    DataError err = DATA_ERROR__INIT;
    err.code = code;
    err.message = (char *)text;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_ERROR;
    msg.error = &err;
    int rc = sc_reply(srv, id, &msg, NULL, 0);
    if (rc != EMBER_OK)
        LOG_INFO("datanode: short-circuit client %s: error answer dropped (%s)",
                 frame_server_peer(srv, id), ember_strerror(rc));
}

/* ---- serving a request ------------------------------------------------------------ */

/* Opens path read-only and checks that it is a regular file of size
 * bytes.  The descriptor, or -1. */
static int sc_open_exact(const char *path, uint64_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Opens the block and meta files of the finalized replica info describes,
 * looking in each data directory.  0 with both descriptors, or
 * EMBER_EIO. */
static int sc_open_replica(const datanode *dn, const block_info *info, int fds[2]) {
    uint64_t chunks = (info->length + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
    const char *p = dn->data_dirs;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        char path[PATH_MAX];
        if (len > 0 && len < sizeof(path) - 96) {
            int n = snprintf(path, sizeof(path), "%.*s/current/finalized/blk_%" PRIu64, (int)len, p,
                             info->block_id);
            fds[0] = sc_open_exact(path, info->length);
            if (fds[0] >= 0) {
                snprintf(path + n, sizeof(path) - (size_t)n, "_%" PRIu64 ".meta", info->gen_stamp);
                fds[1] = sc_open_exact(path, SC_META_HEADER + 4 * chunks);
                if (fds[1] >= 0)
                    return EMBER_OK;
                close(fds[0]);
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    fds[0] = fds[1] = -1;
    return EMBER_EIO;
}

static void sc_handle_request(datanode *dn, frame_server *srv, uint64_t conn,
                              const ShortCircuitRequest *req) {
    char why[256], text[512];
    uint64_t id = req->block_id;
    const char *peer = frame_server_peer(srv, conn);
    if (dn->secret == NULL) {
        LOG_INFO("datanode: short-circuit client %s: refused: not registered yet", peer);
        sc_reply_error(srv, conn, EMBER_EAGAIN, "datanode not registered yet");
        return;
    }
    if (!dn_token_ok(dn, req->token, id, req->gen_stamp, AUTH_TOKEN_READ, why, sizeof(why))) {
        if (frame_server_log_ok(srv))
            LOG_WARN("datanode: short-circuit client %s: blk_%" PRIu64 " refused: %s", peer, id,
                     why);
        snprintf(text, sizeof(text), "access to blk_%" PRIu64 " denied: %s", id, why);
        sc_reply_error(srv, conn, EMBER_EAUTH, text);
        return;
    }
    block_reader *r = NULL;
    int rc = block_reader_open(dn->store, id, &r);
    block_info info = {0};
    if (rc == EMBER_OK) {
        info = *block_reader_info(r);
        block_reader_close(r);
    }
    int fds[2] = {-1, -1};
    if (rc == EMBER_OK && info.gen_stamp != req->gen_stamp) {
        rc = EMBER_ENOENT;
        snprintf(text, sizeof(text),
                 "replica of blk_%" PRIu64 " on rank %d has gen stamp %" PRIu64 ", not %" PRIu64,
                 id, dn->rank, info.gen_stamp, req->gen_stamp);
    } else if (rc == EMBER_ENOENT) {
        snprintf(text, sizeof(text), "no replica of blk_%" PRIu64 " on rank %d", id, dn->rank);
    } else if (rc != EMBER_OK) {
        snprintf(text, sizeof(text), "cannot open blk_%" PRIu64 " on rank %d: %s", id, dn->rank,
                 ember_strerror(rc));
    } else if ((rc = sc_open_replica(dn, &info, fds)) != EMBER_OK) {
        snprintf(text, sizeof(text), "cannot open the files of blk_%" PRIu64 " on rank %d", id,
                 dn->rank);
    }
    if (rc != EMBER_OK) {
        LOG_INFO("datanode: short-circuit client %s: %s", peer, text);
        sc_reply_error(srv, conn, rc, text);
        return;
    }
    ShortCircuitResponse res = SHORT_CIRCUIT_RESPONSE__INIT;
    res.gen_stamp = info.gen_stamp;
    res.length = info.length;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_SHORT_CIRCUIT_RESULT;
    msg.short_circuit_result = &res;
    rc = sc_reply(srv, conn, &msg, fds, 2);
    close(fds[0]); /* the server sends its own duplicates */
    close(fds[1]);
    if (rc != EMBER_OK)
        LOG_INFO("datanode: short-circuit client %s: answer for blk_%" PRIu64 " dropped (%s)",
                 peer, id, ember_strerror(rc));
    else
        LOG_INFO("datanode: short-circuit read of blk_%" PRIu64 " gs %" PRIu64 " (%" PRIu64
                 " bytes) by %s",
                 id, info.gen_stamp, info.length, peer);
}

/* ---- connections: the frame server's callbacks ------------------------------------ */

/* The one request: answered, then the connection closes. */
static void sc_on_frame(frame_server *srv, uint64_t id, void *data, const uint8_t *payload,
                        size_t len, void *arg) {
    dn_short_circuit *sc = arg;
    (void)data;
    DataMessage *msg = NULL;
    if (message_decode_data(payload, len, &msg) != EMBER_OK ||
        msg->body_case != DATA_MESSAGE__BODY_SHORT_CIRCUIT) {
        if (frame_server_log_ok(srv))
            LOG_WARN("datanode: short-circuit client %s: not a ShortCircuitRequest",
                     frame_server_peer(srv, id));
        sc_reply_error(srv, id, EMBER_EPROTO, "expected a ShortCircuitRequest");
    } else {
        sc_handle_request(sc->dn, srv, id, msg->short_circuit);
    }
    if (msg != NULL)
        data_message__free_unpacked(msg, NULL);
}

static void sc_on_bad_frame(frame_server *srv, uint64_t id, void *data, int code, void *arg) {
    (void)data;
    (void)arg;
    if (frame_server_log_ok(srv))
        LOG_WARN("datanode: short-circuit client %s: frame over the size cap",
                 frame_server_peer(srv, id));
    sc_reply_error(srv, id, code, "frame too large");
}

static int sc_on_eof(frame_server *srv, uint64_t id, void *data, size_t pending, void *arg) {
    (void)data;
    (void)pending;
    (void)arg;
    LOG_DEBUG("datanode: short-circuit client %s left without a request",
              frame_server_peer(srv, id));
    return 0;
}

static void sc_on_deadline(frame_server *srv, uint64_t id, void *data, void *arg) {
    (void)data;
    (void)arg;
    if (frame_server_log_ok(srv))
        LOG_INFO("datanode: short-circuit client %s sent no request in time; closing",
                 frame_server_peer(srv, id));
    frame_server_abort(srv, id);
}

/* ---- lifecycle -------------------------------------------------------------------- */

void dn_short_circuit_start(datanode *dn, const char *path_template) {
    if (path_template == NULL || path_template[0] == '\0')
        return;
    char path[SC_PATH_MAX + 1];
    if (sc_expand_path(path_template, dn->port, path, sizeof(path)) != EMBER_OK) {
        LOG_WARN("datanode: dfs.domain.socket.path '%.200s' is longer than a unix socket path "
                 "may be (%zu bytes): short-circuit reads are off",
                 path_template, (size_t)SC_PATH_MAX);
        return;
    }
    dn_short_circuit *sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        LOG_WARN("datanode: out of memory: short-circuit reads are off");
        return;
    }
    sc->dn = dn;
    int fd;
    if (sc_listen(sc, path, &fd) != EMBER_OK) {
        free(sc);
        LOG_WARN("datanode: short-circuit reads are off");
        return;
    }
    dn->short_circuit = sc;
    frame_server_options so = {
        .name = "datanode short-circuit",
        .listen_fd = fd,
        .max_connections = 1, /* nothing is ever authenticated: one request each */
        .max_unauthenticated = SC_MAX_CONNECTIONS,
        .max_unauthenticated_per_peer = 0, /* one uid is every local client of a user */
        .max_frame = FRAME_MAX_UNAUTHENTICATED,
        .outq_limit = 2 * FRAME_MAX_UNAUTHENTICATED,
        .first_deadline_ms = dn->io_timeout_ms,
        .linger_ms = 0,
        .cb = {.on_frame = sc_on_frame,
               .on_bad_frame = sc_on_bad_frame,
               .on_eof = sc_on_eof,
               .on_deadline = sc_on_deadline},
        .arg = sc,
    };
    int rc = frame_server_create(dn->loop, &so, &sc->srv);
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: cannot watch %s: %s; short-circuit reads are off", path,
                 ember_strerror(rc));
        dn_short_circuit_stop(dn);
        return;
    }
    LOG_INFO("datanode: short-circuit reads on %s", sc->path);
}

void dn_short_circuit_stop(datanode *dn) {
    dn_short_circuit *sc = dn->short_circuit;
    if (sc == NULL)
        return;
    frame_server_destroy(sc->srv); /* closes the listening socket */
    struct stat st;
    if (lstat(sc->path, &st) == 0 && st.st_dev == sc->dev && st.st_ino == sc->ino)
        unlink(sc->path);
    free(sc);
    dn->short_circuit = NULL;
}

const char *datanode_domain_socket(const datanode *dn) {
    return dn->short_circuit != NULL ? dn->short_circuit->path : "";
}
