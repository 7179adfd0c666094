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
#include <sys/param.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <bsd/string.h>
#include <bsd/vis.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
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

static bool	conn_pipe_open(struct conn *, size_t);
static void	conn_rx_place(struct conn *);

/*
 * Buffers: page-aligned (O_DIRECT wants it), in power-of-two sizes from
 * IOBUF_MIN, recycled through a bounded per-thread cache so that a
 * command costs no allocation and no page faults once the cache is warm.
 * Small payloads (sense data, Rejects, NOP echoes) are plain mallocs.
 */
#define IOBUF_MIN	4096
#define IOBUF_SMALL	1024
#define IOBUF_CLASSES	12		/* 4 KiB ... 8 MiB */
#define IOBUF_CACHE_MAX	(16U * 1024 * 1024)	/* over all reactors */
#define IOBUF_CACHE_MIN	(2U * 1024 * 1024)	/* per reactor, at least */

static __thread struct iobuf	*iobuf_cache[IOBUF_CLASSES];
static __thread size_t		 iobuf_cached;
static size_t			 iobuf_cache_max = IOBUF_CACHE_MAX;

void
iobuf_cache_share(unsigned threads)
{
	iobuf_cache_max = IOBUF_CACHE_MAX / (threads > 0 ? threads : 1);
	if (iobuf_cache_max < IOBUF_CACHE_MIN)
		iobuf_cache_max = IOBUF_CACHE_MIN;
}

void
iobuf_cache_free(void)
{
	struct iobuf	*ib;
	int		 k;

	for (k = 0; k < IOBUF_CLASSES; k++)
		while ((ib = iobuf_cache[k]) != NULL) {
			iobuf_cache[k] = ib->ib_next;
			free(ib->ib_data);
			free(ib);
		}
	iobuf_cached = 0;
}

static int
iobuf_class(size_t len, size_t *cap)
{
	size_t	 c = IOBUF_MIN;
	int	 k = 0;

	while (c < len) {
		c <<= 1;
		k++;
	}
	*cap = c;
	return (k);
}

struct iobuf *
iobuf_new(size_t len)
{
	struct iobuf	*ib;
	size_t		 cap;
	int		 k;

	if (len < IOBUF_SMALL) {
		if ((ib = malloc(sizeof(*ib) + len)) == NULL)
			return (NULL);
		ib->ib_data = (uint8_t *)(ib + 1);
		ib->ib_cap = 0;
	} else if ((k = iobuf_class(len, &cap)) < IOBUF_CLASSES &&
	    (ib = iobuf_cache[k]) != NULL) {
		iobuf_cache[k] = ib->ib_next;
		iobuf_cached -= cap;
	} else {
		if ((ib = malloc(sizeof(*ib))) == NULL)
			return (NULL);
		if (posix_memalign((void **)&ib->ib_data, IOBUF_MIN, cap) !=
		    0) {
			free(ib);
			errno = ENOMEM;
			return (NULL);
		}
		ib->ib_cap = cap;
	}
	ib->ib_refs = 1;
	ib->ib_len = len;
	ib->ib_next = NULL;
	return (ib);
}

void
iobuf_unref(struct iobuf *ib)
{
	size_t	 cap;
	int	 k;

	if (ib == NULL || --ib->ib_refs > 0)
		return;
	if (ib->ib_cap == 0) {
		free(ib);
		return;
	}
	k = iobuf_class(ib->ib_cap, &cap);
	if (k < IOBUF_CLASSES && iobuf_cached + cap <= iobuf_cache_max) {
		ib->ib_next = iobuf_cache[k];
		iobuf_cache[k] = ib;
		iobuf_cached += cap;
		return;
	}
	free(ib->ib_data);
	free(ib);
}

void
conn_events_update(struct conn *c)
{
	struct epoll_event	 ev;
	uint32_t		 want = 0;

	if (!c->conn_stop_rx && c->conn_tx_bytes < CONN_TXQ_HIGH) {
		want |= EPOLLIN;
		/* PDUs already buffered: writability calls us back. */
		if (conn_rx_ready(c))
			want |= EPOLLOUT;
	}
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
	tx->tx_fd = -1;
	tx->tx_lun = NULL;
	return (tx);
}

