/* config.c -- ember's configuration store (see config.h).
 *
 * This file owns the key table: every configuration key ember understands,
 * with its type, default, allowed range and, for durations, the unit a bare
 * number is in.  A config holds one value per table row, at the row's index:
 * INT, SIZE (bytes), DURATION (milliseconds), BOOL (0/1) and RATIO (a
 * decimal fraction such as 0.999, in millionths) in `number`, STRING in a
 * heap copy in `text`.  Invariants: every number is within its
 * key's [min, max], and every STRING slot is a non-NULL string owned by the
 * config.  A new value is fully parsed and checked before it replaces the
 * old one, so a failed set changes nothing. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup, getline, strcasecmp */
#endif
#include "config.h"
#include "hadoop_keys.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

enum config_type { CONFIG_INT, CONFIG_SIZE, CONFIG_DURATION, CONFIG_BOOL, CONFIG_STRING, CONFIG_RATIO };

/* RATIO values are kept in millionths. */
#define RATIO_SCALE 1000000

/* Milliseconds per duration unit, usable in the static table below. */
enum { MS = 1, SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR };

struct config_key {
    const char *name;
    enum config_type type;
    const char *default_value; /* parsed like any other value by config_create */
    int64_t min, max;          /* inclusive; ms for DURATION, millionths for RATIO; unused for
                                * BOOL and STRING */
    int64_t unit;              /* DURATION only: ms meant by a bare number */
    const char *description;
};

