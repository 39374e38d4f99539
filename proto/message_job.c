/* message_job.c -- validation of the MapReduce messages (job.proto): the
 * job bodies of RankMessage and ClientMessage, and the umbilical's
 * TaskMessage.  What is checked here is the shape every receiver relies
 * on (bodies present, ids printable and bounded, the assignment's job
 * present); the scheduler and worker check meaning (a known attempt, a
 * job of theirs). */
#include <string.h>

#include "common/error.h"
#include "message.h"

/* An id (job, attempt): 1..MESSAGE_NAME_MAX of [A-Za-z0-9_.-]. */
static int check_id(const char *s) {
    if (s == NULL)
        return EMBER_EPROTO;
    size_t n = strlen(s);
    if (n == 0 || n > MESSAGE_NAME_MAX)
        return EMBER_EPROTO;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return EMBER_EPROTO;
    }
    return EMBER_OK;
}

static int check_counters(Counter *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == NULL || v[i]->group == NULL || v[i]->name == NULL)
            return EMBER_EPROTO;
    return EMBER_OK;
}

static int check_job(const JobDescription *j) {
    if (j == NULL || check_id(j->job_id) || j->library == NULL || j->output == NULL)
        return EMBER_EPROTO;
    for (size_t i = 0; i < j->n_conf; i++)
        if (j->conf[i] == NULL || j->conf[i]->key == NULL || j->conf[i]->value == NULL)
            return EMBER_EPROTO;
    for (size_t i = 0; i < j->n_splits; i++) {
        const Split *s = j->splits[i];
        if (s == NULL)
            return EMBER_EPROTO;
        for (size_t c = 0; c < s->n_chunks; c++)
            if (s->chunks[c] == NULL || s->chunks[c]->uri == NULL || s->chunks[c]->uri[0] == '\0')
                return EMBER_EPROTO;
    }
    return EMBER_OK;
}

static int check_assignment(const TaskAssignment *a) {
    return (a != NULL && check_id(a->job_id) == EMBER_OK && check_id(a->attempt_id) == EMBER_OK &&
            a->kind != TASK_KIND__TASK_KIND_UNKNOWN && check_job(a->job) == EMBER_OK)
               ? EMBER_OK : EMBER_EPROTO;
}

static int check_events(MapOutputEvent *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == NULL || check_id(v[i]->attempt_id))
            return EMBER_EPROTO;
    return EMBER_OK;
}

static int ok(int cond) {
    return cond ? EMBER_OK : EMBER_EPROTO;
}

