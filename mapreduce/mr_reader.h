/* mr_reader.h -- record readers: a chunk of a file (an mr_source, an
 * offset, a length; see mr_split.h) as records, one at a time, as Hadoop's
 * FileInputFormat family reads them.
 *
 * A reader is a kv_stream (kv.h): next() hands out one record, valid until
 * the following call, read through one buffer (MR_READER_BUFFER, grown
 * only for a longer line or record) with the source's pread; no record is
 * copied or allocated on its own.  Formats:
 *
 *   TEXT (TextInputFormat, LineRecordReader): a record per line; key = the
 *     line's byte offset in the file, 8 bytes big-endian (keys sort as the
 *     numbers do); value = the line without its '\n' and without a '\r'
 *     just before it (CRLF), nor a UTF-8 byte-order mark at offset 0.  A
 *     last line without '\n' is a record; an empty line is a record with
 *     an empty value.  Only '\n' ends a line: a lone '\r' stays in the
 *     value (Hadoop also ends lines at a lone CR; ember reads CRLF and LF
 *     files the same, old Mac CR-only files as one line).
 *     The split rule (Hadoop's exactly): a chunk (start, length) with
 *     start > 0 skips its first line, whole or partial, and reads every
 *     line that begins at a position <= start + length: the line that
 *     begins at the next chunk's start is this chunk's, and the next chunk
 *     skips it.  Every line is read once, by the chunk holding the byte
 *     before it (the first line by the chunk at 0).
 *     A line of max_line_length bytes or more, its line end counted, is
 *     skipped (mapreduce.input.linerecordreader.line.maxlength; Hadoop logs
 *     "Skipped line of size N at pos P"); the stats count them.  A longer
 *     line than the buffer is fine: the buffer grows, up to the maximum.
 *   KEY_VALUE (KeyValueTextInputFormat): the same lines, cut at the first
 *     separator byte (mapreduce.input.keyvaluelinerecordreader.key.value.
 *     separator, TAB by default; its first byte is used, as Hadoop does):
 *     key before it, value after; a line without one is all key, with an
 *     empty value.
 *   FIXED (FixedLengthInputFormat): records of record_length bytes
 *     (ember.input.record.length); a chunk reads the records whose first
 *     byte lies in [start, start + length); key = the record's offset, 8
 *     bytes big-endian; value = its bytes.  A file whose size is not a
 *     multiple of the record length is an error (EMBER_ECORRUPT, "partial
 *     record(length = N) found at the end of ...", as Hadoop's
 *     FixedLengthRecordReader), raised at open by every chunk of it.
 *   WHOLE_FILE: one record per file, key = the source's name (its path),
 *     value = every byte of it; never split; over max_file_size it is an
 *     error (EMBER_ETOOBIG).
 *
 * gzip: a source whose name ends in ".gz" (Hadoop picks its codec by the
 * suffix too) is decompressed with zlib for TEXT, KEY_VALUE and FIXED;
 * offsets are then positions in the decompressed stream, concatenated
 * gzip members are read one after the other, and the file cannot be split
 * (its chunk must start at 0; mr_reader_splittable() says so).  WHOLE_FILE
 * hands out a .gz file's bytes as they are. */
#ifndef EMBER_MR_READER_H
#define EMBER_MR_READER_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "mr_source.h"

#define MR_READER_BUFFER (1u << 20)
/* Defaults of max_line_length and max_file_size. */
#define MR_READER_MAX_LINE (2ull << 30)
#define MR_READER_MAX_FILE (2ull << 30)
/* The longest error message, its NUL included. */
#define MR_READER_ERROR_MAX 320

typedef enum {
    MR_FORMAT_TEXT = 0,
    MR_FORMAT_KEY_VALUE,
    MR_FORMAT_FIXED,
    MR_FORMAT_WHOLE_FILE,
} mr_format;

typedef enum {
    MR_COMPRESSION_AUTO = 0, /* gzip when the name ends in ".gz" */
    MR_COMPRESSION_NONE,
    MR_COMPRESSION_GZIP,
} mr_compression;

/* Zeros are the defaults. */
typedef struct {
    mr_format format;
    size_t buffer_size;       /* the read buffer's first size; 0: MR_READER_BUFFER */
    uint64_t max_line_length; /* TEXT, KEY_VALUE; 0: MR_READER_MAX_LINE */
    const char *separator;    /* KEY_VALUE; NULL or "": "\t" */
    uint32_t record_length;   /* FIXED; must be > 0 */
    uint64_t max_file_size;   /* WHOLE_FILE; 0: MR_READER_MAX_FILE */
    mr_compression compression;
} mr_reader_options;

typedef struct {
    uint64_t records;       /* handed out */
    uint64_t bytes_read;    /* from the source (compressed bytes for gzip) */
    uint64_t skipped_lines; /* over max_line_length */
    uint64_t last_skipped_offset, last_skipped_size; /* the last of them */
    size_t buffer_size; /* the read buffer's size now (it only grows) */
} mr_reader_stats;

typedef struct mr_reader mr_reader;

/* Opens a reader of the chunk [offset, offset + length) of src, which the
 * caller keeps open until mr_reader_close() (the reader never closes it).
 * opts NULL means TEXT with the defaults.  On failure *out is NULL and
 * err (err_size bytes, may be NULL) holds a one-line message naming the
 * file: EMBER_EINVAL for options that cannot work (a record length of 0,
 * a gzip or whole-file chunk not at 0), EMBER_ECORRUPT for fixed-length
 * input of a size that is not a multiple of the record length,
 * EMBER_ETOOBIG for a whole file over its limit, EMBER_ENOMEM. */
int mr_reader_open(mr_source *src, uint64_t offset, uint64_t length, const mr_reader_options *opts,
                   mr_reader **out, char *err, size_t err_size);

/* The reader as a kv_stream, for merges and loops that take one. */
kv_stream *mr_reader_stream(mr_reader *r);

/* 1 with *rec set (valid until the next call or close), 0 at the end of
 * the chunk, or a negative EMBER_E* code (a read failed: the source's
 * code; bad gzip data or a partial fixed-length record: EMBER_ECORRUPT)
 * with mr_reader_error() saying what.  An error is final: later calls
 * return it again. */
int mr_reader_next(mr_reader *r, kv_record *rec);

/* The message of the last error ("" when none); valid until close. */
const char *mr_reader_error(const mr_reader *r);

void mr_reader_get_stats(const mr_reader *r, mr_reader_stats *stats);

/* How far through its chunk the reader is, 0.0 to 1.0 (for the task's
 * progress). */
double mr_reader_progress(const mr_reader *r);

/* Frees the reader (not its source); NULL is fine. */
void mr_reader_close(mr_reader *r);

/* 1 when a file of this name may be cut into several chunks with these
 * options (NULL: TEXT), 0 when it must be read whole: the whole-file
 * format, and gzip input. */
int mr_reader_splittable(const mr_reader_options *opts, const char *name);

#endif
