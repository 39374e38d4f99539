/* message.h -- encoding, decoding and validation of ember's envelopes.
 *
 * Two envelopes carry every message: RankMessage between ranks (over MPI)
 * and ClientMessage between outside clients and the primary (in frames over
 * TCP).  Decoding always validates: a message that comes back from
 * message_decode_*() has its body set, every required sub-message present,
 * enums in range and strings of sane length and characters, so handlers can
 * use it without further checks of shape (they still check meaning, such as
 * whether a rank exists). */
#ifndef EMBER_MESSAGE_H
#define EMBER_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "client.pb-c.h"
#include "cluster.pb-c.h"
#include "datatransfer.pb-c.h"
#include "job.pb-c.h"

#define MESSAGE_NAME_MAX 255    /* host names, ids */
#define MESSAGE_USER_MAX 63     /* user and group names (namespace.h's FS_OWNER_MAX - 1) */
#define MESSAGE_TEXT_MAX 4096   /* error messages */
#define MESSAGE_NODES_MAX 65536 /* nodes in one report */
#define MESSAGE_PATH_MAX 8000   /* file system paths (namespace.h's FS_PATH_MAX) */
#define MESSAGE_ENTRIES_MAX 100000 /* entries in one listing page */
#define MESSAGE_PACKET_MAX (64u * 1024) /* data bytes in one Packet */
#define MESSAGE_REPORT_MAX 100000       /* blocks in one BlockReport piece */
#define MESSAGE_BLOCK_READ_MAX (8u * 1024 * 1024) /* bytes in one BlockReadResponse */

/* Decodes and validates.  On success *out is the caller's, freed with
 * rank_message__free_unpacked(*out, NULL); on failure returns EMBER_EPROTO
 * and *out is NULL. */
int message_decode_rank(const uint8_t *data, size_t len, RankMessage **out);
int message_decode_client(const uint8_t *data, size_t len, ClientMessage **out);

/* DataMessage (datanode TCP, proto/datatransfer.proto): decoded and
 * validated as above; encoded always framed. */
int message_decode_data(const uint8_t *data, size_t len, DataMessage **out);
int message_encode_data(const DataMessage *msg, size_t max_len, uint8_t **out, size_t *outlen);
int message_check_data(const DataMessage *msg);

/* Validation alone (decode calls these).  0 or EMBER_EPROTO. */
int message_check_rank(const RankMessage *msg);
int message_check_client(const ClientMessage *msg);

/* A block token's shape (its MAC is the datanode's to check). */
int message_check_token(const BlockToken *t);

/* The MapReduce bodies (job.proto, proto/message_job.c): the checks
 * message_check_rank() and message_check_client() defer to, and the
 * umbilical's TaskMessage (framed on the attempt's unix socket), decoded,
 * validated and encoded as above. */
int message_check_job_rank(const RankMessage *msg);
int message_check_job_client(const ClientMessage *msg);
int message_check_task(const TaskMessage *msg);
int message_decode_task(const uint8_t *data, size_t len, TaskMessage **out);
int message_encode_task(const TaskMessage *msg, size_t max_len, uint8_t **out, size_t *outlen);

/* Hadoop's names of an attempt's state ("RUNNING", "COMMIT_PENDING", ...)
 * and of a task's kind ("MAP", "REDUCE", "SETUP", "CLEANUP"), for reports
 * and the history; static strings. */
const char *message_attempt_state_name(AttemptState state);
const char *message_task_kind_name(TaskKind kind);

/* A user or group name must be 1..MESSAGE_USER_MAX printable ASCII
 * characters ("" too with empty_ok: "the default").  0, or EMBER_EINVAL
 * with what is wrong in why (len bytes; why may be NULL), the name called
 * `what' ("user name") and never echoed, so the line stays one line. */
int message_user_problem(const char *what, const char *s, int empty_ok, char *why, size_t len);

/* Why a client frame that message_decode_client() refused was refused,
 * into why (one line): a bad user, group or owner name said in words
 * (message_user_problem()), anything else "malformed message". */
void message_explain_client(const uint8_t *data, size_t len, char *why, size_t whylen);

/* Encodes msg into a new buffer (malloc'd; the caller frees it).  With
 * framed set, the buffer starts with the 4-byte frame header.  Returns
 * EMBER_ETOOBIG when the encoding exceeds max_len bytes. */
int message_encode_rank(const RankMessage *msg, size_t max_len, uint8_t **out, size_t *outlen);
int message_encode_client(const ClientMessage *msg, int framed, size_t max_len, uint8_t **out,
                          size_t *outlen);

/* A printable name of the body, for logs ("heartbeat", "report_request"). */
const char *message_rank_name(const RankMessage *msg);
const char *message_client_name(const ClientMessage *msg);

#endif
