/* dfs_stream.c -- file streams of the client library (see include/ember/dfs.h):
 * HDFS's DFSOutputStream, and what every stream shares (the reader,
 * HDFS's DFSInputStream, is dfs_read_stream.c; struct ember_dfs_file is in
 * dfs_stream_internal.h).  The application's thread
 * does the work; the handle's renewer thread (dfs_client.c) only sends
 * heartbeats down idle pipelines (see Heartbeats below).
 *
 * Writer.  ember_dfs_create() creates the file under construction
 * (CreateRequest.for_write) and learns its block size from the answer.
 * Written bytes collect in one packet buffer (at most 64 KiB).  A full
 * buffer goes out when more bytes arrive, or at hflush or close, so the
 * packet that ends a block (or the file) is the one that carries
 * last = true.  The first packet of a block asks the namenode for the
 * block (AddBlockRequest, naming the block just finished and its final
 * length), connects to the first datanode of the pipeline and sends
 * WriteBlockRequest with the others as downstream.  At most STREAM_WINDOW
 * packets are unacknowledged: acks are taken without blocking before each
 * packet, and waited for (each within writer_ack_timeout_ms(): the
 * handle's socket timeout, or the first datanode's wait for the others
 * when longer, plus 5 s per datanode -- HDFS's arithmetic, so the node
 * next to a fault gives up, and names it, first) when the window is
 * full, at the end of a block and in hflush.  A packet sent stays in a
 * ring of STREAM_WINDOW slots (its buffer swapped with the stream's, its
 * CRCs and offset kept) until its ack.  close sends the last packet,
 * waits for its ack, closes the connection and completes the file
 * (CompleteRequest, retried while the namenode answers EMBER_EAGAIN).
 *
 * Pipeline recovery (HDFS's PIPELINE_SETUP_STREAMING_RECOVERY).  A failed
 * PacketAck (blaming the node its failed_rank names, else the first), a
 * DataError, or the first datanode's connection failing, refused or
 * silent for writer_ack_timeout_ms() (blaming the first) fails the pipeline, not
 * the stream: writer_recover() drops the culprit (and excludes it from
 * the stream's later AddBlockRequests), asks the namenode for a new gen
 * stamp for the block (UpdateBlockForPipelineRequest, naming the nodes
 * left; every one the namenode's answer does not list as live is dropped
 * and excluded as well: no recovery goes on with a dead node), connects to the
 * new first datanode with a WriteBlockRequest carrying recovery_gen_stamp
 * (the block's stamp when this stream opened it: every replica this
 * writer wrote has a stamp from there up) and recovery_length (the bytes
 * acknowledged, which every node holds: each cuts its replica to it), and
 * sends every unacknowledged packet again, seqnos from 0.  So no byte a
 * node did not write counts, and no acknowledged byte is lost or sent
 * twice.  A node failing meanwhile is dropped the same way.  The stream
 * fails when no node is left, when the namenode refuses, or on the sixth
 * failure of one block (STREAM_MAX_RECOVERIES, HDFS's 5 retries).  A
 * DataError EMBER_ETIMEDOUT -- the datanodes gave up on a writer that
 * sent nothing for dfs.datanode.socket.timeout (no heartbeats) -- blames
 * no node: the same nodes are reconnected, and it does not count.  A
 * heartbeat that could not be sent is a lost connection as well.  A
 * failure while a block
 * is set up (the first datanode unreachable) is recovered the same way,
 * from nothing acknowledged: the nodes left start the block.
 *
 * Packets: offset is the block position of data[0]; a packet starts where
 * the previous one ended and never crosses a block boundary, so a block
 * holds exactly the file's block size except the last.  crcs are the
 * CRC32C of each 512 bytes of data.  Offsets are multiples of 512 except
 * in the one packet after an hflush that ended mid-chunk: that packet
 * continues the partial chunk and ends on the next chunk boundary, after
 * which packets are aligned again.  The only empty packets are the last
 * one of a block when an hflush had already sent all its bytes, and an
 * hsync's sync packet in the same case.
 *
 * hsync (ember_dfs_hsync) is hflush with the sync flag on the packet that
 * carries what is buffered (an empty one when nothing is): each datanode
 * fsyncs the replica's data and meta before acking it, so its ack means
 * the block's bytes so far are on every node's disk.  The flag stays with
 * the packet in the ring, so a recovery sends it again with it.
 *
 * Heartbeats (HDFS's DataStreamer heartbeat packets).  When the namenode
 * gave the datanodes' socket timeout (DfsResult.socket_timeout_ms),
 * heartbeat_ms is half of it, and the handle's renewer thread calls
 * dfs_writer_heartbeat() for every open writer: a WRITER_BLOCK stream
 * whose connection got no frame (request, packet, heartbeat) for
 * heartbeat_ms gets a Packet with heartbeat set, no data, the seqno and
 * offset of the next data packet, which the datanodes forward and ack in
 * order with the data (proto/datatransfer.proto).  It is not a packet of
 * the ring: its ack (PacketAck.heartbeat) is checked -- it must come
 * right after the acks of the data packets sent before it, so its seqno
 * is the count acknowledged -- and skipped.  The renewer only tries the
 * stream's lock: a stream in a call is talking to its pipeline anyway.
 * A heartbeat that cannot be sent is not the renewer's to handle: it
 * records heartbeat_rc, and the next writer call treats the connection as
 * lost (first reading what the datanode said before) and recovers.
 * Opening a block wakes the renewer, which waits for nothing while every
 * stream is idle.
 *
 * Writer states (stream_state), transitions only in the named functions:
 *   WRITER_IDLE  -> WRITER_BLOCK   writer_open_block: a packet is ready
 *   WRITER_BLOCK -> WRITER_IDLE    writer_end_block: its last packet acked
 *   WRITER_*     -> WRITER_FAILED  writer_fail: any error, for good
 * A pipeline recovery keeps the stream in WRITER_BLOCK (its connection is
 * closed only inside writer_recover()).
 * A reader stays READER for its whole life.
 *
 * Reader: dfs_read_stream.c.
 *
 * Append.  ember_dfs_append() gets the file's last block when it has
 * room (AppendRequest): the first packet then opens that block instead of
 * asking for a new one -- WriteBlockRequest.append_gen_stamp names the
 * stamp its replicas carry -- and continues at its length (mid-chunk when
 * that is not a multiple of 512, as after an hflush).  Closing an append
 * that wrote nothing still sends that block's (empty) last packet, so its
 * replicas move to the new stamp.
 *
 * Leases.  Writers name the handle's client (dfs->client_name) to the
 * namenode; create and append register the stream with the handle's
 * renewer (writer_opened()), which renews the lease every lease_renew_ms
 * the namenode gave while the stream is open, and close unregisters it
 * (dfs_stream_free()).
 *
 * Threads.  One application thread at a time per stream; every writer
 * call (write, hflush, hsync, close) holds f->lock throughout, as the
 * renewer does while it sends a heartbeat (dfs_internal.h has the locking
 * of the handle).  Readers are never seen by the renewer.  A stream
 * shares its handle's namenode connection.
 *
 * Known limits: a pipeline is never refilled -- it goes on with the nodes
 * left (HDFS can add a replacement datanode, dfs.client.block.write.
 * replace-datanode-on-failure), and the redundancy monitor copies the
 * block once it is complete; without the socket timeout in the create or
 * append answer (an older namenode) no heartbeats go out, and a writer
 * silent for dfs.datanode.socket.timeout has its pipeline dropped by the
 * datanodes (reconnected at its next write, no node blamed; silent for
 * twice that, the first node is dropped as failed); a failed writer's
 * file stays open until lease recovery closes it; block locations and
 * tokens are fetched once at open, so a reader whose every replica of a
 * block failed (or whose tokens expired) does not ask the namenode
 * again. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "dfs_internal.h"
#include "dfs_stream_internal.h"
#include "ember/dfs.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define STREAM_WINDOW 80                 /* unacknowledged packets on a pipeline */
#define STREAM_COMPLETE_TIMEOUT_MS 30000 /* CompleteRequest retries on EMBER_EAGAIN */
#define STREAM_PIPELINE_FAILED 2         /* internal: a node of the pipeline failed, recover */
#define STREAM_MAX_RECOVERIES 5          /* pipeline recoveries of one block (HDFS's 5) */
#define STREAM_NO_CULPRIT SIZE_MAX       /* a pipeline failure that is no datanode's fault */
#define STREAM_TIMEOUT_EXTENSION_MS 5000 /* more ack wait per datanode of a pipeline (HDFS's
                                          * READ_TIMEOUT_EXTENSION) */

