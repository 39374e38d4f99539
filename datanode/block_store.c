/* block_store.c -- a datanode's replicas on disk (see block_store.h).
 *
 * Owns, in every configured data directory, current/, current/rbw/ and
 * current/finalized/, and in those two the files named blk_<id> and
 * blk_<id>_<gs>.meta (decimal, no leading zeros: exactly what
 * replica_path() prints).  Other names are never touched.
 *
 * The index.  An open-addressing hash map (linear probing, backward-shift
 * deletion) from block id to a replica record: its state, directory, gen
 * stamp and length, and whether a directory scan listed its files as
 * mismatched (cleared when it is reopened for writing, or by a scan that
 * finds its files whole again).  Every replica in it is in one of
 *   REPLICA_WRITING    a block_writer owns it; its files are in rbw/ and
 *                      its length lives in the writer (0 here)
 *   REPLICA_RBW        its files are in rbw/, fsynced or found at open,
 *                      and no writer has it; length is its valid length
 *   REPLICA_FINALIZED  its files are in finalized/, their directory
 *                      entries fsynced (and the files themselves with
 *                      block_store_set_sync_on_close()) before it got
 *                      this state
 * Transitions: (absent) -> WRITING in block_writer_create(); WRITING ->
 * FINALIZED in block_writer_finalize(); WRITING -> RBW in
 * writer_keep() (block_writer_detach(), a failed finalize, an abort of a
 * reopened writer); WRITING -> (absent) in block_writer_abort() or when
 * the files of a failed writer cannot be checked; FINALIZED -> WRITING in
 * block_writer_reopen(); RBW, FINALIZED -> WRITING (new gen stamp, cut to
 * the acknowledged length) in block_writer_reopen_at() (pipeline
 * recovery); RBW -> FINALIZED and FINALIZED -> FINALIZED (new
 * gen stamp) in block_store_recover(); RBW, FINALIZED -> (absent) in
 * block_store_delete() and, when their files are gone, in
 * block_store_scan(), which also makes (absent) -> FINALIZED for a
 * finalized replica it finds on disk and changes the length of a
 * FINALIZED or RBW one whose files changed (see below).  Only FINALIZED
 * replicas are visible to readers,
 * block_store_list() and used_bytes, which is the sum over them of
 * length + meta_size(length).
 *
 * A writer (block_writer.state):
 *   WRITER_WRITING  data_fd and meta_fd are open; the data file holds
 *                   length bytes; the meta file holds the header and the
 *                   CRCs of the ceil(length / 512) chunks, the last one
 *                   partial_crc, the CRC32C of the partial_len =
 *                   length % 512 bytes of a partial last chunk (each
 *                   append writes it, as HDFS does, so that a crash loses
 *                   no byte the meta could vouch for)
 *   WRITER_FAILED   a write failed part way: the files no longer match
 *                   the counters, so every append fails with EMBER_EIO;
 *                   finalize fails, and the replica's valid length is
 *                   then found by checking the files, as at open
 * The only transition, WRITING -> FAILED, is writer_fail().  A writer's
 * files are fsynced by block_writer_sync() (a client's hsync), and by
 * writer_sync() when it is finalized or detached under sync on close.
 *
 * Moving a replica between rbw/ and finalized/ (replica_move(): finalize,
 * reopen, recovery) makes the new names first -- hard links, or for a
 * reopen a copy of the meta so that readers of the finalized replica keep
 * the CRCs they opened -- fsyncs the target directory, then unlinks the
 * old names (data first) and fsyncs the source.  Whatever a crash leaves,
 * open sorts out: the same block in finalized/ and rbw/ means the move
 * (or the reopen) did not complete on one side, and the finalized
 * replica wins (the rbw names are removed); a meta or a data file alone
 * in rbw/ is removed; one alone in finalized/ is skipped.  Recovery cuts
 * an RBW replica's files before moving them: a crash in between leaves a
 * shorter valid length at worst, and the primary retries.
 *
 * What open indexes.  First, in every directory, finalized/: a block is
 * indexed when it has a data file and a meta file whose size is
 * 16 + 4 * ceil(length / 512); when several metas of one id are there,
 * the one of highest gen stamp with that size.  Anything else -- a data
 * file alone, a meta alone or of the wrong size, an unparsable name -- is
 * left on disk, not indexed, and counted in block_store.skipped (nothing
 * reports it yet; a datanode log line is the intended consumer).  The
 * same id finalized in two directories: the higher gen stamp wins, then
 * the longer replica; the other is skipped the same way.  Meta headers of
 * finalized replicas are checked by readers, not at open, so this costs
 * a directory listing and a stat per file.  Then every directory's rbw/:
 * a block with a data file and a meta (the highest gen stamp; other metas
 * removed) whose header is good is indexed as RBW with its valid length,
 * which costs reading its last verifying chunk and CRC -- unless the block
 * is finalized somewhere, when its rbw files are removed, as are a data
 * file or meta alone and a bad header.  The same id in rbw/ of two
 * directories: the higher gen stamp wins, then the longer; the other is
 * skipped.
 *
 * Failed directories.  A directory is failed when its layout cannot be
 * made or listed at open, or when its rbw leftovers cannot be removed, or
 * when creating, writing, fsyncing or renaming a replica in it fails with
 * an errno that says the disk is gone or read-only
 * (bs_dir_errno_is_failure()).  A full disk (ENOSPC, EDQUOT, EFBIG) is not a
 * failed one: block_writer_create() tries the next directory but does not
 * mark it, and skips a directory with nothing available past the reserve
 * (block_store_set_reserved(), HDFS's dfs.datanode.du.reserved); with no
 * directory left it fails with EMBER_ENOSPC, so the client's pipeline
 * goes on without this node.  A failed directory takes no new replicas nor appends; its
 * replicas stay indexed and readable (each read verifies its checksums
 * anyway).
 *
 * The directory scan (block_store_scan() in block_store_scan.c, HDFS's
 * DirectoryScanner).  It
 * lists every directory's finalized/ and rbw/ (sorted, as open does), then
 * judges every FINALIZED and RBW replica of the index against its own
 * directory's listing: its data file or its meta at its gen stamp gone ->
 * missing (dropped); a FINALIZED one whose data file is not its length or
 * whose meta is not meta_size() of it -> mismatched (corrupt: the index
 * takes the data file's length, so that reads fail on the checksums and a
 * delete removes the right files, and the record's mismatch_reported is
 * set so that it is listed only once, until its files fit each other
 * again); an RBW one whose files are shorter than its valid length ->
 * mismatched, its valid length found again as at open (a bad meta header:
 * missing).  Then, in healthy directories, the finalized replicas open
 * would index (same rules, highest gen stamp, then longest, then the
 * earlier directory) whose id the index lacks or is dropping -> added.
 * Replicas being written, and rbw files the index does not know, are left
 * alone.  Every allocation comes before the first change that would have
 * to be reported (the index is grown for the added ones first), so a scan
 * that runs out of memory changes nothing that the caller is not told
 * about.  A sub-directory that cannot be listed with an errno that says
 * it is broken counts as empty (its directory fails); otherwise it is left
 * alone for this scan.  Cost: a listing and a stat per file, plus the last
 * chunk of an rbw replica found shorter.
 *
 * Ownership: the store owns its writers' index entries, so every writer
 * must be finalized, detached or aborted before block_store_close().
 * Readers hold their own descriptors and a copy of the replica's info:
 * they may outlive a delete, a reopen or a recovery of the replica and
 * the store itself. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/checksum.h"
#include "common/error.h"

#define META_VERSION 1
#define META_CHECKSUM_CRC32C 1
#define READ_WINDOW_CHUNKS 2048 /* a reader verifies up to 1 MiB per pair of preads */
#define APPEND_STACK_CRCS 128   /* a 64 KiB packet's CRCs fit on the stack */
#define INDEX_MIN_CAP 64        /* a power of two */

static const unsigned char meta_magic[8] = {'E', 'M', 'B', 'R', 'M', 'E', 'T', 'A'};

typedef enum {
    WRITER_WRITING, /* appending; the files match the counters */
    WRITER_FAILED,  /* a write failed; only finalize (which fails) or abort */
} writer_state;

struct block_writer {
    block_store *store;
    writer_state state;
    uint64_t block_id;
    uint64_t gen_stamp;
    uint32_t dir;
    int data_fd;
    int meta_fd;
    uint64_t length;
    uint32_t partial_crc; /* CRC32C of the last partial_len bytes */
    size_t partial_len;   /* length % BLOCK_CHUNK_SIZE */
    int reopened;         /* block_writer_reopen(): bytes of a finalized replica */
};

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

