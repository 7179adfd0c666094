#!/usr/bin/env bats
# pidfile.bats: -P pidfile (libbsd pidfile_open): the lock that keeps a
# second instance out, its content, and daemonized mode.

load lib/common

setup() {
	common_setup
	default_conf
}

teardown() {
	local p
	# A daemonized ietd is not our child: kill it by its pidfile.
	if [ -n "${DAEMONIZED_PID:-}" ] && kill -0 "$DAEMONIZED_PID" 2>/dev/null
	then
		for p in $(descendants "$DAEMONIZED_PID") "$DAEMONIZED_PID"; do
			kill -KILL "$p" 2>/dev/null || true
		done
	fi
	common_teardown
}

@test "the pidfile holds the pid of the parent" {
	local pp
	start_daemon
	pp=$(parent_pid) || fail "no pid in $PIDFILE: $(cat "$PIDFILE")"
	[[ $(proc_title "$pp") == *"ietd: parent"* ]] ||
	    fail "pid $pp in the pidfile is $(proc_title "$pp")"
	[ "$pp" = "$DAEMON_PID" ] ||
	    descendants "$DAEMON_PID" | grep -qx "$pp" ||
	    fail "pid $pp is not the daemon we started ($DAEMON_PID)"
	stop_daemon
}

@test "a second instance on the same pidfile exits 1 with 'unable to lock pid file'" {
	local pp port2
	start_daemon
	pp=$(parent_pid)
	port2=$(free_port)
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$port2" -P "$PIDFILE" 3>&-
	assert_status 1
	assert_output_has 'unable to lock pid file'
	assert_output_has "\\<$pp\\>"
	! port_listening "$port2" || fail "the second instance listens"
	stop_daemon
}

@test "a refused second instance leaves the first one and its pidfile alone" {
	local pp
	start_daemon
	pp=$(parent_pid)
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$(free_port)" -P "$PIDFILE" 3>&-
	assert_status 1
	[ "$(parent_pid)" = "$pp" ] ||
	    fail "the pidfile now says $(cat "$PIDFILE"), not $pp"
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	assert_output_has "Target:$TARGET "
	stop_daemon
}

@test "a stale pidfile does not keep ietd from starting" {
	echo 999999 >"$PIDFILE"
	KEEP_PIDFILE=1 start_daemon
	[ "$(parent_pid)" != 999999 ] || fail "the pidfile was not rewritten"
	stop_daemon
}

@test "ietd starts again on the same pidfile after a clean stop" {
	start_daemon
	stop_daemon 0
	start_daemon
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	stop_daemon 0
}

@test "without -f ietd daemonizes, writes the pidfile and stops on SIGTERM" {
	local st=0 i pp
	timeout -k 2 20 "$IETD_BIN" -c "$CONF" -a 127.0.0.1 -p "$PORT" \
	    -P "$PIDFILE" </dev/null >"$T/fg.out" 2>&1 3>&- || st=$?
	[ "$st" -eq 0 ] || fail "ietd exited $st:" "$(cat "$T/fg.out")"
	for ((i = 0; i < 100; i++)); do
		[ -s "$PIDFILE" ] && port_listening "$PORT" && break
		sleep 0.1
	done
	pp=$(parent_pid) || fail "no pidfile after daemonizing"
	DAEMONIZED_PID=$pp
	port_listening "$PORT" || fail "the daemon does not listen"
	[[ $(proc_title "$pp") == *"ietd: parent"* ]] ||
	    fail "pid $pp is $(proc_title "$pp")"
	# Detached from our session.
	[ "$(ps -o sid= -p "$pp" | tr -d ' ')" != \
	    "$(ps -o sid= -p $$ | tr -d ' ')" ] ||
	    fail "the daemon is still in our session"
	run_client iscsi-ls "$(iscsi_url)"
	assert_status 0
	kill -TERM "$pp"
	for ((i = 0; i < 100; i++)); do
		alive_any "$pp" || break
		sleep 0.1
	done
	! alive_any "$pp" || fail "the daemon did not stop on SIGTERM"
	for ((i = 0; i < 50; i++)); do
		port_listening "$PORT" || break
		sleep 0.1
	done
	! port_listening "$PORT" || fail "something still listens on $PORT"
}
