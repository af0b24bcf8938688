#!/usr/bin/env bash
# run.sh - `make s3`: Pictor with its originals in a real S3 implementation
# (a throwaway Ceph RGW on loopback). The runner is scripts/run-stores.sh,
# shared with `make pg` and `make s3pg` (both stores at once and the whole
# e2e suite on them); see there and docs/TESTING.md.
exec bash "$(dirname "$0")/../../scripts/run-stores.sh" s3
