/* worker_mr.h -- MapReduce on a worker rank (YARN's NodeManager for
 * MapReduce, with its ShuffleHandler and the reduce side's fetcher).
 *
 * The scheduler on rank 0 sends LaunchAttempt, KillAttempt,
 * CommitResponse, MapOutputEvents and JobFinished; other workers send
 * ShuffleRequest and ShuffleResponse (the segment as the bulk payload).
 * The worker runs each attempt as a container (`ember task --umbilical
 * SOCK --attempt ID`, worker/container.h), talks to it over the
 * umbilical (one unix socket per worker, TaskMessage frames), reports
 * AttemptStatus and FetchFailure to rank 0, keeps the maps' outputs
 * under RUN_DIR/mr/JOBID/ATTEMPT/ until JobFinished (or the rank stops)
 * and serves them to other workers over MPI bulk transfer.  The
 * contract with the scheduler and the task is /work/wt/MR_PROTOCOL.md,
 * summed up under "MapReduce on the worker" in docs/ARCHITECTURE.md.
 *
 * Everything runs on the rank's loop thread; the index reads and the
 * removal of map outputs go to a thread pool of its own.  Messages leave
 * through the callbacks in the options, so tests drive a worker without
 * MPI. */
#ifndef EMBER_WORKER_MR_H
#define EMBER_WORKER_MR_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/event_loop.h"
#include "proto/mpi_link.h"
#include "worker.h"

#define WORKER_MR_FETCH_TIMEOUT_MS 180000      /* Hadoop's mapreduce.reduce.shuffle.read.timeout */
#define WORKER_MR_FETCHES_MAX 8                /* fetches in flight on one worker */
#define WORKER_MR_FETCH_BYTES_MAX (256u << 20) /* fetched bytes not yet handed to tasks */
#define WORKER_MR_STATUS_INTERVAL_MS 1000      /* progress statuses to rank 0, at most one per */
#define WORKER_MR_POLL_MAX_MS 1000             /* a map events long poll is answered by then */
#define WORKER_MR_LOST_GRACE_MS 2000           /* a task whose umbilical closed may exit by then */
#define WORKER_MR_LOG_TAIL 4096                /* bytes of stderr in a failed attempt's status */

typedef struct worker_mr worker_mr; /* opaque */

/* Sends a RankMessage (control) to dest; 0 or an EMBER_E* code. */
typedef int (*worker_mr_send_fn)(void *arg, int dest, const RankMessage *msg);
/* mpi_link_send_bulk() and mpi_link_recv_bulk() on the rank's link. */
typedef int (*worker_mr_send_bulk_fn)(void *arg, int dest, const RankMessage *header,
                                      const void *data, uint64_t len, mpi_link_bulk_cb done,
                                      void *done_arg);
typedef int (*worker_mr_recv_bulk_fn)(void *arg, int source, const RankMessage *header, void *buf,
                                      mpi_link_bulk_cb done, void *done_arg);

typedef struct {
    event_loop *loop;
    worker *wk;               /* with a loop: it runs the containers */
    int rank;                 /* this rank (TaskAssignment.rank, the events' rank) */
    int primary_rank;         /* where AttemptStatus and FetchFailure go (0) */
    const char *run_dir;      /* RUN_DIR: the umbilical and RUN_DIR/mr/ live there */
    const char *data_dirs;    /* the datanode's, comma-separated ("" on a task node) */
    const char *task_program; /* the ember binary (NULL: /proc/self/exe resolved) */
    int64_t fetch_timeout_ms; /* a ShuffleRequest's answer, at most (0: the default) */
    worker_mr_send_fn send;
    worker_mr_send_bulk_fn send_bulk;
    worker_mr_recv_bulk_fn recv_bulk;
    void *send_arg;
} worker_mr_options;

/* Creates the MapReduce side of a worker: listens on the umbilical
 * RUN_DIR/mr/umbilical-RANK.sock (mode 0600 in a 0700 directory) and
 * starts its thread pool.  *out is the caller's, freed with
 * worker_mr_destroy().  0, or EMBER_EINVAL / EMBER_EIO / EMBER_ENOMEM
 * with one line in err. */
int worker_mr_create(const worker_mr_options *opts, worker_mr **out, char *err, size_t errlen);

/* Stops serving: closes the umbilical, forgets the attempts (their
 * containers are the worker's, killed by worker_destroy(), which must
 * come after), removes the map outputs this worker kept, and frees.
 * Buffers a bulk transfer still uses stay mapped (the link is destroyed
 * later).  Accepts NULL. */
void worker_mr_destroy(worker_mr *m);

/* One MapReduce RankMessage from source (the caller checked who may send
 * it and frees msg after; a ShuffleResponse's payload is claimed during
 * the call).  Bodies that are not the worker's are logged and ignored. */
void worker_mr_on_rank_message(worker_mr *m, int source, const RankMessage *msg);

/* The link can take data for dest again (mpi_link's writable callback). */
void worker_mr_on_writable(worker_mr *m, int dest);

/* The primary holds rank dead: the fetches and block reads asked of it
 * (not yet receiving) fail now instead of at their deadline -- the tasks
 * hear it (a block read goes to another replica), rank 0 a FetchFailure
 * for a map output. */
void worker_mr_peer_dead(worker_mr *m, int rank);

/* The umbilical's path (for logs and tests). */
const char *worker_mr_umbilical_path(const worker_mr *m);

/* Attempts running here, and fetches in flight (for tests and reports). */
size_t worker_mr_attempts(const worker_mr *m);
size_t worker_mr_fetches(const worker_mr *m);

#endif
