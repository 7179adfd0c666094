/*
 * chap.c: CHAP computations and the encodings of RFC 7143 section 6.1.
 * Knows nothing of processes: io calls it with secrets, the worker only
 * to parse and encode, and regress/unit/test_chap.c to check it.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include "chap.h"

#define CHAP_STR(x)	CHAP_STR2(x)
#define CHAP_STR2(x)	#x
#define CHAP_LIBCRYPTO	"libcrypto.so." CHAP_STR(OPENSSL_SHLIB_VERSION)

/*
 * The OpenSSL functions, from libcrypto loaded at run time: only io
 * computes CHAP, and a library linked into ietd would be mapped in the
 * parent too, where each fork for a login copies its mappings (and its
 * relocated data, some 400 KiB).  Prototypes come from OpenSSL's headers.
 */
static struct {
	bool				 loaded;
	__typeof__(EVP_md5)		*md5;
	__typeof__(EVP_sha1)		*sha1;
	__typeof__(EVP_sha256)		*sha256;
	__typeof__(EVP_sha3_256)	*sha3_256;
	__typeof__(EVP_MD_CTX_new)	*ctx_new;
	__typeof__(EVP_MD_CTX_free)	*ctx_free;
	__typeof__(EVP_DigestInit_ex)	*init;
	__typeof__(EVP_DigestUpdate)	*update;
	__typeof__(EVP_DigestFinal_ex)	*final;
	__typeof__(RAND_bytes)		*rand_bytes;
	__typeof__(CRYPTO_memcmp)	*memcmp;
} crypto;

#define CHAP_SYM(h, field, name)					\
	((crypto.field = (__typeof__(crypto.field))dlsym((h), (name))) != NULL)

int
chap_crypto_load(const char **errstr)
{
	void	*h;

	if (crypto.loaded)
		return (0);
	if ((h = dlopen(CHAP_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		if (errstr != NULL)
			*errstr = dlerror();
		return (-1);
	}
	if (!CHAP_SYM(h, md5, "EVP_md5") || !CHAP_SYM(h, sha1, "EVP_sha1") ||
	    !CHAP_SYM(h, sha256, "EVP_sha256") ||
	    !CHAP_SYM(h, sha3_256, "EVP_sha3_256") ||
	    !CHAP_SYM(h, ctx_new, "EVP_MD_CTX_new") ||
	    !CHAP_SYM(h, ctx_free, "EVP_MD_CTX_free") ||
	    !CHAP_SYM(h, init, "EVP_DigestInit_ex") ||
	    !CHAP_SYM(h, update, "EVP_DigestUpdate") ||
	    !CHAP_SYM(h, final, "EVP_DigestFinal_ex") ||
	    !CHAP_SYM(h, rand_bytes, "RAND_bytes") ||
	    !CHAP_SYM(h, memcmp, "CRYPTO_memcmp")) {
		if (errstr != NULL)
			*errstr = dlerror();
		dlclose(h);
		return (-1);
	}
	crypto.loaded = true;
	return (0);
}

/* Strongest first: the default choice among what an initiator offers. */
static const int chap_default_order[] = {
	CHAP_SHA3_256, CHAP_SHA256, CHAP_SHA1, CHAP_MD5,
};

static const EVP_MD *
chap_md(int alg)
{
	switch (alg) {
	case CHAP_MD5:
		return (crypto.md5());
	case CHAP_SHA1:
		return (crypto.sha1());
	case CHAP_SHA256:
		return (crypto.sha256());
	case CHAP_SHA3_256:
		return (crypto.sha3_256());
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

	if (chap_crypto_load(NULL) == -1 || (md = chap_md(alg)) == NULL ||
	    (ctx = crypto.ctx_new()) == NULL)
		return (-1);
	ok = crypto.init(ctx, md, NULL) == 1 &&
	    crypto.update(ctx, &id, 1) == 1 &&
	    crypto.update(ctx, secret, secretlen) == 1 &&
	    crypto.update(ctx, chal, challen) == 1 &&
	    crypto.final(ctx, out, &len) == 1 &&
	    len == chap_digest_len(alg);
	crypto.ctx_free(ctx);
	return (ok ? 0 : -1);
}

int
chap_challenge(uint8_t *id, uint8_t *chal, size_t len)
{
	if (len > INT_MAX || chap_crypto_load(NULL) == -1 ||
	    crypto.rand_bytes(id, 1) != 1 ||
	    crypto.rand_bytes(chal, (int)len) != 1)
		return (-1);
	return (0);
}

bool
chap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	/* Without libcrypto nothing compares equal: authentication fails. */
	if (chap_crypto_load(NULL) == -1)
		return (false);
	return (crypto.memcmp(a, b, len) == 0);
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
