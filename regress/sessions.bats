#!/usr/bin/env bats
# sessions.bats: sessions and their connections (RFC 7143 6.3): session
# and connection reinstatement, several connections per session with
# commands ordered by CmdSN across them, MaxSessions, and negotiation
# down to what the target is configured for.  The sesspdu helper speaks
# raw PDUs over several connections at once, which libiscsi cannot.

load lib/common

setup() {
	common_setup
	SESSPDU=$(helper sesspdu)
}

teardown() {
	common_teardown
}

# conf [session keys...]: $TARGET with LUN 0 and the given lines.
conf() {
	local l
	make_lun "$T/lun0.img" 16M
	{
		echo "Target $TARGET"
		echo "	Lun 0 Path=$T/lun0.img,Type=fileio"
		for l; do
			echo "	$l"
		done
	} | write_conf
}

# sess: run sesspdu with the script on stdin; the answer in $output.
sess() {
	run timeout -k 2 60 "$SESSPDU" -t 10 127.0.0.1 "$PORT" "$TARGET"
	assert_status 0
}

# has pattern: like assert_output_has, for the whole line.
has() {
	assert_output_has "^$1\$"
}

@test "a second login with the same ISID and TSIH 0 reinstates the session" {
	conf
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001
	write 0 10 0x11
	recv 0
	login 1 isid=801234560001
	recv 0
	write 1 10 0x22
	recv 1
	read 1 10
	recv 1
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 status=0x0000 tsih=[1-9][0-9]*'
	# The old session's connection is closed, the new one serves.
	has 'recv 0 closed'
	has 'data 1 byte=0x22'
	local t0 t1
	t0=$(sed -n 's/^login 0 status=0x0000 tsih=//p' <<<"$output")
	t1=$(sed -n 's/^login 1 status=0x0000 tsih=//p' <<<"$output")
	[ "$t0" != "$t1" ] || fail "the new session kept TSIH $t0:" "$output"
	assert_log_has 'session reinstatement: closing session'
	stop_daemon
}

@test "reinstatement aborts the old session's tasks: a write waiting for data never lands" {
	conf
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001
	write2r 0 200 0x5e
	recv 0
	login 1 isid=801234560001
	recv 0
	read 1 200
	recv 1
	read 1 201
	recv 1
	EOF
	# The second block is asked for by an R2T that is never answered.
	has 'recv 0 op=0x31 .*'
	has 'login 1 status=0x0000 tsih=[1-9][0-9]*'
	has 'recv 0 closed'
	[ "$(grep -c '^data 1 byte=0x00$' <<<"$output")" -eq 2 ] ||
	    fail "the aborted write left data behind:" "$output"
	stop_daemon
}

@test "another ISID from the same initiator is another session" {
	conf
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001
	login 1 isid=801234560002
	write 0 20 0x33
	recv 0
	EOF
	has 'login 1 status=0x0000 tsih=[1-9][0-9]*'
	has 'recv 0 op=0x21 itt=[0-9]+ status=0x00 .*'
	[ "$(log_count 'session reinstatement')" -eq 0 ] ||
	    fail "a session was reinstated:" "$(daemon_log)"
	stop_daemon
}

@test "a login with the TSIH and CID of a live connection reinstates that connection" {
	conf
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001 cid=1
	login 1 isid=801234560001 tsih=last cid=1
	recv 0
	write 1 30 0x44
	recv 1
	read 1 30
	recv 1
	EOF
	has 'login 1 status=0x0000 tsih=[1-9][0-9]*'
	has 'recv 0 closed'
	has 'data 1 byte=0x44'
	assert_log_has 'connection reinstatement: closing cid 1 of session'
	stop_daemon
}

@test "a login with the TSIH of no session gets 0x020a (session does not exist)" {
	conf "MaxConnections 4"
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001 tsih=4242 cid=1
	EOF
	has 'login 0 status=0x020a tsih=0'
	stop_daemon
}

