/*
 * login.c: the iSCSI Login Phase (RFC 7143 sections 6.3 and 11.12-11.13)
 * in the worker: initial-PDU checks, the security stage, the operational
 * stage, and the transition to the Full Feature Phase.  For a normal
 * session io admits the session (and assigns its TSIH) before the final
 * Login Response goes out.  Any violation: the right Login status, a log
 * line, and login_run returns -1 for the worker to exit (every function
 * here returns instead of exiting, so that fuzz/fuzz_login.c can feed it
 * one login after another).
 */
#include <sys/types.h>

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "chap.h"
#include "ipc.h"
#include "log.h"
#include "util.h"
#include "worker/login.h"

static int	access_verdict(struct login *, const struct pdu *);

/* Keys the login code answers itself; param_negotiate never sees them. */
static const char *const declarative_keys[] = {
	"InitiatorName", "InitiatorAlias", "TargetName", "SessionType",
	"AuthMethod", "TargetAlias", "TargetAddress", "TargetPortalGroupTag",
};

/*
 * A copy of login text with the values of CHAP_C, CHAP_I and CHAP_R
 * blotted out: challenges and responses never reach the log.
 */
static char *
redact(const uint8_t *data, size_t len)
{
	static const char *const hidden[] = {
		"CHAP_C=", "CHAP_I=", "CHAP_R=",
	};
	char	*t, *p, *end;
	size_t	 i, n;

	if ((t = malloc(len)) == NULL)
		fatal("malloc");
	memcpy(t, data, len);
	for (p = t, end = t + len; p < end; p += n + 1) {
		n = strnlen(p, end - p);
		for (i = 0; i < nitems(hidden); i++)
			if (n >= strlen(hidden[i]) &&
			    strncmp(p, hidden[i], strlen(hidden[i])) == 0)
				memset(p + strlen(hidden[i]), '*',
				    n - strlen(hidden[i]));
	}
	return (t);
}

static void
dump(const char *dir, const struct pdu *p)
{
	char	*t;

	if (log_getverbose() < 2)
		return;
	log_debug(2, "%s %s", dir, pdu_opcode_name(pdu_opcode(&p->bhs)));
	log_hexdump(2, "BHS", &p->bhs, sizeof(p->bhs));
	if (p->ahs_len > 0)
		log_hexdump(2, "AHS", p->ahs, p->ahs_len);
	if (p->data_len > 0) {
		t = redact(p->data, p->data_len);
		log_hexdump(2, "Data", t, p->data_len);
		freezero(t, p->data_len);
	}
}

void
login_send(struct login *l, struct pdu *p)
{
	dump("send", p);
	if (pdu_write(l->l_fd, p) == -1) {
		if (errno == EPIPE || errno == ECONNRESET)
			_exit(0);
		fatal("write");
	}
}

static void
rsp_init(struct login *l, struct pdu *rsp, const struct pdu *req,
    uint8_t flags)
{
	struct iscsi_login_rsp		*r = (void *)&rsp->bhs;
	const struct iscsi_login_req	*q = (const void *)&req->bhs;

	pdu_init(rsp);
	r->opcode = ISCSI_OP_LOGIN_RSP;
	r->flags = flags;
	r->version_max = 0;
	r->version_active = 0;
	memcpy(r->isid, l->l_isid, sizeof(r->isid));
	r->tsih = htobe16(l->l_tsih);
	r->itt = q->itt;
	r->statsn = htobe32(l->l_statsn++);
	r->expcmdsn = htobe32(l->l_cmdsn);
	r->maxcmdsn = htobe32(l->l_cmdsn + l->l_window - 1);
}

int
login_fail(struct login *l, const struct pdu *req, int status,
    const char *fmt, ...)
{
	struct iscsi_login_rsp	*r;
	struct pdu		 rsp;
	va_list			 ap;
	char			 why[512];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* A refusal of access that io has decided comes first. */
	if (l->l_access_pending && access_verdict(l, req) == -1)
		return (-1);
	log_warnx("login by %s failed: %s (status %#06x)",
	    l->l_initiator[0] != '\0' ? l->l_initiator : "(unknown)", why,
	    status);
	rsp_init(l, &rsp, req, 0);
	r = (void *)&rsp.bhs;
	r->tsih = 0;
	r->status_class = status >> 8;
	r->status_detail = status & 0xff;
	(void)pdu_write(l->l_fd, &rsp);
	pdu_free(&rsp);
	return (-1);
}

