/* merge_plan.h -- many sorted segments merged with at most `factor` files
 * open at once (Hadoop's Merger, mapreduce.task.io.sort.factor).
 *
 * The segments, in memory or regions of files, are merged in passes:
 * while more than factor of them are on disk, a run of consecutive
 * segments holding factor files (the first pass: just enough that every
 * later pass takes exactly factor, as Hadoop's getPassFactor) is merged
 * into an intermediate file in the caller's directory, which takes the
 * run's place; the run chosen is the one with the fewest bytes (Hadoop
 * merges its smallest segments; ember keeps runs consecutive so that the
 * order stays stable: records equal under cmp come out in segment order,
 * the merger's rule, however many passes).  What is left -- at most
 * factor files and any segments in memory, which hold no descriptor --
 * is opened as the final merge's inputs, for the caller to merge as it
 * streams (into the reduce, or into file.out with the combiner).
 * Intermediate files are removed once merged, and by merge_plan_free().
 * A segment its length shows empty (IFILE_EMPTY_SEGMENT) is left out, as
 * Hadoop drops empty segments. */
#ifndef EMBER_MR_MERGE_PLAN_H
#define EMBER_MR_MERGE_PLAN_H

#include "ifile.h"

/* Hadoop's default mapreduce.task.io.sort.factor (EMR raises it). */
#define MERGE_PLAN_DEFAULT_FACTOR 10

/* One sorted IFile segment: on disk (path set) or in memory. */
typedef struct {
    const char *path;  /* the file holding it; NULL: in memory */
    ifile_range range; /* its region of the file */
    const void *data;  /* in memory: the whole segment (path NULL) */
    size_t len;
} merge_segment;

typedef struct {
    int factor;           /* files open at once for reading, >= 2 */
    ember_compare_fn cmp; /* the sort order; NULL: bytes */
    const char *dir;      /* intermediate files: DIR/NAME.mergeN */
    const char *name;
    int codec;     /* theirs (IFILE_CODEC_*) */
    size_t memory; /* read buffers of one merge, in all (64 KiB to 1 MiB each) */
    /* Called every MERGE_PLAN_TICK_RECORDS records written by an
     * intermediate merge (a long one shows the task alive); may be NULL. */
    void (*tick)(void *arg);
    void *tick_arg;
} merge_plan_options;

#define MERGE_PLAN_TICK_RECORDS 65536u

typedef struct {
    uint64_t passes;          /* intermediate merges done */
    uint64_t records_written; /* records they wrote (Hadoop's Spilled Records) */
    uint64_t bytes_written;
    int open_files, peak_files; /* segment files open for reading: now, at most */
} merge_plan_stats;

typedef struct merge_plan merge_plan;

/* Runs the intermediate passes over segs[0, n) (not kept: paths and
 * memory are, until merge_plan_free) and opens the final inputs.  0 with
 * *out, or an error (EMBER_EIO, EMBER_ECORRUPT, EMBER_ENOMEM,
 * EMBER_EINVAL for a factor below 2) with every intermediate file gone. */
int merge_plan_open(const merge_plan_options *o, const merge_segment *segs, int n,
                    merge_plan **out);

/* The final merge's inputs, in segment order: *k sorted streams, owned by
 * the plan. */
kv_stream **merge_plan_streams(merge_plan *p, int *k);

const merge_plan_stats *merge_plan_get_stats(const merge_plan *p);

/* Closes the inputs and removes the intermediate files; NULL is fine. */
void merge_plan_free(merge_plan *p);

#endif
