/* test_container.c -- unit tests for worker/container.c, the exec
 * wrapper (worker/container_exec.c) and the memory cgroups
 * (worker/container_cgroup.c).
 *
 * Real children on a real event loop, on a worker of the real machine
 * (a task node, so every core takes containers): exit codes, signals,
 * a command that does not exist; stdin, stdout, stderr, the environment
 * (Open MPI's variables gone), the working directory, no descriptor of
 * the rank; the cpuset each child is bound to, read back from
 * /proc/self/status, and two at once on different cores; the books
 * during and after; the progress timeout (SIGTERM, then SIGKILL for a
 * child that ignores it) and progress that keeps a child alive; kills on
 * request; memory: a cgroup when the hierarchy is writable (a hog OOM
 * killed, one that fits left alone) and RLIMIT_AS (a hog that fails
 * allocating); the record; bad specs leave nothing behind; destroying
 * the worker leaves no child; a rank SIGKILLed takes its container with
 * it (PR_SET_PDEATHSIG, seen from a subreaper).  The cgroup probe on fake
 * v1 and v2 hierarchies.
 *
 * This binary is its own exec wrapper (`task --exec-wrapper`, as the
 * ember binary is in a rank) and its own memory hog (`hog MB`). */
/* clang-format off: cmocka needs these first, in this order */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "common/topology.h"
#include "test_util.h"
#include "worker/container.h"
#include "worker/container_cgroup.h"
#include "worker/container_exec.h"
#include "worker/worker.h"

#define WAIT_MS 20000 /* the longest a test waits for a child */

static char self_exe[4096]; /* this binary: the hog */

/* ---- fixture ---------------------------------------------------------- */

typedef struct {
    config *cfg;
    topology *topo;
    event_loop *loop;
    worker *w;
    char run_dir[64];
} fixture;

/* One outcome, copied out of the callback. */
typedef struct {
    int calls;
    container_outcome o;
    char id[CONTAINER_ID_MAX + 1];
    char reason[512];
    uint32_t containers_after; /* the worker's count when the callback ran */
} outcome_rec;

static void record_cb(worker *w, const container_outcome *o, void *arg) {
    outcome_rec *r = arg;
    r->calls++;
    r->o = *o;
    snprintf(r->id, sizeof(r->id), "%s", o->attempt_id);
    snprintf(r->reason, sizeof(r->reason), "%s", o->reason);
    r->o.attempt_id = r->id;
    r->o.reason = r->reason;
    r->containers_after = worker_offer(w)->containers;
}

static void open_worker(fixture *f, const char *define, const container_options *copts) {
    char err[256] = "";
    assert_int_equal(config_create(&f->cfg), 0);
    if (define != NULL)
        assert_int_equal(config_apply_define(f->cfg, define, err, sizeof(err)), 0);
    worker_options opts = {.cfg = f->cfg,
                           .topo = f->topo,
                           .core_node = 0, /* a task node: every core takes containers */
                           .data_dirs = "",
                           .bind_addr = "127.0.0.1",
                           .loop = f->loop,
                           .run_dir = f->run_dir,
                           .containers = copts};
    assert_int_equal(worker_create(&opts, &f->w, err, sizeof(err)), 0);
}

static void fixture_open(fixture *f, const char *define, const container_options *copts) {
    memset(f, 0, sizeof(*f));
    char err[256] = "";
    assert_int_equal(topology_load(NULL, NULL, &f->topo, err, sizeof(err)), 0);
    assert_int_equal(event_loop_create(&f->loop), 0);
    snprintf(f->run_dir, sizeof(f->run_dir), "/tmp/container-test.XXXXXX");
    assert_non_null(mkdtemp(f->run_dir));
    open_worker(f, define, copts);
}

static void fixture_close(fixture *f) {
    worker_destroy(f->w);
    config_destroy(f->cfg);
    event_loop_destroy(f->loop);
    topology_destroy(f->topo);
    test_rm_tree(f->run_dir);
}

/* Runs the loop until *counter reaches want (or WAIT_MS passes). */
static void run_until(fixture *f, const int *counter, int want) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (*counter < want && clock_monotonic_ms() < end)
        assert_int_equal(event_loop_run_once(f->loop, 50), 0);
    assert_int_equal(*counter, want);
}

static int launch(fixture *f, const char *id, char *const *argv, uint64_t mb, int64_t timeout_ms,
                  outcome_rec *r) {
    container_spec s = {.attempt_id = id,
                        .argv = argv,
                        .vcores = 1,
                        .memory_mb = mb,
                        .progress_timeout_ms = timeout_ms};
    char err[512] = "";
    int rc = container_launch(f->w, &s, record_cb, r, err, sizeof(err));
    if (rc != EMBER_OK)
        print_message("launch %s: %s\n", id, err);
    return rc;
}

