#!/usr/bin/env bats
# reactors.bats: io's reactor threads (IOThreads).  Sessions spread over
# the reactors; I/O on several reactors goes on, with data intact,
# while logins, reloads, reservations, mode pages and task management
# stop all of them in turn; shutdown ends sessions on every reactor.

load lib/common

setup() {
	common_setup
	VERIFY=$(helper iscsi-verify)
	PR=$(helper iscsi-pr)
	make_lun "$T/lun0.img" 64M
	make_lun "$T/lun1.img" 16M
	write_conf <<EOF
IOThreads 3
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 1 Path=$T/lun1.img,Type=fileio
EOF
}

teardown() {
	common_teardown
}

# has line: the output of the last run has exactly this line.
has() {
	grep -Fxq -- "$1" <<<"$output" ||
	    fail "no line '$1' in:" "$output"
}

# verify_loop N: session N writes and reads back its own 2048 blocks of
# LUN 0, with a new seed each round, until $T/stop exists; its exit
# status says whether every round matched.
verify_loop() {
	local n=$1 round=0
	while [ ! -e "$T/stop" ]; do
		round=$((round + 1))
		timeout -k 5 60 "$VERIFY" -i "iqn.2026-11.org.ietd:reactor-$n" \
		    -l $((n * 4096)) -n 2048 -c 16 -s $((n * 1000 + round)) \
		    "$(iscsi_url "$TARGET" 0)" >"$T/verify.$n.out" 2>&1 ||
			return 1
	done
	echo "$round" >"$T/verify.$n.rounds"
}

# stop_loops: end the verify loops started, and fail unless each
# matched in every round and did at least one.
stop_loops() {
	local n st=0
	touch "$T/stop"
	for n in "${!LOOPS[@]}"; do
		wait "${LOOPS[$n]}" || {
			st=1
			echo "session $n:" >&3
			cat "$T/verify.$n.out" >&3
		}
	done
	[ "$st" = 0 ] || fail "a session's data did not read back"
	for n in "${!LOOPS[@]}"; do
		[ "$(cat "$T/verify.$n.rounds")" -ge 1 ] ||
			fail "session $n did no round"
	done
}

# start_loops N: N verify loops, as sessions 0 to N-1.
start_loops() {
	local n
	LOOPS=()
	for ((n = 0; n < $1; n++)); do
		verify_loop "$n" &
		LOOPS+=($!)
	done
}

@test "sessions spread over the reactors, one connection count apart" {
	start_daemon
	assert_log_has "io: 3 reactor threads"
	start_loops 6
	wait_for_log_count "session_create: .* on reactor" 6 20
	stop_loops
	for r in 0 1 2; do
		[ "$(log_count "session_create: .* on reactor $r\$")" -ge 1 ] ||
			fail "no session went to reactor $r"
	done
}

@test "I/O on every reactor stays intact while the others' work stops them all" {
	local i
	start_daemon
	start_loops 4
	# Commands and events that run with every reactor stopped.
	for ((i = 0; i < 8; i++)); do
		run_client iscsi-inq "$(iscsi_url "$TARGET" 1)"
		assert_status 0
		run_client "$PR" "$(iscsi_url "$TARGET" 1)" "2:tur" \
		    "ignore 0x1$i" keys "wce 1" "sense" "lun-reset" "2:tur" "logout"
		assert_status 0
		has "1 lun-reset: GOOD"
		has "2 tur: sense 6/29/03"
		kill -HUP "$(parent_pid)"
	done
	wait_for_log_count "session_create: .* on reactor" 20 30
	stop_loops
	kill -0 "$(io_pid)" || fail "io is gone"
}

@test "a LUN reset on one reactor reaches a session's task on another" {
	start_daemon
	# Session 1 holds a SCSI-2 reservation; session 2 (the next
	# reactor) resets the LUN, which releases it: both see 29h/03h.
	run_client "$PR" "$(iscsi_url "$TARGET" 1)" "tur" "2:tur" "reserve" \
	    "2:read" "2:lun-reset" "read" "2:read" "2:write"
	assert_status 0
	has "2 read: CONFLICT"
	has "2 lun-reset: GOOD"
	has "1 read: sense 6/29/03"
	has "2 read: sense 6/29/03"
	has "2 write: GOOD"
	[ "$(log_count "session_create: .* on reactor 0\$")" -ge 1 ] &&
	    [ "$(log_count "session_create: .* on reactor 1\$")" -ge 1 ] ||
		fail "the two sessions shared a reactor"
}

@test "a stop logs out sessions on every reactor" {
	start_daemon
	start_loops 3
	wait_for_log_count "session_create: .* on reactor" 3 20
	stop_daemon
	touch "$T/stop"
	wait "${LOOPS[@]}" || true
	assert_log_has "io: reactor threads stopped"
	assert_log_has "exiting"
}
