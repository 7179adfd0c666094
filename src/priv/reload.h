/*
 * reload.h: SIGHUP in the io process.  The parent, which can neither read
 * the configuration nor open a backing store, forwards the signal as
 * MSG_P_RELOAD; io re-reads ietd.conf and applies what can change under
 * live sessions: the LUNs of the targets it serves (see ietd(8)).
 */
#ifndef IETD_RELOAD_H
#define IETD_RELOAD_H

#include "conf.h"

struct io_reactor;

/*
 * Re-read cur->conf_path.  A file that does not parse or verify changes
 * nothing (its errors are logged as "file:line: message").  Otherwise,
 * for every target of cur that the file still has: a LUN whose size
 * changed takes the new size (CAPACITY DATA HAS CHANGED for its
 * nexuses), new LUNs are opened and LUNs gone are taken out (REPORTED
 * LUNS DATA HAS CHANGED for the target's nexuses).  Every other change
 * is logged as needing a restart.  cur itself is left as it is.
 */
void	io_reload(struct io_reactor *, const struct conf *cur);

#endif
