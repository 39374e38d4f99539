/* namespace.h -- the namenode's in-memory inode tree (HDFS's FSDirectory).
 *
 * Directories and files with owner, group, permission bits, times,
 * replication, block size and length.  Paths are absolute: "/" or
 * "/a/b/c", no empty, "." or ".." components, no trailing '/', at most
 * FS_PATH_MAX bytes and FS_NAME_MAX bytes per component.  Every mutation is
 * all-or-nothing: on error the tree is unchanged.  The namespace knows
 * nothing of disks or logs: namenode.c logs each mutation it applies, and
 * replays the log through these same functions at start.  Single-threaded
 * (the primary's loop thread). */
#ifndef EMBER_NAMESPACE_H
#define EMBER_NAMESPACE_H

#include <stddef.h>
#include <stdint.h>

#define FS_PATH_MAX 8000
#define FS_NAME_MAX 255
#define FS_OWNER_MAX 64

typedef struct fs_namespace fs_namespace;

typedef struct {
    uint64_t inode_id;          /* unique, never reused in this namespace */
    int is_dir;
    char owner[FS_OWNER_MAX];
    char group[FS_OWNER_MAX];
    uint32_t mode;              /* permission bits, 07777 at most */
    int64_t mtime_ms;
    int64_t atime_ms;
    uint32_t replication;       /* files; 0 for directories */
    uint64_t block_size;        /* files; 0 for directories */
    uint64_t length;            /* files: bytes; directories: 0 */
    uint32_t children;          /* directories: entries directly inside */
    uint32_t under_construction; /* files: open for writing, not complete */
    uint32_t nblocks;           /* files: blocks in the file's list */
} fs_stat;

/* One entry of a listing: a name (not a path) and its attributes. */
typedef struct {
    char name[FS_NAME_MAX + 1];
    fs_stat stat;
} fs_entry;

/* A namespace holding only "/", owned by owner:group with mode 0755. */
int fs_namespace_create(const char *owner, const char *group, int64_t now_ms, fs_namespace **out);
void fs_namespace_destroy(fs_namespace *ns);

/* Checks path against the rules above.  0, or EMBER_EINVAL with a one-line
 * reason in err (err may be NULL). */
int fs_path_check(const char *path, char *err, size_t errlen);

/* Creates directory path.  With create_parents, missing ancestors are
 * created too (same owner, group and mode) and an existing directory at
 * path is success (mkdir -p); without, the parent must exist and path must
 * not.  Errors: EMBER_EINVAL bad path, EMBER_EEXIST exists (or a file sits
 * there, even with create_parents), EMBER_ENOENT parent missing,
 * EMBER_ENOTDIR an ancestor is a file. */
int fs_namespace_mkdirs(fs_namespace *ns, const char *path, const char *owner, const char *group,
                        uint32_t mode, int create_parents, int64_t now_ms);

/* Creates an empty file.  With overwrite, an existing file at path is
 * replaced (a directory never is: EMBER_EISDIR).  With create_parents,
 * missing ancestors are created as directories (mode 0755).  Errors as
 * fs_namespace_mkdirs(), plus EMBER_EEXIST when the file exists and
 * overwrite is 0, EMBER_EINVAL for path "/", replication 0 or block_size
 * 0.  The new file's inode id comes back in *inode_id (may be NULL). */
int fs_namespace_create_file(fs_namespace *ns, const char *path, const char *owner,
                             const char *group, uint32_t mode, uint32_t replication,
                             uint64_t block_size, int overwrite, int create_parents,
                             int64_t now_ms, uint64_t *inode_id);

/* Attributes of path.  EMBER_ENOENT, EMBER_ENOTDIR (an ancestor is a
 * file), EMBER_EINVAL. */
int fs_namespace_stat(const fs_namespace *ns, const char *path, fs_stat *out);

/* Lists a directory's entries in byte order of their names, or, for a
 * file, the file itself (one entry named after its last component).  Only
 * names greater than start_after (NULL or "" = from the start) are
 * returned, at most limit of them (0 = no limit); *has_more says whether
 * more follow.  *entries is malloc'd (the caller frees it; NULL when
 * *count is 0). */
int fs_namespace_list(const fs_namespace *ns, const char *path, const char *start_after,
                      size_t limit, fs_entry **entries, size_t *count, int *has_more);

/* Renames src to dst atomically, with HDFS's rules: when dst is an
 * existing directory, src moves inside it (dst/basename(src)); the final
 * path must not exist (EMBER_EEXIST); its parent must exist (EMBER_ENOENT)
 * and be a directory (EMBER_ENOTDIR); src must exist (EMBER_ENOENT); "/"
 * cannot be renamed, nor a directory into itself or its own subtree
 * (EMBER_EINVAL).  Renaming a path to itself is success and changes
 * nothing.  The final path comes back in final_dst (FS_PATH_MAX + 1
 * bytes; may be NULL).  Both parents' mtimes become now_ms. */
int fs_namespace_rename(fs_namespace *ns, const char *src, const char *dst, int64_t now_ms,
                        char *final_dst);

