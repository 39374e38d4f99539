/* test_datanode.c -- unit tests for datanode/datanode.c.
 *
 * Each test runs three datanodes (ranks 1..3) in this process on one
 * event loop, each with its own mkdtemp() data directory, and a fake rank
 * transport: opts.send packs the RankMessage into a queue, and a loop hook
 * unpacks each entry (message_decode_rank) and hands it to the destination
 * datanode -- or records it when it is for rank 0, the fake primary
 * (BlockReceived, BlockReport).  Messages to f->drop_to vanish.
 *
 * Clients are forked children doing blocking I/O over loopback while the
 * parent runs the loop until the child exits (run_child, 5 s deadline);
 * a child checks what it receives itself and sends a small result struct
 * back through a pipe.  Replicas are checked on disk: the files
 * blk_<id>* in current/rbw and current/finalized of each node's directory,
 * and, in the first test, through block_store after the datanodes are gone.
 *
 * Covers: a 300 KiB write through a 3-node pipeline (acks, identical
 * replicas, 3 BlockReceived) and a read of it at an unaligned range from
 * the second node; bad tokens (wrong MAC, expired, read token for a
 * write, write token for a read), bad first frames (too big, malformed,
 * not a request, none in time) and no secret; a wrong CRC; a downstream
 * that never answers (io_timeout 300 ms), before and after the last
 * packet; packets that end and start mid-chunk (hflush); a client more
 * than 128 packets ahead; a client that closes
 * mid-block; a corrupt replica; DeleteBlocks; block reports; read edge
 * cases (partial chunk, empty, past the end, gen stamp, unknown block),
 * a duplicate block; clients that shut their sending side early; a read
 * larger than the output queue's bound; storage figures.  ReplicateBlock:
 * 300 KiB to two targets, 41 packets (window 32), an empty replica, the
 * cap of 8; refused: unknown block, gen stamp, not from the primary, a
 * corrupt source, a target that holds the block.  Block scanner (a node
 * restarted with scanning on): a corrupt replica among good ones is
 * reported once (RankMessage.bad_replica), never again on later passes,
 * and forgotten once deleted; a rate of 0 scans nothing; a low rate reads
 * a replica over several ticks.  Every wait has a deadline; the whole file
 * runs in about 8 s. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "datanode/block_store.h"
#include "datanode/datanode.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define NODES 3 /* datanodes are ranks 1..NODES; rank 0 is the fake primary */
#define SECRET "0123456789abcdef0123456789abcdef"
#define IO_TIMEOUT_MS 300
#define CHILD_DEADLINE_MS 5000
#define PACKET 65536u
#define MAX_RECORDS 32

/* ---- fixture: three datanodes and a fake transport ----------------------------- */

typedef struct queued {
    int source, dest;
    uint8_t *bytes;
    size_t len;
    struct queued *next;
} queued;

struct fixture;

typedef struct {
    struct fixture *f;
    int rank;
} endpoint;

typedef struct {
    int source;
    uint64_t block_id, gen_stamp, length;
} received_record;

typedef struct {
    int source;
    uint64_t block_id;
    uint32_t rank;
} bad_record;

typedef struct {
    int source;
    uint32_t seq;
    int last;
    size_t n;
    uint64_t ids[8], gss[8], lens[8];
} report_record;

struct fixture {
    char tmp[64];
    char dirs[NODES + 1][128];
    event_loop *loop;
    datanode *dn[NODES + 1];
    endpoint ep[NODES + 1];
    queued *head, *tail;
    int drop_to;               /* messages to this rank vanish (-1: none) */
    int packets_to[NODES + 1]; /* PipelinePackets delivered per rank */
    int acks_to[NODES + 1];    /* PipelineAcks delivered per rank */
    int packets_from[NODES + 1];
    int max_inflight[NODES + 1]; /* most packets a rank had sent and not been acked */
    received_record received[MAX_RECORDS];
    int nreceived;
    report_record reports[MAX_RECORDS];
    int nreports;
    bad_record bad[MAX_RECORDS]; /* RankMessage.bad_replica */
    int nbad;
    int unexpected; /* messages nobody took */
};

static int fake_send(void *arg, int dest, const RankMessage *msg) {
    endpoint *ep = arg;
    struct fixture *f = ep->f;
    if (dest == f->drop_to)
        return EMBER_OK;
    queued *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return EMBER_ENOMEM;
    q->len = protobuf_c_message_get_packed_size(&msg->base);
    q->bytes = malloc(q->len + 1);
    if (q->bytes == NULL) {
        free(q);
        return EMBER_ENOMEM;
    }
    protobuf_c_message_pack(&msg->base, q->bytes);
    q->source = ep->rank;
    q->dest = dest;
    if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_PACKET) {
        int inflight = ++f->packets_from[ep->rank] - f->acks_to[ep->rank];
        if (inflight > f->max_inflight[ep->rank])
            f->max_inflight[ep->rank] = inflight;
    }
    if (f->tail != NULL)
        f->tail->next = q;
    else
        f->head = q;
    f->tail = q;
    return EMBER_OK;
}

/* The fake primary keeps what it is told. */
static void primary_take(struct fixture *f, int source, const RankMessage *msg) {
    if (msg->body_case == RANK_MESSAGE__BODY_BLOCK_RECEIVED && f->nreceived < MAX_RECORDS) {
        const BlockReceived *b = msg->block_received;
        f->received[f->nreceived++] =
            (received_record){source, b->block_id, b->gen_stamp, b->length};
    } else if (msg->body_case == RANK_MESSAGE__BODY_BLOCK_REPORT && f->nreports < MAX_RECORDS) {
        const BlockReport *r = msg->block_report;
        report_record *rec = &f->reports[f->nreports++];
        rec->source = source;
        rec->seq = r->seq;
        rec->last = r->last;
        rec->n = r->n_block_ids;
        for (size_t i = 0; i < r->n_block_ids && i < 8; i++) {
            rec->ids[i] = r->block_ids[i];
            rec->gss[i] = r->gen_stamps[i];
            rec->lens[i] = r->lengths[i];
        }
    } else if (msg->body_case == RANK_MESSAGE__BODY_BAD_REPLICA && f->nbad < MAX_RECORDS) {
        f->bad[f->nbad++] =
            (bad_record){source, msg->bad_replica->block_id, msg->bad_replica->rank};
    } else {
        f->unexpected++;
    }
}

/* Loop hook: delivers what the transport holds. */
static int transport_hook(event_loop *loop, void *arg) {
    (void)loop;
    struct fixture *f = arg;
    for (int budget = 10000; f->head != NULL && budget > 0; budget--) {
        queued *q = f->head;
        f->head = q->next;
        if (f->head == NULL)
            f->tail = NULL;
        RankMessage *msg = NULL;
        if (message_decode_rank(q->bytes, q->len, &msg) != EMBER_OK) {
            f->unexpected++;
        } else if (q->dest == 0) {
            primary_take(f, q->source, msg);
            rank_message__free_unpacked(msg, NULL);
        } else if (q->dest > NODES || f->dn[q->dest] == NULL) {
            rank_message__free_unpacked(msg, NULL);
        } else {
            if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_PACKET)
                f->packets_to[q->dest]++;
            if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_ACK)
                f->acks_to[q->dest]++;
            if (!datanode_handle_rank_message(f->dn[q->dest], q->source, msg)) {
                f->unexpected++;
                rank_message__free_unpacked(msg, NULL);
            }
        }
        free(q->bytes);
        free(q);
    }
    return f->head != NULL ? 0 : -1;
}

