/*
 * test_scsi.c: backing stores (lun.c) and SCSI command execution
 * (scsi.c), driven directly through scsi_exec.  Exits 0 when every check
 * passes; otherwise prints each failure and exits 1.
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "priv/lun.h"
#include "priv/scsi.h"

#define TNAME		"iqn.2026-11.org.ietd:test"
#define NBLOCKS0	2048		/* LUN 0: 1 MiB of 512-byte blocks */
#define BIGBLOCKS	0x100000005ULL	/* LUN 3: past READ CAPACITY(10) */

static int	 failures, checks;
static char	 tmpdir[] = "/tmp/test_scsi.XXXXXX";
static char	 path0[256], path1[256], pathsmall[256];
static struct lun_table *tab;
static struct lun_target *tgt;
static uint8_t	 buf[1 << 20];

#define CHECK(c)	check((c), __LINE__, #c)

static void
check(bool ok, int line, const char *what)
{
	checks++;
	if (ok)
		return;
	failures++;
	printf("FAIL test_scsi.c:%d: %s\n", line, what);
}

/* Run one CDB against LUN id (NULL LUN if not configured). */
static struct scsi_cmd
run(uint64_t lunid, const uint8_t *cdb16, uint8_t *data, uint32_t len)
{
	struct scsi_cmd	 c;

	memset(&c, 0xa5, sizeof(c));	/* outputs must all be set */
	c.sc_nexus = NULL;	/* no I_T nexus: no UA, no reservations */
	c.sc_target = tgt;
	c.sc_lun = lun_find(tgt, lunid);
	c.sc_lun_id = lunid;
	c.sc_cdb = cdb16;
	c.sc_buf = data;
	c.sc_buf_len = len;
	c.sc_ref_ok = false;
	c.sc_piped = false;
	c.sc_done = NULL;	/* cannot wait: scsi_exec finishes */
	scsi_exec(&c);
	return (c);
}

static bool
is_good(const struct scsi_cmd *c)
{
	return (c->sc_status == SCSI_STATUS_GOOD && c->sc_sense_len == 0);
}

static bool
is_sense(const struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	return (c->sc_status == SCSI_STATUS_CHECK_CONDITION &&
	    c->sc_sense_len == 18 && (c->sc_sense[0] & 0x7f) == 0x70 &&
	    c->sc_sense[7] == 10 && (c->sc_sense[2] & 0x0f) == key &&
	    c->sc_sense[12] == asc && c->sc_sense[13] == ascq &&
	    c->sc_xfer_len == 0);
}

#define ILLEGAL(c, asc)	is_sense((c), SKEY_ILLEGAL_REQUEST, (asc), 0)

static struct conf_lun *
add_lun(struct conf_target *ct, uint32_t id, enum lun_type type,
    enum lun_iomode mode, const char *path, uint64_t sectors, int line)
{
	struct conf_lun	*cl;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		exit(2);
	cl->cl_id = id;
	cl->cl_type = type;
	cl->cl_iomode = mode;
	cl->cl_path = path != NULL ? strdup(path) : NULL;
	cl->cl_blocksize = 512;
	cl->cl_sectors = sectors;
	cl->cl_line = line;
	TAILQ_INSERT_TAIL(&ct->ct_luns, cl, cl_entry);
	return (cl);
}

static struct conf *
conf_new(struct conf_target **ctp)
{
	struct conf		*conf;
	struct conf_target	*ct;

	conf = calloc(1, sizeof(*conf));
	ct = calloc(1, sizeof(*ct));
	if (conf == NULL || ct == NULL)
		exit(2);
	conf->conf_path = strdup("test.conf");
	TAILQ_INIT(&conf->conf_targets);
	TAILQ_INIT(&conf->conf_in_users);
	TAILQ_INIT(&conf->conf_out_users);
	ct->ct_tid = 1;
	ct->ct_name = strdup(TNAME);
	TAILQ_INIT(&ct->ct_luns);
	TAILQ_INIT(&ct->ct_in_users);
	TAILQ_INIT(&ct->ct_out_users);
	TAILQ_INSERT_TAIL(&conf->conf_targets, ct, ct_entry);
	conf->conf_ntargets = 1;
	*ctp = ct;
	return (conf);
}

static void
conf_del(struct conf *conf)
{
	struct conf_target	*ct;
	struct conf_lun		*cl;

	while ((ct = TAILQ_FIRST(&conf->conf_targets)) != NULL) {
		TAILQ_REMOVE(&conf->conf_targets, ct, ct_entry);
		while ((cl = TAILQ_FIRST(&ct->ct_luns)) != NULL) {
			TAILQ_REMOVE(&ct->ct_luns, cl, cl_entry);
			free(cl->cl_path);
			free(cl);
		}
		free(ct->ct_name);
		free(ct);
	}
	free(conf->conf_path);
	free(conf);
}

static void
mkfile(const char *path, off_t size)
{
	int	fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    ftruncate(fd, size) == -1) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* The main table: LUNs given out of order to test sorting. */
static struct conf *
setup(void)
{
	struct conf		*conf;
	struct conf_target	*ct;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(path0, sizeof(path0), "%s/lun0.img", tmpdir);
	snprintf(path1, sizeof(path1), "%s/lun1.img", tmpdir);
	snprintf(pathsmall, sizeof(pathsmall), "%s/small.img", tmpdir);
	mkfile(path0, NBLOCKS0 * 512 + 100);	/* partial block ignored */
	mkfile(path1, 64 * 1024);
	mkfile(pathsmall, 100);

	conf = conf_new(&ct);
	add_lun(ct, 300, LUN_NULLIO, IOMODE_WB, NULL, 1000, 10);
	add_lun(ct, 0, LUN_FILEIO, IOMODE_WB, path0, 0, 11);
	add_lun(ct, 1, LUN_FILEIO, IOMODE_RO, path1, 0, 12);
	add_lun(ct, 2, LUN_NULLIO, IOMODE_WB, NULL, 0, 13);
	add_lun(ct, 3, LUN_NULLIO, IOMODE_WB, NULL, BIGBLOCKS, 14);
	add_lun(ct, 4, LUN_BLOCKIO, IOMODE_WT, path0, 0, 15);
	return (conf);
}

