/*
 * fuzz_login.c: the worker's login state machine (src/worker/login.c)
 * fed whole logins.  Input: a flags byte, then the bytes an initiator
 * sends, PDU after PDU.  login_run reads them from one end of a
 * socketpair; a thread of the harness writes them into the other end,
 * drains the Login Responses, and plays io on the worker's IPC channel:
 * it judges access, makes CHAP challenges, judges CHAP responses and
 * admits sessions, or refuses, as the flags say:
 *   0x01  discovery needs CHAP (a global IncomingUser)
 *   0x02  io refuses every CHAP response
 *   0x04  io refuses to admit the session
 *   0x08  io has no challenge for any CHAP_A
 *   0x10  debug level 2: the worker dumps every PDU (CHAP values redacted)
 *   0x20  io refuses access to the target (its access control)
 * No fork, no exit: login_run returns on every input.  Properties: a login
 * that needed CHAP succeeds only after io accepted a response, and a
 * normal session only after io granted access and admitted it; what the worker sent is a
 * sequence of whole Login Responses with well-formed keys, ending in a
 * reject when the login failed and in T=1 NSG=3 status 0 when it did not.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "conf.h"
#include "fuzz.h"
#include "ipc.h"
#include "keys.h"
#include "log.h"
#include "worker/login.h"

#define F_DISC_CHAP	0x01
#define F_DENY_AUTH	0x02
#define F_DENY_ADMIT	0x04
#define F_NO_CHAL	0x08
#define F_DEBUG		0x10
#define F_DENY_ACCESS	0x20

static const char conf_text[] =
	"Target iqn.2026-11.org.ietd:t1\n"
	"\tLun 0 Type=nullio\n"
	"Target iqn.2026-11.org.ietd:cap\n"
	"\tLun 0 Type=nullio\n"
	"Target iqn.2026-11.org.ietd:cap-chap\n"
	"\tIncomingUser alice secretsecret12\n"
	"\tLun 0 Type=nullio\n";
static struct conf	*conf_open, *conf_chap;

/* The harness's side: initiator bytes in, responses out, io answers. */
struct peer {
	const uint8_t	*data;
	size_t		 len;
	int		 sock;
	int		 chan;
	int		 flags;
	int		 verdicts;	/* CHAP responses io accepted */
	int		 granted;	/* access checks io passed */
	int		 admitted;	/* sessions io admitted */
	uint8_t		*out;		/* what the worker sent */
	size_t		 outlen;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char disc_users[] = "IncomingUser disc discsecret12345\n";
	char	 buf[sizeof(disc_users) + sizeof(conf_text)];

	log_init(1, 0);
	conf_open = conf_parse_buf("fuzz-open.conf", conf_text,
	    sizeof(conf_text) - 1);
	snprintf(buf, sizeof(buf), "%s%s", disc_users, conf_text);
	conf_chap = conf_parse_buf("fuzz-chap.conf", buf, strlen(buf));
	if (conf_open == NULL || conf_chap == NULL)
		abort();
	return (0);
}

static void
io_challenge(struct peer *p, const struct msg_w_auth_challenge *c)
{
	struct msg_i_auth_challenge	 a;
	int				 alg;

	memset(&a, 0, sizeof(a));
	alg = chap_alg_pick(c->algs, c->nalgs < CHAP_ALGS_MAX ? c->nalgs :
	    CHAP_ALGS_MAX, NULL, 0);
	if ((p->flags & F_NO_CHAL) || alg == -1)
		a.status = LOGIN_AUTH_FAILED;
	else {
		a.alg = alg;
		a.id = 0x5a;
		a.challen = chap_digest_len(alg);
		memset(a.chal, 0xc5, a.challen);
	}
	if (ipc_send(p->chan, MSG_I_AUTH_CHALLENGE, 0, &a, sizeof(a), -1) == -1)
		abort();
}

