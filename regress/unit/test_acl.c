/*
 * test_acl: acl.c, the initiator access rules.  Entries (ALL, IPv4 and
 * IPv6 addresses and prefixes, names, regular expressions) and their
 * errors; matching of names and addresses, IPv4-mapped peers included;
 * IET's order (allow first, then deny, else allow); target patterns;
 * IET's initiators.allow/deny files with "file:line: message" errors;
 * and the ietd.conf keywords InitiatorAllow, InitiatorDeny and
 * CHAPAlgorithms.  The log goes to a temporary file read back for the messages.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "acl.h"
#include "chap.h"
#include "conf.h"
#include "log.h"

#include "check.h"

#define T1	"iqn.2026-11.org.ietd:t1"
#define T2	"iqn.2026-11.org.ietd:t2"
#define I1	"iqn.2026-11.org.ietd:good"
#define I2	"iqn.2026-11.org.ietd:bad"

static char	 tmpdir[] = "/tmp/test_acl.XXXXXX";
static char	 logbuf[16384];
static int	 capfd = -1;

static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		abort();
	return (ss);
}

/* One rule for every target in a fresh acl; NULL if it does not parse. */
static struct acl *
one(bool allow, const char *target, const char *list, char *why,
    size_t whylen)
{
	struct acl	*acl;

	if ((acl = acl_new()) == NULL)
		abort();
	if (acl_add(acl, allow, target, list, "t.conf", 7, why,
	    whylen) == -1) {
		acl_free(acl);
		return (NULL);
	}
	return (acl);
}

/* Does a deny rule with this list refuse initiator from peer? */
static bool
denies(const char *list, const char *initiator, const char *peer)
{
	struct sockaddr_storage	 ss = addr(peer);
	struct acl		*acl;
	char			 why[256];
	bool			 rv;

	if ((acl = one(false, NULL, list, why, sizeof(why))) == NULL) {
		printf("did not parse: %s: %s\n", list, why);
		return (false);
	}
	rv = !acl_permits(acl, T1, initiator, (struct sockaddr *)&ss, NULL,
	    0);
	acl_free(acl);
	return (rv);
}

/* Must fail to parse, saying expect. */
static bool
refused(const char *list, const char *expect)
{
	struct acl	*acl;
	char		 why[256];

	why[0] = '\0';
	if ((acl = one(true, NULL, list, why, sizeof(why))) != NULL) {
		acl_free(acl);
		printf("parsed: %s\n", list);
		return (false);
	}
	if (strstr(why, expect) == NULL) {
		printf("%s: \"%s\", expected \"%s\"\n", list, why, expect);
		return (false);
	}
	return (true);
}

static void
test_addresses(void)
{
	CHECK(denies("127.0.0.1", I1, "127.0.0.1"));
	CHECK(!denies("127.0.0.2", I1, "127.0.0.1"));
	CHECK(denies("10.0.0.0/8", I1, "10.200.3.4"));
	CHECK(!denies("10.0.0.0/8", I1, "11.0.0.1"));
	CHECK(denies("192.168.4.0/22", I1, "192.168.7.255"));
	CHECK(!denies("192.168.4.0/22", I1, "192.168.8.0"));
	CHECK(denies("0.0.0.0/0", I1, "203.0.113.9"));
	CHECK(!denies("0.0.0.0/0", I1, "::1"));
	CHECK(denies("[::1]", I1, "::1"));
	CHECK(denies("::1", I1, "::1"));
	CHECK(!denies("[::1]", I1, "::2"));
	CHECK(!denies("[::1]", I1, "127.0.0.1"));
	CHECK(denies("[2001:db8:1::]/48", I1, "2001:db8:1:ffff::7"));
	CHECK(!denies("[2001:db8:1::]/48", I1, "2001:db8:2::7"));
	CHECK(denies("2001:db8::/32", I1, "2001:db8:abcd::1"));
	CHECK(denies("[fe80::]/10", I1, "febf::1"));
	CHECK(!denies("[fe80::]/10", I1, "fec0::1"));
	CHECK(denies("[::]/0", I1, "2001:db8::1"));
	/* An IPv4-mapped peer is its IPv4 address, and the reverse. */
	CHECK(denies("10.1.2.3", I1, "::ffff:10.1.2.3"));
	CHECK(denies("10.1.0.0/16", I1, "::ffff:10.1.9.9"));
	CHECK(denies("[::ffff:10.1.0.0]/112", I1, "10.1.200.1"));
	CHECK(!denies("10.1.2.3", I1, "::10.1.2.3"));
	/* Names never match addresses, and the reverse. */
	CHECK(!denies("127.0.0.1", "127.0.0.1", "10.0.0.1"));
}

