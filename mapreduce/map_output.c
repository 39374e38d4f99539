/* map_output.c -- see map_output.h.
 *
 * States: COLLECTING (pairs go into the sort buffer; a full buffer is
 * sorted and spilled, and collecting goes on) -> FINISHED (the last spill
 * written, spills merged into file.out).  A failure leaves the collector
 * failed: every later call answers the first error. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "map_output.h"
#include "merger.h"
#include "sort_buffer.h"

typedef struct {
    ifile_range *ranges; /* one per partition */
} spill_info;

struct map_output {
    map_output_options o;
    ember_partition_fn partition;
    ember_compare_fn cmp; /* the sort order (never NULL) */
    sort_buffer sb;
    spill_info *spills;
    uint32_t nspills, spills_cap;
    ifile_writer w;          /* the file being written */
    ember_task combine_task; /* the combiner's view: emits to w */
    map_output_stats stats;
    int failed;
    int finished;
};

static void map_output_path(const map_output *m, char *buf, size_t len, const char *name,
                            int spill) {
    if (spill >= 0)
        snprintf(buf, len, "%s/spill%d.out%s", m->o.dir, spill, name);
    else
        snprintf(buf, len, "%s/file.out%s", m->o.dir, name);
}

/* The combiner's emits: into the segment being written. */
static int map_output_combine_emit(void *arg, const void *key, size_t key_len, const void *value,
                                   size_t value_len) {
    map_output *m = arg;
    m->stats.combine_output++;
    return ifile_writer_append(&m->w, key, key_len, value, value_len);
}

int map_output_open(const map_output_options *o, map_output **out) {
    if (o->partitions == 0 || o->job == NULL || o->dir == NULL)
        return EMBER_EINVAL;
    map_output *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return EMBER_ENOMEM;
    m->o = *o;
    m->partition = o->job->partition != NULL ? o->job->partition : kv_hash_partition;
    m->cmp = o->job->sort_compare != NULL ? o->job->sort_compare : kv_compare_bytes;
    m->w.fd = -1;
    int rc = sort_buffer_init(&m->sb, o->sort_bytes, o->job->sort_compare);
    if (rc != EMBER_OK) {
        free(m);
        return rc;
    }
    if (o->task != NULL)
        m->combine_task = *o->task;
    m->combine_task.emit = map_output_combine_emit;
    m->combine_task.emit_arg = m;
    *out = m;
    return EMBER_OK;
}

/* Writes one partition's sorted records into the open segment, through
 * the combiner when combine is set. */
static int map_output_write_stream(map_output *m, kv_stream *in, int combine) {
    if (combine) {
        mr_group_stats read;
        int rc = mr_group_each(in, m->cmp, m->o.job->combine, &m->combine_task, &read);
        m->stats.combine_input += read.records;
        return rc;
    }
    kv_record r;
    int rc;
    while ((rc = in->next(in, &r)) == 1)
        if ((rc = ifile_writer_append(&m->w, r.key, r.key_len, r.value, r.value_len)) != EMBER_OK)
            return rc;
    return rc;
}

/* Opens spill n (or file.out when n < 0) for writing. */
static int map_output_open_file(map_output *m, int n) {
    char path[PATH_MAX];
    map_output_path(m, path, sizeof(path), "", n);
    return ifile_writer_open(&m->w, path);
}

/* Closes the file written and, for a spill, records it with its index. */
static int map_output_close_file(map_output *m, int n, ifile_range *ranges, int rc) {
    uint64_t bytes = 0;
    if (rc == EMBER_OK)
        rc = ifile_writer_close(&m->w, &bytes);
    else
        ifile_writer_abort(&m->w);
    for (uint32_t p = 0; rc == EMBER_OK && p < m->o.partitions; p++)
        m->stats.spilled_records += ranges[p].records;
    char path[PATH_MAX];
    map_output_path(m, path, sizeof(path), ".index", n);
    if (rc == EMBER_OK)
        rc = ifile_index_write(path, ranges, m->o.partitions);
    if (rc == EMBER_OK && n < 0)
        m->stats.materialized_bytes = bytes;
    return rc;
}

