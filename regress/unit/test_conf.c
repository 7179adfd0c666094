/*
 * test_conf.c: ietd.conf(5) parser and checks.  Exits 0 when every check
 * passes; otherwise prints each failure and exits 1.  The log goes to
 * stderr, which is redirected to a temporary file so that the tests can
 * assert on the "file:line: message" of each error.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "param.h"

static int	 failures, checks;
static int	 capfd = -1;
static char	 logbuf[65536];
static char	 tmpdir[] = "/tmp/test_conf.XXXXXX";

static void
fail(int line, const char *fmt, ...)
{
	va_list	 ap;

	failures++;
	printf("FAIL test_conf.c:%d: ", line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (logbuf[0] != '\0')
		printf("  log was:\n%s", logbuf);
}

#define CHECK(c) do {							\
	checks++;							\
	if (!(c))							\
		fail(__LINE__, "%s", #c);				\
} while (0)

static void
capture_begin(void)
{
	fflush(stderr);
	if (ftruncate(capfd, 0) == -1 || lseek(capfd, 0, SEEK_SET) == -1) {
		perror("capture");
		exit(2);
	}
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

static bool
logged(const char *s)
{
	return (strstr(logbuf, s) != NULL);
}

static struct conf *
parse(const char *text)
{
	struct conf	*conf;

	capture_begin();
	conf = conf_parse_buf("t.conf", text, strlen(text));
	capture_end();
	return (conf);
}

/* The text must fail to parse, and the log must contain `expect'. */
static void
bad(int line, const char *text, const char *expect)
{
	struct conf	*conf;

	checks++;
	if ((conf = parse(text)) != NULL) {
		fail(line, "parsed, expected \"%s\"", expect);
		conf_free(conf);
	} else if (!logged(expect))
		fail(line, "expected \"%s\" in the log", expect);
}

/* The text must parse, and conf_verify must fail logging `expect'. */
static void
unverified(int line, const char *text, const char *expect)
{
	struct conf	*conf;
	int		 rv;

	checks++;
	if ((conf = parse(text)) == NULL) {
		fail(line, "did not parse");
		return;
	}
	capture_begin();
	rv = conf_verify(conf);
	capture_end();
	if (rv != -1)
		fail(line, "verified, expected \"%s\"", expect);
	else if (!logged(expect))
		fail(line, "expected \"%s\" in the log", expect);
	conf_free(conf);
}

/* The text must parse and verify, logging nothing but `expect'. */
static struct conf *
good(int line, const char *text, const char *expect)
{
	struct conf	*conf;
	int		 rv;

	checks++;
	if ((conf = parse(text)) == NULL) {
		fail(line, "did not parse");
		return (NULL);
	}
	if (expect == NULL && logbuf[0] != '\0')
		fail(line, "parse logged something");
	if (expect != NULL && !logged(expect))
		fail(line, "expected \"%s\" in the log", expect);
	rv = conf_verify(conf);		/* the log goes on */
	capture_end();
	if (rv != 0) {
		fail(line, "did not verify");
		conf_free(conf);
		return (NULL);
	}
	return (conf);
}

