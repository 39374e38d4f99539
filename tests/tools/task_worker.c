/* task_worker.c -- a stand-in for a worker's umbilical, for mr_task.sh:
 * runs one `ember task --umbilical SOCK --attempt ID` and serves it as
 * MR_PROTOCOL.md says a worker does, with faults on demand.
 *
 *   task_worker EMBER WORK_DIR ATTEMPT KIND [options]
 *     KIND: map, reduce, setup, cleanup
 *     --job-id J --library URI --output URI --reduces R --maps M --index I
 *     --output-dir DIR     the attempt's RUN_DIR/mr/JOBID/ATTEMPT
 *     --rank N             the worker's rank (7 by default)
 *     --chunk URI,OFF,LEN  a map's split (repeated)
 *     --file URI           job.files (streaming -file)
 *     --conf K=V           job.conf (repeated)
 *     --event IDX:ATTEMPT:RANK[:obsolete]  map output events, handed out
 *                          one per TaskMapEventsRequest (a long poll past
 *                          the last)
 *     --late-event IDX:ATTEMPT:RANK[:obsolete]  an event sent just before
 *                          the answer to a commit request
 *     --fail-fetches N     answer the first N fetches with EMBER_EIO
 *     --deny-commit        answer TaskCommitRequest with allowed=false
 *     --commit-job / --remove-output / --history JSON / --staging URI
 *     --drop-after-progress  close the umbilical at the first TaskProgress
 * Fetches are served from DIR/../MAP_ATTEMPT/file.out (the index says
 * where partition INDEX lies) in a memfd passed with SCM_RIGHTS.
 *
 * Prints what happened, one "key value" a line: result (done, failed,
 * none), diagnostic, exit (code, or "signal N"), fetches, progress
 * frames, phases (the distinct ones in order), commits, map_output_bytes,
 * elapsed_ms, min_gap_ms (the least time between two progress frames of
 * one phase; -1: no two).  Exits 0 when it could serve the attempt, 1 on a harness
 * error or when the attempt outlived 120 s (then killed, with its
 * process group). */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "mapreduce/ifile.h"
#include "proto/frame.h"
#include "proto/message.h"

#define MAX_ITEMS 64

typedef struct {
    const char *ember, *work, *attempt, *kind;
    JobDescription job;
    Split split;
    SplitChunk chunks[MAX_ITEMS];
    SplitChunk *chunkp[MAX_ITEMS];
    Split *splitp;
    ConfPair conf[MAX_ITEMS];
    ConfPair *confp[MAX_ITEMS];
    char *files[MAX_ITEMS];
    MapOutputEvent events[MAX_ITEMS];
    size_t nevents;
    MapOutputEvent late; /* sent just before a commit answer */
    int has_late;
    TaskAssignment a;
    int fail_fetches, deny_commit, drop_after_progress;
    /* what happened */
    int fetches, progress, commits;
    char phases[256], result[16], diagnostic[4096];
    uint64_t map_output_bytes;
    TaskPhase last_phase;
    int64_t last_progress_ms, min_gap_ms; /* between progress frames of one phase */
} harness;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what) {
    fprintf(stderr, "task_worker: %s\n", what);
    exit(1);
}

static TaskKind parse_kind(const char *k) {
    if (!strcmp(k, "map"))
        return TASK_KIND__TASK_KIND_MAP;
    if (!strcmp(k, "reduce"))
        return TASK_KIND__TASK_KIND_REDUCE;
    if (!strcmp(k, "setup"))
        return TASK_KIND__TASK_KIND_JOB_SETUP;
    if (!strcmp(k, "cleanup"))
        return TASK_KIND__TASK_KIND_JOB_CLEANUP;
    die("unknown kind");
    return TASK_KIND__TASK_KIND_UNKNOWN;
}

/* "A:B:C" (sep ':') into at most n fields (the string is cut in place). */
static int split_fields(char *s, char sep, char **f, int n) {
    int k = 0;
    while (k < n && s != NULL) {
        f[k++] = s;
        s = strchr(s, sep);
        if (s != NULL)
            *s++ = '\0';
    }
    return k;
}

