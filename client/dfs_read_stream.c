/* dfs_read_stream.c -- the client library's file reader (see
 * include/ember/dfs.h): HDFS's DFSInputStream.  The stream itself (struct
 * ember_dfs_file, dfs_stream_internal.h) is shared with the writer,
 * dfs_stream.c, which also closes it; a reader stays STREAM_READER for its
 * whole life.
 *
 * ember_dfs_open() fetches the file's length and the locations of
 * all its blocks once.  A dfs_block_reader streams one block range from one
 * datanode: ReadBlockRequest for the rest of the block from the position
 * asked, then packets as the caller consumes them (the first starts on the
 * chunk boundary at or below the position; its head is skipped).  Every
 * chunk's CRC32C is checked.  A mismatch or a DataError{EMBER_ECORRUPT} is
 * reported to the namenode (ReportBadBlock) and, like any other failure,
 * moves to the next location; when none is left the read fails with
 * "could not obtain block blk_N from any datanode".  Datanodes that
 * failed are tried last for the rest of the stream (HDFS's deadNodes),
 * until a block finds no datanode at all.  ember_dfs_read keeps
 * its dfs_block_reader between calls, so sequential reads use one connection
 * per block; a seek outside the packet in hand reopens.  pread uses a
 * dfs_block_reader of its own for the one call and leaves the position and
 * the sequential connection alone.  Before any of that, a read asks
 * dfs_short_circuit.c to serve the bytes from a replica on this host
 * (short-circuit); only what it cannot serve goes over TCP, and a local
 * replica that fails its checksums is handled as a corrupt packet.
 *
 * The application's thread does all the work; the renewer never sees a
 * reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "dfs_internal.h"
#include "dfs_stream_internal.h"
#include "ember/dfs.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define STREAM_RETRY 1 /* internal: the location failed, try another */

/* Closes r's connection; the packet in hand stays. */
static void block_reader_disconnect(dfs_block_reader *r) {
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->remote = 0;
    frame_reader_destroy(r->frames);
    r->frames = NULL;
}

/* Lets go of the data in hand: a packet, or a remote range. */
static void reader_drop_hand(dfs_block_reader *r) {
    if (r->msg != NULL)
        data_message__free_unpacked(r->msg, NULL);
    r->msg = NULL;
    if (r->range.release != NULL)
        r->range.release(&r->range);
    memset(&r->range, 0, sizeof(r->range));
}

/* See dfs_stream_internal.h. */
void dfs_block_reader_reset(dfs_block_reader *r) {
    block_reader_disconnect(r);
    reader_drop_hand(r);
}

/* The data in hand (a packet's or a remote range's): its length, *data. */
static size_t reader_hand(const dfs_block_reader *r, const uint8_t **data) {
    if (r->msg != NULL) {
        *data = r->msg->packet->data.data;
        return r->msg->packet->data.len;
    }
    *data = r->range.data;
    return r->range.release != NULL ? r->range.len : 0;
}