/* Starts rank's datanode on its directory (block scanner at scan_rate
 * bytes/s, 0: off) and gives it the secret. */
static int start_node(struct fixture *f, int rank, int64_t scan_rate, int64_t scan_period_ms) {
    datanode_options o = {.rank = rank,
                          .primary_rank = 0,
                          .data_dirs = f->dirs[rank],
                          .bind_addr = "127.0.0.1",
                          .port = 0,
                          .io_timeout_ms = IO_TIMEOUT_MS,
                          .scan_bytes_per_sec = scan_rate,
                          .scan_period_ms = scan_period_ms,
                          .send = fake_send,
                          .send_arg = &f->ep[rank]};
    char err[256];
    int rc = datanode_create(f->loop, &o, &f->dn[rank], err, sizeof(err));
    if (rc != EMBER_OK) {
        fprintf(stderr, "datanode_create: %s\n", err);
        return rc;
    }
    datanode_set_secret(f->dn[rank], SECRET);
    return EMBER_OK;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->drop_to = -1;
    strcpy(f->tmp, "/tmp/ember_test_datanode_XXXXXX");
    if (mkdtemp(f->tmp) == NULL || event_loop_create(&f->loop) != EMBER_OK ||
        event_loop_add_hook(f->loop, transport_hook, f) != EMBER_OK) {
        free(f);
        return -1;
    }
    for (int r = 1; r <= NODES; r++) {
        snprintf(f->dirs[r], sizeof(f->dirs[r]), "%s/node%d", f->tmp, r);
        f->ep[r] = (endpoint){f, r};
        if (start_node(f, r, 0, 0) != EMBER_OK)
            return -1;
    }
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state) {
    struct fixture *f = *state;
    for (int r = 1; r <= NODES; r++)
        datanode_destroy(f->dn[r]);
    while (f->head != NULL) {
        queued *q = f->head;
        f->head = q->next;
        free(q->bytes);
        free(q);
    }
    event_loop_destroy(f->loop);
    nftw(f->tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Runs the loop until pred(f, arg) holds or timeout_ms pass. */
static int run_until(struct fixture *f, int (*pred)(struct fixture *, const void *),
                     const void *arg, int64_t timeout_ms) {
    int64_t deadline = clock_monotonic_ms() + timeout_ms;
    while (!pred(f, arg)) {
        if (clock_monotonic_ms() > deadline)
            return 0;
        event_loop_run_once(f->loop, 10);
    }
    return 1;
}

static int never(struct fixture *f, const void *arg) {
    (void)f;
    (void)arg;
    return 0;
}

/* Runs the loop for ms (to let timers and the transport settle). */
static void run_for(struct fixture *f, int64_t ms) { run_until(f, never, NULL, ms); }

/* ---- replicas on disk ------------------------------------------------------------- */

/* Files of block id under rank's current/<sub> (blk_<id> and its meta). */
static int replica_files(struct fixture *f, int rank, uint64_t id, const char *sub) {
    char path[256], name[64], meta[64];
    snprintf(path, sizeof(path), "%s/current/%s", f->dirs[rank], sub);
    snprintf(name, sizeof(name), "blk_%llu", (unsigned long long)id);
    snprintf(meta, sizeof(meta), "blk_%llu_", (unsigned long long)id);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, name) == 0 || strncmp(e->d_name, meta, strlen(meta)) == 0;
    closedir(d);
    return n;
}

/* No file of the block on any node. */
static int no_replica_anywhere(struct fixture *f, const void *arg) {
    uint64_t id = *(const uint64_t *)arg;
    for (int r = 1; r <= NODES; r++)
        if (replica_files(f, r, id, "rbw") + replica_files(f, r, id, "finalized") > 0)
            return 0;
    return 1;
}

static int received_count(struct fixture *f, uint64_t id) {
    int n = 0;
    for (int i = 0; i < f->nreceived; i++)
        n += f->received[i].block_id == id;
    return n;
}

/* ---- test data and tokens ---------------------------------------------------------- */

static void fill_data(uint8_t *buf, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

typedef struct {
    const char *secret;
    uint32_t mode;     /* what the token says */
    int64_t expiry_ms; /* relative to now */
} token_spec;

static void make_token(BlockToken *t, uint8_t mac[AUTH_MAC_LEN], uint64_t id, uint64_t gs,
                       const token_spec *ts) {
    *t = (BlockToken)BLOCK_TOKEN__INIT;
    t->block_id = id;
    t->gen_stamp = gs;
    t->mode = ts->mode;
    t->expiry_ms = clock_wall_ms() + ts->expiry_ms;
    auth_block_token_mac(ts->secret, id, gs, ts->mode, t->expiry_ms, mac);
    t->mac.data = mac;
    t->mac.len = AUTH_MAC_LEN;
}

static const token_spec good_write = {SECRET, AUTH_TOKEN_WRITE, 60000};
static const token_spec good_read = {SECRET, AUTH_TOKEN_READ, 60000};

/* ---- the client, in a child process --------------------------------------------------- */

static int client_send(int fd, const DataMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_write_all(fd, buf, len, clock_monotonic_ms() + 2000);
    free(buf);
    return rc;
}

/* Next message, or NULL with *rc set (EMBER_ECLOSED at a clean end). */
static DataMessage *client_recv(int fd, frame_reader *reader, int64_t timeout_ms, int *rc) {
    const uint8_t *payload;
    size_t len;
    *rc = socket_read_frame(fd, reader, clock_monotonic_ms() + timeout_ms, &payload, &len);
    if (*rc != EMBER_OK)
        return NULL;
    DataMessage *msg;
    *rc = message_decode_data(payload, len, &msg);
    return *rc == EMBER_OK ? msg : NULL;
}

typedef struct {
    int port;
    uint64_t block_id, gen_stamp;
    token_spec token;
    uint32_t downstream[4];
    size_t n_downstream;
    const uint8_t *data;
    size_t len;
    int64_t corrupt_seqno; /* this packet's first CRC is wrong (-1: none) */
    int64_t close_after;   /* close after this many packets, reading nothing (-1: never) */
    int window;            /* packets sent ahead of the acks (0: all at once) */
    int half_close;        /* shut the sending side after the last packet */
    size_t packet_size;    /* data bytes per packet, a multiple of 512 (0: 64 KiB) */
    const size_t *sizes;   /* or each packet's size, nsizes packets (as after hflushes) */
    size_t nsizes;
} write_spec;

typedef struct {
    int rc;       /* a client-side failure (0: none) */
    int npackets; /* packets sent */
    int nacks;    /* PacketAcks received */
    int acks_ok;  /* acks 0..nacks-1 all ok, in seqno order */
    int failed;   /* an ack with ok = 0 came */
    uint64_t failed_seqno;
    int failed_rank;
    char failed_message[200];
    int error_code; /* a DataError's code (0: none) */
    char error_message[200];
    int eof;            /* the datanode closed the connection at the end */
    int64_t elapsed_ms; /* first packet sent -> failed ack (or last reply) */
} write_result;

/* Reads one reply of a write into res.  Returns 0, or -1 at the end of
 * the connection (or any failure). */
static int child_write_reply(int fd, frame_reader *reader, int64_t start, write_result *res) {
    int rc;
    DataMessage *m = client_recv(fd, reader, 3000, &rc);
    if (m == NULL) {
        res->eof = rc == EMBER_ECLOSED;
        if (rc != EMBER_ECLOSED)
            res->rc = rc;
        return -1;
    }
    if (m->body_case == DATA_MESSAGE__BODY_ACK) {
        const PacketAck *a = m->ack;
        if (a->ok && !res->failed) {
            if (a->seqno != (uint64_t)res->nacks)
                res->acks_ok = 0;
            res->nacks++;
        } else if (!a->ok && !res->failed) {
            res->failed = 1;
            res->failed_seqno = a->seqno;
            res->failed_rank = a->failed_rank;
            snprintf(res->failed_message, sizeof(res->failed_message), "%s", a->message);
            res->elapsed_ms = clock_monotonic_ms() - start;
        } else {
            res->acks_ok = 0; /* anything after a failed ack */
        }
    } else if (m->body_case == DATA_MESSAGE__BODY_ERROR) {
        res->error_code = m->error->code;
        snprintf(res->error_message, sizeof(res->error_message), "%s", m->error->message);
    } else {
        res->rc = EMBER_EPROTO;
    }
    data_message__free_unpacked(m, NULL);
    return 0;
}

static void child_write(const void *arg, void *out) {
    const write_spec *s = arg;
    write_result *res = out;
    res->acks_ok = 1;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, s->block_id, s->gen_stamp, &s->token);
    WriteBlockRequest req = WRITE_BLOCK_REQUEST__INIT;
    req.block_id = s->block_id;
    req.gen_stamp = s->gen_stamp;
    req.token = &token;
    req.downstream = (uint32_t *)s->downstream;
    req.n_downstream = s->n_downstream;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_WRITE_BLOCK;
    msg.write_block = &req;
    res->rc = client_send(fd, &msg);

    /* Packets go out without waiting for their request's answer, up to
     * `window' ahead of the acks (all at once without a window). */
    int64_t start = clock_monotonic_ms();
    uint32_t crcs[PACKET / 512];
    size_t psize = s->packet_size ? s->packet_size : PACKET;
    size_t npk = s->len == 0 ? 1 : (s->len + psize - 1) / psize;
    if (s->sizes != NULL)
        npk = s->nsizes;
    size_t off = 0;
    int ended = 0;
    for (size_t k = 0; k < npk && res->rc == EMBER_OK && !ended; k++) {
        if (s->close_after >= 0 && (int64_t)k == s->close_after) {
            usleep(50 * 1000);
            close(fd);
            frame_reader_destroy(reader);
            return;
        }
        while (s->window > 0 && (int64_t)k - res->nacks >= s->window && !ended)
            ended = child_write_reply(fd, reader, start, res) < 0 || res->failed ||
                    res->error_code != 0;
        if (ended)
            break;
        size_t n = s->sizes != NULL ? s->sizes[k] : s->len - off < psize ? s->len - off : psize;
        size_t nc = (n + 511) / 512;
        for (size_t c = 0; c < nc; c++) {
            size_t cl = n - c * 512 < 512 ? n - c * 512 : 512;
            crcs[c] = crc32c(0, s->data + off + c * 512, cl);
        }
        if ((int64_t)k == s->corrupt_seqno)
            crcs[0] ^= 1;
        Packet pkt = PACKET__INIT;
        pkt.seqno = k;
        pkt.offset = off;
        pkt.data.data = (uint8_t *)s->data + off;
        pkt.data.len = n;
        pkt.crcs = crcs;
        pkt.n_crcs = nc;
        pkt.last = k + 1 == npk;
        DataMessage pm = DATA_MESSAGE__INIT;
        pm.body_case = DATA_MESSAGE__BODY_PACKET;
        pm.packet = &pkt;
        if (client_send(fd, &pm) != EMBER_OK)
            break; /* the datanode gave up: its answer is waiting */
        res->npackets++;
        off += n;
    }
    if (s->half_close)
        shutdown(fd, SHUT_WR);
    if (res->rc == EMBER_OK)
        while (child_write_reply(fd, reader, start, res) == 0)
            ;
    if (!res->failed)
        res->elapsed_ms = clock_monotonic_ms() - start;
    close(fd);
    frame_reader_destroy(reader);
}

typedef struct {
    int port;
    uint64_t block_id, gen_stamp;
    token_spec token;
    uint64_t offset, length;
    const uint8_t *expect; /* the whole replica */
    size_t replica_len;
    int half_close; /* shut the sending side after the request */
} read_spec;

typedef struct {
    int rc;
    int npackets;
    int error_code;
    char error_message[200];
    int shape_ok; /* offsets contiguous, 512-aligned, <= 64 KiB, last only at the end */
    int data_ok;  /* bytes equal the replica's */
    int crcs_ok;  /* one right CRC32C per chunk */
    int got_last;
    uint64_t first_offset, end; /* the range the packets covered */
    int eof;
} read_result;

static void child_read(const void *arg, void *out) {
    const read_spec *s = arg;
    read_result *res = out;
    res->shape_ok = res->data_ok = res->crcs_ok = 1;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, s->block_id, s->gen_stamp, &s->token);
    ReadBlockRequest req = READ_BLOCK_REQUEST__INIT;
    req.block_id = s->block_id;
    req.gen_stamp = s->gen_stamp;
    req.token = &token;
    req.offset = s->offset;
    req.length = s->length;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_READ_BLOCK;
    msg.read_block = &req;
    res->rc = client_send(fd, &msg);
    if (s->half_close)
        shutdown(fd, SHUT_WR);
    uint64_t next = 0;
    while (res->rc == EMBER_OK) {
        int rc;
        DataMessage *m = client_recv(fd, reader, 3000, &rc);
        if (m == NULL) {
            res->eof = rc == EMBER_ECLOSED;
            if (rc != EMBER_ECLOSED)
                res->rc = rc;
            break;
        }
        if (m->body_case == DATA_MESSAGE__BODY_ERROR) {
            res->error_code = m->error->code;
            snprintf(res->error_message, sizeof(res->error_message), "%s", m->error->message);
        } else if (m->body_case == DATA_MESSAGE__BODY_PACKET && !res->got_last) {
            const Packet *p = m->packet;
            if (res->npackets == 0)
                res->first_offset = next = p->offset;
            if (p->seqno != (uint64_t)res->npackets || p->offset != next || p->data.len > PACKET ||
                (p->data.len > 0 && p->offset % 512 != 0))
                res->shape_ok = 0;
            if (p->offset + p->data.len > s->replica_len ||
                (p->data.len > 0 && memcmp(p->data.data, s->expect + p->offset, p->data.len) != 0))
                res->data_ok = 0;
            else if (p->n_crcs != (p->data.len + 511) / 512)
                res->crcs_ok = 0;
            else
                for (size_t c = 0; c < p->n_crcs; c++) {
                    size_t cl = p->data.len - c * 512 < 512 ? p->data.len - c * 512 : 512;
                    if (p->crcs[c] != crc32c(0, p->data.data + c * 512, cl))
                        res->crcs_ok = 0;
                }
            next = p->offset + p->data.len;
            res->end = next;
            res->got_last = p->last;
            res->npackets++;
        } else {
            res->rc = EMBER_EPROTO; /* a packet after the last, or an ack */
        }
        data_message__free_unpacked(m, NULL);
    }
    close(fd);
    frame_reader_destroy(reader);
}

