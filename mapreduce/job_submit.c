/* job_submit.c -- see job_submit.h: splits with block locations, staging,
 * the JobDescription.
 *
 * Every string and array of the description is malloc'd here and freed by
 * mr_submit_free(), which walks what mr_submit_describe() built (fields
 * left NULL or 0 are skipped), so a description half built by a failure
 * frees the same way. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "job_submit.h"
#include "mr_reader.h"
#include "mr_split.h"

#define SUBMIT_ROOT "/tmp/ember/staging"
#define SUBMIT_FILE_REPLICATION 10 /* mapreduce.client.submit.file.replication */

static char *submit_strdup(const char *s, int *rc) {
    char *d = strdup(s != NULL ? s : "");
    if (d == NULL)
        *rc = EMBER_ENOMEM;
    return d;
}

int mr_submit_staging_dir(const char *user, const char *job_id, char *out, size_t len) {
    int n = snprintf(out, len, SUBMIT_ROOT "/%s/%s", user, job_id);
    return n > 0 && (size_t)n < len ? EMBER_OK : EMBER_EINVAL;
}

/* Copies the local file src to HDFS dst (created, not overwritten) at
 * replication `replication` (the namenode caps it to the core nodes). */
static int submit_stage_file(ember_dfs *dfs, const char *src, const char *dst, uint32_t replication,
                             char *err, size_t errlen) {
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
        return EMBER_EIO;
    }
    ember_dfs_file *f = NULL;
    ember_create_options o = {.replication = replication};
    int rc = ember_dfs_create(dfs, dst, &o, &f);
    static char buf[1 << 16];
    ssize_t n = 0;
    while (rc == EMBER_OK && (n = read(fd, buf, sizeof(buf))) > 0)
        rc = ember_dfs_write(f, buf, (size_t)n);
    if (rc == EMBER_OK && n < 0)
        rc = EMBER_EIO;
    if (f != NULL) {
        int crc = ember_dfs_close_file(f);
        rc = rc != EMBER_OK ? rc : crc;
    }
    close(fd);
    if (rc != EMBER_OK)
        snprintf(err, errlen, "cannot stage %s as %s: %s", src, dst,
                 ember_dfs_last_error(dfs)[0] ? ember_dfs_last_error(dfs) : ember_strerror(rc));
    return rc;
}

/* The staged copy of path: DIR/base name. */
static int submit_stage(ember_dfs *dfs, const char *dir, const char *path, const char *name,
                        uint32_t replication, char **staged, char *err, size_t errlen) {
    char dst[PATH_MAX];
    const char *base = name != NULL ? name : strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (snprintf(dst, sizeof(dst), "%s/%s", dir, base) >= (int)sizeof(dst)) {
        snprintf(err, errlen, "%s: path too long to stage", path);
        return EMBER_EINVAL;
    }
    int rc = submit_stage_file(dfs, path, dst, replication, err, errlen);
    if (rc == EMBER_OK)
        *staged = submit_strdup(dst, &rc);
    return rc;
}

/* The files of every input, with each file's input index and, on HDFS,
 * its block locations (hosts are rank numbers as text: mr_split then
 * names the ranks of a split's main block). */
typedef struct {
    mr_file *files;
    size_t nfiles;
    size_t *input;
    ember_block_location **blocks; /* per file; NULL for local files */
    size_t *nblocks;
    mr_block **mr_blocks;
    char ***host_text; /* per file, per block: rank strings */
} submit_inputs;

static void submit_inputs_free(submit_inputs *in) {
    for (size_t f = 0; f < in->nfiles; f++) {
        for (size_t b = 0; in->host_text != NULL && in->host_text[f] != NULL && b < in->nblocks[f];
             b++)
            free(in->host_text[f][b]);
        if (in->host_text != NULL)
            free(in->host_text[f]);
        if (in->mr_blocks != NULL)
            free(in->mr_blocks[f]);
        if (in->blocks != NULL)
            free(in->blocks[f]);
    }
    free(in->host_text);
    free(in->mr_blocks);
    free(in->blocks);
    free(in->nblocks);
    free(in->input);
    free(in->files);
}

