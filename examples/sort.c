/* sort.c -- Hadoop's Sort example as an ember job: the input's lines,
 * sorted.  `ember run sort IN... OUT`.
 *
 * An identity job: the map makes each line a key (with an empty value),
 * the framework sorts the keys, and the identity reduce writes them back,
 * one line each (TextOutputFormat writes a key with an empty value as the
 * key alone).  Lines compare as unsigned bytes, a line before any longer
 * line it begins (LC_ALL=C sort's order), and equal lines all stay.
 *
 * As Hadoop's Sort with its default partitioner, each part file is sorted
 * but the parts are not in order between them: the hash partitioner sends
 * a line to a reduce by its hash, not its rank.  With one reduce
 * (mapreduce.job.reduces=1, the default) part-r-00000 is the whole input
 * sorted; for a total order over many reduces see terasort.  With 0
 * reduces the maps write their lines unsorted (part-m-NNNNN). */
#include <stddef.h>

#include "ember/mapreduce.h"

/* key: the line's offset (unused); value: the line. */
static int sort_map(ember_task *task, const void *key, size_t key_len, const void *line,
                    size_t len) {
    (void)key, (void)key_len;
    return ember_emit(task, line, len, "", 0);
}

static const ember_job sort_job = {
    .abi = EMBER_JOB_ABI, .name = "sort", .map = sort_map, /* reduce NULL: identity */
};

const ember_job *ember_job_define(void) { return &sort_job; }