/* ---- small helpers ---- */

static void put_be16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint16_t get_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Formats a one-line reason into err (which may be NULL). */
__attribute__((format(printf, 3, 4))) static void store_reason(char *err, size_t errlen,
                                                               const char *fmt, ...) {
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* dir/blk_<id> (meta 0) or dir/blk_<id>_<gs>.meta (meta 1) into out. */
static int replica_path(char *out, size_t outlen, const char *dir, uint64_t id, uint64_t gs,
                        int meta) {
    int len = meta ? snprintf(out, outlen, "%s/blk_%llu_%llu.meta", dir, (unsigned long long)id,
                              (unsigned long long)gs)
                   : snprintf(out, outlen, "%s/blk_%llu", dir, (unsigned long long)id);
    return (len < 0 || (size_t)len >= outlen) ? EMBER_EINVAL : EMBER_OK;
}

/* Parses a decimal u64 as replica_path() prints it: 1 to 20 digits, no
 * leading zero, no overflow.  Returns the first character after it, or
 * NULL when there is no such number at p. */
static const char *parse_u64(const char *p, uint64_t *out) {
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    *out = v;
    return p;
}

/* 1 when name is "blk_<id>" (*is_meta 0) or "blk_<id>_<gs>.meta" (*is_meta
 * 1), 0 for any other name. */
static int parse_replica_name(const char *name, uint64_t *id, uint64_t *gs, int *is_meta) {
    if (strncmp(name, "blk_", 4) != 0)
        return 0;
    const char *p = parse_u64(name + 4, id);
    if (p == NULL)
        return 0;
    if (*p == '\0') {
        *gs = 0;
        *is_meta = 0;
        return 1;
    }
    if (*p != '_' || (p = parse_u64(p + 1, gs)) == NULL || strcmp(p, ".meta") != 0)
        return 0;
    *is_meta = 1;
    return 1;
}

static int pwrite_all(int fd, const void *data, size_t len, uint64_t offset) {
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return EMBER_EIO;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return EMBER_OK;
}

/* Reads exactly len bytes at offset: EMBER_EIO on an error, EMBER_ECORRUPT
 * when the file ends first (it is shorter than the index says). */
static int pread_exact(int fd, void *data, size_t len, uint64_t offset) {
    unsigned char *p = data;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return EMBER_EIO;
        if (n == 0)
            return EMBER_ECORRUPT;
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return EMBER_OK;
}

void block_store_set_sync_on_close(block_store *store, int on) { store->sync_on_close = on; }

void block_store_set_reserved(block_store *store, uint64_t bytes) { store->reserved = bytes; }

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return EMBER_EIO;
    int rc = fsync(fd) == 0 ? EMBER_OK : EMBER_EIO;
    if (rc != EMBER_OK) {
        int saved = errno;
        close(fd);
        errno = saved;
        return rc;
    }
    close(fd);
    return rc;
}

/* Makes dir (mode 0700) when missing and fsyncs parent, so that the
 * directory survives a crash along with what is later put in it. */
static int ensure_dir(const char *dir, const char *parent, char *err, size_t errlen) {
    struct stat st;
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST) {
            store_reason(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            return EMBER_EIO;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            store_reason(err, errlen, "%s is not a directory", dir);
            return EMBER_EIO;
        }
        return EMBER_OK;
    }
    if (fsync_dir(parent) != EMBER_OK) {
        store_reason(err, errlen, "cannot fsync %s: %s", parent, strerror(errno));
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* The parent directory of path into out ("." for a bare name). */
static void parent_of(const char *path, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", path);
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        snprintf(out, outlen, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* 1 when a file operation in a data directory failing with err means the
 * directory is broken (gone, unmounted, read-only, unreadable); 0 for a
 * full disk and for errors that say nothing about the directory. */
int bs_dir_errno_is_failure(int err) {
    switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
    case EIO:
    case ENOENT:
    case ENOTDIR: return 1;
    default: return 0;
    }
}

/* 1 when err says the file system is full (the directory is not broken). */
static int dir_errno_is_space(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }

void bs_dir_fail(block_store *store, uint32_t d) {
    if (!store->dirs[d].failed) {
        store->dirs[d].failed = 1;
        store->nfailed++;
    }
}

/* ---- the index ---- */

static uint64_t index_hash(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

replica *bs_index_find(const block_store *store, uint64_t block_id) {
    size_t mask = store->index_cap - 1;
    for (size_t i = (size_t)index_hash(block_id) & mask;; i = (i + 1) & mask) {
        replica *r = &store->index[i];
        if (r->state == REPLICA_NONE)
            return NULL;
        if (r->block_id == block_id)
            return r;
    }
}

/* Places r in a table known to lack r->block_id and to have room. */
static void index_place(replica *table, size_t cap, const replica *r) {
    size_t mask = cap - 1;
    size_t i = (size_t)index_hash(r->block_id) & mask;
    while (table[i].state != REPLICA_NONE)
        i = (i + 1) & mask;
    table[i] = *r;
}

/* Grows the table (doubling) until want entries keep it at most 70%
 * full, so that that many fit without growing again. */
int bs_index_reserve(block_store *store, size_t want) {
    size_t cap = store->index_cap;
    while (want * 10 > cap * 7)
        cap *= 2;
    if (cap == store->index_cap)
        return EMBER_OK;
    replica *table = calloc(cap, sizeof *table);
    if (table == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < store->index_cap; i++)
        if (store->index[i].state != REPLICA_NONE)
            index_place(table, cap, &store->index[i]);
    free(store->index);
    store->index = table;
    store->index_cap = cap;
    return EMBER_OK;
}

/* Adds r, whose id is not in the index, growing the table past 70% load. */
int bs_index_insert(block_store *store, const replica *r) {
    int rc = bs_index_reserve(store, store->index_count + 1);
    if (rc != EMBER_OK)
        return rc;
    index_place(store->index, store->index_cap, r);
    store->index_count++;
    return EMBER_OK;
}

/* Empties slot, shifting back the entries of its probe run that would
 * otherwise no longer be found. */
void bs_index_remove(block_store *store, replica *slot) {
    size_t mask = store->index_cap - 1;
    size_t i = (size_t)(slot - store->index);
    store->index_count--;
    for (;;) {
        store->index[i].state = REPLICA_NONE;
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (store->index[j].state == REPLICA_NONE)
                return;
            size_t home = (size_t)index_hash(store->index[j].block_id) & mask;
            /* The entry at j stays when its home lies cyclically in (i, j]. */
            int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                store->index[i] = store->index[j];
                i = j;
                break;
            }
        }
    }
}

/* ---- replica files: meta headers, valid lengths, moves ---- */

/* 1 when the 16 bytes at h are the meta header this store writes. */
static int meta_header_ok(const unsigned char *h) {
    return memcmp(h, meta_magic, sizeof meta_magic) == 0 && get_be16(h + 8) == META_VERSION &&
           get_be16(h + 10) == META_CHECKSUM_CRC32C && get_be32(h + 12) == BLOCK_CHUNK_SIZE;
}

/* The longest prefix of the n bytes of chunk whose CRC32C is crc (0 when
 * none): the whole chunk normally; less when the data went on past what
 * the CRC covers (a crash between an append's data and meta writes). */
static size_t chunk_verified_prefix(const unsigned char *chunk, size_t n, uint32_t crc) {
    if (crc32c(0, chunk, n) == crc)
        return n;
    size_t best = 0;
    uint32_t c = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        c = crc32c(c, chunk + i, 1);
        if (c == crc)
            best = i + 1;
    }
    return best;
}

/* The valid length of an rbw replica whose files are open as data_fd and
 * meta_fd: the longest prefix whose every chunk has a CRC in the meta and
 * whose last chunk verifies.  The bytes covered both by the data file and
 * by whole CRCs of the meta are taken, and their last chunk cut to its
 * longest prefix matching its CRC; when none does, the chunk is dropped
 * and the one before is tried.  EMBER_ECORRUPT for a bad or short meta
 * header, EMBER_EIO when a file cannot be read. */
