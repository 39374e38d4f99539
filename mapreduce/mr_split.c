/* mr_split.c -- see mr_split.h.
 *
 * A builder appends splits, their chunks and their hosts to three growing
 * arrays; a split remembers where its chunks and hosts begin, and the
 * pointers are set once at the end, when the arrays stop moving.  Host
 * names are interned (one copy each, an id per name) so that the combined
 * packing can count bytes per host in a plain array. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "mr_split.h"

typedef struct {
    size_t chunk0, host0; /* where the split's chunks and hosts begin */
} split_mark;

typedef struct {
    mr_split_list *list;
    size_t split_cap, chunk_count, chunk_cap, host_count, host_cap, string_cap;
    split_mark *marks;
    /* interned host names: open addressing over ids into names[] */
    size_t mark_cap;
    size_t *table; /* id + 1; 0 = empty */
    size_t table_cap;
    const char **names;
    size_t name_count, name_cap;
    const mr_input_file *files; /* as given: a chunk's file is its index */
} split_builder;

/* Grows *v (of *cap elements of size each) to hold need elements. */
static int split_grow(void *v, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return EMBER_OK;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*(void **)v, n * size);
    if (p == NULL)
        return EMBER_ENOMEM;
    *(void **)v = p;
    *cap = n;
    return EMBER_OK;
}

/* A copy of s owned by the list. */
static const char *split_string(split_builder *b, const char *s) {
    mr_split_list *l = b->list;
    if (split_grow(&l->strings, &b->string_cap, l->string_count + 1, sizeof(char *)) != EMBER_OK)
        return NULL;
    char *c = strdup(s);
    if (c != NULL)
        l->strings[l->string_count++] = c;
    return c;
}

static uint64_t split_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int split_rehash(split_builder *b) {
    size_t cap = b->table_cap ? b->table_cap * 2 : 64;
    size_t *t = calloc(cap, sizeof(*t));
    if (t == NULL)
        return EMBER_ENOMEM;
    for (size_t id = 0; id < b->name_count; id++) {
        size_t i = (size_t)split_hash(b->names[id]) & (cap - 1);
        while (t[i] != 0)
            i = (i + 1) & (cap - 1);
        t[i] = id + 1;
    }
    free(b->table);
    b->table = t;
    b->table_cap = cap;
    return EMBER_OK;
}

/* The id of host name (interned on first sight); -1 when out of memory. */
static long split_host_id(split_builder *b, const char *name) {
    if (2 * (b->name_count + 1) > b->table_cap && split_rehash(b) != EMBER_OK)
        return -1;
    size_t i = (size_t)split_hash(name) & (b->table_cap - 1);
    for (; b->table[i] != 0; i = (i + 1) & (b->table_cap - 1))
        if (strcmp(b->names[b->table[i] - 1], name) == 0)
            return (long)(b->table[i] - 1);
    if (split_grow(&b->names, &b->name_cap, b->name_count + 1, sizeof(char *)) != EMBER_OK)
        return -1;
    const char *copy = split_string(b, name);
    if (copy == NULL)
        return -1;
    b->names[b->name_count] = copy;
    b->table[i] = ++b->name_count;
    return (long)(b->name_count - 1);
}

static int split_begin(split_builder *b) {
    mr_split_list *l = b->list;
    size_t need = l->count + 1;
    if (split_grow(&l->splits, &b->split_cap, need, sizeof(mr_split)) != EMBER_OK ||
        split_grow(&b->marks, &b->mark_cap, need, sizeof(split_mark)) != EMBER_OK)
        return EMBER_ENOMEM;
    memset(&l->splits[l->count], 0, sizeof(mr_split));
    b->marks[l->count] = (split_mark){b->chunk_count, b->host_count};
    l->count++;
    return EMBER_OK;
}

/* Appends a chunk to the split begun last, extending its last chunk when
 * this one continues it in the same file. */
