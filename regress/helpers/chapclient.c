/*
 * chapclient: log in to an iSCSI target with CHAP computed here (OpenSSL
 * EVP), for the algorithms libiscsi does not speak (6 SHA-1, 7 SHA-256,
 * 8 SHA3-256) and for the attacks it would not try; then log out.
 *
 * usage: chapclient [-dnr] [-a algs] [-u user -s secret]
 *	  [-m tuser -M tsecret] [-t target] [-w seconds] host port
 *
 *	-a algs		the CHAP_A list offered (default 7)
 *	-d		a discovery session (else a normal one to -t)
 *	-n		offer AuthMethod=None and go straight on
 *	-m, -M		mutual CHAP: the target must answer as tuser/tsecret
 *	-r		mutual, but send the target's own challenge back
 *	-w		read timeout (default 10)
 *
 * Output, one line per step:
 *	chap_a=<n>		the algorithm the target chose
 *	challenge=<hex> response=<hex>	what went over the wire
 *	mutual=ok|bad		whether the target's CHAP_R is right
 *	status=0x<cccc>		the first failing Login status
 *	login=ok		the full feature phase was reached
 *	logout=ok
 * Exit status: 0 logged in and out, 1 refused or a protocol error, 2 a
 * usage or local error.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pdukit.h"

#define INITIATOR	"iqn.2026-11.org.ietd:chapclient"
#define DATA_MAX	8192
#define KEYS_MAX	64

struct rsp {
	uint8_t	 bhs[48];
	char	 data[DATA_MAX + 1];
	size_t	 len;
};

static int	 sock;
static int	 timeout_ms = 10000;
static uint8_t	 isid[6] = { 0x80, 0x00, 0x00, 0x12, 0x34, 0x00 };
static uint16_t	 tsih;
static uint32_t	 expstatsn;

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: chapclient [-dnr] [-a algs] [-u user -s "
	    "secret] [-m tuser -M tsecret] [-t target] [-w seconds] "
	    "host port\n");
	exit(2);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
}

static void
xread(void *buf, size_t len)
{
	int	 r;

	if ((r = pk_read_ms(sock, buf, len, timeout_ms)) == PK_TIMEOUT)
		errx(1, "timeout");
	if (r == PK_CLOSED && errno != 0)
		err(1, "read");
	if (r == PK_CLOSED) {
		printf("closed\n");
		exit(1);
	}
}

/* Send one PDU: bhs (48 bytes, DSL filled here) and text data. */
static void
send_pdu(uint8_t *bhs, const char *data, size_t len)
{
	bhs[5] = len >> 16;
	bhs[6] = len >> 8;
	bhs[7] = len;
	if (pk_send_pdu(sock, bhs, data, len) == -1)
		err(1, "write");
}

static void
recv_pdu(struct rsp *r)
{
	uint8_t	 pad[4];
	size_t	 len;

	xread(r->bhs, 48);
	if (r->bhs[4] != 0)
		errx(1, "AHS in a response");
	len = (size_t)r->bhs[5] << 16 | r->bhs[6] << 8 | r->bhs[7];
	if (len > DATA_MAX)
		errx(1, "response data of %zu bytes", len);
	xread(r->data, len);
	if (len % 4)
		xread(pad, 4 - len % 4);
	r->data[len] = '\0';
	r->len = len;
	expstatsn = get32(r->bhs + 24) + 1;
}

static const char *
key(const struct rsp *r, const char *name)
{
	size_t	 i, n = strlen(name);

	for (i = 0; i < r->len; i += strlen(r->data + i) + 1)
		if (strncmp(r->data + i, name, n) == 0 &&
		    r->data[i + n] == '=')
			return (r->data + i + n + 1);
	return (NULL);
}

/* Append "k=v\0" to buf[*len]. */
static void
add(char *buf, size_t *len, const char *k, const char *v)
{
	int	 n;

	n = snprintf(buf + *len, DATA_MAX - *len, "%s=%s", k, v);
	if (n < 0 || (size_t)n >= DATA_MAX - *len)
		errx(2, "request too long");
	*len += n + 1;
}

