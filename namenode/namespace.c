/* namespace.c -- the namenode's inode tree (see namespace.h).
 *
 * Owns every inode of the namespace: "/" and, below it, directories and
 * files, each on the heap with a parent pointer, a name (a heap string,
 * "" for "/") and its attributes.  A directory keeps its children in a
 * dynamic array of pointers sorted by name in byte order, so a lookup is a
 * binary search and an insert or a removal one memmove: O(log n)
 * comparisons per path component, which keeps a directory of 100,000
 * entries fast.
 *
 * Invariants (the whole tree is asserted by ns_check() in debug builds at
 * each walk and at destroy; each insert asserts its slot):
 *   - names are unique within a directory, and its children are sorted
 *     strictly ascending;
 *   - a child's parent pointer is the directory holding it; only "/" has
 *     none; files have no children;
 *   - every inode's full path fits in FS_PATH_MAX bytes (rename checks the
 *     subtree it moves), so the tree is at most FS_PATH_MAX / 2 deep;
 *   - inode ids come from a counter (1 for "/") and are given only when an
 *     operation commits, so replaying the same operations gives the same
 *     ids; none is ever reused;
 *   - inode_count is the number of inodes in the tree;
 *   - a file is under construction exactly when it has a lease holder,
 *     and exactly those files are on the uc_head list (so the lease
 *     monitor visits open files without walking the tree).
 *
 * Every mutation first validates and allocates all it needs, then links it
 * in with steps that cannot fail: an error leaves the tree as it was.
 * Traversals (walk, summary, delete, the checks) step through parent
 * pointers instead of recursing, so a deep tree costs no C stack. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup */
#endif
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "namespace.h"

typedef struct inode inode;
struct inode {
    inode *parent; /* NULL only for "/" */
    char *name;    /* heap string, name_len bytes; "" for "/" */
    size_t name_len;
    inode **children; /* directories: sorted by name; NULL until the first */
    size_t nchildren;
    size_t capacity;
    fs_stat st; /* st.children and st.nblocks are filled in only when copied out */
    uint64_t *blocks; /* files: block ids in order */
    size_t nblocks, blocks_cap;
    char *holder;             /* files under construction: the lease holder (heap) */
    inode *uc_prev, *uc_next; /* ... linked in the namespace's list of open files */
};

struct fs_namespace {
    inode *root;
    uint64_t next_id;     /* the id the next new inode gets */
    uint64_t inode_count; /* inodes in the tree, "/" included */
    fs_removed_cb removed_hook;
    void *removed_arg;
    inode *uc_head;       /* files under construction (holder != NULL), newest first */
};

/* ---- inodes and sorted children ---------------------------------------- */

/* Compares a stored name with the len-byte key in strcmp's byte order. */
static int ns_name_cmp(const inode *n, const char *key, size_t len) {
    int c = memcmp(n->name, key, n->name_len < len ? n->name_len : len);
    if (c != 0)
        return c;
    return (n->name_len > len) - (n->name_len < len);
}

/* Binary search of dir's children for the len-byte name key.  Returns the
 * index where key is, or where it would be inserted; *found says which. */