static void
test_lun_table(struct conf *conf)
{
	struct conf		*bad;
	struct conf_target	*ct;
	struct lun_table	*t2;
	struct lun		*l0, *l1, *l2, *l3, *l4, *l300;

	CHECK(tab != NULL);
	CHECK(tab->lt_ntargets == 1);
	CHECK(lun_target_find(tab, 2) == NULL);
	CHECK(tgt != NULL && tgt->lt_tid == 1 && tgt->lt_nluns == 6);
	CHECK(strcmp(tgt->lt_name, TNAME) == 0);
	CHECK(tgt->lt_luns[0]->lun_id == 0 && tgt->lt_luns[5]->lun_id == 300);
	CHECK(lun_find(tgt, 5) == NULL && lun_find(tgt, 1ULL << 40) == NULL);
	l0 = lun_find(tgt, 0);
	l1 = lun_find(tgt, 1);
	l2 = lun_find(tgt, 2);
	l3 = lun_find(tgt, 3);
	l4 = lun_find(tgt, 4);
	l300 = lun_find(tgt, 300);
	CHECK(l0 && l1 && l2 && l3 && l4 && l300);
	if (!(l0 && l1 && l2 && l3 && l4 && l300))
		return;
	CHECK(l0->lun_nblocks == NBLOCKS0 && l0->lun_blocksize == 512);
	CHECK(l0->lun_fd >= 0 && !l0->lun_blockdev && !l0->lun_readonly);
	CHECK(strcmp(l0->lun_path, path0) == 0);
	CHECK(l1->lun_readonly && l1->lun_nblocks == 128);
	CHECK(l2->lun_fd == -1 && l2->lun_path[0] == '\0');
	CHECK(l2->lun_nblocks == (64ULL << 30) / 512);
	CHECK(l3->lun_nblocks == BIGBLOCKS && l300->lun_nblocks == 1000);
	CHECK(l4->lun_wt && l4->lun_type == LUN_BLOCKIO);
	CHECK(strcmp(l0->lun_scsi_sn, "00010000") == 0);
	CHECK(strcmp(l300->lun_scsi_sn, "0001012c") == 0);
	CHECK(strlen(l0->lun_scsi_id) > 0 &&
	    strcmp(l0->lun_scsi_id, l1->lun_scsi_id) != 0);
	CHECK((l0->lun_naa[0] >> 4) == 3 && (l300->lun_naa[0] >> 4) == 3);
	CHECK(memcmp(l0->lun_naa, l1->lun_naa, 8) != 0);

	/* Stable across a second open of the same configuration. */
	t2 = lun_table_open(conf);
	CHECK(t2 != NULL);
	if (t2 != NULL) {
		CHECK(memcmp(t2->lt_targets[0].lt_luns[0]->lun_naa,
		    l0->lun_naa, 8) == 0);
		CHECK(strcmp(t2->lt_targets[0].lt_luns[0]->lun_scsi_id,
		    l0->lun_scsi_id) == 0);
		lun_table_free(t2);
	}

	/* Configured ScsiSN/ScsiId win over the derived ones. */
	bad = conf_new(&ct);
	strlcpy(add_lun(ct, 0, LUN_NULLIO, IOMODE_WB, NULL, 8, 1)->cl_scsi_sn,
	    "SN123", SCSI_SN_MAX + 1);
	t2 = lun_table_open(bad);
	CHECK(t2 != NULL &&
	    strcmp(t2->lt_targets[0].lt_luns[0]->lun_scsi_sn, "SN123") == 0);
	lun_table_free(t2);
	conf_del(bad);

	/* Failures: missing file, smaller than a block, a directory. */
	fprintf(stderr, "test_scsi: four lun errors expected:\n");
	bad = conf_new(&ct);
	add_lun(ct, 0, LUN_NULLIO, IOMODE_WB, NULL, 0, 1);
	add_lun(ct, 1, LUN_FILEIO, IOMODE_WB, "/nonexistent/x", 0, 2);
	CHECK(lun_table_open(bad) == NULL);
	conf_del(bad);
	bad = conf_new(&ct);
	add_lun(ct, 0, LUN_FILEIO, IOMODE_WB, pathsmall, 0, 3);
	CHECK(lun_table_open(bad) == NULL);
	conf_del(bad);
	bad = conf_new(&ct);
	add_lun(ct, 0, LUN_FILEIO, IOMODE_RO, tmpdir, 0, 4);
	CHECK(lun_table_open(bad) == NULL);
	conf_del(bad);
	bad = conf_new(&ct);
	add_lun(ct, 0, LUN_NULLIO, IOMODE_WB, NULL, UINT64_MAX / 256, 5);
	CHECK(lun_table_open(bad) == NULL);
	conf_del(bad);
}

static void
test_inquiry(void)
{
	uint8_t		 cdb[16], *p, *end;
	struct scsi_cmd	 c;
	struct lun	*l0 = lun_find(tgt, 0);
	bool		 naa = false, t10 = false, rtp = false, tpg = false;
	bool		 name = false;
	int		 i;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x12;
	cdb[4] = 255;
	memset(buf, 0xee, 512);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len >= 36 && c.sc_want_len <= 255);
	CHECK(c.sc_xfer_len == c.sc_want_len);
	CHECK(buf[0] == 0x00 && buf[1] == 0 && buf[2] == 0x06);
	CHECK((buf[3] & 0x0f) == 2 && (buf[3] & 0x10));	/* RDF, HISUP */
	CHECK(buf[4] + 5U == c.sc_want_len);
	CHECK(buf[7] & 0x02);					/* CMDQUE */
	CHECK(memcmp(buf + 8, "IET     VIRTUAL-DISK    0001", 28) == 0);
	CHECK(buf[c.sc_want_len] == 0xee);		/* nothing beyond */

	/* Allocation length and buffer length both clip. */
	cdb[4] = 5;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 5 && c.sc_xfer_len == 5);
	cdb[3] = 0x02;
	cdb[4] = 0x00;
	c = run(0, cdb, buf, 36);
	CHECK(is_good(&c) && c.sc_want_len > 36 && c.sc_xfer_len == 36);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c) && c.sc_xfer_len == 0);
	cdb[3] = 0;
	cdb[4] = 0;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 0 && c.sc_xfer_len == 0);

	/* EVPD 0 with a page code, CMDDT, NACA. */
	cdb[4] = 255;
	cdb[2] = 0x80;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24) && (c.sc_sense[15] & 0xc0) == 0xc0 &&
	    c.sc_sense[17] == 2);
	cdb[2] = 0;
	cdb[1] = 0x02;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[1] = 0;
	cdb[5] = 0x04;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[5] = 0;

	/* Supported pages: sorted, with 00, 80, 83. */
	cdb[1] = 0x01;
	cdb[2] = 0x00;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[1] == 0x00 && buf[3] >= 3);
	CHECK(buf[4] == 0x00 && buf[5] == 0x80 && buf[6] == 0x83);
	for (i = 5; i < 4 + buf[3]; i++)
		CHECK(buf[i] > buf[i - 1]);
	CHECK(c.sc_want_len == 4U + buf[3]);

	cdb[2] = 0x80;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[1] == 0x80 && buf[3] == 8 &&
	    memcmp(buf + 4, "00010000", 8) == 0);

	cdb[2] = 0x83;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[1] == 0x83);
	CHECK(c.sc_want_len == 4U + (buf[2] << 8 | buf[3]));
	p = buf + 4;
	end = buf + c.sc_want_len;
	while (p + 4 <= end && p + 4 + p[3] <= end) {
		switch (p[1] & 0x3f) {
		case 0x01:		/* LU, T10 vendor ID */
			t10 = memcmp(p + 4, "IET     ", 8) == 0 &&
			    p[3] == 8 + strlen(l0->lun_scsi_id);
			break;
		case 0x03:		/* LU, NAA */
			naa = p[3] == 8 && (p[4] >> 4) == 3 &&
			    memcmp(p + 4, l0->lun_naa, 8) == 0;
			break;
		case 0x14:		/* target port, relative port */
			rtp = p[3] == 4 && p[7] == 1 && (p[0] >> 4) == 5;
			break;
		case 0x15:		/* target port group */
			tpg = p[3] == 4 && p[7] == 1;
			break;
		case 0x28:		/* target device, SCSI name */
			name = p[3] % 4 == 0 &&
			    strcmp((char *)p + 4, TNAME) == 0;
			break;
		}
		p += 4 + p[3];
	}
	CHECK(p == end);
	CHECK(t10 && naa && rtp && tpg && name);

	cdb[2] = 0xb0;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[3] == 0x3c && c.sc_want_len == 64);
	CHECK(get_be32(buf + 8) == SCSI_MAX_XFER / 512);
	cdb[2] = 0xb1;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[1] == 0xb1 && c.sc_want_len == 64);
	cdb[2] = 0x99;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));

	/* LUN that is not configured. */
	cdb[1] = 0;
	cdb[2] = 0;
	c = run(7, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[0] == 0x7f);
}

