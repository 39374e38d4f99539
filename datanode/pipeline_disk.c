/* pipeline_disk.c -- the write pipeline's disk work off the loop's thread
 * (issue 8: the loop never blocks on a disk).
 *
 * The fsync of an hsync packet and the finalize of a last packet -- the
 * fsyncs of sync on close, the links into finalized/, the directory
 * fsyncs -- run as block writer jobs (block_store.h, "Jobs") on the
 * datanode's thread pool (common/thread_pool.h, DN_DISK_THREADS threads),
 * as the namenode runs its edit log's fsyncs.  The packet's window entry
 * waits (disk_wait) while its job is out; the completion comes back to the
 * loop's thread (disk_done()), which applies the outcome to the store and
 * only then lets the entry be acked upstream -- after the entries before
 * it, and once downstream acked it too -- and, for a finalize, sends
 * BlockReceived.  So an ack, and the primary's count of a replica, still
 * mean what they meant when the loop did the work itself: the client's ack
 * of an hsync packet means every node fsynced it, and a BlockReceived that
 * the replica is finalized.
 *
 * A job belongs to a pipeline by the pipeline's id, which is never
 * reused; a pipeline that ended meanwhile (failed, stopped by a recovery)
 * leaves its job to finish alone: an hsync job holds duplicates of the
 * writer's descriptors, so the writer may be detached under it; a
 * finalize job owns the writer, and its replica is finalized all the same
 * (and reported), as it would have been had the loop done it before the
 * pipeline ended.
 *
 * While a finalize job of a block is out, the replica is WRITING in the
 * store: neither being written by a pipeline nor finalized yet.  Messages
 * about the block that need it settled -- a PipelinePacket setting up a
 * new pipeline of it (an append, a pipeline recovery), InitReplicaRecovery,
 * UpdateReplica, a client's WriteBlockRequest (its connection paused) --
 * wait in the job (dn_pipeline_defer(), dn_pipeline_defer_client()) and
 * are handled in their order once it is done: they then see the
 * finalized replica, as before.
 *
 * When the pool cannot take a job, or there is no memory for one, the
 * work is done on the loop's thread as before: slower, never wrong.  At
 * destroy (dn_disk_stop()) the jobs out finish, their outcome reaches the
 * store, and nothing is sent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/error.h"
#include "common/log.h"
#include "common/thread_pool.h"
#include "datanode_internal.h"
#include "pipeline_internal.h"
#include "proto/message.h"

#define DN_DISK_THREADS 1 /* one: the jobs run, and finish, in the order they were made */

/* A message waiting for a finalize: a packed RankMessage from source, or
 * (source -1) the write request of data port connection conn_id. */
typedef struct dn_deferred {
    int source;
    uint64_t conn_id;
    uint8_t *bytes;
    size_t len;
    struct dn_deferred *next;
} dn_deferred;

typedef struct dn_disk_job {
    datanode *dn;
    block_writer_job *job; /* the block store's part */
    int finalize;          /* else an hsync */
    uint64_t pipe_id;      /* the pipeline it is for (dn_pipeline.id) */
    uint64_t block_id, gen_stamp, seqno;
    char from[80];         /* finalize: who sent the block, for the log */
    dn_deferred *deferred; /* finalize: what waits for it, oldest first */
    dn_deferred **deferred_end;
    struct dn_disk_job *next; /* dn->disk_jobs */
} dn_disk_job;

int dn_disk_start(datanode *dn) {
    return thread_pool_create(dn->loop, DN_DISK_THREADS, &dn->disk_pool);
}

void dn_disk_stop(datanode *dn) {
    dn->stopping = 1;
    thread_pool_destroy(dn->disk_pool); /* the done callbacks of the jobs out run here */
    dn->disk_pool = NULL;
}

static void disk_job_free(dn_disk_job *j) {
    while (j->deferred != NULL) {
        dn_deferred *d = j->deferred;
        j->deferred = d->next;
        free(d->bytes);
        free(d);
    }
    free(j);
}

/* Who sends p's packets, for the log: "client HOST:PORT", "rank N", or
 * "rank N (K packets as bulk payloads)". */
static void disk_from(const dn_pipeline *p, char *out, size_t len) {
    if (p->conn != NULL)
        snprintf(out, len, "client %s", dn_transfer_peer(p->conn));
    else if (p->bulk_packets > 0)
        snprintf(out, len, "rank %d (%u packets as bulk payloads)", p->upstream_rank,
                 p->bulk_packets);
    else
        snprintf(out, len, "rank %d", p->upstream_rank);
}

