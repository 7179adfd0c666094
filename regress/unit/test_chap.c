/*
 * test_chap: chap.c.  Responses for the four algorithms against vectors
 * made independently with openssl(1), the RFC 7143 section 6.1 binary
 * encodings (hex and base64) with their bounds, CHAP_I and CHAP_A
 * parsing, the algorithm choice, and random challenges.
 */

#include <stdio.h>
#include <string.h>

#include "chap.h"

#include "check.h"

static const char	 secret[] = "secretsecret12";
static const uint8_t	 chal16[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

/*
 * H(0x2a || "secretsecret12" || 00 01 .. 0f), made with
 *	(printf '\x2a'; printf secretsecret12; printf '\x00\x01...\x0f') >v
 *	openssl dgst -md5|-sha1|-sha256|-sha3-256 -hex v
 */
static const struct {
	int		 alg;
	const char	*hex;
} vectors[] = {
	{ CHAP_MD5, "0x9860bd91695fa19d4538a10ade829698" },
	{ CHAP_SHA1, "0x4e55b217c1706e26ab6f73995f6ecd43a7634d66" },
	{ CHAP_SHA256, "0x86521a55d0dcb9552bd5b68e8dc869cc"
	    "c73616aaa09ce25ba3d6e90d3a839f6e" },
	{ CHAP_SHA3_256, "0xadd866f22d33ac994ac4b855d39fc06c"
	    "e58be029468cf9024391ceddb622e4f2" },
};

static void
test_vectors(void)
{
	uint8_t	 out[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];
	char	 hex[2 * CHAP_DIGEST_MAX + 3];
	size_t	 i, len;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		memset(out, 0, sizeof(out));
		CHECK(chap_response(vectors[i].alg, 0x2a, secret,
		    strlen(secret), chal16, sizeof(chal16), out) == 0);
		CHECK(chap_bin_encode(out, chap_digest_len(vectors[i].alg),
		    hex, sizeof(hex)) == 0);
		CHECK(strcmp(hex, vectors[i].hex) == 0);
		CHECK(chap_bin_decode(vectors[i].hex, want, sizeof(want),
		    &len) == 0);
		CHECK(len == chap_digest_len(vectors[i].alg));
		CHECK(chap_equal(out, want, len));
		/* Another identifier gives another response. */
		CHECK(chap_response(vectors[i].alg, 0x2b, secret,
		    strlen(secret), chal16, sizeof(chal16), out) == 0);
		CHECK(!chap_equal(out, want, len));
	}
	CHECK(chap_digest_len(CHAP_MD5) == 16);
	CHECK(chap_digest_len(CHAP_SHA1) == 20);
	CHECK(chap_digest_len(CHAP_SHA256) == 32);
	CHECK(chap_digest_len(CHAP_SHA3_256) == 32);
	CHECK(chap_digest_len(4) == 0);
	CHECK(chap_digest_len(9) == 0);
	CHECK(chap_response(9, 1, secret, strlen(secret), chal16,
	    sizeof(chal16), out) == -1);
}

