#!/usr/bin/env bats
# reservations.bats: SCSI-2 and persistent reservations and unit
# attentions across two sessions with different initiator names, and
# persistent reservations with APTPL across a restart and a kill -9.
# The iscsi-pr helper (regress/helpers/iscsi-pr.c) prints one line per
# step: "N op: GOOD ...", "N op: CONFLICT" or "N op: sense K/ASC/ASCQ".

load lib/common

I1=iqn.2026-11.org.ietd:regress-pr-1
I2=iqn.2026-11.org.ietd:regress-pr-2
# The ISIDs iscsi-pr gives its sessions 1 and 2.
P1="$I1,i,0x800100000000"
P2="$I2,i,0x800200000000"

setup() {
	common_setup
	PR=$(helper iscsi-pr)
	STATE=$T/state
	make_lun "$T/lun0.img" 16M
	write_conf <<EOF
StateDir $STATE
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	STATEFILE="$STATE/$TARGET,0.pr"
}

teardown() {
	common_teardown
}

# pr step...: run iscsi-pr on LUN 0 of $TARGET.
pr() {
	run_client "$PR" -i "$I1" -I "$I2" "$(iscsi_url "$TARGET" 0)" "$@"
	assert_status 0
}

# has line: the output of the last pr has exactly this line.
has() {
	grep -Fxq -- "$1" <<<"$output" ||
	    fail "no line '$1' in:" "$output"
}

# kill_all: SIGKILL the parent and io at once, as a crash would.
kill_all() {
	local pp io
	pp=$(parent_pid)
	io=$(io_pid)
	kill -KILL "$io" "$pp"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	log_drained
}

@test "Write Exclusive: the other registrant may read, not write; the holder both" {
	start_daemon
	pr "register 0 0x11" "2:register 0 0x22" "pr-reserve 0x11 1" \
	    "2:read" "2:write" "read" "write" "resv"
	has "2 read: GOOD"
	has "2 write: CONFLICT"
	has "1 read: GOOD"
	has "1 write: GOOD"
	has "1 resv: GOOD gen=2 type=1 key=0x11"
	stop_daemon
}

@test "Exclusive Access Registrants Only: registrants read and write, others neither" {
	start_daemon
	pr "register 0 0x11" "2:register 0 0x22" "pr-reserve 0x11 6" \
	    "2:write" "2:register 0x22 0" "2:read" "2:write" "2:tur"
	has "2 write: GOOD"
	has "2 read: CONFLICT"
	has "2 write: CONFLICT"
	has "2 tur: GOOD"
	stop_daemon
}

@test "a wrong key, or no registration, gets RESERVATION CONFLICT" {
	start_daemon
	pr "register 0 0x11" "register 0x99 0x12" "2:pr-reserve 0x22 1" \
	    "2:register 0x22 0x23" "keys"
	has "1 register: CONFLICT"
	has "2 pr-reserve: CONFLICT"
	has "2 register: CONFLICT"
	has "1 keys: GOOD gen=1 0x11"
	stop_daemon
}

@test "PREEMPT takes the reservation and the other session learns REGISTRATIONS PREEMPTED" {
	start_daemon
	pr "2:tur" "register 0 0x11" "2:register 0 0x22" "pr-reserve 0x11 3" \
	    "2:read" "2:preempt 0x22 0x11 3" "read" "read" "2:read" "resv" \
	    "2:keys"
	has "2 read: CONFLICT"
	has "2 preempt: GOOD"
	has "1 read: sense 6/2a/05"
	has "1 read: CONFLICT"
	has "2 read: GOOD"
	has "1 resv: GOOD gen=3 type=3 key=0x22"
	has "2 keys: GOOD gen=3 0x22"
	stop_daemon
}

@test "PREEMPT AND ABORT without a reservation removes the registrations of a key" {
	start_daemon
	pr "2:tur" "register 0 0x11" "2:register 0 0x22" \
	    "preempt-abort 0x11 0x33 1" "preempt-abort 0x11 0x22 1" "keys" \
	    "resv" "2:tur" "2:keys"
	has "1 preempt-abort: CONFLICT"
	has "1 preempt-abort: GOOD"
	has "1 keys: GOOD gen=3 0x11"
	has "1 resv: GOOD gen=3 none"
	has "2 tur: sense 6/2a/05"
	stop_daemon
}

