/* namenode.c -- the namenode on the primary (see namenode.h).
 *
 * One path for every mutation, live or replayed: an EditRecord is built
 * (from a request, or read back from the log) and namenode_apply() applies
 * it to the namespace.  Live, a record that applies is then appended to
 * the edit log and its answer, already encoded, waits in `pending` until
 * an fsync covers its record (group commit); a record that does not
 * apply is answered with an error and never logged.  Replayed, a record
 * that does not apply means the log and the namespace disagree: recovery
 * stops with EMBER_ECORRUPT.  Reads are answered at once.  Besides the
 * namespace, two things are logged the same way and kept in the image:
 * the block records (block_ops.c) and each core node's admin state
 * (NodeAdminState, replication.c), the one record safe mode lets
 * through.
 *
 * Group commit off the loop.  The disk work of the log (fdatasync,
 * checkpoints) runs as edit_log jobs on the namenode's one-thread pool,
 * one job at a time (nn->job).  Each loop turn the hook starts a sync
 * job for everything appended so far unless a job is out; requests keep
 * being applied, appended and batched meanwhile, and the next job takes
 * them all.  When a job is done (namenode_job_done, on the loop thread)
 * the answers whose records are now durable go out, in order; a failed
 * fsync fails every waiting answer and the namenode refuses mutations
 * (nn->failed), as before.  A checkpoint's image is built and encoded on
 * the loop thread when the job begins -- a consistent snapshot at one
 * txid -- so the pool thread never reads the namespace.  The pool thread
 * touches only the job and the files: never the namespace, the gateway or
 * MPI (MPI_THREAD_FUNNELED). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/thread_pool.h"
#include "edit_log.h"
#include "group_mapping.h"
#include "namenode.h"
#include "namenode_internal.h"
#include "namespace.h"
#include "proto/frame.h"
#include "proto/message.h"

/* ---- applying records -------------------------------------------------- */

/* Applies one record to the namespace.  final_dst (FS_PATH_MAX + 1 bytes)
 * receives a rename's resolved destination; may be NULL otherwise. */
static int namenode_apply(namenode *nn, const EditRecord *r, char *final_dst) {
    int64_t t = r->time_ms;
    switch (r->op_case) {
    case EDIT_RECORD__OP_MKDIRS:
        return fs_namespace_mkdirs(nn->ns, r->mkdirs->path, r->mkdirs->owner, r->mkdirs->group,
                                   r->mkdirs->mode, r->mkdirs->create_parents, t);
    case EDIT_RECORD__OP_CREATE: {
        const EditCreate *c = r->create;
        int rc = fs_namespace_create_file(nn->ns, c->path, c->owner, c->group, c->mode,
                                          c->replication, c->block_size, c->overwrite,
                                          c->create_parents, t, NULL);
        if (rc == EMBER_OK && c->under_construction)
            rc = fs_namespace_set_under_construction(nn->ns, c->path, c->client_name);
        return rc;
    }
    case EDIT_RECORD__OP_APPEND:
        return namenode_apply_append(nn, r->append);
    case EDIT_RECORD__OP_ADD_BLOCK:
        return namenode_apply_add_block(nn, r->add_block);
    case EDIT_RECORD__OP_COMPLETE:
        return namenode_apply_complete(nn, r->complete);
    case EDIT_RECORD__OP_UPDATE_BLOCK:
        return namenode_apply_update_block(nn, r->update_block);
    case EDIT_RECORD__OP_RENAME:
        return fs_namespace_rename(nn->ns, r->rename->src, r->rename->dst, t, final_dst);
    case EDIT_RECORD__OP_DELETE:
        return fs_namespace_delete(nn->ns, r->delete_->path, r->delete_->recursive, t, NULL,
                                   NULL);
    case EDIT_RECORD__OP_SET_REPLICATION: {
        int rc = fs_namespace_set_replication(nn->ns, r->set_replication->path,
                                              r->set_replication->replication);
        const uint64_t *blocks;
        size_t n = 0;
        if (rc == EMBER_OK && fs_namespace_blocks(nn->ns, r->set_replication->path, &blocks, &n) == 0)
            for (size_t i = 0; i < n; i++)
                block_manager_set_replication(nn->bm, blocks[i], r->set_replication->replication);
        return rc;
    }
    case EDIT_RECORD__OP_SET_PERMISSION:
        return fs_namespace_set_permission(nn->ns, r->set_permission->path,
                                           r->set_permission->mode);
    case EDIT_RECORD__OP_SET_OWNER:
        return fs_namespace_set_owner(nn->ns, r->set_owner->path, r->set_owner->owner,
                                      r->set_owner->group);
    case EDIT_RECORD__OP_SET_TIMES:
        return fs_namespace_set_times(nn->ns, r->set_times->path, r->set_times->mtime_ms,
                                      r->set_times->atime_ms);
    case EDIT_RECORD__OP_ADMIN_STATE:
        return namenode_admin_state_apply(nn, r->admin_state);
    case EDIT_RECORD__OP_TRUNCATE: return namenode_apply_truncate(nn, r->truncate, t);
    default:
        return EMBER_EPROTO;
    }
}

/* ---- recovery ----------------------------------------------------------- */

