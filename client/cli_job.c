/* cli_job.c -- `ember jar` and `ember run`: submit a MapReduce job.
 *
 *   ember jar LIB.so [-D KEY=VALUE]... ARGS...
 *   ember run EXAMPLE [-D KEY=VALUE]... ARGS...
 * `jar` loads a user's job library (include/ember/mapreduce.h); `run`
 * loads a built-in example from the examples/ directory beside the ember
 * binary (Hadoop's `hadoop jar hadoop-mapreduce-examples.jar NAME`).  The
 * arguments are the job's: "IN... OUT" unless its configure hook reads
 * them otherwise (mapreduce/job_driver.c).  Paths are HDFS paths ("/a",
 * "hdfs:///a", or relative to /user/$USER) unless written file:///a (a
 * local path every node can read); the cluster is reached only when a
 * path is on HDFS.
 *
 * Jobs run in local mode (mapreduce.framework.name=local, Hadoop's
 * default): in this process, on the cluster's HDFS or local files.  For
 * each job (a driver may run several) a progress line shows map and
 * reduce completion (updated in place on a terminal); at its end come the
 * counters in Hadoop's layout.  The exit status is 0 only when every job
 * succeeded. */
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
#include "mapreduce/job_driver.h"

/* The driver (first: its callbacks get &driver) and what they use. */
typedef struct {
    mr_driver driver;
    cli_env *env;
    mr_fs fs;
    int tty;
    int64_t start_ms;
    int last_map, last_reduce;
} job_ctx;

static void job_on_progress(void *arg, double map, double reduce) {
    job_ctx *p = arg;
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

/* See cli_job.h. */
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

static void job_print_counters(const mr_counters *c);

/* A path of the job's: resolved as the command line's, and the cluster
 * reached the first time one is on HDFS. */
static int job_resolve(mr_driver *d, const char *text, mr_path *out, char *err, size_t errlen) {
    job_ctx *c = (job_ctx *)d;
    int rc = cli_job_path(c->env, text, out, err, errlen);
    if (rc != EMBER_OK || out->local || c->fs.dfs != NULL)
        return rc;
    char why[512];
    if ((rc = ember_dfs_connect(c->env->run_dir, &c->fs.dfs, why, sizeof(why))) != EMBER_OK)
        snprintf(err, errlen, "cannot reach the cluster for %s: %s", out->path, why);
    return rc;
}

static void job_on_start(mr_driver *d, const char *job_id, const char *name) {
    job_ctx *c = (job_ctx *)d;
    c->start_ms = clock_monotonic_ms();
    c->last_map = c->last_reduce = -1;
    fprintf(stderr, "Running job: %s (%s)\n", job_id, name);
}

static void job_on_end(mr_driver *d, const char *job_id, int rc, const mr_counters *counters,
                       const char *err) {
    job_ctx *c = (job_ctx *)d;
    if (c->tty && c->last_map >= 0)
        fputc('\n', stderr);
    if (rc == EMBER_OK) {
        fprintf(stderr, "Job %s completed successfully\n", job_id);
        job_print_counters(counters);
        fflush(stdout);
    } else {
        cli_error("%s", err);
        fprintf(stderr, "Job %s failed\n", job_id);
    }
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
    int async; /* --async: submit, print the job id, return */
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
        } else if (strcmp(argv[i], "--async") == 0 && c->nargs == 0) {
            c->async = 1;
            continue;
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
        fprintf(f, "Usage: ember jar LIB.so [-D KEY=VALUE]... <args>...\n"
                   "  (the job's arguments: <in> [<in>...] <out> unless it reads its own)\n");
    else
        fprintf(f, "Usage: ember run EXAMPLE [-D KEY=VALUE]... <args>...\n"
                   "Valid example names are:\n"
                   "  grep: A map/reduce program that counts the matches of a regex in the input.\n"
                   "  join: A map/reduce program that joins two key<TAB>value inputs on their "
                   "keys.\n"
                   "  pi: A map/reduce program that estimates Pi using a quasi-Monte Carlo "
                   "method.\n"
                   "  sort: A map/reduce program that sorts the lines of the input.\n"
                   "  teragen: Generate data for the terasort\n"
                   "  terasort: Run the terasort\n"
                   "  teravalidate: Checking results of terasort\n"
                   "  wordcount: A map/reduce program that counts the words in the input "
                   "files.\n");
    return 2;
}

/* Where jobs run: mapreduce.framework.name says "local" (this process)
 * or "yarn" (the cluster); unset, the cluster when one is running (its
 * run directory has cluster.json), else local.  1 for the cluster, 0 for
 * local, -1 after an error line for another name. */
static int job_framework(const cli_env *env, const mr_conf *conf) {
    const char *framework = mr_conf_get(conf, "mapreduce.framework.name");
    if (framework == NULL) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/cluster.json", env->run_dir);
        return access(path, F_OK) == 0;
    }
    if (strcmp(framework, "local") == 0 || strcmp(framework, "yarn") == 0)
        return strcmp(framework, "yarn") == 0;
    cli_error("mapreduce.framework.name=%s: expected local (this process) or yarn (the cluster)",
              framework);
    return -1;
}