/* Sends raw bytes as the first thing on a connection and reads the one
 * expected DataError. */
typedef struct {
    int port;
    uint8_t bytes[8192];
    size_t len;
} raw_spec;

typedef struct {
    int rc;
    int error_code;
    int eof;
} raw_result;

static void child_raw(const void *arg, void *out) {
    const raw_spec *s = arg;
    raw_result *res = out;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    socket_write_all(fd, s->bytes, s->len, clock_monotonic_ms() + 2000);
    int rc;
    DataMessage *m = client_recv(fd, reader, 3000, &rc);
    if (m != NULL && m->body_case == DATA_MESSAGE__BODY_ERROR)
        res->error_code = m->error->code;
    if (m != NULL) {
        data_message__free_unpacked(m, NULL);
        m = client_recv(fd, reader, 3000, &rc);
        res->eof = m == NULL && rc == EMBER_ECLOSED;
        if (m != NULL)
            data_message__free_unpacked(m, NULL);
    } else {
        res->rc = rc;
    }
    close(fd);
    frame_reader_destroy(reader);
}

/* Forks a child running fn(spec, result) and runs the loop until it
 * exits; the child's result comes back in result. */
static void run_child(struct fixture *f, void (*fn)(const void *, void *), const void *spec,
                      void *result, size_t result_len) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        memset(result, 0, result_len);
        fn(spec, result);
        ssize_t n = write(p[1], result, result_len);
        _exit(n == (ssize_t)result_len ? 0 : 1);
    }
    close(p[1]);
    int64_t deadline = clock_monotonic_ms() + CHILD_DEADLINE_MS;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (clock_monotonic_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(p[0]);
            fail_msg("client child did not finish within %d ms", CHILD_DEADLINE_MS);
        }
        event_loop_run_once(f->loop, 10);
    }
    ssize_t n = read(p[0], result, result_len);
    close(p[0]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, (ssize_t)result_len);
}

