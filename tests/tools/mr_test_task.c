/* mr_test_task.c -- a stand-in for `ember task` that speaks the
 * umbilical (worker/worker_mr.h) for the worker's tests: run as
 *     mr_test_task task --umbilical SOCK --attempt ID
 * it says hello, takes its TaskAssignment and does what the job's
 * configuration key test.task.mode says:
 *   map      progress (MAP several times, then SORT), writes file.out and
 *            file.out.index in output_dir (mapreduce/ifile.h's format:
 *            test.task.partitions segments of test.task.records records,
 *            values of test.task.value.bytes), TaskDone, exit 0
 *   fail     TaskFailed "test failure: boom", "boom" on stderr, exit 3
 *   exit3    a line on stderr, exit 3 without a word to the worker
 *   segv     dies of SIGSEGV
 *   hang     sleeps without progress (until killed)
 *   exit0    exits 0 without TaskDone
 *   lost     closes the umbilical, then sleeps
 *   commit   TaskCommitRequest, waits for the answer, TaskDone with the
 *            counter test/allowed
 *   events   polls map events from 0 until test.task.events of them came
 *            or the job failed; TaskDone with test/events, test/job_failed
 *   fetch    polls events until test.task.events came, fetches each (and
 *            the extra fetches named by test.task.fetch.extra,
 *            "attempt:rank,..."), checks each segment it gets against the
 *            map's own file.out (a sibling of its output_dir) and as an
 *            IFile segment; TaskDone with test/fetched (segments equal),
 *            test/bytes, test/records, and test/code.N per failed fetch
 *   fetchmany  sends test.task.fetch.count fetches of test.task.fetch.attempt
 *            from test.task.fetch.rank at once, then takes their answers;
 *            TaskDone with test/answered and test/code.N per failure
 *   blockread  sends one TaskBlockReadRequest per rank of test.task.block.ranks
 *            ("r1,r2,..."; request N asks the Nth) at once: block
 *            test.task.block.id (gen stamp + 1000, a read token whose MAC
 *            is 32 bytes 0x5a), test.task.block.length bytes from
 *            test.task.block.offset + (N - 1) * test.task.block.stride,
 *            waiting test.task.block.timeout ms; then takes their answers
 *            (the message of each failure on stderr); TaskDone with, per
 *            request N, test/code.N, and for a range test/offset.N,
 *            test/length.N, test/crcs.N and test/crcok.N (1: the memfd
 *            is length bytes whose chunks match the CRCs)
 * Counters go in group "test".  Exit 2 on a broken umbilical.  With
 * MR_TEST_TASK_DELAY_MS in its environment it waits that long before
 * it connects. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/checksum.h"
#include "common/error.h"
#include "mapreduce/ifile.h"
#include "proto/frame.h"
#include "proto/message.h"

#define MAX_COUNTERS 64

static int sock = -1;
static TaskAssignment *as;
static Counter counters[MAX_COUNTERS];
static Counter *counter_ptrs[MAX_COUNTERS];
static char counter_names[MAX_COUNTERS][64];
static size_t n_counters;

static void die(const char *what) {
    fprintf(stderr, "mr_test_task: %s\n", what);
    exit(2);
}

static void add_counter(const char *name, int64_t value) {
    if (n_counters == MAX_COUNTERS)
        return;
    Counter *c = &counters[n_counters];
    counter__init(c);
    snprintf(counter_names[n_counters], sizeof(counter_names[0]), "%s", name);
    c->group = "test";
    c->name = counter_names[n_counters];
    c->value = value;
    counter_ptrs[n_counters++] = c;
}

static void send_msg(const TaskMessage *m) {
    uint8_t *buf;
    size_t len;
    if (message_encode_task(m, 1u << 26, &buf, &len) != EMBER_OK)
        die("cannot encode");
    for (size_t off = 0; off < len;) {
        ssize_t n = write(sock, buf + off, len - off);
        if (n <= 0)
            die("cannot write to the umbilical");
        off += (size_t)n;
    }
    free(buf);
}

/* Reads exactly len bytes; a descriptor that comes with them in *fd. */
static void read_full(uint8_t *buf, size_t len, int *fd) {
    for (size_t got = 0; got < len;) {
        union {
            struct cmsghdr align;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = {.iov_base = buf + got, .iov_len = len - got};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.space,
                            .msg_controllen = sizeof(control.space)};
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("the umbilical closed");
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && fd != NULL)
                memcpy(fd, CMSG_DATA(cm), sizeof(int));
        got += (size_t)n;
    }
}