static int split_add_chunk(split_builder *b, const char *path, size_t file, uint64_t off,
                           uint64_t len) {
    mr_split_list *l = b->list;
    mr_split *s = &l->splits[l->count - 1];
    s->length += len;
    if (s->chunk_count > 0) {
        mr_chunk *last = &l->chunk_store[b->chunk_count - 1];
        if (last->path == path && last->offset + last->length == off) {
            last->length += len;
            return EMBER_OK;
        }
    }
    if (split_grow(&l->chunk_store, &b->chunk_cap, b->chunk_count + 1, sizeof(mr_chunk)) !=
        EMBER_OK)
        return EMBER_ENOMEM;
    l->chunk_store[b->chunk_count++] = (mr_chunk){path, off, len, file};
    s->chunk_count++;
    return EMBER_OK;
}

static int split_add_host(split_builder *b, const char *host) {
    mr_split_list *l = b->list;
    if (split_grow(&l->host_store, &b->host_cap, b->host_count + 1, sizeof(char *)) != EMBER_OK)
        return EMBER_ENOMEM;
    l->host_store[b->host_count++] = host;
    l->splits[l->count - 1].host_count++;
    return EMBER_OK;
}

/* Adds the hosts of a block to the split begun last. */
static int split_add_block_hosts(split_builder *b, const mr_block *blk) {
    for (size_t i = 0; blk != NULL && i < blk->host_count; i++) {
        long id = split_host_id(b, blk->hosts[i]);
        if (id < 0 || split_add_host(b, b->names[id]) != EMBER_OK)
            return EMBER_ENOMEM;
    }
    return EMBER_OK;
}

/* Checks that a file's blocks, when given, cover [0, size) in order. */
static int split_check_blocks(const mr_input_file *f) {
    uint64_t at = 0;
    for (size_t i = 0; i < f->block_count; i++) {
        if (f->blocks[i].offset != at)
            return EMBER_EINVAL;
        at += f->blocks[i].length;
    }
    return f->blocks == NULL || at == f->size ? EMBER_OK : EMBER_EINVAL;
}

/* The block holding most of [off, off + len), the first on a tie; *hint
 * (a block index, moving forward) makes a file's splits cost one pass. */
static const mr_block *split_main_block(const mr_input_file *f, uint64_t off, uint64_t len,
                                        size_t *hint) {
    const mr_block *best = NULL;
    uint64_t best_bytes = 0, end = off + len;
    while (*hint < f->block_count && f->blocks[*hint].offset + f->blocks[*hint].length <= off)
        (*hint)++;
    for (size_t i = *hint; i < f->block_count && f->blocks[i].offset < end; i++) {
        const mr_block *k = &f->blocks[i];
        uint64_t lo = k->offset > off ? k->offset : off;
        uint64_t hi = k->offset + k->length < end ? k->offset + k->length : end;
        if (best == NULL || hi - lo > best_bytes) {
            best = k;
            best_bytes = hi - lo;
        }
    }
    return best;
}

static int split_plain_one(split_builder *b, const mr_input_file *f, const char *path, uint64_t off,
                           uint64_t len, size_t *hint) {
    int rc = split_begin(b);
    if (rc == EMBER_OK)
        rc = split_add_chunk(b, path, (size_t)(f - b->files), off, len);
    if (rc == EMBER_OK && len > 0)
        rc = split_add_block_hosts(b, split_main_block(f, off, len, hint));
    return rc;
}

