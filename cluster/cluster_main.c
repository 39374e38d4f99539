/* cluster_main.c -- start-up of a cluster rank (see cluster_main.h).
 *
 * Reads as the ordered list of what a rank does:
 *   1. MPI_Init_thread (FUNNELED: only the loop thread calls MPI)
 *   2. command line + configuration (every rank parses the same arguments;
 *      only rank 0 prints errors)
 *   3. rank 0 checks the run directory is free and shares its verdict
 *      (MPI_Ibcast with a deadline); every rank learns which ranks share
 *      its host (MPI_Iallgather of host names, the same deadline); then
 *      run directory, pid file, log
 *   4. topology (hwloc: the machine, or a synthetic or XML one), the
 *      workers' offer checked on it, and data directories
 *   5. event loop, then primary_run() or node_run()
 *   6. MPI_Finalize, bounded by a watchdog (see cluster_finalize())
 * Rank 0 writes the status file for every outcome, failures to start
 * included, unless another live cluster owns the run directory.  The
 * two exchanges in step 3 are the only collectives: a dead rank would
 * hang any collective made once the cluster runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <mpi.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_main.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/leak_check.h"
#include "common/log.h"
#include "common/run_dir.h"
#include "ember/client.h"
#include "node.h"
#include "primary.h"
#include "rank_context.h"
#include "role.h"
#include "worker/worker.h"

#define CLUSTER_START_TIMEOUT_MS 60000
#define CLUSTER_FINALIZE_TIMEOUT_S 5
#define CLUSTER_HOST_NAME_MAX 256 /* bytes of a host name in the start-time exchange */

static volatile sig_atomic_t cluster_exit_status;

static void cluster_on_finalize_alarm(int sig) { _exit(cluster_exit_status); }

/* MPI_Finalize with a deadline.  Open MPI's finalize ends in a runtime
 * fence; after a rank was SIGKILLed it usually returns, but now and then
 * (seen about one run in ten with two ranks killed at once) every
 * survivor waits in it forever.  The status file is already written, so a
 * rank whose finalize outlives the deadline leaves with _exit(status). */
static void cluster_finalize(int status) {
    cluster_exit_status = status;
    struct sigaction sa = {.sa_handler = cluster_on_finalize_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarm(CLUSTER_FINALIZE_TIMEOUT_S);
    leak_check_pause(); /* Open MPI's (common/leak_check.h) */
    MPI_Finalize();
    leak_check_resume();
    alarm(0);
}

typedef struct {
    const char *run_dir;
    const char *conf;
    const char *bind;
    int core_nodes;
    int help;
} cluster_args;

void cluster_main_usage(FILE *f) {
    fprintf(f,
            "usage: mpirun --enable-recovery -np N ember cluster [options]\n"
            "  --core-nodes N     ranks 1..N are core nodes (default: every non-primary rank)\n"
            "  --run-dir DIR      run directory (default: ./ember-run)\n"
            "  --conf FILE        configuration file of 'key = value' lines\n"
            "  --bind ADDR        client gateway address (default: 127.0.0.1)\n"
            "  -D key=value       set a configuration key (repeatable)\n");
}

/* Parses argv into args and cfg: the file given by --conf first, then the
 * -D definitions in order, then --bind.  On error writes a one-line message
 * into err. */
static int cluster_parse_args(int argc, char **argv, cluster_args *args, config *cfg, char *err,
                              size_t errlen) {
    const char *defines[argc > 0 ? argc : 1];
    int ndefines = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            args->help = 1;
            return EMBER_OK;
        }
        if (!strncmp(a, "-D", 2) && a[2] != '\0') {
            defines[ndefines++] = a + 2;
            continue;
        }
        int takes_value = !strcmp(a, "--core-nodes") || !strcmp(a, "--run-dir") ||
                          !strcmp(a, "--conf") || !strcmp(a, "--bind") || !strcmp(a, "-D");
        if (!takes_value) {
            snprintf(err, errlen, "unknown option '%s' (see 'ember cluster --help')", a);
            return EMBER_EUSAGE;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "option '%s' needs a value", a);
            return EMBER_EUSAGE;
        }
        const char *value = argv[++i];
        if (!strcmp(a, "--core-nodes")) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno || *end || end == value || n < 0 || n > 1000000) {
                snprintf(err, errlen, "--core-nodes needs a non-negative number, not '%s'", value);
                return EMBER_EUSAGE;
            }
            args->core_nodes = (int)n;
        } else if (!strcmp(a, "--run-dir")) {
            args->run_dir = value;
        } else if (!strcmp(a, "--conf")) {
            args->conf = value;
        } else if (!strcmp(a, "--bind")) {
            args->bind = value;
        } else {
            defines[ndefines++] = value;
        }
    }
    int rc;
    if (args->conf != NULL && (rc = config_load_file(cfg, args->conf, err, errlen)) != EMBER_OK)
        return rc;
    for (int i = 0; i < ndefines; i++)
        if ((rc = config_apply_define(cfg, defines[i], err, errlen)) != EMBER_OK)
            return rc;
    if (args->bind != NULL &&
        (rc = config_set(cfg, "ember.client.bind", args->bind, err, errlen)) != EMBER_OK)
        return rc;
    const char *bind = config_get_string(cfg, "ember.client.bind");
    unsigned char addr[16];
    if (inet_pton(AF_INET, bind, addr) != 1 && inet_pton(AF_INET6, bind, addr) != 1) {
        snprintf(err, errlen, "bind address '%s' is not a numeric IPv4 or IPv6 address", bind);
        return EMBER_EUSAGE;
    }
    return EMBER_OK;
}