static int namenode_load_image(const FsImage *img, void *arg) {
    namenode *nn = arg;
    /* Restart block ids and gen stamps where the image left them, even
     * past blocks no file holds any more. */
    block_manager *bm;
    if (block_manager_create(img->last_block_id, img->last_gen_stamp, (uint32_t)clock_wall_ms(),
                             &bm) != EMBER_OK)
        return EMBER_ENOMEM;
    block_manager_destroy(nn->bm);
    nn->bm = bm;
    memset(nn->admin, NN_ADMIN_NORMAL, (size_t)(nn->opts.world_size > 0 ? nn->opts.world_size : 1));
    for (size_t i = 0; i < img->n_admin_states; i++)
        if (namenode_admin_state_apply(nn, img->admin_states[i]) != EMBER_OK) {
            LOG_ERROR("image admin state of node-%u does not load", img->admin_states[i]->rank);
            return EMBER_ECORRUPT;
        }
    for (size_t i = 0; i < img->n_inodes; i++) {
        const ImageInode *in = img->inodes[i];
        int rc;
        if (strcmp(in->path, "/") == 0)
            rc = fs_namespace_set_owner(nn->ns, "/", in->owner, in->group);
        else if (in->is_dir)
            rc = fs_namespace_mkdirs(nn->ns, in->path, in->owner, in->group, in->mode, 0,
                                     in->mtime_ms);
        else
            rc = fs_namespace_create_file(nn->ns, in->path, in->owner, in->group, in->mode,
                                          in->replication, in->block_size, 0, 0, in->mtime_ms,
                                          NULL);
        if (rc == EMBER_OK && !in->is_dir)
            rc = fs_namespace_set_length(nn->ns, in->path, in->length);
        if (rc == EMBER_OK && !in->is_dir)
            rc = namenode_load_blocks(nn, in);
        if (rc == EMBER_OK)
            rc = fs_namespace_set_permission(nn->ns, in->path, in->mode);
        if (rc != EMBER_OK) {
            LOG_ERROR("image inode %s does not load: %s", in->path, ember_strerror(rc));
            return EMBER_ECORRUPT;
        }
    }
    /* Times last: creating children moved their parents' mtimes. */
    for (size_t i = 0; i < img->n_inodes; i++) {
        const ImageInode *in = img->inodes[i];
        if (fs_namespace_set_times(nn->ns, in->path, in->mtime_ms, in->atime_ms) != EMBER_OK)
            return EMBER_ECORRUPT;
    }
    return EMBER_OK;
}

static int namenode_replay(const EditRecord *rec, void *arg) {
    namenode *nn = arg;
    int rc = namenode_apply(nn, rec, NULL);
    if (rc != EMBER_OK) {
        LOG_ERROR("edit %llu does not apply to the namespace: %s", (unsigned long long)rec->txid,
                  ember_strerror(rc));
        return EMBER_ECORRUPT;
    }
    return EMBER_OK;
}

/* ---- checkpoints -------------------------------------------------------- */

typedef struct {
    namenode *nn;
    ImageInode *inodes;
    ImageInode **ptrs;
    char **paths;
    size_t n, cap;
} image_builder;

static int namenode_image_visit(const char *path, const fs_stat *st, void *arg) {
    image_builder *b = arg;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        ImageInode *in = realloc(b->inodes, ncap * sizeof(*in));
        if (in != NULL)
            b->inodes = in;
        char **paths = realloc(b->paths, ncap * sizeof(*paths));
        if (paths != NULL)
            b->paths = paths;
        if (in == NULL || paths == NULL)
            return EMBER_ENOMEM;
        b->cap = ncap;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        return EMBER_ENOMEM;
    ImageInode *in = &b->inodes[b->n];
    *in = (ImageInode)IMAGE_INODE__INIT;
    b->paths[b->n] = copy;
    in->path = copy;
    in->is_dir = st->is_dir;
    in->owner = strdup(st->owner); /* st is the walk's, valid for this call only */
    in->group = strdup(st->group);
    if (in->owner == NULL || in->group == NULL)
        return EMBER_ENOMEM;
    in->mode = st->mode;
    in->mtime_ms = st->mtime_ms;
    in->atime_ms = st->atime_ms;
    in->replication = st->replication;
    in->block_size = st->block_size;
    in->length = st->length;
    in->under_construction = st->under_construction;
    if (st->under_construction) {
        const char *holder = NULL; /* the inode's: valid while the checkpoint runs */
        fs_namespace_holder(b->nn->ns, path, &holder);
        in->client_name = (char *)(holder != NULL ? holder : "");
    }
    b->n++;
    if (!st->is_dir && st->nblocks > 0)
        return namenode_image_blocks(b->nn, path, &in->blocks, &in->n_blocks);
    return EMBER_OK;
}

static void image_builder_free(image_builder *b) {
    for (size_t i = 0; i < b->n; i++) {
        free(b->paths[i]);
        free(b->inodes[i].owner);
        free(b->inodes[i].group);
        if (b->inodes[i].blocks != NULL)
            free(b->inodes[i].blocks[0]); /* one array of ImageBlocks */
        free(b->inodes[i].blocks);
    }
    free(b->inodes);
    free(b->ptrs);
    free(b->paths);
}

/* The admin states that are not Normal, for an image: *out (malloc'd,
 * free() it and out[0]; NULL when none) points into one array. */
static int namenode_image_admin(namenode *nn, NodeAdminState ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t count = 0;
    for (int r = 1; r < nn->opts.world_size; r++)
        count += nn->admin[r] != NN_ADMIN_NORMAL;
    if (count == 0)
        return EMBER_OK;
    NodeAdminState *items = calloc(count, sizeof(*items));
    NodeAdminState **ptrs = calloc(count, sizeof(*ptrs));
    if (items == NULL || ptrs == NULL) {
        free(items);
        free(ptrs);
        return EMBER_ENOMEM;
    }
    for (int r = 1; r < nn->opts.world_size; r++)
        if (nn->admin[r] != NN_ADMIN_NORMAL) {
            items[*n] = (NodeAdminState)NODE_ADMIN_STATE__INIT;
            items[*n].rank = (uint32_t)r;
            items[*n].state = nn->admin[r];
            ptrs[*n] = &items[*n];
            (*n)++;
        }
    *out = ptrs;
    return EMBER_OK;
}

static void namenode_job_run(void *arg);
static void namenode_job_done(void *arg, int ran);

/* Logs a checkpoint's outcome. */
static void namenode_checkpoint_ended(namenode *nn, int rc) {
    if (rc == EMBER_OK) {
        nn->last_checkpoint_ms = clock_monotonic_ms();
        LOG_INFO("checkpoint at transaction %llu (%llu inodes)",
                 (unsigned long long)nn->checkpoint_txid,
                 (unsigned long long)fs_namespace_inode_count(nn->ns));
    } else {
        LOG_ERROR("checkpoint failed: %s", ember_strerror(rc));
    }
}

/* Builds the image of the namespace as it is now.  With blocking, writes
 * it on this thread; otherwise starts a checkpoint job on the pool (the
 * image encoded into the job first, so the namespace may change as soon
 * as this returns).  No job may be out. */
