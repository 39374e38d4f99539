/* namenode_internal.h -- what the namenode's files share (not public).
 *
 * namenode.c: recovery, the apply/log/commit path, namespace requests,
 * checkpoints.  file_ops.c: setTimes, checkAccess, truncate.  block_ops.c: blocks -- allocation, the write protocol
 * (add block, complete, a new gen stamp for pipeline recovery), locations
 * and tokens for reads, replica reports from datanodes, deletion of
 * replicas.  replication.c: safe mode, the redundancy monitor (corrupt
 * replicas included) and the admin states of decommission. */
#ifndef EMBER_NAMENODE_INTERNAL_H
#define EMBER_NAMENODE_INTERNAL_H

#include "block_manager.h"
#include "client.pb-c.h"
#include "edit_log.h"
#include "namenode.h"
#include "namespace.h"

#define NAMENODE_SUPERGROUP "supergroup" /* HDFS's dfs.permissions.superusergroup */

/* A full block report arrives in pieces: accumulated per rank. */
typedef struct {
    uint64_t *ids, *gen_stamps, *lengths;
    size_t n, cap;
} block_report_acc;

/* Safe mode: no namespace change and no replication while the datanodes
 * have not yet reported a replica of every complete block (AUTO, left by
 * itself) or while an operator holds it (MANUAL, dfsadmin -safemode). */
enum { NAMENODE_SAFE_OFF = 0, NAMENODE_SAFE_AUTO = 1, NAMENODE_SAFE_MANUAL = 2 };

/* A core node's admin state (decommission), as NodeAdminState.state
 * numbers it in the edit log and the image. */
enum { NN_ADMIN_NORMAL = 0, NN_ADMIN_DECOMMISSIONING = 1, NN_ADMIN_DECOMMISSIONED = 2 };

/* A replication the namenode asked for and has not seen done yet. */
#define NAMENODE_PENDING_MAX 256
typedef struct {
    uint64_t block_id;
    int64_t deadline_ms;
} pending_replication;

/* An answer waiting for the sync of its record (and of every record
 * before it): sent once the edit log's synced txid reaches txid. */
typedef struct {
    uint64_t conn_id;
    uint64_t txid;
    uint8_t *frame;
    size_t len;
} pending_reply;

/* A DeleteBlocks sent lately (block reports in flight may still list
 * the replica). */
#define NAMENODE_RECENT_DELETES 4096
#define NAMENODE_DELETE_MEMORY_MS 60000
typedef struct {
    int rank;
    uint64_t block_id; /* 0: empty slot */
    int64_t sent_ms;   /* monotonic */
} nn_recent_delete;

/* A lease holder (a writing client) and when it last renewed. */
typedef struct {
    char *holder;
    int64_t renewed_ms; /* monotonic */
} nn_lease;

/* The recovery of a file's last block (lease_manager.c). */
enum { NN_RECOVERY_INIT = 1, NN_RECOVERY_UPDATE = 2 };
typedef struct {
    uint64_t block_id;
    uint64_t recovery_id;      /* the gen stamp the recovered replicas get */
    int phase;                 /* NN_RECOVERY_* */
    int64_t deadline_ms;       /* monotonic: the phase gives up then */
    uint8_t *state;            /* by rank: 0 not asked, 1 asked, 2 answered, 3 answered and
                                  sent UpdateReplica */
    uint8_t *found;            /* by rank, from ReplicaRecoveryInfo */
    uint8_t *finalized;
    uint64_t *gen_stamps;
    uint64_t *lengths;
    int asked, answered;
    uint64_t length;           /* UPDATE: the length the replicas are cut to */
} nn_recovery;

