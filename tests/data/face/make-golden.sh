#!/usr/bin/env bash
# make-golden.sh - regenerate tests/data/face/expected.json and raw-*.f32,
# the TF.js reference outputs test_ml_face compares with. Not part of
# `make test` (the outputs are committed); run it after changing the
# model, the cases (cases.mjs and test_ml_face.c together) or the pinned
# TF.js.
#
# Decodes the corpus photos with Pictor's own decoder (dump_rgb.c, linked
# against build/libpictor.a) so both sides see the same pixels, installs
# @tensorflow/tfjs at the pinned version into build/npm-face (npm checks
# the registry integrity), and runs make-golden.mjs on the CPU backend.
set -euo pipefail

cd "$(dirname "$0")/../../.."
ROOT=$PWD
TFJS_VERSION=4.22.0
NPM_DIR=$ROOT/build/npm-face
WORK=$ROOT/build/face-golden
MODELS_DIR=${MODELS_DIR:-$ROOT/models}
CORPUS=${PICTOR_CORPUS:-$ROOT/build/corpus}
DATA=tests/data/face

make -s models corpus build/libpictor.a
mkdir -p "$WORK"
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc $(pkg-config --cflags vips) \
	"$DATA/dump_rgb.c" build/libpictor.a \
	$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl libsystemd) \
	-ldnnl -lm -pthread -o "$WORK/dump_rgb"
"$WORK/dump_rgb" "$WORK" "$CORPUS/astronaut.png" "$CORPUS/grace_hopper.jpg" \
	"$CORPUS/mona.png" >"$WORK/sizes.txt"

want="@tensorflow/tfjs@$TFJS_VERSION @tensorflow/tfjs-backend-wasm@$TFJS_VERSION"
if [ "$(cat "$NPM_DIR/.installed" 2>/dev/null)" != "$want" ]; then
	mkdir -p "$NPM_DIR"
	(cd "$NPM_DIR" && npm install --no-save --ignore-scripts --no-audit \
		--no-fund --loglevel=error $want >/dev/null)
	echo "$want" >"$NPM_DIR/.installed"
fi
node "$DATA/make-golden.mjs" "$NPM_DIR/node_modules" "$MODELS_DIR/blazeface-back" \
	"$WORK" "$DATA"