/* Runs `sh -c script` as container id to its end. */
static void run_sh(fixture *f, const char *id, const char *script, outcome_rec *r) {
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    assert_int_equal(launch(f, id, argv, 256, 0, r), 0);
    run_until(f, &r->calls, 1);
}

/* The contents of the file at dir/name (a static buffer; "" if none). */
static const char *slurp(const char *dir, const char *name) {
    static char buf[8192];
    char path[4096 + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (fp != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
    }
    return buf;
}

static const char *log_file(fixture *f, const char *id, const char *name) {
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/logs/containers/%s", f->run_dir, id);
    return slurp(dir, name);
}

/* The value of key in the attempt's record ("" when absent; the last
 * line of that key wins). */
static const char *record_value(fixture *f, const char *id, const char *key) {
    static char value[1024];
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/containers/%s", f->run_dir, id);
    const char *text = slurp(dir, "record");
    value[0] = '\0';
    size_t klen = strlen(key);
    for (const char *line = text; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=')
            snprintf(value, sizeof(value), "%.*s", (int)(len - klen - 1), line + klen + 1);
        line += len + (line[len] == '\n');
    }
    return value;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* 1 while a process of group pgid lives (zombies, which an init may be
 * slow to reap, do not count). */
static int group_alive(pid_t pgid) {
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int alive = 0;
    struct dirent *e;
    while (!alive && (e = readdir(d)) != NULL) {
        char path[300], stat[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        size_t n = fread(stat, 1, sizeof(stat) - 1, fp);
        fclose(fp);
        stat[n] = '\0';
        char state;
        long ppid, pgrp;
        const char *after = strrchr(stat, ')'); /* past the command's name */
        if (after != NULL && sscanf(after + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3)
            alive = pgrp == pgid && state != 'Z';
    }
    closedir(d);
    return alive;
}

/* Waits until no process of group pgid lives. */
static void wait_group_gone(pid_t pgid) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (group_alive(pgid) && clock_monotonic_ms() < end)
        usleep(10000);
    assert_false(group_alive(pgid));
}

/* ---- how children end ------------------------------------------------- */

static void test_exit_codes(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    outcome_rec ok = {0}, three = {0}, sig = {0}, missing = {0};
    run_sh(&f, "attempt_ok", "exit 0", &ok);
    assert_int_equal(ok.o.result, CONTAINER_SUCCEEDED);
    assert_int_equal(ok.o.exit_code, 0);
    assert_string_equal(ok.reason, "succeeded");
    assert_string_equal(ok.id, "attempt_ok");
    run_sh(&f, "attempt_three", "exit 3", &three);
    assert_int_equal(three.o.result, CONTAINER_EXITED);
    assert_int_equal(three.o.exit_code, 3);
    assert_string_equal(three.reason, "exit code 3");
    run_sh(&f, "attempt_sig", "kill -9 $$", &sig);
    assert_int_equal(sig.o.result, CONTAINER_SIGNALED);
    assert_int_equal(sig.o.signal, SIGKILL);
    assert_int_equal(sig.o.exit_code, -1);
    assert_string_equal(sig.reason, "killed by signal 9 (Killed)");
    /* No such command: the wrapper says so on the container's stderr. */
    char *argv[] = {"no-such-command-here", NULL};
    assert_int_equal(launch(&f, "attempt_missing", argv, 64, 0, &missing), 0);
    run_until(&f, &missing.calls, 1);
    assert_int_equal(missing.o.result, CONTAINER_EXITED);
    assert_int_equal(missing.o.exit_code, CONTAINER_EXEC_NOTFOUND);
    assert_string_equal(log_file(&f, "attempt_missing", "stderr"),
                        "ember task: cannot run 'no-such-command-here': No such file or "
                        "directory\n");
    /* The record keeps the outcome. */
    assert_string_equal(record_value(&f, "attempt_three", "result"), "exited");
    assert_string_equal(record_value(&f, "attempt_three", "outcome"), "exit code 3");
    assert_string_equal(record_value(&f, "attempt_three", "exit_code"), "3");
    assert_string_equal(record_value(&f, "attempt_sig", "signal"), "9");
    assert_string_equal(record_value(&f, "attempt_three", "command"), "/bin/sh -c 'exit 3'");
    assert_int_equal(container_count(f.w), 0);
    fixture_close(&f);
}

/* ---- what a child sees ------------------------------------------------ */

static void test_files_env_and_dir(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    /* A descriptor of the "rank" without close-on-exec, and a variable
     * of Open MPI's: neither may reach the child. */
    int leak = open("/dev/null", O_RDONLY);
    assert_true(leak >= 3);
    setenv("OMPI_COMM_WORLD_RANK", "5", 1);
    char *argv[] = {"/bin/sh", "-c",
                    "echo \"foo=$FOO id=$CONTAINER_ID rank=${OMPI_COMM_WORLD_RANK:-none}\"; "
                    "pwd; echo \"PWD=$PWD\"; readlink /proc/self/fd/0; cat; ls /proc/self/fd | "
                    "tr '\\n' ' '; echo; echo oops >&2",
                    NULL};
    char *env[] = {"FOO=bar baz", NULL};
    container_spec s = {
        .attempt_id = "attempt_env_0", .argv = argv, .env = env, .vcores = 1, .memory_mb = 128};
    outcome_rec r = {0};
    char err[256];
    assert_int_equal(container_launch(f.w, &s, record_cb, &r, err, sizeof(err)), 0);
    unsetenv("OMPI_COMM_WORLD_RANK");
    close(leak);
    run_until(&f, &r.calls, 1);
    assert_int_equal(r.o.result, CONTAINER_SUCCEEDED);
    char work[128], want[1024];
    snprintf(work, sizeof(work), "%s/containers/attempt_env_0", f.run_dir);
    /* ls's own descriptors: 0-2 and the one it reads /proc/self/fd with. */
    snprintf(want, sizeof(want),
             "foo=bar baz id=attempt_env_0 rank=none\n%s\nPWD=%s\n/dev/null\n0 1 2 3 \n", work,
             work);
    assert_string_equal(log_file(&f, "attempt_env_0", "stdout"), want);
    assert_string_equal(log_file(&f, "attempt_env_0", "stderr"), "oops\n");
    assert_true(exists(work));
    assert_string_equal(record_value(&f, "attempt_env_0", "work_dir"), work);
    fixture_close(&f);
}

/* ---- cores and books -------------------------------------------------- */

/* Waits until the stdout of id holds a whole line. */
static void wait_for_output(fixture *f, const char *id) {
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (strchr(log_file(f, id, "stdout"), '\n') == NULL && clock_monotonic_ms() < end)
        assert_int_equal(event_loop_run_once(f->loop, 20), 0);
    assert_non_null(strchr(log_file(f, id, "stdout"), '\n'));
}

static void test_cpusets_and_books(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    const worker_resources *res = worker_offer(f.w);
    int two = res->units - res->reserved_units >= 2 && res->vcores >= 2;
    if (!two)
        print_message("only one usable core: the two containers cannot be apart\n");
    char *argv[] = {"/bin/sh", "-c",
                    "grep Cpus_allowed_list /proc/self/status | cut -f2; exec sleep 30", NULL};
    const char *ids[2] = {"attempt_cpu_0", "attempt_cpu_1"};
    outcome_rec r[2] = {{0}};
    container_info info[2];
    for (int i = 0; i < 1 + two; i++) {
        assert_int_equal(launch(&f, ids[i], argv, 100, 0, &r[i]), 0);
        assert_int_equal(container_get_info(f.w, ids[i], &info[i]), 0);
        assert_true(info[i].pid > 0);
    }
    /* Booked while they run. */
    assert_int_equal(res->containers, 1 + two);
    assert_int_equal(res->vcores_used, 1 + two);
    assert_true(res->memory_used_mb == (uint64_t)(100 * (1 + two)));
    assert_int_equal(container_count(f.w), 1 + two);
    for (int i = 0; i < 1 + two; i++) {
        wait_for_output(&f, ids[i]);
        /* Bound to exactly the PUs placement chose, and the record says so. */
        char want[300];
        snprintf(want, sizeof(want), "%s\n", info[i].choice.pus);
        assert_string_equal(log_file(&f, ids[i], "stdout"), want);
        assert_string_equal(record_value(&f, ids[i], "cpuset"), info[i].choice.pus);
        assert_string_equal(record_value(&f, ids[i], "placement"), info[i].choice.reason);
        assert_int_equal(info[i].choice.shared, 0);
    }
    if (two)
        assert_string_not_equal(info[0].choice.pus, info[1].choice.pus);
    /* No room: every vcore taken, or more memory than offered. */
    if (res->vcores == res->vcores_used) {
        outcome_rec none = {0};
        assert_int_equal(launch(&f, "attempt_cpu_2", argv, 1, 0, &none), EMBER_EAGAIN);
    }
    outcome_rec none = {0};
    assert_int_equal(launch(&f, "attempt_huge", argv, res->memory_mb + 1, 0, &none), EMBER_EAGAIN);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/containers/attempt_huge", f.run_dir);
    assert_false(exists(dir)); /* a refused launch leaves nothing */
    /* Killed, then given back. */
    for (int i = 0; i < 1 + two; i++)
        assert_int_equal(container_kill(f.w, ids[i]), 0);
    for (int i = 0; i < 1 + two; i++) {
        run_until(&f, &r[i].calls, 1);
        assert_int_equal(r[i].o.result, CONTAINER_KILLED);
    }
    assert_int_equal(r[0].containers_after + r[1].containers_after, two ? 1 : 0);
    assert_int_equal(res->containers, 0);
    assert_int_equal(res->vcores_used, 0);
    assert_true(res->memory_used_mb == 0);
    assert_int_equal(container_count(f.w), 0);
    fixture_close(&f);
}

/* ---- timeouts and kills ----------------------------------------------- */

static void test_timeout(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    outcome_rec r = {0};
    char *argv[] = {"sleep", "30", NULL};
    assert_int_equal(launch(&f, "attempt_hang", argv, 64, 300, &r), 0);
    run_until(&f, &r.calls, 1);
    assert_int_equal(r.o.result, CONTAINER_TIMED_OUT);
    assert_int_equal(r.o.signal, SIGTERM); /* sleep dies of the first signal */
    assert_string_equal(r.reason, "timed out: no progress for 300 ms; killed by signal 15 "
                                  "(Terminated)");
    assert_true(r.o.elapsed_ms >= 300 && r.o.elapsed_ms < 10000);
    assert_string_equal(record_value(&f, "attempt_hang", "result"), "timed out");
    fixture_close(&f);
}

static void test_timeout_sigkill(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, "yarn.nodemanager.sleep-delay-before-sigkill.ms=400", NULL);
    outcome_rec r = {0};
    /* Ignores SIGTERM (and so does its sleep): SIGKILL after the grace. */
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done", NULL};
    assert_int_equal(launch(&f, "attempt_stubborn", argv, 64, 0, &r), 0);
    wait_for_output(&f, "attempt_stubborn");
    int64_t start = clock_monotonic_ms();
    assert_int_equal(container_kill(f.w, "attempt_stubborn"), 0);
    assert_int_equal(container_kill(f.w, "attempt_stubborn"), 0); /* again: fine */
    container_info info;
    assert_int_equal(container_get_info(f.w, "attempt_stubborn", &info), 0);
    assert_true(info.stopping);
    run_until(&f, &r.calls, 1);
    assert_true(clock_monotonic_ms() - start >= 400);
    assert_int_equal(r.o.result, CONTAINER_KILLED);
    assert_int_equal(r.o.signal, SIGKILL);
    assert_string_equal(r.reason, "killed on request; killed by signal 9 (Killed)");
    /* Nothing of its group is left: its sleep was killed too. */
    wait_group_gone(info.pid);
    assert_int_equal(container_kill(f.w, "attempt_stubborn"), EMBER_ENOENT);
    assert_int_equal(container_kill(f.w, "attempt_never"), EMBER_ENOENT);
    fixture_close(&f);
}

static void on_progress_timer(event_loop *loop, void *arg) {
    (void)loop;
    fixture *f = arg;
    container_progress(f->w, "attempt_busy");
}

static void test_progress_keeps_alive(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    outcome_rec r = {0};
    char *argv[] = {"sleep", "1.5", NULL};
    uint64_t timer;
    assert_int_equal(event_loop_add_timer(f.loop, 100, on_progress_timer, &f, &timer), 0);
    assert_int_equal(launch(&f, "attempt_busy", argv, 64, 500, &r), 0);
    run_until(&f, &r.calls, 1);
    event_loop_remove_timer(f.loop, timer);
    assert_int_equal(r.o.result, CONTAINER_SUCCEEDED);
    assert_true(r.o.elapsed_ms >= 1500);
    assert_int_equal(container_progress(f.w, "attempt_busy"), EMBER_ENOENT);
    fixture_close(&f);
}

/* ---- memory ----------------------------------------------------------- */

static void test_memory_cgroup(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    const char *kind = container_memory_limit_kind(f.w);
    if (strncmp(kind, "memory cgroup", 13) != 0) {
        print_message("no writable memory cgroup here, the cgroup checks are skipped: %s\n", kind);
        fixture_close(&f);
        skip();
    }
    /* The cgroup while it runs: the limit, the child in it. */
    outcome_rec idle = {0};
    char *sleeper[] = {"sleep", "30", NULL};
    assert_int_equal(launch(&f, "attempt_mem_idle", sleeper, 64, 0, &idle), 0);
    container_info info;
    assert_int_equal(container_get_info(f.w, "attempt_mem_idle", &info), 0);
    assert_true(info.limit_cgroup);
    int v1 = exists(info.cgroup) && strstr(kind, "(v1)") != NULL;
    assert_string_equal(slurp(info.cgroup, v1 ? "memory.limit_in_bytes" : "memory.max"),
                        "67108864\n");
    char pid_line[32];
    snprintf(pid_line, sizeof(pid_line), "%ld\n", (long)info.pid);
    int64_t end = clock_monotonic_ms() + WAIT_MS; /* the wrapper joins it, then execs */
    while (strstr(slurp(info.cgroup, "cgroup.procs"), pid_line) == NULL &&
           clock_monotonic_ms() < end)
        assert_int_equal(event_loop_run_once(f.loop, 10), 0);
    assert_non_null(strstr(slurp(info.cgroup, "cgroup.procs"), pid_line));
    assert_string_equal(record_value(&f, "attempt_mem_idle", "memory_limit"),
                        v1 ? "cgroup-v1" : "cgroup-v2");
    assert_string_equal(record_value(&f, "attempt_mem_idle", "cgroup"), info.cgroup);
    assert_string_equal(record_value(&f, "attempt_mem_idle", "memory_limit_bytes"), "67108864");
    assert_int_equal(container_kill(f.w, "attempt_mem_idle"), 0);
    run_until(&f, &idle.calls, 1);
    assert_false(exists(info.cgroup)); /* removed with its container */

    /* 200 MB under 64 MB: the OOM killer ends it, reported as memory. */
    outcome_rec hog = {0}, fits = {0};
    char *big[] = {self_exe, "hog", "200", NULL};
    assert_int_equal(launch(&f, "attempt_mem_hog", big, 64, 0, &hog), 0);
    run_until(&f, &hog.calls, 1);
    assert_int_equal(hog.o.result, CONTAINER_MEMORY_EXCEEDED);
    assert_int_equal(hog.o.signal, SIGKILL);
    assert_string_equal(hog.reason, "memory exceeded: over its 64 MB limit, the kernel's OOM "
                                    "killer ended it (memory cgroup); killed by signal 9 "
                                    "(Killed)");
    assert_string_equal(record_value(&f, "attempt_mem_hog", "result"), "memory exceeded");
    /* 16 MB under 128 MB runs to its end. */
    char *small[] = {self_exe, "hog", "16", NULL};
    assert_int_equal(launch(&f, "attempt_mem_fits", small, 128, 0, &fits), 0);
    run_until(&f, &fits.calls, 1);
    assert_int_equal(fits.o.result, CONTAINER_SUCCEEDED);
    assert_string_equal(log_file(&f, "attempt_mem_fits", "stdout"), "hog: 16 MB\n");
    fixture_close(&f);
}

static void test_memory_rlimit(void **state) {
    (void)state;
    fixture f;
    container_options copts = {.no_cgroup = 1};
    fixture_open(&f, NULL, &copts);
    assert_string_equal(container_memory_limit_kind(f.w),
                        "RLIMIT_AS (no memory cgroup: cgroups turned off)");
    /* The limit is there: the shell sees it (in KB). */
    outcome_rec seen = {0};
    char *argv[] = {"/bin/sh", "-c", "ulimit -v", NULL};
    assert_int_equal(launch(&f, "attempt_rl_seen", argv, 64, 0, &seen), 0);
    run_until(&f, &seen.calls, 1);
    assert_int_equal(seen.o.result, CONTAINER_SUCCEEDED);
    assert_string_equal(log_file(&f, "attempt_rl_seen", "stdout"), "65536\n");
    assert_string_equal(record_value(&f, "attempt_rl_seen", "memory_limit"), "rlimit-as");
    assert_string_equal(record_value(&f, "attempt_rl_seen", "no_cgroup"), "cgroups turned off");
    /* A shell whose string grows a quarter MB at a time until an
     * allocation fails ("Out of space"): memory exceeded. */
    outcome_rec hog = {0};
    char *grow[] = {"/bin/sh", "-c",
                    "x=$(printf '%0262144d' 0); y=$x; while :; do y=\"$y$x\"; sleep 0.02; done",
                    NULL};
    assert_int_equal(launch(&f, "attempt_rl_hog", grow, 64, 0, &hog), 0);
    run_until(&f, &hog.calls, 1);
    print_message("%s\n", hog.reason);
    assert_int_equal(hog.o.result, CONTAINER_MEMORY_EXCEEDED);
    assert_int_equal(hog.o.exit_code, 2);
    assert_non_null(strstr(hog.reason, "of its 64 MB limit (RLIMIT_AS) and failed; exit code 2"));
    assert_non_null(strstr(log_file(&f, "attempt_rl_hog", "stderr"), "Out of space"));
    /* A failure far from the limit is no memory failure. */
    outcome_rec plain = {0};
    run_sh(&f, "attempt_rl_plain", "exit 4", &plain);
    assert_int_equal(plain.o.result, CONTAINER_EXITED);
    fixture_close(&f);
}

/* ---- bad specs --------------------------------------------------------- */

static void test_bad_specs(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    char *argv[] = {"true", NULL};
    char *none[] = {NULL};
    char *bad_env[] = {"NOEQUALS", NULL};
    char long_id[CONTAINER_ID_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    struct {
        container_spec s;
        int rc;
        const char *err;
    } cases[] = {
        {{.attempt_id = "../up", .argv = argv, .vcores = 1, .memory_mb = 8},
         EMBER_EINVAL,
         "'../up' is no attempt id (1-128 letters, digits, '_', '.', '-')"},
        {{.attempt_id = "..", .argv = argv, .vcores = 1, .memory_mb = 8}, EMBER_EINVAL, NULL},
        {{.attempt_id = "", .argv = argv, .vcores = 1, .memory_mb = 8}, EMBER_EINVAL, NULL},
        {{.attempt_id = long_id, .argv = argv, .vcores = 1, .memory_mb = 8}, EMBER_EINVAL, NULL},
        {{.attempt_id = "a1", .argv = none, .vcores = 1, .memory_mb = 8},
         EMBER_EINVAL,
         "container a1 has no command"},
        {{.attempt_id = "a1", .argv = argv, .vcores = 0, .memory_mb = 8},
         EMBER_EINVAL,
         "container a1 needs at least 1 vcore and 1 MB"},
        {{.attempt_id = "a1", .argv = argv, .vcores = 1, .memory_mb = 0}, EMBER_EINVAL, NULL},
        {{.attempt_id = "a1", .argv = argv, .vcores = 1, .memory_mb = 8, .progress_timeout_ms = -1},
         EMBER_EINVAL,
         NULL},
        {{.attempt_id = "a1", .argv = argv, .env = bad_env, .vcores = 1, .memory_mb = 8},
         EMBER_EINVAL,
         "container a1: 'NOEQUALS' is no KEY=VALUE"},
        {{.attempt_id = "a1", .argv = argv, .vcores = 100000, .memory_mb = 8},
         EMBER_EAGAIN,
         "no room for container a1 (100000 vcores, 8 MB) on this node"},
    };
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/containers/a1", f.run_dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        outcome_rec r = {0};
        assert_int_equal(container_launch(f.w, &cases[i].s, record_cb, &r, err, sizeof(err)),
                         cases[i].rc);
        if (cases[i].err != NULL)
            assert_string_equal(err, cases[i].err);
        assert_true(err[0] != '\0');
        /* Nothing is left: no booking, no directory, no container. */
        assert_int_equal(worker_offer(f.w)->containers, 0);
        assert_false(exists(dir));
        assert_int_equal(container_count(f.w), 0);
    }
    /* One id, once: while it runs, and after it ran. */
    outcome_rec r = {0}, again = {0};
    char *sleeper[] = {"sleep", "30", NULL};
    assert_int_equal(launch(&f, "a1", sleeper, 8, 0, &r), 0);
    assert_int_equal(launch(&f, "a1", sleeper, 8, 0, &again), EMBER_EEXIST);
    assert_int_equal(container_kill(f.w, "a1"), 0);
    run_until(&f, &r.calls, 1);
    assert_int_equal(launch(&f, "a1", sleeper, 8, 0, &again), EMBER_EEXIST);
    assert_int_equal(again.calls, 0);
    /* A worker without a loop runs nothing. */
    worker_destroy(f.w);
    config_destroy(f.cfg);
    event_loop *loop = f.loop;
    f.loop = NULL;
    open_worker(&f, NULL, NULL);
    f.loop = loop;
    char err[256] = "";
    container_spec s = {.attempt_id = "a2", .argv = argv, .vcores = 1, .memory_mb = 8};
    assert_int_equal(container_launch(f.w, &s, record_cb, &r, err, sizeof(err)), EMBER_EINVAL);
    assert_string_equal(err, "this worker runs no containers (it has no event loop)");
    assert_int_equal(container_kill(f.w, "a2"), EMBER_ENOENT);
    assert_int_equal(container_count(f.w), 0);
    fixture_close(&f);
}

/* ---- no child left behind ----------------------------------------------- */

static void never_cb(worker *w, const container_outcome *o, void *arg) {
    (void)w;
    (void)arg;
    fail_msg("no callback at destruction, yet %s got one", o->attempt_id);
}

static void test_destroy_kills_all(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    const char *ids[] = {"attempt_left_0", "attempt_left_1"};
    char *sleeper[] = {"sleep", "60", NULL};
    char *stubborn[] = {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done", NULL};
    container_info info[2];
    for (int i = 0; i < 2; i++) {
        container_spec s = {.attempt_id = ids[i],
                            .argv = i == 0 ? sleeper : stubborn,
                            .vcores = 1,
                            .memory_mb = 32};
        char err[256];
        assert_int_equal(container_launch(f.w, &s, never_cb, NULL, err, sizeof(err)), 0);
        assert_int_equal(container_get_info(f.w, ids[i], &info[i]), 0);
    }
    assert_int_equal(event_loop_run_once(f.loop, 200), 0); /* they start */
    worker_destroy(f.w);
    f.w = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kill(info[i].pid, 0), -1); /* gone, reaped */
        assert_int_equal(errno, ESRCH);
        wait_group_gone(info[i].pid); /* and its group */
        if (info[i].limit_cgroup)
            assert_false(exists(info[i].cgroup));
        assert_string_equal(record_value(&f, ids[i], "outcome"), "killed: the worker stopped");
    }
    /* The loop runs on without them. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(event_loop_run_once(f.loop, 10), 0);
    fixture_close(&f);
}

/* The helper "rank": launches a container, reports its pid, waits to be
 * killed.  Runs in a forked child of the test. */
static void pdeathsig_rank(fixture *f, int fd) {
    alarm(60); /* never outlive a broken test */
    open_worker(f, NULL, NULL);
    outcome_rec r = {0};
    char *sleeper[] = {"/bin/sh", "-c", "echo ready; exec sleep 60", NULL};
    if (launch(f, "attempt_orphan", sleeper, 32, 0, &r) != 0)
        _exit(1);
    container_info info;
    container_get_info(f->w, "attempt_orphan", &info);
    char line[4096 + 64];
    int n = snprintf(line, sizeof(line), "%ld %s\n", (long)info.pid, info.cgroup);
    if (write(fd, line, (size_t)n) != n)
        _exit(1);
    for (;;)
        event_loop_run_once(f->loop, 1000);
}

static void test_rank_killed_takes_children(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, NULL, NULL);
    worker_destroy(f.w); /* the helper makes its own */
    config_destroy(f.cfg);
    f.w = NULL;
    f.cfg = NULL;
    /* This process adopts orphans, so it sees the container die. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t rank = fork();
    assert_true(rank >= 0);
    if (rank == 0) {
        close(p[0]);
        pdeathsig_rank(&f, p[1]);
    }
    close(p[1]);
    char line[4096 + 64] = "";
    FILE *in = fdopen(p[0], "r");
    assert_non_null(in);
    assert_non_null(fgets(line, sizeof(line), in));
    fclose(in);
    char cgroup[4096] = "";
    long child = strtol(line, NULL, 10);
    sscanf(line, "%*ld %4095s", cgroup);
    assert_true(child > 1);
    /* Killed once the command runs (before, the wrapper would see its
     * rank gone and exit 126 by itself). */
    int64_t end = clock_monotonic_ms() + WAIT_MS;
    while (strcmp(log_file(&f, "attempt_orphan", "stdout"), "ready\n") != 0 &&
           clock_monotonic_ms() < end)
        usleep(10000);
    assert_string_equal(log_file(&f, "attempt_orphan", "stdout"), "ready\n");
    assert_int_equal(kill(rank, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(rank, &status, 0), rank);
    /* The container dies with its rank (and comes to us to be reaped). */
    end = clock_monotonic_ms() + WAIT_MS;
    pid_t got = 0;
    while ((got = waitpid((pid_t)child, &status, WNOHANG)) == 0 && clock_monotonic_ms() < end)
        usleep(10000);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    assert_int_equal(got, (pid_t)child);
    if (!WIFSIGNALED(status))
        print_message("the orphan ended with status %#x: %s\n", status,
                      log_file(&f, "attempt_orphan", "stderr"));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    /* Its cgroup is left, empty: a new worker running the same attempt
     * replaces it. */
    open_worker(&f, NULL, NULL);
    if (cgroup[0] != '\0') {
        assert_true(exists(cgroup));
        test_rm_tree(f.run_dir);
        assert_int_equal(mkdir(f.run_dir, 0700), 0);
        outcome_rec r = {0};
        char *argv[] = {"true", NULL};
        assert_int_equal(launch(&f, "attempt_orphan", argv, 32, 0, &r), 0);
        run_until(&f, &r.calls, 1);
        assert_int_equal(r.o.result, CONTAINER_SUCCEEDED);
        assert_false(exists(cgroup));
    }
    fixture_close(&f);
}

/* ---- the cgroup probe, on fake hierarchies ------------------------------ */

static void put(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_cgroup_fake_hierarchies(void **state) {
    (void)state;
    char root[64] = "/tmp/container-cgroup.XXXXXX", dir[256], self[300], path[4096], err[256];
    assert_non_null(mkdtemp(root));
    snprintf(self, sizeof(self), "%s/self", root);
    container_cgroups cg;
    /* Nothing there. */
    put(root, "self", "0::/\n");
    container_cgroup_probe(root, self, &cg);
    assert_int_equal(cg.version, 0);
    snprintf(dir, sizeof(dir), "no cgroup memory controller under %s", root);
    assert_string_equal(cg.why, dir);
    /* v2: the memory controller at the root, the rank in /job. */
    put(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
    put(root, "self", "0::/job\n");
    snprintf(dir, sizeof(dir), "%s/job", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    put(dir, "cgroup.subtree_control", "cpu memory\n");
    container_cgroup_probe(root, self, &cg);
    assert_int_equal(cg.version, 2);
    snprintf(path, sizeof(path), "%s/job/ember", root);
    assert_string_equal(cg.base, path);
    assert_string_equal(slurp(cg.base, "cgroup.subtree_control"), "+memory");
    assert_int_equal(
        container_cgroup_create(&cg, "a_1", 64 << 20, path, sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(slurp(path, "memory.max"), "67108864");
    assert_int_equal(container_cgroup_oom_kills(&cg, path), 0);
    put(path, "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n");
    assert_int_equal(container_cgroup_oom_kills(&cg, path), 1);
    /* One of that name with something in it is a live one. */
    assert_int_equal(
        container_cgroup_create(&cg, "a_1", 1 << 20, dir, sizeof(dir), err, sizeof(err)),
        EMBER_EEXIST);
    /* v1: the memory controller's own mount, the rank in /batch/7. */
    test_rm_tree(root);
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(dir, sizeof(dir), "%s/memory", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    put(dir, "memory.limit_in_bytes", "9223372036854771712\n");
    put(root, "self", "5:cpu,cpuacct:/\n4:memory:/batch/7\n0::/\n");
    container_cgroup_probe(root, self, &cg);
    assert_int_equal(cg.version, 0); /* its cgroup is not there */
    snprintf(path, sizeof(path), "this process's memory cgroup %s/memory/batch/7 is not there",
             root);
    assert_string_equal(cg.why, path);
    snprintf(dir, sizeof(dir), "%s/memory/batch", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    strcat(dir, "/7");
    assert_int_equal(mkdir(dir, 0755), 0);
    put(dir, "memory.limit_in_bytes", "9223372036854771712\n");
    container_cgroup_probe(root, self, &cg);
    assert_int_equal(cg.version, 1);
    snprintf(path, sizeof(path), "%s/memory/batch/7/ember", root);
    assert_string_equal(cg.base, path);
    assert_int_equal(
        container_cgroup_create(&cg, "a_2", 3 << 20, path, sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(slurp(path, "memory.limit_in_bytes"), "3145728");
    put(path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    assert_int_equal(container_cgroup_oom_kills(&cg, path), 2);
    /* Removal: what the kernel's cgroupfs would do once files vanish. */
    put(path, "cgroup.procs", "");
    assert_int_equal(container_cgroup_remove(path), EMBER_EIO); /* files: not a real cgroup */
    test_rm_tree(path);
    assert_int_equal(container_cgroup_remove(path), 0); /* gone already: fine */
    container_cgroup_release(&cg);
    assert_false(exists(cg.base));
    test_rm_tree(root);
}

/* ---- the wrapper's command line ----------------------------------------- */

static void test_exec_argv(void **state) {
    (void)state;
    char *cmd[] = {"sh", "-c", "exit 0", NULL};
    container_exec_plan plan = {.parent = 42,
                                .cpus = "0-1",
                                .cgroup_procs = "/cg/cgroup.procs",
                                .rlimit_as = 0,
                                .argv = cmd};
    char **argv;
    assert_int_equal(container_exec_argv(&plan, &argv), 0);
    const char *want[] = {"ember",
                          "task",
                          "--exec-wrapper",
                          "--parent",
                          "42",
                          "--cpus",
                          "0-1",
                          "--cgroup-procs",
                          "/cg/cgroup.procs",
                          "--",
                          "sh",
                          "-c",
                          "exit 0",
                          NULL};
    for (size_t i = 0; want[i] != NULL; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[13]);
    container_exec_argv_free(argv);
    plan = (container_exec_plan){.parent = 7, .rlimit_as = 1048576, .argv = cmd};
    assert_int_equal(container_exec_argv(&plan, &argv), 0);
    assert_string_equal(argv[5], "--rlimit-as");
    assert_string_equal(argv[6], "1048576");
    assert_string_equal(argv[7], "--");
    container_exec_argv_free(argv);
    char *empty[] = {NULL};
    plan.argv = empty;
    assert_int_equal(container_exec_argv(&plan, &argv), EMBER_EINVAL);
    /* The wrapper refuses a command line it does not know. */
    char *bad[] = {"--parent", "x", "--", "true", NULL};
    assert_int_equal(container_exec_main(4, bad), CONTAINER_EXEC_USAGE);
    char *no_cmd[] = {"--parent", "1", "--", NULL};
    assert_int_equal(container_exec_main(3, no_cmd), CONTAINER_EXEC_USAGE);
}

/* `hog MB`: maps and touches MB megabytes (outside ASan's allocator,
 * so nothing is reported as leaked), then says so. */
static int hog(long mb) {
    for (long i = 0; i < mb; i++) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "hog: no memory after %ld MB\n", i);
            return 1;
        }
        memset(p, 1, 1 << 20);
    }
    printf("hog: %ld MB\n", mb);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "task") == 0 && strcmp(argv[2], "--exec-wrapper") == 0)
        return container_exec_main(argc - 3, argv + 3);
    if (argc == 3 && strcmp(argv[1], "hog") == 0)
        return hog(strtol(argv[2], NULL, 10));
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_argv),
        cmocka_unit_test(test_cgroup_fake_hierarchies),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_files_env_and_dir),
        cmocka_unit_test(test_cpusets_and_books),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_sigkill),
        cmocka_unit_test(test_progress_keeps_alive),
        cmocka_unit_test(test_memory_cgroup),
        cmocka_unit_test(test_memory_rlimit),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_destroy_kills_all),
        cmocka_unit_test(test_rank_killed_takes_children),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