static void
io_response(struct peer *p, const struct msg_w_auth_response *r)
{
	struct msg_i_auth_response	 a;

	memset(&a, 0, sizeof(a));
	if (p->flags & F_DENY_AUTH)
		a.status = LOGIN_AUTH_FAILED;
	else {
		p->verdicts++;
		if (r->flags & AUTH_MUTUAL) {
			strlcpy(a.name, "target", sizeof(a.name));
			a.resplen = 16;
			memset(a.resp, 0x3c, a.resplen);
		}
	}
	if (ipc_send(p->chan, MSG_I_AUTH_RESPONSE, 0, &a, sizeof(a), -1) == -1)
		abort();
}

static void
io_admit(struct peer *p, const struct msg_w_admit *w)
{
	struct msg_i_admit	 a;

	memset(&a, 0, sizeof(a));
	if (p->flags & F_DENY_ADMIT)
		a.status = LOGIN_TOO_MANY_CONNECTIONS;
	else {
		p->admitted++;
		a.tsih = w->tsih != 0 ? w->tsih : 0x1234;
	}
	if (ipc_send(p->chan, MSG_I_ADMIT, 0, &a, sizeof(a), -1) == -1)
		abort();
}

static void
io_access(struct peer *p)
{
	struct msg_i_access	 a;

	memset(&a, 0, sizeof(a));
	if (p->flags & F_DENY_ACCESS)
		a.status = LOGIN_FORBIDDEN;
	else
		p->granted++;
	if (ipc_send(p->chan, MSG_I_ACCESS, 0, &a, sizeof(a), -1) == -1)
		abort();
}

/* One record from the worker: 0, or -1 once the channel is closed. */
static int
io_answer(struct peer *p)
{
	static const struct ipc_rule rules[] = {
		{ MSG_W_AUTH_CHALLENGE, sizeof(struct msg_w_auth_challenge),
		    sizeof(struct msg_w_auth_challenge), false },
		{ MSG_W_AUTH_RESPONSE, sizeof(struct msg_w_auth_response),
		    sizeof(struct msg_w_auth_response), false },
		{ MSG_W_ADMIT, sizeof(struct msg_w_admit),
		    sizeof(struct msg_w_admit), false },
		{ MSG_W_ACCESS, sizeof(struct msg_w_access),
		    sizeof(struct msg_w_access), false },
	};
	struct ipc_msg	 m;
	int		 rv;

	rv = ipc_recv(p->chan, rules, sizeof(rules) / sizeof(rules[0]), &m);
	if (rv == 0 || (rv == -1 && errno == ECONNRESET))
		return (-1);
	/* A record this io does not know would leave the login waiting. */
	FUZZ_ASSERT(rv == 1);
	switch (m.hdr.type) {
	case MSG_W_AUTH_CHALLENGE:
		io_challenge(p, (void *)m.data);
		break;
	case MSG_W_AUTH_RESPONSE:
		io_response(p, (void *)m.data);
		break;
	case MSG_W_ADMIT:
		io_admit(p, (void *)m.data);
		break;
	case MSG_W_ACCESS:
		io_access(p);
		break;
	}
	return (0);
}

static void
keep(struct peer *p, const uint8_t *buf, size_t n)
{
	if ((p->out = realloc(p->out, p->outlen + n)) == NULL)
		abort();
	memcpy(p->out + p->outlen, buf, n);
	p->outlen += n;
}

/*
 * The worker's answers: whole Login Responses, keys that load (an answer
 * continued with the C bit is joined first; C never comes with T),
 * status 0 until the last.  Returns the last BHS (NULL if none).
 */