/* Creates <root>/node-<rank> under each configured root; fills dirs. */
static void cluster_prepare_data_dirs(rank_context *ctx) {
    ctx->data_dirs[0] = '\0';
    if (ctx->role != NODE_ROLE__ROLE_CORE)
        return;
    const char *conf = config_get_string(ctx->cfg, "dfs.datanode.data.dir");
    char defroot[4096];
    if (conf[0] == '\0') {
        run_dir_path(ctx->run_dir, "data", defroot, sizeof(defroot));
        conf = defroot;
    }
    char *copy = strdup(conf);
    if (copy == NULL)
        return;
    size_t off = 0;
    char *save = NULL;
    for (char *root = strtok_r(copy, ",", &save); root != NULL; root = strtok_r(NULL, ",", &save)) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/node-%d", root, ctx->rank);
        mkdir(root, 0755);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            LOG_WARN("cannot create data directory %s: %s", dir, strerror(errno));
        int n = snprintf(ctx->data_dirs + off, sizeof(ctx->data_dirs) - off, "%s%s",
                         off ? "," : "", dir);
        if (n < 0 || (size_t)n >= sizeof(ctx->data_dirs) - off)
            break;
        off += (size_t)n;
    }
    free(copy);
}

/* Fills ctx->public_addr: the address published for the gateway
 * (cluster.json) and the data port (RegisterNode.data_host), which
 * clients and other ranks connect to by number.  A numeric bind address
 * is its own; a wildcard one (0.0.0.0, ::) is reached on another host at
 * this host's address, the first getaddrinfo() gives for its name (IPv4
 * first for 0.0.0.0).  An unresolvable name is published as it is, with
 * a warning: connections to it fail with a clear error. */
static void cluster_resolve_public_addr(rank_context *ctx) {
    int v4 = !strcmp(ctx->bind_addr, "0.0.0.0");
    snprintf(ctx->public_addr, sizeof(ctx->public_addr), "%s", ctx->bind_addr);
    if (!v4 && strcmp(ctx->bind_addr, "::") != 0)
        return;
    snprintf(ctx->public_addr, sizeof(ctx->public_addr), "%s", ctx->hostname);
    struct addrinfo hints = {.ai_family = v4 ? AF_INET : AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(ctx->hostname, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        LOG_WARN("bind address %s: cannot resolve this host's name '%s' (%s); publishing the name",
                 ctx->bind_addr, ctx->hostname, gai_strerror(rc));
        return;
    }
    getnameinfo(res->ai_addr, res->ai_addrlen, ctx->public_addr, sizeof(ctx->public_addr), NULL,
                0, NI_NUMERICHOST);
    freeaddrinfo(res);
}

/* Waits for req until the start deadline.  Returns EMBER_ETIMEDOUT when
 * it passes: the request (and its buffers) then stay MPI's. */
static int cluster_wait_start(MPI_Request *req) {
    int64_t deadline = clock_monotonic_ms() + CLUSTER_START_TIMEOUT_MS;
    for (;;) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done)
            return EMBER_OK;
        if (clock_monotonic_ms() > deadline)
            return EMBER_ETIMEDOUT;
        usleep(1000);
    }
}

/* Shares rank 0's start verdict (0: go, else the exit status) with every
 * rank.  One of the two collectives ember makes, both before the cluster
 * exists and non-blocking with a deadline, so a rank that died during
 * start-up makes the others give up instead of hanging. */
