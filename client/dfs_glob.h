/* dfs_glob.h -- Hadoop's file globs over any tree (FileSystem.globStatus).
 *
 * A pattern is an absolute path whose components may hold `*` (any run of
 * characters but '/'), `?` (one character), `[abc]`, `[a-z]`, `[^a]` and
 * `[!a]` (a class), `{a,b}` (alternatives, nested, and they may hold '/'),
 * and `\` (the next character literally).  Matching is Hadoop's: a leading
 * dot is not special.  Braces are expanded first into plain patterns;
 * each is then walked component by component from "/": a component
 * without magic characters is appended as it is (unescaped), one with
 * them lists every directory reached so far and keeps the names it
 * matches.  A path reached through a literal component is checked with a
 * stat before it is listed, and at the end when the last component is
 * literal.  The tree is reached only through the lister and stat
 * functions, so tests use a fake one and ember_dfs_glob() the cluster's.
 * Results are sorted by path, without duplicates. */
#ifndef EMBER_DFS_GLOB_H
#define EMBER_DFS_GLOB_H

#include <stddef.h>

/* At most this many plain patterns from one brace expansion. */
#define DFS_GLOB_EXPANSIONS_MAX 4096

/* One entry of a listed directory: its name (malloc'd) and kind. */
typedef struct {
    char *name;
    int is_dir;
} dfs_glob_entry;

/* The entries of directory dir into *entries (a malloc'd array the lister
 * fills and the walker frees, names included); returns 0, EMBER_ENOENT
 * (nothing there: not an error), or another negative code (the glob fails
 * with it).  Called only on paths known to be directories. */
typedef int (*dfs_glob_list_fn)(void *arg, const char *dir, dfs_glob_entry **entries, size_t *n);
/* 0 and *is_dir when path exists, EMBER_ENOENT when it does not, else a
 * negative code. */
typedef int (*dfs_glob_stat_fn)(void *arg, const char *path, int *is_dir);

/* Whether s holds an unescaped magic character (* ? [ {): a path that
 * does not is taken literally, as Hadoop does. */
int dfs_glob_has_magic(const char *s);

/* Checks pattern's syntax: EMBER_EINVAL with Hadoop's wording ("Illegal
 * file pattern: Unclosed character class near index 3") in err for an
 * unclosed class or group, an unopened '}', or a trailing '\'. */
int dfs_glob_check(const char *pattern, char *err, size_t errlen);

/* Expands every {..} group of pattern into plain patterns (*out, malloc'd
 * array of malloc'd strings, in order; free with dfs_glob_free()).
 * EMBER_EINVAL (err says why) for a malformed pattern or more than
 * DFS_GLOB_EXPANSIONS_MAX results. */
int dfs_glob_expand(const char *pattern, char ***out, size_t *n, char *err, size_t errlen);

/* Whether name matches one brace-free component pattern. */
int dfs_glob_match(const char *component, const char *name);

/* Every path matching pattern (absolute), sorted, into *paths (free with
 * dfs_glob_free()); *n may be 0 (nothing matched: the caller says "No
 * such file or directory").  EMBER_EINVAL with err for a bad pattern, or
 * the lister's or stat's error. */
int dfs_glob_walk(const char *pattern, dfs_glob_list_fn list, dfs_glob_stat_fn stat, void *arg,
                  char ***paths, size_t *n, char *err, size_t errlen);

/* Frees an array from dfs_glob_expand() or dfs_glob_walk().  Accepts NULL. */
void dfs_glob_free(char **paths, size_t n);

#endif
