/* log.h -- one log per process.
 *
 * A cluster rank logs to <run-dir>/logs/rank-N.log; the CLI logs nothing
 * unless asked.  Lines carry the wall time, the rank and a level.  Logging
 * is only called from the event-loop thread, so it takes no lock. */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdio.h>

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
} log_level;

/* Opens path for appending (creating it 0644) and sends every later line
 * there; tag is written on each line (e.g. "rank 3").  Returns 0 or
 * EMBER_EIO.  Until it is called, or after log_close(), lines go to
 * stderr when their level is WARN or above. */
int log_open(const char *path, const char *tag);

/* Closes the log file opened by log_open(); safe to call twice. */
void log_close(void);

/* Lowest level written (default INFO). */
void log_set_level(log_level level);

void log_printf(log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) log_printf(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) log_printf(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(...) log_printf(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_ERROR(...) log_printf(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
