#!/usr/bin/env bats
# discovery.bats: discovery sessions (SendTargets) as iscsi-ls drives them.

load lib/common

setup() {
	common_setup
	need_tool iscsi-ls
	make_lun "$T/lun0.img" 64M
	make_lun "$T/lun3.img" 8M
	make_lun "$T/t2.img" 16M
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 3 Path=$T/lun3.img,Type=fileio
Target $TARGET2
	Lun 0 Path=$T/t2.img,Type=fileio
EOF
	start_daemon
}

teardown() {
	common_teardown
}

@test "iscsi-ls lists every configured target" {
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	assert_output_has "Target:$TARGET "
	assert_output_has "Target:$TARGET2 "
	[ "$(grep -c '^Target:' <<<"$output")" -eq 2 ] ||
	    fail "expected exactly two targets:" "$output"
	stop_daemon
}

@test "SendTargets answers with the portal the initiator used" {
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	assert_output_has "Target:$TARGET Portal:127\\.0\\.0\\.1:$PORT,[0-9]+"
	stop_daemon
}

@test "iscsi-ls -s lists each target's LUNs as direct-access disks" {
	run_client iscsi-ls -s "$(iscsi_url)"
	assert_status 0
	# The LUN lines follow their target's line.
	awk -v t="Target:$TARGET " '
	    index($0, t) == 1 { in_t = 1; next }
	    /^Target:/ { in_t = 0 }
	    in_t && /^Lun:0 .*DIRECT_ACCESS/ { l0 = 1 }
	    in_t && /^Lun:3 .*DIRECT_ACCESS/ { l3 = 1 }
	    END { exit !(l0 && l3) }' <<<"$output" ||
	    fail "LUNs 0 and 3 of $TARGET are not listed:" "$output"
	assert_output_has "^Lun:0 +Type:DIRECT_ACCESS \\(Size:6[34]M\\)"
	stop_daemon
}

@test "iscsi-ls --url prints a URL per target" {
	run_client iscsi-ls --url "$(iscsi_url)"
	assert_status 0
	assert_output_has "iscsi://127\\.0\\.0\\.1:$PORT/$TARGET/"
	stop_daemon
}

@test "a discovery session is logged as a connection request from the peer" {
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	wait_for_log 'connection request from .*127\.0\.0\.1'
	stop_daemon
}

@test "the worker of a discovery session exits after the session" {
	run_client iscsi-ls -s "$(iscsi_url)"
	assert_status 0
	wait_for_workers 0 10
	stop_daemon
}

@test "ten discovery sessions in a row all succeed" {
	for i in 1 2 3 4 5 6 7 8 9 10; do
		run_client iscsi-ls "$(iscsi_url)"
		assert_status 0
		assert_output_has "Target:$TARGET2 "
	done
	wait_for_workers 0 10
	[ "$(log_count 'connection request from')" -ge 10 ] ||
	    fail "expected 10 connection requests in the log:" "$(daemon_log)"
	stop_daemon
}

@test "discovery with an unusual initiator name still works" {
	run_client iscsi-ls -i iqn.2026-11.org.example:a.b-c.d "$(iscsi_url)"
	assert_status 0
	assert_output_has "Target:$TARGET "
	stop_daemon
}

@test "SendTargets=All lists every target with the portal used, then Logout succeeds" {
	local raw
	raw=$(helper rawpdu)
	run timeout -k 2 30 "$raw" 127.0.0.1 "$PORT" sendtargets All
	assert_status 0
	assert_output_has "^text TargetName=$TARGET\$"
	assert_output_has "^text TargetName=$TARGET2\$"
	assert_output_has "^text TargetAddress=127\\.0\\.0\\.1:$PORT,[0-9]+\$"
	assert_output_has '^logout response=0$'
	stop_daemon
}

@test "SendTargets=<name> answers with that target only" {
	local raw
	raw=$(helper rawpdu)
	run timeout -k 2 30 "$raw" 127.0.0.1 "$PORT" sendtargets "$TARGET2"
	assert_status 0
	assert_output_has "^text TargetName=$TARGET2\$"
	! grep -q "^text TargetName=$TARGET\$" <<<"$output" ||
	    fail "the answer names $TARGET too:" "$output"
	assert_output_has "^text TargetAddress=127\\.0\\.0\\.1:$PORT,"
	stop_daemon
}

@test "SendTargets=<unknown name> answers with no target" {
	local raw
	raw=$(helper rawpdu)
	run timeout -k 2 30 "$raw" 127.0.0.1 "$PORT" sendtargets \
	    iqn.2026-11.org.ietd:nothere
	assert_status 0
	assert_output_has '^pdu opcode=0x24$'
	! grep -q '^text TargetName=' <<<"$output" ||
	    fail "an unknown name got targets:" "$output"
	assert_output_has '^logout response=0$'
	stop_daemon
}