static int namenode_checkpoint(namenode *nn, int blocking) {
    image_builder b = {.nn = nn};
    NodeAdminState **admin = NULL;
    size_t nadmin = 0;
    int rc = fs_namespace_walk(nn->ns, namenode_image_visit, &b);
    if (rc == EMBER_OK)
        rc = namenode_image_admin(nn, &admin, &nadmin);
    if (rc == EMBER_OK && (b.ptrs = malloc((b.n + 1) * sizeof(*b.ptrs))) == NULL)
        rc = EMBER_ENOMEM;
    edit_log_job *job = NULL;
    if (rc == EMBER_OK) {
        for (size_t i = 0; i < b.n; i++)
            b.ptrs[i] = &b.inodes[i];
        FsImage img = FS_IMAGE__INIT;
        img.last_txid = edit_log_last_txid(nn->log);
        img.n_inodes = b.n;
        img.inodes = b.ptrs;
        block_manager_last_ids(nn->bm, &img.last_block_id, &img.last_gen_stamp);
        img.n_admin_states = nadmin;
        img.admin_states = admin;
        nn->checkpoint_txid = img.last_txid;
        rc = blocking ? edit_log_checkpoint(nn->log, &img)
                      : edit_log_checkpoint_begin(nn->log, &img, &job);
    }
    if (admin != NULL)
        free(admin[0]);
    free(admin);
    image_builder_free(&b);
    if (rc == EMBER_OK && job != NULL) {
        nn->job = job;
        nn->checkpointing = 1;
        if (thread_pool_submit(nn->pool, namenode_job_run, namenode_job_done, nn) != EMBER_OK)
            namenode_job_done(nn, 0); /* runs it here */
        return EMBER_OK;
    }
    namenode_checkpoint_ended(nn, rc);
    return rc;
}

static void namenode_cron(event_loop *loop, void *arg) {
    namenode *nn = arg;
    uint64_t txns = edit_log_txns_since_checkpoint(nn->log);
    if (nn->failed || txns == 0 || nn->checkpointing)
        return;
    if (txns >= nn->opts.checkpoint_txns ||
        clock_monotonic_ms() - nn->last_checkpoint_ms >= nn->opts.checkpoint_period_ms)
        nn->checkpoint_wanted = 1; /* the hook starts it once no job is out */
}

/* ---- answers ------------------------------------------------------------ */

void namenode_fill_status(FileStatus *fs, const char *path, const fs_stat *st) {
    *fs = (FileStatus)FILE_STATUS__INIT;
    fs->path = (char *)path;
    fs->is_dir = st->is_dir;
    fs->length = st->length;
    fs->replication = st->replication;
    fs->block_size = st->block_size;
    fs->mtime_ms = st->mtime_ms;
    fs->atime_ms = st->atime_ms;
    fs->mode = st->mode;
    fs->owner = (char *)st->owner;
    fs->group = (char *)st->group;
    fs->children = st->children;
    fs->inode_id = st->inode_id;
    fs->under_construction = st->under_construction != 0;
}

/* Sends an encoded answer to conn through the host (dropped without one). */
static void namenode_reply_frame(namenode *nn, uint64_t conn, const uint8_t *frame, size_t len) {
    if (conn != NAMENODE_NO_CONN && nn->opts.host.reply != NULL)
        nn->opts.host.reply(nn->opts.host.arg, conn, frame, len);
}

/* Encodes a DfsResult answer as a frame, sent now or after the sync. */
void namenode_answer(namenode *nn, uint64_t conn, DfsResult *res, int after_sync) {
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_DFS_RESULT;
    msg.dfs_result = res;
    uint8_t *frame;
    size_t len;
    int rc = message_encode_client(&msg, 1, FRAME_MAX_DEFAULT, &frame, &len);
    if (rc != EMBER_OK) {
        namenode_reply_error(nn, conn, rc, "answer too large");
        return;
    }
    if (!after_sync) {
        namenode_reply_frame(nn, conn, frame, len);
        free(frame);
        return;
    }
    /* It waits for every record logged so far (its own is the last). */
    if (nn->npending == nn->pending_cap) {
        size_t ncap = nn->pending_cap ? nn->pending_cap * 2 : 64;
        pending_reply *p = realloc(nn->pending, ncap * sizeof(*p));
        if (p == NULL) {
            free(frame);
            namenode_reply_error(nn, conn, EMBER_ENOMEM, "out of memory");
            return;
        }
        nn->pending = p;
        nn->pending_cap = ncap;
    }
    nn->pending[nn->npending++] = (pending_reply){
        .conn_id = conn, .txid = edit_log_last_txid(nn->log), .frame = frame, .len = len};
}

/* Hadoop's wording for an error on path (display: what to name, usually
 * the path itself). */
void namenode_error(namenode *nn, uint64_t conn, int rc, const char *path, const char *display) {
    const char *what;
    switch (rc) {
    case EMBER_ENOENT: what = "No such file or directory"; break;
    case EMBER_EEXIST: what = "File exists"; break;
    case EMBER_EISDIR: what = "Is a directory"; break;
    case EMBER_ENOTDIR: what = "Is not a directory"; break;
    case EMBER_ENOTEMPTY: what = "Directory is not empty"; break;
    default: what = ember_strerror(rc); break;
    }
    char msg[MESSAGE_TEXT_MAX];
    char reason[512];
    if (rc == EMBER_EINVAL && fs_path_check(path, reason, sizeof(reason)) != EMBER_OK)
        what = reason;
    else if (rc == EMBER_EINVAL)
        what = strcmp(path, "/") == 0 ? "not allowed on the root directory"
               : display != NULL      ? "a directory cannot move into its own subtree"
                                      : "invalid argument (owner and group names are at most 63 bytes)";
    snprintf(msg, sizeof(msg), "`%.3000s': %s", display ? display : path, what);
    namenode_reply_error(nn, conn, rc, msg);
}

void namenode_reply_error(namenode *nn, uint64_t conn, int code, const char *message) {
    if (conn == NAMENODE_NO_CONN || nn->opts.host.reply_error == NULL)
        LOG_WARN("%s", message);
    else
        nn->opts.host.reply_error(nn->opts.host.arg, conn, code, message);
}

