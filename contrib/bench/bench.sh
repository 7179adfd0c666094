#!/bin/sh
#
# bench.sh: ietd against a private tgtd, side by side, on loopback (make bench).
#
# Both targets serve one LUN backed by a same-size file on tmpfs and
# negotiate alike (MaxRecvDataSegmentLength, MaxBurstLength and
# FirstBurstLength 256 KiB, ImmediateData Yes, InitialR2T No, write-back,
# a command window of 128).  Every workload runs on ietd, then on tgtd, in
# BENCH_ROUNDS rounds; the table shows the medians.  The loopback ceiling is
# iperf3's single-stream TCP throughput over 127.0.0.1, measured once per
# round.  This is not a test: it fails only when a run reports an error or
# a mismatch, or a target cannot start; never on a timing.
#
# Environment (all optional):
#	IETD, LOAD, FLOOR	ietd, ietd-load and forkfloor binaries (make
#				passes them)
#	BENCH_SECONDS		seconds per run (5)
#	BENCH_ROUNDS		rounds, at least 2 (3)
#	BENCH_SIZE		LUN size for truncate(1) (256M)
#	BENCH_PORT		first of four ports (6100): ietd, tgtd, iperf3,
#				and tgtd's control port number
#	BENCH_ONLY		run only the workloads whose name contains this
#	BENCH_KEEP		1: keep the work directories and logs

set -u

IETD=${IETD:-build/ietd}
LOAD=${LOAD:-build/ietd-load}
FLOOR=${FLOOR:-build/ietd-forkfloor}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
SIZE=${BENCH_SIZE:-256M}
PORT=${BENCH_PORT:-6100}
ONLY=${BENCH_ONLY:-}
KEEP=${BENCH_KEEP:-0}

IPORT=$PORT
TPORT=$((PORT + 1))
PPORT=$((PORT + 2))
TCTL=$((PORT + 3))
IQN_I=iqn.2026-11.org.ietd:bench
IQN_T=iqn.2026-11.org.ietd:bench-tgtd
URL_I=iscsi://127.0.0.1:$IPORT/$IQN_I/0
URL_T=iscsi://127.0.0.1:$TPORT/$IQN_T/1
TSOCK=/var/run/tgtd/socket.$TCTL

# name|ietd-load arguments; names have no blanks.
WORKLOADS='4K-randread-QD1|-m read -p random -b 4096 -q 1
4K-randread-QD32|-m read -p random -b 4096 -q 32
4K-randwrite-QD32|-m write -p random -b 4096 -q 32
128K-seqread-QD16|-m read -p sequential -b 131072 -q 16
128K-seqwrite-QD16|-m write -p sequential -b 131072 -q 16
4sess-4K-randread-QD32|-m read -p random -b 4096 -q 32 -s 4
4K-randread-QD4|-m read -p random -b 4096 -q 4
64sess-4K-randread-QD4|-m read -p random -b 4096 -q 4 -s 64
login-8clients|-L 8'

WORK=
SHM=
IETD_PID=
IO_PID=
TGTD_PID=
TGTD_SOCK_OURS=0
PERF_PID=

say() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	say "$*"
	exit 1
}

stop_pid() {	# pid: TERM, wait up to 5 s, then KILL
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	trap - EXIT INT TERM HUP
	stop_pid "$PERF_PID"
	if [ -n "$TGTD_PID" ] && kill -0 "$TGTD_PID" 2>/dev/null; then
		# tgtd ignores SIGTERM: ask it to go, then insist.
		tgtadm -C "$TCTL" --lld iscsi --op delete --mode target \
		    --tid 1 --force >/dev/null 2>&1
		tgtadm -C "$TCTL" --op delete --mode system >/dev/null 2>&1
		stop_pid "$TGTD_PID"
	fi
	if [ "$TGTD_SOCK_OURS" = 1 ]; then
		rm -f "$TSOCK" "$TSOCK.lock"
	fi
	stop_pid "$IETD_PID"
	stop_pid "$IO_PID"
	if [ "$KEEP" = 1 ]; then
		[ -n "$WORK" ] && say "kept $WORK and $SHM"
	else
		[ -n "$WORK" ] && rm -rf "$WORK"
		[ -n "$SHM" ] && rm -rf "$SHM"
	fi
}

trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM HUP