struct namenode {
    namenode_options opts;
    char *name_dir;
    char *superuser;
    struct group_mapping *groups; /* users' groups for permission checks */
    fs_namespace *ns;
    edit_log *log;
    event_loop *loop;
    uint64_t timer_id;
    int64_t last_checkpoint_ms;
    int failed;                /* the edit log failed: no more mutations */
    struct thread_pool *pool;  /* runs the edit log's jobs off the loop */
    edit_log_job *job;         /* the one job out (a sync or a checkpoint), or NULL */
    int checkpointing;         /* job is a checkpoint */
    int checkpoint_wanted;     /* the cron asked for one; starts when no job is out */
    uint64_t checkpoint_txid;  /* the checkpoint's image is after this txid */
    pending_reply *pending;    /* in txid order */
    size_t npending, pending_cap;
    block_manager *bm;
    block_report_acc *reports; /* by rank */
    int safe_mode;             /* NAMENODE_SAFE_* */
    int64_t safe_reached_ms;   /* SAFE_AUTO: when the threshold was reached (0: not now) */
    uint64_t redundancy_timer_id;
    pending_replication pending_repl[NAMENODE_PENDING_MAX];
    int npending_repl;
    unsigned replication_rr;   /* rotates the source among a block's holders */
    nn_lease *leases;          /* lease_manager.c's */
    size_t nleases, leases_cap;
    nn_recovery *recoveries;
    size_t nrecoveries, recoveries_cap;
    uint64_t lease_timer_id;
    uint8_t *admin;            /* by rank: NN_ADMIN_* (replication.c; logged, in the image) */
    nn_recent_delete recent_deletes[NAMENODE_RECENT_DELETES]; /* a ring */
    size_t recent_next;
    uint64_t trash_timer_id;   /* trash.c's emptier (0: no trash) */
};

/* namenode.c */
#define NAMENODE_NO_CONN 0 /* a mutation of the namenode's own (lease recovery): no one to answer */
/* Answers conn with an error; with NAMENODE_NO_CONN, logs it instead. */
void namenode_reply_error(namenode *nn, uint64_t conn, int code, const char *message);
/* The host's view of rank (opts.host.datanode); EMBER_ENOENT when none. */
int namenode_datanode_get(const namenode *nn, int rank, namenode_datanode *out);
/* Sends msg to a datanode through the host; EMBER_EINVAL without one. */
int namenode_send(namenode *nn, int dest, const RankMessage *msg);
/* The authenticated user and group of conn (host.identity): 0, or a
 * negative code when conn is unknown or is NAMENODE_NO_CONN. */
int namenode_identity(namenode *nn, uint64_t conn, const char **user, const char **group);
/* Applies (live: logs) a record; on failure answers conn with the error
 * (display names the path(s)) and returns its code.  On success the
 * caller answers with namenode_answer(..., after_sync = 1).  final_dst
 * (FS_PATH_MAX + 1 bytes, may be NULL) receives a rename's destination. */
int namenode_log(namenode *nn, uint64_t conn, EditRecord *rec, const char *err_path,
                 const char *display, char *final_dst);
/* Encodes res and sends it now, or after the group commit. */
void namenode_answer(namenode *nn, uint64_t conn, DfsResult *res, int after_sync);
/* Hadoop's wording for an error on path. */
void namenode_error(namenode *nn, uint64_t conn, int rc, const char *path, const char *display);
void namenode_fill_status(FileStatus *fs, const char *path, const fs_stat *st);

/* block_ops.c */
int namenode_apply_add_block(namenode *nn, const EditAddBlock *op);
int namenode_apply_complete(namenode *nn, const EditComplete *op);
int namenode_apply_update_block(namenode *nn, const EditUpdateBlock *op);
/* The removed hook: forgets the blocks and tells their holders. */
void namenode_blocks_removed(uint64_t inode_id, const uint64_t *blocks, size_t nblocks, void *arg);
void namenode_handle_add_block(namenode *nn, uint64_t conn, const AddBlockRequest *m);
void namenode_handle_complete(namenode *nn, uint64_t conn, const CompleteRequest *m);
/* Pipeline recovery: a new gen stamp for the last block of a file being
 * written (EditUpdateBlock), answered with it and a write token. */
void namenode_handle_update_block_for_pipeline(namenode *nn, uint64_t conn,
                                      const UpdateBlockForPipelineRequest *m);
