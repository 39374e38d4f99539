/* datanode_fixture.h -- the test fixture shared by test_datanode.c and
 * test_datanode_replication.c: three datanodes (ranks 1..3) in one process
 * on one event loop, each with its own mkdtemp() data directory, a fake rank
 * transport (a queue drained by a loop hook; messages for rank 0, the fake
 * primary, are recorded: BlockReceived, BlockReport, IncrementalBlockReport,
 * bad_replica, ReplicaRecoveryInfo), clients in forked children, and helpers to look
 * at replicas on disk.  It also defines fsync() for the executable: every
 * call is recorded by path and thread (the datanodes run in the test's
 * process, so their fsyncs of replica files can be counted, and those made
 * on the loop's thread told from their disk threads'), held at a gate the
 * test closes when it is not the loop's, and then made.  Included
 * by exactly one test file per executable; each uses part of it, hence
 * the unused-function pragmas. */
#ifndef EMBER_DATANODE_FIXTURE_H
#define EMBER_DATANODE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/checksum.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "datanode/block_store.h"
#include "datanode/datanode.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"
#include "test_util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#define NODES 3 /* datanodes are ranks 1..NODES; rank 0 is the fake primary */
#define SECRET "0123456789abcdef0123456789abcdef"
#define IO_TIMEOUT_MS 300
#define CHILD_DEADLINE_MS 5000
#define PACKET 65536u
#define MAX_RECORDS 32

/* ---- fsync, recorded and gated --------------------------------------------------- */

#define MAX_FSYNCS 256
static char fsync_paths[MAX_FSYNCS][256]; /* the files fsync() was called on, in order */
static int fsync_on_loop[MAX_FSYNCS];     /* ... each made on the loop's (the test's) thread */
static int nfsyncs;
static pthread_mutex_t fsync_lock = PTHREAD_MUTEX_INITIALIZER; /* the above, and the gate */
static pthread_cond_t fsync_opened = PTHREAD_COND_INITIALIZER;
static char fsync_gate[256]; /* fsyncs off the loop's thread of paths containing this wait */
static int fsync_waiting;    /* ... how many wait now */

/* Interposes libc's fsync for this executable (ember_core is linked in
 * statically): records the path of fd and whether the loop's thread (the
 * process's main thread) made the call; a call from another thread (the
 * datanodes' disk threads) on a path the gate names waits until the test
 * opens the gate (fsync_gate_set(NULL)); then syncs. */
int fsync(int fd) {
    char link[64], path[256];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    int on_loop = (pid_t)syscall(SYS_gettid) == getpid();
    pthread_mutex_lock(&fsync_lock);
    if (n > 0 && nfsyncs < MAX_FSYNCS) {
        memcpy(fsync_paths[nfsyncs], path, (size_t)n + 1);
        fsync_on_loop[nfsyncs++] = on_loop;
    }
    while (!on_loop && fsync_gate[0] != '\0' && strstr(path, fsync_gate) != NULL) {
        fsync_waiting++;
        pthread_cond_wait(&fsync_opened, &fsync_lock);
        fsync_waiting--;
    }
    pthread_mutex_unlock(&fsync_lock);
    return (int)syscall(SYS_fsync, fd);
}

/* Closes the gate for paths containing what (NULL: opens it). */
static void fsync_gate_set(const char *what) {
    pthread_mutex_lock(&fsync_lock);
    snprintf(fsync_gate, sizeof(fsync_gate), "%s", what != NULL ? what : "");
    pthread_cond_broadcast(&fsync_opened);
    pthread_mutex_unlock(&fsync_lock);
}

/* fsyncs waiting at the gate now. */
static int fsync_gate_waiting(void) {
    pthread_mutex_lock(&fsync_lock);
    int n = fsync_waiting;
    pthread_mutex_unlock(&fsync_lock);
    return n;
}

/* Forgets the fsyncs recorded so far. */
static void fsync_reset(void) {
    pthread_mutex_lock(&fsync_lock);
    nfsyncs = 0;
    pthread_mutex_unlock(&fsync_lock);
}

/* fsyncs recorded on paths containing what, made on the loop's thread
 * (on_loop 1) or on another (0). */
static int fsyncs_of(const char *what, int on_loop) {
    pthread_mutex_lock(&fsync_lock);
    int count = 0;
    for (int i = 0; i < nfsyncs; i++)
        count += strstr(fsync_paths[i], what) != NULL && fsync_on_loop[i] == on_loop;
    pthread_mutex_unlock(&fsync_lock);
    return count;
}

/* ---- fixture: three datanodes and a fake transport ----------------------------- */

typedef struct queued {
    int source, dest;
    uint8_t *bytes;
    size_t len;
    uint8_t *payload; /* a bulk payload (the header is bytes), owned; else NULL */
    struct queued *next;
} queued;

/* A bulk transfer's end, for datanode_bulk_done() at the next turn. */
typedef struct completion {
    void *done_arg, *buf;
    int status;
    struct completion *next;
} completion;

struct fixture;

typedef struct {
    struct fixture *f;
    int rank;
} endpoint;

typedef struct {
    int source;
    uint64_t block_id, gen_stamp, length;
} received_record;

typedef struct {
    int source;
    uint64_t block_id;
    uint32_t rank;
} bad_record;

typedef struct {
    int source;
    uint32_t seq;
    int last;
    size_t n;
    uint64_t ids[8], gss[8], lens[8];
    size_t nrbw; /* the rbw replicas listed (last piece) */
    uint64_t rbw_ids[8], rbw_gss[8], rbw_lens[8];
} report_record;

typedef struct {
    int source;
    uint64_t block_id, recovery_id, gen_stamp, length;
    int found, finalized;
} recovery_record; /* a ReplicaRecoveryInfo */

