/* cli_dfsadmin.c -- `ember dfsadmin -report`, in Hadoop's layout;
 * `-safemode get|enter|leave|wait`; `-decommission NODE` and
 * `-recommission NODE` (HDFS does both through its exclude file and
 * -refreshNodes; here each is one request, and the namenode logs it).
 *
 * Core nodes are the datanodes ("Live datanodes (N):" / "Dead datanodes
 * (N):"); task nodes store nothing and follow under their own headings,
 * marked "Role: task".  Every node also shows what its worker offers task
 * containers and what running containers hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cluster/role.h"
#include "common/clock.h"
#include "ember/dfs.h"

static void dfsadmin_print_node(const NodeReport *n) {
    char cap[32], used[32], rem[32], mem[32], contact[64];
    cli_format_bytes(n->storage->capacity_bytes, cap, sizeof(cap));
    cli_format_bytes(n->storage->used_bytes, used, sizeof(used));
    cli_format_bytes(n->storage->remaining_bytes, rem, sizeof(rem));
    cli_format_bytes(n->hwloc->memory_bytes, mem, sizeof(mem));
    clock_format_wall(n->last_contact_ms, contact, sizeof(contact));
    double cap_d = n->storage->capacity_bytes ? (double)n->storage->capacity_bytes : 1.0;
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
        printf("Container Resources: <memory:%llu, vCores:%u> (%u of %u %s reserved for the "
               "rank)\n",
               (unsigned long long)res->memory_mb, res->vcores, res->reserved_units, res->units,
               res->pus_as_vcores ? "PUs" : "cores");
        printf("Containers Running: %u (<memory:%llu, vCores:%u> allocated)\n", res->containers,
               (unsigned long long)res->memory_used_mb, res->vcores_used);
    }
    if (n->role == NODE_ROLE__ROLE_CORE) {
        printf("Decommission Status : %s\n", n->admin_state[0] ? n->admin_state : "Normal");
        printf("Configured Capacity: %llu (%s)\n",
               (unsigned long long)n->storage->capacity_bytes, cap);
        printf("DFS Used: %llu (%s)\n", (unsigned long long)n->storage->used_bytes, used);
        printf("DFS Remaining: %llu (%s)\n", (unsigned long long)n->storage->remaining_bytes,
               rem);
        printf("DFS Used%%: %.2f%%\n", 100.0 * (double)n->storage->used_bytes / cap_d);
        printf("DFS Remaining%%: %.2f%%\n", 100.0 * (double)n->storage->remaining_bytes / cap_d);
        printf("Data Directories: %u (%u failed, %u full)\n", n->storage->data_dirs,
               n->storage->failed_dirs, n->storage->full_dirs);
    }
    printf("Last contact: %s\n\n", contact);
}

/* Prints the nodes of one role that are (not) live under a heading. */
static void dfsadmin_print_section(const ReportResponse *r, NodeRole role, int live,
                                   const char *heading) {
    int count = 0;
    for (size_t i = 0; i < r->n_nodes; i++)
        count += r->nodes[i]->role == role && (int)r->nodes[i]->live == live;
    printf("%s (%d):\n\n", heading, count);
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i]->role == role && (int)r->nodes[i]->live == live)
            dfsadmin_print_node(r->nodes[i]);
}

static int dfsadmin_report(cli_env *env) {
    ClientMessage *resp;
    if (cli_fetch_report(env, &resp) != 0)
        return 1;
    const ReportResponse *r = resp->report_response;
    uint64_t cap = 0, used = 0, rem = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        const NodeReport *n = r->nodes[i];
        if (n->role == NODE_ROLE__ROLE_CORE && n->live) {
            cap += n->storage->capacity_bytes;
            used += n->storage->used_bytes;
            rem += n->storage->remaining_bytes;
        }
    }
    char b1[32], b2[32], b3[32];
    cli_format_bytes(cap, b1, sizeof(b1));
    cli_format_bytes(used, b2, sizeof(b2));
    cli_format_bytes(rem, b3, sizeof(b3));
    printf("Configured Capacity: %llu (%s)\n", (unsigned long long)cap, b1);
    printf("DFS Remaining: %llu (%s)\n", (unsigned long long)rem, b3);
    printf("DFS Used: %llu (%s)\n", (unsigned long long)used, b2);
    printf("DFS Used%%: %.2f%%\n", cap ? 100.0 * (double)used / (double)cap : 0.0);
    printf("Primary: %s (rank 0, pid %u)\n", r->primary->hostname, r->primary->pid);
    printf("\n-------------------------------------------------\n");
    dfsadmin_print_section(r, NODE_ROLE__ROLE_CORE, 1, "Live datanodes");
    dfsadmin_print_section(r, NODE_ROLE__ROLE_CORE, 0, "Dead datanodes");
    dfsadmin_print_section(r, NODE_ROLE__ROLE_TASK, 1, "Live task nodes");
    dfsadmin_print_section(r, NODE_ROLE__ROLE_TASK, 0, "Dead task nodes");
    client_message__free_unpacked(resp, NULL);
    return 0;
}

/* -safemode get|enter|leave|wait, printing Hadoop's "Safe mode is ON". */
static int dfsadmin_safemode(cli_env *env, const char *what) {
    static const char *actions[] = {"get", "enter", "leave", "wait"};
    int action = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(what, actions[i]))
            action = i;
    if (action < 0) {
        cli_error("dfsadmin: -safemode takes get, enter, leave or wait, not '%s'", what);
        return 2;
    }
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
static int dfsadmin_decommission(cli_env *env, const char *node, int recommission) {
    const char *digits = strncmp(node, "node-", 5) == 0 ? node + 5 : node;
    const char *verb = recommission ? "-recommission" : "-decommission";
    char *end;
    long rank = strtol(digits, &end, 10);
    if (digits[0] < '0' || digits[0] > '9' || *end != '\0' || rank < 0 || rank > 1000000) {
        cli_error("dfsadmin: %s takes a core node as node-N or N (see -report), not '%s'", verb,
                  node);
        return 2;
    }
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

int cli_dfsadmin(cli_env *env, int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "-report"))
        return dfsadmin_report(env);
    if (argc == 3 && !strcmp(argv[1], "-safemode"))
        return dfsadmin_safemode(env, argv[2]);
    if (argc == 3 && !strcmp(argv[1], "-decommission"))
        return dfsadmin_decommission(env, argv[2], 0);
    if (argc == 3 && !strcmp(argv[1], "-recommission"))
        return dfsadmin_decommission(env, argv[2], 1);
    if (argc < 2)
        cli_error("dfsadmin needs a command: -report, -safemode get|enter|leave|wait, "
                  "-decommission NODE, -recommission NODE");
    else
        cli_error("dfsadmin: unknown command '%s' (known: -report, -safemode, -decommission, "
                  "-recommission)",
                  argv[1]);
    return 2;
}