static size_t ns_search(const inode *dir, const char *key, size_t len, int *found) {
    size_t lo = 0, hi = dir->nchildren;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ns_name_cmp(dir->children[mid], key, len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* The index of n (not "/") in its parent's children. */
static size_t ns_index_of(const inode *n) {
    int found;
    size_t i = ns_search(n->parent, n->name, n->name_len, &found);
    assert(found && n->parent->children[i] == n);
    return i;
}

/* Asserts that dir's child i points back at dir and sorts strictly
 * between its neighbours. */
static void ns_check_slot(const inode *dir, size_t i) {
    assert(i < dir->nchildren && dir->children[i]->parent == dir);
    assert(i == 0 || strcmp(dir->children[i - 1]->name, dir->children[i]->name) < 0);
    assert(i + 1 >= dir->nchildren ||
           strcmp(dir->children[i]->name, dir->children[i + 1]->name) < 0);
    (void)dir;
    (void)i;
}

/* Makes room in dir's children for one more entry.  EMBER_ENOMEM leaves
 * dir as it was. */
static int ns_reserve(inode *dir) {
    if (dir->nchildren < dir->capacity)
        return EMBER_OK;
    size_t capacity = dir->capacity > 0 ? dir->capacity * 2 : 4;
    inode **children = realloc(dir->children, capacity * sizeof(*children));
    if (children == NULL)
        return EMBER_ENOMEM;
    dir->children = children;
    dir->capacity = capacity;
    return EMBER_OK;
}

/* Puts child at index i of dir's children (room made by ns_reserve(),
 * i from ns_search()).  Cannot fail. */
static void ns_insert(inode *dir, size_t i, inode *child) {
    assert(dir->nchildren < dir->capacity && i <= dir->nchildren);
    memmove(&dir->children[i + 1], &dir->children[i], (dir->nchildren - i) * sizeof(inode *));
    dir->children[i] = child;
    dir->nchildren++;
    child->parent = dir;
    ns_check_slot(dir, i);
}

/* Takes child i out of dir's children, giving memory back when the array
 * is mostly empty (a failed shrink keeps the larger array).  Cannot fail;
 * leaves room for at least one insert. */
static void ns_remove(inode *dir, size_t i) {
    assert(i < dir->nchildren);
    memmove(&dir->children[i], &dir->children[i + 1], (dir->nchildren - i - 1) * sizeof(inode *));
    dir->nchildren--;
    if (dir->capacity > 16 && dir->nchildren < dir->capacity / 4) {
        inode **children = realloc(dir->children, dir->capacity / 2 * sizeof(*children));
        if (children != NULL) {
            dir->children = children;
            dir->capacity /= 2;
        }
    }
}

/* A detached inode named by the len bytes at name, with attributes attrs
 * and no id yet; NULL when out of memory.  Freed by ns_free_subtree(). */
static inode *ns_inode_new(const char *name, size_t len, const fs_stat *attrs) {
    inode *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->name = malloc(len + 1);
    if (n->name == NULL) {
        free(n);
        return NULL;
    }
    memcpy(n->name, name, len);
    n->name[len] = '\0';
    n->name_len = len;
    n->st = *attrs;
    return n;
}

/* Frees top and everything below it, calling removed (when not NULL) for
 * each file, children before their parent, and taking open files off ns's
 * list.  top must already be unlinked from its parent (or never linked);
 * NULL is a no-op.  Iterative: each
 * step descends to a last child or frees a leaf and climbs.  Returns the
 * number of inodes freed. */
static void ns_uc_unlink(fs_namespace *ns, inode *n);

static uint64_t ns_free_subtree(fs_namespace *ns, inode *top, fs_removed_cb removed, void *arg) {
    uint64_t freed = 0;
    inode *cur = top;
    while (cur != NULL) {
        if (cur->nchildren > 0) {
            cur = cur->children[--cur->nchildren];
            continue;
        }
        inode *parent = cur == top ? NULL : cur->parent;
        if (!cur->st.is_dir && removed != NULL)
            removed(cur->st.inode_id, cur->blocks, cur->nblocks, arg);
        if (cur->holder != NULL)
            ns_uc_unlink(ns, cur);
        free(cur->blocks);
        free(cur->children);
        free(cur->name);
        free(cur);
        freed++;
        cur = parent;
    }
    return freed;
}

/* Steps from cur to the next inode of top's subtree in pre-order (parents
 * first, siblings in name order) and returns it, or NULL after the last.
 * *len is the length of cur's path relative to top ("/b/c" below top, 0
 * for top itself) and is kept up to date; when path is not NULL it holds
 * that relative path, NUL-terminated, in FS_PATH_MAX + 1 bytes. */
static const inode *ns_next(const inode *top, const inode *cur, size_t *len, char *path) {
    const inode *next = NULL;
    if (cur->nchildren > 0) {
        next = cur->children[0];
    } else {
        while (next == NULL && cur != top) {
            const inode *parent = cur->parent;
            size_t i = ns_index_of(cur);
            *len -= cur->name_len + 1;
            if (i + 1 < parent->nchildren)
                next = parent->children[i + 1];
            cur = parent;
        }
        if (next == NULL)
            return NULL;
    }
    assert(*len + 1 + next->name_len <= FS_PATH_MAX);
    if (path != NULL) {
        path[*len] = '/';
        memcpy(path + *len + 1, next->name, next->name_len + 1);
    }
    *len += 1 + next->name_len;
    return next;
}

/* Asserts every invariant in the file header over the whole tree (debug
 * builds only; O(inodes)). */
static void ns_check(const fs_namespace *ns) {
#ifndef NDEBUG
    const inode *root = ns->root;
    uint64_t count = 0;
    size_t len = 0;
    assert(root->parent == NULL && root->name_len == 0 && root->st.is_dir);
    assert(root->st.inode_id == 1);
    for (const inode *n = root; n != NULL; n = ns_next(root, n, &len, NULL)) {
        count++;
        assert(n->st.inode_id > 0 && n->st.inode_id < ns->next_id);
        assert(n->nchildren <= n->capacity && (n->st.is_dir || n->nchildren == 0));
        assert(n == root ||
               (n->name_len > 0 && n->name_len <= FS_NAME_MAX && strlen(n->name) == n->name_len));
        assert(len <= FS_PATH_MAX);
        for (size_t i = 0; i < n->nchildren; i++)
            ns_check_slot(n, i);
    }
    assert(count == ns->inode_count);
#else
    (void)ns;
#endif
}

/* ---- paths ------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int ns_path_error(char *err, size_t errlen,
                                                               const char *fmt, ...) {
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EMBER_EINVAL;
}

int fs_path_check(const char *path, char *err, size_t errlen) {
    if (path == NULL)
        return ns_path_error(err, errlen, "path is NULL");
    /* Length and control characters first, so no message below echoes an
     * overlong path or breaks its line. */
    size_t len = 0;
    for (; len <= FS_PATH_MAX && path[len] != '\0'; len++) {
        unsigned char c = (unsigned char)path[len];
        if (c < 0x20 || c == 0x7f)
            return ns_path_error(err, errlen, "path has a control character at byte %zu", len);
    }
    if (len > FS_PATH_MAX)
        return ns_path_error(err, errlen, "path is longer than %d bytes", FS_PATH_MAX);
    if (path[0] != '/')
        return ns_path_error(err, errlen, "path '%s' is not absolute", path);
    if (len == 1)
        return EMBER_OK;
    for (const char *p = path + 1;;) {
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 0 && end == NULL)
            return ns_path_error(err, errlen, "path '%s' ends with '/'", path);
        if (n == 0)
            return ns_path_error(err, errlen, "path '%s' has an empty component", path);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return ns_path_error(err, errlen, "path '%s' has a '.' or '..' component", path);
        if (n > FS_NAME_MAX)
            return ns_path_error(err, errlen, "path has a component over %d bytes at byte %zu",
                                 FS_NAME_MAX, (size_t)(p - path));
        if (memchr(p, ':', n) != NULL)
            return ns_path_error(err, errlen, "path '%s' has a ':' in a component", path);
        if (end == NULL)
            return EMBER_OK;
        p = end + 1;
    }
}

