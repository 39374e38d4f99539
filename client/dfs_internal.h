/* dfs_internal.h -- what the client library's files share (not public).
 *
 * dfs_client.c has the namespace calls, dfs_stream.c the file streams;
 * both send their requests through dfs_call(). */
#ifndef EMBER_DFS_INTERNAL_H
#define EMBER_DFS_INTERNAL_H

#include "client.pb-c.h"
#include "ember/client.h"
#include "ember/dfs.h"

#define DFS_TIMEOUT_MS 60000

struct ember_dfs {
    ember_client *client;
    char run_dir[4096];
    char error[4200];
    char warning[256];
};

/* Sends req on dfs's connection and returns the DfsResult in *out; the
 * caller frees the envelope *env with client_message__free_unpacked().
 * On failure the message is in dfs->error. */
int dfs_call(ember_dfs *dfs, ClientMessage *req, ClientMessage **env, DfsResult **out);

/* Records a failure message for ember_dfs_last_error(). */
void dfs_set_error(ember_dfs *dfs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
