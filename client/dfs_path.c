/* dfs_path.c -- command-line paths normalised as Hadoop's Path does (see
 * dfs_path.h).  The result is built in out one component at a time: the
 * home directory's first for a relative path, then the argument's; ".."
 * cuts out back to its last '/', so it can never climb above "/". */
#include "dfs_path.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

/* Appends the components of the '/'-separated text to out (holding *len
 * bytes of an absolute path, "" for "/"), resolving "." and "..".  0, or
 * -1 when the result would not fit in outlen bytes. */
static int dfs_path_append(char *out, size_t *len, size_t outlen, const char *text) {
    const char *p = text;
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (*len > 0 && out[*len - 1] != '/')
                (*len)--;
            if (*len > 0)
                (*len)--; /* the '/' before the component taken away */
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (*len + 1 + n >= outlen)
                return -1;
            out[(*len)++] = '/';
            memcpy(out + *len, p, n);
            *len += n;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    out[*len] = '\0';
    return 0;
}

/* Splits off "hdfs:" and an authority: the path part of arg into *path.
 * EMBER_EINVAL (err says why) for another scheme or "hdfs:relative". */
static int dfs_path_scheme(const char *arg, const char **path, char *authority, size_t authlen,
                           char *err, size_t errlen) {
    size_t colon = strcspn(arg, ":"), slash = strcspn(arg, "/");
    *path = arg;
    if (arg[colon] != ':' || colon > slash)
        return EMBER_OK; /* no scheme: a ':' after a '/' is part of a name */
    if (colon != 4 || strncmp(arg, "hdfs", 4) != 0) {
        snprintf(err, errlen, "`%.1000s': only hdfs:// paths are supported here (scheme \"%.*s\")",
                 arg, (int)(colon < 100 ? colon : 100), arg);
        return EMBER_EINVAL;
    }
    const char *p = arg + colon + 1;
    if (p[0] == '/' && p[1] == '/') {
        size_t n = strcspn(p + 2, "/");
        if (n >= authlen) {
            snprintf(err, errlen, "`%.100s...': authority too long", arg);
            return EMBER_EINVAL;
        }
        memcpy(authority, p + 2, n);
        authority[n] = '\0';
        p += 2 + n; /* "" after "hdfs://AUTH": the home directory */
    } else if (p[0] != '/') {
        snprintf(err, errlen, "`%.1000s': Relative path in absolute URI", arg);
        return EMBER_EINVAL;
    }
    *path = p;
    return EMBER_OK;
}

int dfs_path_normalize(const char *arg, const char *home, char *out, size_t outlen, char *authority,
                       size_t authlen, char *err, size_t errlen) {
    const char *path;
    size_t len = 0;
    if (authlen > 0)
        authority[0] = '\0';
    if (arg[0] == '\0') {
        snprintf(err, errlen, "`': Can not create a Path from an empty string");
        return EMBER_EINVAL;
    }
    int rc = dfs_path_scheme(arg, &path, authority, authlen, err, errlen);
    if (rc != EMBER_OK)
        return rc;
    if (outlen < 2 || (path[0] != '/' && dfs_path_append(out, &len, outlen, home) != 0) ||
        dfs_path_append(out, &len, outlen, path) != 0) {
        snprintf(err, errlen, "`%.100s...': path too long", arg);
        return EMBER_EINVAL;
    }
    if (len == 0)
        snprintf(out, outlen, "/");
    return EMBER_OK;
}

int dfs_path_within(const char *path, const char *dir) {
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}
