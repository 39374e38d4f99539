/* fuzz_files.h -- what the fuzz targets that read files share: one scratch
 * directory per process (under TMPDIR, removed at exit), files written
 * into it from the input, and emptying it between inputs.  Header-only:
 * each target is one .c file plus fuzz_replay.c.
 *
 * Inputs that hold several files use one container layout (see
 * fuzz_next_file()), so the seed generator and every target agree on it:
 *   u8 kind | u64 number (big-endian) | u16 length (big-endian) | bytes
 * repeated; a record cut short ends the input. */
#ifndef EMBER_FUZZ_FILES_H
#define EMBER_FUZZ_FILES_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_FILE_HEADER_LEN 11

/* One file of a container input. */
typedef struct {
    uint8_t kind;
    uint64_t number;
    const uint8_t *data;
    size_t len;
} fuzz_file;

static char fuzz_dir_path[512];

static inline int fuzz_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)type;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

/* Removes everything inside dir (not dir itself). */
static inline void fuzz_empty_dir(const char *dir) {
    nftw(dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fuzz_remove_dir(void) {
    if (fuzz_dir_path[0] != '\0') {
        fuzz_empty_dir(fuzz_dir_path);
        rmdir(fuzz_dir_path);
    }
}

/* The process's scratch directory, created on the first call; it is
 * removed at exit.  Aborts when it cannot be made: nothing can be tested. */
static inline const char *fuzz_dir(void) {
    if (fuzz_dir_path[0] != '\0')
        return fuzz_dir_path;
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/ember-fuzz.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(fuzz_dir_path) == NULL) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_remove_dir);
    return fuzz_dir_path;
}

/* Writes len bytes to path (created or truncated, mode 0600); aborts when
 * the write fails, as the input could then not be tested. */
static inline void fuzz_write_file(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (len > 0 && write(fd, data, len) != (ssize_t)len)) {
        perror(path);
        abort();
    }
    close(fd);
}

/* Takes the next file of a container input at *data (*size bytes; see the file
 * comment) into *out, advancing past it.  Returns 0 at the end. */
static inline int fuzz_next_file(const uint8_t **data, size_t *size, fuzz_file *out) {
    if (*size < FUZZ_FILE_HEADER_LEN)
        return 0;
    const uint8_t *p = *data;
    out->kind = p[0];
    out->number = 0;
    for (int i = 1; i <= 8; i++)
        out->number = out->number << 8 | p[i];
    out->len = (size_t)p[9] << 8 | p[10];
    if (out->len > *size - FUZZ_FILE_HEADER_LEN)
        out->len = *size - FUZZ_FILE_HEADER_LEN; /* the last file takes what is left */
    out->data = p + FUZZ_FILE_HEADER_LEN;
    *data += FUZZ_FILE_HEADER_LEN + out->len;
    *size -= FUZZ_FILE_HEADER_LEN + out->len;
    return 1;
}

/* Appends one container record to f (the seed generator's side). */
static inline void fuzz_put_file(FILE *f, uint8_t kind, uint64_t number, const void *data, size_t len) {
    uint8_t h[FUZZ_FILE_HEADER_LEN];
    h[0] = kind;
    for (int i = 8; i >= 1; i--, number >>= 8)
        h[i] = (uint8_t)number;
    h[9] = (uint8_t)(len >> 8);
    h[10] = (uint8_t)len;
    fwrite(h, 1, sizeof h, f);
    fwrite(data, 1, len, f);
}

#endif
