/* cli_streaming.c -- `ember streaming`: Hadoop Streaming (hadoop jar
 * hadoop-streaming.jar), any executables as mapper, combiner and reducer.
 *
 *   ember streaming [-D KEY=VALUE]... -input IN [-input IN]... -output OUT
 *       -mapper CMD [-reducer CMD|NONE] [-combiner CMD] [-numReduceTasks N]
 *       [-file F]... [-cmdenv NAME=VALUE]... [-inputformat text|keyvalue]
 *
 * The options become the job's configuration under Hadoop's keys, as
 * StreamJob sets them (mapreduce/streaming.h lists them), and the job
 * runs as `ember jar` runs one (cli_job.h): local mode, HDFS or file://
 * paths, progress, counters, exit 0 only on success.  As in Hadoop,
 * -reducer NONE and -numReduceTasks 0 make a map-only job, no -reducer
 * the identity reduce, and -numReduceTasks overrides a -D
 * mapreduce.job.reduces.  Errors use Hadoop's words where it has them
 * ("Required argument: -input <name>", "File: F does not exist, or is not
 * readable."). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_job.h"
#include "common/error.h"
#include "mapreduce/streaming.h"

typedef struct {
    mr_conf conf;
    const char **inputs;
    int ninputs;
    const char *output, *mapper, *reducer, *combiner, *reduces, *inputformat;
    char *files;  /* -file, absolute, ','-joined (tmpfiles) */
    char *cmdenv; /* -cmdenv, ' '-joined (stream.addenvironment) */
} streaming_cmd;

static void streaming_usage(FILE *f) {
    fprintf(f,
            "Usage: ember streaming [-D KEY=VALUE]... -input <path> [-input <path>]...\n"
            "         -output <path> -mapper <cmd> [-reducer <cmd>|NONE] [-combiner <cmd>]\n"
            "         [-numReduceTasks <num>] [-file <file>]... [-cmdenv <n>=<v>]...\n"
            "         [-inputformat text|keyvalue]\n"
            "Options:\n"
            "  -input          <path> Input files, directories or globs for the Map step (HDFS\n"
            "                  paths, or file:///...). May be repeated.\n"
            "  -output         <path> Output directory for the Reduce step; must not exist.\n"
            "  -mapper         <cmd>  Command run as mapper (by /bin/sh -c, once per map task):\n"
            "                  records on its stdin, one a line; key<TAB>value lines on its\n"
            "                  stdout (a line without TAB is all key).\n"
            "  -combiner       <cmd>  Optional. Command run as combiner on each spill.\n"
            "  -reducer        <cmd>  Optional. Command run as reducer: its partition's sorted\n"
            "                  key<TAB>value lines on its stdin. NONE: map-only. Without\n"
            "                  -reducer the sorted map output is the job's output.\n"
            "  -numReduceTasks <num>  Optional. Number of reduce tasks (0: map-only).\n"
            "  -file           <file> Optional. Local file copied into each task's working\n"
            "                  directory, which comes first on the commands' PATH.\n"
            "  -cmdenv         <n>=<v> Optional. Environment variable for the commands.\n"
            "  -inputformat    text|keyvalue  Optional. text (default): the mapper reads each\n"
            "                  line; keyvalue: key<TAB>value lines, split and passed on.\n"
            "  -help           Print this help.\n"
            "The job's configuration reaches the commands as environment variables, dots\n"
            "made underscores (mapreduce_task_id, mapreduce_job_reduces, ...). Other keys:\n"
            "  -D stream.map.output.field.separator=SEP -D stream.num.map.output.key.fields=N\n"
            "  -D stream.reduce.output.field.separator=SEP -D mapreduce.task.timeout=MS\n"
            "Example:\n"
            "  ember streaming -input /in -output /out -mapper 'tr -s \" \" \"\\n\"' \\\n"
            "      -reducer 'uniq -c'\n");
}

/* Appends s to *list with sep between items. */
static int streaming_join(char **list, const char *s, char sep) {
    size_t old = *list != NULL ? strlen(*list) : 0;
    char *n = realloc(*list, old + strlen(s) + 2);
    if (n == NULL)
        return EMBER_ENOMEM;
    if (old > 0)
        n[old++] = sep;
    strcpy(n + old, s);
    *list = n;
    return EMBER_OK;
}

