/* ember_probe.c -- a misbehaving client, for the gateway's bad-input tests.
 *
 *   ember_probe RUN_DIR MODE
 * connects to the cluster in RUN_DIR and does one wrong thing (MODE); it
 * exits 0 when the gateway answered as it should (an error frame and/or a
 * closed connection), 1 otherwise, printing one line either way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/run_dir.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "proto/socket_link.h"

#define PROBE_TIMEOUT_MS 10000

static int probe_fd = -1;
static frame_reader *probe_reader;

/* Next message from the gateway: 0 with *out, or a negative code. */
static int probe_read(ClientMessage **out) {
    const uint8_t *p;
    size_t len;
    int rc = socket_read_frame(probe_fd, probe_reader, clock_monotonic_ms() + PROBE_TIMEOUT_MS,
                               &p, &len);
    if (rc != EMBER_OK)
        return rc;
    return message_decode_client(p, len, out);
}

static int probe_send(const ClientMessage *msg) {
    uint8_t *buf;
    size_t len;
    int rc = message_encode_client(msg, 1, FRAME_MAX_DEFAULT, &buf, &len);
    if (rc == EMBER_OK)
        rc = socket_write_all(probe_fd, buf, len, clock_monotonic_ms() + PROBE_TIMEOUT_MS);
    free(buf);
    return rc;
}

static int probe_send_raw(const void *data, size_t len) {
    return socket_write_all(probe_fd, data, len, clock_monotonic_ms() + PROBE_TIMEOUT_MS);
}

/* Answers the challenge with secret as user.  0, or an error code. */
static int probe_send_auth(const char *secret, const char *user) {
    ClientMessage *m;
    int rc = probe_read(&m);
    if (rc != EMBER_OK || m->body_case != CLIENT_MESSAGE__BODY_AUTH_CHALLENGE)
        return EMBER_EPROTO;
    uint8_t mac[AUTH_MAC_LEN];
    auth_challenge_answer(secret, m->auth_challenge->nonce.data, m->auth_challenge->nonce.len,
                          mac);
    client_message__free_unpacked(m, NULL);
    AuthResponse ar = AUTH_RESPONSE__INIT;
    ar.mac.data = mac;
    ar.mac.len = sizeof(mac);
    ar.user = (char *)user;
    ClientMessage msg = CLIENT_MESSAGE__INIT;
    msg.body_case = CLIENT_MESSAGE__BODY_AUTH_RESPONSE;
    msg.auth_response = &ar;
    return probe_send(&msg);
}

/* Answers the challenge with secret; returns the AuthResult's ok or an
 * error code (an ErrorResponse counts as refusal: 0). */
static int probe_auth(const char *secret) {
    ClientMessage *m;
    int rc = probe_send_auth(secret, "probe");
    if (rc != EMBER_OK)
        return rc;
    if ((rc = probe_read(&m)) != EMBER_OK)
        return rc;
    int ok = m->body_case == CLIENT_MESSAGE__BODY_AUTH_RESULT && m->auth_result->ok;
    client_message__free_unpacked(m, NULL);
    return ok;
}

/* Expects an ErrorResponse with code, then the connection closed. */
static int probe_expect_error_and_close(int code) {
    ClientMessage *m;
    int rc = probe_read(&m);
    if (rc != EMBER_OK) {
        printf("no error frame: %s\n", ember_strerror(rc));
        return 1;
    }
    int good = m->body_case == CLIENT_MESSAGE__BODY_ERROR && m->error->code == code;
    printf("gateway answered %s %d '%s'\n", message_client_name(m),
           m->body_case == CLIENT_MESSAGE__BODY_ERROR ? m->error->code : 0,
           m->body_case == CLIENT_MESSAGE__BODY_ERROR ? m->error->message : "");
    client_message__free_unpacked(m, NULL);
    if (!good)
        return 1;
    rc = probe_read(&m);
    if (rc != EMBER_ECLOSED) {
        printf("connection not closed after the error (%s)\n", ember_strerror(rc));
        if (rc == EMBER_OK)
            client_message__free_unpacked(m, NULL);
        return 1;
    }
    return 0;
}

