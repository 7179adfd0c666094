#!/bin/bash
# regress/iscsi-test-cu.sh: run libiscsi's conformance suite, iscsi-test-cu,
# against ietd, once for each kind of LUN, and hold each run to its list.
#
# usage: regress/iscsi-test-cu.sh [--update] [SUITE ...]
#
# Starts ${IETD_BIN:-build/ietd} on a free loopback port with one target
# per kind of LUN, each with a 64 MiB LUN 0:
#	fileio512	a thick file (Thin=no) of 512-byte blocks
#	fileio4096	a sparse file of 4096-byte blocks (thin where it can be)
#	nullio		no backing store: writes vanish, reads return zeroes
#	ro		a file with IOMode=ro
#	thin		a sparse file of 512-byte blocks, thin provisioned
#	blockio		a sparse file through O_DIRECT (Type=blockio)
# and runs the SCSI and iSCSI families of iscsi-test-cu with
# "--dataloss --allow-sanitize" one suite at a time (e.g. SCSI.Read10),
# each under a time limit, against each kind in turn.  Every test's
# result comes from CUnit's output:
#	pass	"passed" without a [SKIPPED] note
#	skip	"passed" after a [SKIPPED] note (iscsi-test-cu's way of
#		saying the target lacks the feature)
#	fail	CUnit's FAILED, or a test that never finished (hang, crash)
#	notrun	the suite could not connect, timed out before reaching the
#		test, or the time budget ran out
# Output is TAP, one line per test and kind:
#	- every test on regress/iscsi-test-cu.expected.<kind> must pass;
#	- every other test that is skipped or fails must be excused by a line
#	  of regress/iscsi-test-cu.skips (reported "ok ... # skip <reason>",
#	  which check.sh counts as skipped, never as passed); one that is not
#	  is "not ok";
#	- and the target must survive the run and stop cleanly.
# Tests that pass but are not listed are reported as comments, and so are
# excuses that no longer apply.
#
# --update appends every passing test to the kind's expected list.  The
# lists only grow; removing a name is a deliberate edit, reviewed like code.
#
# Environment:
#	ITC_KINDS		the kinds to run (default: all six)
#	ITC_SUITE_TIMEOUT	seconds per suite (default 60; the suites of
#				suite_timeout below take longer)
#	ITC_BUDGET		seconds for all suites of all kinds (default 1200)
#	ITC_EXPECTED		prefix of the lists (default
#				regress/iscsi-test-cu.expected)
#	ITC_SKIPS		the excuses (default regress/iscsi-test-cu.skips)
#	REGRESS_KEEP=1		keep the work directory (daemon log, outputs)
#	ITC_URL			run against this LUN URL of another target
#				instead of starting ietd (to compare targets),
#				judged by the list of the first of ITC_KINDS

set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
# shellcheck source=lib/common.bash
. "$TOP/regress/lib/common.bash"

EXPECTED=${ITC_EXPECTED:-$TOP/regress/iscsi-test-cu.expected}
SKIPS=${ITC_SKIPS:-$TOP/regress/iscsi-test-cu.skips}
SUITE_TIMEOUT=${ITC_SUITE_TIMEOUT:-60}
BUDGET=${ITC_BUDGET:-1200}
INIT1=iqn.2026-11.org.ietd:regress-test-cu
INIT2=iqn.2026-11.org.ietd:regress-test-cu-2
ALL_KINDS="fileio512 fileio4096 nullio ro thin blockio"
read -r -a kinds <<<"${ITC_KINDS:-$ALL_KINDS}"
# Suites that need more than SUITE_TIMEOUT.  SCSI.Sanitize: every
# OVERWRITE of a 64 MiB LUN takes about 8 s (SanitizeRate=8, so that the
# Reset test sees it in progress), and Reset then polls every 60 s until
# the sanitize has ended.
declare -A suite_timeout=([SCSI.Sanitize]=$((SUITE_TIMEOUT + 180)))
# The options of every iscsi-test-cu run (more initiators, say, go here).
ITC_ARGS=(--dataloss --allow-sanitize -i "$INIT1" -I "$INIT2")

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

