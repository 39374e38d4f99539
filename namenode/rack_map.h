/* rack_map.h -- which rack each node is in (HDFS's TableMapping).
 *
 * Read from the file named by net.topology.table.file.name: one
 * "NODE RACK" pair per line, '#' comments and blank lines allowed.  NODE
 * is a node's name as `dfsadmin -report` shows it ("node-3") or its host
 * name; RACK is a path such as "/dc1/rack7".  A node the file does not
 * name is in "/default-rack", as in HDFS. */
#ifndef EMBER_RACK_MAP_H
#define EMBER_RACK_MAP_H

#include <stddef.h>

#define RACK_MAP_DEFAULT "/default-rack"

typedef struct rack_map rack_map;

/* Loads path.  A missing or unreadable file, a line without exactly two
 * fields, or a rack not starting with '/' is EMBER_ECONFIG (EMBER_EIO for
 * an unreadable file) with "PATH:LINE: reason" in err. */
int rack_map_load(const char *path, rack_map **out, char *err, size_t errlen);
void rack_map_destroy(rack_map *map);

/* The rack of the node called node_name, else of host, else the default.
 * map may be NULL (every node in the default rack).  The string lives as
 * long as the map (or is static). */
const char *rack_map_lookup(const rack_map *map, const char *node_name, const char *host);

/* Distinct racks named by the file (0 when map is NULL). */
size_t rack_map_racks(const rack_map *map);

#endif