static void parse_option(harness *h, const char *o, char *v) {
    JobDescription *j = &h->job;
    char *f[4];
    if (!strcmp(o, "--job-id"))
        h->a.job_id = j->job_id = v;
    else if (!strcmp(o, "--library"))
        j->library = v;
    else if (!strcmp(o, "--output"))
        j->output = v;
    else if (!strcmp(o, "--reduces"))
        j->reduces = (uint32_t)atoi(v);
    else if (!strcmp(o, "--maps"))
        h->a.maps = (uint32_t)atoi(v);
    else if (!strcmp(o, "--index"))
        h->a.task_index = (uint32_t)atoi(v);
    else if (!strcmp(o, "--output-dir"))
        h->a.output_dir = v;
    else if (!strcmp(o, "--rank"))
        h->a.rank = (uint32_t)atoi(v);
    else if (!strcmp(o, "--history")) {
        h->a.history_json.data = (uint8_t *)v;
        h->a.history_json.len = strlen(v);
    } else if (!strcmp(o, "--staging"))
        j->staging_dir = v;
    else if (!strcmp(o, "--fail-fetches"))
        h->fail_fetches = atoi(v);
    else if (!strcmp(o, "--file") && j->n_files < MAX_ITEMS)
        h->files[j->n_files++] = v;
    else if (!strcmp(o, "--conf") && j->n_conf < MAX_ITEMS && strchr(v, '=')) {
        ConfPair *c = &h->conf[j->n_conf];
        conf_pair__init(c);
        c->key = v;
        c->value = strchr(v, '=') + 1;
        *strchr(v, '=') = '\0';
        h->confp[j->n_conf++] = c;
    } else if (!strcmp(o, "--chunk") && h->split.n_chunks < MAX_ITEMS &&
               split_fields(v, ',', f, 3) == 3) {
        SplitChunk *c = &h->chunks[h->split.n_chunks];
        split_chunk__init(c);
        c->uri = f[0];
        c->offset = strtoull(f[1], NULL, 10);
        c->length = strtoull(f[2], NULL, 10);
        h->chunkp[h->split.n_chunks++] = c;
    } else if ((!strcmp(o, "--event") && h->nevents < MAX_ITEMS) || !strcmp(o, "--late-event")) {
        int n = split_fields(v, ':', f, 4);
        if (n < 3)
            die("--event IDX:ATTEMPT:RANK[:obsolete]");
        int late = !strcmp(o, "--late-event");
        MapOutputEvent *e = late ? &h->late : &h->events[h->nevents++];
        h->has_late |= late;
        map_output_event__init(e);
        e->map_index = (uint32_t)atoi(f[0]);
        e->attempt_id = f[1];
        e->rank = (uint32_t)atoi(f[2]);
        e->obsolete = n == 4 && !strcmp(f[3], "obsolete");
    } else
        die("bad option");
}

static void parse(harness *h, int argc, char **argv) {
    if (argc < 5)
        die("usage: task_worker EMBER WORK_DIR ATTEMPT KIND [options]");
    h->ember = argv[1];
    h->work = argv[2];
    h->attempt = argv[3];
    h->kind = argv[4];
    job_description__init(&h->job);
    split__init(&h->split);
    task_assignment__init(&h->a);
    h->a.rank = 7;
    h->a.kind = parse_kind(argv[4]);
    h->a.attempt_id = (char *)h->attempt;
    h->job.library = "builtin:streaming";
    h->job.output = "";
    h->job.user = "tester";
    h->job.reduces = 1;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--deny-commit"))
            h->deny_commit = 1;
        else if (!strcmp(argv[i], "--commit-job"))
            h->a.commit = 1;
        else if (!strcmp(argv[i], "--remove-output"))
            h->a.remove_output = 1;
        else if (!strcmp(argv[i], "--drop-after-progress"))
            h->drop_after_progress = 1;
        else if (i + 1 < argc) {
            parse_option(h, argv[i], argv[i + 1]);
            i++;
        } else
            die("an option without its value");
    }
    h->job.conf = h->confp;
    h->job.files = h->files;
    if (h->a.kind == TASK_KIND__TASK_KIND_MAP) {
        h->split.chunks = h->chunkp;
        h->splitp = &h->split;
        h->job.splits = &h->splitp;
        h->job.n_splits = 1;
    }
    h->a.job = &h->job;
}

/* Sends msg, with fd attached to its first byte when fd >= 0. */
static int send_msg(int sock, const TaskMessage *msg, int fd) {
    uint8_t *buf;
    size_t len;
    if (message_encode_task(msg, FRAME_MAX_DEFAULT, &buf, &len) != EMBER_OK)
        die("cannot encode");
    size_t off = 0;
    while (off < len) {
        struct iovec iov = {.iov_base = buf + off, .iov_len = len - off};
        union {
            struct cmsghdr align;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (off == 0 && fd >= 0) {
            mh.msg_control = control.space;
            mh.msg_controllen = sizeof(control.space);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        }
        ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n <= 0) {
            free(buf);
            return -1;
        }
        off += (size_t)n;
    }
    free(buf);
    return 0;
}