/* iSCSI names: iqn., eui. or naa. forms, printable, 1-223 bytes. */
static bool
valid_name(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n >= ISCSI_NAME_MAX)
		return (false);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return (false);
	return (true);
}

/* 0, or -1 / LOGIN_CLOSED with req freed. */
static int
read_request(struct login *l, struct pdu *req)
{
	int	 r;

	pdu_init(req);
	r = pdu_read(l->l_fd, req, ISCSI_LOGIN_DATA_MAX);
	switch (r) {
	case 0:
		break;
	case PDU_ERR_EOF:
		log_debug(1, "connection closed during login");
		return (LOGIN_CLOSED);
	case PDU_ERR_TOOBIG:
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "%s with DataSegmentLength %u over %u",
		    pdu_opcode_name(pdu_opcode(&req->bhs)),
		    pdu_data_len(&req->bhs), ISCSI_LOGIN_DATA_MAX));
	case PDU_ERR_AHS:
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR, "bad AHS"));
	default:
		if (errno == ECONNRESET)
			return (LOGIN_CLOSED);
		fatal("read");
	}
	dump("recv", req);
	r = 0;
	if (++l->l_npdus > LOGIN_PDUS_MAX)
		r = login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "more than %d login PDUs", LOGIN_PDUS_MAX);
	else if (pdu_opcode(&req->bhs) != ISCSI_OP_LOGIN_REQ)
		r = login_fail(l, req, LOGIN_INVALID_DURING_LOGIN,
		    "protocol error: received %s (opcode %#x) during login",
		    pdu_opcode_name(pdu_opcode(&req->bhs)),
		    pdu_opcode(&req->bhs));
	else if (req->ahs_len != 0)
		r = login_fail(l, req, LOGIN_INITIATOR_ERROR, "AHS in login");
	if (r != 0)
		pdu_free(req);
	return (r);
}

/*
 * Read one logical request: PDUs with the C bit are answered with empty
 * responses and their text is joined (RFC 7143 section 6.2).
 */
static int
read_joined(struct login *l, struct pdu *req, struct keys *in)
{
	struct iscsi_login_req	*q;
	struct pdu		 part, rsp;
	const char		*errstr;
	char			*text = NULL, *ntext;
	size_t			 len = 0;
	int			 rv = 0;

	if ((rv = read_request(l, req)) != 0)
		return (rv);
	for (;;) {
		q = (void *)&req->bhs;
		/* RFC 7143 11.13.5: more than we take is 0x0302. */
		if (len + req->data_len > LOGIN_TEXT_MAX) {
			rv = login_fail(l, req, LOGIN_OUT_OF_RESOURCES,
			    "login text over %d bytes", LOGIN_TEXT_MAX);
			goto fail;
		}
		if ((ntext = realloc(text, len + req->data_len + 1)) == NULL)
			fatal("realloc");
		text = ntext;
		if (req->data_len > 0)
			memcpy(text + len, req->data, req->data_len);
		len += req->data_len;
		if ((q->flags & ISCSI_LOGIN_C) == 0)
			break;
		if (q->flags & ISCSI_LOGIN_T) {
			rv = login_fail(l, req, LOGIN_INITIATOR_ERROR,
			    "both C and T bits set");
			goto fail;
		}
		rsp_init(l, &rsp, req, q->flags & 0x0c);
		login_send(l, &rsp);
		pdu_free(&rsp);
		if ((rv = read_request(l, &part)) != 0)
			goto fail;
		if (((struct iscsi_login_req *)&part.bhs)->itt != q->itt) {
			rv = login_fail(l, &part, LOGIN_INITIATOR_ERROR,
			    "continuation with another ITT");
			pdu_free(&part);
			goto fail;
		}
		/* Keep the last PDU's header and data as the request. */
		pdu_free(req);
		*req = part;
	}
	if (keys_load(in, text, len, &errstr) == -1)
		rv = login_fail(l, req, strcmp(errstr, "too many keys") == 0 ?
		    LOGIN_OUT_OF_RESOURCES : LOGIN_INITIATOR_ERROR,
		    "malformed login keys: %s", errstr);
 fail:
	free(text);
	if (rv != 0)
		pdu_free(req);
	return (rv);
}