typedef struct {
    int source;
    size_t nreceived, ndeleted; /* entries in the message (the first 8 kept) */
    uint64_t received_ids[8], received_gss[8], received_lens[8];
    uint64_t deleted_ids[8];
} incremental_record; /* an IncrementalBlockReport */

struct fixture {
    char tmp[64];
    char dirs[NODES + 1][128];
    event_loop *loop;
    datanode *dn[NODES + 1];
    endpoint ep[NODES + 1];
    queued *head, *tail;
    int drop_to;               /* messages to this rank vanish (-1: none) */
    int packets_to[NODES + 1]; /* PipelinePackets delivered per rank */
    int acks_to[NODES + 1];    /* PipelineAcks delivered per rank */
    int packets_from[NODES + 1];
    int max_inflight[NODES + 1]; /* most packets a rank had sent and not been acked */
    received_record received[MAX_RECORDS];
    int nreceived;
    report_record reports[MAX_RECORDS];
    int nreports;
    bad_record bad[MAX_RECORDS]; /* RankMessage.bad_replica */
    int nbad;
    recovery_record recoveries[MAX_RECORDS];
    int nrecoveries;
    incremental_record incrementals[MAX_RECORDS];
    int nincrementals;
    int64_t io_timeout_ms; /* for nodes started from now on (0: IO_TIMEOUT_MS) */
    int64_t dirscan_ms;    /* ... and their directory scan interval (0: none) */
    int sync_on_close;     /* ... and dfs.datanode.synconclose */
    int unexpected;        /* messages nobody took */
    int full_to;           /* data sends to this rank answer EMBER_EAGAIN ... (-1: none) */
    int64_t full_until_ms; /* ... until then; the hook then calls datanode_on_writable() */
    int refused;           /* data sends answered EMBER_EAGAIN */
    int no_bulk;           /* nodes started from now on send packet data inline */
    queued *delivering;    /* the message being delivered, its payload claimable */
    completion *done;      /* bulk transfers ended, newest first (completed that way) */
    int bulk_sent, bulk_received; /* payloads sent and claimed */
    int lose_payloads_to;         /* payloads claimed by this rank never arrive (0: none) */
    /* Messages to ranks above NODES (a worker, say) go here when set (the
     * payload of q still claimable: take q->payload to keep it); else
     * they vanish. */
    void (*take_other)(struct fixture *f, queued *q, const RankMessage *msg);
};

static int fake_send(void *arg, int dest, const RankMessage *msg) {
    endpoint *ep = arg;
    struct fixture *f = ep->f;
    if (dest == f->drop_to)
        return EMBER_OK;
    queued *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return EMBER_ENOMEM;
    q->len = protobuf_c_message_get_packed_size(&msg->base);
    q->bytes = malloc(q->len + 1);
    if (q->bytes == NULL) {
        free(q);
        return EMBER_ENOMEM;
    }
    protobuf_c_message_pack(&msg->base, q->bytes);
    q->source = ep->rank;
    q->dest = dest;
    if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_PACKET) {
        int inflight = ++f->packets_from[ep->rank] - f->acks_to[ep->rank];
        if (inflight > f->max_inflight[ep->rank])
            f->max_inflight[ep->rank] = inflight;
    }
    if (f->tail != NULL)
        f->tail->next = q;
    else
        f->head = q;
    f->tail = q;
    return EMBER_OK;
}

/* The data class: refused while f->full_to is full, else fake_send. */
static int fake_send_data(void *arg, int dest, const RankMessage *msg) {
    endpoint *ep = arg;
    struct fixture *f = ep->f;
    if (dest == f->full_to) {
        f->refused++;
        return EMBER_EAGAIN;
    }
    return fake_send(arg, dest, msg);
}

/* Remembers that a bulk transfer ended, for the next turn. */
static int fake_complete(struct fixture *f, void *done_arg, void *buf, int status) {
    completion *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return EMBER_ENOMEM;
    *c = (completion){.done_arg = done_arg, .buf = buf, .status = status, .next = f->done};
    f->done = c;
    return EMBER_OK;
}

/* Ends the bulk transfers of the last turns, newest first: a pipeline's
 * payloads complete out of order, as they may over MPI. */
static void fake_run_completions(struct fixture *f) {
    completion *c = f->done;
    f->done = NULL;
    while (c != NULL) {
        completion *next = c->next;
        datanode_bulk_done(c->status, c->buf, c->done_arg);
        free(c);
        c = next;
    }
}

/* Bulk: the header goes as a message (data class) carrying a copy of the
 * payload, which the receiver claims while it is delivered; the sender's
 * transfer ends at the next turn (timed out when dest's messages
 * vanish). */
static int fake_send_bulk(void *arg, int dest, const RankMessage *header, const void *data,
                          uint64_t len, void *done_arg) {
    endpoint *ep = arg;
    struct fixture *f = ep->f;
    RankMessage h = *header;
    h.bulk_length = len;
    h.bulk_tag = 101;
    h.bulk_chunk = (uint32_t)len;
    queued *tail = f->tail;
    int rc = fake_send_data(arg, dest, &h);
    if (rc != EMBER_OK)
        return rc;
    if (f->tail != tail && f->tail != NULL) { /* queued, not dropped */
        f->tail->payload = malloc(len);
        assert_non_null(f->tail->payload);
        memcpy(f->tail->payload, data, len);
    }
    f->bulk_sent++;
    return fake_complete(f, done_arg, (void *)data,
                         dest == f->drop_to ? EMBER_ETIMEDOUT : EMBER_OK);
}

