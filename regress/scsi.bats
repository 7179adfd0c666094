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

# raw url cdb-bytes...: one raw CDB through the iscsi-raw helper.
raw() {
	run_client "$(helper iscsi-raw)" "$@"
}

# naa url: the 8-byte NAA designator (hex) of the LUN's VPD page 0x83.
naa() {
	local out len
	out=$("$(helper iscsi-raw)" -r 255 "$1" 12 01 83 00 ff 00 |
	    sed -n 's/^data //p') || return 1
	# Skip the 4-byte page header; walk the designation descriptors.
	out=${out:8}
	while [ ${#out} -ge 8 ]; do
		len=$((16#${out:6:2}))
		if [ "${out:2:2}" = 03 ] && [ "$len" -eq 8 ]; then
			printf '%s\n' "${out:8:16}"
			return 0
		fi
		out=${out:$((8 + 2 * len))}
	done
	return 1
}

# xcopy_td naa: an identification descriptor target descriptor (E4h).
xcopy_td() {
	printf 'e400000001030008%s000000000000000000000000%s' "$1" 00000200
}

# xcopy_list src-naa dst-naa blocks src-lba dst-lba: an EXTENDED COPY
# (LID1) parameter list, list 1 held, with two target descriptors and
# one block-to-block segment descriptor (108 bytes).
xcopy_list() {
	printf '01000040000000000000001c00000000'
	xcopy_td "$1"
	xcopy_td "$2"
	printf '02000018000000010000%04x%016x%016x\n' "$3" "$4" "$5"
}

xcopy_cdb() {
	echo 83 00 00 00 00 00 00 00 00 00 0000006c 00 00
}

@test "a read-only LUN answers every kind of write with DATA PROTECT and keeps its data" {
	head -c 1M /dev/urandom >"$T/ro.img"
	truncate -s 16M "$T/ro.img"
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/ro.img,Type=fileio,IOMode=ro
EOF
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	blk=$(printf '%01024d' 0)
	raw -o "$blk" "$u" 2a 00 00000000 00 0001 00		# WRITE(10)
	assert_output_has '^sense 7/27/00$'
	raw -o "$blk" "$u" 8a 00 0000000000000000 00000001 00 00
	assert_output_has '^sense 7/27/00$'			# WRITE(16)
	raw -o "$blk" "$u" 93 00 0000000000000000 00000008 00 00
	assert_output_has '^sense 7/27/00$'			# WRITE SAME(16)
	raw -o "$blk$blk" "$u" 89 00 0000000000000000 000000 01 00 00
	assert_output_has '^sense 7/27/00$'			# COMPARE AND WRITE
	raw -o "$blk" "$u" 8b 00 0000000000000000 00000001 00 00
	assert_output_has '^sense 7/27/00$'			# ORWRITE(16)
	raw -o "$blk" "$u" 9c 00 0000000000000000 0000 0001 00 00
	assert_output_has '^sense 7/27/00$'			# WRITE ATOMIC(16)
	raw -o "01000004aaaaaaaa" "$u" 48 01 00 00 00 00 00 0008 00
	assert_output_has '^sense 7/27/00$'			# SANITIZE
	raw -o "$blk" "$u" 2e 00 00000000 00 0001 00		# WRITE AND VERIFY
	assert_output_has '^sense 7/27/00$'
	# Reads work, and the file is untouched.
	raw -r 512 "$u" 28 00 00000000 00 0001 00
	assert_status 0
	want=$(head -c 512 "$T/ro.img" | od -An -v -tx1 | tr -d ' \n')
	[ "${output##*data }" = "$want" ] ||
	    fail "READ(10) of a read-only LUN does not return the file's data"
	stop_daemon
}

@test "the new commands' bad CDB fields get ILLEGAL REQUEST with the field pointer" {
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	blk=$(printf '%01024d' 0)
	# WRITE ATOMIC(16): ATOMIC BOUNDARY is not supported (byte 10).
	raw -o "$blk" "$u" 9c 00 0000000000000000 0100 0001 00 00
	assert_output_has '^sense 5/24/00$'
	assert_output_has '^sks cf000a$'
	# ... past the end of the LUN, and longer than the atomic limit.
	raw -o "$blk" "$u" 9c 00 0000000000020000 0000 0001 00 00
	assert_output_has '^sense 5/21/00$'
	raw "$u" 9c 00 0000000000000000 0000 ffff 00 00
	assert_output_has '^sense 5/24/00$'
	assert_output_has '^sks c0000c$'
	# SANITIZE: unknown service action, a reserved byte, a bad length.
	raw "$u" 48 05 00 00 00 00 00 0000 00
	assert_output_has '^sense 5/24/00$'
	assert_output_has '^sks cc0001$'
	raw "$u" 48 02 00 01 00 00 00 0000 00
	assert_output_has '^sks cf0003$'
	raw -o "01000000" "$u" 48 01 00 00 00 00 00 0004 00
	assert_output_has '^sks c00007$'
	# SANITIZE OVERWRITE with OVERWRITE COUNT 0: the parameter list.
	raw -o "00000004aaaaaaaa" "$u" 48 01 00 00 00 00 00 0008 00
	assert_output_has '^sense 5/26/00$'
	# EXTENDED COPY: LID4 is not supported; a list shorter than its
	# header; an unsupported target descriptor type; an unknown LUN.
	raw "$u" 83 01 00 00 00 00 00 00 00 00 00000000 00 00
	assert_output_has '^sks cc0001$'
	raw -o "0100000000000000" "$u" 83 00 00 00 00 00 00 00 00 00 \
	    00000008 00 00
	assert_output_has '^sense 5/1a/00$'
	list=$(xcopy_list 3000000000000000 3000000000000000 1 0 8)
	raw -o "${list:0:32}e0${list:34}" "$u" $(xcopy_cdb)
	assert_output_has '^sense 5/26/07$'
	raw -o "$list" "$u" $(xcopy_cdb)
	assert_output_has '^sense a/08/04$'
	# RECEIVE COPY RESULTS: unknown service action, unknown list.
	raw -r 64 "$u" 84 05 00 00 00 00 00 00 00 00 00000040 00 00
	assert_output_has '^sks cc0001$'
	raw -r 64 "$u" 84 00 07 00 00 00 00 00 00 00 00000040 00 00
	assert_output_has '^sks c00002$'
	stop_daemon
}

@test "EXTENDED COPY copies blocks between LUNs of different block sizes, not to another target" {
	make_lun "$T/a.img" 16M
	make_lun "$T/b.img" 16M
	make_lun "$T/c.img" 16M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/a.img,Type=fileio
	Lun 3 Path=$T/b.img,Type=fileio,BlockSize=4096
Target $TARGET2
	Lun 0 Path=$T/c.img,Type=fileio
EOF
	head -c 1M /dev/urandom >"$T/pattern"
	dd if="$T/pattern" of="$T/a.img" bs=1M seek=1 conv=notrunc \
	    status=none
	start_daemon
	ua=$(iscsi_url "$TARGET" 0)
	ub=$(iscsi_url "$TARGET" 3)
	uc=$(iscsi_url "$TARGET2" 0)
	na=$(naa "$ua") || fail "no NAA designator for $ua"
	nb=$(naa "$ub") || fail "no NAA designator for $ub"
	nc=$(naa "$uc") || fail "no NAA designator for $uc"
	[ "$na" != "$nb" ] && [ "$na" != "$nc" ] ||
	    fail "two LUNs share an NAA designator: $na $nb $nc"
	# 2048 blocks of 512 bytes at LBA 2048 of A (1 MiB) to LBA 512 of
	# B (4096-byte blocks: 2 MiB), sent to LUN B.
	raw -o "$(xcopy_list "$na" "$nb" 2048 2048 512)" "$ub" $(xcopy_cdb)
	assert_status 0
	cmp <(dd if="$T/b.img" bs=1M skip=2 count=1 status=none) \
	    "$T/pattern" || fail "the copy on B differs from A's blocks"
	# Within A, held as list 1 for this I_T nexus (the same ISID in
	# the next session): COPY STATUS reports 1 segment, 1 MiB.
	raw -s 7 -o "$(xcopy_list "$na" "$na" 2048 2048 8192)" "$ua" \
	    $(xcopy_cdb)
	assert_status 0
	cmp <(dd if="$T/a.img" bs=1M skip=4 count=1 status=none) \
	    "$T/pattern" || fail "the copy within A differs"
	raw -s 7 -r 12 "$ua" 84 00 01 00 00 00 00 00 00 00 0000000c 00 00
	assert_output_has '^data 00000008010001'
	assert_output_has '00100000$'
	# Another I_T nexus has no such list.
	raw -s 8 -r 12 "$ua" 84 00 01 00 00 00 00 00 00 00 0000000c 00 00
	assert_output_has '^sense 5/24/00$'
	# Another target's LUN is unreachable, either way; C stays empty.
	raw -o "$(xcopy_list "$na" "$nc" 2048 2048 0)" "$ua" $(xcopy_cdb)
	assert_output_has '^sense a/08/04$'
	raw -o "$(xcopy_list "$nc" "$na" 2048 0 0)" "$uc" $(xcopy_cdb)
	assert_output_has '^sense a/08/04$'
	[ "$(du -k "$T/c.img" | cut -f1)" -eq 0 ] ||
	    fail "the other target's LUN was written"
	stop_daemon
}

@test "COMPARE AND WRITE under concurrent writers from several sessions loses no update" {
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	cc=$(helper iscsi-cawcount)
	pids=()
	for i in 1 2 3 4; do
		"$cc" -i "iqn.2026-11.org.ietd:caw-$i" -l 77 -n 40 "$u" \
		    >"$T/caw.$i" 2>&1 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "a writer failed: $(cat "$T"/caw.*)"
	done
	# 4 sessions x 40 increments: the counter at LBA 77 is 160.
	raw -r 512 "$u" 28 00 0000004d 00 0001 00
	assert_status 0
	count=$((16#$(sed -n 's/^data \(.\{16\}\).*/\1/p' <<<"$output")))
	[ "$count" -eq 160 ] ||
	    fail "counter is $count after 160 increments: $(cat "$T"/caw.*)"
	stop_daemon
}

@test "SANITIZE BLOCK ERASE deallocates every block of a thin LUN" {
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	run_client "$UNMAP" -w -l 4096 -n 16384 "$u"
	assert_status 0
	sync "$T/thin.img"
	before=$(used_kib "$T/thin.img")
	[ "$before" -ge 8000 ] || fail "8 MiB written, $before KiB used"
	raw "$u" 48 02 00 00 00 00 00 0000 00
	assert_status 0
	after=$(used_kib "$T/thin.img")
	[ "$after" -le 64 ] || fail "after BLOCK ERASE $after KiB still used"
	assert_log_has 'sanitized \(block erase\)'
	# The nullio LUN is not thin: BLOCK ERASE is not offered there.
	raw "$(iscsi_url "$TARGET" 1)" 48 02 00 00 00 00 00 0000 00
	assert_output_has '^sense 5/24/00$'
	stop_daemon
}

@test "REPORT TARGET PORT GROUPS agrees with INQUIRY and VPD page 0x83; 3PC is set, with VPD page 0x8F" {
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	raw -r 96 "$u" 12 00 00 00 60 00			# INQUIRY
	assert_status 0
	tpgs=$(sed -n 's/^data .\{10\}\(..\).*/\1/p' <<<"$output")
	[ $((16#$tpgs & 0x30)) -eq 16 ] || fail "TPGS is not 01b: byte 5 $tpgs"
	[ $((16#$tpgs & 0x08)) -eq 8 ] || fail "3PC is not set: byte 5 $tpgs"
	# One group (1), active/optimized, holding relative port 1.
	raw -r 64 "$u" a3 0a 00 00 00 00 00000040 00 00
	assert_output_has '^data 0000000c800100010000000100000001$'
	raw -r 64 "$u" a3 2a 00 00 00 00 00000040 00 00	# extended header
	assert_output_has '^data 0000001010000000800100010000000100000001$'
	raw -r 64 "$u" a3 4a 00 00 00 00 00000040 00 00
	assert_output_has '^sense 5/24/00$'
	# VPD 0x83 names the same relative port and group (types 4 and 5).
	raw -r 255 "$u" 12 01 83 00 ff 00
	assert_output_has '5194000400000001'
	assert_output_has '5195000400000001'
	# VPD 0x86 and 0x8F are listed and answer.
	raw -r 255 "$u" 12 01 00 00 ff 00
	assert_output_has '^data 00000008008083868fb0b1b2$'
	raw -r 255 "$u" 12 01 86 00 ff 00
	assert_output_has '^data 0086003c0003'
	# 0x8F, decoded by sg3_utils' sg_vpd (an independent reader): the
	# copy manager's limits, as RECEIVE COPY RESULTS reports them.
	raw -r 255 "$u" 12 01 8f 00 ff 00
	assert_status 0
	sed -n 's/^data //p' <<<"$output" | sed 's/../& /g' >"$T/8f.hex"
	run sg_vpd --inhex="$T/8f.hex" -p 0x8f
	assert_status 0
	assert_output_has '^  Extended copy\(LID1\)$'
	assert_output_has '^  Receive copy operating parameters$'
	assert_output_has 'Maximum segment descriptor count: 64$'
	assert_output_has 'block -> block \[0x2\]$'
	assert_output_has 'Identification Descriptor \[0xe4\]$'
	assert_output_has 'Maximum segment length: 33554432$'
	raw -r 64 "$u" 84 03 00 00 00 00 00 00 00 00 00 00 00 40 00 00
	assert_output_has '^data 0000002a01000000001000400000090002000000'
	stop_daemon
}

@test "the informational exceptions mode page keeps what MODE SELECT sets" {
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	hdr=0000000000000000
	raw -r 255 "$u" 5a 08 1c 00 00 00 00 00ff 00		# default
	assert_output_has '^data 00120010000000001c0a0800'
	raw -r 255 "$u" 5a 08 5c 00 00 00 00 00ff 00		# changeable
	assert_output_has '1c0a990fffffffffffffffff$'
	raw -o "${hdr}1c0a1004000000640000000300" "$u" 55 10 00 00 00 00 00 0014 00
	assert_status 0
	raw -r 255 "$u" 5a 08 1c 00 00 00 00 00ff 00
	assert_output_has '1c0a100400000064000000030*$'
	# TEST is not changeable; MRIE 7 is reserved.
	raw -o "${hdr}1c0a0c04000000640000000300" "$u" 55 10 00 00 00 00 00 0014 00
	assert_output_has '^sense 5/26/00$'
	raw -o "${hdr}1c0a1007000000640000000300" "$u" 55 10 00 00 00 00 00 0014 00
	assert_output_has '^sense 5/26/00$'
	stop_daemon
}

@test "a blockio LUN does direct I/O, and a write shorter than its block keeps the rest" {
	head -c 1M /dev/urandom >"$T/bio.img"
	truncate -s 16M "$T/bio.img"
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/bio.img,Type=blockio
EOF
	start_daemon
	u=$(iscsi_url "$TARGET" 0)
	# io holds the backing file open with O_DIRECT (octal 040000).
	io=$(io_pid) || fail "no io process"
	fd=$(find "/proc/$io/fd" -lname "$T/bio.img" -printf '%f\n' |
	    head -n 1)
	[ -n "$fd" ] || fail "io does not hold $T/bio.img open"
	flags=$(awk '/^flags:/ { print $2 }' "/proc/$io/fdinfo/$fd")
	[ $((8#$flags & 8#40000)) -ne 0 ] || fail "no O_DIRECT: flags $flags"
	# A 100-byte Data-Out for a one-block WRITE(10) at LBA 3: the first
	# 100 bytes change, the other 412 bytes of the block stay.
	dd if="$T/bio.img" of="$T/rest" bs=1 skip=$((3 * 512 + 100)) \
	    count=412 status=none
	ab=$(printf 'ab%.0s' $(seq 100))
	raw -o "$ab" "$u" 2a 00 00000003 00 0001 00
	raw -r 512 "$u" 28 00 00000003 00 0001 00
	assert_status 0
	[ "${output##*data }" = "$ab$(od -An -v -tx1 "$T/rest" | tr -d ' \n')" ] ||
	    fail "block 3 after a 100-byte write: ${output##*data }"
	# The file itself has it (no page cache in between).
	cmp <(dd if="$T/bio.img" bs=512 skip=3 count=1 status=none) \
	    <(printf '\xab%.0s' $(seq 100); cat "$T/rest") ||
	    fail "the file differs"
	stop_daemon
}
