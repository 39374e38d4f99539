/* worker_mr_umbilical.c -- the umbilical: the unix socket on which a
 * worker's tasks reach it (Hadoop's TaskUmbilicalProtocol), served by
 * the shared frame server (proto/frame_server.h), one TaskMessage per
 * frame.
 *
 * A connection's first frame must be a TaskHello naming an attempt that
 * runs here and has no connection yet, from that attempt's own process
 * (its pid, as the kernel gives it); anything else closes it.  The
 * hello is answered with the attempt's TaskAssignment (output_dir and
 * rank filled in) and the connection becomes the attempt's: progress,
 * commit requests, TaskDone and TaskFailed go to worker_mr_attempt.c,
 * fetch requests to worker_mr_shuffle.c, and map events requests are
 * long polls answered here.  The connection closing before the task's
 * last frame kills the attempt (worker_mr_attempt_lost()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "worker_mr_internal.h"

#define UMBILICAL_HELLO_MAX (64u * 1024) /* a frame before the hello is accepted */
#define UMBILICAL_FRAME_MAX (16u * 1024 * 1024)
#define UMBILICAL_OUTQ (64u * 1024 * 1024)
#define UMBILICAL_HELLO_DEADLINE_MS 60000
#define UMBILICAL_CONNECTIONS 4096

int worker_mr_task_send(worker_mr *m, uint64_t conn, const TaskMessage *msg, int fd) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_task(msg, UMBILICAL_OUTQ, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = fd >= 0 ? frame_server_send_fds(m->srv, conn, buf, len, &fd, 1)
                 : frame_server_send(m->srv, conn, buf, len);
    free(buf);
    return rc;
}

void worker_mr_task_close(worker_mr *m, uint64_t conn) {
    if (m->srv != NULL)
        frame_server_close(m->srv, conn);
}

/* ---- map events (long poll) ------------------------------------------------------- */

void worker_mr_poll_answer(worker_mr *m, mr_attempt *a, int job_over, int force) {
    if (!a->poll_parked)
        return;
    mr_job *j = worker_mr_job_find(m, a->job_id);
    TaskMapEvents r = TASK_MAP_EVENTS__INIT;
    size_t from = a->poll_from;
    if (job_over || j == NULL)
        r.job_failed = 1;
    else if (from < j->n_events)
        r.n_events = j->n_events - from;
    else if (!force)
        return; /* nothing new yet: the poll stays parked */
    MapOutputEvent *events = calloc(r.n_events + 1, sizeof(*events));
    MapOutputEvent **ptrs = calloc(r.n_events + 1, sizeof(*ptrs));
    if (events == NULL || ptrs == NULL) {
        free(events);
        free(ptrs);
        return; /* the tick tries again */
    }
    for (size_t i = 0; i < r.n_events; i++) {
        const mr_event *e = &j->events[from + i];
        map_output_event__init(&events[i]);
        events[i].map_index = e->map_index;
        events[i].attempt_id = (char *)e->attempt_id;
        events[i].rank = e->rank;
        events[i].obsolete = e->obsolete;
        ptrs[i] = &events[i];
    }
    r.events = ptrs;
    TaskMessage tm = TASK_MESSAGE__INIT;
    tm.body_case = TASK_MESSAGE__BODY_MAP_EVENTS;
    tm.map_events = &r;
    a->poll_parked = 0;
    if (worker_mr_task_send(m, a->conn, &tm, -1) != EMBER_OK)
        LOG_WARN("worker: cannot send map events to attempt %s", a->id);
    free(events);
    free(ptrs);
}

static void worker_mr_on_poll(worker_mr *m, mr_attempt *a, const TaskMapEventsRequest *req) {
    a->poll_parked = 1;
    a->poll_from = req->from;
    a->poll_deadline_ms = clock_monotonic_ms() + WORKER_MR_POLL_MAX_MS;
    worker_mr_poll_answer(m, a, 0, 0);
}

/* ---- the connection's frames ------------------------------------------------------ */