/* ---- common --------------------------------------------------------------- */

/* Bytes in the packets sent and not acknowledged (for dfs_stream_check). */
__attribute__((unused)) static uint64_t writer_unacked_bytes(const ember_dfs_file *f) {
    uint64_t n = 0;
    for (uint64_t i = 0; i < f->next_seqno - f->acked; i++)
        n += f->unacked[(f->unacked_head + i) % STREAM_WINDOW].len;
    return n;
}

/* See dfs_stream_internal.h. */
void dfs_stream_check(const ember_dfs_file *f) {
    (void)f;
    switch (f->state) {
    case STREAM_READER:
        assert(f->buf == NULL && f->fd < 0);
        assert(f->seq.fd < 0 || f->seq.frames != NULL);
        break;
    case STREAM_WRITER_IDLE:
        assert(f->fd < 0 && f->frames == NULL &&
               (f->block_pos == 0 || f->append_block != NULL));
        assert(f->buf_len <= MESSAGE_PACKET_MAX && f->buf_len <= f->block_size);
        break;
    case STREAM_WRITER_BLOCK:
        assert(f->fd >= 0 && f->frames != NULL && f->nnodes >= 1);
        assert(f->block_pos + f->buf_len <= f->block_size);
        assert(f->acked <= f->next_seqno && f->next_seqno - f->acked <= STREAM_WINDOW);
        assert(f->acked_pos + writer_unacked_bytes(f) == f->block_pos);
        assert(f->recoveries <= STREAM_MAX_RECOVERIES);
        break;
    case STREAM_WRITER_FAILED: assert(f->fd < 0 && f->frames == NULL && f->rc < 0); break;
    }
}

/* See dfs_stream_internal.h. */
ember_dfs_file *dfs_stream_new(ember_dfs *dfs, const char *path, stream_state state) {
    ember_dfs_file *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->dfs = dfs;
    f->state = state;
    f->fd = -1;
    f->seq.fd = -1;
    f->seq.block = SIZE_MAX;
    f->remote_pread.fd = -1;
    f->remote_pread.block = SIZE_MAX;
    f->path = strdup(path);
    if (f->path != NULL && pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f->path);
        f->path = NULL;
    }
    if (state != STREAM_READER) {
        f->buf = malloc(MESSAGE_PACKET_MAX);
        f->unacked = calloc(STREAM_WINDOW, sizeof(*f->unacked));
    }
    if (f->path == NULL || (state != STREAM_READER && (f->buf == NULL || f->unacked == NULL))) {
        if (f->path != NULL)
            pthread_mutex_destroy(&f->lock);
        free(f->path);
        free(f->buf);
        free(f->unacked);
        free(f);
        return NULL;
    }
    return f;
}

/* See dfs_stream_internal.h. */
void dfs_stream_free(ember_dfs_file *f) {
    if (f->registered)
        dfs_writer_closed(f->dfs, f);
    pthread_mutex_destroy(&f->lock);
    if (f->fd >= 0)
        close(f->fd);
    frame_reader_destroy(f->frames);
    dfs_block_reader_reset(&f->seq);
    dfs_block_reader_reset(&f->remote_pread);
    dfs_short_circuit_free(f->sc);
    if (f->env != NULL)
        client_message__free_unpacked(f->env, NULL);
    if (f->append_env != NULL)
        client_message__free_unpacked(f->append_env, NULL);
    for (size_t i = 0; f->unacked != NULL && i < STREAM_WINDOW; i++)
        free(f->unacked[i].data);
    free(f->unacked);
    free(f->buf);
    free(f->path);
    free(f);
}

