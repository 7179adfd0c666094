/*
 * test_keys: key=value lists.  Good lists, padding, and every kind of
 * malformed data segment.  Prints one line per failed check, exits 1 if
 * any failed.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

#include "check.h"

/* Load a literal (sizeof - 1 keeps its embedded NULs, drops the last). */
#define LOAD(k, lit, e)	keys_load((k), (lit), sizeof(lit) - 1, (e))

static int	bad(const char *, size_t, const char *);
static void	test_good(void);
static void	test_padding(void);
static void	test_malformed(void);
static void	test_limits(void);
static void	test_no_parse_in_place(void);
static void	test_append_atomic(void);
static void	test_add_save(void);
static void	test_delete(void);

/* Does loading fail with the expected reason and leave the list empty? */
static int
bad(const char *data, size_t len, const char *want)
{
	struct keys	*k;
	const char	*e = NULL;
	int		 ok;

	if ((k = keys_new()) == NULL)
		exit(2);
	ok = keys_load(k, data, len, &e) == -1 && e != NULL &&
	    k->keys_n == 0 && (want == NULL || strcmp(e, want) == 0);
	if (!ok)
		printf("  load of %zu bytes: errstr \"%s\", want \"%s\"\n",
		    len, e ? e : "(null)", want ? want : "(any)");
	keys_free(k);
	return (ok);
}

static void
test_good(void)
{
	struct keys	*k;
	const char	*e;

	k = keys_new();
	CHECK(k != NULL && k->keys_n == 0);
	CHECK(LOAD(k, "InitiatorName=iqn.1994-05.com.redhat:x\0"
	    "SessionType=Normal\0AuthMethod=CHAP,None\0", &e) == 0);
	CHECK(k->keys_n == 3);
	CHECK(strcmp(k->keys_name[0], "InitiatorName") == 0);
	CHECK(strcmp(keys_find(k, "SessionType"), "Normal") == 0);
	CHECK(strcmp(keys_find(k, "AuthMethod"), "CHAP,None") == 0);
	CHECK(keys_find(k, "sessiontype") == NULL);	/* case-sensitive */
	CHECK(keys_find(k, "Session") == NULL);
	CHECK(keys_find(k, "TargetName") == NULL);
	keys_free(k);

	/* A zero-length data segment is an empty list. */
	k = keys_new();
	CHECK(keys_load(k, NULL, 0, &e) == 0 && k->keys_n == 0);
	CHECK(keys_load(k, "", 0, &e) == 0 && k->keys_n == 0);
	/* '=' inside a value is part of the value. */
	CHECK(LOAD(k, "CHAP_C=0x1234==\0", &e) == 0);
	CHECK(strcmp(keys_find(k, "CHAP_C"), "0x1234==") == 0);
	/* Extension keys. */
	CHECK(LOAD(k, "X-com.example.foo=1\0X#NodeArchitecture=l\0", &e) ==
	    0);
	CHECK(k->keys_n == 3);
	CHECK(strcmp(keys_find(k, "X#NodeArchitecture"), "l") == 0);
	keys_free(k);
	keys_free(NULL);
}

static void
test_padding(void)
{
	struct keys	*k;
	const char	*e;

	k = keys_new();
	CHECK(LOAD(k, "a=b\0\0\0\0", &e) == 0 && k->keys_n == 1);
	CHECK(strcmp(keys_find(k, "a"), "b") == 0);
	keys_free(k);
	k = keys_new();
	CHECK(LOAD(k, "\0\0\0\0", &e) == 0 && k->keys_n == 0);
	CHECK(LOAD(k, "\0", &e) == 0 && k->keys_n == 0);
	keys_free(k);
	/* Padding is only trailing: an empty pair inside is not. */
	CHECK(bad("a=b\0\0c=d\0", 9, "empty key=value pair"));
	CHECK(bad("\0a=b\0", 5, "empty key=value pair"));
}

static int
empty_value_ok(void)
{
	struct keys	*k = keys_new();
	const char	*e = NULL;
	int		 ok;

	ok = LOAD(k, "a=\0", &e) == 0 && k->keys_n == 1 &&
	    strcmp(keys_find(k, "a"), "") == 0;
	keys_free(k);
	return (ok);
}