/* FileInputFormat.getSplits() for one file. */
static int split_plain_file(split_builder *b, const mr_input_file *f, const mr_split_options *o) {
    const char *path = split_string(b, f->path);
    if (path == NULL)
        return EMBER_ENOMEM;
    size_t hint = 0;
    if (f->size == 0 || !f->splittable)
        return split_plain_one(b, f, path, 0, f->size, &hint);
    uint64_t min = o->min_size ? o->min_size : 1;
    uint64_t max = o->max_size ? o->max_size : UINT64_MAX;
    uint64_t block = f->block_size ? f->block_size : MR_SPLIT_LOCAL_BLOCK_SIZE;
    uint64_t size = block < max ? block : max;
    if (size < min)
        size = min;
    uint64_t left = f->size;
    while ((double)left / (double)size > MR_SPLIT_SLOP) {
        int rc = split_plain_one(b, f, path, f->size - left, size, &hint);
        if (rc != EMBER_OK)
            return rc;
        left -= size;
    }
    return left ? split_plain_one(b, f, path, f->size - left, left, &hint) : EMBER_OK;
}

/* ---- combined splits (CombineFileInputFormat) ---- */

typedef struct {
    const char *path;
    uint64_t offset, length;
    const mr_block *block; /* for its hosts; NULL: none known */
    int assigned;
    size_t file;
} split_piece;

typedef struct {
    size_t *pieces; /* indexes, in input order */
    size_t count, cap, cursor;
    int completed, splits;
} split_node;

typedef struct {
    split_builder *b;
    split_piece *pieces;
    size_t count, cap;
    split_node *nodes; /* by host id */
    size_t node_count;
    uint64_t max;
    size_t file; /* the file being cut into pieces */
} split_packer;

static int split_piece_add(split_packer *p, const char *path, uint64_t off, uint64_t len,
                           const mr_block *blk) {
    if (split_grow(&p->pieces, &p->cap, p->count + 1, sizeof(split_piece)) != EMBER_OK)
        return EMBER_ENOMEM;
    p->pieces[p->count++] = (split_piece){path, off, len, blk, 0, p->file};
    return EMBER_OK;
}

/* A block's pieces: at most max bytes each, and when what is left is
 * between max and 2 x max, two halves rather than max and a sliver. */
static int split_piece_block(split_packer *p, const char *path, uint64_t off, uint64_t len,
                             const mr_block *blk) {
    do {
        uint64_t n = len;
        if (len > p->max && len - p->max < p->max)
            n = len / 2;
        else if (len > p->max)
            n = p->max;
        int rc = split_piece_add(p, path, off, n, blk);
        if (rc != EMBER_OK)
            return rc;
        off += n;
        len -= n;
    } while (len > 0);
    return EMBER_OK;
}

static int split_pieces_of_file(split_packer *p, const mr_input_file *f) {
    const char *path = split_string(p->b, f->path);
    if (path == NULL)
        return EMBER_ENOMEM;
    p->file = (size_t)(f - p->b->files);
    if (f->size == 0 || !f->splittable)
        return split_piece_add(p, path, 0, f->size, f->block_count ? &f->blocks[0] : NULL);
    if (f->blocks != NULL) {
        for (size_t i = 0; i < f->block_count; i++) {
            const mr_block *k = &f->blocks[i];
            int rc = k->length ? split_piece_block(p, path, k->offset, k->length, k) : EMBER_OK;
            if (rc != EMBER_OK)
                return rc;
        }
        return EMBER_OK;
    }
    uint64_t block = f->block_size ? f->block_size : MR_SPLIT_LOCAL_BLOCK_SIZE;
    for (uint64_t off = 0; off < f->size; off += block) {
        uint64_t len = f->size - off < block ? f->size - off : block;
        int rc = split_piece_block(p, path, off, len, NULL);
        if (rc != EMBER_OK)
            return rc;
    }
    return EMBER_OK;
}