/*
 * May this initiator reach the target?  io judges (acl.c) at once; the
 * worker reads the verdict with access_verdict.  0, or -1 after the
 * Login reject.
 */
static int
access_send(struct login *l, const struct pdu *req)
{
	struct msg_w_access	 a;

	memset(&a, 0, sizeof(a));
	a.tid = l->l_target->ct_tid;
	strlcpy(a.initiator, l->l_initiator, sizeof(a.initiator));
	strlcpy(a.target, l->l_target->ct_name, sizeof(a.target));
	if (ipc_send(l->l_chan, MSG_W_ACCESS, 0, &a, sizeof(a), -1) == -1)
		return (login_fail(l, req, LOGIN_TARGET_ERROR,
		    "no access verdict from io"));
	l->l_access_pending = true;
	return (0);
}

/* Never inlined, for the same reason as admit_verdict. */
static __attribute__((noinline)) int
access_verdict(struct login *l, const struct pdu *req)
{
	static const struct ipc_rule rules[] = {
		{ MSG_I_ACCESS, sizeof(struct msg_i_access),
		    sizeof(struct msg_i_access), false },
	};
	struct msg_i_access	 v;
	struct ipc_msg		 m;

	l->l_access_pending = false;
	if (ipc_recv(l->l_chan, rules, nitems(rules), &m) != 1)
		return (login_fail(l, req, LOGIN_TARGET_ERROR,
		    "no access verdict from io"));
	memcpy(&v, m.data, sizeof(v));
	if (v.status != LOGIN_OK)
		return (login_fail(l, req, v.status,
		    "access to %s refused by io", l->l_target->ct_name));
	return (0);
}

/*
 * A first request that also asks for the Full Feature Phase (libiscsi's
 * single-PDU login) reads the access verdict only when it asks for
 * admission, or when it fails before: the worker then waits for io once
 * instead of twice.  Any other login waits for it here.
 */
static int
access_ask(struct login *l, const struct pdu *req)
{
	const struct iscsi_login_req	*q = (const void *)&req->bhs;

	if (access_send(l, req) == -1)
		return (-1);
	if ((q->flags & ISCSI_LOGIN_T) &&
	    ISCSI_LOGIN_NSG(q->flags) == ISCSI_STAGE_FULL)
		return (0);
	return (access_verdict(l, req));
}

/* What the first Login Request must hold: who, which session, which target. */
static int
first_request(struct login *l, const struct pdu *req, struct keys *in,
    struct keys *out)
{
	const struct iscsi_login_req	*q = (const void *)&req->bhs;
	const char			*v;
	uint32_t			 defaults[P__COUNT];

	memcpy(l->l_isid, q->isid, sizeof(l->l_isid));
	l->l_tsih = be16toh(q->tsih);
	l->l_cid = be16toh(q->cid);
	l->l_itt = q->itt;
	l->l_cmdsn = be32toh(q->cmdsn);
	l->l_statsn = xrandom32();
	l->l_window = 1;
	l->l_stage = ISCSI_LOGIN_CSG(q->flags);

