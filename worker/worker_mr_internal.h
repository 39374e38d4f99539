/* worker_mr_internal.h -- the state the MapReduce side of a worker
 * shares between its files: worker_mr.c (rank messages, jobs, map
 * events, map output directories), worker_mr_attempt.c (attempts and
 * their statuses), worker_mr_umbilical.c (the tasks' socket) and
 * worker_mr_shuffle.c (serving and fetching map outputs).  Nothing here
 * is seen outside worker/. */
#ifndef EMBER_WORKER_MR_INTERNAL_H
#define EMBER_WORKER_MR_INTERNAL_H

#include <stdint.h>

#include "common/thread_pool.h"
#include "container.h"
#include "proto/frame_server.h"
#include "proto/message.h"
#include "worker_mr.h"

#define WORKER_MR_PATH_MAX 4096
#define WORKER_MR_ID_MAX (MESSAGE_NAME_MAX + 1)

/* An attempt's states on the worker (worker_mr_attempt_check() after
 * each transition):
 *   WAITING   launched: the container runs, the task has not said hello
 *   CONNECTED the task said hello and holds the umbilical
 *   ENDING    the task sent its last frame (TaskDone or TaskFailed)
 * WAITING -> CONNECTED on its hello; CONNECTED -> ENDING on TaskDone or
 * TaskFailed; any -> freed when its container ends (the one final
 * AttemptStatus is sent then).  A kill (KillAttempt, or the umbilical
 * lost before the last frame and the task still alive
 * WORKER_MR_LOST_GRACE_MS later) sets `kill` in any state. */
typedef enum {
    MR_ATTEMPT_WAITING,
    MR_ATTEMPT_CONNECTED,
    MR_ATTEMPT_ENDING,
} mr_attempt_state;

typedef enum {
    MR_KILL_NONE = 0,
    MR_KILL_REQUESTED,      /* KillAttempt: the final status says KILLED */
    MR_KILL_UMBILICAL_LOST, /* its connection closed before its last frame: FAILED */
} mr_kill;

typedef struct mr_attempt {
    struct mr_attempt *next;
    struct worker_mr *m;
    char id[WORKER_MR_ID_MAX]; /* longer than a container's: refused at launch */
    char job_id[WORKER_MR_ID_MAX];
    TaskKind kind;
    mr_attempt_state state;
    TaskAssignment *assignment; /* an owned copy of the launch's */
    uint64_t conn;              /* its umbilical connection; 0: none */
    char output_dir[WORKER_MR_PATH_MAX];
    char cpuset[256];
    char placement[640];
    int64_t start_ms, shuffle_start_ms, merge_start_ms, reduce_start_ms;
    TaskPhase phase;
    float progress;
    TaskMessage *counters_from; /* the last frame with counters (owned) */
    Counter **counters;         /* into counters_from */
    size_t n_counters;
    uint64_t map_output_bytes;
    int done;                          /* TaskDone received */
    char diagnostic[MESSAGE_TEXT_MAX]; /* the task's own (TaskFailed) */
    mr_kill kill;
    char kill_reason[256];
    int commit_pending; /* asked to commit, no answer relayed yet */
    int64_t last_status_ms;
    int status_dirty; /* progress not yet reported (throttled) */
    int64_t lost_ms;  /* the umbilical closed before the last frame (monotonic) */
    /* The container exited 0 while its connection was still open and its
     * last frame not read yet (the exit can be seen first): the end waits
     * for that frame, the close, or WORKER_MR_LOST_GRACE_MS. */
    int exited;
    int64_t exited_ms;
    container_outcome exit_outcome; /* its strings point into the fields below */
    char exit_reason[256];
    int poll_parked;  /* a map events request waits for news */
    uint32_t poll_from;
    int64_t poll_deadline_ms;
} mr_attempt;

typedef struct {
    uint32_t map_index;
    char attempt_id[WORKER_MR_ID_MAX];
    uint32_t rank;
    int obsolete;
} mr_event;

/* An attempt directory this worker made under RUN_DIR/mr/JOBID/. */
typedef struct mr_output {
    struct mr_output *next;
    char attempt_id[WORKER_MR_ID_MAX];
    int served; /* a succeeded map's: ShuffleRequests may read it */
} mr_output;

/* What the worker keeps per job: the events (append-only, numbered by
 * position) and the attempt directories it made. */
typedef struct mr_job {
    struct mr_job *next;
    char id[WORKER_MR_ID_MAX];
    mr_event *events;
    size_t n_events, cap_events;
    mr_output *outputs;
} mr_job;

typedef struct mr_serve mr_serve;
typedef struct mr_fetch mr_fetch;

