/* container_exec.c -- the container wrapper's command line, and the
 * wrapper itself (see container_exec.h).
 *
 * The wrapper runs in the child between posix_spawn() and the command,
 * so it is short and keeps nothing: each step either succeeds or ends
 * the child with one line on stderr.  The order matters: the death
 * signal first (then a rank that dies at any later moment takes the
 * child with it), and RLIMIT_AS last, since after it the wrapper itself
 * may not map memory any more. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <hwloc.h>

#include "common/error.h"
#include "container_exec.h"

#define EXEC_OPTIONS_MAX 11 /* argv[0], "task", "--exec-wrapper", four pairs */

int container_exec_argv(const container_exec_plan *plan, char ***out) {
    size_t n = 0;
    while (plan->argv != NULL && plan->argv[n] != NULL)
        n++;
    if (n == 0)
        return EMBER_EINVAL;
    char **argv = calloc(EXEC_OPTIONS_MAX + 1 + n + 1, sizeof(*argv));
    if (argv == NULL)
        return EMBER_ENOMEM;
    char parent[24], limit[24];
    snprintf(parent, sizeof(parent), "%ld", (long)plan->parent);
    snprintf(limit, sizeof(limit), "%" PRIu64, plan->rlimit_as);
    const char *fixed[EXEC_OPTIONS_MAX];
    size_t k = 0;
    fixed[k++] = "ember";
    fixed[k++] = "task";
    fixed[k++] = "--exec-wrapper";
    fixed[k++] = "--parent";
    fixed[k++] = parent;
    if (plan->cpus != NULL) {
        fixed[k++] = "--cpus";
        fixed[k++] = plan->cpus;
    }
    if (plan->cgroup_procs != NULL) {
        fixed[k++] = "--cgroup-procs";
        fixed[k++] = plan->cgroup_procs;
    }
    if (plan->rlimit_as != 0) {
        fixed[k++] = "--rlimit-as";
        fixed[k++] = limit;
    }
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        argv[j++] = strdup(fixed[i]);
    argv[j++] = strdup("--");
    for (size_t i = 0; i < n; i++)
        argv[j++] = strdup(plan->argv[i]);
    for (size_t i = 0; i < j; i++) {
        if (argv[i] == NULL) { /* a strdup failed: free around the hole */
            for (size_t m = 0; m < j; m++)
                free(argv[m]);
            free(argv);
            return EMBER_ENOMEM;
        }
    }
    *out = argv;
    return EMBER_OK;
}

void container_exec_argv_free(char **argv) {
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

static int exec_fail(int code, const char *fmt, const char *what, int err) {
    fprintf(stderr, "ember task: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, ": %s\n", strerror(err));
    return code;
}

/* Binds the calling process to the OS PUs in list ("0-1,4"). */
static int exec_bind(const char *list) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set == NULL)
        return ENOMEM;
    if (hwloc_bitmap_list_sscanf(set, list) != 0 || hwloc_bitmap_last(set) < 0) {
        hwloc_bitmap_free(set);
        return EINVAL;
    }
    int last = hwloc_bitmap_last(set);
    cpu_set_t *cpus = CPU_ALLOC((size_t)last + 1);
    size_t size = CPU_ALLOC_SIZE((size_t)last + 1);
    if (cpus == NULL) {
        hwloc_bitmap_free(set);
        return ENOMEM;
    }
    CPU_ZERO_S(size, cpus);
    unsigned pu;
    hwloc_bitmap_foreach_begin(pu, set) { CPU_SET_S(pu, size, cpus); }
    hwloc_bitmap_foreach_end();
    int rc = sched_setaffinity(0, size, cpus) != 0 ? errno : 0;
    CPU_FREE(cpus);
    hwloc_bitmap_free(set);
    return rc;
}

/* Moves the calling process into the cgroup whose cgroup.procs is path. */
static int exec_join_cgroup(const char *path) {
    FILE *f = fopen(path, "we");
    if (f == NULL)
        return errno;
    int rc = fprintf(f, "%ld\n", (long)getpid()) < 0 ? EIO : 0;
    if (fclose(f) != 0 && rc == 0)
        rc = errno != 0 ? errno : EIO;
    return rc;
}

/* Parses the options before "--" into *plan; returns the index of the
 * command, or -1. */
static int exec_parse(int argc, char **argv, container_exec_plan *plan) {
    *plan = (container_exec_plan){0};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i + 1 < argc && plan->parent > 0 ? i + 1 : -1;
        if (i + 1 >= argc)
            return -1;
        char *end;
        if (strcmp(argv[i], "--parent") == 0) {
            plan->parent = (pid_t)strtol(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--rlimit-as") == 0) {
            plan->rlimit_as = strtoull(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--cpus") == 0) {
            plan->cpus = argv[++i];
            continue;
        } else if (strcmp(argv[i], "--cgroup-procs") == 0) {
            plan->cgroup_procs = argv[++i];
            continue;
        } else {
            return -1;
        }
        if (*end != '\0')
            return -1;
    }
    return -1;
}

int container_exec_main(int argc, char **argv) {
    container_exec_plan plan;
    int cmd = exec_parse(argc, argv, &plan);
    if (cmd < 0) {
        fprintf(stderr, "ember task: usage: ember task --exec-wrapper --parent PID [--cpus LIST] "
                        "[--cgroup-procs FILE] [--rlimit-as BYTES] -- COMMAND [ARGS]\n");
        return CONTAINER_EXEC_USAGE;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return exec_fail(CONTAINER_EXEC_SETUP, "%s", "PR_SET_PDEATHSIG", errno);
    if (getppid() != plan.parent) { /* the rank died before the line above */
        fprintf(stderr, "ember task: the worker (pid %ld) is gone\n", (long)plan.parent);
        return CONTAINER_EXEC_SETUP;
    }
    int err;
    if (plan.cgroup_procs != NULL && (err = exec_join_cgroup(plan.cgroup_procs)) != 0)
        return exec_fail(CONTAINER_EXEC_SETUP, "cannot join the cgroup of %s", plan.cgroup_procs,
                         err);
    if (plan.cpus != NULL && (err = exec_bind(plan.cpus)) != 0)
        return exec_fail(CONTAINER_EXEC_SETUP, "cannot bind to cpus %s", plan.cpus, err);
    if (plan.rlimit_as != 0) {
        struct rlimit lim = {.rlim_cur = plan.rlimit_as, .rlim_max = plan.rlimit_as};
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            return exec_fail(CONTAINER_EXEC_SETUP, "%s", "cannot set RLIMIT_AS", errno);
    }
    /* posix_spawn closed the rank's descriptors; this binary's own start
     * may have opened some. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execvp(argv[cmd], argv + cmd);
    err = errno;
    return exec_fail(err == ENOENT ? CONTAINER_EXEC_NOTFOUND : CONTAINER_EXEC_SETUP,
                     "cannot run '%s'", argv[cmd], err);
}
