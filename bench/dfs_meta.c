/* dfs_meta.c -- namenode metadata throughput through the C client library.
 *
 *   dfs_meta RUN_DIR FILES CLIENTS
 * CLIENTS processes each open their own connection (as CLIENTS separate
 * programs would) and create FILES/CLIENTS empty files under
 * /bench-meta-<pid>/c<k>/, then stat each of them.  Prints creates/s and
 * stats/s over the whole run, wall clock from the first request to the
 * last answer.  Every create is durable when answered (edit log fsync), so
 * concurrent clients share fsyncs through the namenode's group commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ember/dfs.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One client: phase 0 creates, phase 1 stats.  Returns 0 on success. */
static int run_client(const char *run_dir, const char *root, int k, int files, int phase) {
    char err[512], path[512];
    ember_dfs *dfs;
    if (ember_dfs_connect(run_dir, &dfs, err, sizeof(err)) != 0) {
        fprintf(stderr, "dfs_meta: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/c%d", root, k);
    if (phase == 0 && ember_dfs_mkdirs(dfs, path, 0, 1) != 0)
        goto fail;
    for (int i = 0; i < files; i++) {
        snprintf(path, sizeof(path), "%s/c%d/f%07d", root, k, i);
        ember_file_status st;
        if (phase == 0 ? ember_dfs_create_empty(dfs, path, NULL) != 0
                       : ember_dfs_stat(dfs, path, &st) != 0)
            goto fail;
        if (phase == 1)
            ember_dfs_free_status(&st);
    }
    ember_dfs_close(dfs);
    return 0;
fail:
    fprintf(stderr, "dfs_meta: %s: %s\n", path, ember_dfs_last_error(dfs));
    ember_dfs_close(dfs);
    return 1;
}

/* Runs phase in `clients` processes at once; returns the elapsed seconds,
 * or a negative number when a client failed. */
static double run_phase(const char *run_dir, const char *root, int files, int clients, int phase) {
    double t0 = now_s();
    for (int k = 0; k < clients; k++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(run_client(run_dir, root, k, files / clients, phase));
        if (pid < 0)
            return -1;
    }
    int bad = 0, status;
    while (wait(&status) > 0)
        bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return bad ? -1 : now_s() - t0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: dfs_meta RUN_DIR FILES CLIENTS\n");
        return 2;
    }
    int files = atoi(argv[2]), clients = atoi(argv[3]);
    if (files <= 0 || clients <= 0 || clients > files) {
        fprintf(stderr, "dfs_meta: FILES and CLIENTS must be positive, CLIENTS <= FILES\n");
        return 2;
    }
    char root[128];
    snprintf(root, sizeof(root), "/bench-meta-%d", (int)getpid());
    int total = files / clients * clients;
    double tc = run_phase(argv[1], root, files, clients, 0);
    double ts = tc < 0 ? -1 : run_phase(argv[1], root, files, clients, 1);
    if (tc < 0 || ts < 0)
        return 1;
    printf("creates: %d in %.2f s = %.0f/s (%d clients)\n", total, tc, total / tc, clients);
    printf("stats:   %d in %.2f s = %.0f/s (%d clients)\n", total, ts, total / ts, clients);
    return 0;
}
