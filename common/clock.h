/* clock.h -- the two clocks ember reads.
 *
 * Deadlines, timeouts and heartbeat ages use the monotonic clock, which
 * never jumps; anything shown to a person or written to a file uses the
 * wall clock.  Both are in milliseconds. */
#ifndef EMBER_CLOCK_H
#define EMBER_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_monotonic_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms(void);

/* Formats a wall-clock time as Hadoop prints it ("Sun Nov 22 02:14:37 UTC
 * 2026") into buf; writes "never" for 0. */
void clock_format_wall(int64_t wall_ms, char *buf, size_t buflen);

#endif
