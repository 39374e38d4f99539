/* cli_tree.c -- the CLI's walk of a file system tree (see cli_tree.h).
 *
 * The walk keeps one frame per directory it is inside: that directory's
 * listing (ember_dfs_list(), every page), the index of the next entry to
 * return and the length of the directory's path.  All paths share one
 * heap buffer: frame k's directory is its first path_len bytes, and the
 * entry returned last is the whole string.  A directory is listed when
 * the walk moves past it (the next call), so a caller that changes it
 * first -- -chmod -R taking away its own read bit -- lists it afterwards,
 * as a recursive walk did.
 *
 * Invariants: frames[depth - 1] is the directory whose entries come next;
 * every frame's next <= n; path holds len bytes and a NUL; descend is set
 * only while the entry returned last is a directory not skipped.  Memory
 * is the listings along the current path, nothing per level on the C
 * stack. */
#include <stdlib.h>
#include <string.h>

#include "cli_tree.h"
#include "common/error.h"

typedef struct {
    ember_file_status *e; /* the directory's listing (ember_dfs_list()'s, freed with it) */
    size_t n;
    size_t next;     /* index of the next entry to return */
    size_t path_len; /* the directory's path is path[0, path_len) */
    int scratch[CLI_TREE_SCRATCH];
} tree_frame;

struct cli_tree {
    ember_dfs *dfs;
    tree_frame *frames; /* malloc'd, depth used of cap */
    size_t depth, cap;
    char *path; /* malloc'd, cap_path bytes: see the file comment */
    size_t len, cap_path;
    size_t rel_at; /* where an entry's path below the top starts */
    int descend;   /* the entry returned last is a directory to list next */
};

/* Makes room for size bytes of path.  0, or EMBER_ENOMEM. */
static int tree_reserve(cli_tree *t, size_t size) {
    if (size <= t->cap_path)
        return EMBER_OK;
    size_t cap = t->cap_path ? t->cap_path : 256;
    while (cap < size)
        cap *= 2;
    char *p = realloc(t->path, cap);
    if (p == NULL)
        return EMBER_ENOMEM;
    t->path = p;
    t->cap_path = cap;
    return EMBER_OK;
}

/* Sets the path to its first keep bytes, "/" (unless those are "/") and
 * name.  0, or EMBER_ENOMEM. */
static int tree_set_path(cli_tree *t, size_t keep, const char *name) {
    size_t n = strlen(name);
    if (tree_reserve(t, keep + n + 2) != EMBER_OK)
        return EMBER_ENOMEM;
    t->len = keep;
    if (!(keep == 1 && t->path[0] == '/'))
        t->path[t->len++] = '/';
    memcpy(t->path + t->len, name, n + 1);
    t->len += n;
    return EMBER_OK;
}

/* Lists the directory at the current path and enters it.  0, or the
 * listing's error (nothing entered). */
static int tree_push(cli_tree *t) {
    if (t->depth == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        tree_frame *f = realloc(t->frames, cap * sizeof(*f));
        if (f == NULL)
            return EMBER_ENOMEM;
        t->frames = f;
        t->cap = cap;
    }
    tree_frame *f = &t->frames[t->depth];
    memset(f, 0, sizeof(*f));
    int rc = ember_dfs_list(t->dfs, t->path, &f->e, &f->n);
    if (rc != EMBER_OK)
        return rc;
    f->path_len = t->len;
    t->depth++;
    return EMBER_OK;
}

int cli_tree_open(ember_dfs *dfs, const char *top, cli_tree **out) {
    cli_tree *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return EMBER_ENOMEM;
    t->dfs = dfs;
    size_t n = strlen(top);
    int rc = n > 0 ? tree_reserve(t, n + 1) : EMBER_EINVAL;
    if (rc == EMBER_OK) {
        memcpy(t->path, top, n + 1);
        t->len = n;
        t->rel_at = n == 1 && top[0] == '/' ? 1 : n + 1;
        rc = tree_push(t);
    }
    if (rc != EMBER_OK) {
        cli_tree_close(t);
        return rc;
    }
    *out = t;
    return EMBER_OK;
}

int cli_tree_next(cli_tree *t, cli_tree_entry *e) {
    if (t->descend) {
        t->descend = 0;
        int rc = tree_push(t);
        if (rc != EMBER_OK)
            return rc;
    }
    while (t->depth > 0 && t->frames[t->depth - 1].next == t->frames[t->depth - 1].n) {
        tree_frame *done = &t->frames[--t->depth];
        ember_dfs_free_list(done->e, done->n);
    }
    if (t->depth == 0)
        return 0;
    tree_frame *f = &t->frames[t->depth - 1];
    size_t i = f->next++;
    if (tree_set_path(t, f->path_len, f->e[i].path) != EMBER_OK)
        return EMBER_ENOMEM;
    e->path = t->path;
    e->rel = t->path + t->rel_at;
    e->st = &f->e[i];
    e->siblings = f->e;
    e->nsiblings = f->n;
    e->index = i;
    e->scratch = f->scratch;
    t->descend = f->e[i].is_dir;
    return 1;
}

void cli_tree_skip(cli_tree *t) { t->descend = 0; }

void cli_tree_close(cli_tree *t) {
    if (t == NULL)
        return;
    while (t->depth > 0) {
        tree_frame *f = &t->frames[--t->depth];
        ember_dfs_free_list(f->e, f->n);
    }
    free(t->frames);
    free(t->path);
    free(t);
}
