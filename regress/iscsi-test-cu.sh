#!/bin/bash
# regress/iscsi-test-cu.sh: run libiscsi's conformance suite, iscsi-test-cu,
# against ietd and hold it to regress/iscsi-test-cu.expected.
#
# usage: regress/iscsi-test-cu.sh [--update] [SUITE ...]
#
# Starts ${IETD_BIN:-build/ietd} on a free loopback port with one target and
# a 64 MiB fileio LUN 0, then runs the SCSI and iSCSI families of
# iscsi-test-cu one suite at a time (e.g. SCSI.Read10), each under a time
# limit, and reads every test's result from CUnit's output:
#	pass	"passed" without a [SKIPPED] note
#	skip	"passed" after a [SKIPPED] note (iscsi-test-cu's way of
#		saying the target lacks the feature)
#	fail	CUnit's FAILED, or a test that never finished (hang, crash)
#	notrun	the suite could not connect, timed out before reaching the
#		test, or the time budget ran out
# Output is TAP: one test per name on the expected list, which must pass
# (a listed test that fails, is skipped or does not run is "not ok"), and
# tests that the target is expected to survive the run.  Tests that pass
# but are not listed are reported as comments.
#
# --update appends every passing test to the expected list.  The list only
# grows; removing a name is a deliberate edit, reviewed like code.
#
# Environment:
#	ITC_SUITE_TIMEOUT	seconds per suite (default 60)
#	ITC_BUDGET		seconds for all suites (default 600)
#	ITC_EXPECTED		the list (default regress/iscsi-test-cu.expected)
#	REGRESS_KEEP=1		keep the work directory (daemon log, outputs)
#	ITC_URL			run against this LUN URL of another target
#				instead of starting ietd (to compare targets)

set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
# shellcheck source=lib/common.bash
. "$TOP/regress/lib/common.bash"

EXPECTED=${ITC_EXPECTED:-$TOP/regress/iscsi-test-cu.expected}
SUITE_TIMEOUT=${ITC_SUITE_TIMEOUT:-60}
BUDGET=${ITC_BUDGET:-600}
INIT1=iqn.2026-11.org.ietd:regress-test-cu
INIT2=iqn.2026-11.org.ietd:regress-test-cu-2

update=0
suites=()
for a; do
	case $a in
	--update)	update=1 ;;
	-h|--help)	sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*)		echo "usage: $0 [--update] [SUITE ...]" >&2; exit 2 ;;
	*)		suites+=("$a") ;;
	esac
done

tap_n=0
tap_failed=0
tap_ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}
tap_not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}

