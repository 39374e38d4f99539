/* map_output.c -- see map_output.h.
 *
 * States: COLLECTING (pairs go into the sort buffer; a full buffer is
 * sorted and spilled, and collecting goes on) -> FINISHED (the last spill
 * written, spills merged into file.out).  A failure leaves the collector
 * failed: every later call answers the first error.
 *
 * With a combiner, pairs go into a combine table (combine_table.h)
 * instead, through a ring of MAP_OUTPUT_RING so that their cache misses
 * come ahead of them.  A key whose record fills is combined on its own
 * (not with a streaming combiner: a process per stream), its output put
 * straight back into its record.  When
 * the table is full the collector first compacts it: every partition's
 * groups go through the combiner, whose output is kept aside and added
 * back into the emptied table (Hadoop's combiner contract: it may run any
 * number of times on any subset of a key's values).  A compaction that
 * leaves the table over half full is not tried again until the limit
 * grows; at the full budget the table is spilled like the sort buffer
 * (sorted by partition and key, combined once more).
 *
 * Spills and file.out are written with the job's codec
 * (mapreduce.map.output.compress, .codec); readers find it in each
 * segment. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "combine_table.h"
#include "common/error.h"
#include "common/log.h"
#include "map_output.h"
#include "merge_plan.h"
#include "merger.h"
#include "sort_buffer.h"
#include "streaming.h"

/* A key's record is combined on its own once it holds this many values. */
#define MAP_OUTPUT_KEY_COMBINE_AT 4u
/* The room a key's record gets back after a compaction: enough to be
 * combined in place (combine_table.c's 64 bytes) without moving again. */
#define MAP_OUTPUT_COMPACT_ROOM 64u
/* Pairs bound for the combine table pass through a ring of this many: a
 * pair's slot is asked of the cache when it comes in, its record
 * MAP_OUTPUT_AHEAD pairs later, and it is added when the ring is full, so
 * that each miss has several pairs' work to arrive in. */
#define MAP_OUTPUT_RING 16u
#define MAP_OUTPUT_AHEAD 8u
/* The ring's keys and values, written round: a pair over STAGE_MAX bytes
 * skips the ring (emptied first), so the pairs in it never span more than
 * half the stage and a new one never lands on them. */
#define MAP_OUTPUT_STAGE_BYTES (64u << 10)
#define MAP_OUTPUT_STAGE_MAX (MAP_OUTPUT_STAGE_BYTES / (2 * MAP_OUTPUT_RING))
/* No slot: the compaction's output goes back by lookup. */
#define MAP_OUTPUT_NO_SLOT SIZE_MAX

typedef struct {
    combine_key key; /* its bytes in the stage, the value after them */
    size_t value_len;
} staged_pair;

typedef struct {
    ifile_range *ranges; /* one per partition */
} spill_info;

