/* cli.c -- `ember`: the command-line entry point.
 *
 *   ember [--run-dir DIR] COMMAND [ARGS]
 * `ember cluster ...` without "stop" is a cluster rank (cluster_main.c);
 * every other command is a client of a running cluster, found through
 * --run-dir, then $EMBER_RUN_DIR, then ./ember-run. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster/cluster_main.h"
#include "common/error.h"
#include "worker/container_exec.h"

static void cli_usage(FILE *f) {
    fprintf(f,
            "usage: ember [--run-dir DIR] COMMAND [ARGS]\n"
            "\n"
            "Cluster:\n"
            "  cluster [options]      run a cluster rank (under mpirun; see 'ember cluster --help')\n"
            "  cluster stop           stop the cluster; exits with the cluster's exit status\n"
            "  status                 one-screen summary of the cluster\n"
            "  dfsadmin -report       nodes, their roles, capacity and last contact\n"
            "  dfsadmin -safemode get|enter|leave|wait\n"
            "  dfsadmin -decommission NODE\n"
            "                         copy a core node's blocks elsewhere, then retire it\n"
            "  dfsadmin -recommission NODE\n"
            "                         take a (being) decommissioned node back to Normal\n"
            "  node -list [-all | -states STATE,...] [-showDetails]\n"
            "                         the nodes' workers: state, containers, vcores and memory\n"
            "  fsck PATH [-list-corruptfileblocks | [-move | -delete] [-openforwrite]\n"
            "            [-files] [-blocks] [-locations]]\n"
            "                         block health under PATH (HEALTHY or CORRUPT)\n"
            "  debug recoverLease -path PATH [-retries N]\n"
            "                         close a file its writer left open (lease recovery)\n"
            "  getconf -confKey KEY   the value of a configuration key (-D and --conf apply)\n"
            "  getconf -namenodes     the host of the running cluster's primary\n"
            "  version                ember's version and what it was built with\n"
            "\n"
            "MapReduce (local mode: the job runs in this process):\n"
            "  run EXAMPLE ARGS...    a built-in example (wordcount) on HDFS or file:// paths\n"
            "  jar LIB.so ARGS...     a job library written to include/ember/mapreduce.h\n"
            "  streaming -input IN -output OUT -mapper CMD [-reducer CMD|NONE] ...\n"
            "                         Hadoop Streaming: any commands as mapper and reducer\n"
            "\n"
            "MapReduce jobs on the cluster (Hadoop's `mapred job` spellings):\n"
            "  job -list [all]        running and waiting jobs (all: finished ones too)\n"
            "  job -status JOB        progress, counters, each attempt's node, cores and why\n"
            "  job -kill JOB          kill a job\n"
            "  job -logs JOB [ATTEMPT]\n"
            "                         the attempts' diagnostics and stderr tails\n"
            "  queue -list            the scheduler's queues\n"
            "\n"
            "File system:\n"
            "  dfs -COMMAND ...       hadoop fs verbs: -ls, -mkdir, -mv, -rm, -stat, ...\n"
            "                         (see 'ember dfs -help')\n"
            "\n"
            "The cluster is found through --run-dir, then $EMBER_RUN_DIR, then ./ember-run.\n");
}

void cli_error(const char *fmt, ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ember: %s\n", line); /* one write: whole lines from -t's threads */
}

int cli_request(cli_env *env, ClientMessage *req, ClientMessage__BodyCase expect,
                ClientMessage **resp, ember_client **client_out) {
    char err[512];
    ember_client *client;
    int rc = ember_client_connect(env->run_dir, CLI_TIMEOUT_MS, &client, err, sizeof(err));
    if (rc != EMBER_OK) {
        cli_error("%s", err);
        return 1;
    }
    rc = ember_client_call(client, req, resp, err, sizeof(err));
    if (rc == EMBER_OK && (*resp)->body_case != expect) {
        client_message__free_unpacked(*resp, NULL);
        snprintf(err, sizeof(err), "unexpected answer from the cluster");
        rc = EMBER_EPROTO;
    }
    if (rc != EMBER_OK) {
        cli_error("%s", err);
        ember_client_close(client);
        return 1;
    }
    if (client_out != NULL)
        *client_out = client;
    else
        ember_client_close(client);
    return 0;
}

int cli_fetch_report(cli_env *env, ClientMessage **resp) {
    ReportRequest rq = REPORT_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_REPORT_REQUEST;
    req.report_request = &rq;
    return cli_request(env, &req, CLIENT_MESSAGE__BODY_REPORT_RESPONSE, resp, NULL);
}

int cli_is_help(const char *arg) {
    return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "-help");
}

void cli_format_bytes(uint64_t bytes, char *buf, size_t buflen) {
    static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, buflen, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, buflen, "%.2f %s", v, units[u]);
}

int main(int argc, char **argv) {
    cli_env env = {.run_dir = ember_client_default_run_dir()};
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--run-dir")) {
            if (i + 1 >= argc) {
                cli_error("option '--run-dir' needs a value");
                return 2;
            }
            env.run_dir = argv[i + 1];
            setenv("EMBER_RUN_DIR", env.run_dir, 1); /* `ember cluster` reads it too */
            i += 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_usage(stdout);
            return 0;
        } else {
            cli_error("unknown option '%s' (see 'ember --help')", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        cli_usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int cargc = argc - i;
    char **cargv = argv + i;
    if (!strcmp(cmd, "cluster")) {
        if (cargc > 1 && !strcmp(cargv[1], "stop"))
            return cli_cluster_stop(&env, cargc - 1, cargv + 1);
        if (cargc == 2 && cli_is_help(cargv[1])) { /* no MPI needed for that */
            cluster_main_usage(stdout);
            return 0;
        }
        return cluster_main(cargc, cargv);
    }
    /* The first moments of a task container (worker/container_exec.h). */
    if (!strcmp(cmd, "task") && cargc > 1 && !strcmp(cargv[1], "--exec-wrapper"))
        return container_exec_main(cargc - 2, cargv + 2);
    if (!strcmp(cmd, "task"))
        return cli_task(&env, cargc, cargv);
    if (!strcmp(cmd, "status"))
        return cli_status(&env, cargc, cargv);
    if (!strcmp(cmd, "dfs") || !strcmp(cmd, "fs"))
        return cli_dfs(&env, cargc, cargv);
    if (!strcmp(cmd, "fsck"))
        return cli_fsck(&env, cargc, cargv);
    if (!strcmp(cmd, "dfsadmin"))
        return cli_dfsadmin(&env, cargc, cargv);
    if (!strcmp(cmd, "node"))
        return cli_node(&env, cargc, cargv);
    if (!strcmp(cmd, "debug"))
        return cli_debug(&env, cargc, cargv);
    if (!strcmp(cmd, "getconf"))
        return cli_getconf(&env, cargc, cargv);
    if (!strcmp(cmd, "jar"))
        return cli_jar(&env, cargc, cargv);
    if (!strcmp(cmd, "run"))
        return cli_run(&env, cargc, cargv);
    if (!strcmp(cmd, "streaming"))
        return cli_streaming(&env, cargc, cargv);
    if (!strcmp(cmd, "job"))
        return cli_job_admin(&env, cargc, cargv);
    if (!strcmp(cmd, "queue"))
        return cli_queue(&env, cargc, cargv);
    if (!strcmp(cmd, "version"))
        return cli_version(&env, cargc, cargv);
    if (!strcmp(cmd, "help") || cli_is_help(cmd)) {
        cli_usage(stdout);
        return 0;
    }
    cli_error("unknown command '%s' (see 'ember --help')", cmd);
    return 2;
}