static write_spec write_spec_for(struct fixture *f, int first, uint64_t id, const uint8_t *data,
                                 size_t len) {
    write_spec s = {.port = datanode_port(f->dn[first]),
                    .block_id = id,
                    .gen_stamp = 1000 + id,
                    .token = good_write,
                    .data = data,
                    .len = len,
                    .corrupt_seqno = -1,
                    .close_after = -1};
    for (int r = 1; r <= NODES; r++)
        if (r != first)
            s.downstream[s.n_downstream++] = (uint32_t)r;
    return s;
}

static read_spec read_spec_for(struct fixture *f, int rank, uint64_t id, const uint8_t *data,
                               size_t len, uint64_t offset, uint64_t length) {
    return (read_spec){.port = datanode_port(f->dn[rank]),
                       .block_id = id,
                       .gen_stamp = 1000 + id,
                       .token = good_read,
                       .offset = offset,
                       .length = length,
                       .expect = data,
                       .replica_len = len};
}

/* A whole successful write (acks checked). */
static void write_ok(struct fixture *f, const write_spec *s) {
    write_result res;
    run_child(f, child_write, s, &res, sizeof(res));
    size_t npk = s->len == 0 ? 1 : (s->len + PACKET - 1) / PACKET;
    if (s->sizes != NULL)
        npk = s->nsizes;
    else if (s->packet_size != 0)
        npk = s->len == 0 ? 1 : (s->len + s->packet_size - 1) / s->packet_size;
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.error_code, 0);
    assert_false(res.failed);
    assert_int_equal(res.nacks, (int)npk);
    assert_true(res.acks_ok);
    assert_true(res.eof);
}

/* ---- tests --------------------------------------------------------------------------- */

static int finalized_everywhere(struct fixture *f, const void *arg) {
    uint64_t id = *(const uint64_t *)arg;
    return received_count(f, id) == NODES;
}

static void test_pipeline_write_and_read(void **state) {
    struct fixture *f = *state;
    const size_t len = 300 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 1);
    uint64_t id = 7;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    for (int i = 0; i < f->nreceived; i++) {
        assert_int_equal(f->received[i].block_id, id);
        assert_int_equal(f->received[i].gen_stamp, 1000 + id);
        assert_int_equal(f->received[i].length, len);
    }
    int seen = 0;
    for (int i = 0; i < f->nreceived; i++)
        seen |= 1 << f->received[i].source;
    assert_int_equal(seen, 0xe); /* ranks 1, 2, 3 */
    for (int r = 1; r <= NODES; r++) {
        assert_int_equal(replica_files(f, r, id, "finalized"), 2);
        assert_int_equal(replica_files(f, r, id, "rbw"), 0);
    }

    /* Read [1000, 201000) from the second datanode. */
    read_spec rs = read_spec_for(f, 2, id, data, len, 1000, 200000);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok);
    assert_true(rr.data_ok);
    assert_true(rr.crcs_ok);
    assert_true(rr.got_last);
    assert_true(rr.eof);
    assert_int_equal(rr.first_offset, 512);
    assert_int_equal(rr.end, 201216); /* 201000 rounded up to a chunk */
    assert_int_equal(rr.npackets, 4);

    /* A whole read past the end is clipped to the replica. */
    rs = read_spec_for(f, 3, id, data, len, 0, UINT64_MAX);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last);
    assert_int_equal(rr.first_offset, 0);
    assert_int_equal(rr.end, len);

    /* Each store holds the same finalized bytes. */
    for (int r = 1; r <= NODES; r++) {
        datanode_destroy(f->dn[r]);
        f->dn[r] = NULL;
    }
    uint8_t *back = malloc(len);
    for (int r = 1; r <= NODES; r++) {
        block_store *store;
        char err[256];
        assert_int_equal(block_store_open(f->dirs[r], &store, err, sizeof(err)), 0);
        block_reader *rd;
        assert_int_equal(block_reader_open(store, id, &rd), 0);
        assert_int_equal(block_reader_info(rd)->length, len);
        assert_int_equal(block_reader_info(rd)->gen_stamp, 1000 + id);
        size_t got = 0;
        memset(back, 0, len);
        assert_int_equal(block_reader_pread(rd, back, len, 0, &got), 0);
        assert_int_equal(got, len);
        assert_memory_equal(back, data, len);
        block_reader_close(rd);
        assert_int_equal(block_store_verify(store, id), 0);
        block_store_close(store);
    }
    free(back);
    free(data);
    assert_int_equal(f->unexpected, 0);
}

