/* stream_process.h -- a command run as a child process that is fed bytes on
 * its stdin while its stdout (and stderr) are read as lines: the pipe of
 * Hadoop Streaming's PipeMapRed, with one thread instead of three.
 *
 * No deadlock: whenever a write to the child cannot complete, the same
 * poll() waits on the child's stdout and stderr too and hands the lines
 * that arrive to the callbacks, so a child that writes a lot before it
 * has read all of its input never blocks this process, nor this process
 * the child.  Lines end at '\n' (a "\r\n" ending loses its '\r'); a last
 * line without '\n' is still a line.
 *
 * Life: start (`/bin/sh -c COMMAND` spawned with its stdin and stdout on
 * pipes, its stderr on a pipe too when on_stderr is set) -> write ... ->
 * finish (stdin closed, stdout and stderr read to their end, the child
 * reaped) -> free.  free without finish kills the child's process group
 * (SIGKILL: the shell and what it started) and reaps the child, so no
 * path leaves a process behind.
 *
 * This process must not die of SIGPIPE when a child stops reading:
 * stream_process_start() ignores SIGPIPE (the child gets it back at its
 * default), and a write to a child that closed its stdin answers
 * EMBER_ECLOSED. */
#ifndef EMBER_MR_STREAM_PROCESS_H
#define EMBER_MR_STREAM_PROCESS_H

#include <stddef.h>
#include <stdint.h>

/* One line of the child's output, without its end; valid for the call.
 * 0, or a negative EMBER_E* code that stops the process (returned by the
 * write or finish that was reading). */
typedef int (*stream_line_fn)(void *arg, const uint8_t *line, size_t len);

typedef struct {
    const char *command;      /* run as /bin/sh -c COMMAND */
    char *const *env;         /* the child's environment (NULL: ours) */
    const char *dir;          /* its working directory (NULL: ours) */
    stream_line_fn on_stdout; /* required */
    void *stdout_arg;
    stream_line_fn on_stderr; /* NULL: the child writes to our stderr */
    void *stderr_arg;
    /* A child that neither reads, writes nor prints for this long is
     * killed (EMBER_ETIMEDOUT), as mapreduce.task.timeout; 0: never. */
    int64_t timeout_ms;
} stream_process_options;

/* How the child ended: Hadoop's exit code (the status, or 128 + the
 * signal that killed it, as Java reports it) and the signal (0 if none). */
typedef struct {
    int code;
    int signal;
} stream_process_exit;

typedef struct stream_process stream_process;

/* Spawns the child.  The strings of o are used only during the call. */
int stream_process_start(const stream_process_options *o, stream_process **out);

/* Queues len bytes for the child's stdin (copied), and writes them out,
 * reading its output meanwhile, once 64 KiB are queued.  EMBER_ECLOSED
 * when the child closed its stdin; a callback's error; EMBER_ETIMEDOUT;
 * after an error every call answers it again. */
int stream_process_write(stream_process *p, const void *data, size_t len);

/* Writes what is queued, closes the child's stdin, reads its stdout and
 * stderr to their end and reaps it into *ended.  EMBER_OK, or
 * EMBER_ECLOSED when the child closed its stdin before taking everything
 * (the rest is dropped; the child is still read and reaped, *ended set),
 * or an error that left the child running (*ended untouched; free kills
 * it). */
int stream_process_finish(stream_process *p, stream_process_exit *ended);

/* Kills the child if it is still running, reaps it, frees p.  NULL ok. */
void stream_process_free(stream_process *p);

#endif
