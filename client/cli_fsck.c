/* cli_fsck.c -- `ember fsck PATH [-files] [-blocks] [-locations]`.
 *
 * Walks PATH through the namespace calls, asks the namenode for every
 * file's blocks and live replicas (good and corrupt), and prints Hadoop's
 * fsck report: per file lines on request, then the totals (minimally,
 * under- and over-replicated, missing and corrupt blocks) and "The
 * filesystem under path '...' is HEALTHY" or "CORRUPT".  A block still
 * being written (no length, no replica yet) is not counted.  A block with
 * no good replica is corrupt when the namenode holds corrupt replicas of
 * it (every one was found corrupt), else missing (its replicas died);
 * either makes the path CORRUPT.  -locations marks corrupt replicas
 * "(CORRUPT)", as Hadoop's -replicaDetails does.  Exit status: 0 healthy,
 * 1 corrupt or failed, 2 bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/clock.h"
#include "common/error.h"
#include "ember/dfs.h"

typedef struct {
    ember_dfs *dfs;
    int files_opt, blocks_opt, locations_opt;
    uint64_t dirs, files, bytes, blocks, min_repl, under, over, missing, corrupt, replicas,
        missing_replicas, expected_replicas;
    int failed;
} fsck_state;

static void fsck_file(fsck_state *s, const char *path, const ember_file_status *st) {
    ember_block_location *b = NULL;
    size_t n = 0;
    if (ember_dfs_block_locations(s->dfs, path, &b, &n) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
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
        if ((uint32_t)b[i].nreplicas < st->replication) {
            s->under++;
            s->missing_replicas += st->replication - (uint32_t)b[i].nreplicas;
        }
        if ((uint32_t)b[i].nreplicas > st->replication)
            s->over++;
    }
    s->missing += missing;
    s->corrupt += corrupt;
    if (s->files_opt) {
        printf("%s %llu bytes, replicated: replication=%u, %zu block(s): ", path,
               (unsigned long long)st->length, st->replication, n);
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

static void fsck_walk(fsck_state *s, const char *path) {
    ember_file_status st;
    if (ember_dfs_stat(s->dfs, path, &st) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    if (!st.is_dir) {
        fsck_file(s, path, &st);
        ember_dfs_free_status(&st);
        return;
    }
    ember_dfs_free_status(&st);
    s->dirs++;
    if (s->files_opt)
        printf("%s <dir>\n", path);
    ember_file_status *e;
    size_t n;
    if (ember_dfs_list(s->dfs, path, &e, &n) != EMBER_OK) {
        cli_error("fsck: %s", ember_dfs_last_error(s->dfs));
        s->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char child[8200];
        snprintf(child, sizeof(child), "%s%s%s", path, strcmp(path, "/") ? "/" : "", e[i].path);
        fsck_walk(s, child);
    }
    ember_dfs_free_list(e, n);
}

static double fsck_pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

int cli_fsck(cli_env *env, int argc, char **argv) {
    fsck_state s = {0};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-files"))
            s.files_opt = 1;
        else if (!strcmp(argv[i], "-blocks"))
            s.blocks_opt = 1;
        else if (!strcmp(argv[i], "-locations"))
            s.locations_opt = 1;
        else if (argv[i][0] == '-') {
            cli_error("fsck: unknown option '%s' (options: -files -blocks -locations)", argv[i]);
            return 2;
        } else if (path == NULL) {
            path = argv[i];
        } else {
            cli_error("fsck: one path only");
            return 2;
        }
    }
    if (path == NULL || path[0] != '/') {
        cli_error("fsck: needs an absolute path, such as /");
        return 2;
    }
    char err[512], when[64];
    if (ember_dfs_connect(env->run_dir, &s.dfs, err, sizeof(err)) != EMBER_OK) {
        cli_error("%s", err);
        return 1;
    }
    int64_t t0 = clock_monotonic_ms();
    clock_format_wall(clock_wall_ms(), when, sizeof(when));
    printf("FSCK started for path %s at %s\n", path, when);
    fsck_walk(&s, path);
    ember_dfs_close(s.dfs);
    int corrupt = s.missing + s.corrupt > 0;
    printf("\nStatus: %s\n", corrupt ? "CORRUPT" : "HEALTHY");
    printf(" Total dirs:\t\t\t%llu\n", (unsigned long long)s.dirs);
    printf(" Total symlinks:\t\t0\n\nReplicated Blocks:\n");
    printf(" Total size:\t%llu B\n", (unsigned long long)s.bytes);
    printf(" Total files:\t%llu\n", (unsigned long long)s.files);
    printf(" Total blocks (validated):\t%llu", (unsigned long long)s.blocks);
    if (s.blocks)
        printf(" (avg. block size %llu B)", (unsigned long long)(s.bytes / s.blocks));
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
