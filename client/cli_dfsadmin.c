/* cli_dfsadmin.c -- `ember dfsadmin -report [-live] [-dead]
 * [-decommissioning]`, in Hadoop's layout; `-safemode
 * get|enter|leave|wait`; `-decommission NODE` and `-recommission NODE`
 * (HDFS does both through its exclude file and -refreshNodes; here each
 * is one request, and the namenode logs it); `-help [CMD]`.
 *
 * Core nodes are the datanodes ("Live datanodes (N):" / "Dead datanodes
 * (N):"); task nodes store nothing and follow under their own headings,
 * marked "Role: task".  Every node also shows what its worker offers task
 * containers and what running containers hold.  The summary's capacities are the live core
 * nodes' (Present Capacity = DFS Used + DFS Remaining, as HDFS computes
 * it; a node's Non DFS Used is what its file systems hold besides DFS
 * Used and DFS Remaining: other files and reserved space), and its
 * "Replicated Blocks" counts are the namenode's block map.
 *
 * A known command with a bad argument says what is wrong with the
 * argument, then prints that command's usage line (exit 2), as Hadoop's
 * DFSAdmin does; an unknown command is one line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cluster/role.h"
#include "common/clock.h"
#include "worker/worker_resources.h"
#include "ember/dfs.h"

/* One dfsadmin command: its usage (after the name) and its help. */
typedef struct {
    const char *name;
    const char *usage;
    const char *help;
} dfsadmin_command;

static const dfsadmin_command dfsadmin_commands[] = {
    {"-report", "[-live] [-dead] [-decommissioning]",
     "Reports basic filesystem information and statistics: the live core nodes'\n"
     "\tcapacity, DFS used and remaining, the namenode's under-replicated,\n"
     "\tcorrupt and missing blocks, then each node (core nodes as datanodes,\n"
     "\ttask nodes apart). Optional flags may be used to filter the list of\n"
     "\tdisplayed nodes: -live, -dead, -decommissioning.\n"},
    {"-safemode", "<enter | leave | get | wait>",
     "Safe mode maintenance command. Safe mode is a Namenode state in which it\n"
     "\t1. does not accept changes to the name space (read-only)\n"
     "\t2. does not replicate or delete blocks.\n"
     "\tSafe mode is entered automatically at Namenode startup, and leaves safe\n"
     "\tmode automatically when the datanodes have reported a replica of every\n"
     "\tblock. 'wait' waits (at most 60 s) until safe mode is off.\n"},
    {"-decommission", "<node>",
     "Copies every block of a core node (node-N or N, as -report names it) to\n"
     "\tother nodes, then marks it Decommissioned (HDFS does this through its\n"
     "\texclude file and -refreshNodes).\n"},
    {"-recommission", "<node>",
     "Takes a decommissioning or decommissioned core node back to Normal.\n"},
    {"-help", "[cmd]",
     "Displays help for the given command or all commands if none is\n"
     "\tspecified.\n"},
};

#define DFSADMIN_NCOMMANDS (sizeof(dfsadmin_commands) / sizeof(dfsadmin_commands[0]))

static const dfsadmin_command *dfsadmin_find(const char *name) {
    for (size_t i = 0; i < DFSADMIN_NCOMMANDS; i++)
        if (!strcmp(dfsadmin_commands[i].name, name) ||
            (name[0] != '-' && !strcmp(dfsadmin_commands[i].name + 1, name)))
            return &dfsadmin_commands[i];
    return NULL;
}

static void dfsadmin_usage_all(FILE *f) {
    fputs("Usage: ember dfsadmin\n", f);
    for (size_t i = 0; i < DFSADMIN_NCOMMANDS; i++)
        fprintf(f, "\t[%s %s]\n", dfsadmin_commands[i].name, dfsadmin_commands[i].usage);
}

/* What is wrong with a known command's argument, then its usage line, as
 * Hadoop's DFSAdmin prints them; returns 2. */
static int dfsadmin_bad_argument(const dfsadmin_command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int dfsadmin_bad_argument(const dfsadmin_command *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ember: dfsadmin: %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "Usage: ember dfsadmin [%s %s]\n", c->name, c->usage);
    return 2;
}

/* What a node's file systems hold besides DFS Used and DFS Remaining
 * (other files, reserved space): Hadoop's Non DFS Used. */
