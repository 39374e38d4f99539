/* message.c -- envelope encoding, decoding and validation (see message.h).
 *
 * protobuf-c checks wire syntax only: proto3 enums arrive as any integer,
 * strings as any bytes, sub-messages may be absent.  The check_* functions
 * below add what handlers rely on.  Each message type has one check; a new
 * body case without a check is refused (the default branches). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "frame.h"
#include "message.h"

static int message_encode(const ProtobufCMessage *msg, int framed, size_t max_len, uint8_t **out,
                          size_t *outlen);

/* A name is 1..MESSAGE_NAME_MAX printable ASCII characters; empty_ok
 * allows "". */
static int check_name(const char *s, int empty_ok) {
    if (s == NULL)
        return EMBER_EPROTO;
    size_t n = strlen(s);
    if (n > MESSAGE_NAME_MAX || (n == 0 && !empty_ok))
        return EMBER_EPROTO;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return EMBER_EPROTO;
    return EMBER_OK;
}

int message_user_problem(const char *what, const char *s, int empty_ok, char *why,
                         size_t len) {
    char none[1];
    if (why == NULL || len == 0) {
        why = none; /* only the verdict is wanted */
        len = sizeof(none);
    }
    size_t n = s != NULL ? strlen(s) : 0;
    if (s == NULL || (n == 0 && !empty_ok)) {
        snprintf(why, len, "the %s is empty", what);
        return EMBER_EINVAL;
    }
    if (n > MESSAGE_USER_MAX) {
        snprintf(why, len, "the %s is %zu bytes long: at most %d printable ASCII characters", what,
                 n, MESSAGE_USER_MAX);
        return EMBER_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x20 && b <= 0x7e)
            continue;
        snprintf(why, len, "the %s has %s (byte 0x%02x at offset %zu): only printable ASCII is allowed",
                 what, b < 0x20 || b == 0x7f ? "a control character" : "a byte outside ASCII", b, i);
        return EMBER_EINVAL;
    }
    return EMBER_OK;
}

static int check_text(const char *s) {
    return (s != NULL && strlen(s) <= MESSAGE_TEXT_MAX) ? EMBER_OK : EMBER_EPROTO;
}

/* A path as a client sends it: 1..MESSAGE_PATH_MAX bytes; the namenode
 * checks the rest (fs_path_check). */
static int check_path(const char *s) {
    if (s == NULL)
        return EMBER_EPROTO;
    size_t n = strlen(s);
    return (n >= 1 && n <= MESSAGE_PATH_MAX) ? EMBER_OK : EMBER_EPROTO;
}

static int check_file_status(const FileStatus *f) {
    if (f == NULL || f->path == NULL || strlen(f->path) > MESSAGE_PATH_MAX ||
        check_name(f->owner, 1) || check_name(f->group, 1) || f->mode > 07777)
        return EMBER_EPROTO;
    return EMBER_OK;
}

static int check_role(NodeRole role) {
    return (role >= NODE_ROLE__ROLE_PRIMARY && role <= NODE_ROLE__ROLE_TASK) ? EMBER_OK : EMBER_EPROTO;
}

static int check_storage(const StorageReport *s) {
    if (s == NULL || s->failed_dirs > s->data_dirs)
        return EMBER_EPROTO;
    return EMBER_OK;
}

/* A worker's offer: what is taken never exceeds what is offered. */
static int check_resources(const ContainerResources *r) {
    if (r == NULL || r->vcores_used > r->vcores || r->memory_used_mb > r->memory_mb ||
        r->reserved_units > r->units || (r->host_units != 0 && r->units > r->host_units) ||
        check_name(r->share, 1))
        return EMBER_EPROTO;
    return EMBER_OK;
}

static int check_node_report(const NodeReport *n) {
    if (n == NULL || check_role(n->role) || check_name(n->hostname, 1) || n->hwloc == NULL ||
        check_storage(n->storage) || check_name(n->rack, 1) || check_name(n->admin_state, 1) ||
        check_resources(n->resources) || check_name(n->state, 1))
        return EMBER_EPROTO;
    return EMBER_OK;
}

/* protobuf-c accepts an over-long varint tag that decodes to field number
 * 0 and keeps it as an unknown field, which it then re-encodes into bytes
 * it cannot decode itself (found by fuzz_frame).  Field 0 is invalid on the
 * wire, so any message holding one, at any depth, is refused. */
