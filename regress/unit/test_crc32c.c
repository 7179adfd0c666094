/*
 * test_crc32c: the iSCSI digest.  RFC 3720 Appendix B.4's vectors (the
 * bytes as they go on the wire), the "123456789" check value, chaining,
 * and random buffers, lengths and split points against a slow bitwise
 * reference written here from the definition, first with crc32c.c's own
 * bitwise code, then with ISA-L's (crc32c_load).  Prints one line per
 * failed check, exits 1 if any failed.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

#include "check.h"

static uint32_t	ref_crc32c(const uint8_t *, size_t);
static int	wire_is(uint32_t, const uint8_t[4]);
static void	test_vectors(void);
static void	test_chain(void);
static void	test_random(void);

/* Reflected polynomial 0x1EDC6F41, one bit at a time. */
static uint32_t
ref_crc32c(const uint8_t *p, size_t len)
{
	uint32_t	 crc = 0xffffffff;
	size_t		 i;
	int		 k;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78U : 0);
	}
	return (~crc);
}

static int
wire_is(uint32_t crc, const uint8_t want[4])
{
	uint8_t	 b[4];

	crc32c_put(b, crc);
	return (memcmp(b, want, 4) == 0 && crc32c_get(b) == crc);
}

static void
test_vectors(void)
{
	static const uint8_t read10[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t w_zero[4] = { 0xaa, 0x36, 0x91, 0x8a };
	static const uint8_t w_ones[4] = { 0x43, 0xab, 0xa8, 0x62 };
	static const uint8_t w_inc[4] = { 0x4e, 0x79, 0xdd, 0x46 };
	static const uint8_t w_dec[4] = { 0x5c, 0xdb, 0x3f, 0x11 };
	static const uint8_t w_read10[4] = { 0x56, 0x3a, 0x96, 0xd9 };
	uint8_t		 buf[32];
	int		 i;

	memset(buf, 0, sizeof(buf));
	CHECK(wire_is(crc32c(buf, 32), w_zero));
	CHECK(wire_is(ref_crc32c(buf, 32), w_zero));
	memset(buf, 0xff, sizeof(buf));
	CHECK(wire_is(crc32c(buf, 32), w_ones));
	CHECK(wire_is(ref_crc32c(buf, 32), w_ones));
	for (i = 0; i < 32; i++)
		buf[i] = i;
	CHECK(wire_is(crc32c(buf, 32), w_inc));
	CHECK(wire_is(ref_crc32c(buf, 32), w_inc));
	for (i = 0; i < 32; i++)
		buf[i] = 31 - i;
	CHECK(wire_is(crc32c(buf, 32), w_dec));
	CHECK(wire_is(ref_crc32c(buf, 32), w_dec));
	CHECK(wire_is(crc32c(read10, 48), w_read10));
	CHECK(wire_is(ref_crc32c(read10, 48), w_read10));

	/* The catalogue check value of CRC-32C. */
	CHECK(crc32c("123456789", 9) == 0xe3069283);
	CHECK(crc32c("", 0) == 0);
	CHECK(crc32c(NULL, 0) == 0);
}

static void
test_chain(void)
{
	const char	*s = "123456789";
	uint32_t	 c;

	c = crc32c_update(0, s, 4);
	CHECK(c == crc32c(s, 4));
	CHECK(crc32c_update(c, s + 4, 5) == 0xe3069283);
	CHECK(crc32c_update(crc32c_update(0, s, 9), "", 0) == 0xe3069283);
}

static void
test_random(void)
{
	static uint8_t	 buf[70000];
	size_t		 i, len, cut;
	int		 n, bad = 0;

	srandom(12345);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = random();
	for (n = 0; n < 300; n++) {
		len = n < 100 ? (size_t)n : (size_t)random() % sizeof(buf);
		i = random() % (sizeof(buf) - len + 1);	/* any alignment */
		cut = len > 0 ? (size_t)random() % (len + 1) : 0;
		if (crc32c(buf + i, len) != ref_crc32c(buf + i, len))
			bad++;
		if (crc32c_update(crc32c(buf + i, cut), buf + i + cut,
		    len - cut) != ref_crc32c(buf + i, len))
			bad++;
	}
	CHECK(bad == 0);
	/* A single flipped bit changes the digest. */
	len = 8192;
	for (n = 0; n < 64; n++) {
		uint32_t	 before = crc32c(buf, len);

		i = random() % (len * 8);
		buf[i / 8] ^= 1 << (i % 8);
		if (crc32c(buf, len) == before)
			bad++;
		buf[i / 8] ^= 1 << (i % 8);
	}
	CHECK(bad == 0);
}

int
main(void)
{
	const char	*errstr = NULL;

	/* The bitwise code of the parent and the workers, then ISA-L's. */
	test_vectors();
	test_chain();
	test_random();
	CHECK(crc32c_load(&errstr) == 0);
	if (errstr != NULL)
		printf("test_crc32c: crc32c_load: %s\n", errstr);
	test_vectors();
	test_chain();
	test_random();
	if (failures > 0) {
		printf("test_crc32c: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test_crc32c: %d checks passed\n", checks);
	return (0);
}