void
conn_tx_recycle(struct conn *c, struct txpdu *tx)
{
	iobuf_unref(tx->tx_buf);
	tx->tx_buf = NULL;
	lun_unref(tx->tx_lun);
	tx->tx_lun = NULL;
	if (c->conn_ntxfree < CONN_TX_CACHE) {
		TAILQ_INSERT_HEAD(&c->conn_txfree, tx, tx_entry);
		c->conn_ntxfree++;
	} else
		free(tx);
}

/* Stamp the sequence numbers and the digests, and queue. */
static void
conn_tx_put(struct conn *c, struct txpdu *tx, bool status)
{
	struct iscsi_bhs	*bhs = &tx->tx_bhs;

	pdu_set_data_len(bhs, tx->tx_len);
	bhs->sn24 = htobe32(status ? c->conn_statsn++ : c->conn_statsn);
	bhs->sn28 = htobe32(c->conn_sess->sess_expcmdsn);
	bhs->sn32 = htobe32(conn_maxcmdsn(c));
	/* The header is final now (output PDUs carry no AHS). */
	if (c->conn_hdig)
		crc32c_put(tx->tx_hdig, crc32c(bhs, ISCSI_BHS_SIZE));
	if (c->conn_ddig && tx->tx_len > 0 && tx->tx_fd == -1)
		crc32c_put(tx->tx_ddig, crc32c_update(crc32c(tx->tx_data,
		    tx->tx_len), zero_pad, pdu_padding(tx->tx_len)));
	TAILQ_INSERT_TAIL(&c->conn_txq, tx, tx_entry);
	c->conn_tx_bytes += ISCSI_BHS_SIZE + tx->tx_len;
}

/*
 * Attach data (a reference to ib, or NULL) and queue.  status: the PDU
 * carries a status and consumes a StatSN.
 */
void
conn_tx_queue(struct conn *c, struct txpdu *tx, struct iobuf *ib,
    const uint8_t *data, uint32_t len, bool status)
{
	if (ib != NULL)
		ib->ib_refs++;
	tx->tx_buf = ib;
	tx->tx_data = data;
	tx->tx_len = len;
	conn_tx_put(c, tx, status);
}

/*
 * Queue a PDU whose data is [off, off + len) of the LUN's file, sent with
 * sendfile(2) when its turn comes; the PDU holds a reference to the LUN
 * until then.  Only without DataDigest: the data
 * never passes through io's memory.
 */
