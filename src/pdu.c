/*
 * pdu.c: iSCSI PDU framing (RFC 7143 section 11).  Reads and writes whole
 * PDUs on blocking descriptors and converts LUN fields.  Framing only:
 * every error is returned to the caller, nothing here exits or logs.
 * Header and data digests (CRC32C) when the caller says they were
 * negotiated; login PDUs never carry them (RFC 7143 13.1).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "pdu.h"

#define AHS_MAX		(255 * 4)	/* TotalAHSLength: one byte of words */
#define DSL_MAX		0xffffffU	/* DataSegmentLength is 24 bits */

static int	read_full(int, void *, size_t);
static int	ahs_check(const uint8_t *, size_t);

/*
 * SAM single-level LUN.  Peripheral device addressing (00b) carries LUNs
 * 0-255 in byte 1 with bus 0; flat space addressing (01b) carries LUNs
 * 0-16383 in the low 14 bits of bytes 0-1.  The other six bytes of a
 * single-level LUN are zero.  Anything else (other bus, logical unit or
 * extended addressing, more levels) decodes to UINT64_MAX, which names no
 * LUN.
 */
uint64_t
pdu_lun_decode(const uint8_t lun[8])
{
	int	 i;

	for (i = 2; i < 8; i++)
		if (lun[i] != 0)
			return (UINT64_MAX);
	switch (lun[0] >> 6) {
	case 0:
		if ((lun[0] & 0x3f) != 0)
			return (UINT64_MAX);
		return (lun[1]);
	case 1:
		return (((uint64_t)(lun[0] & 0x3f) << 8) | lun[1]);
	default:
		return (UINT64_MAX);
	}
}

/*
 * LUNs below 256 use peripheral addressing (what initiators expect to see
 * in REPORT LUNS for small numbers), up to 16383 flat space addressing.
 * Larger numbers cannot be represented at a single level: they encode as
 * all ones, which decodes to UINT64_MAX.
 */
void
pdu_lun_encode(uint8_t lun[8], uint64_t n)
{
	memset(lun, 0, 8);
	if (n < 256)
		lun[1] = n;
	else if (n < 16384) {
		lun[0] = 0x40 | (n >> 8);
		lun[1] = n & 0xff;
	} else
		memset(lun, 0xff, 8);
}

void
pdu_init(struct pdu *pdu)
{
	memset(pdu, 0, sizeof(*pdu));
}

void
pdu_free(struct pdu *pdu)
{
	free(pdu->ahs);
	free(pdu->data);
	pdu->ahs = NULL;
	pdu->ahs_len = 0;
	pdu->data = NULL;
	pdu->data_len = 0;
}

/*
 * Read exactly len bytes.  0, PDU_ERR_EOF if the peer closed the
 * connection before len bytes came, PDU_ERR_IO on a read error.
 */
static int
read_full(int fd, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (PDU_ERR_IO);
		}
		if (n == 0)
			return (PDU_ERR_EOF);
		p += n;
		len -= n;
	}
	return (0);
}

/*
 * Each AHS is AHSLength (2 bytes, big-endian, not counting itself, the
 * type byte or padding), AHSType, then the AHS-specific bytes padded to
 * a multiple of four (RFC 7143 11.2.2).  The AHSs must tile the
 * TotalAHSLength exactly.
 */
static int
ahs_check(const uint8_t *ahs, size_t len)
{
	size_t	 off = 0, alen, total;

	while (off < len) {
		if (len - off < 4)
			return (-1);
		alen = (size_t)ahs[off] << 8 | ahs[off + 1];
		total = 3 + alen;
		total += pdu_padding(total);
		if (alen == 0 || total > len - off)
			return (-1);
		off += total;
	}
	return (0);
}

int
pdu_read(int fd, struct pdu *pdu, size_t max_data)
{
	return (pdu_read_digest(fd, pdu, max_data, 0));
}

