/* mr_fs.c -- see mr_fs.h. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "mr_fs.h"

#define MR_LOCAL_BLOCK_SIZE (32u << 20)

void mr_path_uri(const mr_path *p, char *out, size_t len) {
    snprintf(out, len, "%s%s", p->local ? "file:" : "hdfs://", p->path);
}

int mr_path_join(const mr_path *dir, const char *name, mr_path *child) {
    child->local = dir->local;
    int n = snprintf(child->path, sizeof(child->path), "%s%s%s", dir->path,
                     dir->path[strlen(dir->path) - 1] == '/' ? "" : "/", name);
    return n > 0 && (size_t)n < sizeof(child->path) ? EMBER_OK : EMBER_EINVAL;
}

static int mr_errno(void) {
    switch (errno) {
    case ENOENT: return EMBER_ENOENT;
    case EEXIST: return EMBER_EEXIST;
    case EACCES:
    case EPERM: return EMBER_EACCES;
    case ENOTDIR: return EMBER_ENOTDIR;
    case ENOSPC: return EMBER_ENOSPC;
    default: return EMBER_EIO;
    }
}

static int mr_hidden(const char *name) { return name[0] == '_' || name[0] == '.'; }

int mr_fs_exists(mr_fs *fs, const mr_path *p, int *is_dir) {
    if (p->local) {
        struct stat st;
        if (stat(p->path, &st) != 0)
            return mr_errno();
        *is_dir = S_ISDIR(st.st_mode);
        return EMBER_OK;
    }
    if (fs->dfs == NULL)
        return EMBER_ESTATE;
    ember_file_status st;
    int rc = ember_dfs_stat(fs->dfs, p->path, &st);
    if (rc == EMBER_OK) {
        *is_dir = st.is_dir;
        ember_dfs_free_status(&st);
    }
    return rc;
}

static int mr_files_add(mr_file **files, size_t *n, const mr_path *p, uint64_t size,
                        uint64_t block_size) {
    mr_file *f = realloc(*files, (*n + 1) * sizeof(*f));
    if (f == NULL)
        return EMBER_ENOMEM;
    *files = f;
    f[*n] = (mr_file){.path = *p, .size = size, .block_size = block_size};
    (*n)++;
    return EMBER_OK;
}

/* One matched path: a file, or a directory's visible files. */
static int mr_expand_local_one(const char *path, mr_file **files, size_t *n) {
    struct stat st;
    if (stat(path, &st) != 0)
        return mr_errno();
    mr_path p = {.local = 1};
    snprintf(p.path, sizeof(p.path), "%s", path);
    if (!S_ISDIR(st.st_mode))
        return mr_files_add(files, n, &p, (uint64_t)st.st_size, MR_LOCAL_BLOCK_SIZE);
    struct dirent **names;
    int count = scandir(path, &names, NULL, alphasort);
    if (count < 0)
        return mr_errno();
    int rc = EMBER_OK;
    for (int i = 0; i < count; i++) {
        mr_path child;
        struct stat cs;
        if (rc == EMBER_OK && !mr_hidden(names[i]->d_name) &&
            mr_path_join(&p, names[i]->d_name, &child) == EMBER_OK && stat(child.path, &cs) == 0 &&
            S_ISREG(cs.st_mode))
            rc = mr_files_add(files, n, &child, (uint64_t)cs.st_size, MR_LOCAL_BLOCK_SIZE);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int mr_expand_hdfs_one(mr_fs *fs, const char *path, mr_file **files, size_t *n) {
    ember_file_status st;
    int rc = ember_dfs_stat(fs->dfs, path, &st);
    if (rc != EMBER_OK)
        return rc;
    mr_path p = {.local = 0};
    snprintf(p.path, sizeof(p.path), "%s", path);
    int is_dir = st.is_dir;
    if (!is_dir)
        rc = mr_files_add(files, n, &p, st.length, st.block_size);
    ember_dfs_free_status(&st);
    if (!is_dir || rc != EMBER_OK)
        return rc;
    ember_file_status *ents;
    size_t count;
    if ((rc = ember_dfs_list(fs->dfs, path, &ents, &count)) != EMBER_OK)
        return rc;
    for (size_t i = 0; rc == EMBER_OK && i < count; i++) {
        const char *name =
            strrchr(ents[i].path, '/') ? strrchr(ents[i].path, '/') + 1 : ents[i].path;
        mr_path child;
        if (!ents[i].is_dir && !mr_hidden(name) && mr_path_join(&p, name, &child) == EMBER_OK)
            rc = mr_files_add(files, n, &child, ents[i].length, ents[i].block_size);
    }
    ember_dfs_free_list(ents, count);
    return rc;
}

static int mr_has_glob(const char *s) { return strpbrk(s, "*?[{\\") != NULL; }

int mr_fs_expand(mr_fs *fs, const mr_path *arg, mr_file **files, size_t *n, char *err,
                 size_t errlen) {
    char uri[PATH_MAX + 16];
    mr_path_uri(arg, uri, sizeof(uri));
    if (!arg->local && fs->dfs == NULL) {
        snprintf(err, errlen, "%s: no cluster to read it from", uri);
        return EMBER_ESTATE;
    }
    char *one = (char *)arg->path;
    char **matches = NULL;
    size_t nmatches = 0;
    glob_t g = {0};
    int rc = EMBER_OK;
    if (!mr_has_glob(arg->path)) {
        matches = &one;
        nmatches = 1;
    } else if (arg->local) {
        if (glob(arg->path, GLOB_BRACE | GLOB_NOSORT, NULL, &g) == 0) {
            matches = g.gl_pathv;
            nmatches = g.gl_pathc;
        }
    } else if ((rc = ember_dfs_glob(fs->dfs, arg->path, &matches, &nmatches)) == EMBER_ENOENT) {
        rc = EMBER_OK;
        nmatches = 0;
    }
    if (rc == EMBER_OK && nmatches == 0 && mr_has_glob(arg->path)) {
        snprintf(err, errlen, "Input Pattern %s matches 0 files", uri);
        rc = EMBER_ENOENT;
    }
    for (size_t i = 0; rc == EMBER_OK && i < nmatches; i++) {
        rc = arg->local ? mr_expand_local_one(matches[i], files, n)
                        : mr_expand_hdfs_one(fs, matches[i], files, n);
        if (rc == EMBER_ENOENT)
            snprintf(err, errlen, "Input path does not exist: %s", uri);
        else if (rc != EMBER_OK)
            snprintf(err, errlen, "%s: %s", uri, ember_strerror(rc));
    }
    if (arg->local && mr_has_glob(arg->path))
        globfree(&g);
    else if (!arg->local && mr_has_glob(arg->path)) {
        for (size_t i = 0; i < nmatches; i++)
            free(matches[i]);
        free(matches);
    }
    return rc;
}

int mr_fs_mkdirs(mr_fs *fs, const mr_path *p) {
    if (!p->local)
        return fs->dfs != NULL ? ember_dfs_mkdirs(fs->dfs, p->path, 0755, 1) : EMBER_ESTATE;
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", p->path);
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return mr_errno();
        *s = c;
        if (c == '\0')
            return EMBER_OK;
    }
}

int mr_fs_rename(mr_fs *fs, const mr_path *src, const mr_path *dst) {
    if (!src->local)
        return fs->dfs != NULL ? ember_dfs_rename(fs->dfs, src->path, dst->path, NULL, 0)
                               : EMBER_ESTATE;
    if (access(dst->path, F_OK) == 0)
        return EMBER_EEXIST;
    return rename(src->path, dst->path) == 0 ? EMBER_OK : mr_errno();
}

static int mr_delete_local(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? EMBER_OK : mr_errno();
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? EMBER_OK : mr_errno();
    DIR *d = opendir(path);
    if (d == NULL)
        return mr_errno();
    struct dirent *e;
    int rc = EMBER_OK;
    while (rc == EMBER_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child))
            rc = EMBER_EINVAL;
        else
            rc = mr_delete_local(child);
    }
    closedir(d);
    if (rc == EMBER_OK && rmdir(path) != 0)
        rc = mr_errno();
    return rc;
}