void
conn_tx_queue_file(struct conn *c, struct txpdu *tx, struct lun *lun,
    uint64_t off, uint32_t len, bool status)
{
	tx->tx_lun = lun_ref(lun);	/* a reload may remove the LUN */
	tx->tx_fd = lun->lun_fd;
	tx->tx_foff = off;
	tx->tx_len = len;
	conn_tx_put(c, tx, status);
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

/*
 * The five parts of a PDU on the wire: BHS, header digest, data, pad,
 * data digest; the data part of a file PDU has no address (base NULL).
 */
static void
conn_tx_parts(const struct conn *c, const struct txpdu *tx,
    const void **base, size_t *len)
{
	base[0] = &tx->tx_bhs;
	len[0] = ISCSI_BHS_SIZE;
	base[1] = tx->tx_hdig;
	len[1] = c->conn_hdig ? ISCSI_DIGEST_SIZE : 0;
	base[2] = tx->tx_fd == -1 ? tx->tx_data : NULL;
	len[2] = tx->tx_len;
	base[3] = zero_pad;
	len[3] = pdu_padding(tx->tx_len);
	base[4] = tx->tx_ddig;
	len[4] = c->conn_ddig && tx->tx_len > 0 && tx->tx_fd == -1 ?
	    ISCSI_DIGEST_SIZE : 0;
}

/*
 * Gather iovecs from the head of the queue up to the first file data
 * still to send.  Returns the iovec count; *file is that PDU when its
 * data is next (no iovec before it), *more when file data follows.
 */
static int
conn_tx_gather(struct conn *c, struct iovec *iov, struct txpdu **file,
    size_t *fskip, bool *more)
{
	struct txpdu	*tx;
	const void	*base[5];
	size_t		 len[5], skip = c->conn_tx_off;
	int		 niov = 0, k;

	*file = NULL;
	*more = false;
	TAILQ_FOREACH(tx, &c->conn_txq, tx_entry) {
		if (niov + 5 > CONN_IOV_MAX)
			break;
		conn_tx_parts(c, tx, base, len);
		for (k = 0; k < 5; k++) {
			if (skip >= len[k]) {
				skip -= len[k];
				continue;
			}
			if (k == 2 && base[2] == NULL) {
				if (niov == 0) {
					*file = tx;
					*fskip = skip;
				} else
					*more = true;
				return (niov);
			}
			iov[niov].iov_base = (uint8_t *)(uintptr_t)base[k] +
			    skip;
			iov[niov++].iov_len = len[k] - skip;
			skip = 0;
		}
	}
	return (niov);
}

/* n bytes went out: retire the PDUs they finish. */
static void
conn_tx_advance(struct conn *c, size_t n)
{
	struct txpdu	*tx;
	size_t		 part;

	while ((tx = TAILQ_FIRST(&c->conn_txq)) != NULL) {
		part = conn_tx_wire_len(c, tx) - c->conn_tx_off;
		if (n < part) {
			c->conn_tx_off += n;
			break;
		}
		n -= part;
		c->conn_tx_off = 0;
		c->conn_tx_bytes -= ISCSI_BHS_SIZE + tx->tx_len;
		TAILQ_REMOVE(&c->conn_txq, tx, tx_entry);
		conn_tx_recycle(c, tx);
	}
}

/* Write what the socket takes: 0, or -1 when the connection closed. */
int
conn_write(struct conn *c)
{
	struct iovec	 iov[CONN_IOV_MAX];
	struct msghdr	 msg;
	struct txpdu	*file;
	size_t		 fskip = 0;
	off_t		 off;
	ssize_t		 n;
	bool		 more;
	int		 niov;

	while (!TAILQ_EMPTY(&c->conn_txq)) {
		niov = conn_tx_gather(c, iov, &file, &fskip, &more);
		if (file != NULL) {
			off = (off_t)(file->tx_foff + fskip);
			n = sendfile(c->conn_fd, file->tx_fd, &off,
			    file->tx_len - fskip);
			if (n == 0) {
				/* The backing file shrank under us. */
				session_conn_close(c, "sendfile: end of file");
				return (-1);
			}
		} else {
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = iov;
			msg.msg_iovlen = niov;
			n = sendmsg(c->conn_fd, &msg,
			    MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (0);
			if (file != NULL)
				log_warn("%s: sendfile", c->conn_tag);
			else
				log_debug(1, "%s: write: %s", c->conn_tag,
				    strerror(errno));
			session_conn_close(c, NULL);
			return (-1);
		}
		conn_tx_advance(c, n);
	}
	return (0);
}

/*
 * Input.  Bytes are read in batches into the connection's buffer
 * (conn_rxb), where headers (BHS, AHS, header digest) are parsed; a
 * PDU's data goes where conn_data_dest says (a task's buffer: Data-Out
 * and immediate data need no second copy) or to conn_rx_data, and long
 * data is read there directly, with whatever follows it read into
 * conn_rxb in the same readv.  Pad and data digest go to conn_rx_trail.
 *
 * Digest errors at ErrorRecoveryLevel 0 (RFC 7143 7.8): a header digest
 * error makes every field of the header untrustworthy, DataSegmentLength
 * included, so where the next PDU starts is unknown: the connection is
 * dropped (the initiator recovers the session).  A data digest error
 * leaves the framing intact: the PDU is read whole, flagged, and
 * conn_pdu answers it with a Reject and discards it.
 */
static size_t
conn_rx_hdr_len(const struct conn *c, const struct iscsi_bhs *bhs)
{
	return (ISCSI_BHS_SIZE + bhs->total_ahs_len * 4 +
	    (c->conn_hdig ? ISCSI_DIGEST_SIZE : 0));
}

/* Can conn_read make progress without reading the socket? */
bool
conn_rx_ready(const struct conn *c)
{
	size_t	 avail = c->conn_rxb_tail - c->conn_rxb_head;

	if (c->conn_rx_state == RX_DATA)
		return (avail > 0);
	return (avail >= ISCSI_BHS_SIZE && avail >= conn_rx_hdr_len(c,
	    (const struct iscsi_bhs *)(c->conn_rxb + c->conn_rxb_head)));
}

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
	size_t		 pad = pdu_padding(c->conn_rx_dlen);
	uint32_t	 crc;

	crc = crc32c(c->conn_rx_dst, c->conn_rx_dlen);
	crc = crc32c_update(crc, c->conn_rx_trail, pad);
	return (crc == crc32c_get(c->conn_rx_trail + pad));
}

/* A read that got no bytes (n): 0 would block, else -1 and it closes. */
static ssize_t
conn_rx_none(struct conn *c, ssize_t n)
{
	if (n == -1 && errno == EAGAIN)
		return (0);
	if (n == -1)
		log_debug(1, "%s: read: %s", c->conn_tag, strerror(errno));
	session_conn_close(c, NULL);
	return (-1);
}

/* Read into conn_rxb, at most max bytes (0: as many as fit): >0 bytes,
 * 0 would block, -1 closed. */
static ssize_t
conn_rx_fill(struct conn *c, size_t max)
{
	size_t	 avail = c->conn_rxb_tail - c->conn_rxb_head;
	ssize_t	 n;

	if (c->conn_rxb_head > 0) {
		memmove(c->conn_rxb, c->conn_rxb + c->conn_rxb_head, avail);
		c->conn_rxb_head = 0;
		c->conn_rxb_tail = avail;
	}
	if (max == 0 || max > sizeof(c->conn_rxb) - avail)
		max = sizeof(c->conn_rxb) - avail;
	do
		n = read(c->conn_fd, c->conn_rxb + avail, max);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		c->conn_rxb_tail += n;
		c->conn_rx_seen = true;
		return (n);
	}
	return (conn_rx_none(c, n));
}