static int fake_recv_bulk(void *arg, int source, const RankMessage *header, void *buf,
                          void *done_arg) {
    endpoint *ep = arg;
    struct fixture *f = ep->f;
    queued *q = f->delivering;
    if (q == NULL || q->payload == NULL || q->source != source || q->dest != ep->rank ||
        header->bulk_length == 0)
        return EMBER_EINVAL;
    memcpy(buf, q->payload, header->bulk_length);
    free(q->payload);
    q->payload = NULL; /* claimed once */
    f->bulk_received++;
    return fake_complete(f, done_arg, buf,
                         ep->rank == f->lose_payloads_to ? EMBER_ETIMEDOUT : EMBER_OK);
}

/* The fake primary keeps what it is told. */
static void primary_take(struct fixture *f, int source, const RankMessage *msg) {
    if (msg->body_case == RANK_MESSAGE__BODY_BLOCK_RECEIVED && f->nreceived < MAX_RECORDS) {
        const BlockReceived *b = msg->block_received;
        f->received[f->nreceived++] =
            (received_record){source, b->block_id, b->gen_stamp, b->length};
    } else if (msg->body_case == RANK_MESSAGE__BODY_BLOCK_REPORT && f->nreports < MAX_RECORDS) {
        const BlockReport *r = msg->block_report;
        report_record *rec = &f->reports[f->nreports++];
        rec->source = source;
        rec->seq = r->seq;
        rec->last = r->last;
        rec->n = r->n_block_ids;
        for (size_t i = 0; i < r->n_block_ids && i < 8; i++) {
            rec->ids[i] = r->block_ids[i];
            rec->gss[i] = r->gen_stamps[i];
            rec->lens[i] = r->lengths[i];
        }
        rec->nrbw = r->n_rbw_block_ids;
        for (size_t i = 0; i < r->n_rbw_block_ids && i < 8; i++) {
            rec->rbw_ids[i] = r->rbw_block_ids[i];
            rec->rbw_gss[i] = r->rbw_gen_stamps[i];
            rec->rbw_lens[i] = r->rbw_lengths[i];
        }
    } else if (msg->body_case == RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO &&
               f->nrecoveries < MAX_RECORDS) {
        const ReplicaRecoveryInfo *ri = msg->replica_recovery_info;
        f->recoveries[f->nrecoveries++] =
            (recovery_record){source,     ri->block_id, ri->recovery_id, ri->gen_stamp,
                              ri->length, ri->found,    ri->finalized};
    } else if (msg->body_case == RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT &&
               f->nincrementals < MAX_RECORDS) {
        const IncrementalBlockReport *ibr = msg->incremental_block_report;
        incremental_record *rec = &f->incrementals[f->nincrementals++];
        rec->source = source;
        rec->nreceived = ibr->n_received_block_ids;
        rec->ndeleted = ibr->n_deleted_block_ids;
        for (size_t i = 0; i < ibr->n_received_block_ids && i < 8; i++) {
            rec->received_ids[i] = ibr->received_block_ids[i];
            rec->received_gss[i] = ibr->received_gen_stamps[i];
            rec->received_lens[i] = ibr->received_lengths[i];
        }
        for (size_t i = 0; i < ibr->n_deleted_block_ids && i < 8; i++)
            rec->deleted_ids[i] = ibr->deleted_block_ids[i];
    } else if (msg->body_case == RANK_MESSAGE__BODY_BAD_REPLICA && f->nbad < MAX_RECORDS) {
        f->bad[f->nbad++] =
            (bad_record){source, msg->bad_replica->block_id, msg->bad_replica->rank};
    } else {
        f->unexpected++;
    }
}

/* Loop hook: delivers what the transport holds. */
static int transport_hook(event_loop *loop, void *arg) {
    (void)loop;
    struct fixture *f = arg;
    if (f->full_to >= 0 && clock_monotonic_ms() >= f->full_until_ms) {
        int dest = f->full_to;
        f->full_to = -1; /* it drained: everyone may send to it again */
        for (int r = 1; r <= NODES; r++)
            if (f->dn[r] != NULL)
                datanode_on_writable(f->dn[r], dest);
    }
    fake_run_completions(f);
    for (int budget = 10000; f->head != NULL && budget > 0; budget--) {
        queued *q = f->head;
        f->head = q->next;
        if (f->head == NULL)
            f->tail = NULL;
        RankMessage *msg = NULL;
        if (message_decode_rank(q->bytes, q->len, &msg) != EMBER_OK) {
            f->unexpected++;
        } else if (q->dest == 0) {
            primary_take(f, q->source, msg);
            rank_message__free_unpacked(msg, NULL);
        } else if (q->dest > NODES && f->take_other != NULL) {
            f->take_other(f, q, msg);
            rank_message__free_unpacked(msg, NULL);
        } else if (q->dest > NODES || f->dn[q->dest] == NULL) {
            rank_message__free_unpacked(msg, NULL);
        } else {
            if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_PACKET)
                f->packets_to[q->dest]++;
            if (msg->body_case == RANK_MESSAGE__BODY_PIPELINE_ACK)
                f->acks_to[q->dest]++;
            switch (msg->body_case) {
            case RANK_MESSAGE__BODY_PIPELINE_PACKET:
            case RANK_MESSAGE__BODY_PIPELINE_ACK:
            case RANK_MESSAGE__BODY_DELETE_BLOCKS:
            case RANK_MESSAGE__BODY_REPLICATE_BLOCK:
            case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
            case RANK_MESSAGE__BODY_UPDATE_REPLICA:
            case RANK_MESSAGE__BODY_BLOCK_READ_REQUEST:
                f->delivering = q;
                datanode_on_rank_message(f->dn[q->dest], q->source, msg);
                f->delivering = NULL;
                break;
            default: f->unexpected++; break;
            }
            rank_message__free_unpacked(msg, NULL);
        }
        free(q->bytes);
        free(q->payload); /* unclaimed */
        free(q);
    }
    return f->head != NULL || f->done != NULL ? 0 : -1;
}