static void
test_report_luns(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa0;
	put_be32(cdb + 6, 4096);
	memset(buf, 0xee, 256);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 8 + 6 * 8);
	CHECK(get_be32(buf) == 6 * 8 && get_be32(buf + 4) == 0);
	CHECK(buf[8] == 0 && buf[9] == 0 && buf[17] == 1 && buf[41] == 4);
	CHECK(buf[48] == 0x41 && buf[49] == 0x2c);	/* 300, flat */
	CHECK(get_be32(buf + 50) == 0 && buf[56] == 0xee);

	/* Works for a LUN that is not configured. */
	c = run(99, cdb, buf, 4096);
	CHECK(is_good(&c) && get_be32(buf) == 48);

	/* Clipped by allocation length, then by the buffer. */
	put_be32(cdb + 6, 16);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 16 && c.sc_xfer_len == 16 &&
	    get_be32(buf) == 48);
	put_be32(cdb + 6, 4096);
	c = run(0, cdb, buf, 12);
	CHECK(is_good(&c) && c.sc_want_len == 56 && c.sc_xfer_len == 12);

	cdb[2] = 1;			/* well known only: none */
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && get_be32(buf) == 0 && c.sc_want_len == 8);
	cdb[2] = 2;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && get_be32(buf) == 48);
	cdb[2] = 3;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[2] = 0;
	put_be32(cdb + 6, 15);
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
}

static void
test_read_capacity(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x25;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 8 && c.sc_xfer_len == 8);
	CHECK(get_be32(buf) == NBLOCKS0 - 1 && get_be32(buf + 4) == 512);
	c = run(3, cdb, buf, 4096);
	CHECK(is_good(&c) && get_be32(buf) == 0xffffffff);
	cdb[2] = 1;			/* LBA without PMI */
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	put_be32(cdb + 10, 32);
	c = run(3, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 32);
	CHECK(get_be64(buf) == BIGBLOCKS - 1 && get_be32(buf + 8) == 512);
	CHECK(buf[12] == 0 && buf[13] == 0 && buf[14] == 0);
	put_be32(cdb + 10, 0);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 0);
	put_be32(cdb + 10, 12);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 12 &&
	    get_be64(buf) == NBLOCKS0 - 1);
	cdb[1] = 0x11;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
}

static void
rw_cdb(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	switch (op) {
	case 0x08:
	case 0x0a:
		cdb[1] = (lba >> 16) & 0x1f;
		cdb[2] = lba >> 8;
		cdb[3] = lba;
		cdb[4] = n;
		break;
	case 0x28:
	case 0x2a:
	case 0x2f:
	case 0x35:
		put_be32(cdb + 2, (uint32_t)lba);
		cdb[7] = n >> 8;
		cdb[8] = n;
		break;
	case 0xa8:
	case 0xaa:
	case 0xaf:
		put_be32(cdb + 2, (uint32_t)lba);
		put_be32(cdb + 6, n);
		break;
	default:
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, n);
		break;
	}
}

/*
 * A READ whose caller takes Data-In by reference leaves sc_buf alone
 * and says where the data is; nullio and other commands still fill it.
 */
static void
test_read_ref(void)
{
	static uint8_t	 pat[2048], back[2048];
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;
	size_t		 i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 13 + 1);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x2a;
	put_be32(cdb + 2, 30);
	put_be16(cdb + 7, 4);
	c = run(0, cdb, pat, sizeof(pat));
	CHECK(is_good(&c));
	cdb[0] = 0x28;
	memset(back, 0xee, sizeof(back));
	memset(&c, 0xa5, sizeof(c));
	c.sc_target = tgt;
	c.sc_lun = lun_find(tgt, 0);
	c.sc_lun_id = 0;
	c.sc_cdb = cdb;
	c.sc_buf = back;
	c.sc_buf_len = sizeof(back);
	c.sc_ref_ok = true;
	c.sc_piped = false;
	scsi_exec(&c);
	CHECK(is_good(&c) && c.sc_ref && c.sc_xfer_len == sizeof(back) &&
	    c.sc_ref_off == 30 * 512 &&
	    back[0] == 0xee && back[sizeof(back) - 1] == 0xee);
	CHECK(pread(c.sc_lun->lun_fd, back, sizeof(back), (off_t)c.sc_ref_off) ==
	    (ssize_t)sizeof(back) && memcmp(back, pat, sizeof(back)) == 0);
	/* nullio has no file: the zeroes are in the buffer. */
	memset(back, 0xee, sizeof(back));
	c.sc_lun = lun_find(tgt, 2);
	c.sc_lun_id = 2;
	c.sc_ref_ok = true;
	scsi_exec(&c);
	CHECK(is_good(&c) && !c.sc_ref && back[0] == 0 &&
	    back[sizeof(back) - 1] == 0);
	/* A command that fails says nothing about a reference. */
	c.sc_lun = NULL;
	c.sc_lun_id = 9;
	scsi_exec(&c);
	CHECK(c.sc_status == SCSI_STATUS_CHECK_CONDITION && !c.sc_ref);
}

