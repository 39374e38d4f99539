/* block_serve.c -- a replica's range for a task on another host (or one
 * short-circuit cannot serve), asked by the task's worker over MPI: what
 * is remote goes through the worker (issue 10).
 *
 * A BlockReadRequest carries the task's ReadBlockRequest, with the token
 * the namenode gave it: checked here as for a TCP read (right block, gen
 * stamp and mode, not expired, signed with the cluster secret), then the
 * replica is opened on the loop (the store's index is the loop's).  A
 * pool thread reads the range widened to whole 512-byte chunks --
 * block_reader_pread() checks every chunk against its stored CRC32C --
 * with those CRCs, so that the task checks them again at its end (HDFS's
 * end-to-end checksums).  Back on the loop the answer, BlockReadResponse
 * with the chunks' offset and CRCs, goes with the bytes as its bulk
 * payload (dn_bulk_send(), which owns the buffer until the transfer
 * ends).  Any failure answers with its code and no payload: EMBER_ECORRUPT
 * for a replica that fails its checksums (the task's reader reports it to
 * the namenode and goes to another replica, as over TCP; the block
 * scanner's report names this node too), EMBER_ENOENT for no such replica
 * here or another gen stamp, EMBER_EAUTH for a bad token.
 *
 *   serve states: READING (pool) -> WAITING (the link to the worker is
 *   full; datanode_on_writable()) -> sent (freed; the buffer goes with
 *   the transfer).  READING -> freed with an error answer.
 * At datanode_destroy the pool's done calls free what is out, sending
 * nothing (dn->stopping). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_store.h"
#include "common/auth.h"
#include "common/error.h"
#include "common/log.h"
#include "common/thread_pool.h"
#include "datanode_internal.h"
#include "proto/message.h"

struct dn_block_serve {
    struct dn_block_serve *next; /* dn->serves: those WAITING */
    datanode *dn;
    int dest;
    uint64_t request_id;
    block_reader *reader;
    uint64_t block_id;
    uint64_t start, end; /* the chunks' range in the block */
    uint8_t *buf;        /* end - start bytes read */
    uint32_t *crcs;      /* one per chunk */
    size_t ncrcs;
    int code; /* the pool's verdict */
};

static void serve_free(dn_block_serve *s) {
    if (s->reader != NULL)
        block_reader_close(s->reader);
    free(s->buf);
    free(s->crcs);
    free(s);
}

/* Answers request_id of dest with an error (no payload). */
static void serve_answer_error(datanode *dn, int dest, uint64_t request_id, int code,
                               const char *text) {
    BlockReadResponse r = BLOCK_READ_RESPONSE__INIT;
    r.request_id = request_id;
    r.code = code < 0 ? code : EMBER_EIO;
    r.message = (char *)text;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    msg.block_read_response = &r;
    dn_send(dn, dest, &msg);
}

/* Sends s's range; 0 when sent (or failed for good: s is freed either
 * way), EMBER_EAGAIN when the link to s->dest is full (s kept). */
static int serve_send(dn_block_serve *s) {
    datanode *dn = s->dn;
    BlockReadResponse r = BLOCK_READ_RESPONSE__INIT;
    r.request_id = s->request_id;
    r.offset = s->start;
    r.crcs = s->crcs;
    r.n_crcs = s->ncrcs;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE;
    msg.block_read_response = &r;
    int rc = dn_bulk_send(dn, s->dest, &msg, &s->buf, s->end - s->start);
    if (rc == EMBER_EAGAIN)
        return rc;
    if (rc != EMBER_OK)
        LOG_WARN("datanode: cannot send blk_%" PRIu64 " [%" PRIu64 ", %" PRIu64 ") to rank %d: %s",
                 s->block_id, s->start, s->end, s->dest, ember_strerror(rc));
    serve_free(s);
    return EMBER_OK;
}

