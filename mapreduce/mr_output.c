/* mr_output.c -- see mr_output.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "mr_output.h"

#define MR_TEXT_BUFFER (1u << 20)

typedef struct {
    mr_sink base;
    int fd;
    char path[PATH_MAX];
} local_sink;

static int local_write(mr_sink *s, const void *data, size_t len) {
    local_sink *l = (local_sink *)s;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(l->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno == ENOSPC ? EMBER_ENOSPC : EMBER_EIO;
        p += w;
        len -= (size_t)w;
    }
    return EMBER_OK;
}

static int local_close(mr_sink *s) {
    local_sink *l = (local_sink *)s;
    int rc = close(l->fd) == 0 ? EMBER_OK : EMBER_EIO;
    free(l);
    return rc;
}

static void local_abort(mr_sink *s) {
    local_sink *l = (local_sink *)s;
    close(l->fd);
    unlink(l->path);
    free(l);
}

int mr_sink_local(const char *path, mr_sink **out) {
    local_sink *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return EMBER_ENOMEM;
    if (strlen(path) >= sizeof(l->path)) {
        free(l);
        return EMBER_EINVAL;
    }
    strcpy(l->path, path);
    l->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        int rc = errno == ENOENT ? EMBER_ENOENT : errno == EACCES ? EMBER_EACCES : EMBER_EIO;
        free(l);
        return rc;
    }
    l->base = (mr_sink){.write = local_write, .close = local_close, .abort = local_abort};
    *out = &l->base;
    return EMBER_OK;
}

int mr_text_writer_init(mr_text_writer *w, mr_sink *sink, const char *sep) {
    memset(w, 0, sizeof(*w));
    if (sep == NULL)
        sep = "\t";
    if (strlen(sep) >= sizeof(w->sep))
        return EMBER_EINVAL;
    if ((w->buf = malloc(MR_TEXT_BUFFER)) == NULL)
        return EMBER_ENOMEM;
    strcpy(w->sep, sep);
    w->sep_len = strlen(sep);
    w->cap = MR_TEXT_BUFFER;
    w->sink = sink;
    return EMBER_OK;
}

static int mr_text_flush(mr_text_writer *w) {
    int rc = w->len > 0 ? w->sink->write(w->sink, w->buf, w->len) : EMBER_OK;
    w->bytes += w->len;
    w->len = 0;
    if (rc != EMBER_OK)
        w->failed = rc;
    return rc;
}

static int mr_text_put(mr_text_writer *w, const void *p, size_t n) {
    if (n == 0)
        return EMBER_OK;
    if (w->len + n > w->cap) {
        int rc = mr_text_flush(w);
        if (rc != EMBER_OK)
            return rc;
        if (n > w->cap) {
            w->bytes += n;
            rc = w->sink->write(w->sink, p, n);
            if (rc != EMBER_OK)
                w->failed = rc;
            return rc;
        }
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return EMBER_OK;
}

int mr_text_writer_write(void *arg, const void *key, size_t key_len, const void *value,
                         size_t value_len) {
    mr_text_writer *w = arg;
    if (w->failed)
        return w->failed;
    int rc = EMBER_OK;
    if (w->raw) {
        rc = mr_text_put(w, key, key_len);
        return rc == EMBER_OK ? mr_text_put(w, value, value_len) : rc;
    }
    if (key_len > 0)
        rc = mr_text_put(w, key, key_len);
    if (rc == EMBER_OK && key_len > 0 && value_len > 0)
        rc = mr_text_put(w, w->sep, w->sep_len);
    if (rc == EMBER_OK && value_len > 0)
        rc = mr_text_put(w, value, value_len);
    if (rc == EMBER_OK)
        rc = mr_text_put(w, "\n", 1);
    return rc;
}

int mr_text_writer_close(mr_text_writer *w) {
    int rc = w->failed ? w->failed : mr_text_flush(w);
    if (rc == EMBER_OK)
        rc = w->sink->close(w->sink);
    else
        w->sink->abort(w->sink);
    w->sink = NULL;
    free(w->buf);
    w->buf = NULL;
    return rc;
}

void mr_text_writer_abort(mr_text_writer *w) {
    if (w->sink != NULL)
        w->sink->abort(w->sink);
    w->sink = NULL;
    free(w->buf);
    w->buf = NULL;
}