@test "a TSIH is honoured only with the ISID of its session" {
	conf "MaxConnections 4"
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001 cid=0
	login 1 isid=801234560009 tsih=last cid=1
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 status=0x020a tsih=0'
	stop_daemon
}

@test "with MaxConnections 1 a second connection gets 0x0206 (too many connections)" {
	conf
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001 cid=0
	login 1 tsih=last cid=1
	write 0 40 0x55
	recv 0
	EOF
	has 'login 1 status=0x0206 tsih=0'
	# The session goes on.
	has 'recv 0 op=0x21 itt=[0-9]+ status=0x00 .*'
	stop_daemon
}

@test "MaxConnections 2: connections are added by TSIH up to the negotiated count" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=8
	login 1 tsih=last cid=1
	login 2 tsih=last cid=2
	write 1 50 0x66
	recv 1
	read 0 50
	recv 0
	EOF
	# Offered 8, configured 2: negotiated down, not refused.
	has 'key 0 MaxConnections=2'
	has 'login 1 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 2 status=0x0206 tsih=0'
	# What one connection wrote the other reads.
	has 'data 0 byte=0x66'
	stop_daemon
}

@test "an added connection's Login Response carries the session's command window" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	write 0 3 0x01
	recv 0
	write 0 4 0x02
	recv 0
	login 1 tsih=last cid=1 cmdsn=4000
	EOF
	local e0 e1 m1
	e0=$(sed -n 's/^window 0 expcmdsn=\([0-9]*\) .*/\1/p' <<<"$output")
	e1=$(sed -n 's/^window 1 expcmdsn=\([0-9]*\) .*/\1/p' <<<"$output")
	m1=$(sed -n 's/^window 1 .*maxcmdsn=\([0-9]*\)$/\1/p' <<<"$output")
	[ -n "$e0" ] && [ "$e1" = $((e0 + 2)) ] && [ "$m1" = $((e0 + 2 + 31)) ] ||
	    fail "expected ExpCmdSN $((e0 + 2)) on the added connection:" \
	    "$output"
	stop_daemon
}

@test "leading-only keys on an added connection fail its login with 0x0200" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	login 1 tsih=last cid=1 MaxBurstLength=4096
	EOF
	has 'login 1 status=0x0200 tsih=0'
	assert_log_has 'leading-only key on a non-leading connection'
	stop_daemon
}

@test "each connection negotiates its own digests" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2 HeaderDigest=None
	login 1 tsih=last cid=1 HeaderDigest=CRC32C
	write 0 60 0x77
	recv 0
	EOF
	has 'key 0 HeaderDigest=None'
	has 'key 1 HeaderDigest=CRC32C'
	has 'recv 0 op=0x21 itt=[0-9]+ status=0x00 .*'
	assert_log_has 'digests: header CRC32C, data None'
	stop_daemon
}

# Two writes to one block: the one with the higher CmdSN comes first on
# connection 1 and must wait until connection 0 has brought the lower.
@test "commands on two connections run in CmdSN order" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	login 1 tsih=last cid=1
	write 1 70 0xbb +1
	waitlog $LOG 1 queued until ExpCmdSN
	quiet 1 300
	write 0 70 0xaa +0
	recv 0
	recv 1
	read 0 70 +2
	recv 0
	EOF
	has 'waitlog ok'
	# Nothing for the later command before the earlier one came.
	has 'quiet 1 yes'
	has 'recv 0 op=0x21 itt=[0-9]+ status=0x00 .*'
	has 'recv 1 op=0x21 itt=[0-9]+ status=0x00 .*'
	# 0xaa (CmdSN n) was written first, then 0xbb (CmdSN n + 1).
	has 'data 0 byte=0xbb'
	stop_daemon
}

