/* mr_source.c -- see mr_source.h: the local-file and in-memory sources. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "mr_source.h"

typedef struct {
    mr_source base;
    int fd;
    char name[]; /* the path */
} mr_file_source;

typedef struct {
    mr_source base;
    const uint8_t *data;
    char name[];
} mr_memory_source;

static int mr_file_pread(mr_source *s, void *buf, size_t len, uint64_t off, size_t *got) {
    mr_file_source *f = (mr_file_source *)s;
    *got = 0;
    if (off >= s->size || len == 0)
        return EMBER_OK;
    if (len > s->size - off)
        len = (size_t)(s->size - off);
    for (;;) {
        ssize_t n = pread(f->fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return EMBER_EIO;
        *got = (size_t)n;
        return EMBER_OK;
    }
}

static void mr_file_close(mr_source *s) {
    mr_file_source *f = (mr_file_source *)s;
    close(f->fd);
    free(f);
}

static int mr_source_errno(int e) {
    switch (e) {
    case ENOENT:
    case ENOTDIR: return EMBER_ENOENT;
    case EACCES:
    case EPERM: return EMBER_EACCES;
    case EISDIR: return EMBER_EISDIR;
    case ENOMEM: return EMBER_ENOMEM;
    default: return EMBER_EIO;
    }
}

int mr_source_open_file(const char *path, mr_source **out) {
    *out = NULL;
    size_t n = strlen(path);
    mr_file_source *f = malloc(sizeof(*f) + n + 1);
    if (f == NULL)
        return EMBER_ENOMEM;
    memcpy(f->name, path, n + 1);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int rc = mr_source_errno(errno);
        free(f);
        return rc;
    }
    struct stat st;
    int rc = EMBER_OK;
    if (fstat(f->fd, &st) != 0)
        rc = EMBER_EIO;
    else if (S_ISDIR(st.st_mode))
        rc = EMBER_EISDIR;
    if (rc != EMBER_OK) {
        close(f->fd);
        free(f);
        return rc;
    }
    f->base.size = (uint64_t)st.st_size;
    f->base.pread = mr_file_pread;
    f->base.close = mr_file_close;
    f->base.name = f->name;
    *out = &f->base;
    return EMBER_OK;
}

static int mr_memory_pread(mr_source *s, void *buf, size_t len, uint64_t off, size_t *got) {
    mr_memory_source *m = (mr_memory_source *)s;
    *got = 0;
    if (off >= s->size)
        return EMBER_OK;
    if (len > s->size - off)
        len = (size_t)(s->size - off);
    memcpy(buf, m->data + off, len);
    *got = len;
    return EMBER_OK;
}

static void mr_memory_close(mr_source *s) { free(s); }

int mr_source_open_memory(const void *data, size_t len, const char *name, mr_source **out) {
    size_t n = strlen(name);
    mr_memory_source *m = malloc(sizeof(*m) + n + 1);
    *out = NULL;
    if (m == NULL)
        return EMBER_ENOMEM;
    memcpy(m->name, name, n + 1);
    m->data = data;
    m->base.size = len;
    m->base.pread = mr_memory_pread;
    m->base.close = mr_memory_close;
    m->base.name = m->name;
    *out = &m->base;
    return EMBER_OK;
}

int mr_source_read_full(mr_source *s, void *buf, size_t len, uint64_t off) {
    uint8_t *p = buf;
    while (len > 0) {
        size_t got;
        int rc = s->pread(s, p, len, off, &got);
        if (rc != EMBER_OK)
            return rc;
        if (got == 0)
            return EMBER_ECORRUPT;
        p += got;
        off += got;
        len -= got;
    }
    return EMBER_OK;
}

void mr_source_close(mr_source *s) {
    if (s != NULL)
        s->close(s);
}
