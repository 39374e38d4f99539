/* error.c -- names of ember's error codes (see error.h). */
#include "error.h"

const char *ember_strerror(int rc) {
    switch (rc) {
    case EMBER_OK: return "success";
    case EMBER_EINVAL: return "invalid argument";
    case EMBER_ENOMEM: return "out of memory";
    case EMBER_EIO: return "I/O error";
    case EMBER_ENOENT: return "not found";
    case EMBER_EPROTO: return "protocol error";
    case EMBER_ETOOBIG: return "message too large";
    case EMBER_EAUTH: return "authentication failed";
    case EMBER_ETIMEDOUT: return "timed out";
    case EMBER_EAGAIN: return "resource temporarily unavailable";
    case EMBER_ECLOSED: return "connection closed";
    case EMBER_ECONFIG: return "configuration error";
    case EMBER_EUSAGE: return "usage error";
    case EMBER_EEXIST: return "already exists";
    case EMBER_ESTATE: return "not allowed in the current state";
    case EMBER_ENOTDIR: return "not a directory";
    case EMBER_EISDIR: return "is a directory";
    case EMBER_ENOTEMPTY: return "directory not empty";
    case EMBER_ECORRUPT: return "corrupt data";
    case EMBER_EACCES: return "permission denied";
    case EMBER_ENOSPC: return "no space left";
    default: return "unknown error";
    }
}