/* -file F: a readable regular file, recorded by its absolute path. */
static int streaming_add_file(streaming_cmd *c, const char *f) {
    char abs[PATH_MAX];
    struct stat st;
    if (realpath(f, abs) == NULL || access(abs, R_OK) != 0 || stat(abs, &st) != 0) {
        char cwd[PATH_MAX] = ".";
        if (f[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
            snprintf(cwd, sizeof(cwd), ".");
        cli_error("streaming: File: %s%s%s does not exist, or is not readable.",
                  f[0] == '/' ? "" : cwd, f[0] == '/' ? "" : "/", f);
        return EMBER_EUSAGE;
    }
    if (!S_ISREG(st.st_mode) || strchr(abs, ',') != NULL) {
        cli_error(
            "streaming: File: %s: only regular files without ',' in their path can be shipped",
            abs);
        return EMBER_EUSAGE;
    }
    return streaming_join(&c->files, abs, ',');
}

/* -cmdenv NAME=VALUE: stream.addenvironment is space-separated. */
static int streaming_add_cmdenv(streaming_cmd *c, const char *pair) {
    const char *eq = strchr(pair, '=');
    if (eq == NULL || eq == pair || strchr(pair, ' ') != NULL) {
        cli_error("streaming: -cmdenv '%s': expected NAME=VALUE without spaces "
                  "(stream.addenvironment is space-separated, as in Hadoop)",
                  pair);
        return EMBER_EUSAGE;
    }
    return streaming_join(&c->cmdenv, pair, ' ');
}

/* A single-valued option: a second one is refused, as Hadoop refuses it. */
static int streaming_once(const char **slot, const char *name, const char *value) {
    if (*slot != NULL) {
        cli_error("streaming: Can only have one %s option", name);
        return EMBER_EUSAGE;
    }
    *slot = value;
    return EMBER_OK;
}

/* One "-NAME VALUE" option (value NULL: it had none). */
static int streaming_option(streaming_cmd *c, const char *name, const char *value) {
    static const char *known[] = {"-input",          "-file",       "-cmdenv",  "-D",
                                  "-output",         "-mapper",     "-reducer", "-combiner",
                                  "-numReduceTasks", "-inputformat"};
    size_t k = 0;
    while (k < sizeof(known) / sizeof(known[0]) && strcmp(name, known[k]) != 0)
        k++;
    if (k == sizeof(known) / sizeof(known[0])) {
        cli_error("streaming: Unrecognized option: %s (see 'ember streaming -help')", name);
        return EMBER_EUSAGE;
    }
    if (value == NULL) {
        cli_error("streaming: Missing argument for option: %s", name + 1);
        return EMBER_EUSAGE;
    }
    if (strcmp(name, "-input") == 0) {
        c->inputs[c->ninputs++] = value;
        return EMBER_OK;
    }
    if (strcmp(name, "-file") == 0)
        return streaming_add_file(c, value);
    if (strcmp(name, "-cmdenv") == 0)
        return streaming_add_cmdenv(c, value);
    if (strcmp(name, "-D") == 0) {
        if (mr_conf_set_pair(&c->conf, value) == EMBER_OK)
            return EMBER_OK;
        cli_error("streaming: -D %s: expected KEY=VALUE", value);
        return EMBER_EUSAGE;
    }
    /* The single-valued ones, in known[]'s order from -output on. */
    const char **slots[] = {&c->output,   &c->mapper,  &c->reducer,
                            &c->combiner, &c->reduces, &c->inputformat};
    return streaming_once(slots[k - 4], name, value);
}

/* argv into c; 1 when help was asked for. */
static int streaming_parse(int argc, char **argv, streaming_cmd *c) {
    if ((c->inputs = calloc((size_t)argc, sizeof(char *))) == NULL)
        return EMBER_ENOMEM;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "-info"))
            return 1;
        if (strncmp(a, "-D", 2) == 0 && a[2] != '\0') {
            int rc = streaming_option(c, "-D", a + 2);
            if (rc != EMBER_OK)
                return rc;
            continue;
        }
        if (a[0] != '-') {
            cli_error("streaming: unexpected argument '%s' (see 'ember streaming -help')", a);
            return EMBER_EUSAGE;
        }
        int rc = streaming_option(c, a, i + 1 < argc ? argv[i + 1] : NULL);
        if (rc != EMBER_OK)
            return rc;
        i++;
    }
    return EMBER_OK;
}

