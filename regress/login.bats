#!/usr/bin/env bats
# login.bats: the login phase as the worker runs it, with hand-made Login
# Requests (rawpdu) and the status each refusal must carry (RFC 7143
# section 11.13.5).

load lib/common

setup() {
	common_setup
	RAWPDU=$(helper rawpdu)
	default_conf
	start_daemon
}

teardown() {
	common_teardown
}

# rawpdu case [value]: the answer in $output.
rawpdu() {
	run timeout -k 2 30 "$RAWPDU" -t 10 127.0.0.1 "$PORT" "$@"
	assert_status 0
}

# status cc dd: the first PDU is a Login Response with class/detail 0xccdd.
status() {
	grep -q "^pdu opcode=0x23 login status-class=0x$1 status-detail=0x$2 " \
	    <<<"$(head -n 1 <<<"$output")" ||
	    fail "expected a Login Response with status 0x$1$2:" "$output"
}

@test "a normal login to a configured target is accepted" {
	rawpdu normal-login "$TARGET"
	status 00 00
	stop_daemon
}

# RFC 7143 13.9: in the answer to the first Login Request that names a
# TargetName (so not necessarily in a discovery session).
@test "the first Login Response carries TargetPortalGroupTag" {
	rawpdu normal-login "$TARGET"
	status 00 00
	assert_output_has '^text TargetPortalGroupTag=[0-9]+$'
	stop_daemon
}

@test "a login to an unknown target gets 0x0203 (target not found) and a close" {
	rawpdu normal-login iqn.2026-11.org.ietd:nothere
	status 02 03
	[ "$(tail -n 1 <<<"$output")" = closed ] ||
	    fail "not closed after the reject:" "$output"
	stop_daemon
}

@test "a normal login without TargetName gets 0x0207 (missing parameter)" {
	rawpdu normal-login
	status 02 07
	stop_daemon
}

@test "a refused login is logged with the initiator and the peer" {
	rawpdu normal-login iqn.2026-11.org.ietd:nothere
	status 02 03
	wait_for_log '127\.0\.0\.1.*login by .*regress-rawpdu.* failed'
	stop_daemon
}

@test "a worker exits after a refused login" {
	rawpdu normal-login iqn.2026-11.org.ietd:nothere
	status 02 03
	wait_for_workers 0 10
	stop_daemon
}

# Linux counts the descriptors a user has in flight over Unix sockets
# against the sender's RLIMIT_NOFILE (ETOOMANYREFS past it).  With io
# stopped, every accepted connection's channel stays in flight from the
# parent; once the parent's limit was 65, the 66th connection was lost.
@test "connections still in flight to a busy io are not lost" {
	local io i
	stop_daemon
	start_daemon -m 0
	io=$(io_pid) || fail "no io process"
	kill -STOP "$io"
	for i in $(seq 80); do
		hold_conn || { kill -CONT "$io"; fail "connect $i failed"; }
	done
	wait_for_log_count "connection request from" 80
	kill -CONT "$io"
	close_held
	run timeout 30 iscsi-inq "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	! grep -Eq 'ipc to io|Too many references' "$LOG" ||
	    fail "a channel to io was lost:" "$(grep -E 'ipc to io|Too many' "$LOG")"
	stop_daemon
}