	if (q->version_min > 0)
		return (login_fail(l, req, LOGIN_UNSUPPORTED_VERSION,
		    "version %u-%u not supported", q->version_min,
		    q->version_max));
	if ((v = keys_find(in, "InitiatorName")) == NULL)
		return (login_fail(l, req, LOGIN_MISSING_PARAMETER,
		    "no InitiatorName"));
	if (!valid_name(v))
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "invalid InitiatorName"));
	strlcpy(l->l_initiator, v, sizeof(l->l_initiator));
	log_setpeer(l->l_addr, l->l_initiator);

	v = keys_find(in, "SessionType");
	if (v == NULL || strcmp(v, "Normal") == 0)
		l->l_discovery = false;
	else if (strcmp(v, "Discovery") == 0)
		l->l_discovery = true;
	else
		return (login_fail(l, req, LOGIN_SESSION_TYPE_UNSUPPORTED,
		    "SessionType %s", v));

	if (l->l_discovery) {
		l->l_chap = !TAILQ_EMPTY(&l->l_conf->conf_in_users);
		if (l->l_tsih != 0)
			return (login_fail(l, req,
			    LOGIN_SESSION_DOES_NOT_EXIST,
			    "discovery session with TSIH %u", l->l_tsih));
		param_conf_defaults(defaults);
		param_neg_init(&l->l_neg, defaults, true, true);
	} else {
		if ((v = keys_find(in, "TargetName")) == NULL)
			return (login_fail(l, req, LOGIN_MISSING_PARAMETER,
			    "no TargetName"));
		if ((l->l_target = conf_target_find(l->l_conf, v)) == NULL)
			return (login_fail(l, req, LOGIN_TARGET_NOT_FOUND,
			    "no target %s", v));
		if (access_ask(l, req) == -1)
			return (-1);
		l->l_chap = !TAILQ_EMPTY(&l->l_target->ct_in_users);
		param_neg_init(&l->l_neg, l->l_target->ct_params, false,
		    l->l_tsih == 0);
		l->l_window = l->l_target->ct_params[P_QUEUED_COMMANDS];
		if (keys_add(out, "TargetPortalGroupTag", "1") == -1 ||
		    (l->l_target->ct_alias != NULL &&
		    keys_add(out, "TargetAlias", l->l_target->ct_alias) == -1))
			fatal("keys_add");
	}
	return (0);
}

/* Later requests must not change who is logging in. */
static int
check_same(struct login *l, const struct pdu *req, const struct keys *in)
{
	const struct iscsi_login_req	*q = (const void *)&req->bhs;
	const char			*v;

	if (memcmp(q->isid, l->l_isid, sizeof(l->l_isid)) != 0 ||
	    be16toh(q->tsih) != l->l_tsih || be16toh(q->cid) != l->l_cid)
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "ISID, TSIH or CID changed during login"));
	if ((v = keys_find(in, "InitiatorName")) != NULL &&
	    strcmp(v, l->l_initiator) != 0)
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "InitiatorName changed during login"));
	if ((v = keys_find(in, "TargetName")) != NULL &&
	    (l->l_target == NULL || strcmp(v, l->l_target->ct_name) != 0))
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "TargetName changed during login"));
	return (0);
}

/* The CHAP keys: all handled here, none may reach param_negotiate. */
static const char *const chap_keys[] = {
	"CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R",
};

static void
auth_msg_names(const struct login *l, char *initiator, char *target)
{
	strlcpy(initiator, l->l_initiator, ISCSI_NAME_MAX);
	if (!l->l_discovery)
		strlcpy(target, l->l_target->ct_name, ISCSI_NAME_MAX);
}

/* CHAP_A: io picks the algorithm and makes the identifier and challenge. */
static int
chap_challenge_ask(struct login *l, const struct pdu *req, const char *v,
    struct keys *out)
{
	static const struct ipc_rule rules[] = {
		{ MSG_I_AUTH_CHALLENGE, sizeof(struct msg_i_auth_challenge),
		    sizeof(struct msg_i_auth_challenge), false },
	};
	struct msg_w_auth_challenge	 c;
	struct msg_i_auth_challenge	 a;
	struct ipc_msg			 m;
	char				 hex[2 * CHAP_DIGEST_MAX + 3];