/* Sleeps ms milliseconds. */
static void stream_sleep_ms(int64_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* See dfs_stream_internal.h. */
size_t dfs_stream_chunk_crcs(const uint8_t *data, size_t len, uint32_t *crcs) {
    size_t n = 0;
    for (size_t off = 0; off < len; off += STREAM_CHUNK) {
        size_t piece = len - off < STREAM_CHUNK ? len - off : STREAM_CHUNK;
        crcs[n++] = crc32c(0, data + off, piece);
    }
    return n;
}

/* Encodes msg as a frame and writes it to fd before deadline_ms
 * (monotonic).  A failure may leave part of the frame sent. */
static int stream_send_until(int fd, const DataMessage *msg, int64_t deadline_ms) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_write_all(fd, buf, len, deadline_ms);
    free(buf);
    return rc;
}

/* See dfs_stream_internal.h: stream_send_until() with a DFS_TIMEOUT_MS
 * deadline. */
int dfs_stream_send(int fd, const DataMessage *msg) {
    return stream_send_until(fd, msg, clock_monotonic_ms() + DFS_TIMEOUT_MS);
}

/* ---- writer --------------------------------------------------------------- */

/* Closes the pipeline connection, if any; its heartbeats go with it. */
static void writer_disconnect(ember_dfs_file *f) {
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    frame_reader_destroy(f->frames);
    f->frames = NULL;
    f->heartbeats = 0;
    f->heartbeat_rc = 0;
}

/* Any writer state -> WRITER_FAILED: records rc and the message (also as
 * the handle's last error) and drops the connection.  Returns rc. */
static int writer_fail(ember_dfs_file *f, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int writer_fail(ember_dfs_file *f, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof(f->error), fmt, ap);
    va_end(ap);
    f->rc = rc < 0 ? rc : EMBER_EIO;
    writer_disconnect(f);
    f->state = STREAM_WRITER_FAILED;
    dfs_stream_check(f);
    dfs_set_error(f->dfs, "%s", f->error);
    return f->rc;
}

/* The pipeline failed: node `bad' (an index in f->nodes; 0, the first,
 * when it is not known; STREAM_NO_CULPRIT when no node is to blame) is
 * to be dropped, and fmt says what happened.  Closes the connection; the
 * stream stays WRITER_BLOCK for writer_recover().  Returns
 * STREAM_PIPELINE_FAILED. */
