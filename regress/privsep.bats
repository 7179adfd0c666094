#!/usr/bin/env bats
# privsep.bats: the processes of DESIGN.md and their sandboxes, read from
# /proc: ids, capabilities, NoNewPrivs, chroot, titles, rlimits.

load lib/common

# Capabilities io may keep (STYLE.md section 1): CAP_DAC_OVERRIDE (1),
# CAP_DAC_READ_SEARCH (2), CAP_NET_BIND_SERVICE (10).
IO_CAPS_ALLOWED=$(((1 << 1) | (1 << 2) | (1 << 10)))

setup() {
	common_setup
	default_conf
}

teardown() {
	common_teardown
}

# assert_ids pid uid gid: real, effective, saved and fs ids.
assert_ids() {
	local u g
	u=$(status_ids "$1" Uid)
	g=$(status_ids "$1" Gid)
	[ "$u" = "$2 $2 $2 $2" ] ||
	    fail "pid $1 ($(proc_title "$1")): Uid $u, expected $2" ||
	    return 1
	[ "$g" = "$3 $3 $3 $3" ] ||
	    fail "pid $1 ($(proc_title "$1")): Gid $g, expected $3"
}

# assert_no_caps pid: every capability set is empty.
assert_no_caps() {
	local f v
	for f in CapInh CapPrm CapEff CapAmb; do
		v=$(status_field "$1" "$f")
		[ "$v" = 0000000000000000 ] ||
		    fail "pid $1 ($(proc_title "$1")): $f $v, expected 0" ||
		    return 1
	done
}

assert_nnp() {
	[ "$(status_field "$1" NoNewPrivs)" = 1 ] ||
	    fail "pid $1 ($(proc_title "$1")): NoNewPrivs is not 1"
}

assert_root() {
	local r
	r=$(readlink "/proc/$1/root")
	[ "$r" = "$2" ] ||
	    fail "pid $1 ($(proc_title "$1")): root is $r, expected $2"
}

# one_worker: hold a connection idle in login; its worker's pid in W.
# (Not in a command substitution: the connection would close with it.)
# The worker takes its "login" title once it has closed the parent's
# descriptors and sandboxed itself; before that it is still the parent's
# fresh copy.
one_worker() {
	local i
	hold_conn
	wait_for_workers 1 10 || return 1
	W=$(worker_pids)
	for ((i = 0; i < 100; i++)); do
		case $(proc_title "$W") in
		*"ietd: login"*) return 0 ;;
		esac
		sleep 0.1
	done
	fail "worker $W never took its login title"
}

expected_user() {
	U=$(unpriv_user)
	UID_=$(id -u "$U")
	GID_=$(id -g "$U")
}

@test "the parent runs as the unprivileged user (ietd, else nobody)" {
	expected_user
	start_daemon
	assert_ids "$(parent_pid)" "$UID_" "$GID_"
	[ -z "$(awk '/^Groups:/ { $1 = ""; print }' \
	    "/proc/$(parent_pid)/status" | tr -d ' ' | grep -v "^$GID_\$")" ] ||
	    fail "the parent keeps supplementary groups:" \
	    "$(grep Groups: "/proc/$(parent_pid)/status")"
	stop_daemon
}

@test "the parent holds no capabilities" {
	start_daemon
	assert_no_caps "$(parent_pid)"
	stop_daemon
}

@test "the parent has NoNewPrivs set" {
	start_daemon
	assert_nnp "$(parent_pid)"
	stop_daemon
}

@test "the parent is chrooted to /run/ietd" {
	start_daemon
	assert_root "$(parent_pid)" /run/ietd
	stop_daemon
}

@test "the parent is titled 'ietd: parent'" {
	start_daemon
	[[ $(proc_title "$(parent_pid)") == *"ietd: parent"* ]] ||
	    fail "title: $(proc_title "$(parent_pid)")"
	stop_daemon
}

@test "the parent is not dumpable (its /proc files belong to root)" {
	start_daemon
	[ "$(stat -c %u "/proc/$(parent_pid)/status")" = 0 ] ||
	    fail "/proc/$(parent_pid) belongs to" \
	    "$(stat -c %U "/proc/$(parent_pid)/status")"
	stop_daemon
}

@test "-u and -g choose the user and group by name" {
	start_daemon -u daemon -g daemon
	assert_ids "$(parent_pid)" "$(id -u daemon)" "$(getent group daemon |
	    cut -d: -f3)"
	stop_daemon
}

@test "-u and -g take numbers" {
	start_daemon -u 65534 -g 65534
	assert_ids "$(parent_pid)" 65534 65534
	stop_daemon
}

@test "io is a child of the parent titled 'ietd: io'" {
	start_daemon
	io_pid >/dev/null ||
	    fail "no child titled 'ietd: io' under $(parent_pid):" \
	    "$(ps -o pid=,args= --ppid "$(parent_pid)")"
	stop_daemon
}

@test "io runs as the unprivileged user" {
	expected_user
	start_daemon
	assert_ids "$(io_pid)" "$UID_" "$GID_"
	stop_daemon
}

