#!/usr/bin/env bash
# face.sh - time face detection: Pictor's engine against TensorFlow.js's
# wasm backend, on the same inputs in one run.
#
# Inputs: the corpus photos with faces (astronaut.png 512x512,
# grace_hopper.jpg 512x600, mona.png 500x756) decoded by Pictor's decoder
# (tests/data/face/dump_rgb.c). For each side, per image on one core:
#   model   the BlazeFace back model alone on the prepared 256x256 input
#           (C: px_ml_run, one context, one OpenMP thread; TF.js:
#           execute + reading the four outputs back)
#   detect  the whole detector: letterbox, resize, model, anchor
#           decoding, sigmoid, NMS (C: px_face_detect; TF.js: the
#           reference pipeline of tests/data/face/pipeline.mjs)
# TF.js is @tensorflow/tfjs 4.22.0 + @tensorflow/tfjs-backend-wasm 4.22.0
# (SIMD, no threads in Node), installed pinned into build/npm-face.
#
# Environment: ITER (runs per image and side, default 50), MODELS_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ITER=${ITER:-50}
MODELS_DIR=${MODELS_DIR:-$ROOT/models}
CORPUS=${PICTOR_CORPUS:-$ROOT/build/corpus}
OUT=$ROOT/build/bench-face
NPM_DIR=$ROOT/build/npm-face
TFJS_VERSION=4.22.0
LIBS="$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl libsystemd) -ldnnl -lm -pthread"

make -s models corpus build/libpictor.a
mkdir -p "$OUT"
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc $(pkg-config --cflags vips) \
	tests/data/face/dump_rgb.c build/libpictor.a $LIBS -o "$OUT/dump_rgb"
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/face/bench_face.c \
	build/libpictor.a $LIBS -o "$OUT/bench_face"
"$OUT/dump_rgb" "$OUT" "$CORPUS/astronaut.png" "$CORPUS/grace_hopper.jpg" \
	"$CORPUS/mona.png" >"$OUT/sizes.txt"
ARGS=$(awk -v d="$OUT" '{ printf "%s/%s.rgb:%s:%s ", d, $1, $2, $3 }' "$OUT/sizes.txt")

want="@tensorflow/tfjs@$TFJS_VERSION @tensorflow/tfjs-backend-wasm@$TFJS_VERSION"
if [ "$(cat "$NPM_DIR/.installed" 2>/dev/null)" != "$want" ]; then
	mkdir -p "$NPM_DIR"
	# exact versions; npm checks each tarball's registry integrity
	(cd "$NPM_DIR" && npm install --no-save --ignore-scripts --no-audit \
		--no-fund --loglevel=error $want >/dev/null)
	echo "$want" >"$NPM_DIR/.installed"
fi

# shellcheck disable=SC2086
"$OUT/bench_face" "$MODELS_DIR" "$ITER" $ARGS | tee "$OUT/c.txt"
# shellcheck disable=SC2086
node bench/face/face_wasm.mjs "$NPM_DIR/node_modules" "$MODELS_DIR/blazeface-back" \
	"$ITER" $ARGS | tee "$OUT/wasm.txt"

get() { sed -n "s/^$1=//p" "$OUT/$2" | head -1; }
echo "----"
echo "ms per image, one core, $(get c_images c.txt) images x $ITER runs"
echo "        (wall mean / median / min; CPU time per run)"
for what in model detect; do
	printf 'Pictor  %-7s %7.2f / %7.2f / %7.2f; cpu %7.2f\n' "$what" \
		"$(get c_${what}_ms_mean c.txt)" "$(get c_${what}_ms_median c.txt)" \
		"$(get c_${what}_ms_min c.txt)" "$(get c_${what}_cpu_ms c.txt)"
	printf 'TF.js   %-7s %7.2f / %7.2f / %7.2f; cpu %7.2f  (wasm, simd=%s threads=%s)\n' "$what" \
		"$(get wasm_${what}_ms_mean wasm.txt)" "$(get wasm_${what}_ms_median wasm.txt)" \
		"$(get wasm_${what}_ms_min wasm.txt)" "$(get wasm_${what}_cpu_ms wasm.txt)" \
		"$(get wasm_simd wasm.txt)" "$(get wasm_threads wasm.txt)"
	awk -v a="$(get wasm_${what}_ms_median wasm.txt)" -v b="$(get c_${what}_ms_median c.txt)" \
		-v ca="$(get wasm_${what}_cpu_ms wasm.txt)" -v cb="$(get c_${what}_cpu_ms c.txt)" \
		-v w="$what" 'BEGIN { printf "ratio   %-7s %7.1fx wall medians, %.1fx CPU time (TF.js-wasm / Pictor)\n", w, a / b, ca / cb }'
done
echo "target: Pictor model <= 5 ms per image on one core"
