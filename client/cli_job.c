/* cli_job.c -- `ember jar` and `ember run`: submit a MapReduce job.
 *
 *   ember jar LIB.so [-D KEY=VALUE]... IN... OUT
 *   ember run EXAMPLE [-D KEY=VALUE]... IN... OUT
 * `jar` loads a user's job library (include/ember/mapreduce.h); `run`
 * loads a built-in example from the examples/ directory beside the ember
 * binary (Hadoop's `hadoop jar hadoop-mapreduce-examples.jar NAME`).
 * Paths are HDFS paths ("/a", "hdfs:///a", or relative to /user/$USER)
 * unless written file:///a (a local path every node can read).
 *
 * The job runs in local mode (mapreduce.framework.name=local, Hadoop's
 * default): in this process, on the cluster's HDFS or local files.  While
 * it runs a progress line shows map and reduce completion (updated in
 * place on a terminal); at the end come the counters in Hadoop's layout
 * and the exit status: 0 only when the job succeeded. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_job.h"
#include "common/clock.h"
#include "common/error.h"
#include "ember/dfs.h"

typedef struct {
    int tty;
    int64_t start_ms;
    int last_map, last_reduce;
} job_progress;

static void job_on_progress(void *arg, double map, double reduce) {
    job_progress *p = arg;
    int m = (int)(map * 100), r = (int)(reduce * 100);
    if (m == p->last_map && r == p->last_reduce)
        return;
    p->last_map = m;
    p->last_reduce = r;
    double s = (double)(clock_monotonic_ms() - p->start_ms) / 1000.0;
    if (p->tty)
        fprintf(stderr, "\r map %3d%% reduce %3d%%  %.1f s", m, r, s);
    else
        fprintf(stderr, " map %d%% reduce %d%%\n", m, r);
}

/* "file:..." is local (relative to the working directory when not
 * absolute); anything else is resolved as an HDFS path. */
int cli_job_path(const cli_env *env, const char *arg, mr_path *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (strncmp(arg, "file:", 5) == 0) {
        const char *p = arg + 5;
        while (p[0] == '/' && p[1] == '/')
            p++;
        out->local = 1;
        char cwd[PATH_MAX];
        int n = p[0] == '/' ? snprintf(out->path, sizeof(out->path), "%s", p)
                            : snprintf(out->path, sizeof(out->path), "%s/%s",
                                       getcwd(cwd, sizeof(cwd)) ? cwd : ".", p);
        if (n <= 0 || (size_t)n >= sizeof(out->path)) {
            snprintf(err, errlen, "`%.100s': path too long", arg);
            return EMBER_EINVAL;
        }
        return EMBER_OK;
    }
    return cli_dfs_resolve(env, arg, out->path, sizeof(out->path), err, errlen);
}

/* The built-in example NAME: examples/NAME.so beside this binary. */
static int job_example_path(const char *name, char *out, size_t len) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return EMBER_EIO;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    int w = snprintf(out, len, "%s/examples/%s.so", exe, name);
    return w > 0 && (size_t)w < len && access(out, R_OK) == 0 ? EMBER_OK : EMBER_ENOENT;
}

static void job_print_counters(const mr_counters *c) {
    static const char *groups[] = {MR_GROUP_FS, MR_GROUP_JOB, MR_GROUP_TASK};
    printf("Counters: %zu\n", c->n);
    for (int g = 0; g < 4; g++) { /* the framework's groups, then the job's own */
        const char *last = NULL;
        for (size_t i = 0; i < c->n; i++) {
            int framework = 0;
            for (int k = 0; k < 3; k++)
                framework |= strcmp(c->v[i].group, groups[k]) == 0;
            if (g < 3 ? strcmp(c->v[i].group, groups[g]) != 0 : framework)
                continue;
            if (last == NULL || strcmp(last, c->v[i].group) != 0)
                printf("\t%s\n", c->v[i].group);
            last = c->v[i].group;
            printf("\t\t%s=%lld\n", c->v[i].name, (long long)c->v[i].value);
        }
    }
}

typedef struct {
    const char *what; /* "jar" or "run" */
    const char *lib;  /* LIB.so or EXAMPLE */
    mr_conf conf;
    const char **args;
    int nargs;
} job_cmd;

/* -D KEY=VALUE or -DKEY=VALUE anywhere; everything else is an argument. */
static int job_parse(int argc, char **argv, job_cmd *c) {
    c->args = calloc((size_t)argc, sizeof(char *));
    if (c->args == NULL)
        return EMBER_ENOMEM;
    for (int i = 2; i < argc; i++) {
        const char *pair = NULL;
        if (strcmp(argv[i], "-D") == 0) {
            if (i + 1 >= argc) {
                cli_error("%s: option -D needs KEY=VALUE", c->what);
                return EMBER_EUSAGE;
            }
            pair = argv[++i];
        } else if (strncmp(argv[i], "-D", 2) == 0) {
            pair = argv[i] + 2;
        } else {
            c->args[c->nargs++] = argv[i];
            continue;
        }
        if (mr_conf_set_pair(&c->conf, pair) != EMBER_OK) {
            cli_error("%s: -D %s: expected KEY=VALUE", c->what, pair);
            return EMBER_EUSAGE;
        }
    }
    return EMBER_OK;
}

/* The usage (on stdout for --help, else on stderr); returns 2. */
static int job_usage(const char *what, FILE *f) {
    if (strcmp(what, "jar") == 0)
        fprintf(f, "Usage: ember jar LIB.so [-D KEY=VALUE]... <in> [<in>...] <out>\n");
    else
        fprintf(f, "Usage: ember run EXAMPLE [-D KEY=VALUE]... <in> [<in>...] <out>\n"
                   "Valid example names are:\n"
                   "  wordcount: A map/reduce program that counts the words in the input "
                   "files.\n");
    return 2;
}

