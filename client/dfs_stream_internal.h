/* dfs_stream_internal.h -- what the client library's two stream files
 * share: dfs_stream.c (the writer, and what every stream has) and
 * dfs_read_stream.c (the reader).  The layout of struct ember_dfs_file,
 * its states, and the common helpers.  Not public; included only by
 * those two files. */
#ifndef EMBER_DFS_STREAM_INTERNAL_H
#define EMBER_DFS_STREAM_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"
#include "dfs_internal.h"
#include "ember/dfs.h"
#include "proto/frame.h"
#include "proto/message.h"

#define STREAM_CHUNK 512                /* bytes per checksum (dfs.bytes-per-checksum) */
#define STREAM_CONNECT_TIMEOUT_MS 10000 /* to a datanode's data port */
#define STREAM_MAX_LOCATIONS 16         /* message_check_client caps locations so */
#define STREAM_DEAD_MAX 64              /* datanodes a reader remembers as failed */
#define STREAM_EXCLUDE_MAX 64           /* message_check_client caps AddBlockRequest.exclude so */

typedef enum {
    STREAM_READER,        /* opened by ember_dfs_open: read, pread, seek */
    STREAM_WRITER_IDLE,   /* a writer with no block open: the next packet adds one */
    STREAM_WRITER_BLOCK,  /* a writer streaming a block to its pipeline's first datanode */
    STREAM_WRITER_FAILED, /* a write failed: every later call returns rc with error */
} stream_state;

/* A packet sent down the pipeline and not acknowledged yet: kept (data,
 * CRCs, place) until its ack, to go out again after a pipeline recovery. */
typedef struct {
    uint8_t *data; /* MESSAGE_PACKET_MAX bytes, swapped with the stream's packet buffer */
    size_t len;
    uint64_t offset; /* in the block */
    int last;
    int sync; /* hsync: every datanode fsyncs the replica before acking it */
    size_t ncrcs;
    uint32_t crcs[MESSAGE_PACKET_MAX / STREAM_CHUNK];
} unacked_packet;

/* A datanode of the pipeline of the block being written. */
typedef struct {
    uint32_t rank;
    uint32_t port;
    char host[MESSAGE_NAME_MAX + 1];
} pipeline_node;

/* One block range streamed from one datanode (see the file comment). */
typedef struct {
    int fd;               /* the data connection, -1: none */
    frame_reader *frames; /* its frames; NULL when fd is -1 */
    size_t block;         /* index in the file's blocks; SIZE_MAX: none yet */
    size_t loc;           /* index of the location serving it */
    uint32_t dead;        /* locations of `block` that failed, one bit per index */
    uint64_t next;        /* file offset the connection's next packet continues from */
    int remote;           /* the location is read through dfs->remote (no fd) */
    DataMessage *msg;     /* the packet in hand (its data are served from it), or NULL */
    dfs_remote_range range; /* ... or the remote range in hand (range.release set) */
    uint64_t msg_pos;     /* file offset of the data in hand */
} dfs_block_reader;

struct ember_dfs_file {
    ember_dfs *dfs;
    char *path;           /* malloc'd */
    pthread_mutex_t lock; /* a writer's state and connection: held by each writer call, and
                           * by the renewer's heartbeat (see dfs_internal.h) */
    stream_state state;
    uint64_t length; /* reader: the file's; writer: bytes accepted so far */