@test "RELEASE of a registrants only reservation and CLEAR raise their unit attentions" {
	start_daemon
	pr "2:tur" "register 0 0x11" "2:register 0 0x22" \
	    "pr-reserve 0x11 5" "pr-release 0x11 5" "2:tur" "2:tur" \
	    "clear 0x11" "2:tur" "2:keys"
	has "2 tur: sense 6/2a/04"
	has "1 clear: GOOD"
	has "2 tur: sense 6/2a/03"
	has "2 keys: GOOD gen=3"
	stop_daemon
}

@test "RELEASE with another type is an invalid release" {
	start_daemon
	pr "register 0 0x11" "pr-reserve 0x11 1" "pr-release 0x11 3" "resv"
	has "1 pr-release: sense 5/26/04"
	has "1 resv: GOOD gen=1 type=1 key=0x11"
	stop_daemon
}

# plist key sakey flags: a basic PERSISTENT RESERVE OUT parameter list in
# hex (24 bytes; keys as 16 hex digits, flags as 2).
plist() {
	printf '%s%s00000000%s000000' "$1" "$2" "$3"
}

@test "PERSISTENT RESERVE OUT with bad fields gets the sense SPC-4 names" {
	K1=0000000000000011
	K0=0000000000000000
	start_daemon
	pr "raw 0 0 $(plist $K0 $K1 00)00" \
	    "raw 0 0 $(plist $K0 $K1 00 | cut -c3-)" \
	    "raw 0 0 $(plist $K0 $K1 02)" \
	    "raw 6 0 $(plist $K0 $K1 08)00000000" \
	    "raw 0 0 $(plist $K0 $K1 08)000000080600000461626300" \
	    "raw 0 0 $(plist $K0 $K1 08)00000008" \
	    "register 0 0x11" \
	    "raw 1 2 $(plist $K1 $K0 00)" "raw 1 0x11 $(plist $K1 $K0 00)" \
	    "pr-reserve 0x11 1" \
	    "raw 7 0 ${K1}0000000000000022000200020000001841000014$(printf 'x,i,0x800300000000' | od -An -tx1 | tr -d ' \n')0000" \
	    "raw 9 0 $(plist $K1 $K0 00)" "keys"
	[ "$(grep -c ': sense 5/1a/00$' <<<"$output")" -eq 3 ] ||
	    fail "want three PARAMETER LIST LENGTH ERRORs:" "$output"
	[ "$(grep -c ': sense 5/26/00$' <<<"$output")" -eq 4 ] ||
	    fail "want four INVALID FIELD IN PARAMETER LISTs:" "$output"
	[ "$(grep -c ': sense 5/24/00$' <<<"$output")" -eq 3 ] ||
	    fail "want three INVALID FIELD IN CDBs:" "$output"
	has "1 keys: GOOD gen=1 0x11"
	stop_daemon
}

@test "READ FULL STATUS shows iSCSI TransportIDs; SPEC_I_PT and REGISTER AND MOVE" {
	start_daemon
	pr "register 0 0x11 t $P2" "status" "pr-reserve 0x11 1" \
	    "move 0x11 0x33 $P2 unreg" "2:status"
	has "1 register: GOOD"
	has "  0x11 a=1 h=0 type=0 rtp=1 $P1"
	has "  0x11 a=1 h=0 type=0 rtp=1 $P2"
	has "1 move: GOOD"
	has "  0x33 a=1 h=1 type=1 rtp=1 $P2"
	! grep -Fq "$P1" <<<"${output##*2 status}" ||
	    fail "the source was not unregistered:" "$output"
	stop_daemon
}

