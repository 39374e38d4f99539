/* cli_dfs_text.c -- `ember dfs -text SRC...`: each file to stdout as
 * text, as Hadoop's Display.Text: a gzip file (magic 1f 8b, RFC 1952;
 * several members one after the other, as gzip and Java's
 * GZIPInputStream read them) is decompressed; a file whose name ends in
 * ".deflate" is decompressed as a zlib stream (Hadoop's DefaultCodec,
 * chosen by that suffix); any other file is copied as it is, like -cat.
 * Hadoop also decodes SequenceFiles through their Java classes; ember
 * prints those as they are.
 *
 * Streaming: 1 MiB read at a time, inflated through zlib into a 256 KiB
 * buffer written out as it fills, so memory does not grow with the file.
 * Corrupt or truncated compressed data stops that file with one error
 * line (what was decoded before it is already out) and the command goes
 * on with the next. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cli_dfs.h"
#include "common/error.h"

#define TEXT_IN_CHUNK (1024 * 1024)
#define TEXT_OUT_CHUNK (256 * 1024)

/* How a file is decoded. */
typedef enum { TEXT_PLAIN, TEXT_GZIP, TEXT_ZLIB } text_format;

/* Writes len bytes to stdout; 0, or -1 after an error line. */
static int text_out(dfs_cli *c, const uint8_t *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("text: stdout: %s", strerror(errno));
            c->failed = 1;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the next chunk of in into buf (*got 0 at the end); 0, or -1
 * after an error line. */
static int text_read(dfs_cli *c, ember_dfs_file *in, uint8_t *buf, size_t *got) {
    if (ember_dfs_read(in, buf, TEXT_IN_CHUNK, got) == EMBER_OK)
        return 0;
    dfs_fail(c);
    return -1;
}

/* The rest of in, decoded by z (set up for gzip or zlib), to stdout; the
 * first have bytes of it are in buf already.  A gzip member that ends
 * with input left starts the next member.  0, or -1 after an error
 * line. */
static int text_inflate(dfs_cli *c, const char *path, ember_dfs_file *in, z_stream *z, uint8_t *buf,
                        size_t have, uint8_t *out, int gzip) {
    int ended = 0; /* the last inflate() ended a stream */
    z->next_in = buf;
    z->avail_in = (uInt)have;
    for (;;) {
        if (z->avail_in == 0) {
            size_t got;
            if (text_read(c, in, buf, &got) != 0)
                return -1;
            if (got == 0)
                break;
            z->next_in = buf;
            z->avail_in = (uInt)got;
        }
        if (ended) {
            if (!gzip)
                break; /* a zlib stream is one stream: what follows is ignored */
            inflateReset(z);
            ended = 0;
        }
        z->next_out = out;
        z->avail_out = TEXT_OUT_CHUNK;
        int rc = inflate(z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            cli_error("text: `%s': corrupt %s data: %s", path, gzip ? "gzip" : "deflate",
                      z->msg != NULL ? z->msg : "inflate failed");
            c->failed = 1;
            return -1;
        }
        if (text_out(c, out, TEXT_OUT_CHUNK - z->avail_out) != 0)
            return -1;
        ended = rc == Z_STREAM_END;
    }
    if (!ended) {
        /* Java's words for a stream cut short. */
        cli_error("text: `%s': Unexpected end of %s input stream", path, gzip ? "gzip" : "ZLIB");
        c->failed = 1;
        return -1;
    }
    return 0;
}

/* Whether path names a file Hadoop's DefaultCodec wrote. */
static int text_is_deflate(const char *path) {
    size_t n = strlen(path);
    return n > 8 && strcmp(path + n - 8, ".deflate") == 0;
}

/* One file to stdout, decoded by what it holds. */
static void text_file(dfs_cli *c, const char *path, uint8_t *buf, uint8_t *out) {
    ember_dfs_file *in;
    if (ember_dfs_open(c->dfs, path, &in) != EMBER_OK) {
        dfs_fail(c);
        return;
    }
    size_t have = 0, got = 1;
    /* The magic needs two bytes; a short read may give one. */
    while (have < 2 && got > 0) {
        if (ember_dfs_read(in, buf + have, TEXT_IN_CHUNK - have, &got) != EMBER_OK) {
            dfs_fail(c);
            ember_dfs_close_file(in);
            return;
        }
        have += got;
    }
    text_format f = have >= 2 && buf[0] == 0x1f && buf[1] == 0x8b ? TEXT_GZIP
                    : text_is_deflate(path)                       ? TEXT_ZLIB
                                                                  : TEXT_PLAIN;
    if (f == TEXT_PLAIN) {
        while (have > 0) {
            if (text_out(c, buf, have) != 0 || text_read(c, in, buf, &have) != 0)
                break;
        }
    } else {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, f == TEXT_GZIP ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
            cli_error("text: out of memory");
            c->failed = 1;
        } else {
            text_inflate(c, path, in, &z, buf, have, out, f == TEXT_GZIP);
            inflateEnd(&z);
        }
    }
    ember_dfs_close_file(in);
}

/* -text SRC...: each file as text, in order. */
int cmd_text(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "", seen);
    if (i < 0)
        return 2;
    uint8_t *buf = malloc(TEXT_IN_CHUNK), *out = malloc(TEXT_OUT_CHUNK);
    if (buf == NULL || out == NULL) {
        cli_error("text: out of memory");
        free(buf);
        free(out);
        return 1;
    }
    fflush(stdout);
    char path[DFS_PATH_MAX];
    for (; i < argc; i++)
        if (dfs_arg(c, argv[i], path) == 0)
            text_file(c, path, buf, out);
    free(buf);
    free(out);
    return c->failed;
}