/* The next frame from the worker (the caller frees it); *fd gets an
 * attached descriptor (or stays -1). */
static TaskMessage *recv_msg(int *fd) {
    uint8_t head[FRAME_HEADER_LEN];
    if (fd != NULL)
        *fd = -1;
    read_full(head, sizeof(head), fd);
    uint32_t len =
        (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    uint8_t *payload = malloc(len + 1);
    if (payload == NULL)
        die("out of memory");
    read_full(payload, len, fd);
    TaskMessage *m;
    if (message_decode_task(payload, len, &m) != EMBER_OK)
        die("malformed frame from the worker");
    free(payload);
    return m;
}

static const char *conf(const char *key, const char *dflt) {
    for (size_t i = 0; i < as->job->n_conf; i++)
        if (strcmp(as->job->conf[i]->key, key) == 0)
            return as->job->conf[i]->value;
    return dflt;
}

static void send_progress(TaskPhase phase, float progress) {
    TaskProgress p = TASK_PROGRESS__INIT;
    p.phase = phase;
    p.progress = progress;
    p.counters = counter_ptrs;
    p.n_counters = n_counters;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_PROGRESS;
    m.progress = &p;
    send_msg(&m);
}

static void send_done(uint64_t map_output_bytes) {
    TaskDone d = TASK_DONE__INIT;
    d.counters = counter_ptrs;
    d.n_counters = n_counters;
    d.map_output_bytes = map_output_bytes;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_DONE;
    m.done = &d;
    send_msg(&m);
}

/* ---- map ------------------------------------------------------------------------ */

static int run_map(void) {
    uint32_t parts = (uint32_t)atoi(conf("test.task.partitions", "2"));
    long records = atol(conf("test.task.records", "3"));
    size_t vbytes = (size_t)atol(conf("test.task.value.bytes", "16"));
    for (int i = 1; i <= 5; i++)
        send_progress(TASK_PHASE__PHASE_MAP, 0.1f * (float)i);
    char path[4096 + 32];
    snprintf(path, sizeof(path), "%s/file.out", as->output_dir);
    ifile_writer w;
    ifile_range *ranges = calloc(parts, sizeof(*ranges));
    char *value = malloc(vbytes + 1);
    if (ranges == NULL || value == NULL || ifile_writer_open(&w, path) != EMBER_OK)
        die("cannot write file.out");
    for (uint32_t p = 0; p < parts; p++) {
        ifile_writer_begin(&w);
        for (long r = 0; r < records; r++) {
            char key[64];
            int klen = snprintf(key, sizeof(key), "%s-p%u-k%06ld", as->attempt_id, p, r);
            for (size_t b = 0; b < vbytes; b++)
                value[b] = (char)('a' + (b * 7 + (size_t)r + p) % 26);
            if (ifile_writer_append(&w, key, (size_t)klen, value, vbytes) != EMBER_OK)
                die("cannot append");
        }
        if (ifile_writer_end(&w, &ranges[p]) != EMBER_OK)
            die("cannot end a segment");
    }
    uint64_t bytes = 0;
    if (ifile_writer_close(&w, &bytes) != EMBER_OK)
        die("cannot close file.out");
    snprintf(path, sizeof(path), "%s/file.out.index", as->output_dir);
    if (ifile_index_write(path, ranges, parts) != EMBER_OK)
        die("cannot write the index");
    send_progress(TASK_PHASE__PHASE_SORT, 0.95f);
    add_counter("map_output_records", (int64_t)parts * records);
    free(ranges);
    free(value);
    send_done(bytes);
    return 0;
}

/* ---- events and fetches -------------------------------------------------------------- */

typedef struct {
    char attempt[256];
    uint32_t map_index, rank;
} event;

/* Polls until want events came or the job failed; returns the count. */
static size_t poll_events(event *out, size_t want, int *job_failed) {
    size_t n = 0;
    *job_failed = 0;
    while (n < want && !*job_failed) {
        TaskMapEventsRequest r = TASK_MAP_EVENTS_REQUEST__INIT;
        r.from = (uint32_t)n;
        TaskMessage m = TASK_MESSAGE__INIT;
        m.body_case = TASK_MESSAGE__BODY_MAP_EVENTS_REQUEST;
        m.map_events_request = &r;
        send_msg(&m);
        TaskMessage *a = recv_msg(NULL);
        if (a->body_case != TASK_MESSAGE__BODY_MAP_EVENTS)
            die("expected map events");
        *job_failed = a->map_events->job_failed;
        for (size_t i = 0; i < a->map_events->n_events && n < want; i++, n++) {
            snprintf(out[n].attempt, sizeof(out[n].attempt), "%s",
                     a->map_events->events[i]->attempt_id);
            out[n].map_index = a->map_events->events[i]->map_index;
            out[n].rank = a->map_events->events[i]->rank;
        }
        task_message__free_unpacked(a, NULL);
        if (n < want && !*job_failed)
            send_progress(TASK_PHASE__PHASE_SHUFFLE, 0.1f);
    }
    return n;
}

/* The segment of partition part in the map attempt's file.out next to
 * our own output directory: 1 when buf[0, len) equals it. */
static int segment_matches(const char *map_attempt, uint32_t part, const uint8_t *buf,
                           uint64_t len) {
    char base[4096], path[8192];
    snprintf(base, sizeof(base), "%s", as->output_dir);
    char *jobdir = dirname(base);
    snprintf(path, sizeof(path), "%s/%s/file.out.index", jobdir, map_attempt);
    ifile_range ranges[64];
    uint32_t parts = as->job->reduces > 0 ? as->job->reduces : 1;
    if (parts > 64 || ifile_index_read(path, ranges, parts) != EMBER_OK)
        return 0;
    if (ranges[part].length != len)
        return 0;
    snprintf(path, sizeof(path), "%s/%s/file.out", jobdir, map_attempt);
    int fd = open(path, O_RDONLY);
    uint8_t *want = malloc(len);
    int same = fd >= 0 && want != NULL &&
               pread(fd, want, len, (off_t)ranges[part].offset) == (ssize_t)len &&
               memcmp(want, buf, len) == 0;
    free(want);
    if (fd >= 0)
        close(fd);
    return same;
}

/* Records in an IFile segment held in memory; -1 when it is corrupt. */
static long count_records(const uint8_t *buf, uint64_t len) {
    ifile_reader r;
    ifile_reader_open_memory(&r, buf, len);
    long n = 0;
    kv_record rec;
    int rc;
    while ((rc = r.base.next(&r.base, &rec)) == 1)
        n++;
    ifile_reader_close(&r);
    return rc == 0 ? n : -1;
}

/* One fetch, answered at once (this task keeps one in flight). */
static void fetch_one(uint64_t id, const char *attempt, uint32_t map_index, uint32_t rank,
                      int64_t *fetched, int64_t *bytes, int64_t *records) {
    TaskFetchRequest r = TASK_FETCH_REQUEST__INIT;
    r.request_id = id;
    r.map_attempt_id = (char *)attempt;
    r.map_index = map_index;
    r.rank = rank;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_FETCH_REQUEST;
    m.fetch_request = &r;
    send_msg(&m);
    int fd;
    TaskMessage *a = recv_msg(&fd);
    if (a->body_case != TASK_MESSAGE__BODY_FETCH_RESPONSE || a->fetch_response->request_id != id)
        die("expected the fetch's answer");
    char name[64];
    if (a->fetch_response->code != 0) {
        snprintf(name, sizeof(name), "code.%llu", (unsigned long long)id);
        add_counter(name, a->fetch_response->code);
        fprintf(stderr, "fetch %llu: %s\n", (unsigned long long)id, a->fetch_response->message);
    } else {
        uint64_t len = a->fetch_response->length;
        struct stat st;
        void *p = fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == len
                      ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0)
                      : MAP_FAILED;
        if (p == MAP_FAILED)
            die("no usable memfd with the segment");
        *fetched += segment_matches(attempt, as->task_index, p, len);
        *bytes += (int64_t)len;
        long n = count_records(p, len);
        *records += n;
        munmap(p, len);
    }
    if (fd >= 0)
        close(fd);
    task_message__free_unpacked(a, NULL);
}

