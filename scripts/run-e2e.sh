#!/usr/bin/env bash
# run-e2e.sh - the end-to-end suite: node's test runner over tests/e2e/*.test.mjs,
# one file at a time, against $PICTOR_BIN (default ./pictor) with the photo
# corpus in $PICTOR_CORPUS (default build/corpus). Exit status is node's.
set -uo pipefail
cd "$(dirname "$0")/.."

export PICTOR_BIN=${PICTOR_BIN:-./pictor}
export PICTOR_CORPUS=${PICTOR_CORPUS:-build/corpus}

if ! command -v node >/dev/null 2>&1; then
	echo "run-e2e: node is not installed (make deps)" >&2
	exit 1
fi
if [ ! -x "$PICTOR_BIN" ]; then
	echo "run-e2e: $PICTOR_BIN is not an executable (make pictor)" >&2
	exit 1
fi

if node --test-concurrency=1 -e 0 >/dev/null 2>&1; then
	exec node --test --test-concurrency=1 tests/e2e/
fi
# Older node (Debian's 18): no --test-concurrency; run the files one by one.
rc=0
for f in tests/e2e/*.test.mjs; do
	node --test "$f" || rc=1
done
exit $rc
