/* dfs_short_circuit.c -- short-circuit local reads for the client's file
 * streams (HDFS's BlockReaderLocal, dfs.client.read.shortcircuit).
 *
 * When a block's location names a datanode unix socket
 * (DatanodeLocation.domain_socket) and the handle allows it
 * (ember_dfs_set_short_circuit(); on by default), a reader asks that
 * datanode for the replica's files rather than streaming the block over
 * TCP: it connects to the socket, sends ShortCircuitRequest{block_id,
 * gen_stamp, token} in one frame and receives ShortCircuitResponse{gen_stamp,
 * length} with two descriptors (recvmsg, SCM_RIGHTS, MSG_CMSG_CLOEXEC):
 * the block file, then the meta file (datanode/short_circuit.c).  A socket
 * that does not exist here (the datanode is on another host) or that
 * nobody listens on simply fails to connect.  The files must be regular,
 * the meta file must start with the header of block_store.h (magic
 * "EMBRMETA", version 1, CRC32C, 512 bytes per checksum) and both must be
 * long enough for the length the datanode gave, which must cover the
 * namenode's length of the block.
 *
 * Reads then pread the block file and verify every 512-byte chunk they
 * touch against the big-endian CRC32C the meta file holds for it (at 16 +
 * 4 * chunk index).  A stretch that starts on a chunk boundary and holds
 * whole chunks (or ends at the replica's end) is read straight into the
 * caller's buffer and verified in place, SC_WINDOW bytes (1 MiB) per pair
 * of preads; a chunk cut by either end of the range goes through a
 * 512-byte bounce buffer.
 *
 * Per stream (dfs_short_circuit), one replica at most is open: the block
 * last read this way, kept until the stream reads another block or is
 * closed.  Failures never fail a read; each makes dfs_short_circuit_read()
 * answer EMBER_ENOENT (or EMBER_ECORRUPT), and the stream reads over TCP:
 *   - a socket that cannot be connected, or that answers nonsense, is not
 *     tried again by this stream (SC_FAILED_MAX remembered);
 *   - a datanode's refusal (DataError: not registered, no such replica,
 *     another gen stamp, a bad token) skips that location for this block;
 *   - a chunk that fails its checksum, a bad meta header or a file shorter
 *     than its length: EMBER_ECORRUPT names the datanode, which the stream
 *     treats as after a corrupt packet over TCP (it reports the replica to
 *     the namenode and tries that datanode last), and short-circuit is off
 *     for this block in this stream;
 *   - a block file whose size changed since it was opened (an append
 *     reopened the replica) is stale, not corrupt: dropped, not reported.
 * Single-threaded, like the stream that owns it. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "dfs_internal.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define SC_CHUNK 512
#define SC_META_HEADER 16
#define SC_WINDOW (1u << 20) /* bytes verified per pair of preads */
#define SC_ANSWER_MAX 8192   /* one answer frame: a DataError's text is at most 4 KiB */
#define SC_TIMEOUT_MS 10000  /* for the datanode's answer, as for a TCP connect */
#define SC_FAILED_MAX 16     /* sockets a stream remembers as unusable */
#define SC_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

struct dfs_short_circuit {
    uint64_t block_id; /* the block the fields below are about (0: none yet) */
    int off;           /* short-circuit failed for good for this block */
    uint32_t skip;     /* its locations not to try, one bit per index */
    int open;          /* rep holds an open replica of block_id */
    uint32_t rank;     /* ... from this datanode */
    dfs_sc_replica rep;
    char failed[SC_FAILED_MAX][SC_PATH_MAX + 1]; /* sockets not to try again */
    size_t nfailed;
};

static const unsigned char sc_meta_magic[8] = {'E', 'M', 'B', 'R', 'M', 'E', 'T', 'A'};

static uint32_t sc_get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the replica's files ------------------------------------------------------- */

void dfs_sc_replica_close(dfs_sc_replica *r) {
    if (r->data_fd >= 0)
        close(r->data_fd);
    if (r->meta_fd >= 0)
        close(r->meta_fd);
    r->data_fd = r->meta_fd = -1;
}

/* len bytes at offset, all of them: EMBER_ECORRUPT at the end of the file
 * (shorter than it must be), EMBER_EIO on an error. */
static int sc_pread_exact(int fd, void *buf, size_t len, uint64_t offset) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(offset + done));
        if (n > 0)
            done += (size_t)n;
        else if (n == 0)
            return EMBER_ECORRUPT;
        else if (errno != EINTR)
            return EMBER_EIO;
    }
    return EMBER_OK;
}

