#!/usr/bin/env bats
# cli.bats: the command line of ietd(8): usage, exit status, range checks.
#
# Option tests add -n and a good configuration where they can: an option
# that is wrongly accepted then makes ietd exit 0, which fails the test,
# instead of starting a daemon.

load lib/common

setup() {
	common_setup
	default_conf
}

teardown() {
	common_teardown
}

# ietd_check args...: run ietd -n -c $CONF with more options.
ietd_check() {
	run timeout -k 2 10 "$IETD_BIN" -n -c "$CONF" "$@"
}

# refused [pattern]: the last run failed on its own (not by timeout) and
# said why; the message matches the pattern (ERE; the bad value, say).
refused() {
	[ "$status" -gt 0 ] && [ "$status" -lt 124 ] ||
	    fail "exit status $status, expected a refusal (1..123):" \
	    "$output" || return 1
	[ -n "$output" ] || fail "refused without a message" || return 1
	[ $# -eq 0 ] || grep -Eq -- "$1" <<<"$output" ||
	    fail "the message does not name '$1':" "$output"
}

# has_usage: the output is the usage message.
has_usage() {
	grep -Eiq 'usage:' <<<"$output" ||
	    fail "no usage message in:" "$output"
}

@test "-h prints a usage naming every option and exits 0" {
	run timeout 10 "$IETD_BIN" -h
	assert_status 0
	has_usage
	# Either "-x arg" or a flag group such as "[-fhn]".
	for o in a c d f g h l m n P p t u; do
		grep -Eq -- "-[a-zA-Z]*$o" <<<"$output" ||
		    fail "usage does not mention -$o:" "$output"
	done
}

@test "--help prints the usage and exits 0" {
	run timeout 10 "$IETD_BIN" --help
	assert_status 0
	has_usage
}

@test "an unknown option prints the usage and exits non-zero" {
	ietd_check -Z
	refused 'Z'
	has_usage
}

@test "an unknown long option prints the usage and exits non-zero" {
	ietd_check --no-such-option
	refused 'no-such-option'
	has_usage
}

@test "a stray argument prints the usage and exits non-zero" {
	ietd_check extra
	refused
	has_usage
}

@test "an option missing its argument exits non-zero" {
	run timeout 10 "$IETD_BIN" -n -c
	refused
}

@test "-n with a good configuration exits 0" {
	ietd_check
	assert_status 0
}

@test "-n neither listens nor writes the pidfile" {
	ietd_check -a 127.0.0.1 -p "$PORT" -P "$PIDFILE"
	assert_status 0
	! port_listening "$PORT" || fail "something listens on $PORT"
	[ ! -e "$PIDFILE" ] || fail "-n wrote $PIDFILE"
}

@test "long options --config= --port= --address= --debug= are accepted" {
	run timeout 10 "$IETD_BIN" -n --config="$CONF" --port="$PORT" \
	    --address=127.0.0.1 --debug=1 --foreground
	assert_status 0
}

@test "--config= with a missing file exits 1 naming the file" {
	run timeout 10 "$IETD_BIN" -n --config="$T/nonexistent.conf"
	assert_status 1
	assert_output_has "$T/nonexistent.conf"
}

@test "-m -1 is refused" {
	ietd_check -m -1
	refused '-1'
}

@test "-m abc is refused" {
	ietd_check -m abc
	refused 'abc'
}

@test "-m 0 (no limit) and -m 1 are accepted" {
	ietd_check -m 0
	assert_status 0
	ietd_check -m 1
	assert_status 0
}

@test "-t abc is refused" {
	ietd_check -t abc
	refused 'abc'
}

@test "-t -1 is refused" {
	ietd_check -t -1
	refused '-1'
}

@test "-t 0 (no timeout) is accepted" {
	ietd_check -t 0
	assert_status 0
}

@test "-p 70000 is refused" {
	ietd_check -p 70000
	refused '70000'
}

@test "--port=70000 is refused" {
	ietd_check --port=70000
	refused '70000'
}

@test "-p 3x is refused" {
	ietd_check -p 3x
	refused '3x'
}

@test "-d abc is refused" {
	ietd_check -d abc
	refused 'abc'
}

@test "-d -1 is refused" {
	ietd_check -d -1
	refused '-1'
}

@test "-l abc is refused" {
	ietd_check -l abc
	refused 'abc'
}

@test "-u with an unknown user exits non-zero" {
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$PIDFILE" -u no-such-user-ietd 3>&-
	refused
	assert_output_has 'no-such-user-ietd'
}

@test "-g with an unknown group exits non-zero" {
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$PIDFILE" -g no-such-group-ietd 3>&-
	refused
	assert_output_has 'no-such-group-ietd'
}

@test "-u root is refused: the daemon never runs as uid 0" {
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$PIDFILE" -u root 3>&-
	refused 'root|uid 0'
}

@test "-u 0 is refused" {
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$PIDFILE" -u 0 3>&-
	refused '\<0\>|root'
}

@test "started by a user other than root, ietd exits non-zero" {
	need_tool setpriv
	# Readable by nobody, so that being root is the only thing missing.
	chmod 644 "$CONF"
	run timeout -k 2 10 setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$T/nobody.pid" 3>&-
	refused 'root'
	! port_listening "$PORT" || fail "it listens on $PORT"
}

@test "an address that is not local gives 'unable to bind server socket' and exit 1" {
	# 192.0.2.1 is TEST-NET-1, never configured here.
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 192.0.2.1 \
	    -p "$PORT" -P "$PIDFILE" 3>&-
	assert_status 1
	assert_output_has 'unable to bind server socket'
}

@test "a port already in use gives 'unable to bind server socket' and exit 1" {
	start_daemon
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$T/second.pid" 3>&-
	assert_status 1
	assert_output_has 'unable to bind server socket'
	stop_daemon 0
}