/* The index of the block holding file offset pos (< f->length). */
static size_t reader_find_block(const ember_dfs_file *f, uint64_t pos) {
    size_t lo = 0, hi = f->nblocks; /* the last block with offset <= pos */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->blocks[mid]->offset <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Tells the namenode that the replica of block on rank failed its
 * checksum.  Best effort: the read goes on whatever the answer. */
static void reader_report_bad_block(ember_dfs_file *f, uint64_t block_id, uint32_t rank) {
    ReportBadBlock m = REPORT_BAD_BLOCK__INIT;
    m.block_id = block_id;
    m.rank = rank;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_REPORT_BAD_BLOCK;
    req.report_bad_block = &m;
    ClientMessage *env;
    DfsResult *res;
    if (dfs_call(f->dfs, &req, &env, &res) == EMBER_OK)
        client_message__free_unpacked(env, NULL);
}

/* Whether rank failed earlier in this stream (HDFS's deadNodes). */
static int reader_rank_dead(const ember_dfs_file *f, uint32_t rank) {
    for (size_t i = 0; i < f->ndead; i++)
        if (f->dead[i] == rank)
            return 1;
    return 0;
}

/* Location loc of r's block failed: not again for this block, and last
 * for the rest of the stream. */
static void reader_mark_dead(ember_dfs_file *f, dfs_block_reader *r, size_t loc) {
    uint32_t rank = f->blocks[r->block]->locations[loc]->rank;
    r->dead |= 1u << loc;
    if (!reader_rank_dead(f, rank) && f->ndead < STREAM_DEAD_MAX)
        f->dead[f->ndead++] = rank;
}

/* The location r is reading from failed (corrupt: its replica is bad, and
 * the namenode hears of it).  Returns STREAM_RETRY. */
static int reader_location_failed(ember_dfs_file *f, dfs_block_reader *r, int corrupt) {
    const LocatedBlock *lb = f->blocks[r->block];
    if (corrupt)
        reader_report_bad_block(f, lb->block_id, lb->locations[r->loc]->rank);
    reader_mark_dead(f, r, r->loc);
    block_reader_disconnect(r);
    return STREAM_RETRY;
}

/* Connects r to location loc of its block and asks for the rest of the
 * block from file offset pos (through the remote reader: only chooses
 * loc; reader_next_remote() asks for each range). */
static int reader_try_location(ember_dfs_file *f, dfs_block_reader *r, size_t loc, uint64_t pos) {
    const LocatedBlock *lb = f->blocks[r->block];
    if (f->dfs->remote.read != NULL) {
        r->remote = 1;
        r->loc = loc;
        r->next = pos;
        return EMBER_OK;
    }
    int rc = socket_connect_tcp(lb->locations[loc]->host, (int)lb->locations[loc]->port,
                                STREAM_CONNECT_TIMEOUT_MS, &r->fd);
    if (rc != EMBER_OK)
        return rc;
    if ((rc = frame_reader_create(&r->frames, FRAME_MAX_DEFAULT)) == EMBER_OK) {
        ReadBlockRequest m = READ_BLOCK_REQUEST__INIT;
        m.block_id = lb->block_id;
        m.gen_stamp = lb->gen_stamp;
        m.token = lb->token;
        m.offset = pos - lb->offset;
        m.length = lb->length - m.offset;
        DataMessage dm = DATA_MESSAGE__INIT;
        dm.body_case = DATA_MESSAGE__BODY_READ_BLOCK;
        dm.read_block = &m;
        rc = dfs_stream_send(r->fd, &dm);
    }
    if (rc != EMBER_OK) {
        block_reader_disconnect(r);
        return rc;
    }
    r->loc = loc;
    r->next = pos;
    return EMBER_OK;
}

/* (Re)connects r for block b from file offset pos, trying the locations
 * in the namenode's order: first those that have not failed in this
 * stream, then the others, never one that failed for this block. */
static int reader_connect(ember_dfs_file *f, dfs_block_reader *r, size_t b, uint64_t pos) {
    block_reader_disconnect(r);
    if (r->block != b) {
        r->block = b;
        r->dead = 0;
    }
    const LocatedBlock *lb = f->blocks[b];
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < lb->n_locations; i++) {
            if ((r->dead & (1u << i)) || reader_rank_dead(f, lb->locations[i]->rank) != pass)
                continue;
            if (reader_try_location(f, r, i, pos) == EMBER_OK)
                return EMBER_OK;
            reader_mark_dead(f, r, i);
        }
    }
    r->dead = 0; /* a later call tries them all again */
    f->ndead = 0;
    dfs_set_error(f->dfs, "could not obtain block blk_%llu from any datanode",
                  (unsigned long long)lb->block_id);
    return EMBER_EIO;
}

/* Checks a remote range's chunks against its CRCs: 1 when they match. */
static int reader_range_ok(const dfs_remote_range *rg) {
    if (rg->ncrcs != (rg->len + STREAM_CHUNK - 1) / STREAM_CHUNK)
        return 0;
    uint32_t crcs[MESSAGE_PACKET_MAX / STREAM_CHUNK];
    for (size_t at = 0; at < rg->len; at += MESSAGE_PACKET_MAX) {
        size_t n = rg->len - at < MESSAGE_PACKET_MAX ? rg->len - at : MESSAGE_PACKET_MAX;
        size_t k = dfs_stream_chunk_crcs(rg->data + at, n, crcs);
        if (memcmp(crcs, rg->crcs + at / STREAM_CHUNK, k * sizeof(crcs[0])) != 0)
            return 0;
    }
    return 1;
}

/* Asks the remote reader for the next range of r's block from r->next
 * and makes it the data in hand (checked as a packet is).  STREAM_RETRY
 * when the location failed. */