static int writer_pipeline_failed(ember_dfs_file *f, size_t bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int writer_pipeline_failed(ember_dfs_file *f, size_t bad, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    f->bad = bad == STREAM_NO_CULPRIT || bad < f->nnodes ? bad : 0;
    writer_disconnect(f);
    return STREAM_PIPELINE_FAILED;
}

/* How long the writer waits for the next ack of its pipeline (HDFS's
 * socket timeout + READ_TIMEOUT_EXTENSION per datanode): the handle's
 * socket timeout, or what the first datanode waits for the ones after it
 * (the datanodes' timeout per node downstream; datanode.c) when that is
 * longer, plus STREAM_TIMEOUT_EXTENSION_MS per datanode.  So the first
 * datanode gives up on a silent downstream node -- and names it in a
 * failed ack -- before the writer gives up on the first datanode: the
 * node next to the fault is the one dropped. */
static int64_t writer_ack_timeout_ms(const ember_dfs_file *f) {
    int64_t downstream = f->heartbeat_ms * 2 * (int64_t)(f->nnodes > 1 ? f->nnodes - 1 : 0);
    int64_t base = f->dfs->socket_timeout_ms > downstream ? f->dfs->socket_timeout_ms : downstream;
    return base + STREAM_TIMEOUT_EXTENSION_MS * (int64_t)f->nnodes;
}

/* The pipeline's first datanode failed to answer (connection lost,
 * refused, timed out). */
static int writer_datanode_lost(ember_dfs_file *f, int rc) {
    if (rc == EMBER_ETIMEDOUT)
        return writer_pipeline_failed(f, 0, "datanode rank %u failed (no answer in %lld ms)",
                                      f->nodes[0].rank, (long long)writer_ack_timeout_ms(f));
    return writer_pipeline_failed(f, 0, "datanode rank %u failed (%s)", f->nodes[0].rank,
                                  ember_strerror(rc));
}

/* The index of rank in the pipeline, or 0 (the first) when it is not in it. */
static size_t writer_node_index(const ember_dfs_file *f, int32_t rank) {
    for (size_t i = 0; i < f->nnodes; i++)
        if (rank >= 0 && f->nodes[i].rank == (uint32_t)rank)
            return i;
    return 0;
}

/* Remembers a failed datanode: later blocks of the stream avoid it
 * (AddBlockRequest.exclude). */
static void writer_exclude(ember_dfs_file *f, uint32_t rank) {
    for (size_t i = 0; i < f->nexcluded; i++)
        if (f->excluded[i] == rank)
            return;
    if (f->nexcluded < STREAM_EXCLUDE_MAX)
        f->excluded[f->nexcluded++] = rank;
}

/* A writer call on a stream that cannot take it: the sticky error of a
 * failed writer, or EMBER_ESTATE for a reader.  0 when it can. */
static int writer_usable(ember_dfs_file *f) {
    if (f->state == STREAM_WRITER_FAILED) {
        dfs_set_error(f->dfs, "%s", f->error);
        return f->rc;
    }
    if (f->state == STREAM_READER) {
        dfs_set_error(f->dfs, "`%s': not open for writing", f->path);
        return EMBER_ESTATE;
    }
    f->dfs->error[0] = '\0';
    return EMBER_OK;
}

/* Handles one frame from the pipeline: the next PacketAck (its packet is
 * then forgotten), the ack of the oldest heartbeat in flight (skipped: it
 * acknowledges no data), or anything else, which fails the pipeline: a
 * failed ack blames the node it names, whatever its seqno; a DataError
 * EMBER_ETIMEDOUT, the first datanode giving up on this writer's silence
 * (a pipeline without heartbeats, silent for dfs.datanode.socket.timeout),
 * no one; the rest the first datanode.  A heartbeat's ack must come
 * exactly after the data packets sent before it: its seqno is then the
 * count acknowledged. */
static int writer_handle_frame(ember_dfs_file *f, const uint8_t *payload, size_t len) {
    DataMessage *msg;
    if (message_decode_data(payload, len, &msg) != EMBER_OK)
        return writer_pipeline_failed(f, 0, "malformed answer from datanode rank %u",
                                      f->nodes[0].rank);
    int rc = EMBER_OK;
    if (msg->body_case == DATA_MESSAGE__BODY_ERROR) {
        size_t bad = msg->error->code == EMBER_ETIMEDOUT ? STREAM_NO_CULPRIT : 0;
        if (msg->error->message[0] != '\0')
            rc = writer_pipeline_failed(f, bad, "%s", msg->error->message);
        else
            rc = writer_pipeline_failed(f, bad, "datanode rank %u failed (%s)", f->nodes[0].rank,
                                        ember_strerror(msg->error->code));
    } else if (msg->body_case != DATA_MESSAGE__BODY_ACK) {
        rc = writer_pipeline_failed(f, 0, "unexpected message from datanode rank %u",
                                    f->nodes[0].rank);
    } else if (!msg->ack->ok) {
        size_t bad = writer_node_index(f, msg->ack->failed_rank);
        if (msg->ack->message[0] != '\0')
            rc = writer_pipeline_failed(f, bad, "%s", msg->ack->message);
        else
            rc = writer_pipeline_failed(f, bad, "datanode rank %u failed", f->nodes[bad].rank);
    } else if (msg->ack->heartbeat ? f->heartbeats == 0 || msg->ack->seqno != f->acked
                                   : msg->ack->seqno != f->acked || f->acked >= f->next_seqno) {
        rc = writer_pipeline_failed(f, 0,
                                    "datanode rank %u acknowledged %spacket %llu out of order",
                                    f->nodes[0].rank, msg->ack->heartbeat ? "heartbeat " : "",
                                    (unsigned long long)msg->ack->seqno);
    } else if (msg->ack->heartbeat) {
        f->heartbeats--;
    } else {
        f->acked_pos += f->unacked[f->unacked_head].len;
        f->unacked_head = (f->unacked_head + 1) % STREAM_WINDOW;
        f->acked++;
    }
    data_message__free_unpacked(msg, NULL);
    return rc;
}

/* Takes acks until at most max_unacked packets are unacknowledged, each
 * within writer_ack_timeout_ms(), then whatever else has already arrived, without
 * blocking (max_unacked UINT64_MAX: only that).  0, or
 * STREAM_PIPELINE_FAILED -- at once when a heartbeat's send failed. */
static int writer_take_acks(ember_dfs_file *f, uint64_t max_unacked) {
    if (f->heartbeat_rc != EMBER_OK) {
        /* The renewer could not send a heartbeat: the connection is not
         * usable.  The datanode may have said why before: take that. */
        int lost = f->heartbeat_rc;
        f->heartbeat_rc = EMBER_OK;
        int said = lost != EMBER_ETIMEDOUT ? writer_take_acks(f, UINT64_MAX) : EMBER_OK;
        return said != EMBER_OK ? said : writer_datanode_lost(f, lost);
    }
    int64_t deadline = clock_monotonic_ms() + writer_ack_timeout_ms(f);
    for (;;) {
        const uint8_t *payload;
        size_t len;
        int rc = frame_reader_next(f->frames, &payload, &len);
        if (rc < 0)
            return writer_datanode_lost(f, rc);
        if (rc == 1) {
            if ((rc = writer_handle_frame(f, payload, len)) != EMBER_OK)
                return rc;
            deadline = clock_monotonic_ms() + writer_ack_timeout_ms(f);
            continue;
        }
        int wait = f->next_seqno - f->acked > max_unacked;
        int64_t left = deadline - clock_monotonic_ms();
        if (wait && left <= 0)
            return writer_datanode_lost(f, EMBER_ETIMEDOUT);
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        int n = poll(&p, 1, wait ? (left > 1000000 ? 1000000 : (int)left) : 0);
        if (n < 0 && errno != EINTR)
            return writer_datanode_lost(f, EMBER_EIO);
        if (n <= 0) {
            if (!wait && n == 0)
                return EMBER_OK;
            continue;
        }
        /* Blocking socket, but poll said readable: one read returns. */
        rc = frame_reader_fill(f->frames, f->fd);
        if (rc == EMBER_ECLOSED && !wait && f->acked == f->next_seqno)
            return EMBER_OK; /* nothing outstanding (the datanode closes after a block) */
        if (rc < 0 && rc != EMBER_EAGAIN)
            return writer_datanode_lost(f, rc);
    }
}

/* Connects to the pipeline's first datanode and sends WriteBlockRequest
 * for the block at f->gen_stamp with token, the other nodes as downstream:
 * an append of the finalized replicas of gen stamp append_gs (0: none),
 * or with recovery set a pipeline recovery -- each node reopens its
 * replica of a gen stamp from f->base_gen_stamp, cut to the f->acked_pos
 * bytes acknowledged.  0, STREAM_PIPELINE_FAILED (the first datanode's
 * fault) or the stream's failure. */
static int writer_connect(ember_dfs_file *f, const BlockToken *token, uint64_t append_gs,
                          int recovery) {
    uint32_t downstream[STREAM_MAX_LOCATIONS];
    for (size_t i = 1; i < f->nnodes; i++)
        downstream[i - 1] = f->nodes[i].rank;
    int rc = socket_connect_tcp(f->nodes[0].host, (int)f->nodes[0].port,
                                STREAM_CONNECT_TIMEOUT_MS, &f->fd);
    if (rc == EMBER_OK && (rc = frame_reader_create(&f->frames, FRAME_MAX_DEFAULT)) != EMBER_OK)
        return writer_fail(f, rc, "out of memory");
    if (rc == EMBER_OK) {
        WriteBlockRequest w = WRITE_BLOCK_REQUEST__INIT;
        w.block_id = f->block_id;
        w.gen_stamp = f->gen_stamp;
        w.token = (BlockToken *)token;
        w.n_downstream = f->nnodes - 1;
        w.downstream = downstream;
        if (recovery) {
            w.recovery_gen_stamp = f->base_gen_stamp;
            w.recovery_length = f->acked_pos;
        } else {
            w.append_gen_stamp = append_gs;
        }
        DataMessage dm = DATA_MESSAGE__INIT;
        dm.body_case = DATA_MESSAGE__BODY_WRITE_BLOCK;
        dm.write_block = &w;
        rc = dfs_stream_send(f->fd, &dm);
    }
    if (rc != EMBER_OK)
        return writer_datanode_lost(f, rc);
    f->last_sent_ms = clock_monotonic_ms();
    return EMBER_OK;
}

/* Sends the unacknowledged packet of seqno (kept in the ring).  0, or
 * STREAM_PIPELINE_FAILED. */
static int writer_send_unacked(ember_dfs_file *f, uint64_t seqno) {
    const unacked_packet *u =
        &f->unacked[(f->unacked_head + (seqno - f->acked)) % STREAM_WINDOW];
    Packet p = PACKET__INIT;
    p.seqno = seqno;
    p.offset = u->offset;
    p.data.data = u->data;
    p.data.len = u->len;
    p.n_crcs = u->ncrcs;
    p.crcs = (uint32_t *)u->crcs;
    p.last = u->last;
    p.sync = u->sync;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_PACKET;
    dm.packet = &p;
    int rc = dfs_stream_send(f->fd, &dm);
    if (rc == EMBER_OK) {
        f->last_sent_ms = clock_monotonic_ms();
        return EMBER_OK;
    }
    /* The datanode may have said why before it closed: take that. */
    int said = rc != EMBER_ETIMEDOUT ? writer_take_acks(f, UINT64_MAX) : EMBER_OK;
    return said != EMBER_OK ? said : writer_datanode_lost(f, rc);
}

/* Drops from the pipeline (and excludes from later blocks) every node
 * that lb, the namenode's answer to a recovery, does not list as live:
 * a recovery never goes on with a node the namenode declared dead.  0, or
 * the stream's failure when none is left. */
static int writer_keep_live(ember_dfs_file *f, const LocatedBlock *lb) {
    char dropped[160] = "";
    size_t kept = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        int live = 0;
        for (size_t k = 0; k < lb->n_locations && !live; k++)
            live = lb->locations[k]->rank == f->nodes[i].rank;
        if (live) {
            f->nodes[kept++] = f->nodes[i];
            continue;
        }
        size_t used = strlen(dropped);
        snprintf(dropped + used, sizeof(dropped) - used, "%s%u", used ? ", " : "",
                 f->nodes[i].rank);
        writer_exclude(f, f->nodes[i].rank);
    }
    f->nnodes = kept;
    if (kept == 0)
        return writer_fail(f, EMBER_EIO,
                           "blk_%llu: no datanode of its pipeline is left: the namenode holds "
                           "ranks %s dead (the last failure: %s)",
                           (unsigned long long)f->block_id, dropped, f->why);
    return EMBER_OK;
}

