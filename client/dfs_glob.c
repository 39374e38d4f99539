/* dfs_glob.c -- Hadoop's file globs (see dfs_glob.h) and ember_dfs_glob().
 *
 * Component patterns are matched with fnmatch(3) without flags: '*' and
 * '?' then match any character (a component holds no '/'), a leading dot
 * is ordinary, '\' escapes, and glibc takes both "[!a]" and "[^a]".  What
 * fnmatch does not do -- braces, and refusing an unclosed class -- is done
 * here first: dfs_glob_check() refuses what Hadoop's GlobPattern refuses,
 * dfs_glob_expand() turns braces into plain patterns. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "dfs_glob.h"
#include "dfs_internal.h"
#include "ember/dfs.h"

int dfs_glob_has_magic(const char *s) {
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            if (s[1] == '\0')
                return 0;
            s++;
        } else if (strchr("*?[{", *s) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* The index just past the class that opens at pattern[i] ('['), or 0 when
 * it is never closed.  A ']' first in the class (after '^' or '!') is a
 * member, as in fnmatch. */
static size_t glob_class_end(const char *pattern, size_t i) {
    size_t j = i + 1;
    if (pattern[j] == '^' || pattern[j] == '!')
        j++;
    if (pattern[j] == ']')
        j++;
    for (; pattern[j] != '\0'; j++) {
        if (pattern[j] == '\\' && pattern[j + 1] != '\0')
            j++;
        else if (pattern[j] == ']')
            return j + 1;
    }
    return 0;
}

int dfs_glob_check(const char *pattern, char *err, size_t errlen) {
    int depth = 0;
    size_t i = 0;
    while (pattern[i] != '\0') {
        char c = pattern[i];
        if (c == '\\') {
            if (pattern[i + 1] == '\0') {
                snprintf(err, errlen, "Illegal file pattern: Missing escaped character near index %zu",
                         i);
                return EMBER_EINVAL;
            }
            i += 2;
            continue;
        }
        if (c == '[') {
            size_t end = glob_class_end(pattern, i);
            if (end == 0) {
                snprintf(err, errlen,
                         "Illegal file pattern: Unclosed character class near index %zu", i);
                return EMBER_EINVAL;
            }
            i = end;
            continue;
        }
        if (c == '{')
            depth++;
        else if (c == '}' && depth > 0)
            depth--;
        i++;
    }
    if (depth > 0) {
        snprintf(err, errlen, "Illegal file pattern: Unclosed group near index %zu", i);
        return EMBER_EINVAL;
    }
    return EMBER_OK;
}

/* A growing array of malloc'd strings. */
typedef struct {
    char **items;
    size_t n, cap;
} glob_list;

static int glob_list_add(glob_list *l, char *s) {
    if (s == NULL)
        return EMBER_ENOMEM;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->items, ncap * sizeof(*p));
        if (p == NULL) {
            free(s);
            return EMBER_ENOMEM;
        }
        l->items = p;
        l->cap = ncap;
    }
    l->items[l->n++] = s;
    return EMBER_OK;
}