static int rbw_valid_length(int data_fd, int meta_fd, uint64_t *out) {
    struct stat ds, ms;
    if (fstat(data_fd, &ds) != 0 || fstat(meta_fd, &ms) != 0)
        return EMBER_EIO;
    if ((uint64_t)ms.st_size < META_HEADER_LEN)
        return EMBER_ECORRUPT;
    unsigned char h[META_HEADER_LEN], chunk[BLOCK_CHUNK_SIZE], be[4];
    int rc = pread_exact(meta_fd, h, sizeof h, 0);
    if (rc != EMBER_OK)
        return rc;
    if (!meta_header_ok(h))
        return EMBER_ECORRUPT;
    uint64_t ncrcs = ((uint64_t)ms.st_size - META_HEADER_LEN) / 4;
    uint64_t len = (uint64_t)ds.st_size;
    if (chunk_count(len) > ncrcs)
        len = ncrcs * BLOCK_CHUNK_SIZE;
    while (len > 0) {
        uint64_t k = (len - 1) / BLOCK_CHUNK_SIZE;
        size_t n = (size_t)(len - k * BLOCK_CHUNK_SIZE);
        rc = pread_exact(data_fd, chunk, n, k * BLOCK_CHUNK_SIZE);
        if (rc == EMBER_OK)
            rc = pread_exact(meta_fd, be, 4, META_HEADER_LEN + 4 * k);
        if (rc != EMBER_OK)
            return EMBER_EIO; /* within the sizes just taken: the file changed */
        size_t good = chunk_verified_prefix(chunk, n, get_be32(be));
        len = k * BLOCK_CHUNK_SIZE + good;
        if (good > 0)
            break;
    }
    *out = len;
    return EMBER_OK;
}

/* Opens the rbw files of block id (meta of gen stamp gs) in dd and finds
 * their valid length (rbw_valid_length()). */
int bs_rbw_scan(const data_dir *dd, uint64_t id, uint64_t gs, uint64_t *out) {
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    if (replica_path(data_path, sizeof data_path, dd->rbw, id, 0, 0) != EMBER_OK ||
        replica_path(meta_path, sizeof meta_path, dd->rbw, id, gs, 1) != EMBER_OK)
        return EMBER_EIO;
    int data_fd = open(data_path, O_RDONLY | O_CLOEXEC);
    int meta_fd = data_fd >= 0 ? open(meta_path, O_RDONLY | O_CLOEXEC) : -1;
    int rc = meta_fd < 0 ? EMBER_EIO : rbw_valid_length(data_fd, meta_fd, out);
    int saved = errno;
    if (meta_fd >= 0)
        close(meta_fd);
    if (data_fd >= 0)
        close(data_fd);
    errno = saved;
    return rc;
}

/* Copies the file at from into a new file at to and fsyncs it; *out_fd
 * gets the copy open for reading and writing.  On failure nothing is left
 * at to and errno says why. */
static int copy_file(const char *from, const char *to, int *out_fd) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return EMBER_EIO;
    int out = open(to, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = out < 0 ? EMBER_EIO : EMBER_OK;
    unsigned char buf[16384];
    for (uint64_t off = 0; rc == EMBER_OK;) {
        ssize_t n = pread(in, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? EMBER_EIO : EMBER_OK;
            break;
        }
        rc = pwrite_all(out, buf, (size_t)n, off);
        off += (uint64_t)n;
    }
    if (rc == EMBER_OK && fsync(out) != 0)
        rc = EMBER_EIO;
    int saved = errno;
    close(in);
    if (rc != EMBER_OK) {
        if (out >= 0) {
            close(out);
            unlink(to);
        }
        errno = saved;
        return rc;
    }
    *out_fd = out;
    return EMBER_OK;
}

/* Moves the files of block id in directory d from the sub-directory from
 * (gen stamp from_gs in the meta's name) to the sub-directory to (to_gs),
 * in the order the file comment gives: new names (leftovers under them
 * replaced), fsync of to, removal of the old names (data first), fsync of
 * from.  With meta_fd the meta is copied and *meta_fd gets the copy open
 * for reading and writing; without, it is linked.  Returns 0 once the new
 * names are durable -- failing to remove the old ones only fails the
 * directory when errno says it is broken -- or EMBER_EIO with errno (the
 * directory failed when errno says so), the old names untouched and
 * nothing left under the new ones. */
static int replica_move(block_store *store, uint32_t d, uint64_t id, const char *from,
                        uint64_t from_gs, const char *to, uint64_t to_gs, int *meta_fd) {
    char from_data[BLOCK_STORE_PATH_MAX], from_meta[BLOCK_STORE_PATH_MAX];
    char to_data[BLOCK_STORE_PATH_MAX], to_meta[BLOCK_STORE_PATH_MAX];
    if (meta_fd != NULL)
        *meta_fd = -1;
    if (replica_path(from_data, sizeof from_data, from, id, 0, 0) != EMBER_OK ||
        replica_path(from_meta, sizeof from_meta, from, id, from_gs, 1) != EMBER_OK ||
        replica_path(to_data, sizeof to_data, to, id, 0, 0) != EMBER_OK ||
        replica_path(to_meta, sizeof to_meta, to, id, to_gs, 1) != EMBER_OK) {
        errno = ENAMETOOLONG;
        return EMBER_EIO;
    }
    if ((unlink(to_data) != 0 && errno != ENOENT) || (unlink(to_meta) != 0 && errno != ENOENT))
        goto fail;
    if (link(from_data, to_data) != 0)
        goto fail;
    if (meta_fd != NULL ? copy_file(from_meta, to_meta, meta_fd) != EMBER_OK
                        : link(from_meta, to_meta) != 0)
        goto fail;
    if (fsync_dir(to) != EMBER_OK)
        goto fail;
    int bad = 0;
    if (unlink(from_data) != 0 && errno != ENOENT)
        bad = errno;
    if (unlink(from_meta) != 0 && errno != ENOENT)
        bad = errno;
    if (fsync_dir(from) != EMBER_OK)
        bad = errno;
    if (bs_dir_errno_is_failure(bad))
        bs_dir_fail(store, d);
    return EMBER_OK;
fail:;
    int saved = errno;
    if (meta_fd != NULL && *meta_fd >= 0) {
        close(*meta_fd);
        *meta_fd = -1;
    }
    unlink(to_data);
    unlink(to_meta);
    if (bs_dir_errno_is_failure(saved))
        bs_dir_fail(store, d);
    errno = saved;
    return EMBER_EIO;
}

/* ---- opening: layout, indexing finalized/ then rbw/ ---- */

int bs_cmp_found(const void *a, const void *b) {
    const found_file *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    if (x->is_meta != y->is_meta)
        return x->is_meta - y->is_meta;       /* the data file first */
    return (x->gs < y->gs) - (x->gs > y->gs); /* then metas, highest gen stamp first */
}

/* Makes dir, dir/current, rbw and finalized. */
static int dir_layout(data_dir *dd, char *err, size_t errlen) {
    char current[BLOCK_STORE_PATH_MAX], parent[BLOCK_STORE_PATH_MAX];
    snprintf(current, sizeof current, "%s/current", dd->path);
    parent_of(dd->path, parent, sizeof parent);
    int rc = ensure_dir(dd->path, parent, err, errlen);
    if (rc == EMBER_OK)
        rc = ensure_dir(current, dd->path, err, errlen);
    if (rc == EMBER_OK)
        rc = ensure_dir(dd->rbw, current, err, errlen);
    if (rc == EMBER_OK)
        rc = ensure_dir(dd->finalized, current, err, errlen);
    return rc;
}

/* Lists the replica files (regular files with a replica's name) of path,
 * d's finalized/ or rbw/, into *out (malloc'd); entries with a replica's
 * name that are not regular files are counted in *skipped (may be NULL).
 * On EMBER_EIO errno says why the listing failed. */
int bs_dir_list(const char *path, found_file **out, size_t *count, uint64_t *skipped, char *err,
                    size_t errlen) {
    *out = NULL;
    *count = 0;
    DIR *dir = opendir(path);
    if (dir == NULL) {
        int saved = errno;
        store_reason(err, errlen, "cannot list %s: %s", path, strerror(saved));
        errno = saved;
        return EMBER_EIO;
    }
    found_file *files = NULL;
    size_t n = 0, cap = 0;
    int rc = EMBER_OK, saved = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(dir)) != NULL) {
        found_file f;
        struct stat st;
        if (!parse_replica_name(e->d_name, &f.id, &f.gs, &f.is_meta)) {
            errno = 0;
            continue;
        }
        if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            if (skipped != NULL)
                (*skipped)++;
            errno = 0;
            continue;
        }
        f.size = (uint64_t)st.st_size;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            found_file *grown = realloc(files, ncap * sizeof *files);
            if (grown == NULL) {
                rc = EMBER_ENOMEM;
                store_reason(err, errlen, "out of memory listing %s", path);
                break;
            }
            files = grown;
            cap = ncap;
        }
        files[n++] = f;
        errno = 0;
    }
    if (rc == EMBER_OK && errno != 0) {
        saved = errno;
        store_reason(err, errlen, "cannot list %s: %s", path, strerror(saved));
        rc = EMBER_EIO;
    }
    closedir(dir);
    if (rc != EMBER_OK) {
        free(files);
        errno = saved;
        return rc;
    }
    *out = files;
    *count = n;
    return EMBER_OK;
}