# TAP lines are collected and printed after the plan.
tap=()
tap_failed=0
tap_ok() {
	tap+=("ok %d - $*")
}
tap_not_ok() {
	tap_failed=$((tap_failed + 1))
	tap+=("not ok %d - $*")
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

# The configuration of each kind's LUN 0 (its target is $TARGET-<kind>).
# A SANITIZE OVERWRITE of the LUNs it writes takes about 8 s (64 MiB).
rate=SanitizeRate=8
declare -A lunconf=(
	[fileio512]="Path=$T/fileio512.img,Type=fileio,Thin=no,$rate"
	[fileio4096]="Path=$T/fileio4096.img,Type=fileio,BlockSize=4096,$rate"
	[nullio]="Type=nullio,Sectors=131072"
	[ro]="Path=$T/ro.img,Type=fileio,IOMode=ro"
	[thin]="Path=$T/thin.img,Type=fileio,$rate"
	[blockio]="Path=$T/blockio.img,Type=blockio,$rate"
)
for k in "${kinds[@]}"; do
	[ -n "${lunconf[$k]:-}" ] || bail "unknown kind $k (of $ALL_KINDS)"
done
{
	for k in "${kinds[@]}"; do
		case $k in
		nullio)	;;
		# Some data to read back, and not a hole.
		ro)	head -c 64M /dev/urandom >"$T/ro.img" ;;
		*)	make_lun "$T/$k.img" 64M ;;
		esac
		printf 'Target %s-%s\n\tLun 0 %s\n' "$TARGET" "$k" \
		    "${lunconf[$k]}"
	done
} | write_conf

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
		print cur, r, reason
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
		if (s ~ /\[SKIPPED\]/) {
			skipped = 1
			if (reason == "-") {
				reason = s
				sub(/.*\[SKIPPED\] */, "", reason)
				sub(/passed$/, "", reason)
			}
		}
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
		reason = "-"
		note(substr(s, i + 4))
		next
	}
	/^Run Summary:/ { flush(); next }
	cur != "" { note($0) }
	END { flush() }'
}

# Another test run may take the free port first: then try another.
start_target() {
	local i
	[ -n "$EXTERNAL" ] && return 0
	for i in 1 2 3; do
		start_daemon -t 0 -m 0 >/dev/null 2>&1 && return 0
		grep -q 'Address already in use' "$LOG" || return 1
		PORT=$(free_port) || return 1
	done
	return 1
}

target_alive() {
	[ -n "$EXTERNAL" ] || alive_any "$DAEMON_PID"
}

# Tests that run in an iscsi-test-cu of their own, after the rest of
# their suite.  SCSI.Sanitize.Reset: libiscsi 1.19's Reservations test,
# just before it, leaves a RESERVE(6) of the second session on the LUN,
# which would refuse Reset's SANITIZE with RESERVATION CONFLICT.
alone=(SCSI.Sanitize.Reset)

