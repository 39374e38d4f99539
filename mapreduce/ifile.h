/* ifile.h -- map output on disk: segments (Hadoop's IFile) and their index
 * (Hadoop's SpillRecord).
 *
 * A file holds one segment per partition, back to back.  A segment is its
 * records, each
 *     varint(key_len + 1)  varint(value_len)  key  value
 * then varint(0) (the end), then the CRC32C of every byte before it in the
 * segment, 4 bytes little-endian.  An empty partition's segment is 5 bytes.
 * The index file holds, per partition, {offset, length, records} as three
 * little-endian u64, then the CRC32C of all of them.
 *
 * A reader is a kv_stream over one segment: from a file region, through a
 * buffer, or from memory (a fetched segment).  It checks every length
 * against the segment's size and the CRC at the end, and answers
 * EMBER_ECORRUPT for a segment that fails either. */
#ifndef EMBER_MR_IFILE_H
#define EMBER_MR_IFILE_H

#include <stdint.h>

#include "kv.h"

typedef struct {
    uint64_t offset, length, records;
} ifile_range;

typedef struct {
    int fd;
    uint8_t *buf;
    size_t cap, len; /* buffered bytes, not yet written */
    uint64_t pos;    /* file offset of buf[0] */
    uint64_t seg_start, seg_records;
    uint32_t crc;
} ifile_writer;

/* Creates (or truncates) path for writing. */
int ifile_writer_open(ifile_writer *w, const char *path);
/* Starts a segment at the current end of the file. */
void ifile_writer_begin(ifile_writer *w);
int ifile_writer_append(ifile_writer *w, const void *key, size_t key_len, const void *value,
                        size_t value_len);
/* Ends the segment (marker and CRC) and says where it lies. */
int ifile_writer_end(ifile_writer *w, ifile_range *out);
/* Writes what is buffered and closes; the bytes written so far. */
int ifile_writer_close(ifile_writer *w, uint64_t *bytes);
/* Closes without caring (after a failure). */
void ifile_writer_abort(ifile_writer *w);

int ifile_index_write(const char *path, const ifile_range *ranges, uint32_t n);
/* Reads n ranges; EMBER_ECORRUPT when the file's size or CRC is wrong. */
int ifile_index_read(const char *path, ifile_range *ranges, uint32_t n);

typedef struct {
    kv_stream base;
    int fd;            /* -1: a segment in memory */
    uint64_t file_off; /* next file byte to read */
    uint64_t left;     /* segment bytes not yet in buf */
    uint8_t *buf;
    size_t cap, start, len; /* unread bytes are buf[start, len) */
    int owned;              /* buf is ours */
    uint32_t crc;
    int state; /* 0 records, 1 ended well, <0 failed */
    uint64_t records;
} ifile_reader;

/* A reader of the segment at range in fd, through a buffer of about
 * bufsize bytes (grown for a record larger). */
int ifile_reader_open(ifile_reader *r, int fd, const ifile_range *range, size_t bufsize);
/* A reader of a whole segment held in memory (not copied; kept by the
 * caller until the reader is closed). */
void ifile_reader_open_memory(ifile_reader *r, const void *segment, size_t len);
void ifile_reader_close(ifile_reader *r);

#endif
