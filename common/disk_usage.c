/* disk_usage.c -- statvfs and a directory walk (see disk_usage.h). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "disk_usage.h"

#define DISK_USAGE_MAX_DIRS 64

static uint64_t disk_usage_walk_total;

static int disk_usage_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    if (type == FTW_F)
        disk_usage_walk_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

void disk_usage_measure(const char *dirs, disk_usage *out) {
    memset(out, 0, sizeof(*out));
    unsigned long fsids[DISK_USAGE_MAX_DIRS];
    int nfs = 0;
    char *copy = strdup(dirs ? dirs : "");
    if (copy == NULL)
        return;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ",", &save); dir != NULL; dir = strtok_r(NULL, ",", &save)) {
        out->dirs++;
        struct statvfs vfs;
        if (statvfs(dir, &vfs) != 0 || access(dir, W_OK) != 0) {
            out->failed_dirs++;
            continue;
        }
        disk_usage_walk_total = 0;
        nftw(dir, disk_usage_visit, 16, FTW_PHYS);
        out->used_bytes += disk_usage_walk_total;
        int seen = 0;
        for (int i = 0; i < nfs; i++)
            seen |= fsids[i] == vfs.f_fsid;
        if (seen || nfs == DISK_USAGE_MAX_DIRS)
            continue;
        fsids[nfs++] = vfs.f_fsid;
        out->capacity_bytes += (uint64_t)vfs.f_blocks * vfs.f_frsize;
        out->remaining_bytes += (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    free(copy);
}
