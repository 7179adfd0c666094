/*
 * auth.c: io's side of CHAP (RFC 7143 section 12.1.3, RFC 1994).  The
 * worker runs the security stage but knows no secret: it asks io for a
 * challenge, then hands io the initiator's answer.  io picks the
 * algorithm, draws the identifier and challenge from RAND_bytes, uses
 * each challenge once, compares in constant time, refuses a challenge
 * reflected back at it (from this or any other live login), answers a
 * mutual challenge with the OutgoingUser secret, and records the verdict
 * that io_admit later requires.  Nothing secret is ever logged.
 */
#include <sys/queue.h>

#include <bsd/string.h>
#include <string.h>

#include "chap.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "pdu.h"
#include "priv/auth.h"

/* Every exchange with a challenge, to catch cross-login reflection. */
static TAILQ_HEAD(, auth_state) auth_live =
    TAILQ_HEAD_INITIALIZER(auth_live);

static const struct conf_users *
auth_users(const struct conf *conf, uint32_t tid, bool incoming)
{
	const struct conf_target	*ct;

	if (tid == 0)
		return (incoming ? &conf->conf_in_users :
		    &conf->conf_out_users);
	if ((ct = conf_target_find_tid(conf, tid)) == NULL)
		return (NULL);
	return (incoming ? &ct->ct_in_users : &ct->ct_out_users);
}

bool
auth_required(const struct conf *conf, uint32_t tid)
{
	const struct conf_users	*u;

	/* An unknown target requires what nobody can give. */
	if ((u = auth_users(conf, tid, true)) == NULL)
		return (true);
	return (!TAILQ_EMPTY(u));
}

static void
auth_failed(const struct auth_state *as, const char *addr, const char *user,
    const char *why)
{
	log_warnx("login by %s failed: CHAP: %s (user %s, from %s)",
	    as->as_initiator, why, user, addr);
}

int
auth_challenge(const struct conf *conf, struct auth_state *as,
    const char *addr, const struct msg_w_auth_challenge *m,
    struct msg_i_auth_challenge *a)
{
	const struct conf_target	*ct;
	const int			*order;
	size_t				 len, norder;
	int				 alg;

	memset(a, 0, sizeof(*a));
	a->status = LOGIN_AUTH_FAILED;
	if (as->as_asked || m->nalgs > CHAP_ALGS_MAX ||
	    !ipc_str_ok(m->initiator, sizeof(m->initiator)) ||
	    !ipc_str_ok(m->target, sizeof(m->target)))
		return (-1);
	as->as_asked = true;
	TAILQ_INSERT_TAIL(&auth_live, as, as_entry);
	as->as_tid = m->tid;
	strlcpy(as->as_initiator, m->initiator, sizeof(as->as_initiator));
	if (m->tid != 0 && ((ct = conf_target_find_tid(conf, m->tid)) ==
	    NULL || strcmp(ct->ct_name, m->target) != 0)) {
		auth_failed(as, addr, "-", "no such target");
		return (0);
	}
	if (!auth_required(conf, m->tid)) {
		auth_failed(as, addr, "-", "no IncomingUser configured");
		return (0);
	}
	norder = conf_chap_order(conf, m->tid, &order);
	if ((alg = chap_alg_pick(m->algs, m->nalgs, order, norder)) == -1) {
		auth_failed(as, addr, "-", norder != 0 ? "CHAP_A offers none "
		    "of the CHAPAlgorithms allowed" :
		    "no supported algorithm in CHAP_A");
		return (0);
	}
	len = chap_digest_len(alg);
	if (len < CHAP_CHALLENGE_MIN)
		len = CHAP_CHALLENGE_MIN;
	if (chap_challenge(&as->as_id, as->as_chal, len) == -1) {
		log_warnx("CHAP: RAND_bytes failed");
		return (0);
	}
	as->as_alg = alg;
	as->as_challen = len;
	as->as_live = true;
	a->status = LOGIN_OK;
	a->alg = alg;
	a->id = as->as_id;
	a->challen = len;
	memcpy(a->chal, as->as_chal, len);
	log_debug(1, "CHAP: %s challenge for %s from %s", chap_alg_name(alg),
	    as->as_initiator, addr);
	return (0);
}

static const struct conf_user *
auth_user_find(const struct conf_users *users, const char *name)
{
	const struct conf_user	*cu;

	TAILQ_FOREACH(cu, users, cu_entry)
		if (strcmp(cu->cu_name, name) == 0)
			return (cu);
	return (NULL);
}