static void test_bad_tokens(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 2);
    const token_spec bad[] = {
        {"not-the-secret", AUTH_TOKEN_WRITE, 60000}, /* wrong MAC */
        {SECRET, AUTH_TOKEN_WRITE, -1000},           /* expired */
        {SECRET, AUTH_TOKEN_READ, 60000},            /* read token for a write */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t id = 20 + i;
        write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
        ws.token = bad[i];
        write_result res;
        run_child(f, child_write, &ws, &res, sizeof(res));
        assert_int_equal(res.rc, 0);
        assert_int_equal(res.error_code, EMBER_EAUTH);
        assert_int_equal(res.nacks, 0);
        assert_true(res.eof);
        run_for(f, 20);
        assert_true(no_replica_anywhere(f, &id));
        assert_int_equal(f->packets_to[2] + f->packets_to[3], 0);
    }
    /* A write token does not read either. */
    uint64_t id = 30;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    write_ok(f, &ws);
    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 100);
    rs.token = good_write;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_EAUTH);
    assert_int_equal(rr.npackets, 0);
    assert_true(rr.eof);
}

static void test_bad_first_frames(void **state) {
    struct fixture *f = *state;
    raw_spec raw = {.port = datanode_port(f->dn[1])};
    raw_result res;

    /* A header announcing more than 4 KiB before any request. */
    frame_put_header(raw.bytes, 5000);
    memset(raw.bytes + 4, 0, 5000);
    raw.len = 5004;
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.error_code, EMBER_ETOOBIG);
    assert_true(res.eof);

    /* Bytes that are not a DataMessage. */
    frame_put_header(raw.bytes, 6);
    memcpy(raw.bytes + 4, "\xff\xff\xff\xff\xff\xff", 6);
    raw.len = 10;
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EPROTO);
    assert_true(res.eof);

    /* Nothing at all: the request is due within the I/O timeout. */
    raw.len = 0;
    int64_t start = clock_monotonic_ms();
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_ETIMEDOUT);
    assert_true(res.eof);
    assert_true(clock_monotonic_ms() - start >= IO_TIMEOUT_MS - 50);

    /* A packet first. */
    Packet pkt = PACKET__INIT;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_PACKET;
    msg.packet = &pkt;
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_data(&msg, sizeof(raw.bytes), &buf, &len), 0);
    memcpy(raw.bytes, buf, len);
    raw.len = len;
    free(buf);
    run_child(f, child_raw, &raw, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EPROTO);
    assert_true(res.eof);

    /* The datanode still serves. */
    uint8_t data[1000];
    fill_data(data, sizeof(data), 3);
    write_spec ws = write_spec_for(f, 1, 40, data, sizeof(data));
    write_ok(f, &ws);
}

static void test_no_secret(void **state) {
    struct fixture *f = *state;
    uint8_t data[1000];
    fill_data(data, sizeof(data), 4);
    datanode_set_secret(f->dn[1], NULL);
    uint64_t id = 50;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EAGAIN);
    assert_string_equal(res.error_message, "datanode not registered yet");
    assert_int_equal(res.nacks, 0);
    assert_true(res.eof);
    assert_true(no_replica_anywhere(f, &id));

    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 10);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_EAGAIN);

    /* Once registered, the same request is served. */
    datanode_set_secret(f->dn[1], SECRET);
    write_ok(f, &ws);
}

static void test_wrong_crc(void **state) {
    struct fixture *f = *state;
    const size_t len = 5 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 5);
    uint64_t id = 60;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.corrupt_seqno = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 1);
    assert_true(res.acks_ok);
    assert_int_equal(res.failed_seqno, (uint64_t)res.nacks); /* the oldest unacked */
    assert_true(res.nacks <= 2);
    assert_non_null(strstr(res.failed_message, "checksum"));
    assert_true(res.eof);
    /* The downstream replicas go when their upstream falls silent. */
    assert_true(run_until(f, no_replica_anywhere, &id, 2000));
    assert_int_equal(received_count(f, id), 0);
    free(data);
}

static void test_downstream_silent(void **state) {
    struct fixture *f = *state;
    const size_t len = 150 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 6);
    f->drop_to = 3;

    /* The client keeps two packets ahead: the block is still being
     * received everywhere when the third node's silence is noticed. */
    uint64_t id = 70;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.window = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.npackets, 2);
    assert_true(res.failed);
    assert_int_equal(res.failed_seqno, 0);
    assert_int_equal(res.failed_rank, 3);
    assert_non_null(strstr(res.failed_message, "rank 2 reports packet 0 failed"));
    assert_int_equal(res.nacks, 0);
    assert_true(res.eof);
    assert_true(res.elapsed_ms >= IO_TIMEOUT_MS - 50);
    assert_true(res.elapsed_ms < 4 * IO_TIMEOUT_MS);
    assert_true(run_until(f, no_replica_anywhere, &id, 1000));
    assert_int_equal(received_count(f, id), 0);

    /* All packets at once: the first two nodes finalize on the last
     * packet, before the failure shows; their complete replicas stay (and
     * were reported), the client still learns the pipeline failed. */
    id = 71;
    ws = write_spec_for(f, 1, id, data, len);
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 3);
    assert_true(res.eof);
    run_for(f, 50);
    assert_int_equal(replica_files(f, 1, id, "finalized"), 2);
    assert_int_equal(replica_files(f, 2, id, "finalized"), 2);
    assert_int_equal(replica_files(f, 3, id, "finalized") + replica_files(f, 3, id, "rbw"), 0);
    assert_int_equal(received_count(f, id), 2);
    free(data);
}

/* After an hflush a packet may end mid-chunk; the next one continues the
 * chunk, with the CRCs of its own 512-byte pieces. */
static void test_unaligned_packets(void **state) {
    struct fixture *f = *state;
    static const size_t sizes[] = {1000, 1048, 100, 0, 3000, 700};
    const size_t len = 1000 + 1048 + 100 + 0 + 3000 + 700;
    uint8_t data[5848];
    fill_data(data, len, 70);
    uint64_t id = 160;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.sizes = sizes;
    ws.nsizes = 6;
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    read_spec rs = read_spec_for(f, 3, id, data, len, 0, len);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.end, len);

    /* A bad CRC in a packet that continues a chunk is caught too. */
    id = 161;
    ws = write_spec_for(f, 1, id, data, len);
    ws.sizes = sizes;
    ws.nsizes = 6;
    ws.corrupt_seqno = 4; /* 3000 bytes from offset 2148 */
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_true(res.failed);
    assert_int_equal(res.failed_rank, 1);
    assert_non_null(strstr(res.failed_message, "checksum mismatch in packet 4"));
    assert_true(run_until(f, no_replica_anywhere, &id, 2000));
}

/* A client that runs more than 128 packets ahead of the acks is failed. */
static void test_window_overflow(void **state) {
    struct fixture *f = *state;
    const size_t len = 200 * 512;
    uint8_t *data = malloc(len);
    fill_data(data, len, 50);
    f->drop_to = 2; /* no ack ever comes back */
    uint64_t id = 75;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.packet_size = 512;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_true(res.failed);
    assert_int_equal(res.failed_seqno, 0);
    assert_int_equal(res.failed_rank, -1);
    assert_non_null(strstr(res.failed_message, "more than 128 packets"));
    assert_true(res.elapsed_ms < 2 * IO_TIMEOUT_MS); /* not a timeout */
    assert_true(res.eof);
    assert_true(no_replica_anywhere(f, &id));
    free(data);
}