/* Block locations of file f as mr_blocks whose hosts are rank numbers. */
static int submit_file_blocks(ember_dfs *dfs, submit_inputs *in, size_t f) {
    int rc = ember_dfs_block_locations(dfs, in->files[f].path.path, &in->blocks[f], &in->nblocks[f]);
    if (rc != EMBER_OK)
        return rc;
    size_t n = in->nblocks[f];
    in->mr_blocks[f] = calloc(n ? n : 1, sizeof(mr_block));
    in->host_text[f] = calloc(n ? n : 1, sizeof(char *));
    if (in->mr_blocks[f] == NULL || in->host_text[f] == NULL)
        return EMBER_ENOMEM;
    for (size_t b = 0; b < n; b++) {
        const ember_block_location *l = &in->blocks[f][b];
        /* One allocation: the pointer array, then "rank\0" strings. */
        char **hosts = malloc(16 * sizeof(char *) + 16 * 12);
        if (hosts == NULL)
            return EMBER_ENOMEM;
        in->host_text[f][b] = (char *)hosts;
        char *text = (char *)(hosts + 16);
        int good = l->nreplicas < 16 ? l->nreplicas : 16;
        for (int r = 0; r < good; r++) {
            hosts[r] = text + r * 12;
            snprintf(hosts[r], 12, "%d", l->ranks[r]);
        }
        in->mr_blocks[f][b] = (mr_block){.offset = l->offset,
                                         .length = l->length,
                                         .hosts = (const char *const *)hosts,
                                         .host_count = (size_t)good};
    }
    return EMBER_OK;
}

static int submit_expand(const mr_job_spec *spec, submit_inputs *in, char *err, size_t errlen) {
    int rc = EMBER_OK;
    for (size_t i = 0; rc == EMBER_OK && i < spec->ninputs; i++) {
        size_t first = in->nfiles;
        rc = mr_fs_expand(spec->fs, &spec->inputs[i], &in->files, &in->nfiles, err, errlen);
        size_t *idx = rc == EMBER_OK ? realloc(in->input, (in->nfiles + 1) * sizeof(*idx)) : NULL;
        if (rc == EMBER_OK && idx == NULL)
            rc = EMBER_ENOMEM;
        for (size_t f = first; rc == EMBER_OK && f < in->nfiles; f++)
            idx[f] = i;
        if (idx != NULL)
            in->input = idx;
    }
    size_t n = in->nfiles ? in->nfiles : 1;
    if (rc == EMBER_OK && ((in->blocks = calloc(n, sizeof(*in->blocks))) == NULL ||
                           (in->nblocks = calloc(n, sizeof(size_t))) == NULL ||
                           (in->mr_blocks = calloc(n, sizeof(mr_block *))) == NULL ||
                           (in->host_text = calloc(n, sizeof(char **))) == NULL))
        rc = EMBER_ENOMEM;
    for (size_t f = 0; rc == EMBER_OK && f < in->nfiles; f++)
        if (!in->files[f].path.local && in->files[f].size > 0 &&
            (rc = submit_file_blocks(spec->fs->dfs, in, f)) != EMBER_OK)
            snprintf(err, errlen, "cannot locate the blocks of %s: %s", in->files[f].path.path,
                     ember_dfs_last_error(spec->fs->dfs));
    return rc;
}

/* The file's block holding offset, or NULL. */
static const ember_block_location *submit_block_at(const submit_inputs *in, size_t f,
                                                   uint64_t offset) {
    for (size_t b = 0; in->blocks[f] != NULL && b < in->nblocks[f]; b++)
        if (offset >= in->blocks[f][b].offset &&
            offset < in->blocks[f][b].offset + in->blocks[f][b].length)
            return &in->blocks[f][b];
    return NULL;
}

/* A host name from "host:port". */
static char *submit_host(const char *hostport, int *rc) {
    char *h = submit_strdup(hostport, rc);
    char *colon = h != NULL ? strrchr(h, ':') : NULL;
    if (colon != NULL)
        *colon = '\0';
    return h;
}

