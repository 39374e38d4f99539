/* job_lib.c -- see job_lib.h. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "job_lib.h"

/* Why job (the struct at what) cannot run, in err; 0 when it can. */
static int job_lib_check(const char *path, const char *what, const ember_job *job, char *err,
                         size_t errlen) {
    if (job == NULL)
        snprintf(err, errlen, "%s: %s returned no job", path, what);
    else if (job->abi != EMBER_JOB_ABI && job->abi != 1)
        snprintf(err, errlen, "%s was built for job API version %u; this ember runs version %d",
                 path, job->abi, EMBER_JOB_ABI);
    else if (job->map == NULL)
        snprintf(err, errlen, "%s: the job has no map function", path);
    else
        return EMBER_OK;
    return EMBER_EINVAL;
}

/* The job offset bytes from the library's load base (found from its
 * ember_job_define), if it is a job of that name. */
static const ember_job *job_lib_at(const char *path, void *define, uint64_t offset,
                                   const char *name, char *err, size_t errlen) {
    Dl_info info;
    if (dladdr(define, &info) == 0 || info.dli_fbase == NULL) {
        snprintf(err, errlen, "%s: cannot find where the library is loaded", path);
        return NULL;
    }
    const char *base = info.dli_fbase;
    const ember_job *job = (const ember_job *)(base + offset);
    /* Inside this library's mapping, first and last byte (an offset from
     * another build would point anywhere). */
    Dl_info first, last;
    if (offset > UINTPTR_MAX - (uintptr_t)base - sizeof(*job) || dladdr(job, &first) == 0 ||
        first.dli_fbase != base || dladdr((const char *)(job + 1) - 1, &last) == 0 ||
        last.dli_fbase != base) {
        snprintf(err, errlen, "%s: offset %llu is outside the library", path,
                 (unsigned long long)offset);
        return NULL;
    }
    char what[64];
    snprintf(what, sizeof(what), "the job at offset %llu", (unsigned long long)offset);
    if (job_lib_check(path, what, job, err, errlen) != EMBER_OK)
        return NULL;
    const char *has = job->name != NULL ? job->name : "";
    if (name != NULL && strcmp(has, name) != 0) {
        snprintf(err, errlen, "%s: the job at offset %llu is '%s', not '%s' (another library?)",
                 path, (unsigned long long)offset, has, name);
        return NULL;
    }
    return job;
}

int mr_job_lib_load_at(const char *path, uint64_t offset, const char *name, mr_job_lib *out,
                       char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(err, errlen, "cannot load job library %s: %s", path, dlerror());
        return EMBER_EINVAL;
    }
    const ember_job *(*define)(void);
    *(void **)&define = dlsym(h, "ember_job_define");
    const ember_job *job = NULL;
    if (define == NULL)
        snprintf(err, errlen, "%s is not an ember job library: it exports no ember_job_define()",
                 path);
    else if (offset != 0)
        job = job_lib_at(path, *(void **)&define, offset, name, err, errlen);
    else if (job_lib_check(path, "ember_job_define()", job = define(), err, errlen) != EMBER_OK)
        job = NULL;
    if (job == NULL) {
        dlclose(h);
        return EMBER_EINVAL;
    }
    out->handle = h;
    out->job = job;
    if (job->abi == 1) { /* its struct ends before configure */
        memcpy(&out->v1, job, offsetof(ember_job, configure));
        out->job = &out->v1;
    }
    return EMBER_OK;
}

int mr_job_lib_load(const char *path, mr_job_lib *out, char *err, size_t errlen) {
    return mr_job_lib_load_at(path, 0, NULL, out, err, errlen);
}

void mr_job_lib_close(mr_job_lib *lib) {
    if (lib->handle != NULL)
        dlclose(lib->handle);
    memset(lib, 0, sizeof(*lib));
}

int mr_conf_set(mr_conf *c, const char *key, const char *value) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) {
            char *v = strdup(value);
            if (v == NULL)
                return EMBER_ENOMEM;
            free(c->values[i]);
            c->values[i] = v;
            return EMBER_OK;
        }
    char **k = realloc(c->keys, (c->n + 1) * sizeof(*k));
    if (k == NULL)
        return EMBER_ENOMEM;
    c->keys = k;
    char **v = realloc(c->values, (c->n + 1) * sizeof(*v));
    if (v == NULL)
        return EMBER_ENOMEM;
    c->values = v;
    c->keys[c->n] = strdup(key);
    c->values[c->n] = strdup(value);
    if (c->keys[c->n] == NULL || c->values[c->n] == NULL) {
        free(c->keys[c->n]);
        free(c->values[c->n]);
        return EMBER_ENOMEM;
    }
    c->n++;
    return EMBER_OK;
}

int mr_conf_set_pair(mr_conf *c, const char *pair) {
    const char *eq = strchr(pair, '=');
    if (eq == NULL || eq == pair)
        return EMBER_EINVAL;
    char key[256];
    if ((size_t)(eq - pair) >= sizeof(key))
        return EMBER_EINVAL;
    memcpy(key, pair, (size_t)(eq - pair));
    key[eq - pair] = '\0';
    return mr_conf_set(c, key, eq + 1);
}

const char *mr_conf_get(const mr_conf *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

int mr_conf_get_size(const mr_conf *c, const char *key, uint64_t dflt, uint64_t *out, char *err,
                     size_t errlen) {
    const char *v = mr_conf_get(c, key);
    if (v == NULL) {
        *out = dflt;
        return EMBER_OK;
    }
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case 't':
    case 'T':
        shift = 40;
        end++;
        break;
    default: break;
    }
    if (end == v || *end != '\0' || v[0] == '-' || (shift && n > (UINT64_MAX >> shift))) {
        snprintf(err, errlen, "%s: '%s' is not a number", key, v);
        return EMBER_ECONFIG;
    }
    *out = (uint64_t)n << shift;
    return EMBER_OK;
}

void mr_conf_free(mr_conf *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof(*c));
}