/* Starts rank's datanode on its directory (block scanner at scan_rate
 * bytes/s, 0: off) and gives it the secret. */
static int start_node(struct fixture *f, int rank, int64_t scan_rate, int64_t scan_period_ms) {
    datanode_options o = {.rank = rank,
                          .primary_rank = 0,
                          .data_dirs = f->dirs[rank],
                          .bind_addr = "127.0.0.1",
                          .port = 0,
                          .io_timeout_ms = f->io_timeout_ms > 0 ? f->io_timeout_ms : IO_TIMEOUT_MS,
                          .scan_bytes_per_sec = scan_rate,
                          .scan_period_ms = scan_period_ms,
                          .directory_scan_interval_ms = f->dirscan_ms,
                          .sync_on_close = f->sync_on_close,
                          .send = fake_send,
                          .send_data = fake_send_data,
                          .send_bulk = f->no_bulk ? NULL : fake_send_bulk,
                          .recv_bulk = f->no_bulk ? NULL : fake_recv_bulk,
                          .send_arg = &f->ep[rank]};
    char err[256];
    int rc = datanode_create(f->loop, &o, &f->dn[rank], err, sizeof(err));
    if (rc != EMBER_OK) {
        fprintf(stderr, "datanode_create: %s\n", err);
        return rc;
    }
    datanode_set_secret(f->dn[rank], SECRET);
    return EMBER_OK;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->drop_to = -1;
    f->full_to = -1;
    strcpy(f->tmp, "/tmp/ember_test_datanode_XXXXXX");
    if (mkdtemp(f->tmp) == NULL || event_loop_create(&f->loop) != EMBER_OK ||
        event_loop_add_hook(f->loop, transport_hook, f) != EMBER_OK) {
        free(f);
        return -1;
    }
    for (int r = 1; r <= NODES; r++) {
        snprintf(f->dirs[r], sizeof(f->dirs[r]), "%s/node%d", f->tmp, r);
        f->ep[r] = (endpoint){f, r};
        if (start_node(f, r, 0, 0) != EMBER_OK)
            return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    fsync_gate_set(NULL); /* a failed test may leave disk threads waiting */
    for (int r = 1; r <= NODES; r++)
        datanode_destroy(f->dn[r]);
    fake_run_completions(f); /* the destroyed datanodes' transfers: their buffers freed */
    while (f->head != NULL) {
        queued *q = f->head;
        f->head = q->next;
        free(q->bytes);
        free(q->payload);
        free(q);
    }
    event_loop_destroy(f->loop);
    test_rm_tree(f->tmp);
    free(f);
    return 0;
}

/* Runs the loop until pred(f, arg) holds or timeout_ms pass. */
static int run_until(struct fixture *f, int (*pred)(struct fixture *, const void *),
                     const void *arg, int64_t timeout_ms) {
    int64_t deadline = clock_monotonic_ms() + timeout_ms;
    while (!pred(f, arg)) {
        if (clock_monotonic_ms() > deadline)
            return 0;
        event_loop_run_once(f->loop, 10);
    }
    return 1;
}

static int never(struct fixture *f, const void *arg) {
    (void)f;
    (void)arg;
    return 0;
}

/* Runs the loop for ms (to let timers and the transport settle). */
static void run_for(struct fixture *f, int64_t ms) { run_until(f, never, NULL, ms); }

/* Stops rank's datanode and starts it again on the same directory (no
 * block scanner), as a datanode restart does. */
static void restart_node(struct fixture *f, int rank) {
    datanode_destroy(f->dn[rank]);
    f->dn[rank] = NULL;
    assert_int_equal(start_node(f, rank, 0, 0), 0);
}

/* ---- replicas on disk ------------------------------------------------------------- */

/* Files of block id under rank's current/<sub> (blk_<id> and its meta). */
static int replica_files(struct fixture *f, int rank, uint64_t id, const char *sub) {
    char path[256], name[64], meta[64];
    snprintf(path, sizeof(path), "%s/current/%s", f->dirs[rank], sub);
    snprintf(name, sizeof(name), "blk_%llu", (unsigned long long)id);
    snprintf(meta, sizeof(meta), "blk_%llu_", (unsigned long long)id);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, name) == 0 || strncmp(e->d_name, meta, strlen(meta)) == 0;
    closedir(d);
    return n;
}

/* No file of the block on any node. */
static int no_replica_anywhere(struct fixture *f, const void *arg) {
    uint64_t id = *(const uint64_t *)arg;
    for (int r = 1; r <= NODES; r++)
        if (replica_files(f, r, id, "rbw") + replica_files(f, r, id, "finalized") > 0)
            return 0;
    return 1;
}

static int received_count(struct fixture *f, uint64_t id) {
    int n = 0;
    for (int i = 0; i < f->nreceived; i++)
        n += f->received[i].block_id == id;
    return n;
}

/* fsync() calls, since nfsyncs was last reset, on rank's rbw files of
 * block id: its data file (meta = 0) or its meta file (meta = 1). */
static int rbw_fsyncs(struct fixture *f, int rank, uint64_t id, int meta) {
    char data[256], prefix[260];
    snprintf(data, sizeof(data), "%s/current/rbw/blk_%llu", f->dirs[rank], (unsigned long long)id);
    snprintf(prefix, sizeof(prefix), "%s_", data);
    int n = 0;
    pthread_mutex_lock(&fsync_lock);
    for (int i = 0; i < nfsyncs; i++) {
        const char *p = fsync_paths[i];
        size_t len = strlen(p);
        if (!meta)
            n += strcmp(p, data) == 0;
        else
            n += strncmp(p, prefix, strlen(prefix)) == 0 && len > 5 &&
                 strcmp(p + len - 5, ".meta") == 0;
    }
    pthread_mutex_unlock(&fsync_lock);
    return n;
}