/* Files every piece under each host that holds its block. */
static int split_index_nodes(split_packer *p) {
    for (size_t i = 0; i < p->count; i++) {
        const mr_block *k = p->pieces[i].block;
        for (size_t h = 0; k != NULL && h < k->host_count; h++) {
            long id = split_host_id(p->b, k->hosts[h]);
            if (id < 0)
                return EMBER_ENOMEM;
            if ((size_t)id >= p->node_count) {
                split_node *n = realloc(p->nodes, ((size_t)id + 1) * sizeof(*n));
                if (n == NULL)
                    return EMBER_ENOMEM;
                memset(n + p->node_count, 0, ((size_t)id + 1 - p->node_count) * sizeof(*n));
                p->nodes = n;
                p->node_count = (size_t)id + 1;
            }
            split_node *node = &p->nodes[id];
            if (split_grow(&node->pieces, &node->cap, node->count + 1, sizeof(size_t)) != EMBER_OK)
                return EMBER_ENOMEM;
            node->pieces[node->count++] = i;
        }
    }
    return EMBER_OK;
}

/* Makes a split of the pieces idx[0, n) located at one host. */
static int split_emit_pieces(split_packer *p, const size_t *idx, size_t n, const char *host) {
    int rc = split_begin(p->b);
    for (size_t i = 0; rc == EMBER_OK && i < n; i++) {
        const split_piece *x = &p->pieces[idx[i]];
        rc = split_add_chunk(p->b, x->path, x->file, x->offset, x->length);
    }
    return rc == EMBER_OK && host != NULL ? split_add_host(p->b, host) : rc;
}

/* One turn of host id at filling a split from its unassigned pieces;
 * valid is scratch for piece indexes.  Marks the host completed when it
 * cannot fill one. */
static int split_node_turn(split_packer *p, size_t id, size_t *valid, uint64_t min_node) {
    split_node *node = &p->nodes[id];
    size_t n = 0;
    uint64_t cur = 0;
    for (; node->cursor < node->count; node->cursor++) {
        split_piece *x = &p->pieces[node->pieces[node->cursor]];
        if (x->assigned)
            continue;
        if (n > 0 && cur + x->length > p->max)
            break; /* full: x stays for a later split */
        x->assigned = 1;
        valid[n++] = node->pieces[node->cursor];
        cur += x->length;
        if (cur >= p->max) {
            node->cursor++;
            break;
        }
    }
    if (node->cursor < node->count || cur >= p->max) {
        node->splits++;
        return split_emit_pieces(p, valid, n, p->b->names[id]);
    }
    node->completed = 1;
    if (n > 0 && min_node != 0 && cur >= min_node && node->splits == 0) {
        node->splits++;
        return split_emit_pieces(p, valid, n, p->b->names[id]);
    }
    for (size_t i = 0; i < n; i++) /* back to the pool */
        p->pieces[valid[i]].assigned = 0;
    return EMBER_OK;
}

static int split_node_phase(split_packer *p, uint64_t min_node) {
    size_t *valid = malloc((p->count ? p->count : 1) * sizeof(size_t));
    if (valid == NULL)
        return EMBER_ENOMEM;
    int rc = EMBER_OK, busy = 1;
    while (rc == EMBER_OK && busy) {
        busy = 0;
        for (size_t id = 0; rc == EMBER_OK && id < p->node_count; id++) {
            if (p->nodes[id].completed || p->nodes[id].count == 0)
                continue;
            rc = split_node_turn(p, id, valid, min_node);
            busy |= !p->nodes[id].completed;
        }
    }
    free(valid);
    return rc;
}

/* Names the hosts holding most of the bytes of the split begun last. */
static int split_top_hosts(split_packer *p, const size_t *idx, size_t n, uint64_t *bytes) {
    for (size_t i = 0; i < n; i++) {
        const mr_block *k = p->pieces[idx[i]].block;
        for (size_t h = 0; k != NULL && h < k->host_count; h++) {
            long id = split_host_id(p->b, k->hosts[h]); /* interned already */
            if (id >= 0 && (size_t)id < p->node_count)
                bytes[id] += p->pieces[idx[i]].length;
        }
    }
    for (int t = 0; t < MR_SPLIT_MAX_HOSTS; t++) {
        size_t best = SIZE_MAX;
        for (size_t id = 0; id < p->node_count; id++)
            if (bytes[id] > 0 && (best == SIZE_MAX || bytes[id] > bytes[best]))
                best = id;
        if (best == SIZE_MAX)
            break;
        bytes[best] = 0;
        if (split_add_host(p->b, p->b->names[best]) != EMBER_OK)
            return EMBER_ENOMEM;
    }
    memset(bytes, 0, p->node_count * sizeof(*bytes));
    return EMBER_OK;
}

