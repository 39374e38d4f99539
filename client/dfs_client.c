/* dfs_client.c -- the file system client library (see include/ember/dfs.h).
 *
 * Each call builds one request of proto/dfs.proto, sends it on the
 * handle's connection and turns the DfsResult (or ErrorResponse) into
 * plain C values; no protobuf type escapes this file.
 *
 * The renewer thread (HDFS's LeaseRenewer, plus the heartbeats HDFS's
 * DataStreamer sends): one per handle, started by the handle's first
 * writer (dfs_writer_opened()) and stopped and joined by
 * ember_dfs_close().  It sleeps on dfs->wake until the next thing is due
 * and, while any writer of the handle is open, renews the handle's lease
 * every lease_renew_ms (RenewLeaseRequest; a failure is retried after at
 * most DFS_RENEW_RETRY_MS) and has each writer send a heartbeat packet
 * down a pipeline silent for half the datanodes' socket timeout
 * (dfs_writer_heartbeat() in dfs_stream.c).  With no writer open it waits
 * for one.  Locks and what they guard: see dfs_internal.h.
 *
 * Known limit: one thread does both, so heartbeats wait while a renewal
 * waits for the namenode (for its answer, or for the connection while
 * the application's own call holds it): a namenode slower than half the
 * datanodes' socket timeout can let an idle pipeline time out, which the
 * writer's next call then recovers (HDFS sends heartbeats from each
 * stream's own DataStreamer thread). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "dfs_internal.h"
#include "ember/client.h"
#include "ember/dfs.h"

#define DFS_RENEW_RETRY_MS 1000 /* a failed renewal is tried again this soon */

/* A handle connected through run_dir's cluster.json with the secret, or
 * (job != NULL) to the job's gateway with its token. */