/* One Login Request/Response; exits on a failing status. */
static void
login_step(int csg, int nsg, int transit, const char *data, size_t len,
    struct rsp *r)
{
	uint8_t	 bhs[48];
	int	 status;

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = 0x43;
	bhs[1] = (transit ? 0x80 : 0) | csg << 2 | nsg;
	memcpy(bhs + 8, isid, 6);
	bhs[14] = tsih >> 8;
	bhs[15] = tsih;
	put32(bhs + 16, 1);		/* ITT */
	put32(bhs + 24, 1);		/* CmdSN */
	put32(bhs + 28, expstatsn);
	send_pdu(bhs, data, len);
	recv_pdu(r);
	if (r->bhs[0] != 0x23)
		errx(1, "opcode %#x in answer to a Login Request", r->bhs[0]);
	status = r->bhs[36] << 8 | r->bhs[37];
	if (status != 0) {
		printf("status=0x%04x\n", status);
		exit(1);
	}
	tsih = r->bhs[14] << 8 | r->bhs[15];
}

static const EVP_MD *
md(int alg)
{
	switch (alg) {
	case 5:
		return (EVP_md5());
	case 6:
		return (EVP_sha1());
	case 7:
		return (EVP_sha256());
	case 8:
		return (EVP_sha3_256());
	}
	return (NULL);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* "0x" + an even count of hex digits; returns the length. */
static size_t
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t	 n, i;

	if (s == NULL || (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')))
		errx(1, "not a hex value: %s", s ? s : "(none)");
	s += 2;
	n = strlen(s);
	if (n == 0 || n % 2 || n / 2 > max)
		errx(1, "bad hex length %zu", n);
	for (i = 0; i < n / 2; i++) {
		if (hexval(s[2 * i]) == -1 || hexval(s[2 * i + 1]) == -1)
			errx(1, "bad hex digit");
		out[i] = hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]);
	}
	return (n / 2);
}

static void
tohex(const uint8_t *in, size_t len, char *out)
{
	size_t	 i;

	strcpy(out, "0x");
	for (i = 0; i < len; i++)
		sprintf(out + 2 + 2 * i, "%02x", in[i]);
}

static size_t
digest(int alg, uint8_t id, const char *secret, const uint8_t *c,
    size_t clen, uint8_t *out)
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, md(alg), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &id, 1) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 ||
	    EVP_DigestUpdate(ctx, c, clen) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1)
		errx(2, "digest failed");
	EVP_MD_CTX_free(ctx);
	return (len);
}

static void
connect_to(const char *host, const char *port)
{
	int	 gai;

	if ((sock = pk_dial(host, port, PK_NODELAY, &gai)) == -1 && gai != 0)
		errx(2, "bad address %s", host);
	if (sock == -1)
		err(2, "connect");
}

static void
logout(void)
{
	struct rsp	 r;
	uint8_t		 bhs[48];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = 0x46;
	bhs[1] = 0x80;
	put32(bhs + 16, 2);
	put32(bhs + 24, 1);
	put32(bhs + 28, expstatsn);
	send_pdu(bhs, NULL, 0);
	recv_pdu(&r);
	if (r.bhs[0] != 0x26 || r.bhs[2] != 0)
		errx(1, "logout answered with opcode %#x response %u",
		    r.bhs[0], r.bhs[2]);
	printf("logout=ok\n");
}

