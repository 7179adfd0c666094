/*
 * reload.c: SIGHUP in the io process (ietd(8) SIGNALS).
 *
 * io re-reads the configuration file with the start-up parser.  If it
 * does not parse or verify, nothing changes.  Otherwise, for each target
 * io serves that the file still names:
 *
 *  - a LUN whose Path and Type are unchanged takes the size its backing
 *    store has now (fstat, BLKGETSIZE64; nullio: Sectors=), and if that
 *    changed, every I_T nexus of the LUN gets CAPACITY DATA HAS CHANGED
 *    (2Ah/09h, SBC-4 4.8);
 *  - a Lun line that is new is opened as at start-up and a Lun line that
 *    is gone takes its LUN out of the target (lun.h says when it is
 *    freed); either way every nexus of the target gets REPORTED LUNS
 *    DATA HAS CHANGED (3Fh/0Eh, SAM-5 5.14) on each LUN it can still
 *    address, and REPORT LUNS clears it (ua.c).
 *
 * Everything else (targets added or removed, users, secrets, ACLs,
 * session keys, Wthreads, IOThreads, a LUN's Path, Type or other
 * options) is left as it was and logged once per reload as needing a
 * restart.  io runs this between two events of its loop with every
 * reactor stopped (io_exclusive), so no command is half-way through.
 */
#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "conf.h"
#include "log.h"
#include "sandbox.h"
#include "priv/lun.h"
#include "priv/pr.h"
#include "priv/reload.h"
#include "priv/session.h"

#define RESTART		"needs a restart"

static bool
users_same(const struct conf_users *a, const struct conf_users *b)
{
	const struct conf_user	*x, *y;

	for (x = TAILQ_FIRST(a), y = TAILQ_FIRST(b); x != NULL && y != NULL;
	    x = TAILQ_NEXT(x, cu_entry), y = TAILQ_NEXT(y, cu_entry))
		if (strcmp(x->cu_name, y->cu_name) != 0 ||
		    strcmp(x->cu_secret, y->cu_secret) != 0)
			return (false);
	return (x == NULL && y == NULL);
}

static bool
pat_same(const struct acl_pat *a, const struct acl_pat *b)
{
	return (a->ap_kind == b->ap_kind &&
	    strcmp(a->ap_text != NULL ? a->ap_text : "",
	    b->ap_text != NULL ? b->ap_text : "") == 0);
}

static bool
acl_same(const struct acl *a, const struct acl *b)
{
	const struct acl_rule	*x, *y;
	size_t			 i;

	if (a == NULL || b == NULL)
		return (a == b);
	for (x = TAILQ_FIRST(&a->acl_rules), y = TAILQ_FIRST(&b->acl_rules);
	    x != NULL && y != NULL;
	    x = TAILQ_NEXT(x, ar_entry), y = TAILQ_NEXT(y, ar_entry)) {
		if (x->ar_allow != y->ar_allow || x->ar_npats != y->ar_npats ||
		    !pat_same(&x->ar_target, &y->ar_target))
			return (false);
		for (i = 0; i < x->ar_npats; i++)
			if (!pat_same(&x->ar_pats[i], &y->ar_pats[i]))
				return (false);
	}
	return (x == NULL && y == NULL);
}

static bool
str_same(const char *a, const char *b)
{
	return (strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0);
}

/* What the whole file says outside the targets. */
static void
reload_global(const struct conf *cur, const struct conf *nc)
{
	const struct conf_target	*ct;

	if (!users_same(&cur->conf_in_users, &nc->conf_in_users) ||
	    !users_same(&cur->conf_out_users, &nc->conf_out_users))
		log_warnx("reload: discovery IncomingUser or OutgoingUser "
		    "changed: " RESTART);
	if (!acl_same(cur->conf_acl, nc->conf_acl))
		log_warnx("reload: initiator access rules (InitiatorAllow, "
		    "InitiatorDeny, initiators.allow, initiators.deny) "
		    "changed: " RESTART);
	if (cur->conf_nchap_order != nc->conf_nchap_order ||
	    memcmp(cur->conf_chap_order, nc->conf_chap_order,
	    sizeof(cur->conf_chap_order)) != 0)
		log_warnx("reload: CHAPAlgorithms changed: " RESTART);
	if (!str_same(cur->conf_state_dir, nc->conf_state_dir))
		log_warnx("reload: StateDir changed: " RESTART);
	if (conf_io_threads(cur) != conf_io_threads(nc))
		log_warnx("reload: Wthreads changed (%u I/O threads, %u "
		    "wanted): " RESTART, conf_io_threads(cur),
		    conf_io_threads(nc));
	if (conf_reactors(cur) != conf_reactors(nc))
		log_warnx("reload: IOThreads changed (%u reactor threads, %u "
		    "wanted): " RESTART, conf_reactors(cur), conf_reactors(nc));
	TAILQ_FOREACH(ct, &nc->conf_targets, ct_entry)
		if (conf_target_find(cur, ct->ct_name) == NULL)
			log_warnx("reload: %s:%d: target %s is new: " RESTART,
			    nc->conf_path, ct->ct_line, ct->ct_name);
	TAILQ_FOREACH(ct, &cur->conf_targets, ct_entry)
		if (conf_target_find(nc, ct->ct_name) == NULL)
			log_warnx("reload: target %s is no longer configured "
			    "but still served: " RESTART, ct->ct_name);
}

