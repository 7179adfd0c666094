/*
 * pdu.h: iSCSI PDU framing (RFC 7143 section 11): the Basic Header
 * Segment of every opcode, AHS and data segment, and blocking read and
 * write of a whole PDU.  Framing only: no login, session or SCSI logic.
 * All multi-byte BHS fields are big-endian on the wire; the structs keep
 * them that way (use htobe32/be32toh).
 */
#ifndef IETD_PDU_H
#define IETD_PDU_H

#include <stddef.h>
#include <stdint.h>

#define ISCSI_BHS_SIZE		48
#define ISCSI_NAME_MAX		224	/* 223 bytes + NUL (RFC 7143 4.2.7.1) */
#define ISCSI_LOGIN_DATA_MAX	8192	/* data segment of one login PDU */

/* Opcodes (byte 0, low 6 bits). */
#define ISCSI_OP_NOP_OUT	0x00
#define ISCSI_OP_SCSI_CMD	0x01
#define ISCSI_OP_TMF_REQ	0x02
#define ISCSI_OP_LOGIN_REQ	0x03
#define ISCSI_OP_TEXT_REQ	0x04
#define ISCSI_OP_DATA_OUT	0x05
#define ISCSI_OP_LOGOUT_REQ	0x06
#define ISCSI_OP_SNACK_REQ	0x10
#define ISCSI_OP_NOP_IN		0x20
#define ISCSI_OP_SCSI_RSP	0x21
#define ISCSI_OP_TMF_RSP	0x22
#define ISCSI_OP_LOGIN_RSP	0x23
#define ISCSI_OP_TEXT_RSP	0x24
#define ISCSI_OP_DATA_IN	0x25
#define ISCSI_OP_LOGOUT_RSP	0x26
#define ISCSI_OP_R2T		0x31
#define ISCSI_OP_ASYNC		0x32
#define ISCSI_OP_REJECT		0x3f

#define ISCSI_OP_MASK		0x3f
#define ISCSI_OP_IMMEDIATE	0x40

#define ISCSI_FLAG_FINAL	0x80

/* Login flags (byte 1). */
#define ISCSI_LOGIN_T		0x80
#define ISCSI_LOGIN_C		0x40
#define ISCSI_LOGIN_CSG(f)	(((f) >> 2) & 3)
#define ISCSI_LOGIN_NSG(f)	((f) & 3)
#define ISCSI_STAGE_SECURITY	0
#define ISCSI_STAGE_OPERATIONAL	1
#define ISCSI_STAGE_FULL	3

/* Login status class / detail (RFC 7143 11.13.5), as 0xCCDD. */
#define LOGIN_OK			0x0000
#define LOGIN_REDIR_TEMP		0x0101
#define LOGIN_REDIR_PERM		0x0102
#define LOGIN_INITIATOR_ERROR		0x0200
#define LOGIN_AUTH_FAILED		0x0201
#define LOGIN_FORBIDDEN			0x0202
#define LOGIN_TARGET_NOT_FOUND		0x0203
#define LOGIN_TARGET_REMOVED		0x0204
#define LOGIN_UNSUPPORTED_VERSION	0x0205
#define LOGIN_TOO_MANY_CONNECTIONS	0x0206
#define LOGIN_MISSING_PARAMETER		0x0207
#define LOGIN_CANT_INCLUDE_IN_SESSION	0x0208
#define LOGIN_SESSION_TYPE_UNSUPPORTED	0x0209
#define LOGIN_SESSION_DOES_NOT_EXIST	0x020a
#define LOGIN_INVALID_DURING_LOGIN	0x020b
#define LOGIN_TARGET_ERROR		0x0300
#define LOGIN_SERVICE_UNAVAILABLE	0x0301
#define LOGIN_OUT_OF_RESOURCES		0x0302

/* SCSI Command flags (byte 1). */
#define ISCSI_CMD_READ		0x40
#define ISCSI_CMD_WRITE		0x20
#define ISCSI_CMD_ATTR_MASK	0x07
#define ISCSI_ATTR_ORDERED	2
#define ISCSI_ATTR_HEAD		3

/* SCSI Response / Data-In flags (byte 1). */
#define ISCSI_RSP_BIDI_OVERFLOW	0x10
#define ISCSI_RSP_BIDI_UNDERFLOW 0x08
#define ISCSI_RSP_OVERFLOW	0x04
#define ISCSI_RSP_UNDERFLOW	0x02
#define ISCSI_DATAIN_ACK	0x40
#define ISCSI_DATAIN_STATUS	0x01

/* Text flags. */
#define ISCSI_TEXT_C		0x40

/* Reject reasons (RFC 7143 11.17.1). */
#define REJECT_DIGEST_ERROR		0x02
#define REJECT_SNACK_REJECT		0x03
#define REJECT_PROTOCOL_ERROR		0x04
#define REJECT_CMD_NOT_SUPPORTED	0x05
#define REJECT_IMMEDIATE_CMD		0x06
#define REJECT_TASK_IN_PROGRESS		0x07
#define REJECT_INVALID_DATA_ACK		0x08
#define REJECT_INVALID_PDU_FIELD	0x09
#define REJECT_OUT_OF_RESOURCES		0x0a
#define REJECT_WAITING_FOR_LOGOUT	0x0c