/* Called once for each file removed by fs_namespace_delete() (or replaced
 * by an overwriting create), with the file's block ids, so the namenode
 * can drop the blocks. */
typedef void (*fs_removed_cb)(uint64_t inode_id, const uint64_t *blocks, size_t nblocks,
                              void *arg);

/* The callback used for files removed when fs_namespace_delete() gets
 * none, and for files replaced by an overwriting create. */
void fs_namespace_set_removed_hook(fs_namespace *ns, fs_removed_cb removed, void *arg);

/* Deletes path.  A non-empty directory needs recursive (else
 * EMBER_ENOTEMPTY); "/" cannot be deleted (EMBER_EINVAL).  removed may be
 * NULL.  The parent's mtime becomes now_ms. */
int fs_namespace_delete(fs_namespace *ns, const char *path, int recursive, int64_t now_ms,
                        fs_removed_cb removed, void *arg);

/* Sets a file's replication (EMBER_EISDIR for a directory, EMBER_EINVAL
 * for 0). */
int fs_namespace_set_replication(fs_namespace *ns, const char *path, uint32_t replication);

/* Sets permission bits (mode & 07777, else EMBER_EINVAL). */
int fs_namespace_set_permission(fs_namespace *ns, const char *path, uint32_t mode);

/* Sets owner and/or group; NULL or "" leaves that one unchanged.  Names
 * longer than FS_OWNER_MAX - 1 bytes: EMBER_EINVAL. */
int fs_namespace_set_owner(fs_namespace *ns, const char *path, const char *owner,
                           const char *group);

/* Sets times; a negative value leaves that one unchanged. */
int fs_namespace_set_times(fs_namespace *ns, const char *path, int64_t mtime_ms,
                           int64_t atime_ms);

/* Sets a file's length (the namenode calls it as blocks complete);
 * EMBER_EISDIR for a directory. */
int fs_namespace_set_length(fs_namespace *ns, const char *path, uint64_t length);

/* Leases.  A file is under construction (open for writing) while it has a
 * lease holder: the name of the client writing it (at most
 * FS_HOLDER_MAX - 1 bytes; "" when unknown).  holder NULL marks the file
 * complete.  EMBER_EISDIR for a directory. */
#define FS_HOLDER_MAX 256
int fs_namespace_set_under_construction(fs_namespace *ns, const char *path, const char *holder);

/* The lease holder of a file, NULL when it is complete; valid until the
 * file changes. */
int fs_namespace_holder(const fs_namespace *ns, const char *path, const char **holder);

/* Visits every file under construction (in no set order) with its path,
 * holder and blocks.  The visitor must not change the namespace.  Stops
 * at the first non-zero return of visit and returns it. */
typedef int (*fs_open_file_cb)(const char *path, const char *holder, const uint64_t *blocks,
                               size_t nblocks, void *arg);
int fs_namespace_open_files(const fs_namespace *ns, fs_open_file_cb visit, void *arg);

/* Takes the last block off a file's list (lease recovery found no replica
 * of it); its id comes back in *block_id.  EMBER_ENOENT when the file has
 * no block. */
int fs_namespace_remove_last_block(fs_namespace *ns, const char *path, uint64_t *block_id);

/* Appends a block id to a file's block list.  EMBER_EISDIR. */
int fs_namespace_add_block(fs_namespace *ns, const char *path, uint64_t block_id);

/* A file's block ids, in order; the array belongs to the namespace and is
 * valid until the file changes.  EMBER_EISDIR for a directory. */
int fs_namespace_blocks(const fs_namespace *ns, const char *path, const uint64_t **blocks,
                        size_t *nblocks);

/* Visits every inode, "/" first, parents before children, siblings in
 * name order, with its full path.  Stops at the first non-zero return of
 * visit and returns it; 0 when every inode was visited. */
typedef int (*fs_visit_cb)(const char *path, const fs_stat *stat, void *arg);
int fs_namespace_walk(const fs_namespace *ns, fs_visit_cb visit, void *arg);

/* Totals under path (HDFS's getContentSummary): files, directories (path
 * itself included when it is one), bytes, and space consumed (each file's
 * length times its replication; space may be NULL). */
int fs_namespace_summary(const fs_namespace *ns, const char *path, uint64_t *files,
                         uint64_t *dirs, uint64_t *bytes, uint64_t *space);

/* The inodes along path, "/" first, as far as they exist: chain gets
 * their attributes (room for max; EMBER_ETOOBIG when deeper), *n how
 * many, *complete whether the last one is path itself (else the next
 * component is missing, or the last one found is a file).  For
 * permission checks. */
int fs_namespace_chain(const fs_namespace *ns, const char *path, fs_stat *chain, size_t max,
                       size_t *n, int *complete);

/* Visits path and everything below it, parents first, each with its path
 * relative to path ("" for path itself, then "/b", "/b/c", ...).  Stops
 * at the first non-zero return of visit and returns it. */
int fs_namespace_walk_under(const fs_namespace *ns, const char *path, fs_visit_cb visit,
                            void *arg);

/* Inodes in the tree, "/" included. */
uint64_t fs_namespace_inode_count(const fs_namespace *ns);

#endif