/* Why a hello on connection id for attempt a cannot be taken, or NULL.
 * The peer must be the container's own process (the kernel says who is
 * at the other end: SO_PEERCRED), so no other process of the user can
 * take an attempt's assignment and its job token. */
static const char *worker_mr_hello_problem(worker_mr *m, uint64_t id, const mr_attempt *a) {
    if (a == NULL)
        return "it does not run here";
    if (a->state != MR_ATTEMPT_WAITING || a->kill != MR_KILL_NONE)
        return "it has had its connection";
    container_info info;
    int pid = -1;
    if (sscanf(frame_server_peer(m->srv, id), "pid %d", &pid) != 1 ||
        container_get_info(m->wk, a->id, &info) != EMBER_OK || info.pid != (pid_t)pid)
        return "the peer is not the attempt's process";
    return NULL;
}

/* A hello: the connection becomes its attempt's, which gets its
 * assignment; or it is refused (closed). */
static void worker_mr_on_hello(worker_mr *m, uint64_t id, const TaskHello *hello) {
    mr_attempt *a = worker_mr_attempt_find(m, hello->attempt_id);
    const char *problem = worker_mr_hello_problem(m, id, a);
    if (problem != NULL) {
        LOG_WARN("worker: umbilical: refused a hello from %s for attempt %s: %s",
                 frame_server_peer(m->srv, id), hello->attempt_id, problem);
        frame_server_abort(m->srv, id);
        return;
    }
    char *name = strdup(a->id);
    if (name == NULL || frame_server_set_authenticated(m->srv, id) != EMBER_OK) {
        free(name);
        frame_server_abort(m->srv, id);
        return;
    }
    frame_server_set_data(m->srv, id, name);
    frame_server_set_deadline(m->srv, id, 0);
    frame_server_set_max_frame(m->srv, id, UMBILICAL_FRAME_MAX);
    a->conn = id;
    a->state = MR_ATTEMPT_CONNECTED;
    worker_mr_attempt_check(a);
    container_progress(m->wk, a->id);
    TaskAssignment as = *a->assignment; /* shallow: the two fields below are the worker's */
    as.output_dir = a->output_dir;
    as.rank = (uint32_t)m->rank;
    TaskMessage tm = TASK_MESSAGE__INIT;
    tm.body_case = TASK_MESSAGE__BODY_ASSIGNMENT;
    tm.assignment = &as;
    int rc = worker_mr_task_send(m, id, &tm, -1);
    if (rc != EMBER_OK)
        LOG_WARN("worker: cannot send attempt %s its assignment: %s", a->id, ember_strerror(rc));
}

static void worker_mr_on_frame(frame_server *srv, uint64_t id, void *data, const uint8_t *payload,
                               size_t len, void *arg) {
    worker_mr *m = arg;
    TaskMessage *msg;
    if (message_decode_task(payload, len, &msg) != EMBER_OK) {
        if (frame_server_log_ok(srv))
            LOG_WARN("worker: umbilical: malformed frame from %s", frame_server_peer(srv, id));
        frame_server_abort(srv, id);
        return;
    }
    if (data == NULL) {
        if (msg->body_case == TASK_MESSAGE__BODY_HELLO)
            worker_mr_on_hello(m, id, msg->hello);
        else
            frame_server_abort(srv, id); /* the hello comes first */
        task_message__free_unpacked(msg, NULL);
        return;
    }
    mr_attempt *a = worker_mr_attempt_find(m, data);
    if (a == NULL || a->conn != id) {
        task_message__free_unpacked(msg, NULL); /* its attempt ended */
        return;
    }
    switch (msg->body_case) {
    case TASK_MESSAGE__BODY_MAP_EVENTS_REQUEST:
        container_progress(m->wk, a->id);
        worker_mr_on_poll(m, a, msg->map_events_request);
        break;
    case TASK_MESSAGE__BODY_FETCH_REQUEST:
        container_progress(m->wk, a->id);
        worker_mr_fetch_start(m, a, msg->fetch_request);
        break;
    case TASK_MESSAGE__BODY_BLOCK_READ_REQUEST:
        container_progress(m->wk, a->id);
        worker_mr_block_read_start(m, a, msg->block_read_request);
        break;
    default: worker_mr_attempt_on_task(m, a, msg); return; /* msg handed over */
    }
    task_message__free_unpacked(msg, NULL);
}

