/* auth.h -- the cluster secret and the client challenge.
 *
 * A cluster has one secret (32 random bytes, written hex-encoded to
 * cluster.json, mode 0600).  A client proves it knows the secret by
 * answering the gateway's random nonce with
 * HMAC-SHA256(secret, "ember-auth-v1" || nonce); the secret itself never
 * crosses the wire. */
#ifndef EMBER_AUTH_H
#define EMBER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_NONCE_LEN 32
#define AUTH_MAC_LEN 32
#define AUTH_SECRET_MAX 256

/* Fills buf with len bytes from the OS's CSPRNG; 0 or EMBER_EIO. */
int auth_random_bytes(uint8_t *buf, size_t len);

/* Writes a new random secret, hex-encoded and NUL-terminated, into out
 * (at least 65 bytes). */
int auth_secret_generate(char *out, size_t outlen);

/* The answer to nonce for the given secret string; mac gets AUTH_MAC_LEN
 * bytes. */
int auth_challenge_answer(const char *secret, const uint8_t *nonce, size_t nonce_len,
                          uint8_t mac[AUTH_MAC_LEN]);

/* A task's answer to nonce (MR_PROTOCOL.md, "Job token"): HMAC-SHA256
 * keyed with its job's token (token_len bytes, 1..AUTH_SECRET_MAX), over
 * the nonce alone.  EMBER_EINVAL for a token of no length. */
int auth_job_answer(const uint8_t *token, size_t token_len, const uint8_t *nonce, size_t nonce_len,
                    uint8_t mac[AUTH_MAC_LEN]);

/* 1 when mac is the right answer to nonce, compared in constant time. */
int auth_challenge_verify(const char *secret, const uint8_t *nonce, size_t nonce_len,
                          const uint8_t *mac, size_t mac_len);

/* Block tokens: the namenode lets a client read (mode 1) or write
 * (mode 2) one block until expiry_ms (wall clock); datanodes check the
 * MAC, HMAC-SHA256(secret, "ember-token-v1" | id | gen_stamp | mode |
 * expiry), the fields big-endian. */
#define AUTH_TOKEN_READ 1u
#define AUTH_TOKEN_WRITE 2u
int auth_block_token_mac(const char *secret, uint64_t block_id, uint64_t gen_stamp, uint32_t mode,
                         int64_t expiry_ms, uint8_t mac[AUTH_MAC_LEN]);
/* 1 when the MAC is right and now_ms is before expiry_ms. */
int auth_block_token_verify(const char *secret, uint64_t block_id, uint64_t gen_stamp,
                            uint32_t mode, int64_t expiry_ms, const uint8_t *mac, size_t mac_len,
                            int64_t now_ms);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void auth_hex_encode(const uint8_t *in, size_t len, char *out);

#endif
