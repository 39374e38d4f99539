/* block_store_files.c -- the block store's replica files (see
 * block_store.h for the layout and the meta format).
 *
 * Owns the names blk_<id> and blk_<id>_<gs>.meta (decimal, no leading
 * zeros: exactly what bs_replica_path() prints; other names are never
 * touched), the meta header, the valid length of an rbw replica's files,
 * the move of a replica between rbw/ and finalized/, and the listing of
 * those directories.  No state: every function works on the files and
 * descriptors it is given.
 *
 * Moving a replica between rbw/ and finalized/ (bs_replica_move_files(),
 * which touches only files and may run off the loop's thread, and
 * bs_replica_move(), which also fails a directory the errors say is
 * broken: finalize, reopen, recovery) makes the new names first -- hard links, or
 * for a reopen a copy of the meta so that readers of the finalized
 * replica keep the CRCs they opened -- fsyncs the target directory, then
 * unlinks the old names (data first) and fsyncs the source.  Whatever a
 * crash leaves, open sorts out (block_store.c, "What open indexes"): the
 * same block in finalized/ and rbw/ means the move (or the reopen) did
 * not complete on one side, and the finalized replica wins (the rbw names
 * are removed); a meta or a data file alone in rbw/ is removed; one alone
 * in finalized/ is skipped.  Recovery cuts an RBW replica's files before
 * moving them: a crash in between leaves a shorter valid length at worst,
 * and the primary retries. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_store.h"
#include "block_store_internal.h"
#include "common/checksum.h"
#include "common/error.h"

#define META_VERSION 1
#define META_CHECKSUM_CRC32C 1

static const unsigned char meta_magic[8] = {'E', 'M', 'B', 'R', 'M', 'E', 'T', 'A'};

/* ---- names, reads and writes ---- */

/* Formats a one-line reason into err (which may be NULL). */
void bs_reason(char *err, size_t errlen, const char *fmt, ...) {
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* dir/blk_<id> (meta 0) or dir/blk_<id>_<gs>.meta (meta 1) into out. */
int bs_replica_path(char *out, size_t outlen, const char *dir, uint64_t id, uint64_t gs, int meta) {
    int len = meta ? snprintf(out, outlen, "%s/blk_%llu_%llu.meta", dir, (unsigned long long)id,
                              (unsigned long long)gs)
                   : snprintf(out, outlen, "%s/blk_%llu", dir, (unsigned long long)id);
    return (len < 0 || (size_t)len >= outlen) ? EMBER_EINVAL : EMBER_OK;
}

/* Parses a decimal u64 as bs_replica_path() prints it: 1 to 20 digits, no
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

int bs_pwrite_all(int fd, const void *data, size_t len, uint64_t offset) {
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

/* (EMBER_ECORRUPT when the file ends first: it is shorter than the index
 * says.) */
int bs_pread_exact(int fd, void *data, size_t len, uint64_t offset) {
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

int bs_fsync_dir(const char *dir) {
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

/* ---- replica files: meta headers, valid lengths, moves ---- */

void bs_meta_header_init(unsigned char *h) {
    memcpy(h, meta_magic, sizeof meta_magic);
    put_be16(h + 8, META_VERSION);
    put_be16(h + 10, META_CHECKSUM_CRC32C);
    put_be32(h + 12, BLOCK_CHUNK_SIZE);
}

/* 1 when the 16 bytes at h are the meta header this store writes. */
int bs_meta_header_ok(const unsigned char *h) {
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
    int rc = bs_pread_exact(meta_fd, h, sizeof h, 0);
    if (rc != EMBER_OK)
        return rc;
    if (!bs_meta_header_ok(h))
        return EMBER_ECORRUPT;
    uint64_t ncrcs = ((uint64_t)ms.st_size - META_HEADER_LEN) / 4;
    uint64_t len = (uint64_t)ds.st_size;
    if (chunk_count(len) > ncrcs)
        len = ncrcs * BLOCK_CHUNK_SIZE;
    while (len > 0) {
        uint64_t k = (len - 1) / BLOCK_CHUNK_SIZE;
        size_t n = (size_t)(len - k * BLOCK_CHUNK_SIZE);
        rc = bs_pread_exact(data_fd, chunk, n, k * BLOCK_CHUNK_SIZE);
        if (rc == EMBER_OK)
            rc = bs_pread_exact(meta_fd, be, 4, META_HEADER_LEN + 4 * k);
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
    if (bs_replica_path(data_path, sizeof data_path, dd->rbw, id, 0, 0) != EMBER_OK ||
        bs_replica_path(meta_path, sizeof meta_path, dd->rbw, id, gs, 1) != EMBER_OK)
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
        rc = bs_pwrite_all(out, buf, (size_t)n, off);
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

/* See block_store_internal.h: the order of the steps is the file
 * comment's -- new names (leftovers under them replaced), fsync of to,
 * removal of the old names (data first), fsync of from. */
int bs_replica_move_files(uint64_t id, const char *from, uint64_t from_gs, const char *to,
                          uint64_t to_gs, int *meta_fd, int *dir_err) {
    char from_data[BLOCK_STORE_PATH_MAX], from_meta[BLOCK_STORE_PATH_MAX];
    char to_data[BLOCK_STORE_PATH_MAX], to_meta[BLOCK_STORE_PATH_MAX];
    *dir_err = 0;
    if (meta_fd != NULL)
        *meta_fd = -1;
    if (bs_replica_path(from_data, sizeof from_data, from, id, 0, 0) != EMBER_OK ||
        bs_replica_path(from_meta, sizeof from_meta, from, id, from_gs, 1) != EMBER_OK ||
        bs_replica_path(to_data, sizeof to_data, to, id, 0, 0) != EMBER_OK ||
        bs_replica_path(to_meta, sizeof to_meta, to, id, to_gs, 1) != EMBER_OK) {
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
    if (bs_fsync_dir(to) != EMBER_OK)
        goto fail;
    if (unlink(from_data) != 0 && errno != ENOENT)
        *dir_err = errno;
    if (unlink(from_meta) != 0 && errno != ENOENT)
        *dir_err = errno;
    if (bs_fsync_dir(from) != EMBER_OK)
        *dir_err = errno;
    return EMBER_OK;
fail:;
    int saved = errno;
    if (meta_fd != NULL && *meta_fd >= 0) {
        close(*meta_fd);
        *meta_fd = -1;
    }
    unlink(to_data);
    unlink(to_meta);
    *dir_err = saved;
    errno = saved;
    return EMBER_EIO;
}

/* See block_store_internal.h. */
int bs_replica_move(block_store *store, uint32_t d, uint64_t id, const char *from, uint64_t from_gs,
                    const char *to, uint64_t to_gs, int *meta_fd) {
    int dir_err;
    int rc = bs_replica_move_files(id, from, from_gs, to, to_gs, meta_fd, &dir_err);
    if (bs_dir_errno_is_failure(dir_err))
        bs_dir_fail(store, d);
    return rc; /* errno still says why it failed */
}

int bs_cmp_found(const void *a, const void *b) {
    const found_file *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    if (x->is_meta != y->is_meta)
        return x->is_meta - y->is_meta;       /* the data file first */
    return (x->gs < y->gs) - (x->gs > y->gs); /* then metas, highest gen stamp first */
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
        bs_reason(err, errlen, "cannot list %s: %s", path, strerror(saved));
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
                bs_reason(err, errlen, "out of memory listing %s", path);
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
        bs_reason(err, errlen, "cannot list %s: %s", path, strerror(saved));
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
