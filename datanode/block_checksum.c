/* block_checksum.c -- the checksum of one replica for `ember dfs -checksum'
 * (HDFS's OP_BLOCK_CHECKSUM, served by DataXceiver.blockChecksum).
 *
 * A client connects to the data port and sends one BlockChecksumRequest
 * {block_id, gen_stamp, read token}; the datanode answers with one frame
 * and the connection closes like a finished read (transfer_server.c
 * flushes it and lingers).  The answer is a BlockChecksumResponse
 *   bytes_per_crc  512 (BLOCK_CHUNK_SIZE)
 *   crc_per_block  the number of CRCs in the replica's meta file,
 *                  ceil(length / 512)
 *   md5            MD5 over those stored CRC32Cs, each as 4 big-endian
 *                  bytes, in chunk order -- the bytes that follow the
 *                  header of the meta file, as Hadoop digests them
 * or a DataError: EMBER_EAUTH (token refused), EMBER_ENOENT (no finalized
 * replica here, or one of another gen stamp), EMBER_ECORRUPT, or the
 * store's error.  Unlike Hadoop, which digests the meta file alone, the
 * datanode first reads the whole replica and checks every chunk against
 * its stored CRC, so a replica whose data or CRCs were damaged on disk
 * answers EMBER_ECORRUPT (and the client asks another replica) instead of
 * a checksum that no longer describes the data.  A corrupt replica is
 * also reported to the primary as the block scanner reports one
 * (RankMessage.bad_replica): the primary drops it, has it deleted and
 * copies the block again from a good replica.
 *
 * The whole replica is read and checked in one go on the loop thread (up
 * to a block, 128 MiB by default), like the other disk work of the
 * datanode (docs/ARCHITECTURE.md, "Blocking disk work on the loop
 * thread"); it uses dn->scratch as its buffer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "block_store.h"
#include "common/auth.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"

#define CHECKSUM_MD5_LEN 16
#define CHECKSUM_OUTQ_LIMIT (64u * 1024) /* one small frame is all we queue */

/* Feeds n CRCs to the digest as big-endian bytes. */
static int checksum_digest_crcs(EVP_MD_CTX *ctx, const uint32_t *crcs, size_t n) {
    uint8_t be[DN_CHUNKS_MAX * 4];
    for (size_t i = 0; i < n; i++) {
        be[4 * i] = (uint8_t)(crcs[i] >> 24);
        be[4 * i + 1] = (uint8_t)(crcs[i] >> 16);
        be[4 * i + 2] = (uint8_t)(crcs[i] >> 8);
        be[4 * i + 3] = (uint8_t)crcs[i];
    }
    return EVP_DigestUpdate(ctx, be, 4 * n) == 1 ? EMBER_OK : EMBER_EIO;
}

/* Reads all of r's replica through dn->scratch, which verifies every
 * chunk, and digests its stored CRCs into md5; *ncrcs gets their count.
 * EMBER_ECORRUPT when a chunk does not match (or the data file is
 * shorter than the index says), else the store's or the digest's error. */