	memset(&c, 0, sizeof(c));
	c.tid = l->l_discovery ? 0 : l->l_target->ct_tid;
	c.nalgs = chap_alg_list(v, c.algs);
	auth_msg_names(l, c.initiator, c.target);
	if (ipc_send(l->l_chan, MSG_W_AUTH_CHALLENGE, 0, &c, sizeof(c),
	    -1) == -1 || ipc_recv(l->l_chan, rules, nitems(rules), &m) != 1)
		return (login_fail(l, req, LOGIN_TARGET_ERROR,
		    "no CHAP challenge from io"));
	memcpy(&a, m.data, sizeof(a));
	if (a.status != LOGIN_OK)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP: no challenge for CHAP_A=%s", v));
	if (chap_digest_len(a.alg) == 0 || a.id > 255 || a.challen == 0 ||
	    a.challen > sizeof(a.chal) ||
	    chap_bin_encode(a.chal, a.challen, hex, sizeof(hex)) == -1)
		fatalx("io gave a malformed CHAP challenge");
	if (keys_add_uint(out, "CHAP_A", a.alg) == -1 ||
	    keys_add_uint(out, "CHAP_I", a.id) == -1 ||
	    keys_add(out, "CHAP_C", hex) == -1)
		fatal("keys_add");
	l->l_auth = AUTH_WANT_R;
	return (0);
}

/* CHAP_I and CHAP_C of a mutual CHAP into the record to io.  0 or -1. */
static int
chap_response_msg(struct msg_w_auth_response *r, size_t resplen,
    const char *i, const char *c)
{
	size_t	 len;
	int	 id;

	r->resplen = resplen;
	if (i == NULL)
		return (0);
	if ((id = chap_id_parse(i)) == -1 ||
	    chap_bin_decode(c, r->chal, sizeof(r->chal), &len) == -1)
		return (-1);
	r->flags = AUTH_MUTUAL;
	r->id = id;
	r->challen = len;
	return (0);
}

/* The initiator's CHAP_N/CHAP_R (and CHAP_I/CHAP_C): io judges. */
static int
chap_response_ask(struct login *l, const struct pdu *req,
    const struct keys *in, struct keys *out)
{
	static const struct ipc_rule rules[] = {
		{ MSG_I_AUTH_RESPONSE, sizeof(struct msg_i_auth_response),
		    sizeof(struct msg_i_auth_response), false },
	};
	struct msg_w_auth_response	*r;
	struct msg_i_auth_response	 a;
	struct ipc_msg			 m;
	const char			*n, *rv, *i, *c;
	char				 hex[2 * CHAP_DIGEST_MAX + 3];
	size_t				 len;
	int				 rc;

	n = keys_find(in, "CHAP_N");
	rv = keys_find(in, "CHAP_R");
	i = keys_find(in, "CHAP_I");
	c = keys_find(in, "CHAP_C");
	if (n == NULL || rv == NULL)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP: CHAP_N or CHAP_R missing"));
	if ((i == NULL) != (c == NULL))
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP: CHAP_I without CHAP_C, or the reverse"));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	rc = -1;
	if (strlcpy(r->name, n, sizeof(r->name)) >= sizeof(r->name))
		login_fail(l, req, LOGIN_AUTH_FAILED, "CHAP: CHAP_N too long");
	else if (chap_bin_decode(rv, r->resp, sizeof(r->resp), &len) == -1)
		login_fail(l, req, LOGIN_AUTH_FAILED, "CHAP: malformed CHAP_R");
	else if (chap_response_msg(r, len, i, c) == -1)
		login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP: malformed CHAP_I or CHAP_C");
	else if (ipc_send(l->l_chan, MSG_W_AUTH_RESPONSE, 0, r, sizeof(*r),
	    -1) == -1 || ipc_recv(l->l_chan, rules, nitems(rules), &m) != 1)
		login_fail(l, req, LOGIN_TARGET_ERROR,
		    "no CHAP verdict from io");
	else
		rc = 0;
	freezero(r, sizeof(*r));
	if (rc == -1)
		return (-1);
	memcpy(&a, m.data, sizeof(a));
	explicit_bzero(&m, sizeof(m));
	if (a.status != LOGIN_OK)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP: user %s refused by io", n));
	if (i != NULL) {
		if (!ipc_str_ok(a.name, sizeof(a.name)) || a.resplen == 0 ||
		    a.resplen > sizeof(a.resp) ||
		    chap_bin_encode(a.resp, a.resplen, hex, sizeof(hex)) == -1)
			fatalx("io gave a malformed mutual CHAP answer");
		if (keys_add(out, "CHAP_N", a.name) == -1 ||
		    keys_add(out, "CHAP_R", hex) == -1)
			fatal("keys_add");
		explicit_bzero(hex, sizeof(hex));
	}
	explicit_bzero(&a, sizeof(a));
	strlcpy(l->l_chap_user, n, sizeof(l->l_chap_user));
	l->l_auth = AUTH_DONE;
	return (0);
}

