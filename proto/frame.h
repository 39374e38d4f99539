/* frame.h -- length-prefixed frames on a byte stream.
 *
 * A frame is a 4-byte big-endian payload length followed by the payload
 * (one encoded protobuf message).  The reader checks the announced length
 * against its cap before it allocates anything, so a peer cannot make it
 * reserve more than the cap; a zero-length frame is legal (an empty
 * message).  Bytes arrive in any split; the reader hands back whole frames. */
#ifndef EMBER_FRAME_H
#define EMBER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 4
#define FRAME_MAX_DEFAULT (16u * 1024 * 1024) /* authenticated connections */
#define FRAME_MAX_UNAUTHENTICATED 4096u       /* before the challenge is answered */

typedef struct frame_reader frame_reader;

/* Allocates a reader that refuses frames over max_payload bytes. */
int frame_reader_create(frame_reader **out, uint32_t max_payload);
void frame_reader_destroy(frame_reader *reader);
void frame_reader_set_max(frame_reader *reader, uint32_t max_payload);

/* Appends len bytes (tests and fuzzers feed bytes this way). */
int frame_reader_feed(frame_reader *reader, const uint8_t *data, size_t len);

/* Reads what a non-blocking fd has.  Returns the number of bytes read
 * (> 0), EMBER_EAGAIN when none are ready, EMBER_ECLOSED at end of stream
 * and EMBER_EIO on a socket error. */
int frame_reader_fill(frame_reader *reader, int fd);

/* Takes the next whole frame.  Returns 1 with *payload and *len set (the
 * bytes stay valid until the next call on this reader), 0 when no whole
 * frame is buffered yet, EMBER_ETOOBIG when the header announces more than
 * the cap (the stream is then unusable). */
int frame_reader_next(frame_reader *reader, const uint8_t **payload, size_t *len);

/* Bytes buffered that are not yet a whole frame (a peer that closes with
 * some pending closed mid-frame). */
size_t frame_reader_buffered(const frame_reader *reader);

/* Writes the 4-byte header for a payload of len bytes. */
void frame_put_header(uint8_t header[FRAME_HEADER_LEN], uint32_t len);

#endif