/* Parse a header: 1 parsed, 0 needs more bytes, -1 connection ends. */
static int
conn_rx_header(struct conn *c)
{
	struct iscsi_bhs	*bhs = &c->conn_rx_bhs;
	const uint8_t		*p;
	size_t			 avail, hlen, dlen, need;
	ssize_t			 n;

	for (;;) {
		avail = c->conn_rxb_tail - c->conn_rxb_head;
		p = c->conn_rxb + c->conn_rxb_head;
		if (avail < ISCSI_BHS_SIZE)
			need = ISCSI_BHS_SIZE - avail;
		else if (avail < (hlen = conn_rx_hdr_len(c,
		    (const struct iscsi_bhs *)p)))
			need = hlen - avail;
		else
			break;
		/* After piped data more may follow: leave it in the
		 * socket, for splice. */
		if ((n = conn_rx_fill(c, c->conn_rx_hdr_only ? need : 0)) <= 0)
			return (n);
	}
	memcpy(bhs, p, ISCSI_BHS_SIZE);
	memcpy(c->conn_rx_ahs, p + ISCSI_BHS_SIZE, hlen - ISCSI_BHS_SIZE);
	c->conn_rxb_head += hlen;
	if (c->conn_hdig && !conn_rx_hdig_ok(c)) {
		session_conn_close(c, "header digest error");
		return (-1);
	}
	dlen = pdu_data_len(bhs);
	if (dlen > c->conn_p[P_MAX_RECV_DSL]) {
		log_warnx("%s: %s: DataSegmentLength %zu over "
		    "MaxRecvDataSegmentLength %u", c->conn_tag,
		    pdu_opcode_name(pdu_opcode(bhs)), dlen,
		    c->conn_p[P_MAX_RECV_DSL]);
		conn_reject(c, REJECT_PROTOCOL_ERROR, bhs);
		c->conn_stop_rx = true;
		c->conn_logout = true;
		return (-1);
	}
	c->conn_rx_dlen = dlen;
	c->conn_rx_tlen = pdu_padding(dlen) +
	    (c->conn_ddig && dlen > 0 ? ISCSI_DIGEST_SIZE : 0);
	c->conn_rx_got = 0;
	c->conn_rx_inplace = false;
	c->conn_rx_dst = NULL;
	c->conn_rx_piped = dlen > 0 && conn_data_pipe_ok(c) &&
	    conn_pipe_open(c, dlen);
	c->conn_rx_hdr_only = c->conn_rx_piped;
	if (!c->conn_rx_piped)
		conn_rx_place(c);
	c->conn_rx_state = RX_DATA;
	return (1);
}

/* Where the data goes: in place (conn_data_dest), or conn_rx_data. */
static void
conn_rx_place(struct conn *c)
{
	if (c->conn_rx_dlen > 0 &&
	    (c->conn_rx_dst = conn_data_dest(c)) != NULL)
		c->conn_rx_inplace = true;
	else
		c->conn_rx_dst = c->conn_rx_data;
}

