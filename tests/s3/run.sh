#!/usr/bin/env bash
# run.sh [TEST_BIN] - start a Ceph RGW on loopback (rgw.sh), run the S3
# blob backend's real-server cases in build/tests/test_blob_s3 against it
# (PX_TEST_S3_LOCATION), and stop RGW by its PIDs whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/tests/test_blob_s3}
dir=$(mktemp -u /tmp/pictor-rgw.XXXXXX)
trap 'tests/s3/rgw.sh stop "$dir"' EXIT
tests/s3/rgw.sh start "$dir" >/dev/null
set -a
. "$dir/env"
set +a
PX_TEST_S3_LOCATION="s3://$RGW_BUCKET/t?endpoint=$RGW_ENDPOINT&path_style=1" "$bin"
