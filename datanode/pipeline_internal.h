/* pipeline_internal.h -- what pipeline.c and pipeline_setup.c share: the
 * layout of a write pipeline (struct dn_pipeline, its ack window) and the
 * few functions both call.  The pipeline's states, transitions and
 * invariants are in pipeline.c's file comment; dn_pipeline_check()
 * asserts them.  Private to those two files. */
#ifndef EMBER_PIPELINE_INTERNAL_H
#define EMBER_PIPELINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "block_store.h"
#include "datanode_internal.h"

#define DN_MAX_PIPELINES 4096
#define DN_PIPELINE_WINDOW 128 /* packets awaiting downstream acks */

typedef enum {
    PIPE_RECEIVING, /* packets arrive; writer open */
    PIPE_DRAINING,  /* last packet written and finalized; waiting for acks */
} pipe_state;

typedef struct {
    uint64_t seqno;
    int heartbeat;   /* a heartbeat packet's entry (its ack is marked so) */
    int64_t sent_ms; /* when it arrived to go downstream (monotonic) */
    uint8_t *held;   /* not yet forwarded: the packed Packet (owned); else NULL */
    size_t held_len;
} pipe_entry;

struct dn_pipeline {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t append_gen_stamp; /* an append: the finalized replica's gen stamp; else 0 */
    uint64_t recovery_gs;      /* a pipeline recovery: the lowest gen stamp accepted; else 0 */
    uint64_t recovery_length;  /* ... and the acknowledged length the replica was cut to */
    int transfer;              /* a copy for ReplicateBlock: a partial one is deleted */
    pipe_state state;
    block_writer *writer; /* RECEIVING only */
    dn_conn *conn;        /* the client's connection (first datanode), else NULL */
    int upstream_rank;    /* the previous datanode, -1 with a client */
    uint32_t downstream[DN_MAX_DOWNSTREAM];
    size_t n_downstream;
    uint64_t next_seqno;
    uint64_t length; /* bytes written */
    pipe_entry window[DN_PIPELINE_WINDOW];
    size_t head, count;           /* the window's oldest entry and its size */
    size_t held;                  /* the last `held' entries wait to be forwarded */
    int64_t upstream_deadline_ms; /* RECEIVING: the next packet is due by then */
    int64_t ack_timeout_ms;       /* how long a forwarded packet may wait */
};

/* Asserts p's invariants (pipeline.c's file comment). */
void dn_pipeline_check(const dn_pipeline *p);

/* The pipeline of block_id running here, or NULL. */
dn_pipeline *dn_pipeline_find(const datanode *dn, uint64_t block_id);

/* Forgets p: a writer still open is detached (its replica stays in rbw/,
 * waiting for block recovery, with what was written: a client may have
 * had it acknowledged) -- or aborted for a transfer, whose source still
 * holds the block -- a client connection moves on to CLOSING, p is
 * freed. */
void dn_pipeline_end(datanode *dn, dn_pipeline *p);

/* Fails p: a failed ack for its oldest unacked packet (seqno when none is
 * waiting) goes upstream, naming failed_rank (-1: unknown), then p ends. */
void dn_pipeline_fail(datanode *dn, dn_pipeline *p, uint64_t seqno, int failed_rank,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
