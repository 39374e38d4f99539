/* make_corpus_files.c -- the seed corpora of the fuzz targets that read
 * files: edit_log, block_meta, cluster_info, config and ifile
 * (make_corpus.c writes frame's).  Valid inputs come from the code that writes them in
 * the product (edit_log_append(), edit_log_checkpoint(),
 * run_dir_write_info(), config_write()), broken ones are cut or altered
 * from those.
 *
 *   make_corpus NAME DIR     (NAME: edit_log, block_meta, cluster_info, config, ifile)
 * Run by hand when a format changes; the seeds are committed under
 * tests/fuzz/corpus/NAME/. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checksum.h"
#include "common/config.h"
#include "common/error.h"
#include "common/run_dir.h"
#include "datanode/block_store.h"
#include "fuzz_files.h"
#include "make_corpus.h"
#include "mapreduce/ifile.h"
#include "namenode/edit_log.h"

static const char *seed_dir;

/* Opens seed NAME for writing, its first byte flags. */
static FILE *seed_open(const char *name, uint8_t flags) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", seed_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputc(flags, f);
    return f;
}

static void seed_text(const char *name, uint8_t flags, const char *text) {
    FILE *f = seed_open(name, flags);
    fputs(text, f);
    fclose(f);
}

/* The whole of file path (malloc'd). */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- edit_log ---------------------------------------------------------------- */

/* Writes the name directory dir as container seed NAME: every fsimage_ and
 * edits_ file; cut bytes off the end of the newest segment when cut > 0,
 * flip byte flip (counted from the segment's start) when flip > 0. */
static void edit_log_seed(const char *name, uint8_t flags, const char *dir, size_t cut,
                          size_t flip) {
    FILE *f = seed_open(name, flags);
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t newest = 0;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "edits_", 6) == 0 && strtoull(e->d_name + 6, NULL, 10) > newest)
            newest = strtoull(e->d_name + 6, NULL, 10);
    rewinddir(d);
    while (d != NULL && (e = readdir(d)) != NULL) {
        int image = strncmp(e->d_name, "fsimage_", 8) == 0;
        if (!image && strncmp(e->d_name, "edits_", 6) != 0)
            continue;
        if (strchr(e->d_name, '.') != NULL)
            continue; /* a temporary file */
        uint64_t number = strtoull(e->d_name + (image ? 8 : 6), NULL, 10);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *buf = slurp(path, &len);
        if (!image && number == newest) {
            len = cut < len ? len - cut : 0;
            if (flip > 0 && flip < len)
                buf[flip] ^= 0x40;
        }
        fuzz_put_file(f, image, number, buf, len);
        free(buf);
    }
    if (d != NULL)
        closedir(d);
    fclose(f);
}

static void append_or_die(edit_log *log, EditRecord *rec) {
    if (edit_log_append(log, rec, NULL) != EMBER_OK)
        exit(1);
}

static void append_mkdirs(edit_log *log, const char *path) {
    EditMkdirs mk = EDIT_MKDIRS__INIT;
    mk.path = (char *)path;
    mk.owner = "root";
    mk.group = "supergroup";
    mk.mode = 0755;
    mk.create_parents = 1;
    EditRecord rec = EDIT_RECORD__INIT;
    rec.time_ms = 1700000000000;
    rec.op_case = EDIT_RECORD__OP_MKDIRS;
    rec.mkdirs = &mk;
    append_or_die(log, &rec);
}

/* A file written with one block and closed, as the namenode logs it. */
static void append_file(edit_log *log, const char *path, uint64_t block) {
    EditCreate cr = EDIT_CREATE__INIT;
    cr.path = (char *)path;
    cr.owner = "alice";
    cr.group = "staff";
    cr.mode = 0644;
    cr.replication = 3;
    cr.block_size = 1048576;
    cr.under_construction = 1;
    cr.client_name = "DFSClient_NONMAPREDUCE_1_2";
    EditRecord rec = EDIT_RECORD__INIT;
    rec.time_ms = 1700000000001;
    rec.op_case = EDIT_RECORD__OP_CREATE;
    rec.create = &cr;
    EditAddBlock ab = EDIT_ADD_BLOCK__INIT;
    ab.path = (char *)path;
    ab.block_id = block;
    ab.gen_stamp = 1001;
    EditComplete co = EDIT_COMPLETE__INIT;
    co.path = (char *)path;
    co.last_block_id = block;
    co.last_length = 700;
    co.file_length = 700;
    EditRename rn = EDIT_RENAME__INIT;
    rn.src = (char *)path;
    rn.dst = "/renamed";
    append_or_die(log, &rec);
    rec.op_case = EDIT_RECORD__OP_ADD_BLOCK;
    rec.add_block = &ab;
    append_or_die(log, &rec);
    rec.op_case = EDIT_RECORD__OP_COMPLETE;
    rec.complete = &co;
    append_or_die(log, &rec);
    rec.op_case = EDIT_RECORD__OP_RENAME;
    rec.rename = &rn;
    append_or_die(log, &rec);
}