int
pdu_read_digest(int fd, struct pdu *pdu, size_t max_data, int digests)
{
	uint8_t	 pad[4], dig[ISCSI_DIGEST_SIZE];
	uint32_t crc;
	size_t	 dlen, padlen;
	int	 rv;

	pdu_init(pdu);
	if ((rv = read_full(fd, &pdu->bhs, sizeof(pdu->bhs))) != 0)
		return (rv);

	/* Without a header digest, refuse a long segment before the AHS. */
	dlen = pdu_data_len(&pdu->bhs);
	if (!(digests & PDU_DIGEST_HEADER) && dlen > max_data)
		return (PDU_ERR_TOOBIG);

	if (pdu->bhs.total_ahs_len != 0) {
		pdu->ahs_len = (size_t)pdu->bhs.total_ahs_len * 4;
		if ((pdu->ahs = malloc(pdu->ahs_len)) == NULL) {
			pdu->ahs_len = 0;
			return (PDU_ERR_IO);
		}
		if ((rv = read_full(fd, pdu->ahs, pdu->ahs_len)) != 0)
			goto fail;
	}
	if (digests & PDU_DIGEST_HEADER) {
		if ((rv = read_full(fd, dig, sizeof(dig))) != 0)
			goto fail;
		crc = crc32c(&pdu->bhs, sizeof(pdu->bhs));
		crc = crc32c_update(crc, pdu->ahs, pdu->ahs_len);
		if (crc != crc32c_get(dig)) {
			rv = PDU_ERR_HDIGEST;
			goto fail_keep;
		}
		if (dlen > max_data) {
			rv = PDU_ERR_TOOBIG;
			goto fail_keep;
		}
	}
	if (pdu->ahs_len > 0 && ahs_check(pdu->ahs, pdu->ahs_len) != 0) {
		rv = PDU_ERR_AHS;
		goto fail;
	}

	if (dlen > 0) {
		/* One spare byte keeps text data NUL-terminated. */
		if ((pdu->data = malloc(dlen + 1)) == NULL) {
			rv = PDU_ERR_IO;
			goto fail;
		}
		if ((rv = read_full(fd, pdu->data, dlen)) != 0)
			goto fail;
		pdu->data[dlen] = '\0';
		pdu->data_len = dlen;
		padlen = pdu_padding(dlen);
		if (padlen > 0 && (rv = read_full(fd, pad, padlen)) != 0)
			goto fail;
		if (digests & PDU_DIGEST_DATA) {
			if ((rv = read_full(fd, dig, sizeof(dig))) != 0)
				goto fail;
			/* The digest covers the padding too (RFC 7143 13.1). */
			crc = crc32c(pdu->data, dlen);
			crc = crc32c_update(crc, pad, padlen);
			if (crc != crc32c_get(dig)) {
				free(pdu->data);
				pdu->data = NULL;
				pdu->data_len = 0;
				return (PDU_ERR_DDIGEST);
			}
		}
	}
	return (0);

 fail:
	pdu_free(pdu);
	return (rv);

 fail_keep:
	/* The header is kept for the caller's log, as for TOOBIG. */
	free(pdu->ahs);
	pdu->ahs = NULL;
	pdu->ahs_len = 0;
	return (rv);
}

/*
 * Header, AHS, data and zero padding go out in one call.  sendmsg with
 * MSG_NOSIGNAL keeps a peer that vanished from raising SIGPIPE; on a
 * descriptor that is not a socket (tests use pipes) writev does the same.
 */
int
pdu_write(int fd, const struct pdu *pdu)
{
	return (pdu_write_digest(fd, pdu, 0));
}