int message_check_job_rank(const RankMessage *m) {
    switch (m->body_case) {
    case RANK_MESSAGE__BODY_LAUNCH_ATTEMPT:
        return ok(m->launch_attempt != NULL && m->launch_attempt->vcores >= 1 &&
                  m->launch_attempt->memory_mb >= 1 &&
                  check_assignment(m->launch_attempt->assignment) == EMBER_OK);
    case RANK_MESSAGE__BODY_KILL_ATTEMPT:
        return ok(m->kill_attempt != NULL && !check_id(m->kill_attempt->attempt_id));
    case RANK_MESSAGE__BODY_ATTEMPT_STATUS:
        return ok(m->attempt_status != NULL && !check_id(m->attempt_status->attempt_id) &&
                  !check_counters(m->attempt_status->counters, m->attempt_status->n_counters));
    case RANK_MESSAGE__BODY_COMMIT_RESPONSE:
        return ok(m->commit_response != NULL && !check_id(m->commit_response->attempt_id));
    case RANK_MESSAGE__BODY_MAP_OUTPUT_EVENTS:
        return ok(m->map_output_events != NULL && !check_id(m->map_output_events->job_id) &&
                  !check_events(m->map_output_events->events, m->map_output_events->n_events));
    case RANK_MESSAGE__BODY_FETCH_FAILURE:
        return ok(m->fetch_failure != NULL && !check_id(m->fetch_failure->reduce_attempt_id) &&
                  !check_id(m->fetch_failure->map_attempt_id));
    case RANK_MESSAGE__BODY_JOB_FINISHED:
        return ok(m->job_finished != NULL && !check_id(m->job_finished->job_id));
    case RANK_MESSAGE__BODY_SHUFFLE_REQUEST:
        return ok(m->shuffle_request != NULL && !check_id(m->shuffle_request->job_id) &&
                  !check_id(m->shuffle_request->map_attempt_id));
    case RANK_MESSAGE__BODY_SHUFFLE_RESPONSE:
        return ok(m->shuffle_response != NULL && m->shuffle_response->code <= 0);
    case RANK_MESSAGE__BODY_BLOCK_READ_REQUEST:
        return ok(m->block_read_request != NULL && m->block_read_request->read != NULL &&
                  !message_check_token(m->block_read_request->read->token));
    case RANK_MESSAGE__BODY_BLOCK_READ_RESPONSE: {
        const BlockReadResponse *r = m->block_read_response;
        if (r == NULL || r->code > 0)
            return EMBER_EPROTO;
        return ok(r->code == 0 ? m->bulk_length <= MESSAGE_BLOCK_READ_MAX &&
                                     r->n_crcs == (m->bulk_length + 511) / 512
                               : m->bulk_length == 0);
    }
    default: return EMBER_EPROTO;
    }
}

int message_check_job_client(const ClientMessage *m) {
    switch (m->body_case) {
    case CLIENT_MESSAGE__BODY_NEW_JOB_ID: return ok(m->new_job_id != NULL);
    case CLIENT_MESSAGE__BODY_NEW_JOB_ID_RESPONSE:
        return ok(m->new_job_id_response != NULL && !check_id(m->new_job_id_response->job_id));
    case CLIENT_MESSAGE__BODY_SUBMIT_JOB:
        return ok(m->submit_job != NULL && !check_job(m->submit_job->job));
    case CLIENT_MESSAGE__BODY_SUBMIT_JOB_RESPONSE:
        return ok(m->submit_job_response != NULL && !check_id(m->submit_job_response->job_id));
    case CLIENT_MESSAGE__BODY_JOB_STATUS:
        return ok(m->job_status != NULL && m->job_status->job_id != NULL);
    case CLIENT_MESSAGE__BODY_JOB_STATUS_RESPONSE:
        return ok(m->job_status_response != NULL && m->job_status_response->job != NULL);
    case CLIENT_MESSAGE__BODY_JOB_LIST: return ok(m->job_list != NULL);
    case CLIENT_MESSAGE__BODY_JOB_LIST_RESPONSE: {
        const JobListResponse *r = m->job_list_response;
        if (r == NULL)
            return EMBER_EPROTO;
        for (size_t i = 0; i < r->n_jobs; i++)
            if (r->jobs[i] == NULL)
                return EMBER_EPROTO;
        return EMBER_OK;
    }
    case CLIENT_MESSAGE__BODY_KILL_JOB:
        return ok(m->kill_job != NULL && m->kill_job->job_id != NULL);
    case CLIENT_MESSAGE__BODY_KILL_JOB_RESPONSE: return ok(m->kill_job_response != NULL);
    case CLIENT_MESSAGE__BODY_QUEUE_LIST: return ok(m->queue_list != NULL);
    case CLIENT_MESSAGE__BODY_QUEUE_LIST_RESPONSE: {
        const QueueListResponse *r = m->queue_list_response;
        if (r == NULL)
            return EMBER_EPROTO;
        for (size_t i = 0; i < r->n_queues; i++)
            if (r->queues[i] == NULL || r->queues[i]->name == NULL)
                return EMBER_EPROTO;
        return EMBER_OK;
    }
    default: return EMBER_EPROTO;
    }
}

