#!/usr/bin/env bats
# slowio.bats: a backing store that is slow to flush (slowfs, a FUSE file
# system whose fsync the test holds open) must not stop io: the flush
# runs on an I/O thread while the reactor serves every other command,
# LUN, session and login, and the command that asked for the flush is
# answered when it ends.

load lib/common

setup() {
	common_setup
	[ -e /dev/fuse ] || skip "no /dev/fuse: FUSE is not available here"
	SLOWFS=$(helper slowfs)
	RAW=$(helper iscsi-raw)
	MNT=$T/mnt
	GATE=$T/gate
	mkdir "$MNT"
	truncate -s 16M "$T/slow.img"
	make_lun "$T/fast.img" 16M
	"$SLOWFS" "$T/slow.img" "$GATE" "$MNT" >"$T/slowfs.log" 2>&1 &
	SLOWFS_PID=$!
	for _ in $(seq 100); do
		[ -e "$MNT/lun.img" ] && break
		sleep 0.1
	done
	[ -e "$MNT/lun.img" ] || fail "slowfs did not mount" "$(cat "$T/slowfs.log")"
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$MNT/lun.img,Type=fileio
	Lun 1 Path=$T/fast.img,Type=fileio
EOF
	BG=
}

teardown() {
	rm -f "$GATE"
	[ -z "$BG" ] || kill "$BG" 2>/dev/null || true
	common_teardown_fuse
}

# Unmount first (lazily: io may still hold the file), so that removing
# the work directory does not walk into the FUSE mount.
common_teardown_fuse() {
	umount -l "$MNT" 2>/dev/null || true
	[ -z "${SLOWFS_PID:-}" ] || kill "$SLOWFS_PID" 2>/dev/null || true
	common_teardown
}

# wait_gate suffix what: wait until slowfs holds a call (gate.<suffix>).
wait_gate() {
	local i
	for i in $(seq 200); do
		[ -e "$GATE.$1" ] && return 0
		sleep 0.05
	done
	fail "no $2"
}

# ffpdu_seen pattern: wait (at most 10 s) for a line of $T/ff.out, the
# output of ffpdu in the background; the caller checks what came.
ffpdu_seen() {
	local i
	for i in $(seq 200); do
		grep -q -- "$1" "$T/ff.out" && return 0
		sleep 0.05
	done
	return 0
}

# A flush (gate.held) or a read (gate.rheld) slowfs holds.
wait_held() {
	wait_gate held "flush reached the backing store"
}

wait_rheld() {
	wait_gate rheld "read reached the device"
}

# raw_bg url cdb...: iscsi-raw in the background, output in $T/bg.out.
raw_bg() {
	"$RAW" "$@" >"$T/bg.out" 2>&1 &
	BG=$!
}

# A READ(10) of LBA 0 that must be answered within 10 seconds.
read_now() {
	run timeout 10 "$RAW" -r 4096 "$1" 28 00 00000000 00 0008 00
	assert_status 0
}

# others_answer what: while slowfs holds the command of $BG, the other
# LUN and a new login answer, and that command is not answered.
others_answer() {
	read_now "$(iscsi_url "$TARGET" 1)"
	run timeout 10 iscsi-inq "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	kill -0 "$BG" 2>/dev/null || fail "the $1 was answered while held" \
	    "$(cat "$T/bg.out")"
}

@test "a held SYNCHRONIZE CACHE stops neither other LUNs, the same LUN, nor new logins" {
	start_daemon
	touch "$GATE"
	raw_bg "$(iscsi_url "$TARGET" 0)" 35 00 00000000 00 0000 00
	wait_held
	# Meanwhile: the other LUN, the same LUN and a new session answer.
	read_now "$(iscsi_url "$TARGET" 1)"
	read_now "$(iscsi_url "$TARGET" 0)"
	run timeout 10 iscsi-inq "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	kill -0 "$BG" 2>/dev/null || fail "the flush was answered while held" \
	    "$(cat "$T/bg.out")"
	rm -f "$GATE"
	wait "$BG"
	rc=$?
	BG=
	[ "$rc" -eq 0 ] || fail "SYNCHRONIZE CACHE: exit $rc" "$(cat "$T/bg.out")"
	grep -q '^GOOD$' "$T/bg.out" || fail "not GOOD" "$(cat "$T/bg.out")"
	stop_daemon
}