static void
test_read_write(void)
{
	static uint8_t	 pat[4096], back[4096];
	static const uint8_t rd[] = { 0x08, 0x28, 0xa8, 0x88 };
	static const uint8_t wr[] = { 0x0a, 0x2a, 0xaa, 0x8a };
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;
	size_t		 i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < 4; i++) {
		pat[0] = (uint8_t)i;
		rw_cdb(cdb, wr[i], 10 + i, 4);
		c = run(0, cdb, pat, 2048);
		CHECK(is_good(&c) && c.sc_want_len == 2048 &&
		    c.sc_xfer_len == 2048);
		memset(back, 0, sizeof(back));
		rw_cdb(cdb, rd[i], 10 + i, 4);
		c = run(0, cdb, back, 2048);
		CHECK(is_good(&c) && c.sc_xfer_len == 2048 &&
		    memcmp(back, pat, 2048) == 0);
	}
	CHECK(scsi_cdb_dir(cdb) == SCSI_DIR_READ);
	rw_cdb(cdb, 0x2a, 0, 1);
	CHECK(scsi_cdb_dir(cdb) == SCSI_DIR_WRITE);

	/* READ(6) transfer length 0 means 256 blocks. */
	rw_cdb(cdb, 0x08, 0, 0);
	c = run(0, cdb, buf, sizeof(buf));
	CHECK(is_good(&c) && c.sc_want_len == 256 * 512);

	/* The blockio/wt LUN on the same file sees the same data. */
	rw_cdb(cdb, 0x28, 13, 1);
	c = run(4, cdb, back, 512);
	CHECK(is_good(&c) && back[0] == 3 && memcmp(back + 1, pat + 1, 511) == 0);

	/* Residuals: EDTL shorter or longer than the transfer length. */
	rw_cdb(cdb, 0x28, 0, 1);
	c = run(0, cdb, buf, 200);
	CHECK(is_good(&c) && c.sc_want_len == 512 && c.sc_xfer_len == 200);
	c = run(0, cdb, buf, 10000);
	CHECK(is_good(&c) && c.sc_want_len == 512 && c.sc_xfer_len == 512);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c) && c.sc_want_len == 512 && c.sc_xfer_len == 0);

	/* A short write writes only what it was given. */
	memset(pat, 'a', 1024);
	rw_cdb(cdb, 0x2a, 100, 2);
	c = run(0, cdb, pat, 1024);
	CHECK(is_good(&c));
	memset(pat, 'b', 1024);
	rw_cdb(cdb, 0x2a, 100, 1);
	c = run(0, cdb, pat, 200);
	CHECK(is_good(&c) && c.sc_want_len == 512 && c.sc_xfer_len == 200);
	rw_cdb(cdb, 0x28, 100, 2);
	c = run(0, cdb, back, 1024);
	CHECK(is_good(&c) && back[0] == 'b' && back[199] == 'b' &&
	    back[200] == 'a' && back[1023] == 'a');

	/* Range: last block, past the end, zero length at the end. */
	rw_cdb(cdb, 0x28, NBLOCKS0 - 1, 1);
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c));
	rw_cdb(cdb, 0x28, NBLOCKS0 - 1, 2);
	c = run(0, cdb, buf, 1024);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x2a, NBLOCKS0, 1);
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x28, NBLOCKS0, 0);
	c = run(0, cdb, buf, 0);
	CHECK(is_good(&c) && c.sc_want_len == 0);
	rw_cdb(cdb, 0x28, NBLOCKS0 + 1, 0);
	c = run(0, cdb, buf, 0);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x28, 0x80000000U, 0);
	c = run(0, cdb, buf, 0);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x88, UINT64_MAX, 1);
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x88, 1, UINT32_MAX);
	c = run(2, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x0a, 0x1fffff, 1);
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x21));

	/* More than the maximum transfer length. */
	rw_cdb(cdb, 0x28, 0, 0xffff);
	c = run(2, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x24));

	/* RDPROTECT/WRPROTECT, FUA, DPO. */
	rw_cdb(cdb, 0x28, 0, 1);
	cdb[1] = 0x20;
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x24));
	rw_cdb(cdb, 0x8a, 0, 1);
	cdb[1] = 0x18;
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c));
	c = run(4, cdb, buf, 512);
	CHECK(is_good(&c));

	/* Read-only LUN: reads work, writes are DATA PROTECT. */
	rw_cdb(cdb, 0x28, 0, 1);
	c = run(1, cdb, buf, 512);
	CHECK(is_good(&c));
	rw_cdb(cdb, 0x2a, 0, 1);
	c = run(1, cdb, buf, 512);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0));

	/* nullio: writes vanish, reads are zeroes. */
	memset(pat, 0x5a, 4096);
	rw_cdb(cdb, 0x2a, 1000, 8);
	c = run(2, cdb, pat, 4096);
	CHECK(is_good(&c));
	memset(back, 0x77, sizeof(back));
	rw_cdb(cdb, 0x28, 1000, 8);
	c = run(2, cdb, back, 4096);
	CHECK(is_good(&c) && back[0] == 0 && back[4095] == 0 &&
	    memcmp(back, back + 1, 4095) == 0);
	rw_cdb(cdb, 0x88, BIGBLOCKS - 1, 1);
	c = run(3, cdb, back, 512);
	CHECK(is_good(&c));
}

static void
test_verify_sync(void)
{
	uint8_t		 cdb[16], data[1024];
	struct scsi_cmd	 c;

	rw_cdb(cdb, 0x2f, 0, 16);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c) && c.sc_want_len == 0);
	CHECK(scsi_cdb_dir(cdb) == SCSI_DIR_NONE);
	rw_cdb(cdb, 0x8f, NBLOCKS0 - 1, 2);
	c = run(0, cdb, NULL, 0);
	CHECK(ILLEGAL(&c, 0x21));

	/* BYTCHK 1: compare with what READ returns. */
	rw_cdb(cdb, 0x28, 10, 2);
	c = run(0, cdb, data, sizeof(data));
	CHECK(is_good(&c));
	rw_cdb(cdb, 0x2f, 10, 2);
	cdb[1] = 0x02;
	CHECK(scsi_cdb_dir(cdb) == SCSI_DIR_WRITE);
	c = run(0, cdb, data, sizeof(data));
	CHECK(is_good(&c) && c.sc_want_len == 1024);
	data[700] ^= 0xff;
	c = run(0, cdb, data, sizeof(data));
	CHECK(is_sense(&c, SKEY_MISCOMPARE, 0x1d, 0) &&
	    (c.sc_sense[0] & 0x80) && get_be32(c.sc_sense + 3) == 700);
	cdb[1] = 0x04;				/* BYTCHK 10b reserved */
	c = run(0, cdb, data, sizeof(data));
	CHECK(ILLEGAL(&c, 0x24));
	/* BYTCHK 11b: one block against each block of nullio zeroes. */
	memset(data, 0, sizeof(data));
	rw_cdb(cdb, 0xaf, 5, 4);
	cdb[1] = 0x06;
	c = run(2, cdb, data, 512);
	CHECK(is_good(&c) && c.sc_want_len == 512);
	data[3] = 1;
	c = run(2, cdb, data, 512);
	CHECK(is_sense(&c, SKEY_MISCOMPARE, 0x1d, 0));

	rw_cdb(cdb, 0x35, 0, 0);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c));
	c = run(2, cdb, NULL, 0);
	CHECK(is_good(&c));
	rw_cdb(cdb, 0x91, NBLOCKS0, 1);
	c = run(0, cdb, NULL, 0);
	CHECK(ILLEGAL(&c, 0x21));
	rw_cdb(cdb, 0x91, 0, NBLOCKS0);
	c = run(4, cdb, NULL, 0);
	CHECK(is_good(&c));
}

/* Find page pg in mode parameter data after hlen + bdlen. */
static const uint8_t *
mode_page(const uint8_t *d, size_t len, size_t off, uint8_t pg)
{
	while (off + 2 <= len) {
		if ((d[off] & 0x3f) == pg)
			return (d + off);
		off += 2 + d[off + 1];
	}
	return (NULL);
}