/* A job record for p's packet seqno (its block writer job comes later);
 * NULL when out of memory. */
static dn_disk_job *disk_job_new(datanode *dn, const dn_pipeline *p, uint64_t seqno, int finalize) {
    dn_disk_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->dn = dn;
    j->finalize = finalize;
    j->pipe_id = p->id;
    j->block_id = p->block_id;
    j->gen_stamp = p->gen_stamp;
    j->seqno = seqno;
    j->deferred_end = &j->deferred;
    disk_from(p, j->from, sizeof(j->from));
    return j;
}

/* A finalize's outcome (rc, the final length): logged and reported, or p
 * (NULL when it ended) failed.  Returns rc; p is freed on a failure. */
static int disk_finalized(datanode *dn, dn_pipeline *p, const dn_disk_job *j, int rc,
                          uint64_t length) {
    if (rc != EMBER_OK && p != NULL) {
        dn_pipeline_fail(dn, p, j->seqno, dn->rank, "finalize failed: %s", ember_strerror(rc));
    } else if (rc != EMBER_OK) {
        LOG_WARN("datanode: finalize of blk_%" PRIu64 " gs %" PRIu64
                 " failed: %s; replica kept for recovery",
                 j->block_id, j->gen_stamp, ember_strerror(rc));
    } else {
        LOG_INFO("datanode: received blk_%" PRIu64 " gs %" PRIu64 " (%" PRIu64 " bytes) from %s",
                 j->block_id, j->gen_stamp, length, j->from);
        if (!dn->stopping)
            dn_send_block_received(dn, j->block_id, j->gen_stamp, length);
    }
    return rc;
}

/* An hsync's outcome: p (NULL when it ended) failed on an error.
 * Returns rc; p is freed on a failure. */
static int disk_synced(datanode *dn, dn_pipeline *p, const dn_disk_job *j, int rc) {
    if (rc != EMBER_OK && p != NULL)
        dn_pipeline_fail(dn, p, j->seqno, dn->rank, "hsync of packet %" PRIu64 " failed: %s",
                         j->seqno, ember_strerror(rc));
    else if (rc == EMBER_OK)
        LOG_DEBUG("datanode: hsync of blk_%" PRIu64 " (packet %" PRIu64 ") done", j->block_id,
                  j->seqno);
    return rc;
}

/* Applies j's block writer job (run already) on the loop's thread. */
static int disk_apply(datanode *dn, dn_pipeline *p, dn_disk_job *j) {
    uint64_t length = 0;
    int rc = block_writer_job_finish(j->job, p != NULL ? p->writer : NULL, &length);
    j->job = NULL;
    return j->finalize ? disk_finalized(dn, p, j, rc, length) : disk_synced(dn, p, j, rc);
}

/* Handles, in their order, the messages that waited for j (dropped at
 * destroy). */
static void disk_replay(datanode *dn, dn_disk_job *j) {
    for (dn_deferred *d = j->deferred; d != NULL && !dn->stopping; d = d->next) {
        if (d->source < 0) {
            dn_transfer_request_ready(dn, d->conn_id);
            continue;
        }
        RankMessage *msg = NULL;
        if (message_decode_rank(d->bytes, d->len, &msg) == EMBER_OK) {
            datanode_dispatch(dn, d->source, msg, NULL);
            rank_message__free_unpacked(msg, NULL);
        }
    }
}

static void disk_work(void *arg) {
    dn_disk_job *j = arg;
    block_writer_job_run(j->job);
}

/* On the loop's thread once the job ran (ran 0: cancelled at destroy, it
 * runs here). */
static void disk_done(void *arg, int ran) {
    dn_disk_job *j = arg;
    datanode *dn = j->dn;
    if (!ran)
        block_writer_job_run(j->job);
    for (dn_disk_job **at = &dn->disk_jobs; *at != NULL; at = &(*at)->next) {
        if (*at == j) {
            *at = j->next;
            break;
        }
    }
    dn_pipeline *p = dn_pipeline_find(dn, j->block_id);
    if (p != NULL && p->id != j->pipe_id)
        p = NULL; /* another pipeline of the block: this one ended */
    if (disk_apply(dn, p, j) == EMBER_OK && p != NULL)
        dn_pipeline_disk_done(dn, p, j->seqno); /* may free p */
    disk_replay(dn, j);
    disk_job_free(j);
}

/* Puts j on the pool with its block writer job, p's newest entry waiting
 * for it; returns 1.  When the pool refuses, runs it here and returns its
 * outcome (0, or the failure: p freed). */
