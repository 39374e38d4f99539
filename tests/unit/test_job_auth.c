/* test_job_auth.c -- a task's credentials (MR_PROTOCOL.md, "Job token"):
 * auth_job_answer() is HMAC-SHA256 keyed with the token over the nonce
 * alone (RFC 4231's test case 2 as the known answer), and
 * ember_client_connect_job() answers a gateway's challenge with it,
 * naming the job and the job's user in its AuthResponse -- checked by a
 * stand-in gateway on a loopback port, which accepts the right MAC and
 * refuses a wrong token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "ember/client.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

static void test_known_answer(void **state) {
    (void)state;
    /* RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?". */
    static const uint8_t want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                     0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                     0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                     0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    const char *nonce = "what do ya want for nothing?";
    uint8_t mac[AUTH_MAC_LEN];
    assert_int_equal(
        auth_job_answer((const uint8_t *)"Jefe", 4, (const uint8_t *)nonce, strlen(nonce), mac), 0);
    assert_memory_equal(mac, want, sizeof(want));
    /* Not the secret's answer, which prefixes a context. */
    uint8_t other[AUTH_MAC_LEN];
    assert_int_equal(auth_challenge_answer("Jefe", (const uint8_t *)nonce, strlen(nonce), other),
                     0);
    assert_memory_not_equal(mac, other, AUTH_MAC_LEN);
    assert_int_equal(auth_job_answer((const uint8_t *)"", 0, (const uint8_t *)nonce, 4, mac),
                     EMBER_EINVAL);
}

/* The stand-in gateway: one connection, one handshake. */
typedef struct {
    int listen_fd;
    uint8_t token[32];
    uint8_t nonce[AUTH_NONCE_LEN];
    char job_id[128], user[64];
    int mac_ok;
} gateway;

static int gateway_send(int fd, ClientMessage *m) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_client(m, 1, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc == EMBER_OK) {
        rc = socket_write_all(fd, buf, len, clock_monotonic_ms() + 10000);
        free(buf);
    }
    return rc;
}

static void *gateway_main(void *arg) {
    gateway *g = arg;
    struct pollfd p = {.fd = g->listen_fd, .events = POLLIN};
    if (poll(&p, 1, 10000) != 1)
        return NULL;
    int fd = accept(g->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    AuthChallenge ch = AUTH_CHALLENGE__INIT;
    memset(g->nonce, 0x5a, sizeof(g->nonce));
    ch.nonce.data = g->nonce;
    ch.nonce.len = sizeof(g->nonce);
    ch.cluster_id = "test-cluster";
    ClientMessage m = CLIENT_MESSAGE__INIT;
    m.body_case = CLIENT_MESSAGE__BODY_AUTH_CHALLENGE;
    m.auth_challenge = &ch;
    frame_reader *r = NULL;
    const uint8_t *payload;
    size_t len;
    ClientMessage *in = NULL;
    if (gateway_send(fd, &m) == EMBER_OK && frame_reader_create(&r, 4096) == EMBER_OK &&
        socket_read_frame(fd, r, clock_monotonic_ms() + 10000, &payload, &len) == EMBER_OK &&
        message_decode_client(payload, len, &in) == EMBER_OK &&
        in->body_case == CLIENT_MESSAGE__BODY_AUTH_RESPONSE) {
        const AuthResponse *ar = in->auth_response;
        snprintf(g->job_id, sizeof(g->job_id), "%s", ar->job_id);
        snprintf(g->user, sizeof(g->user), "%s", ar->user);
        uint8_t want[AUTH_MAC_LEN];
        auth_job_answer(g->token, sizeof(g->token), g->nonce, sizeof(g->nonce), want);
        g->mac_ok = ar->mac.len == AUTH_MAC_LEN && memcmp(ar->mac.data, want, AUTH_MAC_LEN) == 0;
        AuthResult res = AUTH_RESULT__INIT;
        res.ok = g->mac_ok;
        ClientMessage out = CLIENT_MESSAGE__INIT;
        out.body_case = CLIENT_MESSAGE__BODY_AUTH_RESULT;
        out.auth_result = &res;
        gateway_send(fd, &out);
    }
    if (in != NULL)
        client_message__free_unpacked(in, NULL);
    frame_reader_destroy(r);
    close(fd);
    return NULL;
}

/* Connects with token (32 bytes) to a gateway holding the right one. */
static int connect_with(gateway *g, const uint8_t *token, char *err, size_t errlen) {
    int port;
    memset(g, 0, sizeof(*g));
    memset(g->token, 0x42, sizeof(g->token));
    assert_int_equal(socket_listen_tcp("127.0.0.1", 0, &g->listen_fd, &port), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, gateway_main, g), 0);
    ember_job_credentials cred = {.host = "127.0.0.1",
                                  .port = port,
                                  .job_id = "job_202612060000_0007",
                                  .token = token,
                                  .token_len = 32,
                                  .user = "alice"};
    ember_client *c = NULL;
    int rc = ember_client_connect_job(&cred, 10000, &c, err, errlen);
    pthread_join(t, NULL);
    ember_client_close(c);
    close(g->listen_fd);
    return rc;
}

static void test_connect_job(void **state) {
    (void)state;
    gateway g;
    char err[256] = "";
    uint8_t token[32];
    memset(token, 0x42, sizeof(token));
    assert_int_equal(connect_with(&g, token, err, sizeof(err)), 0);
    assert_true(g.mac_ok);
    assert_string_equal(g.job_id, "job_202612060000_0007");
    assert_string_equal(g.user, "alice");

    token[0] ^= 1; /* not the job's token */
    assert_int_equal(connect_with(&g, token, err, sizeof(err)), EMBER_EAUTH);
    assert_false(g.mac_ok);
    assert_string_equal(err, "authentication failed");
}

static void test_connect_job_refuses_incomplete(void **state) {
    (void)state;
    ember_job_credentials cred = {.host = "127.0.0.1", .port = 1, .job_id = "job_x"};
    ember_client *c = NULL;
    char err[256];
    assert_int_equal(ember_client_connect_job(&cred, 1000, &c, err, sizeof(err)), EMBER_EINVAL);
    assert_null(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_connect_job),
        cmocka_unit_test(test_connect_job_refuses_incomplete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