@test "ten writes to one block sent in reverse CmdSN order over two connections end with the last" {
	local i
	conf "MaxConnections 2"
	start_daemon
	sess < <(
		echo "login 0 cid=0 MaxConnections=2"
		echo "login 1 tsih=last cid=1"
		for i in 9 8 7 6 5 4 3 2 1; do
			echo "write $((i % 2)) 120 $i +$i"
		done
		echo "waitlog $LOG 9 queued until ExpCmdSN"
		echo "write 0 120 0 +0"
		for i in 1 2 3 4 5; do
			echo "recv 0"
			echo "recv 1"
		done
		echo "read 0 120 +10"
		echo "recv 0"
	)
	has 'waitlog ok'
	[ "$(grep -Ec '^recv [01] op=0x21 .*status=0x00 ' <<<"$output")" -eq 10 ] ||
	    fail "expected 10 good SCSI responses:" "$output"
	has 'data 0 byte=0x09'
	stop_daemon
}

@test "a command kept for its turn takes its unsolicited Data-Out along" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2 InitialR2T=No
	login 1 tsih=last cid=1
	write2 1 100 0xe1 +1
	waitlog $LOG 1 queued until ExpCmdSN
	write 0 101 0xe0 +0
	recv 0
	recv 1
	read 0 101 +2
	recv 0
	EOF
	has 'recv 1 op=0x21 itt=[0-9]+ status=0x00 .*'
	# The second block came by Data-Out while its command waited.
	has 'data 0 byte=0xe1'
	[ "$(log_count 'Data-Out for unknown ITT')" -eq 0 ] ||
	    fail "a Data-Out was refused:" "$(daemon_log)"
	stop_daemon
}

@test "ABORT TASK for a command waiting its turn: it never runs, its CmdSN still counts" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	login 1 tsih=last cid=1
	write 1 110 0xf1 +1
	waitlog $LOG 1 queued until ExpCmdSN
	abort 0
	recv 0
	write 0 111 0xf0 +0
	recv 0
	read 0 110 +2
	recv 0
	quiet 1 300
	EOF
	has 'tmf 0 response=0'
	assert_log_has 'aborted while waiting'
	# The block was never written, and CmdSN n + 2 ran.
	has 'data 0 byte=0x00'
	has 'quiet 1 yes'
	stop_daemon
}

@test "a connection that drops leaves the session and its other connection alive" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	login 1 tsih=last cid=1
	write 1 80 0x5a
	recv 1
	close 1
	waitlog $LOG 1 goes on with 1 connection
	read 0 80
	recv 0
	EOF
	has 'waitlog ok'
	has 'data 0 byte=0x5a'
	stop_daemon
}

@test "a queued command goes with its connection when that connection drops" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	login 1 tsih=last cid=1
	write 1 90 0xcc +1
	waitlog $LOG 1 queued until ExpCmdSN
	close 1
	waitlog $LOG 1 goes on with 1 connection
	write 0 90 0xdd +0
	recv 0
	read 0 90 +1
	recv 0
	EOF
	has 'waitlog ok'
	has 'data 0 byte=0xdd'
	stop_daemon
}

@test "Logout close-connection for another CID closes that connection" {
	conf "MaxConnections 2"
	start_daemon
	sess <<-EOF
	login 0 cid=0 MaxConnections=2
	login 1 tsih=last cid=1
	waitlog $LOG 1 full feature phase, cid 1
	logout 0 1 1
	recv 0
	recv 1
	logout 0 1 7
	recv 0
	EOF
	has 'logout 0 response=0'
	has 'recv 1 closed'
	has 'logout 0 response=1'
	stop_daemon
}

@test "MaxSessions 1 refuses a second session with 0x0302 (out of resources)" {
	conf "MaxSessions 1"
	start_daemon
	sess <<-EOF
	login 0 isid=801234560001
	login 1 isid=801234560002
	login 2 isid=801234560001
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 status=0x0302 tsih=0'
	# Reinstatement replaces the session: not a second one.
	has 'login 2 status=0x0000 tsih=[1-9][0-9]*'
	assert_log_has 'MaxSessions 1 reached'
	stop_daemon
}

