#!/usr/bin/env bats
# io.bats: normal sessions: login, SCSI commands, data that reads back
# identical (also after a restart), fileio and nullio LUNs.

load lib/common

INITIATOR=iqn.2026-11.org.ietd:regress-verify

setup() {
	common_setup
	need_tool iscsi-inq iscsi-readcapacity16
	VERIFY=$(helper iscsi-verify)
	make_lun "$T/lun0.img" 64M
	make_lun "$T/lun1.img" 8M
	make_lun "$T/ro.img" 4M
	make_lun "$T/big.img" 16M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 1 Path=$T/lun1.img,Type=fileio
	MaxRecvDataSegmentLength 262144
Target $TARGET2
	Lun 0 Type=nullio,Sectors=20480
	Lun 1 Path=$T/ro.img,Type=fileio,IOMode=ro
	Lun 2 Path=$T/big.img,Type=fileio,BlockSize=4096
EOF
	start_daemon
}

teardown() {
	common_teardown
}

@test "iscsi-inq reports a direct-access disk" {
	run_client iscsi-inq "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^Peripheral Device Type:DIRECT_ACCESS'
	assert_output_has '^Vendor:'
	stop_daemon
}

@test "iscsi-inq lists the supported VPD pages 0x00, 0x80 and 0x83" {
	run_client iscsi-inq -e 1 -c 0 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^Page:0x00 '
	assert_output_has '^Page:0x80 '
	assert_output_has '^Page:0x83 '
	stop_daemon
}

@test "iscsi-inq reads the device identification VPD page" {
	# iscsi-inq takes the page code in decimal: 131 is 0x83.
	run_client iscsi-inq -e 1 -c 131 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^Page Code:\(0x83\) DEVICE_IDENTIFICATION'
	assert_output_has '^DEVICE DESIGNATOR #0'
	stop_daemon
}

@test "iscsi-inq reads the unit serial number VPD page" {
	run_client iscsi-inq -e 1 -c 128 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^Unit Serial Number:\[.*[^ ].*\]'
	stop_daemon
}

@test "iscsi-readcapacity16 reports the LUN size and block length" {
	run_client iscsi-readcapacity16 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^LOGICAL BLOCK LENGTH IN BYTES:512$'
	assert_output_has "^RETURNED LOGICAL BLOCK ADDRESS:$((64 * 2048 - 1))$"
	assert_output_has "^Total size:$((64 * 1024 * 1024))$"
	stop_daemon
}

@test "a BlockSize=4096 LUN reports 4096-byte blocks" {
	run_client iscsi-readcapacity16 "$(iscsi_url "$TARGET2" 2)"
	assert_status 0
	assert_output_has '^LOGICAL BLOCK LENGTH IN BYTES:4096$'
	assert_output_has "^Total size:$((16 * 1024 * 1024))$"
	stop_daemon
}

@test "data written with WRITE(16) reads back identical" {
	run_client "$VERIFY" -S -s 11 -l 0 -n 4096 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^verified 4096 blocks'
	stop_daemon
}

@test "data written with WRITE(10) reads back identical" {
	run_client "$VERIFY" -C 10 -s 12 -l 777 -n 1000 -c 7 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^verified 1000 blocks'
	stop_daemon
}

@test "1 MiB commands (several R2Ts and Data-Ins) read back identical" {
	run_client "$VERIFY" -s 13 -l 2048 -n 16384 -c 2048 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^verified 16384 blocks'
	stop_daemon
}

@test "a 4096-byte-block LUN reads back identical" {
	run_client "$VERIFY" -s 14 -n 1024 -c 16 "$(iscsi_url "$TARGET2" 2)"
	assert_status 0
	assert_output_has '^verified 1024 blocks of 4096 bytes'
	stop_daemon
}

@test "data written over iSCSI is in the backing file" {
	run_client "$VERIFY" -w -S -s 15 -l 100 -n 500 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	run "$VERIFY" -F "$T/lun0.img" -s 15 -l 100 -n 500
	assert_status 0
	stop_daemon
}

@test "a wrong pattern does not verify (the helper can fail)" {
	run_client "$VERIFY" -w -s 16 -n 64 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	run_client "$VERIFY" -r -s 17 -n 64 "$(iscsi_url "$TARGET" 0)"
	assert_status 1
	assert_output_has 'mismatch at lba 0'
	stop_daemon
}

@test "two LUNs of one target keep their own data" {
	run_client "$VERIFY" -w -s 21 -n 256 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	run_client "$VERIFY" -w -s 22 -n 256 "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	run_client "$VERIFY" -r -s 21 -n 256 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	run_client "$VERIFY" -r -s 22 -n 256 "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	stop_daemon
}

@test "data survives a daemon restart" {
	run_client "$VERIFY" -w -S -s 31 -l 5000 -n 3000 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	stop_daemon 0
	start_daemon
	run_client "$VERIFY" -r -s 31 -l 5000 -n 3000 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^verified 3000 blocks'
	stop_daemon
}