/* The key table, in config_write() order.  Adding a key is adding a row. */
static const struct config_key config_keys[] = {
    /* name                      type             default      min  max    unit    description */
    {"dfs.heartbeat.interval",   CONFIG_DURATION, "1s",        10,  HOUR,  SECOND, "how often each node heartbeats to the primary"},
    {"ember.node.expiry",        CONFIG_DURATION, "10s",       100, DAY,   SECOND, "a node silent this long is marked dead"},
    {"ember.client.bind",        CONFIG_STRING,   "127.0.0.1", 0,   0,     0,      "address the primary's client gateway listens on"},
    {"ember.client.port",        CONFIG_INT,      "0",         0,   65535, 0,      "port of the client gateway; 0 = ephemeral"},
    {"ember.cluster.secret",     CONFIG_STRING,   "",          0,   0,     0,      "cluster secret; empty = generate one at start"},
    {"ember.mpi.send.timeout",   CONFIG_DURATION, "30s",       10,  DAY,   SECOND, "an MPI send not completed by then is cancelled"},
    {"ember.mpi.data.queue",     CONFIG_SIZE,     "64m",       1,   (int64_t)1 << 40, 0, "bytes of write-pipeline data queued to one rank before its sender waits for room (the first datanode then stops reading its client); one message always goes"},
    {"ember.stop.timeout",       CONFIG_DURATION, "10s",       100, HOUR,  SECOND, "how long the primary waits for nodes to acknowledge a stop"},
    {"ember.auth.timeout",       CONFIG_DURATION, "10s",       100, HOUR,  SECOND, "a client must authenticate within this"},
    {"ember.client.max.connections", CONFIG_INT, "1024",     1,   65536, 0,      "authenticated client connections the gateway holds at once (Hadoop's ipc.server.max.connections)"},
    {"ember.client.unauthenticated.max", CONFIG_INT, "256",   1,   65536, 0,      "gateway connections still authenticating; past it the oldest is closed"},
    {"ember.client.unauthenticated.per.address", CONFIG_INT, "64", 1, 65536, 0,   "gateway connections still authenticating from one address; past it that address's oldest is closed"},
    {"ember.topology.synthetic", CONFIG_STRING,   "",          0,   0,     0,      "hwloc synthetic topology used instead of the real machine (tests), such as 'pack:2 numa:2 core:4 pu:2'"},
    {"ember.topology.xml",       CONFIG_STRING,   "",          0,   0,     0,      "hwloc XML file (lstopo's --of xml) used instead of the real machine; it may carry I/O devices; not with ember.topology.synthetic"},
    {"yarn.nodemanager.resource.cpu-vcores", CONFIG_INT, "-1", -1, 1 << 20, 0,   "vcores a node offers task containers; -1 = its cores (or PUs: its share of its host's) minus ember.worker.reserved-cores"},
    {"yarn.nodemanager.resource.count-logical-processors-as-cores", CONFIG_BOOL, "false", 0, 0, 0, "count PUs (hardware threads), not cores, as vcores, and place attempts on PUs"},
    {"ember.worker.reserved-cores", CONFIG_INT, "-1",      -1,  1 << 16, 0,      "cores (or PUs) no task attempt is placed on, kept for the rank's own loop and datanode: the highest-numbered of its share; -1 = 1 on a core node, 0 on a task node; never its whole share"},
    {"yarn.nodemanager.resource.memory-mb", CONFIG_INT, "-1", -1, (int64_t)1 << 40, 0, "memory in MB a node offers task containers; -1 = the rank's share of the machine's (split evenly between a host's worker ranks) minus yarn.nodemanager.resource.system-reserved-memory-mb"},
    {"yarn.nodemanager.resource.system-reserved-memory-mb", CONFIG_INT, "-1", -1, (int64_t)1 << 40, 0, "memory in MB kept from task containers when yarn.nodemanager.resource.memory-mb is -1; -1 = 20% of the rank's share of the machine's"},
    {"yarn.nodemanager.sleep-delay-before-sigkill.ms", CONFIG_DURATION, "250", 0, MINUTE, MS, "how long a task container killed (timed out, killed, or its worker stopping) has between SIGTERM and SIGKILL"},
    {"yarn.scheduler.capacity.file", CONFIG_STRING, "", 0, 0, 0, "file of capacity queues, one 'NAME CAPACITY% [MAXIMUM%]' line each (capacities add up to 100); empty = one FIFO queue, 'default'"},
    {"ember.scheduler.locality.delay", CONFIG_INT, "-1", -1, 1000000, 0, "scheduling chances a job's maps let pass before running off their data's node (rack-local first when racks are known), as YARN's node-locality-delay; each node with room offered to the job is one chance; -1 = YARN's default, 40 capped at the number of live nodes"},
    {"dfs.datanode.data.dir",    CONFIG_STRING,   "",          0,   0,     0,      "comma-separated data directories; empty = <run-dir>/data/node-<rank>"},
    {"dfs.namenode.name.dir",    CONFIG_STRING,   "",          0,   0,     0,      "namenode metadata directory; empty = <run-dir>/name"},
    {"dfs.replication",          CONFIG_INT,      "0",         0,   512,   0,      "default replication of new files; 0: EMR's rule, 1 with fewer than 4 core nodes, 2 with fewer than 10, else 3"},
    {"dfs.blocksize",            CONFIG_SIZE,     "128m",      65536, (int64_t)1 << 40, 0, "default block size of new files (a multiple of 512)"},
    {"dfs.namenode.checkpoint.txns", CONFIG_INT,  "10000",     1,   INT64_MAX, 0,  "checkpoint after this many edit log transactions"},
    {"dfs.namenode.checkpoint.period", CONFIG_DURATION, "1h",  1000, DAY,  SECOND, "checkpoint at least this often when there were edits"},
    {"dfs.block.access.token.lifetime", CONFIG_DURATION, "10m", 1000, DAY, MINUTE, "how long a block token lets a client read or write a block"},
    {"dfs.datanode.socket.timeout", CONFIG_DURATION, "30s", 100, HOUR, SECOND, "a write pipeline or client silent this long fails"},
    {"dfs.namenode.redundancy.interval", CONFIG_DURATION, "1s", 10, HOUR, SECOND, "how often the namenode looks for blocks with too few or too many replicas"},
    {"dfs.namenode.reconstruction.pending.timeout", CONFIG_DURATION, "30s", 100, DAY, SECOND, "a replication not confirmed by then is scheduled again"},
    {"dfs.blockreport.intervalMsec", CONFIG_DURATION, "6h", 100, (int64_t)366 * DAY, MS, "how often each datanode sends a full block report (a bare number is milliseconds)"},
    {"dfs.namenode.safemode.threshold-pct", CONFIG_RATIO, "0.999", -RATIO_SCALE, 100 * RATIO_SCALE, 0, "safe mode ends when this fraction of the blocks has a reported replica (<= 0: at once; > 1: never by itself)"},
    {"dfs.namenode.safemode.extension", CONFIG_DURATION, "3s", 0, HOUR, MS, "safe mode lasts this much longer once the threshold is reached (a bare number is milliseconds)"},
    {"dfs.datanode.du.reserved", CONFIG_SIZE, "0", 0, (int64_t)1 << 60, 0, "bytes of each data directory's file system kept free for other uses; a directory with no more takes no new replica"},
    {"dfs.datanode.synconclose", CONFIG_BOOL, "false", 0, 0, 0, "datanodes fsync each replica when it is finalized (HDFS's default: no)"},
    {"hadoop.user.group.static.mapping.overrides", CONFIG_STRING, "", 0, 0, 0, "groups named for users, 'user=group,group;user2=;', instead of the namenode host's"},
    {"hadoop.security.groups.cache.secs", CONFIG_DURATION, "300", 0, DAY, SECOND, "how long the namenode keeps a user's groups from the host (a bare number is seconds)"},
    {"dfs.permissions.enabled", CONFIG_BOOL, "true", 0, 0, 0, "check owners and permission bits on every file system operation"},
    {"ember.namenode.lease-soft-limit", CONFIG_DURATION, "60s", 100, DAY, SECOND, "a writer silent this long may lose its file to another client (HDFS's soft limit)"},
    {"dfs.namenode.lease-hard-limit-sec", CONFIG_DURATION, "20m", 100, (int64_t)366 * DAY, SECOND, "a writer silent this long has its files recovered and closed (a bare number is seconds)"},
    {"dfs.namenode.lease-recheck-interval-ms", CONFIG_DURATION, "2000", 10, HOUR, MS, "how often the namenode looks for expired leases (a bare number is milliseconds)"},
    {"dfs.block.scanner.volume.bytes.per.second", CONFIG_SIZE, "1m", 0, (int64_t)1 << 40, 0, "how fast each datanode re-reads its replicas to find silent corruption; 0 = never"},
    {"dfs.datanode.scan.period.hours", CONFIG_DURATION, "504", 1000, (int64_t)366 * DAY, HOUR, "a replica is re-verified at least this often (a bare number is hours)"},
    {"dfs.datanode.directoryscan.interval", CONFIG_DURATION, "6h", 100, (int64_t)366 * DAY, SECOND, "how often each datanode compares its data directories with its replica index and reports the differences (a bare number is seconds)"},
    {"net.topology.table.file.name", CONFIG_STRING, "", 0, 0, 0, "file of 'NODE /RACK' lines for rack-aware placement; empty = one rack"},
    {"ember.dfs.list.limit",     CONFIG_INT,      "1000",      1,   1000000, 0,    "entries in one listing page (HDFS's dfs.ls.limit)"},
    {"dfs.client.socket-timeout", CONFIG_DURATION, "60s", 100, HOUR, SECOND, "how long a client waits for a datanode; a write pipeline of N datanodes gets 5 s more per datanode, and never less than its first datanode waits for the others"},
    {"dfs.client.read.shortcircuit", CONFIG_BOOL, "true", 0, 0, 0, "clients read replicas on their own host from the files, passed over the datanode's unix socket"},
    {"dfs.domain.socket.path",   CONFIG_STRING,   "",          0,   0,     0,      "each datanode's unix socket for short-circuit reads (_PORT = its data port); empty = <run-dir>/dn_socket.<rank>"},
    {"fs.trash.interval",        CONFIG_DURATION, "0",         0,   (int64_t)3660 * DAY, MINUTE, "how long a deleted path stays in its owner's trash (/user/USER/.Trash) before the namenode deletes it for good; 0 = no trash, -rm deletes at once (a bare number is minutes, such as 1440 or 0.5)"},
    {"fs.trash.checkpoint.interval", CONFIG_DURATION, "0",     0,   (int64_t)3660 * DAY, MINUTE, "how often the namenode checkpoints each user's trash and deletes checkpoints older than fs.trash.interval; 0 or more than fs.trash.interval = fs.trash.interval (a bare number is minutes, such as 1440 or 0.5)"},
};

