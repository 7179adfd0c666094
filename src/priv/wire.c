/*
 * wire.c: the bytes of a full feature phase connection: an incremental
 * PDU reader and a bounded output queue written with writev.
 *
 * Digests (RFC 7143 13.1): when HeaderDigest or DataDigest is CRC32C,
 * every PDU carries a CRC32C after BHS+AHS, and one after its padded data
 * segment when that is not empty.  They are checked on input (conn_read)
 * and computed once per output PDU into the txpdu itself (conn_tx_queue),
 * so that they cost no allocation and go out in the same writev.
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <bsd/string.h>
#include <bsd/vis.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "keys.h"
#include "log.h"
#include "param.h"
#include "pdu.h"
#include "util.h"
#include "priv/lun.h"
#include "priv/scsi.h"
#include "priv/session.h"
#include "priv/conn.h"

static const uint8_t	 zero_pad[4];

/*
 * Buffers.
 */
struct iobuf *
iobuf_new(size_t len)
{
	struct iobuf	*ib;

	if ((ib = malloc(sizeof(*ib) + len)) == NULL)
		return (NULL);
	ib->ib_refs = 1;
	ib->ib_len = len;
	return (ib);
}

void
iobuf_unref(struct iobuf *ib)
{
	if (ib != NULL && --ib->ib_refs == 0)
		free(ib);
}

void
conn_events_update(struct conn *c)
{
	struct epoll_event	 ev;
	uint32_t		 want = 0;

	if (!c->conn_stop_rx && c->conn_tx_bytes < CONN_TXQ_HIGH)
		want |= EPOLLIN;
	if (!TAILQ_EMPTY(&c->conn_txq))
		want |= EPOLLOUT;
	if (want == c->conn_events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->conn_r->r_epfd, EPOLL_CTL_MOD, c->conn_fd, &ev) ==
	    -1) {
		session_conn_close(c, "epoll_ctl failed");
		return;
	}
	c->conn_events = want;
}

/*
 * Output queue.
 */
struct txpdu *
conn_tx_new(struct conn *c, uint8_t opcode)
{
	struct txpdu	*tx;

	if ((tx = TAILQ_FIRST(&c->conn_txfree)) != NULL) {
		TAILQ_REMOVE(&c->conn_txfree, tx, tx_entry);
		c->conn_ntxfree--;
	} else if ((tx = malloc(sizeof(*tx))) == NULL) {
		log_warn("%s: output", c->conn_tag);
		return (NULL);
	}
	memset(&tx->tx_bhs, 0, sizeof(tx->tx_bhs));
	tx->tx_bhs.opcode = opcode;
	tx->tx_data = NULL;
	tx->tx_len = 0;
	tx->tx_buf = NULL;
	return (tx);
}

void
conn_tx_recycle(struct conn *c, struct txpdu *tx)
{
	iobuf_unref(tx->tx_buf);
	tx->tx_buf = NULL;
	if (c->conn_ntxfree < CONN_TX_CACHE) {
		TAILQ_INSERT_HEAD(&c->conn_txfree, tx, tx_entry);
		c->conn_ntxfree++;
	} else
		free(tx);
}

/*
 * Attach data (a reference to ib, or NULL) and queue.  status: the PDU
 * carries a status and consumes a StatSN.
 */
void
conn_tx_queue(struct conn *c, struct txpdu *tx, struct iobuf *ib,
    const uint8_t *data, uint32_t len, bool status)
{
	struct iscsi_bhs	*bhs = &tx->tx_bhs;

	if (ib != NULL)
		ib->ib_refs++;
	tx->tx_buf = ib;
	tx->tx_data = data;
	tx->tx_len = len;
	pdu_set_data_len(bhs, len);
	bhs->sn24 = htobe32(status ? c->conn_statsn++ : c->conn_statsn);
	bhs->sn28 = htobe32(c->conn_sess->sess_expcmdsn);
	bhs->sn32 = htobe32(conn_maxcmdsn(c));
	/* The header is final now (output PDUs carry no AHS). */
	if (c->conn_hdig)
		crc32c_put(tx->tx_hdig, crc32c(bhs, ISCSI_BHS_SIZE));
	if (c->conn_ddig && len > 0)
		crc32c_put(tx->tx_ddig, crc32c_update(crc32c(data, len),
		    zero_pad, pdu_padding(len)));
	TAILQ_INSERT_TAIL(&c->conn_txq, tx, tx_entry);
	c->conn_tx_bytes += ISCSI_BHS_SIZE + len;
}

