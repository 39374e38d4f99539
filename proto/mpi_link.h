/* mpi_link.h -- RankMessages between ranks over MPI point-to-point.
 *
 * Everything is non-blocking: sends are MPI_Isend with a deadline (expired
 * sends are cancelled), receives are MPI_Improbe + MPI_Imrecv, and the
 * event loop's hook drives both each turn.  No call here ever waits for a
 * peer, because a dead peer is never reported by MPI: a send to it simply
 * never completes.  One encoded message is at most MPI_LINK_MESSAGE_MAX
 * bytes; bulk data travels as many such messages.
 *
 * Order: the messages one rank sends to another reach the receiver's
 * callback in the order they were sent, whatever their sizes, classes and
 * the transport (MPI matches one source's messages on one tag in send
 * order; mpi_link delivers them in match order, holding a completed
 * receive until every earlier one from its source is delivered).
 *
 * Two classes of send share that order:
 *   control  mpi_link_send(): small messages (acks, commands, reports).
 *            Never refused while the peer lives; only a hard cap on the
 *            bytes queued to one destination (MPI_LINK_CONTROL_MAX, which
 *            a live peer never reaches) makes it fail, with EMBER_ENOMEM
 *            and an ERROR line.
 *   data     mpi_link_send_data(): bulk (pipeline packets).  The bytes
 *            queued to one destination are capped (MPI_LINK_DATA_MAX):
 *            over the cap the send answers EMBER_EAGAIN, and once the
 *            destination has drained to half the cap (or was declared
 *            dead) the writable callback names it, and the caller sends
 *            again.  Backpressure, not failure.
 * "Queued" means posted to MPI and not yet completed: the link keeps no
 * queue of its own, so a send is posted at once and order is call order.
 *
 * Bulk transfer (mpi_link_send_bulk()): a payload of any size (past 2 GiB
 * too) goes from the sender's buffer into a buffer the receiver supplies,
 * never encoded, never copied by the link.  Its header, a RankMessage,
 * travels as a data message, so it keeps its place in the per-sender
 * order and under the data cap (the payload's bytes count in the cap until
 * they are sent); the payload follows on an MPI tag of its own, in chunks
 * of at most MPI_LINK_MESSAGE_MAX bytes, a few chunks in flight at a time,
 * each bounded by the link's deadline.  The receiver's message callback
 * sees the header (msg->bulk_length > 0) and either claims the payload
 * with mpi_link_recv_bulk() before returning, or lets the link drain and
 * drop it.  Each side hears once, through its done callback, how the
 * transfer ended: EMBER_OK; EMBER_ECLOSED (peer declared dead);
 * EMBER_ETIMEDOUT (a chunk missed its deadline); EMBER_EIO (MPI refused).
 * Buffers: the caller's buffer must stay untouched until that callback,
 * which hands it back -- or hands back NULL when MPI never let go of a
 * cancelled chunk: the link then keeps the buffer forever (MPI may still
 * read or write it) and the caller must neither free nor reuse it. */
#ifndef EMBER_MPI_LINK_H
#define EMBER_MPI_LINK_H

#include <stdint.h>

#include "cluster.pb-c.h"
#include "common/event_loop.h"

#define MPI_LINK_MESSAGE_MAX (8u * 1024 * 1024)
#define MPI_LINK_DATA_MAX (64u * 1024 * 1024)     /* data bytes queued per destination */
#define MPI_LINK_CONTROL_MAX (256u * 1024 * 1024) /* control bytes queued per destination */
#define MPI_LINK_BULK_CHUNK MPI_LINK_MESSAGE_MAX       /* default payload chunk */

typedef struct mpi_link mpi_link;

/* Called on the loop thread for each valid message, per source in send
 * order; msg belongs to the callee, which frees it with
 * rank_message__free_unpacked(msg, NULL).  The callback may send and
 * declare ranks dead, never call mpi_link_progress() or destroy the link. */
typedef void (*mpi_link_message_cb)(mpi_link *link, int source, RankMessage *msg, void *arg);

/* Called on the loop thread when dest, to which mpi_link_send_data()
 * answered EMBER_EAGAIN, can take more (its queued data bytes are at most
 * half the cap), or was declared dead (a send then answers EMBER_ECLOSED).
 * Once per EMBER_EAGAIN episode.  Same rules as the message callback. */
typedef void (*mpi_link_writable_cb)(mpi_link *link, int dest, void *arg);

/* Creates the link on MPI_COMM_WORLD and registers its hook with loop
 * (NULL: the caller drives mpi_link_progress() itself).  MPI must be
 * initialised.  send_timeout_ms bounds every send and receive. */
int mpi_link_create(event_loop *loop, int64_t send_timeout_ms, mpi_link_message_cb cb, void *arg,
                    mpi_link **out);