/* Size of rank's rbw data file of block id (-1: none). */
static long long rbw_data_size(struct fixture *f, int rank, uint64_t id) {
    char path[256];
    snprintf(path, sizeof(path), "%s/current/rbw/blk_%llu", f->dirs[rank], (unsigned long long)id);
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int more_reports(struct fixture *f, const void *arg) {
    return f->nreports > *(const int *)arg;
}

/* Has rank send a block report and returns the valid length its last
 * piece gives for an rbw replica of id at gen stamp gs, or -1 when it
 * lists none (-2: no report came). */
static long long reported_rbw(struct fixture *f, int rank, uint64_t id, uint64_t gs) {
    int before = f->nreports;
    datanode_send_block_report(f->dn[rank]);
    for (;;) {
        if (!run_until(f, more_reports, &before, 1000))
            return -2;
        const report_record *rep = &f->reports[before++];
        if (rep->source != rank || !rep->last)
            continue;
        for (size_t i = 0; i < rep->nrbw && i < 8; i++)
            if (rep->rbw_ids[i] == id && rep->rbw_gss[i] == gs)
                return (long long)rep->rbw_lens[i];
        return -1;
    }
}

/* Waits (up to timeout_ms) until rank reports an rbw replica of (id, gs)
 * -- its writer then stopped -- and returns its valid length, or -1. */
static long long wait_rbw(struct fixture *f, int rank, uint64_t id, uint64_t gs,
                          int64_t timeout_ms) {
    int64_t deadline = clock_monotonic_ms() + timeout_ms;
    for (;;) {
        f->nreports = 0; /* make room: only MAX_RECORDS reports are kept */
        long long len = reported_rbw(f, rank, id, gs);
        if (len >= 0 || clock_monotonic_ms() > deadline)
            return len;
        run_for(f, 30);
    }
}

/* ---- test data and tokens ---------------------------------------------------------- */

static void fill_data(uint8_t *buf, size_t len, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

typedef struct {
    const char *secret;
    uint32_t mode;     /* what the token says */
    int64_t expiry_ms; /* relative to now */
} token_spec;

static void make_token(BlockToken *t, uint8_t mac[AUTH_MAC_LEN], uint64_t id, uint64_t gs,
                       const token_spec *ts) {
    *t = (BlockToken)BLOCK_TOKEN__INIT;
    t->block_id = id;
    t->gen_stamp = gs;
    t->mode = ts->mode;
    t->expiry_ms = clock_wall_ms() + ts->expiry_ms;
    auth_block_token_mac(ts->secret, id, gs, ts->mode, t->expiry_ms, mac);
    t->mac.data = mac;
    t->mac.len = AUTH_MAC_LEN;
}

static const token_spec good_write = {SECRET, AUTH_TOKEN_WRITE, 60000};
static const token_spec good_read = {SECRET, AUTH_TOKEN_READ, 60000};

/* ---- the client, in a child process --------------------------------------------------- */

static int client_send(int fd, const DataMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_data(msg, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc != EMBER_OK)
        return rc;
    rc = socket_write_all(fd, buf, len, clock_monotonic_ms() + 2000);
    free(buf);
    return rc;
}

/* Next message, or NULL with *rc set (EMBER_ECLOSED at a clean end). */
static DataMessage *client_recv(int fd, frame_reader *reader, int64_t timeout_ms, int *rc) {
    const uint8_t *payload;
    size_t len;
    *rc = socket_read_frame(fd, reader, clock_monotonic_ms() + timeout_ms, &payload, &len);
    if (*rc != EMBER_OK)
        return NULL;
    DataMessage *msg;
    *rc = message_decode_data(payload, len, &msg);
    return *rc == EMBER_OK ? msg : NULL;
}

typedef struct {
    int port;
    uint64_t block_id, gen_stamp;
    token_spec token;
    uint32_t downstream[4];
    size_t n_downstream;
    const uint8_t *data;
    size_t len;
    int64_t corrupt_seqno; /* this packet's first CRC is wrong (-1: none) */
    int64_t close_after;   /* close after this many packets, reading nothing (-1: never) */
    int window;            /* packets sent ahead of the acks (0: all at once) */
    int half_close;        /* shut the sending side after the last packet */
    size_t packet_size;    /* data bytes per packet, a multiple of 512 (0: 64 KiB) */
    const size_t *sizes;   /* or each packet's size, nsizes packets (as after hflushes) */
    size_t nsizes;
    int64_t stall_after;       /* send this many packets, then only read replies (-1: never) */
    uint64_t append_gen_stamp; /* an append to the finalized replica of this gen stamp */
    uint64_t offset;           /* the first packet's offset (an append: the replica's length) */
    uint64_t recovery_gen_stamp; /* a pipeline recovery from replicas of this gen stamp on */
    uint64_t recovery_length;    /* ... cut to this length (offset, normally) */
    int64_t heartbeat_after;     /* after this many packets, heartbeat_count heartbeat packets
                                  * (-1: none) ... */
    int heartbeat_count;
    int heartbeat_gap_ms;        /* ... each after a sleep of this long */
    int64_t heartbeat_skew;      /* added to each heartbeat's offset (0: the right one) */
    int64_t sync_seqno;          /* this packet asks for hsync (-1: none) */
} write_spec;

typedef struct {
    int rc;       /* a client-side failure (0: none) */
    int npackets; /* packets sent */
    int nacks;    /* PacketAcks of data packets received */
    int acks_ok;  /* acks 0..nacks-1 all ok, in seqno order */
    int nheartbeats;  /* heartbeat packets sent */
    int nhb_acks;     /* their acks (marked heartbeat, not counted in nacks) */
    int hb_acks_ok;   /* each came right after the data acks sent before its heartbeat */
    int failed;   /* an ack with ok = 0 came */
    uint64_t failed_seqno;
    int failed_rank;
    char failed_message[200];
    int error_code; /* a DataError's code (0: none) */
    char error_message[200];
    int eof;            /* the datanode closed the connection at the end */
    int64_t elapsed_ms; /* first packet sent -> failed ack (or last reply) */
} write_result;

/* Reads one reply of a write into res.  Returns 0, or -1 at the end of
 * the connection (or any failure). */
static int child_write_reply(int fd, frame_reader *reader, int64_t start, write_result *res) {
    int rc;
    DataMessage *m = client_recv(fd, reader, 3000, &rc);
    if (m == NULL) {
        res->eof = rc == EMBER_ECLOSED;
        if (rc != EMBER_ECLOSED)
            res->rc = rc;
        return -1;
    }
    if (m->body_case == DATA_MESSAGE__BODY_ACK) {
        const PacketAck *a = m->ack;
        if (a->ok && a->heartbeat && !res->failed) {
            if (a->seqno != (uint64_t)res->nacks || res->nhb_acks >= res->nheartbeats)
                res->hb_acks_ok = 0;
            res->nhb_acks++;
        } else if (a->ok && !res->failed) {
            if (a->seqno != (uint64_t)res->nacks)
                res->acks_ok = 0;
            res->nacks++;
        } else if (!a->ok && !res->failed) {
            res->failed = 1;
            res->failed_seqno = a->seqno;
            res->failed_rank = a->failed_rank;
            snprintf(res->failed_message, sizeof(res->failed_message), "%s", a->message);
            res->elapsed_ms = clock_monotonic_ms() - start;
        } else {
            res->acks_ok = 0; /* anything after a failed ack */
        }
    } else if (m->body_case == DATA_MESSAGE__BODY_ERROR) {
        res->error_code = m->error->code;
        snprintf(res->error_message, sizeof(res->error_message), "%s", m->error->message);
    } else {
        res->rc = EMBER_EPROTO;
    }
    data_message__free_unpacked(m, NULL);
    return 0;
}

static void child_write(const void *arg, void *out) {
    const write_spec *s = arg;
    write_result *res = out;
    res->acks_ok = 1;
    res->hb_acks_ok = 1;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, s->block_id, s->gen_stamp, &s->token);
    WriteBlockRequest req = WRITE_BLOCK_REQUEST__INIT;
    req.block_id = s->block_id;
    req.gen_stamp = s->gen_stamp;
    req.token = &token;
    req.downstream = (uint32_t *)s->downstream;
    req.n_downstream = s->n_downstream;
    req.append_gen_stamp = s->append_gen_stamp;
    req.recovery_gen_stamp = s->recovery_gen_stamp;
    req.recovery_length = s->recovery_length;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_WRITE_BLOCK;
    msg.write_block = &req;
    res->rc = client_send(fd, &msg);

    /* Packets go out without waiting for their request's answer, up to
     * `window' ahead of the acks (all at once without a window). */
    int64_t start = clock_monotonic_ms();
    uint32_t crcs[PACKET / 512];
    size_t psize = s->packet_size ? s->packet_size : PACKET;
    size_t npk = s->len == 0 ? 1 : (s->len + psize - 1) / psize;
    if (s->sizes != NULL)
        npk = s->nsizes;
    size_t off = 0;
    int ended = 0;
    for (size_t k = 0; k < npk && res->rc == EMBER_OK && !ended; k++) {
        if (s->close_after >= 0 && (int64_t)k == s->close_after) {
            usleep(50 * 1000);
            close(fd);
            frame_reader_destroy(reader);
            return;
        }
        if (s->stall_after >= 0 && (int64_t)k == s->stall_after)
            break;
        while (s->window > 0 && (int64_t)k - res->nacks >= s->window && !ended)
            ended = child_write_reply(fd, reader, start, res) < 0 || res->failed ||
                    res->error_code != 0;
        if (ended)
            break;
        for (int h = 0; s->heartbeat_after == (int64_t)k && h < s->heartbeat_count; h++) {
            usleep((useconds_t)s->heartbeat_gap_ms * 1000);
            Packet hb = PACKET__INIT;
            hb.seqno = k;
            hb.offset = s->offset + off + (uint64_t)s->heartbeat_skew;
            hb.heartbeat = 1;
            DataMessage hm = DATA_MESSAGE__INIT;
            hm.body_case = DATA_MESSAGE__BODY_PACKET;
            hm.packet = &hb;
            if (client_send(fd, &hm) != EMBER_OK)
                break;
            res->nheartbeats++;
        }
        size_t n = s->sizes != NULL ? s->sizes[k] : s->len - off < psize ? s->len - off : psize;
        size_t nc = (n + 511) / 512;
        for (size_t c = 0; c < nc; c++) {
            size_t cl = n - c * 512 < 512 ? n - c * 512 : 512;
            crcs[c] = crc32c(0, s->data + off + c * 512, cl);
        }
        if ((int64_t)k == s->corrupt_seqno)
            crcs[0] ^= 1;
        Packet pkt = PACKET__INIT;
        pkt.seqno = k;
        pkt.offset = s->offset + off;
        pkt.data.data = (uint8_t *)s->data + off;
        pkt.data.len = n;
        pkt.crcs = crcs;
        pkt.n_crcs = nc;
        pkt.last = k + 1 == npk;
        pkt.sync = (int64_t)k == s->sync_seqno;
        DataMessage pm = DATA_MESSAGE__INIT;
        pm.body_case = DATA_MESSAGE__BODY_PACKET;
        pm.packet = &pkt;
        if (client_send(fd, &pm) != EMBER_OK)
            break; /* the datanode gave up: its answer is waiting */
        res->npackets++;
        off += n;
    }
    if (s->half_close)
        shutdown(fd, SHUT_WR);
    if (res->rc == EMBER_OK)
        while (child_write_reply(fd, reader, start, res) == 0)
            ;
    if (!res->failed)
        res->elapsed_ms = clock_monotonic_ms() - start;
    close(fd);
    frame_reader_destroy(reader);
}

typedef struct {
    int port;
    uint64_t block_id, gen_stamp;
    token_spec token;
    uint64_t offset, length;
    const uint8_t *expect; /* the whole replica */
    size_t replica_len;
    int half_close; /* shut the sending side after the request */
} read_spec;

typedef struct {
    int rc;
    int npackets;
    int error_code;
    char error_message[200];
    int shape_ok; /* offsets contiguous, 512-aligned, <= 64 KiB, last only at the end */
    int data_ok;  /* bytes equal the replica's */
    int crcs_ok;  /* one right CRC32C per chunk */
    int got_last;
    uint64_t first_offset, end; /* the range the packets covered */
    int eof;
} read_result;

static void child_read(const void *arg, void *out) {
    const read_spec *s = arg;
    read_result *res = out;
    res->shape_ok = res->data_ok = res->crcs_ok = 1;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    BlockToken token;
    uint8_t mac[AUTH_MAC_LEN];
    make_token(&token, mac, s->block_id, s->gen_stamp, &s->token);
    ReadBlockRequest req = READ_BLOCK_REQUEST__INIT;
    req.block_id = s->block_id;
    req.gen_stamp = s->gen_stamp;
    req.token = &token;
    req.offset = s->offset;
    req.length = s->length;
    DataMessage msg = DATA_MESSAGE__INIT;
    msg.body_case = DATA_MESSAGE__BODY_READ_BLOCK;
    msg.read_block = &req;
    res->rc = client_send(fd, &msg);
    if (s->half_close)
        shutdown(fd, SHUT_WR);
    uint64_t next = 0;
    while (res->rc == EMBER_OK) {
        int rc;
        DataMessage *m = client_recv(fd, reader, 3000, &rc);
        if (m == NULL) {
            res->eof = rc == EMBER_ECLOSED;
            if (rc != EMBER_ECLOSED)
                res->rc = rc;
            break;
        }
        if (m->body_case == DATA_MESSAGE__BODY_ERROR) {
            res->error_code = m->error->code;
            snprintf(res->error_message, sizeof(res->error_message), "%s", m->error->message);
        } else if (m->body_case == DATA_MESSAGE__BODY_PACKET && !res->got_last) {
            const Packet *p = m->packet;
            if (res->npackets == 0)
                res->first_offset = next = p->offset;
            if (p->seqno != (uint64_t)res->npackets || p->offset != next || p->data.len > PACKET ||
                (p->data.len > 0 && p->offset % 512 != 0))
                res->shape_ok = 0;
            if (p->offset + p->data.len > s->replica_len ||
                (p->data.len > 0 && memcmp(p->data.data, s->expect + p->offset, p->data.len) != 0))
                res->data_ok = 0;
            else if (p->n_crcs != (p->data.len + 511) / 512)
                res->crcs_ok = 0;
            else
                for (size_t c = 0; c < p->n_crcs; c++) {
                    size_t cl = p->data.len - c * 512 < 512 ? p->data.len - c * 512 : 512;
                    if (p->crcs[c] != crc32c(0, p->data.data + c * 512, cl))
                        res->crcs_ok = 0;
                }
            next = p->offset + p->data.len;
            res->end = next;
            res->got_last = p->last;
            res->npackets++;
        } else {
            res->rc = EMBER_EPROTO; /* a packet after the last, or an ack */
        }
        data_message__free_unpacked(m, NULL);
    }
    close(fd);
    frame_reader_destroy(reader);
}

/* Sends raw bytes as the first thing on a connection and reads the one
 * expected DataError. */
typedef struct {
    int port;
    uint8_t bytes[8192];
    size_t len;
} raw_spec;

typedef struct {
    int rc;
    int error_code;
    int eof;
} raw_result;

static void child_raw(const void *arg, void *out) {
    const raw_spec *s = arg;
    raw_result *res = out;
    int fd;
    frame_reader *reader;
    if ((res->rc = socket_connect_tcp("127.0.0.1", s->port, 2000, &fd)) != EMBER_OK)
        return;
    frame_reader_create(&reader, FRAME_MAX_DEFAULT);
    socket_write_all(fd, s->bytes, s->len, clock_monotonic_ms() + 2000);
    int rc;
    DataMessage *m = client_recv(fd, reader, 3000, &rc);
    if (m != NULL && m->body_case == DATA_MESSAGE__BODY_ERROR)
        res->error_code = m->error->code;
    if (m != NULL) {
        data_message__free_unpacked(m, NULL);
        m = client_recv(fd, reader, 3000, &rc);
        res->eof = m == NULL && rc == EMBER_ECLOSED;
        if (m != NULL)
            data_message__free_unpacked(m, NULL);
    } else {
        res->rc = rc;
    }
    close(fd);
    frame_reader_destroy(reader);
}

/* A client child started by child_start(). */
typedef struct {
    pid_t pid;
    int fd;              /* the read end of its result pipe */
    int64_t deadline_ms; /* it must have exited by then */
} child_proc;

/* Forks a child running fn(spec, result) that writes result_len bytes of
 * result back through a pipe; the parent goes on (child_finish() waits). */
static child_proc child_start(void (*fn)(const void *, void *), const void *spec, void *result,
                              size_t result_len) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        memset(result, 0, result_len);
        fn(spec, result);
        ssize_t n = write(p[1], result, result_len);
        _exit(n == (ssize_t)result_len ? 0 : 1);
    }
    close(p[1]);
    return (child_proc){pid, p[0], clock_monotonic_ms() + CHILD_DEADLINE_MS};
}

