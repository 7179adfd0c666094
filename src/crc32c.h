/*
 * crc32c.h: CRC32C (Castagnoli), the iSCSI header and data digest
 * (RFC 7143 sections 11.1 and 13.1, RFC 3720 Appendix B.4): reflected,
 * polynomial 0x1EDC6F41, initial value 0xffffffff, final inversion.
 * The digest goes on the wire least significant byte first.
 */
#ifndef IETD_CRC32C_H
#define IETD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC32C of len bytes. */
uint32_t crc32c(const void *, size_t len);
/*
 * Continue a CRC32C over more bytes, zlib style: crc is the value
 * returned for the bytes before (0 to start), so that
 * crc32c_update(crc32c(a, n), b, m) is the CRC32C of a then b.
 */
uint32_t crc32c_update(uint32_t crc, const void *, size_t len);
/*
 * Load ISA-L and compute with it from now on (io, at start-up); 0, or -1
 * with *errstr set.  Without it the CRC is computed a bit at a time.
 */
int	 crc32c_load(const char **errstr);
/* The 4 wire bytes of a digest, and the digest of 4 wire bytes. */
void	 crc32c_put(uint8_t dst[4], uint32_t crc);
uint32_t crc32c_get(const uint8_t src[4]);

#endif