/* Indexes the finalized replicas of directory d (see the file comment). */
static int dir_index_finalized(block_store *store, uint32_t d, char *err, size_t errlen) {
    found_file *files;
    size_t n;
    int rc = bs_dir_list(store->dirs[d].finalized, &files, &n, &store->skipped, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (n > 1)
        qsort(files, n, sizeof *files, bs_cmp_found);
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        while (end < n && files[end].id == files[i].id)
            end++;
        /* files[i .. end) share an id: the data file (if any) first. */
        const found_file *data = files[i].is_meta ? NULL : &files[i];
        const found_file *meta = NULL;
        for (size_t k = data ? i + 1 : i; k < end && data != NULL; k++)
            if (files[k].size == meta_size(data->size)) {
                meta = &files[k];
                break;
            }
        store->skipped += (uint64_t)(end - i) - (meta != NULL ? 2 : 0);
        if (meta != NULL) {
            replica r = {.block_id = data->id,
                         .gen_stamp = meta->gs,
                         .length = data->size,
                         .dir = d,
                         .state = REPLICA_FINALIZED};
            replica *old = bs_index_find(store, r.block_id);
            if (old == NULL) {
                rc = bs_index_insert(store, &r);
                if (rc != EMBER_OK) {
                    store_reason(err, errlen, "out of memory indexing %s",
                                 store->dirs[d].finalized);
                    break;
                }
                store->used_bytes += r.length + meta_size(r.length);
            } else {
                /* The same block in an earlier directory: keep the newer. */
                store->skipped += 2;
                if (r.gen_stamp > old->gen_stamp ||
                    (r.gen_stamp == old->gen_stamp && r.length > old->length)) {
                    store->used_bytes -= old->length + meta_size(old->length);
                    store->used_bytes += r.length + meta_size(r.length);
                    *old = r;
                }
            }
        }
        i = end;
    }
    free(files);
    return rc;
}

/* Indexes block id of d's rbw/ as RBW (gen stamp gs, valid length
 * valid); the same id in rbw/ of an earlier directory: the higher gen
 * stamp wins, then the longer, the other is skipped (left on disk). */
static int rbw_index(block_store *store, uint32_t d, uint64_t id, uint64_t gs, uint64_t valid,
                     char *err, size_t errlen) {
    replica r = {.block_id = id, .gen_stamp = gs, .length = valid, .dir = d, .state = REPLICA_RBW};
    replica *old = bs_index_find(store, id);
    if (old == NULL) {
        if (bs_index_insert(store, &r) == EMBER_OK)
            return EMBER_OK;
        store_reason(err, errlen, "out of memory indexing %s", store->dirs[d].rbw);
        return EMBER_ENOMEM;
    }
    assert(old->state == REPLICA_RBW);
    store->skipped += 2;
    if (gs > old->gen_stamp || (gs == old->gen_stamp && valid > old->length))
        *old = r;
    return EMBER_OK;
}

/* Indexes the replicas in d's rbw/ as RBW with their valid lengths, and
 * removes the rbw files that cannot be one: a data file or metas alone,
 * metas other than the highest gen stamp's, a bad meta header, a block
 * finalized in some directory (see the file comment).  Files that cannot
 * be read are skipped.  Runs once every directory's finalized/ is
 * indexed. */