/* Asks the namenode for a new gen stamp for the block being written
 * (UpdateBlockForPipelineRequest, naming the nodes left): f->gen_stamp
 * gets it, *token a write token for it, pointing into *env (the caller
 * frees it), and the nodes the namenode does not hold live leave the
 * pipeline (writer_keep_live()).  0, or the stream's failure. */
static int writer_new_gen_stamp(ember_dfs_file *f, ClientMessage **env, const BlockToken **token) {
    uint32_t ranks[STREAM_MAX_LOCATIONS];
    for (size_t i = 0; i < f->nnodes; i++)
        ranks[i] = f->nodes[i].rank;
    UpdateBlockForPipelineRequest m = UPDATE_BLOCK_FOR_PIPELINE_REQUEST__INIT;
    m.path = f->path;
    m.block_id = f->block_id;
    m.client_name = f->dfs->client_name;
    m.n_pipeline = f->nnodes;
    m.pipeline = ranks;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE;
    req.update_block_for_pipeline = &m;
    DfsResult *res;
    int rc = dfs_call(f->dfs, &req, env, &res);
    if (rc != EMBER_OK)
        return writer_fail(f, rc, "blk_%llu: pipeline recovery refused by the namenode: %s",
                           (unsigned long long)f->block_id, f->dfs->error);
    const LocatedBlock *lb = res->n_blocks > 0 ? res->blocks[0] : NULL;
    if (lb == NULL || lb->block_id != f->block_id || lb->gen_stamp <= f->gen_stamp ||
        lb->token == NULL) {
        client_message__free_unpacked(*env, NULL);
        return writer_fail(f, EMBER_EPROTO,
                           "blk_%llu: the namenode's answer to a pipeline recovery is not usable",
                           (unsigned long long)f->block_id);
    }
    f->gen_stamp = lb->gen_stamp;
    *token = lb->token;
    if ((rc = writer_keep_live(f, lb)) != EMBER_OK)
        client_message__free_unpacked(*env, NULL);
    return rc;
}

/* Pipeline recovery (HDFS's setupPipelineForAppendOrRecovery), after
 * STREAM_PIPELINE_FAILED: the culprit f->bad leaves the pipeline (and is
 * excluded from the stream's later blocks); with nodes left, the block
 * gets a new gen stamp from the namenode, the new first datanode a
 * WriteBlockRequest that has every node reopen its replica at the
 * acknowledged length, and every unacknowledged packet goes out again,
 * seqnos from 0.  A node failing meanwhile is dropped the same way.  The
 * stream fails when no node is left, when the namenode refuses, or after
 * STREAM_MAX_RECOVERIES of one block.  A failure with no culprit (the
 * datanodes gave up on a silent writer) reconnects the same nodes and is
 * not counted: it needs the program to have been silent once more. */