int namenode_datanode_get(const namenode *nn, int rank, namenode_datanode *out) {
    if (rank <= 0 || rank >= nn->opts.world_size || nn->opts.host.datanode == NULL)
        return EMBER_ENOENT;
    return nn->opts.host.datanode(nn->opts.host.arg, rank, out);
}

int namenode_send(namenode *nn, int dest, const RankMessage *msg) {
    if (nn->opts.host.send == NULL)
        return EMBER_EINVAL;
    return nn->opts.host.send(nn->opts.host.arg, dest, msg);
}

int namenode_identity(namenode *nn, uint64_t conn, const char **user, const char **group) {
    if (conn == NAMENODE_NO_CONN || nn->opts.host.identity == NULL)
        return EMBER_ENOENT;
    return nn->opts.host.identity(nn->opts.host.arg, conn, user, group);
}

int namenode_log(namenode *nn, uint64_t conn, EditRecord *rec, const char *err_path,
                 const char *display, char *final_dst) {
    char dst_buf[FS_PATH_MAX + 1] = "";
    if (final_dst == NULL)
        final_dst = dst_buf;
    if (nn->failed) {
        namenode_reply_error(nn, conn, EMBER_EIO, "the namenode's edit log failed");
        return EMBER_EIO;
    }
    /* Safe mode freezes the namespace; a node's admin state is no part of
     * it (HDFS takes -refreshNodes in safe mode too). */
    if (nn->safe_mode != NAMENODE_SAFE_OFF && rec->op_case != EDIT_RECORD__OP_ADMIN_STATE) {
        char tip[400];
        namenode_safe_mode_tip(nn, tip, sizeof(tip));
        namenode_reply_error(nn, conn, EMBER_ESTATE, tip);
        return EMBER_ESTATE;
    }
    rec->time_ms = clock_wall_ms();
    int rc = namenode_apply(nn, rec, final_dst);
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, err_path, display);
        return rc;
    }
    if (rec->op_case == EDIT_RECORD__OP_RENAME)
        rec->rename->dst = final_dst;
    rc = edit_log_append(nn->log, rec, NULL);
    if (rc != EMBER_OK) {
        /* Applied but not logged: the namespace is ahead of the disk. */
        LOG_ERROR("edit log append failed (%s): refusing further changes", ember_strerror(rc));
        nn->failed = 1;
        namenode_reply_error(nn, conn, EMBER_EIO, "the namenode's edit log failed");
        return EMBER_EIO;
    }
    return EMBER_OK; /* the hook syncs whatever is unsynced, answers waiting or not */
}

/* Applies and logs a live record, then queues the answer: the status of
 * the path (of the destination for a rename; none after a delete); a
 * file opened for writing also learns how often to renew its lease. */
static void namenode_mutate(namenode *nn, uint64_t conn, EditRecord *rec, const char *err_path,
                            const char *display, const char *warning) {
    char final_dst[FS_PATH_MAX + 1] = "";
    if (namenode_log(nn, conn, rec, err_path, display, final_dst) != EMBER_OK)
        return;
    const char *status_path = rec->op_case == EDIT_RECORD__OP_RENAME ? final_dst : err_path;
    DfsResult res = DFS_RESULT__INIT;
    FileStatus fs;
    fs_stat st;
    if (rec->op_case != EDIT_RECORD__OP_DELETE &&
        fs_namespace_stat(nn->ns, status_path, &st) == EMBER_OK) {
        namenode_fill_status(&fs, status_path, &st);
        res.status = &fs;
    }
    res.warning = (char *)(warning ? warning : "");
    if (rec->op_case == EDIT_RECORD__OP_CREATE && rec->create->under_construction) {
        res.lease_renew_ms = nn->opts.lease_soft_limit_ms / 2;
        res.socket_timeout_ms = nn->opts.socket_timeout_ms;
    }
    namenode_answer(nn, conn, &res, 1);
}

/* Caps a requested replication at the core nodes, with a warning. */
static uint32_t namenode_cap_replication(namenode *nn, uint32_t want, char *warning, size_t len) {
    if (want <= nn->opts.max_replication)
        return want;
    snprintf(warning, len,
             "replication %u capped to %u, the number of core nodes (set dfs.replication, "
             "or -setrep, to at most %u)",
             want, nn->opts.max_replication, nn->opts.max_replication);
    return nn->opts.max_replication;
}

/* ---- requests ----------------------------------------------------------- */

/* Access bits for permission checks. */
enum { PERM_R = 4, PERM_W = 2, PERM_X = 1 };

/* HDFS's checks for op on path (traverse, and what `want` adds): 0 when
 * allowed, else conn was answered. */
static int nn_perm(namenode *nn, uint64_t conn, const char *path, perm_request want) {
    return namenode_check_permission(nn, conn, path, &want);
}

static void namenode_handle_get_file_info(namenode *nn, uint64_t conn, const GetFileInfoRequest *m) {
    fs_stat st;
    if (nn_perm(nn, conn, m->path, (perm_request){0}) != 0)
        return;
    int rc = fs_namespace_stat(nn->ns, m->path, &st);
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    FileStatus fs;
    namenode_fill_status(&fs, m->path, &st);
    DfsResult res = DFS_RESULT__INIT;
    res.status = &fs;
    namenode_answer(nn, conn, &res, 0);
}

static void namenode_handle_list_status(namenode *nn, uint64_t conn, const ListStatusRequest *m) {
    uint32_t limit = m->limit && m->limit < nn->opts.list_limit ? m->limit : nn->opts.list_limit;
    fs_stat self_st;
    int is_dir = fs_namespace_stat(nn->ns, m->path, &self_st) == EMBER_OK && self_st.is_dir;
    if (nn_perm(nn, conn, m->path, (perm_request){.access = is_dir ? PERM_R | PERM_X : 0}) != 0)
        return;
    fs_entry *entries = NULL;
    size_t n = 0;
    int more = 0;
    int rc = fs_namespace_list(nn->ns, m->path, m->start_after, limit, &entries, &n, &more);
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    FileStatus *fs = calloc(n + 1, sizeof(*fs));
    FileStatus **ptrs = calloc(n + 1, sizeof(*ptrs));
    if (fs == NULL || ptrs == NULL) {
        namenode_reply_error(nn, conn, EMBER_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            namenode_fill_status(&fs[i], entries[i].name, &entries[i].stat);
            ptrs[i] = &fs[i];
        }
        fs_stat st;
        FileStatus self;
        DfsResult res = DFS_RESULT__INIT;
        if (fs_namespace_stat(nn->ns, m->path, &st) == EMBER_OK) {
            namenode_fill_status(&self, m->path, &st);
            res.status = &self;
        }
        res.n_entries = n;
        res.entries = ptrs;
        res.has_more = more;
        namenode_answer(nn, conn, &res, 0);
    }
    free(fs);
    free(ptrs);
    free(entries);
}

