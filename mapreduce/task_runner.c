/* task_runner.c -- see task_runner.h.
 *
 * A map: setup -> each chunk opened (the mapreduce.map.input.* keys set)
 * and read with the job's input format, each record through map -> the
 * generated record instead when there is one -> cleanup; what map emits
 * goes to the map output collector or to a part file.  A reduce: its
 * segments merged down to at most the merge factor's files (merge_plan.h)
 * -> setup -> reduce_run() over the merge of what is left -> cleanup,
 * what they emit to its part file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "reduce_task.h"
#include "task_runner.h"

/* Records between two calls of the tick hook. */
#define TASK_TICK_RECORDS 256
/* mapreduce.task.io.sort.factor's largest: files open at once, under
 * any usual RLIMIT_NOFILE's hard limit. */
#define TASK_MERGE_FACTOR_MAX 10000
/* A reduce's merge read buffers, in all (64 KiB to 1 MiB each). */
#define TASK_MERGE_MEMORY (64u << 20)

static int task_fail(mr_task_ctx *c, int rc, const char *fmt, const char *what) {
    if (c->err[0] == '\0')
        snprintf(c->err, c->errlen, fmt, what, ember_strerror(rc));
    return rc;
}

/* The input format: ember.input.format (text, keyvalue, fixed,
 * wholefile); a record length (ember.input.record.length) alone means
 * fixed, as TeraSort's input needs. */
