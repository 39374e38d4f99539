/* fault_injection.c -- the datanode's fault points (see
 * fault_injection.h).  Owns the parsed settings, read from the
 * environment at the first call and kept for the process's life. */
#include <stdlib.h>
#include <string.h>

#include "fault_injection.h"

#define FAULT_MAX_RANKS 64

static int loaded;
static int hold_ranks[FAULT_MAX_RANKS];
static int nhold;

/* Parses a comma-separated list of ranks into hold_ranks; anything that
 * is not a non-negative decimal number is skipped. */
static void fault_injection_load(void) {
    loaded = 1;
    const char *v = getenv("EMBER_FAULT_HOLD_FINALIZE");
    while (v != NULL && *v != '\0' && nhold < FAULT_MAX_RANKS) {
        char *end;
        long rank = strtol(v, &end, 10);
        if (end != v && rank >= 0 && rank < 1000000 && (*end == ',' || *end == '\0'))
            hold_ranks[nhold++] = (int)rank;
        v = strchr(v, ',');
        if (v != NULL)
            v++;
    }
}

int fault_injection_hold_finalize(int rank) {
    if (!loaded)
        fault_injection_load();
    for (int i = 0; i < nhold; i++)
        if (hold_ranks[i] == rank)
            return 1;
    return 0;
}