static void
test_good(void)
{
	struct conf		*conf;
	struct conf_target	*ct;
	struct conf_lun		*cl;
	struct conf_user	*cu;
	uint32_t		 defs[P__COUNT];

	param_conf_defaults(defs);
	conf = good(__LINE__,
	    "# global part\n"
	    "\n"
	    "IncomingUser disc discsecret12345\n"
	    "OutgoingUser discout discoutsecret1\n"
	    "Target iqn.2001-04.com.example:storage.disk1\n"
	    "\tAlias   First disk  \n"
	    "\tLun 0 Path=/srv/lun0.img,Type=fileio,IOMode=wb,"
	    "BlockSize=4096,ScsiId=abcdefghijklmnopqrstuvwx,"
	    "ScsiSN=0123456789abcdef\n"
	    "    lun 3 type=NullIO,sectors=1000\n"
	    "\tLun 7 Path=/dev/sdb, Type=blockio \\\n"
	    "\t    IOMode=ro\n"
	    "\tIncomingUser joe joesecret12345\n"
	    "\tIncomingUser jim jimsecret12345\n"
	    "\tOutgoingUser tgt tgtsecret12345\n"
	    "\tmaxburstlength 131072\n"
	    "\tFirstBurstLength 65536\n"
	    "\tImmediateData No\n"
	    "\tDataDigest none\n"
	    "\t# indented comment\n"
	    "Target eui.0123456789ABCDEF\r\n"
	    "\tLun 1 Path=/srv/lun1.img\r\n"
	    "Target naa.0123456789abcdef0123456789abcdef\n"
	    "\tLun 0 Path=/srv/x,Type=fileio   # trailing comment\n"
	    "Target iqn.2024-12.org.example\n"
	    "\tLun 0 Sectors=1,Type=nullio\n",
	    "t.conf:19: warning: target name eui.0123456789ABCDEF folded");
	if (conf == NULL)
		return;
	CHECK(conf->conf_ntargets == 4);
	CHECK(strcmp(conf->conf_path, "t.conf") == 0);
	cu = TAILQ_FIRST(&conf->conf_in_users);
	CHECK(cu != NULL && strcmp(cu->cu_name, "disc") == 0 &&
	    strcmp(cu->cu_secret, "discsecret12345") == 0 && cu->cu_line == 3);
	cu = TAILQ_FIRST(&conf->conf_out_users);
	CHECK(cu != NULL && strcmp(cu->cu_name, "discout") == 0);

	ct = conf_target_find(conf, "iqn.2001-04.com.example:storage.disk1");
	CHECK(ct != NULL);
	if (ct == NULL)
		goto out;
	CHECK(ct->ct_tid == 1 && ct->ct_line == 5);
	CHECK(ct->ct_alias != NULL && strcmp(ct->ct_alias, "First disk") == 0);
	CHECK(ct->ct_params[P_MAX_BURST] == 131072);
	CHECK(ct->ct_params[P_FIRST_BURST] == 65536);
	CHECK(ct->ct_params[P_IMMEDIATE_DATA] == 0);
	CHECK(ct->ct_params[P_MAX_RECV_DSL] == defs[P_MAX_RECV_DSL]);
	CHECK(ct->ct_params[P_HEADER_DIGEST] == defs[P_HEADER_DIGEST]);
	CHECK(ct->ct_params[P_DATA_DIGEST] == PARAM_DIGEST_NONE);
	cu = TAILQ_FIRST(&ct->ct_in_users);
	CHECK(cu != NULL && strcmp(cu->cu_name, "joe") == 0);
	CHECK(cu != NULL && TAILQ_NEXT(cu, cu_entry) != NULL &&
	    strcmp(TAILQ_NEXT(cu, cu_entry)->cu_name, "jim") == 0);
	cu = TAILQ_FIRST(&ct->ct_out_users);
	CHECK(cu != NULL && strcmp(cu->cu_secret, "tgtsecret12345") == 0);

	cl = TAILQ_FIRST(&ct->ct_luns);
	CHECK(cl != NULL);
	if (cl == NULL)
		goto out;
	CHECK(cl->cl_id == 0 && cl->cl_type == LUN_FILEIO &&
	    cl->cl_iomode == IOMODE_WB && cl->cl_blocksize == 4096 &&
	    cl->cl_line == 7);
	CHECK(strcmp(cl->cl_path, "/srv/lun0.img") == 0);
	CHECK(strcmp(cl->cl_scsi_id, "abcdefghijklmnopqrstuvwx") == 0);
	CHECK(strcmp(cl->cl_scsi_sn, "0123456789abcdef") == 0);
	cl = TAILQ_NEXT(cl, cl_entry);
	CHECK(cl != NULL && cl->cl_id == 3 && cl->cl_type == LUN_NULLIO &&
	    cl->cl_path == NULL && cl->cl_sectors == 1000 &&
	    cl->cl_blocksize == 512 && cl->cl_iomode == IOMODE_WB &&
	    cl->cl_scsi_id[0] == '\0');
	if (cl == NULL)
		goto out;
	cl = TAILQ_NEXT(cl, cl_entry);
	CHECK(cl != NULL && cl->cl_id == 7 && cl->cl_type == LUN_BLOCKIO &&
	    cl->cl_iomode == IOMODE_RO && cl->cl_line == 9 &&
	    strcmp(cl->cl_path, "/dev/sdb") == 0);

	ct = conf_target_find(conf, "EUI.0123456789abcdef");
	CHECK(ct != NULL && ct->ct_tid == 2 && ct->ct_alias == NULL &&
	    strcmp(ct->ct_name, "eui.0123456789abcdef") == 0);
	CHECK(ct != NULL && memcmp(ct->ct_params, defs, sizeof(defs)) == 0);
	cl = ct != NULL ? TAILQ_FIRST(&ct->ct_luns) : NULL;
	CHECK(cl != NULL && cl->cl_type == LUN_FILEIO &&
	    strcmp(cl->cl_path, "/srv/lun1.img") == 0);
	ct = conf_target_find_tid(conf, 4);
	CHECK(ct != NULL &&
	    strcmp(ct->ct_name, "iqn.2024-12.org.example") == 0);
	CHECK(conf_target_find_tid(conf, 5) == NULL);
	CHECK(conf_target_find(conf, "iqn.2024-12.org.nothere") == NULL);

	conf_scrub_secrets(conf);
	cu = TAILQ_FIRST(&conf->conf_in_users);
	CHECK(cu->cu_secret[0] == '\0' && cu->cu_secret[1] == '\0');
	ct = conf_target_find_tid(conf, 1);
	cu = TAILQ_FIRST(&ct->ct_out_users);
	CHECK(cu->cu_secret[0] == '\0' && strcmp(cu->cu_name, "tgt") == 0);
out:
	conf_free(conf);

	/* Empty files, comments only, and IET keywords that are ignored. */
	conf = good(__LINE__, "", NULL);
	CHECK(conf != NULL && conf->conf_ntargets == 0);
	conf_free(conf);
	conf = good(__LINE__, "# nothing\n\n   \n\t# more\n", NULL);
	conf_free(conf);
	conf = good(__LINE__, "iSNSServer 10.0.0.1\n"
	    "Target iqn.2001-04.com.example:a\n"
	    "Wthreads 5\nType 0\nLun 0 Path=/a\n",
	    "t.conf:1: warning: iSNSServer is not supported");
	/* Wthreads is honoured: the pool is the largest of any target. */
	CHECK(conf != NULL && !logged("Wthreads") &&
	    conf_io_threads(conf) == 5);
	conf_free(conf);
	conf = good(__LINE__, "Target iqn.2001-04.com.example:a\n"
	    "Lun 0 Path=/a\n", NULL);
	CHECK(conf != NULL && conf_io_threads(conf) == CONF_WTHREADS_DEFAULT);
	conf_free(conf);
	/* IOThreads: global, once, 1 to CONF_REACTORS_MAX; else the CPUs. */
	conf = good(__LINE__, "IOThreads 5\nTarget iqn.2001-04.com.example:a\n"
	    "Lun 0 Path=/a\n", NULL);
	CHECK(conf != NULL && conf_reactors(conf) == 5);
	conf_free(conf);
	conf = good(__LINE__, "Target iqn.2001-04.com.example:a\n"
	    "Lun 0 Path=/a\n", NULL);
	CHECK(conf != NULL && conf_reactors(conf) >= 1 &&
	    conf_reactors(conf) <= CONF_REACTORS_MAX);
	conf_free(conf);
	bad(__LINE__, "IOThreads 0\n", "t.conf:1: IOThreads 0");
	bad(__LINE__, "IOThreads 65\n", "t.conf:1: IOThreads 65");
	bad(__LINE__, "IOThreads 2\nIOThreads 2\n",
	    "t.conf:2: IOThreads given twice");
	bad(__LINE__, "Target iqn.2001-04.com.example:a\nIOThreads 2\n",
	    "t.conf:2: IOThreads");
	conf = good(__LINE__, "Target iqn.2001-04.com.example:a\n"
	    "IncomingUser joe short\nLun 0 Path=/a\n",
	    "t.conf:2: warning: IncomingUser joe: secret is shorter");
	conf_free(conf);
	/* Last line without newline, ending in a backslash. */
	conf = good(__LINE__, "Target iqn.2001-04.com.example:a\n"
	    "Lun 0 Path=/a,\\", NULL);
	CHECK(conf != NULL &&
	    TAILQ_FIRST(&TAILQ_FIRST(&conf->conf_targets)->ct_luns) != NULL);
	conf_free(conf);
	/* A target without LUNs is allowed, with a warning. */
	conf = good(__LINE__, "Target iqn.2001-04.com.example:a\n", NULL);
	CHECK(conf != NULL && logged("t.conf:1: warning: target "
	    "iqn.2001-04.com.example:a has no LUNs"));
	conf_free(conf);
}