#define CONFIG_KEY_COUNT (sizeof config_keys / sizeof config_keys[0])

struct config_value {
    int64_t number; /* INT, SIZE, DURATION, BOOL */
    char *text;     /* STRING: owned, never NULL once created */
};

/* Hadoop keys ember does not use, remembered to be warned about once. */
#define CONFIG_IGNORED_MAX 32

struct config {
    struct config_value values[CONFIG_KEY_COUNT]; /* indexed like config_keys */
    char *ignored[CONFIG_IGNORED_MAX];
    size_t nignored;
};



/* A suffix and what it multiplies by; lists end with a NULL suffix and are in
 * ascending order of scale. */
struct config_unit {
    const char *suffix;
    int64_t scale;
};

static const struct config_unit config_size_units[] = {
    {"k", INT64_C(1) << 10}, {"m", INT64_C(1) << 20}, {"g", INT64_C(1) << 30}, {"t", INT64_C(1) << 40}, {NULL, 0},
};

static const struct config_unit config_duration_units[] = {
    {"ms", MS}, {"s", SECOND}, {"m", MINUTE}, {"h", HOUR}, {"d", DAY}, {NULL, 0},
};

/* What a parse helper found wrong, if anything. */
enum config_parse_result { CONFIG_PARSE_OK, CONFIG_PARSE_SYNTAX, CONFIG_PARSE_RANGE };

