#!/usr/bin/env bats
# scsi.bats: SCSI behaviour that iscsi-test-cu cannot show from the
# initiator's side: thin provisioning really frees space in the backing
# file, and a thin LUN that runs out of space says so and io goes on.

load lib/common

setup() {
	common_setup
	need_tool iscsi-readcapacity16 iscsi-inq du
	UNMAP=$(helper iscsi-unmap)
	MNT=
	make_lun "$T/thin.img" 64M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/thin.img,Type=fileio
	Lun 1 Type=nullio,Sectors=20480
EOF
}

teardown() {
	common_teardown_mnt
}

# The tmpfs of the out-of-space test goes after the daemon that used it.
common_teardown_mnt() {
	local m=$MNT
	common_teardown
	if [ -n "$m" ]; then
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		rmdir "$m" 2>/dev/null || true
	fi
}

# KiB the file really occupies.
used_kib() {
	du -k "$1" | cut -f1
}

@test "a file LUN on a filesystem that punches holes reports LBPME and LBPRZ" {
	start_daemon
	run_client iscsi-readcapacity16 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has 'LBPME:1'
	assert_output_has 'LBPRZ:1'
	run_client iscsi-readcapacity16 "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	assert_output_has 'LBPME:0'
	stop_daemon
}

@test "UNMAP through iSCSI frees the blocks of the sparse backing file" {
	start_daemon
	run_client "$UNMAP" -w -l 2048 -n 16384 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	sync "$T/thin.img"
	before=$(used_kib "$T/thin.img")
	[ "$before" -ge 8000 ] || fail "8 MiB written, $before KiB used"
	run_client "$UNMAP" -l 2048 -n 16384 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^GOOD$'
	after=$(used_kib "$T/thin.img")
	[ "$after" -le $((before - 8000)) ] ||
	    fail "UNMAP of 8 MiB: $before KiB before, $after KiB after"
	stop_daemon
}

@test "WRITE SAME with UNMAP and zeroes frees the blocks as well" {
	start_daemon
	run_client "$UNMAP" -w -l 0 -n 8192 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	sync "$T/thin.img"
	before=$(used_kib "$T/thin.img")
	[ "$before" -ge 4000 ] || fail "4 MiB written, $before KiB used"
	run_client "$UNMAP" -W -c 1024 -l 0 -n 8192 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	after=$(used_kib "$T/thin.img")
	[ "$after" -le $((before - 4000)) ] ||
	    fail "WRITE SAME UNMAP of 4 MiB: $before KiB before, $after after"
	stop_daemon
}

@test "UNMAP on a nullio LUN is an unsupported operation code" {
	start_daemon
	run_client "$UNMAP" -l 0 -n 8 "$(iscsi_url "$TARGET" 1)"
	assert_status 1
	assert_output_has '^sense 5/20/00$'
	stop_daemon
}

@test "a thin LUN out of space answers SPACE ALLOCATION FAILED WRITE PROTECT and io keeps serving" {
	MNT=$(mktemp -d "${TMPDIR:-/tmp}/ietd-regress-mnt.XXXXXX")
	if ! mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
		rmdir "$MNT"
		MNT=
		skip "cannot mount a tmpfs here"
	fi
	make_lun "$MNT/full.img" 16M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$MNT/full.img,Type=fileio
	Lun 1 Path=$T/thin.img,Type=fileio
EOF
	start_daemon
	run_client iscsi-readcapacity16 "$(iscsi_url "$TARGET" 0)"
	assert_output_has 'LBPME:1'
	run_client "$UNMAP" -w -l 0 -n 8192 "$(iscsi_url "$TARGET" 0)"
	assert_status 1
	assert_output_has '^sense 7/27/07$'
	wait_for_log 'out of space'
	# Deallocating frees the space, and writes work again.
	run_client "$UNMAP" -l 0 -n 32768 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	run_client "$UNMAP" -w -l 0 -n 256 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	# The other LUN and the daemon were never affected.
	run_client "$UNMAP" -w -l 0 -n 256 "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	run_client iscsi-inq "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	stop_daemon
}
