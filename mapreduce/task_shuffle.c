/* task_shuffle.c -- see task_shuffle.h. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "task_shuffle.h"

#define SHUFFLE_BACKOFF_MAX_MS 16000
#define SHUFFLE_PROGRESS_MS 500

typedef enum {
    MAP_WAIT = 0, /* no live event for it */
    MAP_READY,    /* an event: fetch it */
    MAP_FETCHING, /* a request out for the current attempt */
    MAP_BACKOFF,  /* the last fetch failed: again at retry_ms */
    MAP_DONE,     /* its segment is in */
} shuffle_map_state;

typedef struct {
    shuffle_map_state state;
    char attempt[256]; /* the latest live event's */
    uint32_t rank;
    uint64_t pending;          /* a request out (maybe for an older attempt), 0: none */
    char pending_attempt[256]; /* what it asked for */
    int failures;              /* in a row, for this attempt */
    int64_t retry_ms;
    /* The segment, once DONE: a mapping (memory), or a region of a file
     * (the map's file.out read locally, or a copy in the work dir, ours
     * to remove) -- no descriptor kept: the merge opens files. */
    void *map;
    size_t map_len;
    char *path;
    ifile_range range;
    int owned; /* path is our copy */
} shuffle_map;

struct task_shuffle {
    const task_shuffle_options *o;
    shuffle_map *maps;
    uint32_t n, done;
    merge_segment *segs;
    uint64_t next_request, events_from, memory_used, memory_limit, bytes;
    int events_pending, local_read, parallel, inflight;
    char *err;
    size_t errlen;
};

