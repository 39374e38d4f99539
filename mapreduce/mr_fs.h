/* mr_fs.h -- the file systems a job reads and writes: the cluster's HDFS
 * (through include/ember/dfs.h) and local files (file://, a path every
 * node can read).  Paths here are resolved already: absolute, with a flag
 * saying which file system (the CLI turns a job's URIs into these).
 *
 * Only what jobs need: stat, expanding an input argument into files
 * (globs, then a directory's files, skipping names starting with '_' or
 * '.' as Hadoop's hidden-file filter does), mkdirs, rename, delete,
 * create (an mr_sink), and block hosts for locality. */
#ifndef EMBER_MR_FS_H
#define EMBER_MR_FS_H

#include <limits.h>
#include <stdint.h>

#include "ember/dfs.h"
#include "mr_output.h"
#include "mr_source.h"

typedef struct {
    int local;           /* 1: this machine's file system; 0: HDFS */
    char path[PATH_MAX]; /* absolute */
} mr_path;

typedef struct {
    mr_path path;
    uint64_t size;
    uint64_t block_size; /* HDFS's; local files: 32 MiB (Hadoop's fs.local.block.size) */
} mr_file;

typedef struct {
    ember_dfs *dfs; /* NULL: HDFS paths fail with EMBER_ESTATE */
} mr_fs;

/* "hdfs://..." / "file:..." as Hadoop prints them, for messages. */
void mr_path_uri(const mr_path *p, char *out, size_t len);
/* child = dir + "/" + name. */
int mr_path_join(const mr_path *dir, const char *name, mr_path *child);

/* Whether the path exists; *is_dir set when it does. */
int mr_fs_exists(mr_fs *fs, const mr_path *p, int *is_dir);

/* Expands one input argument (a file, a directory or a glob) into files,
 * appended to *files (realloc'd; *n counts).  A pattern or path that
 * matches nothing: EMBER_ENOENT with Hadoop's "Input path does not exist:
 * URI" (or "Input Pattern URI matches 0 files") in err. */
int mr_fs_expand(mr_fs *fs, const mr_path *arg, mr_file **files, size_t *n, char *err,
                 size_t errlen);

int mr_fs_mkdirs(mr_fs *fs, const mr_path *p);
/* Renames src to dst (dst must not exist; its parent must). */
int mr_fs_rename(mr_fs *fs, const mr_path *src, const mr_path *dst);
/* Deletes p, recursively; a missing p is not an error. */
int mr_fs_delete(mr_fs *fs, const mr_path *p);
/* Creates p for writing (parents must exist). */
int mr_fs_create(mr_fs *fs, const mr_path *p, mr_sink **out);
/* Opens p for reading (HDFS reads verify every checksum, and go
 * short-circuit where a replica is on this host). */
int mr_fs_open(mr_fs *fs, const mr_path *p, mr_source **out);

#endif
