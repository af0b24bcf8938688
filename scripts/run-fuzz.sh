#!/usr/bin/env bash
# Build every libFuzzer target in tests/fuzz against a clang + ASan/UBSan
# build of the library and run each for FUZZ_SECONDS (default 20) over its
# seed corpus (tests/fuzz/corpus/<name without fuzz_>), FUZZ_JOBS (default
# 2, one per core) targets at a time, each for its whole FUZZ_SECONDS.
# Exits non-zero when a target found a crash (its log's tail is printed).
# Usage: scripts/run-fuzz.sh tests/fuzz/fuzz_*.c
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
make --no-print-directory -j"$jobs" CC=clang BUILD=build-fuzz OPT="-O1 -g" \
	SAN="$san -fsanitize=fuzzer-no-link" build-fuzz/libpictor.a >/dev/null
cflags="-std=c11 -D_GNU_SOURCE -Isrc -g -O1 $san -fsanitize=fuzzer $(pkg-config --cflags vips)"
libs="$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl) -ldnnl -lm -pthread"
# One target: its result (ok or fail) in build-fuzz/<name>.result.
fuzz_one() {
	local name=$1 bin=build-fuzz/$1 corpus=tests/fuzz/corpus/${1#fuzz_} work=build-fuzz/corpus-${1#fuzz_}
	if ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$secs" \
		-max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 \
		"$work" "$corpus" >"build-fuzz/$name.log" 2>&1; then
		echo ok >"build-fuzz/$name.result"
	else
		echo fail >"build-fuzz/$name.result"
		tail -40 "build-fuzz/$name.log"
	fi
}
names=()
running=0
for src in "$@"; do
	name=$(basename "$src" .c)
	names+=("$name")
	mkdir -p "build-fuzz/corpus-${name#fuzz_}"
	rm -f "build-fuzz/$name.result"
	clang $cflags -o "build-fuzz/$name" "$src" build-fuzz/libpictor.a $libs
	echo "fuzz: $name for ${secs}s"
	fuzz_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait
pass=0 fail=0
for name in "${names[@]}"; do
	if [ "$(cat "build-fuzz/$name.result" 2>/dev/null)" = ok ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "fuzz: $name failed (build-fuzz/$name.log)"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
