/*
 * fuzz_pdu.c: PDU framing (src/pdu.c).  The first byte picks the digests
 * and the data segment limit; the rest is a byte stream read PDU after
 * PDU with pdu_read_digest, as a connection would.  Each PDU read whole
 * is written back with pdu_write_digest and read again: the copy must
 * be the same PDU.  LUN fields must survive decode and encode.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "pdu.h"

static const size_t limits[] = { 0, 512, 8192, 262144, 0xffffff };

/* A descriptor holding len bytes of data, positioned at the start. */
static int
stream(const void *data, size_t len)
{
	int	 fd;

	if ((fd = memfd_create("fuzz_pdu", MFD_CLOEXEC)) == -1)
		abort();
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		abort();
	if (lseek(fd, 0, SEEK_SET) == -1)
		abort();
	return (fd);
}

static void
same_pdu(const struct pdu *a, const struct pdu *b)
{
	FUZZ_ASSERT(memcmp(&a->bhs, &b->bhs, sizeof(a->bhs)) == 0);
	FUZZ_ASSERT(a->ahs_len == b->ahs_len);
	FUZZ_ASSERT(a->ahs_len == 0 ||
	    memcmp(a->ahs, b->ahs, a->ahs_len) == 0);
	FUZZ_ASSERT(a->data_len == b->data_len);
	FUZZ_ASSERT(a->data_len == 0 ||
	    memcmp(a->data, b->data, a->data_len) == 0);
}

/* What was read, written with the same digests, reads back the same. */
static void
round_trip(const struct pdu *p, size_t max, int digests)
{
	struct pdu	 copy;
	int		 fd;

	FUZZ_ASSERT(p->ahs_len == (size_t)p->bhs.total_ahs_len * 4);
	FUZZ_ASSERT(p->data_len == pdu_data_len(&p->bhs));
	FUZZ_ASSERT(p->data_len <= max);
	FUZZ_ASSERT(p->data_len == 0 || p->data[p->data_len] == '\0');
	if ((fd = memfd_create("fuzz_pdu_copy", MFD_CLOEXEC)) == -1)
		abort();
	FUZZ_ASSERT(pdu_write_digest(fd, p, digests) == 0);
	FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	FUZZ_ASSERT(pdu_read_digest(fd, &copy, max, digests) == 0);
	same_pdu(p, &copy);
	pdu_free(&copy);
	close(fd);
}

static void
lun(const uint8_t field[8])
{
	uint8_t		 again[8];
	uint64_t	 n;

	if ((n = pdu_lun_decode(field)) == UINT64_MAX)
		return;
	FUZZ_ASSERT(n < 16384);
	pdu_lun_encode(again, n);
	FUZZ_ASSERT(pdu_lun_decode(again) == n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdu	 p;
	size_t		 max;
	int		 fd, digests, rv, n;

	if (size < 1)
		return (0);
	digests = data[0] & (PDU_DIGEST_HEADER | PDU_DIGEST_DATA);
	max = limits[(data[0] >> 2) % (sizeof(limits) / sizeof(limits[0]))];
	fd = stream(data + 1, size - 1);
	for (n = 0; n < 64; n++) {
		rv = pdu_read_digest(fd, &p, max, digests);
		FUZZ_ASSERT(pdu_opcode_name(pdu_opcode(&p.bhs)) != NULL);
		if (rv == 0 || rv == PDU_ERR_DDIGEST)
			lun(p.bhs.lun);
		if (rv == 0)
			round_trip(&p, max, digests);
		pdu_free(&p);
		/* After a data digest error the framing still holds. */
		if (rv != 0 && rv != PDU_ERR_DDIGEST)
			break;
	}
	close(fd);
	return (0);
}