int
pdu_write_digest(int fd, const struct pdu *pdu, int digests)
{
	static const uint8_t zero[4];
	struct iscsi_bhs bhs;
	struct iovec	 iov[6], *v;
	uint8_t		 hdig[ISCSI_DIGEST_SIZE], ddig[ISCSI_DIGEST_SIZE];
	uint32_t	 crc;
	struct msghdr	 msg;
	ssize_t		 n;
	size_t		 done;
	int		 niov = 0, cnt, use_send = 1;

	if (pdu->ahs_len % 4 != 0 || pdu->ahs_len > AHS_MAX ||
	    (pdu->ahs_len > 0 && pdu->ahs == NULL) ||
	    pdu->data_len > DSL_MAX ||
	    (pdu->data_len > 0 && pdu->data == NULL)) {
		errno = EINVAL;
		return (-1);
	}
	bhs = pdu->bhs;
	bhs.total_ahs_len = pdu->ahs_len / 4;
	pdu_set_data_len(&bhs, pdu->data_len);

	iov[niov].iov_base = &bhs;
	iov[niov++].iov_len = sizeof(bhs);
	if (pdu->ahs_len > 0) {
		iov[niov].iov_base = pdu->ahs;
		iov[niov++].iov_len = pdu->ahs_len;
	}
	if (digests & PDU_DIGEST_HEADER) {
		crc = crc32c(&bhs, sizeof(bhs));
		crc32c_put(hdig, crc32c_update(crc, pdu->ahs, pdu->ahs_len));
		iov[niov].iov_base = hdig;
		iov[niov++].iov_len = sizeof(hdig);
	}
	if (pdu->data_len > 0) {
		iov[niov].iov_base = pdu->data;
		iov[niov++].iov_len = pdu->data_len;
		if (pdu_padding(pdu->data_len) > 0) {
			iov[niov].iov_base = (void *)zero;
			iov[niov++].iov_len = pdu_padding(pdu->data_len);
		}
		if (digests & PDU_DIGEST_DATA) {
			crc = crc32c(pdu->data, pdu->data_len);
			crc32c_put(ddig, crc32c_update(crc, zero,
			    pdu_padding(pdu->data_len)));
			iov[niov].iov_base = ddig;
			iov[niov++].iov_len = sizeof(ddig);
		}
	}

	v = iov;
	cnt = niov;
	while (cnt > 0) {
		if (use_send) {
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = v;
			msg.msg_iovlen = cnt;
			n = sendmsg(fd, &msg, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				use_send = 0;
				continue;
			}
		} else
			n = writev(fd, v, cnt);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		/* Skip what went out; a partial write resumes mid-iovec. */
		done = n;
		while (cnt > 0 && done >= v->iov_len) {
			done -= v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (uint8_t *)v->iov_base + done;
			v->iov_len -= done;
		}
	}
	return (0);
}

int
pdu_set_data(struct pdu *pdu, const void *data, size_t len)
{
	uint8_t	*p = NULL;

	if (len > DSL_MAX || (len > 0 && data == NULL)) {
		errno = EINVAL;
		return (-1);
	}
	if (len > 0) {
		/* As in pdu_read, one spare NUL after the data. */
		if ((p = malloc(len + 1)) == NULL)
			return (-1);
		memcpy(p, data, len);
		p[len] = '\0';
	}
	free(pdu->data);
	pdu->data = p;
	pdu->data_len = len;
	pdu_set_data_len(&pdu->bhs, len);
	return (0);
}

const char *
pdu_opcode_name(int opcode)
{
	switch (opcode & ISCSI_OP_MASK) {
	case ISCSI_OP_NOP_OUT:
		return ("NOP-Out");
	case ISCSI_OP_SCSI_CMD:
		return ("SCSI Command");
	case ISCSI_OP_TMF_REQ:
		return ("Task Management Function Request");
	case ISCSI_OP_LOGIN_REQ:
		return ("Login Request");
	case ISCSI_OP_TEXT_REQ:
		return ("Text Request");
	case ISCSI_OP_DATA_OUT:
		return ("SCSI Data-Out");
	case ISCSI_OP_LOGOUT_REQ:
		return ("Logout Request");
	case ISCSI_OP_SNACK_REQ:
		return ("SNACK Request");
	case ISCSI_OP_NOP_IN:
		return ("NOP-In");
	case ISCSI_OP_SCSI_RSP:
		return ("SCSI Response");
	case ISCSI_OP_TMF_RSP:
		return ("Task Management Function Response");
	case ISCSI_OP_LOGIN_RSP:
		return ("Login Response");
	case ISCSI_OP_TEXT_RSP:
		return ("Text Response");
	case ISCSI_OP_DATA_IN:
		return ("SCSI Data-In");
	case ISCSI_OP_LOGOUT_RSP:
		return ("Logout Response");
	case ISCSI_OP_R2T:
		return ("Ready To Transfer");
	case ISCSI_OP_ASYNC:
		return ("Asynchronous Message");
	case ISCSI_OP_REJECT:
		return ("Reject");
	default:
		return ("unknown opcode");
	}
}
