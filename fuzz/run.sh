#!/bin/bash
# fuzz/run.sh [name...]: run each libFuzzer harness of build-fuzz/fuzz/
# (make fuzz) for a bounded time and report one TAP line per harness.
# regress/check.sh runs it as its "fuzz" part.
#
# Each harness starts from its seeds in fuzz/corpus/<name>/ plus what
# earlier runs found, kept in build-fuzz/corpus/<name>/ (the first corpus
# directory, the one libFuzzer writes to).  A crash, a leak, a sanitizer
# report, a per-input timeout or running out of memory fails the harness:
# its input is kept in build-fuzz/crashes/<name>/ and the line to replay
# it is printed.
#
# Environment: FUZZ_SECONDS (per harness, default 8: about a minute for
# all of them), FUZZ_BUILD (default build-fuzz), FUZZ_FLAGS (more
# libFuzzer options).

[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2

B=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-8}
if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for f in fuzz/fuzz_*.c; do
		f=${f#fuzz/fuzz_}
		names+=("${f%.c}")
	done
fi

dict_of() {
	case $1 in
	conf)	echo fuzz/conf.dict ;;
	acl)	echo fuzz/acl.dict ;;
	chap)	;;
	*)	echo fuzz/iscsi.dict ;;
	esac
}

echo "1..${#names[@]}"
i=0
failed=0
for name in "${names[@]}"; do
	i=$((i + 1))
	bin=$B/fuzz/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "not ok $i - fuzz_$name: $bin is not built (make fuzz)"
		failed=$((failed + 1))
		continue
	fi
	work=$B/corpus/$name
	crashes=$B/crashes/$name
	log=$B/fuzz-$name.log
	mkdir -p "$work" "$crashes" fuzz/corpus/"$name"
	opts=(-max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048
	    -close_fd_mask=2 -print_final_stats=1
	    -artifact_prefix="$crashes/")
	d=$(dict_of "$name")
	[ -n "$d" ] && opts+=(-dict="$d")
	# ietd.conf lines may be 4096 bytes, login requests 8192 with their
	# text joined up to 64 KiB: let inputs hold a few.
	case $name in
	conf|login)	opts+=(-max_len=16384) ;;
	esac
	before=$(ls "$crashes" | wc -l)
	# Beyond its own time limit: the harness hangs outside an input.
	timeout -k 5 $((SECONDS_EACH * 2 + 60)) "$bin" "${opts[@]}" \
	    ${FUZZ_FLAGS:-} "$work" fuzz/corpus/"$name" >"$log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	new=$(ls -t "$crashes" | head -n $(($(ls "$crashes" | wc -l) - before)))
	if [ "$st" -eq 0 ] && [ -z "$new" ]; then
		echo "ok $i - fuzz_$name: ${runs:-?} inputs in ${SECONDS_EACH}s," \
		    "no crash, leak or sanitizer report"
		continue
	fi
	failed=$((failed + 1))
	echo "not ok $i - fuzz_$name: exit status $st after ${runs:-?} inputs"
	for f in $new; do
		echo "# kept $crashes/$f; replay: $bin $crashes/$f"
	done
	[ -n "$new" ] || echo "# no input kept; the log is $log"
	grep -E 'ERROR|SUMMARY|property broken|^    #[0-9]' "$log" |
	    grep -Ev ' in (fuzzer::|__sanitizer|__asan|__interceptor|__libc|_start)' |
	    head -n 30 | sed 's/^/# /'
done
[ "$failed" -eq 0 ]
