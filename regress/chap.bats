#!/usr/bin/env bats
# chap.bats: CHAP as io judges it (RFC 7143 section 12.1.3): one-way and
# mutual, for a target and for discovery, with MD5 through libiscsi and
# SHA-1, SHA-256 and SHA3-256 through the chapclient helper; refusals
# carry 0x0201 and no secret, challenge or response reaches the log.

load lib/common

SECRET=joesecret12345
TSECRET=tgtsecret12345
DSECRET=discsecret1234
DOSECRET=doutsecret1234

setup() {
	common_setup
	CHAPCLIENT=$(helper chapclient)
	need_tool iscsi-inq iscsi-ls
	make_lun "$T/lun0.img" 16M
	write_conf <<EOF
IncomingUser disc $DSECRET
OutgoingUser dout $DOSECRET
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser jim jimsecret12345
	IncomingUser joe $SECRET
	OutgoingUser tgt $TSECRET
Target $TARGET2
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	start_daemon
}

teardown() {
	common_teardown
}

# chap [args...]: chapclient against the daemon, answer in $output.
chap() {
	run timeout -k 2 30 "$CHAPCLIENT" -w 10 "$@" 127.0.0.1 "$PORT"
}

# url user secret [target]: a libiscsi URL with CHAP credentials.
url() {
	printf 'iscsi://%s%%%s@127.0.0.1:%s/%s/0\n' "$1" "$2" "$PORT" \
	    "${3:-$TARGET}"
}

@test "MD5 CHAP with the right secret logs in (libiscsi)" {
	run_client iscsi-inq "$(url joe $SECRET)"
	assert_status 0
	assert_output_has 'DIRECT_ACCESS'
	wait_for_log "successful login by .* to $TARGET, CHAP user joe"
	assert_log_has 'io: CHAP: .* authenticated as joe with MD5'
	stop_daemon
}

@test "a second IncomingUser of the same target logs in too" {
	run_client iscsi-inq "$(url jim jimsecret12345)"
	assert_status 0
	wait_for_log "successful login by .*CHAP user jim"
	stop_daemon
}

@test "MD5 CHAP with a wrong secret is refused (libiscsi)" {
	run_client iscsi-inq "$(url joe wrongsecret1234)"
	[ "$status" -ne 0 ] || fail "login with a wrong secret succeeded"
	wait_for_log 'login by .* failed: CHAP: wrong response \(user joe, from 127\.0\.0\.1'
	wait_for_log 'login by .* failed: .*\(status 0x0201\)'
	stop_daemon
}

@test "an unknown CHAP user is refused" {
	chap -a 7 -u bob -s $SECRET -t "$TARGET"
	assert_status 1
	assert_output_has '^status=0x0201$'
	assert_log_has 'failed: CHAP: unknown user \(user bob'
	stop_daemon
}

@test "a login without credentials to a CHAP target is refused (libiscsi)" {
	run_client iscsi-inq "$(iscsi_url "$TARGET" 0)"
	[ "$status" -ne 0 ] || fail "login without CHAP succeeded"
	wait_for_log 'login by .* failed: CHAP required.*\(status 0x0201\)'
	stop_daemon
}

@test "AuthMethod=None to a CHAP target gets 0x0201" {
	chap -n -t "$TARGET"
	assert_status 1
	assert_output_has '^status=0x0201$'
	assert_log_has 'failed: CHAP required, AuthMethod offers "None" \(status 0x0201\)'
	stop_daemon
}

@test "a target without IncomingUser still takes AuthMethod=None" {
	chap -n -t "$TARGET2"
	assert_status 0
	assert_output_has '^logout=ok$'
	stop_daemon
}

@test "mutual MD5 CHAP with the right target secret logs in (libiscsi)" {
	run_client iscsi-inq \
	    "$(url joe $SECRET)?target_user=tgt&target_password=$TSECRET"
	assert_status 0
	assert_output_has 'DIRECT_ACCESS'
	wait_for_log 'authenticated as joe with MD5 \(mutual\)'
	stop_daemon
}

@test "mutual MD5 CHAP expecting another target secret fails (libiscsi)" {
	run_client iscsi-inq \
	    "$(url joe $SECRET)?target_user=tgt&target_password=notthesecret1"
	[ "$status" -ne 0 ] || fail "the initiator accepted a wrong CHAP_R"
	assert_output_has 'CHAP_R'
	stop_daemon
}

@test "discovery with the global IncomingUser lists the targets (libiscsi)" {
	run_client iscsi-ls "iscsi://disc%$DSECRET@127.0.0.1:$PORT"
	assert_status 0
	assert_output_has "Target:$TARGET "
	assert_output_has "Target:$TARGET2 "
	wait_for_log 'successful login by .* \(discovery\), CHAP user disc'
	stop_daemon
}

@test "discovery without credentials is refused when IncomingUser is global" {
	run_client iscsi-ls "iscsi://127.0.0.1:$PORT"
	[ "$status" -ne 0 ] || fail "discovery without CHAP succeeded"
	[[ $output != *"Target:"* ]] || fail "targets listed: $output"
	wait_for_log 'login by .* failed: CHAP required.*\(status 0x0201\)'
	stop_daemon
}

@test "discovery with a wrong secret is refused" {
	chap -d -a 7 -u disc -s wrongsecret1234
	assert_status 1
	assert_output_has '^status=0x0201$'
	stop_daemon
}

