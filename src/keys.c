/*
 * keys.c: iSCSI text key=value lists (RFC 7143 section 6.1).  A data
 * segment is a sequence of "key=value\0" pairs.  keys_load copies every
 * name and value out of the caller's buffer, which is never modified.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "util.h"

#define KEYS_CAP_MIN	16

static int	name_ok(const char *, size_t);
static int	keys_append(struct keys *, const char *, size_t,
		    const char *, size_t);
static void	keys_truncate(struct keys *, size_t);
static size_t	keys_index(const struct keys *, const char *);

struct keys *
keys_new(void)
{
	return (calloc(1, sizeof(struct keys)));
}

void
keys_free(struct keys *keys)
{
	if (keys == NULL)
		return;
	keys_truncate(keys, 0);
	free(keys->keys_name);
	free(keys->keys_value);
	free(keys);
}

/* Drop every pair from index n on. */
static void
keys_truncate(struct keys *keys, size_t n)
{
	while (keys->keys_n > n) {
		keys->keys_n--;
		free(keys->keys_name[keys->keys_n]);
		keys->keys_name[keys->keys_n] = NULL;
		keys->keys_value[keys->keys_n] = NULL;
	}
}

/*
 * RFC 7143 6.1: a key name is a standard-label (a letter, then letters,
 * digits, '.', '-', '+', '@', '_'), or an extension key "X-..." or
 * "X#...", at most 63 bytes.  '#' is admitted for the latter.
 */
static int
name_ok(const char *name, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0 || len > KEY_NAME_MAX)
		return (0);
	c = name[0];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		return (0);
	for (i = 1; i < len; i++) {
		c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (c == '.' || c == '-' || c == '+' || c == '@' ||
		    c == '_' || c == '#')
			continue;
		return (0);
	}
	return (1);
}

/* Index of the first pair called name, or keys_n. */
static size_t
keys_index(const struct keys *keys, const char *name)
{
	size_t	 i;

	for (i = 0; i < keys->keys_n; i++)
		if (strcmp(keys->keys_name[i], name) == 0)
			break;
	return (i);
}

/* Room for one more pair: the arrays double, up to KEYS_MAX. */
static int
keys_grow(struct keys *keys)
{
	char	**n, **v;
	size_t	 cap;

	if (keys->keys_n < keys->keys_cap)
		return (0);
	if (keys->keys_n >= KEYS_MAX) {
		errno = E2BIG;
		return (-1);
	}
	cap = keys->keys_cap == 0 ? KEYS_CAP_MIN : keys->keys_cap * 2;
	if (cap > KEYS_MAX)
		cap = KEYS_MAX;
	if ((n = reallocarray(keys->keys_name, cap, sizeof(*n))) == NULL)
		return (-1);
	keys->keys_name = n;
	if ((v = reallocarray(keys->keys_value, cap, sizeof(*v))) == NULL)
		return (-1);
	keys->keys_value = v;
	keys->keys_cap = cap;
	return (0);
}

static int
keys_append(struct keys *keys, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	char	*n;

	if (keys_grow(keys) == -1)
		return (-1);
	if ((n = malloc(nlen + vlen + 2)) == NULL)
		return (-1);
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	memcpy(n + nlen + 1, value, vlen);
	n[nlen + 1 + vlen] = '\0';
	keys->keys_name[keys->keys_n] = n;
	keys->keys_value[keys->keys_n] = n + nlen + 1;
	keys->keys_n++;
	return (0);
}

/*
 * Pairs are appended to what the list already holds; on error the list is
 * left as it was.  Trailing NUL bytes after the last pair are padding that
 * some initiators send and are skipped; an empty pair anywhere else is an
 * error.
 */
