#!/usr/bin/env bash
# rgw.sh - a throwaway Ceph RGW (a real S3 implementation with real SigV4
# checking) on loopback: one monitor, one in-memory OSD, one radosgw.
#
#   tests/s3/rgw.sh start DIR   start in DIR (created, must not exist);
#                               prints "endpoint ACCESS SECRET BUCKET" and
#                               leaves DIR/env to source
#   tests/s3/rgw.sh stop DIR    stop the daemons by their recorded PIDs and
#                               remove DIR
#   tests/s3/rgw.sh pause DIR   stop radosgw only (the S3 endpoint goes
#                               away; the cluster and its objects stay)
#   tests/s3/rgw.sh resume DIR  start radosgw again on the same port and
#                               wait until it answers
#
# Needs Debian's ceph-mon ceph-osd radosgw ceph-common. Every daemon runs
# in the foreground (-f) under setsid with its PID in DIR/pids; nothing
# listens beyond 127.0.0.1.
set -euo pipefail

die() { echo "rgw.sh: $*" >&2; exit 1; }

# Show the logs, stop what was started, and fail.
fail() {
	local dir=$1
	shift
	grep -h -m3 -iE "error|abort|assert|fail" "$dir"/log/* >&2 2>/dev/null || true
	[ -n "${RGW_KEEP:-}" ] || stop "$dir"
	die "$@"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop() {
	local dir=$1
	[ -f "$dir/pids" ] || { rm -rf "$dir"; return 0; }
	# newest first: radosgw, osd, mon
	for pid in $(tac "$dir/pids"); do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for _ in $(seq 50); do
		local alive=0
		for pid in $(cat "$dir/pids"); do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive -eq 0 ] && break
		sleep 0.1
	done
	for pid in $(cat "$dir/pids"); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$dir"
}

# radosgw alone, its PID appended to DIR/pids and kept in DIR/rgw.pid.
start_rgw() {
	local dir=$1 port
	port=$(cat "$dir/rgw.port")
	setsid radosgw -c "$dir/ceph.conf" -f -n client.rgw >>"$dir/log/rgw.out" 2>&1 &
	echo $! >>"$dir/pids"
	echo $! >"$dir/rgw.pid"
	for _ in $(seq 600); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	fail "$dir" "radosgw never answered"
}

pause() {
	local dir=$1 pid
	pid=$(cat "$dir/rgw.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	grep -vx "$pid" "$dir/pids" >"$dir/pids.new" || true
	mv "$dir/pids.new" "$dir/pids"
}

start() {
	local dir=$1
	[ -e "$dir" ] && die "\"$dir\" already exists"
	for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
		command -v $b >/dev/null || die "$b not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common)"
	done
	mkdir -p "$dir"/{run,log,mon,osd,rgw}
	dir=$(cd "$dir" && pwd)
	local mon_port rgw_port fsid conf
	mon_port=$(free_port)
	rgw_port=$(free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	conf=$dir/ceph.conf
	cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd objectstore = memstore
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
mon warn on pool no redundancy = false
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
keyring = $dir/keyring
mon data = $dir/mon/\$id
osd data = $dir/osd/\$id
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
CONF
	: >"$dir/pids"
	monmaptool --create --add a "v2:127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null
	ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null 2>&1 || die "mon mkfs failed"
	setsid ceph-mon -c "$conf" -f -i a >"$dir/log/mon.out" 2>&1 &
	echo $! >>"$dir/pids"
	local id
	id=$(timeout 30 ceph -c "$conf" osd create) || fail "$dir" "monitor not reachable"
	mkdir -p "$dir/osd/$id"
	ceph-osd -c "$conf" -i "$id" --mkfs >"$dir/log/osd-mkfs.out" 2>&1 || fail "$dir" "osd mkfs failed"
	setsid ceph-osd -c "$conf" -f -i "$id" >"$dir/log/osd.out" 2>&1 &
	echo $! >>"$dir/pids"
	for _ in $(seq 300); do
		ceph -c "$conf" osd stat 2>/dev/null | grep -q '1 up' && break
		sleep 0.1
	done
	ceph -c "$conf" osd stat 2>/dev/null | grep -q '1 up' || fail "$dir" "osd never came up"
	echo "$rgw_port" >"$dir/rgw.port"
	start_rgw "$dir"
	local access secret bucket=pictor-test
	access=$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
	secret=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
	radosgw-admin -c "$conf" -n client.rgw user create --uid=pictor --display-name=pictor \
		--access-key="$access" --secret-key="$secret" >/dev/null 2>&1 || fail "$dir" "user create failed"
	# The bucket, with curl's own SigV4 (an independent signer; curl 7.88
	# does not add x-amz-content-sha256 itself, which RGW requires).
	local code
	for _ in $(seq 50); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
			-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
			--user "$access:$secret" "http://127.0.0.1:$rgw_port/$bucket") || true
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	[ "$code" = 200 ] || fail "$dir" "bucket create answered $code"
	cat >"$dir/env" <<ENV
RGW_ENDPOINT=http://127.0.0.1:$rgw_port
RGW_BUCKET=$bucket
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
ENV
	echo "http://127.0.0.1:$rgw_port $access $secret $bucket"
}

case "${1:-}" in
start) start "${2:?usage: rgw.sh start DIR}" ;;
stop) stop "${2:?usage: rgw.sh stop DIR}" ;;
pause) pause "${2:?usage: rgw.sh pause DIR}" ;;
resume) start_rgw "$(cd "${2:?usage: rgw.sh resume DIR}" && pwd)" ;;
*) die "usage: rgw.sh start|stop|pause|resume DIR" ;;
esac
