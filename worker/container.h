/* container.h -- task containers: one task attempt as a child process of
 * the rank, under its limits (YARN's ContainerLauncher and
 * ContainerExecutor, with the ContainersMonitor's timeout).
 *
 * container_launch() books the attempt's vcores and memory on the worker
 * (worker_container_book(), which places it on cores with
 * placement_choose()), creates its working directory
 * RUN_DIR/containers/<attempt>/ and its log directory
 * RUN_DIR/logs/containers/<attempt>/ (stdout, stderr), sets up its
 * memory limit -- a memory cgroup when the hierarchy is writable
 * (container_cgroup.h), RLIMIT_AS otherwise -- and spawns it through the
 * exec wrapper (container_exec.h): stdin /dev/null, none of the rank's
 * descriptors, its own process group, bound to its cpuset (not on a
 * synthetic or XML topology: worker_unbound_why()), and killed if the
 * rank dies.  What was decided goes into
 * RUN_DIR/containers/<attempt>/record (key=value lines, see
 * "Containers" in docs/ARCHITECTURE.md).
 *
 * The loop watches the child.  No progress (container_progress()) for
 * the attempt's timeout, or container_kill(), sends SIGTERM to its
 * process group and SIGKILL after the grace period.  When it ends, the
 * worker reaps it, kills what is left of its group and cgroup, removes
 * the cgroup, gives its resources back, appends the outcome to the
 * record and then calls the launch's callback, once, on the loop
 * thread.  Destroying the worker kills and reaps every container
 * (SIGTERM, the grace period, SIGKILL) without calling callbacks; a rank
 * killed outright takes its containers with it (PR_SET_PDEATHSIG). */
#ifndef EMBER_CONTAINER_H
#define EMBER_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/event_loop.h"
#include "placement.h"
#include "worker.h"

#define CONTAINER_ID_MAX 128 /* characters of an attempt id */

/* How a container ended. */
typedef enum {
    CONTAINER_SUCCEEDED = 0,   /* exit code 0 */
    CONTAINER_EXITED,          /* a non-zero exit code */
    CONTAINER_SIGNALED,        /* killed by a signal the worker did not send */
    CONTAINER_MEMORY_EXCEEDED, /* went over its memory limit */
    CONTAINER_TIMED_OUT,       /* no progress within its timeout: killed */
    CONTAINER_KILLED,          /* container_kill() */
} container_result;

typedef struct {
    const char *attempt_id;
    container_result result;
    int exit_code; /* when it exited (0 on success); -1 when a signal ended it */
    int signal;    /* the signal that ended it; 0 when it exited */
    pid_t pid;
    int64_t elapsed_ms; /* from spawn to reaped */
    const char *reason; /* "exit code 3", "killed by signal 9 (Killed)", ... */
} container_outcome;

/* Called once per launched container, on the loop thread, after it is
 * reaped and cleaned up (its resources are given back already).  The
 * outcome and its strings are valid during the call only.  The callback
 * may launch or kill containers. */
typedef void (*container_done_cb)(worker *w, const container_outcome *outcome, void *arg);

/* What to run.  Every pointer is the caller's and only read during
 * container_launch(). */
typedef struct {
    const char *attempt_id;     /* 1..CONTAINER_ID_MAX of [A-Za-z0-9_.-], not "." or ".." */
    char *const *argv;          /* the command, NULL-terminated; argv[0] is found in PATH */
    char *const *env;           /* "KEY=VALUE" set for the command (NULL-terminated; may be NULL) */
    uint32_t vcores;            /* >= 1 */
    uint64_t memory_mb;         /* >= 1: the memory limit */
    const placement_hint *hint; /* where its data is (may be NULL) */
    int64_t progress_timeout_ms; /* killed after this long without progress; 0: never */
} container_spec;

/* What is known of a running container (for reports and tests). */
typedef struct {
    pid_t pid;
    placement_choice choice; /* its units, OS PUs and the reason */
    int limit_cgroup;        /* 1: a memory cgroup; 0: RLIMIT_AS */
    char cgroup[4096];       /* the cgroup's directory ("" with RLIMIT_AS) */
    char work_dir[4096];
    char record[4096];
    int stopping; /* SIGTERM sent (timed out, or killed) */
} container_info;

/* Where the worker finds what it runs containers with; every field may
 * be left NULL/0 (tests change them). */
typedef struct container_options {
    const char *cgroup_root; /* "/sys/fs/cgroup" */
    const char *self_cgroup; /* "/proc/self/cgroup" */
    const char *wrapper;     /* the binary that handles `task --exec-wrapper`: /proc/self/exe */
    int no_cgroup;           /* 1: RLIMIT_AS even where a cgroup could be made */
} container_options;

typedef struct container_table container_table; /* opaque: the worker's containers */

/* Creates the worker's container table on loop, for run_dir (both must
 * outlive it), with kill_grace_ms between SIGTERM and SIGKILL, and finds
 * how memory is limited (logged).  opts may be NULL.  *out is the
 * caller's, freed with container_table_destroy().  Returns 0 or
 * EMBER_ENOMEM.  worker_create() calls it when given a loop. */
int container_table_create(event_loop *loop, const char *run_dir, int64_t kill_grace_ms,
                           const container_options *opts, container_table **out);

/* Kills every container (SIGTERM to its group, SIGKILL after the grace
 * period), reaps it and cleans it up, unbooking it from its worker; no
 * callback runs.  Blocks for the grace period at most, and a little
 * longer while the kernel empties the cgroups.  Accepts NULL. */
void container_table_destroy(container_table *t);

/* Launches spec on w.  Returns 0 when the child runs: cb(w, outcome,
 * arg) comes later, once.  Otherwise nothing is left (no booking, no
 * cgroup, no directory), cb never runs, and err has one line:
 * EMBER_EINVAL for a bad spec or a worker without a loop,
 * EMBER_EEXIST when the attempt already ran or runs here, EMBER_EAGAIN
 * when the offer has no room for it, EMBER_EIO when the directories,
 * the cgroup or the spawn fail, EMBER_ENOMEM. */
int container_launch(worker *w, const container_spec *spec, container_done_cb cb, void *arg,
                     char *err, size_t errlen);

/* The attempt made progress: its timeout starts again.  EMBER_ENOENT
 * when no such container runs. */
int container_progress(worker *w, const char *attempt_id);

/* Kills the attempt (SIGTERM, SIGKILL after the grace period); its
 * outcome is CONTAINER_KILLED.  0 also when it is being killed already;
 * EMBER_ENOENT when no such container runs. */
int container_kill(worker *w, const char *attempt_id);

/* Fills *out for a running container; EMBER_ENOENT when none. */
int container_get_info(worker *w, const char *attempt_id, container_info *out);

/* How many containers run on w. */
size_t container_count(worker *w);

/* "memory cgroup (v1)" or "RLIMIT_AS (...why...)": how w limits memory. */
const char *container_memory_limit_kind(worker *w);

/* The result's name in records and logs: "succeeded", "exited",
 * "signaled", "memory exceeded", "timed out", "killed". */
const char *container_result_name(container_result r);

#endif