static int checksum_replica(datanode *dn, block_reader *r, uint64_t *ncrcs,
                            uint8_t md5[CHECKSUM_MD5_LEN]) {
    uint64_t length = block_reader_info(r)->length;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return EMBER_ENOMEM;
    int rc = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 ? EMBER_OK : EMBER_EIO;
    uint32_t crcs[DN_CHUNKS_MAX];
    for (uint64_t pos = 0; rc == EMBER_OK && pos < length;) {
        size_t n =
            length - pos > sizeof(dn->scratch) ? sizeof(dn->scratch) : (size_t)(length - pos);
        size_t nchunks = (n + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
        size_t got = 0;
        rc = block_reader_pread(r, dn->scratch, n, pos, &got);
        if (rc == EMBER_OK && got != n)
            rc = EMBER_ECORRUPT; /* shorter than the index says */
        if (rc == EMBER_OK)
            rc = block_reader_checksums(r, pos / BLOCK_CHUNK_SIZE, nchunks, crcs);
        if (rc == EMBER_OK)
            rc = checksum_digest_crcs(ctx, crcs, nchunks);
        pos += n;
    }
    unsigned int len = 0;
    if (rc == EMBER_OK && (EVP_DigestFinal_ex(ctx, md5, &len) != 1 || len != CHECKSUM_MD5_LEN))
        rc = EMBER_EIO;
    EVP_MD_CTX_free(ctx);
    *ncrcs = (length + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
    return rc;
}

/* Appends one encoded DataMessage frame to out. */
static int checksum_queue(socket_outq *out, const DataMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_outq_append(out, buf, len, CHECKSUM_OUTQ_LIMIT);
    free(buf);
    return rc;
}

static int checksum_queue_error(socket_outq *out, int code, const char *text) {
    DataError err = DATA_ERROR__INIT;
    err.code = code;
    err.message = (char *)text;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_ERROR;
    msg.error = &err;
    return checksum_queue(out, &msg);
}

/* See datanode_internal.h. */
int dn_block_checksum_answer(datanode *dn, const BlockChecksumRequest *req, const char *peer,
                             socket_outq *out) {
    char why[256], text[512];
    uint64_t id = req->block_id;
    if (!dn_token_ok(dn, req->token, id, req->gen_stamp, AUTH_TOKEN_READ, why, sizeof(why))) {
        LOG_WARN("datanode: client %s: checksum of blk_%" PRIu64 " refused: %s", peer, id, why);
        snprintf(text, sizeof(text), "access to blk_%" PRIu64 " denied: %s", id, why);
        return checksum_queue_error(out, EMBER_EAUTH, text);
    }
    block_reader *r = NULL;
    int rc = block_reader_open(dn->store, id, &r);
    if (rc == EMBER_OK && block_reader_info(r)->gen_stamp != req->gen_stamp) {
        snprintf(text, sizeof(text),
                 "replica of blk_%" PRIu64 " on rank %d has gen stamp %" PRIu64 ", not %" PRIu64,
                 id, dn->rank, block_reader_info(r)->gen_stamp, req->gen_stamp);
        LOG_INFO("datanode: client %s: %s", peer, text);
        block_reader_close(r);
        return checksum_queue_error(out, EMBER_ENOENT, text);
    }
    if (rc != EMBER_OK) {
        if (rc == EMBER_ENOENT)
            snprintf(text, sizeof(text), "no replica of blk_%" PRIu64 " on rank %d", id, dn->rank);
        else
            snprintf(text, sizeof(text), "cannot open blk_%" PRIu64 " on rank %d: %s", id, dn->rank,
                     ember_strerror(rc));
        LOG_INFO("datanode: client %s: %s", peer, text);
        return checksum_queue_error(out, rc, text);
    }
    uint64_t ncrcs = 0;
    uint8_t md5[CHECKSUM_MD5_LEN];
    rc = checksum_replica(dn, r, &ncrcs, md5);
    block_reader_close(r);
    if (rc == EMBER_ECORRUPT) {
        LOG_WARN("datanode: replica of blk_%" PRIu64 " gs %" PRIu64
                 " is corrupt (found computing its checksum for client %s); "
                 "reporting it to the primary",
                 id, req->gen_stamp, peer);
        dn_send_bad_replica(dn, id); /* as the block scanner does */
        snprintf(text, sizeof(text),
                 "checksum error: replica of blk_%" PRIu64 " on rank %d is corrupt", id, dn->rank);
        return checksum_queue_error(out, EMBER_ECORRUPT, text);
    }
    if (rc != EMBER_OK) {
        snprintf(text, sizeof(text), "cannot read blk_%" PRIu64 " on rank %d: %s", id, dn->rank,
                 ember_strerror(rc));
        LOG_WARN("datanode: client %s: %s", peer, text);
        return checksum_queue_error(out, rc, text);
    }
    BlockChecksumResponse resp = BLOCK_CHECKSUM_RESPONSE__INIT;
    resp.bytes_per_crc = BLOCK_CHUNK_SIZE;
    resp.crc_per_block = ncrcs;
    resp.md5.data = md5;
    resp.md5.len = sizeof(md5);
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_BLOCK_CHECKSUM_RESULT;
    msg.block_checksum_result = &resp;
    LOG_DEBUG("datanode: client %s: checksum of blk_%" PRIu64 " (%" PRIu64 " CRCs)", peer, id,
              ncrcs);
    return checksum_queue(out, &msg);
}
