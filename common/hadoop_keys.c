/* hadoop_keys.c -- Hadoop's configuration keys that ember takes and does
 * not use (see hadoop_keys.h).
 *
 * The keys Hadoop and EMR users most often carry in their core-site,
 * hdfs-site, mapred-site and yarn-site files and -D options, from Hadoop
 * 3's *-default.xml, plus families whose names hold an id (a nameservice,
 * a bucket, a proxy user).  A key ember uses is in config.c's table, not
 * here.  Sorted, so a binary search finds a key. */
#include <stdlib.h>
#include <string.h>

#include "hadoop_keys.h"

static const char *const hadoop_keys[] = {
    "dfs.balancer.bandwidthPerSec",
    "dfs.block.access.token.enable",
    "dfs.blockreport.initialDelay",
    "dfs.bytes-per-checksum",
    "dfs.checksum.type",
    "dfs.client.block.write.replace-datanode-on-failure.best-effort",
    "dfs.client.block.write.replace-datanode-on-failure.enable",
    "dfs.client.block.write.replace-datanode-on-failure.policy",
    "dfs.client.read.shortcircuit.skip.checksum",
    "dfs.client.read.shortcircuit.streams.cache.size",
    "dfs.client.socket-timeout",
    "dfs.client.use.datanode.hostname",
    "dfs.client.write.packet.size",
    "dfs.datanode.address",
    "dfs.datanode.balance.bandwidthPerSec",
    "dfs.datanode.data.dir.perm",
    "dfs.datanode.dns.interface",
    "dfs.datanode.dns.nameserver",
    "dfs.datanode.failed.volumes.tolerated",
    "dfs.datanode.fsdataset.volume.choosing.policy",
    "dfs.datanode.handler.count",
    "dfs.datanode.http.address",
    "dfs.datanode.ipc.address",
    "dfs.datanode.max.transfer.threads",
    "dfs.datanode.max.xcievers",
    "dfs.datanode.use.datanode.hostname",
    "dfs.heartbeat.recheck.interval",
    "dfs.hosts",
    "dfs.hosts.exclude",
    "dfs.http.address",
    "dfs.image.compress",
    "dfs.image.compression.codec",
    "dfs.namenode.accesstime.precision",
    "dfs.namenode.acls.enabled",
    "dfs.namenode.avoid.read.stale.datanode",
    "dfs.namenode.avoid.write.stale.datanode",
    "dfs.namenode.checkpoint.check.period",
    "dfs.namenode.checkpoint.dir",
    "dfs.namenode.checkpoint.edits.dir",
    "dfs.namenode.datanode.registration.ip-hostname-check",
    "dfs.namenode.edits.dir",
    "dfs.namenode.fs-limits.max-component-length",
    "dfs.namenode.fs-limits.max-directory-items",
    "dfs.namenode.handler.count",
    "dfs.namenode.heartbeat.recheck-interval",
    "dfs.namenode.http-address",
    "dfs.namenode.https-address",
    "dfs.namenode.name.dir.restore",
    "dfs.namenode.replication.max-streams",
    "dfs.namenode.replication.min",
    "dfs.namenode.rpc-address",
    "dfs.namenode.safemode.min.datanodes",
    "dfs.namenode.secondary.http-address",
    "dfs.namenode.service.handler.count",
    "dfs.namenode.servicerpc-address",
    "dfs.namenode.stale.datanode.interval",
    "dfs.nameservices",
    "dfs.permissions",
    "dfs.permissions.superusergroup",
    "dfs.replication.max",
    "dfs.support.append",
    "dfs.webhdfs.enabled",
    "fs.AbstractFileSystem.hdfs.impl",
    "fs.default.name",
    "fs.defaultFS",
    "fs.hdfs.impl",
    "fs.permissions.umask-mode",
    "hadoop.http.staticuser.user",
    "hadoop.rpc.protection",
    "hadoop.security.authentication",
    "hadoop.security.authorization",
    "hadoop.security.group.mapping",
    "hadoop.ssl.enabled",
    "hadoop.tmp.dir",
    "io.bytes.per.checksum",
    "io.compression.codecs",
    "io.file.buffer.size",
    "io.serializations",
    "io.sort.factor",
    "io.sort.mb",
    "ipc.client.connect.max.retries",
    "ipc.client.connect.timeout",
    "ipc.client.connection.maxidletime",
    "ipc.server.listen.queue.size",
    "mapred.child.java.opts",
    "mapred.job.tracker",
    "mapred.reduce.tasks",
    "mapreduce.application.classpath",
    "mapreduce.framework.name",
    "mapreduce.job.maps",
    "mapreduce.job.ubertask.enable",
    "mapreduce.jobhistory.address",
    "mapreduce.jobhistory.webapp.address",
    "mapreduce.map.cpu.vcores",
    "mapreduce.map.java.opts",
    "mapreduce.map.memory.mb",
    "mapreduce.output.fileoutputformat.compress",
    "mapreduce.output.fileoutputformat.compress.codec",
    "mapreduce.output.fileoutputformat.compress.type",
    "mapreduce.reduce.cpu.vcores",
    "mapreduce.reduce.java.opts",
    "mapreduce.reduce.memory.mb",
    "mapreduce.reduce.shuffle.parallelcopies",
    "mapreduce.task.io.sort.factor",
    "net.topology.script.file.name",
    "net.topology.script.number.args",
    "yarn.acl.enable",
    "yarn.app.mapreduce.am.resource.mb",
    "yarn.application.classpath",
    "yarn.log-aggregation-enable",
    "yarn.log-aggregation.retain-seconds",
    "yarn.nodemanager.aux-services",
    "yarn.nodemanager.aux-services.mapreduce_shuffle.class",
    "yarn.nodemanager.local-dirs",
    "yarn.nodemanager.log-dirs",
    "yarn.nodemanager.pmem-check-enabled",
    "yarn.nodemanager.remote-app-log-dir",
    "yarn.nodemanager.resource.detect-hardware-capabilities",
    "yarn.nodemanager.resource.pcores-vcores-multiplier",
    "yarn.nodemanager.vmem-check-enabled",
    "yarn.nodemanager.vmem-pmem-ratio",
    "yarn.resourcemanager.address",
    "yarn.resourcemanager.hostname",
    "yarn.resourcemanager.resource-tracker.address",
    "yarn.resourcemanager.scheduler.address",
    "yarn.resourcemanager.scheduler.class",
    "yarn.resourcemanager.webapp.address",
    "yarn.scheduler.maximum-allocation-mb",
    "yarn.scheduler.maximum-allocation-vcores",
    "yarn.scheduler.minimum-allocation-mb",
    "yarn.scheduler.minimum-allocation-vcores",
};

