/* queue_set.c -- reading the capacity queue file (see queue_set.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "queue_set.h"

#define QUEUE_SET_MAX 64

struct queue_set {
    sched_queue queues[QUEUE_SET_MAX];
    size_t count;
};

size_t queue_set_count(const queue_set *qs) { return qs->count; }

const sched_queue *queue_set_at(const queue_set *qs, size_t i) {
    return i < qs->count ? &qs->queues[i] : NULL;
}

int queue_set_find(const queue_set *qs, const char *name) {
    for (size_t i = 0; i < qs->count; i++)
        if (strcmp(qs->queues[i].name, name) == 0)
            return (int)i;
    return -1;
}

void queue_set_destroy(queue_set *qs) { free(qs); }

/* A percentage 0..100 from text; -1 when it is not one. */
static double queue_set_percent(const char *text) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || (*end != '\0' && strcmp(end, "%") != 0) || v < 0 || v > 100)
        return -1;
    return v;
}

/* One non-comment line "NAME CAPACITY [MAXIMUM]" into qs. */
static int queue_set_parse_line(queue_set *qs, char *line, char *why, size_t whylen) {
    char *save = NULL;
    char *name = strtok_r(line, " \t", &save);
    char *cap = strtok_r(NULL, " \t", &save);
    char *max = strtok_r(NULL, " \t", &save);
    if (name == NULL)
        return EMBER_OK; /* blank */
    if (cap == NULL || strtok_r(NULL, " \t", &save) != NULL) {
        snprintf(why, whylen, "expected 'NAME CAPACITY [MAXIMUM]'");
        return EMBER_ECONFIG;
    }
    if (strlen(name) >= QUEUE_NAME_MAX || queue_set_find(qs, name) >= 0) {
        snprintf(why, whylen, "queue name '%s' is too long or repeated", name);
        return EMBER_ECONFIG;
    }
    double c = queue_set_percent(cap), m = max != NULL ? queue_set_percent(max) : 100;
    if (c < 0 || m < 0 || m < c) {
        snprintf(why, whylen,
                 "queue %s: capacity and maximum must be percentages with "
                 "capacity <= maximum <= 100",
                 name);
        return EMBER_ECONFIG;
    }
    if (qs->count == QUEUE_SET_MAX) {
        snprintf(why, whylen, "more than %d queues", QUEUE_SET_MAX);
        return EMBER_ECONFIG;
    }
    sched_queue *q = &qs->queues[qs->count++];
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->capacity = c / 100.0;
    q->maximum = m / 100.0;
    return EMBER_OK;
}

static int queue_set_read(queue_set *qs, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return EMBER_EIO;
    }
    char line[1024], why[256];
    int rc = EMBER_OK, lineno = 0;
    while (rc == EMBER_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "#\r\n")] = '\0';
        rc = queue_set_parse_line(qs, line, why, sizeof(why));
        if (rc != EMBER_OK)
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
    }
    fclose(f);
    if (rc != EMBER_OK)
        return rc;
    double sum = 0;
    for (size_t i = 0; i < qs->count; i++)
        sum += qs->queues[i].capacity;
    if (qs->count == 0 || sum < 0.999 || sum > 1.001) {
        snprintf(err, errlen, "%s: the queues' capacities add up to %.1f%%, not 100%%", path,
                 sum * 100);
        return EMBER_ECONFIG;
    }
    return EMBER_OK;
}

int queue_set_load(const char *path, queue_set **out, char *err, size_t errlen) {
    queue_set *qs = calloc(1, sizeof(*qs));
    if (qs == NULL)
        return EMBER_ENOMEM;
    if (path == NULL || path[0] == '\0') {
        snprintf(qs->queues[0].name, QUEUE_NAME_MAX, "default");
        qs->queues[0].capacity = 1.0;
        qs->queues[0].maximum = 1.0;
        qs->count = 1;
        *out = qs;
        return EMBER_OK;
    }
    int rc = queue_set_read(qs, path, err, errlen);
    if (rc != EMBER_OK) {
        free(qs);
        return rc;
    }
    *out = qs;
    return EMBER_OK;
}
