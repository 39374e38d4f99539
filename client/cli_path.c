/* cli_path.c -- the CLI's path arguments resolved for the running cluster
 * (cli_dfs_resolve, used by every dfs verb, fsck and debug).
 *
 * dfs_path.c normalises the argument as Hadoop's Path does, relative
 * paths against the home directory /user/USER of the user the cluster
 * sees (client.c's rule: $HADOOP_USER_NAME, else the process's user).
 * An "hdfs://AUTH/..." argument must name this cluster, as HDFS refuses
 * a path of another file system ("Wrong FS"): AUTH is its cluster id, or
 * HOST:PORT of its gateway (cluster.json), HOST given as that address or
 * as a name that resolves to it, and a missing port meaning Hadoop's
 * 8020. */
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "client/dfs_path.h"
#include "common/error.h"
#include "common/run_dir.h"

#define CLI_PATH_DEFAULT_PORT 8020 /* Hadoop's namenode port, meant by "hdfs://HOST/" */

void cli_dfs_user(char *out, size_t len) {
    const char *as = getenv("HADOOP_USER_NAME");
    if (as != NULL && as[0] != '\0') {
        snprintf(out, len, "%s", as);
        return;
    }
    struct passwd *pw = getpwuid(getuid());
    snprintf(out, len, "%s", pw != NULL ? pw->pw_name : "unknown");
}

int cli_dfs_fs_uri(const cli_env *env, char *out, size_t len, char *err, size_t errlen) {
    cluster_info info;
    int rc = run_dir_read_info(env->run_dir, &info, err, errlen);
    if (rc == EMBER_OK)
        snprintf(out, len, "hdfs://%s:%d", info.host, info.port);
    return rc;
}

/* Whether host names the numeric address addr (itself, or by resolving). */
static int cli_path_same_host(const char *host, const char *addr) {
    if (strcmp(host, addr) == 0)
        return 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    int same = 0;
    for (struct addrinfo *a = res; a != NULL && !same; a = a->ai_next) {
        char numeric[NI_MAXHOST];
        if (getnameinfo(a->ai_addr, a->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
                        NI_NUMERICHOST) == 0)
            same = strcmp(numeric, addr) == 0;
    }
    freeaddrinfo(res);
    return same;
}

/* Whether authority names the cluster of info. */
static int cli_path_authority_ok(const cluster_info *info, const char *authority) {
    if (strcmp(authority, info->cluster_id) == 0)
        return 1;
    char host[256];
    const char *colon = strrchr(authority, ':');
    size_t hostlen = colon != NULL ? (size_t)(colon - authority) : strlen(authority);
    long port = CLI_PATH_DEFAULT_PORT;
    if (colon != NULL) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0')
            return 0;
    }
    if (hostlen == 0 || hostlen >= sizeof(host) || port != info->port)
        return 0;
    memcpy(host, authority, hostlen);
    host[hostlen] = '\0';
    if (hostlen > 2 && host[0] == '[' && host[hostlen - 1] == ']') { /* [IPv6] */
        memmove(host, host + 1, hostlen - 2);
        host[hostlen - 2] = '\0';
    }
    return cli_path_same_host(host, info->host);
}

int cli_dfs_resolve(const cli_env *env, const char *arg, char *out, size_t outlen, char *err,
                    size_t errlen) {
    char user[256], home[300], authority[256];
    cli_dfs_user(user, sizeof(user));
    snprintf(home, sizeof(home), "/user/%s", user);
    int rc = dfs_path_normalize(arg, home, out, outlen, authority, sizeof(authority), err, errlen);
    if (rc != EMBER_OK || authority[0] == '\0')
        return rc;
    cluster_info info;
    char why[512];
    if (run_dir_read_info(env->run_dir, &info, why, sizeof(why)) != EMBER_OK) {
        snprintf(err, errlen, "%s", why);
        return EMBER_EINVAL;
    }
    if (cli_path_authority_ok(&info, authority))
        return EMBER_OK;
    snprintf(err, errlen, "Wrong FS: %.1000s, expected: hdfs://%s:%d (or hdfs://%s)", arg,
             info.host, info.port, info.cluster_id);
    return EMBER_EINVAL;
}