/* Follows path (already checked) from "/" as far as it exists.  *node
 * becomes the deepest existing inode on it and *rest the rest of path
 * after that inode: "" when all of path exists, else the missing
 * components without a leading '/' ("b/c").  EMBER_ENOTDIR when a file has
 * components after it. */
/* One component down from directory cur: the child named by the
 * component at *p (which then moves past it and its '/'), or NULL. */
static inode *ns_child(const inode *cur, const char **p) {
    const char *end = strchr(*p, '/');
    size_t len = end != NULL ? (size_t)(end - *p) : strlen(*p);
    int found;
    size_t i = ns_search(cur, *p, len, &found);
    if (!found)
        return NULL;
    *p += len + (end != NULL);
    return cur->children[i];
}

static int ns_resolve(const fs_namespace *ns, const char *path, inode **node, const char **rest) {
    inode *cur = ns->root;
    const char *p = path + 1;
    while (*p != '\0') {
        if (!cur->st.is_dir)
            return EMBER_ENOTDIR;
        inode *next = ns_child(cur, &p);
        if (next == NULL)
            break;
        cur = next;
    }
    *node = cur;
    *rest = p;
    return EMBER_OK;
}

/* The inode at path: EMBER_EINVAL, EMBER_ENOTDIR or EMBER_ENOENT. */
static int ns_lookup(const fs_namespace *ns, const char *path, inode **node) {
    const char *rest;
    if (fs_path_check(path, NULL, 0) != EMBER_OK)
        return EMBER_EINVAL;
    int rc = ns_resolve(ns, path, node, &rest);
    if (rc == EMBER_OK && *rest != '\0')
        rc = EMBER_ENOENT;
    return rc;
}