static void namenode_handle_content_summary(namenode *nn, uint64_t conn, const ContentSummaryRequest *m) {
    if (nn_perm(nn, conn, m->path, (perm_request){.sub = PERM_R | PERM_X}) != 0)
        return;
    DfsResult res = DFS_RESULT__INIT;
    int rc = fs_namespace_summary(nn->ns, m->path, &res.files, &res.directories, &res.bytes,
                                  &res.space_consumed);
    if (rc != EMBER_OK)
        namenode_error(nn, conn, rc, m->path, NULL);
    else
        namenode_answer(nn, conn, &res, 0);
}

/* The group a new inode at path takes (HDFS's BSD rule): its parent's, or
 * for directories made along the way the deepest existing ancestor's,
 * into buf.  The caller's group when no directory above it exists (the
 * request then fails anyway). */
static const char *namenode_inherited_group(namenode *nn, const char *path, const char *caller,
                                            char *buf, size_t len) {
    char dir[FS_PATH_MAX + 1];
    snprintf(dir, sizeof(dir), "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            break;
        if (slash == dir)
            slash[1] = '\0'; /* "/" */
        else
            *slash = '\0';
        fs_stat st;
        if (fs_namespace_stat(nn->ns, dir, &st) == EMBER_OK) {
            if (!st.is_dir)
                break;
            snprintf(buf, len, "%s", st.group);
            return buf;
        }
        if (slash == dir)
            break;
    }
    return caller;
}

static void namenode_handle_mkdirs(namenode *nn, uint64_t conn, const MkdirsRequest *m, const char *user,
                          const char *group) {
    fs_stat st;
    int exists = fs_namespace_stat(nn->ns, m->path, &st) == EMBER_OK;
    if (nn_perm(nn, conn, m->path, (perm_request){.ancestor = exists ? 0 : PERM_W}) != 0)
        return;
    char inherited[FS_OWNER_MAX];
    EditMkdirs op = EDIT_MKDIRS__INIT;
    op.path = m->path;
    op.owner = (char *)user;
    op.group = (char *)namenode_inherited_group(nn, m->path, group, inherited, sizeof(inherited));
    op.mode = m->mode ? m->mode : 0755;
    op.create_parents = m->create_parents;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_MKDIRS;
    rec.mkdirs = &op;
    namenode_mutate(nn, conn, &rec, m->path, NULL, NULL);
}

static void namenode_handle_create(namenode *nn, uint64_t conn, const CreateRequest *m, const char *user,
                          const char *group) {
    char warning[128] = "", inherited[FS_OWNER_MAX];
    EditCreate op = EDIT_CREATE__INIT;
    op.path = m->path;
    op.owner = (char *)user;
    op.group = (char *)namenode_inherited_group(nn, m->path, group, inherited, sizeof(inherited));
    op.mode = m->mode ? m->mode : 0644;
    op.replication = namenode_cap_replication(
        nn, m->replication ? m->replication : nn->opts.default_replication, warning,
        sizeof(warning));
    op.block_size = m->block_size ? m->block_size : nn->opts.default_block_size;
    op.overwrite = m->overwrite;
    op.create_parents = m->create_parents;
    op.under_construction = m->for_write;
    op.client_name = m->client_name;
    fs_stat st;
    int exists = fs_namespace_stat(nn->ns, m->path, &st) == EMBER_OK;
    perm_request want = {.access = exists && m->overwrite ? PERM_W : 0};
    if (m->create_parents)
        want.ancestor = PERM_W;
    else
        want.parent = PERM_W;
    if (nn_perm(nn, conn, m->path, want) != 0)
        return;
    if (m->overwrite &&
        namenode_lease_check_takeover(nn, conn, m->path, m->client_name, "CREATE_FILE") != 0)
        return;
    if (op.block_size % 512 != 0) {
        namenode_reply_error(nn, conn, EMBER_EINVAL,
                            "block size must be a multiple of 512 bytes (dfs.bytes-per-checksum)");
        return;
    }
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_CREATE;
    rec.create = &op;
    namenode_mutate(nn, conn, &rec, m->path, NULL, warning[0] ? warning : NULL);
    if (m->for_write)
        namenode_lease_renew(nn, m->client_name);
}

static void namenode_handle_rename(namenode *nn, uint64_t conn, const RenameRequest *m) {
    EditRename op = EDIT_RENAME__INIT;
    op.src = m->src;
    op.dst = m->dst;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_RENAME;
    rec.rename = &op;
    /* Name both paths; check them first so that EINVAL from the
     * namespace can only mean the root or a move into its own subtree. */
    const char *bad = fs_path_check(m->src, NULL, 0)   ? m->src
                      : fs_path_check(m->dst, NULL, 0) ? m->dst
                                                       : NULL;
    if (bad != NULL) {
        namenode_error(nn, conn, EMBER_EINVAL, bad, NULL);
        return;
    }
    /* Write on both parents (into dst when it is a directory). */
    fs_stat st;
    int into = fs_namespace_stat(nn->ns, m->dst, &st) == EMBER_OK && st.is_dir;
    if (nn_perm(nn, conn, m->src, (perm_request){.parent = PERM_W, .sticky = 1}) != 0 ||
        nn_perm(nn, conn, m->dst,
                into ? (perm_request){.access = PERM_W} : (perm_request){.parent = PERM_W}) != 0)
        return;
    char what[2 * 1024];
    snprintf(what, sizeof(what), "%.1000s' to `%.1000s", m->src, m->dst);
    namenode_mutate(nn, conn, &rec, m->src, what, NULL);
}