/*
 * The connection's pipe, for data of dlen bytes (conn.h): made when
 * first needed, as large as F_SETPIPE_SZ allows up to CONN_PIPE_SIZE.
 * Data up to half of it goes there; the pipe's slots are pages or
 * smaller pieces of the socket's buffers, so it may fill up before, and
 * then conn_rx_pipe_fill fetches what it holds (conn_rx_unpipe).
 */
static bool
conn_pipe_open(struct conn *c, size_t dlen)
{
	int	 n;

	if (c->conn_pipe[0] == -1) {
		if (c->conn_pipe_failed)
			return (false);
		if (pipe2(c->conn_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
			log_debug(1, "%s: pipe2: %s", c->conn_tag,
			    strerror(errno));
			c->conn_pipe[0] = c->conn_pipe[1] = -1;
			c->conn_pipe_failed = true;
			return (false);
		}
		if ((n = fcntl(c->conn_pipe[0], F_SETPIPE_SZ, CONN_PIPE_SIZE))
		    == -1)
			n = fcntl(c->conn_pipe[0], F_GETPIPE_SZ);
		c->conn_pipe_cap = n > 0 ? (size_t)n : 0;
	}
	return (dlen <= c->conn_pipe_cap / 2);
}

void
conn_pipe_close(struct conn *c)
{
	if (c->conn_pipe[0] != -1) {
		close(c->conn_pipe[0]);
		close(c->conn_pipe[1]);
		c->conn_pipe[0] = c->conn_pipe[1] = -1;
	}
	c->conn_rx_piped = false;
}

/* Read what the pipe holds into [p, +len): bytes read, or -1. */
static ssize_t
conn_pipe_read(struct conn *c, uint8_t *p, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = read(c->conn_pipe[0], p + got, len - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			break;
		else
			return (-1);
	}
	return ((ssize_t)got);
}

/*
 * The piped data received so far goes where conn_data_dest says, as if
 * it had been read from the socket: for conn_scsi_cmd when it must keep
 * it in a buffer after all, or when the pipe is full.
 */
void
conn_rx_unpipe(struct conn *c)
{
	if (!c->conn_rx_piped)
		return;
	c->conn_rx_piped = false;
	conn_rx_place(c);
	if (conn_pipe_read(c, c->conn_rx_dst, c->conn_rx_got) !=
	    (ssize_t)c->conn_rx_got)
		session_conn_close(c, "pipe: read failed");
}

/* Empty the pipe of data that was not taken (the command failed). */
static void
conn_rx_pipe_drain(struct conn *c)
{
	c->conn_rx_piped = false;
	if (conn_pipe_read(c, c->conn_rx_data, c->conn_p[P_MAX_RECV_DSL]) ==
	    -1)
		session_conn_close(c, "pipe: read failed");
}

/*
 * Piped data: what conn_rxb holds of it is copied into the pipe, the
 * rest spliced from the socket.  1 complete, 0 needs more bytes, -1
 * connection ends, 2 the pipe is full: continue as unpiped.
 */
static int
conn_rx_pipe_fill(struct conn *c)
{
	size_t	 avail, want;
	ssize_t	 n;
	int	 q;

	while ((want = c->conn_rx_dlen - c->conn_rx_got) > 0) {
		if ((avail = c->conn_rxb_tail - c->conn_rxb_head) > 0)
			n = write(c->conn_pipe[1], c->conn_rxb +
			    c->conn_rxb_head, MIN(avail, want));
		else
			n = splice(c->conn_fd, NULL, c->conn_pipe[1], NULL,
			    want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			if (avail > 0)
				c->conn_rxb_head += (size_t)n;
			else
				c->conn_rx_seen = true;
			c->conn_rx_got += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || (n == -1 && errno != EAGAIN))
			return (conn_rx_none(c, n));
		/* EAGAIN: the socket is empty, or the pipe full. */
		if (avail == 0 && (ioctl(c->conn_fd, FIONREAD, &q) == -1 ||
		    q == 0))
			return (0);
		conn_rx_unpipe(c);
		return (c->conn_dead ? -1 : 2);
	}
	return (1);
}

/* Take n bytes of data and trailer from src. */
static void
conn_rx_put(struct conn *c, const uint8_t *src, size_t n)
{
	size_t	 k;

	if (c->conn_rx_got < c->conn_rx_dlen) {
		k = MIN(n, c->conn_rx_dlen - c->conn_rx_got);
		memcpy(c->conn_rx_dst + c->conn_rx_got, src, k);
		c->conn_rx_got += k;
		src += k;
		n -= k;
	}
	if (n > 0) {
		memcpy(c->conn_rx_trail + (c->conn_rx_got - c->conn_rx_dlen),
		    src, n);
		c->conn_rx_got += n;
	}
}

/* Long data straight to its place; what follows into conn_rxb. */
static ssize_t
conn_rx_direct(struct conn *c)
{
	struct iovec	 iov[3];
	size_t		 got = c->conn_rx_got, dlen = c->conn_rx_dlen;
	size_t		 rem = dlen + c->conn_rx_tlen - got;
	ssize_t		 n;
	int		 k = 0;

	if (got < dlen) {
		iov[k].iov_base = c->conn_rx_dst + got;
		iov[k++].iov_len = dlen - got;
	}
	if (c->conn_rx_tlen > 0 && got < dlen + c->conn_rx_tlen) {
		iov[k].iov_base = c->conn_rx_trail + (got > dlen ?
		    got - dlen : 0);
		iov[k++].iov_len = c->conn_rx_tlen - (got > dlen ?
		    got - dlen : 0);
	}
	c->conn_rxb_head = c->conn_rxb_tail = 0;
	iov[k].iov_base = c->conn_rxb;
	iov[k++].iov_len = sizeof(c->conn_rxb);
	do
		n = readv(c->conn_fd, iov, k);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		c->conn_rx_seen = true;
		if ((size_t)n <= rem)
			c->conn_rx_got += n;
		else {
			c->conn_rx_got += rem;
			c->conn_rxb_tail = n - rem;
		}
		return (n);
	}
	return (conn_rx_none(c, n));
}