static int writer_recover(ember_dfs_file *f) {
    for (;;) {
        if (f->bad != STREAM_NO_CULPRIT) {
            writer_exclude(f, f->nodes[f->bad].rank);
            memmove(&f->nodes[f->bad], &f->nodes[f->bad + 1],
                    (f->nnodes - f->bad - 1) * sizeof(f->nodes[0]));
            f->nnodes--;
            if (f->nnodes == 0)
                return writer_fail(f, EMBER_EIO,
                                   "blk_%llu: no datanode of its pipeline is left (the last "
                                   "failure: %s)",
                                   (unsigned long long)f->block_id, f->why);
            if (f->recoveries == STREAM_MAX_RECOVERIES)
                return writer_fail(f, EMBER_EIO,
                                   "blk_%llu: giving up after %d pipeline recoveries (the last "
                                   "failure: %s)",
                                   (unsigned long long)f->block_id, STREAM_MAX_RECOVERIES,
                                   f->why);
            f->recoveries++;
        }
        ClientMessage *env = NULL;
        const BlockToken *token = NULL;
        int rc = writer_new_gen_stamp(f, &env, &token);
        if (rc != EMBER_OK)
            return rc;
        uint64_t count = f->next_seqno - f->acked;
        f->acked = 0;
        f->next_seqno = count;
        rc = writer_connect(f, token, 0, 1);
        client_message__free_unpacked(env, NULL);
        for (uint64_t seqno = 0; rc == EMBER_OK && seqno < count; seqno++)
            rc = writer_send_unacked(f, seqno);
        if (rc == EMBER_OK) {
            dfs_stream_check(f);
            return EMBER_OK;
        }
        if (rc != STREAM_PIPELINE_FAILED)
            return rc;
    }
}

/* Takes acks as writer_take_acks() does, recovering the pipeline each
 * time it fails.  0, or the stream's failure. */
static int writer_acks(ember_dfs_file *f, uint64_t max_unacked) {
    for (;;) {
        int rc = writer_take_acks(f, max_unacked);
        if (rc != STREAM_PIPELINE_FAILED)
            return rc;
        if ((rc = writer_recover(f)) != EMBER_OK)
            return rc;
    }
}

/* WRITER_IDLE -> WRITER_BLOCK: asks the namenode for the next block (or
 * takes the appended last block), connects to the first datanode of its
 * pipeline and sends WriteBlockRequest; a first datanode that fails
 * already is recovered from as any pipeline failure. */
static int writer_open_block(ember_dfs_file *f) {
    ClientMessage *env = NULL;
    const LocatedBlock *lb = f->append_block;
    uint64_t append_gs = 0;
    int rc;
    if (lb != NULL) {
        /* The file's last block, continued after an append. */
        env = f->append_env;
        append_gs = f->append_gen_stamp;
        f->append_env = NULL;
        f->append_block = NULL;
    } else {
        AddBlockRequest m = ADD_BLOCK_REQUEST__INIT;
        m.path = f->path;
        m.previous_block_id = f->prev_id;
        m.previous_length = f->prev_len;
        m.client_rank = -1;
        m.client_name = f->dfs->client_name;
        m.n_exclude = f->nexcluded;
        m.exclude = f->excluded;
        ClientMessage req = CLIENT_MESSAGE__INIT;
        req.body_case = CLIENT_MESSAGE__BODY_ADD_BLOCK;
        req.add_block = &m;
        DfsResult *res;
        rc = dfs_call(f->dfs, &req, &env, &res);
        if (rc != EMBER_OK)
            return writer_fail(f, rc, "%s", f->dfs->error);
        if (res->n_blocks < 1) {
            client_message__free_unpacked(env, NULL);
            return writer_fail(f, EMBER_EPROTO, "the namenode gave no block for `%s'", f->path);
        }
        lb = res->blocks[0];
    }
    if (lb->n_locations < 1 || lb->n_locations > STREAM_MAX_LOCATIONS || lb->token == NULL) {
        client_message__free_unpacked(env, NULL);
        return writer_fail(f, EMBER_EPROTO, "the namenode gave no datanode for a block of `%s'",
                           f->path);
    }
    f->block_id = lb->block_id;
    f->gen_stamp = lb->gen_stamp;
    f->base_gen_stamp = append_gs != 0 ? append_gs : lb->gen_stamp;
    f->nnodes = lb->n_locations;
    for (size_t i = 0; i < lb->n_locations; i++) {
        f->nodes[i].rank = lb->locations[i]->rank;
        f->nodes[i].port = lb->locations[i]->port;
        snprintf(f->nodes[i].host, sizeof(f->nodes[i].host), "%s", lb->locations[i]->host);
    }
    if (append_gs == 0)
        f->block_pos = 0; /* else the block goes on from its length */
    f->acked_pos = f->block_pos;
    f->next_seqno = 0;
    f->acked = 0;
    f->unacked_head = 0;
    f->recoveries = 0;
    f->state = STREAM_WRITER_BLOCK;
    rc = writer_connect(f, lb->token, append_gs, 0);
    client_message__free_unpacked(env, NULL);
    if (rc == STREAM_PIPELINE_FAILED)
        rc = writer_recover(f); /* nothing sent yet: the nodes left start the block */
    if (rc != EMBER_OK)
        return rc;
    dfs_stream_check(f);
    if (f->registered && f->heartbeat_ms > 0)
        dfs_renewer_wake(f->dfs); /* this pipeline's heartbeats are due from now on */
    return EMBER_OK;
}

/* WRITER_BLOCK -> WRITER_IDLE once its last packet is sent: waits for every
 * ack and closes the connection; the block becomes the previous one. */
static int writer_end_block(ember_dfs_file *f) {
    int rc = writer_acks(f, 0);
    if (rc != EMBER_OK)
        return rc;
    writer_disconnect(f);
    f->prev_id = f->block_id;
    f->prev_len = f->block_pos;
    f->block_pos = 0;
    f->state = STREAM_WRITER_IDLE;
    dfs_stream_check(f);
    return EMBER_OK;
}

/* How many bytes the packet being filled may hold: up to 64 KiB, ending
 * on a chunk boundary, never past the end of the block. */