static void ns_stat_of(const inode *n, fs_stat *out) {
    *out = n->st;
    out->children = (uint32_t)n->nchildren;
    out->nblocks = (uint32_t)n->nblocks;
}

/* Fills attrs for a new inode; EMBER_EINVAL for a missing or overlong
 * owner or group, or mode bits beyond 07777. */
static int ns_attrs(fs_stat *attrs, int is_dir, const char *owner, const char *group, uint32_t mode,
                    int64_t now_ms) {
    if (owner == NULL || group == NULL || strlen(owner) >= FS_OWNER_MAX ||
        strlen(group) >= FS_OWNER_MAX || (mode & ~07777u) != 0)
        return EMBER_EINVAL;
    memset(attrs, 0, sizeof(*attrs));
    attrs->is_dir = is_dir;
    strcpy(attrs->owner, owner);
    strcpy(attrs->group, group);
    attrs->mode = mode;
    attrs->mtime_ms = now_ms;
    attrs->atime_ms = now_ms;
    return EMBER_OK;
}

/* Creates the missing components rest (from ns_resolve()) below the
 * directory base: directories with attributes dir, the last with
 * attributes leaf.  Everything is allocated before anything is linked, so
 * on EMBER_ENOMEM the tree is unchanged.  Ids are given in path order, and
 * base's mtime becomes now_ms.  The last new inode comes back in *out. */
static int ns_add_path(fs_namespace *ns, inode *base, const char *rest, const fs_stat *dir,
                       const fs_stat *leaf, int64_t now_ms, inode **out) {
    inode *first = NULL, *last = NULL;
    for (const char *p = rest;;) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        inode *n = ns_inode_new(p, len, end != NULL ? dir : leaf);
        if (n == NULL)
            goto fail;
        if (last == NULL) {
            first = n;
        } else if ((last->children = malloc(sizeof(inode *))) == NULL) {
            ns_free_subtree(ns, n, NULL, NULL);
            goto fail;
        } else {
            last->capacity = 1;
            last->nchildren = 1;
            last->children[0] = n;
            n->parent = last;
        }
        last = n;
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (ns_reserve(base) != EMBER_OK)
        goto fail;
    int found;
    size_t i = ns_search(base, first->name, first->name_len, &found);
    assert(!found);
    ns_insert(base, i, first);
    base->st.mtime_ms = now_ms;
    for (inode *n = first; n != NULL; n = n->nchildren > 0 ? n->children[0] : NULL) {
        n->st.inode_id = ns->next_id++;
        ns->inode_count++;
    }
    *out = last;
    return EMBER_OK;
fail:
    ns_free_subtree(ns, first, NULL, NULL);
    return EMBER_ENOMEM;
}

/* ---- the public operations --------------------------------------------- */

int fs_namespace_create(const char *owner, const char *group, int64_t now_ms, fs_namespace **out) {
    fs_stat attrs;
    int rc = ns_attrs(&attrs, 1, owner, group, 0755, now_ms);
    if (rc != EMBER_OK)
        return rc;
    fs_namespace *ns = calloc(1, sizeof(*ns));
    if (ns == NULL)
        return EMBER_ENOMEM;
    ns->root = ns_inode_new("", 0, &attrs);
    if (ns->root == NULL) {
        free(ns);
        return EMBER_ENOMEM;
    }
    ns->root->st.inode_id = 1;
    ns->next_id = 2;
    ns->inode_count = 1;
    *out = ns;
    return EMBER_OK;
}

void fs_namespace_destroy(fs_namespace *ns) {
    if (ns == NULL)
        return;
    ns_check(ns);
    ns_free_subtree(ns, ns->root, NULL, NULL);
    free(ns);
}