static int check_wire_fields(const ProtobufCMessage *m, int depth) {
    if (depth > 16)
        return EMBER_EPROTO;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return EMBER_EPROTO;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *member = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)member;
            for (size_t k = 0; k < n; k++)
                if (check_wire_fields(items[k], depth + 1))
                    return EMBER_EPROTO;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)((const char *)m + f->quantifier_offset);
            if (which != f->id)
                continue;
        }
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
        if (sub != NULL && check_wire_fields(sub, depth + 1))
            return EMBER_EPROTO;
    }
    return EMBER_OK;
}

/* A packet: at most MESSAGE_PACKET_MAX bytes, one CRC per 512-byte chunk;
 * a heartbeat carries nothing and is neither last nor sync. */
static int check_packet(const Packet *p) {
    if (p == NULL || p->data.len > MESSAGE_PACKET_MAX || p->n_crcs != (p->data.len + 511) / 512 ||
        (p->data.len > 0 && p->data.data == NULL) ||
        (p->heartbeat && (p->data.len > 0 || p->last || p->sync)))
        return EMBER_EPROTO;
    return EMBER_OK;
}

/* A packet whose data follows as a bulk payload of len bytes
 * (PipelinePacket): no data inside, the CRCs of the payload's pieces. */
static int check_packet_header(const Packet *p, uint64_t len) {
    if (p == NULL || len > MESSAGE_PACKET_MAX || p->data.len > 0 ||
        p->n_crcs != (len + 511) / 512 || p->heartbeat)
        return EMBER_EPROTO;
    return EMBER_OK;
}

int message_check_token(const BlockToken *t) {
    return (t != NULL && t->mac.len == 32) ? EMBER_OK : EMBER_EPROTO;
}

int message_check_rank(const RankMessage *msg) {
    if (check_wire_fields(&msg->base, 0))
        return EMBER_EPROTO;
    switch (msg->body_case) {
    case RANK_MESSAGE__BODY_PIPELINE_PACKET:
        if (msg->pipeline_packet == NULL || msg->pipeline_packet->n_downstream > 16)
            return EMBER_EPROTO;
        return msg->bulk_length > 0
                   ? check_packet_header(msg->pipeline_packet->packet, msg->bulk_length)
                   : check_packet(msg->pipeline_packet->packet);
    case RANK_MESSAGE__BODY_PIPELINE_ACK:
        return msg->pipeline_ack != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_BLOCK_RECEIVED:
        return msg->block_received != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_BLOCK_REPORT: {
        const BlockReport *r = msg->block_report;
        if (r == NULL || r->n_block_ids > MESSAGE_REPORT_MAX ||
            r->n_gen_stamps != r->n_block_ids || r->n_lengths != r->n_block_ids ||
            r->n_rbw_block_ids > MESSAGE_REPORT_MAX ||
            r->n_rbw_gen_stamps != r->n_rbw_block_ids || r->n_rbw_lengths != r->n_rbw_block_ids)
            return EMBER_EPROTO;
        return EMBER_OK;
    }
    case RANK_MESSAGE__BODY_INCREMENTAL_BLOCK_REPORT: {
        const IncrementalBlockReport *r = msg->incremental_block_report;
        if (r == NULL || r->n_received_block_ids > MESSAGE_REPORT_MAX ||
            r->n_received_gen_stamps != r->n_received_block_ids ||
            r->n_received_lengths != r->n_received_block_ids ||
            r->n_deleted_block_ids > MESSAGE_REPORT_MAX)
            return EMBER_EPROTO;
        return EMBER_OK;
    }
    case RANK_MESSAGE__BODY_INIT_REPLICA_RECOVERY:
        return msg->init_replica_recovery != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_REPLICA_RECOVERY_INFO:
        return msg->replica_recovery_info != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_UPDATE_REPLICA:
        return msg->update_replica != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_REPLICATE_BLOCK:
        return (msg->replicate_block != NULL && msg->replicate_block->n_targets >= 1 &&
                msg->replicate_block->n_targets <= 16)
                   ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_BAD_REPLICA:
        return msg->bad_replica != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_DELETE_BLOCKS:
        return (msg->delete_blocks != NULL && msg->delete_blocks->n_block_ids <= MESSAGE_REPORT_MAX)
                   ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_REGISTER_NODE: {
        const RegisterNode *m = msg->register_node;
        if (m == NULL || check_role(m->role) || check_name(m->hostname, 0) || m->hwloc == NULL ||
            check_storage(m->storage) || check_name(m->data_host, 1) || m->data_port > 65535 ||
            check_resources(m->resources))
            return EMBER_EPROTO;
        return EMBER_OK;
    }
    case RANK_MESSAGE__BODY_REGISTER_ACK:
        if (msg->register_ack == NULL || check_name(msg->register_ack->cluster_id, 1) ||
            check_text(msg->register_ack->reason) || check_name(msg->register_ack->secret, 1))
            return EMBER_EPROTO;
        return EMBER_OK;
    case RANK_MESSAGE__BODY_HEARTBEAT:
        if (msg->heartbeat == NULL || check_storage(msg->heartbeat->storage) ||
            check_resources(msg->heartbeat->resources))
            return EMBER_EPROTO;
        return EMBER_OK;
    case RANK_MESSAGE__BODY_HEARTBEAT_ACK:
        return msg->heartbeat_ack != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_SHUTDOWN:
        return msg->shutdown != NULL ? EMBER_OK : EMBER_EPROTO;
    case RANK_MESSAGE__BODY_SHUTDOWN_ACK:
        return msg->shutdown_ack != NULL ? EMBER_OK : EMBER_EPROTO;
    default:
        return message_check_job_rank(msg);
    }
}

