#!/bin/sh
# regress/check.sh: run every test of ietd and end with one line
# "N passed, M failed".  make check runs it after building build/ (normal)
# and build-asan/ (AddressSanitizer + UBSan), both with build*/regress/*.
#
# Parts, each a TAP stream counted here:
#   unit            regress/unit/unit.bats over build/regress/test_*
#   regress         bats --tap regress/*.bats with IETD_BIN=build/ietd
#   unit-asan       the unit tests of build-asan/
#   regress-asan    regress/*.bats with IETD_BIN=build-asan/ietd
#   regress-tsan    the suites that cross io's reactor threads
#                   (TSAN_BATS) with IETD_BIN=build-tsan/ietd
#                   (ThreadSanitizer); any report fails the part
#   iscsi-test-cu   libiscsi's conformance suite against the lists in
#                   regress/iscsi-test-cu.expected.<kind of LUN>
#   iscsi-test-cu-asan  the same against build-asan/ietd (a memory error
#                   or leak the conformance tests provoke fails it)
#   fuzz            fuzz/run.sh: each libFuzzer harness of build-fuzz/fuzz
#                   (make fuzz) for FUZZ_SECONDS (default 8) seconds; a
#                   crash, leak or sanitizer report fails it
# Every "not ok" is a failure; so is a part that cannot run, runs out of
# time, or ends before its plan.  Skipped tests ("ok ... # skip") are
# counted apart, never as passed.  The TAP of each part is kept in
# build/check/<part>.tap.
#
# Environment: CHECK_PARTS (default: all of the above, in that order),
# CHECK_TIMEOUT_<part> in seconds, BATS_FILTER (passed to bats -f),
# CHECK_BUILD and CHECK_BUILD_ASAN (the two trees, default build and
# build-asan), CHECK_BUILD_TSAN (default build-tsan), CHECK_BUILD_FUZZ
# (default build-fuzz), FUZZ_SECONDS, and those of regress/lib/common.bash.

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

cd "$(dirname "$0")/.." || exit 2
IETD_TOP=$(pwd)
export IETD_TOP
BUILD=${CHECK_BUILD:-build}
BUILD_ASAN=${CHECK_BUILD_ASAN:-build-asan}
BUILD_TSAN=${CHECK_BUILD_TSAN:-build-tsan}
BUILD_FUZZ=${CHECK_BUILD_FUZZ:-build-fuzz}
OUT=$BUILD/check
mkdir -p "$OUT" || exit 2

PARTS=${CHECK_PARTS:-unit regress unit-asan regress-asan regress-tsan iscsi-test-cu iscsi-test-cu-asan fuzz}
# The suites whose sessions meet across reactors (task management,
# reservations, unit attentions, several connections, the fence), and
# those whose sessions land on both of the default two reactors while io's
# main thread reloads, judges logins (ACLs, CHAP) and hands connections
# over: the data path (spliced writes, digests, SCSI) and bad input.
TSAN_BATS="regress/reactors.bats regress/ffp.bats regress/reservations.bats
    regress/sessions.bats regress/slowio.bats regress/pipe.bats
    regress/io.bats regress/digest.bats regress/scsi.bats regress/acl.bats
    regress/chap.bats regress/reload.bats regress/malformed.bats"
passed=0
failed=0
skipped=0
summary=()

# The sanitizers: any error or leak ends the process with a report on
# stderr (the daemon's log), which stop_daemon looks for.
ASAN_RUNTIME="detect_leaks=1:abort_on_error=1:halt_on_error=1"
ASAN_RUNTIME="$ASAN_RUNTIME:disable_coredumps=1:detect_stack_use_after_return=1"
UBSAN_RUNTIME="print_stacktrace=1:halt_on_error=1"

# unit_bats builddir out: unit.bats with one @test per test program.
unit_bats() {
	local dir=$1 out=$2 bin name
	sed '/^# --- per-program tests/q' regress/unit/unit.bats >"$out"
	for bin in "$dir"/regress/test_*; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin")
		printf '\n@test "%s passes" {\n\trun_unit %s\n}\n' \
		    "$name" "$name" >>"$out"
	done
}

# count part file status: add the part's TAP results to the totals.
count() {
	local part=$1 tap=$2 st=$3 plan ok nok skip ran note=
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tap" | head -n 1)
	ok=$(grep -Ec '^ok [0-9]+' "$tap")
	skip=$(grep -Eic '^ok [0-9]+ .*# skip' "$tap")
	nok=$(grep -Ec '^not ok [0-9]+' "$tap")
	ok=$((ok - skip))
	ran=$((ok + skip + nok))
	if [ -z "$plan" ]; then
		nok=$((nok + 1))
		note=" (no TAP plan: the part did not run)"
	elif [ "$ran" -lt "$plan" ]; then
		nok=$((nok + plan - ran))
		note=" ($((plan - ran)) of $plan tests never reported)"
	fi
	if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
		nok=$((nok + 1))
		note="$note (timed out)"
	elif [ "$st" -ne 0 ] && [ "$nok" -eq 0 ]; then
		nok=1
		note="$note (exit status $st without a failed test)"
	fi
	passed=$((passed + ok))
	failed=$((failed + nok))
	skipped=$((skipped + skip))
	summary+=("$(printf '%-18s %4d passed, %3d failed, %3d skipped%s' \
	    "$part" "$ok" "$nok" "$skip" "$note")")
}

