/* test_util.h -- small helpers shared by the unit tests (header-only;
 * include after the system headers a test's feature macros govern). */
#ifndef EMBER_TEST_UTIL_H
#define EMBER_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

/* nftw() callback of test_rm_tree(). */
static inline int test_remove_entry(const char *path, const struct stat *st, int type,
                                    struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Removes the tree at path, depth first, not following symbolic links:
 * 0, or -1 with errno. */
static inline int test_rm_tree(const char *path) {
    return nftw(path, test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
