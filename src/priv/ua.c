/*
 * ua.c: the per-LUN shared state and unit attentions (SAM-5 5.14,
 * SPC-4 REQUEST SENSE): the life of I_T nexuses, task management effects
 * on logical units, and reporting a pending unit attention.
 *
 * Each LUN keeps one slot per live I_T nexus of its target, made when
 * the nexus begins (scsi_nexus_begin) and dropped when it ends.  A slot
 * queues up to UA_MAX conditions, oldest first, reported one per command
 * (UA_INTLCK_CTRL 0: reporting clears it).  A new condition equal to a
 * queued one is not queued twice, and a reset (29h) supersedes and clears
 * everything queued before it: the reset made those changes moot.  With
 * the conditions raised here (one reset, 2Ah/01h, 03h, 04h, 05h, 09h,
 * 2Fh/00h and 3Fh/0Eh) a queue holds at most eight, so it cannot
 * overflow; should a future condition overflow it, the oldest condition
 * that is not a reset is dropped, keeping the most recent news and the
 * reset.
 *
 * A brand-new nexus gets no POWER ON unit attention.  SAM-5 asks for one
 * after power on, but io's "power on" was its start, long before most
 * nexuses exist; LIO does not raise one for a new session either, and
 * libiscsi and the Linux initiator clear whatever they get after login
 * with TEST UNIT READY.  Raw iSCSI clients (and tests) would otherwise
 * see their first command fail.
 */

#include <sys/types.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "priv/pr.h"
#include "priv/scsi.h"
#include "priv/scsi_impl.h"

/* Serializes the creation of LUN states (not their use). */
static pthread_mutex_t	state_mtx = PTHREAD_MUTEX_INITIALIZER;

struct lun_state *
lun_state_peek(const struct lun *lun)
{
	return (__atomic_load_n(&lun->lun_st, __ATOMIC_ACQUIRE));
}