static const struct iscsi_login_rsp *
check_responses(const struct peer *p)
{
	const struct iscsi_login_rsp	*r = NULL;
	struct keys			*k;
	const char			*errstr;
	char				*text = NULL;
	size_t				 off = 0, dlen, tlen = 0;

	while (off < p->outlen) {
		FUZZ_ASSERT(r == NULL || r->status_class == 0);
		FUZZ_ASSERT(p->outlen - off >= sizeof(struct iscsi_bhs));
		r = (const void *)(p->out + off);
		FUZZ_ASSERT(r->opcode == ISCSI_OP_LOGIN_RSP);
		FUZZ_ASSERT(r->total_ahs_len == 0);
		FUZZ_ASSERT((r->flags & (ISCSI_LOGIN_C | ISCSI_LOGIN_T)) !=
		    (ISCSI_LOGIN_C | ISCSI_LOGIN_T));
		dlen = pdu_data_len((const struct iscsi_bhs *)r);
		FUZZ_ASSERT(dlen <= ISCSI_LOGIN_DATA_MAX);
		off += sizeof(struct iscsi_bhs);
		FUZZ_ASSERT(p->outlen - off >= dlen + pdu_padding(dlen));
		if ((text = realloc(text, tlen + dlen + 1)) == NULL)
			abort();
		memcpy(text + tlen, p->out + off, dlen);
		tlen += dlen;
		off += dlen + pdu_padding(dlen);
		if (r->flags & ISCSI_LOGIN_C)
			continue;
		if ((k = keys_new()) == NULL)
			abort();
		FUZZ_ASSERT(keys_load(k, text, tlen, &errstr) == 0);
		keys_free(k);
		tlen = 0;
	}
	free(text);
	return (r);
}

/* Write the input, drain the answers, play io, until both ends close. */
static void *
peer_run(void *arg)
{
	struct peer	*p = arg;
	struct pollfd	 pfd[2];
	uint8_t		 buf[16384];
	size_t		 off = 0;
	ssize_t		 n;

	if (p->len == 0)
		shutdown(p->sock, SHUT_WR);
	pfd[0].fd = p->sock;
	pfd[1].fd = p->chan;
	while (pfd[0].fd != -1 || pfd[1].fd != -1) {
		pfd[0].events = POLLIN | (off < p->len ? POLLOUT : 0);
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			abort();
		}
		if (pfd[0].revents & POLLOUT) {
			n = send(p->sock, p->data + off, p->len - off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off += n;
			else if (n == -1 && errno != EAGAIN)
				off = p->len;	/* the login has ended */
			if (off == p->len)
				shutdown(p->sock, SHUT_WR);
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(p->sock, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n == -1 && errno != EAGAIN)) {
				pfd[0].fd = -1;
				off = p->len;
			} else if (n > 0)
				keep(p, buf, n);
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    io_answer(p) == -1)
			pfd[1].fd = -1;
	}
	return (NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct login	 l;
	struct peer	 p;
	const struct iscsi_login_rsp *last;
	pthread_t	 t;
	int		 s[2], c[2], rv;

	if (size < 1)
		return (0);
	memset(&p, 0, sizeof(p));
	p.flags = data[0];
	p.data = data + 1;
	p.len = size - 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == -1 ||
	    ipc_pair(c) == -1)
		abort();
	p.sock = s[1];
	p.chan = c[1];

	memset(&l, 0, sizeof(l));
	l.l_fd = s[0];
	l.l_chan = c[0];
	l.l_conf = (p.flags & F_DISC_CHAP) ? conf_chap : conf_open;
	l.l_window = 1;
	strlcpy(l.l_addr, "fuzz", sizeof(l.l_addr));
	log_setverbose((p.flags & F_DEBUG) ? 2 : 0);
	if (pthread_create(&t, NULL, peer_run, &p) != 0)
		abort();
	rv = login_run(&l);
	close(s[0]);
	close(c[0]);
	if (pthread_join(t, NULL) != 0)
		abort();
	close(s[1]);
	close(c[1]);

	FUZZ_ASSERT(rv == 0 || rv == -1 || rv == LOGIN_CLOSED);
	last = check_responses(&p);
	if (rv == 0) {
		FUZZ_ASSERT(l.l_stage == ISCSI_STAGE_FULL);
		FUZZ_ASSERT(!l.l_chap || p.verdicts > 0);
		FUZZ_ASSERT(l.l_discovery || (p.granted > 0 &&
		    p.admitted > 0 && l.l_tsih != 0 && l.l_target != NULL));
		FUZZ_ASSERT(last != NULL && last->status_class == 0 &&
		    (last->flags & ISCSI_LOGIN_T) &&
		    ISCSI_LOGIN_NSG(last->flags) == ISCSI_STAGE_FULL);
	} else if (rv == -1)
		FUZZ_ASSERT(last != NULL && last->status_class != 0);
	free(p.out);
	return (0);
}