static int submit_split(const submit_inputs *in, const mr_split *sp, Split *out) {
    int rc = EMBER_OK;
    out->chunks = calloc(sp->chunk_count ? sp->chunk_count : 1, sizeof(SplitChunk *));
    if (out->chunks == NULL)
        return EMBER_ENOMEM;
    for (size_t c = 0; rc == EMBER_OK && c < sp->chunk_count; c++) {
        const mr_chunk *ch = &sp->chunks[c];
        SplitChunk *sc = malloc(sizeof(*sc));
        if (sc == NULL)
            return EMBER_ENOMEM;
        split_chunk__init(sc);
        out->chunks[out->n_chunks++] = sc;
        char uri[PATH_MAX + 16];
        snprintf(uri, sizeof(uri), "%s%s", in->files[ch->file].path.local ? "file://" : "",
                 ch->path);
        sc->uri = submit_strdup(uri, &rc);
        sc->offset = ch->offset;
        sc->length = ch->length;
        sc->file_index = (uint32_t)in->input[ch->file];
    }
    out->length = sp->length;
    size_t nh = sp->host_count;
    out->ranks = calloc(nh ? nh : 1, sizeof(uint32_t));
    out->hosts = calloc(nh ? nh : 1, sizeof(char *));
    if (out->ranks == NULL || out->hosts == NULL)
        return EMBER_ENOMEM;
    /* The main block: the one at the first chunk's start (a plain split
     * is one block's range; a combined one is packed by host). */
    const ember_block_location *main =
        sp->chunk_count > 0 ? submit_block_at(in, sp->chunks[0].file, sp->chunks[0].offset) : NULL;
    out->block_id = main != NULL ? main->block_id : 0;
    for (size_t h = 0; rc == EMBER_OK && h < nh; h++) {
        int rank = atoi(sp->hosts[h]);
        out->ranks[out->n_ranks++] = (uint32_t)rank;
        const char *name = sp->hosts[h];
        for (int r = 0; main != NULL && r < main->nreplicas; r++)
            if (main->ranks[r] == rank)
                name = main->hosts[r];
        out->hosts[out->n_hosts++] = submit_host(name, &rc);
    }
    return rc;
}

static int submit_splits(const mr_submit_spec *s, JobDescription *d, char *err, size_t errlen) {
    const mr_job_spec *spec = s->spec;
    if (spec->ngenerated > 0 && spec->ninputs > 0) {
        snprintf(err, errlen, "a job with generated splits reads no input paths");
        return EMBER_EINVAL;
    }
    if (spec->ngenerated > 0) {
        d->splits = calloc(spec->ngenerated, sizeof(Split *));
        if (d->splits == NULL)
            return EMBER_ENOMEM;
        for (size_t i = 0; i < spec->ngenerated; i++) {
            Split *sp = malloc(sizeof(*sp));
            if (sp == NULL)
                return EMBER_ENOMEM;
            split__init(sp);
            d->splits[d->n_splits++] = sp;
            const kv_record *r = &spec->generated[i];
            sp->generated = 1;
            sp->record_key.data = malloc(r->key_len + 1);
            sp->record_value.data = malloc(r->value_len + 1);
            if (sp->record_key.data == NULL || sp->record_value.data == NULL)
                return EMBER_ENOMEM;
            memcpy(sp->record_key.data, r->key, r->key_len);
            memcpy(sp->record_value.data, r->value, r->value_len);
            sp->record_key.len = r->key_len;
            sp->record_value.len = r->value_len;
        }
        return EMBER_OK;
    }
    submit_inputs in = {0};
    int rc = submit_expand(spec, &in, err, errlen);
    mr_input_file *files = rc == EMBER_OK ? calloc(in.nfiles ? in.nfiles : 1, sizeof(*files)) : NULL;
    if (rc == EMBER_OK && files == NULL)
        rc = EMBER_ENOMEM;
    const char *format = mr_conf_get(spec->conf, "ember.input.format");
    mr_reader_options ro = {.format = format != NULL && strcmp(format, "wholefile") == 0
                                          ? MR_FORMAT_WHOLE_FILE
                                          : MR_FORMAT_TEXT};
    for (size_t f = 0; rc == EMBER_OK && f < in.nfiles; f++)
        files[f] = (mr_input_file){.path = in.files[f].path.path,
                                   .size = in.files[f].size,
                                   .block_size = in.files[f].block_size,
                                   .splittable = mr_reader_splittable(&ro, in.files[f].path.path),
                                   .blocks = in.mr_blocks[f],
                                   .block_count = in.mr_blocks[f] != NULL ? in.nblocks[f] : 0};
    mr_split_options so = {.combine = 1}; /* many small files make few tasks */
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(spec->conf, "mapreduce.input.fileinputformat.split.minsize", 0,
                              &so.min_size, err, errlen);
    if (rc == EMBER_OK)
        rc = mr_conf_get_size(spec->conf, "mapreduce.input.fileinputformat.split.maxsize", 0,
                              &so.max_size, err, errlen);
    mr_split_list list = {0};
    if (rc == EMBER_OK && (rc = mr_split_compute(files, in.nfiles, &so, &list)) != EMBER_OK)
        snprintf(err, errlen, "cannot compute the input splits: %s", ember_strerror(rc));
    if (rc == EMBER_OK && (d->splits = calloc(list.count ? list.count : 1, sizeof(Split *))) == NULL)
        rc = EMBER_ENOMEM;
    for (size_t i = 0; rc == EMBER_OK && i < list.count; i++) {
        Split *sp = malloc(sizeof(*sp));
        if (sp == NULL) {
            rc = EMBER_ENOMEM;
            break;
        }
        split__init(sp);
        d->splits[d->n_splits++] = sp;
        rc = submit_split(&in, &list.splits[i], sp);
    }
    mr_split_list_free(&list);
    free(files);
    submit_inputs_free(&in);
    return rc;
}