static int dfs_open(const char *run_dir, const ember_job_credentials *job, ember_dfs **out,
                    char *err, size_t errlen) {
    ember_dfs *dfs = calloc(1, sizeof(*dfs));
    if (dfs == NULL)
        return EMBER_ENOMEM;
    snprintf(dfs->run_dir, sizeof(dfs->run_dir), "%s", run_dir != NULL ? run_dir : "");
    /* HDFS's client names: DFSClient_NONMAPREDUCE_<random>_<thread>. */
    uint32_t r = (uint32_t)clock_wall_ms() ^ ((uint32_t)clock_monotonic_ms() << 7) ^
                 ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)dfs;
    snprintf(dfs->client_name, sizeof(dfs->client_name), "DFSClient_NONMAPREDUCE_%u_%ld",
             r & 0x7fffffff, (long)getpid());
    /* The renewer waits on the monotonic clock, as every deadline here. */
    pthread_condattr_t attr;
    int locks = 0, rc = EMBER_ENOMEM, cond_rc;
    if (pthread_mutex_init(&dfs->call_lock, NULL) != 0)
        goto fail;
    locks++;
    if (pthread_mutex_init(&dfs->lock, NULL) != 0)
        goto fail;
    locks++;
    if (pthread_condattr_init(&attr) != 0)
        goto fail;
    cond_rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (cond_rc == 0)
        cond_rc = pthread_cond_init(&dfs->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (cond_rc != 0)
        goto fail;
    locks++;
    dfs->socket_timeout_ms = DFS_TIMEOUT_MS;
    rc = job != NULL ? ember_client_connect_job(job, DFS_TIMEOUT_MS, &dfs->client, err, errlen)
                     : ember_client_connect(run_dir, DFS_TIMEOUT_MS, &dfs->client, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    *out = dfs;
    return EMBER_OK;
fail:
    if (rc == EMBER_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (locks > 2)
        pthread_cond_destroy(&dfs->wake);
    if (locks > 1)
        pthread_mutex_destroy(&dfs->lock);
    if (locks > 0)
        pthread_mutex_destroy(&dfs->call_lock);
    free(dfs);
    return rc;
}

int ember_dfs_connect(const char *run_dir, ember_dfs **out, char *err, size_t errlen) {
    return dfs_open(run_dir, NULL, out, err, errlen);
}

int ember_dfs_connect_job(const ember_job_credentials *job, ember_dfs **out, char *err,
                          size_t errlen) {
    return dfs_open(NULL, job, out, err, errlen);
}

void ember_dfs_close(ember_dfs *dfs) {
    if (dfs == NULL)
        return;
    pthread_mutex_lock(&dfs->lock);
    int running = dfs->renewer_running;
    dfs->renewer_stop = 1;
    pthread_cond_broadcast(&dfs->wake);
    pthread_mutex_unlock(&dfs->lock);
    if (running)
        pthread_join(dfs->renewer, NULL);
    ember_client_close(dfs->client);
    free(dfs->writers);
    pthread_cond_destroy(&dfs->wake);
    pthread_mutex_destroy(&dfs->lock);
    pthread_mutex_destroy(&dfs->call_lock);
    free(dfs);
}

const char *ember_dfs_last_error(const ember_dfs *dfs) { return dfs->error; }
const char *ember_dfs_last_warning(const ember_dfs *dfs) { return dfs->warning; }

void dfs_set_error(ember_dfs *dfs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dfs->error, sizeof(dfs->error), fmt, ap);
    va_end(ap);
}

/* Sends req and returns the answer's DfsResult in *out, the envelope in
 * *env (the caller frees it with client_message__free_unpacked), holding
 * call_lock for the exchange; a failure's message goes to err.  Either
 * thread's. */
static int dfs_exchange(ember_dfs *dfs, ClientMessage *req, ClientMessage **env, DfsResult **out,
                        char *err, size_t errlen, char *warning, size_t warnlen) {
    ClientMessage *resp;
    pthread_mutex_lock(&dfs->call_lock);
    int rc = ember_client_call(dfs->client, req, &resp, err, errlen);
    pthread_mutex_unlock(&dfs->call_lock);
    if (rc != EMBER_OK)
        return rc;
    if (resp->body_case != CLIENT_MESSAGE__BODY_DFS_RESULT) {
        client_message__free_unpacked(resp, NULL);
        snprintf(err, errlen, "unexpected answer from the namenode");
        return EMBER_EPROTO;
    }
    if (warning != NULL)
        snprintf(warning, warnlen, "%s", resp->dfs_result->warning);
    *env = resp;
    *out = resp->dfs_result;
    return EMBER_OK;
}

int dfs_call(ember_dfs *dfs, ClientMessage *req, ClientMessage **env, DfsResult **out) {
    dfs->error[0] = '\0';
    dfs->warning[0] = '\0';
    return dfs_exchange(dfs, req, env, out, dfs->error, sizeof(dfs->error), dfs->warning,
                        sizeof(dfs->warning));
}

const char *ember_dfs_client_name(const ember_dfs *dfs) { return dfs->client_name; }

/* RenewLeaseRequest for the handle's client name; err gets a failure's
 * message.  Either thread's. */
static int dfs_renew(ember_dfs *dfs, char *err, size_t errlen, char *warning, size_t warnlen) {
    RenewLeaseRequest m = RENEW_LEASE_REQUEST__INIT;
    m.client_name = dfs->client_name;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_RENEW_LEASE;
    req.renew_lease = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_exchange(dfs, &req, &env, &res, err, errlen, warning, warnlen);
    if (rc != EMBER_OK)
        return rc;
    client_message__free_unpacked(env, NULL);
    pthread_mutex_lock(&dfs->lock);
    if (dfs->lease_renew_ms > 0)
        dfs->lease_next_ms = clock_monotonic_ms() + dfs->lease_renew_ms;
    pthread_mutex_unlock(&dfs->lock);
    return EMBER_OK;
}

int ember_dfs_renew_lease(ember_dfs *dfs) {
    dfs->error[0] = '\0';
    dfs->warning[0] = '\0';
    return dfs_renew(dfs, dfs->error, sizeof(dfs->error), dfs->warning, sizeof(dfs->warning));
}

/* The renewer's wait, with dfs->lock held: until monotonic time `until'
 * (INT64_MAX: until signalled), or dfs->wake. */
static void dfs_renewer_wait(ember_dfs *dfs, int64_t until) {
    if (until == INT64_MAX) {
        pthread_cond_wait(&dfs->wake, &dfs->lock);
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                          .tv_nsec = (long)(until % 1000) * 1000000};
    pthread_cond_timedwait(&dfs->wake, &dfs->lock, &ts);
}

/* The renewer thread (see the file comment). */
static void *dfs_renewer_main(void *arg) {
    ember_dfs *dfs = arg;
    pthread_mutex_lock(&dfs->lock);
    while (!dfs->renewer_stop) {
        int64_t now = clock_monotonic_ms();
        int64_t next = INT64_MAX;
        if (dfs->nwriters > 0 && dfs->lease_renew_ms > 0) {
            if (now >= dfs->lease_next_ms) {
                /* Not under dfs->lock: a slow namenode must not hold up a
                 * stream's close.  The messages are nobody's business. */
                int64_t retry = dfs->lease_renew_ms < DFS_RENEW_RETRY_MS ? dfs->lease_renew_ms
                                                                         : DFS_RENEW_RETRY_MS;
                pthread_mutex_unlock(&dfs->lock);
                char err[256];
                int rc = dfs_renew(dfs, err, sizeof(err), NULL, 0);
                pthread_mutex_lock(&dfs->lock);
                if (rc != EMBER_OK)
                    dfs->lease_next_ms = clock_monotonic_ms() + retry;
                continue; /* the writers may have changed meanwhile */
            }
            next = dfs->lease_next_ms;
        }
        for (size_t i = 0; i < dfs->nwriters; i++) {
            int64_t t = dfs_writer_heartbeat(dfs->writers[i], now);
            if (t < next)
                next = t;
        }
        dfs_renewer_wait(dfs, next);
    }
    pthread_mutex_unlock(&dfs->lock);
    return NULL;
}

int dfs_writer_opened(ember_dfs *dfs, ember_dfs_file *f, int64_t renew_ms) {
    int rc = EMBER_OK;
    pthread_mutex_lock(&dfs->lock);
    if (dfs->nwriters == dfs->writers_cap) {
        size_t ncap = dfs->writers_cap ? dfs->writers_cap * 2 : 8;
        ember_dfs_file **grown = realloc(dfs->writers, ncap * sizeof(*grown));
        if (grown == NULL) {
            rc = EMBER_ENOMEM;
            dfs_set_error(dfs, "out of memory");
            goto out;
        }
        dfs->writers = grown;
        dfs->writers_cap = ncap;
    }
    if (!dfs->renewer_running) {
        if (pthread_create(&dfs->renewer, NULL, dfs_renewer_main, dfs) != 0) {
            rc = EMBER_EIO;
            dfs_set_error(dfs, "cannot start the lease renewer thread");
            goto out;
        }
        dfs->renewer_running = 1;
    }
    dfs->writers[dfs->nwriters++] = f;
    if (renew_ms > 0) {
        /* The create or append just renewed the lease on the namenode. */
        if (dfs->lease_renew_ms == 0 || renew_ms < dfs->lease_renew_ms)
            dfs->lease_renew_ms = renew_ms;
        dfs->lease_next_ms = clock_monotonic_ms() + dfs->lease_renew_ms;
    }
    pthread_cond_broadcast(&dfs->wake);
out:
    pthread_mutex_unlock(&dfs->lock);
    return rc;
}

void dfs_renewer_wake(ember_dfs *dfs) {
    pthread_mutex_lock(&dfs->lock);
    pthread_cond_broadcast(&dfs->wake);
    pthread_mutex_unlock(&dfs->lock);
}

void dfs_writer_closed(ember_dfs *dfs, ember_dfs_file *f) {
    pthread_mutex_lock(&dfs->lock);
    for (size_t i = 0; i < dfs->nwriters; i++) {
        if (dfs->writers[i] == f) {
            dfs->writers[i] = dfs->writers[--dfs->nwriters];
            break;
        }
    }
    pthread_mutex_unlock(&dfs->lock);
}

int ember_dfs_recover_lease(ember_dfs *dfs, const char *path, int *closed) {
    RecoverLeaseRequest m = RECOVER_LEASE_REQUEST__INIT;
    m.path = (char *)path;
    m.client_name = dfs->client_name;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_RECOVER_LEASE;
    req.recover_lease = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    *closed = res->closed;
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}

/* A call whose answer carries nothing the caller needs. */
static int dfs_call_simple(ember_dfs *dfs, ClientMessage *req) {
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, req, &env, &res);
    if (rc == EMBER_OK)
        client_message__free_unpacked(env, NULL);
    return rc;
}

