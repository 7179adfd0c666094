/*
 * acl.h: which initiators may reach which target, by initiator name and
 * by address or CIDR (IPv4 and IPv6), with IET's rule: a target's allow
 * rules are checked first, then its deny rules; an initiator that no
 * rule names is allowed.  The rules come from ietd.conf(5)
 * (InitiatorAllow, InitiatorDeny) and from IET's initiators.allow and
 * initiators.deny files, whose lines read
 *	<target name, regex or ALL> <entry>[, <entry>...]
 * with entries ALL, an address, an address/prefix, an iSCSI name, or a
 * regular expression over names.  No process knowledge: parse and match.
 */
#ifndef IETD_ACL_H
#define IETD_ACL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum acl_kind {
	ACL_ALL,		/* "ALL" */
	ACL_ADDR,		/* an address and a prefix length */
	ACL_NAME,		/* an iSCSI name, compared without case */
	ACL_REGEX,		/* an extended regex over the whole name */
};

struct acl_pat {
	enum acl_kind	 ap_kind;
	int		 ap_family;	/* ACL_ADDR: AF_INET or AF_INET6 */
	unsigned	 ap_prefix;	/* ACL_ADDR: bits that must match */
	uint8_t		 ap_addr[16];
	bool		 ap_re_ok;	/* ap_re compiled */
	regex_t		 ap_re;
	char		*ap_text;	/* as written, for messages */
};

struct acl_rule {
	TAILQ_ENTRY(acl_rule)	 ar_entry;
	bool			 ar_allow;
	struct acl_pat		 ar_target;	/* ALL, NAME or REGEX */
	struct acl_pat		*ar_pats;	/* initiators */
	size_t			 ar_npats;
	char			*ar_file;	/* where, for messages */
	int			 ar_line;
};
TAILQ_HEAD(acl_rules, acl_rule);

struct acl {
	struct acl_rules	 acl_rules;
};

struct acl	*acl_new(void);
void		 acl_free(struct acl *);
/*
 * Add a rule: target is a name, a regex or "ALL" (NULL: every target);
 * list holds the initiator entries, separated by commas and/or blanks.
 * 0, or -1 with what is wrong in why.
 */
int		 acl_add(struct acl *, bool allow, const char *target,
		    const char *list, const char *file, int line, char *why,
		    size_t whylen);
/*
 * Read an IET initiators.allow (allow) or initiators.deny file.  A
 * missing file holds no rules.  Returns the number of errors, each
 * logged as "file:line: message".
 */
int		 acl_load(struct acl *, const char *path, bool allow);
/*
 * May this initiator, from peer, reach target?  When why is given it
 * says which rule decided ("denied by file:line (entry)"), or is empty.
 */
bool		 acl_permits(const struct acl *, const char *target,
		    const char *initiator, const struct sockaddr *peer,
		    char *why, size_t whylen);
/* Does a rule's target pattern match this target name? */
bool		 acl_target_match(const struct acl_pat *, const char *target);

#endif