@test "the last block is writable and a read past the end fails with LBA OUT OF RANGE" {
	local last=$((8 * 2048 - 1))
	run_client "$VERIFY" -s 41 -l "$last" -n 1 "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	run_client "$VERIFY" -R -X -l "$((last + 1))" -n 1 \
	    "$(iscsi_url "$TARGET" 1)"
	assert_status 1
	assert_output_has 'ILLEGAL_REQUEST.*LBA_OUT_OF_RANGE'
	stop_daemon
}

@test "a write that crosses the end fails with LBA OUT OF RANGE" {
	run_client "$VERIFY" -w -X -l "$((8 * 2048 - 2))" -n 4 -c 4 \
	    "$(iscsi_url "$TARGET" 1)"
	assert_status 1
	assert_output_has 'ILLEGAL_REQUEST.*LBA_OUT_OF_RANGE'
	stop_daemon
}

@test "a nullio LUN reports its Sectors and takes reads and writes" {
	run_client iscsi-readcapacity16 "$(iscsi_url "$TARGET2" 0)"
	assert_status 0
	assert_output_has "^Total size:$((20480 * 512))$"
	run_client "$VERIFY" -w -s 51 -n 2048 "$(iscsi_url "$TARGET2" 0)"
	assert_status 0
	run_client "$VERIFY" -R -n 2048 "$(iscsi_url "$TARGET2" 0)"
	assert_status 0
	assert_output_has '^read 2048 blocks'
	stop_daemon
}

@test "an IOMode=ro LUN refuses writes with DATA PROTECT" {
	run_client "$VERIFY" -w -n 8 "$(iscsi_url "$TARGET2" 1)"
	assert_status 1
	assert_output_has 'DATA.PROTECT.*WRITE.PROTECTED'
	cmp -s "$T/ro.img" <(head -c $((4 * 1024 * 1024)) /dev/zero) ||
	    fail "the read-only backing file changed"
	stop_daemon
}

@test "a login to an unknown target fails and the daemon keeps serving" {
	run_client iscsi-inq "$(iscsi_url iqn.2026-11.org.ietd:nothere 0)"
	[ "$status" -ne 0 ] || fail "login to an unknown target succeeded"
	run_client iscsi-inq "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	stop_daemon
}

@test "a successful login is logged with the initiator name" {
	run_client "$VERIFY" -w -n 1 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	wait_for_log "successful login by .*$INITIATOR"
	stop_daemon
}

@test "a logout is logged as connection closed" {
	run_client "$VERIFY" -w -n 1 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	wait_for_log 'connection closed'
	stop_daemon
}

@test "the worker exits once io has the session" {
	run_client "$VERIFY" -n 64 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	wait_for_workers 0 10
	stop_daemon
}

@test "four sessions at once all read back their own data" {
	local i pids=()
	for i in 1 2 3 4; do
		timeout 60 "$VERIFY" -i "$INITIATOR-$i" -s "$((60 + i))" \
		    -l "$((i * 4096))" -n 4096 "$(iscsi_url "$TARGET" 0)" \
		    >"$T/v$i.out" 2>&1 3>&- &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		wait "${pids[i - 1]}" ||
		    fail "session $i failed:" "$(cat "$T/v$i.out")"
	done
	stop_daemon
}

@test "iscsi-perf reads from the LUN for two seconds" {
	need_tool iscsi-perf
	# -t 2: its own run time (a SIGINT from timeout(1) may come twice,
	# which iscsi-perf takes as ABORTED).
	run_client iscsi-perf -t 2 -m 4 -b 64 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	output=$(tr '\r' '\n' <<<"$output")
	assert_output_has 'capacity is 131072 blocks'
	assert_output_has '^iops average [1-9][0-9]* '
	assert_output_has '^finished\.'
	stop_daemon
}

@test "twenty sessions in a row leak no descriptors in the parent or io" {
	local pp io before_p before_io i
	pp=$(parent_pid)
	io=$(io_pid)
	run_client "$VERIFY" -n 8 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	wait_for_workers 0 10
	before_p=$(find "/proc/$pp/fd" -mindepth 1 | wc -l)
	before_io=$(find "/proc/$io/fd" -mindepth 1 | wc -l)
	for ((i = 0; i < 20; i++)); do
		run_client "$VERIFY" -s "$i" -l "$((i * 8))" -n 8 \
		    "$(iscsi_url "$TARGET" $((i % 2)))"
		assert_status 0
	done
	wait_for_workers 0 10
	for ((i = 0; i < 50; i++)); do
		[ "$(find "/proc/$pp/fd" -mindepth 1 | wc -l)" -eq "$before_p" ] &&
		    [ "$(find "/proc/$io/fd" -mindepth 1 | wc -l)" -eq \
		    "$before_io" ] && break
		sleep 0.1
	done
	[ "$(find "/proc/$pp/fd" -mindepth 1 | wc -l)" -eq "$before_p" ] ||
	    fail "parent descriptors: $before_p before, now" \
	    "$(ls -l "/proc/$pp/fd")"
	[ "$(find "/proc/$io/fd" -mindepth 1 | wc -l)" -eq "$before_io" ] ||
	    fail "io descriptors: $before_io before, now" \
	    "$(ls -l "/proc/$io/fd")"
	stop_daemon
}
