/* test_auth.c -- unit tests for common/auth.c.
 *
 * Covers the challenge round trip (answer, then verify), refusal of a
 * wrong secret, a wrong nonce, a tampered MAC and MACs of the wrong length,
 * the answer checked against HMAC-SHA256 computed here with OpenSSL
 * directly over "ember-auth-v1" || nonce, secret generation (64 lower-case
 * hex characters, different each time) and hex encoding of known bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/auth.h"
#include "common/error.h"

static const char secret[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void make_nonce(uint8_t nonce[AUTH_NONCE_LEN], uint8_t seed) {
    for (int i = 0; i < AUTH_NONCE_LEN; i++)
        nonce[i] = (uint8_t)(seed + i * 31);
}

/* HMAC-SHA256(key, "ember-auth-v1" || nonce), computed independently. */
static void reference_mac(const char *key, const uint8_t *nonce, size_t nonce_len, uint8_t out[32]) {
    uint8_t msg[13 + 256];
    memcpy(msg, "ember-auth-v1", 13);
    memcpy(msg + 13, nonce, nonce_len);
    unsigned int len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), msg, 13 + nonce_len, out, &len));
    assert_int_equal(len, 32);
}

static void test_round_trip(void **state) {
    (void)state;
    uint8_t nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];
    make_nonce(nonce, 7);
    assert_int_equal(auth_challenge_answer(secret, nonce, sizeof nonce, mac), 0);
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, sizeof mac), 1);
    /* The answer is deterministic. */
    uint8_t again[AUTH_MAC_LEN];
    assert_int_equal(auth_challenge_answer(secret, nonce, sizeof nonce, again), 0);
    assert_memory_equal(mac, again, AUTH_MAC_LEN);
}

static void test_wrong_secret(void **state) {
    (void)state;
    uint8_t nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];
    make_nonce(nonce, 7);
    assert_int_equal(auth_challenge_answer(secret, nonce, sizeof nonce, mac), 0);
    char other[sizeof secret];
    memcpy(other, secret, sizeof secret);
    other[63] = 'e'; /* one character differs */
    assert_int_equal(auth_challenge_verify(other, nonce, sizeof nonce, mac, sizeof mac), 0);
    assert_int_equal(auth_challenge_verify("", nonce, sizeof nonce, mac, sizeof mac), 0);
    other[63] = '\0'; /* a prefix of the secret */
    assert_int_equal(auth_challenge_verify(other, nonce, sizeof nonce, mac, sizeof mac), 0);
}

static void test_wrong_nonce(void **state) {
    (void)state;
    uint8_t nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];
    make_nonce(nonce, 7);
    assert_int_equal(auth_challenge_answer(secret, nonce, sizeof nonce, mac), 0);
    uint8_t other[AUTH_NONCE_LEN];
    memcpy(other, nonce, sizeof other);
    other[AUTH_NONCE_LEN - 1] ^= 1;
    assert_int_equal(auth_challenge_verify(secret, other, sizeof other, mac, sizeof mac), 0);
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce - 1, mac, sizeof mac), 0);
    /* A MAC tampered in its first or its last byte fails too. */
    mac[0] ^= 0x80;
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, sizeof mac), 0);
    mac[0] ^= 0x80;
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, sizeof mac), 1);
    mac[AUTH_MAC_LEN - 1] ^= 0x01;
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, sizeof mac), 0);
}

static void test_mac_length(void **state) {
    (void)state;
    uint8_t nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN + 1];
    make_nonce(nonce, 9);
    assert_int_equal(auth_challenge_answer(secret, nonce, sizeof nonce, mac), 0);
    mac[AUTH_MAC_LEN] = 0;
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, AUTH_MAC_LEN), 1);
    /* The right bytes, but a prefix or with one byte more, are refused. */
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, AUTH_MAC_LEN - 1), 0);
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, AUTH_MAC_LEN + 1), 0);
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, 16), 0);
    assert_int_equal(auth_challenge_verify(secret, nonce, sizeof nonce, mac, 0), 0);
}

static void test_known_answer(void **state) {
    (void)state;
    /* First make sure the reference itself is HMAC-SHA256: RFC 4231 case 2. */
    static const uint8_t rfc4231_2[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
        0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    const char *data = "what do ya want for nothing?";
    uint8_t out[32];
    unsigned int len = 0;
    assert_non_null(HMAC(EVP_sha256(), "Jefe", 4, (const uint8_t *)data, strlen(data), out, &len));
    assert_memory_equal(out, rfc4231_2, 32);

    uint8_t nonce[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN], want[32];
    for (uint8_t seed = 0; seed < 4; seed++) {
        make_nonce(nonce, (uint8_t)(seed * 50));
        assert_int_equal(auth_challenge_answer(secret, nonce, sizeof nonce, mac), 0);
        reference_mac(secret, nonce, sizeof nonce, want);
        assert_memory_equal(mac, want, AUTH_MAC_LEN);
    }
    /* Other secrets and nonce lengths follow the same formula. */
    assert_int_equal(auth_challenge_answer("s3cret", nonce, 5, mac), 0);
    reference_mac("s3cret", nonce, 5, want);
    assert_memory_equal(mac, want, AUTH_MAC_LEN);
}

static void test_nonce_too_long(void **state) {
    (void)state;
    uint8_t nonce[300] = {0}, mac[AUTH_MAC_LEN];
    assert_int_equal(auth_challenge_answer(secret, nonce, 256, mac), 0); /* the most it takes */
    assert_int_equal(auth_challenge_answer(secret, nonce, 257, mac), EMBER_EINVAL);
    assert_int_equal(auth_challenge_verify(secret, nonce, 257, mac, sizeof mac), 0);
}

static int is_lower_hex(const char *s) {
    for (; *s != '\0'; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void test_secret_generate(void **state) {
    (void)state;
    char a[65], b[65];
    memset(a, 'X', sizeof a);
    memset(b, 'X', sizeof b);
    assert_int_equal(auth_secret_generate(a, sizeof a), 0);
    assert_int_equal(auth_secret_generate(b, sizeof b), 0);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strlen(b), 64);
    assert_true(is_lower_hex(a));
    assert_true(is_lower_hex(b));
    assert_string_not_equal(a, b);
    char small[64];
    assert_int_equal(auth_secret_generate(small, sizeof small), EMBER_EINVAL);
}

static void test_random_bytes(void **state) {
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(auth_random_bytes(a, sizeof a), 0);
    assert_int_equal(auth_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
}

static void test_hex_encode(void **state) {
    (void)state;
    static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff, 0x10, 0x09};
    char out[2 * sizeof in + 1];
    memset(out, 'X', sizeof out);
    auth_hex_encode(in, sizeof in, out);
    assert_string_equal(out, "00017f80abcdefff1009");
    char empty[1] = {'X'};
    auth_hex_encode(in, 0, empty);
    assert_string_equal(empty, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_wrong_nonce),
        cmocka_unit_test(test_mac_length),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_nonce_too_long),
        cmocka_unit_test(test_secret_generate),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_hex_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
