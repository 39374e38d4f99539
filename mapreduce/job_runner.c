/* job_runner.c -- see job_runner.h.
 *
 * A job's life here: check OUT -> expand inputs -> splits (or the
 * generated records, one map each) -> OUT and OUT/_temporary made -> each
 * map (records through the job's map into a map_output, or straight to a
 * part-m file when there are no reduces) ->
 * each reduce (its partition of every map's file.out, merged, reduced,
 * written) -> job commit.  The first failure stops everything, and the
 * cleanup removes OUT and the work directory. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "ifile.h"
#include "job_runner.h"
#include "map_output.h"
#include "mr_reader.h"
#include "mr_source.h"
#include "mr_split.h"
#include "reduce_task.h"

typedef struct {
    const mr_job_spec *s;
    mr_counters *counters;
    char *err;
    size_t errlen;
    uint32_t reduces;
    uint64_t sort_bytes;
    mr_reader_options reader;
    const char *separator;
    int raw_output; /* ember.output.format=raw */
    mr_split_list splits;
    size_t nmaps; /* splits, or generated records */
    mr_file *files;
    size_t *file_input; /* per file: the input argument it came from */
    size_t nfiles;
    /* The chunk a map reads now, for ember_conf() (in_file[0]: none). */
    char in_file[PATH_MAX + 16], in_start[24], in_length[24], in_index[24];
    int in_local;
    char **committed; /* names under OUT/_temporary, task-committed */
    size_t ncommitted;
    uint64_t bytes_read[2], bytes_written[2]; /* [local] */
} job_run;

/* The job's configuration, and Hadoop's mapreduce.map.input.* keys (plus
 * ember.map.input.index) while a map reads a chunk of a file. */
static const char *runner_conf(void *arg, const char *key) {
    const job_run *j = arg;
    if (j->in_file[0] != '\0') {
        if (strcmp(key, "mapreduce.map.input.file") == 0)
            return j->in_file;
        if (strcmp(key, "mapreduce.map.input.start") == 0)
            return j->in_start;
        if (strcmp(key, "mapreduce.map.input.length") == 0)
            return j->in_length;
        if (strcmp(key, "ember.map.input.index") == 0)
            return j->in_index;
    }
    return mr_conf_get(j->s->conf, key);
}

static void runner_task(job_run *j, ember_task *t, uint32_t number, int is_map) {
    *t = (ember_task){.counters = j->counters,
                      .conf = runner_conf,
                      .conf_arg = j,
                      .number = number,
                      .is_map = is_map};
}

/* The task-level name Hadoop uses: attempt_<job>_m_000003_0. */
static void runner_attempt(const job_run *j, char kind, uint32_t n, char *out, size_t len) {
    const char *id = strncmp(j->s->job_id, "job_", 4) == 0 ? j->s->job_id + 4 : j->s->job_id;
    snprintf(out, len, "attempt_%s_%c_%06u_0", id, kind, n);
}

static int runner_fail(job_run *j, int rc, const char *fmt, const char *what) {
    if (j->err[0] == '\0')
        snprintf(j->err, j->errlen, fmt, what, ember_strerror(rc));
    return rc;
}

/* Opens chunk's file for reading as a source (local file or HDFS) and
 * makes it the task's current input. */
static int runner_open_chunk(job_run *j, const mr_chunk *chunk, mr_source **out) {
    size_t i = chunk->file;
    if (i >= j->nfiles)
        return runner_fail(j, EMBER_ENOENT, "cannot open %s: %s", chunk->path);
    const mr_file *f = &j->files[i];
    mr_path_uri(&f->path, j->in_file, sizeof(j->in_file));
    snprintf(j->in_start, sizeof(j->in_start), "%llu", (unsigned long long)chunk->offset);
    snprintf(j->in_length, sizeof(j->in_length), "%llu", (unsigned long long)chunk->length);
    snprintf(j->in_index, sizeof(j->in_index), "%zu", j->file_input[i]);
    j->in_local = f->path.local;
    int rc = mr_fs_open(j->s->fs, &f->path, out);
    return rc != EMBER_OK ? runner_fail(j, rc, "cannot open %s: %s", chunk->path) : rc;
}

