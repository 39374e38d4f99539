/* permission.c -- HDFS's permission checks (FSPermissionChecker), see
 * namenode_internal.h.
 *
 * Who: the user the client named when it authenticated (HDFS's "simple"
 * authentication: the cluster secret proves the client may talk to the
 * cluster, not who it is), in the groups group_mapping.h gives it (the
 * overrides, or the namenode host's groups of that user and the group the
 * client claimed).  New inodes take their parent directory's group
 * (namenode.c, HDFS's BSD rule).  The superuser -- the user the namenode
 * runs as, or any member of "supergroup" (dfs.permissions.superusergroup)
 * -- passes every check.
 * With dfs.permissions.enabled off every check passes.
 *
 * What, per operation (as HDFS's FSNamesystem asks):
 *   every path           EXECUTE on each existing directory above the
 *                        last component (traverse)
 *   ancestor             the deepest existing directory above the path
 *                        (mkdirs, create with parents)
 *   parent               the directory holding the last component
 *                        (create, delete, rename)
 *   access               the inode itself (open READ, list READ|EXECUTE,
 *                        setrep/append/overwrite WRITE)
 *   sub                  every directory under the path (recursive
 *                        delete ALL, content summary READ|EXECUTE)
 *   owner                the caller owns the inode (chmod, chown)
 * plus the sticky bit: in a directory with mode 01000 only the owner of an
 * entry (or of the directory) may delete or rename it.  A denial answers
 * HDFS's text: "Permission denied: user=U, access=WRITE,
 * inode="/p":owner:group:drwxr-xr-x". */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "group_mapping.h"
#include "namenode_internal.h"
#include "proto/message.h"

#define PERM_CHAIN_MAX 512 /* path depth checked (deeper: refused) */

typedef struct {
    const char *user;
    const char *group; /* the one the client claimed */
    namenode *nn;      /* for its group mapping */
} perm_caller;

/* Whether the caller is in group. */
static int perm_member(const perm_caller *c, const char *group) {
    return group_mapping_member(c->nn->groups, c->user, c->group, group, clock_monotonic_ms());
}

static void perm_mode_string(const fs_stat *st, char out[11]) {
    static const char rwx[] = "rwxrwxrwx";
    out[0] = st->is_dir ? 'd' : '-';
    for (int i = 0; i < 9; i++)
        out[1 + i] = (st->mode & (0400u >> i)) ? rwx[i] : '-';
    if (st->mode & 01000)
        out[9] = (st->mode & 01) ? 't' : 'T';
    out[10] = '\0';
}

static const char *perm_access_name(int access) {
    static const char *names[8] = {"NONE",  "EXECUTE",       "WRITE",      "WRITE_EXECUTE",
                                   "READ",  "READ_EXECUTE",  "READ_WRITE", "ALL"};
    return names[access & 7];
}

/* Whether the caller's class of st (owner, group, other) has access. */
static int perm_allows(const perm_caller *c, const fs_stat *st, int access) {
    uint32_t bits;
    if (strcmp(c->user, st->owner) == 0)
        bits = (st->mode >> 6) & 7;
    else if (perm_member(c, st->group))
        bits = (st->mode >> 3) & 7;
    else
        bits = st->mode & 7;
    return ((int)bits & access) == access;
}

static int perm_deny(namenode *nn, uint64_t conn, const perm_caller *c, const char *inode,
                     const fs_stat *st, int access) {
    char mode[11], msg[MESSAGE_TEXT_MAX];
    perm_mode_string(st, mode);
    snprintf(msg, sizeof(msg),
             "Permission denied: user=%.200s, access=%s, inode=\"%.2000s\":%s:%s:%s", c->user,
             perm_access_name(access), inode, st->owner, st->group, mode);
    namenode_reply_error(nn, conn, EMBER_EACCES, msg);
    return EMBER_EACCES;
}

static int perm_is_super(const namenode *nn, const perm_caller *c) {
    return strcmp(c->user, nn->superuser) == 0 || perm_member(c, NAMENODE_SUPERGROUP);
}

/* The caller of conn, and whether checks apply at all (0: pass). */
static int perm_caller_of(namenode *nn, uint64_t conn, perm_caller *c) {
    c->nn = nn;
    if (!nn->opts.permissions || conn == NAMENODE_NO_CONN ||
        namenode_identity(nn, conn, &c->user, &c->group) != EMBER_OK)
        return 0;
    return !perm_is_super(nn, c);
}

/* The prefix of path naming chain element k (0 = "/"), into out. */
static void perm_prefix(const char *path, size_t k, char *out, size_t outlen) {
    if (k == 0) {
        snprintf(out, outlen, "/");
        return;
    }
    const char *p = path;
    for (size_t i = 0; i < k && p != NULL; i++) /* the end of component k */
        p = strchr(p + 1, '/');
    size_t len = p != NULL ? (size_t)(p - path) : strlen(path);
    snprintf(out, outlen, "%.*s", (int)len, path);
}

typedef struct {
    const perm_caller *c;
    int access;
    const fs_stat *bad;
    char bad_path[FS_PATH_MAX + 1];
    fs_stat bad_stat;
} perm_sub;

static int perm_sub_visit(const char *rel, const fs_stat *st, void *arg) {
    perm_sub *s = arg;
    if (!st->is_dir || perm_allows(s->c, st, s->access))
        return 0;
    snprintf(s->bad_path, sizeof(s->bad_path), "%s", rel);
    s->bad_stat = *st;
    return 1;
}