int message_check_client(const ClientMessage *msg) {
    if (check_wire_fields(&msg->base, 0))
        return EMBER_EPROTO;
    switch (msg->body_case) {
    case CLIENT_MESSAGE__BODY_AUTH_CHALLENGE: {
        const AuthChallenge *m = msg->auth_challenge;
        if (m == NULL || m->nonce.len != 32 || check_name(m->cluster_id, 0))
            return EMBER_EPROTO;
        return EMBER_OK;
    }
    case CLIENT_MESSAGE__BODY_AUTH_RESPONSE: {
        const AuthResponse *m = msg->auth_response;
        if (m == NULL || m->mac.len != 32 || message_user_problem("user name", m->user, 1, NULL, 0) ||
            message_user_problem("group name", m->group, 1, NULL, 0))
            return EMBER_EPROTO;
        return EMBER_OK;
    }
    case CLIENT_MESSAGE__BODY_AUTH_RESULT:
        return msg->auth_result != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_ERROR:
        if (msg->error == NULL || msg->error->code >= 0 || check_text(msg->error->message))
            return EMBER_EPROTO;
        return EMBER_OK;
    case CLIENT_MESSAGE__BODY_REPORT_REQUEST:
        return msg->report_request != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_REPORT_RESPONSE: {
        const ReportResponse *m = msg->report_response;
        if (m == NULL || m->n_nodes > MESSAGE_NODES_MAX || check_node_report(m->primary))
            return EMBER_EPROTO;
        for (size_t i = 0; i < m->n_nodes; i++)
            if (check_node_report(m->nodes[i]))
                return EMBER_EPROTO;
        return EMBER_OK;
    }
    case CLIENT_MESSAGE__BODY_STATUS_REQUEST:
        return msg->status_request != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_STATUS_RESPONSE: {
        const StatusResponse *m = msg->status_response;
        if (m == NULL || check_name(m->cluster_id, 0) || check_name(m->state, 0) ||
            check_name(m->primary_host, 1))
            return EMBER_EPROTO;
        return EMBER_OK;
    }
    case CLIENT_MESSAGE__BODY_STOP_REQUEST:
        return msg->stop_request != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_STOP_RESPONSE:
        return msg->stop_response != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_MKDIRS:
        return (msg->mkdirs && !check_path(msg->mkdirs->path) && msg->mkdirs->mode <= 07777)
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_CREATE:
        return (msg->create && !check_path(msg->create->path) && msg->create->mode <= 07777 &&
                !check_name(msg->create->client_name, 1))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_GET_FILE_INFO:
        return (msg->get_file_info && !check_path(msg->get_file_info->path)) ? EMBER_OK
                                                                              : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_LIST_STATUS:
        return (msg->list_status && !check_path(msg->list_status->path) &&
                strlen(msg->list_status->start_after) <= MESSAGE_NAME_MAX)
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_RENAME:
        return (msg->rename && !check_path(msg->rename->src) && !check_path(msg->rename->dst))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_DELETE:
        return (msg->delete_ && !check_path(msg->delete_->path)) ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_SET_REPLICATION:
        return (msg->set_replication && !check_path(msg->set_replication->path)) ? EMBER_OK
                                                                                  : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_SET_PERMISSION:
        return (msg->set_permission && !check_path(msg->set_permission->path) &&
                msg->set_permission->mode <= 07777)
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_SET_OWNER:
        return (msg->set_owner && !check_path(msg->set_owner->path) &&
                !message_user_problem("owner", msg->set_owner->owner, 1, NULL, 0) &&
                !message_user_problem("group", msg->set_owner->group, 1, NULL, 0))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_SET_TIMES:
        return (msg->set_times && !check_path(msg->set_times->path) &&
                msg->set_times->mtime_ms >= -1 && msg->set_times->atime_ms >= -1)
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_CHECK_ACCESS:
        return (msg->check_access && !check_path(msg->check_access->path) &&
                msg->check_access->access <= 7)
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_TRUNCATE:
        return (msg->truncate && !check_path(msg->truncate->path) &&
                !check_name(msg->truncate->client_name, 0))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_CONTENT_SUMMARY:
        return (msg->content_summary && !check_path(msg->content_summary->path))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_DFS_RESULT: {
        const DfsResult *m = msg->dfs_result;
        if (m == NULL || (m->status != NULL && check_file_status(m->status)) ||
            m->n_entries > MESSAGE_ENTRIES_MAX || check_text(m->warning) ||
            m->n_blocks > MESSAGE_ENTRIES_MAX || m->lease_renew_ms < 0 ||
            m->socket_timeout_ms < 0 || m->trash_interval_ms < 0)
            return EMBER_EPROTO;
        for (size_t i = 0; i < m->n_entries; i++)
            if (check_file_status(m->entries[i]))
                return EMBER_EPROTO;
        for (size_t i = 0; i < m->n_blocks; i++) {
            const LocatedBlock *b = m->blocks[i];
            if (b->n_locations > 16 || (b->token != NULL && message_check_token(b->token)))
                return EMBER_EPROTO;
            for (size_t k = 0; k < b->n_locations; k++)
                if (check_name(b->locations[k]->host, 0) || b->locations[k]->port == 0 ||
                    b->locations[k]->port > 65535)
                    return EMBER_EPROTO;
        }
        return EMBER_OK;
    }
    case CLIENT_MESSAGE__BODY_ADD_BLOCK:
        return (msg->add_block && !check_path(msg->add_block->path) &&
                msg->add_block->n_exclude <= 64 && !check_name(msg->add_block->client_name, 1))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_COMPLETE:
        return (msg->complete && !check_path(msg->complete->path) &&
                !check_name(msg->complete->client_name, 1))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_UPDATE_BLOCK_FOR_PIPELINE:
        return (msg->update_block_for_pipeline &&
                !check_path(msg->update_block_for_pipeline->path) &&
                msg->update_block_for_pipeline->n_pipeline <= 16 &&
                !check_name(msg->update_block_for_pipeline->client_name, 1))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_DECOMMISSION:
        return msg->decommission != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_RENEW_LEASE:
        return (msg->renew_lease && !check_name(msg->renew_lease->client_name, 0))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_APPEND:
        return (msg->append && !check_path(msg->append->path) &&
                !check_name(msg->append->client_name, 0))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_RECOVER_LEASE:
        return (msg->recover_lease && !check_path(msg->recover_lease->path) &&
                !check_name(msg->recover_lease->client_name, 1))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_GET_BLOCK_LOCATIONS:
        return (msg->get_block_locations && !check_path(msg->get_block_locations->path))
                   ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_REPORT_BAD_BLOCK:
        return msg->report_bad_block != NULL ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_SAFE_MODE:
        return (msg->safe_mode != NULL && msg->safe_mode->action <= 2) ? EMBER_OK : EMBER_EPROTO;
    case CLIENT_MESSAGE__BODY_SERVER_DEFAULTS:
        return msg->server_defaults != NULL ? EMBER_OK : EMBER_EPROTO;
    default:
        return message_check_job_client(msg);
    }
}