/* On a pool thread: the chunks and their CRCs, through s's own reader. */
static void serve_work(void *arg) {
    dn_block_serve *s = arg;
    size_t len = (size_t)(s->end - s->start);
    s->ncrcs = (len + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
    s->buf = malloc(len + 1);
    s->crcs = malloc((s->ncrcs + 1) * sizeof(*s->crcs));
    if (s->buf == NULL || s->crcs == NULL) {
        s->code = EMBER_ENOMEM;
        return;
    }
    size_t got = 0;
    s->code = block_reader_pread(s->reader, s->buf, len, s->start, &got);
    if (s->code == EMBER_OK && got != len)
        s->code = EMBER_ECORRUPT; /* shorter than the index says */
    if (s->code == EMBER_OK)
        s->code = block_reader_checksums(s->reader, s->start / BLOCK_CHUNK_SIZE, s->ncrcs, s->crcs);
}

static void serve_done(void *arg, int ran) {
    dn_block_serve *s = arg;
    datanode *dn = s->dn;
    block_reader_close(s->reader);
    s->reader = NULL;
    if (dn->stopping || !ran) {
        serve_free(s);
        return;
    }
    if (s->code != EMBER_OK) {
        char text[256];
        if (s->code == EMBER_ECORRUPT) {
            snprintf(text, sizeof(text),
                     "checksum error: replica of blk_%" PRIu64 " on rank %d is corrupt", s->block_id,
                     dn->rank);
            LOG_WARN("datanode: replica of blk_%" PRIu64 " is corrupt (chunks in [%" PRIu64
                     ", %" PRIu64 ")); rank %d told",
                     s->block_id, s->start, s->end, s->dest);
        } else {
            snprintf(text, sizeof(text), "cannot read blk_%" PRIu64 " on rank %d: %s", s->block_id,
                     dn->rank, ember_strerror(s->code));
            LOG_WARN("datanode: %s", text);
        }
        serve_answer_error(dn, s->dest, s->request_id, s->code, text);
        serve_free(s);
        return;
    }
    if (serve_send(s) == EMBER_EAGAIN) {
        s->next = dn->serves;
        dn->serves = s;
    }
}

/* Checks req and opens its replica: 0 with *reader and the chunks'
 * [*start, *end), else the code with the reason in text. */
static int serve_open(datanode *dn, const ReadBlockRequest *req, block_reader **reader,
                      uint64_t *start, uint64_t *end, char *text, size_t textlen) {
    char why[160];
    if (dn->secret == NULL) {
        snprintf(text, textlen, "rank %d is not registered yet", dn->rank);
        return EMBER_EAGAIN;
    }
    if (!dn_token_ok(dn, req->token, req->block_id, req->gen_stamp, AUTH_TOKEN_READ, why,
                     sizeof(why))) {
        snprintf(text, textlen, "access to blk_%" PRIu64 " denied: %s", req->block_id, why);
        return EMBER_EAUTH;
    }
    int rc = block_reader_open(dn->store, req->block_id, reader);
    if (rc != EMBER_OK) {
        if (rc == EMBER_ENOENT)
            snprintf(text, textlen, "no replica of blk_%" PRIu64 " on rank %d", req->block_id,
                     dn->rank);
        else
            snprintf(text, textlen, "cannot open blk_%" PRIu64 " on rank %d: %s", req->block_id,
                     dn->rank, ember_strerror(rc));
        return rc;
    }
    const block_info *info = block_reader_info(*reader);
    if (info->gen_stamp != req->gen_stamp) {
        snprintf(text, textlen,
                 "replica of blk_%" PRIu64 " on rank %d has gen stamp %" PRIu64 ", not %" PRIu64,
                 req->block_id, dn->rank, info->gen_stamp, req->gen_stamp);
        rc = EMBER_ENOENT;
    } else if (req->offset >= info->length || req->length == 0) {
        snprintf(text, textlen,
                 "range [%" PRIu64 ", +%" PRIu64 ") is not in blk_%" PRIu64 " (%" PRIu64 " bytes)",
                 req->offset, req->length, req->block_id, info->length);
        rc = EMBER_EINVAL;
    }
    if (rc != EMBER_OK) {
        block_reader_close(*reader);
        *reader = NULL;
        return rc;
    }
    uint64_t len = req->length < MESSAGE_BLOCK_READ_MAX ? req->length : MESSAGE_BLOCK_READ_MAX;
    uint64_t stop = len < info->length - req->offset ? req->offset + len : info->length;
    *start = req->offset / BLOCK_CHUNK_SIZE * BLOCK_CHUNK_SIZE;
    uint64_t aligned = (stop + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE * BLOCK_CHUNK_SIZE;
    *end = aligned < info->length ? aligned : info->length;
    if (*end - *start > MESSAGE_BLOCK_READ_MAX) /* widened past the cap: whole chunks up to it */
        *end = *start + MESSAGE_BLOCK_READ_MAX;
    return EMBER_OK;
}

/* See datanode_internal.h. */
void dn_block_serve_start(datanode *dn, int source, const BlockReadRequest *req) {
    const ReadBlockRequest *rr = req->read;
    char text[320];
    block_reader *reader = NULL;
    uint64_t start = 0, end = 0;
    int rc = serve_open(dn, rr, &reader, &start, &end, text, sizeof(text));
    dn_block_serve *s = NULL;
    if (rc == EMBER_OK && (s = calloc(1, sizeof(*s))) == NULL) {
        block_reader_close(reader);
        rc = EMBER_ENOMEM;
        snprintf(text, sizeof(text), "rank %d is out of memory", dn->rank);
    }
    if (rc != EMBER_OK) {
        LOG_INFO("datanode: read for rank %d refused: %s", source, text);
        serve_answer_error(dn, source, req->request_id, rc, text);
        return;
    }
    s->dn = dn;
    s->dest = source;
    s->request_id = req->request_id;
    s->reader = reader;
    s->block_id = rr->block_id;
    s->start = start;
    s->end = end;
    LOG_DEBUG("datanode: reading blk_%" PRIu64 " [%" PRIu64 ", %" PRIu64 ") for rank %d",
              s->block_id, start, end, source);
    if (thread_pool_submit(dn->disk_pool, serve_work, serve_done, s) != EMBER_OK) {
        serve_answer_error(dn, source, req->request_id, EMBER_ENOMEM, "cannot queue the read");
        serve_free(s);
    }
}

/* See datanode_internal.h. */
void dn_block_serve_writable(datanode *dn, int dest) {
    dn_block_serve **p = &dn->serves;
    while (*p != NULL) {
        dn_block_serve *s = *p;
        if (s->dest != dest) {
            p = &s->next;
            continue;
        }
        *p = s->next;
        if (serve_send(s) == EMBER_EAGAIN) {
            s->next = *p;
            *p = s;
            return; /* still full: the rest wait too */
        }
    }
}

/* See datanode_internal.h. */
void dn_block_serve_stop(datanode *dn) {
    while (dn->serves != NULL) {
        dn_block_serve *s = dn->serves;
        dn->serves = s->next;
        serve_free(s);
    }
}