int namenode_check_permission(namenode *nn, uint64_t conn, const char *path,
                              const perm_request *want) {
    perm_caller c;
    if (!perm_caller_of(nn, conn, &c))
        return 0;
    static fs_stat chain[PERM_CHAIN_MAX]; /* the loop thread's only */
    size_t n = 0;
    int complete = 0;
    char where[FS_PATH_MAX + 1];
    int rc = fs_namespace_chain(nn->ns, path, chain, PERM_CHAIN_MAX, &n, &complete);
    if (rc != EMBER_OK)
        return 0; /* a bad path: the operation itself says so */
    /* Traverse: every directory above the last existing inode (and that
     * one too when the path goes on below it). */
    size_t dirs = complete ? n - 1 : n;
    for (size_t k = 0; k < dirs; k++)
        if (chain[k].is_dir && !perm_allows(&c, &chain[k], 1)) {
            perm_prefix(path, k, where, sizeof(where));
            return perm_deny(nn, conn, &c, where, &chain[k], 1);
        }
    /* The parent exists when the path does, or when only its last
     * component is missing (n counts "/" too). */
    size_t ncomp = 0;
    for (const char *p = path; *p != '\0'; p++)
        ncomp += *p == '/' && p[1] != '\0';
    const fs_stat *self = complete ? &chain[n - 1] : NULL;
    size_t parent_k = complete ? n - 2 : n - 1;
    const fs_stat *parent = (complete && n >= 2) || (!complete && n == ncomp && chain[n - 1].is_dir)
                                ? &chain[parent_k]
                                : NULL;
    if (want->ancestor != 0) {
        /* The deepest existing inode above the path itself. */
        size_t k = complete ? (n >= 2 ? n - 2 : 0) : n - 1;
        if (!perm_allows(&c, &chain[k], want->ancestor)) {
            perm_prefix(path, k, where, sizeof(where));
            return perm_deny(nn, conn, &c, where, &chain[k], want->ancestor);
        }
    }
    if (want->parent != 0 && parent != NULL) {
        if (!perm_allows(&c, parent, want->parent)) {
            perm_prefix(path, parent_k, where, sizeof(where));
            return perm_deny(nn, conn, &c, where, parent, want->parent);
        }
        /* Sticky directory: only the entry's or the directory's owner. */
        if (want->sticky && self != NULL && (parent->mode & 01000) &&
            strcmp(c.user, parent->owner) != 0 && strcmp(c.user, self->owner) != 0) {
            char msg[MESSAGE_TEXT_MAX];
            snprintf(msg, sizeof(msg),
                     "Permission denied by sticky bit: user=%.200s, path=\"%.2000s\":%s:%s, "
                     "parent owner %s",
                     c.user, path, self->owner, self->group, parent->owner);
            namenode_reply_error(nn, conn, EMBER_EACCES, msg);
            return EMBER_EACCES;
        }
    }
    if (want->access != 0 && self != NULL && !perm_allows(&c, self, want->access))
        return perm_deny(nn, conn, &c, path, self, want->access);
    if (want->owner && self != NULL && strcmp(c.user, self->owner) != 0) {
        char msg[MESSAGE_TEXT_MAX];
        snprintf(msg, sizeof(msg), "Permission denied. user=%.200s is not the owner of inode=%.2000s",
                 c.user, path);
        namenode_reply_error(nn, conn, EMBER_EACCES, msg);
        return EMBER_EACCES;
    }
    if (want->sub != 0 && self != NULL && self->is_dir) {
        perm_sub s = {.c = &c, .access = want->sub};
        if (fs_namespace_walk_under(nn->ns, path, perm_sub_visit, &s) == 1) {
            snprintf(where, sizeof(where), "%s%s", strcmp(path, "/") ? path : "", s.bad_path);
            return perm_deny(nn, conn, &c, where[0] ? where : "/", &s.bad_stat, want->sub);
        }
    }
    return 0;
}

int namenode_check_superuser(namenode *nn, uint64_t conn, const char *what) {
    perm_caller c;
    if (!perm_caller_of(nn, conn, &c))
        return 0;
    char msg[MESSAGE_TEXT_MAX];
    snprintf(msg, sizeof(msg), "Access denied for user %.200s. Superuser privilege is required%s%s",
             c.user, what ? " to " : "", what ? what : "");
    namenode_reply_error(nn, conn, EMBER_EACCES, msg);
    return EMBER_EACCES;
}

int namenode_check_chown(namenode *nn, uint64_t conn, const char *path, const char *owner,
                         const char *group) {
    perm_caller c;
    if (!perm_caller_of(nn, conn, &c))
        return 0;
    char msg[MESSAGE_TEXT_MAX];
    if (owner != NULL && owner[0] != '\0' && strcmp(owner, c.user) != 0) {
        snprintf(msg, sizeof(msg),
                 "User %.200s is not a super user (non-super user cannot change owner).",
                 c.user);
        namenode_reply_error(nn, conn, EMBER_EACCES, msg);
        return EMBER_EACCES;
    }
    if (group != NULL && group[0] != '\0' && !perm_member(&c, group)) {
        snprintf(msg, sizeof(msg), "User %.200s does not belong to %.200s", c.user, group);
        namenode_reply_error(nn, conn, EMBER_EACCES, msg);
        return EMBER_EACCES;
    }
    perm_request owner_only = {.owner = 1};
    return namenode_check_permission(nn, conn, path, &owner_only);
}