static void corpus_edit_log(void) {
    char dir[] = "/tmp/ember-corpus.XXXXXX";
    if (mkdtemp(dir) == NULL)
        exit(1);
    uint64_t last;
    char err[256];
    edit_log *log;
    if (edit_log_recover(dir, NULL, NULL, NULL, &last, err, sizeof err) != EMBER_OK ||
        edit_log_open(dir, last, &log) != EMBER_OK)
        exit(1);
    append_mkdirs(log, "/user/alice");
    append_file(log, "/user/alice/a.txt", 1073741825);
    edit_log_sync(log);
    edit_log_seed("segment", 0, dir, 0, 0);
    edit_log_seed("segment_fix_crcs", 1, dir, 0, 0);
    edit_log_seed("segment_torn_tail", 0, dir, 5, 0);
    edit_log_seed("segment_torn_header", 0, dir, 20, 0);
    edit_log_seed("segment_flipped", 0, dir, 0, 30);
    edit_log_seed("segment_flipped_fixed", 1, dir, 0, 30);

    /* A checkpoint, then more records in the next segment. */
    ImageInode root = IMAGE_INODE__INIT, home = IMAGE_INODE__INIT, file = IMAGE_INODE__INIT;
    root.path = "/";
    root.is_dir = 1;
    root.owner = "root";
    root.group = "supergroup";
    root.mode = 0755;
    home.path = "/user";
    home.is_dir = 1;
    home.owner = "root";
    home.group = "supergroup";
    home.mode = 0755;
    ImageBlock blk = IMAGE_BLOCK__INIT;
    blk.block_id = 1073741825;
    blk.gen_stamp = 1001;
    blk.length = 700;
    blk.complete = 1;
    ImageBlock *blks[1] = {&blk};
    file.path = "/renamed";
    file.owner = "alice";
    file.group = "staff";
    file.mode = 0644;
    file.replication = 3;
    file.block_size = 1048576;
    file.length = 700;
    file.n_blocks = 1;
    file.blocks = blks;
    ImageInode *inodes[3] = {&root, &home, &file};
    NodeAdminState adm = NODE_ADMIN_STATE__INIT;
    adm.rank = 2;
    adm.state = 1;
    NodeAdminState *adms[1] = {&adm};
    FsImage img = FS_IMAGE__INIT;
    img.last_txid = edit_log_last_txid(log);
    img.n_inodes = 3;
    img.inodes = inodes;
    img.last_block_id = 1073741825;
    img.last_gen_stamp = 1001;
    img.n_admin_states = 1;
    img.admin_states = adms;
    if (edit_log_checkpoint(log, &img) != EMBER_OK)
        exit(1);
    append_mkdirs(log, "/tmp");
    append_mkdirs(log, "/user/bob");
    edit_log_close(log);
    edit_log_seed("image_and_segment", 0, dir, 0, 0);
    edit_log_seed("image_and_segment_fix_crcs", 1, dir, 0, 0);
    edit_log_seed("image_and_torn_segment", 0, dir, 3, 0);
    fuzz_empty_dir(dir);
    rmdir(dir);

    /* Broken by hand: a bad magic, a zero-length frame, a txid gap
     * (segments 1 and 5), an image with no segment after it. */
    FILE *f = seed_open("bad_magic", 0);
    fuzz_put_file(f, 0, 1, "EMBRXXX1\0\0\0\0\0\0\0\0", 16);
    fclose(f);
    f = seed_open("zero_frame", 1);
    fuzz_put_file(f, 0, 1, "EMBREDT1\0\0\0\0\0\0\0\0", 16);
    fclose(f);
    static const uint8_t rec1[] = {0x08, 0x01}, rec5[] = {0x08, 0x05};
    uint8_t seg1[8 + 8 + 2], seg5[8 + 8 + 2];
    memcpy(seg1, "EMBREDT1\0\0\0\x02\0\0\0\0", 16);
    memcpy(seg1 + 16, rec1, 2);
    memcpy(seg5, seg1, 16);
    memcpy(seg5 + 16, rec5, 2);
    f = seed_open("txid_gap", 1);
    fuzz_put_file(f, 0, 1, seg1, sizeof seg1);
    fuzz_put_file(f, 0, 5, seg5, sizeof seg5);
    fclose(f);
    f = seed_open("lone_image", 1);
    fuzz_put_file(f, 1, 7, "EMBRIMG1\0\0\0\x02\0\0\0\0\x08\x07", 18);
    fclose(f);
}

