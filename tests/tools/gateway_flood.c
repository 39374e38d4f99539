/* gateway_flood.c -- holds many connections to the gateway open without
 * ever authenticating, for the gateway lock-out test (gateway_flood.sh).
 *
 *   gateway_flood RUN_DIR COUNT SECONDS RATE [SOURCE_ADDR]
 * opens COUNT connections to the cluster in RUN_DIR (from SOURCE_ADDR when
 * given, e.g. 127.0.0.2 on loopback), reads and drops whatever the gateway
 * sends (its challenges, its errors), and reopens every connection the
 * gateway closes, for SECONDS (or until SIGTERM): the first COUNT at once,
 * then at most RATE reopens a second.
 * Prints "ready" once COUNT connections were attempted and the gateway
 * closes no more of them a second than are reopened, and at the end
 * one line: connections opened, closed by the gateway, refused.  Bounded
 * in count (COUNT descriptors) and time (SECONDS). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/run_dir.h"

#define FLOOD_MAX 8192

static struct sockaddr_in flood_dest, flood_src;
static int flood_has_src;
static volatile sig_atomic_t flood_stop; /* SIGTERM: stop and report */

static void flood_on_signal(int sig) {
    (void)sig;
    flood_stop = 1;
}

/* A non-blocking connect; the socket or -1. */
static int flood_open(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (flood_has_src && bind(fd, (struct sockaddr *)&flood_src, sizeof(flood_src)) != 0) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&flood_dest, sizeof(flood_dest)) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: gateway_flood RUN_DIR COUNT SECONDS RATE [SOURCE_ADDR]\n");
        return 2;
    }
    int count = atoi(argv[2]);
    int64_t seconds = atoi(argv[3]);
    int rate = atoi(argv[4]);
    if (count <= 0 || count > FLOOD_MAX || seconds <= 0 || seconds > 600 || rate <= 0) {
        fprintf(stderr, "gateway_flood: COUNT 1..%d, SECONDS 1..600, RATE > 0\n", FLOOD_MAX);
        return 2;
    }
    cluster_info info;
    char err[512];
    if (run_dir_read_info(argv[1], &info, err, sizeof(err)) != EMBER_OK) {
        printf("cannot read the cluster's info: %s\n", err);
        return 1;
    }
    flood_dest.sin_family = AF_INET;
    flood_dest.sin_port = htons((uint16_t)info.port);
    if (inet_pton(AF_INET, info.host, &flood_dest.sin_addr) != 1) {
        printf("not an IPv4 gateway address: %s\n", info.host);
        return 1;
    }
    if (argc == 6) {
        flood_src.sin_family = AF_INET;
        flood_has_src = inet_pton(AF_INET, argv[5], &flood_src.sin_addr) == 1;
        if (!flood_has_src) {
            printf("bad source address %s\n", argv[5]);
            return 1;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)count + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)count + 64 ? rl.rlim_max : (rlim_t)count + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct pollfd *p = calloc((size_t)count, sizeof(*p));
    if (p == NULL)
        return 1;
    for (int i = 0; i < count; i++)
        p[i].fd = -1;
    long opened = 0, closed = 0, failed = 0;
    int ready = 0, steady = 0;
    int64_t ready_ms = 0, window_ms = 0;
    long window_closed = 0;
    int64_t start = clock_monotonic_ms(), end = start + seconds * 1000;
    uint8_t buf[4096];
    struct sigaction sa = {.sa_handler = flood_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    for (int64_t now = start; now < end && !flood_stop; now = clock_monotonic_ms()) {
        /* The first count at once, then reopen no faster than rate a second. */
        long allowed = count - (opened + failed);
        if (ready)
            allowed += (long)((now - ready_ms) * rate / 1000) + 1;
        for (int i = 0; i < count && allowed > 0; i++) {
            if (p[i].fd >= 0)
                continue;
            p[i].fd = flood_open();
            p[i].events = POLLIN;
            allowed--;
            if (p[i].fd >= 0)
                opened++;
            else
                failed++;
        }
        if (!ready && opened + failed >= count) {
            ready = 1;
            ready_ms = window_ms = now;
            window_closed = closed;
        }
        /* Steady once a second passes with no more closes than reopens
         * allow: the gateway got through the first burst. */
        if (ready && !steady && now - window_ms >= 1000) {
            if (closed - window_closed <= 2L * rate + 64) {
                printf("ready\n");
                fflush(stdout);
                steady = 1;
            }
            window_ms = now;
            window_closed = closed;
        }
        if (poll(p, (nfds_t)count, 10) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < count; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
                continue;
            close(p[i].fd); /* the gateway closed it (or refused it): reopen */
            p[i].fd = -1;
            closed++;
        }
    }
    for (int i = 0; i < count; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    free(p);
    printf("opened %ld connections, %ld closed by the gateway, %ld failed to open\n", opened,
           closed, failed);
    return 0;
}
