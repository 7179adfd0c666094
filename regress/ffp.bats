#!/usr/bin/env bats
# ffp.bats: the full feature phase seen through raw PDUs (the ffpdu
# helper): the CmdSN window, task management and its ordering, Rejects,
# Logout, Data-Out checks, the target's NOP-In pings, Text continuation
# and the logout request before a clean shutdown.

load lib/common

setup() {
	common_setup
	make_lun "$T/lun0.img" 16M
	make_lun "$T/lun1.img" 4M
}

teardown() {
	[ -z "${SHMDIR:-}" ] || rm -rf "$SHMDIR"
	common_teardown
}

# conf [key value]...: one target with LUNs 0 and 1 and the given keys;
# LUN 0 is $LUN0 if set.
conf() {
	{
		printf 'Target %s\n' "$TARGET"
		printf '\tLun 0 Path=%s,Type=fileio\n' "${LUN0:-$T/lun0.img}"
		printf '\tLun 1 Path=%s,Type=fileio\n' "$T/lun1.img"
		while [ $# -ge 2 ]; do
			printf '\t%s %s\n' "$1" "$2"
			shift 2
		done
	} | write_conf
}

# ffpdu [options] step...: the helper against $TARGET.
ffpdu() {
	local -a opts=()
	while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
		opts+=("$1" "$2")
		shift 2
	done
	run_client "$(helper ffpdu)" -t 10 "${opts[@]}" 127.0.0.1 "$PORT" \
	    "$TARGET" "$@"
}

# refute_output_has pattern: no line of the last run matches (ERE).
refute_output_has() {
	! grep -Eq -- "$1" <<<"$output" ||
	    fail "output matches '$1':" "$output"
}

# line_of pattern: the number of the first output line matching (ERE).
line_of() {
	grep -En -- "$1" <<<"$output" | head -n 1 | cut -d: -f1
}

# assert_before a b: the first line matching a comes before the first
# matching b, and both exist.
assert_before() {
	local a b
	a=$(line_of "$1")
	b=$(line_of "$2")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
	    fail "'$1' (line ${a:-none}) not before '$2' (line ${b:-none}):" \
	    "$output"
}

no_errors() {
	refute_output_has '^(s[0-9] )?error'
}

@test "commands outside the CmdSN window are dropped and immediate ones taken" {
	conf QueuedCommands 4
	start_daemon
	# Window 1..4: CmdSN 11 is past MaxCmdSN, CmdSN 0 before ExpCmdSN.
	ffpdu sn cmdsn:10 read:0x50:0:1 cmdsn:-1 read:0x51:0:1 \
	    imm read:0x52:0:1 read:0x53:0:1 until:0x21 until:0x21 idle:1 sn
	assert_status 0
	assert_output_has '^sn cmdsn=1 expcmdsn=1 maxcmdsn=4$'
	assert_output_has '^rsp itt=0x52 status=0x00 '
	assert_output_has '^rsp itt=0x53 status=0x00 '
	refute_output_has 'itt=0x5[01] '
	# Only CmdSN 1 was taken: the window moved by one.
	assert_output_has '^sn cmdsn=2 expcmdsn=2 maxcmdsn=5$'
	no_errors
	assert_log_has 'CmdSN 11 outside the window 1-4, dropped'
	assert_log_has 'CmdSN 0 outside the window 1-4, dropped'
	stop_daemon
}

@test "an aborted write waiting for Data-Out gets no response, its late Data-Out is dropped" {
	conf
	start_daemon
	ffpdu write:0x10:0:4 until:0x31 tmf:0x11:1:0x10 until:0x22 \
	    data:0x10 nop:0x12 until:0x20 idle:1
	assert_status 0
	assert_output_has '^r2t itt=0x10 off=0 len=2048 '
	assert_output_has '^tmf itt=0x11 response=0$'
	assert_output_has '^nopin itt=0x12 len=4$'
	refute_output_has '^rsp itt=0x10 '
	refute_output_has '^reject'
	no_errors
	assert_log_has 'abort task: task 0x10 \(lun 0\) aborted'
	stop_daemon
}

@test "the TMF response comes after the responses of earlier commands" {
	# On tmpfs the read and the write end at once, as they arrive; on
	# another file system they may still run on an I/O thread when the
	# TMF comes, and are then aborted (slowio.bats).
	SHMDIR=$(mktemp -d /dev/shm/ietd-ffp.XXXXXX)
	make_lun "$SHMDIR/lun0.img" 16M
	LUN0=$SHMDIR/lun0.img conf
	start_daemon
	# A read and a write that completes, then a write left waiting for
	# its data: ABORT TASK SET answers after the first two and the
	# aborted write never gets a response.
	ffpdu read:0x20:0:64 write:0x21:8:2:1024 write:0x22:16:4 \
	    tmf:0x23:2 until:0x22 idle:1
	assert_status 0
	assert_output_has '^rsp itt=0x20 status=0x00 '
	assert_output_has '^rsp itt=0x21 status=0x00 '
	assert_before '^rsp itt=0x20 ' '^tmf itt=0x23 response=0$'
	assert_before '^rsp itt=0x21 ' '^tmf itt=0x23 response=0$'
	refute_output_has '^rsp itt=0x22 '
	no_errors
	stop_daemon
}

@test "ABORT TASK of an unknown task: does not exist, or complete when its CmdSN is still due" {
	conf QueuedCommands 8
	start_daemon
	# RefCmdSN 1 is in the window and before the TMF's CmdSN 2 (the read
	# took CmdSN 1 and ended): no task, RefCmdSN below ExpCmdSN.
	# RefCmdSN 3 is in the window but not before the TMF's own CmdSN.
	ffpdu read:0x30:0:1 until:0x21 tmf:0x31:1:0x30 until:0x22 \
	    tmf:0x32:1:0x77:3 until:0x22 \
	    skip sn tmf:0x34:1:0x99:2 until:0x22 sn read:0x35:0:1 until:0x21
	assert_status 0
	assert_output_has '^tmf itt=0x31 response=1$'
	assert_output_has '^tmf itt=0x32 response=1$'
	# The command with CmdSN 2 was lost: aborting it completes, and
	# CmdSN 2 counts as received, so the window moves past it.
	assert_output_has '^sn cmdsn=3 expcmdsn=2 maxcmdsn=9$'
	assert_output_has '^tmf itt=0x34 response=0$'
	assert_output_has '^sn cmdsn=3 expcmdsn=3 maxcmdsn=10$'
	assert_output_has '^rsp itt=0x35 status=0x00 '
	no_errors
	stop_daemon
}

@test "ABORT TASK SET aborts this session's tasks only, CLEAR TASK SET every session's" {
	conf
	start_daemon
	ffpdu write:0x40:0:4 until:0x31 session:1 write:0x41:8:4 until:0x31 \
	    session:0 tmf:0x42:2 until:0x22 \
	    session:1 data:0x41 until:0x21 write:0x43:8:4 until:0x31 \
	    session:0 write:0x44:0:4 until:0x31 \
	    session:1 tmf:0x45:4 until:0x22 session:0 nop:0x46 until:0x20 \
	    data:0x44 nop:0x47 until:0x20 idle:1
	assert_status 0
	assert_output_has '^tmf itt=0x42 response=0$'
	# Session 1's write lived through session 0's ABORT TASK SET.
	assert_output_has '^s1 rsp itt=0x41 status=0x00 '
	assert_output_has '^s1 tmf itt=0x45 response=0$'
	# CLEAR TASK SET from session 1 took session 0's write too.
	refute_output_has 'rsp itt=0x4[04] '
	no_errors
	assert_log_has 'clear task set aborted 1 tasks of session'
	stop_daemon
}

@test "task management functions answer with the right response codes" {
	conf
	start_daemon
	ffpdu lun:7 tmf:0x60:5 until:0x22 tmf:0x61:2 until:0x22 \
	    tmf:0x62:4 until:0x22 tmf:0x63:3 until:0x22 \
	    lun:1 tmf:0x64:3 until:0x22 tmf:0x65:8 until:0x22 \
	    tmf:0x66:20 until:0x22 tmf:0x67:5 until:0x22 tmf:0x68:6 until:0x22
	assert_status 0
	# LUN 7 does not exist: LUN does not exist (2).
	assert_output_has '^tmf itt=0x60 response=2$'
	assert_output_has '^tmf itt=0x61 response=2$'
	assert_output_has '^tmf itt=0x62 response=2$'
	assert_output_has '^tmf itt=0x63 response=2$'
	# CLEAR ACA: complete; TASK REASSIGN at ERL 0: not supported (4);
	# an unknown function: not supported (5); resets: complete.
	assert_output_has '^tmf itt=0x64 response=0$'
	assert_output_has '^tmf itt=0x65 response=4$'
	assert_output_has '^tmf itt=0x66 response=5$'
	assert_output_has '^tmf itt=0x67 response=0$'
	assert_output_has '^tmf itt=0x68 response=0$'
	no_errors
	assert_log_has 'logical unit reset of LUN 1'
	assert_log_has 'target warm reset of '
	stop_daemon
}

@test "TARGET WARM RESET aborts every session's tasks and keeps the sessions" {
	conf
	start_daemon
	ffpdu write:0x70:0:4 until:0x31 session:1 write:0x71:0:4 until:0x31 \
	    tmf:0x72:6 until:0x22 nop:0x73 until:0x20 \
	    session:0 nop:0x74 until:0x20 data:0x70 idle:1
	assert_status 0
	assert_output_has '^s1 tmf itt=0x72 response=0$'
	assert_output_has '^s1 nopin itt=0x73 '
	assert_output_has '^nopin itt=0x74 '
	refute_output_has 'rsp itt=0x7[01] '
	no_errors
	stop_daemon
}

@test "TARGET COLD RESET answers, then closes every session of the target" {
	conf
	start_daemon
	# The NOP makes sure session 1 reached io before the reset.
	ffpdu session:1 nop:0x7f until:0x20 session:0 write:0x80:0:4 until:0x31 \
	    tmf:0x81:7 until:0x22 idle:5 session:1 idle:5
	assert_status 0
	assert_output_has '^tmf itt=0x81 response=0$'
	assert_before '^tmf itt=0x81' '^closed$'
	assert_output_has '^s1 closed$'
	refute_output_has 'rsp itt=0x80 '
	no_errors
	assert_log_has 'target cold reset: closing session'
	stop_daemon
}

@test "SNACK, unknown opcodes, Login in the full feature phase and the reserved ITT are rejected" {
	conf
	start_daemon
	ffpdu op:0x10 until:0x3f op:0x0e until:0x3f op:0x03 until:0x3f \
	    op:0x06:0xffffffff until:0x3f op:0x20 until:0x3f nop:0x90 until:0x20
	assert_status 0
	# At ErrorRecoveryLevel 0 a SNACK is a protocol error (4).
	assert_output_has '^reject reason=0x04 opcode=0x10 '
	assert_output_has '^reject reason=0x05 opcode=0x0e '
	assert_output_has '^reject reason=0x04 opcode=0x03 '
	assert_output_has '^reject reason=0x09 opcode=0x06 itt=0xffffffff$'
	assert_output_has '^reject reason=0x05 opcode=0x20 '
	assert_output_has '^nopin itt=0x90 '
	no_errors
	assert_log_has 'SNACK at ErrorRecoveryLevel 0 rejected'
	stop_daemon
}

@test "Logout: an unknown CID, recovery not supported, then close the connection" {
	conf
	start_daemon
	ffpdu logout:1:9 logout:2 logout:1:0 idle:5
	assert_status 0
	assert_output_has '^logout response=1 '
	assert_output_has '^logout response=2 '
	assert_output_has '^logout response=0 '
	assert_before '^logout response=0 ' '^closed$'
	no_errors
	assert_log_has 'logout of cid 9: no such connection'
	stop_daemon
}

@test "Logout closing the session ends it and its waiting tasks" {
	conf
	start_daemon
	ffpdu write:0xa0:0:4 until:0x31 logout:0 idle:5
	assert_status 0
	assert_output_has '^logout response=0 time2wait=2 time2retain=20$'
	assert_output_has '^closed$'
	refute_output_has 'rsp itt=0xa0 '
	assert_log_has 'session_remove'
	stop_daemon
}

@test "Data-Out with a bad DataSN, offset or burst end is rejected and ends its command" {
	conf
	start_daemon
	ffpdu write:0xb0:0:4 until:0x31 data:0xb0:badsn until:0x21 \
	    write:0xb1:0:4 until:0x31 data:0xb1:badoff until:0x21 \
	    write:0xb2:0:4 until:0x31 data:0xb2:short until:0x21 \
	    write:0xb3:0:4 until:0x31 data:0xb3:badttt until:0x3f \
	    data:0xb3 until:0x21 \
	    write:0xb4:0:4 until:0x31 unsol:0xb4:0:512:1 until:0x3f \
	    data:0xb4 until:0x21
	assert_status 0
	assert_output_has '^reject reason=0x04 opcode=0x05 itt=0xb0$'
	assert_output_has '^rsp itt=0xb0 status=0x02 .* sense=b/4b/00$'
	assert_output_has '^reject reason=0x09 opcode=0x05 itt=0xb1$'
	assert_output_has '^rsp itt=0xb1 status=0x02 .* sense=b/4b/00$'
	assert_output_has '^reject reason=0x04 opcode=0x05 itt=0xb2$'
	assert_output_has '^rsp itt=0xb2 status=0x02 .* sense=b/4b/00$'
	# An unknown TTT is rejected; the R2T answered right then ends well.
	assert_output_has '^reject reason=0x09 opcode=0x05 itt=0xb3$'
	assert_output_has '^rsp itt=0xb3 status=0x00 '
	# Unsolicited data with InitialR2T=Yes is a protocol error.
	assert_output_has '^reject reason=0x04 opcode=0x05 itt=0xb4$'
	assert_output_has '^rsp itt=0xb4 status=0x00 '
	no_errors
	stop_daemon
}

@test "an initiator that stops answering NOP-In pings is dropped and its tasks cleaned up" {
	conf NOPInterval 1 NOPTimeout 2
	start_daemon
	local t0=$SECONDS
	ffpdu silent write:0xc0:0:4 until:0x31 idle:20
	assert_status 0
	assert_output_has '^ping ttt=0x[0-9a-f]+ ignored$'
	assert_before '^ping ttt=' '^closed$'
	# Not before NOPInterval + NOPTimeout (3 s), and well within 20 s.
	[ $((SECONDS - t0)) -ge 3 ] || fail "dropped too early: $output"
	refute_output_has '^quiet$'
	assert_log_has 'no answer to NOP-In ping within 2 seconds'
	assert_log_has 'session_remove'
	stop_daemon
}

@test "an initiator that answers NOP-In pings keeps its connection" {
	# NOPTimeout 3: a loaded machine may delay an answer past a second.
	conf NOPInterval 1 NOPTimeout 3
	start_daemon
	ffpdu idle:5 nop:0xc1 until:0x20 logout:0
	assert_status 0
	[ "$(grep -c '^ping ttt=0x[0-9a-f]* answered$' <<<"$output")" -ge 2 ] ||
	    fail "fewer than two pings answered: $output"
	assert_output_has '^nopin itt=0xc1 len=4$'
	assert_output_has '^logout response=0 '
	refute_output_has '^closed$'
	no_errors
	stop_daemon
}

# wait_for_file pattern file [timeout]: wait until a line of file matches.
wait_for_file() {
	local i
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		grep -Eq -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no line matching '$1' in $2:" "$(cat "$2" 2>/dev/null)"
}

@test "SIGTERM asks live sessions to log out, ends in time, and keeps acknowledged writes" {
	conf
	start_daemon
	spawn_client "$T/s.out" "$(helper ffpdu)" -t 30 127.0.0.1 "$PORT" \
	    "$TARGET" write:0xd0:100:8:4096 until:0x21 until:0x32 logout:0 \
	    idle:5
	wait_for_file '^rsp itt=0xd0 status=0x00 ' "$T/s.out"
	local t0=$SECONDS
	stop_daemon
	[ $((SECONDS - t0)) -le 10 ] ||
	    fail "ietd took $((SECONDS - t0)) s to stop: $(cat "$T/s.out")"
	wait "$CLIENT_PID" || fail "ffpdu failed: $(cat "$T/s.out")"
	output=$(cat "$T/s.out")
	# AsyncEvent 1: Parameter3 is the time given to log out.
	assert_output_has '^async event=1 param1=0 param2=0 param3=5$'
	assert_before '^async event=1' '^logout response=0 '
	assert_before '^logout response=0 ' '^closed$'
	no_errors
	assert_log_has 'asking every initiator to log out within 5 seconds'
	local want
	want=$(sed -n 's/^writedata itt=0xd0 hash=//p' "$T/s.out")
	start_daemon
	ffpdu read:0xd1:100:8 until:0x21
	assert_status 0
	assert_output_has "^readdata itt=0xd1 hash=$want\$"
	stop_daemon
}

@test "SIGTERM closes a session that does not log out within the bound" {
	conf
	start_daemon
	spawn_client "$T/s.out" "$(helper ffpdu)" -t 30 127.0.0.1 "$PORT" \
	    "$TARGET" write:0xd2:200:8:4096 until:0x21 idle:30
	wait_for_file '^rsp itt=0xd2 status=0x00 ' "$T/s.out"
	local t0=$SECONDS
	stop_daemon
	# 5 s for the logout, 2 s to flush, and some slack.
	[ $((SECONDS - t0)) -ge 4 ] ||
	    fail "ietd did not wait for the logout: $(cat "$T/s.out")"
	[ $((SECONDS - t0)) -le 12 ] ||
	    fail "ietd took $((SECONDS - t0)) s to stop: $(cat "$T/s.out")"
	wait "$CLIENT_PID" || true
	output=$(cat "$T/s.out")
	assert_output_has '^async event=1 param1=0 param2=0 param3=5$'
	assert_before '^async event=1' '^closed$'
	assert_log_has 'closing the connections that did not log out'
	local want
	want=$(sed -n 's/^writedata itt=0xd2 hash=//p' "$T/s.out")
	start_daemon
	ffpdu read:0xd3:200:8 until:0x21
	assert_status 0
	assert_output_has "^readdata itt=0xd3 hash=$want\$"
	stop_daemon
}

@test "a Text answer longer than MaxRecvDataSegmentLength goes out in C-bit pieces" {
	conf
	start_daemon
	ffpdu -m 512 text:0xe0:100 textkey:0xe1:SendTargets= \
	    textkey:0xe2:SendTargets=All
	assert_status 0
	assert_output_has '^textkeys n=100 notunderstood=100$'
	[ "$(grep -c '^text itt=0xe0 flags=0x40 len=512 ttt=' <<<"$output")" \
	    -ge 4 ] || fail "too few continued pieces: $output"
	assert_output_has '^text itt=0xe0 flags=0x80 len=[0-9]+ ttt=0xffffffff$'
	assert_output_has "^key TargetName=$TARGET\$"
	assert_output_has '^key TargetAddress=127.0.0.1:[0-9]+,1$'
	assert_output_has '^key SendTargets=Reject$'
	no_errors
	stop_daemon
}

@test "a Text Request sent in C-bit pieces is joined before it is answered" {
	conf
	start_daemon
	ffpdu -m 512 text:0xe4:60:300 textttt:0xe5:0x1234 until:0x3f \
	    nop:0xe6 until:0x20
	assert_status 0
	# Every piece but the last is acknowledged by an empty response.
	[ "$(grep -c '^text itt=0xe4 flags=0x00 len=0 ttt=' <<<"$output")" \
	    -ge 5 ] || fail "too few acknowledged pieces: $output"
	assert_output_has '^textkeys n=60 notunderstood=60$'
	# A continuation of nothing is an invalid PDU field.
	assert_output_has '^reject reason=0x09 opcode=0x04 itt=0xe5$'
	assert_output_has '^nopin itt=0xe6 '
	no_errors
	stop_daemon
}

@test "a discovery session continues long Text answers and requests the same way" {
	conf
	start_daemon
	TARGET=- ffpdu -m 512 text:0xe8:80:300 textkey:0xe9:SendTargets=All \
	    logout:0
	assert_status 0
	assert_output_has '^textkeys n=80 notunderstood=80$'
	assert_output_has '^text itt=0xe8 flags=0x40 len=512 '
	assert_output_has '^text itt=0xe8 flags=0x00 len=0 '
	assert_output_has "^key TargetName=$TARGET\$"
	assert_output_has '^logout response=0 '
	no_errors
	stop_daemon
}

@test "residual counts: underflow and overflow of a READ, with and without sense" {
	conf
	start_daemon
	# Two blocks asked, 4096 bytes expected: 3072 bytes underflow.
	# Two blocks asked, 512 bytes expected: 512 bytes overflow.
	# Past the end of the LUN: CHECK CONDITION, nothing moved, so all
	# 1024 bytes are an underflow (RFC 7143 11.4.5.1 lets a target set
	# the residual with any status).
	ffpdu read:0xf0:0:2:4096 until:0x21 read:0xf1:0:2:512 until:0x21 \
	    read:0xf2:40000:2 until:0x21
	assert_status 0
	assert_output_has '^datain itt=0xf0 datasn=0 off=0 len=1024 '
	assert_output_has '^rsp itt=0xf0 status=0x00 response=0x00 flags=0x83 residual=3072$'
	assert_output_has '^datain itt=0xf1 datasn=0 off=0 len=512 '
	assert_output_has '^rsp itt=0xf1 status=0x00 response=0x00 flags=0x85 residual=512$'
	assert_output_has '^rsp itt=0xf2 status=0x02 response=0x00 flags=0x82 residual=1024 sense=5/21/00$'
	no_errors
	stop_daemon
}

@test "CLEAR TASK SET and resets raise the unit attentions SAM-5 names" {
	conf
	start_daemon
	ffpdu write:0x01:0:4 until:0x31 session:1 nop:0x02 until:0x20 \
	    tmf:0x03:4 until:0x22 read:0x04:0:1 until:0x21 \
	    session:0 read:0x05:0:1 until:0x21 read:0x06:0:1 until:0x21 \
	    session:1 tmf:0x07:5 until:0x22 read:0x08:0:1 until:0x21 \
	    session:0 read:0x09:0:1 until:0x21 tmf:0x0a:6 until:0x22 \
	    session:1 read:0x0b:0:1 until:0x21
	assert_status 0
	# Session 0 lost its write to session 1's CLEAR TASK SET: 2Fh/00h
	# once; session 1 lost nothing.
	assert_output_has '^s1 rsp itt=0x4 status=0x00 '
	assert_output_has '^rsp itt=0x5 status=0x02 .* sense=6/2f/00$'
	assert_output_has '^rsp itt=0x6 status=0x00 '
	# A logical unit reset: 29h/03h for every nexus, the requester too.
	assert_output_has '^s1 rsp itt=0x8 status=0x02 .* sense=6/29/03$'
	assert_output_has '^rsp itt=0x9 status=0x02 .* sense=6/29/03$'
	# A target warm reset: a reset unit attention (29h) as well.
	assert_output_has '^s1 rsp itt=0xb status=0x02 .* sense=6/29/0[0-3]$'
	no_errors
	stop_daemon
}