static int
auth_method(struct login *l, const struct pdu *req, const char *v,
    struct keys *out)
{
	char	*list, *p, *tok;
	bool	 none = false, chap = false;

	if (l->l_auth != AUTH_START)
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "AuthMethod offered twice"));
	if ((list = strdup(v)) == NULL)
		fatal("strdup");
	for (p = list; (tok = strsep(&p, ",")) != NULL;) {
		if (strcmp(tok, "None") == 0)
			none = true;
		else if (strcmp(tok, "CHAP") == 0)
			chap = true;
	}
	free(list);
	if (l->l_chap && !chap)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP required, AuthMethod offers \"%s\"", v));
	if (!l->l_chap && !none)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "no supported AuthMethod in \"%s\"", v));
	if (keys_add(out, "AuthMethod", l->l_chap ? "CHAP" : "None") == -1)
		fatal("keys_add");
	l->l_auth = l->l_chap ? AUTH_WANT_A : AUTH_DONE;
	return (0);
}

/*
 * The security stage.  A target (or discovery) with IncomingUser answers
 * AuthMethod=CHAP and asks io for everything that needs a secret; any
 * other offers None.  CHAP keys out of turn end the login.
 */
static int
security_keys(struct login *l, const struct pdu *req, struct keys *in,
    struct keys *out)
{
	const char	*v;
	size_t		 k;

	if ((v = keys_find(in, "AuthMethod")) != NULL &&
	    auth_method(l, req, v, out) == -1)
		return (-1);
	if ((v = keys_find(in, "CHAP_A")) != NULL) {
		if (l->l_auth != AUTH_WANT_A)
			return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
			    "CHAP_A out of turn"));
		if (chap_challenge_ask(l, req, v, out) == -1)
			return (-1);
	} else if (keys_find(in, "CHAP_N") != NULL ||
	    keys_find(in, "CHAP_R") != NULL) {
		if (l->l_auth != AUTH_WANT_R)
			return (login_fail(l, req, LOGIN_AUTH_FAILED,
			    "CHAP_N/CHAP_R out of turn"));
		if (chap_response_ask(l, req, in, out) == -1)
			return (-1);
	} else if (keys_find(in, "CHAP_I") != NULL ||
	    keys_find(in, "CHAP_C") != NULL)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP_I/CHAP_C without CHAP_N/CHAP_R"));
	for (k = 0; k < nitems(chap_keys); k++)
		keys_delete(in, chap_keys[k]);
	return (0);
}

/*
 * May this request leave the security stage?  A CHAP login still under
 * way stays (the answer has T=0); one that never started, or an
 * operational stage reached without it, fails with 0x0201.
 */
static int
auth_transit(struct login *l, const struct pdu *req, int csg, int transit)
{
	if (!l->l_chap || l->l_auth == AUTH_DONE)
		return (transit);
	if (csg != ISCSI_STAGE_SECURITY)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP required, security stage skipped"));
	if (transit && l->l_auth == AUTH_START)
		return (login_fail(l, req, LOGIN_AUTH_FAILED,
		    "CHAP required, no AuthMethod offered"));
	return (0);
}

static int
operational_keys(struct login *l, const struct pdu *req, struct keys *in,
    struct keys *out)
{
	const char	*errstr = "";
	size_t		 i;
	int		 status;

