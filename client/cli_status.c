/* cli_status.c -- `ember status` and `ember cluster stop`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/run_dir.h"

#define CLI_STOP_WAIT_MS 60000

static const char status_usage[] =
    "Usage: ember status\n"
    "One screen on the running cluster: its id, state, start and uptime, the\n"
    "primary's host, and how many core and task nodes are live or dead.\n";

static const char stop_usage[] =
    "Usage: ember cluster stop [--no-wait]\n"
    "Stops the cluster: every rank ends its work and exits. Waits for the\n"
    "cluster's status file and exits with the cluster's exit status, unless\n"
    "--no-wait.\n";

int cli_status(cli_env *env, int argc, char **argv) {
    if (argc == 2 && cli_is_help(argv[1])) {
        fputs(status_usage, stdout);
        return 0;
    }
    if (argc > 1) {
        cli_error("status takes no arguments (got '%s')", argv[1]);
        return 2;
    }
    StatusRequest rq = STATUS_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_STATUS_REQUEST;
    req.status_request = &rq;
    ClientMessage *resp;
    if (cli_request(env, &req, CLIENT_MESSAGE__BODY_STATUS_RESPONSE, &resp, NULL) != 0)
        return 1;
    const StatusResponse *s = resp->status_response;
    int64_t up = (s->now_ms - s->started_ms) / 1000;
    char started[64];
    clock_format_wall(s->started_ms, started, sizeof(started));
    printf("Cluster:     %s\n", s->cluster_id);
    printf("State:       %s\n", s->state);
    printf("Started:     %s\n", started);
    printf("Uptime:      %lldh %02lldm %02llds\n", (long long)(up / 3600),
           (long long)(up / 60 % 60), (long long)(up % 60));
    printf("Primary:     rank 0 on %s\n", s->primary_host);
    printf("Ranks:       %u\n", s->world_size);
    printf("Core nodes:  %u live, %u dead\n", s->core_live, s->core_dead);
    printf("Task nodes:  %u live, %u dead\n", s->task_live, s->task_dead);
    if (s->not_registered > 0)
        printf("Starting:    %u node(s) not registered yet\n", s->not_registered);
    client_message__free_unpacked(resp, NULL);
    return 0;
}

int cli_cluster_stop(cli_env *env, int argc, char **argv) {
    int wait = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-wait")) {
            wait = 0;
        } else if (cli_is_help(argv[i])) {
            fputs(stop_usage, stdout);
            return 0;
        } else {
            cli_error("cluster stop: unknown option '%s' (known: --no-wait)", argv[i]);
            return 2;
        }
    }
    StopRequest rq = STOP_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_STOP_REQUEST;
    req.stop_request = &rq;
    ClientMessage *resp;
    ember_client *client;
    if (cli_request(env, &req, CLIENT_MESSAGE__BODY_STOP_RESPONSE, &resp, &client) != 0)
        return 1;
    printf("Stopping cluster %s\n", ember_client_cluster_id(client));
    ember_client_close(client);
    client_message__free_unpacked(resp, NULL);
    if (!wait)
        return 0;
    /* The primary writes the status file last; wait for it (same host). */
    int64_t deadline = clock_monotonic_ms() + CLI_STOP_WAIT_MS;
    int code;
    while (run_dir_read_status(env->run_dir, &code) != EMBER_OK) {
        if (clock_monotonic_ms() > deadline) {
            cli_error("the cluster did not write its status file within %d s",
                      CLI_STOP_WAIT_MS / 1000);
            return 1;
        }
        usleep(20000);
    }
    printf("Cluster stopped: exit status %d\n", code);
    return code; /* scripts see the cluster's own exit status */
}