static void namenode_handle_delete(namenode *nn, uint64_t conn, const DeleteRequest *m) {
    perm_request want = {.parent = PERM_W, .sticky = 1,
                         .sub = m->recursive ? PERM_R | PERM_W | PERM_X : 0};
    if (nn_perm(nn, conn, m->path, want) != 0)
        return;
    EditDelete op = EDIT_DELETE__INIT;
    op.path = m->path;
    op.recursive = m->recursive;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_DELETE;
    rec.delete_ = &op;
    namenode_mutate(nn, conn, &rec, m->path, NULL, NULL);
}

int namenode_remove_internal(namenode *nn, const char *path) {
    EditDelete op = EDIT_DELETE__INIT;
    op.path = (char *)path;
    op.recursive = 1;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_DELETE;
    rec.delete_ = &op;
    return namenode_log(nn, NAMENODE_NO_CONN, &rec, path, NULL, NULL);
}

static void namenode_handle_set_replication(namenode *nn, uint64_t conn, const SetReplicationRequest *m) {
    char warning[128] = "";
    if (nn_perm(nn, conn, m->path, (perm_request){.access = PERM_W}) != 0)
        return;
    EditSetReplication op = EDIT_SET_REPLICATION__INIT;
    op.path = m->path;
    op.replication = namenode_cap_replication(nn, m->replication, warning, sizeof(warning));
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_SET_REPLICATION;
    rec.set_replication = &op;
    namenode_mutate(nn, conn, &rec, m->path, NULL, warning[0] ? warning : NULL);
}

static void namenode_handle_set_permission(namenode *nn, uint64_t conn, const SetPermissionRequest *m) {
    if (nn_perm(nn, conn, m->path, (perm_request){.owner = 1}) != 0)
        return;
    EditSetPermission op = EDIT_SET_PERMISSION__INIT;
    op.path = m->path;
    op.mode = m->mode;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_SET_PERMISSION;
    rec.set_permission = &op;
    namenode_mutate(nn, conn, &rec, m->path, NULL, NULL);
}

static void namenode_handle_set_owner(namenode *nn, uint64_t conn, const SetOwnerRequest *m) {
    if (namenode_check_chown(nn, conn, m->path, m->owner, m->group) != 0)
        return;
    EditSetOwner op = EDIT_SET_OWNER__INIT;
    op.path = m->path;
    op.owner = m->owner;
    op.group = m->group;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_SET_OWNER;
    rec.set_owner = &op;
    namenode_mutate(nn, conn, &rec, m->path, NULL, NULL);
}

void namenode_on_request(namenode *nn, uint64_t conn, const ClientMessage *req) {
    const char *user = "nobody", *group = "nobody";
    switch (req->body_case) {
    case CLIENT_MESSAGE__BODY_MKDIRS:
    case CLIENT_MESSAGE__BODY_CREATE:
        namenode_identity(nn, conn, &user, &group);
        if (req->body_case == CLIENT_MESSAGE__BODY_MKDIRS)
            namenode_handle_mkdirs(nn, conn, req->mkdirs, user, group);
        else
            namenode_handle_create(nn, conn, req->create, user, group);
        break;
    case CLIENT_MESSAGE__BODY_GET_FILE_INFO: namenode_handle_get_file_info(nn, conn, req->get_file_info); break;
    case CLIENT_MESSAGE__BODY_LIST_STATUS: namenode_handle_list_status(nn, conn, req->list_status); break;
    case CLIENT_MESSAGE__BODY_CONTENT_SUMMARY:
        namenode_handle_content_summary(nn, conn, req->content_summary);
        break;
    case CLIENT_MESSAGE__BODY_RENAME: namenode_handle_rename(nn, conn, req->rename); break;
    case CLIENT_MESSAGE__BODY_DELETE: namenode_handle_delete(nn, conn, req->delete_); break;
    case CLIENT_MESSAGE__BODY_SET_REPLICATION:
        namenode_handle_set_replication(nn, conn, req->set_replication);
        break;
    case CLIENT_MESSAGE__BODY_SET_PERMISSION:
        namenode_handle_set_permission(nn, conn, req->set_permission);
        break;
    case CLIENT_MESSAGE__BODY_SET_OWNER: namenode_handle_set_owner(nn, conn, req->set_owner); break;
    case CLIENT_MESSAGE__BODY_ADD_BLOCK: namenode_handle_add_block(nn, conn, req->add_block); break;
    case CLIENT_MESSAGE__BODY_COMPLETE: namenode_handle_complete(nn, conn, req->complete); break;
    case CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE:
        namenode_handle_update_block_for_pipeline(nn, conn, req->update_block_for_pipeline);
        break;
    case CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS:
        if (nn_perm(nn, conn, req->get_block_locations->path, (perm_request){.access = PERM_R}) == 0)
            namenode_handle_get_block_locations(nn, conn, req->get_block_locations);
        break;
    case CLIENT_MESSAGE__BODY_REPORT_BAD_BLOCK:
        namenode_handle_report_bad_block(nn, conn, req->report_bad_block);
        break;
    case CLIENT_MESSAGE__BODY_SAFE_MODE:
        if (req->safe_mode->action == 0 ||
            namenode_check_superuser(nn, conn, "change safe mode") == 0)
            namenode_handle_safe_mode(nn, conn, req->safe_mode);
        break;
    case CLIENT_MESSAGE__BODY_RENEW_LEASE: namenode_handle_renew_lease(nn, conn, req->renew_lease); break;
    case CLIENT_MESSAGE__BODY_RECOVER_LEASE:
        if (nn_perm(nn, conn, req->recover_lease->path, (perm_request){.access = PERM_W}) == 0)
            namenode_handle_recover_lease(nn, conn, req->recover_lease);
        break;
    case CLIENT_MESSAGE__BODY_APPEND:
        if (nn_perm(nn, conn, req->append->path, (perm_request){.access = PERM_W}) == 0)
            namenode_handle_append(nn, conn, req->append);
        break;
    case CLIENT_MESSAGE__BODY_DECOMMISSION:
        if (namenode_check_superuser(nn, conn, "decommission a node") == 0)
            namenode_handle_decommission(nn, conn, req->decommission);
        break;
    case CLIENT_MESSAGE__BODY_SERVER_DEFAULTS: namenode_handle_server_defaults(nn, conn); break;
    default:
        if (namenode_handle_file_op(nn, conn, req)) /* setTimes, checkAccess, truncate */
            break;
        LOG_WARN("client sent %s, which is not a file system request", message_client_name(req));
        namenode_reply_error(nn, conn, EMBER_EPROTO, "not a file system request");
        break;
    }
}