/* Appends a spill slot whose ranges the caller fills. */
static ifile_range *map_output_new_spill(map_output *m) {
    if (m->nspills == m->spills_cap) {
        uint32_t ncap = m->spills_cap ? 2 * m->spills_cap : 8;
        spill_info *s = realloc(m->spills, ncap * sizeof(*s));
        if (s == NULL)
            return NULL;
        m->spills = s;
        m->spills_cap = ncap;
    }
    ifile_range *r = calloc(m->o.partitions, sizeof(*r));
    if (r != NULL)
        m->spills[m->nspills].ranges = r;
    return r;
}

/* Sorts the buffer and writes it as the next spill (or as file.out when
 * final: nothing was spilled before). */
static int map_output_spill(map_output *m, int final) {
    ifile_range *ranges = map_output_new_spill(m);
    if (ranges == NULL)
        return EMBER_ENOMEM;
    int n = final ? -1 : (int)m->nspills;
    sort_buffer_sort(&m->sb);
    int rc = map_output_open_file(m, n);
    if (rc != EMBER_OK) {
        free(ranges);
        return rc;
    }
    for (uint32_t p = 0; rc == EMBER_OK && p < m->o.partitions; p++) {
        sort_buffer_reader r;
        sort_buffer_stream(&m->sb, p, &r);
        ifile_writer_begin(&m->w);
        rc = map_output_write_stream(m, &r.base, m->o.job->combine != NULL);
        if (rc == EMBER_OK)
            rc = ifile_writer_end(&m->w, &ranges[p]);
    }
    rc = map_output_close_file(m, n, ranges, rc);
    sort_buffer_reset(&m->sb);
    if (rc != EMBER_OK || final) {
        free(ranges);
        return rc;
    }
    m->nspills++;
    m->stats.spills++;
    return EMBER_OK;
}

/* A record the sort buffer cannot hold even empty: a spill of its own. */
static int map_output_spill_one(map_output *m, uint32_t part, const void *key, size_t key_len,
                                const void *value, size_t value_len) {
    ifile_range *ranges = map_output_new_spill(m);
    if (ranges == NULL)
        return EMBER_ENOMEM;
    int n = (int)m->nspills;
    int rc = map_output_open_file(m, n);
    if (rc != EMBER_OK) {
        free(ranges);
        return rc;
    }
    for (uint32_t p = 0; rc == EMBER_OK && p < m->o.partitions; p++) {
        ifile_writer_begin(&m->w);
        if (p == part)
            rc = ifile_writer_append(&m->w, key, key_len, value, value_len);
        if (rc == EMBER_OK)
            rc = ifile_writer_end(&m->w, &ranges[p]);
    }
    if ((rc = map_output_close_file(m, n, ranges, rc)) != EMBER_OK) {
        free(ranges);
        return rc;
    }
    m->nspills++;
    m->stats.spills++;
    return EMBER_OK;
}

int map_output_collect(map_output *m, const void *key, size_t key_len, const void *value,
                       size_t value_len) {
    if (m->failed || m->finished)
        return m->failed ? m->failed : EMBER_ESTATE;
    uint32_t p = m->partition(key, key_len, m->o.partitions);
    if (p >= m->o.partitions) {
        LOG_ERROR("map output: the job's partitioner answered %u of %u partitions", p,
                  m->o.partitions);
        return m->failed = EMBER_EINVAL;
    }
    m->stats.output_records++;
    m->stats.output_bytes += key_len + value_len;
    if (!sort_buffer_fits(&m->sb, key_len, value_len)) {
        int rc = m->sb.n > 0 ? map_output_spill(m, 0) : EMBER_OK;
        if (rc == EMBER_OK && !sort_buffer_fits_empty(&m->sb, key_len, value_len)) {
            rc = map_output_spill_one(m, p, key, key_len, value, value_len);
            if (rc == EMBER_OK)
                return EMBER_OK; /* it went alone */
        }
        if (rc != EMBER_OK)
            return m->failed = rc;
    }
    sort_buffer_add(&m->sb, p, key, key_len, value, value_len);
    return EMBER_OK;
}

