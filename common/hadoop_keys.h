/* hadoop_keys.h -- Hadoop's own configuration keys that ember does not use.
 *
 * A Hadoop user's files and -D options carry keys such as fs.defaultFS or
 * io.file.buffer.size; ember takes them with a warning instead of refusing
 * the whole configuration.  A key that is neither ember's nor Hadoop's is
 * still an error (config.c). */
#ifndef EMBER_HADOOP_KEYS_H
#define EMBER_HADOOP_KEYS_H

/* 1 when key is one of Hadoop's keys (or of its families with an id,
 * such as fs.s3a.* or dfs.ha.*), 0 otherwise. */
int hadoop_key_known(const char *key);

/* 1 when the table is sorted (a unit test checks it: the lookup is a
 * binary search). */
int hadoop_keys_sorted(void);

#endif