static int cluster_share_verdict(int *verdict) {
    MPI_Request req;
    if (MPI_Ibcast(verdict, 1, MPI_INT, 0, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return EMBER_EIO;
    return cluster_wait_start(&req); /* a timeout leaks the request: MPI owns it */
}

/* The second start-time collective: which world ranks share this rank's
 * host, of which the workers (core and task ranks, by role_assign()) go
 * into ctx->host_workers, ascending, this rank among them when it is one
 * (malloc'ed: cluster_main() frees it).  Ranks are on one host when
 * their host names are equal, as Open MPI's MPI_COMM_TYPE_SHARED groups
 * them by node name (a simulated host of the multi-host tests has a UTS
 * name of its own); MPI_Comm_split_type has no non-blocking form, so
 * the names are gathered with MPI_Iallgather and the same deadline.
 * Returns 0, EMBER_ETIMEDOUT, EMBER_EIO or EMBER_ENOMEM. */
static int cluster_share_hosts(rank_context *ctx, int core_nodes) {
    size_t world = (size_t)ctx->world_size;
    char mine[CLUSTER_HOST_NAME_MAX] = "";
    snprintf(mine, sizeof(mine), "%s", ctx->hostname);
    char *names = malloc(world * CLUSTER_HOST_NAME_MAX);
    ctx->host_workers = malloc(world * sizeof(*ctx->host_workers));
    if (names == NULL || ctx->host_workers == NULL) {
        free(names);
        return EMBER_ENOMEM;
    }
    MPI_Request req;
    if (MPI_Iallgather(mine, CLUSTER_HOST_NAME_MAX, MPI_CHAR, names, CLUSTER_HOST_NAME_MAX,
                       MPI_CHAR, MPI_COMM_WORLD, &req) != MPI_SUCCESS) {
        free(names);
        return EMBER_EIO;
    }
    int rc = cluster_wait_start(&req);
    if (rc != EMBER_OK)
        return rc; /* names is MPI's now: leaked */
    ctx->n_host_workers = 0;
    for (int r = 0; r < ctx->world_size; r++) {
        NodeRole role;
        if (strncmp(names + (size_t)r * CLUSTER_HOST_NAME_MAX, mine, CLUSTER_HOST_NAME_MAX) == 0 &&
            role_assign(r, ctx->world_size, core_nodes, &role) == EMBER_OK &&
            role != NODE_ROLE__ROLE_PRIMARY)
            ctx->host_workers[ctx->n_host_workers++] = r;
    }
    free(names);
    return EMBER_OK;
}

/* 1 when pid is a running process: a zombie (a killed primary whose
 * parent, mpirun, died too and which nobody has reaped yet) is not. */
static int cluster_pid_running(int pid) {
    if (pid <= 0 || pid == getpid() || kill(pid, 0) != 0)
        return 0;
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1; /* no /proc: trust kill() */
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *close_paren = strrchr(stat, ')'); /* "pid (comm) S ..." */
    return close_paren == NULL || close_paren[1] == '\0' || close_paren[2] != 'Z';
}

/* Rank 0's check before anything is written: another live cluster's
 * cluster.json in run_dir means the directory is busy. */
static int cluster_run_dir_busy(const char *run_dir, int *pid) {
    cluster_info old;
    char ignored[512];
    if (run_dir_read_info(run_dir, &old, ignored, sizeof(ignored)) != EMBER_OK)
        return 0;
    *pid = old.primary_pid;
    return cluster_pid_running(old.primary_pid);
}

int cluster_main(int argc, char **argv) {
    int provided, rank = 0, world = 1;
    int status = CLUSTER_EXIT_USAGE;
    int write_status = 0; /* rank 0 owns the status file of this run */
    config *cfg = NULL;
    event_loop *loop = NULL;
    topology *topo = NULL;
    char err[4608] = "";

    signal(SIGPIPE, SIG_IGN);
    leak_check_pause(); /* what Open MPI keeps (common/leak_check.h) */
    int init_rc = MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    leak_check_resume();
    if (init_rc != MPI_SUCCESS) {
        fprintf(stderr, "ember: MPI_Init_thread failed\n");
        return CLUSTER_EXIT_FAILED;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);

    cluster_args args = {.run_dir = ember_client_default_run_dir(),
                         .core_nodes = ROLE_CORE_NODES_DEFAULT};
    rank_context ctx = {.rank = rank, .world_size = world};
    int rc = config_create(&cfg);
    if (rc == EMBER_OK)
        rc = cluster_parse_args(argc, argv, &args, cfg, err, sizeof(err));
    if (rc == EMBER_OK && args.help) {
        if (rank == 0)
            cluster_main_usage(stdout);
        status = 0;
        goto out;
    }
    if (rc == EMBER_OK && role_core_count(world, args.core_nodes, &ctx.core_nodes) != EMBER_OK) {
        snprintf(err, sizeof(err), "--core-nodes %d is more than the %d non-primary ranks",
                 args.core_nodes, world - 1);
        rc = EMBER_EUSAGE;
    }
    if (rc == EMBER_OK && provided < MPI_THREAD_FUNNELED) {
        snprintf(err, sizeof(err), "the MPI library does not provide MPI_THREAD_FUNNELED");
        rc = EMBER_EINVAL;
        status = CLUSTER_EXIT_FAILED;
    }
    /* Every rank parsed the same arguments, so every rank agrees on a bad
     * command line without a message; only rank 0 says it. */
    if (rc != EMBER_OK) {
        if (rank == 0)
            fprintf(stderr, "ember: %s\n", err);
        write_status = run_dir_prepare(args.run_dir) == EMBER_OK &&
                       !cluster_run_dir_busy(args.run_dir, &(int){0});
        goto out;
    }

    status = CLUSTER_EXIT_FAILED;
    int verdict = 0;
    if (rank == 0) {
        int pid = 0;
        if (run_dir_prepare(args.run_dir) != EMBER_OK) {
            snprintf(err, sizeof(err), "cannot create run directory %s: %s", args.run_dir,
                     strerror(errno));
            verdict = CLUSTER_EXIT_FAILED;
        } else if (cluster_run_dir_busy(args.run_dir, &pid)) {
            snprintf(err, sizeof(err), "a cluster is already running in %s (primary pid %d)",
                     args.run_dir, pid);
            verdict = CLUSTER_EXIT_FAILED;
        } else {
            write_status = 1;
            run_dir_write_status(args.run_dir, -1, NULL);
        }
        if (verdict != 0)
            fprintf(stderr, "ember: %s\n", err);
    }
    if (cluster_share_verdict(&verdict) != EMBER_OK) {
        fprintf(stderr, "ember: rank %d: not every rank started within %d s\n", rank,
                CLUSTER_START_TIMEOUT_MS / 1000);
        snprintf(err, sizeof(err), "not every rank started");
        goto out;
    }
    if (verdict != 0)
        goto out;
    gethostname(ctx.hostname, sizeof(ctx.hostname) - 1);
    if ((rc = cluster_share_hosts(&ctx, args.core_nodes)) != EMBER_OK) {
        fprintf(stderr, "ember: rank %d: %s\n", rank,
                rc == EMBER_ETIMEDOUT ? "not every rank said its host in time"
                                      : "cannot learn which ranks share this host");
        snprintf(err, sizeof(err), "not every rank started");
        goto out;
    }
    ctx.run_dir = args.run_dir;
    ctx.cfg = cfg;
    role_assign(rank, world, args.core_nodes, &ctx.role);
    ctx.bind_addr = config_get_string(cfg, "ember.client.bind");

    char path[4096], tag[32];
    snprintf(tag, sizeof(tag), "rank %d", rank);
    snprintf(path, sizeof(path), "%s/logs/rank-%d.log", args.run_dir, rank);
    if (run_dir_prepare(args.run_dir) != EMBER_OK || log_open(path, tag) != EMBER_OK) {
        snprintf(err, sizeof(err), "rank %d cannot open its log %s: %s", rank, path,
                 strerror(errno));
        fprintf(stderr, "ember: %s\n", err);
        goto out;
    }
    run_dir_write_pid(args.run_dir, rank);
    const char *const *ignored;
    size_t nignored = config_ignored_keys(cfg, &ignored);
    for (size_t i = 0; i < nignored; i++) {
        LOG_WARN("%s is a Hadoop key that ember does not use: ignored", ignored[i]);
        if (rank == 0)
            fprintf(stderr, "ember: warning: %s is a Hadoop key that ember does not use: ignored\n",
                    ignored[i]);
    }
    cluster_resolve_public_addr(&ctx);
    rc = topology_load(config_get_string(cfg, "ember.topology.synthetic"),
                       config_get_string(cfg, "ember.topology.xml"), &topo, err, sizeof(err));
    if (rc != EMBER_OK) {
        LOG_ERROR("%s", err);
        if (rank == 0)
            fprintf(stderr, "ember: %s\n", err);
        goto out;
    }
    if (world > 1) /* every rank, so that rank 0 can say what the nodes would find */
        rc = worker_check_config(cfg, topo, err, sizeof(err));
    if (rc != EMBER_OK) {
        LOG_ERROR("%s", err);
        if (rank == 0)
            fprintf(stderr, "ember: %s\n", err);
        goto out;
    }
    ctx.topo = topo;
    topology_summarize(topo, &ctx.hw);
    cluster_prepare_data_dirs(&ctx);
    if (event_loop_create(&loop) != EMBER_OK) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    ctx.loop = loop;
    status = rank == 0 ? primary_run(&ctx) : node_run(&ctx);
    write_status = 0; /* primary_run() wrote it */

out:
    if (rank == 0 && write_status)
        run_dir_write_status(args.run_dir, status, err);
    event_loop_destroy(loop);
    topology_destroy(topo);
    free(ctx.host_workers);
    config_destroy(cfg);
    log_close();
    cluster_finalize(status);
    return status;
}