[ "$(id -u)" = 0 ] || die "run as root (ietd binds and opens LUNs as root)"
[ -x "$IETD" ] || die "$IETD: not built (run make bench)"
[ -x "$LOAD" ] || die "$LOAD: not built (run make bench)"
[ -x "$FLOOR" ] || die "$FLOOR: not built (run make bench)"
command -v tgtd >/dev/null && command -v tgtadm >/dev/null ||
    die "tgtd not found: install the Debian package tgt"
[ "$ROUNDS" -ge 2 ] 2>/dev/null || die "BENCH_ROUNDS must be 2 or more"
[ "$SECS" -ge 1 ] 2>/dev/null || die "BENCH_SECONDS must be 1 or more"

WORK=$(mktemp -d /tmp/ietd-bench.XXXXXX) || die "mktemp failed"
SHM=$(mktemp -d /dev/shm/ietd-bench.XXXXXX) || die "mktemp on tmpfs failed"
RES=$WORK/results
: > "$RES"

# Same-size backing stores, on tmpfs so the disk is out of the picture.
truncate -s "$SIZE" "$SHM/ietd.img" "$SHM/tgtd.img" ||
    die "cannot create $SIZE backing files in $SHM"

listening() {	# port
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

start_ietd() {
	listening "$IPORT" && die "port $IPORT is taken"
	cat > "$WORK/ietd.conf" <<EOF
# written by contrib/bench/bench.sh: like-for-like with tgtd
Target $IQN_I
	Lun 0 Path=$SHM/ietd.img,Type=fileio,IOMode=wb
	HeaderDigest		None
	DataDigest		None
	MaxRecvDataSegmentLength 262144
	MaxXmitDataSegmentLength 262144
	MaxBurstLength		262144
	FirstBurstLength	262144
	ImmediateData		Yes
	InitialR2T		No
	QueuedCommands		128
EOF
	chmod 600 "$WORK/ietd.conf"
	"$IETD" -f -c "$WORK/ietd.conf" -a 127.0.0.1 -p "$IPORT" \
	    -P "$WORK/ietd.pid" > "$WORK/ietd.log" 2>&1 &
	IETD_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		kill -0 "$IETD_PID" 2>/dev/null || break
		# io is the child of the pidfile's pid titled "ietd: io".
		if [ -s "$WORK/ietd.pid" ]; then
			IO_PID=$(ps -o pid=,args= \
			    --ppid "$(cat "$WORK/ietd.pid")" | awk \
			    '$2 == "ietd:" && $3 == "io" { print $1; exit }')
		fi
		[ -n "$IO_PID" ] && listening "$IPORT" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	cat "$WORK/ietd.log" >&2
	die "ietd did not start"
}

tgtadm_do() {
	tgtadm -C "$TCTL" --lld iscsi "$@" >> "$WORK/tgtd.log" 2>&1 ||
	    die "tgtadm $*: failed (see above)"
}

start_tgtd() {
	listening "$TPORT" && die "port $TPORT is taken"
	if tgtadm -C "$TCTL" --op show --mode target >/dev/null 2>&1; then
		die "a tgtd already answers on control port $TCTL"
	fi
	TGTD_SOCK_OURS=1
	tgtd -f -C "$TCTL" --iscsi portal=127.0.0.1:"$TPORT" \
	    > "$WORK/tgtd.log" 2>&1 &
	TGTD_PID=$!
	i=0
	while ! tgtadm -C "$TCTL" --op show --mode target >/dev/null 2>&1; do
		kill -0 "$TGTD_PID" 2>/dev/null && [ $i -lt 100 ] || {
			cat "$WORK/tgtd.log" >&2
			die "tgtd did not start"
		}
		sleep 0.1
		i=$((i + 1))
	done
	tgtadm_do --op new --mode target --tid 1 -T "$IQN_T"
	tgtadm_do --op new --mode logicalunit --tid 1 --lun 1 \
	    -b "$SHM/tgtd.img"
	for kv in MaxRecvDataSegmentLength=262144 \
	    MaxXmitDataSegmentLength=262144 MaxBurstLength=262144 \
	    FirstBurstLength=262144 ImmediateData=Yes InitialR2T=No \
	    HeaderDigest=None DataDigest=None MaxQueueCmd=128; do
		tgtadm_do --op update --mode target --tid 1 \
		    --name "${kv%%=*}" --value "${kv#*=}"
	done
	tgtadm_do --op bind --mode target --tid 1 -I ALL
	listening "$TPORT" || die "tgtd does not listen on $TPORT"
}

# Single-stream TCP over loopback, in MB/s (10^6), or nothing.
loopback() {
	command -v iperf3 >/dev/null || return 0
	if listening "$PPORT"; then
		say "port $PPORT is taken: no loopback figure"
		return 0
	fi
	iperf3 -s -1 -B 127.0.0.1 -p "$PPORT" > "$WORK/iperf3-s.log" 2>&1 &
	PERF_PID=$!
	i=0
	while ! listening "$PPORT" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	iperf3 -c 127.0.0.1 -p "$PPORT" -t "$SECS" -J > "$WORK/iperf3.json" \
	    2>&1
	stop_pid "$PERF_PID"
	PERF_PID=
	awk '/"sum_received"/ { s = 1 }
	    s && /"bits_per_second"/ {
		gsub(/[^0-9.eE+]/, "", $2); printf "%.1f\n", $2 / 8e6; exit }' \
	    "$WORK/iperf3.json"
}

FAILED=0

run() {	# round target name args...
	r=$1 tgt=$2 name=$3
	shift 3
	if [ "$tgt" = ietd ]; then
		url=$URL_I
		pids=$IO_PID
		# A login is the parent's (and its reaped worker's) work too.
		[ "$name" = login-8clients ] && pids=$IETD_PID,$IO_PID
	else
		url=$URL_T
		pids=$TGTD_PID
	fi
	out=$("$LOAD" "$@" -t "$SECS" -P "$pids" -l "$name" "$url" \
	    2>"$WORK/err")
	rc=$?
	cat "$WORK/err" >&2
	[ $rc -eq 130 ] && die "interrupted"
	if [ $rc -ne 0 ] || [ -z "$out" ]; then
		say "round $r $tgt $name: FAILED (exit $rc)"
		echo "$name $tgt FAIL" >> "$RES"
		FAILED=$((FAILED + 1))
	else
		echo "$name $tgt $out" >> "$RES"
	fi
	kill -0 "$IO_PID" 2>/dev/null || die "ietd's io process is gone"
	kill -0 "$TGTD_PID" 2>/dev/null || die "tgtd is gone"
}

start_ietd
start_tgtd
say "ietd io pid $IO_PID, tgtd pid $TGTD_PID; $ROUNDS rounds of ${SECS} s"

# Stamp every block of both LUNs, so that read runs can check them.
for t in ietd tgtd; do
	[ $t = ietd ] && url=$URL_I || url=$URL_T
	"$LOAD" -m fill -b 262144 -q 8 -l fill "$url" > "$WORK/fill.$t" ||
	    die "cannot fill the $t LUN"
done

r=1
while [ $r -le "$ROUNDS" ]; do
	say "round $r of $ROUNDS"
	ceil=$(loopback)
	[ -n "$ceil" ] && echo "loopback - mbps=$ceil" >> "$RES"
	floor=$("$FLOOR" -t "$SECS") || die "forkfloor failed"
	echo "forkfloor - $floor" >> "$RES"
	echo "$WORKLOADS" | while IFS='|' read -r name args; do
		case $name in *"$ONLY"*) ;; *) continue ;; esac
		# A, then B: ietd, then tgtd, in every round.
		# shellcheck disable=SC2086
		run "$r" ietd "$name" $args
		# shellcheck disable=SC2086
		run "$r" tgtd "$name" $args
		# The subshell of the pipe cannot count: leave a mark.
		[ $FAILED -eq 0 ] || touch "$WORK/failed"
	done || exit 1
	r=$((r + 1))
done

mem() {	# pid: peak and current resident KiB
	awk '/^VmHWM/ { h = $2 } /^VmRSS/ { r = $2 }
	    END { printf "%s KiB peak, %s KiB now", h, r }' "/proc/$1/status"
}

echo
echo "make bench: medians of $ROUNDS rounds, ${SECS} s per run," \
    "$SIZE LUNs on tmpfs, loopback, $(nproc) cores shared by all"
echo "lat = average, p99 in us; CPU = target CPU us per I/O (per login+logout" \
    "for login); ratio = ietd/tgtd"
awk -v order="$(echo "$WORKLOADS" | cut -d'|' -f1 | tr '\n' ' ')" \
    -f "$(dirname "$0")/table.awk" "$RES"
echo "memory: ietd io $(mem "$IO_PID"); tgtd $(mem "$TGTD_PID")"

if [ -e "$WORK/failed" ]; then
	say "some runs reported errors or mismatches (see above)"
	exit 1
fi
exit 0
