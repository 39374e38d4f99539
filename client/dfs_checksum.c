/* dfs_checksum.c -- a file's checksum (see include/ember/dfs.h): HDFS's
 * MD5MD5CRC32FileChecksum, computed as DFSClient.getFileChecksum (its
 * FileChecksumHelper.ReplicatedFileChecksumComputer) does, so that equal
 * content written with an equal block size gives Hadoop's value.
 *
 * The client asks the namenode for every block (GetBlockLocations), then
 * each block's checksum from one of its datanodes: it connects to the
 * data port, sends BlockChecksumRequest {block, gen stamp, the block's
 * read token} and reads one frame, a BlockChecksumResponse
 * {bytes_per_crc, crc_per_block, md5 = MD5 of the replica's CRC32Cs} or
 * a DataError.  The replicas are tried in the namenode's order; any
 * failure (no connection, a DataError -- a corrupt replica answers
 * EMBER_ECORRUPT and its datanode has reported it already --, a garbled
 * or implausible answer) moves on to the next, and a block none of whose
 * replicas answers fails the call, as Hadoop's "Fail to get block MD5".
 *
 * The result, as Hadoop builds it:
 *   file MD5      MD5 over the blocks' MD5s (16 bytes each), in order
 *   crcPerBlock   the first block's crc_per_block when the file has more
 *                 than one block, else 0
 *   bytesPerCRC   512 (every block must say so)
 *   bytes         big-endian int32 bytesPerCRC, big-endian int64
 *                 crcPerBlock, the file MD5 (28 bytes: its Writable form)
 *   algorithm     "MD5-of-<crcPerBlock>MD5-of-<bytesPerCRC>CRC32C"
 * A file without blocks (0 bytes) gets what HDFS gives since HDFS-4090:
 * bytesPerCRC 0, crcPerBlock 0, MD5 of 32 zero bytes, and the name of the
 * Gzip CRC type, "MD5-of-0MD5-of-0CRC32". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/error.h"
#include "dfs_internal.h"
#include "ember/dfs.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define CHECKSUM_BYTES_PER_CRC 512
#define CHECKSUM_MD5_LEN 16
#define CHECKSUM_EMPTY_LEN 32 /* HDFS-4090: the MD5 of this many zero bytes */
#define CHECKSUM_CONNECT_TIMEOUT_MS 10000

/* One block's answer. */
typedef struct {
    uint64_t crc_per_block;
    uint8_t md5[CHECKSUM_MD5_LEN];
} block_md5;

/* MD5 of len bytes into md5; 0 or EMBER_EIO (EMBER_ENOMEM). */
static int checksum_md5(const uint8_t *data, size_t len, uint8_t md5[CHECKSUM_MD5_LEN]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return EMBER_ENOMEM;
    unsigned int n = 0;
    int ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, md5, &n) == 1 &&
             n == CHECKSUM_MD5_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? EMBER_OK : EMBER_EIO;
}

/* Turns the datanode's one answer into *out; a DataError or an answer
 * that does not fit the block is an error with the reason in why. */
static int checksum_take_answer(const LocatedBlock *lb, const DataMessage *msg, block_md5 *out,
                                char *why, size_t whylen) {
    if (msg->body_case == DATA_MESSAGE__BODY_ERROR) {
        snprintf(why, whylen, "%s",
                 msg->error->message[0] ? msg->error->message : ember_strerror(msg->error->code));
        return msg->error->code;
    }
    if (msg->body_case != DATA_MESSAGE__BODY_BLOCK_CHECKSUM_RESULT) {
        snprintf(why, whylen, "unexpected answer");
        return EMBER_EPROTO;
    }
    const BlockChecksumResponse *r = msg->block_checksum_result;
    uint64_t want = (lb->length + CHECKSUM_BYTES_PER_CRC - 1) / CHECKSUM_BYTES_PER_CRC;
    if (r->bytes_per_crc != CHECKSUM_BYTES_PER_CRC || r->crc_per_block != want) {
        snprintf(why, whylen, "answered %u bytes per CRC and %llu CRCs, not %d and %llu",
                 r->bytes_per_crc, (unsigned long long)r->crc_per_block, CHECKSUM_BYTES_PER_CRC,
                 (unsigned long long)want);
        return EMBER_EPROTO;
    }
    out->crc_per_block = r->crc_per_block;
    memcpy(out->md5, r->md5.data, CHECKSUM_MD5_LEN); /* 16 bytes: message.c checked */
    return EMBER_OK;
}

/* Asks location loc of lb for the block's checksum: one request, one
 * answer, then the connection is closed.  0, or an error with the reason
 * in why. */