static int worker_mr_on_open(frame_server *srv, uint64_t id, void *arg) {
    (void)srv;
    (void)id;
    (void)arg;
    return 0;
}

static void worker_mr_on_writable_conn(frame_server *srv, uint64_t id, void *data, size_t written,
                                       void *arg) {
    (void)srv;
    (void)data;
    (void)written;
    worker_mr_fetch_writable(arg, id);
}

static void worker_mr_on_close(frame_server *srv, uint64_t id, void *data, void *arg) {
    worker_mr *m = arg;
    (void)srv;
    if (data == NULL)
        return;
    if (!m->stopping) {
        worker_mr_fetch_conn_gone(m, id);
        mr_attempt *a = worker_mr_attempt_find(m, data);
        if (a != NULL && a->conn == id)
            worker_mr_attempt_lost(m, a);
    }
    free(data);
}

/* ---- the socket ------------------------------------------------------------------- */

/* Binds and listens on m->sock_path (a stale file of an earlier cluster
 * removed first), mode 0600. */
static int worker_mr_listen(worker_mr *m, int *fd_out, char *err, size_t errlen) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, m->sock_path, strlen(m->sock_path) + 1);
    unlink(m->sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        chmod(m->sock_path, 0600) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", m->sock_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(m->sock_path);
        return EMBER_EIO;
    }
    *fd_out = fd;
    return EMBER_OK;
}

int worker_mr_umbilical_start(worker_mr *m, char *err, size_t errlen) {
    char dir[WORKER_MR_PATH_MAX + 8];
    snprintf(dir, sizeof(dir), "%s/mr", m->run_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return EMBER_EIO;
    }
    int n = snprintf(m->sock_path, sizeof(m->sock_path), "%s/umbilical-%d.sock", dir, m->rank);
    if (n < 0 || (size_t)n >= sizeof(m->sock_path)) {
        snprintf(err, errlen,
                 "the umbilical's path %s/umbilical-%d.sock is longer than a unix "
                 "socket's %zu bytes: use a shorter run directory",
                 dir, m->rank, sizeof(m->sock_path) - 1);
        m->sock_path[0] = '\0';
        return EMBER_EINVAL;
    }
    int fd;
    int rc = worker_mr_listen(m, &fd, err, errlen);
    if (rc != EMBER_OK) {
        m->sock_path[0] = '\0';
        return rc;
    }
    frame_server_options o = {
        .name = "umbilical",
        .listen_fd = fd,
        .max_connections = UMBILICAL_CONNECTIONS,
        .max_unauthenticated = 256,
        .max_unauthenticated_per_peer = 256, /* every task runs as the rank's user */
        .max_frame = UMBILICAL_HELLO_MAX,
        .outq_limit = UMBILICAL_OUTQ,
        .first_deadline_ms = UMBILICAL_HELLO_DEADLINE_MS,
        .linger_ms = 0,
        .log_interval_ms = 10000,
        .cb = {.on_open = worker_mr_on_open,
               .on_frame = worker_mr_on_frame,
               .on_writable = worker_mr_on_writable_conn,
               .on_close = worker_mr_on_close},
        .arg = m,
    };
    rc = frame_server_create(m->loop, &o, &m->srv);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot serve the umbilical: %s", ember_strerror(rc));
        unlink(m->sock_path);
        m->sock_path[0] = '\0';
    }
    return rc;
}

void worker_mr_umbilical_stop(worker_mr *m) {
    frame_server_destroy(m->srv);
    m->srv = NULL;
    if (m->sock_path[0] != '\0')
        unlink(m->sock_path);
}
