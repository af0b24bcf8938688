#!/usr/bin/env bash
# install.sh - tests/cloudflare/node_modules from package-lock.json: the
# official `cloudflare` SDK, pinned, fetched from the npm registry by
# `npm ci` and redone only when the lock file changed since the last
# install (a stamp inside node_modules remembers its SHA-256). The SDK has
# no dependencies. Prints nothing on the fast path.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
	echo "cloudflare/install: npm is needed (make deps)" >&2
	exit 1
fi
lock_sha=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.pictor-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ] ||
	[ ! -f node_modules/cloudflare/package.json ]; then
	echo "cloudflare/install: npm ci (cloudflare SDK)" >&2
	npm ci --no-audit --no-fund --loglevel=error >&2
	echo "$lock_sha" >"$stamp"
fi
