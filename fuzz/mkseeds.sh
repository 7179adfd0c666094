#!/bin/sh
# fuzz/mkseeds.sh: write the hand-made seeds of fuzz/corpus/ (keys,
# param, conf, chap; the login and pdu seeds come from capture.sh and
# from here).  Seeds are starting points: libFuzzer mutates them.
set -eu
cd "$(dirname "$0")/corpus"
mkdir -p keys param conf chap login pdu

# seed dir name printf-format...: one file.
seed() {
	d=$1 n=$2
	shift 2
	printf "$@" >"$d/$n"
}

# Key lists as initiators send them.
seed keys first 'InitiatorName=iqn.1994-05.com.redhat:client\0InitiatorAlias=host\0SessionType=Normal\0TargetName=iqn.2026-11.org.ietd:t1\0AuthMethod=CHAP,None\0'
seed keys operational 'HeaderDigest=CRC32C,None\0DataDigest=None\0MaxConnections=1\0InitialR2T=No\0ImmediateData=Yes\0MaxRecvDataSegmentLength=262144\0MaxBurstLength=16776192\0FirstBurstLength=262144\0DefaultTime2Wait=2\0DefaultTime2Retain=0\0MaxOutstandingR2T=1\0DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0ErrorRecoveryLevel=0\0'
seed keys chap 'CHAP_N=alice\0CHAP_R=0x0123456789abcdef0123456789abcdef\0CHAP_I=17\0CHAP_C=0bAAECAwQFBgcICQoLDA0ODw==\0'
seed keys sendtargets 'SendTargets=All\0'
seed keys padded 'X-com.example.key=\0X#vendor=1\0\0\0\0'
seed keys empty ''

# param: flags (1 discovery, 2 leading), conf lines, 0xff, key lists.
seed param leading '\002MaxBurstLength 65536\nHeaderDigest CRC32C\377HeaderDigest=CRC32C,None\0DataDigest=None\0MaxRecvDataSegmentLength=8192\0\377FirstBurstLength=131072\0MaxBurstLength=65536\0InitialR2T=Yes\0ImmediateData=No\0ErrorRecoveryLevel=2\0MaxConnections=8\0'
seed param discovery '\003\377HeaderDigest=None\0MaxRecvDataSegmentLength=4096\0MaxBurstLength=512\0IFMarker=No\0OFMarkInt=1~65535\0TaskReporting=RFC3720\0'
seed param nonleading '\000QueuedCommands 128\377MaxRecvDataSegmentLength=0x10000\0DataDigest=CRC32C\0MaxBurstLength=262144\0X-foo=bar\0'
seed param reject '\002\377DefaultTime2Wait=3601\0DefaultTime2Retain=007\0iSCSIProtocolLevel=2\0DataPDUInOrder=maybe\0HeaderDigest=MD5\0'
seed param reserved '\002InitialR2T Yes\nImmediateData No\nDataDigest None,CRC32C\377InitialR2T=Irrelevant\0'
seed param raw '\006\377\377\377\377\000\000\000\000\377\377\377\377\377MaxRecvDataSegmentLength=512\0'

