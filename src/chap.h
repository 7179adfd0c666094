/*
 * chap.h: CHAP (RFC 1994) as iSCSI uses it (RFC 7143 section 12.1.3),
 * with the IANA algorithm numbers: 5 MD5, 6 SHA-1, 7 SHA-256,
 * 8 SHA3-256.  Responses are H(identifier || secret || challenge) via the
 * OpenSSL EVP API; challenges and identifiers come from RAND_bytes;
 * comparisons are constant-time.  Binary values travel as RFC 7143
 * section 6.1 hex ("0x...") or base64 ("0b...") constants.
 */
#ifndef IETD_CHAP_H
#define IETD_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAP_MD5		5
#define CHAP_SHA1		6
#define CHAP_SHA256		7
#define CHAP_SHA3_256		8

#define CHAP_DIGEST_MAX		64	/* largest response (EVP_MAX_MD_SIZE) */
#define CHAP_CHALLENGE_MIN	16	/* ours: at least this, and >= digest */
#define CHAP_CHALLENGE_MAX	1024	/* an initiator's challenge, bytes */
#define CHAP_NAME_MAX		256	/* CHAP_N, NUL included */
#define CHAP_ALGS_MAX		16	/* entries of a CHAP_A list we keep */

/*
 * Load libcrypto (dlopen) for the functions below that need it; io calls
 * it at start-up, before its sandbox, and they call it themselves when
 * it has not been.  0, or -1 with *errstr (if not NULL) saying why.
 */
int	 chap_crypto_load(const char **errstr);
/* Response (digest) length of an algorithm, 0 if not supported. */
size_t	 chap_digest_len(int alg);
/* "MD5", "SHA-1", ... or "unknown". */
const char *chap_alg_name(int alg);
/* The number of "MD5", "SHA-1", ... (any case) or "5".."8"; -1 if none. */
int	 chap_alg_byname(const char *);
/*
 * Choose from the initiator's offer (algs[nalgs]) the first algorithm of
 * order[norder] it contains (NULL order: strongest first).  -1 if none.
 */
int	 chap_alg_pick(const uint8_t *algs, size_t nalgs, const int *order,
	    size_t norder);
/*
 * Parse a CHAP_A list ("7,6,5") into algs[CHAP_ALGS_MAX]: numbers over
 * 255, unparseable entries and entries past the limit are skipped.
 * Returns how many were kept.
 */
size_t	 chap_alg_list(const char *list, uint8_t *algs);
/* H(id || secret || challenge) into out (chap_digest_len bytes).  0/-1. */
int	 chap_response(int alg, uint8_t id, const char *secret,
	    size_t secretlen, const uint8_t *chal, size_t challen,
	    uint8_t *out);
/* A random identifier and challenge of len bytes.  0/-1. */
int	 chap_challenge(uint8_t *id, uint8_t *chal, size_t len);
/* Constant-time comparison of two byte strings of the same length. */
bool	 chap_equal(const uint8_t *, const uint8_t *, size_t);
/*
 * Decode an RFC 7143 binary value: "0x"/"0X" then hex digits (an odd
 * count has an implied leading zero), or "0b"/"0B" then base64.  Into
 * out[max]; -1 if malformed, empty or longer than max.
 */
int	 chap_bin_decode(const char *s, uint8_t *out, size_t max,
	    size_t *len);
/* "0x" and lowercase hex of in[len] into out[size].  0, or -1 if small. */
int	 chap_bin_encode(const uint8_t *in, size_t len, char *out,
	    size_t size);
/* CHAP_I: a decimal or 0x hex number 0-255.  -1 if not. */
int	 chap_id_parse(const char *s);

#endif
