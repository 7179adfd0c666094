/*
 * fuzz_conf.c: the ietd.conf parser (src/conf.c), as ietd -n runs it:
 * conf_parse_buf, then conf_verify on what parsed.  Every target of a
 * parsed configuration must be found by its name and its tid, and
 * scrubbing the secrets must leave no secret behind.
 */
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"

static void
check_conf(struct conf *conf)
{
	struct conf_target	*ct;
	struct conf_user	*cu;
	uint32_t		 tid = 0;

	TAILQ_FOREACH(ct, &conf->conf_targets, ct_entry) {
		FUZZ_ASSERT(ct->ct_tid == ++tid);
		FUZZ_ASSERT(conf_target_find_tid(conf, ct->ct_tid) == ct);
		FUZZ_ASSERT(conf_target_find(conf, ct->ct_name) != NULL);
	}
	FUZZ_ASSERT(conf->conf_ntargets == tid);
	conf_scrub_secrets(conf);
	TAILQ_FOREACH(cu, &conf->conf_in_users, cu_entry)
		FUZZ_ASSERT(cu->cu_secret == NULL ||
		    cu->cu_secret[0] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*conf;

	if ((conf = conf_parse_buf("fuzz.conf", (const char *)data,
	    size)) == NULL)
		return (0);
	(void)conf_verify(conf);
	check_conf(conf);
	conf_free(conf);
	return (0);
}
