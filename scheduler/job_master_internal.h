/* job_master_internal.h -- the job master's records, shared by
 * job_master.c (state machines and events), job_placement.c (where and
 * what to launch, speculation) and job_report.c (reports, counters,
 * history).  Nothing outside scheduler/ includes it. */
#ifndef EMBER_JOB_MASTER_INTERNAL_H
#define EMBER_JOB_MASTER_INTERNAL_H

#include "job_master.h"

#define JM_ID_MAX 128

/* The master's job states (job_master.c's header has the table). */
typedef enum {
    JM_SETUP,      /* accepted; the setup attempt has not succeeded yet (PREP) */
    JM_RUNNING,    /* maps and reduces */
    JM_COMMITTING, /* every task succeeded: the commit cleanup */
    JM_ABORTING,   /* a task failed or the job was killed: the abort cleanup */
    JM_SUCCEEDED,
    JM_FAILED,
    JM_KILLED,
} jm_state;

/* Task states. */
typedef enum {
    TASK_NEW,       /* no attempt yet */
    TASK_SCHEDULED, /* an attempt launched and not running yet, or one wanted again */
    TASK_RUNNING,   /* an attempt runs (or asks to commit) */
    TASK_SUCCEEDED,
    TASK_FAILED, /* out of attempts */
    TASK_KILLED, /* the job ended before it did */
} task_state;

typedef struct {
    char id[JM_ID_MAX];
    uint32_t number;
    int rank;
    char hostname[256];
    AttemptState state;
    TaskPhase phase;
    float progress;
    int speculative;      /* a backup attempt */
    int booked;           /* holds its container in the pool's books */
    int kill_sent;        /* KillAttempt sent: it ends KILLED whatever it says */
    int commit_denied;    /* asked to commit and was told no */
    int counted_failure;  /* its end counts against maxattempts */
    const char *locality; /* static: "node-local", "rack-local", "off-switch" */
    uint32_t vcores;
    uint64_t memory_mb;
    int64_t launch_mono, end_mono;
    int64_t start_wall, finish_wall, shuffle_wall, merge_wall, reduce_wall;
    char *cpuset, *placement, *diagnostic, *log_tail, *memory_limit;
    Counter **counters; /* deep copies, owned */
    size_t n_counters;
    uint64_t map_output_bytes;
    uint32_t fetch_failures; /* a succeeded map: reduces that could not fetch it */
} jm_attempt;

typedef struct {
    TaskKind kind;
    uint32_t index;
    task_state state;
    jm_attempt *attempts;
    size_t n_attempts, cap_attempts;
    int successful;    /* index in attempts, or -1 */
    int committer;     /* the attempt allowed to commit, or -1 */
    uint32_t failures; /* attempts counted against maxattempts */
    int want_backup;   /* speculation asked for a second attempt */
} jm_task;

struct job_master {
    JobDescription *job;
    job_master_env env;
    jm_state state;
    JobState final;    /* ABORTING: the state the job ends in */
    int remove_output; /* abort: setup had made OUT */
    char diagnostic[8192];
    jm_task *maps;    /* job->n_splits */
    jm_task *reduces; /* job->reduces */
    jm_task setup, cleanup;
    uint32_t n_maps, n_reduces;
    uint32_t maps_done, reduces_done;
    /* the job's keys */
    uint32_t map_max_attempts, reduce_max_attempts, max_failures_per_node;
    double slowstart;
    int map_speculative, reduce_speculative;
    int64_t timeout_ms;
    /* delay scheduling: chances missed since the last node-local launch */
    int missed;
    /* map output events, append-only; the ranks that get them */
    MapOutputEvent **events;
    size_t n_events, cap_events;
    uint8_t *event_ranks; /* event_ranks[rank]: sent all events so far */
    int n_event_ranks;
    /* blacklisting: failed attempts per rank */
    uint32_t *node_failures;
    int n_node_failures;
    /* Job Counters */
    uint64_t launched_maps, launched_reduces, failed_maps, failed_reduces, killed_maps,
        killed_reduces, data_local, rack_local, other_local, map_ms, reduce_ms;
    uint32_t launches;
    uint32_t active;      /* attempts active now (every kind) */
    uint32_t vcores_held; /* booked by them */
    uint64_t memory_held;
    int64_t start_wall, finish_wall;
};

/* Task and attempt names. */
void jm_task_id(const job_master *jm, const jm_task *t, char *out, size_t len);
const char *jm_task_state_name(task_state s);
JobState jm_report_state(const job_master *jm);
int jm_attempt_active(const jm_attempt *a);
jm_task *jm_task_of(job_master *jm, TaskKind kind, uint32_t index);

/* job_placement.c */
int jm_task_wants(const job_master *jm, const jm_task *t);
int jm_reduces_runnable(const job_master *jm);
void jm_send(job_master *jm, int rank, RankMessage *msg);
void jm_kill_attempt(job_master *jm, jm_task *t, jm_attempt *a, const char *reason);
void jm_send_events(job_master *jm, int rank, size_t from);
void jm_speculate(job_master *jm);

/* job_master.c: transitions */
void jm_task_transition(job_master *jm, jm_task *t, task_state to);
void jm_job_check(const job_master *jm);
void jm_task_check(const job_master *jm, const jm_task *t);

/* job_report.c */
void jm_counters_merge(Counter ***list, size_t *n, Counter *const *add, size_t n_add);
void jm_counters_free(Counter **list, size_t n);
int jm_counters_copy(Counter ***out, size_t *n_out, Counter *const *src, size_t n);
void jm_set_failure_diagnostic(job_master *jm, const jm_task *t, const jm_attempt *a);

#endif