/* Packs the pieces no host took, in input order. */
static int split_leftover_phase(split_packer *p) {
    size_t *valid = malloc((p->count ? p->count : 1) * sizeof(size_t));
    uint64_t *bytes = calloc(p->node_count ? p->node_count : 1, sizeof(uint64_t));
    int rc = valid && bytes ? EMBER_OK : EMBER_ENOMEM;
    size_t n = 0;
    uint64_t cur = 0;
    for (size_t i = 0; rc == EMBER_OK && i <= p->count; i++) {
        int last = i == p->count;
        if (!last && p->pieces[i].assigned)
            continue;
        if (n > 0 && (last || cur + p->pieces[i].length > p->max)) {
            rc = split_emit_pieces(p, valid, n, NULL);
            if (rc == EMBER_OK)
                rc = split_top_hosts(p, valid, n, bytes);
            n = 0;
            cur = 0;
        }
        if (!last) {
            valid[n++] = i;
            cur += p->pieces[i].length;
        }
    }
    free(valid);
    free(bytes);
    return rc;
}

static uint64_t split_combine_max(const mr_input_file *files, size_t count,
                                  const mr_split_options *o) {
    if (o->max_size)
        return o->max_size;
    uint64_t block = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t b = files[i].block_size ? files[i].block_size : MR_SPLIT_LOCAL_BLOCK_SIZE;
        block = b > block ? b : block;
    }
    if (block == 0)
        block = MR_SPLIT_LOCAL_BLOCK_SIZE;
    return o->min_size > block ? o->min_size : block;
}

static int split_combined(split_builder *b, const mr_input_file *files, size_t count,
                          const mr_split_options *o) {
    split_packer p = {.b = b, .max = split_combine_max(files, count, o)};
    if (o->min_size_per_node > p.max)
        return EMBER_EINVAL;
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < count; i++)
        rc = split_pieces_of_file(&p, &files[i]);
    if (rc == EMBER_OK)
        rc = split_index_nodes(&p);
    if (rc == EMBER_OK)
        rc = split_node_phase(&p, o->min_size_per_node);
    if (rc == EMBER_OK)
        rc = split_leftover_phase(&p);
    for (size_t i = 0; i < p.node_count; i++)
        free(p.nodes[i].pieces);
    free(p.nodes);
    free(p.pieces);
    return rc;
}

int mr_split_compute(const mr_input_file *files, size_t count, const mr_split_options *opts,
                     mr_split_list *out) {
    memset(out, 0, sizeof(*out));
    split_builder b = {.list = out, .files = files};
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < count; i++)
        rc = split_check_blocks(&files[i]);
    if (rc == EMBER_OK && opts->combine)
        rc = split_combined(&b, files, count, opts);
    for (size_t i = 0; rc == EMBER_OK && !opts->combine && i < count; i++)
        rc = split_plain_file(&b, &files[i], opts);
    for (size_t i = 0; rc == EMBER_OK && i < out->count; i++) {
        out->splits[i].chunks = out->chunk_store + b.marks[i].chunk0;
        if (out->splits[i].host_count > 0)
            out->splits[i].hosts = out->host_store ? out->host_store + b.marks[i].host0 : NULL;
    }
    free(b.marks);
    free(b.table);
    free(b.names);
    return rc;
}

void mr_split_list_free(mr_split_list *list) {
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->string_count; i++)
        free(list->strings[i]);
    free(list->strings);
    free(list->splits);
    free(list->chunk_store);
    free(list->host_store);
    memset(list, 0, sizeof(*list));
}
