#!/usr/bin/env bash
# run.sh - the PostgreSQL suite (make pg): start a throwaway PostgreSQL
# (pg.sh), run against it
#   1. the kv conformance cases of test_kv and the backend's own cases in
#      test_kv_pg (schema version, paging under a concurrent writer, one
#      writer across processes, connections cut under it);
#   2. tests/pg/*.test.mjs: a PostgreSQL crash in the middle of uploads,
#      schema refusal by the daemon, two daemons on one database, and
#      cluster.test.mjs: changes seen across nodes within the bound, jobs
#      and webhook events taken over from a node killed mid-work;
#   3. the e2e files in PG_E2E with every daemon on --meta postgres://
#      (tests/e2e/lib.mjs gives each data directory a schema of its own);
# and stop the server by its PID whatever happens. Prints the time each
# part took. BUILD (default build) and PICTOR_BIN (default ./pictor) as
# for the other suites.
set -uo pipefail
cd "$(dirname "$0")/../.."

BUILD=${BUILD:-build}
export PICTOR_BIN=${PICTOR_BIN:-./pictor}
export PICTOR_CORPUS=${PICTOR_CORPUS:-build/corpus}
PG_E2E=${PG_E2E:-api moderation cloudflare signing}

dir=$(mktemp -u /tmp/pictor-pg.XXXXXX)
trap 'tests/pg/pg.sh stop "$dir"' EXIT
t0=$SECONDS
tests/pg/pg.sh start "$dir" >/dev/null || exit 1
set -a
. "$dir/env"
set +a
echo "pg: PostgreSQL up in $((SECONDS - t0)) s ($PICTOR_TEST_PG)"

rc=0
t=$SECONDS
bash scripts/run-unit.sh "$BUILD/tests/test_kv" "$BUILD/tests/test_kv_pg" || rc=1
echo "pg: unit cases took $((SECONDS - t)) s"

t=$SECONDS
node --test tests/pg/ || rc=1
echo "pg: tests/pg took $((SECONDS - t)) s"

t=$SECONDS
files=()
for f in $PG_E2E; do files+=("tests/e2e/$f.test.mjs"); done
if node --test-concurrency=1 -e 0 >/dev/null 2>&1; then
	node --test --test-concurrency=1 "${files[@]}" || rc=1
else
	for f in "${files[@]}"; do node --test "$f" || rc=1; done
fi
echo "pg: e2e on postgres (${PG_E2E}) took $((SECONDS - t)) s"
echo "pg: total $((SECONDS - t0)) s"
exit $rc
