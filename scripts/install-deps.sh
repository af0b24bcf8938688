#!/usr/bin/env bash
# install-deps.sh - install the Debian packages Pictor needs to build and test.
#
# Idempotent and quiet: asks dpkg which packages are missing and only then
# runs apt-get (via sudo when not root). Node.js comes from Debian only when
# no `node` is on PATH at all. chromium (/usr/bin/chromium) is the browser
# of the browser tests (tests/browser/), which download none of their own.
# The ceph packages give `make s3` a real S3 implementation (Ceph RGW on a
# one-monitor, one-OSD memstore cluster; tests/s3/run.sh).
set -euo pipefail

PKGS=(build-essential pkg-config clang libclang-rt-14-dev libvips-dev
	libmicrohttpd-dev liblmdb-dev libjansson-dev libssl-dev libdnnl-dev
	libcurl4-openssl-dev libsystemd-dev libpq-dev postgresql wrk curl jq iproute2
	ca-certificates lmdb-utils chromium
	ceph-mon ceph-osd radosgw ceph-common)

declare -A have=()
while read -r name status; do
	[ -n "$name" ] && have[$name]=$status
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)

missing=()
for p in "${PKGS[@]}"; do
	[ "${have[$p]:-}" = installed ] || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)

[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
