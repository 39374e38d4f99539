/* namenode_internal.h -- what the namenode's files share (not public).
 *
 * namenode.c: recovery, the apply/log/commit path, namespace requests,
 * checkpoints.  block_ops.c: blocks -- allocation, the write protocol
 * (add block, complete), locations and tokens for reads, replica reports
 * from datanodes, deletion of replicas.  replication.c: safe mode and the
 * redundancy monitor. */
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

/* A replication the namenode asked for and has not seen done yet. */
#define NAMENODE_PENDING_MAX 256
typedef struct {
    uint64_t block_id;
    int64_t deadline_ms;
} pending_replication;

typedef struct {
    uint64_t conn_id;
    uint8_t *frame;
    size_t len;
} pending_reply;

struct namenode {
    namenode_options opts;
    char *name_dir;
    char *superuser;
    fs_namespace *ns;
    edit_log *log;
    gateway *gw;               /* where pending answers go */
    event_loop *loop;
    uint64_t timer_id;
    int64_t last_checkpoint_ms;
    int failed;                /* the edit log failed: no more mutations */
    pending_reply *pending;
    size_t npending, pending_cap;
    block_manager *bm;
    block_report_acc *reports; /* by rank */
    int safe_mode;             /* NAMENODE_SAFE_* */
    uint64_t redundancy_timer_id;
    pending_replication pending_repl[NAMENODE_PENDING_MAX];
    int npending_repl;
    unsigned replication_rr;   /* rotates the source among a block's holders */
};

/* namenode.c */
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
/* The removed hook: forgets the blocks and tells their holders. */
void namenode_blocks_removed(uint64_t inode_id, const uint64_t *blocks, size_t nblocks, void *arg);
void handle_add_block(namenode *nn, uint64_t conn, const AddBlockRequest *m);
void handle_complete(namenode *nn, uint64_t conn, const CompleteRequest *m);
void handle_get_block_locations(namenode *nn, uint64_t conn, const GetBlockLocationsRequest *m);
void handle_report_bad_block(namenode *nn, uint64_t conn, const ReportBadBlock *m);
/* Live core nodes with a data port, as placement candidates; nodes has
 * room for the world size.  Returns how many. */
size_t namenode_candidates(namenode *nn, placement_node *nodes);

/* replication.c */
/* Every dfs.namenode.redundancy.interval: leaves automatic safe mode when
 * every complete block has a replica; outside safe mode, schedules copies
 * of under-replicated blocks and deletes surplus replicas. */
void namenode_redundancy_tick(event_loop *loop, void *arg);
void handle_safe_mode(namenode *nn, uint64_t conn, const SafeModeRequest *m);
/* A replica of block_id was added: a pending replication that is now
 * complete is forgotten. */
void namenode_replica_added(namenode *nn, uint64_t block_id);

/* Image support: a file's blocks into ImageBlocks, and back. */
int namenode_image_blocks(namenode *nn, const char *path, ImageBlock ***blocks, size_t *n);
int namenode_load_blocks(namenode *nn, const ImageInode *in);

#endif