/* Every configuration pair, then what the cluster must know of the job
 * (its name, and where its struct is in its library). */
static int submit_conf(const mr_submit_spec *s, JobDescription *d) {
    const mr_conf *c = s->spec->conf;
    d->conf = calloc(c->n + 2, sizeof(ConfPair *));
    if (d->conf == NULL)
        return EMBER_ENOMEM;
    int rc = EMBER_OK;
    char offset[32];
    snprintf(offset, sizeof(offset), "%llu", (unsigned long long)s->job_offset);
    const char *name = s->spec->job->name != NULL ? s->spec->job->name : "";
    for (size_t i = 0; rc == EMBER_OK && i < c->n + 2; i++) {
        const char *k = i < c->n ? c->keys[i] : i == c->n ? "ember.job.name" : "ember.job.offset";
        const char *v = i < c->n ? c->values[i] : i == c->n ? name : offset;
        if (i >= c->n && mr_conf_get(c, k) != NULL)
            continue;
        ConfPair *p = malloc(sizeof(*p));
        if (p == NULL)
            return EMBER_ENOMEM;
        conf_pair__init(p);
        d->conf[d->n_conf++] = p;
        p->key = submit_strdup(k, &rc);
        p->value = submit_strdup(v, &rc);
    }
    return rc;
}

/* A container size from the configuration, as Hadoop's keys say. */
static int submit_sizes(const mr_conf *c, JobDescription *d, char *err, size_t errlen) {
    uint64_t v[5];
    static const char *keys[] = {"mapreduce.map.cpu.vcores", "mapreduce.map.memory.mb",
                                 "mapreduce.reduce.cpu.vcores", "mapreduce.reduce.memory.mb",
                                 "mapreduce.job.reduces"};
    static const uint64_t dflt[] = {1, 1024, 1, 1024, 1};
    for (int i = 0; i < 5; i++) {
        int rc = mr_conf_get_size(c, keys[i], dflt[i], &v[i], err, errlen);
        if (rc != EMBER_OK)
            return rc;
        if ((i != 4 && (v[i] == 0 || v[i] > UINT32_MAX)) || (i == 4 && v[i] > 100000)) {
            snprintf(err, errlen, "%s: %llu is out of range", keys[i], (unsigned long long)v[i]);
            return EMBER_ECONFIG;
        }
    }
    d->map_vcores = (uint32_t)v[0];
    d->map_memory_mb = v[1];
    d->reduce_vcores = (uint32_t)v[2];
    d->reduce_memory_mb = v[3];
    d->reduces = (uint32_t)v[4];
    return EMBER_OK;
}