void dfs_glob_free(char **paths, size_t n) {
    if (paths == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* Finds the first top-level group of pattern: *open at its '{', *close at
 * its '}'.  0 when there is none (the pattern is checked already). */
static int glob_find_group(const char *pattern, size_t *open, size_t *close) {
    int depth = 0;
    for (size_t i = 0; pattern[i] != '\0'; i++) {
        char c = pattern[i];
        if (c == '\\' && pattern[i + 1] != '\0') {
            i++;
        } else if (c == '[') {
            size_t end = glob_class_end(pattern, i);
            if (end > 0)
                i = end - 1;
        } else if (c == '{') {
            if (depth++ == 0)
                *open = i;
        } else if (c == '}' && depth > 0 && --depth == 0) {
            *close = i;
            return 1;
        }
    }
    return 0;
}

/* Expands pattern's groups, left to right, appending to out. */
static int glob_expand_into(const char *pattern, glob_list *out, char *err, size_t errlen) {
    size_t open, close;
    if (!glob_find_group(pattern, &open, &close)) {
        if (out->n >= DFS_GLOB_EXPANSIONS_MAX) {
            snprintf(err, errlen, "Illegal file pattern: more than %d alternatives",
                     DFS_GLOB_EXPANSIONS_MAX);
            return EMBER_EINVAL;
        }
        return glob_list_add(out, strdup(pattern));
    }
    size_t plen = strlen(pattern);
    char *buf = malloc(plen + 1);
    if (buf == NULL)
        return EMBER_ENOMEM;
    /* Each alternative: the text between top-level commas of the group. */
    size_t start = open + 1;
    int depth = 0, rc = EMBER_OK;
    for (size_t i = open + 1; i <= close && rc == EMBER_OK; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < close) {
            i++;
            continue;
        }
        if (c == '[') {
            size_t end = glob_class_end(pattern, i);
            if (end > 0 && end <= close) {
                i = end - 1;
                continue;
            }
        }
        if (c == '{')
            depth++;
        else if (c == '}' && depth > 0)
            depth--;
        else if ((c == ',' && depth == 0) || i == close) {
            int n = snprintf(buf, plen + 1, "%.*s%.*s%s", (int)open, pattern, (int)(i - start),
                             pattern + start, pattern + close + 1);
            (void)n;
            rc = glob_expand_into(buf, out, err, errlen);
            start = i + 1;
        }
    }
    free(buf);
    return rc;
}

int dfs_glob_expand(const char *pattern, char ***out, size_t *n, char *err, size_t errlen) {
    glob_list l = {0};
    int rc = dfs_glob_check(pattern, err, errlen);
    if (rc == EMBER_OK)
        rc = glob_expand_into(pattern, &l, err, errlen);
    if (rc != EMBER_OK) {
        dfs_glob_free(l.items, l.n);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return EMBER_OK;
}

int dfs_glob_match(const char *component, const char *name) {
    return fnmatch(component, name, 0) == 0;
}

/* component without its escapes, malloc'd. */
static char *glob_unescape(const char *component, size_t len) {
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (component[i] == '\\' && i + 1 < len)
            i++;
        s[k++] = component[i];
    }
    s[k] = '\0';
    return s;
}

static char *glob_join(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    char *s = malloc(dl + nl + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, dir, dl);
    size_t k = dl;
    if (k == 0 || s[k - 1] != '/')
        s[k++] = '/';
    memcpy(s + k, name, nl + 1);
    return s;
}

/* A path reached so far, and whether it is a directory (-1: unknown, it
 * came through a literal component). */
typedef struct {
    char *path;
    int is_dir;
} glob_point;

typedef struct {
    glob_point *items;
    size_t n, cap;
} glob_points;

static int glob_points_add(glob_points *g, char *path, int is_dir) {
    if (path == NULL)
        return EMBER_ENOMEM;
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        glob_point *p = realloc(g->items, ncap * sizeof(*p));
        if (p == NULL) {
            free(path);
            return EMBER_ENOMEM;
        }
        g->items = p;
        g->cap = ncap;
    }
    g->items[g->n++] = (glob_point){path, is_dir};
    return EMBER_OK;
}

static void glob_points_clear(glob_points *g) {
    for (size_t i = 0; i < g->n; i++)
        free(g->items[i].path);
    g->n = 0;
}

/* The children of point p that match component, added to next. */
static int glob_step_magic(const glob_point *p, const char *component, dfs_glob_list_fn list,
                           dfs_glob_stat_fn stat, void *arg, glob_points *next) {
    int is_dir = p->is_dir;
    if (is_dir < 0) {
        int rc = stat(arg, p->path, &is_dir);
        if (rc == EMBER_ENOENT)
            return EMBER_OK;
        if (rc != EMBER_OK)
            return rc;
    }
    if (!is_dir)
        return EMBER_OK;
    dfs_glob_entry *entries = NULL;
    size_t n = 0;
    int rc = list(arg, p->path, &entries, &n);
    if (rc == EMBER_ENOENT)
        return EMBER_OK;
    for (size_t i = 0; i < n; i++) {
        if (rc == EMBER_OK && dfs_glob_match(component, entries[i].name))
            rc = glob_points_add(next, glob_join(p->path, entries[i].name), entries[i].is_dir);
        free(entries[i].name);
    }
    free(entries);
    return rc;
}