/* For "bad value 'x' for key: expected ...", indexed by enum config_type. */
static const char *const config_expected[] = {
    [CONFIG_INT] = "an integer",
    [CONFIG_SIZE] = "a size in bytes such as 4096, 64k or 128m",
    [CONFIG_DURATION] = "a duration such as 3s or 500ms",
    [CONFIG_BOOL] = "true or false",
    [CONFIG_STRING] = "a string",
    [CONFIG_RATIO] = "a decimal number such as 0.999",
};

__attribute__((format(printf, 4, 5)))
static int config_fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const struct config_key *config_find(const char *name) {
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

/* Trim spaces (and a line's "\r\n") off both ends of s in place. */
static char *config_trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

/* A strict decimal integer: optional '-', digits, nothing else. */
static enum config_parse_result config_parse_integer(const char *text, int64_t *out) {
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (!isdigit((unsigned char)digits[0]))
        return CONFIG_PARSE_SYNTAX;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (*end != '\0')
        return CONFIG_PARSE_SYNTAX;
    if (errno == ERANGE)
        return CONFIG_PARSE_RANGE;
    *out = n;
    return CONFIG_PARSE_OK;
}

/* A decimal number with at most six digits after the point, kept in
 * millionths: optional '-', digits, optionally '.' and digits, and an
 * optional 'f' (Java's float suffix, as Hadoop's XML files write
 * "0.999f"). */
static enum config_parse_result config_parse_ratio(const char *text, int64_t *out) {
    const char *p = text[0] == '-' ? text + 1 : text;
    if (!isdigit((unsigned char)*p))
        return CONFIG_PARSE_SYNTAX;
    int64_t whole = 0, frac = 0, scale = RATIO_SCALE;
    for (; isdigit((unsigned char)*p); p++) {
        int digit = *p - '0';
        if (whole > (INT64_MAX / RATIO_SCALE - digit) / 10)
            return CONFIG_PARSE_RANGE; /* whole * RATIO_SCALE would not fit */
        whole = whole * 10 + digit;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return CONFIG_PARSE_SYNTAX;
        for (; isdigit((unsigned char)*p); p++) {
            if (scale == 1)
                return CONFIG_PARSE_SYNTAX; /* more than six places */
            scale /= 10;
            frac += (*p - '0') * scale;
        }
    }
    if (*p == 'f' || *p == 'F')
        p++;
    if (*p != '\0')
        return CONFIG_PARSE_SYNTAX;
    if (whole == INT64_MAX / RATIO_SCALE && frac > INT64_MAX % RATIO_SCALE)
        return CONFIG_PARSE_RANGE;
    *out = (whole * RATIO_SCALE + frac) * (text[0] == '-' ? -1 : 1);
    return CONFIG_PARSE_OK;
}

/* Digits followed by an optional suffix from units (case-insensitive); a bare
 * number is multiplied by bare_scale.  Signs, spaces and overflow fail. */
static enum config_parse_result config_parse_scaled(const char *text, const struct config_unit *units,
                                                    int64_t bare_scale, int64_t *out) {
    if (!isdigit((unsigned char)text[0]))
        return CONFIG_PARSE_SYNTAX;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    int64_t scale = bare_scale;
    if (*end != '\0') {
        scale = 0;
        for (const struct config_unit *u = units; u->suffix != NULL; u++)
            if (strcasecmp(end, u->suffix) == 0)
                scale = u->scale;
        if (scale == 0)
            return CONFIG_PARSE_SYNTAX;
    }
    if (errno == ERANGE || n > INT64_MAX / scale)
        return CONFIG_PARSE_RANGE;
    *out = n * scale;
    return CONFIG_PARSE_OK;
}

/* A duration: a decimal number of units, rounded to the millisecond --
 * digits, at most six places after an optional point, then an optional
 * suffix from units (a bare number is multiplied by bare_scale): "500ms",
 * "1.5h", "0.05" (minutes, for fs.trash.interval, which Hadoop reads as a
 * float). */
static enum config_parse_result config_parse_duration(const char *text,
                                                      const struct config_unit *units,
                                                      int64_t bare_scale, int64_t *out) {
    size_t n = strspn(text, "0123456789.");
    char number[64];
    if (n == 0 || n >= sizeof number)
        return n == 0 ? CONFIG_PARSE_SYNTAX : CONFIG_PARSE_RANGE;
    memcpy(number, text, n);
    number[n] = '\0';
    int64_t scale = bare_scale;
    if (text[n] != '\0') {
        scale = 0;
        for (const struct config_unit *u = units; u->suffix != NULL; u++)
            if (strcasecmp(text + n, u->suffix) == 0)
                scale = u->scale;
        if (scale == 0)
            return CONFIG_PARSE_SYNTAX;
    }
    int64_t millionths;
    enum config_parse_result r = config_parse_ratio(number, &millionths);
    if (r != CONFIG_PARSE_OK)
        return r;
    int64_t whole = millionths / RATIO_SCALE, frac = millionths % RATIO_SCALE;
    if (whole > INT64_MAX / scale - 1)
        return CONFIG_PARSE_RANGE;
    *out = whole * scale + (frac * scale + RATIO_SCALE / 2) / RATIO_SCALE;
    return CONFIG_PARSE_OK;
}

int config_parse_size(const char *text, int64_t *bytes) {
    return config_parse_scaled(text, config_size_units, 1, bytes) == CONFIG_PARSE_OK ? 0 : EMBER_ECONFIG;
}

int config_parse_bool(const char *text, int *value) {
    static const char *const words[][2] = {{"false", "true"}, {"no", "yes"}, {"0", "1"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        for (int v = 0; v <= 1; v++) {
            if (strcasecmp(text, words[i][v]) == 0) {
                *value = v;
                return 0;
            }
        }
    }
    return EMBER_ECONFIG;
}

/* A RATIO in millionths as the shortest decimal that reads back the same
 * ("0.999", "1", "-0.5"). */
static void config_format_ratio(int64_t n, char *buf, size_t len) {
    uint64_t mag = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    uint64_t frac = mag % RATIO_SCALE;
    int places = 6;
    while (places > 0 && frac % 10 == 0 && frac != 0) {
        frac /= 10;
        places--;
    }
    if (frac == 0)
        snprintf(buf, len, "%s%" PRIu64, n < 0 ? "-" : "", mag / RATIO_SCALE);
    else
        snprintf(buf, len, "%s%" PRIu64 ".%0*" PRIu64, n < 0 ? "-" : "", mag / RATIO_SCALE,
                 places, frac);
}

/* Format a number of key's type for a message, in its largest exact unit
 * ("1h", "64k"), so range errors read like the values users write. */
static void config_format_friendly(const struct config_key *key, int64_t n, char *buf, size_t len) {
    const struct config_unit *units = key->type == CONFIG_DURATION ? config_duration_units
                                      : key->type == CONFIG_SIZE   ? config_size_units
                                                                   : NULL;
    if (key->type == CONFIG_RATIO) {
        config_format_ratio(n, buf, len);
        return;
    }
    const char *suffix = key->type == CONFIG_DURATION ? "ms" : "";
    int64_t scale = 1;
    for (const struct config_unit *u = units; u != NULL && u->suffix != NULL; u++) {
        if (n != 0 && n % u->scale == 0) {
            scale = u->scale;
            suffix = u->suffix;
        }
    }
    snprintf(buf, len, "%" PRId64 "%s", n / scale, suffix);
}

/* Parse text as a value of key into *out.  On success a STRING's copy in
 * out->text belongs to the caller; on failure nothing is allocated. */
static int config_parse_value(const struct config_key *key, const char *text, struct config_value *out,
                              char *err, size_t errlen) {
    enum config_parse_result result = CONFIG_PARSE_OK;
    int flag = 0;
    out->number = 0;
    out->text = NULL;
    switch (key->type) {
    case CONFIG_STRING:
        out->text = strdup(text);
        if (out->text == NULL)
            return config_fail(err, errlen, EMBER_ENOMEM, "out of memory setting %s", key->name);
        return 0;
    case CONFIG_BOOL:
        result = config_parse_bool(text, &flag) == 0 ? CONFIG_PARSE_OK : CONFIG_PARSE_SYNTAX;
        out->number = flag;
        break;
    case CONFIG_INT:
        result = config_parse_integer(text, &out->number);
        break;
    case CONFIG_SIZE:
        result = config_parse_scaled(text, config_size_units, 1, &out->number);
        break;
    case CONFIG_DURATION:
        result = config_parse_duration(text, config_duration_units, key->unit, &out->number);
        break;
    case CONFIG_RATIO:
        result = config_parse_ratio(text, &out->number);
        break;
    }
    if (result == CONFIG_PARSE_SYNTAX)
        return config_fail(err, errlen, EMBER_ECONFIG, "bad value '%s' for %s: expected %s", text, key->name,
                           config_expected[key->type]);
    if (key->type != CONFIG_BOOL &&
        (result == CONFIG_PARSE_RANGE || out->number < key->min || out->number > key->max)) {
        char min[32], max[32];
        config_format_friendly(key, key->min, min, sizeof min);
        config_format_friendly(key, key->max, max, sizeof max);
        return config_fail(err, errlen, EMBER_ECONFIG, "bad value '%s' for %s: must be between %s and %s", text,
                           key->name, min, max);
    }
    return 0;
}

int config_create(config **out) {
    int rc = 0;
    *out = NULL;
    config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return EMBER_ENOMEM;
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        rc = config_set(cfg, config_keys[i].name, config_keys[i].default_value, NULL, 0);
        assert(rc != EMBER_ECONFIG && "bad default in config_keys");
        if (rc != 0)
            goto fail;
    }
    *out = cfg;
    return 0;
fail:
    config_destroy(cfg);
    return rc;
}

void config_destroy(config *cfg) {
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
        free(cfg->values[i].text);
    for (size_t i = 0; i < cfg->nignored; i++)
        free(cfg->ignored[i]);
    free(cfg);
}

/* Levenshtein distance between a and b, capped at cap + 1 (enough to
 * rank near misses). */
static size_t config_distance(const char *a, const char *b, size_t cap) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 128 || lb > 128)
        return cap + 1;
    size_t row[129];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0], best = i;
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t v = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
    }
    return row[lb];
}