struct lun_state *
lun_state_get(struct lun *lun)
{
	struct lun_state	*st;

	if ((st = lun_state_peek(lun)) != NULL)
		return (st);
	pthread_mutex_lock(&state_mtx);
	if ((st = lun->lun_st) == NULL) {
		if ((st = calloc(1, sizeof(*st))) == NULL ||
		    pthread_mutex_init(&st->ls_mtx, NULL) != 0) {
			log_warn("lun %u: state", lun->lun_id);
			free(st);
			st = NULL;
		} else {
			st->ls_holder = -1;
			__atomic_store_n(&lun->lun_st, st, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&state_mtx);
	return (st);
}

void
lun_state_free(struct lun *lun)
{
	struct lun_state	*st = lun->lun_st;

	if (st == NULL)
		return;
	pthread_mutex_destroy(&st->ls_mtx);
	free(st->ls_slots);
	free(st->ls_regs);
	free(st->ls_file);
	free(st);
	lun->lun_st = NULL;
}

static struct ua_slot *
slot_find(struct lun_state *st, uint64_t nx)
{
	size_t	i;

	for (i = 0; i < st->ls_nslots; i++)
		if (st->ls_slots[i].us_nx == nx)
			return (&st->ls_slots[i]);
	return (NULL);
}

static void
slot_post(struct lun_state *st, struct ua_slot *us, uint16_t code)
{
	size_t	i, drop;

	if ((code >> 8) == 0x29) {
		atomic_fetch_sub(&st->ls_ua_pending, us->us_n);
		us->us_n = 0;
	}
	for (i = 0; i < us->us_n; i++)
		if (us->us_q[i] == code)
			return;
	if (us->us_n == UA_MAX) {
		for (drop = 0; drop < UA_MAX - 1 &&
		    (us->us_q[drop] >> 8) == 0x29; drop++)
			;
		memmove(&us->us_q[drop], &us->us_q[drop + 1],
		    (UA_MAX - drop - 1) * sizeof(us->us_q[0]));
		us->us_n--;
		atomic_fetch_sub(&st->ls_ua_pending, 1);
	}
	us->us_q[us->us_n++] = code;
	atomic_fetch_add(&st->ls_ua_pending, 1);
}

void
ua_post_all(struct lun_state *st, uint64_t skip, uint16_t code)
{
	size_t	i;

	for (i = 0; i < st->ls_nslots; i++)
		if (st->ls_slots[i].us_nx != skip)
			slot_post(st, &st->ls_slots[i], code);
}

/* The nexus of a slot, for matching initiator ports. */
struct nexus_ref {
	uint64_t		 nr_id;
	const struct scsi_nexus	*nr_nx;
};
static struct nexus_ref	*nexuses;
static size_t		 nnexuses;
static pthread_mutex_t	 nexus_mtx = PTHREAD_MUTEX_INITIALIZER;

void
ua_post_port(struct lun_state *st, const char *name, const uint8_t *isid,
    uint16_t code)
{
	const struct scsi_nexus	*nx;
	size_t			 i, j;

	pthread_mutex_lock(&nexus_mtx);
	for (i = 0; i < nnexuses; i++) {
		nx = nexuses[i].nr_nx;
		if (strcmp(nx->nx_initiator, name) != 0 ||
		    (isid != NULL && memcmp(nx->nx_isid, isid, 6) != 0))
			continue;
		for (j = 0; j < st->ls_nslots; j++)
			if (st->ls_slots[j].us_nx == nx->nx_id)
				slot_post(st, &st->ls_slots[j], code);
	}
	pthread_mutex_unlock(&nexus_mtx);
}

/*
 * I_T nexus life.
 */
void
scsi_nexus_begin(const struct scsi_nexus *nx)
{
	const struct lun_target	*lt = nx->nx_target;
	struct lun_state	*st;
	struct ua_slot		*slots;
	struct nexus_ref	*refs;
	size_t			 i;

	pthread_mutex_lock(&nexus_mtx);
	if ((refs = reallocarray(nexuses, nnexuses + 1,
	    sizeof(*refs))) == NULL)
		log_warn("nexus %llu", (unsigned long long)nx->nx_id);
	else {
		nexuses = refs;
		nexuses[nnexuses].nr_id = nx->nx_id;
		nexuses[nnexuses++].nr_nx = nx;
	}
	pthread_mutex_unlock(&nexus_mtx);
	if (lt == NULL)
		return;
	for (i = 0; i < lt->lt_nluns; i++) {
		if ((st = lun_state_get(lt->lt_luns[i])) == NULL)
			continue;
		pthread_mutex_lock(&st->ls_mtx);
		slots = reallocarray(st->ls_slots, st->ls_nslots + 1,
		    sizeof(*slots));
		if (slots == NULL)
			log_warn("lun %u: unit attention slot",
			    lt->lt_luns[i]->lun_id);
		else {
			st->ls_slots = slots;
			memset(&slots[st->ls_nslots], 0, sizeof(*slots));
			slots[st->ls_nslots++].us_nx = nx->nx_id;
		}
		pthread_mutex_unlock(&st->ls_mtx);
	}
}

void
scsi_nexus_end(const struct scsi_nexus *nx)
{
	const struct lun_target	*lt = nx->nx_target;
	struct lun_state	*st;
	struct ua_slot		*us;
	size_t			 i;

	pthread_mutex_lock(&nexus_mtx);
	for (i = 0; i < nnexuses; i++)
		if (nexuses[i].nr_id == nx->nx_id) {
			nexuses[i] = nexuses[--nnexuses];
			break;
		}
	if (nnexuses == 0) {
		free(nexuses);
		nexuses = NULL;
	}
	pthread_mutex_unlock(&nexus_mtx);
	if (lt == NULL)
		return;
	for (i = 0; i < lt->lt_nluns; i++) {
		if ((st = lun_state_peek(lt->lt_luns[i])) == NULL)
			continue;
		pthread_mutex_lock(&st->ls_mtx);
		if ((us = slot_find(st, nx->nx_id)) != NULL) {
			atomic_fetch_sub(&st->ls_ua_pending, us->us_n);
			*us = st->ls_slots[--st->ls_nslots];
		}
		/* SPC-2: I_T nexus loss releases a SCSI-2 reservation. */
		pr_release_nexus(st, nx->nx_id);
		pthread_mutex_unlock(&st->ls_mtx);
	}
}

/*
 * Task management effects.
 */
static void
lun_reset(struct lun *lun, uint16_t code)
{
	struct lun_state	*st;

	if ((st = lun_state_get(lun)) == NULL)
		return;
	pthread_mutex_lock(&st->ls_mtx);
	/* A reset releases the SCSI-2 reservation, never persistent ones. */
	pr_release_nexus(st, 0);
	ua_post_all(st, 0, code);
	pthread_mutex_unlock(&st->ls_mtx);
}

/* SAM-5 6.3.3: every I_T nexus, the requester's too, learns of it. */
void
scsi_lun_reset(struct lun *lun, const struct scsi_nexus *by)
{
	log_debug(1, "lun %u: logical unit reset by nexus %llu", lun->lun_id,
	    by != NULL ? (unsigned long long)by->nx_id : 0ULL);
	lun_reset(lun, UA_LUN_RESET);
}

void
scsi_target_reset(const struct lun_target *lt, const struct scsi_nexus *by,
    bool cold)
{
	size_t	i;

	log_debug(1, "%s: target %s reset by nexus %llu", lt->lt_name,
	    cold ? "cold" : "warm",
	    by != NULL ? (unsigned long long)by->nx_id : 0ULL);
	for (i = 0; i < lt->lt_nluns; i++)
		lun_reset(lt->lt_luns[i], cold ? UA_POWER_ON :
		    UA_POWER_ON_RESET);
}

void
scsi_tasks_cleared(struct lun *lun, const struct scsi_nexus *victim)
{
	struct lun_state	*st;
	struct ua_slot		*us;

	if ((st = lun_state_get(lun)) == NULL)
		return;
	pthread_mutex_lock(&st->ls_mtx);
	if ((us = slot_find(st, victim->nx_id)) != NULL)
		slot_post(st, us, UA_CMDS_CLEARED);
	pthread_mutex_unlock(&st->ls_mtx);
}

/*
 * Reporting.
 */
/* The oldest pending condition of the command's nexus, taken off the
 * queue; 0 if none. */
static uint16_t
ua_take(struct scsi_cmd *cmd)
{
	struct lun_state	*st;
	struct ua_slot		*us;
	uint16_t		 code = 0;

	if (cmd->sc_lun == NULL || cmd->sc_nexus == NULL ||
	    (st = lun_state_peek(cmd->sc_lun)) == NULL ||
	    atomic_load_explicit(&st->ls_ua_pending,
	    memory_order_relaxed) == 0)
		return (0);
	pthread_mutex_lock(&st->ls_mtx);
	if ((us = slot_find(st, cmd->sc_nexus->nx_id)) != NULL &&
	    us->us_n > 0) {
		code = us->us_q[0];
		memmove(&us->us_q[0], &us->us_q[1],
		    --us->us_n * sizeof(us->us_q[0]));
		atomic_fetch_sub(&st->ls_ua_pending, 1);
	}
	pthread_mutex_unlock(&st->ls_mtx);
	return (code);
}

/* SAM-5 5.14: INQUIRY, REPORT LUNS and REQUEST SENSE run
 * with a unit attention pending; every other command reports it. */
bool
ua_check(struct scsi_cmd *cmd)
{
	uint16_t	code;

	switch (cmd->sc_cdb[0]) {
	case OP_INQUIRY:
	case OP_REPORT_LUNS:
	case OP_REQUEST_SENSE:
		return (true);
	}
	if ((code = ua_take(cmd)) == 0)
		return (true);
	log_debug(2, "lun %u: unit attention %02xh/%02xh",
	    cmd->sc_lun->lun_id, code >> 8, code & 0xff);
	scsi_sense(cmd, SKEY_UNIT_ATTENTION, code >> 8, code & 0xff);
	return (false);
}

bool
ua_take_sense(struct scsi_cmd *cmd, bool desc, uint8_t *d, uint32_t *len)
{
	uint16_t	code;

	if ((code = ua_take(cmd)) == 0)
		return (false);
	if (desc) {
		memset(d, 0, 8);
		d[0] = 0x72;
		d[1] = SKEY_UNIT_ATTENTION;
		d[2] = code >> 8;
		d[3] = code & 0xff;
		*len = 8;
	} else {
		memset(d, 0, FIXED_SENSE_LEN);
		d[0] = 0x70;
		d[2] = SKEY_UNIT_ATTENTION;
		d[7] = FIXED_SENSE_LEN - 8;
		d[12] = code >> 8;
		d[13] = code & 0xff;
		*len = FIXED_SENSE_LEN;
	}
	return (true);
}

/* SPC-4 7.5: the mode pages are shared, so every other nexus learns. */
void
ua_mode_changed(struct scsi_cmd *cmd)
{
	struct lun_state	*st;

	if ((st = lun_state_get(cmd->sc_lun)) == NULL)
		return;
	pthread_mutex_lock(&st->ls_mtx);
	ua_post_all(st, cmd->sc_nexus != NULL ? cmd->sc_nexus->nx_id : 0,
	    UA_MODE_CHANGED);
	pthread_mutex_unlock(&st->ls_mtx);
}

/*
 * A reload changed the logical units (reload.c).
 */
/* A LUN just put into lt: a slot for each live nexus of the target, as
 * scsi_nexus_begin would have made had the LUN been there. */
void
ua_lun_added(const struct lun_target *lt, struct lun *lun)
{
	struct lun_state	*st;
	struct ua_slot		*slots;
	size_t			 i;

	if ((st = lun_state_get(lun)) == NULL)
		return;
	/* The order of ua_post_port, whose caller holds ls_mtx. */
	pthread_mutex_lock(&st->ls_mtx);
	pthread_mutex_lock(&nexus_mtx);
	for (i = 0; i < nnexuses; i++) {
		if (nexuses[i].nr_nx->nx_target != lt ||
		    slot_find(st, nexuses[i].nr_id) != NULL)
			continue;
		slots = reallocarray(st->ls_slots, st->ls_nslots + 1,
		    sizeof(*slots));
		if (slots == NULL) {
			log_warn("lun %u: unit attention slot", lun->lun_id);
			break;
		}
		st->ls_slots = slots;
		memset(&slots[st->ls_nslots], 0, sizeof(*slots));
		slots[st->ls_nslots++].us_nx = nexuses[i].nr_id;
	}
	pthread_mutex_unlock(&nexus_mtx);
	pthread_mutex_unlock(&st->ls_mtx);
}

void
ua_post_lun(struct lun *lun, uint16_t code)
{
	struct lun_state	*st;

	if ((st = lun_state_get(lun)) == NULL)
		return;
	pthread_mutex_lock(&st->ls_mtx);
	ua_post_all(st, 0, code);
	pthread_mutex_unlock(&st->ls_mtx);
}

/* SAM-5 5.14: REPORTED LUNS DATA HAS CHANGED goes to every logical unit
 * the nexus can still address, since it cannot be reported on a LUN
 * that is gone. */
void
ua_post_target(const struct lun_target *lt, uint16_t code)
{
	size_t	i;

	for (i = 0; i < lt->lt_nluns; i++)
		ua_post_lun(lt->lt_luns[i], code);
}

/* Take one condition off a slot's queue, wherever it is. */
static void
slot_clear(struct lun_state *st, struct ua_slot *us, uint16_t code)
{
	size_t	i;

	for (i = 0; i < us->us_n; i++)
		if (us->us_q[i] == code) {
			memmove(&us->us_q[i], &us->us_q[i + 1],
			    (us->us_n - i - 1) * sizeof(us->us_q[0]));
			us->us_n--;
			atomic_fetch_sub(&st->ls_ua_pending, 1);
			return;
		}
}

void
ua_clear_luns_changed(const struct scsi_cmd *cmd)
{
	const struct lun_target	*lt = cmd->sc_target;
	struct lun_state	*st;
	struct ua_slot		*us;
	size_t			 i;

	if (lt == NULL || cmd->sc_nexus == NULL)
		return;
	for (i = 0; i < lt->lt_nluns; i++) {
		if ((st = lun_state_peek(lt->lt_luns[i])) == NULL ||
		    atomic_load_explicit(&st->ls_ua_pending,
		    memory_order_relaxed) == 0)
			continue;
		pthread_mutex_lock(&st->ls_mtx);
		if ((us = slot_find(st, cmd->sc_nexus->nx_id)) != NULL)
			slot_clear(st, us, UA_LUNS_CHANGED);
		pthread_mutex_unlock(&st->ls_mtx);
	}
}
