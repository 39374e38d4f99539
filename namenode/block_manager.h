/* block_manager.h -- the namenode's block map and placement (HDFS's
 * BlockManager + BlockPlacementPolicyDefault, with its CorruptReplicasMap
 * folded into each block's record).
 *
 * For every block of every file: its generation stamp, length, expected
 * replication (the file's), whether it is complete, and which core nodes
 * (ranks) hold a replica -- good ones, and ones reported corrupt, which
 * stay recorded (not counted, not read while a good one exists, never a
 * copy source) until the namenode has them deleted.  The namespace keeps
 * each file's list of block ids; this module keeps everything about the
 * blocks themselves.  Replica locations are never persisted: they come
 * from the datanodes' block reports after every start (as in HDFS), so a
 * restart forgets which replicas were corrupt.  Block ids and generation
 * stamps are allocated here; the namenode logs each allocation so replay
 * gives the same ids.  Single-threaded (the primary's loop thread). */
#ifndef EMBER_BLOCK_MANAGER_H
#define EMBER_BLOCK_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#define BLOCK_MANAGER_MAX_REPLICAS 16 /* replicas tracked per block */
#define BLOCK_MANAGER_RACK_MAX 128

typedef struct block_manager block_manager;

typedef struct {
    uint64_t block_id;
    uint64_t gen_stamp;
    uint64_t length;          /* bytes; final once complete */
    uint32_t replication;     /* expected replicas (the file's replication) */
    int complete;             /* the writer closed it */
    int nreplicas;            /* good replicas: replicas[0 .. nreplicas), in the order recorded */
    int ncorrupt;             /* corrupt ones: replicas[nreplicas .. nreplicas + ncorrupt) */
    int replicas[BLOCK_MANAGER_MAX_REPLICAS]; /* ranks holding a replica, no duplicates; the
                                                 good and the corrupt share the 16 slots */
    int truncating;           /* under construction to be cut to truncate_length by block
                                 recovery (a truncate inside it); cleared once complete */
    uint64_t truncate_length;
} block_entry;

/* A candidate node for placement. */
typedef struct {
    int rank;
    char rack[BLOCK_MANAGER_RACK_MAX]; /* "/default-rack" unless a topology file says otherwise */
    uint64_t remaining;       /* free bytes */
    int usable;               /* may take a block (today: not every data directory failed) */
} placement_node;

/* An empty map; ids start after the given ones (0, 0 for a new cluster:
 * the first block id is 1073741825 as in HDFS, the first gen stamp 1001). */
int block_manager_create(uint64_t last_block_id, uint64_t last_gen_stamp, uint32_t seed,
                         block_manager **out);
void block_manager_destroy(block_manager *bm);

/* Allocates the next block id and generation stamp (not yet in the map). */
void block_manager_allocate(block_manager *bm, uint64_t *block_id, uint64_t *gen_stamp);

/* The ids last handed out (for checkpoints). */
void block_manager_last_ids(const block_manager *bm, uint64_t *block_id, uint64_t *gen_stamp);

/* Adds a block (under construction, no replicas).  Raises the allocation
 * counters past its id and gen stamp, so replaying a log of additions
 * leaves them where they were.  EMBER_EEXIST when present, EMBER_EINVAL
 * for replication 0.  A replication above BLOCK_MANAGER_MAX_REPLICAS is
 * kept but counts as that many (no more replicas are tracked). */
int block_manager_add(block_manager *bm, uint64_t block_id, uint64_t gen_stamp,
                      uint32_t replication);

/* Marks a block complete with its final length.  EMBER_ENOENT. */
int block_manager_complete(block_manager *bm, uint64_t block_id, uint64_t length);

/* The next generation stamp (lease recovery ids, append). */
uint64_t block_manager_next_gen_stamp(block_manager *bm);

/* Append: the complete block goes back under construction with a new gen
 * stamp (>= its own, else EMBER_EINVAL), its length kept; its replicas are
 * forgotten until reported under the new stamp.  EMBER_ENOENT. */
