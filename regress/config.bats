#!/usr/bin/env bats
# config.bats: ietd.conf(5) as the daemon reads it: every error names
# file:line and exits 1, with -n and at start-up.  The parser's cases in
# detail are in regress/unit/test_conf.c; these check the daemon's end.

load lib/common

setup() {
	common_setup
	make_lun "$T/lun0.img" 16M
	make_lun "$T/lun1.img" 16M
}

teardown() {
	common_teardown
}

# check_conf: ietd -n on $CONF.
check_conf() {
	run timeout -k 2 10 "$IETD_BIN" -n -c "$CONF"
}

# bad_at line pattern: -n failed with status 1 and "$CONF:line: ..." that
# matches the pattern (ERE, case-insensitive).
bad_at() {
	assert_status 1
	grep -Eiq -- "$CONF:$1: .*$2" <<<"$output" ||
	    fail "expected '$CONF:$1: ...$2' in:" "$output"
}

@test "a good configuration with comments, two targets and a nullio LUN passes -n" {
	write_conf <<EOF
# a comment

Target $TARGET
	# indented comment
	Alias first
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 1 Path=$T/lun1.img,Type=fileio,IOMode=ro
	MaxRecvDataSegmentLength 262144
	ImmediateData Yes
Target $TARGET2
	Lun 0 Type=nullio,Sectors=2048,BlockSize=4096
EOF
	check_conf
	assert_status 0
}

@test "an unknown keyword gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	NoSuchKeyword 1
EOF
	check_conf
	bad_at 3 'NoSuchKeyword'
}

@test "a Lun outside a Target block gives file:line and exit 1" {
	write_conf <<EOF
# first line

Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	check_conf
	bad_at 3 'Lun'
}

@test "a Lun without Path gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Type=fileio
EOF
	run timeout -k 2 10 "$IETD_BIN" -n -c "$CONF"
	bad_at 2 'Path'
}

@test "a Lun with an unknown Type gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=tape
EOF
	check_conf
	bad_at 2 'tape'
}

@test "a LUN number out of range gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 16384 Path=$T/lun1.img,Type=fileio
EOF
	check_conf
	bad_at 3 '16384'
}

@test "a LUN number that is not a number gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun zero Path=$T/lun0.img,Type=fileio
EOF
	check_conf
	bad_at 2 'zero'
}

@test "a duplicate LUN in one target gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Lun 0 Path=$T/lun1.img,Type=fileio
EOF
	check_conf
	assert_status 1
	grep -Eq -- "$CONF:[23]: " <<<"$output" ||
	    fail "no $CONF:line: for the duplicate LUN:" "$output"
}

@test "a duplicate target gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
Target $TARGET
	Lun 0 Path=$T/lun1.img,Type=fileio
EOF
	check_conf
	assert_status 1
	grep -Eq -- "$CONF:[13]: .*$TARGET" <<<"$output" ||
	    fail "no $CONF:line: naming the duplicate target:" "$output"
}

@test "an invalid target name gives file:line and exit 1" {
	write_conf <<EOF
Target not_an_iqn
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	check_conf
	bad_at 1 'not_an_iqn'
}

@test "a session key value out of range gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	MaxRecvDataSegmentLength 100
EOF
	check_conf
	bad_at 3 'MaxRecvDataSegmentLength'
}

@test "a bad boolean session key gives file:line and exit 1" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	InitialR2T Maybe
EOF
	check_conf
	bad_at 3 'InitialR2T'
}

@test "errors are reported on their own lines after the first one" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Foo 1
	Bar 2
EOF
	check_conf
	bad_at 3 'Foo'
	bad_at 4 'Bar'
}

@test "a bad configuration at start-up gives file:line, exit 1 and no listener" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Bogus yes
EOF
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$PIDFILE" 3>&-
	bad_at 3 'Bogus'
	! port_listening "$PORT" || fail "ietd listens on $PORT"
}