/* Queue a PDU whose data is copied into a fresh buffer. */
void
conn_tx_copy(struct conn *c, struct txpdu *tx, const void *data,
    uint32_t len, bool status)
{
	struct iobuf	*ib = NULL;

	if (len > 0) {
		if ((ib = iobuf_new(len)) == NULL) {
			conn_tx_recycle(c, tx);
			session_conn_close(c, "out of memory");
			return;
		}
		memcpy(ib->ib_data, data, len);
	}
	conn_tx_queue(c, tx, ib, ib != NULL ? ib->ib_data : NULL, len, status);
	iobuf_unref(ib);
}

/* Bytes of a queued PDU on the wire, digests included. */
static size_t
conn_tx_wire_len(const struct conn *c, const struct txpdu *tx)
{
	size_t	 n = ISCSI_BHS_SIZE + tx->tx_len + pdu_padding(tx->tx_len);

	if (c->conn_hdig)
		n += ISCSI_DIGEST_SIZE;
	if (c->conn_ddig && tx->tx_len > 0)
		n += ISCSI_DIGEST_SIZE;
	return (n);
}

/* Write what the socket takes: 0, or -1 when the connection closed. */
int
conn_write(struct conn *c)
{
	struct iovec	 iov[CONN_IOV_MAX];
	struct txpdu	*tx;
	size_t		 skip, part, left;
	ssize_t		 n;
	int		 niov, k;

	while (!TAILQ_EMPTY(&c->conn_txq)) {
		niov = 0;
		skip = c->conn_tx_off;
		TAILQ_FOREACH(tx, &c->conn_txq, tx_entry) {
			const void	*base[5];
			size_t		 len[5];

			if (niov + 5 > CONN_IOV_MAX)
				break;
			base[0] = &tx->tx_bhs;
			len[0] = ISCSI_BHS_SIZE;
			base[1] = tx->tx_hdig;
			len[1] = c->conn_hdig ? ISCSI_DIGEST_SIZE : 0;
			base[2] = tx->tx_data;
			len[2] = tx->tx_len;
			base[3] = zero_pad;
			len[3] = pdu_padding(tx->tx_len);
			base[4] = tx->tx_ddig;
			len[4] = c->conn_ddig && tx->tx_len > 0 ?
			    ISCSI_DIGEST_SIZE : 0;
			for (k = 0; k < 5; k++) {
				if (skip >= len[k]) {
					skip -= len[k];
					continue;
				}
				iov[niov].iov_base = (uint8_t *)(uintptr_t)
				    base[k] + skip;
				iov[niov++].iov_len = len[k] - skip;
				skip = 0;
			}
		}
		n = writev(c->conn_fd, iov, niov);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			log_debug(1, "%s: write: %s", c->conn_tag,
			    strerror(errno));
			session_conn_close(c, NULL);
			return (-1);
		}
		left = n;
		while ((tx = TAILQ_FIRST(&c->conn_txq)) != NULL) {
			part = conn_tx_wire_len(c, tx) - c->conn_tx_off;
			if (left < part) {
				c->conn_tx_off += left;
				break;
			}
			left -= part;
			c->conn_tx_off = 0;
			c->conn_tx_bytes -= ISCSI_BHS_SIZE + tx->tx_len;
			TAILQ_REMOVE(&c->conn_txq, tx, tx_entry);
			conn_tx_recycle(c, tx);
		}
	}
	return (0);
}