static uint64_t dfsadmin_non_dfs_used(const StorageReport *st) {
    uint64_t known = st->used_bytes + st->remaining_bytes;
    return st->capacity_bytes > known ? st->capacity_bytes - known : 0;
}

/* "NAME: N (1.5 GB)" */
static void dfsadmin_print_bytes(const char *name, uint64_t n) {
    char b[32];
    cli_format_bytes(n, b, sizeof(b));
    printf("%s: %llu (%s)\n", name, (unsigned long long)n, b);
}

static void dfsadmin_print_node(const NodeReport *n) {
    char mem[32], contact[64];
    cli_format_bytes(n->hwloc->memory_bytes, mem, sizeof(mem));
    clock_format_wall(n->last_contact_ms, contact, sizeof(contact));
    const StorageReport *st = n->storage;
    double cap_d = st->capacity_bytes ? (double)st->capacity_bytes : 1.0;
    printf("Name: node-%u (rank %u)\n", n->rank, n->rank);
    printf("Hostname: %s\n", n->hostname[0] ? n->hostname : "(never registered)");
    printf("Rank: %u\n", n->rank);
    printf("Role: %s%s\n", role_name(n->role),
           n->role == NODE_ROLE__ROLE_TASK ? " (compute only, stores no HDFS blocks)" : "");
    if (n->role == NODE_ROLE__ROLE_CORE)
        printf("Rack: %s\n", n->rack[0] ? n->rack : "/default-rack");
    printf("PID: %u\n", n->pid);
    printf("Cores: %u (%u PUs, %u NUMA nodes, %u packages)\n", n->hwloc->cores, n->hwloc->pus,
           n->hwloc->numa_nodes, n->hwloc->packages);
    printf("Memory: %llu (%s)\n", (unsigned long long)n->hwloc->memory_bytes, mem);
    if (n->role != NODE_ROLE__ROLE_PRIMARY) {
        const ContainerResources *res = n->resources;
        char share[256];
        worker_resources_share_text(res, share, sizeof(share));
        printf("Container Resources: <memory:%llu, vCores:%u> (%u of %u %s reserved for the "
               "rank%s%s)\n",
               (unsigned long long)res->memory_mb, res->vcores, res->reserved_units, res->units,
               res->pus_as_vcores ? "PUs" : "cores", share[0] ? "; " : "", share);
        printf("Containers Running: %u (<memory:%llu, vCores:%u> allocated)\n", res->containers,
               (unsigned long long)res->memory_used_mb, res->vcores_used);
    }
    if (n->role == NODE_ROLE__ROLE_CORE) {
        printf("Decommission Status : %s\n", n->admin_state[0] ? n->admin_state : "Normal");
        dfsadmin_print_bytes("Configured Capacity", st->capacity_bytes);
        dfsadmin_print_bytes("DFS Used", st->used_bytes);
        dfsadmin_print_bytes("Non DFS Used", dfsadmin_non_dfs_used(st));
        dfsadmin_print_bytes("DFS Remaining", st->remaining_bytes);
        printf("DFS Used%%: %.2f%%\n", 100.0 * (double)st->used_bytes / cap_d);
        printf("DFS Remaining%%: %.2f%%\n", 100.0 * (double)st->remaining_bytes / cap_d);
        printf("Data Directories: %u (%u failed, %u full)\n", st->data_dirs, st->failed_dirs,
               st->full_dirs);
    }
    printf("Last contact: %s\n\n", contact);
}

/* -report's filters (none: live and dead). */
enum { DFSADMIN_LIVE = 1, DFSADMIN_DEAD = 2, DFSADMIN_DECOMMISSIONING = 4 };

/* Whether n belongs under a heading: its role, and live (1), dead (0) or
 * decommissioning (-1). */
static int dfsadmin_in_section(const NodeReport *n, NodeRole role, int live) {
    if (n->role != role)
        return 0;
    if (live < 0)
        return n->live && !strcmp(n->admin_state, "Decommission in progress");
    return (int)n->live == live;
}

/* Prints the nodes of one section under its heading. */
static void dfsadmin_print_section(const ReportResponse *r, NodeRole role, int live,
                                   const char *heading) {
    int count = 0;
    for (size_t i = 0; i < r->n_nodes; i++)
        count += dfsadmin_in_section(r->nodes[i], role, live);
    printf("%s (%d):\n\n", heading, count);
    for (size_t i = 0; i < r->n_nodes; i++)
        if (dfsadmin_in_section(r->nodes[i], role, live))
            dfsadmin_print_node(r->nodes[i]);
}

