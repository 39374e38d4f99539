/* cli_fsck.c -- `ember fsck PATH [-list-corruptfileblocks | [-move |
 * -delete] [-openforwrite] [-files] [-blocks] [-locations]]`.
 *
 * Walks PATH through the namespace calls (cli_tree.c: an explicit stack,
 * so the depth of the tree costs no C stack), asks the namenode for every
 * file's blocks and live replicas (good and corrupt), and prints Hadoop's
 * fsck report: per file lines on request, then the totals (minimally,
 * under- and over-replicated, missing and corrupt blocks) and "The
 * filesystem under path '...' is HEALTHY" or "CORRUPT".  A block still
 * being written (no length, no replica yet) is not counted.  A block with
 * no good replica is corrupt when the namenode holds corrupt replicas of
 * it (every one was found corrupt), else missing (its replicas died);
 * either makes the path CORRUPT.  -locations marks corrupt replicas
 * "(CORRUPT)", as Hadoop's -replicaDetails does.
 *
 * Files open for writing are counted apart and not checked, as Hadoop
 * does ("Files currently being written: N"); -openforwrite checks them as
 * any file and marks their line "OPENFORWRITE: ".
 *
 * -list-corruptfileblocks prints only Hadoop's list: "blk_N<TAB>PATH" for
 * every block without a good replica (open files' too), then "has N
 * CORRUPT files", N counting those lines as Hadoop's DFSck does.
 *
 * -delete and -move act on the closed files with a corrupt or missing
 * block, once the walk is over and before the summary (so the summary's
 * last line stays the status, as in Hadoop): -delete deletes each file;
 * -move copies each run of consecutive blocks that have a good replica
 * into /lost+found/PATH/0, 1, ... (Hadoop's block chains) and then deletes
 * the file when every chain was copied -- Hadoop's `-move -delete`, which
 * is why the two together are a usage error here.  A file already in
 * /lost+found under that name is left alone.
 *
 * PATH is resolved as `ember dfs` resolves paths (relative to /user/USER,
 * hdfs:// URIs of this cluster, "..", "." and "//" normalised; "/" when
 * only options are given, as in Hadoop, unless -files comes first, which
 * Hadoop refuses); a path that does not exist prints only
 * "File does not exist: PATH", before any report.
 *
 * Exit status: 0 healthy (none listed), 1 corrupt (some listed) or
 * failed, 2 bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_tree.h"
#include "common/clock.h"
#include "common/error.h"
#include "ember/dfs.h"

#define FSCK_LOST_FOUND "/lost+found"
#define FSCK_PATH_MAX 8192
#define FSCK_COPY_CHUNK (1u << 20) /* bytes read and written at a time by -move */

static const char fsck_usage[] =
    "Usage: ember fsck <path> [-list-corruptfileblocks | [-move | -delete] [-openforwrite]\n"
    "                  [-files [-blocks [-locations]]]]\n"
    "\t<path>\tstart checking from this path (absolute)\n"
    "\t-move\tcopy the good blocks of corrupted files to /lost+found, then delete\n"
    "\t\tthem (Hadoop's -move -delete)\n"
    "\t-delete\tdelete corrupted files\n"
    "\t-files\tprint out files being checked\n"
    "\t-openforwrite\tprint out files opened for write\n"
    "\t-list-corruptfileblocks\tprint out list of missing blocks and files they belong to\n"
    "\t-blocks\tprint out block report\n"
    "\t-locations\tprint out locations for every block, corrupt replicas marked\n"
    "Exit status: 0 HEALTHY, 1 CORRUPT or a failure, 2 bad usage.\n";

typedef struct {
    ember_dfs *dfs;
    const char *path;
    int files_opt, blocks_opt, locations_opt, open_opt, list_opt, move_opt, delete_opt;
    uint64_t dirs, files, bytes, blocks, min_repl, under, over, missing, corrupt, replicas,
        missing_replicas, expected_replicas;
    uint64_t open_files, open_bytes, open_blocks; /* open files, not checked */
    uint64_t listed;                              /* -list-corruptfileblocks lines */
    char **bad; /* closed files with a corrupt or missing block, for -move / -delete */
    size_t nbad, bad_cap;
    int failed;
} fsck_state;