static void
test_mode_sense(void)
{
	uint8_t		 cdb[16];
	const uint8_t	*p;
	struct scsi_cmd	 c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x1a;
	cdb[2] = 0x3f;
	cdb[4] = 255;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[0] + 1U == c.sc_want_len);
	CHECK(buf[2] == 0x10 && buf[3] == 8);		/* DPOFUA, not WP */
	CHECK(get_be32(buf + 4) == NBLOCKS0 && get_be32(buf + 8) == 512);
	p = mode_page(buf, c.sc_want_len, 12, 0x08);
	CHECK(p != NULL && p[1] == 0x12 && (p[2] & 0x05) == 0x04);
	p = mode_page(buf, c.sc_want_len, 12, 0x0a);
	CHECK(p != NULL && p[1] == 0x0a && (p[2] & 0x04) == 0);
	CHECK(mode_page(buf, c.sc_want_len, 12, 0x1c) != NULL);

	/* Write-through: WCE 0.  Read-only: WP.  DBD: no descriptor. */
	cdb[2] = 0x08;
	c = run(4, cdb, buf, 4096);
	p = mode_page(buf, c.sc_want_len, 12, 0x08);
	CHECK(is_good(&c) && p != NULL && (p[2] & 0x04) == 0);
	cdb[1] = 0x08;
	c = run(1, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[2] & 0x80) && buf[3] == 0 &&
	    buf[4] == 0x08 && c.sc_want_len == 24);
	cdb[1] = 0;

	/* Changeable values: WCE. */
	cdb[2] = 0x48;
	c = run(0, cdb, buf, 4096);
	p = mode_page(buf, c.sc_want_len, 12, 0x08);
	CHECK(is_good(&c) && p != NULL && p[2] == 0x04);
	cdb[2] = 0x88;				/* default */
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c));
	cdb[2] = 0xc8;				/* saved */
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x39));
	cdb[2] = 0x05;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[2] = 0x08;
	cdb[3] = 0x01;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[2] = 0x3f;
	cdb[3] = 0xff;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c));
	cdb[3] = 0;
	cdb[4] = 4;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 4 && c.sc_xfer_len == 4);

	/* MODE SENSE(10) with a long LBA descriptor. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5a;
	cdb[1] = 0x10;
	cdb[2] = 0x3f;
	cdb[8] = 255;
	c = run(3, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[0] << 8 | buf[1]) + 2U == c.sc_want_len);
	CHECK(buf[3] == 0x10 && (buf[4] & 1) && buf[7] == 16);
	CHECK(get_be64(buf + 8) == BIGBLOCKS && get_be32(buf + 20) == 512);
	CHECK(mode_page(buf, c.sc_want_len, 24, 0x0a) != NULL);
	cdb[1] = 0;
	c = run(3, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[7] == 8 && get_be32(buf + 8) == 0xffffffff);
}

static void
test_misc(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;

	memset(cdb, 0, sizeof(cdb));
	c = run(0, cdb, NULL, 0);		/* TEST UNIT READY */
	CHECK(is_good(&c) && c.sc_want_len == 0 && c.sc_xfer_len == 0);
	c = run(9, cdb, NULL, 0);
	CHECK(ILLEGAL(&c, 0x25));
	cdb[5] = 0x04;				/* NACA */
	c = run(0, cdb, NULL, 0);
	CHECK(ILLEGAL(&c, 0x24));

	/* Sense layout. */
	CHECK(c.sc_status == SCSI_STATUS_CHECK_CONDITION &&
	    c.sc_sense_len == 18 && c.sc_sense[0] == 0x70 &&
	    c.sc_sense[2] == SKEY_ILLEGAL_REQUEST && c.sc_sense[7] == 10);

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xc0;
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x20));
	cdb[0] = 0x83;			/* EXTENDED COPY LID1, no list: GOOD */
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c));
	cdb[1] = 0x01;			/* LID4: not supported */
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x24) && c.sc_sense[15] == 0xcc);
	cdb[0] = 0x48;			/* SANITIZE BLOCK ERASE, nullio */
	cdb[1] = 0x02;
	c = run(2, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x24) && c.sc_sense[15] == 0xcc);

	/* REQUEST SENSE: NO SENSE, fixed and descriptor format. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x03;
	cdb[4] = 252;
	memset(buf, 0xee, 64);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 18 && buf[0] == 0x70 &&
	    buf[2] == 0 && buf[7] == 10 && buf[12] == 0 && buf[18] == 0xee);
	cdb[1] = 1;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 8 && buf[0] == 0x72 &&
	    buf[1] == 0);
	cdb[1] = 0;
	c = run(9, cdb, buf, 4096);
	CHECK(is_good(&c) && buf[2] == SKEY_ILLEGAL_REQUEST &&
	    buf[12] == 0x25);
	cdb[4] = 4;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 4);

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x1b;
	cdb[4] = 0x01;
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c));
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x1e;
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c));
	cdb[4] = 0x02;
	c = run(0, cdb, NULL, 0);
	CHECK(ILLEGAL(&c, 0x24));

	/* scsi_sense itself. */
	memset(&c, 0, sizeof(c));
	c.sc_want_len = c.sc_xfer_len = 512;
	scsi_sense(&c, SKEY_MEDIUM_ERROR, 0x11, 0x00);
	CHECK(is_sense(&c, SKEY_MEDIUM_ERROR, 0x11, 0) &&
	    c.sc_want_len == 0);
}

/* GET LBA STATUS of one LBA on LUN 0: its provisioning status, or -1. */
static int
lba_status(uint64_t lba, uint32_t *count)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9e;
	cdb[1] = 0x12;
	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, 24);
	c = run(0, cdb, buf, 4096);
	if (!is_good(&c) || c.sc_want_len != 24 || get_be32(buf) != 20 ||
	    get_be64(buf + 8) != lba)
		return (-1);
	*count = get_be32(buf + 16);
	return (buf[20] & 0x0f);
}

static struct scsi_cmd
unmap1(uint64_t lunid, uint64_t lba, uint32_t n)
{
	uint8_t		 cdb[16], d[24];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x42;
	cdb[8] = sizeof(d);
	memset(d, 0, sizeof(d));
	put_be16(d, 22);
	put_be16(d + 2, 16);
	put_be64(d + 8, lba);
	put_be32(d + 16, n);
	memcpy(buf, d, sizeof(d));
	return (run(lunid, cdb, buf, sizeof(d)));
}

static struct scsi_cmd
write10(uint64_t lunid, uint32_t lba, uint16_t n, int fill)
{
	uint8_t	cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x2a;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	memset(buf, fill, n * 512U);
	return (run(lunid, cdb, buf, n * 512U));
}

static bool
read_is(uint32_t lba, uint16_t n, int fill)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;
	uint32_t	 i;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x28;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	c = run(0, cdb, buf, n * 512U);
	if (!is_good(&c))
		return (false);
	for (i = 0; i < n * 512U; i++)
		if (buf[i] != fill)
			return (false);
	return (true);
}