/* ---- block_meta ------------------------------------------------------------ */

/* A meta file of data: the store's header and the CRC of every chunk, the
 * last ncut CRCs left out.  *len gets its size; malloc'd. */
static uint8_t *meta_of(const uint8_t *data, size_t len, size_t ncut, size_t *out_len) {
    size_t chunks = (len + BLOCK_CHUNK_SIZE - 1) / BLOCK_CHUNK_SIZE;
    chunks = ncut < chunks ? chunks - ncut : 0;
    uint8_t *m = malloc(16 + 4 * chunks);
    if (m == NULL)
        exit(1);
    memcpy(m, "EMBRMETA\0\x01\0\x01\0\0\x02\0", 16);
    for (size_t k = 0; k < chunks; k++) {
        size_t n = len - k * BLOCK_CHUNK_SIZE < BLOCK_CHUNK_SIZE ? len - k * BLOCK_CHUNK_SIZE
                                                                 : BLOCK_CHUNK_SIZE;
        uint32_t c = crc32c(0, data + k * BLOCK_CHUNK_SIZE, n);
        m[16 + 4 * k] = (uint8_t)(c >> 24);
        m[17 + 4 * k] = (uint8_t)(c >> 16);
        m[18 + 4 * k] = (uint8_t)(c >> 8);
        m[19 + 4 * k] = (uint8_t)c;
    }
    *out_len = 16 + 4 * chunks;
    return m;
}

/* One replica (kind bits 1-2: slot) as seed NAME: its data, and its meta
 * under gen stamp 1001 with edit applied to the meta first. */
static void block_seed(const char *name, uint8_t flags, size_t len, size_t ncut,
                       void (*edit)(uint8_t *meta, size_t *len)) {
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    size_t mlen;
    uint8_t *meta = meta_of(data, len, ncut, &mlen);
    if (edit != NULL)
        edit(meta, &mlen);
    FILE *f = seed_open(name, flags);
    fuzz_put_file(f, 0, 0, data, len);
    fuzz_put_file(f, 1, 1001, meta, mlen);
    fclose(f);
    free(meta);
}

static void bad_magic(uint8_t *m, size_t *len) {
    (void)len;
    m[3] = 'X';
}
static void bad_chunk_size(uint8_t *m, size_t *len) {
    (void)len;
    m[14] = 0x04; /* 1024 */
}
static void bad_version(uint8_t *m, size_t *len) {
    (void)len;
    m[9] = 2;
}
static void short_header(uint8_t *m, size_t *len) {
    (void)m;
    *len = 10;
}
static void torn_crc(uint8_t *m, size_t *len) {
    (void)m;
    *len -= 2; /* half a CRC at the end */
}
static void flipped_crc(uint8_t *m, size_t *len) { m[*len - 1] ^= 1; }