@test "ErrorRecoveryLevel and MaxConnections offered above the configuration are negotiated down" {
	conf "MaxConnections 2" "ErrorRecoveryLevel 1"
	start_daemon
	sess <<-EOF
	login 0 ErrorRecoveryLevel=2 MaxConnections=65535
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'key 0 ErrorRecoveryLevel=1'
	has 'key 0 MaxConnections=2'
	stop_daemon
}

@test "unknown keys get NotUnderstood, out-of-range values Reject, and the login goes on" {
	conf
	start_daemon
	sess <<-EOF
	login 0 X-com.example.thing=1 Frobnicate=Yes MaxBurstLength=511 ImmediateData=Maybe IFMarkInt=2048
	write 0 5 0x42
	recv 0
	EOF
	has 'key 0 X-com.example.thing=NotUnderstood'
	has 'key 0 Frobnicate=NotUnderstood'
	has 'key 0 MaxBurstLength=Reject'
	has 'key 0 ImmediateData=Reject'
	has 'key 0 IFMarkInt=Irrelevant'
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	# The rejected keys keep their defaults: immediate data still goes.
	has 'recv 0 op=0x21 itt=[0-9]+ status=0x00 .*'
	stop_daemon
}

@test "a reserved constant proposed as a value fails the login with 0x0200" {
	conf
	start_daemon
	sess <<-EOF
	login 0 MaxBurstLength=Irrelevant
	EOF
	has 'login 0 status=0x0200 tsih=0'
	assert_log_has 'reserved constant proposed as a value'
	stop_daemon
}

@test "a key sent twice in one request fails the login with 0x0200" {
	conf
	start_daemon
	sess <<-EOF
	login 0 MaxBurstLength=65536 MaxBurstLength=65536
	EOF
	has 'login 0 status=0x0200 tsih=0'
	assert_log_has 'duplicate key'
	stop_daemon
}

@test "a key negotiated again in a later request fails the login with 0x0200" {
	conf
	start_daemon
	sess <<-EOF
	login 0 pdus=1 twice MaxBurstLength=65536
	EOF
	has 'key 0 MaxBurstLength=65536'
	has 'login 0 status=0x0200 tsih=0'
	assert_log_has 'key negotiated twice'
	stop_daemon
}

@test "a login phase of more than 32 requests fails with 0x0200" {
	conf
	start_daemon
	sess <<-EOF
	login 0 pdus=31
	login 1 isid=801234560002 pdus=40
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 status=0x0200 tsih=0'
	assert_log_has 'more than 32 login PDUs'
	stop_daemon
}

@test "more than 256 keys in a login request fail it with 0x0302 (out of resources)" {
	conf
	start_daemon
	sess <<-EOF
	login 0 nkeys=250
	login 1 isid=801234560002 nkeys=300
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 status=0x0302 tsih=0'
	assert_log_has 'too many keys'
	stop_daemon
}

@test "login text over 64 KiB across continuations fails with 0x0302" {
	conf
	start_daemon
	sess <<-EOF
	login 0 nkeys=100 keylen=255
	login 1 isid=801234560002 nkeys=250 keylen=255
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 status=0x0302 tsih=0'
	assert_log_has 'login text over 65536 bytes'
	stop_daemon
}

@test "an answer longer than one Login Response comes in C-bit pieces, each asked for" {
	local p=X-com.example.a-rather-long-key-name-to-fill-the-answer-
	conf
	start_daemon
	sess <<-EOF
	login 0 nkeys=60 kprefix=$p
	login 1 isid=801234560002 nkeys=120 kprefix=$p
	EOF
	has 'login 0 status=0x0000 tsih=[1-9][0-9]*'
	has 'login 1 pieces=2'
	has 'login 1 status=0x0000 tsih=[1-9][0-9]*'
	# Every one of the 120 unknown keys is answered, across the pieces.
	n=$(grep -Ec "^key 1 ${p}[0-9]+=NotUnderstood\$" <<<"$output")
	[ "$n" -eq 120 ] || fail "$n of 120 keys answered" "$output"
	stop_daemon
}
