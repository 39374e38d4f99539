/* file_ops.c -- the namenode's setTimes, checkAccess and truncate (the
 * shell's -touch, -test -r/-w and -truncate), as HDFS's FSNamesystem
 * serves them.
 *
 * setTimes (EditSetTimes) needs WRITE access to the path; checkAccess
 * answers whether the caller passes the permission check for the access
 * it names, changing nothing.
 *
 * truncate (EditTruncate, HDFS's truncate) takes a complete file whose
 * lease is free (namenode_lease_check_takeover()) to new_length <= its
 * length, with WRITE access.  The blocks wholly past new_length are
 * dropped from the file and the block map, their replicas deleted.  At a
 * block boundary that is all: the file stays complete and the answer
 * says so (closed).  Inside a block, that block -- the file's last now --
 * goes back under construction under a new gen stamp with its target
 * length (block_manager_truncate()), the file goes under construction for
 * the client, its length that of its whole blocks, and block recovery
 * starts at once (lease_manager.c): the datanodes cut their replicas to
 * the target (a finalized one too: UpdateReplica.truncate) and the
 * recovery's EditComplete closes the file at new_length.  The target is
 * in the block map, the edit log and the image, so a recovery that times
 * out, or a restart, resumes the same truncate (the lease monitor
 * restarts a truncate's recovery on its next tick).  Until then the file
 * reads as its whole blocks, and an append or a second truncate is
 * refused ("lease recovery is in progress"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "namenode_internal.h"
#include "proto/message.h"

#define FILE_OPS_READ 4 /* access bits, as perm_request takes them */
#define FILE_OPS_WRITE 2

/* Answers a logged mutation of path after the sync, with its status; the
 * closed flag for truncate. */
static void file_ops_answer(namenode *nn, uint64_t conn, const char *path, int closed) {
    DfsResult res = DFS_RESULT__INIT;
    FileStatus fs;
    fs_stat st;
    if (fs_namespace_stat(nn->ns, path, &st) == EMBER_OK) {
        namenode_fill_status(&fs, path, &st);
        res.status = &fs;
    }
    res.closed = closed;
    namenode_answer(nn, conn, &res, 1);
}

static void file_ops_set_times(namenode *nn, uint64_t conn, const SetTimesRequest *m) {
    perm_request want = {.access = FILE_OPS_WRITE};
    if (namenode_check_permission(nn, conn, m->path, &want) != 0)
        return;
    EditSetTimes op = EDIT_SET_TIMES__INIT;
    op.path = m->path;
    op.mtime_ms = m->mtime_ms;
    op.atime_ms = m->atime_ms;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_SET_TIMES;
    rec.set_times = &op;
    if (namenode_log(nn, conn, &rec, m->path, NULL, NULL) == EMBER_OK)
        file_ops_answer(nn, conn, m->path, 0);
}

static void file_ops_check_access(namenode *nn, uint64_t conn, const CheckAccessRequest *m) {
    perm_request want = {.access = (int)m->access};
    if (namenode_check_permission(nn, conn, m->path, &want) != 0)
        return;
    fs_stat st;
    int rc = fs_namespace_stat(nn->ns, m->path, &st);
    if (rc != EMBER_OK) {
        namenode_error(nn, conn, rc, m->path, NULL);
        return;
    }
    DfsResult res = DFS_RESULT__INIT;
    namenode_answer(nn, conn, &res, 0);
}

/* Where new_length falls in the file's blocks: *whole how many blocks
 * lie wholly before it, *offset their bytes (new_length itself at a
 * boundary, else where the block cut inside starts). */
static void file_ops_cut_point(namenode *nn, const uint64_t *blocks, size_t n, uint64_t new_length,
                               size_t *whole, uint64_t *offset) {
    uint64_t off = 0;
    size_t i = 0;
    for (; i < n; i++) {
        const block_entry *b = block_manager_get(nn->bm, blocks[i]);
        uint64_t len = b != NULL ? b->length : 0;
        if (off + len > new_length)
            break;
        off += len;
    }
    *whole = i;
    *offset = off;
}