/* The known key nearest to name, and its distance. */
static const char *config_nearest(const char *name, size_t *distance) {
    const char *best = config_keys[0].name;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        size_t d = config_distance(name, config_keys[i].name, 64);
        if (d < bestd) {
            bestd = d;
            best = config_keys[i].name;
        }
    }
    *distance = bestd;
    return best;
}


/* A key not in the table: a near miss of an ember key is an error that
 * names it; one of Hadoop's keys (hadoop_keys.c) is remembered as ignored
 * (0); anything else is an error with the nearest key. */
static int config_unknown(config *cfg, const char *key, char *err, size_t errlen) {
    if (key == NULL || key[0] == '\0')
        return config_fail(err, errlen, EMBER_ECONFIG, "unknown configuration key '%s'",
                           key ? key : "(null)");
    size_t d;
    const char *near = config_nearest(key, &d);
    size_t len = strlen(key);
    if (d <= 2 + len / 16)
        return config_fail(err, errlen, EMBER_ECONFIG,
                           "unknown configuration key '%s' (did you mean '%s'?)", key, near);
    if (!hadoop_key_known(key))
        return config_fail(err, errlen, EMBER_ECONFIG,
                           "unknown configuration key '%s' (the nearest ember key is '%s')", key,
                           near);
    for (size_t i = 0; i < cfg->nignored; i++)
        if (strcmp(cfg->ignored[i], key) == 0)
            return 0;
    if (cfg->nignored < CONFIG_IGNORED_MAX) {
        char *copy = strdup(key);
        if (copy == NULL)
            return config_fail(err, errlen, EMBER_ENOMEM, "out of memory");
        cfg->ignored[cfg->nignored++] = copy;
    }
    return 0;
}