/* Connects to the cluster when a path is on HDFS. */
static int job_connect(cli_env *env, const mr_path *paths, int n, ember_dfs **dfs) {
    *dfs = NULL;
    for (int i = 0; i < n; i++)
        if (!paths[i].local) {
            char err[512];
            if (ember_dfs_connect(env->run_dir, dfs, err, sizeof(err)) != EMBER_OK) {
                cli_error("cannot reach the cluster for %s: %s", paths[i].path, err);
                return 1;
            }
            return 0;
        }
    return 0;
}

/* Runs the job of spec with the progress line, then prints the counters
 * or the error; the exit status. */
static int job_execute(mr_job_spec *spec) {
    job_progress progress = {.tty = isatty(2), .start_ms = clock_monotonic_ms(), .last_map = -1};
    spec->progress = job_on_progress;
    spec->progress_arg = &progress;
    mr_counters counters = {0};
    char err[1024];
    fprintf(stderr, "Running job: %s (%s)\n", spec->job_id, spec->job->name ? spec->job->name : "");
    int rc = mr_job_run(spec, &counters, err, sizeof(err));
    if (progress.tty && progress.last_map >= 0)
        fputc('\n', stderr);
    if (rc == EMBER_OK) {
        fprintf(stderr, "Job %s completed successfully\n", spec->job_id);
        job_print_counters(&counters);
    } else {
        cli_error("%s", err);
        fprintf(stderr, "Job %s failed\n", spec->job_id);
    }
    mr_counters_free(&counters);
    return rc == EMBER_OK ? 0 : 1;
}

int cli_job_submit(cli_env *env, const ember_job *job, mr_conf *conf, const mr_path *inputs,
                   size_t ninputs, const mr_path *output) {
    const char *framework = mr_conf_get(conf, "mapreduce.framework.name");
    if (framework != NULL && strcmp(framework, "local") != 0) {
        cli_error("mapreduce.framework.name=%s: only local is built yet (the job runs in this "
                  "process; the cluster's scheduler is to come)",
                  framework);
        return 2;
    }
    ember_dfs *dfs = NULL;
    int status = job_connect(env, inputs, (int)ninputs, &dfs);
    if (status == 0 && dfs == NULL)
        status = job_connect(env, output, 1, &dfs);
    if (status != 0)
        return status;
    char job_id[64], work[PATH_MAX];
    srand((unsigned)(time(NULL) ^ getpid()));
    snprintf(job_id, sizeof(job_id), "job_local%09d_0001", rand() % 1000000000);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(work, sizeof(work), "%s/ember-%s", tmp, job_id);
    /* Hadoop's names for the job and its scratch space, for the tasks. */
    if (mr_conf_set(conf, "mapreduce.job.id", job_id) != EMBER_OK ||
        mr_conf_set(conf, "mapreduce.job.local.dir", work) != EMBER_OK) {
        cli_error("out of memory");
        status = 1;
    }
    mr_fs fs = {.dfs = dfs};
    mr_job_spec spec = {.job = job,
                        .conf = conf,
                        .fs = &fs,
                        .inputs = inputs,
                        .ninputs = ninputs,
                        .output = *output,
                        .work_dir = work,
                        .job_id = job_id};
    if (status == 0)
        status = job_execute(&spec);
    if (dfs != NULL)
        ember_dfs_close(dfs);
    return status;
}

static int job_main(cli_env *env, job_cmd *c) {
    char libpath[PATH_MAX];
    if (strcmp(c->what, "run") == 0) {
        if (job_example_path(c->lib, libpath, sizeof(libpath)) != EMBER_OK) {
            cli_error("run: unknown example '%s' (see 'ember run' for the list)", c->lib);
            return 2;
        }
    } else {
        snprintf(libpath, sizeof(libpath), "%s", c->lib);
    }
    if (c->nargs < 2)
        return job_usage(c->what, stderr);
    mr_path *paths = calloc((size_t)c->nargs, sizeof(*paths));
    if (paths == NULL)
        return 1;
    char err[1024];
    int status = 0;
    for (int i = 0; status == 0 && i < c->nargs; i++)
        if (cli_job_path(env, c->args[i], &paths[i], err, sizeof(err)) != EMBER_OK) {
            cli_error("%s", err);
            status = 2;
        }
    mr_job_lib lib = {0};
    if (status == 0 && mr_job_lib_load(libpath, &lib, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        status = 1;
    }
    if (status == 0)
        status = cli_job_submit(env, lib.job, &c->conf, paths, (size_t)c->nargs - 1,
                                &paths[c->nargs - 1]);
    mr_job_lib_close(&lib);
    free(paths);
    return status;
}

static int cli_job(cli_env *env, const char *what, int argc, char **argv) {
    if (argc < 2)
        return job_usage(what, stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        job_usage(what, stdout);
        return 0;
    }
    job_cmd c = {.what = what, .lib = argv[1]};
    int rc = job_parse(argc, argv, &c);
    int status = rc == EMBER_OK ? job_main(env, &c) : rc == EMBER_EUSAGE ? 2 : 1;
    mr_conf_free(&c.conf);
    free(c.args);
    return status;
}

int cli_jar(cli_env *env, int argc, char **argv) { return cli_job(env, "jar", argc, argv); }

int cli_run(cli_env *env, int argc, char **argv) { return cli_job(env, "run", argc, argv); }
