/*
 * crc32c.c: CRC32C for iSCSI digests.
 *
 * io computes them with ISA-L's crc32_iscsi, which picks at run time the
 * fastest code the CPU allows (SSE4.2 crc32 instructions with PCLMULQDQ
 * folding, or tables).  io loads ISA-L (crc32c_load), as it loads
 * libcrypto (chap.c): the parent and the workers do not map it, for
 * every shared library is six more mappings that each login's fork
 * copies and each worker's exit tears down.  Until then (in the parent,
 * and in a worker, whose only digests are those of a discovery session)
 * the CRC is computed a bit at a time below.
 *
 * crc32_iscsi(buf, len, init) runs the reflected CRC from init and
 * returns the register without the final inversion: with init
 * 0xffffffff, the CRC32C is its complement (regress/unit/test_crc32c.c
 * checks both ways against RFC 3720's vectors and a bitwise reference).
 * Chaining therefore passes ~crc in and complements what comes out.
 */

#include <dlfcn.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <isa-l/crc.h>

#include "crc32c.h"

#define CRC32C_LIBISAL	"libisal.so.2"

static unsigned int	crc32c_bitwise(unsigned char *, int, unsigned int);

static __typeof__(crc32_iscsi)	*crc32c_fn = crc32c_bitwise;

/* The reflected polynomial 0x1EDC6F41, one bit at a time. */
static unsigned int
crc32c_bitwise(unsigned char *p, int len, unsigned int reg)
{
	int	 k;

	while (len-- > 0) {
		reg ^= *p++;
		for (k = 0; k < 8; k++)
			reg = (reg >> 1) ^ ((reg & 1) ? 0x82f63b78U : 0);
	}
	return (reg);
}

int
crc32c_load(const char **errstr)
{
	__typeof__(crc32_iscsi)	*fn;
	void			*h;

	if (crc32c_fn != crc32c_bitwise)
		return (0);
	if ((h = dlopen(CRC32C_LIBISAL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		if (errstr != NULL)
			*errstr = dlerror();
		return (-1);
	}
	if ((fn = (__typeof__(fn))dlsym(h, "crc32_iscsi")) == NULL) {
		if (errstr != NULL)
			*errstr = dlerror();
		dlclose(h);
		return (-1);
	}
	crc32c_fn = fn;
	return (0);
}

uint32_t
crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint32_t		 reg = ~crc;
	size_t			 n;

	/* crc32_iscsi takes an int length. */
	while (len > 0) {
		n = len > INT_MAX ? (size_t)INT_MAX & ~(size_t)7 : len;
		reg = crc32c_fn((unsigned char *)(uintptr_t)p, (int)n, reg);
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