#define T	"Target iqn.2001-04.com.example:t\n"

static const struct {
	int		 line;
	const char	*text;
	const char	*expect;
} bad_cases[] = {
	{ __LINE__, "Foo bar\n", "t.conf:1: unknown keyword Foo" },
	{ __LINE__, T "\n\nFoo\n", "t.conf:4: unknown keyword Foo" },
	{ __LINE__, "Lun 0 Path=/a\n",
	    "t.conf:1: Lun is only valid inside a Target block" },
	{ __LINE__, "Alias x\n",
	    "t.conf:1: Alias is only valid inside a Target block" },
	{ __LINE__, "MaxBurstLength 65536\n",
	    "t.conf:1: MaxBurstLength is only valid inside a Target block" },
	{ __LINE__, T "iSNSServer 1.2.3.4\n",
	    "t.conf:2: iSNSServer is only valid before the first Target" },
	{ __LINE__, "Target\n", "t.conf:1: Target: missing argument" },
	{ __LINE__, "Target a b\n", "t.conf:1: Target: too many arguments" },
	{ __LINE__, "Target foo.bar\n",
	    "t.conf:1: foo.bar: target name must begin with iqn." },
	{ __LINE__, "Target iqn.2001-04.com.exa_mple\n",
	    "t.conf:1: iqn.2001-04.com.exa_mple: invalid character '_'" },
	{ __LINE__, "Target iqn.2001-04.com.ex\xc3\xa9\n",
	    "invalid character 0xc3" },
	{ __LINE__, "Target iqn.01-04.com.example\n",
	    "t.conf:1: iqn.01-04.com.example: iqn. name needs a date" },
	{ __LINE__, "Target iqn.2001-13.com.example\n",
	    "iqn. name needs a date" },
	{ __LINE__, "Target iqn.2001-04.\n",
	    "iqn. name needs a naming authority" },
	{ __LINE__, "Target iqn.2001-04.:x\n",
	    "iqn. name needs a naming authority" },
	{ __LINE__, "Target eui.0123\n",
	    "t.conf:1: eui.0123: eui. name needs exactly 16 hex digits" },
	{ __LINE__, "Target eui.0123456789abcdefg\n",
	    "eui. name needs exactly 16 hex digits" },
	{ __LINE__, "Target naa.0123456789abcdef01\n",
	    "naa. name needs 16 or 32 hex digits" },
	/* Errors in a broken target's block are still reported. */
	{ __LINE__, "Target bad\nLun x Path=/a\n",
	    "t.conf:2: Lun x: LUN number is invalid" },
	{ __LINE__, T "Lun 16384 Path=/a\n",
	    "t.conf:2: Lun 16384: LUN number is too large (0-16383)" },
	{ __LINE__, T "Lun -1 Path=/a\n", "LUN number is too small" },
	{ __LINE__, T "Lun 0\n", "t.conf:2: Lun: missing argument" },
	{ __LINE__, T "Lun 0 Path=/a,Type=tape\n",
	    "t.conf:2: Lun 0: Type tape: expected fileio, blockio or nullio" },
	{ __LINE__, T "Lun 0 Path=/a,IOMode=rw\n",
	    "t.conf:2: Lun 0: IOMode rw: expected wb, wt or ro" },
	{ __LINE__, T "Lun 0 Path=/a,BlockSize=1024\n",
	    "t.conf:2: Lun 0: BlockSize 1024: expected 512 or 4096" },
	{ __LINE__, T "Lun 0 Path=/a,ScsiId=abcdefghijklmnopqrstuvwxy\n",
	    "t.conf:2: Lun 0: ScsiId is too long (at most 24 characters)" },
	{ __LINE__, T "Lun 0 Path=/a,ScsiSN=0123456789abcdefg\n",
	    "t.conf:2: Lun 0: ScsiSN is too long (at most 16 characters)" },
	{ __LINE__, T "Lun 0 Path=/a,Sectors=100\n",
	    "t.conf:2: Lun 0: Sectors is only valid with Type=nullio" },
	{ __LINE__, T "Lun 0 Type=nullio,Sectors=0\n",
	    "t.conf:2: Lun 0: Sectors 0 is too small" },
	{ __LINE__, T "Lun 0 Type=nullio,Sectors=99999999999999999999\n",
	    "Sectors 99999999999999999999 is too large" },
	{ __LINE__, T "Lun 0 Path=/a,Path=/b\n",
	    "t.conf:2: Lun 0: Path given twice" },
	{ __LINE__, T "Lun 0 Path=/a,Colour=red\n",
	    "t.conf:2: Lun 0: unknown parameter Colour" },
	{ __LINE__, T "Lun 0 Path=/a,Type\n",
	    "t.conf:2: Lun 0: Type: expected <parameter>=<value>" },
	{ __LINE__, T "Lun 0 Path=,Type=fileio\n",
	    "t.conf:2: Lun 0: Path: empty value" },
	{ __LINE__, T "Lun 0 Path=relative/a\n",
	    "t.conf:2: Lun 0: Path relative/a: not an absolute path" },
	{ __LINE__, T "IncomingUser joe\n",
	    "t.conf:2: IncomingUser: missing argument" },
	{ __LINE__, "IncomingUser\n",
	    "t.conf:1: IncomingUser: missing argument" },
	{ __LINE__, "IncomingUser joe #secret\n",
	    "t.conf:1: IncomingUser: missing argument" },
	{ __LINE__, T "IncomingUser joe secret123456 extra\n",
	    "t.conf:2: IncomingUser: too many arguments" },
	{ __LINE__, T "OutgoingUser a secret123456\n"
	    "OutgoingUser b secret123456\n",
	    "t.conf:3: OutgoingUser: only one allowed per target "
	    "(already given at line 2)" },
	{ __LINE__, "OutgoingUser a secret123456\n"
	    "OutgoingUser b secret123456\n",
	    "t.conf:2: OutgoingUser: only one allowed per discovery" },
	{ __LINE__, T "Alias one\nAlias two\n",
	    "t.conf:3: Alias given twice" },
	{ __LINE__, T "Alias\n", "t.conf:2: Alias: missing argument" },
	{ __LINE__, T "Type 1\n",
	    "t.conf:2: Type 1: only Type 0 (disk) is supported" },
	{ __LINE__, T "MaxBurstLength\n",
	    "t.conf:2: MaxBurstLength: missing value" },
	{ __LINE__, T "MaxBurstLength 1 2\n",
	    "t.conf:2: MaxBurstLength: too many arguments" },
	{ __LINE__, T "MaxBurstLength lots\n",
	    "t.conf:2: MaxBurstLength lots: " },
	{ __LINE__, T "MaxBurstLength 4294967296\n",
	    "t.conf:2: MaxBurstLength 4294967296: " },
	{ __LINE__, T "InitialR2T Maybe\n", "t.conf:2: InitialR2T Maybe: " },
	{ __LINE__, T "HeaderDigest MD5\n", "t.conf:2: HeaderDigest MD5: " },
	{ __LINE__, T "IFMarker Yes\n", "t.conf:2: IFMarker Yes: " },
	/* Control characters are escaped in the log. */
	{ __LINE__, T "Fo\033[2Jo\n", "t.conf:2: unknown keyword Fo\\033[2Jo" },
	{ __LINE__, T "Lun 0 Type=tap\xc3\xa9\n", "Type tap\\303\\251: " },
	{ __LINE__, T "HeaderDigest CRC32C, None\n",
	    "t.conf:2: HeaderDigest: too many arguments" },
	{ __LINE__, T "MaxBurstLength=65536\n",
	    "t.conf:2: unknown keyword MaxBurstLength=65536" },
	{ __LINE__, T "Lun 0 Path=/a\x01,Type=fileio\nLun 1 Path=/b\n"
	    "Lun 2 Path=/c,ScsiSN=a\x01\n",
	    "t.conf:4: Lun 2: ScsiSN contains a control character" },
	{ __LINE__, T "Lun 0 Path=/a\nFoo\nBar\n",
	    "t.conf:4: unknown keyword Bar" },	/* goes on after errors */
	{ __LINE__, T "Lun 0 Path=/a\nFoo\nBar\n",
	    "t.conf:3: unknown keyword Foo" },
	{ __LINE__, T "Lun 0 Path=/a \\\n,Type=tape\n",
	    "t.conf:2: Lun 0: Type tape" },	/* first line of the pair */
	{ __LINE__, T "a a a a a a a a a a a a a a a a a a a a a a a a a a "
	    "a a a a a a a a a\n", "t.conf:2: too many words (at most 32)" },
};