static int shuffle_fail(task_shuffle *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int shuffle_fail(task_shuffle *s, int rc, const char *fmt, ...) {
    if (s->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int shuffle_send(task_shuffle *s, TaskMessage *m) {
    int rc = umbilical_send(s->o->u, m);
    return rc != EMBER_OK ? shuffle_fail(s, rc, "umbilical: cannot send: %s", ember_strerror(rc))
                          : rc;
}

/* A segment read straight from the map's file.out on this host. */
static int shuffle_local(task_shuffle *s, shuffle_map *m) {
    const TaskAssignment *a = s->o->a;
    char parent[PATH_MAX], path[PATH_MAX + 300];
    snprintf(parent, sizeof(parent), "%s", a->output_dir);
    char *dir = dirname(parent);
    uint32_t parts = a->job->reduces;
    ifile_range *ranges = calloc(parts, sizeof(*ranges));
    if (ranges == NULL)
        return EMBER_ENOMEM;
    snprintf(path, sizeof(path), "%s/%s/file.out.index", dir, m->attempt);
    int rc = ifile_index_read(path, ranges, parts);
    snprintf(path, sizeof(path), "%s/%s/file.out", dir, m->attempt);
    if (rc == EMBER_OK && access(path, R_OK) != 0)
        rc = EMBER_ENOENT;
    if (rc == EMBER_OK && (m->path = strdup(path)) == NULL)
        rc = EMBER_ENOMEM;
    if (rc == EMBER_OK) {
        m->range = ranges[a->task_index];
        s->bytes += m->range.length;
    }
    free(ranges);
    return rc;
}

/* A fetched segment: the memfd mapped, or copied to a file past the
 * shuffle's memory (which counts what a reader of it will take, too: a
 * compressed segment's inflate buffer).  Takes fd. */
static int shuffle_take_segment(task_shuffle *s, shuffle_map *m, int fd, uint64_t len) {
    struct stat st;
    int rc = EMBER_OK;
    if (len == 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size < len)
        rc = EMBER_ECORRUPT;
    void *p = rc == EMBER_OK ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (rc == EMBER_OK && p == MAP_FAILED)
        rc = EMBER_EIO;
    close(fd);
    if (rc != EMBER_OK)
        return rc;
    s->bytes += len;
    uint64_t cost = len + ifile_reader_memory(p, len);
    if (s->memory_used + cost <= s->memory_limit) {
        s->memory_used += cost;
        m->map = p;
        m->map_len = len;
        return EMBER_OK;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/shuffle_%06u.out", s->o->work_dir, (unsigned)(m - s->maps));
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint64_t done = 0;
    while (out >= 0 && done < len) {
        ssize_t w = write(out, (const uint8_t *)p + done, len - done);
        if (w <= 0)
            break;
        done += (uint64_t)w;
    }
    munmap(p, len);
    if (out >= 0 && close(out) != 0)
        done = 0;
    if (done != len || (m->path = strdup(path)) == NULL) {
        unlink(path);
        return EMBER_EIO;
    }
    m->owned = 1;
    m->range = (ifile_range){.offset = 0, .length = len};
    return EMBER_OK;
}

static int shuffle_request(task_shuffle *s, uint32_t index) {
    shuffle_map *m = &s->maps[index];
    TaskFetchRequest fr = TASK_FETCH_REQUEST__INIT;
    fr.request_id = ++s->next_request;
    fr.map_attempt_id = m->attempt;
    fr.map_index = index;
    fr.rank = m->rank;
    TaskMessage msg = TASK_MESSAGE__INIT;
    msg.body_case = TASK_MESSAGE__BODY_FETCH_REQUEST;
    msg.fetch_request = &fr;
    m->pending = fr.request_id;
    snprintf(m->pending_attempt, sizeof(m->pending_attempt), "%s", m->attempt);
    m->state = MAP_FETCHING;
    s->inflight++;
    return shuffle_send(s, &msg);
}

/* Starts what may start: local reads at once, fetches up to the limit. */
static int shuffle_start(task_shuffle *s) {
    int64_t now = clock_monotonic_ms();
    for (uint32_t i = 0; i < s->n; i++) {
        shuffle_map *m = &s->maps[i];
        if (m->state == MAP_BACKOFF && now >= m->retry_ms)
            m->state = MAP_READY;
        if (m->state != MAP_READY || m->pending != 0)
            continue;
        if (s->local_read && m->rank == s->o->a->rank && m->failures == 0 &&
            shuffle_local(s, m) == EMBER_OK) {
            m->state = MAP_DONE;
            s->done++;
            continue;
        }
        if (s->inflight >= s->parallel)
            continue;
        int rc = shuffle_request(s, i);
        if (rc != EMBER_OK)
            return rc;
    }
    return EMBER_OK;
}

static int shuffle_events_request(task_shuffle *s) {
    TaskMapEventsRequest r = TASK_MAP_EVENTS_REQUEST__INIT;
    r.from = (uint32_t)s->events_from;
    TaskMessage msg = TASK_MESSAGE__INIT;
    msg.body_case = TASK_MESSAGE__BODY_MAP_EVENTS_REQUEST;
    msg.map_events_request = &r;
    s->events_pending = 1;
    return shuffle_send(s, &msg);
}

static int shuffle_on_events(task_shuffle *s, const TaskMapEvents *ev) {
    s->events_pending = 0;
    if (ev->job_failed)
        return shuffle_fail(s, EMBER_ECLOSED, "the job is over: the worker stopped the shuffle");
    s->events_from += ev->n_events;
    for (size_t i = 0; i < ev->n_events; i++) {
        const MapOutputEvent *e = ev->events[i];
        if (e->map_index >= s->n)
            return shuffle_fail(s, EMBER_EPROTO, "map output event for map %u of %u", e->map_index,
                                s->n);
        shuffle_map *m = &s->maps[e->map_index];
        if (m->state == MAP_DONE)
            continue; /* fetched already: what we hold stays good */
        if (e->obsolete) {
            if (strcmp(m->attempt, e->attempt_id) == 0)
                m->state = MAP_WAIT; /* an answer still out for it is dropped */
            continue;
        }
        if (strcmp(m->attempt, e->attempt_id) != 0)
            m->failures = 0;
        snprintf(m->attempt, sizeof(m->attempt), "%s", e->attempt_id);
        m->rank = e->rank;
        m->state = MAP_READY;
    }
    return EMBER_OK;
}

static int shuffle_on_fetch(task_shuffle *s, const TaskFetchResponse *r, int fd) {
    shuffle_map *m = NULL;
    for (uint32_t i = 0; i < s->n && m == NULL; i++)
        if (s->maps[i].pending == r->request_id)
            m = &s->maps[i];
    if (m == NULL) {
        if (fd >= 0)
            close(fd);
        return shuffle_fail(s, EMBER_EPROTO, "fetch answer to unknown request %llu",
                            (unsigned long long)r->request_id);
    }
    m->pending = 0;
    s->inflight--;
    if (m->state != MAP_FETCHING || strcmp(m->pending_attempt, m->attempt) != 0) {
        if (fd >= 0)
            close(fd); /* asked for an attempt since declared lost */
        return EMBER_OK;
    }
    int rc = r->code;
    if (rc == 0)
        rc = fd >= 0 ? shuffle_take_segment(s, m, fd, r->length) : EMBER_EPROTO;
    else if (fd >= 0)
        close(fd);
    if (rc == EMBER_OK) {
        m->state = MAP_DONE;
        s->done++;
        return EMBER_OK;
    }
    mr_counters_add(s->o->counters, MR_GROUP_TASK, "Failed Shuffles", 1);
    if (++m->failures >= TASK_SHUFFLE_MAX_FAILURES)
        return shuffle_fail(s, rc,
                            "Shuffle error: map %u's output (%s) could not be fetched %d times "
                            "(last: %s); bailing out",
                            (unsigned)(m - s->maps), m->attempt, m->failures,
                            r->message != NULL && r->message[0] ? r->message : ember_strerror(rc));
    int64_t wait = 1000ll << (m->failures - 1);
    m->retry_ms =
        clock_monotonic_ms() + (wait > SHUFFLE_BACKOFF_MAX_MS ? SHUFFLE_BACKOFF_MAX_MS : wait);
    m->state = MAP_BACKOFF;
    fprintf(stderr, "ember task: fetch of map %u (%s) failed: %s; retrying\n",
            (unsigned)(m - s->maps), m->attempt,
            r->message != NULL && r->message[0] ? r->message : ember_strerror(rc));
    return EMBER_OK;
}

/* How long to wait for the next frame: until the next retry is due, and
 * at most the progress interval. */
static int64_t shuffle_wait_ms(const task_shuffle *s) {
    int64_t now = clock_monotonic_ms(), wait = SHUFFLE_PROGRESS_MS;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->maps[i].state == MAP_BACKOFF && s->maps[i].retry_ms - now < wait)
            wait = s->maps[i].retry_ms - now;
    return wait < 0 ? 0 : wait;
}

static int shuffle_receive(task_shuffle *s) {
    TaskMessage *msg;
    int fd;
    int got = umbilical_receive(s->o->u, shuffle_wait_ms(s), &msg, &fd);
    if (got == 0)
        return EMBER_OK;
    if (got < 0)
        return shuffle_fail(s, got, "umbilical: %s",
                            got == EMBER_ECLOSED ? "the worker closed it" : ember_strerror(got));
    int rc = EMBER_OK;
    if (msg->body_case == TASK_MESSAGE__BODY_MAP_EVENTS)
        rc = shuffle_on_events(s, msg->map_events);
    else if (msg->body_case == TASK_MESSAGE__BODY_FETCH_RESPONSE)
        rc = shuffle_on_fetch(s, msg->fetch_response, fd);
    else if (msg->body_case == TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE) {
        if (fd >= 0) /* a block read-ahead nobody waits for any more (task_block.c) */
            close(fd);
    } else {
        if (fd >= 0)
            close(fd);
        rc = shuffle_fail(s, EMBER_EPROTO, "umbilical: unexpected message %d in the shuffle",
                          (int)msg->body_case);
    }
    task_message__free_unpacked(msg, NULL);
    return rc;
}

/* The settings: parallel copies, local reads, the memory for segments. */
static int shuffle_settings(task_shuffle *s) {
    const mr_conf *c = s->o->conf;
    uint64_t parallel;
    int rc = mr_conf_get_size(c, "mapreduce.reduce.shuffle.parallelcopies", 5, &parallel, s->err,
                              s->errlen);
    if (rc == EMBER_OK && (parallel == 0 || parallel > 1000))
        rc = shuffle_fail(s, EMBER_ECONFIG,
                          "mapreduce.reduce.shuffle.parallelcopies: %llu is out of range (1 to "
                          "1000)",
                          (unsigned long long)parallel);
    s->parallel = (int)parallel;
    const char *local = mr_conf_get(c, "ember.shuffle.local.read");
    s->local_read = local == NULL || strcmp(local, "false") != 0;
    const char *pct = mr_conf_get(c, "mapreduce.reduce.shuffle.input.buffer.percent");
    double share = pct != NULL ? strtod(pct, NULL) : 0.70;
    uint64_t mb = s->o->a->job->reduce_memory_mb ? s->o->a->job->reduce_memory_mb : 1024;
    if (share < 0 || share > 1)
        share = 0.70;
    s->memory_limit = (uint64_t)((double)(mb << 20) * share);
    return rc;
}

int task_shuffle_run(const task_shuffle_options *o, task_shuffle **out, char *err, size_t errlen) {
    *out = NULL;
    err[0] = '\0';
    task_shuffle *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return EMBER_ENOMEM;
    s->o = o;
    s->err = err;
    s->errlen = errlen;
    s->n = o->a->maps;
    s->maps = calloc(s->n ? s->n : 1, sizeof(*s->maps));
    s->segs = calloc(s->n ? s->n : 1, sizeof(*s->segs));
    int rc = s->maps && s->segs ? shuffle_settings(s) : EMBER_ENOMEM;
    int64_t reported = 0;
    while (rc == EMBER_OK && s->done < s->n) {
        if (!s->events_pending)
            rc = shuffle_events_request(s);
        if (rc == EMBER_OK)
            rc = shuffle_start(s);
        if (rc == EMBER_OK && s->done < s->n)
            rc = shuffle_receive(s);
        if (o->progress != NULL && clock_monotonic_ms() - reported >= SHUFFLE_PROGRESS_MS) {
            o->progress(o->progress_arg, s->done, s->n);
            reported = clock_monotonic_ms();
        }
    }
    mr_counters_add(o->counters, MR_GROUP_TASK, "Reduce shuffle bytes", (int64_t)s->bytes);
    mr_counters_add(o->counters, MR_GROUP_TASK, "Shuffled Maps", (int64_t)s->done);
    if (rc != EMBER_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "shuffle: %s", ember_strerror(rc));
        task_shuffle_free(s);
        return rc;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        const shuffle_map *m = &s->maps[i];
        s->segs[i] = m->path != NULL ? (merge_segment){.path = m->path, .range = m->range}
                                     : (merge_segment){.data = m->map, .len = m->map_len};
    }
    *out = s;
    return EMBER_OK;
}

const merge_segment *task_shuffle_segments(const task_shuffle *s, int *n) {
    *n = (int)s->n;
    return s->segs;
}

void task_shuffle_free(task_shuffle *s) {
    if (s == NULL)
        return;
    for (uint32_t i = 0; s->maps != NULL && i < s->n; i++) {
        shuffle_map *m = &s->maps[i];
        if (m->map != NULL)
            munmap(m->map, m->map_len);
        if (m->owned)
            unlink(m->path);
        free(m->path);
    }
    free(s->maps);
    free(s->segs);
    free(s);
}
