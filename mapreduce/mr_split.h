/* mr_split.h -- a job's input cut into splits, one per map task, as
 * Hadoop's FileInputFormat.getSplits() and CombineFileInputFormat do.
 *
 * A split is a list of chunks, each a byte range of one file, plus the
 * hosts where its bytes are stored (the scheduler's locality hint).  A
 * plain split (FileInputFormat's FileSplit) has one chunk; a combined
 * split (CombineFileSplit) packs many, so 10,000 small files make a
 * handful of map tasks rather than 10,000.  A record reader (mr_reader.h)
 * reads each chunk; the text readers' line rule makes a chunk boundary
 * anywhere in a file safe.
 *
 * Plain splits, per file, in order (Hadoop 3):
 *   splitSize = max(minSize, min(maxSize, blockSize)); while the bytes left
 *   are more than 1.1 x splitSize (SPLIT_SLOP) cut a split of splitSize;
 *   the rest (at most 1.1 x splitSize) is the last split.  A file that is
 *   not splittable (gzip, the whole-file format) is one split; a file of
 *   0 bytes is one split of 0 bytes with no hosts, as Hadoop 3 makes (the
 *   whole-file format reads it as one empty record, the others as none).
 *   A split's hosts are those of the block holding most of its bytes.
 * Combined splits: every block is a piece (a block larger than the maximum
 *   is cut in pieces of at most the maximum, Hadoop's halving of the last
 *   two kept); then, host after host in turn, a host's unassigned pieces
 *   fill one split up to the maximum (hosts = that host), until no host
 *   can fill one; a host's leftovers make a split of their own only when
 *   they reach min_size_per_node and the host has none yet; the pieces
 *   still left are packed in input order, up to the maximum, each split
 *   naming the hosts that hold most of its bytes.  Hadoop would add a pass
 *   per rack between the two; ember has no racks.  Unlike Hadoop, a split
 *   never grows past the maximum unless one piece alone does (a file that
 *   is not splittable). */
#ifndef EMBER_MR_SPLIT_H
#define EMBER_MR_SPLIT_H

#include <stddef.h>
#include <stdint.h>

/* Hadoop's SPLIT_SLOP: the last split of a file may be this much larger
 * than the split size rather than leave a tiny one. */
#define MR_SPLIT_SLOP 1.1
/* A file whose block size is 0 (a local file) counts this one: Hadoop's
 * fs.local.block.size. */
#define MR_SPLIT_LOCAL_BLOCK_SIZE (32ull << 20)
/* At most this many hosts name a combined split's location. */
#define MR_SPLIT_MAX_HOSTS 3

/* One block of a file and where its replicas are. */
typedef struct {
    uint64_t offset, length;
    const char *const *hosts;
    size_t host_count;
} mr_block;

/* One input file.  blocks is optional (NULL: no locations known); when
 * given, the blocks are in order and cover [0, size) exactly. */
typedef struct {
    const char *path;
    uint64_t size;
    uint64_t block_size; /* 0: MR_SPLIT_LOCAL_BLOCK_SIZE */
    int splittable;      /* 0: one split (or piece) for the whole file */
    const mr_block *blocks;
    size_t block_count;
} mr_input_file;

typedef struct {
    uint64_t min_size;          /* mapreduce.input.fileinputformat.split.minsize; 0 = 1 */
    uint64_t max_size;          /* ....split.maxsize; 0 = unset (plain: no limit;
                          combined: the split size of the largest block size) */
    int combine;                /* 1: CombineFileInputFormat's packing */
    uint64_t min_size_per_node; /* ....split.minsize.per.node (combined only) */
} mr_split_options;

typedef struct {
    const char *path; /* owned by the list */
    uint64_t offset, length;
    size_t file; /* its file's index in the array given (a file listed twice is read twice) */
} mr_chunk;

typedef struct {
    mr_chunk *chunks;
    size_t chunk_count;
    uint64_t length;    /* the chunks' bytes */
    const char **hosts; /* owned by the list; NULL when host_count is 0 */
    size_t host_count;
} mr_split;

typedef struct {
    mr_split *splits;
    size_t count;
    /* private: the storage the splits point into */
    mr_chunk *chunk_store;
    const char **host_store;
    char **strings;
    size_t string_count;
} mr_split_list;

/* Computes the splits of count files (in the order given).  The list
 * copies every path and host name it keeps: files may be freed after.
 * EMBER_EINVAL for blocks that do not cover their file, or (combined) a
 * min_size_per_node over max_size (Hadoop's "Minimum split size pernode
 * ... cannot be larger than maximum split size"); EMBER_ENOMEM.  Free
 * with mr_split_list_free() (also after a failure). */
int mr_split_compute(const mr_input_file *files, size_t count, const mr_split_options *opts,
                     mr_split_list *out);

void mr_split_list_free(mr_split_list *list);

#endif
