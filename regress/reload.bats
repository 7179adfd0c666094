#!/usr/bin/env bats
# reload.bats: SIGHUP makes io re-read ietd.conf and apply what changed in
# the LUNs of the targets it serves: a size (CAPACITY DATA HAS CHANGED),
# a Lun line added or removed (REPORTED LUNS DATA HAS CHANGED); sessions
# already logged in see it through unit attentions.  A broken file
# changes nothing; what a reload cannot apply is logged.

load lib/common

setup() {
	common_setup
	HOLD=$(helper iscsi-hold)
}

teardown() {
	[ -z "${LOOPDEV:-}" ] || losetup -d "$LOOPDEV" 2>/dev/null || true
	common_teardown
}

# conf_luns id...: target $TARGET with fileio LUN id at $T/lunID.img for
# each id (made, 16 MiB, when missing).
conf_luns() {
	local id
	{
		echo "Target $TARGET"
		for id; do
			[ -e "$T/lun$id.img" ] || make_lun "$T/lun$id.img" 16M
			echo "	Lun $id Path=$T/lun$id.img,Type=fileio"
		done
	} | write_conf
}

# hup: kill -HUP the pid in the pidfile, as an admin does, and wait for
# the reload to end (or to be refused).
hup() {
	local pat='reload: (done|.* has errors)' n
	n=$(log_count "$pat")
	kill -HUP "$(parent_pid)"
	wait_for_log_count "$pat" $((n + 1)) 20
}

# hold name lun step...: iscsi-hold on $TARGET/lun in the background,
# output to $T/name.out.
hold() {
	local name=$1 lun=$2
	shift 2
	"$HOLD" "$(iscsi_url "$TARGET" "$lun")" "$@" >"$T/$name.out" \
	    2>&1 &
	HOLD_PIDS[$name]=$!
	CLIENT_PIDS+=($!)
}

# hold_end name: wait for it (at most 60 s) and check it exited 0.
hold_end() {
	local name=$1 pid=${HOLD_PIDS[$1]} i st=0
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$pid" || st=$?
	[ "$st" -eq 0 ] || fail "iscsi-hold $name exited $st:" \
	    "$(cat "$T/$name.out")"
}

# expect name: $T/name.out is exactly stdin.
expect() {
	diff -u - "$T/$1.out" >&2 || fail "iscsi-hold $1: unexpected output"
}

declare -A HOLD_PIDS

@test "a file LUN grown: CAPACITY DATA HAS CHANGED once, then the new size, and reads and writes past the old end" {
	conf_luns 0
	start_daemon
	hold a 0 cap wait "$T/w" tur tur cap read 40000 1 \
	    write 40000 2 0x5a read 40001 1
	wait_file "$T/w.ready"
	truncate -s 32M "$T/lun0.img"
	hup
	assert_log_has 'reload: iqn[^ ]*: lun 0: capacity changed from 32768 to 65536 blocks'
	touch "$T/w.go"
	hold_end a
	expect a <<EOF
cap: GOOD blocks=32768 bs=512
wait: GOOD
tur: sense 6/2a/09
tur: GOOD
cap: GOOD blocks=65536 bs=512
read: GOOD 0000000000000000
write: GOOD
read: GOOD 5a5a5a5a5a5a5a5a
EOF
	stop_daemon 0
}

@test "a file LUN shrunk: CAPACITY DATA HAS CHANGED, then reads past the new end are refused" {
	make_lun "$T/lun0.img" 32M
	conf_luns 0
	start_daemon
	hold a 0 cap wait "$T/w" read 100 1 cap read 40000 1 read 32767 1
	wait_file "$T/w.ready"
	truncate -s 16M "$T/lun0.img"
	hup
	touch "$T/w.go"
	hold_end a
	expect a <<EOF
cap: GOOD blocks=65536 bs=512
wait: GOOD
read: sense 6/2a/09
cap: GOOD blocks=32768 bs=512
read: sense 5/21/00
read: GOOD 0000000000000000
EOF
	stop_daemon 0
}