@test "a missing backing file at start-up is an error naming the file" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/missing.img,Type=fileio
EOF
	run timeout -k 2 10 "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 \
	    -p "$PORT" -P "$PIDFILE" 3>&-
	[ "$status" -ge 1 ] && [ "$status" -lt 124 ] ||
	    fail "exit status $status, expected a failure:" "$output"
	assert_output_has "$T/missing.img"
}

@test "a world-readable configuration is warned about or refused, naming the file" {
	write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF
	chmod 644 "$CONF"
	check_conf
	[ "$status" -le 1 ] || fail "exit status $status:" "$output"
	assert_output_has "$CONF"
}

@test "a configuration that is a directory is an error" {
	mkdir "$T/conf.d"
	run timeout -k 2 10 "$IETD_BIN" -n -c "$T/conf.d"
	assert_status 1
	assert_output_has "$T/conf.d"
}

@test "Wthreads out of range gives file:line and exit 1" {
	write_conf <<EOF2
Target $TARGET
	Wthreads 0
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	check_conf
	bad_at 2 'Wthreads 0'
	write_conf <<EOF2
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
	Wthreads 129
EOF2
	check_conf
	bad_at 3 'Wthreads 129'
}

# io_threads NAME: how many of io's threads have that name (comm).
io_threads_named() {
	local io n=0 f
	io=$(io_pid) || fail "no io process"
	for f in /proc/"$io"/task/*/comm; do
		[ "$(cat "$f")" = "$1" ] && n=$((n + 1))
	done
	echo "$n"
}

# io_threads: the I/O threads of io; io_reactors: its reactors, the
# main thread included.  Nothing else runs in io.
io_threads() {
	io_threads_named ietd-iothread
}

io_reactors() {
	local io
	io=$(io_pid) || fail "no io process"
	[ "$(($(status_field "$io" Threads) - $(io_threads)))" = \
	    "$(($(io_threads_named ietd-reactor) + 1))" ] ||
		fail "io has threads that are neither I/O threads nor reactors"
	echo $(($(io_threads_named ietd-reactor) + 1))
}

@test "IOThreads out of range or given twice gives file:line and exit 1" {
	write_conf <<EOF2
IOThreads 0
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	check_conf
	bad_at 1 'IOThreads 0'
	write_conf <<EOF2
IOThreads 65
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	check_conf
	bad_at 1 'IOThreads 65'
	write_conf <<EOF2
IOThreads 2
IOThreads 3
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	check_conf
	bad_at 2 'IOThreads given twice'
	write_conf <<EOF2
Target $TARGET
	IOThreads 2
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	check_conf
	bad_at 2 'IOThreads'
}

@test "IOThreads sets io's reactors, one per CPU by default" {
	write_conf <<EOF2
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	start_daemon
	[ "$(io_reactors)" = "$(nproc)" ] ||
		fail "io has $(io_reactors) reactors, not $(nproc)"
	stop_daemon
	write_conf <<EOF2
IOThreads 3
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	start_daemon
	[ "$(io_reactors)" = 3 ] || fail "io has $(io_reactors) reactors, not 3"
	assert_log_has "io: 3 reactor threads"
	stop_daemon
}

@test "Wthreads sizes io's I/O threads: the largest of any target, 8 by default" {
	write_conf <<EOF2
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF2
	start_daemon
	[ "$(io_threads)" = 8 ] || fail "io has $(io_threads) I/O threads, not 8"
	stop_daemon
	write_conf <<EOF2
Target $TARGET
	Wthreads 3
	Lun 0 Path=$T/lun0.img,Type=fileio
Target $TARGET.b
	Wthreads 13
	Lun 0 Path=$T/lun1.img,Type=fileio
EOF2
	start_daemon
	[ "$(io_threads)" = 13 ] || fail "io has $(io_threads) I/O threads, not 13"
	stop_daemon
}
