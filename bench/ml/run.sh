#!/usr/bin/env bash
# run.sh - compare Pictor's inference engine with nsfwjs on TF.js wasm.
#
# (a) bench_model.c: the nsfwjs MobileNetV2Mid model alone, 224x224 input,
#     one context with one OpenMP thread (plus a two-worker throughput
#     figure), linked against build/libpictor.a.
# (b) nsfwjs 4.4.0 with @tensorflow/tfjs-backend-wasm 4.22.0 in Node,
#     installed with pinned versions into build/npm-bench.
# Both read the same inputs: tests/data/ml/inputs-224/*.rgb. Prints both
# ms/image figures, their ratio, and the loaded model's memory next to its
# float32 weight size.
#
# Environment: ITER (passes over the 24 inputs, default 10), MODELS_DIR
# (default ./models), SKIP_WASM=1 to time only the C engine.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
ITER=${ITER:-10}
MODELS_DIR=${MODELS_DIR:-$ROOT/models}
INPUTS=$ROOT/tests/data/ml/inputs-224
OUT=$ROOT/build/bench-ml
NPM_DIR=$ROOT/build/npm-bench
TFJS_VERSION=4.22.0
NSFWJS_VERSION=4.4.0

die() { echo "bench/ml: $*" >&2; exit 1; }

MODELS_DIR=$MODELS_DIR bash scripts/fetch-models.sh
mkdir -p "$OUT"

# (a) the C engine. Prefer the project's library; if the tree does not
# build as a whole right now, compile the engine's own sources instead.
CFLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Isrc -pthread)
LIBS=(-ljansson -ldnnl -lm -pthread)
if make -s build/libpictor.a >"$OUT/make.log" 2>&1; then
	cc "${CFLAGS[@]}" bench/ml/bench_model.c build/libpictor.a \
		$(pkg-config --libs vips libmicrohttpd lmdb libpq jansson libcrypto libcurl 2>/dev/null) \
		"${LIBS[@]}" -o "$OUT/bench_model"
else
	echo "bench/ml: build/libpictor.a does not build (see $OUT/make.log);" \
		"compiling src/ml and src/core/{buf,err,log}.c directly" >&2
	cc "${CFLAGS[@]}" bench/ml/bench_model.c src/ml/*.c src/core/buf.c \
		src/core/err.c src/core/log.c "${LIBS[@]}" -o "$OUT/bench_model"
fi
"$OUT/bench_model" "$MODELS_DIR" "$INPUTS" "$ITER" | tee "$OUT/c.txt"

# (b) nsfwjs on the wasm backend
if [ "${SKIP_WASM:-0}" != 1 ]; then
	command -v node >/dev/null 2>&1 || die "node is required"
	want="@tensorflow/tfjs@$TFJS_VERSION @tensorflow/tfjs-backend-wasm@$TFJS_VERSION nsfwjs@$NSFWJS_VERSION"
	if [ "$(cat "$NPM_DIR/.installed" 2>/dev/null)" != "$want" ]; then
		mkdir -p "$NPM_DIR"
		# exact versions; npm checks each tarball's registry integrity
		(cd "$NPM_DIR" && npm install --no-save --ignore-scripts --no-audit \
			--no-fund --loglevel=error $want >/dev/null)
		echo "$want" >"$NPM_DIR/.installed"
	fi
	node bench/ml/nsfwjs_wasm.mjs "$NPM_DIR/node_modules" "$INPUTS" \
		"$(( ITER > 3 ? 3 : ITER ))" | tee "$OUT/wasm.txt"
fi

# (c) the whole path from encoded file to verdict, through the CLI:
# libvips shrink-on-load to 224x224, the model, the policy. Corpus photos
# of several sizes, so decode cost is part of the figure.
WHOLE=""
if [ -x ./pictor ] || make -s pictor >/dev/null 2>&1; then
	bash scripts/fetch-corpus.sh >/dev/null 2>&1 || true
	for f in Aqua.jpg Dune.jpg GreenMeadow.jpg Elephants.jpg astronaut.png coffee.png; do
		[ -f "build/corpus/$f" ] && WHOLE="$WHOLE build/corpus/$f"
	done
	if [ -n "$WHOLE" ]; then
		./pictor classify --models "$MODELS_DIR" --bench "$ITER" $WHOLE \
			>"$OUT/whole.txt" 2>&1 || true
	fi
fi

# summary
get() { sed -n "s/^$1=//p" "$OUT/$2" | head -1; }
c=$(get c_ms_per_image_mean c.txt)
echo "----"
printf 'C engine (1 thread):        %8.2f ms/image (median %s)\n' "$c" "$(get c_ms_per_image_median c.txt)"
printf 'C engine (2 workers):       %8.2f ms/image throughput\n' "$(get c_ms_per_image_2workers c.txt)"
printf 'C engine (1 worker, 2 thr): %8.2f ms/image\n' "$(get c_ms_per_image_1worker_2threads c.txt)"
if [ -s "$OUT/wasm.txt" ] && [ "${SKIP_WASM:-0}" != 1 ]; then
	w=$(get wasm_ms_per_image_classify wasm.txt)
	printf 'nsfwjs on tfjs-wasm:        %8.2f ms/image classify, %s predict (simd=%s threads=%s)\n' \
		"$w" "$(get wasm_ms_per_image_predict wasm.txt)" \
		"$(get wasm_simd wasm.txt)" "$(get wasm_threads wasm.txt)"
	awk -v a="$w" -v b="$c" 'BEGIN { printf "ratio wasm/C:               %8.1fx\n", a / b }'
fi
if [ -s "$OUT/whole.txt" ]; then
	awk '/ms per image, file to verdict/ { sub(":", "", $2); sub(".*/", "", $2); printf "whole path %-17s %8.2f ms/image (decode, resize, model, policy)\n", $2 ":", $3 }' "$OUT/whole.txt"
fi
awk -v w="$(get weights_f32_bytes c.txt)" -v r="$(get rss_model_load_trimmed_bytes c.txt)" \
	-v r0="$(get rss_model_load_bytes c.txt)" \
	-v r2="$(get rss_second_model_load_bytes c.txt)" \
	-v k="$(get model_resident_bytes c.txt)" -v a="$(get ctx_arena_bytes c.txt)" \
	'BEGIN { printf "memory: weights f32 %.1f MB; RSS growth loading the model %.1f MB (first in the process, with oneDNN start-up; %.1f before malloc_trim), %.1f MB (another); weights kept %.1f MB; context arena %.1f MB\n", w/1e6, r/1e6, r0/1e6, r2/1e6, k/1e6, a/1e6 }'