static int dir_index_rbw(block_store *store, uint32_t d, char *err, size_t errlen) {
    const data_dir *dd = &store->dirs[d];
    found_file *files;
    size_t n;
    int rc = bs_dir_list(dd->rbw, &files, &n, &store->skipped, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (n > 1)
        qsort(files, n, sizeof *files, bs_cmp_found);
    size_t removed = 0;
    for (size_t i = 0; i < n && rc == EMBER_OK;) {
        size_t end = i + 1;
        while (end < n && files[end].id == files[i].id)
            end++;
        /* files[i .. end) share an id: the data file (if any), then the
         * metas, highest gen stamp first. */
        uint64_t id = files[i].id;
        const found_file *data = files[i].is_meta ? NULL : &files[i];
        const found_file *meta = data != NULL && i + 1 < end ? &files[i + 1] : NULL;
        const replica *known = bs_index_find(store, id);
        uint64_t valid = 0;
        int keep = 0;
        if (meta != NULL && (known == NULL || known->state == REPLICA_RBW)) {
            int scan = bs_rbw_scan(dd, id, meta->gs, &valid);
            if (scan == EMBER_EIO) {
                store->skipped += (uint64_t)(end - i);
                i = end;
                continue;
            }
            keep = scan == EMBER_OK;
        }
        for (size_t k = i; k < end && rc == EMBER_OK; k++) {
            if (keep && (&files[k] == data || &files[k] == meta))
                continue;
            char path[BLOCK_STORE_PATH_MAX];
            (void)replica_path(path, sizeof path, dd->rbw, id, files[k].gs, files[k].is_meta);
            if (unlink(path) == 0) {
                removed++;
            } else if (errno != ENOENT) {
                store_reason(err, errlen, "cannot remove %s: %s", path, strerror(errno));
                rc = EMBER_EIO;
            }
        }
        if (rc == EMBER_OK && keep)
            rc = rbw_index(store, d, id, meta->gs, valid, err, errlen);
        i = end;
    }
    free(files);
    if (rc == EMBER_OK && removed > 0 && fsync_dir(dd->rbw) != EMBER_OK) {
        store_reason(err, errlen, "cannot fsync %s: %s", dd->rbw, strerror(errno));
        rc = EMBER_EIO;
    }
    return rc;
}

/* Splits dirs at commas (empty items are skipped, as disk_usage does) into
 * store->dirs with their rbw and finalized paths. */
static int store_parse_dirs(block_store *store, const char *dirs, char *err, size_t errlen) {
    int cap = 1;
    for (const char *p = dirs; *p; p++)
        cap += *p == ',';
    store->dirs = calloc((size_t)cap, sizeof *store->dirs);
    store->order = calloc((size_t)cap, sizeof *store->order);
    store->free_bytes = calloc((size_t)cap, sizeof *store->free_bytes);
    if (store->dirs == NULL || store->order == NULL || store->free_bytes == NULL) {
        store_reason(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    const char *p = dirs;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (len > BLOCK_STORE_PATH_MAX - 128) {
                store_reason(err, errlen, "data directory path too long: %.64s...", p);
                return EMBER_EINVAL;
            }
            data_dir *dd = &store->dirs[store->ndirs];
            dd->path = strndup(p, len);
            if (dd->path == NULL) {
                store_reason(err, errlen, "out of memory");
                return EMBER_ENOMEM;
            }
            store->ndirs++;
            for (int i = 0; i + 1 < store->ndirs; i++)
                if (strcmp(store->dirs[i].path, dd->path) == 0) {
                    store_reason(err, errlen, "data directory %s listed twice", dd->path);
                    return EMBER_EINVAL;
                }
            if (asprintf(&dd->rbw, "%s/current/rbw", dd->path) < 0) {
                dd->rbw = NULL;
                store_reason(err, errlen, "out of memory");
                return EMBER_ENOMEM;
            }
            if (asprintf(&dd->finalized, "%s/current/finalized", dd->path) < 0) {
                dd->finalized = NULL;
                store_reason(err, errlen, "out of memory");
                return EMBER_ENOMEM;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (store->ndirs == 0) {
        store_reason(err, errlen, "no data directories configured");
        return EMBER_EINVAL;
    }
    return EMBER_OK;
}

/* On success err is empty, or names the first directory that failed. */
int block_store_open(const char *dirs, block_store **out, char *err, size_t errlen) {
    store_reason(err, errlen, "%s", "");
    if (dirs == NULL || out == NULL) {
        store_reason(err, errlen, "invalid argument");
        return EMBER_EINVAL;
    }
    *out = NULL;
    block_store *store = calloc(1, sizeof *store);
    if (store == NULL) {
        store_reason(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    store->index_cap = INDEX_MIN_CAP;
    store->index = calloc(store->index_cap, sizeof *store->index);
    int rc = store->index == NULL ? EMBER_ENOMEM : EMBER_OK;
    if (rc != EMBER_OK)
        store_reason(err, errlen, "out of memory");
    else
        rc = store_parse_dirs(store, dirs, err, errlen);
    if (rc != EMBER_OK)
        goto fail;

    char why[BLOCK_STORE_PATH_MAX + 128], first_why[BLOCK_STORE_PATH_MAX + 128];
    first_why[0] = '\0';
    /* Two passes: rbw/ once every finalized/ is known, since a block
     * finalized anywhere wins over its rbw files. */
    for (int pass = 0; pass < 2; pass++) {
        for (int d = 0; d < store->ndirs; d++) {
            if (store->dirs[d].failed)
                continue;
            if (pass == 0) {
                rc = dir_layout(&store->dirs[d], why, sizeof why);
                if (rc == EMBER_OK)
                    rc = dir_index_finalized(store, (uint32_t)d, why, sizeof why);
            } else {
                rc = dir_index_rbw(store, (uint32_t)d, why, sizeof why);
            }
            if (rc == EMBER_ENOMEM) {
                store_reason(err, errlen, "%s", why);
                goto fail;
            }
            if (rc != EMBER_OK) {
                bs_dir_fail(store, (uint32_t)d);
                if (first_why[0] == '\0')
                    snprintf(first_why, sizeof first_why, "%s", why);
            }
        }
    }
    if (store->nfailed == store->ndirs) {
        store_reason(err, errlen, "no usable data directory (%d configured): %s", store->ndirs,
                     first_why);
        rc = EMBER_EIO;
        goto fail;
    }
    /* (A directory that fails in the first pass does so before anything
     * of it is indexed; one whose rbw/ fails keeps what it had indexed,
     * as a directory that fails later does.) */
    if (store->nfailed > 0)
        store_reason(err, errlen, "%s", first_why);
    *out = store;
    return EMBER_OK;
fail:
    block_store_close(store);
    return rc;
}

void block_store_close(block_store *store) {
    if (store == NULL)
        return;
    for (int d = 0; d < store->ndirs; d++) {
        free(store->dirs[d].path);
        free(store->dirs[d].rbw);
        free(store->dirs[d].finalized);
    }
    free(store->dirs);
    free(store->order);
    free(store->free_bytes);
    free(store->index);
    free(store);
}

void block_store_dirs(const block_store *store, int *total, int *failed) {
    if (total != NULL)
        *total = store != NULL ? store->ndirs : 0;
    if (failed != NULL)
        *failed = store != NULL ? store->nfailed : 0;
}

uint64_t block_store_used_bytes(const block_store *store) {
    return store != NULL ? store->used_bytes : 0;
}

/* ---- writers ---- */

/* Asserts the invariants of the writer's state. */
static void writer_check(const block_writer *w) {
    (void)w;
    assert(w->state == WRITER_WRITING || w->state == WRITER_FAILED);
    assert(w->state == WRITER_FAILED || (w->data_fd >= 0 && w->meta_fd >= 0));
    assert(w->state == WRITER_FAILED || w->partial_len == w->length % BLOCK_CHUNK_SIZE);
    assert(w->partial_len != 0 || w->partial_crc == 0);
}

/* WRITING -> FAILED; the directory fails too when err says it is broken. */
static void writer_fail(block_writer *w, int err) {
    w->state = WRITER_FAILED;
    if (bs_dir_errno_is_failure(err))
        bs_dir_fail(w->store, w->dir);
    writer_check(w);
}

/* The space of directory d free for replicas: statvfs's available bytes
 * less the reserve, 0 when the reserve takes them all.  EMBER_EIO with
 * errno when statvfs fails. */
static int dir_avail(const block_store *store, int d, uint64_t *avail) {
    struct statvfs vfs;
    if (statvfs(store->dirs[d].rbw, &vfs) != 0)
        return EMBER_EIO;
    uint64_t bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    *avail = bytes > store->reserved ? bytes - store->reserved : 0;
    return EMBER_OK;
}

/* Orders the healthy directories with room by free space, most first (the
 * lower index first on a tie); returns how many there are and, in *full,
 * how many healthy ones have no room (nothing free past the reserve).  A
 * directory statvfs says is gone fails here; one it cannot measure
 * otherwise goes last, and creating the files will tell. */
static int store_order_dirs(block_store *store, int *full) {
    int n = 0;
    *full = 0;
    for (int d = 0; d < store->ndirs; d++) {
        if (store->dirs[d].failed)
            continue;
        uint64_t avail = 0;
        int rc = dir_avail(store, d, &avail);
        if (rc != EMBER_OK && bs_dir_errno_is_failure(errno)) {
            bs_dir_fail(store, (uint32_t)d);
            continue;
        }
        if (rc == EMBER_OK && avail == 0) {
            (*full)++;
            continue;
        }
        /* Insertion sort: a handful of directories. */
        int i = n++;
        while (i > 0 && store->free_bytes[i - 1] < avail) {
            store->order[i] = store->order[i - 1];
            store->free_bytes[i] = store->free_bytes[i - 1];
            i--;
        }
        store->order[i] = d;
        store->free_bytes[i] = avail;
    }
    return n;
}

void block_store_space(block_store *store, uint64_t full_below, disk_usage *out) {
    memset(out, 0, sizeof(*out));
    if (store == NULL)
        return;
    out->dirs = (uint32_t)store->ndirs;
    out->used_bytes = store->used_bytes;
    /* Each file system counted once: the directories of one share it. */
    unsigned long fsids[64];
    int nfs = 0;
    for (int d = 0; d < store->ndirs; d++) {
        struct statvfs vfs;
        if (store->dirs[d].failed) {
            out->failed_dirs++;
            continue;
        }
        if (statvfs(store->dirs[d].rbw, &vfs) != 0)
            continue;
        uint64_t bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        uint64_t avail = bytes > store->reserved ? bytes - store->reserved : 0;
        if (avail < full_below)
            out->full_dirs++;
        int seen = 0;
        for (int i = 0; i < nfs; i++)
            seen |= fsids[i] == vfs.f_fsid;
        if (seen || nfs == 64)
            continue;
        fsids[nfs++] = vfs.f_fsid;
        out->capacity_bytes += (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;
        out->remaining_bytes += avail;
    }
}

/* Creates the rbw files of w in directory w->dir and writes the meta
 * header.  On failure nothing is left and errno says why. */
static int writer_create_files(block_writer *w) {
    const data_dir *dd = &w->store->dirs[w->dir];
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    if (replica_path(data_path, sizeof data_path, dd->rbw, w->block_id, 0, 0) != EMBER_OK ||
        replica_path(meta_path, sizeof meta_path, dd->rbw, w->block_id, w->gen_stamp, 1) !=
            EMBER_OK) {
        errno = ENAMETOOLONG;
        return EMBER_EIO;
    }
    unsigned char header[META_HEADER_LEN];
    memcpy(header, meta_magic, sizeof meta_magic);
    put_be16(header + 8, META_VERSION);
    put_be16(header + 10, META_CHECKSUM_CRC32C);
    put_be32(header + 12, BLOCK_CHUNK_SIZE);
    w->data_fd = open(data_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->data_fd < 0)
        return EMBER_EIO;
    w->meta_fd = open(meta_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->meta_fd >= 0 && pwrite_all(w->meta_fd, header, sizeof header, 0) == EMBER_OK)
        return EMBER_OK;
    int saved = errno;
    if (w->meta_fd >= 0) {
        close(w->meta_fd);
        unlink(meta_path);
        w->meta_fd = -1;
    }
    close(w->data_fd);
    unlink(data_path);
    w->data_fd = -1;
    errno = saved;
    return EMBER_EIO;
}

int block_writer_create(block_store *store, uint64_t block_id, uint64_t gen_stamp,
                        block_writer **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    if (bs_index_find(store, block_id) != NULL)
        return EMBER_EEXIST;
    block_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EMBER_ENOMEM;
    w->store = store;
    w->block_id = block_id;
    w->gen_stamp = gen_stamp;
    w->data_fd = w->meta_fd = -1;
    int full;
    int n = store_order_dirs(store, &full);
    int created = 0;
    for (int i = 0; i < n && !created; i++) {
        w->dir = (uint32_t)store->order[i];
        if (writer_create_files(w) == EMBER_OK)
            created = 1;
        else if (dir_errno_is_space(errno))
            full++;
        else if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, w->dir);
    }
    if (!created) {
        free(w);
        return full > 0 ? EMBER_ENOSPC : EMBER_EIO;
    }
    replica r = {
        .block_id = block_id, .gen_stamp = gen_stamp, .dir = w->dir, .state = REPLICA_WRITING};
    if (bs_index_insert(store, &r) != EMBER_OK) {
        w->state = WRITER_FAILED; /* so that abort only removes the files */
        block_writer_abort(w);
        return EMBER_ENOMEM;
    }
    w->state = WRITER_WRITING;
    writer_check(w);
    *out = w;
    return EMBER_OK;
}

int block_writer_append(block_writer *w, const void *data, size_t len, const uint32_t *crcs,
                        size_t ncrcs) {
    if (w == NULL || (data == NULL && len > 0))
        return EMBER_EINVAL;
    if (w->state == WRITER_FAILED)
        return EMBER_EIO;
    if (crcs != NULL && (w->partial_len != 0 || ncrcs != chunk_count(len)))
        return EMBER_EINVAL;
    if (len == 0)
        return EMBER_OK;
    if (len > UINT64_MAX - w->length)
        return EMBER_EINVAL;

    /* The CRCs of the chunks this call completes, computed (and checked
     * against the sender's) before anything is written. */
    unsigned char stack[(APPEND_STACK_CRCS + 1) * 4], *done = stack;
    size_t max_done = (w->partial_len + len) / BLOCK_CHUNK_SIZE, ndone = 0;
    if (max_done > APPEND_STACK_CRCS && (done = malloc((max_done + 1) * 4)) == NULL)
        return EMBER_ENOMEM;
    const unsigned char *p = data;
    uint32_t crc = w->partial_crc;
    size_t plen = w->partial_len;
    for (size_t off = 0, k = 0; off < len; k++) {
        size_t take = BLOCK_CHUNK_SIZE - plen;
        if (take > len - off)
            take = len - off;
        crc = crc32c(crc, p + off, take);
        off += take;
        plen += take;
        if (crcs != NULL && crc != crcs[k]) {
            if (done != stack)
                free(done);
            return EMBER_ECORRUPT;
        }
        if (plen == BLOCK_CHUNK_SIZE) {
            put_be32(done + 4 * ndone++, crc);
            crc = 0;
            plen = 0;
        }
    }
    /* The partial last chunk's CRC goes in the slot after the complete
     * ones, so that the meta always covers every byte written. */
    size_t nslots = ndone;
    if (plen > 0)
        put_be32(done + 4 * nslots++, crc);
    int rc = pwrite_all(w->data_fd, data, len, w->length);
    if (rc == EMBER_OK && nslots > 0)
        rc = pwrite_all(w->meta_fd, done, 4 * nslots,
                        META_HEADER_LEN + 4 * (w->length / BLOCK_CHUNK_SIZE));
    int saved = errno;
    if (done != stack)
        free(done);
    if (rc != EMBER_OK) {
        writer_fail(w, saved);
        return EMBER_EIO;
    }
    w->length += len;
    w->partial_crc = crc;
    w->partial_len = plen;
    writer_check(w);
    return EMBER_OK;
}

uint64_t block_writer_length(const block_writer *w) { return w != NULL ? w->length : 0; }

int block_writer_sync(block_writer *w) {
    if (w == NULL)
        return EMBER_EINVAL;
    if (w->state == WRITER_FAILED)
        return EMBER_EIO;
    if (fsync(w->data_fd) != 0 || fsync(w->meta_fd) != 0) {
        writer_fail(w, errno);
        return EMBER_EIO;
    }
    return EMBER_OK;
}

/* Closes w's descriptors, removes its index entry and frees it. */
static void writer_free(block_writer *w) {
    if (w->data_fd >= 0)
        close(w->data_fd);
    if (w->meta_fd >= 0)
        close(w->meta_fd);
    replica *r = bs_index_find(w->store, w->block_id);
    if (r != NULL && r->state == REPLICA_WRITING)
        bs_index_remove(w->store, r);
    free(w);
}

/* Fsyncs and closes both files, which hold exactly length bytes and their
 * CRCs (the partial chunk's included: every append writes it).  Returns
 * EMBER_EIO for a FAILED writer or a failure here (w is then FAILED);
 * the descriptors are closed either way. */
static int writer_sync(block_writer *w) {
    int rc = w->state == WRITER_FAILED ? EMBER_EIO : EMBER_OK;
    if (rc == EMBER_OK && w->store->sync_on_close &&
        (fsync(w->data_fd) != 0 || fsync(w->meta_fd) != 0))
        rc = EMBER_EIO;
    int saved = errno;
    int a = w->data_fd >= 0 ? close(w->data_fd) : 0;
    if (a != 0 && rc == EMBER_OK)
        saved = errno;
    int b = w->meta_fd >= 0 ? close(w->meta_fd) : 0;
    if (b != 0 && rc == EMBER_OK && a == 0)
        saved = errno;
    w->data_fd = w->meta_fd = -1;
    if (a != 0 || b != 0)
        rc = EMBER_EIO;
    if (rc != EMBER_OK && w->state == WRITER_WRITING)
        writer_fail(w, saved);
    return rc;
}

/* WRITING -> RBW, freeing w (its descriptors closed by writer_sync()):
 * the valid length is w->length when synced, else what checking the
 * files finds.  Files that cannot be checked stay on disk, for the next
 * open to judge, and the index forgets the replica. */
static int writer_keep(block_writer *w, int synced, uint64_t *length) {
    block_store *store = w->store;
    uint64_t valid = w->length;
    int rc = synced ? EMBER_OK : bs_rbw_scan(&store->dirs[w->dir], w->block_id, w->gen_stamp, &valid);
    if (rc == EMBER_OK) {
        replica *r = bs_index_find(store, w->block_id);
        assert(r != NULL && r->state == REPLICA_WRITING);
        r->state = REPLICA_RBW;
        r->length = valid;
    }
    if (length != NULL)
        *length = rc == EMBER_OK ? valid : 0;
    writer_free(w);
    return rc;
}

int block_writer_detach(block_writer *w, uint64_t *length) {
    if (w == NULL)
        return EMBER_EINVAL;
    int synced = writer_sync(w) == EMBER_OK;
    return writer_keep(w, synced, length);
}

int block_writer_finalize(block_writer *w, uint64_t *length) {
    if (w == NULL)
        return EMBER_EINVAL;
    block_store *store = w->store;
    const data_dir *dd = &store->dirs[w->dir];
    if (length != NULL)
        *length = w->length;
    int rc = writer_sync(w);
    if (rc == EMBER_OK)
        rc = replica_move(store, w->dir, w->block_id, dd->rbw, w->gen_stamp, dd->finalized,
                          w->gen_stamp, NULL);
    if (rc != EMBER_OK) {
        /* Packets of it may have been acknowledged: it stays, as RBW. */
        (void)writer_keep(w, w->state == WRITER_WRITING, NULL);
        return rc;
    }
    replica *r = bs_index_find(store, w->block_id);
    assert(r != NULL && r->state == REPLICA_WRITING);
    r->state = REPLICA_FINALIZED;
    r->length = w->length;
    store->used_bytes += w->length + meta_size(w->length);
    writer_free(w);
    return EMBER_OK;
}

void block_writer_abort(block_writer *w) {
    if (w == NULL)
        return;
    if (w->reopened) { /* a finalized replica's bytes are not useless */
        (void)block_writer_detach(w, NULL);
        return;
    }
    const data_dir *dd = &w->store->dirs[w->dir];
    char path[BLOCK_STORE_PATH_MAX];
    if (replica_path(path, sizeof path, dd->rbw, w->block_id, 0, 0) == EMBER_OK)
        unlink(path);
    if (replica_path(path, sizeof path, dd->rbw, w->block_id, w->gen_stamp, 1) == EMBER_OK)
        unlink(path);
    writer_free(w);
}

/* Checks the meta header of w's finalized replica (gen stamp gs) and, when
 * its last chunk is partial, that chunk against its CRC, which becomes
 * w->partial_crc.  w->data_fd is open on the data file. */
static int writer_load_partial(block_writer *w, const data_dir *dd, uint64_t gs) {
    char path[BLOCK_STORE_PATH_MAX];
    (void)replica_path(path, sizeof path, dd->finalized, w->block_id, gs, 1);
    int meta_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (meta_fd < 0)
        return EMBER_EIO;
    unsigned char h[META_HEADER_LEN], chunk[BLOCK_CHUNK_SIZE], be[4];
    uint64_t k = w->length / BLOCK_CHUNK_SIZE;
    int rc = pread_exact(meta_fd, h, sizeof h, 0);
    if (rc == EMBER_OK && !meta_header_ok(h))
        rc = EMBER_ECORRUPT;
    if (rc == EMBER_OK && w->partial_len > 0)
        rc = pread_exact(meta_fd, be, 4, META_HEADER_LEN + 4 * k);
    if (rc == EMBER_OK && w->partial_len > 0)
        rc = pread_exact(w->data_fd, chunk, w->partial_len, k * BLOCK_CHUNK_SIZE);
    close(meta_fd);
    if (rc != EMBER_OK || w->partial_len == 0)
        return rc;
    uint32_t crc = crc32c(0, chunk, w->partial_len);
    if (crc != get_be32(be))
        return EMBER_ECORRUPT;
    w->partial_crc = crc;
    return EMBER_OK;
}

int block_writer_reopen(block_store *store, uint64_t block_id, uint64_t old_gs, uint64_t new_gs,
                        block_writer **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state != REPLICA_FINALIZED || r->gen_stamp != old_gs)
        return EMBER_ENOENT;
    if (new_gs <= old_gs)
        return EMBER_EINVAL;
    const data_dir *dd = &store->dirs[r->dir];
    if (dd->failed)
        return EMBER_EIO;
    block_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EMBER_ENOMEM;
    w->store = store;
    w->block_id = block_id;
    w->gen_stamp = new_gs;
    w->dir = r->dir;
    w->meta_fd = -1;
    w->length = r->length;
    w->partial_len = (size_t)(r->length % BLOCK_CHUNK_SIZE);
    w->reopened = 1;
    /* The data file is opened under its finalized name: the move links
     * the same file into rbw/. */
    char path[BLOCK_STORE_PATH_MAX];
    (void)replica_path(path, sizeof path, dd->finalized, block_id, 0, 0);
    w->data_fd = open(path, O_RDWR | O_CLOEXEC);
    int rc = w->data_fd < 0 ? EMBER_EIO : writer_load_partial(w, dd, old_gs);
    if (rc == EMBER_OK)
        rc = replica_move(store, w->dir, block_id, dd->finalized, old_gs, dd->rbw, new_gs,
                          &w->meta_fd);
    if (rc != EMBER_OK) {
        if (w->data_fd >= 0)
            close(w->data_fd);
        free(w);
        return rc;
    }
    /* r still points at the entry: nothing was inserted or removed. */
    store->used_bytes -= r->length + meta_size(r->length);
    r->state = REPLICA_WRITING;
    r->mismatch_reported = 0;
    r->gen_stamp = new_gs;
    r->length = 0;
    w->state = WRITER_WRITING;
    writer_check(w);
    *out = w;
    return EMBER_OK;
}

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
    (void)replica_path(path, sizeof path, dd->finalized, r->block_id, 0, 0);
    rd->data_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->data_fd < 0)
        goto fail;
    (void)replica_path(path, sizeof path, dd->finalized, r->block_id, r->gen_stamp, 1);
    rd->meta_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->meta_fd < 0)
        goto fail;
    /* A bad header is reported by every read (EMBER_ECORRUPT), so that the
     * caller handles it where it handles a bad chunk. */
    unsigned char h[META_HEADER_LEN];
    int rc = pread_exact(rd->meta_fd, h, sizeof h, 0);
    if (rc == EMBER_EIO)
        goto fail;
    rd->header_ok = rc == EMBER_OK && meta_header_ok(h);
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
    int rc = pread_exact(r->data_fd, dst, bytes, astart);
    if (rc == EMBER_OK)
        rc = pread_exact(r->meta_fd, r->crcs, 4 * nchunks, META_HEADER_LEN + 4 * first);
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
    int rc = pread_exact(r->meta_fd, bytes, 4 * nchunks, META_HEADER_LEN + 4 * first);
    if (rc != EMBER_OK)
        return rc;
    /* In place: element i is made of exactly the bytes it is read from. */
    for (size_t i = 0; i < nchunks; i++)
        out[i] = get_be32(bytes + 4 * i);
    return EMBER_OK;
}

/* ---- whole replicas ---- */

/* Unlinks a finalized or RBW replica's files: a file already gone is
 * fine. */
int block_store_delete(block_store *store, uint64_t block_id) {
    if (store == NULL)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state == REPLICA_WRITING)
        return EMBER_ENOENT; /* a replica being written is its writer's */
    const data_dir *dd = &store->dirs[r->dir];
    const char *sub = r->state == REPLICA_RBW ? dd->rbw : dd->finalized;
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    (void)replica_path(data_path, sizeof data_path, sub, r->block_id, 0, 0);
    (void)replica_path(meta_path, sizeof meta_path, sub, r->block_id, r->gen_stamp, 1);
    /* Data first: a meta left behind alone is never indexed. */
    if (unlink(data_path) != 0 && errno != ENOENT) {
        if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, r->dir);
        return EMBER_EIO;
    }
    if (r->state == REPLICA_FINALIZED)
        store->used_bytes -= r->length + meta_size(r->length);
    bs_index_remove(store, r);
    if (unlink(meta_path) != 0 && errno != ENOENT)
        return EMBER_EIO;
    return EMBER_OK;
}

