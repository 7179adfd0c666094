/*
 * test_ua: unit attentions per I_T nexus and the nexus life (ua.c), the
 * SCSI-2 reservation's end, driven through scsi_exec with two nexuses on
 * a nullio LUN: what a new nexus sees, which commands report and which
 * keep a condition, REQUEST SENSE, duplicates, a reset superseding what
 * was queued, the bound of the queue, and task management effects.
 */
#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "priv/lun.h"
#include "priv/pr.h"
#include "priv/scsi.h"

#define TNAME	"iqn.2026-11.org.ietd:ua"

static struct lun_target	*tgt;
static struct lun		*lun;
static struct scsi_nexus	 nx1, nx2;
static uint8_t			 buf[512];

static struct scsi_cmd
run(const struct scsi_nexus *nx, uint8_t op, uint8_t b4)
{
	struct scsi_cmd	c;
	uint8_t		cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = op;
	cdb[4] = b4;
	memset(&c, 0, sizeof(c));
	c.sc_nexus = nx;
	c.sc_target = tgt;
	c.sc_lun = lun;
	c.sc_cdb = cdb;
	c.sc_buf = buf;
	c.sc_buf_len = sizeof(buf);
	scsi_exec(&c);
	c.sc_cdb = NULL;
	return (c);
}

/* TEST UNIT READY: 0 if GOOD, else ASC << 8 | ASCQ of a UNIT ATTENTION
 * (-1 for anything else). */
static int
tur(const struct scsi_nexus *nx)
{
	struct scsi_cmd	c = run(nx, 0x00, 0);

	if (c.sc_status == SCSI_STATUS_GOOD)
		return (0);
	if (c.sc_status != SCSI_STATUS_CHECK_CONDITION ||
	    (c.sc_sense[2] & 0x0f) != 0x06)
		return (-1);
	return (c.sc_sense[12] << 8 | c.sc_sense[13]);
}

static void
nexus(struct scsi_nexus *nx, uint64_t id, const char *name, uint8_t isid)
{
	memset(nx, 0, sizeof(*nx));
	nx->nx_id = id;
	nx->nx_target = tgt;
	strlcpy(nx->nx_initiator, name, sizeof(nx->nx_initiator));
	nx->nx_isid[0] = 0x80;
	nx->nx_isid[5] = isid;
	scsi_nexus_begin(nx);
}

static void
test_basics(void)
{
	struct scsi_cmd	c;

	/* A new nexus starts without a unit attention. */
	CHECK(tur(&nx1) == 0 && tur(&nx2) == 0);
	scsi_lun_reset(lun, &nx1);
	/* INQUIRY and REPORT LUNS run and keep it. */
	c = run(&nx1, 0x12, 36);
	CHECK(c.sc_status == SCSI_STATUS_GOOD);
	CHECK(tur(&nx1) == 0x2903);
	CHECK(tur(&nx1) == 0);
	/* REQUEST SENSE returns it as data, and clears it. */
	c = run(&nx2, 0x03, 18);
	CHECK(c.sc_status == SCSI_STATUS_GOOD && c.sc_xfer_len == 18);
	CHECK(buf[0] == 0x70 && (buf[2] & 0x0f) == 0x06 && buf[12] == 0x29 &&
	    buf[13] == 0x03);
	CHECK(tur(&nx2) == 0);
	c = run(&nx2, 0x03, 18);
	CHECK(c.sc_status == SCSI_STATUS_GOOD && buf[2] == 0 && buf[12] == 0);
}

static void
test_queue(void)
{
	struct lun_state	*st = lun_state_peek(lun);
	int			 i;

	CHECK(st != NULL);
	if (st == NULL)
		return;
	/* Oldest first; one condition is never queued twice. */
	pthread_mutex_lock(&st->ls_mtx);
	ua_post_all(st, nx2.nx_id, UA_MODE_CHANGED);
	ua_post_all(st, nx2.nx_id, UA_RES_RELEASED);
	ua_post_all(st, nx2.nx_id, UA_MODE_CHANGED);
	pthread_mutex_unlock(&st->ls_mtx);
	CHECK(tur(&nx2) == 0);
	CHECK(tur(&nx1) == 0x2a01);
	CHECK(tur(&nx1) == 0x2a04);
	CHECK(tur(&nx1) == 0);
	/* A reset supersedes what was queued before it. */
	pthread_mutex_lock(&st->ls_mtx);
	ua_post_all(st, 0, UA_REG_PREEMPTED);
	pthread_mutex_unlock(&st->ls_mtx);
	scsi_target_reset(tgt, &nx2, false);
	CHECK(tur(&nx1) == 0x2900);
	CHECK(tur(&nx1) == 0);
	CHECK(tur(&nx2) == 0x2900);
	CHECK(tur(&nx2) == 0);
	/* Bounded: past UA_MAX the oldest non-reset condition goes. */
	scsi_target_reset(tgt, &nx2, true);
	pthread_mutex_lock(&st->ls_mtx);
	for (i = 1; i <= UA_MAX; i++)
		ua_post_all(st, nx2.nx_id, 0x3f00 | i);
	pthread_mutex_unlock(&st->ls_mtx);
	CHECK(tur(&nx1) == 0x2901);
	for (i = 2; i <= UA_MAX; i++)
		CHECK(tur(&nx1) == (0x3f00 | i));
	CHECK(tur(&nx1) == 0);
	CHECK(tur(&nx2) == 0x2901);
	CHECK(atomic_load(&st->ls_ua_pending) == 0);
}