/* ---- group commit ---------------------------------------------------------- */

/* Sends the answers whose records are durable, in order; once the log has
 * failed, fails every waiting answer instead. */
static void namenode_release_answers(namenode *nn) {
    int failed = edit_log_failed(nn->log);
    uint64_t durable = edit_log_synced_txid(nn->log);
    size_t i = 0;
    for (; i < nn->npending; i++) {
        pending_reply *p = &nn->pending[i];
        if (!failed && p->txid > durable)
            break;
        if (!failed)
            namenode_reply_frame(nn, p->conn_id, p->frame, p->len);
        else
            namenode_reply_error(nn, p->conn_id, EMBER_EIO, "the namenode's edit log failed");
        free(p->frame);
    }
    if (i == 0)
        return;
    memmove(nn->pending, nn->pending + i, (nn->npending - i) * sizeof(*nn->pending));
    nn->npending -= i;
}

/* Marks the namenode failed when its log has failed. */
static void namenode_check_log(namenode *nn) {
    if (edit_log_failed(nn->log) && !nn->failed) {
        LOG_ERROR("edit log sync failed: refusing further changes");
        nn->failed = 1;
    }
}

/* On the pool's thread: the blocking part of nn->job.  It reads nn->job
 * alone, which the loop thread leaves as it is while the job is out. */
static void namenode_job_run(void *arg) {
    const namenode *nn = arg;
    edit_log_job_run(nn->job);
}

/* On the loop thread when the pool is done with nn->job: applies it and
 * answers what is now durable.  ran = 0 (the pool was destroyed before
 * the job started) runs the job here first.  The next job starts from the
 * hook, never from here (the pool may be going away). */
static void namenode_job_done(void *arg, int ran) {
    namenode *nn = arg;
    edit_log_job *job = nn->job;
    if (!ran)
        edit_log_job_run(job);
    nn->job = NULL;
    int rc = edit_log_job_finish(nn->log, job);
    if (nn->checkpointing) {
        nn->checkpointing = 0;
        namenode_checkpoint_ended(nn, rc);
    }
    namenode_check_log(nn);
    namenode_release_answers(nn);
}

/* Once per loop turn: answers what is durable and, unless a job is out,
 * starts the next one -- a checkpoint the cron asked for, else one fsync
 * for everything appended since the last job began. */
static void namenode_commit(namenode *nn) {
    namenode_release_answers(nn);
    if (nn->job != NULL || nn->failed)
        return;
    if (nn->checkpoint_wanted) {
        nn->checkpoint_wanted = 0;
        if (edit_log_txns_since_checkpoint(nn->log) > 0 && namenode_checkpoint(nn, 0) == EMBER_OK)
            return;
    }
    edit_log_job *job = NULL;
    if (edit_log_sync_begin(nn->log, &job) != EMBER_OK || job == NULL) {
        namenode_check_log(nn);
        return;
    }
    nn->job = job;
    if (thread_pool_submit(nn->pool, namenode_job_run, namenode_job_done, nn) != EMBER_OK)
        namenode_job_done(nn, 0); /* no room on the pool: sync on this thread */
}

/* Destroy: waits for the job out, then syncs and answers on this thread. */
static void namenode_flush(namenode *nn) {
    thread_pool_destroy(nn->pool); /* the job out finishes; its done runs here */
    nn->pool = NULL;
    if (!nn->failed && edit_log_sync(nn->log) != EMBER_OK)
        namenode_check_log(nn);
    namenode_release_answers(nn);
}

static int namenode_hook(event_loop *loop, void *arg) {
    (void)loop;
    namenode_commit(arg);
    return -1;
}

/* ---- life --------------------------------------------------------------- */

int namenode_options_from_config(const config *cfg, namenode_options *opts, char *err,
                                 size_t errlen) {
    int64_t block_size = config_get_int(cfg, "dfs.blocksize");
    if (block_size % 512 != 0) {
        snprintf(err, errlen, "dfs.blocksize %lld is not a multiple of 512", (long long)block_size);
        return EMBER_ECONFIG;
    }
    const char *name_dir = config_get_string(cfg, "dfs.namenode.name.dir");
    int64_t heartbeat_ms = config_get_int(cfg, "dfs.heartbeat.interval");
    *opts = (namenode_options){
        .name_dir = name_dir[0] != '\0' ? name_dir : NULL,
        .default_replication = (uint32_t)config_get_int(cfg, "dfs.replication"),
        .default_block_size = (uint64_t)block_size,
        .checkpoint_txns = (uint64_t)config_get_int(cfg, "dfs.namenode.checkpoint.txns"),
        .checkpoint_period_ms = config_get_int(cfg, "dfs.namenode.checkpoint.period"),
        .list_limit = (uint32_t)config_get_int(cfg, "ember.dfs.list.limit"),
        .token_lifetime_ms = config_get_int(cfg, "dfs.block.access.token.lifetime"),
        .redundancy_interval_ms = config_get_int(cfg, "dfs.namenode.redundancy.interval"),
        .pending_timeout_ms = config_get_int(cfg, "dfs.namenode.reconstruction.pending.timeout"),
        .safemode_threshold_ppm = config_get_int(cfg, "dfs.namenode.safemode.threshold-pct"),
        .safemode_extension_ms = config_get_int(cfg, "dfs.namenode.safemode.extension"),
        .permissions = (int)config_get_int(cfg, "dfs.permissions.enabled"),
        .group_overrides = config_get_string(cfg, "hadoop.user.group.static.mapping.overrides"),
        .groups_cache_ms = config_get_int(cfg, "hadoop.security.groups.cache.secs"),
        .lease_soft_limit_ms = config_get_int(cfg, "ember.namenode.lease-soft-limit"),
        .lease_hard_limit_ms = config_get_int(cfg, "dfs.namenode.lease-hard-limit-sec"),
        .lease_recheck_ms = config_get_int(cfg, "dfs.namenode.lease-recheck-interval-ms"),
        .socket_timeout_ms = config_get_int(cfg, "dfs.datanode.socket.timeout"),
        .trash_interval_ms = config_get_int(cfg, "fs.trash.interval"),
        .trash_checkpoint_interval_ms = config_get_int(cfg, "fs.trash.checkpoint.interval"),
        /* A block recovery phase waits for every live datanode's answer:
         * ten heartbeats, at least two seconds. */
        .recovery_timeout_ms = 10 * heartbeat_ms > 2000 ? 10 * heartbeat_ms : 2000,
    };
    return EMBER_OK;
}

