/* umbilical.h -- the task process's side of the umbilical: the unix
 * socket to its worker (MR_PROTOCOL.md), TaskMessage frames both ways
 * (proto/frame.h framing), descriptors received with SCM_RIGHTS.
 *
 * Blocking, one thread: the task sends a request and waits for frames
 * with a deadline.  Descriptors come attached to the first byte of the
 * frame that carries them (TaskFetchResponse with code 0: the segment's
 * memfd); they are queued as they arrive and handed out with the frames
 * that own them, in order.
 *
 * The watch: a thread that only polls the socket for hang-up (never
 * reads it) and ends the process at once, exit status
 * UMBILICAL_LOST_EXIT, when the worker goes -- a task never outlives its
 * worker, even in the middle of a long map.  umbilical_finishing() tells
 * it that the last frame is going out, after which a hang-up is
 * expected. */
#ifndef EMBER_MR_UMBILICAL_H
#define EMBER_MR_UMBILICAL_H

#include <stdint.h>

#include "job.pb-c.h"

#define UMBILICAL_LOST_EXIT 3

typedef struct umbilical umbilical;

/* Connects to the worker's socket at path.  0 with *out, or
 * EMBER_ECLOSED (nobody listens), EMBER_EINVAL (path too long),
 * EMBER_EIO, EMBER_ENOMEM. */
int umbilical_connect(const char *path, umbilical **out);

/* Starts the watch thread (see above). */
int umbilical_watch(umbilical *u);

/* From now on a hang-up is no longer an emergency. */
void umbilical_finishing(umbilical *u);

/* Encodes and sends msg (within 30 s). */
int umbilical_send(umbilical *u, const TaskMessage *msg);

/* Waits up to timeout_ms (< 0: for ever) for one frame.  1 with *out
 * (the caller frees it with task_message__free_unpacked()) and *fd the
 * descriptor that came with it (a successful TaskFetchResponse or
 * TaskBlockReadResponse; -1 otherwise; the caller's to close), 0 on timeout, or EMBER_ECLOSED (the
 * worker went away), EMBER_EPROTO (a malformed frame), EMBER_EIO. */
int umbilical_receive(umbilical *u, int64_t timeout_ms, TaskMessage **out, int *fd);

/* Stops the watch, closes the socket and frees u; NULL is fine. */
void umbilical_close(umbilical *u);

#endif
