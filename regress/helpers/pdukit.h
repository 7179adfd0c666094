/*
 * pdukit: the socket and PDU plumbing the raw-PDU test clients share
 * (rawpdu, digestpdu, ffpdu, sesspdu, chapclient).  Each client keeps
 * what it tests (and chapclient its own CHAP); only this part is common.
 */
#ifndef IETD_PDUKIT_H
#define IETD_PDUKIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pdu.h"

/* Results of pk_read_full() and pk_recv_pdu(). */
#define PK_CLOSED	(-1)	/* EOF, reset, or another read error */
#define PK_TIMEOUT	(-2)

/* pk_dial() options. */
#define PK_NODELAY	0x1	/* TCP_NODELAY */
#define PK_SMALLRCV	0x2	/* an 8 KiB receive buffer */

int	pk_dial(const char *, const char *, int, int *);
int	pk_xdial(const char *, const char *, int);
int	pk_send_all(int, const void *, size_t);
int	pk_send_pdu(int, const void *, const void *, size_t);
void	pk_deadline(struct timespec *, int);
int	pk_read_full(int, void *, size_t, const struct timespec *);
int	pk_read_ms(int, void *, size_t, int);
int	pk_recv_pdu(int, struct iscsi_bhs *, uint8_t **, size_t *, size_t,
	    const struct timespec *);
void	pk_put24(uint8_t [3], uint32_t);
void	pk_login_req(struct iscsi_login_req *, int, uint8_t, uint32_t,
	    uint32_t, uint32_t);

#endif
