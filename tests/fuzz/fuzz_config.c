/* fuzz_config.c -- libFuzzer target: the configuration parser
 * (common/config.c): a configuration file (config_load_file()) and -D
 * definitions (config_apply_define()), with every value type's parser
 * (integers, sizes, durations, booleans, ratios, strings) and the range
 * checks.
 *
 * Input: byte 0 picks the path (bit 0: the rest is a file; else each
 * line of the rest is a -D definition), then the text.
 *
 * Checked on every input: nothing crashes (UBSan catches overflow in the
 * number parsers); a failure carries a one-line reason and leaves the
 * configuration as it was; and what config_write() prints of an accepted
 * configuration loads back to the same configuration (it prints the same
 * again). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "fuzz_files.h"

/* config_write() of cfg, malloc'd and NUL-terminated. */
static char *config_text(const config *cfg, size_t *len) {
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        abort();
    config_write(cfg, f);
    fclose(f);
    return text;
}

/* 1 when config_write() of cfg prints exactly the len bytes of want. */
static int config_prints(const config *cfg, const char *want, size_t len) {
    size_t got_len;
    char *got = config_text(cfg, &got_len);
    int same = got_len == len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

static void check_error(const char *err) {
    if (err[0] == '\0' || strchr(err, '\n') != NULL)
        abort(); /* a failure says why, on one line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int as_file = data[0] & 1;
    data++;
    size--;
    config *cfg;
    if (config_create(&cfg) != EMBER_OK)
        return 0;
    char err[1024] = "";
    const char *dir = fuzz_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/ember.conf", dir);
    int rc = EMBER_OK;
    if (as_file) {
        fuzz_write_file(path, data, size);
        rc = config_load_file(cfg, path, err, sizeof err);
        if (rc != EMBER_OK)
            check_error(err);
    } else {
        /* Each line a -D argument, as the command line passes them. */
        char *text = malloc(size + 1);
        if (text == NULL)
            abort();
        memcpy(text, data, size);
        text[size] = '\0';
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            size_t len_before;
            char *was = config_text(cfg, &len_before);
            err[0] = '\0';
            if (config_apply_define(cfg, line, err, sizeof err) != EMBER_OK) {
                check_error(err);
                if (!config_prints(cfg, was, len_before))
                    abort(); /* a failed set changed something */
            }
            free(was);
        }
        free(text);
    }

    /* What config_write() prints loads back to the same. */
    if (rc == EMBER_OK) {
        size_t len;
        char *text = config_text(cfg, &len);
        fuzz_write_file(path, text, len);
        config *again;
        if (config_create(&again) != EMBER_OK)
            abort();
        if (config_load_file(again, path, err, sizeof err) != EMBER_OK)
            abort(); /* config_write() printed what does not load */
        if (!config_prints(again, text, len))
            abort(); /* it loaded as something else */
        free(text);
        config_destroy(again);
    }
    config_destroy(cfg);
    return 0;
}