/* Remembers path (copied) as a file for -move or -delete to act on. */
static void fsck_note_bad(fsck_state *s, const char *path) {
    if (s->nbad == s->bad_cap) {
        size_t ncap = s->bad_cap ? s->bad_cap * 2 : 16;
        char **p = realloc(s->bad, ncap * sizeof(*p));
        if (p == NULL) {
            cli_error("fsck: out of memory");
            s->failed = 1;
            return;
        }
        s->bad = p;
        s->bad_cap = ncap;
    }
    s->bad[s->nbad] = strdup(path);
    if (s->bad[s->nbad] == NULL) {
        cli_error("fsck: out of memory");
        s->failed = 1;
        return;
    }
    s->nbad++;
}

/* Prints one -list-corruptfileblocks line, after Hadoop's heading when it
 * is the first. */
static void fsck_list_block(fsck_state *s, const char *path, uint64_t block_id) {
    if (s->listed++ == 0)
        printf("The list of corrupt files under path '%s' are:\n", s->path);
    printf("blk_%llu\t%s\n", (unsigned long long)block_id, path);
}

static void fsck_file(fsck_state *s, const char *path, const ember_file_status *st) {
    ember_block_location *b = NULL;
    size_t n = 0;
    if (ember_dfs_block_locations(s->dfs, path, &b, &n) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    int open = st->under_construction;
    if (open && !s->open_opt && !s->list_opt) {
        /* Hadoop counts open files apart and checks them only with -openforwrite. */
        s->open_files++;
        s->open_bytes += st->length;
        s->open_blocks += n;
        free(b);
        return;
    }
    s->files++;
    s->bytes += st->length;
    uint64_t missing = 0, corrupt = 0, missing_size = 0, corrupt_size = 0;
    for (size_t i = 0; i < n; i++) {
        /* A block still being written: no length and no replica yet. */
        if (b[i].length == 0 && b[i].nreplicas == 0 && b[i].ncorrupt == 0)
            continue;
        s->blocks++;
        s->replicas += (uint64_t)b[i].nreplicas;
        s->expected_replicas += st->replication;
        if (b[i].nreplicas >= 1)
            s->min_repl++;
        if (b[i].nreplicas == 0 && b[i].ncorrupt > 0)
            corrupt++, corrupt_size += b[i].length;
        else if (b[i].nreplicas == 0)
            missing++, missing_size += b[i].length;
        if (b[i].nreplicas == 0 && s->list_opt)
            fsck_list_block(s, path, b[i].block_id);
        if ((uint32_t)b[i].nreplicas < st->replication) {
            s->under++;
            s->missing_replicas += st->replication - (uint32_t)b[i].nreplicas;
        }
        if ((uint32_t)b[i].nreplicas > st->replication)
            s->over++;
    }
    s->missing += missing;
    s->corrupt += corrupt;
    if (missing + corrupt > 0 && (s->move_opt || s->delete_opt)) {
        if (open)
            printf("Fsck: ignoring open file %s\n", path);
        else
            fsck_note_bad(s, path);
    }
    if (s->files_opt || (open && s->open_opt)) {
        printf("%s %llu bytes, replicated: replication=%u, %zu block(s)%s: ", path,
               (unsigned long long)st->length, st->replication, n, open ? ", OPENFORWRITE" : "");
        if (missing > 0)
            printf(" MISSING %llu blocks of total size %llu B", (unsigned long long)missing,
                   (unsigned long long)missing_size);
        if (corrupt > 0)
            printf(" CORRUPT %llu blocks of total size %llu B", (unsigned long long)corrupt,
                   (unsigned long long)corrupt_size);
        printf("%s\n", missing + corrupt > 0 ? "" : " OK");
    }
    for (size_t i = 0; s->blocks_opt && i < n; i++) {
        printf("%zu. blk_%llu_%llu len=%llu Live_repl=%d", i, (unsigned long long)b[i].block_id,
               (unsigned long long)b[i].gen_stamp, (unsigned long long)b[i].length,
               b[i].nreplicas);
        if (b[i].ncorrupt > 0)
            printf(" Corrupt_repl=%d", b[i].ncorrupt);
        if (s->locations_opt) {
            printf("  [");
            for (int k = 0; k < b[i].nreplicas + b[i].ncorrupt; k++)
                printf("%sDatanodeInfo[%s, rank %d]%s", k ? ", " : "", b[i].hosts[k],
                       b[i].ranks[k], k >= b[i].nreplicas ? "(CORRUPT)" : "");
            printf("]");
        }
        printf("\n");
    }
    free(b);
}

/* A directory met by the walk: counted, and listed with -files. */
static void fsck_dir(fsck_state *s, const char *path) {
    s->dirs++;
    if (s->files_opt)
        printf("%s <dir>\n", path);
}

/* Checks path and, for a directory, everything below it in pre-order: a
 * walk with an explicit stack (cli_tree.c), each entry's status taken
 * from its directory's listing, so a tree of any depth costs no C stack.
 * A directory that cannot be listed is reported and left out. */
static void fsck_walk(fsck_state *s, const char *path) {
    ember_file_status st;
    if (ember_dfs_stat(s->dfs, path, &st) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    int is_dir = st.is_dir;
    if (!is_dir)
        fsck_file(s, path, &st);
    ember_dfs_free_status(&st);
    if (!is_dir)
        return;
    fsck_dir(s, path);
    cli_tree *t;
    if (cli_tree_open(s->dfs, path, &t) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    cli_tree_entry e;
    int rc;
    while ((rc = cli_tree_next(t, &e)) != 0) {
        if (rc < 0) {
            cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
            s->failed = 1;
        } else if (e.st->is_dir) {
            fsck_dir(s, e.path);
        } else {
            fsck_file(s, e.path, e.st);
        }
    }
    cli_tree_close(t);
}

/* Copies bytes [offset, offset + len) of in to the end of out. */
static int fsck_copy_range(ember_dfs_file *in, ember_dfs_file *out, uint64_t offset, uint64_t len,
                           uint8_t *buf) {
    while (len > 0) {
        size_t want = len < FSCK_COPY_CHUNK ? (size_t)len : FSCK_COPY_CHUNK, got = 0;
        int rc = ember_dfs_pread(in, buf, want, offset, &got);
        if (rc == EMBER_OK && got == 0)
            rc = EMBER_EIO; /* the file is shorter than its blocks say */
        if (rc == EMBER_OK)
            rc = ember_dfs_write(out, buf, got);
        if (rc != EMBER_OK)
            return rc;
        offset += got;
        len -= got;
    }
    return EMBER_OK;
}

/* Copies the blocks of path that have a good replica into target/0,
 * target/1, ... one file per run of consecutive such blocks (Hadoop's
 * chains), made with path's replication and block size.  0, or the first
 * error, named on stderr. */
static int fsck_copy_chains(fsck_state *s, const char *path, const ember_file_status *st,
                            const char *target) {
    ember_block_location *b = NULL;
    ember_dfs_file *in = NULL, *out = NULL;
    uint8_t *buf = malloc(FSCK_COPY_CHUNK);
    size_t n = 0;
    int chain = 0, rc = buf == NULL ? EMBER_ENOMEM : EMBER_OK;
    const char *what = "out of memory";
    if (rc == EMBER_OK && (rc = ember_dfs_block_locations(s->dfs, path, &b, &n)) != EMBER_OK)
        what = ember_dfs_last_error(s->dfs);
    if (rc == EMBER_OK && (rc = ember_dfs_open(s->dfs, path, &in)) != EMBER_OK)
        what = ember_dfs_last_error(s->dfs);
    ember_create_options opts = {.replication = st->replication, .block_size = st->block_size};
    for (size_t i = 0; rc == EMBER_OK && i < n; i++) {
        if (b[i].nreplicas == 0 || b[i].length == 0) {
            if (out != NULL && (rc = ember_dfs_close_file(out)) != EMBER_OK)
                what = "closing a chain";
            out = NULL;
            continue;
        }
        if (out == NULL) {
            char name[8320]; /* target (8300 at most) and "/<chain>" */
            snprintf(name, sizeof(name), "%s/%d", target, chain++);
            if ((rc = ember_dfs_create(s->dfs, name, &opts, &out)) != EMBER_OK) {
                what = ember_dfs_last_error(s->dfs);
                break;
            }
        }
        if ((rc = fsck_copy_range(in, out, b[i].offset, b[i].length, buf)) != EMBER_OK)
            what = "copying a block";
    }
    if (out != NULL) {
        int crc = ember_dfs_close_file(out);
        if (rc == EMBER_OK && crc != EMBER_OK)
            rc = crc, what = "closing a chain";
    }
    if (in != NULL)
        ember_dfs_close_file(in);
    if (rc != EMBER_OK)
        cli_error("fsck: could not copy the remains of %s to %s: %s (%s)", path, target, what,
                  ember_strerror(rc));
    free(b);
    free(buf);
    return rc;
}

/* -move for one file: makes /lost+found (once) and /lost+found/PATH,
 * copies the good chains there and deletes the file when all went well.
 * A target that exists already is left alone, with a warning, as in
 * Hadoop. */
static void fsck_move(fsck_state *s, const char *path) {
    char target[8300];
    ember_file_status st;
    snprintf(target, sizeof(target), "%s%s", FSCK_LOST_FOUND, path);
    if (ember_dfs_stat(s->dfs, FSCK_LOST_FOUND, &st) == EMBER_OK) {
        int is_dir = st.is_dir;
        ember_dfs_free_status(&st);
        if (!is_dir) {
            cli_error("fsck: cannot use %s: a regular file with this name exists", FSCK_LOST_FOUND);
            s->failed = 1;
            return;
        }
    }
    if (ember_dfs_stat(s->dfs, target, &st) == EMBER_OK) {
        ember_dfs_free_status(&st);
        cli_error("fsck: can't copy the remains of %s to %s, because %s already exists", path,
                  FSCK_LOST_FOUND, target);
        s->failed = 1;
        return;
    }
    if (ember_dfs_stat(s->dfs, path, &st) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    int rc = ember_dfs_mkdirs(s->dfs, target, 0, 1);
    if (rc != EMBER_OK)
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
    else
        rc = fsck_copy_chains(s, path, &st, target);
    ember_dfs_free_status(&st);
    if (rc != EMBER_OK) {
        s->failed = 1;
        return;
    }
    printf("Fsck: copied the remains of the corrupted file %s to %s\n", path, FSCK_LOST_FOUND);
    if (ember_dfs_delete(s->dfs, path, 0) != EMBER_OK) {
        cli_error("fsck: error deleting corrupted file %s: %s", path, ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    printf("Fsck: deleted corrupt file %s\n", path);
}

/* -delete or -move for every file noted during the walk; frees the list. */
static void fsck_fix(fsck_state *s) {
    for (size_t i = 0; i < s->nbad; i++) {
        if (s->move_opt) {
            fsck_move(s, s->bad[i]);
        } else if (ember_dfs_delete(s->dfs, s->bad[i], 0) != EMBER_OK) {
            cli_error("fsck: error deleting corrupted file %s: %s", s->bad[i],
                      ember_dfs_last_error(s->dfs));
            s->failed = 1;
        } else {
            printf("Fsck: deleted corrupt file %s\n", s->bad[i]);
        }
        free(s->bad[i]);
    }
    free(s->bad);
    s->bad = NULL;
    s->nbad = s->bad_cap = 0;
}

static double fsck_pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

/* The -list-corruptfileblocks output's end: Hadoop's DFSck's last lines. */
static int fsck_list_end(fsck_state *s) {
    printf("\n");
    if (s->listed == 0)
        printf("The filesystem under path '%s' has no CORRUPT files\n", s->path);
    else
        printf("The filesystem under path '%s' has %llu CORRUPT files\n", s->path,
               (unsigned long long)s->listed);
    return s->listed > 0 || s->failed;
}

/* The path exists and may be looked at, or its one error line is printed
 * (Hadoop's DFSck resolves the path before it reports anything: a
 * missing one is "File does not exist"). */
static int fsck_check_path(fsck_state *s) {
    ember_file_status st;
    int rc = ember_dfs_stat(s->dfs, s->path, &st);
    if (rc == EMBER_OK)
        ember_dfs_free_status(&st);
    else if (rc == EMBER_ENOENT)
        cli_error("fsck: File does not exist: %s", s->path);
    else
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
    return rc;
}

int cli_fsck(cli_env *env, int argc, char **argv) {
    fsck_state s = {0};
    struct {
        const char *name;
        int *flag;
    } opts[] = {{"-files", &s.files_opt},
                {"-blocks", &s.blocks_opt},
                {"-locations", &s.locations_opt},
                {"-openforwrite", &s.open_opt},
                {"-list-corruptfileblocks", &s.list_opt},
                {"-move", &s.move_opt},
                {"-delete", &s.delete_opt}};
    /* Hadoop's DFSck prints its usage for no arguments, and for -files
     * first (GenericOptionsParser would take it); else the path is "/"
     * when none is given. */
    if (argc < 2 || strcmp(argv[1], "-files") == 0) {
        cli_error("fsck: needs a path first, such as / (fsck PATH [options])");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(fsck_usage, stdout);
            return 0;
        }
        size_t k = 0;
        while (k < sizeof(opts) / sizeof(opts[0]) && strcmp(argv[i], opts[k].name))
            k++;
        if (k < sizeof(opts) / sizeof(opts[0])) {
            *opts[k].flag = 1;
        } else if (argv[i][0] == '-') {
            cli_error("fsck: unknown option '%s' (options: -list-corruptfileblocks -move -delete "
                      "-openforwrite -files -blocks -locations)",
                      argv[i]);
            return 2;
        } else if (s.path == NULL) {
            s.path = argv[i];
        } else {
            cli_error("fsck: one path only");
            return 2;
        }
    }
    if (s.move_opt && s.delete_opt) {
        cli_error("fsck: -move and -delete together (-move deletes what it moved)");
        return 2;
    }
    if (s.list_opt && (s.move_opt || s.delete_opt || s.open_opt || s.files_opt || s.blocks_opt ||
                       s.locations_opt)) {
        cli_error("fsck: -list-corruptfileblocks takes no other option");
        return 2;
    }
    char path[FSCK_PATH_MAX], err[512], when[64];
    if (cli_dfs_resolve(env, s.path != NULL ? s.path : "/", path, sizeof(path), err,
                        sizeof(err)) != EMBER_OK) {
        cli_error("fsck: %s", err);
        return 1;
    }
    s.path = path;
    if (ember_dfs_connect(env->run_dir, &s.dfs, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        return 1;
    }
    if (fsck_check_path(&s) != EMBER_OK) {
        ember_dfs_close(s.dfs);
        return 1;
    }
    if (s.list_opt) {
        fsck_walk(&s, path);
        ember_dfs_close(s.dfs);
        return fsck_list_end(&s);
    }
    int64_t t0 = clock_monotonic_ms();
    clock_format_wall(clock_wall_ms(), when, sizeof(when));
    printf("FSCK started for path %s at %s\n", path, when);
    fsck_walk(&s, path);
    fsck_fix(&s);
    ember_dfs_close(s.dfs);
    int corrupt = s.missing + s.corrupt > 0;
    printf("\nStatus: %s\n", corrupt ? "CORRUPT" : "HEALTHY");
    printf(" Total dirs:\t\t\t%llu\n", (unsigned long long)s.dirs);
    printf(" Total symlinks:\t\t0\n\nReplicated Blocks:\n");
    printf(" Total size:\t%llu B", (unsigned long long)s.bytes);
    if (s.open_bytes)
        printf(" (Total open files size: %llu B)", (unsigned long long)s.open_bytes);
    printf("\n Total files:\t%llu", (unsigned long long)s.files);
    if (s.open_files)
        printf(" (Files currently being written: %llu)", (unsigned long long)s.open_files);
    printf("\n Total blocks (validated):\t%llu", (unsigned long long)s.blocks);
    if (s.blocks)
        printf(" (avg. block size %llu B)", (unsigned long long)(s.bytes / s.blocks));
    if (s.open_blocks)
        printf(" (Total open file blocks (not validated): %llu)",
               (unsigned long long)s.open_blocks);
    printf("\n Minimally replicated blocks:\t%llu (%.1f %%)\n", (unsigned long long)s.min_repl,
           fsck_pct(s.min_repl, s.blocks));
    printf(" Over-replicated blocks:\t%llu (%.1f %%)\n", (unsigned long long)s.over,
           fsck_pct(s.over, s.blocks));
    printf(" Under-replicated blocks:\t%llu (%.1f %%)\n", (unsigned long long)s.under,
           fsck_pct(s.under, s.blocks));
    printf(" Average block replication:\t%.1f\n",
           s.blocks ? (double)s.replicas / (double)s.blocks : 0.0);
    printf(" Missing blocks:\t\t%llu\n", (unsigned long long)s.missing);
    printf(" Corrupt blocks:\t\t%llu\n", (unsigned long long)s.corrupt);
    printf(" Missing replicas:\t\t%llu (%.1f %%)\n", (unsigned long long)s.missing_replicas,
           fsck_pct(s.missing_replicas, s.expected_replicas));
    clock_format_wall(clock_wall_ms(), when, sizeof(when));
    printf("\nFSCK ended at %s in %lld milliseconds\n\n", when,
           (long long)(clock_monotonic_ms() - t0));
    printf("The filesystem under path '%s' is %s\n", path, corrupt ? "CORRUPT" : "HEALTHY");
    return corrupt || s.failed;
}