static int probe_skip_challenge(void) {
    ClientMessage *m;
    if (probe_read(&m) != EMBER_OK)
        return 1;
    client_message__free_unpacked(m, NULL);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ember_probe RUN_DIR MODE\n");
        return 2;
    }
    const char *mode = argv[2];
    cluster_info info;
    char err[512];
    if (run_dir_read_info(argv[1], &info, err, sizeof(err)) != EMBER_OK ||
        socket_connect_tcp(info.host, info.port, PROBE_TIMEOUT_MS, &probe_fd) != EMBER_OK ||
        frame_reader_create(&probe_reader, FRAME_MAX_DEFAULT) != EMBER_OK) {
        printf("cannot reach the cluster: %s\n", err);
        return 1;
    }
    uint8_t header[FRAME_HEADER_LEN];
    if (!strcmp(mode, "wrong-secret")) {
        int ok = probe_auth("0000000000000000000000000000000000000000000000000000000000000000");
        printf("auth with a wrong secret: %s\n", ok == 1 ? "ACCEPTED" : "refused");
        return ok == 1;
    }
    if (!strcmp(mode, "bad-user-name")) {
        /* The right secret, but a user name no client library sends. */
        if (probe_send_auth(info.secret, "al\nice") != EMBER_OK)
            return 1;
        return probe_expect_error_and_close(EMBER_EPROTO);
    }
    if (!strcmp(mode, "request-before-auth")) {
        if (probe_skip_challenge())
            return 1;
        StatusRequest sr = STATUS_REQUEST__INIT;
        ClientMessage msg = CLIENT_MESSAGE__INIT;
        msg.body_case = CLIENT_MESSAGE__BODY_STATUS_REQUEST;
        msg.status_request = &sr;
        probe_send(&msg);
        return probe_expect_error_and_close(EMBER_EAUTH);
    }
    if (!strcmp(mode, "garbage-before-auth") || !strcmp(mode, "garbage")) {
        if (!strcmp(mode, "garbage") ? probe_auth(info.secret) != 1 : probe_skip_challenge())
            return 1;
        static const uint8_t junk[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x42};
        probe_send_raw(junk, 10);
        return probe_expect_error_and_close(EMBER_EPROTO);
    }
    if (!strcmp(mode, "oversize-before-auth") || !strcmp(mode, "oversize")) {
        if (!strcmp(mode, "oversize") ? probe_auth(info.secret) != 1 : probe_skip_challenge())
            return 1;
        frame_put_header(header, 0x7fffffffu); /* 2 GiB announced */
        probe_send_raw(header, sizeof(header));
        return probe_expect_error_and_close(EMBER_ETOOBIG);
    }
    if (!strcmp(mode, "mid-frame")) {
        if (probe_auth(info.secret) != 1)
            return 1;
        frame_put_header(header, 100);
        probe_send_raw(header, sizeof(header));
        probe_send_raw("0123456789", 10);
        close(probe_fd);
        printf("closed after 10 of 100 payload bytes\n");
        return 0;
    }
    if (!strcmp(mode, "not-a-request")) {
        if (probe_auth(info.secret) != 1)
            return 1;
        AuthResult ar = AUTH_RESULT__INIT;
        ClientMessage msg = CLIENT_MESSAGE__INIT;
        msg.body_case = CLIENT_MESSAGE__BODY_AUTH_RESULT;
        msg.auth_result = &ar;
        probe_send(&msg);
        ClientMessage *m;
        if (probe_read(&m) != EMBER_OK)
            return 1;
        int good = m->body_case == CLIENT_MESSAGE__BODY_ERROR;
        client_message__free_unpacked(m, NULL);
        /* The connection stays usable for a real request. */
        StatusRequest sr = STATUS_REQUEST__INIT;
        msg.body_case = CLIENT_MESSAGE__BODY_STATUS_REQUEST;
        msg.status_request = &sr;
        probe_send(&msg);
        if (probe_read(&m) != EMBER_OK)
            return 1;
        good &= m->body_case == CLIENT_MESSAGE__BODY_STATUS_RESPONSE;
        client_message__free_unpacked(m, NULL);
        printf("non-request %s\n", good ? "refused, connection kept" : "MISHANDLED");
        return !good;
    }
    if (!strcmp(mode, "silent")) {
        if (probe_skip_challenge())
            return 1;
        return probe_expect_error_and_close(EMBER_ETIMEDOUT);
    }
    fprintf(stderr, "ember_probe: unknown mode '%s'\n", mode);
    return 2;
}
