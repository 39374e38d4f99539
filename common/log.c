/* log.c -- per-process log file (see log.h).
 *
 * Each line is written with one fprintf and flushed, so a rank killed with
 * SIGKILL leaves every line it logged before the signal. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "error.h"
#include "log.h"

static FILE *log_file;
static char log_tag[32] = "ember";
static log_level log_min_level = LOG_LEVEL_INFO;

static const char *log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

int log_open(const char *path, const char *tag) {
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return EMBER_EIO;
    log_close();
    log_file = f;
    snprintf(log_tag, sizeof(log_tag), "%s", tag);
    return EMBER_OK;
}

void log_close(void) {
    if (log_file != NULL)
        fclose(log_file);
    log_file = NULL;
}

void log_set_level(log_level level) { log_min_level = level; }

void log_printf(log_level level, const char *fmt, ...) {
    if (level < log_min_level)
        return;
    FILE *out = log_file;
    if (out == NULL) {
        if (level < LOG_LEVEL_WARN)
            return;
        out = stderr;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(out, "%s.%03ld %s %-5s %s\n", stamp, (long)(tv.tv_usec / 1000),
            log_tag, log_level_names[level], msg);
    fflush(out);
}