/* Runs the loop until the child exits (killed past its deadline: a test
 * failure) and reads its result. */
static void child_finish(struct fixture *f, child_proc *c, void *result, size_t result_len) {
    int status = 0;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (clock_monotonic_ms() > c->deadline_ms) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            close(c->fd);
            fail_msg("client child did not finish within %d ms", CHILD_DEADLINE_MS);
        }
        event_loop_run_once(f->loop, 10);
    }
    ssize_t n = read(c->fd, result, result_len);
    close(c->fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, (ssize_t)result_len);
}

/* Forks a child running fn(spec, result) and runs the loop until it
 * exits; the child's result comes back in result. */
static void run_child(struct fixture *f, void (*fn)(const void *, void *), const void *spec,
                      void *result, size_t result_len) {
    child_proc c = child_start(fn, spec, result, result_len);
    child_finish(f, &c, result, result_len);
}

static write_spec write_spec_for(struct fixture *f, int first, uint64_t id, const uint8_t *data,
                                 size_t len) {
    write_spec s = {.port = datanode_port(f->dn[first]),
                    .block_id = id,
                    .gen_stamp = 1000 + id,
                    .token = good_write,
                    .data = data,
                    .len = len,
                    .corrupt_seqno = -1,
                    .close_after = -1,
                    .stall_after = -1,
                    .heartbeat_after = -1,
                    .sync_seqno = -1};
    for (int r = 1; r <= NODES; r++)
        if (r != first)
            s.downstream[s.n_downstream++] = (uint32_t)r;
    return s;
}

