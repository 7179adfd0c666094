#!/usr/bin/env bats
# sanitize.bats: SANITIZE OVERWRITE runs in the background of io, paced
# by SanitizeRate: other sessions see NOT READY, SANITIZE IN PROGRESS
# with a progress indication that grows, other LUNs keep being served,
# the pattern is on the medium at the end, and neither the initiator's
# death nor io's shutdown leaves anything hanging.

load lib/common

setup() {
	common_setup
	need_tool iscsi-inq cmp tr head
	SAN=$(helper iscsi-sanitize)
	make_lun "$T/lun0.img" 64M
	make_lun "$T/lun1.img" 16M
	# 64 MiB at 8 MiB/s: about 8 s.
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio,SanitizeRate=8
	Lun 1 Path=$T/lun1.img,Type=fileio
EOF
	U0=$(iscsi_url "$TARGET" 0)
	U1=$(iscsi_url "$TARGET" 1)
}

teardown() {
	common_teardown
}

# progress: the progress TEST UNIT READY reports on a new session, or
# the answer itself when it is not SANITIZE IN PROGRESS.
progress() {
	local out
	out=$(timeout -k 5 20 "$SAN" -t "$U0")
	case $out in
	"sense 2/04/1b progress "*) echo "${out##* }" ;;
	*) echo "$out" ;;
	esac
}

# wait_progress_above n [timeout]: until TEST UNIT READY reports a
# progress above n; prints it.
wait_progress_above() {
	local n=$1 timeout=${2:-30} i p
	for ((i = 0; i < timeout * 5; i++)); do
		p=$(progress)
		case $p in
		[0-9]*) [ "$p" -gt "$n" ] && { echo "$p"; return 0; } ;;
		*) fail "no sanitize in progress: $p"; return 1 ;;
		esac
		sleep 0.2
	done
	fail "progress stayed at or below $n for ${timeout}s"
}

# wait_ready [timeout]: until TEST UNIT READY answers GOOD.
wait_ready() {
	local timeout=${1:-60} i
	for ((i = 0; i < timeout * 5; i++)); do
		[ "$(timeout -k 5 20 "$SAN" -t "$U0")" = GOOD ] && return 0
		sleep 0.2
	done
	fail "the sanitize did not end within ${timeout}s"
}

# medium_is byte: every byte of LUN 0's file is byte (octal for tr).
medium_is() {
	head -c 64M /dev/zero | tr '\0' "\\$1" | cmp - "$T/lun0.img" ||
	    fail "LUN 0 does not hold the pattern everywhere"
}

@test "SANITIZE OVERWRITE runs in the background: NOT READY with a growing progress, other LUNs answer, the pattern lands" {
	start_daemon
	SECONDS=0
	spawn_client "$T/san.out" "$SAN" -p 0x5a "$U0"
	wait_for_log 'sanitize overwrite started'
	p1=$(wait_progress_above 0)
	p2=$(wait_progress_above "$p1")
	[ "$p2" -le 65535 ] || fail "progress $p2 out of range"
	# REQUEST SENSE: the same sense, with progress, in either format.
	run_client "$SAN" -r "$U0"
	assert_status 0
	assert_output_has '^sense 2/04/1b progress [0-9]+$'
	run_client "$SAN" -r -d "$U0"
	assert_status 0
	assert_output_has '^sense 2/04/1b progress [0-9]+$'
	# Media access fails, INQUIRY works, the other LUN reads.
	run_client "$SAN" -R "$U0"
	assert_status 1
	assert_output_has '^sense 2/04/1b progress [0-9]+$'
	run_client iscsi-inq "$U0"
	assert_status 0
	run_client "$SAN" -R "$U1"
	assert_status 0
	assert_output_has '^GOOD$'
	# Without IMMED the status comes at the end, paced by SanitizeRate.
	wait "$CLIENT_PID" || fail "sanitize client failed: $(cat "$T/san.out")"
	[ "$SECONDS" -ge 7 ] || fail "64 MiB at 8 MiB/s took ${SECONDS}s"
	grep -qx GOOD "$T/san.out" || fail "sanitize: $(cat "$T/san.out")"
	[ "$(progress)" = GOOD ] || fail "LUN 0 not ready after the sanitize"
	medium_is 132					# 0x5a
	assert_log_has 'sanitized \(overwrite, 1 pass\)'
	stop_daemon
}

@test "SANITIZE with IMMED answers at once; the sanitize still ends" {
	start_daemon
	run_client "$SAN" -I -p 0x41 "$U0"
	assert_status 0
	assert_output_has '^GOOD$'
	p=$(progress)
	[[ $p =~ ^[0-9]+$ ]] || fail "no sanitize in progress after IMMED: $p"
	# A second SANITIZE meanwhile is refused like any other command.
	run_client "$SAN" -I -b 512 "$U0"
	assert_status 1
	assert_output_has '^sense 2/04/1b'
	wait_ready
	medium_is 101					# 0x41
	stop_daemon
}

@test "the sanitize goes on when its initiator is killed, and its session is gone" {
	start_daemon
	spawn_client "$T/san.out" "$SAN" -p 0x33 "$U0"
	wait_for_log 'sanitize overwrite started'
	p1=$(wait_progress_above 0)
	kill_tree "$CLIENT_PID"			# the initiator, too
	wait_for_log 'sanitize goes on without its command'
	wait_progress_above "$p1" >/dev/null
	wait_ready
	medium_is 63					# 0x33
	assert_log_has 'sanitized \(overwrite'
	stop_daemon
}

@test "a reload that drops the LUN of a running sanitize keeps it until the sanitize ends" {
	start_daemon
	run_client "$SAN" -I -p 0x77 "$U0"
	assert_status 0
	wait_progress_above 0 >/dev/null
	write_conf <<EOF
Target $TARGET
	Lun 1 Path=$T/lun1.img,Type=fileio
EOF
	kill -HUP "$(parent_pid)"
	wait_for_log 'lun 0: a background operation \(SANITIZE\) is in progress: not removed'
	wait_ready
	medium_is 167					# 0x77
	stop_daemon
}

@test "io's shutdown stops an unfinished sanitize, says so and exits" {
	sed -i 's/SanitizeRate=8/SanitizeRate=1/' "$CONF"
	start_daemon
	run_client "$SAN" -I "$U0"
	assert_status 0
	wait_progress_above 0 >/dev/null
	SECONDS=0
	stop_daemon
	[ "$SECONDS" -le 10 ] || fail "stopping took ${SECONDS}s"
	grep -q 'sanitize stopped by shutdown at [0-9]*%' "$LOG" ||
	    fail "no shutdown message: $(cat "$LOG")"
}

@test "SanitizeRate takes 0 to 1048576 MiB/s; anything else is a file:line error" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio,SanitizeRate=0
	Lun 1 Path=$T/lun1.img,SanitizeRate=1048576
EOF
	run timeout -k 2 10 "$IETD_BIN" -n -c "$CONF"
	assert_status 0
	for bad in -1 1048577 fast ''; do
		write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio,SanitizeRate=$bad
EOF
		run timeout -k 2 10 "$IETD_BIN" -n -c "$CONF"
		assert_status 1
		assert_output_has "$CONF:2: .*SanitizeRate"
	done
}