/* A fetch: the map's segment for this reduce, in a memfd. */
static void serve_fetch(harness *h, int sock, const TaskFetchRequest *r) {
    TaskFetchResponse resp = TASK_FETCH_RESPONSE__INIT;
    resp.request_id = r->request_id;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_FETCH_RESPONSE;
    m.fetch_response = &resp;
    h->fetches++;
    int fd = -1;
    char path[8192];
    ifile_range ranges[256];
    uint32_t parts = h->job.reduces;
    snprintf(path, sizeof(path), "%s/../%s/file.out.index", h->a.output_dir, r->map_attempt_id);
    if (h->fail_fetches > 0) {
        h->fail_fetches--;
        resp.code = EMBER_EIO;
        resp.message = "injected fetch failure";
    } else if (parts > 256 || ifile_index_read(path, ranges, parts) != EMBER_OK) {
        resp.code = EMBER_ENOENT;
        resp.message = "no such map output";
    } else {
        snprintf(path, sizeof(path), "%s/../%s/file.out", h->a.output_dir, r->map_attempt_id);
        const ifile_range *g = &ranges[h->a.task_index];
        int in = open(path, O_RDONLY);
        char *buf = malloc(g->length);
        fd = memfd_create("segment", MFD_CLOEXEC);
        if (in < 0 || buf == NULL || fd < 0 ||
            pread(in, buf, g->length, (off_t)g->offset) != (ssize_t)g->length ||
            write(fd, buf, g->length) != (ssize_t)g->length)
            die("cannot make the segment's memfd");
        close(in);
        free(buf);
        resp.length = g->length;
    }
    if (send_msg(sock, &m, fd) != 0)
        fprintf(stderr, "task_worker: the task went away during a fetch\n");
    if (fd >= 0)
        close(fd);
}

static void note_phase(harness *h, TaskPhase p) {
    static const char *names[] = {"starting", "map",    "sort",   "shuffle",
                                  "merge",    "reduce", "cleanup"};
    if (p == h->last_phase && h->phases[0] != '\0')
        return;
    h->last_phase = p;
    size_t n = strlen(h->phases);
    snprintf(h->phases + n, sizeof(h->phases) - n, "%s%s", n ? "," : "",
             (unsigned)p < 7 ? names[p] : "?");
}

/* One frame from the task; 0 to go on, 1 to stop serving. */
static int serve_frame(harness *h, int sock, const TaskMessage *msg, size_t *next_event) {
    TaskMessage out = TASK_MESSAGE__INIT;
    switch (msg->body_case) {
    case TASK_MESSAGE__BODY_HELLO: {
        if (strcmp(msg->hello->attempt_id, h->attempt) != 0)
            return 1; /* refused: connection closed */
        out.body_case = TASK_MESSAGE__BODY_ASSIGNMENT;
        out.assignment = &h->a;
        return send_msg(sock, &out, -1) != 0;
    }
    case TASK_MESSAGE__BODY_PROGRESS: {
        int64_t now = now_ms();
        if (h->progress > 0 && msg->progress->phase == h->last_phase &&
            (h->min_gap_ms < 0 || now - h->last_progress_ms < h->min_gap_ms))
            h->min_gap_ms = now - h->last_progress_ms;
        h->last_progress_ms = now;
        h->progress++;
        note_phase(h, msg->progress->phase);
        return h->drop_after_progress;
    }
    case TASK_MESSAGE__BODY_MAP_EVENTS_REQUEST: {
        *next_event = msg->map_events_request->from;
        if (*next_event >= h->nevents)
            return 0; /* the long poll: nothing more comes */
        TaskMapEvents ev = TASK_MAP_EVENTS__INIT;
        MapOutputEvent *one = &h->events[*next_event];
        ev.events = &one;
        ev.n_events = 1;
        out.body_case = TASK_MESSAGE__BODY_MAP_EVENTS;
        out.map_events = &ev;
        return send_msg(sock, &out, -1) != 0;
    }
    case TASK_MESSAGE__BODY_FETCH_REQUEST: serve_fetch(h, sock, msg->fetch_request); return 0;
    case TASK_MESSAGE__BODY_COMMIT_REQUEST: {
        h->commits++;
        if (h->has_late) { /* the answer to the long poll still out */
            TaskMapEvents ev = TASK_MAP_EVENTS__INIT;
            MapOutputEvent *one = &h->late;
            ev.events = &one;
            ev.n_events = 1;
            out.body_case = TASK_MESSAGE__BODY_MAP_EVENTS;
            out.map_events = &ev;
            if (send_msg(sock, &out, -1) != 0)
                return 1;
        }
        TaskCommitResponse cr = TASK_COMMIT_RESPONSE__INIT;
        cr.allowed = !h->deny_commit;
        out.body_case = TASK_MESSAGE__BODY_COMMIT_RESPONSE;
        out.commit_response = &cr;
        return send_msg(sock, &out, -1) != 0;
    }
    case TASK_MESSAGE__BODY_DONE:
        snprintf(h->result, sizeof(h->result), "done");
        h->map_output_bytes = msg->done->map_output_bytes;
        return 0;
    case TASK_MESSAGE__BODY_FAILED:
        snprintf(h->result, sizeof(h->result), "failed");
        snprintf(h->diagnostic, sizeof(h->diagnostic), "%s", msg->failed->diagnostic);
        return 0;
    default: return 1;
    }
}

