/* fuzz_ifile.c -- libFuzzer target: IFile segments as a reduce or a merge
 * reads them (the shuffle will hand a reduce segments fetched from other
 * nodes), plain and lz4- or zstd-compressed.
 *
 * Input: byte 0 holds flags.  Bit 0 clear: the rest is a segment, read
 * from memory and from a file through a 64-byte buffer; both readers must
 * agree record for record and end the same way (0 or an EMBER_E* code).
 * Bit 0 set: the rest is records to write (each a byte k, k key bytes, a
 * byte v, v value bytes, as far as the input goes), written as one
 * segment with codec (flags >> 1) % 3 and read back: the same records,
 * ending well, the index's lengths right; then the segment with one byte
 * changed (where depends on the input) must read as EMBER_ECORRUPT: a
 * CRC32C catches every error burst of 32 bits or less. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "mapreduce/ifile.h"

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_ifile: %s failed at line %d\n", #c, __LINE__);                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A file holding data, for the file reader. */
static int fuzz_file(const uint8_t *data, size_t size) {
    int fd = memfd_create("ifile", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    return fd;
}

/* Reads a segment both ways; the records must agree.  The end's code. */
static int fuzz_read_both(const uint8_t *seg, size_t len) {
    int fd = fuzz_file(seg, len);
    ifile_range range = {.offset = 0, .length = len};
    ifile_reader mem, file;
    ifile_reader_open_memory(&mem, seg, len);
    FUZZ_CHECK(ifile_reader_open(&file, fd, &range, 64) == EMBER_OK);
    int a, b;
    for (;;) {
        kv_record x, y;
        a = mem.base.next(&mem.base, &x);
        b = file.base.next(&file.base, &y);
        FUZZ_CHECK(a == b);
        if (a != 1)
            break;
        FUZZ_CHECK(x.key_len == y.key_len && x.value_len == y.value_len);
        FUZZ_CHECK(memcmp(x.key, y.key, x.key_len) == 0);
        FUZZ_CHECK(x.value_len == 0 || memcmp(x.value, y.value, x.value_len) == 0);
    }
    ifile_reader_close(&mem);
    ifile_reader_close(&file);
    close(fd);
    return a;
}

/* The records the input describes, as (offset, length) pairs into it. */
typedef struct {
    size_t key, key_len, value, value_len;
} fuzz_record;

static size_t fuzz_records(const uint8_t *p, size_t n, fuzz_record *out, size_t max) {
    size_t at = 0, count = 0;
    while (count < max && at < n) {
        fuzz_record r = {.key = at + 1, .key_len = p[at]};
        at = r.key + r.key_len;
        if (at >= n)
            break;
        r.value = at + 1;
        r.value_len = p[at];
        at = r.value + r.value_len;
        if (at > n)
            break;
        out[count++] = r;
    }
    return count;
}

static void fuzz_write_and_damage(const uint8_t *p, size_t n, int codec) {
    static fuzz_record recs[4096];
    size_t count = fuzz_records(p, n, recs, 4096);
    char path[] = "/tmp/fuzz-ifile-XXXXXX";
    int tmp = mkstemp(path);
    FUZZ_CHECK(tmp >= 0);
    close(tmp);
    ifile_writer w;
    FUZZ_CHECK(ifile_writer_open_codec(&w, path, codec) == EMBER_OK);
    ifile_writer_begin(&w);
    for (size_t i = 0; i < count; i++)
        FUZZ_CHECK(ifile_writer_append(&w, p + recs[i].key, recs[i].key_len, p + recs[i].value,
                                       recs[i].value_len) == EMBER_OK);
    ifile_range r;
    FUZZ_CHECK(ifile_writer_end(&w, &r) == EMBER_OK);
    uint64_t bytes;
    FUZZ_CHECK(ifile_writer_close(&w, &bytes) == EMBER_OK);
    FUZZ_CHECK(r.offset == 0 && r.length == bytes && r.records == count);
    FILE *f = fopen(path, "rb");
    uint8_t *seg = malloc(bytes);
    FUZZ_CHECK(f != NULL && seg != NULL && fread(seg, 1, bytes, f) == bytes);
    fclose(f);
    unlink(path);
    if (codec == IFILE_CODEC_NONE)
        FUZZ_CHECK(r.raw_length == r.length);
    ifile_reader rd;
    ifile_reader_open_memory(&rd, seg, bytes);
    kv_record rec;
    size_t i = 0;
    int rc;
    while ((rc = rd.base.next(&rd.base, &rec)) == 1) {
        FUZZ_CHECK(i < count && rec.key_len == recs[i].key_len &&
                   rec.value_len == recs[i].value_len);
        FUZZ_CHECK(memcmp(rec.key, p + recs[i].key, rec.key_len) == 0);
        FUZZ_CHECK(rec.value_len == 0 || memcmp(rec.value, p + recs[i].value, rec.value_len) == 0);
        i++;
    }
    FUZZ_CHECK(rc == 0 && i == count);
    ifile_reader_close(&rd);
    size_t at = (n * 2654435761u) % bytes;
    seg[at] ^= (uint8_t)(1 + n % 255);
    FUZZ_CHECK(fuzz_read_both(seg, bytes) == EMBER_ECORRUPT);
    free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    log_set_level((log_level)(LOG_LEVEL_ERROR + 1)); /* corrupt input is the point: quiet */
    if (data[0] & 1)
        fuzz_write_and_damage(data + 1, size - 1, (data[0] >> 1) % 3);
    else
        (void)fuzz_read_both(data + 1, size - 1);
    return 0;
}
