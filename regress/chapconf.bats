#!/usr/bin/env bats
# chapconf.bats: how ietd.conf(5) shapes CHAP: CHAPAlgorithms (the order
# by which the target picks from the initiator's CHAP_A list, per target
# and globally, leaving out what it does not name), driven by the
# chapclient helper offering several algorithms; and the start-up
# warnings for a secret under 12 characters and for a configuration file
# readable by group or others.

load lib/common

SECRET=joesecret12345
DSECRET=discsecret1234

setup() {
	common_setup
	CHAPCLIENT=$(helper chapclient)
	make_lun "$T/lun0.img" 16M
}

teardown() {
	common_teardown
}

# chap [args...]: chapclient against the daemon, answer in $output.
chap() {
	run timeout -k 2 30 "$CHAPCLIENT" -w 10 "$@" 127.0.0.1 "$PORT"
}

@test "CHAPAlgorithms orders the choice from CHAP_A, per target and globally" {
	write_conf <<EOF
IncomingUser disc $DSECRET
CHAPAlgorithms SHA-1, MD5
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser joe $SECRET
	CHAPAlgorithms SHA-256,SHA3-256
Target $TARGET2
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser joe $SECRET
EOF
	start_daemon
	# The target's own order, whatever the initiator's.
	chap -a 5,6,7,8 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=7$'
	assert_output_has '^logout=ok$'
	chap -a 8,7 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=7$'
	chap -a 8 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=8$'
	# The global order, for a target without its own and for discovery.
	chap -a 8,7,6,5 -u joe -s $SECRET -t "$TARGET2"
	assert_status 0
	assert_output_has '^chap_a=6$'
	chap -d -a 5,6,7,8 -u disc -s $DSECRET
	assert_status 0
	assert_output_has '^chap_a=6$'
	assert_output_has '^logout=ok$'
	assert_log_has 'CHAP: SHA-1 challenge for .* from 127\.0\.0\.1'
	stop_daemon
}

@test "an initiator offering none of the CHAPAlgorithms gets 0x0201" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser joe $SECRET
	CHAPAlgorithms SHA3-256
EOF
	start_daemon
	chap -a 5,6,7 -u joe -s $SECRET -t "$TARGET"
	assert_status 1
	assert_output_has '^status=0x0201$'
	assert_log_has 'io: login by .* failed: CHAP: CHAP_A offers none of the CHAPAlgorithms allowed \(user -, from 127\.0\.0\.1'
	assert_log_has 'worker: .*login by .* failed: CHAP: no challenge for CHAP_A=5,6,7 \(status 0x0201\)'
	chap -a 5,6,7,8 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=8$'
	stop_daemon
}

@test "without CHAPAlgorithms the strongest algorithm offered wins" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser joe $SECRET
EOF
	start_daemon
	chap -a 5,6,7,8 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=8$'
	chap -a 5,6 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=6$'
	stop_daemon
}

@test "CHAPAlgorithms errors are reported as file:line" {
	write_conf <<EOF
CHAPAlgorithms SHA-512
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	CHAPAlgorithms md5,MD5
EOF
	run "$IETD_BIN" -n -c "$CONF"
	assert_status 1
	assert_output_has "$CONF:1: CHAPAlgorithms: unknown algorithm SHA-512 \(expected SHA3-256, SHA-256, SHA-1 or MD5\)$"
	assert_output_has "$CONF:4: CHAPAlgorithms: MD5 given twice$"
}

@test "a secret under 12 characters draws a warning at start-up, never the secret" {
	write_conf <<EOF
IncomingUser disc short1
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser joe tooshort99
	OutgoingUser tgt $SECRET
EOF
	start_daemon
	assert_log_has "$CONF:1: warning: IncomingUser disc: secret is shorter than 12 bytes"
	assert_log_has "$CONF:4: warning: IncomingUser joe: secret is shorter than 12 bytes"
	[ "$(log_count 'OutgoingUser tgt')" -eq 0 ] ||
	    fail "a 14-character secret drew a warning:" "$(daemon_log)"
	# The daemon serves anyway.
	chap -a 7 -u joe -s tooshort99 -t "$TARGET"
	assert_status 0
	stop_daemon
	! grep -Eq 'short1|tooshort99' "$LOG" ||
	    fail "a secret reached the log:" "$(daemon_log)"
}

@test "a configuration readable by group or others draws a warning at start-up" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	start_daemon
	[ "$(log_count 'readable by group or others')" -eq 0 ] ||
	    fail "mode 600 drew a warning:" "$(daemon_log)"
	stop_daemon
	chmod 640 "$CONF"
	start_daemon
	assert_log_has "$CONF: warning: readable by group or others, but it may hold CHAP secrets \(chmod 600 it\)"
	stop_daemon
	chmod 604 "$CONF"
	run "$IETD_BIN" -n -c "$CONF"
	assert_status 0
	assert_output_has 'readable by group or others'
}
