#!/bin/sh
# fuzz/capture.sh: record real initiator traffic as seeds for fuzz/corpus.
# Starts build/ietd on 127.0.0.1:PORT (default 5090) with CHAP on one
# target, captures the loopback with tshark while libiscsi's tools log in
# (discovery, normal, CHAP, a few SCSI commands), and writes each TCP
# connection's initiator-to-target bytes (a whole login, PDU after PDU)
# to fuzz/corpus/login/ and fuzz/corpus/pdu/, behind a 0 byte (the flags of
# fuzz_login.c, "no digests" for fuzz_pdu.c).  Its target names match the
# configuration of fuzz_login.c.
# Needs root (capture), tshark and libiscsi-bin; run it by hand.
set -eu
cd "$(dirname "$0")/.."
PORT=${PORT:-5090}
T=$(mktemp -d)
ietd= cap=
trap 'kill $ietd $cap 2>/dev/null || true; rm -rf "$T"' EXIT
IQN=iqn.2026-11.org.ietd:cap
truncate -s 16M "$T/lun0.img"
cat >"$T/ietd.conf" <<CONF
Target $IQN
	Lun 0 Path=$T/lun0.img,Type=fileio
Target $IQN-chap
	IncomingUser alice secretsecret12
	Lun 0 Type=nullio
CONF
chmod 600 "$T/ietd.conf"
tshark -q -i lo -f "tcp port $PORT" -w "$T/cap.pcap" 2>/dev/null &
cap=$!
sleep 2
build/ietd -f -c "$T/ietd.conf" -a 127.0.0.1 -p "$PORT" -P "$T/pid" \
    2>"$T/log" &
ietd=$!
sleep 1
u=iscsi://127.0.0.1:$PORT
iscsi-ls -s "$u" >/dev/null 2>&1 || true
iscsi-inq "$u/$IQN/0" >/dev/null
iscsi-readcapacity16 "$u/$IQN/0" >/dev/null
iscsi-inq "iscsi://alice%secretsecret12@127.0.0.1:$PORT/$IQN-chap/0" \
    >/dev/null
iscsi-inq "iscsi://alice%wrongwrongwrong@127.0.0.1:$PORT/$IQN-chap/0" \
    >/dev/null 2>&1 || true
sleep 1
kill $ietd $cap
wait $cap 2>/dev/null || true
mkdir -p fuzz/corpus/login fuzz/corpus/pdu
tshark -r "$T/cap.pcap" -Y "tcp.dstport == $PORT && tcp.len > 0" \
    -T fields -e tcp.stream -e tcp.payload 2>/dev/null |
    awk -v dir=fuzz/corpus '
	{ s[$1] = s[$1] $2 }
	END {
		for (k in s) {
			n++
			f = dir "/login/captured-" n
			p = dir "/pdu/captured-" n
			printf "00%s\n", s[k] > f ".hex"
			printf "00%s\n", s[k] > p ".hex"
		}
	}'
for h in fuzz/corpus/login/captured-*.hex fuzz/corpus/pdu/captured-*.hex; do
	xxd -r -p "$h" "${h%.hex}"
	rm -f "$h"
done
ls -l fuzz/corpus/login fuzz/corpus/pdu