@test "REPORT CAPABILITIES: SIP_C ATP_C PTPL_C, TMV, all six types" {
	start_daemon
	pr "caps" "register 0 0x11 a" "caps"
	has "1 caps: GOOD 00 08 0d a0 ea 01 00 00"
	has "1 caps: GOOD 00 08 0d a1 ea 01 00 00"
	stop_daemon
}

@test "a SCSI-2 reservation shuts out the other session and ends with its session" {
	start_daemon
	pr "reserve" "2:read" "2:reserve" "2:release" "read" "logout" \
	    "2:reserve" "2:write" "2:release"
	has "2 read: CONFLICT"
	has "2 reserve: CONFLICT"
	has "2 release: GOOD"
	has "1 read: GOOD"
	has "2 write: GOOD"
	stop_daemon
}

@test "a LUN reset ends a SCSI-2 reservation and each session sees 29h/03h once" {
	start_daemon
	pr "2:tur" "reserve" "2:read" "lun-reset" "2:read" "2:read" "tur" \
	    "tur" "2:reserve" "read"
	has "2 read: CONFLICT"
	has "1 lun-reset: GOOD"
	has "2 read: sense 6/29/03"
	has "2 read: GOOD"
	has "1 tur: sense 6/29/03"
	has "1 tur: GOOD"
	has "2 reserve: GOOD"
	has "1 read: CONFLICT"
	stop_daemon
}

@test "persistent reservations outlive a target warm reset" {
	start_daemon
	pr "2:tur" "register 0 0x11" "pr-reserve 0x11 3" "warm-reset" \
	    "2:read" "2:read" "resv" "resv"
	has "1 warm-reset: GOOD"
	has "2 read: sense 6/29/00"
	has "2 read: CONFLICT"
	has "1 resv: sense 6/29/00"
	has "1 resv: GOOD gen=1 type=3 key=0x11"
	stop_daemon
}

@test "RESERVE conflicts with registrations, PERSISTENT RESERVE with RESERVE" {
	start_daemon
	pr "register 0 0x11" "2:reserve10" "2:release10" "register 0x11 0" \
	    "2:reserve10" "keys" "2:keys" "2:release10" "keys"
	has "2 reserve10: CONFLICT"
	has "2 release10: CONFLICT"
	has "2 reserve10: GOOD"
	has "1 keys: CONFLICT"
	has "2 keys: CONFLICT"
	has "1 keys: GOOD gen=2"
	stop_daemon
}

@test "MODE SELECT raises MODE PARAMETERS CHANGED for the other session only" {
	start_daemon
	pr "2:tur" "wce 0" "tur" "2:read" "2:read" "wce 1" "2:sense" "2:tur"
	has "1 tur: GOOD"
	has "2 read: sense 6/2a/01"
	has "2 read: GOOD"
	has "2 sense: GOOD sense 6/2a/01"
	has "2 tur: GOOD"
	stop_daemon
}

@test "APTPL: the reservation survives a restart, and the file says so" {
	start_daemon
	pr "register 0 0x11 a" "2:register 0 0x22 a" "pr-reserve 0x11 3"
	has "1 pr-reserve: GOOD"
	[ "$(stat -c %a "$STATE")" = 700 ] || fail "$STATE is not 0700"
	grep -Fxq "reservation 3 $P1" "$STATEFILE" ||
	    fail "state file:" "$(cat "$STATEFILE")"
	stop_daemon
	start_daemon
	assert_log_has "$STATEFILE: 2 registration\\(s\\), reserved"
	pr "resv" "2:read" "read" "keys"
	has "1 resv: GOOD gen=2 type=3 key=0x11"
	has "2 read: CONFLICT"
	has "1 read: GOOD"
	has "1 keys: GOOD gen=2 0x11 0x22"
	stop_daemon
}

@test "APTPL: the state survives kill -9 right after the command" {
	start_daemon
	pr "register 0 0x11 a" "pr-reserve 0x11 1" "register 0x11 0x12 a"
	has "1 register: GOOD"
	kill_all
	[ ! -e "$STATEFILE.tmp" ] || fail "temporary file left"
	start_daemon
	pr "resv" "2:write"
	has "1 resv: GOOD gen=2 type=1 key=0x12"
	has "2 write: CONFLICT"
	stop_daemon
}