int namenode_apply_truncate(namenode *nn, const EditTruncate *op, int64_t now_ms) {
    fs_stat st;
    const uint64_t *blocks;
    size_t n = 0, whole;
    uint64_t offset;
    int rc = fs_namespace_stat(nn->ns, op->path, &st);
    if (rc == EMBER_OK && st.is_dir)
        rc = EMBER_EISDIR;
    if (rc == EMBER_OK && st.under_construction)
        rc = EMBER_ESTATE;
    if (rc == EMBER_OK && op->new_length > st.length)
        rc = EMBER_EINVAL;
    if (rc == EMBER_OK)
        rc = fs_namespace_blocks(nn->ns, op->path, &blocks, &n);
    if (rc != EMBER_OK)
        return rc;
    file_ops_cut_point(nn, blocks, n, op->new_length, &whole, &offset);
    int inside = offset < op->new_length; /* block `whole` is cut, and stays */
    if (inside != (op->new_gen_stamp != 0))
        return EMBER_EINVAL; /* the record does not fit this file */
    size_t keep = whole + (size_t)inside, ndrop = n - keep;
    uint64_t cut_block = inside ? blocks[whole] : 0;
    uint64_t *dropped = ndrop > 0 ? malloc(ndrop * sizeof(*dropped)) : NULL;
    if (ndrop > 0 && dropped == NULL)
        return EMBER_ENOMEM;
    for (size_t k = 0; k < ndrop && rc == EMBER_OK; k++)
        rc = fs_namespace_remove_last_block(nn->ns, op->path, &dropped[k]);
    if (rc == EMBER_OK)
        namenode_blocks_removed(st.inode_id, dropped, ndrop, nn);
    free(dropped);
    if (rc == EMBER_OK && inside)
        rc = block_manager_truncate(nn->bm, cut_block, op->new_gen_stamp, op->new_length - offset);
    if (rc == EMBER_OK && inside)
        rc = fs_namespace_set_under_construction(nn->ns, op->path, op->client_name);
    if (rc == EMBER_OK)
        rc = fs_namespace_set_length(nn->ns, op->path, inside ? offset : op->new_length);
    if (rc == EMBER_OK)
        rc = fs_namespace_set_times(nn->ns, op->path, now_ms, -1);
    return rc;
}

static void file_ops_truncate(namenode *nn, uint64_t conn, const TruncateRequest *m) {
    perm_request want = {.access = FILE_OPS_WRITE};
    if (namenode_check_permission(nn, conn, m->path, &want) != 0)
        return;
    fs_stat st;
    if (namenode_lease_take_file(nn, conn, m->path, m->client_name, "TRUNCATE_FILE", &st) != 0)
        return;
    char msg[MESSAGE_TEXT_MAX];
    if (m->new_length > st.length) {
        snprintf(msg, sizeof(msg),
                 "Cannot truncate to a larger file size. Current size: %llu, truncate size: "
                 "%llu.",
                 (unsigned long long)st.length, (unsigned long long)m->new_length);
        namenode_reply_error(nn, conn, EMBER_EINVAL, msg);
        return;
    }
    const uint64_t *blocks;
    size_t n = 0, whole;
    uint64_t offset;
    fs_namespace_blocks(nn->ns, m->path, &blocks, &n);
    file_ops_cut_point(nn, blocks, n, m->new_length, &whole, &offset);
    int inside = offset < m->new_length;
    EditTruncate op = EDIT_TRUNCATE__INIT;
    op.path = m->path;
    op.new_length = m->new_length;
    op.client_name = m->client_name;
    op.new_gen_stamp = inside ? block_manager_next_gen_stamp(nn->bm) : 0;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_TRUNCATE;
    rec.truncate = &op;
    if (namenode_log(nn, conn, &rec, m->path, NULL, NULL) != EMBER_OK)
        return;
    if (inside) {
        LOG_INFO("truncate of %s to %llu bytes: its last block is cut by block recovery", m->path,
                 (unsigned long long)m->new_length);
        namenode_lease_renew(nn, m->client_name);
        namenode_lease_recover(nn, NAMENODE_NO_CONN, m->path);
    }
    file_ops_answer(nn, conn, m->path, !inside);
}

int namenode_handle_file_op(namenode *nn, uint64_t conn, const ClientMessage *req) {
    switch (req->body_case) {
    case CLIENT_MESSAGE__BODY_SET_TIMES: file_ops_set_times(nn, conn, req->set_times); return 1;
    case CLIENT_MESSAGE__BODY_CHECK_ACCESS:
        file_ops_check_access(nn, conn, req->check_access);
        return 1;
    case CLIENT_MESSAGE__BODY_TRUNCATE: file_ops_truncate(nn, conn, req->truncate); return 1;
    default: return 0;
    }
}