/* Walks one brace-free pattern, adding its matches to out. */
static int glob_walk_one(const char *pattern, dfs_glob_list_fn list, dfs_glob_stat_fn stat,
                         void *arg, glob_list *out) {
    glob_points cur = {0}, next = {0};
    int rc = glob_points_add(&cur, strdup("/"), 1), last_literal = 0;
    const char *s = pattern;
    while (rc == EMBER_OK && *s != '\0' && cur.n > 0) {
        while (*s == '/')
            s++;
        size_t len = 0;
        while (s[len] != '\0' && s[len] != '/')
            len += s[len] == '\\' && s[len + 1] != '\0' ? 2 : 1;
        if (len == 0)
            break;
        char *component = strndup(s, len);
        if (component == NULL) {
            rc = EMBER_ENOMEM;
            break;
        }
        last_literal = !dfs_glob_has_magic(component);
        if (last_literal) {
            char *name = glob_unescape(component, len);
            for (size_t i = 0; i < cur.n && rc == EMBER_OK; i++)
                rc = name != NULL ? glob_points_add(&next, glob_join(cur.items[i].path, name), -1)
                                  : EMBER_ENOMEM;
            free(name);
        } else {
            for (size_t i = 0; i < cur.n && rc == EMBER_OK; i++)
                rc = glob_step_magic(&cur.items[i], component, list, stat, arg, &next);
        }
        free(component);
        glob_points_clear(&cur);
        glob_points tmp = cur;
        cur = next;
        next = tmp;
        s += len;
    }
    for (size_t i = 0; i < cur.n && rc == EMBER_OK; i++) {
        int is_dir;
        if (last_literal) {
            int src = stat(arg, cur.items[i].path, &is_dir);
            if (src == EMBER_ENOENT)
                continue;
            if (src != EMBER_OK) {
                rc = src;
                break;
            }
        }
        rc = glob_list_add(out, cur.items[i].path);
        cur.items[i].path = NULL;
    }
    glob_points_clear(&cur);
    glob_points_clear(&next);
    free(cur.items);
    free(next.items);
    return rc;
}

static int glob_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dfs_glob_walk(const char *pattern, dfs_glob_list_fn list, dfs_glob_stat_fn stat, void *arg,
                  char ***paths, size_t *n, char *err, size_t errlen) {
    *paths = NULL;
    *n = 0;
    if (pattern[0] != '/') {
        snprintf(err, errlen, "`%s': a glob must be an absolute path", pattern);
        return EMBER_EINVAL;
    }
    char **plain;
    size_t nplain;
    int rc = dfs_glob_expand(pattern, &plain, &nplain, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    glob_list out = {0};
    for (size_t i = 0; i < nplain && rc == EMBER_OK; i++)
        rc = glob_walk_one(plain[i], list, stat, arg, &out);
    dfs_glob_free(plain, nplain);
    if (rc != EMBER_OK) {
        dfs_glob_free(out.items, out.n);
        snprintf(err, errlen, "`%s': %s", pattern, ember_strerror(rc));
        return rc;
    }
    if (out.n > 1)
        qsort(out.items, out.n, sizeof(char *), glob_cmp);
    size_t k = 0;
    for (size_t i = 0; i < out.n; i++) {
        if (k > 0 && strcmp(out.items[k - 1], out.items[i]) == 0)
            free(out.items[i]);
        else
            out.items[k++] = out.items[i];
    }
    *paths = out.items;
    *n = k;
    return EMBER_OK;
}

/* ---- over the cluster --------------------------------------------------- */

static int glob_dfs_list(void *arg, const char *dir, dfs_glob_entry **entries, size_t *n) {
    ember_file_status *st;
    size_t count;
    int rc = ember_dfs_list(arg, dir, &st, &count);
    if (rc != EMBER_OK)
        return rc == EMBER_ENOTDIR ? EMBER_ENOENT : rc;
    dfs_glob_entry *e = calloc(count ? count : 1, sizeof(*e));
    if (e == NULL) {
        ember_dfs_free_list(st, count);
        return EMBER_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        /* A listing names its entries by their last component. */
        const char *slash = strrchr(st[i].path, '/');
        e[i].name = strdup(slash != NULL ? slash + 1 : st[i].path);
        e[i].is_dir = st[i].is_dir;
        if (e[i].name == NULL) {
            for (size_t j = 0; j < i; j++)
                free(e[j].name);
            free(e);
            ember_dfs_free_list(st, count);
            return EMBER_ENOMEM;
        }
    }
    ember_dfs_free_list(st, count);
    *entries = e;
    *n = count;
    return EMBER_OK;
}

static int glob_dfs_stat(void *arg, const char *path, int *is_dir) {
    ember_file_status st;
    int rc = ember_dfs_stat(arg, path, &st);
    if (rc != EMBER_OK)
        return rc == EMBER_ENOTDIR ? EMBER_ENOENT : rc;
    *is_dir = st.is_dir;
    ember_dfs_free_status(&st);
    return EMBER_OK;
}

int ember_dfs_glob(ember_dfs *dfs, const char *pattern, char ***paths, size_t *n) {
    char err[512] = "";
    int rc = dfs_glob_walk(pattern, glob_dfs_list, glob_dfs_stat, dfs, paths, n, err, sizeof(err));
    dfs_set_error(dfs, "%s", rc == EMBER_OK ? "" : err);
    return rc;
}