	for (i = 0; i < nitems(declarative_keys); i++)
		keys_delete(in, declarative_keys[i]);
	if (param_negotiate(&l->l_neg, in, out, &status, &errstr) == -1)
		return (login_fail(l, req, status, "negotiation: %s",
		    errstr));
	return (0);
}

/*
 * Many keys we do not know make a long answer (NotUnderstood for each):
 * one that does not fit into a Login Response is refused, 0x0302.
 */
static int
answer_fits(struct login *l, const struct pdu *req, const struct keys *out)
{
	char	*data;
	size_t	 len;

	if (keys_save(out, &data, &len) == -1)
		fatal("keys_save");
	free(data);
	if (len > LOGIN_TEXT_MAX)
		return (login_fail(l, req, LOGIN_OUT_OF_RESOURCES,
		    "login response of %zu bytes over %d", len,
		    LOGIN_TEXT_MAX));
	return (0);
}

/*
 * Send the answer to a request.  Text longer than one Login Response
 * goes out in pieces with the C bit and T cleared (RFC 7143 11.13.2),
 * each asked for by an empty Login Request with the same ITT (6.2); the
 * last piece carries flags.  0, or -1 / LOGIN_CLOSED.
 */
static int
send_answer(struct login *l, const struct pdu *req, uint8_t flags,
    const struct keys *k)
{
	const struct iscsi_login_req	*q = (const void *)&req->bhs;
	const struct iscsi_login_req	*nq;
	struct pdu			 rsp, next;
	char				*data;
	size_t				 len, off = 0, n;
	bool				 last;
	int				 rv = 0;

	if (keys_save(k, &data, &len) == -1)
		fatal("keys_save");
	for (;;) {
		n = len - off > ISCSI_LOGIN_DATA_MAX ? ISCSI_LOGIN_DATA_MAX :
		    len - off;
		last = off + n == len;
		rsp_init(l, &rsp, req, last ? flags :
		    (flags & 0x0c) | ISCSI_LOGIN_C);
		if (pdu_set_data(&rsp, data + off, n) == -1)
			fatal("pdu_set_data");
		login_send(l, &rsp);
		pdu_free(&rsp);
		off += n;
		if (last)
			break;
		log_debug(1, "login response continues after %zu of %zu "
		    "bytes", off, len);
		if ((rv = read_request(l, &next)) != 0)
			break;
		nq = (const void *)&next.bhs;
		if (nq->itt != q->itt || next.data_len != 0 ||
		    (nq->flags & ISCSI_LOGIN_C)) {
			rv = login_fail(l, &next, LOGIN_INITIATOR_ERROR,
			    "continuation of a login response asked for "
			    "with another ITT, data or the C bit");
			pdu_free(&next);
			break;
		}
		pdu_free(&next);
	}
	free(data);
	return (rv);
}

/*
 * io's answer to MSG_W_ADMIT.  Apart from admit, and never inlined: a
 * record buffer (4 KiB) in each of admit and access_verdict, one below
 * the other, would take the worker one stack page deeper, and each page
 * is one more fault in every worker.
 */
static __attribute__((noinline)) int
admit_verdict(struct login *l, const struct pdu *req)
{
	static const struct ipc_rule rules[] = {
		{ MSG_I_ADMIT, sizeof(struct msg_i_admit),
		    sizeof(struct msg_i_admit), false },
	};
	struct msg_i_admit	 v;
	struct ipc_msg		 m;

	if (ipc_recv(l->l_chan, rules, nitems(rules), &m) != 1)
		return (login_fail(l, req, LOGIN_TARGET_ERROR,
		    "no admission verdict from io"));
	memcpy(&v, m.data, sizeof(v));
	if (v.status != LOGIN_OK)
		return (login_fail(l, req, v.status, "session refused by io"));
	if (v.tsih == 0)
		return (login_fail(l, req, LOGIN_TARGET_ERROR,
		    "io gave TSIH 0"));
	/* An added connection answers with the session's command window. */
	if (l->l_tsih != 0)
		l->l_cmdsn = v.expcmdsn;
	l->l_tsih = v.tsih;
	return (0);
}

