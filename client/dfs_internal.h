/* dfs_internal.h -- what the client library's files share (not public).
 *
 * dfs_client.c has the namespace calls, the handle and its renewer
 * thread, dfs_stream.c the file streams; both send their requests through
 * dfs_call().  dfs_short_circuit.c serves the streams' reads of replicas
 * on this host.
 *
 * Threads.  The application uses a handle, and each of its streams, from
 * one thread at a time.  The library adds one thread per handle, the
 * renewer (HDFS's LeaseRenewer and the heartbeats of its DataStreamer),
 * started with the handle's first writer and stopped by ember_dfs_close().
 * What the two threads share, and what guards it:
 *   dfs->call_lock   the namenode connection (dfs->client): one request
 *                    and its answer at a time, whoever sends it
 *   dfs->lock        the renewer's bookkeeping: the open writers, the
 *                    lease timing, the stop flag (dfs->wake signals it)
 *   f->lock          a writer stream's state and its data connection: the
 *                    application holds it for the whole of each writer
 *                    call (write, hflush, hsync, close); the renewer only
 *                    tries it (pthread_mutex_trylock), so a stream in use
 *                    is skipped -- its own thread is talking to the
 *                    pipeline -- and looked at again a little later
 * Order: the application may take dfs->lock while it holds its stream's
 * lock (to wake the renewer when a block opens); the renewer, holding
 * dfs->lock, only ever tries a stream's lock, so no thread waits for a
 * stream lock while holding dfs->lock and the two cannot deadlock.
 * call_lock is a leaf: taken last, held for one exchange with the
 * namenode and nothing else; the renewer drops dfs->lock before it calls
 * the namenode, so a slow answer never holds up a stream's close.  The
 * renewer never writes dfs->error or dfs->warning: they belong to the
 * application's calls. */
#ifndef EMBER_DFS_INTERNAL_H
#define EMBER_DFS_INTERNAL_H

#include <pthread.h>

#include "client.pb-c.h"
#include "dfs_remote.h"
#include "ember/client.h"
#include "ember/dfs.h"

#define DFS_TIMEOUT_MS 60000

struct ember_dfs {
    ember_client *client; /* the namenode connection, used under call_lock */
    pthread_mutex_t call_lock;
    char run_dir[4096];
    char error[4200];
    char warning[256];
    int no_short_circuit;     /* ember_dfs_set_short_circuit(dfs, 0): TCP reads only */
    dfs_remote_reader remote; /* dfs_set_remote_reader(): remote reads through it (read
                               * NULL: over TCP) */
    int64_t socket_timeout_ms; /* ember_dfs_set_socket_timeout(); DFS_TIMEOUT_MS at first */
    char client_name[96];     /* the lease holder name of this handle's writers */

    /* The renewer and what it looks after, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* a writer registered, or stop (CLOCK_MONOTONIC waits) */
    pthread_t renewer;
    int renewer_running;      /* started: ember_dfs_close() stops and joins it */
    int renewer_stop;
    ember_dfs_file **writers; /* the open writers (dfs_writer_opened()), malloc'd */
    size_t nwriters, writers_cap;
    int64_t lease_renew_ms;   /* 0 until a file is opened for writing */
    int64_t lease_next_ms;    /* monotonic: when the renewer renews next */
};

/* Sends req on dfs's connection and returns the DfsResult in *out; the
 * caller frees the envelope *env with client_message__free_unpacked().
 * On failure the message is in dfs->error.  For the application's
 * thread (it writes dfs->error and dfs->warning). */
int dfs_call(ember_dfs *dfs, ClientMessage *req, ClientMessage **env, DfsResult **out);

/* A writer stream f was opened through dfs (create for writing, append):
 * the renewer (started now if it is not running) renews the handle's
 * lease every renew_ms (the namenode's DfsResult.lease_renew_ms; the
 * smallest any writer was given; 0: no renewal) and sends f's heartbeats
 * (dfs_writer_heartbeat()) until dfs_writer_closed().  0, or EMBER_ENOMEM
 * or EMBER_EIO (no thread) with dfs->error set: f is then not
 * registered. */
int dfs_writer_opened(ember_dfs *dfs, ember_dfs_file *f, int64_t renew_ms);

