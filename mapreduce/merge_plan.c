/* merge_plan.c -- see merge_plan.h.
 *
 * The plan is the list of segments still to merge, in order; an
 * intermediate merge replaces the run [first, last] with the one file it
 * wrote.  Invariant: no more than factor segment files are open for
 * reading at any time (stats.open_files counts them): an intermediate
 * merge opens exactly the run's files (at most factor) and closes them
 * before the next; the final inputs are opened once the files left are at
 * most factor.  Memory segments are read in place and hold no
 * descriptor, so a run may hold any number of them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "merge_plan.h"
#include "merger.h"

#define MERGE_PLAN_BUFFER_MIN (64u << 10)
#define MERGE_PLAN_BUFFER_MAX (1u << 20)

typedef struct {
    merge_segment seg;
    char *owned;    /* an intermediate file of ours (seg.path), else NULL */
    uint64_t bytes; /* its size, to choose the smallest runs */
} plan_segment;

/* One opened segment: its reader and, on disk, its descriptor. */
typedef struct {
    ifile_reader reader;
    int fd; /* -1: in memory */
} plan_input;

struct merge_plan {
    merge_plan_options o;
    plan_segment *segs;
    int n;
    plan_input *inputs; /* the open run, or the final inputs */
    kv_stream **streams;
    int k; /* inputs open */
    unsigned next_file;
    merge_plan_stats stats;
};

static int plan_is_file(const plan_segment *s) { return s->seg.path != NULL; }

static int plan_files(const merge_plan *p, int first, int last) {
    int files = 0;
    for (int i = first; i <= last; i++)
        files += plan_is_file(&p->segs[i]);
    return files;
}

/* Hadoop's getPassFactor: the first pass merges just enough files that
 * every later one merges exactly factor. */
static int plan_pass_factor(int factor, int pass, int files) {
    if (pass > 0 || files <= factor)
        return factor;
    int mod = (files - 1) % (factor - 1);
    return mod == 0 ? factor : mod + 1;
}

/* The run of consecutive segments holding exactly want files (starting
 * and ending on one) with the fewest bytes; the leftmost on a tie. */
static int plan_choose(const merge_plan *p, int want, int *first, int *last) {
    int *at = malloc((size_t)p->n * sizeof(int));
    uint64_t *sum = malloc(((size_t)p->n + 1) * sizeof(uint64_t));
    if (at == NULL || sum == NULL) {
        free(at);
        free(sum);
        return EMBER_ENOMEM;
    }
    int files = 0;
    sum[0] = 0;
    for (int i = 0; i < p->n; i++) {
        sum[i + 1] = sum[i] + p->segs[i].bytes;
        if (plan_is_file(&p->segs[i]))
            at[files++] = i;
    }
    uint64_t best = UINT64_MAX;
    for (int i = 0; i + want <= files; i++) {
        uint64_t bytes = sum[at[i + want - 1] + 1] - sum[at[i]];
        if (bytes < best) {
            best = bytes;
            *first = at[i];
            *last = at[i + want - 1];
        }
    }
    free(at);
    free(sum);
    return EMBER_OK;
}

static void plan_close_inputs(merge_plan *p) {
    for (int i = 0; i < p->k; i++) {
        ifile_reader_close(&p->inputs[i].reader);
        if (p->inputs[i].fd >= 0) {
            close(p->inputs[i].fd);
            p->stats.open_files--;
        }
    }
    p->k = 0;
}

