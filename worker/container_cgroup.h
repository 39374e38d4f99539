/* container_cgroup.h -- a task container's memory limit as a cgroup.
 *
 * The worker limits a container's memory with a cgroup of the memory
 * controller when the hierarchy is writable, and with RLIMIT_AS
 * otherwise (worker/container.c decides).  The cgroups of one rank's
 * containers go under the rank's own memory cgroup, in ember/<attempt>,
 * so whatever limits the rank (a batch system's job cgroup) still holds
 * for its children:
 *   cgroup v1  <root>/memory/<rank's cgroup>/ember/<attempt>: the limit in
 *              memory.limit_in_bytes (and memory.memsw.limit_in_bytes
 *              where swap is accounted, so a container cannot swap past
 *              it); the kernel's OOM killer counts in memory.oom_control
 *              ("oom_kill N").
 *   cgroup v2  <root>/<rank's cgroup>/ember/<attempt>: the limit in
 *              memory.max (and memory.swap.max 0); kills counted in
 *              memory.events ("oom_kill N").  ember/ gets the memory
 *              controller in its cgroup.subtree_control; the rank's own
 *              cgroup must have it already or accept it (it cannot while
 *              it holds processes, unless it is the root).
 * The root ("/sys/fs/cgroup") and the file naming the rank's cgroups
 * ("/proc/self/cgroup") are parameters, so tests can use fake ones.
 * Nothing here keeps state: the probe's result is the caller's. */
#ifndef EMBER_CONTAINER_CGROUP_H
#define EMBER_CONTAINER_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int version;         /* 1 or 2; 0 when no writable memory controller was found */
    char base[PATH_MAX]; /* the ember/ directory the containers' cgroups go in */
    char why[512];       /* version 0: why not, in one line */
} container_cgroups;

/* Finds the memory controller under root and the rank's own cgroup
 * (from self_cgroup, a file in /proc/self/cgroup's format), and makes
 * sure <it>/ember exists and can take containers.  Fills *out; version
 * 0 (and why) when there is none or it is not writable. */
void container_cgroup_probe(const char *root, const char *self_cgroup, container_cgroups *out);

/* Creates the cgroup `name` under cg->base with a memory limit of
 * limit_bytes; its path goes to path.  A cgroup of that name left empty
 * by a rank that died is removed first.  Returns 0, or EMBER_EEXIST
 * when one of that name holds processes, EMBER_EIO with a one-line
 * reason in err (nothing is left behind). */
int container_cgroup_create(const container_cgroups *cg, const char *name, uint64_t limit_bytes,
                            char *path, size_t pathlen, char *err, size_t errlen);

/* How many processes of the cgroup at path the kernel's OOM killer has
 * killed (0 when the count cannot be read). */
uint64_t container_cgroup_oom_kills(const container_cgroups *cg, const char *path);

/* SIGKILLs every process still in the cgroup at path and removes it.
 * Returns 0, or EMBER_EAGAIN while processes are still leaving (try
 * again later), EMBER_EIO for another failure. */
int container_cgroup_remove(const char *path);

/* Removes cg->base when no container's cgroup is left in it (other
 * ranks of the host may still use it: then it stays). */
void container_cgroup_release(const container_cgroups *cg);

#endif