block_replica_state block_store_replica(const block_store *store, uint64_t block_id,
                                        block_info *info) {
    const replica *r = store != NULL ? bs_index_find(store, block_id) : NULL;
    if (info != NULL)
        *info = (block_info){block_id, r != NULL ? r->gen_stamp : 0, r != NULL ? r->length : 0};
    if (r == NULL)
        return BLOCK_REPLICA_ABSENT;
    switch ((replica_state)r->state) {
    case REPLICA_WRITING: return BLOCK_REPLICA_WRITING;
    case REPLICA_RBW: return BLOCK_REPLICA_RBW;
    default: return BLOCK_REPLICA_FINALIZED;
    }
}

/* Cuts an RBW replica's open files from valid bytes to length <= valid:
 * the chunk that holds the new end is checked against its stored CRC
 * first, and when the cut leaves it partial its CRC is recomputed from
 * the data; then both files are truncated. */
static int rbw_cut(int data_fd, int meta_fd, uint64_t valid, uint64_t length) {
    if (length > 0) {
        uint64_t k = (length - 1) / BLOCK_CHUNK_SIZE, start = k * BLOCK_CHUNK_SIZE;
        uint64_t old_end = start + BLOCK_CHUNK_SIZE < valid ? start + BLOCK_CHUNK_SIZE : valid;
        unsigned char chunk[BLOCK_CHUNK_SIZE], be[4];
        size_t n = (size_t)(old_end - start), keep = (size_t)(length - start);
        int rc = pread_exact(data_fd, chunk, n, start);
        if (rc == EMBER_OK)
            rc = pread_exact(meta_fd, be, 4, META_HEADER_LEN + 4 * k);
        if (rc != EMBER_OK)
            return rc;
        if (crc32c(0, chunk, n) != get_be32(be))
            return EMBER_ECORRUPT;
        if (keep < n) {
            put_be32(be, crc32c(0, chunk, keep));
            if (pwrite_all(meta_fd, be, 4, META_HEADER_LEN + 4 * k) != EMBER_OK)
                return EMBER_EIO;
        }
    }
    if (ftruncate(data_fd, (off_t)length) != 0 || ftruncate(meta_fd, (off_t)meta_size(length)) != 0)
        return EMBER_EIO;
    return EMBER_OK;
}

