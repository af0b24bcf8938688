#!/usr/bin/env bash
# run-stores.sh s3pg|s3|pg - Pictor on its external stores, each a
# throwaway server on loopback: Ceph RGW (a real S3 implementation,
# tests/s3/rgw.sh) and PostgreSQL 15 (tests/pg/pg.sh).
#
#   s3pg  (make s3pg, part of make test) starts both servers once, then
#         1. the S3 backend's real-server unit cases (test_blob_s3 with
#            PX_TEST_S3_LOCATION) and the kv cases on PostgreSQL (test_kv
#            on backend pg, test_kv_pg);
#         2. tests/s3/*.test.mjs (originals in the bucket, records in LMDB)
#            and tests/pg/*.test.mjs (records in PostgreSQL, originals in
#            data directories: its two-node tests share one by a symlink);
#         3. the whole e2e suite, tests/e2e/, with every daemon and CLI
#            command on --blob s3://... and --meta postgres://... (lib.mjs
#            gives each data directory a key prefix in the bucket and a
#            schema of its own).
#   s3    (make s3) RGW only: the S3 parts of 1 and 2, then the e2e files
#         in E2E (default "api delivery") on S3.
#   pg    (make pg) PostgreSQL only: the PostgreSQL parts of 1 and 2, then
#         the e2e files in E2E (default "api moderation cloudflare
#         signing") on PostgreSQL.
#
# E2E=all runs the whole of tests/e2e/, E2E=none no e2e file, otherwise the
# named files (without .test.mjs). Every server is stopped by its PID when
# the script exits, whatever happened. Prints the wall and CPU time of each
# part (CPU: this script's children, the daemons the tests start included,
# then the servers' own). BUILD (default build), PICTOR_BIN (default
# ./pictor) and PICTOR_CORPUS as for the other suites. Exit status 0 when
# everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in
s3pg) s3=1 pg=1 e2e=${E2E:-all} ;;
s3) s3=1 pg=0 e2e=${E2E:-${S3_E2E:-api delivery}} ;;
pg) s3=0 pg=1 e2e=${E2E:-${PG_E2E:-api moderation cloudflare signing}} ;;
*)
	echo "usage: scripts/run-stores.sh s3pg|s3|pg" >&2
	exit 2
	;;
esac
BUILD=${BUILD:-build}
export PICTOR_BIN=${PICTOR_BIN:-./pictor}
export PICTOR_CORPUS=${PICTOR_CORPUS:-build/corpus}

pg_dir= rgw_dir= starting=() times_f=
cleanup() {
	local p
	for p in "${starting[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$pg_dir" ] || tests/pg/pg.sh stop "$pg_dir"
	[ -z "$rgw_dir" ] || tests/s3/rgw.sh stop "$rgw_dir"
	rm -f "$times_f"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# CPU seconds (user + system) of this shell's finished children so far,
# into CPU (`times` must run in this shell, not in a subshell).
times_f=$(mktemp /tmp/pictor-times.XXXXXX)
cpu_now() {
	times >"$times_f"
	CPU=$(tail -n1 "$times_f" | awk '{
		s = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
		printf "%.1f", s }')
}
cpu_now
t_all=$SECONDS c_all=$CPU t=$SECONDS c=$CPU
took() {
	cpu_now
	echo "$mode: $1 took $((SECONDS - t)) s wall, $(awk -v a="$CPU" -v b="$c" 'BEGIN { printf "%.1f", a - b }') s CPU"
	t=$SECONDS c=$CPU
}
# CPU seconds the servers have used (a process and its reaped children).
server_cpu() {
	local pids=() p tck
	[ -z "$pg_dir" ] || pids+=("$(cat "$pg_dir/pid" 2>/dev/null)")
	[ -z "$rgw_dir" ] || pids+=($(cat "$rgw_dir/pids" 2>/dev/null))
	tck=$(getconf CLK_TCK)
	for p in "${pids[@]}"; do
		[ -r "/proc/$p/stat" ] && sed 's/.*) //' "/proc/$p/stat"
	done | awk -v hz="$tck" '{ s += $12 + $13 + $14 + $15 } END { printf "%.1f", s / hz }'
}

# Both servers start at once.
if [ "$pg" = 1 ]; then
	pg_dir=$(mktemp -u /tmp/pictor-pg.XXXXXX)
	tests/pg/pg.sh start "$pg_dir" >/dev/null &
	starting+=($!)
fi
if [ "$s3" = 1 ]; then
	rgw_dir=$(mktemp -u /tmp/pictor-rgw.XXXXXX)
	tests/s3/rgw.sh start "$rgw_dir" >/dev/null &
	starting+=($!)
fi
for p in "${starting[@]}"; do
	wait "$p" || {
		echo "$mode: a server did not start" >&2
		exit 1
	}
done
starting=()
pg_env=() s3_env=()
if [ "$pg" = 1 ]; then
	mapfile -t pg_env <"$pg_dir/env"
fi
if [ "$s3" = 1 ]; then
	mapfile -t s3_env <"$rgw_dir/env"
	s3_env+=("RGW_DIR=$rgw_dir")
	for v in "${s3_env[@]}"; do export "${v?}"; done # credentials for every part
	s3_env+=("PICTOR_E2E_BLOB=s3://$RGW_BUCKET/e2e?endpoint=$RGW_ENDPOINT&path_style=1")
fi
took "servers up"

rc=0
if [ "$s3" = 1 ]; then
	env PX_TEST_S3_LOCATION="s3://$RGW_BUCKET/unit?endpoint=$RGW_ENDPOINT&path_style=1" \
		bash scripts/run-unit.sh "$BUILD/tests/test_blob_s3" || rc=1
fi
if [ "$pg" = 1 ]; then
	env "${pg_env[@]}" bash scripts/run-unit.sh "$BUILD/tests/test_kv" "$BUILD/tests/test_kv_pg" || rc=1
fi
took "unit cases"

if [ "$s3" = 1 ]; then
	env "${s3_env[@]}" node --test --test-concurrency=1 tests/s3/ || rc=1
	took "tests/s3"
fi
if [ "$pg" = 1 ]; then
	env "${pg_env[@]}" node --test --test-concurrency=1 tests/pg/ || rc=1
	took "tests/pg"
fi

files=()
case "$e2e" in
all) files=(tests/e2e/) ;;
none) ;;
*) for f in $e2e; do files+=("tests/e2e/$f.test.mjs"); done ;;
esac
if [ ${#files[@]} -gt 0 ]; then
	both=()
	[ "$s3" = 0 ] || both+=("${s3_env[@]}")
	[ "$pg" = 0 ] || both+=("${pg_env[@]}")
	env "${both[@]}" node --test --test-concurrency=1 "${files[@]}" || rc=1
	took "e2e ($e2e) on$([ "$s3" = 0 ] || echo ' S3')$([ "$s3$pg" = 11 ] && echo ' +')$([ "$pg" = 0 ] || echo ' PostgreSQL')"
fi

echo "$mode: servers used $(server_cpu) s CPU"
cpu_now
echo "$mode: total $((SECONDS - t_all)) s wall, $(awk -v a="$CPU" -v b="$c_all" 'BEGIN { printf "%.1f", a - b }') s CPU, rc=$rc"
exit $rc
