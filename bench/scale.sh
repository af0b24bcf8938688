#!/usr/bin/env bash
# bench/scale.sh - the embedded defaults (files + LMDB) against S3 (a real
# Ceph RGW) + PostgreSQL 15 in one run, started here with the test suites'
# scripts (tests/s3/rgw.sh, tests/pg/pg.sh) and stopped by PID at the end.
#
#   1. bench/scale.mjs: upload, uncached-variant and cached-variant
#      throughput on both daemons side by side, their ratio, and the mean
#      milliseconds per request end to end, queued and on the worker, from
#      each daemon's own metrics;
#   2. bench/scale_stores.c: the store operations those requests make,
#      timed one at a time on each backend (blob put/stat/get, a write
#      transaction and a read), which is where the difference goes.
#
# The test PostgreSQL runs with fsync off; it is switched on here (a
# reload) so a commit costs what LMDB's durable commit costs. RGW's OSD is
# in memory (memstore): an S3 write here is cheaper than on disks, a
# round trip over loopback is the same. BENCH_N, BENCH_CONC and
# BENCH_SIZE as in bench/scale.mjs; PICTOR_BIN (default ./pictor).
set -euo pipefail
cd "$(dirname "$0")/.."
export PICTOR_BIN=${PICTOR_BIN:-./pictor}
export PICTOR_CORPUS=${PICTOR_CORPUS:-build/corpus}

make --no-print-directory pictor build/libpictor.a >/dev/null
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -o build/bench-scale-stores bench/scale_stores.c \
	build/libpictor.a $(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl) \
	-ldnnl -lm -pthread

rgw=$(mktemp -u /tmp/pictor-benchrgw.XXXXXX)
pg=$(mktemp -u /tmp/pictor-benchpg.XXXXXX)
data=$(mktemp -d /tmp/pictor-benchstores.XXXXXX)
trap 'tests/s3/rgw.sh stop "$rgw"; tests/pg/pg.sh stop "$pg"; rm -rf "$data"' EXIT
tests/s3/rgw.sh start "$rgw" >/dev/null
tests/pg/pg.sh start "$pg" >/dev/null
set -a
. "$rgw/env"
. "$pg/env"
set +a
psql -X -q -d "$PICTOR_TEST_PG" -c "ALTER SYSTEM SET fsync = on" \
	-c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
node bench/scale.mjs
echo
./build/bench-scale-stores "${BENCH_STORE_N:-50}" "$((${BENCH_SIZE:-256} * ${BENCH_SIZE:-256} * 3))" \
	"$data" "s3://$RGW_BUCKET/bench-stores?endpoint=$RGW_ENDPOINT&path_style=1" "$PICTOR_TEST_PG"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