/*
 * Input: BHS, then AHS and header digest, then the data segment with its
 * padding and data digest.
 *
 * Digest errors at ErrorRecoveryLevel 0 (RFC 7143 7.8): a header digest
 * error makes every field of the header untrustworthy, DataSegmentLength
 * included, so where the next PDU starts is unknown: the connection is
 * dropped (the initiator recovers the session).  A data digest error
 * leaves the framing intact: the PDU is read whole, flagged, and
 * conn_pdu answers it with a Reject and discards it.
 */
static bool
conn_rx_hdig_ok(struct conn *c)
{
	size_t		 ahs = c->conn_rx_bhs.total_ahs_len * 4;
	uint32_t	 crc;

	crc = crc32c(&c->conn_rx_bhs, ISCSI_BHS_SIZE);
	crc = crc32c_update(crc, c->conn_rx_ahs, ahs);
	return (crc == crc32c_get(c->conn_rx_ahs + ahs));
}

static bool
conn_rx_ddig_ok(struct conn *c)
{
	size_t	 dlen = pdu_data_len(&c->conn_rx_bhs);
	size_t	 padded = dlen + pdu_padding(dlen);

	return (crc32c(c->conn_rx_data, padded) ==
	    crc32c_get(c->conn_rx_data + padded));
}

void
conn_read(struct conn *c)
{
	struct iscsi_bhs	*bhs = &c->conn_rx_bhs;
	uint8_t			*dst;
	size_t			 dlen;
	ssize_t			 n;
	int			 npdu = 0;

	while (npdu < CONN_RX_BATCH && !c->conn_stop_rx &&
	    c->conn_tx_bytes < CONN_TXQ_HIGH) {
		switch (c->conn_rx_state) {
		case RX_BHS:
			dst = (uint8_t *)bhs;
			break;
		case RX_AHS:
			dst = c->conn_rx_ahs;
			break;
		default:
			dst = c->conn_rx_data;
			break;
		}
		if (c->conn_rx_need > 0) {
			n = read(c->conn_fd, dst + c->conn_rx_off,
			    c->conn_rx_need - c->conn_rx_off);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN)
				return;
			if (n <= 0) {
				if (n == -1)
					log_debug(1, "%s: read: %s",
					    c->conn_tag, strerror(errno));
				session_conn_close(c, NULL);
				return;
			}
			c->conn_rx_off += n;
			c->conn_rx_seen = true;
			if (c->conn_rx_off < c->conn_rx_need)
				continue;
		}
		c->conn_rx_off = 0;
		switch (c->conn_rx_state) {
		case RX_BHS:
			c->conn_rx_state = RX_AHS;
			c->conn_rx_need = bhs->total_ahs_len * 4 +
			    (c->conn_hdig ? ISCSI_DIGEST_SIZE : 0);
			break;
		case RX_AHS:
			if (c->conn_hdig && !conn_rx_hdig_ok(c)) {
				session_conn_close(c, "header digest error");
				return;
			}
			dlen = pdu_data_len(bhs);
			if (dlen > c->conn_p[P_MAX_RECV_DSL]) {
				log_warnx("%s: %s: DataSegmentLength %zu "
				    "over MaxRecvDataSegmentLength %u",
				    c->conn_tag,
				    pdu_opcode_name(pdu_opcode(bhs)), dlen,
				    c->conn_p[P_MAX_RECV_DSL]);
				conn_reject(c, REJECT_PROTOCOL_ERROR, bhs);
				c->conn_stop_rx = true;
				c->conn_logout = true;
				return;
			}
			c->conn_rx_state = RX_DATA;
			c->conn_rx_need = dlen + pdu_padding(dlen);
			if (c->conn_ddig && dlen > 0)
				c->conn_rx_need += ISCSI_DIGEST_SIZE;
			break;
		case RX_DATA:
			c->conn_rx_ddig_bad = c->conn_ddig &&
			    pdu_data_len(bhs) > 0 && !conn_rx_ddig_ok(c);
			c->conn_rx_state = RX_BHS;
			c->conn_rx_need = ISCSI_BHS_SIZE;
			npdu++;
			conn_pdu(c);
			if (c->conn_dead)
				return;
			break;
		}
	}
}