int dfs_sc_replica_check(dfs_sc_replica *r) {
    struct stat ds, ms;
    if (fstat(r->data_fd, &ds) != 0 || fstat(r->meta_fd, &ms) != 0)
        return EMBER_EIO;
    if (!S_ISREG(ds.st_mode) || !S_ISREG(ms.st_mode))
        return EMBER_EPROTO;
    uint64_t chunks = (r->length + SC_CHUNK - 1) / SC_CHUNK;
    if ((uint64_t)ds.st_size < r->length || (uint64_t)ms.st_size < SC_META_HEADER + 4 * chunks)
        return EMBER_ECORRUPT;
    uint8_t h[SC_META_HEADER];
    int rc = sc_pread_exact(r->meta_fd, h, sizeof(h), 0);
    if (rc != EMBER_OK)
        return rc;
    if (memcmp(h, sc_meta_magic, sizeof(sc_meta_magic)) != 0 || (h[8] << 8 | h[9]) != 1 ||
        (h[10] << 8 | h[11]) != 1 || sc_get_be32(h + 12) != SC_CHUNK)
        return EMBER_ECORRUPT;
    r->data_size = (uint64_t)ds.st_size;
    return EMBER_OK;
}

/* A checksum that does not match: corrupt, unless the block file changed
 * size since it was opened (an append reopened the replica), which makes
 * it stale (EMBER_EAGAIN). */
static int sc_mismatch(const dfs_sc_replica *r) {
    struct stat st;
    if (fstat(r->data_fd, &st) == 0 && (uint64_t)st.st_size != r->data_size)
        return EMBER_EAGAIN;
    return EMBER_ECORRUPT;
}

/* Verifies nchunks chunks of data, the first being chunk index first;
 * the last may be short (len covers them). */
static int sc_verify(const dfs_sc_replica *r, const uint8_t *data, size_t len, uint64_t first) {
    uint8_t crcs[4 * (SC_WINDOW / SC_CHUNK)];
    size_t nchunks = (len + SC_CHUNK - 1) / SC_CHUNK;
    int rc = sc_pread_exact(r->meta_fd, crcs, 4 * nchunks, SC_META_HEADER + 4 * first);
    if (rc != EMBER_OK)
        return rc == EMBER_ECORRUPT ? sc_mismatch(r) : rc;
    for (size_t i = 0; i < nchunks; i++) {
        size_t n = len - i * SC_CHUNK < SC_CHUNK ? len - i * SC_CHUNK : SC_CHUNK;
        if (crc32c(0, data + i * SC_CHUNK, n) != sc_get_be32(crcs + 4 * i))
            return sc_mismatch(r);
    }
    return EMBER_OK;
}

int dfs_sc_replica_read(const dfs_sc_replica *r, uint64_t offset, uint8_t *out, size_t len,
                        size_t *got) {
    *got = 0;
    if (offset >= r->length)
        return EMBER_OK;
    if (len > r->length - offset)
        len = (size_t)(r->length - offset);
    size_t done = 0;
    while (done < len) {
        uint64_t at = offset + done;
        size_t want = len - done;
        int rc;
        if (at % SC_CHUNK == 0 && (want >= SC_CHUNK || at + want == r->length)) {
            /* Whole chunks (or the replica's short last one): in place. */
            if (want > SC_WINDOW)
                want = SC_WINDOW;
            if (at + want != r->length)
                want -= want % SC_CHUNK;
            rc = sc_pread_exact(r->data_fd, out + done, want, at);
            if (rc == EMBER_OK)
                rc = sc_verify(r, out + done, want, at / SC_CHUNK);
        } else {
            /* A chunk cut by the range: through the bounce buffer. */
            uint8_t chunk[SC_CHUNK];
            uint64_t start = at - at % SC_CHUNK;
            size_t clen = r->length - start < SC_CHUNK ? (size_t)(r->length - start) : SC_CHUNK;
            rc = sc_pread_exact(r->data_fd, chunk, clen, start);
            if (rc == EMBER_OK)
                rc = sc_verify(r, chunk, clen, start / SC_CHUNK);
            size_t skip = (size_t)(at - start);
            if (want > clen - skip)
                want = clen - skip;
            if (rc == EMBER_OK)
                memcpy(out + done, chunk + skip, want);
        }
        if (rc == EMBER_ECORRUPT && sc_mismatch(r) == EMBER_EAGAIN)
            rc = EMBER_EAGAIN; /* shorter because it changed, not because it rotted */
        if (rc != EMBER_OK)
            return rc;
        done += want;
        *got = done;
    }
    return EMBER_OK;
}

/* ---- asking the datanode ------------------------------------------------------- */