/* Logout reason codes and responses. */
#define LOGOUT_CLOSE_SESSION	0
#define LOGOUT_CLOSE_CONNECTION	1
#define LOGOUT_REMOVE_FOR_RECOVERY 2
#define LOGOUT_RSP_OK		0
#define LOGOUT_RSP_CID_NOT_FOUND 1
#define LOGOUT_RSP_RECOVERY_UNSUPPORTED 2
#define LOGOUT_RSP_CLEANUP_FAILED 3

#define ISCSI_RESERVED_TAG	0xffffffffU

/* Generic view of any BHS. */
struct iscsi_bhs {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		spec[2];
	uint8_t		total_ahs_len;	/* in 4-byte words */
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	ttt;
	uint32_t	sn24;		/* CmdSN (request) / StatSN (response) */
	uint32_t	sn28;		/* ExpStatSN / ExpCmdSN */
	uint32_t	sn32;		/* MaxCmdSN (response) */
	uint32_t	f36;
	uint32_t	f40;
	uint32_t	f44;
} __attribute__((packed));

struct iscsi_login_req {
	uint8_t		opcode;
	uint8_t		flags;		/* T C CSG NSG */
	uint8_t		version_max;
	uint8_t		version_min;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		isid[6];
	uint16_t	tsih;
	uint32_t	itt;
	uint16_t	cid;
	uint16_t	rsvd22;
	uint32_t	cmdsn;
	uint32_t	expstatsn;
	uint8_t		rsvd32[16];
} __attribute__((packed));

struct iscsi_login_rsp {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		version_max;
	uint8_t		version_active;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		isid[6];
	uint16_t	tsih;
	uint32_t	itt;
	uint32_t	rsvd20;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint8_t		status_class;
	uint8_t		status_detail;
	uint8_t		rsvd38[10];
} __attribute__((packed));

struct iscsi_scsi_cmd {
	uint8_t		opcode;
	uint8_t		flags;		/* F R W ATTR */
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	edtl;		/* Expected Data Transfer Length */
	uint32_t	cmdsn;
	uint32_t	expstatsn;
	uint8_t		cdb[16];
} __attribute__((packed));

struct iscsi_scsi_rsp {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		response;
	uint8_t		status;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		rsvd8[8];
	uint32_t	itt;
	uint32_t	snack_tag;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint32_t	expdatasn;
	uint32_t	bidi_residual;
	uint32_t	residual;
} __attribute__((packed));

struct iscsi_data_out {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	ttt;
	uint32_t	rsvd24;
	uint32_t	expstatsn;
	uint32_t	rsvd32;
	uint32_t	datasn;
	uint32_t	buffer_offset;
	uint32_t	rsvd44;
} __attribute__((packed));

struct iscsi_data_in {
	uint8_t		opcode;
	uint8_t		flags;		/* F A O U S */
	uint8_t		rsvd2;
	uint8_t		status;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	ttt;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint32_t	datasn;
	uint32_t	buffer_offset;
	uint32_t	residual;
} __attribute__((packed));

struct iscsi_r2t {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	ttt;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint32_t	r2tsn;
	uint32_t	buffer_offset;
	uint32_t	desired_len;
} __attribute__((packed));

struct iscsi_nop {		/* NOP-Out and NOP-In */
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	ttt;
	uint32_t	sn24;		/* CmdSN (out) / StatSN (in) */
	uint32_t	sn28;		/* ExpStatSN (out) / ExpCmdSN (in) */
	uint32_t	maxcmdsn;	/* in only */
	uint8_t		rsvd36[12];
} __attribute__((packed));

struct iscsi_text {		/* Text Request and Response */
	uint8_t		opcode;
	uint8_t		flags;		/* F C */
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	ttt;
	uint32_t	sn24;		/* CmdSN / StatSN */
	uint32_t	sn28;		/* ExpStatSN / ExpCmdSN */
	uint32_t	maxcmdsn;	/* response only */
	uint8_t		rsvd36[12];
} __attribute__((packed));

struct iscsi_logout_req {
	uint8_t		opcode;
	uint8_t		flags;		/* F | reason */
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		rsvd8[8];
	uint32_t	itt;
	uint16_t	cid;
	uint16_t	rsvd22;
	uint32_t	cmdsn;
	uint32_t	expstatsn;
	uint8_t		rsvd32[16];
} __attribute__((packed));

struct iscsi_logout_rsp {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		response;
	uint8_t		rsvd3;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		rsvd8[8];
	uint32_t	itt;
	uint32_t	rsvd20;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint32_t	rsvd36;
	uint16_t	time2wait;
	uint16_t	time2retain;
	uint32_t	rsvd44;
} __attribute__((packed));

