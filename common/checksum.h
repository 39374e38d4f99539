/* checksum.h -- CRC32C (Castagnoli), the checksum of HDFS's block meta
 * files and of ember's edit log frames.
 *
 * Computed by ISA-L (Debian's libisal), which uses the CPU's CRC32
 * instruction or carry-less multiply where the CPU has them. */
#ifndef EMBER_CHECKSUM_H
#define EMBER_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The CRC32C of len bytes.  To checksum data in pieces, pass the previous
 * piece's result as crc; start with 0.  crc32c(0, "123456789", 9) is
 * 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