static void test_client_closes_mid_block(void **state) {
    struct fixture *f = *state;
    const size_t len = 5 * PACKET;
    uint8_t *data = malloc(len);
    fill_data(data, len, 7);
    uint64_t id = 80;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.close_after = 2;
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.npackets, 2);
    assert_int_equal(f->packets_to[2], 2);
    assert_int_equal(f->packets_to[3], 2);
    assert_true(run_until(f, no_replica_anywhere, &id, 2000));
    assert_int_equal(received_count(f, id), 0);
    free(data);
}

/* Flips one bit of the byte at offset in rank's finalized data file. */
static void flip_byte(struct fixture *f, int rank, uint64_t id, off_t offset) {
    char path[256];
    snprintf(path, sizeof(path), "%s/current/finalized/blk_%llu", f->dirs[rank],
             (unsigned long long)id);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, offset), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}

static void test_corrupt_replica(void **state) {
    struct fixture *f = *state;
    const size_t len = 5000;
    uint8_t data[5000];
    fill_data(data, len, 8);
    uint64_t id = 90;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));

    flip_byte(f, 2, id, 3000); /* in the second node's data file */

    read_spec rs = read_spec_for(f, 2, id, data, len, 0, len);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ECORRUPT);
    assert_non_null(strstr(rr.error_message, "replica of blk_90 on rank 2 is corrupt"));
    assert_false(rr.got_last);
    assert_true(rr.eof);

    /* The other replicas are fine. */
    rs = read_spec_for(f, 3, id, data, len, 0, len);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.got_last && rr.data_ok && rr.crcs_ok);
    assert_int_equal(rr.end, len);
}

static int gone_from_rank1(struct fixture *f, const void *arg) {
    return replica_files(f, 1, *(const uint64_t *)arg, "finalized") == 0;
}

static void inject(struct fixture *f, int source, int dest, const RankMessage *msg) {
    endpoint ep = {f, source};
    assert_int_equal(fake_send(&ep, dest, msg), 0);
}

static void test_delete_blocks(void **state) {
    struct fixture *f = *state;
    uint8_t data[2000];
    fill_data(data, sizeof(data), 9);
    uint64_t id = 100;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));

    uint64_t ids[2] = {id, 999999}; /* the second does not exist */
    DeleteBlocks del = DELETE_BLOCKS__INIT;
    del.block_ids = ids;
    del.n_block_ids = 2;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_DELETE_BLOCKS;
    msg.delete_blocks = &del;
    inject(f, 0, 1, &msg);
    inject(f, 3, 2, &msg); /* not from the primary: ignored */
    assert_true(run_until(f, gone_from_rank1, &id, 1000));
    run_for(f, 20);
    assert_int_equal(replica_files(f, 2, id, "finalized"), 2);
    assert_int_equal(replica_files(f, 3, id, "finalized"), 2);

    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 10);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);

    /* Not a datanode message: left to the caller. */
    Heartbeat hb = HEARTBEAT__INIT;
    RankMessage other = RANK_MESSAGE__INIT;
    other.body_case = RANK_MESSAGE__BODY_HEARTBEAT;
    other.heartbeat = &hb;
    assert_int_equal(datanode_handle_rank_message(f->dn[1], 0, &other), 0);
    assert_int_equal(f->unexpected, 0);
}

static int two_reports(struct fixture *f, const void *arg) {
    (void)arg;
    return f->nreports >= 2;
}

static void test_block_report(void **state) {
    struct fixture *f = *state;
    uint8_t data[3][1500];
    uint64_t ids[3] = {111, 222, 333};
    for (int i = 0; i < 3; i++) {
        fill_data(data[i], sizeof(data[i]), 10 + i);
        write_spec ws = write_spec_for(f, 1, ids[i], data[i], 500 * (size_t)(i + 1));
        ws.n_downstream = 0; /* rank 1 alone */
        write_ok(f, &ws);
    }
    datanode_send_block_report(f->dn[1]);
    datanode_send_block_report(f->dn[3]); /* an empty store */
    assert_true(run_until(f, two_reports, NULL, 1000));
    assert_int_equal(f->nreports, 2);
    for (int k = 0; k < 2; k++) {
        const report_record *rep = &f->reports[k];
        assert_int_equal(rep->seq, 0);
        assert_true(rep->last);
        if (rep->source == 3) {
            assert_int_equal(rep->n, 0);
            continue;
        }
        assert_int_equal(rep->source, 1);
        assert_int_equal(rep->n, 3);
        int found = 0;
        for (size_t j = 0; j < rep->n; j++)
            for (int i = 0; i < 3; i++)
                if (rep->ids[j] == ids[i]) {
                    assert_int_equal(rep->gss[j], 1000 + ids[i]);
                    assert_int_equal(rep->lens[j], 500 * (i + 1));
                    found |= 1 << i;
                }
        assert_int_equal(found, 7);
    }
}

static void test_read_edges(void **state) {
    struct fixture *f = *state;
    uint8_t data[1300];
    fill_data(data, sizeof(data), 20);
    uint64_t id = 120;
    write_spec ws = write_spec_for(f, 1, id, data, sizeof(data));
    ws.n_downstream = 0;
    write_ok(f, &ws);
    read_result rr;

    /* Inside the partial last chunk: one packet from 512 to the end. */
    read_spec rs = read_spec_for(f, 1, id, data, sizeof(data), 1000, 10000);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_int_equal(rr.npackets, 1);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.first_offset, 512);
    assert_int_equal(rr.end, 1300);

    /* Zero bytes: one empty last packet. */
    rs = read_spec_for(f, 1, id, data, sizeof(data), 700, 0);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, 0);
    assert_int_equal(rr.npackets, 1);
    assert_true(rr.got_last && rr.eof);
    assert_int_equal(rr.end, rr.first_offset);

    /* Past the end, another gen stamp, no such block. */
    rs = read_spec_for(f, 1, id, data, sizeof(data), 1301, 10);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_EINVAL);
    rs = read_spec_for(f, 1, id, data, sizeof(data), 0, 10);
    rs.gen_stamp = 5;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);
    rs = read_spec_for(f, 1, 4242, data, sizeof(data), 0, 10);
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.error_code, EMBER_ENOENT);

    /* The same block id again: refused. */
    write_result res;
    run_child(f, child_write, &ws, &res, sizeof(res));
    assert_int_equal(res.error_code, EMBER_EEXIST);
}

/* A client may shut its side once it has sent everything. */
static void test_half_close(void **state) {
    struct fixture *f = *state;
    const size_t len = 3 * PACKET + 100;
    uint8_t *data = malloc(len);
    fill_data(data, len, 40);
    uint64_t id = 140;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.half_close = 1;
    write_ok(f, &ws);
    assert_true(run_until(f, finalized_everywhere, &id, 1000));
    read_spec rs = read_spec_for(f, 3, id, data, len, 70000, 100000);
    rs.half_close = 1;
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.first_offset, 69632);
    assert_int_equal(rr.end, 170496);
    free(data);
}

/* A read bigger than the output queue's bound: the rest goes out as the
 * socket drains. */
