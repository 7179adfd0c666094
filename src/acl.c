/*
 * acl.c: initiator access control (see acl.h).  IET's rule, as in its
 * initiators.allow(5): a target's allow rules first, then its deny
 * rules, and an initiator that no rule names is allowed.  Unlike IET,
 * every line whose target matches counts (not only the first), and a
 * malformed entry is an error instead of a silent non-match.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <bsd/vis.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl.h"
#include "log.h"

#define ACL_FILE_MAX	(1024 * 1024)
#define ACL_LINE_MAX	4096
#define ACL_ENTRY_MAX	1024		/* bytes of one entry */
#define ACL_RE_REP_MAX	8		/* '*', '+', '?' in one expression */
#define ACL_RE_PLUS_MAX	2		/* of which '+' */

/* A name with one of these is a regular expression. */
static const char acl_re_chars[] = "*?[]()|^$+{}\\";

struct acl *
acl_new(void)
{
	struct acl	*acl;

	if ((acl = calloc(1, sizeof(*acl))) == NULL)
		return (NULL);
	TAILQ_INIT(&acl->acl_rules);
	return (acl);
}

static void
acl_pat_free(struct acl_pat *ap)
{
	if (ap->ap_re_ok)
		regfree(&ap->ap_re);
	ap->ap_re_ok = false;
	free(ap->ap_text);
	ap->ap_text = NULL;
}

static void
acl_rule_free(struct acl_rule *ar)
{
	size_t	 i;

	for (i = 0; i < ar->ar_npats; i++)
		acl_pat_free(&ar->ar_pats[i]);
	acl_pat_free(&ar->ar_target);
	free(ar->ar_pats);
	free(ar->ar_file);
	free(ar);
}

void
acl_free(struct acl *acl)
{
	struct acl_rule	*ar;

	if (acl == NULL)
		return;
	while ((ar = TAILQ_FIRST(&acl->acl_rules)) != NULL) {
		TAILQ_REMOVE(&acl->acl_rules, ar, ar_entry);
		acl_rule_free(ar);
	}
	free(acl);
}

/*
 * Parsing.
 */

/*
 * An address: it begins with a digit or '[' (iSCSI names begin with
 * iqn., eui. or naa.), or it is hex digits, dots and colons with a colon
 * (an IPv6 address such as fe80::1), with an optional /prefix.
 */
static bool
acl_looks_addr(const char *s)
{
	if (*s == '[' || isdigit((unsigned char)*s))
		return (true);
	return (s[strspn(s, "0123456789abcdefABCDEF:./")] == '\0' &&
	    strchr(s, ':') != NULL);
}

/* Are the bits of addr past prefix all zero? */
static bool
acl_host_bits_clear(const uint8_t *addr, unsigned len, unsigned prefix)
{
	unsigned	 i;

	for (i = prefix; i < len * 8; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return (false);
	return (true);
}

/* ::ffff:a.b.c.d (with a prefix of at least 96) is the IPv4 a.b.c.d. */
static void
acl_unmap(int *family, uint8_t *addr, unsigned *prefix)
{
	static const uint8_t	 mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	if (*family != AF_INET6 || memcmp(addr, mapped, 12) != 0 ||
	    (prefix != NULL && *prefix < 96))
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
	if (prefix != NULL)
		*prefix -= 96;
}

static int
acl_addr_parse(const char *s, struct acl_pat *ap, char *why, size_t whylen)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *host = buf, *slash;
	const char	*errstr;
	unsigned	 max;
	bool		 bracket = false;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf)) {
		snprintf(why, whylen, "%s: not an address", s);
		return (-1);
	}
	if (buf[0] == '[') {
		bracket = true;
		host = buf + 1;
		if ((slash = strchr(host, ']')) == NULL ||
		    (slash[1] != '\0' && slash[1] != '/')) {
			snprintf(why, whylen, "%s: expected [IPv6 address] or "
			    "[IPv6 address]/prefix", s);
			return (-1);
		}
		*slash++ = '\0';
		slash = *slash == '/' ? slash + 1 : NULL;
	} else if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (!bracket && inet_pton(AF_INET, host, ap->ap_addr) == 1) {
		ap->ap_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, ap->ap_addr) == 1) {
		ap->ap_family = AF_INET6;
		max = 128;
	} else {
		snprintf(why, whylen, "%s: not an IPv4 or IPv6 address", s);
		return (-1);
	}
	ap->ap_prefix = max;
	if (slash != NULL) {
		ap->ap_prefix = strtonum(slash, 0, max, &errstr);
		if (errstr != NULL) {
			snprintf(why, whylen, "%s: prefix length %s is %s "
			    "(0-%u)", s, slash, errstr, max);
			return (-1);
		}
	}
	if (!acl_host_bits_clear(ap->ap_addr, max / 8, ap->ap_prefix)) {
		snprintf(why, whylen, "%s: address has bits set past its /%u "
		    "prefix", s, ap->ap_prefix);
		return (-1);
	}
	acl_unmap(&ap->ap_family, ap->ap_addr, &ap->ap_prefix);
	ap->ap_kind = ACL_ADDR;
	return (0);
}