int
keys_load(struct keys *keys, const char *data, size_t len,
    const char **errstr)
{
	const char	*p, *end, *nul, *eq;
	size_t		 start = keys->keys_n, nlen, vlen;
	char		 name[KEY_NAME_MAX + 1];

	*errstr = NULL;
	if (len == 0)
		return (0);
	if (data[len - 1] != '\0') {
		*errstr = "text data not NUL-terminated";
		return (-1);
	}
	end = data + len;
	while (end > data && end[-1] == '\0')
		end--;
	if (end == data)
		return (0);
	/* Every pair in [data, end) ends in a NUL, the last one at *end. */
	for (p = data; p < end; p = nul + 1) {
		nul = memchr(p, '\0', end - p + 1);
		if (nul == p) {
			*errstr = "empty key=value pair";
			goto fail;
		}
		if ((eq = memchr(p, '=', nul - p)) == NULL) {
			*errstr = "key without '='";
			goto fail;
		}
		nlen = eq - p;
		vlen = nul - eq - 1;
		if (nlen == 0) {
			*errstr = "empty key name";
			goto fail;
		}
		if (nlen > KEY_NAME_MAX) {
			*errstr = "key name too long";
			goto fail;
		}
		if (!name_ok(p, nlen)) {
			*errstr = "invalid key name";
			goto fail;
		}
		/* An empty value is legal ("SendTargets="); callers judge it. */
		if (vlen > KEY_VALUE_MAX) {
			*errstr = "value too long";
			goto fail;
		}
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		if (keys_index(keys, name) < keys->keys_n) {
			*errstr = "duplicate key";
			goto fail;
		}
		if (keys->keys_n >= KEYS_MAX) {
			*errstr = "too many keys";
			goto fail;
		}
		if (keys_append(keys, p, nlen, eq + 1, vlen) == -1) {
			*errstr = "out of memory";
			goto fail;
		}
	}
	return (0);

 fail:
	keys_truncate(keys, start);
	return (-1);
}

int
keys_save(const struct keys *keys, char **data, size_t *len)
{
	size_t	 i, total = 0, nlen, vlen;
	char	*buf, *p;

	for (i = 0; i < keys->keys_n; i++)
		total += strlen(keys->keys_name[i]) +
		    strlen(keys->keys_value[i]) + 2;
	/* Never NULL, even for an empty list. */
	if ((buf = malloc(total > 0 ? total : 1)) == NULL)
		return (-1);
	p = buf;
	for (i = 0; i < keys->keys_n; i++) {
		nlen = strlen(keys->keys_name[i]);
		vlen = strlen(keys->keys_value[i]);
		memcpy(p, keys->keys_name[i], nlen);
		p += nlen;
		*p++ = '=';
		memcpy(p, keys->keys_value[i], vlen);
		p += vlen;
		*p++ = '\0';
	}
	*data = buf;
	*len = total;
	return (0);
}

/*
 * Add a pair at the end.  The same name may be added more than once
 * (a SendTargets answer repeats TargetName and TargetAddress).
 */
int
keys_add(struct keys *keys, const char *name, const char *value)
{
	size_t	 nlen, vlen;

	nlen = strlen(name);
	vlen = strlen(value);
	if (!name_ok(name, nlen) || vlen == 0 || vlen > KEY_VALUE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	return (keys_append(keys, name, nlen, value, vlen));
}

int
keys_add_uint(struct keys *keys, const char *name, unsigned long long v)
{
	char	 buf[21];

	return (keys_add(keys, name, fmt_uint(buf, v)));
}

const char *
keys_find(const struct keys *keys, const char *name)
{
	size_t	 i;

	if ((i = keys_index(keys, name)) == keys->keys_n)
		return (NULL);
	return (keys->keys_value[i]);
}

/* Remove every pair called name, keeping the order of the others. */
void
keys_delete(struct keys *keys, const char *name)
{
	char	 copy[KEY_NAME_MAX + 1];
	size_t	 i, j;

	/* name may be one of the strings freed below. */
	if ((i = strlen(name)) > KEY_NAME_MAX)
		return;
	memcpy(copy, name, i + 1);
	name = copy;
	for (i = j = 0; i < keys->keys_n; i++) {
		if (strcmp(keys->keys_name[i], name) == 0) {
			free(keys->keys_name[i]);
			continue;
		}
		keys->keys_name[j] = keys->keys_name[i];
		keys->keys_value[j] = keys->keys_value[i];
		j++;
	}
	for (i = j; i < keys->keys_n; i++) {
		keys->keys_name[i] = NULL;
		keys->keys_value[i] = NULL;
	}
	keys->keys_n = j;
}