/* Reads split's records through the job's map. */
static int runner_map_chunks(job_run *j, const mr_split *split, ember_task *t, uint64_t *records) {
    const ember_job *job = j->s->job;
    int rc = EMBER_OK;
    for (size_t c = 0; rc == EMBER_OK && c < split->chunk_count; c++) {
        const mr_chunk *chunk = &split->chunks[c];
        mr_source *src;
        if ((rc = runner_open_chunk(j, chunk, &src)) != EMBER_OK)
            break;
        mr_reader *r = NULL;
        rc = mr_reader_open(src, chunk->offset, chunk->length, &j->reader, &r, j->err, j->errlen);
        kv_record rec;
        int more = 0;
        uint64_t n = 0;
        while (rc == EMBER_OK && (more = mr_reader_next(r, &rec)) == 1) {
            n++;
            if (job->map(t, rec.key, rec.key_len, rec.value, rec.value_len) != 0) {
                snprintf(j->err, j->errlen,
                         "map task %u failed: the job's map refused record "
                         "%llu of %s at byte %llu",
                         t->number, (unsigned long long)n, chunk->path,
                         (unsigned long long)chunk->offset);
                rc = EMBER_EINVAL;
            }
        }
        if (rc == EMBER_OK && more < 0) {
            rc = more;
            snprintf(j->err, j->errlen, "%s", mr_reader_error(r));
        }
        *records += n;
        if (r != NULL) {
            mr_reader_stats st;
            mr_reader_get_stats(r, &st);
            j->bytes_read[j->in_local] += st.bytes_read;
        }
        mr_reader_close(r);
        src->close(src);
    }
    j->in_file[0] = '\0';
    return rc;
}

/* A generated split's one record through the job's map. */
static int runner_map_generated(job_run *j, const kv_record *rec, ember_task *t,
                                uint64_t *records) {
    *records = 1;
    if (j->s->job->map(t, rec->key, rec->key_len, rec->value, rec->value_len) == 0)
        return EMBER_OK;
    snprintf(j->err, j->errlen, "map task %u failed: the job's map refused its record", t->number);
    return EMBER_EINVAL;
}

/* Map task m's input through the job's map, setup and cleanup around: its
 * split's records, or its one generated record. */
static int runner_map_records(job_run *j, uint32_t m, ember_task *t) {
    const ember_job *job = j->s->job;
    uint64_t records = 0;
    int rc = job->setup != NULL && job->setup(t) != 0 ? EMBER_EINVAL : EMBER_OK;
    if (rc != EMBER_OK)
        snprintf(j->err, j->errlen, "the job's setup failed in map task %u", t->number);
    else if (j->s->ngenerated == 0)
        rc = runner_map_chunks(j, &j->splits.splits[m], t, &records);
    else
        rc = runner_map_generated(j, &j->s->generated[m], t, &records);
    if (rc == EMBER_OK && job->cleanup != NULL && job->cleanup(t) != 0) {
        snprintf(j->err, j->errlen, "the job's cleanup failed in map task %u", t->number);
        rc = EMBER_EINVAL;
    }
    mr_counters_add(j->counters, MR_GROUP_TASK, "Map input records", (int64_t)records);
    return rc;
}

/* An open part file of an attempt: OUT/_temporary/ATTEMPT/NAME. */
typedef struct {
    mr_text_writer w;
    mr_path attempt_dir, file;
    char name[32];
} part_file;

