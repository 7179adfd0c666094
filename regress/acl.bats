#!/usr/bin/env bats
# acl.bats: initiator access control per target (ietd.conf(5)
# InitiatorAllow/InitiatorDeny and IET's initiators.allow/initiators.deny
# next to the configuration file), by initiator name and by IPv4 and
# IPv6 address or prefix, with IET's order: allow rules first, then deny
# rules, else allowed.  io judges every normal login (status 0x0202,
# authorization failure, RFC 7143 11.13.5); discovery lists only the
# targets the initiator may reach.  Initiators: libiscsi's iscsi-inq and
# iscsi-ls with -i (the initiator name), and the rawpdu and chapclient
# helpers.

load lib/common

GOOD=iqn.2026-11.org.ietd:good-initiator
BAD=iqn.2026-11.org.ietd:bad-initiator
RAWPDU_NAME=iqn.2026-11.org.ietd:regress-rawpdu
CHAP_NAME=iqn.2026-11.org.ietd:chapclient

setup() {
	common_setup
	need_tool iscsi-inq iscsi-ls
	make_lun "$T/lun0.img" 16M
}

teardown() {
	common_teardown
}

# conf_two [lines for $TARGET...]: $TARGET with the given lines, and an
# open $TARGET2.
conf_two() {
	{
		printf 'Target %s\n\tLun 0 Path=%s,Type=fileio\n' "$TARGET" \
		    "$T/lun0.img"
		printf '\t%s\n' "$@"
		printf 'Target %s\n\tLun 0 Path=%s,Type=fileio\n' "$TARGET2" \
		    "$T/lun0.img"
	} | write_conf
}

# inq name [host [target]]: iscsi-inq as initiator name.
inq() {
	run_client iscsi-inq -i "$1" \
	    "iscsi://${2:-127.0.0.1}:$PORT/${3:-$TARGET}/0"
}

# ls_targets name [host]: iscsi-ls (a discovery session) as name.
ls_targets() {
	run_client iscsi-ls -i "$1" "iscsi://${2:-127.0.0.1}:$PORT"
}

assert_refused() {
	[ "$status" -ne 0 ] || fail "login as $1 succeeded: $output"
	assert_output_has 'Authorization failure'
	wait_for_log "worker: .*login by $1 failed: access to $TARGET refused by io \(status 0x0202\)"
}

