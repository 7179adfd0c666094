/*
 * crc32c.c: CRC32C for iSCSI digests, computed by ISA-L's crc32_iscsi,
 * which picks at run time the fastest code the CPU allows (SSE4.2
 * crc32 instructions with PCLMULQDQ folding, or tables).
 *
 * crc32_iscsi(buf, len, init) runs the reflected CRC from init and
 * returns the register without the final inversion: with init
 * 0xffffffff, the CRC32C is its complement (regress/unit/test_crc32c.c
 * checks this against RFC 3720's vectors and a bitwise reference).
 * Chaining therefore passes ~crc in and complements what comes out.
 */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <isa-l/crc.h>

#include "crc32c.h"

uint32_t
crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint32_t		 reg = ~crc;
	size_t			 n;

	/* crc32_iscsi takes an int length. */
	while (len > 0) {
		n = len > INT_MAX ? (size_t)INT_MAX & ~(size_t)7 : len;
		reg = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, reg);
		p += n;
		len -= n;
	}
	return (~reg);
}

uint32_t
crc32c(const void *buf, size_t len)
{
	return (crc32c_update(0, buf, len));
}

void
crc32c_put(uint8_t dst[4], uint32_t crc)
{
	dst[0] = crc;
	dst[1] = crc >> 8;
	dst[2] = crc >> 16;
	dst[3] = crc >> 24;
}

uint32_t
crc32c_get(const uint8_t src[4])
{
	return ((uint32_t)src[0] | (uint32_t)src[1] << 8 |
	    (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24);
}