static int runner_part_open(job_run *j, char kind, uint32_t n, part_file *p) {
    char attempt[96];
    runner_attempt(j, kind, n, attempt, sizeof(attempt));
    snprintf(p->name, sizeof(p->name), "part-%c-%05u", kind, n);
    mr_path tmp;
    mr_sink *sink;
    int rc = mr_path_join(&j->s->output, "_temporary", &tmp);
    if (rc == EMBER_OK)
        rc = mr_path_join(&tmp, attempt, &p->attempt_dir);
    if (rc == EMBER_OK)
        rc = mr_fs_mkdirs(j->s->fs, &p->attempt_dir);
    if (rc == EMBER_OK)
        rc = mr_path_join(&p->attempt_dir, p->name, &p->file);
    if (rc == EMBER_OK)
        rc = mr_fs_create(j->s->fs, &p->file, &sink);
    if (rc == EMBER_OK && (rc = mr_text_writer_init(&p->w, sink, j->separator)) != EMBER_OK)
        sink->abort(sink);
    p->w.raw = j->raw_output;
    return rc != EMBER_OK ? runner_fail(j, rc, "cannot create %s: %s", p->name) : rc;
}

/* Closes the part file and commits the task: the file moves to
 * OUT/_temporary/NAME, where the job commit finds it. */
static int runner_part_commit(job_run *j, part_file *p, int ok) {
    if (!ok) {
        mr_text_writer_abort(&p->w);
        return EMBER_OK;
    }
    j->bytes_written[p->file.local] += p->w.bytes + p->w.len;
    int rc = mr_text_writer_close(&p->w);
    mr_path tmp, committed;
    if (rc == EMBER_OK)
        rc = mr_path_join(&j->s->output, "_temporary", &tmp);
    if (rc == EMBER_OK)
        rc = mr_path_join(&tmp, p->name, &committed);
    if (rc == EMBER_OK)
        rc = mr_fs_rename(j->s->fs, &p->file, &committed);
    if (rc == EMBER_OK)
        rc = mr_fs_delete(j->s->fs, &p->attempt_dir);
    char **c = rc == EMBER_OK ? realloc(j->committed, (j->ncommitted + 1) * sizeof(*c)) : NULL;
    if (rc == EMBER_OK && c == NULL)
        rc = EMBER_ENOMEM;
    if (rc == EMBER_OK) {
        j->committed = c;
        if ((c[j->ncommitted] = strdup(p->name)) == NULL)
            rc = EMBER_ENOMEM;
        else
            j->ncommitted++;
    }
    return rc != EMBER_OK ? runner_fail(j, rc, "cannot commit %s: %s", p->name) : rc;
}

static int runner_emit_part(void *arg, const void *key, size_t key_len, const void *value,
                            size_t value_len) {
    return mr_text_writer_write(&((part_file *)arg)->w, key, key_len, value, value_len);
}

static int runner_emit_collect(void *arg, const void *key, size_t key_len, const void *value,
                               size_t value_len) {
    return map_output_collect(arg, key, key_len, value, value_len);
}

static void runner_map_dir(const job_run *j, uint32_t m, char *out, size_t len) {
    snprintf(out, len, "%s/map_%06u", j->s->work_dir, m);
}

/* Map task m: its split's records through the map, into a map output
 * (file.out in its work directory), or into part-m-NNNNN. */
static int runner_map_task(job_run *j, uint32_t m) {
    ember_task t;
    runner_task(j, &t, m, 1);
    if (j->reduces == 0) {
        part_file p;
        int rc = runner_part_open(j, 'm', m, &p);
        if (rc != EMBER_OK)
            return rc;
        t.emit = runner_emit_part;
        t.emit_arg = &p;
        rc = runner_map_records(j, m, &t);
        int crc = runner_part_commit(j, &p, rc == EMBER_OK);
        return rc != EMBER_OK ? rc : crc;
    }
    char dir[PATH_MAX];
    runner_map_dir(j, m, dir, sizeof(dir));
    mr_path d = {.local = 1};
    snprintf(d.path, sizeof(d.path), "%s", dir);
    int rc = mr_fs_mkdirs(j->s->fs, &d);
    map_output_options o = {.dir = dir,
                            .partitions = j->reduces,
                            .sort_bytes = (size_t)j->sort_bytes,
                            .job = j->s->job,
                            .task = &t};
    map_output *mo = NULL;
    if (rc == EMBER_OK)
        rc = map_output_open(&o, &mo);
    if (rc != EMBER_OK)
        return runner_fail(j, rc, "map task output in %s: %s", dir);
    t.emit = runner_emit_collect;
    t.emit_arg = mo;
    rc = runner_map_records(j, m, &t);
    if (rc == EMBER_OK && (rc = map_output_finish(mo, NULL)) != EMBER_OK)
        runner_fail(j, rc, "map task output in %s: %s", dir);
    map_output_free(mo);
    return rc;
}