static void
test_decode(void)
{
	uint8_t	 b[32];
	size_t	 len;

	CHECK(chap_bin_decode("0x000102030405060708090a0b0c0d0e0f", b,
	    sizeof(b), &len) == 0);
	CHECK(len == 16 && memcmp(b, chal16, 16) == 0);
	CHECK(chap_bin_decode("0X0A0b", b, sizeof(b), &len) == 0);
	CHECK(len == 2 && b[0] == 0x0a && b[1] == 0x0b);
	/* An odd count of digits has an implied leading zero. */
	CHECK(chap_bin_decode("0xabc", b, sizeof(b), &len) == 0);
	CHECK(len == 2 && b[0] == 0x0a && b[1] == 0xbc);
	/* base64, made with: printf '\x00\x01...\x0f' | base64 */
	CHECK(chap_bin_decode("0bAAECAwQFBgcICQoLDA0ODw==", b, sizeof(b),
	    &len) == 0);
	CHECK(len == 16 && memcmp(b, chal16, 16) == 0);
	CHECK(chap_bin_decode("0BAAECAwQFBgcICQoLDA0ODw", b, sizeof(b),
	    &len) == 0);
	CHECK(len == 16 && memcmp(b, chal16, 16) == 0);
	/* printf '\xfb\xff' | base64 */
	CHECK(chap_bin_decode("0b+/8=", b, sizeof(b), &len) == 0);
	CHECK(len == 2 && b[0] == 0xfb && b[1] == 0xff);

	/* Malformed. */
	CHECK(chap_bin_decode("", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0x", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0b", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("1234", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0y12", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0x12g4", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0x12 34", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0bA", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0bAA*A", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0bAB==", b, sizeof(b), &len) == -1);
	CHECK(chap_bin_decode("0bAAA==", b, sizeof(b), &len) == -1);

	/* Bounds: exactly max fits, one more does not. */
	CHECK(chap_bin_decode("0x0102", b, 2, &len) == 0 && len == 2);
	CHECK(chap_bin_decode("0x010203", b, 2, &len) == -1);
	CHECK(chap_bin_decode("0x10203", b, 2, &len) == -1);
	CHECK(chap_bin_decode("0bAQID", b, 3, &len) == 0 && len == 3);
	CHECK(chap_bin_decode("0bAQIDBA==", b, 3, &len) == -1);
}

static void
test_encode(void)
{
	const uint8_t	 in[3] = { 0x00, 0xab, 0xff };
	char		 s[9];

	CHECK(chap_bin_encode(in, 3, s, sizeof(s)) == 0);
	CHECK(strcmp(s, "0x00abff") == 0);
	CHECK(chap_bin_encode(in, 3, s, 8) == -1);
}

static void
test_id(void)
{
	CHECK(chap_id_parse("0") == 0);
	CHECK(chap_id_parse("255") == 255);
	CHECK(chap_id_parse("0xff") == 255);
	CHECK(chap_id_parse("0x1A") == 26);
	CHECK(chap_id_parse("256") == -1);
	CHECK(chap_id_parse("0x100") == -1);
	CHECK(chap_id_parse("-1") == -1);
	CHECK(chap_id_parse("") == -1);
	CHECK(chap_id_parse("0x") == -1);
	CHECK(chap_id_parse("1a") == -1);
	CHECK(chap_id_parse(" 1") == -1);
	/* fuzz_chap found these: strtoul took a second prefix. */
	CHECK(chap_id_parse("0x0xc") == -1);
	CHECK(chap_id_parse("0X0x1") == -1);
	CHECK(chap_id_parse("0x-1") == -1);
	CHECK(chap_id_parse("0x 1") == -1);
	CHECK(chap_id_parse("0012") == 12);
}

static void
test_algs(void)
{
	uint8_t	 a[CHAP_ALGS_MAX];
	int	 order[] = { CHAP_MD5, CHAP_SHA256 };
	size_t	 n;

	n = chap_alg_list("5", a);
	CHECK(n == 1 && a[0] == 5);
	CHECK(chap_alg_pick(a, n, NULL, 0) == CHAP_MD5);
	n = chap_alg_list("5,6,7,8", a);
	CHECK(n == 4);
	/* Default: strongest first, whatever the initiator's order. */
	CHECK(chap_alg_pick(a, n, NULL, 0) == CHAP_SHA3_256);
	n = chap_alg_list("7,5,6", a);
	CHECK(chap_alg_pick(a, n, NULL, 0) == CHAP_SHA256);
	/* An order of the admin's. */
	CHECK(chap_alg_pick(a, n, order, 2) == CHAP_MD5);
	/* Unknown, malformed and out-of-range entries are skipped. */
	n = chap_alg_list("Reject,x,1000,-1,,6", a);
	CHECK(n == 1 && a[0] == 6);
	CHECK(chap_alg_pick(a, n, NULL, 0) == CHAP_SHA1);
	n = chap_alg_list("1,2,3,4,9,255", a);
	CHECK(n == 6);
	CHECK(chap_alg_pick(a, n, NULL, 0) == -1);
	CHECK(chap_alg_list("", a) == 0);
	/* No more than CHAP_ALGS_MAX are kept. */
	n = chap_alg_list("1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,5", a);
	CHECK(n == CHAP_ALGS_MAX);
	CHECK(strcmp(chap_alg_name(CHAP_SHA3_256), "SHA3-256") == 0);
}

static void
test_challenge(void)
{
	uint8_t	 id1, id2, c1[32], c2[32];

	CHECK(chap_challenge(&id1, c1, sizeof(c1)) == 0);
	CHECK(chap_challenge(&id2, c2, sizeof(c2)) == 0);
	/* 2^-256 chance of a false failure. */
	CHECK(!chap_equal(c1, c2, sizeof(c1)));
}

int
main(void)
{
	test_vectors();
	test_decode();
	test_encode();
	test_id();
	test_algs();
	test_challenge();
	if (failures > 0) {
		printf("test_chap: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test_chap: %d checks passed\n", checks);
	return (0);
}
