/* clock.c -- monotonic and wall clocks in milliseconds (see clock.h). */
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

static int64_t clock_read_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_monotonic_ms(void) { return clock_read_ms(CLOCK_MONOTONIC); }

int64_t clock_wall_ms(void) { return clock_read_ms(CLOCK_REALTIME); }

void clock_format_wall(int64_t wall_ms, char *buf, size_t buflen) {
    if (wall_ms <= 0) {
        snprintf(buf, buflen, "never");
        return;
    }
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (strftime(buf, buflen, "%a %b %d %H:%M:%S %Z %Y", &tm) == 0 && buflen > 0)
        buf[0] = '\0';
}