/* Reduce task r: partition r of every map's file.out. */
static int runner_reduce_task(job_run *j, uint32_t r) {
    size_t nmaps = j->nmaps;
    int *fds = calloc(nmaps ? nmaps : 1, sizeof(int));
    ifile_reader *readers = calloc(nmaps ? nmaps : 1, sizeof(*readers));
    kv_stream **in = calloc(nmaps ? nmaps : 1, sizeof(*in));
    ifile_range *ranges = calloc(j->reduces, sizeof(*ranges));
    int rc = fds && readers && in && ranges ? EMBER_OK : EMBER_ENOMEM;
    size_t opened = 0;
    uint64_t shuffled = 0;
    for (; rc == EMBER_OK && opened < nmaps; opened++) {
        char dir[PATH_MAX], path[PATH_MAX + 32];
        runner_map_dir(j, (uint32_t)opened, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/file.out.index", dir);
        if ((rc = ifile_index_read(path, ranges, j->reduces)) != EMBER_OK) {
            runner_fail(j, rc, "map output index %s: %s", path);
            break;
        }
        snprintf(path, sizeof(path), "%s/file.out", dir);
        if ((fds[opened] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            rc = runner_fail(j, EMBER_EIO, "%s: %s", path);
            break;
        }
        shuffled += ranges[r].length;
        rc = ifile_reader_open(&readers[opened], fds[opened], &ranges[r], 1u << 20);
        in[opened] = &readers[opened].base;
    }
    part_file p;
    if (rc == EMBER_OK)
        rc = runner_part_open(j, 'r', r, &p);
    if (rc == EMBER_OK) {
        ember_task t;
        runner_task(j, &t, r, 0);
        mr_record_sink out = {runner_emit_part, &p};
        reduce_stats st;
        const ember_job *job = j->s->job;
        if (job->setup != NULL && job->setup(&t) != 0)
            rc = EMBER_EINVAL;
        if (rc == EMBER_OK)
            rc = reduce_run(job, &t, in, (int)nmaps, &out, &st);
        if (rc == EMBER_OK && job->cleanup != NULL) {
            t.emit = runner_emit_part;
            t.emit_arg = &p;
            rc = job->cleanup(&t) != 0 ? EMBER_EINVAL : EMBER_OK;
        }
        if (rc == EMBER_EINVAL)
            snprintf(j->err, j->errlen,
                     "reduce task %u failed: the job's reduce, setup or "
                     "cleanup returned an error",
                     r);
        else if (rc != EMBER_OK && j->err[0] == '\0')
            snprintf(j->err, j->errlen, "reduce task %u: %s", r, ember_strerror(rc));
        int crc = runner_part_commit(j, &p, rc == EMBER_OK);
        rc = rc != EMBER_OK ? rc : crc;
    }
    mr_counters_add(j->counters, MR_GROUP_TASK, "Reduce shuffle bytes", (int64_t)shuffled);
    for (size_t i = 0; i < opened; i++) {
        ifile_reader_close(&readers[i]);
        if (fds[i] > 0)
            close(fds[i]);
    }
    free(fds);
    free(readers);
    free(in);
    free(ranges);
    return rc;
}

/* Moves every committed part file into OUT, then _SUCCESS. */
static int runner_commit_job(job_run *j) {
    mr_path tmp, from, to;
    int rc = mr_path_join(&j->s->output, "_temporary", &tmp);
    for (size_t i = 0; rc == EMBER_OK && i < j->ncommitted; i++) {
        rc = mr_path_join(&tmp, j->committed[i], &from);
        if (rc == EMBER_OK)
            rc = mr_path_join(&j->s->output, j->committed[i], &to);
        if (rc == EMBER_OK)
            rc = mr_fs_rename(j->s->fs, &from, &to);
    }
    if (rc == EMBER_OK)
        rc = mr_fs_delete(j->s->fs, &tmp);
    mr_path success;
    mr_sink *sink;
    if (rc == EMBER_OK)
        rc = mr_path_join(&j->s->output, "_SUCCESS", &success);
    if (rc == EMBER_OK && (rc = mr_fs_create(j->s->fs, &success, &sink)) == EMBER_OK)
        rc = sink->close(sink);
    return rc != EMBER_OK ? runner_fail(j, rc, "job commit into %s: %s", j->s->output.path) : rc;
}

/* The input format: ember.input.format (text, keyvalue, fixed,
 * wholefile); a record length (ember.input.record.length) alone means
 * fixed, as TeraSort's input needs. */
static int runner_reader_options(job_run *j) {
    const mr_conf *c = j->s->conf;
    const char *format = mr_conf_get(c, "ember.input.format");
    uint64_t record_length, max_line;
    int rc = mr_conf_get_size(c, "ember.input.record.length", 0, &record_length, j->err, j->errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(c, "mapreduce.input.linerecordreader.line.maxlength", 0, &max_line,
                              j->err, j->errlen);
    if (rc != EMBER_OK)
        return rc;
    mr_reader_options *o = &j->reader;
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
        snprintf(j->err, j->errlen,
                 "ember.input.format: '%s' is not one of text, keyvalue, "
                 "fixed, wholefile",
                 format);
        return EMBER_ECONFIG;
    }
    if (o->format == MR_FORMAT_FIXED && (record_length == 0 || record_length > UINT32_MAX)) {
        snprintf(j->err, j->errlen,
                 "fixed-length input needs ember.input.record.length "
                 "(1 to 4294967295 bytes)");
        return EMBER_ECONFIG;
    }
    return EMBER_OK;
}

/* Reads the job's settings from its configuration. */
static int runner_settings(job_run *j) {
    uint64_t reduces = 1, sort_mb = 100;
    int rc = mr_conf_get_size(j->s->conf, "mapreduce.job.reduces", 1, &reduces, j->err, j->errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(j->s->conf, "mapreduce.task.io.sort.mb", 100, &sort_mb, j->err,
                              j->errlen);
    if (rc == EMBER_OK && reduces > 100000) {
        snprintf(j->err, j->errlen, "mapreduce.job.reduces: %llu is too many (at most 100000)",
                 (unsigned long long)reduces);
        rc = EMBER_ECONFIG;
    }
    if (rc == EMBER_OK && (sort_mb == 0 || sort_mb > 2047)) {
        snprintf(j->err, j->errlen, "mapreduce.task.io.sort.mb: %llu is out of range (1 to 2047)",
                 (unsigned long long)sort_mb);
        rc = EMBER_ECONFIG;
    }
    j->reduces = (uint32_t)reduces;
    j->sort_bytes = sort_mb << 20;
    j->separator = mr_conf_get(j->s->conf, "mapreduce.output.textoutputformat.separator");
    const char *format = mr_conf_get(j->s->conf, "ember.output.format");
    j->raw_output = format != NULL && strcmp(format, "raw") == 0;
    if (rc == EMBER_OK && format != NULL && !j->raw_output && strcmp(format, "text") != 0) {
        snprintf(j->err, j->errlen, "ember.output.format: '%s' is not one of text, raw", format);
        rc = EMBER_ECONFIG;
    }
    if (rc == EMBER_OK)
        rc = runner_reader_options(j);
    return rc;
}

/* Inputs to files (each remembering its input), files to splits. */
static int runner_plan(job_run *j) {
    int rc = EMBER_OK;
    if (j->s->ngenerated > 0 && j->s->ninputs > 0) {
        snprintf(j->err, j->errlen, "a job with generated splits reads no input paths");
        return EMBER_EINVAL;
    }
    for (size_t i = 0; rc == EMBER_OK && i < j->s->ninputs; i++) {
        size_t first = j->nfiles;
        rc = mr_fs_expand(j->s->fs, &j->s->inputs[i], &j->files, &j->nfiles, j->err, j->errlen);
        size_t *fi = rc == EMBER_OK ? realloc(j->file_input, (j->nfiles + 1) * sizeof(*fi)) : NULL;
        if (rc == EMBER_OK && fi == NULL)
            rc = EMBER_ENOMEM;
        for (size_t f = first; rc == EMBER_OK && f < j->nfiles; f++)
            fi[f] = i;
        if (fi != NULL)
            j->file_input = fi;
    }
    if (rc != EMBER_OK)
        return rc;
    mr_input_file *in = calloc(j->nfiles ? j->nfiles : 1, sizeof(*in));
    if (in == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < j->nfiles; i++)
        in[i] =
            (mr_input_file){.path = j->files[i].path.path,
                            .size = j->files[i].size,
                            .block_size = j->files[i].block_size,
                            .splittable = mr_reader_splittable(&j->reader, j->files[i].path.path)};
    mr_split_options so = {0};
    rc = mr_conf_get_size(j->s->conf, "mapreduce.input.fileinputformat.split.minsize", 0,
                          &so.min_size, j->err, j->errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(j->s->conf, "mapreduce.input.fileinputformat.split.maxsize", 0,
                              &so.max_size, j->err, j->errlen);
    so.combine = 1; /* many small files make few tasks */
    if (rc == EMBER_OK)
        rc = mr_split_compute(in, j->nfiles, &so, &j->splits);
    free(in);
    j->nmaps = j->s->ngenerated > 0 ? j->s->ngenerated : j->splits.count;
    return rc;
}

static void runner_free(job_run *j) {
    for (size_t i = 0; i < j->ncommitted; i++)
        free(j->committed[i]);
    free(j->committed);
    free(j->files);
    free(j->file_input);
    mr_split_list_free(&j->splits);
}

int mr_job_run(const mr_job_spec *s, mr_counters *counters, char *err, size_t errlen) {
    job_run j = {.s = s, .counters = counters, .err = err, .errlen = errlen};
    err[0] = '\0';
    char uri[PATH_MAX + 16];
    mr_path_uri(&s->output, uri, sizeof(uri));
    int is_dir, rc = runner_settings(&j);
    if (rc == EMBER_OK && mr_fs_exists(s->fs, &s->output, &is_dir) == EMBER_OK) {
        snprintf(err, errlen, "Output directory %s already exists", uri);
        return EMBER_EEXIST;
    }
    if (rc == EMBER_OK)
        rc = runner_plan(&j);
    mr_path tmp, work = {.local = 1};
    snprintf(work.path, sizeof(work.path), "%s", s->work_dir);
    int made = 0;
    if (rc == EMBER_OK && (rc = mr_path_join(&s->output, "_temporary", &tmp)) == EMBER_OK &&
        (rc = mr_fs_mkdirs(s->fs, &tmp)) == EMBER_OK)
        made = 1;
    else if (rc == EMBER_OK)
        runner_fail(&j, rc, "cannot create %s: %s", uri);
    if (rc == EMBER_OK)
        rc = mr_fs_mkdirs(s->fs, &work);
    size_t nmaps = j.nmaps;
    for (size_t m = 0; rc == EMBER_OK && m < nmaps; m++) {
        rc = runner_map_task(&j, (uint32_t)m);
        if (s->progress != NULL)
            s->progress(s->progress_arg, (double)(m + 1) / (double)nmaps, 0);
    }
    for (uint32_t r = 0; rc == EMBER_OK && r < j.reduces; r++) {
        rc = runner_reduce_task(&j, r);
        if (s->progress != NULL)
            s->progress(s->progress_arg, 1, (double)(r + 1) / j.reduces);
    }
    if (rc == EMBER_OK)
        rc = runner_commit_job(&j);
    mr_counters_add(counters, MR_GROUP_JOB, "Launched map tasks", (int64_t)nmaps);
    mr_counters_add(counters, MR_GROUP_JOB, "Launched reduce tasks", (int64_t)j.reduces);
    mr_counters_add(counters, MR_GROUP_FS, "FILE: Number of bytes read", (int64_t)j.bytes_read[1]);
    mr_counters_add(counters, MR_GROUP_FS, "FILE: Number of bytes written",
                    (int64_t)j.bytes_written[1]);
    mr_counters_add(counters, MR_GROUP_FS, "HDFS: Number of bytes read", (int64_t)j.bytes_read[0]);
    mr_counters_add(counters, MR_GROUP_FS, "HDFS: Number of bytes written",
                    (int64_t)j.bytes_written[0]);
    if (rc != EMBER_OK && made)
        mr_fs_delete(s->fs, &s->output); /* nothing of a failed job stays visible */
    mr_fs_delete(s->fs, &work);
    runner_free(&j);
    if (rc != EMBER_OK && err[0] == '\0')
        snprintf(err, errlen, "the job failed: %s", ember_strerror(rc));
    return rc;
}

/* Up to max records of one split, in order, to fn. */
static int runner_sample_split(job_run *j, const mr_split *split, uint64_t max, ember_record_fn fn,
                               void *arg) {
    uint64_t taken = 0;
    int rc = EMBER_OK;
    for (size_t c = 0; rc == EMBER_OK && taken < max && c < split->chunk_count; c++) {
        mr_source *src;
        if ((rc = runner_open_chunk(j, &split->chunks[c], &src)) != EMBER_OK)
            break;
        mr_reader *r = NULL;
        rc = mr_reader_open(src, split->chunks[c].offset, split->chunks[c].length, &j->reader, &r,
                            j->err, j->errlen);
        kv_record rec;
        int more = 0;
        while (rc == EMBER_OK && taken < max && (more = mr_reader_next(r, &rec)) == 1) {
            taken++;
            rc = fn(arg, rec.key, rec.key_len, rec.value, rec.value_len);
        }
        if (rc == EMBER_OK && more < 0) {
            rc = more;
            snprintf(j->err, j->errlen, "%s", mr_reader_error(r));
        }
        mr_reader_close(r);
        src->close(src);
    }
    j->in_file[0] = '\0';
    return rc;
}

int mr_job_sample(const mr_job_spec *s, uint64_t max_records, uint32_t max_splits,
                  ember_record_fn fn, void *arg, char *err, size_t errlen) {
    job_run j = {.s = s, .err = err, .errlen = errlen};
    err[0] = '\0';
    int rc = runner_settings(&j);
    if (rc == EMBER_OK)
        rc = runner_plan(&j);
    size_t count = j.splits.count;
    size_t n = count < max_splits ? count : max_splits;
    uint64_t each = n > 0 && max_records / n > 0 ? max_records / n : 1;
    for (size_t i = 0; rc == EMBER_OK && i < n; i++)
        rc = runner_sample_split(&j, &j.splits.splits[i * (count / n)], each, fn, arg);
    runner_free(&j);
    if (rc != EMBER_OK && err[0] == '\0')
        snprintf(err, errlen, "sampling the input failed: %s", ember_strerror(rc));
    return rc;
}