@test "registering without APTPL removes the state file: nothing survives" {
	start_daemon
	pr "register 0 0x11 a" "pr-reserve 0x11 1"
	[ -f "$STATEFILE" ] || fail "no $STATEFILE"
	pr "register 0x11 0x11"
	[ ! -e "$STATEFILE" ] || fail "$STATEFILE is still there"
	stop_daemon
	start_daemon
	pr "keys" "resv"
	has "1 keys: GOOD gen=0"
	has "1 resv: GOOD gen=0 none"
	stop_daemon
}

@test "APTPL: a state that cannot be written is undone and the command fails" {
	start_daemon
	pr "register 0 0x11 a"
	has "1 register: GOOD"
	rm -rf "$STATE"
	pr "2:tur" "register 0x11 0x12 a" "2:register 0 0x22 a" "keys" \
	    "pr-reserve 0x11 1" "resv" "2:tur"
	has "1 register: sense 5/55/04"
	has "2 register: sense 5/55/04"
	has "1 keys: GOOD gen=1 0x11"
	has "1 pr-reserve: sense 5/55/04"
	has "1 resv: GOOD gen=1 none"
	has "2 tur: GOOD"
	assert_log_has "$STATE/.*\\.pr\\.tmp: No such file or directory"
	mkdir -m 700 "$STATE"
	pr "register 0x11 0x12 a" "keys"
	has "1 keys: GOOD gen=2 0x12"
	[ -f "$STATEFILE" ] || fail "no $STATEFILE"
	stop_daemon
}

@test "a corrupt state file stops ietd with file:line and what is wrong" {
	mkdir -m 700 "$STATE"
	printf 'version 1\ngeneration 4\nregister 0x0000000000000011 0 %s\nreservation 9 %s\nend\n' \
	    "$P1" "$P1" >"$STATEFILE"
	run timeout 20 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 -p "$PORT" \
	    -P "$PIDFILE"
	assert_status 1
	assert_output_has "$STATEFILE:4: reservation: bad type"
	printf 'version 1\nregister 0x0000000000000011 0 %s\n' "$P1" \
	    >"$STATEFILE"
	run timeout 20 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 -p "$PORT" \
	    -P "$PIDFILE"
	assert_status 1
	assert_output_has "$STATEFILE:3: truncated: no \"end\" line"
}

# bad_state want line...: a state file of these lines must stop ietd
# with "$STATEFILE:<want>".
bad_state() {
	local want=$1
	shift
	printf '%s\n' "$@" >"$STATEFILE"
	run timeout 20 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 -p "$PORT" \
	    -P "$PIDFILE"
	assert_status 1
	assert_output_has "$STATEFILE:$want"
}

@test "each kind of damage in a state file is named" {
	local r="register 0x0000000000000011 0 $P1"
	mkdir -m 700 "$STATE"
	bad_state '1: want "version 1" first' "version 2" "$r" end
	bad_state '3: register: registered twice' "version 1" "$r" "$r" end
	bad_state '2: register: bad key' "version 1" \
	    "register 0x11 0 $P1" end
	bad_state '3: reservation: the holder is not registered' \
	    "version 1" "$r" "reservation 1 $P2" end
	bad_state '3: reservation: an all registrants type' \
	    "version 1" "$r" "reservation 7 $P1" end
	bad_state '3: register: bad TransportID' "version 1" "$r" \
	    "register 0x0000000000000012 0 $I2,i,0x12" end
	bad_state '3: unknown line' "version 1" "$r" "holder 1" end
	bad_state '4: text after "end"' "version 1" "$r" end "generation 2"
	bad_state '2: bad generation' "version 1" "generation -1" end
}

@test "StateDir must be an absolute path" {
	write_conf <<EOF
StateDir state
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	run "$IETD_BIN" -n -c "$CONF"
	assert_status 1
	assert_output_has "$CONF:1: StateDir state: want an absolute path"
}
