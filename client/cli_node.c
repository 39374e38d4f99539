/* cli_node.c -- `ember node -list [-all | -states S,...] [-showDetails]`,
 * in the layout of YARN's `yarn node -list`.
 *
 * Every core and task node has a worker; the list shows each one's state
 * under YARN's names (NEW: not registered yet, RUNNING: live, LOST:
 * declared dead), its host and the containers running there, and with
 * -showDetails what its worker offers and what is allocated.  By default
 * only RUNNING nodes are listed, as YARN does; -all lists every node and
 * -states the nodes in the given states.  The primary runs no worker and
 * is not listed.  Node-Id is the node's name (node-N, as dfsadmin names
 * it); YARN's Node-Http-Address column is the node's host here: ember has
 * no per-node web server. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cluster/role.h"
#include "worker/worker_resources.h"

#define NODE_LIST_PATTERN "%16s\t%15s\t%17s\t%28s\n"

/* YARN's node states; ember reports the first three. */
static const char *const node_states[] = {"NEW",       "RUNNING",        "LOST",
                                          "UNHEALTHY", "DECOMMISSIONED", "DECOMMISSIONING",
                                          "REBOOTED",  "SHUTDOWN"};
#define NODE_STATE_COUNT (sizeof(node_states) / sizeof(node_states[0]))

typedef struct {
    int details;
    unsigned wanted; /* bit i: node_states[i] is listed */
} node_list_args;

static int node_state_index(const char *name) {
    for (size_t i = 0; i < NODE_STATE_COUNT; i++)
        if (strcasecmp(name, node_states[i]) == 0)
            return (int)i;
    return -1;
}

/* Adds the comma-separated states of list to args->wanted; 2 (bad usage,
 * one line said) for a name that is no state. */
static int node_parse_states(const char *list, node_list_args *args) {
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", list);
    char *save = NULL;
    for (char *s = strtok_r(copy, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save)) {
        while (*s == ' ')
            s++;
        if (*s == '\0')
            continue;
        int i = node_state_index(s);
        if (i < 0) {
            cli_error("node: the node state %s is invalid; the valid node states are NEW, "
                      "RUNNING, UNHEALTHY, DECOMMISSIONED, LOST, REBOOTED, DECOMMISSIONING, "
                      "SHUTDOWN",
                      s);
            return 2;
        }
        args->wanted |= 1u << i;
    }
    return 0;
}

static void node_print_details(const NodeReport *n) {
    const ContainerResources *r = n->resources;
    const char *unit = r->pus_as_vcores ? "PUs" : "cores";
    printf("Detailed Node Information :\n");
    printf("\tConfigured Resources : <memory:%llu, vCores:%u>\n", (unsigned long long)r->memory_mb,
           r->vcores);
    printf("\tAllocated Resources : <memory:%llu, vCores:%u>\n",
           (unsigned long long)r->memory_used_mb, r->vcores_used);
    char share[256];
    worker_resources_share_text(r, share, sizeof(share));
    printf("\tPlacement : %u of %u %s (%u reserved for the rank), %s%s%u NUMA nodes, %u "
           "packages\n",
           r->units - r->reserved_units, r->units, unit, r->reserved_units, share,
           share[0] ? ", " : "", n->hwloc->numa_nodes, n->hwloc->packages);
    printf("\tRole : %s\n", role_name(n->role));
}

static int node_list(cli_env *env, const node_list_args *args) {
    ClientMessage *resp;
    if (cli_fetch_report(env, &resp) != 0)
        return 1;
    const ReportResponse *r = resp->report_response;
    size_t total = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        int s = node_state_index(r->nodes[i]->state);
        total += s >= 0 && (args->wanted & (1u << s));
    }
    printf("Total Nodes:%zu\n", total);
    printf(NODE_LIST_PATTERN, "Node-Id", "Node-State", "Node-Host", "Number-of-Running-Containers");
    for (size_t i = 0; i < r->n_nodes; i++) {
        const NodeReport *n = r->nodes[i];
        int s = node_state_index(n->state);
        if (s < 0 || !(args->wanted & (1u << s)))
            continue;
        char id[32], containers[16];
        snprintf(id, sizeof(id), "node-%u", n->rank);
        snprintf(containers, sizeof(containers), "%u", n->resources->containers);
        printf(NODE_LIST_PATTERN, id, n->state, n->hostname[0] ? n->hostname : "-", containers);
        if (args->details)
            node_print_details(n);
    }
    client_message__free_unpacked(resp, NULL);
    return 0;
}

static void node_usage(FILE *f) {
    fprintf(f, "usage: ember node -list [-all | -states STATE,...] [-showDetails]\n"
               "  -list          the nodes that run containers (RUNNING ones by default)\n"
               "  -all           every node, whatever its state\n"
               "  -states S,...  the nodes in these states (NEW, RUNNING, LOST, ...)\n"
               "  -showDetails   what each node offers containers and what is allocated\n");
}

int cli_node(cli_env *env, int argc, char **argv) {
    node_list_args args = {0};
    int list = 0, all = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-list")) {
            list = 1;
        } else if (!strcasecmp(a, "-all")) {
            all = 1;
        } else if (!strcmp(a, "-showDetails")) {
            args.details = 1;
        } else if (!strcmp(a, "-states")) {
            if (i + 1 >= argc) {
                cli_error("node: -states needs a comma-separated list of node states");
                return 2;
            }
            if (node_parse_states(argv[++i], &args) != 0)
                return 2;
        } else if (!strcmp(a, "-help") || !strcmp(a, "--help")) {
            node_usage(stdout);
            return 0;
        } else {
            cli_error("node: unknown option '%s' (see 'ember node -help')", a);
            return 2;
        }
    }
    if (!list) {
        cli_error("node: -list is the command (see 'ember node -help')");
        return 2;
    }
    if (all)
        args.wanted = (1u << NODE_STATE_COUNT) - 1;
    else if (args.wanted == 0)
        args.wanted = 1u << node_state_index("RUNNING");
    return node_list(env, &args);
}