static pid_t spawn_task(harness *h, const char *sock_path) {
    if (h->a.output_dir != NULL)
        mkdir(h->a.output_dir, 0755); /* as the worker makes it */
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        setpgid(0, 0);
        char dir[8192];
        snprintf(dir, sizeof(dir), "%s/%s.wd", h->work, h->attempt);
        mkdir(dir, 0755);
        if (chdir(dir) != 0)
            _exit(126);
        execl(h->ember, h->ember, "task", "--umbilical", sock_path, "--attempt", h->attempt,
              (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* Serves the one connection until the task closes it or dies. */
static void serve(harness *h, int listener, pid_t pid, int64_t deadline) {
    int sock = -1;
    frame_reader *rd;
    size_t next_event = 0;
    if (frame_reader_create(&rd, FRAME_MAX_DEFAULT) != EMBER_OK)
        die("frame reader");
    while (now_ms() < deadline) {
        struct pollfd p = {.fd = sock >= 0 ? sock : listener, .events = POLLIN};
        int n = poll(&p, 1, 100);
        if (n == 0) {
            if (waitpid(pid, NULL, WNOHANG | WNOWAIT) == pid || (sock < 0 && kill(pid, 0) != 0))
                break;
            continue;
        }
        if (sock < 0) {
            sock = accept(listener, NULL, NULL);
            continue;
        }
        uint8_t buf[65536];
        ssize_t got = read(sock, buf, sizeof(buf));
        if (got <= 0)
            break;
        frame_reader_feed(rd, buf, (size_t)got);
        const uint8_t *payload;
        size_t len;
        int stop = 0;
        while (!stop && frame_reader_next(rd, &payload, &len) == 1) {
            TaskMessage *msg;
            if (message_decode_task(payload, len, &msg) != EMBER_OK)
                die("a malformed frame from the task");
            stop = serve_frame(h, sock, msg, &next_event);
            task_message__free_unpacked(msg, NULL);
        }
        if (stop)
            break;
    }
    if (sock >= 0)
        close(sock);
    frame_reader_destroy(rd);
}

int main(int argc, char **argv) {
    static harness h;
    parse(&h, argc, argv);
    h.min_gap_ms = -1;
    char sock_path[108];
    snprintf(sock_path, sizeof(sock_path), "%s/umb-%d.sock", h.work, (int)getpid());
    if (strlen(h.work) + 20 >= sizeof(sock_path))
        die("work dir path too long for a unix socket");
    unlink(sock_path);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(listener, 4) != 0)
        die("cannot listen");
    int64_t start = now_ms(), deadline = start + 120000;
    pid_t pid = spawn_task(&h, sock_path);
    serve(&h, listener, pid, deadline);
    int status = 0, timed_out = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            timed_out = 1;
            kill(-pid, SIGKILL);
        }
        usleep(10000);
    }
    int64_t elapsed = now_ms() - start;
    kill(-pid, SIGKILL); /* whatever it left behind (a streaming command) */
    close(listener);
    unlink(sock_path);
    printf("result %s\n", h.result[0] ? h.result : "none");
    printf("diagnostic %s\n", h.diagnostic);
    if (WIFEXITED(status))
        printf("exit %d\n", WEXITSTATUS(status));
    else
        printf("exit signal %d\n", WTERMSIG(status));
    printf("fetches %d\nprogress %d\nphases %s\ncommits %d\nmap_output_bytes %llu\n", h.fetches,
           h.progress, h.phases, h.commits, (unsigned long long)h.map_output_bytes);
    printf("elapsed_ms %lld\nmin_gap_ms %lld\n", (long long)elapsed, (long long)h.min_gap_ms);
    return timed_out;
}