/* A reload: a LUN added to a target with live nexuses, REPORTED LUNS
 * DATA HAS CHANGED on each LUN, cleared on all of them by REPORT LUNS. */
static void
test_reload(void)
{
	static const char	 text[] = "Target " TNAME "\n"
	    "\tLun 0 Type=nullio,Sectors=2048\n"
	    "\tLun 7 Type=nullio,Sectors=4096\n";
	struct conf		*conf;
	struct lun		*lun0 = lun, *lun7;
	struct scsi_cmd		 c;
	uint8_t			 cdb[16];

	conf = conf_parse_buf("ua2.conf", text, strlen(text));
	CHECK(conf != NULL);
	if (conf == NULL)
		return;
	lun7 = lun_new(conf, TAILQ_FIRST(&conf->conf_targets),
	    TAILQ_LAST(&TAILQ_FIRST(&conf->conf_targets)->ct_luns, conf_luns));
	CHECK(lun7 != NULL && lun_target_add(tgt, lun7) == 0);
	if (lun7 == NULL)
		goto out;
	CHECK(lun_find(tgt, 7) == lun7 && tgt->lt_luns[1] == lun7);
	ua_lun_added(tgt, lun7);
	ua_post_target(tgt, UA_LUNS_CHANGED);
	lun = lun7;
	CHECK(tur(&nx1) == 0x3f0e);
	CHECK(tur(&nx1) == 0);
	CHECK(tur(&nx2) == 0x3f0e);
	CHECK(tur(&nx2) == 0);
	lun = lun0;
	CHECK(tur(&nx2) == 0x3f0e);
	/* REPORT LUNS (on LUN 0) clears it on every LUN of its nexus. */
	ua_post_target(tgt, UA_LUNS_CHANGED);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa0;
	cdb[9] = 64;
	memset(&c, 0, sizeof(c));
	c.sc_nexus = &nx1;
	c.sc_target = tgt;
	c.sc_lun = lun0;
	c.sc_cdb = cdb;
	c.sc_buf = buf;
	c.sc_buf_len = sizeof(buf);
	scsi_exec(&c);
	CHECK(c.sc_status == SCSI_STATUS_GOOD && buf[3] == 16 &&
	    buf[9] == 0 && buf[17] == 7);
	CHECK(tur(&nx1) == 0);
	lun = lun7;
	CHECK(tur(&nx1) == 0);
	CHECK(tur(&nx2) == 0x3f0e);
	lun = lun0;
	CHECK(tur(&nx2) == 0x3f0e);
	lun_target_remove(tgt, lun7);
	CHECK(lun_find(tgt, 7) == NULL && tgt->lt_nluns == 1);
	lun_unref(lun7);
out:
	conf_free(conf);
}

static void
test_cleared_and_end(void)
{
	struct scsi_cmd	c;

	/* Only the nexus whose tasks were cleared learns of it. */
	scsi_tasks_cleared(lun, &nx2);
	CHECK(tur(&nx1) == 0);
	CHECK(tur(&nx2) == 0x2f00);
	/* A SCSI-2 reservation shuts the other out and ends with its nexus;
	 * a nexus that ends takes its pending conditions along. */
	c = run(&nx1, 0x16, 0);
	CHECK(c.sc_status == SCSI_STATUS_GOOD);
	c = run(&nx2, 0x28, 0);
	CHECK(c.sc_status == SCSI_STATUS_RESERVATION_CONFLICT);
	scsi_lun_reset(lun, &nx2);
	CHECK(tur(&nx2) == 0x2903);
	c = run(&nx1, 0x16, 0);		/* the reset released it */
	CHECK(c.sc_status == SCSI_STATUS_CHECK_CONDITION);
	c = run(&nx1, 0x16, 0);
	CHECK(c.sc_status == SCSI_STATUS_GOOD);
	scsi_nexus_end(&nx1);
	CHECK(atomic_load(&lun_state_peek(lun)->ls_ua_pending) == 0);
	c = run(&nx2, 0x16, 0);
	CHECK(c.sc_status == SCSI_STATUS_GOOD);
	scsi_nexus_end(&nx2);
	CHECK(lun_state_peek(lun)->ls_nslots == 0);
	CHECK(lun_state_peek(lun)->ls_res2 == 0);
}

int
main(void)
{
	static const char	 text[] = "Target " TNAME "\n"
	    "\tLun 0 Type=nullio,Sectors=2048\n";
	struct conf		*conf;
	struct lun_table	*tab;

	log_init(1, 0);
	if ((conf = conf_parse_buf("ua.conf", text, strlen(text))) == NULL ||
	    (tab = lun_table_open(conf)) == NULL) {
		printf("FAIL test_ua.c: no LUN table\n");
		return (1);
	}
	tgt = lun_target_find(tab, 1);
	lun = lun_find(tgt, 0);
	nexus(&nx1, 1, "iqn.2026-11.org.ietd:one", 1);
	nexus(&nx2, 2, "iqn.2026-11.org.ietd:two", 2);
	test_basics();
	test_queue();
	test_reload();
	test_cleared_and_end();
	lun_table_free(tab);
	conf_free(conf);
	printf("test_ua: %d checks, %d failed\n", checks, failures);
	return (failures != 0);
}