static int run_fetch(void) {
    size_t want = (size_t)atol(conf("test.task.events", "1"));
    event *ev = calloc(want + 1, sizeof(*ev));
    int job_failed;
    send_progress(TASK_PHASE__PHASE_SHUFFLE, 0.0f);
    size_t n = poll_events(ev, want, &job_failed);
    int64_t fetched = 0, bytes = 0, records = 0;
    uint64_t id = 1;
    for (size_t i = 0; i < n; i++, id++)
        fetch_one(id, ev[i].attempt, ev[i].map_index, ev[i].rank, &fetched, &bytes, &records);
    char extra[1024];
    snprintf(extra, sizeof(extra), "%s", conf("test.task.fetch.extra", ""));
    char *save = NULL;
    for (char *item = strtok_r(extra, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save), id++) {
        char *colon = strchr(item, ':');
        if (colon == NULL)
            die("test.task.fetch.extra: attempt:rank");
        *colon = '\0';
        fetch_one(id, item, 0, (uint32_t)atol(colon + 1), &fetched, &bytes, &records);
    }
    send_progress(TASK_PHASE__PHASE_REDUCE, 0.9f);
    add_counter("fetched", fetched);
    add_counter("bytes", bytes);
    add_counter("records", records);
    free(ev);
    send_done(0);
    return 0;
}