@test "discovery without a global IncomingUser needs no CHAP" {
	stop_daemon
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	IncomingUser joe $SECRET
EOF
	start_daemon
	run_client iscsi-ls "iscsi://127.0.0.1:$PORT"
	assert_status 0
	assert_output_has "Target:$TARGET "
	stop_daemon
}

@test "mutual SHA-256 CHAP in discovery answers as the global OutgoingUser" {
	chap -d -a 7 -u disc -s $DSECRET -m dout -M $DOSECRET
	assert_status 0
	assert_output_has '^mutual=ok$'
	assert_output_has '^logout=ok$'
	stop_daemon
}

@test "SHA-1, SHA-256 and SHA3-256 CHAP with the right secret log in" {
	local a
	for a in 6 7 8; do
		chap -a $a -u joe -s $SECRET -t "$TARGET"
		assert_status 0
		assert_output_has "^chap_a=$a$"
		assert_output_has '^login=ok$'
		assert_output_has '^logout=ok$'
	done
	assert_log_has 'authenticated as joe with SHA-1,'
	assert_log_has 'authenticated as joe with SHA-256,'
	assert_log_has 'authenticated as joe with SHA3-256,'
	stop_daemon
}

@test "SHA-1, SHA-256 and SHA3-256 CHAP with a wrong secret are refused" {
	local a
	for a in 6 7 8; do
		chap -a $a -u joe -s wrongsecret1234 -t "$TARGET"
		assert_status 1
		assert_output_has "^chap_a=$a$"
		assert_output_has '^status=0x0201$'
	done
	[ "$(log_count 'failed: CHAP: wrong response')" -eq 3 ] ||
	    fail "expected 3 wrong responses:" "$(daemon_log)"
	stop_daemon
}

@test "mutual SHA-1, SHA-256 and SHA3-256 CHAP: the target proves its secret" {
	local a
	for a in 6 7 8; do
		chap -a $a -u joe -s $SECRET -m tgt -M $TSECRET -t "$TARGET"
		assert_status 0
		assert_output_has '^mutual=ok$'
		assert_output_has '^logout=ok$'
	done
	stop_daemon
}

@test "mutual SHA-256 CHAP expecting another target secret fails" {
	chap -a 7 -u joe -s $SECRET -m tgt -M notthesecret1 -t "$TARGET"
	assert_status 1
	assert_output_has '^mutual=bad$'
	stop_daemon
}

@test "the target picks the strongest algorithm offered" {
	chap -a 5,6,7,8 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=8$'
	chap -a 5,6 -u joe -s $SECRET -t "$TARGET"
	assert_status 0
	assert_output_has '^chap_a=6$'
	stop_daemon
}

@test "a CHAP_A list without a supported algorithm gets 0x0201" {
	chap -a 1,2,3,4,9 -u joe -s $SECRET -t "$TARGET"
	assert_status 1
	assert_output_has '^status=0x0201$'
	assert_log_has 'failed: CHAP: no supported algorithm in CHAP_A'
	stop_daemon
}

@test "a reflected challenge (ours sent back for mutual CHAP) is refused" {
	chap -r -a 7 -u joe -s $SECRET -m tgt -M $TSECRET -t "$TARGET"
	assert_status 1
	assert_output_has '^status=0x0201$'
	assert_log_has 'failed: CHAP: the initiator sent back our own challenge'
	stop_daemon
}

# The text of every hexdumped PDU, joined per process.
dumped_text() {
	sed -nE 's/^[^ ]+ ietd\[([0-9]+)\] .*: (([0-9a-f]{2} |   ){16}) (.{1,16})$/\1 \4/p' \
	    "$LOG" | awk '{ p = $1; sub(/^[0-9]+ /, ""); t[p] = t[p] $0 }
	    END { for (p in t) print t[p] }'
}

@test "no secret, challenge or response appears in the daemon log" {
	local c r s
	run_client iscsi-inq \
	    "$(url joe $SECRET)?target_user=tgt&target_password=$TSECRET"
	assert_status 0
	run_client iscsi-ls "iscsi://disc%$DSECRET@127.0.0.1:$PORT"
	assert_status 0
	chap -a 8 -u joe -s $SECRET -m tgt -M $TSECRET -t "$TARGET"
	assert_status 0
	c=$(sed -n 's/^challenge=0x\([0-9a-f]*\) .*/\1/p' <<<"$output")
	r=$(sed -n 's/.* response=0x\([0-9a-f]*\)$/\1/p' <<<"$output")
	[ ${#c} -eq 64 ] && [ ${#r} -eq 64 ] ||
	    fail "no challenge or response in: $output"
	stop_daemon
	# The dumps are there (-d 2), with the CHAP keys but not their values.
	dumped_text | grep -q 'CHAP_N=joe' ||
	    fail "no PDU dumps in the log:" "$(daemon_log)"
	dumped_text | grep -q 'CHAP_R=\*\*\*' ||
	    fail "CHAP_R not blotted out:" "$(dumped_text)"
	for s in $SECRET $TSECRET $DSECRET $DOSECRET; do
		! grep -qF "$s" "$LOG" || fail "secret $s in the log"
	done
	if grep -qiF "$c" "$LOG" || dumped_text | grep -qiF "$c"; then
		fail "the challenge is in the log"
	fi
	if grep -qiF "$r" "$LOG" || dumped_text | grep -qiF "$r"; then
		fail "the response is in the log"
	fi
}