# specs suite: the -t arguments that together run every test of the
# suite, one per line: the suite, or its other tests and then each test
# of alone.
specs() {
	local s=$1 t
	local -a own=() rest=()
	for t in "${alone[@]}"; do
		if [ "${t%.*}" = "$s" ] && grep -qxF "$t" "$T/all-tests"; then
			own+=("$t")
		fi
	done
	if [ ${#own[@]} -eq 0 ]; then
		printf '%s\n' "$s"
		return
	fi
	mapfile -t rest < <(awk -v s="$s." 'index($0, s) == 1' \
	    "$T/all-tests" | grep -vxF -f <(printf '%s\n' "${own[@]}"))
	if [ ${#rest[@]} -gt 0 ]; then
		(IFS=,; printf '%s\n' "${rest[*]}")
	fi
	printf '%s\n' "${own[@]}"
}

# run_kind kind: every suite against the kind's LUN; results in
# $T/results.<kind>.
crashes=()
reached=0
t_start=$SECONDS
run_kind() {
	local k=$1 s fam out st unreached=0 url limit spec
	local -a runs
	: >"$T/results.$k"
	for s in "${suites[@]}"; do
		fam=${s%%.*}
		if [ $((SECONDS - t_start)) -ge "$BUDGET" ]; then
			echo "# $k $s: not run, the ${BUDGET}s budget is spent"
			continue
		fi
		if [ "$unreached" -ge 3 ]; then
			echo "# $k $s: not run, three suites in a row could" \
			    "not log in"
			continue
		fi
		if ! target_alive; then
			crashes+=("before $k $s")
			echo "# ietd died; restarting it for $k $s"
			start_target ||
			    bail "ietd does not restart: $(tail -n 20 "$LOG")"
		fi
		url=${EXTERNAL:-iscsi://127.0.0.1:$PORT/$TARGET-$k/0}
		out=$T/$k.$s.out
		: >"$out"
		: >"$T/$k.$s.err"
		# Verbose mode (the default) names every test and its
		# outcome.  The second URL, a second session to the same
		# LUN, is the "multipath" of the MultipathIO tests.
		limit=${suite_timeout[$s]:-$SUITE_TIMEOUT}
		mapfile -t runs < <(specs "$s")
		for spec in "${runs[@]}"; do
			timeout -k 5 "$limit" iscsi-test-cu -v \
			    "${ITC_ARGS[@]}" -t "$spec" "$url" "$url" \
			    </dev/null >>"$out" 2>>"$T/$k.$s.err" 3>&-
			st=$?
			if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
				echo "# $k $spec: timed out after ${limit}s"
			fi
		done
		parse "$fam" <"$out" >>"$T/results.$k"
		if grep -q '^Suite: ' "$out"; then
			reached=1
			unreached=0
		else
			unreached=$((unreached + 1))
		fi
		if ! grep -q '^Suite: ' "$out"; then
			echo "# $k $s: did not run:" \
			    "$(head -c 300 "$T/$k.$s.err" | tr '\n' ' ')"
		fi
		if ! target_alive; then
			crashes+=("during $k $s")
		fi
	done
}

# The excuses: "TEST KINDS REASON", TEST a glob of test names, KINDS a
# comma-separated list of kinds or "*"; blank lines and # comments.
skip_pat=() skip_kind=() skip_why=()
if [ -f "$SKIPS" ]; then
	while read -r pat kind why; do
		case $pat in ''|'#'*) continue ;; esac
		[ -n "$why" ] || bail "$SKIPS: $pat $kind: no reason given"
		skip_pat+=("$pat")
		skip_kind+=("$kind")
		skip_why+=("$why")
	done <"$SKIPS"
fi

# excuse kind name: the reason the skips file gives, if any.
excuse() {
	local i kk
	local -a ks
	for i in "${!skip_pat[@]}"; do
		# shellcheck disable=SC2053
		[[ $2 == ${skip_pat[$i]} ]] || continue
		IFS=, read -r -a ks <<<"${skip_kind[$i]}"
		for kk in "${ks[@]}"; do
			# shellcheck disable=SC2053
			if [[ $1 == $kk ]]; then
				printf '%s\n' "${skip_why[$i]}"
				return 0
			fi
		done
	done
	return 1
}

# judge kind: the TAP lines of one kind.
judge() {
	local k=$1 name r why out npass=0 nfail=0 nskip=0 nnot=0 list
	local -A result=() cureason=() listed=()
	local -a expected=() extra=() stale=()

	while read -r name r why; do
		result[$name]=$r
		cureason[$name]=$why
	done <"$T/results.$k"
	list=$EXPECTED.$k
	if [ -f "$list" ]; then
		mapfile -t expected < <(sed -e 's/#.*//' \
		    -e 's/[[:space:]]*$//' -e '/^$/d' "$list")
	fi
	while read -r name; do
		case ${result[$name]:-notrun} in
		pass) npass=$((npass + 1)) ;;
		fail) nfail=$((nfail + 1)) ;;
		skip) nskip=$((nskip + 1)) ;;
		*)    nnot=$((nnot + 1)) ;;
		esac
	done <"$T/all-tests"
	echo "# $k: $npass passed, $nfail failed, $nskip skipped," \
	    "$nnot not run, of $(wc -l <"$T/all-tests") tests"

	for name in "${expected[@]}"; do
		listed[$name]=1
		r=${result[$name]:-notrun}
		if [ "$r" = pass ]; then
			tap_ok "$k $name"
			continue
		fi
		tap_not_ok "$k $name ($r)"
		out=$T/$k.${name%.*}.out
		[ -f "$out" ] && while IFS= read -r line; do
			tap+=("$line")
		done < <(awk -v t="  Test: ${name##*.} ..." '
			index($0, t) == 1 { on = 1; n = 0; print "#   " $0; next }
			on && (/^  Test: / || /^Suite: / || /^Run Summary/) { exit }
			on && n++ < 4 { print "#   " $0 }' "$out")
	done
	# Whatever else did not pass needs an excuse.
	while read -r name; do
		[ -n "${listed[$name]:-}" ] && continue
		r=${result[$name]:-notrun}
		case $r in
		pass)
			extra+=("$name")
			excuse "$k" "$name" >/dev/null &&
			    stale+=("$name")
			;;
		skip|fail)
			if why=$(excuse "$k" "$name"); then
				tap_ok "$k $name # skip $r: $why"
			else
				tap_not_ok "$k $name ($r, not excused in" \
				    "$(basename "$SKIPS"): ${cureason[$name]:--})"
			fi
			;;
		esac
	done <"$T/all-tests"

	if [ ${#stale[@]} -gt 0 ]; then
		echo "# $k: ${#stale[@]} passing tests have an excuse:" \
		    "${stale[*]}"
	fi
	if [ ${#extra[@]} -gt 0 ]; then
		echo "# $k: ${#extra[@]} passing tests are not on the list" \
		    "(regress/iscsi-test-cu.sh --update adds them):"
		printf '#   %s\n' "${extra[@]}"
	fi
	if [ "$update" = 1 ] && [ ${#extra[@]} -gt 0 ]; then
		{
			[ -f "$list" ] && cat "$list"
			echo "# added by regress/iscsi-test-cu.sh --update" \
			    "on $(date -u +%Y-%m-%d)"
			printf '%s\n' "${extra[@]}"
		} >"$list.new" && mv "$list.new" "$list"
		echo "# added ${#extra[@]} tests to $list"
	fi
}

start_target || bail "ietd did not start: $(tail -n 20 "$LOG")"
for k in "${kinds[@]}"; do
	run_kind "$k"
	[ -n "$EXTERNAL" ] && break
done

if [ "$reached" -eq 1 ]; then
	tap_ok "iscsi-test-cu reached ietd and ran its suites"
else
	tap_not_ok "iscsi-test-cu reached ietd and ran its suites" \
	    "(no suite could run; see the # lines above)"
fi
for k in "${kinds[@]}"; do
	judge "$k"
	[ -n "$EXTERNAL" ] && break
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
if [ -z "$EXTERNAL" ]; then
	if [ ${#crashes[@]} -eq 0 ]; then
		tap_ok "ietd survived the conformance run and stopped with exit 0"
	else
		tap_not_ok "ietd survived the conformance run and stopped" \
		    "with exit 0"
		for c in "${crashes[@]}"; do
			tap+=("#   died or failed: ${c:0:400}")
		done
		while IFS= read -r line; do
			tap+=("#   $line")
		done < <(grep -E 'Sanitizer|runtime error|fatal|signal' \
		    "${LOGS[@]}" | head -n 20)
	fi
fi

n=0
for line in "${tap[@]}"; do
	case $line in ok*|not\ ok*) n=$((n + 1)) ;; esac
done
echo "1..$n"
i=0
for line in "${tap[@]}"; do
	case $line in
	ok*|not\ ok*)
		i=$((i + 1))
		# The name may hold a %: print it as data.
		printf '%s\n' "${line/\%d/$i}"
		;;
	*)	printf '%s\n' "$line" ;;
	esac
done

[ "$tap_failed" -eq 0 ]