static void
test_malformed(void)
{
	CHECK(bad("a=b", 3, "text data not NUL-terminated"));
	CHECK(bad("a=b\0c=d", 7, "text data not NUL-terminated"));
	CHECK(bad("x", 1, "text data not NUL-terminated"));
	CHECK(bad("ab\0", 3, "key without '='"));
	CHECK(bad("a=b\0cd\0", 7, "key without '='"));
	CHECK(bad("=b\0", 3, "empty key name"));
	/* An empty value is legal (SendTargets=, RFC 7143 section 6.1). */
	CHECK(empty_value_ok());
	CHECK(bad("=\0", 2, "empty key name"));
	CHECK(bad("a=1\0b=2\0a=3\0", 12, "duplicate key"));
	CHECK(bad("a=1\0a=1\0", 8, "duplicate key"));
	CHECK(bad("1abc=1\0", 7, "invalid key name"));
	CHECK(bad("a b=1\0", 6, "invalid key name"));
	CHECK(bad("a\nb=1\0", 6, "invalid key name"));
	CHECK(bad("a\xc3\xa9=1\0", 6, "invalid key name"));
	CHECK(bad("-a=1\0", 5, "invalid key name"));
}

static void
test_limits(void)
{
	struct keys	*k;
	const char	*e;
	char		*buf, name[80];
	size_t		 len, i;

	/* Name of 63 bytes is fine, 64 is not. */
	buf = malloc(KEY_VALUE_MAX + 200);
	if (buf == NULL)
		exit(2);
	memset(buf, 'n', 63);
	memcpy(buf + 63, "=v", 3);
	k = keys_new();
	CHECK(keys_load(k, buf, 66, &e) == 0 && k->keys_n == 1);
	keys_free(k);
	memset(buf, 'n', 64);
	memcpy(buf + 64, "=v", 3);
	CHECK(bad(buf, 67, "key name too long"));

	/* Value of KEY_VALUE_MAX is fine, one more is not. */
	memcpy(buf, "k=", 2);
	memset(buf + 2, 'v', KEY_VALUE_MAX);
	buf[2 + KEY_VALUE_MAX] = '\0';
	k = keys_new();
	CHECK(keys_load(k, buf, KEY_VALUE_MAX + 3, &e) == 0);
	CHECK(strlen(keys_find(k, "k")) == KEY_VALUE_MAX);
	keys_free(k);
	memset(buf + 2, 'v', KEY_VALUE_MAX + 1);
	buf[3 + KEY_VALUE_MAX] = '\0';
	CHECK(bad(buf, KEY_VALUE_MAX + 4, "value too long"));
	free(buf);

	/* KEYS_MAX pairs are fine, one more is not. */
	buf = malloc((KEYS_MAX + 1) * 16);
	if (buf == NULL)
		exit(2);
	len = 0;
	for (i = 0; i < KEYS_MAX; i++)
		len += sprintf(buf + len, "k%zu=v", i) + 1;
	k = keys_new();
	CHECK(keys_load(k, buf, len, &e) == 0 && k->keys_n == KEYS_MAX);
	/* And keys_add refuses the next one. */
	errno = 0;
	CHECK(keys_add(k, "one", "more") == -1 && errno == E2BIG);
	keys_free(k);
	len += sprintf(buf + len, "k%zu=v", i) + 1;
	CHECK(bad(buf, len, "too many keys"));
	free(buf);

	/* keys_add validates too. */
	k = keys_new();
	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK(keys_add(k, name, "v") == -1 && errno == EINVAL);
	CHECK(keys_add(k, "", "v") == -1 && errno == EINVAL);
	CHECK(keys_add(k, "a", "") == -1 && errno == EINVAL);
	CHECK(keys_add(k, "a=b", "v") == -1 && errno == EINVAL);
	CHECK(k->keys_n == 0);
	keys_free(k);
}

static void
test_no_parse_in_place(void)
{
	struct keys	*k;
	const char	*e;
	char		 buf[] = "Name=value\0Other=x\0";
	char		 copy[sizeof(buf)];

	memcpy(copy, buf, sizeof(buf));
	k = keys_new();
	CHECK(keys_load(k, buf, sizeof(buf) - 1, &e) == 0);
	CHECK(memcmp(buf, copy, sizeof(buf)) == 0);
	/* The list owns copies. */
	memset(buf, 'Z', sizeof(buf));
	CHECK(strcmp(keys_find(k, "Name"), "value") == 0);
	CHECK(strcmp(keys_find(k, "Other"), "x") == 0);
	keys_free(k);
}

