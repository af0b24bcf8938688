#!/usr/bin/env bash
# bench/guard.sh - volumetric protection under a flood (see bench/guard.mjs):
# a legitimate client's latency and refusals while one address, then 100
# addresses, flood the delivery path with cache-busting renders; the
# flood's accepted rate against its limit; peak RSS; and the rate
# limiter's cost on cache hits (on vs off, same run).
#
# Environment: BENCH_SECONDS (default 10 a phase), BENCH_LEGIT_RPS
# (default 2), BENCH_FLOOD_CONNS (default 16), BENCH_PHOTO,
# BENCH_FLOOD_NICE (default "0,19": each flood phase with the generator
# at both priorities), BENCH_ONLY (phases whose name contains it),
# BENCH_ARGS (extra daemon flags).
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory pictor >/dev/null
bash scripts/fetch-corpus.sh >/dev/null
exec node bench/guard.mjs