static void
test_bad(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		bad(bad_cases[i].line, bad_cases[i].text, bad_cases[i].expect);
}

/* Parse `text', whose length is given, expecting NULL. */
static void
bad_len(int line, const char *text, size_t len)
{
	struct conf	*conf;

	capture_begin();
	conf = conf_parse_buf("t.conf", text, len);
	capture_end();
	checks++;
	if (conf != NULL) {
		fail(line, "parsed, expected an error");
		conf_free(conf);
	}
}

static void
test_lines(void)
{
	char	 buf[2 * 4096 + 256];
	char	 name[256];
	size_t	 len;

	/* A NUL byte is an error, and parsing goes on. */
	bad_len(__LINE__, T "Alias a\0b\nFoo\n",
	    sizeof(T "Alias a\0b\nFoo\n") - 1);
	CHECK(logged("t.conf:2: line contains a NUL byte"));
	CHECK(logged("t.conf:3: unknown keyword Foo"));

	/* 4096 bytes is fine, 4097 an error; neither is truncated. */
	len = snprintf(buf, sizeof(buf), "%s%4093sFoo\nBar\n", T, "");
	bad_len(__LINE__, buf, len);
	CHECK(logged("t.conf:2: unknown keyword Foo"));
	CHECK(logged("t.conf:3: unknown keyword Bar"));
	CHECK(!logged("too long"));
	len = snprintf(buf, sizeof(buf), "%s%4094sFoo\nBar\n", T, "");
	bad_len(__LINE__, buf, len);
	CHECK(logged("t.conf:2: line is too long (more than 4096 bytes)"));
	CHECK(!logged("unknown keyword Foo"));
	CHECK(logged("t.conf:3: unknown keyword Bar"));

	/* Continued lines add up: the total is limited too. */
	len = snprintf(buf, sizeof(buf), "%sAlias %3000s\\\n%2000sx\nFoo\n",
	    T, "", "");
	bad_len(__LINE__, buf, len);
	CHECK(logged("t.conf:2: line is too long"));
	CHECK(logged("t.conf:4: unknown keyword Foo"));
	CHECK(!logged("Alias"));

	/* Target names: at most 223 bytes. */
	len = snprintf(name, sizeof(name), "iqn.2001-04.com.example:%199s",
	    "");
	memset(name + 24, 'a', 199);
	CHECK(len == 223);
	snprintf(buf, sizeof(buf), "Target %s\nLun 0 Path=/a\n", name);
	conf_free(good(__LINE__, buf, NULL));
	snprintf(buf, sizeof(buf), "Target %sa\nLun 0 Path=/a\n", name);
	bad(__LINE__, buf, "t.conf:1: iqn.2001-04.com.example:aaaa");
	CHECK(logged(": target name is too long (224 bytes, at most 223)"));
}

