/* cli_getconf.c -- `ember getconf` (Hadoop's `hdfs getconf`) and
 * `ember version` (`hadoop version`).
 *
 *   ember getconf [-D KEY=VALUE]... [--conf FILE] -confKey KEY
 *   ember getconf -namenodes
 *   ember getconf -markdown
 *   ember version
 * -confKey prints the value a command run with the same options and file
 * would use (the defaults, then FILE, then -D), durations in ms and sizes
 * in bytes; -namenodes prints the host of the
 * running cluster's primary (from cluster.json); -markdown writes
 * docs/configuration.md from the key table. */
#include <hwloc.h>
#include <mpi.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/run_dir.h"

#define EMBER_STR2(x) #x
#define EMBER_STR(x) EMBER_STR2(x)

#ifndef EMBER_VERSION
#define EMBER_VERSION "unknown"
#endif

static const char getconf_usage[] =
    "Usage: ember getconf [-D KEY=VALUE]... [--conf FILE] -confKey KEY\n"
    "       ember getconf -namenodes\n"
    "       ember getconf -markdown\n";

/* Prints the primary's host, as `hdfs getconf -namenodes` prints the
 * namenodes'. */
static int getconf_namenodes(cli_env *env) {
    cluster_info info;
    char err[512];
    if (run_dir_read_info(env->run_dir, &info, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        return 1;
    }
    printf("%s\n", info.host);
    return 0;
}

int cli_getconf(cli_env *env, int argc, char **argv) {
    config *cfg = NULL;
    const char *key = NULL;
    int mode = 0, rc = 2; /* mode: 1 confKey, 2 namenodes, 3 markdown */
    char err[512] = "";
    if (config_create(&cfg) != EMBER_OK) {
        cli_error("out of memory");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "-help")) {
            fputs(getconf_usage, stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "-namenodes")) {
            mode = 2;
        } else if (!strcmp(a, "-markdown")) {
            mode = 3;
        } else if (!strcmp(a, "-confKey") || !strcmp(a, "-D") || !strcmp(a, "--conf")) {
            if (value == NULL) {
                cli_error("getconf: option '%s' needs a value", a);
                fputs(getconf_usage, stderr);
                goto out;
            }
            i++;
            int set = 0;
            if (!strcmp(a, "-confKey")) {
                mode = 1;
                key = value;
            } else if (!strcmp(a, "-D")) {
                set = config_apply_define(cfg, value, err, sizeof(err));
            } else {
                set = config_load_file(cfg, value, err, sizeof(err));
            }
            if (set != EMBER_OK) {
                cli_error("%s", err);
                goto out;
            }
        } else {
            cli_error("getconf: unknown option '%s'", a);
            fputs(getconf_usage, stderr);
            goto out;
        }
    }
    if (mode == 0) {
        fputs(getconf_usage, stderr);
        goto out;
    }
    if (mode == 2) {
        rc = getconf_namenodes(env);
    } else if (mode == 3) {
        config_write_markdown(stdout);
        rc = 0;
    } else {
        char text[4096];
        if (config_format(cfg, key, text, sizeof(text)) != EMBER_OK) {
            /* Hadoop's words for a key it has no value for. */
            fprintf(stderr, "Configuration %s is missing.\n", key);
            rc = 1;
        } else {
            printf("%s\n", text);
            rc = 0;
        }
    }
out:
    config_destroy(cfg);
    return rc;
}

int cli_version(cli_env *env, int argc, char **argv) {
    (void)env;
    if (argc == 2 && cli_is_help(argv[1])) {
        fputs("Usage: ember version\nPrints ember's version, the compiler, MPI, hwloc and "
              "protobuf-c it was built with,\nand where the binary is.\n",
              stdout);
        return 0;
    }
    if (argc > 1) {
        cli_error("version: unexpected argument '%s'", argv[1]);
        fputs("Usage: ember version\n", stderr);
        return 2;
    }
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(mpi, &len); /* callable before MPI_Init */
    char *nl = strchr(mpi, '\n');
    if (nl != NULL)
        *nl = '\0';
    char *comma = strchr(mpi, ',');
    if (comma != NULL)
        *comma = '\0';
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    printf("ember %s\n", EMBER_VERSION);
    printf("Compiled with %s on %s; %s, hwloc %s, protobuf-c %s\n",
#ifdef __clang__
           "clang " EMBER_STR(__clang_major__) "." EMBER_STR(__clang_minor__) "." EMBER_STR(
               __clang_patchlevel__),
#else
           "gcc " __VERSION__,
#endif
           __DATE__, mpi, HWLOC_VERSION, protobuf_c_version());
    printf("This command was run using %s\n", self[0] ? self : "ember");
    return 0;
}
