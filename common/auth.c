/* auth.c -- secrets and HMAC challenge-response with OpenSSL (see auth.h). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"
#include "error.h"

static const char auth_context[] = "ember-auth-v1";

int auth_random_bytes(uint8_t *buf, size_t len) {
    return RAND_bytes(buf, (int)len) == 1 ? EMBER_OK : EMBER_EIO;
}

void auth_hex_encode(const uint8_t *in, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int auth_secret_generate(char *out, size_t outlen) {
    uint8_t raw[32];
    if (outlen < 2 * sizeof(raw) + 1)
        return EMBER_EINVAL;
    int rc = auth_random_bytes(raw, sizeof(raw));
    if (rc != EMBER_OK)
        return rc;
    auth_hex_encode(raw, sizeof(raw), out);
    return EMBER_OK;
}

int auth_challenge_answer(const char *secret, const uint8_t *nonce, size_t nonce_len,
                          uint8_t mac[AUTH_MAC_LEN]) {
    uint8_t msg[sizeof(auth_context) - 1 + 256];
    if (nonce_len > 256)
        return EMBER_EINVAL;
    memcpy(msg, auth_context, sizeof(auth_context) - 1);
    memcpy(msg + sizeof(auth_context) - 1, nonce, nonce_len);
    unsigned int maclen = AUTH_MAC_LEN;
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, sizeof(auth_context) - 1 + nonce_len,
             mac, &maclen) == NULL)
        return EMBER_EIO;
    return EMBER_OK;
}

int auth_job_answer(const uint8_t *token, size_t token_len, const uint8_t *nonce, size_t nonce_len,
                    uint8_t mac[AUTH_MAC_LEN]) {
    unsigned int maclen = AUTH_MAC_LEN;
    if (token_len == 0 || token_len > AUTH_SECRET_MAX)
        return EMBER_EINVAL;
    if (HMAC(EVP_sha256(), token, (int)token_len, nonce, nonce_len, mac, &maclen) == NULL)
        return EMBER_EIO;
    return EMBER_OK;
}

static void auth_put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

int auth_block_token_mac(const char *secret, uint64_t block_id, uint64_t gen_stamp, uint32_t mode,
                         int64_t expiry_ms, uint8_t mac[AUTH_MAC_LEN]) {
    static const char token_context[] = "ember-token-v1";
    uint8_t msg[sizeof(token_context) - 1 + 28];
    size_t off = sizeof(token_context) - 1;
    memcpy(msg, token_context, off);
    auth_put_be64(msg + off, block_id);
    auth_put_be64(msg + off + 8, gen_stamp);
    msg[off + 16] = (uint8_t)(mode >> 24);
    msg[off + 17] = (uint8_t)(mode >> 16);
    msg[off + 18] = (uint8_t)(mode >> 8);
    msg[off + 19] = (uint8_t)mode;
    auth_put_be64(msg + off + 20, (uint64_t)expiry_ms);
    unsigned int maclen = AUTH_MAC_LEN;
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, sizeof(msg), mac, &maclen) == NULL)
        return EMBER_EIO;
    return EMBER_OK;
}

int auth_block_token_verify(const char *secret, uint64_t block_id, uint64_t gen_stamp,
                            uint32_t mode, int64_t expiry_ms, const uint8_t *mac, size_t mac_len,
                            int64_t now_ms) {
    uint8_t want[AUTH_MAC_LEN];
    if (mac_len != AUTH_MAC_LEN || now_ms >= expiry_ms ||
        auth_block_token_mac(secret, block_id, gen_stamp, mode, expiry_ms, want) != EMBER_OK)
        return 0;
    return CRYPTO_memcmp(want, mac, AUTH_MAC_LEN) == 0;
}

int auth_challenge_verify(const char *secret, const uint8_t *nonce, size_t nonce_len,
                          const uint8_t *mac, size_t mac_len) {
    uint8_t want[AUTH_MAC_LEN];
    if (mac_len != AUTH_MAC_LEN)
        return 0;
    if (auth_challenge_answer(secret, nonce, nonce_len, want) != EMBER_OK)
        return 0;
    return CRYPTO_memcmp(want, mac, AUTH_MAC_LEN) == 0;
}
