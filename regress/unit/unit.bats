#!/usr/bin/env bats
# unit.bats: the C unit tests, regress/unit/test_*.c, built by make as
# build/regress/test_* (UNIT_DIR, default: regress/ next to IETD_BIN).
# Each program prints what failed and exits 0 only when all its checks
# passed.
#
# One @test per program: bats 1.8 finds tests by reading this file, so it
# cannot define them at run time.  regress/check.sh copies this file up to
# the "per-program tests" line below and appends one @test per program it
# finds (`unit_bats` there); run on its own, this file runs every program
# in the single test at the end.

: "${IETD_TOP:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
case ${IETD_BIN:=build/ietd} in
/*)	;;
*)	IETD_BIN=$IETD_TOP/$IETD_BIN ;;
esac
: "${UNIT_DIR:=$(dirname "$IETD_BIN")/regress}"

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# run_unit name: run one program with a time limit; its output is shown
# when it fails.
run_unit() {
	local bin=$UNIT_DIR/$1 st=0
	[ -x "$bin" ] || fail "$bin is missing (run make regress-bins)" ||
	    return 1
	cd "$IETD_TOP"
	timeout -k 5 "${UNIT_TIMEOUT:-120}" "$bin" || st=$?
	[ "$st" -eq 0 ] || fail "$1 exited with status $st"
}

@test "every regress/unit/test_*.c has been built" {
	local src name n=0
	for src in "$IETD_TOP"/regress/unit/test_*.c; do
		[ -e "$src" ] || continue
		name=$(basename "$src" .c)
		n=$((n + 1))
		[ -x "$UNIT_DIR/$name" ] ||
		    fail "$UNIT_DIR/$name is missing (run make regress-bins)"
	done
	[ "$n" -gt 0 ] || fail "no unit tests in $IETD_TOP/regress/unit"
}

# --- per-program tests: check.sh cuts here and appends its own ---

@test "every unit test program passes" {
	local bin failed=
	for bin in "$UNIT_DIR"/test_*; do
		[ -x "$bin" ] || continue
		echo "# $(basename "$bin")"
		run_unit "$(basename "$bin")" || failed="$failed $(basename "$bin")"
	done
	[ -z "$failed" ] || fail "failed:$failed"
}
