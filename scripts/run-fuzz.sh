#!/usr/bin/env bash
# Build every libFuzzer target in tests/fuzz against a clang + ASan/UBSan
# build of the library and run each for FUZZ_SECONDS (default 20) over its
# seed corpus (tests/fuzz/corpus/<name without fuzz_>). Exits non-zero on
# the first crash. Usage: scripts/run-fuzz.sh tests/fuzz/fuzz_*.c
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
make --no-print-directory CC=clang BUILD=build-fuzz OPT="-O1 -g" \
	SAN="$san -fsanitize=fuzzer-no-link" build-fuzz/libpictor.a >/dev/null
cflags="-std=c11 -D_GNU_SOURCE -Isrc -g -O1 $san -fsanitize=fuzzer $(pkg-config --cflags vips)"
libs="$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl) -ldnnl -lm -pthread"
pass=0 fail=0
for src in "$@"; do
	name=$(basename "$src" .c)
	bin=build-fuzz/$name
	corpus=tests/fuzz/corpus/${name#fuzz_}
	work=build-fuzz/corpus-${name#fuzz_}
	mkdir -p "$work"
	clang $cflags -o "$bin" "$src" build-fuzz/libpictor.a $libs
	echo "fuzz: $name for ${secs}s"
	if ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$secs" \
		-max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 \
		"$work" "$corpus" >"build-fuzz/$name.log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		tail -40 "build-fuzz/$name.log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