int namenode_create(event_loop *loop, const namenode_options *opts, namenode **out, char *err,
                    size_t errlen) {
    namenode *nn = calloc(1, sizeof(*nn));
    if (nn == NULL)
        return EMBER_ENOMEM;
    nn->opts = *opts;
    nn->loop = loop;
    nn->name_dir = strdup(opts->name_dir);
    nn->superuser = strdup(opts->superuser);
    int rc = EMBER_ENOMEM;
    if (nn->name_dir == NULL || nn->superuser == NULL)
        goto fail;
    nn->opts.name_dir = nn->name_dir;
    nn->opts.superuser = nn->superuser;
    rc = group_mapping_create(opts->group_overrides != NULL ? opts->group_overrides : "",
                              opts->groups_cache_ms, &nn->groups, err, errlen);
    if (rc != EMBER_OK)
        goto fail;
    nn->opts.group_overrides = NULL; /* parsed: the caller's string is not kept */
    rc = fs_namespace_create(nn->superuser, NAMENODE_SUPERGROUP, clock_wall_ms(), &nn->ns);
    if (rc == EMBER_OK)
        rc = block_manager_create(0, 0, (uint32_t)clock_wall_ms(), &nn->bm);
    if (rc != EMBER_OK)
        goto fail;
    fs_namespace_set_removed_hook(nn->ns, namenode_blocks_removed, nn);
    nn->reports = calloc((size_t)(nn->opts.world_size > 0 ? nn->opts.world_size : 1),
                         sizeof(*nn->reports));
    nn->admin = calloc((size_t)(nn->opts.world_size > 0 ? nn->opts.world_size : 1), 1);
    if (nn->reports == NULL || nn->admin == NULL) {
        rc = EMBER_ENOMEM;
        goto fail;
    }
    uint64_t last = 0;
    rc = edit_log_recover(nn->name_dir, namenode_load_image, namenode_replay, nn, &last, err,
                          errlen);
    if (rc != EMBER_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "the namespace in %s does not load: %s", nn->name_dir,
                     ember_strerror(rc));
        goto fail;
    }
    rc = edit_log_open(nn->name_dir, last, &nn->log);
    if (rc != EMBER_OK) {
        snprintf(err, errlen, "cannot open the edit log in %s: %s", nn->name_dir,
                 ember_strerror(rc));
        goto fail;
    }
    nn->last_checkpoint_ms = clock_monotonic_ms();
    if ((rc = thread_pool_create(loop, 1, &nn->pool)) != EMBER_OK) {
        snprintf(err, errlen, "cannot start the namenode's disk thread: %s", ember_strerror(rc));
        goto fail;
    }
    if ((rc = event_loop_add_hook(loop, namenode_hook, nn)) != EMBER_OK ||
        (rc = event_loop_add_timer(loop, 1000, namenode_cron, nn, &nn->timer_id)) != EMBER_OK ||
        (rc = event_loop_add_timer(loop, nn->opts.redundancy_interval_ms > 0
                                             ? nn->opts.redundancy_interval_ms : 1000,
                                   namenode_redundancy_tick, nn, &nn->redundancy_timer_id)) != 0 ||
        (rc = event_loop_add_timer(loop, nn->opts.lease_recheck_ms > 0 ? nn->opts.lease_recheck_ms
                                                                       : 2000,
                                   namenode_lease_tick, nn, &nn->lease_timer_id)) != 0 ||
        (rc = namenode_trash_start(nn)) != EMBER_OK)
        goto fail;
    /* Blocks that existed before this start wait for their datanodes. */
    block_manager_stats bs;
    block_manager_get_stats(nn->bm, &bs);
    nn->safe_mode = bs.complete > 0 ? NAMENODE_SAFE_AUTO : NAMENODE_SAFE_OFF;
    if (nn->safe_mode)
        LOG_INFO("safe mode: waiting for the datanodes to report %llu block(s)",
                 (unsigned long long)bs.complete);
    LOG_INFO("namenode up: %llu inodes, last transaction %llu, name dir %s",
             (unsigned long long)fs_namespace_inode_count(nn->ns), (unsigned long long)last,
             nn->name_dir);
    *out = nn;
    return EMBER_OK;
fail:
    namenode_destroy(nn);
    return rc;
}

void namenode_destroy(namenode *nn) {
    if (nn == NULL)
        return;
    group_mapping_destroy(nn->groups);
    if (nn->log != NULL) {
        namenode_flush(nn);
        if (!nn->failed && edit_log_txns_since_checkpoint(nn->log) > 0)
            namenode_checkpoint(nn, 1);
        edit_log_close(nn->log);
    }
    thread_pool_destroy(nn->pool); /* when the log never opened */
    event_loop_remove_hook(nn->loop, namenode_hook, nn);
    if (nn->timer_id != 0)
        event_loop_remove_timer(nn->loop, nn->timer_id);
    if (nn->redundancy_timer_id != 0)
        event_loop_remove_timer(nn->loop, nn->redundancy_timer_id);
    if (nn->lease_timer_id != 0)
        event_loop_remove_timer(nn->loop, nn->lease_timer_id);
    namenode_trash_stop(nn);
    namenode_leases_free(nn);
    fs_namespace_destroy(nn->ns);
    block_manager_destroy(nn->bm);
    if (nn->reports != NULL)
        for (int r = 0; r < nn->opts.world_size; r++) {
            free(nn->reports[r].ids);
            free(nn->reports[r].gen_stamps);
            free(nn->reports[r].lengths);
        }
    free(nn->reports);
    free(nn->admin);
    free(nn->pending);
    free(nn->name_dir);
    free(nn->superuser);
    free(nn);
}

uint64_t namenode_last_txid(const namenode *nn) { return edit_log_last_txid(nn->log); }