static size_t writer_packet_cap(const ember_dfs_file *f) {
    size_t cap = MESSAGE_PACKET_MAX - (size_t)(f->block_pos % STREAM_CHUNK);
    if (f->block_size - f->block_pos < cap)
        cap = (size_t)(f->block_size - f->block_pos);
    return cap;
}

/* Sends the buffer as the next packet (opening a block first when none is
 * open); with last, the block ends with it; with sync, every datanode
 * fsyncs the replica before acking it.  The buffer moves into the ring of
 * unacknowledged packets (swapped with a free one) until its ack. */
static int writer_send_packet(ember_dfs_file *f, int last, int sync) {
    int rc;
    if (f->state == STREAM_WRITER_IDLE && (rc = writer_open_block(f)) != EMBER_OK)
        return rc;
    if ((rc = writer_acks(f, STREAM_WINDOW - 1)) != EMBER_OK)
        return rc;
    unacked_packet *u =
        &f->unacked[(f->unacked_head + (f->next_seqno - f->acked)) % STREAM_WINDOW];
    if (u->data == NULL && (u->data = malloc(MESSAGE_PACKET_MAX)) == NULL)
        return writer_fail(f, EMBER_ENOMEM, "out of memory");
    uint8_t *spare = u->data;
    u->data = f->buf;
    f->buf = spare;
    u->len = f->buf_len;
    u->offset = f->block_pos;
    u->last = last;
    u->sync = sync;
    u->ncrcs = dfs_stream_chunk_crcs(u->data, u->len, u->crcs);
    f->block_pos += f->buf_len;
    f->buf_len = 0;
    rc = writer_send_unacked(f, f->next_seqno++);
    if (rc == STREAM_PIPELINE_FAILED)
        rc = writer_recover(f); /* which sends this packet again too */
    if (rc != EMBER_OK)
        return rc;
    dfs_stream_check(f);
    return last ? writer_end_block(f) : EMBER_OK;
}

/* Completes the file with its last block, retrying (2 ms doubling to
 * 200 ms, for up to 30 s) while the namenode answers EMBER_EAGAIN: the
 * datanodes' BlockReceived is usually a millisecond or two behind the
 * last ack (a first pause of 10 ms cost every small job's staging, part
 * and history files that much). */
static int writer_complete(ember_dfs_file *f) {
    int64_t give_up = clock_monotonic_ms() + STREAM_COMPLETE_TIMEOUT_MS;
    int64_t pause = 2;
    for (;;) {
        CompleteRequest m = COMPLETE_REQUEST__INIT;
        m.path = f->path;
        m.last_block_id = f->prev_id;
        m.last_length = f->prev_len;
        m.client_name = f->dfs->client_name;
        ClientMessage req = CLIENT_MESSAGE__INIT;
        req.body_case = CLIENT_MESSAGE__BODY_COMPLETE;
        req.complete = &m;
        ClientMessage *env;
        DfsResult *res;
        int rc = dfs_call(f->dfs, &req, &env, &res);
        if (rc == EMBER_OK)
            client_message__free_unpacked(env, NULL);
        if (rc != EMBER_EAGAIN || clock_monotonic_ms() + pause > give_up)
            return rc;
        stream_sleep_ms(pause);
        pause = pause * 2 > 200 ? 200 : pause * 2;
    }
}

/* The end of create and append: f, checked, joins the renewer -- which
 * renews the lease every renew_ms and sends f's heartbeats -- and is
 * handed out in *out.  On failure f is freed. */
static int writer_opened(ember_dfs_file *f, int64_t renew_ms, ember_dfs_file **out) {
    dfs_stream_check(f);
    f->registered = 1;
    int rc = dfs_writer_opened(f->dfs, f, renew_ms);
    if (rc != EMBER_OK) {
        f->registered = 0;
        dfs_stream_free(f);
        return rc;
    }
    *out = f;
    return EMBER_OK;
}

/* Sends a heartbeat packet down f's pipeline (the renewer, holding
 * f->lock): no data, the seqno and offset the next data packet will
 * have, within heartbeat_ms.  A failure is only recorded (heartbeat_rc):
 * the connection may hold part of the frame, and the next writer call
 * recovers the pipeline -- the renewer never does. */
static void writer_send_heartbeat(ember_dfs_file *f, int64_t now) {
    Packet p = PACKET__INIT;
    p.seqno = f->next_seqno;
    p.offset = f->block_pos;
    p.heartbeat = 1;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_PACKET;
    dm.packet = &p;
    int rc = stream_send_until(f->fd, &dm, now + f->heartbeat_ms);
    if (rc != EMBER_OK) {
        f->heartbeat_rc = rc;
        return;
    }
    f->heartbeats++;
    f->last_sent_ms = now;
}

/* See dfs_internal.h.  A stream whose lock is taken is in a call of its
 * own thread, which talks to the pipeline itself: it is looked at again
 * a quarter of the heartbeat interval later. */
int64_t dfs_writer_heartbeat(ember_dfs_file *f, int64_t now) {
    if (f->heartbeat_ms <= 0)
        return INT64_MAX;
    if (pthread_mutex_trylock(&f->lock) != 0)
        return now + (f->heartbeat_ms >= 4 ? f->heartbeat_ms / 4 : 1);
    int64_t next = INT64_MAX;
    if (f->state == STREAM_WRITER_BLOCK && f->fd >= 0 && f->heartbeat_rc == EMBER_OK) {
        if (now - f->last_sent_ms >= f->heartbeat_ms)
            writer_send_heartbeat(f, now);
        if (f->heartbeat_rc == EMBER_OK)
            next = f->last_sent_ms + f->heartbeat_ms;
        dfs_stream_check(f);
    }
    pthread_mutex_unlock(&f->lock);
    return next;
}