int block_manager_reopen(block_manager *bm, uint64_t block_id, uint64_t gen_stamp);
/* A truncate inside a complete block: as block_manager_reopen(), and
 * block recovery is to cut its replicas to length (the entry's
 * truncating and truncate_length, kept until the block is complete
 * again).  EMBER_ENOENT, EMBER_EINVAL (an older gen stamp, or length not
 * below the block's). */
int block_manager_truncate(block_manager *bm, uint64_t block_id, uint64_t gen_stamp,
                           uint64_t length);

/* Lease recovery: the block is complete with this gen stamp and length;
 * its replicas are forgotten until reported under the new stamp.
 * EMBER_ENOENT, EMBER_EINVAL for an older gen stamp. */
int block_manager_recovered(block_manager *bm, uint64_t block_id, uint64_t gen_stamp,
                            uint64_t length);

/* Pipeline recovery: a block under construction takes a newer gen stamp
 * (else EMBER_EINVAL); its replicas are forgotten until reported under
 * it, and those left at older stamps are then stale (kept while the block
 * is under construction, see add_replica).  EMBER_ENOENT; EMBER_ESTATE
 * for a complete block. */
int block_manager_update_pipeline(block_manager *bm, uint64_t block_id, uint64_t gen_stamp);

/* Sets the expected replication of a block (setrep), as in add.
 * EMBER_ENOENT, EMBER_EINVAL for 0. */
int block_manager_set_replication(block_manager *bm, uint64_t block_id, uint32_t replication);

/* Forgets a block (its file was deleted); the ranks that held replicas,
 * corrupt ones included, come back in holders (room for
 * BLOCK_MANAGER_MAX_REPLICAS) so the namenode can tell them to delete.
 * EMBER_ENOENT. */
int block_manager_remove(block_manager *bm, uint64_t block_id, int *holders, int *nholders);

/* The entry of a block, or NULL.  Valid until the next call that changes
 * the map. */
const block_entry *block_manager_get(const block_manager *bm, uint64_t block_id);

/* Records that rank holds a replica (a block report or a received block).
 * Returns EMBER_ENOENT for a block the map does not know (the datanode
 * should delete it), EMBER_EAGAIN for a replica of a block under
 * construction with an older gen stamp (not counted, not deleted: lease
 * recovery may need it), EMBER_ESTATE for a replica whose gen stamp is older
 * than the block's or whose length differs from a complete block's (a
 * stale or corrupt replica: also to be deleted; one recorded before for
 * rank, good or corrupt, is dropped) or that would be past
 * BLOCK_MANAGER_MAX_REPLICAS (a surplus one), 0 otherwise (adding a
 * replica twice is fine).  A replica marked corrupt stays corrupt: adding
 * it again returns 0 and changes nothing (a block report still listing it
 * does not make it good); only once it was dropped does rank's next
 * replica count. */
int block_manager_add_replica(block_manager *bm, uint64_t block_id, int rank, uint64_t gen_stamp,
                              uint64_t length);

/* Drops one replica, good or corrupt (the namenode has it deleted).  No
 * error if absent. */
void block_manager_remove_replica(block_manager *bm, uint64_t block_id, int rank);

/* Marks rank's good replica of block_id corrupt (HDFS's
 * markBlockAsCorrupt): it moves to the block's corrupt replicas, where it
 * no longer counts toward replication, placement avoids its node, and it
 * stays until block_manager_remove_replica().  EMBER_ENOENT when the
 * block is unknown or rank holds no replica of it (HDFS ignores such a
 * report too), EMBER_EEXIST when that replica is already corrupt. */
int block_manager_mark_corrupt(block_manager *bm, uint64_t block_id, int rank);

/* Whether rank's replica of e is one of its corrupt replicas. */
int block_manager_is_corrupt(const block_entry *e, int rank);

/* Drops every replica held by rank, good or corrupt (the node died), and
 * marks rank unreported until its next full report; returns how many. */
size_t block_manager_node_lost(block_manager *bm, int rank);

