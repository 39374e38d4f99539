/* reduce_task.c -- see reduce_task.h. */
#include "reduce_task.h"

#include "common/error.h"
#include "merger.h"

typedef struct {
    const mr_record_sink *out;
    reduce_stats *stats;
} reduce_emitter;

static int reduce_emit(void *arg, const void *key, size_t key_len, const void *value,
                       size_t value_len) {
    reduce_emitter *e = arg;
    e->stats->output_records++;
    return e->out->write(e->out->arg, key, key_len, value, value_len);
}

/* No reduce: each value goes out under its own full key (which differs
 * within a group when the grouping comparator is coarser). */
static int reduce_identity(ember_task *task, const void *key, size_t key_len,
                           ember_values *values) {
    (void)key, (void)key_len;
    const void *v, *k;
    size_t vl, kl;
    while (ember_values_next(values, &v, &vl)) {
        ember_key(values, &k, &kl);
        int rc = ember_emit(task, k, kl, v, vl);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int reduce_run(const ember_job *job, ember_task *task, kv_stream **inputs, int k,
               const mr_record_sink *out, reduce_stats *stats) {
    *stats = (reduce_stats){0};
    reduce_emitter em = {.out = out, .stats = stats};
    task->emit = reduce_emit;
    task->emit_arg = &em;
    merger m;
    int rc = merger_init(&m, inputs, k, job->sort_compare);
    if (rc != EMBER_OK)
        return rc;
    ember_compare_fn group = job->group_compare != NULL ? job->group_compare : job->sort_compare;
    mr_group_stats read;
    rc = mr_group_each(&m.base, group, job->reduce != NULL ? job->reduce : reduce_identity, task,
                       &read);
    stats->input_records = read.records;
    stats->input_groups = read.groups;
    merger_free(&m);
    if (task->counters != NULL) {
        mr_counters_add(task->counters, MR_GROUP_TASK, "Reduce input groups",
                        (int64_t)stats->input_groups);
        mr_counters_add(task->counters, MR_GROUP_TASK, "Reduce input records",
                        (int64_t)stats->input_records);
        mr_counters_add(task->counters, MR_GROUP_TASK, "Reduce output records",
                        (int64_t)stats->output_records);
    }
    return rc;
}
