/* block_reader.c -- the block store's readers: a FINALIZED replica read
 * with every chunk touched verified against its stored CRC32C, and
 * block_store_verify() (a whole replica checked, for the block scanner).
 *
 * A reader copies the replica's info and opens its own descriptors at
 * open: it may outlive a delete, a reopen or a recovery of the replica and
 * the store itself (it keeps reading the files it opened: a reopen for
 * append copies the meta, so the CRCs it reads stay the ones it opened).
 * A bad meta header is found at open and reported by every read
 * (EMBER_ECORRUPT), so that the caller handles it where it handles a bad
 * chunk.  Reads go by windows of READ_WINDOW_CHUNKS chunks: the data and
 * their CRCs in one pread each.  No transition of the replica is made
 * here. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/checksum.h"
#include "common/error.h"

struct block_reader {
    block_info info;
    int data_fd;
    int meta_fd;
    int header_ok;      /* the meta header checked out at open */
    unsigned char *buf; /* chunk data of ranges not on chunk boundaries */
    size_t buf_cap;
    unsigned char *crcs; /* big-endian CRCs of one window */
    size_t crcs_cap;
};

/* ---- readers ---- */

int block_reader_open(block_store *store, uint64_t block_id, block_reader **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    const replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state != REPLICA_FINALIZED)
        return EMBER_ENOENT;
    const data_dir *dd = &store->dirs[r->dir];
    char path[BLOCK_STORE_PATH_MAX];
    block_reader *rd = calloc(1, sizeof *rd);
    if (rd == NULL)
        return EMBER_ENOMEM;
    rd->info.block_id = r->block_id;
    rd->info.gen_stamp = r->gen_stamp;
    rd->info.length = r->length;
    rd->meta_fd = -1;
    (void)bs_replica_path(path, sizeof path, dd->finalized, r->block_id, 0, 0);
    rd->data_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->data_fd < 0)
        goto fail;
    (void)bs_replica_path(path, sizeof path, dd->finalized, r->block_id, r->gen_stamp, 1);
    rd->meta_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->meta_fd < 0)
        goto fail;
    /* A bad header is reported by every read (EMBER_ECORRUPT), so that the
     * caller handles it where it handles a bad chunk. */
    unsigned char h[META_HEADER_LEN];
    int rc = bs_pread_exact(rd->meta_fd, h, sizeof h, 0);
    if (rc == EMBER_EIO)
        goto fail;
    rd->header_ok = rc == EMBER_OK && bs_meta_header_ok(h);
    *out = rd;
    return EMBER_OK;
fail:
    block_reader_close(rd);
    return EMBER_EIO;
}

void block_reader_close(block_reader *r) {
    if (r == NULL)
        return;
    if (r->data_fd >= 0)
        close(r->data_fd);
    if (r->meta_fd >= 0)
        close(r->meta_fd);
    free(r->buf);
    free(r->crcs);
    free(r);
}

const block_info *block_reader_info(const block_reader *r) { return r != NULL ? &r->info : NULL; }

/* Grows *buf to at least need bytes. */
static int reader_reserve(unsigned char **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return EMBER_OK;
    unsigned char *grown = realloc(*buf, need);
    if (grown == NULL)
        return EMBER_ENOMEM;
    *buf = grown;
    *cap = need;
    return EMBER_OK;
}

/* Bytes [pos, end) of the replica, end <= its length and within one
 * window of chunks, into out: the whole chunks covering them are read
 * (into out itself when they are exactly that range) and checked against
 * their CRCs, read from the meta file in one pread. */