static int submit_stage_all(const mr_submit_spec *s, JobDescription *d, char *err,
                            size_t errlen) {
    ember_dfs *dfs = s->spec->fs->dfs;
    char dir[PATH_MAX];
    /* Every attempt copies the job's files from here: as Hadoop's
     * mapreduce.client.submit.file.replication (10), many replicas, so
     * that losing a node loses none of them. */
    uint64_t repl = 0;
    int rc = mr_conf_get_size(s->spec->conf, "mapreduce.client.submit.file.replication",
                              SUBMIT_FILE_REPLICATION, &repl, err, errlen);
    if (rc == EMBER_OK && (repl == 0 || repl > UINT16_MAX)) {
        snprintf(err, errlen, "mapreduce.client.submit.file.replication: %llu is out of range",
                 (unsigned long long)repl);
        rc = EMBER_ECONFIG;
    }
    if (rc == EMBER_OK)
        rc = mr_submit_staging_dir(s->user, s->job_id, dir, sizeof(dir));
    if (rc == EMBER_OK && (rc = ember_dfs_mkdirs(dfs, dir, 0700, 1)) != EMBER_OK)
        snprintf(err, errlen, "cannot create the staging directory %s: %s", dir,
                 ember_dfs_last_error(dfs));
    if (rc == EMBER_OK)
        d->staging_dir = submit_strdup(dir, &rc);
    if (rc == EMBER_OK && strncmp(s->library, MR_BUILTIN_PREFIX, strlen(MR_BUILTIN_PREFIX)) == 0)
        d->library = submit_strdup(s->library, &rc);
    else if (rc == EMBER_OK)
        rc = submit_stage(dfs, dir, s->library, "job.so", (uint32_t)repl, &d->library, err,
                          errlen);
    if (rc == EMBER_OK && (d->files = calloc(s->nfiles + 1, sizeof(char *))) == NULL)
        rc = EMBER_ENOMEM;
    for (size_t i = 0; rc == EMBER_OK && i < s->nfiles; i++) {
        rc = submit_stage(dfs, dir, s->files[i], NULL, (uint32_t)repl, &d->files[d->n_files], err,
                          errlen);
        d->n_files += rc == EMBER_OK;
    }
    return rc;
}

int mr_submit_describe(const mr_submit_spec *s, JobDescription **out, char *err, size_t errlen) {
    err[0] = '\0';
    JobDescription *d = malloc(sizeof(*d));
    *out = d;
    if (d == NULL)
        return EMBER_ENOMEM;
    job_description__init(d);
    const mr_job_spec *spec = s->spec;
    int rc = EMBER_OK, is_dir;
    char uri[PATH_MAX + 16];
    mr_path_uri(&spec->output, uri, sizeof(uri));
    if (mr_fs_exists(spec->fs, &spec->output, &is_dir) == EMBER_OK) {
        snprintf(err, errlen, "Output directory %s already exists", uri);
        return EMBER_EEXIST;
    }
    const char *queue = mr_conf_get(spec->conf, "mapreduce.job.queuename");
    d->job_id = submit_strdup(s->job_id, &rc);
    d->name = submit_strdup(spec->job->name, &rc);
    d->queue = submit_strdup(queue != NULL ? queue : "default", &rc);
    d->user = submit_strdup(s->user, &rc);
    snprintf(uri, sizeof(uri), "%s%s", spec->output.local ? "file://" : "", spec->output.path);
    d->output = submit_strdup(uri, &rc);
    if (rc == EMBER_OK)
        rc = submit_sizes(spec->conf, d, err, errlen);
    if (rc == EMBER_OK)
        rc = submit_conf(s, d);
    if (rc == EMBER_OK)
        rc = submit_splits(s, d, err, errlen);
    if (rc == EMBER_OK)
        rc = submit_stage_all(s, d, err, errlen);
    if (rc != EMBER_OK && err[0] == '\0')
        snprintf(err, errlen, "cannot submit the job: %s", ember_strerror(rc));
    return rc;
}

void mr_submit_free(JobDescription *d) {
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_splits; i++) {
        Split *sp = d->splits[i];
        for (size_t c = 0; c < sp->n_chunks; c++) {
            free(sp->chunks[c]->uri);
            free(sp->chunks[c]);
        }
        for (size_t h = 0; h < sp->n_hosts; h++)
            free(sp->hosts[h]);
        free(sp->chunks);
        free(sp->hosts);
        free(sp->ranks);
        free(sp->record_key.data);
        free(sp->record_value.data);
        free(sp);
    }
    free(d->splits);
    for (size_t i = 0; i < d->n_conf; i++) {
        free(d->conf[i]->key);
        free(d->conf[i]->value);
        free(d->conf[i]);
    }
    free(d->conf);
    for (size_t i = 0; i < d->n_files; i++)
        free(d->files[i]);
    free(d->files);
    char **strings[] = {&d->job_id, &d->name,   &d->user,       &d->queue,
                        &d->library, &d->output, &d->staging_dir};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (*strings[i] != protobuf_c_empty_string)
            free(*strings[i]);
    free(d);
}