static void corpus_block_meta(void) {
    block_seed("finalized", 0, 1300, 0, NULL);
    block_seed("finalized_good", 2, 1300, 0, NULL);
    block_seed("finalized_aligned", 0, 1024, 0, NULL);
    block_seed("finalized_empty", 0, 0, 0, NULL);
    block_seed("finalized_bad_magic", 0, 1300, 0, bad_magic);
    block_seed("finalized_bad_chunk_size", 0, 1300, 0, bad_chunk_size);
    block_seed("finalized_bad_version", 0, 1300, 0, bad_version);
    block_seed("finalized_short_header", 0, 1300, 0, short_header);
    block_seed("finalized_flipped_crc", 0, 1300, 0, flipped_crc);
    block_seed("finalized_missing_crc", 0, 1300, 1, NULL);
    block_seed("rbw", 1, 2900, 0, NULL);
    block_seed("rbw_good", 3, 2900, 0, NULL);
    block_seed("rbw_torn_meta", 1, 2900, 2, torn_crc);
    block_seed("rbw_flipped_crc", 1, 2900, 0, flipped_crc);
    block_seed("rbw_bad_magic", 1, 2900, 0, bad_magic);
    block_seed("rbw_short_header", 1, 100, 0, short_header);
    /* A data file alone, a meta alone, two metas of one block. */
    FILE *f = seed_open("data_alone", 1);
    fuzz_put_file(f, 0, 0, "data without its meta", 21);
    fclose(f);
    f = seed_open("meta_alone", 0);
    fuzz_put_file(f, 1, 1001, "EMBRMETA\0\x01\0\x01\0\0\x02\0", 16);
    fclose(f);
    f = seed_open("two_metas", 0);
    fuzz_put_file(f, 0, 0, "", 0);
    fuzz_put_file(f, 1, 1001, "EMBRMETA\0\x01\0\x01\0\0\x02\0", 16);
    fuzz_put_file(f, 1, 1002, "EMBRMETA\0\x01\0\x01\0\0\x02\0", 16);
    fclose(f);
}

/* ---- cluster_info ---------------------------------------------------------- */

static void info_seed(const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", seed_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        exit(1);
    fputs(text, f);
    fclose(f);
}

static void corpus_cluster_info(void) {
    char dir[] = "/tmp/ember-corpus.XXXXXX";
    if (mkdtemp(dir) == NULL)
        exit(1);
    cluster_info info = {.cluster_id = "CID-0011223344556677",
                         .host = "127.0.0.1",
                         .port = 40123,
                         .secret = "3f1c2a7e9b0d4c5a6e8f1029384756ab",
                         .started_ms = 1700000000000,
                         .world_size = 4,
                         .primary_pid = 4242};
    if (run_dir_write_info(dir, &info) != EMBER_OK)
        exit(1);
    char path[4096];
    snprintf(path, sizeof path, "%s/cluster.json", dir);
    size_t len;
    uint8_t *text = slurp(path, &len);
    unlink(path);
    rmdir(dir);
    char *valid = malloc(len + 1);
    memcpy(valid, text, len);
    valid[len] = '\0';
    free(text);
    info_seed("valid", valid);
    info_seed("truncated", "{\"cluster_id\": \"CID-1\", \"host\": \"127.0.0.1\", \"por");
    info_seed("no_secret", "{\"cluster_id\":\"CID-1\",\"host\":\"127.0.0.1\",\"port\":1}");
    info_seed("empty_secret",
              "{\"cluster_id\":\"CID-1\",\"host\":\"127.0.0.1\",\"port\":1,\"secret\":\"\"}");
    info_seed("port_zero", "{\"cluster_id\":\"C\",\"host\":\"h\",\"port\":0,\"secret\":\"s\"}");
    info_seed("port_big", "{\"cluster_id\":\"C\",\"host\":\"h\",\"port\":65536,\"secret\":\"s\"}");
    info_seed("port_string",
              "{\"cluster_id\":\"C\",\"host\":\"h\",\"port\":\"80\",\"secret\":\"s\"}");
    info_seed("duplicate_key",
              "{\"cluster_id\":\"C\",\"host\":\"h\",\"port\":1,\"port\":2,\"secret\":\"s\"}");
    info_seed("not_object", "[1, 2, 3]");
    info_seed("nul_in_string",
              "{\"cluster_id\":\"C\\u0000D\",\"host\":\"h\",\"port\":1,\"secret\":\"s\\u0000t\"}");
    info_seed(
        "long_host",
        "{\"cluster_id\":\"C\",\"host\":\"0123456789012345678901234567890123456789012345678901"
        "234567890123\",\"port\":1,\"secret\":\"s\"}");
    info_seed("big_numbers", "{\"cluster_id\":\"C\",\"host\":\"h\",\"port\":1,\"secret\":\"s\","
                             "\"started_ms\":-9223372036854775808,\"world_size\":4294967297,"
                             "\"primary_pid\":-1}");
    info_seed("empty", "");
    free(valid);
}

/* ---- config ---------------------------------------------------------------- */

