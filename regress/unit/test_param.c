/*
 * test_param: the key table, ietd.conf settings and login negotiation:
 * every result function, Reject, Irrelevant, NotUnderstood, discovery,
 * non-leading connections, renegotiation.  Prints one line per failed
 * check, exits 1 if any failed.
 */

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "param.h"
#include "pdu.h"

#include "check.h"

/* One negotiation round; the literal's embedded NULs separate pairs. */
#define NEG(pn, lit)	neg((pn), (lit), sizeof(lit) - 1)

static struct keys *out;
static int	 status;
static const char *errstr;

static int	neg(struct param_neg *, const char *, size_t);
static bool	ans(const char *, const char *);
static void	init(struct param_neg *, bool, bool);
static void	test_table(void);
static void	test_conf(void);
static void	test_init(void);
static void	test_bool(void);
static void	test_numbers(void);
static void	test_mrdsl(void);
static void	test_digest(void);
static void	test_reject(void);
static void	test_other_keys(void);
static void	test_discovery(void);
static void	test_leading(void);
static void	test_twice(void);
static void	test_first_burst(void);
static void	test_open_iscsi(void);
static void	test_down(void);

static uint32_t	 conf[P__COUNT];

/* Negotiate a data segment against a fresh `out'; 0 or -1. */
static int
neg(struct param_neg *pn, const char *data, size_t len)
{
	struct keys	*in;
	const char	*e;
	int		 rv;

	keys_free(out);
	if ((out = keys_new()) == NULL || (in = keys_new()) == NULL)
		exit(2);
	if (keys_load(in, data, len, &e) == -1) {
		printf("  bad test data: %s\n", e);
		exit(2);
	}
	status = -1;
	errstr = NULL;
	rv = param_negotiate(pn, in, out, &status, &errstr);
	if (rv == 0 && in->keys_n != 0) {
		printf("  %zu keys left in `in'\n", in->keys_n);
		rv = -2;
	}
	keys_free(in);
	return (rv);
}

/* Did the last round answer name=value? */
static bool
ans(const char *name, const char *value)
{
	const char	*v;

	v = keys_find(out, name);
	if (v == NULL || strcmp(v, value) != 0) {
		printf("  answer %s=%s, want %s\n", name, v ? v : "(none)",
		    value);
		return (false);
	}
	return (true);
}

static void
init(struct param_neg *pn, bool discovery, bool leading)
{
	param_neg_init(pn, conf, discovery, leading);
}

static void
test_table(void)
{
	const struct param_def	*pd;
	int			 i;

	for (i = 0; i < P__COUNT; i++) {
		pd = param_def_get(i);
		CHECK(pd != NULL && pd->pd_id == (enum param_id)i);
		if (pd == NULL)
			continue;
		CHECK(pd->pd_name != NULL && param_def_find(pd->pd_name) == pd);
		CHECK(pd->pd_min <= pd->pd_max);
		if (pd->pd_type != PT_DIGEST) {
			CHECK(pd->pd_ietd_default >= pd->pd_min &&
			    pd->pd_ietd_default <= pd->pd_max);
			CHECK(pd->pd_rfc_default >= pd->pd_min &&
			    pd->pd_rfc_default <= pd->pd_max);
		}
		CHECK((pd->pd_scope == PS_CONF) == (pd->pd_type == PT_CONF));
	}
	CHECK(param_def_get(P__COUNT) == NULL);
	CHECK(param_def_find("NoSuchKey") == NULL);
	CHECK(param_def_find("maxburstlength") == NULL);
	pd = param_def_find("MaxXmitDataSegmentLength");
	CHECK(pd != NULL && pd->pd_id == P_MAX_XMIT_DSL &&
	    pd->pd_type == PT_CONF);
	pd = param_def_find("MaxRecvDataSegmentLength");
	CHECK(pd != NULL && pd->pd_type == PT_NUM_DECL && !pd->pd_leading_only);
	pd = param_def_find("MaxBurstLength");
	CHECK(pd != NULL && pd->pd_leading_only && pd->pd_max == 16777215 &&
	    pd->pd_min == 512);
	CHECK(param_def_find("ImmediateData")->pd_type == PT_BOOL_AND);
	CHECK(param_def_find("InitialR2T")->pd_type == PT_BOOL_OR);
	CHECK(param_def_find("DefaultTime2Wait")->pd_type == PT_NUM_MAX);
	CHECK(param_def_find("DefaultTime2Retain")->pd_type == PT_NUM_MIN);
	CHECK(param_def_find("HeaderDigest")->pd_scope == PS_CONNECTION);
}

