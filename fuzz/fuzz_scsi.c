/*
 * fuzz_scsi.c: CDB decoding and execution (src/priv/scsi.c, spc.c,
 * sbc.c, pr.c) as io runs a SCSI Command PDU.  LUN 0 is a 1 MiB file,
 * LUN 1 nullio, LUN 2 the same file read-only, LUN 3 not configured.
 * Input: records of a flags byte (bits 0-1 the LUN, bit 2 with an I_T
 * nexus: unit attentions and reservations, bit 3 Data-In may stay in the
 * backing file as for sendfile), a 16-byte CDB, a big-endian
 * 16-bit Expected Data Transfer Length, then for a write that many
 * bytes of Data-Out (zero-filled if the input ends).  Properties: no
 * more is moved than the buffer holds and than the command wants, a
 * CHECK CONDITION carries sense data, a command that succeeds moved
 * what it wanted or all the buffer took, and Data-In left in the file
 * was allowed and lies within it.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"
#include "priv/lun.h"
#include "priv/scsi.h"

#define NLUNS	4
#define LUN0_SIZE	(1 << 20)

static char			 dir[] = "/tmp/fuzz_scsi.XXXXXX";
static char			 file[64];
static struct lun_table		*tab;
static const struct lun_target	*tgt;
static struct scsi_nexus	 nexus;

static void
cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf	*conf;
	char		 text[512];
	int		 fd;

	log_init(1, 0);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(file, sizeof(file), "%s/lun0.img", dir);
	atexit(cleanup);
	if ((fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    ftruncate(fd, LUN0_SIZE) == -1)
		abort();
	close(fd);
	snprintf(text, sizeof(text), "Target iqn.2026-11.org.ietd:fuzz\n"
	    "\tLun 0 Path=%s,Type=fileio\n"
	    "\tLun 1 Type=nullio,Sectors=4096\n"
	    "\tLun 2 Path=%s,Type=fileio,IOMode=ro\n", file, file);
	if ((conf = conf_parse_buf("fuzz_scsi.conf", text,
	    strlen(text))) == NULL || conf_verify(conf) == -1 ||
	    (tab = lun_table_open(conf)) == NULL ||
	    (tgt = lun_target_find(tab, 1)) == NULL)
		abort();
	conf_free(conf);
	nexus.nx_id = 1;
	nexus.nx_target = tgt;
	strlcpy(nexus.nx_initiator, "iqn.2026-11.org.ietd:fuzzer",
	    sizeof(nexus.nx_initiator));
	scsi_nexus_begin(&nexus);
	return (0);
}

static void
check(const struct scsi_cmd *c)
{
	FUZZ_ASSERT(c->sc_xfer_len <= c->sc_buf_len);
	FUZZ_ASSERT(c->sc_sense_len <= SCSI_SENSE_MAX);
	if (c->sc_status == SCSI_STATUS_CHECK_CONDITION)
		FUZZ_ASSERT(c->sc_sense_len >= 8);
	if (c->sc_status == SCSI_STATUS_GOOD)
		FUZZ_ASSERT(c->sc_xfer_len == (c->sc_want_len <
		    c->sc_buf_len ? c->sc_want_len : c->sc_buf_len));
	FUZZ_ASSERT(!c->sc_ref || (c->sc_ref_ok && c->sc_lun->lun_fd >= 0 &&
	    c->sc_ref_off + c->sc_xfer_len <= LUN0_SIZE));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_cmd	 c;
	uint8_t		 cdb[16], *buf;
	size_t		 take;
	uint32_t	 len;
	int		 n = 0;

	while (size >= 19 && n++ < 16) {
		memcpy(cdb, data + 1, sizeof(cdb));
		len = (uint32_t)data[17] << 8 | data[18];
		memset(&c, 0xa5, sizeof(c));	/* outputs must all be set */
		c.sc_nexus = (data[0] & 4) ? &nexus : NULL;
		c.sc_ref_ok = (data[0] & 8) != 0;
		c.sc_piped = false;
		c.sc_done = NULL;	/* cannot wait: scsi_exec finishes */
		c.sc_target = tgt;
		c.sc_lun_id = data[0] & 3;
		c.sc_lun = lun_find(tgt, c.sc_lun_id);
		c.sc_cdb = cdb;
		data += 19;
		size -= 19;
		if ((buf = calloc(1, len > 0 ? len : 1)) == NULL)
			abort();
		if (scsi_cdb_dir(cdb) == SCSI_DIR_WRITE) {
			take = len < size ? len : size;
			memcpy(buf, data, take);
			data += take;
			size -= take;
		}
		c.sc_buf = len > 0 ? buf : NULL;
		c.sc_buf_len = len;
		scsi_exec(&c);
		check(&c);
		free(buf);
	}
	return (0);
}
