/* ifile.h -- map output on disk: segments (Hadoop's IFile) and their index
 * (Hadoop's SpillRecord).
 *
 * A file holds one segment per partition, back to back.  A segment is its
 * records, each
 *     varint(key_len + 1)  varint(value_len)  key  value
 * then varint(0) (the end), then the CRC32C of every byte before it in the
 * segment, 4 bytes little-endian.  An empty partition's segment is 5 bytes.
 *
 * A compressed segment (mapreduce.map.output.compress) starts with the
 * bytes 0x80 0x00 (a varint no writer makes: 0 in two bytes) and its codec
 * (IFILE_CODEC_LZ4 or _ZSTD); then blocks, each
 *     varint(raw_len)  varint(compressed_len)  compressed bytes
 * whose raw bytes, end to end, are the records and the end marker as
 * above; then varint(0) (no more blocks) and the CRC32C of every byte
 * before it, as stored.  So a reader tells the two kinds apart from the
 * segment itself, from a file or from memory alike, and checks the CRC
 * before trusting anything it inflated.
 *
 * The index file holds, per partition, {offset, raw_length, length,
 * records} as four little-endian u64 (Hadoop's IndexRecord: startOffset,
 * rawLength, partLength), then the CRC32C of all of them.  length is the
 * bytes stored; raw_length what they would take uncompressed (the same
 * for an uncompressed segment).
 *
 * A reader is a kv_stream over one segment: from a file region, through a
 * buffer, or from memory (a fetched segment).  It checks every length
 * against the segment's size and the CRC at the end, and answers
 * EMBER_ECORRUPT for a segment that fails either (or does not inflate). */
#ifndef EMBER_MR_IFILE_H
#define EMBER_MR_IFILE_H

#include <stdint.h>

#include "ifile_index.h"
#include "kv.h"


/* The raw length of an empty segment (the end and the CRC): one whose
 * raw_length, or stored length, is this holds no record (a record takes
 * 2 bytes at least; a compressed segment stores more). */
#define IFILE_EMPTY_SEGMENT 5

/* Segment codecs (the byte after 0x80 0x00). */
enum { IFILE_CODEC_NONE = 0, IFILE_CODEC_LZ4 = 1, IFILE_CODEC_ZSTD = 2 };

/* A codec from its name: Hadoop's class names
 * (org.apache.hadoop.io.compress.Lz4Codec, ZStandardCodec, with or
 * without the package) or lz4, zstd, zstandard, any case.  EMBER_EINVAL
 * for another. */
int ifile_codec_parse(const char *name, int *codec);
const char *ifile_codec_name(int codec);

typedef struct {
    int fd;
    uint8_t *buf;
    size_t cap, len; /* buffered bytes, not yet written */
    uint64_t pos;    /* file offset of buf[0] */
    uint64_t seg_start, seg_records;
    uint32_t crc;
    /* Compression (codec != IFILE_CODEC_NONE): records gather in raw, a
     * block at a time, and go out through zbuf. */
    int codec;
    uint8_t *raw, *zbuf;
    size_t raw_len, zcap;
    uint64_t seg_raw; /* the segment's raw bytes so far */
    void *zstd;       /* ZSTD_CCtx */
} ifile_writer;

/* Creates (or truncates) path for writing. */
int ifile_writer_open(ifile_writer *w, const char *path);
/* The same, its segments compressed with codec (IFILE_CODEC_*). */
int ifile_writer_open_codec(ifile_writer *w, const char *path, int codec);
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
    /* A compressed segment: buf holds stored bytes, raw what they
     * inflated to (records read from raw[raw_start, raw_len)). */
    int probed, codec, blocks_ended;
    uint8_t *raw;
    size_t raw_cap, raw_start, raw_len;
    void *zstd; /* ZSTD_DCtx */
} ifile_reader;

/* A reader of the segment at range in fd, through a buffer of about
 * bufsize bytes (grown for a record larger). */
int ifile_reader_open(ifile_reader *r, int fd, const ifile_range *range, size_t bufsize);
/* A reader of a whole segment held in memory (not copied; kept by the
 * caller until the reader is closed). */
void ifile_reader_open_memory(ifile_reader *r, const void *segment, size_t len);
void ifile_reader_close(ifile_reader *r);
/* The memory a reader of this segment (its first bytes at head, len of
 * them) takes beyond the segment itself: a compressed one inflates a
 * block at a time (a shuffle holding many in memory counts it). */
size_t ifile_reader_memory(const void *head, size_t len);

#endif