/* Is this challenge one of ours, live in any login? */
static bool
auth_reflected(const uint8_t *chal, size_t len)
{
	const struct auth_state	*o;

	TAILQ_FOREACH(o, &auth_live, as_entry)
		if (o->as_live && o->as_challen == len &&
		    chap_equal(o->as_chal, chal, len))
			return (true);
	return (false);
}

/* Mutual CHAP: our CHAP_N and CHAP_R.  NULL, or why not. */
static const char *
auth_mutual(const struct conf *conf, const struct auth_state *as,
    const struct conf_user *in, const struct msg_w_auth_response *m,
    struct msg_i_auth_response *a)
{
	const struct conf_users	*outs;
	const struct conf_user	*out;

	outs = auth_users(conf, as->as_tid, false);
	if (outs == NULL || (out = TAILQ_FIRST(outs)) == NULL)
		return ("mutual CHAP asked, no OutgoingUser configured");
	if (m->id > 255 || m->challen == 0)
		return ("malformed CHAP_I or CHAP_C");
	if ((m->challen == as->as_challen &&
	    chap_equal(m->chal, as->as_chal, m->challen)) ||
	    auth_reflected(m->chal, m->challen))
		return ("the initiator sent back our own challenge");
	if (strcmp(out->cu_secret, in->cu_secret) == 0)
		return ("OutgoingUser and IncomingUser share a secret");
	if (chap_response(as->as_alg, m->id, out->cu_secret,
	    strlen(out->cu_secret), m->chal, m->challen, a->resp) == -1)
		return ("cannot compute the response");
	a->resplen = chap_digest_len(as->as_alg);
	strlcpy(a->name, out->cu_name, sizeof(a->name));
	return (NULL);
}

int
auth_response(const struct conf *conf, struct auth_state *as,
    const char *addr, const struct msg_w_auth_response *m,
    struct msg_i_auth_response *a)
{
	const struct conf_users	*users;
	const struct conf_user	*cu;
	uint8_t			 want[CHAP_DIGEST_MAX];
	const char		*why = NULL;
	size_t			 len;

	memset(a, 0, sizeof(*a));
	a->status = LOGIN_AUTH_FAILED;
	if (!ipc_str_ok(m->name, sizeof(m->name)) ||
	    m->resplen > sizeof(m->resp) || m->challen > sizeof(m->chal))
		return (-1);
	if (!as->as_live) {
		/* No challenge, or it was used already. */
		auth_failed(as, addr, m->name, "no live challenge");
		return (0);
	}
	/* Each challenge answers once, right or wrong. */
	as->as_live = false;
	len = chap_digest_len(as->as_alg);
	users = auth_users(conf, as->as_tid, true);
	if (users == NULL || (cu = auth_user_find(users, m->name)) == NULL)
		why = "unknown user";
	else if (m->resplen != len)
		why = "response of the wrong length";
	else if (chap_response(as->as_alg, as->as_id, cu->cu_secret,
	    strlen(cu->cu_secret), as->as_chal, as->as_challen, want) == -1)
		why = "cannot compute the response";
	else if (!chap_equal(want, m->resp, len))
		why = "wrong response";
	else if (m->flags & AUTH_MUTUAL)
		why = auth_mutual(conf, as, cu, m, a);
	explicit_bzero(want, sizeof(want));
	explicit_bzero(as->as_chal, sizeof(as->as_chal));
	if (why != NULL) {
		explicit_bzero(a, sizeof(*a));
		a->status = LOGIN_AUTH_FAILED;
		auth_failed(as, addr, m->name, why);
		return (0);
	}
	as->as_ok = true;
	strlcpy(as->as_user, m->name, sizeof(as->as_user));
	a->status = LOGIN_OK;
	log_info("CHAP: %s authenticated as %s with %s%s, from %s",
	    as->as_initiator, as->as_user, chap_alg_name(as->as_alg),
	    (m->flags & AUTH_MUTUAL) ? " (mutual)" : "", addr);
	return (0);
}

bool
auth_permits(const struct conf *conf, const struct auth_state *as,
    uint32_t tid, const char *initiator)
{
	if (!auth_required(conf, tid))
		return (true);
	return (as->as_ok && as->as_tid == tid &&
	    strcmp(as->as_initiator, initiator) == 0);
}

void
auth_clear(struct auth_state *as)
{
	if (as->as_asked)
		TAILQ_REMOVE(&auth_live, as, as_entry);
	explicit_bzero(as, sizeof(*as));
}