# need_ipv6: skip, saying why, if this machine has no IPv6 loopback.
need_ipv6() {
	[ -e /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6 ||
	    skip "no IPv6 loopback (::1) on this machine"
}

@test "InitiatorDeny ALL with InitiatorAllow admits only the name allowed" {
	conf_two "InitiatorDeny ALL" "InitiatorAllow $GOOD"
	start_daemon
	inq "$GOOD"
	assert_status 0
	assert_output_has 'DIRECT_ACCESS'
	wait_for_log "successful login by $GOOD to $TARGET"
	inq "$BAD"
	assert_refused "$BAD"
	# io's verdict, with the rule and the address.
	assert_log_has "io: login by $BAD failed: access to $TARGET denied by $CONF:3 \(ALL\), from 127\.0\.0\.1:[0-9]+"
	# The other target has no rules.
	inq "$BAD" 127.0.0.1 "$TARGET2"
	assert_status 0
	stop_daemon
}

# skip_access_so: build $T/skip.so, a preloaded shim that makes a worker
# skip the MSG_W_ACCESS question and believe io said yes, as a
# compromised worker would: then only io's own check at admission stands.
skip_access_so() {
	cat >"$T/skip.c" <<'SHIM'
#include <sys/socket.h>
#include <dlfcn.h>
#include <string.h>
#include "ipc.h"

static ssize_t	(*next_sendmsg)(int, const struct msghdr *, int);
static ssize_t	(*next_recvmsg)(int, struct msghdr *, int);
static int	 forged = -1;

__attribute__((constructor)) static void
init(void)
{
	next_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	next_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct ipc_hdr	 h;

	if (m->msg_iovlen == 2 && m->msg_iov[0].iov_len == sizeof(h) &&
	    m->msg_iov[1].iov_len == sizeof(struct msg_w_access)) {
		memcpy(&h, m->msg_iov[0].iov_base, sizeof(h));
		if (h.type == MSG_W_ACCESS) {
			forged = fd;	/* never sent */
			return (sizeof(h) + sizeof(struct msg_w_access));
		}
	}
	return (next_sendmsg(fd, m, flags));
}

ssize_t
recvmsg(int fd, struct msghdr *m, int flags)
{
	struct {
		struct ipc_hdr		h;
		struct msg_i_access	a;
	}	 r;

	if (fd != forged)
		return (next_recvmsg(fd, m, flags));
	forged = -1;
	memset(&r, 0, sizeof(r));
	r.h.type = MSG_I_ACCESS;
	r.h.len = sizeof(r.a);
	r.a.status = 0;			/* "allowed" */
	memcpy(m->msg_iov[0].iov_base, &r, sizeof(r));
	m->msg_controllen = 0;
	m->msg_flags = 0;
	return (sizeof(r));
}
SHIM
	cc -shared -fPIC -D_GNU_SOURCE -I"$IETD_TOP/src" -o "$T/skip.so" \
	    "$T/skip.c" -ldl || fail "cannot build the shim"
}

@test "io refuses at admission an initiator whose worker skipped the access check" {
	need_tool cc
	skip_access_so
	conf_two "InitiatorDeny $BAD"
	LD_PRELOAD=$T/skip.so \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    start_daemon
	inq "$BAD"
	[ "$status" -ne 0 ] || fail "login as $BAD succeeded: $output"
	assert_output_has 'Authorization failure'
	# The worker never asked (so io never answered early) ...
	wait_for_log "worker: .*login by $BAD failed: session refused by io \(status 0x0202\)"
	[ "$(log_count 'access to .* refused by io')" -eq 0 ] ||
	    fail "the shim did not skip the question:" "$(daemon_log)"
	# ... and io's admission refused it by its own rules.
	assert_log_has "io: login by $BAD failed: access to $TARGET denied by $CONF:3 \($BAD\), from 127\.0\.0\.1"
	inq "$GOOD"
	assert_status 0
	stop_daemon
}

@test "InitiatorDeny by name refuses that initiator only" {
	conf_two "InitiatorDeny $BAD"
	start_daemon
	inq "$BAD"
	assert_refused "$BAD"
	assert_log_has "access to $TARGET denied by $CONF:3 \($BAD\)"
	inq "$GOOD"
	assert_status 0
	stop_daemon
}

@test "names are matched without case and as regular expressions" {
	conf_two "InitiatorAllow IQN.2026-11.ORG.IETD:GOOD-INITIATOR" \
	    "InitiatorDeny iqn\\.2026-11\\.org\\.ietd:(bad|ugly)-.*" \
	    "InitiatorDeny ALL"
	start_daemon
	inq "$GOOD"
	assert_status 0
	assert_log_has "allowed by $CONF:3 \(IQN.2026-11.ORG.IETD:GOOD-INITIATOR\)"
	inq "$BAD"
	assert_refused "$BAD"
	assert_log_has "denied by $CONF:4 \(iqn"
	inq iqn.2026-11.org.ietd:other
	[ "$status" -ne 0 ] || fail "another initiator logged in"
	assert_log_has "access to $TARGET denied by $CONF:5 \(ALL\)"
	stop_daemon
}

@test "a CHAP target refuses a denied initiator with 0x0202 before CHAP" {
	conf_two "IncomingUser joe joesecret12345" "InitiatorDeny $CHAP_NAME"
	start_daemon
	run timeout -k 2 30 "$(helper chapclient)" -w 10 -a 7 -u joe \
	    -s joesecret12345 -t "$TARGET" 127.0.0.1 "$PORT"
	assert_status 1
	assert_output_has '^status=0x0202$'
	[[ $output != *chap_a=* ]] || fail "a CHAP challenge was sent: $output"
	assert_log_has "login by $CHAP_NAME failed: access to $TARGET denied"
	[ "$(log_count 'CHAP: .* challenge')" -eq 0 ] ||
	    fail "io made a CHAP challenge:" "$(daemon_log)"
	stop_daemon
}

@test "InitiatorAllow by IPv4 prefix admits the loopback, a prefix that misses refuses it" {
	conf_two "InitiatorDeny ALL" "InitiatorAllow 10.0.0.0/8, 127.0.0.0/8"
	start_daemon
	inq "$BAD"
	assert_status 0
	assert_log_has "127\.0\.0\.0/8"
	stop_daemon

	conf_two "InitiatorDeny ALL" "InitiatorAllow 10.0.0.0/8, 127.0.0.2"
	start_daemon
	inq "$GOOD"
	assert_refused "$GOOD"
	assert_log_has "denied by $CONF:3 \(ALL\), from 127\.0\.0\.1"
	stop_daemon
}

@test "InitiatorDeny by IPv4 prefix refuses the loopback" {
	conf_two "InitiatorDeny 127.0.0.0/24"
	start_daemon
	inq "$GOOD"
	assert_refused "$GOOD"
	assert_log_has "denied by $CONF:3 \(127\.0\.0\.0/24\)"
	stop_daemon
}

@test "IPv6: InitiatorAllow [::1] admits ::1 and an IPv6 prefix that misses refuses it" {
	need_ipv6
	conf_two "InitiatorDeny ALL" "InitiatorAllow [::1]"
	start_daemon -a ::1
	inq "$BAD" '[::1]'
	assert_status 0
	assert_output_has 'DIRECT_ACCESS'
	wait_for_log "successful login by $BAD to $TARGET"
	stop_daemon

	conf_two "InitiatorDeny ALL" "InitiatorAllow [2001:db8::]/32, 127.0.0.1"
	start_daemon -a ::1
	inq "$BAD" '[::1]'
	assert_refused "$BAD"
	assert_log_has "denied by $CONF:3 \(ALL\), from \[::1\]"
	stop_daemon
}

@test "IPv6: InitiatorDeny by IPv6 prefix refuses ::1" {
	need_ipv6
	conf_two "InitiatorDeny ::/64"
	start_daemon -a ::1
	inq "$GOOD" '[::1]'
	assert_refused "$GOOD"
	assert_log_has "denied by $CONF:3 \(::/64\), from \[::1\]"
	inq "$GOOD" '[::1]' "$TARGET2"
	assert_status 0
	stop_daemon
}

@test "discovery lists only the targets the initiator may reach" {
	conf_two "InitiatorDeny ALL" "InitiatorAllow $GOOD"
	start_daemon
	ls_targets "$GOOD"
	assert_status 0
	assert_output_has "Target:$TARGET "
	assert_output_has "Target:$TARGET2 "
	ls_targets "$BAD"
	assert_status 0
	assert_output_has "Target:$TARGET2 "
	[[ $output != *"Target:$TARGET "* ]] || fail "$TARGET listed: $output"
	assert_log_has "SendTargets: $TARGET not listed \(access rules\)"
	# SendTargets=<name> of a refused target answers nothing.
	run "$(helper rawpdu)" 127.0.0.1 "$PORT" sendtargets "$TARGET"
	assert_status 0
	[[ $output != *"TargetName=$TARGET"* ]] ||
	    fail "$TARGET listed to rawpdu: $output"
	assert_output_has 'logout response=0'
	stop_daemon
}

@test "IPv6: discovery checks the address too" {
	need_ipv6
	conf_two "InitiatorDeny [::1]/128"
	start_daemon -a ::1
	ls_targets "$GOOD" '[::1]'
	assert_status 0
	assert_output_has "Target:$TARGET2 "
	[[ $output != *"Target:$TARGET "* ]] || fail "$TARGET listed: $output"
	stop_daemon
}

@test "IET's initiators.allow and initiators.deny next to the file are obeyed" {
	conf_two
	cat >"$T/initiators.deny" <<EOF
# IET's example: deny everyone, allow the listed ones
ALL ALL
EOF
	cat >"$T/initiators.allow" <<EOF
# target, then initiators
$TARGET $GOOD, 10.1.0.0/16
iqn.2026-11.org.ietd:t[2-9] [::1], $BAD
EOF
	start_daemon
	inq "$GOOD"
	assert_status 0
	assert_log_has "allowed by $T/initiators.allow:2 \($GOOD\)"
	inq "$BAD"
	assert_refused "$BAD"
	assert_log_has "denied by $T/initiators.deny:2 \(ALL\), from 127"
	inq "$BAD" 127.0.0.1 "$TARGET2"
	assert_status 0
	inq "$GOOD" 127.0.0.1 "$TARGET2"
	[ "$status" -ne 0 ] || fail "$GOOD reached $TARGET2"
	ls_targets "$BAD"
	assert_status 0
	assert_output_has "Target:$TARGET2 "
	[[ $output != *"Target:$TARGET "* ]] || fail "$TARGET listed: $output"
	stop_daemon
}

@test "rules from ietd.conf and from the files add up" {
	conf_two "InitiatorAllow $GOOD"
	echo "ALL ALL" >"$T/initiators.deny"
	start_daemon
	inq "$GOOD"
	assert_status 0
	inq "$BAD"
	assert_refused "$BAD"
	stop_daemon
}

@test "errors in access rules are reported as file:line and refuse the configuration" {
	conf_two "InitiatorAllow 10.0.0.1/8" "InitiatorDeny iqn.x:(bad"
	printf '%s\n' "# comment" "$TARGET 1.2.3.4/33" "$TARGET" \
	    >"$T/initiators.allow"
	printf 'ALL [::1\nALL ok\n' >"$T/initiators.deny"
	run "$IETD_BIN" -n -c "$CONF"
	assert_status 1
	assert_output_has "^.*$CONF:3: InitiatorAllow: 10\.0\.0\.1/8: address has bits set past its /8 prefix$"
	assert_output_has "$CONF:4: InitiatorDeny: iqn\.x:\(bad: bad regular expression"
	assert_output_has "$T/initiators\.allow:2: 1\.2\.3\.4/33: prefix length 33 is too large \(0-32\)$"
	assert_output_has "$T/initiators\.allow:3: no initiator given$"
	assert_output_has "$T/initiators\.deny:1: \[::1: expected \[IPv6 address\]"
	[[ $output != *"initiators.deny:2"* ]] ||
	    fail "a good line was reported: $output"
	# And the daemon does not start.
	run "$IETD_BIN" -f -c "$CONF" -a 127.0.0.1 -p "$PORT" -P "$PIDFILE"
	assert_status 1
}

@test "a rule for a target that is not configured is a warning" {
	conf_two
	echo "iqn.2026-11.org.ietd:nosuch ALL" >"$T/initiators.deny"
	run "$IETD_BIN" -n -c "$CONF"
	assert_status 0
	assert_output_has "$T/initiators\.deny:1: warning: no target named iqn\.2026-11\.org\.ietd:nosuch"
	assert_output_has 'configuration OK'
}

@test "an unreadable initiators.deny refuses the configuration" {
	conf_two
	mkdir "$T/initiators.deny"
	run "$IETD_BIN" -n -c "$CONF"
	assert_status 1
	assert_output_has "initiators\.deny: not a regular file"
}
