/* error.h -- ember's error codes.
 *
 * Every function that can fail returns int: 0 on success, one of the
 * negative EMBER_E* codes below otherwise (libuv's convention).  Values come
 * back through out-parameters.  ember_strerror() names a code for a log line
 * or a one-line CLI error; it never returns NULL. */
#ifndef EMBER_ERROR_H
#define EMBER_ERROR_H

enum {
    EMBER_OK = 0,
    EMBER_EINVAL = -1,    /* invalid argument or value */
    EMBER_ENOMEM = -2,    /* out of memory */
    EMBER_EIO = -3,       /* a system call failed; errno has the detail */
    EMBER_ENOENT = -4,    /* no such file, node or entry */
    EMBER_EPROTO = -5,    /* malformed or unexpected message */
    EMBER_ETOOBIG = -6,   /* frame or message over its size cap */
    EMBER_EAUTH = -7,     /* authentication failed */
    EMBER_ETIMEDOUT = -8, /* a deadline passed */
    EMBER_EAGAIN = -9,    /* not now: try again later */
    EMBER_ECLOSED = -10,  /* the peer closed the connection */
    EMBER_ECONFIG = -11,  /* bad configuration key or value */
    EMBER_EUSAGE = -12,   /* bad command line */
    EMBER_EEXIST = -13,   /* already exists */
    EMBER_ESTATE = -14,   /* not allowed in the current state */
    EMBER_ENOTDIR = -15,  /* a path component is not a directory */
    EMBER_EISDIR = -16,   /* is a directory */
    EMBER_ENOTEMPTY = -17, /* directory not empty */
    EMBER_ECORRUPT = -18, /* stored data failed its checksum or format check */
    EMBER_EACCES = -19,   /* permission denied */
    EMBER_ENOSPC = -20,   /* no space left (every data directory full) */
};

const char *ember_strerror(int rc);

#endif