/* The summary: the live core nodes' storage, then the namenode's block
 * totals, as Hadoop's report opens. */
static void dfsadmin_print_summary(const ReportResponse *r) {
    uint64_t cap = 0, used = 0, rem = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        const NodeReport *n = r->nodes[i];
        if (n->role == NODE_ROLE__ROLE_CORE && n->live) {
            cap += n->storage->capacity_bytes;
            used += n->storage->used_bytes;
            rem += n->storage->remaining_bytes;
        }
    }
    uint64_t present = used + rem; /* HDFS: capacity less non-DFS use */
    dfsadmin_print_bytes("Configured Capacity", cap);
    dfsadmin_print_bytes("Present Capacity", present);
    dfsadmin_print_bytes("DFS Remaining", rem);
    dfsadmin_print_bytes("DFS Used", used);
    printf("DFS Used%%: %.2f%%\n", present ? 100.0 * (double)used / (double)present : 0.0);
    BlockHealth none = BLOCK_HEALTH__INIT;
    const BlockHealth *b = r->blocks != NULL ? r->blocks : &none;
    printf("Replicated Blocks:\n");
    printf("\tUnder replicated blocks: %llu\n", (unsigned long long)b->under_replicated);
    printf("\tBlocks with corrupt replicas: %llu\n", (unsigned long long)b->with_corrupt_replicas);
    printf("\tMissing blocks: %llu\n", (unsigned long long)b->missing);
    printf("\tMissing blocks (with replication factor 1): %llu\n",
           (unsigned long long)b->missing_replication_one);
    printf("Primary: %s (rank 0, pid %u)\n", r->primary->hostname, r->primary->pid);
}

static int dfsadmin_report(cli_env *env, int filter) {
    ClientMessage *resp;
    if (cli_fetch_report(env, &resp) != 0)
        return 1;
    const ReportResponse *r = resp->report_response;
    dfsadmin_print_summary(r);
    printf("\n-------------------------------------------------\n");
    int all = filter == 0;
    if (all || (filter & DFSADMIN_LIVE))
        dfsadmin_print_section(r, NODE_ROLE__ROLE_CORE, 1, "Live datanodes");
    if (all || (filter & DFSADMIN_DEAD))
        dfsadmin_print_section(r, NODE_ROLE__ROLE_CORE, 0, "Dead datanodes");
    if (filter & DFSADMIN_DECOMMISSIONING)
        dfsadmin_print_section(r, NODE_ROLE__ROLE_CORE, -1, "Decommissioning datanodes");
    if (all || (filter & DFSADMIN_LIVE))
        dfsadmin_print_section(r, NODE_ROLE__ROLE_TASK, 1, "Live task nodes");
    if (all || (filter & DFSADMIN_DEAD))
        dfsadmin_print_section(r, NODE_ROLE__ROLE_TASK, 0, "Dead task nodes");
    client_message__free_unpacked(resp, NULL);
    return 0;
}

/* -safemode get|enter|leave|wait, printing Hadoop's "Safe mode is ON". */
static int dfsadmin_safemode(cli_env *env, const dfsadmin_command *c, const char *what) {
    static const char *actions[] = {"get", "enter", "leave", "wait"};
    int action = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(what, actions[i]))
            action = i;
    if (action < 0)
        return dfsadmin_bad_argument(c, "takes enter, leave, get or wait, not '%s'", what);
    char err[512];
    ember_dfs *dfs;
    if (ember_dfs_connect(env->run_dir, &dfs, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return 1;
    }
    int on = 0, rc;
    int64_t deadline = clock_monotonic_ms() + 60000;
    for (;;) {
        rc = ember_dfs_safe_mode(dfs, action == 3 ? 0 : action, &on);
        if (rc != 0 || action != 3 || !on || clock_monotonic_ms() > deadline)
            break;
        usleep(100000);
    }
    if (rc != 0)
        cli_error("dfsadmin: %s", ember_dfs_last_error(dfs));
    else
        printf("Safe mode is %s\n", on ? "ON" : "OFF");
    ember_dfs_close(dfs);
    return rc != 0 || (action == 3 && on) ? 1 : 0;
}