/* Opens segments [first, last] as p->inputs (closed again on failure). */
static int plan_open_inputs(merge_plan *p, int first, int last) {
    int files = plan_files(p, first, last);
    size_t each = p->o.memory / (size_t)(files > 0 ? files : 1);
    each = each < MERGE_PLAN_BUFFER_MIN   ? MERGE_PLAN_BUFFER_MIN
           : each > MERGE_PLAN_BUFFER_MAX ? MERGE_PLAN_BUFFER_MAX
                                          : each;
    int rc = EMBER_OK;
    for (int i = first; rc == EMBER_OK && i <= last; i++) {
        const merge_segment *s = &p->segs[i].seg;
        plan_input *in = &p->inputs[p->k];
        in->fd = -1;
        if (s->path == NULL) {
            ifile_reader_open_memory(&in->reader, s->data, s->len);
        } else if ((in->fd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0) {
            LOG_ERROR("merge: cannot open %s: %s (%d segment files open)", s->path, strerror(errno),
                      p->stats.open_files);
            rc = EMBER_EIO;
            break;
        } else {
            if (++p->stats.open_files > p->stats.peak_files)
                p->stats.peak_files = p->stats.open_files;
            rc = ifile_reader_open(&in->reader, in->fd, &s->range, each);
        }
        p->streams[p->k++] = &in->reader.base; /* closed below, opened or not */
    }
    if (rc != EMBER_OK)
        plan_close_inputs(p);
    return rc;
}

/* Writes the merge of the open inputs into a new file, one segment. */
static int plan_write(merge_plan *p, const char *path, ifile_range *range) {
    ifile_writer w;
    int rc = ifile_writer_open_codec(&w, path, p->o.codec);
    if (rc != EMBER_OK)
        return rc;
    merger m;
    if ((rc = merger_init(&m, p->streams, p->k, p->o.cmp)) != EMBER_OK) {
        ifile_writer_abort(&w);
        return rc;
    }
    ifile_writer_begin(&w);
    kv_record r;
    uint64_t written = 0;
    while ((rc = m.base.next(&m.base, &r)) == 1) {
        if ((rc = ifile_writer_append(&w, r.key, r.key_len, r.value, r.value_len)) != EMBER_OK)
            break;
        if (++written % MERGE_PLAN_TICK_RECORDS == 0 && p->o.tick != NULL)
            p->o.tick(p->o.tick_arg);
    }
    merger_free(&m);
    uint64_t bytes = 0;
    if (rc == EMBER_OK)
        rc = ifile_writer_end(&w, range);
    if (rc == EMBER_OK)
        rc = ifile_writer_close(&w, &bytes);
    else
        ifile_writer_abort(&w);
    if (rc == EMBER_OK) {
        p->stats.records_written += range->records;
        p->stats.bytes_written += bytes;
    }
    return rc;
}

/* Merges segments [first, last] into an intermediate file that takes
 * their place; the intermediate files among them are removed. */
static int plan_merge_run(merge_plan *p, int first, int last) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s.merge%u", p->o.dir, p->o.name, p->next_file++);
    char *owned = strdup(path);
    if (owned == NULL)
        return EMBER_ENOMEM;
    ifile_range range = {0};
    int rc = plan_open_inputs(p, first, last);
    if (rc == EMBER_OK) {
        rc = plan_write(p, owned, &range);
        plan_close_inputs(p);
    }
    if (rc != EMBER_OK) {
        unlink(owned);
        free(owned);
        return rc;
    }
    uint64_t bytes = 0;
    for (int i = first; i <= last; i++) {
        bytes += p->segs[i].bytes;
        if (p->segs[i].owned != NULL) {
            unlink(p->segs[i].owned);
            free(p->segs[i].owned);
        }
    }
    p->segs[first] =
        (plan_segment){.seg = {.path = owned, .range = range}, .owned = owned, .bytes = bytes};
    memmove(&p->segs[first + 1], &p->segs[last + 1], (size_t)(p->n - last - 1) * sizeof(*p->segs));
    p->n -= last - first;
    p->stats.passes++;
    return EMBER_OK;
}

static uint64_t plan_segment_bytes(const merge_segment *s) {
    if (s->path == NULL)
        return s->len;
    return s->range.raw_length != 0 ? s->range.raw_length : s->range.length;
}

int merge_plan_open(const merge_plan_options *o, const merge_segment *segs, int n,
                    merge_plan **out) {
    *out = NULL;
    if (o->factor < 2 || n < 0 || o->dir == NULL || o->name == NULL)
        return EMBER_EINVAL;
    merge_plan *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return EMBER_ENOMEM;
    p->o = *o;
    size_t slots = n > 0 ? (size_t)n : 1;
    p->segs = calloc(slots, sizeof(*p->segs));
    p->inputs = calloc(slots, sizeof(*p->inputs));
    p->streams = calloc(slots, sizeof(*p->streams));
    int rc = p->segs && p->inputs && p->streams ? EMBER_OK : EMBER_ENOMEM;
    for (int i = 0; rc == EMBER_OK && i < n; i++) {
        uint64_t bytes = plan_segment_bytes(&segs[i]);
        if (bytes != IFILE_EMPTY_SEGMENT) /* known empty: not opened, as Hadoop */
            p->segs[p->n++] = (plan_segment){.seg = segs[i], .bytes = bytes};
    }
    for (int pass = 0, files = plan_files(p, 0, p->n - 1); rc == EMBER_OK && files > o->factor;
         pass++) {
        int want = plan_pass_factor(o->factor, pass, files), first = 0, last = 0;
        rc = plan_choose(p, want, &first, &last);
        if (rc == EMBER_OK)
            rc = plan_merge_run(p, first, last);
        files -= want - 1;
    }
    if (rc == EMBER_OK)
        rc = plan_open_inputs(p, 0, p->n - 1);
    if (rc != EMBER_OK) {
        merge_plan_free(p);
        return rc;
    }
    *out = p;
    return EMBER_OK;
}

kv_stream **merge_plan_streams(merge_plan *p, int *k) {
    *k = p->k;
    return p->streams;
}

const merge_plan_stats *merge_plan_get_stats(const merge_plan *p) { return &p->stats; }

void merge_plan_free(merge_plan *p) {
    if (p == NULL)
        return;
    plan_close_inputs(p);
    for (int i = 0; i < p->n; i++)
        if (p->segs[i].owned != NULL) {
            unlink(p->segs[i].owned);
            free(p->segs[i].owned);
        }
    free(p->segs);
    free(p->inputs);
    free(p->streams);
    free(p);
}