@test "a FUA write is answered after its flush, and reads back" {
	start_daemon
	pat=$(printf 'f0%.0s' $(seq 512))
	touch "$GATE"
	raw_bg -o "$pat" "$(iscsi_url "$TARGET" 0)" 2a 08 00000010 00 0001 00
	wait_held
	read_now "$(iscsi_url "$TARGET" 1)"
	kill -0 "$BG" 2>/dev/null || fail "the FUA write was answered before" \
	    "its flush" "$(cat "$T/bg.out")"
	released "$GATE" 00000010
	stop_daemon
}

@test "a flush that fails answers MEDIUM ERROR, and io goes on" {
	start_daemon
	touch "$GATE.fail"
	run timeout 20 "$RAW" "$(iscsi_url "$TARGET" 0)" 35 00 00000000 00 0000 00
	assert_output_has '^sense 3/0c/00$'
	assert_log_has 'fdatasync: Input/output error'
	rm -f "$GATE.fail"
	run timeout 20 "$RAW" "$(iscsi_url "$TARGET" 0)" 35 00 00000000 00 0000 00
	assert_status 0
	read_now "$(iscsi_url "$TARGET" 1)"
	stop_daemon
}

@test "SIGTERM while a flush is held: io waits for it, then exits 0" {
	start_daemon
	touch "$GATE"
	raw_bg "$(iscsi_url "$TARGET" 0)" 35 00 00000000 00 0000 00
	wait_held
	io=$(io_pid) || fail "no io process"
	kill -TERM "$DAEMON_PID"
	wait_for_log 'waiting for 1 backing store operation\(s\) to end' 20
	kill -0 "$io" 2>/dev/null || fail "io exited while a flush was running"
	rm -f "$GATE"
	stop_daemon
	assert_log_has 'io: exiting'
}

@test "task attributes: ORDERED waits for an older held flush and holds newer commands; HEAD OF QUEUE does not wait" {
	start_daemon
	touch "$GATE"
	# SIMPLE flush (held), ORDERED read, SIMPLE read, HEAD OF QUEUE read.
	"$(helper ffpdu)" -t 30 127.0.0.1 "$PORT" "$TARGET" \
	    sync:1 attr:2 read:2:0:1 attr:1 read:3:0:1 attr:3 read:4:0:1 \
	    recv:1 recv:3 >"$T/ff.out" 2>&1 &
	BG=$!
	wait_held
	ffpdu_seen 'itt=0x4'
	# Only HEAD OF QUEUE is answered while the flush is held.
	grep -q 'itt=0x4' "$T/ff.out" ||
	    fail "HEAD OF QUEUE waited" "$(cat "$T/ff.out")"
	sleep 0.5
	run grep -E 'itt=0x[123]' "$T/ff.out"
	[ "$status" -ne 0 ] || fail "answered while the flush was held" \
	    "$(cat "$T/ff.out")"
	rm -f "$GATE"
	wait "$BG" || fail "ffpdu failed" "$(cat "$T/ff.out")"
	BG=
	# Then in order: the flush, the ORDERED read, the SIMPLE read.
	run sh -c "grep -oE 'itt=0x[1-4]' '$T/ff.out' | uniq | tr '\n' ' '"
	[ "$output" = "itt=0x4 itt=0x1 itt=0x2 itt=0x3 " ] ||
	    fail "wrong order: $output" "$(cat "$T/ff.out")"
	stop_daemon
}

@test "an ORDERED write held behind a flush keeps its piped data until it runs, and reads back" {
	start_daemon
	# A first write teaches io that LUN 1 (ext4) writes in the event
	# loop; its 64 KiB writes' immediate data is then piped (pipe.bats).
	# An ORDERED one behind a held flush on LUN 0 waits: its data must
	# leave the pipe for a buffer, and be written when the flush ends.
	touch "$GATE"
	"$(helper ffpdu)" -t 30 127.0.0.1 "$PORT" "$TARGET" \
	    lun:1 write:5:300:1:512 recv:1 lun:0 sync:1 lun:1 \
	    attr:2 write:2:8:128:65536 attr:1 write:3:200:128:65536 \
	    recv:1 recv:2 read:4:8:128 read:6:200:128 until:0x21 until:0x21 \
	    >"$T/ff.out" 2>&1 &
	BG=$!
	wait_held
	sleep 0.5
	run grep -E 'rsp itt=0x[123] ' "$T/ff.out"
	[ "$status" -ne 0 ] || fail "answered while the flush was held" \
	    "$(cat "$T/ff.out")"
	rm -f "$GATE"
	wait "$BG" || fail "ffpdu failed" "$(cat "$T/ff.out")"
	BG=
	local w r
	for i in 2:4 3:6; do
		w=$(grep -o "writedata itt=0x${i%:*} hash=[0-9a-f]*" "$T/ff.out")
		r=$(grep -o "readdata itt=0x${i#*:} hash=[0-9a-f]*" "$T/ff.out")
		[ -n "$w" ] && [ "${w##*=}" = "${r##*=}" ] ||
		    fail "write ${i%:*} does not read back" "$(cat "$T/ff.out")"
	done
	run grep -c 'rsp itt=0x[1-6] status=0x00 ' "$T/ff.out"
	[ "$output" = 6 ] || fail "not all GOOD" "$(cat "$T/ff.out")"
	stop_daemon
}