/* -decommission NODE (node-N as -report names it, or the rank N): the
 * namenode copies the node's blocks elsewhere, then marks it
 * decommissioned; -report shows the progress.  -recommission NODE takes
 * it back to Normal.  A name that is not node-N or N is bad usage (2);
 * the namenode refuses a node that is not a core node, and recommissioning
 * a Normal one, with one line (1). */
static int dfsadmin_decommission(cli_env *env, const dfsadmin_command *c, const char *node,
                                 int recommission) {
    const char *digits = strncmp(node, "node-", 5) == 0 ? node + 5 : node;
    char *end;
    long rank = strtol(digits, &end, 10);
    if (digits[0] < '0' || digits[0] > '9' || *end != '\0' || rank < 0 || rank > 1000000)
        return dfsadmin_bad_argument(c, "takes a core node as node-N or N (see -report), not '%s'",
                                     node);
    DecommissionRequest m = DECOMMISSION_REQUEST__INIT;
    m.rank = (uint32_t)rank;
    m.recommission = recommission;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_DECOMMISSION;
    req.decommission = &m;
    ClientMessage *resp;
    if (cli_request(env, &req, CLIENT_MESSAGE__BODY_DFS_RESULT, &resp, NULL) != 0)
        return 1;
    client_message__free_unpacked(resp, NULL);
    if (recommission)
        printf("Recommissioned node-%ld: it is Normal again, takes new blocks, and its replicas "
               "count (surplus ones are deleted)\n",
               rank);
    else
        printf("Decommissioning node-%ld: its blocks are copied to other nodes first "
               "(see 'ember dfsadmin -report')\n",
               rank);
    return 0;
}

/* -help [CMD]: one command's help, or all of them. */
static int dfsadmin_help(int argc, char **argv) {
    const dfsadmin_command *one = argc > 2 ? dfsadmin_find(argv[2]) : NULL;
    if (argc > 2 && one == NULL) {
        cli_error("dfsadmin: -help: unknown command '%s'", argv[2]);
        dfsadmin_usage_all(stderr);
        return 2;
    }
    if (one == NULL) {
        fputs("ember dfsadmin performs DFS administrative commands.\n", stdout);
        dfsadmin_usage_all(stdout);
        fputc('\n', stdout);
    }
    for (size_t i = 0; i < DFSADMIN_NCOMMANDS; i++)
        if (one == NULL || one == &dfsadmin_commands[i])
            printf("%s %s:\t%s\n", dfsadmin_commands[i].name, dfsadmin_commands[i].usage,
                   dfsadmin_commands[i].help);
    return 0;
}

int cli_dfsadmin(cli_env *env, int argc, char **argv) {
    if (argc < 2) {
        cli_error("dfsadmin needs a command: -report, -safemode get|enter|leave|wait, "
                  "-decommission NODE, -recommission NODE");
        dfsadmin_usage_all(stderr);
        return 2;
    }
    if (cli_is_help(argv[1]))
        return dfsadmin_help(argc, argv);
    const dfsadmin_command *c = dfsadmin_find(argv[1]);
    if (c == NULL || argv[1][0] != '-') {
        cli_error("dfsadmin: unknown command '%s' (known: -report, -safemode, -decommission, "
                  "-recommission, -help)",
                  argv[1]);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            printf("%s %s:\t%s", c->name, c->usage, c->help);
            return 0;
        }
    if (!strcmp(c->name, "-report")) {
        int filter = 0;
        for (int i = 2; i < argc; i++) {
            int f = !strcmp(argv[i], "-live")              ? DFSADMIN_LIVE
                    : !strcmp(argv[i], "-dead")            ? DFSADMIN_DEAD
                    : !strcmp(argv[i], "-decommissioning") ? DFSADMIN_DECOMMISSIONING
                                                           : 0;
            if (f == 0)
                return dfsadmin_bad_argument(
                    c, "unknown argument '%s' (filters: -live, -dead, -decommissioning)", argv[i]);
            filter |= f;
        }
        return dfsadmin_report(env, filter);
    }
    if (argc != 3)
        return dfsadmin_bad_argument(c, argc < 3 ? "needs %s" : "takes one argument: %s", c->usage);
    if (!strcmp(c->name, "-safemode"))
        return dfsadmin_safemode(env, c, argv[2]);
    return dfsadmin_decommission(env, c, argv[2], !strcmp(c->name, "-recommission"));
}