/* f is about to be freed: the renewer forgets it (waiting, if it is
 * looking at f, until it is done).  The caller does not hold f->lock. */
void dfs_writer_closed(ember_dfs *dfs, ember_dfs_file *f);

/* A writer of dfs opened a block: the renewer recomputes when it must
 * next wake (it may have been waiting for nothing in particular). */
void dfs_renewer_wake(ember_dfs *dfs);

/* The renewer's look at writer f at monotonic time now, with dfs->lock
 * held (dfs_stream.c): when f's pipeline has carried nothing for half the
 * datanodes' socket timeout, a heartbeat packet goes down it.  Returns
 * when f wants to be looked at again (INT64_MAX: not before something
 * changes). */
int64_t dfs_writer_heartbeat(ember_dfs_file *f, int64_t now);

/* Records a failure message for ember_dfs_last_error(). */
void dfs_set_error(ember_dfs *dfs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- dfs_short_circuit.c: short-circuit local reads ---- */

typedef struct dfs_short_circuit dfs_short_circuit;

/* Serves up to len bytes of block lb from file offset pos (inside lb) out
 * of a replica on this host, its files handed over by the datanode's unix
 * socket, every chunk verified.  *sc is the stream's state: NULL at first
 * (allocated here), freed by dfs_short_circuit_free().  The *got bytes in
 * out are good whatever the result: 0 when *got > 0; EMBER_ENOENT when
 * short-circuit cannot serve the bytes (off, no socket, refused, ...);
 * EMBER_ECORRUPT when the replica of the datanode of rank *bad_rank failed
 * its checksums, which the caller reports to the namenode.  After either
 * error the caller reads the rest of the block over TCP. */
int dfs_short_circuit_read(ember_dfs *dfs, dfs_short_circuit **sc, const LocatedBlock *lb,
                           uint64_t pos, uint8_t *out, size_t len, size_t *got,
                           uint32_t *bad_rank);

/* Closes the stream's replica files and frees sc.  NULL ok. */
void dfs_short_circuit_free(dfs_short_circuit *sc);

/* The layers below, for tests.  A replica's files as a datanode handed
 * them over: the descriptors are the holder's, closed by
 * dfs_sc_replica_close(). */
typedef struct {
    int data_fd, meta_fd;
    uint64_t gen_stamp;
    uint64_t length;    /* the replica's, as the datanode said */
    uint64_t data_size; /* the block file's size when checked */
} dfs_sc_replica;

/* Connects to a datanode's unix socket (non-blocking).  EMBER_EINVAL for a
 * path that cannot be a unix socket's, EMBER_EAGAIN when its backlog is
 * full, EMBER_ECLOSED when nothing listens there. */
int dfs_sc_connect(const char *path, int *fd_out);

/* Sends ShortCircuitRequest on fd and takes the answer before deadline_ms
 * (monotonic): 0 with *out open and checked (dfs_sc_replica_check), a
 * DataError's code with its message in err, EMBER_EPROTO for an answer
 * that is not a ShortCircuitResponse of gen_stamp with exactly two
 * descriptors, EMBER_ECORRUPT (or EMBER_EPROTO) when the files fail the
 * check; or the socket's error.  On failure no descriptor stays open. */
int dfs_sc_exchange(int fd, uint64_t block_id, uint64_t gen_stamp, const BlockToken *token,
                    int64_t deadline_ms, dfs_sc_replica *out, char *err, size_t errlen);

/* Checks r's files for r->length: regular files (else EMBER_EPROTO), the
 * meta header of block_store.h and sizes that cover the length (else
 * EMBER_ECORRUPT); records the block file's size. */
int dfs_sc_replica_check(dfs_sc_replica *r);

/* Reads up to len bytes at offset (in the block) into out, verifying
 * every chunk touched; *got is short only at the replica's end or before
 * an error.  EMBER_ECORRUPT when a chunk fails its checksum or a file is
 * too short, EMBER_EAGAIN when the block file changed size since it was
 * checked (stale, not corrupt), EMBER_EIO on a read error. */
int dfs_sc_replica_read(const dfs_sc_replica *r, uint64_t offset, uint8_t *out, size_t len,
                        size_t *got);

void dfs_sc_replica_close(dfs_sc_replica *r);

#endif
