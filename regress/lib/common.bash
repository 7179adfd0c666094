# regress/lib/common.bash: helpers for the bats suites in regress/.
#
# Every suite does
#
#	load lib/common
#	setup()    { common_setup; }
#	teardown() { common_teardown; }
#
# and then, in a test: write_conf (or default_conf), start_daemon [args],
# talk to 127.0.0.1:$PORT, assert, stop_daemon.
#
# Environment:
#	IETD_BIN	daemon under test (default build/ietd, relative to
#			the top of the tree)
#	IETD_HELPERS	directory of the C helpers (default: regress/ next
#			to IETD_BIN, e.g. build/regress)
#	REGRESS_KEEP=1	keep each test's temporary directory
#	VALGRIND=1	run the daemon under valgrind (slow)
#	REGRESS_PORT_BASE, REGRESS_PORT_SPAN
#			loopback ports to pick from (default 3300..3999)
#	REGRESS_START_TIMEOUT
#			seconds start_daemon waits for the port (default 15)

IETD_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

case ${IETD_BIN:=build/ietd} in
/*)	;;
*)	IETD_BIN=$IETD_TOP/$IETD_BIN ;;
esac
: "${IETD_HELPERS:=$(dirname "$IETD_BIN")/regress}"
export IETD_BIN IETD_HELPERS

TARGET=iqn.2026-11.org.ietd:t1
TARGET2=iqn.2026-11.org.ietd:t2

# A loopback portal for libiscsi URLs: iscsi_url [target [lun]].
iscsi_url() {
	local u="iscsi://127.0.0.1:$PORT"
	[ $# -ge 1 ] && u="$u/$1"
	[ $# -ge 2 ] && u="$u/$2"
	printf '%s\n' "$u"
}

# fail message...: print the message (and the daemon log if any) and fail.
fail() {
	printf '%s\n' "$*" >&2
	return 1
}

skip_unless_root() {
	[ "$(id -u)" -eq 0 ] || skip "ietd must be started as root"
}

# need_tool name...: skip the test if an optional tool is missing.
need_tool() {
	local t
	for t; do
		command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
	done
}

# helper name: path of a C helper from regress/helpers, which must exist.
helper() {
	local h="$IETD_HELPERS/$1"
	[ -x "$h" ] || fail "helper $h is missing (run make regress-bins)" ||
	    return 1
	printf '%s\n' "$h"
}

common_setup() {
	skip_unless_root
	[ -x "$IETD_BIN" ] || fail "$IETD_BIN is missing: run make first" ||
	    return 1
	T=$(mktemp -d "${TMPDIR:-/tmp}/ietd-regress.XXXXXX")
	chmod 755 "$T"
	CONF=$T/ietd.conf
	PIDFILE=$T/ietd.pid
	LOG=$T/ietd.log
	LOGS=()
	DAEMON_PID=
	DAEMON_PIDS=()
	HELD_FDS=()
	CLIENT_PIDS=()
	PORT=$(free_port) || fail "no free port" || return 1
	export T CONF PIDFILE LOG PORT
}

common_teardown() {
	local fd p
	for fd in "${HELD_FDS[@]}"; do
		eval "exec $fd>&-" 2>/dev/null || true
	done
	for p in "${CLIENT_PIDS[@]}" "${DAEMON_PIDS[@]}"; do
		kill_tree "$p"
	done
	[ -z "${LOG_CAT_PID:-}" ] || kill "$LOG_CAT_PID" 2>/dev/null || true
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		# Shown by bats only when the test failed.
		for p in "${LOGS[@]}"; do
			[ -s "$p" ] || continue
			echo "# --- $p (last 40 lines)"
			tail -n 40 "$p" | sed 's/^/# /'
		done
		if [ "${REGRESS_KEEP:-0}" = 1 ]; then
			echo "# kept $T" >&3
		else
			rm -rf "$T"
		fi
	fi
}

# kill_tree pid: SIGKILL pid and every descendant (cleanup only).
kill_tree() {
	local p c
	p=$1
	kill -0 "$p" 2>/dev/null || return 0
	for c in $(descendants "$p"); do
		kill -KILL "$c" 2>/dev/null || true
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# free_port: an unused loopback TCP port in 3300..3999, spread by $$ so
# that concurrent runs rarely meet; checked with ss (any state).
free_port() {
	local base=${REGRESS_PORT_BASE:-3300} span=${REGRESS_PORT_SPAN:-700}
	local i p start
	start=$(( ($$ * 7 + ${BATS_TEST_NUMBER:-0} * 13 + RANDOM) % span ))
	for ((i = 0; i < span; i++)); do
		p=$((base + (start + i) % span))
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
			printf '%d\n' "$p"
			return 0
		fi
	done
	return 1
}

# port_listening port
port_listening() {
	[ -n "$(ss -Hltn "( sport = :$1 )")" ]
}

# write_conf [file]: the configuration from stdin, mode 600.
write_conf() {
	local f=${1:-$CONF}
	cat >"$f"
	chmod 600 "$f"
}

# make_lun file size: a sparse backing file (size as truncate(1) takes it).
make_lun() {
	truncate -s "$2" "$1"
}

# default_conf [size]: target $TARGET with a fileio LUN 0 at $T/lun0.img.
default_conf() {
	make_lun "$T/lun0.img" "${1:-64M}"
	write_conf <<EOF
# written by regress/lib/common.bash
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
}

# start_daemon [args]: run ietd in the foreground with -d 2 on
# 127.0.0.1:$PORT with $CONF and $PIDFILE, stderr to a new log file, and
# wait until it listens and has written its pidfile.
start_daemon() {
	local n=${#LOGS[@]} timeout=${REGRESS_START_TIMEOUT:-15} i st
	local -a pre=()

	LOG=$T/ietd.$n.log
	LOGS+=("$LOG")
	if [ "${VALGRIND:-0}" = 1 ]; then
		pre=(valgrind -q --error-exitcode=99 --leak-check=full
		    --trace-children=yes --log-file="$T/valgrind.%p.log")
		timeout=$((timeout * 4))
	fi
	[ "${KEEP_PIDFILE:-0}" = 1 ] || rm -f "$PIDFILE"
	# The daemon logs into a pipe, as under journald: with stderr on a
	# regular file it would not set RLIMIT_FSIZE to 0 in its sandbox.
	local sink=$LOG
	if [ "${REGRESS_LOG_FILE:-0}" != 1 ]; then
		sink=$T/log.$n.fifo
		mkfifo "$sink"
		cat "$sink" >>"$LOG" 3>&- &
		LOG_CAT_PID=$!
	fi
	# fd 3 is bats' own: a daemon holding it would stall the run.  SIGINT
	# is set back to the default that a background job loses.
	(
		close_held
		exec env --default-signal=INT,QUIT "${pre[@]}" "$IETD_BIN" \
		    -f -d 2 -c "$CONF" -a 127.0.0.1 -p "$PORT" -P "$PIDFILE" \
		    "$@" </dev/null >>"$sink" 2>&1 3>&-
	) &
	DAEMON_PID=$!
	DAEMON_PIDS+=("$DAEMON_PID")
	for ((i = 0; i < timeout * 10; i++)); do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			st=0
			wait "$DAEMON_PID" || st=$?
			log_drained
			fail "ietd exited with status $st before listening:" \
			    "$(cat "$LOG")"
			return 1
		fi
		if port_listening "$PORT" && [ -s "$PIDFILE" ]; then
			return 0
		fi
		sleep 0.1
	done
	fail "ietd did not listen on port $PORT within ${timeout}s:" \
	    "$(cat "$LOG")"
}

# log_drained: wait (a little) for the log pipe's reader to finish once
# the daemon and its children have exited.
log_drained() {
	local i
	[ -n "${LOG_CAT_PID:-}" ] || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$LOG_CAT_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$LOG_CAT_PID" 2>/dev/null || true
	LOG_CAT_PID=
}

# daemon_log: the log of the latest start_daemon.
daemon_log() {
	cat "$LOG"
}

# wait_file path: wait (at most 30 s) until path exists (a helper's
# "ready" file); on failure show the tests' client outputs ($T/*.out).
wait_file() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	fail "$1 never appeared:" "$(cat "$T"/*.out 2>/dev/null)"
}

# wait_for_log pattern [timeout]: wait until the latest log has a line
# matching the extended regular expression.
wait_for_log() {
	local pat=$1 timeout=${2:-10} i
	for ((i = 0; i < timeout * 10; i++)); do
		grep -Eq -- "$pat" "$LOG" && return 0
		sleep 0.1
	done
	fail "no log line matching '$pat' within ${timeout}s:" "$(cat "$LOG")"
}

# wait_for_log_count pattern n [timeout]: wait until at least n lines of
# the latest log match.
wait_for_log_count() {
	local pat=$1 n=$2 timeout=${3:-10} i
	for ((i = 0; i < timeout * 10; i++)); do
		[ "$(log_count "$pat")" -ge "$n" ] && return 0
		sleep 0.1
	done
	fail "fewer than $n log lines matching '$pat' within ${timeout}s:" \
	    "$(cat "$LOG")"
}

# log_count pattern: how many lines of the latest log match.
log_count() {
	grep -Ec -- "$1" "$LOG" || true
}

# sanitizer_check [log]: fail if a sanitizer or valgrind reported anything.
sanitizer_check() {
	local f=${1:-$LOG} v
	if grep -Eq 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer' "$f"; then
		fail "sanitizer report in $f:" "$(cat "$f")"
		return 1
	fi
	for v in "$T"/valgrind.*.log; do
		[ -s "$v" ] || continue
		fail "valgrind report $v:" "$(cat "$v")"
		return 1
	done
	return 0
}

# stop_daemon [status|any]: SIGTERM the parent, wait for every ietd
# process to exit, check the log for sanitizer reports and (unless "any")
# that the exit status is the one expected (default 0).
stop_daemon() {
	local want=${1:-0} timeout=20 i st pp
	local -a procs

	[ -n "$DAEMON_PID" ] || fail "stop_daemon: no daemon started" ||
	    return 1
	pp=$(parent_pid) || pp=$DAEMON_PID
	procs=("$DAEMON_PID" $(descendants "$DAEMON_PID"))
	kill -TERM "$pp" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill_tree "$DAEMON_PID"
		fail "ietd did not exit within ${timeout}s of SIGTERM:" \
		    "$(cat "$LOG")"
		return 1
	fi
	st=0
	wait "$DAEMON_PID" || st=$?
	DAEMON_EXIT=$st
	DAEMON_PID=
	log_drained
	# io and workers must not outlive the parent.
	for ((i = 0; i < 50; i++)); do
		alive_any "${procs[@]}" || break
		sleep 0.1
	done
	if alive_any "${procs[@]}"; then
		fail "ietd processes still alive after the parent exited:" \
		    "$(ps -o pid=,ppid=,args= -p "$(IFS=,; echo "${procs[*]}")")"
		return 1
	fi
	sanitizer_check || return 1
	if [ "$want" != any ] && [ "$st" -ne "$want" ]; then
		fail "ietd exited with status $st, expected $want:" \
		    "$(cat "$LOG")"
		return 1
	fi
	return 0
}

# alive_any pid...: true if one of the pids is still running (zombies
# count as gone).
alive_any() {
	local p s
	for p; do
		s=$(awk '/^State:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ -n "$s" ] && [ "$s" != Z ] && return 0
	done
	return 1
}

# parent_pid: the pid in the pidfile.
parent_pid() {
	local p
	[ -s "$PIDFILE" ] || return 1
	read -r p <"$PIDFILE" || [ -n "$p" ] || return 1
	[[ $p =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$p"
}

# children pid: the direct children of pid.
children() {
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . ||
	    true
}

# descendants pid: every process below pid.
descendants() {
	local c
	for c in $(children "$1"); do
		printf '%s\n' "$c"
		descendants "$c"
	done
}

# proc_title pid: the command line as ps shows it (the process title).
proc_title() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ *$//'
}

# io_pid: the child of the parent titled "ietd: io".
io_pid() {
	local c pp
	pp=$(parent_pid) || return 1
	for c in $(children "$pp"); do
		case $(proc_title "$c") in
		*"ietd: io"*) printf '%s\n' "$c"; return 0 ;;
		esac
	done
	return 1
}

# worker_pids: the children of the parent other than io.
worker_pids() {
	local c pp io
	pp=$(parent_pid) || return 1
	io=$(io_pid) || io=
	for c in $(children "$pp"); do
		[ "$c" = "$io" ] && continue
		alive_any "$c" && printf '%s\n' "$c"
	done
	return 0
}

# worker_count
worker_count() {
	worker_pids | grep -c . || true
}

# wait_for_workers n [timeout]: wait until exactly n workers are alive.
wait_for_workers() {
	local n=$1 timeout=${2:-10} i
	for ((i = 0; i < timeout * 10; i++)); do
		[ "$(worker_count)" -eq "$n" ] && return 0
		sleep 0.1
	done
	fail "expected $n workers, have $(worker_count):" \
	    "$(ps -o pid=,ppid=,args= --ppid "$(parent_pid)")"
}

# status_field pid field: a field of /proc/pid/status (first word).
status_field() {
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"
}

# status_ids pid Uid|Gid: the four ids of the line, space-separated.
status_ids() {
	awk -v f="$2:" '$1 == f { print $2, $3, $4, $5; exit }' \
	    "/proc/$1/status"
}

# unpriv_user: the user ietd drops to by default (ietd, else nobody).
unpriv_user() {
	if getent passwd ietd >/dev/null; then
		echo ietd
	else
		echo nobody
	fi
}

# hold_conn: open a TCP connection to the daemon and keep it; the fd
# number is appended to HELD_FDS and left in HELD_FD.
hold_conn() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	HELD_FDS+=("$fd")
	HELD_FD=$fd
}

# close_held: close every held connection (in a subshell that runs a
# background command, so that closing them later really closes them).
close_held() {
	local fd
	for fd in "${HELD_FDS[@]}"; do
		eval "exec $fd>&-" 2>/dev/null || true
	done
}

# spawn_client outfile cmd...: run a client in the background with a 60 s
# timeout and without the held connections; its pid in CLIENT_PID.
spawn_client() {
	local out=$1
	shift
	(
		close_held
		exec timeout -k 5 60 "$@" >"$out" 2>&1 3>&-
	) &
	CLIENT_PID=$!
	CLIENT_PIDS+=("$CLIENT_PID")
}

# close_conn fd
close_conn() {
	eval "exec $1>&-"
}

# conn_closed_by_peer fd timeout: true if the daemon closes the
# connection (EOF on read) within timeout seconds.
conn_closed_by_peer() {
	local fd=$1 timeout=$2 buf rc
	# read returns > 128 on timeout, 1 on EOF, 0 if a line came.
	while :; do
		rc=0
		IFS= read -r -t "$timeout" -u "$fd" buf || rc=$?
		[ "$rc" -eq 0 ] && continue
		[ "$rc" -gt 128 ] && return 1
		return 0
	done
}

# run_client cmd...: run an initiator tool with a timeout, as bats' run.
run_client() {
	run timeout -k 5 "${CLIENT_TIMEOUT:-20}" "$@"
}

# assert_status n: the status of the last run.
assert_status() {
	[ "$status" -eq "$1" ] ||
	    fail "exit status $status, expected $1; output:" "$output"
}

# assert_output_has pattern: output of the last run matches (ERE).
assert_output_has() {
	grep -Eq -- "$1" <<<"$output" ||
	    fail "output does not match '$1':" "$output"
}

# assert_log_has pattern: the daemon log matches (ERE).
assert_log_has() {
	# The log reaches its file through a pipe: give it a moment.
	wait_for_log "$1" 5
}
