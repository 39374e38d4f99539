/* container_exec.h -- the first moments of a task container's process:
 * `ember task --exec-wrapper`.
 *
 * posix_spawn() cannot run code in the child, and a container needs
 * some before its command starts: die with the rank
 * (PR_SET_PDEATHSIG, which must be set by the child itself), join its
 * memory cgroup or take its RLIMIT_AS, and bind itself to its cpuset --
 * all before the command's first instruction, so no thread of the
 * command ever runs outside its limits.  So the worker spawns its own
 * binary (/proc/self/exe) as a wrapper with the plan on its command
 * line; the wrapper applies it and execs the command, which keeps the
 * pid the worker watches, the death signal, the cgroup, the affinity
 * and the limit.  The launcher (container.c) builds that command line
 * with container_exec_argv(); the binary's main() hands it to
 * container_exec_main().  Both ends of the format are here. */
#ifndef EMBER_CONTAINER_EXEC_H
#define EMBER_CONTAINER_EXEC_H

#include <stdint.h>
#include <sys/types.h>

/* What the wrapper does before it execs argv. */
typedef struct {
    pid_t parent;             /* the rank's pid: the wrapper exits if it is gone already */
    const char *cpus;         /* OS PUs to bind to ("0-1,4"); NULL: no binding */
    const char *cgroup_procs; /* the cgroup.procs file to join; NULL: none */
    uint64_t rlimit_as;       /* RLIMIT_AS in bytes; 0: none */
    char *const *argv;        /* the command, NULL-terminated; argv[0] is found in PATH */
} container_exec_plan;

/* The wrapper's exit codes when it cannot run the command; the reason
 * is one line on its stderr ("ember task: ..."), the container's stderr
 * file.  As a shell's: 126 cannot run it, 127 not found. */
enum {
    CONTAINER_EXEC_USAGE = 2,      /* a bad wrapper command line */
    CONTAINER_EXEC_SETUP = 126,    /* the limits or the binding failed, or the command cannot run */
    CONTAINER_EXEC_NOTFOUND = 127, /* no such command */
};

/* The wrapper's command line, "ember task --exec-wrapper --parent PID
 * [--cpus LIST] [--cgroup-procs FILE] [--rlimit-as BYTES] -- COMMAND...",
 * as a NULL-terminated array in *out (the caller's, freed with
 * container_exec_argv_free()).  Returns 0, EMBER_EINVAL for an empty
 * command, EMBER_ENOMEM. */
int container_exec_argv(const container_exec_plan *plan, char ***out);

/* Frees what container_exec_argv() made; accepts NULL. */
void container_exec_argv_free(char **argv);

/* The wrapper, given the arguments after "task --exec-wrapper".  Does
 * not return when the command starts; else returns one of the codes
 * above after one line on stderr. */
int container_exec_main(int argc, char **argv);

#endif