static void
test_verify(void)
{
	unverified(__LINE__, T "Lun 0 Path=/a\n" T "Lun 0 Path=/b\n",
	    "t.conf:3: target iqn.2001-04.com.example:t already configured "
	    "at line 1");
	unverified(__LINE__, T "Lun 0 Path=/a\n"
	    "Target IQN.2001-04.com.example:T\nLun 0 Path=/b\n",
	    "t.conf:3: target iqn.2001-04.com.example:t already configured");
	unverified(__LINE__, "Target iqn.2001-04.com.example:a\n"
	    T "Lun 1 Path=/a\nLun 2 Path=/b\nLun 1 Path=/c\n",
	    "t.conf:5: lun 2:1 already configured");
	unverified(__LINE__, T "Lun 0 Type=fileio\n",
	    "t.conf:2: Lun 0: Path missing (needed with Type=fileio)");
	unverified(__LINE__, T "Lun 0 Type=blockio,IOMode=ro\n",
	    "t.conf:2: Lun 0: Path missing (needed with Type=blockio)");
	unverified(__LINE__, T "Lun 0 Type=nullio,Path=/a\n",
	    "t.conf:2: Lun 0: Path is not valid with Type=nullio");
	unverified(__LINE__, T "Lun 0 Path=/a\n"
	    "MaxBurstLength 65536\nFirstBurstLength 131072\n",
	    "t.conf:1: target iqn.2001-04.com.example:t: FirstBurstLength "
	    "131072 exceeds MaxBurstLength 65536");
	unverified(__LINE__, T "Lun 0 Path=/a\n"
	    "IncomingUser joe secret123456\nIncomingUser joe secret654321\n",
	    "t.conf:4: IncomingUser joe already configured at line 3");
}

