/* group_mapping.h -- which groups a user is in, as the namenode sees it
 * (HDFS's Groups with ShellBasedUnixGroupsMapping and static overrides).
 *
 * A user's groups are, as in HDFS, decided on the namenode's host, never
 * by the client: the groups named for the user in
 * hadoop.user.group.static.mapping.overrides ("alice=eng,ops;bob=;"), or
 * else the user's groups in the host's user database (getgrouplist() of
 * the passwd entry's name), cached for hadoop.security.groups.cache.secs.
 * One difference: the group the client claimed when it authenticated (its
 * primary group, which names the user itself for a user the host does not
 * know) counts too unless an override names the user, so that clients of
 * users the host does not know keep a group of their own. */
#ifndef EMBER_GROUP_MAPPING_H
#define EMBER_GROUP_MAPPING_H

#include <stddef.h>
#include <stdint.h>

typedef struct group_mapping group_mapping;

/* Parses overrides ("" for none).  EMBER_EINVAL with a one-line reason in
 * err for a malformed list (an entry without '=', an empty user name, a
 * name over 63 bytes); EMBER_ENOMEM. */
int group_mapping_create(const char *overrides, int64_t cache_ms, group_mapping **out, char *err,
                         size_t errlen);
void group_mapping_destroy(group_mapping *gm);

/* Whether user, who claimed group claimed (may be NULL), is in group at
 * time now_ms (monotonic; for the cache). */
int group_mapping_member(group_mapping *gm, const char *user, const char *claimed,
                         const char *group, int64_t now_ms);

#endif
