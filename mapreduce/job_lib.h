/* job_lib.h -- loading a job library (`ember jar LIB.so`, and the built-in
 * examples, which are job libraries too) and the job's configuration.
 *
 * A library must export ember_job_define() returning a job of this ABI
 * (or of version 1, whose shorter struct is copied with no configure)
 * with a map function; anything else is refused with a message that says
 * what is wrong.  The handle stays open while the job runs. */
#ifndef EMBER_MR_JOB_LIB_H
#define EMBER_MR_JOB_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "ember/mapreduce.h"

typedef struct {
    void *handle;
    const ember_job *job; /* the library's, or v1 below */
    ember_job v1;         /* a version 1 job, copied into this version's shape */
} mr_job_lib;

int mr_job_lib_load(const char *path, mr_job_lib *out, char *err, size_t errlen);
/* A job of the library that need not be the one ember_job_define()
 * returns (a driver's other job: grep's search): the struct offset bytes
 * from the library's load base (as dladdr() tells where the library is),
 * checked for its ABI, a map and, unless name is NULL, its name.  Offset
 * 0: ember_job_define()'s job, as mr_job_lib_load(). */
int mr_job_lib_load_at(const char *path, uint64_t offset, const char *name, mr_job_lib *out,
                       char *err, size_t errlen);
void mr_job_lib_close(mr_job_lib *lib);

/* The job's configuration: -D key=value pairs, later ones winning. */
typedef struct {
    char **keys, **values;
    size_t n;
} mr_conf;

/* "key=value"; EMBER_EINVAL without '=' or with an empty key. */
int mr_conf_set_pair(mr_conf *c, const char *pair);
int mr_conf_set(mr_conf *c, const char *key, const char *value);
const char *mr_conf_get(const mr_conf *c, const char *key);
/* A number with an optional k/m/g/t suffix (powers of 1024), or dflt when
 * unset; EMBER_ECONFIG (and a message) when set to something else. */
int mr_conf_get_size(const mr_conf *c, const char *key, uint64_t dflt, uint64_t *out, char *err,
                     size_t errlen);
void mr_conf_free(mr_conf *c);

#endif