static int reader_window(block_reader *r, unsigned char *out, uint64_t pos, uint64_t end) {
    uint64_t first = pos / BLOCK_CHUNK_SIZE;
    uint64_t astart = first * BLOCK_CHUNK_SIZE;
    uint64_t aend = chunk_count(end) * BLOCK_CHUNK_SIZE;
    if (aend > r->info.length)
        aend = r->info.length;
    size_t bytes = (size_t)(aend - astart), nchunks = (size_t)chunk_count(aend - astart);
    int direct = astart == pos && aend == end;
    if (!direct && reader_reserve(&r->buf, &r->buf_cap, bytes) != EMBER_OK)
        return EMBER_ENOMEM;
    if (reader_reserve(&r->crcs, &r->crcs_cap, 4 * nchunks) != EMBER_OK)
        return EMBER_ENOMEM;
    unsigned char *dst = direct ? out : r->buf;
    int rc = bs_pread_exact(r->data_fd, dst, bytes, astart);
    if (rc == EMBER_OK)
        rc = bs_pread_exact(r->meta_fd, r->crcs, 4 * nchunks, META_HEADER_LEN + 4 * first);
    if (rc != EMBER_OK)
        return rc;
    for (size_t i = 0; i < nchunks; i++) {
        size_t off = i * BLOCK_CHUNK_SIZE;
        size_t n = bytes - off < BLOCK_CHUNK_SIZE ? bytes - off : BLOCK_CHUNK_SIZE;
        if (crc32c(0, dst + off, n) != get_be32(r->crcs + 4 * i))
            return EMBER_ECORRUPT;
    }
    if (!direct)
        memcpy(out, r->buf + (pos - astart), (size_t)(end - pos));
    return EMBER_OK;
}

int block_reader_pread(block_reader *r, void *buf, size_t len, uint64_t offset, size_t *got) {
    if (got != NULL)
        *got = 0;
    if (r == NULL || got == NULL || (buf == NULL && len > 0))
        return EMBER_EINVAL;
    if (offset >= r->info.length || len == 0)
        return EMBER_OK;
    if (!r->header_ok)
        return EMBER_ECORRUPT;
    uint64_t end = len < r->info.length - offset ? offset + len : r->info.length;
    unsigned char *out = buf;
    for (uint64_t pos = offset; pos < end;) {
        uint64_t wend = (pos / BLOCK_CHUNK_SIZE + READ_WINDOW_CHUNKS) * BLOCK_CHUNK_SIZE;
        if (wend > end)
            wend = end;
        int rc = reader_window(r, out + (pos - offset), pos, wend);
        if (rc != EMBER_OK)
            return rc;
        pos = wend;
    }
    *got = (size_t)(end - offset);
    return EMBER_OK;
}

int block_reader_checksums(block_reader *r, uint64_t first, size_t nchunks, uint32_t *out) {
    if (r == NULL || (out == NULL && nchunks > 0))
        return EMBER_EINVAL;
    uint64_t total = chunk_count(r->info.length);
    if (first > total || nchunks > total - first)
        return EMBER_EINVAL;
    if (nchunks == 0)
        return EMBER_OK;
    if (!r->header_ok)
        return EMBER_ECORRUPT;
    unsigned char *bytes = (unsigned char *)out;
    int rc = bs_pread_exact(r->meta_fd, bytes, 4 * nchunks, META_HEADER_LEN + 4 * first);
    if (rc != EMBER_OK)
        return rc;
    /* In place: element i is made of exactly the bytes it is read from. */
    for (size_t i = 0; i < nchunks; i++)
        out[i] = get_be32(bytes + 4 * i);
    return EMBER_OK;
}

int block_store_verify(block_store *store, uint64_t block_id) {
    block_reader *r;
    int rc = block_reader_open(store, block_id, &r);
    if (rc != EMBER_OK)
        return rc;
    size_t window = (size_t)READ_WINDOW_CHUNKS * BLOCK_CHUNK_SIZE;
    unsigned char *buf = malloc(window);
    if (buf == NULL) {
        block_reader_close(r);
        return EMBER_ENOMEM;
    }
    size_t got = 0;
    for (uint64_t off = 0; rc == EMBER_OK && off < r->info.length; off += got)
        rc = block_reader_pread(r, buf, window, off, &got);
    if (rc == EMBER_OK && r->info.length == 0 && !r->header_ok)
        rc = EMBER_ECORRUPT;
    free(buf);
    block_reader_close(r);
    return rc;
}