/* Gather the data: 1 complete, 0 needs more bytes, -1 connection ends. */
static int
conn_rx_payload(struct conn *c)
{
	size_t	 want, avail;
	ssize_t	 n;
	int	 r;

	if (c->conn_rx_piped && (r = conn_rx_pipe_fill(c)) != 2)
		return (r);
	while ((want = c->conn_rx_dlen + c->conn_rx_tlen - c->conn_rx_got) >
	    0) {
		avail = c->conn_rxb_tail - c->conn_rxb_head;
		if (avail > 0) {
			n = MIN(avail, want);
			conn_rx_put(c, c->conn_rxb + c->conn_rxb_head, n);
			c->conn_rxb_head += n;
			continue;
		}
		if (want >= CONN_RX_DIRECT)
			n = conn_rx_direct(c);
		else
			n = conn_rx_fill(c, 0);
		if (n <= 0)
			return (n);
	}
	return (1);
}

/*
 * Read and handle a batch of PDUs.  After every CONN_RX_FLUSH bytes of
 * input the answers so far go out, so that an initiator streaming
 * large writes refills its window while we write the rest of the batch
 * instead of waiting for the whole batch.
 */
void
conn_read(struct conn *c)
{
	size_t	 taken = 0;
	int	 npdu = 0, r;

	while (npdu < CONN_RX_BATCH && !c->conn_stop_rx &&
	    c->conn_tx_bytes < CONN_TXQ_HIGH) {
		if (c->conn_rx_state == RX_BHS) {
			if ((r = conn_rx_header(c)) <= 0)
				return;
		}
		if ((r = conn_rx_payload(c)) <= 0)
			return;
		c->conn_rx_ddig_bad = c->conn_ddig && c->conn_rx_dlen > 0 &&
		    !conn_rx_ddig_ok(c);
		c->conn_rx_state = RX_BHS;
		npdu++;
		conn_pdu(c);
		iobuf_unref(c->conn_rx_ib);
		c->conn_rx_ib = NULL;
		c->conn_rx_inplace = false;
		if (c->conn_dead)
			return;
		if (c->conn_rx_piped) {
			conn_rx_pipe_drain(c);
			if (c->conn_dead)
				return;
		}
		taken += ISCSI_BHS_SIZE + c->conn_rx_dlen;
		if (taken >= CONN_RX_FLUSH && !TAILQ_EMPTY(&c->conn_txq)) {
			taken = 0;
			if (conn_write(c) == -1)
				return;
		}
	}
}