/* Cancels what is still in flight and frees the link.  Accepts NULL. */
void mpi_link_destroy(mpi_link *link);

/* Sets the callback for destinations that can take data again (NULL:
 * none; a caller that gets EMBER_EAGAIN then polls). */
void mpi_link_set_writable_cb(mpi_link *link, mpi_link_writable_cb cb, void *arg);

/* Changes the per-destination caps (0 leaves one as it is); for tests and
 * tuning.  A message is always accepted when nothing of its class is
 * queued to its destination, so a cap below one message still moves. */
void mpi_link_set_limits(mpi_link *link, uint64_t data_max, uint64_t control_max);

/* Encodes msg and starts sending it to dest as a control message.  Returns
 * EMBER_ETOOBIG for a message over MPI_LINK_MESSAGE_MAX, EMBER_ENOMEM
 * past the control cap (or out of memory), EMBER_ECLOSED when dest was
 * declared dead, EMBER_EINVAL for a bad rank.  Never EMBER_EAGAIN. */
int mpi_link_send(mpi_link *link, int dest, const RankMessage *msg);

/* The same as a data message: EMBER_EAGAIN when dest's queued data bytes
 * plus this message would pass the data cap; the writable callback then
 * says when to send again.  Nothing was queued on any error. */
int mpi_link_send_data(mpi_link *link, int dest, const RankMessage *msg);

/* How a bulk transfer ended (see the file comment): status, and the
 * caller's buffer, or NULL when the link had to keep it.  Runs on the
 * loop thread inside mpi_link_progress(); it may send and start
 * transfers, never call mpi_link_progress() or destroy the link. */
typedef void (*mpi_link_bulk_cb)(mpi_link *link, int peer, int status, void *buf, void *arg);

/* Sends header to dest with len bytes of data (len > 0) as its payload.
 * header's bulk_* fields are the link's: whatever they hold is replaced.
 * Returns as mpi_link_send_data() does (EMBER_EAGAIN when the queued data
 * plus header and payload would pass the cap, then the writable
 * callback); on EMBER_OK done is called exactly once, later, and data
 * must stay unchanged until then.  EMBER_EINVAL for len 0. */
int mpi_link_send_bulk(mpi_link *link, int dest, const RankMessage *header, const void *data,
                       uint64_t len, mpi_link_bulk_cb done, void *arg);

/* From the message callback only, for the header it was handed
 * (header->bulk_length > 0, from source): receives the payload into buf,
 * which holds at least header->bulk_length bytes; done is called exactly
 * once, later.  EMBER_EINVAL when header is not the one being delivered
 * or was already claimed (nothing changes then). */
int mpi_link_recv_bulk(mpi_link *link, int source, const RankMessage *header, void *buf,
                       mpi_link_bulk_cb done, void *arg);

/* The chunk size of the payloads this rank sends (tests: small chunks make
 * many); 0 or more than MPI_LINK_BULK_CHUNK means MPI_LINK_BULK_CHUNK. */
void mpi_link_set_bulk_chunk(mpi_link *link, uint32_t chunk);

/* Bytes queued (posted, not completed) to dest, both classes; 0 for a bad
 * rank. */
uint64_t mpi_link_queued_bytes(const mpi_link *link, int dest);

/* Marks rank dead: its pending sends are cancelled, later sends to it
 * fail with EMBER_ECLOSED, and a caller waiting to send data to it hears
 * the writable callback at the next progress. */
void mpi_link_set_dead(mpi_link *link, int rank);

/* Undoes mpi_link_set_dead(): rank was heard from again (a stopped rank
 * resumed), so sends to it are allowed once more. */
void mpi_link_set_alive(mpi_link *link, int rank);

/* Sends and bulk transfers not yet ended (cancelled ones included until
 * MPI lets go). */
int mpi_link_pending(const mpi_link *link);

/* Drives sends and receives once; the loop hook calls it each turn, and a
 * caller without a loop calls it directly.  Callbacks run inside it. */
void mpi_link_progress(mpi_link *link);

/* Counters for logs and tests: messages sent and received, sends that
 * timed out, received messages dropped (malformed, oversized), data sends
 * answered EMBER_EAGAIN, writable callbacks made, receives abandoned. */
typedef struct {
    uint64_t sent, received, send_timeouts, rejected;
    uint64_t data_refused, writable_calls, recv_abandoned;
    uint64_t bulk_sent, bulk_received, bulk_failed, bulk_drained; /* transfers */
    uint64_t bulk_bytes_sent, bulk_bytes_received;
} mpi_link_stats;
void mpi_link_get_stats(const mpi_link *link, mpi_link_stats *out);

#endif
