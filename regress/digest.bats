#!/usr/bin/env bats
# digest.bats: CRC32C header and data digests (RFC 7143 13.1) in normal
# and discovery sessions, and what ErrorRecoveryLevel 0 makes of digest
# errors (7.8), driven by the digestpdu helper, which checks the digest
# of every PDU it receives with a CRC32C of its own.

load lib/common

setup() {
	common_setup
	make_lun "$T/lun0.img" 16M
}

teardown() {
	common_teardown
}

# conf [key value]...: one target with LUN 0 and the given session keys.
conf() {
	{
		printf 'Target %s\n\tLun 0 Path=%s,Type=fileio\n' "$TARGET" \
		    "$T/lun0.img"
		while [ $# -ge 2 ]; do
			printf '\t%s %s\n' "$1" "$2"
			shift 2
		done
	} | write_conf
}

digestpdu() {
	run_client "$(helper digestpdu)" -t 10 "$@"
}

@test "a session with CRC32C header and data digests writes and reads back" {
	conf
	start_daemon
	digestpdu 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	assert_output_has "^login header=CRC32C data=CRC32C$"
	assert_output_has "^nop ok$"
	assert_output_has "^write ok$"
	assert_output_has "^read ok$"
	assert_output_has "^logout ok$"
	! grep -q '^error' <<<"$output" || fail "$output"
	assert_log_has "digests: header CRC32C, data CRC32C"
	stop_daemon
}

@test "1 MiB goes out and back by R2T and Data-In to a slow reader with digests" {
	conf
	start_daemon
	digestpdu 127.0.0.1 "$PORT" "$TARGET" big
	assert_status 0
	assert_output_has "^login header=CRC32C data=CRC32C$"
	assert_output_has "^write ok$"
	assert_output_has "^read ok$"
	assert_output_has "^logout ok$"
	stop_daemon
}

@test "a data digest error is rejected (0x02) and corrupt data is never written" {
	conf
	start_daemon
	digestpdu 127.0.0.1 "$PORT" "$TARGET" bad-data
	assert_status 0
	# NOP-Out, SCSI Command with immediate data, Data-Out.
	assert_output_has "^reject reason=0x02 opcode=0x00$"
	assert_output_has "^reject reason=0x02 opcode=0x01$"
	assert_output_has "^reject reason=0x02 opcode=0x05$"
	# The Data-Out's task ends in PROTOCOL SERVICE CRC ERROR.
	assert_output_has "^response itt=0x[0-9a-f]+ status=0x02 sense=0b/47/05$"
	assert_output_has "^read unchanged$"
	assert_output_has "^logout ok$"
	[ "$(log_count 'data digest error')" -eq 3 ] ||
	    fail "expected 3 data digest errors:" "$(cat "$LOG")"
	# The daemon keeps serving.
	digestpdu 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	assert_output_has "^read ok$"
	stop_daemon
}

@test "a header digest error closes the connection and io keeps serving" {
	conf
	start_daemon
	digestpdu 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	io=$(io_pid)
	digestpdu 127.0.0.1 "$PORT" "$TARGET" bad-header
	assert_status 0
	assert_output_has "^nop ok$"
	assert_output_has "^closed$"
	wait_for_log "header digest error"
	digestpdu 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	assert_output_has "^read ok$"
	[ "$(io_pid)" = "$io" ] || fail "io changed from $io to $(io_pid)"
	stop_daemon
}

@test "a discovery session runs SendTargets with both digests" {
	conf
	start_daemon
	digestpdu 127.0.0.1 "$PORT" - discovery
	assert_status 0
	assert_output_has "^login header=CRC32C data=CRC32C$"
	assert_output_has "^text TargetName=$TARGET$"
	assert_output_has "^text TargetAddress=127\\.0\\.0\\.1:$PORT,1$"
	assert_output_has "^logout ok$"
	assert_log_has "digests: header CRC32C, data CRC32C"
	stop_daemon
}

@test "an initiator offering only None gets None from a CRC32C,None target" {
	conf HeaderDigest CRC32C,None DataDigest CRC32C,None
	start_daemon
	digestpdu -o None 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	assert_output_has "^login header=None data=None$"
	assert_output_has "^read ok$"
	! grep -q "digests: header" "$LOG" ||
	    fail "digests in use:" "$(cat "$LOG")"
	stop_daemon
}

@test "a target configured with None answers None to CRC32C,None" {
	conf HeaderDigest None DataDigest None
	start_daemon
	digestpdu -o CRC32C,None 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	assert_output_has "^login header=None data=None$"
	assert_output_has "^read ok$"
	stop_daemon
}

@test "a target requiring CRC32C serves a digesting initiator" {
	conf HeaderDigest CRC32C DataDigest CRC32C
	start_daemon
	digestpdu -o None,CRC32C 127.0.0.1 "$PORT" "$TARGET" io
	assert_status 0
	assert_output_has "^login header=CRC32C data=CRC32C$"
	assert_output_has "^read ok$"
	stop_daemon
}

@test "libiscsi asks for a header digest in discovery and gets it" {
	need_tool iscsi-ls
	conf
	start_daemon
	run_client iscsi-ls "iscsi://127.0.0.1:$PORT?header_digest=crc32c"
	assert_status 0
	assert_output_has "Target:$TARGET "
	assert_log_has "digests: header CRC32C, data None"
	stop_daemon
}

# libiscsi never offers DataDigest, and its tools take no header digest
# for normal sessions: a preloaded wrapper of iscsi_set_header_digest,
# compiled here, makes every session of iscsi-test-cu ask for CRC32C.
@test "iscsi-test-cu's Read10 and Write10 suites pass with header digests" {
	need_tool iscsi-test-cu cc
	cat >"$T/hd.c" <<'EOF2'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <iscsi/iscsi.h>
int
iscsi_set_header_digest(struct iscsi_context *iscsi,
    enum iscsi_header_digest d)
{
	int (*real)(struct iscsi_context *, enum iscsi_header_digest);

	(void)d;
	real = (int (*)(struct iscsi_context *, enum iscsi_header_digest))
	    dlsym(RTLD_NEXT, "iscsi_set_header_digest");
	return (real(iscsi, ISCSI_HEADER_DIGEST_CRC32C));
}
EOF2
	cc -shared -fPIC -o "$T/hd.so" "$T/hd.c" -ldl ||
	    fail "cannot build the wrapper"
	conf
	start_daemon
	for suite in SCSI.Read10 SCSI.Write10; do
		run_client env LD_PRELOAD="$T/hd.so" iscsi-test-cu -d -s \
		    -t "$suite" "$(iscsi_url "$TARGET" 0)"
		assert_status 0
		assert_output_has "^ +tests +[0-9]+ +[0-9]+ +[1-9][0-9]* +0 "
	done
	n=$(log_count "digests: header CRC32C, data None")
	[ "$n" -ge 2 ] || fail "only $n sessions with a header digest:" \
	    "$(cat "$LOG")"
	[ "$(log_count 'digest error')" -eq 0 ] ||
	    fail "digest errors:" "$(cat "$LOG")"
	stop_daemon
}
