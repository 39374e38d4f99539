/* cli_tree.h -- a pre-order walk of a file system tree for the CLI's
 * recursive verbs (-ls -R, -find, -cp, -get, -chmod/-chown/-chgrp/-setrep
 * -R, fsck).  The directories being walked are an explicit stack of
 * listings on the heap, never recursion: a tree as deep as the namenode
 * allows (FS_PATH_MAX / 2, ~4,000 levels) costs the C stack nothing.
 * Internal to the CLI. */
#ifndef EMBER_CLI_TREE_H
#define EMBER_CLI_TREE_H

#include <stddef.h>

#include "ember/dfs.h"

#define CLI_TREE_SCRATCH 4 /* ints a caller may keep with each listing */

typedef struct cli_tree cli_tree;

/* One entry of the walk.  Every pointer is the walk's and stays valid
 * until the next cli_tree_next() or cli_tree_close(). */
typedef struct {
    const char *path;                  /* the entry's absolute path */
    const char *rel;                   /* ... below the top ("a/b"; no leading '/') */
    const ember_file_status *st;       /* its status, from its directory's listing
                                        * (st->path is its name) */
    const ember_file_status *siblings; /* that listing, in name order; st is one of them */
    size_t nsiblings;
    size_t index;                      /* st - siblings */
    int *scratch;                      /* CLI_TREE_SCRATCH ints kept with the listing for the
                                        * caller, 0 until it writes them */
} cli_tree_entry;

/* Lists the directory top and starts a walk below it (top itself is not
 * an entry).  0 and *out (freed with cli_tree_close()), or the listing's
 * error (its message in ember_dfs_last_error(dfs)); dfs must outlive the
 * walk. */
int cli_tree_open(ember_dfs *dfs, const char *top, cli_tree **out);

/* The next entry in pre-order -- each directory's entries in name order,
 * each entry followed by everything below it -- into *e: 1, or 0 at the
 * end.  The directory returned last is listed first, unless skipped.
 * A directory whose listing fails returns the error (negative; message
 * in ember_dfs_last_error()) and is left out; the walk goes on at the
 * next call. */
int cli_tree_next(cli_tree *t, cli_tree_entry *e);

/* The walk does not go below the entry cli_tree_next() returned last (a
 * directory the caller could not copy, say). */
void cli_tree_skip(cli_tree *t);

/* Frees the walk and every listing it holds; NULL is fine. */
void cli_tree_close(cli_tree *t);

#endif