/* The input format's name: ours, or Hadoop's class for it. */
static const char *streaming_format(const char *spec) {
    static const char *const text[] = {"text", "TextInputFormat",
                                       "org.apache.hadoop.mapred.TextInputFormat"};
    static const char *const kv[] = {"keyvalue", "KeyValueTextInputFormat",
                                     "org.apache.hadoop.mapred.KeyValueTextInputFormat"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(spec, text[i]) == 0)
            return "text";
        if (strcmp(spec, kv[i]) == 0)
            return "keyvalue";
    }
    return NULL;
}

/* The options as the job's configuration, after the -D pairs. */
static int streaming_configure(streaming_cmd *c) {
    if (c->ninputs == 0 || c->output == NULL || c->mapper == NULL) {
        cli_error("streaming: Required argument: %s (see 'ember streaming -help')",
                  c->ninputs == 0     ? "-input <name>"
                  : c->output == NULL ? "-output <path>"
                                      : "-mapper <cmd>");
        return EMBER_EUSAGE;
    }
    const char *format = c->inputformat ? streaming_format(c->inputformat) : NULL;
    if (c->inputformat != NULL && format == NULL) {
        cli_error("streaming: -inputformat : class not found : %s (text or keyvalue)",
                  c->inputformat);
        return EMBER_EUSAGE;
    }
    char *end = NULL;
    long reduces = c->reduces ? strtol(c->reduces, &end, 10) : 0;
    if (c->reduces != NULL && (end == c->reduces || *end != '\0' || reduces < 0)) {
        cli_error("streaming: -numReduceTasks: '%s' is not a number", c->reduces);
        return EMBER_EUSAGE;
    }
    int none = c->reducer != NULL && strcmp(c->reducer, "NONE") == 0;
    int rc = mr_conf_set(&c->conf, STREAMING_MAP_COMMAND, c->mapper);
    if (rc == EMBER_OK && c->reducer != NULL && !none)
        rc = mr_conf_set(&c->conf, STREAMING_REDUCE_COMMAND, c->reducer);
    if (rc == EMBER_OK && c->combiner != NULL)
        rc = mr_conf_set(&c->conf, STREAMING_COMBINE_COMMAND, c->combiner);
    if (rc == EMBER_OK && (c->reduces != NULL || none))
        rc = mr_conf_set(&c->conf, "mapreduce.job.reduces", none ? "0" : c->reduces);
    if (rc == EMBER_OK && format != NULL)
        rc = mr_conf_set(&c->conf, "ember.input.format", format);
    if (rc == EMBER_OK && c->files != NULL)
        rc = mr_conf_set(&c->conf, STREAMING_FILES, c->files);
    if (rc == EMBER_OK && c->cmdenv != NULL)
        rc = mr_conf_set(&c->conf, STREAMING_CMDENV, c->cmdenv);
    return rc;
}

static int streaming_main(cli_env *env, streaming_cmd *c) {
    mr_path *paths = calloc((size_t)c->ninputs + 1, sizeof(*paths));
    if (paths == NULL)
        return 1;
    char err[1024];
    int status = 0;
    for (int i = 0; status == 0 && i <= c->ninputs; i++)
        if (cli_job_path(env, i < c->ninputs ? c->inputs[i] : c->output, &paths[i], err,
                         sizeof(err)) != EMBER_OK) {
            cli_error("%s", err);
            status = 2;
        }
    const ember_job *job = NULL;
    if (status == 0 && streaming_job_prepare(&c->conf, &job) != EMBER_OK) {
        cli_error("streaming: out of memory");
        status = 1;
    }
    /* A child that stops reading must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (status == 0)
        status = cli_job_submit(env, job, &c->conf, paths, (size_t)c->ninputs, &paths[c->ninputs],
                                "streaming", 0);
    free(paths);
    return status;
}

int cli_streaming(cli_env *env, int argc, char **argv) {
    if (argc < 2) {
        streaming_usage(stderr);
        return 2;
    }
    streaming_cmd c = {0};
    int rc = streaming_parse(argc, argv, &c);
    if (rc == 1)
        streaming_usage(stdout);
    if (rc == EMBER_OK)
        rc = streaming_configure(&c);
    int status = rc == 1 ? 0 : rc == EMBER_EUSAGE ? 2 : rc != EMBER_OK ? 1 : 0;
    if (rc == EMBER_OK)
        status = streaming_main(env, &c);
    else if (rc == EMBER_ENOMEM)
        cli_error("streaming: out of memory");
    mr_conf_free(&c.conf);
    free(c.inputs);
    free(c.files);
    free(c.cmdenv);
    return status;
}
