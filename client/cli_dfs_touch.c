/* cli_dfs_touch.c -- `ember dfs -touch` and `-truncate`: a file's times
 * and length changed in place, as Hadoop's TouchCommands.Touch and
 * Truncate.
 *
 * -touch [-a] [-m] [-t yyyyMMdd:HHmmss] [-c] PATH...: an existing file's
 * access and modification times set to now or to the -t time (-a only
 * the access time, -m only the modification time; both or neither: both);
 * a missing one created empty (its parent must exist), and given the -t
 * time when there is one, unless -c.  Times are UTC, as ember shows them
 * (Hadoop parses -t in the client's time zone).  A directory is refused.
 *
 * -truncate [-w] LENGTH PATH...: each file cut to LENGTH bytes (the
 * namenode's truncate): "Truncated P to length: N" when done at once (a
 * block boundary), else Hadoop's "Truncating P ... Wait for block
 * recovery to complete" -- or, with -w, once every path is asked,
 * "Waiting for P ..." and "Truncated P to length: N" when the file is
 * closed at that length (polled, no time limit, as Hadoop's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_dfs.h"
#include "common/error.h"

#define TRUNCATE_POLL_MS 200 /* -truncate -w: how often the file is looked at */

/* Parses Hadoop's -t format, yyyyMMdd:HHmmss (UTC), into ms since the
 * epoch; 0, or -1 when text is not exactly a valid time of that form. */
static int touch_parse_time(const char *text, int64_t *ms) {
    int y, mo, d, h, mi, s, used = 0;
    if (strlen(text) != 15 ||
        sscanf(text, "%4d%2d%2d:%2d%2d%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || used != 15)
        return -1;
    for (int i = 0; i < 15; i++)
        if ((i == 8) != (text[i] == ':') || (i != 8 && (text[i] < '0' || text[i] > '9')))
            return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm() normalizes 20230231 into March: such a date is refused. */
    if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_year != tm.tm_year ||
        back.tm_mon != tm.tm_mon || back.tm_mday != d || back.tm_hour != h || back.tm_min != mi ||
        back.tm_sec != s)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

/* What -touch sets. */
typedef struct {
    int64_t time_ms;  /* now, or -t's */
    int timestamp;    /* -t given */
    int mtime, atime; /* which times to set */
    int no_create;    /* -c */
} touch_opts;

static void touch_one(dfs_cli *c, const char *path, const touch_opts *o) {
    ember_file_status st;
    int rc = ember_dfs_stat(c->dfs, path, &st);
    if (rc == EMBER_OK) {
        int is_dir = st.is_dir;
        ember_dfs_free_status(&st);
        if (is_dir) {
            cli_error("touch: `%s': Is a directory", path);
            c->failed = 1;
            return;
        }
    } else if (rc != EMBER_ENOENT) {
        dfs_fail(c);
        return;
    } else if (o->no_create) {
        return;
    } else {
        ember_create_options opts = {.replication = c->replication, .block_size = c->block_size};
        if (ember_dfs_create_empty(c->dfs, path, &opts) != EMBER_OK) {
            dfs_fail(c);
            return;
        }
        dfs_warn(c);
        if (!o->timestamp)
            return; /* created now: its times are now */
    }
    if (ember_dfs_set_times(c->dfs, path, o->mtime ? o->time_ms : -1, o->atime ? o->time_ms : -1) !=
        EMBER_OK)
        dfs_fail(c);
}

/* -touch [-a] [-m] [-t TIMESTAMP] [-c] PATH... */
int cmd_touch(dfs_cli *c, int argc, char **argv) {
    touch_opts o = {.time_ms = (int64_t)time(NULL) * 1000};
    int a = 0, m = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            if (touch_parse_time(argv[++i], &o.time_ms) != 0) {
                dfs_usage_error(c->cmd, "Unable to parse the specified timestamp %s", argv[i]);
                return 2;
            }
            o.timestamp = 1;
            continue;
        }
        for (const char *f = argv[i] + 1; *f; f++) {
            if (*f != 'a' && *f != 'm' && *f != 'c') {
                dfs_usage_error(c->cmd, "Illegal option %s", argv[i]);
                return 2;
            }
            a |= *f == 'a';
            m |= *f == 'm';
            o.no_create |= *f == 'c';
        }
    }
    /* -a or -m alone sets that one time; both or neither set both. */
    o.atime = a || !m;
    o.mtime = m || !a;
    char path[DFS_PATH_MAX];
    for (; i < argc; i++)
        if (dfs_arg(c, argv[i], path) == 0)
            touch_one(c, path, &o);
    return c->failed;
}

/* Waits until path is closed at length bytes (-truncate -w). */
static void truncate_wait(dfs_cli *c, const char *path, uint64_t length) {
    printf("Waiting for %s ...\n", path);
    fflush(stdout);
    for (;;) {
        ember_file_status st;
        if (ember_dfs_stat(c->dfs, path, &st) != EMBER_OK) {
            dfs_fail(c);
            return;
        }
        int done = !st.under_construction && st.length == length;
        ember_dfs_free_status(&st);
        if (done)
            break;
        struct timespec ts = {0, TRUNCATE_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("Truncated %s to length: %llu\n", path, (unsigned long long)length);
    fflush(stdout);
}

/* One file of -truncate: 1 when its block recovery is to be waited for. */
static int truncate_one(dfs_cli *c, const char *path, uint64_t length, int wait) {
    ember_file_status st;
    if (ember_dfs_stat(c->dfs, path, &st) != EMBER_OK) {
        dfs_fail(c);
        return 0;
    }
    int is_dir = st.is_dir;
    uint64_t old = st.length;
    ember_dfs_free_status(&st);
    if (is_dir) {
        cli_error("truncate: `%s': Is a directory", path);
        c->failed = 1;
        return 0;
    }
    if (length > old) {
        cli_error("truncate: Cannot truncate to a larger file size. Current size: %llu, "
                  "truncate size: %llu.",
                  (unsigned long long)old, (unsigned long long)length);
        c->failed = 1;
        return 0;
    }
    int done;
    if (ember_dfs_truncate(c->dfs, path, length, &done) != EMBER_OK) {
        dfs_fail(c);
        return 0;
    }
    if (done)
        printf("Truncated %s to length: %llu\n", path, (unsigned long long)length);
    else if (!wait)
        printf("Truncating %s to length: %llu. Wait for block recovery to complete before "
               "further updating this file.\n",
               path, (unsigned long long)length);
    return !done && wait;
}

/* -truncate [-w] LENGTH PATH... */
int cmd_truncate(dfs_cli *c, int argc, char **argv) {
    int seen[128] = {0};
    int i = dfs_flags(c, argc, argv, "w", seen);
    if (i < 0)
        return 2;
    char *end;
    const char *text = argv[i++];
    unsigned long long length = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0') {
        dfs_usage_error(c->cmd, "Illegal length, a non-negative integer expected");
        return 2;
    }
    char path[DFS_PATH_MAX];
    char **waiting = calloc((size_t)argc, sizeof(char *));
    size_t nwait = 0;
    if (waiting == NULL) {
        cli_error("truncate: out of memory");
        return 1;
    }
    for (; i < argc; i++)
        if (dfs_arg(c, argv[i], path) == 0 && truncate_one(c, path, length, seen['w']) &&
            (waiting[nwait] = strdup(path)) != NULL)
            nwait++;
    for (size_t k = 0; k < nwait; k++) {
        truncate_wait(c, waiting[k], length);
        free(waiting[k]);
    }
    free(waiting);
    return c->failed;
}
