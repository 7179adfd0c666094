#!/usr/bin/env bats
# limits.bats: -m maxproc (workers alive at once) and -t seconds (how long
# a login may take).

load lib/common

setup() {
	common_setup
	default_conf
}

teardown() {
	common_teardown
}

# still_workers n seconds: exactly n workers throughout the interval.
still_workers() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		[ "$(worker_count)" -eq "$1" ] ||
		    fail "expected $1 workers, have $(worker_count)" ||
		    return 1
		sleep 0.2
	done
}

@test "with -m 2 and five idle connections only two workers run" {
	local i
	start_daemon -m 2 -t 0
	for i in 1 2 3 4 5; do
		hold_conn
	done
	wait_for_workers 2 10
	still_workers 2 2
	[ "$(log_count 'connection request from')" -eq 2 ] ||
	    fail "expected 2 accepted connections:" "$(daemon_log)"
	stop_daemon
}

@test "hitting maxproc is logged once" {
	local i
	start_daemon -m 2 -t 0
	for i in 1 2 3 4 5; do
		hold_conn
	done
	wait_for_workers 2 10
	wait_for_log 'maxproc limit of 2 child processes hit' 5
	sleep 1
	[ "$(log_count 'maxproc limit of 2')" -eq 1 ] ||
	    fail "the maxproc line is logged more than once:" "$(daemon_log)"
	stop_daemon
}

@test "connections waiting in the backlog are served as workers exit" {
	local i
	start_daemon -m 2 -t 0
	for i in 1 2 3 4 5; do
		hold_conn
	done
	wait_for_workers 2 10
	# Closing the two served connections lets two more in.
	close_conn "${HELD_FDS[0]}"
	close_conn "${HELD_FDS[1]}"
	wait_for_log_count 'connection request from' 4 10
	wait_for_workers 2 10
	close_conn "${HELD_FDS[2]}"
	close_conn "${HELD_FDS[3]}"
	wait_for_log_count 'connection request from' 5 10
	wait_for_workers 1 10
	close_conn "${HELD_FDS[4]}"
	wait_for_workers 0 10
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	assert_output_has "Target:$TARGET "
	stop_daemon
}

@test "a discovery session waits while maxproc workers are busy, then succeeds" {
	local ls_pid st
	need_tool iscsi-ls
	start_daemon -m 2 -t 0
	hold_conn
	hold_conn
	wait_for_workers 2 10
	spawn_client "$T/ls.out" iscsi-ls "$(iscsi_url)"
	ls_pid=$CLIENT_PID
	sleep 2
	kill -0 "$ls_pid" 2>/dev/null ||
	    fail "iscsi-ls finished while maxproc workers were busy:" \
	    "$(cat "$T/ls.out")"
	close_conn "${HELD_FDS[0]}"
	st=0
	wait "$ls_pid" || st=$?
	[ "$st" -eq 0 ] || fail "iscsi-ls failed ($st):" "$(cat "$T/ls.out")"
	grep -q "Target:$TARGET " "$T/ls.out" ||
	    fail "iscsi-ls did not list the target:" "$(cat "$T/ls.out")"
	stop_daemon
}

@test "at maxproc the parent still stops on SIGTERM with exit 0" {
	local i
	start_daemon -m 2 -t 0
	for i in 1 2 3; do
		hold_conn
	done
	wait_for_workers 2 10
	stop_daemon 0
}

@test "-m 0 means no limit: ten idle connections get ten workers" {
	local i
	start_daemon -m 0 -t 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		hold_conn
	done
	wait_for_workers 10 10
	stop_daemon
}

@test "with -t 2 a connection that sends nothing is closed after about 2 seconds" {
	local t0 t1
	start_daemon -t 2
	t0=$(date +%s%N)
	hold_conn
	conn_closed_by_peer "$HELD_FD" 10 ||
	    fail "the connection is still open after 10 s"
	t1=$(date +%s%N)
	(( (t1 - t0) / 1000000 >= 1500 )) ||
	    fail "closed after $(( (t1 - t0) / 1000000 )) ms, before -t 2"
	stop_daemon
}

@test "a login timeout is logged with 'timed out' and the peer address" {
	start_daemon -t 2
	hold_conn
	wait_for_log 'timed out.*127\.0\.0\.1|127\.0\.0\.1.*timed out' 10
	stop_daemon
}

@test "the worker of a timed-out login is gone" {
	start_daemon -t 2
	hold_conn
	wait_for_workers 1 5
	wait_for_workers 0 10
	stop_daemon
}

@test "-t 0 disables the login timeout" {
	start_daemon -t 0
	hold_conn
	! conn_closed_by_peer "$HELD_FD" 4 ||
	    fail "the connection was closed with -t 0"
	[ "$(worker_count)" -eq 1 ] || fail "the worker is gone"
	stop_daemon
}

@test "a timed-out worker frees its maxproc slot" {
	local ls_pid st
	need_tool iscsi-ls
	start_daemon -m 1 -t 2
	hold_conn
	wait_for_workers 1 5
	spawn_client "$T/ls.out" iscsi-ls "$(iscsi_url)"
	ls_pid=$CLIENT_PID
	st=0
	wait "$ls_pid" || st=$?
	[ "$st" -eq 0 ] || fail "iscsi-ls failed ($st):" "$(cat "$T/ls.out")"
	grep -q "Target:$TARGET " "$T/ls.out" ||
	    fail "iscsi-ls did not list the target:" "$(cat "$T/ls.out")"
	assert_log_has 'timed out'
	stop_daemon
}

@test "the daemon keeps serving after login timeouts" {
	start_daemon -t 1
	hold_conn
	hold_conn
	wait_for_log 'timed out' 10
	wait_for_workers 0 10
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	assert_output_has "Target:$TARGET "
	stop_daemon
}
