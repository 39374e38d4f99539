/* dfs_idle_writer.c -- a writer that keeps its file open and idle, for
 * tests/integration/dfs_idle_writer.sh.
 *
 *   dfs_idle_writer write RUN_DIR LOCAL DFS_PATH FIRST_BYTES IDLE_MS [hsync]
 * creates DFS_PATH and writes the first FIRST_BYTES bytes of the local
 * file LOCAL, prints "idle" (flushed), sleeps IDLE_MS without calling the
 * library -- the library's own thread must keep the lease and the
 * pipeline alive meanwhile -- writes the rest of LOCAL, hflushes (hsync
 * with the last argument) and closes.  When the environment variable
 * DFS_IDLE_UNTIL names a file, the pause ends as soon as that file exists
 * (IDLE_MS then only bounds it), so that a test ends the pause when it
 * has seen what it waited for, however slow the machine.
 *
 *   dfs_idle_writer overwrite RUN_DIR DFS_PATH
 * tries to create DFS_PATH for writing with overwrite, as another client
 * taking a file over would.
 *
 * Each exits 0 when every call succeeded, else 1 after one line naming
 * the call and the library's error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/dfs.h"

#define WRITE_CHUNK (1u << 20)

/* Prints what failed and returns 1. */
static int report(ember_dfs *dfs, const char *call, int rc) {
    fprintf(stderr, "dfs_idle_writer: %s: %s (%d)\n", call,
            dfs != NULL ? ember_dfs_last_error(dfs) : "", rc);
    return 1;
}

/* Writes len bytes of in to f, a chunk at a time. */
static int copy_bytes(FILE *in, ember_dfs_file *f, uint64_t len, uint8_t *buf) {
    while (len > 0) {
        size_t want = len < WRITE_CHUNK ? (size_t)len : WRITE_CHUNK;
        size_t n = fread(buf, 1, want, in);
        if (n == 0)
            return 0;
        int rc = ember_dfs_write(f, buf, n);
        if (rc != 0)
            return rc;
        len -= n;
    }
    return 0;
}

/* The pause: idle_ms, or less once the file DFS_IDLE_UNTIL names exists. */
static void idle_pause(unsigned idle_ms) {
    const char *until = getenv("DFS_IDLE_UNTIL");
    if (until == NULL || until[0] == '\0') {
        usleep((useconds_t)idle_ms * 1000);
        return;
    }
    for (unsigned waited = 0; waited < idle_ms && access(until, F_OK) != 0; waited += 50)
        usleep(50 * 1000);
}

static int idle_write(ember_dfs *dfs, const char *local, const char *path, uint64_t first,
                      unsigned idle_ms, int sync) {
    FILE *in = fopen(local, "rb");
    if (in == NULL) {
        perror(local);
        return 1;
    }
    uint8_t *buf = malloc(WRITE_CHUNK);
    if (buf == NULL) {
        fprintf(stderr, "dfs_idle_writer: out of memory\n");
        fclose(in);
        return 1;
    }
    ember_create_options o = {.overwrite = 0};
    ember_dfs_file *f = NULL;
    int rc = ember_dfs_create(dfs, path, &o, &f);
    int failed = 0;
    if (rc != 0)
        failed = report(dfs, "create", rc);
    else if ((rc = copy_bytes(in, f, first, buf)) != 0)
        failed = report(dfs, "write", rc);
    if (!failed) {
        printf("idle\n");
        fflush(stdout);
        idle_pause(idle_ms);
        if ((rc = copy_bytes(in, f, UINT64_MAX, buf)) != 0)
            failed = report(dfs, "write after idling", rc);
        else if ((rc = sync ? ember_dfs_hsync(f) : ember_dfs_hflush(f)) != 0)
            failed = report(dfs, sync ? "hsync" : "hflush", rc);
    }
    if (f != NULL && (rc = ember_dfs_close_file(f)) != 0 && !failed)
        failed = report(dfs, "close", rc);
    free(buf);
    fclose(in);
    return failed;
}

static int usage(void) {
    fprintf(stderr, "usage: dfs_idle_writer write RUN_DIR LOCAL DFS_PATH FIRST_BYTES IDLE_MS "
                    "[hsync]\n       dfs_idle_writer overwrite RUN_DIR DFS_PATH\n");
    return 2;
}

int main(int argc, char **argv) {
    int write_mode = argc >= 7 && argc <= 8 && strcmp(argv[1], "write") == 0;
    int overwrite_mode = argc == 4 && strcmp(argv[1], "overwrite") == 0;
    if (!write_mode && !overwrite_mode)
        return usage();
    if (write_mode && argc == 8 && strcmp(argv[7], "hsync") != 0)
        return usage();
    char err[512];
    ember_dfs *dfs;
    int rc = ember_dfs_connect(argv[2], &dfs, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "dfs_idle_writer: connect: %s\n", err);
        return 1;
    }
    int failed;
    if (write_mode) {
        failed = idle_write(dfs, argv[3], argv[4], strtoull(argv[5], NULL, 10),
                            (unsigned)strtoul(argv[6], NULL, 10), argc == 8);
    } else {
        ember_create_options o = {.overwrite = 1};
        ember_dfs_file *f;
        rc = ember_dfs_create(dfs, argv[3], &o, &f);
        failed = rc != 0 ? report(dfs, "create with overwrite", rc) : 0;
        if (rc == 0 && (rc = ember_dfs_close_file(f)) != 0)
            failed = report(dfs, "close", rc);
    }
    ember_dfs_close(dfs);
    return failed;
}