/* Many fetches in flight at once: the worker bounds how many it asks. */
static int run_fetchmany(void) {
    long count = atol(conf("test.task.fetch.count", "1"));
    TaskFetchRequest r = TASK_FETCH_REQUEST__INIT;
    r.map_attempt_id = (char *)conf("test.task.fetch.attempt", "none");
    r.rank = (uint32_t)atol(conf("test.task.fetch.rank", "0"));
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_FETCH_REQUEST;
    m.fetch_request = &r;
    for (long i = 1; i <= count; i++) {
        r.request_id = (uint64_t)i;
        send_msg(&m);
    }
    int64_t answered = 0;
    for (long i = 0; i < count; i++) {
        int fd;
        TaskMessage *a = recv_msg(&fd);
        if (a->body_case != TASK_MESSAGE__BODY_FETCH_RESPONSE)
            die("expected fetch answers");
        answered++;
        if (a->fetch_response->code != 0) {
            char name[64];
            snprintf(name, sizeof(name), "code.%llu",
                     (unsigned long long)a->fetch_response->request_id);
            add_counter(name, a->fetch_response->code);
        }
        if (fd >= 0)
            close(fd);
        task_message__free_unpacked(a, NULL);
    }
    add_counter("answered", answered);
    send_done(0);
    return 0;
}

/* The range of a TaskBlockReadResponse in fd: 1 when it holds the
 * response's length bytes, each 512-byte chunk with its CRC32C. */
