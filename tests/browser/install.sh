#!/usr/bin/env bash
# install.sh - tests/browser/node_modules from package-lock.json: the
# Playwright test runner and axe-core, pinned, fetched from the npm registry
# by `npm ci` (which checks every package against the lock file's integrity
# hash) and redone only when the lock file changed since the last install
# (a stamp inside node_modules remembers its SHA-256). No browser is
# downloaded: the tests drive Debian's chromium (/usr/bin/chromium, from
# scripts/install-deps.sh). Prints nothing on the fast path.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
	echo "browser/install: npm is needed (make deps)" >&2
	exit 1
fi
lock_sha=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.pictor-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ] ||
	[ ! -f node_modules/@playwright/test/package.json ] ||
	[ ! -f node_modules/axe-core/axe.min.js ]; then
	echo "browser/install: npm ci (@playwright/test, axe-core)" >&2
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
	echo "$lock_sha" >"$stamp"
fi