/* RBW -> FINALIZED at length under recovery_id (block_store_recover()).
 * On a failure the replica stays RBW, its valid length checked again
 * (the files may have been cut already). */
static int recover_rbw(block_store *store, replica *r, uint64_t recovery_id, uint64_t length) {
    if (length > r->length)
        return EMBER_EINVAL;
    const data_dir *dd = &store->dirs[r->dir];
    char data_path[BLOCK_STORE_PATH_MAX], meta_path[BLOCK_STORE_PATH_MAX];
    (void)replica_path(data_path, sizeof data_path, dd->rbw, r->block_id, 0, 0);
    (void)replica_path(meta_path, sizeof meta_path, dd->rbw, r->block_id, r->gen_stamp, 1);
    int data_fd = open(data_path, O_RDWR | O_CLOEXEC);
    int meta_fd = data_fd >= 0 ? open(meta_path, O_RDWR | O_CLOEXEC) : -1;
    int rc = meta_fd < 0 ? EMBER_EIO : rbw_cut(data_fd, meta_fd, r->length, length);
    if (rc == EMBER_OK && (fsync(data_fd) != 0 || fsync(meta_fd) != 0))
        rc = EMBER_EIO;
    int saved = errno;
    if (data_fd >= 0 && close(data_fd) != 0 && rc == EMBER_OK) {
        rc = EMBER_EIO;
        saved = errno;
    }
    if (meta_fd >= 0 && close(meta_fd) != 0 && rc == EMBER_OK) {
        rc = EMBER_EIO;
        saved = errno;
    }
    if (rc == EMBER_EIO && bs_dir_errno_is_failure(saved))
        bs_dir_fail(store, r->dir);
    if (rc == EMBER_OK)
        rc = replica_move(store, r->dir, r->block_id, dd->rbw, r->gen_stamp, dd->finalized,
                          recovery_id, NULL);
    if (rc != EMBER_OK) {
        uint64_t valid;
        if (bs_rbw_scan(dd, r->block_id, r->gen_stamp, &valid) == EMBER_OK)
            r->length = valid;
        return rc;
    }
    r->state = REPLICA_FINALIZED;
    r->gen_stamp = recovery_id;
    r->length = length;
    store->used_bytes += length + meta_size(length);
    return EMBER_OK;
}

