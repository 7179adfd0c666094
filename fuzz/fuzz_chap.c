/*
 * fuzz_chap.c: the CHAP values an initiator sends (src/chap.c): binary
 * constants (CHAP_R, CHAP_C), identifiers (CHAP_I) and algorithm lists
 * (CHAP_A).  The input is one NUL-free string.  What decodes must encode
 * and decode again to the same bytes; what parses must be in range.
 */
#include <string.h>

#include "chap.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		 bin[CHAP_CHALLENGE_MAX], again[CHAP_CHALLENGE_MAX];
	uint8_t		 algs[CHAP_ALGS_MAX];
	char		*s, hex[2 * CHAP_CHALLENGE_MAX + 3];
	const char	*t, *digits;
	size_t		 len, len2, n, i;
	int		 id, alg;

	if (memchr(data, '\0', size) != NULL)
		return (0);
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	if (chap_bin_decode(s, bin, sizeof(bin), &len) == 0) {
		FUZZ_ASSERT(len > 0 && len <= sizeof(bin));
		FUZZ_ASSERT(chap_bin_encode(bin, len, hex, sizeof(hex)) == 0);
		FUZZ_ASSERT(strlen(hex) == 2 * len + 2);
		FUZZ_ASSERT(chap_bin_decode(hex, again, sizeof(again),
		    &len2) == 0);
		FUZZ_ASSERT(len2 == len && memcmp(bin, again, len) == 0);
	}
	/* A small buffer: never written past, or refused. */
	if (chap_bin_decode(s, bin, 16, &len) == 0)
		FUZZ_ASSERT(len > 0 && len <= 16);

	/* RFC 7143 6.1: a decimal or an 0x hex constant, nothing else. */
	if ((id = chap_id_parse(s)) != -1) {
		FUZZ_ASSERT(id >= 0 && id <= 255);
		digits = "0123456789";
		t = s;
		if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
			digits = "0123456789abcdefABCDEF";
			t += 2;
		}
		FUZZ_ASSERT(*t != '\0' && strspn(t, digits) == strlen(t));
	}

	n = chap_alg_list(s, algs);
	FUZZ_ASSERT(n <= CHAP_ALGS_MAX);
	if ((alg = chap_alg_pick(algs, n, NULL, 0)) != -1) {
		FUZZ_ASSERT(chap_digest_len(alg) > 0);
		for (i = 0; i < n && algs[i] != alg; i++)
			;
		FUZZ_ASSERT(i < n);
	}
	free(s);
	return (0);
}