void namenode_handle_get_block_locations(namenode *nn, uint64_t conn, const GetBlockLocationsRequest *m);
void namenode_handle_report_bad_block(namenode *nn, uint64_t conn, const ReportBadBlock *m);
/* Fills a token for block id/gs in mode (AUTH_TOKEN_*), good for the
 * configured lifetime; mac (AUTH_MAC_LEN bytes) holds its MAC. */
void namenode_block_token(namenode *nn, BlockToken *t, uint8_t *mac, uint64_t id, uint64_t gs,
                          uint32_t mode);
/* Fills loc for rank from the registry: 0, or -1 when the node is not a
 * live datanode with a data port. */
int namenode_location(namenode *nn, int rank, DatanodeLocation *loc);
/* Asks rank to delete replicas (DeleteBlocks), remembering it for a
 * while: block_report() ignores them in reports sent meanwhile. */
void namenode_send_delete(namenode *nn, int rank, const uint64_t *ids, size_t n);
/* Live core nodes with a data port, as placement candidates; nodes has
 * room for the world size.  A node is usable when not every data
 * directory of it failed and it has at least need bytes remaining (HDFS's
 * isGoodTarget: room for the block).  Returns how many. */
size_t namenode_candidates(namenode *nn, placement_node *nodes, uint64_t need);

/* replication.c */
/* Every dfs.namenode.redundancy.interval: leaves automatic safe mode when
 * every complete block has a replica; outside safe mode, schedules copies
 * of under-replicated blocks and deletes surplus replicas. */
void namenode_redundancy_tick(event_loop *loop, void *arg);
void namenode_handle_safe_mode(namenode *nn, uint64_t conn, const SafeModeRequest *m);
/* Why the namenode is in safe mode and how it leaves, one line for a
 * refused request (HDFS's safe mode tip). */
void namenode_safe_mode_tip(namenode *nn, char *buf, size_t len);
/* dfsadmin -decommission and -recommission (DecommissionRequest). */
void namenode_handle_decommission(namenode *nn, uint64_t conn, const DecommissionRequest *m);
/* Applies a NodeAdminState (an edit, or an image's entry): the rank's
 * state, and whether its replicas count.  EMBER_EINVAL for a state out of
 * range, EMBER_ENOMEM. */
int namenode_admin_state_apply(namenode *nn, const NodeAdminState *op);
/* Each tick: decommissioning nodes none of whose blocks still needs them
 * become decommissioned (logged). */
void replication_decommission_progress(namenode *nn);
/* namenode_node_decommissioned() (namenode.h): a decommissioned rank's
 * replicas are recorded but neither counted nor handed out while another
 * replica is there. */
/* A replica of block_id was added: a pending replication that is now
 * complete is forgotten, and corrupt replicas no longer needed deleted. */
void namenode_replica_added(namenode *nn, uint64_t block_id);
/* A replica of block_id was just marked corrupt: deleted at once when the
 * block still has its replication in good ones (outside safe mode). */
void namenode_corrupt_marked(namenode *nn, uint64_t block_id);

/* lease_manager.c */
/* The lease monitor, every opts.lease_recheck_ms: recovers the files of
 * holders silent past the hard limit; times out recoveries. */
void namenode_lease_tick(event_loop *loop, void *arg);
/* Renews holder's lease (adding it when new). */
void namenode_lease_renew(namenode *nn, const char *holder);
/* Checks that a create (overwrite) or append of path by holder may take
 * the file when it is under construction: returns 0 when the file is not
 * open; otherwise answers conn with HDFS's error (the lease is held by
 * another live client, or by holder itself; or, past the soft limit,
 * recovery has started: EMBER_EAGAIN) and returns that code. */
int namenode_lease_check_takeover(namenode *nn, uint64_t conn, const char *path,
                                  const char *holder, const char *op);
/* A file holder is to change as a whole (append, truncate; op names it
 * in the errors): it must exist, be a file, and have its lease free
 * (namenode_lease_check_takeover()); *st is its status after that.  0, or
 * the error conn has been answered with. */