/* A FINALIZED replica of exactly length bytes takes gen stamp
 * recovery_id: its meta is renamed (one atomic step) and finalized/
 * fsynced. */
static int recover_finalized(block_store *store, replica *r, uint64_t recovery_id,
                             uint64_t length) {
    if (r->length != length)
        return EMBER_EINVAL;
    const data_dir *dd = &store->dirs[r->dir];
    char from[BLOCK_STORE_PATH_MAX], to[BLOCK_STORE_PATH_MAX];
    (void)replica_path(from, sizeof from, dd->finalized, r->block_id, r->gen_stamp, 1);
    if (replica_path(to, sizeof to, dd->finalized, r->block_id, recovery_id, 1) != EMBER_OK)
        return EMBER_EIO;
    if (rename(from, to) != 0) {
        if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, r->dir);
        return EMBER_EIO;
    }
    r->gen_stamp = recovery_id; /* the name is the new one, synced or not */
    if (fsync_dir(dd->finalized) != EMBER_OK) {
        if (bs_dir_errno_is_failure(errno))
            bs_dir_fail(store, r->dir);
        return EMBER_EIO;
    }
    return EMBER_OK;
}

int block_store_recover(block_store *store, uint64_t block_id, uint64_t recovery_id,
                        uint64_t length) {
    if (store == NULL)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state == REPLICA_WRITING)
        return EMBER_ENOENT;
    if (r->state == REPLICA_FINALIZED && r->gen_stamp == recovery_id)
        return r->length == length ? EMBER_OK : EMBER_EINVAL; /* done before */
    if (r->gen_stamp > recovery_id)
        return EMBER_ESTATE;
    if (r->state == REPLICA_FINALIZED)
        return recover_finalized(store, r, recovery_id, length);
    return recover_rbw(store, r, recovery_id, length);
}

/* ---- pipeline recovery ---- */

/* Sets w->partial_crc from the data of w's partial last chunk (after a
 * cut that verified that chunk). */
static int writer_read_partial(block_writer *w) {
    w->partial_len = (size_t)(w->length % BLOCK_CHUNK_SIZE);
    w->partial_crc = 0;
    if (w->partial_len == 0)
        return EMBER_OK;
    unsigned char chunk[BLOCK_CHUNK_SIZE];
    int rc = pread_exact(w->data_fd, chunk, w->partial_len, w->length - w->partial_len);
    if (rc == EMBER_OK)
        w->partial_crc = crc32c(0, chunk, w->partial_len);
    return rc;
}

/* RBW -> WRITING under new_gs at length (<= its valid length): the files
 * are cut first (rbw_cut(): the chunk holding the new end verified, a new
 * partial chunk's CRC recomputed, a torn tail dropped) and fsynced, then
 * the meta is renamed to the new gen stamp and rbw/ fsynced.  A failure
 * before the rename leaves the replica RBW under its old stamp, its valid
 * length checked again; one after it, RBW under the new stamp. */
static int reopen_rbw(block_store *store, replica *r, uint64_t new_gs, uint64_t length,
                      block_writer **out) {
    const data_dir *dd = &store->dirs[r->dir];
    char data_path[BLOCK_STORE_PATH_MAX], old_meta[BLOCK_STORE_PATH_MAX];
    char new_meta[BLOCK_STORE_PATH_MAX];
    (void)replica_path(data_path, sizeof data_path, dd->rbw, r->block_id, 0, 0);
    (void)replica_path(old_meta, sizeof old_meta, dd->rbw, r->block_id, r->gen_stamp, 1);
    if (replica_path(new_meta, sizeof new_meta, dd->rbw, r->block_id, new_gs, 1) != EMBER_OK)
        return EMBER_EIO;
    block_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EMBER_ENOMEM;
    w->store = store;
    w->block_id = r->block_id;
    w->gen_stamp = new_gs;
    w->dir = r->dir;
    w->length = length;
    w->reopened = 1; /* acknowledged bytes: an abort keeps them */
    w->data_fd = open(data_path, O_RDWR | O_CLOEXEC);
    w->meta_fd = w->data_fd >= 0 ? open(old_meta, O_RDWR | O_CLOEXEC) : -1;
    int rc = w->meta_fd < 0 ? EMBER_EIO : rbw_cut(w->data_fd, w->meta_fd, r->length, length);
    if (rc == EMBER_OK && (fsync(w->data_fd) != 0 || fsync(w->meta_fd) != 0))
        rc = EMBER_EIO;
    if (rc == EMBER_OK)
        rc = writer_read_partial(w);
    int renamed = 0;
    if (rc == EMBER_OK) {
        renamed = rename(old_meta, new_meta) == 0;
        if (!renamed || fsync_dir(dd->rbw) != EMBER_OK)
            rc = EMBER_EIO;
    }
    if (rc != EMBER_OK) {
        int saved = errno;
        if (w->data_fd >= 0)
            close(w->data_fd);
        if (w->meta_fd >= 0)
            close(w->meta_fd);
        free(w);
        if (rc == EMBER_EIO && bs_dir_errno_is_failure(saved))
            bs_dir_fail(store, r->dir);
        if (renamed)
            r->gen_stamp = new_gs; /* the name is the new one, synced or not */
        uint64_t valid;
        if (bs_rbw_scan(dd, r->block_id, r->gen_stamp, &valid) == EMBER_OK)
            r->length = valid;
        return rc;
    }
    r->state = REPLICA_WRITING;
    r->gen_stamp = new_gs;
    r->length = 0;
    w->state = WRITER_WRITING;
    writer_check(w);
    *out = w;
    return EMBER_OK;
}

int block_writer_reopen_at(block_store *store, uint64_t block_id, uint64_t min_gs,
                           uint64_t new_gs, uint64_t length, block_writer **out) {
    if (store == NULL || out == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    if (new_gs <= min_gs)
        return EMBER_EINVAL;
    replica *r = bs_index_find(store, block_id);
    if (r == NULL || r->state == REPLICA_WRITING || r->gen_stamp < min_gs ||
        r->gen_stamp >= new_gs)
        return EMBER_ENOENT;
    if (r->length < length)
        return EMBER_ESTATE;
    if (store->dirs[r->dir].failed)
        return EMBER_EIO;
    if (r->state == REPLICA_RBW)
        return reopen_rbw(store, r, new_gs, length, out);
    /* FINALIZED: back to rbw/ under new_gs as for an append, then cut. */
    block_writer *w;
    int rc = block_writer_reopen(store, block_id, r->gen_stamp, new_gs, &w);
    if (rc != EMBER_OK)
        return rc;
    if (length < w->length) {
        rc = rbw_cut(w->data_fd, w->meta_fd, w->length, length);
        if (rc == EMBER_OK) {
            w->length = length;
            rc = writer_read_partial(w);
        }
        if (rc != EMBER_OK) {
            writer_fail(w, rc == EMBER_EIO ? errno : 0);
            (void)block_writer_detach(w, NULL); /* RBW under new_gs, as the files say */
            return rc;
        }
    }
    writer_check(w);
    *out = w;
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

/* The replicas in state, for block_store_list() and _list_rbw(). */
static int store_list_state(const block_store *store, replica_state state, block_info **out,
                            size_t *count) {
    if (store == NULL || out == NULL || count == NULL)
        return EMBER_EINVAL;
    *out = NULL;
    *count = 0;
    size_t n = 0;
    for (size_t i = 0; i < store->index_cap; i++)
        n += store->index[i].state == state;
    if (n == 0)
        return EMBER_OK;
    block_info *list = malloc(n * sizeof *list);
    if (list == NULL)
        return EMBER_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < store->index_cap; i++) {
        const replica *r = &store->index[i];
        if (r->state == state)
            list[k++] = (block_info){r->block_id, r->gen_stamp, r->length};
    }
    *out = list;
    *count = n;
    return EMBER_OK;
}

int block_store_list(const block_store *store, block_info **out, size_t *count) {
    return store_list_state(store, REPLICA_FINALIZED, out, count);
}

int block_store_list_rbw(const block_store *store, block_info **out, size_t *count) {
    return store_list_state(store, REPLICA_RBW, out, count);
}
