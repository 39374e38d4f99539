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
#include "mr_reader.h"
#include "mr_source.h"
#include "mr_split.h"
#include "task_runner.h"

typedef struct {
    const mr_job_spec *s;
    mr_counters *counters;
    char *err;
    size_t errlen;
    mr_task_settings set;
    mr_task_ctx task; /* the one task running now */
    mr_split_list splits;
    size_t nmaps; /* splits, or generated records */
    mr_file *files;
    size_t *file_input; /* per file: the input argument it came from */
    size_t nfiles;
} job_run;

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

/* A split's chunk as the task runner reads it. */
static int runner_chunk(const job_run *j, const mr_chunk *chunk, mr_task_chunk *out) {
    if (chunk->file >= j->nfiles)
        return EMBER_ENOENT;
    *out = (mr_task_chunk){.path = j->files[chunk->file].path,
                           .offset = chunk->offset,
                           .length = chunk->length,
                           .input = j->file_input[chunk->file]};
    return EMBER_OK;
}

/* Map task m's input: its split's chunks, or its generated record.  The
 * chunks are malloc'd into *chunks (the caller frees them). */
static int runner_input(job_run *j, uint32_t m, mr_task_input *in, mr_task_chunk **chunks) {
    *chunks = NULL;
    *in = (mr_task_input){0};
    if (j->s->ngenerated > 0) {
        in->generated = &j->s->generated[m];
        return EMBER_OK;
    }
    const mr_split *split = &j->splits.splits[m];
    mr_task_chunk *c = calloc(split->chunk_count ? split->chunk_count : 1, sizeof(*c));
    if (c == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < split->chunk_count; i++)
        if (runner_chunk(j, &split->chunks[i], &c[i]) != EMBER_OK) {
            free(c);
            return runner_fail(j, EMBER_ENOENT, "cannot open %s: %s", split->chunks[i].path);
        }
    *chunks = c;
    in->chunks = c;
    in->nchunks = split->chunk_count;
    return EMBER_OK;
}

static void runner_map_dir(const job_run *j, uint32_t m, char *out, size_t len) {
    snprintf(out, len, "%s/map_%06u", j->s->work_dir, m);
}

/* Map task m: its split's records through the map, into a map output
 * (file.out in its work directory), or into part-m-NNNNN. */
static int runner_map_task(job_run *j, uint32_t m) {
    mr_task_input in;
    mr_task_chunk *chunks;
    int rc = runner_input(j, m, &in, &chunks);
    if (rc != EMBER_OK)
        return rc;
    char attempt[96];
    runner_attempt(j, 'm', m, attempt, sizeof(attempt));
    if (j->set.reduces == 0) {
        mr_task_part p;
        rc = mr_task_part_open(&j->task, &j->s->output, attempt, 'm', m, &p);
        if (rc == EMBER_OK)
            rc = mr_task_map_to_part(&j->task, m, &in, &p);
        if (rc == EMBER_OK)
            rc = mr_task_part_commit(&j->task, &j->s->output, &p);
        else
            mr_task_part_abort(&j->task, &p);
        free(chunks);
        return rc;
    }
    char dir[PATH_MAX];
    runner_map_dir(j, m, dir, sizeof(dir));
    mr_path d = {.local = 1};
    snprintf(d.path, sizeof(d.path), "%s", dir);
    if ((rc = mr_fs_mkdirs(j->s->fs, &d)) != EMBER_OK)
        runner_fail(j, rc, "map task output in %s: %s", dir);
    else
        rc = mr_task_map_to_output(&j->task, m, &in, dir);
    free(chunks);
    return rc;
}

/* Reduce task r: partition r of every map's file.out (opened by the
 * merge, a factor of them at a time). */