static read_spec read_spec_for(struct fixture *f, int rank, uint64_t id, const uint8_t *data,
                               size_t len, uint64_t offset, uint64_t length) {
    return (read_spec){.port = datanode_port(f->dn[rank]),
                       .block_id = id,
                       .gen_stamp = 1000 + id,
                       .token = good_read,
                       .offset = offset,
                       .length = length,
                       .expect = data,
                       .replica_len = len};
}

/* Stops rank's datanode and checks its finalized replica of id holds data
 * (block_reader_pread through its own store). */
static void assert_replica_bytes(struct fixture *f, int rank, uint64_t id, const uint8_t *data,
                                 size_t len) {
    datanode_destroy(f->dn[rank]);
    f->dn[rank] = NULL; /* teardown skips it */
    block_store *store;
    char err[256];
    assert_int_equal(block_store_open(f->dirs[rank], &store, err, sizeof(err)), 0);
    block_reader *rd;
    assert_int_equal(block_reader_open(store, id, &rd), 0);
    assert_true(block_reader_info(rd)->length == len &&
                block_reader_info(rd)->gen_stamp == 1000 + id);
    uint8_t *back = malloc(len + 1);
    size_t got = 0;
    assert_int_equal(block_reader_pread(rd, back, len + 1, 0, &got), 0);
    assert_true(got == len && memcmp(back, data, len) == 0);
    free(back);
    block_reader_close(rd);
    block_store_close(store);
}

