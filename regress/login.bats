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