/* A target's own settings, apart from its LUNs. */
static void
reload_target_keys(const struct conf_target *o, const struct conf_target *n,
    const char *path)
{
	if (!users_same(&o->ct_in_users, &n->ct_in_users) ||
	    !users_same(&o->ct_out_users, &n->ct_out_users))
		log_warnx("reload: %s:%d: target %s: IncomingUser or "
		    "OutgoingUser changed: " RESTART, path, n->ct_line,
		    n->ct_name);
	if (memcmp(o->ct_params, n->ct_params, sizeof(o->ct_params)) != 0)
		log_warnx("reload: %s:%d: target %s: session keys changed: "
		    RESTART, path, n->ct_line, n->ct_name);
	if (!str_same(o->ct_alias, n->ct_alias) ||
	    o->ct_nchap_order != n->ct_nchap_order ||
	    memcmp(o->ct_chap_order, n->ct_chap_order,
	    sizeof(o->ct_chap_order)) != 0)
		log_warnx("reload: %s:%d: target %s: Alias or CHAPAlgorithms "
		    "changed: " RESTART, path, n->ct_line, n->ct_name);
}

static const struct conf_lun *
conf_lun_find(const struct conf_target *ct, uint32_t id)
{
	const struct conf_lun	*cl;

	TAILQ_FOREACH(cl, &ct->ct_luns, cl_entry)
		if (cl->cl_id == id)
			return (cl);
	return (NULL);
}

/* Is the backing store the same (Path, Type)? */
static bool
lun_same_store(const struct lun *lun, const struct conf_lun *cl)
{
	return (lun->lun_cl.cl_type == cl->cl_type &&
	    str_same(lun->lun_path, cl->cl_path));
}

/* The options a reload does not apply (Sectors= it does). */
static bool
lun_same_options(const struct lun *lun, const struct conf_lun *cl)
{
	const struct conf_lun	*o = &lun->lun_cl;

	return (o->cl_iomode == cl->cl_iomode && o->cl_thin == cl->cl_thin &&
	    o->cl_blocksize == cl->cl_blocksize &&
	    strcmp(o->cl_scsi_id, cl->cl_scsi_id) == 0 &&
	    strcmp(o->cl_scsi_sn, cl->cl_scsi_sn) == 0);
}

/* io's RLIMIT_FSIZE caps write offsets: room for the LUN's last byte. */
static int
reload_room(const struct lun *lun, uint64_t nblocks)
{
	if (lun->lun_fd == -1)
		return (0);
	return (sandbox_io_fsize(nblocks * lun->lun_blocksize));
}

/* The LUN's size now; 1 if it changed (and every nexus was told). */
static int
reload_resize(const struct lun_target *lt, struct lun *lun,
    const struct conf_lun *cl, const char *path)
{
	uint64_t	nblocks;

	if (lun_size(lun, cl, &nblocks) == -1) {
		log_warn("reload: %s:%d: %s: lun %u: size", path, cl->cl_line,
		    lt->lt_name, lun->lun_id);
		return (0);
	}
	if (nblocks == lun->lun_nblocks)
		return (0);
	if (nblocks == 0) {
		log_warnx("reload: %s:%d: %s: lun %u: smaller than one block; "
		    "size left at %llu blocks", path, cl->cl_line, lt->lt_name,
		    lun->lun_id, (unsigned long long)lun->lun_nblocks);
		return (0);
	}
	if (reload_room(lun, nblocks) == -1)
		return (0);
	log_info("reload: %s: lun %u: capacity changed from %llu to %llu "
	    "blocks", lt->lt_name, lun->lun_id,
	    (unsigned long long)lun->lun_nblocks,
	    (unsigned long long)nblocks);
	lun->lun_nblocks = nblocks;
	ua_post_lun(lun, UA_CAPACITY_CHANGED);
	return (1);
}

