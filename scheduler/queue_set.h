/* queue_set.h -- the scheduler's queues (YARN's CapacityScheduler leaf
 * queues, flattened).
 *
 * Without a capacity file there is one queue, "default", holding the
 * whole cluster: jobs run first come, first served (FIFO).  With
 * yarn.scheduler.capacity.file set, each line of that file is
 *     NAME CAPACITY [MAXIMUM]
 * in percent of the cluster's vcores, as Hadoop's
 * yarn.scheduler.capacity.root.NAME.capacity and .maximum-capacity are
 * (MAXIMUM defaults to 100); '#' starts a comment.  The capacities must
 * add up to 100, and CAPACITY <= MAXIMUM <= 100, as Hadoop checks.  A job
 * names its queue with mapreduce.job.queuename ("default" when unset). */
#ifndef EMBER_QUEUE_SET_H
#define EMBER_QUEUE_SET_H

#include <stddef.h>

#define QUEUE_NAME_MAX 64

typedef struct {
    char name[QUEUE_NAME_MAX];
    double capacity; /* guaranteed share, 0..1 */
    double maximum;  /* at most this share, capacity..1 */
} sched_queue;

typedef struct queue_set queue_set;

/* Loads path (NULL or "": the one FIFO queue).  A file that cannot be
 * read or breaks a rule above is EMBER_ECONFIG (EMBER_EIO when
 * unreadable) with "PATH:LINE: reason" in err. */
int queue_set_load(const char *path, queue_set **out, char *err, size_t errlen);
void queue_set_destroy(queue_set *qs); /* accepts NULL */

size_t queue_set_count(const queue_set *qs);
const sched_queue *queue_set_at(const queue_set *qs, size_t i);

/* The index of the queue called name, or -1. */
int queue_set_find(const queue_set *qs, const char *name);

#endif
