/* mpi_link_internal.h -- the link's state, shared by mpi_link.c (messages)
 * and mpi_link_bulk.c (bulk payloads).  Nothing outside proto/ includes it. */
#ifndef EMBER_MPI_LINK_INTERNAL_H
#define EMBER_MPI_LINK_INTERNAL_H

#include <mpi.h>

#include "mpi_link.h"

#define MPI_LINK_TAG 100 /* every RankMessage; bulk payloads use tags above it */
#define MPI_LINK_RECV_PER_TURN 64
/* An idle link polls MPI again after a quarter of the time it has been
 * idle, from 1 ms up to this: a message after a silence of t waits at
 * most min(t / 4, this). */
#define MPI_LINK_IDLE_WAIT_MAX_MS 20

typedef enum { SEND_SENDING, SEND_CANCELLING } send_state;
typedef enum { CLASS_CONTROL, CLASS_DATA, CLASS_COUNT } send_class;

typedef struct {
    uint8_t *buf;
    size_t len;
    int dest;
    send_class cls;
    send_state state;
    int done; /* MPI completed it this turn */
    int cancelled;
    int64_t deadline_ms;
} pending_send;

typedef struct {
    uint8_t *buf;
    int len;
    int source;
    int done; /* MPI completed it; waiting for its turn */
    int64_t deadline_ms;
} pending_recv;

typedef struct mpi_bulk_xfer mpi_bulk_xfer;

/* A delivered header's payload, waiting for mpi_link_recv_bulk(). */
typedef struct {
    int pending;
    int source, tag;
    uint64_t len;
    uint32_t chunk;
} mpi_bulk_header;

struct mpi_link {
    event_loop *loop;
    int64_t send_timeout_ms;
    mpi_link_message_cb cb;
    void *cb_arg;
    mpi_link_writable_cb writable_cb;
    void *writable_arg;
    uint64_t cap[CLASS_COUNT];
    int world_size;
    uint8_t *dead;                 /* dead[rank] */
    uint64_t *queued[CLASS_COUNT]; /* bytes posted and not completed, per destination */
    uint8_t *want_writable;        /* a data send to dest was refused */
    int nwant;
    uint8_t *over_cap_logged; /* the control cap's ERROR was logged for dest */
    pending_send *sends;
    MPI_Request *send_reqs;
    int nsends, sends_cap;
    pending_recv *recvs;
    MPI_Request *recv_reqs;
    int nrecvs, recvs_cap;
    int *indices; /* MPI_Testsome's, max(sends_cap, recvs_cap) */
    MPI_Status *statuses;
    int indices_cap;
    uint32_t *blocked_turn; /* source's earliest receive pending in turn n */
    uint32_t turn;
    int64_t active_ms; /* the last turn with activity, or the last send */
    mpi_link_stats stats;
    /* Bulk transfers (mpi_link_bulk.c), in start order. */
    mpi_bulk_xfer **bulk;
    int nbulk, bulk_cap;
    int bulk_tag_ub; /* MPI_TAG_UB of MPI_COMM_WORLD */
    int bulk_next_tag;
    uint32_t bulk_chunk;       /* chunk size of the transfers this rank sends */
    mpi_bulk_header unclaimed; /* the header being delivered, until claimed */
};

/* Encodes msg and posts it to dest in class cls; a data message is
 * refused (EMBER_EAGAIN) when the bytes queued to dest plus the message
 * plus extra would pass the cap.  See mpi_link_send(). */
int mpi_link_post(mpi_link *link, int dest, const RankMessage *msg, send_class cls, uint64_t extra);

/* Keeps buf, which MPI may still touch, reachable forever. */
void mpi_link_abandon(void *buf);

/* mpi_link_bulk.c's part of the link's life: set up at create; checks a
 * header before delivery (EMBER_EPROTO: drop it) and remembers it as
 * unclaimed; after the message callback, drains an unclaimed payload;
 * progress (returns activity); a dead peer; destroy. */
int mpi_bulk_init(mpi_link *link);
int mpi_bulk_before_deliver(mpi_link *link, int source, const RankMessage *msg);
void mpi_bulk_after_deliver(mpi_link *link);
int mpi_bulk_progress(mpi_link *link, int64_t now);
void mpi_bulk_peer_dead(mpi_link *link, int rank);
void mpi_bulk_destroy(mpi_link *link);

#endif