static int reader_next_remote(ember_dfs_file *f, dfs_block_reader *r) {
    const LocatedBlock *lb = f->blocks[r->block];
    uint64_t off = r->next - lb->offset;
    uint64_t len = lb->length - off < DFS_REMOTE_WINDOW ? lb->length - off : DFS_REMOTE_WINDOW;
    dfs_remote_range rg = {0};
    char why[512];
    int rc = f->dfs->remote.read(f->dfs->remote.arg, lb, lb->locations[r->loc]->rank, off, len,
                                 f->dfs->socket_timeout_ms, &rg, why, sizeof(why));
    if (rc != EMBER_OK)
        return reader_location_failed(f, r, rc == EMBER_ECORRUPT);
    int corrupt = 0;
    if (rg.offset > off || rg.len == 0 || rg.offset + rg.len <= off ||
        rg.len > lb->length - rg.offset || (corrupt = !reader_range_ok(&rg))) {
        rg.release(&rg); /* not the range asked for, or bad on the way */
        return reader_location_failed(f, r, corrupt);
    }
    reader_drop_hand(r); /* the data in hand before */
    r->range = rg;
    r->msg_pos = lb->offset + rg.offset;
    r->next = r->msg_pos + rg.len;
    if (r->next == lb->offset + lb->length)
        block_reader_disconnect(r); /* all of the block is here */
    return EMBER_OK;
}

/* Reads r's next packet, checks it continues the range and its checksums,
 * and makes it the packet in hand.  STREAM_RETRY when the location failed
 * (r is then disconnected). */
static int reader_next_packet(ember_dfs_file *f, dfs_block_reader *r) {
    if (r->remote)
        return reader_next_remote(f, r);
    const LocatedBlock *lb = f->blocks[r->block];
    const uint8_t *payload;
    size_t len;
    DataMessage *msg;
    int rc = socket_read_frame(r->fd, r->frames, clock_monotonic_ms() + f->dfs->socket_timeout_ms,
                               &payload, &len);
    if (rc != EMBER_OK || message_decode_data(payload, len, &msg) != EMBER_OK)
        return reader_location_failed(f, r, 0);
    if (msg->body_case == DATA_MESSAGE__BODY_ERROR) {
        int corrupt = msg->error->code == EMBER_ECORRUPT;
        data_message__free_unpacked(msg, NULL);
        return reader_location_failed(f, r, corrupt);
    }
    const Packet *p = msg->body_case == DATA_MESSAGE__BODY_PACKET ? msg->packet : NULL;
    uint64_t block_end = lb->offset + lb->length;
    uint64_t start = p != NULL ? lb->offset + p->offset : 0;
    if (p == NULL || p->offset > lb->length || p->data.len > lb->length - p->offset ||
        start > r->next || start + p->data.len < r->next ||
        (start + p->data.len == r->next && !p->last) ||
        (p->last && start + p->data.len != block_end)) {
        data_message__free_unpacked(msg, NULL); /* not the range asked for */
        return reader_location_failed(f, r, 0);
    }
    uint32_t crcs[MESSAGE_PACKET_MAX / STREAM_CHUNK];
    size_t n = dfs_stream_chunk_crcs(p->data.data, p->data.len, crcs);
    if (n != p->n_crcs || memcmp(crcs, p->crcs, n * sizeof(crcs[0])) != 0) {
        data_message__free_unpacked(msg, NULL);
        return reader_location_failed(f, r, 1);
    }
    reader_drop_hand(r); /* the data in hand before */
    r->msg = msg;
    r->msg_pos = start;
    r->next = start + p->data.len;
    if (r->next == block_end)
        block_reader_disconnect(r); /* all of the range is here */
    return EMBER_OK;
}

/* Reads up to len bytes at file offset pos through r: from the packet in
 * hand, then from r's connection, (re)connecting when pos is not where it
 * continues.  *got is short only at the end of the file or after a
 * failure (which is then reported by the next call). */
static int reader_read(ember_dfs_file *f, dfs_block_reader *r, uint64_t pos, uint8_t *out,
                       size_t len, size_t *got) {
    size_t done = 0;
    int rc = EMBER_OK;
    if (pos >= f->length)
        len = 0;
    else if (len > f->length - pos)
        len = (size_t)(f->length - pos);
    while (done < len) {
        const uint8_t *hand;
        size_t hand_len = reader_hand(r, &hand);
        if (hand_len > 0 && pos >= r->msg_pos && pos - r->msg_pos < hand_len) {
            size_t off = (size_t)(pos - r->msg_pos);
            size_t n = hand_len - off;
            if (n > len - done)
                n = len - done;
            memcpy(out + done, hand + off, n);
            done += n;
            pos += n;
            continue;
        }
        size_t b = reader_find_block(f, pos);
        size_t local; /* served from a replica on this host, else over TCP below */
        uint32_t bad;
        if (dfs_short_circuit_read(f->dfs, &f->sc, f->blocks[b], pos, out + done, len - done,
                                   &local, &bad) == EMBER_ECORRUPT) {
            reader_report_bad_block(f, f->blocks[b]->block_id, bad); /* as a bad packet: */
            if (!reader_rank_dead(f, bad) && f->ndead < STREAM_DEAD_MAX)
                f->dead[f->ndead++] = bad; /* ... reported, and that node tried last */
        }
        done += local;
        pos += local;
        if (local > 0)
            continue;
        if ((r->fd < 0 && !r->remote) || r->block != b || r->next != pos) {
            if ((rc = reader_connect(f, r, b, pos)) != EMBER_OK)
                break;
        }
        rc = reader_next_packet(f, r);
        if (rc == STREAM_RETRY)
            continue;
        if (rc != EMBER_OK)
            break;
    }
    *got = done;
    if (done > 0 || rc == EMBER_OK) {
        f->dfs->error[0] = '\0';
        return EMBER_OK;
    }
    return rc;
}