size_t config_ignored_keys(const config *cfg, const char *const **keys) {
    *keys = (const char *const *)cfg->ignored;
    return cfg->nignored;
}

int config_set(config *cfg, const char *key, const char *value, char *err, size_t errlen) {
    const struct config_key *k = config_find(key);
    if (k == NULL)
        return config_unknown(cfg, key, err, errlen);
    struct config_value parsed;
    int rc = config_parse_value(k, value, &parsed, err, errlen);
    if (rc != 0)
        return rc;
    struct config_value *slot = &cfg->values[k - config_keys];
    free(slot->text);
    *slot = parsed;
    return 0;
}

int config_apply_define(config *cfg, const char *key_equals_value, char *err, size_t errlen) {
    const char *eq = strchr(key_equals_value, '=');
    if (eq == NULL)
        return config_fail(err, errlen, EMBER_ECONFIG, "bad -D argument '%s': expected key=value",
                           key_equals_value);
    char *copy = strdup(key_equals_value);
    if (copy == NULL)
        return config_fail(err, errlen, EMBER_ENOMEM, "out of memory");
    size_t key_len = (size_t)(eq - key_equals_value);
    copy[key_len] = '\0';
    int rc = config_set(cfg, config_trim(copy), config_trim(copy + key_len + 1), err, errlen);
    free(copy);
    return rc;
}