int fs_namespace_mkdirs(fs_namespace *ns, const char *path, const char *owner, const char *group,
                        uint32_t mode, int create_parents, int64_t now_ms) {
    fs_stat attrs;
    inode *base, *made;
    const char *rest;
    if (fs_path_check(path, NULL, 0) != EMBER_OK)
        return EMBER_EINVAL;
    int rc = ns_attrs(&attrs, 1, owner, group, mode, now_ms);
    if (rc == EMBER_OK)
        rc = ns_resolve(ns, path, &base, &rest);
    if (rc != EMBER_OK)
        return rc;
    if (*rest == '\0')
        return base->st.is_dir && create_parents ? EMBER_OK : EMBER_EEXIST;
    if (!create_parents && strchr(rest, '/') != NULL)
        return EMBER_ENOENT;
    return ns_add_path(ns, base, rest, &attrs, &attrs, now_ms, &made);
}

int fs_namespace_create_file(fs_namespace *ns, const char *path, const char *owner,
                             const char *group, uint32_t mode, uint32_t replication,
                             uint64_t block_size, int overwrite, int create_parents, int64_t now_ms,
                             uint64_t *inode_id) {
    fs_stat leaf, dir;
    inode *base, *made;
    const char *rest;
    if (fs_path_check(path, NULL, 0) != EMBER_OK || strcmp(path, "/") == 0 || replication == 0 ||
        block_size == 0)
        return EMBER_EINVAL;
    int rc = ns_attrs(&leaf, 0, owner, group, mode, now_ms);
    if (rc == EMBER_OK)
        rc = ns_attrs(&dir, 1, owner, group, 0755, now_ms);
    if (rc == EMBER_OK)
        rc = ns_resolve(ns, path, &base, &rest);
    if (rc != EMBER_OK)
        return rc;
    leaf.replication = replication;
    leaf.block_size = block_size;
    if (*rest == '\0') {
        /* Overwrite: a new inode (new id, length 0) in the old one's slot.
         * The caller learns the old file's id from a stat beforehand. */
        if (base->st.is_dir)
            return EMBER_EISDIR;
        if (!overwrite)
            return EMBER_EEXIST;
        made = ns_inode_new(base->name, base->name_len, &leaf);
        if (made == NULL)
            return EMBER_ENOMEM;
        inode *parent = base->parent;
        size_t i = ns_index_of(base);
        parent->children[i] = made;
        made->parent = parent;
        ns_check_slot(parent, i);
        made->st.inode_id = ns->next_id++;
        parent->st.mtime_ms = now_ms;
        ns_free_subtree(ns, base, ns->removed_hook, ns->removed_arg);
    } else {
        if (!create_parents && strchr(rest, '/') != NULL)
            return EMBER_ENOENT;
        rc = ns_add_path(ns, base, rest, &dir, &leaf, now_ms, &made);
        if (rc != EMBER_OK)
            return rc;
    }
    if (inode_id != NULL)
        *inode_id = made->st.inode_id;
    return EMBER_OK;
}

int fs_namespace_stat(const fs_namespace *ns, const char *path, fs_stat *out) {
    inode *node;
    int rc = ns_lookup(ns, path, &node);
    if (rc == EMBER_OK)
        ns_stat_of(node, out);
    return rc;
}

int fs_namespace_list(const fs_namespace *ns, const char *path, const char *start_after,
                      size_t limit, fs_entry **entries, size_t *count, int *has_more) {
    inode *node;
    size_t start = 0, n = 1;
    *entries = NULL;
    *count = 0;
    *has_more = 0;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    /* A file lists as itself whatever start_after and limit say (HDFS). */
    if (node->st.is_dir) {
        if (start_after != NULL && *start_after != '\0') {
            int found;
            start = ns_search(node, start_after, strlen(start_after), &found);
            start += found;
        }
        n = node->nchildren - start;
        if (limit > 0 && n > limit) {
            n = limit;
            *has_more = 1;
        }
        if (n == 0)
            return EMBER_OK;
    }
    fs_entry *out = malloc(n * sizeof(*out));
    if (out == NULL) {
        *has_more = 0;
        return EMBER_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const inode *child = node->st.is_dir ? node->children[start + i] : node;
        memcpy(out[i].name, child->name, child->name_len + 1);
        ns_stat_of(child, &out[i].stat);
    }
    *entries = out;
    *count = n;
    return EMBER_OK;
}

