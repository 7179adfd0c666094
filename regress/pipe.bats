#!/usr/bin/env bats
# pipe.bats: a WRITE's long immediate data waits in a pipe (spliced from
# the socket) and goes from there into the LUN's file: on tmpfs and on a
# local file system, whole, and drained when the command needs none of
# it (an error, a unit attention, a transfer length under EDTL).

load lib/common

setup() {
	common_setup
	VERIFY=$(helper iscsi-verify)
	HOLD=$(helper iscsi-hold)
	RAW=$(helper iscsi-raw)
	SHM=
	if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
		SHM=$(mktemp -d /dev/shm/ietd-regress.XXXXXX)
		make_lun "$SHM/lun.img" 32M
	fi
	make_lun "$T/lun1.img" 32M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=${SHM:-$T}/lun.img,Type=fileio
	Lun 1 Path=$T/lun1.img,Type=fileio
	MaxRecvDataSegmentLength 262144
	FirstBurstLength 262144
	ImmediateData Yes
EOF
}

teardown() {
	common_teardown
	[ -z "${SHM:-}" ] || rm -rf "$SHM"
}

# pipes_of pid: how many pipes the process holds.
pipes_of() {
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		pipe:*) n=$((n + 1)) ;;
		esac
	done
	echo "$n"
}

# bytes_are file offset len hh: the file's bytes there are all 0xhh.
bytes_are() {
	local got
	got=$(od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -s ' \n' '\n\n' |
	    sed '/^$/d' | sort | uniq -c | awk '{print $1 "x" $2}')
	[ "$got" = "$3x$4" ] ||
	    fail "$1 at $2, $3 bytes: expected all $4, got $got"
}

@test "128 KiB writes to a tmpfs LUN pass through a pipe in io and read back identical" {
	[ -n "$SHM" ] || skip "/dev/shm is not tmpfs"
	start_daemon
	local io
	io=$(io_pid)
	[ "$(pipes_of "$io")" -eq 0 ] || fail "io holds pipes before any write"
	"$HOLD" "$(iscsi_url "$TARGET" 0)" write 0 256 0x5a wait "$T/w" \
	    read 0 256 >"$T/a.out" 2>&1 &
	CLIENT_PIDS+=($!)
	wait_file "$T/w.ready"
	# One pipe (two descriptors) for the connection that wrote.
	[ "$(pipes_of "$io")" -eq 2 ] ||
	    fail "io holds $(pipes_of "$io") pipe ends, expected 2"
	bytes_are "$SHM/lun.img" 0 131072 5a
	touch "$T/w.go"
	run_client "$VERIFY" -S -s 21 -l 512 -n 16384 -c 256 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	assert_output_has '^verified 16384 blocks'
	run "$VERIFY" -F "$SHM/lun.img" -s 21 -l 512 -n 16384
	assert_status 0
	stop_daemon
}

@test "writes of 64 KiB and more to a file LUN on disk read back identical, also in a mix with short ones" {
	start_daemon
	run_client "$VERIFY" -s 22 -n 16384 -c 128 "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	assert_output_has '^verified 16384 blocks'
	run_client "$VERIFY" -S -s 23 -l 100 -n 8000 -c 500 \
	    "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	run_client "$VERIFY" -C 10 -s 24 -l 9000 -n 4000 -c 7 \
	    "$(iscsi_url "$TARGET" 1)"
	assert_status 0
	run "$VERIFY" -F "$T/lun1.img" -s 23 -l 100 -n 8000
	assert_status 0
	run "$VERIFY" -F "$T/lun1.img" -s 24 -l 9000 -n 4000
	assert_status 0
	stop_daemon
}

@test "piped data a command does not take is drained: LBA out of range, a unit attention, then writes go on" {
	start_daemon
	# 65536 blocks; the second write crosses the end.
	"$HOLD" "$(iscsi_url "$TARGET" 1)" write 0 128 0x11 \
	    write 65500 128 0x77 read 0 1 write 128 256 0x22 read 128 1 \
	    wait "$T/w" write 512 128 0x66 write 512 128 0x33 read 512 1 \
	    >"$T/a.out" 2>&1 &
	CLIENT_PIDS+=($!)
	wait_file "$T/w.ready"
	truncate -s 64M "$T/lun1.img"
	kill -HUP "$(parent_pid)"
	wait_for_log 'capacity changed from 65536 to 131072 blocks' 20
	touch "$T/w.go"
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q '^read: .* 3333' "$T/a.out" && break
		sleep 0.1
	done
	diff -u - "$T/a.out" <<EOF || fail "unexpected answers"
write: GOOD
write: sense 5/21/00
read: GOOD 1111111111111111
write: GOOD
read: GOOD 2222222222222222
wait: GOOD
write: sense 6/2a/09
write: GOOD
read: GOOD 3333333333333333
EOF
	bytes_are "$T/lun1.img" 0 65536 11
	bytes_are "$T/lun1.img" 65536 131072 22
	bytes_are "$T/lun1.img" 262144 65536 33
	bytes_are "$T/lun1.img" $((65500 * 512)) $((36 * 512)) 00
	stop_daemon
}

@test "a WRITE whose transfer length is under its 64 KiB of data writes what it names, and the rest is drained" {
	start_daemon
	# A first write tells io that ext4 cannot write without waiting
	# (the LUN's writes are made in the event loop, and piped).  Then
	# a WRITE(16) of 2 blocks at LBA 8 with 64 KiB of 0xab; a piped
	# write after it in the same session must find nothing of it.
	"$HOLD" "$(iscsi_url "$TARGET" 1)" write 1000 1 0x01 \
	    writelong 8 2 0xab 65536 write 256 128 0x44 read 256 1 read 8 1 \
	    >"$T/a.out" 2>&1
	diff -u - "$T/a.out" <<EOF || fail "unexpected answers"
write: GOOD
writelong: GOOD
write: GOOD
read: GOOD 4444444444444444
read: GOOD abababababababab
EOF
	bytes_are "$T/lun1.img" 4096 1024 ab
	bytes_are "$T/lun1.img" 5120 125952 00
	bytes_are "$T/lun1.img" 131072 65536 44
	stop_daemon
}
