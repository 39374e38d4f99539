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
 *     const ember_job *ember_job_define(void) { return &wc; }
 *
 * The driver (Hadoop's Tool.run): a job without a configure hook takes
 * "IN... OUT" as its arguments.  A job that needs its own arguments, more
 * than one pass or work before and after sets configure: the submitting
 * command calls it once, before any task, with the arguments after the
 * job's name (the -D options taken out) and an ember_setup to describe
 * the run with: input paths, the output path, configuration values, a
 * usage line, and, for a job that reads no files, generated splits (each
 * one map task, whose map gets the split's one record).  It may run other
 * jobs to completion first (ember_setup_run(): Hadoop's
 * job.waitForCompletion()), read their counters, and sample the input.
 * It returns 0 to run the job as set up, EMBER_JOB_DONE when its work is
 * done without it (a driver that only ran other jobs), the value of
 * ember_setup_usage() for bad arguments, or anything else to fail.
 * Paths are written as on the command line (HDFS unless "file:...").
 * examples/grep.c (two jobs), teragen.c (generated splits), terasort.c
 * (sampling) and pi.c (a driver around one job) use it:
 *
 *     static int grep_configure(ember_setup *s, int argc,
 *                               const char *const *argv) {
 *         if (argc < 3 || argc > 4)
 *             return ember_setup_usage(s, "<in> <out> <regex> [<group>]");
 *         char tmp[1024];
 *         if (ember_setup_output(s, argv[1]) != 0 ||
 *             ember_setup_temp_path(s, tmp, sizeof(tmp)) != 0)
 *             return -1;                 (the reason is recorded)
 *         const char *search[] = {argv[0], tmp, argv[2], argc > 3 ? argv[3] : "0"};
 *         if (ember_setup_run(s, &grep_search, 4, search) != 0)
 *             return -1;                 (the search job said why)
 *         if (ember_setup_input(s, tmp) != 0 ||   (this job sorts its output)
 *             ember_setup_set(s, "mapreduce.job.reduces", "1") != 0)
 *             return -1;
 *         return 0;
 *     } */
#ifndef EMBER_MAPREDUCE_H
#define EMBER_MAPREDUCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this API a job was built against; ember refuses a job of
 * another version with a clear message.  Version 2 added configure (a job
 * of version 1 still runs, as "IN... OUT"). */
#define EMBER_JOB_ABI 2

/* What configure returns besides 0 (run the job) and failures. */
#define EMBER_JOB_USAGE 2 /* bad arguments: see ember_setup_usage() */
#define EMBER_JOB_DONE 3  /* the driver's work is done; the job itself does not run */

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

/* A run being described, as configure sees it.  Opaque. */
typedef struct ember_setup ember_setup;
typedef int (*ember_configure_fn)(ember_setup *setup, int argc, const char *const *argv);
/* One record handed to the caller (ember_setup_sample()); 0 to go on. */
typedef int (*ember_record_fn)(void *arg, const void *key, size_t key_len, const void *value,
                               size_t value_len);

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
    ember_configure_fn configure;   /* optional: the driver (see above); NULL: IN... OUT */
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

/* A ready-made combiner (or reduce) for counts, Hadoop's LongSumReducer:
 * the values are 8-byte unsigned integers in the machine's byte order;
 * emits the key with their sum (modulo 2^64) as 8 bytes.  A value of
 * another length fails the task.  Named as a job's combine
 * (.combine = ember_sum_u64), it also lets the map side add each pair's
 * value into its key's running sum as the pair comes, keeping one value
 * per key instead of a list for the combiner (Spark's reduceByKey does
 * the same); examples/wordcount.c uses it. */
int ember_sum_u64(ember_task *task, const void *key, size_t key_len, ember_values *values);

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

/* Where a map's current record comes from, as configuration values (the
 * names are Hadoop's, set by its MapTask for a file split):
 *   mapreduce.map.input.file    the file's URI ("hdfs:///a/b", "file:/a/b")
 *   mapreduce.map.input.start   the byte offset of the chunk being read
 *   mapreduce.map.input.length  the chunk's length
 *   ember.map.input.index       which of the job's inputs (0 = the first
 *                               path given) the file was found under
 * A split may hold chunks of several files (small files are combined), so
 * these can change between two records of one map task.  Unset for
 * generated splits and in reduce tasks. */

/* The driver's calls, valid only inside configure.  Each returns 0, or
 * -1 with the reason recorded (configure should then return -1 too). */

/* Adds an input: a file, a directory (its files) or a glob. */
int ember_setup_input(ember_setup *setup, const char *path);
/* Sets the output directory, which must not exist yet. */
int ember_setup_output(ember_setup *setup, const char *path);
/* Sets a configuration value for this job's tasks, over -D (as a Tool's
 * job.setX() does); ember_setup_get() reads -D values and earlier sets. */
int ember_setup_set(ember_setup *setup, const char *key, const char *value);
const char *ember_setup_get(ember_setup *setup, const char *key);
/* A job reading no files: adds a map task whose map is called once, with
 * this record (copied).  Maps are numbered in the order added. */
int ember_setup_add_split(ember_setup *setup, const void *key, size_t key_len, const void *value,
                          size_t value_len);
/* Records the job's arguments ("<in> <out> <regex> [<group>]") for the
 * usage message; returns EMBER_JOB_USAGE for configure to return. */
int ember_setup_usage(ember_setup *setup, const char *arguments);
/* Records why configure fails (printf format, one line); returns -1. */
int ember_setup_error(ember_setup *setup, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* A fresh path for an intermediate output (the first pass of a two-pass
 * job), written into out: beside the output on its file system when the
 * output is set, else a local directory; removed, with whatever was
 * written there, when this job ends, failed or not. */
int ember_setup_temp_path(ember_setup *setup, char *out, size_t len);
/* Runs another job now, to completion: its configure (when it has one)
 * gets argc/argv and the command's -D values, then it runs as any job
 * does (progress, counters).  0 when it succeeded. */
int ember_setup_run(ember_setup *setup, const ember_job *job, int argc, const char *const *argv);
/* A counter of the job ember_setup_run() ran last (0 when absent). */
int64_t ember_setup_counter(ember_setup *setup, const char *group, const char *name);
/* Reads a sample of the inputs set so far, as the maps would read them
 * (the input format from the configuration): up to max_records records,
 * as many from each of up to max_splits splits spread evenly over the
 * input (TeraSort's sampler), each handed to fn. */
int ember_setup_sample(ember_setup *setup, uint64_t max_records, uint32_t max_splits,
                       ember_record_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