# A slow device under an O_DIRECT (blockio) LUN: its reads and writes
# run on the I/O threads too.
blockio_conf() {
	write_conf <<EOF2
Target $TARGET
	Lun 0 Path=$MNT/lun.img,Type=blockio
	Lun 1 Path=$T/fast.img,Type=fileio
EOF2
}

# blockio_read_held blocks byte: a READ(10) of that many blocks at LBA 3
# of the blockio LUN 0, filled with byte, held by the device while the
# rest goes on, then answered with the data.
blockio_read_held() {
	local n=$(($1 * 512))
	blockio_conf
	start_daemon
	printf "$2%.0s" $(seq "$n") | dd of="$T/slow.img" bs=512 seek=3 \
	    conv=notrunc 2>/dev/null
	touch "$GATE.reads"
	raw_bg -r "$n" "$(iscsi_url "$TARGET" 0)" 28 00 00000003 00 \
	    "$(printf %04x "$1")" 00
	wait_rheld
	others_answer read
	rm -f "$GATE.reads"
	wait "$BG" || fail "READ(10) failed" "$(cat "$T/bg.out")"
	BG=
	grep -q "^data $(printf "$(printf %02x "'$2")%.0s" $(seq "$n"))\$" \
	    "$T/bg.out" || fail "wrong data" "$(cat "$T/bg.out")"
	stop_daemon
}

@test "a blockio read held by the device stops neither other LUNs nor new logins" {
	blockio_read_held 8 a
}

@test "a one-block blockio read (a small, unaligned buffer) held by the device stops nothing else" {
	blockio_read_held 1 b
}

@test "ABORT TASK of a blockio read the device holds: no answer for it, io frees it when the device answers" {
	blockio_conf
	start_daemon
	touch "$GATE.reads"
	"$(helper ffpdu)" -t 20 127.0.0.1 "$PORT" "$TARGET" \
	    read:1:0:8 sleep:300 tmf:2:1:1 until:0x22 sleep:1500 idle:1 \
	    lun:1 read:3:0:8 until:0x25 >"$T/ff.out" 2>&1 &
	BG=$!
	wait_rheld
	ffpdu_seen '^tmf itt=0x2'
	grep -q '^tmf itt=0x2 response=0$' "$T/ff.out" ||
	    fail "ABORT TASK was not answered at once" "$(cat "$T/ff.out")"
	rm -f "$GATE.reads"
	wait "$BG" || fail "ffpdu failed" "$(cat "$T/ff.out")"
	BG=
	run grep -c 'itt=0x1 ' "$T/ff.out"
	[ "$output" = 0 ] || fail "the aborted read was answered" \
	    "$(cat "$T/ff.out")"
	grep -q 'itt=0x3 .*status=0x0\|datain itt=0x3' "$T/ff.out" ||
	    fail "no answer after the abort" "$(cat "$T/ff.out")"
	stop_daemon
}

@test "a connection lost while its blockio read waits for the device: io goes on" {
	blockio_conf
	start_daemon
	touch "$GATE.reads"
	# The session goes while the device holds its read.
	raw_bg -r 4096 "$(iscsi_url "$TARGET" 0)" 28 00 00000000 00 0008 00
	wait_rheld
	kill -KILL "$BG"
	wait "$BG" 2>/dev/null || true
	BG=
	wait_for_log 'connection closed|close conn' 10
	rm -f "$GATE.reads"
	read_now "$(iscsi_url "$TARGET" 0)"
	read_now "$(iscsi_url "$TARGET" 1)"
	stop_daemon
}

@test "a fileio read the file server holds (FUSE, like NFS, cannot say it would wait) stops nothing else" {
	start_daemon
	touch "$GATE.reads"
	raw_bg -r 4096 "$(iscsi_url "$TARGET" 0)" 28 00 00000400 00 0008 00
	wait_rheld
	read_now "$(iscsi_url "$TARGET" 1)"
	run timeout 10 iscsi-inq "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	kill -0 "$BG" 2>/dev/null || fail "the read was answered while held"
	rm -f "$GATE.reads"
	wait "$BG" || fail "READ(10) failed" "$(cat "$T/bg.out")"
	BG=
	stop_daemon
}