int ember_dfs_create(ember_dfs *dfs, const char *path, const ember_create_options *opts,
                     ember_dfs_file **out) {
    ember_create_options none = {0};
    if (opts == NULL)
        opts = &none;
    ember_dfs_file *f = dfs_stream_new(dfs, path, STREAM_WRITER_IDLE);
    if (f == NULL) {
        dfs_set_error(dfs, "out of memory");
        return EMBER_ENOMEM;
    }
    CreateRequest m = CREATE_REQUEST__INIT;
    m.path = (char *)path;
    m.mode = opts->mode;
    m.replication = opts->replication;
    m.block_size = opts->block_size;
    m.overwrite = opts->overwrite;
    m.create_parents = opts->create_parents;
    m.for_write = 1;
    m.client_name = dfs->client_name;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_CREATE;
    req.create = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK) {
        dfs_stream_free(f);
        return rc;
    }
    if (res->status != NULL)
        f->block_size = res->status->block_size;
    int64_t renew_ms = res->lease_renew_ms;
    f->heartbeat_ms = res->socket_timeout_ms / 2;
    client_message__free_unpacked(env, NULL);
    if (f->block_size == 0 || f->block_size % STREAM_CHUNK != 0) {
        dfs_set_error(dfs, "`%s': the namenode gave no valid block size", path);
        dfs_stream_free(f);
        return EMBER_EPROTO;
    }
    return writer_opened(f, renew_ms, out);
}

void ember_dfs_set_socket_timeout(ember_dfs *dfs, int64_t ms) {
    if (ms > 0)
        dfs->socket_timeout_ms = ms;
}

int ember_dfs_append(ember_dfs *dfs, const char *path, ember_dfs_file **out) {
    ember_dfs_file *f = dfs_stream_new(dfs, path, STREAM_WRITER_IDLE);
    if (f == NULL) {
        dfs_set_error(dfs, "out of memory");
        return EMBER_ENOMEM;
    }
    AppendRequest m = APPEND_REQUEST__INIT;
    m.path = (char *)path;
    m.client_name = dfs->client_name;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_APPEND;
    req.append = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK) {
        dfs_stream_free(f);
        return rc;
    }
    int64_t renew_ms = res->lease_renew_ms;
    f->heartbeat_ms = res->socket_timeout_ms / 2;
    if (res->status != NULL) {
        f->block_size = res->status->block_size;
        f->length = res->status->length;
    }
    if (res->n_blocks > 0) {
        const LocatedBlock *lb = res->blocks[0];
        f->append_env = env;
        f->append_block = lb;
        f->append_gen_stamp = res->previous_gen_stamp;
        f->block_pos = lb->length;
        f->length += lb->length;
        env = NULL;
    }
    if (env != NULL)
        client_message__free_unpacked(env, NULL);
    if (f->block_size == 0 || f->block_size % STREAM_CHUNK != 0 ||
        (f->append_block != NULL &&
         (f->append_gen_stamp == 0 || f->block_pos >= f->block_size))) {
        dfs_set_error(dfs, "`%s': the namenode's answer to append is not usable", path);
        dfs_stream_free(f);
        return EMBER_EPROTO;
    }
    return writer_opened(f, renew_ms, out);
}

/* ember_dfs_write() under f->lock. */
static int writer_write(ember_dfs_file *f, const void *data, size_t len) {
    int rc = writer_usable(f);
    if (rc != EMBER_OK)
        return rc;
    const uint8_t *p = data;
    while (len > 0) {
        size_t cap = writer_packet_cap(f);
        if (f->buf_len == cap) {
            /* Full, and more is coming: out it goes; the last of its
             * block when it fills the block. */
            rc = writer_send_packet(f, f->block_pos + f->buf_len == f->block_size, 0);
            if (rc != EMBER_OK)
                return rc;
            continue;
        }
        size_t n = cap - f->buf_len < len ? cap - f->buf_len : len;
        memcpy(f->buf + f->buf_len, p, n);
        f->buf_len += n;
        f->length += n;
        p += n;
        len -= n;
    }
    return EMBER_OK;
}

int ember_dfs_write(ember_dfs_file *f, const void *data, size_t len) {
    pthread_mutex_lock(&f->lock);
    int rc = writer_write(f, data, len);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* hflush, or with sync hsync, under f->lock: what is buffered goes out as
 * a packet (the block's last when it fills it) and every ack is waited
 * for.  hsync marks that packet sync -- an empty one when an hflush had
 * sent everything already, so that what it sent gets synced too -- and
 * each datanode fsyncs the block before acking it.  With no block open
 * there is nothing to flush or sync: the blocks already finished were
 * finalized, synced only with the datanodes' dfs.datanode.synconclose
 * (as HDFS's hsync, which syncs the current block). */
static int writer_flush(ember_dfs_file *f, int sync) {
    int rc = writer_usable(f);
    if (rc != EMBER_OK)
        return rc;
    if ((f->buf_len > 0 || (sync && f->state == STREAM_WRITER_BLOCK)) &&
        (rc = writer_send_packet(f, f->block_pos + f->buf_len == f->block_size, sync)) !=
            EMBER_OK)
        return rc;
    if (f->state == STREAM_WRITER_BLOCK)
        return writer_acks(f, 0);
    return EMBER_OK;
}

int ember_dfs_hflush(ember_dfs_file *f) {
    pthread_mutex_lock(&f->lock);
    int rc = writer_flush(f, 0);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int ember_dfs_hsync(ember_dfs_file *f) {
    pthread_mutex_lock(&f->lock);
    int rc = writer_flush(f, 1);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int ember_dfs_close_file(ember_dfs_file *f) {
    if (f == NULL)
        return EMBER_OK;
    int rc = EMBER_OK;
    pthread_mutex_lock(&f->lock);
    if (f->state != STREAM_READER && (rc = writer_usable(f)) == EMBER_OK) {
        /* An appended last block is finished even when nothing was
         * written: its replicas carry the new gen stamp only then. */
        if (f->buf_len > 0 || f->state == STREAM_WRITER_BLOCK || f->append_block != NULL)
            rc = writer_send_packet(f, 1, 0);
        if (rc == EMBER_OK)
            rc = writer_complete(f);
    }
    pthread_mutex_unlock(&f->lock);
    dfs_stream_free(f);
    return rc;
}