# ietd.conf: the example of contrib/ and the keywords of ietd.conf(5).
cp ../../contrib/ietd.conf conf/example
seed conf full '# all keywords\nStateDir /var/lib/ietd\nCHAPAlgorithms SHA3-256,SHA-256,SHA-1,MD5\nInitiatorDeny 192.0.2.0/24\nIncomingUser disc secretsecret12\nOutgoingUser out outsecret1234\nTarget iqn.2026-11.org.ietd:t1\n\tAlias "disk one"\n\tInitiatorAllow iqn.1994-05.com.redhat:.*, 10.0.0.0/8 [fe80::]/10\n\tInitiatorDeny ALL\n\tCHAPAlgorithms SHA-256\n\tIncomingUser alice secretsecret12\n\tOutgoingUser bob bobsecret1234\n\tLun 0 Path=/tmp/lun0.img,Type=fileio,IOMode=wt,BlockSize=4096,ScsiId=abc,ScsiSN=123\n\tLun 1 Type=nullio,Sectors=2048\n\tLun 16383 Path=/dev/sdz,Type=blockio,IOMode=ro\n\tHeaderDigest CRC32C,None\n\tDataDigest None\n\tMaxConnections 4\n\tInitialR2T No\n\tImmediateData Yes\n\tMaxRecvDataSegmentLength 262144\n\tMaxXmitDataSegmentLength 65536\n\tMaxBurstLength 1048576\n\tFirstBurstLength 65536\n\tDefaultTime2Wait 2\n\tDefaultTime2Retain 20\n\tMaxOutstandingR2T 8\n\tDataPDUInOrder Yes\n\tDataSequenceInOrder Yes\n\tErrorRecoveryLevel 0\n\tNOPInterval 5\n\tNOPTimeout 10\n\tQueuedCommands 128\n\tMaxSessions 4\n\tWthreads 8\n\tType 0\nTarget iqn.2026-11.org.ietd:t2 \\\n\t\n\tLun 0 Path=/tmp/lun1.img\n'
seed conf errors 'Target bad name\nLun 0 Path=/x\nTarget iqn.2026-11.org.ietd:t1\nTarget IQN.2026-11.ORG.IETD:T1\n\tLun 0 Type=nullio\n\tLun 0 Type=nullio\n\tFoo bar\n\tMaxBurstLength 99999999999\n'
# Limits: a line over 4096 bytes, one made so by continuations, too many
# words, over-long alias, user and secret; CRLF ends; eui. and naa. names.
long=$(head -c 300 /dev/zero | tr '\0' a)
{
	printf 'Target iqn.2026-11.org.ietd:t1\r\n\tAlias %s\r\n' "$long"
	printf '\tIncomingUser %s secretsecret12\r\n' "$long"
	printf '\tIncomingUser bob %s\r\n' "$long"
	printf '\tLun 0 Type=nullio,BlockSize=512,Sectors=0x10\r\n'
	printf 'Target eui.0123456789ABCDEF\nTarget naa.0123456789abcdef0123456789abcdef\n'
	printf 'Target naa.0123\nTarget eui.xyz\n'
	printf '\tLun 1 Type=nullio %s\n' "$(printf 'w %.0s' $(seq 1 33))"
} >conf/limits
{
	printf 'Target iqn.2026-11.org.ietd:t1\n\tAlias '
	for i in $(seq 1 15); do printf '%s \\\n' "$long"; done
	printf 'end\n\tLun 0 Type=nullio\n'
	head -c 4100 /dev/zero | tr '\0' b
	printf '\n'
} >conf/long-lines

# CHAP values: binary constants, identifiers, algorithm lists.
seed chap hex '0x0123456789abcdefABCDEF'
seed chap hexodd '0xabc'
seed chap b64 '0bAAECAwQFBgcICQoLDA0ODw=='
seed chap b64short '0bQUJD'
seed chap id '0x1f'
seed chap algs '7,6,5,8,300,x'

# PDUs with good CRC32C digests (python3 computes them; skipped without):
# first byte 0x0b or 0x09, both digests or the header one, 8 KiB limit.
if command -v python3 >/dev/null; then
	python3 - <<'PY'
def crc32c(b, crc=0):
    crc ^= 0xffffffff
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
def digest(b):
    return crc32c(b).to_bytes(4, 'little')