# write_held lun: a WRITE(10) of one block of 0x5a at LBA 32 of LUN lun,
# in the background; slowfs holds it.
write_held() {
	pat=$(printf '5a%.0s' $(seq 512))
	touch "$GATE.writes"
	raw_bg -o "$pat" "$(iscsi_url "$TARGET" "$1")" 2a 00 00000020 00 0001 00
	wait_gate wheld "write reached the backing store"
}

# released gate lba: remove the gate file that holds the WRITE(10) of
# $BG; it is answered GOOD, and the block at lba (hex) of LUN 0 reads $pat.
released() {
	rm -f "$1"
	wait "$BG" || fail "WRITE(10) failed" "$(cat "$T/bg.out")"
	BG=
	run "$RAW" -r 512 "$(iscsi_url "$TARGET" 0)" 28 00 "$2" 00 0001 00
	assert_status 0
	assert_output_has "^data $pat\$"
}

# write_lands: release the held write; it lands, on the backing file too.
write_lands() {
	released "$GATE.writes" 00000020
	cmp -s -n 512 -i 16384:0 "$T/slow.img" <(printf '\x5a%.0s' $(seq 512)) ||
	    fail "the write is not on the backing file"
}

@test "a fileio write the file server holds (FUSE, like NFS, cannot say it would wait) stops nothing else" {
	start_daemon
	write_held 0
	others_answer write
	write_lands
	stop_daemon
}

@test "a blockio write held by the device stops neither other LUNs nor new logins" {
	blockio_conf
	start_daemon
	write_held 0
	others_answer write
	write_lands
	stop_daemon
}

@test "ABORT TASK of a write the backing store holds: answered at once; the LUN's later commands wait until the write has landed" {
	start_daemon
	touch "$GATE.writes"
	"$(helper ffpdu)" -t 30 127.0.0.1 "$PORT" "$TARGET" \
	    write:1:0:8:4096 sleep:300 tmf:2:1:1 until:0x22 \
	    lun:1 read:3:0:8 until:0x25 lun:0 read:4:64:8 until:0x25 \
	    >"$T/ff.out" 2>&1 &
	BG=$!
	wait_gate wheld "write reached the backing store"
	ffpdu_seen '^datain itt=0x3 .*flags=0x81'
	grep -q '^tmf itt=0x2 response=0$' "$T/ff.out" ||
	    fail "ABORT TASK was not answered at once" "$(cat "$T/ff.out")"
	grep -q '^datain itt=0x3 .*flags=0x81' "$T/ff.out" ||
	    fail "LUN 1 did not answer" "$(cat "$T/ff.out")"
	# A negative check: the sleep can only let a wrong answer through.
	sleep 1
	grep -q 'itt=0x4 ' "$T/ff.out" &&
	    fail "LUN 0 answered before the aborted write landed" \
	    "$(cat "$T/ff.out")"
	rm -f "$GATE.writes"
	wait "$BG" || fail "ffpdu failed" "$(cat "$T/ff.out")"
	BG=
	grep -q '^datain itt=0x4 .*flags=0x81' "$T/ff.out" ||
	    fail "LUN 0 did not answer after the write" "$(cat "$T/ff.out")"
	run grep -c '^rsp itt=0x1 ' "$T/ff.out"
	[ "$output" = 0 ] || fail "the aborted write was answered" \
	    "$(cat "$T/ff.out")"
	assert_log_has 'the aborted write has landed'
	stop_daemon
}

@test "a connection lost while its write is held: io goes on; the LUN's later commands wait until the write has landed" {
	start_daemon
	write_held 0
	kill -KILL "$BG"
	wait "$BG" 2>/dev/null || true
	BG=
	wait_for_log 'connection closed|close conn' 10
	read_now "$(iscsi_url "$TARGET" 1)"
	raw_bg -r 4096 "$(iscsi_url "$TARGET" 0)" 28 00 00000040 00 0008 00
	sleep 1		# a negative check, as above
	kill -0 "$BG" 2>/dev/null ||
	    fail "LUN 0 answered before the write landed" "$(cat "$T/bg.out")"
	rm -f "$GATE.writes"
	wait "$BG" || fail "READ(10) failed" "$(cat "$T/bg.out")"
	BG=
	cmp -s -n 512 -i 16384:0 "$T/slow.img" <(printf '\x5a%.0s' $(seq 512)) ||
	    fail "the write is not on the backing file"
	stop_daemon
}