@test "SIGHUP with nothing changed applies nothing and raises no unit attention" {
	conf_luns 0
	start_daemon
	hold a 0 wait "$T/w" tur
	wait_file "$T/w.ready"
	hup
	assert_log_has 'reload: done, 0 changes applied'
	touch "$T/w.go"
	hold_end a
	expect a <<EOF
wait: GOOD
tur: GOOD
EOF
	stop_daemon 0
}

@test "a Lun line added: REPORTED LUNS DATA HAS CHANGED, REPORT LUNS lists it and clears it, and both old and new sessions use the LUN" {
	conf_luns 0
	start_daemon
	hold a 0 luns wait "$T/w" tur luns tur lun 1 tur cap write 8 1 0xa5 \
	    read 8 1
	wait_file "$T/w.ready"
	conf_luns 0 1
	hup
	assert_log_has 'reload: iqn[^ ]*: lun 1 added'
	touch "$T/w.go"
	hold_end a
	expect a <<EOF
luns: GOOD 0
wait: GOOD
tur: sense 6/3f/0e
luns: GOOD 0 1
tur: GOOD
tur: GOOD
cap: GOOD blocks=32768 bs=512
write: GOOD
read: GOOD a5a5a5a5a5a5a5a5
EOF
	hold b 1 luns read 8 1
	hold_end b
	expect b <<EOF
luns: GOOD 0 1
read: GOOD a5a5a5a5a5a5a5a5
EOF
	stop_daemon 0
}

@test "a Lun line removed while another session reads it: no crash, the LUN answers LOGICAL UNIT NOT SUPPORTED" {
	local io
	conf_luns 0 1
	start_daemon
	io=$(io_pid)
	# Reads of 128 KiB go out with sendfile(2) from the LUN's file.
	hold r 1 readloop "$T/stop" 256
	if command -v iscsi-perf >/dev/null 2>&1; then
		iscsi-perf -m 16 -b 256 "$(iscsi_url "$TARGET" 1)" \
		    >"$T/perf.out" 2>&1 &
		CLIENT_PIDS+=($!)
	fi
	hold a 0 wait "$T/w" tur luns lun 1 tur read 0 1
	wait_file "$T/stop.ready"
	wait_file "$T/w.ready"
	conf_luns 0
	hup
	assert_log_has 'reload: iqn[^ ]*: lun 1 removed'
	touch "$T/w.go"
	hold_end a
	hold_end r
	expect a <<EOF
wait: GOOD
tur: sense 6/3f/0e
luns: GOOD 0
tur: sense 5/25/00
read: sense 5/25/00
EOF
	grep -q '^readloop: sense 5/25/00$' "$T/r.out" ||
	    fail "the reader did not get LOGICAL UNIT NOT SUPPORTED:" \
	    "$(cat "$T/r.out")"
	[ "$(io_pid)" = "$io" ] || fail "io is not the same process"
	stop_daemon 0
}

@test "a configuration that does not parse: file:line in the log and nothing changes" {
	conf_luns 0
	start_daemon
	hold a 0 wait "$T/w" tur luns
	wait_file "$T/w.ready"
	truncate -s 32M "$T/lun0.img"
	make_lun "$T/lun1.img" 16M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 1 Path=$T/lun1.img,Type=bogus
EOF
	hup
	assert_log_has "$CONF:3: "
	assert_log_has "reload: $CONF has errors: nothing changed"
	touch "$T/w.go"
	hold_end a
	expect a <<EOF
wait: GOOD
tur: GOOD
luns: GOOD 0
EOF
	stop_daemon 0
}

@test "a new target, new users and changed session keys are logged as needing a restart" {
	conf_luns 0
	start_daemon
	make_lun "$T/t2.img" 16M
	write_conf <<EOF
Target $TARGET
	IncomingUser joe secretsecret12
	MaxConnections 2
	Lun 0 Path=$T/lun0.img,Type=fileio
Target $TARGET2
	Lun 0 Path=$T/t2.img,Type=fileio
EOF
	hup
	assert_log_has "reload: $CONF:5: target $TARGET2 is new: needs a restart"
	assert_log_has "target $TARGET: IncomingUser or OutgoingUser changed: needs a restart"
	assert_log_has "target $TARGET: session keys changed: needs a restart"
	run iscsi-ls "iscsi://127.0.0.1:$PORT"
	[[ $output != *"$TARGET2"* ]] ||
	    fail "the new target is served before a restart:" "$output"
	stop_daemon 0
}