/* Runs job through the driver with its arguments; the exit status.  what
 * and name make the usage line of a job that refuses its arguments. */
static int job_drive(cli_env *env, mr_conf *conf, const ember_job *job, int argc,
                     const char *const *argv, const char *what, const char *name,
                     cli_job_remote *remote) {
    char prefix[64], err[1024];
    srand((unsigned)(time(NULL) ^ getpid()));
    snprintf(prefix, sizeof(prefix), "job_local%09d", rand() % 1000000000);
    job_ctx ctx = {.driver = {.resolve = job_resolve,
                              .conf = conf,
                              .tmp_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                              .id_prefix = prefix,
                              .on_start = job_on_start,
                              .on_progress = job_on_progress,
                              .on_end = job_on_end},
                   .env = env,
                   .tty = isatty(2)};
    ctx.driver.fs = &ctx.fs;
    if (remote != NULL) {
        remote->top = job;
        ctx.driver.run = cli_job_remote_run;
        ctx.driver.arg = remote;
    }
    int rc = mr_driver_run(&ctx.driver, job, argc, argv, NULL, err, sizeof(err));
    int status = 0;
    if (rc == EMBER_EUSAGE) {
        fprintf(stderr, "Usage: ember %s %s [-D KEY=VALUE]... %s\n", what, name, err);
        status = 2;
    } else if (rc != EMBER_OK) {
        if (err[0] != '\0')
            cli_error("%s", err);
        status = 1;
    }
    if (ctx.fs.dfs != NULL)
        ember_dfs_close(ctx.fs.dfs);
    if (remote != NULL && remote->client != NULL)
        ember_client_close(remote->client);
    return status;
}

/* See cli_job.h: the paths go to the driver as arguments, "IN... OUT". */
int cli_job_submit(cli_env *env, const ember_job *job, mr_conf *conf, const mr_path *inputs,
                   size_t ninputs, const mr_path *output, const char *builtin, int async) {
    int framework = job_framework(env, conf), status = framework < 0 ? 2 : 0;
    if (status != 0)
        return status;
    cli_job_remote remote = {.run_dir = env->run_dir, .builtin = builtin, .async = async};
    char (*uris)[PATH_MAX + 16] = calloc(ninputs + 1, sizeof(*uris));
    const char **argv = calloc(ninputs + 1, sizeof(*argv));
    if (uris == NULL || argv == NULL) {
        cli_error("out of memory");
        status = 1;
    }
    for (size_t i = 0; status == 0 && i <= ninputs; i++) {
        const mr_path *p = i < ninputs ? &inputs[i] : output;
        snprintf(uris[i], sizeof(uris[i]), "%s%s", p->local ? "file://" : "", p->path);
        argv[i] = uris[i];
    }
    if (status == 0)
        status = job_drive(env, conf, job, (int)ninputs + 1, argv, "streaming",
                           job->name != NULL ? job->name : "", framework ? &remote : NULL);
    free(uris);
    free(argv);
    return status;
}

static int job_main(cli_env *env, job_cmd *c) {
    int framework = job_framework(env, &c->conf), status = framework < 0 ? 2 : 0;
    if (status != 0)
        return status;
    char libpath[PATH_MAX];
    cli_job_remote remote = {.run_dir = env->run_dir, .library = libpath, .async = c->async};
    if (strcmp(c->what, "run") == 0) {
        if (job_example_path(c->lib, libpath, sizeof(libpath)) != EMBER_OK) {
            cli_error("run: unknown example '%s' (see 'ember run' for the list)", c->lib);
            return 2;
        }
    } else {
        snprintf(libpath, sizeof(libpath), "%s", c->lib);
    }
    char err[1024];
    mr_job_lib lib = {0};
    if (mr_job_lib_load(libpath, &lib, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        return 1;
    }
    status = job_drive(env, &c->conf, lib.job, c->nargs, c->args, c->what, c->lib,
                       framework ? &remote : NULL);
    mr_job_lib_close(&lib);
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
