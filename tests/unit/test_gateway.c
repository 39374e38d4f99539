/* test_gateway.c -- unit tests for cluster/gateway.c's authentication by
 * job token: a task answers the challenge with HMAC-SHA256(its job's
 * token, nonce) and AuthResponse.job_id.  A gateway on a loopback port
 * and a client socket in the same process, the loop turned by hand.
 * Covers the right token (accepted, the connection is the job's user,
 * whatever user it claims), a wrong token, the token of a finished job and
 * of an unknown one (each refused with one error frame and a close), and
 * the cluster secret still accepted as before. */
/* cmocka needs these first, in this order */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/gateway.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/event_loop.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"
#include "scheduler/scheduler.h"

#define SECRET "cluster-secret"
#define WAIT_MS 5000

struct fixture {
    event_loop *loop;
    gateway *gw;
    int port;
    char seen_user[256]; /* the identity of the last request's connection */
    int requests;
};

/* Two jobs: job_202601010000_0001 runs (user bob), ..._0002 is over. */
static int job_auth(void *arg, const char *job_id, uint8_t token[32], const char **user) {
    (void)arg;
    if (strcmp(job_id, "job_202601010000_0002") == 0)
        return EMBER_ESTATE;
    if (strcmp(job_id, "job_202601010000_0001") != 0)
        return EMBER_ENOENT;
    *user = "bob";
    return scheduler_job_token(SECRET, job_id, token);
}

static void on_request(gateway *gw, uint64_t conn, ClientMessage *req, void *arg) {
    struct fixture *f = arg;
    const char *user, *group;
    assert_int_equal(gateway_client_identity(gw, conn, &user, &group), EMBER_OK);
    snprintf(f->seen_user, sizeof(f->seen_user), "%s", user);
    f->requests++;
    client_message__free_unpacked(req, NULL);
    gateway_reply_error(gw, conn, EMBER_EPROTO, "answered");
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(event_loop_create(&f->loop), EMBER_OK);
    gateway_options o = {.bind_addr = "127.0.0.1",
                         .secret = SECRET,
                         .cluster_id = "CID-test",
                         .auth_timeout_ms = WAIT_MS,
                         .on_request = on_request,
                         .job_auth = job_auth,
                         .arg = f};
    assert_int_equal(gateway_create(f->loop, &o, &f->gw, &f->port), EMBER_OK);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    gateway_destroy(f->gw);
    event_loop_destroy(f->loop);
    free(f);
    return 0;
}

/* The next frame from fd, the loop turning meanwhile; NULL when the
 * connection closed first. */
static ClientMessage *next_frame(struct fixture *f, int fd, frame_reader *r) {
    int64_t deadline = clock_monotonic_ms() + WAIT_MS;
    while (clock_monotonic_ms() < deadline) {
        const uint8_t *payload;
        size_t len;
        if (frame_reader_next(r, &payload, &len) == 1) {
            ClientMessage *m;
            assert_int_equal(message_decode_client(payload, len, &m), EMBER_OK);
            return m;
        }
        event_loop_run_once(f->loop, 10);
        int rc = frame_reader_fill(r, fd);
        if (rc < 0 && rc != EMBER_EAGAIN)
            return NULL;
    }
    fail_msg("no frame within %d ms", WAIT_MS);
    return NULL;
}

static void send_msg(int fd, const ClientMessage *m) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(message_encode_client(m, 1, FRAME_MAX_DEFAULT, &buf, &len), EMBER_OK);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    free(buf);
}

/* Connects and answers the challenge: with the token of job_id (token_of
 * names the job whose token is used), or with the secret when job_id is
 * NULL.  Returns the gateway's answer to the AuthResponse. */
