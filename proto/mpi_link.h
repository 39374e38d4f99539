/* mpi_link.h -- RankMessages between ranks over MPI point-to-point.
 *
 * Everything is non-blocking: sends are MPI_Isend with a deadline (expired
 * sends are cancelled), receives are MPI_Improbe + MPI_Imrecv, and the
 * event loop's hook drives both each turn.  No call here ever waits for a
 * peer, because a dead peer is never reported by MPI: a send to it simply
 * never completes.  One encoded message is at most MPI_LINK_MESSAGE_MAX
 * bytes; bulk data travels as many such messages.  Bytes in flight to one
 * peer are capped, so a slow receiver cannot make a sender queue without
 * bound: over the cap, a send returns EMBER_EAGAIN and the caller retries. */
#ifndef EMBER_MPI_LINK_H
#define EMBER_MPI_LINK_H

#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/event_loop.h"

#define MPI_LINK_MESSAGE_MAX (8u * 1024 * 1024)
#define MPI_LINK_INFLIGHT_MAX (64u * 1024 * 1024) /* per destination */

typedef struct mpi_link mpi_link;

/* Called on the loop thread for each valid message; msg belongs to the
 * callee, which frees it with rank_message__free_unpacked(msg, NULL). */
typedef void (*mpi_link_message_cb)(mpi_link *link, int source, RankMessage *msg, void *arg);

/* Creates the link on MPI_COMM_WORLD and registers its hook with loop.
 * MPI must be initialised.  send_timeout_ms bounds every send. */
int mpi_link_create(event_loop *loop, int64_t send_timeout_ms, mpi_link_message_cb cb, void *arg,
                    mpi_link **out);

/* Cancels what is still in flight and frees the link.  Accepts NULL. */
void mpi_link_destroy(mpi_link *link);

/* Encodes msg and starts sending it to dest.  Returns EMBER_ETOOBIG for a
 * message over MPI_LINK_MESSAGE_MAX, EMBER_EAGAIN when dest already has
 * MPI_LINK_INFLIGHT_MAX bytes in flight, EMBER_ECLOSED when dest was
 * declared dead, EMBER_EINVAL for a bad rank. */
int mpi_link_send(mpi_link *link, int dest, const RankMessage *msg);

/* Marks rank dead: its pending sends are cancelled and later sends to it
 * fail with EMBER_ECLOSED. */
void mpi_link_set_dead(mpi_link *link, int rank);

/* Undoes mpi_link_set_dead(): rank was heard from again (a stopped rank
 * resumed), so sends to it are allowed once more. */
void mpi_link_set_alive(mpi_link *link, int rank);

/* Sends not yet completed (cancelled ones included until MPI lets go). */
int mpi_link_pending(const mpi_link *link);

/* Drives sends and receives once; the loop hook calls it each turn, and a
 * caller without a loop can call it directly. */
void mpi_link_progress(mpi_link *link);

/* Counters for logs and tests. */
typedef struct {
    uint64_t sent, received, send_timeouts, rejected;
} mpi_link_stats;
void mpi_link_get_stats(const mpi_link *link, mpi_link_stats *out);

#endif
