/* checksum.c -- CRC32C through ISA-L (see checksum.h).
 *
 * ISA-L's crc32_iscsi() neither inverts the initial value nor the result;
 * the standard CRC32C does both, so the inversions happen here, which also
 * makes chaining work (the result of one piece is the crc of the next). */
#include <isa-l/crc.h>
#include <limits.h>

#include "checksum.h"

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = data;
    crc = ~crc;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        crc = crc32_iscsi((unsigned char *)p, n, crc);
        p += n;
        len -= (size_t)n;
    }
    return ~crc;
}