/* A second load appends, checks duplicates against what is there, and
 * leaves the list as it was when it fails. */
static void
test_append_atomic(void)
{
	struct keys	*k;
	const char	*e;

	k = keys_new();
	CHECK(LOAD(k, "a=1\0b=2\0", &e) == 0);
	CHECK(LOAD(k, "c=3\0", &e) == 0 && k->keys_n == 3);
	CHECK(LOAD(k, "d=4\0a=5\0", &e) == -1);
	CHECK(strcmp(e, "duplicate key") == 0);
	CHECK(k->keys_n == 3 && keys_find(k, "d") == NULL);
	CHECK(strcmp(keys_find(k, "a"), "1") == 0);
	CHECK(LOAD(k, "e=5\0f\0", &e) == -1 && k->keys_n == 3);
	keys_free(k);
}

static void
test_add_save(void)
{
	struct keys	*k, *k2;
	const char	*e;
	char		*data;
	size_t		 len;

	k = keys_new();
	CHECK(keys_save(k, &data, &len) == 0 && data != NULL && len == 0);
	free(data);
	CHECK(keys_add(k, "HeaderDigest", "None") == 0);
	CHECK(keys_add_uint(k, "MaxRecvDataSegmentLength", 262144) == 0);
	CHECK(keys_add_uint(k, "Big", 18446744073709551615ULL) == 0);
	CHECK(keys_save(k, &data, &len) == 0);
	CHECK(len == sizeof("HeaderDigest=None\0"
	    "MaxRecvDataSegmentLength=262144\0"
	    "Big=18446744073709551615\0") - 1);
	CHECK(memcmp(data, "HeaderDigest=None\0"
	    "MaxRecvDataSegmentLength=262144\0"
	    "Big=18446744073709551615\0", len) == 0);
	/* Round trip. */
	k2 = keys_new();
	CHECK(keys_load(k2, data, len, &e) == 0 && k2->keys_n == 3);
	CHECK(strcmp(keys_find(k2, "MaxRecvDataSegmentLength"), "262144") ==
	    0);
	keys_free(k2);
	free(data);

	/* Repeated names are allowed on output (SendTargets). */
	CHECK(keys_add(k, "TargetName", "iqn.a") == 0);
	CHECK(keys_add(k, "TargetAddress", "1.2.3.4:3260,1") == 0);
	CHECK(keys_add(k, "TargetName", "iqn.b") == 0);
	CHECK(k->keys_n == 6);
	CHECK(strcmp(keys_find(k, "TargetName"), "iqn.a") == 0);
	keys_free(k);
}

static void
test_delete(void)
{
	struct keys	*k;
	const char	*e;

	k = keys_new();
	CHECK(LOAD(k, "a=1\0b=2\0c=3\0d=4\0", &e) == 0);
	keys_delete(k, "b");
	CHECK(k->keys_n == 3 && keys_find(k, "b") == NULL);
	CHECK(strcmp(k->keys_name[1], "c") == 0);
	keys_delete(k, "nothere");
	CHECK(k->keys_n == 3);
	/* The name may be the stored string itself. */
	keys_delete(k, k->keys_name[0]);
	CHECK(k->keys_n == 2 && keys_find(k, "a") == NULL);
	CHECK(strcmp(k->keys_name[0], "c") == 0);
	keys_delete(k, k->keys_name[1]);
	CHECK(k->keys_n == 1 && strcmp(k->keys_name[0], "c") == 0);
	CHECK(keys_add(k, "x", "1") == 0 && keys_add(k, "x", "2") == 0);
	keys_delete(k, "x");
	CHECK(k->keys_n == 1);
	keys_delete(k, "c");
	CHECK(k->keys_n == 0);
	keys_delete(k, "c");
	CHECK(k->keys_n == 0);
	keys_free(k);
}

int
main(void)
{
	test_good();
	test_padding();
	test_malformed();
	test_limits();
	test_no_parse_in_place();
	test_append_atomic();
	test_add_save();
	test_delete();
	if (failures > 0) {
		printf("test_keys: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test_keys: %d checks passed\n", checks);
	return (0);
}
