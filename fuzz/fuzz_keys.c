/*
 * fuzz_keys.c: key=value lists (src/keys.c).  The input is a data
 * segment for keys_load.  A list that loads must save and load again to
 * the same pairs, hold no duplicate and no malformed name, and answer
 * keys_find and keys_delete consistently.
 */
#include <string.h>

#include <bsd/string.h>

#include "fuzz.h"
#include "keys.h"

static void
same_keys(const struct keys *a, const struct keys *b)
{
	size_t	 i;

	FUZZ_ASSERT(a->keys_n == b->keys_n);
	for (i = 0; i < a->keys_n; i++) {
		FUZZ_ASSERT(strcmp(a->keys_name[i], b->keys_name[i]) == 0);
		FUZZ_ASSERT(strcmp(a->keys_value[i], b->keys_value[i]) == 0);
	}
}

static void
check_loaded(const struct keys *k)
{
	size_t	 i, j, nlen;

	FUZZ_ASSERT(k->keys_n <= KEYS_MAX);
	for (i = 0; i < k->keys_n; i++) {
		nlen = strlen(k->keys_name[i]);
		FUZZ_ASSERT(nlen > 0 && nlen <= KEY_NAME_MAX);
		FUZZ_ASSERT(strchr(k->keys_name[i], '=') == NULL);
		FUZZ_ASSERT(strlen(k->keys_value[i]) <= KEY_VALUE_MAX);
		FUZZ_ASSERT(keys_find(k, k->keys_name[i]) ==
		    k->keys_value[i]);
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(k->keys_name[i],
			    k->keys_name[j]) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys	*k, *again;
	const char	*errstr;
	char		*saved, name[KEY_NAME_MAX + 1];
	size_t		 len, n;

	if ((k = keys_new()) == NULL || (again = keys_new()) == NULL)
		abort();
	if (keys_load(k, (const char *)data, size, &errstr) == -1) {
		FUZZ_ASSERT(errstr != NULL);
		/* A failed load leaves the list as it was: empty. */
		FUZZ_ASSERT(k->keys_n == 0);
		goto done;
	}
	check_loaded(k);
	FUZZ_ASSERT(keys_save(k, &saved, &len) == 0);
	FUZZ_ASSERT(keys_load(again, saved, len, &errstr) == 0);
	same_keys(k, again);
	free(saved);

	/* Loading the same pairs again makes every one a duplicate. */
	FUZZ_ASSERT(k->keys_n == 0 ||
	    keys_load(again, (const char *)data, size, &errstr) == -1);
	same_keys(k, again);

	/* Deleting the first name leaves the others in order. */
	if (k->keys_n > 0) {
		n = k->keys_n;
		strlcpy(name, k->keys_name[0], sizeof(name));
		keys_delete(again, again->keys_name[0]);
		FUZZ_ASSERT(again->keys_n == n - 1);
		FUZZ_ASSERT(keys_find(again, name) == NULL);
		FUZZ_ASSERT(n < 2 ||
		    strcmp(again->keys_name[0], k->keys_name[1]) == 0);
		FUZZ_ASSERT(keys_add(again, name, "x") == 0);
		FUZZ_ASSERT(strcmp(keys_find(again, name), "x") == 0);
	}
 done:
	keys_free(k);
	keys_free(again);
	return (0);
}