@test "a LUN whose Path changed is logged as needing a restart and keeps its backing store" {
	conf_luns 0
	start_daemon
	make_lun "$T/other.img" 32M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/other.img,Type=fileio
EOF
	hup
	assert_log_has "lun 0: Path or Type changed: needs a restart"
	hold a 0 cap
	hold_end a
	expect a <<EOF
cap: GOOD blocks=32768 bs=512
EOF
	stop_daemon 0
}

@test "a nullio LUN whose Sectors changed: CAPACITY DATA HAS CHANGED and the new size" {
	write_conf <<EOF2
Target $TARGET
	Lun 0 Type=nullio,Sectors=2048
EOF2
	start_daemon
	hold a 0 cap wait "$T/w" tur cap read 3000 1
	wait_file "$T/w.ready"
	write_conf <<EOF2
Target $TARGET
	Lun 0 Type=nullio,Sectors=4096
EOF2
	hup
	touch "$T/w.go"
	hold_end a
	expect a <<EOF2
cap: GOOD blocks=2048 bs=512
wait: GOOD
tur: sense 6/2a/09
cap: GOOD blocks=4096 bs=512
read: GOOD 0000000000000000
EOF2
	stop_daemon 0
}

@test "a blockio LUN on a block device that grew (as lvextend does): CAPACITY DATA HAS CHANGED and the new size" {
	need_tool losetup blockdev
	make_lun "$T/disk.img" 16M
	LOOPDEV=$(losetup -f --show "$T/disk.img" 2>/dev/null) ||
	    skip "no loop device to attach"
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$LOOPDEV,Type=blockio
EOF
	start_daemon
	hold a 0 cap wait "$T/w" tur cap write 40000 1 0x3c read 40000 1
	wait_file "$T/w.ready"
	truncate -s 32M "$T/disk.img"
	losetup -c "$LOOPDEV"
	[ "$(blockdev --getsize64 "$LOOPDEV")" = 33554432 ] ||
	    fail "$LOOPDEV did not grow"
	hup
	touch "$T/w.go"
	hold_end a
	expect a <<EOF
cap: GOOD blocks=32768 bs=512
wait: GOOD
tur: sense 6/2a/09
cap: GOOD blocks=65536 bs=512
write: GOOD
read: GOOD 3c3c3c3c3c3c3c3c
EOF
	stop_daemon 0
}

@test "a LUN removed and added again keeps its APTPL registrations; while removed it answers LOGICAL UNIT NOT SUPPORTED" {
	local pr url
	pr=$(helper iscsi-pr)
	url=$(iscsi_url "$TARGET" 1)
	make_lun "$T/lun0.img" 16M
	make_lun "$T/lun1.img" 16M
	write_conf <<EOF
StateDir $T/state
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 1 Path=$T/lun1.img,Type=fileio
EOF
	start_daemon
	run_client "$pr" "$url" "register 0 0x11 a" "pr-reserve 0x11 3" "keys"
	assert_status 0
	assert_output_has '^1 keys: GOOD gen=1 0x11$'
	sed -i '/Lun 1/d' "$CONF"
	hup
	assert_log_has 'lun 1 removed'
	# libiscsi's login checks its LUN: reach LUN 1 through LUN 0.
	hold a 0 lun 1 tur
	hold_end a
	expect a <<EOF
tur: sense 5/25/00
EOF
	[ -s "$T/state/$TARGET,1.pr" ] || fail "the state file is gone"
	echo "	Lun 1 Path=$T/lun1.img,Type=fileio" >>"$CONF"
	hup
	assert_log_has "$T/state/$TARGET,1.pr: 1 registration\\(s\\), reserved"
	run_client "$pr" "$url" "keys" "resv"
	assert_output_has '^1 keys: GOOD gen=1 0x11$'
	assert_output_has '^1 resv: GOOD gen=1 type=3 key=0x11$'
	stop_daemon 0
}