static int block_range_ok(const TaskBlockReadResponse *r, int fd) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != r->length || r->length == 0 ||
        r->n_crcs != (r->length + 511) / 512)
        return 0;
    uint8_t *p = mmap(NULL, r->length, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 0;
    int ok = 1;
    for (size_t c = 0; c < r->n_crcs && ok; c++) {
        uint64_t left = r->length - c * 512;
        ok = crc32c(0, p + c * 512, left < 512 ? (size_t)left : 512) == r->crcs[c];
    }
    munmap(p, r->length);
    return ok;
}

/* One TaskBlockReadRequest per rank listed, then their answers. */
static int run_blockread(void) {
    char ranks[256], name[64];
    snprintf(ranks, sizeof(ranks), "%s", conf("test.task.block.ranks", "1"));
    uint8_t mac[32];
    memset(mac, 0x5a, sizeof(mac));
    BlockToken token = BLOCK_TOKEN__INIT;
    token.block_id = (uint64_t)atoll(conf("test.task.block.id", "77"));
    token.gen_stamp = token.block_id + 1000;
    token.mode = 1;
    token.expiry_ms = INT64_MAX;
    token.mac.data = mac;
    token.mac.len = sizeof(mac);
    ReadBlockRequest rr = READ_BLOCK_REQUEST__INIT;
    rr.block_id = token.block_id;
    rr.gen_stamp = token.gen_stamp;
    rr.token = &token;
    rr.length = (uint64_t)atoll(conf("test.task.block.length", "4096"));
    uint64_t offset = (uint64_t)atoll(conf("test.task.block.offset", "0"));
    uint64_t stride = (uint64_t)atoll(conf("test.task.block.stride", "0"));
    TaskBlockReadRequest r = TASK_BLOCK_READ_REQUEST__INIT;
    r.read = &rr;
    r.timeout_ms = (uint32_t)atol(conf("test.task.block.timeout", "20000"));
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_BLOCK_READ_REQUEST;
    m.block_read_request = &r;
    uint64_t count = 0;
    char *save = NULL;
    for (char *rank = strtok_r(ranks, ",", &save); rank != NULL;
         rank = strtok_r(NULL, ",", &save)) {
        r.request_id = ++count;
        r.rank = (uint32_t)strtoul(rank, NULL, 10);
        rr.offset = offset + (count - 1) * stride;
        send_msg(&m);
    }
    for (uint64_t i = 0; i < count; i++) {
        int fd;
        TaskMessage *a = recv_msg(&fd);
        if (a->body_case != TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE)
            die("expected block read answers");
        const TaskBlockReadResponse *b = a->block_read_response;
        unsigned long long id = (unsigned long long)b->request_id;
        snprintf(name, sizeof(name), "code.%llu", id);
        add_counter(name, b->code);
        if (b->code != 0) {
            fprintf(stderr, "block read %llu: %s\n", id, b->message);
        } else {
            snprintf(name, sizeof(name), "offset.%llu", id);
            add_counter(name, (int64_t)b->offset);
            snprintf(name, sizeof(name), "length.%llu", id);
            add_counter(name, (int64_t)b->length);
            snprintf(name, sizeof(name), "crcs.%llu", id);
            add_counter(name, (int64_t)b->n_crcs);
            snprintf(name, sizeof(name), "crcok.%llu", id);
            add_counter(name, block_range_ok(b, fd));
        }
        if (fd >= 0)
            close(fd);
        task_message__free_unpacked(a, NULL);
    }
    send_done(0);
    return 0;
}

static int run_events(void) {
    size_t want = (size_t)atol(conf("test.task.events", "2"));
    event *ev = calloc(want + 1, sizeof(*ev));
    int job_failed;
    size_t n = poll_events(ev, want, &job_failed);
    add_counter("events", (int64_t)n);
    add_counter("job_failed", job_failed);
    add_counter("last_map", n > 0 ? ev[n - 1].map_index : -1);
    free(ev);
    send_done(0);
    return 0;
}