int dfs_sc_connect(const char *path, int *fd_out) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n > SC_PATH_MAX)
        return EMBER_EINVAL;
    memcpy(addr.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return EMBER_EIO;
    /* A unix connect never waits: EAGAIN means the backlog is full. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int rc = errno == EAGAIN ? EMBER_EAGAIN : EMBER_ECLOSED;
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return EMBER_OK;
}

/* Receives one answer frame, and the descriptors that come with it, into
 * buf (SC_ANSWER_MAX bytes); its payload's length in *len. */
static int sc_receive(int fd, int64_t deadline_ms, uint8_t *buf, size_t *len, int *fds,
                      size_t *nfds) {
    size_t have = 0;
    int extra = 0;
    for (;;) {
        if (have >= FRAME_HEADER_LEN) {
            size_t need = FRAME_HEADER_LEN + (size_t)sc_get_be32(buf);
            if (need > SC_ANSWER_MAX)
                return EMBER_ETOOBIG;
            if (have >= need) {
                *len = need - FRAME_HEADER_LEN;
                return extra ? EMBER_EPROTO : EMBER_OK;
            }
        }
        int64_t left = deadline_ms - clock_monotonic_ms();
        if (left <= 0)
            return EMBER_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno != EINTR)
            return EMBER_EIO;
        if (ready <= 0)
            continue;
        union {
            struct cmsghdr align;
            char space[CMSG_SPACE(2 * sizeof(int))];
        } control;
        struct iovec iov = {.iov_base = buf + have, .iov_len = SC_ANSWER_MAX - have};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.space,
                            .msg_controllen = sizeof(control.space)};
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return EMBER_EIO;
        socket_take_fds(&mh, fds, 2, nfds, &extra);
        if (mh.msg_flags & MSG_CTRUNC)
            extra = 1; /* more descriptors than asked for: the kernel closed them */
        if (n == 0)
            return EMBER_ECLOSED;
        have += (size_t)n;
    }
}