int namenode_lease_take_file(namenode *nn, uint64_t conn, const char *path, const char *holder,
                             const char *op, fs_stat *st);
/* For add_block and complete: 0 when holder ("" = unchecked) holds the
 * lease of path and no recovery runs on it; else answers conn and returns
 * the error. */
int namenode_lease_check_holder(namenode *nn, uint64_t conn, const char *path,
                                const char *holder);
/* Starts the recovery of path's lease now: 1 when the file is closed (it
 * was, or had no block to recover and was closed now: answer after the
 * sync), 0 when recovery runs, a negative code when it cannot (conn, or
 * the log with NAMENODE_NO_CONN, has been told why). */
int namenode_lease_recover(namenode *nn, uint64_t conn, const char *path);
/* Datanode messages of a recovery; and a BlockReceived that may finish
 * one (called before the replica is recorded). */
void namenode_recovery_info(namenode *nn, int source, const ReplicaRecoveryInfo *m);
void namenode_recovery_received(namenode *nn, const BlockReceived *m);
void namenode_handle_renew_lease(namenode *nn, uint64_t conn, const RenewLeaseRequest *m);
void namenode_handle_recover_lease(namenode *nn, uint64_t conn, const RecoverLeaseRequest *m);
void namenode_handle_append(namenode *nn, uint64_t conn, const AppendRequest *m);
int namenode_apply_append(namenode *nn, const EditAppend *op);
void namenode_leases_free(namenode *nn);

/* permission.c: HDFS's permission checks.  Access bits as in a mode:
 * 4 read, 2 write, 1 execute.  Each returns 0 when the caller of conn may
 * (always for the superuser, with permissions off, or for the namenode's
 * own mutations), else answers conn with HDFS's denial and returns
 * EMBER_EACCES. */
typedef struct {
    int ancestor; /* on the deepest existing directory above the path */
    int parent;   /* on the directory holding the last component */
    int access;   /* on the path's inode, when it exists */
    int sub;      /* on every directory under the path */
    int owner;    /* the caller must own the path's inode */
    int sticky;   /* a sticky parent restricts deleting/renaming to owners */
} perm_request;
int namenode_check_permission(namenode *nn, uint64_t conn, const char *path,
                              const perm_request *want);
/* dfsadmin operations (what: "enter safe mode", ...). */
int namenode_check_superuser(namenode *nn, uint64_t conn, const char *what);
/* chown/chgrp: only the superuser gives files away; an owner may change
 * the group to its own group. */
int namenode_check_chown(namenode *nn, uint64_t conn, const char *path, const char *owner,
                         const char *group);

/* trash.c: HDFS's server defaults and trash emptier (common/trash.h). */
/* Answers ServerDefaultsRequest: the namenode's fs.trash.interval. */
void namenode_handle_server_defaults(namenode *nn, uint64_t conn);
/* With fs.trash.interval above 0, starts the emptier's timer; 0, or the
 * loop's error. */
int namenode_trash_start(namenode *nn);
void namenode_trash_stop(namenode *nn);
/* One run of the emptier at wall-clock time now_ms: every user's expired
 * trash checkpoints deleted, then each Current made a checkpoint (the
 * timer's work; tests call it directly). */
void namenode_trash_empty(namenode *nn, int64_t now_ms);
/* file_ops.c: setTimes, checkAccess and truncate (the shell's -touch,
 * -test -r/-w, -truncate).  handle_file_op serves req when it is one of
 * them (1), else returns 0. */
int namenode_handle_file_op(namenode *nn, uint64_t conn, const ClientMessage *req);
/* Applies an EditTruncate (see file_ops.c); now_ms is the file's new
 * mtime. */
int namenode_apply_truncate(namenode *nn, const EditTruncate *op, int64_t now_ms);

/* Image support: a file's blocks into ImageBlocks, and back. */
int namenode_image_blocks(namenode *nn, const char *path, ImageBlock ***blocks, size_t *n);
int namenode_load_blocks(namenode *nn, const ImageInode *in);

#endif
