#!/usr/bin/env bash
# bench/transforms.sh - measure the encoder settings docs/TRANSFORMS.md
# chose: AVIF effort 0-4, WebP effort 0-6, JPEG baseline/progressive,
# PNG and GIF levels, on two corpus photos at delivery sizes.
#
# Prints, per photo, size and setting, the median wall and CPU time of
# RUNS encodes (one libvips worker, as in the server) and the bytes.
#
# Environment: RUNS (default 3), WIDTHS (default "1280,2560"), FORMATS
# (default all: "avif,webp,jpeg,png,gif"), FILES (default Garden.jpg and
# Storm.jpg from build/corpus; `make corpus` fetches them).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-corpus.sh >/dev/null
mkdir -p build
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror $(pkg-config --cflags vips) \
	-o build/bench-transforms bench/transforms.c $(pkg-config --libs vips)

files=${FILES:-"build/corpus/Garden.jpg build/corpus/Storm.jpg"}
# shellcheck disable=SC2086
exec build/bench-transforms -r "${RUNS:-3}" -w "${WIDTHS:-1280,2560}" \
	-f "${FORMATS:-avif,webp,jpeg,png,gif}" $files
