#!/usr/bin/env bash
# run-browser.sh - the browser suite: Playwright's runner over
# tests/browser/*.spec.mjs in Debian's chromium, against $PICTOR_BIN
# (default ./pictor). Arguments go to `playwright test` (a spec file, -g
# TITLE, --debug ...). Installs the pinned npm packages first
# (tests/browser/install.sh); closes with the suite's wall time.
# Exit status is Playwright's.
set -uo pipefail
cd "$(dirname "$0")/.."

export PICTOR_BIN=${PICTOR_BIN:-./pictor}
export PICTOR_CORPUS=${PICTOR_CORPUS:-build/corpus}
chromium=${PICTOR_CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null 2>&1; then
	echo "run-browser: node is not installed (make deps)" >&2
	exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
	echo "run-browser: Playwright needs Node.js 20 or later (this is $(node --version))" >&2
	exit 1
fi
if [ ! -x "$chromium" ]; then
	echo "run-browser: $chromium is not an executable (make deps installs Debian's chromium)" >&2
	exit 1
fi
if [ ! -x "$PICTOR_BIN" ]; then
	echo "run-browser: $PICTOR_BIN is not an executable (make pictor)" >&2
	exit 1
fi
bash tests/browser/install.sh || exit 1

t0=$(date +%s)
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 node tests/browser/node_modules/@playwright/test/cli.js \
	test -c tests/browser/playwright.config.mjs "$@"
rc=$?
echo "browser: $(($(date +%s) - t0)) s (playwright exit $rc)"
exit $rc
