#!/usr/bin/env bash
# bench/meta.sh - bench/meta.mjs (the same requests on --meta lmdb and on
# --meta postgres://, and their ratio) against a throwaway PostgreSQL
# started and stopped here (tests/pg/pg.sh). BENCH_N and BENCH_CONC as in
# bench/meta.mjs; PICTOR_BIN (default ./pictor).
set -euo pipefail
cd "$(dirname "$0")/.."
export PICTOR_BIN=${PICTOR_BIN:-./pictor}
dir=$(mktemp -u /tmp/pictor-benchpg.XXXXXX)
trap 'tests/pg/pg.sh stop "$dir"' EXIT
tests/pg/pg.sh start "$dir" >/dev/null
set -a
. "$dir/env"
set +a
node bench/meta.mjs