/* A whole successful write (acks checked). */
static void write_ok(struct fixture *f, const write_spec *s) {
    write_result res;
    run_child(f, child_write, s, &res, sizeof(res));
    size_t npk = s->len == 0 ? 1 : (s->len + PACKET - 1) / PACKET;
    if (s->sizes != NULL)
        npk = s->nsizes;
    else if (s->packet_size != 0)
        npk = s->len == 0 ? 1 : (s->len + s->packet_size - 1) / s->packet_size;
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.error_code, 0);
    assert_false(res.failed);
    assert_int_equal(res.nacks, (int)npk);
    assert_true(res.acks_ok);
    assert_true(res.eof);
}


/* Flips one bit of the byte at offset in rank's finalized data file. */
static void flip_byte(struct fixture *f, int rank, uint64_t id, off_t offset) {
    char path[256];
    snprintf(path, sizeof(path), "%s/current/finalized/blk_%llu", f->dirs[rank],
             (unsigned long long)id);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, offset), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}


static void inject(struct fixture *f, int source, int dest, const RankMessage *msg) {
    endpoint ep = {f, source};
    assert_int_equal(fake_send(&ep, dest, msg), 0);
}

/* InitReplicaRecovery {id, recovery_id} from source to dest. */
static void inject_init_recovery(struct fixture *f, int source, int dest, uint64_t id,
                                 uint64_t recovery_id) {
    InitReplicaRecovery m = INIT_REPLICA_RECOVERY__INIT;
    m.block_id = id;
    m.recovery_id = recovery_id;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY;
    msg.init_replica_recovery = &m;
    inject(f, source, dest, &msg);
}

/* UpdateReplica {id, recovery_id, length} from source to dest. */
static void inject_update_replica(struct fixture *f, int source, int dest, uint64_t id,
                                  uint64_t recovery_id, uint64_t length) {
    UpdateReplica m = UPDATE_REPLICA__INIT;
    m.block_id = id;
    m.recovery_id = recovery_id;
    m.length = length;
    RankMessage msg = RANK_MESSAGE__INIT;
    msg.body_case = RANK_MESSAGE__BODY_UPDATE_REPLICA;
    msg.update_replica = &m;
    inject(f, source, dest, &msg);
}


static int gone_from_rank1(struct fixture *f, const void *arg) {
    return replica_files(f, 1, *(const uint64_t *)arg, "finalized") == 0;
}

#pragma GCC diagnostic pop

#endif