int
main(int argc, char *argv[])
{
	struct rsp	 r;
	const char	*algs = "7", *user = NULL, *secret = NULL;
	const char	*tuser = NULL, *tsecret = NULL, *target = NULL, *v;
	char		 buf[DATA_MAX], hex[2 * 1024 + 3];
	uint8_t		 chal[1024], resp[EVP_MAX_MD_SIZE], mychal[32];
	uint8_t		 want[EVP_MAX_MD_SIZE], myid;
	size_t		 len, clen, rlen;
	int		 ch, discovery = 0, none = 0, reflect = 0, alg, id;

	while ((ch = getopt(argc, argv, "a:dnrm:M:s:t:u:w:")) != -1) {
		switch (ch) {
		case 'a': algs = optarg; break;
		case 'd': discovery = 1; break;
		case 'n': none = 1; break;
		case 'r': reflect = 1; break;
		case 'm': tuser = optarg; break;
		case 'M': tsecret = optarg; break;
		case 's': secret = optarg; break;
		case 't': target = optarg; break;
		case 'u': user = optarg; break;
		case 'w': timeout_ms = atoi(optarg) * 1000; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || (!none && (user == NULL || secret == NULL)) ||
	    ((tuser == NULL) != (tsecret == NULL)) ||
	    (reflect && tuser == NULL) || (!discovery && target == NULL))
		usage();
	isid[5] = getpid();
	connect_to(argv[0], argv[1]);

	len = 0;
	add(buf, &len, "InitiatorName", INITIATOR);
	add(buf, &len, "SessionType", discovery ? "Discovery" : "Normal");
	if (!discovery)
		add(buf, &len, "TargetName", target);
	add(buf, &len, "AuthMethod", none ? "None" : "CHAP");
	login_step(0, 1, none, buf, len, &r);
	if (!none) {
		if ((v = key(&r, "AuthMethod")) == NULL ||
		    strcmp(v, "CHAP") != 0)
			errx(1, "AuthMethod=%s", v ? v : "(none)");
		len = 0;
		add(buf, &len, "CHAP_A", algs);
		login_step(0, 1, 0, buf, len, &r);
		if ((v = key(&r, "CHAP_A")) == NULL ||
		    (alg = atoi(v)) < 5 || alg > 8)
			errx(1, "CHAP_A=%s", v ? v : "(none)");
		printf("chap_a=%d\n", alg);
		if ((v = key(&r, "CHAP_I")) == NULL ||
		    (id = atoi(v)) < 0 || id > 255)
			errx(1, "CHAP_I=%s", v ? v : "(none)");
		clen = unhex(key(&r, "CHAP_C"), chal, sizeof(chal));
		rlen = digest(alg, id, secret, chal, clen, resp);
		len = 0;
		add(buf, &len, "CHAP_N", user);
		tohex(chal, clen, hex);
		printf("challenge=%s ", hex);
		tohex(resp, rlen, hex);
		printf("response=%s\n", hex);
		add(buf, &len, "CHAP_R", hex);
		if (tuser != NULL) {
			if (reflect) {
				/* Send the target's own id and challenge. */
				myid = id;
				memcpy(mychal, chal, clen < sizeof(mychal) ?
				    clen : sizeof(mychal));
				clen = clen < sizeof(mychal) ? clen :
				    sizeof(mychal);
			} else {
				clen = sizeof(mychal);
				if (RAND_bytes(&myid, 1) != 1 ||
				    RAND_bytes(mychal, clen) != 1)
					errx(2, "RAND_bytes");
			}
			snprintf(hex, sizeof(hex), "%u", myid);
			add(buf, &len, "CHAP_I", hex);
			tohex(mychal, clen, hex);
			add(buf, &len, "CHAP_C", hex);
		}
		login_step(0, 1, 1, buf, len, &r);
		if (tuser != NULL) {
			v = key(&r, "CHAP_N");
			rlen = digest(alg, myid, tsecret, mychal, clen, want);
			if (v == NULL || strcmp(v, tuser) != 0 ||
			    key(&r, "CHAP_R") == NULL ||
			    unhex(key(&r, "CHAP_R"), resp, sizeof(resp)) !=
			    rlen || memcmp(resp, want, rlen) != 0) {
				printf("mutual=bad\n");
				exit(1);
			}
			printf("mutual=ok\n");
		}
	}
	len = 0;
	add(buf, &len, "HeaderDigest", "None");
	add(buf, &len, "DataDigest", "None");
	add(buf, &len, "MaxRecvDataSegmentLength", "8192");
	login_step(1, 3, 1, buf, len, &r);
	if ((r.bhs[1] & 0x83) != 0x83)
		errx(1, "final Login Response without T and NSG 3");
	printf("login=ok\n");
	logout();
	return (0);
}
