/* cli_task.c -- `ember task --umbilical SOCK --attempt ID`: one task
 * attempt of a distributed job, run by a worker in a container
 * (mapreduce/task_process.h).  Not for users: the worker starts it, and
 * it ends with the exit status the worker reports. */
#include <signal.h>
#include <string.h>

#include "cli.h"
#include "mapreduce/task_process.h"

int cli_task(cli_env *env, int argc, char **argv) {
    (void)env;
    const char *sock = NULL, *attempt = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--umbilical"))
            sock = argv[i + 1];
        else if (!strcmp(argv[i], "--attempt"))
            attempt = argv[i + 1];
    }
    if (sock == NULL || attempt == NULL || argc != 5) {
        cli_error("usage: ember task --umbilical SOCKET --attempt ATTEMPT_ID "
                  "(run by a worker, not by hand)");
        return 2;
    }
    /* A streaming command that stops reading must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return task_process_main(sock, attempt);
}