static int run_commit(void) {
    TaskCommitRequest c = TASK_COMMIT_REQUEST__INIT;
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_COMMIT_REQUEST;
    m.commit_request = &c;
    send_msg(&m);
    TaskMessage *a = recv_msg(NULL);
    if (a->body_case != TASK_MESSAGE__BODY_COMMIT_RESPONSE)
        die("expected the commit answer");
    add_counter("allowed", a->commit_response->allowed);
    task_message__free_unpacked(a, NULL);
    send_done(0);
    return 0;
}

static void connect_umbilical(const char *path, const char *attempt) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        die("cannot connect to the umbilical");
    TaskHello h = TASK_HELLO__INIT;
    h.attempt_id = (char *)attempt;
    h.pid = (uint32_t)getpid();
    TaskMessage m = TASK_MESSAGE__INIT;
    m.body_case = TASK_MESSAGE__BODY_HELLO;
    m.hello = &h;
    send_msg(&m);
    TaskMessage *a = recv_msg(NULL);
    if (a->body_case != TASK_MESSAGE__BODY_ASSIGNMENT)
        die("expected the assignment");
    as = a->assignment;
    a->assignment = NULL;
    a->body_case = TASK_MESSAGE__BODY__NOT_SET;
    task_message__free_unpacked(a, NULL);
}

int main(int argc, char **argv) {
    if (argc != 6 || strcmp(argv[1], "task") != 0 || strcmp(argv[2], "--umbilical") != 0 ||
        strcmp(argv[4], "--attempt") != 0)
        die("usage: mr_test_task task --umbilical SOCK --attempt ID");
    const char *delay = getenv("MR_TEST_TASK_DELAY_MS"); /* a late hello */
    if (delay != NULL)
        usleep((useconds_t)atoi(delay) * 1000);
    connect_umbilical(argv[3], argv[5]);
    const char *mode = conf("test.task.mode", "map");
    fprintf(stderr, "mr_test_task: %s runs as %s in %s\n", as->attempt_id, mode, as->output_dir);
    int rc = 0;
    if (strcmp(mode, "map") == 0) {
        rc = run_map();
    } else if (strcmp(mode, "fail") == 0) {
        fprintf(stderr, "boom\n");
        TaskFailed f = TASK_FAILED__INIT;
        f.diagnostic = "test failure: boom";
        TaskMessage m = TASK_MESSAGE__INIT;
        m.body_case = TASK_MESSAGE__BODY_FAILED;
        m.failed = &f;
        send_msg(&m);
        rc = 3;
    } else if (strcmp(mode, "exit3") == 0) {
        fprintf(stderr, "exiting with 3\n");
        rc = 3;
    } else if (strcmp(mode, "segv") == 0) {
        signal(SIGSEGV, SIG_DFL); /* not the sanitizer's report: the signal itself */
        raise(SIGSEGV);
    } else if (strcmp(mode, "hang") == 0 || strcmp(mode, "lost") == 0) {
        if (strcmp(mode, "lost") == 0)
            close(sock);
        for (;;)
            pause();
    } else if (strcmp(mode, "exit0") == 0) {
        rc = 0;
    } else if (strcmp(mode, "commit") == 0) {
        rc = run_commit();
    } else if (strcmp(mode, "events") == 0) {
        rc = run_events();
    } else if (strcmp(mode, "fetch") == 0) {
        rc = run_fetch();
    } else if (strcmp(mode, "fetchmany") == 0) {
        rc = run_fetchmany();
    } else if (strcmp(mode, "blockread") == 0) {
        rc = run_blockread();
    } else {
        die("unknown test.task.mode");
    }
    task_assignment__free_unpacked(as, NULL);
    return rc;
}
