#!/usr/bin/env bats
# malformed.bats: a bad first PDU gets the protocol's answer (a Login
# reject with the right status, or a close), only its worker goes away,
# and the daemon keeps serving everybody else.

load lib/common

setup() {
	common_setup
	need_tool iscsi-ls
	RAWPDU=$(helper rawpdu)
	default_conf
	start_daemon
}

teardown() {
	common_teardown
}

# rawpdu case: send the case, the answer in $output.
rawpdu() {
	run timeout -k 2 30 "$RAWPDU" -t 10 127.0.0.1 "$PORT" "$1"
	assert_status 0
}

# not_accepted: no successful Login Response came, and the connection
# was closed (after a reject, if any).
not_accepted() {
	! grep -q 'status-class=0x00' <<<"$output" ||
	    fail "the target accepted it:" "$output" || return 1
	[ "$(tail -n 1 <<<"$output")" = closed ] ||
	    fail "the target did not close the connection:" "$output"
}

# login_reject cc dd: a Login Response with class/detail 0xccdd, then close.
login_reject() {
	grep -q "^pdu opcode=0x23 login status-class=0x$1 status-detail=0x$2 " \
	    <<<"$output" ||
	    fail "expected a Login reject 0x$1$2:" "$output" || return 1
	[ "$(tail -n 1 <<<"$output")" = closed ] ||
	    fail "the target did not close after the reject:" "$output"
}

# still_serving: the worker is gone and a discovery session works.
still_serving() {
	wait_for_workers 0 10 || return 1
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0 || return 1
	assert_output_has "Target:$TARGET "
}

@test "a valid raw discovery Login Request is accepted (the helper's control case)" {
	rawpdu login
	assert_output_has '^pdu opcode=0x23 login status-class=0x00 status-detail=0x00 t=1 nsg=1$'
	stop_daemon
}

@test "a SCSI Command before login is refused and the daemon keeps serving" {
	rawpdu scsi-cmd
	not_accepted
	still_serving
	stop_daemon
}

@test "an unknown opcode before login is refused and the daemon keeps serving" {
	rawpdu unknown-op
	not_accepted
	still_serving
	stop_daemon
}

@test "a NOP-Out before login is refused and the daemon keeps serving" {
	rawpdu nop-out
	not_accepted
	still_serving
	stop_daemon
}

@test "a Login Request with DataSegmentLength over 8192 is refused and the daemon keeps serving" {
	rawpdu big-login
	not_accepted
	still_serving
	stop_daemon
}

@test "a Login Request with an unsupported version gets status 0x0205" {
	rawpdu bad-version
	login_reject 02 05
	still_serving
	stop_daemon
}

@test "a Login Request without InitiatorName gets status 0x0207 (missing parameter)" {
	rawpdu no-initiator
	login_reject 02 07
	still_serving
	stop_daemon
}

@test "login text without its final NUL is refused with an initiator error" {
	rawpdu no-nul
	not_accepted
	if grep -q '^pdu opcode=0x23' <<<"$output"; then
		grep -q 'status-class=0x02' <<<"$output" ||
		    fail "not an initiator error:" "$output"
	fi
	still_serving
	stop_daemon
}

@test "a truncated header followed by a close ends only its worker" {
	rawpdu truncated
	[ "$(tail -n 1 <<<"$output")" = closed ] ||
	    fail "expected the connection to be closed:" "$output"
	still_serving
	stop_daemon
}

@test "a header announcing AHS that never comes is refused or timed out" {
	start_daemon_again -t 3
	rawpdu bad-ahs
	! grep -q 'status-class=0x00' <<<"$output" ||
	    fail "the target accepted it:" "$output"
	wait_for_workers 0 10
	still_serving
	stop_daemon
}

@test "a refused login is logged as 'login by ... failed' with the peer address" {
	rawpdu bad-version
	wait_for_log '127\.0\.0\.1.*login by .* failed'
	stop_daemon
}

@test "fifty malformed connections leak no descriptors in the parent or io" {
	local pp io before_p before_io c i
	pp=$(parent_pid)
	io=$(io_pid)
	run_client iscsi-ls "$(iscsi_url)"
	wait_for_workers 0 10
	before_p=$(nfds "$pp")
	before_io=$(nfds "$io")
	for i in 1 2 3 4 5; do
		for c in scsi-cmd unknown-op nop-out big-login bad-version \
		    no-initiator no-nul truncated login; do
			"$RAWPDU" -t 3 127.0.0.1 "$PORT" "$c" >/dev/null 2>&1 \
			    3>&- || fail "rawpdu $c failed"
		done
		run_client iscsi-ls "$(iscsi_url)"
		assert_status 0
	done
	wait_for_workers 0 10
	[ "$(parent_pid)" = "$pp" ] && alive_any "$pp" ||
	    fail "the parent changed or died"
	[ "$(io_pid)" = "$io" ] || fail "io changed or died"
	# io may take a moment to hear that the last workers are gone.
	for ((i = 0; i < 50; i++)); do
		[ "$(nfds "$pp")" -eq "$before_p" ] &&
		    [ "$(nfds "$io")" -eq "$before_io" ] && break
		sleep 0.1
	done
	[ "$(nfds "$pp")" -eq "$before_p" ] ||
	    fail "parent descriptors: $before_p before, now" \
	    "$(ls -l "/proc/$pp/fd")"
	[ "$(nfds "$io")" -eq "$before_io" ] ||
	    fail "io descriptors: $before_io before, now" \
	    "$(ls -l "/proc/$io/fd")"
	stop_daemon
}

# nfds pid: how many descriptors the process holds.
nfds() {
	find "/proc/$1/fd" -mindepth 1 | wc -l
}

# start_daemon_again args...: restart the daemon of setup with options.
start_daemon_again() {
	stop_daemon 0
	start_daemon "$@"
}