int dfs_sc_exchange(int fd, uint64_t block_id, uint64_t gen_stamp, const BlockToken *token,
                    int64_t deadline_ms, dfs_sc_replica *out, char *err, size_t errlen) {
    *out = (dfs_sc_replica){.data_fd = -1, .meta_fd = -1};
    err[0] = '\0';
    ShortCircuitRequest req = SHORT_CIRCUIT_REQUEST__INIT;
    req.block_id = block_id;
    req.gen_stamp = gen_stamp;
    req.token = (BlockToken *)token;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_SHORT_CIRCUIT;
    dm.short_circuit = &req;
    uint8_t *frame;
    size_t frame_len;
    int rc =
        message_encode_data(&dm, FRAME_MAX_UNAUTHENTICATED + FRAME_HEADER_LEN, &frame, &frame_len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_write_all(fd, frame, frame_len, deadline_ms);
    free(frame);
    if (rc != EMBER_OK)
        return rc;

    uint8_t *buf = malloc(SC_ANSWER_MAX);
    if (buf == NULL)
        return EMBER_ENOMEM;
    int fds[2] = {-1, -1};
    size_t nfds = 0, len = 0;
    DataMessage *msg = NULL;
    rc = sc_receive(fd, deadline_ms, buf, &len, fds, &nfds);
    if (rc == EMBER_OK && message_decode_data(buf + FRAME_HEADER_LEN, len, &msg) != EMBER_OK)
        rc = EMBER_EPROTO;
    if (rc == EMBER_OK && msg->body_case == DATA_MESSAGE__BODY_ERROR) {
        rc = msg->error->code;
        snprintf(err, errlen, "%s", msg->error->message);
    } else if (rc == EMBER_OK) {
        const ShortCircuitResponse *res = msg->body_case == DATA_MESSAGE__BODY_SHORT_CIRCUIT_RESULT
                                              ? msg->short_circuit_result
                                              : NULL;
        if (res == NULL || nfds != 2 || res->gen_stamp != gen_stamp) {
            snprintf(err, errlen, "not a short-circuit answer for blk_%" PRIu64, block_id);
            rc = EMBER_EPROTO;
        } else {
            out->data_fd = fds[0];
            out->meta_fd = fds[1];
            out->gen_stamp = res->gen_stamp;
            out->length = res->length;
            nfds = 0; /* out owns them now */
            rc = dfs_sc_replica_check(out);
            if (rc != EMBER_OK) {
                snprintf(err, errlen, "the files of blk_%" PRIu64 " %s", block_id,
                         rc == EMBER_ECORRUPT ? "are corrupt" : "are not usable");
                dfs_sc_replica_close(out);
            }
        }
    }
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
    if (msg != NULL)
        data_message__free_unpacked(msg, NULL);
    free(buf);
    return rc;
}

/* ---- the stream's side --------------------------------------------------------- */

void ember_dfs_set_short_circuit(ember_dfs *dfs, int on) { dfs->no_short_circuit = !on; }

void dfs_short_circuit_free(dfs_short_circuit *sc) {
    if (sc == NULL)
        return;
    if (sc->open)
        dfs_sc_replica_close(&sc->rep);
    free(sc);
}

static int sc_socket_failed(const dfs_short_circuit *sc, const char *path) {
    for (size_t i = 0; i < sc->nfailed; i++)
        if (strcmp(sc->failed[i], path) == 0)
            return 1;
    return 0;
}

static void sc_close_replica(dfs_short_circuit *sc) {
    if (sc->open)
        dfs_sc_replica_close(&sc->rep);
    sc->open = 0;
}

/* Short-circuit failed for good for this block in this stream. */
static void sc_give_up(dfs_short_circuit *sc) {
    sc_close_replica(sc);
    sc->off = 1;
}

/* Opens a replica of lb from the first location that hands one out: 0,
 * EMBER_ECORRUPT with the rank whose files are corrupt in *bad_rank, or
 * EMBER_ENOENT when no location can. */
static int sc_open(dfs_short_circuit *sc, const LocatedBlock *lb, uint32_t *bad_rank) {
    for (size_t i = 0; i < lb->n_locations && i < 32; i++) {
        const DatanodeLocation *loc = lb->locations[i];
        if ((sc->skip & (1u << i)) || loc->domain_socket[0] == '\0' ||
            strlen(loc->domain_socket) > SC_PATH_MAX || sc_socket_failed(sc, loc->domain_socket))
            continue;
        sc->skip |= 1u << i;
        int fd;
        int rc = dfs_sc_connect(loc->domain_socket, &fd);
        char why[256];
        if (rc == EMBER_OK) {
            rc = dfs_sc_exchange(fd, lb->block_id, lb->gen_stamp, lb->token,
                                 clock_monotonic_ms() + SC_TIMEOUT_MS, &sc->rep, why, sizeof(why));
            close(fd);
        }
        if (rc == EMBER_OK && sc->rep.length < lb->length) {
            dfs_sc_replica_close(&sc->rep); /* not the replica the namenode knows */
            continue;
        }
        if (rc == EMBER_OK) {
            sc->open = 1;
            sc->rank = loc->rank;
            return EMBER_OK;
        }
        if (rc == EMBER_ECORRUPT) {
            sc_give_up(sc);
            *bad_rank = loc->rank;
            return rc;
        }
        /* Unreachable, or answering nonsense: not this socket again.  A
         * datanode's refusal (a DataError's code) is about this block. */
        if ((rc == EMBER_ECLOSED || rc == EMBER_EPROTO || rc == EMBER_ETOOBIG ||
             rc == EMBER_ETIMEDOUT) &&
            sc->nfailed < SC_FAILED_MAX)
            snprintf(sc->failed[sc->nfailed++], sizeof(sc->failed[0]), "%s", loc->domain_socket);
    }
    return EMBER_ENOENT;
}

int dfs_short_circuit_read(ember_dfs *dfs, dfs_short_circuit **scp, const LocatedBlock *lb,
                           uint64_t pos, uint8_t *out, size_t len, size_t *got,
                           uint32_t *bad_rank) {
    *got = 0;
    if (dfs->no_short_circuit || lb->token == NULL || lb->length == 0 || len == 0 ||
        pos < lb->offset || pos - lb->offset >= lb->length)
        return EMBER_ENOENT;
    if (*scp == NULL && (*scp = calloc(1, sizeof(**scp))) == NULL)
        return EMBER_ENOENT;
    dfs_short_circuit *sc = *scp;
    if (sc->block_id != lb->block_id) {
        sc_close_replica(sc);
        sc->block_id = lb->block_id;
        sc->off = 0;
        sc->skip = 0;
    }
    if (sc->off)
        return EMBER_ENOENT;
    if (!sc->open) {
        int rc = sc_open(sc, lb, bad_rank);
        if (rc != EMBER_OK)
            return rc;
    }
    uint64_t offset = pos - lb->offset;
    if (len > lb->length - offset)
        len = (size_t)(lb->length - offset);
    int rc = dfs_sc_replica_read(&sc->rep, offset, out, len, got);
    if (rc == EMBER_ECORRUPT)
        *bad_rank = sc->rank;
    if (rc != EMBER_OK)
        sc_give_up(sc); /* what was verified before still counts */
    if (rc == EMBER_ECORRUPT)
        return rc;
    return *got > 0 ? EMBER_OK : EMBER_ENOENT;
}