/* Merges partition p of every spill into the open file.out segment. */
static int map_output_merge_partition(map_output *m, uint32_t p, int *fds, size_t bufsize) {
    ifile_reader *readers = calloc(m->nspills, sizeof(*readers));
    kv_stream **in = calloc(m->nspills, sizeof(*in));
    int rc = readers != NULL && in != NULL ? EMBER_OK : EMBER_ENOMEM;
    uint32_t opened = 0;
    while (rc == EMBER_OK && opened < m->nspills) {
        rc =
            ifile_reader_open(&readers[opened], fds[opened], &m->spills[opened].ranges[p], bufsize);
        in[opened] = &readers[opened].base;
        opened++; /* closed below, opened or not (close frees NULL) */
    }
    merger mg;
    if (rc == EMBER_OK && (rc = merger_init(&mg, in, (int)m->nspills, m->cmp)) == EMBER_OK) {
        int combine = m->o.job->combine != NULL && m->nspills >= 3; /* Hadoop's minimum */
        rc = map_output_write_stream(m, &mg.base, combine);
        merger_free(&mg);
    }
    for (uint32_t i = 0; i < opened; i++)
        ifile_reader_close(&readers[i]);
    free(readers);
    free(in);
    return rc;
}

/* Merges every spill into file.out, one partition at a time. */
static int map_output_merge(map_output *m) {
    int *fds = malloc(m->nspills * sizeof(int));
    ifile_range *ranges = calloc(m->o.partitions, sizeof(*ranges));
    int rc = fds != NULL && ranges != NULL ? EMBER_OK : EMBER_ENOMEM;
    uint32_t opened = 0;
    while (rc == EMBER_OK && opened < m->nspills) {
        char path[PATH_MAX];
        map_output_path(m, path, sizeof(path), "", (int)opened);
        if ((fds[opened] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            rc = EMBER_EIO;
        else
            opened++;
    }
    size_t bufsize = MAP_OUTPUT_MERGE_MEMORY / (m->nspills ? m->nspills : 1);
    if (bufsize > (1u << 20))
        bufsize = 1u << 20;
    if (rc == EMBER_OK && (rc = map_output_open_file(m, -1)) == EMBER_OK) {
        for (uint32_t p = 0; rc == EMBER_OK && p < m->o.partitions; p++) {
            ifile_writer_begin(&m->w);
            rc = map_output_merge_partition(m, p, fds, bufsize);
            if (rc == EMBER_OK)
                rc = ifile_writer_end(&m->w, &ranges[p]);
        }
        rc = map_output_close_file(m, -1, ranges, rc);
    }
    for (uint32_t i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    free(ranges);
    return rc;
}

static void map_output_count(const map_output *m) {
    mr_counters *c = m->o.task != NULL ? m->o.task->counters : NULL;
    if (c == NULL)
        return;
    const map_output_stats *s = &m->stats;
    mr_counters_add(c, MR_GROUP_TASK, "Map output records", (int64_t)s->output_records);
    mr_counters_add(c, MR_GROUP_TASK, "Map output bytes", (int64_t)s->output_bytes);
    mr_counters_add(c, MR_GROUP_TASK, "Map output materialized bytes",
                    (int64_t)s->materialized_bytes);
    mr_counters_add(c, MR_GROUP_TASK, "Spilled Records", (int64_t)s->spilled_records);
    mr_counters_add(c, MR_GROUP_TASK, "Combine input records", (int64_t)s->combine_input);
    mr_counters_add(c, MR_GROUP_TASK, "Combine output records", (int64_t)s->combine_output);
}

int map_output_finish(map_output *m, map_output_stats *stats) {
    if (m->failed || m->finished)
        return m->failed ? m->failed : EMBER_ESTATE;
    int rc;
    if (m->nspills == 0) {
        rc = map_output_spill(m, 1); /* straight into file.out */
    } else {
        rc = m->sb.n > 0 ? map_output_spill(m, 0) : EMBER_OK;
        sort_buffer_free(&m->sb); /* the merge's memory */
        if (rc == EMBER_OK)
            rc = map_output_merge(m);
    }
    if (rc != EMBER_OK)
        return m->failed = rc;
    m->finished = 1;
    map_output_count(m);
    if (stats != NULL)
        *stats = m->stats;
    return EMBER_OK;
}

void map_output_free(map_output *m) {
    if (m == NULL)
        return;
    for (uint32_t i = 0; i < m->nspills; i++) {
        char path[PATH_MAX];
        map_output_path(m, path, sizeof(path), "", (int)i);
        unlink(path);
        map_output_path(m, path, sizeof(path), ".index", (int)i);
        unlink(path);
        free(m->spills[i].ranges);
    }
    free(m->spills);
    if (m->w.buf != NULL)
        ifile_writer_abort(&m->w);
    sort_buffer_free(&m->sb);
    free(m);
}