static void test_large_read(void **state) {
    struct fixture *f = *state;
    const size_t len = 6 * 1024 * 1024 + 333;
    uint8_t *data = malloc(len);
    fill_data(data, len, 60);
    uint64_t id = 150;
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.n_downstream = 0;
    ws.window = 16;
    write_ok(f, &ws);
    read_spec rs = read_spec_for(f, 1, id, data, len, 0, len);
    read_result rr;
    run_child(f, child_read, &rs, &rr, sizeof(rr));
    assert_int_equal(rr.rc, 0);
    assert_int_equal(rr.error_code, 0);
    assert_true(rr.shape_ok && rr.data_ok && rr.crcs_ok && rr.got_last && rr.eof);
    assert_int_equal(rr.npackets, 97);
    assert_int_equal(rr.end, len);
    free(data);
}

static void test_storage(void **state) {
    struct fixture *f = *state;
    disk_usage du;
    datanode_storage(f->dn[1], &du);
    assert_int_equal(du.dirs, 1);
    assert_int_equal(du.failed_dirs, 0);
    assert_int_equal(du.used_bytes, 0);
    assert_true(du.capacity_bytes > 0);
    assert_true(du.remaining_bytes <= du.capacity_bytes);
    uint8_t data[4096];
    fill_data(data, sizeof(data), 30);
    write_spec ws = write_spec_for(f, 1, 130, data, sizeof(data));
    ws.n_downstream = 0;
    write_ok(f, &ws);
    datanode_storage(f->dn[1], &du);
    assert_int_equal(du.used_bytes, 4096 + 16 + 4 * 8); /* data + meta */
}

/* ---- replication ------------------------------------------------------------------- */

static void send_replicate(struct fixture *f, int source, int dest, uint64_t id, uint64_t gs,
                           const uint32_t *targets, size_t n) {
    ReplicateBlock rb = REPLICATE_BLOCK__INIT;
    rb.block_id = id;
    rb.gen_stamp = gs;
    rb.targets = (uint32_t *)targets;
    rb.n_targets = n;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_REPLICATE_BLOCK;
    msg.replicate_block = &rb;
    inject(f, source, dest, &msg);
}

/* BlockReceived from rank for id (of length len when len >= 0). */
static int received_from(struct fixture *f, int rank, uint64_t id, int64_t len) {
    int n = 0;
    for (int i = 0; i < f->nreceived; i++)
        n += f->received[i].source == rank && f->received[i].block_id == id &&
             (len < 0 || f->received[i].length == (uint64_t)len);
    return n;
}

/* arg: {id, rank mask}: every rank of the mask reported id. */
static int received_by_mask(struct fixture *f, const void *arg) {
    const uint64_t *a = arg;
    for (int r = 1; r <= NODES; r++)
        if ((a[1] >> r & 1) && received_from(f, r, a[0], -1) == 0)
            return 0;
    return 1;
}

/* Runs the loop until every rank in mask (bit r: rank r) reported id. */
static int wait_received(struct fixture *f, uint64_t id, uint64_t mask, int64_t timeout_ms) {
    uint64_t arg[2] = {id, mask};
    return run_until(f, received_by_mask, arg, timeout_ms);
}

/* A block written to rank 1 alone. */
static void write_on_rank1(struct fixture *f, uint64_t id, const uint8_t *data, size_t len) {
    write_spec ws = write_spec_for(f, 1, id, data, len);
    ws.n_downstream = 0;
    ws.window = 16;
    write_ok(f, &ws);
}

/* Stops rank's datanode and checks its finalized replica of id holds data
 * (block_reader_pread through its own store). */
static void assert_replica_bytes(struct fixture *f, int rank, uint64_t id, const uint8_t *data,
                                 size_t len) {
    datanode_destroy(f->dn[rank]);
    f->dn[rank] = NULL; /* teardown skips it */
    block_store *store;
    char err[256];
    assert_int_equal(block_store_open(f->dirs[rank], &store, err, sizeof(err)), 0);
    block_reader *rd;
    assert_int_equal(block_reader_open(store, id, &rd), 0);
    assert_true(block_reader_info(rd)->length == len &&
                block_reader_info(rd)->gen_stamp == 1000 + id);
    uint8_t *back = malloc(len + 1);
    size_t got = 0;
    assert_int_equal(block_reader_pread(rd, back, len + 1, 0, &got), 0);
    assert_true(got == len && memcmp(back, data, len) == 0);
    free(back);
    block_reader_close(rd);
    block_store_close(store);
}

static void test_replicate_block(void **state) {
    struct fixture *f = *state;
    const size_t len = 300 * 1024 + 100, big = 40 * PACKET + 100;
    uint8_t *data = malloc(len), *bdata = malloc(big);
    fill_data(data, len, 70);
    fill_data(bdata, big, 71);
    uint64_t id = 160, bid = 161;
    write_on_rank1(f, id, data, len);
    write_on_rank1(f, bid, bdata, big);

    /* 300 KiB to ranks 2 then 3: five packets, each target reports. */
    uint32_t targets[2] = {2, 3};
    send_replicate(f, 0, 1, id, 1000 + id, targets, 2);
    assert_true(wait_received(f, id, 1u << 2 | 1u << 3, 2000));
    assert_true(f->packets_to[2] == 5 && f->packets_to[3] == 5);

    /* 41 packets to rank 3: never more than 32 unacked. */
    send_replicate(f, 0, 1, bid, 1000 + bid, targets + 1, 1);
    assert_true(wait_received(f, bid, 1u << 3, 3000));
    assert_int_equal(f->max_inflight[1], 32);
    run_for(f, 30);
    assert_int_equal(f->nreceived, 5); /* the source reports nothing more */
    assert_int_equal(f->unexpected, 0);
    assert_replica_bytes(f, 2, id, data, len);
    assert_replica_bytes(f, 3, id, data, len);
    assert_replica_bytes(f, 3, bid, bdata, big);
    free(data);
    free(bdata);
}

/* Copies whose acks never come time out.  At most 8 at once: a ninth
 * command is dropped (and works once retried); an empty replica goes as
 * one empty last packet; a copy in flight at datanode_destroy is freed. */
static void test_replicate_cap(void **state) {
    struct fixture *f = *state;
    uint8_t data[1000];
    fill_data(data, sizeof(data), 72);
    uint32_t two = 2;
    for (uint64_t id = 170; id < 179; id++)
        write_on_rank1(f, id, data, id == 170 ? 0 : sizeof(data));
    f->drop_to = 2;
    for (uint64_t id = 170; id < 178; id++)
        send_replicate(f, 0, 1, id, 1000 + id, &two, 1);
    run_for(f, 2 * IO_TIMEOUT_MS);
    f->drop_to = -1;
    for (uint64_t id = 170; id < 179; id++)
        send_replicate(f, 0, 1, id, 1000 + id, &two, 1);
    assert_true(wait_received(f, 177, 1u << 2, 2000));
    run_for(f, 50);
    for (uint64_t id = 170; id < 178; id++)
        assert_int_equal(received_from(f, 2, id, id == 170 ? 0 : (int64_t)sizeof(data)), 1);
    assert_int_equal(received_from(f, 2, 178, -1), 0);
    send_replicate(f, 0, 1, 178, 1000 + 178, &two, 1);
    assert_true(wait_received(f, 178, 1u << 2, 2000));
    f->drop_to = 2;
    send_replicate(f, 0, 1, 170, 1000 + 170, &two, 1);
    run_for(f, 20);
}