struct iscsi_tmf_req {
	uint8_t		opcode;
	uint8_t		function;	/* F | function */
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	itt;
	uint32_t	rtt;		/* Referenced Task Tag */
	uint32_t	cmdsn;
	uint32_t	expstatsn;
	uint32_t	refcmdsn;
	uint32_t	expdatasn;
	uint8_t		rsvd40[8];
} __attribute__((packed));

struct iscsi_tmf_rsp {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		response;
	uint8_t		rsvd3;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		rsvd8[8];
	uint32_t	itt;
	uint32_t	rsvd20;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint8_t		rsvd36[12];
} __attribute__((packed));

struct iscsi_reject {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		reason;
	uint8_t		rsvd3;
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		rsvd8[8];
	uint32_t	ffffffff;
	uint32_t	rsvd20;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint32_t	datasn;
	uint8_t		rsvd40[8];
} __attribute__((packed));

struct iscsi_async {
	uint8_t		opcode;
	uint8_t		flags;
	uint8_t		rsvd2[2];
	uint8_t		total_ahs_len;
	uint8_t		data_len[3];
	uint8_t		lun[8];
	uint32_t	ffffffff;
	uint32_t	rsvd20;
	uint32_t	statsn;
	uint32_t	expcmdsn;
	uint32_t	maxcmdsn;
	uint8_t		event;
	uint8_t		vcode;
	uint16_t	param1;
	uint16_t	param2;
	uint16_t	param3;
	uint32_t	rsvd44;
} __attribute__((packed));

/* A whole PDU in memory (used by the worker and by tests). */
struct pdu {
	struct iscsi_bhs bhs;
	uint8_t		*ahs;		/* total_ahs_len * 4 bytes, or NULL */
	size_t		 ahs_len;
	uint8_t		*data;		/* data segment without padding */
	size_t		 data_len;
};

/* Errors returned (as negative values) by pdu_read. */
#define PDU_ERR_IO	-1	/* read error, errno set */
#define PDU_ERR_EOF	-2	/* peer closed the connection */
#define PDU_ERR_TOOBIG	-3	/* DataSegmentLength over max_data */
#define PDU_ERR_AHS	-4	/* bad AHS */
#define PDU_ERR_HDIGEST	-5	/* header digest error: framing is lost */
#define PDU_ERR_DDIGEST	-6	/* data digest error: PDU read, data bad */

/* Digests of a connection in the full feature phase (RFC 7143 13.1). */
#define PDU_DIGEST_HEADER	0x1	/* CRC32C after BHS and AHS */
#define PDU_DIGEST_DATA		0x2	/* CRC32C after the padded data */
#define ISCSI_DIGEST_SIZE	4

static inline uint32_t
pdu_data_len(const struct iscsi_bhs *bhs)
{
	return ((uint32_t)bhs->data_len[0] << 16 |
	    (uint32_t)bhs->data_len[1] << 8 | bhs->data_len[2]);
}

static inline void
pdu_set_data_len(struct iscsi_bhs *bhs, uint32_t len)
{
	bhs->data_len[0] = len >> 16;
	bhs->data_len[1] = len >> 8;
	bhs->data_len[2] = len;
}

static inline size_t
pdu_padding(size_t len)
{
	return ((4 - (len & 3)) & 3);
}

static inline int
pdu_opcode(const struct iscsi_bhs *bhs)
{
	return (bhs->opcode & ISCSI_OP_MASK);
}

/* 8-byte LUN field <-> LUN number (single level, flat or peripheral). */
uint64_t pdu_lun_decode(const uint8_t lun[8]);
void	 pdu_lun_encode(uint8_t lun[8], uint64_t);

void	 pdu_init(struct pdu *);
void	 pdu_free(struct pdu *);	/* frees ahs and data, not the struct */
/*
 * Read one whole PDU (BHS, AHS, data, padding) from a blocking fd.
 * Reads exactly the PDU's bytes, never ahead.  Returns 0 or PDU_ERR_*.
 * On PDU_ERR_TOOBIG the BHS has been read (and is in pdu->bhs) but the
 * data segment has not.
 */
int	 pdu_read(int fd, struct pdu *, size_t max_data);
/*
 * pdu_read with the digests of PDU_DIGEST_* flags: the header digest is
 * checked before DataSegmentLength is trusted.  PDU_ERR_HDIGEST: BHS and
 * AHS were read and do not match their digest, so where the next PDU
 * starts is unknown.  PDU_ERR_DDIGEST: the whole PDU was read and its
 * header is good (pdu->bhs and pdu->ahs are kept), its data is not and
 * has been freed.  A data digest follows only a non-empty data segment.
 */
int	 pdu_read_digest(int fd, struct pdu *, size_t max_data, int digests);
/* Write one whole PDU (header, AHS, data, padding) with one writev. */
int	 pdu_write(int fd, const struct pdu *);
/* pdu_write with the digests of PDU_DIGEST_* flags appended. */
int	 pdu_write_digest(int fd, const struct pdu *, int digests);
/* Set data (copied; pdu owns it) and DataSegmentLength. */
int	 pdu_set_data(struct pdu *, const void *, size_t);
const char *pdu_opcode_name(int opcode);

#endif