static void corpus_config(void) {
    config *cfg;
    if (config_create(&cfg) != EMBER_OK)
        exit(1);
    FILE *f = seed_open("defaults_file", 1);
    config_write(cfg, f);
    fclose(f);
    config_destroy(cfg);
    seed_text("file", 1,
              "# an ember configuration\n"
              "dfs.replication = 2\n"
              "dfs.blocksize = 64m\n"
              "dfs.heartbeat.interval = 500ms\n"
              "ember.node.expiry = 3\r\n"
              "dfs.permissions.enabled = no\n"
              "dfs.namenode.safemode.threshold-pct = 0.999f\n"
              "  ember.client.bind =   0.0.0.0  \n"
              "\n");
    seed_text("defines", 0,
              "dfs.replication=3\n"
              "dfs.namenode.safemode.threshold-pct=-0.5\n"
              "dfs.datanode.du.reserved=1g\n"
              "ember.cluster.secret = a=b=c\n");
    seed_text("bad_value", 1, "dfs.replication = many\n");
    seed_text("out_of_range", 0, "dfs.replication=0\ndfs.heartbeat.interval=2d\n");
    seed_text("unknown_key", 1, "dfs.no.such.key = 1\n");
    seed_text("no_equals", 1, "dfs.replication 3\n");
    seed_text("big_numbers", 0,
              "dfs.blocksize=9223372036854775807k\n"
              "dfs.namenode.safemode.threshold-pct=922337203685.4775807\n"
              "ember.client.port=-9223372036854775809\n");
    seed_text("ratio_places", 0, "dfs.namenode.safemode.threshold-pct=0.1234567\n");
}

/* ---- ifile --------------------------------------------------------------- */

/* A segment of n records of words, through ifile_writer with codec, as
 * a seed of its bytes (flag 0: read as found); also the records as a
 * write-and-damage seed (flag 1 | codec << 1). */
static void seed_ifile(const char *name, int codec, int n, size_t cut) {
    char path[4096], wname[64];
    snprintf(path, sizeof path, "%s/.segment", seed_dir);
    ifile_writer w;
    if (ifile_writer_open_codec(&w, path, codec) != EMBER_OK)
        exit(1);
    ifile_writer_begin(&w);
    snprintf(wname, sizeof wname, "%s_write", name);
    FILE *rec = seed_open(wname, (uint8_t)(1 | codec << 1));
    for (int i = 0; i < n; i++) {
        char key[32], value[64];
        int kl = snprintf(key, sizeof key, "word%d", i % 37);
        int vl = snprintf(value, sizeof value, "%d%s", i, i % 5 ? "" : "\t\0tail");
        if (ifile_writer_append(&w, key, (size_t)kl, value, (size_t)vl) != EMBER_OK)
            exit(1);
        fputc(kl, rec);
        fwrite(key, 1, (size_t)kl, rec);
        fputc(vl, rec);
        fwrite(value, 1, (size_t)vl, rec);
    }
    fclose(rec);
    ifile_range r;
    uint64_t bytes;
    if (ifile_writer_end(&w, &r) != EMBER_OK || ifile_writer_close(&w, &bytes) != EMBER_OK)
        exit(1);
    size_t len;
    uint8_t *seg = slurp(path, &len);
    remove(path);
    FILE *f = seed_open(name, 0);
    fwrite(seg, 1, len - (cut < len ? cut : 0), f);
    fclose(f);
    free(seg);
}

static void corpus_ifile(void) {
    seed_ifile("plain", IFILE_CODEC_NONE, 50, 0);
    seed_ifile("plain_empty", IFILE_CODEC_NONE, 0, 0);
    seed_ifile("plain_cut", IFILE_CODEC_NONE, 20, 3);
    seed_ifile("lz4", IFILE_CODEC_LZ4, 200, 0);
    seed_ifile("lz4_empty", IFILE_CODEC_LZ4, 0, 0);
    seed_ifile("lz4_cut", IFILE_CODEC_LZ4, 200, 7);
    seed_ifile("zstd", IFILE_CODEC_ZSTD, 200, 0);
    seed_ifile("zstd_cut", IFILE_CODEC_ZSTD, 100, 5);
}

int corpus_files_write(const char *name, const char *dir) {
    seed_dir = dir;
    if (strcmp(name, "edit_log") == 0)
        corpus_edit_log();
    else if (strcmp(name, "block_meta") == 0)
        corpus_block_meta();
    else if (strcmp(name, "cluster_info") == 0)
        corpus_cluster_info();
    else if (strcmp(name, "config") == 0)
        corpus_config();
    else if (strcmp(name, "ifile") == 0)
        corpus_ifile();
    else
        return -1;
    return 0;
}