static int disk_submit(datanode *dn, dn_pipeline *p, dn_disk_job *j) {
    if (thread_pool_submit(dn->disk_pool, disk_work, disk_done, j) != EMBER_OK) {
        block_writer_job_run(j->job);
        int rc = disk_apply(dn, p, j);
        disk_job_free(j);
        return rc;
    }
    j->next = dn->disk_jobs;
    dn->disk_jobs = j;
    p->window[(p->head + p->count - 1) % DN_PIPELINE_WINDOW].disk_wait = 1;
    return 1;
}

/* See pipeline_internal.h. */
int dn_pipeline_disk_sync(datanode *dn, dn_pipeline *p, uint64_t seqno) {
    dn_disk_job *j = disk_job_new(dn, p, seqno, 0);
    int rc = j != NULL ? block_writer_sync_begin(p->writer, &j->job) : EMBER_ENOMEM;
    if (rc == EMBER_OK)
        return disk_submit(dn, p, j);
    free(j);
    if (rc == EMBER_ENOMEM) /* no job: on this thread, as before */
        rc = block_writer_sync(p->writer);
    if (rc != EMBER_OK)
        dn_pipeline_fail(dn, p, seqno, dn->rank, "hsync of packet %" PRIu64 " failed: %s", seqno,
                         ember_strerror(rc));
    return rc;
}

/* See pipeline_internal.h. */
int dn_pipeline_disk_finalize(datanode *dn, dn_pipeline *p, uint64_t seqno, int sync) {
    dn_disk_job *j = disk_job_new(dn, p, seqno, 1);
    block_writer *w = p->writer;
    int rc = j != NULL ? block_writer_finalize_begin(w, sync, &j->job) : EMBER_ENOMEM;
    if (rc == EMBER_OK) {
        p->writer = NULL; /* the job's */
        p->state = PIPE_DRAINING;
        return disk_submit(dn, p, j);
    }
    free(j);
    /* No memory for a job: on this thread, as before. */
    if (sync && (rc = block_writer_sync(w)) != EMBER_OK) {
        dn_pipeline_fail(dn, p, seqno, dn->rank, "hsync of packet %" PRIu64 " failed: %s", seqno,
                         ember_strerror(rc));
        return rc;
    }
    dn_disk_job local = {
        .finalize = 1, .block_id = p->block_id, .gen_stamp = p->gen_stamp, .seqno = seqno};
    disk_from(p, local.from, sizeof(local.from));
    uint64_t length = 0;
    rc = block_writer_finalize(w, &length);
    p->writer = NULL; /* freed by finalize, whatever the result */
    p->state = PIPE_DRAINING;
    return disk_finalized(dn, p, &local, rc, length);
}

/* The newest finalize job of block_id out, or NULL. */
static dn_disk_job *disk_finalize_of(const datanode *dn, uint64_t block_id) {
    for (dn_disk_job *j = dn->disk_jobs; j != NULL; j = j->next)
        if (j->finalize && j->block_id == block_id)
            return j;
    return NULL;
}

/* Appends d to what waits for j. */
static void disk_defer(dn_disk_job *j, dn_deferred *d) {
    *j->deferred_end = d;
    j->deferred_end = &d->next;
}

/* See datanode_internal.h. */
int dn_pipeline_defer(datanode *dn, int source, const RankMessage *msg, uint64_t block_id) {
    dn_disk_job *j = disk_finalize_of(dn, block_id);
    if (j == NULL)
        return 0;
    dn_deferred *d = calloc(1, sizeof(*d));
    size_t len = rank_message__get_packed_size(msg);
    if (d == NULL || (d->bytes = malloc(len + 1)) == NULL) {
        free(d);
        return 0; /* handled now: at worst refused, as for a replica being written */
    }
    d->len = rank_message__pack(msg, d->bytes);
    d->source = source;
    disk_defer(j, d);
    LOG_DEBUG("datanode: %s of blk_%" PRIu64 " from rank %d waits for its finalize",
              message_rank_name(msg), block_id, source);
    return 1;
}

/* See datanode_internal.h. */
int dn_pipeline_defer_client(datanode *dn, uint64_t block_id, uint64_t conn_id) {
    dn_disk_job *j = disk_finalize_of(dn, block_id);
    dn_deferred *d = j != NULL ? calloc(1, sizeof(*d)) : NULL;
    if (d == NULL)
        return 0;
    d->source = -1;
    d->conn_id = conn_id;
    disk_defer(j, d);
    return 1;
}