struct worker_mr {
    event_loop *loop;
    worker *wk;
    int rank, primary_rank;
    char run_dir[WORKER_MR_PATH_MAX];
    char *data_dirs;
    char task_program[WORKER_MR_PATH_MAX];
    int64_t fetch_timeout_ms;
    worker_mr_send_fn send;
    worker_mr_send_bulk_fn send_bulk;
    worker_mr_recv_bulk_fn recv_bulk;
    void *send_arg;
    char sock_path[108];
    frame_server *srv;
    thread_pool *pool;
    uint64_t timer;
    mr_attempt *attempts;
    mr_job *jobs;
    mr_serve *serves; /* requests being served (index read, or sending) */
    size_t serves_reading;
    mr_fetch *fetches; /* fetches for tasks (queued, asked, receiving) */
    uint64_t next_fetch_id;
    int stopping; /* worker_mr_destroy() has begun */
};

/* worker_mr.c */
mr_job *worker_mr_job_find(worker_mr *m, const char *job_id);
mr_job *worker_mr_job_get(worker_mr *m, const char *job_id); /* creates; NULL: no memory */
int worker_mr_output_add(mr_job *j, const char *attempt_id);
/* Removes the attempt's directory and forgets it. */
void worker_mr_output_forget(worker_mr *m, mr_job *j, const char *attempt_id);
mr_output *worker_mr_output_find(mr_job *j, const char *attempt_id);
int worker_mr_output_dir(const worker_mr *m, const char *job_id, const char *attempt_id, char *out,
                         size_t outlen);
void worker_mr_send_rank(worker_mr *m, int dest, const RankMessage *msg);

/* worker_mr_attempt.c */
mr_attempt *worker_mr_attempt_find(worker_mr *m, const char *attempt_id);
void worker_mr_attempt_check(const mr_attempt *a);
void worker_mr_handle_launch(worker_mr *m, const LaunchAttempt *msg);
void worker_mr_handle_kill(worker_mr *m, const KillAttempt *msg);
void worker_mr_handle_commit_response(worker_mr *m, const CommitResponse *msg);
void worker_mr_attempt_tick(worker_mr *m, int64_t now);
/* The task's frames: msg is handed over (the attempt keeps or frees it). */
void worker_mr_attempt_on_task(worker_mr *m, mr_attempt *a, TaskMessage *msg);
void worker_mr_attempt_lost(worker_mr *m, mr_attempt *a);
void worker_mr_attempts_free(worker_mr *m);

/* worker_mr_umbilical.c */
int worker_mr_umbilical_start(worker_mr *m, char *err, size_t errlen);
void worker_mr_umbilical_stop(worker_mr *m);
/* Sends msg to the task on conn (fd attached when >= 0): 0, or the error
 * (EMBER_EAGAIN: an earlier descriptor has not gone out yet). */
int worker_mr_task_send(worker_mr *m, uint64_t conn, const TaskMessage *msg, int fd);
void worker_mr_task_close(worker_mr *m, uint64_t conn);
/* Answers a's parked map events poll if the job has news, is over, or
 * the poll's time is up (force). */
void worker_mr_poll_answer(worker_mr *m, mr_attempt *a, int job_over, int force);

/* worker_mr_shuffle.c */
void worker_mr_handle_shuffle_request(worker_mr *m, int source, const ShuffleRequest *req);
void worker_mr_handle_shuffle_response(worker_mr *m, int source, const RankMessage *msg);
void worker_mr_fetch_start(worker_mr *m, mr_attempt *a, const TaskFetchRequest *req);
/* Answers the fetches of map_attempt's output not yet receiving with
 * EMBER_ENOENT: rank 0 declared it obsolete. */
/* A task's read of a replica on another rank (TaskBlockReadRequest):
 * queued with the fetches, asked with a BlockReadRequest, the range
 * received into a memfd handed to the task with TaskBlockReadResponse. */
void worker_mr_block_read_start(worker_mr *m, mr_attempt *a, const TaskBlockReadRequest *req);
void worker_mr_handle_block_read_response(worker_mr *m, int source, const RankMessage *msg);
void worker_mr_fetch_obsolete(worker_mr *m, const char *job_id, const char *map_attempt);
void worker_mr_fetch_conn_gone(worker_mr *m, uint64_t conn);
void worker_mr_fetch_writable(worker_mr *m, uint64_t conn);
void worker_mr_shuffle_writable(worker_mr *m, int dest);
void worker_mr_shuffle_tick(worker_mr *m, int64_t now);
void worker_mr_shuffle_free(worker_mr *m);

#endif