struct map_output {
    map_output_options o;
    ember_partition_fn partition;
    ember_compare_fn cmp; /* the sort order (never NULL) */
    sort_buffer sb;
    combine_table ct; /* instead of sb when use_table */
    int codec;        /* IFILE_CODEC_*: mapreduce.map.output.compress(.codec) */
    int use_table;
    int key_combine;            /* combine a full key on its own (not streaming) */
    int compact_poor;           /* the last compaction freed less than half */
    uint32_t capture_partition; /* the partition being compacted */
    uint8_t *scratch;           /* the compaction's combiner output */
    size_t scratch_len, scratch_cap;
    ember_task capture_task; /* the combiner's view when compacting */
    staged_pair ring[MAP_OUTPUT_RING];
    uint32_t ring_head, ring_tail; /* pairs staged, pairs added (mod 2^32) */
    uint8_t *stage;                /* MAP_OUTPUT_STAGE_BYTES: the ring's pairs */
    size_t stage_at;               /* where the next pair goes */
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

/* The combiner's emits while compacting: kept aside, in the partition
 * being compacted, as [u32 partition][u32 key_len][u32 value_len][key]
 * [value]. */
static int map_output_capture_emit(void *arg, const void *key, size_t key_len, const void *value,
                                   size_t value_len) {
    map_output *m = arg;
    if (key_len > UINT32_MAX || value_len > UINT32_MAX)
        return EMBER_EINVAL;
    size_t need = 12 + key_len + value_len;
    if (m->scratch_len + need > m->scratch_cap) {
        size_t ncap = m->scratch_cap ? 2 * m->scratch_cap : 1u << 16;
        while (ncap < m->scratch_len + need)
            ncap *= 2;
        uint8_t *b = realloc(m->scratch, ncap);
        if (b == NULL)
            return EMBER_ENOMEM;
        m->scratch = b;
        m->scratch_cap = ncap;
    }
    uint8_t *r = m->scratch + m->scratch_len;
    uint32_t head[3] = {m->capture_partition, (uint32_t)key_len, (uint32_t)value_len};
    memcpy(r, head, 12);
    memcpy(r + 12, key, key_len);
    if (value_len > 0)
        memcpy(r + 12 + key_len, value, value_len);
    m->scratch_len += need;
    m->stats.combine_output++;
    return EMBER_OK;
}

/* Whether to combine in a hash table: a job with a combiner, unless
 * ember.map.combine.hash is false (then Hadoop's way: sort, then combine
 * each spill). */
static int map_output_wants_table(const map_output_options *o) {
    if (o->job->combine == NULL)
        return 0;
    const char *v = o->task != NULL ? ember_conf(o->task, "ember.map.combine.hash") : NULL;
    return v == NULL || strcasecmp(v, "false") != 0;
}

/* Hadoop's other codecs: map output is internal to the job, so ember
 * uses lz4 in their place (with a warning) rather than fail the job. */
static const char *const map_output_foreign_codecs[] = {"snappy",       "snappycodec", "default",
                                                        "defaultcodec", "gzip",        "gzipcodec",
                                                        "bzip2",        "bzip2codec",  "deflate"};

/* The codec of the job's map output: mapreduce.map.output.compress
 * (false) and .codec (lz4 when unset).  EMBER_EINVAL, said why, for a
 * value that is neither. */
static int map_output_codec(const map_output_options *o, int *codec) {
    *codec = IFILE_CODEC_NONE;
    const char *on = o->task != NULL ? ember_conf(o->task, "mapreduce.map.output.compress") : NULL;
    if (on == NULL || strcasecmp(on, "false") == 0)
        return EMBER_OK;
    if (strcasecmp(on, "true") != 0) {
        LOG_ERROR("mapreduce.map.output.compress: '%s' is not true or false", on);
        return EMBER_EINVAL;
    }
    const char *name = ember_conf(o->task, "mapreduce.map.output.compress.codec");
    *codec = IFILE_CODEC_LZ4;
    if (name == NULL || ifile_codec_parse(name, codec) == EMBER_OK)
        return EMBER_OK;
    const char *base = strrchr(name, '.') != NULL ? strrchr(name, '.') + 1 : name;
    for (size_t i = 0; i < sizeof(map_output_foreign_codecs) / sizeof(char *); i++)
        if (strcasecmp(base, map_output_foreign_codecs[i]) == 0) {
            LOG_WARN("mapreduce.map.output.compress.codec: %s is not built in; map output "
                     "uses lz4",
                     name);
            return EMBER_OK;
        }
    LOG_ERROR("mapreduce.map.output.compress.codec: Compression codec %s was not found (ember "
              "has org.apache.hadoop.io.compress.Lz4Codec and ZStandardCodec: lz4, zstd)",
              name);
    return EMBER_EINVAL;
}

int map_output_open(const map_output_options *o, map_output **out) {
    if (o->partitions == 0 || o->job == NULL || o->dir == NULL)
        return EMBER_EINVAL;
    int codec;
    if (map_output_codec(o, &codec) != EMBER_OK)
        return EMBER_EINVAL;
    map_output *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return EMBER_ENOMEM;
    m->o = *o;
    m->codec = codec;
    m->partition = o->job->partition != NULL ? o->job->partition : kv_hash_partition;
    m->cmp = o->job->sort_compare != NULL ? o->job->sort_compare : kv_compare_bytes;
    m->w.fd = -1;
    int rc = EMBER_EINVAL;
    if (map_output_wants_table(o)) /* a budget too small for it: the sort buffer */
        m->use_table =
            (rc = combine_table_init(&m->ct, o->sort_bytes, o->job->sort_compare)) == EMBER_OK;
    if (rc == EMBER_EINVAL)
        rc = sort_buffer_init(&m->sb, o->sort_bytes, o->job->sort_compare);
    if (rc == EMBER_OK && m->use_table && (m->stage = malloc(MAP_OUTPUT_STAGE_BYTES)) == NULL) {
        combine_table_free(&m->ct);
        rc = EMBER_ENOMEM;
    }
    /* Counts summed as they come (combine_table.h), not kept for the
     * combiner. */
    m->ct.sum_u64 = m->use_table && o->job->combine == ember_sum_u64;
    /* A streaming combiner is a process per stream: only whole tables. */
    m->key_combine =
        m->use_table && (o->task == NULL || ember_conf(o->task, STREAMING_COMBINE_COMMAND) == NULL);
    if (rc != EMBER_OK) {
        free(m);
        return rc;
    }
    if (o->task != NULL)
        m->combine_task = *o->task;
    m->capture_task = m->combine_task;
    m->combine_task.emit = map_output_combine_emit;
    m->combine_task.emit_arg = m;
    m->capture_task.emit = map_output_capture_emit;
    m->capture_task.emit_arg = m;
    *out = m;
    return EMBER_OK;
}

/* The buffered pairs: in the sort buffer or the combine table. */
typedef union {
    kv_stream base;
    sort_buffer_reader sb;
    combine_table_reader ct;
} map_output_reader;

static void map_output_sort(map_output *m) {
    if (m->use_table)
        combine_table_sort(&m->ct);
    else
        sort_buffer_sort(&m->sb);
}

static kv_stream *map_output_buffered(map_output *m, uint32_t p, map_output_reader *r) {
    if (m->use_table)
        combine_table_stream(&m->ct, p, &r->ct);
    else
        sort_buffer_stream(&m->sb, p, &r->sb);
    return &r->base;
}

static size_t map_output_buffered_count(const map_output *m) {
    return m->use_table ? m->ct.n : m->sb.n;
}

/* Empties the combine table; the pairs it summed in place were combiner
 * input. */
static void map_output_table_reset(map_output *m) {
    m->stats.combine_input += m->ct.summed;
    combine_table_reset(&m->ct);
}

static void map_output_reset(map_output *m) {
    if (m->use_table)
        map_output_table_reset(m);
    else
        sort_buffer_reset(&m->sb);
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
    return ifile_writer_open_codec(&m->w, path, m->codec);
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
    map_output_sort(m);
    int rc = map_output_open_file(m, n);
    if (rc != EMBER_OK) {
        free(ranges);
        return rc;
    }
    for (uint32_t p = 0; rc == EMBER_OK && p < m->o.partitions; p++) {
        map_output_reader r;
        kv_stream *in = map_output_buffered(m, p, &r);
        ifile_writer_begin(&m->w);
        rc = map_output_write_stream(m, in, m->o.job->combine != NULL);
        if (rc == EMBER_OK)
            rc = ifile_writer_end(&m->w, &ranges[p]);
    }
    rc = map_output_close_file(m, n, ranges, rc);
    map_output_reset(m);
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

static int map_output_table_add(map_output *m, const combine_key *k, const void *value,
                                size_t value_len, int may_compact);

/* Adds a pair to the sort buffer, spilling it when full. */
static int map_output_sort_add(map_output *m, uint32_t p, const void *key, size_t key_len,
                               const void *value, size_t value_len) {
    if (!sort_buffer_fits(&m->sb, key_len, value_len)) {
        int rc = m->sb.n > 0 ? map_output_spill(m, 0) : EMBER_OK;
        if (rc == EMBER_OK && !sort_buffer_fits_empty(&m->sb, key_len, value_len))
            return map_output_spill_one(m, p, key, key_len, value, value_len); /* alone */
        if (rc != EMBER_OK)
            return rc;
    }
    sort_buffer_add(&m->sb, p, key, key_len, value, value_len);
    return EMBER_OK;
}

/* The keys hardly repeat (a compaction gave back 9 in 10 of the records
 * it took): the table costs more than it saves, so it is spilled and the
 * rest of the task goes through the sort buffer, Hadoop's way (as
 * Presto's partial aggregation turns itself off). */
static int map_output_give_up_table(map_output *m) {
    int rc = map_output_spill(m, 0);
    combine_table_free(&m->ct);
    m->use_table = 0;
    if (rc == EMBER_OK)
        rc = sort_buffer_init(&m->sb, m->o.sort_bytes, m->o.job->sort_compare);
    return rc;
}

/* Adds the combiner's output kept aside back into the table: straight
 * into slot's record when it is that key's (and the record has room),
 * else by lookup (then slot is forgotten: the table may have changed). */
static int map_output_add_captured(map_output *m, size_t slot) {
    int rc = EMBER_OK;
    for (size_t at = 0; rc == EMBER_OK && at < m->scratch_len;) {
        uint32_t head[3];
        memcpy(head, m->scratch + at, 12);
        const uint8_t *key = m->scratch + at + 12, *value = key + head[1];
        at += 12 + (size_t)head[1] + head[2];
        if (slot != MAP_OUTPUT_NO_SLOT &&
            combine_table_key_is(&m->ct, slot, key, head[1], head[0]) &&
            (rc = combine_table_append(&m->ct, slot, value, head[2], 0)) != EMBER_EAGAIN)
            continue;
        combine_key k;
        combine_key_init(&k, key, head[1], head[0]);
        rc = map_output_table_add(m, &k, value, head[2], 0);
        slot = MAP_OUTPUT_NO_SLOT;
    }
    m->scratch_len = 0;
    return rc;
}

/* Every key of a single-key stream is the same: no compare needed. */
static int map_output_one_key(const void *a, size_t a_len, const void *b, size_t b_len) {
    (void)a, (void)a_len, (void)b, (void)b_len;
    return 0;
}

/* Runs the combiner over one key's full record and puts its output back:
 * the key's record usually has room again. */
static int map_output_combine_key(map_output *m, size_t slot) {
    combine_table_reader r;
    combine_table_key_stream(&m->ct, slot, &r);
    m->capture_partition = combine_table_key_partition(&m->ct, slot);
    m->scratch_len = 0;
    mr_group_stats read;
    int rc = mr_group_each(&r.base, map_output_one_key, m->o.job->combine, &m->capture_task, &read);
    m->stats.combine_input += read.records;
    combine_table_key_clear(&m->ct, slot);
    return rc == EMBER_OK ? map_output_add_captured(m, slot) : rc;
}

/* Runs the combiner over the whole table and rebuilds it from the output
 * (see the top of the file). */
static int map_output_compact(map_output *m) {
    combine_table *t = &m->ct;
    combine_table_group(t);
    m->scratch_len = 0;
    int rc = EMBER_OK;
    uint64_t in = m->stats.combine_input, out = m->stats.combine_output;
    for (size_t i = 0; rc == EMBER_OK && i < t->n;) {
        combine_table_reader r;
        m->capture_partition = combine_table_key_partition(t, i);
        combine_table_stream(t, m->capture_partition, &r);
        mr_group_stats read;
        rc = mr_group_each(&r.base, m->cmp, m->o.job->combine, &m->capture_task, &read);
        m->stats.combine_input += read.records;
        i = r.end;
    }
    map_output_table_reset(m);
    t->first_room = MAP_OUTPUT_COMPACT_ROOM;
    if (rc == EMBER_OK)
        rc = map_output_add_captured(m, MAP_OUTPUT_NO_SLOT);
    t->first_room = 0;
    m->compact_poor = combine_table_bytes(t) > t->limit / 2;
    in = m->stats.combine_input - in;
    out = m->stats.combine_output - out;
    if (rc == EMBER_OK && m->compact_poor && in >= 1000 && 10 * out > 9 * in)
        rc = map_output_give_up_table(m);
    return rc;
}

/* Adds a pair to the combine table, making room as the top of the file
 * says: combine the key's own record (once), compact (once), grow the
 * limit, spill.  may_compact is 0 for the combiner's own output. */
static int map_output_table_add(map_output *m, const combine_key *k, const void *value,
                                size_t value_len, int may_compact) {
    int compacted = 0, key_combined = !may_compact || !m->key_combine;
    for (;;) {
        if (!m->use_table) /* given up on, mid-ring */
            return map_output_sort_add(m, k->partition, k->bytes, k->len, value, value_len);
        uint32_t at = key_combined ? 0 : MAP_OUTPUT_KEY_COMBINE_AT;
        int rc = combine_table_add_key(&m->ct, k, value, value_len, at);
        if (rc == 1) {
            key_combined = 1;
            if ((rc = map_output_combine_key(m, m->ct.full)) != EMBER_OK)
                return rc;
            continue;
        }
        if (rc != EMBER_EAGAIN)
            return rc;
        if (!combine_table_fits_empty(&m->ct, k->len, value_len))
            return map_output_spill_one(m, k->partition, k->bytes, k->len, value, value_len);
        if (may_compact && !compacted && !m->compact_poor && m->ct.n > 0) {
            compacted = 1;
            if ((rc = map_output_compact(m)) != EMBER_OK)
                return rc;
        } else if (combine_table_grow_limit(&m->ct)) {
            m->compact_poor = 0;
        } else if (m->ct.n == 0) {
            return map_output_spill_one(m, k->partition, k->bytes, k->len, value, value_len);
        } else {
            if ((rc = map_output_spill(m, 0)) != EMBER_OK)
                return rc;
            m->compact_poor = 0;
        }
    }
}

/* Adds the oldest pair of the ring to the table: straight in, the common
 * case, else (nothing changed) by the way that makes room. */
static int map_output_add_staged(map_output *m) {
    const staged_pair *s = &m->ring[m->ring_tail++ % MAP_OUTPUT_RING];
    const uint8_t *value = s->key.bytes + s->key.len;
    uint32_t at = m->key_combine ? MAP_OUTPUT_KEY_COMBINE_AT : 0;
    if (m->use_table && combine_table_add_key(&m->ct, &s->key, value, s->value_len, at) == EMBER_OK)
        return EMBER_OK;
    return map_output_table_add(m, &s->key, value, s->value_len, 1);
}

/* Adds every pair of the ring, in order. */
static int map_output_drain(map_output *m) {
    int rc = EMBER_OK;
    while (rc == EMBER_OK && m->ring_tail != m->ring_head)
        rc = map_output_add_staged(m);
    m->ring_tail = m->ring_head; /* after a failure, the rest are dropped with the task */
    return rc;
}

/* Puts a pair in the ring (see MAP_OUTPUT_RING), adding the oldest when
 * it is full; a large pair goes straight in. */
static int map_output_stage(map_output *m, uint32_t p, const void *key, size_t key_len,
                            const void *value, size_t value_len) {
    size_t n = key_len + value_len;
    if (n > MAP_OUTPUT_STAGE_MAX) {
        combine_key k;
        combine_key_init(&k, key, key_len, p);
        int rc = map_output_drain(m);
        return rc == EMBER_OK ? map_output_table_add(m, &k, value, value_len, 1) : rc;
    }
    if (m->stage_at + n > MAP_OUTPUT_STAGE_BYTES)
        m->stage_at = 0;
    uint8_t *at = m->stage + m->stage_at;
    combine_copy(at, key, key_len);
    combine_copy(at + key_len, value, value_len);
    m->stage_at += n;
    staged_pair *s = &m->ring[m->ring_head++ % MAP_OUTPUT_RING];
    combine_key_init(&s->key, key, key_len, p); /* not from the copy: its stores are in flight */
    s->key.bytes = at;
    s->value_len = value_len;
    combine_table_prefetch(&m->ct, &s->key, 0);
    uint32_t staged = m->ring_head - m->ring_tail;
    if (staged > MAP_OUTPUT_AHEAD) /* its slot has had AHEAD pairs' time */
        combine_table_prefetch(
            &m->ct, &m->ring[(m->ring_head - 1 - MAP_OUTPUT_AHEAD) % MAP_OUTPUT_RING].key, 1);
    return staged == MAP_OUTPUT_RING ? map_output_add_staged(m) : EMBER_OK;
}

int map_output_collect(map_output *m, const void *key, size_t key_len, const void *value,
                       size_t value_len) {
    if (m->failed || m->finished)
        return m->failed ? m->failed : EMBER_ESTATE;
    /* One partition: the partitioner is not asked (as in Hadoop). */
    uint32_t p = m->o.partitions > 1 ? m->partition(key, key_len, m->o.partitions) : 0;
    if (p >= m->o.partitions) {
        LOG_ERROR("map output: the job's partitioner answered %u of %u partitions", p,
                  m->o.partitions);
        return m->failed = EMBER_EINVAL;
    }
    m->stats.output_records++;
    m->stats.output_bytes += key_len + value_len;
    int rc = EMBER_OK;
    if (m->use_table)
        rc = map_output_stage(m, p, key, key_len, value, value_len);
    else if (m->ring_tail == m->ring_head ||
             (rc = map_output_drain(m)) == EMBER_OK) /* the table given up on */
        rc = map_output_sort_add(m, p, key, key_len, value, value_len);
    return rc == EMBER_OK ? rc : (m->failed = rc);
}

/* Merges partition p of every spill (paths[i]: spill i) into the open
 * file.out segment: past the merge factor first in passes through
 * intermediate files (merge_plan.h), the combiner on the final merge
 * only, as Hadoop's mergeParts. */
static int map_output_merge_partition(map_output *m, uint32_t p, const char *paths) {
    merge_segment *segs = calloc(m->nspills, sizeof(*segs));
    if (segs == NULL)
        return EMBER_ENOMEM;
    for (uint32_t i = 0; i < m->nspills; i++)
        segs[i] =
            (merge_segment){.path = paths + (size_t)i * PATH_MAX, .range = m->spills[i].ranges[p]};
    char name[32];
    snprintf(name, sizeof(name), "file.out.%u", p);
    merge_plan_options po = {.factor = m->o.merge_factor > 0 ? m->o.merge_factor
                                                             : MERGE_PLAN_DEFAULT_FACTOR,
                             .cmp = m->cmp,
                             .dir = m->o.dir,
                             .name = name,
                             .codec = m->codec,
                             .memory = MAP_OUTPUT_MERGE_MEMORY};
    merge_plan *plan;
    int rc = merge_plan_open(&po, segs, (int)m->nspills, &plan);
    free(segs);
    if (rc != EMBER_OK)
        return rc;
    m->stats.spilled_records += merge_plan_get_stats(plan)->records_written;
    int k;
    kv_stream **in = merge_plan_streams(plan, &k);
    merger mg;
    if ((rc = merger_init(&mg, in, k, m->cmp)) == EMBER_OK) {
        int combine = m->o.job->combine != NULL && m->nspills >= 3; /* Hadoop's minimum */
        rc = map_output_write_stream(m, &mg.base, combine);
        merger_free(&mg);
    }
    merge_plan_free(plan);
    return rc;
}

/* Merges every spill into file.out, one partition at a time. */
static int map_output_merge(map_output *m) {
    char *paths = malloc((size_t)m->nspills * PATH_MAX);
    ifile_range *ranges = calloc(m->o.partitions, sizeof(*ranges));
    int rc = paths != NULL && ranges != NULL ? EMBER_OK : EMBER_ENOMEM;
    for (uint32_t i = 0; rc == EMBER_OK && i < m->nspills; i++)
        map_output_path(m, paths + (size_t)i * PATH_MAX, PATH_MAX, "", (int)i);
    if (rc == EMBER_OK && (rc = map_output_open_file(m, -1)) == EMBER_OK) {
        for (uint32_t p = 0; rc == EMBER_OK && p < m->o.partitions; p++) {
            ifile_writer_begin(&m->w);
            rc = map_output_merge_partition(m, p, paths);
            if (rc == EMBER_OK)
                rc = ifile_writer_end(&m->w, &ranges[p]);
        }
        rc = map_output_close_file(m, -1, ranges, rc);
    }
    free(paths);
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
    int rc = map_output_drain(m);
    if (rc == EMBER_OK && m->nspills == 0) {
        rc = map_output_spill(m, 1); /* straight into file.out */
    } else if (rc == EMBER_OK) {
        rc = map_output_buffered_count(m) > 0 ? map_output_spill(m, 0) : EMBER_OK;
        sort_buffer_free(&m->sb); /* the merge's memory */
        combine_table_free(&m->ct);
        free(m->scratch);
        m->scratch = NULL;
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
    combine_table_free(&m->ct);
    free(m->scratch);
    free(m->stage);
    free(m);
}
