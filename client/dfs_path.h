/* dfs_path.h -- a path as a user writes it, made the absolute path the
 * namenode takes, as Hadoop's Path does.
 *
 * "/a/b" is absolute; "a/b" is relative to the home directory given;
 * "hdfs:/a" and "hdfs:///a" are absolute paths of the default file
 * system; "hdfs://AUTH/a" names the file system AUTH (the caller checks
 * that AUTH is this cluster).  A scheme is what comes before a ':' that
 * precedes every '/', as in Hadoop, so "x:y" is refused while "d/x:y" is
 * a name.  Then "//" and "." components go, ".." takes the component
 * before it away (never above "/": "/.." is "/"), and a trailing '/' is
 * dropped.  No authority and no path ("hdfs://AUTH") is the home
 * directory, as Hadoop's glob takes an empty path for ".".  Pure: no
 * cluster, no environment. */
#ifndef EMBER_DFS_PATH_H
#define EMBER_DFS_PATH_H

#include <stddef.h>

/* arg made absolute into out (outlen bytes), relative to home (absolute,
 * normalised); the authority of an "hdfs://AUTH/..." argument into
 * authority ("" when there is none).  EMBER_EINVAL with a one-line reason
 * naming arg in err for an empty argument, another scheme, a relative
 * path after a scheme ("hdfs:a"), or a result longer than outlen - 1
 * bytes or an authority longer than authlen - 1. */
int dfs_path_normalize(const char *arg, const char *home, char *out, size_t outlen, char *authority,
                       size_t authlen, char *err, size_t errlen);

/* Whether the absolute, normalised path is dir or lies below it
 * (component-wise: "/ab" is not within "/a"). */
int dfs_path_within(const char *path, const char *dir);

#endif