/* Families whose keys carry an id: every key under these prefixes. */
static const char *const hadoop_key_families[] = {
    "dfs.client.failover.proxy.provider.", "dfs.ha.", "dfs.namenode.http-address.",
    "dfs.namenode.rpc-address.", "fs.azure.", "fs.gs.", "fs.s3.", "fs.s3a.", "fs.s3n.",
    "hadoop.proxyuser.", "yarn.resourcemanager.ha.",
};

static int hadoop_key_cmp(const void *key, const void *elem) {
    return strcmp(key, *(const char *const *)elem);
}

int hadoop_key_known(const char *key) {
    if (bsearch(key, hadoop_keys, sizeof(hadoop_keys) / sizeof(hadoop_keys[0]),
                sizeof(hadoop_keys[0]), hadoop_key_cmp) != NULL)
        return 1;
    for (size_t i = 0; i < sizeof(hadoop_key_families) / sizeof(hadoop_key_families[0]); i++)
        if (strncmp(key, hadoop_key_families[i], strlen(hadoop_key_families[i])) == 0 &&
            key[strlen(hadoop_key_families[i])] != '\0')
            return 1;
    return 0;
}

int hadoop_keys_sorted(void) {
    for (size_t i = 1; i < sizeof(hadoop_keys) / sizeof(hadoop_keys[0]); i++)
        if (strcmp(hadoop_keys[i - 1], hadoop_keys[i]) >= 0)
            return 0;
    return 1;
}