/* A full block report from rank: replicas it no longer lists are dropped
 * (corrupt ones too: gone from its disks), listed ones added as by
 * block_manager_add_replica (a corrupt one stays corrupt); ids it holds
 * that the map does not want (unknown or stale) come back in *invalid
 * (malloc'd, free(); NULL when none) for deletion. */
int block_manager_process_report(block_manager *bm, int rank, const uint64_t *block_ids,
                                 const uint64_t *gen_stamps, const uint64_t *lengths, size_t n,
                                 uint64_t **invalid, size_t *ninvalid);

/* Chooses up to `replication` targets for a new block or an extra replica,
 * by HDFS's default policy: the first on writer_rank when it is a usable
 * candidate, else a random usable node; the second on a different rack
 * from the first when another rack has a usable node, else any other
 * node; the third on the second's rack but another node when possible,
 * else any other; the rest random.  Never a node in exclude, never the
 * same node twice.  Random choices prefer nodes with more remaining space
 * (the more free of two random candidates).  Deterministic for a given
 * seed and call sequence.  Returns how many targets it found (fewer than
 * asked when there are not enough nodes) in *ntargets. */
void block_manager_choose_targets(block_manager *bm, const placement_node *nodes, size_t nnodes,
                                  int writer_rank, uint32_t replication, const int *exclude,
                                  size_t nexclude, int *targets, size_t *ntargets);

/* Complete blocks with fewer live replicas than expected, most urgent
 * first (fewest good replicas, then lowest id), at most max; and with
 * more.  Arrays are caller-provided.  Corrupt replicas count for neither
 * (a block whose replicas are all corrupt is among the most urgent). */
size_t block_manager_under_replicated(const block_manager *bm, uint64_t *ids, size_t max);
size_t block_manager_over_replicated(const block_manager *bm, uint64_t *ids, size_t max);

/* Complete blocks with a corrupt replica whose counted replicas reach
 * their expected replication (capped at what is tracked): the corrupt
 * ones may be deleted now (HDFS's invalidateCorruptReplicas).  Same order,
 * at most max.  A linear scan. */
size_t block_manager_corrupt_replicated(const block_manager *bm, uint64_t *ids, size_t max);

/* Decommissioning and decommissioned ranks.  The replicas of a retiring
 * rank stay in the map (they are read and copied from) but do not count
 * toward a block's replication: its blocks turn under-replicated until
 * copies exist elsewhere, and never over-replicated because of it; taken
 * off the list (recommission), they count again.  set_retiring:
 * EMBER_EINVAL for a negative rank, EMBER_ENOMEM. */
int block_manager_set_retiring(block_manager *bm, int rank, int on);
int block_manager_is_retiring(const block_manager *bm, int rank);
/* A block's replicas that count: the good ones not on a retiring rank. */
int block_manager_counted(const block_manager *bm, const block_entry *e);
/* Complete blocks with a good replica on rank that are under-replicated
 * (by counted replicas): 0 when rank's blocks are safe elsewhere.  A
 * linear scan. */
size_t block_manager_retiring_pending(const block_manager *bm, int rank);

/* Whether a full block report of rank was processed since the map was
 * created or rank was last lost (until then the map cannot know what
 * rank holds). */
int block_manager_reported(const block_manager *bm, int rank);

/* Totals for safe mode and the redundancy monitor.  Of the complete
 * blocks with no good replica, missing ones have no replica at all and
 * corrupt ones only corrupt replicas; both count as under-replicated. */
typedef struct {
    uint64_t blocks, complete, under_replicated, over_replicated;
    uint64_t missing;          /* complete, no replica recorded */
    uint64_t corrupt;          /* complete, every recorded replica corrupt */
    uint64_t corrupt_replicas; /* corrupt replicas recorded, over every block */
    uint64_t with_corrupt;     /* blocks with at least one corrupt replica */
    uint64_t lost_repl_one;    /* complete, no good replica, replication 1 */
} block_manager_stats;
void block_manager_get_stats(const block_manager *bm, block_manager_stats *out);

#endif
