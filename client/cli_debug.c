/* cli_debug.c -- `ember debug`: HDFS's `hdfs debug` tools.
 *
 *   ember debug recoverLease -path PATH [-retries N]
 * asks the namenode to recover the lease of a file its writer left open
 * (ember_dfs_recover_lease): the file is closed at once when there is
 * nothing to recover, else after its last block's replicas agree on a
 * length.  Asked again every second, at most N times (default 1), with
 * Hadoop's output: "recoverLease SUCCEEDED on PATH", or "Giving up on
 * recoverLease for PATH after N tries." and exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/error.h"
#include "ember/dfs.h"

#define DEBUG_RETRY_PAUSE_MS 1000

static int debug_usage(void) {
    cli_error("usage: ember debug recoverLease -path PATH [-retries N]");
    return 2;
}

static int debug_recover_lease(cli_env *env, int argc, char **argv) {
    const char *arg = NULL;
    long retries = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-path") && i + 1 < argc) {
            arg = argv[++i];
        } else if (!strcmp(argv[i], "-retries") && i + 1 < argc) {
            char *end;
            retries = strtol(argv[++i], &end, 10);
            if (*end != '\0' || retries < 1 || retries > 1000000) {
                cli_error("recoverLease: -retries needs a positive number, not '%s'", argv[i]);
                return 2;
            }
        } else {
            return debug_usage();
        }
    }
    if (arg == NULL)
        return debug_usage();
    char path[8192], err[512];
    if (cli_dfs_resolve(env, arg, path, sizeof(path), err, sizeof(err)) != EMBER_OK) {
        cli_error("recoverLease: %s", err);
        return 1;
    }
    ember_dfs *dfs;
    if (ember_dfs_connect(env->run_dir, &dfs, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        return 1;
    }
    int status = 1;
    for (long attempt = 1; attempt <= retries; attempt++) {
        int closed = 0;
        int rc = ember_dfs_recover_lease(dfs, path, &closed);
        if (rc == EMBER_OK && closed) {
            printf("recoverLease SUCCEEDED on %s\n", arg);
            status = 0;
            break;
        }
        if (rc != EMBER_OK) {
            cli_error("recoverLease got exception: %s", ember_dfs_last_error(dfs));
            if (rc == EMBER_ENOENT || rc == EMBER_EISDIR || rc == EMBER_EINVAL)
                break; /* asking again cannot help */
        } else {
            printf("recoverLease returned false.\n");
        }
        if (attempt == retries) {
            printf("Giving up on recoverLease for %s after %ld %s.\n", arg, retries,
                   retries == 1 ? "try" : "tries");
            break;
        }
        printf("Retrying in %d ms...\nRetry #%ld\n", DEBUG_RETRY_PAUSE_MS, attempt);
        fflush(stdout);
        struct timespec ts = {.tv_sec = DEBUG_RETRY_PAUSE_MS / 1000,
                              .tv_nsec = (DEBUG_RETRY_PAUSE_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    ember_dfs_close(dfs);
    return status;
}

int cli_debug(cli_env *env, int argc, char **argv) {
    if (argc >= 2 && (cli_is_help(argv[1]) || (argc >= 3 && cli_is_help(argv[2])))) {
        printf("usage: ember debug recoverLease -path PATH [-retries N]\n");
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "recoverLease"))
        return debug_recover_lease(env, argc - 1, argv + 1);
    return debug_usage();
}