/*
 * glibc's regcomp copies the operand of '+' and of an interval {m,n} m or
 * n times, and its closure computation grows fast with stacked or nested
 * repetitions: fuzz_acl found a 100-byte "a+++...+" that took gigabytes
 * and a "t***...*" that took minutes.  Name patterns need little: no
 * intervals, at most ACL_RE_REP_MAX repetition characters, of which
 * ACL_RE_PLUS_MAX '+' (the worst such expression compiles in
 * milliseconds).  Escaped or bracketed ones count too.
 */
static bool
acl_re_simple(const char *s)
{
	size_t	 rep = 0, plus = 0;

	for (; *s != '\0'; s++) {
		if (*s == '{')
			return (false);
		if (*s == '*' || *s == '+' || *s == '?')
			rep++;
		if (*s == '+')
			plus++;
	}
	return (rep <= ACL_RE_REP_MAX && plus <= ACL_RE_PLUS_MAX);
}

static int
acl_name_parse(const char *s, struct acl_pat *ap, char *why, size_t whylen)
{
	char	*re, err[128];
	int	 rv;

	if (strpbrk(s, acl_re_chars) == NULL) {
		ap->ap_kind = ACL_NAME;
		return (0);
	}
	if (!acl_re_simple(s)) {
		snprintf(why, whylen, "%s: regular expression too complex "
		    "(no {m,n}, at most %d of '*', '+', '?', %d '+')", s,
		    ACL_RE_REP_MAX, ACL_RE_PLUS_MAX);
		return (-1);
	}
	/* The expression must match the whole name. */
	if (asprintf(&re, "^(%s)$", s) == -1) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	rv = regcomp(&ap->ap_re, re, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	free(re);
	if (rv != 0) {
		regerror(rv, &ap->ap_re, err, sizeof(err));
		snprintf(why, whylen, "%s: bad regular expression: %s", s,
		    err);
		return (-1);
	}
	ap->ap_re_ok = true;
	ap->ap_kind = ACL_REGEX;
	return (0);
}

/* One entry: ALL, an address (initiators only), a name or a regex. */
static int
acl_pat_parse(const char *s, bool initiator, struct acl_pat *ap, char *why,
    size_t whylen)
{
	size_t	 i;
	int	 rv;

	memset(ap, 0, sizeof(*ap));
	if (strlen(s) > ACL_ENTRY_MAX) {
		snprintf(why, whylen, "entry is too long (at most %d bytes)",
		    ACL_ENTRY_MAX);
		return (-1);
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!isgraph((unsigned char)s[i])) {
			snprintf(why, whylen, "control character in %s", s);
			return (-1);
		}
	if (strcasecmp(s, "ALL") == 0) {
		ap->ap_kind = ACL_ALL;
		rv = 0;
	} else if (initiator && acl_looks_addr(s))
		rv = acl_addr_parse(s, ap, why, whylen);
	else
		rv = acl_name_parse(s, ap, why, whylen);
	if (rv == 0 && (ap->ap_text = strdup(s)) == NULL) {
		snprintf(why, whylen, "out of memory");
		rv = -1;
	}
	if (rv == -1)
		acl_pat_free(ap);
	return (rv);
}

/* Entries are separated by commas and/or blanks. */
static int
acl_list_parse(struct acl_rule *ar, const char *list, char *why,
    size_t whylen)
{
	struct acl_pat	*pats;
	char		*copy, *p, *tok;
	int		 rv = 0;

	if ((copy = strdup(list)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	for (p = copy; (tok = strsep(&p, ", \t")) != NULL;) {
		if (*tok == '\0')
			continue;
		pats = reallocarray(ar->ar_pats, ar->ar_npats + 1,
		    sizeof(*pats));
		if (pats == NULL) {
			snprintf(why, whylen, "out of memory");
			rv = -1;
			break;
		}
		ar->ar_pats = pats;
		if ((rv = acl_pat_parse(tok, true, &pats[ar->ar_npats], why,
		    whylen)) == -1)
			break;
		ar->ar_npats++;
	}
	free(copy);
	if (rv == 0 && ar->ar_npats == 0) {
		snprintf(why, whylen, "no initiator given");
		rv = -1;
	}
	return (rv);
}

int
acl_add(struct acl *acl, bool allow, const char *target, const char *list,
    const char *file, int line, char *why, size_t whylen)
{
	struct acl_rule	*ar;

	if ((ar = calloc(1, sizeof(*ar))) == NULL ||
	    (ar->ar_file = strdup(file)) == NULL) {
		free(ar);
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	ar->ar_allow = allow;
	ar->ar_line = line;
	if (acl_pat_parse(target != NULL ? target : "ALL", false,
	    &ar->ar_target, why, whylen) == -1 ||
	    acl_list_parse(ar, list, why, whylen) == -1) {
		acl_rule_free(ar);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&acl->acl_rules, ar, ar_entry);
	return (0);
}

/*
 * Files.
 */

static void
acl_err(const char *path, int line, const char *msg)
{
	char	 v[4 * 256 + 1];

	strnvis(v, msg, sizeof(v), VIS_OCTAL | VIS_CSTYLE | VIS_TAB | VIS_NL |
	    VIS_NOSLASH);
	log_warnx("%s:%d: %s", path, line, v);
}

/* One line of an IET file: "<target> <entries>"; a word "#..." ends it. */
static int
acl_load_line(struct acl *acl, const char *path, int lineno, char *s,
    bool allow)
{
	char	 why[256], *p, *target;

	for (p = s; *p != '\0'; p++)
		if (*p == '#' && (p == s || isblank((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	s += strspn(s, " \t");
	if (*s == '\0')
		return (0);
	target = s;
	s += strcspn(s, " \t");
	if (*s != '\0')
		*s++ = '\0';
	if (acl_add(acl, allow, target, s, path, lineno, why,
	    sizeof(why)) == -1) {
		acl_err(path, lineno, why);
		return (1);
	}
	return (0);
}

/* The whole file, NUL-terminated; NULL if missing (no error) or bad. */
static char *
acl_read(const char *path, size_t *lenp, int *errors)
{
	struct stat	 st;
	char		*buf = NULL;
	const char	*why = NULL;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, saved = 0;

	*errors = 1;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT) {
			log_warn("%s", path);
			return (NULL);
		}
		log_debug(1, "%s: not found, no rules from it", path);
		*errors = 0;
		return (NULL);
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		why = "fstat";
	}
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size > ACL_FILE_MAX)
		why = "file is too large";
	else if ((buf = malloc(st.st_size + 1)) == NULL)
		why = "out of memory";
	while (why == NULL && len < (size_t)st.st_size) {
		if ((n = read(fd, buf + len, st.st_size - len)) == -1 &&
		    errno != EINTR) {
			saved = errno;
			why = "read";
		}
		else if (n == 0)
			break;
		else if (n > 0)
			len += n;
	}
	close(fd);
	if (why != NULL) {
		log_warnx("%s: %s%s%s", path, why, saved ? ": " : "",
		    saved ? strerror(saved) : "");
		free(buf);
		return (NULL);
	}
	buf[len] = '\0';
	*lenp = len;
	*errors = 0;
	return (buf);
}

int
acl_load(struct acl *acl, const char *path, bool allow)
{
	char	*buf, *line, *next, *nl;
	size_t	 len, n;
	int	 errors, lineno = 0;

	if ((buf = acl_read(path, &len, &errors)) == NULL)
		return (errors);
	for (line = buf; line < buf + len; line = next) {
		lineno++;
		nl = memchr(line, '\n', buf + len - line);
		n = nl != NULL ? (size_t)(nl - line) :
		    (size_t)(buf + len - line);
		next = line + n + (nl != NULL);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			acl_err(path, lineno, "line contains a NUL byte");
			errors++;
		} else if (n > ACL_LINE_MAX) {
			acl_err(path, lineno, "line is too long");
			errors++;
		} else
			errors += acl_load_line(acl, path, lineno, line,
			    allow);
	}
	free(buf);
	log_debug(1, "%s: %d lines read", path, lineno);
	return (errors);
}

/*
 * Matching.
 */

static bool
acl_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	 n = bits / 8, r = bits % 8;

	if (memcmp(a, b, n) != 0)
		return (false);
	return (r == 0 || ((a[n] ^ b[n]) & (0xff << (8 - r)) & 0xff) == 0);
}

static bool
acl_name_match(const struct acl_pat *ap, const char *name)
{
	switch (ap->ap_kind) {
	case ACL_ALL:
		return (true);
	case ACL_NAME:
		return (strcasecmp(ap->ap_text, name) == 0);
	case ACL_REGEX:
		return (regexec(&ap->ap_re, name, 0, NULL, 0) == 0);
	default:
		return (false);
	}
}

bool
acl_target_match(const struct acl_pat *ap, const char *target)
{
	return (acl_name_match(ap, target));
}

static bool
acl_pat_match(const struct acl_pat *ap, const char *initiator, int family,
    const uint8_t *addr)
{
	if (ap->ap_kind != ACL_ADDR)
		return (acl_name_match(ap, initiator));
	return (family == ap->ap_family &&
	    acl_prefix_eq(ap->ap_addr, addr, ap->ap_prefix));
}

/* The peer as a family and 16 bytes; IPv4-mapped IPv6 as IPv4. */
static void
acl_peer(const struct sockaddr *sa, int *family, uint8_t *addr)
{
	memset(addr, 0, 16);
	*family = AF_UNSPEC;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		*family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
		*family = AF_INET6;
		acl_unmap(family, addr, NULL);
	}
}

static const struct acl_rule *
acl_find(const struct acl *acl, bool allow, const char *target,
    const char *initiator, int family, const uint8_t *addr, size_t *pat)
{
	const struct acl_rule	*ar;
	size_t			 i;

	TAILQ_FOREACH(ar, &acl->acl_rules, ar_entry) {
		if (ar->ar_allow != allow ||
		    !acl_target_match(&ar->ar_target, target))
			continue;
		for (i = 0; i < ar->ar_npats; i++)
			if (acl_pat_match(&ar->ar_pats[i], initiator, family,
			    addr)) {
				*pat = i;
				return (ar);
			}
	}
	return (NULL);
}

bool
acl_permits(const struct acl *acl, const char *target, const char *initiator,
    const struct sockaddr *peer, char *why, size_t whylen)
{
	const struct acl_rule	*ar = NULL;
	uint8_t			 addr[16];
	size_t			 i = 0;
	int			 family;
	bool			 allow = true;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (acl == NULL)
		return (true);
	acl_peer(peer, &family, addr);
	if ((ar = acl_find(acl, true, target, initiator, family, addr,
	    &i)) == NULL &&
	    (ar = acl_find(acl, false, target, initiator, family, addr,
	    &i)) != NULL)
		allow = false;
	if (ar != NULL && why != NULL)
		snprintf(why, whylen, "%s by %s:%d (%s)", allow ? "allowed" :
		    "denied", ar->ar_file, ar->ar_line,
		    ar->ar_pats[i].ap_text);
	return (allow);
}