/* The longest path below top, relative to it (0 when top has no children). */
static size_t ns_subtree_path_max(const inode *top) {
    size_t len = 0, max = 0;
    for (const inode *n = top; n != NULL; n = ns_next(top, n, &len, NULL))
        if (len > max)
            max = len;
    return max;
}

int fs_namespace_rename(fs_namespace *ns, const char *src, const char *dst, int64_t now_ms,
                        char *final_dst) {
    char final[FS_PATH_MAX + 1];
    inode *node, *target, *parent;
    const char *rest;
    if (fs_path_check(src, NULL, 0) != EMBER_OK || fs_path_check(dst, NULL, 0) != EMBER_OK ||
        strcmp(src, "/") == 0)
        return EMBER_EINVAL;
    int rc = ns_lookup(ns, src, &node);
    if (rc != EMBER_OK)
        return rc;
    /* The final path: dst/basename(src) when dst is an existing directory
     * (other than src itself), else dst. */
    size_t dst_len = strlen(dst);
    if (strcmp(src, dst) != 0 && ns_resolve(ns, dst, &target, &rest) == EMBER_OK && *rest == '\0' &&
        target->st.is_dir) {
        if (target == ns->root)
            dst_len = 0;
        if (dst_len + 1 + node->name_len > FS_PATH_MAX)
            return EMBER_EINVAL;
        memcpy(final, dst, dst_len);
        final[dst_len] = '/';
        memcpy(final + dst_len + 1, node->name, node->name_len + 1);
    } else {
        memcpy(final, dst, dst_len + 1);
    }
    size_t src_len = strlen(src), final_len = strlen(final);
    if (strcmp(final, src) == 0)
        goto done; /* a path renamed to itself */
    if (node->st.is_dir && final_len > src_len && memcmp(final, src, src_len) == 0 &&
        final[src_len] == '/')
        return EMBER_EINVAL; /* into its own subtree */
    rc = ns_resolve(ns, final, &parent, &rest);
    if (rc != EMBER_OK)
        return rc;
    if (*rest == '\0')
        return EMBER_EEXIST;
    if (strchr(rest, '/') != NULL)
        return EMBER_ENOENT;
    /* Keep every path within FS_PATH_MAX: a longer prefix must still fit
     * the deepest path below a moved directory. */
    if (final_len > src_len && final_len + ns_subtree_path_max(node) > FS_PATH_MAX)
        return EMBER_EINVAL;

    /* Allocate first, then move with steps that cannot fail. */
    size_t name_len = strlen(rest);
    char *name = NULL;
    if (name_len != node->name_len || memcmp(rest, node->name, name_len) != 0) {
        if ((name = malloc(name_len + 1)) == NULL)
            return EMBER_ENOMEM;
        memcpy(name, rest, name_len + 1);
    }
    inode *old_parent = node->parent;
    if (parent != old_parent && ns_reserve(parent) != EMBER_OK) {
        free(name);
        return EMBER_ENOMEM;
    }
    ns_remove(old_parent, ns_index_of(node));
    if (name != NULL) {
        free(node->name);
        node->name = name;
        node->name_len = name_len;
    }
    int found;
    ns_insert(parent, ns_search(parent, node->name, node->name_len, &found), node);
    assert(!found);
    old_parent->st.mtime_ms = now_ms;
    parent->st.mtime_ms = now_ms;
done:
    if (final_dst != NULL)
        memcpy(final_dst, final, final_len + 1);
    return EMBER_OK;
}

int fs_namespace_delete(fs_namespace *ns, const char *path, int recursive, int64_t now_ms,
                        fs_removed_cb removed, void *arg) {
    inode *node;
    if (path != NULL && strcmp(path, "/") == 0)
        return EMBER_EINVAL;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (node->nchildren > 0 && !recursive)
        return EMBER_ENOTEMPTY;
    inode *parent = node->parent;
    ns_remove(parent, ns_index_of(node));
    parent->st.mtime_ms = now_ms;
    if (removed == NULL) {
        removed = ns->removed_hook;
        arg = ns->removed_arg;
    }
    ns->inode_count -= ns_free_subtree(ns, node, removed, arg);
    return EMBER_OK;
}

int fs_namespace_set_replication(fs_namespace *ns, const char *path, uint32_t replication) {
    inode *node;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (node->st.is_dir)
        return EMBER_EISDIR;
    if (replication == 0)
        return EMBER_EINVAL;
    node->st.replication = replication;
    return EMBER_OK;
}