static int checksum_ask(const LocatedBlock *lb, const DatanodeLocation *loc, block_md5 *out,
                        char *why, size_t whylen) {
    int fd = -1;
    frame_reader *frames = NULL;
    int rc = socket_connect_tcp(loc->host, (int)loc->port, CHECKSUM_CONNECT_TIMEOUT_MS, &fd);
    if (rc != EMBER_OK) {
        snprintf(why, whylen, "cannot connect: %s", ember_strerror(rc));
        return rc;
    }
    BlockChecksumRequest m = BLOCK_CHECKSUM_REQUEST__INIT;
    m.block_id = lb->block_id;
    m.gen_stamp = lb->gen_stamp;
    m.token = lb->token;
    DataMessage dm = DATA_MESSAGE__INIT;
    dm.body_case = DATA_MESSAGE__BODY_BLOCK_CHECKSUM;
    dm.block_checksum = &m;
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t deadline = clock_monotonic_ms() + DFS_TIMEOUT_MS;
    rc = message_encode_data(&dm, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc == EMBER_OK)
        rc = socket_write_all(fd, buf, len, deadline);
    free(buf);
    if (rc == EMBER_OK)
        rc = frame_reader_create(&frames, FRAME_MAX_DEFAULT);
    const uint8_t *payload;
    if (rc == EMBER_OK)
        rc = socket_read_frame(fd, frames, deadline, &payload, &len);
    if (rc != EMBER_OK) {
        snprintf(why, whylen, "no answer: %s", ember_strerror(rc));
    } else {
        DataMessage *msg;
        rc = message_decode_data(payload, len, &msg);
        if (rc != EMBER_OK) {
            snprintf(why, whylen, "malformed answer");
        } else {
            rc = checksum_take_answer(lb, msg, out, why, whylen);
            data_message__free_unpacked(msg, NULL);
        }
    }
    frame_reader_destroy(frames);
    close(fd);
    return rc;
}

/* The checksum of block lb of path from the first of its replicas that
 * gives one.  EMBER_EIO (message set) when none does. */
static int checksum_block(ember_dfs *dfs, const char *path, const LocatedBlock *lb,
                          block_md5 *out) {
    char why[512] = "no live replica";
    int rank = -1;
    for (size_t i = 0; i < lb->n_locations; i++) {
        if (checksum_ask(lb, lb->locations[i], out, why, sizeof(why)) == EMBER_OK)
            return EMBER_OK;
        rank = (int)lb->locations[i]->rank;
    }
    if (rank >= 0)
        dfs_set_error(dfs,
                      "`%s': could not get the checksum of blk_%llu from any datanode "
                      "(last, rank %d: %s)",
                      path, (unsigned long long)lb->block_id, rank, why);
    else
        dfs_set_error(dfs, "`%s': could not get the checksum of blk_%llu: %s", path,
                      (unsigned long long)lb->block_id, why);
    return EMBER_EIO;
}

static void checksum_put_be(uint8_t *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Fills out from its three parts (see the file comment). */
static void checksum_fill(ember_dfs_checksum *out, uint32_t bytes_per_crc, uint64_t crc_per_block,
                          const uint8_t md5[CHECKSUM_MD5_LEN], const char *crc_type) {
    memset(out, 0, sizeof(*out));
    checksum_put_be(out->bytes, bytes_per_crc, 4);
    checksum_put_be(out->bytes + 4, crc_per_block, 8);
    memcpy(out->bytes + 12, md5, CHECKSUM_MD5_LEN);
    out->length = EMBER_DFS_CHECKSUM_LEN;
    snprintf(out->algorithm, sizeof(out->algorithm), "MD5-of-%lluMD5-of-%u%s",
             (unsigned long long)crc_per_block, bytes_per_crc, crc_type);
}

int ember_dfs_get_checksum(ember_dfs *dfs, const char *path, ember_dfs_checksum *out) {
    GetBlockLocationsRequest m = GET_BLOCK_LOCATIONS_REQUEST__INIT;
    m.path = (char *)path;
    m.offset = 0;
    m.length = UINT64_MAX;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS;
    req.get_block_locations = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    if (res->status == NULL) {
        dfs_set_error(dfs, "`%s': the namenode sent no file status", path);
        rc = EMBER_EPROTO;
        goto out;
    }
    if (res->status->is_dir) {
        dfs_set_error(dfs, "`%s': Is a directory", path);
        rc = EMBER_EISDIR;
        goto out;
    }
    /* The blocks within the file's length, as Hadoop asks for [0, length):
     * a block still being written is not part of the file yet. */
    size_t nblocks = 0;
    while (nblocks < res->n_blocks && res->blocks[nblocks]->offset < res->status->length)
        nblocks++;
    uint8_t md5[CHECKSUM_MD5_LEN];
    if (nblocks == 0) {
        uint8_t zeros[CHECKSUM_EMPTY_LEN] = {0};
        if ((rc = checksum_md5(zeros, sizeof(zeros), md5)) == EMBER_OK)
            checksum_fill(out, 0, 0, md5, "CRC32");
        goto out;
    }
    uint8_t *all = malloc(nblocks * CHECKSUM_MD5_LEN);
    if (all == NULL) {
        rc = EMBER_ENOMEM;
        goto out;
    }
    uint64_t crc_per_block = 0;
    for (size_t i = 0; i < nblocks && rc == EMBER_OK; i++) {
        block_md5 b = {0};
        rc = checksum_block(dfs, path, res->blocks[i], &b);
        if (rc != EMBER_OK)
            break;
        if (i == 0 && nblocks > 1)
            crc_per_block = b.crc_per_block;
        memcpy(all + i * CHECKSUM_MD5_LEN, b.md5, CHECKSUM_MD5_LEN);
    }
    if (rc == EMBER_OK && (rc = checksum_md5(all, nblocks * CHECKSUM_MD5_LEN, md5)) == EMBER_OK)
        checksum_fill(out, CHECKSUM_BYTES_PER_CRC, crc_per_block, md5, "CRC32C");
    free(all);
out:
    if (rc == EMBER_ENOMEM)
        dfs_set_error(dfs, "out of memory");
    else if (rc == EMBER_EIO && dfs->error[0] == '\0')
        dfs_set_error(dfs, "`%s': cannot compute an MD5", path);
    client_message__free_unpacked(env, NULL);
    return rc;
}
