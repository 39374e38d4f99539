/* ember/mapreduce.h -- the C job API of ember's MapReduce.
 *
 * A job is a shared library that exports one function,
 *
 *     const ember_job *ember_job_define(void);
 *
 * returning a static description of the job: its map and reduce functions
 * and, optionally, a combiner, a partitioner, a sort comparator, a
 * grouping comparator, and setup/cleanup hooks.  Keys and values are byte
 * strings of any content (NUL bytes included) and any length the sort
 * buffer can hold; the framework never looks inside them except through
 * the job's comparators and partitioner.
 *
 * What runs where, as in Hadoop:
 *   map      once per input record, in a map task; emits (key, value)
 *            pairs with ember_emit().
 *   combine  optional; the map side's mini-reduce, run on groups of equal
 *            keys when a sort buffer spills and when spills are merged.
 *            Same signature as reduce; it must emit pairs of the map's
 *            output types and may run zero, one or many times per key.
 *   reduce   once per distinct key (per group, see group_compare), with
 *            every value the maps emitted for it, in a reduce task; emits
 *            the job's output records.
 * Every task calls setup before its first record and cleanup after its
 * last, in the same process; both may emit.  A function returns 0, or
 * non-zero to fail the task attempt (the framework retries it elsewhere,
 * as Hadoop does, up to mapreduce.map.maxattempts times).
 *
 * Ordering: the map outputs reaching one reduce are sorted by key with
 * sort_compare (default: bytes compared as unsigned, the shorter first on
 * a tie -- Hadoop's order for Text and BytesWritable), and each reduce
 * call gets one group: consecutive keys that group_compare (default:
 * sort_compare) calls equal.  A grouping comparator coarser than the sort
 * comparator gives Hadoop's secondary sort: values arrive in the order of
 * their full keys, and ember_key() names the current one.
 *
 * Partitioning: partition(key, n) picks one of n reduces; the default is
 * Hadoop's HashPartitioner over Text's hash, so a key lands on the same
 * reduce number as it would in Hadoop.
 *
 * Input formats: what map receives as (key, value), as Hadoop's
 * FileInputFormat family.  Text lines: key = the line's byte offset in
 * its file as 8 bytes big-endian (so keys sort as the numbers do; decode
 * with (uint64_t)k[0] << 56 | ... | k[7]), value = the line without its
 * '\n' or "\r\n".  Key-value text: the line cut at its first TAB (or
 * mapreduce.input.keyvaluelinerecordreader.key.value.separator's first
 * byte); no separator: all key, empty value.  Fixed-length records
 * (ember.input.record.length = R): key = the record's offset as 8 bytes
 * big-endian, value = its R bytes.  Whole files: key = the file's path,
 * value = its bytes.  A .gz file is decompressed (and read by one map).
 *
 * Example (examples/wordcount.c is the complete, built version):
 *
 *     static int wc_map(ember_task *t, const void *k, size_t kl,
 *                       const void *line, size_t n) {
 *         ... for each word w of length wl in line:
 *             ember_emit(t, w, wl, "\x01", 1) ...
 *     }
 *     static int wc_reduce(ember_task *t, const void *word, size_t wl,
 *                          ember_values *vals) { ... sum, ember_emit() }
 *     static const ember_job wc = {EMBER_JOB_ABI, "wordcount", wc_map,
 *                                  wc_reduce, .combine = wc_reduce};
 *     const ember_job *ember_job_define(void) { return &wc; } */
#ifndef EMBER_MAPREDUCE_H
#define EMBER_MAPREDUCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this API a job was built against; ember refuses a job of
 * another version with a clear message. */
#define EMBER_JOB_ABI 1

/* One running task, as the job's functions see it.  Opaque. */
typedef struct ember_task ember_task;

/* The values of one reduce (or combine) group, read once, in order. */
typedef struct ember_values ember_values;

typedef int (*ember_map_fn)(ember_task *task, const void *key, size_t key_len, const void *value,
                            size_t value_len);
typedef int (*ember_reduce_fn)(ember_task *task, const void *key, size_t key_len,
                               ember_values *values);
/* <0, 0, >0 as memcmp. */
typedef int (*ember_compare_fn)(const void *a, size_t a_len, const void *b, size_t b_len);
/* A number in [0, partitions). */
typedef uint32_t (*ember_partition_fn)(const void *key, size_t key_len, uint32_t partitions);
typedef int (*ember_hook_fn)(ember_task *task);

typedef struct {
    uint32_t abi;                   /* EMBER_JOB_ABI */
    const char *name;               /* shown in progress, history and logs */
    ember_map_fn map;               /* required */
    ember_reduce_fn reduce;         /* NULL: identity (each pair out as it came) */
    ember_reduce_fn combine;        /* optional */
    ember_partition_fn partition;   /* NULL: Hadoop's HashPartitioner */
    ember_compare_fn sort_compare;  /* NULL: unsigned bytes */
    ember_compare_fn group_compare; /* NULL: sort_compare */
    ember_hook_fn setup, cleanup;   /* optional, per task */
} ember_job;

/* What a job library exports. */
const ember_job *ember_job_define(void);

/* Emits one pair: from map (to the shuffle) or reduce (to the output).
 * The bytes are copied before it returns.  0, or non-zero when the pair
 * cannot be taken (a record larger than the sort buffer; an output
 * write failed): the function should return that value. */
int ember_emit(ember_task *task, const void *key, size_t key_len, const void *value,
               size_t value_len);

/* The next value of the group: 1 with *value and *len set (valid until the
 * next call), 0 at the end. */
int ember_values_next(ember_values *values, const void **value, size_t *len);

/* The full key of the value ember_values_next() returned last (secondary
 * sort: it differs within a group when group_compare is coarser). */
void ember_key(ember_values *values, const void **key, size_t *len);

/* Adds delta to the counter name of group (both copied; created at 0).
 * User groups are reported beside the framework's ("Map-Reduce
 * Framework", "File System Counters", ...), summed over the job. */
void ember_counter_add(ember_task *task, const char *group, const char *name, int64_t delta);

/* The job's configuration value for key (-D key=value, or the cluster's
 * configuration), or NULL.  Valid for the task's life. */
const char *ember_conf(ember_task *task, const char *key);

/* Which task this is: its partition number (the map's split number, or the
 * reduce's partition), and whether it is a map task. */
uint32_t ember_task_number(const ember_task *task);
int ember_task_is_map(const ember_task *task);

/* Tells the framework the task is alive during a long computation with no
 * records read or emitted (mapreduce.task.timeout). */
void ember_progress(ember_task *task);

#ifdef __cplusplus
}
#endif

#endif