bail() {
	echo "1..1"
	echo "not ok 1 - iscsi-test-cu gate: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || bail "must run as root (ietd needs it)"
command -v iscsi-test-cu >/dev/null || bail "iscsi-test-cu is not installed"
EXTERNAL=${ITC_URL:-}
[ -n "$EXTERNAL" ] || [ -x "$IETD_BIN" ] || bail "$IETD_BIN is missing"

T=$(mktemp -d "${TMPDIR:-/tmp}/ietd-test-cu.XXXXXX") || bail "mktemp"
chmod 755 "$T"
CONF=$T/ietd.conf
PIDFILE=$T/ietd.pid
LOG=$T/ietd.log
LOGS=()
DAEMON_PID=
DAEMON_PIDS=()
HELD_FDS=()
PORT=$(free_port) || bail "no free port"

cleanup() {
	local p
	for p in "${DAEMON_PIDS[@]}"; do
		kill_tree "$p"
	done
	if [ "${REGRESS_KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

make_lun "$T/lun0.img" 64M
write_conf <<EOF
Target $TARGET
	Lun 0 Path=$T/lun0.img,Type=fileio
EOF

# Every test of the SCSI and iSCSI families, as FAMILY.SUITE.TEST.
iscsi-test-cu -l 2>/dev/null | grep -E '^(SCSI|iSCSI)\.[^.]+\.[^.]+$' \
    >"$T/all-tests" || bail "iscsi-test-cu -l listed nothing"
if [ ${#suites[@]} -eq 0 ]; then
	mapfile -t suites < <(sed 's/\.[^.]*$//' "$T/all-tests" | uniq)
fi

# parse family <stdout: name result lines for every test CUnit reported.
parse() {
	awk -v fam="$1" '
	function flush() {
		if (cur == "")
			return
		if (failed)
			r = "fail"
		else if (!done)
			r = "fail"	# started, never finished
		else if (skipped)
			r = "skip"
		else
			r = "pass"
		print cur, r
		cur = ""
	}
	# What comes after "passed" or "FAILED" (say, a [SKIPPED] note of
	# the suite teardown) is not about this test.
	function note(s) {
		if (done)
			return
		if (s ~ /^passed/) {
			done = 1
			return
		}
		if (s ~ /^FAILED/) {
			failed = done = 1
			return
		}
		# libiscsi logs "[FAILED] <command> failed" for commands a
		# test expects to fail too; only the CUnit verdict counts.
		if (s ~ /\[SKIPPED\]/)
			skipped = 1
		if (s ~ /passed$/)
			done = 1
	}
	/^Suite: / { flush(); suite = $2; next }
	/^  Test: / {
		flush()
		s = substr($0, 9)
		i = index(s, " ...")
		if (i == 0)
			next
		cur = fam "." suite "." substr(s, 1, i - 1)
		skipped = failed = done = 0
		note(substr(s, i + 4))
		next
	}
	/^Run Summary:/ { flush(); next }
	cur != "" { note($0) }
	END { flush() }'
}

start_target() {
	[ -n "$EXTERNAL" ] && return 0
	start_daemon -t 0 -m 0 >/dev/null 2>&1
}

target_alive() {
	[ -n "$EXTERNAL" ] || alive_any "$DAEMON_PID"
}

URL=${EXTERNAL:-iscsi://127.0.0.1:$PORT/$TARGET/0}

: >"$T/results"
crashes=()
start_target || bail "ietd did not start: $(tail -n 20 "$LOG")"
t_start=$SECONDS
reached=0
unreached=0
for s in "${suites[@]}"; do
	fam=${s%%.*}
	if [ $((SECONDS - t_start)) -ge "$BUDGET" ]; then
		echo "# $s: not run, the ${BUDGET}s budget is spent"
		continue
	fi
	if [ "$unreached" -ge 3 ]; then
		echo "# $s: not run, three suites in a row could not log in"
		continue
	fi
	if ! target_alive; then
		crashes+=("before $s")
		echo "# ietd died; restarting it for $s"
		start_target || bail "ietd does not restart: $(tail -n 20 "$LOG")"
	fi
	out=$T/$s.out
	# Verbose mode (the default) names every test and its outcome.
	timeout -k 5 "$SUITE_TIMEOUT" iscsi-test-cu -d -v \
	    -i "$INIT1" -I "$INIT2" -t "$s" "$URL" \
	    >"$out" 2>"$T/$s.err" 3>&-
	st=$?
	parse "$fam" <"$out" >>"$T/results"
	if grep -q '^Suite: ' "$out"; then
		reached=1
		unreached=0
	else
		unreached=$((unreached + 1))
	fi
	if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
		echo "# $s: timed out after ${SUITE_TIMEOUT}s"
	elif ! grep -q '^Suite: ' "$out"; then
		echo "# $s: did not run: $(head -c 300 "$T/$s.err" | tr '\n' ' ')"
	fi
	if ! target_alive; then
		crashes+=("during $s")
	fi
done

# result name: pass, fail, skip or notrun.
declare -A result
while read -r name r; do
	result[$name]=$r
done <"$T/results"

# The expected list: names, blank lines and # comments.
expected=()
if [ -f "$EXPECTED" ]; then
	mapfile -t expected < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' \
	    -e '/^$/d' "$EXPECTED")
fi

npass=0 nfail=0 nskip=0 nnot=0
while read -r name; do
	case ${result[$name]:-notrun} in
	pass) npass=$((npass + 1)) ;;
	fail) nfail=$((nfail + 1)) ;;
	skip) nskip=$((nskip + 1)) ;;
	*)    nnot=$((nnot + 1)) ;;
	esac
done <"$T/all-tests"

echo "1..$((${#expected[@]} + 2))"
echo "# iscsi-test-cu: $npass passed, $nfail failed, $nskip skipped," \
    "$nnot not run, of $(wc -l <"$T/all-tests") tests in ${#suites[@]} suites"
if [ "$reached" -eq 1 ]; then
	tap_ok "iscsi-test-cu reached ietd and ran its suites"
else
	tap_not_ok "iscsi-test-cu reached ietd and ran its suites" \
	    "(no suite could run; see the # lines above)"
fi

for name in "${expected[@]}"; do
	r=${result[$name]:-notrun}
	if [ "$r" = pass ]; then
		tap_ok "$name"
	else
		tap_not_ok "$name ($r)"
		[ -f "$T/${name%.*}.out" ] &&
		    awk -v t="  Test: ${name##*.} ..." '
			index($0, t) == 1 { on = 1; n = 0; print "#   " $0; next }
			on && (/^  Test: / || /^Suite: / || /^Run Summary/) { exit }
			on && n++ < 4 { print "#   " $0 }' "$T/${name%.*}.out"
	fi
done

# ietd must survive every test and stop cleanly.
if ! target_alive; then
	crashes+=("at the end")
fi
if [ -n "$EXTERNAL" ]; then
	tap_ok "# skip not ietd: $EXTERNAL"
elif [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
	# Not in $(...): stop_daemon waits for its own child.
	stop_daemon 0 2>"$T/stop.err" ||
	    crashes+=("on SIGTERM: $(head -c 400 "$T/stop.err")")
fi
if [ -n "$EXTERNAL" ]; then
	:
elif [ ${#crashes[@]} -eq 0 ]; then
	tap_ok "ietd survived the conformance run and stopped with exit 0"
else
	tap_not_ok "ietd survived the conformance run and stopped with exit 0"
	for c in "${crashes[@]}"; do
		echo "#   died or failed: ${c:0:400}"
	done
	grep -E 'Sanitizer|runtime error|fatal|signal' "${LOGS[@]}" |
	    head -n 20 | sed 's/^/#   /'
fi

# Passing tests that are not listed yet.
declare -A listed
for name in "${expected[@]}"; do
	listed[$name]=1
done
extra=()
while read -r name; do
	[ "${result[$name]:-}" = pass ] && [ -z "${listed[$name]:-}" ] &&
	    extra+=("$name")
done <"$T/all-tests"
if [ ${#extra[@]} -gt 0 ]; then
	echo "# ${#extra[@]} passing tests are not on the list" \
	    "(regress/iscsi-test-cu.sh --update adds them):"
	printf '#   %s\n' "${extra[@]}"
fi

if [ "$update" = 1 ] && [ ${#extra[@]} -gt 0 ]; then
	{
		[ -f "$EXPECTED" ] && cat "$EXPECTED"
		echo "# added by regress/iscsi-test-cu.sh --update on $(date -u +%Y-%m-%d)"
		printf '%s\n' "${extra[@]}"
	} >"$EXPECTED.new" && mv "$EXPECTED.new" "$EXPECTED"
	echo "# added ${#extra[@]} tests to $EXPECTED"
fi

[ "$tap_failed" -eq 0 ]
