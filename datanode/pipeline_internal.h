/* pipeline_internal.h -- what pipeline.c, pipeline_setup.c and
 * pipeline_disk.c share: the layout of a write pipeline (struct
 * dn_pipeline, its ack window) and the functions they call of each
 * other.  The pipeline's states, transitions and invariants are in
 * pipeline.c's file comment; dn_pipeline_check() asserts them.  Private
 * to those three files. */
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
    PIPE_DRAINING,  /* last packet written, its finalize begun; waiting for it and the acks */
} pipe_state;

typedef struct {
    uint64_t seqno;
    int heartbeat;   /* a heartbeat packet's entry (its ack is marked so) */
    int64_t sent_ms; /* when it arrived to go downstream (monotonic) */
    uint8_t *held;   /* not yet forwarded: the packed Packet without its data (owned) */
    size_t held_len;
    uint8_t *held_data; /* ... and its data (owned; NULL for an empty packet) */
    size_t held_data_len;
    int disk_wait; /* its hsync or finalize runs on the pool (pipeline_disk.c) */
} pipe_entry;

struct dn_pipeline {
    uint64_t id; /* never reused: a disk job finds its pipeline by it */
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
    size_t acked_down;            /* the first `acked_down' entries downstream acked */
    size_t held;                  /* the last `held' entries wait to be forwarded */
    int64_t upstream_deadline_ms; /* RECEIVING: the next packet is due by then */
    int64_t ack_timeout_ms;       /* how long a forwarded packet may wait */
    int client_paused;            /* the client's socket is not read: packets are held */
    unsigned pauses;              /* ... how many times, for the log */
    unsigned bulk_packets;        /* packets whose data came as a bulk payload, for the log */
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

/* Acks upstream, oldest first, the entries of p's window nothing holds
 * back any more (downstream acked them, or there is no downstream, and no
 * disk job of theirs is out), and ends p when it is DRAINING with an
 * empty window (success).  p may be freed on return. */
void dn_pipeline_ack_ready(datanode *dn, dn_pipeline *p);

/* The disk job of p's packet seqno is done: its entry no longer waits,
 * and what is ready is acked (dn_pipeline_ack_ready(); p may be
 * freed). */
void dn_pipeline_disk_done(datanode *dn, dn_pipeline *p, uint64_t seqno);

/* ---- pipeline_disk.c ---- */

/* Starts the hsync of p's packet seqno, the newest entry of its window:
 * its files are fsynced on the pool while p goes on, and the entry waits
 * (disk_wait) until that is done.  Returns 1 when the job is out, 0 when
 * it was done here (no memory for a job: synced on this thread), or the
 * failure, after which p is freed. */
int dn_pipeline_disk_sync(datanode *dn, dn_pipeline *p, uint64_t seqno);

/* Starts the finalize of p, whose last packet, seqno, is the newest
 * entry of its window: the writer goes to the job (p->writer NULL, p
 * DRAINING) and the entry waits until the replica is finalized --
 * BlockReceived is sent then.  sync: the packet asked for hsync (fsynced
 * whatever sync on close says).  Returns as dn_pipeline_disk_sync(). */
int dn_pipeline_disk_finalize(datanode *dn, dn_pipeline *p, uint64_t seqno, int sync);

#endif
