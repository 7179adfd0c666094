/*
 * keys.h: iSCSI text key=value lists (RFC 7143 section 6): each pair is
 * "key=value" followed by NUL.  No PDU knowledge.  The input is never
 * parsed in place: keys_load copies.
 */
#ifndef IETD_KEYS_H
#define IETD_KEYS_H

#include <stddef.h>

#define KEYS_MAX	256		/* pairs in one list */
#define KEY_NAME_MAX	63		/* RFC 7143 6.1: key names <= 63 bytes */
#define KEY_VALUE_MAX	8192		/* value length (RFC 7143 6.1: 255 text, 8192 binary) */

/*
 * keys_name[i] is one allocation holding "name\0value\0"; keys_value[i]
 * points at its value.  The arrays grow with the list (up to KEYS_MAX),
 * so that a short list stays small: a worker builds several.
 */
struct keys {
	size_t	 keys_n;
	size_t	 keys_cap;
	char	**keys_name;
	char	**keys_value;
};

struct keys *keys_new(void);		/* NULL on ENOMEM */
void	 keys_free(struct keys *);
/*
 * Parse a data segment.  Returns 0, or -1 with *errstr set when the data
 * is malformed: a pair without '=', an empty or over-long name, an over-long value,
 * too many pairs, a duplicate key, or data not ending in NUL (a
 * trailing fragment without NUL is an error; callers handle C-bit
 * continuation by concatenating first).
 */
int	 keys_load(struct keys *, const char *data, size_t len,
	    const char **errstr);
/* Serialize: malloc'd buffer in *data, length in *len.  0 or -1. */
int	 keys_save(const struct keys *, char **data, size_t *len);
int	 keys_add(struct keys *, const char *name, const char *value);
int	 keys_add_uint(struct keys *, const char *name, unsigned long long);
const char *keys_find(const struct keys *, const char *name);
/* Remove a key if present (used once a key has been handled). */
void	 keys_delete(struct keys *, const char *name);

#endif