int message_check_data(const DataMessage *msg) {
    if (check_wire_fields(&msg->base, 0))
        return EMBER_EPROTO;
    switch (msg->body_case) {
    case DATA_MESSAGE__BODY_WRITE_BLOCK:
        return (msg->write_block && !message_check_token(msg->write_block->token) &&
                msg->write_block->n_downstream <= 16)
                   ? EMBER_OK : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_READ_BLOCK:
        return (msg->read_block && !message_check_token(msg->read_block->token)) ? EMBER_OK
                                                                          : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_PACKET: return check_packet(msg->packet);
    case DATA_MESSAGE__BODY_ACK:
        return (msg->ack && !check_text(msg->ack->message)) ? EMBER_OK : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_ERROR:
        return (msg->error && msg->error->code < 0 && !check_text(msg->error->message))
                   ? EMBER_OK : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_BLOCK_CHECKSUM:
        return (msg->block_checksum && !message_check_token(msg->block_checksum->token)) ? EMBER_OK
                                                                                  : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_SHORT_CIRCUIT:
        return (msg->short_circuit && !message_check_token(msg->short_circuit->token)) ? EMBER_OK
                                                                                : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_SHORT_CIRCUIT_RESULT:
        return msg->short_circuit_result != NULL ? EMBER_OK : EMBER_EPROTO;
    case DATA_MESSAGE__BODY_BLOCK_CHECKSUM_RESULT:
        return (msg->block_checksum_result && msg->block_checksum_result->md5.len == 16)
                   ? EMBER_OK : EMBER_EPROTO;
    default: return EMBER_EPROTO;
    }
}

