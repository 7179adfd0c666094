/*
 * fuzz_param.c: login negotiation (src/param.c).  Input: a flags byte
 * (bit 0 discovery, bit 1 leading connection, bit 2 raw configuration),
 * then parts separated by 0xff.  The first part holds ietd.conf session
 * keys, "Key Value" a line, set with param_conf_set; with bit 2 its bytes
 * are the configured values themselves, as a corrupt or hostile record
 * from another process would carry them (param_neg_init must clamp
 * them).  Each later part is the data segment of
 * one Login Request, negotiated in turn as a login would.  Every answer
 * must be a well-formed key list, and the negotiated values must stay
 * within the table's bounds and RFC 7143's rules.
 */
#include <string.h>

#include "fuzz.h"
#include "keys.h"
#include "param.h"

#define SEP	0xff

/* Apply "Key Value" lines of the first part; errors are ignored. */
static void
conf_lines(uint32_t conf[P__COUNT], const uint8_t *p, size_t len)
{
	char		 line[256], *v;
	const char	*errstr;
	size_t		 i, n;

	while (len > 0) {
		for (n = 0; n < len && p[n] != '\n'; n++)
			;
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (strlen(line) == n &&
			    (v = strpbrk(line, " =")) != NULL) {
				*v++ = '\0';
				if (param_conf_set(conf, line, v,
				    &errstr) == -1)
					FUZZ_ASSERT(errstr != NULL);
			}
		}
		i = n < len ? n + 1 : n;
		p += i;
		len -= i;
	}
}

static void
check_result(const struct param_neg *pn)
{
	const struct param_def	*pd;
	uint32_t		 v;
	int			 i;

	for (i = 0; i < P__COUNT; i++) {
		pd = param_def_get(i);
		v = pn->pn_result[i];
		if (pd->pd_type == PT_DIGEST)
			FUZZ_ASSERT(v == PARAM_DIGEST_NONE ||
			    v == PARAM_DIGEST_CRC32C);
		else
			FUZZ_ASSERT(v >= pd->pd_min && v <= pd->pd_max);
		if (pd->pd_type == PT_DIGEST)
			FUZZ_ASSERT((v & pn->pn_conf[i]) != 0 ||
			    v == pd->pd_rfc_default);
	}
	FUZZ_ASSERT(pn->pn_result[P_FIRST_BURST] <=
	    pn->pn_result[P_MAX_BURST]);
	FUZZ_ASSERT(pn->pn_result[P_MAX_XMIT_DSL] <=
	    pn->pn_conf[P_MAX_XMIT_DSL]);
	FUZZ_ASSERT(pn->pn_result[P_MAX_RECV_DSL] ==
	    pn->pn_conf[P_MAX_RECV_DSL]);
	FUZZ_ASSERT(pn->pn_result[P_IFMARKER] == 0 &&
	    pn->pn_result[P_OFMARKER] == 0);
	FUZZ_ASSERT(pn->pn_result[P_ERROR_RECOVERY_LEVEL] <=
	    pn->pn_conf[P_ERROR_RECOVERY_LEVEL]);
	FUZZ_ASSERT(pn->pn_result[P_MAX_CONNECTIONS] <=
	    pn->pn_conf[P_MAX_CONNECTIONS]);
}

/* The answer goes into a Login Response: it must load as a key list. */
static void
check_answer(const struct keys *in, const struct keys *out)
{
	struct keys	*again;
	const char	*errstr;
	char		*data;
	size_t		 len;

	FUZZ_ASSERT(in->keys_n == 0);
	FUZZ_ASSERT(keys_save(out, &data, &len) == 0);
	if ((again = keys_new()) == NULL)
		abort();
	FUZZ_ASSERT(keys_load(again, data, len, &errstr) == 0);
	FUZZ_ASSERT(again->keys_n == out->keys_n);
	keys_free(again);
	free(data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct param_neg	 pn;
	struct keys		*in, *out;
	uint32_t		 conf[P__COUNT];
	const uint8_t		*part;
	const char		*errstr;
	size_t			 len;
	int			 status, rv;
	bool			 discovery, leading, raw;

	if (size < 1)
		return (0);
	discovery = data[0] & 1;
	leading = (data[0] & 2) != 0;
	raw = (data[0] & 4) != 0;
	data++;
	size--;
	param_conf_defaults(conf);
	if (fuzz_split(&data, &size, SEP, &part, &len)) {
		if (raw)
			memcpy(conf, part, len < sizeof(conf) ? len :
			    sizeof(conf));
		else
			conf_lines(conf, part, len);
	}
	param_neg_init(&pn, conf, discovery, leading);
	check_result(&pn);
	while (fuzz_split(&data, &size, SEP, &part, &len)) {
		if ((in = keys_new()) == NULL || (out = keys_new()) == NULL)
			abort();
		rv = -1;
		if (keys_load(in, (const char *)part, len, &errstr) == 0) {
			rv = param_negotiate(&pn, in, out, &status, &errstr);
			/* After a failure the login ends: no state to check. */
			if (rv == 0) {
				FUZZ_ASSERT(status == 0 && errstr == NULL);
				check_answer(in, out);
				check_result(&pn);
			} else
				FUZZ_ASSERT(status != 0 && errstr != NULL);
		}
		keys_free(in);
		keys_free(out);
		if (rv == -1)
			break;
	}
	return (0);
}