static void
test_conf(void)
{
	uint32_t	 c[P__COUNT];
	const char	*e;

	param_conf_defaults(c);
	CHECK(c[P_HEADER_DIGEST] == (PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C));
	CHECK(c[P_DATA_DIGEST] == (PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C));
	CHECK(c[P_MAX_CONNECTIONS] == 1);
	CHECK(c[P_INITIAL_R2T] == 0);
	CHECK(c[P_IMMEDIATE_DATA] == 1);
	CHECK(c[P_MAX_RECV_DSL] == 262144);
	CHECK(c[P_MAX_XMIT_DSL] == 262144);
	CHECK(c[P_MAX_BURST] == 262144);
	CHECK(c[P_FIRST_BURST] <= c[P_MAX_BURST]);
	CHECK(c[P_DEFAULT_TIME2WAIT] == 2);
	CHECK(c[P_DEFAULT_TIME2RETAIN] == 20);
	CHECK(c[P_MAX_OUTSTANDING_R2T] == 1);
	CHECK(c[P_DATA_PDU_IN_ORDER] == 1);
	CHECK(c[P_DATA_SEQ_IN_ORDER] == 1);
	CHECK(c[P_ERROR_RECOVERY_LEVEL] == 0);
	CHECK(c[P_IFMARKER] == 0 && c[P_OFMARKER] == 0);
	CHECK(c[P_QUEUED_COMMANDS] == 32);
	CHECK(c[P_NOP_INTERVAL] == 15 && c[P_NOP_TIMEOUT] == 30);
	CHECK(c[P_MAX_SESSIONS] == 0);

	CHECK(param_conf_set(c, "InitialR2T", "Yes", &e) == 0 &&
	    c[P_INITIAL_R2T] == 1 && e == NULL);
	CHECK(param_conf_set(c, "InitialR2T", "no", &e) == 0 &&
	    c[P_INITIAL_R2T] == 0);
	CHECK(param_conf_set(c, "immediatedata", "NO", &e) == 0 &&
	    c[P_IMMEDIATE_DATA] == 0);
	CHECK(param_conf_set(c, "ImmediateData", "true", &e) == -1 &&
	    strcmp(e, "invalid value") == 0);
	CHECK(param_conf_set(c, "MaxBurstLength", "65536", &e) == 0 &&
	    c[P_MAX_BURST] == 65536);
	CHECK(param_conf_set(c, "MaxBurstLength", "511", &e) == -1 &&
	    strcmp(e, "out of range (512-16777215)") == 0);
	CHECK(param_conf_set(c, "MaxBurstLength", "16777216", &e) == -1 &&
	    strcmp(e, "out of range (512-16777215)") == 0);
	CHECK(param_conf_set(c, "MaxBurstLength", "-1", &e) == -1 &&
	    strncmp(e, "out of range", 12) == 0);
	CHECK(param_conf_set(c, "MaxBurstLength", "64k", &e) == -1 &&
	    strcmp(e, "invalid value") == 0);
	CHECK(param_conf_set(c, "MaxBurstLength", "", &e) == -1 &&
	    strcmp(e, "invalid value") == 0);
	CHECK(param_conf_set(c, "MaxBurstLength", "99999999999999999999",
	    &e) == -1);
	CHECK(c[P_MAX_BURST] == 65536);
	CHECK(param_conf_set(c, "MaxXmitDataSegmentLength", "8192", &e) ==
	    0 && c[P_MAX_XMIT_DSL] == 8192);
	CHECK(param_conf_set(c, "MaxRecvDataSegmentLength", "16777215",
	    &e) == 0 && c[P_MAX_RECV_DSL] == 16777215);
	CHECK(param_conf_set(c, "QueuedCommands", "2048", &e) == 0 &&
	    c[P_QUEUED_COMMANDS] == 2048);
	CHECK(param_conf_set(c, "QueuedCommands", "0", &e) == -1 &&
	    strcmp(e, "out of range (1-2048)") == 0);
	CHECK(param_conf_set(c, "QueuedCommands", "2049", &e) == -1);
	CHECK(param_conf_set(c, "NOPInterval", "5", &e) == 0 &&
	    c[P_NOP_INTERVAL] == 5);
	CHECK(param_conf_set(c, "NOPTimeout", "30", &e) == 0 &&
	    c[P_NOP_TIMEOUT] == 30);
	CHECK(param_conf_set(c, "MaxSessions", "10", &e) == 0 &&
	    c[P_MAX_SESSIONS] == 10);
	CHECK(param_conf_set(c, "ErrorRecoveryLevel", "3", &e) == -1 &&
	    strcmp(e, "out of range (0-2)") == 0);
	CHECK(param_conf_set(c, "iSCSIProtocolLevel", "2", &e) == -1 &&
	    strcmp(e, "out of range (0-1)") == 0);
	CHECK(param_conf_set(c, "IFMarker", "Yes", &e) == -1);
	CHECK(param_conf_set(c, "OFMarker", "No", &e) == 0 &&
	    c[P_OFMARKER] == 0);
	CHECK(param_conf_set(c, "NoSuchKey", "1", &e) == -1 &&
	    strcmp(e, "unknown key") == 0);

	/* None, CRC32C, and lists of them in any order and case. */
	CHECK(param_conf_set(c, "HeaderDigest", "CRC32C", &e) == 0 &&
	    c[P_HEADER_DIGEST] == PARAM_DIGEST_CRC32C);
	CHECK(param_conf_set(c, "HeaderDigest", "None", &e) == 0 &&
	    c[P_HEADER_DIGEST] == PARAM_DIGEST_NONE);
	CHECK(param_conf_set(c, "DataDigest", "CRC32C,None", &e) == 0 &&
	    c[P_DATA_DIGEST] == (PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C));
	CHECK(param_conf_set(c, "HeaderDigest", "none,crc32c", &e) == 0 &&
	    c[P_HEADER_DIGEST] == (PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C));
	CHECK(param_conf_set(c, "HeaderDigest", "crc32c, none", &e) == 0 &&
	    c[P_HEADER_DIGEST] == (PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C));
	CHECK(param_conf_set(c, "DataDigest", "none", &e) == 0 &&
	    c[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
	CHECK(param_conf_set(c, "DataDigest", "CRC32C,MD5", &e) == -1 &&
	    strcmp(e, "invalid value") == 0);
	CHECK(param_conf_set(c, "DataDigest", "MD5", &e) == -1 &&
	    strcmp(e, "invalid value") == 0);
	CHECK(param_conf_set(c, "DataDigest", "None,", &e) == -1);
	CHECK(param_conf_set(c, "DataDigest", "", &e) == -1);
	CHECK(c[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
}

static void
test_init(void)
{
	struct param_neg pn;
	uint32_t	 c[P__COUNT];

	param_conf_defaults(c);
	param_neg_init(&pn, c, false, true);
	CHECK(!pn.pn_discovery && pn.pn_leading && !pn.pn_declared_mrdsl);
	CHECK(pn.pn_result[P_INITIAL_R2T] == 1);	/* RFC default */
	CHECK(pn.pn_result[P_IMMEDIATE_DATA] == 1);
	CHECK(pn.pn_result[P_MAX_BURST] == 262144);
	CHECK(pn.pn_result[P_FIRST_BURST] == 65536);
	CHECK(pn.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_NONE);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 8192);
	CHECK(pn.pn_result[P_MAX_RECV_DSL] == 262144);
	CHECK(pn.pn_result[P_QUEUED_COMMANDS] == 32);
	CHECK(pn.pn_conf[P_INITIAL_R2T] == 0);
	CHECK(!pn.pn_seen[P_MAX_BURST]);

	c[P_MAX_XMIT_DSL] = 4096;
	c[P_MAX_RECV_DSL] = 65536;
	c[P_QUEUED_COMMANDS] = 128;
	param_neg_init(&pn, c, true, true);
	CHECK(pn.pn_discovery);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 4096);
	CHECK(pn.pn_result[P_MAX_RECV_DSL] == 65536);
	CHECK(pn.pn_result[P_QUEUED_COMMANDS] == 128);

	/* Out-of-range configuration is clamped. */
	c[P_MAX_RECV_DSL] = 1;
	c[P_MAX_BURST] = 0xffffffff;
	c[P_HEADER_DIGEST] = 0;
	param_neg_init(&pn, c, false, false);
	CHECK(pn.pn_conf[P_MAX_RECV_DSL] == 512);
	CHECK(pn.pn_conf[P_MAX_BURST] == 16777215);
	CHECK(pn.pn_conf[P_HEADER_DIGEST] == PARAM_DIGEST_NONE);
	CHECK(!pn.pn_leading);
}

static void
test_bool(void)
{
	struct param_neg pn;

	/* AND: ImmediateData with conf Yes. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "ImmediateData=Yes\0") == 0 &&
	    ans("ImmediateData", "Yes"));
	CHECK(pn.pn_result[P_IMMEDIATE_DATA] == 1);
	init(&pn, false, true);
	CHECK(NEG(&pn, "ImmediateData=No\0") == 0 &&
	    ans("ImmediateData", "No"));
	CHECK(pn.pn_result[P_IMMEDIATE_DATA] == 0);
	/* AND with conf No. */
	conf[P_IMMEDIATE_DATA] = 0;
	init(&pn, false, true);
	CHECK(NEG(&pn, "ImmediateData=Yes\0") == 0 &&
	    ans("ImmediateData", "No"));
	CHECK(pn.pn_result[P_IMMEDIATE_DATA] == 0);
	conf[P_IMMEDIATE_DATA] = 1;
	/* Markers are always No. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "IFMarker=Yes\0OFMarker=Yes\0") == 0 &&
	    ans("IFMarker", "No") && ans("OFMarker", "No"));
	CHECK(pn.pn_result[P_IFMARKER] == 0 && pn.pn_result[P_OFMARKER] == 0);
	init(&pn, false, true);
	CHECK(NEG(&pn, "IFMarker=No\0") == 0 && ans("IFMarker", "No"));

	/* OR: InitialR2T with conf No. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "InitialR2T=No\0") == 0 && ans("InitialR2T", "No"));
	CHECK(pn.pn_result[P_INITIAL_R2T] == 0);
	init(&pn, false, true);
	CHECK(NEG(&pn, "InitialR2T=Yes\0") == 0 && ans("InitialR2T", "Yes"));
	CHECK(pn.pn_result[P_INITIAL_R2T] == 1);
	/* OR with conf Yes. */
	conf[P_INITIAL_R2T] = 1;
	init(&pn, false, true);
	CHECK(NEG(&pn, "InitialR2T=No\0") == 0 && ans("InitialR2T", "Yes"));
	conf[P_INITIAL_R2T] = 0;
	init(&pn, false, true);
	CHECK(NEG(&pn, "DataPDUInOrder=No\0DataSequenceInOrder=No\0") == 0 &&
	    ans("DataPDUInOrder", "Yes") && ans("DataSequenceInOrder", "Yes"));
	conf[P_DATA_PDU_IN_ORDER] = 0;
	conf[P_DATA_SEQ_IN_ORDER] = 0;
	init(&pn, false, true);
	CHECK(NEG(&pn, "DataPDUInOrder=No\0DataSequenceInOrder=Yes\0") == 0 &&
	    ans("DataPDUInOrder", "No") && ans("DataSequenceInOrder", "Yes"));
	CHECK(pn.pn_result[P_DATA_PDU_IN_ORDER] == 0);
	CHECK(pn.pn_result[P_DATA_SEQ_IN_ORDER] == 1);
	param_conf_defaults(conf);

	/* Booleans are exactly Yes or No on the wire (6.1). */
	init(&pn, false, true);
	CHECK(NEG(&pn, "ImmediateData=yes\0InitialR2T=1\0"
	    "DataPDUInOrder=Maybe\0") == 0);
	CHECK(ans("ImmediateData", "Reject") && ans("InitialR2T", "Reject") &&
	    ans("DataPDUInOrder", "Reject"));
	CHECK(pn.pn_result[P_IMMEDIATE_DATA] == 1);
	CHECK(pn.pn_result[P_INITIAL_R2T] == 1);
}

static void
test_numbers(void)
{
	struct param_neg pn;

	/* MIN. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=1048576\0MaxConnections=8\0"
	    "ErrorRecoveryLevel=2\0DefaultTime2Retain=0\0"
	    "MaxOutstandingR2T=4\0iSCSIProtocolLevel=2\0") == 0);
	CHECK(ans("MaxBurstLength", "262144"));
	CHECK(ans("MaxConnections", "1"));
	CHECK(ans("ErrorRecoveryLevel", "0"));
	CHECK(ans("DefaultTime2Retain", "0"));
	CHECK(ans("MaxOutstandingR2T", "1"));
	CHECK(ans("iSCSIProtocolLevel", "1"));
	CHECK(pn.pn_result[P_MAX_BURST] == 262144);
	CHECK(pn.pn_result[P_DEFAULT_TIME2RETAIN] == 0);
	CHECK(pn.pn_result[P_PROTOCOL_LEVEL] == 1);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=16384\0iSCSIProtocolLevel=0\0") == 0);
	CHECK(ans("MaxBurstLength", "16384") && ans("iSCSIProtocolLevel", "0"));
	CHECK(pn.pn_result[P_MAX_BURST] == 16384);
	/* Larger configured limits let the initiator's value through. */
	conf[P_MAX_CONNECTIONS] = 4;
	conf[P_ERROR_RECOVERY_LEVEL] = 2;
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxConnections=2\0ErrorRecoveryLevel=1\0") == 0);
	CHECK(ans("MaxConnections", "2") && ans("ErrorRecoveryLevel", "1"));
	param_conf_defaults(conf);

	/* MAX. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "DefaultTime2Wait=0\0") == 0 &&
	    ans("DefaultTime2Wait", "2"));
	init(&pn, false, true);
	CHECK(NEG(&pn, "DefaultTime2Wait=10\0") == 0 &&
	    ans("DefaultTime2Wait", "10"));
	CHECK(pn.pn_result[P_DEFAULT_TIME2WAIT] == 10);

	/* 6.1 hex-constant. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=0x10000\0DefaultTime2Wait=0XA\0") ==
	    0);
	CHECK(ans("MaxBurstLength", "65536") && ans("DefaultTime2Wait", "10"));
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=0x00000000000000000200\0") == 0 &&
	    ans("MaxBurstLength", "512"));
}

static void
test_mrdsl(void)
{
	struct param_neg pn;

	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=65536\0") == 0);
	CHECK(ans("MaxRecvDataSegmentLength", "262144"));	/* ours */
	CHECK(out->keys_n == 1);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 65536);
	CHECK(pn.pn_result[P_MAX_RECV_DSL] == 262144);
	CHECK(pn.pn_declared_mrdsl);
	/* Declared once: the next round does not repeat it. */
	CHECK(NEG(&pn, "ImmediateData=Yes\0") == 0);
	CHECK(keys_find(out, "MaxRecvDataSegmentLength") == NULL);

	/* Clamped by MaxXmitDataSegmentLength. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=16777215\0") == 0);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 262144);
	conf[P_MAX_XMIT_DSL] = 4096;
	conf[P_MAX_RECV_DSL] = 8192;
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=65536\0") == 0);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 4096);
	CHECK(ans("MaxRecvDataSegmentLength", "8192"));
	param_conf_defaults(conf);

	/* Declared on the first round even when the initiator is silent. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "") == 0 && ans("MaxRecvDataSegmentLength", "262144"));
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 8192);

	/* A bad declaration cannot be answered with Reject. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=511\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR && errstr != NULL);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=16777216\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=lots\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=-8192\0") == -1);
}

static void
test_digest(void)
{
	struct param_neg pn;

	/* The default allows both: the initiator's first choice wins. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=CRC32C,None\0DataDigest=None\0") == 0);
	CHECK(ans("HeaderDigest", "CRC32C") && ans("DataDigest", "None"));
	CHECK(pn.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_CRC32C);
	CHECK(pn.pn_result[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
	/* An initiator offering only None gets None. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=None\0DataDigest=None\0") == 0);
	CHECK(ans("HeaderDigest", "None") && ans("DataDigest", "None"));
	CHECK(pn.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_NONE);
	CHECK(pn.pn_result[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
	/* Discovery sessions negotiate digests too. */
	init(&pn, true, true);
	CHECK(NEG(&pn, "HeaderDigest=CRC32C\0DataDigest=CRC32C,None\0") == 0);
	CHECK(ans("HeaderDigest", "CRC32C") && ans("DataDigest", "CRC32C"));
	CHECK(pn.pn_result[P_DATA_DIGEST] == PARAM_DIGEST_CRC32C);
	/* A target configured with None answers None to CRC32C,None. */
	conf[P_HEADER_DIGEST] = PARAM_DIGEST_NONE;
	conf[P_DATA_DIGEST] = PARAM_DIGEST_NONE;
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=CRC32C,None\0DataDigest=None\0") == 0);
	CHECK(ans("HeaderDigest", "None") && ans("DataDigest", "None"));
	CHECK(pn.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_NONE);
	/* Nothing we allow: Reject, and the key stays None (6.2). */
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=CRC32C\0DataDigest=MD5,SHA1\0") == 0);
	CHECK(ans("HeaderDigest", "Reject") && ans("DataDigest", "Reject"));
	CHECK(pn.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_NONE);
	CHECK(pn.pn_result[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
	/* Unknown values are ignored (6.2.1). */
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=MD5,None\0DataDigest=,None\0") == 0);
	CHECK(ans("HeaderDigest", "None") && ans("DataDigest", "None"));
	/* The initiator's order decides among what we allow. */
	conf[P_HEADER_DIGEST] = PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C;
	conf[P_DATA_DIGEST] = PARAM_DIGEST_NONE | PARAM_DIGEST_CRC32C;
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=CRC32C,None\0DataDigest=None,CRC32C\0") ==
	    0);
	CHECK(ans("HeaderDigest", "CRC32C") && ans("DataDigest", "None"));
	CHECK(pn.pn_result[P_HEADER_DIGEST] == PARAM_DIGEST_CRC32C);
	CHECK(pn.pn_result[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
	/* CRC32C required by us, None offered. */
	conf[P_HEADER_DIGEST] = PARAM_DIGEST_CRC32C;
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=None\0") == 0 &&
	    ans("HeaderDigest", "Reject"));
	/* Case matters on the wire. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=crc32c\0") == 0 &&
	    ans("HeaderDigest", "Reject"));
	param_conf_defaults(conf);
}

/* 6.2.2: values that are not admissible are answered with Reject. */
static void
test_reject(void)
{
	struct param_neg pn;

	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=511\0FirstBurstLength=16777216\0"
	    "ErrorRecoveryLevel=3\0MaxConnections=0\0"
	    "DefaultTime2Wait=3601\0MaxOutstandingR2T=65536\0"
	    "iSCSIProtocolLevel=32\0") == 0);
	CHECK(ans("MaxBurstLength", "Reject"));
	CHECK(ans("FirstBurstLength", "Reject"));
	CHECK(ans("ErrorRecoveryLevel", "Reject"));
	CHECK(ans("MaxConnections", "Reject"));
	CHECK(ans("DefaultTime2Wait", "Reject"));
	CHECK(ans("MaxOutstandingR2T", "Reject"));
	CHECK(ans("iSCSIProtocolLevel", "Reject"));
	CHECK(pn.pn_result[P_MAX_BURST] == 262144);
	CHECK(pn.pn_result[P_FIRST_BURST] == 65536);
	CHECK(pn.pn_result[P_DEFAULT_TIME2WAIT] == 2);

	/* Malformed numbers. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=64k\0DefaultTime2Wait=-1\0"
	    "DefaultTime2Retain=0x\0MaxOutstandingR2T=01\0"
	    "MaxConnections= 1\0ErrorRecoveryLevel=0xg\0") == 0);
	CHECK(ans("MaxBurstLength", "Reject"));
	CHECK(ans("DefaultTime2Wait", "Reject"));
	CHECK(ans("DefaultTime2Retain", "Reject"));
	CHECK(ans("MaxOutstandingR2T", "Reject"));
	CHECK(ans("MaxConnections", "Reject"));
	CHECK(ans("ErrorRecoveryLevel", "Reject"));
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=18446744073709551616\0"
	    "DefaultTime2Wait=0x10000000000000000\0"
	    "DefaultTime2Retain=4294967296\0") == 0);
	CHECK(ans("MaxBurstLength", "Reject"));
	CHECK(ans("DefaultTime2Wait", "Reject"));
	CHECK(ans("DefaultTime2Retain", "Reject"));

	/* 6.2: the reserved constants are never proposals: a protocol
	 * error. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "ImmediateData=Reject\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR && errstr != NULL);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=Irrelevant\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
	init(&pn, false, true);
	CHECK(NEG(&pn, "X-com.example.k=NotUnderstood\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
}

static void
test_other_keys(void)
{
	struct param_neg pn;

	init(&pn, false, true);
	CHECK(NEG(&pn, "X-com.example.foo=bar\0X#Thing=1\0Frobnicate=Yes\0"
	    "QueuedCommands=4\0MaxXmitDataSegmentLength=4096\0"
	    "NOPInterval=1\0MaxSessions=1\0") == 0);
	CHECK(ans("X-com.example.foo", "NotUnderstood"));
	CHECK(ans("X#Thing", "NotUnderstood"));
	CHECK(ans("Frobnicate", "NotUnderstood"));
	CHECK(ans("QueuedCommands", "NotUnderstood"));
	CHECK(ans("MaxXmitDataSegmentLength", "NotUnderstood"));
	CHECK(ans("NOPInterval", "NotUnderstood"));
	CHECK(ans("MaxSessions", "NotUnderstood"));
	CHECK(pn.pn_result[P_QUEUED_COMMANDS] == 32);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 8192);

	init(&pn, false, true);
	CHECK(NEG(&pn, "IFMarkInt=2048~8192\0OFMarkInt=1\0") == 0);
	CHECK(ans("IFMarkInt", "Irrelevant") && ans("OFMarkInt", "Irrelevant"));

	init(&pn, false, true);
	CHECK(NEG(&pn, "TaskReporting=ResponseFence,RFC3720\0") == 0 &&
	    ans("TaskReporting", "RFC3720"));
	init(&pn, false, true);
	CHECK(NEG(&pn, "TaskReporting=FastAbort\0") == 0 &&
	    ans("TaskReporting", "Reject"));
	init(&pn, true, true);
	CHECK(NEG(&pn, "TaskReporting=RFC3720\0") == 0 &&
	    ans("TaskReporting", "Irrelevant"));
	init(&pn, false, false);
	CHECK(NEG(&pn, "TaskReporting=RFC3720\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
}

static void
test_discovery(void)
{
	struct param_neg pn;

	init(&pn, true, true);
	CHECK(NEG(&pn, "MaxConnections=1\0InitialR2T=No\0ImmediateData=Yes\0"
	    "MaxBurstLength=16384\0FirstBurstLength=8192\0"
	    "MaxOutstandingR2T=1\0DataPDUInOrder=Yes\0"
	    "DataSequenceInOrder=Yes\0HeaderDigest=None\0"
	    "DataDigest=None\0MaxRecvDataSegmentLength=32768\0"
	    "DefaultTime2Wait=0\0DefaultTime2Retain=0\0"
	    "ErrorRecoveryLevel=0\0") == 0);
	CHECK(ans("MaxConnections", "Irrelevant"));
	CHECK(ans("InitialR2T", "Irrelevant"));
	CHECK(ans("ImmediateData", "Irrelevant"));
	CHECK(ans("MaxBurstLength", "Irrelevant"));
	CHECK(ans("FirstBurstLength", "Irrelevant"));
	CHECK(ans("MaxOutstandingR2T", "Irrelevant"));
	CHECK(ans("DataPDUInOrder", "Irrelevant"));
	CHECK(ans("DataSequenceInOrder", "Irrelevant"));
	CHECK(ans("HeaderDigest", "None") && ans("DataDigest", "None"));
	CHECK(ans("MaxRecvDataSegmentLength", "262144"));
	CHECK(ans("DefaultTime2Wait", "2"));
	CHECK(ans("DefaultTime2Retain", "0"));
	CHECK(ans("ErrorRecoveryLevel", "0"));
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 32768);
	CHECK(pn.pn_result[P_MAX_BURST] == 262144);
	CHECK(pn.pn_result[P_INITIAL_R2T] == 1);
	/* Irrelevant keys count as negotiated. */
	CHECK(NEG(&pn, "MaxBurstLength=16384\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
}

static void
test_leading(void)
{
	struct param_neg pn;
	static const char *lo[] = {
		"MaxConnections=1", "InitialR2T=Yes", "ImmediateData=Yes",
		"MaxBurstLength=512", "FirstBurstLength=512",
		"DefaultTime2Wait=2", "DefaultTime2Retain=20",
		"MaxOutstandingR2T=1", "DataPDUInOrder=Yes",
		"DataSequenceInOrder=Yes", "ErrorRecoveryLevel=0",
		"iSCSIProtocolLevel=1"
	};
	size_t		 i;

	for (i = 0; i < sizeof(lo) / sizeof(lo[0]); i++) {
		init(&pn, false, false);
		CHECK(neg(&pn, lo[i], strlen(lo[i]) + 1) == -1 &&
		    status == LOGIN_INITIATOR_ERROR && errstr != NULL);
	}
	/* Connection-scope keys are fine on any connection. */
	init(&pn, false, false);
	CHECK(NEG(&pn, "HeaderDigest=None\0DataDigest=None\0"
	    "MaxRecvDataSegmentLength=131072\0IFMarker=No\0OFMarker=No\0") ==
	    0);
	CHECK(ans("HeaderDigest", "None"));
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 131072);
}

/* 6.3: renegotiation is a Login reject (initiator error). */
static void
test_twice(void)
{
	struct param_neg pn;

	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=65536\0") == 0);
	CHECK(NEG(&pn, "MaxBurstLength=65536\0") == -1 &&
	    status == LOGIN_INITIATOR_ERROR);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=65536\0") == 0);
	CHECK(NEG(&pn, "MaxRecvDataSegmentLength=8192\0") == -1);
	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=None\0") == 0);
	CHECK(NEG(&pn, "HeaderDigest=None\0") == -1);
	/* Also after a Reject. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "ImmediateData=maybe\0") == 0 &&
	    ans("ImmediateData", "Reject"));
	CHECK(NEG(&pn, "ImmediateData=Yes\0") == -1);
}

static void
test_first_burst(void)
{
	struct param_neg pn;

	/* Answered after MaxBurstLength of the same request. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "FirstBurstLength=262144\0MaxBurstLength=65536\0"
	    "ImmediateData=Yes\0") == 0);
	CHECK(ans("FirstBurstLength", "65536") &&
	    ans("MaxBurstLength", "65536"));
	CHECK(pn.pn_result[P_FIRST_BURST] == 65536);
	/* The answer order keeps the request order, FirstBurstLength last. */
	CHECK(out->keys_n == 4);
	CHECK(strcmp(out->keys_name[0], "MaxBurstLength") == 0);
	CHECK(strcmp(out->keys_name[1], "ImmediateData") == 0);
	CHECK(strcmp(out->keys_name[2], "FirstBurstLength") == 0);
	CHECK(strcmp(out->keys_name[3], "MaxRecvDataSegmentLength") == 0);

	/* MaxBurstLength in a later round clamps the result. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "FirstBurstLength=262144\0") == 0 &&
	    ans("FirstBurstLength", "262144"));
	CHECK(NEG(&pn, "MaxBurstLength=16384\0") == 0);
	CHECK(pn.pn_result[P_FIRST_BURST] == 16384);
	CHECK(pn.pn_result[P_MAX_BURST] == 16384);

	/* MaxBurstLength alone clamps the RFC default FirstBurstLength. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxBurstLength=4096\0") == 0);
	CHECK(pn.pn_result[P_FIRST_BURST] == 4096);

	/* Irrelevant when InitialR2T=Yes and ImmediateData=No (13.14). */
	init(&pn, false, true);
	CHECK(NEG(&pn, "FirstBurstLength=65536\0InitialR2T=Yes\0"
	    "ImmediateData=No\0") == 0);
	CHECK(ans("FirstBurstLength", "Irrelevant"));
	CHECK(ans("InitialR2T", "Yes") && ans("ImmediateData", "No"));
	init(&pn, false, true);
	CHECK(NEG(&pn, "FirstBurstLength=65536\0InitialR2T=No\0"
	    "ImmediateData=No\0") == 0);
	CHECK(ans("FirstBurstLength", "65536"));

	/* Configured smaller. */
	conf[P_FIRST_BURST] = 8192;
	init(&pn, false, true);
	CHECK(NEG(&pn, "FirstBurstLength=65536\0") == 0 &&
	    ans("FirstBurstLength", "8192"));
	param_conf_defaults(conf);
}

/* What open-iscsi sends in its operational stage. */
static void
test_open_iscsi(void)
{
	struct param_neg pn;

	init(&pn, false, true);
	CHECK(NEG(&pn, "HeaderDigest=None\0DataDigest=None\0"
	    "DefaultTime2Wait=2\0DefaultTime2Retain=0\0IFMarker=No\0"
	    "OFMarker=No\0ErrorRecoveryLevel=0\0InitialR2T=No\0"
	    "ImmediateData=Yes\0MaxBurstLength=16776192\0"
	    "FirstBurstLength=262144\0MaxOutstandingR2T=1\0"
	    "MaxConnections=1\0DataPDUInOrder=Yes\0"
	    "DataSequenceInOrder=Yes\0MaxRecvDataSegmentLength=262144\0") ==
	    0);
	CHECK(ans("InitialR2T", "No") && ans("ImmediateData", "Yes"));
	CHECK(ans("MaxBurstLength", "262144"));
	CHECK(ans("FirstBurstLength", "262144"));
	CHECK(ans("DefaultTime2Retain", "0"));
	CHECK(ans("MaxRecvDataSegmentLength", "262144"));
	CHECK(pn.pn_result[P_INITIAL_R2T] == 0);
	CHECK(pn.pn_result[P_IMMEDIATE_DATA] == 1);
	CHECK(pn.pn_result[P_MAX_BURST] == 262144);
	CHECK(pn.pn_result[P_FIRST_BURST] == 262144);
	CHECK(pn.pn_result[P_MAX_XMIT_DSL] == 262144);
	CHECK(out->keys_n == 16);
}

/*
 * Offers above the configuration are negotiated down to it (Minimum),
 * never refused; values beyond the key's own range are Reject, and the
 * key keeps its default while the others of the request go on.
 */
static void
test_down(void)
{
	struct param_neg pn;

	conf[P_MAX_CONNECTIONS] = 2;
	conf[P_ERROR_RECOVERY_LEVEL] = 1;
	init(&pn, false, true);
	CHECK(NEG(&pn, "ErrorRecoveryLevel=2\0MaxConnections=65535\0") == 0);
	CHECK(ans("ErrorRecoveryLevel", "1") && ans("MaxConnections", "2"));
	CHECK(pn.pn_result[P_ERROR_RECOVERY_LEVEL] == 1);
	CHECK(pn.pn_result[P_MAX_CONNECTIONS] == 2);
	init(&pn, false, true);
	CHECK(NEG(&pn, "MaxConnections=65536\0ErrorRecoveryLevel=1\0"
	    "MaxBurstLength=8192\0") == 0);
	CHECK(ans("MaxConnections", "Reject"));
	CHECK(pn.pn_result[P_MAX_CONNECTIONS] == 1);
	CHECK(ans("ErrorRecoveryLevel", "1") && ans("MaxBurstLength", "8192"));
	/* Lower offers are taken as they are. */
	init(&pn, false, true);
	CHECK(NEG(&pn, "ErrorRecoveryLevel=0\0MaxConnections=1\0") == 0);
	CHECK(ans("ErrorRecoveryLevel", "0") && ans("MaxConnections", "1"));
	param_conf_defaults(conf);
}

int
main(void)
{
	param_conf_defaults(conf);
	test_table();
	test_conf();
	test_init();
	test_bool();
	test_numbers();
	test_mrdsl();
	test_digest();
	test_reject();
	test_other_keys();
	test_discovery();
	test_leading();
	test_twice();
	test_first_burst();
	test_open_iscsi();
	test_down();
	keys_free(out);
	if (failures > 0) {
		printf("test_param: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test_param: %d checks passed\n", checks);
	return (0);
}