static int
admit(struct login *l, const struct pdu *req)
{
	struct msg_w_admit	 a;

	memset(&a, 0, sizeof(a));
	memcpy(a.isid, l->l_isid, sizeof(a.isid));
	a.tsih = l->l_tsih;
	a.cid = l->l_cid;
	a.tid = l->l_target->ct_tid;
	strlcpy(a.initiator, l->l_initiator, sizeof(a.initiator));
	strlcpy(a.target, l->l_target->ct_name, sizeof(a.target));
	if (ipc_send(l->l_chan, MSG_W_ADMIT, 0, &a, sizeof(a), -1) == -1)
		return (login_fail(l, req, LOGIN_TARGET_ERROR,
		    "no admission verdict from io"));
	/* The access verdict, if still unread (access_ask), comes first. */
	if (l->l_access_pending && access_verdict(l, req) == -1)
		return (-1);
	return (admit_verdict(l, req));
}

/* One Login Request and its answer: 0, -1, or LOGIN_CLOSED. */
static int
login_step(struct login *l, struct pdu *req, struct keys *in,
    struct keys *out, bool first)
{
	struct iscsi_login_req	*q;
	int			 csg, nsg, transit, rv;

	if ((rv = read_joined(l, req, in)) != 0)
		return (rv);
	q = (void *)&req->bhs;
	csg = ISCSI_LOGIN_CSG(q->flags);
	nsg = ISCSI_LOGIN_NSG(q->flags);
	transit = (q->flags & ISCSI_LOGIN_T) != 0;
	if ((first ? first_request(l, req, in, out) :
	    check_same(l, req, in)) == -1)
		return (-1);

	if (csg != l->l_stage ||
	    (csg != ISCSI_STAGE_SECURITY &&
	    csg != ISCSI_STAGE_OPERATIONAL))
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "CSG %d in stage %d", csg, l->l_stage));
	if (transit && (nsg <= csg || nsg == 2))
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "transition from stage %d to %d", csg, nsg));
	log_debug(1, "Login request (%s negotiation): %d",
	    csg == ISCSI_STAGE_SECURITY ? "security" : "operational",
	    l->l_stage);

	if (csg == ISCSI_STAGE_SECURITY) {
		if (security_keys(l, req, in, out) == -1)
			return (-1);
	} else if (keys_find(in, "AuthMethod") != NULL)
		return (login_fail(l, req, LOGIN_INITIATOR_ERROR,
		    "AuthMethod in the operational stage"));
	if ((transit = auth_transit(l, req, csg, transit)) == -1 ||
	    operational_keys(l, req, in, out) == -1)
		return (-1);

	/* Before admission: a refused answer must not hold a TSIH. */
	if (answer_fits(l, req, out) == -1)
		return (-1);
	if (transit && nsg == ISCSI_STAGE_FULL && !l->l_discovery &&
	    admit(l, req) == -1)
		return (-1);
	if ((rv = send_answer(l, req, transit ?
	    ISCSI_LOGIN_T | csg << 2 | nsg : csg << 2, out)) != 0)
		return (rv);
	if (transit)
		l->l_stage = nsg;
	return (0);
}

int
login_run(struct login *l)
{
	struct pdu		 req;
	struct keys		*in, *out;
	bool			 first = true;
	int			 rv;

	for (;;) {
		if ((in = keys_new()) == NULL || (out = keys_new()) == NULL)
			fatal("keys_new");
		pdu_init(&req);
		rv = login_step(l, &req, in, out, first);
		first = false;
		pdu_free(&req);
		keys_free(in);
		keys_free(out);
		if (rv != 0)
			return (rv);
		if (l->l_stage == ISCSI_STAGE_FULL)
			break;
	}
	if (l->l_discovery)
		log_info("successful login by %s (discovery)%s%s",
		    l->l_initiator, l->l_chap ? ", CHAP user " : "",
		    l->l_chap ? l->l_chap_user : "");
	else
		log_info("successful login by %s to %s%s%s", l->l_initiator,
		    l->l_target->ct_name, l->l_chap ? ", CHAP user " : "",
		    l->l_chap ? l->l_chap_user : "");
	return (0);
}