static void
test_thin(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;
	uint32_t	 n;

	/* LUN 0 (a file on a filesystem that punches holes) is thin. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x12;
	cdb[1] = 0x01;
	cdb[2] = 0xb2;
	cdb[4] = 255;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 8 && buf[1] == 0xb2 &&
	    (buf[5] & 0xe4) == 0xe4 && (buf[6] & 0x07) == 2);
	c = run(2, cdb, buf, 4096);		/* nullio: nothing */
	CHECK(is_good(&c) && buf[5] == 0 && buf[6] == 0);
	c = run(1, cdb, buf, 4096);		/* read-only: nothing */
	CHECK(is_good(&c) && buf[5] == 0);
	cdb[2] = 0xb0;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && !(buf[4] & 0x01) && buf[5] > 0 &&
	    get_be32(buf + 20) > 0 && get_be32(buf + 24) > 0 &&
	    get_be32(buf + 28) >= 1 && get_be64(buf + 36) > 0);
	c = run(2, cdb, buf, 4096);
	CHECK(is_good(&c) && get_be32(buf + 20) == 0 &&
	    get_be32(buf + 24) == 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	cdb[13] = 32;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[14] & 0xc0) == 0xc0);
	c = run(2, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[14] & 0xc0) == 0);

	/* Write, see it mapped, unmap, see it deallocated and zero. */
	c = write10(0, 64, 16, 0xff);
	CHECK(is_good(&c));
	CHECK(lba_status(64, &n) == 0 && n >= 16);
	c = unmap1(0, 64, 16);
	CHECK(is_good(&c));
	CHECK(lba_status(64, &n) == 1 && n >= 16);
	CHECK(read_is(64, 16, 0));
	c = unmap1(2, 0, 8);			/* nullio: no UNMAP */
	CHECK(ILLEGAL(&c, 0x20));
	c = unmap1(0, NBLOCKS0 - 4, 8);
	CHECK(ILLEGAL(&c, 0x21));

	/* A bad descriptor after a good one: nothing is unmapped. */
	c = write10(0, 64, 16, 0xff);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x42;
	cdb[8] = 40;
	memset(buf, 0, 40);
	put_be16(buf, 38);
	put_be16(buf + 2, 32);
	put_be64(buf + 8, 64);
	put_be32(buf + 16, 16);
	put_be64(buf + 24, NBLOCKS0);
	put_be32(buf + 32, 1);
	c = run(0, cdb, buf, 40);
	CHECK(ILLEGAL(&c, 0x21));
	CHECK(read_is(64, 16, 0xff));
	/* Parameter list shorter than its header, or than it says. */
	cdb[8] = 4;
	c = run(0, cdb, buf, 4);
	CHECK(ILLEGAL(&c, 0x1a));
	cdb[8] = 40;
	c = run(0, cdb, buf, 24);
	CHECK(ILLEGAL(&c, 0x1a));
	cdb[8] = 0;				/* nothing to do */
	c = run(0, cdb, buf, 0);
	CHECK(is_good(&c));
	cdb[1] = 0x01;				/* ANCHOR */
	c = run(0, cdb, buf, 0);
	CHECK(ILLEGAL(&c, 0x24) && c.sc_sense[17] == 1);

	/* WRITE SAME(10): the block lands on every LBA. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x41;
	put_be32(cdb + 2, 100);
	put_be16(cdb + 7, 3);
	memset(buf, 0x5a, 512);
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c) && c.sc_want_len == 512);
	CHECK(read_is(100, 3, 0x5a));
	c = run(0, cdb, buf, 1024);		/* one block, no more */
	CHECK(ILLEGAL(&c, 0x24));
	c = run(1, cdb, buf, 512);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0));
	put_be16(cdb + 7, 0);		/* WSNZ 0: to the end of the LUN */
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c) && read_is(NBLOCKS0 - 1, 1, 0x5a));
	put_be32(cdb + 2, NBLOCKS0);	/* 0 blocks at the end: nothing */
	c = run(0, cdb, buf, 512);
	CHECK(is_sense(&c, SKEY_ILLEGAL_REQUEST, 0x21, 0));
	c = run(3, cdb, buf, 512);	/* past the MAXIMUM WRITE SAME LENGTH */
	CHECK(ILLEGAL(&c, 0x24));
	put_be32(cdb + 2, 100);
	cdb[1] = 0x08;			/* UNMAP on a thick LUN */
	c = run(2, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[1] = 0;
	put_be16(cdb + 7, 3);
	cdb[1] = 0x10;				/* ANCHOR */
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x24));
	/* UNMAP with data that is not zeroes: deallocated all the same. */
	cdb[1] = 0x08;
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c) && read_is(100, 3, 0));

	/* WRITE SAME(16) UNMAP with zeroes, and with NDOB: deallocated. */
	c = write10(0, 128, 16, 0xff);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x93;
	cdb[1] = 0x08;
	put_be64(cdb + 2, 128);
	put_be32(cdb + 10, 8);
	memset(buf, 0, 512);
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c) && lba_status(128, &n) == 1 && n >= 8);
	CHECK(lba_status(136, &n) == 0);
	cdb[1] = 0x09;
	put_be64(cdb + 2, 136);
	CHECK(scsi_cdb_dir(cdb) == SCSI_DIR_NONE);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c) && lba_status(128, &n) == 1 && n >= 16);
	CHECK(read_is(128, 16, 0));
	c = run(2, cdb, NULL, 0);		/* nullio: not thin */
	CHECK(ILLEGAL(&c, 0x24));
}

static void
test_caw(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;

	c = write10(0, 10, 2, 'A');
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x89;
	put_be64(cdb + 2, 10);
	cdb[13] = 2;
	memset(buf, 'A', 1024);
	memset(buf + 1024, 'B', 1024);
	c = run(0, cdb, buf, 2048);
	CHECK(is_good(&c) && c.sc_want_len == 2048);
	CHECK(read_is(10, 2, 'B'));
	memset(buf, 'B', 1024);
	buf[700] = 'X';
	memset(buf + 1024, 'C', 1024);
	c = run(0, cdb, buf, 2048);
	CHECK(is_sense(&c, SKEY_MISCOMPARE, 0x1d, 0) &&
	    (c.sc_sense[0] & 0x80) && get_be32(c.sc_sense + 3) == 700);
	CHECK(read_is(10, 2, 'B'));
	c = run(0, cdb, buf, 1024);		/* both halves or nothing */
	CHECK(ILLEGAL(&c, 0x24));
	c = run(1, cdb, buf, 2048);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0));
	put_be64(cdb + 2, NBLOCKS0 - 1);
	c = run(0, cdb, buf, 2048);
	CHECK(ILLEGAL(&c, 0x21));
	cdb[13] = 0;
	put_be64(cdb + 2, 10);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c));
	c = run(0, cdb, buf, 1024);
	CHECK(ILLEGAL(&c, 0x24));
}

/* MODE SELECT(6) of one page on LUN 0. */
static struct scsi_cmd
mode_select(const uint8_t *page, size_t len)
{
	uint8_t	cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x15;
	cdb[1] = 0x10;				/* PF */
	cdb[4] = 4 + len;
	memset(buf, 0, 4);
	memcpy(buf + 4, page, len);
	return (run(0, cdb, buf, 4 + len));
}

