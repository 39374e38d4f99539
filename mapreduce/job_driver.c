/* job_driver.c -- see job_driver.h: the ember_setup calls of the job API
 * (include/ember/mapreduce.h) and one driver run.
 *
 * A run: a setup holding a copy of the -D values -> configure (or the
 * default "IN... OUT") fills it in, maybe running other jobs through
 * ember_setup_run(), each a run of its own with its own setup -> unless
 * configure said usage, failure or done, the job runs with the setup's
 * inputs, output, configuration and generated splits -> the setup's
 * temporary paths are removed, whatever happened. */
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "job_driver.h"

#define DRIVER_HDFS_TMP "/tmp" /* temporary paths of cluster jobs with no output */

struct ember_setup {
    mr_driver *driver;
    const ember_job *job;
    mr_conf conf; /* -D values, then the job's own */
    mr_path *inputs;
    size_t ninputs;
    mr_path output;
    int has_output;
    kv_record *splits; /* generated; each key and value in one allocation */
    size_t nsplits;
    mr_path *temps;
    size_t ntemps;
    mr_counters last; /* of the last job ember_setup_run() ran */
    int reported;     /* a job it ran failed and said why */
    char usage[512];
    char *err; /* the run's: why configure failed */
    size_t errlen;
};

int ember_setup_error(ember_setup *s, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(s->err, s->errlen, format, ap);
    va_end(ap);
    return -1;
}

/* A failed call's code as the API returns it, with its reason. */
static int setup_fail(ember_setup *s, int rc, const char *what) {
    if (s->err[0] == '\0')
        ember_setup_error(s, "%s: %s", what, ember_strerror(rc));
    return -1;
}

static int setup_resolve(ember_setup *s, const char *path, mr_path *out) {
    if (path == NULL)
        return ember_setup_error(s, "no path given");
    mr_driver *d = s->driver;
    return d->resolve(d, path, out, s->err, s->errlen) == EMBER_OK ? 0 : -1;
}

int ember_setup_input(ember_setup *s, const char *path) {
    mr_path p;
    if (setup_resolve(s, path, &p) != 0)
        return -1;
    mr_path *in = realloc(s->inputs, (s->ninputs + 1) * sizeof(*in));
    if (in == NULL)
        return setup_fail(s, EMBER_ENOMEM, path);
    s->inputs = in;
    in[s->ninputs++] = p;
    return 0;
}

/* Refused at once when it exists, as Hadoop's checkOutputSpecs() does at
 * submission: before any earlier pass has run for nothing. */
int ember_setup_output(ember_setup *s, const char *path) {
    mr_path p;
    if (setup_resolve(s, path, &p) != 0)
        return -1;
    int is_dir;
    if (mr_fs_exists(s->driver->fs, &p, &is_dir) == EMBER_OK) {
        char uri[PATH_MAX + 16];
        mr_path_uri(&p, uri, sizeof(uri));
        return ember_setup_error(s, "Output directory %s already exists", uri);
    }
    s->output = p;
    s->has_output = 1;
    return 0;
}

int ember_setup_set(ember_setup *s, const char *key, const char *value) {
    if (key == NULL || key[0] == '\0' || value == NULL)
        return ember_setup_error(s, "ember_setup_set: a key and a value are needed");
    int rc = mr_conf_set(&s->conf, key, value);
    return rc == EMBER_OK ? 0 : setup_fail(s, rc, key);
}

const char *ember_setup_get(ember_setup *s, const char *key) {
    return key != NULL ? mr_conf_get(&s->conf, key) : NULL;
}

int ember_setup_add_split(ember_setup *s, const void *key, size_t key_len, const void *value,
                          size_t value_len) {
    if ((key_len > 0 && key == NULL) || (value_len > 0 && value == NULL))
        return ember_setup_error(s, "ember_setup_add_split: a length without bytes");
    kv_record *sp = realloc(s->splits, (s->nsplits + 1) * sizeof(*sp));
    uint8_t *bytes = malloc(key_len + value_len + 1);
    if (sp != NULL)
        s->splits = sp;
    if (sp == NULL || bytes == NULL) {
        free(bytes);
        return setup_fail(s, EMBER_ENOMEM, "a generated split");
    }
    if (key_len > 0)
        memcpy(bytes, key, key_len);
    if (value_len > 0)
        memcpy(bytes + key_len, value, value_len);
    sp[s->nsplits++] = (kv_record){bytes, key_len, bytes + key_len, value_len};
    return 0;
}

