#!/usr/bin/env bash
# bench/cache.sh - the result cache, measured against its peers in one run.
#
#   1. hit throughput: a cached ~20 KiB variant from Pictor against the same
#      bytes as a static file from nginx (Debian's nginx-light, on its own
#      loopback port with a temporary prefix), wrk -t2 -c32 each: requests/s,
#      p50/p99 and the ratio;
#   2. Zipf: 50 images x 20 variants, popularity Zipf s=1.0, the memory tier
#      sized to a fifth of the set (disk tier off): hit ratio, renders and
#      requests/s for SIEVE, LRU and the cache off, the same request
#      sequence each time;
#   3. cold stampede: 100 concurrent requests for one uncached variant:
#      renders and time to the last byte;
#   4. a mixed run (hits, misses, uploads): RSS sampled from start to end.
#
# Installs nginx-light and wrk with apt-get when missing. Environment:
# BENCH_SECONDS (wrk runs, default 10), BENCH_ZIPF_REQUESTS (default 2000),
# BENCH_MIXED_SECONDS (default 120), BENCH_PHASES (default hit,zipf,stampede,mixed),
# BENCH_ARENAS (the --malloc-arenas values of the mixed runs, default 0,2),
# BENCH_LOG_LEVEL (the daemon's --log-level, default warn; info writes the
# access log to a file in the data directory).
# The work is in bench/cache.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
make --no-print-directory pictor >/dev/null
bash scripts/fetch-corpus.sh >/dev/null
exec node bench/cache.mjs
