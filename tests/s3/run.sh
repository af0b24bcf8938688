#!/usr/bin/env bash
# run.sh - `make s3`: Pictor with its originals in a real S3 implementation.
#
# Starts a Ceph RGW on loopback (rgw.sh), then runs against it
#   1. the S3 backend's real-server unit cases (build/tests/test_blob_s3
#      with PX_TEST_S3_LOCATION),
#   2. tests/s3/*.test.mjs (upload, delivery, dedup, delete and fsck on the
#      bucket; RGW stopped mid-stream of uploads and brought back),
#   3. the e2e files in S3_E2E (default below; S3_E2E=all runs every file
#      in tests/e2e/) with every daemon on --blob s3://... (lib.mjs gives
#      each data directory a prefix of its own in the bucket),
# and stops every daemon it started by PID at the end, even on failure or
# interruption. Exit status: 0 when everything passed.
set -uo pipefail
cd "$(dirname "$0")/../.."

export PICTOR_BIN=${PICTOR_BIN:-./pictor}
export PICTOR_CORPUS=${PICTOR_CORPUS:-build/corpus}
unit=${S3_UNIT_BIN:-build/tests/test_blob_s3}
e2e=${S3_E2E:-"api delivery"}

dir=$(mktemp -u /tmp/pictor-rgw.XXXXXX)
trap 'tests/s3/rgw.sh stop "$dir"' EXIT
trap 'exit 130' INT TERM
t0=$(date +%s)
tests/s3/rgw.sh start "$dir" >/dev/null || exit 1
echo "s3: Ceph RGW up in $(($(date +%s) - t0)) s"
set -a
. "$dir/env"
set +a
export RGW_DIR=$dir
export PICTOR_E2E_BLOB="s3://$RGW_BUCKET/e2e?endpoint=$RGW_ENDPOINT&path_style=1"

rc=0
PX_TEST_S3_LOCATION="s3://$RGW_BUCKET/unit?endpoint=$RGW_ENDPOINT&path_style=1" "$unit" || rc=1

files=(tests/s3/*.test.mjs)
if [ "$e2e" = all ]; then
	files+=(tests/e2e/*.test.mjs)
else
	for f in $e2e; do files+=("tests/e2e/$f.test.mjs"); done
fi
for f in "${files[@]}"; do
	node --test "$f" || rc=1
done
echo "s3: done in $(($(date +%s) - t0)) s, rc=$rc"
exit $rc
