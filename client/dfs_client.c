/* dfs_client.c -- the file system client library (see include/ember/dfs.h).
 *
 * Each call builds one request of proto/dfs.proto, sends it on the
 * handle's connection and turns the DfsResult (or ErrorResponse) into
 * plain C values; no protobuf type escapes this file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "ember/client.h"
#include "ember/dfs.h"
#include "dfs_internal.h"


int ember_dfs_connect(const char *run_dir, ember_dfs **out, char *err, size_t errlen) {
    ember_dfs *dfs = calloc(1, sizeof(*dfs));
    if (dfs == NULL)
        return EMBER_ENOMEM;
    snprintf(dfs->run_dir, sizeof(dfs->run_dir), "%s", run_dir);
    /* HDFS's client names: DFSClient_NONMAPREDUCE_<random>_<thread>. */
    uint32_t r = (uint32_t)clock_wall_ms() ^ ((uint32_t)clock_monotonic_ms() << 7) ^
                 ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)dfs;
    snprintf(dfs->client_name, sizeof(dfs->client_name), "DFSClient_NONMAPREDUCE_%u_%ld",
             r & 0x7fffffff, (long)getpid());
    int rc = ember_client_connect(run_dir, DFS_TIMEOUT_MS, &dfs->client, err, errlen);
    if (rc != EMBER_OK) {
        free(dfs);
        return rc;
    }
    *out = dfs;
    return EMBER_OK;
}

void ember_dfs_close(ember_dfs *dfs) {
    if (dfs == NULL)
        return;
    ember_client_close(dfs->client);
    free(dfs);
}

const char *ember_dfs_last_error(const ember_dfs *dfs) { return dfs->error; }
const char *ember_dfs_last_warning(const ember_dfs *dfs) { return dfs->warning; }

/* Sends req and returns its DfsResult in *out (the caller frees the
 * envelope *env with client_message__free_unpacked). */
void dfs_set_error(ember_dfs *dfs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dfs->error, sizeof(dfs->error), fmt, ap);
    va_end(ap);
}

int dfs_call(ember_dfs *dfs, ClientMessage *req, ClientMessage **env, DfsResult **out) {
    dfs->error[0] = '\0';
    dfs->warning[0] = '\0';
    ClientMessage *resp;
    int rc = ember_client_call(dfs->client, req, &resp, dfs->error, sizeof(dfs->error));
    if (rc != EMBER_OK)
        return rc;
    if (resp->body_case != CLIENT_MESSAGE__BODY_DFS_RESULT) {
        client_message__free_unpacked(resp, NULL);
        snprintf(dfs->error, sizeof(dfs->error), "unexpected answer from the namenode");
        return EMBER_EPROTO;
    }
    snprintf(dfs->warning, sizeof(dfs->warning), "%s", resp->dfs_result->warning);
    *env = resp;
    *out = resp->dfs_result;
    return EMBER_OK;
}

const char *ember_dfs_client_name(const ember_dfs *dfs) { return dfs->client_name; }

int ember_dfs_renew_lease(ember_dfs *dfs) {
    RenewLeaseRequest m = RENEW_LEASE_REQUEST__INIT;
    m.client_name = dfs->client_name;
    ClientMessage req = CLIENT_MESSAGE__INIT;
    req.body_case = CLIENT_MESSAGE__BODY_RENEW_LEASE;
    req.renew_lease = &m;
    ClientMessage *env;
    DfsResult *res;
    int rc = dfs_call(dfs, &req, &env, &res);
    if (rc != EMBER_OK)
        return rc;
    client_message__free_unpacked(env, NULL);
    dfs->lease_renewed_ms = clock_monotonic_ms();
    return EMBER_OK;
}

void dfs_lease_opened(ember_dfs *dfs, int64_t renew_ms) {
    if (renew_ms <= 0)
        return;
    if (dfs->lease_renew_ms == 0 || renew_ms < dfs->lease_renew_ms)
        dfs->lease_renew_ms = renew_ms;
    dfs->lease_renewed_ms = clock_monotonic_ms();
}

void dfs_lease_maybe_renew(ember_dfs *dfs) {
    if (dfs->lease_renew_ms > 0 &&
        clock_monotonic_ms() - dfs->lease_renewed_ms >= dfs->lease_renew_ms) {
        char saved[sizeof(dfs->error)];
        memcpy(saved, dfs->error, sizeof(saved));
        ember_dfs_renew_lease(dfs);
        memcpy(dfs->error, saved, sizeof(saved));
    }
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

int ember_dfs_list(ember_dfs *dfs, const char *path, ember_file_status **entries,
                   size_t *count) {
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
                              uint64_t *bytes) {
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
    client_message__free_unpacked(env, NULL);
    return EMBER_OK;
}