static int runner_reduce_task(job_run *j, uint32_t r) {
    size_t nmaps = j->nmaps;
    char *paths = malloc((nmaps ? nmaps : 1) * PATH_MAX);
    merge_segment *segs = calloc(nmaps ? nmaps : 1, sizeof(*segs));
    ifile_range *ranges = calloc(j->set.reduces, sizeof(*ranges));
    int rc = paths && segs && ranges ? EMBER_OK : EMBER_ENOMEM;
    uint64_t shuffled = 0;
    for (size_t m = 0; rc == EMBER_OK && m < nmaps; m++) {
        char dir[PATH_MAX], index[PATH_MAX + 32];
        runner_map_dir(j, (uint32_t)m, dir, sizeof(dir));
        snprintf(index, sizeof(index), "%s/file.out.index", dir);
        if ((rc = ifile_index_read(index, ranges, j->set.reduces)) != EMBER_OK) {
            runner_fail(j, rc, "map output index %s: %s", index);
            break;
        }
        char *path = paths + m * PATH_MAX;
        snprintf(path, PATH_MAX, "%.*s/file.out", PATH_MAX - 10, dir);
        segs[m] = (merge_segment){.path = path, .range = ranges[r]};
        shuffled += ranges[r].length;
    }
    char attempt[96];
    runner_attempt(j, 'r', r, attempt, sizeof(attempt));
    mr_task_part p;
    if (rc == EMBER_OK &&
        (rc = mr_task_part_open(&j->task, &j->s->output, attempt, 'r', r, &p)) == EMBER_OK) {
        rc = mr_task_reduce(&j->task, r, segs, (int)nmaps, j->s->work_dir, &p);
        if (rc == EMBER_OK)
            rc = mr_task_part_commit(&j->task, &j->s->output, &p);
        else
            mr_task_part_abort(&j->task, &p);
    }
    mr_counters_add(j->counters, MR_GROUP_TASK, "Reduce shuffle bytes", (int64_t)shuffled);
    free(paths);
    free(segs);
    free(ranges);
    return rc;
}

/* Reads the job's settings and readies the task context. */
static int runner_settings(job_run *j) {
    j->task = (mr_task_ctx){.job = j->s->job,
                            .conf = j->s->conf,
                            .settings = &j->set,
                            .fs = j->s->fs,
                            .counters = j->counters,
                            .err = j->err,
                            .errlen = j->errlen};
    return mr_task_settings_read(j->s->conf, &j->set, j->err, j->errlen);
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
        in[i] = (mr_input_file){.path = j->files[i].path.path,
                                .size = j->files[i].size,
                                .block_size = j->files[i].block_size,
                                .splittable =
                                    mr_reader_splittable(&j->set.reader, j->files[i].path.path)};
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
    mr_path work = {.local = 1};
    snprintf(work.path, sizeof(work.path), "%s", s->work_dir);
    int made = 0;
    if (rc == EMBER_OK && (rc = mr_task_setup_job(s->fs, &s->output, err, errlen)) == EMBER_OK)
        made = 1;
    if (rc == EMBER_OK)
        rc = mr_fs_mkdirs(s->fs, &work);
    size_t nmaps = j.nmaps;
    for (size_t m = 0; rc == EMBER_OK && m < nmaps; m++) {
        rc = runner_map_task(&j, (uint32_t)m);
        if (s->progress != NULL)
            s->progress(s->progress_arg, (double)(m + 1) / (double)nmaps, 0);
    }
    for (uint32_t r = 0; rc == EMBER_OK && r < j.set.reduces; r++) {
        rc = runner_reduce_task(&j, r);
        if (s->progress != NULL)
            s->progress(s->progress_arg, 1, (double)(r + 1) / j.set.reduces);
    }
    if (rc == EMBER_OK)
        rc = mr_task_commit_job(s->fs, &s->output, err, errlen);
    mr_counters_add(counters, MR_GROUP_JOB, "Launched map tasks", (int64_t)nmaps);
    mr_counters_add(counters, MR_GROUP_JOB, "Launched reduce tasks", (int64_t)j.set.reduces);
    mr_counters_add(counters, MR_GROUP_FS, "FILE: Number of bytes read",
                    (int64_t)j.task.bytes_read[1]);
    mr_counters_add(counters, MR_GROUP_FS, "FILE: Number of bytes written",
                    (int64_t)j.task.bytes_written[1]);
    mr_counters_add(counters, MR_GROUP_FS, "HDFS: Number of bytes read",
                    (int64_t)j.task.bytes_read[0]);
    mr_counters_add(counters, MR_GROUP_FS, "HDFS: Number of bytes written",
                    (int64_t)j.task.bytes_written[0]);
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
        mr_task_chunk chunk;
        if ((rc = runner_chunk(j, &split->chunks[c], &chunk)) != EMBER_OK ||
            (rc = mr_task_open_chunk(&j->task, &chunk, &src)) != EMBER_OK)
            break;
        mr_reader *r = NULL;
        rc = mr_reader_open(src, chunk.offset, chunk.length, &j->set.reader, &r, j->err, j->errlen);
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
    j->task.in_file[0] = '\0';
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