int mr_fs_delete(mr_fs *fs, const mr_path *p) {
    if (p->local)
        return mr_delete_local(p->path);
    if (fs->dfs == NULL)
        return EMBER_ESTATE;
    int rc = ember_dfs_delete(fs->dfs, p->path, 1);
    return rc == EMBER_ENOENT ? EMBER_OK : rc;
}

typedef struct {
    mr_sink base;
    ember_dfs *dfs;
    ember_dfs_file *f;
    char path[PATH_MAX];
} hdfs_sink;

static int hdfs_write(mr_sink *s, const void *data, size_t len) {
    return ember_dfs_write(((hdfs_sink *)s)->f, data, len);
}

static int hdfs_close(mr_sink *s) {
    hdfs_sink *h = (hdfs_sink *)s;
    int rc = ember_dfs_close_file(h->f);
    free(h);
    return rc;
}

static void hdfs_abort(mr_sink *s) {
    hdfs_sink *h = (hdfs_sink *)s;
    ember_dfs_close_file(h->f);
    ember_dfs_delete(h->dfs, h->path, 0);
    free(h);
}

int mr_fs_create(mr_fs *fs, const mr_path *p, mr_sink **out) {
    if (p->local)
        return mr_sink_local(p->path, out);
    if (fs->dfs == NULL)
        return EMBER_ESTATE;
    hdfs_sink *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return EMBER_ENOMEM;
    snprintf(h->path, sizeof(h->path), "%s", p->path);
    h->dfs = fs->dfs;
    int rc = ember_dfs_create(fs->dfs, p->path, NULL, &h->f);
    if (rc != EMBER_OK) {
        free(h);
        return rc;
    }
    h->base = (mr_sink){.write = hdfs_write, .close = hdfs_close, .abort = hdfs_abort};
    *out = &h->base;
    return EMBER_OK;
}

typedef struct {
    mr_source base;
    ember_dfs_file *f;
    char path[PATH_MAX];
} hdfs_source;

static int hdfs_pread(mr_source *s, void *buf, size_t len, uint64_t off, size_t *got) {
    return ember_dfs_pread(((hdfs_source *)s)->f, buf, len, off, got);
}

static void hdfs_source_close(mr_source *s) {
    hdfs_source *h = (hdfs_source *)s;
    ember_dfs_close_file(h->f);
    free(h);
}

int mr_fs_open(mr_fs *fs, const mr_path *p, mr_source **out) {
    if (p->local)
        return mr_source_open_file(p->path, out);
    if (fs->dfs == NULL)
        return EMBER_ESTATE;
    ember_file_status st;
    int rc = ember_dfs_stat(fs->dfs, p->path, &st);
    if (rc != EMBER_OK)
        return rc;
    uint64_t size = st.length;
    ember_dfs_free_status(&st);
    hdfs_source *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return EMBER_ENOMEM;
    snprintf(h->path, sizeof(h->path), "%s", p->path);
    if ((rc = ember_dfs_open(fs->dfs, p->path, &h->f)) != EMBER_OK) {
        free(h);
        return rc;
    }
    h->base =
        (mr_source){.size = size, .pread = hdfs_pread, .close = hdfs_source_close, .name = h->path};
    *out = &h->base;
    return EMBER_OK;
}