int fs_namespace_set_permission(fs_namespace *ns, const char *path, uint32_t mode) {
    inode *node;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if ((mode & ~07777u) != 0)
        return EMBER_EINVAL;
    node->st.mode = mode;
    return EMBER_OK;
}

int fs_namespace_set_owner(fs_namespace *ns, const char *path, const char *owner,
                           const char *group) {
    inode *node;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if ((owner != NULL && strlen(owner) >= FS_OWNER_MAX) ||
        (group != NULL && strlen(group) >= FS_OWNER_MAX))
        return EMBER_EINVAL;
    if (owner != NULL && *owner != '\0')
        strcpy(node->st.owner, owner);
    if (group != NULL && *group != '\0')
        strcpy(node->st.group, group);
    return EMBER_OK;
}

int fs_namespace_set_times(fs_namespace *ns, const char *path, int64_t mtime_ms, int64_t atime_ms) {
    inode *node;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (mtime_ms >= 0)
        node->st.mtime_ms = mtime_ms;
    if (atime_ms >= 0)
        node->st.atime_ms = atime_ms;
    return EMBER_OK;
}

void fs_namespace_set_removed_hook(fs_namespace *ns, fs_removed_cb removed, void *arg) {
    ns->removed_hook = removed;
    ns->removed_arg = arg;
}

/* The file inode at path: EMBER_EISDIR for a directory. */
static int ns_lookup_file(const fs_namespace *ns, const char *path, inode **node) {
    int rc = ns_lookup(ns, path, node);
    if (rc == EMBER_OK && (*node)->st.is_dir)
        rc = EMBER_EISDIR;
    return rc;
}

/* ---- leases: files under construction ---------------------------------- */

static void ns_uc_unlink(fs_namespace *ns, inode *n) {
    if (n->uc_prev != NULL)
        n->uc_prev->uc_next = n->uc_next;
    else
        ns->uc_head = n->uc_next;
    if (n->uc_next != NULL)
        n->uc_next->uc_prev = n->uc_prev;
    n->uc_prev = n->uc_next = NULL;
    free(n->holder);
    n->holder = NULL;
    n->st.under_construction = 0;
}