static int task_reader_options(const mr_conf *c, mr_reader_options *o, char *err, size_t errlen) {
    const char *format = mr_conf_get(c, "ember.input.format");
    uint64_t record_length, max_line;
    int rc = mr_conf_get_size(c, "ember.input.record.length", 0, &record_length, err, errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(c, "mapreduce.input.linerecordreader.line.maxlength", 0, &max_line,
                              err, errlen);
    if (rc != EMBER_OK)
        return rc;
    *o =
        (mr_reader_options){.max_line_length = max_line,
                            .record_length = (uint32_t)record_length,
                            .separator = mr_conf_get(
                                c, "mapreduce.input.keyvaluelinerecordreader.key.value.separator")};
    if (format == NULL)
        o->format = record_length > 0 ? MR_FORMAT_FIXED : MR_FORMAT_TEXT;
    else if (strcmp(format, "text") == 0)
        o->format = MR_FORMAT_TEXT;
    else if (strcmp(format, "keyvalue") == 0)
        o->format = MR_FORMAT_KEY_VALUE;
    else if (strcmp(format, "fixed") == 0)
        o->format = MR_FORMAT_FIXED;
    else if (strcmp(format, "wholefile") == 0)
        o->format = MR_FORMAT_WHOLE_FILE;
    else {
        snprintf(err, errlen,
                 "ember.input.format: '%s' is not one of text, keyvalue, fixed, "
                 "wholefile",
                 format);
        return EMBER_ECONFIG;
    }
    if (o->format == MR_FORMAT_FIXED && (record_length == 0 || record_length > UINT32_MAX)) {
        snprintf(err, errlen,
                 "fixed-length input needs ember.input.record.length "
                 "(1 to 4294967295 bytes)");
        return EMBER_ECONFIG;
    }
    return EMBER_OK;
}

int mr_task_settings_read(const mr_conf *conf, mr_task_settings *s, char *err, size_t errlen) {
    uint64_t reduces = 1, sort_mb = 100, factor = MERGE_PLAN_DEFAULT_FACTOR;
    *s = (mr_task_settings){0};
    int rc = mr_conf_get_size(conf, "mapreduce.job.reduces", 1, &reduces, err, errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(conf, "mapreduce.task.io.sort.mb", 100, &sort_mb, err, errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(conf, "mapreduce.task.io.sort.factor", MERGE_PLAN_DEFAULT_FACTOR,
                              &factor, err, errlen);
    if (rc == EMBER_OK && (factor < 2 || factor > TASK_MERGE_FACTOR_MAX)) {
        snprintf(err, errlen, "mapreduce.task.io.sort.factor: %llu is out of range (2 to %d)",
                 (unsigned long long)factor, TASK_MERGE_FACTOR_MAX);
        rc = EMBER_ECONFIG;
    }
    if (rc == EMBER_OK && reduces > 100000) {
        snprintf(err, errlen, "mapreduce.job.reduces: %llu is too many (at most 100000)",
                 (unsigned long long)reduces);
        rc = EMBER_ECONFIG;
    }
    if (rc == EMBER_OK && (sort_mb == 0 || sort_mb > 2047)) {
        snprintf(err, errlen, "mapreduce.task.io.sort.mb: %llu is out of range (1 to 2047)",
                 (unsigned long long)sort_mb);
        rc = EMBER_ECONFIG;
    }
    s->reduces = (uint32_t)reduces;
    s->sort_bytes = sort_mb << 20;
    s->merge_factor = (int)factor;
    s->separator = mr_conf_get(conf, "mapreduce.output.textoutputformat.separator");
    const char *format = mr_conf_get(conf, "ember.output.format");
    s->raw_output = format != NULL && strcmp(format, "raw") == 0;
    if (rc == EMBER_OK && format != NULL && !s->raw_output && strcmp(format, "text") != 0) {
        snprintf(err, errlen, "ember.output.format: '%s' is not one of text, raw", format);
        rc = EMBER_ECONFIG;
    }
    if (rc == EMBER_OK)
        rc = task_reader_options(conf, &s->reader, err, errlen);
    return rc;
}

/* The job's configuration, and Hadoop's mapreduce.map.input.* keys (plus
 * ember.map.input.index) while a map reads a chunk of a file. */
static const char *task_conf(void *arg, const char *key) {
    const mr_task_ctx *c = arg;
    if (c->in_file[0] != '\0') {
        if (strcmp(key, "mapreduce.map.input.file") == 0)
            return c->in_file;
        if (strcmp(key, "mapreduce.map.input.start") == 0)
            return c->in_start;
        if (strcmp(key, "mapreduce.map.input.length") == 0)
            return c->in_length;
        if (strcmp(key, "ember.map.input.index") == 0)
            return c->in_index;
    }
    return mr_conf_get(c->conf, key);
}

static void task_init(mr_task_ctx *c, ember_task *t, uint32_t number, int is_map) {
    *t = (ember_task){.counters = c->counters,
                      .conf = task_conf,
                      .conf_arg = c,
                      .number = number,
                      .is_map = is_map};
}

int mr_task_open_chunk(mr_task_ctx *c, const mr_task_chunk *chunk, mr_source **out) {
    mr_path_uri(&chunk->path, c->in_file, sizeof(c->in_file));
    snprintf(c->in_start, sizeof(c->in_start), "%llu", (unsigned long long)chunk->offset);
    snprintf(c->in_length, sizeof(c->in_length), "%llu", (unsigned long long)chunk->length);
    snprintf(c->in_index, sizeof(c->in_index), "%zu", chunk->input);
    int rc = mr_fs_open(c->fs, &chunk->path, out);
    return rc != EMBER_OK ? task_fail(c, rc, "cannot open %s: %s", c->in_file) : rc;
}

static void task_tick(mr_task_ctx *c, double fraction) {
    if (c->tick != NULL)
        c->tick(c->tick_arg, fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
}

/* One chunk's records through the job's map. */
static int task_map_chunk(mr_task_ctx *c, const mr_task_chunk *chunk, ember_task *t,
                          uint64_t *records, double done, double share) {
    mr_source *src;
    int rc = mr_task_open_chunk(c, chunk, &src);
    if (rc != EMBER_OK)
        return rc;
    mr_reader *r = NULL;
    rc = mr_reader_open(src, chunk->offset, chunk->length, &c->settings->reader, &r, c->err,
                        c->errlen);
    kv_record rec;
    int more = 0;
    uint64_t n = 0;
    while (rc == EMBER_OK && (more = mr_reader_next(r, &rec)) == 1) {
        if (++n % TASK_TICK_RECORDS == 0)
            task_tick(c, done + share * mr_reader_progress(r));
        if (c->job->map(t, rec.key, rec.key_len, rec.value, rec.value_len) != 0) {
            snprintf(c->err, c->errlen,
                     "map task %u failed: the job's map refused record %llu of %s at byte %llu",
                     t->number, (unsigned long long)n, c->in_file,
                     (unsigned long long)chunk->offset);
            rc = EMBER_EINVAL;
        }
    }
    if (rc == EMBER_OK && more < 0) {
        rc = more;
        snprintf(c->err, c->errlen, "%s", mr_reader_error(r));
    }
    *records += n;
    if (r != NULL) {
        mr_reader_stats st;
        mr_reader_get_stats(r, &st);
        c->bytes_read[chunk->path.local] += st.bytes_read;
    }
    mr_reader_close(r);
    src->close(src);
    c->in_file[0] = '\0';
    return rc;
}

/* The map's input through the job's map, setup and cleanup around. */
static int task_map_records(mr_task_ctx *c, const mr_task_input *in, ember_task *t) {
    const ember_job *job = c->job;
    uint64_t records = 0, total = 0, done = 0;
    int rc = job->setup != NULL && job->setup(t) != 0 ? EMBER_EINVAL : EMBER_OK;
    if (rc != EMBER_OK)
        snprintf(c->err, c->errlen, "the job's setup failed in map task %u", t->number);
    for (size_t i = 0; i < in->nchunks; i++)
        total += in->chunks[i].length;
    for (size_t i = 0; rc == EMBER_OK && in->generated == NULL && i < in->nchunks; i++) {
        double share = total > 0 ? (double)in->chunks[i].length / (double)total : 0;
        rc = task_map_chunk(c, &in->chunks[i], t, &records,
                            total > 0 ? (double)done / (double)total : 0, share);
        done += in->chunks[i].length;
    }
    if (rc == EMBER_OK && in->generated != NULL) {
        const kv_record *g = in->generated;
        records = 1;
        if (job->map(t, g->key, g->key_len, g->value, g->value_len) != 0) {
            snprintf(c->err, c->errlen, "map task %u failed: the job's map refused its record",
                     t->number);
            rc = EMBER_EINVAL;
        }
    }
    if (rc == EMBER_OK && job->cleanup != NULL && job->cleanup(t) != 0) {
        snprintf(c->err, c->errlen, "the job's cleanup failed in map task %u", t->number);
        rc = EMBER_EINVAL;
    }
    mr_counters_add(c->counters, MR_GROUP_TASK, "Map input records", (int64_t)records);
    task_tick(c, 1);
    return rc;
}

int mr_task_part_open(mr_task_ctx *c, const mr_path *output, const char *attempt, char kind,
                      uint32_t number, mr_task_part *p) {
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "part-%c-%05u", kind, number);
    mr_path tmp;
    mr_sink *sink;
    int rc = mr_path_join(output, "_temporary", &tmp);
    if (rc == EMBER_OK)
        rc = mr_path_join(&tmp, attempt, &p->attempt_dir);
    if (rc == EMBER_OK)
        rc = mr_fs_mkdirs(c->fs, &p->attempt_dir);
    if (rc == EMBER_OK)
        rc = mr_path_join(&p->attempt_dir, p->name, &p->file);
    if (rc == EMBER_OK)
        rc = mr_fs_create(c->fs, &p->file, &sink);
    if (rc == EMBER_OK &&
        (rc = mr_text_writer_init(&p->w, sink, c->settings->separator)) != EMBER_OK)
        sink->abort(sink);
    p->w.raw = c->settings->raw_output;
    p->open = rc == EMBER_OK;
    return rc != EMBER_OK ? task_fail(c, rc, "cannot create %s: %s", p->name) : rc;
}

int mr_task_part_close(mr_task_ctx *c, mr_task_part *p) {
    if (!p->open)
        return EMBER_OK;
    p->open = 0;
    c->bytes_written[p->file.local] += p->w.bytes + p->w.len;
    int rc = mr_text_writer_close(&p->w);
    return rc != EMBER_OK ? task_fail(c, rc, "cannot write %s: %s", p->name) : rc;
}

/* The commit of a task's part file (FileOutputCommitter's commitTask):
 * the attempt's file renamed to OUT/_temporary/NAME.  A committed file
 * already there is an earlier attempt's that committed and was then
 * lost or failed after (only the attempt the scheduler allowed commits):
 * it is replaced, as Hadoop deletes an existing committed task path. */
int mr_task_part_commit(mr_task_ctx *c, const mr_path *output, mr_task_part *p) {
    int rc = mr_task_part_close(c, p);
    mr_path tmp, committed;
    if (rc == EMBER_OK)
        rc = mr_path_join(output, "_temporary", &tmp);
    if (rc == EMBER_OK)
        rc = mr_path_join(&tmp, p->name, &committed);
    if (rc == EMBER_OK)
        rc = mr_fs_delete(c->fs, &committed); /* a missing one is not an error */
    if (rc == EMBER_OK)
        rc = mr_fs_rename(c->fs, &p->file, &committed);
    if (rc == EMBER_OK)
        rc = mr_fs_delete(c->fs, &p->attempt_dir);
    return rc != EMBER_OK ? task_fail(c, rc, "cannot commit %s: %s", p->name) : rc;
}

void mr_task_part_abort(mr_task_ctx *c, mr_task_part *p) {
    if (p->open)
        mr_text_writer_abort(&p->w);
    p->open = 0;
    if (p->attempt_dir.path[0] != '\0')
        mr_fs_delete(c->fs, &p->attempt_dir);
}

static int task_emit_part(void *arg, const void *key, size_t key_len, const void *value,
                          size_t value_len) {
    return mr_text_writer_write(&((mr_task_part *)arg)->w, key, key_len, value, value_len);
}

static int task_emit_collect(void *arg, const void *key, size_t key_len, const void *value,
                             size_t value_len) {
    return map_output_collect(arg, key, key_len, value, value_len);
}

int mr_task_map_to_part(mr_task_ctx *c, uint32_t number, const mr_task_input *in, mr_task_part *p) {
    ember_task t;
    task_init(c, &t, number, 1);
    t.emit = task_emit_part;
    t.emit_arg = p;
    return task_map_records(c, in, &t);
}

int mr_task_map_to_output(mr_task_ctx *c, uint32_t number, const mr_task_input *in,
                          const char *dir) {
    ember_task t;
    task_init(c, &t, number, 1);
    map_output_options o = {.dir = dir,
                            .partitions = c->settings->reduces,
                            .sort_bytes = (size_t)c->settings->sort_bytes,
                            .merge_factor = c->settings->merge_factor,
                            .job = c->job,
                            .task = &t};
    map_output *mo = NULL;
    int rc = map_output_open(&o, &mo);
    if (rc != EMBER_OK)
        return task_fail(c, rc, "map task output in %s: %s", dir);
    t.emit = task_emit_collect;
    t.emit_arg = mo;
    rc = task_map_records(c, in, &t);
    if (rc == EMBER_OK && (rc = map_output_finish(mo, NULL)) != EMBER_OK)
        task_fail(c, rc, "map task output in %s: %s", dir);
    map_output_free(mo);
    return rc;
}

/* A reduce's input, counted: every TASK_TICK_RECORDS records read (by
 * the merge, from any input) the tick hook is called, so a reduce that
 * reads much and writes little still shows it is alive. */
typedef struct {
    kv_stream base;
    kv_stream *in;
    mr_task_ctx *c;
    uint64_t *read; /* shared by the inputs of one reduce */
} task_counted;

static int task_counted_next(kv_stream *s, kv_record *out) {
    task_counted *t = (task_counted *)s;
    int rc = t->in->next(t->in, out);
    if (rc == 1 && ++*t->read % TASK_TICK_RECORDS == 0)
        task_tick(t->c, 0.5); /* no measure of the whole: alive */
    return rc;
}

/* An intermediate merge's records: alive, no measure of the whole. */
static void task_merge_tick(void *arg) {
    mr_task_ctx *c = arg;
    if (c->merging != NULL)
        c->merging(c->tick_arg, 0);
    else
        task_tick(c, 0.5);
}

/* Merges segs down to at most the merge factor's files; the final
 * inputs, or an error with err set. */
static int task_reduce_merge(mr_task_ctx *c, uint32_t number, const merge_segment *segs, int n,
                             const char *merge_dir, merge_plan **plan) {
    char name[32]; /* reduces of one job may share merge_dir (local mode) */
    snprintf(name, sizeof(name), "reduce_%05u", number);
    merge_plan_options o = {.factor = c->settings->merge_factor > 0 ? c->settings->merge_factor
                                                                    : MERGE_PLAN_DEFAULT_FACTOR,
                            .cmp = c->job->sort_compare,
                            .dir = merge_dir,
                            .name = name,
                            .codec = IFILE_CODEC_NONE,
                            .memory = TASK_MERGE_MEMORY,
                            .tick = task_merge_tick,
                            .tick_arg = c};
    int rc = merge_plan_open(&o, segs, n, plan);
    if (rc != EMBER_OK)
        snprintf(c->err, c->errlen, "reduce task %u: merge of %d map outputs in %s: %s", number, n,
                 merge_dir, ember_strerror(rc));
    else
        mr_counters_add(c->counters, MR_GROUP_TASK, "Spilled Records",
                        (int64_t)merge_plan_get_stats(*plan)->records_written);
    return rc;
}

int mr_task_reduce(mr_task_ctx *c, uint32_t number, const merge_segment *segs, int n,
                   const char *merge_dir, mr_task_part *p) {
    ember_task t;
    task_init(c, &t, number, 0);
    mr_record_sink out = {task_emit_part, p};
    reduce_stats st;
    const ember_job *job = c->job;
    uint64_t read = 0;
    merge_plan *plan = NULL;
    int rc = task_reduce_merge(c, number, segs, n, merge_dir, &plan), k = 0;
    int merged = rc == EMBER_OK; /* else err says why */
    if (merged && c->merging != NULL)
        c->merging(c->tick_arg, 1);
    kv_stream **in = rc == EMBER_OK ? merge_plan_streams(plan, &k) : NULL;
    task_counted *counted = calloc(k > 0 ? (size_t)k : 1, sizeof(*counted));
    kv_stream **inputs = calloc(k > 0 ? (size_t)k : 1, sizeof(*inputs));
    if (rc == EMBER_OK && (counted == NULL || inputs == NULL))
        rc = EMBER_ENOMEM;
    for (int i = 0; rc == EMBER_OK && i < k; i++) {
        counted[i] = (task_counted){{task_counted_next}, in[i], c, &read};
        inputs[i] = &counted[i].base;
    }
    if (rc == EMBER_OK && job->setup != NULL && job->setup(&t) != 0)
        rc = EMBER_EINVAL;
    if (rc == EMBER_OK)
        rc = reduce_run(job, &t, inputs, k, &out, &st);
    free(inputs);
    free(counted);
    merge_plan_free(plan);
    if (rc == EMBER_OK && job->cleanup != NULL) {
        t.emit = task_emit_part;
        t.emit_arg = p;
        rc = job->cleanup(&t) != 0 ? EMBER_EINVAL : EMBER_OK;
    }
    if (rc == EMBER_EINVAL && merged)
        snprintf(c->err, c->errlen,
                 "reduce task %u failed: the job's reduce, setup or cleanup returned an error",
                 number);
    else if (rc != EMBER_OK && c->err[0] == '\0')
        snprintf(c->err, c->errlen, "reduce task %u: %s", number, ember_strerror(rc));
    task_tick(c, 1);
    return rc;
}

int mr_task_setup_job(mr_fs *fs, const mr_path *output, char *err, size_t errlen) {
    char uri[PATH_MAX + 16];
    mr_path_uri(output, uri, sizeof(uri));
    int is_dir;
    if (mr_fs_exists(fs, output, &is_dir) == EMBER_OK) {
        snprintf(err, errlen, "Output directory %s already exists", uri);
        return EMBER_EEXIST;
    }
    mr_path tmp;
    int rc = mr_path_join(output, "_temporary", &tmp);
    if (rc == EMBER_OK)
        rc = mr_fs_mkdirs(fs, &tmp);
    if (rc != EMBER_OK)
        snprintf(err, errlen, "cannot create %s: %s", uri, ember_strerror(rc));
    return rc;
}

int mr_task_commit_job(mr_fs *fs, const mr_path *output, char *err, size_t errlen) {
    mr_path tmp, to, success;
    mr_file *files = NULL;
    size_t n = 0;
    int rc = mr_path_join(output, "_temporary", &tmp);
    if (rc == EMBER_OK)
        rc = mr_fs_expand(fs, &tmp, &files, &n, err, errlen);
    for (size_t i = 0; rc == EMBER_OK && i < n; i++) {
        const char *name = strrchr(files[i].path.path, '/') + 1;
        if (strncmp(name, "part-", 5) != 0)
            continue;
        rc = mr_path_join(output, name, &to);
        if (rc == EMBER_OK)
            rc = mr_fs_rename(fs, &files[i].path, &to);
    }
    free(files);
    if (rc == EMBER_OK)
        rc = mr_fs_delete(fs, &tmp);
    mr_sink *sink;
    if (rc == EMBER_OK)
        rc = mr_path_join(output, "_SUCCESS", &success);
    if (rc == EMBER_OK && (rc = mr_fs_create(fs, &success, &sink)) == EMBER_OK)
        rc = sink->close(sink);
    if (rc != EMBER_OK) {
        char uri[PATH_MAX + 16];
        mr_path_uri(output, uri, sizeof(uri));
        snprintf(err, errlen, "job commit into %s: %s", uri, ember_strerror(rc));
    }
    return rc;
}