static void
test_names(void)
{
	CHECK(denies("ALL", I1, "10.0.0.1"));
	CHECK(denies("all", I1, "::1"));
	CHECK(denies(I1, I1, "10.0.0.1"));
	CHECK(denies("IQN.2026-11.ORG.IETD:GOOD", I1, "10.0.0.1"));
	CHECK(!denies(I1, I2, "10.0.0.1"));
	/* A dot in a plain name is a dot. */
	CHECK(!denies("iqn.2026-11.org.ietd:goo.", I1, "10.0.0.1"));
	CHECK(!denies("iqn.2026-11", I1, "10.0.0.1"));
	/* A regular expression matches the whole name. */
	CHECK(denies("iqn.2026-11.org.ietd:.*", I1, "10.0.0.1"));
	CHECK(denies("iqn.2026-11.org.ietd:(good|bad)", I2, "10.0.0.1"));
	CHECK(!denies("iqn.2026-11.org.ietd:(good|ugly)", I2, "10.0.0.1"));
	CHECK(!denies("ietd:.*", I1, "10.0.0.1"));
	CHECK(denies(".*ietd:.*", I1, "10.0.0.1"));
	CHECK(denies("IQN.*GOOD", I1, "10.0.0.1"));
	CHECK(denies("eui.02004567A425678D", "eui.02004567a425678d",
	    "10.0.0.1"));
	/* Any entry of the list. */
	CHECK(denies("10.9.9.9, " I2 ",[::1]", I2, "10.0.0.1"));
	CHECK(denies("10.9.9.9 " I2 ",[::1]", I1, "::1"));
	CHECK(!denies("10.9.9.9,, " I2 " ,[::1]", I1, "10.0.0.1"));
}