int config_load_file(config *cfg, const char *path, char *err, size_t errlen) {
    char *line = NULL, why[512];
    size_t capacity = 0;
    unsigned line_no = 0;
    int rc = 0;
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return config_fail(err, errlen, EMBER_EIO, "cannot read config file '%s': %s", path, strerror(errno));
    errno = 0;
    while (getline(&line, &capacity, file) != -1) {
        line_no++;
        char *text = config_trim(line);
        if (*text == '\0' || *text == '#')
            continue;
        char *eq = strchr(text, '=');
        if (eq == NULL) {
            rc = config_fail(err, errlen, EMBER_ECONFIG, "%s:%u: expected 'key = value', got '%s'", path,
                             line_no, text);
            goto done;
        }
        *eq = '\0';
        rc = config_set(cfg, config_trim(text), config_trim(eq + 1), why, sizeof why);
        if (rc != 0) {
            config_fail(err, errlen, rc, "%s:%u: %s", path, line_no, why);
            goto done;
        }
    }
    if (ferror(file))
        rc = config_fail(err, errlen, EMBER_EIO, "cannot read config file '%s': %s", path, strerror(errno));
done:
    free(line);
    fclose(file);
    return rc;
}

int64_t config_get_int(const config *cfg, const char *key) {
    const struct config_key *k = config_find(key);
    assert(k != NULL && "unknown configuration key");
    assert(k->type != CONFIG_STRING && "config_get_int on a STRING key");
    if (k == NULL || k->type == CONFIG_STRING)
        return 0;
    return cfg->values[k - config_keys].number;
}

