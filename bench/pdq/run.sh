#!/usr/bin/env bash
# run.sh - PDQ hash-list lookups and near-duplicate search at scale.
#
# Builds bench/pdq/bench_pdq.c against build/libpictor.a and runs it on a
# fresh LMDB store in a temporary directory (removed afterwards): N random
# hashes in a list and N in the image index (default 1,000,000 each),
# QUERIES lookups and similar-searches (default 400), each against a
# linear scan of the same hashes in memory. See docs/PDQ.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000}
QUERIES=${QUERIES:-400}
make -s build/libpictor.a
mkdir -p build/bench-pdq
cc -std=c11 -D_GNU_SOURCE -O2 -g -Isrc -pthread bench/pdq/bench_pdq.c \
	build/libpictor.a \
	$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl) \
	-ldnnl -lm -pthread -o build/bench-pdq/bench_pdq
dir=$(mktemp -d /tmp/pictor-bench-pdq-XXXXXX)
trap 'rm -rf "$dir"' EXIT
build/bench-pdq/bench_pdq "$dir" "$N" "$QUERIES"
