/*
 * chap.c: CHAP computations and the encodings of RFC 7143 section 6.1.
 * Knows nothing of processes: io calls it with secrets, the worker only
 * to parse and encode, and regress/unit/test_chap.c to check it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "chap.h"

/* Strongest first: the default choice among what an initiator offers. */
static const int chap_default_order[] = {
	CHAP_SHA3_256, CHAP_SHA256, CHAP_SHA1, CHAP_MD5,
};

static const EVP_MD *
chap_md(int alg)
{
	switch (alg) {
	case CHAP_MD5:
		return (EVP_md5());
	case CHAP_SHA1:
		return (EVP_sha1());
	case CHAP_SHA256:
		return (EVP_sha256());
	case CHAP_SHA3_256:
		return (EVP_sha3_256());
	}
	return (NULL);
}

size_t
chap_digest_len(int alg)
{
	switch (alg) {
	case CHAP_MD5:
		return (16);
	case CHAP_SHA1:
		return (20);
	case CHAP_SHA256:
	case CHAP_SHA3_256:
		return (32);
	}
	return (0);
}

const char *
chap_alg_name(int alg)
{
	switch (alg) {
	case CHAP_MD5:
		return ("MD5");
	case CHAP_SHA1:
		return ("SHA-1");
	case CHAP_SHA256:
		return ("SHA-256");
	case CHAP_SHA3_256:
		return ("SHA3-256");
	}
	return ("unknown");
}

int
chap_alg_byname(const char *s)
{
	int	 alg;

	for (alg = CHAP_MD5; alg <= CHAP_SHA3_256; alg++)
		if (strcasecmp(s, chap_alg_name(alg)) == 0 ||
		    (s[0] == '0' + alg && s[1] == '\0'))
			return (alg);
	return (-1);
}

int
chap_alg_pick(const uint8_t *algs, size_t nalgs, const int *order,
    size_t norder)
{
	size_t	 i, j;

	if (order == NULL) {
		order = chap_default_order;
		norder = sizeof(chap_default_order) /
		    sizeof(chap_default_order[0]);
	}
	for (i = 0; i < norder; i++) {
		if (chap_digest_len(order[i]) == 0)
			continue;
		for (j = 0; j < nalgs; j++)
			if (algs[j] == order[i])
				return (order[i]);
	}
	return (-1);
}

size_t
chap_alg_list(const char *list, uint8_t *algs)
{
	const char	*p = list, *end;
	char		*ep;
	unsigned long	 v;
	size_t		 n = 0;

	while (*p != '\0' && n < CHAP_ALGS_MAX) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		if (isdigit((unsigned char)*p)) {
			errno = 0;
			v = strtoul(p, &ep, 10);
			if (ep == end && errno == 0 && v <= 255)
				algs[n++] = v;
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return (n);
}

int
chap_response(int alg, uint8_t id, const char *secret, size_t secretlen,
    const uint8_t *chal, size_t challen, uint8_t *out)
{
	const EVP_MD	*md;
	EVP_MD_CTX	*ctx;
	unsigned int	 len;
	int		 ok;

	if ((md = chap_md(alg)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return (-1);
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, secretlen) == 1 &&
	    EVP_DigestUpdate(ctx, chal, challen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 &&
	    len == chap_digest_len(alg);
	EVP_MD_CTX_free(ctx);
	return (ok ? 0 : -1);
}

int
chap_challenge(uint8_t *id, uint8_t *chal, size_t len)
{
	if (len > INT_MAX || RAND_bytes(id, 1) != 1 ||
	    RAND_bytes(chal, (int)len) != 1)
		return (-1);
	return (0);
}

bool
chap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return (CRYPTO_memcmp(a, b, len) == 0);
}

static int
chap_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

static int
chap_hex_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t	 n = strlen(s), i, o = 0;
	int	 hi, lo;

	if (n == 0 || (n + 1) / 2 > max)
		return (-1);
	i = 0;
	if (n % 2 == 1) {
		if ((lo = chap_hexval(s[0])) == -1)
			return (-1);
		out[o++] = lo;
		i = 1;
	}
	for (; i < n; i += 2) {
		if ((hi = chap_hexval(s[i])) == -1 ||
		    (lo = chap_hexval(s[i + 1])) == -1)
			return (-1);
		out[o++] = hi << 4 | lo;
	}
	*len = o;
	return (0);
}

static int
chap_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/* Base64 (RFC 4648) with optional "=" padding; no whitespace. */
static int
chap_b64_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t		 n = strlen(s), i, o = 0, pad = 0;
	uint32_t	 acc = 0;
	int		 v, bits = 0;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n == 0 || n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
		return (-1);
	for (i = 0; i < n; i++) {
		if ((v = chap_b64val((unsigned char)s[i])) == -1)
			return (-1);
		acc = (acc << 6 | v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return (-1);
			out[o++] = acc >> bits & 0xff;
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if ((acc & ((1U << bits) - 1)) != 0)
		return (-1);
	*len = o;
	return (0);
}

int
chap_bin_decode(const char *s, uint8_t *out, size_t max, size_t *len)
{
	if (s[0] != '0')
		return (-1);
	if (s[1] == 'x' || s[1] == 'X')
		return (chap_hex_decode(s + 2, out, max, len));
	if (s[1] == 'b' || s[1] == 'B')
		return (chap_b64_decode(s + 2, out, max, len));
	return (-1);
}

int
chap_bin_encode(const uint8_t *in, size_t len, char *out, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	if (size < 2 * len + 3)
		return (-1);
	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < len; i++) {
		out[2 + 2 * i] = hex[in[i] >> 4];
		out[3 + 2 * i] = hex[in[i] & 0xf];
	}
	out[2 + 2 * len] = '\0';
	return (0);
}

/*
 * Digit by digit: strtoul would take a second "0x" ("0x0x5"), a sign
 * or leading blanks after the first.
 */
int
chap_id_parse(const char *s)
{
	unsigned int	 v = 0;
	int		 base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if ((d = chap_hexval((unsigned char)*s)) == -1 || d >= base)
			return (-1);
		if ((v = v * base + d) > 255)
			return (-1);
	}
	return ((int)v);
}