int ember_setup_usage(ember_setup *s, const char *arguments) {
    snprintf(s->usage, sizeof(s->usage), "%s", arguments != NULL ? arguments : "");
    return EMBER_JOB_USAGE;
}

/* Beside the output: PARENT/_BASE-ID-tempN (a leading '_' hides it from
 * input listings, as Hadoop's _temporary); else, for jobs on the cluster,
 * /tmp/ember-ID-tempN on HDFS (every task can write it), and in local mode
 * $TMPDIR/ember-ID-tempN. */
int ember_setup_temp_path(ember_setup *s, char *out, size_t len) {
    mr_driver *d = s->driver;
    mr_path *t = realloc(s->temps, (s->ntemps + 1) * sizeof(*t));
    if (t == NULL)
        return setup_fail(s, EMBER_ENOMEM, "a temporary path");
    s->temps = t;
    mr_path p = {.local = 1};
    int n;
    if (s->has_output) {
        char dir[PATH_MAX], base[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", s->output.path);
        snprintf(base, sizeof(base), "%s", s->output.path);
        p.local = s->output.local;
        n = snprintf(p.path, sizeof(p.path), "%s/_%s-%s-temp%zu", dirname(dir), basename(base),
                     d->id_prefix, s->ntemps + 1);
    } else if (d->run != NULL) { /* the cluster's tasks write it: on HDFS */
        p.local = 0;
        n = snprintf(p.path, sizeof(p.path), DRIVER_HDFS_TMP "/ember-%s-temp%zu", d->id_prefix,
                     s->ntemps + 1);
    } else {
        n = snprintf(p.path, sizeof(p.path), "%s/ember-%s-temp%zu", d->tmp_dir, d->id_prefix,
                     s->ntemps + 1);
    }
    char uri[PATH_MAX + 16];
    mr_path_uri(&p, uri, sizeof(uri));
    if (n <= 0 || (size_t)n >= sizeof(p.path) || strlen(uri) >= len)
        return ember_setup_error(s, "a temporary path for %s is too long", s->output.path);
    /* As the job will name it ("//x" for a child of "/" made "/x"). */
    if (setup_resolve(s, uri, &t[s->ntemps]) != 0)
        return -1;
    mr_path_uri(&t[s->ntemps++], out, len);
    return 0;
}

int ember_setup_run(ember_setup *s, const ember_job *job, int argc, const char *const *argv) {
    char err[1024];
    mr_counters_free(&s->last);
    int rc = mr_driver_run(s->driver, job, argc, argv, &s->last, err, sizeof(err));
    if (rc == EMBER_EUSAGE)
        return ember_setup_error(s, "job %s: bad arguments (%s)", job->name ? job->name : "", err);
    if (rc != EMBER_OK && err[0] != '\0')
        return ember_setup_error(s, "%s", err);
    s->reported |= rc != EMBER_OK;
    return rc == EMBER_OK ? 0 : -1;
}

int64_t ember_setup_counter(ember_setup *s, const char *group, const char *name) {
    return group != NULL && name != NULL ? mr_counters_get(&s->last, group, name) : 0;
}

/* The job as set up so far, for the runner. */
static mr_job_spec setup_spec(ember_setup *s) {
    return (mr_job_spec){.job = s->job,
                         .conf = &s->conf,
                         .fs = s->driver->fs,
                         .inputs = s->inputs,
                         .ninputs = s->ninputs,
                         .output = s->output,
                         .generated = s->splits,
                         .ngenerated = s->nsplits,
                         .ntemps = s->ntemps};
}

int ember_setup_sample(ember_setup *s, uint64_t max_records, uint32_t max_splits,
                       ember_record_fn fn, void *arg) {
    if (fn == NULL || max_splits == 0)
        return ember_setup_error(s, "ember_setup_sample: no function or no splits to read");
    mr_job_spec spec = setup_spec(s);
    int rc = mr_job_sample(&spec, max_records, max_splits, fn, arg, s->err, s->errlen);
    return rc == EMBER_OK ? 0 : setup_fail(s, rc, "sampling the input");
}

/* Without configure: every argument but the last is an input. */
static int driver_default_configure(ember_setup *s, int argc, const char *const *argv) {
    if (argc < 2)
        return ember_setup_usage(s, "<in> [<in>...] <out>");
    for (int i = 0; i + 1 < argc; i++)
        if (ember_setup_input(s, argv[i]) != 0)
            return -1;
    return ember_setup_output(s, argv[argc - 1]);
}

/* Runs the job as s describes it, reporting its start and end. */
static int driver_run_job(ember_setup *s, mr_counters *counters) {
    mr_driver *d = s->driver;
    if (d->run != NULL) {
        mr_job_spec spec = setup_spec(s);
        return d->run(d, &spec, &s->conf, counters);
    }
    char job_id[128], work[PATH_MAX], err[1024];
    snprintf(job_id, sizeof(job_id), "%s_%04u", d->id_prefix, ++d->jobs);
    snprintf(work, sizeof(work), "%s/ember-%s", d->tmp_dir, job_id);
    /* Hadoop's names for the job and its scratch space, for the tasks
     * (streaming passes them on to its commands). */
    if (mr_conf_set(&s->conf, "mapreduce.job.id", job_id) != EMBER_OK ||
        mr_conf_set(&s->conf, "mapreduce.job.local.dir", work) != EMBER_OK)
        return EMBER_ENOMEM;
    mr_job_spec spec = setup_spec(s);
    spec.work_dir = work;
    spec.job_id = job_id;
    spec.progress = d->on_progress;
    spec.progress_arg = d;
    if (d->on_start != NULL)
        d->on_start(d, job_id, s->job->name != NULL ? s->job->name : "");
    int rc = mr_job_run(&spec, counters, err, sizeof(err));
    if (d->on_end != NULL)
        d->on_end(d, job_id, rc, counters, err);
    return rc;
}

static void driver_free(ember_setup *s) {
    for (size_t i = 0; i < s->ntemps; i++) {
        int rc = mr_fs_delete(s->driver->fs, &s->temps[i]);
        char uri[PATH_MAX + 16];
        mr_path_uri(&s->temps[i], uri, sizeof(uri));
        if (rc != EMBER_OK) /* the job's outcome stands; say what is left */
            fprintf(stderr, "ember: cannot remove the temporary %s: %s\n", uri, ember_strerror(rc));
    }
    free(s->temps);
    for (size_t i = 0; i < s->nsplits; i++)
        free((void *)s->splits[i].key);
    free(s->splits);
    free(s->inputs);
    mr_counters_free(&s->last);
    mr_conf_free(&s->conf);
}

int mr_driver_run(mr_driver *d, const ember_job *job, int argc, const char *const *argv,
                  mr_counters *counters, char *err, size_t errlen) {
    err[0] = '\0';
    ember_setup s = {.driver = d, .job = job, .err = err, .errlen = errlen};
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < d->conf->n; i++)
        rc = mr_conf_set(&s.conf, d->conf->keys[i], d->conf->values[i]);
    int verdict = rc != EMBER_OK           ? -1
                  : job->configure != NULL ? job->configure(&s, argc, argv)
                                           : driver_default_configure(&s, argc, argv);
    mr_counters local = {0};
    if (verdict == 0 && !s.has_output)
        verdict = ember_setup_error(&s, "job %s set no output path", job->name ? job->name : "");
    if (verdict == 0) {
        rc = driver_run_job(&s, counters != NULL ? counters : &local);
        err[0] = '\0'; /* on_end said why */
    } else if (verdict == EMBER_JOB_USAGE) {
        snprintf(err, errlen, "%s", s.usage);
        rc = EMBER_EUSAGE;
    } else if (verdict != EMBER_JOB_DONE) {
        rc = rc != EMBER_OK ? rc : EMBER_EINVAL;
        if (err[0] == '\0' && !s.reported)
            snprintf(err, errlen, "the job's configure failed");
    }
    mr_counters_free(&local);
    driver_free(&s);
    return rc;
}
