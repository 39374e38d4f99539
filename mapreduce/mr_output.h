/* mr_output.h -- job output: byte sinks and TextOutputFormat.
 *
 * A sink takes bytes in order and is closed once (a local file here; an
 * HDFS file in mr_fs.c).  The text writer formats records as Hadoop's
 * TextOutputFormat: "key SEP value\n" (SEP from
 * mapreduce.output.textoutputformat.separator, TAB by default), with an
 * empty value standing for Hadoop's NullWritable: "key\n" (and an empty
 * key: "value\n"), so an identity job over lines writes the lines back
 * unchanged.  With raw set (ember.output.format=raw, Hadoop's
 * TeraOutputFormat) a record is its key's bytes then its value's, nothing
 * between or after: TeraSort's 100-byte records. */
#ifndef EMBER_MR_OUTPUT_H
#define EMBER_MR_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct mr_sink mr_sink;
struct mr_sink {
    int (*write)(mr_sink *s, const void *data, size_t len);
    /* Flushes and closes; frees the sink whatever the result. */
    int (*close)(mr_sink *s);
    /* Drops what was written where it can (a failed attempt); frees. */
    void (*abort)(mr_sink *s);
};

/* A local file, created (truncated) with mode 0644. */
int mr_sink_local(const char *path, mr_sink **out);

typedef struct {
    mr_sink *sink;
    uint8_t *buf;
    size_t len, cap;
    char sep[16];
    size_t sep_len;
    uint64_t bytes; /* written through, for "Bytes Written" */
    int failed;
    int raw; /* set after init: key and value bytes only */
} mr_text_writer;

/* sep NULL: TAB. */
int mr_text_writer_init(mr_text_writer *w, mr_sink *sink, const char *sep);
/* An mr_emit_fn: arg is the writer. */
int mr_text_writer_write(void *arg, const void *key, size_t key_len, const void *value,
                         size_t value_len);
/* Flushes and closes the sink (or aborts it after a failure). */
int mr_text_writer_close(mr_text_writer *w);
void mr_text_writer_abort(mr_text_writer *w);

#endif
