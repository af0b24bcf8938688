#!/usr/bin/env bash
# fetch-corpus.sh - fetch the photo corpus listed in tests/data/corpus/MANIFEST.tsv.
#
# Each listed file is taken out of its Debian package (apt-get download +
# dpkg-deb -x) and copied to build/corpus/<file>, then its SHA-256 is checked
# against the manifest; a mismatch is an error. Idempotent: when every file
# is already present and was verified for this very manifest (stamp file keyed
# by the manifest's hash), it does nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
MANIFEST=$ROOT/tests/data/corpus/MANIFEST.tsv
OUT=${PICTOR_CORPUS:-$ROOT/build/corpus}
DEBS=$OUT/debs
STAMP=$OUT/.verified

die() { echo "fetch-corpus: $*" >&2; exit 1; }

[ -f "$MANIFEST" ] || die "missing $MANIFEST"
mkdir -p "$OUT"

manifest_hash=$(sha256sum "$MANIFEST" | cut -d' ' -f1)

# Rows: file pkg version path bytes sha256 width height bands loader
rows() { tail -n +2 "$MANIFEST" | grep -v '^[[:space:]]*$'; }

# Fast path: stamp matches the manifest and every file is there with its size.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$manifest_hash" ]; then
	ok=1
	while IFS=$'\t' read -r file pkg ver path bytes sha rest; do
		f=$OUT/$file
		if [ ! -f "$f" ] || [ "$(stat -c %s "$f")" != "$bytes" ]; then
			ok=0
			break
		fi
	done < <(rows)
	[ "$ok" = 1 ] && exit 0
fi
rm -f "$STAMP"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
updated=0

# download PKG VERSION: leaves exactly one PKG_*.deb in $DEBS, prints its path.
download() {
	local pkg=$1 ver=$2 deb
	deb=$(ls "$DEBS/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
	if [ -n "$deb" ]; then
		echo "$deb"
		return 0
	fi
	mkdir -p "$DEBS"
	local try
	for try in 1 2; do
		if (cd "$DEBS" && apt-get download "$pkg=$ver") >"$DEBS/.log" 2>&1; then
			break
		fi
		echo "fetch-corpus: $pkg=$ver not downloadable, trying the candidate version" >&2
		if (cd "$DEBS" && apt-get download "$pkg") >>"$DEBS/.log" 2>&1; then
			break
		fi
		if [ "$updated" = 0 ] && [ "$try" = 1 ]; then
			echo "fetch-corpus: refreshing apt lists" >&2
			$SUDO apt-get update -qq >&2 || true
			updated=1
			continue
		fi
		cat "$DEBS/.log" >&2
		die "cannot download $pkg"
	done
	deb=$(ls "$DEBS/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $DEBS"
	echo "$deb"
}

failed=0
declare -A extracted=()
while IFS=$'\t' read -r file pkg ver path bytes sha rest; do
	dst=$OUT/$file
	if [ -f "$dst" ] && [ "$(sha256sum "$dst" | cut -d' ' -f1)" = "$sha" ]; then
		continue
	fi
	tree=$DEBS/x/$pkg
	if [ -z "${extracted[$pkg]:-}" ]; then
		deb=$(download "$pkg" "$ver")
		echo "fetch-corpus: extracting $(basename "$deb")" >&2
		rm -rf "$tree"
		mkdir -p "$tree"
		dpkg-deb -x "$deb" "$tree"
		extracted[$pkg]=1
	fi
	src=$tree$path
	if [ ! -f "$src" ]; then
		echo "fetch-corpus: $path is not in package $pkg" >&2
		failed=1
		continue
	fi
	cp -f "$src" "$dst.part"
	got=$(sha256sum "$dst.part" | cut -d' ' -f1)
	if [ "$got" != "$sha" ]; then
		echo "fetch-corpus: SHA-256 MISMATCH for $file (from $pkg $path): expected $sha, got $got" >&2
		rm -f "$dst.part"
		failed=1
		continue
	fi
	mv -f "$dst.part" "$dst"
	echo "fetch-corpus: $file ok" >&2
done < <(rows)

# The extracted trees are large and no longer needed; the .debs stay so that
# a later run after `rm build/corpus/*.jpg` needs no network.
rm -rf "$DEBS/x" "$DEBS/.log"

[ "$failed" = 0 ] || die "corpus incomplete or corrupt (see above)"
echo "$manifest_hash" >"$STAMP"
echo "fetch-corpus: $(rows | wc -l) files verified in $OUT" >&2
