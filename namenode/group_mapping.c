/* group_mapping.c -- users' groups for the namenode (see group_mapping.h).
 *
 * Overrides are parsed once into an array of (user, groups) entries.  The
 * host's groups of a user are looked up with getpwnam_r() and
 * getgrouplist(), then each gid named with getgrgid_r(); the names are
 * kept in a small cache (GM_CACHE entries, the oldest replaced) for
 * cache_ms, so a burst of requests does one lookup per user.  A user the
 * host does not know has no host groups (cached too). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* getgrouplist */
#endif
#include "group_mapping.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/error.h"

#define GM_NAME_MAX 64    /* user and group names: 63 bytes and a NUL */
#define GM_GROUPS_MAX 64  /* groups kept per user */
#define GM_CACHE 64       /* users cached */

typedef struct {
    char user[GM_NAME_MAX];
    char (*groups)[GM_NAME_MAX];
    size_t ngroups;
} gm_override;

typedef struct {
    char user[GM_NAME_MAX]; /* "": free slot */
    int64_t looked_up_ms;
    char groups[GM_GROUPS_MAX][GM_NAME_MAX];
    size_t ngroups;
} gm_cached;

struct group_mapping {
    gm_override *overrides;
    size_t noverrides;
    int64_t cache_ms;
    gm_cached cache[GM_CACHE];
};

static int gm_fail(char *err, size_t errlen, const char *why, const char *entry, size_t len) {
    snprintf(err, errlen, "bad hadoop.user.group.static.mapping.overrides entry '%.*s': %s",
             (int)(len > 200 ? 200 : len), entry, why);
    return EMBER_EINVAL;
}

/* Copies the name s[0..len) trimmed of spaces into out; 0, or -1 when it
 * is empty or too long. */
static int gm_name(const char *s, size_t len, char out[GM_NAME_MAX]) {
    while (len > 0 && *s == ' ')
        s++, len--;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len == 0 || len >= GM_NAME_MAX)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* One "user=g1,g2" entry (len bytes at e) appended to gm. */
static int gm_parse_entry(group_mapping *gm, const char *e, size_t len, char *err, size_t errlen) {
    const char *eq = memchr(e, '=', len);
    if (eq == NULL)
        return gm_fail(err, errlen, "expected user=group,group,...", e, len);
    gm_override *o = &gm->overrides[gm->noverrides];
    memset(o, 0, sizeof(*o));
    if (gm_name(e, (size_t)(eq - e), o->user) != 0)
        return gm_fail(err, errlen, "the user name is empty or over 63 bytes", e, len);
    const char *g = eq + 1, *end = e + len;
    size_t n = 0;
    for (const char *p = g; p <= end; p++)
        n += p == end || *p == ',';
    o->groups = calloc(n, sizeof(*o->groups));
    if (o->groups == NULL)
        return EMBER_ENOMEM;
    gm->noverrides++;
    while (g < end) {
        const char *comma = memchr(g, ',', (size_t)(end - g));
        size_t glen = (size_t)((comma != NULL ? comma : end) - g);
        if (gm_name(g, glen, o->groups[o->ngroups]) == 0)
            o->ngroups++;
        else if (glen > 0 && strspn(g, " ") < glen)
            return gm_fail(err, errlen, "a group name is over 63 bytes", e, len);
        g += glen + (comma != NULL);
    }
    return EMBER_OK;
}

int group_mapping_create(const char *overrides, int64_t cache_ms, group_mapping **out, char *err,
                         size_t errlen) {
    *out = NULL;
    group_mapping *gm = calloc(1, sizeof(*gm));
    if (gm == NULL)
        return EMBER_ENOMEM;
    gm->cache_ms = cache_ms;
    size_t n = 1;
    for (const char *p = overrides; *p; p++)
        n += *p == ';';
    gm->overrides = calloc(n, sizeof(*gm->overrides));
    if (gm->overrides == NULL) {
        free(gm);
        return EMBER_ENOMEM;
    }
    const char *e = overrides;
    while (*e != '\0') {
        const char *semi = strchr(e, ';');
        size_t len = semi != NULL ? (size_t)(semi - e) : strlen(e);
        if (strspn(e, " ") < len) {
            int rc = gm_parse_entry(gm, e, len, err, errlen);
            if (rc != EMBER_OK) {
                group_mapping_destroy(gm);
                return rc;
            }
        }
        e += len + (semi != NULL);
    }
    *out = gm;
    return EMBER_OK;
}

void group_mapping_destroy(group_mapping *gm) {
    if (gm == NULL)
        return;
    for (size_t i = 0; i < gm->noverrides; i++)
        free(gm->overrides[i].groups);
    free(gm->overrides);
    free(gm);
}

/* Fills c with user's groups in the host's user database. */
static void gm_lookup(gm_cached *c, const char *user) {
    c->ngroups = 0;
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
        return;
    gid_t gids[GM_GROUPS_MAX];
    int n = GM_GROUPS_MAX;
    if (getgrouplist(user, pw.pw_gid, gids, &n) < 0)
        n = GM_GROUPS_MAX; /* more than we keep: the first ones */
    for (int i = 0; i < n && c->ngroups < GM_GROUPS_MAX; i++) {
        struct group gr, *g = NULL;
        char gbuf[4096];
        if (getgrgid_r(gids[i], &gr, gbuf, sizeof(gbuf), &g) == 0 && g != NULL &&
            strlen(g->gr_name) < GM_NAME_MAX)
            snprintf(c->groups[c->ngroups++], GM_NAME_MAX, "%s", g->gr_name);
    }
}

/* The cached host groups of user, looked up when absent or stale. */
static const gm_cached *gm_host_groups(group_mapping *gm, const char *user, int64_t now_ms) {
    gm_cached *oldest = &gm->cache[0];
    for (size_t i = 0; i < GM_CACHE; i++) {
        gm_cached *c = &gm->cache[i];
        if (c->user[0] != '\0' && strcmp(c->user, user) == 0) {
            if (now_ms - c->looked_up_ms >= gm->cache_ms) {
                gm_lookup(c, user);
                c->looked_up_ms = now_ms;
            }
            return c;
        }
        if (c->user[0] == '\0' ||
            (oldest->user[0] != '\0' && c->looked_up_ms < oldest->looked_up_ms))
            oldest = c;
    }
    snprintf(oldest->user, GM_NAME_MAX, "%s", user);
    gm_lookup(oldest, user);
    oldest->looked_up_ms = now_ms;
    return oldest;
}

int group_mapping_member(group_mapping *gm, const char *user, const char *claimed,
                         const char *group, int64_t now_ms) {
    for (size_t i = 0; i < gm->noverrides; i++) {
        const gm_override *o = &gm->overrides[i];
        if (strcmp(o->user, user) != 0)
            continue;
        for (size_t k = 0; k < o->ngroups; k++)
            if (strcmp(o->groups[k], group) == 0)
                return 1;
        return 0;
    }
    if (claimed != NULL && strcmp(claimed, group) == 0)
        return 1;
    if (strlen(user) >= GM_NAME_MAX)
        return 0;
    const gm_cached *c = gm_host_groups(gm, user, now_ms);
    for (size_t k = 0; k < c->ngroups; k++)
        if (strcmp(c->groups[k], group) == 0)
            return 1;
    return 0;
}