int fs_namespace_set_under_construction(fs_namespace *ns, const char *path, const char *holder) {
    inode *node;
    int rc = ns_lookup_file(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (holder == NULL) {
        if (node->holder != NULL)
            ns_uc_unlink(ns, node);
        return EMBER_OK;
    }
    if (strlen(holder) >= FS_HOLDER_MAX)
        return EMBER_EINVAL;
    char *copy = strdup(holder);
    if (copy == NULL)
        return EMBER_ENOMEM;
    if (node->holder == NULL) {
        node->uc_next = ns->uc_head;
        if (ns->uc_head != NULL)
            ns->uc_head->uc_prev = node;
        ns->uc_head = node;
    }
    free(node->holder);
    node->holder = copy;
    node->st.under_construction = 1;
    return EMBER_OK;
}

int fs_namespace_holder(const fs_namespace *ns, const char *path, const char **holder) {
    inode *node;
    int rc = ns_lookup_file(ns, path, &node);
    if (rc == EMBER_OK)
        *holder = node->holder;
    return rc;
}

/* n's full path into buf (FS_PATH_MAX + 1 bytes). */
static void ns_path_of(const inode *n, char *buf) {
    size_t len = 0;
    for (const inode *p = n; p->parent != NULL; p = p->parent)
        len += 1 + p->name_len;
    assert(len <= FS_PATH_MAX);
    buf[len] = '\0';
    for (const inode *p = n; p->parent != NULL; p = p->parent) {
        len -= p->name_len;
        memcpy(buf + len, p->name, p->name_len);
        buf[--len] = '/';
    }
}

int fs_namespace_open_files(const fs_namespace *ns, fs_open_file_cb visit, void *arg) {
    char path[FS_PATH_MAX + 1];
    for (const inode *n = ns->uc_head; n != NULL; n = n->uc_next) {
        ns_path_of(n, path);
        int rc = visit(path, n->holder, n->blocks, n->nblocks, arg);
        if (rc != 0)
            return rc;
    }
    return EMBER_OK;
}

int fs_namespace_remove_last_block(fs_namespace *ns, const char *path, uint64_t *block_id) {
    inode *node;
    int rc = ns_lookup_file(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (node->nblocks == 0)
        return EMBER_ENOENT;
    *block_id = node->blocks[--node->nblocks];
    return EMBER_OK;
}

int fs_namespace_add_block(fs_namespace *ns, const char *path, uint64_t block_id) {
    inode *node;
    int rc = ns_lookup_file(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (node->nblocks == node->blocks_cap) {
        size_t ncap = node->blocks_cap ? node->blocks_cap * 2 : 4;
        uint64_t *p = realloc(node->blocks, ncap * sizeof(*p));
        if (p == NULL)
            return EMBER_ENOMEM;
        node->blocks = p;
        node->blocks_cap = ncap;
    }
    node->blocks[node->nblocks++] = block_id;
    return EMBER_OK;
}

int fs_namespace_blocks(const fs_namespace *ns, const char *path, const uint64_t **blocks,
                        size_t *nblocks) {
    inode *node;
    int rc = ns_lookup_file(ns, path, &node);
    if (rc == EMBER_OK) {
        *blocks = node->blocks;
        *nblocks = node->nblocks;
    }
    return rc;
}

int fs_namespace_set_length(fs_namespace *ns, const char *path, uint64_t length) {
    inode *node;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    if (node->st.is_dir)
        return EMBER_EISDIR;
    node->st.length = length;
    return EMBER_OK;
}

/* The visitor must not change the namespace: the walk holds pointers into
 * it between calls. */
int fs_namespace_walk(const fs_namespace *ns, fs_visit_cb visit, void *arg) {
    char path[FS_PATH_MAX + 1] = "";
    size_t len = 0;
    fs_stat st;
    ns_check(ns);
    for (const inode *n = ns->root; n != NULL; n = ns_next(ns->root, n, &len, path)) {
        ns_stat_of(n, &st);
        int rc = visit(len == 0 ? "/" : path, &st, arg);
        if (rc != 0)
            return rc;
    }
    return EMBER_OK;
}

int fs_namespace_summary(const fs_namespace *ns, const char *path, uint64_t *files, uint64_t *dirs,
                         uint64_t *bytes, uint64_t *space) {
    inode *node;
    size_t len = 0;
    uint64_t consumed = 0;
    int rc = ns_lookup(ns, path, &node);
    if (rc != EMBER_OK)
        return rc;
    *files = *dirs = *bytes = 0;
    for (const inode *n = node; n != NULL; n = ns_next(node, n, &len, NULL)) {
        if (n->st.is_dir) {
            (*dirs)++;
        } else {
            (*files)++;
            *bytes += n->st.length;
            consumed += n->st.length * n->st.replication;
        }
    }
    if (space != NULL)
        *space = consumed;
    return EMBER_OK;
}

uint64_t fs_namespace_inode_count(const fs_namespace *ns) { return ns->inode_count; }

int fs_namespace_chain(const fs_namespace *ns, const char *path, fs_stat *chain, size_t max,
                       size_t *n, int *complete) {
    if (fs_path_check(path, NULL, 0) != EMBER_OK)
        return EMBER_EINVAL;
    const inode *cur = ns->root;
    const char *p = path + 1;
    size_t k = 0;
    for (;;) {
        if (k == max)
            return EMBER_ETOOBIG;
        ns_stat_of(cur, &chain[k++]);
        if (*p == '\0' || !cur->st.is_dir || (cur = ns_child(cur, &p)) == NULL)
            break;
    }
    *n = k;
    *complete = *p == '\0';
    return EMBER_OK;
}

int fs_namespace_walk_under(const fs_namespace *ns, const char *path, fs_visit_cb visit,
                            void *arg) {
    inode *top;
    char rel[FS_PATH_MAX + 1] = "";
    size_t len = 0;
    fs_stat st;
    int rc = ns_lookup(ns, path, &top);
    if (rc != EMBER_OK)
        return rc;
    for (const inode *n = top; n != NULL; n = ns_next(top, n, &len, rel)) {
        ns_stat_of(n, &st);
        if ((rc = visit(len == 0 ? "" : rel, &st, arg)) != 0)
            return rc;
    }
    return EMBER_OK;
}