static int dfs_copy_status(const FileStatus *f, ember_file_status *out) {
    memset(out, 0, sizeof(*out));
    out->path = strdup(f->path);
    if (out->path == NULL)
        return EMBER_ENOMEM;
    out->is_dir = f->is_dir;
    out->length = f->length;
    out->replication = f->replication;
    out->block_size = f->block_size;
    out->mtime_ms = f->mtime_ms;
    out->atime_ms = f->atime_ms;
    out->mode = f->mode;
    snprintf(out->owner, sizeof(out->owner), "%s", f->owner);
    snprintf(out->group, sizeof(out->group), "%s", f->group);
    out->children = f->children;
    out->under_construction = f->under_construction;
    return EMBER_OK;
}

int ember_dfs_mkdirs(ember_dfs *dfs, const char *path, uint32_t mode, int create_parents) {
    MkdirsRequest m = MKDIRS_REQUEST__INIT;
    m.path = (char *)path;
    m.mode = mode;
    m.create_parents = create_parents;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_MKDIRS;
    req.mkdirs = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_create_empty(ember_dfs *dfs, const char *path, const ember_create_options *opts) {
    ember_create_options none = {0};
    if (opts == NULL)
        opts = &none;
    CreateRequest m = CREATE_REQUEST__INIT;
    m.path = (char *)path;
    m.mode = opts->mode;
    m.replication = opts->replication;
    m.block_size = opts->block_size;
    m.overwrite = opts->overwrite;
    m.create_parents = opts->create_parents;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_CREATE;
    req.create = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_stat(ember_dfs *dfs, const char *path, ember_file_status *out) {
    GetFileInfoRequest m = GET_FILE_INFO_REQUEST__INIT;
    m.path = (char *)path;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_GET_FILE_INFO;
    req.get_file_info = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    rc = res->status != NULL ? dfs_copy_status(res->status, out) : EMBER_EPROTO;
    client_message__free_unpacked(env, NULL);
    return rc;
}

void ember_dfs_free_status(ember_file_status *st) {
    if (st != NULL) {
        free(st->path);
        st->path = NULL;
    }
}

int ember_dfs_list(ember_dfs *dfs, const char *path, ember_file_status **entries, size_t *count) {
    ember_file_status *all = NULL;
    size_t n = 0, cap = 0;
    char after[512] = "";
    int rc;
    for (;;) {
        ListStatusRequest m = LIST_STATUS_REQUEST__INIT;
        m.path = (char *)path;
        m.start_after = after;
        ClientMessage req = CLIENT_MESSAGE__INIT;
        req.body_case = CLIENT_MESSAGE__BODY_LIST_STATUS;
        req.list_status = &m;
        ClientMessage *env;
        DfsResult *res;
        if ((rc = dfs_call(dfs, &req, &env, &res)) != EMBER_OK)
            goto fail;
        if (n + res->n_entries > cap) {
            size_t ncap = cap ? cap * 2 : 64;
            while (ncap < n + res->n_entries)
                ncap *= 2;
            ember_file_status *p = realloc(all, ncap * sizeof(*p));
            if (p == NULL) {
                client_message__free_unpacked(env, NULL);
                rc = EMBER_ENOMEM;
                goto fail;
            }
            all = p;
            cap = ncap;
        }
        for (size_t i = 0; i < res->n_entries; i++) {
            if ((rc = dfs_copy_status(res->entries[i], &all[n])) != EMBER_OK) {
                client_message__free_unpacked(env, NULL);
                goto fail;
            }
            n++;
        }
        int more = res->has_more && res->n_entries > 0;
        if (more)
            snprintf(after, sizeof(after), "%s", res->entries[res->n_entries - 1]->path);
        client_message__free_unpacked(env, NULL);
        if (!more)
            break;
    }
    *entries = all;
    *count = n;
    return EMBER_OK;
fail:
    ember_dfs_free_list(all, n);
    return rc;
}

void ember_dfs_free_list(ember_file_status *entries, size_t count) {
    for (size_t i = 0; i < count; i++)
        free(entries[i].path);
    free(entries);
}

int ember_dfs_rename(ember_dfs *dfs, const char *src, const char *dst, char *final_dst,
                     size_t final_len) {
    RenameRequest m = RENAME_REQUEST__INIT;
    m.src = (char *)src;
    m.dst = (char *)dst;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_RENAME;
    req.rename = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    if (final_dst != NULL && final_len > 0)
        snprintf(final_dst, final_len, "%s", res->status ? res->status->path : dst);
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}

int ember_dfs_delete(ember_dfs *dfs, const char *path, int recursive) {
    DeleteRequest m = DELETE_REQUEST__INIT;
    m.path = (char *)path;
    m.recursive = recursive;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_DELETE;
    req.delete_ = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_setrep(ember_dfs *dfs, const char *path, uint32_t replication) {
    SetReplicationRequest m = SET_REPLICATION_REQUEST__INIT;
    m.path = (char *)path;
    m.replication = replication;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_SET_REPLICATION;
    req.set_replication = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_chmod(ember_dfs *dfs, const char *path, uint32_t mode) {
    SetPermissionRequest m = SET_PERMISSION_REQUEST__INIT;
    m.path = (char *)path;
    m.mode = mode;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_SET_PERMISSION;
    req.set_permission = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_chown(ember_dfs *dfs, const char *path, const char *owner, const char *group) {
    SetOwnerRequest m = SET_OWNER_REQUEST__INIT;
    m.path = (char *)path;
    m.owner = (char *)(owner ? owner : "");
    m.group = (char *)(group ? group : "");
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_SET_OWNER;
    req.set_owner = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_set_times(ember_dfs *dfs, const char *path, int64_t mtime_ms, int64_t atime_ms) {
    SetTimesRequest m = SET_TIMES_REQUEST__INIT;
    m.path = (char *)path;
    m.mtime_ms = mtime_ms < 0 ? -1 : mtime_ms;
    m.atime_ms = atime_ms < 0 ? -1 : atime_ms;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_SET_TIMES;
    req.set_times = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_check_access(ember_dfs *dfs, const char *path, int access) {
    CheckAccessRequest m = CHECK_ACCESS_REQUEST__INIT;
    m.path = (char *)path;
    m.access = (uint32_t)access & 7;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_CHECK_ACCESS;
    req.check_access = &m;
    return dfs_call_simple(dfs, &req);
}

int ember_dfs_truncate(ember_dfs *dfs, const char *path, uint64_t new_length, int *done) {
    TruncateRequest m = TRUNCATE_REQUEST__INIT;
    m.path = (char *)path;
    m.new_length = new_length;
    m.client_name = dfs->client_name;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_TRUNCATE;
    req.truncate = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    *done = res->closed;
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}

int ember_dfs_block_locations(ember_dfs *dfs, const char *path, ember_block_location **blocks,
                              size_t *count) {
    GetBlockLocationsRequest m = GET_BLOCK_LOCATIONS_REQUEST__INIT;
    m.path = (char *)path;
    m.length = UINT64_MAX;
    m.include_corrupt = 1;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS;
    req.get_block_locations = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    ember_block_location *out = calloc(res->n_blocks + 1, sizeof(*out));
    if (out == NULL) {
        client_message__free_unpacked(env, NULL);
        return EMBER_ENOMEM;
    }
    for (size_t i = 0; i < res->n_blocks; i++) {
        const LocatedBlock *lb = res->blocks[i];
        out[i].block_id = lb->block_id;
        out[i].gen_stamp = lb->gen_stamp;
        out[i].offset = lb->offset;
        out[i].length = lb->length;
        /* Good ones first, then corrupt ones (the namenode's order too). */
        for (int corrupt = 0; corrupt < 2; corrupt++)
            for (size_t k = 0; k < lb->n_locations; k++) {
                int n = out[i].nreplicas + out[i].ncorrupt;
                if ((int)lb->locations[k]->corrupt != corrupt || n >= 16)
                    continue;
                out[i].ranks[n] = (int)lb->locations[k]->rank;
                snprintf(out[i].hosts[n], sizeof(out[i].hosts[n]), "%.40s:%u",
                         lb->locations[k]->host, lb->locations[k]->port);
                if (corrupt)
                    out[i].ncorrupt++;
                else
                    out[i].nreplicas++;
            }
    }
    *blocks = out;
    *count = res->n_blocks;
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}

int ember_dfs_safe_mode(ember_dfs *dfs, int action, int *on) {
    SafeModeRequest m = SAFE_MODE_REQUEST__INIT;
    m.action = (uint32_t)action;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_SAFE_MODE;
    req.safe_mode = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    *on = res->safe_mode;
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}

int ember_dfs_content_summary(ember_dfs *dfs, const char *path, uint64_t *files, uint64_t *dirs,
                              uint64_t *bytes, uint64_t *space) {
    ContentSummaryRequest m = CONTENT_SUMMARY_REQUEST__INIT;
    m.path = (char *)path;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_CONTENT_SUMMARY;
    req.content_summary = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    *files = res->files;
    *dirs = res->directories;
    *bytes = res->bytes;
    if (space != NULL)
        *space = res->space_consumed;
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}

int ember_dfs_server_defaults(ember_dfs *dfs, ember_dfs_defaults *out) {
    ServerDefaultsRequest m = SERVER_DEFAULTS_REQUEST__INIT;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_SERVER_DEFAULTS;
    req.server_defaults = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    out->trash_interval_ms = res->trash_interval_ms;
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}