@test "io keeps only the storage capabilities" {
	local io eff v f
	start_daemon
	io=$(io_pid)
	eff=$((16#$(status_field "$io" CapEff)))
	((eff & ~IO_CAPS_ALLOWED)) &&
	    fail "io CapEff $(status_field "$io" CapEff) has more than" \
	    "DAC_OVERRIDE, DAC_READ_SEARCH, NET_BIND_SERVICE"
	for f in CapInh CapAmb; do
		v=$(status_field "$io" "$f")
		[ "$v" = 0000000000000000 ] || fail "io $f is $v"
	done
	v=$((16#$(status_field "$io" CapPrm)))
	((v & ~IO_CAPS_ALLOWED)) && fail "io CapPrm is too wide"
	stop_daemon
}

@test "io has NoNewPrivs set" {
	start_daemon
	assert_nnp "$(io_pid)"
	stop_daemon
}

@test "a live worker runs as the unprivileged user" {
	local w
	expected_user
	start_daemon
	one_worker
	w=$W
	assert_ids "$w" "$UID_" "$GID_"
	stop_daemon
}

@test "a live worker holds no capabilities" {
	local w
	start_daemon
	one_worker
	w=$W
	assert_no_caps "$w"
	stop_daemon
}

@test "a live worker has NoNewPrivs set" {
	local w
	start_daemon
	one_worker
	w=$W
	assert_nnp "$w"
	stop_daemon
}

@test "a live worker is chrooted to /run/ietd" {
	local w
	start_daemon
	one_worker
	w=$W
	assert_root "$w" /run/ietd
	stop_daemon
}

@test "a live worker is titled 'ietd: login <address>'" {
	local w
	start_daemon
	one_worker
	w=$W
	[[ $(proc_title "$w") == *"login 127.0.0.1"* ]] ||
	    fail "worker title: $(proc_title "$w")"
	stop_daemon
}

@test "a live worker may not write to files (RLIMIT_FSIZE 0)" {
	local w
	start_daemon
	one_worker
	w=$W
	grep -Eq '^Max file size +0 +0 ' "/proc/$w/limits" ||
	    fail "worker FSIZE limit:" "$(grep 'file size' "/proc/$w/limits")"
	stop_daemon
}

@test "a live worker is not dumpable (its /proc files belong to root)" {
	local w
	start_daemon
	one_worker
	w=$W
	[ "$(stat -c %u "/proc/$w/status")" = 0 ] ||
	    fail "/proc/$w belongs to $(stat -c %U "/proc/$w/status")"
	stop_daemon
}

@test "a live worker may not fork (RLIMIT_NPROC 0)" {
	local w
	# LeakSanitizer clones a tracer at exit, so sandbox.c leaves NPROC
	# alone in sanitizer builds.
	if grep -q __asan_init "$IETD_BIN"; then
		skip "NPROC is not limited in a sanitizer build"
	fi
	start_daemon
	one_worker
	w=$W
	grep -Eq '^Max processes +0 +0 ' "/proc/$w/limits" ||
	    fail "worker NPROC limit:" "$(grep processes "/proc/$w/limits")"
	stop_daemon
}

@test "a live worker holds nothing but sockets besides fds 0-2" {
	local w fd what bad= nsock=0
	start_daemon
	one_worker
	w=$W
	# Its client socket and its channel to io (perhaps a syslog socket);
	# nothing inherited from whoever started ietd.
	for fd in /proc/"$w"/fd/*; do
		what=$(readlink "$fd") || continue
		case ${fd##*/}:$what in
		[012]:*)	;;
		*:socket:*)	nsock=$((nsock + 1)) ;;
		*)		bad="$bad ${fd##*/}->$what" ;;
		esac
	done
	[ -z "$bad" ] || fail "worker $w holds:$bad"
	[ "$nsock" -ge 2 ] && [ "$nsock" -le 3 ] ||
	    fail "worker $w holds $nsock sockets:" "$(ls -l "/proc/$w/fd")"
	stop_daemon
}

@test "no ietd process runs as root once started" {
	local p u
	start_daemon
	hold_conn
	wait_for_workers 1 10
	for p in $(parent_pid) $(descendants "$(parent_pid)"); do
		u=$(status_ids "$p" Uid)
		[[ " $u " != *" 0 "* ]] ||
		    fail "pid $p ($(proc_title "$p")) has Uid $u"
	done
	stop_daemon
}

@test "io holds the LUN files open and the parent holds none" {
	# The parent holds no LUN descriptors (STYLE.md section 1).
	start_daemon
	! ls -l "/proc/$(parent_pid)/fd" | grep -q "$T/lun0.img" ||
	    fail "the parent holds the LUN file open:" \
	    "$(ls -l "/proc/$(parent_pid)/fd")"
	ls -l "/proc/$(io_pid)/fd" | grep -q "$T/lun0.img" ||
	    fail "io does not hold the LUN file open:" \
	    "$(ls -l "/proc/$(io_pid)/fd")"
	stop_daemon
}