static ClientMessage *authenticate(struct fixture *f, int *fd_out, frame_reader **r_out,
                                   const char *job_id, const char *token_of) {
    int fd;
    assert_int_equal(socket_connect_tcp("127.0.0.1", f->port, WAIT_MS, &fd), EMBER_OK);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    frame_reader *r;
    assert_int_equal(frame_reader_create(&r, FRAME_MAX_DEFAULT), EMBER_OK);
    ClientMessage *ch = next_frame(f, fd, r);
    assert_non_null(ch);
    assert_int_equal(ch->body_case, CLIENT_MESSAGE__BODY_AUTH_CHALLENGE);
    uint8_t mac[32];
    unsigned len = 32;
    if (job_id != NULL) {
        uint8_t token[32];
        assert_int_equal(scheduler_job_token(SECRET, token_of, token), EMBER_OK);
        HMAC(EVP_sha256(), token, 32, ch->auth_challenge->nonce.data, ch->auth_challenge->nonce.len,
             mac, &len);
    } else {
        auth_challenge_answer(SECRET, ch->auth_challenge->nonce.data, ch->auth_challenge->nonce.len,
                              mac);
    }
    client_message__free_unpacked(ch, NULL);
    AuthResponse a = AUTH_RESPONSE__INIT;
    a.mac.data = mac;
    a.mac.len = 32;
    a.user = "mallory"; /* claimed; a job token makes it the job's user */
    a.job_id = (char *)(job_id != NULL ? job_id : "");
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    m.auth_response = &a;
    send_msg(fd, &m);
    *fd_out = fd;
    *r_out = r;
    return next_frame(f, fd, r);
}

static void test_good_token_is_the_jobs_user(void **state) {
    struct fixture *f = *state;
    int fd;
    frame_reader *r;
    ClientMessage *res = authenticate(f, &fd, &r, "job_202601010000_0001", "job_202601010000_0001");
    assert_int_equal(res->body_case, CLIENT_MESSAGE__BODY_AUTH_RESULT);
    assert_true(res->auth_result->ok);
    client_message__free_unpacked(res, NULL);
    StatusRequest sr = STATUS_REQUEST__INIT;
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_STATUS_REQUEST;
    m.status_request = &sr;
    send_msg(fd, &m);
    res = next_frame(f, fd, r);
    assert_non_null(res);
    client_message__free_unpacked(res, NULL);
    assert_int_equal(f->requests, 1);
    assert_string_equal(f->seen_user, "bob");
    frame_reader_destroy(r);
    close(fd);
}

/* A refused answer: one ErrorResponse with `expect` in it, then the close. */
static void expect_refusal(struct fixture *f, const char *job_id, const char *token_of,
                           const char *expect) {
    int fd;
    frame_reader *r;
    ClientMessage *res = authenticate(f, &fd, &r, job_id, token_of);
    assert_non_null(res);
    assert_int_equal(res->body_case, CLIENT_MESSAGE__BODY_ERROR);
    assert_int_equal(res->error->code, EMBER_EAUTH);
    assert_non_null(strstr(res->error->message, expect));
    client_message__free_unpacked(res, NULL);
    assert_null(next_frame(f, fd, r)); /* closed */
    assert_int_equal(f->requests, 0);
    frame_reader_destroy(r);
    close(fd);
}

static void test_wrong_token_refused(void **state) {
    expect_refusal(*state, "job_202601010000_0001", "job_202601010000_0003", "wrong token");
}

static void test_finished_job_refused(void **state) {
    expect_refusal(*state, "job_202601010000_0002", "job_202601010000_0002", "is not running");
}

static void test_unknown_job_refused(void **state) {
    expect_refusal(*state, "job_202601010000_0009", "job_202601010000_0009", "is unknown");
}

static void test_secret_still_works(void **state) {
    struct fixture *f = *state;
    int fd;
    frame_reader *r;
    ClientMessage *res = authenticate(f, &fd, &r, NULL, NULL);
    assert_int_equal(res->body_case, CLIENT_MESSAGE__BODY_AUTH_RESULT);
    client_message__free_unpacked(res, NULL);
    frame_reader_destroy(r);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_token_is_the_jobs_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_token_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finished_job_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_job_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_still_works, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