static void
test_mode_select(void)
{
	uint8_t		 ctl[12], cache[20], cdb[16];
	struct scsi_cmd	 c;
	struct lun	*l0 = lun_find(tgt, 0);

	memset(ctl, 0, sizeof(ctl));
	ctl[0] = 0x0a;
	ctl[1] = 0x0a;
	ctl[2] = 0x02 | 0x04;			/* GLTSD, D_SENSE */
	ctl[3] = 0x10;
	c = mode_select(ctl, sizeof(ctl));
	CHECK(is_good(&c) && l0->lun_dsense);
	/* Descriptor sense, with the field pointer in a descriptor. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x28;
	cdb[1] = 0x01;				/* reserved */
	c = run(0, cdb, buf, 4096);
	CHECK(c.sc_status == SCSI_STATUS_CHECK_CONDITION &&
	    c.sc_sense_len == 16 && c.sc_sense[0] == 0x72 &&
	    c.sc_sense[1] == SKEY_ILLEGAL_REQUEST && c.sc_sense[2] == 0x24 &&
	    c.sc_sense[7] == 8 && c.sc_sense[8] == 0x02 &&
	    c.sc_sense[9] == 6 && (c.sc_sense[12] & 0xc0) == 0xc0 &&
	    get_be16(c.sc_sense + 13) == 1);
	/* INFORMATION descriptor for a miscompare. */
	c = write10(0, 20, 1, 'A');
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x89;
	put_be64(cdb + 2, 20);
	cdb[13] = 1;
	memset(buf, 'A', 1024);
	buf[5] = 'Z';
	c = run(0, cdb, buf, 1024);
	CHECK(c.sc_sense[0] == 0x72 && c.sc_sense[1] == SKEY_MISCOMPARE &&
	    c.sc_sense_len == 20 && c.sc_sense[8] == 0x00 &&
	    c.sc_sense[9] == 0x0a && (c.sc_sense[10] & 0x80) &&
	    get_be64(c.sc_sense + 12) == 5);
	ctl[2] = 0x02;
	c = mode_select(ctl, sizeof(ctl));
	CHECK(is_good(&c) && !l0->lun_dsense);

	/* SWP: writes are refused, MODE SENSE shows WP. */
	ctl[4] = 0x08;
	c = mode_select(ctl, sizeof(ctl));
	CHECK(is_good(&c) && l0->lun_swp);
	c = write10(0, 0, 1, 0);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0x02));
	c = unmap1(0, 0, 1);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0x02));
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x1a;
	cdb[2] = 0x0a;
	cdb[4] = 255;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[2] & 0x80) && (buf[12 + 4] & 0x08));
	ctl[4] = 0;
	c = mode_select(ctl, sizeof(ctl));
	CHECK(is_good(&c) && !l0->lun_swp);
	c = write10(0, 0, 1, 0);
	CHECK(is_good(&c));

	/* WCE off and on again. */
	memset(cache, 0, sizeof(cache));
	cache[0] = 0x08;
	cache[1] = 0x12;
	c = mode_select(cache, sizeof(cache));
	CHECK(is_good(&c) && !l0->lun_wce);
	c = write10(0, 0, 1, 0);
	CHECK(is_good(&c));
	cache[2] = 0x04;
	c = mode_select(cache, sizeof(cache));
	CHECK(is_good(&c) && l0->lun_wce);

	/* Refusals change nothing. */
	ctl[3] = 0x00;				/* QAM is not changeable */
	ctl[2] = 0x06;
	c = mode_select(ctl, sizeof(ctl));
	CHECK(ILLEGAL(&c, 0x26) && (c.sc_sense[15] & 0xc0) == 0x80 &&
	    get_be16(c.sc_sense + 16) == 4 + 3 && !l0->lun_dsense);
	ctl[3] = 0x10;
	ctl[1] = 0x08;				/* wrong page length */
	c = mode_select(ctl, sizeof(ctl));
	CHECK(ILLEGAL(&c, 0x26) && get_be16(c.sc_sense + 16) == 5);
	ctl[1] = 0x0a;
	c = mode_select(ctl, 6);		/* truncated page */
	CHECK(ILLEGAL(&c, 0x1a) && !l0->lun_dsense);
	ctl[0] = 0x19;				/* unsupported page */
	c = mode_select(ctl, sizeof(ctl));
	CHECK(ILLEGAL(&c, 0x26));
	ctl[0] = 0x0a;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x15;
	cdb[1] = 0x11;				/* SP: nothing is saved */
	cdb[4] = 16;
	c = run(0, cdb, buf, 16);
	CHECK(ILLEGAL(&c, 0x24));
	/* MODE SELECT(10) with a block descriptor of another size. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x55;
	cdb[1] = 0x10;
	cdb[8] = 16;
	memset(buf, 0, 16);
	buf[7] = 8;
	put_be32(buf + 12, 4096);
	c = run(0, cdb, buf, 16);
	CHECK(ILLEGAL(&c, 0x26));
	put_be32(buf + 12, 512);
	c = run(0, cdb, buf, 16);
	CHECK(is_good(&c));
	CHECK(!l0->lun_dsense && !l0->lun_swp && l0->lun_wce);
}

static void
test_report_opcodes(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;
	uint32_t	 i, len;
	bool		 unmap = false, rc16 = false;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa3;
	cdb[1] = 0x0c;
	put_be32(cdb + 6, 4096);
	c = run(0, cdb, buf, 4096);
	len = get_be32(buf);
	CHECK(is_good(&c) && len % 8 == 0 && len >= 30 * 8 &&
	    c.sc_want_len == len + 4);
	for (i = 4; i < len + 4; i += 8) {
		if (buf[i] == 0x42)
			unmap = true;
		if (buf[i] == 0x9e && get_be16(buf + i + 2) == 0x10 &&
		    (buf[i + 5] & 0x01) && get_be16(buf + i + 6) == 16)
			rc16 = true;
	}
	CHECK(unmap && rc16);
	c = run(2, cdb, buf, 4096);		/* nullio: no UNMAP */
	len = get_be32(buf);
	for (unmap = false, i = 4; i < len + 4; i += 8)
		if (buf[i] == 0x42)
			unmap = true;
	CHECK(is_good(&c) && !unmap);
	cdb[2] = 0x80;				/* RCTD */
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && get_be32(buf) % 20 == 0 &&
	    (buf[4 + 5] & 0x02) && get_be16(buf + 4 + 8) == 0x0a);

	/* One command: usage data straight from the table. */
	cdb[2] = 0x01;
	cdb[3] = 0x28;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 14 && (buf[1] & 0x07) == 3 &&
	    get_be16(buf + 2) == 10 && buf[4] == 0x28 && buf[13] == 0);
	cdb[2] = 0x81;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 26 && (buf[1] & 0x80));
	cdb[2] = 0x01;
	cdb[3] = 0x9e;				/* has service actions */
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[2] = 0x02;
	put_be16(cdb + 4, 0x12);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[1] & 0x07) == 3 && buf[4] == 0x9e &&
	    buf[5] == 0x12);
	put_be16(cdb + 4, 0x11);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[1] & 0x07) == 1);
	cdb[3] = 0x28;				/* has none */
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[2] = 0x03;
	put_be16(cdb + 4, 0);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[1] & 0x07) == 3);
	cdb[2] = 0x01;
	cdb[3] = 0xc0;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && (buf[1] & 0x07) == 1);
	cdb[2] = 0x05;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));

	/* Task management functions: what session.c answers. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa3;
	cdb[1] = 0x0d;
	cdb[9] = 4;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 4 && buf[0] == 0xda &&
	    buf[1] == 0);
	cdb[9] = 2;
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[1] = 0x0e;				/* unknown service action */
	c = run(0, cdb, buf, 4096);
	CHECK(ILLEGAL(&c, 0x24) && c.sc_sense[17] == 1);
}

