/* directory_scanner.c -- the datanode's directory scanner (HDFS's
 * DirectoryScanner).
 *
 * Every dfs.datanode.directoryscan.interval (its own timer on the loop,
 * dn->dirscan_timer_id) it has the store compare its data directories
 * with its index (block_store_scan(): a listing and a stat per file, no
 * replica data read) and reconcile the index, then tells the primary what
 * changed, so that the namenode's block map follows the disks between
 * full block reports:
 *   missing     a replica whose files went behind the datanode's back (an
 *               operator's rm, a lost disk): dropped from the index and
 *               from the block scanner, and reported deleted
 *               (IncrementalBlockReport.deleted_block_ids): the namenode
 *               drops it and its redundancy monitor copies the block again
 *   added       a finalized replica found on disk that the index lacked
 *               (files put back or copied in): indexed and reported
 *               received (IncrementalBlockReport.received_*), which the
 *               namenode takes as a BlockReceived -- recorded, or deleted
 *               when unknown, stale or of the wrong length
 *   mismatched  a finalized replica whose data file is not its length or
 *               whose meta file does not fit it (truncated, grown): kept
 *               at the data file's length and reported corrupt once
 *               (RankMessage.bad_replica, as the block scanner reports);
 *               the namenode drops it and has it deleted.  An rbw replica
 *               whose files shrank only gets its valid length again (the
 *               namenode does not track rbw replicas)
 * Until the datanode has the cluster secret (it is not registered yet)
 * nothing is sent: the full block report at registration carries the
 * reconciled index.  A send that fails is logged; the next full report
 * carries what it held.  One INFO line per scan that found anything
 * (DEBUG otherwise), WARN lines for the first DIRSCAN_LOG_MAX replicas of
 * each kind.  A scan runs on the loop thread and blocks it for as long as
 * the listings and stats take (see "Where we differ" in ARCHITECTURE.md).
 * No state but the timer: each scan starts from the store as it is. */
#include <inttypes.h>
#include <stdlib.h>

#include "block_store.h"
#include "common/error.h"
#include "common/log.h"
#include "datanode_internal.h"

#define DIRSCAN_LOG_MAX 16 /* replicas of each kind named in the log per scan */

/* Logs the replicas of one kind, the first DIRSCAN_LOG_MAX of them (a
 * replica found is news, one lost or damaged a warning). */
static void dirscan_log(const block_scan_entry *v, size_t n, int warn, const char *what) {
    for (size_t i = 0; i < n && i < DIRSCAN_LOG_MAX; i++) {
        const char *state = v[i].state == BLOCK_REPLICA_RBW ? "rbw" : "finalized";
        if (warn)
            LOG_WARN("datanode: directory scan: %s replica of blk_%" PRIu64 " (gen stamp %" PRIu64
                     ", %" PRIu64 " bytes) %s",
                     state, v[i].info.block_id, v[i].info.gen_stamp, v[i].info.length, what);
        else
            LOG_INFO("datanode: directory scan: %s replica of blk_%" PRIu64 " (gen stamp %" PRIu64
                     ", %" PRIu64 " bytes) %s",
                     state, v[i].info.block_id, v[i].info.gen_stamp, v[i].info.length, what);
    }
    if (n > DIRSCAN_LOG_MAX)
        LOG_INFO("datanode: directory scan: %zu more replica(s) %s", n - DIRSCAN_LOG_MAX, what);
}

/* Sends what the scan found to the primary; returns how many messages
 * could not be sent. */
static int dirscan_report(datanode *dn, const block_scan_result *res) {
    int failed = 0;
    uint64_t *deleted = malloc((res->nmissing + 1) * sizeof(uint64_t));
    block_info *received = malloc((res->nadded + 1) * sizeof(block_info));
    if (deleted == NULL || received == NULL) {
        LOG_ERROR("datanode: out of memory: the directory scan's findings are not reported");
        free(deleted);
        free(received);
        return 1;
    }
    for (size_t i = 0; i < res->nmissing; i++)
        deleted[i] = res->missing[i].info.block_id;
    for (size_t i = 0; i < res->nadded; i++)
        received[i] = res->added[i].info;
    if ((res->nmissing > 0 || res->nadded > 0) &&
        dn_send_incremental_report(dn, received, res->nadded, deleted, res->nmissing) != EMBER_OK)
        failed++;
    for (size_t i = 0; i < res->nmismatched; i++)
        if (res->mismatched[i].state == BLOCK_REPLICA_FINALIZED &&
            dn_send_bad_replica(dn, res->mismatched[i].info.block_id) != EMBER_OK)
            failed++;
    free(deleted);
    free(received);
    return failed;
}

void datanode_directory_scan(datanode *dn) {
    block_scan_result res;
    int rc = block_store_scan(dn->store, &res);
    if (rc != EMBER_OK) {
        LOG_WARN("datanode: directory scan failed: %s; the index is unchanged", ember_strerror(rc));
        return;
    }
    for (size_t i = 0; i < res.nmissing; i++)
        dn_scanner_forget(dn, res.missing[i].info.block_id);
    size_t found = res.nmissing + res.nadded + res.nmismatched;
    if (found == 0 && res.dirs_unlisted == 0) {
        LOG_DEBUG("datanode: directory scan: the index matches the disk (%" PRIu64 " files)",
                  res.files);
        block_scan_result_free(&res);
        return;
    }
    dirscan_log(res.missing, res.nmissing, 1, "is gone from the disk: dropped");
    dirscan_log(res.added, res.nadded, 0, "found on the disk: indexed");
    dirscan_log(res.mismatched, res.nmismatched, 1,
                "does not match its files: indexed at that length now");
    const char *sent = "reported to the primary";
    if (found == 0)
        sent = "nothing to report";
    else if (dn->secret == NULL)
        sent = "not registered yet: the block report at registration carries it";
    else if (dirscan_report(dn, &res) > 0)
        sent = "not all reported: the next full block report carries it";
    if (res.dirs_unlisted > 0)
        LOG_WARN("datanode: directory scan: %d data directory(ies) could not be listed: "
                 "left alone until the next scan",
                 res.dirs_unlisted);
    LOG_INFO("datanode: directory scan: %zu missing, %zu added, %zu mismatched replica(s) in "
             "%" PRIu64 " files; %s",
             res.nmissing, res.nadded, res.nmismatched, res.files, sent);
    block_scan_result_free(&res);
}

/* The timer's callback. */
static void dirscan_on_timer(event_loop *loop, void *arg) {
    (void)loop;
    datanode_directory_scan(arg);
}

int dn_directory_scanner_start(datanode *dn, int64_t interval_ms) {
    if (interval_ms <= 0)
        return EMBER_OK;
    return event_loop_add_timer(dn->loop, interval_ms, dirscan_on_timer, dn, &dn->dirscan_timer_id);
}

void dn_directory_scanner_stop(datanode *dn) {
    if (dn->dirscan_timer_id == 0)
        return;
    event_loop_remove_timer(dn->loop, dn->dirscan_timer_id);
    dn->dirscan_timer_id = 0;
}