int message_decode_data(const uint8_t *data, size_t len, DataMessage **out) {
    *out = NULL;
    DataMessage *msg = data_message__unpack(NULL, len, data);
    if (msg == NULL)
        return EMBER_EPROTO;
    if (message_check_data(msg) != EMBER_OK) {
        data_message__free_unpacked(msg, NULL);
        return EMBER_EPROTO;
    }
    *out = msg;
    return EMBER_OK;
}

int message_encode_data(const DataMessage *msg, size_t max_len, uint8_t **out, size_t *outlen) {
    return message_encode(&msg->base, 1, max_len, out, outlen);
}

int message_encode_task(const TaskMessage *msg, size_t max_len, uint8_t **out, size_t *outlen) {
    return message_encode(&msg->base, 1, max_len, out, outlen);
}

int message_decode_rank(const uint8_t *data, size_t len, RankMessage **out) {
    *out = NULL;
    RankMessage *msg = rank_message__unpack(NULL, len, data);
    if (msg == NULL)
        return EMBER_EPROTO;
    if (message_check_rank(msg) != EMBER_OK) {
        rank_message__free_unpacked(msg, NULL);
        return EMBER_EPROTO;
    }
    *out = msg;
    return EMBER_OK;
}

int message_decode_client(const uint8_t *data, size_t len, ClientMessage **out) {
    *out = NULL;
    ClientMessage *msg = client_message__unpack(NULL, len, data);
    if (msg == NULL)
        return EMBER_EPROTO;
    if (message_check_client(msg) != EMBER_OK) {
        client_message__free_unpacked(msg, NULL);
        return EMBER_EPROTO;
    }
    *out = msg;
    return EMBER_OK;
}

void message_explain_client(const uint8_t *data, size_t len, char *why, size_t whylen) {
    snprintf(why, whylen, "malformed message");
    ClientMessage *msg = client_message__unpack(NULL, len, data);
    if (msg == NULL)
        return;
    const AuthResponse *a = msg->body_case == CLIENT_MESSAGE__BODY_AUTH_RESPONSE
                                ? msg->auth_response : NULL;
    const SetOwnerRequest *o = msg->body_case == CLIENT_MESSAGE__BODY_SET_OWNER
                                   ? msg->set_owner : NULL;
    if (a != NULL && message_user_problem("user name", a->user, 1, why, whylen) == EMBER_OK)
        message_user_problem("group name", a->group, 1, why, whylen);
    if (o != NULL && message_user_problem("owner", o->owner, 1, why, whylen) == EMBER_OK)
        message_user_problem("group", o->group, 1, why, whylen);
    if (why[0] == '\0')
        snprintf(why, whylen, "malformed message");
    client_message__free_unpacked(msg, NULL);
}

/* Shared tail of the two encoders: packs with pack_fn after an optional
 * frame header. */
static int message_encode(const ProtobufCMessage *msg, int framed, size_t max_len, uint8_t **out,
                          size_t *outlen) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > max_len || n > UINT32_MAX)
        return EMBER_ETOOBIG;
    size_t head = framed ? FRAME_HEADER_LEN : 0;
    uint8_t *buf = malloc(head + n + 1); /* +1: malloc(0) may return NULL */
    if (buf == NULL)
        return EMBER_ENOMEM;
    if (framed)
        frame_put_header(buf, (uint32_t)n);
    protobuf_c_message_pack(msg, buf + head);
    *out = buf;
    *outlen = head + n;
    return EMBER_OK;
}

int message_encode_rank(const RankMessage *msg, size_t max_len, uint8_t **out, size_t *outlen) {
    return message_encode(&msg->base, 0, max_len, out, outlen);
}

int message_encode_client(const ClientMessage *msg, int framed, size_t max_len, uint8_t **out,
                          size_t *outlen) {
    return message_encode(&msg->base, framed, max_len, out, outlen);
}

/* The field name of the set oneof member, from protobuf-c's descriptor. */
static const char *message_body_name(const ProtobufCMessageDescriptor *desc, unsigned body_case) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, body_case);
    return f != NULL ? f->name : "unknown";
}

const char *message_rank_name(const RankMessage *msg) {
    return message_body_name(msg->base.descriptor, msg->body_case);
}

const char *message_client_name(const ClientMessage *msg) {
    return message_body_name(msg->base.descriptor, msg->body_case);
}
