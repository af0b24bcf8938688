#!/usr/bin/env bash
# install.sh - everything the compatibility suite needs, idempotent:
#
# 1. tests/compat/node_modules from package-lock.json (`npm ci`), redone
#    when the lock file changed since the last install (a stamp inside
#    node_modules remembers its SHA-256). sharp brings its own prebuilt
#    libvips as @img/sharp-* packages: nothing is compiled.
# 2. build/compat/pictor-transform, linked against build/libpictor.a with
#    the Makefile's flags; rebuilt when it or the library is newer. If the
#    library cannot be built (another module mid-edit), the image and core
#    sources are compiled in directly instead.
# 3. The photo corpus in build/corpus (scripts/fetch-corpus.sh; a no-op
#    when it is already there and verified).
#
# Run from anywhere; prints nothing on the fast path.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=tests/compat

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "compat/install: node and npm are needed (make deps)" >&2
	exit 1
fi

lock_sha=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
stamp=$HERE/node_modules/.pictor-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ] ||
	[ ! -d "$HERE/node_modules/sharp" ]; then
	echo "compat/install: npm ci (sharp)" >&2
	npm ci --prefix "$HERE" --no-audit --no-fund --loglevel=error >&2
	echo "$lock_sha" >"$stamp"
fi

PKGS="vips libmicrohttpd lmdb libpq jansson libcrypto libcurl"
CFLAGS_ALL="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -O2 -g -Isrc $(pkg-config --cflags $PKGS) -pthread"
LDLIBS_ALL="$(pkg-config --libs $PKGS) -ldnnl -lm -pthread"
bin=build/compat/pictor-transform
mkdir -p build/compat
if make --no-print-directory -s build/libpictor.a >/dev/null 2>build/compat/make.log; then
	if [ ! -x "$bin" ] || [ "$HERE/pictor-transform.c" -nt "$bin" ] ||
		[ build/libpictor.a -nt "$bin" ]; then
		# shellcheck disable=SC2086
		cc $CFLAGS_ALL -o "$bin" "$HERE/pictor-transform.c" build/libpictor.a $LDLIBS_ALL
	fi
else
	echo "compat/install: build/libpictor.a does not build (see build/compat/make.log);" \
		"linking src/image and src/core directly" >&2
	# shellcheck disable=SC2086
	cc $CFLAGS_ALL -o "$bin" "$HERE/pictor-transform.c" src/image/*.c src/core/*.c $LDLIBS_ALL
fi

bash "$ROOT/scripts/fetch-corpus.sh" >/dev/null