/* Commands that must copy nothing, and a source replica that fails its
 * checksums mid-way: what was good goes out, the rest never does, and the
 * targets drop their partial copies. */
static void test_replicate_refused(void **state) {
    struct fixture *f = *state;
    const size_t len = 200 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 73);
    uint64_t id = 180, held = 181;
    write_on_rank1(f, id, data, len);
    uint32_t targets[2] = {2, 3};
    send_replicate(f, 0, 1, 4242, 1000 + 4242, targets, 2); /* no such block */
    send_replicate(f, 0, 1, id, 5, targets, 2);             /* another gen stamp */
    send_replicate(f, 3, 1, id, 1000 + id, targets, 2);     /* not the primary */
    send_replicate(f, 0, 1, id, 1000 + id, targets + 1, 1); /* ... but then it works */
    assert_true(wait_received(f, id, 1u << 3, 2000));
    run_for(f, 50);
    assert_int_equal(f->packets_to[2], 0);
    assert_int_equal(f->nreceived, 2); /* rank 1's write, rank 3's copy */

    /* A first target that already holds the block refuses it (EEXIST):
     * the source gives up, nothing reaches rank 3, rank 2's replica stays. */
    write_spec ws = write_spec_for(f, 1, held, data, len);
    ws.downstream[0] = 2;
    ws.n_downstream = 1;
    write_ok(f, &ws);
    assert_true(wait_received(f, held, 1u << 1 | 1u << 2, 1000));
    int before = f->nreceived, to2 = f->packets_to[2], to3 = f->packets_to[3];
    send_replicate(f, 0, 1, held, 1000 + held, targets, 2);
    run_for(f, 100);
    assert_int_equal(f->packets_to[2] - to2, 4); /* each refused */
    assert_int_equal(f->packets_to[3] - to3, 0);
    assert_int_equal(f->nreceived, before);
    /* The failed copy is over: a new command for the block runs. */
    send_replicate(f, 0, 1, held, 1000 + held, targets + 1, 1);
    assert_true(wait_received(f, held, 1u << 3, 2000));

    uint64_t bad = 182;
    write_on_rank1(f, bad, data, len);
    flip_byte(f, 1, bad, 150000); /* in the third packet */
    to2 = f->packets_to[2];
    send_replicate(f, 0, 1, bad, 1000 + bad, targets, 2);
    run_for(f, IO_TIMEOUT_MS + 250); /* the targets give up on their partial copies */
    assert_int_equal(f->packets_to[2] - to2, 2);
    for (int r = 2; r <= 3; r++)
        assert_false(replica_files(f, r, bad, "rbw") || replica_files(f, r, bad, "finalized"));
    assert_int_equal(received_from(f, 2, bad, -1) + received_from(f, 3, bad, -1), 0);
    assert_int_equal(replica_files(f, 1, bad, "finalized"), 2);
    assert_int_equal(f->unexpected, 0);
    assert_replica_bytes(f, 2, held, data, len);
    free(data);
}

/* ---- block scanner ------------------------------------------------------------------ */

#define SCAN_FAST (64 * 1024 * 1024) /* bytes/s */
#define SCAN_PERIOD_MS 300

/* Stops rank's datanode and starts it again on the same directory with
 * the block scanner at rate bytes/s. */
static void restart_scanning(struct fixture *f, int rank, int64_t rate, int64_t period_ms) {
    datanode_destroy(f->dn[rank]);
    f->dn[rank] = NULL;
    assert_int_equal(start_node(f, rank, rate, period_ms), 0);
}

/* bad_replica reports from rank about id. */
static int bad_from(struct fixture *f, int rank, uint64_t id) {
    int n = 0;
    for (int i = 0; i < f->nbad; i++)
        n += f->bad[i].source == rank && f->bad[i].block_id == id &&
             f->bad[i].rank == (uint32_t)rank;
    return n;
}

static int some_bad(struct fixture *f, const void *arg) {
    (void)arg;
    return f->nbad > 0;
}

/* A scanning node takes in three replicas; one of them is then damaged
 * (it may have been verified already: it is verified again after the
 * period).  Only that one is reported, once, however many passes follow;
 * once the primary deletes it the scanner goes on without it. */
static void test_scanner_reports_corrupt(void **state) {
    struct fixture *f = *state;
    const size_t len = 150 * 1024; /* three pieces */
    uint8_t *data = malloc(len);
    fill_data(data, len, 80);
    restart_scanning(f, 1, SCAN_FAST, SCAN_PERIOD_MS);
    for (uint64_t id = 200; id < 203; id++)
        write_on_rank1(f, id, data, id == 201 ? len : 3000);
    flip_byte(f, 1, 201, 140000); /* in the third piece */

    assert_true(run_until(f, some_bad, NULL, 3000));
    assert_int_equal(bad_from(f, 1, 201), 1);
    run_for(f, 4 * SCAN_PERIOD_MS); /* later passes: the good ones verify, 201 is left alone */
    assert_int_equal(f->nbad, 1);
    assert_int_equal(bad_from(f, 1, 201), 1);
    assert_int_equal(replica_files(f, 1, 201, "finalized"), 2); /* the primary decides */

    uint64_t id = 201;
    DeleteBlocks del = DELETE_BLOCKS__INIT;
    del.block_ids = &id;
    del.n_block_ids = 1;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_DELETE_BLOCKS;
    msg.delete_blocks = &del;
    inject(f, 0, 1, &msg);
    assert_true(run_until(f, gone_from_rank1, &id, 1000));
    run_for(f, 2 * SCAN_PERIOD_MS);
    assert_int_equal(f->nbad, 1);
    assert_int_equal(f->unexpected, 0);
    free(data);
}

/* Rate 0: no scanner, nothing is read or reported. */
static void test_scanner_off(void **state) {
    struct fixture *f = *state;
    uint8_t data[3000];
    fill_data(data, sizeof(data), 81);
    write_on_rank1(f, 210, data, sizeof(data));
    flip_byte(f, 1, 210, 100);
    restart_scanning(f, 1, 0, 1);
    run_for(f, 500);
    assert_int_equal(f->nbad, 0);
    assert_int_equal(f->unexpected, 0);
}

/* At 2 MiB/s a tick reads at most 200 KiB: a 1 MiB replica damaged near
 * its end takes several ticks (about 0.6 s) to be found. */
static void test_scanner_rate(void **state) {
    struct fixture *f = *state;
    const size_t len = 1024 * 1024;
    uint8_t *data = malloc(len);
    fill_data(data, len, 82);
    write_on_rank1(f, 220, data, len);
    flip_byte(f, 1, 220, (off_t)len - 100);
    restart_scanning(f, 1, 2 * 1024 * 1024, 3600 * 1000);
    int64_t start = clock_monotonic_ms();
    assert_true(run_until(f, some_bad, NULL, 5000));
    assert_true(clock_monotonic_ms() - start >= 300); /* not in one go */
    assert_int_equal(bad_from(f, 1, 220), 1);
    assert_int_equal(f->nbad, 1);
    free(data);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_write_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_first_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_crc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downstream_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unaligned_packets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_closes_mid_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicate_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_reports_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scanner_rate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