# run_part part timeout cmd...: run a TAP producer, show and keep its TAP.
run_part() {
	local part=$1 limit=$2 tap=$OUT/$1.tap st=0
	shift 2
	echo "### $part: $*"
	: >"$tap"
	timeout -k 10 "$limit" "$@" 2>&1 | tee "$tap"
	st=${PIPESTATUS[0]}
	count "$part" "$tap" "$st"
}

# broken part why: a part that could not start.
broken() {
	echo "### $1: cannot run: $2"
	failed=$((failed + 1))
	summary+=("$(printf '%-18s cannot run: %s' "$1" "$2")")
}

limit() {
	local v
	v="CHECK_TIMEOUT_${1//-/_}"
	echo "${!v:-$2}"
}

bats_files() {
	ls regress/*.bats 2>/dev/null
}

bats_filter=()
[ -n "${BATS_FILTER:-}" ] && bats_filter=(-f "$BATS_FILTER")

for part in $PARTS; do
	case $part in
	unit|unit-asan)
		b=$BUILD
		[ "$part" = unit-asan ] && b=$BUILD_ASAN
		if ! ls "$b"/regress/test_* >/dev/null 2>&1; then
			broken "$part" "no $b/regress/test_* (make regress-bins)"
			continue
		fi
		b=$(cd "$b" && pwd)
		unit_bats "$b" "$OUT/$part.bats"
		run_part "$part" "$(limit "$part" 900)" env \
		    IETD_BIN="$b/ietd" UNIT_DIR="$b/regress" \
		    ASAN_OPTIONS="$ASAN_RUNTIME" UBSAN_OPTIONS="$UBSAN_RUNTIME" \
		    bats --tap "$OUT/$part.bats"
		;;
	regress|regress-asan)
		b=$BUILD
		[ "$part" = regress-asan ] && b=$BUILD_ASAN
		if [ ! -x "$b/ietd" ]; then
			broken "$part" "no $b/ietd"
			continue
		fi
		# The helpers come from the normal build in both rounds: the
		# sanitizers are for the daemon, not for libiscsi.
		b=$(cd "$b" && pwd)
		run_part "$part" "$(limit "$part" 1500)" env \
		    IETD_BIN="$b/ietd" \
		    IETD_HELPERS="$(cd "$BUILD" && pwd)/regress" \
		    ASAN_OPTIONS="$ASAN_RUNTIME" UBSAN_OPTIONS="$UBSAN_RUNTIME" \
		    bats --tap "${bats_filter[@]}" $(bats_files)
		;;
	regress-tsan)
		if [ ! -x "$BUILD_TSAN/ietd" ]; then
			broken "$part" "no $BUILD_TSAN/ietd (make tsan)"
			continue
		fi
		rm -rf "$OUT/tsan" && mkdir -p "$OUT/tsan"
		run_part "$part" "$(limit "$part" 2400)" env \
		    IETD_BIN="$(cd "$BUILD_TSAN" && pwd)/ietd" \
		    IETD_HELPERS="$(cd "$BUILD" && pwd)/regress" \
		    TSAN_OPTIONS="log_path=$(cd "$OUT" && pwd)/tsan/report" \
		    REGRESS_START_TIMEOUT=40 \
		    bats --tap "${bats_filter[@]}" $TSAN_BATS
		# Reports go to files: a test that never stops its daemon
		# would lose them with its log.
		if ls "$OUT"/tsan/report.* >/dev/null 2>&1; then
			cat "$OUT"/tsan/report.*
			failed=$((failed + 1))
			summary+=("$(printf '%-18s ThreadSanitizer reports: %s' \
			    "$part" "$(ls "$OUT"/tsan/report.* | wc -l)")")
		fi
		;;
	iscsi-test-cu|iscsi-test-cu-asan)
		b=$BUILD
		[ "$part" = iscsi-test-cu-asan ] && b=$BUILD_ASAN
		if [ ! -x "$b/ietd" ]; then
			broken "$part" "no $b/ietd"
			continue
		fi
		run_part "$part" "$(limit "$part" 900)" env \
		    IETD_BIN="$(cd "$b" && pwd)/ietd" \
		    ASAN_OPTIONS="$ASAN_RUNTIME" UBSAN_OPTIONS="$UBSAN_RUNTIME" \
		    bash regress/iscsi-test-cu.sh
		;;
	fuzz)
		if ! ls "$BUILD_FUZZ"/fuzz/fuzz_* >/dev/null 2>&1; then
			broken "$part" "no $BUILD_FUZZ/fuzz/fuzz_* (make fuzz)"
			continue
		fi
		run_part "$part" "$(limit "$part" 900)" env \
		    FUZZ_BUILD="$BUILD_FUZZ" bash fuzz/run.sh
		;;
	*)
		broken "$part" "unknown part"
		;;
	esac
done

echo "###"
for line in "${summary[@]}"; do
	echo "# $line"
done
[ "$skipped" -eq 0 ] || echo "# $skipped skipped (not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