static void
test_sbc_misc(void)
{
	uint8_t		 cdb[16];
	struct scsi_cmd	 c;

	/* PRE-FETCH: GOOD, or LBA OUT OF RANGE. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x34;
	put_be16(cdb + 7, 16);
	c = run(0, cdb, NULL, 0);
	CHECK(is_good(&c));
	put_be32(cdb + 2, NBLOCKS0 - 8);
	c = run(0, cdb, NULL, 0);
	CHECK(ILLEGAL(&c, 0x21));
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x90;
	cdb[1] = 0x02;
	c = run(2, cdb, NULL, 0);
	CHECK(is_good(&c));

	/* READ DEFECT DATA: empty lists. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x37;
	cdb[2] = 0x18 | 0x05;
	cdb[8] = 255;
	memset(buf, 0xee, 16);
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 4 && buf[1] == 0x1d &&
	    get_be16(buf + 2) == 0 && buf[4] == 0xee);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xb7;
	cdb[1] = 0x08 | 0x04;
	cdb[9] = 255;
	c = run(0, cdb, buf, 4096);
	CHECK(is_good(&c) && c.sc_want_len == 8 && buf[1] == 0x0c &&
	    get_be32(buf + 4) == 0);

	/* ORWRITE(16): medium OR data. */
	c = write10(0, 40, 1, 0x0f);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x8b;
	put_be64(cdb + 2, 40);
	put_be32(cdb + 10, 1);
	memset(buf, 0x30, 512);
	CHECK(scsi_cdb_dir(cdb) == SCSI_DIR_WRITE);
	c = run(0, cdb, buf, 512);
	CHECK(is_good(&c) && c.sc_want_len == 512 && read_is(40, 1, 0x3f));
	c = run(1, cdb, buf, 512);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0));
	put_be64(cdb + 2, NBLOCKS0);
	c = run(0, cdb, buf, 512);
	CHECK(ILLEGAL(&c, 0x21));

	/* WRITE AND VERIFY(10) BYTCHK 1. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x2e;
	cdb[1] = 0x02;
	put_be32(cdb + 2, 30);
	put_be16(cdb + 7, 2);
	memset(buf, 0x77, 1024);
	c = run(0, cdb, buf, 1024);
	CHECK(is_good(&c) && read_is(30, 2, 0x77));
	cdb[1] = 0x04;				/* BYTCHK 10b: reserved */
	c = run(0, cdb, buf, 1024);
	CHECK(ILLEGAL(&c, 0x24));
	cdb[1] = 0x20;				/* WRPROTECT */
	c = run(0, cdb, buf, 1024);
	CHECK(ILLEGAL(&c, 0x24) && (c.sc_sense[15] & 0x0f) == 0x0f);
	cdb[1] = 0;
	c = run(1, cdb, buf, 1024);
	CHECK(is_sense(&c, SKEY_DATA_PROTECT, 0x27, 0));
}

/* Run WRITE(10) of n blocks at lba with its data in pipe fd (sc_piped). */
static struct scsi_cmd
run_piped(const struct lun_target *lt, int fd, uint32_t lba, uint16_t n)
{
	struct scsi_cmd	 c;
	static uint8_t	 cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x2a;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	memset(&c, 0xa5, sizeof(c));
	c.sc_nexus = NULL;
	c.sc_target = lt;
	c.sc_lun = lun_find(lt, 0);
	c.sc_lun_id = 0;
	c.sc_cdb = cdb;
	c.sc_buf = NULL;
	c.sc_buf_len = n * 512U;
	c.sc_ref_ok = false;
	c.sc_piped = true;
	c.sc_pipe_fd = fd;
	c.sc_done = NULL;
	scsi_exec(&c);
	return (c);
}

/*
 * A WRITE whose data waits in a pipe: sbc_read_write splices it into a
 * tmpfs LUN's file and clears sc_piped; a command that fails leaves it
 * there for the caller (task.c) to drain.
 */
static void
test_piped(void)
{
	char			 dir[] = "/dev/shm/test_scsi.XXXXXX";
	char			 path[64];
	struct conf		*conf;
	struct conf_target	*ct;
	struct lun_table	*t2;
	const struct lun_target	*lt;
	struct scsi_cmd		 c;
	uint8_t			 data[4096], back[4096];
	int			 p[2], fd;

	if (mkdtemp(dir) == NULL) {
		printf("test_scsi: no /dev/shm: piped writes not tested\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/lun.img", dir);
	mkfile(path, 64 * 512);
	conf = conf_new(&ct);
	add_lun(ct, 0, LUN_FILEIO, IOMODE_WB, path, 0, 20);
	t2 = lun_table_open(conf);
	CHECK(t2 != NULL);
	if (t2 == NULL || pipe2(p, O_NONBLOCK) == -1)
		exit(2);
	lt = lun_target_find(t2, 1);
	CHECK(lun_write_inloop(lun_find(lt, 0)));

	memset(data, 0x5c, sizeof(data));
	CHECK(write(p[1], data, sizeof(data)) == (ssize_t)sizeof(data));
	c = run_piped(lt, p[0], 8, 8);
	CHECK(is_good(&c) && !c.sc_piped && c.sc_xfer_len == 4096);
	CHECK(read(p[0], back, 1) == -1);	/* all taken */
	fd = open(path, O_RDONLY);
	CHECK(pread(fd, back, sizeof(back), 8 * 512) == (ssize_t)sizeof(back) &&
	    memcmp(back, data, sizeof(back)) == 0);

	/* Past the end: the data stays in the pipe. */
	CHECK(write(p[1], data, sizeof(data)) == (ssize_t)sizeof(data));
	c = run_piped(lt, p[0], 60, 8);
	CHECK(ILLEGAL(&c, 0x21) && c.sc_piped);
	CHECK(read(p[0], back, sizeof(back)) == (ssize_t)sizeof(back));

	close(fd);
	close(p[0]);
	close(p[1]);
	lun_table_free(t2);
	conf_del(conf);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	struct conf	*conf;

	log_init(1, 0);
	conf = setup();
	tab = lun_table_open(conf);
	if (tab == NULL) {
		printf("FAIL test_scsi.c: lun_table_open failed\n");
		return (1);
	}
	tgt = lun_target_find(tab, 1);
	test_lun_table(conf);
	if (tgt != NULL) {
		test_inquiry();
		test_report_luns();
		test_read_capacity();
		test_read_write();
		test_read_ref();
		test_verify_sync();
		test_mode_sense();
		test_misc();
		test_thin();
		test_caw();
		test_mode_select();
		test_report_opcodes();
		test_sbc_misc();
		test_piped();
	}
	CHECK(lun_sync_all(tab) == 0);
	lun_table_free(tab);
	conf_del(conf);
	unlink(path0);
	unlink(path1);
	unlink(pathsmall);
	rmdir(tmpdir);

	printf("test_scsi: %d checks, %d failed\n", checks, failures);
	return (failures == 0 ? 0 : 1);
}
