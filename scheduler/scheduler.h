/* scheduler.h -- the primary's resource manager and job service (YARN's
 * ResourceManager with the MapReduce masters inside it).
 *
 * It keeps the node pool (scheduler/node_pool.h), the queues
 * (scheduler/queue_set.h) and one master per job (scheduler/job_master.h),
 * serves the gateway's job requests (NewJobId, SubmitJob, JobStatus,
 * JobList, KillJob, QueueList), routes the workers' AttemptStatus and
 * FetchFailure to their job, and hands free room to jobs: after every
 * event and on each tick, each live node with room is offered to the
 * queues, the queue furthest below its capacity share first (never past
 * its maximum share), and within a queue to its jobs in submission order
 * (FIFO).  Pure logic like the masters: messages leave through the host's
 * callbacks and time comes from its clocks, so unit tests drive it whole. */
#ifndef EMBER_SCHEDULER_H
#define EMBER_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"
#include "cluster.pb-c.h"
#include "job_master.h"

typedef struct {
    int (*send)(void *arg, int rank, const RankMessage *msg);
    void (*reply)(void *arg, uint64_t conn, const ClientMessage *msg);
    void (*reply_error)(void *arg, uint64_t conn, int code, const char *message);
    /* The rack of a host, or NULL when the cluster has no rack map. */
    const char *(*rack_of_host)(void *arg, const char *hostname);
    int64_t (*now_mono)(void *arg);
    int64_t (*now_wall)(void *arg);
    /* Removes an HDFS path and what is under it (a job's staging
     * directory when no cleanup attempt will); NULL: nothing is removed. */
    void (*remove_path)(void *arg, const char *path);
    void *arg;
} scheduler_host;

typedef struct {
    const char *secret;       /* the cluster secret: job tokens derive from it */
    const char *gateway_host; /* given to tasks */
    uint32_t gateway_port;
    int64_t cluster_start_ms;  /* wall clock: job ids carry it in ms (YARN's) */
    int locality_delay;        /* ember.scheduler.locality.delay */
    const char *capacity_file; /* yarn.scheduler.capacity.file ("" = one FIFO queue) */
    scheduler_host host;
} scheduler_options;

typedef struct scheduler scheduler;

/* Strings in opts are copied.  A bad capacity file is EMBER_ECONFIG with
 * the reason in err. */
int scheduler_create(const scheduler_options *opts, scheduler **out, char *err, size_t errlen);
void scheduler_destroy(scheduler *s); /* accepts NULL */

/* A node registered or heartbeated (live, with this offer; rack NULL
 * without a rack map), or was lost. */
void scheduler_node_up(scheduler *s, int rank, const char *hostname, const char *rack,
                       uint32_t vcores, uint64_t memory_mb);
void scheduler_node_lost(scheduler *s, int rank);

/* AttemptStatus and FetchFailure from a LIVE rank (the caller fences). */
void scheduler_on_rank_message(scheduler *s, int source, const RankMessage *msg);

/* A job request from an authenticated client who is `user`.  The request
 * stays the caller's (a submitted job is taken out of it); the answer
 * goes through host.reply / host.reply_error. */
void scheduler_on_request(scheduler *s, uint64_t conn, const char *user, ClientMessage *req);

/* Periodic work (speculation) and a scheduling pass. */
void scheduler_tick(scheduler *s);

/* For the gateway: the token of job_id and its user when the job is PREP
 * or RUNNING; EMBER_ENOENT for an unknown job, EMBER_ESTATE for one that
 * is over.  *user points into the scheduler. */
int scheduler_job_auth(scheduler *s, const char *job_id, uint8_t token[JOB_TOKEN_LEN],
                       const char **user);

/* HMAC-SHA256(secret, "job:" + job_id). */
int scheduler_job_token(const char *secret, const char *job_id, uint8_t token[JOB_TOKEN_LEN]);

/* The master of job_id, or NULL (tests, reports). */
job_master *scheduler_find_job(const scheduler *s, const char *job_id);

#endif