/* LUNs of lt that the target's new lines no longer name; how many. */
static int
reload_remove(struct lun_target *lt, const struct conf_target *nct)
{
	struct lun	*lun;
	size_t		 i;
	int		 n = 0;

	for (i = lt->lt_nluns; i-- > 0;) {
		lun = lt->lt_luns[i];
		if (conf_lun_find(nct, lun->lun_id) != NULL)
			continue;
		if (lun->lun_bg > 0) {
			log_warnx("reload: %s: lun %u: a background operation "
			    "(SANITIZE) is in progress: not removed; send "
			    "SIGHUP again when it has ended", lt->lt_name,
			    lun->lun_id);
			continue;
		}
		log_info("reload: %s: lun %u removed", lt->lt_name,
		    lun->lun_id);
		lun_target_remove(lt, lun);
		lun_unref(lun);
		n++;
	}
	return (n);
}

/* A new Lun line: open it as start-up does.  1 if it was added. */
static int
reload_add(struct io_target *it, const struct conf *nc,
    const struct conf_lun *cl)
{
	struct lun_target	*lt = it->it_lt;
	struct lun		*lun;

	/* it_ct, not the new target: derived identifiers use its tid. */
	if ((lun = lun_new(nc, it->it_ct, cl)) == NULL)
		return (0);
	if (reload_room(lun, lun->lun_nblocks) == -1 ||
	    pr_file_load(lt, lun) == -1 || lun_target_add(lt, lun) == -1) {
		log_warnx("reload: %s:%d: %s: lun %u not added", nc->conf_path,
		    cl->cl_line, lt->lt_name, cl->cl_id);
		lun_unref(lun);
		return (0);
	}
	ua_lun_added(lt, lun);
	log_info("reload: %s: lun %u added (%s, %llu blocks of %u bytes)",
	    lt->lt_name, lun->lun_id, lun->lun_path[0] != '\0' ?
	    lun->lun_path : "nullio", (unsigned long long)lun->lun_nblocks,
	    lun->lun_blocksize);
	return (1);
}

/* One target's LUNs; how many changes were applied. */
static int
reload_target(struct io_target *it, const struct conf *nc,
    const struct conf_target *nct)
{
	struct lun_target	*lt = it->it_lt;
	const struct conf_lun	*cl;
	struct lun		*lun;
	int			 n = 0, inv;
	size_t			 i;

	reload_target_keys(it->it_ct, nct, nc->conf_path);
	inv = reload_remove(lt, nct);
	for (i = 0; i < lt->lt_nluns; i++) {
		lun = lt->lt_luns[i];
		cl = conf_lun_find(nct, lun->lun_id);
		if (cl == NULL)		/* kept: background work */
			continue;
		if (!lun_same_store(lun, cl)) {
			log_warnx("reload: %s:%d: %s: lun %u: Path or Type "
			    "changed: " RESTART, nc->conf_path, cl->cl_line,
			    lt->lt_name, lun->lun_id);
			continue;
		}
		if (!lun_same_options(lun, cl))
			log_warnx("reload: %s:%d: %s: lun %u: IOMode, Thin, "
			    "BlockSize, ScsiId or ScsiSN changed: " RESTART,
			    nc->conf_path, cl->cl_line, lt->lt_name,
			    lun->lun_id);
		/* SanitizeRate: for the next SANITIZE (sanitize.c). */
		lun->lun_cl.cl_sanitize_rate = cl->cl_sanitize_rate;
		n += reload_resize(lt, lun, cl, nc->conf_path);
	}
	TAILQ_FOREACH(cl, &nct->ct_luns, cl_entry)
		if (lun_find(lt, cl->cl_id) == NULL)
			inv += reload_add(it, nc, cl);
	if (inv > 0 && lt->lt_nluns == 0)
		log_warnx("reload: %s: no LUN left to report REPORTED LUNS "
		    "DATA HAS CHANGED on", lt->lt_name);
	if (inv > 0)
		ua_post_target(lt, UA_LUNS_CHANGED);
	return (n + inv);
}

void
io_reload(struct io_reactor *r, const struct conf *cur)
{
	struct conf			*nc;
	const struct conf_target	*nct;
	size_t				 i;
	int				 n = 0;

	log_info("reload: reading %s", cur->conf_path);
	if ((nc = conf_parse(cur->conf_path)) == NULL ||
	    conf_verify(nc) == -1) {
		log_warnx("reload: %s has errors: nothing changed",
		    cur->conf_path);
		conf_free(nc);
		return;
	}
	reload_global(cur, nc);
	for (i = 0; i < r->r_ntargets; i++) {
		nct = conf_target_find(nc, r->r_targets[i].it_lt->lt_name);
		if (nct != NULL)
			n += reload_target(&r->r_targets[i], nc, nct);
	}
	conf_free(nc);
	log_info("reload: done, %d change%s applied", n, n == 1 ? "" : "s");
}
