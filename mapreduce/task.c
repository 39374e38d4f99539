/* task.c -- the job API's functions (include/ember/mapreduce.h), counters
 * and the grouping loop (see task.h). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "task.h"

void mr_counters_add(mr_counters *c, const char *group, const char *name, int64_t delta) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0 && strcmp(c->v[i].group, group) == 0) {
            c->v[i].value += delta;
            return;
        }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 16;
        mr_counter *v = realloc(c->v, ncap * sizeof(*v));
        if (v == NULL)
            return; /* a counter lost, never the task */
        c->v = v;
        c->cap = ncap;
    }
    mr_counter *n = &c->v[c->n];
    n->group = strdup(group);
    n->name = strdup(name);
    if (n->group == NULL || n->name == NULL) {
        free(n->group);
        free(n->name);
        return;
    }
    n->value = delta;
    c->n++;
}

int64_t mr_counters_get(const mr_counters *c, const char *group, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0 && strcmp(c->v[i].group, group) == 0)
            return c->v[i].value;
    return 0;
}

void mr_counters_free(mr_counters *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].group);
        free(c->v[i].name);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

int ember_emit(ember_task *task, const void *key, size_t key_len, const void *value,
               size_t value_len) {
    return task->emit(task->emit_arg, key, key_len, value, value_len);
}

void ember_counter_add(ember_task *task, const char *group, const char *name, int64_t delta) {
    if (task->counters != NULL && group != NULL && name != NULL)
        mr_counters_add(task->counters, group, name, delta);
}

const char *ember_conf(ember_task *task, const char *key) {
    return task->conf != NULL && key != NULL ? task->conf(task->conf_arg, key) : NULL;
}

uint32_t ember_task_number(const ember_task *task) { return task->number; }

int ember_task_is_map(const ember_task *task) { return task->is_map; }

void ember_progress(ember_task *task) { task->progress_ms = clock_monotonic_ms(); }

int ember_values_next(ember_values *v, const void **value, size_t *len) {
    if (v->ended)
        return 0;
    if (!v->unread) {
        int rc = v->in->next(v->in, &v->cur);
        if (rc == 1)
            v->records++;
        if (rc != 1 || v->group_cmp(v->cur.key, v->cur.key_len, v->gkey, v->gkey_len) != 0) {
            v->ended = 1;
            v->state = rc;
            return 0;
        }
    }
    v->unread = 0;
    *value = v->cur.value;
    *len = v->cur.value_len;
    return 1;
}

int ember_sum_u64(ember_task *task, const void *key, size_t key_len, ember_values *values) {
    uint64_t sum = 0, n;
    const void *v;
    size_t len;
    while (ember_values_next(values, &v, &len)) {
        if (len != sizeof(n)) {
            LOG_ERROR("ember_sum_u64: a value of %zu bytes (counts are 8)", len);
            return EMBER_EINVAL;
        }
        memcpy(&n, v, sizeof(n));
        sum += n;
    }
    return ember_emit(task, key, key_len, &sum, sizeof(sum));
}

void ember_key(ember_values *v, const void **key, size_t *len) {
    *key = v->cur.key;
    *len = v->cur.key_len;
}

int mr_values_last_group(const ember_values *v) { return v->ended && v->state != 1; }

int mr_group_each(kv_stream *in, ember_compare_fn group_cmp, ember_reduce_fn fn, ember_task *task,
                  mr_group_stats *stats) {
    uint8_t small[64]; /* the group's key, unless longer (a combine of one key is common) */
    ember_values v = {.in = in,
                      .group_cmp = group_cmp ? group_cmp : kv_compare_bytes,
                      .gkey = small, /* never NULL, even for empty keys */
                      .gkey_cap = sizeof(small)};
    uint64_t groups = 0;
    int rc = in->next(in, &v.cur);
    v.records = rc == 1;
    while (rc == 1) {
        if (v.cur.key_len > v.gkey_cap) {
            uint8_t *g = malloc(v.cur.key_len);
            if (g == NULL) {
                rc = EMBER_ENOMEM;
                break;
            }
            if (v.gkey != small)
                free(v.gkey);
            v.gkey = g;
            v.gkey_cap = v.cur.key_len;
        }
        if (v.cur.key_len > 0)
            memcpy(v.gkey, v.cur.key, v.cur.key_len);
        v.gkey_len = v.cur.key_len;
        v.unread = 1;
        v.ended = 0;
        groups++;
        if (fn(task, v.gkey, v.gkey_len, &v) != 0) {
            rc = EMBER_EINVAL;
            break;
        }
        const void *val;
        size_t len;
        while (ember_values_next(&v, &val, &len))
            ;
        rc = v.state;
    }
    if (v.gkey != small)
        free(v.gkey);
    if (stats != NULL)
        *stats = (mr_group_stats){.records = v.records, .groups = groups};
    return rc < 0 ? rc : EMBER_OK;
}