/* Checks that blocks cover [0, length) in order, back to back. */
static int reader_check_blocks(const ember_dfs_file *f) {
    uint64_t at = 0;
    for (size_t i = 0; i < f->nblocks; i++) {
        if (f->blocks[i]->offset != at || f->blocks[i]->length > UINT64_MAX - at)
            return EMBER_EPROTO;
        at += f->blocks[i]->length;
    }
    return at >= f->length ? EMBER_OK : EMBER_EPROTO;
}

int ember_dfs_open(ember_dfs *dfs, const char *path, ember_dfs_file **out) {
    ember_dfs_file *f = dfs_stream_new(dfs, path, STREAM_READER);
    if (f == NULL) {
        dfs_set_error(dfs, "out of memory");
        return EMBER_ENOMEM;
    }
    GetBlockLocationsRequest m = GET_BLOCK_LOCATIONS_REQUEST__INIT;
    m.path = (char *)path;
    m.offset = 0;
    m.length = UINT64_MAX;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS;
    req.get_block_locations = &m;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &f->env, &res);
    if (rc != EMBER_OK) {
        f->env = NULL;
        dfs_stream_free(f);
        return rc;
    }
    if (res->status == NULL) {
        dfs_set_error(dfs, "`%s': the namenode sent no file status", path);
        rc = EMBER_EPROTO;
    } else if (res->status->is_dir) {
        dfs_set_error(dfs, "`%s': Is a directory", path);
        rc = EMBER_EISDIR;
    } else {
        f->length = res->status->length;
        f->blocks = res->blocks;
        f->nblocks = res->n_blocks;
        if ((rc = reader_check_blocks(f)) != EMBER_OK)
            dfs_set_error(dfs, "`%s': the namenode's block list does not cover the file", path);
    }
    if (rc != EMBER_OK) {
        dfs_stream_free(f);
        return rc;
    }
    dfs_stream_check(f);
    *out = f;
    return EMBER_OK;
}

int ember_dfs_read(ember_dfs_file *f, void *buf, size_t len, size_t *got) {
    *got = 0;
    if (f->state != STREAM_READER) {
        dfs_set_error(f->dfs, "`%s': not open for reading", f->path);
        return EMBER_ESTATE;
    }
    int rc = reader_read(f, &f->seq, f->pos, buf, len, got);
    f->pos += *got;
    dfs_stream_check(f);
    return rc;
}

int ember_dfs_pread(ember_dfs_file *f, void *buf, size_t len, uint64_t offset, size_t *got) {
    *got = 0;
    if (f->state != STREAM_READER) {
        dfs_set_error(f->dfs, "`%s': not open for reading", f->path);
        return EMBER_ESTATE;
    }
    if (f->dfs->remote.read != NULL) /* a range asked for is kept for the next call */
        return reader_read(f, &f->remote_pread, offset, buf, len, got);
    dfs_block_reader r = {.fd = -1, .block = SIZE_MAX};
    int rc = reader_read(f, &r, offset, buf, len, got);
    dfs_block_reader_reset(&r);
    return rc;
}

int ember_dfs_seek(ember_dfs_file *f, uint64_t offset) {
    if (f->state != STREAM_READER) {
        dfs_set_error(f->dfs, "`%s': cannot seek in a file open for writing", f->path);
        return EMBER_ESTATE;
    }
    if (offset > f->length) {
        dfs_set_error(f->dfs, "Cannot seek after EOF");
        return EMBER_EINVAL;
    }
    f->dfs->error[0] = '\0';
    f->pos = offset; /* the connection is kept: the next read decides */
    return EMBER_OK;
}

uint64_t ember_dfs_file_length(const ember_dfs_file *f) { return f->length; }

void dfs_set_remote_reader(ember_dfs *dfs, const dfs_remote_reader *r) {
    if (r != NULL)
        dfs->remote = *r;
    else
        memset(&dfs->remote, 0, sizeof(dfs->remote));
}
