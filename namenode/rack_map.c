/* rack_map.c -- the node -> rack table (see rack_map.h).  A handful of
 * lines per cluster: a linear array is all it needs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "rack_map.h"

typedef struct {
    char *node;
    char *rack;
} rack_entry;

struct rack_map {
    rack_entry *entries;
    size_t n, cap;
};

void rack_map_destroy(rack_map *map) {
    if (map == NULL)
        return;
    for (size_t i = 0; i < map->n; i++) {
        free(map->entries[i].node);
        free(map->entries[i].rack);
    }
    free(map->entries);
    free(map);
}

int rack_map_load(const char *path, rack_map **out, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read topology file '%s': %s", path, strerror(errno));
        return EMBER_EIO;
    }
    rack_map *map = calloc(1, sizeof(*map));
    int rc = map != NULL ? EMBER_OK : EMBER_ENOMEM;
    char line[1024];
    for (int lineno = 1; rc == EMBER_OK && fgets(line, sizeof(line), f) != NULL; lineno++) {
        char node[512], rack[512], extra[2];
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        int fields = sscanf(line, "%511s %511s %1s", node, rack, extra);
        if (fields <= 0)
            continue; /* blank or comment */
        if (fields != 2 || rack[0] != '/') {
            snprintf(err, errlen, "%s:%d: expected 'NODE /RACK'", path, lineno);
            rc = EMBER_ECONFIG;
            break;
        }
        if (map->n == map->cap) {
            size_t ncap = map->cap ? map->cap * 2 : 16;
            rack_entry *p = realloc(map->entries, ncap * sizeof(*p));
            if (p == NULL) {
                rc = EMBER_ENOMEM;
                break;
            }
            map->entries = p;
            map->cap = ncap;
        }
        rack_entry *e = &map->entries[map->n];
        e->node = strdup(node);
        e->rack = strdup(rack);
        if (e->node == NULL || e->rack == NULL) {
            free(e->node);
            free(e->rack);
            rc = EMBER_ENOMEM;
            break;
        }
        map->n++;
    }
    fclose(f);
    if (rc != EMBER_OK) {
        rack_map_destroy(map);
        return rc;
    }
    *out = map;
    return EMBER_OK;
}

static const char *rack_map_find(const rack_map *map, const char *name) {
    for (size_t i = 0; name != NULL && i < map->n; i++)
        if (strcmp(map->entries[i].node, name) == 0)
            return map->entries[i].rack;
    return NULL;
}

const char *rack_map_lookup(const rack_map *map, const char *node_name, const char *host) {
    if (map == NULL)
        return RACK_MAP_DEFAULT;
    const char *rack = rack_map_find(map, node_name);
    if (rack == NULL)
        rack = rack_map_find(map, host);
    return rack != NULL ? rack : RACK_MAP_DEFAULT;
}

size_t rack_map_racks(const rack_map *map) {
    size_t distinct = 0;
    for (size_t i = 0; map != NULL && i < map->n; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(map->entries[k].rack, map->entries[i].rack) == 0;
        distinct += !seen;
    }
    return distinct;
}
