#!/usr/bin/env bash
# pg.sh - a throwaway PostgreSQL 15 on loopback for the tests.
#
#   tests/pg/pg.sh start DIR    initdb in DIR (created, must not exist), start
#                               on a free 127.0.0.1 port with its unix socket
#                               in DIR, create database "pictor"; prints the
#                               URI and leaves DIR/env to source
#                               (PICTOR_TEST_PG, PGHOST, PGPORT, PGUSER)
#   tests/pg/pg.sh crash DIR    kill the server at once (SIGQUIT: no
#                               checkpoint, WAL replay at the next start)
#   tests/pg/pg.sh up DIR       start it again on the same port
#   tests/pg/pg.sh stop DIR     stop it by its recorded PID, remove DIR
#
# Needs Debian's postgresql-15. PostgreSQL refuses to run as root, so when
# root the server runs as the "postgres" user (runuser). Authentication is
# "trust", which is why it listens on 127.0.0.1 and a private socket only.
# fsync is off: the tests kill the server process, never the machine, and
# the operating system keeps what a killed process wrote.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$BIN/initdb" ] || die "no PostgreSQL server binaries (apt-get install postgresql)"

AS=()
if [ "$(id -u)" -eq 0 ]; then
	AS=(runuser -u postgres --)
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pid_of() { head -n1 "$1/data/postmaster.pid" 2>/dev/null || true; }

# Start the server in DIR on the port in DIR/port; record the PID.
up() {
	local dir=$1 port
	port=$(cat "$dir/port")
	if ! "${AS[@]}" "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c full_page_writes=off -c shared_buffers=32MB -c max_connections=200" \
		start >/dev/null; then
		tail -n 20 "$dir/log" >&2 || true
		return 1
	fi
	pid_of "$dir" >"$dir/pid"
}

# Signal the recorded PID and wait for it to go; escalate if it lingers.
down() {
	local dir=$1 sig=$2 pid
	pid=$(cat "$dir/pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$i" -eq 50 ] && kill -QUIT "$pid" 2>/dev/null
		[ "$i" -eq 90 ] && kill -KILL "$pid" 2>/dev/null
		sleep 0.1
	done
	rm -f "$dir/pid"
}

start() {
	local dir=$1 port
	[ ! -e "$dir" ] || die "$dir exists"
	mkdir -m 700 "$dir"
	[ ${#AS[@]} -eq 0 ] || chown postgres: "$dir"
	port=$(free_port)
	echo "$port" >"$dir/port"
	"${AS[@]}" "$BIN/initdb" -D "$dir/data" -A trust -U pictor -E UTF8 \
		--no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }
	up "$dir" || { rm -rf "$dir"; die "the server did not start"; }
	"${AS[@]}" "$BIN/psql" -X -q -h "$dir" -p "$port" -U pictor -d postgres \
		-c "CREATE DATABASE pictor" || { stop "$dir"; die "createdb failed"; }
	cat >"$dir/env" <<EOF
PICTOR_TEST_PG=postgresql://pictor@127.0.0.1:$port/pictor
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=pictor
PG_DIR=$dir
EOF
	echo "postgresql://pictor@127.0.0.1:$port/pictor"
}

stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	down "$dir" INT # fast shutdown
	rm -rf "$dir"
}

case "${1:-}" in
start) start "${2:?usage: pg.sh start DIR}" ;;
crash) down "${2:?usage: pg.sh crash DIR}" QUIT ;;
up) up "${2:?usage: pg.sh up DIR}" ;;
stop) stop "${2:?usage: pg.sh stop DIR}" ;;
*) die "usage: pg.sh start|crash|up|stop DIR" ;;
esac
