/* config.h -- ember's configuration store.
 *
 * A config maps Hadoop-style key names ("dfs.heartbeat.interval") to typed
 * values.  Every key is declared once in the table in config.c; values start
 * at the table's defaults and are then overridden by a config file and by
 * `-D key=value` arguments, in that order.  Every cluster rank builds one.
 * Functions return 0 or a negative EMBER_E* code (see error.h). */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct config config; /* opaque */

/* Create a config with every key at its default and store it in *out.  The
 * caller owns the result and frees it with config_destroy().  Returns 0, or
 * EMBER_ENOMEM with *out set to NULL. */
int config_create(config **out);

/* Free a config and every string it owns.  Accepts NULL.  Pointers returned
 * by config_get_string() become invalid. */
void config_destroy(config *cfg);

/* Set one key from its string form, e.g. ("dfs.heartbeat.interval", "3s").
 * A key not in the table is taken, and changes nothing, when it is a
 * Hadoop key ember does not use (fs.defaultFS, io.file.buffer.size: a key
 * under one of Hadoop's prefixes that is not a near miss of an ember key);
 * config_ignored_keys() lists those for one warning each.  Any other
 * unknown key, an unparsable value or one outside the key's range returns
 * EMBER_ECONFIG and writes a one-line message naming the key (and the
 * nearest known key) into err (which may be NULL).  On any error the config is unchanged.  The value string is
 * copied; the caller keeps ownership of key and value. */
int config_set(config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Apply one `-D` argument of the form "key=value".  The value may itself
 * contain '='; spaces around key and value are trimmed.  A missing '='
 * returns EMBER_ECONFIG; otherwise errors are those of config_set(). */
int config_apply_define(config *cfg, const char *key_equals_value, char *err, size_t errlen);

/* Load a file of "key = value" lines into cfg.  Blank lines and lines whose
 * first non-space character is '#' are skipped; spaces around key and value
 * are trimmed.  Loading stops at the first bad line, whose message is
 * prefixed "PATH:LINE: "; lines before it stay applied.  An unreadable file
 * returns EMBER_EIO, a line without '=' or a bad key/value EMBER_ECONFIG. */
int config_load_file(config *cfg, const char *path, char *err, size_t errlen);

/* The value of an INT, SIZE (bytes), DURATION (milliseconds), BOOL (0/1)
 * or RATIO (millionths: "0.999" is 999000) key.  Asking for a key that is not in the table, or for a STRING key, is a
 * programming error and fails an assert(). */
int64_t config_get_int(const config *cfg, const char *key);

/* The value of a STRING key; never NULL ("" when empty).  The string is
 * owned by cfg and stays valid until the key is set again or cfg is
 * destroyed.  An unknown or non-STRING key fails an assert(). */
const char *config_get_string(const config *cfg, const char *key);

/* The Hadoop keys that were set and ignored, in the order first set (at
 * most 32); *keys points into cfg. */
size_t config_ignored_keys(const config *cfg, const char *const **keys);

/* Return 1 if key is in the table, 0 otherwise (including for NULL). */
int config_key_known(const char *key);

/* Write every key and its current value to out, one "key = value" line per
 * key in table order.  Durations are written in milliseconds ("1000ms"),
 * sizes in bytes, ratios as decimals ("0.999"), booleans as true/false,
 * strings verbatim. */
void config_write(const config *cfg, FILE *out);

/* The current value of key in the canonical form config_write() uses;
 * EMBER_ENOENT for a key not in the table. */
int config_format(const config *cfg, const char *key, char *text, size_t textlen);

/* Writes docs/configuration.md: every key of the table with its type,
 * default and meaning, as a Markdown table. */
void config_write_markdown(FILE *out);

/* Parse a byte size such as "4096", "64K" or "128m" (suffixes k, m, g, t in
 * any case, powers of 1024) into *bytes.  Negative numbers, junk and values
 * that overflow int64_t return EMBER_ECONFIG and leave *bytes alone.  This is
 * the parser SIZE keys use, exposed for command-line flags and tests. */
int config_parse_size(const char *text, int64_t *bytes);

/* Parse a boolean: true/false, yes/no (any case) or 1/0, into *value as 1 or
 * 0.  Anything else returns EMBER_ECONFIG and leaves *value alone.  This is
 * the parser BOOL keys use, exposed for command-line flags and tests. */
int config_parse_bool(const char *text, int *value);

#endif
