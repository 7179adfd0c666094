/*
 * fuzz_acl.c: access control (src/acl.c): IET's initiators.allow and
 * initiators.deny files, then verdicts on initiators.  Input: parts
 * separated by 0xff: the allow file, the deny file (read by acl_load, as
 * io reads them next to ietd.conf), then queries.  A query is a family
 * byte (1 IPv4, 2 IPv6, else no address), 4 or 16 address bytes, then
 * "target\ninitiator".  Properties: a verdict is the same when asked
 * again, when the initiator name changes case (names compare without
 * case), and for an IPv4 peer seen as ::ffff:a.b.c.d; a refusal names
 * the rule that decided.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "fuzz.h"
#include "log.h"

#define SEP	0xff

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(1, 0);
	return (0);
}

/* Rules from a file holding the part, by its /proc/self/fd path. */
static void
load(struct acl *acl, const uint8_t *data, size_t len, bool allow)
{
	char	 path[64];
	int	 fd;

	if ((fd = memfd_create(allow ? "initiators.allow" :
	    "initiators.deny", MFD_CLOEXEC)) == -1)
		abort();
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	(void)acl_load(acl, path, allow);
	close(fd);
}

static bool
verdict(const struct acl *acl, const char *target, const char *initiator,
    const struct sockaddr *sa)
{
	char	 why[512];
	bool	 ok;

	ok = acl_permits(acl, target, initiator, sa, why, sizeof(why));
	FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL);
	FUZZ_ASSERT(ok || strncmp(why, "denied by ", 10) == 0);
	FUZZ_ASSERT(ok == acl_permits(acl, target, initiator, sa, NULL, 0));
	return (ok);
}

static void
query(const struct acl *acl, const uint8_t *q, size_t len)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr		*sa = NULL;
	char			*text, *initiator, *p;
	size_t			 alen = 0;
	bool			 ok;

	if (len < 1)
		return;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (q[0] == 1 && len >= 5) {
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, q + 1, 4);
		sa = (struct sockaddr *)&sin;
		alen = 4;
	} else if (q[0] == 2 && len >= 17) {
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, q + 1, 16);
		sa = (struct sockaddr *)&sin6;
		alen = 16;
	}
	q += 1 + alen;
	len -= 1 + alen;
	if ((text = strndup((const char *)q, len)) == NULL)
		abort();
	initiator = strchr(text, '\n');
	if (initiator != NULL)
		*initiator++ = '\0';
	else
		initiator = text + strlen(text);

	ok = verdict(acl, text, initiator, sa);
	if (alen == 4) {
		/* The same peer, IPv4-mapped. */
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr.s6_addr[10] = 0xff;
		sin6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6.sin6_addr.s6_addr[12], &sin.sin_addr, 4);
		FUZZ_ASSERT(verdict(acl, text, initiator,
		    (struct sockaddr *)&sin6) == ok);
	}
	for (p = initiator; *p != '\0'; p++)
		*p = isupper((unsigned char)*p) ? tolower((unsigned char)*p) :
		    toupper((unsigned char)*p);
	FUZZ_ASSERT(verdict(acl, text, initiator, sa) == ok);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acl	*acl;
	const uint8_t	*part;
	size_t		 len;

	if ((acl = acl_new()) == NULL)
		abort();
	if (fuzz_split(&data, &size, SEP, &part, &len))
		load(acl, part, len, true);
	if (fuzz_split(&data, &size, SEP, &part, &len))
		load(acl, part, len, false);
	while (fuzz_split(&data, &size, SEP, &part, &len))
		query(acl, part, len);
	acl_free(acl);
	return (0);
}
