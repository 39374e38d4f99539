/* mr_source.h -- the bytes a map task reads: a file's size and positional
 * reads of it, whatever holds it.
 *
 * A record reader (mr_reader.h) reads its split through an mr_source and
 * nothing else, so the same readers serve a local file (a path every node
 * can read, file://), bytes in memory (tests) and an HDFS file (a source
 * over ember_dfs_pread(), added beside the job runner).  The interface is
 * kept this small on purpose: a size, a pread that may return fewer bytes
 * than asked, a close, and a name for messages and for the whole-file
 * format's key. */
#ifndef EMBER_MR_SOURCE_H
#define EMBER_MR_SOURCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mr_source mr_source;
struct mr_source {
    uint64_t size; /* the file's length in bytes, fixed at open */
    /* Reads up to len bytes at offset off into buf; *got is how many, 0
     * only at or past the end.  It may return fewer than asked before the
     * end: a caller that wants len bytes loops.  0 or a negative EMBER_E*
     * code. */
    int (*pread)(mr_source *s, void *buf, size_t len, uint64_t off, size_t *got);
    /* Frees the source and whatever it holds (the file descriptor). */
    void (*close)(mr_source *s);
    const char *name; /* the path (as given to open), owned by the source */
};

/* Opens a local file for reading.  EMBER_ENOENT, EMBER_EACCES or
 * EMBER_EISDIR for a path that cannot be read as a file, EMBER_EIO for
 * another failure.  The source copies path; close it with
 * mr_source_close(). */
int mr_source_open_file(const char *path, mr_source **out);

/* A source over len bytes at data, not copied: the caller keeps them
 * until the source is closed.  name is copied. */
int mr_source_open_memory(const void *data, size_t len, const char *name, mr_source **out);

/* Reads exactly len bytes at off (looping over short reads); EMBER_ECORRUPT
 * when the source ends first (it is shorter than its size said). */
int mr_source_read_full(mr_source *s, void *buf, size_t len, uint64_t off);

/* Closes s; NULL is fine. */
void mr_source_close(mr_source *s);

#endif
