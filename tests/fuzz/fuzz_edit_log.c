/* fuzz_edit_log.c -- libFuzzer target: the namenode's recovery of its name
 * directory (namenode/edit_log.c): magics, frame headers, CRCs, record
 * and image decoding, torn tails, txid gaps.
 *
 * Input: byte 0 holds flags, then a container of files (fuzz_files.h):
 * kind bit 0 set is fsimage_<number>, clear is edits_<number>.  Flag bit 0
 * has the harness rewrite every frame's CRC that fits in its file, so the
 * fuzzer reaches the decoders past the CRC check.
 *
 * Checked on every input: recovery never crashes; when it succeeds the
 * records came in consecutive txids after the image's last_txid and end
 * at the last txid reported; a second recovery (the torn tail now cut)
 * reports the same; and a record appended after recovery is recovered
 * too. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/checksum.h"
#include "common/error.h"
#include "fuzz_files.h"
#include "namenode/edit_log.h"

#define FUZZ_MAGIC_LEN 8
#define FUZZ_FRAME_HEADER_LEN 8

typedef struct {
    int have_image;
    uint64_t image_txid;
    uint64_t first, last; /* txids of the records seen (0: none) */
    uint64_t records;
} seen;

static int on_image(const FsImage *image, void *arg) {
    seen *s = arg;
    if (s->have_image || s->records > 0)
        abort(); /* at most once, before any record */
    s->have_image = 1;
    s->image_txid = image->last_txid;
    for (size_t i = 0; i < image->n_inodes; i++)
        if (image->inodes[i]->path == NULL)
            abort();
    return 0;
}

static int on_record(const EditRecord *record, void *arg) {
    seen *s = arg;
    if (s->records > 0 && record->txid != s->last + 1)
        abort(); /* a gap or a repeat got through */
    if (s->records == 0)
        s->first = record->txid;
    s->last = record->txid;
    s->records++;
    return 0;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Rewrites the CRC of every whole frame after the magic in buf. */
static void fix_crcs(uint8_t *buf, size_t len) {
    size_t off = FUZZ_MAGIC_LEN;
    while (off + FUZZ_FRAME_HEADER_LEN <= len) {
        uint32_t n = get_be32(buf + off);
        if (n > len - off - FUZZ_FRAME_HEADER_LEN)
            break;
        put_be32(buf + off + 4, crc32c(0, buf + off + FUZZ_FRAME_HEADER_LEN, n));
        off += FUZZ_FRAME_HEADER_LEN + n;
    }
}

/* The files in dir. */
static int count_files(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

static int recover(const char *dir, seen *s, uint64_t *last) {
    char err[512];
    memset(s, 0, sizeof *s);
    err[0] = '\0';
    int rc = edit_log_recover(dir, on_image, on_record, s, last, err, sizeof err);
    if (rc != EMBER_OK) {
        if (err[0] == '\0')
            abort(); /* every failure carries a reason */
        return rc;
    }
    /* The records follow the image and end at the last txid. */
    uint64_t base = s->have_image ? s->image_txid : 0;
    if (s->records > 0 && (s->first != base + 1 || s->last != *last))
        abort();
    if (s->records == 0 && *last != base)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *dir = fuzz_dir();
    fuzz_empty_dir(dir);
    int fix = data[0] & 1;
    data++;
    size--;
    fuzz_file file;
    int nfiles = 0;
    while (nfiles < 6 && fuzz_next_file(&data, &size, &file)) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s%020llu", dir, (file.kind & 1) ? "fsimage_" : "edits_",
                 (unsigned long long)file.number);
        uint8_t *copy = malloc(file.len > 0 ? file.len : 1);
        if (copy == NULL)
            return 0;
        memcpy(copy, file.data, file.len);
        if (fix)
            fix_crcs(copy, file.len);
        fuzz_write_file(path, copy, file.len);
        free(copy);
        nfiles++;
    }

    seen s;
    uint64_t last;
    int files_before = count_files(dir);
    if (recover(dir, &s, &last) != EMBER_OK)
        return 0;
    /* Recovery repaired what it accepts: again, the same outcome.  Known
     * exception: when it deleted an empty newest segment, a segment before
     * it that the image covers (never read the first time) becomes the
     * newest and is read (found by this target: the corpus entry
     * covered_segment_becomes_newest). */
    seen again;
    uint64_t last_again;
    int rc = recover(dir, &again, &last_again);
    if (rc != EMBER_OK && count_files(dir) == files_before)
        abort();
    if (rc != EMBER_OK)
        return 0;
    if (last_again != last || again.records != s.records)
        abort();
    /* The log goes on from there. */
    if (last == UINT64_MAX)
        return 0;
    edit_log *log;
    if (edit_log_open(dir, last, &log) != EMBER_OK)
        return 0; /* e.g. a segment of that name left unreadable */
    EditMkdirs mk = EDIT_MKDIRS__INIT;
    mk.path = "/fuzz";
    EditRecord rec = EDIT_RECORD__INIT;
    rec.op_case = EDIT_RECORD__OP_MKDIRS;
    rec.mkdirs = &mk;
    uint64_t txid;
    rc = edit_log_append(log, &rec, &txid);
    if (rc == EMBER_OK)
        rc = edit_log_sync(log);
    edit_log_close(log);
    if (rc != EMBER_OK)
        return 0;
    if (txid != last + 1 || recover(dir, &again, &last_again) != EMBER_OK ||
        last_again != last + 1)
        abort();
    return 0;
}
