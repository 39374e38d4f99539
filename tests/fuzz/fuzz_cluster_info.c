/* fuzz_cluster_info.c -- libFuzzer target: the reader of a run
 * directory's cluster.json (common/run_dir.c's run_dir_read_info(), what
 * every client and a starting primary read), and what a client then does
 * with it before connecting: answering an auth challenge with its secret.
 *
 * Input: the bytes of cluster.json.
 *
 * Checked on every input: nothing crashes; a failure carries a one-line
 * reason; an accepted file gives NUL-terminated strings within their
 * fields, a port in 1..65535 and a non-empty secret; and writing the
 * info back (run_dir_write_info()) reads back the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/error.h"
#include "common/run_dir.h"
#include "fuzz_files.h"

/* 1 when field (of size bytes) holds a NUL-terminated string. */
static int terminated(const char *field, size_t size) { return memchr(field, '\0', size) != NULL; }

static int same_info(const cluster_info *a, const cluster_info *b) {
    return strcmp(a->cluster_id, b->cluster_id) == 0 && strcmp(a->host, b->host) == 0 &&
           a->port == b->port && strcmp(a->secret, b->secret) == 0 &&
           a->started_ms == b->started_ms && a->world_size == b->world_size &&
           a->primary_pid == b->primary_pid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/cluster.json", dir);
    fuzz_write_file(path, data, size);

    cluster_info info;
    char err[512] = "";
    int rc = run_dir_read_info(dir, &info, err, sizeof err);
    if (rc != EMBER_OK) {
        if (err[0] == '\0' || strchr(err, '\n') != NULL)
            abort(); /* a failure says why, on one line */
        return 0;
    }
    if (!terminated(info.cluster_id, sizeof info.cluster_id) ||
        !terminated(info.host, sizeof info.host) || !terminated(info.secret, sizeof info.secret) ||
        info.port < 1 || info.port > 65535 || info.secret[0] == '\0')
        abort();
    static const uint8_t nonce[32] = {1, 2, 3};
    uint8_t mac[AUTH_MAC_LEN];
    if (auth_challenge_answer(info.secret, nonce, sizeof nonce, mac) != EMBER_OK)
        abort();

    if (run_dir_write_info(dir, &info) != EMBER_OK)
        abort();
    cluster_info again;
    if (run_dir_read_info(dir, &again, err, sizeof err) != EMBER_OK || !same_info(&info, &again))
        abort(); /* what the primary writes, every client must read alike */
    return 0;
}