def pdu(op, data, ahs=b''):
    pad = data + bytes(-len(data) % 4)
    bhs = bytes([op, 0x80, 0, 0, len(ahs) // 4]) + len(data).to_bytes(3, 'big')
    bhs += bytes(8) + (7).to_bytes(4, 'big') + bytes(28)
    out = bhs + ahs + digest(bhs + ahs)
    if data:
        out += pad + digest(pad)
    return out
nop = pdu(0x00, b'ping')
cmd = pdu(0x01, b'', bytes([0, 9, 1, 0]) + bytes(8))	# extended CDB AHS
text = pdu(0x04, b'SendTargets=All\0')
open('pdu/digests-ok', 'wb').write(b'\013' + nop + cmd + text)
open('pdu/hdigest-ok', 'wb').write(b'\011' + nop[:48] + nop[48:52] +
    b'ping')
PY
fi

# SCSI commands for fuzz_scsi.c: flags (LUN, 4 = with a nexus), 16-byte
# CDB, 16-bit transfer length, Data-Out.
if command -v python3 >/dev/null; then
	mkdir -p scsi
	python3 - <<'PY'
def rec(flags, cdb, length, data=b''):
    return bytes([flags]) + bytes(cdb).ljust(16, b'\0') + \
        length.to_bytes(2, 'big') + data
blk = bytes(range(256)) * 2
seeds = {
    'inquiry': rec(0, [0x12, 0, 0, 0, 0xff], 255) + rec(0, [0x12, 1, 0x83, 0, 0xff], 255) +
        rec(1, [0x12, 1, 0xb0, 0, 0x40], 64) + rec(3, [0x12, 0, 0, 0, 36], 36),
    'capacity': rec(0, [0x25], 8) + rec(1, [0x9e, 0x10, 0,0,0,0,0,0,0,0, 0,0,0,32], 32) +
        rec(0, [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 256),
    'rw': rec(0, [0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0], 512, blk) +
        rec(0, [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], 512) +
        rec(2, [0x8a, 0, 0,0,0,0,0,0,0,2, 0,0,0,1], 512, blk) +
        rec(0, [0x88, 0, 0,0,0,0,0,0,0,2, 0,0,0,1], 512) +
        rec(1, [0x08, 0, 0, 1, 1], 512) +
        rec(8, [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], 512),
    'compare': rec(0, [0x89, 0, 0,0,0,0,0,0,0,1, 0,0,0, 1], 1024, blk + blk),
    'unmap': rec(0, [0x42, 0, 0,0,0,0,0,0, 0, 24], 24,
        bytes([0, 22, 0, 16, 0,0,0,0]) + bytes(8) + bytes([0,0,0,8,0,0,0,0])) +
        rec(0, [0x93, 0x08, 0,0,0,0,0,0,0,4, 0,0,0,4], 512, blk) +
        rec(0, [0x35], 0),
    'modes': rec(0, [0x1a, 0, 0x3f, 0, 0xff], 255) + rec(0, [0x5a, 0, 0x08, 0,0,0,0, 0, 0xff], 255) +
        rec(0, [0x55, 0x10, 0,0,0,0,0, 0, 20], 20, bytes([0,0,0,0,0,0,0,0, 0x08, 0x12, 0x04] + [0]*9)) +
        rec(0, [0xa3, 0x0c, 0, 0, 0,0, 0,0,0x10,0], 4096) + rec(0, [0x03, 0, 0, 0, 18], 18),
    'reservations': rec(4, [0x5f, 0x00, 0,0,0,0,0, 0, 24], 24,
        bytes(8) + (0x1234).to_bytes(8, 'big') + bytes(8)) +
        rec(4, [0x5f, 0x01, 0x05, 0,0,0,0, 0, 24], 24,
        (0x1234).to_bytes(8, 'big') + bytes(16)) +
        rec(4, [0x5e, 0x00, 0,0,0,0,0, 0x10, 0], 4096) +
        rec(4, [0x5e, 0x01, 0,0,0,0,0, 0x10, 0], 4096) +
        rec(4, [0x16], 0) + rec(0, [0x2a, 0,0,0,0,0, 0, 0, 1, 0], 512, blk) +
        rec(4, [0x17], 0) + rec(4, [0x00], 0),
}
for name, data in seeds.items():
    open('scsi/' + name, 'wb').write(data)
PY
fi

# Logins by hand: Login Request PDUs (BHS, then the data segment and its
# padding).  login_pdu flags text: 0x43 (immediate Login), the flags byte
# (octal: \207 is T=1 CSG=1 NSG=3, \201 T CSG=0 NSG=1, \000 CSG=0),
# version 0-0, DataSegmentLength (under 256), ISID 0x00023d000000, ITT 1,
# CmdSN 1.
login_pdu() {
	len=$(printf "$2" | wc -c)
	printf "\\103$1\\000\\000\\000\\000\\000"
	printf "\\$(printf %03o "$len")"
	printf '\000\002\075\000\000\000\000\000\000\000\000\001'
	printf '\000\000\000\000\000\000\000\001\000\000\000\000'
	printf '\000\000\000\000\000\000\000\000\000\000\000\000'
	printf '\000\000\000\000'
	printf "$2"
	printf '\000\000\000' | head -c $(((4 - len % 4) % 4))
}
{ printf '\000'; login_pdu '\207' 'InitiatorName=iqn.2026-11.org.ietd:i\0SessionType=Discovery\0MaxRecvDataSegmentLength=8192\0'; } >login/discovery
cp login/discovery pdu/login-discovery
# The same with both digests (the digests are wrong: a mutation fixes them).
{ printf '\003'; tail -c +2 login/discovery; printf 'xxxx'; } >pdu/login-digests
# Mutual CHAP to the CHAP target of fuzz_login.c (its io accepts any
# response), then the operational stage; flags 0x10: debug level 2, so
# the PDU dumps (and their CHAP redaction) run too.
{
	printf '\020'
	login_pdu '\000' 'InitiatorName=iqn.2026-11.org.ietd:i\0SessionType=Normal\0TargetName=iqn.2026-11.org.ietd:cap-chap\0AuthMethod=CHAP,None\0'
	login_pdu '\000' 'CHAP_A=7,5\0'
	login_pdu '\201' 'CHAP_N=alice\0CHAP_R=0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\0CHAP_I=77\0CHAP_C=0bAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\0'
	login_pdu '\207' 'HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=262144\0'
} >login/mutual-chap
# More login PDUs than the worker takes (LOGIN_PDUS_MAX, 32).
{
	printf '\000'
	login_pdu '\000' 'InitiatorName=iqn.2026-11.org.ietd:i\0SessionType=Discovery\0'
	i=0
	while [ $i -lt 32 ]; do
		login_pdu '\000' ''
		i=$((i + 1))
	done
} >login/too-many-pdus