static void
test_empty_secret(void)
{
	struct conf		*conf;
	struct conf_user	*cu;
	int			 rv;

	/* A secret emptied after parsing (conf_scrub_secrets) fails. */
	conf = parse(T "Lun 0 Path=/a\nIncomingUser joe secret123456\n");
	CHECK(conf != NULL);
	if (conf == NULL)
		return;
	cu = TAILQ_FIRST(&TAILQ_FIRST(&conf->conf_targets)->ct_in_users);
	cu->cu_secret[0] = '\0';
	capture_begin();
	rv = conf_verify(conf);
	capture_end();
	CHECK(rv == -1);
	CHECK(logged("t.conf:3: IncomingUser: empty user name or secret"));
	conf_free(conf);
}

static void
test_files(void)
{
	struct conf	*conf;
	char		 path[sizeof(tmpdir) + 32];
	int		 fd;
	const char	*text =
	    T "Lun 0 Path=/a\nIncomingUser joe secret123456\n";

	/* Not a regular file. */
	capture_begin();
	conf = conf_parse(tmpdir);
	capture_end();
	CHECK(conf == NULL);
	CHECK(logged(": not a regular file"));

	capture_begin();
	conf = conf_parse("/dev/null");
	capture_end();
	CHECK(conf == NULL && logged("/dev/null: not a regular file"));

	/* Missing. */
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	capture_begin();
	conf = conf_parse(path);
	capture_end();
	CHECK(conf == NULL && logged("missing.conf: No such file"));

	/* Mode 0600: silent. */
	snprintf(path, sizeof(path), "%s/ietd.conf", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(2);
	close(fd);
	if (chmod(path, 0600) == -1)
		exit(2);
	capture_begin();
	conf = conf_parse(path);
	capture_end();
	CHECK(conf != NULL && logbuf[0] == '\0');
	CHECK(conf != NULL && strcmp(conf->conf_path, path) == 0);
	conf_free(conf);

	/* Mode 0644: parsed, with a warning. */
	if (chmod(path, 0644) == -1)
		exit(2);
	capture_begin();
	conf = conf_parse(path);
	capture_end();
	CHECK(conf != NULL && logged("readable by group or others"));
	conf_free(conf);

	/* Errors name the file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd == -1 || write(fd, "\nFoo\n", 5) != 5)
		exit(2);
	close(fd);
	if (chmod(path, 0600) == -1)
		exit(2);
	capture_begin();
	conf = conf_parse(path);
	capture_end();
	CHECK(conf == NULL);
	snprintf(logbuf + sizeof(logbuf) / 2, sizeof(logbuf) / 2,
	    "%s:2: unknown keyword Foo", path);
	CHECK(logged(logbuf + sizeof(logbuf) / 2));
	unlink(path);
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

	test_good();
	test_bad();
	test_lines();
	test_verify();
	test_empty_secret();
	test_files();

	unlink(path);
	rmdir(tmpdir);
	dup2(out, STDERR_FILENO);
	printf("test_conf: %d checks, %d failed\n", checks, failures);
	return (failures == 0 ? 0 : 1);
}
