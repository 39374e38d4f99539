/* job_master.h -- one MapReduce job's master on the primary (Hadoop's
 * MRAppMaster, without its own process): the job's tasks and their
 * attempts, where each attempt runs and why, retries, speculation,
 * commits, map output events, counters and the job's history.
 *
 * Pure logic driven by events -- a node's offer of room, an attempt's
 * status, a fetch failure, a lost node, a clock tick, a kill -- whose
 * actions are RankMessages handed to env->send (LaunchAttempt,
 * KillAttempt, CommitResponse, MapOutputEvents, JobFinished).  Time comes
 * from env's clock, so the unit tests drive it without MPI or sleeping.
 * The states, transitions and invariants are in job_master.c's header. */
#ifndef EMBER_JOB_MASTER_H
#define EMBER_JOB_MASTER_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "job.pb-c.h"
#include "node_pool.h"

#define JM_LOCALITY_DELAY_DEFAULT 40 /* YARN's node-locality-delay */

#define JOB_TOKEN_LEN 32

typedef struct {
    /* Sends msg to rank (the caller's mpi_link); msg is the sender's. */
    int (*send)(void *arg, int rank, const RankMessage *msg);
    int64_t (*now_mono)(void *arg); /* ms, for durations */
    int64_t (*now_wall)(void *arg); /* ms since the epoch, for reports */
    /* The rack of a split's host name, or NULL when the cluster has no
     * rack map (then nothing is rack-local). */
    const char *(*rack_of_host)(void *arg, const char *hostname);
    /* Removes an HDFS path with what is under it (NULL: none): the
     * staging directory of a job that ends with no cleanup attempt. */
    void (*remove_path)(void *arg, const char *path);
    void *arg;
    node_pool *pool;          /* shared with the resource manager */
    const char *gateway_host; /* where tasks reach HDFS */
    uint32_t gateway_port;
    uint8_t token[JOB_TOKEN_LEN]; /* the job token */
    int locality_delay;           /* missed scheduling chances before giving up node-local;
                                   * -1: JM_LOCALITY_DELAY_DEFAULT capped at the live nodes */
} job_master_env;

typedef struct job_master job_master;

/* A master for job, which it takes (freed with the master).  The job's
 * keys are read here; a value that is not a number where one is wanted
 * is EMBER_EINVAL with the reason in err (job is freed then too). */
int job_master_create(JobDescription *job, const job_master_env *env, job_master **out, char *err,
                      size_t errlen);
void job_master_destroy(job_master *jm); /* accepts NULL */

const JobDescription *job_master_job(const job_master *jm);
JobState job_master_state(const job_master *jm);
int job_master_done(const job_master *jm); /* SUCCEEDED, FAILED or KILLED */

/* Whether some task of the job waits for a container. */
int job_master_wants(const job_master *jm);

/* The node `rank` has room: the master launches at most one attempt there
 * (booking it in the pool) and returns 1, or 0 when it wants nothing
 * there now (a missed scheduling chance for delay scheduling). */
int job_master_offer(job_master *jm, int rank);

/* The news of an attempt of this job, from the worker at rank source. */
void job_master_on_status(job_master *jm, int source, const AttemptStatus *st);
void job_master_on_fetch_failure(job_master *jm, int source, const FetchFailure *ff);

/* rank was declared dead. */
void job_master_node_lost(job_master *jm, int rank);

/* Periodic work: speculation of stragglers. */
void job_master_tick(job_master *jm);

/* Kills the job (`ember job -kill`): EMBER_ESTATE once it is over. */
int job_master_kill(job_master *jm, const char *why);

/* What the job holds now: running containers and their vcores. */
uint32_t job_master_containers(const job_master *jm);
uint32_t job_master_vcores(const job_master *jm);
uint64_t job_master_memory(const job_master *jm);

/* Launches so far (all kinds), for tests and the queue report. */
uint32_t job_master_launches(const job_master *jm);

/* The job's report (with every task and attempt when with_tasks); free
 * with job_master_report_free(). */
JobReport *job_master_report(const job_master *jm, int with_tasks);
void job_master_report_free(JobReport *r);

/* The history record (JSON text, malloc'd, the caller's). */
char *job_master_history(const job_master *jm);

#endif