    /* writer */
    int rc;              /* WRITER_FAILED: the error every call returns */
    char error[1024];    /* ... and its message */
    uint64_t block_size; /* the file's, from the create answer */
    uint8_t *buf;        /* MESSAGE_PACKET_MAX bytes: the packet being filled */
    size_t buf_len;
    uint64_t block_id;       /* WRITER_BLOCK: the block being written */
    uint64_t gen_stamp;      /* ... its gen stamp, new after each pipeline recovery */
    uint64_t base_gen_stamp; /* ... the lowest a replica of it may carry to be recovered: the
                              * block's when this stream opened it (after an append, the stamp
                              * its replicas had before) */
    uint64_t block_pos;      /* WRITER_BLOCK: bytes of it already sent (offset of buf[0]) */
    uint64_t acked_pos;      /* WRITER_BLOCK: bytes of it acknowledged by every node */
    pipeline_node nodes[STREAM_MAX_LOCATIONS]; /* its pipeline, the failed nodes dropped */
    size_t nnodes;
    int fd; /* WRITER_BLOCK: connection to nodes[0] (-1 only inside a recovery) */
    frame_reader *frames;
    uint64_t next_seqno;     /* seqno of the next packet (from 0 on each connection) */
    uint64_t acked;          /* packets acknowledged (acks come in seqno order) */
    unacked_packet *unacked; /* STREAM_WINDOW of them, a ring: packet `acked' at unacked_head */
    size_t unacked_head;
    int recoveries; /* pipeline recoveries of the block being written */
    size_t bad;     /* after STREAM_PIPELINE_FAILED: the index in nodes of the culprit
                       * (STREAM_NO_CULPRIT: none) */
    char why[512];  /* ... and what happened */
    uint32_t excluded[STREAM_EXCLUDE_MAX]; /* datanodes that failed this writer */
    size_t nexcluded;
    uint64_t prev_id; /* the last block finished (0: none) and its length */
    uint64_t prev_len;
    ClientMessage *append_env;        /* append: the answer append_block points into */
    const LocatedBlock *append_block; /* WRITER_IDLE after append: the last block,
                                       * continued by the first packet; NULL after */
    uint64_t append_gen_stamp;        /* ... the gen stamp its replicas carry */
    int registered;                   /* known to the renewer (dfs_writer_opened()) */
    int64_t heartbeat_ms;             /* half the datanodes' socket timeout (0: no heartbeats); set
                                * before registration, never changed: read without the lock */
    int64_t last_sent_ms; /* WRITER_BLOCK: when the pipeline last got a frame (monotonic) */
    uint64_t heartbeats;  /* WRITER_BLOCK: heartbeat packets sent and not acknowledged */
    int heartbeat_rc;     /* WRITER_BLOCK: a heartbeat's send failed (the connection may
                                * hold part of a frame): the next writer call recovers */

    /* reader */
    ClientMessage *env; /* the GetBlockLocations answer, which blocks point into */
    LocatedBlock **blocks;
    size_t nblocks;
    uint64_t pos;                   /* position of ember_dfs_read */
    dfs_block_reader seq;           /* ember_dfs_read's connection */
    dfs_block_reader remote_pread;  /* ember_dfs_pread's remote range, kept between calls */
    dfs_short_circuit *sc;          /* local replicas (dfs_short_circuit.c); NULL until used */
    uint32_t dead[STREAM_DEAD_MAX]; /* ranks that failed this stream: tried last */
    size_t ndead;
};

/* Allocates a stream for path in the given state; a writer gets its packet
 * buffer and its ring of unacknowledged packets (their buffers come when
 * first used).  NULL when out of memory.  The caller frees it with
 * dfs_stream_free(). */
ember_dfs_file *dfs_stream_new(ember_dfs *dfs, const char *path, stream_state state);

/* Frees f and everything it holds; closes its connections.  A writer
 * leaves the renewer first (dfs_writer_closed()): the caller must not
 * hold f->lock. */
void dfs_stream_free(ember_dfs_file *f);

/* Asserts the invariants of f's state (after every transition). */
void dfs_stream_check(const ember_dfs_file *f);

/* Fills crcs with the CRC32C of each 512-byte chunk of data; returns how
 * many (room for MESSAGE_PACKET_MAX / 512 is needed). */
size_t dfs_stream_chunk_crcs(const uint8_t *data, size_t len, uint32_t *crcs);

/* Encodes msg as a frame and writes it to fd within DFS_TIMEOUT_MS.  A
 * failure may leave part of the frame sent. */
int dfs_stream_send(int fd, const DataMessage *msg);

/* Closes r's connection and drops its packet (dfs_read_stream.c). */
void dfs_block_reader_reset(dfs_block_reader *r);

#endif