int message_check_task(const TaskMessage *m) {
    switch (m->body_case) {
    case TASK_MESSAGE__BODY_HELLO: return ok(m->hello != NULL && !check_id(m->hello->attempt_id));
    case TASK_MESSAGE__BODY_ASSIGNMENT: return check_assignment(m->assignment);
    case TASK_MESSAGE__BODY_PROGRESS:
        return ok(m->progress != NULL &&
                  !check_counters(m->progress->counters, m->progress->n_counters));
    case TASK_MESSAGE__BODY_MAP_EVENTS_REQUEST: return ok(m->map_events_request != NULL);
    case TASK_MESSAGE__BODY_MAP_EVENTS:
        return ok(m->map_events != NULL &&
                  !check_events(m->map_events->events, m->map_events->n_events));
    case TASK_MESSAGE__BODY_FETCH_REQUEST:
        return ok(m->fetch_request != NULL && !check_id(m->fetch_request->map_attempt_id));
    case TASK_MESSAGE__BODY_FETCH_RESPONSE: return ok(m->fetch_response != NULL);
    case TASK_MESSAGE__BODY_BLOCK_READ_REQUEST:
        return ok(m->block_read_request != NULL && m->block_read_request->read != NULL &&
                  !message_check_token(m->block_read_request->read->token));
    case TASK_MESSAGE__BODY_BLOCK_READ_RESPONSE:
        return ok(m->block_read_response != NULL && m->block_read_response->code <= 0);
    case TASK_MESSAGE__BODY_COMMIT_REQUEST: return ok(m->commit_request != NULL);
    case TASK_MESSAGE__BODY_COMMIT_RESPONSE: return ok(m->commit_response != NULL);
    case TASK_MESSAGE__BODY_DONE:
        return ok(m->done != NULL && !check_counters(m->done->counters, m->done->n_counters));
    case TASK_MESSAGE__BODY_FAILED:
        return ok(m->failed != NULL && m->failed->diagnostic != NULL &&
                  !check_counters(m->failed->counters, m->failed->n_counters));
    default: return EMBER_EPROTO;
    }
}

int message_decode_task(const uint8_t *data, size_t len, TaskMessage **out) {
    *out = NULL;
    TaskMessage *msg = task_message__unpack(NULL, len, data);
    if (msg == NULL)
        return EMBER_EPROTO;
    if (message_check_task(msg) != EMBER_OK) {
        task_message__free_unpacked(msg, NULL);
        return EMBER_EPROTO;
    }
    *out = msg;
    return EMBER_OK;
}

const char *message_attempt_state_name(AttemptState state) {
    switch (state) {
    case ATTEMPT_STATE__ATTEMPT_STARTING: return "STARTING";
    case ATTEMPT_STATE__ATTEMPT_RUNNING: return "RUNNING";
    case ATTEMPT_STATE__ATTEMPT_COMMIT_PENDING: return "COMMIT_PENDING";
    case ATTEMPT_STATE__ATTEMPT_SUCCEEDED: return "SUCCEEDED";
    case ATTEMPT_STATE__ATTEMPT_FAILED: return "FAILED";
    case ATTEMPT_STATE__ATTEMPT_KILLED: return "KILLED";
    case ATTEMPT_STATE__ATTEMPT_UNKNOWN:
    case _ATTEMPT_STATE_IS_INT_SIZE: break;
    }
    return "UNKNOWN";
}

const char *message_task_kind_name(TaskKind kind) {
    switch (kind) {
    case TASK_KIND__TASK_KIND_MAP: return "MAP";
    case TASK_KIND__TASK_KIND_REDUCE: return "REDUCE";
    case TASK_KIND__TASK_KIND_JOB_SETUP: return "SETUP";
    case TASK_KIND__TASK_KIND_JOB_CLEANUP: return "CLEANUP";
    case TASK_KIND__TASK_KIND_UNKNOWN:
    case _TASK_KIND_IS_INT_SIZE: break;
    }
    return "UNKNOWN";
}
