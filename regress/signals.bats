#!/usr/bin/env bats
# signals.bats: SIGTERM and SIGINT stop ietd cleanly (exit 0), with live
# sessions and logins, and what was acknowledged is on disk.

load lib/common

setup() {
	common_setup
	VERIFY=$(helper iscsi-verify)
	default_conf 64M
}

teardown() {
	common_teardown
}

# wait_for_session: a full-feature session is up: its login was logged
# and io holds an established connection on the portal.
wait_for_session() {
	local io i
	wait_for_log 'successful login by' 20 || return 1
	io=$(io_pid) || fail "no io process" || return 1
	for ((i = 0; i < 100; i++)); do
		ss -Htnp state established "( sport = :$PORT )" |
		    grep -q "pid=$io," && return 0
		sleep 0.1
	done
	fail "io holds no connection on port $PORT:" \
	    "$(ss -tnp "( sport = :$PORT )")"
}

@test "SIGTERM with a live session stops ietd with exit 0" {
	need_tool iscsi-perf
	start_daemon
	spawn_client "$T/perf.out" iscsi-perf -m 4 -b 16 \
	    "$(iscsi_url "$TARGET" 0)"
	wait_for_session
	sleep 1
	alive_any "$CLIENT_PID" ||
	    fail "iscsi-perf ended early:" "$(tr '\r' '\n' <"$T/perf.out")"
	stop_daemon 0
}

@test "SIGINT stops ietd with exit 0" {
	local pp i st=0
	start_daemon
	pp=$(parent_pid)
	kill -INT "$pp"
	for ((i = 0; i < 200; i++)); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$DAEMON_PID" 2>/dev/null ||
	    fail "ietd did not stop within 20 s of SIGINT"
	wait "$DAEMON_PID" || st=$?
	DAEMON_PID=
	[ "$st" -eq 0 ] || fail "exit status $st after SIGINT:" "$(daemon_log)"
	sanitizer_check
}

@test "SIGTERM ends workers that are still logging in" {
	start_daemon -t 0
	hold_conn
	hold_conn
	wait_for_workers 2 10
	# stop_daemon also checks that no ietd process outlives the parent.
	stop_daemon 0
}

@test "SIGTERM closes the initiators' connections" {
	start_daemon -t 0
	hold_conn
	wait_for_workers 1 10
	stop_daemon 0
	conn_closed_by_peer "$HELD_FD" 5 ||
	    fail "the held connection is still open after the daemon exited"
}

@test "data written and acknowledged before SIGTERM is on disk" {
	start_daemon
	# No SYNCHRONIZE CACHE: the acknowledgement alone must be enough
	# for the data to reach the backing file by the time ietd exits.
	run_client "$VERIFY" -w -s 77 -l 1000 -n 8192 -c 256 \
	    "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	stop_daemon 0
	run "$VERIFY" -F "$T/lun0.img" -s 77 -l 1000 -n 8192
	assert_status 0
	assert_output_has '^verified 8192 blocks'
}

@test "writes acknowledged during a SIGTERM shutdown are on disk" {
	need_tool iscsi-perf
	start_daemon
	run_client "$VERIFY" -w -s 78 -n 4096 "$(iscsi_url "$TARGET" 0)"
	assert_status 0
	# A reader keeps the session busy while the daemon stops.
	spawn_client "$T/perf.out" iscsi-perf -m 8 -b 64 \
	    "$(iscsi_url "$TARGET" 0)"
	wait_for_session
	stop_daemon 0
	run "$VERIFY" -F "$T/lun0.img" -s 78 -n 4096
	assert_status 0
}

@test "after a stop ietd listens on the same port again at once" {
	start_daemon
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	stop_daemon 0
	! port_listening "$PORT" || fail "port $PORT still listens"
	start_daemon
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	stop_daemon 0
}