static void
test_errors(void)
{
	struct acl	*acl;
	char		 big[1100], why[256];

	CHECK(refused("1.2.3.4/33", "prefix length 33 is too large (0-32)"));
	CHECK(refused("[::1]/129", "prefix length 129 is too large"));
	CHECK(refused("1.2.3.4/x", "prefix length x is invalid"));
	CHECK(refused("10.0.0.1/8", "bits set past its /8 prefix"));
	CHECK(refused("[2001:db8::1]/32", "bits set past its /32 prefix"));
	CHECK(refused("1.2.3", "not an IPv4 or IPv6 address"));
	CHECK(refused("1.2.3.256", "not an IPv4 or IPv6 address"));
	CHECK(refused("[1.2.3.4]", "not an IPv4 or IPv6 address"));
	CHECK(refused("[::1", "expected [IPv6 address]"));
	CHECK(refused("[::1]x", "expected [IPv6 address]"));
	CHECK(refused("1:2:3:4:5:6:7:8:9", "not an IPv4 or IPv6 address"));
	CHECK(refused("iqn.x:(a", "bad regular expression"));
	/* fuzz_acl: regcomp took gigabytes or minutes on these. */
	CHECK(refused("iqn.x:a+++", "regular expression too complex"));
	CHECK(refused("t********* iqn.x", "too complex"));
	CHECK(refused("iqn.x:((a{255}){255}){255}", "too complex"));
	why[0] = '\0';
	CHECK((acl = one(true, NULL, "iqn.x:(a|b)+.*.+(c)?d*e*f*", why,
	    sizeof(why))) != NULL);
	acl_free(acl);
	CHECK(refused("", "no initiator given"));
	CHECK(refused(" ,, ", "no initiator given"));
	CHECK(refused("iqn.x:\001", "control character"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(refused(big, "entry is too long"));
}

static bool
permits(const struct acl *acl, const char *target, const char *initiator,
    const char *peer, const char *want_why)
{
	struct sockaddr_storage	 ss = addr(peer);
	char			 why[256];
	bool			 rv;

	rv = acl_permits(acl, target, initiator, (struct sockaddr *)&ss, why,
	    sizeof(why));
	if (want_why != NULL && strcmp(why, want_why) != 0)
		printf("why \"%s\", expected \"%s\"\n", why, want_why);
	return (rv && (want_why == NULL || strcmp(why, want_why) == 0));
}

static bool
permits_not(const struct acl *acl, const char *target,
    const char *initiator, const char *peer, const char *want_why)
{
	struct sockaddr_storage	 ss = addr(peer);
	char			 why[256];
	bool			 rv;

	rv = acl_permits(acl, target, initiator, (struct sockaddr *)&ss, why,
	    sizeof(why));
	if (strcmp(why, want_why) != 0)
		printf("why \"%s\", expected \"%s\"\n", why, want_why);
	return (!rv && strcmp(why, want_why) == 0);
}

static void
add(struct acl *acl, bool allow, const char *target, const char *list,
    int line)
{
	char	 why[256];

	if (acl_add(acl, allow, target, list, "t.conf", line, why,
	    sizeof(why)) == -1) {
		printf("acl_add %s: %s\n", list, why);
		CHECK(0);
	}
}

static void
test_order(void)
{
	struct acl	*acl;

	/* No rules: everyone, and no reason. */
	CHECK((acl = acl_new()) != NULL);
	CHECK(permits(acl, T1, I1, "10.0.0.1", ""));
	CHECK(acl_permits(NULL, T1, I1, NULL, NULL, 0));
	/* Deny ALL, then allow one name and one network. */
	add(acl, false, T1, "ALL", 3);
	add(acl, true, T1, I1 ", 192.168.1.0/24", 4);
	CHECK(permits(acl, T1, I1, "10.0.0.1", "allowed by t.conf:4 (" I1
	    ")"));
	CHECK(permits(acl, T1, I2, "192.168.1.77", "allowed by t.conf:4 "
	    "(192.168.1.0/24)"));
	CHECK(permits_not(acl, T1, I2, "10.0.0.1",
	    "denied by t.conf:3 (ALL)"));
	CHECK(permits_not(acl, T1, I2, "::1", "denied by t.conf:3 (ALL)"));
	/* Rules of another target do not apply. */
	CHECK(permits(acl, T2, I2, "10.0.0.1", ""));
	/* Allow wins over deny whatever their order. */
	add(acl, false, NULL, I1, 9);
	CHECK(permits(acl, T1, I1, "10.0.0.1", NULL));
	CHECK(permits_not(acl, T2, I1, "10.0.0.1",
	    "denied by t.conf:9 (" I1 ")"));
	acl_free(acl);

	/* Target patterns: a regex and ALL. */
	CHECK((acl = acl_new()) != NULL);
	add(acl, false, "iqn.2026-11.org.ietd:t[0-9]", "10.0.0.0/8", 1);
	add(acl, false, "ALL", "[::1]", 2);
	CHECK(!permits(acl, T1, I1, "10.0.0.1", NULL));
	CHECK(!permits(acl, T2, I1, "10.0.0.1", NULL));
	CHECK(permits(acl, "iqn.2026-11.org.ietd:t10", I1, "10.0.0.1", ""));
	CHECK(!permits(acl, "iqn.2026-11.org.ietd:t10", I1, "::1", NULL));
	CHECK(acl->acl_rules.tqh_first->ar_target.ap_kind == ACL_REGEX);
	acl_free(acl);
}

static void
capture_begin(void)
{
	fflush(stderr);
	if (ftruncate(capfd, 0) == -1 || lseek(capfd, 0, SEEK_SET) == -1)
		abort();
	logbuf[0] = '\0';
}

static void
capture_end(void)
{
	ssize_t	 n;

	fflush(stderr);
	n = pread(capfd, logbuf, sizeof(logbuf) - 1, 0);
	logbuf[n > 0 ? n : 0] = '\0';
}

static void
put(const char *path, const char *text, size_t len)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void
test_files(void)
{
	static const char good[] =
	    "# IET's initiators.allow\n"
	    "\n"
	    "   # indented comment\n"
	    T1 " 192.168.22.2, 192.168.3.0/24 # trailing comment\r\n"
	    "iqn.2026-11.org.ietd:t.* [2001:db8::]/64, " I1 "\n"
	    "ALL 10.0.0.1";
	static const char bad[] =
	    T1 " 1.2.3.4/33\n"
	    T1 "\n"
	    "ALL ok.name, (x\n"
	    "x \0 y\n"
	    T2 " 10.0.0.0/8\n";
	struct acl	*acl;
	char		 path[sizeof(tmpdir) + 32], want[256], *big;

	snprintf(path, sizeof(path), "%s/initiators.allow", tmpdir);
	CHECK((acl = acl_new()) != NULL);
	/* A missing file: no rules, no error. */
	capture_begin();
	CHECK(acl_load(acl, path, true) == 0);
	capture_end();
	CHECK(logbuf[0] == '\0');
	CHECK(TAILQ_EMPTY(&acl->acl_rules));

	put(path, good, sizeof(good) - 1);
	capture_begin();
	CHECK(acl_load(acl, path, true) == 0);
	capture_end();
	CHECK(logbuf[0] == '\0');
	if (logbuf[0] != '\0')
		printf("%s", logbuf);
	add(acl, false, NULL, "ALL", 1);
	CHECK(permits(acl, T1, I2, "192.168.3.9", NULL));
	CHECK(permits(acl, T2, I2, "2001:db8::5", NULL));
	CHECK(permits(acl, T2, I1, "127.0.0.1", NULL));
	CHECK(permits(acl, T2, I2, "10.0.0.1", NULL));
	snprintf(want, sizeof(want), "allowed by %s:4 (192.168.22.2)", path);
	CHECK(permits(acl, T1, I2, "192.168.22.2", want));
	CHECK(!permits(acl, T2, I2, "192.168.3.9", NULL));
	acl_free(acl);

	/* Every bad line is reported as file:line, the good ones kept. */
	put(path, bad, sizeof(bad) - 1);
	CHECK((acl = acl_new()) != NULL);
	capture_begin();
	CHECK(acl_load(acl, path, false) == 4);
	capture_end();
	snprintf(want, sizeof(want), "%s:1: 1.2.3.4/33: prefix length", path);
	CHECK(strstr(logbuf, want) != NULL);
	snprintf(want, sizeof(want), "%s:2: no initiator given", path);
	CHECK(strstr(logbuf, want) != NULL);
	snprintf(want, sizeof(want), "%s:3: (x: bad regular expression",
	    path);
	CHECK(strstr(logbuf, want) != NULL);
	snprintf(want, sizeof(want), "%s:4: line contains a NUL byte", path);
	CHECK(strstr(logbuf, want) != NULL);
	CHECK(!permits(acl, T2, I1, "10.1.1.1", NULL));
	acl_free(acl);

	/* Not a regular file. */
	CHECK((acl = acl_new()) != NULL);
	capture_begin();
	CHECK(acl_load(acl, tmpdir, true) == 1);
	capture_end();
	CHECK(strstr(logbuf, "not a regular file") != NULL);
	acl_free(acl);

	/* Over 1 MiB. */
	if ((big = calloc(1, 1024 * 1024 + 1)) == NULL)
		abort();
	memset(big, '#', 1024 * 1024 + 1);
	put(path, big, 1024 * 1024 + 1);
	free(big);
	CHECK((acl = acl_new()) != NULL);
	capture_begin();
	CHECK(acl_load(acl, path, true) == 1);
	capture_end();
	CHECK(strstr(logbuf, "initiators.allow: file is too large") != NULL);
	acl_free(acl);
	unlink(path);
}

/* The text must fail to parse, logging expect. */
static bool
conf_bad(const char *text, const char *expect)
{
	struct conf	*conf;

	capture_begin();
	conf = conf_parse_buf("t.conf", text, strlen(text));
	capture_end();
	if (conf != NULL) {
		conf_free(conf);
		printf("parsed: %s\n", text);
		return (false);
	}
	if (strstr(logbuf, expect) == NULL) {
		printf("expected \"%s\", log:\n%s", expect, logbuf);
		return (false);
	}
	return (true);
}

static void
test_conf(void)
{
	static const char text[] =
	    "InitiatorDeny ALL\n"
	    "CHAPAlgorithms SHA-256,md5\n"
	    "Target " T1 "\n"
	    "\tInitiatorAllow " I1 ", 10.0.0.0/8 [::1]\n"
	    "\tCHAPAlgorithms 8 7\n"
	    "\tLun 0 Path=/a\n"
	    "Target " T2 "\n"
	    "\tLun 0 Path=/b\n";
	struct conf	*conf;
	const int	*order;

	capture_begin();
	conf = conf_parse_buf("t.conf", text, sizeof(text) - 1);
	CHECK(conf != NULL && conf_verify(conf) == 0);
	capture_end();
	CHECK(logbuf[0] == '\0');
	if (logbuf[0] != '\0')
		printf("%s", logbuf);
	if (conf == NULL)
		return;
	CHECK(conf_chap_order(conf, 1, &order) == 2 &&
	    order[0] == CHAP_SHA3_256 && order[1] == CHAP_SHA256);
	CHECK(conf_chap_order(conf, 2, &order) == 2 &&
	    order[0] == CHAP_SHA256 && order[1] == CHAP_MD5);
	CHECK(conf_chap_order(conf, 0, &order) == 2 &&
	    order[0] == CHAP_SHA256);
	CHECK(permits(conf->conf_acl, T1, I1, "192.0.2.1",
	    "allowed by t.conf:4 (" I1 ")"));
	CHECK(permits(conf->conf_acl, T1, I2, "::1",
	    "allowed by t.conf:4 ([::1])"));
	CHECK(permits_not(conf->conf_acl, T1, I2, "192.0.2.1",
	    "denied by t.conf:1 (ALL)"));
	CHECK(permits_not(conf->conf_acl, T2, I1, "10.0.0.1",
	    "denied by t.conf:1 (ALL)"));
	conf_free(conf);

	/* Without CHAPAlgorithms: the default order (strongest first). */
	capture_begin();
	conf = conf_parse_buf("t.conf", "Target " T1 "\n", 8 + strlen(T1));
	capture_end();
	CHECK(conf != NULL && conf_chap_order(conf, 1, &order) == 0 &&
	    order == NULL);
	conf_free(conf);

	CHECK(conf_bad("InitiatorAllow 1.2.3.4/33\n", "t.conf:1: "
	    "InitiatorAllow: 1.2.3.4/33: prefix length 33 is too large"));
	CHECK(conf_bad("Target " T1 "\n\tInitiatorDeny iqn.x:(\n",
	    "t.conf:2: InitiatorDeny: iqn.x:(: bad regular expression"));
	CHECK(conf_bad("InitiatorDeny\n",
	    "t.conf:1: InitiatorDeny: missing argument"));
	CHECK(conf_bad("InitiatorDeny ,\n",
	    "t.conf:1: InitiatorDeny: no initiator given"));
	CHECK(conf_bad("CHAPAlgorithms SHA-512\n", "t.conf:1: "
	    "CHAPAlgorithms: unknown algorithm SHA-512 (expected SHA3-256, "
	    "SHA-256, SHA-1 or MD5)"));
	CHECK(conf_bad("CHAPAlgorithms 4\n",
	    "t.conf:1: CHAPAlgorithms: unknown algorithm 4"));
	CHECK(conf_bad("CHAPAlgorithms MD5, md5\n",
	    "t.conf:1: CHAPAlgorithms: MD5 given twice"));
	CHECK(conf_bad("Target " T1 "\nCHAPAlgorithms MD5\n"
	    "CHAPAlgorithms SHA-1\n", "t.conf:3: CHAPAlgorithms given twice"));
	CHECK(conf_bad("CHAPAlgorithms ,\n",
	    "t.conf:1: CHAPAlgorithms: no algorithm"));
}

int
main(void)
{
	char	 path[sizeof(tmpdir) + 16];
	int	 out;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (2);
	}
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	if ((capfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (out = dup(STDERR_FILENO)) == -1 ||
	    dup2(capfd, STDERR_FILENO) == -1) {
		perror("capture");
		return (2);
	}
	log_init(1, LOG_DAEMON);

	test_addresses();
	test_names();
	test_errors();
	test_order();
	test_files();
	test_conf();

	unlink(path);
	rmdir(tmpdir);
	dup2(out, STDERR_FILENO);
	printf("test_acl: %d checks, %d failed\n", checks, failures);
	return (failures == 0 ? 0 : 1);
}