const char *config_get_string(const config *cfg, const char *key) {
    const struct config_key *k = config_find(key);
    assert(k != NULL && "unknown configuration key");
    assert(k->type == CONFIG_STRING && "config_get_string on a non-STRING key");
    if (k == NULL || k->type != CONFIG_STRING)
        return "";
    return cfg->values[k - config_keys].text;
}

int config_key_known(const char *key) {
    return config_find(key) != NULL;
}

/* Writes the value of key i in its canonical string form into text. */
static void config_format_at(const config *cfg, size_t i, char *text, size_t textlen) {
    const struct config_key *key = &config_keys[i];
    const struct config_value *value = &cfg->values[i];
    switch (key->type) {
    case CONFIG_STRING: snprintf(text, textlen, "%s", value->text); break;
    case CONFIG_BOOL: snprintf(text, textlen, "%s", value->number ? "true" : "false"); break;
    case CONFIG_DURATION: snprintf(text, textlen, "%" PRId64 "ms", value->number); break;
    case CONFIG_INT:
    case CONFIG_SIZE: snprintf(text, textlen, "%" PRId64, value->number); break;
    case CONFIG_RATIO: config_format_ratio(value->number, text, textlen); break;
    }
}

void config_write(const config *cfg, FILE *out) {
    char text[4096];
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        config_format_at(cfg, i, text, sizeof text);
        fprintf(out, "%s = %s\n", config_keys[i].name, text);
    }
}

int config_format(const config *cfg, const char *key, char *text, size_t textlen) {
    const struct config_key *k = config_find(key);
    if (k == NULL)
        return EMBER_ENOENT;
    config_format_at(cfg, (size_t)(k - config_keys), text, textlen);
    return EMBER_OK;
}

void config_write_markdown(FILE *out) {
    static const char *const type_names[] = {
        [CONFIG_INT] = "integer", [CONFIG_SIZE] = "size", [CONFIG_DURATION] = "duration",
        [CONFIG_BOOL] = "boolean", [CONFIG_STRING] = "string", [CONFIG_RATIO] = "ratio",
    };
    fprintf(out, "# Configuration keys\n\n"
                 "Every key ember reads, with its type, default and meaning, in the order of\n"
                 "the key table in `common/config.c`. This file is generated from that table\n"
                 "(`ember getconf -markdown > docs/configuration.md`) and a test compares the\n"
                 "two, so it cannot drift. Set keys with `-D key=value` on `ember cluster` and\n"
                 "on client commands, or in a file of `key = value` lines given with\n"
                 "`--conf FILE`. Sizes take k, m, g, t (powers of 1024); durations take ms,\n"
                 "s, m, h, d, may be decimal (`1.5h`), and a bare number means the unit the\n"
                 "key's meaning names (else seconds). Hadoop's own keys that ember does not use (`fs.defaultFS`,\n"
                 "`io.file.buffer.size`, ...) are accepted with a warning.\n\n"
                 "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const struct config_key *k = &config_keys[i];
        fprintf(out, "| `%s` | %s | %s%s%s | %s |\n", k->name, type_names[k->type],
                k->default_value[0] ? "`" : "", k->default_value[0] ? k->default_value : "(empty)",
                k->default_value[0] ? "`" : "", k->description);
    }
}
